/* Fuzz target: the prompt budget (agent/budget.c) — the request text ("bars 5-8") and any session JSON the mirror
 * could hold. The input is the request; when it parses as a JSON object it is also the session, rendered within a
 * small budget. Invariants: no crash/sanitizer report; the token estimate never exceeds the byte count; a bar
 * range is 1 <= first <= last; the rendered texts exist and every track is counted at exactly one level. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "context.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  char *text = strndup((const char *)data, size); /* the input as a C string: the parsers read up to a NUL */
  if (!text) return 0;
  if (budget_tokens(text) > strlen(text)) abort();
  int a, z;
  if (budget_request_bars(text, &a, &z) && !(a >= 1 && a <= z)) abort();
  json_t *state = json_loads(text, 0, NULL);
  if (json_is_object(state)) {
    char *st = NULL, *ctx = NULL;
    struct budget_stats bs;
    size_t max = 200 + size % 2000;
    if (budget_session(state, NULL, text, max, &st, &ctx, &bs) == BUDGET_OK) {
      if (!st || !ctx) abort();
      if (bs.full + bs.detail + bs.name_only + bs.elided != bs.tracks) abort();
      if (bs.notes_shown > bs.notes_total) abort();
    }
    free(st);
    free(ctx);
  }
  json_decref(state);
  free(text);
  return 0;
}
