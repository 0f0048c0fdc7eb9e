/* agent: the two-stage state machine on the loop. See agent.h. */
#include "agent.h"
#include "instmap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "context.h"
#include "errfmt.h"
#include "history.h"
#include "notation.h"
#include "plan.h"
#include "prompt.h"
#include "session.h"
#include "tools.h"

#define MOD "agent"
#define DEFAULT_MAX_TURNS 24

enum mode { MODE_ASK, MODE_PLAN, MODE_EXEC };

struct agent {
  uv_loop_t *loop;
  struct agent_config cfg;
  char *s_model, *s_data_dir, *s_composition;
  prompt_t *prompts;
  tools_t *tools;
  uv_timer_t timer;
  void (*next)(agent_t *a);
  int closing, closed_timer;
  void (*close_cb)(void *);
  void *close_data;
  json_t *conversation; /* the earlier turns (agent_set_conversation); kept across jobs */

  /* the job */
  int busy;
  enum mode mode;
  enum agent_stage stage;
  char *request;        /* the musician's words (or the exec label) */
  char *plan_input;     /* exec: the plan text */
  json_t *tools_avail;  /* descriptors of the tools the DAW can run now */
  json_t *before;       /* state when execution started */
  json_t *state0;       /* state at planning time */
  plan_t *plan;
  json_t *plan_json;    /* normalized, after validation */
  json_t *plan_errors;
  char *plan_text;
  int attempt;
  llm_request_t *req;
  llm_call_t *call;
  int daw_pending;
  int request_begun;
  json_t *actions;
  int round; /* 0 = execute, 1 = the corrective round */
  /* llm executor */
  int turns, total_turns, turn_limit_hit;
  /* every model call of the job (stage 1, re-plan, stage 2, fix round): reported tokens, else an estimate */
  long use_in, use_out, use_calls, use_estimated;
  int readback_unknown; /* set while a result whose read-back failed is handled (the step must not run again) */
  struct llm_result *pending;
  size_t call_i;
  char *final_text;
  int llm_status;
  char llm_msg[512];
  /* direct executor */
  size_t step_i;
  json_t *work;        /* direct: [{"step","tool","args"}] to run in this round */
  json_t *step_tracks; /* "N" -> track id */
  json_t *step_clips;  /* "N" -> clip id */
  json_t *violations;  /* the last verification */
  json_t *s2_open;     /* llm: what stage 2 may still carry out [{"step","tool","args","used","repair"?}] */
  int exec_started;    /* execution began (the DAW may have changed) */
  json_t *violations_first;
  int n_failed, n_unreachable, failed_seen;
  int refresh_tries, unverified; /* unverified: the mirror could not be refreshed after a failed call */
  int verify_fresh;              /* the mirror was just read back (daw_refresh) for this verification */
  int canceled, cancel_finishing;
  int status;
  char msg[512];
  int iteration;
  char *history_dir;
  char save_err[512];
};

/* ------------------------------------------------------------------------------------------------ */

const char *agent_strerror(int code) {
  switch (code) {
  case AGENT_OK: return "ok";
  case AGENT_EINVAL: return "invalid argument or a request is already running";
  case AGENT_ENOMEM: return "out of memory";
  case AGENT_ECONFIG: return "configuration error";
  case AGENT_ELLM: return "the model failed";
  case AGENT_EPLAN: return "no valid plan; nothing was executed";
  case AGENT_EINCOMPLETE: return "the request was carried out only in part";
  case AGENT_ESAVE: return "the change ran but its iteration could not be saved";
  case AGENT_EREJECTED: return "the plan was rejected; nothing was executed";
  case AGENT_ECANCELED: return "canceled";
  case AGENT_EDAW: return "the DAW does not answer";
  case AGENT_EUNCERTAIN: return "done, but the DAW did not confirm every step";
  case AGENT_ESTORAGE: return "the data directory cannot take the iteration; nothing was changed";
  default: return "unknown agent error";
  }
}

int agent_exit_code(int status) {
  switch (status) {
  case AGENT_OK:
  case AGENT_EREJECTED: return 0;
  case AGENT_EINVAL: return 1;
  case AGENT_ELLM:
  case AGENT_EDAW: return 2;
  case AGENT_EUNCERTAIN: return 3;
  case AGENT_EINCOMPLETE: return 7;
  case AGENT_EPLAN: return 4;
  case AGENT_ECONFIG: return 5;
  case AGENT_ESAVE:
  case AGENT_ESTORAGE: return 6;
  case AGENT_ECANCELED: return 130;
  default: return 5;
  }
}

const char *agent_stage_name(enum agent_stage s) {
  switch (s) {
  case AGENT_IDLE: return "idle";
  case AGENT_PLANNING: return "planning";
  case AGENT_VALIDATING: return "validating";
  case AGENT_CONFIRMING: return "confirming";
  case AGENT_EXECUTING: return "executing";
  case AGENT_VERIFYING: return "verifying";
  case AGENT_FIXING: return "fixing";
  case AGENT_SAVING: return "saving";
  case AGENT_DONE: return "done";
  }
  return "?";
}

static const char *status_key(int status) {
  switch (status) {
  case AGENT_OK: return "ok";
  case AGENT_ECONFIG: return "config_error";
  case AGENT_ELLM: return "model_error";
  case AGENT_EPLAN: return "invalid_plan";
  case AGENT_EINCOMPLETE: return "incomplete";
  case AGENT_ESAVE: return "not_saved";
  case AGENT_EREJECTED: return "rejected";
  case AGENT_ECANCELED: return "interrupted";
  case AGENT_EDAW: return "daw_unreachable";
  case AGENT_EUNCERTAIN: return "uncertain";
  case AGENT_ESTORAGE: return "storage_unavailable";
  default: return "error";
  }
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void alog(agent_t *a, int level, const char *fmt, ...) {
  const struct log_sink *s = &a->cfg.log;
  if (!s->fn || level > s->level) return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  s->fn(level, MOD, buf, s->data);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static char *compact(const json_t *j) {
  if (!j) return strdup("null");
  return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6) | JSON_ENCODE_ANY);
}

static void set_stage(agent_t *a, enum agent_stage st) {
  if (a->stage == st) return;
  a->stage = st;
  alog(a, LOG_DEBUG, "stage: %s", agent_stage_name(st));
  if (a->cfg.cb.on_stage) a->cfg.cb.on_stage(a, st, a->cfg.cb.data);
}

/* ---- scheduling: every continuation that is not a callback of llm/daw runs from the timer ---- */

static void on_timer(uv_timer_t *t) {
  agent_t *a = t->data;
  void (*fn)(agent_t *) = a->next;
  a->next = NULL;
  if (fn) fn(a);
}

static void schedule(agent_t *a, void (*fn)(agent_t *)) {
  a->next = fn;
  uv_timer_start(&a->timer, on_timer, 0, 0);
}

/* ------------------------------------------------------------------------------------------------ */

int agent_new(uv_loop_t *loop, const struct agent_config *cfg, agent_t **out, char *err, size_t errlen) {
  if (!out || !cfg || !cfg->daw || !loop) {
    if (err && errlen) snprintf(err, errlen, "agent: a DAW is required");
    return AGENT_EINVAL;
  }
  *out = NULL;
  agent_t *a = calloc(1, sizeof *a);
  if (!a) return AGENT_ENOMEM;
  a->loop = loop;
  a->cfg = *cfg;
  a->s_model = dup_or_null(cfg->model);
  a->s_data_dir = dup_or_null(cfg->data_dir);
  a->s_composition = dup_or_null(cfg->composition);
  a->cfg.model = a->s_model;
  a->cfg.data_dir = a->s_data_dir;
  a->cfg.composition = a->s_composition;
  a->cfg.prompts_dir = NULL;
  a->cfg.tools_path = NULL;
  if (a->cfg.max_turns <= 0) a->cfg.max_turns = DEFAULT_MAX_TURNS;
  int rc = prompt_load(cfg->prompts_dir, &a->prompts, err, errlen);
  if (!rc) rc = tools_load(cfg->tools_path, &a->tools, err, errlen);
  if (rc) {
    prompt_free(a->prompts);
    free(a->s_model), free(a->s_data_dir), free(a->s_composition);
    free(a);
    return AGENT_ECONFIG;
  }
  uv_timer_init(loop, &a->timer);
  a->timer.data = a;
  *out = a;
  return AGENT_OK;
}

enum agent_stage agent_stage(const agent_t *a) { return a ? a->stage : AGENT_IDLE; }
int agent_busy(const agent_t *a) { return a && a->busy; }

static void job_reset(agent_t *a) {
  free(a->request), a->request = NULL;
  free(a->plan_input), a->plan_input = NULL;
  json_decref(a->tools_avail), a->tools_avail = NULL;
  json_decref(a->before), a->before = NULL;
  json_decref(a->state0), a->state0 = NULL;
  plan_free(a->plan), a->plan = NULL;
  json_decref(a->plan_json), a->plan_json = NULL;
  json_decref(a->plan_errors), a->plan_errors = NULL;
  free(a->plan_text), a->plan_text = NULL;
  llm_request_free(a->req), a->req = NULL;
  json_decref(a->actions), a->actions = NULL;
  llm_result_free(a->pending), a->pending = NULL;
  free(a->final_text), a->final_text = NULL;
  json_decref(a->work), a->work = NULL;
  json_decref(a->step_tracks), a->step_tracks = NULL;
  json_decref(a->step_clips), a->step_clips = NULL;
  json_decref(a->violations), a->violations = NULL;
  json_decref(a->violations_first), a->violations_first = NULL;
  json_decref(a->s2_open), a->s2_open = NULL;
  a->exec_started = 0;
  free(a->history_dir), a->history_dir = NULL;
  a->call = NULL;
  a->attempt = a->round = a->turns = a->total_turns = a->turn_limit_hit = 0;
  a->use_in = a->use_out = a->use_calls = a->use_estimated = 0;
  a->call_i = a->step_i = 0;
  a->llm_status = 0;
  a->llm_msg[0] = a->msg[0] = a->save_err[0] = 0;
  a->canceled = a->cancel_finishing = 0;
  a->n_failed = a->n_unreachable = a->failed_seen = 0;
  a->refresh_tries = a->unverified = a->verify_fresh = 0;
  a->status = 0;
  a->iteration = 0;
  a->request_begun = 0;
}

static int job_start(agent_t *a, enum mode m) {
  if (!a || a->busy || a->closing) return AGENT_EINVAL;
  job_reset(a);
  a->busy = 1;
  a->mode = m;
  a->stage = AGENT_IDLE;
  a->actions = json_array();
  a->step_tracks = json_object();
  a->step_clips = json_object();
  return AGENT_OK;
}

/* ---- the response and the end of a job ---- */

static int count_ok(const json_t *actions) {
  int n = 0;
  size_t i;
  json_t *x;
  json_array_foreach(actions, i, x) n += json_is_true(json_object_get(x, "ok"));
  return n;
}

/* Successful actions that change the session (get_state reads only). */
static int count_changes(const json_t *actions) {
  int n = 0;
  size_t i;
  json_t *x;
  json_array_foreach(actions, i, x) {
    const char *t = json_string_value(json_object_get(x, "tool"));
    n += json_is_true(json_object_get(x, "ok")) && t && strcmp(t, "get_state") != 0;
  }
  return n;
}

/* ---- outcomes: every executed action is "confirmed", "uncertain" or "failed" (issue 10 §2) ---- */

/* The outcome of a finished call. status 0 with the result's "status" "uncertain" (sent, no word from the DAW by
 * the deadline; also the older names "sent_unconfirmed" and "unchanged") is uncertain; other successes are
 * confirmed (the DAW's own feedback or read-back); anything else failed. */
static const char *outcome_of(int ok, const json_t *result) {
  if (!ok) return "failed";
  const char *st = json_string_value(json_object_get(result, "status"));
  if (st && (!strcmp(st, "uncertain") || !strcmp(st, "sent_unconfirmed") || !strcmp(st, "unchanged")))
    return "uncertain";
  return "confirmed";
}

struct tally {
  int steps;     /* plan steps that change something (read-only steps are not counted) */
  int confirmed, uncertain, failed, not_run; /* per plan step */
  int refused;   /* stage-2 calls outside the plan (counted as failed too) */
  int total;     /* steps + refused */
};

static int has_step_violation(const json_t *violations, int n) {
  size_t i;
  json_t *v;
  json_array_foreach(violations, i, v) {
    const char *kind = json_string_value(json_object_get(v, "kind"));
    if (json_integer_value(json_object_get(v, "step")) == n && kind && strcmp(kind, "empty_track")) return 1;
  }
  return 0;
}

/* One outcome per plan step: the outcome of its last action; "failed" when verification still finds it wrong;
 * a step never run is "not_run" when the job was interrupted, else "failed" when verification finds it missing,
 * else "uncertain" (not carried out in this run, though the session shows it). steps_out: new array
 * [{"step","tool","outcome"}] (may be NULL). */
static void tally(agent_t *a, struct tally *t, json_t **steps_out) {
  memset(t, 0, sizeof *t);
  json_t *out = steps_out ? json_array() : NULL;
  size_t i, k;
  json_t *s, *x;
  json_array_foreach(json_object_get(a->plan_json, "steps"), i, s) {
    const char *tool = json_string_value(json_object_get(s, "tool"));
    if (!tool || tools_is_read(a->tools, tool)) continue;
    int n = (int)json_integer_value(json_object_get(s, "step"));
    const char *oc = NULL;
    json_array_foreach(a->actions, k, x) {
      if (json_integer_value(json_object_get(x, "step")) == n && !json_object_get(x, "refused"))
        oc = json_string_value(json_object_get(x, "outcome"));
    }
    int vio = has_step_violation(a->violations, n);
    if (!oc) oc = a->canceled ? "not_run" : vio ? "failed" : "uncertain";
    else if (vio) oc = "failed";
    t->steps++;
    if (!strcmp(oc, "confirmed")) t->confirmed++;
    else if (!strcmp(oc, "uncertain")) t->uncertain++;
    else if (!strcmp(oc, "not_run")) t->not_run++;
    else t->failed++;
    if (out) json_array_append_new(out, json_pack("{sissss}", "step", n, "tool", tool, "outcome", oc));
  }
  json_array_foreach(a->actions, k, x) t->refused += json_object_get(x, "refused") != NULL;
  t->failed += t->refused;
  t->total = t->steps + t->refused;
  if (steps_out) *steps_out = out;
}

static char *generated_response(agent_t *a, int status) {
  char buf[2048];
  size_t o = 0;
  const json_t *vio = a->violations;
  switch (status) {
  case AGENT_EPLAN:
    o += (size_t)snprintf(buf + o, sizeof buf - o, "The plan %s %zu error%s%s, so nothing was changed.",
                          a->mode == MODE_EXEC ? "has" : "still had", json_array_size(a->plan_errors),
                          json_array_size(a->plan_errors) == 1 ? "" : "s",
                          a->mode == MODE_EXEC ? "" : " after one re-plan");
    break;
  case AGENT_EREJECTED: snprintf(buf, sizeof buf, "The plan was rejected; nothing was changed."); break;
  default:
    if (a->mode == MODE_PLAN) {
      snprintf(buf, sizeof buf, "The plan is valid (%zu step%s); nothing was sent to the DAW.",
               plan_step_count(a->plan), plan_step_count(a->plan) == 1 ? "" : "s");
      break;
    }
    if (!a->exec_started) {
      snprintf(buf, sizeof buf, "Nothing was sent to the DAW.");
      break;
    }
    struct tally t;
    tally(a, &t, NULL);
    o += (size_t)snprintf(buf + o, sizeof buf - o, "%d of %d step%s confirmed by the DAW, %d uncertain, %d failed",
                          t.confirmed, t.total, t.total == 1 ? "" : "s", t.uncertain, t.failed);
    if (t.not_run) o += (size_t)snprintf(buf + o, sizeof buf - o, ", %d not run", t.not_run);
    if (t.refused)
      o += (size_t)snprintf(buf + o, sizeof buf - o, " (%d call%s refused: not in the plan)", t.refused,
                            t.refused == 1 ? "" : "s");
    if (status == AGENT_ECANCELED)
      o += (size_t)snprintf(buf + o, sizeof buf - o, "; interrupted: %d of %d steps", t.confirmed + t.uncertain,
                            t.steps);
    else if (json_array_size(vio))
      o += (size_t)snprintf(buf + o, sizeof buf - o, "; %zu problem%s remain%s", json_array_size(vio),
                            json_array_size(vio) == 1 ? "" : "s", json_array_size(vio) == 1 ? "s" : "");
    else if (status == AGENT_OK && t.total > 0 && t.confirmed == t.total)
      o += (size_t)snprintf(buf + o, sizeof buf - o, "; the session matches the plan");
    snprintf(buf + o, sizeof buf - o, ".");
  }
  return strdup(buf);
}

static json_t *build_response(agent_t *a, int status, const char *message) {
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  json_t *ctx = context_analyze(after);
  json_decref(after);
  char *gen = generated_response(a, status);
  /* the model's closing words only when every step is confirmed: it must not claim what did not happen */
  const char *text = a->final_text && *a->final_text && status == AGENT_OK ? a->final_text : gen;
  json_t *r = json_object();
  json_object_set_new(r, "response", json_string(text ? text : ""));
  json_object_set_new(r, "actions_executed", a->actions ? json_incref(a->actions) : json_array());
  json_object_set_new(r, "musical_context", ctx ? ctx : json_null());
  json_object_set_new(r, "plan", a->plan_json ? json_incref(a->plan_json)
                                 : a->plan ? plan_to_json(a->plan)
                                           : json_null());
  json_object_set_new(r, "iteration", a->iteration > 0 ? json_integer(a->iteration) : json_null());
  json_object_set_new(r, "status", json_string(status_key(status)));
  if (message) json_object_set_new(r, "error", json_string(message));
  json_object_set_new(r, "executor", json_string(a->mode == MODE_PLAN ? "none"
                                                 : a->cfg.executor == AGENT_EXEC_DIRECT || a->mode == MODE_EXEC
                                                     ? "direct"
                                                     : "llm"));
  json_object_set_new(r, "plan_errors", a->plan_errors ? json_incref(a->plan_errors) : json_array());
  json_object_set_new(r, "violations", a->violations ? json_incref(a->violations) : json_array());
  if (a->exec_started) {
    struct tally t;
    json_t *so = NULL;
    tally(a, &t, &so);
    json_object_set_new(r, "outcomes", json_pack("{sisisisisisisi}", "confirmed", t.confirmed, "uncertain", t.uncertain,
                                                 "failed", t.failed, "refused", t.refused, "not_run", t.not_run,
                                                 "steps", t.steps, "total", t.total));
    json_object_set_new(r, "step_outcomes", so);
  }
  if (status == AGENT_ECANCELED) json_object_set_new(r, "interrupted", json_true());
  if (a->violations_first && json_array_size(a->violations_first))
    json_object_set_new(r, "violations_fixed", json_integer((json_int_t)(json_array_size(a->violations_first) -
                                                                          json_array_size(a->violations))));
  if (a->mode != MODE_PLAN) {
    json_object_set_new(r, "model_turns", json_integer(a->total_turns));
    if (a->turn_limit_hit) json_object_set_new(r, "turn_limit_reached", json_true());
  }
  if (a->mode != MODE_EXEC || a->use_calls)
    json_object_set_new(r, "usage", json_pack("{sIsIsIsb}", "input_tokens", (json_int_t)a->use_in, "output_tokens",
                                              (json_int_t)a->use_out, "calls", (json_int_t)a->use_calls, "estimated",
                                              a->use_estimated > 0));
  if (a->history_dir) json_object_set_new(r, "history_dir", json_string(a->history_dir));
  if (a->plan_text && a->mode != MODE_EXEC) json_object_set_new(r, "plan_text", json_string(a->plan_text));
  free(gen);
  return r;
}

static void job_done(agent_t *a, int status, const char *message) {
  if (a->timer.data && uv_is_active((uv_handle_t *)&a->timer)) uv_timer_stop(&a->timer);
  a->next = NULL;
  set_stage(a, AGENT_DONE);
  json_t *resp = build_response(a, status, message);
  if (status) alog(a, LOG_INFO, "done: %s%s%s", agent_strerror(status),
                   message ? ": " : "", message ? message : "");
  else alog(a, LOG_INFO, "done: %d action(s) confirmed%s", count_ok(a->actions),
            a->iteration > 0 ? ", iteration saved" : "");
  struct agent_callbacks cb = a->cfg.cb;
  char msg[512];
  snprintf(msg, sizeof msg, "%s", message ? message : "");
  job_reset(a);
  a->busy = 0;
  a->stage = AGENT_IDLE;
  if (cb.on_done) cb.on_done(a, status, resp, status ? msg : NULL, cb.data);
  json_decref(resp);
}

/* ---- close ---- */

static void on_timer_closed(uv_handle_t *h) {
  agent_t *a = h->data;
  void (*cb)(void *) = a->close_cb;
  void *cd = a->close_data;
  job_reset(a);
  prompt_free(a->prompts);
  tools_free(a->tools);
  json_decref(a->conversation);
  free(a->s_model), free(a->s_data_dir), free(a->s_composition);
  free(a);
  if (cb) cb(cd);
}

static void close_now(agent_t *a) {
  if (a->closed_timer) return;
  a->closed_timer = 1;
  uv_timer_stop(&a->timer);
  uv_close((uv_handle_t *)&a->timer, on_timer_closed);
}

static void on_close_ended(int status, const json_t *result, const char *message, void *data) {
  agent_t *a = data;
  (void)status, (void)result, (void)message;
  a->daw_pending = 0;
  a->request_begun = 0;
  close_now(a);
}

/* Called when closing and nothing is in flight any more. */
static void close_continue(agent_t *a) {
  if (a->daw_pending) return;
  if (a->request_begun) {
    a->daw_pending = 1;
    if (daw_end_request(a->cfg.daw, on_close_ended, a) == DAW_OK) return;
    a->daw_pending = 0;
    a->request_begun = 0;
  }
  close_now(a);
}

void agent_close(agent_t *a, void (*cb)(void *data), void *data) {
  if (!a || a->closing) return;
  a->closing = 1;
  a->close_cb = cb;
  a->close_data = data;
  a->next = NULL;
  uv_timer_stop(&a->timer);
  if (a->call) {
    llm_cancel(a->call);
    a->call = NULL;
  }
  a->canceled = 1;
  close_continue(a);
}

/* ---- cancel ---- */

static int save_iteration(agent_t *a, int partial);
static int count_changes(const json_t *actions);
static void tally(agent_t *a, struct tally *t, json_t **steps_out);

/* The end of an interrupted job: the part the DAW did is saved as a partial iteration (undoable like any other). */
static void cancel_done(agent_t *a) {
  char m[1200];
  if (!a->exec_started) {
    snprintf(m, sizeof m, "interrupted: 0 of %zu steps; nothing was sent to the DAW",
             a->plan ? plan_step_count(a->plan) : (size_t)0);
  } else {
    struct tally t;
    tally(a, &t, NULL);
    int n = snprintf(m, sizeof m, "interrupted: %d of %d steps (%d confirmed, %d uncertain, %d failed)",
                     t.confirmed + t.uncertain, t.steps, t.confirmed, t.uncertain, t.failed);
    if (count_changes(a->actions) > 0 && !a->cfg.no_save) {
      if (save_iteration(a, 1)) {
        alog(a, LOG_INFO, "%s", a->save_err);
        if (n > 0 && (size_t)n < sizeof m) snprintf(m + n, sizeof m - (size_t)n, "; %s", a->save_err);
      } else if (n > 0 && (size_t)n < sizeof m) {
        snprintf(m + n, sizeof m - (size_t)n, "; the part done is saved as iteration %d (partial)", a->iteration);
      }
    }
  }
  alog(a, LOG_INFO, "%s", m);
  job_done(a, AGENT_ECANCELED, m);
}

static void on_cancel_ended(int status, const json_t *result, const char *message, void *data) {
  agent_t *a = data;
  (void)status, (void)result, (void)message;
  a->daw_pending = 0;
  a->request_begun = 0;
  if (a->closing) {
    close_continue(a);
    return;
  }
  cancel_done(a);
}

static void cancel_finish(agent_t *a) {
  /* reached from the timer or from a callback, whichever comes first */
  if (a->cancel_finishing) return;
  a->cancel_finishing = 1;
  uv_timer_stop(&a->timer);
  a->next = NULL;
  if (a->request_begun) {
    a->daw_pending = 1;
    if (daw_end_request(a->cfg.daw, on_cancel_ended, a) == DAW_OK) return;
    a->daw_pending = 0;
    a->request_begun = 0;
  }
  cancel_done(a);
}

/* Every DAW/LLM callback starts with this: 1 = the job is being canceled/closed (handled here). */
static int stop_if_canceled(agent_t *a) {
  if (a->closing) {
    close_continue(a);
    return 1;
  }
  if (a->canceled) {
    cancel_finish(a);
    return 1;
  }
  return 0;
}

void agent_cancel(agent_t *a) {
  if (!a || !a->busy || a->canceled || a->closing) return;
  a->canceled = 1;
  alog(a, LOG_INFO, "canceling (%s)", agent_stage_name(a->stage));
  if (a->call) {
    llm_cancel(a->call);
    a->call = NULL;
  }
  if (a->daw_pending) return; /* the callback finishes the cancel */
  uv_timer_stop(&a->timer);
  schedule(a, cancel_finish);
}

/* ------------------------------------------------------------------------------------------------ */
/* Actions */

static void count_failure(agent_t *a, int status) {
  if (!status) return;
  a->n_failed++;
  if (status == DAW_EUNREACHABLE || status == DAW_ETIMEDOUT) a->n_unreachable++;
}

static json_t *record_action(agent_t *a, int step, const char *tool, const json_t *args, int ok, const json_t *result,
                             const char *error) {
  json_t *x = json_object();
  if (step > 0) json_object_set_new(x, "step", json_integer(step));
  json_object_set_new(x, "tool", json_string(tool ? tool : ""));
  json_object_set_new(x, "args", args ? json_deep_copy(args) : json_object());
  json_object_set_new(x, "ok", json_boolean(ok));
  json_object_set_new(x, "outcome", json_string(outcome_of(ok, result)));
  json_object_set_new(x, "result", result ? json_deep_copy(result) : json_null());
  if (error) json_object_set_new(x, "error", json_string(error));
  json_object_set_new(x, "phase", json_string(a->round ? "fix" : "execute"));
  if (ok && step > 0) {
    /* earlier failed attempts of this step were retried with success */
    size_t i;
    json_t *p;
    json_array_foreach(a->actions, i, p) {
      if (json_integer_value(json_object_get(p, "step")) == step && !json_is_true(json_object_get(p, "ok")) &&
          !json_object_get(p, "refused"))
        json_object_set_new(p, "retried", json_true());
    }
  }
  json_array_append_new(a->actions, x);
  return x;
}

static const char *track_name_of(agent_t *a, const char *id) {
  session_t *s = daw_session(a->cfg.daw);
  int idx = id ? session_track_index_by_id(s, id) : 0;
  return idx ? session_track_name(s, idx) : NULL;
}

static void log_result(agent_t *a, const char *tool, const json_t *args, int status, const json_t *result,
                       const char *message) {
  if (status) {
    alog(a, LOG_INFO, "tool %s failed: %s", tool, message ? message : "error");
    return;
  }
  const char *st = json_string_value(json_object_get(result, "status"));
  const char *tid = json_string_value(json_object_get(result, "track_id"));
  const char *cid = json_string_value(json_object_get(result, "clip_id"));
  alog(a, LOG_INFO, "tool %s: %s%s%s%s%s", tool, st ? st : "done", tid ? ", track " : "", tid ? tid : "",
       cid ? ", clip " : "", cid ? cid : "");
  if (!strcmp(tool, "create_track")) {
    const char *nm = json_string_value(json_object_get(args, "name"));
    const char *ty = json_string_value(json_object_get(args, "type"));
    char *q = compact(json_object_get(args, "name"));
    alog(a, LOG_INFO, "track created: %s (%s, %s)", q ? q : (nm ? nm : "?"), tid ? tid : "?", ty ? ty : "?");
    free(q);
  } else if (!strcmp(tool, "create_midi_clip")) {
    const char *tr = json_string_value(json_object_get(args, "track_id"));
    json_int_t n = json_is_integer(json_object_get(result, "notes_added"))
                       ? json_integer_value(json_object_get(result, "notes_added"))
                       : (json_int_t)json_array_size(json_object_get(args, "notes"));
    const char *tn = track_name_of(a, tid ? tid : tr);
    json_t *tq = tn ? json_string(tn) : NULL;
    char *q = tq ? compact(tq) : NULL;
    json_decref(tq);
    alog(a, LOG_INFO, "clip added: %s on %s%s%s, %lld note%s", cid ? cid : "?", tid ? tid : (tr ? tr : "?"),
         q ? " " : "", q ? q : "", (long long)n, n == 1 ? "" : "s");
    free(q);
  } else if (!strcmp(tool, "add_effect")) {
    const char *en = json_string_value(json_object_get(args, "effect_name"));
    const char *tr = json_string_value(json_object_get(args, "track_id"));
    alog(a, LOG_INFO, "effect added: %s on %s", en ? en : "?", tid ? tid : (tr ? tr : "?"));
  }
}

/* Expand notation in tool arguments (notes, add_notes, remove_notes); canonicalize catalog names.
 * Returns a new object or NULL with err. */
static int canon_catalog(const json_t *list, const char *name, const char **out) {
  size_t i, k;
  json_t *e, *al;
  json_array_foreach(list, i, e) {
    const char *n = json_string_value(json_object_get(e, "name"));
    if (n && !strcasecmp(n, name)) {
      *out = n;
      return 1;
    }
    json_array_foreach(json_object_get(e, "aliases"), k, al) {
      if (json_string_value(al) && !strcasecmp(json_string_value(al), name)) {
        *out = n;
        return 1;
      }
    }
  }
  return 0;
}

static json_t *prepare_args(agent_t *a, const json_t *args, char *err, size_t errlen) {
  json_t *x = json_deep_copy(args);
  if (!x) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  static const char *const note_keys[] = {"notes", "add_notes"};
  for (size_t k = 0; k < 2; k++) {
    json_t *v = json_object_get(x, note_keys[k]);
    if (!v) continue;
    char e2[400];
    json_t *ex = notation_expand_notes(v, NULL, e2, sizeof e2);
    if (!ex) {
      snprintf(err, errlen, "%s: %s", note_keys[k], e2);
      json_decref(x);
      return NULL;
    }
    json_object_set_new(x, note_keys[k], ex);
  }
  json_t *rm = json_object_get(x, "remove_notes");
  size_t i;
  json_t *n;
  json_array_foreach(rm, i, n) {
    json_t *nv = json_object_get(n, "n");
    if (json_is_string(nv)) {
      int midi;
      char e2[256];
      if (notation_pitch(json_string_value(nv), &midi, e2, sizeof e2)) {
        snprintf(err, errlen, "remove_notes[%zu]: %s", i, e2);
        json_decref(x);
        return NULL;
      }
      json_object_set_new(n, "n", json_integer(midi));
    }
  }
  const json_t *cat = daw_catalog(a->cfg.daw);
  const char *canon;
  const char *en = json_string_value(json_object_get(x, "effect_name"));
  if (en && canon_catalog(json_object_get(cat, "effects"), en, &canon))
    json_object_set_new(x, "effect_name", json_string(canon));
  const char *in = json_string_value(json_object_get(x, "instrument"));
  if (in && canon_catalog(json_object_get(cat, "instruments"), in, &canon))
    json_object_set_new(x, "instrument", json_string(canon));
  return x;
}

static int tool_offered(agent_t *a, const char *name) {
  size_t i;
  json_t *t;
  json_array_foreach(a->tools_avail, i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    if (n && name && !strcmp(n, name)) return 1;
  }
  return 0;
}

static json_t *created_tracks(agent_t *a) {
  json_t *out = json_array();
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  size_t i, k;
  json_t *t, *b;
  json_array_foreach(json_object_get(after, "tracks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    int old = 0;
    json_array_foreach(json_object_get(a->before, "tracks"), k, b) {
      const char *bid = json_string_value(json_object_get(b, "id"));
      if (bid && id && !strcmp(bid, id)) old = 1;
    }
    if (old) continue;
    /* the type it was created with (a mirror fed by native OSC alone may not know it) */
    json_t *c = json_deep_copy(t);
    size_t m;
    json_t *x;
    json_array_foreach(a->actions, m, x) {
      const char *rid = json_string_value(json_object_get(json_object_get(x, "result"), "track_id"));
      const char *tool = json_string_value(json_object_get(x, "tool"));
      const json_t *ty = json_object_get(json_object_get(x, "args"), "type");
      if (tool && !strcmp(tool, "create_track") && rid && id && !strcmp(rid, id) && json_is_string(ty))
        json_object_set(c, "type", (json_t *)ty);
    }
    json_array_append_new(out, c);
  }
  json_decref(after);
  return out;
}

/* ------------------------------------------------------------------------------------------------ */
/* Stage 1: planning and validation */

static void go_confirm(agent_t *a);
static void begin_exec(agent_t *a);
static void after_round(agent_t *a);

static void llm_failed(agent_t *a, int status, const char *errmsg, const char *what) {
  int code = status == LLM_EAUTH || status == LLM_ECONFIG ? AGENT_ECONFIG : AGENT_ELLM;
  char m[600];
  snprintf(m, sizeof m, "%s: %s", what, errmsg && *errmsg ? errmsg : llm_strerror(status));
  alog(a, LOG_INFO, "%s", m);
  job_done(a, code, m);
}

static void set_llm_options(agent_t *a, llm_request_t *req, int stream) {
  struct llm_options o = {.model = a->cfg.model,
                          .temperature = a->cfg.temperature == 0 ? 0.2 : a->cfg.temperature,
                          .max_tokens = 0,
                          .stream = stream};
  llm_request_set_options(req, &o);
}

static void on_plan_delta(llm_call_t *call, const char *text, size_t len, void *data) {
  agent_t *a = data;
  (void)call;
  if (a->cfg.cb.on_plan_delta) a->cfg.cb.on_plan_delta(a, a->attempt, text, len, a->cfg.cb.data);
}

static void on_plan_done(llm_call_t *call, int status, const struct llm_result *res, const char *errmsg, void *data);

static int start_plan_call(agent_t *a) {
  set_stage(a, AGENT_PLANNING);
  int stream = a->cfg.stream && a->cfg.cb.on_plan_delta;
  a->call = llm_chat(a->cfg.llm, a->req, stream ? on_plan_delta : NULL, on_plan_done, a);
  if (!a->call) {
    job_done(a, AGENT_ENOMEM, "the model client could not start a request");
    return -1;
  }
  return 0;
}

/* Parse + validate text; sets plan, plan_json, plan_errors. Returns 1 when valid. */
static int parse_and_validate(agent_t *a, const char *text) {
  set_stage(a, AGENT_VALIDATING);
  plan_free(a->plan), a->plan = NULL;
  json_decref(a->plan_json), a->plan_json = NULL;
  json_decref(a->plan_errors), a->plan_errors = NULL;
  char err[512];
  a->plan = plan_parse(text, (size_t)-1, err, sizeof err);
  if (!a->plan) {
    a->plan_errors = json_pack("[{sissss}]", "step", 0, "tool", "", "message", err);
  } else {
    json_t *errors = NULL;
    plan_validate(a->plan, a->tools_avail, a->state0, daw_catalog(a->cfg.daw), &errors);
    a->plan_errors = errors ? errors : json_array();
    a->plan_json = plan_to_json(a->plan);
  }
  size_t ne = json_array_size(a->plan_errors);
  if (a->plan) {
    alog(a, LOG_INFO, "plan: %zu step%s, %s", plan_step_count(a->plan), plan_step_count(a->plan) == 1 ? "" : "s",
         ne ? "invalid" : "valid");
    for (size_t i = 0; i < plan_step_count(a->plan); i++) {
      char *args = compact(plan_step_args(a->plan, i));
      alog(a, LOG_INFO, "plan: Step %d: %s %s", plan_step_number(a->plan, i), plan_step_tool(a->plan, i),
           args ? args : "{}");
      free(args);
    }
  }
  size_t i;
  json_t *e;
  json_array_foreach(a->plan_errors, i, e) {
    alog(a, LOG_INFO, "plan error (Step %lld): %s", (long long)json_integer_value(json_object_get(e, "step")),
         json_string_value(json_object_get(e, "message")));
  }
  if (a->cfg.cb.on_plan) a->cfg.cb.on_plan(a, a->attempt, a->plan_json, a->plan_errors, text, a->cfg.cb.data);
  return ne == 0 && a->plan;
}

/* Count one model call in the job's usage. A provider that did not report a figure (-1; a scripted model whose
 * transcript has no "usage") gets an estimate (budget_tokens of the request as sent and of the answer) and the
 * response says "estimated": true. Called before the answer is appended to a->req. */
static void count_usage(agent_t *a, const struct llm_result *res) {
  a->use_calls++;
  if (!res) return; /* the call failed: nothing came back; its input is not counted */
  if (res->usage.input_tokens >= 0) {
    a->use_in += res->usage.input_tokens;
  } else {
    char *q = a->req ? json_dumps(llm_request_json(a->req), JSON_COMPACT) : NULL;
    a->use_in += q ? (long)budget_tokens(q) : 0;
    free(q);
    a->use_estimated++;
  }
  if (res->usage.output_tokens >= 0) {
    a->use_out += res->usage.output_tokens;
  } else {
    json_t *rj = llm_result_json(res);
    json_object_del(rj, "usage");
    char *t = json_dumps(rj, JSON_COMPACT);
    a->use_out += t ? (long)budget_tokens(t) : 0;
    free(t);
    json_decref(rj);
    a->use_estimated++;
  }
}

static void on_plan_done(llm_call_t *call, int status, const struct llm_result *res, const char *errmsg, void *data) {
  agent_t *a = data;
  (void)call;
  a->call = NULL;
  count_usage(a, status ? NULL : res);
  if (stop_if_canceled(a)) return;
  if (status) {
    llm_failed(a, status, errmsg, "planning");
    return;
  }
  free(a->plan_text);
  a->plan_text = strdup(res->text ? res->text : "");
  alog(a, LOG_DEBUG, "plan text:\n%s", a->plan_text);
  if (parse_and_validate(a, a->plan_text)) {
    if (a->mode == MODE_PLAN) {
      job_done(a, AGENT_OK, NULL);
      return;
    }
    go_confirm(a);
    return;
  }
  if (a->attempt == 0) {
    a->attempt = 1;
    alog(a, LOG_INFO, "re-planning with %zu error%s quoted", json_array_size(a->plan_errors),
         json_array_size(a->plan_errors) == 1 ? "" : "s");
    struct prompt_text pt;
    char err[512];
    if (prompt_replan(a->prompts, a->plan_errors, a->tools_avail, &pt, err, sizeof err)) {
      job_done(a, AGENT_ECONFIG, err);
      return;
    }
    llm_request_add_result(a->req, res);
    llm_request_add_user(a->req, pt.user ? pt.user : "");
    prompt_text_free(&pt);
    start_plan_call(a);
    return;
  }
  char m[700];
  const char *first = json_string_value(json_object_get(json_array_get(a->plan_errors, 0), "message"));
  snprintf(m, sizeof m, "the plan is still invalid after one re-plan (%zu error%s; first: %s)",
           json_array_size(a->plan_errors), json_array_size(a->plan_errors) == 1 ? "" : "s", first ? first : "?");
  job_done(a, AGENT_EPLAN, m);
}

static void prepare_context(agent_t *a) {
  json_t *caps = daw_capabilities(a->cfg.daw);
  a->tools_avail = tools_subset(a->tools, caps);
  json_decref(caps);
  a->state0 = session_to_json(daw_session(a->cfg.daw));
}

static void start_planning(agent_t *a) {
  prepare_context(a);
  set_stage(a, AGENT_PLANNING);
  alog(a, LOG_INFO, "planning started (%s, %zu tools available)", llm_provider_name(llm_get_config(a->cfg.llm)->provider),
       json_array_size(a->tools_avail));
  json_t *an = context_analyze(a->state0);
  struct prompt_conversation_stats cs = {0};
  struct prompt_stage1 in = {.dialect = daw_dialect(a->cfg.daw), .request = a->request, .state = a->state0,
                             .analysis = an, .catalog = daw_catalog(a->cfg.daw), .tools = a->tools_avail,
                             .context_budget = a->cfg.context_budget, .profile = a->cfg.profile,
                             .conversation = a->conversation, .conv_stats = &cs};
  struct prompt_text pt;
  char err[512];
  int rc = prompt_stage1(a->prompts, &in, &pt, err, sizeof err);
  json_decref(an);
  if (rc) {
    job_done(a, AGENT_ECONFIG, err);
    return;
  }
  alog(a, LOG_INFO, "stage 1 prompt: %zu tokens (estimate)", budget_tokens(pt.system) + budget_tokens(pt.user));
  if (cs.turns)
    alog(a, LOG_INFO, "conversation: %zu earlier turn%s (%zu in full, %zu on one line, %zu dropped), %zu tokens",
         cs.turns, cs.turns == 1 ? "" : "s", cs.full, cs.one_line, cs.dropped, cs.tokens);
  a->req = llm_request_new();
  if (!a->req || (pt.system && llm_request_set_system(a->req, pt.system)) || llm_request_add_user(a->req, pt.user)) {
    prompt_text_free(&pt);
    job_done(a, AGENT_ENOMEM, "out of memory");
    return;
  }
  prompt_text_free(&pt);
  set_llm_options(a, a->req, a->cfg.stream && a->cfg.cb.on_plan_delta);
  start_plan_call(a);
}

static void start_exec_plan(agent_t *a) {
  prepare_context(a);
  alog(a, LOG_INFO, "validating the plan file (%zu tools available)", json_array_size(a->tools_avail));
  a->plan_text = strdup(a->plan_input ? a->plan_input : "");
  if (!parse_and_validate(a, a->plan_text)) {
    char m[700];
    const char *first = json_string_value(json_object_get(json_array_get(a->plan_errors, 0), "message"));
    snprintf(m, sizeof m, "the plan is invalid (%zu error%s; first: %s)", json_array_size(a->plan_errors),
             json_array_size(a->plan_errors) == 1 ? "" : "s", first ? first : "?");
    job_done(a, AGENT_EPLAN, m);
    return;
  }
  go_confirm(a);
}

int agent_ask(agent_t *a, const char *request) {
  if (!a || !request || !a->cfg.llm) return AGENT_EINVAL;
  int rc = job_start(a, MODE_ASK);
  if (rc) return rc;
  a->request = strdup(request);
  schedule(a, start_planning);
  return AGENT_OK;
}

int agent_plan(agent_t *a, const char *request) {
  if (!a || !request || !a->cfg.llm) return AGENT_EINVAL;
  int rc = job_start(a, MODE_PLAN);
  if (rc) return rc;
  a->request = strdup(request);
  schedule(a, start_planning);
  return AGENT_OK;
}

int agent_exec_plan(agent_t *a, const char *plan_text, const char *label) {
  if (!a || !plan_text) return AGENT_EINVAL;
  int rc = job_start(a, MODE_EXEC);
  if (rc) return rc;
  a->request = strdup(label ? label : "plan");
  a->plan_input = strdup(plan_text);
  schedule(a, start_exec_plan);
  return AGENT_OK;
}

/* ---- the conversation ---- */

int agent_set_conversation(agent_t *a, const json_t *turns) {
  if (!a || a->busy || (turns && !json_is_array(turns))) return AGENT_EINVAL;
  size_t i;
  json_t *t;
  json_array_foreach(turns, i, t) {
    if (!json_is_object(t) || !json_is_string(json_object_get(t, "request"))) return AGENT_EINVAL;
  }
  json_t *copy = NULL;
  if (json_array_size(turns)) {
    copy = json_deep_copy(turns);
    if (!copy) return AGENT_ENOMEM;
  }
  json_decref(a->conversation);
  a->conversation = copy;
  return AGENT_OK;
}

/* The first line of s, at most 300 bytes (cut on a UTF-8 boundary), as a new JSON string. */
static json_t *first_line(const char *s) {
  if (!s) return json_string("");
  size_t n = strcspn(s, "\r\n");
  if (n > 300) {
    n = 300;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  }
  json_t *j = json_stringn(s, n);
  return j ? j : json_string("");
}

json_t *agent_turn_from_response(const char *request, const json_t *response) {
  if (!request) return NULL;
  json_t *t = json_object();
  if (!t) return NULL;
  json_t *rq = json_string(request);
  json_object_set_new(t, "request", rq ? rq : json_string("(not valid UTF-8)"));
  const json_t *plan = json_object_get(response, "plan");
  if (json_is_object(plan)) {
    json_t *steps = json_array();
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(plan, "steps"), i, st) {
      json_t *s = json_object();
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)st, k, v) {
        if (!strcmp(k, "args")) json_object_set_new(s, k, prompt_args_short(v));
        else json_object_set(s, k, v);
      }
      json_array_append_new(steps, s);
    }
    json_object_set_new(t, "plan", json_pack("{so}", "steps", steps));
  } else {
    json_object_set_new(t, "plan", json_null());
  }
  const char *status = json_string_value(json_object_get(response, "status"));
  json_object_set_new(t, "outcome", json_string(status ? status : "unknown"));
  json_object_set_new(t, "summary", first_line(json_string_value(json_object_get(response, "response"))));
  json_t *acts = json_array();
  size_t i;
  json_t *x;
  json_array_foreach(json_object_get(response, "actions_executed"), i, x) {
    json_t *o = json_object();
    json_object_set(o, "tool", json_object_get(x, "tool") ? json_object_get(x, "tool") : json_null());
    json_object_set_new(o, "args", prompt_args_short(json_object_get(x, "args")));
    const char *oc = json_string_value(json_object_get(x, "outcome"));
    json_object_set_new(o, "outcome", json_string(oc ? oc : "unknown"));
    if (json_object_get(x, "refused")) json_object_set_new(o, "refused", json_true());
    const json_t *res = json_object_get(x, "result");
    if (json_is_string(json_object_get(res, "track_id"))) json_object_set(o, "track_id", json_object_get(res, "track_id"));
    if (json_is_string(json_object_get(res, "clip_id"))) json_object_set(o, "clip_id", json_object_get(res, "clip_id"));
    json_array_append_new(acts, o);
  }
  json_object_set_new(t, "actions", acts);
  return t;
}

/* ---- confirm ---- */

static void rejected(agent_t *a) { job_done(a, AGENT_EREJECTED, "the plan was rejected"); }

static void go_confirm(agent_t *a) {
  if (a->cfg.confirm && a->cfg.cb.on_confirm) {
    set_stage(a, AGENT_CONFIRMING);
    alog(a, LOG_INFO, "waiting for approval of the plan");
    a->cfg.cb.on_confirm(a, a->plan_json, a->cfg.cb.data);
    return;
  }
  begin_exec(a);
}

void agent_confirm(agent_t *a, int approve) {
  if (!a || !a->busy || a->stage != AGENT_CONFIRMING || a->next) return;
  alog(a, LOG_INFO, "plan %s", approve ? "approved" : "rejected");
  schedule(a, approve ? begin_exec : rejected);
}

/* ------------------------------------------------------------------------------------------------ */
/* Stage 2 */

static int is_direct(agent_t *a) { return a->mode == MODE_EXEC || a->cfg.executor == AGENT_EXEC_DIRECT; }

static void direct_next(agent_t *a);
static void s2_start(agent_t *a);

static void on_begun(int status, const json_t *result, const char *message, void *data) {
  agent_t *a = data;
  (void)result;
  a->daw_pending = 0;
  if (status) alog(a, LOG_WARN, "could not open the DAW's undo block: %s", message ? message : daw_strerror(status));
  else a->request_begun = 1;
  if (stop_if_canceled(a)) return;
  if (is_direct(a)) {
    /* the validated plan's steps, in order */
    a->work = json_array();
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(a->plan_json, "steps"), i, st) {
      json_array_append_new(a->work, json_pack("{sOsOsO}", "step", json_object_get(st, "step"), "tool",
                                               json_object_get(st, "tool"), "args", json_object_get(st, "args")));
    }
    a->step_i = 0;
    direct_next(a);
  } else {
    s2_start(a);
  }
}

static const char *composition_for(agent_t *a);

/* Before the first DAW change: can the data directory take the iteration (read-only, full)? */
static int check_storage(agent_t *a, char *m, size_t mlen) {
  if (a->cfg.no_save) return 0;
  char err[512];
  const char *comp = composition_for(a);
  history_t *h = history_open(a->cfg.data_dir, comp, err, sizeof err);
  if (!h) {
    errfmt(m, mlen, 0, "the history of \"%s\" cannot be opened, so the change could not be saved: %s; nothing was "
           "sent to the DAW", comp, err);
    return -1;
  }
  int rc = history_check_writable(h, err, sizeof err);
  history_free(h);
  if (rc) {
    errfmt(m, mlen, 0, "the data directory cannot take the iteration: %s; nothing was sent to the DAW", err);
    return -1;
  }
  return 0;
}

static void begin_exec(agent_t *a) {
  json_decref(a->before);
  a->before = session_to_json(daw_session(a->cfg.daw));
  char m[800];
  if (check_storage(a, m, sizeof m)) {
    alog(a, LOG_INFO, "%s", m);
    job_done(a, AGENT_ESTORAGE, m);
    return;
  }
  set_stage(a, AGENT_EXECUTING);
  a->exec_started = 1;
  alog(a, LOG_INFO, "executing %zu step%s (%s executor)", plan_step_count(a->plan),
       plan_step_count(a->plan) == 1 ? "" : "s", is_direct(a) ? "direct" : "llm");
  a->daw_pending = 1;
  int rc = daw_begin_request(a->cfg.daw, a->request ? a->request : "dawbridge", on_begun, a);
  if (rc) {
    a->daw_pending = 0;
    on_begun(rc, NULL, daw_strerror(rc), a);
  }
}

/* ---- the direct executor ---- */

/* Copy of v with references resolved to confirmed ids; *missing = the step number of an unresolved one. */
static json_t *resolve_refs(agent_t *a, const json_t *v, const char *key, int *missing) {
  const char *kind;
  int n = plan_ref_step(v, &kind);
  if (n > 0) {
    char k[16];
    snprintf(k, sizeof k, "%d", n);
    int want_clip = (key && !strcmp(key, "clip_id")) || !strcmp(kind, "clip");
    const json_t *id = json_object_get(want_clip ? a->step_clips : a->step_tracks, k);
    if (!json_is_string(id)) {
      if (!*missing) *missing = n;
      return json_null();
    }
    return json_copy((json_t *)id);
  }
  if (json_is_object(v)) {
    json_t *o = json_object();
    const char *kk;
    json_t *x;
    json_object_foreach((json_t *)v, kk, x) json_object_set_new(o, kk, resolve_refs(a, x, kk, missing));
    return o;
  }
  if (json_is_array(v)) {
    json_t *arr = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) json_array_append_new(arr, resolve_refs(a, x, key, missing));
    return arr;
  }
  return json_deep_copy(v);
}

/* ---- read-back of a create whose confirmation was lost (issue 10 §3: never resend a non-idempotent command
 * without reading back whether it took effect) ----
 * A create_track / create_midi_clip / add_effect that failed because the DAW did not answer or its confirmation
 * did not come (DAW_ETIMEDOUT, DAW_EUNREACHABLE; not a refusal) may still have been done. Before its result is
 * recorded (and, in stage 2, shown to the model, which would call it again), the mirror is refreshed and the
 * object looked for: a track of that name that was not there before and no earlier action returned; a clip at
 * that start on that track, new and not returned before; one more such effect on the track than the plan's
 * confirmed add_effect calls put there. Found: the step is confirmed with the ids of the read-back ("read_back":
 * true). Absent: the failure stands (the step may run again). Refresh failed: the failure stands and "unknown":
 * true (stage 2 does not run the step again; verification checks it later). */
static const json_t *track_by_id(const json_t *state, const char *id);
static int clip_in(const json_t *track, const char *cid);
static int count_fx(const json_t *track, const char *name);

struct readback {
  agent_t *a;
  daw_cb cb; /* the result handler the call had: called with the outcome of the read-back */
  void *data;
  char tool[48];
  json_t *args; /* borrowed from the call's context, which lives until cb */
  int status;
  char *message;
};

static void a_pending_off(agent_t *a) { a->daw_pending = 0; }

static int is_create(const char *tool) {
  return tool && (!strcmp(tool, "create_track") || !strcmp(tool, "create_midi_clip") || !strcmp(tool, "add_effect"));
}

/* Was this id returned by an action the agent already counts as done? */
static int id_claimed(const json_t *actions, const char *key, const char *id) {
  size_t i;
  json_t *x;
  json_array_foreach((json_t *)actions, i, x) {
    if (!json_is_true(json_object_get(x, "ok"))) continue;
    const char *v = json_string_value(json_object_get(json_object_get(x, "result"), key));
    if (v && !strcmp(v, id)) return 1;
  }
  return 0;
}

json_t *agent_readback_find(const json_t *before, const json_t *after, const json_t *actions, const char *tool,
                            const json_t *args) {
  json_t *res = NULL;
  if (!tool || !args || !is_create(tool)) return NULL;
  size_t i;
  json_t *t;
  if (!strcmp(tool, "create_track")) {
    const char *name = json_string_value(json_object_get(args, "name"));
    json_array_foreach(json_object_get(after, "tracks"), i, t) {
      const char *id = json_string_value(json_object_get(t, "id"));
      const char *nm = json_string_value(json_object_get(t, "name"));
      if (!id || !nm || !name || strcasecmp(nm, name) || track_by_id(before, id) || id_claimed(actions, "track_id", id))
        continue;
      res = json_pack("{sssssb}", "status", "confirmed", "track_id", id, "read_back", 1);
      break;
    }
  } else {
    const char *tid = json_string_value(json_object_get(args, "track_id"));
    const json_t *T = track_by_id(after, tid);
    const json_t *bt = track_by_id(before, tid);
    if (T && !strcmp(tool, "create_midi_clip")) {
      double start = json_number_value(json_object_get(args, "start_time"));
      json_array_foreach(json_object_get(T, "clips"), i, t) {
        const char *cid = json_string_value(json_object_get(t, "id"));
        if (!cid || (bt && clip_in(bt, cid)) || id_claimed(actions, "clip_id", cid)) continue;
        if (fabs(json_number_value(json_object_get(t, "start")) - start) > 0.01) continue;
        res = json_pack("{sssssssIsb}", "status", "confirmed", "track_id", tid, "clip_id", cid, "notes",
                        (json_int_t)json_array_size(json_object_get(t, "notes")), "read_back", 1);
        break;
      }
    } else if (T) {
      const char *en = json_string_value(json_object_get(args, "effect_name"));
      int have = count_fx(T, en) - (bt ? count_fx(bt, en) : 0), done = 0;
      json_array_foreach((json_t *)actions, i, t) {
        const json_t *xa = json_object_get(t, "args");
        const char *xt = json_string_value(json_object_get(t, "tool"));
        const char *xe = json_string_value(json_object_get(xa, "effect_name"));
        const char *xtr = json_string_value(json_object_get(xa, "track_id"));
        done += json_is_true(json_object_get(t, "ok")) && xt && !strcmp(xt, "add_effect") && xe && en &&
                !strcasecmp(xe, en) && xtr && !strcmp(xtr, tid);
      }
      if (have > done) res = json_pack("{sssssb}", "status", "confirmed", "track_id", tid, "read_back", 1);
    }
  }
  return res;
}

static json_t *readback_find(agent_t *a, const char *tool, const json_t *args) {
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  json_t *res = agent_readback_find(a->before, after, a->actions, tool, args);
  json_decref(after);
  return res;
}

static void on_readback(int status, const json_t *result, const char *message, void *data) {
  struct readback *rb = data;
  agent_t *a = rb->a;
  json_t *found = NULL;
  /* clips come from the companion's state: when it was not read, "no such clip" is no answer */
  const char *cerr = json_string_value(json_object_get(result, "companion_state_error"));
  if (!cerr) cerr = json_string_value(json_object_get(result, "companion_error"));
  if (!status && cerr && !strcmp(rb->tool, "create_midi_clip") &&
      (found = readback_find(a, rb->tool, rb->args)) == NULL) {
    status = DAW_EUNREACHABLE;
    message = cerr;
  }
  char msg[1200];
  if (a->closing || a->canceled) {
    snprintf(msg, sizeof msg, "%s", rb->message);
  } else if (status) {
    snprintf(msg, sizeof msg, "%s (the read-back failed too: %s; it is unknown whether the DAW did it, so the step "
             "is not run again; do not call it again)", rb->message, message ? message : daw_strerror(status));
    rb->status = DAW_ETIMEDOUT;
  } else if (found || (found = readback_find(a, rb->tool, rb->args)) != NULL) {
    alog(a, LOG_INFO, "%s: the confirmation was lost (%s), but the read-back shows it was done", rb->tool,
         rb->message);
    json_object_set_new(found, "note", json_string("the DAW's confirmation was lost, but a read-back of the session "
                                                   "shows this was done; do not call it again"));
  } else {
    alog(a, LOG_INFO, "%s: not confirmed (%s), and the read-back shows it was not done", rb->tool, rb->message);
    snprintf(msg, sizeof msg, "%s (a read-back shows the DAW does not have it: the step can be called again)",
             rb->message);
  }
  if (!found && status && !a->closing && !a->canceled) a->readback_unknown = 1;
  if (found) rb->cb(0, found, NULL, rb->data);
  else rb->cb(rb->status, NULL, msg, rb->data);
  a->readback_unknown = 0;
  json_decref(found);
  free(rb->message);
  free(rb);
}

/* Returns 1 when a read-back was started (cb follows with its outcome), 0 when the result stands as it is. */
static int readback_start(agent_t *a, const char *tool, const json_t *args, int status, const char *message,
                          daw_cb cb, void *data) {
  if (!status || a->closing || a->canceled || !is_create(tool) || !args || !a->before) return 0;
  if (status != DAW_ETIMEDOUT && status != DAW_EUNREACHABLE) return 0;
  struct readback *rb = calloc(1, sizeof *rb);
  if (!rb) return 0;
  rb->a = a, rb->cb = cb, rb->data = data, rb->args = (json_t *)args, rb->status = status;
  snprintf(rb->tool, sizeof rb->tool, "%s", tool);
  rb->message = strdup(message ? message : daw_strerror(status));
  alog(a, LOG_INFO, "%s failed (%s): reading the session back before the step may run again", tool, rb->message);
  a->daw_pending = 1;
  if (!rb->message || daw_refresh(a->cfg.daw, on_readback, rb) != DAW_OK) {
    free(rb->message);
    free(rb);
    return 0;
  }
  return 1;
}

struct direct_call {
  agent_t *a;
  int step;
  char tool[48];
  json_t *args;
};

static void note_created(agent_t *a, int step, const char *tool, const json_t *result) {
  if (step <= 0) return;
  char k[16];
  snprintf(k, sizeof k, "%d", step);
  const json_t *tid = json_object_get(result, "track_id");
  const json_t *cid = json_object_get(result, "clip_id");
  if (!strcmp(tool, "create_track") && json_is_string(tid)) json_object_set(a->step_tracks, k, (json_t *)tid);
  if (!strcmp(tool, "create_midi_clip") && json_is_string(cid)) json_object_set(a->step_clips, k, (json_t *)cid);
}

static void on_direct_checked(int status, const json_t *result, const char *message, void *data);

static void on_direct_result(int status, const json_t *result, const char *message, void *data) {
  struct direct_call *dc = data;
  a_pending_off(dc->a);
  if (readback_start(dc->a, dc->tool, dc->args, status, message, on_direct_checked, dc)) return;
  on_direct_checked(status, result, message, dc);
}

static void on_direct_checked(int status, const json_t *result, const char *message, void *data) {
  struct direct_call *dc = data;
  agent_t *a = dc->a;
  a->daw_pending = 0;
  if (!a->closing) {
    record_action(a, dc->step, dc->tool, dc->args, status == 0, result, status ? (message ? message : daw_strerror(status)) : NULL);
    log_result(a, dc->tool, dc->args, status, result, message);
    if (a->cfg.cb.on_tool_result)
      a->cfg.cb.on_tool_result(a, dc->tool, dc->args, status, result, message, a->cfg.cb.data);
    if (!status) note_created(a, dc->step, dc->tool, result);
    count_failure(a, status);
  }
  json_decref(dc->args);
  free(dc);
  if (stop_if_canceled(a)) return;
  direct_next(a);
}

static void direct_next(agent_t *a) {
  while (a->step_i < json_array_size(a->work)) {
    json_t *w = json_array_get(a->work, a->step_i++);
    int step = (int)json_integer_value(json_object_get(w, "step"));
    const char *tool = json_string_value(json_object_get(w, "tool"));
    int missing = 0;
    json_t *args = resolve_refs(a, json_object_get(w, "args"), NULL, &missing);
    if (missing) {
      char m[200];
      snprintf(m, sizeof m, "not run: Step %d, which this step refers to, did not run", missing);
      record_action(a, step, tool, args, 0, NULL, m);
      alog(a, LOG_INFO, "Step %d (%s) %s", step, tool, m);
      if (a->cfg.cb.on_tool_result) a->cfg.cb.on_tool_result(a, tool, args, DAW_ENOTRACK, NULL, m, a->cfg.cb.data);
      json_decref(args);
      continue;
    }
    char *aj = compact(args);
    alog(a, LOG_INFO, "tool call (Step %d): %s %s", step, tool, aj ? aj : "{}");
    free(aj);
    if (a->cfg.cb.on_tool_call) a->cfg.cb.on_tool_call(a, tool, args, a->cfg.cb.data);
    struct direct_call *dc = calloc(1, sizeof *dc);
    dc->a = a;
    dc->step = step;
    snprintf(dc->tool, sizeof dc->tool, "%s", tool ? tool : "");
    dc->args = args;
    a->daw_pending = 1;
    int rc = daw_call(a->cfg.daw, dc->tool, args, on_direct_result, dc);
    if (rc) {
      a->daw_pending = 0;
      record_action(a, step, tool, args, 0, NULL, daw_strerror(rc));
      json_decref(args);
      free(dc);
      if (rc == DAW_ECANCELED) break;
      continue;
    }
    return;
  }
  after_round(a);
}

/* ---- stage 2 carries out only the plan (issue 10 §4) ----
 *
 * The llm executor keeps the list of what the model may still do: the validated plan's steps (in the corrective
 * round also the repairs verification proposed). A call runs only when it matches an open entry: the same tool,
 * the same target (track/clip references of the plan resolved through the ids earlier steps returned), every
 * argument the plan gives with the same value (numbers within a small tolerance, names case-insensitively, catalog
 * names canonically, notes as the same set), and no other argument — except for a tool that creates an object,
 * where arguments the plan left open (a clip's name, an effect's parameters) are refinements. A call that succeeds
 * (confirmed or uncertain) consumes its entry, so the same create_track twice is refused the second time; a call
 * that failed leaves it open for a retry. Read-only tools (kind "read") may always be called and consume nothing. */

static void s2_open_add(agent_t *a, const json_t *step, const json_t *tool, const json_t *args, int repair) {
  json_t *e = json_pack("{sOsOsosb}", "step", step, "tool", tool, "args", args ? json_deep_copy(args) : json_object(),
                        "used", 0);
  if (!e) return;
  if (repair) json_object_set_new(e, "repair", json_true());
  json_array_append_new(a->s2_open, e);
}

static void s2_open_plan(agent_t *a) {
  json_decref(a->s2_open);
  a->s2_open = json_array();
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(a->plan_json, "steps"), i, st)
    s2_open_add(a, json_object_get(st, "step"), json_object_get(st, "tool"), json_object_get(st, "args"), 0);
}

static void s2_open_repairs(agent_t *a) {
  if (!a->s2_open) a->s2_open = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(a->violations, i, v) {
    const json_t *fix = json_object_get(v, "fix");
    if (!json_is_object(fix) || !json_is_string(json_object_get(fix, "tool"))) continue;
    s2_open_add(a, json_object_get(v, "step"), json_object_get(fix, "tool"), json_object_get(fix, "args"), 1);
  }
}

/* A track reference (id, host id or exact name) as the mirror's bridge id; the text itself when unknown. */
static const char *track_ref_id(agent_t *a, const char *ref) {
  if (!ref) return NULL;
  session_t *s = daw_session(a->cfg.daw);
  int idx = session_track_resolve(s, ref);
  const char *id = idx ? session_track_id(s, idx) : NULL;
  return id ? id : ref;
}

/* The plan's value of a track_id/clip_id argument as an id (references resolved through the ids earlier steps
 * returned); NULL when it refers to a step that has not produced its object yet. */
static const char *plan_target(agent_t *a, const char *key, const json_t *v, int depth) {
  const char *kind;
  int n = plan_ref_step(v, &kind);
  if (n <= 0) return json_string_value(v);
  char k[16];
  snprintf(k, sizeof k, "%d", n);
  if (!strcmp(key, "clip_id")) return json_string_value(json_object_get(a->step_clips, k));
  const char *id = json_string_value(json_object_get(a->step_tracks, k));
  if (id || depth > 8) return id;
  /* a reference to a clip step where a track is meant: that clip's track */
  const json_t *target = NULL;
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(a->plan_json, "steps"), i, st) {
    if (json_integer_value(json_object_get(st, "step")) == n) target = st;
  }
  const json_t *tv = json_object_get(json_object_get(target, "args"), "track_id");
  return tv ? plan_target(a, key, tv, depth + 1) : NULL;
}

/* The creating step's result was lost (its confirmation did not come, so no id was returned): a track the call
 * names is that step's track when it is new since execution began and has the name the step gave it. */
static const char *new_track_of_step(agent_t *a, int n, const char *id) {
  if (n <= 0 || !id) return NULL;
  session_t *s = daw_session(a->cfg.daw);
  int idx = session_track_index_by_id(s, id);
  if (!idx) return NULL;
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(a->before, "tracks"), i, t) {
    const char *bid = json_string_value(json_object_get(t, "id"));
    if (bid && !strcmp(bid, id)) return NULL;
  }
  const json_t *step = NULL, *st;
  json_array_foreach(json_object_get(a->plan_json, "steps"), i, st) {
    if (json_integer_value(json_object_get(st, "step")) == n) step = st;
  }
  const char *tool = json_string_value(json_object_get(step, "tool"));
  const char *name = json_string_value(json_object_get(json_object_get(step, "args"), "name"));
  const char *have = session_track_name(s, idx);
  if (!tool || strcmp(tool, "create_track") || !name || !have || strcasecmp(name, have)) return NULL;
  return id;
}

static int note_eq(const json_t *x, const json_t *y) {
  if (fabs(json_number_value(json_object_get(x, "n")) - json_number_value(json_object_get(y, "n"))) > 0.01) return 0;
  if (fabs(json_number_value(json_object_get(x, "s")) - json_number_value(json_object_get(y, "s"))) > 0.01) return 0;
  if (fabs(json_number_value(json_object_get(x, "d")) - json_number_value(json_object_get(y, "d"))) > 0.01) return 0;
  const json_t *vx = json_object_get(x, "v"), *vy = json_object_get(y, "v");
  /* a velocity left out on one side is the default: not a different note */
  return !vx || !vy || fabs(json_number_value(vx) - json_number_value(vy)) <= 1.01;
}

static int note_cmp(const void *pa, const void *pb) {
  const json_t *x = *(const json_t *const *)pa, *y = *(const json_t *const *)pb;
  double ks[2][3] = {{json_number_value(json_object_get(x, "s")), json_number_value(json_object_get(x, "n")),
                      json_number_value(json_object_get(x, "d"))},
                     {json_number_value(json_object_get(y, "s")), json_number_value(json_object_get(y, "n")),
                      json_number_value(json_object_get(y, "d"))}};
  for (int i = 0; i < 3; i++) {
    double a = round(ks[0][i] * 100), b = round(ks[1][i] * 100);
    if (a != b) return a < b ? -1 : 1;
  }
  return 0;
}

/* The same notes, as a multiset (order free). Linear when the call keeps the plan's order, else sorted; a
 * quadratic search only for small clips whose values sit on a rounding boundary. */
static int notes_eq(const json_t *p, const json_t *c) {
  if (!json_is_array(p) || !json_is_array(c) || json_array_size(p) != json_array_size(c)) return 0;
  size_t n = json_array_size(p), i, k;
  for (i = 0; i < n && note_eq(json_array_get(p, i), json_array_get(c, i)); i++) {}
  if (i == n) return 1;
  const json_t **sp = malloc(n * sizeof *sp), **sc = malloc(n * sizeof *sc);
  int ok = sp && sc;
  if (ok) {
    for (i = 0; i < n; i++) sp[i] = json_array_get(p, i), sc[i] = json_array_get(c, i);
    qsort(sp, n, sizeof *sp, note_cmp);
    qsort(sc, n, sizeof *sc, note_cmp);
    for (i = 0; i < n && note_eq(sp[i], sc[i]); i++) {}
    ok = i == n;
  }
  free(sp);
  free(sc);
  if (ok || n > 512) return ok;
  unsigned char used[512] = {0};
  for (i = 0; i < n; i++) {
    const json_t *x = json_array_get(p, i);
    int found = 0;
    for (k = 0; k < n && !found; k++) {
      if (!used[k] && note_eq(x, json_array_get(c, k))) used[k] = 1, found = 1;
    }
    if (!found) return 0;
  }
  return 1;
}

static int value_eq(const json_t *p, const json_t *c) {
  if (json_is_number(p) && json_is_number(c)) {
    double x = json_number_value(p), y = json_number_value(c);
    return fabs(x - y) <= 1e-3 + 1e-6 * fabs(x);
  }
  if (json_is_string(p) && json_is_string(c)) return !strcasecmp(json_string_value(p), json_string_value(c));
  if (json_is_boolean(p) && json_is_boolean(c)) return json_is_true(p) == json_is_true(c);
  if (json_is_object(p) && json_is_object(c)) {
    if (json_object_size(p) != json_object_size(c)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)p, k, v) {
      if (!json_object_get(c, k) || !value_eq(v, json_object_get(c, k))) return 0;
    }
    return 1;
  }
  if (json_is_array(p) && json_is_array(c)) {
    if (json_array_size(p) != json_array_size(c)) return 0;
    for (size_t i = 0; i < json_array_size(p); i++)
      if (!value_eq(json_array_get(p, i), json_array_get(c, i))) return 0;
    return 1;
  }
  return json_equal((json_t *)p, (json_t *)c);
}

/* Arguments that name what a step works on (never left out, never "refined"). */
static int is_target_key(const char *k) {
  return !strcmp(k, "track_id") || !strcmp(k, "clip_id") || !strcmp(k, "effect_index") || !strcmp(k, "param_index");
}

/* Does the call (tool, prepared args) match the open entry e? On a mismatch, why (for the model). */
static int entry_matches(agent_t *a, const json_t *e, const char *tool, const json_t *args, char *why, size_t wlen) {
  const json_t *pargs = json_object_get(e, "args");
  const json_t *cat = daw_catalog(a->cfg.daw);
  const char *k;
  json_t *pv;
  int step = (int)json_integer_value(json_object_get(e, "step"));
  json_object_foreach((json_t *)pargs, k, pv) {
    const json_t *cv = json_object_get(args, k);
    char *pj = compact(pv);
    int ok = 1;
    if (!strcmp(k, "track_id") || !strcmp(k, "clip_id")) {
      const char *want = plan_target(a, k, pv, 0);
      const char *have = json_string_value(cv);
      if (!strcmp(k, "track_id")) want = track_ref_id(a, want), have = track_ref_id(a, have);
      if (!want && !strcmp(k, "track_id")) want = new_track_of_step(a, plan_ref_step(pv, NULL), have);
      ok = want && have && !strcmp(want, have);
      if (!ok && !want) {
        snprintf(why, wlen, "Step %d (%s) works on the object Step %d creates, which does not exist yet", step, tool,
                 plan_ref_step(pv, NULL));
        free(pj);
        return 0;
      }
      if (!ok) {
        free(pj);
        snprintf(why, wlen, "Step %d (%s) is for %s %s, not %s", step, tool, k, want, have ? have : "(missing)");
        return 0;
      }
    } else if (!cv) {
      /* a change step may be carried out in parts (volume, then pan): each part with the plan's value */
      const char *kd = tools_kind(a->tools, tool);
      if (kd && !strcmp(kd, "change") && !is_target_key(k)) {
        free(pj);
        continue;
      }
      ok = 0;
    } else if (!strcmp(k, "notes") || !strcmp(k, "add_notes") || !strcmp(k, "remove_notes")) {
      ok = notes_eq(pv, cv);
    } else if ((!strcmp(k, "effect_name") || !strcmp(k, "instrument")) && json_is_string(pv) && json_is_string(cv)) {
      const char *list = !strcmp(k, "effect_name") ? "effects" : "instruments";
      const char *cp = json_string_value(pv), *cc = json_string_value(cv);
      canon_catalog(json_object_get(cat, list), cp, &cp);
      canon_catalog(json_object_get(cat, list), cc, &cc);
      ok = !strcasecmp(cp, cc);
      if (!ok && !strcmp(k, "instrument") && json_object_get(cat, "instrument_map")) {
        /* the plan's role and the call's word or plugin name the same sound of this DAW (osc-maps/instruments/):
         * "kick" and "ReaSynDr" are the same step */
        json_t *rp = NULL, *rc = NULL;
        const json_t *im = json_object_get(cat, "instrument_map");
        if (!instmap_resolve_json(im, cp, &rp, NULL, 0) && !instmap_resolve_json(im, cc, &rc, NULL, 0)) {
          const char *pp = json_string_value(json_object_get(rp, "plugin"));
          const char *kc = json_string_value(json_object_get(rc, "kind"));
          const char *sp = json_string_value(json_object_get(rp, "sound"));
          const char *sc = json_string_value(json_object_get(rc, "sound"));
          ok = pp && !strcmp(pp, json_string_value(json_object_get(rc, "plugin"))) && kc &&
               (!strcmp(kc, "plugin") || (!strcmp(kc, "role") && sp && sc && !strcmp(sp, sc)));
        }
        json_decref(rp);
        json_decref(rc);
      }
    } else {
      ok = value_eq(pv, cv);
    }
    if (!ok) {
      char *cj = cv ? compact(cv) : NULL;
      if (snprintf(why, wlen, "Step %d (%s) says %s: %.200s%s, the call has %.200s", step, tool, k, pj ? pj : "?",
                   pj && strlen(pj) > 200 ? "..." : "", cj ? cj : "nothing") >= (int)wlen)
        why[wlen - 1] = 0; /* cut: fine for a message */
      free(cj);
      free(pj);
      return 0;
    }
    free(pj);
  }
  /* arguments the plan does not give: refinements of an object being created, nothing else */
  const char *kind = tools_kind(a->tools, tool);
  int creates = kind && !strcmp(kind, "create") && !json_is_true(json_object_get(e, "repair"));
  int values = 0;
  json_t *cv;
  json_object_foreach((json_t *)args, k, cv) {
    if (!is_target_key(k)) values++;
    if (json_object_get(pargs, k) || creates) continue;
    snprintf(why, wlen, "Step %d (%s) does not set %s", step, tool, k);
    return 0;
  }
  if (!values && kind && !strcmp(kind, "change") && json_object_size(pargs) > 1) {
    snprintf(why, wlen, "Step %d (%s): the call sets nothing the step sets", step, tool);
    return 0;
  }
  return 1;
}

/* The call matched entry idx and the DAW did it: the entry is done (a change step done in parts: the values
 * set are taken off it, and it is done when none is left). */
static void s2_consume(agent_t *a, int idx, const char *tool, const json_t *args) {
  json_t *e = json_array_get(a->s2_open, (size_t)idx);
  if (!e) return;
  const char *kind = tools_kind(a->tools, tool);
  if (kind && !strcmp(kind, "change")) {
    json_t *pargs = json_object_get(e, "args");
    const char *k;
    json_t *v;
    void *tmp;
    int left = 0;
    json_object_foreach_safe(pargs, tmp, k, v) {
      if (is_target_key(k)) continue;
      if (json_object_get(args, k)) json_object_del(pargs, k);
      else left++;
    }
    if (left) return;
  }
  json_object_set_new(e, "used", json_true());
}

/* The step number of the first open entry of this tool (a failed attempt is tied to it), 0 if none. */
static int s2_candidate_step(agent_t *a, const char *tool) {
  size_t i;
  json_t *e;
  json_array_foreach(a->s2_open, i, e) {
    const char *t = json_string_value(json_object_get(e, "tool"));
    if (t && tool && !strcmp(t, tool) && !json_is_true(json_object_get(e, "used")) &&
        !json_is_true(json_object_get(e, "unknown")))
      return (int)json_integer_value(json_object_get(e, "step"));
  }
  return 0;
}

/* The open entry the call carries out (index into s2_open), or -1 with the reason in why. A read-only tool
 * matches without an entry (returns -2). */
static int s2_match(agent_t *a, const char *tool, const json_t *args, char *why, size_t wlen) {
  if (tools_is_read(a->tools, tool)) return -2;
  size_t i;
  json_t *e;
  char first[400] = "";
  int used_same = 0, unknown = 0;
  json_array_foreach(a->s2_open, i, e) {
    const char *t = json_string_value(json_object_get(e, "tool"));
    if (!t || strcmp(t, tool)) continue;
    if (json_is_true(json_object_get(e, "used"))) {
      used_same = 1;
      continue;
    }
    if (json_is_true(json_object_get(e, "unknown"))) {
      if (!unknown) unknown = (int)json_integer_value(json_object_get(e, "step"));
      continue;
    }
    char w[400];
    if (entry_matches(a, e, tool, args, w, sizeof w)) return (int)i;
    if (!first[0]) snprintf(first, sizeof first, "%s", w);
  }
  if (first[0]) snprintf(why, wlen, "refused: not in the plan (%s)", first);
  else if (unknown)
    snprintf(why, wlen, "refused: Step %d (%s) may have been done already (its confirmation was lost and the "
             "session could not be read back); it is not sent again", unknown, tool);
  else if (used_same)
    snprintf(why, wlen, "refused: not in the plan (every %s step of the plan has been carried out already; a step "
             "is done once)", tool);
  else snprintf(why, wlen, "refused: not in the plan (the plan has no %s step)", tool);
  return -1;
}

/* The open steps, for the model: "Step 2 create_midi_clip, Step 3 add_effect" (or "none"). */
static void s2_open_list(agent_t *a, char *buf, size_t len) {
  size_t o = 0, i;
  json_t *e;
  buf[0] = 0;
  json_array_foreach(a->s2_open, i, e) {
    if (json_is_true(json_object_get(e, "used")) || json_is_true(json_object_get(e, "unknown"))) continue;
    int w = snprintf(buf + o, len - o, "%sStep %lld %s%s", o ? ", " : "",
                     (long long)json_integer_value(json_object_get(e, "step")),
                     json_string_value(json_object_get(e, "tool")),
                     json_is_true(json_object_get(e, "repair")) ? " (repair)" : "");
    if (w < 0 || (size_t)w >= len - o) break;
    o += (size_t)w;
  }
  if (!o) snprintf(buf, len, "none: every step is done");
}

/* ---- the llm executor ---- */

static void s2_turn(agent_t *a);
static void s2_next_call(agent_t *a);

static void s2_start(agent_t *a) {
  struct prompt_stage2 in = {.dialect = daw_dialect(a->cfg.daw), .request = a->request, .plan = a->plan_json,
                             .state = a->before, .tools = a->tools_avail};
  struct prompt_text pt;
  char err[512];
  if (prompt_stage2(a->prompts, &in, &pt, err, sizeof err)) {
    a->llm_status = LLM_ECONFIG;
    snprintf(a->llm_msg, sizeof a->llm_msg, "%s", err);
    after_round(a);
    return;
  }
  llm_request_free(a->req);
  a->req = llm_request_new();
  if (pt.system) llm_request_set_system(a->req, pt.system);
  llm_request_add_user(a->req, pt.user ? pt.user : "");
  prompt_text_free(&pt);
  size_t i;
  json_t *t;
  json_array_foreach(a->tools_avail, i, t) {
    llm_request_add_tool(a->req, json_string_value(json_object_get(t, "name")),
                         json_string_value(json_object_get(t, "description")), json_object_get(t, "parameters"));
  }
  set_llm_options(a, a->req, 0);
  s2_open_plan(a);
  a->turns = 0;
  s2_turn(a);
}

static void on_s2_done(llm_call_t *call, int status, const struct llm_result *res, const char *errmsg, void *data) {
  agent_t *a = data;
  (void)call;
  a->call = NULL;
  count_usage(a, status ? NULL : res);
  if (stop_if_canceled(a)) return;
  if (status) {
    a->llm_status = status;
    snprintf(a->llm_msg, sizeof a->llm_msg, "%s", errmsg && *errmsg ? errmsg : llm_strerror(status));
    alog(a, LOG_INFO, "execution: the model failed: %s", a->llm_msg);
    after_round(a);
    return;
  }
  llm_request_add_result(a->req, res);
  if (res->text && *res->text) alog(a, LOG_DEBUG, "model: %s", res->text);
  if (!res->ncalls) {
    free(a->final_text);
    a->final_text = strdup(res->text ? res->text : "");
    alog(a, LOG_INFO, "the model stopped after %d turn%s (%s)", a->turns, a->turns == 1 ? "" : "s",
         llm_finish_name(res->finish));
    after_round(a);
    return;
  }
  if (res->text && *res->text) {
    free(a->final_text);
    a->final_text = strdup(res->text);
  }
  llm_result_free(a->pending);
  a->pending = llm_result_dup(res);
  a->call_i = 0;
  s2_next_call(a);
}

static void s2_turn(agent_t *a) {
  if (a->turns >= a->cfg.max_turns) {
    a->turn_limit_hit = 1;
    alog(a, LOG_INFO, "turn limit reached: %d model calls in this round", a->turns);
    after_round(a);
    return;
  }
  a->turns++;
  a->total_turns++;
  a->call = llm_chat(a->cfg.llm, a->req, NULL, on_s2_done, a);
  if (!a->call) {
    a->llm_status = LLM_ENOMEM;
    snprintf(a->llm_msg, sizeof a->llm_msg, "the model client could not start a request");
    after_round(a);
  }
}

struct s2_call {
  agent_t *a;
  char *id, *name;
  json_t *args;
  int entry; /* index into s2_open, or -2 for a read-only tool */
  int step;
};

/* A call that is not carried out. step > 0: a failed attempt of that step (bad arguments; the step stays open
 * for a retry); step < 0: an error not tied to a step (a read-only tool); step 0: refused, not in the plan
 * (counted as failed; the model hears which steps are still open). */
static void s2_error_result(agent_t *a, const struct llm_tool_call *c, const json_t *args, int step, const char *msg) {
  char content[1400], open[400], rmsg[900];
  int refused = step == 0;
  if (refused) {
    snprintf(rmsg, sizeof rmsg, "%s%s", strncmp(msg, "refused:", 8) ? "refused: not in the plan: " : "", msg);
    s2_open_list(a, open, sizeof open);
    snprintf(content, sizeof content, "%s. Nothing was done. Only the plan's steps can be carried out; still open: "
             "%s.", rmsg, open);
    msg = rmsg;
  } else {
    snprintf(content, sizeof content, "error: %s", msg);
  }
  llm_request_add_tool_result(a->req, c->id, c->name, content, 1);
  json_t *x = record_action(a, step, c->name, args, 0, NULL, msg);
  if (refused) json_object_set_new(x, "refused", json_string("not in the plan"));
  alog(a, LOG_INFO, "tool call %s %s: %s", c->name ? c->name : "?", refused ? "refused" : "rejected", msg);
  if (a->cfg.cb.on_tool_result)
    a->cfg.cb.on_tool_result(a, c->name, args, DAW_EINVAL, NULL, json_string_value(json_object_get(x, "error")),
                             a->cfg.cb.data);
}

static void on_s2_checked(int status, const json_t *result, const char *message, void *data);

static void on_s2_result(int status, const json_t *result, const char *message, void *data) {
  struct s2_call *sc = data;
  a_pending_off(sc->a);
  if (sc->entry >= 0 && readback_start(sc->a, sc->name, sc->args, status, message, on_s2_checked, sc)) return;
  on_s2_checked(status, result, message, sc);
}

static void on_s2_checked(int status, const json_t *result, const char *message, void *data) {
  struct s2_call *sc = data;
  agent_t *a = sc->a;
  a->daw_pending = 0;
  if (!a->closing && a->req) {
    if (status) {
      char content[900];
      snprintf(content, sizeof content, "error: %s", message ? message : daw_strerror(status));
      llm_request_add_tool_result(a->req, sc->id, sc->name, content, 1);
    } else {
      char *rj = compact(result);
      llm_request_add_tool_result(a->req, sc->id, sc->name, rj ? rj : "{}", 0);
      free(rj);
    }
    record_action(a, sc->step, sc->name, sc->args, status == 0, result,
                  status ? (message ? message : daw_strerror(status)) : NULL);
    if (!status && sc->entry >= 0) {
      s2_consume(a, sc->entry, sc->name, sc->args);
      note_created(a, sc->step, sc->name, result);
    } else if (status && sc->entry >= 0 && a->readback_unknown) {
      /* it may have been done: the step is not run again in this round (verification reads it back later) */
      json_object_set_new(json_array_get(a->s2_open, (size_t)sc->entry), "unknown", json_true());
    }
    log_result(a, sc->name, sc->args, status, result, message);
    count_failure(a, status);
    if (a->cfg.cb.on_tool_result)
      a->cfg.cb.on_tool_result(a, sc->name, sc->args, status, result, message, a->cfg.cb.data);
  }
  free(sc->id);
  free(sc->name);
  json_decref(sc->args);
  free(sc);
  if (stop_if_canceled(a)) return;
  a->call_i++;
  s2_next_call(a);
}

static void s2_next_call(agent_t *a) {
  while (a->pending && a->call_i < a->pending->ncalls) {
    const struct llm_tool_call *c = &a->pending->calls[a->call_i];
    char err[600];
    if (!c->name || !tool_offered(a, c->name)) {
      const char *sug = c->name ? tools_suggest(a->tools, c->name) : NULL;
      struct { char b[400]; size_t o; } names = {{0}, 0};
      size_t i;
      json_t *t;
      json_array_foreach(a->tools_avail, i, t) {
        int w = snprintf(names.b + names.o, sizeof names.b - names.o, "%s%s", i ? ", " : "",
                         json_string_value(json_object_get(t, "name")));
        if (w > 0 && (size_t)w < sizeof names.b - names.o) names.o += (size_t)w;
      }
      const char *why = c->name ? daw_unavailable_reason(a->cfg.daw, c->name) : NULL;
      if (c->name && tools_get(a->tools, c->name) && why)
        snprintf(err, sizeof err, "tool '%s' cannot run with this DAW now (%s); the tools you can call are: %s",
                 c->name, why, names.b);
      else
        snprintf(err, sizeof err, "unknown tool '%s'%s%s%s; the tools you can call are: %s", c->name ? c->name : "",
                 sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "", names.b);
      s2_error_result(a, c, c->args, 0, err);
      a->call_i++;
      continue;
    }
    if (!c->args || !json_is_object(c->args)) {
      snprintf(err, sizeof err, "the arguments are not a valid JSON object: %.300s", c->raw_args ? c->raw_args : "");
      s2_error_result(a, c, NULL, s2_candidate_step(a, c->name), err);
      a->call_i++;
      continue;
    }
    json_t *args = prepare_args(a, c->args, err, sizeof err);
    if (!args) {
      s2_error_result(a, c, c->args, s2_candidate_step(a, c->name), err);
      a->call_i++;
      continue;
    }
    /* arguments the DAW would refuse are an attempt of the step (retried), not a call outside the plan */
    if (tools_check(a->tools, c->name, args, daw_session(a->cfg.daw), err, sizeof err) &&
        s2_candidate_step(a, c->name) > 0) {
      s2_error_result(a, c, args, s2_candidate_step(a, c->name), err);
      json_decref(args);
      a->call_i++;
      continue;
    }
    int entry = s2_match(a, c->name, args, err, sizeof err);
    if (entry == -1) {
      s2_error_result(a, c, args, 0, err);
      json_decref(args);
      a->call_i++;
      continue;
    }
    char *aj = compact(args);
    alog(a, LOG_INFO, "tool call: %s %s", c->name, aj ? aj : "{}");
    free(aj);
    if (a->cfg.cb.on_tool_call) a->cfg.cb.on_tool_call(a, c->name, args, a->cfg.cb.data);
    struct s2_call *sc = calloc(1, sizeof *sc);
    sc->a = a;
    sc->id = strdup(c->id ? c->id : "");
    sc->name = strdup(c->name);
    sc->args = args;
    sc->entry = entry;
    sc->step = entry >= 0 ? (int)json_integer_value(json_object_get(json_array_get(a->s2_open, (size_t)entry), "step"))
                          : 0;
    a->daw_pending = 1;
    int rc = daw_call(a->cfg.daw, c->name, args, on_s2_result, sc);
    if (rc) {
      a->daw_pending = 0;
      s2_error_result(a, c, args, entry == -2 ? -1 : sc->step, daw_strerror(rc));
      free(sc->id), free(sc->name), json_decref(sc->args), free(sc);
      a->call_i++;
      continue;
    }
    return;
  }
  llm_result_free(a->pending);
  a->pending = NULL;
  s2_turn(a);
}

/* ------------------------------------------------------------------------------------------------ */
/* Verification, the corrective round, saving */

static void save_and_finish(agent_t *a);

static void on_ended(int status, const json_t *result, const char *message, void *data) {
  agent_t *a = data;
  (void)result;
  a->daw_pending = 0;
  a->request_begun = 0;
  if (status) alog(a, LOG_WARN, "could not close the DAW's undo block: %s", message ? message : daw_strerror(status));
  if (stop_if_canceled(a)) return;
  save_and_finish(a);
}

static void end_request(agent_t *a) {
  if (!a->request_begun) {
    save_and_finish(a);
    return;
  }
  a->daw_pending = 1;
  int rc = daw_end_request(a->cfg.daw, on_ended, a);
  if (rc) {
    a->daw_pending = 0;
    a->request_begun = 0;
    save_and_finish(a);
  }
}

static void fix_round(agent_t *a) {
  a->round = 1;
  set_stage(a, AGENT_FIXING);
  alog(a, LOG_INFO, "corrective round: %zu violation%s", json_array_size(a->violations),
       json_array_size(a->violations) == 1 ? "" : "s");
  if (is_direct(a)) {
    /* the repairs verification proposed, in step order, one per step */
    json_decref(a->work);
    a->work = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a->violations, i, v) {
      const json_t *fix = json_object_get(v, "fix");
      if (!fix) continue;
      json_array_append_new(a->work, json_pack("{sOsOsO}", "step", json_object_get(v, "step"), "tool",
                                               json_object_get(fix, "tool"), "args", json_object_get(fix, "args")));
    }
    a->step_i = 0;
    direct_next(a);
    return;
  }
  s2_open_repairs(a); /* besides the steps still open, the model may carry out the repairs verification proposed */
  json_t *ct = created_tracks(a);
  struct prompt_text pt;
  char err[512];
  int rc = prompt_fix(a->prompts, a->violations, ct, &pt, err, sizeof err);
  json_decref(ct);
  if (rc) {
    alog(a, LOG_ERROR, "%s", err);
    after_round(a);
    return;
  }
  llm_request_add_user(a->req, pt.user ? pt.user : "");
  prompt_text_free(&pt);
  a->turns = 0;
  s2_turn(a);
}

static void verify(agent_t *a);

static void on_refreshed(int status, const json_t *result, const char *message, void *data) {
  agent_t *a = data;
  a->daw_pending = 0;
  if (stop_if_canceled(a)) return;
  const char *cerr = status ? NULL : json_string_value(json_object_get(result, "companion_state_error"));
  if (cerr) {
    /* the tracks are fresh, the clips are not: a clip whose confirmation was lost would look missing */
    status = DAW_EUNREACHABLE;
    message = cerr;
  }
  if (status && ++a->refresh_tries < 2) {
    alog(a, LOG_INFO, "refresh before verification failed (%s); once more", message ? message : daw_strerror(status));
    a->daw_pending = 1;
    if (daw_refresh(a->cfg.daw, on_refreshed, a) == DAW_OK) return;
    a->daw_pending = 0;
  }
  if (status) {
    /* the mirror may miss changes whose confirmation was lost: repairing from it could duplicate them */
    a->unverified = 1;
    alog(a, LOG_WARN, "the mirror could not be refreshed (%s): verifying it as it is, without repairs",
         message ? message : daw_strerror(status));
  }
  a->verify_fresh = 1;
  verify(a);
}

/* After a round: when a call failed, the DAW may hold more than its confirmations said (a change that ran but
 * whose feedback was lost), so the mirror is refreshed first; a repair must not duplicate what is there. */
static void after_round(agent_t *a) {
  set_stage(a, AGENT_VERIFYING);
  if (a->n_failed > a->failed_seen && !a->canceled) {
    a->failed_seen = a->n_failed;
    a->refresh_tries = 0;
    alog(a, LOG_INFO, "refreshing the mirror before verification (%d call%s failed)", a->n_failed,
         a->n_failed == 1 ? "" : "s");
    a->daw_pending = 1;
    if (daw_refresh(a->cfg.daw, on_refreshed, a) == DAW_OK) return;
    a->daw_pending = 0;
  }
  verify(a);
}

/* A repair that would create something again (a track, a clip, an effect, notes added): it runs only on a mirror
 * read back after the round, never on one that only followed the confirmations (issue 10 §3). */
static int needs_create_repair(const json_t *violations) {
  size_t i;
  json_t *v;
  json_array_foreach((json_t *)violations, i, v) {
    const char *k = json_string_value(json_object_get(v, "kind"));
    if (k && (!strcmp(k, "missing_track") || !strcmp(k, "missing_clip") || !strcmp(k, "missing_effect") ||
              !strcmp(k, "missing_notes") || !strcmp(k, "empty_track")))
      return 1;
  }
  return 0;
}

static void verify(agent_t *a) {
  int fresh = a->verify_fresh;
  a->verify_fresh = 0;
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  json_t *st = NULL;
  json_decref(a->violations);
  a->violations = agent_verify(a->plan_json, a->before, after, a->actions, &st);
  json_decref(after);
  if (!fresh && a->round == 0 && !a->cfg.no_fix && !a->unverified && !a->canceled &&
      needs_create_repair(a->violations)) {
    /* the mirror may have lost what the DAW confirmed (ids renumbered, feedback lost): read it back first */
    json_decref(st);
    a->refresh_tries = 0;
    alog(a, LOG_INFO, "refreshing the mirror before a repair creates anything again");
    a->daw_pending = 1;
    if (daw_refresh(a->cfg.daw, on_refreshed, a) == DAW_OK) return;
    a->daw_pending = 0;
    a->unverified = 1; /* not read back: nothing is created again */
    st = NULL;
    after = session_to_json(daw_session(a->cfg.daw));
    json_decref(a->violations);
    a->violations = agent_verify(a->plan_json, a->before, after, a->actions, &st);
    json_decref(after);
  }
  /* tracks verification matched to the plan's create_track steps: references of repairs resolve to them */
  const char *k;
  json_t *v;
  json_object_foreach(st, k, v) json_object_set(a->step_tracks, k, v);
  json_decref(st);
  size_t i;
  json_array_foreach(a->violations, i, v) {
    alog(a, LOG_INFO, "violation: %s", json_string_value(json_object_get(v, "message")));
    if (a->cfg.cb.on_violation) a->cfg.cb.on_violation(a, v, a->cfg.cb.data);
  }
  if (!json_array_size(a->violations)) alog(a, LOG_INFO, "verified: the session matches the plan");
  if (a->round == 0) {
    json_decref(a->violations_first);
    a->violations_first = json_incref(a->violations);
  }
  int llm_dead = !is_direct(a) && a->llm_status;
  if (a->round == 0 && json_array_size(a->violations) && !a->cfg.no_fix && !llm_dead && !a->unverified) {
    fix_round(a);
    return;
  }
  end_request(a);
}

static int all_unreachable(agent_t *a) {
  return count_ok(a->actions) == 0 && a->n_unreachable > 0 && a->n_unreachable == a->n_failed;
}


static const char *composition_for(agent_t *a) {
  if (a->cfg.composition && *a->cfg.composition) return a->cfg.composition;
  const char *p = json_string_value(json_object_get(a->before, "project"));
  if (p && *p && history_composition_valid(p)) return p;
  return "default";
}

static int save_iteration(agent_t *a, int partial) {
  set_stage(a, AGENT_SAVING);
  char err[512];
  const char *comp = composition_for(a);
  history_t *h = history_open(a->cfg.data_dir, comp, err, sizeof err);
  if (!h) {
    errfmt(a->save_err, sizeof a->save_err, 0, "cannot open the history of \"%s\": %s", comp, err);
    return -1;
  }
  free(a->history_dir);
  a->history_dir = strdup(history_dir(h));
  int rc = history_latest(h, NULL, err, sizeof err);
  if (rc == HISTORY_ENOENT) {
    json_t *meta = json_pack("{sssnsisn}", "source", "baseline", "user_message", "actions_count", 0, "plan");
    int num = 0;
    rc = history_save(h, a->before, meta, &num, err, sizeof err);
    json_decref(meta);
    if (rc) {
      errfmt(a->save_err, sizeof a->save_err, 0, "cannot save the baseline iteration: %s", err);
      history_free(h);
      return -1;
    }
    alog(a, LOG_INFO, "baseline iteration saved: %d", num);
  }
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  json_t *meta = json_pack("{sssssisOsO}", "source", "ai_iteration", "user_message", a->request ? a->request : "",
                           "actions_count", count_changes(a->actions), "plan", a->plan_json ? a->plan_json : json_null(),
                           "actions", a->actions);
  json_object_set_new(meta, "executor", json_string(is_direct(a) ? "direct" : "llm"));
  if (json_array_size(a->violations)) json_object_set(meta, "violations", a->violations);
  struct tally t;
  json_t *so = NULL;
  tally(a, &t, &so);
  json_object_set_new(meta, "outcomes", json_pack("{sisisisisisisi}", "confirmed", t.confirmed, "uncertain",
                                                  t.uncertain, "failed", t.failed, "refused", t.refused, "not_run",
                                                  t.not_run, "steps", t.steps, "total", t.total));
  json_object_set_new(meta, "step_outcomes", so);
  if (partial) json_object_set_new(meta, "partial", json_true());
  int num = 0;
  rc = history_save(h, after, meta, &num, err, sizeof err);
  json_decref(meta);
  json_decref(after);
  history_free(h);
  if (rc) {
    errfmt(a->save_err, sizeof a->save_err, 0, "cannot save the iteration: %s", err);
    return -1;
  }
  a->iteration = num;
  alog(a, LOG_INFO, "iteration saved: %d (%s/%04d.json)", num, a->history_dir, num);
  return 0;
}

static void save_and_finish(agent_t *a) {
  int status = AGENT_OK;
  char m[700] = "";
  if (json_array_size(a->violations)) {
    status = !is_direct(a) && a->llm_status ? (a->llm_status == LLM_EAUTH || a->llm_status == LLM_ECONFIG
                                                   ? AGENT_ECONFIG : AGENT_ELLM)
             : all_unreachable(a) ? AGENT_EDAW
                                  : AGENT_EINCOMPLETE;
    const char *first = json_string_value(json_object_get(json_array_get(a->violations, 0), "message"));
    snprintf(m, sizeof m, "%s%s%s%s%zu problem%s remain%s%s (first: %s)", a->unverified
             ? "the mirror could not be refreshed after a failed call, so nothing was repaired; " : "",
             !is_direct(a) && a->llm_status ? "the model failed: " : "", !is_direct(a) && a->llm_status ? a->llm_msg : "",
             !is_direct(a) && a->llm_status ? "; " : a->turn_limit_hit ? "turn limit reached; " : "",
             json_array_size(a->violations),
             json_array_size(a->violations) == 1 ? "" : "s", json_array_size(a->violations) == 1 ? "s" : "",
             a->round ? " after the corrective round" : "", first ? first : "?");
  } else {
    /* the session looks as planned; the outcomes still decide: a failed or refused call, or a step the DAW did
     * not confirm, is never reported as done */
    struct tally t;
    tally(a, &t, NULL);
    const char *first = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(a->actions, i, x) {
      if (!first && !json_is_true(json_object_get(x, "ok")) && !json_is_true(json_object_get(x, "retried")))
        first = json_string_value(json_object_get(x, "error"));
    }
    if (t.failed) {
      status = all_unreachable(a) ? AGENT_EDAW : AGENT_EINCOMPLETE;
      snprintf(m, sizeof m, "%d of %d step%s failed%s%s%s (first: %s)", t.failed, t.total, t.total == 1 ? "" : "s",
               t.refused ? ", " : "", t.refused ? "with calls outside the plan refused" : "",
               a->turn_limit_hit ? "; turn limit reached" : "", first ? first : "?");
    } else if (t.uncertain) {
      status = AGENT_EUNCERTAIN;
      snprintf(m, sizeof m, "%d of %d step%s uncertain: sent, but the DAW did not confirm %s", t.uncertain, t.total,
               t.total == 1 ? "" : "s", t.uncertain == 1 ? "it" : "them");
    }
  }
  if (count_changes(a->actions) > 0 && !a->cfg.no_save) {
    if (save_iteration(a, 0)) {
      alog(a, LOG_INFO, "%s", a->save_err);
      if (status == AGENT_OK || status == AGENT_EINCOMPLETE || status == AGENT_EUNCERTAIN) {
        char m2[700];
        /* a long message is cut, which is fine for a summary line (the check keeps -Wformat-truncation quiet) */
        if (snprintf(m2, sizeof m2, "%s%s%s", a->save_err, m[0] ? "; also: " : "", m) >= (int)sizeof m2)
          m2[sizeof m2 - 1] = 0;
        if (snprintf(m, sizeof m, "%s", m2) >= (int)sizeof m) m[sizeof m - 1] = 0;
        status = AGENT_ESAVE;
      }
    }
  } else if (!count_changes(a->actions)) {
    alog(a, LOG_INFO, "nothing changed, nothing saved");
  }
  job_done(a, status, status ? m : NULL);
}

/* ------------------------------------------------------------------------------------------------ */
/* agent_verify: pure comparison of the mirror with the plan */

static const json_t *track_by_id(const json_t *state, const char *id) {
  size_t i;
  json_t *t;
  if (!id) return NULL;
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    const char *tid = json_string_value(json_object_get(t, "id"));
    if (tid && !strcmp(tid, id)) return t;
  }
  return NULL;
}

static int clip_in(const json_t *track, const char *cid) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(track, "clips"), i, c) {
    const char *id = json_string_value(json_object_get(c, "id"));
    if (id && cid && !strcmp(id, cid)) return 1;
  }
  return 0;
}

static const json_t *step_by_number(const json_t *plan, int n) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(plan, "steps"), i, s) {
    if (json_integer_value(json_object_get(s, "step")) == n) return s;
  }
  return NULL;
}

static void quote(const char *s, char *out, size_t n) {
  json_t *j = json_string(s ? s : "");
  char *q = j ? compact(j) : NULL;
  json_decref(j);
  snprintf(out, n, "%s", q ? q : "\"?\"");
  free(q);
}

#if defined(__GNUC__)
__attribute__((format(printf, 6, 7)))
#endif
static json_t *violation(json_t *out, const char *kind, int step, const char *track_id, const json_t *fix,
                         const char *fmt, ...) {
  char buf[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_t *v = json_pack("{sssiss}", "kind", kind, "step", step, "message", buf);
  if (track_id) json_object_set_new(v, "track_id", json_string(track_id));
  if (fix) json_object_set(v, "fix", (json_t *)fix);
  json_array_append_new(out, v);
  return v;
}

/* A step's track argument resolved against step_tracks / the state after; NULL if it cannot be. */
static const char *resolve_track(const json_t *plan, const json_t *step_tracks, const json_t *after, const json_t *val,
                                 int *ref_step) {
  *ref_step = 0;
  const char *kind;
  int n = plan_ref_step(val, &kind);
  if (n > 0) {
    const json_t *target = step_by_number(plan, n);
    const char *ttool = json_string_value(json_object_get(target, "tool"));
    if (ttool && strcmp(ttool, "create_track") != 0) {
      /* a clip step: its track */
      return resolve_track(plan, step_tracks, after, json_object_get(json_object_get(target, "args"), "track_id"),
                           ref_step);
    }
    *ref_step = n;
    char k[16];
    snprintf(k, sizeof k, "%d", n);
    return json_string_value(json_object_get(step_tracks, k));
  }
  const char *s = json_string_value(val);
  if (s && track_by_id(after, s)) return s;
  /* a name */
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(after, "tracks"), i, t) {
    const char *nm = json_string_value(json_object_get(t, "name"));
    if (s && nm && !strcasecmp(nm, s)) return json_string_value(json_object_get(t, "id"));
  }
  return NULL;
}

static int fx_matches(const json_t *fx, const char *name) {
  const char *n = json_string_value(json_object_get(fx, "name"));
  if (!n || !name || !*name) return 0;
  size_t ln = strlen(name);
  for (const char *p = n; *p; p++)
    if (!strncasecmp(p, name, ln)) return 1;
  return 0;
}

static int count_fx(const json_t *track, const char *name) {
  int c = 0;
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(track, "fx"), i, f) c += fx_matches(f, name);
  return c;
}

/* Is step n the last step of the plan that sets `key` through `tool` on the same target? */
static int last_setter(const json_t *plan, int n, const char *tool, const char *key, const json_t *step_tracks,
                       const json_t *after, const char *track) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(plan, "steps"), i, s) {
    int m = (int)json_integer_value(json_object_get(s, "step"));
    if (m <= n) continue;
    const char *t = json_string_value(json_object_get(s, "tool"));
    if (!t || strcmp(t, tool)) continue;
    const json_t *args = json_object_get(s, "args");
    if (!json_object_get(args, key)) continue;
    if (track) {
      int rs;
      const char *tr = resolve_track(plan, step_tracks, after, json_object_get(args, "track_id"), &rs);
      if (!tr || strcmp(tr, track)) continue;
    }
    return 0;
  }
  return 1;
}

static int ok_action_for_step(const json_t *actions, int step, const char *tool, int ordinal) {
  /* direct: an action with this step number; llm: at least `ordinal` successful calls of the tool */
  size_t i;
  json_t *x;
  int any_step = 0, count = 0;
  json_array_foreach(actions, i, x) {
    if (json_object_get(x, "step")) any_step = 1;
    const char *t = json_string_value(json_object_get(x, "tool"));
    if (!t || strcmp(t, tool) || !json_is_true(json_object_get(x, "ok"))) continue;
    if (json_integer_value(json_object_get(x, "step")) == step) return 1;
    count++;
  }
  return !any_step && count >= ordinal;
}

static void note_text(const json_t *n, char *buf, size_t len) {
  snprintf(buf, len, "{n: %lld, s: %g, d: %g, v: %lld}", (long long)json_integer_value(json_object_get(n, "n")),
           json_number_value(json_object_get(n, "s")), json_number_value(json_object_get(n, "d")),
           (long long)json_integer_value(json_object_get(n, "v")));
}

/* A clip's notes as numbers, sorted by (s, n): each planned note is looked up by binary search on its start, so a
 * 20,000-note clip is checked in O(n log n) instead of pair by pair. */
struct note_key {
  double s, n, d, v;
};

static int note_key_cmp(const void *x, const void *y) {
  const struct note_key *a = x, *b = y;
  if (a->s != b->s) return a->s < b->s ? -1 : 1;
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  return 0;
}

/* malloc'd, *count set; NULL when the clip has no notes (or out of memory: *count = 0, every note then "missing") */
static struct note_key *note_index(const json_t *notes, size_t *count) {
  size_t n = json_array_size(notes), i;
  *count = 0;
  if (!n) return NULL;
  struct note_key *k = malloc(n * sizeof *k);
  if (!k) return NULL;
  for (i = 0; i < n; i++) {
    const json_t *x = json_array_get(notes, i);
    k[i].s = json_number_value(json_object_get(x, "s"));
    k[i].n = json_number_value(json_object_get(x, "n"));
    k[i].d = json_number_value(json_object_get(x, "d"));
    k[i].v = json_number_value(json_object_get(x, "v"));
  }
  qsort(k, n, sizeof *k, note_key_cmp);
  *count = n;
  return k;
}

/* Is the planned note in the clip? Same pitch and start (±0.01 beat), length ±0.05, velocity ±1 when planned. */
static int note_present(const struct note_key *k, size_t count, const json_t *want) {
  double wn = json_number_value(json_object_get(want, "n"));
  double ws = json_number_value(json_object_get(want, "s"));
  double wd = json_number_value(json_object_get(want, "d"));
  const json_t *wv = json_object_get(want, "v");
  size_t lo = 0, hi = count;
  while (lo < hi) { /* the first note starting at ws - 0.01 or later */
    size_t mid = lo + (hi - lo) / 2;
    if (k[mid].s < ws - 0.01) lo = mid + 1;
    else hi = mid;
  }
  for (size_t i = lo; i < count && k[i].s <= ws + 0.01; i++) {
    if (fabs(k[i].s - ws) > 0.01 || fabs(k[i].n - wn) > 0.01) continue;
    if (fabs(k[i].d - wd) > 0.05) continue;
    if (json_is_number(wv) && fabs(k[i].v - json_number_value(wv)) > 1.01) continue;
    return 1;
  }
  return 0;
}

/* MIDI by the mirror, or by how it was created: a mirror fed by native OSC alone may not know a track's type. */
static int is_midi_track(const json_t *t, const json_t *actions, const json_t *plan, const json_t *step_tracks) {
  const char *id = json_string_value(json_object_get(t, "id"));
  const char *type = json_string_value(json_object_get(t, "type"));
  if (type && !strcmp(type, "midi")) return 1;
  size_t i;
  json_t *x;
  json_array_foreach(actions, i, x) {
    const char *tool = json_string_value(json_object_get(x, "tool"));
    const char *rid = json_string_value(json_object_get(json_object_get(x, "result"), "track_id"));
    const char *ty = json_string_value(json_object_get(json_object_get(x, "args"), "type"));
    if (tool && !strcmp(tool, "create_track") && json_is_true(json_object_get(x, "ok")) && rid && id &&
        !strcmp(rid, id))
      return ty && !strcasecmp(ty, "midi");
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)step_tracks, key, v) {
    if (!id || strcmp(json_string_value(v), id)) continue;
    const json_t *s = step_by_number(plan, atoi(key));
    const char *ty = json_string_value(json_object_get(json_object_get(s, "args"), "type"));
    return !ty || !strcasecmp(ty, "midi");
  }
  return 0;
}

json_t *agent_verify(const json_t *plan, const json_t *before, const json_t *after, const json_t *actions,
                     json_t **step_tracks_out) {
  json_t *out = json_array();
  json_t *st = json_object();     /* step -> track id */
  json_t *claimed = json_object(); /* track ids / clip ids already matched */
  const json_t *steps = json_object_get(plan, "steps");
  size_t i, k;
  json_t *s, *t;

  /* 1. tracks the plan creates */
  json_array_foreach(steps, i, s) {
    const char *tool = json_string_value(json_object_get(s, "tool"));
    if (!tool || strcmp(tool, "create_track")) continue;
    int n = (int)json_integer_value(json_object_get(s, "step"));
    const json_t *args = json_object_get(s, "args");
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *found = NULL;
    /* the id the DAW confirmed for this step (direct executor) */
    json_array_foreach(actions, k, t) {
      if (json_integer_value(json_object_get(t, "step")) != n || !json_is_true(json_object_get(t, "ok"))) continue;
      const char *tool2 = json_string_value(json_object_get(t, "tool"));
      const char *id = json_string_value(json_object_get(json_object_get(t, "result"), "track_id"));
      if (tool2 && !strcmp(tool2, "create_track") && id && track_by_id(after, id) && !track_by_id(before, id) &&
          !json_object_get(claimed, id))
        found = id;
    }
    /* else a new track by name (or by the name a later set_track gives it) */
    if (!found) {
      json_array_foreach(json_object_get(after, "tracks"), k, t) {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *nm = json_string_value(json_object_get(t, "name"));
        if (!id || track_by_id(before, id) || json_object_get(claimed, id)) continue;
        int match = nm && name && !strcasecmp(nm, name);
        size_t m;
        json_t *s2;
        json_array_foreach(steps, m, s2) {
          const json_t *a2 = json_object_get(s2, "args");
          const char *t2 = json_string_value(json_object_get(s2, "tool"));
          const char *kind;
          if (t2 && !strcmp(t2, "set_track") && plan_ref_step(json_object_get(a2, "track_id"), &kind) == n &&
              json_is_string(json_object_get(a2, "name")) && nm &&
              !strcasecmp(json_string_value(json_object_get(a2, "name")), nm))
            match = 1;
        }
        if (match) {
          found = id;
          break;
        }
      }
    }
    char q[300];
    quote(name, q, sizeof q);
    if (found) {
      char key[16];
      snprintf(key, sizeof key, "%d", n);
      json_object_set_new(st, key, json_string(found));
      json_object_set_new(claimed, found, json_true());
    } else {
      json_t *fix = json_pack("{sssO}", "tool", "create_track", "args", args);
      violation(out, "missing_track", n, NULL, fix, "Step %d: the track %s was not created", n, q);
      json_decref(fix);
    }
  }

  /* 2. the other steps */
  json_t *fx_seen = json_object(); /* "t4|ReaVerbate" -> count planned so far */
  json_t *tool_seen = json_object();
  json_array_foreach(steps, i, s) {
    const char *tool = json_string_value(json_object_get(s, "tool"));
    int n = (int)json_integer_value(json_object_get(s, "step"));
    const json_t *args = json_object_get(s, "args");
    if (!tool || !strcmp(tool, "create_track")) continue;
    json_int_t ord = json_integer_value(json_object_get(tool_seen, tool)) + 1;
    json_object_set_new(tool_seen, tool, json_integer(ord));
    int rs = 0;
    const char *tr = json_object_get(args, "track_id")
                         ? resolve_track(plan, st, after, json_object_get(args, "track_id"), &rs)
                         : NULL;
    const json_t *T = tr ? track_by_id(after, tr) : NULL;
    char tq[300] = "";
    if (T) {
      char nq[260];
      quote(json_string_value(json_object_get(T, "name")), nq, sizeof nq);
      snprintf(tq, sizeof tq, "%s (%s)", nq, tr);
    } else if (rs) {
      snprintf(tq, sizeof tq, "the track of Step %d", rs);
    } else if (json_object_get(args, "track_id")) {
      char *vj = compact(json_object_get(args, "track_id"));
      snprintf(tq, sizeof tq, "track %s", vj ? vj : "?");
      free(vj);
    }
    /* the repair: the step itself with the track resolved when known */
    json_t *fix_args = json_deep_copy(args);
    if (T) json_object_set_new(fix_args, "track_id", json_string(tr));
    json_t *fix = json_pack("{sssO}", "tool", tool, "args", fix_args);
    json_decref(fix_args);

    if (!strcmp(tool, "create_midi_clip")) {
      const json_t *notes = json_object_get(args, "notes");
      double start = json_number_value(json_object_get(args, "start_time"));
      double dur = json_number_value(json_object_get(args, "duration"));
      const json_t *clip = NULL;
      const json_t *bt = tr ? track_by_id(before, tr) : NULL;
      if (T) {
        json_t *c;
        json_array_foreach(json_object_get(T, "clips"), k, c) {
          const char *cid = json_string_value(json_object_get(c, "id"));
          if (!cid || json_object_get(claimed, cid) || (bt && clip_in(bt, cid))) continue;
          if (fabs(json_number_value(json_object_get(c, "start")) - start) > 0.01) continue;
          clip = c;
          json_object_set_new(claimed, cid, json_true());
          break;
        }
      }
      if (!clip) {
        violation(out, "missing_clip", n, tr, fix, "Step %d: %s has no clip at beat %g (the plan's %g-beat clip with "
                  "%zu note%s)", n, tq, start, dur, json_array_size(notes), json_array_size(notes) == 1 ? "" : "s");
      } else {
        json_t *missing = json_array();
        json_t *nn;
        size_t nk;
        struct note_key *idx = note_index(json_object_get(clip, "notes"), &nk);
        json_array_foreach(notes, k, nn) {
          if (!note_present(idx, nk, nn)) json_array_append(missing, nn);
        }
        free(idx);
        if (json_array_size(missing)) {
          char first[120];
          note_text(json_array_get(missing, 0), first, sizeof first);
          const char *cid = json_string_value(json_object_get(clip, "id"));
          json_t *f2 = json_pack("{sss{sssO}}", "tool", "edit_clip", "args", "clip_id", cid, "add_notes", missing);
          violation(out, "missing_notes", n, tr, f2, "Step %d: clip %s on %s lacks %zu of the %zu planned notes "
                    "(first: %s)", n, cid, tq, json_array_size(missing), json_array_size(notes), first);
          json_decref(f2);
        }
        json_decref(missing);
      }
    } else if (!strcmp(tool, "add_effect")) {
      const char *en = json_string_value(json_object_get(args, "effect_name"));
      char key[400];
      snprintf(key, sizeof key, "%s|%s", tr ? tr : "?", en ? en : "?");
      json_int_t want = json_integer_value(json_object_get(fx_seen, key)) + 1;
      json_object_set_new(fx_seen, key, json_integer(want));
      const json_t *bt = tr ? track_by_id(before, tr) : NULL;
      int have = T ? count_fx(T, en) - (bt ? count_fx(bt, en) : 0) : 0;
      if (have < want) {
        char eq[200];
        quote(en, eq, sizeof eq);
        violation(out, "missing_effect", n, tr, fix, "Step %d: the effect %s is not on %s", n, eq, tq);
      }
    } else if (!strcmp(tool, "set_track")) {
      if (!T) {
        violation(out, "step_failed", n, NULL, fix, "Step %d: set_track could not be checked: %s does not exist", n, tq);
      } else {
        char diffs[600] = "";
        size_t o = 0;
        json_t *f3 = json_pack("{ss}", "track_id", tr);
        const char *key;
        json_t *want;
        json_object_foreach((json_t *)args, key, want) {
          if (!strcmp(key, "track_id") || !last_setter(plan, n, "set_track", key, st, after, tr)) continue;
          const json_t *have = json_object_get(T, key);
          int differs = 0;
          if (json_is_number(want)) {
            double tol = !strcmp(key, "volume_db") ? 0.1 : 0.01;
            if (!strcmp(key, "volume_db") && json_number_value(want) <= -150 && json_number_value(have) <= -149) tol = 1e9;
            differs = !json_is_number(have) || fabs(json_number_value(have) - json_number_value(want)) > tol;
          } else if (json_is_boolean(want)) {
            differs = !json_is_boolean(have) || json_is_true(have) != json_is_true(want);
          } else if (json_is_string(want)) {
            differs = !json_is_string(have) || strcmp(json_string_value(have), json_string_value(want));
          }
          if (differs) {
            char *hj = compact(have ? have : json_null()), *wj = compact(want);
            int w = snprintf(diffs + o, sizeof diffs - o, "%s%s is %s, the plan says %s", o ? "; " : "", key,
                             hj ? hj : "?", wj ? wj : "?");
            if (w > 0 && (size_t)w < sizeof diffs - o) o += (size_t)w;
            free(hj), free(wj);
            json_object_set(f3, key, want);
          }
        }
        if (o) {
          json_t *f4 = json_pack("{sssO}", "tool", "set_track", "args", f3);
          violation(out, "value_differs", n, tr, f4, "Step %d: on %s %s", n, tq, diffs);
          json_decref(f4);
        }
        json_decref(f3);
      }
    } else if (!strcmp(tool, "set_tempo")) {
      double want = json_number_value(json_object_get(args, "bpm"));
      double have = json_number_value(json_object_get(after, "tempo"));
      if (last_setter(plan, n, "set_tempo", "bpm", st, after, NULL) && fabs(have - want) > 0.01)
        violation(out, "value_differs", n, NULL, fix, "Step %d: the tempo is %g BPM, the plan says %g", n, have, want);
    } else if (!strcmp(tool, "add_marker")) {
      const char *nm = json_string_value(json_object_get(args, "name"));
      double pos = json_number_value(json_object_get(args, "position"));
      int found = 0;
      json_t *m;
      json_array_foreach(json_object_get(after, "markers"), k, m) {
        const char *mn = json_string_value(json_object_get(m, "name"));
        if (mn && nm && !strcmp(mn, nm) && fabs(json_number_value(json_object_get(m, "position")) - pos) < 0.01)
          found = 1;
      }
      if (!found) {
        char q[300];
        quote(nm, q, sizeof q);
        violation(out, "missing_marker", n, NULL, fix, "Step %d: no marker %s at beat %g", n, q, pos);
      }
    } else if (!strcmp(tool, "set_loop")) {
      const json_t *lp = json_object_get(after, "loop");
      double ws = json_number_value(json_object_get(args, "start")), we = json_number_value(json_object_get(args, "end"));
      if (last_setter(plan, n, "set_loop", "start", st, after, NULL) &&
          (fabs(json_number_value(json_object_get(lp, "start")) - ws) > 0.01 ||
           fabs(json_number_value(json_object_get(lp, "end")) - we) > 0.01))
        violation(out, "value_differs", n, NULL, fix, "Step %d: the loop is %g-%g, the plan says %g-%g", n,
                  json_number_value(json_object_get(lp, "start")), json_number_value(json_object_get(lp, "end")), ws, we);
    } else if (!ok_action_for_step(actions, n, tool, (int)ord)) {
      violation(out, "step_failed", n, tr, fix, "Step %d: %s was not carried out", n, tool);
    }
    json_decref(fix);
  }
  json_decref(fx_seen);
  json_decref(tool_seen);

  /* 3. the seed's check: MIDI tracks created without a clip */
  json_array_foreach(json_object_get(after, "tracks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    if (!id || track_by_id(before, id) || json_array_size(json_object_get(t, "clips")) ||
        !is_midi_track(t, actions, plan, st))
      continue;
    char q[300];
    quote(json_string_value(json_object_get(t, "name")), q, sizeof q);
    int step = 0;
    const char *key;
    json_t *v;
    json_object_foreach(st, key, v) if (!strcmp(json_string_value(v), id)) step = atoi(key);
    violation(out, "empty_track", step, id, NULL, "AI CREATED EMPTY TRACKS: %s (%s) is a MIDI track without a clip", q,
              id);
  }
  json_decref(claimed);
  if (step_tracks_out) *step_tracks_out = st;
  else json_decref(st);
  return out;
}

/* ------------------------------------------------------------------------------------------------ */

char *agent_summary(const json_t *r) {
  size_t cap = 8192, o = 0;
  char *b = malloc(cap);
  if (!b) return NULL;
  b[0] = 0;
#define OUT(...)                                                                                                       \
  do {                                                                                                                 \
    int w_ = snprintf(b + o, cap - o, __VA_ARGS__);                                                                    \
    if (w_ > 0) o = (size_t)w_ < cap - o ? o + (size_t)w_ : cap - 1;                                                   \
  } while (0)
  const char *resp = json_string_value(json_object_get(r, "response"));
  OUT("%s\n", resp ? resp : "");
  const json_t *acts = json_object_get(r, "actions_executed");
  const json_t *oc = json_object_get(r, "outcomes");
  const char *rst = json_string_value(json_object_get(r, "status"));
  int n_conf = (int)json_integer_value(json_object_get(oc, "confirmed"));
  int n_total = (int)json_integer_value(json_object_get(oc, "total"));
  int n_unc = (int)json_integer_value(json_object_get(oc, "uncertain"));
  int n_fail = (int)json_integer_value(json_object_get(oc, "failed"));
  int n_ref = (int)json_integer_value(json_object_get(oc, "refused"));
  int n_notrun = (int)json_integer_value(json_object_get(oc, "not_run"));
  int interrupted = rst && !strcmp(rst, "interrupted");
  if (json_array_size(acts)) {
    OUT("\nActions:\n");
    size_t i;
    json_t *x;
    json_array_foreach(acts, i, x) {
      const char *tool = json_string_value(json_object_get(x, "tool"));
      const json_t *res = json_object_get(x, "result");
      const char *tid = json_string_value(json_object_get(res, "track_id"));
      const char *cid = json_string_value(json_object_get(res, "clip_id"));
      const char *err = json_string_value(json_object_get(x, "error"));
      const char *ph = json_string_value(json_object_get(x, "phase"));
      char *aj = compact(json_object_get(x, "args"));
      const char *outc = json_string_value(json_object_get(x, "outcome"));
      const char *label = json_object_get(x, "refused")          ? "REFUSED"
                          : json_is_true(json_object_get(x, "retried")) ? "retried"
                          : outc && !strcmp(outc, "failed")        ? "FAILED"
                          : outc                                   ? outc
                          : json_is_true(json_object_get(x, "ok")) ? "ok"
                                                                   : "FAILED";
      OUT("  %-9s %s %.160s%s", label, tool ? tool : "?", aj ? aj : "{}", aj && strlen(aj) > 160 ? "..." : "");
      free(aj);
      if (tid || cid) OUT(" -> %s%s%s", tid ? tid : "", tid && cid ? " " : "", cid ? cid : "");
      /* create_track: the plugin the DAW reports loaded for the role (osc-maps/instruments/) */
      const char *ins = json_string_value(json_object_get(res, "instrument"));
      if (ins && json_object_get(res, "instrument_role")) OUT(" [%s]", ins);
      const char *iw = json_string_value(json_object_get(res, "warning"));
      if (iw) OUT(" (warning: %s)", iw);
      if (err) OUT(" (%s)", err);
      if (ph && !strcmp(ph, "fix")) OUT(" [corrective round]");
      OUT("\n");
    }
  }
  if (json_is_object(oc)) {
    OUT("\nSteps: %d of %d confirmed, %d uncertain, %d failed", n_conf, n_total, n_unc, n_fail);
    if (n_notrun) OUT(", %d not run", n_notrun);
    if (n_ref) OUT(" (%d call%s refused: not in the plan)", n_ref, n_ref == 1 ? "" : "s");
    OUT("\n");
  }
  const json_t *vio = json_object_get(r, "violations");
  const json_t *fixed = json_object_get(r, "violations_fixed");
  /* "matches the plan" only when every step is confirmed by the DAW */
  int all_confirmed = json_is_object(oc) && n_total > 0 && n_conf == n_total && rst && !strcmp(rst, "ok");
  if (json_integer_value(fixed) > 0) OUT("\nVerification: %lld problem(s) found and fixed in the corrective round.\n",
                                         (long long)json_integer_value(fixed));
  if (json_array_size(vio)) {
    OUT("\nStill wrong after verification:\n");
    size_t i;
    json_t *v;
    json_array_foreach(vio, i, v) OUT("  - %s\n", json_string_value(json_object_get(v, "message")));
  } else if (interrupted) {
    OUT("\nVerification: not done (interrupted).\n");
  } else if (all_confirmed && !json_integer_value(fixed)) {
    OUT("\nVerification: the DAW's session matches the plan.\n");
  } else if (json_array_size(acts) && !all_confirmed) {
    OUT("\nVerification: the mirror shows no difference from the plan, but %d of %d step%s %s not confirmed by the "
        "DAW.\n", n_total - n_conf, n_total, n_total == 1 ? "" : "s", n_total - n_conf == 1 ? "is" : "are");
  }
  const json_t *key = json_object_get(json_object_get(r, "musical_context"), "key");
  const json_t *ctx = json_object_get(r, "musical_context");
  if (json_is_object(ctx)) {
    OUT("\nMusical context: %g BPM, %lld bar%s", json_number_value(json_object_get(ctx, "tempo")),
        (long long)json_integer_value(json_object_get(ctx, "bars")),
        json_integer_value(json_object_get(ctx, "bars")) == 1 ? "" : "s");
    if (json_is_object(key)) OUT(", key %s", json_string_value(json_object_get(key, "name")));
    OUT("\n");
  }
  const json_t *it = json_object_get(r, "iteration");
  const char *hd = json_string_value(json_object_get(r, "history_dir"));
  if (json_is_integer(it)) OUT("Iteration %lld saved%s%s.\n", (long long)json_integer_value(it), hd ? " in " : "",
                               hd ? hd : "");
  const char *err = json_string_value(json_object_get(r, "error"));
  if (err && interrupted) OUT("\n%s\n", err);
  else if (err) OUT("\nError: %s\n", err);
#undef OUT
  return b;
}
