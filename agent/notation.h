/* notation: deterministic conversion of musical notation to MIDI notes.
 *
 * Pure, I/O-free. A "note" is the JSON object {"n": int 0..127, "s": beats, "d": beats, "v": int 1..127}
 * (docs/session-json.md). Accepted notation (docs/notation.md):
 *   - note names: C4 = 60, F#3, Bb5, E#4, Cb4, C##4, Dbb4, octaves -1..9 (C-1 = 0, G9 = 127);
 *   - chord symbols with a fixed close voicing: Am7, Cmaj7/E, Gsus4, F#m7b5, ... (see notation_chord());
 *   - General MIDI percussion names 35..81 with aliases (kick, bd, snare, closed hat, ...);
 *   - step patterns "x...x...x...x..." over a grid in beats.
 * All functions are reentrant; no globals.
 */
#ifndef DAWBRIDGE_NOTATION_H
#define DAWBRIDGE_NOTATION_H

#include <stddef.h>
#include <jansson.h>

enum {
  NOTATION_OK = 0,
  NOTATION_ERR_SYNTAX = -1,  /* malformed symbol */
  NOTATION_ERR_RANGE = -2,   /* result outside MIDI 0..127 or bad numeric parameter */
  NOTATION_ERR_UNKNOWN = -3, /* unknown chord quality / drum name / symbol */
  NOTATION_ERR_TYPE = -4,    /* wrong JSON type in a note spec */
  NOTATION_ERR_NOMEM = -5,
};

/* Static description of an error code (never NULL). */
const char *notation_strerror(int code);

/* Maximum notes a chord voicing produces (chord tones + slash bass). */
#define NOTATION_CHORD_MAX 8

/* Options of notation_expand_notes(); fill with notation_opts_default() and change what you need. */
typedef struct {
  int velocity;            /* default velocity of notes without "v" and of pattern hits 'x' (100) */
  int accent_velocity;     /* pattern 'X' (120) */
  int ghost_velocity;      /* pattern 'o' (60) */
  int chord_octave;        /* octave of chord roots when not given (4: Cmaj7 = C4 E4 G4 B4) */
  double default_duration; /* duration of tokens in a plain-string sequence without ":dur" (1 beat) */
} notation_opts_t;

void notation_opts_default(notation_opts_t *opts);

/* Parse a note name ("C4", "F#3", "Bb5", "C##4", "Dbb4", "C-1", "G9"; also the unicode ♯ ♭ signs).
 * Letter case-insensitive, accidentals: '#', 'b', '♯', '♭' (at most two), octave -1..9 required.
 * Returns NOTATION_OK and *midi, or a negative code with a message in err naming the symbol. */
int notation_parse_note(const char *name, int *midi, char *err, size_t errlen);

/* Write the sharp spelling of a MIDI note ("C4", "F#3", "C-1") into buf. Returns NOTATION_OK or
 * NOTATION_ERR_RANGE when midi is outside 0..127 (buf then holds "?"). */
int notation_note_name(int midi, char *buf, size_t buflen);

/* Pitch-class name (0..11) with sharps or flats: "C", "C#"/"Db", ... (static string). */
const char *notation_pc_name(int pc, int use_flats);

/* General MIDI percussion: name (case-, space-, '-', '_' -insensitive; "closed hat", "Closed Hi-Hat",
 * "chh", "hh", "kick", "bd", ...) to MIDI 35..81. Returns NOTATION_OK or NOTATION_ERR_UNKNOWN. */
int notation_drum(const char *name, int *midi, char *err, size_t errlen);

/* GM name of a percussion key ("Bass Drum 1" for 36), or NULL outside 35..81. Static string. */
const char *notation_drum_name(int midi);

/* One pitch from a symbol: a note name ("C4") or a drum name ("kick"). Returns NOTATION_OK and *midi, or a
 * negative code with a message naming the symbol. */
int notation_pitch(const char *symbol, int *midi, char *err, size_t errlen);

/* Voice a chord symbol: root [quality] [/bass]. Root = note letter + accidentals (no octave).
 * octave = octave number of the root (C-based, 4 puts the root in C4..B4); pass NOTATION_OCTAVE_DEFAULT
 * for 4. Qualities and voicings (intervals in semitones above the root):
 *   ""/maj/M/major 0 4 7        m/min/-/minor 0 3 7      dim/°/o 0 3 6      aug/+ 0 4 8
 *   5 0 7   sus2 0 2 7   sus4/sus 0 5 7   6 0 4 7 9   m6 0 3 7 9   7 0 4 7 10   maj7/M7/Δ7/Δ 0 4 7 11
 *   m7/min7/-7 0 3 7 10   mM7/mMaj7/m(maj7) 0 3 7 11   m7b5/ø/ø7 0 3 6 10   dim7/°7/o7 0 3 6 9
 *   aug7/+7/7#5 0 4 8 10   7sus4 0 5 7 10   9 0 4 7 10 14   maj9 0 4 7 11 14   m9 0 3 7 10 14
 *   add9 0 4 7 14   madd9 0 3 7 14   11 0 7 10 14 17 (no 3rd)   m11 0 3 7 10 14 17   13 0 4 10 14 21 (no 5th/11th)
 * A slash bass (/E) is added as the highest pitch of that class strictly below the lowest chord tone.
 * Writes up to max notes ascending into notes, count into *count. */
#define NOTATION_OCTAVE_DEFAULT (-100)
int notation_chord(const char *symbol, int octave, int *notes, size_t max, size_t *count, char *err, size_t errlen);

/* Expand a step pattern: each character is one grid step (beats): 'x' hit (opts->velocity), 'X' accent,
 * 'o' ghost, '.', '-', '_' rest; '|' and spaces are ignored. Hits last `duration` beats (<= 0: one grid).
 * Appends {n, s, d, v} objects to out (an array; borrowed), starting at `start`. */
int notation_pattern(const char *pattern, int pitch, double grid, double start, double duration,
                     const notation_opts_t *opts, json_t *out, char *err, size_t errlen);

/* Expand whatever a model wrote for a clip's notes into a new array of numeric notes.
 * spec (borrowed) may be:
 *   - an array whose items are
 *       {n, s, d, v}            n a number, a note name ("C4") or a drum name ("kick"); the long keys
 *                               note/pitch, start/time, duration/dur/length, velocity/vel are accepted;
 *                               s and d required, v defaults to opts->velocity;
 *       {"chord": "Am7", s, d, v?, octave?}
 *       {"drum"|"n": ..., "pattern": "x...", "grid": 0.25?, s?, d?, v?, repeat?}   grid default 0.25
 *       {"chords"|"sequence": "Am7:4 F:4 C G", s?, d?, octave?}  consecutive tokens, each lasting its
 *                               ":dur" or d (default opts->default_duration); in "chords" every token is
 *                               a chord symbol, in "sequence" it is a note, drum, or chord as below
 *       "C4 E4 G4:2 r C5"        a plain string: consecutive tokens from beat 0 (or after the previous plain
 *                               string); a token is a note name, else a drum name, else a chord symbol
 *                               ("C7" is the note C7 here; write {"chord":"C7"} for the chord); "r" = rest
 *       "kick: x...x..."        drum or note name, ':' then a step pattern (grid 0.25)
 *   - a single object or string of the above forms.
 * Numeric values are passed through unchecked (use notation_check_notes() for ranges); only conversion
 * results are range-checked. The result is sorted by s, then n.
 * Returns a new reference, or NULL with a message in err naming the offending item and symbol, e.g.
 * `notes[2]: unknown chord quality 'maj13#11x' in "Cmaj13#11x"`. opts may be NULL (defaults). */
json_t *notation_expand_notes(const json_t *spec, const notation_opts_t *opts, char *err, size_t errlen);

/* Check numeric notes (borrowed array) against the domain ranges: n integer 0..127, v integer 1..127,
 * s >= 0, d > 0, and when clip_length > 0, s + d <= clip_length (+1e-6). Returns the number of bad notes
 * (0 = fine); err then describes the first bad one ("note 3 {n:36, s:4, d:0.5}: ends at 4.5, after the
 * clip end 4"). */
int notation_check_notes(const json_t *notes, double clip_length, char *err, size_t errlen);

#endif
