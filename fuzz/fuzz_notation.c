/* Fuzz target: musical notation (agent/notation.c) — what a model writes for a clip's notes. The input is read
 * as JSON (else as one string) and expanded with notation_expand_notes; its text also goes through the single
 * parsers (pitch, chord, pattern). Invariants: no crash/sanitizer report; an expansion is an array of objects
 * with numeric n, s, d, v sorted by s; chords never write past `max`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 8192) return 0;
  char *text = strndup((const char *)data, size); /* the input as a C string: the parsers read up to a NUL */
  if (!text) return 0;
  json_t *spec = json_loads(text, JSON_DECODE_ANY, NULL);
  if (!spec) spec = json_string(text); /* NULL when not UTF-8 */
  char err[512];
  if (spec) {
    json_t *out = notation_expand_notes(spec, NULL, err, sizeof err);
    if (out) {
      if (!json_is_array(out)) abort();
      double last = -1e300;
      size_t i;
      json_t *n;
      json_array_foreach(out, i, n) {
        json_t *s = json_object_get(n, "s");
        if (!json_is_number(json_object_get(n, "n")) || !json_is_number(s) || !json_is_number(json_object_get(n, "d")))
          abort();
        if (json_number_value(s) < last) {
          fprintf(stderr, "fuzz: notes not sorted by start\n");
          abort();
        }
        last = json_number_value(s);
      }
      notation_check_notes(out, 16, err, sizeof err);
      json_decref(out);
    }
    json_decref(spec);
  }
  int midi;
  notation_pitch(text, &midi, err, sizeof err);
  int notes[9] = {0};
  size_t count = 0;
  notation_chord(text, NOTATION_OCTAVE_DEFAULT, notes, 8, &count, err, sizeof err);
  if (count > 8) abort();
  if (notes[8]) abort();
  json_t *arr = json_array();
  notation_pattern(text, 36, 0.25, 0, 0, NULL, arr, err, sizeof err);
  json_decref(arr);
  free(text);
  return 0;
}
