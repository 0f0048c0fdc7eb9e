/* mock.h — the mock DAW: an OSC server that behaves like REAPER or like Ardour 7.3.
 *
 * It keeps real session state (tracks, FX with parameters, clips with notes, tempo, transport, markers),
 * answers and feeds back as the real host does (REAPER: feedback to the device port, bundles, change-only
 * cache, banks; Ardour: /set_surface, #reply lists, strip feedback), implements the dawbridge companion
 * protocol (osc-maps/companions/PROTOCOL.md) and injects faults (drop, delay, restart).
 * Each dialect is implemented from the protocol documents, never from the bridge's osc-maps.
 *
 * Everything runs on the caller's libuv loop; no threads. See mock-daw/README.md for what is modelled.
 *
 * Inspection over OSC (both dialects, never dropped or delayed; replies go to the sender's address):
 *   /mock/state              -> /mock/state iis SEQ TOTAL CHUNK   (SEQ 1..TOTAL; concatenated CHUNKs are the
 *                                                                   mock_state() JSON, each chunk <= 8000 bytes)
 *   /mock/dump s PATH        -> writes the JSON atomically to PATH, replies /mock/dumped s PATH
 *                               (on failure: /mock/error s MESSAGE)
 *   /mock/restart ii KEEP DOWN_MS   (no reply: the socket closes for DOWN_MS)
 *   /mock/fault fi DROP DELAY_MS    -> /mock/fault fi DROP DELAY_MS (acknowledged after applying)
 *   /mock/ping               -> /mock/pong   (a barrier: everything sent before it has been handled)
 */
#ifndef DAWBRIDGE_MOCK_H
#define DAWBRIDGE_MOCK_H

#include <stddef.h>
#include <jansson.h>
#include <uv.h>

typedef struct mock mock_t;

struct mock_config {
  const char *dialect;      /* "reaper" | "ardour" */
  int port;                 /* UDP listen port on 127.0.0.1; 0 = ephemeral */
  const char *host;         /* IPv4 address to listen on instead of 127.0.0.1 (NULL = 127.0.0.1) */
  int feedback_port;        /* REAPER: device port feedback goes to (0 = default 9000);
                               Ardour: reply port before /set_surface (0 = default 8000) */
  double drop;              /* fault: probability to drop each message, both directions, 0..1 */
  int delay_ms;             /* fault: delay every reply/feedback packet by this much (uv timer) */
  unsigned seed;            /* PRNG seed for drop decisions (own PRNG, reproducible) */
  int tracks;               /* initial session: N tracks (alternating midi/audio, "Track 1"..), -1 = demo session */
  const char *session_file; /* optional: initial state from a session JSON (docs/session-json.md); wins over tracks */
  const char *spool_dir;    /* companion spool dir; NULL = companion absent */
  const char *project;      /* project/session name reported (Ardour /session_name); NULL = "mock" */
  int quiet;                /* no log lines */
};

enum {
  MOCK_OK = 0,
  MOCK_EINVAL = -1,   /* bad configuration value */
  MOCK_ESOCKET = -2,  /* cannot create/bind the UDP socket */
  MOCK_ESESSION = -3, /* session file unreadable or invalid */
  MOCK_ESPOOL = -4,   /* spool directory cannot be created/used */
  MOCK_ENOMEM = -5,
  MOCK_ESTATE = -6 /* operation not possible in the current state (e.g. restart while closing) */
};

/* Creates the mock on `loop`, binds 127.0.0.1:cfg->port. The strings in cfg are copied.
 * Returns MOCK_OK and *out, or a negative code with a message in err (err may be NULL) and *out = NULL; after a
 * failure there is nothing to close, but the loop must run once more (uv_run) before uv_loop_close, to finish
 * closing the handles that were already opened.
 * A REAPER mock sends its full refresh to the device port right away; with spool_dir, a REAPER mock writes
 * spool_dir/companion.json and an Ardour mock starts polling spool_dir/in every 50 ms. */
int mock_new(uv_loop_t *loop, const struct mock_config *cfg, mock_t **out, char *err, size_t errlen);

/* The bound UDP port (useful with port 0). */
int mock_port(const mock_t *m);

/* New reference: the whole state in the docs/session-json.md shape, plus "host_id" for each track and clip
 * (REAPER: GUID strings "{...}"; Ardour: numeric route/region ids as strings). */
json_t *mock_state(const mock_t *m);

/* Closes the socket, stays silent down_ms, reopens on the same port. keep_state = 0 resets to the initial
 * session. A REAPER mock sends its full refresh to the device port when it is back; an Ardour mock forgets
 * the registered surface. Returns MOCK_OK or MOCK_ESTATE. */
int mock_restart(mock_t *m, int keep_state, int down_ms);

/* Companion fault: the next n commands are executed (and remembered) but their replies are lost, file and OSC
 * alike, as if the reply never reached the bridge. Returns MOCK_OK, or MOCK_ESTATE without a companion. */
int mock_companion_drop_replies(mock_t *m, int n);
/* Companion: on = 1 plays a companion from before the packed bulk form (PROTOCOL.md "Bulk notes"): its ping offers
 * no "bulk", and it takes and gives JSON notes only. Set before the bridge pings. MOCK_OK or MOCK_ESTATE. */
int mock_companion_legacy(mock_t *m, int on);

/* Closes every handle; memory is freed in the close callbacks; then cb(data) (cb may be NULL). */
void mock_close(mock_t *m, void (*cb)(void *data), void *data);

const char *mock_strerror(int code);

struct mock_stats {
  unsigned long rx, tx, dropped_rx, dropped_tx, malformed;
};
/* rx/tx count OSC messages (not packets), /mock/ inspection traffic included. */
void mock_get_stats(const mock_t *m, struct mock_stats *st);

#endif
