/* mock_embed: an in-process mock DAW (mock-daw/) behind a daw_t — for the demo, `--daw mock`, tests and benches.
 *
 * Starting a mock is the application's business, not the DAW facade's: daw.c only talks to a DAW at an address.
 * mock_embed_open opens the daw (daw_open with the caller's config, pointed at 127.0.0.1 and an ephemeral
 * listen port), starts the mock on the same loop with its feedback going to the daw's listen port, and, when the
 * mock runs the companion protocol, gives both a fresh temporary spool directory. The caller then runs
 * daw_start as usual.
 *
 * Ownership: the daw_t returned is the caller's (daw_close as usual); the mock_embed_t owns the mock and the
 * temporary spool. Close both — the daw first or both in the same turn — and run the loop until both callbacks
 * came: mock_embed_close removes the spool directory once the mock is closed.
 */
#ifndef DAWBRIDGE_MOCK_EMBED_H
#define DAWBRIDGE_MOCK_EMBED_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "daw.h"
#include "mock.h"

struct mock_embed_config {
  int tracks;    /* initial session: N tracks, -1 = the mock's demo session */
  double drop;   /* fault: probability to drop each OSC message (mock_config.drop) */
  unsigned seed; /* PRNG seed for the drops */
  int companion; /* 1 = the mock runs the companion protocol (a temporary spool is made); 0 = no companion */
  int quiet;     /* no mock log lines */
};

typedef struct mock_embed mock_embed_t;

/* Opens the daw (cfg: dialect, map, timeouts, log are used; host, port, listen_port and spool_dir are set here)
 * and the mock. Returns 0 with *daw and *out set, or a daw_err (DAW_ECONFIG for the mock or the spool) with a
 * message; on error nothing is left open that needs the loop except what daw_open documents (run the loop). */
int mock_embed_open(uv_loop_t *loop, const struct daw_config *cfg, const struct mock_embed_config *mc, daw_t **daw,
                    mock_embed_t **out, char *err, size_t errlen);

/* The mock (borrowed: faults, restarts, stats) and its whole state (new reference, docs/session-json.md shape with
 * host ids) — what the DAW itself holds, for tests and the demo's inspection. */
mock_t *mock_embed_mock(mock_embed_t *e);
json_t *mock_embed_state(const mock_embed_t *e);
/* The temporary spool directory, or NULL without a companion (borrowed). */
const char *mock_embed_spool(const mock_embed_t *e);

/* Closes the mock, removes the temporary spool, frees; then cb(data) (cb may be NULL). NULL e: cb is not called. */
void mock_embed_close(mock_embed_t *e, void (*cb)(void *data), void *data);

#endif
