/* mcp_server: the MCP protocol over the live core's requests and events (mcp.h). Transport-free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "strbuf.h"

static const char *const supported_versions[] = {MCP_PROTOCOL_LATEST, "2025-06-18", "2025-03-26", "2024-11-05", NULL};

/* The small profile: the ten tools a small model uses most. */
static const char *const small_tools[MCP_SMALL_TOOLS] = {"ask",       "get_state",  "create_track", "create_midi_clip",
                                                         "edit_clip", "add_effect", "set_track",    "set_tempo",
                                                         "transport", "undo"};

struct pending {
  json_t *id;       /* the JSON-RPC id (own reference) */
  json_t *progress; /* _meta.progressToken (own reference) or NULL */
  int request;      /* live request id */
  int progress_n;
  int cancelled;    /* the client sent notifications/cancelled: no response */
  const char *tool; /* static or from the tools list: only for the text */
  char tool_name[64];
  json_t *steps;  /* [{index, tool, args, outcome, result, message}] */
  json_t *plan;   /* the plan event's plan, or NULL */
  json_t *errors; /* "error" event messages */
  struct pending *next;
};

enum read_cont { C_RES_LIST, C_RES_READ, C_HISTORY_TOOL };
struct mcp_read {
  enum read_cont cont;
  json_t *id;
  char uri[256];
  struct mcp_read *next;
};

struct mcp_server {
  struct mcp_read *reads; /* reads the core has not answered yet */
  struct mcp_server_config cfg;
  int initialized;  /* initialize answered */
  char version[16]; /* negotiated protocol revision */
  struct pending *pending;
  json_t *subscriptions; /* object used as a set of URIs */
};

const char *mcp_strerror(int code) {
  switch (code) {
  case MCP_OK: return "ok";
  case MCP_EINVAL: return "invalid argument";
  case MCP_ENOMEM: return "out of memory";
  default: return "unknown mcp error";
  }
}

int mcp_server_new(const struct mcp_server_config *cfg, mcp_server_t **out) {
  *out = NULL;
  if (!cfg || !cfg->send) return MCP_EINVAL;
  mcp_server_t *s = calloc(1, sizeof *s);
  if (!s) return MCP_ENOMEM;
  s->cfg = *cfg;
  s->subscriptions = json_object();
  if (!s->subscriptions) {
    free(s);
    return MCP_ENOMEM;
  }
  *out = s;
  return MCP_OK;
}

static void pending_free(struct pending *p) {
  json_decref(p->id);
  json_decref(p->progress);
  json_decref(p->steps);
  json_decref(p->plan);
  json_decref(p->errors);
  free(p);
}

void mcp_server_free(mcp_server_t *s) {
  if (!s) return;
  while (s->pending) {
    struct pending *p = s->pending;
    s->pending = p->next;
    pending_free(p);
  }
  while (s->reads) {
    struct mcp_read *r = s->reads;
    s->reads = r->next;
    json_decref(r->id);
    free(r);
  }
  json_decref(s->subscriptions);
  free(s);
}

int mcp_server_pending(const mcp_server_t *s) {
  int n = 0;
  for (const struct pending *p = s->pending; p; p = p->next) n++;
  for (const struct mcp_read *r = s->reads; r; r = r->next) n++;
  return n;
}

/* ---- sending ---- */

static void send_json(mcp_server_t *s, json_t *msg /* steals */) {
  if (!msg) return;
  char *text = json_dumps(msg, JSON_COMPACT);
  json_decref(msg);
  if (!text) {
    log_msg(&s->cfg.log, LOG_ERROR, "mcp", "cannot encode a frame (out of memory)");
    return;
  }
  s->cfg.send(text, strlen(text), s->cfg.send_data);
  free(text);
}

static void send_result(mcp_server_t *s, json_t *id /* borrowed */, json_t *result /* steals */) {
  json_t *m = json_object();
  json_object_set_new(m, "jsonrpc", json_string("2.0"));
  json_object_set(m, "id", id);
  json_object_set_new(m, "result", result ? result : json_object());
  send_json(s, m);
}

static void send_error(mcp_server_t *s, json_t *id /* borrowed, NULL = null */, int code, const char *message) {
  json_t *m = json_object();
  json_object_set_new(m, "jsonrpc", json_string("2.0"));
  json_object_set_new(m, "id", id ? json_incref(id) : json_null());
  json_object_set_new(m, "error", json_pack("{siss}", "code", code, "message", message));
  send_json(s, m);
}

static void send_notification(mcp_server_t *s, const char *method, json_t *params /* steals */) {
  json_t *m = json_object();
  json_object_set_new(m, "jsonrpc", json_string("2.0"));
  json_object_set_new(m, "method", json_string(method));
  if (params) json_object_set_new(m, "params", params);
  send_json(s, m);
}

/* ---- reads (answered now in-process, later through the daemon) ---- */

static void read_finish(mcp_server_t *s, struct mcp_read *op, json_t *result, const char *err);

static void start_read(mcp_server_t *s, json_t *id, enum read_cont cont, const char *uri, enum mcp_read_what what,
                       int n) {
  struct mcp_read *op = calloc(1, sizeof *op);
  if (!op) {
    send_error(s, id, MCP_ERR_INTERNAL, "out of memory");
    return;
  }
  op->cont = cont;
  op->id = json_incref(id);
  snprintf(op->uri, sizeof op->uri, "%s", uri ? uri : "");
  op->next = s->reads;
  s->reads = op;
  if (s->cfg.backend.read)
    s->cfg.backend.read(s->cfg.backend.data, what, n, op);
  else
    mcp_server_read_done(s, op, NULL, "not available");
}

void mcp_server_read_done(mcp_server_t *s, struct mcp_read *op, json_t *result, const char *err) {
  for (struct mcp_read **pp = &s->reads; *pp; pp = &(*pp)->next)
    if (*pp == op) {
      *pp = op->next;
      read_finish(s, op, result, err);
      json_decref(op->id);
      free(op);
      json_decref(result);
      return;
    }
  json_decref(result); /* not ours (already forgotten) */
}

/* ---- tools ---- */

static int is_small(const char *name) {
  for (int i = 0; i < MCP_SMALL_TOOLS; i++)
    if (!strcmp(small_tools[i], name)) return 1;
  return 0;
}

/* The structuredContent every change tool returns (the client's SDK checks it against this). */
static json_t *outcome_schema(void) {
  return json_pack("{ss s{s{ss s[sssss]} s{ss} s{ss} s{ss} s{ss} s{ss} s{ss}} s[ssss]}", "type", "object", "properties",
                   "outcome", "type", "string", "enum", "confirmed", "uncertain", "failed", "cancelled", "refused",
                   "confirmed", "type", "integer", "uncertain", "type", "integer", "failed", "type", "integer", "total",
                   "type", "integer", "steps", "type", "array", "summary", "type", "string", "required", "outcome",
                   "confirmed", "uncertain", "failed");
}

static json_t *annotations(const char *title, int read_only, int destructive, int idempotent) {
  json_t *a = json_pack("{sssb}", "title", title, "readOnlyHint", read_only);
  if (!read_only) {
    json_object_set_new(a, "destructiveHint", json_boolean(destructive));
    json_object_set_new(a, "idempotentHint", json_boolean(idempotent));
  } else {
    json_object_set_new(a, "idempotentHint", json_true());
  }
  /* the DAW is the only world these tools touch */
  json_object_set_new(a, "openWorldHint", json_false());
  return a;
}

static void title_of(const char *name, char *out, size_t n) {
  size_t i = 0;
  for (; name[i] && i + 1 < n; i++) out[i] = name[i] == '_' ? ' ' : name[i];
  out[i] = 0;
  if (out[0] >= 'a' && out[0] <= 'z') out[0] = (char)(out[0] - 'a' + 'A');
}

/* One vocabulary tool as the vocabulary shapes it for MCP ({name, description, inputSchema, annotations}: the
 * annotations come from the table's kind and idempotent flag), plus a title, the outcome schema and the
 * description limit. */
static json_t *vocab_tool(const json_t *t) {
  const char *name = json_string_value(json_object_get(t, "name"));
  const char *desc = json_string_value(json_object_get(t, "description"));
  json_t *schema = json_object_get(t, "inputSchema");
  if (!name || !json_is_object(schema)) return NULL;
  char title[80];
  title_of(name, title, sizeof title);
  char d[MCP_DESC_MAX + 1];
  snprintf(d, sizeof d, "%s", desc ? desc : title);
  if (desc && strlen(desc) > MCP_DESC_MAX) memcpy(d + MCP_DESC_MAX - 3, "...", 4);
  json_t *ann = json_is_object(json_object_get(t, "annotations")) ? json_deep_copy(json_object_get(t, "annotations"))
                                                                  : json_object();
  json_object_set_new(ann, "title", json_string(title));
  return json_pack("{ss ss ss sO so so}", "name", name, "title", title, "description", d, "inputSchema", schema,
                   "outputSchema", outcome_schema(), "annotations", ann);
}

json_t *mcp_server_tools(mcp_server_t *s) {
  json_t *out = json_array();
  json_t *vocab = s->cfg.backend.tools ? s->cfg.backend.tools(s->cfg.backend.tools_data ? s->cfg.backend.tools_data
                                                                                        : s->cfg.backend.data)
                                       : NULL;
  json_t *ask = json_pack(
      "{ss ss ss s{ss s{s{ss ss si}} s[s] sb} so so}", "name", "ask", "title", "Ask", "description",
      "The whole dawbridge agent: a musical request in words; it plans (validated before anything is sent), runs "
      "each step in the DAW, verifies and saves an undoable iteration. Returns the plan and each step's outcome.",
      "inputSchema", "type", "object", "properties", "text", "type", "string", "description",
      "The request, e.g. 'a four-on-the-floor kick and a sub bass in A minor, 4 bars'", "minLength", 1, "required",
      "text", "additionalProperties", 0, "outputSchema", outcome_schema(), "annotations", annotations("Ask", 0, 1, 0));
  json_array_append_new(out, ask);
  size_t i;
  json_t *t;
  json_array_foreach(vocab, i, t) {
    json_t *m = vocab_tool(t);
    if (m) json_array_append_new(out, m);
  }
  json_decref(vocab);
  json_array_append_new(
      out,
      json_pack("{ss ss ss s{ss s{s{ss si ss} s{ss ss}} sb} so so}", "name", "undo", "title", "Undo", "description",
                "Revert an AI iteration (default: the last) and keep the musician's own edits since; stops and "
                "names a conflicting edit unless force is true.",
                "inputSchema", "type", "object", "properties", "iteration", "type", "integer", "minimum", 0,
                "description", "Iteration number; 0 or absent = the last", "force", "type", "boolean", "description",
                "Also revert conflicting later edits", "additionalProperties", 0, "outputSchema", outcome_schema(),
                "annotations", annotations("Undo", 0, 1, 0)));
  json_array_append_new(
      out, json_pack("{ss ss ss s{ss s{s{ss si ss}} sb} so}", "name", "history", "title", "History", "description",
                     "The saved iterations (number, request, outcome counts), or one iteration in full with its "
                     "plan and actions.",
                     "inputSchema", "type", "object", "properties", "iteration", "type", "integer", "minimum", 1,
                     "description", "One iteration's number; absent = the list", "additionalProperties", 0,
                     "annotations", annotations("History", 1, 0, 1)));
  if (s->cfg.small) {
    json_t *small = json_array();
    json_array_foreach(out, i, t) {
      if (is_small(json_string_value(json_object_get(t, "name")))) json_array_append(small, t);
    }
    json_decref(out);
    out = small;
  }
  while (json_array_size(out) > MCP_TOOLS_MAX) json_array_remove(out, json_array_size(out) - 1);
  return out;
}

static json_t *find_tool(json_t *tools, const char *name) {
  size_t i;
  json_t *t;
  json_array_foreach(tools, i, t) {
    if (!strcmp(json_string_value(json_object_get(t, "name")), name)) return t;
  }
  return NULL;
}

/* ---- tool results ---- */

static const char *outcome_of(const json_t *done) {
  const char *status = json_string_value(json_object_get(done, "status"));
  if (status && !strcmp(status, "cancelled")) return "cancelled";
  if (json_integer_value(json_object_get(done, "failed")) > 0) return "failed";
  if (status && strcmp(status, "ok")) return "refused";
  if (json_integer_value(json_object_get(done, "uncertain")) > 0) return "uncertain";
  return "confirmed";
}

/* text for one step: "create_track: confirmed (track t4, clip c2) — message" */
static void text_step(json_t *step, char *buf, size_t n) {
  const char *tool = json_string_value(json_object_get(step, "tool"));
  const char *outcome = json_string_value(json_object_get(step, "outcome"));
  const char *msg = json_string_value(json_object_get(step, "message"));
  json_t *res = json_object_get(step, "result");
  const char *tid = json_string_value(json_object_get(res, "track_id"));
  const char *cid = json_string_value(json_object_get(res, "clip_id"));
  snprintf(buf, n, "%s: %s%s%s%s%s%s%s%s", tool ? tool : "?", outcome ? outcome : "?", tid ? " (track " : "",
           tid ? tid : "", cid ? ", clip " : "", cid ? cid : "", tid ? ")" : "", msg ? " - " : "", msg ? msg : "");
}

static json_t *call_result(mcp_server_t *s, struct pending *p, const json_t *done) {
  (void)s;
  const char *outcome = outcome_of(done);
  json_t *sc = json_object();
  json_object_set_new(sc, "outcome", json_string(outcome));
  const char *keys[] = {"status", "exit_code", "confirmed", "uncertain", "failed", "total", "summary", "iteration"};
  for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
    json_t *v = json_object_get(done, keys[k]);
    if (v) json_object_set(sc, keys[k], v);
  }
  for (size_t k = 2; k < 6; k++)
    if (!json_object_get(sc, keys[k])) json_object_set_new(sc, keys[k], json_integer(0));
  json_object_set(sc, "steps", p->steps);
  if (p->plan) json_object_set(sc, "plan", p->plan);
  if (json_array_size(p->errors)) json_object_set(sc, "errors", p->errors);
  json_t *resp = json_object_get(done, "response");
  const char *words = json_string_value(json_object_get(resp, "response"));
  if (words) json_object_set_new(sc, "response", json_string(words));

  /* the short text for the model: the summary, each step, the reasons */
  strbuf_t t = STRBUF_INIT;
  char line[1024];
  const char *summary = json_string_value(json_object_get(done, "summary"));
  /* one direct call: its step line says it all ("create_track: confirmed (track t4)") */
  int single = json_array_size(p->steps) == 1 && !p->plan;
  if (!single) {
    strbuf_appendf(&t, "%s%s%s", outcome, summary ? ": " : "", summary ? summary : "");
  }
  size_t i;
  json_t *v;
  json_array_foreach(p->steps, i, v) {
    text_step(v, line, sizeof line);
    if (!single || i) strbuf_puts(&t, "\n");
    strbuf_puts(&t, line);
    /* a read's result is what the model asked for: the data itself */
    json_t *res = json_object_get(v, "result");
    json_t *st = json_object_get(res, "state");
    if (st) {
      char *dump = json_dumps(st, JSON_COMPACT);
      if (dump) {
        strbuf_puts(&t, "\n");
        strbuf_puts(&t, dump);
        free(dump);
      }
    }
  }
  json_array_foreach(p->errors, i, v) {
    strbuf_puts(&t, "\n");
    strbuf_puts(&t, json_string_value(v));
  }
  if (words) {
    strbuf_puts(&t, "\n");
    strbuf_puts(&t, words);
  }
  char *text = strbuf_take(&t, NULL); /* NULL when out of memory: json_pack fails, r is NULL */
  int is_error = !strcmp(outcome, "failed") || !strcmp(outcome, "refused") || !strcmp(outcome, "cancelled");
  json_t *r = json_pack("{s[{ssss}] so sb}", "content", "type", "text", "text", text, "structuredContent", sc,
                        "isError", is_error);
  free(text);
  return r;
}

/* A call that never reached the core (the core refused to queue it): isError with the reason. */
static json_t *refused_result(const char *reason) {
  json_t *sc = json_pack("{ss si si si si s[] ss}", "outcome", "refused", "confirmed", 0, "uncertain", 0, "failed", 0,
                         "total", 0, "steps", "summary", reason);
  return json_pack("{s[{ssss}] so sb}", "content", "type", "text", "text", reason, "structuredContent", sc, "isError",
                   1);
}

static void progress(mcp_server_t *s, struct pending *p, const char *message) {
  if (!p->progress || p->cancelled) return;
  p->progress_n++;
  json_t *params = json_pack("{sO si ss}", "progressToken", p->progress, "progress", p->progress_n, "message", message);
  send_notification(s, "notifications/progress", params);
}

static struct pending *pending_find(mcp_server_t *s, int request) {
  for (struct pending *p = s->pending; p; p = p->next)
    if (p->request == request) return p;
  return NULL;
}

static void pending_remove(mcp_server_t *s, struct pending *p) {
  for (struct pending **pp = &s->pending; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      pending_free(p);
      return;
    }
}

static void notify_updated(mcp_server_t *s, const char *uri) {
  if (json_object_get(s->subscriptions, uri))
    send_notification(s, "notifications/resources/updated", json_pack("{ss}", "uri", uri));
}

void mcp_server_event(mcp_server_t *s, const json_t *ev) {
  const char *type = json_string_value(json_object_get(ev, "type"));
  if (!type) return;
  if (!strcmp(type, "state")) {
    notify_updated(s, "dawbridge://session");
    /* the tracks named as changed, and every subscribed track when the change names none */
    json_t *changed = json_object_get(ev, "changed");
    const char *uri;
    json_t *v;
    json_object_foreach(s->subscriptions, uri, v) {
      if (strncmp(uri, "dawbridge://track/", 18)) continue;
      size_t i;
      json_t *c;
      int hit = !json_array_size(changed);
      json_array_foreach(changed, i, c) {
        if (json_is_string(c) && !strcmp(json_string_value(c), uri + 18)) hit = 1;
      }
      if (hit) send_notification(s, "notifications/resources/updated", json_pack("{ss}", "uri", uri));
    }
    return;
  }
  if (!strcmp(type, "connection")) {
    /* what the DAW can do may differ after it came (back): the client re-reads tools/list */
    const char *st = json_string_value(json_object_get(ev, "state"));
    if (s->initialized && st && strcmp(st, "lost")) send_notification(s, "notifications/tools/list_changed", NULL);
    return;
  }
  json_t *rid = json_object_get(ev, "request");
  if (!json_is_integer(rid)) return;
  if (!strcmp(type, "done") && !json_is_null(json_object_get(ev, "iteration")) && json_object_get(ev, "iteration"))
    notify_updated(s, "dawbridge://history");
  struct pending *p = pending_find(s, (int)json_integer_value(rid));
  if (!p) return; /* another client's request (daemon) */
  char msg[512];
  if (!strcmp(type, "stage")) {
    snprintf(msg, sizeof msg, "%s",
             json_string_value(json_object_get(ev, "stage")) ? json_string_value(json_object_get(ev, "stage"))
                                                             : "stage");
    progress(s, p, msg);
  } else if (!strcmp(type, "plan")) {
    json_decref(p->plan);
    p->plan = json_incref(json_object_get(ev, "plan"));
    size_t n = json_array_size(json_object_get(p->plan, "steps"));
    snprintf(msg, sizeof msg, "plan: %zu steps%s", n,
             json_array_size(json_object_get(ev, "errors")) ? " (errors)" : "");
    progress(s, p, msg);
  } else if (!strcmp(type, "step")) {
    json_t *st = json_object();
    const char *keys[] = {"index", "total", "tool", "args", "outcome", "result", "message"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
      json_t *v = json_object_get(ev, keys[k]);
      if (v) json_object_set(st, keys[k], v);
    }
    json_array_append_new(p->steps, st);
    char line[400];
    text_step(st, line, sizeof line);
    json_int_t idx = json_integer_value(json_object_get(ev, "index"));
    if (idx > 0)
      snprintf(msg, sizeof msg, "step %lld/%lld %s", (long long)idx,
               (long long)json_integer_value(json_object_get(ev, "total")), line);
    else
      snprintf(msg, sizeof msg, "call %s", line); /* not a plan step (a direct call, a read) */
    progress(s, p, msg);
  } else if (!strcmp(type, "error")) {
    const char *m = json_string_value(json_object_get(ev, "message"));
    if (m) json_array_append_new(p->errors, json_string(m));
  } else if (!strcmp(type, "done")) {
    if (!p->cancelled) {
      json_t *r = call_result(s, p, ev);
      if (r)
        send_result(s, p->id, r);
      else
        send_error(s, p->id, MCP_ERR_INTERNAL, "out of memory");
    }
    pending_remove(s, p);
  }
}

/* ---- methods ---- */

static void do_initialize(mcp_server_t *s, json_t *id, json_t *params) {
  const char *asked = json_string_value(json_object_get(params, "protocolVersion"));
  if (!json_is_object(params) || !asked) {
    send_error(s, id, MCP_ERR_PARAMS, "initialize: params.protocolVersion (a string) is required");
    return;
  }
  if (s->initialized) {
    send_error(s, id, MCP_ERR_INVALID_REQUEST, "initialize: already initialized");
    return;
  }
  const char *v = MCP_PROTOCOL_LATEST;
  for (int i = 0; supported_versions[i]; i++)
    if (!strcmp(asked, supported_versions[i])) v = supported_versions[i];
  snprintf(s->version, sizeof s->version, "%s", v);
  s->initialized = 1;
  json_t *r = json_pack(
      "{ss s{s{sb} s{sbsb}} s{ssssss} ss}", "protocolVersion", v, "capabilities", "tools", "listChanged", 1,
      "resources", "subscribe", 1, "listChanged", 0, "serverInfo", "name", "dawbridge", "title", "dawbridge", "version",
      s->cfg.version ? s->cfg.version : "0", "instructions",
      "dawbridge drives a DAW (REAPER or Ardour). Every change is confirmed by the DAW itself: each result says "
      "confirmed, uncertain (sent, no word from the DAW) or failed. Use 'ask' for a musical request in words "
      "(planned, validated, executed, saved as an undoable iteration), the other tools for single edits, "
      "get_state or the dawbridge://session resource to read the session (units: beats).");
  send_result(s, id, r);
}

static void do_tools_call(mcp_server_t *s, json_t *id, json_t *params) {
  const char *name = json_string_value(json_object_get(params, "name"));
  json_t *args = json_object_get(params, "arguments");
  if (!name) {
    send_error(s, id, MCP_ERR_PARAMS, "tools/call: params.name (a string) is required");
    return;
  }
  if (args && !json_is_object(args) && !json_is_null(args)) {
    send_error(s, id, MCP_ERR_PARAMS, "tools/call: params.arguments must be an object");
    return;
  }
  json_t *tools = mcp_server_tools(s);
  json_t *tool = find_tool(tools, name);
  if (!tool) {
    char m[200];
    snprintf(m, sizeof m, "Unknown tool: %.100s", name);
    json_decref(tools);
    send_error(s, id, MCP_ERR_PARAMS, m);
    return;
  }
  json_decref(tools);
  json_t *own_args = json_is_object(args) ? json_incref(args) : json_object();
  struct live_request req = {.client = "mcp"};
  char err[512] = "";
  if (!strcmp(name, "history")) {
    json_t *it = json_object_get(own_args, "iteration");
    int bad = it && (!json_is_integer(it) || json_integer_value(it) < 1 || json_integer_value(it) > 1000000000);
    int n = it && !bad ? (int)json_integer_value(it) : 0;
    json_decref(own_args);
    if (bad)
      send_result(s, id, refused_result("history: iteration must be an integer >= 1"));
    else
      start_read(s, id, C_HISTORY_TOOL, NULL, n ? MCP_READ_ITERATION : MCP_READ_HISTORY, n);
    return;
  }
  if (!strcmp(name, "ask")) {
    req.kind = LIVE_ASK;
    req.text = json_string_value(json_object_get(own_args, "text"));
    if (!req.text || !req.text[0]) snprintf(err, sizeof err, "ask: 'text' (the request in words) is required");
  } else if (!strcmp(name, "undo")) {
    req.kind = LIVE_UNDO;
    json_t *it = json_object_get(own_args, "iteration");
    json_t *force = json_object_get(own_args, "force");
    if (it && (!json_is_integer(it) || json_integer_value(it) < 0 || json_integer_value(it) > 1000000000))
      snprintf(err, sizeof err, "undo: iteration must be an integer >= 0");
    else if (force && !json_is_boolean(force))
      snprintf(err, sizeof err, "undo: force must be true or false");
    req.iteration = it ? (int)json_integer_value(it) : 0;
    req.flags = json_is_true(force) ? LIVE_FORCE : 0;
  } else {
    req.kind = LIVE_CALL;
    req.tool = name;
    req.args = own_args;
  }
  if (err[0]) {
    json_decref(own_args);
    send_result(s, id, refused_result(err));
    return;
  }
  int rid = s->cfg.backend.submit ? s->cfg.backend.submit(s->cfg.backend.data, &req) : LIVE_ECONFIG;
  json_decref(own_args);
  if (rid <= 0) {
    snprintf(err, sizeof err, "%s: not run: %s", name,
             s->cfg.backend.strerror ? s->cfg.backend.strerror(rid) : "the core is not available");
    send_result(s, id, refused_result(err));
    return;
  }
  struct pending *p = calloc(1, sizeof *p);
  if (!p) {
    send_error(s, id, MCP_ERR_INTERNAL, "out of memory");
    return;
  }
  p->id = json_incref(id);
  json_t *tok = json_object_get(json_object_get(params, "_meta"), "progressToken");
  if (json_is_string(tok) || json_is_integer(tok)) p->progress = json_incref(tok);
  p->request = rid;
  snprintf(p->tool_name, sizeof p->tool_name, "%s", name);
  p->tool = p->tool_name;
  p->steps = json_array();
  p->errors = json_array();
  p->next = s->pending;
  s->pending = p;
}

/* ---- resources ---- */

static json_t *resource(const char *uri, const char *name, const char *title, const char *desc) {
  return json_pack("{ssssssssss}", "uri", uri, "name", name, "title", title, "description", desc, "mimeType",
                   "application/json");
}

static void resources_list_done(mcp_server_t *s, json_t *id, json_t *state) {
  json_t *list = json_array();
  json_array_append_new(list, resource("dawbridge://session", "session", "Session",
                                       "The DAW session as dawbridge mirrors it (tempo, tracks, clips with notes, "
                                       "effects; units: beats). docs/session-json.md"));
  json_array_append_new(list, resource("dawbridge://history", "history", "History",
                                       "The saved iterations of the AI's changes, newest last"));
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    const char *tid = json_string_value(json_object_get(t, "id"));
    const char *tname = json_string_value(json_object_get(t, "name"));
    if (!tid) continue;
    char uri[128], title[200];
    snprintf(uri, sizeof uri, "dawbridge://track/%.64s", tid);
    snprintf(title, sizeof title, "Track %.16s: %.128s", tid, tname ? tname : "");
    json_array_append_new(list, resource(uri, tid, title, "One track: mix, instrument, effects, clips and notes"));
  }
  send_result(s, id, json_pack("{so}", "resources", list));
}

static void do_templates_list(mcp_server_t *s, json_t *id) {
  json_t *list = json_pack("[{ssssssss},{ssssssss}]", "uriTemplate", "dawbridge://track/{track_id}", "name", "track",
                           "description", "One track by its id (t1, t2, ...)", "mimeType", "application/json",
                           "uriTemplate", "dawbridge://history/{iteration}", "name", "iteration", "description",
                           "One saved iteration in full (plan, actions, outcomes)", "mimeType", "application/json");
  send_result(s, id, json_pack("{so}", "resourceTemplates", list));
}

static void resources_read_done(mcp_server_t *s, json_t *id, const char *uri, json_t *j /* borrowed */,
                                const char *err) {
  if (j && !strncmp(uri, "dawbridge://track/", 18)) {
    json_t *found = NULL, *t;
    size_t i;
    json_array_foreach(json_object_get(j, "tracks"), i, t) {
      const char *tid = json_string_value(json_object_get(t, "id"));
      if (tid && !strcmp(tid, uri + 18)) found = t;
    }
    if (!found) {
      char m[200];
      snprintf(m, sizeof m, "Resource not found: no track '%.64s' in the session", uri + 18);
      send_error(s, id, MCP_ERR_PARAMS, m);
      return;
    }
    j = found;
  }
  if (!j) {
    send_error(s, id, MCP_ERR_PARAMS, err && err[0] ? err : "Resource not available");
    return;
  }
  char *text = json_dumps(j, JSON_COMPACT);
  if (!text) {
    send_error(s, id, MCP_ERR_INTERNAL, "out of memory");
    return;
  }
  send_result(s, id, json_pack("{s[{ssssss}]}", "contents", "uri", uri, "mimeType", "application/json", "text", text));
  free(text);
}

static void do_resources_read(mcp_server_t *s, json_t *id, json_t *params) {
  const char *uri = json_string_value(json_object_get(params, "uri"));
  if (!uri) {
    send_error(s, id, MCP_ERR_PARAMS, "resources/read: params.uri (a string) is required");
    return;
  }
  char m[200];
  if (strlen(uri) >= sizeof((struct mcp_read *)0)->uri) {
    send_error(s, id, MCP_ERR_PARAMS, "Resource not found: the URI is too long");
  } else if (!strcmp(uri, "dawbridge://session") || !strncmp(uri, "dawbridge://track/", 18)) {
    start_read(s, id, C_RES_READ, uri, MCP_READ_STATE, 0);
  } else if (!strcmp(uri, "dawbridge://history")) {
    start_read(s, id, C_RES_READ, uri, MCP_READ_HISTORY, 0);
  } else if (!strncmp(uri, "dawbridge://history/", 20)) {
    char *end;
    long n = strtol(uri + 20, &end, 10);
    if (*end || end == uri + 20 || n < 1 || n > 1000000000) {
      snprintf(m, sizeof m, "Resource not found: '%.100s' (an iteration number)", uri);
      send_error(s, id, MCP_ERR_PARAMS, m);
    } else {
      start_read(s, id, C_RES_READ, uri, MCP_READ_ITERATION, (int)n);
    }
  } else {
    snprintf(m, sizeof m, "Resource not found: '%.100s'", uri);
    send_error(s, id, MCP_ERR_PARAMS, m);
  }
}

static void history_tool_done(mcp_server_t *s, json_t *id, json_t *h, const char *err) {
  if (!h) {
    send_result(s, id, refused_result(err && err[0] ? err : "history: not available"));
    return;
  }
  json_t *sc = json_is_object(h) ? json_incref(h) : json_pack("{sO}", "iterations", h);
  char *dump = json_dumps(h, JSON_COMPACT);
  json_t *r = json_pack("{s[{ssss}] so}", "content", "type", "text", "text", dump ? dump : "", "structuredContent", sc);
  free(dump);
  send_result(s, id, r);
}

static void read_finish(mcp_server_t *s, struct mcp_read *op, json_t *result, const char *err) {
  switch (op->cont) {
  case C_RES_LIST: resources_list_done(s, op->id, result); break;
  case C_RES_READ: resources_read_done(s, op->id, op->uri, result, err); break;
  case C_HISTORY_TOOL: history_tool_done(s, op->id, result, err); break;
  }
}

static void do_subscribe(mcp_server_t *s, json_t *id, json_t *params, int on) {
  const char *uri = json_string_value(json_object_get(params, "uri"));
  if (!uri) {
    send_error(s, id, MCP_ERR_PARAMS, "resources/subscribe: params.uri (a string) is required");
    return;
  }
  if (strcmp(uri, "dawbridge://session") && strcmp(uri, "dawbridge://history") &&
      strncmp(uri, "dawbridge://track/", 18)) {
    char m[200];
    snprintf(m, sizeof m, "Resource not found: '%.100s'", uri);
    send_error(s, id, MCP_ERR_PARAMS, m);
    return;
  }
  if (on)
    json_object_set_new(s->subscriptions, uri, json_true());
  else
    json_object_del(s->subscriptions, uri);
  send_result(s, id, json_object());
}

static void do_cancelled(mcp_server_t *s, json_t *params) {
  json_t *rid = json_object_get(params, "requestId");
  if (!rid) return;
  for (struct pending *p = s->pending; p; p = p->next) {
    if (json_equal(p->id, rid) && !p->cancelled) {
      p->cancelled = 1;
      log_msg(&s->cfg.log, LOG_INFO, "mcp", "cancel: request %d", p->request);
      if (s->cfg.backend.cancel) s->cfg.backend.cancel(s->cfg.backend.data, p->request);
      return;
    }
  }
}

void mcp_server_oversized(mcp_server_t *s, size_t len) {
  char m[160];
  snprintf(m, sizeof m, "Invalid Request: a frame of more than %u bytes (%zu read) was dropped", MCP_FRAME_MAX, len);
  send_error(s, NULL, MCP_ERR_INVALID_REQUEST, m);
}

void mcp_server_frame(mcp_server_t *s, const char *frame, size_t len) {
  /* an empty line (or one of whitespace) is no frame */
  size_t k = 0;
  while (k < len && (frame[k] == ' ' || frame[k] == '\t' || frame[k] == '\r')) k++;
  if (k == len) return;
  if (len > MCP_FRAME_MAX) {
    mcp_server_oversized(s, len);
    return;
  }
  json_error_t je;
  json_t *msg = json_loadb(frame, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
  if (!msg) {
    char m[300];
    snprintf(m, sizeof m, "Parse error: %s (line %d, column %d)", je.text, je.line, je.column);
    send_error(s, NULL, MCP_ERR_PARSE, m);
    return;
  }
  if (!json_is_object(msg)) {
    send_error(s, NULL, MCP_ERR_INVALID_REQUEST,
               json_is_array(msg) ? "Invalid Request: batches are not part of MCP; send one object per line"
                                  : "Invalid Request: a frame must be a JSON object");
    json_decref(msg);
    return;
  }
  json_t *id = json_object_get(msg, "id");
  json_t *method = json_object_get(msg, "method");
  int id_ok = json_is_string(id) || json_is_integer(id);
  const char *jv = json_string_value(json_object_get(msg, "jsonrpc"));
  if (!jv || strcmp(jv, "2.0")) {
    send_error(s, id_ok ? id : NULL, MCP_ERR_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
    json_decref(msg);
    return;
  }
  if (!method) {
    /* a response to a request of ours: we send none, so there is nothing to match; a bare object is invalid */
    if (!json_object_get(msg, "result") && !json_object_get(msg, "error"))
      send_error(s, id_ok ? id : NULL, MCP_ERR_INVALID_REQUEST, "Invalid Request: no \"method\"");
    json_decref(msg);
    return;
  }
  if (!json_is_string(method) || (id && !id_ok)) {
    send_error(s, id_ok ? id : NULL, MCP_ERR_INVALID_REQUEST,
               !json_is_string(method) ? "Invalid Request: \"method\" must be a string"
                                       : "Invalid Request: \"id\" must be a string or an integer");
    json_decref(msg);
    return;
  }
  const char *m = json_string_value(method);
  json_t *params = json_object_get(msg, "params");
  if (params && !json_is_object(params)) {
    if (id) send_error(s, id, MCP_ERR_PARAMS, "Invalid params: \"params\" must be an object");
    json_decref(msg);
    return;
  }
  if (!id) { /* notifications: never answered */
    if (!strcmp(m, "notifications/cancelled"))
      do_cancelled(s, params);
    else if (!strcmp(m, "notifications/initialized"))
      log_msg(&s->cfg.log, LOG_INFO, "mcp", "client initialized");
    else
      log_msg(&s->cfg.log, LOG_DEBUG, "mcp", "ignored notification %.80s", m);
    json_decref(msg);
    return;
  }
  log_msg(&s->cfg.log, LOG_DEBUG, "mcp", "request %.80s", m);
  if (!strcmp(m, "initialize"))
    do_initialize(s, id, params);
  else if (!strcmp(m, "ping"))
    send_result(s, id, json_object());
  else if (!s->initialized)
    send_error(s, id, MCP_ERR_NOT_INITIALIZED, "Server not initialized: send initialize first");
  else if (!strcmp(m, "tools/list"))
    send_result(s, id, json_pack("{so}", "tools", mcp_server_tools(s)));
  else if (!strcmp(m, "tools/call"))
    do_tools_call(s, id, params);
  else if (!strcmp(m, "resources/list"))
    start_read(s, id, C_RES_LIST, NULL, MCP_READ_STATE, 0);
  else if (!strcmp(m, "resources/templates/list"))
    do_templates_list(s, id);
  else if (!strcmp(m, "resources/read"))
    do_resources_read(s, id, params);
  else if (!strcmp(m, "resources/subscribe"))
    do_subscribe(s, id, params, 1);
  else if (!strcmp(m, "resources/unsubscribe"))
    do_subscribe(s, id, params, 0);
  else {
    char e[160];
    snprintf(e, sizeof e, "Method not found: %.100s", m);
    send_error(s, id, MCP_ERR_METHOD, e);
  }
  json_decref(msg);
}
