/* sync: keeps the session mirror current and turns tool calls into DAW-confirmed changes.
 *
 * - Connect: sends the map's "connect" messages (REAPER: bank size; Ardour: /set_surface).
 * - Full refresh: the map's refresh procedure ("banked": learn the track count, then page through every bank so a
 *   session larger than the bank is mirrored whole; "list": /strip/list + per-strip plugin lists), read into a
 *   staging mirror and reconciled into the session so bridge ids stay stable.
 * - Feedback is applied to the mirror as it arrives. A periodic refresh (interval from the map or the config,
 *   0 = off) catches what feedback cannot report. When the link reports the DAW lost and then back (a restart),
 *   sync re-sends "connect" and refreshes on its own.
 * - sync_call(): one tool through the map: render its messages, send, wait until the DAW's fresh feedback shows the
 *   values the map's "confirm" names; outcomes "confirmed", "uncertain" or failed (see sync_call).
 * - Only the DAW's word counts: the link drops datagrams from any other address/port (sync_stats.foreign).
 * - No hang: every refresh phase has a deadline counted from the DAW's last progress, resends only what is
 *   missing (per-track plugin lists: a window of queries in flight), and ends in a result or an error naming what
 *   did not answer. An incomplete refresh is SYNC_EUNREACHABLE ("the DAW is not answering"); nothing listening
 *   at the DAW's port (ICMP) ends an operation at once with SYNC_EUNREACHABLE.
 *
 * Operations (refreshes and calls) run one at a time, in order. Everything happens on the caller's loop.
 */
#ifndef DAWBRIDGE_SYNC_H
#define DAWBRIDGE_SYNC_H

#include <jansson.h>
#include <uv.h>

#include "log.h"
#include "oscmap.h"
#include "session.h"

typedef struct sync sync_t;

enum sync_err {
  SYNC_OK = 0,
  SYNC_EINVAL = -1,       /* bad arguments (message names which) */
  SYNC_ENOTOOL = -2,      /* the dialect cannot do this tool */
  SYNC_ENOTRACK = -3,     /* unknown track reference */
  SYNC_ETIMEDOUT = -4,    /* the DAW did not confirm after all attempts */
  SYNC_EUNREACHABLE = -5, /* no answer from the DAW at all */
  SYNC_ECANCELED = -6,    /* closed before it finished */
  SYNC_ELINK = -7,        /* socket error */
  SYNC_ENOMEM = -8,
};
const char *sync_strerror(int code);

struct sync_config {
  const char *daw_host;     /* default 127.0.0.1 */
  int daw_port;             /* 0 = map's ports.daw */
  const char *listen_host;  /* default 127.0.0.1 */
  int listen_port;          /* -1 = map's ports.listen (REAPER's device port; Ardour: 0 = ephemeral) */
  int refresh_interval_ms;  /* -1 = map's timing.refresh_interval_ms; 0 = no periodic refresh */
  int confirm_timeout_ms;   /* -1 = map's */
  int retries;              /* -1 = map's: resends after the first attempt */
  int bank_size;            /* 0 = map's banking.size */
  int silence_ms, probe_ms; /* -1 = map's */
  struct log_sink log;
};

/* Result callback. status 0: `result` (borrowed for the call) describes what the DAW confirmed; status < 0:
 * `message` says what went wrong in one line. */
typedef void (*sync_cb)(int status, const json_t *result, const char *message, void *data);

/* The map and session are borrowed and must outlive the sync. */
int sync_new(uv_loop_t *loop, oscmap_t *map, session_t *session, const struct sync_config *cfg, sync_t **out, char *err,
             size_t errlen);

/* Connect and run the first full refresh. cb gets status 0 with {"tracks": N, "ms": T} when the mirror is whole. */
int sync_start(sync_t *s, sync_cb cb, void *data);
/* Queue a full refresh. */
int sync_refresh(sync_t *s, sync_cb cb, void *data);
/* Queue one tool call (args borrowed). Outcomes (issue 10 §2):
 * - status 0, result {"tool", "status": "confirmed", "attempts", "ms", "track_id"?, "unchanged"?: true, "state"?}:
 *   the DAW's own FRESH feedback (heard after the request was sent, or after a read-back) shows every value the
 *   map's "confirm" names. "unchanged": the mirror already showed it before; the DAW said so again.
 * - status 0, result {"tool", "status": "uncertain", "attempts", "ms", "reason", "unchanged"?}: sent, and no word
 *   from the DAW settles it by the deadline (REAPER actions such as save; a value already so that the DAW did not
 *   report again; a create that could not be read back). Never to be reported as success.
 * - status < 0: failed. SYNC_ETIMEDOUT: the DAW's fresh feedback or read-back contradicts the request (a create:
 *   the read-back shows it absent after every attempt); SYNC_EUNREACHABLE: nothing listens at the DAW's port;
 *   SYNC_EINVAL/ENOTOOL/ENOTRACK: refused before sending.
 * Idempotent sets are resent on a missing confirmation (bounded); a step marked "create" in the map (Ardour's
 * add_marker) and REAPER's native create_track are never resent blindly: the state is read back first and the
 * command is sent again only when the read-back shows the object absent. */
int sync_call(sync_t *s, const char *tool, const json_t *args, sync_cb cb, void *data);

int sync_listen_port(const sync_t *s);
/* Feeds one datagram through the link's receive path, as if the DAW had sent it (fuzzing, tests). */
void sync_inject(sync_t *s, const void *datagram, size_t len);
/* Re-points the link at the DAW (an embedded mock binds after the bridge's socket). */
int sync_set_daw(sync_t *s, const char *host, int port);
int sync_is_connected(const sync_t *s);
session_t *sync_session(sync_t *s);
const oscmap_t *sync_map(const sync_t *s);

/* Routes a map feedback event (e.g. "companion_reply": Ardour's companion answers on our socket) to a handler,
 * called with the event's string value (borrowed for the call; NULL when the message carried none). One handler
 * per event name (a later call replaces it; cb NULL removes it); up to 4 names. Returns 0 or SYNC_EINVAL. */
/* Renders and sends message templates (borrowed; map template syntax, e.g. the map's companion.trigger) with
 * `vars` (borrowed JSON object) from the link's socket, outside any operation. Returns 0 or SYNC_EINVAL/SYNC_ELINK
 * with a message. */
int sync_send(sync_t *s, const json_t *templates, const json_t *vars, char *err, size_t errlen);

typedef void (*sync_event_cb)(const char *event, const char *str, void *data);
int sync_set_event_handler(sync_t *s, const char *event, sync_event_cb cb, void *data);

struct sync_stats {
  unsigned long messages, matched, unknown, malformed, refreshes, resends, lost_events;
  unsigned long read_backs; /* read-backs sent: a create's missing confirmation, or a value the mirror already showed */
  unsigned long foreign;    /* datagrams from another address/port than the DAW's: dropped unread (link) */
  unsigned long refused;    /* "nothing listening at the DAW's port" (ICMP) seen by the link */
};
void sync_get_stats(const sync_t *s, struct sync_stats *st);

/* Cancels queued operations (their callbacks get SYNC_ECANCELED), closes the link and timers, frees the sync in
 * the last close callback, then calls cb(data). */
void sync_close(sync_t *s, void (*cb)(void *data), void *data);

#endif
