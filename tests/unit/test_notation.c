/* Unit tests: agent/notation.c (note names, chords, drums, patterns, expansion, checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notation.h"

/* Notes as "n@s+d:v ..." for compact comparisons. */
static void notes_str(const json_t *notes, char *buf, size_t len) {
  size_t o = 0, i;
  const json_t *n;
  buf[0] = 0;
  json_array_foreach(notes, i, n) {
    int w = snprintf(buf + o, len - o, "%s%g@%g+%g:%g", i ? " " : "", json_number_value(json_object_get(n, "n")),
                     json_number_value(json_object_get(n, "s")), json_number_value(json_object_get(n, "d")),
                     json_number_value(json_object_get(n, "v")));
    if (w < 0 || (size_t)w >= len - o) break;
    o += (size_t)w;
  }
}

/* ---- note names ---- */

static const struct {
  const char *name;
  int midi;        /* expected, or -1 */
  int rc;          /* expected code */
  const char *err; /* expected message (exact) when rc != 0, NULL = don't care */
} note_cases[] = {
    {"C4", 60, 0, NULL},
    {"c4", 60, 0, NULL},
    {"A4", 69, 0, NULL},
    {"F#3", 54, 0, NULL},
    {"Gb3", 54, 0, NULL},
    {"Bb5", 82, 0, NULL},
    {"A#5", 82, 0, NULL},
    {"E#4", 65, 0, NULL},
    {"Fb4", 64, 0, NULL},
    {"Cb4", 59, 0, NULL},
    {"B#3", 60, 0, NULL},
    {"C##4", 62, 0, NULL},
    {"Dbb4", 60, 0, NULL},
    {"F\xE2\x99\xAF"
     "3",
     54, 0, NULL},
    {"B\xE2\x99\xAD"
     "5",
     82, 0, NULL},
    {"C-1", 0, 0, NULL},
    {"C#-1", 1, 0, NULL},
    {"B#-1", 12, 0, NULL},
    {"G9", 127, 0, NULL},
    {"F##9", 127, 0, NULL},
    {"Gb9", 126, 0, NULL},
    {"Ab9", -1, NOTATION_ERR_RANGE, "note 'Ab9' is outside MIDI 0..127 (would be 128)"},
    {"G#9", -1, NOTATION_ERR_RANGE, "note 'G#9' is outside MIDI 0..127 (would be 128)"},
    {"Ab-1", 8, 0, NULL},
    {"Cb-1", -1, NOTATION_ERR_RANGE, "note 'Cb-1' is outside MIDI 0..127 (would be -1)"},
    {"Dbb-1", 0, 0, NULL},
    {"Cbb-1", -1, NOTATION_ERR_RANGE, "note 'Cbb-1' is outside MIDI 0..127 (would be -2)"},
    {"C10", -1, NOTATION_ERR_RANGE, "octave 10 of note 'C10' is outside -1..9"},
    {"C-2", -1, NOTATION_ERR_RANGE, "octave -2 of note 'C-2' is outside -1..9"},
    {"H4", -1, NOTATION_ERR_SYNTAX,
     "bad note name 'H4': expected a letter A-G, accidentals (#, b) and an octave -1..9"},
    {"C", -1, NOTATION_ERR_SYNTAX, "note name 'C' needs an octave -1..9 (C4 = 60)"},
    {"C#b4", -1, NOTATION_ERR_SYNTAX, "bad accidentals in note name 'C#b4' (at most two, not both # and b)"},
    {"C###4", -1, NOTATION_ERR_SYNTAX, NULL},
    {"C4x", -1, NOTATION_ERR_SYNTAX, "bad note name 'C4x': unexpected 'x' after the octave"},
    {"", -1, NOTATION_ERR_SYNTAX, "empty note name"},
};

static void test_notation_note_names(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof note_cases / sizeof note_cases[0]; i++) {
    int m = -1;
    char err[200] = "";
    int rc = notation_parse_note(note_cases[i].name, &m, err, sizeof err);
    if (rc != note_cases[i].rc) fail_msg("%s: rc %d, expected %d (%s)", note_cases[i].name, rc, note_cases[i].rc, err);
    if (rc == 0 && m != note_cases[i].midi) fail_msg("%s: %d, expected %d", note_cases[i].name, m, note_cases[i].midi);
    if (rc != 0 && note_cases[i].err) assert_string_equal(err, note_cases[i].err);
  }
}

static void test_notation_note_name_roundtrip(void **state) {
  (void)state;
  char buf[8], err[128];
  for (int m = 0; m <= 127; m++) {
    int back = -1;
    assert_int_equal(notation_note_name(m, buf, sizeof buf), 0);
    assert_int_equal(notation_parse_note(buf, &back, err, sizeof err), 0);
    assert_int_equal(back, m);
  }
  assert_int_equal(notation_note_name(128, buf, sizeof buf), NOTATION_ERR_RANGE);
  assert_int_equal(notation_note_name(-1, buf, sizeof buf), NOTATION_ERR_RANGE);
  notation_note_name(60, buf, sizeof buf);
  assert_string_equal(buf, "C4");
  notation_note_name(0, buf, sizeof buf);
  assert_string_equal(buf, "C-1");
}

/* ---- chords ---- */

static const struct {
  const char *symbol;
  int octave;
  const char *notes; /* space separated MIDI numbers, or the exact error */
} chord_cases[] = {
    /* triads */
    {"C", 4, "60 64 67"},
    {"Cmaj", 4, "60 64 67"},
    {"CM", 4, "60 64 67"},
    {"Cm", 4, "60 63 67"},
    {"Cmin", 4, "60 63 67"},
    {"C-", 4, "60 63 67"},
    {"Cdim", 4, "60 63 66"},
    {"C\xC2\xB0", 4, "60 63 66"},
    {"Caug", 4, "60 64 68"},
    {"C+", 4, "60 64 68"},
    {"C5", 4, "60 67"},
    {"Csus2", 4, "60 62 67"},
    {"Csus4", 4, "60 65 67"},
    {"Csus", 4, "60 65 67"},
    /* sixths and sevenths */
    {"C6", 4, "60 64 67 69"},
    {"Cm6", 4, "60 63 67 69"},
    {"C6/9", 4, "60 64 67 69 74"},
    {"C7", 4, "60 64 67 70"},
    {"Cmaj7", 4, "60 64 67 71"},
    {"CM7", 4, "60 64 67 71"},
    {"C\xCE\x94"
     "7",
     4, "60 64 67 71"},
    {"Cm7", 4, "60 63 67 70"},
    {"Cmin7", 4, "60 63 67 70"},
    {"C-7", 4, "60 63 67 70"},
    {"CmM7", 4, "60 63 67 71"},
    {"Cm(maj7)", 4, "60 63 67 71"},
    {"Cm7b5", 4, "60 63 66 70"},
    {"C\xC3\xB8", 4, "60 63 66 70"},
    {"Cdim7", 4, "60 63 66 69"},
    {"C\xC2\xB0"
     "7",
     4, "60 63 66 69"},
    {"Caug7", 4, "60 64 68 70"},
    {"C+7", 4, "60 64 68 70"},
    {"C7sus4", 4, "60 65 67 70"},
    {"C7b9", 4, "60 64 67 70 73"},
    {"C7#9", 4, "60 64 67 70 75"},
    /* extensions */
    {"C9", 4, "60 64 67 70 74"},
    {"Cmaj9", 4, "60 64 67 71 74"},
    {"Cm9", 4, "60 63 67 70 74"},
    {"Cadd9", 4, "60 64 67 74"},
    {"Cmadd9", 4, "60 63 67 74"},
    {"C11", 4, "60 67 70 74 77"},
    {"Cm11", 4, "60 63 67 70 74 77"},
    {"C13", 4, "60 64 70 74 81"},
    /* roots, enharmonics, registers */
    {"Am7", 4, "69 72 76 79"},
    {"Am7", 3, "57 60 64 67"},
    {"Am7", NOTATION_OCTAVE_DEFAULT, "69 72 76 79"},
    {"F#m7b5", 4, "66 69 72 76"},
    {"Gbm7b5", 4, "66 69 72 76"},
    {"Bbmaj7", 3, "58 62 65 69"},
    {"A#maj7", 3, "58 62 65 69"},
    {"Ebm", 4, "63 66 70"},
    {"Gsus4", 3, "55 60 62"},
    {"Cb", 4, "59 63 66"},
    {"E#", 4, "65 69 72"},
    {"B\xE2\x99\xAD"
     "7",
     3, "58 62 65 68"},
    /* slash chords: the bass goes below */
    {"Cmaj7/E", 4, "52 60 64 67 71"},
    {"C/G", 4, "55 60 64 67"},
    {"C/C", 4, "48 60 64 67"},
    {"Am/G", 3, "55 57 60 64"},
    {"D/F#", 4, "54 62 66 69"},
    {"C6/9/E", 4, "52 60 64 67 69 74"},
    /* edges of 0..127 */
    {"C", -1, "0 4 7"},
    {"E", 9, "E in octave 9 goes outside MIDI 0..127 (128)"},
    {"G", 9, "G in octave 9 goes outside MIDI 0..127 (131)"},
    {"C/B", -1, "chord \"C/B\" in octave -1 goes outside MIDI 0..127 (-1)"},
    {"C", 10, "chord octave 10 is outside -1..9"},
    /* malformed */
    {"Cmaj13#11x", 4, "unknown chord quality 'maj13#11x' in \"Cmaj13#11x\""},
    {"Cfoo", 4, "unknown chord quality 'foo' in \"Cfoo\""},
    {"H7", 4, "bad chord symbol \"H7\": it must start with a root A-G (upper case)"},
    {"am7", 4, "bad chord symbol \"am7\": it must start with a root A-G (upper case)"},
    {"Cmaj7/H", 4, "bad slash bass 'H' in \"Cmaj7/H\": expected a note letter A-G with optional # or b"},
    {"C#b", 4, "bad accidentals in chord root of \"C#b\""},
    {"", 4, "empty chord symbol"},
};

static void test_notation_chords(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof chord_cases / sizeof chord_cases[0]; i++) {
    int notes[NOTATION_CHORD_MAX];
    size_t count = 0;
    char err[200] = "", got[256] = "";
    int rc = notation_chord(chord_cases[i].symbol, chord_cases[i].octave, notes, NOTATION_CHORD_MAX, &count, err,
                            sizeof err);
    if (rc == 0) {
      size_t o = 0;
      for (size_t k = 0; k < count; k++) o += (size_t)snprintf(got + o, sizeof got - o, "%s%d", k ? " " : "", notes[k]);
    } else {
      snprintf(got, sizeof got, "%s", err);
    }
    const char *want = chord_cases[i].notes;
    /* the range messages name the chord symbol */
    char want2[200];
    if (!strncmp(want, "E in", 4) || !strncmp(want, "G in", 4)) {
      snprintf(want2, sizeof want2, "chord \"%c\" in%s", want[0], want + 4);
      want = want2;
    }
    if (strcmp(got, want) != 0)
      fail_msg("chord %s octave %d: got \"%s\", expected \"%s\"", chord_cases[i].symbol, chord_cases[i].octave, got,
               want);
  }
}

/* ---- drums ---- */

static const struct {
  const char *name;
  int midi;
} drum_cases[] = {
    {"kick", 36},
    {"bd", 36},
    {"Kick", 36},
    {"bass drum", 36},
    {"Bass Drum 1", 36},
    {"Acoustic Bass Drum", 35},
    {"side stick", 37},
    {"rimshot", 37},
    {"snare", 38},
    {"sd", 38},
    {"SNARE", 38},
    {"clap", 39},
    {"hand clap", 39},
    {"electric snare", 40},
    {"low floor tom", 41},
    {"closed hat", 42},
    {"hh", 42},
    {"chh", 42},
    {"Closed Hi-Hat", 42},
    {"closed_hihat", 42},
    {"hat", 42},
    {"high floor tom", 43},
    {"pedal hat", 44},
    {"Pedal Hi-Hat", 44},
    {"low tom", 45},
    {"open hat", 46},
    {"ohh", 46},
    {"open hi-hat", 46},
    {"low-mid tom", 47},
    {"mid tom", 47},
    {"hi mid tom", 48},
    {"crash", 49},
    {"high tom", 50},
    {"ride", 51},
    {"china", 52},
    {"ride bell", 53},
    {"tambourine", 54},
    {"splash", 55},
    {"cowbell", 56},
    {"crash 2", 57},
    {"vibraslap", 58},
    {"ride 2", 59},
    {"hi bongo", 60},
    {"low bongo", 61},
    {"mute hi conga", 62},
    {"open hi conga", 63},
    {"low conga", 64},
    {"high timbale", 65},
    {"low timbale", 66},
    {"high agogo", 67},
    {"low agogo", 68},
    {"cabasa", 69},
    {"maracas", 70},
    {"shaker", 70},
    {"short whistle", 71},
    {"long whistle", 72},
    {"short guiro", 73},
    {"long guiro", 74},
    {"claves", 75},
    {"hi wood block", 76},
    {"low wood block", 77},
    {"mute cuica", 78},
    {"open cuica", 79},
    {"mute triangle", 80},
    {"open triangle", 81},
    {"triangle", 81},
};

static void test_notation_drums(void **state) {
  (void)state;
  char err[200];
  for (size_t i = 0; i < sizeof drum_cases / sizeof drum_cases[0]; i++) {
    int m = -1;
    int rc = notation_drum(drum_cases[i].name, &m, err, sizeof err);
    if (rc != 0 || m != drum_cases[i].midi)
      fail_msg("drum '%s': rc %d midi %d, expected %d (%s)", drum_cases[i].name, rc, m, drum_cases[i].midi, err);
  }
  /* every GM name 35..81 maps back to its key */
  for (int k = 35; k <= 81; k++) {
    const char *gm = notation_drum_name(k);
    assert_non_null(gm);
    int m = -1;
    assert_int_equal(notation_drum(gm, &m, err, sizeof err), 0);
    assert_int_equal(m, k);
  }
  assert_null(notation_drum_name(34));
  assert_null(notation_drum_name(82));
  int m;
  assert_int_equal(notation_drum("zap", &m, err, sizeof err), NOTATION_ERR_UNKNOWN);
  assert_string_equal(err, "unknown drum name 'zap' (try kick, snare, clap, closed hat, open hat, crash, ride, "
                           "low tom, ...)");
}

static void test_notation_pitch(void **state) {
  (void)state;
  static const struct {
    const char *sym;
    int midi;
    const char *err;
  } cases[] = {
      {"C4", 60, NULL},
      {"kick", 36, NULL},
      {"Closed Hi-Hat", 42, NULL},
      {"G9", 127, NULL},
      {"G#9", -1, "note 'G#9' is outside MIDI 0..127 (would be 128)"},
      {"Am7", -1, "unknown pitch 'Am7': not a note name (C4 = 60) or a drum name (kick, snare, closed hat)"},
      {"zap", -1, "unknown pitch 'zap': not a note name (C4 = 60) or a drum name (kick, snare, closed hat)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int m = -1;
    char err[200] = "";
    int rc = notation_pitch(cases[i].sym, &m, err, sizeof err);
    if (cases[i].err) {
      assert_true(rc < 0);
      assert_string_equal(err, cases[i].err);
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(m, cases[i].midi);
    }
  }
}

/* ---- step patterns ---- */

static const struct {
  const char *pattern;
  int pitch;
  double grid, start, dur;
  const char *want; /* notes_str, or exact error */
} pattern_cases[] = {
    {"x...x...x...x...", 36, 0.25, 0, 0, "36@0+0.25:100 36@1+0.25:100 36@2+0.25:100 36@3+0.25:100"},
    {"x...|x...|x...|x...", 36, 0.25, 0, 0, "36@0+0.25:100 36@1+0.25:100 36@2+0.25:100 36@3+0.25:100"},
    {"X.x.o.x-", 42, 0.5, 0, 0, "42@0+0.5:120 42@1+0.5:100 42@2+0.5:60 42@3+0.5:100"},
    {"..x. ..x.", 38, 0.5, 4, 0.25, "38@5+0.25:100 38@7+0.25:100"},
    {"x_x_", 36, 1, 0, 0, "36@0+1:100 36@2+1:100"},
    {"....", 36, 0.25, 0, 0, ""},
    {"x..z", 36, 0.25, 0, 0,
     "bad character 'z' at position 4 of step pattern \"x..z\" (use x X o for hits, . or - for rests)"},
    {"", 36, 0.25, 0, 0, "empty step pattern \"\""},
    {"x...", 36, 0, 0, 0, "pattern grid 0 must be > 0 beats (0.25 = sixteenth notes)"},
    {"x...", 128, 0.25, 0, 0, "pattern pitch 128 is outside MIDI 0..127"},
};

static void test_notation_patterns(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof pattern_cases / sizeof pattern_cases[0]; i++) {
    json_t *out = json_array();
    char err[200] = "", got[512];
    int rc = notation_pattern(pattern_cases[i].pattern, pattern_cases[i].pitch, pattern_cases[i].grid,
                              pattern_cases[i].start, pattern_cases[i].dur, NULL, out, err, sizeof err);
    if (rc == 0)
      notes_str(out, got, sizeof got);
    else
      snprintf(got, sizeof got, "%s", err);
    if (strcmp(got, pattern_cases[i].want) != 0)
      fail_msg("pattern \"%s\": got \"%s\", expected \"%s\"", pattern_cases[i].pattern, got, pattern_cases[i].want);
    json_decref(out);
  }
}

/* ---- expansion of what models write ---- */

static const struct {
  const char *spec; /* JSON */
  const char *want; /* notes_str, or "ERR:" + exact message */
} expand_cases[] = {
    {"[{\"n\": 36, \"s\": 0, \"d\": 0.5, \"v\": 110}, {\"n\": 36, \"s\": 1, \"d\": 0.5, \"v\": 110}]",
     "36@0+0.5:110 36@1+0.5:110"},
    {"[{\"n\": \"C4\", \"s\": 0, \"d\": 1}]", "60@0+1:100"},
    {"[{\"n\": \"kick\", \"s\": 0, \"d\": 0.5, \"v\": 90}]", "36@0+0.5:90"},
    {"[{\"note\": \"F#3\", \"start\": 2, \"duration\": 1, \"velocity\": 80}]", "54@2+1:80"},
    {"[{\"n\": 60.0, \"s\": \"1\", \"d\": 1}]", "60@1+1:100"},
    {"[{\"n\": 64, \"s\": 1, \"d\": 1}, {\"n\": 60, \"s\": 0, \"d\": 1}, {\"n\": 55, \"s\": 1, \"d\": 1}]",
     "60@0+1:100 55@1+1:100 64@1+1:100"},
    {"[{\"chord\": \"Am7\", \"s\": 0, \"d\": 4, \"v\": 90}]", "69@0+4:90 72@0+4:90 76@0+4:90 79@0+4:90"},
    {"[{\"chord\": \"Am7\", \"s\": 0, \"d\": 4, \"octave\": 3}]", "57@0+4:100 60@0+4:100 64@0+4:100 67@0+4:100"},
    {"[{\"chord\": \"Cmaj7/E\", \"s\": 4, \"d\": 2}]", "52@4+2:100 60@4+2:100 64@4+2:100 67@4+2:100 71@4+2:100"},
    {"[{\"n\": \"Gsus4\", \"s\": 0, \"d\": 1, \"octave\": 3}]", "55@0+1:100 60@0+1:100 62@0+1:100"},
    {"[{\"drum\": \"kick\", \"pattern\": \"x...x...\", \"grid\": 0.25}]", "36@0+0.25:100 36@1+0.25:100"},
    {"{\"drum\": \"closed hat\", \"pattern\": \"x.X.\", \"grid\": 0.5, \"repeat\": 2, \"s\": 4}",
     "42@4+0.5:100 42@5+0.5:120 42@6+0.5:100 42@7+0.5:120"},
    {"[{\"n\": \"C2\", \"pattern\": \"x.x.\", \"grid\": 1, \"d\": 0.5, \"v\": 70}]", "36@0+0.5:70 36@2+0.5:70"},
    {"[\"C4 E4 G4:2\"]", "60@0+1:100 64@1+1:100 67@2+2:100"},
    {"[\"C4 r E4\", \"G4\"]", "60@0+1:100 64@2+1:100 67@3+1:100"},
    {"\"C4, E4 | G4\"", "60@0+1:100 64@1+1:100 67@2+1:100"},
    {"[\"Am7:4\"]", "69@0+4:100 72@0+4:100 76@0+4:100 79@0+4:100"},
    {"[\"C7\"]", "96@0+1:100"},
    {"[\"kick: x...x...\"]", "36@0+0.25:100 36@1+0.25:100"},
    {"[\"snare: ....x.......x...\", \"kick: x.......x.......\"]",
     "36@0+0.25:100 38@1+0.25:100 36@2+0.25:100 38@3+0.25:100"},
    {"[{\"chords\": \"Am:2 F:2\", \"octave\": 3, \"v\": 80}]",
     "57@0+2:80 60@0+2:80 64@0+2:80 53@2+2:80 57@2+2:80 60@2+2:80"},
    {"{\"chords\": [\"C\", \"G/B\"], \"d\": 4, \"s\": 0}",
     "60@0+4:100 64@0+4:100 67@0+4:100 59@4+4:100 67@4+4:100 71@4+4:100 74@4+4:100"},
    {"{\"sequence\": \"C4:0.5 D4:0.5 E4\", \"s\": 1}", "60@1+0.5:100 62@1.5+0.5:100 64@2+1:100"},
    {"[]", ""},
    /* errors name the item and the symbol */
    {"[{\"chord\": \"Cmaj13#11x\", \"s\": 0, \"d\": 4}]",
     "ERR:notes[0]: unknown chord quality 'maj13#11x' in \"Cmaj13#11x\""},
    {"[{\"n\": 36, \"s\": 0, \"d\": 1}, \"Cmaj13#11x\"]",
     "ERR:notes[1]: unknown chord quality 'maj13#11x' in \"Cmaj13#11x\""},
    {"[{\"n\": \"G#9\", \"s\": 0, \"d\": 1}]", "ERR:notes[0]: note 'G#9' is outside MIDI 0..127 (would be 128)"},
    {"[{\"n\": \"foo\", \"s\": 0, \"d\": 1}]",
     "ERR:notes[0]: unknown symbol 'foo': not a note name (C4 = 60), a drum name (kick, snare, closed hat) or a "
     "chord symbol (Am7, Cmaj7/E)"},
    {"[{\"n\": 60, \"d\": 1}]", "ERR:notes[0]: missing 's' (start in beats)"},
    {"[{\"n\": 60, \"s\": 0}]", "ERR:notes[0]: missing 'd' (duration in beats)"},
    {"[{\"s\": 0, \"d\": 1}]",
     "ERR:notes[0]: a note needs 'n' (MIDI number or name like \"C4\"), or use \"chord\", \"drum\"+\"pattern\""},
    {"[{\"n\": 60, \"s\": \"soon\", \"d\": 1}]", "ERR:notes[0]: 's' must be a number of beats"},
    {"[{\"n\": 60, \"s\": 0, \"d\": 1, \"v\": \"loud\"}]", "ERR:notes[0]: velocity 'v' must be a number 1..127"},
    {"[{\"drum\": \"zap\", \"pattern\": \"x...\"}]",
     "ERR:notes[0]: unknown symbol 'zap': not a note name (C4 = 60), a drum name (kick, snare, closed hat)"},
    {"[{\"drum\": \"kick\", \"pattern\": \"x..y\"}]",
     "ERR:notes[0]: bad character 'y' at position 4 of step pattern \"x..y\" (use x X o for hits, . or - for rests)"},
    {"[\"x...x...\"]",
     "ERR:notes[0]: step pattern \"x...x...\" needs a sound: write \"kick: x...x...\" or {\"drum\": \"kick\", "
     "\"pattern\": ...}"},
    {"[\"C4:zero\"]", "ERR:notes[0]: bad duration 'zero' after 'C4' (write SYMBOL:BEATS, e.g. Am7:4)"},
    {"[{\"chords\": \"Am F C7x\"}]", "ERR:notes[0]: unknown chord quality '7x' in \"C7x\""},
    {"[42]", "ERR:notes[0]: a bare number is not a note; write {\"n\": 42, \"s\": 0, \"d\": 1, \"v\": 100}"},
    {"[{\"chord\": \"C\", \"s\": 0, \"d\": 1, \"octave\": 12}]", "ERR:notes[0]: 'octave' must be an integer -1..9"},
    {"42", "ERR:notes must be an array of {n, s, d, v} objects, a chord/pattern object or a string"},
};

static void test_notation_expand(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof expand_cases / sizeof expand_cases[0]; i++) {
    json_error_t jerr;
    json_t *spec = json_loads(expand_cases[i].spec, JSON_DECODE_ANY, &jerr);
    if (!spec) fail_msg("bad test JSON %s: %s", expand_cases[i].spec, jerr.text);
    char err[400] = "", got[1024];
    json_t *out = notation_expand_notes(spec, NULL, err, sizeof err);
    if (out)
      notes_str(out, got, sizeof got);
    else
      snprintf(got, sizeof got, "ERR:%s", err);
    if (strcmp(got, expand_cases[i].want) != 0)
      fail_msg("expand %s:\n got  \"%s\"\n want \"%s\"", expand_cases[i].spec, got, expand_cases[i].want);
    json_decref(out);
    json_decref(spec);
  }
}

static void test_notation_expand_options(void **state) {
  (void)state;
  notation_opts_t o;
  notation_opts_default(&o);
  o.velocity = 64;
  o.chord_octave = 3;
  o.default_duration = 2;
  json_t *spec = json_string("C Am");
  char err[200], got[256];
  json_t *out = notation_expand_notes(spec, &o, err, sizeof err);
  assert_non_null(out);
  notes_str(out, got, sizeof got);
  assert_string_equal(got, "48@0+2:64 52@0+2:64 55@0+2:64 57@2+2:64 60@2+2:64 64@2+2:64");
  json_decref(out);
  json_decref(spec);
  assert_null(notation_expand_notes(NULL, NULL, err, sizeof err));
  assert_string_equal(err, "missing notes");
}

static const struct {
  const char *notes;
  double clip;
  int bad;
  const char *err;
} check_cases[] = {
    {"[{\"n\":36,\"s\":0,\"d\":0.5,\"v\":110},{\"n\":36,\"s\":3.5,\"d\":0.5,\"v\":110}]", 4, 0, ""},
    {"[{\"n\":36,\"s\":3.5,\"d\":0.5000001,\"v\":110}]", 4, 0, ""},
    {"[{\"n\":36,\"s\":4,\"d\":0.5,\"v\":110}]", 4, 1,
     "note 1 {\"d\":0.5,\"n\":36,\"s\":4,\"v\":110}: starts at 4, at or after the clip end 4"},
    {"[{\"n\":36,\"s\":0,\"d\":1,\"v\":100},{\"n\":36,\"s\":3.5,\"d\":1,\"v\":100},{\"n\":200,\"s\":0,\"d\":1}]", 4, 2,
     "note 2 {\"d\":1,\"n\":36,\"s\":3.5,\"v\":100}: ends at 4.5, after the clip end 4 (2 notes have problems)"},
    {"[{\"n\":128,\"s\":0,\"d\":1,\"v\":100}]", 0, 1,
     "note 1 {\"d\":1,\"n\":128,\"s\":0,\"v\":100}: n 128 is outside MIDI 0..127"},
    {"[{\"n\":-1,\"s\":0,\"d\":1,\"v\":100}]", 0, 1,
     "note 1 {\"d\":1,\"n\":-1,\"s\":0,\"v\":100}: n -1 is outside MIDI 0..127"},
    {"[{\"n\":60.5,\"s\":0,\"d\":1}]", 0, 1,
     "note 1 {\"d\":1,\"n\":60.5,\"s\":0}: n must be an integer MIDI note 0..127"},
    {"[{\"n\":60,\"s\":0,\"d\":1,\"v\":0}]", 0, 1,
     "note 1 {\"d\":1,\"n\":60,\"s\":0,\"v\":0}: velocity 0 is outside 1..127"},
    {"[{\"n\":60,\"s\":0,\"d\":1,\"v\":128}]", 0, 1,
     "note 1 {\"d\":1,\"n\":60,\"s\":0,\"v\":128}: velocity 128 is outside 1..127"},
    {"[{\"n\":60,\"s\":-1,\"d\":1,\"v\":100}]", 0, 1,
     "note 1 {\"d\":1,\"n\":60,\"s\":-1,\"v\":100}: starts at -1, before the clip start (s must be >= 0)"},
    {"[{\"n\":60,\"s\":0,\"d\":0,\"v\":100}]", 0, 1,
     "note 1 {\"d\":0,\"n\":60,\"s\":0,\"v\":100}: d (duration in beats) must be a number > 0"},
    {"[{\"n\":0,\"s\":0,\"d\":1,\"v\":1},{\"n\":127,\"s\":0,\"d\":1,\"v\":127}]", 0, 0, ""},
};

static void test_notation_check_notes(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof check_cases / sizeof check_cases[0]; i++) {
    json_t *notes = json_loads(check_cases[i].notes, 0, NULL);
    assert_non_null(notes);
    char err[300] = "";
    int bad = notation_check_notes(notes, check_cases[i].clip, err, sizeof err);
    if (bad != check_cases[i].bad || strcmp(err, check_cases[i].err) != 0)
      fail_msg("check %s: bad %d (want %d) err \"%s\" (want \"%s\")", check_cases[i].notes, bad, check_cases[i].bad,
               err, check_cases[i].err);
    json_decref(notes);
  }
}

static void test_notation_strerror(void **state) {
  (void)state;
  for (int c = 0; c >= -6; c--) assert_non_null(notation_strerror(c));
  assert_string_equal(notation_strerror(NOTATION_ERR_UNKNOWN), "unknown musical symbol");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_notation_note_names),  cmocka_unit_test(test_notation_note_name_roundtrip),
      cmocka_unit_test(test_notation_chords),      cmocka_unit_test(test_notation_drums),
      cmocka_unit_test(test_notation_pitch),       cmocka_unit_test(test_notation_patterns),
      cmocka_unit_test(test_notation_expand),      cmocka_unit_test(test_notation_expand_options),
      cmocka_unit_test(test_notation_check_notes), cmocka_unit_test(test_notation_strerror),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
