/* Unit tests: agent/plan.c and agent/relaxed_json.c.
 * The plan table is tests/fixtures/plans/NN-name.txt (a model output) with NN-name.expect (JSON):
 *   {"parse": "ok"|"error", "parse_error_contains": "...", "steps": N, "tools": [...], "valid": bool,
 *    "errors": [{"step": N, "contains": "..."}] (exact count, any order), "warnings": N,
 *    "args": {"<step>": {key: value}} (subset match after validation, numbers compared as numbers),
 *    "notes_count": {"<step>": N}, "analysis_contains": "...", "reasoning_contains": "..."}
 * validated against the real tool catalog vocab/tools.json (so they cannot drift from it), and effects.json and
 * state.json in the fixture directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_test_json.h"
#include "db_test_util.h"
#include "plan.h"
#include "relaxed_json.h"
#include "db_test_text.h"

static json_t *load_fixture_json(const char *name) {
  char rel[1100];
  snprintf(rel, sizeof rel, "tests/fixtures/plans/%s", name);
  return db_test_source_json(rel);
}

typedef struct {
  json_t *tools, *effects, *state;
} fixtures_t;

static int setup(void **state) {
  fixtures_t *f = calloc(1, sizeof *f);
  /* the real tool catalog, so the fixtures cannot drift from what the agent validates against */
  char path[1024];
  snprintf(path, sizeof path, "%s/vocab/tools.json", db_test_source_dir());
  json_error_t jerr;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) fail_msg("cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
  f->tools = json_incref(json_object_get(root, "tools"));
  json_decref(root);
  if (!json_is_array(f->tools)) fail_msg("%s: no \"tools\" array", path);
  f->effects = load_fixture_json("effects.json");
  f->state = load_fixture_json("state.json");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixtures_t *f = *state;
  json_decref(f->tools);
  json_decref(f->effects);
  json_decref(f->state);
  free(f);
  return 0;
}

/* expected ⊆ actual; numbers compared numerically */
static int json_match(const json_t *want, const json_t *got) {
  if (json_is_number(want) && json_is_number(got)) return fabs(json_number_value(want) - json_number_value(got)) < 1e-9;
  if (json_is_object(want)) {
    if (!json_is_object(got)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v) if (!json_match(v, json_object_get(got, k))) return 0;
    return 1;
  }
  if (json_is_array(want)) {
    if (!json_is_array(got) || json_array_size(want) != json_array_size(got)) return 0;
    for (size_t i = 0; i < json_array_size(want); i++)
      if (!json_match(json_array_get(want, i), json_array_get(got, i))) return 0;
    return 1;
  }
  return json_equal((json_t *)want, (json_t *)got);
}

static size_t step_index(const plan_t *p, int number) {
  for (size_t i = 0; i < plan_step_count(p); i++)
    if (plan_step_number(p, i) == number) return i;
  fail_msg("no step %d", number);
  return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int run_fixture(fixtures_t *f, const char *base) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fixtures/plans/%s.txt", db_test_source_dir(), base);
  size_t len = 0;
  char *text = db_test_slurp(path, &len);
  if (!text) fail_msg("cannot read %s", path);
  char expect[512];
  snprintf(expect, sizeof expect, "%s.expect", base);
  json_t *ex = load_fixture_json(expect);
  int failures = 0;
#define CHECK(cond, ...)                                                                                               \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      print_error("%s: ", base);                                                                                       \
      print_error(__VA_ARGS__);                                                                                        \
      print_error("\n");                                                                                               \
      failures++;                                                                                                      \
    }                                                                                                                  \
  } while (0)

  char err[512] = "";
  plan_t *p = plan_parse(text, len, err, sizeof err);
  const char *want_parse = json_string_value(json_object_get(ex, "parse"));
  if (want_parse && !strcmp(want_parse, "error")) {
    CHECK(p == NULL, "expected a parse error");
    const char *c = json_string_value(json_object_get(ex, "parse_error_contains"));
    CHECK(!c || strstr(err, c), "parse error \"%s\" lacks \"%s\"", err, c);
    plan_free(p);
    free(text);
    json_decref(ex);
    return failures;
  }
  if (!p) {
    print_error("%s: parse failed: %s\n", base, err);
    free(text);
    json_decref(ex);
    return 1;
  }
  const json_t *v;
  if ((v = json_object_get(ex, "steps")))
    CHECK(plan_step_count(p) == (size_t)json_integer_value(v), "%zu steps, expected %d", plan_step_count(p),
          (int)json_integer_value(v));
  if ((v = json_object_get(ex, "tools"))) {
    for (size_t i = 0; i < json_array_size(v) && i < plan_step_count(p); i++)
      CHECK(!strcmp(plan_step_tool(p, i), json_string_value(json_array_get(v, i))), "step %zu tool %s, expected %s",
            i + 1, plan_step_tool(p, i), json_string_value(json_array_get(v, i)));
  }
  if ((v = json_object_get(ex, "warnings")))
    CHECK(json_array_size(plan_warnings(p)) == (size_t)json_integer_value(v), "%zu warnings, expected %d",
          json_array_size(plan_warnings(p)), (int)json_integer_value(v));
  if ((v = json_object_get(ex, "analysis_contains")))
    CHECK(strstr(plan_analysis(p), json_string_value(v)) != NULL, "analysis \"%s\" lacks \"%s\"", plan_analysis(p),
          json_string_value(v));
  if ((v = json_object_get(ex, "reasoning_contains")))
    CHECK(strstr(plan_reasoning(p), json_string_value(v)) != NULL, "reasoning \"%s\" lacks \"%s\"", plan_reasoning(p),
          json_string_value(v));

  json_t *errors = NULL;
  size_t parse_warnings = json_array_size(plan_warnings(p));
  int rc = plan_validate(p, f->tools, f->state, f->effects, &errors);
  if ((v = json_object_get(ex, "validation_warnings"))) {
    const json_t *got = plan_warnings(p);
    char *wd = json_dumps(got, JSON_INDENT(1));
    CHECK(json_array_size(got) - parse_warnings == json_array_size(v), "%zu validation warnings, expected %zu: %s",
          json_array_size(got) - parse_warnings, json_array_size(v), wd);
    size_t i, j;
    const json_t *w, *g;
    json_array_foreach(v, i, w) {
      int found = 0;
      json_array_foreach(got, j, g) found |= j >= parse_warnings && strstr(json_string_value(g), json_string_value(w));
      CHECK(found, "no validation warning containing \"%s\"; got %s", json_string_value(w), wd);
    }
    free(wd);
  }
  size_t all_warnings = json_array_size(plan_warnings(p));
  json_t *again = NULL;
  plan_validate(p, f->tools, f->state, f->effects, &again); /* validating again warns no more */
  CHECK(json_array_size(plan_warnings(p)) == all_warnings, "a second validation added warnings");
  json_decref(again);
  int want_valid = json_is_true(json_object_get(ex, "valid"));
  char *dump = json_dumps(errors, JSON_INDENT(1));
  CHECK((rc == PLAN_OK) == want_valid, "validate rc %d, expected %s; errors: %s", rc, want_valid ? "valid" : "invalid",
        dump);
  CHECK((json_array_size(errors) == 0) == (rc == PLAN_OK), "rc and errors disagree");
  const json_t *we = json_object_get(ex, "errors");
  if (we) {
    CHECK(json_array_size(we) == json_array_size(errors), "%zu errors, expected %zu: %s", json_array_size(errors),
          json_array_size(we), dump);
    size_t i;
    const json_t *e;
    json_array_foreach(we, i, e) {
      int step = (int)json_integer_value(json_object_get(e, "step"));
      const char *c = json_string_value(json_object_get(e, "contains"));
      int found = 0;
      size_t j;
      const json_t *g;
      json_array_foreach(errors, j, g) {
        if (json_integer_value(json_object_get(g, "step")) == step &&
            strstr(json_string_value(json_object_get(g, "message")), c))
          found = 1;
      }
      CHECK(found, "no error at step %d containing \"%s\"; got %s", step, c, dump);
    }
  }
  free(dump);
  const char *sk;
  json_t *sv;
  json_object_foreach(json_object_get(ex, "args"), sk, sv) {
    size_t i = step_index(p, atoi(sk));
    char *got = json_dumps(plan_step_args(p, i), JSON_COMPACT);
    char *want = json_dumps(sv, JSON_COMPACT);
    CHECK(json_match(sv, plan_step_args(p, i)), "step %s args %s, expected to contain %s", sk, got, want);
    free(got);
    free(want);
  }
  json_object_foreach(json_object_get(ex, "notes_count"), sk, sv) {
    size_t i = step_index(p, atoi(sk));
    const json_t *notes = json_object_get(plan_step_args(p, i), "notes");
    CHECK(json_array_size(notes) == (size_t)json_integer_value(sv), "step %s: %zu notes, expected %d", sk,
          json_array_size(notes), (int)json_integer_value(sv));
  }
  /* the round-trip object and the re-plan text are always producible */
  json_t *pj = plan_to_json(p);
  CHECK(pj && json_array_size(json_object_get(pj, "steps")) == plan_step_count(p), "plan_to_json");
  json_decref(pj);
  char *txt = plan_format_errors(errors);
  CHECK(txt != NULL, "plan_format_errors");
  free(txt);
  json_decref(errors);
  plan_free(p);
  free(text);
  json_decref(ex);
#undef CHECK
  return failures;
}

static void test_plan_fixture_table(void **state) {
  fixtures_t *f = *state;
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/tests/fixtures/plans", db_test_source_dir());
  DIR *d = opendir(dir);
  assert_non_null(d);
  char *names[256];
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && n < 256) {
    size_t l = strlen(de->d_name);
    if (l > 4 && !strcmp(de->d_name + l - 4, ".txt")) names[n++] = strndup(de->d_name, l - 4);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  assert_true(n >= 30);
  int failures = 0;
  for (size_t i = 0; i < n; i++) {
    failures += run_fixture(f, names[i]);
    free(names[i]);
  }
  assert_int_equal(failures, 0);
}

/* ---- focused parser tests ---- */

static void test_plan_refs_and_accessors(void **state) {
  (void)state;
  const char *text = "**ANALYSIS:** a\n**PLAN:**\nStep 1: create_track - T\n  - name: X\n  - type: midi\n"
                     "Step 2: create_midi_clip - C\n  - track_id: [track from Step 1]\n"
                     "Step 3: edit_clip - E\n  - clip_id: [clip from Step 2]\n"
                     "Step 4: add_effect - F\n  - track_id: (from step 1)\n"
                     "**MUSICAL REASONING:** r\n";
  char err[200];
  plan_t *p = plan_parse(text, (size_t)-1, err, sizeof err);
  assert_non_null(p);
  assert_int_equal(plan_step_count(p), 4);
  assert_string_equal(plan_analysis(p), "a");
  assert_string_equal(plan_reasoning(p), "r");
  const char *kind;
  assert_int_equal(plan_ref_step(json_object_get(plan_step_args(p, 1), "track_id"), &kind), 1);
  assert_string_equal(kind, "track");
  assert_int_equal(plan_ref_step(json_object_get(plan_step_args(p, 2), "clip_id"), &kind), 2);
  assert_string_equal(kind, "clip");
  assert_int_equal(plan_ref_step(json_object_get(plan_step_args(p, 3), "track_id"), &kind), 1);
  assert_string_equal(kind, "any");
  assert_int_equal(plan_ref_step(json_object_get(plan_step_args(p, 0), "name"), NULL), 0);
  assert_string_equal(plan_step_description(p, 0), "T");
  assert_null(plan_step_tool(p, 4));
  assert_int_equal(plan_step_number(p, 9), -1);
  json_t *j = plan_to_json(p);
  json_t *ref = json_object_get(
      json_object_get(json_object_get(json_array_get(json_object_get(j, "steps"), 1), "args"), "track_id"), "$ref");
  assert_int_equal(json_integer_value(json_object_get(ref, "step")), 1);
  json_decref(j);
  plan_free(p);
}

static const struct {
  const char *value;
  int step;
  const char *kind;
} ref_forms[] = {
    {"[from Step 1]", 1, "any"},
    {"[track from Step 2]", 2, "track"},
    {"[clip from Step 3]", 3, "clip"},
    {"(from step 1)", 1, "any"},
    {"step_2", 2, "any"},
    {"Step 2", 2, "any"},
    {"$step1", 1, "any"},
    {"{{step1.track_id}}", 1, "track"},
    {"Step 1's track", 1, "track"},
    {"the track from Step 4", 4, "track"},
    {"[Step 1]", 1, "any"},
    {"**[from Step 5]**", 5, "any"},
    {"`[track from Step 6]`", 6, "track"},
    {"Step 1 Bass", 0, NULL},
    {"Intro (Step 1)", 0, NULL},
    {"t3", 0, NULL},
    {"\"Bass\"", 0, NULL},
    {"[from Step 0]", 0, NULL},
};

static void test_plan_reference_forms(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof ref_forms / sizeof ref_forms[0]; i++) {
    char text[256];
    snprintf(text, sizeof text, "Step 9: set_track - x\n  - track_id: %s\n", ref_forms[i].value);
    plan_t *p = plan_parse(text, (size_t)-1, NULL, 0);
    assert_non_null(p);
    const char *kind = NULL;
    int step = plan_ref_step(json_object_get(plan_step_args(p, 0), "track_id"), &kind);
    if (step != ref_forms[i].step || (step && strcmp(kind, ref_forms[i].kind)))
      fail_msg("reference %s: step %d kind %s, expected %d %s", ref_forms[i].value, step, kind ? kind : "-",
               ref_forms[i].step, ref_forms[i].kind ? ref_forms[i].kind : "-");
    plan_free(p);
  }
}

static const char *const garbage[] = {
    "",
    "\n\n\n",
    "Step",
    "Step 1:",
    "Step 999999999999: create_track",
    "**PLAN:**\nStep 1: create_track - x\n  - notes: [[[[[[[[[[[[[[[[[[[[[[[[",
    "**PLAN:**\nStep 1: create_track - x\n  - name: {a: [1, 2, {b: 'unterminated",
    "**PLAN:**\nStep 1: create_track - x\n  - : nothing\n  - name:\n",
    "**PLAN:**\nStep 1: `` - x\n",
    "Step 1: create_midi_clip - x\n - notes: \"\\u0000\\uD800\"\n - track_id: [from Step 0]\n",
    "Step 1: create_midi_clip - x\n - notes: {chord: }\n - duration: -0\n - start_time: nan\n",
    "Step 1: set_tempo\n - bpm: 1e400\nStep 1: set_tempo\n - bpm: -1e400\n",
};

/* Whatever the text, parsing fails with a message or the plan validates (with or without errors), and both
 * its JSON and the re-plan text come out. */
static void parse_validate_render(const fixtures_t *f, const char *text, size_t len) {
  char err[200] = "";
  plan_t *p = plan_parse(text, len, err, sizeof err);
  if (!p) {
    assert_true(err[0] != 0);
    return;
  }
  json_t *errors = NULL;
  plan_validate(p, f->tools, f->state, f->effects, &errors);
  char *t = plan_format_errors(errors);
  assert_non_null(t);
  free(t);
  json_t *j = plan_to_json(p);
  assert_non_null(j);
  json_decref(j);
  json_decref(errors);
  plan_free(p);
}

static void test_plan_garbage_never_crashes(void **state) {
  fixtures_t *f = *state;
  for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) parse_validate_render(f, garbage[i], (size_t)-1);
  /* pseudo-random bytes built from plan fragments (fixed seed: deterministic) */
  static const char *const frags[] = {"Step ",
                                      "1",
                                      "2",
                                      ": ",
                                      "create_track",
                                      "create_midi_clip",
                                      " - ",
                                      "\n",
                                      "  - ",
                                      "name",
                                      "notes",
                                      "track_id",
                                      ": ",
                                      "[",
                                      "]",
                                      "{",
                                      "}",
                                      "n: 36",
                                      "'",
                                      "\"",
                                      "[from Step 1]",
                                      "**PLAN:**",
                                      "```",
                                      "\r\n",
                                      "C4",
                                      "Am7",
                                      "x...",
                                      ",",
                                      "\xff",
                                      "\xE2\x80\x94",
                                      "#",
                                      "*"};
  unsigned seed = 12345;
  for (int round = 0; round < 300; round++) {
    char buf[512];
    size_t o = 0;
    for (int k = 0; k < 40; k++) {
      seed = seed * 1103515245u + 12345u;
      const char *fr = frags[(seed >> 16) % (sizeof frags / sizeof frags[0])];
      size_t l = strlen(fr);
      if (o + l >= sizeof buf) break;
      memcpy(buf + o, fr, l);
      o += l;
    }
    buf[o] = 0;
    parse_validate_render(f, buf, o);
  }
  assert_null(plan_parse(NULL, 0, NULL, 0));
  assert_int_equal(plan_validate(NULL, f->tools, NULL, NULL, NULL), PLAN_ERR_ARG);
}

static void test_plan_validate_without_state_or_catalog(void **state) {
  fixtures_t *f = *state;
  const char *text = "Step 1: create_track - k\n - name: Kick\n - type: midi\n - instrument: Anything\n"
                     "Step 2: create_midi_clip - c\n - track_id: [from Step 1]\n - start_time: 0\n - duration: 4\n"
                     " - notes: \"kick: x...x...x...x...\"\n"
                     "Step 3: add_effect - e\n - track_id: [from Step 1]\n - effect_name: Whatever\n";
  plan_t *p = plan_parse(text, (size_t)-1, NULL, 0);
  assert_non_null(p);
  json_t *errors = NULL;
  assert_int_equal(plan_validate(p, f->tools, NULL, NULL, &errors), PLAN_OK);
  assert_int_equal(json_array_size(errors), 0);
  json_decref(errors);
  plan_free(p);
}

/* Plans the repository ships (examples/NAME.plan, the plan texts and tool calls of examples/demo-transcript.json)
 * are checked against the real catalog vocab/tools.json at test time: every step's plan validates (no state: only
 * the catalog and the plan's own references), and every scripted tool call names a catalog tool with only
 * parameters that tool declares, its required ones present. A renamed tool or parameter fails here. */
static int check_plan_text(const fixtures_t *f, const char *what, const char *text) {
  char err[512] = "";
  plan_t *p = plan_parse(text, (size_t)-1, err, sizeof err);
  if (!p) {
    print_error("%s: does not parse: %s\n", what, err);
    return 1;
  }
  json_t *errors = NULL;
  plan_validate(p, f->tools, NULL, NULL, &errors);
  int bad = json_array_size(errors) != 0;
  if (bad) {
    char *d = json_dumps(errors, JSON_COMPACT);
    print_error("%s: invalid against vocab/tools.json: %s\n", what, d);
    free(d);
  }
  json_decref(errors);
  plan_free(p);
  return bad;
}

static const json_t *catalog_tool(const fixtures_t *f, const char *name) {
  size_t i;
  const json_t *t;
  json_array_foreach(f->tools, i, t) if (name && !strcmp(json_string_value(json_object_get(t, "name")), name)) return t;
  return NULL;
}

static int check_tool_call(const fixtures_t *f, const char *what, const json_t *call) {
  const char *name = json_string_value(json_object_get(call, "name"));
  const json_t *t = catalog_tool(f, name);
  if (!t) {
    print_error("%s: tool call %s is not in vocab/tools.json\n", what, name ? name : "(no name)");
    return 1;
  }
  const json_t *params = json_object_get(t, "parameters");
  const json_t *props = json_object_get(params, "properties");
  const json_t *args = json_object_get(call, "arguments");
  int bad = 0;
  const char *k;
  const json_t *v;
  json_object_foreach((json_t *)args, k, v) {
    if (!json_object_get(props, k)) {
      print_error("%s: %s has no parameter '%s' in vocab/tools.json\n", what, name, k);
      bad = 1;
    }
  }
  size_t i;
  json_array_foreach(json_object_get(params, "required"), i, v) {
    if (!json_object_get(args, json_string_value(v))) {
      print_error("%s: %s lacks the required parameter '%s'\n", what, name, json_string_value(v));
      bad = 1;
    }
  }
  return bad;
}

static void test_plan_examples_match_catalog(void **state) {
  fixtures_t *f = *state;
  char path[1024];
  int failures = 0, plans = 0, calls = 0;
  snprintf(path, sizeof path, "%s/examples", db_test_source_dir());
  DIR *d = opendir(path);
  assert_non_null(d);
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l < 6 || strcmp(de->d_name + l - 5, ".plan")) continue;
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", path, de->d_name);
    size_t len;
    char *text = db_test_slurp(p, &len);
    assert_non_null(text);
    failures += check_plan_text(f, de->d_name, text);
    plans++;
    free(text);
  }
  closedir(d);
  snprintf(path, sizeof path, "%s/examples/demo-transcript.json", db_test_source_dir());
  json_error_t jerr;
  json_t *tr = json_load_file(path, 0, &jerr);
  if (!tr) fail_msg("%s: %s", path, jerr.text);
  size_t i, j;
  json_t *r, *c;
  json_array_foreach(json_object_get(tr, "responses"), i, r) {
    const char *text = json_string_value(json_object_get(r, "text"));
    char what[64];
    snprintf(what, sizeof what, "demo-transcript.json responses[%zu]", i);
    if (text && strstr(text, "**PLAN:**")) {
      failures += check_plan_text(f, what, text);
      plans++;
    }
    json_array_foreach(json_object_get(r, "tool_calls"), j, c) {
      failures += check_tool_call(f, what, c);
      calls++;
    }
  }
  json_decref(tr);
  assert_true(plans >= 2);
  assert_true(calls >= 3);
  assert_int_equal(failures, 0);
}

/* A model's text with invalid UTF-8 still gives a plan object (the bytes become '?'); it used to give NULL,
 * dropping the whole plan from the agent's record (found by fuzz/fuzz_plan.c). */
static void test_plan_to_json_invalid_utf8(void **state) {
  (void)state;
  const char *text = "**ANALYSIS:** bad \xff byte\n\n**PLAN:**\nStep 1: set_tempo - tempo \xfe\n  - bpm: 100\n\n"
                     "**MUSICAL REASONING:** \xc3\n";
  plan_t *p = plan_parse(text, (size_t)-1, NULL, 0);
  assert_non_null(p);
  json_t *j = plan_to_json(p);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "analysis")), "bad ? byte");
  json_t *st = json_array_get(json_object_get(j, "steps"), 0);
  assert_string_equal(json_string_value(json_object_get(st, "tool")), "set_tempo");
  assert_non_null(strstr(json_string_value(json_object_get(st, "description")), "tempo ?"));
  json_decref(j);
  plan_free(p);
}

/* Bytes that look like UTF-8 sequences but are not valid code points (what jansson refuses) become '?' too;
 * relaxed_json_string used to return NULL for them (found by fuzz/fuzz_relaxed_json.c). */
static void test_relaxed_json_string_invalid_code_points(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"a\xF4\x95\x95\x95"
       "b",
       "a????b"},                                                       /* above U+10FFFF */
      {"\xED\xA0\x80", "???"},                                          /* a UTF-16 surrogate */
      {"\xE0\x80\xAF", "???"},                                          /* overlong */
      {"\xF0\x80\x80\xAF", "????"},                                     /* overlong */
      {"ok \xC3\xA9 \xF0\x9F\x8E\xB9", "ok \xC3\xA9 \xF0\x9F\x8E\xB9"}, /* valid: kept */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    json_t *s = relaxed_json_string(cases[i].in, strlen(cases[i].in));
    if (!s) fail_msg("case %zu: NULL", i);
    assert_string_equal(json_string_value(s), cases[i].out);
    json_decref(s);
    int how;
    json_t *v = relaxed_json_parse(cases[i].in, strlen(cases[i].in), &how);
    if (!v) fail_msg("case %zu: relaxed_json_parse gave NULL", i);
    json_decref(v);
  }
}

static void test_plan_format_errors_text(void **state) {
  (void)state;
  json_t *errors = json_pack("[{s:i, s:s, s:s}, {s:i, s:s}]", "step", 2, "tool", "create_midi_clip", "message",
                             "'notes': bad", "step", 0, "message", "the plan has no steps");
  char *t = plan_format_errors(errors);
  assert_non_null(t);
  db_test_contains_all(t, (const char *const[]){"2 problems", "- Step 2 (create_midi_clip): 'notes': bad\n",
                                                "- Plan: the plan has no steps\n", "**ANALYSIS:**", NULL});
  free(t);
  json_decref(errors);
  assert_string_equal(plan_strerror(PLAN_ERR_NOSTEPS), "no plan steps found");
}

/* ---- relaxed JSON ---- */

static const struct {
  const char *in;
  int how;
  const char *want; /* compact, sorted JSON */
} rj_cases[] = {
    {"{\"n\": 36}", RELAXED_JSON_STRICT, "{\"n\":36}"},
    {"{n: 36, s: 0, d: 0.5, v: 110}", RELAXED_JSON_RELAXED, "{\"d\":0.5,\"n\":36,\"s\":0,\"v\":110}"},
    {"[{n: 36, s: 0,}, {n: 38, s: 1},]", RELAXED_JSON_RELAXED, "[{\"n\":36,\"s\":0},{\"n\":38,\"s\":1}]"},
    {"{'name': 'It\\'s', \"x\": 'a\"b'}", RELAXED_JSON_RELAXED, "{\"name\":\"It's\",\"x\":\"a\\\"b\"}"},
    {"{drum: closed hat, pattern: x...x..., on: true, off: False, none: None}", RELAXED_JSON_RELAXED,
     "{\"drum\":\"closed hat\",\"none\":null,\"off\":false,\"on\":true,\"pattern\":\"x...x...\"}"},
    {"[C4, E4, Am7, -1.5e1, +3]", RELAXED_JSON_RELAXED, "[\"C4\",\"E4\",\"Am7\",-15.0,3]"},
    {"{a: 1 // comment\n, b: /* c */ 2}", RELAXED_JSON_RELAXED, "{\"a\":1,\"b\":2}"},
    {"[{n: 1} {n: 2}]", RELAXED_JSON_RELAXED, "[{\"n\":1},{\"n\":2}]"},
    {"{a: 1\n b: 2}", RELAXED_JSON_RELAXED, "{\"a\":1,\"b\":2}"},
    {"Kick Drum", RELAXED_JSON_STRING, "\"Kick Drum\""},
    {"  42  ", RELAXED_JSON_STRICT, "42"},
    {"t3", RELAXED_JSON_STRING, "\"t3\""},
    {"True", RELAXED_JSON_STRING, "true"},
    {"0x10", RELAXED_JSON_STRING, "\"0x10\""},
    {"nan", RELAXED_JSON_STRING, "\"nan\""},
    {"4 beats", RELAXED_JSON_STRING, "\"4 beats\""},
    {"[from Step 1]", RELAXED_JSON_RELAXED, "[\"from Step 1\"]"},
    {"{a: [1, 2}", RELAXED_JSON_STRING, "\"{a: [1, 2}\""},
    {"{'unterminated: 1}", RELAXED_JSON_STRING, "\"{'unterminated: 1}\""},
    {"'\\u00e9t\\u00e9'", RELAXED_JSON_RELAXED, "\"\xC3\xA9t\xC3\xA9\""},
    {"bad \xff utf8", RELAXED_JSON_STRING, "\"bad ? utf8\""},
    {"", RELAXED_JSON_STRING, "\"\""},
};

static void test_relaxed_json_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof rj_cases / sizeof rj_cases[0]; i++) {
    int how = -1;
    json_t *j = relaxed_json_parse(rj_cases[i].in, (size_t)-1, &how);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (how != rj_cases[i].how || strcmp(s, rj_cases[i].want) != 0)
      fail_msg("relaxed %s: how %d (want %d) got %s want %s", rj_cases[i].in, how, rj_cases[i].how, s,
               rj_cases[i].want);
    free(s);
    json_decref(j);
  }
  assert_null(relaxed_json_parse(NULL, 0, NULL));
  /* deep nesting falls back to a string instead of recursing without bound */
  char deep[400];
  memset(deep, '[', sizeof deep - 1);
  deep[sizeof deep - 1] = 0;
  int how;
  json_t *j = relaxed_json_parse(deep, (size_t)-1, &how);
  assert_true(json_is_string(j));
  json_decref(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_fixture_table),
      cmocka_unit_test(test_plan_refs_and_accessors),
      cmocka_unit_test(test_plan_reference_forms),
      cmocka_unit_test(test_plan_garbage_never_crashes),
      cmocka_unit_test(test_plan_validate_without_state_or_catalog),
      cmocka_unit_test(test_plan_format_errors_text),
      cmocka_unit_test(test_plan_examples_match_catalog),
      cmocka_unit_test(test_plan_to_json_invalid_utf8),
      cmocka_unit_test(test_relaxed_json_string_invalid_code_points),
      cmocka_unit_test(test_relaxed_json_table),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
