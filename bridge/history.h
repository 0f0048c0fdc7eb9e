/* history.h: crash-safe store of iterations (snapshots of the session mirror).
 *
 * Layout:   <data_dir>/compositions/<composition>/history/<NNNN>.json   (one file per iteration)
 *           <data_dir>/compositions/<composition>/history/next          (next number, decimal + '\n')
 * Temporary files are hidden (".<name>.<pid>.tmp") and never taken for iterations.
 *
 * Iteration file (format "dawbridge.iteration/1"), keys in this order:
 *   {"format":"dawbridge.iteration/1", "number":N, "source":"ai_iteration|user|baseline|undo|restore",
 *    "user_message":str|null, "actions_count":int, "timestamp":"2026-11-25T09:07:07.123Z",
 *    "plan":any|null, "actions":[...], ...extra meta keys..., "state":<session snapshot, docs/session-json.md>}
 *
 * Durability: every iteration is written to an unnamed file (O_TMPFILE; where the file system has none, a
 * hidden ".<name>.<pid>.tmp"), fsync'ed, then linked to its final name WITHOUT replacing anything, and the
 * directory is fsync'ed. A crash (kill -9, power loss on a journaling fs) leaves either the old or the new
 * state, never a partial file, and (with O_TMPFILE) no temporary file at all.
 *
 * Numbers are unique and never reused, also with concurrent writers (processes or handles): a number is
 * reserved under an exclusive flock(2) on the history directory (held only while the `next` counter is read,
 * advanced in place and fsync'ed; released by the kernel even when its holder is killed), as
 * max(counter, highest numbered file + 1). The final name is created with link semantics (EEXIST instead of
 * overwrite), so even a writer that bypasses the lock can cost a retry, never a save. A failed write or a
 * file later found corrupt keeps its number (gaps are normal).
 *
 * Not thread-safe (one handle per thread); any number of processes may save to one composition at once.
 */
#ifndef DAWBRIDGE_HISTORY_H
#define DAWBRIDGE_HISTORY_H

#include <stddef.h>
#include <jansson.h>

#define HISTORY_FORMAT "dawbridge.iteration/1"

enum {
  HISTORY_OK = 0,
  HISTORY_EINVAL = -1,   /* bad argument (e.g. unsafe composition id, snapshot not an object, bad source) */
  HISTORY_EIO = -2,      /* file system error (permission, read-only fs, I/O error, ...) */
  HISTORY_ENOSPC = -3,   /* disk full / quota / file size limit */
  HISTORY_ENOENT = -4,   /* no such iteration (or no readable one) */
  HISTORY_ECORRUPT = -5, /* the file exists but is not a complete iteration of this format */
  HISTORY_ENOMEM = -6,
};

/* Static English text for a HISTORY_E* code. */
const char *history_strerror(int code);

typedef struct history history_t;

/* Default data directory following XDG: "$XDG_DATA_HOME/dawbridge" when XDG_DATA_HOME is set to an
 * absolute path, else "$HOME/.local/share/dawbridge" (HOME from the password database if unset).
 * Returns a malloc'ed string the caller frees, or NULL if no home directory can be found. */
char *history_default_data_dir(void);

/* Nonzero when `composition` is acceptable as a directory name: 1..128 bytes, no '/', '\\', control
 * characters or any of  : * ? " < > | ; must not start with '.' or '-' and not end with '.' or ' '.
 * UTF-8 (bytes >= 0x80) is allowed. */
int history_composition_valid(const char *composition);

/* Opens (creating as needed, mode 0700) <data_dir>/compositions/<composition>/history/.
 * data_dir NULL → history_default_data_dir(). Removes temporary files left by dead processes (the pid in
 * the name no longer exists, checked with kill(pid, 0), so writers are assumed to share a pid namespace).
 * Returns NULL with a message in err on failure (unsafe id, mkdir error naming the path and strerror). */
history_t *history_open(const char *data_dir, const char *composition, char *err, size_t errlen);
void history_free(history_t *h);

/* Absolute-or-as-given path of the history directory (owned by h). */
const char *history_dir(const history_t *h);

/* Saves a new iteration.
 *   snapshot  borrowed; a JSON object (the session mirror) stored under "state".
 *   meta      borrowed, may be NULL. Recognised keys: "source" (default "ai_iteration"; must be one of
 *             ai_iteration, user, baseline, undo, restore), "user_message" (string|null), "plan" (any),
 *             "actions" (array, with their results; default []), "actions_count" (int; default
 *             json_array_size(actions)). Other keys (e.g. "results", "restored_from") are copied as is.
 *   number_out  may be NULL; receives the number given to the iteration.
 * Returns HISTORY_OK or a negative code with err naming the path and strerror (e.g. full disk →
 * HISTORY_ENOSPC). On failure no existing file is modified (the `next` counter may have advanced, which
 * only skips a number). Only if the very last step (fsync of the directory) fails can the new, complete
 * file already be in place while an error is returned. */
int history_save(history_t *h, const json_t *snapshot, const json_t *meta, int *number_out, char *err, size_t errlen);

/* Checks, before anything is changed in the DAW, that an iteration can be written here now: the `next`
 * counter (if present) can be opened for writing, and a test file of max(64 KiB, 1.5 x the newest
 * iteration's size) can be created in the history directory, written, fsync'ed (and is then removed; it is
 * unnamed where the file system has O_TMPFILE, else ".probe.<pid>.tmp", removed as stale if the checker
 * dies). Returns HISTORY_OK, or HISTORY_EIO (read-only, permission: err names the directory and the
 * system's reason, e.g. "Read-only file system") / HISTORY_ENOSPC (full disk, quota, RLIMIT_FSIZE — with
 * SIGXFSZ ignored by the program, else the kernel kills it). Nothing in the history is modified. A check that
 * passes is no promise (the disk can fill meanwhile): history_save still reports its own failure. */
int history_check_writable(history_t *h, char *err, size_t errlen);

/* Lists the readable iterations in increasing number order.
 *   list_out      receives a new reference: array of {"number","timestamp","source","user_message",
 *                 "actions_count","file"}.
 *   warnings_out  may be NULL; receives a new reference: array of {"file","message"} for every corrupt,
 *                 truncated, foreign or unknown file in the directory (those are skipped, never fatal).
 * Returns HISTORY_OK, or a negative code only when the directory itself cannot be read. */
int history_list(history_t *h, json_t **list_out, json_t **warnings_out, char *err, size_t errlen);

/* Loads iteration `number`; *iteration_out receives a new reference to the whole iteration object.
 * Returns HISTORY_OK, HISTORY_ENOENT (no such file), HISTORY_ECORRUPT (not a complete iteration). */
int history_load(history_t *h, int number, json_t **iteration_out, char *err, size_t errlen);

/* The highest-numbered readable iteration. Returns its number (> 0) and, if iteration_out is not NULL,
 * a new reference to it; HISTORY_ENOENT when there is none; another negative code on error. */
int history_latest(history_t *h, json_t **iteration_out, char *err, size_t errlen);

/* The highest-numbered readable iteration whose number is < `number` (corrupt ones are skipped).
 * Returns its number (> 0) and optionally a new reference; HISTORY_ENOENT when there is none. */
int history_previous(history_t *h, int number, json_t **iteration_out, char *err, size_t errlen);

#endif
