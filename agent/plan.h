/* plan: parse and validate the stage-1 plan text (docs/plan-format.md).
 *
 *   **ANALYSIS:** free text
 *   **PLAN:**
 *   Step 1: create_track - Create a kick drum track
 *     - name: Kick
 *   Step 2: create_midi_clip - Four on the floor
 *     - track_id: [from Step 1]
 *     - notes: [{n: 36, s: 0, d: 0.5, v: 110}]
 *   **MUSICAL REASONING:** free text
 *
 * Parsing tolerates model noise (markdown headings, bold/italic, bullets, code fences, prose between steps,
 * "Step 1 —"/"Step 1." variants, tool names in backticks, CRLF, values continued on following lines).
 * Values are JSON or relaxed JSON (relaxed_json.h); references ("[from Step 1]", "[track from Step 1]",
 * "[clip from Step 2]") become {"$ref": {"step": N, "kind": "track"|"clip"|"any"}}.
 * Pure, I/O-free; no globals.
 */
#ifndef DAWBRIDGE_PLAN_H
#define DAWBRIDGE_PLAN_H

#include <stddef.h>
#include <jansson.h>

enum {
  PLAN_OK = 0,
  PLAN_ERR_EMPTY = -1,   /* no text */
  PLAN_ERR_NOSTEPS = -2, /* no "Step N: tool" line found */
  PLAN_ERR_INVALID = -3, /* plan_validate found errors */
  PLAN_ERR_ARG = -4,     /* bad argument to a plan_ function */
  PLAN_ERR_NOMEM = -5,
};

const char *plan_strerror(int code);

typedef struct plan plan_t;

/* Parse plan text (len may be (size_t)-1 for NUL-terminated). Returns a new plan, or NULL with a message
 * in err (no text, or no step found). Missing ANALYSIS / MUSICAL REASONING sections only add warnings. */
plan_t *plan_parse(const char *text, size_t len, char *err, size_t errlen);
void plan_free(plan_t *plan);

/* Accessors; strings are owned by the plan (valid until plan_free), "" when absent. */
const char *plan_analysis(const plan_t *plan);
const char *plan_reasoning(const plan_t *plan);
size_t plan_step_count(const plan_t *plan);
int plan_step_number(const plan_t *plan, size_t i);       /* the N of "Step N", -1 if i out of range */
const char *plan_step_tool(const plan_t *plan, size_t i); /* NULL if i out of range */
const char *plan_step_description(const plan_t *plan, size_t i);
json_t *plan_step_args(const plan_t *plan, size_t i); /* borrowed object; after a successful
                                                          * plan_validate() the normalized args */
/* Parse warnings (borrowed array of strings), e.g. "no **ANALYSIS:** section". */
const json_t *plan_warnings(const plan_t *plan);

/* {"analysis", "steps": [{"step", "tool", "description", "args"}], "reasoning", "warnings"}: new reference. */
json_t *plan_to_json(const plan_t *plan);

/* If v (borrowed) is a reference {"$ref": {"step": N, "kind": K}}, return N and set *kind (borrowed static
 * string "track", "clip" or "any"); else return 0. */
int plan_ref_step(const json_t *v, const char **kind);

/* Validate a parsed plan before anything is sent.
 *   tools_catalog   borrowed array of {"name", "description", "parameters": JSON schema object
 *                   (properties/required; type, enum, minimum, maximum, exclusiveMinimum/Maximum),
 *                   "creates": "track"|"clip"|null}; required.
 *   state           borrowed session JSON (docs/session-json.md) or NULL (empty session).
 *   effects_catalog borrowed {"instruments": [{"name", "aliases": [...]}], "effects": [...],
 *                   "instrument_map"?: instmap_json() (osc-maps/instmap.h)} or NULL (then instrument/effect names
 *                   are not checked). With an instrument map a create_track instrument is a role: never refused,
 *                   an unknown one adds a plan warning ("Step N: unknown instrument role 'x': using P"), a plugin
 *                   name the DAW does not have is an error listing the available instruments.
 * Checks: known tools (with a suggestion), no unknown/missing required args, schema types/enums/ranges,
 * domain ranges (note 0..127, velocity 1..127, start >= 0, duration > 0, notes inside their clip, pan -1..1,
 * tempo 20..999, volume_db -150..12), notation expanded (notation.h) before checking, references to earlier
 * steps that create the right kind, existing track/clip ids or names resolved against state, every MIDI
 * track created gets a clip, instruments and effects exist in the catalog.
 * Normalizes the plan's args in place: notes expanded to numbers, numeric/boolean strings coerced, enum case
 * fixed, track names resolved to ids ("Bass" -> "t2") or to a reference to the creating step, catalog names
 * canonicalized ("reverb" -> "ReaVerbate").
 * *errors_out (may be NULL) receives a new array of {"step": N, "tool": "...", "message": "..."} (step 0 =
 * the plan as a whole), empty when valid. Returns PLAN_OK or PLAN_ERR_INVALID (or PLAN_ERR_ARG). */
int plan_validate(plan_t *plan, const json_t *tools_catalog, const json_t *state, const json_t *effects_catalog,
                  json_t **errors_out);

/* The text quoted back to the model for the one re-plan, from an errors array (borrowed) as produced by
 * plan_validate(). Returns a malloc'd NUL-terminated string (caller frees), NULL when out of memory. */
char *plan_format_errors(const json_t *errors);

#endif
