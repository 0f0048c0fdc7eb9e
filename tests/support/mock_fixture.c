/* mock_fixture.c — see mock_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_test_util.h"
#include "mock_fixture.h"

static void write_session(struct mock_fx *f, const char *json) {
  snprintf(f->sess, sizeof f->sess, "/tmp/test_mock_session_XXXXXX");
  int fd = mkstemp(f->sess);
  assert_true(fd >= 0);
  size_t n = strlen(json);
  assert_int_equal(write(fd, json, n), (ssize_t)n);
  close(fd);
}

void mock_fx_start(struct mock_fx *f, const struct mock_config *cfg, const char *session_json, unsigned flags) {
  memset(f, 0, sizeof *f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(osc_client_new(&f->loop, 0, &f->c), 0);
  if (flags & MOCK_FX_FEEDBACK_CLIENT) assert_int_equal(osc_client_new(&f->loop, 0, &f->fb), 0);
  struct mock_config c = *cfg;
  c.feedback_port = osc_client_port(f->fb ? f->fb : f->c);
  if (session_json) {
    write_session(f, session_json);
    c.session_file = f->sess;
  }
  if (flags & MOCK_FX_SPOOL) {
    snprintf(f->spool, sizeof f->spool, "/tmp/test_mock_spool_XXXXXX");
    assert_non_null(mkdtemp(f->spool));
    c.spool_dir = f->spool;
  }
  char err[256];
  if (mock_new(&f->loop, &c, &f->m, err, sizeof err) != MOCK_OK) fail_msg("mock_new: %s", err);
  f->port = mock_port(f->m);
  assert_true(f->port > 0);
}

void mock_fx_sync(struct mock_fx *f) {
  size_t from = osc_client_count(f->c);
  assert_int_equal(osc_client_send(f->c, f->port, "/mock/ping", ""), 0);
  for (int i = 0; i < 100; i++) {
    if (osc_client_find(f->c, "/mock/pong", from)) return;
    osc_client_run_for(f->c, 30);
  }
  fail_msg("no /mock/pong");
}

void mock_fx_stop(struct mock_fx *f) {
  mock_close(f->m, NULL, NULL);
  osc_client_close(f->c, NULL, NULL);
  if (f->fb) osc_client_close(f->fb, NULL, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  if (f->sess[0]) unlink(f->sess);
  if (f->spool[0]) db_test_rm_rf(f->spool);
}

json_t *mock_fx_track(struct mock_fx *f, int idx1) {
  json_t *st = mock_state(f->m);
  json_t *t = json_incref(json_array_get(json_object_get(st, "tracks"), (size_t)idx1 - 1));
  json_decref(st);
  return t;
}

int mock_fx_ntracks(struct mock_fx *f) {
  json_t *st = mock_state(f->m);
  int n = (int)json_array_size(json_object_get(st, "tracks"));
  json_decref(st);
  return n;
}

int mock_fx_setup_with(void **state, const struct mock_config *cfg, const char *session_json, unsigned flags) {
  struct mock_fx *f = calloc(1, sizeof *f);
  assert_non_null(f);
  mock_fx_start(f, cfg, session_json, flags);
  *state = f;
  return 0;
}

int mock_fx_teardown(void **state) {
  struct mock_fx *f = *state;
  mock_fx_stop(f);
  free(f);
  return 0;
}
