/* bench_daw: see bench_daw.h. */
#include "bench_daw.h"

#include <stdio.h>

void bench_daw_on_result(int status, const json_t *result, const char *message, void *data) {
  struct bench_daw_result *r = data;
  r->done = 1;
  r->status = status;
  snprintf(r->msg, sizeof r->msg, "%s", message ? message : "");
  json_decref(r->result);
  r->result = result ? json_copy((json_t *)result) : NULL;
}

static void keepalive(uv_timer_t *t) { (void)t; }

int bench_daw_wait(uv_loop_t *loop, struct bench_daw_result *r) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, keepalive, 1000, 1000);
  while (!r->done) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return r->status;
}
