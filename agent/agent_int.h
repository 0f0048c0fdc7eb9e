/* agent_int.h: the job struct shared by the agent's stage files (agent.c, agent_plan.c, agent_exec.c,
 * agent_verify.c, agent_report.c) and the functions one stage calls in another. Internal: nothing outside agent/
 * includes it. */
#ifndef DAWBRIDGE_AGENT_INT_H
#define DAWBRIDGE_AGENT_INT_H

#include <jansson.h>
#include <stddef.h>

#include "agent.h"
#include "plan.h"
#include "prompt.h"
#include "tools.h"
#include "vocab.h"

enum mode { MODE_ASK, MODE_PLAN, MODE_EXEC };

struct agent {
  /* the agent (agent.c) */
  uv_loop_t *loop;
  struct agent_config cfg;
  char *s_model, *s_data_dir, *s_composition;
  prompt_t *prompts;
  tools_t *tools;
  uv_timer_t timer;
  void (*next)(agent_t *a); /* the continuation the timer runs (schedule) */
  int closing, closed_timer;
  void (*close_cb)(void *);
  void *close_data;
  json_t *conversation; /* the earlier turns (agent_set_conversation); kept across jobs */

  /* the job (agent.c; reset by job_reset) */
  int busy;
  enum mode mode;
  enum agent_stage stage;
  char *request;       /* the musician's words (or the exec label) */
  char *plan_input;    /* exec: the plan text */
  json_t *tools_avail; /* descriptors of the tools the DAW can run now */
  llm_request_t *req;  /* the conversation with the model (stage 1, then stage 2 in its own request) */
  llm_call_t *call;    /* the model call in flight */
  int daw_pending;     /* a DAW call in flight */
  int request_begun;   /* daw_begin_request done, daw_end_request not yet */
  int canceled, cancel_finishing;
  int status;
  char msg[512];
  /* every model call of the job (stage 1, re-plan, stage 2, fix round): reported tokens, else an estimate */
  long use_in, use_out, use_calls, use_estimated;

  /* stage 1 (agent_plan.c) */
  json_t *state0; /* state at planning time */
  plan_t *plan;
  json_t *plan_json; /* normalized, after validation */
  json_t *plan_errors;
  char *plan_text;
  int attempt; /* 0 = the first plan, 1 = the re-plan */

  /* stage 2 (agent_exec.c) */
  json_t *before;   /* state when execution started */
  json_t *actions;  /* every call made: [{"step"?, "tool", "args", "ok", "outcome", "result", ...}] */
  int exec_started; /* execution began (the DAW may have changed) */
  int round;        /* 0 = execute, 1 = the corrective round */
  int n_failed, n_unreachable;
  int readback_unknown; /* set while a result whose read-back failed is handled (the step must not run again) */
  json_t *step_tracks;  /* "N" -> track id */
  json_t *step_clips;   /* "N" -> clip id */
  /* llm executor */
  int turns, total_turns, turn_limit_hit;
  struct llm_result *pending;
  size_t call_i;
  char *final_text;
  int llm_status;
  char llm_msg[512];
  json_t *s2_open; /* what stage 2 may still carry out [{"step","tool","args","used","repair"?}] */
  /* direct executor */
  size_t step_i;
  json_t *work; /* [{"step","tool","args"}] to run in this round */

  /* verification (agent_verify.c) */
  json_t *violations; /* the last verification */
  json_t *violations_first;
  int failed_seen;               /* n_failed when the mirror was last refreshed */
  int refresh_tries, unverified; /* unverified: the mirror could not be refreshed after a failed call */
  int verify_fresh;              /* the mirror was just read back (daw_refresh) for this verification */

  /* saving (agent_report.c) */
  int iteration;
  char *history_dir;
  char save_err[512];
};

struct agent_tally {
  int steps;                                 /* plan steps that change something (read-only steps are not counted) */
  int confirmed, uncertain, failed, not_run; /* per plan step */
  int refused;                               /* stage-2 calls outside the plan (counted as failed too) */
  int total;                                 /* steps + refused */
};

/* ---- agent.c: the job ---- */
/* A log line of module "agent" at level (cfg.log; dropped above its level). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void agent_log(agent_t *a, int level, const char *fmt, ...);
/* j as compact JSON (malloc'd; "null" for NULL; caller frees). */
char *agent_compact(const json_t *j);
/* Enter stage st (no-op when already there): a debug line and cb.on_stage. */
void agent_set_stage(agent_t *a, enum agent_stage st);
/* The end of the job, exactly once: the response (agent_build_response), the job reset, then cb.on_done(status,
 * response, message). The agent is idle (and may take the next job) when on_done runs. */
void agent_job_done(agent_t *a, int status, const char *message);
/* Every DAW/LLM callback of a job starts with this: 1 = the job is being canceled or the agent closed, and that
 * was taken care of here (the caller returns at once); 0 = carry on. */
int agent_stop_if_canceled(agent_t *a);
/* After a valid plan: wait for agent_confirm() when cfg.confirm asks for it, else agent_begin_exec. */
void agent_go_confirm(agent_t *a);

/* ---- agent_plan.c: stage 1 ---- */
/* The model options of every request of the job (model, temperature, streaming). */
void agent_set_llm_options(agent_t *a, llm_request_t *req, int stream);
/* Counts one model call in the job's usage (res NULL: the call failed); an unreported figure is estimated. Call it
 * before the answer is appended to the request. */
void agent_count_usage(agent_t *a, const struct llm_result *res);
/* The start of every model call's callback (data: the agent): the call is over and its usage counted (res NULL
 * when status is nonzero). Returns the agent, or NULL when the job was canceled meanwhile (then it has ended). */
agent_t *agent_call_ended(void *data, int status, const struct llm_result *res);
/* agent_ask/agent_plan, from the timer: the tools available, the state, the stage-1 prompt, the model call. */
void agent_start_planning(agent_t *a);
/* agent_exec_plan, from the timer: validate the plan text, then agent_go_confirm. */
void agent_start_exec_plan(agent_t *a);

/* ---- agent_exec.c: stage 2 ---- */
/* 1 when the plan runs without a model (agent_exec_plan, or cfg.executor AGENT_EXEC_DIRECT). */
int agent_is_direct(agent_t *a);
/* The storage check, daw_begin_request, then the round of the executor in use. */
void agent_begin_exec(agent_t *a);
/* Direct executor: run the next entry of a->work (or, when none is left, agent_after_round). */
void agent_direct_next(agent_t *a);
/* LLM executor: the repairs verification proposed become the steps stage 2 may carry out in the corrective round. */
void agent_s2_open_repairs(agent_t *a);
/* LLM executor: the next model call of the round (or the end of the round at the turn limit). */
void agent_s2_turn(agent_t *a);

/* ---- agent_verify.c: read-back and verification ---- */
/* A create (create_track, create_midi_clip, add_effect) that failed with DAW_ETIMEDOUT/DAW_EUNREACHABLE is read
 * back before its result counts: returns 1 when the read-back was started (cb follows with the outcome: found ->
 * status 0 and the read-back ids; else the original failure), 0 when the result stands as it is. */
int agent_readback_start(agent_t *a, const char *tool, const json_t *args, int status, const char *message, daw_cb cb,
                         void *data);
/* The end of an execution round: refresh the mirror when a call failed, then verify, then the corrective round or
 * the end of the request. */
void agent_after_round(agent_t *a);

/* ---- agent_report.c: outcomes, the response, saving ---- */
/* Successful actions / successful actions that change the session (read tools excluded). */
int agent_count_ok(const json_t *actions);
int agent_count_changes(const json_t *actions);
/* "confirmed" | "uncertain" | "failed" for a finished call (ok, and the result's "status"). */
const char *agent_outcome_of(int ok, const json_t *result);
/* One outcome per plan step (struct agent_tally); steps_out (may be NULL): new array [{"step","tool","outcome"}]. */
void agent_tally(agent_t *a, struct agent_tally *t, json_t **steps_out);
/* The response object of the job as it stands (new reference; see agent_response in agent.h). */
json_t *agent_build_response(agent_t *a, int status, const char *message);
/* Close the DAW's request (undo block) when one is open, then decide the status, save the iteration, and end
 * the job (agent_job_done). */
void agent_end_request(agent_t *a);
/* The history's composition name: cfg.composition, else the project's name when usable, else "default". */
const char *agent_composition(agent_t *a);
/* Saves the iteration (a baseline first when the history is empty); partial: an interrupted job. 0, or -1 with
 * a->save_err set. */
int agent_save_iteration(agent_t *a, int partial);

#endif
