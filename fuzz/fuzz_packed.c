/* Fuzz target: the companion's packed note list (bridge/notes_packed.c), as a companion's reply hands it to the
 * bridge. Invariants: no crash/sanitizer report; the result is PACKED_OK with an array of at most max notes whose
 * fields are in range, or an error with a message and no array; a decoded list encodes and decodes again to the same
 * notes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notes_packed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *a = NULL;
  char err[256] = "";
  int rc = packed_decode((const char *)data, size, 64, &a, err, sizeof err);
  if (rc) {
    if (a || !err[0] || (rc != PACKED_EINVAL && rc != PACKED_ETOOMANY && rc != PACKED_ENOMEM)) abort();
    return 0;
  }
  if (!json_is_array(a) || json_array_size(a) > 64) abort();
  size_t i;
  json_t *o;
  json_array_foreach(a, i, o) {
    json_int_t n = json_integer_value(json_object_get(o, "n")), v = json_integer_value(json_object_get(o, "v")),
               c = json_integer_value(json_object_get(o, "c"));
    double s = json_number_value(json_object_get(o, "s")), d = json_number_value(json_object_get(o, "d"));
    if (n < 0 || n > 127 || v < 0 || v > 127 || c < 0 || c > 15 || s < 0 || d <= 0) abort();
  }
  strbuf_t b = STRBUF_INIT;
  if (packed_encode(a, 0, json_array_size(a), &b, err, sizeof err)) abort();
  json_t *back = NULL;
  if (packed_decode(b.s, b.len, 64, &back, err, sizeof err) || json_array_size(back) != json_array_size(a)) abort();
  json_array_foreach(a, i, o) {
    if (!json_equal(o, json_array_get(back, i))) abort();
  }
  json_decref(back);
  strbuf_reset(&b);
  json_decref(a);
  return 0;
}
