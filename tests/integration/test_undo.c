/* undo through the DAW: the bridge (daw facade) and an embedded mock DAW (with the companion protocol) on one
 * loop, both dialects. Each tool's effect is undone and the result is checked in the mock's own state dump;
 * restore across several saved iterations; what a dialect cannot reverse is reported and the rest is done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daw.h"
#include "mock_embed.h"
#include "history.h"
#include "session.h"
#include "statediff.h"
#include "undo.h"
#include "db_test_util.h"
#include "db_test_json.h"
#include "wire_fixture.h"

static const char *const dialects[] = {"reaper", "ardour"};

/* What each host can do, as the real hosts do (the mock follows them): Ardour 7.3's Lua bindings cannot remove a
 * track (osc-maps/companions/README.md), so its companion refuses delete_track and an undo that must remove a
 * track is partial, naming it; REAPER deletes. */
static const struct host_limits {
  const char *dialect;
  int deletes_tracks;
} host_limits[] = {{"reaper", 1}, {"ardour", 0}};

static int deletes_tracks(const char *dialect) {
  for (size_t i = 0; i < sizeof host_limits / sizeof *host_limits; i++)
    if (!strcmp(host_limits[i].dialect, dialect)) return host_limits[i].deletes_tracks;
  fail_msg("no host limits for dialect %s", dialect);
  return 0;
}

/* The wire fixture's loop, log and last result (tests/support/wire_fixture.h) around a daw_t with the embedded mock
 * DAW behind it. */
struct fx {
  struct wire w;
  daw_t *d;
  mock_embed_t *mock; /* the in-process mock DAW behind d (app/mock_embed.h) */
  int closed;
};

#define WAIT_MS 60000

static void print_result(struct fx *f, const char *what) {
  char *s = f->w.result ? json_dumps(f->w.result, JSON_INDENT(1)) : NULL;
  fprintf(stderr, "%s: undo status %d (%s)\n%s\n", what, f->w.status, f->w.message, s ? s : "(no result)");
  free(s);
}

/* An undo that must have succeeded: its result is printed first when it did not. */
static void assert_undo_ok(struct fx *f, int rc, const char *what) {
  if (rc) print_result(f, what);
  assert_int_equal(rc, UNDO_OK);
}

/* The one thing the undo reported as not reversible here: exactly one "unsupported" entry, its "what" containing
 * `what` and its "reason" containing `reason`. Returns that entry (borrowed from f->w.result). */
static json_t *the_unsupported(struct fx *f, const char *what, const char *reason) {
  json_t *u = json_object_get(f->w.result, "unsupported");
  assert_int_equal(json_array_size(u), 1);
  json_t *e = json_array_get(u, 0);
  const char *w = json_string_value(json_object_get(e, "what")), *r = json_string_value(json_object_get(e, "reason"));
  assert_non_null(w);
  assert_non_null(r);
  assert_non_null(strstr(w, what));
  assert_non_null(strstr(r, reason));
  return e;
}

static void fx_open(struct fx *f, const char *dialect, int companion) {
  memset(f, 0, sizeof *f);
  uv_loop_init(&f->w.loop);
  f->w.dialect = dialect;
  struct daw_config cfg = {.dialect = dialect,
                           .listen_port = -1,
                           .confirm_timeout_ms = -1,
                           .retries = -1,
                           .refresh_interval_ms = 0,
                           .log = {.fn = wire_log, .data = &f->w, .level = LOG_DEBUG}};
  char err[512];
  struct mock_embed_config mc = {.tracks = -1, .companion = companion, .quiet = 1};
  int rc = mock_embed_open(&f->w.loop, &cfg, &mc, &f->d, &f->mock, err, sizeof err);
  if (rc) fail_msg("mock_embed_open: %s", err);
  f->w.daw = f->d;
  f->w.done = 0;
  assert_int_equal(daw_start(f->d, wire_on_result, &f->w), 0);
  rc = wire_wait(&f->w, WAIT_MS);
  if (rc) fail_msg("daw_start: %d %s", rc, f->w.message);
}

static void on_closed(void *data) { ((struct fx *)data)->closed++; }

static void fx_close(struct fx *f) {
  daw_close(f->d, on_closed, f);
  mock_embed_close(f->mock, on_closed, f);
  while (f->closed < 2) uv_run(&f->w.loop, UV_RUN_ONCE);
  uv_run(&f->w.loop, UV_RUN_DEFAULT);
  json_decref(f->w.result);
  f->w.result = NULL;
  assert_int_equal(uv_loop_close(&f->w.loop), 0);
  assert_int_equal(f->w.internal_errors, 0);
}

/* One tool call through the DAW facade; returns its status; result in f->w.result. */
static int call(struct fx *f, const char *tool, const char *json_args) { return wire_call(&f->w, tool, json_args); }
static int refresh(struct fx *f) { return wire_refresh(&f->w); }

static json_t *mirror(struct fx *f) { return session_to_json(daw_session(f->d)); }

static int undo_to(struct fx *f, const json_t *target) {
  f->w.done = 0;
  int rc = undo_to_state(f->d, target, wire_on_result, &f->w);
  if (rc) return rc;
  rc = wire_wait(&f->w, WAIT_MS);
  if (getenv("WIRE_VERBOSE") || (rc && rc != UNDO_EPARTIAL)) print_result(f, "undo");
  return rc;
}

static size_t daw_track_count(json_t *state) { return json_array_size(json_object_get(state, "tracks")); }

static const char *mirror_track_id(struct fx *f, const char *name) {
  session_t *s = daw_session(f->d);
  int i = session_track_index_by_name(s, name);
  return i ? session_track_id(s, i) : NULL;
}

/* Musical differences between the DAW's own state and the target (what statediff sees). */
static size_t differences(json_t *a, json_t *b, int print) {
  json_t *d = statediff_compute(a, b);
  size_t n = json_array_size(json_object_get(d, "changes"));
  if (n && print) {
    char *t = statediff_to_text(d);
    fprintf(stderr, "differences:\n%s", t);
    free(t);
  }
  json_decref(d);
  return n;
}

static int close_to(double a, double b) { return fabs(a - b) < 0.02; }

/* ---- native set_track / set_tempo / add_marker (both dialects, no companion needed) ---- */

struct mix_case {
  const char *args; /* %s = track id of "Bass" */
  const char *key;
  const char *changed_name; /* the track's name after the change (renames) */
};

static const struct mix_case mix_cases[] = {
    {"{\"track_id\":\"%s\",\"volume_db\":-1.5}", "volume_db", NULL},
    {"{\"track_id\":\"%s\",\"pan\":0.6}", "pan", NULL},
    {"{\"track_id\":\"%s\",\"mute\":true}", "mute", NULL},
    {"{\"track_id\":\"%s\",\"solo\":true}", "solo", NULL},
    {"{\"track_id\":\"%s\",\"name\":\"Low end\"}", "name", "Low end"},
    {"{\"track_id\":\"%s\",\"volume_db\":2,\"pan\":-0.4,\"mute\":true,\"name\":\"All of it\"}", "volume_db",
     "All of it"},
};

static void test_undo_set_track_each_property(void **st) {
  for (int d = 0; d < 2; d++) {
    for (int comp = 0; comp < 2; comp++) {
      struct fx f;
      fx_open(&f, dialects[d], comp);
      json_t *before_daw = mock_embed_state(f.mock);
      json_t *bass0 = json_deep_copy(db_test_json_track(before_daw, "Bass"));
      assert_non_null(bass0);
      for (size_t i = 0; i < sizeof mix_cases / sizeof *mix_cases; i++) {
        const struct mix_case *c = &mix_cases[i];
        assert_int_equal(refresh(&f), 0);
        json_t *target = mirror(&f);
        char args[256];
        snprintf(args, sizeof args, c->args, mirror_track_id(&f, "Bass"));
        assert_int_equal(call(&f, "set_track", args), 0);
        json_t *changed = mock_embed_state(f.mock);
        json_t *t = db_test_json_track(changed, c->changed_name ? c->changed_name : "Bass");
        assert_non_null(t);
        assert_false(json_equal(json_object_get(t, c->key), json_object_get(bass0, c->key)));
        json_decref(changed);

        int rc = undo_to(&f, target);
        assert_undo_ok(&f, rc, args);
        assert_true(json_array_size(json_object_get(f.w.result, "applied")) >= 1);
        assert_int_equal(json_array_size(json_object_get(f.w.result, "failed")), 0);
        assert_true(json_is_true(json_object_get(f.w.result, "complete")));
        assert_string_equal(json_string_value(json_object_get(f.w.result, "remaining_diff")), "");

        json_t *after = mock_embed_state(f.mock);
        json_t *b = db_test_json_track(after, "Bass");
        assert_non_null(b);
        assert_true(close_to(json_number_value(json_object_get(b, "volume_db")),
                             json_number_value(json_object_get(bass0, "volume_db"))));
        assert_true(
            close_to(json_number_value(json_object_get(b, "pan")), json_number_value(json_object_get(bass0, "pan"))));
        assert_int_equal(json_is_true(json_object_get(b, "mute")), json_is_true(json_object_get(bass0, "mute")));
        assert_int_equal(json_is_true(json_object_get(b, "solo")), json_is_true(json_object_get(bass0, "solo")));
        assert_int_equal(daw_track_count(after), daw_track_count(before_daw));
        json_decref(after);
        json_decref(target);
      }
      json_decref(bass0);
      json_decref(before_daw);
      fx_close(&f);
    }
  }
  (void)st;
}

static void test_undo_set_tempo_reaper(void **st) {
  struct fx f;
  fx_open(&f, "reaper", 0);
  json_t *target = mirror(&f);
  assert_int_equal(call(&f, "set_tempo", "{\"bpm\": 96}"), 0);
  json_t *s = mock_embed_state(f.mock);
  assert_true(close_to(json_number_value(json_object_get(s, "tempo")), 96));
  json_decref(s);
  assert_int_equal(undo_to(&f, target), UNDO_OK);
  s = mock_embed_state(f.mock);
  assert_true(
      close_to(json_number_value(json_object_get(s, "tempo")), json_number_value(json_object_get(target, "tempo"))));
  json_decref(s);
  json_decref(target);
  fx_close(&f);
  (void)st;
}

/* Ardour's OSC has no tempo message: a target with another tempo is reported as not reversible, the rest
 * (a volume change) is done. */
static void test_undo_ardour_tempo_unsupported_rest_done(void **st) {
  struct fx f;
  fx_open(&f, "ardour", 0);
  json_t *target = mirror(&f);
  json_object_set_new(target, "tempo", json_real(100.0));
  char args[128];
  snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"volume_db\":-20}", mirror_track_id(&f, "Vocals"));
  json_t *s0 = mock_embed_state(f.mock);
  double vol0 = json_number_value(json_object_get(db_test_json_track(s0, "Vocals"), "volume_db"));
  json_decref(s0);
  assert_int_equal(call(&f, "set_track", args), 0);
  assert_int_equal(undo_to(&f, target), UNDO_EPARTIAL);
  the_unsupported(&f, "set_tempo", "tempo");
  assert_non_null(strstr(json_string_value(json_object_get(f.w.result, "remaining_diff")), "tempo"));
  assert_false(json_is_true(json_object_get(f.w.result, "complete")));
  s0 = mock_embed_state(f.mock);
  assert_true(close_to(json_number_value(json_object_get(db_test_json_track(s0, "Vocals"), "volume_db")), vol0));
  json_decref(s0);
  json_decref(target);
  fx_close(&f);
  (void)st;
}

/* REAPER: a marker the AI added cannot be removed by any tool: reported, the rest done; a marker that was
 * removed since the target is added back. Ardour: its OSC does not list markers (only the one at the playhead),
 * so the mirror has none: the marker is outside the diff, the rest is done (the CLI adds a note from the
 * iteration's actions, see test_history_cli). */
static void test_undo_markers(void **st) {
  for (int d = 0; d < 2; d++) {
    int reaper = d == 0;
    struct fx f;
    fx_open(&f, dialects[d], 0);
    json_t *target = mirror(&f);
    json_t *daw0 = mock_embed_state(f.mock);
    size_t nm = json_array_size(json_object_get(daw0, "markers"));
    json_decref(daw0);
    char args[128];
    snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"mute\":true}", mirror_track_id(&f, "Drums"));
    assert_int_equal(call(&f, "set_track", args), 0);
    assert_int_equal(call(&f, "add_marker", "{\"position\": 16, \"name\": \"Chorus\"}"), 0);
    int rc = undo_to(&f, target);
    if (reaper) {
      assert_int_equal(rc, UNDO_EPARTIAL);
      the_unsupported(&f, "Chorus", "marker");
      assert_non_null(strstr(json_string_value(json_object_get(f.w.result, "remaining_diff")), "Chorus"));
    } else {
      assert_int_equal(json_array_size(json_object_get(target, "markers")), 0);
      assert_int_equal(rc, UNDO_OK);
    }
    json_t *s = mock_embed_state(f.mock);
    assert_false(json_is_true(json_object_get(db_test_json_track(s, "Drums"), "mute")));
    assert_int_equal(json_array_size(json_object_get(s, "markers")), nm + 1); /* still there */
    json_decref(s);
    json_decref(target);

    if (reaper) {
      /* the other way: the target has a marker the session lacks */
      assert_int_equal(refresh(&f), 0);
      target = mirror(&f);
      json_array_append_new(json_object_get(target, "markers"), json_pack("{s:s, s:i, s:s, s:f}", "id", "m99", "number",
                                                                          99, "name", "Outro", "position", 32.0));
      rc = undo_to(&f, target);
      assert_undo_ok(&f, rc, "add marker back");
      s = mock_embed_state(f.mock);
      int found = 0;
      size_t i;
      json_t *m;
      json_array_foreach(json_object_get(s, "markers"), i, m) {
        if (!strcmp(json_string_value(json_object_get(m, "name")), "Outro") &&
            close_to(json_number_value(json_object_get(m, "position")), 32))
          found = 1;
      }
      assert_true(found);
      json_decref(s);
      json_decref(target);
    }
    fx_close(&f);
  }
  (void)st;
}

/* Effect parameters and bypass are native tools in both dialects: undone and checked in the DAW (parameters:
 * REAPER only, as Ardour does not report them). */
static void test_undo_effect_param_and_bypass(void **st) {
  for (int d = 0; d < 2; d++) {
    struct fx f;
    fx_open(&f, dialects[d], 0);
    json_t *target = mirror(&f);
    json_t *s0 = mock_embed_state(f.mock);
    json_t *fx0 = json_deep_copy(json_array_get(json_object_get(db_test_json_track(s0, "Vocals"), "fx"), 0));
    json_decref(s0);
    assert_non_null(fx0);
    double p0 = json_number_value(json_object_get(json_array_get(json_object_get(fx0, "params"), 0), "value"));
    char args[256];
    const char *voc = mirror_track_id(&f, "Vocals");
    snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"effect_index\":1,\"param_index\":1,\"value\":%g}", voc,
             p0 > 0.5 ? 0.1 : 0.9);
    assert_int_equal(call(&f, "set_effect_param", args), 0);
    snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"effect_index\":1,\"enabled\":false}", voc);
    assert_int_equal(call(&f, "set_effect_enabled", args), 0);
    json_t *s1 = mock_embed_state(f.mock);
    json_t *fx1 = json_array_get(json_object_get(db_test_json_track(s1, "Vocals"), "fx"), 0);
    assert_false(json_is_true(json_object_get(fx1, "enabled")));
    assert_false(
        close_to(json_number_value(json_object_get(json_array_get(json_object_get(fx1, "params"), 0), "value")), p0));
    json_decref(s1);

    int rc = undo_to(&f, target);
    assert_undo_ok(&f, rc, "fx param + bypass");
    json_t *s2 = mock_embed_state(f.mock);
    json_t *fx2 = json_array_get(json_object_get(db_test_json_track(s2, "Vocals"), "fx"), 0);
    assert_true(json_is_true(json_object_get(fx2, "enabled")));
    double p2 = json_number_value(json_object_get(json_array_get(json_object_get(fx2, "params"), 0), "value"));
    if (d == 0) {
      assert_true(close_to(p2, p0));
    } else {
      /* Ardour's OSC does not report plugin parameter values: the mirror has none, so they are outside the diff
       * (the CLI names such set_effect_param actions from the iteration, see test_history_cli) */
      json_t *vt = db_test_json_track(target, "Vocals");
      assert_int_equal(json_array_size(json_object_get(json_array_get(json_object_get(vt, "fx"), 0), "params")), 0);
      assert_false(close_to(p2, p0));
    }
    json_decref(s2);
    json_decref(fx0);
    json_decref(target);
    fx_close(&f);
  }
  (void)st;
}

/* REAPER without the companion: create_track runs natively, but its inverse (delete_track) needs the companion.
 * Undo says so and still reverts the rest. */
static void test_undo_reaper_without_companion_reports_and_does_the_rest(void **st) {
  struct fx f;
  fx_open(&f, "reaper", 0);
  assert_false(daw_has_companion(f.d));
  json_t *target = mirror(&f);
  size_t n0 = json_array_size(json_object_get(target, "tracks"));
  assert_int_equal(call(&f, "create_track", "{\"name\": \"Pad\", \"type\": \"midi\"}"), 0);
  char args[128];
  snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"volume_db\":-9,\"solo\":true}", mirror_track_id(&f, "Drums"));
  assert_int_equal(call(&f, "set_track", args), 0);
  assert_int_equal(call(&f, "set_tempo", "{\"bpm\": 140}"), 0);
  assert_int_equal(undo_to(&f, target), UNDO_EPARTIAL);
  json_t *u = the_unsupported(&f, "delete track \"Pad\"", "companion");
  assert_string_equal(json_string_value(json_object_get(u, "what")), "delete track \"Pad\"");
  assert_int_equal(json_array_size(json_object_get(f.w.result, "failed")), 0);
  assert_true(json_array_size(json_object_get(f.w.result, "applied")) >= 2);
  assert_non_null(strstr(json_string_value(json_object_get(f.w.result, "remaining_diff")), "Pad"));
  json_t *s = mock_embed_state(f.mock);
  assert_int_equal(daw_track_count(s), n0 + 1); /* the new track is still there, as reported */
  json_t *dr = db_test_json_track(s, "Drums");
  assert_true(close_to(json_number_value(json_object_get(dr, "volume_db")), 0));
  assert_false(json_is_true(json_object_get(dr, "solo")));
  assert_true(close_to(json_number_value(json_object_get(s, "tempo")), 120));
  json_decref(s);
  json_decref(target);
  fx_close(&f);
  (void)st;
}

/* ---- companion tools (both dialects) ---- */

static void need_companion(struct fx *f) {
  if (!daw_has_companion(f->d)) {
    fprintf(stderr, "skipped: the companion does not answer in daw.c yet (%s)\n",
            daw_unavailable_reason(f->d, "create_midi_clip"));
    fx_close(f);
    skip();
  }
}

static json_t *clip_of(json_t *track, size_t i) { return json_array_get(json_object_get(track, "clips"), i); }

/* Runs `setup` calls, undoes to the state before, and checks that the DAW holds the same music again. */
struct comp_case {
  const char *name;
  const char *tool;
  const char *args;      /* %1$s = Bass track id, %2$s = Drums' first clip id */
  const char *new_track; /* the track the call creates (its undo must remove it) */
};

static const struct comp_case comp_cases[] = {
    {"create_track", "create_track", "{\"name\": \"Pad\", \"type\": \"midi\"}", "Pad"},
    {"create_track with instrument", "create_track",
     "{\"name\": \"Lead\", \"type\": \"midi\", \"instrument\": \"%3$s\"}", "Lead"},
    {"create_midi_clip", "create_midi_clip",
     "{\"track_id\": \"%1$s\", \"start_time\": 8, \"duration\": 4, \"notes\": [{\"n\":40,\"s\":0,\"d\":1,\"v\":100},"
     "{\"n\":43,\"s\":1.5,\"d\":0.5,\"v\":90}]}",
     NULL},
    {"edit_clip", "edit_clip", "{\"clip_id\": \"%2$s\", \"add_notes\": [{\"n\":42,\"s\":0.5,\"d\":0.25,\"v\":70}]}",
     NULL},
    {"add_effect", "add_effect", "{\"track_id\": \"%1$s\", \"effect_name\": \"%4$s\"}", NULL},
    {"remove_effect", "remove_effect", "{\"track_id\": \"%5$s\", \"effect_index\": %6$d}", NULL},
    {"delete_clip", "delete_clip", "{\"clip_id\": \"%2$s\"}", NULL},
    {"delete_track", "delete_track", "{\"track_id\": \"%1$s\"}", NULL},
};

static const char *catalog_name(struct fx *f, const char *kind, int want_not) {
  const json_t *list = json_object_get(daw_catalog(f->d), kind);
  size_t i;
  json_t *v;
  json_array_foreach(list, i, v) {
    const char *n = json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "name"));
    if (n && (!want_not || !strstr(n, "Verb"))) return n;
  }
  return kind[0] == 'i' ? "ReaSynth" : "ReaEQ";
}

/* The DAW's state without the track `name` (new reference): what is left to compare when that track stays. */
static json_t *without_track(json_t *state, const char *name) {
  json_t *c = json_deep_copy(state);
  json_t *tracks = json_object_get(c, "tracks");
  for (size_t i = 0; i < json_array_size(tracks); i++)
    if (!strcmp(json_string_value(json_object_get(json_array_get(tracks, i), "name")), name)) {
      json_array_remove(tracks, i);
      break;
    }
  return c;
}

/* On a host that cannot remove tracks (Ardour 7.3), undoing the creation of `name` is partial: nothing failed,
 * exactly that track is "not reversible here", named, with the host's reason, in the result and the summary. */
static void assert_track_not_reversible(struct fx *f, int rc, const char *name) {
  if (rc != UNDO_EPARTIAL) print_result(f, name);
  assert_int_equal(rc, UNDO_EPARTIAL);
  assert_int_equal(json_array_size(json_object_get(f->w.result, "failed")), 0);
  char what[160];
  snprintf(what, sizeof what, "delete track \"%s\"", name);
  json_t *u = the_unsupported(f, what, "Ardour 7.3 cannot delete tracks");
  assert_string_equal(json_string_value(json_object_get(u, "what")), what);
  assert_false(json_is_true(json_object_get(f->w.result, "complete")));
  assert_non_null(strstr(f->w.message, "not reversible here: "));
  assert_non_null(strstr(f->w.message, what));
}

/* The DAW's state `s` has the same music as `before` but for the track `name`, which stayed. */
static void assert_same_music_but_track(json_t *s, json_t *before, const char *name) {
  json_t *rest = without_track(s, name);
  assert_int_equal(differences(rest, before, 1), 0);
  json_decref(rest);
}

/* An undo that had to remove the track `name`: complete where the host deletes tracks, else partial, naming it. */
static void assert_undone_but_undeletable_track(struct fx *f, int rc, const char *dialect, const char *name) {
  if (deletes_tracks(dialect))
    assert_undo_ok(f, rc, dialect);
  else
    assert_track_not_reversible(f, rc, name);
}

static void test_undo_companion_tools(void **st) {
  for (int d = 0; d < 2; d++) {
    for (size_t i = 0; i < sizeof comp_cases / sizeof *comp_cases; i++) {
      const struct comp_case *c = &comp_cases[i];
      struct fx f;
      fx_open(&f, dialects[d], 1);
      need_companion(&f);
      json_t *target = mirror(&f);
      json_t *daw0 = mock_embed_state(f.mock);
      /* ids the case needs */
      const char *bass = mirror_track_id(&f, "Bass");
      json_t *mt = db_test_json_track(target, "Drums");
      const char *clip = json_string_value(json_object_get(clip_of(mt, 0), "id"));
      /* the last effect of Vocals (reverb) */
      const char *vocals = mirror_track_id(&f, "Vocals");
      int vfx = session_track_fx_count(daw_session(f.d), session_track_index_by_name(daw_session(f.d), "Vocals"));
      char args[1024];
      snprintf(args, sizeof args, c->args, bass ? bass : "?", clip ? clip : "?", catalog_name(&f, "instruments", 0),
               catalog_name(&f, "effects", 1), vocals ? vocals : "?", vfx);
      int deletes = deletes_tracks(dialects[d]);
      /* the planner is offered delete_track only where the host can do it */
      assert_int_equal(wire_offers(&f.w, "delete_track"), deletes);
      int rc = call(&f, c->tool, args);
      if (!deletes && !strcmp(c->tool, "delete_track")) { /* refused with the host's reason, the DAW unchanged */
        assert_int_equal(rc, DAW_EUNSUPPORTED);
        assert_non_null(strstr(f.w.message, "Ardour 7.3 cannot delete tracks"));
        json_t *daw1 = mock_embed_state(f.mock);
        assert_int_equal(differences(daw0, daw1, 1), 0);
        json_decref(daw1);
        json_decref(daw0);
        json_decref(target);
        fx_close(&f);
        continue;
      }
      if (rc) fprintf(stderr, "%s %s: %s\n", dialects[d], c->name, f.w.message);
      assert_int_equal(rc, 0);
      json_t *daw1 = mock_embed_state(f.mock);
      assert_true(differences(daw0, daw1, 0) > 0);
      json_decref(daw1);

      rc = undo_to(&f, target);
      if (!deletes && c->new_track) { /* reported, not pretended: the new track stays, nothing else differs */
        assert_track_not_reversible(&f, rc, c->new_track);
        json_t *daw2 = mock_embed_state(f.mock);
        assert_non_null(db_test_json_track(daw2, c->new_track));
        assert_int_equal(daw_track_count(daw2), daw_track_count(daw0) + 1);
        assert_same_music_but_track(daw2, daw0, c->new_track);
        json_decref(daw2);
        json_decref(daw0);
        json_decref(target);
        fx_close(&f);
        continue;
      }
      assert_undo_ok(&f, rc, c->name);
      assert_int_equal(json_array_size(json_object_get(f.w.result, "failed")), 0);
      assert_int_equal(json_array_size(json_object_get(f.w.result, "unsupported")), 0);
      /* the DAW's own state has the same music as before (re-created things get new ids) */
      json_t *daw2 = mock_embed_state(f.mock);
      size_t nd = differences(daw2, daw0, 1);
      if (nd) fprintf(stderr, "%s %s: the DAW differs from before after undo\n", dialects[d], c->name);
      assert_int_equal(nd, 0);
      assert_int_equal(daw_track_count(daw2), daw_track_count(daw0));
      json_decref(daw2);
      json_decref(daw0);
      json_decref(target);
      fx_close(&f);
    }
  }
  (void)st;
}

/* ---- restore across iterations ---- */

/* A history in a fresh temporary directory, for the restore cases. */
struct temp_history {
  char dir[64];
  history_t *h;
};

static void temp_history_open(struct temp_history *t) {
  snprintf(t->dir, sizeof t->dir, "/tmp/dawbridge-test-undo-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  char err[512];
  t->h = history_open(t->dir, "restore-test", err, sizeof err);
  if (!t->h) fail_msg("history_open: %s", err);
}

static void temp_history_close(struct temp_history *t) {
  history_free(t->h);
  db_test_rm_rf(t->dir);
}

static void save_iteration(history_t *h, struct fx *f, const char *msg, int *num) {
  assert_int_equal(refresh(f), 0);
  json_t *s = mirror(f);
  json_t *meta = json_pack("{s:s, s:s}", "source", "ai_iteration", "user_message", msg);
  char err[512];
  int rc = history_save(h, s, meta, num, err, sizeof err);
  if (rc) fprintf(stderr, "history_save: %s\n", err);
  assert_int_equal(rc, HISTORY_OK);
  json_decref(meta);
  json_decref(s);
}

static int restore(struct fx *f, history_t *h, int num) {
  json_t *it = NULL;
  char err[512];
  assert_int_equal(history_load(h, num, &it, err, sizeof err), HISTORY_OK);
  int rc = undo_to(f, it);
  json_decref(it);
  return rc;
}

static void test_undo_restore_across_iterations(void **st) {
  for (int d = 0; d < 2; d++) {
    int reaper = !strcmp(dialects[d], "reaper");
    struct temp_history th;
    temp_history_open(&th);
    history_t *h = th.h;
    struct fx f;
    fx_open(&f, dialects[d], 0);
    const char *bass = mirror_track_id(&f, "Bass"), *drums = mirror_track_id(&f, "Drums");
    char a1[128], a2[128], a3[128];
    int n1, n2, n3;
    save_iteration(h, &f, "start", &n1);
    snprintf(a1, sizeof a1, "{\"track_id\":\"%s\",\"volume_db\":-12,\"pan\":0.3}", bass);
    assert_int_equal(call(&f, "set_track", a1), 0);
    if (reaper) assert_int_equal(call(&f, "set_tempo", "{\"bpm\": 90}"), 0);
    save_iteration(h, &f, "quieter bass", &n2);
    snprintf(a2, sizeof a2, "{\"track_id\":\"%s\",\"mute\":true,\"name\":\"Kit\"}", drums);
    assert_int_equal(call(&f, "set_track", a2), 0);
    snprintf(a3, sizeof a3, "{\"track_id\":\"%s\",\"volume_db\":-3}", bass);
    assert_int_equal(call(&f, "set_track", a3), 0);
    if (reaper) assert_int_equal(call(&f, "set_tempo", "{\"bpm\": 132}"), 0);
    save_iteration(h, &f, "mute the kit", &n3);
    assert_true(n1 < n2 && n2 < n3);

    /* restore 1: everything back */
    int rc = restore(&f, h, n1);
    assert_undo_ok(&f, rc, "restore 1");
    json_t *s = mock_embed_state(f.mock);
    json_t *b = db_test_json_track(s, "Bass"), *dr = db_test_json_track(s, "Drums");
    assert_non_null(b);
    assert_non_null(dr);
    assert_true(close_to(json_number_value(json_object_get(b, "volume_db")), -6));
    assert_true(close_to(json_number_value(json_object_get(b, "pan")), 0));
    assert_false(json_is_true(json_object_get(dr, "mute")));
    assert_null(db_test_json_track(s, "Kit"));
    assert_true(close_to(json_number_value(json_object_get(s, "tempo")), 120));
    json_decref(s);

    /* restore 3 (forward again), then 2 */
    assert_int_equal(restore(&f, h, n3), UNDO_OK);
    s = mock_embed_state(f.mock);
    assert_non_null(db_test_json_track(s, "Kit"));
    assert_true(json_is_true(json_object_get(db_test_json_track(s, "Kit"), "mute")));
    assert_true(close_to(json_number_value(json_object_get(db_test_json_track(s, "Bass"), "volume_db")), -3));
    if (reaper) assert_true(close_to(json_number_value(json_object_get(s, "tempo")), 132));
    json_decref(s);
    assert_int_equal(restore(&f, h, n2), UNDO_OK);
    s = mock_embed_state(f.mock);
    b = db_test_json_track(s, "Bass");
    dr = db_test_json_track(s, "Drums");
    assert_non_null(dr);
    assert_false(json_is_true(json_object_get(dr, "mute")));
    assert_true(close_to(json_number_value(json_object_get(b, "volume_db")), -12));
    assert_true(close_to(json_number_value(json_object_get(b, "pan")), 0.3));
    if (reaper) assert_true(close_to(json_number_value(json_object_get(s, "tempo")), 90));
    json_decref(s);

    /* restoring the state we are in changes nothing */
    assert_int_equal(restore(&f, h, n2), UNDO_OK);
    assert_int_equal(json_array_size(json_object_get(f.w.result, "applied")), 0);
    assert_int_equal(json_integer_value(json_object_get(f.w.result, "calls")), 0);

    fx_close(&f);
    temp_history_close(&th);
  }
  (void)st;
}

/* With the companion: restore across iterations that add and remove tracks, clips and effects. */
static void test_undo_restore_across_iterations_companion(void **st) {
  for (int d = 0; d < 2; d++) {
    struct temp_history th;
    temp_history_open(&th);
    history_t *h = th.h;
    struct fx f;
    fx_open(&f, dialects[d], 1);
    if (!daw_has_companion(f.d)) {
      temp_history_close(&th);
      need_companion(&f);
    }
    int n1, n2, n3;
    save_iteration(h, &f, "start", &n1);
    json_t *daw_1 = mock_embed_state(f.mock);
    assert_int_equal(call(&f, "create_track", "{\"name\": \"Keys\", \"type\": \"midi\"}"), 0);
    char args[512];
    const char *keys = json_string_value(json_object_get(f.w.result, "track_id"));
    assert_non_null(keys);
    snprintf(
        args, sizeof args,
        "{\"track_id\": \"%s\", \"start_time\": 0, \"duration\": 4, \"notes\": [{\"n\":60,\"s\":0,\"d\":1,\"v\":100},"
        "{\"n\":64,\"s\":1,\"d\":1,\"v\":96},{\"n\":67,\"s\":2,\"d\":2,\"v\":92}]}",
        keys);
    assert_int_equal(call(&f, "create_midi_clip", args), 0);
    save_iteration(h, &f, "add keys", &n2);
    json_t *daw_2 = mock_embed_state(f.mock);
    /* Ardour 7.3 cannot remove a track: the delete is refused, Vocals stays (restore 2 then re-creates nothing) */
    int deletes = deletes_tracks(dialects[d]);
    const char *vocals = mirror_track_id(&f, "Vocals");
    assert_non_null(vocals);
    snprintf(args, sizeof args, "{\"track_id\": \"%s\"}", vocals ? vocals : ""); /* gcc -O3: no NULL to %s */
    assert_int_equal(call(&f, "delete_track", args), deletes ? 0 : DAW_EUNSUPPORTED);
    snprintf(args, sizeof args, "{\"track_id\": \"%s\", \"effect_name\": \"%s\"}", mirror_track_id(&f, "Bass"),
             catalog_name(&f, "effects", 1));
    assert_int_equal(call(&f, "add_effect", args), 0);
    save_iteration(h, &f, "no vocals", &n3);

    int rc = restore(&f, h, n1);
    json_t *s = mock_embed_state(f.mock);
    if (deletes) {
      assert_undo_ok(&f, rc, "restore 1");
      assert_int_equal(differences(s, daw_1, 1), 0);
      assert_null(db_test_json_track(s, "Keys"));
    } else { /* Keys stays, named; the effect is removed */
      assert_track_not_reversible(&f, rc, "Keys");
      assert_non_null(db_test_json_track(s, "Keys"));
      assert_same_music_but_track(s, daw_1, "Keys");
    }
    assert_non_null(db_test_json_track(s, "Vocals"));
    json_decref(s);

    rc = restore(&f, h, n2);
    assert_undo_ok(&f, rc, "restore 2");
    s = mock_embed_state(f.mock);
    assert_int_equal(differences(s, daw_2, 1), 0);
    json_t *k = db_test_json_track(s, "Keys");
    assert_non_null(k);
    assert_int_equal(json_array_size(json_object_get(clip_of(k, 0), "notes")), 3);
    json_decref(s);

    json_decref(daw_1);
    json_decref(daw_2);
    fx_close(&f);
    temp_history_close(&th);
  }
  (void)st;
}

/* One AI request recorded by the companion as one undo step: the DAW's own undo runs first (fast path), then the
 * mirror is checked against the target and nothing is left. */
static void test_undo_fast_path_uses_the_daws_undo(void **st) {
  for (int d = 0; d < 2; d++) {
    struct fx f;
    fx_open(&f, dialects[d], 1);
    need_companion(&f);
    assert_int_equal(refresh(&f), 0);
    json_t *before = mirror(&f);
    assert_int_equal(wire_begin_request(&f.w, "add a kick"), 0);
    assert_int_equal(call(&f, "create_track", "{\"name\":\"Kick\",\"type\":\"midi\"}"), 0);
    char args[160];
    snprintf(args, sizeof args,
             "{\"track_id\":\"%s\",\"start_time\":0,\"duration\":4,\"notes\":[{\"n\":36,\"s\":0,\"d\":0.5,\"v\":110}]}",
             json_string_value(json_object_get(f.w.result, "track_id")));
    assert_int_equal(call(&f, "create_midi_clip", args), 0);
    assert_int_equal(wire_end_request(&f.w), 0);
    f.w.done = 0;
    assert_int_equal(undo_last_request(f.d, before, wire_on_result, &f.w), 0);
    int rc = wire_wait(&f.w, WAIT_MS);
    json_t *fp = json_object_get(f.w.result, "fast_path");
    if (rc || !json_is_true(json_object_get(fp, "ok")) || getenv("WIRE_VERBOSE")) print_result(&f, dialects[d]);
    assert_non_null(fp);
    json_t *daw = mock_embed_state(f.mock);
    if (deletes_tracks(dialects[d])) {
      /* the mirror equals the state before the request, whatever the fast path managed */
      assert_true(json_is_true(json_object_get(f.w.result, "complete")));
      assert_null(db_test_json_track(daw, "Kick"));
    } else {
      /* Ardour 7.3: the companion's undo removes the request's clip but cannot remove the track (nor can a tool
       * call): partial, the track named; nothing else is left */
      assert_track_not_reversible(&f, rc, "Kick");
      assert_non_null(db_test_json_track(daw, "Kick"));
      assert_int_equal(json_array_size(json_object_get(db_test_json_track(daw, "Kick"), "clips")), 0);
      assert_int_equal(json_array_size(json_object_get(f.w.result, "remaining")), 1);
    }
    json_decref(daw);
    json_decref(before);
    fx_close(&f);
  }
  (void)st;
}

/* ---- three-way undo: the musician's later edits stay ---- */

static int undo3(struct fx *f, const json_t *base, const json_t *result, unsigned flags) {
  f->w.done = 0;
  int rc = undo_three_way(f->d, base, result, flags, wire_on_result, &f->w);
  if (rc) return rc;
  rc = wire_wait(&f->w, WAIT_MS);
  if (getenv("WIRE_VERBOSE")) print_result(f, "undo3");
  return rc;
}

static double track_volume(json_t *state, const char *name) {
  json_t *t = db_test_json_track(state, name);
  assert_non_null(t);
  return json_number_value(json_object_get(t, "volume_db"));
}

/* Number of clips of the DAW's track `name` starting at `start` (beats). */
static size_t clips_at(json_t *state, const char *name, double start) {
  json_t *t = db_test_json_track(state, name);
  size_t n = 0, i;
  json_t *c;
  json_array_foreach(json_object_get(t, "clips"), i, c) n +=
      close_to(json_number_value(json_object_get(c, "start")), start);
  return n;
}

/* The AI iteration: a new track "Kick" with a clip, a clip on Bass at beat 12, and Bass's volume -> -3 dB.
 * Returns the state after it. */
static json_t *ai_iteration(struct fx *f) {
  assert_int_equal(call(f, "create_track", "{\"name\":\"Kick\",\"type\":\"midi\"}"), 0);
  char args[512];
  snprintf(args, sizeof args,
           "{\"track_id\":\"%s\",\"start_time\":0,\"duration\":4,\"notes\":[{\"n\":36,\"s\":0,\"d\":0.5,\"v\":110},"
           "{\"n\":36,\"s\":2,\"d\":0.5,\"v\":100}]}",
           json_string_value(json_object_get(f->w.result, "track_id")));
  assert_int_equal(call(f, "create_midi_clip", args), 0);
  snprintf(args, sizeof args,
           "{\"track_id\":\"%s\",\"start_time\":12,\"duration\":4,\"notes\":[{\"n\":40,\"s\":0,\"d\":1,\"v\":100}]}",
           mirror_track_id(f, "Bass"));
  assert_int_equal(call(f, "create_midi_clip", args), 0);
  snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"volume_db\":-3}", mirror_track_id(f, "Bass"));
  assert_int_equal(call(f, "set_track", args), 0);
  assert_int_equal(refresh(f), 0);
  return mirror(f);
}

/* The musician's own edits after the iteration (through the same DAW, recorded in no iteration): Drums renamed
 * "Kit", Vocals' volume -> -10 dB, Drums' first clip moved to beat 8 (the companion has no move: delete +
 * create with the same notes, as a DAW's "move" shows up in a snapshot anyway: the clip at 0 gone, one at 8). */
static void musician_edits(struct fx *f) {
  char args[4096];
  const char *drums = mirror_track_id(f, "Drums");
  assert_non_null(drums);
  json_t *m = mirror(f);
  json_t *clip = clip_of(db_test_json_track(m, "Drums"), 0);
  assert_non_null(clip);
  char *notes = json_dumps(json_object_get(clip, "notes"), JSON_COMPACT);
  snprintf(args, sizeof args, "{\"clip_id\":\"%s\"}", json_string_value(json_object_get(clip, "id")));
  assert_int_equal(call(f, "delete_clip", args), 0);
  snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"start_time\":8,\"duration\":%g,\"notes\":%s}", drums,
           json_number_value(json_object_get(clip, "length")), notes);
  free(notes);
  assert_int_equal(call(f, "create_midi_clip", args), 0);
  json_decref(m);
  snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"name\":\"Kit\"}", drums);
  assert_int_equal(call(f, "set_track", args), 0);
  snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"volume_db\":-10}", mirror_track_id(f, "Vocals"));
  assert_int_equal(call(f, "set_track", args), 0);
  assert_int_equal(refresh(f), 0);
}

/* A three-way case's start: the embedded mock with its companion, refreshed; *base = the mirror before the AI
 * iteration, *daw0 = the DAW's own state then (new references, released by close_three_way). */
static void open_three_way(struct fx *f, const char *dialect, json_t **base, json_t **daw0) {
  fx_open(f, dialect, 1);
  if (!daw_has_companion(f->d)) fail_msg("%s: the embedded mock's companion does not answer", dialect);
  assert_int_equal(refresh(f), 0);
  *base = mirror(f);
  *daw0 = mock_embed_state(f->mock);
}

static void close_three_way(struct fx *f, json_t *base, json_t *daw0, json_t *result) {
  json_decref(daw0);
  json_decref(base);
  json_decref(result);
  fx_close(f);
}

static void test_undo_keeps_the_musicians_edits(void **st) {
  for (int d = 0; d < 2; d++) {
    struct fx f;
    json_t *base, *daw0;
    open_three_way(&f, dialects[d], &base, &daw0);
    double bass0 = track_volume(daw0, "Bass"), vocals0 = track_volume(daw0, "Vocals");
    size_t drums_at0 = clips_at(daw0, "Drums", 0);
    assert_true(drums_at0 >= 1);
    assert_false(close_to(bass0, -3));
    json_t *result = ai_iteration(&f);
    musician_edits(&f);

    int rc = undo3(&f, base, result, UNDO_FAST_PATH);
    int no_delete = !deletes_tracks(dialects[d]);
    assert_undone_but_undeletable_track(&f, rc, dialects[d], "Kick");
    assert_int_equal(json_array_size(json_object_get(f.w.result, "conflicts")), 0);
    assert_null(json_object_get(f.w.result, "fast_path")); /* the session changed since: never the DAW's undo */
    json_t *s = mock_embed_state(f.mock);
    /* the AI's changes are gone (Ardour: but for the track it cannot remove, reported as failed above) */
    if (no_delete)
      assert_non_null(db_test_json_track(s, "Kick"));
    else
      assert_null(db_test_json_track(s, "Kick"));
    assert_int_equal(clips_at(s, "Bass", 12), 0);
    assert_true(close_to(track_volume(s, "Bass"), bass0));
    /* the musician's stay */
    assert_null(db_test_json_track(s, "Drums"));
    assert_non_null(db_test_json_track(s, "Kit"));
    assert_true(close_to(track_volume(s, "Vocals"), -10));
    assert_false(close_to(vocals0, -10));
    assert_int_equal(clips_at(s, "Kit", 8), 1);
    assert_int_equal(clips_at(s, "Kit", 0), drums_at0 - 1);
    assert_int_equal(daw_track_count(s), daw_track_count(daw0) + (size_t)no_delete);
    /* and "kept" names them */
    assert_true(json_array_size(json_object_get(f.w.result, "kept")) >= 3);
    json_decref(s);
    close_three_way(&f, base, daw0, result);
  }
  (void)st;
}

static void test_undo_conflict_stops_and_force_reverts(void **st) {
  for (int d = 0; d < 2; d++) {
    struct fx f;
    json_t *base, *daw0;
    open_three_way(&f, dialects[d], &base, &daw0);
    double bass0 = track_volume(daw0, "Bass");
    json_t *result = ai_iteration(&f);
    /* the musician changes the very volume the iteration changed */
    char args[256];
    snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"volume_db\":-10}", mirror_track_id(&f, "Bass"));
    assert_int_equal(call(&f, "set_track", args), 0);
    assert_int_equal(refresh(&f), 0);

    int rc = undo3(&f, base, result, UNDO_FAST_PATH);
    assert_int_equal(rc, UNDO_ECONFLICT);
    json_t *conf = json_object_get(f.w.result, "conflicts");
    assert_int_equal(json_array_size(conf), 1);
    json_t *c0 = json_array_get(conf, 0);
    assert_string_equal(json_string_value(json_object_get(c0, "where")), "track \"Bass\"");
    assert_string_equal(json_string_value(json_object_get(c0, "what")), "volume_db");
    assert_true(close_to(json_number_value(json_object_get(c0, "iteration")), -3));
    assert_true(close_to(json_number_value(json_object_get(c0, "now")), -10));
    assert_true(close_to(json_number_value(json_object_get(c0, "before")), bass0));
    assert_non_null(strstr(f.w.message, "--force"));
    /* nothing was sent: the AI's track and the musician's volume are both still there */
    json_t *s = mock_embed_state(f.mock);
    assert_non_null(db_test_json_track(s, "Kick"));
    assert_true(close_to(track_volume(s, "Bass"), -10));
    json_decref(s);

    /* --force: the iteration is reverted, the conflicting volume too */
    rc = undo3(&f, base, result, UNDO_FAST_PATH | UNDO_FORCE);
    int no_delete = !deletes_tracks(dialects[d]);
    assert_undone_but_undeletable_track(&f, rc, dialects[d], "Kick");
    assert_int_equal(json_array_size(json_object_get(f.w.result, "conflicts")), 1);
    assert_true(json_is_true(json_object_get(f.w.result, "forced")));
    s = mock_embed_state(f.mock);
    assert_true(close_to(track_volume(s, "Bass"), bass0));
    assert_int_equal(clips_at(s, "Bass", 12), 0);
    if (no_delete) {
      assert_non_null(db_test_json_track(s, "Kick"));
    } else {
      assert_null(db_test_json_track(s, "Kick"));
      assert_int_equal(differences(s, daw0, 1), 0);
    }
    json_decref(s);
    close_three_way(&f, base, daw0, result);
  }
  (void)st;
}

/* Nothing changed since the iteration: the DAW's own undo (fast path) is used, and the result is exact. */
static void test_undo_three_way_fast_path_only_when_untouched(void **st) {
  for (int d = 0; d < 2; d++) {
    struct fx f;
    json_t *base, *daw0;
    open_three_way(&f, dialects[d], &base, &daw0);
    assert_int_equal(wire_begin_request(&f.w, "add a kick"), 0);
    json_t *result = ai_iteration(&f);
    assert_int_equal(wire_end_request(&f.w), 0);
    int rc = undo3(&f, base, result, UNDO_FAST_PATH);
    assert_non_null(json_object_get(f.w.result, "fast_path"));
    json_t *s = mock_embed_state(f.mock);
    assert_undone_but_undeletable_track(&f, rc, dialects[d], "Kick");
    if (deletes_tracks(dialects[d]))
      assert_int_equal(differences(s, daw0, 1), 0);
    else /* Ardour 7.3: everything reverted but the new track, which is named */
      assert_same_music_but_track(s, daw0, "Kick");
    json_decref(s);
    close_three_way(&f, base, daw0, result);
  }
  (void)st;
}

/* restore N over several iterations keeps the musician's edits too (native OSC only, both dialects, no
 * companion): iteration 2 sets Bass's volume, iteration 3 mutes Drums; then Vocals is renamed by hand; restoring
 * 1 takes back both iterations and keeps the rename. */
static void test_undo_restore_keeps_the_musicians_edits(void **st) {
  for (int d = 0; d < 2; d++) {
    struct fx f;
    fx_open(&f, dialects[d], 0);
    assert_int_equal(refresh(&f), 0);
    json_t *one = mirror(&f);
    json_t *daw0 = mock_embed_state(f.mock);
    char args[256];
    snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"volume_db\":-12}", mirror_track_id(&f, "Bass"));
    assert_int_equal(call(&f, "set_track", args), 0);
    snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"mute\":true}", mirror_track_id(&f, "Drums"));
    assert_int_equal(call(&f, "set_track", args), 0);
    assert_int_equal(refresh(&f), 0);
    json_t *three = mirror(&f);
    snprintf(args, sizeof args, "{\"track_id\":\"%s\",\"name\":\"Voice\"}", mirror_track_id(&f, "Vocals"));
    assert_int_equal(call(&f, "set_track", args), 0);
    int rc = undo3(&f, one, three, 0);
    assert_undo_ok(&f, rc, dialects[d]);
    json_t *s = mock_embed_state(f.mock);
    assert_true(close_to(track_volume(s, "Bass"), track_volume(daw0, "Bass")));
    assert_false(json_is_true(json_object_get(db_test_json_track(s, "Drums"), "mute")));
    assert_non_null(db_test_json_track(s, "Voice"));
    assert_null(db_test_json_track(s, "Vocals"));
    json_decref(s);
    json_decref(daw0);
    json_decref(one);
    json_decref(three);
    fx_close(&f);
  }
  (void)st;
}

static void test_undo_bad_arguments(void **st) {
  static const char *const bad_targets[] = {"[]", "{'tempo': 3}"}; /* not an object; not a session state */
  struct fx f;
  fx_open(&f, "reaper", 0);
  for (size_t i = 0; i < sizeof bad_targets / sizeof *bad_targets; i++) {
    json_t *target = J(bad_targets[i]);
    assert_int_equal(undo_to_state(f.d, target, wire_on_result, &f.w), UNDO_EINVAL);
    json_decref(target);
  }
  assert_string_equal(undo_strerror(UNDO_EPARTIAL), "only partly restored");
  fx_close(&f);
  (void)st;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_undo_set_track_each_property),
      cmocka_unit_test(test_undo_set_tempo_reaper),
      cmocka_unit_test(test_undo_ardour_tempo_unsupported_rest_done),
      cmocka_unit_test(test_undo_markers),
      cmocka_unit_test(test_undo_effect_param_and_bypass),
      cmocka_unit_test(test_undo_reaper_without_companion_reports_and_does_the_rest),
      cmocka_unit_test(test_undo_companion_tools),
      cmocka_unit_test(test_undo_restore_across_iterations),
      cmocka_unit_test(test_undo_restore_across_iterations_companion),
      cmocka_unit_test(test_undo_fast_path_uses_the_daws_undo),
      cmocka_unit_test(test_undo_bad_arguments),
      cmocka_unit_test(test_undo_keeps_the_musicians_edits),
      cmocka_unit_test(test_undo_conflict_stops_and_force_reverts),
      cmocka_unit_test(test_undo_three_way_fast_path_only_when_untouched),
      cmocka_unit_test(test_undo_restore_keeps_the_musicians_edits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
