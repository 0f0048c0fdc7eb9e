/* The seed workflow through the bridge (daw_t: native OSC + companion) against a REAL headless Ardour 7 running the
 * companion's headless entry. Run by tests/companions/ardour_e2e.sh with ARDOUR_E2E_RUN pointing here, which
 * starts Ardour and sets DAWBRIDGE_ARDOUR_PORT and DAWBRIDGE_SPOOL; without them the test is skipped (77). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "companion.h"
#include "daw.h"
#include "wire_fixture.h"

#define WAIT_MS 60000

/* A failed step names itself and the real host's words. */
static void expect_ok(struct wire *t, int rc, const char *what) {
  if (rc) fail_msg("%s: %d %s\nlog:\n%s", what, rc, t->message, t->log);
}

static const char *rs(struct wire *t, const char *k) { return json_string_value(json_object_get(t->result, k)); }

static void test_companion_real_ardour_seed_workflow(void **st) {
  (void)st;
  struct wire t;
  memset(&t, 0, sizeof t);
  uv_loop_init(&t.loop);
  daw_t *d = NULL;
  struct daw_config cfg = {.dialect = "ardour",
                           .host = "127.0.0.1",
                           .port = atoi(getenv("DAWBRIDGE_ARDOUR_PORT")),
                           .listen_port = 0,
                           .confirm_timeout_ms = -1,
                           .retries = -1,
                           .refresh_interval_ms = 0,
                           .spool_dir = getenv("DAWBRIDGE_SPOOL"),
                           .companion_timeout_ms = 20000,
                           .log = {.fn = wire_log, .data = &t, .level = LOG_DEBUG}};
  char err[512];
  assert_int_equal(daw_open(&t.loop, &cfg, &d, err, sizeof err), 0);
  t.daw = d;
  assert_int_equal(daw_start(d, wire_on_result, &t), 0);
  expect_ok(&t, wire_wait(&t, WAIT_MS), "start");
  assert_true(json_is_true(json_object_get(t.result, "companion")));
  int n0 = session_track_count(daw_session(d));

  expect_ok(&t, wire_begin_request(&t, "add a kick"), "begin_request");
  expect_ok(&t, wire_callf(&t, "create_track", "{\"name\":\"Kick\",\"type\":\"midi\",\"instrument\":\"synth\"}"),
            "create_track");
  assert_string_equal(rs(&t, "status"), "confirmed");
  assert_string_equal(rs(&t, "instrument"), "ACE Reasonable Synth");
  char track_id[16];
  snprintf(track_id, sizeof track_id, "%s", rs(&t, "track_id"));
  int ti = session_track_index_by_id(daw_session(d), track_id);
  assert_int_equal(ti, n0 + 1);
  assert_non_null(session_track_host_id(daw_session(d), ti));

  expect_ok(&t,
            wire_callf(&t, "create_midi_clip",
                       "{\"track_id\":\"%s\",\"start_time\":4,\"duration\":4,\"name\":\"kick\",\"notes\":"
                       "[{\"n\":36,\"s\":0,\"d\":0.5,\"v\":110},{\"n\":36,\"s\":2,\"d\":0.5,\"v\":100}]}",
                       track_id),
            "create_midi_clip");
  assert_string_equal(rs(&t, "status"), "confirmed"); /* read back with read_clip, note by note */
  char clip_id[32];
  snprintf(clip_id, sizeof clip_id, "%s", rs(&t, "clip_id"));

  expect_ok(&t, wire_callf(&t, "add_effect", "{\"track_id\":\"%s\",\"effect_name\":\"reverb\"}", track_id),
            "add_effect");
  assert_int_equal(json_integer_value(json_object_get(t.result, "effect_index")), 2); /* the synth is plugin 1 */
  assert_string_equal(rs(&t, "name"), "ACE Reverb");
  assert_string_equal(rs(&t, "confirmed_by"), "osc"); /* seen in /strip/plugin/list */
  expect_ok(&t, wire_end_request(&t), "end_request");

  /* a full refresh (native + the companion's state): the mirror still holds it all */
  expect_ok(&t, wire_refresh(&t), "refresh");
  ti = session_track_index_by_id(daw_session(d), track_id);
  assert_true(ti > 0);
  assert_int_equal(session_track_fx_count(daw_session(d), ti), 2);
  assert_string_equal(session_track_fx_name(daw_session(d), ti, 2), "ACE Reverb");
  const json_t *c = session_clip_find(daw_session(d), clip_id, NULL);
  assert_non_null(c);
  json_t *notes = json_object_get(c, "notes");
  assert_int_equal(json_array_size(notes), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(notes, 1), "v")), 100);
  assert_true(fabs(json_number_value(json_object_get(json_array_get(notes, 1), "s")) - 2) < 1e-6);
  assert_true(fabs(json_number_value(json_object_get(c, "start")) - 4) < 1e-6);

  /* remove the clip again through the bridge (confirmed by read_clip no longer finding it) */
  expect_ok(&t, wire_callf(&t, "delete_clip", "{\"clip_id\":\"%s\"}", clip_id), "delete_clip");
  assert_null(session_clip_find(daw_session(d), clip_id, NULL));

  daw_close(d, NULL, NULL);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  json_decref(t.result);
  assert_int_equal(uv_loop_close(&t.loop), 0);
  assert_int_equal(t.internal_errors, 0);
}

int main(void) {
  if (!getenv("DAWBRIDGE_ARDOUR_PORT") || !getenv("DAWBRIDGE_SPOOL")) {
    fprintf(stderr, "skipped: needs DAWBRIDGE_ARDOUR_PORT and DAWBRIDGE_SPOOL (run it through "
                    "tests/companions/ardour_e2e.sh with ARDOUR_E2E_RUN)\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_companion_real_ardour_seed_workflow),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
