/* context: musical analysis of a session (docs/session-json.md) for the planner and the response.
 *
 * Pure, I/O-free; no globals. Times are beats. Drum tracks (a name or instrument like "Drums", "Kick",
 * "Hats", "808", "Perc", "Kit", with most notes in the GM percussion range 35..81) and muted tracks are left
 * out of harmony, key and clash analysis.
 */
#ifndef DAWBRIDGE_CONTEXT_H
#define DAWBRIDGE_CONTEXT_H

#include <stddef.h>
#include <jansson.h>

enum {
  CONTEXT_OK = 0,
  CONTEXT_ERR_ARG = -1,
  CONTEXT_ERR_NOMEM = -2,
};

const char *context_strerror(int code);

/* Limits of the per-beat and clash lists in the analysis. */
#define CONTEXT_MAX_BEATS 1024
#define CONTEXT_MAX_CLASHES 32
/* Clips starting or lasting beyond this many beats, and notes starting or lasting beyond it, are ignored. */
#define CONTEXT_MAX_TIME 1e7
/* Pairs of overlapping notes compared in the clash scan; past it the scan stops (big dense sessions) and the
 * analysis says "clash_scan_partial": true. */
#define CONTEXT_MAX_CLASH_CHECKS 400000

/* Analyze a session (borrowed). Returns a new object:
 * {
 *   "tempo": 120.0, "time_signature": [4, 4], "beats_per_bar": 4.0, "length_beats": 16.0, "bars": 4,
 *   "key": {"name": "Bb major", "tonic": "Bb", "mode": "major"|"minor"|"dorian"|"mixolydian"|"blues",
 *           "correlation": 0.88, "confidence": 0.21, "runner_up": "G minor",
 *           "evidence": "100% of the notes in the scale; ends on Bb; cadence to Bb; Bb in the bass 50% of beats"}
 *          | null (fewer than 3 pitch classes),
 *   "beats": [{"beat": 0.0, "bar": 1, "beat_in_bar": 1, "pitch_classes": ["C","Eb","G","Bb"],
 *              "bass": "C", "chord": "Cm7" | null, "inversion": 0}],          (at most CONTEXT_MAX_BEATS)
 *   "chords": [{"start": 0.0, "end": 4.0, "chord": "Cm7"}],                   (consecutive beats merged)
 *   "tracks": [{"id", "name", "drums": bool, "muted": bool, "note_count", "lowest": "E1", "highest": "G2",
 *               "lowest_midi", "highest_midi", "notes_per_bar", "on_beat_share", "off_beat_share",
 *               "common_durations": [{"d": 0.5, "name": "8th", "count": 8}], "drum_sounds": ["Bass Drum 1"]}],
 *   "clashes": [{"beat": 4.0, "interval": "minor second", "semitones": 1, "tracks": ["t1","t2"],
 *                "track_names": ["Bass","Pad"], "notes": ["E2","F2"], "occurrences": 4}],
 *   "clash_count": 4, ("clash_scan_partial": true when CONTEXT_MAX_CLASH_CHECKS stopped the scan)
 *   "registers": [{"name": "bass", "range": "C2-B2", "note_count": 8, "tracks": ["t2"],
 *                  "status": "empty"|"ok"|"crowded"}]
 * }
 * Chord names: root + "", m, dim, aug, 5, sus2, sus4, 6, m6, 7, maj7, m7, mM7, m7b5, dim7, aug7, 7sus4, add9,
 * madd9, 9, maj9, m9, 6/9, 7b9, 7#9, 11, m11, 13, 7b5; a bass other than the root is written as a slash chord
 * ("C/E"). Pitch names use flats
 * in flat keys (F, Bb, Eb, Ab, Db, Gb major; D, G, C, F, Bb, Eb minor), else sharps.
 * Key: every tonic x mode (major, minor, dorian, mixolydian, blues) is scored by how much of the
 * duration-weighted pitch content lies in its scale (the raised 7th counts in minor, blue notes in the blues),
 * the Krumhansl-Schmuckler correlation, and tonic evidence: the share of beats whose chord root and whose bass
 * is the tonic, the first and the last chord (for a melody without chords: its first and, weighted more, its
 * last note), cadences into the tonic (V or vii° resolving, the final one counting double), the tonic chord's
 * third matching the mode, and the marker chords of the modes (major IV in dorian, major bVII in mixolydian).
 * The blues is a candidate only when the tonic chord is a dominant seventh. Relative majors and minors share a
 * scale and are told apart by that evidence (Am-F-C-G: A minor; C-G-Am-F: C major). Weights in context.c,
 * tuned and tested against tests/fixtures/keys/progressions.json. correlation = the KS correlation of the
 * chosen key; confidence = best minus runner-up score (another tonic). Returns NULL only when out of memory. */
json_t *context_analyze(const json_t *state);

/* Name the chord of a pitch-class set (bit i = pitch class i) with bass pitch class bass_pc (-1: none).
 * Writes e.g. "Cmaj7/E" into buf and returns the root pitch class, or -1 (buf "") when no chord fits. */
int context_chord_name(unsigned pc_mask, int bass_pc, int use_flats, char *buf, size_t buflen);

/* Compact text of an analysis (borrowed, from context_analyze()) for the stage-1 prompt. DAW-supplied text
 * (track names) is quoted as JSON strings. Returns a malloc'd string (caller frees), NULL when out of memory. */
char *context_to_text(const json_t *analysis);

#endif
