/* tools: the agent's view of the tool vocabulary — a thin layer over vocab/vocab.h (the table, vocab/tools.json
 * and the pure argument validator) that adds the one check needing a session: track ids exist.
 *
 * New code should use vocab.h directly (vocab_lookup + a switch on enum vocab_tool, vocab_check); these
 * name-based calls remain for the agent's existing callers.
 */
#ifndef DAWBRIDGE_TOOLS_H
#define DAWBRIDGE_TOOLS_H

#include <jansson.h>
#include <stddef.h>

#include "session.h"
#include "vocab.h"

typedef struct tools tools_t;

enum tools_err {
  TOOLS_OK = 0,
  TOOLS_EUNKNOWN = -1,     /* no such tool */
  TOOLS_EARGS = -2,        /* arguments fail the schema */
  TOOLS_ENOTRACK = -3,     /* a track/clip reference does not resolve */
  TOOLS_ELOAD = -4,        /* catalog file unreadable/invalid */
  TOOLS_EUNSUPPORTED = -5, /* the connected DAW cannot do this tool now */
};
const char *tools_strerror(int code);

/* Loads the vocabulary (vocab_load: path NULL = the copy of vocab/tools.json built into the program). */
int tools_load(const char *path, tools_t **out, char *err, size_t errlen);
void tools_free(tools_t *t);
/* The vocabulary underneath (borrowed). */
const vocab_t *tools_vocab(const tools_t *t);

/* The whole catalog array (borrowed): [{name, description, creates, kind, parameters}], vocab_catalog. */
const json_t *tools_catalog(const tools_t *t);
/* One tool's descriptor (borrowed) or NULL. */
const json_t *tools_get(const tools_t *t, const char *name);
/* The catalog restricted to `names` (array of strings, borrowed; NULL = none), in table order; new reference. */
json_t *tools_subset(const tools_t *t, const json_t *names);

/* Checks args (borrowed) for tool. session may be NULL (no reference checks). Returns 0 or a negative
 * tools_err with a one-line message: "tool: " and every problem of the arguments (vocab_check_all), joined by
 * "; ", so a model can correct them all in one retry. */
int tools_check(const tools_t *t, const char *tool, const json_t *args, const session_t *session, char *err,
                size_t errlen);

/* The tool's kind from the catalog: "read" (changes nothing), "create", "change" or "delete"; NULL for an
 * unknown tool or a catalog entry without a kind (borrowed static/catalog string). */
const char *tools_kind(const tools_t *t, const char *name);
/* 1 when the tool only reads (kind "read"): stage 2 may call it outside the plan, and it never consumes a step. */
int tools_is_read(const tools_t *t, const char *name);

/* The closest known tool name to `name` (for "did you mean"), or NULL. */
const char *tools_suggest(const tools_t *t, const char *name);

#endif
