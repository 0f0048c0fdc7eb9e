/* notes_packed: the companion's packed note list (osc-maps/companions/PROTOCOL.md, "Bulk notes").
 *
 * One string "n s d v c;n s d v c;..." : five decimal integers per note, separated by spaces, notes separated by
 * ';' (a trailing ';' is allowed; an empty string is no notes). s (from the clip start) and d are in ticks of
 * 1/PACKED_TICKS beat. Pure functions: no I/O, no globals.
 *
 * packed_decode is bounded (at most max_notes notes, each number at most 10 digits and <= PACKED_MAX_TICKS) and
 * refuses anything else with a message naming the byte offset and the note: a reply the bridge cannot read is an
 * error, never a guess. Ranges checked: n 0..127, d >= 1 tick, v 0..127 (a DAW's own note may have velocity 0),
 * c 0..15.
 */
#ifndef DAWBRIDGE_NOTES_PACKED_H
#define DAWBRIDGE_NOTES_PACKED_H

#include <jansson.h>
#include <stddef.h>

#include "strbuf.h"

#define PACKED_TICKS 1920
#define PACKED_MAX_TICKS 2000000000LL /* ~1 million beats: any real clip */

enum packed_err {
  PACKED_OK = 0,
  PACKED_EINVAL = -1,   /* malformed text or a value out of range (message says where) */
  PACKED_ETOOMANY = -2, /* more than max_notes notes */
  PACKED_ENOMEM = -3,
};
const char *packed_strerror(int code);

/* Decodes len bytes of text (no NUL needed). On success *out is a new reference: an array of
 * {"n", "s", "d", "v", "c"} with s and d in beats (ticks / PACKED_TICKS rounded to 6 decimals, as the companions
 * report JSON notes). On error *out is NULL and err says why. */
int packed_decode(const char *text, size_t len, size_t max_notes, json_t **out, char *err, size_t errlen);

/* Appends notes [from, from + count) of `notes` (borrowed: {n, s, d, v, c?} objects, s and d in beats, as the
 * vocabulary checked them) in packed form to out: s and d rounded to the nearest tick, d at least 1 tick, c 0 when
 * absent. PACKED_EINVAL (message names the note) for a note without integer n/v or number s/d, or a value the
 * packed form cannot carry (negative, beyond PACKED_MAX_TICKS); PACKED_ENOMEM when out ran out of memory. */
int packed_encode(const json_t *notes, size_t from, size_t count, strbuf_t *out, char *err, size_t errlen);

#endif
