/* session: the mirror of the DAW's session, as pure data (no I/O).
 *
 * The mirror changes only through session_apply(). Tracks carry a stable bridge id ("t1", "t2", ...) that never
 * changes when the DAW's indices shift and is never reused within one session_t; `index` is the DAW's current
 * 1-based position. The JSON form is documented in docs/session-json.md and round-trips exactly.
 */
#ifndef DAWBRIDGE_SESSION_H
#define DAWBRIDGE_SESSION_H

#include <jansson.h>
#include <stddef.h>

typedef struct session session_t;

enum session_err {
  SESSION_OK = 0,
  SESSION_EINVAL = -1,   /* malformed update or JSON */
  SESSION_ENOTRACK = -2, /* the update names a track index/id that does not exist */
  SESSION_ERANGE = -3,   /* value out of range */
  SESSION_ENOMEM = -4,
};
const char *session_strerror(int code);

/* What an update changes. Track-scoped fields use `index` (DAW position, 1-based); FX-scoped fields also use
 * `fx` (1-based); parameter fields use `param` (1-based); marker fields use `marker` (the DAW's marker number). */
enum session_field {
  SF_TEMPO,            /* num: bpm */
  SF_TIMESIG,          /* num: numerator, num2: denominator */
  SF_PLAYING,          /* num: 0/1 */
  SF_RECORDING,        /* num: 0/1 */
  SF_POSITION,         /* num: beats */
  SF_LOOP_ENABLED,     /* num: 0/1 */
  SF_LOOP_RANGE,       /* num: start beats, num2: end beats */
  SF_PROJECT,          /* str: project/session name */
  SF_TRACK_COUNT,      /* num: number of tracks; grows/shrinks at the end */
  SF_TRACK_INSERT,     /* index: new track's position (shifts later ones); str: name (may be NULL) */
  SF_TRACK_REMOVE,     /* index: position to remove (later ones shift down) */
  SF_TRACK_NAME,       /* str */
  SF_TRACK_TYPE,       /* str: "midi" | "audio" | "bus" */
  SF_TRACK_HOST_ID,    /* str */
  SF_TRACK_VOLUME_DB,  /* num (dB; <= -150 means -inf) */
  SF_TRACK_PAN,        /* num: -1..1 */
  SF_TRACK_MUTE,       /* num: 0/1 */
  SF_TRACK_SOLO,       /* num: 0/1 */
  SF_TRACK_REC_ARM,    /* num: 0/1 */
  SF_TRACK_SELECTED,   /* num: 0/1 */
  SF_TRACK_INSTRUMENT, /* str: name, or NULL/"" for none */
  SF_FX_COUNT,         /* num: FX chain length of the track (truncates or grows) */
  SF_FX_NAME,          /* str: "" clears the slot (and everything after it: chains have no holes) */
  SF_FX_ENABLED,       /* num: 0/1 */
  SF_FX_PARAM,         /* num: normalized value; str: name (may be NULL) */
  SF_CLIPS_SET,        /* json: array of clips (docs/session-json.md) replacing the track's clips */
  SF_CLIP_PUT,         /* json: one clip object; replaces the clip with the same host_id, else is added */
  SF_CLIP_REMOVE,      /* str: clip host_id or bridge id */
  SF_MARKER,           /* marker: number; str: name (may be NULL: keep); num: position beats (NaN: keep) */
  SF_MARKER_REMOVE,    /* marker: number */
  SF_MARKERS_CLEAR,
};

struct session_update {
  enum session_field field;
  int index;
  int fx;
  int param;
  int marker;
  double num;
  double num2;
  const char *str;    /* borrowed */
  const json_t *json; /* borrowed */
};

session_t *session_new(const char *dialect);
void session_free(session_t *s);

/* Applies one update. Returns 0, or a negative session_err with a message in err. Unknown track indices in
 * track-scoped updates are an error (SESSION_ENOTRACK) except for SF_TRACK_COUNT/INSERT; the mirror is unchanged
 * on error. */
int session_apply(session_t *s, const struct session_update *u, char *err, size_t errlen);

/* Number of times the mirror changed (any successful apply that changed a value): lets sync see progress. */
unsigned long session_version(const session_t *s);

/* Reconcile the track list with a freshly read one (a full refresh): `fresh` is an array of track objects in DAW
 * order (docs/session-json.md, without bridge ids). Existing tracks keep their bridge ids when they match a fresh
 * track by host_id, else by name in order (REAPER's default "Track N" names match by position); unmatched old
 * tracks are dropped, unmatched fresh ones get new ids. Fields absent in `fresh` keep their mirrored values
 * (clips in particular, which native OSC never reports). borrowed: fresh. */
int session_reconcile_tracks(session_t *s, const json_t *fresh, char *err, size_t errlen);

/* Queries. Track positions are 1-based; bridge ids look like "t3". Returned strings are borrowed and valid until
 * the next apply. */
int session_track_count(const session_t *s);
int session_track_index_by_id(const session_t *s, const char *id);     /* 0 if unknown */
int session_track_index_by_name(const session_t *s, const char *name); /* first match, case-sensitive; 0 if none */
const char *session_track_id(const session_t *s, int index);           /* NULL if out of range */
const char *session_track_name(const session_t *s, int index);
const char *session_track_host_id(const session_t *s, int index);
double session_track_number(const session_t *s, int index, enum session_field f); /* NAN when not a numeric field */
int session_track_fx_count(const session_t *s, int index);
const char *session_track_fx_name(const session_t *s, int index, int fx);
double session_tempo(const session_t *s);

/* A clip by bridge id ("c2") or host id: the clip object (borrowed, valid until the next apply) and its track's
 * position in *index (may be NULL); NULL if no track holds it. */
const json_t *session_clip_find(const session_t *s, const char *ref, int *index);

/* Resolve a user/model reference to a track: a bridge id ("t3"), a host id, or an exact name. 0 if none. */
int session_track_resolve(const session_t *s, const char *ref);

/* Limits of a mirror (a JSON session with more is refused with SESSION_ERANGE; feedback may not set more tracks). */
#define SESSION_MAX_TRACKS 100000
#define SESSION_MAX_MARKERS 100000

/* JSON round trip (docs/session-json.md). to_json: new reference. from_json replaces the whole mirror and keeps
 * the id counters above every id it read, so later ids are never reused. */
json_t *session_to_json(const session_t *s);
int session_from_json(session_t *s, const json_t *j, char *err, size_t errlen);

/* Look up a value in the mirror by a small path used by dialect maps' confirmations:
 * "tempo", "playing", "recording", "loop.enabled", "track.volume_db" (with index), "track.fx.enabled" (index, fx),
 * "track.fx.param" (index, fx, param), "track.name" (string), "track.count", "marker.name" (marker).
 * Numeric results in *num, string results in *str (borrowed); returns 1 if found, 0 if not. */
int session_lookup(const session_t *s, const char *path, int index, int fx, int param, int marker, double *num,
                   const char **str);

#endif
