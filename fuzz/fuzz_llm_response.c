/* Fuzz target: model responses — what an OpenAI-compatible or Anthropic server sends back, as a whole body
 * (the providers' decode) or as a Server-Sent-Events stream (agent/sse.c feeding the providers' stream_event,
 * then stream_finish). The first byte picks the provider (bit 0) and the form (bit 1); in stream form the rest
 * is fed in pieces whose sizes come from byte 0's upper bits. Invariants: no crash/sanitizer report; a decoded
 * result has a finish reason and serializes (llm_result_json). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_provider.h"
#include "sse.h"

struct st {
  const struct llm_provider_ops *ops;
  void *state;
  int ended;
  int failed;
};

static void emit(void *ctx, const char *text, size_t len) {
  (void)ctx;
  if (len && !text) abort();
}

static int on_event(const struct sse_event *ev, void *data) {
  struct st *s = data;
  char err[256];
  int rc = s->ops->stream_event(s->state, ev->event, ev->data, ev->data_len, emit, NULL, err, sizeof err);
  if (rc < 0) {
    s->failed = 1;
    return 1;
  }
  if (rc == 1) s->ended = 1;
  return 0;
}

static void check(struct llm_result *res) {
  json_t *j = llm_result_json(res);
  if (!j) abort();
  json_decref(j);
  llm_result_free(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const struct llm_provider_ops *ops = data[0] & 1 ? llm__anthropic_ops() : llm__openai_ops();
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  char err[256];
  struct llm_result *res = NULL;
  if (!(data[0] & 2)) {
    /* a whole body; the decoder gets NUL-terminated text, as http.c hands it over */
    char *b = malloc(len + 1);
    memcpy(b, body, len);
    b[len] = 0;
    if (ops->decode(b, len, &res, err, sizeof err) == LLM_OK) check(res);
    free(b);
    return 0;
  }
  struct st s = {.ops = ops, .state = ops->stream_new()};
  sse_t *p = sse_new(1 << 16, on_event, &s);
  size_t piece = 1 + (data[0] >> 2);
  for (size_t off = 0; off < len && !s.failed; off += piece) {
    size_t k = len - off < piece ? len - off : piece;
    if (sse_feed(p, body + off, k) < 0) break;
  }
  if (!s.failed) sse_finish(p);
  if (!s.failed && ops->stream_finish(s.state, &res, err, sizeof err) == LLM_OK) check(res);
  sse_free(p);
  ops->stream_free(s.state);
  return 0;
}
