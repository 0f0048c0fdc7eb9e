/* mock_fixture: an in-process mock DAW (mock-daw/mock.h) and an OSC test client on one fresh libuv loop, over real
 * UDP on 127.0.0.1, for the mock's own tests (test_mock_reaper, test_mock_ardour, test_mock_companion). Every helper
 * fails the running cmocka test on error (they are for tests only). The struct is public: tests read its fields. */
#ifndef DAWBRIDGE_MOCK_FIXTURE_H
#define DAWBRIDGE_MOCK_FIXTURE_H

#include <jansson.h>
#include <uv.h>

#include "mock.h"
#include "osc_client.h"

struct mock_fx {
  uv_loop_t loop;
  mock_t *m;
  osc_client_t *c;  /* the client: sends to the mock, receives its replies (and feedback, unless fb is there) */
  osc_client_t *fb; /* with MOCK_FX_FEEDBACK_CLIENT: a second client on the mock's feedback port; else NULL */
  int port;         /* the mock's UDP port */
  char sess[64];    /* the session file written from session_json ("" if none) */
  char spool[64];   /* with MOCK_FX_SPOOL: a fresh spool directory ("" if none) */
};

enum {
  MOCK_FX_FEEDBACK_CLIENT = 1, /* feedback goes to a second client f->fb (else to f->c) */
  MOCK_FX_SPOOL = 2,           /* a fresh spool directory f->spool for the companion (cfg.spool_dir) */
};

/* Starts the mock with a copy of *cfg on a new loop in *f. Filled in: feedback_port (f->fb's or f->c's port),
 * session_file (when session_json is not NULL: written to a temporary file), spool_dir (with MOCK_FX_SPOOL). */
void mock_fx_start(struct mock_fx *f, const struct mock_config *cfg, const char *session_json, unsigned flags);

/* A barrier: /mock/ping, then the loop runs until /mock/pong reaches f->c (at most 3 s): everything sent before
 * has been handled and its replies received. The pong stays in f->c's list (tests skip or count it). */
void mock_fx_sync(struct mock_fx *f);

/* Closes the mock and the clients, runs the loop to its end, asserts uv_loop_close() == 0, removes the session
 * file and the spool directory. */
void mock_fx_stop(struct mock_fx *f);

/* Track idx1 (1-based) of mock_state(): new reference, NULL when there is none. */
json_t *mock_fx_track(struct mock_fx *f, int idx1);
/* The number of tracks in mock_state(). */
int mock_fx_ntracks(struct mock_fx *f);

/* cmocka setup/teardown pairs for tests that start the same mock every time: *state is a calloc'd struct mock_fx;
 * the test reads it as `struct mock_fx *f = *state`. The caller's own setup calls mock_fx_setup_with. */
int mock_fx_setup_with(void **state, const struct mock_config *cfg, const char *session_json, unsigned flags);
int mock_fx_teardown(void **state);

#endif
