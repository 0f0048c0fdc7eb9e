/* Fuzz target: the stage-1 plan text a model writes (agent/plan.c plan_parse), then plan_validate against the
 * real tool catalog (vocab/tools.json) and the plan tests' session (tests/fixtures/plans/state.json), as the
 * agent does. Invariants: no crash/sanitizer
 * report/hang; a parsed plan's accessors are consistent (every step has a tool and args object); a validated
 * plan's errors are an array; plan_to_json and plan_format_errors give output. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "tools.h"

static tools_t *tools;
static json_t *state;

/* A broken invariant (or a fixture that does not load): says which on stderr and aborts, for the fuzzer to report. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2), noreturn))
#endif
static void
fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fuzz: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

static void setup(void) {
  char err[256];
  if (tools_load(NULL, &tools, err, sizeof err)) fail("%s", err);
  const char *sd = getenv("DAWBRIDGE_SOURCE_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fixtures/plans/state.json", sd ? sd : DAWBRIDGE_SOURCE_DIR);
  json_error_t je;
  state = json_load_file(path, 0, &je);
  if (!state) fail("%s: %s", path, je.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!tools) setup();
  char err[512];
  plan_t *p = plan_parse((const char *)data, size, err, sizeof err);
  if (!p) return 0;
  size_t n = plan_step_count(p);
  for (size_t i = 0; i < n; i++) {
    if (!plan_step_tool(p, i)) fail("step %zu has no tool", i + 1);
    if (!json_is_object(plan_step_args(p, i))) fail("step %zu has no args object", i + 1);
    (void)plan_step_description(p, i);
    (void)plan_step_number(p, i);
  }
  if (plan_step_tool(p, n) || plan_step_number(p, n) != -1) fail("a step past the last one (%zu) answers", n);
  json_t *errors = NULL;
  plan_validate(p, tools_catalog(tools), state, NULL, &errors);
  if (!json_is_array(errors)) fail("plan_validate gave no errors array");
  char *msg = plan_format_errors(errors);
  if (!msg) fail("plan_format_errors gave NULL");
  free(msg);
  json_decref(errors);
  json_t *j = plan_to_json(p);
  if (!j) fail("plan_to_json gave NULL");
  json_decref(j);
  plan_free(p);
  return 0;
}
