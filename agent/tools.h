/* tools: the stage-2 tool vocabulary (agent/tools.json), its JSON schemas, and argument checks.
 *
 * The catalog is data: agent/tools.json lists each tool with a JSON-schema subset (type, properties, required,
 * enum, minimum/maximum/exclusiveMinimum, minLength/maxLength, items, maxItems, minProperties,
 * additionalProperties). tools_check() validates arguments against it and against the session (track ids exist)
 * before anything is sent; errors name the argument and the rule, in words a model can act on.
 */
#ifndef DAWBRIDGE_TOOLS_H
#define DAWBRIDGE_TOOLS_H

#include <jansson.h>
#include <stddef.h>

#include "session.h"

typedef struct tools tools_t;

enum tools_err {
  TOOLS_OK = 0,
  TOOLS_EUNKNOWN = -1, /* no such tool */
  TOOLS_EARGS = -2,    /* arguments fail the schema */
  TOOLS_ENOTRACK = -3, /* a track/clip reference does not resolve */
  TOOLS_ELOAD = -4,    /* catalog file unreadable/invalid */
  TOOLS_EUNSUPPORTED = -5, /* the connected DAW cannot do this tool now */
};
const char *tools_strerror(int code);

/* Loads agent/tools.json (path NULL = found via DAWBRIDGE_SOURCE_DIR). */
int tools_load(const char *path, tools_t **out, char *err, size_t errlen);
void tools_free(tools_t *t);

/* The whole catalog array (borrowed): [{name, description, creates, parameters}]. */
const json_t *tools_catalog(const tools_t *t);
/* One tool's descriptor (borrowed) or NULL. */
const json_t *tools_get(const tools_t *t, const char *name);
/* The catalog restricted to `names` (array of strings, borrowed); new reference. */
json_t *tools_subset(const tools_t *t, const json_t *names);

/* Checks args (borrowed) for tool. session may be NULL (no reference checks). Returns 0 or a negative
 * tools_err with a one-line message naming the problem. */
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
