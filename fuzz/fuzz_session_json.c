/* Fuzz target: session JSON (bridge/session.c session_from_json), the mirror history files and the agent's
 * state come back through. Invariants: no crash, no sanitizer report, no hang (the duplicate-id check was
 * quadratic); an accepted document round-trips: to_json -> from_json -> to_json is a fixed point. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
  if (!j) return 0;
  session_t *s = session_new("reaper");
  char err[256];
  if (session_from_json(s, j, err, sizeof err) == SESSION_OK) {
    json_t *a = session_to_json(s);
    session_t *t = session_new("reaper");
    if (session_from_json(t, a, err, sizeof err)) {
      fprintf(stderr, "fuzz: an accepted session does not read back: %s\n", err);
      abort();
    }
    json_t *b = session_to_json(t);
    if (!json_equal(a, b)) {
      fprintf(stderr, "fuzz: the session JSON changed on a round trip\n");
      abort();
    }
    json_decref(a);
    json_decref(b);
    session_free(t);
  }
  session_free(s);
  json_decref(j);
  return 0;
}
