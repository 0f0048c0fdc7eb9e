/* daw: one DAW behind one interface.
 *
 * A daw_t owns what talks to the DAW: the native OSC side (dialect map + session mirror + sync) and the in-DAW
 * companion (bridge/companion.c). It talks to a DAW at an address; starting an in-process mock DAW (the demo,
 * `--daw mock`, tests) is the application's business (app/mock_embed.h). Each tool call is checked against the
 * vocabulary (vocab/vocab.h: the schemas of vocab/tools.json), then routed to whichever side can do it *now*:
 * native OSC when the map has it, else the companion when it answered ping; otherwise it fails with a message
 * saying what to install. The capability list reflects exactly that, so a planner is never offered a tool that
 * cannot run.
 *
 * Every result is confirmed by the DAW (OSC feedback, or the companion's reply after it read the change back);
 * a call that could not be confirmed is an error, never a success.
 *
 * Result objects (borrowed for the callback): {"tool", "status": "confirmed"|"uncertain" (sync.h: confirmed only
 * on the DAW's fresh word; "unchanged": true marks a confirmed no-op; "uncertain" = sent, no word by the deadline),
 * "via": "osc"|"companion", "attempts", "ms", and what the DAW confirmed: "track_id", "clip_id",
 * "effect_index", "name", "notes_added", ...}. track_id / clip_id are the bridge's stable ids (t3, c2).
 * Reads: get_state -> {"state": {"session": {...}}} (with track_id: that one track, also as "track");
 * get_notes -> {"track_id", "clips": [{"clip_id", "start", "length", "notes": [{n, s, d, v}]}], "note_count",
 * "start"?, "end"?}: read from the DAW by the companion (read_clip for one clip, its state for a track), s relative
 * to the clip start; with start/end only notes starting in [start, end) beats; the mirror takes what was read.
 */
#ifndef DAWBRIDGE_DAW_H
#define DAWBRIDGE_DAW_H

#include <jansson.h>
#include <uv.h>

#include "log.h"
#include "oscmap.h"
#include "session.h"
#include "sync.h"

typedef struct daw daw_t;

enum daw_err {
  DAW_OK = 0,
  DAW_EINVAL = -1,       /* bad arguments (message names which) */
  DAW_EUNSUPPORTED = -2, /* neither native OSC nor the companion can do it now (message says what to install) */
  DAW_ENOTRACK = -3,     /* unknown track/clip reference */
  DAW_ETIMEDOUT = -4,    /* failed: the DAW's fresh word / read-back contradicts the request after all attempts */
  DAW_EUNREACHABLE = -5, /* the DAW (or the companion) does not answer */
  DAW_EREJECTED = -6,    /* the companion answered with an error (message quotes it) */
  DAW_ECANCELED = -7,
  DAW_ECONFIG = -8, /* map, socket, spool directory */
  DAW_ENOMEM = -9,
};
const char *daw_strerror(int code);
/* CLI exit code for a daw_err (cli.h, README: 2 unreachable, 4 invalid request, 5 config, 7 failed: the DAW
 * refused or its read-back contradicts the request). "uncertain" is a status-0 result (exit 3 where reported). */
int daw_exit_code(int status);

struct daw_config {
  const char *dialect;      /* "reaper" | "ardour" */
  const char *map_path;     /* NULL = osc-maps/<dialect>.json */
  const char *host;         /* DAW address, default 127.0.0.1 */
  const char *listen_host;  /* the address we receive feedback on; NULL = 127.0.0.1 */
  int port;                 /* 0 = map default */
  int listen_port;          /* -1 = map default */
  int bank_size;            /* 0 = map default */
  int confirm_timeout_ms;   /* -1 = map default */
  int retries;              /* -1 = map default */
  int refresh_interval_ms;  /* -1 = map default, 0 = off */
  const char *spool_dir;    /* companion spool; NULL = default (see PROTOCOL.md); "" = no companion */
  int companion_timeout_ms; /* per command; 0 = default (10000) */
  struct log_sink log;
};

/* Status callback: status 0 with a result (borrowed), or < 0 with a one-line message. */
typedef void (*daw_cb)(int status, const json_t *result, const char *message, void *data);

int daw_open(uv_loop_t *loop, const struct daw_config *cfg, daw_t **out, char *err, size_t errlen);
/* Connects, mirrors the session, pings the companion (and merges its state: host ids, clips, notes).
 * Result: {"tracks": N, "companion": true|false, "companion_error"?: "...", "companion_state_error"?: "..." (the
 * companion runs but its state was not read: clips and notes in the mirror are not fresh)}. */
int daw_start(daw_t *d, daw_cb cb, void *data);
/* A full refresh of the mirror (native + companion state). */
int daw_refresh(daw_t *d, daw_cb cb, void *data);
/* One tool call (args borrowed): checked (vocab_check + the track exists), routed, confirmed; a read (kind
 * VOCAB_READ: get_state, get_notes) reports what the mirror or the DAW holds, nothing to confirm. */
int daw_call(daw_t *d, const char *tool, const json_t *args, daw_cb cb, void *data);
/* One AI request = one undo step in the DAW where the companion can group it (no-op result without companion). */
int daw_begin_request(daw_t *d, const char *name, daw_cb cb, void *data);
int daw_end_request(daw_t *d, daw_cb cb, void *data);

/* The DAW's own undo of the last AI request (the companion's `undo`: REAPER's undo points of that request,
 * Ardour's companion-level inverse operations). DAW_EUNSUPPORTED without a companion. The caller must check the
 * mirror afterwards (undo_last_request does). */
int daw_undo_request(daw_t *d, daw_cb cb, void *data);

/* Tools that can run right now (new reference: array of names, a subset of vocab/tools.json). */
json_t *daw_capabilities(const daw_t *d);
/* Why a tool cannot run now (borrowed string) or NULL if it can. */
const char *daw_unavailable_reason(const daw_t *d, const char *tool);
/* The instrument/effect catalog of this DAW (borrowed): {"instruments": [...], "effects": [...]}. */
const json_t *daw_catalog(const daw_t *d);
int daw_has_companion(const daw_t *d);
const char *daw_dialect(const daw_t *d);
session_t *daw_session(daw_t *d);
sync_t *daw_sync(daw_t *d);

/* The companion link (borrowed) or NULL when switched off; and the spool directory it uses (NULL likewise).
 * Declared here so daw.h users need not include companion.h. */
struct companion;
struct companion *daw_companion(daw_t *d);
const char *daw_spool_dir(const daw_t *d);

/* Closes everything (queued calls get DAW_ECANCELED), frees in close callbacks, then cb(data). */
void daw_close(daw_t *d, void (*cb)(void *data), void *data);

#endif
