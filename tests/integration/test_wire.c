/* Bridge <-> mock DAW over real UDP on 127.0.0.1, both dialects: full sync, every native tool confirmed by the
 * DAW and visible in its own state, packet loss, restart, malformed OSC, bad requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "osc_client.h"
#include "wire_fixture.h"

static const char *const dialects[] = {"reaper", "ardour"};

/* a mock of `tracks` tracks (-1: the demo session) in `dialect`, every timing the map's default */
static struct wire_opts opts(const char *dialect, int tracks) {
  return (struct wire_opts){
      .dialect = dialect, .tracks = tracks, .confirm_ms = -1, .retries = -1, .silence_ms = -1, .probe_ms = -1};
}

static void open_or_fail(struct wire *w, struct wire_opts *o) {
  int rc = wire_open(w, o);
  if (rc) fprintf(stderr, "sync failed: %s\nlog:\n%s\n", w->message, w->log);
  assert_int_equal(rc, 0);
}

/* the bridge's mirror equals the DAW's own state (wire_compare); the difference is printed, after `label`, if not */
static void assert_mirror_matches_daw(struct wire *w, const char *label) {
  char diff[256];
  int rc = wire_compare(w, diff, sizeof diff);
  if (rc) fprintf(stderr, "%s: %s\n", label, diff);
  assert_int_equal(rc, 0);
}

static json_t *daw_track(struct wire *w, json_t *state, int index) {
  (void)w;
  return json_array_get(json_object_get(state, "tracks"), (size_t)index - 1);
}

static void test_wire_full_sync_matches_daw(void **st) {
  for (int d = 0; d < 2; d++) {
    struct wire w;
    struct wire_opts o = opts(dialects[d], -1);
    open_or_fail(&w, &o);
    assert_mirror_matches_daw(&w, dialects[d]);
    assert_true(session_track_count(w.ses) >= 2);
    assert_int_equal(wire_close(&w), 0);
  }
  (void)st;
}

static void test_wire_full_sync_of_1000_tracks(void **st) {
  for (int d = 0; d < 2; d++) {
    struct wire w;
    /* the DAW is a separate process, as a real one is: its bursts are read while they are sent */
    struct wire_opts o = opts(dialects[d], 1000);
    o.process = 1;
    open_or_fail(&w, &o);
    assert_int_equal(session_track_count(w.ses), 1000);
    assert_mirror_matches_daw(&w, dialects[d]);
    /* stable ids: t1..t1000 in order */
    assert_string_equal(session_track_id(w.ses, 1), "t1");
    assert_string_equal(session_track_id(w.ses, 1000), "t1000");
    assert_int_equal(wire_close(&w), 0);
  }
  (void)st;
}

/* Each native tool: confirmed by the bridge AND visible in the DAW's own state. */
struct tool_case {
  const char *dialect; /* NULL = both */
  const char *tool;
  const char *args;
  const char *daw_path; /* "track.N.field", "tempo", "transport.playing", "markers.name" */
  const char *want;     /* expected JSON value */
};

static const struct tool_case cases[] = {
    {NULL, "set_track", "{\"track_id\":\"t2\",\"volume_db\":-7.5}", "track.2.volume_db", "-7.5"},
    {NULL, "set_track", "{\"track_id\":\"t1\",\"pan\":-0.3}", "track.1.pan", "-0.3"},
    {NULL, "set_track", "{\"track_id\":\"t1\",\"mute\":true}", "track.1.mute", "true"},
    {NULL, "set_track", "{\"track_id\":\"t2\",\"solo\":true}", "track.2.solo", "true"},
    {NULL, "set_track", "{\"track_id\":\"t1\",\"rec_arm\":true}", "track.1.rec_arm", "true"},
    {NULL, "set_track", "{\"track_id\":\"t2\",\"name\":\"Sub Bass\"}", "track.2.name", "\"Sub Bass\""},
    {"reaper", "set_track", "{\"track_id\":\"t1\",\"selected\":true}", "track.1.selected", "true"},
    {NULL, "set_track", "{\"track_id\":\"t1\",\"mute\":false,\"volume_db\":-3}", "track.1.mute", "false"},
    {NULL, "set_effect_enabled", "{\"track_id\":\"t3\",\"effect_index\":1,\"enabled\":false}", "track.3.fx.1.enabled",
     "false"},
    {NULL, "set_effect_enabled", "{\"track_id\":\"t3\",\"effect_index\":1,\"enabled\":true}", "track.3.fx.1.enabled",
     "true"},
    {NULL, "set_effect_param", "{\"track_id\":\"t3\",\"effect_index\":1,\"param_index\":1,\"value\":0.25}",
     "track.3.fx.1.param.1", "0.25"},
    {NULL, "transport", "{\"action\":\"play\"}", "transport.playing", "true"},
    {NULL, "transport", "{\"action\":\"stop\"}", "transport.playing", "false"},
    {NULL, "transport", "{\"action\":\"record\"}", "transport.recording", "true"},
    {NULL, "transport", "{\"action\":\"stop\"}", "transport.playing", "false"},
    {NULL, "transport", "{\"action\":\"rewind\"}", "transport.position", "0"},
    {"reaper", "set_loop", "{\"start\":4,\"end\":12}", "loop.end", "12"},
    {"reaper", "set_tempo", "{\"bpm\":96.5}", "tempo", "96.5"},
    {NULL, "add_marker", "{\"position\":16,\"name\":\"Chorus\"}", "markers.name", "\"Chorus\""},
    {"ardour", "save_project", "{}", NULL, NULL},
};

/* Reads a value from the mock's state by a small path; new ref or NULL. */
static json_t *daw_value(json_t *state, const char *path) {
  char buf[128];
  snprintf(buf, sizeof buf, "%s", path);
  if (!strcmp(path, "tempo")) return json_incref(json_object_get(state, "tempo"));
  if (!strcmp(path, "transport.playing"))
    return json_incref(json_object_get(json_object_get(state, "transport"), "playing"));
  if (!strcmp(path, "transport.recording"))
    return json_incref(json_object_get(json_object_get(state, "transport"), "recording"));
  if (!strcmp(path, "transport.position"))
    return json_incref(json_object_get(json_object_get(state, "transport"), "position"));
  if (!strcmp(path, "loop.end")) return json_incref(json_object_get(json_object_get(state, "loop"), "end"));
  if (!strcmp(path, "markers.name")) {
    json_t *ms = json_object_get(state, "markers");
    return json_incref(json_object_get(json_array_get(ms, json_array_size(ms) - 1), "name"));
  }
  int t, fx, p;
  char field[32];
  if (sscanf(path, "track.%d.fx.%d.param.%d", &t, &fx, &p) == 3) {
    json_t *tr = json_array_get(json_object_get(state, "tracks"), (size_t)t - 1);
    json_t *f = json_array_get(json_object_get(tr, "fx"), (size_t)fx - 1);
    json_t *ps = json_object_get(f, "params");
    size_t i;
    json_t *x;
    json_array_foreach(ps, i, x) {
      if (json_integer_value(json_object_get(x, "index")) == p) return json_incref(json_object_get(x, "value"));
    }
    return NULL;
  }
  if (sscanf(path, "track.%d.fx.%d.%31s", &t, &fx, field) == 3) {
    json_t *tr = json_array_get(json_object_get(state, "tracks"), (size_t)t - 1);
    return json_incref(json_object_get(json_array_get(json_object_get(tr, "fx"), (size_t)fx - 1), field));
  }
  if (sscanf(path, "track.%d.%31s", &t, field) == 2) {
    json_t *tr = json_array_get(json_object_get(state, "tracks"), (size_t)t - 1);
    return json_incref(json_object_get(tr, field));
  }
  return NULL;
}

static int json_close_to(const json_t *a, const json_t *b) {
  if (json_is_number(a) && json_is_number(b)) return fabs(json_number_value(a) - json_number_value(b)) < 0.02;
  return json_equal((json_t *)a, (json_t *)b);
}

static void test_wire_every_native_tool_confirmed_and_in_daw_state(void **st) {
  for (int d = 0; d < 2; d++) {
    struct wire w;
    struct wire_opts o = opts(dialects[d], -1);
    open_or_fail(&w, &o);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
      const struct tool_case *c = &cases[i];
      if (c->dialect && strcmp(c->dialect, dialects[d])) continue;
      int rc = wire_call(&w, c->tool, c->args);
      if (rc)
        fprintf(stderr, "%s %s %s: %d %s\n--- log ---\n%s\n", dialects[d], c->tool, c->args, rc, w.message, w.log);
      assert_int_equal(rc, 0);
      const char *status = json_string_value(json_object_get(w.result, "status"));
      assert_string_equal(status, "confirmed"); /* the DAW's fresh word, never "uncertain" on a clean link */
      if (!c->daw_path) continue;
      json_t *state = wire_daw_state(&w);
      json_t *got = daw_value(state, c->daw_path);
      json_t *want = json_loads(c->want, JSON_DECODE_ANY, NULL);
      if (!json_close_to(got, want)) {
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY) : NULL;
        fprintf(stderr, "%s %s: DAW holds %s at %s, expected %s\n", dialects[d], c->tool, g ? g : "nothing",
                c->daw_path, c->want);
        free(g);
      }
      assert_true(json_close_to(got, want));
      json_decref(got);
      json_decref(want);
      json_decref(state);
    }
    assert_int_equal(wire_refresh(&w), 0);
    assert_mirror_matches_daw(&w, dialects[d]);
    assert_int_equal(wire_close(&w), 0);
  }
  (void)st;
}

/* REAPER: a track outside the first bank is addressed by paging; ids stay. */
static void test_wire_reaper_bank_paging(void **st) {
  struct wire w;
  struct wire_opts o = opts("reaper", 20);
  o.bank_size = 8;
  open_or_fail(&w, &o);
  assert_int_equal(session_track_count(w.ses), 20);
  assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t19\",\"volume_db\":-12}"), 0);
  assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t3\",\"mute\":true}"), 0);
  assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t17\",\"name\":\"Far away\"}"), 0);
  json_t *s = wire_daw_state(&w);
  assert_true(fabs(json_number_value(json_object_get(daw_track(&w, s, 19), "volume_db")) + 12) < 0.02);
  assert_true(json_is_true(json_object_get(daw_track(&w, s, 3), "mute")));
  assert_string_equal(json_string_value(json_object_get(daw_track(&w, s, 17), "name")), "Far away");
  json_decref(s);
  assert_int_equal(wire_refresh(&w), 0);
  assert_mirror_matches_daw(&w, "reaper");
  assert_int_equal(wire_close(&w), 0);
  (void)st;
}

/* REAPER: create_track without a companion uses its insert-track action; other tracks keep their ids. */
static void test_wire_reaper_create_track_native(void **st) {
  struct wire w;
  struct wire_opts o = opts("reaper", -1);
  open_or_fail(&w, &o);
  int n = session_track_count(w.ses);
  char *names[64];
  for (int i = 1; i <= n; i++) names[i] = strdup(session_track_name(w.ses, i));
  int rc = wire_call(&w, "create_track", "{\"name\":\"Keys\",\"type\":\"midi\"}");
  if (rc) fprintf(stderr, "%s\n%s\n", w.message, w.log);
  assert_int_equal(rc, 0);
  const char *id = json_string_value(json_object_get(w.result, "track_id"));
  assert_non_null(id);
  assert_int_equal(session_track_count(w.ses), n + 1);
  int pos = session_track_index_by_id(w.ses, id);
  assert_string_equal(session_track_name(w.ses, pos), "Keys");
  for (int i = 1; i <= n; i++) {
    char tid[16];
    snprintf(tid, sizeof tid, "t%d", i);
    assert_string_equal(session_track_name(w.ses, session_track_index_by_id(w.ses, tid)), names[i]);
    free(names[i]);
  }
  json_t *s = wire_daw_state(&w);
  assert_int_equal(json_array_size(json_object_get(s, "tracks")), (size_t)n + 1);
  assert_string_equal(json_string_value(json_object_get(daw_track(&w, s, pos), "name")), "Keys");
  json_decref(s);
  assert_int_equal(wire_close(&w), 0);
  (void)st;
}

/* 10% loss both ways, fixed seed: every call is confirmed or reported failed, never silently lost; after a
 * clean refresh the mirror equals the DAW. */
static void test_wire_packet_loss_every_call_accounted(void **st) {
  for (int d = 0; d < 2; d++) {
    struct wire w;
    struct wire_opts o = opts(dialects[d], 12);
    o.drop = 0.10;
    o.seed = 7;
    o.bank_size = 8;
    o.confirm_ms = 150;
    o.retries = 4;
    open_or_fail(&w, &o);
    int ok = 0, failed = 0;
    for (int i = 0; i < 40; i++) {
      char args[160];
      snprintf(args, sizeof args, "{\"track_id\":\"t%d\",\"volume_db\":%d,\"mute\":%s}", i % 12 + 1, -(i % 30),
               i % 2 ? "true" : "false");
      w.done = 0;
      int rc = wire_call(&w, "set_track", args);
      assert_true(w.done); /* a result came back: nothing is silently lost */
      if (rc == 0) {
        ok++;
        /* confirmed means the DAW holds it */
        json_t *s = wire_daw_state(&w);
        json_t *t = daw_track(&w, s, i % 12 + 1);
        assert_true(fabs(json_number_value(json_object_get(t, "volume_db")) + (i % 30)) < 0.02);
        assert_int_equal(json_is_true(json_object_get(t, "mute")), i % 2);
        json_decref(s);
      } else {
        failed++;
        assert_true(rc == SYNC_ETIMEDOUT || rc == SYNC_EUNREACHABLE);
        assert_true(strlen(w.message) > 0);
      }
    }
    fprintf(stderr, "%s with 10%% loss: %d confirmed, %d reported failed\n", dialects[d], ok, failed);
    assert_true(ok > 30);
    /* stop the loss, refresh: the mirror equals the DAW */
    assert_int_equal(wire_daw_fault(&w, 0.0, 0), 0);
    assert_int_equal(wire_refresh(&w), 0);
    assert_mirror_matches_daw(&w, dialects[d]);
    assert_int_equal(wire_close(&w), 0);
  }
  (void)st;
}

static int resynced_after_restart(struct wire *w) {
  struct sync_stats s;
  sync_get_stats(w->sync, &s);
  return s.lost_events > 0 && sync_is_connected(w->sync) && s.refreshes >= 2 && session_track_count(w->ses) == 3;
}

/* The DAW restarts (state lost): the bridge notices the silence, reconnects and resyncs by itself. */
static void test_wire_daw_restart_resyncs(void **st) {
  for (int d = 0; d < 2; d++) {
    struct wire w;
    struct wire_opts o = opts(dialects[d], 3);
    o.silence_ms = 400;
    o.probe_ms = 100;
    o.process = 1;
    open_or_fail(&w, &o);
    assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t1\",\"name\":\"Changed\"}"), 0);
    assert_int_equal(wire_restart_daw(&w, 0, 700), 0);
    int ok = wire_run_until(&w, resynced_after_restart, 15000);
    if (!ok) fprintf(stderr, "%s log:\n%s\n", dialects[d], w.log);
    assert_true(ok);
    wire_run_for(&w, 300);
    /* the restarted DAW lost the rename: the mirror must say so */
    assert_string_not_equal(session_track_name(w.ses, 1), "Changed");
    assert_mirror_matches_daw(&w, dialects[d]);
    assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t2\",\"mute\":true}"), 0);
    assert_int_equal(wire_close(&w), 0);
  }
  (void)st;
}

/* Garbage at the bridge's port: logged and ignored, no crash, the mirror unchanged, calls still work. */
static void test_wire_malformed_osc_ignored(void **st) {
  for (int d = 0; d < 2; d++) {
    struct wire w;
    struct wire_opts o = opts(dialects[d], -1);
    open_or_fail(&w, &o);
    json_t *before = wire_mirror(&w);
    osc_client_t *c;
    assert_int_equal(osc_client_new(&w.loop, 0, &c), 0);
    int port = sync_listen_port(w.sync);
    const char *addrs[] = {"/track/1/volume/db", "/strip/gain", "/strip/mute", "/reply", "/tempo/raw"};
    for (int i = 0; i < 5; i++) {
      osc_client_send(c, port, addrs[i], "s", "not a number"); /* bad type */
      osc_client_send(c, port, addrs[i], "");                  /* wrong arg count */
      osc_client_send(c, port, addrs[i], "iiiiiiiiiii", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
    }
    osc_client_send(c, port, "/no/such/address", "f", 1.0);
    osc_client_send(c, port, "/strip/gain", "if", 99999, -6.0); /* a strip that does not exist */
    osc_client_send(c, port, "/track/99999/name", "s", "ghost");
    static const unsigned char trunc1[] = {'/', 't', 'r', 'a'};
    static const unsigned char trunc2[] = {'/', 's', 't', 'r', 'i', 'p', '/', 'g', 'a',
                                           'i', 'n', 0,   ',', 'i', 'f', 0,   0,   0};
    static const unsigned char bundle[] = {'#', 'b', 'u', 'n', 'd', 'l', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0};
    osc_client_send_raw(c, port, trunc1, sizeof trunc1);
    osc_client_send_raw(c, port, trunc2, sizeof trunc2);
    osc_client_send_raw(c, port, bundle, sizeof bundle);
    osc_client_send_raw(c, port, "", 0);
    unsigned char junk[512];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 37 + 11);
    osc_client_send_raw(c, port, junk, sizeof junk);
    wire_run_for(&w, 200);
    struct sync_stats s;
    sync_get_stats(w.sync, &s);
    assert_true(s.malformed + s.unknown >= 10);
    /* sent from another port than the DAW's: dropped unread (the parser itself is fed by the fuzz targets) */
    assert_true(s.foreign >= 20);
    json_t *after = wire_mirror(&w);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t1\",\"volume_db\":-2}"), 0);
    osc_client_close(c, NULL, NULL);
    assert_int_equal(wire_close(&w), 0);
  }
  (void)st;
}

static void test_wire_bad_requests_are_clear_errors(void **st) {
  struct wire w;
  struct wire_opts o = opts("ardour", -1);
  open_or_fail(&w, &o);
  assert_int_equal(wire_call(&w, "set_tempo", "{\"bpm\":100}"), SYNC_ENOTOOL);
  assert_non_null(strstr(w.message, "no tempo message"));
  assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t42\",\"mute\":true}"), SYNC_ENOTRACK);
  assert_non_null(strstr(w.message, "t42"));
  assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t1\"}"), SYNC_EINVAL);
  assert_int_equal(wire_call(&w, "transport", "{\"action\":\"fly\"}"), SYNC_EINVAL);
  assert_non_null(strstr(w.message, "play"));
  assert_int_equal(
      wire_call(&w, "set_effect_param", "{\"track_id\":\"t3\",\"effect_index\":7,\"param_index\":1,\"value\":0.5}"),
      SYNC_EINVAL);
  json_t *before = wire_mirror(&w);
  assert_int_equal(session_track_count(w.ses), json_array_size(json_object_get(before, "tracks")));
  json_decref(before);
  assert_int_equal(wire_close(&w), 0);
  (void)st;
}

/* a bridge (map, session, sync) with no DAW and no mock: the test points it somewhere itself (sync_set_daw) */
static void open_without_daw(struct wire *w, const char *dialect, int confirm_ms, int retries) {
  memset(w, 0, sizeof *w);
  assert_int_equal(uv_loop_init(&w->loop), 0);
  char path[1024], err[256];
  oscmap_find(dialect, path, sizeof path);
  assert_int_equal(oscmap_load(path, &w->map, err, sizeof err), 0);
  w->ses = session_new(dialect);
  struct sync_config sc = {
      .daw_port = 9, .confirm_timeout_ms = confirm_ms, .retries = retries, .silence_ms = -1, .probe_ms = -1};
  assert_int_equal(sync_new(&w->loop, w->map, w->ses, &sc, &w->sync, err, sizeof err), 0);
}

static void test_wire_unreachable_daw_fails_clearly(void **st) {
  struct wire w;
  open_without_daw(&w, "reaper", 50, 1);
  /* a port nobody listens on */
  sync_set_daw(w.sync, "127.0.0.1", 1);
  int rc = wire_refresh(&w);
  assert_int_equal(rc, SYNC_EUNREACHABLE);
  assert_non_null(strstr(w.message, "no answer"));
  assert_int_equal(wire_close(&w), 0);
  (void)st;
}

/* ---- issue 10 §2-3: three outcomes, only the DAW's word counts, no blind resend ---- */

struct spoof {
  uv_timer_t t;
  osc_client_t *c;
  int port;
  const char *path;
};
static void on_spoof(uv_timer_t *t) {
  struct spoof *sp = t->data;
  osc_client_send(sp->c, sp->port, sp->path, "f", 1.0);
}

/* A local process sends /track/1/mute 1.0 to the bridge's port while the DAW is away: the mute is NOT confirmed
 * (before: "confirmed", exit 0), and the spoofed datagrams are counted as foreign. */
static void test_wire_foreign_feedback_never_confirms(void **st) {
  struct wire w;
  struct wire_opts o = opts("reaper", 3);
  o.confirm_ms = 100;
  o.retries = 2;
  o.process = 1;
  open_or_fail(&w, &o);
  assert_int_equal(wire_daw_fault(&w, 1.0, 0), 0); /* the DAW is away: it drops everything */
  struct spoof sp = {.port = sync_listen_port(w.sync), .path = "/track/1/mute"};
  assert_int_equal(osc_client_new(&w.loop, 0, &sp.c), 0);
  uv_timer_init(&w.loop, &sp.t);
  sp.t.data = &sp;
  uv_timer_start(&sp.t, on_spoof, 5, 20);
  int rc = wire_call(&w, "set_track", "{\"track_id\":\"t1\",\"mute\":true}");
  uv_timer_stop(&sp.t);
  uv_close((uv_handle_t *)&sp.t, NULL);
  osc_client_close(sp.c, NULL, NULL);
  const char *status = rc == 0 ? json_string_value(json_object_get(w.result, "status")) : "failed";
  fprintf(stderr, "spoofed mute: rc %d status %s\n", rc, status);
  assert_true(rc != 0 || strcmp(status, "confirmed"));
  struct sync_stats ss;
  sync_get_stats(w.sync, &ss);
  assert_true(ss.foreign > 0);
  assert_int_equal(wire_daw_fault(&w, 0.0, 0), 0);
  json_t *d = wire_daw_state(&w);
  assert_false(json_is_true(json_object_get(daw_track(&w, d, 1), "mute")));
  json_decref(d);
  assert_int_equal(wire_close(&w), 0);
  (void)st;
}

/* A value already so: "confirmed" (+ unchanged) only on the DAW's fresh word; with the DAW away, "uncertain". */
static void test_wire_unchanged_needs_fresh_feedback(void **st) {
  for (int d = 0; d < 2; d++) {
    struct wire w;
    struct wire_opts o = opts(dialects[d], 3);
    o.confirm_ms = 150;
    o.retries = 1;
    o.process = 1;
    open_or_fail(&w, &o);
    assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t2\",\"mute\":true}"), 0);
    assert_string_equal(json_string_value(json_object_get(w.result, "status")), "confirmed");
    assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t2\",\"mute\":true}"), 0);
    assert_string_equal(json_string_value(json_object_get(w.result, "status")), "confirmed");
    assert_true(json_is_true(json_object_get(w.result, "unchanged")));
    assert_int_equal(wire_daw_fault(&w, 1.0, 0), 0);
    assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t2\",\"mute\":true}"), 0);
    if (strcmp(json_string_value(json_object_get(w.result, "status")), "uncertain"))
      fprintf(stderr, "%s: status %s\n", dialects[d], json_string_value(json_object_get(w.result, "status")));
    assert_string_equal(json_string_value(json_object_get(w.result, "status")), "uncertain");
    assert_non_null(json_string_value(json_object_get(w.result, "reason")));
    assert_int_equal(wire_daw_fault(&w, 0.0, 0), 0);
    assert_int_equal(wire_close(&w), 0);
  }
  (void)st;
}

/* REAPER actions send no feedback: save is "uncertain", never confirmed. */
static void test_wire_unconfirmable_is_uncertain(void **st) {
  struct wire w;
  struct wire_opts o = opts("reaper", 2);
  open_or_fail(&w, &o);
  assert_int_equal(wire_call(&w, "save_project", "{}"), 0);
  assert_string_equal(json_string_value(json_object_get(w.result, "status")), "uncertain");
  assert_int_equal(wire_close(&w), 0);
  (void)st;
}

static int count_named(json_t *arr, const char *name) {
  int c = 0;
  size_t i;
  json_t *x;
  json_array_foreach(arr, i, x) {
    const char *n = json_string_value(json_object_get(x, "name"));
    c += n && !strcmp(n, name);
  }
  return c;
}

/* Creates are never resent blindly: at 5% and 20% loss, no duplicate marker (Ardour) or track (REAPER native
 * create_track); confirmed = exactly one in the DAW, failed = none. */
static void test_wire_creates_no_duplicate_under_loss(void **st) {
  const double drops[] = {0.05, 0.20};
  for (int d = 0; d < 2; d++)
    for (int k = 0; k < 2; k++) {
      struct wire w;
      struct wire_opts o = opts(dialects[d], 4);
      o.drop = drops[k];
      o.seed = 11 + (unsigned)k;
      o.confirm_ms = 120;
      o.retries = 3;
      o.process = 1;
      open_or_fail(&w, &o);
      const int n = d == 0 ? 6 : 12;
      int rcs[12], conf = 0, unc = 0, fail = 0;
      char name[32], args[160];
      for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "New%d", i);
        if (d == 0)
          snprintf(args, sizeof args, "{\"name\":\"%s\"}", name);
        else
          snprintf(args, sizeof args, "{\"position\":%d,\"name\":\"%s\"}", 4 + 2 * i, name);
        rcs[i] = wire_call(&w, d == 0 ? "create_track" : "add_marker", args);
        const char *status = json_string_value(json_object_get(w.result, "status"));
        if (rcs[i])
          fail++;
        else if (status && !strcmp(status, "confirmed"))
          conf++, rcs[i] = 1;
        else
          unc++, rcs[i] = 2;
        if (rcs[i] < 0) rcs[i] = -1;
      }
      assert_int_equal(wire_daw_fault(&w, 0.0, 0), 0);
      json_t *s = wire_daw_state(&w);
      json_t *arr = json_object_get(s, d == 0 ? "tracks" : "markers");
      for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "New%d", i);
        int c = count_named(arr, name);
        if (c > 1 || (rcs[i] == 1 && c != 1) || (rcs[i] == -1 && c != 0))
          fprintf(stderr, "%s %.0f%%: %s outcome %d, %d in the DAW\n%s\n", dialects[d], drops[k] * 100, name, rcs[i], c,
                  w.log);
        assert_true(c <= 1);
        if (rcs[i] == 1) assert_int_equal(c, 1);
        if (rcs[i] == -1) assert_int_equal(c, 0);
      }
      fprintf(stderr, "%s creates at %.0f%% loss: %d confirmed, %d uncertain, %d failed, no duplicate\n", dialects[d],
              drops[k] * 100, conf, unc, fail);
      json_decref(s);
      assert_int_equal(wire_close(&w), 0);
    }
  (void)st;
}

/* Nothing listening at the DAW's port: a clear error at once (ICMP), not after the refresh's timeouts. */
static void test_wire_nothing_listening_fails_fast(void **st) {
  struct wire w;
  /* long timeouts: only the "nothing listening" path can end this quickly with that message */
  open_without_daw(&w, "ardour", 5000, 3);
  osc_client_t *c; /* a port that was just free: bind, note it, close */
  assert_int_equal(osc_client_new(&w.loop, 0, &c), 0);
  int dead = osc_client_port(c);
  osc_client_close(c, NULL, NULL);
  wire_run_for(&w, 10);
  sync_set_daw(w.sync, "127.0.0.1", dead);
  assert_int_equal(wire_refresh(&w), SYNC_EUNREACHABLE);
  assert_non_null(strstr(w.message, "nothing is listening"));
  struct sync_stats ss;
  sync_get_stats(w.sync, &ss);
  assert_true(ss.refused > 0);
  assert_int_equal(wire_close(&w), 0);
  (void)st;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wire_full_sync_matches_daw),
      cmocka_unit_test(test_wire_full_sync_of_1000_tracks),
      cmocka_unit_test(test_wire_every_native_tool_confirmed_and_in_daw_state),
      cmocka_unit_test(test_wire_reaper_bank_paging),
      cmocka_unit_test(test_wire_reaper_create_track_native),
      cmocka_unit_test(test_wire_packet_loss_every_call_accounted),
      cmocka_unit_test(test_wire_daw_restart_resyncs),
      cmocka_unit_test(test_wire_malformed_osc_ignored),
      cmocka_unit_test(test_wire_bad_requests_are_clear_errors),
      cmocka_unit_test(test_wire_unreachable_daw_fails_clearly),
      cmocka_unit_test(test_wire_foreign_feedback_never_confirms),
      cmocka_unit_test(test_wire_unchanged_needs_fresh_feedback),
      cmocka_unit_test(test_wire_unconfirmable_is_uncertain),
      cmocka_unit_test(test_wire_creates_no_duplicate_under_loss),
      cmocka_unit_test(test_wire_nothing_listening_fails_fast),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
