/* Fuzz target: the stage-1 plan text a model writes (agent/plan.c plan_parse), then plan_validate against the
 * real tool catalog (vocab/tools.json) and the plan tests' session (tests/fixtures/plans/state.json), as the
 * agent does. Invariants: no crash/sanitizer
 * report/hang; a parsed plan's accessors are consistent (every step has a tool and args object); a validated
 * plan's errors are an array; plan_to_json and plan_format_errors give output. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "tools.h"

static tools_t *tools;
static json_t *state;

static void setup(void) {
  char err[256];
  if (tools_load(NULL, &tools, err, sizeof err)) {
    fprintf(stderr, "fuzz: %s\n", err);
    abort();
  }
  const char *sd = getenv("DAWBRIDGE_SOURCE_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fixtures/plans/state.json", sd ? sd : DAWBRIDGE_SOURCE_DIR);
  json_error_t je;
  state = json_load_file(path, 0, &je);
  if (!state) {
    fprintf(stderr, "fuzz: %s: %s\n", path, je.text);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!tools) setup();
  char err[512];
  plan_t *p = plan_parse((const char *)data, size, err, sizeof err);
  if (!p) return 0;
  size_t n = plan_step_count(p);
  for (size_t i = 0; i < n; i++) {
    if (!plan_step_tool(p, i)) {
      fprintf(stderr, "fuzz: step %zu has no tool\n", i + 1);
      abort();
    }
    if (!json_is_object(plan_step_args(p, i))) {
      fprintf(stderr, "fuzz: step %zu has no args object\n", i + 1);
      abort();
    }
    (void)plan_step_description(p, i);
    (void)plan_step_number(p, i);
  }
  if (plan_step_tool(p, n) || plan_step_number(p, n) != -1) {
    fprintf(stderr, "fuzz: a step past the last one (%zu) answers\n", n);
    abort();
  }
  json_t *errors = NULL;
  plan_validate(p, tools_catalog(tools), state, NULL, &errors);
  if (!json_is_array(errors)) {
    fprintf(stderr, "fuzz: plan_validate gave no errors array\n");
    abort();
  }
  char *msg = plan_format_errors(errors);
  if (!msg) {
    fprintf(stderr, "fuzz: plan_format_errors gave NULL\n");
    abort();
  }
  free(msg);
  json_decref(errors);
  json_t *j = plan_to_json(p);
  if (!j) {
    fprintf(stderr, "fuzz: plan_to_json gave NULL\n");
    abort();
  }
  json_decref(j);
  plan_free(p);
  return 0;
}
