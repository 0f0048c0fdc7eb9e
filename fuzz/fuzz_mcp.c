/* Fuzz target: the MCP frame handler (app/mcp_server.c mcp_server_frame) with a scripted core. The input is split
 * into lines, each one frame, as `dawbridge mcp` splits stdin; after a frame that submitted a request, the core's
 * events for it (plan, step, done) are fed back. Invariants: no crash/sanitizer report/hang; every frame the server
 * sends is one line of valid JSON with "jsonrpc":"2.0"; every request ends (no call pending at the end). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "vocab.h"

static vocab_t *vocab;
static int next_id, submitted;

static void on_send(const char *frame, size_t len, void *data) {
  (void)data;
  if (memchr(frame, '\n', len)) abort();
  json_error_t je;
  json_t *j = json_loadb(frame, len, 0, &je);
  if (!j ||
      strcmp(json_string_value(json_object_get(j, "jsonrpc")) ? json_string_value(json_object_get(j, "jsonrpc")) : "",
             "2.0"))
    abort();
  json_decref(j);
}
static int f_submit(void *d, const struct live_request *req) {
  (void)d;
  if (req->kind == LIVE_CALL && !req->tool) abort();
  if (next_id % 7 == 6) return ++next_id, LIVE_EFULL; /* sometimes the queue is full */
  submitted = ++next_id;
  return submitted;
}
static int f_cancel(void *d, int id) {
  (void)d, (void)id;
  return 0;
}
static mcp_server_t *srv;
static struct mcp_read *deferred; /* one read answered after the next frame, as the daemon would */
static void f_read(void *d, enum mcp_read_what what, int n, struct mcp_read *op) {
  (void)d;
  if (what == MCP_READ_ITERATION) {
    char err[64];
    snprintf(err, sizeof err, "no iteration %d", n);
    mcp_server_read_done(srv, op, NULL, err);
  } else if (what == MCP_READ_HISTORY && !deferred) {
    deferred = op;
  } else {
    mcp_server_read_done(srv, op,
                         what == MCP_READ_STATE ? json_pack("{s[{ssss}]}", "tracks", "id", "t1", "name", "Kick")
                                                : json_pack("{s[]}", "iterations"),
                         NULL);
  }
}
static json_t *f_tools(void *d) {
  (void)d;
  return vocab_tools_json(vocab, NULL, VOCAB_JSON_MCP);
}
static const char *f_strerror(int c) { return c == LIVE_EFULL ? "queue full" : "error"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[256];
  if (!vocab && vocab_load(NULL, &vocab, err, sizeof err)) {
    fprintf(stderr, "fuzz: %s\n", err);
    abort();
  }
  struct mcp_server_config cfg = {
      .backend = {.submit = f_submit, .cancel = f_cancel, .read = f_read, .tools = f_tools, .strerror = f_strerror},
      .small = size & 1,
      .send = on_send,
  };
  mcp_server_t *s;
  if (mcp_server_new(&cfg, &s)) abort();
  srv = s;
  deferred = NULL;
  const char *p = (const char *)data, *end = p + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    submitted = 0;
    struct mcp_read *late = deferred;
    deferred = NULL;
    if (late) mcp_server_read_done(s, late, json_pack("{s[]}", "iterations"), NULL);
    mcp_server_frame(s, p, n);
    if (submitted) {
      json_t *ev = json_pack("{ss si s{s[]}}", "type", "plan", "request", submitted, "plan", "steps");
      mcp_server_event(s, ev);
      json_decref(ev);
      ev = json_pack("{ss si si si ss ss sn}", "type", "step", "request", submitted, "index", 1, "total", 1, "tool",
                     "set_tempo", "outcome", "confirmed", "result");
      mcp_server_event(s, ev);
      json_decref(ev);
      ev = json_pack("{ss si ss si si si si si ss}", "type", "done", "request", submitted, "status", "ok", "exit_code",
                     0, "confirmed", 1, "uncertain", 0, "failed", 0, "total", 1, "summary", "ok");
      mcp_server_event(s, ev);
      json_decref(ev);
      ev = json_pack("{ss s[s]}", "type", "state", "changed", "t1");
      mcp_server_event(s, ev);
      json_decref(ev);
    }
    p += n + 1;
  }
  if (deferred) mcp_server_read_done(s, deferred, NULL, "gone");
  deferred = NULL;
  if (mcp_server_pending(s)) abort();
  mcp_server_free(s);
  return 0;
}
