/* The Ardour dialect against a real Ardour 7.3 (headless, Ardour's Lua session host, Dummy backend), started by
 * tests/support/ardour-runner.sh through ctest's fixture. Every value is confirmed by Ardour's own feedback, then
 * read back by a second, independent full sync; the save is checked in the session file Ardour wrote.
 * Skips (77) when DAWBRIDGE_ARDOUR_PORT is not set. */
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

#include "wire_fixture.h"

static int port(void) {
  const char *p = getenv("DAWBRIDGE_ARDOUR_PORT");
  return p ? atoi(p) : 0;
}

static void open_real(struct wire *w) {
  struct wire_opts o = {.dialect = "ardour",
                        .tracks = -1,
                        .confirm_ms = 400,
                        .retries = 4,
                        .silence_ms = -1,
                        .probe_ms = -1,
                        .external_port = port()};
  int rc = wire_open(w, &o);
  if (rc) fprintf(stderr, "sync with Ardour on %d failed: %s\n%s\n", port(), w->message, w->log);
  assert_int_equal(rc, 0);
}

static json_t *track(json_t *st, int i) { return json_array_get(json_object_get(st, "tracks"), (size_t)i - 1); }
static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* The session the runner creates: Audio 1 (ACE Compressor), Audio 2, MIDI 1 (ACE Reasonable Synth). */
static void test_real_ardour_full_sync(void **state) {
  struct wire w;
  open_real(&w);
  json_t *st = wire_mirror(&w);
  assert_true(json_array_size(json_object_get(st, "tracks")) >= 3);
  assert_string_equal(str(track(st, 1), "type"), "audio");
  assert_string_equal(str(track(st, 3), "type"), "midi");
  assert_string_equal(str(track(st, 3), "instrument"), "ACE Reasonable Synth");
  json_t *fx = json_object_get(track(st, 1), "fx");
  assert_int_equal(json_array_size(fx), 1);
  assert_string_equal(str(json_array_get(fx, 0), "name"), "ACE Compressor");
  assert_string_equal(str(st, "project"), "osctest");
  json_decref(st);
  assert_int_equal(wire_close(&w), 0);
  (void)state;
}

struct call {
  const char *tool, *args;
};

static const struct call calls[] = {
    {"set_track", "{\"track_id\":\"t2\",\"name\":\"Bass\"}"},
    {"set_track", "{\"track_id\":\"t1\",\"volume_db\":-6.5}"},
    {"set_track", "{\"track_id\":\"t2\",\"mute\":true}"},
    {"set_track", "{\"track_id\":\"t1\",\"solo\":true}"},
    {"set_track", "{\"track_id\":\"t3\",\"rec_arm\":true}"},
    {"set_track", "{\"track_id\":\"t1\",\"pan\":-0.4}"},
    {"set_effect_param", "{\"track_id\":\"t1\",\"effect_index\":1,\"param_index\":4,\"value\":0.5}"},
    {"set_effect_enabled", "{\"track_id\":\"t1\",\"effect_index\":1,\"enabled\":false}"},
    {"transport", "{\"action\":\"play\"}"},
    {"transport", "{\"action\":\"stop\"}"},
    {"transport", "{\"action\":\"record\"}"},
    {"transport", "{\"action\":\"stop\"}"},
    {"transport", "{\"action\":\"rewind\"}"},
    {"add_marker", "{\"position\":8,\"name\":\"Verse\"}"},
    {"save_project", "{}"},
};

static void test_real_ardour_native_tools_confirmed_by_ardour(void **state) {
  struct wire w;
  open_real(&w);
  for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
    int rc = wire_call(&w, calls[i].tool, calls[i].args);
    if (rc) fprintf(stderr, "%s %s: %s\n%s\n", calls[i].tool, calls[i].args, w.message, w.log);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(w.result, "status")), "confirmed");
  }
  assert_int_equal(wire_close(&w), 0);

  /* an independent second sync reads what Ardour holds now */
  struct wire v;
  open_real(&v);
  json_t *st = wire_mirror(&v);
  assert_string_equal(str(track(st, 2), "name"), "Bass");
  assert_true(fabs(json_number_value(json_object_get(track(st, 1), "volume_db")) + 6.5) < 0.05);
  assert_true(json_is_true(json_object_get(track(st, 2), "mute")));
  assert_true(json_is_true(json_object_get(track(st, 1), "solo")));
  assert_true(json_is_true(json_object_get(track(st, 3), "rec_arm")));
  assert_true(fabs(json_number_value(json_object_get(track(st, 1), "pan")) + 0.4) < 0.01);
  json_t *fx = json_array_get(json_object_get(track(st, 1), "fx"), 0);
  assert_true(json_is_false(json_object_get(fx, "enabled")));
  assert_false(json_is_true(json_object_get(json_object_get(st, "transport"), "playing")));
  json_decref(st);
  /* re-enable, confirmed by Ardour */
  assert_int_equal(wire_call(&v, "set_effect_enabled", "{\"track_id\":\"t1\",\"effect_index\":1,\"enabled\":true}"), 0);
  assert_int_equal(wire_close(&v), 0);

  /* the save really wrote the session file, with the rename and the marker */
  const char *sess = getenv("DAWBRIDGE_ARDOUR_SESSION");
  if (sess) {
    FILE *f = fopen(sess, "r");
    assert_non_null(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    assert_non_null(strstr(buf, "name=\"Bass\""));
    assert_non_null(strstr(buf, "name=\"Verse\""));
  }
  (void)state;
}

static void test_real_ardour_bad_requests(void **state) {
  struct wire w;
  open_real(&w);
  assert_int_equal(wire_call(&w, "set_tempo", "{\"bpm\":100}"), SYNC_ENOTOOL);
  assert_int_equal(wire_call(&w, "set_track", "{\"track_id\":\"t99\",\"mute\":true}"), SYNC_ENOTRACK);
  assert_int_equal(
      wire_call(&w, "set_effect_param", "{\"track_id\":\"t1\",\"effect_index\":1,\"param_index\":99,\"value\":0.5}"),
      SYNC_EINVAL);
  assert_int_equal(wire_close(&w), 0);
  (void)state;
}

int main(void) {
  if (!port()) {
    fprintf(stderr, "DAWBRIDGE_ARDOUR_PORT not set: no real Ardour for this run (skipped)\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_ardour_full_sync),
      cmocka_unit_test(test_real_ardour_native_tools_confirmed_by_ardour),
      cmocka_unit_test(test_real_ardour_bad_requests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
