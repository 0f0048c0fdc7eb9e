/* test_mcp_server: the MCP protocol engine (app/mcp_server.c) against a scripted core: every bad frame gets the
 * JSON-RPC error the spec names, version negotiation, the tool list (vocabulary schemas, limits, small profile),
 * a call's progress and result from the core's events, cancellation, resource reads and updates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp.h"
#include "vocab.h"

struct fake {
  json_t *out; /* frames sent */
  int next_id;
  int cancelled;
  json_t *last_args; /* of the last submit */
  int last_kind;
  vocab_t *vocab;
  json_t *state;
  mcp_server_t *srv;
};

static void on_send(const char *frame, size_t len, void *data) {
  struct fake *f = data;
  assert_null(memchr(frame, '\n', len)); /* one frame, one line */
  json_error_t je;
  json_t *j = json_loadb(frame, len, 0, &je);
  assert_non_null(j);
  json_array_append_new(f->out, j);
}
static int f_submit(void *d, const struct live_request *req) {
  struct fake *f = d;
  f->last_kind = req->kind;
  json_decref(f->last_args);
  f->last_args = req->args ? json_deep_copy(req->args) : NULL;
  return ++f->next_id;
}
static int f_cancel(void *d, int id) {
  ((struct fake *)d)->cancelled = id;
  return 0;
}
static void f_read(void *d, enum mcp_read_what what, int n, struct mcp_read *op) {
  struct fake *f = d;
  char err[100] = "";
  json_t *r = NULL;
  if (what == MCP_READ_STATE)
    r = json_incref(f->state);
  else if (what == MCP_READ_HISTORY)
    r = json_pack("{s[{si ss}]}", "iterations", "number", 1, "user_message", "kick");
  else if (n == 1)
    r = json_pack("{si}", "number", 1);
  else
    snprintf(err, sizeof err, "no iteration %d", n);
  mcp_server_read_done(f->srv, op, r, err);
}
static json_t *f_tools(void *d) { return vocab_tools_json(((struct fake *)d)->vocab, NULL, VOCAB_JSON_MCP); }
static const char *f_strerror(int c) { return c == LIVE_EFULL ? "queue full" : "error"; }

static mcp_server_t *mk(struct fake *f, int small) {
  memset(f, 0, sizeof *f);
  f->out = json_array();
  char err[256];
  assert_int_equal(vocab_load(NULL, &f->vocab, err, sizeof err), 0);
  f->state = json_pack("{ss s[{ss ss}]}", "format", "dawbridge.session/1", "tracks", "id", "t1", "name", "Kick");
  struct mcp_server_config cfg = {
      .backend =
          {.data = f, .submit = f_submit, .cancel = f_cancel, .read = f_read, .tools = f_tools, .strerror = f_strerror},
      .small = small,
      .version = "test",
      .send = on_send,
      .send_data = f,
  };
  mcp_server_t *s;
  assert_int_equal(mcp_server_new(&cfg, &s), 0);
  f->srv = s;
  return s;
}
static void done(struct fake *f, mcp_server_t *s) {
  mcp_server_free(s);
  json_decref(f->out);
  json_decref(f->last_args);
  json_decref(f->state);
  vocab_free(f->vocab);
}
static void feed(mcp_server_t *s, const char *text) { mcp_server_frame(s, text, strlen(text)); }
static json_t *last(struct fake *f) { return json_array_get(f->out, json_array_size(f->out) - 1); }
static int err_code(json_t *m) { return (int)json_integer_value(json_object_get(json_object_get(m, "error"), "code")); }
static void init(mcp_server_t *s) {
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
          "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}");
  feed(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

static void test_mcp_server_bad_frames(void **state) {
  (void)state;
  struct fake f;
  mcp_server_t *s = mk(&f, 0);
  static const struct {
    const char *frame;
    int code;
    int id; /* -1: null */
  } cases[] = {
      {"{not json", MCP_ERR_PARSE, -1},
      {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", MCP_ERR_INVALID_REQUEST, -1},
      {"42", MCP_ERR_INVALID_REQUEST, -1},
      {"{\"id\":2,\"method\":\"ping\"}", MCP_ERR_INVALID_REQUEST, 2},
      {"{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}", MCP_ERR_INVALID_REQUEST, 3},
      {"{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":7}", MCP_ERR_INVALID_REQUEST, 4},
      {"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}", MCP_ERR_INVALID_REQUEST, -1},
      {"{\"jsonrpc\":\"2.0\",\"id\":5}", MCP_ERR_INVALID_REQUEST, 5},
      {"{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/list\"}", MCP_ERR_NOT_INITIALIZED, 6},
      {"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"initialize\",\"params\":{}}", MCP_ERR_PARAMS, 7},
      {"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"initialize\",\"params\":[1]}", MCP_ERR_PARAMS, 8},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t before = json_array_size(f.out);
    feed(s, cases[i].frame);
    assert_int_equal(json_array_size(f.out), before + 1);
    json_t *m = last(&f);
    assert_int_equal(err_code(m), cases[i].code);
    if (cases[i].id < 0)
      assert_true(json_is_null(json_object_get(m, "id")));
    else
      assert_int_equal(json_integer_value(json_object_get(m, "id")), cases[i].id);
  }
  /* ping works before initialize; notifications and blank lines are never answered */
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
  assert_non_null(json_object_get(last(&f), "result"));
  size_t n = json_array_size(f.out);
  feed(s, "{\"jsonrpc\":\"2.0\",\"method\":\"nope/nothing\"}");
  feed(s, "   ");
  feed(s, "");
  assert_int_equal(json_array_size(f.out), n);
  init(s);
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"no/such\"}");
  assert_int_equal(err_code(last(&f)), MCP_ERR_METHOD);
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":\"make_coffee\"}}");
  assert_int_equal(err_code(last(&f)), MCP_ERR_PARAMS);
  feed(s,
       "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":\"set_tempo\",\"arguments\":3}}");
  assert_int_equal(err_code(last(&f)), MCP_ERR_PARAMS);
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"resources/read\",\"params\":{\"uri\":\"dawbridge://nothing\"}}");
  assert_int_equal(err_code(last(&f)), MCP_ERR_PARAMS);
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":13,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\"}}");
  assert_int_equal(err_code(last(&f)), MCP_ERR_INVALID_REQUEST);
  mcp_server_oversized(s, MCP_FRAME_MAX + 1);
  assert_int_equal(err_code(last(&f)), MCP_ERR_INVALID_REQUEST);
  done(&f, s);
}

static void test_mcp_server_negotiates_version(void **state) {
  (void)state;
  static const struct {
    const char *asked, *got;
  } cases[] = {{"2025-06-18", "2025-06-18"},
               {"2024-11-05", "2024-11-05"},
               {MCP_PROTOCOL_LATEST, MCP_PROTOCOL_LATEST},
               {"1999-01-01", MCP_PROTOCOL_LATEST}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct fake f;
    mcp_server_t *s = mk(&f, 0);
    char frame[256];
    snprintf(frame, sizeof frame,
             "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"%s\"}}",
             cases[i].asked);
    feed(s, frame);
    json_t *r = json_object_get(last(&f), "result");
    assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), cases[i].got);
    assert_true(
        json_is_true(json_object_get(json_object_get(json_object_get(r, "capabilities"), "resources"), "subscribe")));
    done(&f, s);
  }
}

static void test_mcp_server_tools_from_vocabulary_within_limits(void **state) {
  (void)state;
  struct fake f;
  mcp_server_t *s = mk(&f, 0);
  json_t *tools = mcp_server_tools(s);
  assert_true(json_array_size(tools) < MCP_TOOLS_MAX);
  assert_int_equal(json_array_size(tools), VOCAB__COUNT + 3); /* the vocabulary + ask, undo, history */
  for (int t = 0; t < VOCAB__COUNT; t++) {
    size_t i;
    json_t *m, *found = NULL;
    json_array_foreach(tools, i, m) {
      if (!strcmp(json_string_value(json_object_get(m, "name")), vocab_name(t))) found = m;
    }
    assert_non_null(found);
    /* the schema is the vocabulary's own */
    assert_true(json_equal(json_object_get(found, "inputSchema"), vocab_schema(f.vocab, t)));
    json_t *ann = json_object_get(found, "annotations");
    assert_int_equal(json_is_true(json_object_get(ann, "readOnlyHint")), vocab_kind(t) == VOCAB_READ);
    if (vocab_kind(t) != VOCAB_READ)
      assert_int_equal(json_is_true(json_object_get(ann, "idempotentHint")), vocab_idempotent(t));
  }
  size_t i;
  json_t *m;
  json_array_foreach(tools, i, m) {
    assert_true(strlen(json_string_value(json_object_get(m, "description"))) <= MCP_DESC_MAX);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "inputSchema"), "type")), "object");
  }
  json_decref(tools);
  done(&f, s);
  s = mk(&f, 1);
  tools = mcp_server_tools(s);
  assert_int_equal(json_array_size(tools), MCP_SMALL_TOOLS);
  json_decref(tools);
  done(&f, s);
}

static void test_mcp_server_call_progress_and_outcomes(void **state) {
  (void)state;
  struct fake f;
  mcp_server_t *s = mk(&f, 0);
  init(s);
  size_t n0 = json_array_size(f.out);
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":\"c1\",\"method\":\"tools/call\",\"params\":{\"name\":\"set_tempo\","
          "\"arguments\":{\"bpm\":96},\"_meta\":{\"progressToken\":\"tok\"}}}");
  assert_int_equal(json_array_size(f.out), n0); /* answered on "done", not before */
  assert_int_equal(f.last_kind, LIVE_CALL);
  assert_int_equal(json_integer_value(json_object_get(f.last_args, "bpm")), 96);
  assert_int_equal(mcp_server_pending(s), 1);
  json_t *ev = json_pack("{ss si si si ss s{si} ss s{sf}}", "type", "step", "request", 1, "index", 0, "total", 0,
                         "tool", "set_tempo", "args", "bpm", 96, "outcome", "uncertain", "result", "bpm", 96.0);
  mcp_server_event(s, ev);
  json_decref(ev);
  json_t *p = last(&f);
  assert_string_equal(json_string_value(json_object_get(p, "method")), "notifications/progress");
  assert_string_equal(json_string_value(json_object_get(json_object_get(p, "params"), "progressToken")), "tok");
  ev = json_pack("{ss si ss si si si si si ss}", "type", "done", "request", 1, "status", "ok", "exit_code", 3,
                 "confirmed", 0, "uncertain", 1, "failed", 0, "total", 1, "summary", "1 of 1 uncertain");
  mcp_server_event(s, ev);
  json_decref(ev);
  json_t *r = json_object_get(last(&f), "result");
  assert_string_equal(json_string_value(json_object_get(last(&f), "id")), "c1");
  json_t *sc = json_object_get(r, "structuredContent");
  /* uncertain is never reported as confirmed */
  assert_string_equal(json_string_value(json_object_get(sc, "outcome")), "uncertain");
  assert_int_equal(json_integer_value(json_object_get(sc, "uncertain")), 1);
  assert_false(json_is_true(json_object_get(r, "isError")));
  assert_int_equal(mcp_server_pending(s), 0);

  /* a failed call: isError with the reason */
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"set_track\","
          "\"arguments\":{\"track_id\":\"t9\",\"pan\":3}}}");
  ev = json_pack("{ss si ss}", "type", "error", "request", 2, "message", "set_track: pan is 3; it must be at most 1");
  mcp_server_event(s, ev);
  json_decref(ev);
  ev = json_pack("{ss si ss si si si si si}", "type", "done", "request", 2, "status", "invalid", "exit_code", 4,
                 "confirmed", 0, "uncertain", 0, "failed", 0, "total", 0);
  mcp_server_event(s, ev);
  json_decref(ev);
  r = json_object_get(last(&f), "result");
  assert_true(json_is_true(json_object_get(r, "isError")));
  const char *text = json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
  assert_non_null(strstr(text, "at most 1"));

  /* cancelled: the core is told, and no response follows */
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"ask\","
          "\"arguments\":{\"text\":\"a kick\"}}}");
  assert_int_equal(f.last_kind, LIVE_ASK);
  feed(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":3}}");
  assert_int_equal(f.cancelled, 3);
  size_t n1 = json_array_size(f.out);
  ev = json_pack("{ss si ss si si si si si}", "type", "done", "request", 3, "status", "cancelled", "exit_code", 130,
                 "confirmed", 0, "uncertain", 0, "failed", 0, "total", 0);
  mcp_server_event(s, ev);
  json_decref(ev);
  assert_int_equal(json_array_size(f.out), n1);
  assert_int_equal(mcp_server_pending(s), 0);
  done(&f, s);
}

static void test_mcp_server_resources(void **state) {
  (void)state;
  struct fake f;
  mcp_server_t *s = mk(&f, 0);
  init(s);
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}");
  json_t *list = json_object_get(json_object_get(last(&f), "result"), "resources");
  assert_int_equal(json_array_size(list), 3); /* session, history, track t1 */
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":\"dawbridge://track/t1\"}}");
  json_t *c = json_array_get(json_object_get(json_object_get(last(&f), "result"), "contents"), 0);
  assert_non_null(strstr(json_string_value(json_object_get(c, "text")), "Kick"));
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/read\",\"params\":{\"uri\":\"dawbridge://track/t7\"}}");
  assert_int_equal(err_code(last(&f)), MCP_ERR_PARAMS);
  feed(
      s,
      "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/subscribe\",\"params\":{\"uri\":\"dawbridge://session\"}}");
  size_t n = json_array_size(f.out);
  json_t *ev = json_pack("{ss s[s]}", "type", "state", "changed", "tempo");
  mcp_server_event(s, ev);
  json_decref(ev);
  assert_int_equal(json_array_size(f.out), n + 1);
  assert_string_equal(json_string_value(json_object_get(last(&f), "method")), "notifications/resources/updated");
  /* the DAW (re)connected: what it can do may have changed */
  n = json_array_size(f.out);
  ev = json_pack("{ss ss}", "type", "connection", "state", "resynced");
  mcp_server_event(s, ev);
  json_decref(ev);
  assert_int_equal(json_array_size(f.out), n + 1);
  assert_string_equal(json_string_value(json_object_get(last(&f), "method")), "notifications/tools/list_changed");
  feed(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/unsubscribe\",\"params\":{\"uri\":\"dawbridge://"
          "session\"}}");
  n = json_array_size(f.out);
  ev = json_pack("{ss s[s]}", "type", "state", "changed", "tempo");
  mcp_server_event(s, ev);
  json_decref(ev);
  assert_int_equal(json_array_size(f.out), n);
  done(&f, s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mcp_server_bad_frames),
      cmocka_unit_test(test_mcp_server_negotiates_version),
      cmocka_unit_test(test_mcp_server_tools_from_vocabulary_within_limits),
      cmocka_unit_test(test_mcp_server_call_progress_and_outcomes),
      cmocka_unit_test(test_mcp_server_resources),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
