/* llm_script.c — the scripted provider: replays a transcript of model responses in order,
 * in-process, through the same llm interface (delivery is asynchronous: llm.c hands the
 * result over from a zero-delay timer). Records every request for assertions.
 *
 * Transcript: {"responses": [{"match": "substring of the last user/tool message" (optional),
 *                             "text": "...", "tool_calls": [{"id"?, "name", "arguments": {...}}],
 *                             "finish": "stop|tool_calls|length", "usage": {"input_tokens","output_tokens"},
 *                             "error": "message" (optional: answer with LLM_EPROVIDER instead)}]}
 */
#include "llm_provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct llm_script {
  json_t *responses; /* array */
  size_t next;
  json_t *requests; /* recorded neutral requests */
  char name[256];
};

struct llm_script *llm__script_new(json_t *transcript, const char *path, char *err, size_t errlen) {
  json_t *root = NULL;
  if (transcript) {
    root = json_incref(transcript);
  } else {
    json_error_t je;
    root = json_load_file(path ? path : "", 0, &je);
    if (!root) {
      snprintf(err, errlen, "script: cannot load transcript %s: %s (line %d)", path ? path : "(none)", je.text,
               je.line);
      return NULL;
    }
  }
  json_t *arr = json_is_array(root) ? root : json_object_get(root, "responses");
  if (!json_is_array(arr)) {
    snprintf(err, errlen, "script: transcript %s needs {\"responses\": [...]}", path && !transcript ? path : "");
    json_decref(root);
    return NULL;
  }
  size_t i;
  json_t *r;
  json_array_foreach(arr, i, r) {
    if (!json_is_object(r)) {
      snprintf(err, errlen, "script: response %zu is not an object", i + 1);
      json_decref(root);
      return NULL;
    }
  }
  struct llm_script *s = calloc(1, sizeof *s);
  if (!s) {
    json_decref(root);
    snprintf(err, errlen, "script: out of memory");
    return NULL;
  }
  s->responses = json_incref(arr);
  json_decref(root);
  s->requests = json_array();
  snprintf(s->name, sizeof s->name, "%s", transcript ? "(inline transcript)" : path);
  return s;
}

void llm__script_free(struct llm_script *s) {
  if (!s) return;
  json_decref(s->responses);
  json_decref(s->requests);
  free(s);
}

json_t *llm__script_requests(struct llm_script *s) { return s ? s->requests : NULL; }

json_t *llm_script_requests(llm_t *llm) { return llm__script_requests(llm__get_script(llm)); }

static const char *last_input(json_t *neutral) {
  json_t *msgs = json_object_get(neutral, "messages");
  for (size_t i = json_array_size(msgs); i-- > 0;) {
    json_t *m = json_array_get(msgs, i);
    const char *role = llm__jstr(m, "role", "");
    if (!strcmp(role, "user") || !strcmp(role, "tool")) return llm__jstr(m, "content", "");
  }
  return "";
}

int llm__script_next(struct llm_script *s, json_t *neutral, struct llm_result **out, char *err, size_t errlen) {
  *out = NULL;
  json_array_append_new(s->requests, llm__neutral_snapshot(neutral)); /* not a deep copy: O(messages) per turn */
  const char *last = last_input(neutral);
  size_t n = json_array_size(s->responses);
  if (s->next >= n) {
    snprintf(err, errlen,
             "script: transcript %s exhausted: all %zu responses used (request %zu, last message \"%.80s\")", s->name,
             n, json_array_size(s->requests), last);
    return LLM_ESCRIPT;
  }
  size_t k = s->next++;
  json_t *r = json_array_get(s->responses, k);
  const char *match = llm__jstr(r, "match", NULL);
  if (match && !strstr(last, match)) {
    snprintf(err, errlen,
             "script: response %zu of %s expects the last user/tool message to contain \"%.80s\", got \"%.120s\"",
             k + 1, s->name, match, last);
    return LLM_ESCRIPT;
  }
  const char *emsg = llm__jstr(r, "error", NULL);
  if (emsg) {
    snprintf(err, errlen, "script: provider error: %s", emsg);
    return LLM_EPROVIDER;
  }
  struct llm_result *res = llm__result_new();
  if (!res) return LLM_ENOMEM;
  const char *text = llm__jstr(r, "text", "");
  int rc = llm__result_set_text(res, text, strlen(text));
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(r, "tool_calls"), i, c) {
    if (rc) break;
    json_t *a = json_object_get(c, "arguments");
    json_t *args = json_is_object(a)   ? json_deep_copy(a)
                   : json_is_string(a) ? llm__parse_args(json_string_value(a), json_string_length(a))
                                       : json_object();
    rc = llm__result_add_call(res, llm__jstr(c, "id", NULL), llm__jstr(c, "name", ""), args,
                              json_is_string(a) ? json_string_value(a) : NULL);
  }
  const char *f = llm__jstr(r, "finish", NULL);
  enum llm_finish fin = !f                                             ? (res->ncalls ? LLM_STOP_TOOL : LLM_STOP_END)
                        : !strcmp(f, "stop") || !strcmp(f, "end_turn") ? LLM_STOP_END
                        : !strcmp(f, "tool_calls") || !strcmp(f, "tool_use") ? LLM_STOP_TOOL
                        : !strcmp(f, "length") || !strcmp(f, "max_tokens")   ? LLM_STOP_LENGTH
                                                                             : LLM_STOP_OTHER;
  if (!rc) rc = llm__result_set_finish(res, fin, f ? f : "");
  if (rc) {
    llm_result_free(res);
    snprintf(err, errlen, "script: out of memory");
    return rc;
  }
  llm__usage(json_object_get(r, "usage"), "input_tokens", "output_tokens", &res->usage.input_tokens,
             &res->usage.output_tokens);
  llm__set_str(&res->model, "script");
  llm__result_normalize(res);
  *out = res;
  return LLM_OK;
}
