/* agent_plan: stage 1 — the planning prompt, the model call, parse, validate, the one re-plan; and the validation
 * of a plan written by hand (agent_exec_plan). See agent.h. */
#include "agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "context.h"
#include "plan_json.h"
#include "session.h"

static void on_plan_done(llm_call_t *call, int status, const struct llm_result *res, const char *errmsg, void *data);

static void llm_failed(agent_t *a, int status, const char *errmsg, const char *what) {
  int code = status == LLM_EAUTH || status == LLM_ECONFIG ? AGENT_ECONFIG : AGENT_ELLM;
  char m[600];
  snprintf(m, sizeof m, "%s: %s", what, errmsg && *errmsg ? errmsg : llm_strerror(status));
  agent_log(a, LOG_INFO, "%s", m);
  agent_job_done(a, code, m);
}

void agent_set_llm_options(agent_t *a, llm_request_t *req, int stream) {
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

static int start_plan_call(agent_t *a) {
  agent_set_stage(a, AGENT_PLANNING);
  int stream = a->cfg.stream && a->cfg.cb.on_plan_delta;
  a->call = llm_chat(a->cfg.llm, a->req, stream ? on_plan_delta : NULL, on_plan_done, a);
  if (!a->call) {
    agent_job_done(a, AGENT_ENOMEM, "the model client could not start a request");
    return -1;
  }
  return 0;
}

/* Parse + validate text; sets plan, plan_json, plan_errors. Returns 1 when valid. */
static int parse_and_validate(agent_t *a, const char *text) {
  agent_set_stage(a, AGENT_VALIDATING);
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
    agent_log(a, LOG_INFO, "plan: %zu step%s, %s", plan_step_count(a->plan), plan_step_count(a->plan) == 1 ? "" : "s",
              ne ? "invalid" : "valid");
    for (size_t i = 0; i < plan_step_count(a->plan); i++) {
      char *args = agent_compact(plan_step_args(a->plan, i));
      agent_log(a, LOG_INFO, "plan: Step %d: %s %s", plan_step_number(a->plan, i), plan_step_tool(a->plan, i),
                args ? args : "{}");
      free(args);
    }
  }
  size_t i;
  json_t *e;
  json_array_foreach(a->plan_errors, i, e) {
    agent_log(a, LOG_INFO, "plan error (Step %lld): %s", (long long)json_integer_value(json_object_get(e, "step")),
              json_string_value(json_object_get(e, "message")));
  }
  if (a->cfg.cb.on_plan) a->cfg.cb.on_plan(a, a->attempt, a->plan_json, a->plan_errors, text, a->cfg.cb.data);
  return ne == 0 && a->plan;
}

/* Count one model call in the job's usage. A provider that did not report a figure (-1; a scripted model whose
 * transcript has no "usage") gets an estimate (budget_tokens of the request as sent and of the answer) and the
 * response says "estimated": true. Called before the answer is appended to a->req. */
void agent_count_usage(agent_t *a, const struct llm_result *res) {
  a->use_calls++;
  if (!res) return; /* the call failed: nothing came back; its input is not counted */
  if (res->usage.input_tokens >= 0) {
    a->use_in += res->usage.input_tokens;
  } else {
    /* counted per message and cached in the request: only what was added since the last call (not the whole
     * conversation dumped again each turn, which made the estimate quadratic in the turns) */
    a->use_in += a->req ? llm_request_count_tokens(a->req, budget_tokens) : 0;
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

agent_t *agent_call_ended(void *data, int status, const struct llm_result *res) {
  agent_t *a = data;
  a->call = NULL;
  agent_count_usage(a, status ? NULL : res);
  return agent_stop_if_canceled(a) ? NULL : a;
}

static void on_plan_done(llm_call_t *call, int status, const struct llm_result *res, const char *errmsg, void *data) {
  (void)call;
  agent_t *a = agent_call_ended(data, status, res);
  if (!a) return;
  if (status) {
    llm_failed(a, status, errmsg, "planning");
    return;
  }
  free(a->plan_text);
  a->plan_text = strdup(res->text ? res->text : "");
  agent_log(a, LOG_DEBUG, "plan text:\n%s", a->plan_text);
  if (parse_and_validate(a, a->plan_text)) {
    if (a->mode == MODE_PLAN) {
      agent_job_done(a, AGENT_OK, NULL);
      return;
    }
    agent_go_confirm(a);
    return;
  }
  if (a->attempt == 0) {
    a->attempt = 1;
    agent_log(a, LOG_INFO, "re-planning with %zu error%s quoted", json_array_size(a->plan_errors),
              json_array_size(a->plan_errors) == 1 ? "" : "s");
    struct prompt_text pt;
    char err[512];
    if (prompt_replan(a->prompts, a->plan_errors, a->tools_avail, &pt, err, sizeof err)) {
      agent_job_done(a, AGENT_ECONFIG, err);
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
  agent_job_done(a, AGENT_EPLAN, m);
}

static void prepare_context(agent_t *a) {
  json_t *caps = daw_capabilities(a->cfg.daw);
  a->tools_avail = tools_subset(a->tools, caps);
  json_decref(caps);
  a->state0 = session_to_json(daw_session(a->cfg.daw));
}

void agent_start_planning(agent_t *a) {
  prepare_context(a);
  agent_set_stage(a, AGENT_PLANNING);
  agent_log(a, LOG_INFO, "planning started (%s, %zu tools available)",
            llm_provider_name(llm_get_config(a->cfg.llm)->provider), json_array_size(a->tools_avail));
  json_t *an = context_analyze(a->state0);
  struct prompt_conversation_stats cs = {0};
  struct prompt_stage1 in = {.dialect = daw_dialect(a->cfg.daw),
                             .request = a->request,
                             .state = a->state0,
                             .analysis = an,
                             .catalog = daw_catalog(a->cfg.daw),
                             .tools = a->tools_avail,
                             .context_budget = a->cfg.context_budget,
                             .profile = a->cfg.profile,
                             .conversation = a->conversation,
                             .conv_stats = &cs};
  struct prompt_text pt;
  char err[512];
  int rc = prompt_stage1(a->prompts, &in, &pt, err, sizeof err);
  json_decref(an);
  if (rc) {
    agent_job_done(a, AGENT_ECONFIG, err);
    return;
  }
  agent_log(a, LOG_INFO, "stage 1 prompt: %zu tokens (estimate)", budget_tokens(pt.system) + budget_tokens(pt.user));
  if (cs.turns)
    agent_log(a, LOG_INFO, "conversation: %zu earlier turn%s (%zu in full, %zu on one line, %zu dropped), %zu tokens",
              cs.turns, cs.turns == 1 ? "" : "s", cs.full, cs.one_line, cs.dropped, cs.tokens);
  a->req = llm_request_new();
  if (!a->req || (pt.system && llm_request_set_system(a->req, pt.system)) || llm_request_add_user(a->req, pt.user)) {
    prompt_text_free(&pt);
    agent_job_done(a, AGENT_ENOMEM, "out of memory");
    return;
  }
  prompt_text_free(&pt);
  agent_set_llm_options(a, a->req, a->cfg.stream && a->cfg.cb.on_plan_delta);
  /* a JSON mode (--json-mode; auto: the small profile): the plan as one JSON object of plan_json_schema() */
  enum llm_json_mode jm = llm_json_mode_effective(llm_get_config(a->cfg.llm), a->cfg.profile == PROMPT_PROFILE_SMALL);
  if (jm == LLM_JSON_OBJECT || jm == LLM_JSON_SCHEMA) {
    json_t *schema = plan_json_schema(a->tools_avail);
    if (schema && llm_request_set_json(a->req, jm, "plan", schema) == LLM_OK)
      agent_log(a, LOG_INFO, "JSON mode %s: the plan as one JSON object", llm_json_mode_name(jm));
    json_decref(schema);
  }
  start_plan_call(a);
}

void agent_start_exec_plan(agent_t *a) {
  prepare_context(a);
  agent_log(a, LOG_INFO, "validating the plan file (%zu tools available)", json_array_size(a->tools_avail));
  a->plan_text = strdup(a->plan_input ? a->plan_input : "");
  if (!parse_and_validate(a, a->plan_text)) {
    char m[700];
    const char *first = json_string_value(json_object_get(json_array_get(a->plan_errors, 0), "message"));
    snprintf(m, sizeof m, "the plan is invalid (%zu error%s; first: %s)", json_array_size(a->plan_errors),
             json_array_size(a->plan_errors) == 1 ? "" : "s", first ? first : "?");
    agent_job_done(a, AGENT_EPLAN, m);
    return;
  }
  agent_go_confirm(a);
}
