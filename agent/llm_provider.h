/* llm_provider.h — private to agent/llm*.c (and the codec tests): the provider vtable, the
 * neutral request form and shared helpers. Not a public API.
 *
 * Neutral request JSON (llm_request_json):
 *   {"system": "..."|null,
 *    "messages": [{"role":"user","content":"..."},
 *                 {"role":"assistant","content":"...","tool_calls":[{"id","name","arguments":{...}}]},
 *                 {"role":"tool","tool_call_id":"...","name":"...","content":"...","is_error":false}],
 *    "tools": [{"name","description","parameters":{...}}],
 *    "options": {"model":"..."|null, "temperature":0.2 (absent: default), "max_tokens":N, "stream":bool}}
 */
#ifndef DAWBRIDGE_LLM_PROVIDER_H
#define DAWBRIDGE_LLM_PROVIDER_H

#include "llm.h"
#include "strbuf.h"

/* Appends to a util strbuf (b->s NUL-terminated when non-NULL): 0, or LLM_ENOMEM once an allocation failed. */
int llm__buf_add(strbuf_t *b, const char *s, size_t n);

/* Emits one streamed text piece. */
typedef void (*llm_text_fn)(void *ctx, const char *text, size_t len);

struct llm_provider_ops {
  const char *name;
  const char *path;         /* appended to a base URL, e.g. "/v1/chat/completions" */
  const char *auth_fmt;     /* header carrying the key, "%s" = key; used only when a key is set */
  const char *extra_header; /* constant header or NULL */
  int json_via_tool;        /* the JSON mode is a forced tool whose input is the answer (llm.c turns it into text) */
  /* neutral request → wire body. model: the effective model. New reference, NULL + err. */
  json_t *(*encode)(json_t *neutral, const char *model, char *err, size_t errlen);
  /* wire response body → *res (new). LLM_OK or LLM_EPROTO/LLM_EPROVIDER + err. */
  int (*decode)(const char *body, size_t len, struct llm_result **res, char *err, size_t errlen);
  /* streaming: one state per response */
  void *(*stream_new)(void);
  /* one SSE event; returns 0 = go on, 1 = end of stream seen, < 0 = error (err filled) */
  int (*stream_event)(void *st, const char *event, const char *data, size_t len, llm_text_fn emit, void *ctx, char *err,
                      size_t errlen);
  /* after the end: assemble the result (new). */
  int (*stream_finish)(void *st, struct llm_result **res, char *err, size_t errlen);
  void (*stream_free)(void *st);
};

const struct llm_provider_ops *llm__openai_ops(void);
const struct llm_provider_ops *llm__anthropic_ops(void);

/* ---- result helpers (llm.c) ---- */
struct llm_result *llm__result_new(void);
/* args: steals (may be NULL); raw may be NULL (then dumped from args). */
int llm__result_add_call(struct llm_result *res, const char *id, const char *name, json_t *args, const char *raw);
int llm__result_set_text(struct llm_result *res, const char *text, size_t len);
int llm__result_set_finish(struct llm_result *res, enum llm_finish f, const char *raw);
/* "" / whitespace / "null" → {}; an object → itself; anything else → NULL (invalid). New ref. */
json_t *llm__parse_args(const char *raw, size_t len);
/* any tool call makes the finish TOOL (unless LENGTH): non-empty tool_calls are authoritative */
void llm__result_normalize(struct llm_result *res);
/* ---- streaming state, shared by the providers (llm.c) ---- */
/* One part of a streamed answer: an OpenAI tool-call slot (buf: the argument text, obj: arguments that arrived as
 * an object) or an Anthropic content block (buf: its text or partial_json, obj: the parsed tool input). */
struct llm_part {
  char *id, *name;
  strbuf_t buf;
  json_t *obj;
  int is_tool, active; /* Anthropic: a tool_use block; a block that belongs to the result */
};
struct llm_stream {
  strbuf_t text;          /* OpenAI: the text deltas */
  struct llm_part *parts; /* by the index the provider gives */
  size_t nparts;
  char *finish; /* finish_reason / stop_reason as sent, NULL if none */
  char *model;
  long in_tok, out_tok; /* -1 = not reported */
  int done;             /* the end marker was seen */
};
#define LLM_STREAM_MAX_PARTS 4096
void *llm__stream_new(void); /* a struct llm_stream with the token counts unknown */
void llm__stream_free(void *st);
/* The part at idx, the array grown (new parts zeroed) as needed; NULL beyond LLM_STREAM_MAX_PARTS or out of memory. */
struct llm_part *llm__stream_part(struct llm_stream *s, size_t idx);
/* *dst = a copy of v (the old value freed); v NULL leaves it. */
void llm__set_str(char **dst, const char *v);
/* The integer u[in_key] / u[out_key] into *in / *out when present. */
void llm__usage(json_t *u, const char *in_key, const char *out_key, long *in, long *out);
/* The start of a provider's stream_finish: *out = NULL; st as the stream, or NULL (err "<provider>: stream ended
 * before <end>") when the provider's end marker was not seen. */
struct llm_stream *llm__stream_ended(void *st, const char *provider, const char *end, struct llm_result **out,
                                     char *err, size_t errlen);
/* The end of a streamed response, shared by the providers: rc (0 or an error from assembling res) decides —
 * on error res is freed and err says "<provider>: out of memory"; else s's usage and model are recorded, the
 * result normalized and handed to *out. Returns LLM_OK or rc. */
int llm__stream_result(struct llm_result *res, int rc, const char *provider, const struct llm_stream *s,
                       struct llm_result **out, char *err, size_t errlen);
/* A copy of a neutral request that later appends to the request do not change: the object and its "messages" and
 * "tools" arrays are new, their elements shared (messages and tools are never changed once added). O(messages), not
 * O(bytes). New reference or NULL. */
json_t *llm__neutral_snapshot(json_t *neutral);
/* ids for calls that have none: "call_<seq>_<i>" */
int llm__result_fill_ids(struct llm_result *res, unsigned long seq);
/* The provider's error message out of an error body ({"error":{"message"}}, {"error":"..."},
 * or text); writes "" if nothing useful. */
void llm__error_message(const char *body, size_t len, char *out, size_t outlen);
/* A response body or stream event as a JSON object (new reference). NULL: *rc is LLM_EPROTO and err says
 * "<what> (<why> at byte N)", or LLM_EPROVIDER when error_obj (the provider's error reader: 1 and err filled when
 * the object is an error report; NULL = none) found one. */
json_t *llm__load_object(const char *body, size_t len, const char *what, int (*error_obj)(json_t *, char *, size_t),
                         int *rc, char *err, size_t errlen);
/* the string value of o[key] or def */
const char *llm__jstr(json_t *o, const char *key, const char *def);

/* ---- script provider (llm_script.c) ---- */
struct llm_script;
/* transcript: borrowed (a reference is taken) or NULL to read path. */
struct llm_script *llm__script_new(json_t *transcript, const char *path, char *err, size_t errlen);
void llm__script_free(struct llm_script *s);
/* Record neutral (borrowed; llm__neutral_snapshot) and produce the next response (new) or an error. */
int llm__script_next(struct llm_script *s, json_t *neutral, struct llm_result **res, char *err, size_t errlen);
json_t *llm__script_requests(struct llm_script *s);
struct llm_script *llm__get_script(llm_t *llm);

#endif
