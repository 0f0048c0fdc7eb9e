/* test_mock_ardour.c — the mock Ardour over real UDP on 127.0.0.1.  The expected exchanges are the ones real
 * Ardour 7.3 gave (../shared/docs/ardour-osc.md §3), reproduced verbatim: addresses, type tags and values. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mock_fixture.h"

#define T_MS 3000

/* the session of ardour-osc.md §3: Audio 1 (ACE Compressor), Audio 2, MIDI 1 (ACE Reasonable Synth) */
static const char *SESSION = "{\"project\":\"osctest\",\"tracks\":["
                             "{\"name\":\"Audio 1\",\"type\":\"audio\",\"fx\":[{\"name\":\"ACE Compressor\"}]},"
                             "{\"name\":\"Audio 2\",\"type\":\"audio\"},"
                             "{\"name\":\"MIDI 1\",\"type\":\"midi\",\"instrument\":\"ACE Reasonable Synth\"}]}";

/* the fixture's second client f->fb stands in for port 8000 (the reply port before /set_surface) */
static int setup_with(void **state, const char *session_json) {
  struct mock_config cfg = {.dialect = "ardour", .quiet = 1, .project = "osctest"};
  return mock_fx_setup_with(state, &cfg, session_json, MOCK_FX_FEEDBACK_CLIENT);
}
static int setup(void **state) { return setup_with(state, SESSION); }
static int setup_midi_only(void **state) {
  return setup_with(state, "{\"tracks\":[{\"name\":\"MIDI 1\",\"type\":\"midi\"}]}");
}

/* /set_surface bank 0, strip types 159, FEEDBACK, GAINMODE, reply port PORT (0 = the sender's) */
static void set_surface_port(struct mock_fx *f, int feedback, int gainmode, int port) {
  osc_client_send(f->c, f->port, "/set_surface", "iiiiiiiii", 0, 159, feedback, gainmode, 0, 0, port, 0, 0);
}
static void set_surface(struct mock_fx *f, int feedback, int gainmode) { set_surface_port(f, feedback, gainmode, 0); }

/* expected message: path, types, args as text ("1", "0.0", "\"Audio 1\"") */
struct exp {
  const char *path, *types, *args;
};

static void fmt_args(const struct osc_rx *r, char *b, size_t n) {
  b[0] = 0;
  for (int k = 0; k < r->argc; k++) {
    size_t l = strlen(b);
    const char *sp = k ? " " : "";
    switch (r->types[k]) {
    case 'i': snprintf(b + l, n - l, "%s%d", sp, osc_rx_i(r, k)); break;
    case 'h': snprintf(b + l, n - l, "%s%lld", sp, (long long)osc_rx_h(r, k)); break;
    case 'f': { /* like osc-probe.py: round to 6 decimals, Python repr */
      double v = round((double)osc_rx_f(r, k) * 1e6) / 1e6;
      char t[64];
      snprintf(t, sizeof t, "%.6f", v);
      char *e = t + strlen(t) - 1;
      while (*e == '0' && e[-1] != '.') *e-- = 0;
      snprintf(b + l, n - l, "%s%s", sp, t);
      break;
    }
    case 'd': {
      char t[64];
      snprintf(t, sizeof t, "%.6f", osc_rx_d(r, k));
      char *e = t + strlen(t) - 1;
      while (*e == '0' && e[-1] != '.') *e-- = 0;
      snprintf(b + l, n - l, "%s%s", sp, t);
      break;
    }
    case 's': snprintf(b + l, n - l, "%s\"%s\"", sp, osc_rx_s(r, k)); break;
    default: snprintf(b + l, n - l, "%s?", sp); break;
    }
  }
}

/* the messages from index `from` (skipping /mock/pong) must be exactly `e` */
static size_t expect_seq(struct mock_fx *f, size_t from, const struct exp *e, size_t n) {
  size_t i = from;
  for (size_t k = 0; k < n; k++, i++) {
    const struct osc_rx *r = osc_client_get(f->c, i);
    while (r && !strcmp(r->path, "/mock/pong")) r = osc_client_get(f->c, ++i);
    if (!r) {
      osc_client_dump(f->c);
      fail_msg("message %zu missing: expected %s %s %s", k, e[k].path, e[k].types, e[k].args);
    }
    char a[1024];
    fmt_args(r, a, sizeof a);
    if (strcmp(r->path, e[k].path) || strcmp(r->types, e[k].types) || strcmp(a, e[k].args)) {
      osc_client_dump(f->c);
      fail_msg("message %zu: got %s %s %s, expected %s %s %s", k, r->path, r->types, a, e[k].path, e[k].types,
               e[k].args);
    }
  }
  return i;
}

static size_t count_real(struct mock_fx *f) { /* received, without /mock/pong */
  return osc_client_count(f->c) - osc_client_count_path(f->c, "/mock/pong");
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------------------------------ */
/* strip 1's dump (gainmode 0) up to its trim: then DUMP_TRIM_PAN1, DUMP_EXPAND1 */
static const struct exp DUMP_AUDIO1[] = {
    {"/strip/select", "if", "1 0.0"},
    {"/strip/name", "is", "1 \"Audio 1\""},
    {"/strip/group", "is", "1 \" \""},
    {"/strip/hide", "ii", "1 0"},
    {"/strip/mute/automation", "if", "1 0.0"},
    {"/strip/mute/automation_name", "is", "1 \"Manual\""},
    {"/strip/mute", "if", "1 0.0"},
    {"/strip/solo", "if", "1 0.0"},
    {"/strip/solo_iso", "if", "1 0.0"},
    {"/strip/solo_safe", "if", "1 0.0"},
    {"/strip/monitor_input", "ii", "1 0"},
    {"/strip/monitor_disk", "ii", "1 0"},
    {"/strip/recenable", "if", "1 0.0"},
    {"/strip/record_safe", "if", "1 0.0"},
    {"/strip/select", "if", "1 0.0"},
    {"/strip/gain", "if", "1 0.0"},
    {"/strip/gain/automation", "if", "1 0.0"},
    {"/strip/gain/automation_name", "is", "1 \"Manual\""},
};
/* the trim and pan part of strip 1's dump, the same in every gain mode */
static const struct exp DUMP_TRIM_PAN1[] = {
    {"/strip/trimdB/automation", "if", "1 0.0"},
    {"/strip/trimdB/automation_name", "is", "1 \"Manual\""},
    {"/strip/trimdB", "if", "1 0.0"},
    {"/strip/pan_type", "is", "1 \"panner_1in2out\""},
    {"/strip/pan_stereo_position", "if", "1 0.5"},
    {"/strip/pan_stereo_position/automation", "if", "1 0.0"},
    {"/strip/pan_stereo_position/automation_name", "is", "1 \"Manual\""},
    {"/strip/pan_stereo_width", "if", "1 0.5"},
    {"/strip/pan_stereo_width/automation", "if", "1 0.0"},
    {"/strip/pan_stereo_width/automation_name", "is", "1 \"Manual\""},
};
static const struct exp DUMP_EXPAND1[] = {{"/strip/expand", "if", "1 0.0"}};

/* strip 1's whole dump (gainmode 0) from message `from`; returns the index after it */
static size_t expect_dump_audio1(struct mock_fx *f, size_t from) {
  size_t i = expect_seq(f, from, DUMP_AUDIO1, N(DUMP_AUDIO1));
  i = expect_seq(f, i, DUMP_TRIM_PAN1, N(DUMP_TRIM_PAN1));
  return expect_seq(f, i, DUMP_EXPAND1, N(DUMP_EXPAND1));
}

static void test_mock_ardour_replies_to_8000_before_set_surface(void **state) {
  struct mock_fx *f = *state;
  osc_client_send(f->c, f->port, "/strip/list", "");
  assert_true(osc_client_wait_path(f->fb, "#reply", T_MS));
  mock_fx_sync(f);
  assert_null(osc_client_find(f->c, "#reply", 0)); /* not to the sender's port */
}

static void test_mock_ardour_set_surface_dump_twice(void **state) {
  struct mock_fx *f = *state;
  set_surface(f, 3, 0);
  mock_fx_sync(f);
  assert_int_equal(count_real(f), 2 * 3 * 29); /* 29 per strip, every strip, twice */
  expect_dump_audio1(f, 0);
  expect_dump_audio1(f, 3 * 29);
  const struct osc_rx *r = osc_client_get(f->c, 2 * 29 + 21);
  assert_string_equal(r->path, "/strip/pan_type");
  assert_string_equal(osc_rx_s(r, 1), "panner_balance"); /* MIDI track with a synth */
  /* feedback 0: no reply at all */
  osc_client_clear(f->c);
  set_surface(f, 0, 0);
  mock_fx_sync(f);
  assert_int_equal(count_real(f), 0);
  /* no arguments: the current settings */
  osc_client_send(f->c, f->port, "/set_surface", "");
  mock_fx_sync(f);
  static const struct exp q[] = {{"/set_surface", "iiiiiiiii", "0 159 0 0 0 0 0 1 0"}};
  expect_seq(f, 0, q, 1);
}

static void test_mock_ardour_strip_list(void **state) {
  struct mock_fx *f = *state;
  set_surface(f, 0, 0);
  osc_client_send(f->c, f->port, "/strip/list", "");
  mock_fx_sync(f);
  static const struct exp list[] = {
      {"#reply", "ssiiiiii", "\"AT\" \"Audio 1\" 1 2 0 0 1 0"},
      {"#reply", "ssiiiiii", "\"AT\" \"Audio 2\" 1 2 0 0 2 0"},
      {"#reply", "ssiiiiii", "\"MT\" \"MIDI 1\" 0 2 0 0 3 0"},
      {"#reply", "shhi", "\"end_route_list\" 48000 0 0"},
  };
  expect_seq(f, 0, list, N(list));
  assert_int_equal(count_real(f), 4);
  /* feedback 0: changes are applied silently, and the list shows the live state */
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/strip/gain", "if", 1, -6.0);
  osc_client_send(f->c, f->port, "/strip/mute", "ii", 1, 1);
  mock_fx_sync(f);
  assert_int_equal(count_real(f), 0);
  osc_client_send(f->c, f->port, "/strip/list", "");
  mock_fx_sync(f);
  static const struct exp l2[] = {{"#reply", "ssiiiiii", "\"AT\" \"Audio 1\" 1 2 1 0 1 0"}};
  expect_seq(f, 0, l2, 1);
  /* feedback 16384: /reply instead of #reply */
  osc_client_clear(f->c);
  set_surface(f, 16384, 0);
  osc_client_send(f->c, f->port, "/strip/list", "");
  mock_fx_sync(f);
  static const struct exp l3[] = {{"/reply", "ssiiiiii", "\"AT\" \"Audio 1\" 1 2 1 0 1 0"}};
  expect_seq(f, 0, l3, 1);
  assert_non_null(osc_client_find(f->c, "/reply", 3));
  assert_string_equal(osc_rx_s(osc_client_get(f->c, 3), 0), "end_route_list");
  /* with feedback on, the list is followed by the strip dump (once) */
  osc_client_clear(f->c);
  set_surface(f, 3, 0);
  mock_fx_sync(f);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/strip/list", "");
  mock_fx_sync(f);
  assert_int_equal(count_real(f), 4 + 3 * 29);
}

static void test_mock_ardour_midi_track_ports(void **state) {
  struct mock_fx *f = *state;
  set_surface(f, 0, 0);
  osc_client_send(f->c, f->port, "/strip/list", "");
  mock_fx_sync(f);
  static const struct exp list[] = {{"#reply", "ssiiiiii", "\"MT\" \"MIDI 1\" 0 0 0 0 1 0"}}; /* no synth: 0 0 */
  expect_seq(f, 0, list, 1);
}

static void test_mock_ardour_strip_control(void **state) {
  struct mock_fx *f = *state;
  set_surface(f, 3, 0);
  mock_fx_sync(f);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/strip/gain", "if", 1, -6.0);
  osc_client_send(f->c, f->port, "/strip/mute", "ii", 1, 1);
  osc_client_send(f->c, f->port, "/strip/name", "is", 2, "Bass");
  mock_fx_sync(f);
  static const struct exp e3[] = {
      {"/strip/gain", "if", "1 -6.0"},
      {"/strip/mute", "if", "1 1.0"}, /* float back, although sent as int */
      {"/strip/name", "is", "2 \"Bass\""},
  };
  expect_seq(f, 0, e3, N(e3));
  /* feedback 7: ssid in the path */
  set_surface(f, 7, 0);
  mock_fx_sync(f);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/strip/gain", "if", 2, -12.5);
  osc_client_send(f->c, f->port, "/strip/fader", "if", 2, 0.5);
  osc_client_send(f->c, f->port, "/strip/mute", "ii", 3, 1);
  osc_client_send(f->c, f->port, "/strip/solo", "ii", 1, 1);
  osc_client_send(f->c, f->port, "/strip/recenable", "ii", 1, 1);
  osc_client_send(f->c, f->port, "/strip/pan_stereo_position", "if", 1, 0.2);
  osc_client_send(f->c, f->port, "/strip/name", "is", 1, "Drums");
  osc_client_send(f->c, f->port, "/strip/gain", "if", 9, -3.0); /* no such strip: no reply */
  mock_fx_sync(f);
  static const struct exp e7[] = {
      {"/strip/gain/2", "f", "-12.500001"},
      {"/strip/gain/2", "f", "-10.469021"}, /* gainmode 0: fader position answered as dB */
      {"/strip/mute/3", "f", "1.0"},
      {"/strip/solo/1", "f", "1.0"},
      {"/strip/recenable/1", "f", "1.0"},
      {"/strip/pan_stereo_position/1", "f", "0.2"},
      {"/strip/name/1", "s", "\"Drums\""},
  };
  expect_seq(f, 0, e7, N(e7));
  assert_int_equal(count_real(f), N(e7));
  json_t *st = mock_state(f->m);
  json_t *t1 = json_array_get(json_object_get(st, "tracks"), 0);
  assert_string_equal(json_string_value(json_object_get(t1, "name")), "Drums");
  assert_true(json_is_true(json_object_get(t1, "solo")));
  assert_true(json_is_true(json_object_get(t1, "rec_arm")));
  assert_true(fabs(json_number_value(json_object_get(t1, "pan")) + 0.6) < 1e-6);
  assert_true(fabs(json_number_value(json_object_get(json_array_get(json_object_get(st, "tracks"), 1), "volume_db")) +
                   10.469021) < 1e-5);
  json_decref(st);
}

static void test_mock_ardour_transport_markers_session(void **state) {
  struct mock_fx *f = *state;
  set_surface(f, 16, 0);
  mock_fx_sync(f);
  static const struct exp g[] = {
      {"/master/name", "s", "\"Master\""},
      {"/master/mute", "f", "0.0"},
      {"/master/trimdB", "f", "0.0"},
      {"/master/pan_stereo_position", "f", "0.5"},
      {"/master/gain", "f", "0.0"},
      {"/loop_toggle", "f", "0.0"},
      {"/transport_play", "f", "0.0"},
      {"/toggle_roll", "f", "0.0"},
      {"/transport_stop", "f", "1.0"},
      {"/rewind", "f", "0.0"},
      {"/ffwd", "f", "0.0"},
      {"/rec_enable_toggle", "f", "0.0"},
      {"/record_tally", "f", "0.0"},
      {"/marker", "s", "\"No Marks\""},
      {"/session_name", "s", "\"osctest\""},
      {"/cancel_all_solos", "f", "0.0"},
      {"/click/level", "f", "0.781787"},
      {"/group/list", "s", "\"none\""},
      {"/toggle_punch_in", "f", "0.0"},
      {"/toggle_punch_out", "f", "0.0"},
      {"/toggle_click", "f", "0.0"},
      {"/jog/mode/name", "s", "\"Jog\""},
      {"/jog/mode", "i", "0"},
  };
  expect_seq(f, 0, g, N(g));
  assert_int_equal(count_real(f), N(g));
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/transport_play", "");
  mock_fx_sync(f);
  static const struct exp play[] = {
      {"/loop_toggle", "f", "0.0"},    {"/transport_play", "f", "1.0"}, {"/toggle_roll", "f", "1.0"},
      {"/transport_stop", "f", "0.0"}, {"/rewind", "f", "0.0"},         {"/ffwd", "f", "0.0"},
      {"/loop_toggle", "f", "0.0"},    {"/transport_play", "f", "1.0"}, {"/toggle_roll", "f", "1.0"},
      {"/transport_stop", "f", "0.0"}, {"/rewind", "f", "0.0"},         {"/ffwd", "f", "0.0"},
  };
  expect_seq(f, 0, play, N(play));
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/transport_stop", "");
  mock_fx_sync(f);
  static const struct exp stp[] = {
      {"/loop_toggle", "f", "0.0"},    {"/transport_play", "f", "0.0"}, {"/toggle_roll", "f", "0.0"},
      {"/transport_stop", "f", "1.0"}, {"/rewind", "f", "0.0"},         {"/ffwd", "f", "0.0"},
  };
  expect_seq(f, 0, stp, N(stp));
  assert_int_equal(count_real(f), N(stp));
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/add_marker", "");
  osc_client_send(f->c, f->port, "/add_marker", ""); /* real Ardour 7.3 adds a second one at the same position */
  osc_client_send(f->c, f->port, "/save_state", "");
  mock_fx_sync(f);
  static const struct exp mk[] = {{"/marker", "s", "\"mark1\""}, {"/session_name", "s", "\"osctest\""}};
  expect_seq(f, 0, mk, N(mk));
  assert_int_equal(count_real(f), N(mk));
  json_t *st = mock_state(f->m);
  assert_int_equal(json_array_size(json_object_get(st, "markers")), 2);
  json_decref(st);
  /* /undo and /access_action: no effect headless */
  osc_client_send(f->c, f->port, "/undo", "");
  osc_client_send(f->c, f->port, "/access_action", "s", "Main/AddTrackBus");
  mock_fx_sync(f);
  st = mock_state(f->m);
  assert_int_equal(json_array_size(json_object_get(st, "markers")), 2);
  assert_int_equal(json_array_size(json_object_get(st, "tracks")), 3);
  json_decref(st);
  /* master gain, rec-enable, position in samples with bit 1024 */
  set_surface(f, 16 | 1024, 0);
  mock_fx_sync(f);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/master/gain", "f", -3.0);
  osc_client_send(f->c, f->port, "/rec_enable_toggle", "");
  osc_client_send(f->c, f->port, "/locate", "ii", 96000, 0);
  osc_client_send(f->c, f->port, "/transport_frame", "");
  osc_client_send(f->c, f->port, "/goto_start", "");
  mock_fx_sync(f);
  static const struct exp misc[] = {
      {"/master/gain", "f", "-3.0"},           {"/rec_enable_toggle", "f", "1.0"}, {"/record_tally", "f", "1.0"},
      {"/position/samples", "s", "\"96000\""}, {"/marker", "s", "\"mark1 <-\""},   {"/transport_frame", "h", "96000"},
      {"/position/samples", "s", "\"0\""},     {"/marker", "s", "\"mark1\""},
  };
  expect_seq(f, 0, misc, N(misc));
}

static void test_mock_ardour_plugins(void **state) {
  struct mock_fx *f = *state;
  set_surface(f, 0, 0);
  osc_client_send(f->c, f->port, "/strip/plugin/list", "i", 1);
  osc_client_send(f->c, f->port, "/strip/plugin/list", "i", 2);
  osc_client_send(f->c, f->port, "/strip/plugin/list", "i", 3);
  osc_client_send(f->c, f->port, "/strip/plugin/list", "i", 9);
  osc_client_send(f->c, f->port, "/strip/plugin/descriptor", "ii", 1, 1);
  osc_client_send(f->c, f->port, "/strip/plugin/descriptor", "ii", 3, 1);
  mock_fx_sync(f);
  static const struct exp e[] = {
      {"/strip/plugin/list", "iisi", "1 1 \"ACE Compressor\" 1"},
      {"/strip/plugin/list", "i", "2"},
      {"/strip/plugin/list", "iisi", "3 1 \"ACE Reasonable Synth\" 1"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 1 \"Attack\" 128 \"NOTHING\" 0.1 100.0 \"\" 0 10.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 2 \"Release\" 128 \"NOTHING\" 1.0 2000.0 \"\" 0 80.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 3 \"Knee\" 128 \"NOTHING\" 0.0 8.0 \"\" 0 0.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 4 \"Ratio\" 132 \"NOTHING\" 1.0 20.0 \"%.3f  \" 0 4.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 5 \"Threshold\" 128 \"NOTHING\" -60.0 0.0 \"\" 0 0.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 6 \"Makeup\" 128 \"NOTHING\" 0.0 30.0 \"\" 0 0.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 7 \"Gain Reduction\" 0 \"NOTHING\" 0.0 45.0 \"%4.1f\" 0 0.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 8 \"Input Level\" 0 \"NOTHING\" -60.0 10.0 \"%4.1f\" 0 0.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 9 \"Output Level\" 0 \"NOTHING\" -60.0 10.0 \"%4.1f\" 0 0.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 10 \"Sidechain\" 194 \"NOTHING\" 0.0 1.0 \"\" 0 0.0"},
      {"/strip/plugin/descriptor", "iiisisffsid", "1 1 11 \"Enable\" 194 \"NOTHING\" 0.0 1.0 \"\" 0 1.0"},
      {"/strip/plugin/descriptor_end", "ii", "1 1"},
      {"/strip/plugin/descriptor_end", "ii", "3 1"},
  };
  expect_seq(f, 0, e, N(e));
  assert_int_equal(count_real(f), N(e));
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/strip/plugin/parameter", "iiif", 1, 1, 4, 8.0); /* no reply */
  osc_client_send(f->c, f->port, "/strip/plugin/deactivate", "ii", 1, 1);          /* no reply */
  osc_client_send(f->c, f->port, "/strip/plugin/list", "i", 1);
  osc_client_send(f->c, f->port, "/strip/plugin/activate", "ii", 1, 1);
  osc_client_send(f->c, f->port, "/strip/plugin/list", "i", 1);
  osc_client_send(f->c, f->port, "/strip/plugin/descriptor", "ii", 1, 1);
  mock_fx_sync(f);
  static const struct exp e2[] = {
      {"/strip/plugin/list", "iisi", "1 1 \"ACE Compressor\" 0"},
      {"/strip/plugin/list", "iisi", "1 1 \"ACE Compressor\" 1"},
  };
  expect_seq(f, 0, e2, N(e2));
  const struct osc_rx *r = osc_client_find(f->c, "/strip/plugin/descriptor", 0);
  r = osc_client_get(f->c, osc_client_find_index(f->c, "/strip/plugin/descriptor", 0) + 3);
  assert_int_equal(osc_rx_i(r, 2), 4);
  assert_true(fabs(osc_rx_d(r, 10) - 8.0) < 1e-9); /* the current value */
}

static void test_mock_ardour_fixed_reply_port(void **state) {
  struct mock_fx *f = *state;
  /* port N: replies go to N, whoever sent */
  set_surface_port(f, 0, 0, osc_client_port(f->fb));
  osc_client_send(f->c, f->port, "/strip/list", "");
  assert_true(osc_client_wait_path(f->fb, "#reply", T_MS));
  mock_fx_sync(f);
  assert_null(osc_client_find(f->c, "#reply", 0));
  /* /set_surface/port 0 switches back to "reply to the source port" */
  osc_client_send(f->c, f->port, "/set_surface/port", "i", 0);
  osc_client_send(f->c, f->port, "/strip/list", "");
  mock_fx_sync(f);
  assert_non_null(osc_client_find(f->c, "#reply", 0));
}

static void test_mock_ardour_gainmode_fader(void **state) {
  struct mock_fx *f = *state;
  /* feedback 2, gainmode 1: fader position, the dB shown as the name, fader/automation (observed on 7.3) */
  set_surface(f, 2, 1);
  mock_fx_sync(f);
  static const struct exp dump[] = {
      {"/strip/select", "if", "1 0.0"},
      {"/strip/fader", "if", "1 0.781787"},
      {"/strip/name", "is", "1 \"0.00\""},
      {"/strip/fader/automation", "if", "1 0.0"},
      {"/strip/fader/automation_name", "is", "1 \"Manual\""},
  };
  static const struct exp next[] = {{"/strip/select", "if", "2 0.0"}};
  size_t i = expect_seq(f, 0, dump, N(dump));
  expect_seq(f, expect_seq(f, i, DUMP_TRIM_PAN1, N(DUMP_TRIM_PAN1)), next, 1);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/strip/fader", "if", 1, 0.5);
  osc_client_send(f->c, f->port, "/strip/gain", "if", 1, -6.0);
  mock_fx_sync(f);
  static const struct exp e1[] = {
      {"/strip/fader", "if", "1 0.5"},
      {"/strip/name", "is", "1 \"-10.47\""},
      {"/strip/fader", "if", "1 0.606968"},
      {"/strip/name", "is", "1 \"-6.00\""},
  };
  expect_seq(f, 0, e1, N(e1));
  /* gainmode 2: fader and gain */
  set_surface(f, 2, 2);
  mock_fx_sync(f);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/strip/gain", "if", 1, -3.0);
  mock_fx_sync(f);
  static const struct exp e2[] = {{"/strip/fader", "if", "1 0.689543"}, {"/strip/gain", "if", "1 -3.0"}};
  expect_seq(f, 0, e2, N(e2));
  /* /set_surface/feedback dumps once */
  set_surface(f, 0, 0);
  mock_fx_sync(f);
  osc_client_clear(f->c);
  osc_client_send(f->c, f->port, "/set_surface/feedback", "i", 3);
  mock_fx_sync(f);
  assert_int_equal(count_real(f), 3 * 29);
}

static void test_mock_ardour_malformed(void **state) {
  struct mock_fx *f = *state;
  set_surface(f, 3, 0);
  mock_fx_sync(f);
  osc_client_clear(f->c);
  struct mock_stats s0, s1;
  mock_get_stats(f->m, &s0);
  osc_client_send_raw(f->c, f->port, "/strip/gain\0,if\0\0\0", 17);
  osc_client_send_raw(f->c, f->port, "\0\0\0\0", 4);
  osc_client_send_raw(f->c, f->port, "#bundle\0", 8);
  osc_client_send(f->c, f->port, "/strip/gain", "");          /* wrong arg count */
  osc_client_send(f->c, f->port, "/strip/gain", "s", "loud"); /* wrong type */
  osc_client_send(f->c, f->port, "/strip/name", "ii", 1, 2);  /* wrong type */
  osc_client_send(f->c, f->port, "/strip/mute", "ii", -4, 1); /* no such strip */
  osc_client_send(f->c, f->port, "/no/such/thing", "fff", 1.0, 2.0, 3.0);
  osc_client_send(f->c, f->port, "/strip/plugin/parameter", "iiif", 1, 7, 1, 1.0); /* no such plugin */
  mock_fx_sync(f);
  mock_get_stats(f->m, &s1);
  assert_true(s1.malformed - s0.malformed >= 3);
  assert_int_equal(count_real(f), 0);
  json_t *st = mock_state(f->m);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(st, "tracks"), 0), "name")),
                      "Audio 1");
  json_decref(st);
}

static void test_mock_ardour_restart_forgets_surface(void **state) {
  struct mock_fx *f = *state;
  set_surface(f, 0, 0);
  osc_client_send(f->c, f->port, "/strip/name", "is", 1, "Kept");
  mock_fx_sync(f);
  assert_int_equal(mock_restart(f->m, 1, 30), MOCK_OK);
  osc_client_run_for(f->c, 100);
  osc_client_send(f->c, f->port, "/strip/list", "");
  assert_true(osc_client_wait_path(f->fb, "#reply", T_MS)); /* unregistered again: port 8000 */
  assert_string_equal(osc_rx_s(osc_client_find(f->fb, "#reply", 0), 1), "Kept");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_mock_ardour_replies_to_8000_before_set_surface, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_set_surface_dump_twice, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_strip_list, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_midi_track_ports, setup_midi_only, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_strip_control, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_transport_markers_session, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_plugins, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_fixed_reply_port, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_gainmode_fader, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_malformed, setup, mock_fx_teardown),
      cmocka_unit_test_setup_teardown(test_mock_ardour_restart_forgets_surface, setup, mock_fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
