/* llm_overhead.c — what the llm layer costs per request, against the mock LLM server on
 * 127.0.0.1 (same loop, same process).
 *
 * Baseline: the bare http layer (curl multi on libuv) posting a pre-encoded request body and
 * collecting the response, with no llm work. Then the same exchange through llm_chat()
 * (request encoding, header building, JSON decoding, result assembly), plain and streamed.
 * Each is measured sequentially (latency per request) and with 8 in flight (requests/s).
 *   bench_llm_overhead [N]   (default 2000 requests per figure)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "llm.h"
#include "llm_provider.h"
#include "mock_llm_server.h"

struct bench {
  uv_loop_t loop;
  mock_llm_t *mock;
  http_t *http;
  llm_t *llm;
  llm_request_t *req;
  char url[256];
  char *body;
  int total, started, finished, inflight_max, failures;
};

static void start_raw(struct bench *b);
static void start_llm(struct bench *b);

static void raw_done(http_req_t *r, const struct http_response *res, void *data) {
  struct bench *b = data;
  (void)r;
  if (res->err || res->status != 200) b->failures++;
  b->finished++;
  if (b->started < b->total) start_raw(b);
}

static void start_raw(struct bench *b) {
  static const char *hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                               "Authorization: Bearer bench-key", NULL};
  struct http_request q = {.url = b->url,
                           .method = "POST",
                           .headers = hdrs,
                           .body = b->body,
                           .body_len = strlen(b->body),
                           .on_done = raw_done,
                           .data = b};
  b->started++;
  if (!http_request(b->http, &q, NULL)) {
    b->failures++;
    b->finished++;
  }
}

static void llm_done(llm_call_t *c, int status, const struct llm_result *res, const char *msg, void *data) {
  struct bench *b = data;
  (void)c;
  (void)res;
  if (status) {
    if (!b->failures) fprintf(stderr, "llm error: %s\n", msg);
    b->failures++;
  }
  b->finished++;
  if (b->started < b->total) start_llm(b);
}

static void start_llm(struct bench *b) {
  b->started++;
  if (!llm_chat(b->llm, b->req, NULL, llm_done, b)) {
    b->failures++;
    b->finished++;
  }
}

/* Returns elapsed µs for n requests with `par` in flight. */
static double run(struct bench *b, void (*start)(struct bench *), int n, int par) {
  b->total = n;
  b->started = b->finished = b->failures = 0;
  uv_update_time(&b->loop);
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < par && i < n; i++) start(b);
  while (b->finished < n) uv_run(&b->loop, UV_RUN_ONCE);
  uint64_t t1 = uv_hrtime();
  if (b->failures) fprintf(stderr, "warning: %d failures\n", b->failures);
  return (double)(t1 - t0) / 1000.0;
}

static void on_closed(void *data) { (*(int *)data)++; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2000;
  if (n < 10) n = 10;
  struct bench b;
  char err[256];
  memset(&b, 0, sizeof b);
  uv_loop_init(&b.loop);
  b.mock = mock_llm_new(&b.loop, 0, err, sizeof err);
  if (!b.mock) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  mock_llm_set_default(b.mock, json_pack("{s:s,s:[{s:s,s:{s:s,s:s}}]}", "text", "Adding the kick now.", "tool_calls",
                                         "name", "create_track", "arguments", "name", "Kick", "type", "midi"));
  snprintf(b.url, sizeof b.url, "http://127.0.0.1:%d/v1/chat/completions", mock_llm_port(b.mock));
  b.http = http_new(&b.loop, err, sizeof err);

  struct llm_config cfg;
  llm_config_defaults(&cfg);
  cfg.provider = LLM_PROVIDER_OPENAI;
  snprintf(cfg.url, sizeof cfg.url, "http://127.0.0.1:%d", mock_llm_port(b.mock));
  snprintf(cfg.key, sizeof cfg.key, "bench-key");
  snprintf(cfg.model, sizeof cfg.model, "bench-model");
  cfg.log_level = LLM_LOG_ERROR;
  b.llm = llm_new(&b.loop, &cfg, err, sizeof err);
  if (!b.llm) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  b.req = llm_request_new();
  llm_request_set_system(b.req, "You are a DAW assistant. Plan, then call tools.");
  llm_request_add_user(b.req, "add a four-on-the-floor kick and a sub bass in A minor, 4 bars");
  json_t *schema = json_pack("{s:s,s:{s:{s:s},s:{s:s,s:[s,s]}},s:[s]}", "type", "object", "properties", "name", "type",
                             "string", "type", "type", "string", "enum", "midi", "audio", "required", "name");
  llm_request_add_tool(b.req, "create_track", "Create a track", schema);
  json_decref(schema);
  struct llm_options o = {.temperature = 0.2, .max_tokens = 512};
  llm_request_set_options(b.req, &o);
  /* the baseline posts the very bytes the llm layer would send */
  json_t *raw_body = json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s}],s:f,s:i}", "model", "bench-model", "messages", "role",
                               "system", "content", "You are a DAW assistant. Plan, then call tools.", "role", "user",
                               "content", "add a four-on-the-floor kick and a sub bass in A minor, 4 bars",
                               "temperature", 0.2, "max_tokens", 512);
  b.body = json_dumps(raw_body, JSON_COMPACT);
  json_decref(raw_body);

  run(&b, start_raw, 200, 1); /* warm-up: connections, caches */
  run(&b, start_llm, 200, 1);

  double raw1 = run(&b, start_raw, n, 1) / n;
  double llm1 = run(&b, start_llm, n, 1) / n;
  double raw8 = run(&b, start_raw, n, 8);
  double llm8 = run(&b, start_llm, n, 8);
  struct llm_options os = {.temperature = 0.2, .max_tokens = 512, .stream = 1};
  llm_request_set_options(b.req, &os);
  mock_llm_set_default(b.mock, json_pack("{s:s,s:[{s:s,s:{s:s,s:s}}],s:i,s:i}", "text", "Adding the kick now.",
                                         "tool_calls", "name", "create_track", "arguments", "name", "Kick", "type",
                                         "midi", "gap_ms", 0, "chunk", 4096));
  double llms1 = run(&b, start_llm, n / 4, 1) / (n / 4);

  /* the llm layer's own CPU: encode the request + decode a response, no I/O */
  const char *resp = "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                     "\"message\":{\"role\":\"assistant\",\"content\":\"Adding the kick now.\",\"tool_calls\":[{"
                     "\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"create_track\","
                     "\"arguments\":\"{\\\"name\\\":\\\"Kick\\\",\\\"type\\\":\\\"midi\\\"}\"}}]},"
                     "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5}}";
  uint64_t c0 = uv_hrtime();
  for (int i = 0; i < n; i++) {
    json_t *body = llm__openai_ops()->encode(llm_request_json(b.req), "bench-model", err, sizeof err);
    char *txt = json_dumps(body, JSON_COMPACT);
    struct llm_result *res = NULL;
    if (llm__openai_ops()->decode(resp, strlen(resp), &res, err, sizeof err)) b.failures++;
    llm_result_free(res);
    free(txt);
    json_decref(body);
  }
  double codec = (double)(uv_hrtime() - c0) / 1000.0 / n;

  printf("llm client overhead vs bare http (curl multi on libuv), mock server on 127.0.0.1, %d requests\n", n);
  printf("  sequential  bare http        : %8.1f us/request\n", raw1);
  printf("  sequential  llm_chat (openai): %8.1f us/request  (ratio %.2f, overhead %+.1f us)\n", llm1, llm1 / raw1,
         llm1 - raw1);
  printf("  sequential  llm_chat stream  : %8.1f us/request  (ratio %.2f)\n", llms1, llms1 / raw1);
  printf("  codec only (encode+decode)   : %8.1f us/request\n", codec);
  printf("  8 in flight bare http        : %8.0f requests/s\n", n / (raw8 / 1e6));
  printf("  8 in flight llm_chat (openai): %8.0f requests/s  (ratio %.2f)\n", n / (llm8 / 1e6), raw8 / llm8);

  int closed = 0;
  llm_request_free(b.req);
  free(b.body);
  llm_close(b.llm, on_closed, &closed);
  http_close(b.http, on_closed, &closed);
  mock_llm_close(b.mock, on_closed, &closed);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  return uv_loop_close(&b.loop) == 0 && closed == 3 ? 0 : 1;
}
