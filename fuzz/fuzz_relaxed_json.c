/* Fuzz target: relaxed JSON (agent/relaxed_json.c), how plan arguments written by a model are read.
 * Invariants: no crash/sanitizer report; always a value (never NULL for non-NULL text), of a known kind; the
 * value dumps to JSON that jansson reads back as the same value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaxed_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int how = -1;
  json_t *v = relaxed_json_parse((const char *)data, size, &how);
  if (!v) {
    fprintf(stderr, "fuzz: relaxed_json_parse returned NULL\n");
    abort();
  }
  if (how < RELAXED_JSON_STRICT || how > RELAXED_JSON_STRING) abort();
  char *dump = json_dumps(v, JSON_ENCODE_ANY);
  if (!dump) abort();
  json_t *back = json_loads(dump, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
  if (!back || !json_equal(back, v)) {
    fprintf(stderr, "fuzz: the parsed value does not survive a dump: %.200s\n", dump);
    abort();
  }
  json_decref(back);
  free(dump);
  json_decref(v);
  json_t *s = relaxed_json_string((const char *)data, size);
  if (!s || !json_is_string(s)) abort();
  json_decref(s);
  return 0;
}
