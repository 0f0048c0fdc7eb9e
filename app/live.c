/* live: the live session core (see live.h). One DAW link, the model client, one agent, the conversation, a FIFO
 * of requests, and the subscribers of the one event model.
 *
 * Events are queued and delivered from a zero timer (never synchronously from a live_* call), in order. The
 * mirror is watched by a uv_check handle (after each loop iteration: session_version moved?), coalesced to at
 * most 10 "state" events per second by a one-shot timer; nothing runs when nothing happens (no polling). When a
 * request finds the DAW silent (unreachable, timed out, uncertain), one refresh checks it; if that fails, the
 * session is "lost" and refreshes again with backoff (reconnect_ms doubling to 10 s) until it answers
 * ("resynced"). */
#include "live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "errfmt.h"
#include "histop.h"
#include "history.h"
#include "llm.h"
#include "vocab.h"

#define LIVE_STATE_MIN_MS 100
#define LIVE_TURNS_MAX 64
#define LIVE_RECONNECT_MAX_MS 10000

struct req {
  int id;
  enum live_kind kind;
  char *text, *label, *tool, *client;
  json_t *args;
  int iteration;
  unsigned flags;
  int cancelled;
  int suspect;              /* the DAW was silent during it: check the link afterwards */
  int plan_total;           /* steps of the last valid plan */
  unsigned char *step_done; /* per plan step: a result was seen */
  const char *stage;
  struct req *next;
};

struct sub {
  int id;
  live_event_cb cb;
  void *data;
};

enum conn { CONN_DOWN = 0, CONN_UP, CONN_CHECKING };

/* The strings of struct live_config that live_new copies. */
#define LC(m) offsetof(struct live_config, m)
static const size_t copied_strings[] = {
    LC(daw.dialect), LC(daw.map_path), LC(daw.host), LC(daw.listen_host), LC(daw.spool_dir), LC(llm),      LC(model),
    LC(llm_url),     LC(transcript),   LC(executor), LC(data_dir),        LC(composition),   LC(json_mode)};
#undef LC
#define LIVE_NSTRINGS (sizeof copied_strings / sizeof copied_strings[0])

struct live {
  uv_loop_t *loop;
  struct live_config cfg;
  char *owned[LIVE_NSTRINGS]; /* copies of cfg's strings (copied_strings) */
  struct llm_config lcfg;
  int llm_ok; /* lcfg resolved (or probed) */
  char llm_err[1024];
  llm_t *llm;
  daw_t *daw;
  mock_embed_t *mock; /* cfg.embedded_mock: the in-process mock DAW behind daw */
  agent_t *agent;
  int started_once; /* daw_start succeeded once: later checks are refreshes */
  int first_sync;   /* live_start called and its first sync has not ended: requests wait in the queue */
  enum conn conn;
  int reconnect_ms;
  void (*start_cb)(int, const char *, void *);
  void *start_data;
  /* the conversation */
  json_t *turns;
  /* the queue */
  struct req *head, *tail, *running;
  int queued;
  int next_id;
  /* subscribers */
  struct sub *subs;
  int nsubs, subcap, next_sub, dispatching, sub_removed;
  /* events waiting for delivery */
  json_t *pending;
  /* handles */
  uv_timer_t kick, state_timer, reconnect;
  uv_check_t check;
  int handles_open;
  unsigned long seen_version;
  uint64_t last_state_ms;
  json_t *last_state;
  /* closing */
  int closing;
  int close_after_running; /* live_close waits for the running request's end */
  int lost_reported;       /* "lost" was emitted and no "connected"/"resynced" since */
  void (*close_cb)(void *);
  void *close_data;
};

const char *live_strerror(int code) {
  switch (code) {
  case LIVE_OK: return "ok";
  case LIVE_EINVAL: return "bad request";
  case LIVE_ENOMEM: return "out of memory";
  case LIVE_ECONFIG: return "configuration error";
  case LIVE_EDAW: return "the DAW is not connected";
  case LIVE_EFULL: return "the queue is full";
  case LIVE_ENOENT: return "no such request or iteration";
  case LIVE_ECLOSED: return "the live session is closing";
  default: return "unknown live error";
  }
}

static const char *const kind_names[] = {"ask", "plan", "exec", "call", "undo", "restore", "new", "save"};

const char *live_kind_name(enum live_kind k) {
  return (unsigned)k < sizeof kind_names / sizeof *kind_names ? kind_names[k] : "?";
}

int live_kind_parse(const char *s) {
  for (size_t i = 0; s && i < sizeof kind_names / sizeof *kind_names; i++)
    if (!strcmp(kind_names[i], s)) return (int)i;
  return -1;
}

int live_call_exit_code(int status, const json_t *result) {
  if (status) return daw_exit_code(status);
  const char *st = json_string_value(json_object_get(result, "status"));
  /* only "confirmed" is success: "uncertain" (sent, no word from the DAW) exits 3 */
  return st && !strcmp(st, "confirmed") ? CLI_EXIT_OK : CLI_EXIT_UNCERTAIN;
}

static char *dupnull(const char *s) { return s ? strdup(s) : NULL; }

static void lg(live_t *l, int level, const char *fmt, const char *a, const char *b) {
  log_msg(&l->cfg.log, level, "live", fmt, a ? a : "", b ? b : "");
}

/* ---- events ---- */

static void kick(live_t *l);

/* Queues ev (steals) for delivery from the loop. */
static void emit(live_t *l, json_t *ev) {
  if (!ev) return;
  json_array_append_new(l->pending, ev);
  kick(l);
}

static json_t *req_event(const char *type, const struct req *r) {
  return json_pack("{s:s, s:i}", "type", type, "request", r->id);
}

static void deliver(live_t *l, json_t *ev) {
  l->dispatching++;
  int n = l->nsubs; /* subscribers added during delivery see the next event */
  for (int i = 0; i < n; i++)
    if (l->subs[i].cb) l->subs[i].cb(ev, l->subs[i].data);
  l->dispatching--;
  if (!l->dispatching && l->sub_removed) {
    int k = 0;
    for (int i = 0; i < l->nsubs; i++)
      if (l->subs[i].cb) l->subs[k++] = l->subs[i];
    l->nsubs = k;
    l->sub_removed = 0;
  }
}

static void flush_events(live_t *l) {
  while (json_array_size(l->pending)) {
    json_t *ev = json_incref(json_array_get(l->pending, 0));
    json_array_remove(l->pending, 0);
    deliver(l, ev);
    json_decref(ev);
  }
}

int live_subscribe(live_t *l, live_event_cb cb, void *data) {
  if (!l || !cb || l->closing) return LIVE_EINVAL;
  if (l->nsubs == l->subcap) {
    int cap = l->subcap ? l->subcap * 2 : 8;
    struct sub *ns = realloc(l->subs, (size_t)cap * sizeof *ns);
    if (!ns) return LIVE_ENOMEM;
    l->subs = ns;
    l->subcap = cap;
  }
  int id = ++l->next_sub;
  l->subs[l->nsubs++] = (struct sub){id, cb, data};
  return id;
}

void live_unsubscribe(live_t *l, int subscription) {
  if (!l) return;
  for (int i = 0; i < l->nsubs; i++) {
    if (l->subs[i].id != subscription) continue;
    l->subs[i].cb = NULL;
    l->sub_removed = 1;
  }
  if (!l->dispatching) {
    int k = 0;
    for (int i = 0; i < l->nsubs; i++)
      if (l->subs[i].cb) l->subs[k++] = l->subs[i];
    l->nsubs = k;
    l->sub_removed = 0;
  }
}

/* ---- the queue ---- */

static void req_free(struct req *r) {
  if (!r) return;
  free(r->text);
  free(r->label);
  free(r->tool);
  free(r->client);
  free(r->step_done);
  json_decref(r->args);
  free(r);
}

static const char *status_name(int agent_status) {
  switch (agent_status) {
  case AGENT_OK: return "ok";
  case AGENT_EINVAL: return "invalid";
  case AGENT_ENOMEM: return "nomem";
  case AGENT_ECONFIG: return "config";
  case AGENT_ELLM: return "llm";
  case AGENT_EPLAN: return "plan";
  case AGENT_EINCOMPLETE: return "incomplete";
  case AGENT_ESAVE: return "save";
  case AGENT_EREJECTED: return "rejected";
  case AGENT_ECANCELED: return "cancelled";
  case AGENT_EDAW: return "unreachable";
  case AGENT_EUNCERTAIN: return "uncertain";
  case AGENT_ESTORAGE: return "storage";
  default: return "error";
  }
}

static void check_link(live_t *l);

/* The one end of every request: the done event (fields as live.h), then the next request. */
static void finish(live_t *l, struct req *r, const char *status, int exit_code, int confirmed, int uncertain,
                   int failed, int total, const char *summary, json_t *iteration, json_t *response) {
  json_t *ev =
      json_pack("{s:s, s:i, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:s, s:o, s:o}", "type", "done", "request", r->id,
                "kind", live_kind_name(r->kind), "status", status, "exit_code", exit_code, "confirmed", confirmed,
                "uncertain", uncertain, "failed", failed, "total", total, "summary", summary ? summary : status,
                "iteration", iteration ? iteration : json_null(), "response", response ? response : json_null());
  if (r->client) json_object_set_new(ev, "client", json_string(r->client));
  log_msg(&l->cfg.log, LOG_INFO, "live", "request %d (%s) done: %s, exit %d: %s", r->id, live_kind_name(r->kind),
          status, exit_code, summary ? summary : "");
  emit(l, ev);
  int suspect = r->suspect;
  if (l->running == r) l->running = NULL;
  req_free(r);
  if (suspect && l->conn == CONN_UP && !l->closing) check_link(l);
  kick(l);
}

static void finish_simple(live_t *l, struct req *r, const char *status, int exit_code, const char *summary) {
  finish(l, r, status, exit_code, 0, 0, 0, 0, summary, NULL, NULL);
}

/* ---- agent callbacks → events ---- */

static void on_stage(agent_t *a, enum agent_stage st, void *data) {
  live_t *l = data;
  (void)a;
  struct req *r = l->running;
  if (!r || st == AGENT_IDLE || st == AGENT_DONE) return;
  r->stage = agent_stage_name(st);
  json_t *ev = req_event("stage", r);
  json_object_set_new(ev, "stage", json_string(r->stage));
  emit(l, ev);
}

static void on_plan_delta(agent_t *a, int attempt, const char *text, size_t len, void *data) {
  live_t *l = data;
  (void)a;
  if (!l->running) return;
  json_t *ev = req_event("plan_delta", l->running);
  json_object_set_new(ev, "attempt", json_integer(attempt));
  json_object_set_new(ev, "text", json_stringn_nocheck(text, len));
  emit(l, ev);
}

static void on_plan(agent_t *a, int attempt, const json_t *plan, const json_t *errors, const char *text, void *data) {
  live_t *l = data;
  (void)a;
  struct req *r = l->running;
  if (!r) return;
  if (!json_array_size(errors)) {
    r->plan_total = (int)json_array_size(json_object_get(plan, "steps"));
    free(r->step_done);
    r->step_done = calloc((size_t)r->plan_total + 1, 1);
  }
  json_t *ev = req_event("plan", r);
  json_object_set_new(ev, "attempt", json_integer(attempt));
  json_object_set_new(ev, "plan", plan ? json_deep_copy(plan) : json_null());
  json_object_set_new(ev, "errors", errors ? json_deep_copy(errors) : json_array());
  json_object_set_new(ev, "text", text ? json_string(text) : json_null());
  emit(l, ev);
}

/* The plan step a tool result belongs to: the first step of that tool without a result yet (the agent does not
 * say which; for the direct executor this is exact, for stage 2 a good guess). 0 = none. */
static int step_index(const struct req *r, const char *tool) {
  if (!r->step_done || !tool) return 0;
  /* the plan's steps are not kept here; match by order of results of the same tool */
  (void)tool;
  for (int i = 1; i <= r->plan_total; i++)
    if (!r->step_done[i]) return i;
  return 0;
}

static const char *outcome_of(int status, const json_t *result) {
  if (status) return "failed";
  const char *st = json_string_value(json_object_get(result, "status"));
  return st && !strcmp(st, "confirmed") ? "confirmed" : "uncertain";
}

static json_t *step_event(struct req *r, int index, const char *tool, const json_t *args, int status,
                          const json_t *result, const char *message) {
  json_t *ev = req_event("step", r);
  json_object_set_new(ev, "index", json_integer(index));
  json_object_set_new(ev, "total", json_integer(r->plan_total));
  json_object_set_new(ev, "tool", json_string(tool ? tool : "?"));
  json_object_set_new(ev, "args", args ? json_deep_copy(args) : json_object());
  json_object_set_new(ev, "outcome", json_string(outcome_of(status, result)));
  json_object_set_new(ev, "result", result && !status ? json_deep_copy(result) : json_null());
  json_object_set_new(ev, "message", message ? json_string(message) : json_null());
  if (status == DAW_EUNREACHABLE || status == DAW_ETIMEDOUT ||
      (!status && strcmp(outcome_of(status, result), "confirmed")))
    r->suspect = 1;
  return ev;
}

static void on_tool_result(agent_t *a, const char *tool, const json_t *args, int status, const json_t *result,
                           const char *message, void *data) {
  live_t *l = data;
  (void)a;
  struct req *r = l->running;
  if (!r) return;
  int idx = 0;
  if (vocab_lookup(tool) != VOCAB_GET_STATE) { /* a read of the whole state is no plan step */
    idx = step_index(r, tool);
    if (idx && !status) r->step_done[idx] = 1;
  }
  emit(l, step_event(r, idx, tool, args, status, result, message));
}

static void on_violation(agent_t *a, const json_t *v, void *data) {
  live_t *l = data;
  (void)a;
  if (!l->running) return;
  json_t *ev = req_event("violation", l->running);
  json_object_set_new(ev, "violation", json_deep_copy(v));
  emit(l, ev);
}

static int geti(const json_t *o, const char *k) { return (int)json_integer_value(json_object_get(o, k)); }

static void on_agent_done(agent_t *a, int status, const json_t *resp, const char *message, void *data) {
  live_t *l = data;
  (void)a;
  struct req *r = l->running;
  if (!r) return;
  if (r->kind == LIVE_ASK && resp) {
    json_t *turn = agent_turn_from_response(r->text, resp);
    if (turn) json_array_append_new(l->turns, turn);
    /* the prompt carries at most a quarter of its budget of them (the oldest cut, then dropped): keeping more than
     * LIVE_TURNS_MAX would only grow the daemon's memory over a long session */
    while (json_array_size(l->turns) > LIVE_TURNS_MAX) json_array_remove(l->turns, 0);
  }
  if (status == AGENT_EDAW) r->suspect = 1;
  const json_t *oc = json_object_get(resp, "outcomes");
  int c = geti(oc, "confirmed"), u = geti(oc, "uncertain"), f = geti(oc, "failed") + geti(oc, "refused");
  int total = json_object_get(oc, "steps") ? geti(oc, "steps") : geti(oc, "total");
  char summary[1024];
  if (oc)
    snprintf(summary, sizeof summary, "Steps: %d of %d confirmed, %d uncertain, %d failed%s%s", c, total, u, f,
             message ? ": " : "", message ? message : "");
  else if (r->kind == LIVE_PLAN && !status)
    snprintf(summary, sizeof summary, "plan valid: %d steps (nothing was sent to the DAW)", r->plan_total);
  else
    snprintf(summary, sizeof summary, "%s", message ? message : agent_strerror(status));
  const json_t *it = json_object_get(resp, "iteration");
  finish(l, r, status_name(status), agent_exit_code(status), c, u, f, total, summary,
         json_is_integer(it) ? json_incref((json_t *)it) : NULL, resp ? json_deep_copy(resp) : NULL);
}

/* ---- running one request ---- */

static void on_called(int status, const json_t *result, const char *message, void *data) {
  live_t *l = data;
  struct req *r = l->running;
  if (!r || r->kind != LIVE_CALL) return;
  emit(l, step_event(r, 0, r->tool, r->args, status, result, message));
  int code = live_call_exit_code(status, result);
  if (status == DAW_EUNREACHABLE || status == DAW_ETIMEDOUT) r->suspect = 1;
  const char *oc = outcome_of(status, result);
  char summary[1024];
  if (status)
    snprintf(summary, sizeof summary, "%s: %s", r->tool, message ? message : daw_strerror(status));
  else
    snprintf(summary, sizeof summary, "%s: %s", r->tool, oc);
  finish(l, r,
         status                    ? "failed"
         : strcmp(oc, "confirmed") ? "uncertain"
                                   : "ok",
         code, !status && code == 0, !status && code != 0, status != 0, 1, summary, NULL,
         result ? json_deep_copy(result) : NULL);
}

static void on_histop(int exit_code, const json_t *report, const char *message, void *data) {
  live_t *l = data;
  struct req *r = l->running;
  if (!r) return;
  const char *st = json_string_value(json_object_get(report, "status"));
  const json_t *res = json_object_get(report, "result");
  int applied = (int)json_array_size(json_object_get(res, "applied"));
  int failed = (int)json_array_size(json_object_get(res, "failed"));
  if (exit_code == CLI_EXIT_UNREACHABLE) r->suspect = 1;
  const json_t *saved = json_object_get(report, "saved");
  finish(l, r,
         exit_code == 0 ? "ok"
         : st           ? st
                        : "failed",
         exit_code, applied, 0, failed, applied + failed, message,
         json_is_integer(saved) ? json_incref((json_t *)saved) : NULL, report ? json_deep_copy(report) : NULL);
}

static const char *data_dir(live_t *l) { return l->cfg.data_dir; }

/* The composition: the configured one, else the DAW's project name when it is a usable name, else "default". */
static void composition(live_t *l, char *buf, size_t len) {
  if (l->cfg.composition) {
    snprintf(buf, len, "%s", l->cfg.composition);
    return;
  }
  json_t *st = l->daw ? session_to_json(daw_session(l->daw)) : NULL;
  const char *p = json_string_value(json_object_get(st, "project"));
  snprintf(buf, len, "%s", p && history_composition_valid(p) ? p : "default");
  json_decref(st);
}

static history_t *open_history(live_t *l, char *err, size_t errlen);

/* LIVE_SAVE: the mirror as it is between requests, saved as a "user" iteration (`dawbridge history save`). */
static void save_snapshot(live_t *l, struct req *r) {
  char err[1024], comp[256];
  history_t *h = open_history(l, err, sizeof err);
  if (!h) {
    finish_simple(l, r, "failed", CLI_EXIT_SAVE, err);
    return;
  }
  composition(l, comp, sizeof comp);
  json_t *st = session_to_json(daw_session(l->daw));
  json_t *meta = json_pack("{s:s, s:o}", "source", "user", "user_message",
                           r->text && *r->text ? json_string(r->text) : json_null());
  int num = 0;
  int rc = history_save(h, st, meta, &num, err, sizeof err);
  json_decref(meta);
  json_decref(st);
  if (rc) {
    history_free(h);
    char m[1200];
    snprintf(m, sizeof m, "cannot save the snapshot: %s", err);
    finish_simple(l, r, "failed", CLI_EXIT_SAVE, m);
    return;
  }
  json_t *resp =
      json_pack("{s:s, s:i, s:s, s:s}", "composition", comp, "saved", num, "source", "user", "dir", history_dir(h));
  history_free(h);
  char m[300];
  snprintf(m, sizeof m, "saved iteration %d of \"%.200s\"", num, comp);
  finish(l, r, "ok", 0, 0, 0, 0, 0, m, json_integer(num), resp);
}

static void run(live_t *l, struct req *r) {
  l->running = r;
  json_t *ev = req_event("started", r);
  json_object_set_new(ev, "kind", json_string(live_kind_name(r->kind)));
  json_object_set_new(ev, "text", r->text ? json_string(r->text) : json_null());
  json_object_set_new(ev, "client", r->client ? json_string(r->client) : json_null());
  emit(l, ev);
  log_msg(&l->cfg.log, LOG_INFO, "live", "request %d (%s) from %s started", r->id, live_kind_name(r->kind),
          r->client ? r->client : "?");
  if (r->kind == LIVE_NEW) {
    json_array_clear(l->turns);
    emit(l, json_pack("{s:s, s:s}", "type", "conversation", "state", "new"));
    finish_simple(l, r, "ok", 0, "a new conversation");
    return;
  }
  if (l->conn != CONN_UP || !l->daw) {
    finish_simple(l, r, "unreachable", CLI_EXIT_UNREACHABLE, "the DAW is not connected (retrying in the background)");
    return;
  }
  int rc = 0;
  char err[1024];
  switch (r->kind) {
  case LIVE_ASK:
  case LIVE_PLAN:
  case LIVE_EXEC:
    if (!l->agent) {
      finish_simple(l, r, "config", CLI_EXIT_CONFIG, "the agent could not be set up (see the log)");
      return;
    }
    if (r->kind != LIVE_EXEC && !l->llm) {
      char m[1100];
      snprintf(m, sizeof m, "no language model configured: %s", l->llm_err[0] ? l->llm_err : "see docs/llm.md");
      finish_simple(l, r, "config", CLI_EXIT_CONFIG, m);
      return;
    }
    if (r->kind != LIVE_EXEC) agent_set_conversation(l->agent, l->turns);
    rc = r->kind == LIVE_ASK    ? agent_ask(l->agent, r->text)
         : r->kind == LIVE_PLAN ? agent_plan(l->agent, r->text)
                                : agent_exec_plan(l->agent, r->text, r->label ? r->label : "exec");
    if (rc) finish_simple(l, r, status_name(rc), agent_exit_code(rc), agent_strerror(rc));
    return;
  case LIVE_CALL: {
    /* a call accepts the notation a plan accepts (note names, chords, drum names, patterns) */
    json_t *none = r->args ? NULL : json_object();
    json_t *args = agent_expand_call_args(daw_catalog(l->daw), r->args ? r->args : none, err, sizeof err);
    json_decref(none);
    if (!args) {
      char msg[1200];
      snprintf(msg, sizeof msg, "%s: %s", r->tool, err);
      finish_simple(l, r, "invalid", CLI_EXIT_INVALID, msg);
      return;
    }
    rc = daw_call(l->daw, r->tool, args, on_called, l);
    json_decref(args);
    if (rc) {
      snprintf(err, sizeof err, "%s: %s", r->tool, daw_strerror(rc));
      finish_simple(l, r, "failed", daw_exit_code(rc), err);
    }
    return;
  }
  case LIVE_UNDO:
  case LIVE_RESTORE: {
    char comp[256];
    composition(l, comp, sizeof comp);
    struct histop_req hr = {.daw = l->daw,
                            .data_dir = data_dir(l),
                            .composition = comp,
                            .kind = r->kind == LIVE_UNDO ? HISTOP_UNDO : HISTOP_RESTORE,
                            .target = r->iteration,
                            .force = (r->flags & LIVE_FORCE) != 0};
    rc = histop_start(&hr, on_histop, l, err, sizeof err);
    if (rc) finish_simple(l, r, rc == CLI_EXIT_INVALID ? "invalid" : "failed", rc, err);
    return;
  }
  case LIVE_SAVE: save_snapshot(l, r); return;
  default: finish_simple(l, r, "invalid", CLI_EXIT_USAGE, "unknown request kind"); return;
  }
}

static void close_now(live_t *l);

static void on_kick(uv_timer_t *t) {
  live_t *l = t->data;
  flush_events(l);
  if (l->closing) {
    if (l->close_after_running && !l->running) {
      l->close_after_running = 0;
      close_now(l);
    }
    return;
  }
  if (!l->running && l->head && !l->closing && l->conn != CONN_CHECKING && !l->first_sync) {
    struct req *r = l->head;
    l->head = r->next;
    if (!l->head) l->tail = NULL;
    l->queued--;
    r->next = NULL;
    run(l, r);
    flush_events(l);
  }
}

static void kick(live_t *l) {
  if (l->handles_open && !uv_is_active((uv_handle_t *)&l->kick) && !uv_is_closing((uv_handle_t *)&l->kick))
    uv_timer_start(&l->kick, on_kick, 0, 0);
}

int live_submit(live_t *l, const struct live_request *q) {
  if (!l || !q) return LIVE_EINVAL;
  if (l->closing) return LIVE_ECLOSED;
  if ((unsigned)q->kind > LIVE_SAVE) return LIVE_EINVAL;
  if ((q->kind == LIVE_ASK || q->kind == LIVE_PLAN || q->kind == LIVE_EXEC) && (!q->text || !q->text[0]))
    return LIVE_EINVAL;
  if (q->kind == LIVE_CALL && (!q->tool || !q->tool[0] || (q->args && !json_is_object(q->args)))) return LIVE_EINVAL;
  if (q->kind == LIVE_RESTORE && q->iteration < 1) return LIVE_EINVAL;
  if (q->kind == LIVE_UNDO && q->iteration < 0) return LIVE_EINVAL;
  if (l->queued >= LIVE_QUEUE_MAX) return LIVE_EFULL;
  struct req *r = calloc(1, sizeof *r);
  if (!r) return LIVE_ENOMEM;
  r->id = ++l->next_id;
  r->kind = q->kind;
  r->text = dupnull(q->text);
  r->label = dupnull(q->label);
  r->tool = dupnull(q->tool);
  r->client = dupnull(q->client);
  r->args = q->kind == LIVE_CALL ? (q->args ? json_deep_copy(q->args) : json_object()) : NULL;
  r->iteration = q->iteration;
  r->flags = q->flags;
  if ((q->text && !r->text) || (q->tool && !r->tool) || (q->kind == LIVE_CALL && !r->args)) {
    req_free(r);
    return LIVE_ENOMEM;
  }
  int position = l->queued + (l->running ? 1 : 0);
  if (l->tail)
    l->tail->next = r;
  else
    l->head = r;
  l->tail = r;
  l->queued++;
  json_t *ev = req_event("queued", r);
  json_object_set_new(ev, "kind", json_string(live_kind_name(r->kind)));
  json_object_set_new(ev, "text", r->text ? json_string(r->text) : r->tool ? json_string(r->tool) : json_null());
  json_object_set_new(ev, "client", r->client ? json_string(r->client) : json_null());
  json_object_set_new(ev, "position", json_integer(position));
  emit(l, ev);
  return r->id;
}

int live_cancel(live_t *l, int id) {
  if (!l) return LIVE_EINVAL;
  struct req *r = l->running;
  if (r && (id == 0 || id == r->id)) {
    if (r->cancelled) return LIVE_OK;
    r->cancelled = 1;
    if ((r->kind == LIVE_ASK || r->kind == LIVE_PLAN || r->kind == LIVE_EXEC) && l->agent) agent_cancel(l->agent);
    /* a call or an undo in flight cannot be recalled: it ends when the DAW answers */
    return LIVE_OK;
  }
  struct req **pp = &l->head, *prev = NULL;
  for (; *pp; prev = *pp, pp = &(*pp)->next) {
    if ((*pp)->id != id) continue;
    struct req *q = *pp;
    *pp = q->next;
    if (l->tail == q) l->tail = prev;
    l->queued--;
    q->next = NULL;
    struct req *save = l->running;
    finish_simple(l, q, "cancelled", CLI_EXIT_INTERRUPTED, "cancelled before it ran");
    l->running = save;
    return LIVE_OK;
  }
  return LIVE_ENOENT;
}

/* ---- reads ---- */

json_t *live_state(live_t *l) {
  if (!l || !l->daw) return json_null();
  return session_to_json(daw_session(l->daw));
}

static history_t *open_history(live_t *l, char *err, size_t errlen) {
  char comp[256];
  composition(l, comp, sizeof comp);
  return history_open(data_dir(l), comp, err, errlen);
}

json_t *live_history(live_t *l, char *err, size_t errlen) {
  history_t *h = open_history(l, err, errlen);
  if (!h) return NULL;
  json_t *list = NULL, *warnings = NULL;
  int rc = history_list(h, &list, &warnings, err, errlen);
  json_t *out = NULL;
  if (!rc) {
    char comp[256];
    composition(l, comp, sizeof comp);
    char *dd = data_dir(l) ? NULL : history_default_data_dir();
    out = json_pack("{s:s, s:s, s:s, s:o, s:o}", "composition", comp, "data_dir",
                    data_dir(l) ? data_dir(l)
                    : dd        ? dd
                                : "",
                    "dir", history_dir(h), "iterations", list, "warnings", warnings ? warnings : json_array());
    free(dd);
  }
  history_free(h);
  return out;
}

json_t *live_tools_of(daw_t *d) {
  json_t *un = json_array();
  for (int k = 0; k < VOCAB__COUNT; k++) { /* every tool of the vocabulary */
    const char *name = vocab_name((enum vocab_tool)k);
    const char *why = daw_unavailable_reason(d, name);
    if (why) json_array_append_new(un, json_pack("{s:s, s:s}", "tool", name, "reason", why));
  }
  return json_pack("{s:s, s:b, s:o, s:o}", "dialect", daw_dialect(d), "companion", daw_has_companion(d), "available",
                   daw_capabilities(d), "unavailable", un);
}

json_t *live_tools(live_t *l, char *err, size_t errlen) {
  if (!l->daw || l->conn == CONN_DOWN) {
    errfmt(err, errlen, LIVE_EDAW, "the DAW is not connected (retrying in the background)");
    return NULL;
  }
  return live_tools_of(l->daw);
}

json_t *live_iteration(live_t *l, int number, char *err, size_t errlen) {
  if (number < 1) {
    errfmt(err, errlen, LIVE_EINVAL, "iteration numbers start at 1");
    return NULL;
  }
  history_t *h = open_history(l, err, errlen);
  if (!h) return NULL;
  json_t *it = NULL;
  if (history_load(h, number, &it, err, errlen)) it = NULL;
  history_free(h);
  return it;
}

static json_t *req_json(const struct req *r) {
  json_t *o = json_pack("{s:i, s:s, s:o, s:o}", "request", r->id, "kind", live_kind_name(r->kind), "text",
                        r->text   ? json_string(r->text)
                        : r->tool ? json_string(r->tool)
                                  : json_null(),
                        "client", r->client ? json_string(r->client) : json_null());
  return o;
}

json_t *live_status(live_t *l) {
  json_t *q = json_array();
  for (struct req *r = l->head; r; r = r->next) json_array_append_new(q, req_json(r));
  json_t *running = json_null();
  if (l->running) {
    running = req_json(l->running);
    json_object_set_new(running, "stage", l->running->stage ? json_string(l->running->stage) : json_null());
  }
  return json_pack("{s:o, s:o, s:b, s:b, s:s, s:I, s:s}", "running", running, "queue", q, "connected",
                   l->conn == CONN_UP, "first_sync", l->first_sync, "dialect", live_dialect(l), "conversation_turns",
                   (json_int_t)json_array_size(l->turns), "model",
                   l->llm ? llm_provider_name(l->lcfg.provider) : "none");
}

const char *live_dialect(const live_t *l) { return l->cfg.daw.dialect; }
daw_t *live_daw(live_t *l) { return l->daw; }

/* ---- the mirror's changes → "state" events ---- */

/* What changed between two session snapshots: the top-level keys (tempo, transport, markers...) and the ids of the
 * tracks added, removed or changed. Tracks are matched by id through an index (linear in the session size). */
static json_t *changed_keys(const json_t *before, const json_t *after) {
  json_t *out = json_array();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)after, k, v) {
    if (!strcmp(k, "tracks")) continue;
    if (!json_equal(v, json_object_get(before, k))) json_array_append_new(out, json_string(k));
  }
  json_t *index = json_object();
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(before, "tracks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    if (id) json_object_set(index, id, t);
  }
  json_array_foreach(json_object_get(after, "tracks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    if (!id) continue;
    json_t *old = json_object_get(index, id);
    if (!old || !json_equal(old, t)) json_array_append_new(out, json_string(id));
    if (old) json_object_del(index, id);
  }
  json_object_foreach(index, k, v) json_array_append_new(out, json_string(k)); /* removed */
  json_decref(index);
  return out;
}

static void emit_state(live_t *l) {
  if (!l->daw) return;
  l->seen_version = session_version(daw_session(l->daw));
  l->last_state_ms = uv_now(l->loop);
  json_t *now = session_to_json(daw_session(l->daw));
  json_t *changed = changed_keys(l->last_state, now);
  json_decref(l->last_state);
  l->last_state = now;
  if (!json_array_size(changed)) {
    json_decref(changed);
    return;
  }
  emit(l, json_pack("{s:s, s:o}", "type", "state", "changed", changed));
}

static void on_state_timer(uv_timer_t *t) { emit_state(t->data); }

static void on_check(uv_check_t *h) {
  live_t *l = h->data;
  if (!l->daw || l->closing || !l->started_once) return;
  if (session_version(daw_session(l->daw)) == l->seen_version) return;
  if (uv_is_active((uv_handle_t *)&l->state_timer)) return;
  uint64_t now = uv_now(l->loop);
  if (now - l->last_state_ms >= LIVE_STATE_MIN_MS)
    emit_state(l);
  else
    uv_timer_start(&l->state_timer, on_state_timer, LIVE_STATE_MIN_MS - (now - l->last_state_ms), 0);
}

/* ---- connection: start, check, reconnect ---- */

static void connection_event(live_t *l, const char *state, const char *message) {
  /* "lost" once per outage (retries while it lasts say nothing new) */
  int lost = !strcmp(state, "lost");
  if (lost && l->lost_reported) {
    log_msg(&l->cfg.log, LOG_DEBUG, "live", "still no DAW: %s", message ? message : "");
    return;
  }
  l->lost_reported = lost;
  log_msg(&l->cfg.log, state[0] == 'l' ? LOG_WARN : LOG_INFO, "live", "connection %s: %s", state,
          message ? message : "");
  emit(l, json_pack("{s:s, s:s, s:s}", "type", "connection", "state", state, "message", message ? message : ""));
}

static void schedule_reconnect(live_t *l);

static void llm_log(void *data, enum llm_log_level level, const char *line) {
  live_t *l = data;
  int lv = level == LLM_LOG_ERROR  ? LOG_ERROR
           : level == LLM_LOG_WARN ? LOG_WARN
           : level == LLM_LOG_INFO ? LOG_INFO
                                   : LOG_DEBUG;
  log_msg(&l->cfg.log, lv, "llm", "%s", line);
}

void live_agent_config(const struct live_config *cfg, daw_t *daw, llm_t *llm, struct agent_config *ac) {
  memset(ac, 0, sizeof *ac);
  ac->daw = daw;
  ac->llm = llm;
  ac->executor = cfg->executor && !strcmp(cfg->executor, "direct") ? AGENT_EXEC_DIRECT : AGENT_EXEC_LLM;
  ac->max_turns = cfg->max_turns;
  ac->context_budget = cfg->context_budget;
  ac->profile = cfg->profile;
  ac->stream = 1;
  ac->data_dir = cfg->data_dir;
  ac->composition = cfg->composition;
  ac->log = cfg->log;
}

static void make_agent(live_t *l) {
  if (l->agent) return;
  if (l->llm_ok && !l->llm) {
    l->llm = llm_new(l->loop, &l->lcfg, l->llm_err, sizeof l->llm_err);
    if (!l->llm) lg(l, LOG_WARN, "the model client cannot start: %s%s", l->llm_err, NULL);
  }
  struct agent_config ac;
  live_agent_config(&l->cfg, l->daw, l->llm, &ac);
  ac.cb.on_stage = on_stage;
  ac.cb.on_plan_delta = on_plan_delta;
  ac.cb.on_plan = on_plan;
  ac.cb.on_tool_result = on_tool_result;
  ac.cb.on_violation = on_violation;
  ac.cb.on_done = on_agent_done;
  ac.cb.data = l;
  char err[1024];
  if (agent_new(l->loop, &ac, &l->agent, err, sizeof err)) {
    l->agent = NULL;
    lg(l, LOG_ERROR, "the agent cannot start: %s%s", err, NULL);
  }
}

static void start_done(live_t *l, int status, const char *message) {
  void (*cb)(int, const char *, void *) = l->start_cb;
  l->start_cb = NULL;
  /* the first sync ended (its own deadline bounds it): the requests that waited for it run now, or end with "the
   * DAW is not connected" */
  if (l->first_sync) {
    l->first_sync = 0;
    kick(l);
  }
  if (cb) cb(status, message, l->start_data);
}

static void on_daw_started(int status, const json_t *result, const char *message, void *data) {
  live_t *l = data;
  if (l->closing) return;
  if (status) {
    char m[1024];
    snprintf(m, sizeof m, "cannot sync with the DAW: %s", message ? message : daw_strerror(status));
    l->conn = CONN_DOWN;
    connection_event(l, "lost", m);
    start_done(l, LIVE_EDAW, m);
    schedule_reconnect(l);
    return;
  }
  int first = !l->started_once;
  l->started_once = 1;
  l->conn = CONN_UP;
  l->reconnect_ms = l->cfg.reconnect_ms > 0 ? l->cfg.reconnect_ms : 1000;
  json_decref(l->last_state);
  l->last_state = session_to_json(daw_session(l->daw));
  l->seen_version = session_version(daw_session(l->daw));
  if (!json_is_true(json_object_get(result, "companion"))) {
    const char *why = json_string_value(json_object_get(result, "companion_error"));
    lg(l, LOG_INFO, "%s%s", why ? why : "the companion does not answer: only native OSC tools are offered", NULL);
  }
  make_agent(l);
  char m[256];
  snprintf(m, sizeof m, "%s: %lld tracks mirrored", live_dialect(l),
           (long long)json_integer_value(json_object_get(result, "tracks")));
  connection_event(l, first ? "connected" : "resynced", m);
  start_done(l, LIVE_OK, m);
  kick(l);
}

static int open_daw(live_t *l, char *err, size_t errlen) {
  int rc = l->cfg.embedded_mock && !l->mock
               ? mock_embed_open(l->loop, &l->cfg.daw, &l->cfg.mock, &l->daw, &l->mock, err, errlen)
               : daw_open(l->loop, &l->cfg.daw, &l->daw, err, errlen);
  if (rc) {
    l->daw = NULL;
    return rc;
  }
  rc = daw_start(l->daw, on_daw_started, l);
  if (rc) errfmt(err, errlen, rc, "%s", daw_strerror(rc));
  return rc;
}

static void on_refreshed(int status, const json_t *result, const char *message, void *data) {
  live_t *l = data;
  if (l->closing) return;
  int was_checking = l->conn == CONN_CHECKING;
  if (!status) {
    if (was_checking) {
      l->conn = CONN_UP; /* the check found it answering: nothing to tell */
      kick(l);
      return;
    }
    on_daw_started(0, result, message, l);
    return;
  }
  l->conn = CONN_DOWN;
  if (was_checking) connection_event(l, "lost", message ? message : daw_strerror(status));
  schedule_reconnect(l);
}

static void on_reconnect(uv_timer_t *t) {
  live_t *l = t->data;
  if (l->closing) return;
  char err[512];
  if (!l->daw) {
    if (open_daw(l, err, sizeof err)) {
      lg(l, LOG_WARN, "reconnect: %s%s", err, NULL);
      schedule_reconnect(l);
    }
    return;
  }
  /* never synced: connect again (daw_start); else a full refresh re-syncs the mirror, bridge ids kept */
  int rc = l->started_once ? daw_refresh(l->daw, on_refreshed, l) : daw_start(l->daw, on_daw_started, l);
  if (rc) schedule_reconnect(l);
}

static void schedule_reconnect(live_t *l) {
  if (l->closing) return;
  int ms = l->reconnect_ms > 0 ? l->reconnect_ms : 1000;
  uv_timer_start(&l->reconnect, on_reconnect, (uint64_t)ms, 0);
  l->reconnect_ms = ms * 2 > LIVE_RECONNECT_MAX_MS ? LIVE_RECONNECT_MAX_MS : ms * 2;
}

/* After a request during which the DAW was silent: one refresh tells whether it is still there. */
static void check_link(live_t *l) {
  l->conn = CONN_CHECKING;
  if (daw_refresh(l->daw, on_refreshed, l)) {
    l->conn = CONN_DOWN;
    connection_event(l, "lost", "the DAW cannot be refreshed");
    schedule_reconnect(l);
  }
}

/* ---- life cycle ---- */

static void free_live(live_t *l);

int live_new(uv_loop_t *loop, const struct live_config *cfg, live_t **out, char *err, size_t errlen) {
  if (!loop || !cfg || !out) return errfmt(err, errlen, LIVE_EINVAL, "live_new: bad arguments");
  *out = NULL;
  live_t *l = calloc(1, sizeof *l);
  if (!l) return errfmt(err, errlen, LIVE_ENOMEM, "out of memory");
  l->loop = loop;
  l->cfg = *cfg;
  if (!l->cfg.daw.dialect) l->cfg.daw.dialect = "reaper";
  for (size_t i = 0; i < LIVE_NSTRINGS; i++) { /* the caller's strings may go away: our copies */
    const char **f = (const char **)((char *)&l->cfg + copied_strings[i]);
    if (*f && !(l->owned[i] = strdup(*f))) {
      free_live(l);
      return errfmt(err, errlen, LIVE_ENOMEM, "out of memory");
    }
    *f = l->owned[i];
  }
  l->reconnect_ms = cfg->reconnect_ms > 0 ? cfg->reconnect_ms : 1000;
  l->turns = json_array();
  l->pending = json_array();
  if (cfg->composition && !history_composition_valid(cfg->composition)) {
    free_live(l);
    return errfmt(err, errlen, LIVE_ECONFIG, "composition '%s' is not a usable name", cfg->composition);
  }
  /* the model: the same resolution as the one-shot CLI */
  llm_config_defaults(&l->lcfg);
  l->lcfg.log = llm_log;
  l->lcfg.log_data = l;
  int lv = cfg->log.level;
  l->lcfg.log_level = lv >= LOG_DEBUG  ? LLM_LOG_DEBUG
                      : lv >= LOG_INFO ? LLM_LOG_INFO
                      : lv >= LOG_WARN ? LLM_LOG_WARN
                                       : LLM_LOG_ERROR;
  struct llm_flags fl = {
      .llm = l->cfg.llm, .model = l->cfg.model, .url = l->cfg.llm_url, .json_mode = l->cfg.json_mode};
  if (l->cfg.transcript) {
    fl.llm = "script";
    fl.url = l->cfg.transcript;
  }
  if (llm_config_resolve(&l->lcfg, &fl, l->llm_err, sizeof l->llm_err) == LLM_OK) {
    l->llm_ok = 1;
  } else if (fl.llm) {
    int rc = errfmt(err, errlen, LIVE_ECONFIG, "%s", l->llm_err);
    live_close(l, NULL, NULL);
    return rc;
  }
  uv_timer_init(loop, &l->kick);
  uv_timer_init(loop, &l->state_timer);
  uv_timer_init(loop, &l->reconnect);
  uv_check_init(loop, &l->check);
  l->kick.data = l->state_timer.data = l->reconnect.data = l->check.data = l;
  l->handles_open = 4;
  uv_check_start(&l->check, on_check);
  uv_unref((uv_handle_t *)&l->check);
  *out = l;
  return LIVE_OK;
}

static void on_probe(int status, struct llm_config *cfg, const char *msg, void *data) {
  live_t *l = data;
  (void)cfg;
  if (l->closing) return;
  if (!status) {
    l->llm_ok = 1;
    if (msg && *msg) lg(l, LOG_INFO, "%s%s", msg, NULL);
  } else {
    lg(l, LOG_WARN, "no language model configured (ask/plan end with exit 5): %s%s", msg ? msg : "", NULL);
  }
  char err[1024];
  if (open_daw(l, err, sizeof err)) {
    connection_event(l, "lost", err);
    start_done(l, LIVE_EDAW, err);
    schedule_reconnect(l);
  }
}

int live_start(live_t *l, void (*cb)(int status, const char *message, void *data), void *data) {
  if (!l || l->closing) return LIVE_ECLOSED;
  l->start_cb = cb;
  l->start_data = data;
  l->first_sync = 1;
  if (!l->llm_ok && llm_config_probe(l->loop, &l->lcfg, NULL, on_probe, l) == LLM_OK) return LIVE_OK;
  char err[1024];
  int rc = open_daw(l, err, sizeof err);
  if (rc == DAW_ECONFIG || rc == DAW_EINVAL) {
    l->start_cb = NULL;
    l->first_sync = 0;
    lg(l, LOG_ERROR, "%s%s", err, NULL);
    return LIVE_ECONFIG;
  }
  if (rc) {
    connection_event(l, "lost", err);
    start_done(l, LIVE_EDAW, err);
    schedule_reconnect(l);
  }
  return LIVE_OK;
}

static void free_live(live_t *l) {
  void (*cb)(void *) = l->close_cb;
  void *data = l->close_data;
  while (l->head) {
    struct req *r = l->head;
    l->head = r->next;
    req_free(r);
  }
  req_free(l->running);
  json_decref(l->turns);
  json_decref(l->pending);
  json_decref(l->last_state);
  free(l->subs);
  for (size_t i = 0; i < LIVE_NSTRINGS; i++) free(l->owned[i]);
  free(l);
  if (cb) cb(data);
}

static void on_handle_closed(uv_handle_t *h) {
  live_t *l = h->data;
  if (--l->handles_open == 0) free_live(l);
}

static void close_handles(live_t *l) {
  if (!l->handles_open) {
    free_live(l);
    return;
  }
  uv_close((uv_handle_t *)&l->kick, on_handle_closed);
  uv_close((uv_handle_t *)&l->state_timer, on_handle_closed);
  uv_close((uv_handle_t *)&l->reconnect, on_handle_closed);
  uv_close((uv_handle_t *)&l->check, on_handle_closed);
}

static void on_mock_closed(void *data) {
  live_t *l = data;
  l->mock = NULL;
  close_handles(l);
}

static void on_daw_closed(void *data) {
  live_t *l = data;
  l->daw = NULL;
  if (l->mock)
    mock_embed_close(l->mock, on_mock_closed, l);
  else
    close_handles(l);
}

static void on_llm_closed(void *data) {
  live_t *l = data;
  l->llm = NULL;
  if (l->daw)
    daw_close(l->daw, on_daw_closed, l);
  else
    close_handles(l);
}

static void on_agent_closed(void *data) {
  live_t *l = data;
  l->agent = NULL;
  flush_events(l);
  if (l->llm)
    llm_close(l->llm, on_llm_closed, l);
  else
    on_llm_closed(l);
}

static void close_now(live_t *l) {
  if (l->agent)
    agent_close(l->agent, on_agent_closed, l);
  else
    on_agent_closed(l);
}

void live_close(live_t *l, void (*cb)(void *data), void *data) {
  if (!l || l->closing) return;
  l->closing = 1;
  l->close_cb = cb;
  l->close_data = data;
  if (l->handles_open) {
    uv_timer_stop(&l->reconnect);
    uv_timer_stop(&l->state_timer);
  }
  /* the queue: each gets its done event */
  while (l->head) {
    struct req *r = l->head;
    l->head = r->next;
    l->queued--;
    r->next = NULL;
    struct req *save = l->running;
    finish_simple(l, r, "cancelled", CLI_EXIT_INTERRUPTED, "the live session closed");
    l->running = save;
  }
  l->tail = NULL;
  if (l->running) {
    struct req *r = l->running;
    r->cancelled = 1;
    int agent_job = r->kind == LIVE_ASK || r->kind == LIVE_PLAN || r->kind == LIVE_EXEC;
    if ((agent_job && l->agent && agent_busy(l->agent)) || r->kind == LIVE_CALL) {
      /* its done event comes from the agent (cancelled: the confirmed part saved as a partial iteration) or from
       * the DAW's answer to the call in flight; then the rest closes (on_kick) */
      if (agent_job) agent_cancel(l->agent);
      l->close_after_running = 1;
      return;
    }
    finish_simple(l, r, "cancelled", CLI_EXIT_INTERRUPTED, "the live session closed while it ran");
    l->running = NULL;
  }
  close_now(l);
}
