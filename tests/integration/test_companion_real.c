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

struct rt {
  uv_loop_t loop;
  daw_t *d;
  int done, status;
  json_t *result;
  char message[1600];
};

static void on_daw(int status, const json_t *result, const char *message, void *data) {
  struct rt *t = data;
  t->done = 1;
  t->status = status;
  json_decref(t->result);
  t->result = result ? json_deep_copy(result) : NULL;
  snprintf(t->message, sizeof t->message, "%s", message ? message : "");
}

static void on_deadline(uv_timer_t *tm) { *(int *)tm->data = 1; }

static int wait_rt(struct rt *t) {
  uv_timer_t tm;
  int expired = 0;
  uv_timer_init(&t->loop, &tm);
  tm.data = &expired;
  uv_timer_start(&tm, on_deadline, 60000, 0);
  while (!t->done && !expired) uv_run(&t->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tm, NULL);
  uv_run(&t->loop, UV_RUN_NOWAIT);
  if (!t->done) {
    snprintf(t->message, sizeof t->message, "no result within 60 s");
    return -999;
  }
  if (t->status) fprintf(stderr, "-> %d: %s\n", t->status, t->message);
  return t->status;
}

static void log_fn(int level, const char *module, const char *text, void *data) {
  (void)data;
  if (level <= LOG_INFO || getenv("WIRE_VERBOSE")) fprintf(stderr, "[%d] %s: %s\n", level, module, text);
}

static int call(struct rt *t, const char *tool, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_t *args = json_loads(buf, 0, NULL);
  assert_non_null(args);
  t->done = 0;
  int rc = daw_call(t->d, tool, args, on_daw, t);
  json_decref(args);
  if (rc) return rc;
  rc = wait_rt(t);
  if (!rc) {
    char *s = json_dumps(t->result, JSON_COMPACT);
    fprintf(stderr, "%s: %s\n", tool, s);
    free(s);
  }
  return rc;
}

static const char *rs(struct rt *t, const char *k) { return json_string_value(json_object_get(t->result, k)); }

static void test_companion_real_ardour_seed_workflow(void **st) {
  (void)st;
  struct rt t;
  memset(&t, 0, sizeof t);
  uv_loop_init(&t.loop);
  struct daw_config cfg = {.dialect = "ardour",
                           .host = "127.0.0.1",
                           .port = atoi(getenv("DAWBRIDGE_ARDOUR_PORT")),
                           .listen_port = 0,
                           .confirm_timeout_ms = -1,
                           .retries = -1,
                           .refresh_interval_ms = 0,
                           .spool_dir = getenv("DAWBRIDGE_SPOOL"),
                           .companion_timeout_ms = 20000,
                           .log = {.fn = log_fn, .level = LOG_DEBUG}};
  char err[512];
  assert_int_equal(daw_open(&t.loop, &cfg, &t.d, err, sizeof err), 0);
  assert_int_equal(daw_start(t.d, on_daw, &t), 0);
  assert_int_equal(wait_rt(&t), 0);
  assert_true(json_is_true(json_object_get(t.result, "companion")));
  int n0 = session_track_count(daw_session(t.d));

  t.done = 0;
  assert_int_equal(daw_begin_request(t.d, "add a kick", on_daw, &t), 0);
  assert_int_equal(wait_rt(&t), 0);
  assert_int_equal(call(&t, "create_track", "{\"name\":\"Kick\",\"type\":\"midi\",\"instrument\":\"synth\"}"), 0);
  assert_string_equal(rs(&t, "status"), "confirmed");
  assert_string_equal(rs(&t, "instrument"), "ACE Reasonable Synth");
  char track_id[16];
  snprintf(track_id, sizeof track_id, "%s", rs(&t, "track_id"));
  int ti = session_track_index_by_id(daw_session(t.d), track_id);
  assert_int_equal(ti, n0 + 1);
  assert_non_null(session_track_host_id(daw_session(t.d), ti));

  assert_int_equal(call(&t, "create_midi_clip",
                        "{\"track_id\":\"%s\",\"start_time\":4,\"duration\":4,\"name\":\"kick\",\"notes\":"
                        "[{\"n\":36,\"s\":0,\"d\":0.5,\"v\":110},{\"n\":36,\"s\":2,\"d\":0.5,\"v\":100}]}",
                        track_id),
                   0);
  assert_string_equal(rs(&t, "status"), "confirmed"); /* read back with read_clip, note by note */
  char clip_id[32];
  snprintf(clip_id, sizeof clip_id, "%s", rs(&t, "clip_id"));

  assert_int_equal(call(&t, "add_effect", "{\"track_id\":\"%s\",\"effect_name\":\"reverb\"}", track_id), 0);
  assert_int_equal(json_integer_value(json_object_get(t.result, "effect_index")), 2); /* the synth is plugin 1 */
  assert_string_equal(rs(&t, "name"), "ACE Reverb");
  assert_string_equal(rs(&t, "confirmed_by"), "osc"); /* seen in /strip/plugin/list */
  t.done = 0;
  assert_int_equal(daw_end_request(t.d, on_daw, &t), 0);
  assert_int_equal(wait_rt(&t), 0);

  /* a full refresh (native + the companion's state): the mirror still holds it all */
  t.done = 0;
  assert_int_equal(daw_refresh(t.d, on_daw, &t), 0);
  assert_int_equal(wait_rt(&t), 0);
  ti = session_track_index_by_id(daw_session(t.d), track_id);
  assert_true(ti > 0);
  assert_int_equal(session_track_fx_count(daw_session(t.d), ti), 2);
  assert_string_equal(session_track_fx_name(daw_session(t.d), ti, 2), "ACE Reverb");
  const json_t *c = session_clip_find(daw_session(t.d), clip_id, NULL);
  assert_non_null(c);
  json_t *notes = json_object_get(c, "notes");
  assert_int_equal(json_array_size(notes), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(notes, 1), "v")), 100);
  assert_true(fabs(json_number_value(json_object_get(json_array_get(notes, 1), "s")) - 2) < 1e-6);
  assert_true(fabs(json_number_value(json_object_get(c, "start")) - 4) < 1e-6);

  /* remove the clip again through the bridge (confirmed by read_clip no longer finding it) */
  assert_int_equal(call(&t, "delete_clip", "{\"clip_id\":\"%s\"}", clip_id), 0);
  assert_null(session_clip_find(daw_session(t.d), clip_id, NULL));

  daw_close(t.d, NULL, NULL);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  json_decref(t.result);
  assert_int_equal(uv_loop_close(&t.loop), 0);
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
