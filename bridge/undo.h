/* undo: put the DAW back into an earlier state (an iteration's snapshot) through ordinary tool calls.
 *
 * undo_to_state() refreshes the mirror, diffs it against the target (statediff_inverse_calls), and sends the
 * inverse tool calls one by one with daw_call, each confirmed by the DAW. Calls that refer to a track created
 * by an earlier call of the same list ({"$ref": {"call": K}}) get the id the DAW confirmed for call K.
 * What cannot be reversed is not an error that stops the rest:
 *   - differences no tool can express (statediff's unsupported list: removing a marker, time signature, ...);
 *   - tools this DAW cannot run now (daw_unavailable_reason: e.g. delete_track on REAPER without the
 *     companion, set_tempo on Ardour), and the calls that depend on them (the setup of a track that could not
 *     be re-created);
 * are listed under "unsupported", calls the DAW refused or did not confirm under "failed", and everything else
 * is done. At the end the mirror is refreshed again and compared with the target: whatever still differs is
 * in "remaining_diff" (readable, statediff_to_text) and "remaining" (the statediff changes).
 *
 * undo_last_request() first tries the DAW's own undo of the last AI request (the companion's undo step, the fast
 * path: one DAW operation, and in the DAW's own history), then runs undo_to_state() to the target anyway, which
 * finds nothing left to do when the fast path was right and fixes up whatever it was not (changes made outside an
 * AI request, a companion restarted since). The result then carries "fast_path": {"ok", "detail"}.
 *
 * Everything runs on the daw's libuv loop; no threads. One undo_to_state at a time per daw_t is assumed (it
 * sends calls one after the other; other calls interleaved by the caller would be interleaved in the DAW too).
 */
#ifndef DAWBRIDGE_UNDO_H
#define DAWBRIDGE_UNDO_H

#include <jansson.h>

#include "daw.h"

enum {
  UNDO_OK = 0,        /* the mirror equals the target afterwards (nothing failed, nothing left) */
  UNDO_EPARTIAL = -1, /* done what could be done; something was unsupported, failed, or still differs */
  UNDO_EDAW = -2,     /* the DAW did not answer (refresh failed, or it stopped answering midway) */
  UNDO_EINVAL = -3,   /* bad argument (target not a session snapshot / iteration object) */
  UNDO_ENOMEM = -4,
  UNDO_ECANCELED = -5, /* the daw was closed while the undo ran */
  UNDO_ECONFLICT = -6, /* three-way: something the iteration changed was changed again since; nothing sent */
};

/* Static English text for an UNDO_* code. */
const char *undo_strerror(int code);

/* Callback: status is an UNDO_* code. result (borrowed, valid during the call) is present for UNDO_OK and
 * UNDO_EPARTIAL, and for UNDO_EDAW / UNDO_ECANCELED once at least the first refresh succeeded:
 *   {"applied":     [{"tool", "args" (with $refs resolved), "result" (the DAW-confirmed result)}],
 *    "failed":      [{"tool", "args", "error", "daw_status" (daw_err)}],
 *    "unsupported": [{"what", "reason"}],
 *    "calls":       N (inverse calls computed),
 *    "complete":    true when the mirror equals the target afterwards,
 *    "remaining_diff": "" or the readable differences left (statediff_to_text of mirror → target),
 *    "remaining":   [statediff changes left],
 *    "daw_status":  the daw_err that stopped it (UNDO_EDAW / UNDO_ECANCELED only)}
 * message: a one-line summary (never NULL). */
typedef void (*undo_cb)(int status, const json_t *result, const char *message, void *data);

/* Starts restoring `target_state` (borrowed; a session snapshot per docs/session-json.md, or a whole iteration
 * object whose "state" is used; copied, so the caller may free it after the call returns).
 * Returns UNDO_OK when started (cb is then called exactly once, later, from the loop), or UNDO_EINVAL /
 * UNDO_ENOMEM / UNDO_ECANCELED (the daw is closing) — then cb is not called. */
int undo_to_state(daw_t *d, const json_t *target_state, undo_cb cb, void *data);

/* undo_three_way flags */
#define UNDO_FORCE 1u     /* on a conflict, revert the iteration's change anyway (the later edit of it is lost) */
#define UNDO_FAST_PATH 2u /* the DAW's own undo of the last request, when nothing changed since (see below) */

/* Reverts what an iteration (or a run of them) changed, and nothing else: base = the state before it (the target
 * iteration: a snapshot or an iteration object, borrowed, copied), result = the state right after it (the latest
 * iteration's snapshot). After a refresh, the goal is statediff_merge3(base, result, current): the musician's
 * edits made since (another track's volume, a renamed track, a moved clip, a track they added) stay.
 *   - A thing both the iteration and a later edit changed is a conflict: without UNDO_FORCE nothing is sent and
 *     cb gets UNDO_ECONFLICT with a result whose "conflicts" lists them ({"where","what","before","iteration",
 *     "now","message"}); with UNDO_FORCE they are reverted too and listed the same way.
 *   - With UNDO_FAST_PATH and a companion, when the session is exactly as the iteration left it, the DAW's own
 *     undo of the last request runs first (undo_last_request); it is never used when anything changed since,
 *     since it could take a later edit with it.
 * The result (as for undo_to_state) also carries "conflicts", "forced" (bool) and "kept" (the statediff changes
 * from base to the merged goal: the later edits that stay); "complete" compares with the merged goal.
 * Returns UNDO_OK when started, else UNDO_EINVAL / UNDO_ENOMEM / UNDO_ECANCELED (cb not called). */
int undo_three_way(daw_t *d, const json_t *base, const json_t *result, unsigned flags, undo_cb cb, void *data);

/* The DAW's own undo of the last request when a companion answers, then undo_to_state(target) either way.
 * Same contract as undo_to_state. */
int undo_last_request(daw_t *d, const json_t *target_state, undo_cb cb, void *data);

#endif
