/* agent_int.h: the job struct shared by the agent's stage files (agent.c, agent_plan.c, agent_exec.c,
 * agent_verify.c, agent_report.c) and the functions one stage calls in another. Internal: nothing outside agent/
 * includes it. */
#ifndef DAWBRIDGE_AGENT_INT_H
#define DAWBRIDGE_AGENT_INT_H

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
#include "vocab.h"

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

struct agent_tally {
  int steps;     /* plan steps that change something (read-only steps are not counted) */
  int confirmed, uncertain, failed, not_run; /* per plan step */
  int refused;   /* stage-2 calls outside the plan (counted as failed too) */
  int total;     /* steps + refused */
};

/* agent.c: logging, stage changes, the end of a job, cancel checks, confirm */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void agent_log(agent_t *a, int level, const char *fmt, ...);
char *agent_compact(const json_t *j);
void agent_set_stage(agent_t *a, enum agent_stage st);
void agent_job_done(agent_t *a, int status, const char *message);
int agent_stop_if_canceled(agent_t *a);
void agent_go_confirm(agent_t *a);

/* agent_plan.c: stage 1 */
void agent_set_llm_options(agent_t *a, llm_request_t *req, int stream);
void agent_count_usage(agent_t *a, const struct llm_result *res);
void agent_start_planning(agent_t *a);
void agent_start_exec_plan(agent_t *a);

/* agent_exec.c: stage 2 */
int agent_is_direct(agent_t *a);
void agent_begin_exec(agent_t *a);
void agent_direct_next(agent_t *a);
void agent_s2_open_repairs(agent_t *a);
void agent_s2_turn(agent_t *a);

/* agent_verify.c: read-back and verification */
void agent_pending_off(agent_t *a);
int agent_readback_start(agent_t *a, const char *tool, const json_t *args, int status, const char *message,
                          daw_cb cb, void *data);
void agent_after_round(agent_t *a);

/* agent_report.c: outcomes, response, saving */
int agent_count_ok(const json_t *actions);
int agent_count_changes(const json_t *actions);
const char *agent_outcome_of(int ok, const json_t *result);
void agent_tally(agent_t *a, struct agent_tally *t, json_t **steps_out);
json_t *agent_build_response(agent_t *a, int status, const char *message);
void agent_end_request(agent_t *a);
const char *agent_composition(agent_t *a);
int agent_save_iteration(agent_t *a, int partial);

#endif
