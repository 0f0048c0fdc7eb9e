/* context: tempo, meter, chords per beat, key, per-track statistics, clashes and registers. */
#include "context.h"

#include "notation.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-4

const char *context_strerror(int code)
{
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
    int iv[5];
} ctpl_t;

/* In order of preference when several roots fit. */
static const ctpl_t tpls[] = {
    {"", 3, {0, 4, 7}},         {"m", 3, {0, 3, 7}},          {"7", 4, {0, 4, 7, 10}},
    {"m7", 4, {0, 3, 7, 10}},   {"maj7", 4, {0, 4, 7, 11}},   {"dim", 3, {0, 3, 6}},
    {"aug", 3, {0, 4, 8}},      {"sus4", 3, {0, 5, 7}},       {"sus2", 3, {0, 2, 7}},
    {"m7b5", 4, {0, 3, 6, 10}}, {"dim7", 4, {0, 3, 6, 9}},    {"6", 4, {0, 4, 7, 9}},
    {"m6", 4, {0, 3, 7, 9}},    {"mM7", 4, {0, 3, 7, 11}},    {"7sus4", 4, {0, 5, 7, 10}},
    {"aug7", 4, {0, 4, 8, 10}}, {"add9", 4, {0, 2, 4, 7}},    {"madd9", 4, {0, 2, 3, 7}},
    {"9", 5, {0, 2, 4, 7, 10}}, {"maj9", 5, {0, 2, 4, 7, 11}}, {"m9", 5, {0, 2, 3, 7, 10}},
    {"7", 3, {0, 4, 10}},       {"maj7", 3, {0, 4, 11}},      {"m7", 3, {0, 3, 10}},
    {"5", 2, {0, 7}},
};

static const char *const common_names[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};

static const char *pc_name(int pc, int use_flats)
{
    pc = ((pc % 12) + 12) % 12;
    if (use_flats < 0)
        return common_names[pc];
    return notation_pc_name(pc, use_flats);
}

static unsigned rot_mask(const ctpl_t *t, int root)
{
    unsigned m = 0;
    for (int i = 0; i < t->n; i++)
        m |= 1u << ((root + t->iv[i]) % 12);
    return m;
}

int context_chord_name(unsigned pc_mask, int bass_pc, int use_flats, char *buf, size_t buflen)
{
    if (buf && buflen)
        buf[0] = 0;
    pc_mask &= 0xFFF;
    int best_score = 1 << 30, best_root = -1;
    const ctpl_t *best = NULL;
    for (int root = 0; root < 12; root++) {
        if (!(pc_mask & (1u << root)))
            continue;
        for (size_t i = 0; i < sizeof tpls / sizeof tpls[0]; i++) {
            if (rot_mask(&tpls[i], root) != pc_mask)
                continue;
            int score = (int)i + (bass_pc >= 0 && bass_pc != root ? 100 : 0);
            if (score < best_score) {
                best_score = score;
                best_root = root;
                best = &tpls[i];
            }
        }
    }
    if (!best)
        return -1;
    if (buf && buflen) {
        if (bass_pc >= 0 && bass_pc != best_root)
            snprintf(buf, buflen, "%s%s/%s", pc_name(best_root, use_flats), best->suffix, pc_name(bass_pc, use_flats));
        else
            snprintf(buf, buflen, "%s%s", pc_name(best_root, use_flats), best->suffix);
    }
    return best_root;
}

/* Chord-tone index of the bass (0 root, 1 third, 2 fifth, 3 seventh) for the inversion field. */
static int inversion_of(int root, int bass_pc)
{
    if (root < 0 || bass_pc < 0)
        return 0;
    int iv = ((bass_pc - root) % 12 + 12) % 12;
    switch (iv) {
    case 0: return 0;
    case 3: case 4: case 2: case 5: return 1;
    case 6: case 7: case 8: return 2;
    case 9: case 10: case 11: return 3;
    default: return 0;
    }
}

/* ---- data collection ------------------------------------------------------------------------ */

typedef struct {
    int n;
    double s, e;
    int track;
} cnote_t;

typedef struct {
    const char *id, *name;
    int drums, muted;
    double clip_beats;
} ctrack_t;

static int word_prefix_match(const char *text, const char *const *words)
{
    char buf[256];
    size_t o = 0;
    for (const char *p = text; *p && o + 1 < sizeof buf; p++)
        buf[o++] = (char)tolower((unsigned char)*p);
    buf[o] = 0;
    for (char *p = buf; *p;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        if (!*p)
            break;
        for (int i = 0; words[i]; i++)
            if (!strncmp(p, words[i], strlen(words[i])))
                return 1;
        /* camel-case or glued words: also look inside the word */
        while (*p && isalnum((unsigned char)*p))
            p++;
    }
    return 0;
}

static int drum_hint(const char *s)
{
    static const char *const words[] = {"drum", "kick", "snare", "hat", "hihat", "hh", "perc", "cymbal", "tom",
                                        "clap", "ride", "crash", "808", "909", "beat", "kit", "rim", "shaker",
                                        "conga", "bongo", "tamb", "cowbell", "groove", "bd", "sd", NULL};
    return s && word_prefix_match(s, words);
}

static int cmp_cnote(const void *a, const void *b)
{
    const cnote_t *x = a, *y = b;
    if (x->s < y->s)
        return -1;
    if (x->s > y->s)
        return 1;
    return (x->n > y->n) - (x->n < y->n);
}

static double num_or(const json_t *j, double d) { return json_is_number(j) ? json_number_value(j) : d; }

/* ---- key estimation ------------------------------------------------------------------------- */

static const double ks_major[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
static const double ks_minor[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};
static const char *const major_tonic[12] = {"C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
static const char *const minor_tonic[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"};

static double pearson(const double *x, const double *y)
{
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
    if (sxx <= 0 || syy <= 0)
        return 0;
    return sxy / sqrt(sxx * syy);
}

static int key_uses_flats(int tonic, int minor)
{
    static const int maj_flats[] = {5, 10, 3, 8, 1, 6}, min_flats[] = {2, 7, 0, 5, 10, 3};
    const int *l = minor ? min_flats : maj_flats;
    for (int i = 0; i < 6; i++)
        if (l[i] == tonic)
            return 1;
    return 0;
}

static double round3(double x) { return round(x * 1000.0) / 1000.0; }

/* ---- durations ------------------------------------------------------------------------------ */

static const char *duration_name(double d)
{
    static const struct {
        double d;
        const char *name;
    } names[] = {{4, "whole"}, {3, "dotted half"}, {2, "half"}, {1.5, "dotted quarter"}, {1, "quarter"},
                 {0.75, "dotted 8th"}, {2.0 / 3, "quarter triplet"}, {0.5, "8th"}, {0.375, "dotted 16th"},
                 {1.0 / 3, "8th triplet"}, {0.25, "16th"}, {1.0 / 6, "16th triplet"}, {0.125, "32nd"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (fabs(names[i].d - d) < 0.01)
            return names[i].name;
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
} bands[] = {{"sub", 0, 35, "C-1-B1"},      {"bass", 36, 47, "C2-B2"},    {"low-mid", 48, 59, "C3-B3"},
             {"mid", 60, 71, "C4-B4"},      {"high-mid", 72, 83, "C5-B5"}, {"high", 84, 127, "C6-G9"}};
#define NBANDS (sizeof bands / sizeof bands[0])

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *context_analyze(const json_t *state)
{
    double tempo = num_or(json_object_get(state, "tempo"), 120.0);
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
    size_t cap = 256, nn = 0;
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
            double cs = num_or(json_object_get(clip, "start"), 0), cl = num_or(json_object_get(clip, "length"), 0);
            if (cl > 0)
                tr[t].clip_beats += cl;
            if (cl > 0 && cs + cl > length)
                length = cs + cl;
            size_t ni;
            const json_t *jn;
            json_array_foreach(json_object_get(clip, "notes"), ni, jn) {
                const json_t *n = json_object_get(jn, "n"), *s = json_object_get(jn, "s"), *d = json_object_get(jn, "d");
                if (!json_is_number(n) || !json_is_number(s) || !json_is_number(d))
                    continue;
                double pitch = json_number_value(n), st = json_number_value(s), du = json_number_value(d);
                if (pitch < 0 || pitch > 127 || !(du > 0) || !isfinite(st) || !isfinite(du) || st < 0)
                    continue;
                if (cl > 0 && st >= cl)
                    continue;
                double en = st + du;
                if (cl > 0 && en > cl)
                    en = cl;
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
                notes[nn] = (cnote_t){.n = (int)pitch, .s = cs + st, .e = cs + en, .track = (int)t};
                if (notes[nn].e > length)
                    length = notes[nn].e;
                if (notes[nn].n >= 35 && notes[nn].n <= 81)
                    in_gm++;
                nn++;
            }
        }
        size_t count = nn - first;
        tr[t].drums = ihint || (hint && (count == 0 || in_gm * 10 >= count * 7));
    }
    qsort(notes, nn, sizeof *notes, cmp_cnote);

    int bars = length > 0 ? (int)ceil(length / bpb - 1e-9) : 0;
    json_object_set_new(out, "tempo", json_real(tempo));
    json_object_set_new(out, "time_signature", json_pack("[i,i]", num, den));
    json_object_set_new(out, "beats_per_bar", json_real(bpb));
    json_object_set_new(out, "length_beats", json_real(round3(length)));
    json_object_set_new(out, "bars", json_integer(bars));

    /* key */
    double hist[12] = {0};
    double pitched_total = 0;
    for (size_t i = 0; i < nn; i++) {
        if (tr[notes[i].track].drums || tr[notes[i].track].muted)
            continue;
        hist[notes[i].n % 12] += notes[i].e - notes[i].s;
        pitched_total += notes[i].e - notes[i].s;
    }
    int use_flats = -1, distinct = 0;
    for (int i = 0; i < 12; i++)
        distinct += hist[i] > 0;
    if (pitched_total > 0 && distinct >= 3) {
        double best = -2, second = -2;
        int bk = 0, sk = 0;
        for (int k = 0; k < 24; k++) {
            double prof[12];
            for (int i = 0; i < 12; i++)
                prof[i] = (k < 12 ? ks_major : ks_minor)[((i - k % 12) + 12) % 12];
            double r = pearson(hist, prof);
            if (r > best) {
                second = best;
                sk = bk;
                best = r;
                bk = k;
            } else if (r > second) {
                second = r;
                sk = k;
            }
        }
        char name[32], runner[32];
        int minor = bk >= 12, tonic = bk % 12;
        snprintf(name, sizeof name, "%s %s", minor ? minor_tonic[tonic] : major_tonic[tonic], minor ? "minor" : "major");
        snprintf(runner, sizeof runner, "%s %s", sk >= 12 ? minor_tonic[sk % 12] : major_tonic[sk % 12],
                 sk >= 12 ? "minor" : "major");
        use_flats = key_uses_flats(tonic, minor);
        json_object_set_new(out, "key",
                            json_pack("{s:s, s:s, s:s, s:f, s:f, s:s}", "name", name, "tonic",
                                      minor ? minor_tonic[tonic] : major_tonic[tonic], "mode", minor ? "minor" : "major",
                                      "correlation", round3(best), "confidence", round3(best - second), "runner_up",
                                      runner));
    } else {
        json_object_set_new(out, "key", json_null());
    }

    /* per beat (in quarter-note beats) */
    json_t *jbeats = json_array(), *jchords = json_array();
    int nbeats = (int)ceil(length - 1e-9);
    if (nbeats > CONTEXT_MAX_BEATS)
        nbeats = CONTEXT_MAX_BEATS;
    char prev_chord[48] = "";
    double chord_start = 0;
    for (int b = 0; b <= nbeats; b++) {
        double ws = b, we = b + 1.0;
        double w[12] = {0};
        int bass = -1, bass_any = -1;
        if (b < nbeats) {
            for (size_t i = 0; i < nn && notes[i].s < we; i++) {
                const cnote_t *n = &notes[i];
                if (tr[n->track].drums || tr[n->track].muted)
                    continue;
                double ov = fmin(n->e, we) - fmax(n->s, ws);
                if (ov <= EPS)
                    continue;
                w[n->n % 12] += ov;
                if (ov >= 0.25 - EPS && (bass < 0 || n->n < bass))
                    bass = n->n;
                if (bass_any < 0 || n->n < bass_any)
                    bass_any = n->n;
            }
        }
        if (bass < 0)
            bass = bass_any;
        unsigned mask = 0;
        for (int pc = 0; pc < 12; pc++)
            if (w[pc] >= 0.25 - EPS)
                mask |= 1u << pc;
        char chord[48] = "";
        int root = -1;
        if (mask)
            root = context_chord_name(mask, bass >= 0 ? bass % 12 : -1, use_flats, chord, sizeof chord);
        if (b < nbeats) {
            json_t *pcs = json_array();
            for (int pc = 0; pc < 12; pc++)
                if (mask & (1u << pc))
                    json_array_append_new(pcs, json_string(pc_name(pc, use_flats)));
            json_t *jb = json_pack("{s:f, s:i, s:i, s:o, s:o, s:o}", "beat", (double)b, "bar", (int)(b / bpb) + 1,
                                   "beat_in_bar", (int)(fmod(b, bpb) / beat_unit) + 1, "pitch_classes", pcs, "bass",
                                   bass >= 0 ? json_string(pc_name(bass % 12, use_flats)) : json_null(), "chord",
                                   chord[0] ? json_string(chord) : json_null());
            if (chord[0])
                json_object_set_new(jb, "inversion", json_integer(inversion_of(root, bass % 12)));
            json_array_append_new(jbeats, jb);
        }
        if (strcmp(chord, prev_chord) != 0 || b == nbeats) {
            if (prev_chord[0])
                json_array_append_new(jchords, json_pack("{s:f, s:f, s:s}", "start", chord_start, "end", (double)b,
                                                         "chord", prev_chord));
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
        for (size_t i = 0; i < nn; i++) {
            const cnote_t *n = &notes[i];
            if (n->track != (int)t)
                continue;
            count++;
            if (n->n < lo)
                lo = n->n;
            if (n->n > hi)
                hi = n->n;
            drum_used[n->n] = 1;
            if (first < 0)
                first = n->s;
            if (n->e > last)
                last = n->e;
            double q = n->s / beat_unit;
            if (fabs(q - round(q)) < 1e-3)
                on++;
            double d = round((n->e - n->s) * 96.0) / 96.0;
            int k;
            for (k = 0; k < nd; k++)
                if (fabs(durs[k] - d) < 1e-6)
                    break;
            if (k == nd && nd < 16) {
                durs[nd] = d;
                dcount[nd++] = 0;
            }
            if (k < nd)
                dcount[k]++;
        }
        double span_bars = tr[t].clip_beats > 0 ? tr[t].clip_beats / bpb : (count ? (last - first) / bpb : 0);
        if (span_bars < 1 && count)
            span_bars = 1;
        json_t *jd = json_array();
        for (int r = 0; r < 3; r++) {
            int bi = -1;
            for (int k = 0; k < nd; k++)
                if (dcount[k] > 0 && (bi < 0 || dcount[k] > dcount[bi]))
                    bi = k;
            if (bi < 0)
                break;
            const char *dn = duration_name(durs[bi]);
            json_array_append_new(jd, json_pack("{s:f, s:o, s:i}", "d", round3(durs[bi]), "name", str_or_null(dn),
                                                "count", dcount[bi]));
            dcount[bi] = -dcount[bi] - 1; /* taken */
        }
        char lon[8] = "", hin[8] = "";
        if (count) {
            notation_note_name(lo, lon, sizeof lon);
            notation_note_name(hi, hin, sizeof hin);
        }
        json_t *jt = json_pack("{s:o, s:o, s:b, s:b, s:i, s:o, s:o, s:o, s:o, s:f, s:f, s:f, s:o}", "id",
                               str_or_null(tr[t].id), "name", str_or_null(tr[t].name), "drums", tr[t].drums, "muted",
                               tr[t].muted, "note_count", count, "lowest", count ? json_string(lon) : json_null(),
                               "highest", count ? json_string(hin) : json_null(), "lowest_midi",
                               count ? json_integer(lo) : json_null(), "highest_midi",
                               count ? json_integer(hi) : json_null(), "notes_per_bar",
                               span_bars > 0 ? round3(count / span_bars) : 0.0, "on_beat_share",
                               count ? round3((double)on / count) : 0.0, "off_beat_share",
                               count ? round3(1.0 - (double)on / count) : 0.0, "common_durations", jd);
        if (tr[t].drums) {
            json_t *ds = json_array();
            for (int m = 0; m < 128; m++)
                if (drum_used[m] && notation_drum_name(m))
                    json_array_append_new(ds, json_string(notation_drum_name(m)));
            json_object_set_new(jt, "drum_sounds", ds);
        }
        json_array_append_new(jtr, jt);
    }
    json_object_set_new(out, "tracks", jtr);

    /* clashes between tracks */
    clash_t clashes[CONTEXT_MAX_CLASHES];
    int ncl = 0, total_clashes = 0;
    for (size_t i = 0; i < nn; i++) {
        const cnote_t *a = &notes[i];
        if (tr[a->track].drums || tr[a->track].muted)
            continue;
        for (size_t j = i + 1; j < nn && notes[j].s < a->e - 0.05; j++) {
            const cnote_t *b = &notes[j];
            if (b->track == a->track || tr[b->track].drums || tr[b->track].muted)
                continue;
            double ov = fmin(a->e, b->e) - fmax(a->s, b->s);
            if (ov < 0.05)
                continue;
            int lo = a->n < b->n ? a->n : b->n, hi = a->n < b->n ? b->n : a->n;
            int semis = hi - lo, pc = semis % 12;
            if (!((pc == 1 || pc == 6) && semis <= 25))
                continue;
            total_clashes++;
            int ta = a->n == lo ? a->track : b->track, tb = a->n == lo ? b->track : a->track;
            int k;
            for (k = 0; k < ncl; k++)
                if (clashes[k].a == ta && clashes[k].b == tb && clashes[k].lo == lo && clashes[k].hi == hi)
                    break;
            if (k < ncl) {
                clashes[k].count++;
            } else if (ncl < CONTEXT_MAX_CLASHES) {
                clashes[ncl++] = (clash_t){.a = ta, .b = tb, .lo = lo, .hi = hi, .beat = fmax(a->s, b->s),
                                           .semis = semis, .count = 1};
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

    /* registers */
    json_t *jreg = json_array();
    int any_pitched = pitched_total > 0;
    for (size_t bnd = 0; bnd < NBANDS; bnd++) {
        int cnt = 0;
        json_t *tl = json_array();
        for (size_t t = 0; t < ntr; t++) {
            if (tr[t].drums || tr[t].muted)
                continue;
            double in = 0, all = 0;
            int c = 0;
            for (size_t i = 0; i < nn; i++) {
                if (notes[i].track != (int)t)
                    continue;
                all += notes[i].e - notes[i].s;
                if (notes[i].n >= bands[bnd].lo && notes[i].n <= bands[bnd].hi) {
                    in += notes[i].e - notes[i].s;
                    c++;
                }
            }
            cnt += c;
            if (all > 0 && in >= 0.2 * all)
                json_array_append_new(tl, str_or_null(tr[t].id));
        }
        size_t ntl = json_array_size(tl);
        const char *status = !any_pitched ? "empty"
                             : cnt == 0   ? "empty"
                             : ntl >= (bnd <= 1 ? 2u : 3u) ? "crowded"
                                                             : "ok";
        json_array_append_new(jreg, json_pack("{s:s, s:s, s:i, s:o, s:s}", "name", bands[bnd].name, "range",
                                              bands[bnd].range, "note_count", cnt, "tracks", tl, "status", status));
    }
    json_object_set_new(out, "registers", jreg);

    free(tr);
    free(notes);
    return out;
}

/* ---- text ----------------------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} tb_t;

static void tb_printf(tb_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0 || b->oom)
        return;
    if (b->n + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (b->n + (size_t)need + 1 > cap)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)need + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)need;
}

/* DAW-supplied text as a JSON string literal (data, not instructions). */
static void tb_quote(tb_t *b, const char *s)
{
    json_t *j = json_string(s ? s : "");
    char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    tb_printf(b, "%s", q ? q : "\"?\"");
    free(q);
    json_decref(j);
}

static void bar_beat(const json_t *a, double beat, int *bar, double *bib)
{
    double bpb = num_or(json_object_get(a, "beats_per_bar"), 4);
    const json_t *ts = json_object_get(a, "time_signature");
    double unit = 4.0 / (double)(json_integer_value(json_array_get(ts, 1)) ? json_integer_value(json_array_get(ts, 1)) : 4);
    *bar = (int)floor(beat / bpb + 1e-9) + 1;
    *bib = (beat - (*bar - 1) * bpb) / unit + 1;
}

char *context_to_text(const json_t *a)
{
    tb_t b = {0};
    if (!json_is_object(a))
        return strdup("(no musical context)");
    const json_t *ts = json_object_get(a, "time_signature");
    tb_printf(&b, "Tempo %g BPM, %d/%d; %d bar%s (%g beats) of material.\n",
              num_or(json_object_get(a, "tempo"), 120), (int)json_integer_value(json_array_get(ts, 0)),
              (int)json_integer_value(json_array_get(ts, 1)), (int)json_integer_value(json_object_get(a, "bars")),
              json_integer_value(json_object_get(a, "bars")) == 1 ? "" : "s",
              num_or(json_object_get(a, "length_beats"), 0));
    const json_t *key = json_object_get(a, "key");
    if (json_is_object(key))
        tb_printf(&b, "Key: %s (correlation %.2f, confidence %.2f; runner-up %s).\n",
                  json_string_value(json_object_get(key, "name")), num_or(json_object_get(key, "correlation"), 0),
                  num_or(json_object_get(key, "confidence"), 0), json_string_value(json_object_get(key, "runner_up")));
    else
        tb_printf(&b, "Key: unknown (fewer than 3 pitch classes in pitched tracks).\n");

    const json_t *chords = json_object_get(a, "chords");
    if (json_array_size(chords)) {
        tb_printf(&b, "Chords (bar.beat):");
        size_t i;
        const json_t *c;
        json_array_foreach(chords, i, c) {
            if (i >= 48) {
                tb_printf(&b, " …");
                break;
            }
            int bar;
            double bib;
            bar_beat(a, num_or(json_object_get(c, "start"), 0), &bar, &bib);
            tb_printf(&b, "%s %d.%g %s", i ? "," : "", bar, bib, json_string_value(json_object_get(c, "chord")));
        }
        tb_printf(&b, ".\n");
    }

    const json_t *tracks = json_object_get(a, "tracks");
    if (json_array_size(tracks)) {
        tb_printf(&b, "Tracks:\n");
        size_t i;
        const json_t *t;
        json_array_foreach(tracks, i, t) {
            tb_printf(&b, "- %s ", json_string_value(json_object_get(t, "id")) ? json_string_value(json_object_get(t, "id")) : "?");
            tb_quote(&b, json_string_value(json_object_get(t, "name")));
            int cnt = (int)json_integer_value(json_object_get(t, "note_count"));
            if (json_is_true(json_object_get(t, "drums")))
                tb_printf(&b, " (drums)");
            if (json_is_true(json_object_get(t, "muted")))
                tb_printf(&b, " (muted)");
            if (cnt == 0) {
                tb_printf(&b, ": no notes\n");
                continue;
            }
            tb_printf(&b, ": %s-%s, %d notes, %.1f notes/bar, %.0f%% on-beat", json_string_value(json_object_get(t, "lowest")),
                      json_string_value(json_object_get(t, "highest")), cnt,
                      num_or(json_object_get(t, "notes_per_bar"), 0), 100 * num_or(json_object_get(t, "on_beat_share"), 0));
            size_t k;
            const json_t *d;
            json_array_foreach(json_object_get(t, "common_durations"), k, d) {
                const char *dn = json_string_value(json_object_get(d, "name"));
                tb_printf(&b, "%s%g%s%s%s x%d", k ? ", " : "; durations ", num_or(json_object_get(d, "d"), 0),
                          dn ? " (" : "", dn ? dn : "", dn ? ")" : "", (int)json_integer_value(json_object_get(d, "count")));
            }
            const json_t *ds = json_object_get(t, "drum_sounds");
            if (json_array_size(ds)) {
                tb_printf(&b, "; sounds");
                json_array_foreach(ds, k, d) tb_printf(&b, "%s %s", k ? "," : "", json_string_value(d));
            }
            tb_printf(&b, "\n");
        }
    }

    const json_t *cl = json_object_get(a, "clashes");
    if (json_array_size(cl)) {
        tb_printf(&b, "Clashes (%d sounding together):\n", (int)json_integer_value(json_object_get(a, "clash_count")));
        size_t i;
        const json_t *c;
        json_array_foreach(cl, i, c) {
            if (i >= 12) {
                tb_printf(&b, "- …\n");
                break;
            }
            int bar;
            double bib;
            bar_beat(a, num_or(json_object_get(c, "beat"), 0), &bar, &bib);
            const json_t *ids = json_object_get(c, "tracks"), *names = json_object_get(c, "track_names"),
                         *nts = json_object_get(c, "notes");
            tb_printf(&b, "- bar %d beat %g: %s ", bar, bib, json_string_value(json_array_get(ids, 0)) ? json_string_value(json_array_get(ids, 0)) : "?");
            tb_quote(&b, json_string_value(json_array_get(names, 0)));
            tb_printf(&b, " %s vs %s ", json_string_value(json_array_get(nts, 0)),
                      json_string_value(json_array_get(ids, 1)) ? json_string_value(json_array_get(ids, 1)) : "?");
            tb_quote(&b, json_string_value(json_array_get(names, 1)));
            tb_printf(&b, " %s: %s", json_string_value(json_array_get(nts, 1)),
                      json_string_value(json_object_get(c, "interval")));
            int occ = (int)json_integer_value(json_object_get(c, "occurrences"));
            if (occ > 1)
                tb_printf(&b, " (%d times)", occ);
            tb_printf(&b, "\n");
        }
    }

    const json_t *reg = json_object_get(a, "registers");
    if (json_is_object(key) && json_array_size(reg)) {
        tb_printf(&b, "Registers:");
        size_t i;
        const json_t *r;
        json_array_foreach(reg, i, r) {
            const char *st = json_string_value(json_object_get(r, "status"));
            size_t nt = json_array_size(json_object_get(r, "tracks"));
            tb_printf(&b, "%s %s %s", i ? "," : "", json_string_value(json_object_get(r, "name")), st ? st : "?");
            if (st && strcmp(st, "empty"))
                tb_printf(&b, " (%zu track%s)", nt, nt == 1 ? "" : "s");
        }
        tb_printf(&b, ".\n");
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s ? b.s : strdup("");
}
