/* relaxed_json: parse JSON the way models write it in plans.
 *
 * Accepts strict JSON and, failing that, a relaxed form: unquoted keys ({n: 36, s: 0}), single-quoted
 * strings, trailing commas, // comments, bare words as strings ({drum: kick}), True/False/None.
 * Anything that still does not parse, or plain text, becomes a JSON string of the trimmed text.
 * Pure; no globals. Nesting deeper than RELAXED_JSON_MAX_DEPTH falls back to a string.
 */
#ifndef DAWBRIDGE_RELAXED_JSON_H
#define DAWBRIDGE_RELAXED_JSON_H

#include <stddef.h>
#include <jansson.h>

enum {
  RELAXED_JSON_STRICT = 0,  /* the text was strict JSON (any value) */
  RELAXED_JSON_RELAXED = 1, /* parsed with the relaxed grammar */
  RELAXED_JSON_STRING = 2,  /* fell back to a plain string (or a bare scalar word) */
};

#define RELAXED_JSON_MAX_DEPTH 64

/* Parse text[0..len) (len may be (size_t)-1 for a NUL-terminated text). how (may be NULL) receives one of
 * the RELAXED_JSON_* kinds. Returns a new reference; NULL only when out of memory or text is NULL. */
json_t *relaxed_json_parse(const char *text, size_t len, int *how);

/* A JSON string from arbitrary bytes: invalid UTF-8 bytes become '?'. New reference (NULL on OOM). */
json_t *relaxed_json_string(const char *text, size_t len);

#endif
