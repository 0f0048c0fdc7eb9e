/* histop: `history undo` and `history restore` through the DAW, as one reusable operation (the CLI's history
 * command and the live session's LIVE_UNDO/LIVE_RESTORE both run it; the caller only presents the report).
 *
 *   undo          back to the state before the latest iteration (after an undo: before the one it restored to)
 *   restore N     back to iteration N
 *
 * Three-way (undo.h): only what the iterations changed is reverted, the musician's later edits stay; a conflict
 * stops with nothing sent unless force. The DAW's own undo is the fast path for undoing a whole (not partial) AI
 * request. The undo/restore itself is saved as an iteration (source "undo"|"restore"); the data directory is
 * checked before anything is sent.
 *
 * Report (borrowed for the callback): {"command": "undo"|"restore", "composition", "target": N, "undone"?: N,
 * "latest": L, "status": "ok"|"partial"|"stopped"|"conflict", "result": {undo.h result, "unsupported" including
 * the changes this DAW cannot show}, "saved": N|null, "save_error"?: "...", "message": "...", "target_source",
 * "target_timestamp", "dialect"}. Exit codes as app/cli.h / `dawbridge history`: 0 ok, 2 the DAW did not answer,
 * 3 partial (nothing failed), 4 nothing to undo / no such iteration, 5 history unreadable, 6 not saved,
 * 7 conflict or a failed call, 130 cancelled. */
#ifndef DAWBRIDGE_HISTOP_H
#define DAWBRIDGE_HISTOP_H

#include <jansson.h>

#include "daw.h"

enum histop_kind { HISTOP_UNDO = 0, HISTOP_RESTORE };

struct histop_req {
  daw_t *daw;              /* borrowed, started */
  const char *data_dir;    /* NULL = history_default_data_dir() */
  const char *composition; /* a valid composition name */
  enum histop_kind kind;
  int target; /* RESTORE: the iteration (>= 1); UNDO: ignored */
  int force;  /* revert conflicting later edits too */
};

/* exit_code as above; report NULL when it stopped before the DAW was touched (message says why). */
typedef void (*histop_cb)(int exit_code, const json_t *report, const char *message, void *data);

/* Starts; returns 0 (cb follows, from the loop) or an exit code > 0 with err (cb not called, nothing sent). */
int histop_start(const struct histop_req *r, histop_cb cb, void *data, char *err, size_t errlen);

#endif
