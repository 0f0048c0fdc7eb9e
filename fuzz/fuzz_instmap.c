/* Fuzz target: instrument roles (osc-maps/instmap.c) — the plan's free-text instrument word, resolved against both
 * real instrument maps; when the input parses as a JSON object it is also tried as a DAW instrument map (the
 * validator). Invariants: no crash/sanitizer report; OK -> a result whose "plugin" is the first candidate and one
 * of the DAW map's plugins, kind plugin|role|default, a warning exactly for default; ENOTFOUND -> no result and a
 * message; a map that loads resolves any word. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instmap.h"

static void check(const instmap_t *m, const char *word) {
  json_t *o = NULL;
  char msg[900];
  int rc = instmap_resolve(m, word, &o, msg, sizeof msg);
  if (rc == INSTMAP_ENOTFOUND) {
    if (o || !msg[0]) abort();
    return;
  }
  if (rc != INSTMAP_OK || !o) abort();
  const char *plugin = json_string_value(json_object_get(o, "plugin"));
  const char *first = json_string_value(json_array_get(json_object_get(o, "candidates"), 0));
  const char *kind = json_string_value(json_object_get(o, "kind"));
  if (!plugin || !first || strcmp(plugin, first) || !kind) abort();
  int known = 0;
  size_t i;
  json_t *p;
  json_array_foreach(json_object_get(json_object_get(instmap_json(m), "daw"), "plugins"), i,
                     p) if (!strcmp(json_string_value(json_object_get(p, "name")), plugin)) known = 1;
  if (!known) abort();
  int is_default = !strcmp(kind, "default");
  if (!is_default && strcmp(kind, "plugin") && strcmp(kind, "role")) abort();
  if (is_default != (json_object_get(o, "warning") != NULL) || is_default != (msg[0] != 0)) abort();
  json_t *ch = json_object_get(o, "channel");
  if (ch && (json_integer_value(ch) < 1 || json_integer_value(ch) > 16)) abort();
  json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static instmap_t *maps[2];
  static int loaded;
  if (!loaded) {
    char err[512];
    if (instmap_load_dialect("reaper", &maps[0], err, sizeof err) ||
        instmap_load_dialect("ardour", &maps[1], err, sizeof err)) {
      fprintf(stderr, "fuzz_instmap: %s\n", err);
      abort();
    }
    loaded = 1;
  }
  if (size > 4096) return 0;
  char *text = strndup((const char *)data, size); /* the input as a C string: the parsers read up to a NUL */
  if (!text) return 0;
  for (int k = 0; k < 2; k++) check(maps[k], text);
  json_t *j = json_loads(text, 0, NULL);
  if (json_is_object(j)) {
    /* the input as a DAW map (with the real roles), and as the roles file (with the real REAPER map) */
    const json_t *doc = instmap_json(maps[0]);
    instmap_t *m = NULL;
    char err[512];
    if (instmap_load_json(j, "fuzz.json", json_object_get(doc, "roles"), "roles.json", &m, err, sizeof err) ==
        INSTMAP_OK) {
      check(m, "kick");
      check(m, "zorblax");
      instmap_free(m);
    } else if (!err[0]) {
      abort();
    }
    if (instmap_load_json(json_object_get(doc, "daw"), "reaper.json", j, "fuzz.json", &m, err, sizeof err) ==
        INSTMAP_OK) {
      check(m, "piano");
      instmap_free(m);
    }
  }
  json_decref(j);
  free(text);
  return 0;
}
