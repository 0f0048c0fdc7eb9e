/* Fuzz target: a model's answer under a JSON mode (agent/plan_json.c plan_json_to_text), then plan_parse of the
 * text it gives, as the agent does. Invariants: no crash/sanitizer report/hang; when the answer converts, the text
 * starts with the ANALYSIS section, is converted only once (a second conversion gives NULL), and plan_parse gives a
 * plan or a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "plan_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *t = plan_json_to_text((const char *)data, size);
  if (!t) return 0;
  if (strncmp(t, "**ANALYSIS:** ", 14)) abort();
  char *again = plan_json_to_text(t, (size_t)-1);
  if (again) abort();
  char err[512] = "";
  plan_t *p = plan_parse(t, (size_t)-1, err, sizeof err);
  if (!p && !err[0]) abort();
  plan_free(p);
  free(t);
  return 0;
}
