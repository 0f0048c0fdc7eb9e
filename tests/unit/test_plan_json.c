/* test_plan_json.c — the plan as one JSON object (agent/plan_json.c): its schema from the real tool catalog (and
 * that schema made strict for OpenAI stays valid under strict mode's rules), the answer back into the plan text
 * that plan_parse reads, and what is not a JSON plan left alone. Data-driven where the cases are data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_provider.h"
#include "plan.h"
#include "plan_json.h"

static json_t *catalog(void) {
  const char *d = getenv("DAWBRIDGE_SOURCE_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/vocab/tools.json", d && *d ? d : DAWBRIDGE_SOURCE_DIR);
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je);
  if (!root) fail_msg("%s: %s", path, je.text);
  json_t *tools = json_incref(json_object_get(root, "tools"));
  json_decref(root);
  assert_true(json_array_size(tools) >= 9);
  return tools;
}

static void test_plan_json_schema_from_catalog(void **state) {
  (void)state;
  json_t *tools = catalog();
  json_t *s = plan_json_schema(tools);
  assert_non_null(s);
  assert_non_null(strstr(json_string_value(json_object_get(s, "description")), "[track from Step N]"));
  json_t *any =
      json_object_get(json_object_get(json_object_get(json_object_get(s, "properties"), "steps"), "items"), "anyOf");
  assert_int_equal(json_array_size(any), json_array_size(tools));
  size_t i;
  json_t *br;
  json_array_foreach(any, i, br) {
    json_t *t = json_array_get(tools, i);
    json_t *props = json_object_get(br, "properties");
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(props, "tool"), "enum"), 0)),
                        json_string_value(json_object_get(t, "name")));
    assert_true(json_equal(json_object_get(props, "args"), json_object_get(t, "parameters")));
  }
  json_decref(s);
  assert_null(plan_json_schema(NULL));
  json_t *empty = json_array();
  assert_null(plan_json_schema(empty));
  json_decref(empty);
  json_decref(tools);
}

/* OpenAI strict mode's rules on what the openai encoder sends: every object closed, all properties required. */
static void check_strict(json_t *s, const char *path) {
  if (!json_is_object(s)) return;
  json_t *type = json_object_get(s, "type"), *v;
  int object = json_is_string(type)
                   ? !strcmp(json_string_value(type), "object")
                   : json_is_array(type) && !strcmp(json_string_value(json_array_get(type, 0)), "object");
  if (object) {
    if (!json_is_false(json_object_get(s, "additionalProperties"))) fail_msg("%s: not closed", path);
    if (json_array_size(json_object_get(s, "required")) != json_object_size(json_object_get(s, "properties")))
      fail_msg("%s: not every property required", path);
  }
  if (json_object_get(s, "minLength") || json_object_get(s, "maxLength") || json_object_get(s, "minProperties"))
    fail_msg("%s: a keyword strict mode refuses", path);
  const char *k;
  char sub[512];
  json_object_foreach(json_object_get(s, "properties"), k, v) {
    snprintf(sub, sizeof sub, "%s/%s", path, k);
    check_strict(v, sub);
  }
  size_t i;
  json_array_foreach(json_object_get(s, "anyOf"), i, v) {
    snprintf(sub, sizeof sub, "%s/anyOf/%zu", path, i);
    check_strict(v, sub);
  }
  snprintf(sub, sizeof sub, "%s/items", path);
  check_strict(json_object_get(s, "items"), sub);
}

static void test_plan_json_schema_strict_for_openai(void **state) {
  (void)state;
  json_t *tools = catalog(), *s = plan_json_schema(tools);
  json_t *neutral = json_pack("{s:[{s:s,s:s}],s:{s:s,s:s,s:O}}", "messages", "role", "user", "content", "a kick",
                              "json", "mode", "schema", "name", "plan", "schema", s);
  char err[256];
  json_t *body = llm__openai_ops()->encode(neutral, "m", err, sizeof err);
  assert_non_null(body);
  json_t *js = json_object_get(json_object_get(body, "response_format"), "json_schema");
  assert_true(json_is_true(json_object_get(js, "strict")));
  check_strict(json_object_get(js, "schema"), "plan");
  json_decref(body);
  json_decref(neutral);
  json_decref(s);
  json_decref(tools);
}

static void test_plan_json_to_text_parses(void **state) {
  (void)state;
  const char *answer =
      "```json\n{\"analysis\": \"Empty.\\nStep 7: delete_track\", \"steps\": ["
      "{\"tool\": \"create_track\", \"description\": \"Kick\", \"args\": {\"name\": \"Kick: 909\", \"type\": \"midi\","
      " \"instrument\": null}},"
      "{\"tool\": \"create_midi_clip\", \"description\": \"Four\\non the floor\", \"args\": {\"track_id\": \"[track "
      "from Step 1]\", \"start_time\": 0, \"duration\": 4, \"notes\": [{\"n\": 36, \"s\": 0, \"d\": 0.5, \"v\": "
      "110}]}}],"
      " \"reasoning\": \"Pulse.\"}\n```";
  char *t = plan_json_to_text(answer, (size_t)-1);
  assert_non_null(t);
  char err[256];
  plan_t *p = plan_parse(t, (size_t)-1, err, sizeof err);
  if (!p) fail_msg("%s\n%s", err, t);
  assert_int_equal(plan_step_count(p), 2); /* the "Step 7" inside the analysis stays text */
  assert_string_equal(plan_step_tool(p, 0), "create_track");
  assert_string_equal(json_string_value(json_object_get(plan_step_args(p, 0), "name")), "Kick: 909");
  assert_null(json_object_get(plan_step_args(p, 0), "instrument")); /* null = not given */
  const char *kind = NULL;
  assert_int_equal(plan_ref_step(json_object_get(plan_step_args(p, 1), "track_id"), &kind), 1);
  assert_string_equal(kind, "track");
  assert_int_equal(json_array_size(json_object_get(plan_step_args(p, 1), "notes")), 1);
  assert_string_equal(plan_reasoning(p), "Pulse.");
  plan_free(p);
  /* plan_parse takes the JSON answer directly too */
  p = plan_parse(answer, (size_t)-1, err, sizeof err);
  assert_non_null(p);
  assert_int_equal(plan_step_count(p), 2);
  plan_free(p);
  assert_null(plan_json_to_text(t, (size_t)-1)); /* converted once only */
  free(t);
}

static void test_plan_json_not_a_json_plan(void **state) {
  (void)state;
  static const char *const cases[] = {
      "",
      "**ANALYSIS:** x\n**PLAN:**\nStep 1: set_tempo - t\n  - bpm: {\"a\": 1}\n",
      "Step 1: set_tempo - {\"steps\": [{\"tool\": \"x\"}]}",
      "{\"steps\": []}",
      "{\"steps\": {\"tool\": \"x\"}}",
      "{\"analysis\": \"no steps\"}",
      "{\"steps\": [{\"tool\": \"x\"}]",
      "[{\"tool\": \"x\"}]",
      "{not json}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *t = plan_json_to_text(cases[i], (size_t)-1);
    if (t) fail_msg("case %zu converted: %s", i, t);
  }
  assert_null(plan_json_to_text(NULL, 0));
  /* a step without a tool or with odd types still gives text the parser can judge */
  char *t = plan_json_to_text("{\"steps\": [{\"args\": 5}, {\"tool\": 7, \"args\": {\"a\\nb\": [1]}}]}", (size_t)-1);
  assert_non_null(t);
  assert_null(strstr(t, "a\nb"));
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_json_schema_from_catalog),
      cmocka_unit_test(test_plan_json_schema_strict_for_openai),
      cmocka_unit_test(test_plan_json_to_text_parses),
      cmocka_unit_test(test_plan_json_not_a_json_plan),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
