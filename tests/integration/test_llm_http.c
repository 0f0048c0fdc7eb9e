/* test_llm_http.c — the LLM client against the mock LLM server over real TCP on 127.0.0.1,
 * both wire formats, plain and streamed; every fault ends in a retry or a clear error; several
 * requests in flight; cancel; keys never logged; the loop keeps serving UDP meanwhile.
 * Assertions are on behaviour, never on speed (deadlines are generous). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "llm.h"
#include "mock_llm_server.h"

#define KEY "sk-test-SECRET-0123456789abcdef"
#define DEADLINE_MS 60000

struct fx {
  uv_loop_t loop;
  mock_llm_t *mock;
  llm_t *llm;
  struct llm_config cfg;
  json_t *logs; /* every log line and every error message */
  int closed;
};

struct done {
  int called;
  int status;
  char msg[2048];
  json_t *res;     /* llm_result_json */
  char text[4096]; /* concatenated deltas */
  size_t ndeltas;
  int cancel_on_delta;
  struct fx *fx;
  uint64_t at; /* loop time when done */
};

static void on_log(void *data, enum llm_log_level lvl, const char *line) {
  struct fx *f = data;
  (void)lvl;
  json_array_append_new(f->logs, json_string(line));
}

static void on_done(llm_call_t *call, int status, const struct llm_result *res, const char *msg, void *data) {
  struct done *d = data;
  (void)call;
  d->called++;
  d->status = status;
  snprintf(d->msg, sizeof d->msg, "%s", msg);
  if (res) d->res = llm_result_json(res);
  if (d->fx) {
    json_array_append_new(d->fx->logs, json_string(msg));
    d->at = uv_now(&d->fx->loop);
  }
}

static void on_delta(llm_call_t *call, const char *text, size_t len, void *data) {
  struct done *d = data;
  size_t n = strlen(d->text);
  if (n + len < sizeof d->text) {
    memcpy(d->text + n, text, len);
    d->text[n + len] = '\0';
  }
  d->ndeltas++;
  if (d->cancel_on_delta) llm_cancel(call);
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* Run the loop until *flag is non-zero; fail after a generous deadline (never a hang). */
static void run_until(uv_loop_t *loop, int *flag) {
  uv_timer_t t;
  int expired = 0;
  uv_timer_init(loop, &t);
  t.data = &expired;
  uv_timer_start(&t, on_deadline, DEADLINE_MS, 0);
  while (!*flag && !expired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  if (!*flag) fail_msg("deadline passed: the loop hung");
}

static void run_for(uv_loop_t *loop, unsigned ms) {
  int flag = 0;
  uv_timer_t t;
  uv_timer_init(loop, &t);
  t.data = &flag;
  uv_timer_start(&t, on_deadline, ms, 0);
  while (!flag) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static void make_llm(struct fx *f, enum llm_provider p) {
  char err[256];
  if (f->llm) {
    llm_close(f->llm, NULL, NULL);
    f->llm = NULL;
  }
  f->cfg.provider = p;
  f->llm = llm_new(&f->loop, &f->cfg, err, sizeof err);
  if (!f->llm) fail_msg("llm_new: %s", err);
}

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  char err[256];
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->mock = mock_llm_new(&f->loop, 0, err, sizeof err);
  if (!f->mock) fail_msg("%s", err);
  f->logs = json_array();
  llm_config_defaults(&f->cfg);
  snprintf(f->cfg.url, sizeof f->cfg.url, "http://127.0.0.1:%d", mock_llm_port(f->mock));
  snprintf(f->cfg.key, sizeof f->cfg.key, "%s", KEY);
  snprintf(f->cfg.model, sizeof f->cfg.model, "test-model");
  f->cfg.base_delay_ms = 10;
  f->cfg.max_delay_ms = 3000;
  f->cfg.max_attempts = 3;
  f->cfg.log = on_log;
  f->cfg.log_data = f;
  f->cfg.log_level = LLM_LOG_DEBUG;
  make_llm(f, LLM_PROVIDER_OPENAI);
  *state = f;
  return 0;
}

static void on_closed(void *data) { (*(int *)data)++; }

static int teardown(void **state) {
  struct fx *f = *state;
  int closed = 0;
  if (f->llm)
    llm_close(f->llm, on_closed, &closed);
  else
    closed++;
  mock_llm_close(f->mock, on_closed, &closed);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 2);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  /* the key never appears in any log line or error message */
  size_t i;
  json_t *l;
  json_array_foreach(f->logs, i, l) {
    if (strstr(json_string_value(l), KEY)) fail_msg("API key leaked into: %s", json_string_value(l));
  }
  json_decref(f->logs);
  free(f);
  return 0;
}

static llm_request_t *simple_request(int stream) {
  llm_request_t *q = llm_request_new();
  llm_request_set_system(q, "You are a DAW assistant.");
  llm_request_add_user(q, "add a kick");
  json_t *schema = json_pack("{s:s,s:{s:{s:s}}}", "type", "object", "properties", "name", "type", "string");
  llm_request_add_tool(q, "create_track", "Create a track", schema);
  json_decref(schema);
  struct llm_options o = {.temperature = -1, .stream = stream};
  llm_request_set_options(q, &o);
  return q;
}

static void chat(struct fx *f, int stream, struct done *d) {
  llm_request_t *q = simple_request(stream);
  d->fx = f;
  llm_call_t *c = llm_chat(f->llm, q, on_delta, on_done, d);
  llm_request_free(q);
  assert_non_null(c);
  assert_int_equal(d->called, 0); /* never synchronous */
}

static json_t *last_request(struct fx *f) {
  json_t *r = mock_llm_requests(f->mock);
  return json_array_get(r, json_array_size(r) - 1);
}

/* ---------- happy paths ---------- */

static void test_llm_http_openai_plain(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  mock_llm_push(f->mock,
                json_pack("{s:s,s:{s:i,s:i}}", "text", "Hello ♪", "usage", "input_tokens", 42, "output_tokens", 7));
  chat(f, 0, &d);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_OK);
  assert_string_equal(json_string_value(json_object_get(d.res, "text")), "Hello ♪");
  assert_string_equal(json_string_value(json_object_get(d.res, "finish")), "stop");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(d.res, "usage"), "input_tokens")), 42);
  json_t *r = last_request(f);
  assert_string_equal(json_string_value(json_object_get(r, "method")), "POST");
  assert_string_equal(json_string_value(json_object_get(r, "path")), "/v1/chat/completions");
  json_t *h = json_object_get(r, "headers");
  assert_string_equal(json_string_value(json_object_get(h, "authorization")), "Bearer " KEY);
  assert_string_equal(json_string_value(json_object_get(h, "content-type")), "application/json");
  json_t *b = json_object_get(r, "body");
  assert_string_equal(json_string_value(json_object_get(b, "model")), "test-model");
  assert_int_equal(json_array_size(json_object_get(b, "messages")), 2);
  assert_int_equal(json_array_size(json_object_get(b, "tools")), 1);
  assert_int_equal(d.ndeltas, 0);
  json_decref(d.res);
}

static void test_llm_http_anthropic_plain_tool_calls(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  make_llm(f, LLM_PROVIDER_ANTHROPIC);
  mock_llm_push(f->mock, json_pack("{s:s,s:[{s:s,s:{s:s,s:s}},{s:s,s:{s:i}}]}", "text", "Two calls.", "tool_calls",
                                   "name", "create_track", "arguments", "name", "Kick", "type", "midi", "name",
                                   "set_tempo", "arguments", "bpm", 124));
  chat(f, 0, &d);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_OK);
  json_t *calls = json_object_get(d.res, "tool_calls");
  assert_int_equal(json_array_size(calls), 2);
  assert_string_equal(json_string_value(json_object_get(d.res, "finish")), "tool_calls");
  assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 0), "id")), "toolu_mock_0");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(calls, 1), "arguments"), "bpm")),
                   124);
  json_t *r = last_request(f);
  assert_string_equal(json_string_value(json_object_get(r, "path")), "/v1/messages");
  json_t *h = json_object_get(r, "headers");
  assert_string_equal(json_string_value(json_object_get(h, "x-api-key")), KEY);
  assert_string_equal(json_string_value(json_object_get(h, "anthropic-version")), "2023-06-01");
  assert_null(json_object_get(h, "authorization"));
  json_t *b = json_object_get(r, "body");
  assert_string_equal(json_string_value(json_object_get(b, "system")), "You are a DAW assistant.");
  assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 4096);
  json_decref(d.res);
}

static void test_llm_http_streaming_both_formats(void **state) {
  struct fx *f = *state;
  static const enum llm_provider ps[] = {LLM_PROVIDER_OPENAI, LLM_PROVIDER_ANTHROPIC};
  for (int crlf = 0; crlf < 2; crlf++) {
    for (size_t k = 0; k < 2; k++) {
      struct done d = {0};
      make_llm(f, ps[k]);
      mock_llm_push(f->mock,
                    json_pack("{s:s,s:[{s:s,s:{s:s,s:s}}],s:b}", "text",
                              "Plan: kick on every beat ♪ — then a sub bass in A minor.", "tool_calls", "name",
                              "create_track", "arguments", "name", "Sub \"808\" ♪", "type", "midi", "crlf", crlf));
      chat(f, 1, &d);
      run_until(&f->loop, &d.called);
      if (d.status) fail_msg("%s: %s", llm_provider_name(ps[k]), d.msg);
      assert_true(d.ndeltas >= 2); /* the text arrived in pieces */
      assert_string_equal(d.text, "Plan: kick on every beat ♪ — then a sub bass in A minor.");
      assert_string_equal(json_string_value(json_object_get(d.res, "text")), d.text);
      json_t *c0 = json_array_get(json_object_get(d.res, "tool_calls"), 0);
      assert_string_equal(json_string_value(json_object_get(json_object_get(c0, "arguments"), "name")),
                          "Sub \"808\" ♪");
      assert_string_equal(json_string_value(json_object_get(d.res, "finish")), "tool_calls");
      json_t *b = json_object_get(last_request(f), "body");
      assert_true(json_is_true(json_object_get(b, "stream")));
      json_decref(d.res);
    }
  }
}

/* ---------- faults: data-driven ---------- */

struct fault_case {
  const char *name;
  enum llm_provider provider;
  int stream;
  const char *specs; /* JSON array pushed in order */
  int want_status;
  int want_attempts;    /* 0 = don't check */
  const char *want_msg; /* substring, or NULL */
};

static const struct fault_case faults[] = {
    {"429 Retry-After too long", LLM_PROVIDER_OPENAI, 0, "[{\"status\":429,\"retry_after\":3600},{\"text\":\"never\"}]",
     LLM_ERATELIMIT, 1, "3600 s"},
    {"500 then ok", LLM_PROVIDER_OPENAI, 0, "[{\"status\":500},{\"text\":\"ok\"}]", LLM_OK, 2, NULL},
    {"503 then ok (anthropic)", LLM_PROVIDER_ANTHROPIC, 0, "[{\"status\":503},{\"text\":\"ok\"}]", LLM_OK, 2, NULL},
    {"429 Retry-After 0 then ok", LLM_PROVIDER_OPENAI, 0, "[{\"status\":429,\"retry_after\":0},{\"text\":\"ok\"}]",
     LLM_OK, 2, NULL},
    {"429 until attempts run out", LLM_PROVIDER_OPENAI, 0,
     "[{\"status\":429,\"retry_after\":0,\"error_message\":\"slow down\"},{\"status\":429,\"retry_after\":0,"
     "\"error_message\":\"slow down\"},{\"status\":429,\"retry_after\":0,\"error_message\":\"slow down\"}]",
     LLM_ERATELIMIT, 3, "slow down"},
    {"500 until attempts run out", LLM_PROVIDER_ANTHROPIC, 1, "[{\"status\":500},{\"status\":500},{\"status\":503}]",
     LLM_ESERVER, 3, "HTTP 503"},
    {"400 reported at once", LLM_PROVIDER_OPENAI, 0,
     "[{\"status\":400,\"error_message\":\"Invalid model 'nope'\"},{\"text\":\"never\"}]", LLM_EHTTP, 1,
     "Invalid model 'nope'"},
    {"400 anthropic streaming", LLM_PROVIDER_ANTHROPIC, 1,
     "[{\"status\":400,\"error_message\":\"max_tokens: field required\"}]", LLM_EHTTP, 1, "max_tokens: field required"},
    {"401 reported at once, key redacted", LLM_PROVIDER_OPENAI, 0,
     "[{\"status\":401,\"error_message\":\"Incorrect API key\",\"echo_auth\":true}]", LLM_EAUTH, 1, "***"},
    {"401 anthropic", LLM_PROVIDER_ANTHROPIC, 0,
     "[{\"status\":401,\"error_message\":\"invalid x-api-key\",\"echo_auth\":true}]", LLM_EAUTH, 1,
     "invalid x-api-key"},
    {"drop mid-body then ok", LLM_PROVIDER_OPENAI, 0,
     "[{\"fault\":\"drop\",\"text\":\"abcdefghijklmnop\"},{\"text\":\"ok\"}]", LLM_OK, 2, NULL},
    {"drop every time", LLM_PROVIDER_ANTHROPIC, 0,
     "[{\"fault\":\"drop\",\"text\":\"abcdefghijklmnop\"},{\"fault\":\"drop\",\"text\":\"abcdefghijklmnop\"},"
     "{\"fault\":\"drop\",\"text\":\"abcdefghijklmnop\"}]",
     LLM_ECONNECT, 3, NULL},
    {"drop mid-stream after text: no retry", LLM_PROVIDER_OPENAI, 1,
     "[{\"fault\":\"drop\",\"text\":\"a long enough answer to stream in pieces\"},{\"text\":\"never\"}]", LLM_ECONNECT,
     1, NULL},
    {"truncated JSON", LLM_PROVIDER_OPENAI, 0, "[{\"fault\":\"truncate\",\"text\":\"cut me\"}]", LLM_EPROTO, 1, NULL},
    {"truncated JSON anthropic", LLM_PROVIDER_ANTHROPIC, 0, "[{\"fault\":\"truncate\",\"text\":\"cut me\"}]",
     LLM_EPROTO, 1, NULL},
    {"stream ends without [DONE]", LLM_PROVIDER_OPENAI, 1, "[{\"fault\":\"truncate\",\"text\":\"cut me\"}]", LLM_EPROTO,
     1, "[DONE]"},
    {"stream ends without message_stop", LLM_PROVIDER_ANTHROPIC, 1, "[{\"fault\":\"truncate\",\"text\":\"cut me\"}]",
     LLM_EPROTO, 1, "message_stop"},
    {"wrong content type", LLM_PROVIDER_OPENAI, 0, "[{\"fault\":\"content_type\"}]", LLM_EPROTO, 1, "text/html"},
    {"wrong content type streaming", LLM_PROVIDER_ANTHROPIC, 1, "[{\"fault\":\"content_type\"}]", LLM_EPROTO, 1,
     "text/html"},
    {"error event in stream", LLM_PROVIDER_ANTHROPIC, 1, "[{\"fault\":\"stream_error\",\"text\":\"partial answer\"}]",
     LLM_EPROVIDER, 1, "Overloaded"},
    {"overloaded event before any text: retried", LLM_PROVIDER_ANTHROPIC, 1,
     "[{\"fault\":\"stream_error\"},{\"text\":\"ok\"}]", LLM_OK, 2, NULL},
    {"error chunk in stream", LLM_PROVIDER_OPENAI, 1, "[{\"fault\":\"stream_error\",\"text\":\"partial answer\"}]",
     LLM_EPROVIDER, 1, "mock stream error"},
    {"slow first byte beats the timeout", LLM_PROVIDER_OPENAI, 0,
     "[{\"delay_ms\":5000,\"text\":\"late\"},{\"delay_ms\":5000,\"text\":\"late\"},{\"delay_ms\":5000,\"text\":"
     "\"late\"}]",
     LLM_ETIMEDOUT, 3, "timed out"},
    {"server ignores stream flag", LLM_PROVIDER_OPENAI, 1, "[{\"text\":\"plain json\",\"ignore_stream\":true}]", LLM_OK,
     1, NULL},
};

static void test_llm_http_faults(void **state) {
  struct fx *f = *state;
  for (size_t k = 0; k < sizeof faults / sizeof faults[0]; k++) {
    const struct fault_case *c = &faults[k];
    struct done d = {0};
    f->cfg.total_timeout_ms = strstr(c->name, "timeout") ? 300 : 300000;
    make_llm(f, c->provider);
    json_t *specs = json_loads(c->specs, 0, NULL), *s;
    size_t i;
    assert_non_null(specs);
    json_array_foreach(specs, i, s) mock_llm_push(f->mock, json_incref(s));
    json_decref(specs);
    llm_request_t *q = simple_request(c->stream);
    d.fx = f;
    llm_call_t *call = llm_chat(f->llm, q, on_delta, on_done, &d);
    llm_request_free(q);
    int attempts = 0;
    (void)call;
    run_until(&f->loop, &d.called);
    attempts = (int)json_array_size(mock_llm_requests(f->mock));
    if (d.status != c->want_status)
      fail_msg("case \"%s\": status %d (%s), want %d (%s): %s", c->name, d.status, llm_strerror(d.status),
               c->want_status, llm_strerror(c->want_status), d.msg);
    assert_int_equal(d.called, 1);
    if (c->want_attempts && attempts != c->want_attempts)
      fail_msg("case \"%s\": %d attempts, want %d (%s)", c->name, attempts, c->want_attempts, d.msg);
    if (c->want_msg && !strstr(d.msg, c->want_msg))
      fail_msg("case \"%s\": message \"%s\" lacks \"%s\"", c->name, d.msg, c->want_msg);
    if (d.status) assert_true(strlen(d.msg) > 10); /* a clear message, not just a code */
    json_decref(d.res);
    /* fresh mock state for the next case */
    json_array_clear(mock_llm_requests(f->mock));
    while (mock_llm_pending(f->mock)) { /* drain leftovers ("never" responses) */
      struct done x = {0};
      make_llm(f, c->provider);
      chat(f, 0, &x);
      run_until(&f->loop, &x.called);
      json_decref(x.res);
      json_array_clear(mock_llm_requests(f->mock));
    }
  }
  f->cfg.total_timeout_ms = 300000;
}

static void test_llm_http_connection_refused(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  snprintf(f->cfg.url, sizeof f->cfg.url, "http://127.0.0.1:1");
  make_llm(f, LLM_PROVIDER_OPENAI);
  chat(f, 0, &d);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_ECONNECT);
  assert_non_null(strstr(d.msg, "after 3 attempts"));
  assert_non_null(strstr(d.msg, "127.0.0.1:1"));
}

static void test_llm_http_retry_after_honoured(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  mock_llm_push(f->mock, json_pack("{s:i,s:i}", "status", 429, "retry_after", 1));
  mock_llm_push(f->mock, json_pack("{s:s}", "text", "finally"));
  uv_update_time(&f->loop);
  uint64_t t0 = uv_now(&f->loop);
  chat(f, 0, &d);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_OK);
  assert_true(d.at - t0 >= 900); /* waited for Retry-After: 1 (a lower bound, not a speed test) */
  int warned = 0;
  size_t i;
  json_t *l;
  json_array_foreach(f->logs, i, l) warned |= strstr(json_string_value(l), "retrying in 1000 ms") != NULL;
  assert_true(warned);
  json_decref(d.res);
}

static void test_llm_http_several_in_flight(void **state) {
  struct fx *f = *state;
  struct done d[8];
  memset(d, 0, sizeof d);
  mock_llm_set_default(f->mock, json_pack("{s:s,s:i}", "text", "parallel", "delay_ms", 200));
  for (int i = 0; i < 8; i++) chat(f, i % 2, &d[i]);
  assert_int_equal(llm_in_flight(f->llm), 8);
  int all = 0;
  while (!all) {
    run_until(&f->loop, &d[0].called);
    all = 1;
    for (int i = 0; i < 8; i++) all &= d[i].called == 1;
    if (!all) run_for(&f->loop, 10);
  }
  for (int i = 0; i < 8; i++) {
    assert_int_equal(d[i].status, LLM_OK);
    assert_string_equal(json_string_value(json_object_get(d[i].res, "text")), "parallel");
    json_decref(d[i].res);
  }
  assert_int_equal(json_array_size(mock_llm_requests(f->mock)), 8);
  assert_true(mock_llm_connections(f->mock) >= 2); /* they really overlapped */
  assert_int_equal(llm_in_flight(f->llm), 0);
  mock_llm_set_default(f->mock, NULL);
}

static void on_cancel_timer(uv_timer_t *t) {
  llm_cancel(t->data);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_llm_http_cancel(void **state) {
  struct fx *f = *state;
  struct done d = {0}, d2 = {0}, d3 = {0};
  /* cancel while waiting for a slow first byte */
  mock_llm_push(f->mock, json_pack("{s:s,s:i}", "text", "slow", "delay_ms", 5000));
  llm_request_t *q = simple_request(0);
  llm_call_t *c = llm_chat(f->llm, q, NULL, on_done, &d);
  uv_timer_t t;
  uv_timer_init(&f->loop, &t);
  t.data = c;
  uv_timer_start(&t, on_cancel_timer, 50, 0);
  run_for(&f->loop, 300);
  assert_int_equal(d.called, 0);
  assert_int_equal(llm_in_flight(f->llm), 0);
  /* cancel from inside the delta callback of a stream */
  mock_llm_push(f->mock, json_pack("{s:s}", "text", "a fairly long streamed answer with many pieces"));
  d2.cancel_on_delta = 1;
  struct llm_options o = {.temperature = -1, .stream = 1};
  llm_request_set_options(q, &o);
  llm_chat(f->llm, q, on_delta, on_done, &d2);
  for (int i = 0; i < DEADLINE_MS / 10 && !d2.ndeltas; i++) run_for(&f->loop, 10);
  run_for(&f->loop, 100);
  assert_int_equal(d2.called, 0);
  assert_int_equal(d2.ndeltas, 1);
  /* the client still works afterwards */
  mock_llm_push(f->mock, json_pack("{s:s}", "text", "after"));
  chat(f, 0, &d3);
  run_until(&f->loop, &d3.called);
  assert_int_equal(d3.status, LLM_OK);
  json_decref(d3.res);
  llm_request_free(q);
}

static void test_llm_http_close_with_calls_in_flight(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  int closed = 0;
  mock_llm_push(f->mock, json_pack("{s:s,s:i}", "text", "slow", "delay_ms", 5000));
  chat(f, 0, &d);
  run_for(&f->loop, 50);
  llm_close(f->llm, on_closed, &closed);
  f->llm = NULL;
  assert_int_equal(d.called, 1);
  assert_int_equal(d.status, LLM_ECANCELED);
  while (!closed) uv_run(&f->loop, UV_RUN_ONCE);
}

static void test_llm_http_body_limit(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  f->cfg.max_body = 256;
  make_llm(f, LLM_PROVIDER_OPENAI);
  char big[2048];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  mock_llm_push(f->mock, json_pack("{s:s}", "text", big));
  chat(f, 0, &d);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_ETOOBIG);
  assert_non_null(strstr(d.msg, "too large"));
  f->cfg.max_body = 0;
}

static void test_llm_http_no_key_in_logs(void **state) {
  struct fx *f = *state;
  /* a server that quotes the key back in its error, plus retries that log warnings */
  mock_llm_push(f->mock, json_pack("{s:i,s:s,s:b}", "status", 500, "error_message", "upstream failed", "echo_auth", 1));
  mock_llm_push(f->mock, json_pack("{s:i,s:s,s:b}", "status", 401, "error_message", "bad key", "echo_auth", 1));
  struct done d = {0};
  chat(f, 0, &d);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_EAUTH);
  assert_null(strstr(d.msg, KEY));
  assert_non_null(strstr(d.msg, "***"));
  /* the key did travel, in the header only */
  json_t *r = json_array_get(mock_llm_requests(f->mock), 0);
  assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "headers"), "authorization")), KEY));
  assert_null(strstr(json_string_value(json_object_get(r, "raw")), KEY));
  size_t i;
  json_t *l;
  int lines = 0;
  json_array_foreach(f->logs, i, l) {
    assert_null(strstr(json_string_value(l), KEY));
    lines++;
  }
  assert_true(lines >= 3); /* request lines, the retry warning, the error */
}

/* ---------- the loop keeps serving UDP during a slow LLM response ---------- */

struct udp_echo {
  uv_udp_t server, client;
  struct sockaddr_in server_addr;
  int round_trips;
  int llm_done_at_first_reply; /* was the LLM call already done when the echo came back? */
  struct done *llm;
  char buf[64];
  uv_udp_send_t sreq, creq;
};

static void udp_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  struct udp_echo *e = h->data;
  (void)s;
  *b = uv_buf_init(e->buf, sizeof e->buf);
}

static void on_sent(uv_udp_send_t *r, int status) {
  (void)r;
  (void)status;
}

static void server_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned flags) {
  struct udp_echo *e = h->data;
  (void)flags;
  if (n <= 0 || !from) return;
  uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
  uv_udp_send(&e->sreq, &e->server, &out, 1, from, on_sent);
}

static void send_ping(struct udp_echo *e) {
  static char ping[] = "/ping";
  uv_buf_t out = uv_buf_init(ping, sizeof ping - 1);
  uv_udp_send(&e->creq, &e->client, &out, 1, (const struct sockaddr *)&e->server_addr, on_sent);
}

static void client_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned flags) {
  struct udp_echo *e = h->data;
  (void)flags;
  (void)from;
  if (n <= 0) return;
  assert_memory_equal(b->base, "/ping", 5);
  if (e->round_trips++ == 0) e->llm_done_at_first_reply = e->llm->called;
  if (e->round_trips < 5) send_ping(e);
}

static void test_llm_http_udp_served_while_llm_slow(void **state) {
  struct fx *f = *state;
  struct udp_echo e = {0};
  struct done d = {0};
  struct sockaddr_in any;
  int len = sizeof e.server_addr;
  e.llm = &d;
  uv_udp_init(&f->loop, &e.server);
  uv_udp_init(&f->loop, &e.client);
  e.server.data = e.client.data = &e;
  uv_ip4_addr("127.0.0.1", 0, &any);
  assert_int_equal(uv_udp_bind(&e.server, (const struct sockaddr *)&any, 0), 0);
  assert_int_equal(uv_udp_bind(&e.client, (const struct sockaddr *)&any, 0), 0);
  uv_udp_getsockname(&e.server, (struct sockaddr *)&e.server_addr, &len);
  uv_udp_recv_start(&e.server, udp_alloc, server_recv);
  uv_udp_recv_start(&e.client, udp_alloc, client_recv);

  mock_llm_push(f->mock, json_pack("{s:s,s:i}", "text", "slow answer", "delay_ms", 500));
  chat(f, 1, &d);
  send_ping(&e);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_OK);
  assert_true(e.round_trips >= 1);
  assert_int_equal(e.llm_done_at_first_reply, 0); /* the datagram came back while the LLM was still busy */
  assert_int_equal(e.round_trips, 5);
  uv_close((uv_handle_t *)&e.server, NULL);
  uv_close((uv_handle_t *)&e.client, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  json_decref(d.res);
}

/* ---------- http module directly ---------- */

struct raw_done {
  int called;
  int err;
  long status;
  char ctype[64];
};

static void raw_on_done(http_req_t *r, const struct http_response *res, void *data) {
  struct raw_done *d = data;
  (void)r;
  d->called++;
  d->err = res->err;
  d->status = res->status;
  snprintf(d->ctype, sizeof d->ctype, "%s", res->content_type);
}

static void on_http_closed(void *data) { (*(int *)data)++; }

static void test_llm_http_raw_client_and_close(void **state) {
  struct fx *f = *state;
  char err[128];
  http_t *h = http_new(&f->loop, err, sizeof err);
  assert_non_null(h);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", mock_llm_port(f->mock));
  mock_llm_push(f->mock, json_pack("{s:s}", "text", "x"));
  const char *hdrs[] = {"Content-Type: application/json", NULL};
  struct raw_done d = {0}, d2 = {0};
  struct http_request q = {
      .url = url, .headers = hdrs, .body = "{}", .body_len = 2, .on_done = raw_on_done, .data = &d};
  int e = 0;
  assert_non_null(http_request(h, &q, &e));
  run_until(&f->loop, &d.called);
  assert_int_equal(d.err, HTTP_OK);
  assert_int_equal(d.status, 200);
  assert_string_equal(d.ctype, "application/json");
  /* invalid URL scheme is refused synchronously */
  q.url = "ftp://127.0.0.1/x";
  assert_null(http_request(h, &q, &e));
  assert_int_equal(e, HTTP_EINVAL);
  /* closing with one in flight completes it with ECANCELED */
  mock_llm_push(f->mock, json_pack("{s:s,s:i}", "text", "x", "delay_ms", 5000));
  q.url = url;
  q.data = &d2;
  assert_non_null(http_request(h, &q, &e));
  run_for(&f->loop, 50);
  int closed = 0;
  http_close(h, on_http_closed, &closed);
  assert_int_equal(d2.called, 1);
  assert_int_equal(d2.err, HTTP_ECANCELED);
  while (!closed) uv_run(&f->loop, UV_RUN_ONCE);
}

struct closer {
  struct fx *f;
  int closed;
  int dones;
  int status;
};

static void close_in_done(llm_call_t *c, int status, const struct llm_result *res, const char *msg, void *data) {
  struct closer *k = data;
  (void)c;
  (void)res;
  (void)msg;
  k->dones++;
  k->status = status;
  if (k->f->llm) {
    llm_t *l = k->f->llm;
    k->f->llm = NULL;
    llm_close(l, on_closed, &k->closed);
  }
}

static void close_in_delta(llm_call_t *c, const char *t, size_t n, void *data) {
  struct closer *k = data;
  (void)c;
  (void)t;
  (void)n;
  if (k->f->llm) {
    llm_t *l = k->f->llm;
    k->f->llm = NULL;
    llm_close(l, on_closed, &k->closed); /* from inside curl's write callback */
  }
}

static void test_llm_http_close_from_callbacks(void **state) {
  struct fx *f = *state;
  struct closer k = {.f = f};
  /* llm_close from on_done, with a second call still in flight */
  mock_llm_push(f->mock, json_pack("{s:s}", "text", "first"));
  mock_llm_push(f->mock, json_pack("{s:s,s:i}", "text", "second", "delay_ms", 5000));
  llm_request_t *q = simple_request(0);
  llm_chat(f->llm, q, NULL, close_in_done, &k);
  llm_chat(f->llm, q, NULL, close_in_done, &k);
  while (!k.closed) uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(k.dones, 2); /* the first completed, the second was cancelled by the close */
  assert_int_equal(k.status, LLM_ECANCELED);
  /* llm_close from a delta callback (inside curl) */
  struct closer k2 = {.f = f};
  make_llm(f, LLM_PROVIDER_ANTHROPIC);
  mock_llm_push(f->mock, json_pack("{s:s}", "text", "a streamed answer in several pieces"));
  struct llm_options o = {.temperature = -1, .stream = 1};
  llm_request_set_options(q, &o);
  llm_chat(f->llm, q, close_in_delta, close_in_done, &k2);
  while (!k2.closed) uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(k2.dones, 1);
  assert_int_equal(k2.status, LLM_ECANCELED);
  llm_request_free(q);
}

static void test_llm_http_tls_failure_is_clear(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  /* https against a plain-HTTP server: the handshake fails; reported, not retried */
  snprintf(f->cfg.url, sizeof f->cfg.url, "https://127.0.0.1:%d", mock_llm_port(f->mock));
  make_llm(f, LLM_PROVIDER_OPENAI);
  chat(f, 0, &d);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_ECONNECT);
  assert_non_null(strstr(d.msg, "TLS"));
  assert_null(strstr(d.msg, "attempts"));
}

struct probe_done {
  int called;
  int status;
  char msg[2048];
};

static void on_probe(int status, struct llm_config *cfg, const char *msg, void *data) {
  struct probe_done *p = data;
  (void)cfg;
  p->called++;
  p->status = status;
  snprintf(p->msg, sizeof p->msg, "%s", msg);
}

static void test_llm_http_probe_finds_local_server(void **state) {
  struct fx *f = *state;
  struct llm_config cfg;
  char mock_url[64];
  struct probe_done p = {0}, p2 = {0};
  llm_config_defaults(&cfg);
  snprintf(mock_url, sizeof mock_url, "http://127.0.0.1:%d", mock_llm_port(f->mock));
  const char *urls[] = {"http://127.0.0.1:1", mock_url, NULL};
  assert_int_equal(llm_config_probe(&f->loop, &cfg, urls, on_probe, &p), LLM_OK);
  assert_int_equal(p.called, 0);
  run_until(&f->loop, &p.called);
  assert_int_equal(p.status, LLM_OK);
  assert_int_equal(cfg.provider, LLM_PROVIDER_OPENAI);
  assert_string_equal(cfg.url, mock_url);
  assert_string_equal(cfg.model, "mock-model");
  assert_string_equal(json_string_value(json_object_get(last_request(f), "path")), "/v1/models");
  /* nothing answers: the how-to text, naming what was tried */
  llm_config_defaults(&cfg);
  const char *none[] = {"http://127.0.0.1:1", NULL};
  assert_int_equal(llm_config_probe(&f->loop, &cfg, none, on_probe, &p2), LLM_OK);
  run_until(&f->loop, &p2.called);
  assert_int_equal(p2.status, LLM_ECONFIG);
  assert_non_null(strstr(p2.msg, "no local server answered at http://127.0.0.1:1"));
  assert_non_null(strstr(p2.msg, "http://localhost:11434"));
  assert_int_equal(cfg.provider, LLM_PROVIDER_NONE);
}

/* ---------- JSON mode (issue 16): the wire shape per provider, checked by the mock as the real APIs define it ---------- */

static json_t *plan_schema(void) {
  return json_pack("{s:s,s:s,s:{s:{s:s},s:{s:s,s:{s:s,s:{s:{s:s,s:i},s:{s:s}},s:[s]}}},s:[s,s]}", "description",
                   "Write the plan as JSON.", "type", "object", "properties", "analysis", "type", "string", "steps",
                   "type", "array", "items", "type", "object", "properties", "tool", "type", "string", "minLength", 1,
                   "note", "type", "string", "required", "tool", "required", "analysis", "steps");
}

static llm_request_t *json_request(enum llm_json_mode mode, int stream) {
  llm_request_t *q = llm_request_new();
  llm_request_set_system(q, "You plan music.");
  llm_request_add_user(q, "a kick");
  struct llm_options o = {.temperature = -1, .stream = stream};
  llm_request_set_options(q, &o);
  json_t *schema = plan_schema();
  assert_int_equal(llm_request_set_json(q, mode, "plan", schema), LLM_OK);
  json_decref(schema);
  return q;
}

static void json_chat(struct fx *f, enum llm_json_mode mode, int stream, struct done *d) {
  llm_request_t *q = json_request(mode, stream);
  d->fx = f;
  assert_non_null(llm_chat(f->llm, q, on_delta, on_done, d));
  llm_request_free(q);
  run_until(&f->loop, &d->called);
}

/* the system text an OpenAI-format body carries (its first message) */
static const char *sent_system(json_t *body) {
  return json_string_value(json_object_get(json_array_get(json_object_get(body, "messages"), 0), "content"));
}

#define PLAN_JSON "{\"analysis\":\"empty\",\"steps\":[{\"tool\":\"create_track\",\"note\":null}]}"

/* One chat in JSON mode `mode` that the model answers with PLAN_JSON: it succeeds with that text. Returns the body of
 * the request the mock received (borrowed). */
static json_t *plan_json_chat(struct fx *f, enum llm_json_mode mode, int stream, struct done *d) {
  mock_llm_push(f->mock, json_pack("{s:s}", "text", PLAN_JSON));
  json_chat(f, mode, stream, d);
  if (d->status) fail_msg("%s", d->msg);
  assert_string_equal(json_string_value(json_object_get(d->res, "text")), PLAN_JSON);
  return json_object_get(last_request(f), "body");
}

static void test_llm_http_json_schema_openai(void **state) {
  struct fx *f = *state;
  for (int stream = 0; stream <= 1; stream++) {
    struct done d = {0};
    json_t *body = plan_json_chat(f, LLM_JSON_SCHEMA, stream, &d);
    json_t *rf = json_object_get(body, "response_format");
    assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_schema");
    json_t *js = json_object_get(rf, "json_schema");
    assert_string_equal(json_string_value(json_object_get(js, "name")), "plan");
    assert_true(json_is_true(json_object_get(js, "strict")));
    /* made strict: closed objects, every property required, the optional one nullable, minLength gone */
    json_t *item = json_object_get(json_object_get(json_object_get(js, "schema"), "properties"), "steps");
    item = json_object_get(item, "items");
    assert_true(json_is_false(json_object_get(item, "additionalProperties")));
    assert_int_equal(json_array_size(json_object_get(item, "required")), 2);
    json_t *note = json_object_get(json_object_get(item, "properties"), "note");
    assert_string_equal(json_string_value(json_array_get(json_object_get(note, "type"), 1)), "null");
    assert_null(json_object_get(json_object_get(json_object_get(item, "properties"), "tool"), "minLength"));
    /* the schema's description reaches the model through the system prompt */
    const char *sys = sent_system(body);
    assert_non_null(strstr(sys, "You plan music.\n\nWrite the plan as JSON."));
    assert_null(json_object_get(body, "tool_choice"));
    json_decref(d.res);
  }
}

static void test_llm_http_json_object_openai(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  json_t *body = plan_json_chat(f, LLM_JSON_OBJECT, 0, &d);
  json_t *rf = json_object_get(body, "response_format");
  assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_object");
  assert_int_equal(json_object_size(rf), 1);
  /* json_object needs the word JSON in the messages (the mock refuses it otherwise, like OpenAI): the schema is there */
  const char *sys = sent_system(body);
  assert_non_null(strstr(sys, "Answer with one JSON object only"));
  assert_non_null(strstr(sys, "\"analysis\""));
  json_decref(d.res);
}

static void test_llm_http_json_forced_tool_anthropic(void **state) {
  struct fx *f = *state;
  make_llm(f, LLM_PROVIDER_ANTHROPIC);
  for (int stream = 0; stream <= 1; stream++) {
    struct done d = {0};
    json_t *args = json_loads(PLAN_JSON, 0, NULL);
    mock_llm_push(f->mock,
                  json_pack("{s:[{s:s,s:s,s:o}]}", "tool_calls", "id", "toolu_1", "name", "plan", "arguments", args));
    json_chat(f, LLM_JSON_SCHEMA, stream, &d);
    if (d.status) fail_msg("%s", d.msg);
    /* the forced tool's input is the answer's text; no tool call, finish stop */
    json_t *want = json_loads(PLAN_JSON, 0, NULL);
    json_t *got = json_loads(json_string_value(json_object_get(d.res, "text")), 0, NULL);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    assert_int_equal(json_array_size(json_object_get(d.res, "tool_calls")), 0);
    assert_string_equal(json_string_value(json_object_get(d.res, "finish")), "stop");
    if (stream) assert_true(d.ndeltas >= 1); /* shown once, whole, when streamed */
    json_t *body = json_object_get(last_request(f), "body");
    json_t *tc = json_object_get(body, "tool_choice");
    assert_string_equal(json_string_value(json_object_get(tc, "type")), "tool");
    assert_string_equal(json_string_value(json_object_get(tc, "name")), "plan");
    json_t *tool = json_array_get(json_object_get(body, "tools"), 0);
    assert_string_equal(json_string_value(json_object_get(tool, "name")), "plan");
    assert_non_null(json_object_get(json_object_get(json_object_get(tool, "input_schema"), "properties"), "steps"));
    assert_null(json_object_get(body, "response_format"));
    json_decref(d.res);
  }
}

static void test_llm_http_tool_choice_required(void **state) {
  struct fx *f = *state;
  for (int p = 0; p < 2; p++) {
    make_llm(f, p ? LLM_PROVIDER_ANTHROPIC : LLM_PROVIDER_OPENAI);
    struct done d = {0};
    mock_llm_push(f->mock,
                  json_pack("{s:[{s:s,s:{s:s}}]}", "tool_calls", "name", "create_track", "arguments", "name", "Kick"));
    llm_request_t *q = simple_request(0);
    assert_int_equal(llm_request_set_tool_choice(q, "required"), LLM_OK);
    assert_int_equal(llm_request_set_tool_choice(q, "sometimes"), LLM_EINVAL);
    d.fx = f;
    assert_non_null(llm_chat(f->llm, q, on_delta, on_done, &d));
    llm_request_free(q);
    run_until(&f->loop, &d.called);
    if (d.status) fail_msg("%s", d.msg);
    json_t *tc = json_object_get(json_object_get(last_request(f), "body"), "tool_choice");
    if (p)
      assert_string_equal(json_string_value(json_object_get(tc, "type")), "any");
    else
      assert_string_equal(json_string_value(tc), "required");
    json_decref(d.res);
  }
}

/* A server that does not know response_format: HTTP 400 naming it → the same request once more without it (one WARN
 * line), and the client leaves it out from then on; the answer is still the JSON text. */
static void test_llm_http_json_rejected_field_falls_back(void **state) {
  struct fx *f = *state;
  mock_llm_reject_fields(f->mock, json_pack("[s]", "response_format"));
  for (int k = 0; k < 2; k++) {
    struct done d = {0};
    json_t *body = plan_json_chat(f, LLM_JSON_SCHEMA, k, &d);
    assert_null(json_object_get(body, "response_format"));
    /* the instruction stays in the prompt */
    const char *sys = sent_system(body);
    assert_non_null(strstr(sys, "Write the plan as JSON."));
    json_decref(d.res);
  }
  assert_int_equal(mock_llm_rejected(f->mock), 1);                  /* rejected once, never sent again */
  assert_int_equal(json_array_size(mock_llm_requests(f->mock)), 3); /* 400, its retry, the second call */
  size_t i, warns = 0;
  json_t *l;
  json_array_foreach(f->logs, i, l) warns += strstr(json_string_value(l), "rejected response_format") != NULL;
  assert_int_equal(warns, 1);
  /* tool_choice likewise, on its own */
  mock_llm_reject_fields(f->mock, json_pack("[s]", "tool_choice"));
  for (int k = 0; k < 2; k++) {
    struct done d = {0};
    mock_llm_push(f->mock, json_pack("{s:s}", "text", "ok"));
    llm_request_t *q = simple_request(0);
    llm_request_set_tool_choice(q, "required");
    d.fx = f;
    assert_non_null(llm_chat(f->llm, q, on_delta, on_done, &d));
    llm_request_free(q);
    run_until(&f->loop, &d.called);
    if (d.status) fail_msg("%s", d.msg);
    assert_null(json_object_get(json_object_get(last_request(f), "body"), "tool_choice"));
    json_decref(d.res);
  }
  assert_int_equal(mock_llm_rejected(f->mock), 2);
}

/* A 400 that names nothing this client added is reported as it is, once (no retry). */
static void test_llm_http_json_bad_schema_is_reported(void **state) {
  struct fx *f = *state;
  struct done d = {0};
  llm_request_t *q = llm_request_new();
  llm_request_add_user(q, "json please");
  assert_int_equal(llm_request_set_json(q, LLM_JSON_SCHEMA, "bad name!", NULL), LLM_EINVAL);
  assert_int_equal(llm_request_set_json(q, LLM_JSON_SCHEMA, "plan", NULL), LLM_EINVAL);
  mock_llm_push(f->mock, json_pack("{s:i,s:s}", "status", 400, "error_message", "context length exceeded"));
  d.fx = f;
  assert_non_null(llm_chat(f->llm, q, on_delta, on_done, &d));
  llm_request_free(q);
  run_until(&f->loop, &d.called);
  assert_int_equal(d.status, LLM_EHTTP);
  assert_non_null(strstr(d.msg, "context length exceeded"));
  assert_int_equal(json_array_size(mock_llm_requests(f->mock)), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_llm_http_openai_plain, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_anthropic_plain_tool_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_streaming_both_formats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_faults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_connection_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_retry_after_honoured, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_several_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_close_with_calls_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_body_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_no_key_in_logs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_udp_served_while_llm_slow, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_raw_client_and_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_close_from_callbacks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_tls_failure_is_clear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_probe_finds_local_server, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_json_schema_openai, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_json_object_openai, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_json_forced_tool_anthropic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_tool_choice_required, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_json_rejected_field_falls_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_llm_http_json_bad_schema_is_reported, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
