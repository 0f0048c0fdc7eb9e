/* llm_openai.c — OpenAI-compatible chat completions (OpenAI, Ollama, llama.cpp, vLLM,
 * LM Studio): encode the neutral request, decode plain and streamed responses. */
#include "llm_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum llm_finish map_finish(const char *f) {
  if (!f || !*f || !strcmp(f, "stop")) return LLM_STOP_END;
  if (!strcmp(f, "tool_calls") || !strcmp(f, "function_call") || !strcmp(f, "tool")) return LLM_STOP_TOOL;
  if (!strcmp(f, "length")) return LLM_STOP_LENGTH;
  return LLM_STOP_OTHER;
}

/* OpenAI's strict structured outputs accept a subset of JSON Schema: every object closed (additionalProperties
 * false) with every property in "required" (an optional one becomes nullable), no string length or object size
 * keywords. A free-form object (no properties) cannot be strict: such an optional property is left out. New
 * reference, or NULL for a free-form object. */
static json_t *strict_schema(json_t *s, int nullable) {
  static const char *const dropped[] = {"minLength", "maxLength", "minProperties", "maxProperties", "default"};
  if (!json_is_object(s)) return json_incref(s);
  json_t *o = json_deep_copy(s);
  for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) json_object_del(o, dropped[i]);
  json_t *type = json_object_get(o, "type");
  const char *t = json_string_value(type);
  json_t *props = json_object_get(s, "properties");
  if (t && !strcmp(t, "object")) {
    if (!json_object_size(props)) {
      json_decref(o);
      return NULL;
    }
    json_t *np = json_object(), *req = json_array(), *v;
    json_t *was_req = json_object_get(s, "required");
    const char *k;
    json_object_foreach(props, k, v) {
      int required = 0;
      size_t i;
      json_t *r;
      json_array_foreach(was_req, i, r) required |= json_is_string(r) && !strcmp(json_string_value(r), k);
      json_t *sv = strict_schema(v, !required);
      if (!sv) continue;
      json_object_set_new(np, k, sv);
      json_array_append_new(req, json_string(k));
    }
    json_object_set_new(o, "properties", np);
    json_object_set_new(o, "required", req);
    json_object_set_new(o, "additionalProperties", json_false());
  } else if (t && !strcmp(t, "array") && json_is_object(json_object_get(s, "items"))) {
    json_t *it = strict_schema(json_object_get(s, "items"), 0);
    json_object_set_new(o, "items", it ? it : json_pack("{s:s}", "type", "string"));
  }
  json_t *any = json_object_get(s, "anyOf");
  if (json_is_array(any)) {
    json_t *na = json_array(), *v;
    size_t i;
    json_array_foreach(any, i, v) {
      json_t *sv = strict_schema(v, 0);
      if (sv) json_array_append_new(na, sv);
    }
    if (nullable) json_array_append_new(na, json_pack("{s:s}", "type", "null"));
    json_object_set_new(o, "anyOf", na);
    return o;
  }
  if (nullable && t) {
    json_object_set_new(o, "type", json_pack("[s,s]", t, "null"));
    json_t *en = json_object_get(o, "enum");
    if (json_is_array(en)) json_array_append_new(en, json_null());
  }
  return o;
}

static json_t *encode(json_t *neutral, const char *model, char *err, size_t errlen) {
  json_t *body = json_object(), *msgs = json_array();
  json_t *opts = json_object_get(neutral, "options");
  json_object_set_new(body, "model", json_string(model ? model : ""));
  const char *sys = llm__jstr(neutral, "system", NULL);
  if (sys) json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", sys));
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(neutral, "messages"), i, m) {
    const char *role = llm__jstr(m, "role", "");
    const char *content = llm__jstr(m, "content", NULL);
    if (!strcmp(role, "user")) {
      json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", content ? content : ""));
    } else if (!strcmp(role, "assistant")) {
      json_t *o = json_object();
      json_object_set_new(o, "role", json_string("assistant"));
      json_t *calls = json_object_get(m, "tool_calls");
      json_object_set_new(o, "content",
                          content && *content      ? json_string(content)
                          : json_array_size(calls) ? json_null()
                                                   : json_string(""));
      if (json_array_size(calls)) {
        json_t *tc = json_array(), *c;
        size_t j;
        json_array_foreach(calls, j, c) {
          json_t *args = json_object_get(c, "arguments");
          char *txt = json_is_string(args) ? strdup(json_string_value(args))
                                           : json_dumps(args ? args : json_object(), JSON_COMPACT);
          if (!args && txt) {
            free(txt);
            txt = strdup("{}");
          }
          json_array_append_new(tc,
                                json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", llm__jstr(c, "id", ""), "type", "function",
                                          "function", "name", llm__jstr(c, "name", ""), "arguments", txt ? txt : "{}"));
          free(txt);
        }
        json_object_set_new(o, "tool_calls", tc);
      }
      json_array_append_new(msgs, o);
    } else if (!strcmp(role, "tool")) {
      json_t *o = json_pack("{s:s,s:s,s:s}", "role", "tool", "tool_call_id", llm__jstr(m, "tool_call_id", ""),
                            "content", content ? content : "");
      json_array_append_new(msgs, o);
    } else if (!strcmp(role, "system")) {
      json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", content ? content : ""));
    } else {
      snprintf(err, errlen, "openai: unknown message role \"%s\"", role);
      json_decref(msgs);
      json_decref(body);
      return NULL;
    }
  }
  json_object_set_new(body, "messages", msgs);
  json_t *tools = json_object_get(neutral, "tools");
  if (json_array_size(tools)) {
    json_t *arr = json_array(), *t;
    json_array_foreach(tools, i, t) {
      json_t *fn = json_object();
      json_object_set_new(fn, "name", json_string(llm__jstr(t, "name", "")));
      json_object_set_new(fn, "description", json_string(llm__jstr(t, "description", "")));
      json_t *p = json_object_get(t, "parameters");
      json_object_set_new(fn, "parameters", p ? json_incref(p) : json_pack("{s:s}", "type", "object"));
      json_array_append_new(arr, json_pack("{s:s,s:o}", "type", "function", "function", fn));
    }
    json_object_set_new(body, "tools", arr);
    json_object_set_new(body, "parallel_tool_calls", json_true());
  }
  json_t *temp = json_object_get(opts, "temperature");
  if (json_is_number(temp) && json_number_value(temp) >= 0)
    json_object_set_new(body, "temperature", json_real(json_number_value(temp)));
  json_int_t mt = json_integer_value(json_object_get(opts, "max_tokens"));
  if (mt > 0) json_object_set_new(body, "max_tokens", json_integer(mt));
  if (json_is_true(json_object_get(opts, "stream"))) {
    json_object_set_new(body, "stream", json_true());
    json_object_set_new(body, "stream_options", json_pack("{s:b}", "include_usage", 1));
  }
  const char *tc = llm__jstr(neutral, "tool_choice", NULL);
  if (tc && json_array_size(tools)) json_object_set_new(body, "tool_choice", json_string(tc));
  json_t *js = json_object_get(neutral, "json");
  if (js && !strcmp(llm__jstr(js, "mode", ""), "schema")) {
    json_t *schema = strict_schema(json_object_get(js, "schema"), 0);
    json_object_set_new(body, "response_format",
                        json_pack("{s:s,s:{s:s,s:o,s:b}}", "type", "json_schema", "json_schema", "name",
                                  llm__jstr(js, "name", "answer"), "schema",
                                  schema ? schema : json_pack("{s:s}", "type", "object"), "strict", 1));
  } else if (js) {
    json_object_set_new(body, "response_format", json_pack("{s:s}", "type", "json_object"));
  }
  return body;
}

/* content: string, null, or an array of {type:"text", text} parts */
static int add_content(strbuf_t *b, json_t *content) {
  if (json_is_string(content)) return llm__buf_add(b, json_string_value(content), json_string_length(content));
  if (json_is_array(content)) {
    size_t i;
    json_t *p;
    json_array_foreach(content, i, p) {
      json_t *t = json_object_get(p, "text");
      if (json_is_string(t) && llm__buf_add(b, json_string_value(t), json_string_length(t))) return LLM_ENOMEM;
    }
  }
  return 0;
}

static int add_call(struct llm_result *res, json_t *c) {
  json_t *fn = json_object_get(c, "function");
  json_t *a = json_object_get(fn, "arguments");
  json_t *args = NULL;
  char *raw = NULL;
  if (json_is_string(a)) {
    args = llm__parse_args(json_string_value(a), json_string_length(a));
    raw = strdup(json_string_value(a));
  } else if (json_is_object(a)) {
    args = json_incref(a);
  } else {
    args = json_object();
  }
  int rc = llm__result_add_call(res, llm__jstr(c, "id", NULL), llm__jstr(fn, "name", ""), args, raw);
  free(raw);
  return rc;
}

static int error_obj(json_t *root, char *err, size_t errlen) {
  json_t *e = json_object_get(root, "error");
  if (!e) return 0;
  const char *m = json_is_string(e) ? json_string_value(e) : llm__jstr(e, "message", "unknown error");
  const char *type = json_is_object(e) ? llm__jstr(e, "type", NULL) : NULL;
  if (type)
    snprintf(err, errlen, "provider error (%s): %s", type, m);
  else
    snprintf(err, errlen, "provider error: %s", m);
  return 1;
}

static int decode(const char *body, size_t len, struct llm_result **out, char *err, size_t errlen) {
  int lrc;
  *out = NULL;
  json_t *root = llm__load_object(body, len, "openai: response is not a JSON object", error_obj, &lrc, err, errlen);
  if (!root) return lrc;
  json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
  json_t *msg = json_object_get(choice, "message");
  if (!json_is_object(msg)) {
    snprintf(err, errlen, "openai: response has no choices[0].message");
    json_decref(root);
    return LLM_EPROTO;
  }
  struct llm_result *res = llm__result_new();
  strbuf_t text = STRBUF_INIT;
  int rc = res ? add_content(&text, json_object_get(msg, "content")) : LLM_ENOMEM;
  if (!rc) rc = llm__result_set_text(res, text.s ? text.s : "", text.len);
  strbuf_reset(&text);
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(msg, "tool_calls"), i, c) {
    if (!rc) rc = add_call(res, c);
  }
  const char *fr = llm__jstr(choice, "finish_reason", "");
  if (!rc) rc = llm__result_set_finish(res, map_finish(fr), fr);
  if (!rc) {
    llm__usage(json_object_get(root, "usage"), "prompt_tokens", "completion_tokens", &res->usage.input_tokens,
               &res->usage.output_tokens);
    llm__set_str(&res->model, llm__jstr(root, "model", ""));
    llm__result_normalize(res);
  }
  json_decref(root);
  if (rc) {
    llm_result_free(res);
    snprintf(err, errlen, "openai: out of memory");
    return rc;
  }
  *out = res;
  return LLM_OK;
}

/* ---------- streaming ---------- */

static struct llm_part *slot_for(struct llm_stream *s, json_t *tc) {
  json_t *ji = json_object_get(tc, "index");
  const char *id = llm__jstr(tc, "id", NULL);
  size_t idx;
  if (json_is_integer(ji) && json_integer_value(ji) >= 0 && json_integer_value(ji) < 1024) {
    idx = (size_t)json_integer_value(ji);
  } else if (id) { /* no index: a new id starts a new call */
    idx = s->nparts;
    for (size_t i = 0; i < s->nparts; i++)
      if (s->parts[i].id && !strcmp(s->parts[i].id, id)) idx = i;
  } else {
    idx = s->nparts ? s->nparts - 1 : 0;
  }
  return llm__stream_part(s, idx);
}

static int stream_event(void *p, const char *event, const char *data, size_t len, llm_text_fn emit, void *ctx,
                        char *err, size_t errlen) {
  struct llm_stream *s = p;
  (void)event;
  if (len == 6 && !memcmp(data, "[DONE]", 6)) {
    s->done = 1;
    return 1;
  }
  int lrc;
  json_t *root = llm__load_object(data, len, "openai: bad stream chunk", error_obj, &lrc, err, errlen);
  if (!root) return lrc;
  if (!s->model) llm__set_str(&s->model, llm__jstr(root, "model", NULL));
  llm__usage(json_object_get(root, "usage"), "prompt_tokens", "completion_tokens", &s->in_tok, &s->out_tok);
  int rc = 0;
  size_t i;
  json_t *ch;
  json_array_foreach(json_object_get(root, "choices"), i, ch) {
    json_t *d = json_object_get(ch, "delta");
    json_t *content = json_object_get(d, "content");
    if (json_is_string(content) && json_string_length(content)) {
      if (llm__buf_add(&s->text, json_string_value(content), json_string_length(content)))
        rc = LLM_ENOMEM;
      else if (emit)
        emit(ctx, json_string_value(content), json_string_length(content));
    }
    size_t j;
    json_t *tc;
    json_array_foreach(json_object_get(d, "tool_calls"), j, tc) {
      struct llm_part *sl = slot_for(s, tc);
      if (!sl) {
        rc = LLM_ENOMEM;
        break;
      }
      const char *id = llm__jstr(tc, "id", NULL);
      if (id && *id && !sl->id) sl->id = strdup(id);
      json_t *fn = json_object_get(tc, "function");
      const char *name = llm__jstr(fn, "name", NULL);
      if (name && *name && !sl->name) sl->name = strdup(name);
      json_t *a = json_object_get(fn, "arguments");
      if (json_is_string(a)) {
        if (llm__buf_add(&sl->buf, json_string_value(a), json_string_length(a))) rc = LLM_ENOMEM;
      } else if (json_is_object(a)) {
        json_decref(sl->obj);
        sl->obj = json_incref(a);
      }
    }
    llm__set_str(&s->finish, llm__jstr(ch, "finish_reason", NULL));
  }
  json_decref(root);
  if (rc) snprintf(err, errlen, "openai: out of memory");
  return rc;
}

static int stream_finish(void *p, struct llm_result **out, char *err, size_t errlen) {
  struct llm_stream *s = llm__stream_ended(p, "openai", "[DONE]", out, err, errlen);
  if (!s) return LLM_EPROTO;
  struct llm_result *res = llm__result_new();
  int rc = res ? llm__result_set_text(res, s->text.s ? s->text.s : "", s->text.len) : LLM_ENOMEM;
  for (size_t i = 0; !rc && i < s->nparts; i++) {
    struct llm_part *sl = &s->parts[i];
    if (!sl->name && !sl->buf.len && !sl->obj) continue; /* gap in indices */
    json_t *args =
        sl->obj && !sl->buf.len ? json_incref(sl->obj) : llm__parse_args(sl->buf.s ? sl->buf.s : "", sl->buf.len);
    rc = llm__result_add_call(res, sl->id, sl->name ? sl->name : "", args, sl->buf.len ? sl->buf.s : NULL);
  }
  if (!rc) rc = llm__result_set_finish(res, map_finish(s->finish), s->finish ? s->finish : "");
  return llm__stream_result(res, rc, "openai", s, out, err, errlen);
}

const struct llm_provider_ops *llm__openai_ops(void) {
  static const struct llm_provider_ops ops = {
      .name = "openai",
      .path = "/v1/chat/completions",
      .auth_fmt = "Authorization: Bearer %s",
      .extra_header = NULL,
      .encode = encode,
      .decode = decode,
      .stream_new = llm__stream_new,
      .stream_event = stream_event,
      .stream_finish = stream_finish,
      .stream_free = llm__stream_free,
  };
  return &ops;
}
