/* test_tools.c: the tool catalog (vocab/tools.json) and argument checks (agent/tools.[ch]).
 *
 * A table of good and bad arguments per tool (the bad ones with the words the message must contain), unknown
 * tools with suggestions, track references against a session, tools_subset. JSON literals use single quotes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oscmap.h"
#include "session.h"
#include "tools.h"
#include "db_test_json.h"
#include "db_test_map.h"

static int setup(void **state) {
  tools_t *t = NULL;
  char err[512] = "";
  if (tools_load(NULL, &t, err, sizeof err)) {
    print_error("tools_load: %s\n", err);
    return -1;
  }
  *state = t;
  return 0;
}

static int teardown(void **state) {
  tools_free(*state);
  return 0;
}

static const char *const all_tools[] = {
    "create_track",     "create_midi_clip",   "edit_clip",    "add_effect",  "remove_effect", "set_track",
    "set_effect_param", "set_effect_enabled", "delete_track", "delete_clip", "set_tempo",     "transport",
    "set_loop",         "add_marker",         "save_project", "get_state",   "get_notes"};

static void test_tools_catalog_loads(void **state) {
  const tools_t *t = *state;
  const json_t *cat = tools_catalog(t);
  assert_true(json_is_array(cat));
  assert_int_equal(json_array_size(cat), VOCAB__COUNT);
  for (size_t i = 0; i < sizeof all_tools / sizeof *all_tools; i++) {
    const json_t *d = tools_get(t, all_tools[i]);
    if (!d) fail_msg("tool %s missing", all_tools[i]);
    assert_string_equal(json_string_value(json_object_get(d, "name")), all_tools[i]);
    const char *desc = json_string_value(json_object_get(d, "description"));
    if (!desc || strlen(desc) < 10) fail_msg("tool %s has no description", all_tools[i]);
    const json_t *p = json_object_get(d, "parameters");
    assert_string_equal(json_string_value(json_object_get(p, "type")), "object");
    assert_true(json_is_false(json_object_get(p, "additionalProperties")));
    assert_true(json_is_object(json_object_get(p, "properties")));
    /* every required argument is a declared property */
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(p, "required"), k, r) {
      if (!json_object_get(json_object_get(p, "properties"), json_string_value(r)))
        fail_msg("%s requires undeclared %s", all_tools[i], json_string_value(r));
    }
    assert_true(json_object_get(d, "creates") != NULL);
  }
  /* names are unique */
  size_t i, k;
  json_t *a, *b;
  json_array_foreach(cat, i, a) {
    json_array_foreach(cat, k, b) {
      if (k != i && json_equal(json_object_get(a, "name"), json_object_get(b, "name"))) fail_msg("duplicate tool name");
    }
  }
  assert_null(tools_get(t, "fly"));
  assert_null(tools_get(t, NULL));
}

/* The dialect maps and the catalog speak the same vocabulary. */
static void test_tools_catalog_covers_dialect_maps(void **state) {
  const tools_t *t = *state;
  const char *dialects[] = {"reaper", "ardour"};
  for (int d = 0; d < 2; d++) {
    oscmap_t *m = db_test_load_map(dialects[d]);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(oscmap_json(m), "tools"), k, v) {
      if (!tools_get(t, k)) fail_msg("%s map has tool %s that the catalog lacks", dialects[d], k);
    }
    const json_t *caps = json_object_get(oscmap_json(m), "capabilities");
    const char *lists[] = {"native", "companion"};
    for (int l = 0; l < 2; l++) {
      size_t i;
      json_array_foreach(json_object_get(caps, lists[l]), i, v) assert_non_null(tools_get(t, json_string_value(v)));
    }
    oscmap_free(m);
  }
}

static void test_tools_load_errors(void **state) {
  (void)state;
  tools_t *t = (tools_t *)1;
  char err[512] = "";
  assert_int_equal(tools_load("/nonexistent/tools.json", &t, err, sizeof err), TOOLS_ELOAD);
  assert_null(t);
  assert_non_null(strstr(err, "/nonexistent/tools.json"));

  struct {
    const char *text, *msg;
  } bad[] = {
      {"{\"tools\": [", ":1:"},
      {"{\"tools\": {}}", "\"tools\" must be an array"},
      {"{\"tools\": [{\"name\": \"x\"}]}", "tools[0] needs a name and parameters"},
      {"{\"tools\": [{\"parameters\": {}}]}", "tools[0]"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char path[] = "/tmp/test_tools_XXXXXX";
    FILE *f = fdopen(mkstemp(path), "w");
    assert_non_null(f);
    fputs(bad[i].text, f);
    fclose(f);
    err[0] = 0;
    int rc = tools_load(path, &t, err, sizeof err);
    remove(path);
    assert_int_equal(rc, TOOLS_ELOAD);
    if (!strstr(err, bad[i].msg)) fail_msg("%s: message '%s' lacks '%s'", bad[i].text, err, bad[i].msg);
  }
  for (int c = 0; c >= -6; c--) assert_non_null(tools_strerror(c));
}

struct arg_case {
  const char *tool;
  const char *args;
  int rc;
  const char *msg[3];
};

static const struct arg_case arg_cases[] = {
    /* good */
    {"create_track", "{'name': 'Bass', 'type': 'midi', 'instrument': 'ReaSynth'}", 0, {NULL}},
    {"create_track", "{'name': 'Vox', 'type': 'audio'}", 0, {NULL}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': [{'n': 60, 's': 0, 'd': 1, 'v': 100}]}",
     0,
     {NULL}},
    {"create_midi_clip",
     "{'track_id': 'Bass', 'start_time': 8.5, 'duration': 0.25, 'notes': [], 'name': 'x'}",
     0,
     {NULL}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 100000, 'notes': [{'n': 0, 's': 0, 'd': 0.01, 'v': 1}, {'n': "
     "127, 's': 3, 'd': 1, 'v': 127}]}",
     0,
     {NULL}},
    {"edit_clip", "{'clip_id': 'c1', 'transpose': -12, 'quantize': 0.25}", 0, {NULL}},
    {"edit_clip",
     "{'clip_id': 'c1', 'add_notes': [{'n': 64, 's': 1, 'd': 1}], 'remove_notes': [{'n': 60, 's': 0}]}",
     0,
     {NULL}},
    {"add_effect", "{'track_id': 't1', 'effect_name': 'ReaEQ', 'params': {'gain': 0.5}}", 0, {NULL}},
    {"remove_effect", "{'track_id': 't1', 'effect_index': 64}", 0, {NULL}},
    {"remove_effect", "{'track_id': 't1', 'effect_index': 2.0}", 0, {NULL}}, /* integral real is an integer */
    {"set_track", "{'track_id': 't1', 'pan': -1}", 0, {NULL}},
    {"set_track",
     "{'track_id': 't1', 'volume_db': -150, 'mute': true, 'solo': false, 'rec_arm': true, 'selected': false, 'name': "
     "'X'}",
     0,
     {NULL}},
    {"set_track", "{'track_id': 't1', 'volume_db': 12}", 0, {NULL}},
    {"set_effect_param", "{'track_id': 't1', 'effect_index': 1, 'param_index': 4096, 'value': 0}", 0, {NULL}},
    {"set_effect_param", "{'track_id': 't1', 'effect_index': 1, 'param_index': 1, 'value': 1}", 0, {NULL}},
    {"set_effect_enabled", "{'track_id': 't1', 'effect_index': 1, 'enabled': false}", 0, {NULL}},
    {"delete_track", "{'track_id': 't2'}", 0, {NULL}},
    {"delete_clip", "{'clip_id': 'c3'}", 0, {NULL}},
    {"set_tempo", "{'bpm': 20}", 0, {NULL}},
    {"set_tempo", "{'bpm': 999}", 0, {NULL}},
    {"set_tempo", "{'bpm': 120.5}", 0, {NULL}},
    {"transport", "{'action': 'play'}", 0, {NULL}},
    {"transport", "{'action': 'rewind'}", 0, {NULL}},
    {"set_loop", "{'start': 0, 'end': 8, 'enabled': true}", 0, {NULL}},
    {"add_marker", "{'position': 16, 'name': 'Chorus'}", 0, {NULL}},
    {"save_project", "{}", 0, {NULL}},
    {"get_state", "{}", 0, {NULL}},

    /* missing required */
    {"create_track", "{'name': 'Bass'}", TOOLS_EARGS, {"create_track: ", "missing required argument 'type'"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4}",
     TOOLS_EARGS,
     {"missing required argument 'notes'"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': [{'n': 60, 's': 0}]}",
     TOOLS_EARGS,
     {"notes[0]", "missing required argument 'd'"}},
    {"set_effect_param",
     "{'track_id': 't1', 'effect_index': 1, 'param_index': 1}",
     TOOLS_EARGS,
     {"missing required argument 'value'"}},
    {"set_loop", "{'start': 0}", TOOLS_EARGS, {"set_loop: ", "'end'"}},
    {"set_tempo", "{}", TOOLS_EARGS, {"missing required argument 'bpm'"}},
    {"delete_clip", "{}", TOOLS_EARGS, {"'clip_id'"}},
    /* wrong type */
    {"create_track", "{'name': 42, 'type': 'midi'}", TOOLS_EARGS, {"name must be a string, not an integer"}},
    {"set_track", "{'track_id': 't1', 'mute': 1}", TOOLS_EARGS, {"mute must be a boolean, not an integer"}},
    {"set_track", "{'track_id': 't1', 'pan': 'left'}", TOOLS_EARGS, {"pan must be a number, not a string"}},
    {"set_tempo", "{'bpm': '120'}", TOOLS_EARGS, {"bpm must be a number, not a string"}},
    {"set_tempo", "{'bpm': null}", TOOLS_EARGS, {"bpm must be a number, not null"}},
    {"remove_effect",
     "{'track_id': 't1', 'effect_index': 1.5}",
     TOOLS_EARGS,
     {"effect_index must be an integer, not a number"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': {}}",
     TOOLS_EARGS,
     {"notes must be an array, not an object"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': [60]}",
     TOOLS_EARGS,
     {"notes[0] must be an object"}},
    {"add_effect",
     "{'track_id': 't1', 'effect_name': 'X', 'params': []}",
     TOOLS_EARGS,
     {"params must be an object, not an array"}},
    {"set_effect_enabled",
     "{'track_id': 't1', 'effect_index': 1, 'enabled': 'yes'}",
     TOOLS_EARGS,
     {"enabled must be a boolean"}},
    {"delete_track", "{'track_id': ['t1']}", TOOLS_EARGS, {"track_id must be a string, not an array"}},
    /* out of range */
    {"set_track", "{'track_id': 't1', 'pan': 1.5}", TOOLS_EARGS, {"set_track: ", "pan is 1.5", "at most 1"}},
    {"set_track", "{'track_id': 't1', 'pan': -1.01}", TOOLS_EARGS, {"pan is -1.01", "at least -1"}},
    {"set_track", "{'track_id': 't1', 'volume_db': 13}", TOOLS_EARGS, {"volume_db is 13", "at most 12"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': [{'n': 60, 's': 0, 'd': 1, 'v': 0}]}",
     TOOLS_EARGS,
     {"notes[0].v is 0", "at least 1"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': [{'n': 60, 's': 0, 'd': 1}, {'n': 128, 's': 0, 'd': "
     "1}]}",
     TOOLS_EARGS,
     {"notes[1].n is 128", "at most 127"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': [{'n': 60, 's': 0, 'd': 0}]}",
     TOOLS_EARGS,
     {"notes[0].d is 0", "greater than 0"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 0, 'notes': []}",
     TOOLS_EARGS,
     {"duration is 0", "greater than 0"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': -1, 'duration': 4, 'notes': []}",
     TOOLS_EARGS,
     {"start_time is -1", "at least 0"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 100001, 'notes': []}",
     TOOLS_EARGS,
     {"duration", "at most 100000"}},
    {"set_tempo", "{'bpm': 19}", TOOLS_EARGS, {"set_tempo: bpm is 19; it must be at least 20"}},
    {"set_tempo", "{'bpm': 1000}", TOOLS_EARGS, {"bpm is 1000; it must be at most 999"}},
    {"set_effect_param",
     "{'track_id': 't1', 'effect_index': 1, 'param_index': 1, 'value': 1.2}",
     TOOLS_EARGS,
     {"value is 1.2", "at most 1"}},
    {"set_effect_param",
     "{'track_id': 't1', 'effect_index': 0, 'param_index': 1, 'value': 0.5}",
     TOOLS_EARGS,
     {"effect_index is 0"}},
    {"edit_clip", "{'clip_id': 'c1', 'transpose': 49}", TOOLS_EARGS, {"transpose is 49", "at most 48"}},
    {"edit_clip", "{'clip_id': 'c1', 'quantize': 0}", TOOLS_EARGS, {"quantize is 0", "greater than 0"}},
    {"set_loop", "{'start': 0, 'end': 0}", TOOLS_EARGS, {"end is 0", "greater than 0"}},
    {"add_marker", "{'position': -4, 'name': 'A'}", TOOLS_EARGS, {"position is -4"}},
    /* strings */
    {"create_track", "{'name': '', 'type': 'midi'}", TOOLS_EARGS, {"name must not be empty"}},
    {"set_track", "{'track_id': '', 'mute': true}", TOOLS_EARGS, {"track_id must not be empty"}},
    {"add_marker",
     "{'position': 0, 'name': "
     "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxx'}",
     TOOLS_EARGS,
     {"name is longer than 128 characters"}},
    /* enums */
    {"create_track", "{'name': 'B', 'type': 'bus'}", TOOLS_EARGS, {"type must be one of", "midi", "audio"}},
    {"transport", "{'action': 'pause'}", TOOLS_EARGS, {"transport: action must be one of", "play", "rewind"}},
    {"transport", "{'action': 'PLAY'}", TOOLS_EARGS, {"action must be one of"}},
    {"transport", "{'action': 1}", TOOLS_EARGS, {"action must be a string"}},
    /* unknown arguments, with the expected list */
    {"set_track",
     "{'track_id': 't1', 'volume': -6}",
     TOOLS_EARGS,
     {"set_track: unknown argument 'volume'",
      "expected: ", "track_id, volume_db, pan, mute, solo, rec_arm, selected, name"}},
    {"set_tempo", "{'bpm': 120, 'tempo': 120}", TOOLS_EARGS, {"unknown argument 'tempo' (expected: bpm)"}},
    {"save_project", "{'path': 'x'}", TOOLS_EARGS, {"unknown argument 'path'"}},
    {"create_midi_clip",
     "{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': [], 'velocity': 100}",
     TOOLS_EARGS,
     {"unknown argument 'velocity'"}},
    /* nothing to change */
    {"set_track", "{'track_id': 't1'}", TOOLS_EARGS, {"set_track: ", "nothing to change"}},
    /* every problem at once (vocab_check_all), joined by "; " */
    {"set_track",
     "{'track_id': 't1', 'pan': 3, 'mute': 1}",
     TOOLS_EARGS,
     {"set_track: pan is 3; it must be at most 1 (range -1 to 1); mute must be a boolean, not an integer: 1"}},
    /* not an object */
    {"set_tempo", "[120]", TOOLS_EARGS, {"set_tempo: arguments must be a JSON object"}},
    {"get_state", "null", TOOLS_EARGS, {"arguments must be a JSON object"}},
};

static void test_tools_check_arguments_table(void **state) {
  const tools_t *t = *state;
  for (size_t i = 0; i < sizeof arg_cases / sizeof *arg_cases; i++) {
    const struct arg_case *c = &arg_cases[i];
    json_t *args = J(c->args);
    char err[512] = "";
    int rc = tools_check(t, c->tool, args, NULL, err, sizeof err);
    if (rc != c->rc) fail_msg("%s %s: rc %d, expected %d (%s)", c->tool, c->args, rc, c->rc, err);
    for (int k = 0; k < 3 && c->msg[k]; k++)
      if (!strstr(err, c->msg[k])) fail_msg("%s %s: message '%s' lacks '%s'", c->tool, c->args, err, c->msg[k]);
    if (rc && strchr(err, '\n')) fail_msg("%s: message is not one line: %s", c->tool, err);
    json_decref(args);
  }
}

static void test_tools_check_limits(void **state) {
  const tools_t *t = *state;
  /* maxItems: 200,000 notes pass (bulk clips, issue 11), 200,001 do not */
  json_t *args = J("{'track_id': 't1', 'start_time': 0, 'duration': 4, 'notes': []}");
  json_t *notes = json_object_get(args, "notes");
  for (int i = 0; i < 200000; i++) json_array_append_new(notes, json_pack("{sisfsf}", "n", 60, "s", 0.0, "d", 1.0));
  char err[512] = "";
  assert_int_equal(tools_check(t, "create_midi_clip", args, NULL, err, sizeof err), 0);
  json_array_append_new(notes, json_pack("{sisfsf}", "n", 60, "s", 0.0, "d", 1.0));
  assert_int_equal(tools_check(t, "create_midi_clip", args, NULL, err, sizeof err), TOOLS_EARGS);
  assert_non_null(strstr(err, "notes has 200001 items; at most 200000"));
  json_decref(args);

  /* a tiny message buffer truncates but stays a string */
  args = J("{'bpm': 5}");
  char small[8];
  memset(small, 'x', sizeof small);
  assert_int_equal(tools_check(t, "set_tempo", args, NULL, small, sizeof small), TOOLS_EARGS);
  assert_true(memchr(small, 0, sizeof small) != NULL);
  assert_int_equal(tools_check(t, "set_tempo", args, NULL, NULL, 0), TOOLS_EARGS);
  json_decref(args);
}

static void test_tools_unknown_tool_suggests(void **state) {
  const tools_t *t = *state;
  json_t *args = J("{'bpm': 120}");
  char err[512] = "";
  assert_int_equal(tools_check(t, "set_tmpo", args, NULL, err, sizeof err), TOOLS_EUNKNOWN);
  assert_non_null(strstr(err, "unknown tool 'set_tmpo'"));
  assert_non_null(strstr(err, "did you mean set_tempo"));

  assert_int_equal(tools_check(t, "qqqqqqqqqqqqqqqqqqqqq", args, NULL, err, sizeof err), TOOLS_EUNKNOWN);
  assert_non_null(strstr(err, "unknown tool 'qqqqqqqqqqqqqqqqqqqqq'"));
  assert_null(strstr(err, "did you mean"));
  assert_int_equal(tools_check(t, NULL, args, NULL, err, sizeof err), TOOLS_EUNKNOWN);
  json_decref(args);

  struct {
    const char *in, *want;
  } s[] = {
      {"set_tmpo", "set_tempo"},
      {"transprot", "transport"},
      {"create_trak", "create_track"},
      {"get_stat", "get_state"},
      {"set_effect_parm", "set_effect_param"},
      {"add_efect", "add_effect"},
      {"marker", "add_marker"},
      {"save", "save_project"},
      {"set_tempo", "set_tempo"},
      {"delete_clips", "delete_clip"},
  };
  for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
    const char *got = tools_suggest(t, s[i].in);
    if (!got || strcmp(got, s[i].want))
      fail_msg("suggest(%s) = %s, expected %s", s[i].in, got ? got : "(none)", s[i].want);
  }
  assert_null(tools_suggest(t, "make me a sandwich please"));
  assert_null(
      tools_suggest(t, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
}

static void test_tools_unknown_track_with_session(void **state) {
  const tools_t *t = *state;
  session_t *s = session_new("reaper");
  struct session_update u = {.field = SF_TRACK_COUNT, .num = 2};
  assert_int_equal(session_apply(s, &u, NULL, 0), 0);
  u = (struct session_update){.field = SF_TRACK_NAME, .index = 1, .str = "Drums"};
  assert_int_equal(session_apply(s, &u, NULL, 0), 0);
  u = (struct session_update){.field = SF_TRACK_HOST_ID, .index = 2, .str = "{GUID}"};
  assert_int_equal(session_apply(s, &u, NULL, 0), 0);

  struct {
    const char *tool, *args;
    int rc;
  } cases[] = {
      {"set_track", "{'track_id': 't1', 'mute': true}", 0},
      {"set_track", "{'track_id': 't2', 'mute': true}", 0},
      {"set_track", "{'track_id': 'Drums', 'mute': true}", 0},
      {"set_track", "{'track_id': 'drums', 'mute': true}", 0},
      {"set_track", "{'track_id': '{GUID}', 'mute': true}", 0},
      {"set_track", "{'track_id': 't9', 'mute': true}", TOOLS_ENOTRACK},
      {"delete_track", "{'track_id': 'Bass'}", TOOLS_ENOTRACK},
      {"add_effect", "{'track_id': 't3', 'effect_name': 'ReaEQ'}", TOOLS_ENOTRACK},
      {"set_tempo", "{'bpm': 100}", 0},        /* no track reference */
      {"delete_clip", "{'clip_id': 'c9'}", 0}, /* clip ids are not checked against the session */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    json_t *args = J(cases[i].args);
    char err[512] = "";
    int rc = tools_check(t, cases[i].tool, args, s, err, sizeof err);
    if (rc != cases[i].rc) fail_msg("%s %s: rc %d (%s)", cases[i].tool, cases[i].args, rc, err);
    if (rc == TOOLS_ENOTRACK) {
      if (!strstr(err, "unknown track '")) fail_msg("message '%s'", err);
      if (!strstr(err, "2 tracks")) fail_msg("message '%s' does not give the track count", err);
      if (strncmp(err, cases[i].tool, strlen(cases[i].tool))) fail_msg("message '%s' does not name the tool", err);
    }
    /* without a session the same arguments pass */
    assert_int_equal(tools_check(t, cases[i].tool, args, NULL, err, sizeof err), 0);
    json_decref(args);
  }
  /* schema errors come before reference errors */
  json_t *args = J("{'track_id': 't9'}");
  char err[512] = "";
  assert_int_equal(tools_check(t, "set_track", args, s, err, sizeof err), TOOLS_EARGS);
  json_decref(args);
  session_free(s);
}

static void test_tools_subset(void **state) {
  const tools_t *t = *state;
  json_t *names = J("['transport', 'set_tempo', 'nope', 5, 'transport']");
  json_t *sub = tools_subset(t, names);
  assert_int_equal(json_array_size(sub), 2);
  /* catalog order, each once, the same descriptors */
  assert_string_equal(json_string_value(json_object_get(json_array_get(sub, 0), "name")), "set_tempo");
  assert_string_equal(json_string_value(json_object_get(json_array_get(sub, 1), "name")), "transport");
  assert_ptr_equal(json_array_get(sub, 0), tools_get(t, "set_tempo"));
  json_decref(sub);
  json_decref(names);

  names = J("[]");
  sub = tools_subset(t, names);
  assert_int_equal(json_array_size(sub), 0);
  json_decref(sub);
  json_decref(names);

  sub = tools_subset(t, NULL);
  assert_true(json_is_array(sub));
  assert_int_equal(json_array_size(sub), 0);
  json_decref(sub);

  names = json_array();
  for (size_t i = 0; i < sizeof all_tools / sizeof *all_tools; i++)
    json_array_append_new(names, json_string(all_tools[i]));
  sub = tools_subset(t, names);
  assert_true(json_equal(sub, (json_t *)tools_catalog(t)));
  json_decref(sub);
  json_decref(names);

  /* the catalog is not modified by a subset's owner dropping it */
  assert_int_equal(json_array_size(tools_catalog(t)), VOCAB__COUNT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tools_catalog_loads),
      cmocka_unit_test(test_tools_catalog_covers_dialect_maps),
      cmocka_unit_test(test_tools_load_errors),
      cmocka_unit_test(test_tools_check_arguments_table),
      cmocka_unit_test(test_tools_check_limits),
      cmocka_unit_test(test_tools_unknown_tool_suggests),
      cmocka_unit_test(test_tools_unknown_track_with_session),
      cmocka_unit_test(test_tools_subset),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
