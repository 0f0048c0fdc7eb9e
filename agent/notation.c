/* notation: note names, chord symbols, GM drum names and step patterns -> {n, s, d, v} notes. */
#include "notation.h"
#include "errfmt.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6

const char *notation_strerror(int code) {
  switch (code) {
  case NOTATION_OK: return "ok";
  case NOTATION_ERR_SYNTAX: return "malformed musical symbol";
  case NOTATION_ERR_RANGE: return "value outside its range";
  case NOTATION_ERR_UNKNOWN: return "unknown musical symbol";
  case NOTATION_ERR_TYPE: return "wrong JSON type in a note";
  case NOTATION_ERR_NOMEM: return "out of memory";
  default: return "unknown notation error";
  }
}

void notation_opts_default(notation_opts_t *opts) {
  opts->velocity = 100;
  opts->accent_velocity = 120;
  opts->ghost_velocity = 60;
  opts->chord_octave = 4;
  opts->default_duration = 1.0;
}

/* ---- pitch names ---------------------------------------------------------------------------- */

static const int letter_pc[7] = {9, 11, 0, 2, 4, 5, 7}; /* A B C D E F G */

static const char *const sharp_names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
static const char *const flat_names[12] = {"C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"};

const char *notation_pc_name(int pc, int use_flats) {
  pc = ((pc % 12) + 12) % 12;
  return use_flats ? flat_names[pc] : sharp_names[pc];
}

int notation_note_name(int midi, char *buf, size_t buflen) {
  if (midi < 0 || midi > 127) {
    if (buf && buflen) snprintf(buf, buflen, "?");
    return NOTATION_ERR_RANGE;
  }
  if (buf && buflen) snprintf(buf, buflen, "%s%d", sharp_names[midi % 12], midi / 12 - 1);
  return NOTATION_OK;
}

/* Parse letter + up to two accidentals at *p. upper_only: root letter must be upper case.
 * Returns the pitch offset (may be -2..13) and advances *p, or INT_MIN-ish (-100) if no root. */
static int parse_root(const char **p, int upper_only) {
  const char *s = *p;
  char c = *s;
  if (!upper_only) c = (char)toupper((unsigned char)c);
  if (c < 'A' || c > 'G') return -100;
  int pc = letter_pc[c - 'A'];
  s++;
  int sharps = 0, flats = 0;
  for (;;) {
    if (*s == '#') {
      sharps++;
      s++;
    } else if (*s == 'b') {
      flats++;
      s++;
    } else if ((unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x99 && (unsigned char)s[2] == 0xAF) {
      sharps++;
      s += 3;
    } else if ((unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x99 && (unsigned char)s[2] == 0xAD) {
      flats++;
      s += 3;
    } else {
      break;
    }
  }
  if ((sharps && flats) || sharps > 2 || flats > 2) return -101;
  *p = s;
  return pc + sharps - flats;
}

int notation_parse_note(const char *name, int *midi, char *err, size_t errlen) {
  if (!name || !*name) return errfmt(err, errlen, NOTATION_ERR_SYNTAX, "empty note name");
  const char *p = name;
  int pc = parse_root(&p, 0);
  if (pc == -100)
    return errfmt(err, errlen, NOTATION_ERR_SYNTAX,
                  "bad note name '%s': expected a letter A-G, accidentals (#, b) and an octave -1..9", name);
  if (pc == -101)
    return errfmt(err, errlen, NOTATION_ERR_SYNTAX, "bad accidentals in note name '%s' (at most two, not both # and b)",
                  name);
  int neg = 0;
  if (*p == '-') {
    neg = 1;
    p++;
  }
  if (!isdigit((unsigned char)*p))
    return errfmt(err, errlen, NOTATION_ERR_SYNTAX, "note name '%s' needs an octave -1..9 (C4 = 60)", name);
  int oct = 0;
  while (isdigit((unsigned char)*p)) {
    oct = oct * 10 + (*p - '0');
    if (oct > 100) break;
    p++;
  }
  if (*p)
    return errfmt(err, errlen, NOTATION_ERR_SYNTAX, "bad note name '%s': unexpected '%s' after the octave", name, p);
  if (neg) oct = -oct;
  if (oct < -1 || oct > 9)
    return errfmt(err, errlen, NOTATION_ERR_RANGE, "octave %d of note '%s' is outside -1..9", oct, name);
  int m = (oct + 1) * 12 + pc;
  if (m < 0 || m > 127)
    return errfmt(err, errlen, NOTATION_ERR_RANGE, "note '%s' is outside MIDI 0..127 (would be %d)", name, m);
  *midi = m;
  return NOTATION_OK;
}

/* ---- drums ---------------------------------------------------------------------------------- */

typedef struct {
  int midi;
  const char *gm;
  const char *aliases; /* normalized (lower case, no separators), space separated */
} drum_t;

static const drum_t drums[] = {
    {35, "Acoustic Bass Drum", "kick2 bassdrum2 bd2 acousticbassdrum acoustickick"},
    {36, "Bass Drum 1", "kick bd bassdrum kickdrum bassdrum1 kick1 bd1"},
    {37, "Side Stick", "sidestick stick rim rimshot rs sstick"},
    {38, "Acoustic Snare", "snare sd snaredrum acousticsnare snare1 sn"},
    {39, "Hand Clap", "clap handclap hc cp claps"},
    {40, "Electric Snare", "snare2 electricsnare esnare sd2"},
    {41, "Low Floor Tom", "lowfloortom floortom lft ft tom6"},
    {42, "Closed Hi-Hat", "closedhat closedhihat hh chh hat hihat closedhh ch"},
    {43, "High Floor Tom", "highfloortom hft tom5"},
    {44, "Pedal Hi-Hat", "pedalhat pedalhihat phh pedalhh foothat"},
    {45, "Low Tom", "lowtom lt tom4"},
    {46, "Open Hi-Hat", "openhat openhihat ohh oh openhh"},
    {47, "Low-Mid Tom", "lowmidtom lmt midtom mt tom3"},
    {48, "Hi-Mid Tom", "himidtom highmidtom hmt tom2"},
    {49, "Crash Cymbal 1", "crash crashcymbal crash1 cc cr"},
    {50, "High Tom", "hightom hitom ht tom1 tom"},
    {51, "Ride Cymbal 1", "ride ridecymbal ride1 rd"},
    {52, "Chinese Cymbal", "china chinese chinesecymbal chinacymbal"},
    {53, "Ride Bell", "ridebell bell rb"},
    {54, "Tambourine", "tambourine tamb tambo"},
    {55, "Splash Cymbal", "splash splashcymbal"},
    {56, "Cowbell", "cowbell cb"},
    {57, "Crash Cymbal 2", "crash2 crashcymbal2"},
    {58, "Vibraslap", "vibraslap"},
    {59, "Ride Cymbal 2", "ride2 ridecymbal2"},
    {60, "Hi Bongo", "hibongo highbongo bongo bongohi"},
    {61, "Low Bongo", "lowbongo bongolo"},
    {62, "Mute Hi Conga", "mutehiconga mutehighconga muteconga"},
    {63, "Open Hi Conga", "openhiconga openhighconga conga hiconga highconga"},
    {64, "Low Conga", "lowconga"},
    {65, "High Timbale", "hightimbale hitimbale timbale"},
    {66, "Low Timbale", "lowtimbale"},
    {67, "High Agogo", "highagogo hiagogo agogo"},
    {68, "Low Agogo", "lowagogo"},
    {69, "Cabasa", "cabasa"},
    {70, "Maracas", "maracas maraca shaker"},
    {71, "Short Whistle", "shortwhistle whistle"},
    {72, "Long Whistle", "longwhistle"},
    {73, "Short Guiro", "shortguiro guiro"},
    {74, "Long Guiro", "longguiro"},
    {75, "Claves", "claves clave"},
    {76, "Hi Wood Block", "hiwoodblock highwoodblock woodblock"},
    {77, "Low Wood Block", "lowwoodblock"},
    {78, "Mute Cuica", "mutecuica cuica"},
    {79, "Open Cuica", "opencuica"},
    {80, "Mute Triangle", "mutetriangle"},
    {81, "Open Triangle", "opentriangle triangle"},
};

static void normalize_name(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  for (const char *p = in; *p && o + 1 < outlen; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == ' ' || c == '-' || c == '_' || c == '.' || c == '\'' || c == '\t') continue;
    out[o++] = (char)tolower(c);
  }
  out[o] = 0;
}

static int word_in_list(const char *word, const char *list) {
  size_t wl = strlen(word);
  const char *p = list;
  while (*p) {
    const char *e = strchr(p, ' ');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == wl && strncmp(p, word, l) == 0) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

int notation_drum(const char *name, int *midi, char *err, size_t errlen) {
  char norm[64], gm[64];
  if (!name || !*name || strlen(name) >= sizeof norm)
    return errfmt(err, errlen, NOTATION_ERR_UNKNOWN, "unknown drum name '%s'", name ? name : "");
  normalize_name(name, norm, sizeof norm);
  for (size_t i = 0; i < sizeof drums / sizeof drums[0]; i++) {
    normalize_name(drums[i].gm, gm, sizeof gm);
    if (strcmp(gm, norm) == 0 || word_in_list(norm, drums[i].aliases)) {
      *midi = drums[i].midi;
      return NOTATION_OK;
    }
  }
  errmsg(err, errlen,
         "unknown drum name '%s' (try kick, snare, clap, closed hat, open hat, crash, ride, "
         "low tom, ...)",
         name);
  return NOTATION_ERR_UNKNOWN;
}

const char *notation_drum_name(int midi) {
  if (midi < 35 || midi > 81) return NULL;
  return drums[midi - 35].gm;
}

int notation_pitch(const char *symbol, int *midi, char *err, size_t errlen) {
  char e1[200];
  int rc = notation_parse_note(symbol, midi, e1, sizeof e1);
  if (rc == NOTATION_OK) return rc;
  if (rc == NOTATION_ERR_RANGE) {
    errmsg(err, errlen, "%s", e1);
    return rc;
  }
  if (symbol && notation_drum(symbol, midi, NULL, 0) == NOTATION_OK) return NOTATION_OK;
  return errfmt(err, errlen, NOTATION_ERR_UNKNOWN,
                "unknown pitch '%s': not a note name (C4 = 60) or a drum name (kick, snare, closed hat)",
                symbol ? symbol : "");
}

/* ---- chords --------------------------------------------------------------------------------- */

typedef struct {
  const char *names; /* space separated spellings (case-sensitive) */
  int n;
  int iv[6];
} quality_t;

static const quality_t qualities[] = {
    {"\x01 maj M major Maj", 3, {0, 4, 7}}, /* \x01 stands for the empty quality */
    {"m min - minor mi", 3, {0, 3, 7}},
    {"dim \xC2\xB0 o", 3, {0, 3, 6}},
    {"aug + #5", 3, {0, 4, 8}},
    {"5", 2, {0, 7}},
    {"sus2", 3, {0, 2, 7}},
    {"sus4 sus", 3, {0, 5, 7}},
    {"6 maj6 M6", 4, {0, 4, 7, 9}},
    {"m6 min6 -6", 4, {0, 3, 7, 9}},
    {"6/9 69", 5, {0, 4, 7, 9, 14}},
    {"7 dom7", 4, {0, 4, 7, 10}},
    {"maj7 M7 \xCE\x94\x37 \xCE\x94 Maj7 ma7 j7", 4, {0, 4, 7, 11}},
    {"m7 min7 -7 mi7", 4, {0, 3, 7, 10}},
    {"mM7 mMaj7 m(maj7) minmaj7 mmaj7 -maj7 m(M7)", 4, {0, 3, 7, 11}},
    {"m7b5 \xC3\xB8 \xC3\xB8\x37 min7b5 -7b5 m7(b5)", 4, {0, 3, 6, 10}},
    {"dim7 \xC2\xB0\x37 o7", 4, {0, 3, 6, 9}},
    {"aug7 +7 7#5 7+5", 4, {0, 4, 8, 10}},
    {"7sus4 7sus", 4, {0, 5, 7, 10}},
    {"7b9", 5, {0, 4, 7, 10, 13}},
    {"7#9", 5, {0, 4, 7, 10, 15}},
    {"9 dom9", 5, {0, 4, 7, 10, 14}},
    {"maj9 M9 \xCE\x94\x39 Maj9", 5, {0, 4, 7, 11, 14}},
    {"m9 min9 -9", 5, {0, 3, 7, 10, 14}},
    {"add9 add2", 4, {0, 4, 7, 14}},
    {"madd9 m(add9)", 4, {0, 3, 7, 14}},
    {"11 dom11", 5, {0, 7, 10, 14, 17}},
    {"m11 min11 -11", 6, {0, 3, 7, 10, 14, 17}},
    {"13 dom13", 5, {0, 4, 10, 14, 21}},
};

static const quality_t *find_quality(const char *q, size_t qlen) {
  char word[32];
  if (qlen >= sizeof word) return NULL;
  if (qlen == 0) {
    word[0] = '\x01';
    word[1] = 0;
  } else {
    memcpy(word, q, qlen);
    word[qlen] = 0;
  }
  for (size_t i = 0; i < sizeof qualities / sizeof qualities[0]; i++)
    if (word_in_list(word, qualities[i].names)) return &qualities[i];
  return NULL;
}

int notation_chord(const char *symbol, int octave, int *notes, size_t max, size_t *count, char *err, size_t errlen) {
  *count = 0;
  if (!symbol || !*symbol) return errfmt(err, errlen, NOTATION_ERR_SYNTAX, "empty chord symbol");
  if (octave == NOTATION_OCTAVE_DEFAULT) octave = 4;
  if (octave < -1 || octave > 9)
    return errfmt(err, errlen, NOTATION_ERR_RANGE, "chord octave %d is outside -1..9", octave);
  const char *p = symbol;
  int root = parse_root(&p, 1);
  if (root == -100)
    return errfmt(err, errlen, NOTATION_ERR_SYNTAX,
                  "bad chord symbol \"%s\": it must start with a root A-G (upper case)", symbol);
  if (root == -101) return errfmt(err, errlen, NOTATION_ERR_SYNTAX, "bad accidentals in chord root of \"%s\"", symbol);
  /* quality runs to the last '/' whose rest is a root; else to the end ("6/9") */
  const char *qend = p + strlen(p);
  int bass = -100;
  const char *slash = strrchr(p, '/');
  if (slash) {
    const char *b = slash + 1;
    int bpc = parse_root(&b, 1);
    if (bpc > -100 && *b == 0) {
      bass = bpc;
      qend = slash;
    } else if (!find_quality(p, strlen(p))) {
      return errfmt(err, errlen, NOTATION_ERR_SYNTAX,
                    "bad slash bass '%s' in \"%s\": expected a note letter A-G with optional # or b", slash + 1,
                    symbol);
    }
  }
  const quality_t *q = find_quality(p, (size_t)(qend - p));
  if (!q)
    return errfmt(err, errlen, NOTATION_ERR_UNKNOWN, "unknown chord quality '%.*s' in \"%s\"", (int)(qend - p), p,
                  symbol);
  int base = (octave + 1) * 12 + root;
  int tmp[NOTATION_CHORD_MAX];
  size_t n = 0;
  if (bass > -100) {
    int lowest = base;
    int d = (((lowest % 12) - (bass % 12)) % 12 + 12) % 12;
    if (d == 0) d = 12;
    tmp[n++] = lowest - d;
  }
  for (int i = 0; i < q->n; i++) tmp[n++] = base + q->iv[i];
  for (size_t i = 0; i < n; i++) {
    if (tmp[i] < 0 || tmp[i] > 127)
      return errfmt(err, errlen, NOTATION_ERR_RANGE, "chord \"%s\" in octave %d goes outside MIDI 0..127 (%d)", symbol,
                    octave, tmp[i]);
  }
  if (n > max)
    return errfmt(err, errlen, NOTATION_ERR_RANGE, "chord \"%s\" has %zu notes, room for %zu", symbol, n, max);
  memcpy(notes, tmp, n * sizeof(int));
  *count = n;
  return NOTATION_OK;
}

/* ---- patterns ------------------------------------------------------------------------------- */

static json_t *make_note(int n, double s, double d, int v) {
  return json_pack("{s:i, s:f, s:f, s:i}", "n", n, "s", s, "d", d, "v", v);
}

static int append_note(json_t *out, int n, double s, double d, int v) {
  json_t *note = make_note(n, s, d, v);
  if (!note || json_array_append_new(out, note) != 0) return NOTATION_ERR_NOMEM;
  return NOTATION_OK;
}

int notation_pattern(const char *pattern, int pitch, double grid, double start, double duration,
                     const notation_opts_t *opts, json_t *out, char *err, size_t errlen) {
  notation_opts_t defs;
  if (!opts) {
    notation_opts_default(&defs);
    opts = &defs;
  }
  if (!pattern) return errfmt(err, errlen, NOTATION_ERR_SYNTAX, "missing step pattern");
  if (!(grid > 0) || grid > 64)
    return errfmt(err, errlen, NOTATION_ERR_RANGE, "pattern grid %g must be > 0 beats (0.25 = sixteenth notes)", grid);
  if (pitch < 0 || pitch > 127)
    return errfmt(err, errlen, NOTATION_ERR_RANGE, "pattern pitch %d is outside MIDI 0..127", pitch);
  if (!(duration > 0)) duration = grid;
  int step = 0;
  for (const char *p = pattern; *p; p++) {
    int v = 0;
    switch (*p) {
    case 'x': v = opts->velocity; break;
    case 'X': v = opts->accent_velocity; break;
    case 'o': v = opts->ghost_velocity; break;
    case '.':
    case '-':
    case '_': break;
    case '|':
    case ' ':
    case '\t': continue;
    default:
      if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
        errmsg(err, errlen,
               "bad character at position %d of step pattern \"%s\" (use x X o for hits, . or - "
               "for rests)",
               (int)(p - pattern) + 1, pattern);
      else
        errmsg(err, errlen,
               "bad character '%c' at position %d of step pattern \"%s\" (use x X o for hits, "
               ". or - for rests)",
               *p, (int)(p - pattern) + 1, pattern);
      return NOTATION_ERR_SYNTAX;
    }
    if (v > 0) {
      if (append_note(out, pitch, start + step * grid, duration, v) != 0) return NOTATION_ERR_NOMEM;
    }
    step++;
  }
  if (step == 0) return errfmt(err, errlen, NOTATION_ERR_SYNTAX, "empty step pattern \"%s\"", pattern);
  return NOTATION_OK;
}

/* ---- expansion ------------------------------------------------------------------------------ */

typedef struct {
  const notation_opts_t *opts;
  json_t *out;
  double cursor; /* for consecutive plain strings */
  char *err;
  size_t errlen;
  char where[48];
} expand_t;

static void xerr(expand_t *x, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (x->where[0])
    errmsg(x->err, x->errlen, "%s: %s", x->where, msg);
  else
    errmsg(x->err, x->errlen, "%s", msg);
}

static int is_pattern_text(const char *s) {
  int steps = 0;
  for (; *s; s++) {
    if (strchr("xXo", *s))
      steps++;
    else if (strchr(".-_", *s))
      steps++;
    else if (!strchr("| \t", *s))
      return 0;
  }
  return steps > 0;
}

/* Resolve a symbol to pitches: note name, drum name, or (allow_chord) chord symbol. */
static int resolve_symbol(expand_t *x, const char *sym, int allow_chord, int octave, int *pitches, size_t *count) {
  char e1[200];
  int m;
  *count = 0;
  if (notation_parse_note(sym, &m, e1, sizeof e1) == NOTATION_OK) {
    pitches[0] = m;
    *count = 1;
    return NOTATION_OK;
  }
  /* A well-formed note name that is out of range: report that. */
  const char *p = sym;
  int r = parse_root(&p, 0);
  if (r > -100 && (*p == '-' || isdigit((unsigned char)*p))) {
    const char *q = p + (*p == '-');
    while (isdigit((unsigned char)*q)) q++;
    if (!*q) {
      xerr(x, "%s", e1);
      return NOTATION_ERR_RANGE;
    }
  }
  char e2[300] = "";
  if (allow_chord && sym[0] >= 'A' && sym[0] <= 'G') {
    if (notation_chord(sym, octave, pitches, NOTATION_CHORD_MAX, count, e2, sizeof e2) == NOTATION_OK)
      return NOTATION_OK;
    *count = 0;
  }
  if (notation_drum(sym, &m, NULL, 0) == NOTATION_OK) {
    pitches[0] = m;
    *count = 1;
    return NOTATION_OK;
  }
  if (e2[0]) {
    xerr(x, "%s", e2);
    return NOTATION_ERR_UNKNOWN;
  }
  xerr(x, "unknown symbol '%s': not a note name (C4 = 60), a drum name (kick, snare, closed hat)%s", sym,
       allow_chord ? " or a chord symbol (Am7, Cmaj7/E)" : "");
  return NOTATION_ERR_UNKNOWN;
}

static const json_t *get_any(const json_t *obj, const char *const *keys) {
  for (; *keys; keys++) {
    const json_t *v = json_object_get(obj, *keys);
    if (v) return v;
  }
  return NULL;
}

static const char *const K_N[] = {"n", "note", "pitch", "midi", NULL};
static const char *const K_S[] = {"s", "start", "time", "start_time", "beat", NULL};
static const char *const K_D[] = {"d", "duration", "dur", "length", "len", NULL};
static const char *const K_V[] = {"v", "velocity", "vel", NULL};

static int get_number(expand_t *x, const json_t *obj, const char *const *keys, int required, double def, double *out) {
  const json_t *v = get_any(obj, keys);
  if (!v) {
    if (required) {
      xerr(x, "missing '%s' (%s in beats)", keys[0], keys == K_S ? "start" : "duration");
      return NOTATION_ERR_TYPE;
    }
    *out = def;
    return NOTATION_OK;
  }
  if (json_is_number(v)) {
    *out = json_number_value(v);
    return NOTATION_OK;
  }
  if (json_is_string(v)) {
    char *end;
    const char *s = json_string_value(v);
    double d = strtod(s, &end);
    while (*end == ' ') end++;
    if (end != s && *end == 0) {
      *out = d;
      return NOTATION_OK;
    }
  }
  xerr(x, "'%s' must be a number of beats", keys[0]);
  return NOTATION_ERR_TYPE;
}

static int get_velocity(expand_t *x, const json_t *obj, json_t **vout) {
  const json_t *v = get_any(obj, K_V);
  if (!v) {
    *vout = json_integer(x->opts->velocity);
    return NOTATION_OK;
  }
  if (!json_is_number(v)) {
    xerr(x, "velocity 'v' must be a number 1..127");
    return NOTATION_ERR_TYPE;
  }
  *vout = json_deep_copy(v);
  return NOTATION_OK;
}

static int get_octave(expand_t *x, const json_t *obj, int *oct) {
  const json_t *o = json_object_get(obj, "octave");
  *oct = x->opts->chord_octave;
  if (!o) return NOTATION_OK;
  if (!json_is_integer(o) || json_integer_value(o) < -1 || json_integer_value(o) > 9) {
    xerr(x, "'octave' must be an integer -1..9");
    return NOTATION_ERR_RANGE;
  }
  *oct = (int)json_integer_value(o);
  return NOTATION_OK;
}

static int add_pitches(expand_t *x, const int *pitches, size_t count, double s, double d, const json_t *v) {
  for (size_t i = 0; i < count; i++) {
    json_t *note = json_pack("{s:i, s:f, s:f, s:O}", "n", pitches[i], "s", s, "d", d, "v", v);
    if (!note || json_array_append_new(x->out, note) != 0) {
      xerr(x, "out of memory");
      return NOTATION_ERR_NOMEM;
    }
  }
  return NOTATION_OK;
}

static int parse_duration_text(const char *t, double *out) {
  char *end;
  double a = strtod(t, &end);
  if (end == t) return -1;
  if (*end == '/') {
    const char *b = end + 1;
    double den = strtod(b, &end);
    if (end == b || den == 0) return -1;
    a /= den;
  }
  if (*end) return -1;
  *out = a;
  return 0;
}

/* A sequence of whitespace/comma separated tokens SYM[:DUR]; chords_only: every token is a chord. */
static int expand_sequence(expand_t *x, const char *text, double *cursor, double dflt, int octave, const json_t *vel,
                           int chords_only) {
  size_t len = strlen(text);
  char *buf = malloc(len + 1);
  if (!buf) {
    xerr(x, "out of memory");
    return NOTATION_ERR_NOMEM;
  }
  memcpy(buf, text, len + 1);
  int rc = NOTATION_OK, tokens = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, " \t\r\n,", &save); tok; tok = strtok_r(NULL, " \t\r\n,", &save)) {
    if (strcmp(tok, "|") == 0 || strcmp(tok, "||") == 0) continue;
    tokens++;
    double d = dflt;
    char *colon = strrchr(tok, ':');
    if (colon) {
      *colon = 0;
      if (parse_duration_text(colon + 1, &d) != 0 || !(d > 0)) {
        xerr(x, "bad duration '%s' after '%s' (write SYMBOL:BEATS, e.g. Am7:4)", colon + 1, tok);
        rc = NOTATION_ERR_SYNTAX;
        break;
      }
    }
    if (strcmp(tok, "r") == 0 || strcmp(tok, "rest") == 0 || strcmp(tok, "R") == 0 || strcmp(tok, ".") == 0 ||
        strcmp(tok, "-") == 0) {
      *cursor += d;
      continue;
    }
    int pitches[NOTATION_CHORD_MAX];
    size_t count = 0;
    if (chords_only) {
      char e2[300];
      rc = notation_chord(tok, octave, pitches, NOTATION_CHORD_MAX, &count, e2, sizeof e2);
      if (rc != NOTATION_OK) xerr(x, "%s", e2);
    } else {
      rc = resolve_symbol(x, tok, 1, octave, pitches, &count);
    }
    if (rc != NOTATION_OK) break;
    rc = add_pitches(x, pitches, count, *cursor, d, vel);
    if (rc != NOTATION_OK) break;
    *cursor += d;
  }
  if (rc == NOTATION_OK && tokens == 0) {
    xerr(x, "empty note sequence \"%s\"", text);
    rc = NOTATION_ERR_SYNTAX;
  }
  free(buf);
  return rc;
}

/* "kick: x...x..." → pattern; returns 1 if handled (rc in *rc), 0 if not a pattern string. */
static int try_pattern_string(expand_t *x, const char *s, int *rc) {
  const char *colon = strchr(s, ':');
  if (!colon) return 0;
  const char *pat = colon + 1;
  while (*pat == ' ' || *pat == '\t') pat++;
  if (!is_pattern_text(pat)) return 0;
  char name[64];
  size_t nl = (size_t)(colon - s);
  while (nl > 0 && s[nl - 1] == ' ') nl--;
  if (nl == 0 || nl >= sizeof name) return 0;
  memcpy(name, s, nl);
  name[nl] = 0;
  int pitches[NOTATION_CHORD_MAX];
  size_t count;
  *rc = resolve_symbol(x, name, 0, 4, pitches, &count);
  if (*rc != NOTATION_OK) return 1;
  char e[300];
  *rc = notation_pattern(pat, pitches[0], 0.25, 0, 0, x->opts, x->out, e, sizeof e);
  if (*rc != NOTATION_OK) xerr(x, "%s", e);
  return 1;
}

static int expand_string(expand_t *x, const char *s) {
  int rc;
  if (try_pattern_string(x, s, &rc)) return rc;
  if (is_pattern_text(s) && strchr(s, 'x')) {
    xerr(x, "step pattern \"%s\" needs a sound: write \"kick: %s\" or {\"drum\": \"kick\", \"pattern\": ...}", s, s);
    return NOTATION_ERR_SYNTAX;
  }
  json_t *vel = json_integer(x->opts->velocity);
  rc = expand_sequence(x, s, &x->cursor, x->opts->default_duration, x->opts->chord_octave, vel, 0);
  json_decref(vel);
  return rc;
}

static int expand_object(expand_t *x, const json_t *obj) {
  int rc;
  json_t *vel = NULL;
  const json_t *pattern = json_object_get(obj, "pattern");
  const json_t *chord = json_object_get(obj, "chord");
  const json_t *chords = json_object_get(obj, "chords");
  const json_t *seq = json_object_get(obj, "sequence");
  if (!seq) seq = json_object_get(obj, "melody");
  const json_t *drum = json_object_get(obj, "drum");

  if (pattern) {
    if (!json_is_string(pattern)) {
      xerr(x, "'pattern' must be a string like \"x...x...\"");
      return NOTATION_ERR_TYPE;
    }
    const json_t *who = drum ? drum : get_any(obj, K_N);
    int pitch;
    if (!who) {
      xerr(x, "pattern \"%s\" needs a sound: add \"drum\": \"kick\" or \"n\": 36", json_string_value(pattern));
      return NOTATION_ERR_TYPE;
    }
    if (json_is_integer(who)) {
      pitch = (int)json_integer_value(who);
    } else if (json_is_string(who)) {
      int pitches[NOTATION_CHORD_MAX];
      size_t count;
      rc = resolve_symbol(x, json_string_value(who), 0, 4, pitches, &count);
      if (rc != NOTATION_OK) return rc;
      pitch = pitches[0];
    } else {
      xerr(x, "'drum' must be a drum name or MIDI number");
      return NOTATION_ERR_TYPE;
    }
    double grid, s, d, repeat;
    const char *const kg[] = {"grid", "step", NULL};
    const char *const kr[] = {"repeat", "repeats", "times", NULL};
    if ((rc = get_number(x, obj, kg, 0, 0.25, &grid)) || (rc = get_number(x, obj, K_S, 0, 0, &s)) ||
        (rc = get_number(x, obj, K_D, 0, 0, &d)) || (rc = get_number(x, obj, kr, 0, 1, &repeat)))
      return rc;
    if (repeat < 1 || repeat > 1024 || repeat != floor(repeat)) {
      xerr(x, "'repeat' must be an integer 1..1024");
      return NOTATION_ERR_RANGE;
    }
    notation_opts_t o = *x->opts;
    const json_t *v = get_any(obj, K_V);
    if (v) {
      if (!json_is_integer(v)) {
        xerr(x, "velocity 'v' must be an integer 1..127");
        return NOTATION_ERR_TYPE;
      }
      o.velocity = (int)json_integer_value(v);
    }
    const json_t *acc = json_object_get(obj, "accent");
    if (json_is_integer(acc)) o.accent_velocity = (int)json_integer_value(acc);
    /* steps per repetition */
    int steps = 0;
    for (const char *p = json_string_value(pattern); *p; p++)
      if (!strchr("| \t", *p)) steps++;
    for (int r = 0; r < (int)repeat; r++) {
      char e[300];
      rc = notation_pattern(json_string_value(pattern), pitch, grid, s + r * steps * grid, d, &o, x->out, e, sizeof e);
      if (rc != NOTATION_OK) {
        xerr(x, "%s", e);
        return rc;
      }
    }
    return NOTATION_OK;
  }

  if (chord) {
    if (!json_is_string(chord)) {
      xerr(x, "'chord' must be a chord symbol string like \"Am7\"");
      return NOTATION_ERR_TYPE;
    }
    double s, d;
    int oct;
    if ((rc = get_number(x, obj, K_S, 1, 0, &s)) || (rc = get_number(x, obj, K_D, 1, 0, &d)) ||
        (rc = get_octave(x, obj, &oct)) || (rc = get_velocity(x, obj, &vel)))
      return rc;
    int pitches[NOTATION_CHORD_MAX];
    size_t count;
    char e[300];
    rc = notation_chord(json_string_value(chord), oct, pitches, NOTATION_CHORD_MAX, &count, e, sizeof e);
    if (rc != NOTATION_OK)
      xerr(x, "%s", e);
    else
      rc = add_pitches(x, pitches, count, s, d, vel);
    json_decref(vel);
    return rc;
  }

  if (chords || seq) {
    const json_t *src = chords ? chords : seq;
    double s, d;
    int oct;
    if ((rc = get_number(x, obj, K_S, 0, 0, &s)) || (rc = get_number(x, obj, K_D, 0, x->opts->default_duration, &d)) ||
        (rc = get_octave(x, obj, &oct)) || (rc = get_velocity(x, obj, &vel)))
      return rc;
    double cursor = s;
    if (json_is_string(src)) {
      rc = expand_sequence(x, json_string_value(src), &cursor, d, oct, vel, chords != NULL);
    } else if (json_is_array(src)) {
      size_t i;
      const json_t *it;
      rc = NOTATION_OK;
      json_array_foreach(src, i, it) {
        if (!json_is_string(it)) {
          xerr(x, "'%s' items must be strings", chords ? "chords" : "sequence");
          rc = NOTATION_ERR_TYPE;
          break;
        }
        rc = expand_sequence(x, json_string_value(it), &cursor, d, oct, vel, chords != NULL);
        if (rc) break;
      }
    } else {
      xerr(x, "'%s' must be a string like \"Am7:4 F:4\"", chords ? "chords" : "sequence");
      rc = NOTATION_ERR_TYPE;
    }
    json_decref(vel);
    return rc;
  }

  const json_t *n = drum ? drum : get_any(obj, K_N);
  if (!n) {
    xerr(x, "a note needs 'n' (MIDI number or name like \"C4\"), or use \"chord\", \"drum\"+\"pattern\"");
    return NOTATION_ERR_TYPE;
  }
  double s, d;
  if ((rc = get_number(x, obj, K_S, 1, 0, &s)) || (rc = get_number(x, obj, K_D, 1, 0, &d)) ||
      (rc = get_velocity(x, obj, &vel)))
    return rc;
  if (json_is_number(n)) {
    json_t *note = json_pack("{s:O, s:f, s:f, s:O}", "n", n, "s", s, "d", d, "v", vel);
    if (json_is_real(n) && json_real_value(n) == floor(json_real_value(n)) && fabs(json_real_value(n)) < 1e6)
      json_object_set_new(note, "n", json_integer((json_int_t)json_real_value(n)));
    rc = json_array_append_new(x->out, note) == 0 ? NOTATION_OK : NOTATION_ERR_NOMEM;
  } else if (json_is_string(n)) {
    int pitches[NOTATION_CHORD_MAX];
    size_t count;
    int oct;
    rc = get_octave(x, obj, &oct);
    if (rc == NOTATION_OK) rc = resolve_symbol(x, json_string_value(n), 1, oct, pitches, &count);
    if (rc == NOTATION_OK) rc = add_pitches(x, pitches, count, s, d, vel);
  } else {
    xerr(x, "'n' must be a MIDI number or a note name like \"C4\"");
    rc = NOTATION_ERR_TYPE;
  }
  json_decref(vel);
  return rc;
}

static int expand_item(expand_t *x, const json_t *it) {
  if (json_is_object(it)) return expand_object(x, it);
  if (json_is_string(it)) return expand_string(x, json_string_value(it));
  if (json_is_number(it)) {
    xerr(x, "a bare number is not a note; write {\"n\": %g, \"s\": 0, \"d\": 1, \"v\": 100}", json_number_value(it));
    return NOTATION_ERR_TYPE;
  }
  xerr(x, "expected a note object {n, s, d, v}, a chord/pattern object or a string");
  return NOTATION_ERR_TYPE;
}

static int cmp_notes(const void *a, const void *b) {
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  double sx = json_number_value(json_object_get(x, "s")), sy = json_number_value(json_object_get(y, "s"));
  if (sx < sy - EPS) return -1;
  if (sx > sy + EPS) return 1;
  double nx = json_number_value(json_object_get(x, "n")), ny = json_number_value(json_object_get(y, "n"));
  return (nx > ny) - (nx < ny);
}

json_t *notation_expand_notes(const json_t *spec, const notation_opts_t *opts, char *err, size_t errlen) {
  notation_opts_t defs;
  if (!opts) {
    notation_opts_default(&defs);
    opts = &defs;
  }
  if (err && errlen) err[0] = 0;
  if (!spec) {
    errmsg(err, errlen, "missing notes");
    return NULL;
  }
  expand_t x = {.opts = opts, .out = json_array(), .err = err, .errlen = errlen};
  if (!x.out) {
    errmsg(err, errlen, "out of memory");
    return NULL;
  }
  int rc = NOTATION_OK;
  if (json_is_array(spec)) {
    size_t i;
    const json_t *it;
    json_array_foreach(spec, i, it) {
      snprintf(x.where, sizeof x.where, "notes[%zu]", i);
      rc = expand_item(&x, it);
      if (rc != NOTATION_OK) break;
    }
  } else if (json_is_object(spec) || json_is_string(spec)) {
    rc = expand_item(&x, spec);
  } else {
    errmsg(err, errlen, "notes must be an array of {n, s, d, v} objects, a chord/pattern object or a string");
    rc = NOTATION_ERR_TYPE;
  }
  if (rc != NOTATION_OK) {
    json_decref(x.out);
    return NULL;
  }
  size_t n = json_array_size(x.out);
  if (n > 1) {
    json_t **v = malloc(n * sizeof *v);
    if (!v) {
      json_decref(x.out);
      errmsg(err, errlen, "out of memory");
      return NULL;
    }
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(x.out, i));
    /* stable: insertion sort keeps the written order for equal keys; qsort is fine since ties are
         * only identical (s, n) pairs whose order does not matter for playback */
    qsort(v, n, sizeof *v, cmp_notes);
    json_array_clear(x.out);
    for (size_t i = 0; i < n; i++) json_array_append_new(x.out, v[i]);
    free(v);
  }
  return x.out;
}

static void fmt_note(const json_t *note, char *buf, size_t len) {
  char *s = json_dumps(note, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
  snprintf(buf, len, "%s", s ? s : "?");
  free(s);
}

int notation_check_notes(const json_t *notes, double clip_length, char *err, size_t errlen) {
  if (!json_is_array(notes)) {
    errmsg(err, errlen, "notes must be an array");
    return 1;
  }
  int bad = 0;
  size_t i;
  const json_t *note;
  json_array_foreach(notes, i, note) {
    char msg[200] = "";
    const json_t *n = json_object_get(note, "n"), *s = json_object_get(note, "s"), *d = json_object_get(note, "d"),
                 *v = json_object_get(note, "v");
    if (!json_is_object(note))
      snprintf(msg, sizeof msg, "is not an object");
    else if (!json_is_number(n) || json_number_value(n) != floor(json_number_value(n)))
      snprintf(msg, sizeof msg, "n must be an integer MIDI note 0..127");
    else if (json_number_value(n) < 0 || json_number_value(n) > 127)
      snprintf(msg, sizeof msg, "n %g is outside MIDI 0..127", json_number_value(n));
    else if (!json_is_number(s))
      snprintf(msg, sizeof msg, "s (start in beats) must be a number");
    else if (json_number_value(s) < 0)
      snprintf(msg, sizeof msg, "starts at %g, before the clip start (s must be >= 0)", json_number_value(s));
    else if (!json_is_number(d) || !(json_number_value(d) > 0))
      snprintf(msg, sizeof msg, "d (duration in beats) must be a number > 0");
    else if (v && (!json_is_number(v) || json_number_value(v) != floor(json_number_value(v))))
      snprintf(msg, sizeof msg, "v must be an integer velocity 1..127");
    else if (v && (json_number_value(v) < 1 || json_number_value(v) > 127))
      snprintf(msg, sizeof msg, "velocity %g is outside 1..127", json_number_value(v));
    else if (clip_length > 0 && json_number_value(s) >= clip_length - EPS)
      snprintf(msg, sizeof msg, "starts at %g, at or after the clip end %g", json_number_value(s), clip_length);
    else if (clip_length > 0 && json_number_value(s) + json_number_value(d) > clip_length + EPS)
      snprintf(msg, sizeof msg, "ends at %g, after the clip end %g", json_number_value(s) + json_number_value(d),
               clip_length);
    if (msg[0]) {
      if (bad == 0) {
        char nb[160];
        fmt_note(note, nb, sizeof nb);
        errmsg(err, errlen, "note %zu %s: %s", i + 1, nb, msg);
      }
      bad++;
    }
  }
  if (bad > 1 && err && errlen) {
    size_t l = strlen(err);
    snprintf(err + l, errlen - l, " (%d notes have problems)", bad);
  }
  return bad;
}
