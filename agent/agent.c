/* agent: the job — its state machine on the loop, the public API (new, ask, plan, exec_plan, confirm, cancel,
 * close, the conversation), scheduling and the end of a job. The stages live in agent_plan.c (stage 1),
 * agent_exec.c (stage 2), agent_verify.c (verify, read-back, corrective round) and agent_report.c (the response,
 * outcomes, saving). See agent.h. */
#include "agent_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "agent"
#define DEFAULT_MAX_TURNS 24

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

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void agent_log(agent_t *a, int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(&a->cfg.log, level, MOD, fmt, ap);
  va_end(ap);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

char *agent_compact(const json_t *j) {
  if (!j) return strdup("null");
  return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6) | JSON_ENCODE_ANY);
}

void agent_set_stage(agent_t *a, enum agent_stage st) {
  if (a->stage == st) return;
  a->stage = st;
  agent_log(a, LOG_DEBUG, "stage: %s", agent_stage_name(st));
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

void agent_job_done(agent_t *a, int status, const char *message) {
  if (a->timer.data && uv_is_active((uv_handle_t *)&a->timer)) uv_timer_stop(&a->timer);
  a->next = NULL;
  agent_set_stage(a, AGENT_DONE);
  json_t *resp = agent_build_response(a, status, message);
  if (status)
    agent_log(a, LOG_INFO, "done: %s%s%s", agent_strerror(status), message ? ": " : "", message ? message : "");
  else
    agent_log(a, LOG_INFO, "done: %d action(s) confirmed%s", agent_count_ok(a->actions),
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

/* Ends the DAW request the job began, if any: 1 = cb will be called (the caller returns), 0 = nothing to wait for. */
static int end_daw_request(agent_t *a, daw_cb cb) {
  if (!a->request_begun) return 0;
  a->daw_pending = 1;
  if (daw_end_request(a->cfg.daw, cb, a) == DAW_OK) return 1;
  a->daw_pending = 0;
  a->request_begun = 0;
  return 0;
}

/* Stops the model call in flight, if any. */
static void cancel_llm_call(agent_t *a) {
  if (!a->call) return;
  llm_cancel(a->call);
  a->call = NULL;
}

/* Called when closing and nothing is in flight any more. */
static void close_continue(agent_t *a) {
  if (a->daw_pending || end_daw_request(a, on_close_ended)) return;
  close_now(a);
}

void agent_close(agent_t *a, void (*cb)(void *data), void *data) {
  if (!a || a->closing) return;
  a->closing = 1;
  a->close_cb = cb;
  a->close_data = data;
  a->next = NULL;
  uv_timer_stop(&a->timer);
  cancel_llm_call(a);
  a->canceled = 1;
  close_continue(a);
}

/* The end of an interrupted job: the part the DAW did is saved as a partial iteration (undoable like any other). */
static void cancel_done(agent_t *a) {
  char m[1200];
  if (!a->exec_started) {
    snprintf(m, sizeof m, "interrupted: 0 of %zu steps; nothing was sent to the DAW",
             a->plan ? plan_step_count(a->plan) : (size_t)0);
  } else {
    struct agent_tally t;
    agent_tally(a, &t, NULL);
    int n = snprintf(m, sizeof m, "interrupted: %d of %d steps (%d confirmed, %d uncertain, %d failed)",
                     t.confirmed + t.uncertain, t.steps, t.confirmed, t.uncertain, t.failed);
    if (agent_count_changes(a->actions) > 0 && !a->cfg.no_save) {
      if (agent_save_iteration(a, 1)) {
        agent_log(a, LOG_INFO, "%s", a->save_err);
        if (n > 0 && (size_t)n < sizeof m) snprintf(m + n, sizeof m - (size_t)n, "; %s", a->save_err);
      } else if (n > 0 && (size_t)n < sizeof m) {
        snprintf(m + n, sizeof m - (size_t)n, "; the part done is saved as iteration %d (partial)", a->iteration);
      }
    }
  }
  agent_log(a, LOG_INFO, "%s", m);
  agent_job_done(a, AGENT_ECANCELED, m);
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
  if (end_daw_request(a, on_cancel_ended)) return;
  cancel_done(a);
}

/* Every DAW/LLM callback starts with this: 1 = the job is being canceled/closed (handled here). */
int agent_stop_if_canceled(agent_t *a) {
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
  agent_log(a, LOG_INFO, "canceling (%s)", agent_stage_name(a->stage));
  cancel_llm_call(a);
  if (a->daw_pending) return; /* the callback finishes the cancel */
  uv_timer_stop(&a->timer);
  schedule(a, cancel_finish);
}

/* agent_ask and agent_plan: a job of mode m for the request, which starts with planning (stage 1) */
static int start_request(agent_t *a, const char *request, enum mode m) {
  if (!a || !request || !a->cfg.llm) return AGENT_EINVAL;
  int rc = job_start(a, m);
  if (rc) return rc;
  a->request = strdup(request);
  schedule(a, agent_start_planning);
  return AGENT_OK;
}

int agent_ask(agent_t *a, const char *request) { return start_request(a, request, MODE_ASK); }

int agent_plan(agent_t *a, const char *request) { return start_request(a, request, MODE_PLAN); }

int agent_exec_plan(agent_t *a, const char *plan_text, const char *label) {
  if (!a || !plan_text) return AGENT_EINVAL;
  int rc = job_start(a, MODE_EXEC);
  if (rc) return rc;
  a->request = strdup(label ? label : "plan");
  a->plan_input = strdup(plan_text);
  schedule(a, agent_start_exec_plan);
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

/* ---- confirm ---- */

static void rejected(agent_t *a) { agent_job_done(a, AGENT_EREJECTED, "the plan was rejected"); }

void agent_go_confirm(agent_t *a) {
  if (a->cfg.confirm && a->cfg.cb.on_confirm) {
    agent_set_stage(a, AGENT_CONFIRMING);
    agent_log(a, LOG_INFO, "waiting for approval of the plan");
    a->cfg.cb.on_confirm(a, a->plan_json, a->cfg.cb.data);
    return;
  }
  agent_begin_exec(a);
}

void agent_confirm(agent_t *a, int approve) {
  if (!a || !a->busy || a->stage != AGENT_CONFIRMING || a->next) return;
  agent_log(a, LOG_INFO, "plan %s", approve ? "approved" : "rejected");
  schedule(a, approve ? agent_begin_exec : rejected);
}
