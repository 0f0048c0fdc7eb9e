/* llm.h — provider-neutral chat client (OpenAI-compatible, Anthropic, scripted replay).
 *
 * Everything runs on one libuv loop. llm_chat() encodes the request at once (the request
 * may be freed right after) and completes later through on_done, exactly once, never
 * synchronously — unless the call is cancelled with llm_cancel() (then never).
 * API keys live only inside llm_config; they are never written to logs or error texts
 * (anything that would contain one is redacted to "***").
 */
#ifndef DAWBRIDGE_LLM_H
#define DAWBRIDGE_LLM_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

enum llm_err {
  LLM_OK = 0,
  LLM_ENOMEM = -1,
  LLM_EINVAL = -2,     /* bad request (e.g. no messages) or bad argument */
  LLM_ECONFIG = -3,    /* no/invalid provider configuration */
  LLM_ECONNECT = -4,   /* could not connect / connection dropped (after retries) */
  LLM_ETIMEDOUT = -5,  /* timed out (after retries) */
  LLM_EHTTP = -6,      /* 4xx (not 401/403/429): the provider rejected the request */
  LLM_EAUTH = -7,      /* 401/403: missing or wrong API key */
  LLM_ERATELIMIT = -8, /* 429 after all retries */
  LLM_ESERVER = -9,    /* 5xx after all retries */
  LLM_EPROTO = -10,    /* malformed response: bad JSON, wrong content type, early end */
  LLM_EPROVIDER = -11, /* error reported inside a 200 response / stream */
  LLM_ECANCELED = -12, /* llm_close() while in flight */
  LLM_ESCRIPT = -13,   /* script provider: transcript exhausted or match failed */
  LLM_ETOOBIG = -14,   /* response over the size limit */
};
const char *llm_strerror(int err);

enum llm_provider { LLM_PROVIDER_NONE = 0, LLM_PROVIDER_OPENAI, LLM_PROVIDER_ANTHROPIC, LLM_PROVIDER_SCRIPT };
const char *llm_provider_name(enum llm_provider p); /* "openai", "anthropic", "script", "none" */

enum llm_finish { LLM_STOP_END = 0, LLM_STOP_TOOL, LLM_STOP_LENGTH, LLM_STOP_OTHER };
const char *llm_finish_name(enum llm_finish f); /* "stop", "tool_calls", "length", "other" */

enum llm_log_level { LLM_LOG_DEBUG = 0, LLM_LOG_INFO, LLM_LOG_WARN, LLM_LOG_ERROR };

/* A stricter answer format for requests that ask for one JSON object (stage 1's plan), per wire format
 * (docs/llm.md "JSON mode"):
 *   SCHEMA  OpenAI-compatible: response_format {"type":"json_schema","json_schema":{"name","schema","strict":true}}
 *           (the schema made strict: every object closed, every property required, optional ones nullable);
 *           Anthropic: a forced tool (tool_choice {"type":"tool","name"}) whose input_schema is the schema — its
 *           input comes back as the result's text.
 *   OBJECT  OpenAI-compatible: response_format {"type":"json_object"} (the schema goes into the system prompt);
 *           Anthropic: the forced tool with {"type":"object"}.
 *   OFF     nothing is added.
 *   AUTO    llm_json_mode_effective(): SCHEMA for the openai and anthropic providers under the small prompt
 *           profile, OFF otherwise. */
enum llm_json_mode { LLM_JSON_AUTO = 0, LLM_JSON_OFF, LLM_JSON_OBJECT, LLM_JSON_SCHEMA };
const char *llm_json_mode_name(enum llm_json_mode m); /* "auto", "off", "object", "schema" */
int llm_json_mode_parse(const char *s);               /* the mode, or -1 */
/* line: one log line without newline, already redacted; borrowed. */
typedef void (*llm_log_fn)(void *data, enum llm_log_level level, const char *line);

/* ---------- configuration ---------- */

struct llm_config {
  enum llm_provider provider;
  char model[128];
  char url[1024];          /* base URL or full endpoint; script provider: transcript path */
  char key[512];           /* secret; "" for none (local servers) */
  json_t *script;          /* script provider: transcript object (borrowed, incref'd by llm_new);
                            used instead of reading url */
  int max_attempts;        /* total tries incl. the first; default 4 */
  unsigned base_delay_ms;  /* first backoff; default 500 */
  unsigned max_delay_ms;   /* backoff cap and longest Retry-After waited for; default 30000 */
  long connect_timeout_ms; /* default 10000 */
  long total_timeout_ms;   /* non-streaming requests; default 300000 */
  long stream_idle_s;      /* streaming: abort when idle this long; default 120 */
  size_t max_body;         /* response size limit; default 16 MiB */
  llm_log_fn log;          /* optional */
  void *log_data;
  enum llm_log_level log_level; /* lines below this level are not emitted; default INFO */
  enum llm_json_mode json_mode; /* default AUTO (llm_json_mode_effective) */
};

/* Command-line values (NULL = not given). */
struct llm_flags {
  const char *llm;       /* --llm openai|anthropic|script */
  const char *model;     /* --model */
  const char *url;       /* --llm-url */
  const char *json_mode; /* --json-mode auto|schema|object|off */
};

/* Fill cfg with the defaults above (provider NONE, no key). */
void llm_config_defaults(struct llm_config *cfg);

/* Resolve provider/model/url: flags > env (DAWBRIDGE_LLM, DAWBRIDGE_MODEL, DAWBRIDGE_LLM_URL)
 * > defaults. The config file ($XDG_CONFIG_HOME/dawbridge/config.json) is read by the app (app/config.h), which
 * passes its "llm", "model", "llm_url" as flags when neither a flag nor the variable is set. Keys come only
 * from OPENAI_API_KEY / ANTHROPIC_API_KEY. Without an explicit
 * provider: OPENAI_API_KEY → openai, else ANTHROPIC_API_KEY → anthropic, else a URL → openai
 * (local server). Only fields the resolution decides are overwritten; call
 * llm_config_defaults() first. Returns LLM_OK or LLM_ECONFIG with a how-to in err. */
int llm_config_resolve(struct llm_config *cfg, const struct llm_flags *flags, char *err, size_t errlen);

/* The endpoint a provider posts to for cfg (base URL completed with /v1/chat/completions or
 * /v1/messages). Writes into out; returns out. */
const char *llm_config_endpoint(const struct llm_config *cfg, char *out, size_t outlen);

/* The JSON mode a request for one JSON object gets: cfg->json_mode, AUTO resolved (small_profile: the small prompt
 * profile is in use): SCHEMA for openai/anthropic under the small profile, else OFF. */
enum llm_json_mode llm_json_mode_effective(const struct llm_config *cfg, int small_profile);

/* When llm_config_resolve() found no provider: look for a local OpenAI-compatible server by
 * GETting {url}/v1/models on each candidate at once (urls: NULL-terminated list, NULL = the
 * defaults http://localhost:11434 (Ollama) and http://localhost:8080 (llama.cpp)); 1 s connect
 * timeout. The first candidate in list order that answers 200 wins: cfg gets provider openai,
 * that url and, if cfg->model is empty, the first model the server lists. cb gets LLM_OK and
 * a note, or LLM_ECONFIG and the how-to text. cfg must stay valid until cb, which runs after
 * every handle the probe used is closed. Returns LLM_OK or LLM_ENOMEM/LLM_EINVAL (then no cb). */
typedef void (*llm_probe_cb)(int status, struct llm_config *cfg, const char *msg, void *data);
int llm_config_probe(uv_loop_t *loop, struct llm_config *cfg, const char *const *urls, llm_probe_cb cb, void *data);

/* ---------- requests ---------- */

typedef struct llm_request llm_request_t;

struct llm_options {
  const char *model;  /* NULL: the config's model */
  double temperature; /* < 0: provider default */
  int max_tokens;     /* <= 0: default (4096; Anthropic requires one) */
  int stream;         /* deliver text deltas through on_delta while generating */
};

struct llm_tool_call {
  char *id; /* provider id, or synthesized "call_…" when the provider sent none */
  char *name;
  json_t *args;   /* parsed arguments object (owned by the result); NULL if they were not
                     valid JSON — then raw_args holds the text */
  char *raw_args; /* arguments as received (JSON text) */
};

llm_request_t *llm_request_new(void);
void llm_request_free(llm_request_t *req);
/* All texts are copied. Return LLM_OK or LLM_ENOMEM/LLM_EINVAL. */
int llm_request_set_system(llm_request_t *req, const char *text);
int llm_request_add_user(llm_request_t *req, const char *text);
/* text may be NULL/""; calls[i].args borrowed (copied in). */
int llm_request_add_assistant(llm_request_t *req, const char *text, const struct llm_tool_call *calls, size_t ncalls);
/* content: the tool's result text (often JSON). name optional. */
int llm_request_add_tool_result(llm_request_t *req, const char *call_id, const char *name, const char *content,
                                int is_error);
/* schema: JSON Schema object, borrowed (a reference is taken). */
int llm_request_add_tool(llm_request_t *req, const char *name, const char *description, json_t *schema);
void llm_request_set_options(llm_request_t *req, const struct llm_options *opts);
/* Ask for one JSON object as the answer (see enum llm_json_mode). mode OBJECT or SCHEMA; OFF/AUTO clears it.
 * name: [A-Za-z0-9_-]{1,64}; schema (borrowed, a reference is taken): an object schema, required for SCHEMA,
 * optional for OBJECT. A "description" at the schema's root is appended to the system prompt (it tells the model
 * what to write: a local server's grammar constrains the answer but does not show the schema to the model); under
 * OBJECT the schema itself is appended too. LLM_OK or LLM_EINVAL. The result's text is the JSON object.
 * A server that rejects the field (HTTP 400 naming response_format / json_schema) gets the request again once
 * without it, and the client leaves it out for the rest of its life (one WARN log line). */
int llm_request_set_json(llm_request_t *req, enum llm_json_mode mode, const char *name, json_t *schema);
/* Tool choice for a request with tools: "auto", "required" (OpenAI-compatible "required", Anthropic
 * {"type":"any"}), "none"; NULL removes it (the provider's default). A 400 naming tool_choice drops it the same way
 * as above. LLM_OK or LLM_EINVAL. */
int llm_request_set_tool_choice(llm_request_t *req, const char *choice);
/* An estimate of the request's input tokens: the sum of count() over the system text, each message as compact JSON
 * and the tools as compact JSON. The messages are append-only, so the counts are cached in req and each call counts
 * only what was added since (a growing conversation costs its new messages, not all of it again). count must be a
 * pure function; another one starts the cache over. */
long llm_request_count_tokens(llm_request_t *req, size_t (*count)(const char *text));
/* Provider-neutral JSON form {system, messages, tools, options, json?, tool_choice?}: borrowed. */
json_t *llm_request_json(const llm_request_t *req);
/* Build from the neutral JSON form (borrowed); NULL with err on a shape error. */
llm_request_t *llm_request_from_json(json_t *neutral, char *err, size_t errlen);

/* ---------- results ---------- */

struct llm_usage {
  long input_tokens; /* -1 if unknown */
  long output_tokens;
};

struct llm_result {
  char *text; /* never NULL ("" when the model said nothing) */
  struct llm_tool_call *calls;
  size_t ncalls;
  enum llm_finish finish;
  char *finish_raw; /* the provider's string, "" if none */
  struct llm_usage usage;
  char *model; /* as reported, "" if none */
};

void llm_result_free(struct llm_result *res); /* frees res itself too */
struct llm_result *llm_result_dup(const struct llm_result *res);
/* {"text","tool_calls":[{"id","name","arguments"}],"finish","usage"}: new reference. */
json_t *llm_result_json(const struct llm_result *res);
/* Append the assistant turn of res (text + tool calls) to req. */
int llm_request_add_result(llm_request_t *req, const struct llm_result *res);

/* ---------- the client ---------- */

typedef struct llm llm_t;
typedef struct llm_call llm_call_t;

/* Streamed text as it is generated (only when options.stream). text borrowed, not NUL-terminated. */
typedef void (*llm_delta_cb)(llm_call_t *call, const char *text, size_t len, void *data);
/* status LLM_OK: res is borrowed (valid during the callback; llm_result_dup to keep).
 * Otherwise res is NULL and errmsg says what happened (redacted, includes the provider's
 * own error message for 4xx). */
typedef void (*llm_done_cb)(llm_call_t *call, int status, const struct llm_result *res, const char *errmsg, void *data);
typedef void (*llm_close_cb)(void *data);

/* cfg is copied. NULL on failure with err (e.g. unreadable transcript). */
llm_t *llm_new(uv_loop_t *loop, const struct llm_config *cfg, char *err, size_t errlen);

/* Start a chat. Returns the call handle (valid until on_done returns), or NULL only on
 * out-of-memory or a closing client. All other failures arrive through on_done. Retries:
 * connection errors, timeouts, 429 and 5xx with exponential backoff and jitter, up to
 * max_attempts; a Retry-After replaces the backoff (one longer than max_delay_ms ends the
 * call with the error instead); never after a text delta has been delivered. */
llm_call_t *llm_chat(llm_t *llm, const llm_request_t *req, llm_delta_cb on_delta, llm_done_cb on_done, void *data);

/* Abort; on_done will not be called. No-op inside that call's own on_done. */
void llm_cancel(llm_call_t *call);

int llm_call_attempts(const llm_call_t *call); /* tries made so far */
size_t llm_in_flight(const llm_t *llm);
const struct llm_config *llm_get_config(const llm_t *llm);

/* Script provider only: every request received so far, in neutral JSON form
 * (see llm_request_json), in order. Borrowed array; NULL for other providers. */
json_t *llm_script_requests(llm_t *llm);

/* In-flight calls complete with LLM_ECANCELED (synchronously), then every handle is closed;
 * cb runs once llm has been freed. */
void llm_close(llm_t *llm, llm_close_cb cb, void *data);

#endif
