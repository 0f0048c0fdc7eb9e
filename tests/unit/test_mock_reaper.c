/* test_mock_reaper.c — the mock REAPER over real UDP on 127.0.0.1 (in-process on the test's loop, and once as a
 * process). Facts under test: ../shared/docs/reaper-osc.md and docs/reaper-notes.md. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mock_fixture.h"
#include "db_test_util.h"

#define T_MS 3000

/* every test starts with a mock of N tracks (its cmocka prestate; -1 = the demo session) whose startup refresh has
 * arrived; the mock's feedback goes to the client f->c */
static int setup(void **state) {
  struct mock_config cfg = {.dialect = "reaper", .tracks = (int)(intptr_t)*state, .seed = 1, .quiet = 1};
  mock_fx_setup_with(state, &cfg, NULL, 0);
  mock_fx_sync(*state);
  return 0;
}
#define TEST_WITH_TRACKS(t, n)                                                                                         \
  cmocka_unit_test_prestate_setup_teardown(t, setup, mock_fx_teardown, (void *)(intptr_t)(n))

static const struct osc_rx *got(struct mock_fx *f, const char *path) {
  const struct osc_rx *r = osc_client_last(f->c, path);
  if (!r) {
    osc_client_dump(f->c);
    fail_msg("no %s", path);
  }
  return r;
}
static void got_f(struct mock_fx *f, const char *path, double v) {
  const struct osc_rx *r = got(f, path);
  assert_string_equal(r->types, "f");
  if (fabs(osc_rx_f(r, 0) - v) > 1e-4) fail_msg("%s: %g, expected %g", path, osc_rx_f(r, 0), v);
}
static void got_s(struct mock_fx *f, const char *path, const char *v) {
  const struct osc_rx *r = got(f, path);
  assert_string_equal(r->types, "s");
  assert_string_equal(osc_rx_s(r, 0), v);
}
/* an expected feedback value: the string s, or the float v when s is NULL */
struct fb {
  const char *path, *s;
  double v;
};
static void got_all(struct mock_fx *f, const struct fb *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (want[i].s)
      got_s(f, want[i].path, want[i].s);
    else
      got_f(f, want[i].path, want[i].v);
}
static void absent(struct mock_fx *f, const char *path) {
  if (osc_client_find(f->c, path, 0)) {
    osc_client_dump(f->c);
    fail_msg("unexpected %s", path);
  }
}

static json_t *state_track(struct mock_fx *f, int idx1) { return mock_fx_track(f, idx1); } /* new reference */
static int ntracks(struct mock_fx *f) { return mock_fx_ntracks(f); }
static int track_bool(struct mock_fx *f, int idx1, const char *key) {
  json_t *t = state_track(f, idx1);
  int v = json_is_true(json_object_get(t, key));
  json_decref(t);
  return v;
}
static double track_num(struct mock_fx *f, int idx1, const char *key) {
  json_t *t = state_track(f, idx1);
  double v = json_number_value(json_object_get(t, key));
  json_decref(t);
  return v;
}

/* ------------------------------------------------------------------------------------------------ */
static void test_mock_reaper_startup_refresh(void **state) {
  struct mock_fx *f = *state;
  const struct fb want[] = {
      {"/track/1/name", "Track 1", 0},
      {"/track/3/number/str", "3", 0},
      /* empty bank slots look like tracks (reaper-notes.md §1) */
      {"/track/8/name", "Track 8", 0},
      {"/track/8/number/str", "8", 0},
      {"/track/8/volume", NULL, 0.0},
      {"/track/8/mute", NULL, 0.0},
      {"/track/8/pan", NULL, 0.5},
      {"/track/8/pan/str", "C", 0},
      {"/track/1/volume/db", NULL, 0.0},
      {"/track/1/fx/8/name", "", 0},
      {"/track/1/fx/1/bypass", NULL, 0.0},
      {"/master/volume", NULL, pow(10.0, -12.0 / 80.0)},
      {"/stop", NULL, 1.0},
      {"/play", NULL, 0.0},
      {"/record", NULL, 0.0},
      {"/pause", NULL, 0.0},
      {"/tempo/raw", NULL, 120.0},
      {"/tempo/str", "120 bpm", 0},
      {"/track/name", "MASTER", 0}, /* device-selected track starts at the master */
      {"/track/number/str", "0", 0},
  };
  got_all(f, want, sizeof want / sizeof *want);
  absent(f, "/track/9/name");
  absent(f, "/master/name");
  absent(f, "/marker/1/name"); /* DEVICE_MARKER_COUNT 0 */
}

static void test_mock_reaper_bundles_up_to_1024(void **state) {
  struct mock_fx *f = *state;
  int bundles = 0;
  for (size_t i = 0; i < osc_client_count(f->c); i++) {
    const struct osc_rx *r = osc_client_get(f->c, i);
    assert_true(r->packet_len <= 1024);
    if (r->bundled) bundles++;
  }
  assert_true(bundles > 100);
  /* a single feedback message goes out bare */
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/track/1/mute", "i", 1);
  mock_fx_sync(f);
  const struct osc_rx *r = got(f, "/track/1/mute");
  assert_int_equal(r->bundled, 0);
  assert_int_equal(osc_client_count(f->c), 2); /* the echo and /mock/pong */
}

static void test_mock_reaper_change_only_cache(void **state) {
  struct mock_fx *f = *state;
  osc_client_clear(f->c);
  /* a bank re-select resends only what changed: nothing */
  osc_client_send(f->c, f->port, "/device/track/bank/select", "i", 1);
  mock_fx_sync(f);
  assert_int_equal(osc_client_count(f->c), 1);
  /* action 41743 empties the cache: everything comes again */
  osc_client_send(f->c, f->port, "/action", "i", 41743);
  mock_fx_sync(f);
  got_s(f, "/track/1/name", "Track 1");
  got_f(f, "/tempo/raw", 120.0);
  /* an incoming message clears its own address: the same mute value is echoed again */
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/track/2/mute", "f", 0.0);
  mock_fx_sync(f);
  got_f(f, "/track/2/mute", 0.0);
}

static void test_mock_reaper_anti_echo(void **state) {
  struct mock_fx *f = *state;
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/track/2/volume", "f", 0.5);
  mock_fx_sync(f);
  absent(f, "/track/2/volume"); /* n flag: not echoed */
  got(f, "/track/2/volume/db");
  got(f, "/track/2/volume/str");
  assert_true(fabs(track_num(f, 2, "volume_db") - osc_rx_f(got(f, "/track/2/volume/db"), 0)) < 1e-3);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/track/2/volume/db", "f", -6.0);
  mock_fx_sync(f);
  absent(f, "/track/2/volume/db");
  got(f, "/track/2/volume");
  got_s(f, "/track/2/volume/str", "-6.00dB");
  assert_true(fabs(track_num(f, 2, "volume_db") + 6.0) < 1e-9);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/track/2/mute", "i", 1); /* b flag: echoed */
  mock_fx_sync(f);
  got_f(f, "/track/2/mute", 1.0);
  assert_true(track_bool(f, 2, "mute"));
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/track/2/name", "s", "Bass");
  osc_client_send(f->c, f->port, "/track/2/pan", "f", 0.25);
  mock_fx_sync(f);
  absent(f, "/track/2/name");
  got_s(f, "/track/2/pan/str", "50%L");
  assert_true(fabs(track_num(f, 2, "pan") + 0.5) < 1e-6);
  json_t *t = state_track(f, 2);
  assert_string_equal(json_string_value(json_object_get(t, "name")), "Bass");
  json_decref(t);
}

static void test_mock_reaper_switches_and_triggers(void **state) {
  struct mock_fx *f = *state;
  osc_client_send(f->c, f->port, "/track/1/solo", "f", 0.5);        /* b: only exactly 0 or 1 act */
  osc_client_send(f->c, f->port, "/track/1/recarm/toggle", "i", 0); /* t: 0 is ignored */
  mock_fx_sync(f);
  assert_false(track_bool(f, 1, "solo"));
  assert_false(track_bool(f, 1, "rec_arm"));
  osc_client_send(f->c, f->port, "/track/1/recarm/toggle", "");
  osc_client_send(f->c, f->port, "/track/1/solo/toggle", "f", 1.0);
  osc_client_send(f->c, f->port, "/track/1/select", "i", 1);
  mock_fx_sync(f);
  assert_true(track_bool(f, 1, "rec_arm"));
  assert_true(track_bool(f, 1, "solo"));
  assert_true(track_bool(f, 1, "selected"));
  got_f(f, "/track/1/recarm", 1.0);
  got_f(f, "/track/1/select", 1.0);
  /* transport triggers with play-state feedback; /play 0 is ignored */
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/play", "i", 0);
  mock_fx_sync(f);
  absent(f, "/play");
  osc_client_send(f->c, f->port, "/play", "");
  mock_fx_sync(f);
  got_f(f, "/play", 1.0);
  got_f(f, "/stop", 0.0);
  osc_client_send(f->c, f->port, "/record", "");
  mock_fx_sync(f);
  got_f(f, "/record", 1.0);
  osc_client_send(f->c, f->port, "/stop", "i", 1);
  mock_fx_sync(f);
  got_f(f, "/stop", 1.0);
  got_f(f, "/play", 0.0);
  got_f(f, "/record", 0.0);
  /* tempo */
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/tempo/raw", "f", 100.351);
  mock_fx_sync(f);
  absent(f, "/tempo/raw");
  got_s(f, "/tempo/str", "100.351 bpm");
  json_t *st = mock_state(f->m);
  assert_true(fabs(json_number_value(json_object_get(st, "tempo")) - 100.351) < 1e-3);
  json_decref(st);
}

static void test_mock_reaper_bank_paging(void **state) {
  struct mock_fx *f = *state;
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/device/track/bank/select", "i", 2);
  mock_fx_sync(f);
  got_s(f, "/track/1/name", "Track 9");
  got_s(f, "/track/8/number/str", "16");
  /* bank-relative addressing: /track/1 is track 9 now */
  osc_client_send(f->c, f->port, "/track/1/mute", "i", 1);
  mock_fx_sync(f);
  assert_true(track_bool(f, 9, "mute"));
  assert_false(track_bool(f, 1, "mute"));
  osc_client_send(f->c, f->port, "/device/track/bank/select", "i", 3);
  mock_fx_sync(f);
  got_s(f, "/track/1/name", "Track 17");
  got_s(f, "/track/5/name", "Track 21"); /* empty slot */
  /* clamped to max(0, numtracks-1) and rounded down to a bank multiple: still 16 */
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/device/track/bank/select", "i", 10);
  mock_fx_sync(f);
  absent(f, "/track/1/name");
  osc_client_send(f->c, f->port, "/track/1/solo", "i", 1);
  mock_fx_sync(f);
  assert_true(track_bool(f, 17, "solo"));
  /* bank/+ wraps around to the first bank */
  osc_client_send(f->c, f->port, "/device/track/bank/+", "");
  mock_fx_sync(f);
  got_s(f, "/track/1/name", "Track 1");
  osc_client_send(f->c, f->port, "/device/track/bank/-", "");
  mock_fx_sync(f);
  got_s(f, "/track/1/name", "Track 17");
  /* bank size has no upper limit */
  osc_client_send(f->c, f->port, "/device/track/count", "i", 20);
  osc_client_send(f->c, f->port, "/device/track/bank/select", "i", 1);
  mock_fx_sync(f);
  got_s(f, "/track/20/name", "Track 20");
}

static void test_mock_reaper_track_count_trick(void **state) {
  struct mock_fx *f = *state;
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/device/track/select", "i", 0);
  osc_client_send(f->c, f->port, "/device/track/select", "i", 100000);
  mock_fx_sync(f);
  got_s(f, "/track/number/str", "13");
  got_s(f, "/track/name", "Track 13");
}

static void test_mock_reaper_actions(void **state) {
  struct mock_fx *f = *state;
  /* a float argument does nothing */
  osc_client_send(f->c, f->port, "/action", "f", 40001.0);
  mock_fx_sync(f);
  assert_int_equal(ntracks(f), 3);
  /* insert after the last touched track; the new one is the only selected one */
  osc_client_send(f->c, f->port, "/track/1/mute", "i", 0);
  osc_client_send(f->c, f->port, "/track/3/select", "i", 1);
  osc_client_send(f->c, f->port, "/track/1/solo", "i", 0);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/action", "i", 40001);
  mock_fx_sync(f);
  assert_int_equal(ntracks(f), 4);
  assert_true(track_bool(f, 2, "selected"));
  assert_false(track_bool(f, 4, "selected"));
  got_f(f, "/track/2/select", 1.0);
  got_s(f, "/track/4/name", "Track 3"); /* the old track 3 moved down */
  /* 40005 removes the selected tracks */
  osc_client_send(f->c, f->port, "/action/40005", "");
  mock_fx_sync(f);
  assert_int_equal(ntracks(f), 3);
  /* /action/N with 0 does nothing; /action/str with a number runs it */
  osc_client_send(f->c, f->port, "/action/40296", "i", 0);
  mock_fx_sync(f);
  assert_false(track_bool(f, 1, "selected"));
  osc_client_send(f->c, f->port, "/action/str", "s", "40296");
  mock_fx_sync(f);
  assert_true(track_bool(f, 1, "selected") && track_bool(f, 3, "selected"));
  osc_client_send(f->c, f->port, "/action", "i", 40297);
  mock_fx_sync(f);
  assert_false(track_bool(f, 2, "selected"));
  /* transport actions: feedback is the play state, not an "action done" */
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/action", "i", 1007);
  mock_fx_sync(f);
  got_f(f, "/play", 1.0);
  absent(f, "/action");
  osc_client_send(f->c, f->port, "/action", "i", 1016);
  mock_fx_sync(f);
  got_f(f, "/stop", 1.0);
  /* several ints run in order: insert two tracks, then undo one of them */
  osc_client_send(f->c, f->port, "/action", "ii", 40001, 40001);
  mock_fx_sync(f);
  assert_int_equal(ntracks(f), 5);
  osc_client_send(f->c, f->port, "/action", "i", 40029);
  mock_fx_sync(f);
  assert_int_equal(ntracks(f), 4);
  osc_client_send(f->c, f->port, "/action", "i", 40030);
  mock_fx_sync(f);
  assert_int_equal(ntracks(f), 5);
  /* marker at the edit cursor */
  osc_client_send(f->c, f->port, "/time", "f", 2.0);
  osc_client_send(f->c, f->port, "/action", "i", 40157);
  mock_fx_sync(f);
  json_t *st = mock_state(f->m);
  json_t *mk = json_array_get(json_object_get(st, "markers"), 0);
  assert_non_null(mk);
  assert_true(fabs(json_number_value(json_object_get(mk, "position")) - 4.0) < 1e-9); /* 2 s at 120 bpm */
  json_decref(st);
}

/* After /action 40001 REAPER reports the new track's name on its bank slot (reaper-osc.md: "a new /track/N/name
 * 'Track N' in the bank" is how a pure-OSC client learns the index), even where the slot's old track had the
 * same default name, so the change-only cache would otherwise drop it. Both places: at the end, and in the middle
 * (after the last touched track) where unnamed tracks shift down. */
static void test_mock_reaper_insert_track_sends_name(void **state) {
  struct mock_fx *f = *state;
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/action", "i", 40001); /* nothing touched or selected: at the end */
  mock_fx_sync(f);
  assert_int_equal(ntracks(f), 4);
  got_s(f, "/track/4/name", "Track 4");
  /* unnamed tracks: the slots' names do not change when a track is inserted in the middle */
  osc_client_send(f->c, f->port, "/track/1/name", "s", "");
  osc_client_send(f->c, f->port, "/track/2/name", "s", "");
  osc_client_send(f->c, f->port, "/track/3/name", "s", "");
  osc_client_send(f->c, f->port, "/track/4/name", "s", "");
  mock_fx_sync(f);
  osc_client_send(f->c, f->port, "/track/1/mute", "i", 0); /* last touched: track 1 */
  mock_fx_sync(f);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/action", "i", 40001);
  mock_fx_sync(f);
  assert_int_equal(ntracks(f), 5);
  assert_true(track_bool(f, 2, "selected"));
  got_s(f, "/track/2/name", "Track 2");
}

static void test_mock_reaper_markers(void **state) {
  struct mock_fx *f = *state;
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/marker_id/5/time", "f", 12.5);
  osc_client_send(f->c, f->port, "/marker_id/5/name", "s", "Chorus");
  mock_fx_sync(f);
  absent(f, "/marker/1/name"); /* no marker feedback by default */
  json_t *st = mock_state(f->m);
  json_t *mk = json_array_get(json_object_get(st, "markers"), 0);
  assert_int_equal(json_integer_value(json_object_get(mk, "number")), 5);
  assert_string_equal(json_string_value(json_object_get(mk, "name")), "Chorus");
  assert_true(fabs(json_number_value(json_object_get(mk, "position")) - 25.0) < 1e-9);
  json_decref(st);
  osc_client_send(f->c, f->port, "/device/marker/count", "i", 4);
  mock_fx_sync(f);
  got_s(f, "/marker/1/name", "Chorus");
  got_s(f, "/marker/1/number/str", "5");
  got_f(f, "/marker/1/time", 12.5);
  got_s(f, "/marker/2/name", "");
}

static void test_mock_reaper_fx_feedback(void **state) {
  struct mock_fx *f = *state;
  /* demo session: Drums (ReaSynth), Bass (ReaSynth), Vocals (ReaVerbate); prefixes stripped in feedback */
  const struct fb want[] = {
      {"/track/1/fxinst/name", "ReaSynth (Cockos)", 0},
      {"/track/1/fx/1/name", "ReaSynth (Cockos)", 0},
      {"/track/3/fx/1/name", "ReaVerbate (Cockos)", 0},
      {"/track/3/fx/1/number/str", "1", 0},
      {"/track/3/fx/1/bypass", NULL, 1.0}, /* value = enabled */
  };
  got_all(f, want, sizeof want / sizeof *want);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/track/3/fx/1/bypass", "i", 0);
  osc_client_send(f->c, f->port, "/track/3/fx/1/fxparam/1/value", "f", 0.25);
  mock_fx_sync(f);
  got_f(f, "/track/3/fx/1/bypass", 0.0);
  json_t *t = state_track(f, 3);
  json_t *fx = json_array_get(json_object_get(t, "fx"), 0);
  assert_string_equal(json_string_value(json_object_get(fx, "name")), "ReaVerbate (Cockos)");
  assert_false(json_is_true(json_object_get(fx, "enabled")));
  assert_true(fabs(json_number_value(json_object_get(json_array_get(json_object_get(fx, "params"), 0), "value")) -
                   0.25) < 1e-6);
  json_decref(t);
}

static void test_mock_reaper_malformed(void **state) {
  struct mock_fx *f = *state;
  struct mock_stats st0, st1;
  mock_get_stats(f->m, &st0);
  /* a type tag outside i f s rejects the whole message */
  osc_client_send(f->c, f->port, "/track/1/mute", "d", 1.0);
  osc_client_send(f->c, f->port, "/track/1/mute", "T");
  osc_client_send(f->c, f->port, "/track/1/mute", "hi", (int64_t)1, 1);
  static const unsigned char trunc[] = {'/', 't', 'r', 'a', 'c', 'k', 0, 0, ',', 'i', 0, 0, 0, 0};
  osc_client_send_raw(f->c, f->port, trunc, sizeof trunc); /* int argument cut off */
  osc_client_send_raw(f->c, f->port, "garbage!", 8);
  osc_client_send_raw(f->c, f->port, "#bundle\0\0\0\0\0\0\0\0\1\0\0\0\x40", 20); /* element longer than the packet */
  osc_client_send_raw(f->c, f->port, "/x", 2);
  osc_client_send(f->c, f->port, "/no/such/address", "i", 1);
  osc_client_send(f->c, f->port, "/track/99/mute", "i", 1);  /* no such track */
  osc_client_send(f->c, f->port, "/track/1/mute", "", NULL); /* wrong arg count */
  mock_fx_sync(f);
  mock_get_stats(f->m, &st1);
  assert_true(st1.malformed - st0.malformed >= 7);
  assert_false(track_bool(f, 1, "mute"));
  /* a missing type-tag string is tolerated as "no arguments": /play runs */
  static const unsigned char notags[] = {'/', 'p', 'l', 'a', 'y', 0, 0, 0};
  osc_client_send_raw(f->c, f->port, notags, sizeof notags);
  mock_fx_sync(f);
  json_t *s = mock_state(f->m);
  assert_true(json_is_true(json_object_get(json_object_get(s, "transport"), "playing")));
  json_decref(s);
  /* incoming bundles are unpacked */
  unsigned char b[64] = "#bundle";
  b[15] = 1;
  unsigned char *p = b + 16;
  static const unsigned char m1[] = {'/', 's', 't', 'o', 'p', 0, 0, 0, ',', 0, 0, 0};
  p[3] = sizeof m1;
  memcpy(p + 4, m1, sizeof m1);
  osc_client_send_raw(f->c, f->port, b, 16 + 4 + sizeof m1);
  mock_fx_sync(f);
  s = mock_state(f->m);
  assert_false(json_is_true(json_object_get(json_object_get(s, "transport"), "playing")));
  json_decref(s);
}

/* the /mock/state chunks, concatenated, are exactly mock_state() */
static void test_mock_reaper_state_dump_chunks(void **state) {
  struct mock_fx *f = *state;
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/mock/state", "");
  assert_true(osc_client_wait_path(f->c, "/mock/state", T_MS));
  const struct osc_rx *r = osc_client_find(f->c, "/mock/state", 0);
  assert_string_equal(r->types, "iis");
  int total = osc_rx_i(r, 1);
  assert_true(total > 1);
  while (osc_client_count_path(f->c, "/mock/state") < (size_t)total) osc_client_run_for(f->c, 20);
  size_t cap = (size_t)total * 8001 + 1, len = 0;
  char *all = calloc(cap, 1);
  for (int seq = 1; seq <= total; seq++)
    for (size_t i = 0; i < osc_client_count(f->c); i++) {
      r = osc_client_get(f->c, i);
      if (strcmp(r->path, "/mock/state") || osc_rx_i(r, 0) != seq) continue;
      assert_int_equal(osc_rx_i(r, 1), total);
      size_t l = strlen(osc_rx_s(r, 2));
      assert_true(l <= 8000);
      memcpy(all + len, osc_rx_s(r, 2), l);
      len += l;
    }
  json_error_t je;
  json_t *got_j = json_loads(all, 0, &je);
  assert_non_null(got_j);
  json_t *want_j = mock_state(f->m);
  assert_true(json_equal(got_j, want_j));
  assert_int_equal(json_array_size(json_object_get(got_j, "tracks")), 300);
  json_decref(got_j);
  json_decref(want_j);
  free(all);
  /* /mock/dump writes the same JSON to a file */
  char path[] = "/tmp/test_mock_reaper_dumpXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  osc_client_send(f->c, f->port, "/mock/dump", "s", path);
  assert_true(osc_client_wait_path(f->c, "/mock/dumped", T_MS));
  json_t *file = json_load_file(path, 0, &je);
  want_j = mock_state(f->m);
  assert_true(json_equal(file, want_j));
  json_decref(file);
  json_decref(want_j);
  unlink(path);
}

static void test_mock_reaper_drop_fault(void **state) {
  (void)state;
  /* the same seed drops the same messages */
  unsigned long dropped[2];
  for (int run = 0; run < 2; run++) {
    struct mock_fx fx, *f = &fx;
    struct mock_config cfg = {.dialect = "reaper", .tracks = 2, .quiet = 1, .drop = 0.3, .seed = 42};
    mock_fx_start(f, &cfg, NULL, 0);
    for (int i = 0; i < 200; i++) osc_client_send(f->c, f->port, "/track/1/mute/toggle", "");
    mock_fx_sync(f); /* /mock/ is never dropped */
    struct mock_stats st;
    mock_get_stats(f->m, &st);
    assert_true(st.dropped_rx > 20 && st.dropped_rx < 120);
    assert_true(st.dropped_tx > 0);
    dropped[run] = st.dropped_rx;
    /* drop everything: nothing changes; then nothing dropped */
    osc_client_send(f->c, f->port, "/mock/fault", "fi", 1.0, 0);
    assert_true(osc_client_wait_path(f->c, "/mock/fault", T_MS));
    int before = track_bool(f, 2, "mute");
    osc_client_send(f->c, f->port, "/track/2/mute/toggle", "");
    mock_fx_sync(f);
    assert_int_equal(track_bool(f, 2, "mute"), before);
    osc_client_send(f->c, f->port, "/mock/fault", "fi", 0.0, 0);
    mock_fx_sync(f);
    osc_client_send(f->c, f->port, "/track/2/mute/toggle", "");
    mock_fx_sync(f);
    assert_int_equal(track_bool(f, 2, "mute"), !before);
    mock_fx_stop(f);
  }
  assert_int_equal(dropped[0], dropped[1]);
}

static void test_mock_reaper_delay_fault(void **state) {
  struct mock_fx *f = *state;
  osc_client_send(f->c, f->port, "/mock/fault", "fi", 0.0,
                  1500); /* long enough that a stalled CI box still sees the order */
  assert_true(osc_client_wait_path(f->c, "/mock/fault", T_MS));
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/track/1/mute", "i", 1);
  mock_fx_sync(f); /* inspection replies are not delayed */
  assert_null(osc_client_find(f->c, "/track/1/mute", 0));
  assert_true(osc_client_wait_path(f->c, "/track/1/mute", 10000)); /* ... the feedback comes later */
}

static void test_mock_reaper_restart(void **state) {
  struct mock_fx *f = *state;
  osc_client_send(f->c, f->port, "/track/1/name", "s", "Kept");
  mock_fx_sync(f);
  /* keep state */
  osc_client_clear(f->c);
  assert_int_equal(mock_restart(f->m, 1, 50), MOCK_OK);
  assert_true(osc_client_wait_path(f->c, "/track/1/name", T_MS)); /* full refresh when it is back */
  got_s(f, "/track/1/name", "Kept");
  assert_int_equal(mock_port(f->m), f->port);
  /* lose state (over OSC this time) */
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/mock/restart", "ii", 0, 50);
  assert_true(osc_client_wait_path(f->c, "/track/1/name", T_MS));
  got_s(f, "/track/1/name", "Track 1");
  json_t *t = state_track(f, 1);
  assert_string_equal(json_string_value(json_object_get(t, "name")), "Track 1");
  json_decref(t);
}

/* 1,000 tracks mirrored by paging: one bank of 1,000 (no upper limit) */
static void test_mock_reaper_thousand_tracks(void **state) {
  struct mock_fx *f = *state;
  osc_client_clear(f->c);
  uint64_t t0 = uv_hrtime();
  osc_client_send(f->c, f->port, "/device/track/count", "i", 1000);
  mock_fx_sync(f);
  uint64_t t1 = uv_hrtime();
  got_s(f, "/track/1000/name", "Track 1000");
  got_s(f, "/track/999/number/str", "999");
  fprintf(stderr, "# 1000-track bank refresh: %zu messages in %u packets, %.1f ms\n", osc_client_count(f->c),
          osc_client_packets(f->c), (double)(t1 - t0) / 1e6);
}

/* the mock-daw executable: start it, read its state over OSC, stop it with SIGTERM */
static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  int *rc = p->data;
  *rc = sig ? 128 + sig : (int)status;
  uv_close((uv_handle_t *)p, NULL);
}

static void test_mock_reaper_process(void **state) {
  (void)state;
  char exe[1024], portb[16], fbb[16];
  db_test_exe_path(exe, sizeof exe, "mock-daw", NULL);
  if (access(exe, X_OK) != 0) fail_msg("%s is not built (the test needs it: cannot run here is a failure)", exe);
  struct {
    uv_loop_t loop;
    osc_client_t *c;
    int port;
  } fx, *f = &fx;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(osc_client_new(&f->loop, 0, &f->c), 0);
  f->port = db_test_free_udp_port();
  snprintf(portb, sizeof portb, "%d", f->port);
  snprintf(fbb, sizeof fbb, "%d", osc_client_port(f->c));
  char *args[] = {exe, "--dialect", "reaper", "--port",  portb, "--feedback-port",
                  fbb, "--tracks",  "4",      "--quiet", NULL};
  uv_process_t proc;
  int rc = -1;
  proc.data = &rc;
  uv_process_options_t o = {0};
  o.file = exe;
  o.args = args;
  o.exit_cb = on_exit_cb;
  uv_stdio_container_t io[3] = {
      {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 1}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
  o.stdio = io;
  o.stdio_count = 3;
  assert_int_equal(uv_spawn(&f->loop, &proc, &o), 0);
  /* it sends its startup refresh to the device port */
  assert_true(osc_client_wait_path(f->c, "/track/4/name", T_MS));
  osc_client_send(f->c, f->port, "/track/4/name", "s", "Process");
  osc_client_send(f->c, f->port, "/mock/state", "");
  assert_true(osc_client_wait_path(f->c, "/mock/state", T_MS));
  json_t *j = json_loads(osc_rx_s(osc_client_find(f->c, "/mock/state", 0), 2), 0, NULL);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "tracks"), 3), "name")),
                      "Process");
  json_decref(j);
  uv_process_kill(&proc, SIGTERM);
  while (rc < 0) uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(rc, 0);
  osc_client_close(f->c, NULL, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void test_mock_reaper_bad_config(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  mock_t *m = NULL;
  char err[256];
  struct mock_config cfg = {.dialect = "cubase"};
  assert_int_equal(mock_new(&loop, &cfg, &m, err, sizeof err), MOCK_EINVAL);
  assert_true(strlen(err) > 0);
  cfg.dialect = "reaper";
  cfg.session_file = "/nonexistent/session.json";
  assert_int_equal(mock_new(&loop, &cfg, &m, err, sizeof err), MOCK_ESESSION);
  assert_non_null(strstr(err, "/nonexistent/session.json"));
  assert_null(m);
  assert_string_equal(mock_strerror(MOCK_ESESSION), "invalid session file");
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* a state dump loads back as a session file (--session) into the same state */
static void test_mock_reaper_session_roundtrip(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  struct mock_config cfg = {.dialect = "reaper", .tracks = -1, .quiet = 1, .feedback_port = 9, .project = "rt"};
  mock_t *a, *b;
  assert_int_equal(mock_new(&loop, &cfg, &a, NULL, 0), MOCK_OK);
  json_t *ja = mock_state(a);
  json_t *fx = json_object_get(json_array_get(json_object_get(ja, "tracks"), 0), "fx");
  assert_int_equal(json_array_size(fx), 1); /* the instrument is in the chain */
  char path[] = "/tmp/test_mock_reaper_sessionXXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(json_dump_file(ja, path, JSON_REAL_PRECISION(17)), 0);
  cfg.session_file = path;
  char err[256];
  assert_int_equal(mock_new(&loop, &cfg, &b, err, sizeof err), MOCK_OK);
  json_t *jb = mock_state(b);
  assert_true(json_equal(ja, jb));
  json_decref(ja);
  json_decref(jb);
  unlink(path);
  mock_close(a, NULL, NULL);
  mock_close(b, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST_WITH_TRACKS(test_mock_reaper_startup_refresh, 3),
      TEST_WITH_TRACKS(test_mock_reaper_bundles_up_to_1024, 3),
      TEST_WITH_TRACKS(test_mock_reaper_change_only_cache, 3),
      TEST_WITH_TRACKS(test_mock_reaper_anti_echo, 3),
      TEST_WITH_TRACKS(test_mock_reaper_switches_and_triggers, 3),
      TEST_WITH_TRACKS(test_mock_reaper_bank_paging, 20),
      TEST_WITH_TRACKS(test_mock_reaper_track_count_trick, 13),
      TEST_WITH_TRACKS(test_mock_reaper_actions, 3),
      TEST_WITH_TRACKS(test_mock_reaper_insert_track_sends_name, 3),
      TEST_WITH_TRACKS(test_mock_reaper_markers, 1),
      TEST_WITH_TRACKS(test_mock_reaper_fx_feedback, -1),
      TEST_WITH_TRACKS(test_mock_reaper_malformed, 2),
      TEST_WITH_TRACKS(test_mock_reaper_state_dump_chunks, 300),
      cmocka_unit_test(test_mock_reaper_drop_fault),
      TEST_WITH_TRACKS(test_mock_reaper_delay_fault, 2),
      TEST_WITH_TRACKS(test_mock_reaper_restart, 2),
      TEST_WITH_TRACKS(test_mock_reaper_thousand_tracks, 1000),
      cmocka_unit_test(test_mock_reaper_process),
      cmocka_unit_test(test_mock_reaper_bad_config),
      cmocka_unit_test(test_mock_reaper_session_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
