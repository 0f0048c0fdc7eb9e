/* context: tempo, meter, chords per beat, key, per-track statistics, clashes and registers. */
#include "context.h"

#include "notation.h"
#include "jsonget.h"
#include "strbuf.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-4

const char *context_strerror(int code) {
  switch (code) {
  case CONTEXT_OK: return "ok";
  case CONTEXT_ERR_ARG: return "bad argument";
  case CONTEXT_ERR_NOMEM: return "out of memory";
  default: return "unknown context error";
  }
}

/* ---- chord naming --------------------------------------------------------------------------- */

typedef struct {
  const char *suffix;
  int n;
  int iv[6];
} ctpl_t;

/* In order of preference when several roots fit. */
static const ctpl_t tpls[] = {
    {"", 3, {0, 4, 7}},
    {"m", 3, {0, 3, 7}},
    {"7", 4, {0, 4, 7, 10}},
    {"m7", 4, {0, 3, 7, 10}},
    {"maj7", 4, {0, 4, 7, 11}},
    {"dim", 3, {0, 3, 6}},
    {"aug", 3, {0, 4, 8}},
    {"sus4", 3, {0, 5, 7}},
    {"sus2", 3, {0, 2, 7}},
    {"m7b5", 4, {0, 3, 6, 10}},
    {"dim7", 4, {0, 3, 6, 9}},
    {"6", 4, {0, 4, 7, 9}},
    {"m6", 4, {0, 3, 7, 9}},
    {"mM7", 4, {0, 3, 7, 11}},
    {"7sus4", 4, {0, 5, 7, 10}},
    {"aug7", 4, {0, 4, 8, 10}},
    {"add9", 4, {0, 2, 4, 7}},
    {"madd9", 4, {0, 2, 3, 7}},
    {"9", 5, {0, 2, 4, 7, 10}},
    {"maj9", 5, {0, 2, 4, 7, 11}},
    {"m9", 5, {0, 2, 3, 7, 10}},
    {"7", 3, {0, 4, 10}},
    {"maj7", 3, {0, 4, 11}},
    {"m7", 3, {0, 3, 10}},
    {"6/9", 5, {0, 2, 4, 7, 9}},
    {"7b9", 5, {0, 1, 4, 7, 10}},
    {"7#9", 5, {0, 3, 4, 7, 10}},
    {"11", 5, {0, 2, 5, 7, 10}},
    {"m11", 6, {0, 2, 3, 5, 7, 10}},
    {"13", 5, {0, 2, 4, 9, 10}},
    {"7b5", 4, {0, 4, 6, 10}},
    {"7b9", 4, {0, 1, 4, 10}},
    {"7#9", 4, {0, 3, 4, 10}},
    {"5", 2, {0, 7}},
};

static const char *const common_names[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};

static const char *pc_name(int pc, int use_flats) {
  pc = ((pc % 12) + 12) % 12;
  if (use_flats < 0) return common_names[pc];
  return notation_pc_name(pc, use_flats);
}

static unsigned rot_mask(const ctpl_t *t, int root) {
  unsigned m = 0;
  for (int i = 0; i < t->n; i++) m |= 1u << ((root + t->iv[i]) % 12);
  return m;
}

int context_chord_name(unsigned pc_mask, int bass_pc, int use_flats, char *buf, size_t buflen) {
  if (buf && buflen) buf[0] = 0;
  pc_mask &= 0xFFF;
  int best_score = 1 << 30, best_root = -1;
  const ctpl_t *best = NULL;
  for (int root = 0; root < 12; root++) {
    if (!(pc_mask & (1u << root))) continue;
    for (size_t i = 0; i < sizeof tpls / sizeof tpls[0]; i++) {
      if (rot_mask(&tpls[i], root) != pc_mask) continue;
      int score = (int)i + (bass_pc >= 0 && bass_pc != root ? 100 : 0);
      if (score < best_score) {
        best_score = score;
        best_root = root;
        best = &tpls[i];
      }
    }
  }
  if (!best) return -1;
  if (buf && buflen) {
    if (bass_pc >= 0 && bass_pc != best_root)
      snprintf(buf, buflen, "%s%s/%s", pc_name(best_root, use_flats), best->suffix, pc_name(bass_pc, use_flats));
    else
      snprintf(buf, buflen, "%s%s", pc_name(best_root, use_flats), best->suffix);
  }
  return best_root;
}

/* Chord-tone index of the bass (0 root, 1 third, 2 fifth, 3 seventh) for the inversion field. */
static int inversion_of(int root, int bass_pc) {
  if (root < 0 || bass_pc < 0) return 0;
  int iv = ((bass_pc - root) % 12 + 12) % 12;
  switch (iv) {
  case 0: return 0;
  case 3:
  case 4:
  case 2:
  case 5: return 1;
  case 6:
  case 7:
  case 8: return 2;
  case 9:
  case 10:
  case 11: return 3;
  default: return 0;
  }
}

/* ---- data collection ------------------------------------------------------------------------ */

/* 16 bytes: big sessions sort and copy hundreds of thousands of these. Times in float beats (1/256 beat at
 * 65,536 beats, plenty for analysis). */
typedef struct {
  float s, e;
  int track;
  short n;
} cnote_t;

typedef struct {
  const char *id, *name;
  int drums, muted;
  double clip_beats;
  size_t first, count; /* the track's notes in the by-track copy */
} ctrack_t;

static int word_prefix_match(const char *text, const char *const *words) {
  char buf[256];
  size_t o = 0;
  for (const char *p = text; *p && o + 1 < sizeof buf; p++) buf[o++] = (char)tolower((unsigned char)*p);
  buf[o] = 0;
  for (char *p = buf; *p;) {
    while (*p && !isalnum((unsigned char)*p)) p++;
    if (!*p) break;
    for (int i = 0; words[i]; i++)
      if (!strncmp(p, words[i], strlen(words[i]))) return 1;
    /* camel-case or glued words: also look inside the word */
    while (*p && isalnum((unsigned char)*p)) p++;
  }
  return 0;
}

static int drum_hint(const char *s) {
  static const char *const words[] = {
      "drum", "kick", "snare", "hat", "hihat",  "hh",    "perc",  "cymbal", "tom",     "clap",   "ride", "crash", "808",
      "909",  "beat", "kit",   "rim", "shaker", "conga", "bongo", "tamb",   "cowbell", "groove", "bd",   "sd",    NULL};
  return s && word_prefix_match(s, words);
}

static int cmp_cnote(const void *a, const void *b) {
  const cnote_t *x = a, *y = b;
  if (x->s < y->s) return -1;
  if (x->s > y->s) return 1;
  return (x->n > y->n) - (x->n < y->n);
}

/* ---- key estimation ------------------------------------------------------------------------- */

static const double ks_major[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
static const double ks_minor[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};
static const char *const major_tonic[12] = {"C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
static const char *const minor_tonic[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"};

static double pearson(const double *x, const double *y) {
  double mx = 0, my = 0;
  for (int i = 0; i < 12; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= 12;
  my /= 12;
  double sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < 12; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return 0;
  return sxy / sqrt(sxx * syy);
}

static int key_uses_flats(int tonic, int minor) {
  static const int maj_flats[] = {5, 10, 3, 8, 1, 6}, min_flats[] = {2, 7, 0, 5, 10, 3};
  const int *l = minor ? min_flats : maj_flats;
  for (int i = 0; i < 6; i++)
    if (l[i] == tonic) return 1;
  return 0;
}

static double round3(double x) { return round(x * 1000.0) / 1000.0; }

/* One quarter-note beat of the pitched material. */
typedef struct {
  double w[12];       /* sounding time per pitch class */
  int bass, bass_any; /* lowest note sounding >= a 16th (else any), -1 none */
  unsigned mask;      /* pitch classes sounding >= a 16th */
  int root;           /* chord root, -1 when no chord fits */
} beat_t;

/* Candidate modes: scale membership per degree (1 in the scale, fractions for the usual chromatic degrees
 * of that mode: the raised 6th/7th of minor, the blue third and fifth of the blues), the Krumhansl profile
 * used for the correlation term, the tonic triad's third (4 major, 3 minor), a prior, and the major key
 * whose signature names the notes (semitones above the tonic). */
typedef struct {
  const char *name;
  double scale[12];
  int minor_profile, third, parent;
  double prior;
} kmode_t;

static const kmode_t kmodes[] = {
    {"major", {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1}, 0, 4, 0, 0.15},
    {"minor", {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0.8}, 1, 3, 3, 0.10},
    {"dorian", {1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0.3}, 1, 3, 10, 0.0},
    {"mixolydian", {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0.3}, 0, 4, 5, -0.05},
    {"blues", {1, 0, 1, 0.8, 1, 1, 0.5, 1, 0, 1, 1, 0.8}, 0, 4, 5, 0.15},
};
#define NKMODES (sizeof kmodes / sizeof kmodes[0])

/* Weights of the evidence terms (see context.h). */
#define KW_FIT 3.0
#define KW_KS 0.5
#define KW_ROOT 1.0
#define KW_BASS 0.6
#define KW_FIRST 0.5
#define KW_LAST 0.3
#define KW_CADENCE 0.6
#define KW_TONIC_QUALITY 0.3
/* The chord that marks a mode: the major IV of the dorian, the major bVII of the mixolydian. */
#define KW_MODAL_CHORD 0.2
/* A melody without chords (chords on fewer than 30% of the sounding beats): its last note is the strongest
 * tonic hint, its first often a pickup on the fifth or third, and its lowest notes say nothing. */
#define KW_MELODY_FIRST 0.2
#define KW_MELODY_LAST 0.6

typedef struct {
  int root;
  unsigned mask;
  double dur;
} kevent_t;

static int popcount12(unsigned m) {
  int c = 0;
  for (int i = 0; i < 12; i++) c += (m >> i) & 1u;
  return c;
}

static int has_pc(unsigned mask, int root, int iv) { return (mask >> ((root + iv) % 12)) & 1u; }

static void key_name(int tonic, int m, char *buf, size_t len, int *flats_out) {
  int flats;
  const char *t;
  if (m == 0) {
    flats = key_uses_flats(tonic, 0);
    t = major_tonic[tonic];
  } else if (m == 1) {
    flats = key_uses_flats(tonic, 1);
    t = minor_tonic[tonic];
  } else {
    int parent = (tonic + kmodes[m].parent) % 12;
    flats = key_uses_flats(parent, 0);
    t = notation_pc_name(tonic, flats);
  }
  snprintf(buf, len, "%s %s", t, kmodes[m].name);
  if (flats_out) *flats_out = flats;
}

static json_t *estimate_key(const double *hist, double total, const beat_t *bt, int nbeats, int first_pc, int last_pc,
                            int *use_flats) {
  double h[12];
  for (int i = 0; i < 12; i++) h[i] = hist[i] / total;
  /* chord events: consecutive beats with the same chord merged */
  kevent_t ev[CONTEXT_MAX_BEATS];
  int nev = 0, chord_beats = 0;
  double root_share[12] = {0}, bass_share[12] = {0}, tonic_major[12] = {0}, tonic_minor[12] = {0};
  int major_chord[12] = {0};
  int tonic_b7[12] = {0}, bass_beats = 0, sounding = 0;
  for (int b = 0; b < nbeats; b++) {
    if (bt[b].bass >= 0) {
      bass_share[bt[b].bass % 12] += 1;
      bass_beats++;
    }
    if (bt[b].mask) sounding++;
    int r = bt[b].root;
    if (r < 0 || popcount12(bt[b].mask) < 3) continue;
    chord_beats++;
    root_share[r] += 1;
    if (has_pc(bt[b].mask, r, 4)) {
      tonic_major[r] += 1;
      if (has_pc(bt[b].mask, r, 7)) major_chord[r] = 1;
    } else if (has_pc(bt[b].mask, r, 3))
      tonic_minor[r] += 1;
    if (has_pc(bt[b].mask, r, 10) && has_pc(bt[b].mask, r, 4)) tonic_b7[r]++;
    if (nev && ev[nev - 1].root == r && ev[nev - 1].mask == bt[b].mask)
      ev[nev - 1].dur += 1;
    else
      ev[nev++] = (kevent_t){.root = r, .mask = bt[b].mask, .dur = 1};
  }
  for (int i = 0; i < 12; i++) {
    if (chord_beats) root_share[i] /= chord_beats;
    if (bass_beats) bass_share[i] /= bass_beats;
  }
  /* cadences into each pitch class: a dominant (major-third chord a fifth above) or leading-tone diminished
     * chord resolving to it; the last resolution of the piece counts double, a final plagal IV-I a little. */
  double cad[12] = {0};
  for (int i = 1; i < nev; i++) {
    int x = ev[i - 1].root, y = ev[i].root;
    double wgt = i == nev - 1 ? 2.0 : 1.0;
    if (x == (y + 7) % 12 && has_pc(ev[i - 1].mask, x, 4))
      cad[y] += wgt;
    else if (x == (y + 11) % 12 && has_pc(ev[i - 1].mask, x, 3) && has_pc(ev[i - 1].mask, x, 6))
      cad[y] += 0.5 * wgt;
    else if (i == nev - 1 && x == (y + 5) % 12)
      cad[y] += 0.5;
  }
  int melody = chord_beats * 10 < sounding * 3;
  int first = !melody && nev ? ev[0].root : first_pc, last = !melody && nev ? ev[nev - 1].root : last_pc;
  double w_first = melody ? KW_MELODY_FIRST : KW_FIRST, w_last = melody ? KW_MELODY_LAST : KW_LAST;
  double w_bass = melody ? 0 : KW_BASS;

  double best = -1e9, second = -1e9, best_ks = 0;
  int bk = 0, bm = 0, sk = -1, sm = 0;
  for (int t = 0; t < 12; t++) {
    double prof_maj[12], prof_min[12];
    for (int i = 0; i < 12; i++) {
      prof_maj[i] = ks_major[((i - t) + 12) % 12];
      prof_min[i] = ks_minor[((i - t) + 12) % 12];
    }
    double ks_maj = pearson(h, prof_maj), ks_min = pearson(h, prof_min);
    double tq = tonic_major[t] + tonic_minor[t];
    for (size_t m = 0; m < NKMODES; m++) {
      const kmode_t *km = &kmodes[m];
      /* the blues needs a dominant-seventh tonic chord on at least half of its beats */
      if (!strcmp(km->name, "blues") && !(tonic_b7[t] > 0 && 2 * tonic_b7[t] >= tonic_major[t] + tonic_minor[t]))
        continue;
      double fit = 0;
      for (int i = 0; i < 12; i++) fit += h[(t + i) % 12] * km->scale[i];
      double ks = km->minor_profile ? ks_min : ks_maj;
      double sc = KW_FIT * fit + KW_KS * ks + KW_ROOT * root_share[t] + w_bass * bass_share[t] + km->prior;
      if (first == t) sc += w_first;
      if (last == t) sc += w_last;
      sc += KW_CADENCE * fmin(1.0, cad[t] / 2.0);
      if ((!strcmp(km->name, "dorian") && major_chord[(t + 5) % 12]) ||
          (!strcmp(km->name, "mixolydian") && major_chord[(t + 10) % 12]))
        sc += KW_MODAL_CHORD;
      if (tq > 0) {
        double right = km->third == 4 ? tonic_major[t] : tonic_minor[t];
        sc += right * 2 >= tq ? KW_TONIC_QUALITY : -2 * KW_TONIC_QUALITY;
      } else {
        /* no chord on the tonic: the melody's third decides */
        double want = h[(t + km->third) % 12], other = h[(t + (km->third == 4 ? 3 : 4)) % 12];
        if (other > want) sc -= KW_TONIC_QUALITY;
      }
      if (sc > best) {
        if (sk < 0 || bk != t) {
          second = best;
          sk = bk;
          sm = bm;
        }
        best = sc;
        bk = t;
        bm = (int)m;
        best_ks = ks;
      } else if (sc > second && t != bk) {
        second = sc;
        sk = t;
        sm = (int)m;
      }
    }
  }
  char name[40], runner[40];
  key_name(bk, bm, name, sizeof name, use_flats);
  if (sk >= 0 && second > -1e9)
    key_name(sk, sm, runner, sizeof runner, NULL);
  else
    snprintf(runner, sizeof runner, "none");
  /* the evidence a musician can check */
  char evid[160];
  size_t o = 0;
  double fit = 0;
  for (int i = 0; i < 12; i++) fit += h[(bk + i) % 12] * kmodes[bm].scale[i];
  o += (size_t)snprintf(evid + o, sizeof evid - o, "%.0f%% of the notes in the scale", 100 * fit);
  const char *tn = notation_pc_name(bk, *use_flats);
  if (first == bk && o < sizeof evid) o += (size_t)snprintf(evid + o, sizeof evid - o, "; starts on %s", tn);
  if (last == bk && o < sizeof evid) o += (size_t)snprintf(evid + o, sizeof evid - o, "; ends on %s", tn);
  if (cad[bk] > 0 && o < sizeof evid) o += (size_t)snprintf(evid + o, sizeof evid - o, "; cadence to %s", tn);
  if (!melody && bass_share[bk] > 0 && o < sizeof evid)
    o += (size_t)snprintf(evid + o, sizeof evid - o, "; %s in the bass %.0f%% of beats", tn, 100 * bass_share[bk]);
  char tbuf[8];
  snprintf(tbuf, sizeof tbuf, "%.*s", (int)(strchr(name, ' ') - name), name);
  return json_pack("{s:s, s:s, s:s, s:f, s:f, s:s, s:s}", "name", name, "tonic", tbuf, "mode", kmodes[bm].name,
                   "correlation", round3(best_ks), "confidence", round3(best - second), "runner_up", runner, "evidence",
                   evid);
}

/* ---- durations ------------------------------------------------------------------------------ */

static const char *duration_name(double d) {
  static const struct {
    double d;
    const char *name;
  } names[] = {{4, "whole"},
               {3, "dotted half"},
               {2, "half"},
               {1.5, "dotted quarter"},
               {1, "quarter"},
               {0.75, "dotted 8th"},
               {2.0 / 3, "quarter triplet"},
               {0.5, "8th"},
               {0.375, "dotted 16th"},
               {1.0 / 3, "8th triplet"},
               {0.25, "16th"},
               {1.0 / 6, "16th triplet"},
               {0.125, "32nd"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (fabs(names[i].d - d) < 0.01) return names[i].name;
  return NULL;
}

/* ---- analysis ------------------------------------------------------------------------------- */

typedef struct {
  int a, b, lo, hi; /* track indices, notes */
  double beat;
  int semis;
  int count;
} clash_t;

static const struct {
  const char *name;
  int lo, hi;
  const char *range;
} bands[] = {{"sub", 0, 35, "C-1-B1"}, {"bass", 36, 47, "C2-B2"},     {"low-mid", 48, 59, "C3-B3"},
             {"mid", 60, 71, "C4-B4"}, {"high-mid", 72, 83, "C5-B5"}, {"high", 84, 127, "C6-G9"}};
#define NBANDS (sizeof bands / sizeof bands[0])

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *context_analyze(const json_t *state) {
  double tempo = jnum_or(json_object_get(state, "tempo"), 120.0);
  const json_t *ts = json_object_get(state, "time_signature");
  int num = 4, den = 4;
  if (json_is_array(ts) && json_array_size(ts) == 2 && json_is_integer(json_array_get(ts, 0)) &&
      json_is_integer(json_array_get(ts, 1))) {
    json_int_t a = json_integer_value(json_array_get(ts, 0)), b = json_integer_value(json_array_get(ts, 1));
    if (a > 0 && a <= 64 && (b == 1 || b == 2 || b == 4 || b == 8 || b == 16 || b == 32)) {
      num = (int)a;
      den = (int)b;
    }
  }
  double beat_unit = 4.0 / den;
  double bpb = num * beat_unit;

  const json_t *jtracks = json_object_get(state, "tracks");
  size_t ntr = json_array_size(jtracks);
  ctrack_t *tr = calloc(ntr ? ntr : 1, sizeof *tr);
  /* one allocation of the right size (big sessions: no realloc chain) */
  size_t cap = 0, nn = 0;
  for (size_t t = 0; t < ntr; t++) {
    size_t ci;
    const json_t *clip;
    json_array_foreach(json_object_get(json_array_get(jtracks, t), "clips"), ci, clip) cap +=
        json_array_size(json_object_get(clip, "notes"));
  }
  if (cap < 16) cap = 16;
  cnote_t *notes = malloc(cap * sizeof *notes);
  json_t *out = json_object();
  if (!tr || !notes || !out) {
    free(tr);
    free(notes);
    json_decref(out);
    return NULL;
  }
  double length = 0;
  for (size_t t = 0; t < ntr; t++) {
    const json_t *jt = json_array_get(jtracks, t);
    tr[t].id = json_string_value(json_object_get(jt, "id"));
    tr[t].name = json_string_value(json_object_get(jt, "name"));
    tr[t].muted = json_is_true(json_object_get(jt, "mute"));
    const char *instr = json_string_value(json_object_get(jt, "instrument"));
    int hint = drum_hint(tr[t].name), ihint = drum_hint(instr);
    size_t first = nn, in_gm = 0;
    size_t ci;
    const json_t *clip;
    json_array_foreach(json_object_get(jt, "clips"), ci, clip) {
      double cs = jnum_or(json_object_get(clip, "start"), 0), cl = jnum_or(json_object_get(clip, "length"), 0);
      /* beyond CONTEXT_MAX_TIME beats (or not finite) a clip is not music we can place: skip it */
      if (!isfinite(cs) || !isfinite(cl) || fabs(cs) > CONTEXT_MAX_TIME || cl > CONTEXT_MAX_TIME) continue;
      if (cl > 0) tr[t].clip_beats += cl;
      if (cl > 0 && cs + cl > length) length = cs + cl;
      size_t ni;
      const json_t *jn;
      json_array_foreach(json_object_get(clip, "notes"), ni, jn) {
        /* one pass over the note's keys (cheaper than three hash look-ups on big sessions) */
        const json_t *n = NULL, *s = NULL, *d = NULL;
        const char *key;
        const json_t *kv;
        json_object_foreach((json_t *)jn, key, kv) {
          if (key[0] && !key[1]) {
            if (key[0] == 'n')
              n = kv;
            else if (key[0] == 's')
              s = kv;
            else if (key[0] == 'd')
              d = kv;
          }
        }
        if (!json_is_number(n) || !json_is_number(s) || !json_is_number(d)) continue;
        double pitch = json_number_value(n), st = json_number_value(s), du = json_number_value(d);
        if (pitch < 0 || pitch > 127 || !(du > 0) || !isfinite(st) || !isfinite(du) || st < 0 ||
            st > CONTEXT_MAX_TIME || du > CONTEXT_MAX_TIME || cs + st < 0)
          continue;
        if (cl > 0 && st >= cl) continue;
        double en = st + du;
        if (cl > 0 && en > cl) en = cl;
        if (nn == cap) {
          cap *= 2;
          cnote_t *nb = realloc(notes, cap * sizeof *notes);
          if (!nb) {
            free(tr);
            free(notes);
            json_decref(out);
            return NULL;
          }
          notes = nb;
        }
        notes[nn] = (cnote_t){.n = (short)pitch, .s = (float)(cs + st), .e = (float)(cs + en), .track = (int)t};
        if (notes[nn].e > length) length = notes[nn].e;
        if (notes[nn].n >= 35 && notes[nn].n <= 81) in_gm++;
        nn++;
      }
    }
    size_t count = nn - first;
    tr[t].first = first;
    tr[t].count = count;
    tr[t].drums = ihint || (hint && (count == 0 || in_gm * 10 >= count * 7));
  }
  /* a copy in track order for the per-track figures, the original sorted by time */
  cnote_t *by_track = malloc((nn ? nn : 1) * sizeof *by_track);
  if (!by_track) {
    free(tr);
    free(notes);
    json_decref(out);
    return NULL;
  }
  memcpy(by_track, notes, nn * sizeof *notes);
  qsort(notes, nn, sizeof *notes, cmp_cnote);

  int bars = length > 0 ? (int)ceil(length / bpb - 1e-9) : 0;
  json_object_set_new(out, "tempo", json_real(tempo));
  json_object_set_new(out, "time_signature", json_pack("[i,i]", num, den));
  json_object_set_new(out, "beats_per_bar", json_real(bpb));
  json_object_set_new(out, "length_beats", json_real(round3(length)));
  json_object_set_new(out, "bars", json_integer(bars));

  /* per beat (in quarter-note beats): pitch-class weights and bass, one pass over the notes */
  int nbeats = (int)ceil(length - 1e-9);
  if (nbeats > CONTEXT_MAX_BEATS) nbeats = CONTEXT_MAX_BEATS;
  beat_t *bt = calloc((size_t)nbeats + 1, sizeof *bt);
  if (!bt) {
    free(by_track);
    free(tr);
    free(notes);
    json_decref(out);
    return NULL;
  }
  for (int b = 0; b <= nbeats; b++) bt[b].bass = bt[b].bass_any = bt[b].root = -1;
  double hist[12] = {0};
  double pitched_total = 0;
  int first_pc = -1, last_pc = -1, first_low = 128;
  double first_s = -1, last_s = -1;
  for (size_t i = 0; i < nn; i++) {
    const cnote_t *n = &notes[i];
    if (tr[n->track].drums || tr[n->track].muted) continue;
    hist[n->n % 12] += n->e - n->s;
    pitched_total += n->e - n->s;
    if (first_s < 0 || (fabs(n->s - first_s) < EPS && n->n < first_low)) {
      first_s = n->s;
      first_low = n->n;
      first_pc = n->n % 12;
    }
    if (n->s >= last_s - EPS) {
      last_s = n->s;
      last_pc = n->n % 12;
    }
    if (n->s >= nbeats) continue;
    for (int b = (int)floor(n->s + EPS); b < nbeats && b < n->e; b++) {
      double ov = fmin(n->e, b + 1.0) - fmax(n->s, (double)b);
      if (ov <= EPS) continue;
      bt[b].w[n->n % 12] += ov;
      if (ov >= 0.25 - EPS && (bt[b].bass < 0 || n->n < bt[b].bass)) bt[b].bass = n->n;
      if (bt[b].bass_any < 0 || n->n < bt[b].bass_any) bt[b].bass_any = n->n;
    }
  }
  for (int b = 0; b < nbeats; b++) {
    if (bt[b].bass < 0) bt[b].bass = bt[b].bass_any;
    for (int pc = 0; pc < 12; pc++)
      if (bt[b].w[pc] >= 0.25 - EPS) bt[b].mask |= 1u << pc;
    if (bt[b].mask) bt[b].root = context_chord_name(bt[b].mask, bt[b].bass >= 0 ? bt[b].bass % 12 : -1, 0, NULL, 0);
  }

  /* key */
  int use_flats = -1, distinct = 0;
  for (int i = 0; i < 12; i++) distinct += hist[i] > 0;
  if (pitched_total > 0 && distinct >= 3) {
    json_t *key = estimate_key(hist, pitched_total, bt, nbeats, first_pc, last_pc, &use_flats);
    json_object_set_new(out, "key", key ? key : json_null());
  } else {
    json_object_set_new(out, "key", json_null());
  }

  json_t *jbeats = json_array(), *jchords = json_array();
  char prev_chord[48] = "";
  double chord_start = 0;
  for (int b = 0; b <= nbeats; b++) {
    unsigned mask = b < nbeats ? bt[b].mask : 0;
    int bass = b < nbeats ? bt[b].bass : -1;
    char chord[48] = "";
    int root = -1;
    if (mask) root = context_chord_name(mask, bass >= 0 ? bass % 12 : -1, use_flats, chord, sizeof chord);
    if (b < nbeats) {
      json_t *pcs = json_array();
      for (int pc = 0; pc < 12; pc++)
        if (mask & (1u << pc)) json_array_append_new(pcs, json_string(pc_name(pc, use_flats)));
      json_t *jb = json_pack("{s:f, s:i, s:i, s:o, s:o, s:o}", "beat", (double)b, "bar", (int)(b / bpb) + 1,
                             "beat_in_bar", (int)(fmod(b, bpb) / beat_unit) + 1, "pitch_classes", pcs, "bass",
                             bass >= 0 ? json_string(pc_name(bass % 12, use_flats)) : json_null(), "chord",
                             chord[0] ? json_string(chord) : json_null());
      if (chord[0]) json_object_set_new(jb, "inversion", json_integer(inversion_of(root, bass % 12)));
      json_array_append_new(jbeats, jb);
    }
    if (strcmp(chord, prev_chord) != 0 || b == nbeats) {
      if (prev_chord[0])
        json_array_append_new(
            jchords, json_pack("{s:f, s:f, s:s}", "start", chord_start, "end", (double)b, "chord", prev_chord));
      snprintf(prev_chord, sizeof prev_chord, "%s", chord);
      chord_start = b;
    }
  }
  json_object_set_new(out, "beats", jbeats);
  json_object_set_new(out, "chords", jchords);

  /* per track */
  json_t *jtr = json_array();
  for (size_t t = 0; t < ntr; t++) {
    int count = 0, on = 0, lo = 128, hi = -1;
    double first = -1, last = 0;
    double durs[16];
    int dcount[16], nd = 0;
    int drum_used[128] = {0};
    for (size_t i = tr[t].first; i < tr[t].first + tr[t].count; i++) {
      const cnote_t *n = &by_track[i];
      count++;
      if (n->n < lo) lo = n->n;
      if (n->n > hi) hi = n->n;
      drum_used[n->n] = 1;
      if (first < 0) first = n->s;
      if (n->e > last) last = n->e;
      double q = n->s / beat_unit;
      if (fabs(q - round(q)) < 1e-3) on++;
      double d = round((n->e - n->s) * 96.0) / 96.0;
      int k;
      for (k = 0; k < nd; k++)
        if (fabs(durs[k] - d) < 1e-6) break;
      if (k == nd && nd < 16) {
        durs[nd] = d;
        dcount[nd++] = 0;
      }
      if (k < nd) dcount[k]++;
    }
    double span_bars = tr[t].clip_beats > 0 ? tr[t].clip_beats / bpb : (count ? (last - first) / bpb : 0);
    if (span_bars < 1 && count) span_bars = 1;
    json_t *jd = json_array();
    for (int r = 0; r < 3; r++) {
      int bi = -1;
      for (int k = 0; k < nd; k++)
        if (dcount[k] > 0 && (bi < 0 || dcount[k] > dcount[bi])) bi = k;
      if (bi < 0) break;
      const char *dn = duration_name(durs[bi]);
      json_array_append_new(
          jd, json_pack("{s:f, s:o, s:i}", "d", round3(durs[bi]), "name", str_or_null(dn), "count", dcount[bi]));
      dcount[bi] = -dcount[bi] - 1; /* taken */
    }
    char lon[8] = "", hin[8] = "";
    if (count) {
      notation_note_name(lo, lon, sizeof lon);
      notation_note_name(hi, hin, sizeof hin);
    }
    json_t *jt = json_pack(
        "{s:o, s:o, s:b, s:b, s:i, s:o, s:o, s:o, s:o, s:f, s:f, s:f, s:o}", "id", str_or_null(tr[t].id), "name",
        str_or_null(tr[t].name), "drums", tr[t].drums, "muted", tr[t].muted, "note_count", count, "lowest",
        count ? json_string(lon) : json_null(), "highest", count ? json_string(hin) : json_null(), "lowest_midi",
        count ? json_integer(lo) : json_null(), "highest_midi", count ? json_integer(hi) : json_null(), "notes_per_bar",
        span_bars > 0 ? round3(count / span_bars) : 0.0, "on_beat_share", count ? round3((double)on / count) : 0.0,
        "off_beat_share", count ? round3(1.0 - (double)on / count) : 0.0, "common_durations", jd);
    if (tr[t].drums) {
      json_t *ds = json_array();
      for (int m = 0; m < 128; m++)
        if (drum_used[m] && notation_drum_name(m)) json_array_append_new(ds, json_string(notation_drum_name(m)));
      json_object_set_new(jt, "drum_sounds", ds);
    }
    json_array_append_new(jtr, jt);
  }
  json_object_set_new(out, "tracks", jtr);

  /* clashes between tracks */
  clash_t clashes[CONTEXT_MAX_CLASHES];
  int ncl = 0, total_clashes = 0, clash_scan_cut = 0;
  size_t pair_checks = 0;
  for (size_t i = 0; i < nn && !clash_scan_cut; i++) {
    const cnote_t *a = &notes[i];
    if (tr[a->track].drums || tr[a->track].muted) continue;
    for (size_t j = i + 1; j < nn && notes[j].s < a->e - 0.05; j++) {
      if (++pair_checks > CONTEXT_MAX_CLASH_CHECKS) {
        clash_scan_cut = 1;
        break;
      }
      const cnote_t *b = &notes[j];
      if (b->track == a->track || tr[b->track].drums || tr[b->track].muted) continue;
      double ov = fmin(a->e, b->e) - fmax(a->s, b->s);
      if (ov < 0.05) continue;
      int lo = a->n < b->n ? a->n : b->n, hi = a->n < b->n ? b->n : a->n;
      int semis = hi - lo, pc = semis % 12;
      if (!((pc == 1 || pc == 6) && semis <= 25)) continue;
      total_clashes++;
      int ta = a->n == lo ? a->track : b->track, tb = a->n == lo ? b->track : a->track;
      int k;
      for (k = 0; k < ncl; k++)
        if (clashes[k].a == ta && clashes[k].b == tb && clashes[k].lo == lo && clashes[k].hi == hi) break;
      if (k < ncl) {
        clashes[k].count++;
      } else if (ncl < CONTEXT_MAX_CLASHES) {
        clashes[ncl++] =
            (clash_t){.a = ta, .b = tb, .lo = lo, .hi = hi, .beat = fmax(a->s, b->s), .semis = semis, .count = 1};
      }
    }
  }
  json_t *jcl = json_array();
  for (int k = 0; k < ncl; k++) {
    const clash_t *c = &clashes[k];
    const char *iv = c->semis == 1    ? "minor second"
                     : c->semis == 13 ? "minor ninth"
                     : c->semis == 25 ? "minor ninth (compound)"
                     : c->semis == 6  ? "tritone"
                                      : "tritone (compound)";
    char ln[8], hn[8];
    notation_note_name(c->lo, ln, sizeof ln);
    notation_note_name(c->hi, hn, sizeof hn);
    json_array_append_new(jcl, json_pack("{s:f, s:s, s:i, s:[o,o], s:[o,o], s:[s,s], s:i}", "beat", round3(c->beat),
                                         "interval", iv, "semitones", c->semis, "tracks", str_or_null(tr[c->a].id),
                                         str_or_null(tr[c->b].id), "track_names", str_or_null(tr[c->a].name),
                                         str_or_null(tr[c->b].name), "notes", ln, hn, "occurrences", c->count));
  }
  json_object_set_new(out, "clashes", jcl);
  json_object_set_new(out, "clash_count", json_integer(total_clashes));
  if (clash_scan_cut) json_object_set_new(out, "clash_scan_partial", json_true());

  /* registers */
  json_t *jreg = json_array();
  int any_pitched = pitched_total > 0;
  for (size_t bnd = 0; bnd < NBANDS; bnd++) {
    int cnt = 0;
    json_t *tl = json_array();
    for (size_t t = 0; t < ntr; t++) {
      if (tr[t].drums || tr[t].muted) continue;
      double in = 0, all = 0;
      int c = 0;
      for (size_t i = tr[t].first; i < tr[t].first + tr[t].count; i++) {
        const cnote_t *n = &by_track[i];
        all += n->e - n->s;
        if (n->n >= bands[bnd].lo && n->n <= bands[bnd].hi) {
          in += n->e - n->s;
          c++;
        }
      }
      cnt += c;
      if (all > 0 && in >= 0.2 * all) json_array_append_new(tl, str_or_null(tr[t].id));
    }
    size_t ntl = json_array_size(tl);
    const char *status = !any_pitched ? "empty" : cnt == 0 ? "empty" : ntl >= (bnd <= 1 ? 2u : 3u) ? "crowded" : "ok";
    json_array_append_new(jreg, json_pack("{s:s, s:s, s:i, s:o, s:s}", "name", bands[bnd].name, "range",
                                          bands[bnd].range, "note_count", cnt, "tracks", tl, "status", status));
  }
  json_object_set_new(out, "registers", jreg);

  free(bt);
  free(by_track);
  free(tr);
  free(notes);
  return out;
}

/* ---- text ----------------------------------------------------------------------------------- */

/* DAW-supplied text as a JSON string literal (data, not instructions). */
static void tb_quote(strbuf_t *b, const char *s) {
  json_t *j = json_string(s ? s : "");
  char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  strbuf_appendf(b, "%s", q ? q : "\"?\"");
  free(q);
  json_decref(j);
}

static void bar_beat(const json_t *a, double beat, int *bar, double *bib) {
  double bpb = jnum_or(json_object_get(a, "beats_per_bar"), 4);
  const json_t *ts = json_object_get(a, "time_signature");
  double unit =
      4.0 / (double)(json_integer_value(json_array_get(ts, 1)) ? json_integer_value(json_array_get(ts, 1)) : 4);
  *bar = (int)floor(beat / bpb + 1e-9) + 1;
  *bib = (beat - (*bar - 1) * bpb) / unit + 1;
}

char *context_to_text(const json_t *a) {
  strbuf_t b = STRBUF_INIT;
  if (!json_is_object(a)) return strdup("(no musical context)");
  const json_t *ts = json_object_get(a, "time_signature");
  strbuf_appendf(&b, "Tempo %g BPM, %d/%d; %d bar%s (%g beats) of material.\n",
                 jnum_or(json_object_get(a, "tempo"), 120), (int)json_integer_value(json_array_get(ts, 0)),
                 (int)json_integer_value(json_array_get(ts, 1)), (int)json_integer_value(json_object_get(a, "bars")),
                 json_integer_value(json_object_get(a, "bars")) == 1 ? "" : "s",
                 jnum_or(json_object_get(a, "length_beats"), 0));
  const json_t *key = json_object_get(a, "key");
  if (json_is_object(key))
    strbuf_appendf(
        &b, "Key: %s (%s; confidence %.2f; runner-up %s).\n", json_string_value(json_object_get(key, "name")),
        json_string_value(json_object_get(key, "evidence")) ? json_string_value(json_object_get(key, "evidence")) : "",
        jnum_or(json_object_get(key, "confidence"), 0), json_string_value(json_object_get(key, "runner_up")));
  else
    strbuf_appendf(&b, "Key: unknown (fewer than 3 pitch classes in pitched tracks).\n");

  const json_t *chords = json_object_get(a, "chords");
  if (json_array_size(chords)) {
    strbuf_appendf(&b, "Chords (bar.beat):");
    size_t i;
    const json_t *c;
    json_array_foreach(chords, i, c) {
      if (i >= 48) {
        strbuf_appendf(&b, " …");
        break;
      }
      int bar;
      double bib;
      bar_beat(a, jnum_or(json_object_get(c, "start"), 0), &bar, &bib);
      strbuf_appendf(&b, "%s %d.%g %s", i ? "," : "", bar, bib, json_string_value(json_object_get(c, "chord")));
    }
    strbuf_appendf(&b, ".\n");
  }

  const json_t *tracks = json_object_get(a, "tracks");
  if (json_array_size(tracks)) {
    strbuf_appendf(&b, "Tracks:\n");
    size_t i;
    const json_t *t;
    json_array_foreach(tracks, i, t) {
      strbuf_appendf(&b, "- %s ",
                     json_string_value(json_object_get(t, "id")) ? json_string_value(json_object_get(t, "id")) : "?");
      tb_quote(&b, json_string_value(json_object_get(t, "name")));
      int cnt = (int)json_integer_value(json_object_get(t, "note_count"));
      if (json_is_true(json_object_get(t, "drums"))) strbuf_appendf(&b, " (drums)");
      if (json_is_true(json_object_get(t, "muted"))) strbuf_appendf(&b, " (muted)");
      if (cnt == 0) {
        strbuf_appendf(&b, ": no notes\n");
        continue;
      }
      strbuf_appendf(&b, ": %s-%s, %d notes, %.1f notes/bar, %.0f%% on-beat",
                     json_string_value(json_object_get(t, "lowest")), json_string_value(json_object_get(t, "highest")),
                     cnt, jnum_or(json_object_get(t, "notes_per_bar"), 0),
                     100 * jnum_or(json_object_get(t, "on_beat_share"), 0));
      size_t k;
      const json_t *d;
      json_array_foreach(json_object_get(t, "common_durations"), k, d) {
        const char *dn = json_string_value(json_object_get(d, "name"));
        strbuf_appendf(&b, "%s%g%s%s%s x%d", k ? ", " : "; durations ", jnum_or(json_object_get(d, "d"), 0),
                       dn ? " (" : "", dn ? dn : "", dn ? ")" : "",
                       (int)json_integer_value(json_object_get(d, "count")));
      }
      const json_t *ds = json_object_get(t, "drum_sounds");
      if (json_array_size(ds)) {
        strbuf_appendf(&b, "; sounds");
        json_array_foreach(ds, k, d) strbuf_appendf(&b, "%s %s", k ? "," : "", json_string_value(d));
      }
      strbuf_appendf(&b, "\n");
    }
  }

  const json_t *cl = json_object_get(a, "clashes");
  if (json_array_size(cl)) {
    strbuf_appendf(&b, "Clashes (%d sounding together):\n", (int)json_integer_value(json_object_get(a, "clash_count")));
    size_t i;
    const json_t *c;
    json_array_foreach(cl, i, c) {
      if (i >= 12) {
        strbuf_appendf(&b, "- …\n");
        break;
      }
      int bar;
      double bib;
      bar_beat(a, jnum_or(json_object_get(c, "beat"), 0), &bar, &bib);
      const json_t *ids = json_object_get(c, "tracks"), *names = json_object_get(c, "track_names"),
                   *nts = json_object_get(c, "notes");
      strbuf_appendf(&b, "- bar %d beat %g: %s ", bar, bib,
                     json_string_value(json_array_get(ids, 0)) ? json_string_value(json_array_get(ids, 0)) : "?");
      tb_quote(&b, json_string_value(json_array_get(names, 0)));
      strbuf_appendf(&b, " %s vs %s ", json_string_value(json_array_get(nts, 0)),
                     json_string_value(json_array_get(ids, 1)) ? json_string_value(json_array_get(ids, 1)) : "?");
      tb_quote(&b, json_string_value(json_array_get(names, 1)));
      strbuf_appendf(&b, " %s: %s", json_string_value(json_array_get(nts, 1)),
                     json_string_value(json_object_get(c, "interval")));
      int occ = (int)json_integer_value(json_object_get(c, "occurrences"));
      if (occ > 1) strbuf_appendf(&b, " (%d times)", occ);
      strbuf_appendf(&b, "\n");
    }
  }

  const json_t *reg = json_object_get(a, "registers");
  if (json_is_object(key) && json_array_size(reg)) {
    strbuf_appendf(&b, "Registers:");
    size_t i;
    const json_t *r;
    json_array_foreach(reg, i, r) {
      const char *st = json_string_value(json_object_get(r, "status"));
      size_t nt = json_array_size(json_object_get(r, "tracks"));
      strbuf_appendf(&b, "%s %s %s", i ? "," : "", json_string_value(json_object_get(r, "name")), st ? st : "?");
      if (st && strcmp(st, "empty")) strbuf_appendf(&b, " (%zu track%s)", nt, nt == 1 ? "" : "s");
    }
    strbuf_appendf(&b, ".\n");
  }
  return strbuf_take(&b, NULL);
}
