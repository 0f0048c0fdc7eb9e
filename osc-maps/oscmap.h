/* oscmap: a DAW's OSC dialect as data (osc-maps/<dialect>.json, format in osc-maps/README.md).
 *
 * The map is the only code path that knows OSC addresses. It is loaded and validated once (a malformed or
 * inconsistent map is refused with a message naming the file, the key and the problem); then:
 *  - oscmap_match() turns an incoming OSC message into what it means for the session (a field to set on a track,
 *    a global value, or a named event such as "list_entry" or "count"), with the value converted;
 *  - oscmap_render() turns message templates (a tool's "send" list, "connect", "refresh" steps) into liblo
 *    messages, substituting variables from a JSON object.
 */
#ifndef DAWBRIDGE_OSCMAP_H
#define DAWBRIDGE_OSCMAP_H

#include <jansson.h>
#include <lo/lo.h>
#include <stddef.h>

typedef struct oscmap oscmap_t;

enum oscmap_err {
  OSCMAP_OK = 0,
  OSCMAP_EIO = -1,      /* cannot read the file */
  OSCMAP_EPARSE = -2,   /* not JSON */
  OSCMAP_EINVALID = -3, /* JSON, but not a valid map (message names the key) */
  OSCMAP_ERENDER = -4,  /* a template could not be rendered (missing variable, bad value) */
  OSCMAP_ENOMEM = -5,
};
const char *oscmap_strerror(int code);

/* Loads and validates a map file. */
int oscmap_load(const char *path, oscmap_t **out, char *err, size_t errlen);
/* Same from a JSON value (borrowed); `name` is used in messages in place of the file name. */
int oscmap_load_json(const json_t *j, const char *name, oscmap_t **out, char *err, size_t errlen);
void oscmap_free(oscmap_t *m);

/* Finds "<dir>/<dialect>.json" with dir = $DAWBRIDGE_MAPS, else the data directory's osc-maps (bridge/datadir.h).
 * Returns 0 with the path, or -1 with the path it would have used (for the caller's message). */
int oscmap_find(const char *dialect, char *path, size_t pathlen);

const char *oscmap_dialect(const oscmap_t *m);
/* The whole map (borrowed): ports, timing, banking, connect/probe/refresh, tools, capabilities, catalog. */
const json_t *oscmap_json(const oscmap_t *m);
/* A number under "timing" (e.g. "confirm_timeout_ms"), or `def` if absent. */
double oscmap_timing(const oscmap_t *m, const char *key, double def);
/* The tool entry (borrowed) or NULL when the dialect has no such tool. */
const json_t *oscmap_tool(const oscmap_t *m, const char *tool);

/* How a match locates its track. */
enum oscmap_track_ref {
  OSCMAP_TRACK_NONE = 0, /* global */
  OSCMAP_TRACK_SLOT,     /* bank-relative slot (REAPER's @): position = bank start + slot */
  OSCMAP_TRACK_ABS,      /* absolute position (Ardour's ssid with banking off) */
};

/* One meaning of an incoming message. `set` is a session path ("tempo", "track.volume_db", "track.fx.name", ...)
 * or NULL for a pure event; `event` names an event ("list_entry", "list_end", "count", "sentinel",
 * "plugin_list", "marker_slot", ...) or NULL. Strings are borrowed from the message/map for the call. */
struct oscmap_match {
  const char *set;
  const char *event;
  enum oscmap_track_ref track_ref;
  int track;  /* slot or position, per track_ref */
  int fx;     /* 1-based or 0 */
  int param;  /* 1-based or 0 */
  int marker; /* marker slot (bank-relative, REAPER) or 0 */
  int has_num;
  double num;              /* converted value when numeric */
  const char *str;         /* string value */
  const char *convert_ctx; /* conversion still to apply with session context ("sec_to_beats"), or NULL */
  int has_range;           /* the message also described the value's range (Ardour's plugin descriptor) */
  double range_min, range_max;
  json_t *fields; /* events with "fields"/"repeat": new reference, the caller decrefs; else NULL */
};

/* Matches an incoming message against the map's feedback patterns. Fills up to `max` matches (a message may
 * mean several things) and returns how many, 0 when the map does not know the message, or a negative
 * OSCMAP_E* when the message matched a pattern but its arguments were wrong (wrong count/types): the message is
 * then to be ignored, and err says why. */
int oscmap_match(const oscmap_t *m, const char *path, const char *types, lo_arg **argv, int argc,
                 struct oscmap_match *out, int max, char *err, size_t errlen);
void oscmap_match_clear(struct oscmap_match *mm, int n);

/* Renders an array of message templates (borrowed) with variables from `vars` (borrowed JSON object).
 * Appends one {path, message} per template to the caller's arrays; returns the count or a negative error.
 * The caller frees each message with lo_message_free and each path with free. */
int oscmap_render(const oscmap_t *m, const json_t *templates, const json_t *vars, char **paths, lo_message *msgs,
                  int max, char *err, size_t errlen);

/* Evaluates one template value: a string with placeholders ("{bpm}", "{pan|pan_to_norm}", "/track/{slot}") or a
 * literal. A string that is exactly one placeholder yields the variable's own JSON type. New reference, or NULL
 * with err set. */
json_t *oscmap_eval(const json_t *tpl, const json_t *vars, char *err, size_t errlen);

/* Value conversions shared by map and sync (documented in osc-maps/README.md). Returns 0 and sets *out, or -1
 * for an unknown conversion. `ctx` supplies "tempo", "sample_rate", "param_min", "param_max" when needed. */
int oscmap_convert(const char *name, double in, const json_t *ctx, double *out);

#endif
