/* agent_fixture: the agent end to end in one loop, for test_agent and test_instruments (see agent_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_fixture.h"
#include "db_test_json.h"
#include "db_test_util.h"

static void logf_(int level, const char *module, const char *text, void *data) {
  struct fx *f = data;
  if (getenv("AGENT_VERBOSE") && strcmp(module, "agent")) fprintf(stderr, "[%d] %s: %s\n", level, module, text);
  if (strcmp(module, "agent")) return; /* the agent's lines only: the wire's are many */
  size_t n = strlen(f->log);
  if (n + strlen(text) + 64 > sizeof f->log) return;
  snprintf(f->log + n, sizeof f->log - n, "[%d] %s: %s\n", level, module, text);
  if (getenv("AGENT_VERBOSE")) fprintf(stderr, "[%d] %s: %s\n", level, module, text);
}

void on_started(int status, const json_t *result, const char *message, void *data) {
  struct fx *f = data;
  (void)result;
  f->started = 1;
  f->start_status = status;
  snprintf(f->start_msg, sizeof f->start_msg, "%s", message ? message : "");
}

static void cb_stage(agent_t *a, enum agent_stage st, void *data) {
  struct fx *f = data;
  (void)a;
  f->nstages[st]++;
  if (st == (f->limit_stage ? (enum agent_stage)f->limit_stage : AGENT_SAVING) && f->limit_fsize) {
    getrlimit(RLIMIT_FSIZE, &f->old_fsize);
    struct rlimit rl = {.rlim_cur = 64, .rlim_max = f->old_fsize.rlim_max};
    setrlimit(RLIMIT_FSIZE, &rl);
  }
}

static void cb_confirm(agent_t *a, const json_t *plan, void *data) {
  struct fx *f = data;
  assert_non_null(plan);
  if (f->confirm_answer >= 0) agent_confirm(a, f->confirm_answer);
}

static void cb_result(agent_t *a, const char *tool, const json_t *args, int status, const json_t *result,
                      const char *message, void *data) {
  struct fx *f = data;
  (void)tool, (void)args, (void)status, (void)result, (void)message;
  f->nresults++;
  if (f->cancel_after_results && f->nresults == f->cancel_after_results) agent_cancel(a);
}

static void cb_violation(agent_t *a, const json_t *v, void *data) {
  struct fx *f = data;
  (void)a, (void)v;
  f->nviolations++;
}

static void cb_done(agent_t *a, int status, const json_t *resp, const char *message, void *data) {
  struct fx *f = data;
  (void)a;
  if (f->limit_fsize) setrlimit(RLIMIT_FSIZE, &f->old_fsize);
  f->done++;
  if (f->done > 1)
    fprintf(stderr, "on_done called %d times (status %d, %s); log:\n%s\n", f->done, status, message ? message : "",
            f->log);
  f->status = status;
  json_decref(f->resp);
  f->resp = json_deep_copy(resp);
  snprintf(f->msg, sizeof f->msg, "%s", message ? message : "");
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

int run_until(struct fx *f, int *flag, int timeout_ms) {
  uv_timer_t t;
  int expired = 0;
  uv_timer_init(&f->loop, &t);
  t.data = &expired;
  uv_timer_start(&t, on_deadline, (uint64_t)timeout_ms, 0);
  while (!*flag && !expired) uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  return *flag;
}

/* Returns 0, or the daw_start status (a DAW that cannot start with drops is an explicit failure). */
int fx_open(struct fx *f, const struct fx_opts *o) {
  memset(f, 0, sizeof *f);
  f->confirm_answer = -1;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  snprintf(f->data_dir, sizeof f->data_dir, "/tmp/dawbridge-test-agent-XXXXXX");
  assert_non_null(mkdtemp(f->data_dir));
  struct daw_config dc;
  memset(&dc, 0, sizeof dc);
  dc.dialect = o->dialect;
  dc.listen_port = -1;
  dc.confirm_timeout_ms = -1;
  dc.retries = -1;
  dc.log.fn = logf_;
  dc.log.data = f;
  dc.log.level = getenv("AGENT_VERBOSE") ? LOG_DEBUG : LOG_INFO;
  char err[512];
  struct mock_embed_config mc = {.tracks = o->tracks, .drop = o->drop, .seed = o->seed, .companion = 1, .quiet = 1};
  int rc = mock_embed_open(&f->loop, &dc, &mc, &f->daw, &f->mock, err, sizeof err);
  if (rc) fail_msg("mock_embed_open: %s", err);
  assert_int_equal(daw_start(f->daw, on_started, f), 0);
  run_until(f, &f->started, 60000);
  assert_true(f->started);
  if (f->start_status) return f->start_status;
  if (o->transcript || o->script) {
    struct llm_config lc;
    llm_config_defaults(&lc);
    json_t *tr = o->transcript ? db_test_source_json(o->transcript) : json_incref(o->script);
    if (o->openai_http) {
      f->mllm = mock_llm_new(&f->loop, 0, err, sizeof err);
      if (!f->mllm) fail_msg("mock_llm_new: %s", err);
      size_t i;
      json_t *r;
      json_array_foreach(json_object_get(tr, "responses"), i, r) {
        json_t *spec = json_deep_copy(r);
        json_object_del(spec, "match");
        mock_llm_push(f->mllm, spec);
      }
      lc.provider = LLM_PROVIDER_OPENAI;
      snprintf(lc.url, sizeof lc.url, "http://127.0.0.1:%d", mock_llm_port(f->mllm));
      snprintf(lc.model, sizeof lc.model, "mock-model");
      lc.max_attempts = 1;
    } else {
      lc.provider = LLM_PROVIDER_SCRIPT;
      lc.script = tr;
    }
    f->llm = llm_new(&f->loop, &lc, err, sizeof err);
    json_decref(tr);
    if (!f->llm) fail_msg("llm_new: %s", err);
  }
  struct agent_config ac;
  memset(&ac, 0, sizeof ac);
  ac.daw = f->daw;
  ac.llm = f->llm;
  ac.executor = o->executor;
  ac.max_turns = o->max_turns;
  ac.confirm = o->confirm;
  ac.stream = 1;
  ac.no_fix = o->no_fix;
  ac.data_dir = f->data_dir;
  ac.composition = "test";
  ac.log.fn = logf_;
  ac.log.data = f;
  ac.log.level = LOG_DEBUG;
  ac.cb.on_stage = cb_stage;
  ac.cb.on_confirm = cb_confirm;
  ac.cb.on_tool_result = cb_result;
  ac.cb.on_violation = cb_violation;
  ac.cb.on_done = cb_done;
  ac.cb.data = f;
  rc = agent_new(&f->loop, &ac, &f->agent, err, sizeof err);
  if (rc) fail_msg("agent_new: %s", err);
  return 0;
}

static void on_closed(void *data) { (*(int *)data)++; }

void fx_close(struct fx *f) {
  int n = 0, want = 0;
  if (f->agent) agent_close(f->agent, on_closed, &n), want++;
  while (n < want) uv_run(&f->loop, UV_RUN_ONCE);
  if (f->llm) llm_close(f->llm, on_closed, &n), want++;
  if (f->mllm) mock_llm_close(f->mllm, on_closed, &n), want++;
  if (f->daw) daw_close(f->daw, on_closed, &n), want++;
  if (f->mock) mock_embed_close(f->mock, on_closed, &n), want++;
  while (n < want) uv_run(&f->loop, UV_RUN_ONCE);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  json_decref(f->resp);
  db_test_rm_rf(f->data_dir);
}

void fx_wait(struct fx *f) {
  if (!run_until(f, &f->done, 120000)) fail_msg("the agent did not finish within 120 s; log:\n%s", f->log);
  assert_int_equal(f->done, 1);
  if (getenv("AGENT_VERBOSE")) {
    char *s = json_dumps(f->resp, JSON_INDENT(1));
    fprintf(stderr, "response: %s\n", s);
    free(s);
  }
}

void fx_ask(struct fx *f, const char *request) {
  assert_int_equal(agent_ask(f->agent, request), AGENT_OK);
  assert_int_equal(f->done, 0); /* never synchronous */
  fx_wait(f);
}

/* Opens the fixture o, asks request, and fails with the agent's log unless the run ends with want_status. */
void fx_run(struct fx *f, const struct fx_opts *o, const char *request, int want_status) {
  assert_int_equal(fx_open(f, o), 0);
  fx_ask(f, request);
  if (f->status != want_status)
    fail_msg("status %d, expected %d (%s); log:\n%s", f->status, want_status, f->msg, f->log);
}
