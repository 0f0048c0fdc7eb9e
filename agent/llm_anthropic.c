/* llm_anthropic.c — Anthropic Messages API: encode the neutral request (system on top,
 * tool_use / tool_result blocks), decode plain and streamed (named SSE events) responses. */
#include "llm_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANTHROPIC_DEFAULT_MAX_TOKENS 4096

static enum llm_finish map_stop(const char *f) {
  if (!f || !*f || !strcmp(f, "end_turn") || !strcmp(f, "stop_sequence")) return LLM_STOP_END;
  if (!strcmp(f, "tool_use")) return LLM_STOP_TOOL;
  if (!strcmp(f, "max_tokens") || !strcmp(f, "model_context_window_exceeded")) return LLM_STOP_LENGTH;
  return LLM_STOP_OTHER;
}

/* Append blocks to a message of `role`, merging with the previous one when the role repeats
 * (the API wants user/assistant alternation; tool results go in one user message). */
static json_t *msg_for(json_t *msgs, const char *role) {
  json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
  if (last && !strcmp(llm__jstr(last, "role", ""), role)) return json_object_get(last, "content");
  json_t *content = json_array();
  json_array_append_new(msgs, json_pack("{s:s,s:o}", "role", role, "content", content));
  return content;
}

static json_t *encode(json_t *neutral, const char *model, char *err, size_t errlen) {
  json_t *body = json_object(), *msgs = json_array();
  json_t *opts = json_object_get(neutral, "options");
  json_object_set_new(body, "model", json_string(model ? model : ""));
  json_int_t mt = json_integer_value(json_object_get(opts, "max_tokens"));
  json_object_set_new(body, "max_tokens", json_integer(mt > 0 ? mt : ANTHROPIC_DEFAULT_MAX_TOKENS));
  strbuf_t sys = STRBUF_INIT;
  const char *s0 = llm__jstr(neutral, "system", NULL);
  if (s0) llm__buf_add(&sys, s0, strlen(s0));
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(neutral, "messages"), i, m) {
    const char *role = llm__jstr(m, "role", "");
    const char *content = llm__jstr(m, "content", NULL);
    if (!strcmp(role, "system")) { /* only top-level system exists: fold in */
      if (sys.len) llm__buf_add(&sys, "\n\n", 2);
      if (content) llm__buf_add(&sys, content, strlen(content));
    } else if (!strcmp(role, "user")) {
      json_array_append_new(msg_for(msgs, "user"),
                            json_pack("{s:s,s:s}", "type", "text", "text", content ? content : ""));
    } else if (!strcmp(role, "assistant")) {
      json_t *blocks = msg_for(msgs, "assistant"), *c;
      if (content && *content) json_array_append_new(blocks, json_pack("{s:s,s:s}", "type", "text", "text", content));
      size_t j;
      json_array_foreach(json_object_get(m, "tool_calls"), j, c) {
        json_t *a = json_object_get(c, "arguments");
        json_t *input = json_is_object(a)   ? json_incref(a)
                        : json_is_string(a) ? llm__parse_args(json_string_value(a), json_string_length(a))
                                            : json_object();
        if (!input) input = json_object();
        json_array_append_new(blocks, json_pack("{s:s,s:s,s:s,s:o}", "type", "tool_use", "id", llm__jstr(c, "id", ""),
                                                "name", llm__jstr(c, "name", ""), "input", input));
      }
      if (!json_array_size(blocks)) json_array_append_new(blocks, json_pack("{s:s,s:s}", "type", "text", "text", ""));
    } else if (!strcmp(role, "tool")) {
      json_t *b = json_pack("{s:s,s:s,s:s}", "type", "tool_result", "tool_use_id", llm__jstr(m, "tool_call_id", ""),
                            "content", content ? content : "");
      if (json_is_true(json_object_get(m, "is_error"))) json_object_set_new(b, "is_error", json_true());
      json_array_append_new(msg_for(msgs, "user"), b);
    } else {
      snprintf(err, errlen, "anthropic: unknown message role \"%s\"", role);
      strbuf_reset(&sys);
      json_decref(msgs);
      json_decref(body);
      return NULL;
    }
  }
  /* a user message that is a single text block is sent as a plain string */
  json_array_foreach(msgs, i, m) {
    json_t *c = json_object_get(m, "content");
    json_t *b0 = json_array_get(c, 0);
    if (json_array_size(c) == 1 && !strcmp(llm__jstr(b0, "type", ""), "text"))
      json_object_set_new(m, "content", json_string(llm__jstr(b0, "text", "")));
  }
  if (sys.len) json_object_set_new(body, "system", json_stringn(sys.s, sys.len));
  strbuf_reset(&sys);
  json_object_set_new(body, "messages", msgs);
  json_t *tools = json_object_get(neutral, "tools"), *js = json_object_get(neutral, "json");
  json_t *arr = json_array(), *t;
  json_array_foreach(tools, i, t) {
    json_t *p = json_object_get(t, "parameters");
    json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "name", llm__jstr(t, "name", ""), "description",
                                         llm__jstr(t, "description", ""), "input_schema",
                                         p ? json_incref(p) : json_pack("{s:s}", "type", "object")));
  }
  const char *tc = llm__jstr(neutral, "tool_choice", NULL);
  if (js) { /* no JSON mode in the Messages API: a forced tool whose input is the answer */
    json_t *p = json_object_get(js, "schema");
    const char *name = llm__jstr(js, "name", "answer");
    json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "name", name, "description",
                                         "Write your whole answer as this tool's input.", "input_schema",
                                         p ? json_incref(p) : json_pack("{s:s}", "type", "object")));
    json_object_set_new(body, "tool_choice", json_pack("{s:s,s:s}", "type", "tool", "name", name));
  } else if (tc && json_array_size(arr)) {
    json_object_set_new(body, "tool_choice", json_pack("{s:s}", "type", !strcmp(tc, "required") ? "any" : tc));
  }
  if (json_array_size(arr))
    json_object_set_new(body, "tools", arr);
  else
    json_decref(arr);
  json_t *temp = json_object_get(opts, "temperature");
  if (json_is_number(temp) && json_number_value(temp) >= 0)
    json_object_set_new(body, "temperature", json_real(json_number_value(temp)));
  if (json_is_true(json_object_get(opts, "stream"))) json_object_set_new(body, "stream", json_true());
  return body;
}

static int error_obj(json_t *root, char *err, size_t errlen) {
  json_t *e = json_object_get(root, "error");
  if (!e && strcmp(llm__jstr(root, "type", ""), "error")) return 0;
  const char *m = json_is_string(e) ? json_string_value(e) : llm__jstr(e, "message", "unknown error");
  snprintf(err, errlen, "provider error (%s): %s", llm__jstr(e, "type", "error"), m);
  return 1;
}

static json_t *input_of(json_t *blk) {
  json_t *in = json_object_get(blk, "input");
  if (json_is_object(in)) return json_incref(in);
  if (json_is_string(in)) return llm__parse_args(json_string_value(in), json_string_length(in));
  return json_object();
}

static int decode(const char *body, size_t len, struct llm_result **out, char *err, size_t errlen) {
  int lrc;
  *out = NULL;
  json_t *root = llm__load_object(body, len, "anthropic: response is not a JSON object", error_obj, &lrc, err, errlen);
  if (!root) return lrc;
  json_t *content = json_object_get(root, "content");
  if (!json_is_array(content)) {
    snprintf(err, errlen, "anthropic: response has no content array");
    json_decref(root);
    return LLM_EPROTO;
  }
  struct llm_result *res = llm__result_new();
  strbuf_t text = STRBUF_INIT;
  int rc = res ? 0 : LLM_ENOMEM;
  size_t i;
  json_t *b;
  json_array_foreach(content, i, b) {
    const char *type = llm__jstr(b, "type", "");
    if (rc) break;
    if (!strcmp(type, "text")) {
      const char *t = llm__jstr(b, "text", "");
      rc = llm__buf_add(&text, t, strlen(t));
    } else if (!strcmp(type, "tool_use")) {
      rc = llm__result_add_call(res, llm__jstr(b, "id", NULL), llm__jstr(b, "name", ""), input_of(b), NULL);
    }
  }
  if (!rc) rc = llm__result_set_text(res, text.s ? text.s : "", text.len);
  strbuf_reset(&text);
  const char *sr = llm__jstr(root, "stop_reason", "");
  if (!rc) rc = llm__result_set_finish(res, map_stop(sr), sr);
  if (rc) {
    llm_result_free(res);
    json_decref(root);
    snprintf(err, errlen, "anthropic: out of memory");
    return rc;
  }
  llm__usage(json_object_get(root, "usage"), "input_tokens", "output_tokens", &res->usage.input_tokens,
             &res->usage.output_tokens);
  llm__set_str(&res->model, llm__jstr(root, "model", ""));
  llm__result_normalize(res);
  json_decref(root);
  *out = res;
  return LLM_OK;
}

/* ---------- streaming ---------- */

/* the content block an event's "index" names (a tool_use block's buf is its partial_json, obj its input) */
static struct llm_part *block_at(struct llm_stream *s, json_t *root) {
  json_t *ji = json_object_get(root, "index");
  if (!json_is_integer(ji) || json_integer_value(ji) < 0) return NULL;
  return llm__stream_part(s, (size_t)json_integer_value(ji));
}

static int stream_event(void *p, const char *event, const char *data, size_t len, llm_text_fn emit, void *ctx,
                        char *err, size_t errlen) {
  struct llm_stream *s = p;
  int lrc;
  json_t *root = llm__load_object(data, len, "anthropic: bad stream event", NULL, &lrc, err, errlen);
  if (!root) return lrc;
  const char *type = llm__jstr(root, "type", event && strcmp(event, "message") ? event : "");
  int rc = 0;
  if (!strcmp(type, "error")) {
    error_obj(root, err, errlen);
    rc = LLM_EPROVIDER;
  } else if (!strcmp(type, "message_start")) {
    json_t *m = json_object_get(root, "message");
    if (!s->model) llm__set_str(&s->model, llm__jstr(m, "model", NULL));
    llm__usage(json_object_get(m, "usage"), "input_tokens", "output_tokens", &s->in_tok, &s->out_tok);
  } else if (!strcmp(type, "content_block_start")) {
    struct llm_part *b = block_at(s, root);
    json_t *cb = json_object_get(root, "content_block");
    if (!b) {
      rc = LLM_EPROTO;
      snprintf(err, errlen, "anthropic: content_block_start without a valid index");
    } else {
      const char *bt = llm__jstr(cb, "type", "");
      b->active = 1;
      if (!strcmp(bt, "tool_use")) {
        b->is_tool = 1;
        free(b->id);
        free(b->name);
        b->id = strdup(llm__jstr(cb, "id", ""));
        b->name = strdup(llm__jstr(cb, "name", ""));
        json_t *in = json_object_get(cb, "input");
        if (json_is_object(in) && json_object_size(in)) b->obj = json_incref(in);
      } else if (!strcmp(bt, "text")) {
        const char *t = llm__jstr(cb, "text", "");
        if (*t) {
          rc = llm__buf_add(&b->buf, t, strlen(t));
          if (emit) emit(ctx, t, strlen(t));
        }
      } else {
        b->active = 0; /* thinking etc.: not part of the result */
      }
    }
  } else if (!strcmp(type, "content_block_delta")) {
    struct llm_part *b = block_at(s, root);
    json_t *d = json_object_get(root, "delta");
    const char *dt = llm__jstr(d, "type", "");
    if (b && b->active) {
      if (!strcmp(dt, "text_delta") && !b->is_tool) {
        json_t *t = json_object_get(d, "text");
        if (json_is_string(t)) {
          rc = llm__buf_add(&b->buf, json_string_value(t), json_string_length(t));
          if (emit && json_string_length(t)) emit(ctx, json_string_value(t), json_string_length(t));
        }
      } else if (!strcmp(dt, "input_json_delta") && b->is_tool) {
        json_t *t = json_object_get(d, "partial_json");
        if (json_is_string(t)) rc = llm__buf_add(&b->buf, json_string_value(t), json_string_length(t));
      }
    }
  } else if (!strcmp(type, "content_block_stop")) {
    struct llm_part *b = block_at(s, root);
    if (b && b->is_tool && b->buf.len) {
      json_decref(b->obj);
      b->obj = llm__parse_args(b->buf.s, b->buf.len);
    }
  } else if (!strcmp(type, "message_delta")) {
    llm__set_str(&s->finish, llm__jstr(json_object_get(root, "delta"), "stop_reason", NULL));
    llm__usage(json_object_get(root, "usage"), "input_tokens", "output_tokens", &s->in_tok, &s->out_tok);
  } else if (!strcmp(type, "message_stop")) {
    s->done = 1;
    rc = 1;
  } /* ping and unknown events: ignored */
  json_decref(root);
  if (rc == LLM_ENOMEM) snprintf(err, errlen, "anthropic: out of memory");
  return rc;
}

static int stream_finish(void *p, struct llm_result **out, char *err, size_t errlen) {
  struct llm_stream *s = llm__stream_ended(p, "anthropic", "message_stop", out, err, errlen);
  if (!s) return LLM_EPROTO;
  struct llm_result *res = llm__result_new();
  strbuf_t text = STRBUF_INIT;
  int rc = res ? 0 : LLM_ENOMEM;
  for (size_t i = 0; !rc && i < s->nparts; i++) {
    struct llm_part *b = &s->parts[i];
    if (!b->active) continue;
    if (b->is_tool) {
      json_t *in = b->obj ? json_incref(b->obj) : b->buf.len ? NULL : json_object();
      rc = llm__result_add_call(res, b->id && *b->id ? b->id : NULL, b->name ? b->name : "", in,
                                b->buf.len ? b->buf.s : NULL);
    } else if (b->buf.len) {
      rc = llm__buf_add(&text, b->buf.s, b->buf.len);
    }
  }
  if (!rc) rc = llm__result_set_text(res, text.s ? text.s : "", text.len);
  strbuf_reset(&text);
  if (!rc) rc = llm__result_set_finish(res, map_stop(s->finish), s->finish ? s->finish : "");
  return llm__stream_result(res, rc, "anthropic", s, out, err, errlen);
}

const struct llm_provider_ops *llm__anthropic_ops(void) {
  static const struct llm_provider_ops ops = {
      .name = "anthropic",
      .path = "/v1/messages",
      .auth_fmt = "x-api-key: %s",
      .extra_header = "anthropic-version: 2023-06-01",
      .json_via_tool = 1,
      .encode = encode,
      .decode = decode,
      .stream_new = llm__stream_new,
      .stream_event = stream_event,
      .stream_finish = stream_finish,
      .stream_free = llm__stream_free,
  };
  return &ops;
}
