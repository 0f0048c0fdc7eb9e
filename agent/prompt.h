/* prompt: the texts the agent sends to the model, from editable templates (agent/prompts/NAME.txt).
 *
 * Templates are plain text files; prompt.c only fills {{placeholders}}. A template may hold two messages,
 * started by a line "[system]" and a line "[user]" (text before the first marker belongs to the user message
 * when there is no marker at all); lines starting with "%%" are comments and dropped. A placeholder the code
 * does not fill is an error naming the template and the placeholder, so a typo in a template is found at once.
 *
 *   stage1.txt       planning: {{dialect}} {{request}} {{conversation}} {{state}} {{context}} {{catalog}} {{tools}}
 *                    {{plan_format}} ({{conversation}}: the earlier turns, prompt_conversation_text(), within a
 *                    quarter of the budget; {{state}} and {{context}} fitted into what is left by budget_session())
 *   plan_format.txt  the plan format (docs/plan-format.md), {{example_instrument}}; becomes {{plan_format}}
 *   stage2.txt       execution: {{dialect}} {{request}} {{plan}} {{state}} {{tools}}
 *   replan.txt       the one re-plan: {{errors}} {{tools_names}}
 *   fix.txt          the corrective round: {{violations}} {{tracks}}
 *
 * DAW-supplied text is data, never instructions: the session state is JSON (every name a JSON string) inside a
 * <session_state> block, with '<', '>' and '`' inside strings written as \u003c, \u003e, \u0060, so no name can
 * close the block, open a code fence or start a line of the prompt. The musical context quotes names the same way.
 * Pure (no I/O after prompt_load); no globals.
 */
#ifndef DAWBRIDGE_PROMPT_H
#define DAWBRIDGE_PROMPT_H

#include <stddef.h>
#include <jansson.h>

#include "budget.h"

enum prompt_err {
  PROMPT_OK = 0,
  PROMPT_ELOAD = -1,     /* template file missing or unreadable */
  PROMPT_ETEMPLATE = -2, /* a placeholder the code does not fill, or an unclosed {{ */
  PROMPT_EINVAL = -3,
  PROMPT_ENOMEM = -4,
};
const char *prompt_strerror(int code);

typedef struct prompt prompt_t;

/* Loads every template from dir (NULL = the data directory's prompts, bridge/datadir.h). Returns PROMPT_OK and
 * *out, or a negative code with err naming the file (or saying why there is no data directory). */
int prompt_load(const char *dir, prompt_t **out, char *err, size_t errlen);
void prompt_free(prompt_t *p);
/* The directory the templates came from (owned by p). */
const char *prompt_dir(const prompt_t *p);

/* A rendered prompt: two malloc'd strings (either may be NULL when the template has no such part). */
struct prompt_text {
  char *system;
  char *user;
};
void prompt_text_free(struct prompt_text *t); /* frees the strings, not t */

struct prompt_conversation_stats; /* below */

/* Inputs, all borrowed. */
struct prompt_stage1 {
  const char *dialect;    /* "reaper" | "ardour" */
  const char *request;    /* the musician's words */
  const json_t *state;    /* session JSON (docs/session-json.md); NULL = empty */
  const json_t *analysis; /* context_analyze(state); NULL = computed here */
  const json_t *catalog;  /* {"instruments": [...], "effects": [...]} or NULL */
  const json_t *tools;    /* tool descriptors available now (tools_subset of daw_capabilities) */
  /* Token budget of the whole stage-1 prompt (system + user, budget_tokens() estimate): 0 = the default
   * BUDGET_DEFAULT_TOKENS (6,000); < 0 = no budget, the whole state as JSON (the format before the budget).
   * The session and the musical context get what the instructions, tools and catalog leave (budget.h). */
  long context_budget;
  struct budget_stats *stats; /* optional out: what the session text holds (budget.h) */
  /* PROMPT_PROFILE_SMALL, for small local models: a 3,000-token default budget, only the tools that make and
   * shape music (create_track, create_midi_clip, edit_clip, add_effect, set_track, set_tempo, add_marker,
   * delete_track, delete_clip), tool lines without descriptions, catalog names without aliases (the instrument
   * roles kept). */
  int profile;
  /* The earlier turns of this conversation, oldest first (borrowed; NULL or [] = a fresh conversation): objects
   * {"request", "plan"?, "outcome", "summary"?, "actions"?} as agent_turn_from_response() builds them. Shown as
   * the section {{conversation}} (prompt_conversation_text) within a quarter of the budget. */
  const json_t *conversation;
  struct prompt_conversation_stats *conv_stats; /* optional out: how the turns were shown */
};
enum prompt_profile { PROMPT_PROFILE_DEFAULT = 0, PROMPT_PROFILE_SMALL = 1 };
#define PROMPT_SMALL_BUDGET 3000
/* "default" | "small" -> the profile, or -1. */
int prompt_profile_parse(const char *name);
struct prompt_stage2 {
  const char *dialect;
  const char *request;
  const json_t *plan; /* plan_to_json() of the validated plan */
  const json_t *state;
  const json_t *tools;
};

int prompt_stage1(const prompt_t *p, const struct prompt_stage1 *in, struct prompt_text *out, char *err, size_t errlen);
int prompt_stage2(const prompt_t *p, const struct prompt_stage2 *in, struct prompt_text *out, char *err, size_t errlen);
/* errors: plan_validate()'s array (borrowed); tools: descriptors available (borrowed). User part only. */
int prompt_replan(const prompt_t *p, const json_t *errors, const json_t *tools, struct prompt_text *out, char *err,
                  size_t errlen);
/* violations: array of {"message"} (borrowed); created_tracks: array of {"id","name","type"} (borrowed, may be
 * NULL). User part only. */
int prompt_fix(const prompt_t *p, const json_t *violations, const json_t *created_tracks, struct prompt_text *out,
               char *err, size_t errlen);

/* How the turns of a conversation were shown: in full (request, outcome, summary, the plan's steps and the
 * actions with long arrays cut), on one line (request, outcome, summary), or dropped (the oldest first). */
struct prompt_conversation_stats {
  size_t turns, full, one_line, dropped;
  size_t tokens; /* budget_tokens() of the section */
};

/* ---- building blocks (exposed for tests and other front ends); each returns a malloc'd string or NULL ---- */

/* The state as prompt data: JSON with host ids dropped, at most 64 notes per clip shown (plus "notes_total"),
 * '<' '>' '`' escaped inside strings. */
char *prompt_state_json(const json_t *state);
/* One line per tool: "- name {arg: type, arg?: type 0..127, ...} - description". */
char *prompt_tools_text(const json_t *tools);
/* "instruments: ReaSynth (synth, pad), ...\neffects: ..." with names quoted as JSON strings. */
char *prompt_catalog_text(const json_t *catalog);
/* The validated plan for stage 2: "Step N: tool - description\n  arguments: {...}" with references written as
 * "[track_id from Step N]", then the validator's warnings about steps (plan_json's "warnings" that begin with
 * "Step ", e.g. a create_track naming a track that already exists) under "Validator warnings". */
char *prompt_plan_text(const json_t *plan_json);
/* Tool arguments as a conversation turn shows them: a new copy with plan references as "[track_id from Step N]"
 * text and every array longer than 8 items replaced by the string "[N items]" (v borrowed). */
json_t *prompt_args_short(const json_t *v);
/* The "CONVERSATION SO FAR" section: the turns (borrowed array, oldest first) as quoted data, one JSON object per
 * line inside a <conversation> block (strings escaped like the session state), newest last, within max_tokens
 * (0 = no limit): the newest turn in full, more in full within 60% of max_tokens; older turns on one line; what does
 * not fit is dropped, the oldest first, and the section says how many earlier turns were dropped. "" when turns
 * is empty or NULL. stats may be NULL. */
char *prompt_conversation_text(const json_t *turns, size_t max_tokens, struct prompt_conversation_stats *stats);
/* Fills {{name}} from vars (object of strings, borrowed). Unknown placeholder → NULL with err naming it. */
char *prompt_render(const char *tmpl, const json_t *vars, const char *what, char *err, size_t errlen);

#endif
