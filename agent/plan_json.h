/* plan_json: the stage-1 plan as one JSON object, for a model under a JSON mode (llm.h, enum llm_json_mode).
 *
 *   {"analysis": "...",
 *    "steps": [{"tool": "create_track", "description": "...", "args": {"name": "Kick", "type": "midi"}},
 *              {"tool": "create_midi_clip", "description": "...", "args": {"track_id": "[track from Step 1]", ...}}],
 *    "reasoning": "..."}
 *
 * plan_json_schema() builds the JSON Schema of that object from the tools available (one anyOf branch per tool,
 * its arguments the tool's own parameter schema), with a root "description" that tells the model what to write (the
 * llm layer appends it to the system prompt). plan_json_to_text() turns such an answer back into the plan text of
 * docs/plan-format.md, so plan_parse()/plan_validate() check it exactly like a written plan. Pure; no globals.
 */
#ifndef DAWBRIDGE_PLAN_JSON_H
#define DAWBRIDGE_PLAN_JSON_H

#include <jansson.h>
#include <stddef.h>

/* tools: borrowed array of {"name", "parameters"} (tools_subset of the catalog). New reference, NULL on a bad
 * argument (not an array, or no tool with a name) or out of memory. */
json_t *plan_json_schema(const json_t *tools);

/* text: the model's answer (len (size_t)-1 = NUL-terminated). When it is one JSON object with a "steps" array
 * (white space, a ```json fence and prose before the first '{' / after the last '}' are tolerated), returns the plan
 * text (malloc'd): "**ANALYSIS:** ...", "Step N: tool - description" with one "  - key: value" line per argument
 * (null arguments, which a strict schema uses for "not given", are left out; references stay bare), "**MUSICAL
 * REASONING:** ...". Otherwise NULL (not a JSON plan: the caller parses the text as it is). Line breaks inside
 * texts become spaces, so no text can start a step line of its own. */
char *plan_json_to_text(const char *text, size_t len);

#endif
