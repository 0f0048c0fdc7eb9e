/* Bridge (daw_t: native OSC + companion) <-> in-process mock DAW with its companion, over real UDP and a real spool
 * directory, both dialects: the seed workflow (MIDI track with an instrument, a clip with exact notes, a reverb)
 * confirmed and visible in the DAW's own state; companion absent -> a clear install message and fewer
 * capabilities; a lost reply -> retried with the same id, executed once; a command file of a previous run is never
 * executed. */
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
#include <time.h>
#include <unistd.h>

#include "companion.h"
#include "daw.h"
#include "mock_embed.h"
#include "db_test_json.h"
#include "wire_fixture.h"

static const char *const dialects[] = {"reaper", "ardour"};

/* The hosts' limits (the mock follows the real hosts): Ardour 7.3's Lua bindings cannot remove a track
 * (osc-maps/companions/README.md); REAPER can. */
static int hosts_delete_tracks(const char *dialect) {
  static const struct {
    const char *dialect;
    int deletes_tracks;
  } hosts[] = {{"reaper", 1}, {"ardour", 0}};
  for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++)
    if (!strcmp(hosts[i].dialect, dialect)) return hosts[i].deletes_tracks;
  fail_msg("no host limits for dialect %s", dialect);
  return 0;
}

/* The wire fixture's loop, mock and log, with a daw_t in place of its bare sync. */
#define WAIT_MS 60000

struct tc {
  struct wire w;
  daw_t *d;
  mock_embed_t *embed; /* the embedded-mock test: the mock behind d (app/mock_embed.h) */
  char spool[512];
  int closed;
};

static void make_spool(struct tc *t) {
  const char *tmp = getenv("TMPDIR");
  snprintf(t->spool, sizeof t->spool, "%s/dawbridge-comptest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  assert_non_null(mkdtemp(t->spool));
}

struct open_opts {
  const char *dialect;
  int tracks;
  int mock_companion;   /* the mock runs the companion (else: companion absent) */
  int timeout_ms;       /* companion per-attempt timeout, 0 = default */
  const char *stale_id; /* a command file of a "previous run" placed before the bridge starts */
  const char *spool;    /* the spool of an earlier run to start on (else a new one) */
};

static void write_cmd(const char *spool, const char *id, const char *op, const char *args, long long deadline) {
  char p[1024];
  snprintf(p, sizeof p, "%s/in", spool);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/in/%s.json", spool, id);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fprintf(f, "{\"id\":\"%s\",\"op\":\"%s\",\"args\":%s,\"deadline_ms\":%lld}", id, op, args, deadline);
  fclose(f);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens daw + mock (the mock's companion on the same spool) and runs daw_start; returns daw_start's status. */
static int tc_open(struct tc *t, const struct open_opts *o) {
  memset(t, 0, sizeof *t);
  t->w.dialect = o->dialect;
  uv_loop_init(&t->w.loop);
  if (o->spool)
    snprintf(t->spool, sizeof t->spool, "%s", o->spool);
  else
    make_spool(t);
  if (o->stale_id)
    write_cmd(t->spool, o->stale_id, "create_track", "{\"name\":\"Ghost\",\"type\":\"audio\"}", now_ms() - 60000);
  struct daw_config cfg = {.dialect = o->dialect,
                           .port = 9,
                           .listen_port = 0,
                           .confirm_timeout_ms = -1,
                           .retries = -1,
                           .refresh_interval_ms = 0,
                           .spool_dir = t->spool,
                           .companion_timeout_ms = o->timeout_ms,
                           .log = {.fn = wire_log, .data = &t->w, .level = LOG_DEBUG}};
  char err[512];
  int rc = daw_open(&t->w.loop, &cfg, &t->d, err, sizeof err);
  if (rc) fail_msg("daw_open: %s", err);
  t->w.daw = t->d;
  struct mock_config mc = {.dialect = o->dialect,
                           .port = 0,
                           .feedback_port = sync_listen_port(daw_sync(t->d)),
                           .tracks = o->tracks,
                           .spool_dir = o->mock_companion ? t->spool : NULL,
                           .quiet = !getenv("WIRE_VERBOSE")};
  rc = mock_new(&t->w.loop, &mc, &t->w.mock, err, sizeof err);
  if (rc) fail_msg("mock: %s", err);
  sync_set_daw(daw_sync(t->d), "127.0.0.1", mock_port(t->w.mock));
  t->w.done = 0;
  assert_int_equal(daw_start(t->d, wire_on_result, &t->w), 0);
  rc = wire_wait(&t->w, WAIT_MS);
  if (rc) fprintf(stderr, "start: %s\nlog:\n%s\n", t->w.message, t->w.log);
  if (getenv("WIRE_VERBOSE")) {
    char *js = json_dumps(t->w.result, 0);
    fprintf(stderr, "start result: %s\n", js);
    free(js);
  }
  return rc;
}

static int close_pending;
static void on_closed(void *data) {
  (void)data;
  close_pending--;
}

static void rm_spool(const char *spool) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", spool);
  assert_int_equal(system(cmd), 0);
}

static void tc_close(struct tc *t) {
  close_pending = 0;
  if (t->d) {
    close_pending++;
    daw_close(t->d, on_closed, NULL);
  }
  if (t->w.mock) {
    close_pending++;
    mock_close(t->w.mock, on_closed, NULL);
  }
  if (t->embed) {
    close_pending++;
    mock_embed_close(t->embed, on_closed, NULL);
  }
  uv_run(&t->w.loop, UV_RUN_DEFAULT);
  assert_int_equal(close_pending, 0);
  assert_int_equal(uv_loop_close(&t->w.loop), 0);
  json_decref(t->w.result);
  t->w.result = NULL;
  if (t->spool[0]) rm_spool(t->spool);
}

static const char *rs(struct tc *t, const char *key) { return json_string_value(json_object_get(t->w.result, key)); }

static int count_named(json_t *st, const char *name) {
  int n = 0;
  size_t i;
  json_t *tr;
  json_array_foreach(json_object_get(st, "tracks"), i, tr) n +=
      !strcmp(json_string_value(json_object_get(tr, "name")), name);
  return n;
}

static void expect_ok(struct tc *t, int rc, const char *what) {
  if (rc) fail_msg("%s: %s failed (%d): %s\nlog:\n%s", t->w.dialect, what, rc, t->w.message, t->w.log);
}

/* ---------------------------------------------------------------- the seed workflow */

static void test_companion_seed_workflow_both_dialects(void **st) {
  (void)st;
  for (int di = 0; di < 2; di++) {
    struct tc t;
    struct open_opts o = {.dialect = dialects[di], .tracks = 2, .mock_companion = 1};
    assert_int_equal(tc_open(&t, &o), 0);
    assert_true(json_is_true(json_object_get(t.w.result, "companion")));
    assert_true(daw_has_companion(t.d));
    /* the capability list offers the companion's tools */
    assert_true(wire_offers(&t.w, "create_midi_clip"));
    assert_true(wire_offers(&t.w, "add_effect"));
    /* host ids of the existing tracks came from the companion's state */
    assert_non_null(session_track_host_id(daw_session(t.d), 1));

    expect_ok(&t, wire_begin_request(&t.w, "add a kick"), "begin_request");

    expect_ok(&t, wire_callf(&t.w, "create_track", "{\"name\":\"Kick\",\"type\":\"midi\",\"instrument\":\"synth\"}"),
              "create_track");
    assert_string_equal(rs(&t, "status"), "confirmed");
    assert_string_equal(rs(&t, "via"), "companion");
    char track_id[16];
    snprintf(track_id, sizeof track_id, "%s", rs(&t, "track_id"));
    int ti = session_track_index_by_id(daw_session(t.d), track_id);
    assert_int_equal(ti, 3);
    assert_string_equal(session_track_name(daw_session(t.d), ti), "Kick");
    assert_non_null(session_track_host_id(daw_session(t.d), ti));
    assert_non_null(rs(&t, "instrument"));

    expect_ok(&t,
              wire_callf(&t.w, "create_midi_clip",
                         "{\"track_id\":\"%s\",\"start_time\":4,\"duration\":4,\"name\":\"kick\",\"notes\":"
                         "[{\"n\":36,\"s\":0,\"d\":0.5,\"v\":110},{\"n\":36,\"s\":2,\"d\":0.5,\"v\":100}]}",
                         track_id),
              "create_midi_clip");
    assert_string_equal(rs(&t, "status"), "confirmed");
    char clip_id[32];
    snprintf(clip_id, sizeof clip_id, "%s", rs(&t, "clip_id"));
    assert_true(clip_id[0] == 'c');
    assert_string_equal(rs(&t, "track_id"), track_id);

    expect_ok(&t, wire_callf(&t.w, "add_effect", "{\"track_id\":\"%s\",\"effect_name\":\"reverb\"}", track_id),
              "add_effect");
    assert_int_equal(json_integer_value(json_object_get(t.w.result, "effect_index")), 2); /* the synth is 1 */
    assert_non_null(strstr(rs(&t, "name"), di == 0 ? "ReaVerbate" : "ACE Reverb"));
    assert_string_equal(rs(&t, "confirmed_by"), "osc");

    expect_ok(&t, wire_end_request(&t.w), "end_request");

    /* the replies came the way the dialect's map says: REAPER by file, Ardour by OSC on the bridge's socket */
    struct companion_stats cst;
    companion_get_stats(daw_companion(t.d), &cst);
    if (di == 0)
      assert_true(cst.replies_file > 0 && cst.replies_osc == 0);
    else
      assert_true(cst.replies_osc > 0);
    /* the DAW's own state: the track, its instrument, the exact notes, the chain */
    json_t *ms = mock_state(t.w.mock);
    json_t *kick = db_test_json_track(ms, "Kick");
    assert_non_null(kick);
    assert_string_equal(json_string_value(json_object_get(kick, "type")), "midi");
    assert_non_null(json_string_value(json_object_get(kick, "instrument")));
    json_t *clips = json_object_get(kick, "clips");
    assert_int_equal(json_array_size(clips), 1);
    json_t *notes = json_object_get(json_array_get(clips, 0), "notes");
    assert_int_equal(json_array_size(notes), 2);
    const double want_s[2] = {0, 2};
    const int want_v[2] = {110, 100};
    for (size_t k = 0; k < 2; k++) {
      json_t *n = json_array_get(notes, k);
      assert_int_equal(json_integer_value(json_object_get(n, "n")), 36);
      assert_true(fabs(json_number_value(json_object_get(n, "s")) - want_s[k]) < 1e-9);
      assert_true(fabs(json_number_value(json_object_get(n, "d")) - 0.5) < 1e-9);
      assert_int_equal(json_integer_value(json_object_get(n, "v")), want_v[k]);
    }
    assert_true(fabs(json_number_value(json_object_get(json_array_get(clips, 0), "start")) - 4) < 1e-9);
    json_t *fx = json_object_get(kick, "fx");
    assert_int_equal(json_array_size(fx), 2);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(fx, 1), "name")),
                           di == 0 ? "ReaVerbate" : "ACE Reverb"));
    json_decref(ms);

    /* the mirror agrees: clip with its notes, the whole chain */
    int cti = 0;
    const json_t *mc = session_clip_find(daw_session(t.d), clip_id, &cti);
    assert_non_null(mc);
    assert_int_equal(cti, ti);
    assert_int_equal(json_array_size(json_object_get(mc, "notes")), 2);
    assert_int_equal(session_track_fx_count(daw_session(t.d), ti), 2);

    /* the rest of the companion's tools: edit (add + remove), transpose, remove_effect, delete_clip, delete_track */
    expect_ok(&t,
              wire_callf(&t.w, "edit_clip",
                         "{\"clip_id\":\"%s\",\"add_notes\":[{\"n\":38,\"s\":1,\"d\":0.5,\"v\":90}],"
                         "\"remove_notes\":[{\"n\":36,\"s\":2}]}",
                         clip_id),
              "edit_clip");
    assert_int_equal(json_integer_value(json_object_get(t.w.result, "notes")), 2);
    assert_string_equal(json_string_value(json_object_get(t.w.result, "track_id")), track_id); /* the clip's track */
    expect_ok(&t, wire_callf(&t.w, "edit_clip", "{\"clip_id\":\"%s\",\"transpose\":12}", clip_id),
              "edit_clip transpose");
    ms = mock_state(t.w.mock);
    notes = json_object_get(json_array_get(json_object_get(db_test_json_track(ms, "Kick"), "clips"), 0), "notes");
    assert_int_equal(json_array_size(notes), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(notes, 0), "n")), 48);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(notes, 1), "n")), 50);
    json_decref(ms);
    /* a note that is not there: the companion's words, nothing changed */
    assert_int_equal(
        wire_callf(&t.w, "edit_clip", "{\"clip_id\":\"%s\",\"remove_notes\":[{\"n\":99,\"s\":0}]}", clip_id),
        DAW_EREJECTED);
    assert_non_null(strstr(t.w.message, "99"));

    expect_ok(&t, wire_callf(&t.w, "remove_effect", "{\"track_id\":\"%s\",\"effect_index\":2}", track_id),
              "remove_effect");
    assert_int_equal(session_track_fx_count(daw_session(t.d), ti), 1);
    expect_ok(&t, wire_callf(&t.w, "delete_clip", "{\"clip_id\":\"%s\"}", clip_id), "delete_clip");
    assert_string_equal(json_string_value(json_object_get(t.w.result, "track_id")), track_id);
    assert_null(session_clip_find(daw_session(t.d), clip_id, NULL));
    ms = mock_state(t.w.mock);
    assert_int_equal(json_array_size(json_object_get(db_test_json_track(ms, "Kick"), "clips")), 0);
    json_decref(ms);
    /* delete_track: REAPER deletes; Ardour 7.3's Lua cannot remove a track, so it is not offered and a call is
     * refused with the host's reason, the track untouched */
    int deletes = hosts_delete_tracks(dialects[di]);
    assert_int_equal(wire_offers(&t.w, "delete_track"), deletes);
    if (deletes) {
      expect_ok(&t, wire_callf(&t.w, "delete_track", "{\"track_id\":\"%s\"}", track_id), "delete_track");
      assert_int_equal(session_track_count(daw_session(t.d)), 2);
    } else {
      assert_int_equal(wire_callf(&t.w, "delete_track", "{\"track_id\":\"%s\"}", track_id), DAW_EUNSUPPORTED);
      assert_non_null(strstr(t.w.message, "Ardour 7.3 cannot delete tracks"));
      assert_int_equal(session_track_count(daw_session(t.d)), 3);
    }
    ms = mock_state(t.w.mock);
    if (deletes)
      assert_null(db_test_json_track(ms, "Kick"));
    else
      assert_non_null(db_test_json_track(ms, "Kick"));
    json_decref(ms);
    /* an unknown clip is refused before anything is sent */
    assert_int_equal(wire_callf(&t.w, "delete_clip", "{\"clip_id\":\"c999\"}"), DAW_ENOTRACK);
    tc_close(&t);
  }
}

/* ---------------------------------------------------------------- companion absent */

static void test_companion_absent_clear_error_and_fewer_capabilities(void **st) {
  (void)st;
  for (int di = 0; di < 2; di++) {
    struct tc t;
    struct open_opts o = {.dialect = dialects[di], .tracks = 2, .mock_companion = 0};
    assert_int_equal(tc_open(&t, &o), 0);
    assert_true(json_is_false(json_object_get(t.w.result, "companion")));
    const char *e = rs(&t, "companion_error");
    assert_non_null(e);
    assert_non_null(strstr(e, "companion not running"));
    assert_non_null(strstr(e, "install it like this"));
    assert_non_null(strstr(e, di == 0 ? "Load ReaScript" : "install-gui-hook.sh"));
    assert_non_null(strstr(e, t.spool));
    assert_false(daw_has_companion(t.d));
    assert_false(wire_offers(&t.w, "create_midi_clip"));
    assert_false(wire_offers(&t.w, "add_effect"));
    assert_true(wire_offers(&t.w, "set_track"));
    /* REAPER can still insert a track natively; Ardour cannot */
    assert_int_equal(wire_offers(&t.w, "create_track"), di == 0);
    assert_non_null(strstr(daw_unavailable_reason(t.d, "add_effect"), "install it like this"));
    assert_int_equal(
        wire_callf(&t.w, "create_midi_clip",
                   "{\"track_id\":\"t1\",\"start_time\":0,\"duration\":4,\"notes\":[{\"n\":60,\"s\":0,\"d\":1}]}"),
        DAW_EUNSUPPORTED);
    assert_non_null(strstr(t.w.message, "install"));
    if (di == 0) {
      /* the native fallback: a plain track without the companion */
      expect_ok(&t, wire_callf(&t.w, "create_track", "{\"name\":\"Plain\",\"type\":\"audio\"}"), "native create_track");
      assert_string_equal(rs(&t, "via"), "osc");
      /* an instrument needs the companion */
      assert_int_equal(wire_callf(&t.w, "create_track", "{\"name\":\"K\",\"type\":\"midi\",\"instrument\":\"synth\"}"),
                       DAW_EUNSUPPORTED);
    }
    /* begin/end request without a companion: no-ops */
    assert_int_equal(wire_begin_request(&t.w, "x"), 0);
    tc_close(&t);
  }
}

/* ---------------------------------------------------------------- get_notes (a read tool) */

/* The notes of `clip` (a result's clips[k]) sorted as "n@s:d:v" strings joined, for exact comparison. */
static void notes_key(const json_t *notes, char *out, size_t outlen) {
  char items[64][48];
  size_t n = json_array_size(notes) < 64 ? json_array_size(notes) : 64;
  for (size_t i = 0; i < n; i++) {
    const json_t *x = json_array_get(notes, i);
    snprintf(items[i], sizeof items[i], "%03lld@%08.3f:%.3f:%lld",
             (long long)json_integer_value(json_object_get(x, "n")), json_number_value(json_object_get(x, "s")),
             json_number_value(json_object_get(x, "d")), (long long)json_integer_value(json_object_get(x, "v")));
  }
  qsort(items, n, sizeof items[0], (int (*)(const void *, const void *))strcmp);
  out[0] = 0;
  for (size_t i = 0; i < n; i++) {
    strncat(out, items[i], outlen - strlen(out) - 1);
    strncat(out, " ", outlen - strlen(out) - 1);
  }
}

/* The notes of the mock's clip that starts at `start` on the track named `track` (the DAW's own state). */
static void mock_clip_notes(struct tc *t, const char *track, double start, char *out, size_t outlen) {
  json_t *st = mock_state(t->w.mock);
  json_t *tr = db_test_json_track(st, track);
  assert_non_null(tr);
  size_t i;
  json_t *c;
  out[0] = 0;
  json_array_foreach(json_object_get(tr, "clips"), i, c) {
    if (fabs(json_number_value(json_object_get(c, "start")) - start) < 1e-6)
      notes_key(json_object_get(c, "notes"), out, outlen);
  }
  json_decref(st);
}

/* get_notes reads the notes back from the DAW (both dialects): one clip, every clip of a track, a range; the
 * result equals what was written and what the DAW holds, not what the mirror says; bad arguments and a missing
 * companion are clear errors. */
static void test_companion_get_notes_both_dialects(void **st) {
  (void)st;
  static const char *const written = "[{\"n\":60,\"s\":0,\"d\":1,\"v\":100},{\"n\":64,\"s\":1,\"d\":0.5,\"v\":90},{"
                                     "\"n\":67,\"s\":2.5,\"d\":1.5,\"v\":80},"
                                     "{\"n\":72,\"s\":7,\"d\":1,\"v\":70}]";
  for (int di = 0; di < 2; di++) {
    struct tc t;
    struct open_opts o = {.dialect = dialects[di], .tracks = 2, .mock_companion = 1};
    assert_int_equal(tc_open(&t, &o), 0);
    assert_true(wire_offers(&t.w, "get_notes"));

    expect_ok(&t, wire_callf(&t.w, "create_track", "{\"name\":\"Keys\",\"type\":\"midi\"}"), "create_track");
    char tid[16];
    snprintf(tid, sizeof tid, "%s", rs(&t, "track_id"));
    expect_ok(&t,
              wire_callf(&t.w, "create_midi_clip", "{\"track_id\":\"%s\",\"start_time\":4,\"duration\":8,\"notes\":%s}",
                         tid, written),
              "create_midi_clip");
    char cid[32];
    snprintf(cid, sizeof cid, "%s", rs(&t, "clip_id"));
    expect_ok(
        &t,
        wire_callf(
            &t.w, "create_midi_clip",
            "{\"track_id\":\"%s\",\"start_time\":16,\"duration\":4,\"notes\":[{\"n\":48,\"s\":0,\"d\":4,\"v\":60}]}",
            tid),
        "second clip");
    char cid2[32];
    snprintf(cid2, sizeof cid2, "%s", rs(&t, "clip_id"));

    json_error_t je;
    json_t *w = json_loads(written, 0, &je);
    char want[2048], got[2048], daw[2048];
    notes_key(w, want, sizeof want);
    json_decref(w);
    mock_clip_notes(&t, "Keys", 4, daw, sizeof daw);
    assert_string_equal(daw, want);

    /* the mirror is made wrong on purpose: get_notes must answer from the DAW, and repair the mirror */
    {
      const json_t *mc = session_clip_find(daw_session(t.d), cid, NULL);
      json_t *bad = json_pack("{s:O,s:f,s:f,s:[{s:i,s:f,s:f,s:i}]}", "host_id", json_object_get(mc, "host_id"), "start",
                              4.0, "length", 8.0, "notes", "n", 1, "s", 0.0, "d", 1.0, "v", 1);
      struct session_update u = {
          .index = session_track_index_by_id(daw_session(t.d), tid), .field = SF_CLIP_PUT, .json = bad};
      char e[256];
      assert_int_equal(session_apply(daw_session(t.d), &u, e, sizeof e), 0);
      json_decref(bad);
    }

    /* one clip */
    expect_ok(&t, wire_callf(&t.w, "get_notes", "{\"track_id\":\"%s\",\"clip_id\":\"%s\"}", tid, cid),
              "get_notes clip");
    assert_string_equal(rs(&t, "status"), "confirmed");
    assert_string_equal(rs(&t, "via"), "companion");
    assert_string_equal(rs(&t, "track_id"), tid);
    json_t *clips = json_object_get(t.w.result, "clips");
    assert_int_equal(json_array_size(clips), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(clips, 0), "clip_id")), cid);
    assert_true(fabs(json_number_value(json_object_get(json_array_get(clips, 0), "start")) - 4) < 1e-6);
    notes_key(json_object_get(json_array_get(clips, 0), "notes"), got, sizeof got);
    assert_string_equal(got, want);
    assert_int_equal(json_integer_value(json_object_get(t.w.result, "note_count")), 4);
    notes_key(json_object_get(session_clip_find(daw_session(t.d), cid, NULL), "notes"), got, sizeof got);
    assert_string_equal(got, want); /* the mirror took what was read */

    /* every clip of the track (by name), from the companion's state */
    expect_ok(&t, wire_callf(&t.w, "get_notes", "{\"track_id\":\"Keys\"}"), "get_notes track");
    clips = json_object_get(t.w.result, "clips");
    assert_int_equal(json_array_size(clips), 2);
    assert_int_equal(json_integer_value(json_object_get(t.w.result, "note_count")), 5);
    int seen = 0;
    size_t i;
    json_t *v;
    json_array_foreach(clips, i, v) {
      const char *c = json_string_value(json_object_get(v, "clip_id"));
      notes_key(json_object_get(v, "notes"), got, sizeof got);
      if (!strcmp(c, cid)) {
        assert_string_equal(got, want);
        seen |= 1;
      } else if (!strcmp(c, cid2)) {
        assert_string_equal(got, "048@0000.000:4.000:60 ");
        seen |= 2;
      }
    }
    assert_int_equal(seen, 3);

    /* a range in beats from the project start: notes starting in [5, 11) -> s 1 and 2.5 of the first clip */
    expect_ok(&t, wire_callf(&t.w, "get_notes", "{\"track_id\":\"%s\",\"start\":5,\"end\":11}", tid),
              "get_notes range");
    assert_int_equal(json_integer_value(json_object_get(t.w.result, "note_count")), 2);
    clips = json_object_get(t.w.result, "clips");
    json_array_foreach(clips, i, v) {
      if (!strcmp(json_string_value(json_object_get(v, "clip_id")), cid)) {
        notes_key(json_object_get(v, "notes"), got, sizeof got);
        assert_string_equal(got, "064@0001.000:0.500:90 067@0002.500:1.500:80 ");
      } else {
        assert_int_equal(json_array_size(json_object_get(v, "notes")), 0);
      }
    }

    /* a read changes nothing in the DAW */
    mock_clip_notes(&t, "Keys", 4, daw, sizeof daw);
    assert_string_equal(daw, want);

    /* bad arguments: clear errors, nothing sent */
    assert_int_equal(wire_callf(&t.w, "get_notes", "{\"track_id\":\"%s\",\"start\":8,\"end\":8}", tid), DAW_EINVAL);
    assert_non_null(strstr(t.w.message, "end (8) must be after start (8)"));
    assert_int_equal(wire_callf(&t.w, "get_notes", "{\"track_id\":\"t1\",\"clip_id\":\"%s\"}", cid), DAW_EINVAL);
    assert_non_null(strstr(t.w.message, "is on track"));
    assert_int_equal(wire_callf(&t.w, "get_notes", "{\"track_id\":\"%s\",\"clip_id\":\"c999\"}", tid), DAW_ENOTRACK);
    assert_int_equal(wire_callf(&t.w, "get_notes", "{\"clip_id\":\"%s\"}", cid), DAW_EINVAL);
    assert_non_null(strstr(t.w.message, "missing required argument 'track_id'"));
    assert_int_equal(wire_callf(&t.w, "get_notes", "{\"track_id\":\"%s\",\"bars\":[1,2]}", tid), DAW_EINVAL);

    /* get_state of one track */
    expect_ok(&t, wire_callf(&t.w, "get_state", "{\"track_id\":\"%s\"}", tid), "get_state track");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.w.result, "track"), "name")), "Keys");
    json_t *tracks = json_object_get(json_object_get(json_object_get(t.w.result, "state"), "session"), "tracks");
    assert_int_equal(json_array_size(tracks), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tracks, 0), "id")), tid);
    expect_ok(&t, wire_callf(&t.w, "get_state", "{}"), "get_state all");
    tracks = json_object_get(json_object_get(json_object_get(t.w.result, "state"), "session"), "tracks");
    assert_int_equal(json_array_size(tracks), 3);
    tc_close(&t);

    /* without the companion: not offered, and a call says what to install */
    struct open_opts o2 = {.dialect = dialects[di], .tracks = 2, .mock_companion = 0};
    assert_int_equal(tc_open(&t, &o2), 0);
    assert_false(wire_offers(&t.w, "get_notes"));
    assert_int_equal(wire_callf(&t.w, "get_notes", "{\"track_id\":\"t1\"}"), DAW_EUNSUPPORTED);
    assert_non_null(strstr(t.w.message, "companion"));
    tc_close(&t);
  }
}

/* ---------------------------------------------------------------- companion absent: remembered */

/* A failed ping is remembered: refreshes and native calls send nothing to the spool and wait for nothing; a
 * companion tool fails at once; the next start on the same spool (the next CLI call) pings once, briefly. */
static void test_companion_absent_remembered_no_wait(void **st) {
  (void)st;
  for (int di = 0; di < 2; di++) {
    struct tc t;
    struct open_opts o = {.dialect = dialects[di], .tracks = 2, .mock_companion = 0};
    assert_int_equal(tc_open(&t, &o), 0);
    assert_false(daw_has_companion(t.d));
    struct companion_stats a, b;
    companion_get_stats(daw_companion(t.d), &a);
    for (int i = 0; i < 3; i++) {
      expect_ok(&t, wire_refresh(&t.w), "refresh");
      assert_true(json_is_false(json_object_get(t.w.result, "companion")));
    }
    expect_ok(&t, wire_callf(&t.w, "set_track", "{\"track_id\":\"t1\",\"mute\":true}"), "set_track");
    assert_int_equal(wire_callf(&t.w, "add_effect", "{\"track_id\":\"t1\",\"effect_name\":\"reverb\"}"),
                     DAW_EUNSUPPORTED);
    companion_get_stats(daw_companion(t.d), &b);
    assert_int_equal(b.sent, a.sent); /* no ping per refresh or per command */
    assert_int_equal(b.attempts, a.attempts);
    if (di == 1) {
      /* Ardour (no trigger): the ping waited for an answer; the spool remembers that nobody answered */
      char p[1100];
      snprintf(p, sizeof p, "%s/ping.absent", t.spool);
      for (int i = 0; i < 100 && access(p, F_OK) != 0; i++) wire_run_for(&t.w, 20); /* written on the loop */
      assert_int_equal(access(p, F_OK), 0);
      assert_int_equal(a.attempts, 2);
    }
    /* the next start on this spool: one short ping attempt, not the full two */
    char keep[512];
    snprintf(keep, sizeof keep, "%s", t.spool);
    t.spool[0] = 0;
    tc_close(&t);
    struct tc t2;
    struct open_opts o2 = {.dialect = dialects[di], .tracks = 2, .spool = keep};
    expect_ok(&t2, tc_open(&t2, &o2), "second start");
    struct companion_stats c2;
    companion_get_stats(daw_companion(t2.d), &c2);
    assert_int_equal(c2.attempts, di == 1 ? 1 : 1);
    tc_close(&t2);
  }
}

/* ---------------------------------------------------------------- reply lost */

static void test_companion_lost_reply_retried_without_duplicate(void **st) {
  (void)st;
  for (int di = 0; di < 2; di++) {
    struct tc t;
    struct open_opts o = {.dialect = dialects[di], .tracks = 2, .mock_companion = 1, .timeout_ms = 600};
    assert_int_equal(tc_open(&t, &o), 0);
    assert_true(daw_has_companion(t.d));
    struct companion_stats before, after;
    companion_get_stats(daw_companion(t.d), &before);
    assert_int_equal(mock_companion_drop_replies(t.w.mock, 1), MOCK_OK);
    expect_ok(
        &t,
        wire_callf(
            &t.w, "create_midi_clip",
            "{\"track_id\":\"t1\",\"start_time\":0,\"duration\":4,\"notes\":[{\"n\":60,\"s\":0,\"d\":1,\"v\":90}]}"),
        "create_midi_clip after a lost reply");
    companion_get_stats(daw_companion(t.d), &after);
    assert_true(after.retries >= before.retries + 1);
    json_t *ms = mock_state(t.w.mock);
    json_t *tr = json_array_get(json_object_get(ms, "tracks"), 0);
    assert_int_equal(json_array_size(json_object_get(tr, "clips")), 1); /* executed once */
    json_decref(ms);
    tc_close(&t);
  }
}

/* Every reply lost (the change ran, the companion's words never arrive): the outcome is "uncertain" - never
 * "confirmed", never a failure - and the same id was retried, so the DAW ran it once. */
static void test_companion_no_reply_is_uncertain(void **st) {
  (void)st;
  for (int di = 0; di < 2; di++) {
    struct tc t;
    struct open_opts o = {.dialect = dialects[di], .tracks = 2, .mock_companion = 1, .timeout_ms = 300};
    assert_int_equal(tc_open(&t, &o), 0);
    assert_int_equal(mock_companion_drop_replies(t.w.mock, 3), MOCK_OK); /* the first attempt and both retries */
    int rc = wire_callf(
        &t.w, "create_midi_clip",
        "{\"track_id\":\"t1\",\"start_time\":0,\"duration\":4,\"notes\":[{\"n\":60,\"s\":0,\"d\":1,\"v\":90}]}");
    if (rc) fail_msg("%s: expected status 0 (uncertain), got %d: %s", t.w.dialect, rc, t.w.message);
    assert_string_equal(rs(&t, "status"), "uncertain");
    assert_non_null(strstr(rs(&t, "reason"), "no reply"));
    json_t *ms = mock_state(t.w.mock);
    json_t *tr = json_array_get(json_object_get(ms, "tracks"), 0);
    assert_int_equal(json_array_size(json_object_get(tr, "clips")), 1); /* ran once, despite three sends */
    json_decref(ms);
    tc_close(&t);
  }
}

/* ---------------------------------------------------------------- stale command files */

static void test_companion_stale_command_not_executed(void **st) {
  (void)st;
  for (int di = 0; di < 2; di++) {
    struct tc t;
    /* a command from a "previous run" that sorts before anything this run sends */
    struct open_opts o = {
        .dialect = dialects[di], .tracks = 2, .mock_companion = 1, .stale_id = "19990101T000000.000-1-000001"};
    assert_int_equal(tc_open(&t, &o), 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/in/%s.json", t.spool, o.stale_id);
    assert_int_not_equal(access(p, F_OK), 0); /* removed at start */
    struct companion_stats cs;
    companion_get_stats(daw_companion(t.d), &cs);
    assert_true(cs.stale_removed >= 1);
    /* one that appears later (say, written by a bridge that died): its deadline has passed, so the companion
     * answers "expired" and does not execute it, while the next real command runs */
    write_cmd(t.spool, "19990101T000000.000-1-000002", "create_track", "{\"name\":\"Ghost\",\"type\":\"audio\"}",
              now_ms() - 60000);
    expect_ok(&t, wire_callf(&t.w, "create_track", "{\"name\":\"Real\",\"type\":\"midi\"}"), "create_track");
    wire_run_for(&t.w, 200);
    json_t *ms = mock_state(t.w.mock);
    assert_int_equal(count_named(ms, "Ghost"), 0);
    assert_int_equal(count_named(ms, "Real"), 1);
    json_decref(ms);
    tc_close(&t);
  }
}

/* ---------------------------------------------------------------- embedded mock */

static void test_companion_embedded_mock_runs_the_protocol(void **st) {
  (void)st;
  for (int di = 0; di < 2; di++) {
    struct tc t;
    memset(&t, 0, sizeof t);
    uv_loop_init(&t.w.loop);
    struct daw_config cfg = {.dialect = dialects[di],
                             .listen_port = -1,
                             .confirm_timeout_ms = -1,
                             .retries = -1,
                             .refresh_interval_ms = 0,
                             .log = {.fn = wire_log, .data = &t.w, .level = LOG_DEBUG}};
    struct mock_embed_config mc = {.tracks = -1, .companion = 1, .quiet = 1};
    char err[512];
    assert_int_equal(mock_embed_open(&t.w.loop, &cfg, &mc, &t.d, &t.embed, err, sizeof err), 0);
    t.w.daw = t.d;
    assert_string_equal(mock_embed_spool(t.embed), daw_spool_dir(t.d));
    char spool[1024];
    snprintf(spool, sizeof spool, "%s", daw_spool_dir(t.d));
    assert_int_equal(access(spool, F_OK), 0);
    t.w.done = 0;
    assert_int_equal(daw_start(t.d, wire_on_result, &t.w), 0);
    expect_ok(&t, wire_wait(&t.w, WAIT_MS), "start");
    assert_true(json_is_true(json_object_get(t.w.result, "companion")));
    /* the demo session's Drums clip came in through the companion's state, notes included */
    int ti = session_track_index_by_name(daw_session(t.d), "Drums");
    assert_true(ti > 0);
    json_t *mj = session_to_json(daw_session(t.d));
    json_t *clips = json_object_get(json_array_get(json_object_get(mj, "tracks"), (size_t)ti - 1), "clips");
    assert_true(json_array_size(clips) >= 1);
    assert_true(json_array_size(json_object_get(json_array_get(clips, 0), "notes")) >= 1);
    size_t nclips = json_array_size(clips);
    json_decref(mj);
    expect_ok(
        &t,
        wire_callf(&t.w, "create_midi_clip",
                   "{\"track_id\":\"Drums\",\"start_time\":8,\"duration\":2,\"notes\":[{\"n\":38,\"s\":1,\"d\":0.25,"
                   "\"v\":100}]}"),
        "create_midi_clip");
    json_t *ms = mock_embed_state(t.embed);
    assert_non_null(ms);
    json_t *dr = db_test_json_track(ms, "Drums");
    assert_int_equal(json_array_size(json_object_get(dr, "clips")), nclips + 1);
    json_decref(ms);
    t.spool[0] = 0; /* the embedded mock owns this spool */
    tc_close(&t);
    assert_int_not_equal(access(spool, F_OK), 0); /* removed at close */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_companion_seed_workflow_both_dialects),
      cmocka_unit_test(test_companion_absent_clear_error_and_fewer_capabilities),
      cmocka_unit_test(test_companion_get_notes_both_dialects),
      cmocka_unit_test(test_companion_absent_remembered_no_wait),
      cmocka_unit_test(test_companion_lost_reply_retried_without_duplicate),
      cmocka_unit_test(test_companion_no_reply_is_uncertain),
      cmocka_unit_test(test_companion_stale_command_not_executed),
      cmocka_unit_test(test_companion_embedded_mock_runs_the_protocol),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
