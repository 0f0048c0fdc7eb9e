/* agent: the two stages — a request in plain words becomes a validated plan, then DAW-confirmed changes.
 *
 *   planning → validating → [confirming] → executing → verifying → saving → done
 *
 * Stage 1 (planning): one model call without tools (prompt.h: the request, the mirrored state as data, the
 * musical context, the catalog, the tools available now, the plan format) → plan_parse → plan_validate against
 * the tools the DAW can run now, the state and the catalog. On errors, one re-plan with the errors quoted; a plan
 * that still fails ends the job with AGENT_EPLAN (shown with its errors, nothing executed).
 * Stage 2 (executing), inside daw_begin_request/daw_end_request:
 *   - AGENT_EXEC_LLM (default, the seed's): a second model call with the tools as JSON schemas and the plan
 *     injected; each tool call → notation expanded → daw_call → the DAW-confirmed result (or the error text,
 *     is_error) back to the model, until it stops or max_turns model calls; unknown tool names and bad arguments
 *     get an error result, never a crash. Stage 2 carries out ONLY the plan: a call runs only when it matches a
 *     validated step still open (same tool, same target — references resolved through the ids earlier steps
 *     returned —, the plan's values; arguments the plan left open only for a tool that creates an object); a
 *     step is consumed once by a call that succeeded (read-only tools, kind "read", are free). Anything else is
 *     not executed: the model gets "refused: not in the plan" with the steps still open, the response lists the
 *     call with "outcome": "failed", "refused": "not in the plan", and the job ends AGENT_EINCOMPLETE (exit 7).
 *   - AGENT_EXEC_DIRECT: the validated plan's steps run with daw_call in order, "[from Step N]" references
 *     resolved to the ids the DAW confirmed; no second model call.
 * Read-back of creates: a create_track / create_midi_clip / add_effect that failed for DAW_ETIMEDOUT or
 * DAW_EUNREACHABLE (not a refusal) is not recorded (nor shown to the model) before daw_refresh: when the refreshed
 * mirror holds the object (new, not returned by an earlier action), the step is confirmed with its ids
 * ("read_back": true); when it does not, the failure stands and the step may run again; when the refresh fails,
 * the failure stands and stage 2 does not run the step again (issue 10 §3: no blind resend).
 * A corrective round that would create something again (missing track/clip/effect/notes) runs only after a
 * refresh of the mirror (also when every call was confirmed); a refresh whose companion state failed counts as
 * failed (no repairs).
 * Verifying: when a call failed, the mirror is refreshed first (a change whose confirmation was lost may still
 * have happened). Then the mirror is compared with the plan (agent_verify: MIDI tracks created without a clip —
 * the seed's "AI CREATED EMPTY TRACKS" —, tracks/clips/effects/markers the plan names but the DAW does not hold,
 * values that differ: notes, volume, pan, mute/solo/arm, names, tempo, loop; failed steps of other tools). One
 * corrective round: LLM executor — the violations quoted back to the model in the same conversation; direct — the
 * missing steps run again (notes missing from a clip are added with edit_clip). Then verified once more. When the
 * refresh failed twice, nothing is repaired (a repair could duplicate a change the mirror does not show) and the
 * job ends with AGENT_EINCOMPLETE.
 * Outcomes: every action carries "outcome": "confirmed" | "uncertain" | "failed" (a failed attempt later
 * retried with success also "retried": true); the response's "outcomes" counts them per plan step (plus the
 * refused calls) and "step_outcomes" lists each step's. AGENT_OK only when every step is confirmed;
 * AGENT_EUNCERTAIN (exit 3) when some are uncertain and none failed; AGENT_EINCOMPLETE (exit 7) when some failed.
 * Before the first DAW change the data directory is checked (history_check_writable): AGENT_ESTORAGE (exit 6),
 * nothing sent.
 * Saving: history_open(data_dir, composition); a "baseline" iteration (the state before the first AI change)
 * when the history is empty, then the "ai_iteration" with user_message, actions_count, plan, actions + results.
 * Nothing is saved when nothing changed (no successful action other than get_state). A failed save (full disk) ends with AGENT_ESAVE; the response is
 * complete otherwise.
 *
 * Everything runs on the loop; no callback is ever called synchronously from an agent_* call. One job at a time.
 * Log lines (module "agent") go to cfg.log: planning started, plan, re-plan, executing, each tool call and its
 * result, track created, clip added, effect added, violation, corrective round, iteration saved.
 */
#ifndef DAWBRIDGE_AGENT_H
#define DAWBRIDGE_AGENT_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "daw.h"
#include "llm.h"
#include "log.h"

typedef struct agent agent_t;

enum agent_err {
  AGENT_OK = 0,
  AGENT_EINVAL = -1, /* bad argument, or a job is already running */
  AGENT_ENOMEM = -2,
  AGENT_ECONFIG = -3,     /* prompts/tools missing; the model rejected the key (401/403); no model configured */
  AGENT_ELLM = -4,        /* the model failed (unreachable, timeouts, errors, script exhausted) */
  AGENT_EPLAN = -5,       /* no valid plan after the one re-plan: nothing was executed */
  AGENT_EINCOMPLETE = -6, /* executed, but some step failed (the DAW refused it, its read-back contradicts it, it was
                         * not run), verification still finds violations, or stage 2 tried a call outside the
                         * plan ("refused: not in the plan") */
  AGENT_ESAVE = -7,       /* executed and verified, but the iteration could not be saved */
  AGENT_EREJECTED = -8,   /* --confirm: the plan was rejected; nothing was executed */
  AGENT_ECANCELED = -9,
  AGENT_EDAW = -10,       /* the DAW could not be reached at all */
  AGENT_EUNCERTAIN = -11, /* every step done, none failed, but some are "uncertain" (sent, no word from the DAW) */
  AGENT_ESTORAGE = -12,   /* before the first DAW change: the data directory cannot take the iteration (read-only,
                          * full); nothing was sent to the DAW, nothing saved earlier was touched */
};
const char *agent_strerror(int code);
/* Exit code of the dawbridge CLI for an agent status (cli.h, README): 0 every step confirmed (or the plan was
 * rejected), 2 unreachable, 3 some step uncertain and none failed, 4 invalid plan, 5 configuration, 6 the
 * iteration cannot be / could not be saved, 7 some step failed or was refused, 130 interrupted (Ctrl-C). */
int agent_exit_code(int status);

enum agent_stage {
  AGENT_IDLE = 0,
  AGENT_PLANNING,
  AGENT_VALIDATING,
  AGENT_CONFIRMING,
  AGENT_EXECUTING,
  AGENT_VERIFYING,
  AGENT_FIXING, /* the corrective round (executing again) */
  AGENT_SAVING,
  AGENT_DONE,
};
const char *agent_stage_name(enum agent_stage s); /* "planning", ... */

enum agent_executor { AGENT_EXEC_LLM = 0, AGENT_EXEC_DIRECT };

/* Progress callbacks; all optional; every pointer argument is borrowed for the call. */
struct agent_callbacks {
  void (*on_stage)(agent_t *a, enum agent_stage stage, void *data);
  /* stage-1 text as the model writes it (when stream is set); attempt 0 = first plan, 1 = the re-plan */
  void (*on_plan_delta)(agent_t *a, int attempt, const char *text, size_t len, void *data);
  /* a parsed plan (plan_to_json) with its validation errors (empty array when valid); text = the model's text */
  void (*on_plan)(agent_t *a, int attempt, const json_t *plan, const json_t *errors, const char *text, void *data);
  /* --confirm: the agent waits until agent_confirm() is called */
  void (*on_confirm)(agent_t *a, const json_t *plan, void *data);
  void (*on_tool_call)(agent_t *a, const char *tool, const json_t *args, void *data);
  /* status 0: result = the DAW-confirmed object; else message says why (and result is NULL) */
  void (*on_tool_result)(agent_t *a, const char *tool, const json_t *args, int status, const json_t *result,
                         const char *message, void *data);
  void (*on_violation)(agent_t *a, const json_t *violation, void *data);
  /* The end of a job, exactly once: status (enum agent_err), the response object (see agent_response), a
   * one-line message for errors (NULL when AGENT_OK). */
  void (*on_done)(agent_t *a, int status, const json_t *response, const char *message, void *data);
  void *data;
};

struct agent_config {
  daw_t *daw; /* borrowed; started (daw_start done) */
  llm_t *llm; /* borrowed; NULL is fine for agent_exec_plan */
  enum agent_executor executor;
  int max_turns;           /* stage-2 model calls per round; 0 = 24 */
  long context_budget;     /* stage-1 prompt tokens (prompt.h); 0 = 6,000 */
  int profile;             /* prompt profile (prompt.h): 0 default, 1 small */
  int confirm;             /* call on_confirm and wait for agent_confirm() before executing */
  int stream;              /* stream stage 1 (on_plan_delta) */
  double temperature;      /* 0 = 0.2 (the default), < 0 = the provider's default, else as given */
  const char *model;       /* NULL: the llm config's model */
  const char *prompts_dir; /* NULL: the data directory's prompts (bridge/datadir.h) */
  const char *tools_path;  /* NULL: the vocab/tools.json built into the program (tools_load) */
  const char *data_dir;    /* NULL: XDG (history_default_data_dir) */
  const char *composition; /* NULL: the DAW's project name if usable as a directory name, else "default" */
  int no_save;             /* 1: do not write history (benchmarks) */
  int no_fix;              /* 1: verify but no corrective round */
  struct log_sink log;
  struct agent_callbacks cb;
};

/* Copies cfg (strings too). Loads the prompt templates and the tool catalog. */
int agent_new(uv_loop_t *loop, const struct agent_config *cfg, agent_t **out, char *err, size_t errlen);

/* The whole pipeline for one request. Returns AGENT_OK (on_done follows) or AGENT_EINVAL (busy, no llm). */
int agent_ask(agent_t *a, const char *request);
/* Stage 1 and validation only; nothing is sent to the DAW. on_done: AGENT_OK when the plan is valid,
 * AGENT_EPLAN when not; the response holds the plan and "plan_errors". */
int agent_plan(agent_t *a, const char *request);
/* A plan written by hand (plan format): validate, [confirm], run directly, verify, fix, save. No model.
 * label: the iteration's user_message (e.g. "exec song.plan"). */
int agent_exec_plan(agent_t *a, const char *plan_text, const char *label);

/* The conversation: turns (borrowed, copied) is the array of the earlier requests of this conversation, oldest
 * first, each {"request": "...", "plan": plan_to_json or null, "outcome": "ok"|"uncertain"|"incomplete"|... (the
 * response's "status"), "summary": "one line", "actions": [{"tool", "args" (long arrays cut), "outcome",
 * "track_id"?, "clip_id"?}] (optional)} — agent_turn_from_response() builds one. NULL or [] = a fresh
 * conversation. The stage-1 prompt of every later agent_ask/agent_plan carries them (prompt.h: the section
 * "CONVERSATION SO FAR", quoted data, newest last, within a quarter of the prompt budget: the oldest turns are cut
 * to one line, then dropped, and the prompt says how many were dropped). agent_exec_plan does not use them.
 * Returns AGENT_OK; AGENT_EINVAL while a job runs (the conversation is unchanged) or when turns is not an array
 * of objects with a string "request"; AGENT_ENOMEM. */
int agent_set_conversation(agent_t *a, const json_t *turns);
/* A turn built from a finished job: request (the musician's words) and the response object on_done gave (both
 * borrowed). Returns a new reference {"request", "plan" ({"steps"} with long arrays cut, or null), "outcome",
 * "summary" (the response's first line), "actions" [{"tool", "args", "outcome", "track_id"?, "clip_id"?}]}, or
 * NULL when request is NULL or out of memory. */
json_t *agent_turn_from_response(const char *request, const json_t *response);

/* Answer on_confirm: approve 1 → execute; 0 → the job ends with AGENT_EREJECTED. */
void agent_confirm(agent_t *a, int approve);
/* Cancel the running job (Ctrl-C): no new tool call is sent; the model call is aborted; a DAW call in flight is
 * awaited (it cannot be recalled); then daw_end_request; the part the DAW did is saved as a partial iteration
 * (source "ai_iteration", "partial": true, undoable like any other), and on_done(AGENT_ECANCELED) with the
 * message "interrupted: N of M steps ..." (never "matches the plan"). No-op when idle. */
void agent_cancel(agent_t *a);

enum agent_stage agent_stage(const agent_t *a);
int agent_busy(const agent_t *a);

/* Cancels a running job (its on_done is not called), waits for a DAW call in flight, closes the agent's handles,
 * frees it, then cb(data). */
void agent_close(agent_t *a, void (*cb)(void *data), void *data);

/* ---- pure helpers (exposed for tests and other front ends) ---- */

/* Compare the state after execution with the plan. plan: plan_to_json() of the validated plan; before/after:
 * session JSON; actions: the executed actions ([{"tool","args","ok","result"|"error","step"?}]), may be NULL.
 * Returns a new array of violations {"kind": "empty_track"|"missing_track"|"missing_clip"|"missing_notes"|
 * "missing_effect"|"missing_marker"|"value_differs"|"step_failed", "step": N (0 = not tied to a step),
 * "message": "...", "track_id"?: "t4", "fix"?: {"tool", "args"} (what the direct executor runs to repair it;
 * args may hold {"$ref"} references resolved at run time)}. step_tracks (may be NULL) receives a new object
 * {"N": "t4"} of the tracks matched to the plan's create_track steps. */
json_t *agent_verify(const json_t *plan, const json_t *before, const json_t *after, const json_t *actions,
                     json_t **step_tracks);

/* The read-back of a create whose confirmation was lost: the object a create_track / create_midi_clip /
 * add_effect call (args: ids resolved, catalog names canonical) made, looked for in after (session JSON after a
 * refresh): a track of that name (case-insensitive) absent from before and returned by no ok action; a clip at
 * args.start_time (±0.01) on args.track_id, absent from before and returned by no ok action; one more effect
 * named args.effect_name on the track than before plus the ok add_effect actions on it. Returns a new result
 * {"status": "confirmed", "track_id", "clip_id"?, "notes"?, "read_back": true}, or NULL when it is not there (or
 * the tool creates nothing). All arguments borrowed; actions may be NULL. */
json_t *agent_readback_find(const json_t *before, const json_t *after, const json_t *actions, const char *tool,
                            const json_t *args);

/* The arguments of one tool call as stage 2 sends them: the notation plans may use (note names "C4", chord
 * symbols, drum names, step patterns, in "notes"/"add_notes"; note names in "remove_notes") expanded to MIDI notes
 * (agent/notation.h), and "effect_name"/"instrument" made the catalog's own spelling (catalog: daw_catalog(),
 * may be NULL). Used by stage 2 and by `dawbridge call`, so a call accepts what a plan accepts. Returns a new
 * object (args is borrowed), or NULL with a message naming the bad item in err. */
json_t *agent_expand_call_args(const json_t *catalog, const json_t *args, char *err, size_t errlen);

/* A readable summary of a response object (malloc'd; caller frees). */
char *agent_summary(const json_t *response);

#endif
