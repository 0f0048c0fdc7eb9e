/* test_instruments: the reference request end to end in both dialects — the plan step
 * {"tool":"create_track","args":{"name":"Kick Drum","type":"midi","instrument":"kick"}}, a clip with exact notes and
 * a reverb, run by the agent's direct executor against the embedded mock DAW with its companion. What the DAW holds
 * is checked in the mock's own state dump: the track's instrument is the DAW's real drum plugin (resolved from
 * osc-maps/instruments/, loaded by the companion, never the role), the clip's notes are exactly the plan's, the
 * reverb is in the FX chain, and every step is confirmed. Also: an unknown role runs on the default instrument
 * with a warning in the response; a plugin the DAW does not have is refused before anything is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "mock_embed.h"
#include "llm.h"

#include "agent_fixture.h"

/* The demo session (Drums, Bass, Vocals) on dialect; script (borrowed): a scripted model for the LLM executor,
 * NULL: no model, the direct executor. */
static void fx_open_llm(struct fx *f, const char *dialect, json_t *script) {
  struct fx_opts o = {
      .dialect = dialect, .tracks = -1, .script = script, .executor = script ? AGENT_EXEC_LLM : AGENT_EXEC_DIRECT};
  if (fx_open(f, &o)) fail_msg("daw_start: %s", f->start_msg);
}

static void fx_open_demo(struct fx *f, const char *dialect) { fx_open_llm(f, dialect, NULL); }

static void exec_plan(struct fx *f, const char *instrument) {
  char plan[2048];
  snprintf(plan, sizeof plan,
           "**ANALYSIS:** the reference request.\n**PLAN:**\n"
           "Step 1: create_track - a kick drum track\n  - name: Kick Drum\n  - type: midi\n  - instrument: %s\n"
           "Step 2: create_midi_clip - four on the floor\n  - track_id: [track from Step 1]\n  - start_time: 0\n"
           "  - duration: 4\n  - notes: [{n: 36, s: 0, d: 0.5, v: 110}, {n: 36, s: 1, d: 0.5, v: 100}, "
           "{n: 36, s: 2, d: 0.5, v: 110}, {n: 36, s: 3, d: 0.25, v: 90}]\n"
           "Step 3: add_effect - some reverb\n  - track_id: [track from Step 1]\n  - effect_name: reverb\n"
           "**MUSICAL REASONING:** a steady pulse.\n",
           instrument);
  assert_int_equal(agent_exec_plan(f->agent, plan, "reference request"), AGENT_OK);
  run_until(f, &f->done, 120000);
  assert_int_equal(f->done, 1);
}

static void check_all_confirmed(struct fx *f, size_t steps) {
  const json_t *acts = json_object_get(f->resp, "actions_executed");
  assert_int_equal(json_array_size(acts), steps);
  size_t i;
  json_t *x;
  json_array_foreach(acts, i, x) {
    const char *st = json_string_value(json_object_get(json_object_get(x, "result"), "status"));
    if (!st || strcmp(st, "confirmed")) {
      char *d = json_dumps(x, JSON_COMPACT);
      fail_msg("action %zu is not confirmed: %s", i, d);
    }
    const json_t *oc = json_object_get(x, "outcome");
    if (oc) assert_string_equal(json_string_value(oc), "confirmed");
  }
}

struct ref_case {
  const char *dialect, *instrument;
  const char *loaded; /* the real plugin name the mock's state shows (substring) */
  const char *reverb;
  const char *warning; /* in the plan's warnings, or NULL */
};

static void reference_request(const struct ref_case *c) {
  struct fx f;
  fx_open_demo(&f, c->dialect);
  exec_plan(&f, c->instrument);
  if (f.status) fail_msg("%s: status %d: %s", c->dialect, f.status, f.msg);
  check_all_confirmed(&f, 3);
  /* the step's result names the DAW's plugin and the role it played */
  const json_t *r0 = json_object_get(json_array_get(json_object_get(f.resp, "actions_executed"), 0), "result");
  const char *rins = json_string_value(json_object_get(r0, "instrument"));
  assert_non_null(rins);
  assert_non_null(strstr(rins, c->loaded));
  assert_string_equal(json_string_value(json_object_get(json_object_get(r0, "instrument_role"), "role")),
                      c->instrument);
  /* what the DAW holds (the mock's own dump, not the bridge's mirror) */
  json_t *ms = mock_embed_state(f.mock);
  assert_non_null(ms);
  json_t *t = db_test_json_track(ms, "Kick Drum");
  assert_non_null(t);
  assert_string_equal(json_string_value(json_object_get(t, "type")), "midi");
  const char *ins = json_string_value(json_object_get(t, "instrument"));
  if (!ins || !strstr(ins, c->loaded))
    fail_msg("%s: instrument %s, expected %s", c->dialect, ins ? ins : "none", c->loaded);
  json_t *clips = json_object_get(t, "clips");
  assert_int_equal(json_array_size(clips), 1);
  json_t *notes = json_object_get(json_array_get(clips, 0), "notes");
  static const double want[][4] = {{36, 0, 0.5, 110}, {36, 1, 0.5, 100}, {36, 2, 0.5, 110}, {36, 3, 0.25, 90}};
  assert_int_equal(json_array_size(notes), 4);
  for (size_t i = 0; i < 4; i++) {
    json_t *n = json_array_get(notes, i);
    assert_int_equal(json_integer_value(json_object_get(n, "n")), (json_int_t)want[i][0]);
    assert_true(fabs(json_number_value(json_object_get(n, "s")) - want[i][1]) < 1e-6);
    assert_true(fabs(json_number_value(json_object_get(n, "d")) - want[i][2]) < 1e-6);
    assert_int_equal(json_integer_value(json_object_get(n, "v")), (json_int_t)want[i][3]);
  }
  json_t *fx = json_object_get(t, "fx");
  assert_int_equal(json_array_size(fx), 2); /* the instrument, then the reverb */
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(fx, 0), "name")), c->loaded));
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(fx, 1), "name")), c->reverb));
  json_decref(ms);
  /* the mirror's instrument is the real plugin too */
  json_t *mirror = session_to_json(daw_session(f.daw));
  size_t i;
  json_t *mt;
  int seen = 0;
  json_array_foreach(json_object_get(mirror, "tracks"), i, mt) {
    if (strcmp(json_string_value(json_object_get(mt, "name")), "Kick Drum")) continue;
    seen = 1;
    assert_non_null(strstr(json_string_value(json_object_get(mt, "instrument")), c->loaded));
  }
  assert_true(seen);
  json_decref(mirror);
  /* an unknown role: the default instrument, and the warning is in the response */
  char *pw = json_dumps(json_object_get(json_object_get(f.resp, "plan"), "warnings"), JSON_COMPACT);
  if (c->warning) {
    assert_non_null(strstr(pw, c->warning));
    assert_non_null(strstr(json_string_value(json_object_get(r0, "warning")), c->warning));
  } else {
    assert_null(strstr(pw, "instrument"));
    assert_null(json_object_get(r0, "warning"));
  }
  free(pw);
  fx_close(&f);
}

static void test_instruments_reference_request_reaper(void **state) {
  (void)state;
  struct ref_case c = {"reaper", "kick", "ReaSynDr", "ReaVerbate", NULL};
  reference_request(&c);
}

static void test_instruments_reference_request_ardour(void **state) {
  (void)state;
  struct ref_case c = {"ardour", "kick", "Black Pearl Drumkit", "ACE Reverb", NULL};
  reference_request(&c);
}

static void test_instruments_unknown_role_uses_default_with_warning(void **state) {
  (void)state;
  struct ref_case r = {"reaper", "zorblax", "ReaSynth", "ReaVerbate",
                       "unknown instrument role 'zorblax': using ReaSynth"};
  reference_request(&r);
  struct ref_case a = {"ardour", "zorblax", "ACE Reasonable Synth", "ACE Reverb",
                       "unknown instrument role 'zorblax': using ACE Reasonable Synth"};
  reference_request(&a);
}

/* a named plugin the DAW does not have: the plan is refused with the available instruments, nothing is sent */
static void test_instruments_uninstalled_plugin_refused(void **state) {
  (void)state;
  struct fx f;
  fx_open_demo(&f, "ardour");
  exec_plan(&f, "Serum");
  assert_int_not_equal(f.status, AGENT_OK);
  char *d = json_dumps(f.resp, JSON_COMPACT);
  assert_non_null(strstr(d, "instrument plugin \\\"Serum\\\" is not installed in ardour; available instruments: "
                            "ACE Reasonable Synth, Black Pearl Drumkit"));
  free(d);
  json_t *ms = mock_embed_state(f.mock);
  assert_null(db_test_json_track(ms, "Kick Drum"));
  json_decref(ms);
  fx_close(&f);
}

/* daw_call directly: the companion's reply without an instrument where one was asked is a failed step */
static void on_call(int status, const json_t *result, const char *message, void *data) {
  struct fx *f = data;
  (void)result;
  f->done++;
  f->status = status;
  snprintf(f->msg, sizeof f->msg, "%s", message ? message : "");
}

static void on_call_keep(int status, const json_t *result, const char *message, void *data) {
  struct fx *f = data;
  f->done++;
  f->status = status;
  json_decref(f->resp);
  f->resp = result ? json_deep_copy(result) : NULL;
  snprintf(f->msg, sizeof f->msg, "%s", message ? message : "");
}

static void test_instruments_create_track_reports_loaded_plugin(void **state) {
  (void)state;
  struct fx f;
  fx_open_demo(&f, "reaper");
  /* a GM program name: a ReaSynth shaped as a pad (the mock's ReaSynth has Attack, Saw mix, ...) */
  json_t *args = json_pack("{s:s,s:s,s:s}", "name", "Pad", "type", "midi", "instrument", "Pad 2 (warm)");
  assert_int_equal(daw_call(f.daw, "create_track", args, on_call, &f), 0);
  run_until(&f, &f.done, 30000);
  assert_int_equal(f.status, 0);
  json_decref(args);
  json_t *ms = mock_embed_state(f.mock);
  json_t *t = db_test_json_track(ms, "Pad");
  assert_non_null(t);
  assert_non_null(strstr(json_string_value(json_object_get(t, "instrument")), "ReaSynth"));
  /* the family's parameters were set on the plugin: Attack 0.6 for a pad */
  json_t *params = json_object_get(json_array_get(json_object_get(t, "fx"), 0), "params");
  size_t i;
  json_t *p;
  int attack = 0;
  json_array_foreach(params, i, p) {
    if (!strcmp(json_string_value(json_object_get(p, "name")), "Attack")) {
      attack = 1;
      assert_true(fabs(json_number_value(json_object_get(p, "value")) - 0.6) < 1e-6);
    }
  }
  assert_true(attack);
  json_decref(ms);
  /* a plugin name outside the map (e.g. undo re-creating a musician's track): the DAW decides; this one it does
   * not have, so the step fails, saying what the map offers and what the DAW said, and no track is made */
  f.done = 0;
  args = json_pack("{s:s,s:s,s:s}", "name", "X", "type", "midi", "instrument", "VSTi: Serum (Xfer Records)");
  assert_int_equal(daw_call(f.daw, "create_track", args, on_call, &f), 0);
  run_until(&f, &f.done, 30000);
  json_decref(args);
  assert_int_equal(f.status, DAW_EREJECTED);
  assert_non_null(strstr(f.msg, "not installed in reaper; available instruments: ReaSynth"));
  assert_non_null(strstr(f.msg, "(the DAW: "));
  ms = mock_embed_state(f.mock);
  assert_null(db_test_json_track(ms, "X"));
  json_decref(ms);
  fx_close(&f);
}

/* your own map ($DAWBRIDGE_MAPS/instruments/): the first plugin of the sound is not on the host -> the next one is
 * loaded and the result says so; none of them on the host -> the step fails and no track is left behind */
static void write_json(const char *path, json_t *j) { assert_int_equal(json_dump_file(j, path, JSON_INDENT(1)), 0); }

static void test_instruments_user_map_fallback_and_refusal(void **state) {
  (void)state;
  const char *src = db_test_source_dir();
  char dir[256], sub[300], path[1024];
  snprintf(dir, sizeof dir, "/tmp/dawbridge-test-instmap-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(sub, sizeof sub, "%s/instruments", dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  snprintf(path, sizeof path, "%s/osc-maps/instruments/roles.json", src);
  json_t *roles = json_load_file(path, 0, NULL);
  snprintf(path, sizeof path, "%s/osc-maps/instruments/reaper.json", src);
  json_t *daw = json_load_file(path, 0, NULL);
  assert_non_null(roles);
  assert_non_null(daw);
  /* a user's kit first for drums, and a sound whose only plugin the host does not have */
  json_array_append_new(json_object_get(daw, "plugins"), json_pack("{s:s,s:[]}", "name", "My Kit", "aliases"));
  json_array_insert_new(json_object_get(json_object_get(json_object_get(daw, "sounds"), "drums"), "plugins"), 0,
                        json_string("My Kit"));
  json_object_set_new(json_object_get(daw, "sounds"), "laser", json_pack("{s:[s]}", "plugins", "My Kit"));
  json_array_remove(json_object_get(daw, "plugins"), 2); /* ReaSamplOmatic5000: now outside the map */
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(daw, "plugins"), 1), "name")),
                      "ReaSynDr");
  snprintf(path, sizeof path, "%s/reaper.json", sub);
  write_json(path, daw);
  snprintf(path, sizeof path, "%s/roles.json", sub);
  write_json(path, roles);
  json_decref(daw);
  json_decref(roles);
  setenv("DAWBRIDGE_MAPS", dir, 1);
  struct fx f;
  fx_open_demo(&f, "reaper");
  json_t *args = json_pack("{s:s,s:s,s:s}", "name", "Kick Drum", "type", "midi", "instrument", "kick");
  json_t *res = NULL;
  f.done = 0;
  assert_int_equal(daw_call(f.daw, "create_track", args, on_call_keep, &f), 0);
  run_until(&f, &f.done, 30000);
  json_decref(args);
  if (f.status) fail_msg("create_track: %s", f.msg);
  res = f.resp;
  assert_non_null(strstr(json_string_value(json_object_get(res, "instrument")), "ReaSynDr"));
  assert_string_equal(json_string_value(json_object_get(res, "warning")),
                      "instrument 'kick': My Kit is not available in the DAW, loaded VSTi: ReaSynDr (Cockos) instead");
  /* a host-style plugin name outside the map: loaded by name when the DAW has it, with a warning */
  args = json_pack("{s:s,s:s,s:s}", "name", "Sampler", "type", "midi", "instrument", "ReaSamplOmatic5000 (Cockos)");
  f.done = 0;
  assert_int_equal(daw_call(f.daw, "create_track", args, on_call_keep, &f), 0);
  run_until(&f, &f.done, 30000);
  json_decref(args);
  if (f.status) fail_msg("create_track by name: %s", f.msg);
  assert_non_null(strstr(json_string_value(json_object_get(f.resp, "instrument")), "ReaSamplOmatic5000"));
  assert_non_null(strstr(json_string_value(json_object_get(f.resp, "warning")), "not in this DAW's instrument map"));
  /* only "My Kit": the host refuses, the step fails, no track */
  args = json_pack("{s:s,s:s,s:s}", "name", "Zap", "type", "midi", "instrument", "laser");
  f.done = 0;
  assert_int_equal(daw_call(f.daw, "create_track", args, on_call_keep, &f), 0);
  run_until(&f, &f.done, 30000);
  json_decref(args);
  assert_int_not_equal(f.status, 0);
  assert_non_null(strstr(f.msg, "no instrument plugin named My Kit"));
  json_t *ms = mock_embed_state(f.mock);
  assert_null(db_test_json_track(ms, "Zap"));
  json_decref(ms);
  fx_close(&f);
  unsetenv("DAWBRIDGE_MAPS");
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* stage 2 (the model) calls create_track with the DAW's plugin for the plan's role ("kick" -> ReaSynDr): the
 * same step, executed and confirmed, not refused as outside the plan; a different sound would be refused */
static void stage2_case(const char *call_instrument, int want_ok) {
  const char *src = db_test_source_dir();
  char path[1024];
  snprintf(path, sizeof path, "%s/examples/demo-transcript.json", src);
  json_t *tr = json_load_file(path, 0, NULL);
  assert_non_null(tr);
  json_t *call = json_array_get(json_object_get(json_array_get(json_object_get(tr, "responses"), 1), "tool_calls"), 0);
  json_t *cargs = json_object_get(call, "arguments");
  assert_string_equal(json_string_value(json_object_get(cargs, "instrument")), "kick");
  json_object_set_new(cargs, "instrument", json_string(call_instrument));
  struct fx f;
  fx_open_llm(&f, "reaper", tr);
  json_decref(tr);
  assert_int_equal(agent_ask(f.agent, "Add a kick drum track with a two-note pattern and some reverb"), AGENT_OK);
  run_until(&f, &f.done, 120000);
  assert_int_equal(f.done, 1);
  const json_t *a0 = json_array_get(json_object_get(f.resp, "actions_executed"), 0);
  char *d = json_dumps(a0, JSON_COMPACT);
  print_message("stage 2 create_track with %s: %s\n", call_instrument, d);
  free(d);
  if (want_ok) {
    assert_null(json_object_get(a0, "refused"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(a0, "result"), "status")), "confirmed");
    json_t *ms = mock_embed_state(f.mock);
    json_t *t = db_test_json_track(ms, "Kick Drum");
    assert_non_null(t);
    assert_non_null(strstr(json_string_value(json_object_get(t, "instrument")), "ReaSynDr"));
    json_decref(ms);
  } else {
    json_t *ms = mock_embed_state(f.mock);
    json_t *t = db_test_json_track(ms, "Kick Drum");
    /* never a track with the other sound */
    if (t) assert_null(strstr(json_string_value(json_object_get(t, "instrument")), "ReaSynth"));
    json_decref(ms);
  }
  fx_close(&f);
}

static void test_instruments_stage2_plugin_for_role_is_the_plan_step(void **state) {
  (void)state;
  stage2_case("ReaSynDr", 1);
  stage2_case("pad", 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_instruments_reference_request_reaper),
      cmocka_unit_test(test_instruments_reference_request_ardour),
      cmocka_unit_test(test_instruments_unknown_role_uses_default_with_warning),
      cmocka_unit_test(test_instruments_uninstalled_plugin_refused),
      cmocka_unit_test(test_instruments_create_track_reports_loaded_plugin),
      cmocka_unit_test(test_instruments_user_map_fallback_and_refusal),
      cmocka_unit_test(test_instruments_stage2_plugin_for_role_is_the_plan_step),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
