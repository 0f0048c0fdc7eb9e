/* mock_llm_server.c — scripted LLM HTTP server on libuv. See mock_llm_server.h. */
#include "mock_llm_server.h"
#include "strbuf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mock_piece {
  char *data;
  size_t len;
};

struct mock_conn {
  mock_llm_t *m;
  uv_tcp_t tcp;
  uv_timer_t timer;
  char *in;
  size_t in_len, in_cap;
  int responding;
  int closing;
  int open; /* handles not yet closed */
  struct mock_piece *pieces;
  size_t npieces, next;
  unsigned first_delay_ms, gap_ms;
  int close_after;
  struct mock_conn *nextc, *prevc;
};

struct mock_llm {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int port;
  json_t *queue;
  json_t *def;
  json_t *requests;
  json_t *reject; /* top-level body fields answered with 400 (mock_llm_reject_fields) */
  size_t rejected;
  struct mock_conn *conns;
  size_t nconn_total;
  int closing;
  int open;
  mock_llm_close_cb close_cb;
  void *close_data;
};

struct mock_write {
  uv_write_t req;
  char data[];
};

/* ---------- small helpers ---------- */

static const char *jstr(json_t *o, const char *k, const char *def) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : def;
}

static char *dump(json_t *j) {
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return s;
}

/* split s into about k parts at UTF-8 character boundaries; returns count, fills offsets */
static size_t utf8_split(const char *s, size_t len, size_t k, size_t *cuts) {
  size_t n = 0, prev = 0;
  for (size_t i = 1; i < k; i++) {
    size_t c = len * i / k;
    while (c < len && ((unsigned char)s[c] & 0xC0) == 0x80) c++;
    if (c > prev && c < len) cuts[n++] = prev = c;
  }
  cuts[n++] = len;
  return n;
}

/* ---------- connection lifecycle ---------- */

static void maybe_done(mock_llm_t *m) {
  if (!m->closing || m->open) return;
  mock_llm_close_cb cb = m->close_cb;
  void *data = m->close_data;
  json_decref(m->queue);
  json_decref(m->def);
  json_decref(m->requests);
  json_decref(m->reject);
  free(m);
  if (cb) cb(data);
}

static void free_pieces(struct mock_conn *c) {
  for (size_t i = 0; i < c->npieces; i++) free(c->pieces[i].data);
  free(c->pieces);
  c->pieces = NULL;
  c->npieces = c->next = 0;
}

static void on_conn_handle_closed(uv_handle_t *h) {
  struct mock_conn *c = h->data;
  if (--c->open) return;
  mock_llm_t *m = c->m;
  if (c->prevc)
    c->prevc->nextc = c->nextc;
  else
    m->conns = c->nextc;
  if (c->nextc) c->nextc->prevc = c->prevc;
  free_pieces(c);
  free(c->in);
  free(c);
  m->open--;
  maybe_done(m);
}

static void conn_close(struct mock_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void conn_write(struct mock_conn *c, const char *data, size_t len) {
  struct mock_write *w = malloc(sizeof *w + len);
  if (!w) abort();
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) free(w);
}

static void add_piece(struct mock_conn *c, const char *data, size_t len) {
  struct mock_piece *p = realloc(c->pieces, (c->npieces + 1) * sizeof *p);
  if (!p) abort();
  c->pieces = p;
  p[c->npieces].data = malloc(len ? len : 1);
  if (!p[c->npieces].data) abort();
  memcpy(p[c->npieces].data, data, len);
  p[c->npieces].len = len;
  c->npieces++;
}

static void try_parse(struct mock_conn *c);

static void on_piece_timer(uv_timer_t *t) {
  struct mock_conn *c = t->data;
  if (c->closing) return;
  if (c->next < c->npieces) {
    conn_write(c, c->pieces[c->next].data, c->pieces[c->next].len);
    c->next++;
  }
  if (c->next < c->npieces) {
    uv_timer_start(&c->timer, on_piece_timer, c->gap_ms, 0);
    return;
  }
  free_pieces(c);
  c->responding = 0;
  if (c->close_after) {
    conn_close(c);
    return;
  }
  try_parse(c);
}

/* ---------- response bodies ---------- */

static const char *neutral_finish(int anthropic, const char *f, int has_calls) {
  if (!f) f = has_calls ? "tool_calls" : "stop";
  if (anthropic) {
    if (!strcmp(f, "stop")) return "end_turn";
    if (!strcmp(f, "tool_calls")) return "tool_use";
    if (!strcmp(f, "length")) return "max_tokens";
  }
  return f;
}

static json_t *usage_json(json_t *spec, int anthropic) {
  json_t *u = json_object_get(spec, "usage");
  json_int_t in =
      json_is_integer(json_object_get(u, "input_tokens")) ? json_integer_value(json_object_get(u, "input_tokens")) : 10;
  json_int_t out = json_is_integer(json_object_get(u, "output_tokens"))
                       ? json_integer_value(json_object_get(u, "output_tokens"))
                       : 5;
  if (anthropic) return json_pack("{s:I,s:I}", "input_tokens", in, "output_tokens", out);
  return json_pack("{s:I,s:I,s:I}", "prompt_tokens", in, "completion_tokens", out, "total_tokens", in + out);
}

static char *call_id(json_t *call, int anthropic, size_t i) {
  char buf[64];
  const char *id = jstr(call, "id", NULL);
  if (id) return strdup(id);
  snprintf(buf, sizeof buf, anthropic ? "toolu_mock_%zu" : "call_mock_%zu", i);
  return strdup(buf);
}

static char *openai_plain(json_t *spec, const char *model) {
  const char *text = jstr(spec, "text", NULL);
  json_t *calls = json_object_get(spec, "tool_calls");
  json_t *msg = json_pack("{s:s}", "role", "assistant");
  json_object_set_new(msg, "content", text ? json_string(text) : json_null());
  if (json_array_size(calls)) {
    json_t *arr = json_array(), *c;
    size_t i;
    json_array_foreach(calls, i, c) {
      json_t *args = json_object_get(c, "arguments");
      json_t *fn = json_pack("{s:s}", "name", jstr(c, "name", ""));
      if (json_is_true(json_object_get(spec, "args_object")))
        json_object_set_new(fn, "arguments", args ? json_incref(args) : json_object());
      else if (json_is_string(args))
        json_object_set_new(fn, "arguments", json_incref(args));
      else {
        char *txt = json_dumps(args ? args : json_object(), JSON_COMPACT);
        json_object_set_new(fn, "arguments", json_string(txt ? txt : "{}"));
        free(txt);
      }
      json_t *tc = json_pack("{s:s,s:o}", "type", "function", "function", fn);
      if (!json_is_true(json_object_get(spec, "omit_ids"))) {
        char *id = call_id(c, 0, i);
        json_object_set_new(tc, "id", json_string(id));
        free(id);
      }
      json_array_append_new(arr, tc);
    }
    json_object_set_new(msg, "tool_calls", arr);
  }
  return dump(json_pack("{s:s,s:s,s:i,s:s,s:[{s:i,s:o,s:s}],s:o}", "id", "chatcmpl-mock", "object", "chat.completion",
                        "created", 0, "model", model, "choices", "index", 0, "message", msg, "finish_reason",
                        neutral_finish(0, jstr(spec, "finish", NULL), json_array_size(calls) > 0), "usage",
                        usage_json(spec, 0)));
}

static char *anthropic_plain(json_t *spec, const char *model) {
  const char *text = jstr(spec, "text", NULL);
  json_t *calls = json_object_get(spec, "tool_calls"), *content = json_array(), *c;
  size_t i;
  if (text && *text) json_array_append_new(content, json_pack("{s:s,s:s}", "type", "text", "text", text));
  json_array_foreach(calls, i, c) {
    char *id = call_id(c, 1, i);
    json_t *args = json_object_get(c, "arguments");
    json_array_append_new(content,
                          json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", id, "name", jstr(c, "name", ""),
                                    "input", json_is_object(args) ? json_incref(args) : json_object()));
    free(id);
  }
  return dump(json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:n,s:o}", "id", "msg_mock", "type", "message", "role", "assistant",
                        "model", model, "content", content, "stop_reason",
                        neutral_finish(1, jstr(spec, "finish", NULL), json_array_size(calls) > 0), "stop_sequence",
                        "usage", usage_json(spec, 1)));
}

struct sse_out {
  strbuf_t b;
  const char *eol;
  int events;
};

static void sse_ev(struct sse_out *o, const char *event, json_t *data /* steals */) {
  char *d = dump(data);
  if (event) {
    strbuf_puts(&o->b, "event: ");
    strbuf_puts(&o->b, event);
    strbuf_puts(&o->b, o->eol);
  }
  strbuf_puts(&o->b, "data: ");
  strbuf_puts(&o->b, d);
  strbuf_puts(&o->b, o->eol);
  strbuf_puts(&o->b, o->eol);
  free(d);
  if (++o->events == 2) { /* a keep-alive comment between events */
    strbuf_puts(&o->b, ": keep-alive");
    strbuf_puts(&o->b, o->eol);
    strbuf_puts(&o->b, o->eol);
  }
}

static void sse_raw(struct sse_out *o, const char *line) {
  strbuf_puts(&o->b, line);
  strbuf_puts(&o->b, o->eol);
  strbuf_puts(&o->b, o->eol);
}

static char *args_text(json_t *c) {
  json_t *a = json_object_get(c, "arguments");
  if (json_is_string(a)) return strdup(json_string_value(a));
  return json_dumps(a ? a : json_object(), JSON_COMPACT);
}

/* truncate: stop before the end marker. stream_error: error event after the first delta. */
static char *openai_stream(json_t *spec, const char *model, const char *eol, int truncate, int serr) {
  struct sse_out o = {.eol = eol};
  const char *text = jstr(spec, "text", "");
  json_t *calls = json_object_get(spec, "tool_calls"), *c;
  size_t i, cuts[8];
#define OA_CHUNK(delta, fin)                                                                                           \
  json_pack("{s:s,s:s,s:i,s:s,s:[{s:i,s:o,s:o}]}", "id", "chatcmpl-mock", "object", "chat.completion.chunk",           \
            "created", 0, "model", model, "choices", "index", 0, "delta", (delta), "finish_reason", (fin))
  strbuf_puts(&o.b, ": keep-alive");
  strbuf_puts(&o.b, eol);
  strbuf_puts(&o.b, eol);
  sse_ev(&o, NULL, OA_CHUNK(json_pack("{s:s,s:s}", "role", "assistant", "content", ""), json_null()));
  size_t n = utf8_split(text, strlen(text), 3, cuts), prev = 0;
  for (size_t k = 0; *text && k < n; k++) {
    sse_ev(&o, NULL, OA_CHUNK(json_pack("{s:s%}", "content", text + prev, cuts[k] - prev), json_null()));
    prev = cuts[k];
    if (serr && k == 0) {
      sse_ev(&o, NULL, json_pack("{s:{s:s,s:s}}", "error", "message", "mock stream error", "type", "server_error"));
      return strbuf_take(&o.b, NULL);
    }
  }
  json_array_foreach(calls, i, c) {
    json_t *tc = json_pack("{s:i,s:s,s:{s:s,s:s}}", "index", (int)i, "type", "function", "function", "name",
                           jstr(c, "name", ""), "arguments", "");
    if (!json_is_true(json_object_get(spec, "omit_ids"))) {
      char *id = call_id(c, 0, i);
      json_object_set_new(tc, "id", json_string(id));
      free(id);
    }
    sse_ev(&o, NULL, OA_CHUNK(json_pack("{s:[o]}", "tool_calls", tc), json_null()));
    char *args = args_text(c);
    size_t an = utf8_split(args, strlen(args), 4, cuts), ap = 0;
    for (size_t k = 0; k < an; k++) {
      sse_ev(&o, NULL,
             OA_CHUNK(json_pack("{s:[{s:i,s:{s:s%}}]}", "tool_calls", "index", (int)i, "function", "arguments",
                                args + ap, cuts[k] - ap),
                      json_null()));
      ap = cuts[k];
    }
    free(args);
  }
  if (truncate) return strbuf_take(&o.b, NULL);
  sse_ev(
      &o, NULL,
      OA_CHUNK(json_object(), json_string(neutral_finish(0, jstr(spec, "finish", NULL), json_array_size(calls) > 0))));
  sse_ev(&o, NULL,
         json_pack("{s:s,s:s,s:s,s:[],s:o}", "id", "chatcmpl-mock", "object", "chat.completion.chunk", "model", model,
                   "choices", "usage", usage_json(spec, 0)));
  sse_raw(&o, "data: [DONE]");
#undef OA_CHUNK
  return strbuf_take(&o.b, NULL);
}

static char *anthropic_stream(json_t *spec, const char *model, const char *eol, int truncate, int serr) {
  struct sse_out o = {.eol = eol};
  const char *text = jstr(spec, "text", "");
  json_t *calls = json_object_get(spec, "tool_calls"), *c;
  json_t *u = usage_json(spec, 1);
  size_t i, cuts[8], idx = 0;
  sse_ev(&o, "message_start",
         json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:[],s:n,s:{s:O,s:i}}}", "type", "message_start", "message", "id",
                   "msg_mock", "type", "message", "role", "assistant", "model", model, "content", "stop_reason",
                   "usage", "input_tokens", json_object_get(u, "input_tokens"), "output_tokens", 1));
  sse_ev(&o, "ping", json_pack("{s:s}", "type", "ping"));
  if (serr && !*text) { /* an error before any content */
    sse_ev(
        &o, "error",
        json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", "overloaded_error", "message", "Overloaded"));
    json_decref(u);
    return strbuf_take(&o.b, NULL);
  }
  if (*text) {
    sse_ev(&o, "content_block_start",
           json_pack("{s:s,s:i,s:{s:s,s:s}}", "type", "content_block_start", "index", 0, "content_block", "type",
                     "text", "text", ""));
    size_t n = utf8_split(text, strlen(text), 3, cuts), prev = 0;
    for (size_t k = 0; k < n; k++) {
      sse_ev(&o, "content_block_delta",
             json_pack("{s:s,s:i,s:{s:s,s:s%}}", "type", "content_block_delta", "index", 0, "delta", "type",
                       "text_delta", "text", text + prev, cuts[k] - prev));
      prev = cuts[k];
      if (serr && k == 0) {
        sse_ev(&o, "error",
               json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", "overloaded_error", "message",
                         "Overloaded"));
        json_decref(u);
        return strbuf_take(&o.b, NULL);
      }
    }
    sse_ev(&o, "content_block_stop", json_pack("{s:s,s:i}", "type", "content_block_stop", "index", 0));
    idx = 1;
  }
  sse_ev(&o, "mock_unknown_event", json_pack("{s:s}", "type", "mock_unknown_event"));
  json_array_foreach(calls, i, c) {
    char *id = call_id(c, 1, i);
    sse_ev(&o, "content_block_start",
           json_pack("{s:s,s:i,s:{s:s,s:s,s:s,s:{}}}", "type", "content_block_start", "index", (int)(idx + i),
                     "content_block", "type", "tool_use", "id", id, "name", jstr(c, "name", ""), "input"));
    free(id);
    char *args = args_text(c);
    size_t an = utf8_split(args, strlen(args), 4, cuts), ap = 0;
    for (size_t k = 0; k < an; k++) {
      sse_ev(&o, "content_block_delta",
             json_pack("{s:s,s:i,s:{s:s,s:s%}}", "type", "content_block_delta", "index", (int)(idx + i), "delta",
                       "type", "input_json_delta", "partial_json", args + ap, cuts[k] - ap));
      ap = cuts[k];
    }
    free(args);
    sse_ev(&o, "content_block_stop", json_pack("{s:s,s:i}", "type", "content_block_stop", "index", (int)(idx + i)));
  }
  if (!truncate) {
    sse_ev(&o, "message_delta",
           json_pack("{s:s,s:{s:s,s:n},s:{s:O}}", "type", "message_delta", "delta", "stop_reason",
                     neutral_finish(1, jstr(spec, "finish", NULL), json_array_size(calls) > 0), "stop_sequence",
                     "usage", "output_tokens", json_object_get(u, "output_tokens")));
    sse_ev(&o, "message_stop", json_pack("{s:s}", "type", "message_stop"));
  }
  json_decref(u);
  return strbuf_take(&o.b, NULL);
}

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  default: return "Status";
  }
}

/* ---------- the wire shape of the JSON mode and tool_choice, as the real APIs define it ---------- */

static int fail(char *why, size_t n, const char *fmt, const char *a, const char *b) {
  snprintf(why, n, fmt, a, b);
  return -1;
}

static int has_type(json_t *s, const char *t) {
  json_t *ty = json_object_get(s, "type"), *v;
  size_t i;
  if (json_is_string(ty)) return !strcmp(json_string_value(ty), t);
  json_array_foreach(ty, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), t)) return 1;
  return 0;
}

/* 1 if the schema's "required" array lists the property `key`. */
static int is_required(const json_t *required, const char *key) {
  size_t i;
  json_t *r;
  json_array_foreach(required, i, r) if (json_is_string(r) && !strcmp(json_string_value(r), key)) return 1;
  return 0;
}

/* OpenAI strict mode: every object closed with every property required; no length/size keywords. */
static int strict_ok(json_t *s, const char *path, char *why, size_t n) {
  static const char *const unsupported[] = {"minLength", "maxLength", "minProperties", "maxProperties"};
  char sub[512];
  if (!json_is_object(s)) return fail(why, n, "%s%s: not a schema object", path, "");
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
    if (json_object_get(s, unsupported[i]))
      return fail(why, n, "%s: '%s' is not permitted in strict mode", path, unsupported[i]);
  json_t *any = json_object_get(s, "anyOf"), *v;
  size_t i;
  json_array_foreach(any, i, v) {
    snprintf(sub, sizeof sub, "%s/anyOf/%zu", path, i);
    if (strict_ok(v, sub, why, n)) return -1;
  }
  if (has_type(s, "object")) {
    json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
    if (!json_is_object(props)) return fail(why, n, "%s%s: an object needs 'properties'", path, "");
    if (!json_is_false(json_object_get(s, "additionalProperties")))
      return fail(why, n, "%s%s: 'additionalProperties' is required to be supplied and to be false", path, "");
    const char *k;
    json_object_foreach(props, k, v) {
      if (!is_required(req, k))
        return fail(why, n, "%s: 'required' must include every key in properties; missing '%s'", path, k);
      snprintf(sub, sizeof sub, "%s/properties/%s", path, k);
      if (strict_ok(v, sub, why, n)) return -1;
    }
  }
  if (has_type(s, "array") && json_object_get(s, "items")) {
    snprintf(sub, sizeof sub, "%s/items", path);
    if (strict_ok(json_object_get(s, "items"), sub, why, n)) return -1;
  }
  return 0;
}

static int tool_named(json_t *tools, int anthropic, const char *name) {
  size_t i;
  json_t *t;
  json_array_foreach(tools, i, t) {
    const char *tn = anthropic ? jstr(t, "name", "") : jstr(json_object_get(t, "function"), "name", "");
    if (name && !strcmp(tn, name)) return 1;
  }
  return 0;
}

static int mentions_json(json_t *body) {
  char *d = json_dumps(json_object_get(body, "messages"), JSON_COMPACT);
  int found = 0;
  for (const char *p = d; p && *p && !found; p++) found = !strncasecmp(p, "json", 4);
  free(d);
  return found;
}

/* 0 when the body's response_format / tool_choice have the shape the real API accepts, else -1 and the error text
 * the API would give (close to it). */
static int check_wire(json_t *body, int anthropic, char *why, size_t n) {
  json_t *tools = json_object_get(body, "tools"), *tc = json_object_get(body, "tool_choice");
  if (anthropic) {
    if (json_object_get(body, "response_format"))
      return fail(why, n, "response_format: Extra inputs are not permitted%s%s", "", "");
    if (!tc) return 0;
    const char *t = jstr(tc, "type", "");
    if (!json_is_object(tc) || (strcmp(t, "auto") && strcmp(t, "any") && strcmp(t, "tool") && strcmp(t, "none")))
      return fail(why, n, "tool_choice: Input tag '%s' found using 'type' does not match any of the expected tags%s", t,
                  "");
    if (!json_array_size(tools) && strcmp(t, "none")) return fail(why, n, "tool_choice: tools must be set%s%s", "", "");
    if (!strcmp(t, "tool") && !tool_named(tools, 1, jstr(tc, "name", NULL)))
      return fail(why, n, "tool_choice: no tool named '%s'%s", jstr(tc, "name", "(none)"), "");
    return 0;
  }
  if (tc) {
    if (!json_array_size(tools))
      return fail(why, n,
                  "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.%s%s", "",
                  "");
    if (json_is_string(tc)) {
      const char *v = json_string_value(tc);
      if (strcmp(v, "none") && strcmp(v, "auto") && strcmp(v, "required"))
        return fail(why, n, "Invalid value for 'tool_choice': '%s'%s", v, "");
    } else if (!json_is_object(tc) || strcmp(jstr(tc, "type", ""), "function") ||
               !tool_named(tools, 0, jstr(json_object_get(tc, "function"), "name", NULL))) {
      return fail(why, n, "Invalid value for 'tool_choice'%s%s", "", "");
    }
  }
  json_t *rf = json_object_get(body, "response_format");
  if (!rf) return 0;
  const char *t = jstr(rf, "type", "");
  if (!strcmp(t, "json_object")) {
    if (json_object_size(rf) != 1)
      return fail(why, n, "Invalid 'response_format': json_object takes no other field%s%s", "", "");
    if (!mentions_json(body))
      return fail(
          why, n,
          "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.%s%s",
          "", "");
    return 0;
  }
  if (strcmp(t, "json_schema")) return fail(why, n, "Invalid value for 'response_format.type': '%s'%s", t, "");
  json_t *js = json_object_get(rf, "json_schema");
  const char *name = jstr(js, "name", "");
  size_t nl = strlen(name);
  if (json_object_size(rf) != 2 || !json_is_object(js))
    return fail(why, n, "Missing required parameter: 'response_format.json_schema'%s%s", "", "");
  if (!nl || nl > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != nl)
    return fail(why, n, "Invalid 'response_format.json_schema.name': '%s'%s", name, "");
  const char *k;
  json_t *v;
  json_object_foreach(
      js, k, v) if (strcmp(k, "name") && strcmp(k, "schema") && strcmp(k, "strict") &&
                    strcmp(k, "description")) return fail(why, n,
                                                          "Unrecognized parameter 'response_format.json_schema.%s'%s",
                                                          k, "");
  json_t *schema = json_object_get(js, "schema"), *strict = json_object_get(js, "strict");
  if (!json_is_object(schema)) return fail(why, n, "Invalid 'response_format.json_schema.schema'%s%s", "", "");
  if (strict && !json_is_boolean(strict))
    return fail(why, n, "Invalid 'response_format.json_schema.strict'%s%s", "", "");
  if (json_is_true(strict)) {
    char w[400];
    if (!has_type(schema, "object") || json_object_get(schema, "anyOf"))
      return fail(why, n, "Invalid schema for response_format '%s': the root must be an object, not anyOf%s", name, "");
    if (strict_ok(schema, "", w, sizeof w)) return fail(why, n, "Invalid schema for response_format '%s': %s", name, w);
  }
  return 0;
}

/* ---------- one request ---------- */

static void respond(struct mock_conn *c, json_t *req) {
  mock_llm_t *m = c->m;
  const char *path = jstr(req, "path", "");
  json_t *body = json_object_get(req, "body");
  int anthropic = strstr(path, "/messages") != NULL;
  if (!strcmp(jstr(req, "method", ""), "GET")) { /* model list, as /v1/models; does not use the queue */
    char *list = dump(json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "object", "list", "data", "id", "mock-model", "object",
                                "model", "owned_by", "mock"));
    char head[160];
    int ok = strstr(path, "/models") != NULL;
    snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             ok ? "200 OK" : "404 Not Found", ok ? strlen(list) : 0);
    add_piece(c, head, strlen(head));
    if (ok) add_piece(c, list, strlen(list));
    free(list);
    c->close_after = 0;
    c->gap_ms = 0;
    c->responding = 1;
    c->next = 0;
    uv_timer_start(&c->timer, on_piece_timer, 0, 0);
    return;
  }
  int stream = json_is_true(json_object_get(body, "stream"));
  const char *model = jstr(body, "model", "mock-model");
  char wire_err[600] = "";
  size_t ri;
  json_t *rfield;
  json_array_foreach(m->reject, ri, rfield) { /* a server without the field: 400, the queue untouched */
    if (json_is_string(rfield) && json_object_get(body, json_string_value(rfield)) && !wire_err[0]) {
      snprintf(wire_err, sizeof wire_err, "Unrecognized request argument supplied: %s", json_string_value(rfield));
      m->rejected++;
    }
  }
  if (!wire_err[0]) check_wire(body, anthropic, wire_err, sizeof wire_err);
  json_t *spec = wire_err[0] ? json_pack("{s:i,s:s}", "status", 400, "error_message", wire_err)
                             : json_incref(json_array_get(m->queue, 0));
  if (!wire_err[0]) {
    if (spec)
      json_array_remove(m->queue, 0);
    else if (m->def)
      spec = json_incref(m->def);
    else
      spec = json_pack("{s:i,s:s}", "status", 500, "error_message", "mock: no scripted response");
  }
  if (json_is_true(json_object_get(spec, "ignore_stream"))) stream = 0;

  int status =
      json_is_integer(json_object_get(spec, "status")) ? (int)json_integer_value(json_object_get(spec, "status")) : 200;
  const char *fault = jstr(spec, "fault", "");
  const char *ctype = jstr(spec, "content_type", NULL);
  const char *eol = json_is_true(json_object_get(spec, "crlf")) ? "\r\n" : "\n";
  char *payload = NULL;
  int sse = 0;
  if (status != 200) {
    char msg[1024];
    const char *em = jstr(spec, "error_message", "mock error");
    const char *auth = jstr(json_object_get(req, "headers"), anthropic ? "x-api-key" : "authorization", "");
    if (json_is_true(json_object_get(spec, "echo_auth")))
      snprintf(msg, sizeof msg, "%s (you sent: %s)", em, auth);
    else
      snprintf(msg, sizeof msg, "%s", em);
    const char *etype = status == 429 ? "rate_limit_error" : status >= 500 ? "api_error" : "invalid_request_error";
    payload = anthropic ? dump(json_pack("{s:s,s:{s:s,s:s}}", "type", "error", "error", "type", etype, "message", msg))
                        : dump(json_pack("{s:{s:s,s:s,s:n}}", "error", "message", msg, "type", etype, "code"));
  } else if (!strcmp(fault, "content_type")) {
    payload = strdup("<html><body><h1>502 Bad Gateway</h1></body></html>");
    ctype = "text/html";
  } else if (stream) {
    int trunc = !strcmp(fault, "truncate"), serr = !strcmp(fault, "stream_error");
    payload =
        anthropic ? anthropic_stream(spec, model, eol, trunc, serr) : openai_stream(spec, model, eol, trunc, serr);
    sse = 1;
  } else {
    payload = anthropic ? anthropic_plain(spec, model) : openai_plain(spec, model);
    if (!strcmp(fault, "truncate")) payload[strlen(payload) / 2] = '\0';
  }
  if (!ctype) ctype = sse ? "text/event-stream" : "application/json";
  size_t plen = strlen(payload);
  int drop = !strcmp(fault, "drop");

  strbuf_t h = STRBUF_INIT;
  char line[256];
  snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status, reason(status), ctype);
  strbuf_puts(&h, line);
  if (json_is_integer(json_object_get(spec, "retry_after"))) {
    snprintf(line, sizeof line, "Retry-After: %lld\r\n",
             (long long)json_integer_value(json_object_get(spec, "retry_after")));
    strbuf_puts(&h, line);
  }
  if (sse) {
    strbuf_puts(&h, "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
  } else {
    snprintf(line, sizeof line, "Content-Length: %zu\r\n\r\n", plen);
    strbuf_puts(&h, line);
  }
  add_piece(c, h.s, h.len);
  strbuf_reset(&h);
  if (sse) {
    static const size_t cycle[] = {7, 13, 3, 29, 1, 17, 41, 5};
    size_t fixed = json_is_integer(json_object_get(spec, "chunk"))
                       ? (size_t)json_integer_value(json_object_get(spec, "chunk"))
                       : 0;
    size_t off = 0, k = 0, limit = drop ? plen / 2 : plen;
    while (off < limit) {
      size_t n = fixed ? fixed : cycle[k++ % (sizeof cycle / sizeof cycle[0])];
      if (n > limit - off) n = limit - off;
      snprintf(line, sizeof line, "%zx\r\n", n);
      strbuf_t ch = STRBUF_INIT;
      strbuf_puts(&ch, line);
      strbuf_append(&ch, payload + off, n);
      strbuf_puts(&ch, "\r\n");
      add_piece(c, ch.s, ch.len);
      strbuf_reset(&ch);
      off += n;
    }
    if (!drop) add_piece(c, "0\r\n\r\n", 5);
  } else if (drop) {
    add_piece(c, payload, plen / 2);
  } else {
    add_piece(c, payload, plen);
  }
  free(payload);
  c->close_after = drop;
  c->first_delay_ms = json_is_integer(json_object_get(spec, "delay_ms"))
                          ? (unsigned)json_integer_value(json_object_get(spec, "delay_ms"))
                          : 0;
  c->gap_ms = json_is_integer(json_object_get(spec, "gap_ms"))
                  ? (unsigned)json_integer_value(json_object_get(spec, "gap_ms"))
                  : 1;
  if (!sse) c->gap_ms = 0;
  json_decref(spec);
  c->responding = 1;
  c->next = 0;
  uv_timer_start(&c->timer, on_piece_timer, c->first_delay_ms, 0);
}

static void try_parse(struct mock_conn *c) {
  if (c->responding || c->closing) return;
  if (c->in_len && (c->in[0] < 'A' || c->in[0] > 'Z')) { /* not HTTP (e.g. a TLS ClientHello) */
    conn_close(c);
    return;
  }
  char *end = NULL;
  for (size_t i = 0; i + 3 < c->in_len; i++)
    if (!memcmp(c->in + i, "\r\n\r\n", 4)) {
      end = c->in + i;
      break;
    }
  if (!end) return;
  size_t hlen = (size_t)(end - c->in) + 4;
  /* request line */
  char method[16] = "", path[512] = "";
  const char *sp1 = memchr(c->in, ' ', hlen);
  const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', hlen - (size_t)(sp1 + 1 - c->in)) : NULL;
  if (!sp1 || !sp2) {
    conn_close(c);
    return;
  }
  snprintf(method, sizeof method, "%.*s", (int)(sp1 - c->in), c->in);
  snprintf(path, sizeof path, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
  json_t *headers = json_object();
  size_t clen = 0;
  const char *l = memchr(c->in, '\n', hlen);
  while (l && l + 1 < end) {
    const char *ls = l + 1;
    const char *le = memchr(ls, '\r', (size_t)(end + 2 - ls));
    if (!le) break;
    const char *colon = memchr(ls, ':', (size_t)(le - ls));
    if (colon) {
      char name[128], val[1024];
      size_t nl = (size_t)(colon - ls) < sizeof name - 1 ? (size_t)(colon - ls) : sizeof name - 1;
      for (size_t i = 0; i < nl; i++) name[i] = (char)tolower((unsigned char)ls[i]);
      name[nl] = '\0';
      const char *v = colon + 1;
      while (v < le && *v == ' ') v++;
      snprintf(val, sizeof val, "%.*s", (int)(le - v), v);
      json_object_set_new(headers, name, json_string(val));
      if (!strcmp(name, "content-length")) clen = (size_t)strtoul(val, NULL, 10);
    }
    l = le + 1;
  }
  if (c->in_len < hlen + clen) {
    json_decref(headers);
    return; /* body incomplete */
  }
  json_t *body = json_loadb(c->in + hlen, clen, 0, NULL);
  json_t *req = json_object();
  json_object_set_new(req, "method", json_string(method));
  json_object_set_new(req, "path", json_string(path));
  json_object_set_new(req, "headers", headers);
  json_object_set_new(req, "body", body ? body : json_null());
  json_t *raw = json_stringn(c->in + hlen, clen);
  json_object_set_new(req, "raw", raw ? raw : json_string(""));
  memmove(c->in, c->in + hlen + clen, c->in_len - hlen - clen);
  c->in_len -= hlen + clen;
  json_array_append(c->m->requests, req);
  respond(c, req);
  json_decref(req);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct mock_conn *c = h->data;
  if (c->in_cap - c->in_len < 65536) {
    size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
    char *p = realloc(c->in, cap);
    if (!p) abort();
    c->in = p;
    c->in_cap = cap;
  }
  (void)suggested;
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct mock_conn *c = s->data;
  (void)buf;
  if (n < 0) {
    conn_close(c);
    return;
  }
  c->in_len += (size_t)n;
  try_parse(c);
}

static void on_connection(uv_stream_t *server, int status) {
  mock_llm_t *m = server->data;
  if (status < 0 || m->closing) return;
  struct mock_conn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->m = m;
  uv_tcp_init(m->loop, &c->tcp);
  uv_timer_init(m->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->open = 2;
  m->open++;
  c->nextc = m->conns;
  if (m->conns) m->conns->prevc = c;
  m->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  m->nconn_total++;
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---------- public API ---------- */

mock_llm_t *mock_llm_new(uv_loop_t *loop, int port, char *err, size_t errlen) {
  mock_llm_t *m = calloc(1, sizeof *m);
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound, rc;
  if (!m) {
    snprintf(err, errlen, "mock-llm: out of memory");
    return NULL;
  }
  m->loop = loop;
  m->queue = json_array();
  m->requests = json_array();
  uv_tcp_init(loop, &m->listener);
  m->listener.data = m;
  m->open = 1;
  uv_ip4_addr("127.0.0.1", port, &addr);
  if ((rc = uv_tcp_bind(&m->listener, (const struct sockaddr *)&addr, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&m->listener, 128, on_connection)) != 0 ||
      (rc = uv_tcp_getsockname(&m->listener, (struct sockaddr *)&bound, &len)) != 0) {
    snprintf(err, errlen, "mock-llm: cannot listen on 127.0.0.1:%d: %s", port, uv_strerror(rc));
    mock_llm_close(m, NULL, NULL);
    return NULL;
  }
  m->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  return m;
}

int mock_llm_port(const mock_llm_t *m) { return m->port; }

void mock_llm_reject_fields(mock_llm_t *m, json_t *fields) {
  json_decref(m->reject);
  m->reject = fields;
}

size_t mock_llm_rejected(const mock_llm_t *m) { return m->rejected; }
size_t mock_llm_pending(const mock_llm_t *m) { return json_array_size(m->queue); }
json_t *mock_llm_requests(mock_llm_t *m) { return m->requests; }
size_t mock_llm_connections(const mock_llm_t *m) { return m->nconn_total; }

int mock_llm_push(mock_llm_t *m, json_t *spec) {
  if (!json_is_object(spec)) {
    json_decref(spec);
    return -1;
  }
  return json_array_append_new(m->queue, spec);
}

void mock_llm_set_default(mock_llm_t *m, json_t *spec) {
  json_decref(m->def);
  m->def = spec;
}

int mock_llm_load(mock_llm_t *m, const char *path, char *err, size_t errlen) {
  json_error_t je;
  json_t *root = json_load_file(path, 0, &je);
  json_t *arr = json_is_array(root) ? root : json_object_get(root, "responses");
  if (!json_is_array(arr)) {
    snprintf(err, errlen, "mock-llm: %s: %s", path, root ? "needs {\"responses\": [...]}" : je.text);
    json_decref(root);
    return -1;
  }
  size_t i;
  json_t *s;
  json_array_foreach(arr, i, s) mock_llm_push(m, json_incref(s));
  json_decref(root);
  return 0;
}

static void on_listener_closed(uv_handle_t *h) {
  mock_llm_t *m = h->data;
  m->open--;
  maybe_done(m);
}

void mock_llm_close(mock_llm_t *m, mock_llm_close_cb cb, void *data) {
  if (!m || m->closing) return;
  m->closing = 1;
  m->close_cb = cb;
  m->close_data = data;
  uv_close((uv_handle_t *)&m->listener, on_listener_closed);
  for (struct mock_conn *c = m->conns; c; c = c->nextc) conn_close(c);
}
