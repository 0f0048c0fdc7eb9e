/* mock.c — the mock DAW's state, plugin catalog, JSON dump/load, socket and inspection messages. */
#include "mock_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

/* ------------------------------------------------------------------------------------------------ */
/* Plugin catalog.  REAPER: stock Cockos plugins with the names REAPER shows in the FX chain
 * ("VST: ReaVerbate (Cockos)"); OSC feedback strips the "VST: " prefix (reaper-osc.md §4).  Parameters are
 * normalized 0..1 in REAPER's OSC, so they are modelled 0..1 here.  Ardour 7.3: the ACE plugins; ACE Compressor's
 * parameter list is exactly what real Ardour 7.3 reported (ardour-osc.md §3 and a probe on this machine); the
 * other ACE parameter lists are plausible subsets (documented as guessed in README.md). */

#define P01(n)                                                                                                         \
  { n, 128, 0.0f, 1.0f, "", 0.5 }
static const struct mk_pdesc rp_synth[] = {P01("Volume"),     P01("Tuning"),  P01("Attack"),
                                           P01("Decay"),      P01("Sustain"), P01("Release"),
                                           P01("Square mix"), P01("Saw mix"), P01("Triangle mix")};
/* ReaSynDr: REAPER's drum synthesizer (kick, snare, hi-hat and tom voices on the GM drum notes) */
static const struct mk_pdesc rp_syndr[] = {P01("Volume"), P01("Kick level"), P01("Snare level"), P01("Hi-hat level"),
                                           P01("Tom level")};
static const struct mk_pdesc rp_rs5k[] = {
    P01("Volume"),          P01("Pan"),          P01("Min vol"), P01("Note range start"), P01("Note range end"),
    P01("Pitch for start"), P01("Pitch for end")};
static const struct mk_pdesc rp_verbate[] = {P01("Wet"),   P01("Dry"),           P01("Room size"), P01("Dampening"),
                                             P01("Width"), P01("Initial delay"), P01("Lowpass"),   P01("Highpass")};
static const struct mk_pdesc rp_verb[] = {P01("Wet"), P01("Dry")};
static const struct mk_pdesc rp_delay[] = {
    P01("Wet"),      P01("Dry"),     P01("Length (time)"), P01("Length (musical)"),
    P01("Feedback"), P01("Lowpass"), P01("Hipass")};
static const struct mk_pdesc rp_eq[] = {P01("Freq-Low Shelf"),  P01("Gain-Low Shelf"), P01("Q-Low Shelf"),
                                        P01("Freq-Band 2"),     P01("Gain-Band 2"),    P01("Q-Band 2"),
                                        P01("Freq-High Shelf"), P01("Gain-High Shelf")};
static const struct mk_pdesc rp_comp[] = {P01("Thresh"),  P01("Ratio"),  P01("Attack"), P01("Release"), P01("Pre-comp"),
                                          P01("Lowpass"), P01("Hipass"), P01("Wet"),    P01("Dry")};
static const struct mk_pdesc rp_gate[] = {P01("Thresh"),  P01("Attack"), P01("Hold"),
                                          P01("Release"), P01("Wet"),    P01("Dry")};
static const struct mk_pdesc rp_generic[] = {P01("Wet"), P01("Dry"), P01("Bypass")};

static const struct mk_plugin reaper_catalog[] = {
    {"ReaSynth", "VSTi: ReaSynth (Cockos)", 1, 9, rp_synth},
    {"ReaSamplOmatic5000", "VSTi: ReaSamplOmatic5000 (Cockos)", 1, 7, rp_rs5k},
    {"ReaSynDr", "VSTi: ReaSynDr (Cockos)", 1, 5, rp_syndr},
    {"ReaVerbate", "VST: ReaVerbate (Cockos)", 0, 8, rp_verbate},
    {"ReaVerb", "VST: ReaVerb (Cockos)", 0, 2, rp_verb},
    {"ReaDelay", "VST: ReaDelay (Cockos)", 0, 7, rp_delay},
    {"ReaEQ", "VST: ReaEQ (Cockos)", 0, 8, rp_eq},
    {"ReaComp", "VST: ReaComp (Cockos)", 0, 9, rp_comp},
    {"ReaGate", "VST: ReaGate (Cockos)", 0, 6, rp_gate},
    {"ReaXcomp", "VST: ReaXcomp (Cockos)", 0, 3, rp_generic},
    {"ReaPitch", "VST: ReaPitch (Cockos)", 0, 3, rp_generic},
    {"ReaTune", "VST: ReaTune (Cockos)", 0, 3, rp_generic},
    {"ReaFIR", "VST: ReaFIR (Cockos)", 0, 3, rp_generic},
    {"ReaLimit", "VST: ReaLimit (Cockos)", 0, 3, rp_generic},
};

static const struct mk_pdesc ar_comp[] = {
    {"Attack", 128, 0.1f, 100.0f, "", 10.0},
    {"Release", 128, 1.0f, 2000.0f, "", 80.0},
    {"Knee", 128, 0.0f, 8.0f, "", 0.0},
    {"Ratio", 132, 1.0f, 20.0f, "%.3f  ", 4.0},
    {"Threshold", 128, -60.0f, 0.0f, "", 0.0},
    {"Makeup", 128, 0.0f, 30.0f, "", 0.0},
    {"Gain Reduction", 0, 0.0f, 45.0f, "%4.1f", 0.0},
    {"Input Level", 0, -60.0f, 10.0f, "%4.1f", 0.0},
    {"Output Level", 0, -60.0f, 10.0f, "%4.1f", 0.0},
    {"Sidechain", 194, 0.0f, 1.0f, "", 0.0},
    {"Enable", 194, 0.0f, 1.0f, "", 1.0},
};
static const struct mk_pdesc ar_reverb[] = {{"Blend", 128, 0.0f, 1.0f, "", 0.3},
                                            {"Room Size", 128, 0.5f, 1.0f, "", 0.75},
                                            {"Enable", 194, 0.0f, 1.0f, "", 1.0}};
static const struct mk_pdesc ar_delay[] = {
    {"BPM", 128, 1.0f, 240.0f, "", 120.0},      {"Time", 128, 1.0f, 8000.0f, "", 160.0},
    {"Divisor", 128, 1.0f, 8.0f, "", 4.0},      {"Feedback", 128, 0.0f, 100.0f, "", 50.0},
    {"LPF", 128, 20.0f, 20000.0f, "", 16000.0}, {"Output", 128, -60.0f, 10.0f, "", 0.0},
    {"Enable", 194, 0.0f, 1.0f, "", 1.0}};
static const struct mk_pdesc ar_eq[] = {
    {"Frequency L", 128, 20.0f, 20000.0f, "", 160.0},  {"Gain L", 128, -20.0f, 20.0f, "", 0.0},
    {"Frequency H", 128, 20.0f, 20000.0f, "", 9000.0}, {"Gain H", 128, -20.0f, 20.0f, "", 0.0},
    {"Master Gain", 128, -20.0f, 20.0f, "", 0.0},      {"Enable", 194, 0.0f, 1.0f, "", 1.0}};

static const struct mk_plugin ardour_catalog[] = {
    {"ACE Reasonable Synth", "ACE Reasonable Synth", 1, 0, NULL},
    {"ACE Fluid Synth", "ACE Fluid Synth", 1, 0, NULL},
    /* x42 AVL Drumkits (Debian avldrums.lv2, installed by .ci/deps): LV2 names from its manifest, kit built in */
    {"Black Pearl Drumkit", "Black Pearl Drumkit", 1, 0, NULL},
    {"Red Zeppelin Drumkit", "Red Zeppelin Drumkit", 1, 0, NULL},
    {"ACE Reverb", "ACE Reverb", 0, 3, ar_reverb},
    {"ACE Compressor", "ACE Compressor", 0, 11, ar_comp},
    {"ACE Delay", "ACE Delay", 0, 7, ar_delay},
    {"ACE EQ", "ACE EQ", 0, 6, ar_eq},
};

const char *mk_fx_osc_name(const char *full) {
  static const char *const pfx[] = {"VST: ", "VSTi: ", "VST3: ", "VST3i: ", "JS: ", "DX: ", "DXi: ", "AU: ", "AUi: "};
  for (size_t i = 0; i < sizeof pfx / sizeof pfx[0]; i++)
    if (strncmp(full, pfx[i], strlen(pfx[i])) == 0) return full + strlen(pfx[i]);
  return full;
}

const struct mk_plugin *mk_catalog_find(int dialect, const char *name) {
  const struct mk_plugin *cat = dialect == MK_REAPER ? reaper_catalog : ardour_catalog;
  size_t n = dialect == MK_REAPER ? sizeof reaper_catalog / sizeof reaper_catalog[0]
                                  : sizeof ardour_catalog / sizeof ardour_catalog[0];
  if (!name) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (strcasecmp(name, cat[i].name) == 0 || strcasecmp(name, cat[i].full) == 0 ||
        strcasecmp(name, mk_fx_osc_name(cat[i].full)) == 0)
      return &cat[i];
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------------ */
char *mk_strdup(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (!d) abort();
  memcpy(d, s, n);
  return d;
}

void mk_log(const mock_t *m, const char *fmt, ...) {
  if (m->cfg.quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "mock-daw[%s]: ", m->dialect == MK_REAPER ? "reaper" : "ardour");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int mock_companion_drop_replies(mock_t *m, int n) {
  if (!m->comp) return MOCK_ESTATE;
  mk_companion_drop_replies(m->comp, n);
  return MOCK_OK;
}

int mock_companion_legacy(mock_t *m, int on) {
  if (!m->comp) return MOCK_ESTATE;
  mk_companion_legacy(m->comp, on);
  return MOCK_OK;
}

const char *mock_strerror(int code) {
  switch (code) {
  case MOCK_OK: return "ok";
  case MOCK_EINVAL: return "invalid configuration";
  case MOCK_ESOCKET: return "cannot bind the UDP socket";
  case MOCK_ESESSION: return "invalid session file";
  case MOCK_ESPOOL: return "spool directory unusable";
  case MOCK_ENOMEM: return "out of memory";
  case MOCK_ESTATE: return "not possible in the current state";
  default: return "unknown error";
  }
}

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

char *mk_new_host_id(mock_t *m) {
  char buf[64];
  if (m->dialect == MK_REAPER) {
    uint64_t a = splitmix(&m->idrng), b = splitmix(&m->idrng);
    snprintf(buf, sizeof buf, "{%08X-%04X-%04X-%04X-%012llX}", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xffff, (unsigned)(b >> 48), (unsigned long long)(b & 0xffffffffffffull));
  } else {
    /* Ardour ids are decimal numbers from one counter shared by all objects */
    m->idrng++;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)(m->idrng & 0xffffffffull));
  }
  return mk_strdup(buf);
}

double mk_beats_to_sec(const mock_t *m, double beats) { return beats * 60.0 / m->st->tempo; }
double mk_sec_to_beats(const mock_t *m, double sec) { return sec * m->st->tempo / 60.0; }

/* ------------------------------------------------------------------------------------------------ */
/* state */
struct mk_state *mk_state_new(void) {
  struct mk_state *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->tempo = 120.0;
  s->ts_num = 4;
  s->ts_den = 4;
  s->next_serial = 1;
  s->saved = 1;
  return s;
}

void mk_fx_clear(struct mk_fx *f) {
  if (!f) return;
  free(f->name);
  free(f->preset);
  for (int i = 0; i < f->nparams; i++) free(f->params[i].name);
  free(f->params);
  memset(f, 0, sizeof *f);
}

static void fx_copy(struct mk_fx *d, const struct mk_fx *s) {
  *d = *s;
  d->name = mk_strdup(s->name);
  d->preset = mk_strdup(s->preset);
  d->params = NULL;
  if (s->nparams) {
    d->params = calloc((size_t)s->nparams, sizeof *d->params);
    if (!d->params) abort();
    for (int i = 0; i < s->nparams; i++) {
      d->params[i] = s->params[i];
      d->params[i].name = mk_strdup(s->params[i].name);
    }
  }
}

struct mk_fx *mk_fx_from_plugin(struct mk_fx *f, const struct mk_plugin *p, const char *fallback) {
  memset(f, 0, sizeof *f);
  f->name = mk_strdup(p ? p->full : fallback);
  f->preset = mk_strdup("");
  f->enabled = 1;
  if (p && p->nparams) {
    f->nparams = p->nparams;
    f->params = calloc((size_t)p->nparams, sizeof *f->params);
    if (!f->params) abort();
    for (int i = 0; i < p->nparams; i++) {
      f->params[i].name = mk_strdup(p->params[i].name);
      f->params[i].value = p->params[i].def;
      f->params[i].lower = p->params[i].lower;
      f->params[i].upper = p->params[i].upper;
      f->params[i].flags = p->params[i].flags;
      f->params[i].fmt = p->params[i].fmt;
    }
  }
  return f;
}

static void clip_free(struct mk_clip *c) {
  free(c->host_id);
  free(c->name);
  free(c->notes);
}

void mk_track_free(struct mk_track *t) {
  if (!t) return;
  free(t->host_id);
  free(t->name);
  if (t->inst) {
    mk_fx_clear(t->inst);
    free(t->inst);
  }
  for (int i = 0; i < t->nfx; i++) mk_fx_clear(&t->fx[i]);
  free(t->fx);
  for (int i = 0; i < t->nclips; i++) clip_free(&t->clips[i]);
  free(t->clips);
  free(t);
}

static struct mk_track *track_clone(const struct mk_track *s) {
  struct mk_track *t = malloc(sizeof *t);
  if (!t) abort();
  *t = *s;
  t->host_id = mk_strdup(s->host_id);
  t->name = mk_strdup(s->name);
  if (s->inst) {
    t->inst = malloc(sizeof *t->inst);
    if (!t->inst) abort();
    fx_copy(t->inst, s->inst);
  }
  t->fx = s->nfx ? calloc((size_t)s->nfx, sizeof *t->fx) : NULL;
  for (int i = 0; i < s->nfx; i++) fx_copy(&t->fx[i], &s->fx[i]);
  t->clips = s->nclips ? calloc((size_t)s->nclips, sizeof *t->clips) : NULL;
  for (int i = 0; i < s->nclips; i++) {
    const struct mk_clip *sc = &s->clips[i];
    struct mk_clip *c = &t->clips[i];
    *c = *sc;
    c->host_id = mk_strdup(sc->host_id);
    c->name = mk_strdup(sc->name);
    c->cap = sc->nnotes;
    c->notes = sc->nnotes ? malloc(sizeof *c->notes * (size_t)sc->nnotes) : NULL;
    if (sc->nnotes) memcpy(c->notes, sc->notes, sizeof *c->notes * (size_t)sc->nnotes);
  }
  return t;
}

struct mk_state *mk_state_clone(const struct mk_state *s) {
  struct mk_state *d = malloc(sizeof *d);
  if (!d) abort();
  *d = *s;
  d->captracks = s->ntracks ? s->ntracks : 1;
  d->tracks = calloc((size_t)d->captracks, sizeof *d->tracks);
  if (!d->tracks) abort();
  for (int i = 0; i < s->ntracks; i++) d->tracks[i] = track_clone(s->tracks[i]);
  d->markers = s->nmarkers ? calloc((size_t)s->nmarkers, sizeof *d->markers) : NULL;
  for (int i = 0; i < s->nmarkers; i++) {
    d->markers[i] = s->markers[i];
    d->markers[i].name = mk_strdup(s->markers[i].name);
  }
  return d;
}

void mk_state_free(struct mk_state *s) {
  if (!s) return;
  for (int i = 0; i < s->ntracks; i++) mk_track_free(s->tracks[i]);
  free(s->tracks);
  for (int i = 0; i < s->nmarkers; i++) free(s->markers[i].name);
  free(s->markers);
  free(s);
}

struct mk_track *mk_track_add(mock_t *m, int pos, const char *name, int type) {
  struct mk_state *s = m->st;
  if (s->ntracks == s->captracks) {
    s->captracks = s->captracks ? s->captracks * 2 : 16;
    s->tracks = realloc(s->tracks, sizeof *s->tracks * (size_t)s->captracks);
    if (!s->tracks) abort();
  }
  if (pos < 0 || pos > s->ntracks) pos = s->ntracks;
  memmove(&s->tracks[pos + 1], &s->tracks[pos], sizeof *s->tracks * (size_t)(s->ntracks - pos));
  struct mk_track *t = calloc(1, sizeof *t);
  if (!t) abort();
  t->serial = s->next_serial++;
  t->host_id = mk_new_host_id(m);
  t->name = mk_strdup(name);
  t->type = type;
  t->volume_db = 0.0;
  s->tracks[pos] = t;
  s->ntracks++;
  s->saved = 0;
  return t;
}

void mk_track_remove(mock_t *m, int i) {
  struct mk_state *s = m->st;
  if (i < 0 || i >= s->ntracks) return;
  mk_track_free(s->tracks[i]);
  memmove(&s->tracks[i], &s->tracks[i + 1], sizeof *s->tracks * (size_t)(s->ntracks - i - 1));
  s->ntracks--;
  s->saved = 0;
}

int mk_track_index(const mock_t *m, const struct mk_track *t) {
  for (int i = 0; i < m->st->ntracks; i++)
    if (m->st->tracks[i] == t) return i + 1;
  return 0;
}

int mk_fx_chain_len(const struct mk_track *t) { return (t->inst ? 1 : 0) + t->nfx; }

struct mk_fx *mk_fx_chain_get(struct mk_track *t, int k) {
  if (k < 1) return NULL;
  if (t->inst) {
    if (k == 1) return t->inst;
    k--;
  }
  return k <= t->nfx ? &t->fx[k - 1] : NULL;
}

/* ------------------------------------------------------------------------------------------------ */
/* undo: snapshots of the whole state */
static void undo_slot_free(char *name, struct mk_state *s) {
  free(name);
  mk_state_free(s);
}

/* Puts (name, s) on top of a stack of *n snapshots (taking both), dropping the oldest when it is full. */
static void snapshot_push(struct mk_snapshot *stack, int *n, char *name, struct mk_state *s) {
  if (*n == MK_UNDO_MAX) {
    undo_slot_free(stack[0].name, stack[0].s);
    memmove(&stack[0], &stack[1], sizeof stack[0] * (MK_UNDO_MAX - 1));
    (*n)--;
  }
  stack[*n].name = name;
  stack[*n].s = s;
  (*n)++;
}

void mk_undo_push(mock_t *m, const char *name) {
  if (m->group_open) return; /* the open group's snapshot covers it */
  snapshot_push(m->undo, &m->nundo, mk_strdup(name), mk_state_clone(m->st));
  while (m->nredo) {
    m->nredo--;
    undo_slot_free(m->redo[m->nredo].name, m->redo[m->nredo].s);
  }
}

int mk_undo(mock_t *m, char *name, size_t namelen) {
  if (!m->nundo) return -1;
  m->nundo--;
  if (name) snprintf(name, namelen, "%s", m->undo[m->nundo].name);
  snapshot_push(m->redo, &m->nredo, m->undo[m->nundo].name, m->st);
  m->st = m->undo[m->nundo].s;
  return 0;
}

int mk_redo(mock_t *m) {
  if (!m->nredo) return -1;
  m->nredo--;
  snapshot_push(m->undo, &m->nundo, m->redo[m->nredo].name, m->st);
  m->st = m->redo[m->nredo].s;
  return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* JSON */
static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static const char *display_fx_name(const mock_t *m, const struct mk_fx *f) {
  return m->dialect == MK_REAPER ? mk_fx_osc_name(f->name) : f->name;
}

json_t *mk_notes_json(const struct mk_clip *c) {
  json_t *a = json_array();
  for (int i = 0; i < c->nnotes; i++) {
    const struct mk_note *n = &c->notes[i];
    json_t *o = json_pack("{s:i,s:f,s:f,s:i}", "n", n->n, "s", n->s, "d", n->d, "v", n->v);
    if (n->c) json_object_set_new(o, "c", json_integer(n->c));
    json_array_append_new(a, o);
  }
  return a;
}

json_t *mk_state_json(const mock_t *m, const struct mk_state *s) {
  json_t *root = json_object();
  json_object_set_new(root, "format", json_string("dawbridge.session/1"));
  json_object_set_new(root, "dialect", json_string(m->dialect == MK_REAPER ? "reaper" : "ardour"));
  json_object_set_new(root, "project", json_string(m->project));
  json_object_set_new(root, "tempo", json_real(s->tempo));
  json_object_set_new(root, "time_signature", json_pack("[i,i]", s->ts_num, s->ts_den));
  json_object_set_new(root, "transport",
                      json_pack("{s:b,s:b,s:f}", "playing", s->playing, "recording", s->recording && s->playing,
                                "position", s->position));
  json_object_set_new(
      root, "loop", json_pack("{s:b,s:f,s:f}", "enabled", s->loop_enabled, "start", s->loop_start, "end", s->loop_end));
  json_t *mk = json_array();
  for (int i = 0; i < s->nmarkers; i++) {
    char id[32];
    snprintf(id, sizeof id, "m%d", s->markers[i].number);
    json_array_append_new(mk, json_pack("{s:s,s:i,s:s,s:f}", "id", id, "number", s->markers[i].number, "name",
                                        s->markers[i].name, "position", s->markers[i].pos));
  }
  json_object_set_new(root, "markers", mk);
  json_t *tr = json_array();
  for (int i = 0; i < s->ntracks; i++) {
    const struct mk_track *t = s->tracks[i];
    char id[32], nm[64];
    snprintf(id, sizeof id, "t%u", t->serial);
    const char *name = t->name;
    if (!name[0] && m->dialect == MK_REAPER) {
      snprintf(nm, sizeof nm, "Track %d", i + 1); /* REAPER shows unnamed tracks as "Track N" */
      name = nm;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "index", json_integer(i + 1));
    json_object_set_new(o, "host_id", json_string(t->host_id));
    json_object_set_new(o, "name", json_string(name));
    json_object_set_new(o, "type", json_string(t->type == MK_MIDI ? "midi" : t->type == MK_AUDIO ? "audio" : "bus"));
    json_object_set_new(o, "volume_db", json_real(t->volume_db <= -150.0 ? -150.0 : t->volume_db));
    json_object_set_new(o, "pan", json_real(t->pan));
    json_object_set_new(o, "mute", json_boolean(t->mute));
    json_object_set_new(o, "solo", json_boolean(t->solo));
    json_object_set_new(o, "rec_arm", json_boolean(t->recarm));
    json_object_set_new(o, "selected", json_boolean(t->selected));
    json_object_set_new(o, "instrument", t->inst ? json_string(display_fx_name(m, t->inst)) : json_null());
    /* the whole plugin chain in the host's order and numbering, instrument included (docs/session-json.md) */
    json_t *fx = json_array();
    int nchain = mk_fx_chain_len(t);
    for (int k = 0; k < nchain; k++) {
      const struct mk_fx *f = mk_fx_chain_get((struct mk_track *)t, k + 1);
      json_t *pa = json_array();
      for (int p = 0; p < f->nparams; p++) {
        const struct mk_param *pp = &f->params[p];
        double norm = pp->upper > pp->lower ? clampd((pp->value - pp->lower) / (pp->upper - pp->lower), 0, 1) : 0;
        json_array_append_new(pa, json_pack("{s:i,s:s,s:f}", "index", p + 1, "name", pp->name, "value", norm));
      }
      json_array_append_new(fx, json_pack("{s:i,s:s,s:b,s:o}", "index", k + 1, "name", display_fx_name(m, f), "enabled",
                                          f->enabled, "params", pa));
    }
    json_object_set_new(o, "fx", fx);
    json_t *cl = json_array();
    for (int k = 0; k < t->nclips; k++) {
      const struct mk_clip *c = &t->clips[k];
      json_array_append_new(cl, json_pack("{s:s,s:s,s:s,s:f,s:f,s:o}", "id", c->host_id, "host_id", c->host_id, "name",
                                          c->name, "start", c->start, "length", c->length, "notes", mk_notes_json(c)));
    }
    json_object_set_new(o, "clips", cl);
    json_array_append_new(tr, o);
  }
  json_object_set_new(root, "tracks", tr);
  return root;
}

json_t *mock_state(const mock_t *m) { return mk_state_json(m, m->st); }

/* --- load a session JSON --- */
static double jnum(json_t *o, const char *k, double def) {
  json_t *v = json_object_get(o, k);
  double d = json_is_number(v) ? json_number_value(v) : def;
  return isfinite(d) ? d : def;
}
static int jbool(json_t *o, const char *k, int def) {
  json_t *v = json_object_get(o, k);
  return json_is_boolean(v) ? json_is_true(v) : def;
}

static int load_session(mock_t *m, const char *file, char *err, size_t errlen) {
  json_error_t je;
  json_t *root = json_load_file(file, 0, &je);
  if (!root) {
    snprintf(err, errlen, "%s:%d: %s", file, je.line, je.text);
    return MOCK_ESESSION;
  }
  if (!json_is_object(root)) {
    snprintf(err, errlen, "%s: not a JSON object", file);
    json_decref(root);
    return MOCK_ESESSION;
  }
  struct mk_state *s = m->st;
  s->tempo = jnum(root, "tempo", 120.0);
  if (s->tempo < 1 || s->tempo > 960) s->tempo = 120.0;
  json_t *ts = json_object_get(root, "time_signature");
  if (json_is_array(ts) && json_array_size(ts) == 2) {
    s->ts_num = mk_dtoi((double)json_integer_value(json_array_get(ts, 0)), 0, 64);
    s->ts_den = mk_dtoi((double)json_integer_value(json_array_get(ts, 1)), 0, 64);
    if (s->ts_num <= 0 || s->ts_den <= 0) s->ts_num = s->ts_den = 4;
  }
  json_t *tp = json_object_get(root, "transport");
  if (json_is_object(tp)) {
    s->playing = jbool(tp, "playing", 0);
    s->recording = jbool(tp, "recording", 0);
    s->position = jnum(tp, "position", 0);
  }
  json_t *lp = json_object_get(root, "loop");
  if (json_is_object(lp)) {
    s->loop_enabled = jbool(lp, "enabled", 0);
    s->loop_start = jnum(lp, "start", 0);
    s->loop_end = jnum(lp, "end", 0);
  }
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(root, "markers"), i, v) {
    s->markers = realloc(s->markers, sizeof *s->markers * (size_t)(s->nmarkers + 1));
    struct mk_marker *mk = &s->markers[s->nmarkers++];
    mk->number = mk_dtoi(jnum(v, "number", (double)s->nmarkers), 1, 1 << 20);
    mk->name = mk_strdup(json_string_value(json_object_get(v, "name")));
    mk->pos = jnum(v, "position", 0);
  }
  json_array_foreach(json_object_get(root, "tracks"), i, v) {
    const char *type = json_string_value(json_object_get(v, "type"));
    int ty = type && !strcmp(type, "midi") ? MK_MIDI : type && !strcmp(type, "bus") ? MK_BUS : MK_AUDIO;
    struct mk_track *t = mk_track_add(m, -1, json_string_value(json_object_get(v, "name")), ty);
    const char *hid = json_string_value(json_object_get(v, "host_id"));
    if (hid && hid[0]) {
      free(t->host_id);
      t->host_id = mk_strdup(hid);
    }
    t->volume_db = jnum(v, "volume_db", 0);
    if (t->volume_db <= -150) t->volume_db = -150;
    t->pan = clampd(jnum(v, "pan", 0), -1, 1);
    t->mute = jbool(v, "mute", 0);
    t->solo = jbool(v, "solo", 0);
    t->recarm = jbool(v, "rec_arm", 0);
    t->selected = jbool(v, "selected", 0);
    const char *inst = json_string_value(json_object_get(v, "instrument"));
    if (inst && inst[0]) {
      t->inst = malloc(sizeof *t->inst);
      mk_fx_from_plugin(t->inst, mk_catalog_find(m->dialect, inst), inst);
    }
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(v, "fx"), k, f) {
      const char *fn = json_string_value(json_object_get(f, "name"));
      if (!fn) continue;
      struct mk_fx *fx;
      const struct mk_plugin *pl = mk_catalog_find(m->dialect, fn);
      if (k == 0 && t->inst && (!strcmp(fn, inst) || (pl && pl == mk_catalog_find(m->dialect, inst)))) {
        fx = t->inst; /* the chain lists the instrument too (usually first): it is not a second plugin */
      } else {
        t->fx = realloc(t->fx, sizeof *t->fx * (size_t)(t->nfx + 1));
        fx = &t->fx[t->nfx++];
        mk_fx_from_plugin(fx, pl, fn);
      }
      fx->enabled = jbool(f, "enabled", 1);
      size_t q;
      json_t *pv;
      json_array_foreach(json_object_get(f, "params"), q, pv) {
        int pi = mk_dtoi(jnum(pv, "index", (double)q + 1), 0, 1 << 20) - 1;
        if (pi >= 0 && pi < fx->nparams) {
          struct mk_param *pp = &fx->params[pi];
          pp->value = pp->lower + clampd(jnum(pv, "value", 0), 0, 1) * (pp->upper - pp->lower);
        }
      }
    }
    json_array_foreach(json_object_get(v, "clips"), k, f) {
      t->clips = realloc(t->clips, sizeof *t->clips * (size_t)(t->nclips + 1));
      struct mk_clip *c = &t->clips[t->nclips++];
      memset(c, 0, sizeof *c);
      const char *ch = json_string_value(json_object_get(f, "host_id"));
      c->host_id = ch && ch[0] ? mk_strdup(ch) : mk_new_host_id(m);
      c->name = mk_strdup(json_string_value(json_object_get(f, "name")));
      c->start = jnum(f, "start", 0);
      c->length = jnum(f, "length", 4);
      size_t q;
      json_t *nv;
      json_array_foreach(json_object_get(f, "notes"), q, nv) {
        if (c->nnotes == c->cap) {
          c->cap = c->cap ? c->cap * 2 : 16;
          c->notes = realloc(c->notes, sizeof *c->notes * (size_t)c->cap);
        }
        struct mk_note *n = &c->notes[c->nnotes++];
        n->n = mk_dtoi(jnum(nv, "n", 60), 0, 127);
        n->s = jnum(nv, "s", 0);
        n->d = jnum(nv, "d", 1);
        n->v = mk_dtoi(jnum(nv, "v", 100), 1, 127);
        n->c = mk_dtoi(jnum(nv, "c", 0), 0, 15);
      }
    }
  }
  s->saved = 1;
  json_decref(root);
  return MOCK_OK;
}

static void add_note(struct mk_clip *c, int n, double st, double d, int v) {
  if (c->nnotes == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->notes = realloc(c->notes, sizeof *c->notes * (size_t)c->cap);
  }
  c->notes[c->nnotes++] = (struct mk_note){n, st, d, v, 0};
}

static void build_initial(mock_t *m) {
  int n = m->cfg.tracks;
  if (n >= 0) {
    for (int i = 0; i < n; i++) {
      char name[32];
      snprintf(name, sizeof name, "Track %d", i + 1);
      mk_track_add(m, -1, name, i % 2 == 0 ? MK_MIDI : MK_AUDIO);
    }
  } else {
    /* demo session: a drum track with a kick pattern, a bass with a synth, a vocal with reverb, one marker */
    int R = m->dialect == MK_REAPER;
    const struct mk_plugin *synth = mk_catalog_find(m->dialect, R ? "ReaSynth" : "ACE Reasonable Synth");
    const struct mk_plugin *verb = mk_catalog_find(m->dialect, R ? "ReaVerbate" : "ACE Reverb");
    struct mk_track *t = mk_track_add(m, -1, "Drums", MK_MIDI);
    t->inst = malloc(sizeof *t->inst);
    mk_fx_from_plugin(t->inst, synth, NULL);
    t->clips = calloc(1, sizeof *t->clips);
    t->nclips = 1;
    t->clips[0].host_id = mk_new_host_id(m);
    t->clips[0].name = mk_strdup("kick");
    t->clips[0].length = 4;
    for (int b = 0; b < 4; b++) add_note(&t->clips[0], 36, b, 0.5, 110);
    t = mk_track_add(m, -1, "Bass", MK_MIDI);
    t->inst = malloc(sizeof *t->inst);
    mk_fx_from_plugin(t->inst, synth, NULL);
    t->volume_db = -6.0;
    t = mk_track_add(m, -1, "Vocals", MK_AUDIO);
    t->fx = calloc(1, sizeof *t->fx);
    t->nfx = 1;
    mk_fx_from_plugin(&t->fx[0], verb, NULL);
    t->pan = -0.25;
    m->st->markers = calloc(1, sizeof *m->st->markers);
    m->st->nmarkers = 1;
    m->st->markers[0] = (struct mk_marker){1, mk_strdup("Intro"), 0.0};
  }
  m->st->saved = 1;
}

/* ------------------------------------------------------------------------------------------------ */
/* OSC encoding (outgoing).  liblo deserialises what comes in; outgoing packets are built here directly because
 * a full REAPER refresh of a large bank is tens of thousands of messages and a liblo message per value would
 * cost a malloc/free each.  The format is plain OSC 1.0: padded path, padded ",types", big-endian args. */
static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

size_t mk_osc_vencode(void *buf, size_t cap, const char *path, const char *types, va_list ap) {
  unsigned char *p = buf;
  size_t pl = strlen(path), tl = strlen(types);
  size_t off = pad4(pl + 1);
  if (off + pad4(tl + 2) > cap) return 0;
  memset(p, 0, off);
  memcpy(p, path, pl);
  size_t t0 = off;
  off += pad4(tl + 2);
  memset(p + t0, 0, off - t0);
  p[t0] = ',';
  memcpy(p + t0 + 1, types, tl);
  for (const char *t = types; *t; t++) {
    switch (*t) {
    case 'i': {
      if (off + 4 > cap) return 0;
      uint32_t v = htonl((uint32_t)va_arg(ap, int));
      memcpy(p + off, &v, 4);
      off += 4;
      break;
    }
    case 'f': {
      if (off + 4 > cap) return 0;
      float f = (float)va_arg(ap, double);
      uint32_t v;
      memcpy(&v, &f, 4);
      v = htonl(v);
      memcpy(p + off, &v, 4);
      off += 4;
      break;
    }
    case 'h':
    case 'd': {
      if (off + 8 > cap) return 0;
      uint64_t v;
      if (*t == 'h') {
        int64_t x = va_arg(ap, int64_t);
        memcpy(&v, &x, 8);
      } else {
        double x = va_arg(ap, double);
        memcpy(&v, &x, 8);
      }
      uint32_t hi = htonl((uint32_t)(v >> 32)), lo = htonl((uint32_t)v);
      memcpy(p + off, &hi, 4);
      memcpy(p + off + 4, &lo, 4);
      off += 8;
      break;
    }
    case 's': {
      const char *s = va_arg(ap, const char *);
      if (!s) s = "";
      size_t sl = strlen(s), n = pad4(sl + 1);
      if (off + n > cap) return 0;
      memset(p + off, 0, n);
      memcpy(p + off, s, sl);
      off += n;
      break;
    }
    default: return 0;
    }
  }
  return off;
}

size_t mk_osc_encode(void *buf, size_t cap, const char *path, const char *types, ...) {
  va_list ap;
  va_start(ap, types);
  size_t n = mk_osc_vencode(buf, cap, path, types, ap);
  va_end(ap);
  return n;
}

/* ------------------------------------------------------------------------------------------------ */
/* sending */
void mk_addr(struct sockaddr_in *a, int port) {
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

struct send_req {
  uv_udp_send_t req;
  char data[];
};
static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

void mk_send_now(mock_t *m, const struct sockaddr_in *to, const void *buf, size_t len) {
  if (!m->udp || m->closing) return;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int r = uv_udp_try_send(m->udp, &b, 1, (const struct sockaddr *)to);
  if (r == UV_EAGAIN) {
    struct send_req *q = malloc(sizeof *q + len);
    if (!q) return;
    memcpy(q->data, buf, len);
    b = uv_buf_init(q->data, (unsigned)len);
    if (uv_udp_send(&q->req, m->udp, &b, 1, (const struct sockaddr *)to, on_sent) != 0) free(q);
  }
}

void mk_send_packet(mock_t *m, const struct sockaddr_in *to, const void *buf, size_t len, int nmsgs, int exempt) {
  m->stats.tx += (unsigned long)nmsgs;
  if (!exempt && mk_faults_delay(m->faults) > 0)
    mk_faults_delay_packet(m->faults, to, buf, len);
  else
    mk_send_now(m, to, buf, len);
}

int mk_drop_tx(mock_t *m) {
  if (mk_faults_should_drop(m->faults)) {
    m->stats.dropped_tx++;
    return 1;
  }
  return 0;
}

void mk_send_msg(mock_t *m, const struct sockaddr_in *to, int exempt, const char *path, const char *types, ...) {
  if (!exempt && mk_drop_tx(m)) return;
  char small[2048];
  va_list ap;
  va_start(ap, types);
  size_t n = mk_osc_vencode(small, sizeof small, path, types, ap);
  va_end(ap);
  if (n) {
    mk_send_packet(m, to, small, n, 1, exempt);
    return;
  }
  char *big = malloc(70000);
  if (!big) return;
  va_start(ap, types);
  n = mk_osc_vencode(big, 70000, path, types, ap);
  va_end(ap);
  if (n) mk_send_packet(m, to, big, n, 1, exempt);
  free(big);
}

double mk_arg_num(const char *types, lo_arg **argv, int i, int *ok) {
  *ok = 1;
  switch (types[i]) {
  case 'i': return mk_ai(argv, i);
  case 'f': return mk_af(argv, i);
  case 'd': return mk_ad(argv, i);
  case 'h': return (double)mk_ah(argv, i);
  default: *ok = 0; return 0;
  }
}

/* ------------------------------------------------------------------------------------------------ */
/* inspection: /mock/... */
static int write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen) {
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 16);
  snprintf(tmp, pl + 16, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
    free(tmp);
    return -1;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      free(tmp);
      return -1;
    }
    off += (size_t)w;
  }
  fsync(fd);
  close(fd);
  if (rename(tmp, path) != 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}

static void inspect(mock_t *m, const char *path, const char *types, lo_arg **argv, int argc,
                    const struct sockaddr_in *src) {
  if (!strcmp(path, "/mock/state")) {
    json_t *j = mock_state(m);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    size_t len = strlen(s), pos = 0;
    const size_t CH = 8000;
    /* chunks end on UTF-8 character boundaries */
    size_t bounds[4096];
    int n = 0;
    while (pos < len && n < 4095) {
      size_t e = pos + CH < len ? pos + CH : len;
      while (e < len && e > pos + 1 && ((unsigned char)s[e] & 0xC0) == 0x80) e--;
      bounds[n++] = e;
      pos = e;
    }
    if (n == 0) bounds[n++] = 0;
    char *buf = malloc(CH + 128);
    pos = 0;
    for (int i = 0; i < n; i++) {
      char save = s[bounds[i]];
      s[bounds[i]] = 0;
      size_t l = mk_osc_encode(buf, CH + 128, "/mock/state", "iis", i + 1, n, s + pos);
      s[bounds[i]] = save;
      if (l) mk_send_packet(m, src, buf, l, 1, 1);
      pos = bounds[i];
    }
    free(buf);
    free(s);
  } else if (!strcmp(path, "/mock/dump") && argc == 1 && types[0] == 's') {
    json_t *j = mock_state(m);
    char *s = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
    json_decref(j);
    char err[512];
    if (write_atomic(mk_as(argv, 0), s, strlen(s), err, sizeof err) == 0)
      mk_send_msg(m, src, 1, "/mock/dumped", "s", mk_as(argv, 0));
    else {
      mk_log(m, "/mock/dump: %s", err);
      mk_send_msg(m, src, 1, "/mock/error", "s", err);
    }
    free(s);
  } else if (!strcmp(path, "/mock/restart") && argc == 2) {
    int ok1, ok2;
    double keep = mk_arg_num(types, argv, 0, &ok1), down = mk_arg_num(types, argv, 1, &ok2);
    if (ok1 && ok2) mock_restart(m, keep != 0, mk_dtoi(down, 0, 600000));
  } else if (!strcmp(path, "/mock/fault") && argc == 2) {
    int ok1, ok2;
    double drop = mk_arg_num(types, argv, 0, &ok1), delay = mk_arg_num(types, argv, 1, &ok2);
    if (ok1 && ok2) {
      mk_faults_set(m->faults, isfinite(drop) ? clampd(drop, 0, 1) : 0, mk_dtoi(delay, 0, 600000));
      mk_log(m, "faults: drop %.3f delay %d ms", mk_faults_drop(m->faults), mk_faults_delay(m->faults));
      mk_send_msg(m, src, 1, "/mock/fault", "fi", mk_faults_drop(m->faults), mk_faults_delay(m->faults));
    }
  } else if (!strcmp(path, "/mock/ping")) {
    mk_send_msg(m, src, 1, "/mock/pong", "");
  } else {
    mk_log(m, "unknown inspection message %s", path);
  }
}

/* ------------------------------------------------------------------------------------------------ */
/* receiving */
static uint32_t rd32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void handle_message(mock_t *m, unsigned char *data, size_t len, const struct sockaddr_in *src) {
  if (len < 4 || data[0] != '/' || (len & 3)) {
    m->stats.malformed++;
    mk_log(m, "malformed OSC packet (%zu bytes) ignored", len);
    return;
  }
  size_t pl = strnlen((const char *)data, len);
  if (pl == len) {
    m->stats.malformed++;
    mk_log(m, "malformed OSC packet: unterminated address");
    return;
  }
  const char *path = (const char *)data;
  int is_inspect = strncmp(path, "/mock/", 6) == 0;
  m->stats.rx++;
  if (!is_inspect && mk_faults_should_drop(m->faults)) {
    m->stats.dropped_rx++;
    return;
  }
  size_t toff = pad4(pl + 1);
  if (toff >= len || data[toff] != ',') {
    /* no type-tag string: treated as a message without arguments (REAPER tolerates it; OSC 1.0 says old
     * senders may omit it) */
    if (toff > len) {
      m->stats.malformed++;
      mk_log(m, "malformed OSC message %s: truncated", path);
      return;
    }
    if (is_inspect)
      inspect(m, path, "", NULL, 0, src);
    else
      m->ops->handle(m, path, "", NULL, 0, src);
    return;
  }
  int res = 0;
  lo_message msg = lo_message_deserialise(data, len, &res);
  if (!msg) {
    m->stats.malformed++;
    mk_log(m, "malformed OSC message %s ignored (liblo error %d)", path, res);
    return;
  }
  const char *types = lo_message_get_types(msg);
  lo_arg **argv = lo_message_get_argv(msg);
  int argc = lo_message_get_argc(msg);
  if (is_inspect)
    inspect(m, path, types ? types : "", argv, argc, src);
  else
    m->ops->handle(m, path, types ? types : "", argv, argc, src);
  lo_message_free(msg);
}

static void handle_packet(mock_t *m, unsigned char *data, size_t len, const struct sockaddr_in *src) {
  m->in_packet = 1;
  if (len >= 16 && memcmp(data, "#bundle", 8) == 0) {
    size_t off = 16;
    while (off + 4 <= len) {
      uint32_t el = rd32(data + off);
      off += 4;
      if (el > len - off || (el & 3)) {
        m->stats.malformed++;
        mk_log(m, "malformed OSC bundle: element size %u", el);
        break;
      }
      if (el >= 8 && memcmp(data + off, "#bundle", 8) == 0) {
        m->stats.malformed++;
        mk_log(m, "nested OSC bundle ignored");
      } else {
        handle_message(m, data + off, el, src);
      }
      off += el;
      if (m->down || m->closing) break;
    }
  } else if (len >= 1 && data[0] == '#') {
    m->stats.malformed++;
    mk_log(m, "malformed OSC bundle (%zu bytes) ignored", len);
  } else {
    handle_message(m, data, len, src);
  }
  m->in_packet = 0;
  if (!m->closing) m->ops->after_packet(m);
}

static void on_alloc(uv_handle_t *h, size_t sugg, uv_buf_t *buf) {
  (void)sugg;
  mock_t *m = h->data;
  *buf = uv_buf_init(m->rxbuf, sizeof m->rxbuf);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags) {
  mock_t *m = h->data;
  if (nread <= 0 || !addr || m->closing || m->down) return;
  if (flags & UV_UDP_PARTIAL) {
    m->stats.malformed++;
    mk_log(m, "truncated datagram ignored");
    return;
  }
  struct sockaddr_in src;
  memcpy(&src, addr, sizeof src);
  handle_packet(m, (unsigned char *)buf->base, (size_t)nread, &src);
}

static void free_handle(uv_handle_t *h) { free(h); }

static int open_socket(mock_t *m, int port, char *err, size_t errlen) {
  uv_udp_t *u = malloc(sizeof *u);
  if (!u) return MOCK_ENOMEM;
  uv_udp_init(m->loop, u);
  u->data = m;
  struct sockaddr_in a;
  mk_addr(&a, port);
  a.sin_addr.s_addr = m->bind_addr;
  int r = uv_udp_bind(u, (const struct sockaddr *)&a, 0);
  if (r != 0) {
    if (err) snprintf(err, errlen, "cannot bind UDP 127.0.0.1:%d: %s", port, uv_strerror(r));
    uv_close((uv_handle_t *)u, free_handle);
    return MOCK_ESOCKET;
  }
  int sz = 4 << 20;
  uv_recv_buffer_size((uv_handle_t *)u, &sz);
  sz = 4 << 20;
  uv_send_buffer_size((uv_handle_t *)u, &sz);
  struct sockaddr_in got;
  int gl = sizeof got;
  uv_udp_getsockname(u, (struct sockaddr *)&got, &gl);
  m->port = ntohs(got.sin_port);
  uv_udp_recv_start(u, on_alloc, on_recv);
  m->udp = u;
  return MOCK_OK;
}

/* ------------------------------------------------------------------------------------------------ */
/* restart */
static void on_restart_timer(uv_timer_t *t) {
  mock_t *m = t->data;
  if (m->closing) return;
  if (!m->restart_keep) {
    mk_state_free(m->st);
    m->st = mk_state_clone(m->initial);
  }
  char err[256];
  if (open_socket(m, m->port, err, sizeof err) != MOCK_OK) {
    mk_log(m, "restart: %s; retrying in 100 ms", err);
    uv_timer_start(m->restart_timer, on_restart_timer, 100, 0);
    return;
  }
  m->down = 0;
  mk_log(m, "back up on 127.0.0.1:%d (%s)", m->port, m->restart_keep ? "state kept" : "state reset");
  m->ops->reset(m, 1);
  m->ops->after_packet(m);
}

int mock_restart(mock_t *m, int keep_state, int down_ms) {
  if (m->closing || m->down) return MOCK_ESTATE;
  mk_log(m, "restart: down for %d ms, %s", down_ms, keep_state ? "keeping state" : "resetting state");
  m->down = 1;
  m->restart_keep = keep_state;
  if (m->udp) {
    uv_udp_recv_stop(m->udp);
    uv_close((uv_handle_t *)m->udp, free_handle);
    m->udp = NULL;
  }
  mk_faults_flush_drop(m->faults);
  uv_timer_start(m->restart_timer, on_restart_timer, (uint64_t)(down_ms < 0 ? 0 : down_ms), 0);
  return MOCK_OK;
}

/* ------------------------------------------------------------------------------------------------ */
static int mkdir_p(const char *dir) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = 0;
      if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
      *p = '/';
    }
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
  return 0;
}

int mock_new(uv_loop_t *loop, const struct mock_config *cfg, mock_t **out, char *err, size_t errlen) {
  char dummy[8];
  if (!err) {
    err = dummy;
    errlen = sizeof dummy;
  }
  if (errlen) err[0] = 0;
  *out = NULL;
  if (!loop || !cfg || !cfg->dialect || (strcmp(cfg->dialect, "reaper") && strcmp(cfg->dialect, "ardour"))) {
    snprintf(err, errlen, "dialect must be \"reaper\" or \"ardour\"");
    return MOCK_EINVAL;
  }
  if (cfg->drop < 0 || cfg->drop > 1 || cfg->delay_ms < 0 || cfg->port < 0 || cfg->port > 65535 ||
      cfg->feedback_port < 0 || cfg->feedback_port > 65535 || cfg->tracks < -1) {
    snprintf(err, errlen, "bad configuration value (drop 0..1, delay >= 0, ports 0..65535, tracks >= -1)");
    return MOCK_EINVAL;
  }
  struct in_addr bind_addr = {htonl(INADDR_LOOPBACK)};
  if (cfg->host && inet_pton(AF_INET, cfg->host, &bind_addr) != 1) {
    snprintf(err, errlen, "--host must be an IPv4 address, not '%.60s'", cfg->host);
    return MOCK_EINVAL;
  }
  mock_t *m = calloc(1, sizeof *m);
  if (!m) return MOCK_ENOMEM;
  m->loop = loop;
  m->cfg = *cfg;
  m->cfg.host = NULL; /* kept as bind_addr */
  m->bind_addr = bind_addr.s_addr;
  m->dialect = strcmp(cfg->dialect, "reaper") == 0 ? MK_REAPER : MK_ARDOUR;
  m->cfg.dialect = m->dialect == MK_REAPER ? "reaper" : "ardour";
  if (!m->cfg.feedback_port) m->cfg.feedback_port = m->dialect == MK_REAPER ? 9000 : 8000;
  m->project = mk_strdup(cfg->project && cfg->project[0] ? cfg->project : "mock");
  m->cfg.project = m->project;
  m->cfg.session_file = NULL;
  m->spool = cfg->spool_dir ? mk_strdup(cfg->spool_dir) : NULL;
  m->cfg.spool_dir = m->spool;
  m->idrng = 0x5eed0000ull + cfg->seed;
  if (m->dialect == MK_ARDOUR) m->idrng = 200; /* Ardour's ids are small decimal numbers */
  m->ops = m->dialect == MK_REAPER ? &mk_reaper_ops : &mk_ardour_ops;
  m->st = mk_state_new();
  int rc = MOCK_OK;
  if (cfg->session_file) {
    rc = load_session(m, cfg->session_file, err, errlen);
  } else {
    build_initial(m);
  }
  if (rc == MOCK_OK) {
    m->initial = mk_state_clone(m->st);
    rc = m->dialect == MK_REAPER ? mk_reaper_init(m) : mk_ardour_init(m);
    if (rc != MOCK_OK) snprintf(err, errlen, "dialect init failed");
  }
  if (rc == MOCK_OK && m->spool) {
    if (mkdir_p(m->spool) != 0) {
      snprintf(err, errlen, "cannot create spool dir %s: %s", m->spool, strerror(errno));
      rc = MOCK_ESPOOL;
    }
  }
  if (rc == MOCK_OK) rc = open_socket(m, cfg->port, err, errlen);
  if (rc != MOCK_OK) {
    if (m->dl) m->ops->free(m);
    mk_state_free(m->st);
    mk_state_free(m->initial);
    free(m->project);
    free(m->spool);
    free(m);
    return rc;
  }
  m->faults = mk_faults_new(m, loop, cfg->drop, cfg->delay_ms, cfg->seed);
  m->restart_timer = malloc(sizeof *m->restart_timer);
  uv_timer_init(loop, m->restart_timer);
  m->restart_timer->data = m;
  if (m->spool && mk_companion_new(m, m->spool, &m->comp, err, errlen) != MOCK_OK) {
    /* socket etc. exist: close properly through mock_close, but report the error synchronously */
    mk_log(m, "%s", err);
    mock_close(m, NULL, NULL);
    return MOCK_ESPOOL;
  }
  mk_log(m, "listening on 127.0.0.1:%d, %s %d, %d tracks%s", m->port,
         m->dialect == MK_REAPER ? "feedback to port" : "replies before /set_surface to port", m->cfg.feedback_port,
         m->st->ntracks, m->spool ? ", companion on" : "");
  m->ops->reset(m, 1);
  m->ops->after_packet(m);
  *out = m;
  return MOCK_OK;
}

int mock_port(const mock_t *m) { return m->port; }

void mock_get_stats(const mock_t *m, struct mock_stats *st) { *st = m->stats; }

static void finish_close(mock_t *m) {
  m->ops->free(m);
  mk_state_free(m->st);
  mk_state_free(m->initial);
  for (int i = 0; i < m->nundo; i++) undo_slot_free(m->undo[i].name, m->undo[i].s);
  for (int i = 0; i < m->nredo; i++) undo_slot_free(m->redo[i].name, m->redo[i].s);
  free(m->group_name);
  mk_state_free(m->group_snap);
  void (*cb)(void *) = m->close_cb;
  void *data = m->close_data;
  free(m->project);
  free(m->spool);
  free(m);
  if (cb) cb(data);
}

void mk_close_one(mock_t *m) {
  if (--m->pending_close == 0) finish_close(m);
}

static void on_handle_closed(uv_handle_t *h) {
  mock_t *m = h->data;
  free(h);
  mk_close_one(m);
}

static void on_sub_closed(void *data) { mk_close_one(data); }

void mock_close(mock_t *m, void (*cb)(void *data), void *data) {
  if (!m || m->closing) return;
  m->closing = 1;
  m->close_cb = cb;
  m->close_data = data;
  m->pending_close = 1; /* guard */
  if (m->udp) {
    m->pending_close++;
    uv_udp_recv_stop(m->udp);
    uv_close((uv_handle_t *)m->udp, on_handle_closed);
    m->udp = NULL;
  }
  if (m->restart_timer) {
    m->pending_close++;
    uv_timer_stop(m->restart_timer);
    uv_close((uv_handle_t *)m->restart_timer, on_handle_closed);
    m->restart_timer = NULL;
  }
  if (m->faults) {
    m->pending_close++;
    mk_faults_close(m->faults, on_sub_closed, m);
    m->faults = NULL;
  }
  if (m->comp) {
    m->pending_close++;
    mk_companion_close(m->comp, on_sub_closed, m);
    m->comp = NULL;
  }
  mk_close_one(m); /* drop the guard; finishes now if nothing was pending */
}
