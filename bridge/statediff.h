/* statediff.h: differences between two session snapshots (docs/session-json.md) and the tool calls that
 * turn one back into the other (for undo / restore).
 *
 * Matching: tracks are paired by "id", then (for the rest) by "host_id", then by "name"; clips of a paired
 * track by "id", then "host_id", then "start" (an identical clip at the same start first). Notes are
 * compared as a multiset of (n, s, d, v) with a 1e-6 beat tolerance.
 * Effects are compared by chain order with their names (insertions/removals in the middle are found).
 * Pure functions, no I/O.
 */
#ifndef DAWBRIDGE_STATEDIFF_H
#define DAWBRIDGE_STATEDIFF_H

#include <jansson.h>

/* Differences from → to. Both borrowed (a snapshot, or an iteration object: its "state" is used).
 * Returns a new reference:
 *   {"format":"dawbridge.diff/1", "changes":[change...]}
 * Every change has "op" ("add"|"remove"|"change") and "kind", plus:
 *   kind "project":  key ("tempo"|"time_signature"|"loop"|"project"), from, to
 *   kind "marker":   name, position, [id]; for "change" also key, from, to
 *   kind "track":    track (id), name, type; for "change" key ("name"|"type"|"volume_db"|"pan"|"mute"|
 *                    "solo"|"rec_arm"|"instrument"), from, to
 *   kind "clip":     track, clip, start, length, notes (count); for "change" key ("start"|"length"|"name"),
 *                    from, to
 *   kind "notes":    (op "change") track, clip, start, added [notes], removed [notes]
 *   kind "fx":       track, index, name; for "change" key "enabled", from, to
 *   kind "fx_param": (op "change") track, fx_index, fx, param, param_name, from, to
 * Track ids in changes are those of `to` (of `from` for removals). Adding/removing a track also lists its
 * clips and effects. An empty "changes" array means no musical difference. NULL only on allocation failure. */
json_t *statediff_compute(const json_t *from, const json_t *to);

/* Readable text of a diff from statediff_compute (borrowed), one change per line, e.g.
 *   + track t3 "Bass" (midi)
 *   ~ t1 volume_db -6.0 → -3.0
 *   + clip c2 on t1 at beat 4 (8 notes)
 *   ~ clip c1 on t1 notes: +2 -1
 *       + note 60 (C4) at beat 1.5 len 0.5 vel 100
 *   - fx "ReaVerbate" on t2
 * "no changes\n" for an empty diff. Returns a malloc'ed string the caller frees (NULL on allocation failure). */
char *statediff_to_text(const json_t *diff);

/* Tool calls that would turn `current` (borrowed) back into `target` (borrowed): a new reference to an
 * array of {"tool": name, "args": {...}} in the order to send them:
 *   set_tempo, delete_clip (clips of kept tracks), delete_track (tracks added since), set_track (mix/name),
 *   remove_effect (highest index first), add_effect, set_effect_param / set_effect_enabled, edit_clip,
 *   create_midi_clip on kept tracks, then for each re-created track: create_track, set_track, add_effect (not
 *   the instrument when the chain lists it as fx[0]: create_track inserts it), set_effect_enabled,
 *   set_effect_param, create_midi_clip; finally set_loop and add_marker.
 * Tool vocabulary (args): create_track {name, type, instrument?}, create_midi_clip {track_id, start_time,
 * duration, notes:[{n,s,d,v}]}, edit_clip {clip_id, add_notes?, remove_notes?}, add_effect {track_id,
 * effect_name}, remove_effect {track_id, effect_index}, set_track {track_id, volume_db?, pan?, mute?, solo?,
 * rec_arm?, name?}, set_effect_param {track_id, effect_index, param_index, value}, set_effect_enabled {track_id,
 * effect_index, enabled}, delete_track {track_id},
 * delete_clip {clip_id}, set_tempo {bpm}, set_loop {start, end, enabled}, add_marker {position, name}.
 * Times are beats (start_time: from the song start; note "s": from the clip start, as in the snapshot;
 * notes in edit_clip.remove_notes are the exact {n,s,d,v} of notes present in the clip); effect indexes are 1-based positions in the fx chain (instrument excluded) as they are
 * at the moment the call runs (removals run first, highest index first; additions append).
 * A track_id that refers to a track created by an earlier call K of the list is {"$ref": {"call": K}}.
 * unsupported_out (may be NULL) receives a new reference to an array of {"what", "reason"} for differences
 * no tool can express (removing/moving a marker, time signature, changing type or instrument, audio clips,
 * ...). NULL only on allocation failure. */
json_t *statediff_inverse_calls(const json_t *current, const json_t *target, json_t **unsupported_out);

/* Three-way merge for undo/restore that keeps later edits. base = the state before the iteration(s) being undone
 * (the target), result = the state right after them (the latest iteration's snapshot), current = the session
 * now (all borrowed; snapshots or iteration objects). Returns a new reference to the state to go to: the
 * current session with exactly the iteration's changes reverted, i.e.
 *   - a value the iteration changed (tempo, loop, time signature, a track's name/type/volume/pan/mute/solo/arm/
 *     instrument, an effect's bypass or parameter, a clip's start/length/name) goes back to `base` when it is
 *     still as the iteration left it; a value changed since keeps its current value;
 *   - tracks, clips, effects, markers the iteration added are removed (if unchanged since); those it removed
 *     come back (unless they exist now); things added or removed since stay so;
 *   - notes are merged as multisets, per distinct note with counts b, r, c: the iteration's additions go (never
 *     below b), its removals come back (never above b: a note put back by hand is not doubled).
 * Pairing as in statediff_compute (tracks: id, host_id, name; clips: id, host_id, start; effects: name and
 * occurrence; markers: name and position, then position, then name).
 * A conflict is a thing both the iteration and a later edit changed (a value changed since to something else, a
 * thing the iteration added and that was edited since, a thing the iteration changed and that was removed
 * since). conflicts_out (may be NULL) receives a new reference to an array of {"where" (e.g. "track \"Bass\""),
 * "what" (e.g. "volume_db"), "before", "iteration", "now" (values or null), "message" (one sentence)}. For a
 * conflict the merged state keeps the current value, or with `force` nonzero takes the base's (the iteration's
 * change is reverted and the later edit of that thing is lost). NULL only on allocation failure. */
json_t *statediff_merge3(const json_t *base, const json_t *result, const json_t *current, int force,
                         json_t **conflicts_out);

#endif
