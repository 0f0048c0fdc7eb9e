/* test_instmap: instrument roles resolved per DAW from osc-maps/instruments/ (the real data files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instmap.h"

static const char *srcdir(void) {
  const char *s = getenv("DAWBRIDGE_SOURCE_DIR");
  return s && *s ? s : DAWBRIDGE_SOURCE_DIR;
}

static instmap_t *load(const char *dialect) {
  char dp[1024], rp[1024], err[512] = "";
  snprintf(dp, sizeof dp, "%s/osc-maps/instruments/%s.json", srcdir(), dialect);
  snprintf(rp, sizeof rp, "%s/osc-maps/instruments/roles.json", srcdir());
  instmap_t *m = NULL;
  int rc = instmap_load(dp, rp, &m, err, sizeof err);
  if (rc) print_error("%s\n", err);
  assert_int_equal(rc, INSTMAP_OK);
  return m;
}

struct role_case {
  const char *dialect, *word;
  const char *plugin; /* first candidate */
  const char *kind;   /* plugin | role | default */
  int program;        /* 0 = absent */
  int channel;        /* 0 = absent */
  int drum_note;      /* -1 = absent */
};

static const struct role_case role_cases[] = {
    /* the reference request and drum pieces: the DAW's drum instrument, GM channel 10, the GM note */
    {"reaper", "kick", "ReaSynDr", "role", 0, 10, 36},
    {"ardour", "kick", "Black Pearl Drumkit", "role", 0, 10, 36},
    {"reaper", "Kick Drum", "ReaSynDr", "role", 0, 10, 36},
    {"reaper", "snare", "ReaSynDr", "role", 0, 10, 38},
    {"ardour", "hi-hat", "Black Pearl Drumkit", "role", 0, 10, 42},
    {"reaper", "open hat", "ReaSynDr", "role", 0, 10, 46},
    {"ardour", "clap", "Black Pearl Drumkit", "role", 0, 10, 39},
    {"reaper", "crash", "ReaSynDr", "role", 0, 10, 49},
    {"ardour", "ride", "Black Pearl Drumkit", "role", 0, 10, 51},
    {"reaper", "tom", "ReaSynDr", "role", 0, 10, 45},
    {"ardour", "808", "Black Pearl Drumkit", "role", 0, 10, 36},
    {"reaper", "drums", "ReaSynDr", "role", 0, 10, 36},
    {"ardour", "Drum Kit", "Black Pearl Drumkit", "role", 0, 10, 36},
    {"reaper", "Acoustic Snare", "ReaSynDr", "role", 0, 10, 38},
    {"reaper", "percussion", "ReaSynDr", "role", 0, 10, 36},
    /* producer words and GM programs by word, by name and by family */
    {"reaper", "bass", "ReaSynth", "role", 34, 0, -1},
    {"ardour", "bass", "ACE Reasonable Synth", "role", 34, 0, -1},
    {"reaper", "sub", "ReaSynth", "role", 39, 0, -1},
    {"reaper", "sub bass", "ReaSynth", "role", 39, 0, -1},
    {"reaper", "piano", "ReaSynth", "role", 1, 0, -1},
    {"reaper", "keys", "ReaSynth", "role", 5, 0, -1},
    {"ardour", "rhodes", "ACE Reasonable Synth", "role", 5, 0, -1},
    {"reaper", "pad", "ReaSynth", "role", 90, 0, -1},
    {"reaper", "lead", "ReaSynth", "role", 81, 0, -1},
    {"reaper", "pluck", "ReaSynth", "role", 46, 0, -1},
    {"ardour", "bells", "ACE Reasonable Synth", "role", 15, 0, -1},
    {"reaper", "choir", "ReaSynth", "role", 53, 0, -1},
    {"reaper", "brass", "ReaSynth", "role", 62, 0, -1},
    {"ardour", "strings", "ACE Reasonable Synth", "role", 49, 0, -1},
    {"reaper", "String", "ReaSynth", "role", 49, 0, -1},
    {"reaper", "Electric Piano 2", "ReaSynth", "role", 6, 0, -1},
    {"reaper", "Lead 2 (sawtooth)", "ReaSynth", "role", 82, 0, -1},
    {"reaper", "Gunshot", "ReaSynth", "role", 128, 0, -1},
    {"ardour", "synth pad", "ACE Reasonable Synth", "role", 90, 0, -1},
    {"reaper", "chromatic percussion", "ReaSynth", "role", 9, 0, -1},
    {"reaper", "warm analog pad", "ReaSynth", "role", 90, 0, -1},
    {"reaper", "deep sub bass", "ReaSynth", "role", 39, 0, -1},
    {"ardour", "funky slap bass", "ACE Reasonable Synth", "role", 37, 0, -1},
    /* named plugins of the DAW (any spelling the host uses) */
    {"reaper", "ReaSynth", "ReaSynth", "plugin", 0, 0, -1},
    {"reaper", "VSTi: ReaSynth (Cockos)", "ReaSynth", "plugin", 0, 0, -1},
    {"reaper", "rs5k", "ReaSamplOmatic5000", "plugin", 0, 0, -1},
    {"ardour", "ACE Fluid Synth", "ACE Fluid Synth", "plugin", 0, 0, -1},
    {"ardour", "LV2: ACE Reasonable Synth", "ACE Reasonable Synth", "plugin", 0, 0, -1},
    {"ardour", "avldrums", "Black Pearl Drumkit", "plugin", 0, 0, -1},
    /* unknown roles: the default instrument, never a refusal */
    {"reaper", "zorblax", "ReaSynth", "default", 0, 0, -1},
    {"ardour", "something shiny", "ACE Reasonable Synth", "default", 0, 0, -1},
};

static void test_instmap_resolves_roles_per_daw(void **state) {
  (void)state;
  instmap_t *rm = load("reaper"), *am = load("ardour");
  for (size_t i = 0; i < sizeof role_cases / sizeof role_cases[0]; i++) {
    const struct role_case *c = &role_cases[i];
    json_t *o = NULL;
    char msg[512];
    int rc = instmap_resolve(!strcmp(c->dialect, "reaper") ? rm : am, c->word, &o, msg, sizeof msg);
    print_message("%s %-24s -> %s\n", c->dialect, c->word, o ? json_string_value(json_object_get(o, "plugin")) : msg);
    assert_int_equal(rc, INSTMAP_OK);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "plugin")), c->plugin);
    assert_string_equal(json_string_value(json_object_get(o, "kind")), c->kind);
    assert_string_equal(json_string_value(json_object_get(o, "role")), c->word);
    assert_int_equal(json_integer_value(json_object_get(o, "program")), c->program);
    assert_int_equal(json_integer_value(json_object_get(o, "channel")), c->channel);
    if (c->drum_note >= 0)
      assert_int_equal(json_integer_value(json_object_get(o, "drum_note")), c->drum_note);
    else
      assert_null(json_object_get(o, "drum_note"));
    /* the candidates start with the plugin; a warning exactly for the default */
    assert_string_equal(json_string_value(json_array_get(json_object_get(o, "candidates"), 0)), c->plugin);
    if (!strcmp(c->kind, "default")) {
      char want[256];
      snprintf(want, sizeof want, "unknown instrument role '%s': using %s", c->word, c->plugin);
      assert_string_equal(msg, want);
      assert_string_equal(json_string_value(json_object_get(o, "warning")), want);
    } else {
      assert_string_equal(msg, "");
      assert_null(json_object_get(o, "warning"));
    }
    json_decref(o);
  }
  instmap_free(rm);
  instmap_free(am);
}

/* every GM program name and every GM drum note name resolves, to its own program / note, in both DAWs */
static void test_instmap_covers_all_gm_programs_and_drums(void **state) {
  (void)state;
  const char *dl[] = {"reaper", "ardour"};
  char rp[1024];
  snprintf(rp, sizeof rp, "%s/osc-maps/instruments/roles.json", srcdir());
  json_t *roles = json_load_file(rp, 0, NULL);
  assert_non_null(roles);
  for (int d = 0; d < 2; d++) {
    instmap_t *m = load(dl[d]);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(roles, "programs"), i, p) {
      json_t *o = NULL;
      assert_int_equal(instmap_resolve(m, json_string_value(json_object_get(p, "name")), &o, NULL, 0), INSTMAP_OK);
      assert_string_equal(json_string_value(json_object_get(o, "kind")), "role");
      assert_int_equal(json_integer_value(json_object_get(o, "program")), (json_int_t)i + 1);
      assert_string_equal(json_string_value(json_object_get(o, "sound")),
                          json_string_value(json_object_get(p, "family")));
      json_decref(o);
    }
    assert_int_equal(i, 128);
    json_array_foreach(json_object_get(roles, "drum_notes"), i, p) {
      json_t *o = NULL;
      assert_int_equal(instmap_resolve(m, json_string_value(json_object_get(p, "name")), &o, NULL, 0), INSTMAP_OK);
      assert_string_equal(json_string_value(json_object_get(o, "sound")), "drums");
      assert_int_equal(json_integer_value(json_object_get(o, "drum_note")),
                       json_integer_value(json_object_get(p, "note")));
      assert_int_equal(json_integer_value(json_object_get(o, "channel")), 10);
      json_decref(o);
    }
    instmap_free(m);
  }
  json_decref(roles);
}

static void test_instmap_named_plugin_not_installed_lists_available(void **state) {
  (void)state;
  struct {
    const char *dialect, *word, *want;
  } cases[] = {
      {"reaper", "Serum",
       "instrument plugin \"Serum\" is not installed in reaper; available instruments: ReaSynth, "
       "ReaSynDr, ReaSamplOmatic5000"},
      {"reaper", "VST3i: Some Synth (Vendor)", "instrument plugin \"Some Synth (Vendor)\" is not installed in reaper"},
      {"ardour", "General MIDI Synth",
       "instrument plugin \"General MIDI Synth\" is not installed in ardour; available "
       "instruments: ACE Reasonable Synth, Black Pearl Drumkit, Red Zeppelin Drumkit, "
       "ACE Fluid Synth"},
      {"ardour", "Kontakt", "is not installed in ardour"},
      {"reaper", "Foo Synth (Bar Audio)", "instrument plugin \"Foo Synth (Bar Audio)\" is not installed in reaper"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    instmap_t *m = load(cases[i].dialect);
    json_t *o = (json_t *)1;
    char msg[512];
    assert_int_equal(instmap_resolve(m, cases[i].word, &o, msg, sizeof msg), INSTMAP_ENOTFOUND);
    assert_null(o);
    print_message("%s\n", msg);
    assert_non_null(strstr(msg, cases[i].want));
    instmap_free(m);
  }
}

static void test_instmap_sound_carries_params_for_the_plugin(void **state) {
  (void)state;
  instmap_t *m = load("reaper");
  json_t *o = NULL;
  assert_int_equal(instmap_resolve(m, "pad", &o, NULL, 0), INSTMAP_OK);
  json_t *pa = json_object_get(o, "params");
  assert_true(json_is_object(pa));
  assert_true(json_number_value(json_object_get(pa, "Attack")) > 0.3); /* a pad swells in */
  /* aliases: the plugin's own spellings, then the next candidates */
  json_decref(o);
  assert_int_equal(instmap_resolve(m, "kick", &o, NULL, 0), INSTMAP_OK);
  json_t *al = json_object_get(o, "aliases");
  int saw_fallback = 0;
  size_t i;
  json_t *a;
  json_array_foreach(al, i, a) if (!strcmp(json_string_value(a), "ReaSynth")) saw_fallback = 1;
  assert_true(saw_fallback);
  json_decref(o);
  json_t *cat = instmap_catalog(m);
  assert_int_equal(json_array_size(cat), 3);
  assert_string_equal(json_string_value(json_object_get(json_array_get(cat, 0), "name")), "ReaSynth");
  json_decref(cat);
  instmap_free(m);
}

/* malformed maps are refused with the file, the key and the problem */
static void test_instmap_rejects_malformed_maps(void **state) {
  (void)state;
  char dp[1024], rp[1024];
  snprintf(dp, sizeof dp, "%s/osc-maps/instruments/reaper.json", srcdir());
  snprintf(rp, sizeof rp, "%s/osc-maps/instruments/roles.json", srcdir());
  json_t *daw0 = json_load_file(dp, 0, NULL), *roles0 = json_load_file(rp, 0, NULL);
  assert_non_null(daw0);
  assert_non_null(roles0);
  struct {
    const char *target; /* "daw" or "roles" */
    const char *patch;  /* JSON object merged over the top level (null deletes) */
    const char *want;
  } cases[] = {
      {"daw", "{\"format\": \"x/2\"}", "my.json: format must be \"dawbridge.instruments/1\""},
      {"daw", "{\"plugins\": []}", "my.json: plugins must be a non-empty array"},
      {"daw", "{\"plugins\": [{\"aliases\": []}]}", "my.json: plugins[0].name must be a non-empty string"},
      {"daw", "{\"default\": \"nope\"}", "my.json: default must name one of the sounds"},
      {"daw", "{\"sounds\": {\"synth\": {\"plugins\": [\"Massive\"]}}}",
       "my.json: sounds.synth.plugins[0] is not one of the map's plugins"},
      {"daw", "{\"words\": {\"zap\": \"laser\"}}", "my.json: words.zap must name one of the sounds"},
      {"roles", "{\"words\": {\"piano\": 0}}", "roles.json: words.piano must be a General MIDI program 1..128"},
      {"roles", "{\"drum_channel\": 17}", "roles.json: drum_channel must be a MIDI channel 1..16"},
      {"roles", "{\"programs\": []}", "roles.json: programs must list the 128 General MIDI programs"},
      {"roles", "{\"drum_words\": {\"kick\": 200}}", "roles.json: drum_words.kick must be a MIDI note 0..127"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *daw = json_deep_copy(daw0), *roles = json_deep_copy(roles0);
    json_t *patch = json_loads(cases[i].patch, 0, NULL);
    assert_non_null(patch);
    json_object_update(!strcmp(cases[i].target, "daw") ? daw : roles, patch);
    json_decref(patch);
    instmap_t *m = NULL;
    char err[512] = "";
    assert_int_equal(instmap_load_json(daw, "my.json", roles, "roles.json", &m, err, sizeof err), INSTMAP_EFORMAT);
    assert_null(m);
    print_message("%s\n", err);
    assert_non_null(strstr(err, cases[i].want));
    json_decref(daw);
    json_decref(roles);
  }
  /* a DAW map that leaves out a GM family, or the drum kit */
  json_t *daw = json_deep_copy(daw0);
  json_object_del(json_object_get(daw, "sounds"), "organ");
  instmap_t *m = NULL;
  char err[512];
  assert_int_equal(instmap_load_json(daw, "my.json", roles0, "roles.json", &m, err, sizeof err), INSTMAP_EFORMAT);
  assert_string_equal(err, "my.json: sounds has no entry for the General MIDI family \"organ\"");
  json_object_del(json_object_get(daw, "sounds"), "drums");
  json_object_set_new(json_object_get(daw, "sounds"), "organ", json_pack("{s:[s]}", "plugins", "ReaSynth"));
  assert_int_equal(instmap_load_json(daw, "my.json", roles0, "roles.json", &m, err, sizeof err), INSTMAP_EFORMAT);
  assert_string_equal(err, "my.json: sounds has no \"drums\" entry (the GM drum kit)");
  json_decref(daw);
  json_decref(daw0);
  json_decref(roles0);
  /* unreadable file */
  assert_int_equal(instmap_load("/nonexistent/x.json", rp, &m, err, sizeof err), INSTMAP_EIO);
  assert_non_null(strstr(err, "/nonexistent/x.json"));
}

static void test_instmap_finds_the_dialect_map(void **state) {
  (void)state;
  instmap_t *m = NULL;
  char err[512];
  assert_int_equal(instmap_load_dialect("ardour", &m, err, sizeof err), INSTMAP_OK);
  assert_string_equal(instmap_dialect(m), "ardour");
  /* the self-contained document resolves the same way */
  json_t *o = NULL;
  assert_int_equal(instmap_resolve_json(instmap_json(m), "kick", &o, NULL, 0), INSTMAP_OK);
  assert_string_equal(json_string_value(json_object_get(o, "plugin")), "Black Pearl Drumkit");
  json_decref(o);
  instmap_free(m);
  assert_int_equal(instmap_load_dialect("nosuchdaw", &m, err, sizeof err), INSTMAP_ENOMAP);
  assert_null(m);
  assert_int_equal(instmap_resolve(NULL, "kick", &o, NULL, 0), INSTMAP_EARG);
}

/* found by fuzz_instmap: a word that is not valid UTF-8 (model noise) still resolves, never "out of memory" */
static void test_instmap_invalid_utf8_word(void **state) {
  (void)state;
  instmap_t *m = load("reaper");
  json_t *o = NULL;
  char msg[512];
  assert_int_equal(instmap_resolve(m, "kick \xff\xfe", &o, msg, sizeof msg), INSTMAP_OK);
  assert_string_equal(json_string_value(json_object_get(o, "plugin")), "ReaSynDr");
  assert_string_equal(json_string_value(json_object_get(o, "role")), "kick ??");
  json_decref(o);
  assert_int_equal(instmap_resolve(m, "\xc3\x28", &o, msg, sizeof msg), INSTMAP_OK);
  assert_string_equal(json_string_value(json_object_get(o, "kind")), "default");
  assert_string_equal(msg, "unknown instrument role '?(': using ReaSynth");
  json_decref(o);
  instmap_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_instmap_resolves_roles_per_daw),
      cmocka_unit_test(test_instmap_covers_all_gm_programs_and_drums),
      cmocka_unit_test(test_instmap_named_plugin_not_installed_lists_available),
      cmocka_unit_test(test_instmap_sound_carries_params_for_the_plugin),
      cmocka_unit_test(test_instmap_rejects_malformed_maps),
      cmocka_unit_test(test_instmap_finds_the_dialect_map),
      cmocka_unit_test(test_instmap_invalid_utf8_word),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
