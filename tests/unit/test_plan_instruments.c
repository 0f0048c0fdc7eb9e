/* test_plan_instruments: the validator treats a plan's instrument as a musical role resolved per DAW by the
 * instrument map (osc-maps/instruments/): never refused; unknown -> a warning naming the default; a plugin name
 * the DAW does not have -> an error listing the available instruments. Tools from vocab/tools.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_test_util.h"
#include "instmap.h"
#include "plan.h"

static json_t *tools(void) {
  char p[1024];
  snprintf(p, sizeof p, "%s/vocab/tools.json", db_test_source_dir());
  json_t *j = json_load_file(p, 0, NULL);
  assert_non_null(j);
  json_t *t = json_incref(json_object_get(j, "tools"));
  json_decref(j);
  return t;
}

/* the catalog as the daw facade builds it (daw_catalog): the instrument map's plugins and the map itself */
static json_t *catalog(const char *dialect, instmap_t **mout) {
  instmap_t *m = NULL;
  char err[512];
  assert_int_equal(instmap_load_dialect(dialect, &m, err, sizeof err), INSTMAP_OK);
  json_t *c = json_pack("{s:o,s:[{s:s,s:[s]}],s:O}", "instruments", instmap_catalog(m), "effects", "name",
                        !strcmp(dialect, "reaper") ? "ReaVerbate" : "ACE Reverb", "aliases", "reverb", "instrument_map",
                        instmap_json(m));
  *mout = m;
  return c;
}

static char *plan_text(const char *instrument) {
  static char buf[1024];
  snprintf(
      buf, sizeof buf,
      "**PLAN:**\nStep 1: create_track - the reference request\n  - name: Kick Drum\n  - type: midi\n"
      "  - instrument: %s\nStep 2: create_midi_clip - four on the floor\n  - track_id: [track from Step 1]\n"
      "  - start_time: 0\n  - duration: 4\n  - notes: [{n: 36, s: 0, d: 0.5, v: 110}, {n: 36, s: 1, d: 0.5, v: 110}]\n"
      "Step 3: add_effect - reverb\n  - track_id: [track from Step 1]\n  - effect_name: reverb\n",
      instrument);
  return buf;
}

struct vcase {
  const char *dialect, *instrument;
  int valid;
  const char *arg_after; /* the step's instrument after validation */
  const char *warning;   /* a plan warning containing this, or NULL for none about the instrument */
  const char *error;     /* an error containing this */
};

static const struct vcase cases[] = {
    {"reaper", "kick", 1, "kick", NULL, NULL},
    {"ardour", "kick", 1, "kick", NULL, NULL},
    {"reaper", "drums", 1, "drums", NULL, NULL},
    {"ardour", "808", 1, "808", NULL, NULL},
    {"reaper", "warm analog pad", 1, "warm analog pad", NULL, NULL},
    {"reaper", "reasynth", 1, "ReaSynth", NULL, NULL},
    {"ardour", "avldrums", 1, "Black Pearl Drumkit", NULL, NULL},
    {"reaper", "zorblax", 1, "zorblax", "Step 1: unknown instrument role 'zorblax': using ReaSynth", NULL},
    {"ardour", "zorblax", 1, "zorblax", "Step 1: unknown instrument role 'zorblax': using ACE Reasonable Synth", NULL},
    {"reaper", "Serum", 0, NULL, NULL,
     "instrument plugin \"Serum\" is not installed in reaper; available instruments: ReaSynth, ReaSynDr, "
     "ReaSamplOmatic5000"},
    {"ardour", "VST3i: Omnisphere", 0, NULL, NULL, "instrument plugin \"Omnisphere\" is not installed in ardour"},
};

static void test_plan_instruments_roles_resolved_per_daw(void **state) {
  (void)state;
  json_t *t = tools();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct vcase *c = &cases[i];
    instmap_t *m;
    json_t *cat = catalog(c->dialect, &m);
    char err[256];
    plan_t *p = plan_parse(plan_text(c->instrument), (size_t)-1, err, sizeof err);
    assert_non_null(p);
    json_t *errors = NULL;
    int rc = plan_validate(p, t, NULL, cat, &errors);
    char *es = json_dumps(errors, JSON_COMPACT);
    char *ws = json_dumps(plan_warnings(p), JSON_COMPACT);
    print_message("%s %s: rc %d errors %s warnings %s\n", c->dialect, c->instrument, rc, es, ws);
    if (c->valid) {
      assert_int_equal(rc, PLAN_OK);
      assert_string_equal(json_string_value(json_object_get(plan_step_args(p, 0), "instrument")), c->arg_after);
    } else {
      assert_int_equal(rc, PLAN_ERR_INVALID);
      assert_int_equal(json_array_size(errors), 1);
      assert_int_equal(json_integer_value(json_object_get(json_array_get(errors, 0), "step")), 1);
      assert_non_null(strstr(json_string_value(json_object_get(json_array_get(errors, 0), "message")), c->error));
    }
    /* the warning is carried in the plan (and so in the agent's response) exactly when the role is unknown */
    int found = 0;
    size_t k;
    json_t *w;
    json_array_foreach(plan_warnings(p), k, w) {
      if (strstr(json_string_value(w), "instrument")) {
        assert_non_null(c->warning);
        assert_string_equal(json_string_value(w), c->warning);
        found++;
      }
    }
    assert_int_equal(found, c->warning ? 1 : 0);
    json_t *pj = plan_to_json(p);
    char *pw = json_dumps(json_object_get(pj, "warnings"), 0);
    if (c->warning) assert_non_null(strstr(pw, "unknown instrument role"));
    free(pw);
    json_decref(pj);
    free(es);
    free(ws);
    json_decref(errors);
    plan_free(p);
    json_decref(cat);
    instmap_free(m);
  }
  json_decref(t);
}

/* validating twice (the agent re-validates after a re-plan) does not repeat the warning */
static void test_plan_instruments_warning_once(void **state) {
  (void)state;
  json_t *t = tools();
  instmap_t *m;
  json_t *cat = catalog("reaper", &m);
  plan_t *p = plan_parse(plan_text("zorblax"), (size_t)-1, NULL, 0);
  assert_int_equal(plan_validate(p, t, NULL, cat, NULL), PLAN_OK);
  assert_int_equal(plan_validate(p, t, NULL, cat, NULL), PLAN_OK);
  size_t n = 0, k;
  json_t *w;
  json_array_foreach(plan_warnings(p), k, w) if (strstr(json_string_value(w), "zorblax")) n++;
  assert_int_equal(n, 1);
  plan_free(p);
  json_decref(cat);
  instmap_free(m);
  json_decref(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_instruments_roles_resolved_per_daw),
      cmocka_unit_test(test_plan_instruments_warning_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
