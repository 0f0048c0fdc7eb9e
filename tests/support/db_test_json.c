/* db_test_json: see db_test_json.h */
#include "db_test_json.h"
#include "db_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

json_t *db_test_json(const char *single_quoted) {
  char *c = strdup(single_quoted);
  if (!c) fail_msg("out of memory");
  for (char *p = c; *p; p++)
    if (*p == '\'') *p = '"';
  json_error_t e;
  json_t *v = json_loads(c, JSON_DECODE_ANY, &e);
  if (!v) fail_msg("bad test JSON (%s) at %d: %s", e.text, e.position, c);
  free(c);
  return v;
}

json_t *db_test_json_track(const json_t *state, const char *name) {
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    if (n && !strcmp(n, name)) return t;
  }
  return NULL;
}

json_t *db_test_json_clip_notes(const json_t *state, size_t track, size_t clip) {
  json_t *t = json_array_get(json_object_get(state, "tracks"), track);
  json_t *notes = json_object_get(json_array_get(json_object_get(t, "clips"), clip), "notes");
  if (!json_is_array(notes)) fail_msg("the state has no notes array in clip %zu of track %zu", clip, track);
  return notes;
}

json_t *db_test_source_json(const char *rel) {
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", db_test_source_dir(), rel);
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  if (!j) fail_msg("cannot load %s: %s (line %d)", path, je.text, je.line);
  return j;
}
