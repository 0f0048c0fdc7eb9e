/* llm.c — provider-neutral chat client: requests, results, configuration, retries.
 * Wire formats live in llm_openai.c / llm_anthropic.c, the transcript replay in llm_script.c,
 * and the transport in http.c. */
#include "llm.h"

#include "http.h"
#include "llm_provider.h"
#include "sse.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---------- names ---------- */

const char *llm_strerror(int err) {
  switch (err) {
  case LLM_OK: return "ok";
  case LLM_ENOMEM: return "out of memory";
  case LLM_EINVAL: return "invalid request";
  case LLM_ECONFIG: return "LLM not configured";
  case LLM_ECONNECT: return "could not reach the LLM server";
  case LLM_ETIMEDOUT: return "LLM request timed out";
  case LLM_EHTTP: return "LLM request rejected";
  case LLM_EAUTH: return "LLM authentication failed";
  case LLM_ERATELIMIT: return "LLM rate limit";
  case LLM_ESERVER: return "LLM server error";
  case LLM_EPROTO: return "malformed LLM response";
  case LLM_EPROVIDER: return "LLM provider reported an error";
  case LLM_ECANCELED: return "cancelled";
  case LLM_ESCRIPT: return "LLM transcript mismatch";
  case LLM_ETOOBIG: return "LLM response too large";
  default: return "unknown llm error";
  }
}

const char *llm_provider_name(enum llm_provider p) {
  switch (p) {
  case LLM_PROVIDER_OPENAI: return "openai";
  case LLM_PROVIDER_ANTHROPIC: return "anthropic";
  case LLM_PROVIDER_SCRIPT: return "script";
  default: return "none";
  }
}

const char *llm_finish_name(enum llm_finish f) {
  switch (f) {
  case LLM_STOP_END: return "stop";
  case LLM_STOP_TOOL: return "tool_calls";
  case LLM_STOP_LENGTH: return "length";
  default: return "other";
  }
}

const char *llm_json_mode_name(enum llm_json_mode m) {
  switch (m) {
  case LLM_JSON_OFF: return "off";
  case LLM_JSON_OBJECT: return "object";
  case LLM_JSON_SCHEMA: return "schema";
  default: return "auto";
  }
}

int llm_json_mode_parse(const char *s) {
  static const char *const names[] = {"auto", "off", "object", "schema"};
  for (int i = 0; s && i < 4; i++)
    if (!strcasecmp(s, names[i])) return i;
  return -1;
}

enum llm_json_mode llm_json_mode_effective(const struct llm_config *cfg, int small_profile) {
  if (cfg->json_mode != LLM_JSON_AUTO) return cfg->json_mode;
  int wire = cfg->provider == LLM_PROVIDER_OPENAI || cfg->provider == LLM_PROVIDER_ANTHROPIC;
  return small_profile && wire ? LLM_JSON_SCHEMA : LLM_JSON_OFF;
}

/* ---------- shared helpers (llm_provider.h) ---------- */

int llm__buf_add(strbuf_t *b, const char *s, size_t n) {
  strbuf_append(b, s, n);
  return b->oom ? LLM_ENOMEM : 0;
}

const char *llm__jstr(json_t *o, const char *key, const char *def) {
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : def;
}

struct llm_result *llm__result_new(void) {
  struct llm_result *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->text = strdup("");
  r->finish_raw = strdup("");
  r->model = strdup("");
  r->usage.input_tokens = r->usage.output_tokens = -1;
  if (!r->text || !r->finish_raw || !r->model) {
    llm_result_free(r);
    return NULL;
  }
  return r;
}

void llm_result_free(struct llm_result *r) {
  if (!r) return;
  for (size_t i = 0; i < r->ncalls; i++) {
    free(r->calls[i].id);
    free(r->calls[i].name);
    free(r->calls[i].raw_args);
    json_decref(r->calls[i].args);
  }
  free(r->calls);
  free(r->text);
  free(r->finish_raw);
  free(r->model);
  free(r);
}

int llm__result_add_call(struct llm_result *r, const char *id, const char *name, json_t *args, const char *raw) {
  struct llm_tool_call *n = realloc(r->calls, (r->ncalls + 1) * sizeof *n);
  if (!n) {
    json_decref(args);
    return LLM_ENOMEM;
  }
  r->calls = n;
  struct llm_tool_call *c = &n[r->ncalls];
  memset(c, 0, sizeof *c);
  c->id = id && *id ? strdup(id) : NULL;
  c->name = strdup(name ? name : "");
  c->args = args;
  c->raw_args = raw ? strdup(raw) : (args ? json_dumps(args, JSON_COMPACT) : strdup(""));
  r->ncalls++;
  if ((id && *id && !c->id) || !c->name || !c->raw_args) return LLM_ENOMEM;
  return 0;
}

int llm__result_set_text(struct llm_result *r, const char *text, size_t len) {
  char *t = malloc(len + 1);
  if (!t) return LLM_ENOMEM;
  memcpy(t, text, len);
  t[len] = '\0';
  free(r->text);
  r->text = t;
  return 0;
}

int llm__result_set_finish(struct llm_result *r, enum llm_finish f, const char *raw) {
  char *s = strdup(raw ? raw : "");
  if (!s) return LLM_ENOMEM;
  free(r->finish_raw);
  r->finish_raw = s;
  r->finish = f;
  return 0;
}

void llm__result_normalize(struct llm_result *r) {
  if (r->ncalls && r->finish != LLM_STOP_LENGTH) r->finish = LLM_STOP_TOOL;
}

void *llm__stream_new(void) {
  struct llm_stream *s = calloc(1, sizeof *s);
  if (s) s->in_tok = s->out_tok = -1;
  return s;
}

void llm__stream_free(void *p) {
  struct llm_stream *s = p;
  if (!s) return;
  for (size_t i = 0; i < s->nparts; i++) {
    free(s->parts[i].id);
    free(s->parts[i].name);
    strbuf_reset(&s->parts[i].buf);
    json_decref(s->parts[i].obj);
  }
  free(s->parts);
  strbuf_reset(&s->text);
  free(s->finish);
  free(s->model);
  free(s);
}

struct llm_part *llm__stream_part(struct llm_stream *s, size_t idx) {
  if (idx >= LLM_STREAM_MAX_PARTS) return NULL;
  if (idx >= s->nparts) {
    struct llm_part *n = realloc(s->parts, (idx + 1) * sizeof *n);
    if (!n) return NULL;
    memset(n + s->nparts, 0, (idx + 1 - s->nparts) * sizeof *n);
    s->parts = n;
    s->nparts = idx + 1;
  }
  return &s->parts[idx];
}

void llm__set_str(char **dst, const char *v) {
  if (!v) return;
  free(*dst);
  *dst = strdup(v);
}

void llm__usage(json_t *u, const char *in_key, const char *out_key, long *in, long *out) {
  json_t *a = json_object_get(u, in_key), *b = json_object_get(u, out_key);
  if (json_is_integer(a)) *in = (long)json_integer_value(a);
  if (json_is_integer(b)) *out = (long)json_integer_value(b);
}

struct llm_stream *llm__stream_ended(void *st, const char *provider, const char *end, struct llm_result **out,
                                     char *err, size_t errlen) {
  struct llm_stream *s = st;
  *out = NULL;
  if (s->done) return s;
  snprintf(err, errlen, "%s: stream ended before %s", provider, end);
  return NULL;
}

int llm__stream_result(struct llm_result *res, int rc, const char *provider, const struct llm_stream *s,
                       struct llm_result **out, char *err, size_t errlen) {
  if (rc) {
    llm_result_free(res);
    snprintf(err, errlen, "%s: out of memory", provider);
    return rc;
  }
  res->usage.input_tokens = s->in_tok;
  res->usage.output_tokens = s->out_tok;
  if (s->model) llm__set_str(&res->model, s->model);
  llm__result_normalize(res);
  *out = res;
  return LLM_OK;
}

int llm__result_fill_ids(struct llm_result *r, unsigned long seq) {
  for (size_t i = 0; i < r->ncalls; i++) {
    if (r->calls[i].id) continue;
    char id[64];
    snprintf(id, sizeof id, "call_%lu_%zu", seq, i);
    r->calls[i].id = strdup(id);
    if (!r->calls[i].id) return LLM_ENOMEM;
  }
  return 0;
}

json_t *llm__parse_args(const char *raw, size_t len) {
  size_t i = 0;
  while (i < len && isspace((unsigned char)raw[i])) i++;
  if (i == len) return json_object();
  json_t *v = json_loadb(raw, len, JSON_DECODE_ANY, NULL);
  if (json_is_null(v)) {
    json_decref(v);
    return json_object();
  }
  if (!json_is_object(v)) {
    json_decref(v);
    return NULL;
  }
  return v;
}

json_t *llm__load_object(const char *body, size_t len, const char *what, int (*error_obj)(json_t *, char *, size_t),
                         int *rc, char *err, size_t errlen) {
  json_error_t je;
  json_t *root = json_loadb(body, len, 0, &je);
  if (!json_is_object(root)) {
    snprintf(err, errlen, "%s (%s at byte %d)", what, root ? "not an object" : je.text, root ? 0 : je.position);
    json_decref(root);
    *rc = LLM_EPROTO;
    return NULL;
  }
  if (error_obj && error_obj(root, err, errlen)) {
    json_decref(root);
    *rc = LLM_EPROVIDER;
    return NULL;
  }
  return root;
}

void llm__error_message(const char *body, size_t len, char *out, size_t outlen) {
  out[0] = '\0';
  if (!body || !len) return;
  json_t *root = json_loadb(body, len, 0, NULL);
  if (root) {
    json_t *e = json_object_get(root, "error");
    const char *m = json_is_string(e) ? json_string_value(e) : llm__jstr(e, "message", NULL);
    if (!m) m = llm__jstr(root, "message", NULL);
    if (!m) m = llm__jstr(root, "detail", NULL);
    if (m) snprintf(out, outlen, "%s", m);
    json_decref(root);
    if (m) return;
  }
  /* plain text: first 200 printable bytes */
  size_t n = 0;
  for (size_t i = 0; i < len && n + 1 < outlen && n < 200; i++)
    out[n++] = (body[i] == '\n' || body[i] == '\r' || body[i] == '\t') ? ' ' : body[i];
  out[n] = '\0';
}

struct llm_result *llm_result_dup(const struct llm_result *s) {
  struct llm_result *r = llm__result_new();
  if (!r) return NULL;
  int rc = llm__result_set_text(r, s->text, strlen(s->text));
  if (!rc) rc = llm__result_set_finish(r, s->finish, s->finish_raw);
  for (size_t i = 0; !rc && i < s->ncalls; i++) {
    const struct llm_tool_call *c = &s->calls[i];
    rc = llm__result_add_call(r, c->id, c->name, c->args ? json_deep_copy(c->args) : NULL, c->raw_args);
  }
  r->usage = s->usage;
  free(r->model);
  r->model = strdup(s->model ? s->model : "");
  if (rc || !r->model) {
    llm_result_free(r);
    return NULL;
  }
  return r;
}

json_t *llm_result_json(const struct llm_result *r) {
  json_t *calls = json_array();
  for (size_t i = 0; i < r->ncalls; i++) {
    const struct llm_tool_call *c = &r->calls[i];
    json_array_append_new(calls, json_pack("{s:s?,s:s,s:O?,s:s*}", "id", c->id, "name", c->name, "arguments", c->args,
                                           "raw_arguments", c->args ? NULL : c->raw_args));
  }
  return json_pack("{s:s,s:o,s:s,s:{s:I,s:I}}", "text", r->text, "tool_calls", calls, "finish",
                   llm_finish_name(r->finish), "usage", "input_tokens", (json_int_t)r->usage.input_tokens,
                   "output_tokens", (json_int_t)r->usage.output_tokens);
}

/* ---------- requests ---------- */

struct llm_request {
  json_t *j; /* neutral form */
  /* llm_request_count_tokens() cache: the messages are append-only, so only new ones are counted */
  size_t (*cnt_fn)(const char *);
  size_t cnt_msgs, cnt_tools;
  long cnt_msg_tokens, cnt_tool_tokens, cnt_system;
};

llm_request_t *llm_request_new(void) {
  llm_request_t *q = calloc(1, sizeof *q);
  if (!q) return NULL;
  q->j = json_pack("{s:n,s:[],s:[],s:{s:n,s:i,s:b}}", "system", "messages", "tools", "options", "model", "max_tokens",
                   0, "stream", 0);
  q->cnt_system = -1;
  if (!q->j) {
    free(q);
    return NULL;
  }
  return q;
}

void llm_request_free(llm_request_t *q) {
  if (!q) return;
  json_decref(q->j);
  free(q);
}

json_t *llm_request_json(const llm_request_t *q) { return q->j; }

int llm_request_set_system(llm_request_t *q, const char *text) {
  if (!text) return LLM_EINVAL;
  q->cnt_system = -1;
  return json_object_set_new(q->j, "system", json_string(text)) ? LLM_EINVAL : LLM_OK;
}

static int add_msg(llm_request_t *q, json_t *m) {
  if (!m) return LLM_EINVAL;
  return json_array_append_new(json_object_get(q->j, "messages"), m) ? LLM_ENOMEM : LLM_OK;
}

int llm_request_add_user(llm_request_t *q, const char *text) {
  return add_msg(q, json_pack("{s:s,s:s}", "role", "user", "content", text ? text : ""));
}

int llm_request_add_assistant(llm_request_t *q, const char *text, const struct llm_tool_call *calls, size_t n) {
  json_t *m = json_pack("{s:s,s:s}", "role", "assistant", "content", text ? text : "");
  if (!m) return LLM_EINVAL;
  if (n) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
      json_t *args = calls[i].args       ? json_deep_copy(calls[i].args)
                     : calls[i].raw_args ? json_string(calls[i].raw_args)
                                         : json_object();
      json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "id", calls[i].id ? calls[i].id : "", "name",
                                           calls[i].name ? calls[i].name : "", "arguments", args));
    }
    json_object_set_new(m, "tool_calls", arr);
  }
  return add_msg(q, m);
}

int llm_request_add_result(llm_request_t *q, const struct llm_result *r) {
  return llm_request_add_assistant(q, r->text, r->calls, r->ncalls);
}

int llm_request_add_tool_result(llm_request_t *q, const char *call_id, const char *name, const char *content,
                                int is_error) {
  if (!call_id) return LLM_EINVAL;
  return add_msg(q, json_pack("{s:s,s:s,s:s,s:s,s:b}", "role", "tool", "tool_call_id", call_id, "name",
                              name ? name : "", "content", content ? content : "", "is_error", is_error));
}

int llm_request_add_tool(llm_request_t *q, const char *name, const char *description, json_t *schema) {
  if (!name || (schema && !json_is_object(schema))) return LLM_EINVAL;
  json_t *params = schema ? json_incref(schema) : json_pack("{s:s}", "type", "object");
  json_t *t =
      json_pack("{s:s,s:s,s:o}", "name", name, "description", description ? description : "", "parameters", params);
  if (!t) return LLM_EINVAL;
  return json_array_append_new(json_object_get(q->j, "tools"), t) ? LLM_ENOMEM : LLM_OK;
}

void llm_request_set_options(llm_request_t *q, const struct llm_options *o) {
  json_t *opts = json_object();
  json_object_set_new(opts, "model", o->model ? json_string(o->model) : json_null());
  if (o->temperature >= 0) json_object_set_new(opts, "temperature", json_real(o->temperature));
  json_object_set_new(opts, "max_tokens", json_integer(o->max_tokens > 0 ? o->max_tokens : 0));
  json_object_set_new(opts, "stream", json_boolean(o->stream));
  json_object_set_new(q->j, "options", opts);
}

int llm_request_set_json(llm_request_t *q, enum llm_json_mode mode, const char *name, json_t *schema) {
  if (mode != LLM_JSON_OBJECT && mode != LLM_JSON_SCHEMA) {
    json_object_del(q->j, "json");
    return LLM_OK;
  }
  size_t n = name ? strlen(name) : 0;
  if (!n || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
    return LLM_EINVAL;
  if ((schema && !json_is_object(schema)) || (mode == LLM_JSON_SCHEMA && !schema)) return LLM_EINVAL;
  json_t *j = json_pack("{s:s,s:s}", "mode", llm_json_mode_name(mode), "name", name);
  if (!j) return LLM_ENOMEM;
  if (schema) json_object_set(j, "schema", schema);
  return json_object_set_new(q->j, "json", j) ? LLM_ENOMEM : LLM_OK;
}

int llm_request_set_tool_choice(llm_request_t *q, const char *choice) {
  if (!choice) {
    json_object_del(q->j, "tool_choice");
    return LLM_OK;
  }
  if (strcmp(choice, "auto") && strcmp(choice, "required") && strcmp(choice, "none")) return LLM_EINVAL;
  return json_object_set_new(q->j, "tool_choice", json_string(choice)) ? LLM_ENOMEM : LLM_OK;
}

static long count_json(json_t *j, size_t (*count)(const char *)) {
  char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  long n = t ? (long)count(t) : 0;
  free(t);
  return n;
}

long llm_request_count_tokens(llm_request_t *q, size_t (*count)(const char *)) {
  json_t *msgs = json_object_get(q->j, "messages"), *tools = json_object_get(q->j, "tools");
  if (q->cnt_fn != count || json_array_size(msgs) < q->cnt_msgs) { /* another counter, or rebuilt: start over */
    q->cnt_fn = count;
    q->cnt_msgs = q->cnt_tools = 0;
    q->cnt_msg_tokens = q->cnt_tool_tokens = 0;
    q->cnt_system = -1;
  }
  for (; q->cnt_msgs < json_array_size(msgs); q->cnt_msgs++)
    q->cnt_msg_tokens += count_json(json_array_get(msgs, q->cnt_msgs), count);
  if (q->cnt_tools != json_array_size(tools)) {
    q->cnt_tools = json_array_size(tools);
    q->cnt_tool_tokens = q->cnt_tools ? count_json(tools, count) : 0;
  }
  if (q->cnt_system < 0) {
    const char *sys = llm__jstr(q->j, "system", NULL);
    q->cnt_system = sys ? (long)count(sys) : 0;
  }
  return q->cnt_system + q->cnt_msg_tokens + q->cnt_tool_tokens;
}

json_t *llm__neutral_snapshot(json_t *neutral) {
  json_t *s = json_copy(neutral);
  if (!s) return NULL;
  static const char *const arrays[] = {"messages", "tools"};
  for (size_t k = 0; k < 2; k++) {
    json_t *a = json_object_get(neutral, arrays[k]);
    if (!json_is_array(a)) continue;
    json_t *c = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) json_array_append(c, v);
    json_object_set_new(s, arrays[k], c);
  }
  return s;
}

llm_request_t *llm_request_from_json(json_t *neutral, char *err, size_t errlen) {
  if (!json_is_object(neutral) || !json_is_array(json_object_get(neutral, "messages"))) {
    snprintf(err, errlen, "llm: request JSON needs an object with a \"messages\" array");
    return NULL;
  }
  llm_request_t *q = llm_request_new();
  if (!q) return NULL;
  json_object_update(q->j, neutral);
  json_t *copy = json_deep_copy(q->j);
  json_decref(q->j);
  q->j = copy;
  if (!json_is_object(json_object_get(q->j, "options")))
    json_object_set_new(q->j, "options", json_pack("{s:n,s:i,s:b}", "model", "max_tokens", 0, "stream", 0));
  if (!json_is_array(json_object_get(q->j, "tools"))) json_object_set_new(q->j, "tools", json_array());
  return q;
}

/* ---------- configuration ---------- */

void llm_config_defaults(struct llm_config *c) {
  memset(c, 0, sizeof *c);
  c->provider = LLM_PROVIDER_NONE;
  c->max_attempts = 4;
  c->base_delay_ms = 500;
  c->max_delay_ms = 30000;
  c->connect_timeout_ms = 10000;
  c->total_timeout_ms = 300000;
  c->stream_idle_s = 120;
  c->max_body = (size_t)16 << 20;
  c->log_level = LLM_LOG_INFO;
}

static int parse_provider(const char *s, enum llm_provider *p) {
  static const struct {
    const char *name;
    enum llm_provider p;
  } names[] = {
      {"openai", LLM_PROVIDER_OPENAI},    {"openai-compatible", LLM_PROVIDER_OPENAI},
      {"ollama", LLM_PROVIDER_OPENAI},    {"llama.cpp", LLM_PROVIDER_OPENAI},
      {"llamacpp", LLM_PROVIDER_OPENAI},  {"vllm", LLM_PROVIDER_OPENAI},
      {"lmstudio", LLM_PROVIDER_OPENAI},  {"anthropic", LLM_PROVIDER_ANTHROPIC},
      {"claude", LLM_PROVIDER_ANTHROPIC}, {"script", LLM_PROVIDER_SCRIPT},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcasecmp(s, names[i].name)) {
      *p = names[i].p;
      return 0;
    }
  return -1;
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

/* named in the how-to; the app reads the file (app/config.c) and passes its values as flags */
static const char config_file[] = "$XDG_CONFIG_HOME/dawbridge/config.json";

static int copy_field(char *dst, size_t n, const char *src, const char *what, char *err, size_t errlen) {
  if (strlen(src) >= n) {
    snprintf(err, errlen, "llm: %s is too long (max %zu bytes)", what, n - 1);
    return LLM_ECONFIG;
  }
  snprintf(dst, n, "%s", src);
  return 0;
}

static void howto(char *err, size_t errlen, const char *first, const char *path) {
  snprintf(err, errlen,
           "%.600s Pick one:\n"
           "  OpenAI:     export OPENAI_API_KEY=...            (model: --model or DAWBRIDGE_MODEL)\n"
           "  Anthropic:  export ANTHROPIC_API_KEY=...         (or --llm anthropic)\n"
           "  Ollama:     --llm openai --llm-url http://localhost:11434 --model llama3.1\n"
           "  llama.cpp:  llama-server --jinja -m model.gguf, then --llm openai --llm-url http://localhost:8080\n"
           "  offline:    --llm script --llm-url transcript.json\n"
           "The same settings work as DAWBRIDGE_LLM / DAWBRIDGE_MODEL / DAWBRIDGE_LLM_URL, or in %.300s as\n"
           "  {\"llm\": \"openai\", \"llm_url\": \"http://localhost:11434\", \"model\": \"llama3.1\"}",
           first, path);
}

int llm_config_resolve(struct llm_config *c, const struct llm_flags *f, char *err, size_t errlen) {
  const char *path = config_file;
  struct llm_flags none = {0};
  int rc = LLM_OK;
  if (!f) f = &none;
  const char *llm = nonempty(f->llm), *model = nonempty(f->model), *url = nonempty(f->url);
  if (!llm) llm = nonempty(getenv("DAWBRIDGE_LLM"));
  if (!model) model = nonempty(getenv("DAWBRIDGE_MODEL"));
  if (!url) url = nonempty(getenv("DAWBRIDGE_LLM_URL"));
  const char *jm = nonempty(f->json_mode);
  if (!jm) jm = nonempty(getenv("DAWBRIDGE_JSON_MODE"));
  if (jm) {
    int m = llm_json_mode_parse(jm);
    if (m < 0) {
      snprintf(err, errlen, "llm: json mode \"%.40s\" is not one of auto, schema, object, off (--json-mode)", jm);
      return LLM_ECONFIG;
    }
    c->json_mode = (enum llm_json_mode)m;
  }
  const char *okey = nonempty(getenv("OPENAI_API_KEY")), *akey = nonempty(getenv("ANTHROPIC_API_KEY"));

  enum llm_provider p = LLM_PROVIDER_NONE;
  if (llm) {
    if (parse_provider(llm, &p)) {
      snprintf(err, errlen, "llm: unknown provider \"%.40s\" (use openai, anthropic or script)", llm);
      rc = LLM_ECONFIG;
      goto out;
    }
  } else if (okey) {
    p = LLM_PROVIDER_OPENAI;
  } else if (akey) {
    p = LLM_PROVIDER_ANTHROPIC;
  } else if (url) {
    p = LLM_PROVIDER_OPENAI;
  }
  if (p == LLM_PROVIDER_NONE) {
    howto(err, errlen, "no LLM configured.", path);
    rc = LLM_ECONFIG;
    goto out;
  }
  c->provider = p;
  c->key[0] = '\0';
  c->url[0] = '\0';
  if (url && (rc = copy_field(c->url, sizeof c->url, url, "the LLM URL", err, errlen))) goto out;
  if (model && (rc = copy_field(c->model, sizeof c->model, model, "the model name", err, errlen))) goto out;
  if (p == LLM_PROVIDER_OPENAI) {
    if (okey && (rc = copy_field(c->key, sizeof c->key, okey, "OPENAI_API_KEY", err, errlen))) goto out;
    if (!okey && !url) {
      snprintf(err, errlen,
               "OPENAI_API_KEY is not set: export it for api.openai.com, or point --llm-url / DAWBRIDGE_LLM_URL "
               "at a local server (Ollama http://localhost:11434, llama.cpp http://localhost:8080)");
      rc = LLM_ECONFIG;
      goto out;
    }
    if (!model) snprintf(c->model, sizeof c->model, "%s", "gpt-4o-mini");
  } else if (p == LLM_PROVIDER_ANTHROPIC) {
    if (akey && (rc = copy_field(c->key, sizeof c->key, akey, "ANTHROPIC_API_KEY", err, errlen))) goto out;
    if (!akey && !url) {
      snprintf(err, errlen, "ANTHROPIC_API_KEY is not set: export it to use the Anthropic API");
      rc = LLM_ECONFIG;
      goto out;
    }
    if (!model) snprintf(c->model, sizeof c->model, "%s", "claude-sonnet-4-5");
  } else {
    if (!url && !c->script) {
      snprintf(err, errlen, "the script provider needs a transcript: --llm-url FILE.json or DAWBRIDGE_LLM_URL");
      rc = LLM_ECONFIG;
      goto out;
    }
    if (!model) snprintf(c->model, sizeof c->model, "%s", "script");
  }
out:
  return rc;
}

static int ends_with(const char *s, size_t n, const char *suf) {
  size_t k = strlen(suf);
  return n >= k && !memcmp(s + n - k, suf, k);
}

const char *llm_config_endpoint(const struct llm_config *c, char *out, size_t outlen) {
  int anth = c->provider == LLM_PROVIDER_ANTHROPIC;
  const char *base = c->url[0] ? c->url : anth ? "https://api.anthropic.com" : "https://api.openai.com";
  size_t n = strlen(base);
  while (n && base[n - 1] == '/') n--;
  const char *full = anth ? "/messages" : "/chat/completions";
  if (ends_with(base, n, full))
    snprintf(out, outlen, "%.*s", (int)n, base);
  else if (ends_with(base, n, "/v1"))
    snprintf(out, outlen, "%.*s%s", (int)n, base, full);
  else
    snprintf(out, outlen, "%.*s/v1%s", (int)n, base, full);
  return out;
}

/* ---------- the client ---------- */

struct llm {
  uv_loop_t *loop;
  struct llm_config cfg;
  const struct llm_provider_ops *ops;
  http_t *http;
  struct llm_script *script;
  char endpoint[1100];
  struct llm_call *calls;
  size_t ncalls;
  int closing;
  int open;           /* call timers not yet closed + the http client */
  int no_json;        /* a server rejected the JSON mode's field (HTTP 400): left out from then on */
  int no_tool_choice; /* likewise tool_choice */
  unsigned long seq;  /* request counter: synthesized ids */
  uint64_t rng;
  llm_close_cb close_cb;
  void *close_data;
};

struct llm_call {
  llm_t *llm;
  struct llm_call *next, *prev;
  uv_timer_t timer; /* retry delays and asynchronous delivery; closed on release */
  char *body;
  size_t body_len;
  json_t *neutral; /* snapshot of the request, for encoding it again without a rejected field */
  int sent_json;   /* the body carries the JSON mode's field / tool_choice */
  int sent_tool_choice;
  char json_tool[72]; /* Anthropic: the forced tool whose input is the answer, "" if none */
  int stream;
  int attempt;
  http_req_t *http;
  /* per attempt */
  sse_t *sse;
  void *pstate;
  strbuf_t raw; /* body collected when not parsed as SSE */
  int sse_mode;
  int stream_rc;
  char stream_err[512];
  /* state */
  int delivered;
  int released;
  int in_done;
  llm_delta_cb on_delta;
  llm_done_cb on_done;
  void *data;
  /* pending outcome for asynchronous delivery */
  int pend_status;
  struct llm_result *pend_res;
  char pend_msg[1024];
};

const struct llm_config *llm_get_config(const llm_t *l) { return &l->cfg; }
size_t llm_in_flight(const llm_t *l) { return l->ncalls; }
int llm_call_attempts(const llm_call_t *c) { return c->attempt; }
struct llm_script *llm__get_script(llm_t *l) {
  return l->script;
}

/* Replace every occurrence of the key with "***" (in place). */
static void redact(const llm_t *l, char *s) {
  size_t k = strlen(l->cfg.key);
  if (k < 4) return;
  char *p;
  while ((p = strstr(s, l->cfg.key))) {
    memcpy(p, "***", 3);
    memmove(p + 3, p + k, strlen(p + k) + 1);
  }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void
llm_log(const llm_t *l, enum llm_log_level lvl, const char *fmt, ...) {
  if (!l->cfg.log || lvl < l->cfg.log_level) return;
  char line[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  redact(l, line);
  l->cfg.log(l->cfg.log_data, lvl, line);
}

static uint64_t rng_next(llm_t *l) { /* xorshift64* */
  l->rng ^= l->rng >> 12;
  l->rng ^= l->rng << 25;
  l->rng ^= l->rng >> 27;
  return l->rng * 2685821657736338717ULL;
}

static void maybe_finish_close(llm_t *l) {
  if (!l->closing || l->open) return;
  llm_close_cb cb = l->close_cb;
  void *data = l->close_data;
  llm__script_free(l->script);
  json_decref(l->cfg.script);
  free(l);
  if (cb) cb(data);
}

static void reset_attempt(struct llm_call *c) {
  sse_free(c->sse);
  c->sse = NULL;
  if (c->pstate) c->llm->ops->stream_free(c->pstate);
  c->pstate = NULL;
  strbuf_reset(&c->raw);
  c->sse_mode = 0;
  c->stream_rc = 0;
  c->stream_err[0] = '\0';
}

static void on_call_closed(uv_handle_t *h) {
  struct llm_call *c = h->data;
  llm_t *l = c->llm;
  reset_attempt(c);
  llm_result_free(c->pend_res);
  free(c->body);
  json_decref(c->neutral);
  free(c);
  l->open--;
  maybe_finish_close(l);
}

/* Takes a released call out of its client's list and closes its timer; on_call_closed frees it. */
static void unlink_call(struct llm_call *c) {
  llm_t *l = c->llm;
  if (c->prev)
    c->prev->next = c->next;
  else
    l->calls = c->next;
  if (c->next) c->next->prev = c->prev;
  l->ncalls--;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_call_closed);
}

static void release(struct llm_call *c) {
  if (c->released) return;
  c->released = 1;
  if (c->http) {
    http_cancel(c->http);
    c->http = NULL;
  }
  unlink_call(c);
}

static void finish(struct llm_call *c, int status, struct llm_result *res, const char *msg) {
  llm_t *l = c->llm;
  char m[2048];
  snprintf(m, sizeof m, "%s", status ? (msg && *msg ? msg : llm_strerror(status)) : "");
  redact(l, m);
  if (status && status != LLM_ECANCELED) llm_log(l, LLM_LOG_ERROR, "llm: %s", m);
  if (res) llm__result_fill_ids(res, l->seq++);
  c->in_done = 1;
  c->on_done(c, status, status ? NULL : res, m, c->data);
  c->in_done = 0;
  llm_result_free(res);
  release(c);
}

static void on_pending(uv_timer_t *t) {
  struct llm_call *c = t->data;
  struct llm_result *res = c->pend_res;
  c->pend_res = NULL;
  if (!c->pend_status && res && c->stream && c->on_delta && res->text[0]) {
    c->delivered = 1;
    c->on_delta(c, res->text, strlen(res->text), c->data);
    if (c->released) {
      llm_result_free(res);
      return;
    }
  }
  finish(c, c->pend_status, res, c->pend_msg);
}

static void pend(struct llm_call *c, int status, struct llm_result *res, const char *msg) {
  c->pend_status = status;
  c->pend_res = res;
  snprintf(c->pend_msg, sizeof c->pend_msg, "%s", msg ? msg : "");
  uv_timer_start(&c->timer, on_pending, 0, 0);
}

static void emit_text(void *ctx, const char *text, size_t len) {
  struct llm_call *c = ctx;
  if (c->released || !c->on_delta || !len) return;
  c->delivered = 1;
  c->on_delta(c, text, len, c->data);
}

static int on_sse(const struct sse_event *ev, void *data) {
  struct llm_call *c = data;
  if (c->released || c->stream_rc) return 1;
  int rc = c->llm->ops->stream_event(c->pstate, ev->event, ev->data, ev->data_len, emit_text, c, c->stream_err,
                                     sizeof c->stream_err);
  if (rc < 0) {
    c->stream_rc = rc;
    return 1;
  }
  return c->released ? 1 : 0;
}

static int on_http_data(http_req_t *req, const char *buf, size_t len, void *data) {
  struct llm_call *c = data;
  if (c->released) return 1;
  if (!c->sse && !c->sse_mode) {
    long st = http_req_status(req);
    const char *ct = http_req_content_type(req);
    c->sse_mode = (st >= 200 && st < 300 && strstr(ct, "text/event-stream")) ? 1 : 2;
    if (c->sse_mode == 1) {
      c->sse = sse_new(c->llm->cfg.max_body, on_sse, c);
      c->pstate = c->llm->ops->stream_new();
      if (!c->sse || !c->pstate) {
        c->stream_rc = LLM_ENOMEM;
        snprintf(c->stream_err, sizeof c->stream_err, "out of memory");
        return 1;
      }
    }
  }
  if (c->sse_mode == 2) return llm__buf_add(&c->raw, buf, len) ? 1 : 0;
  int rc = sse_feed(c->sse, buf, len);
  if (rc == SSE_ETOOLONG || rc == SSE_ENOMEM) {
    c->stream_rc = LLM_EPROTO;
    snprintf(c->stream_err, sizeof c->stream_err, "event stream: %s", sse_strerror(rc));
  }
  return c->stream_rc || c->released ? 1 : 0;
}

static void start_attempt(struct llm_call *c);

static void on_retry_timer(uv_timer_t *t) { start_attempt(t->data); }

/* The wire body of c->neutral: under a JSON mode the schema's description (and, for OBJECT, the schema) is appended
 * to the system text; fields this server rejected earlier are left out. LLM_OK or an error with err. */
static int encode_body(struct llm_call *c, char *err, size_t errlen) {
  llm_t *l = c->llm;
  json_t *n = json_copy(c->neutral);
  if (!n) return LLM_ENOMEM;
  json_t *js = json_object_get(n, "json");
  if (js) {
    strbuf_t sys = STRBUF_INIT;
    const char *s0 = llm__jstr(n, "system", NULL);
    json_t *schema = json_object_get(js, "schema");
    const char *desc = llm__jstr(schema, "description", NULL);
    if (s0) strbuf_puts(&sys, s0);
    if (desc) strbuf_appendf(&sys, "%s%s", sys.len ? "\n\n" : "", desc);
    if (!strcmp(llm__jstr(js, "mode", ""), "object")) {
      char *sj = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
      strbuf_appendf(&sys, "%sAnswer with one JSON object only (no other text)%s%s", sys.len ? "\n\n" : "",
                     sj ? ", following this JSON Schema: " : ".", sj ? sj : "");
      free(sj);
    }
    if (sys.len) json_object_set_new(n, "system", json_stringn(sys.s, sys.len));
    strbuf_reset(&sys);
  }
  if (l->no_json) json_object_del(n, "json");
  if (l->no_tool_choice) json_object_del(n, "tool_choice");
  c->sent_json = json_object_get(n, "json") != NULL;
  c->sent_tool_choice = json_object_get(n, "tool_choice") != NULL;
  c->json_tool[0] = '\0';
  if (c->sent_json && l->ops->json_via_tool)
    snprintf(c->json_tool, sizeof c->json_tool, "%s", llm__jstr(json_object_get(n, "json"), "name", ""));
  const char *model = llm__jstr(json_object_get(n, "options"), "model", NULL);
  json_t *body = l->ops->encode(n, model && *model ? model : l->cfg.model, err, errlen);
  json_decref(n);
  free(c->body);
  c->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!c->body) return body ? LLM_ENOMEM : LLM_EINVAL;
  c->body_len = strlen(c->body);
  return LLM_OK;
}

static int mentions(const char *msg, const char *word) {
  size_t n = strlen(word);
  for (; *msg; msg++)
    if (!strncasecmp(msg, word, n)) return 1;
  return 0;
}

/* A 400/422 that names a field this request added: "response_format" (the JSON mode) or "tool_choice"; NULL if
 * none. The flag that leaves it out is set. */
static const char *rejected_field(struct llm_call *c, long status, const char *pmsg) {
  llm_t *l = c->llm;
  if (status != 400 && status != 422) return NULL;
  if (c->sent_json && (mentions(pmsg, "response_format") || mentions(pmsg, "json_schema") ||
                       mentions(pmsg, "json_object") || (c->json_tool[0] && mentions(pmsg, "tool_choice")))) {
    l->no_json = 1;
    return c->json_tool[0] ? "the forced tool_choice of the JSON mode" : "response_format";
  }
  if (c->sent_tool_choice && mentions(pmsg, "tool_choice")) {
    l->no_tool_choice = 1;
    return "tool_choice";
  }
  return NULL;
}

/* Anthropic's JSON mode: the forced tool's input is the answer. Returns 1 when res was changed. */
static int json_tool_to_text(struct llm_result *res, const char *name) {
  for (size_t i = 0; i < res->ncalls; i++) {
    struct llm_tool_call *tc = &res->calls[i];
    if (strcmp(tc->name, name)) continue;
    char *t = tc->args ? json_dumps(tc->args, JSON_COMPACT) : strdup(tc->raw_args ? tc->raw_args : "");
    if (!t) return 0;
    free(res->text);
    res->text = t;
    free(tc->id), free(tc->name), free(tc->raw_args);
    json_decref(tc->args);
    memmove(tc, tc + 1, (res->ncalls - i - 1) * sizeof *tc);
    res->ncalls--;
    if (!res->ncalls) res->finish = res->finish == LLM_STOP_LENGTH ? LLM_STOP_LENGTH : LLM_STOP_END;
    return 1;
  }
  return 0;
}

static int retryable_http(int e) { return e == HTTP_ECONNECT || e == HTTP_EIO || e == HTTP_ETIMEDOUT; }

static void on_http_done(http_req_t *req, const struct http_response *r, void *data) {
  struct llm_call *c = data;
  llm_t *l = c->llm;
  char msg[2048], pmsg[512];
  int status = LLM_OK, retry = 0;
  long retry_after = -1;
  struct llm_result *res = NULL;
  (void)req;
  c->http = NULL;
  const char *body = c->stream ? (c->raw.s ? c->raw.s : "") : r->body;
  size_t blen = c->stream ? c->raw.len : r->body_len;
  msg[0] = '\0';

  if (c->stream_rc) { /* parse/provider error inside the stream (we aborted the transfer) */
    status = c->stream_rc;
    snprintf(msg, sizeof msg, "%s: %s", l->ops->name, c->stream_err);
    /* an overloaded/internal error event is worth another try (only if nothing was shown) */
    retry = status == LLM_EPROVIDER && (strstr(c->stream_err, "overloaded") || strstr(c->stream_err, "api_error") ||
                                        strstr(c->stream_err, "server_error"));
  } else if (r->err) {
    status = r->err == HTTP_ETIMEDOUT ? LLM_ETIMEDOUT
             : r->err == HTTP_ETOOBIG ? LLM_ETOOBIG
             : r->err == HTTP_EINVAL  ? LLM_ECONFIG
             : r->err == HTTP_ENOMEM  ? LLM_ENOMEM
                                      : LLM_ECONNECT;
    retry = retryable_http(r->err);
    snprintf(msg, sizeof msg, "%s at %.300s: %s", l->ops->name, l->endpoint, r->errmsg);
  } else if (r->status == 429 || r->status >= 500) {
    llm__error_message(body, blen, pmsg, sizeof pmsg);
    status = r->status == 429 ? LLM_ERATELIMIT : LLM_ESERVER;
    retry = 1;
    retry_after = r->retry_after_ms;
    snprintf(msg, sizeof msg, "%s: HTTP %ld from %.300s%s%s", l->ops->name, r->status, l->endpoint, *pmsg ? ": " : "",
             pmsg);
  } else if (r->status < 200 || r->status >= 300) {
    llm__error_message(body, blen, pmsg, sizeof pmsg);
    const char *field = rejected_field(c, r->status, pmsg);
    char eerr[512] = "";
    if (field && !l->closing && encode_body(c, eerr, sizeof eerr) == LLM_OK) {
      redact(l, pmsg);
      llm_log(l, LLM_LOG_WARN,
              "llm: %s at %.300s rejected %s (HTTP %ld: %.200s); sending the request again without it, and without "
              "it for the rest of this session",
              l->ops->name, l->endpoint, field, r->status, pmsg);
      reset_attempt(c);
      uv_timer_start(&c->timer, on_retry_timer, 0, 0);
      return;
    }
    status = (r->status == 401 || r->status == 403) ? LLM_EAUTH : LLM_EHTTP;
    snprintf(msg, sizeof msg, "%s: HTTP %ld from %.300s: %s%s", l->ops->name, r->status, l->endpoint,
             *pmsg ? pmsg : "(no error message)",
             status == LLM_EAUTH ? (l->cfg.key[0] ? " (check the API key)" : " (no API key set)") : "");
  } else if (c->sse_mode == 1) {
    int rc = sse_finish(c->sse);
    if (!rc && c->stream_rc) rc = c->stream_rc;
    if (rc) {
      status = LLM_EPROTO;
      snprintf(msg, sizeof msg, "%s: %s", l->ops->name, c->stream_err[0] ? c->stream_err : sse_strerror(rc));
    } else {
      char err[512] = "";
      status = l->ops->stream_finish(c->pstate, &res, err, sizeof err);
      if (status) snprintf(msg, sizeof msg, "%s (from %.300s)", err, l->endpoint);
    }
  } else {
    const char *ct = r->content_type;
    if (*ct && !strstr(ct, "json")) {
      status = LLM_EPROTO;
      snprintf(msg, sizeof msg, "%s: unexpected content type \"%.80s\" from %.300s (expected application/json%s)",
               l->ops->name, ct, l->endpoint, c->stream ? " or text/event-stream" : "");
    } else {
      char err[512] = "";
      status = l->ops->decode(body, blen, &res, err, sizeof err);
      if (status)
        snprintf(msg, sizeof msg, "%s (from %.300s)", err, l->endpoint);
      else if (c->stream && res->text[0])
        emit_text(c, res->text, strlen(res->text)); /* server ignored stream */
      if (c->released) {
        llm_result_free(res);
        return;
      }
    }
  }

  if (!status && res && c->json_tool[0] && json_tool_to_text(res, c->json_tool) && c->stream && res->text[0]) {
    emit_text(c, res->text, strlen(res->text)); /* the forced tool's input was not streamed as text */
    if (c->released) {
      llm_result_free(res);
      return;
    }
  }
  if (status && retry && retry_after > (long)l->cfg.max_delay_ms) { /* honour it: don't hammer early */
    size_t n = strlen(msg);
    snprintf(msg + n, sizeof msg - n, " (server asks to retry after %ld s; not waiting that long)", retry_after / 1000);
    retry = 0;
  }
  if (status && retry && !c->delivered && c->attempt < l->cfg.max_attempts && !l->closing) {
    uint64_t base = (uint64_t)l->cfg.base_delay_ms << (c->attempt - 1 < 16 ? c->attempt - 1 : 16);
    if (base > l->cfg.max_delay_ms) base = l->cfg.max_delay_ms;
    uint64_t delay = base / 2 + (base ? rng_next(l) % (base / 2 + 1) : 0); /* jitter: [base/2, base] */
    if (retry_after >= 0) delay = (uint64_t)retry_after;
    redact(l, msg);
    llm_log(l, LLM_LOG_WARN, "llm: attempt %d/%d failed (%s); retrying in %llu ms", c->attempt, l->cfg.max_attempts,
            msg, (unsigned long long)delay);
    reset_attempt(c);
    uv_timer_start(&c->timer, on_retry_timer, delay, 0);
    return;
  }
  if (status && retry && c->attempt > 1) {
    size_t n = strlen(msg);
    snprintf(msg + n, sizeof msg - n, " (after %d attempts)", c->attempt);
  }
  if (!status)
    llm_log(l, LLM_LOG_DEBUG, "llm: %s done: finish=%s calls=%zu in=%ld out=%ld", l->ops->name,
            llm_finish_name(res->finish), res->ncalls, res->usage.input_tokens, res->usage.output_tokens);
  finish(c, status, res, msg);
}

static void start_attempt(struct llm_call *c) {
  llm_t *l = c->llm;
  char auth[600];
  const char *hdrs[6];
  int n = 0;
  reset_attempt(c);
  c->attempt++;
  hdrs[n++] = "Content-Type: application/json";
  hdrs[n++] = c->stream ? "Accept: text/event-stream" : "Accept: application/json";
  if (l->cfg.key[0]) {
    snprintf(auth, sizeof auth, l->ops->auth_fmt, l->cfg.key);
    hdrs[n++] = auth;
  }
  if (l->ops->extra_header) hdrs[n++] = l->ops->extra_header;
  hdrs[n] = NULL;
  struct http_request q = {
      .url = l->endpoint,
      .method = "POST",
      .headers = hdrs,
      .body = c->body,
      .body_len = c->body_len,
      .connect_timeout_ms = l->cfg.connect_timeout_ms,
      .total_timeout_ms = c->stream ? 0 : l->cfg.total_timeout_ms,
      .low_speed_time_s = c->stream ? l->cfg.stream_idle_s : 0,
      .max_body = l->cfg.max_body,
      .on_data = c->stream ? on_http_data : NULL,
      .on_done = on_http_done,
      .data = c,
  };
  llm_log(l, LLM_LOG_INFO, "llm: POST %s (%s, attempt %d/%d%s)", l->endpoint, l->ops->name, c->attempt,
          l->cfg.max_attempts, c->stream ? ", streaming" : "");
  int err = 0;
  c->http = http_request(l->http, &q, &err);
  memset(auth, 0, sizeof auth);
  if (!c->http) {
    char m[256];
    snprintf(m, sizeof m, "%s: cannot start request: %s", l->ops->name, http_strerror(err));
    pend(c, err == HTTP_ENOMEM ? LLM_ENOMEM : LLM_EINVAL, NULL, m);
  }
}

llm_t *llm_new(uv_loop_t *loop, const struct llm_config *cfg, char *err, size_t errlen) {
  llm_t *l = calloc(1, sizeof *l);
  if (!l) {
    snprintf(err, errlen, "llm: out of memory");
    return NULL;
  }
  l->loop = loop;
  l->cfg = *cfg;
  if (l->cfg.max_attempts < 1) l->cfg.max_attempts = 1;
  if (!l->cfg.max_body) l->cfg.max_body = (size_t)16 << 20;
  l->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)l) | 1;
  l->seq = 1;
  json_incref(l->cfg.script);
  switch (cfg->provider) {
  case LLM_PROVIDER_OPENAI: l->ops = llm__openai_ops(); break;
  case LLM_PROVIDER_ANTHROPIC: l->ops = llm__anthropic_ops(); break;
  case LLM_PROVIDER_SCRIPT:
    l->script = llm__script_new(l->cfg.script, l->cfg.url, err, errlen);
    if (!l->script) goto fail;
    break;
  default: snprintf(err, errlen, "llm: no provider configured (see llm_config_resolve)"); goto fail;
  }
  if (l->ops) {
    llm_config_endpoint(&l->cfg, l->endpoint, sizeof l->endpoint);
    l->http = http_new(loop, err, errlen);
    if (!l->http) goto fail;
    l->open++;
  }
  return l;
fail:
  json_decref(l->cfg.script);
  free(l);
  return NULL;
}

llm_call_t *llm_chat(llm_t *l, const llm_request_t *req, llm_delta_cb on_delta, llm_done_cb on_done, void *data) {
  if (!l || l->closing || !req || !on_done) return NULL;
  struct llm_call *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->llm = l;
  c->on_delta = on_delta;
  c->on_done = on_done;
  c->data = data;
  uv_timer_init(l->loop, &c->timer);
  c->timer.data = c;
  l->open++;
  c->next = l->calls;
  if (l->calls) l->calls->prev = c;
  l->calls = c;
  l->ncalls++;

  json_t *neutral = req->j;
  c->stream = json_is_true(json_object_get(json_object_get(neutral, "options"), "stream"));
  char err[512] = "";
  if (!json_array_size(json_object_get(neutral, "messages"))) {
    pend(c, LLM_EINVAL, NULL, "llm: the request has no messages");
    return c;
  }
  if (l->script) {
    struct llm_result *res = NULL;
    int rc = llm__script_next(l->script, neutral, &res, err, sizeof err);
    pend(c, rc, res, err);
    return c;
  }
  c->neutral = llm__neutral_snapshot(neutral);
  int rc = c->neutral ? encode_body(c, err, sizeof err) : LLM_ENOMEM;
  if (rc) {
    pend(c, rc, NULL, rc == LLM_ENOMEM && !err[0] ? "llm: out of memory" : err);
    return c;
  }
  start_attempt(c);
  return c;
}

void llm_cancel(llm_call_t *c) {
  if (!c || c->released || c->in_done) return;
  release(c);
}

static void on_http_closed(void *data) {
  llm_t *l = data;
  l->http = NULL;
  l->open--;
  maybe_finish_close(l);
}

void llm_close(llm_t *l, llm_close_cb cb, void *data) {
  if (!l || l->closing) return;
  l->closing = 1;
  l->close_cb = cb;
  l->close_data = data;
  while (l->calls) {
    struct llm_call *c = l->calls;
    if (c->in_done) { /* llm_close from inside this call's on_done: finish() releases it */
      c->released = 1;
      unlink_call(c);
      continue;
    }
    if (c->http) {
      http_cancel(c->http);
      c->http = NULL;
    }
    finish(c, LLM_ECANCELED, NULL, "llm: cancelled (client closing)");
  }
  if (l->http)
    http_close(l->http, on_http_closed, l);
  else
    maybe_finish_close(l);
}

/* ---------- probing for a local server ---------- */

#define LLM_PROBE_MAX 8

struct llm_probe;
struct llm_probe_one {
  struct llm_probe *p;
  size_t idx;
};

struct llm_probe {
  http_t *http;
  struct llm_probe_one one[LLM_PROBE_MAX];
  struct llm_config *cfg;
  llm_probe_cb cb;
  void *data;
  size_t n, pending;
  char urls[LLM_PROBE_MAX][512];
  int ok[LLM_PROBE_MAX];
  char model[LLM_PROBE_MAX][128];
  int status;
  char msg[2048];
};

static void probe_closed(void *data) {
  struct llm_probe *p = data;
  p->cb(p->status, p->cfg, p->msg, p->data);
  free(p);
}

static void probe_done(http_req_t *r, const struct http_response *res, void *data) {
  struct llm_probe_one *one = data;
  struct llm_probe *p = one->p;
  size_t i = one->idx;
  (void)r;
  p->ok[i] = !res->err && res->status == 200;
  if (p->ok[i]) {
    json_t *root = json_loadb(res->body, res->body_len, 0, NULL);
    const char *id = llm__jstr(json_array_get(json_object_get(root, "data"), 0), "id", NULL);
    if (id) snprintf(p->model[i], sizeof p->model[i], "%.127s", id);
    json_decref(root);
  }
  if (--p->pending) return;
  p->status = LLM_ECONFIG;
  for (i = 0; i < p->n; i++) {
    if (!p->ok[i]) continue;
    p->cfg->provider = LLM_PROVIDER_OPENAI;
    snprintf(p->cfg->url, sizeof p->cfg->url, "%s", p->urls[i]);
    if (!p->cfg->model[0] && p->model[i][0]) snprintf(p->cfg->model, sizeof p->cfg->model, "%s", p->model[i]);
    if (!p->cfg->model[0]) snprintf(p->cfg->model, sizeof p->cfg->model, "%s", "default");
    snprintf(p->msg, sizeof p->msg, "using the local OpenAI-compatible server at %s (model %s)", p->urls[i],
             p->cfg->model);
    p->status = LLM_OK;
    break;
  }
  if (p->status) {
    char first[1024];
    size_t o = (size_t)snprintf(first, sizeof first, "no LLM configured and no local server answered at");
    for (i = 0; i < p->n && o < sizeof first; i++)
      o += (size_t)snprintf(first + o, sizeof first - o, "%s %s", i ? "," : "", p->urls[i]);
    if (o < sizeof first) snprintf(first + o, sizeof first - o, ".");
    howto(p->msg, sizeof p->msg, first, config_file);
  }
  http_close(p->http, probe_closed, p);
}

int llm_config_probe(uv_loop_t *loop, struct llm_config *cfg, const char *const *urls, llm_probe_cb cb, void *data) {
  static const char *const defaults[] = {"http://localhost:11434", "http://localhost:8080", NULL};
  char err[256];
  if (!cfg || !cb) return LLM_EINVAL;
  if (!urls) urls = defaults;
  struct llm_probe *p = calloc(1, sizeof *p);
  if (!p) return LLM_ENOMEM;
  p->cfg = cfg;
  p->cb = cb;
  p->data = data;
  p->http = http_new(loop, err, sizeof err);
  if (!p->http) {
    free(p);
    return LLM_ENOMEM;
  }
  for (size_t i = 0; urls[i] && p->n < LLM_PROBE_MAX; i++) {
    size_t k = p->n;
    snprintf(p->urls[k], sizeof p->urls[k], "%.500s", urls[i]);
    struct llm_config tmp = *cfg;
    char ep[1100], models[1200];
    tmp.provider = LLM_PROVIDER_OPENAI;
    snprintf(tmp.url, sizeof tmp.url, "%s", p->urls[k]);
    llm_config_endpoint(&tmp, ep, sizeof ep);
    size_t el = strlen(ep) - strlen("/chat/completions");
    snprintf(models, sizeof models, "%.*s/models", (int)el, ep);
    struct http_request q = {.url = models,
                             .connect_timeout_ms = 1000,
                             .total_timeout_ms = 3000,
                             .max_body = 1 << 20,
                             .on_done = probe_done,
                             .data = &p->one[k]};
    p->one[k].p = p;
    p->one[k].idx = k;
    if (!http_request(p->http, &q, NULL)) continue;
    p->n++;
    p->pending++;
  }
  if (!p->pending) { /* nothing to try: still answer asynchronously */
    p->n = 0;
    p->pending = 1;
    p->status = LLM_ECONFIG;
    http_close(p->http, probe_closed, p);
    howto(p->msg, sizeof p->msg, "no LLM configured.", config_file);
  }
  return LLM_OK;
}
