/* agent_report: the end of a job — outcomes per step, the response object, the summary text, the conversation
 * turn built from a response, the end of the DAW request and saving the iteration. See agent.h. */
#include "agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "errfmt.h"
#include "history.h"
#include "session.h"
#include "vocab.h"

static void save_and_finish(agent_t *a);

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

/* ---- the response and the end of a job ---- */

int agent_count_ok(const json_t *actions) {
  int n = 0;
  size_t i;
  json_t *x;
  json_array_foreach(actions, i, x) n += json_is_true(json_object_get(x, "ok"));
  return n;
}

/* Successful actions that change the session (read tools — get_state, get_notes — change nothing). */
int agent_count_changes(const json_t *actions) {
  int n = 0;
  size_t i;
  json_t *x;
  json_array_foreach(actions, i, x) {
    const char *t = json_string_value(json_object_get(x, "tool"));
    n += json_is_true(json_object_get(x, "ok")) && t && !vocab_name_is_read(t);
  }
  return n;
}

/* ---- outcomes: every executed action is "confirmed", "uncertain" or "failed" (issue 10 §2) ---- */

/* The outcome of a finished call. status 0 with the result's "status" "uncertain" (sent, no word from the DAW by
 * the deadline; also the older names "sent_unconfirmed" and "unchanged") is uncertain; other successes are
 * confirmed (the DAW's own feedback or read-back); anything else failed. */
const char *agent_outcome_of(int ok, const json_t *result) {
  if (!ok) return "failed";
  const char *st = json_string_value(json_object_get(result, "status"));
  if (st && (!strcmp(st, "uncertain") || !strcmp(st, "sent_unconfirmed") || !strcmp(st, "unchanged")))
    return "uncertain";
  return "confirmed";
}

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
void agent_tally(agent_t *a, struct agent_tally *t, json_t **steps_out) {
  memset(t, 0, sizeof *t);
  json_t *out = steps_out ? json_array() : NULL;
  size_t i, k;
  json_t *s, *x;
  json_array_foreach(json_object_get(a->plan_json, "steps"), i, s) {
    const char *tool = json_string_value(json_object_get(s, "tool"));
    if (!tool || vocab_name_is_read(tool)) continue;
    int n = (int)json_integer_value(json_object_get(s, "step"));
    const char *oc = NULL;
    json_array_foreach(a->actions, k, x) {
      if (json_integer_value(json_object_get(x, "step")) == n && !json_object_get(x, "refused"))
        oc = json_string_value(json_object_get(x, "outcome"));
    }
    int vio = has_step_violation(a->violations, n);
    if (!oc)
      oc = a->canceled ? "not_run" : vio ? "failed" : "uncertain";
    else if (vio)
      oc = "failed";
    t->steps++;
    if (!strcmp(oc, "confirmed"))
      t->confirmed++;
    else if (!strcmp(oc, "uncertain"))
      t->uncertain++;
    else if (!strcmp(oc, "not_run"))
      t->not_run++;
    else
      t->failed++;
    if (out) json_array_append_new(out, json_pack("{sissss}", "step", n, "tool", tool, "outcome", oc));
  }
  json_array_foreach(a->actions, k, x) t->refused += json_object_get(x, "refused") != NULL;
  t->failed += t->refused;
  t->total = t->steps + t->refused;
  if (steps_out) *steps_out = out;
}

/* obj.outcomes (the tally's counts) and obj.step_outcomes: the same in the response and in the saved iteration. */
static void set_outcomes(agent_t *a, json_t *obj) {
  struct agent_tally t;
  json_t *so = NULL;
  agent_tally(a, &t, &so);
  json_object_set_new(obj, "outcomes",
                      json_pack("{sisisisisisisi}", "confirmed", t.confirmed, "uncertain", t.uncertain, "failed",
                                t.failed, "refused", t.refused, "not_run", t.not_run, "steps", t.steps, "total",
                                t.total));
  json_object_set_new(obj, "step_outcomes", so);
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
    struct agent_tally t;
    agent_tally(a, &t, NULL);
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

json_t *agent_build_response(agent_t *a, int status, const char *message) {
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
  json_object_set_new(r, "plan",
                      a->plan_json ? json_incref(a->plan_json)
                      : a->plan    ? plan_to_json(a->plan)
                                   : json_null());
  json_object_set_new(r, "iteration", a->iteration > 0 ? json_integer(a->iteration) : json_null());
  json_object_set_new(r, "status", json_string(status_key(status)));
  if (message) json_object_set_new(r, "error", json_string(message));
  json_object_set_new(r, "executor",
                      json_string(a->mode == MODE_PLAN                                           ? "none"
                                  : a->cfg.executor == AGENT_EXEC_DIRECT || a->mode == MODE_EXEC ? "direct"
                                                                                                 : "llm"));
  json_object_set_new(r, "plan_errors", a->plan_errors ? json_incref(a->plan_errors) : json_array());
  json_object_set_new(r, "violations", a->violations ? json_incref(a->violations) : json_array());
  if (a->exec_started) {
    set_outcomes(a, r);
  }
  if (status == AGENT_ECANCELED) json_object_set_new(r, "interrupted", json_true());
  if (a->violations_first && json_array_size(a->violations_first))
    json_object_set_new(
        r, "violations_fixed",
        json_integer((json_int_t)(json_array_size(a->violations_first) - json_array_size(a->violations))));
  if (a->mode != MODE_PLAN) {
    json_object_set_new(r, "model_turns", json_integer(a->total_turns));
    if (a->turn_limit_hit) json_object_set_new(r, "turn_limit_reached", json_true());
  }
  if (a->mode != MODE_EXEC || a->use_calls)
    json_object_set_new(r, "usage",
                        json_pack("{sIsIsIsb}", "input_tokens", (json_int_t)a->use_in, "output_tokens",
                                  (json_int_t)a->use_out, "calls", (json_int_t)a->use_calls, "estimated",
                                  a->use_estimated > 0));
  if (a->history_dir) json_object_set_new(r, "history_dir", json_string(a->history_dir));
  if (a->plan_text && a->mode != MODE_EXEC) json_object_set_new(r, "plan_text", json_string(a->plan_text));
  free(gen);
  return r;
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
        if (!strcmp(k, "args"))
          json_object_set_new(s, k, prompt_args_short(v));
        else
          json_object_set(s, k, v);
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
    if (json_is_string(json_object_get(res, "track_id")))
      json_object_set(o, "track_id", json_object_get(res, "track_id"));
    if (json_is_string(json_object_get(res, "clip_id"))) json_object_set(o, "clip_id", json_object_get(res, "clip_id"));
    json_array_append_new(acts, o);
  }
  json_object_set_new(t, "actions", acts);
  return t;
}

static void on_ended(int status, const json_t *result, const char *message, void *data) {
  agent_t *a = data;
  (void)result;
  a->daw_pending = 0;
  a->request_begun = 0;
  if (status)
    agent_log(a, LOG_WARN, "could not close the DAW's undo block: %s", message ? message : daw_strerror(status));
  if (agent_stop_if_canceled(a)) return;
  save_and_finish(a);
}

void agent_end_request(agent_t *a) {
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

static int all_unreachable(agent_t *a) {
  return agent_count_ok(a->actions) == 0 && a->n_unreachable > 0 && a->n_unreachable == a->n_failed;
}

const char *agent_composition(agent_t *a) {
  if (a->cfg.composition && *a->cfg.composition) return a->cfg.composition;
  const char *p = json_string_value(json_object_get(a->before, "project"));
  if (p && *p && history_composition_valid(p)) return p;
  return "default";
}

int agent_save_iteration(agent_t *a, int partial) {
  agent_set_stage(a, AGENT_SAVING);
  char err[512];
  const char *comp = agent_composition(a);
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
    agent_log(a, LOG_INFO, "baseline iteration saved: %d", num);
  }
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  json_t *meta = json_pack("{sssssisOsO}", "source", "ai_iteration", "user_message", a->request ? a->request : "",
                           "actions_count", agent_count_changes(a->actions), "plan",
                           a->plan_json ? a->plan_json : json_null(), "actions", a->actions);
  json_object_set_new(meta, "executor", json_string(agent_is_direct(a) ? "direct" : "llm"));
  if (json_array_size(a->violations)) json_object_set(meta, "violations", a->violations);
  set_outcomes(a, meta);
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
  agent_log(a, LOG_INFO, "iteration saved: %d (%s/%04d.json)", num, a->history_dir, num);
  return 0;
}

static void save_and_finish(agent_t *a) {
  int status = AGENT_OK;
  char m[700] = "";
  if (json_array_size(a->violations)) {
    status = !agent_is_direct(a) && a->llm_status
                 ? (a->llm_status == LLM_EAUTH || a->llm_status == LLM_ECONFIG ? AGENT_ECONFIG : AGENT_ELLM)
             : all_unreachable(a) ? AGENT_EDAW
                                  : AGENT_EINCOMPLETE;
    const char *first = json_string_value(json_object_get(json_array_get(a->violations, 0), "message"));
    snprintf(m, sizeof m, "%s%s%s%s%zu problem%s remain%s%s (first: %s)",
             a->unverified ? "the mirror could not be refreshed after a failed call, so nothing was repaired; " : "",
             !agent_is_direct(a) && a->llm_status ? "the model failed: " : "",
             !agent_is_direct(a) && a->llm_status ? a->llm_msg : "",
             !agent_is_direct(a) && a->llm_status ? "; "
             : a->turn_limit_hit                  ? "turn limit reached; "
                                                  : "",
             json_array_size(a->violations), json_array_size(a->violations) == 1 ? "" : "s",
             json_array_size(a->violations) == 1 ? "s" : "", a->round ? " after the corrective round" : "",
             first ? first : "?");
  } else {
    /* the session looks as planned; the outcomes still decide: a failed or refused call, or a step the DAW did
     * not confirm, is never reported as done */
    struct agent_tally t;
    agent_tally(a, &t, NULL);
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
  if (agent_count_changes(a->actions) > 0 && !a->cfg.no_save) {
    if (agent_save_iteration(a, 0)) {
      agent_log(a, LOG_INFO, "%s", a->save_err);
      if (status == AGENT_OK || status == AGENT_EINCOMPLETE || status == AGENT_EUNCERTAIN) {
        char m2[700];
        /* a long message is cut, which is fine for a summary line (the check keeps -Wformat-truncation quiet) */
        if (snprintf(m2, sizeof m2, "%s%s%s", a->save_err, m[0] ? "; also: " : "", m) >= (int)sizeof m2)
          m2[sizeof m2 - 1] = 0;
        if (snprintf(m, sizeof m, "%s", m2) >= (int)sizeof m) m[sizeof m - 1] = 0;
        status = AGENT_ESAVE;
      }
    }
  } else if (!agent_count_changes(a->actions)) {
    agent_log(a, LOG_INFO, "nothing changed, nothing saved");
  }
  agent_job_done(a, status, status ? m : NULL);
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
      char *aj = agent_compact(json_object_get(x, "args"));
      const char *outc = json_string_value(json_object_get(x, "outcome"));
      const char *label = json_object_get(x, "refused")                 ? "REFUSED"
                          : json_is_true(json_object_get(x, "retried")) ? "retried"
                          : outc && !strcmp(outc, "failed")             ? "FAILED"
                          : outc                                        ? outc
                          : json_is_true(json_object_get(x, "ok"))      ? "ok"
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
  if (json_integer_value(fixed) > 0)
    OUT("\nVerification: %lld problem(s) found and fixed in the corrective round.\n",
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
        "DAW.\n",
        n_total - n_conf, n_total, n_total == 1 ? "" : "s", n_total - n_conf == 1 ? "is" : "are");
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
  if (json_is_integer(it))
    OUT("Iteration %lld saved%s%s.\n", (long long)json_integer_value(it), hd ? " in " : "", hd ? hd : "");
  const char *err = json_string_value(json_object_get(r, "error"));
  if (err && interrupted)
    OUT("\n%s\n", err);
  else if (err)
    OUT("\nError: %s\n", err);
#undef OUT
  return b;
}
