/* vocab: the tool vocabulary, one typed table at the bottom of the tree (depends on jansson only).
 *
 * Every tool a model, a face or the CLI can call is one row of a const table, indexed by enum vocab_tool: its
 * name, its kind (read / create / change / delete), whether calling it twice with the same arguments has no
 * further effect (idempotent), how the DAW confirms it, and what it creates. The argument schemas and the
 * descriptions are data: vocab/tools.json (compiled into the library, so an installed binary needs no file;
 * vocab_load(path) reads another copy). Loading checks that the table and tools.json agree: every row has exactly
 * one schema with the same kind and "creates", and every schema has a row. Nothing outside this module compares
 * a tool name as a string: look the name up once (vocab_lookup) and switch on the enum or ask the table.
 *
 * Which DAW can do which tool is not here: that is the dialect map's business (osc-maps/<dialect>.json
 * "capabilities"), so the route (native OSC or the companion) is decided by bridge/daw.c from data.
 *
 * Errors: negative enum vocab_err codes, vocab_strerror(), and a caller message buffer (err, errlen) that names the
 * tool, the argument and the rule in words a model can act on ("set_track: pan is 3; it must be at most 1").
 */
#ifndef DAWBRIDGE_VOCAB_H
#define DAWBRIDGE_VOCAB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One row per tool; the order is the order of vocab/tools.json (and of every tool list built from it). */
enum vocab_tool {
  VOCAB_CREATE_TRACK,
  VOCAB_CREATE_MIDI_CLIP,
  VOCAB_EDIT_CLIP,
  VOCAB_ADD_EFFECT,
  VOCAB_REMOVE_EFFECT,
  VOCAB_SET_TRACK,
  VOCAB_SET_EFFECT_PARAM,
  VOCAB_SET_EFFECT_ENABLED,
  VOCAB_DELETE_TRACK,
  VOCAB_DELETE_CLIP,
  VOCAB_SET_TEMPO,
  VOCAB_TRANSPORT,
  VOCAB_SET_LOOP,
  VOCAB_ADD_MARKER,
  VOCAB_SAVE_PROJECT,
  VOCAB_GET_STATE,
  VOCAB_GET_NOTES,
  VOCAB__COUNT
};

enum vocab_kind {
  VOCAB_READ,   /* changes nothing: stage 2 may call it at any time, it never consumes a plan step */
  VOCAB_CREATE, /* makes a new object (track, clip, effect, marker): never resent blindly, read back first */
  VOCAB_CHANGE, /* sets values of existing objects or the project */
  VOCAB_DELETE, /* removes an object */
};

/* How a call of the tool is confirmed (DESIGN "Outcomes"). A dialect map may still declare one of its messages
 * unconfirmable ("unconfirmable": reason); such a call ends "uncertain", never as success. */
enum vocab_confirm {
  VOCAB_CONFIRM_NONE,     /* a read: answered from the mirror (get_state) or read from the DAW (get_notes) */
  VOCAB_CONFIRM_FEEDBACK, /* native OSC feedback shows the requested value (the map's "confirm" predicates) */
  VOCAB_CONFIRM_READBACK, /* the object is read back: the companion's read-back (read_clip, state), or for a
                             native create (REAPER's insert-track action) a refresh that finds the new object */
};

enum vocab_err {
  VOCAB_OK = 0,
  VOCAB_EUNKNOWN = -1, /* no such tool */
  VOCAB_EARGS = -2,    /* arguments fail the schema */
  VOCAB_ELOAD = -4,    /* tools.json unreadable, invalid, or disagreeing with the table */
  VOCAB_ENOMEM = -5,
};
const char *vocab_strerror(int code);

/* ---- the table: no loading needed ---- */

/* The tool named `name` (exact, case-sensitive), or -1 (also for NULL). */
int vocab_lookup(const char *name);
/* The row's properties. t must be a valid enum value (0 <= t < VOCAB__COUNT); otherwise name is NULL, kind
 * VOCAB_CHANGE, idempotent false, confirm VOCAB_CONFIRM_FEEDBACK and creates NULL (the conservative answers). */
const char *vocab_name(enum vocab_tool t);
enum vocab_kind vocab_kind(enum vocab_tool t);
const char *vocab_kind_name(enum vocab_kind k); /* "read" | "create" | "change" | "delete" */
bool vocab_idempotent(enum vocab_tool t);
enum vocab_confirm vocab_confirm(enum vocab_tool t);
/* What a successful call creates: "track" | "clip" | "effect" | "marker", or NULL (static string). */
const char *vocab_creates(enum vocab_tool t);
/* Shorthand: kind == VOCAB_READ (name unknown: false). */
bool vocab_is_read(enum vocab_tool t);
bool vocab_name_is_read(const char *name);
/* The closest tool name to `name` (for "did you mean"), or NULL (static string): a name models write for a tool
 * ("add_track", "set_volume", "play": a table in vocab.c), else the tool sharing the most '_'-separated words with
 * it and, among those, the nearest by edit distance; none when no word is shared and more than half of it differs. */
const char *vocab_suggest(const char *name);

/* ---- the schemas (vocab/tools.json) ---- */

typedef struct vocab vocab_t;

/* Loads and checks the schemas. path NULL = the copy compiled into the library (vocab/tools.json at build time).
 * Returns 0, or VOCAB_ELOAD with a message naming the file and what is wrong. Free with vocab_free. */
int vocab_load(const char *path, vocab_t **out, char *err, size_t errlen);
void vocab_free(vocab_t *v);

/* The catalog entry of tool t: {name, description, creates, kind, parameters} (borrowed, lives as long as v), or
 * NULL for an invalid t. */
const json_t *vocab_entry(const vocab_t *v, enum vocab_tool t);
/* The argument schema of tool t: a JSON-schema subset (borrowed), or NULL for an invalid t. */
const json_t *vocab_schema(const vocab_t *v, enum vocab_tool t);
/* The description text (borrowed) or NULL. */
const char *vocab_description(const vocab_t *v, enum vocab_tool t);
/* Every catalog entry in table order (borrowed array, as tools.json lists them). */
const json_t *vocab_catalog(const vocab_t *v);

/* The tool list for a model or an MCP client, in table order, restricted to `names` (borrowed array of strings;
 * NULL = every tool; unknown names are ignored). New reference.
 *   VOCAB_JSON_CATALOG: the catalog entries themselves ({name, description, creates, kind, parameters}) — what
 *                       the LLM providers turn into their function lists.
 *   VOCAB_JSON_MCP:     MCP tools/list entries {name, description, inputSchema, annotations}, annotations derived
 *                       from the table: readOnlyHint = kind read; destructiveHint = kind change or delete (a
 *                       change overwrites a value, a create only adds); idempotentHint = vocab_idempotent;
 *                       openWorldHint = false (the tool acts on one DAW session only). */
enum vocab_json_shape { VOCAB_JSON_CATALOG, VOCAB_JSON_MCP };
json_t *vocab_tools_json(const vocab_t *v, const json_t *names, enum vocab_json_shape shape);

/* Checks args (borrowed) against tool t's schema: types, required and unknown arguments, enums, ranges,
 * string lengths, array sizes, minProperties. Pure: no session, no DAW (whether a track id resolves is the
 * caller's check). Returns 0 or VOCAB_EARGS with "tool: what is wrong"; VOCAB_EUNKNOWN for an invalid t. */
int vocab_check(const vocab_t *v, enum vocab_tool t, const json_t *args, char *err, size_t errlen);
/* The whole validator, which vocab_check reports the first problem of: EVERY problem of a call, each once, in
 * this order: each missing required argument, each given argument (unknown to the tool, or the first problem
 * inside its value: "pan is 3; it must be at most 1", "notes[4].d must be a number, not a string: \"x\""), then a
 * call with nothing to change. For each problem cb(data, arg, message): arg is the top-level argument it concerns
 * (NULL: the call as a whole), message names the argument, the rule and the value but not the tool; both are
 * borrowed for the call of cb only. cb may be NULL (count only). Returns the number of problems (0: valid), or
 * VOCAB_EUNKNOWN for an invalid t (cb not called). Pure, like vocab_check. */
typedef void (*vocab_problem_fn)(void *data, const char *arg, const char *message);
int vocab_check_all(const vocab_t *v, enum vocab_tool t, const json_t *args, vocab_problem_fn cb, void *data);
/* The same by name: an unknown name is VOCAB_EUNKNOWN with "unknown tool 'x' (did you mean y?)". */
int vocab_check_name(const vocab_t *v, const char *tool, const json_t *args, char *err, size_t errlen);

#endif
