/* reaper.c — the mock REAPER: the default OSC surface (Default.ReaperOSC) as described in
 * ../shared/docs/reaper-osc.md and docs/reaper-notes.md (both taken from REAPER's csurf_osc.cpp).
 *
 * Modelled: listen port / device port, type tags i f s only, #bundle packing up to 1024 bytes (a single message
 * goes out bare), the change-only cache per concrete address (an incoming message clears its own entry, action
 * 41743 clears all), anti-echo (no feedback on the address being handled unless its flag is b or t), '@' bank
 * relative track addressing, bank size / bank select with clamping, device-selected track with clamping, empty
 * bank slots reported as "Track N", full refresh (master, every bank slot, globals), play-state feedback,
 * tempo, markers (/marker_id create-if-missing, feedback only with /device/marker/count > 0), actions.
 *
 * The fader curve (REAPER's SLIDER2DB is unpublished) is the mock's own:  pos = 10^((dB - 12) / 80)
 * (pos 1.0 = +12 dB, REAPER's default maximum; 0 dB at pos 0.7079; pos 0 = -inf).  Bridges should use
 * /track/@/volume/db, which needs no curve. */
#include "mock_int.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RP_MAX_PACKET 1024
#define RP_MAX_BANK 16384 /* REAPER has no limit; the mock caps it so a refresh stays bounded */

struct cent {
  char *key;
  char type; /* 'f' 'i' 's' */
  uint32_t bits;
  char *s;
};

struct rp {
  int bank_size, bank_start, fx_count, marker_count, dev_sel;
  unsigned last_touched;
  struct sockaddr_in fb;
  struct cent *tab;
  size_t cap, n;
  unsigned char pkt[RP_MAX_PACKET];
  size_t plen;
  int pmsgs;
  const char *handling;
  int loop_dirty; /* loop times changed: REAPER's periodic run reports them after the message is handled */
};

static struct rp *RP(mock_t *m) { return m->dl; }

/* ---------------- change-only cache ---------------- */
static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static struct cent *cache_slot(struct rp *r, const char *key) {
  size_t i = (size_t)fnv(key) & (r->cap - 1);
  while (r->tab[i].key && strcmp(r->tab[i].key, key)) i = (i + 1) & (r->cap - 1);
  return &r->tab[i];
}

static void cache_grow(struct rp *r) {
  struct cent *old = r->tab;
  size_t oc = r->cap;
  r->cap = oc ? oc * 2 : 1024;
  r->tab = calloc(r->cap, sizeof *r->tab);
  if (!r->tab) abort();
  for (size_t i = 0; i < oc; i++)
    if (old[i].key) *cache_slot(r, old[i].key) = old[i];
  free(old);
}

static void cache_clear(struct rp *r) {
  for (size_t i = 0; i < r->cap; i++) {
    free(r->tab[i].key);
    free(r->tab[i].s);
  }
  memset(r->tab, 0, sizeof *r->tab * r->cap);
  r->n = 0;
}

static void cache_del(struct rp *r, const char *key) {
  struct cent *e = cache_slot(r, key);
  if (!e->key) return;
  free(e->key);
  free(e->s);
  memset(e, 0, sizeof *e);
  r->n--;
  /* re-insert the rest of the probe cluster */
  size_t i = (size_t)(e - r->tab);
  for (i = (i + 1) & (r->cap - 1); r->tab[i].key; i = (i + 1) & (r->cap - 1)) {
    struct cent c = r->tab[i];
    memset(&r->tab[i], 0, sizeof c);
    *cache_slot(r, c.key) = c;
  }
}

/* returns 1 if the value differs from the cached one (and stores it) */
static int cache_update(struct rp *r, const char *key, char type, uint32_t bits, const char *s) {
  if ((r->n + 1) * 10 >= r->cap * 7) cache_grow(r);
  struct cent *e = cache_slot(r, key);
  if (e->key) {
    if (e->type == type && (type == 's' ? strcmp(e->s, s) == 0 : e->bits == bits)) return 0;
    free(e->s);
    e->s = NULL;
  } else {
    e->key = mk_strdup(key);
    r->n++;
  }
  e->type = type;
  e->bits = bits;
  if (type == 's') e->s = mk_strdup(s);
  return 1;
}

/* ---------------- packing ---------------- */
static void flush(mock_t *m) {
  struct rp *r = RP(m);
  if (!r->pmsgs) return;
  if (r->pmsgs == 1)
    mk_send_packet(m, &r->fb, r->pkt + 20, r->plen - 20, 1, 0);
  else
    mk_send_packet(m, &r->fb, r->pkt, r->plen, r->pmsgs, 0);
  r->pmsgs = 0;
  r->plen = 0;
}

static void queue_msg(mock_t *m, const unsigned char *msg, size_t len) {
  struct rp *r = RP(m);
  if (r->pmsgs && r->plen + 4 + len > RP_MAX_PACKET) flush(m);
  if (16 + 4 + len > RP_MAX_PACKET) { /* too big for a bundle: alone, bare */
    mk_send_packet(m, &r->fb, msg, len, 1, 0);
    return;
  }
  if (!r->pmsgs) {
    memcpy(r->pkt, "#bundle\0", 8);
    static const unsigned char immediate[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    memcpy(r->pkt + 8, immediate, 8);
    r->plen = 16;
  }
  uint32_t be = htonl((uint32_t)len);
  memcpy(r->pkt + r->plen, &be, 4);
  memcpy(r->pkt + r->plen + 4, msg, len);
  r->plen += 4 + len;
  r->pmsgs++;
}

/* one feedback value through anti-echo and the change-only cache */
static void fb(mock_t *m, char flag, const char *addr, char type, double num, const char *str) {
  struct rp *r = RP(m);
  float f = (float)num;
  uint32_t bits = 0;
  if (type == 'f') memcpy(&bits, &f, 4);
  if (type == 'i') bits = (uint32_t)(int)num;
  /* csurf_osc.cpp checks anti-echo before its cache, so there a suppressed value is sent by the next refresh.
   * This mock re-sends a whole track on any change of it (REAPER sends only what changed), so it stores the
   * suppressed value to keep that broad re-send from echoing it; a refresh (41743) still sends everything. */
  int changed = cache_update(r, addr, type, bits, str);
  if (r->handling && flag != 'b' && flag != 't' && strcmp(addr, r->handling) == 0) return; /* anti-echo */
  if (!changed) return;
  if (mk_drop_tx(m)) return;
  unsigned char buf[RP_MAX_PACKET];
  size_t n = type == 's'   ? mk_osc_encode(buf, sizeof buf, addr, "s", str)
             : type == 'i' ? mk_osc_encode(buf, sizeof buf, addr, "i", (int)num)
                           : mk_osc_encode(buf, sizeof buf, addr, "f", (double)f);
  if (n) queue_msg(m, buf, n);
}
#define FBF(flag, val, ...)                                                                                            \
  do {                                                                                                                 \
    char a_[160];                                                                                                      \
    snprintf(a_, sizeof a_, __VA_ARGS__);                                                                              \
    fb(m, flag, a_, 'f', (val), NULL);                                                                                 \
  } while (0)
#define FBS(str, ...)                                                                                                  \
  do {                                                                                                                 \
    char a_[160];                                                                                                      \
    snprintf(a_, sizeof a_, __VA_ARGS__);                                                                              \
    fb(m, 's', a_, 's', 0, (str));                                                                                     \
  } while (0)

/* ---------------- conversions ---------------- */
static double db_to_pos(double db) { return db <= -150.0 ? 0.0 : fmin(1.0, pow(10.0, (db - 12.0) / 80.0)); }
static double pos_to_db(double pos) { return pos <= 0.0 ? -150.0 : 80.0 * log10(fmin(pos, 1.0)) + 12.0; }
static void vol_str(char *b, size_t n, double db) {
  if (db <= -150.0)
    snprintf(b, n, "-inf dB");
  else
    snprintf(b, n, "%.2fdB", db);
}
static void pan_str(char *b, size_t n, double pan) {
  int p = (int)lround(pan * 100.0);
  if (p == 0)
    snprintf(b, n, "C"); /* REAPER's "center", abbreviated by the OSC surface */
  else
    snprintf(b, n, "%d%%%c", abs(p), p < 0 ? 'L' : 'R');
}
static double tempo_norm(double bpm) { return (bpm - 1.0) / 959.0; } /* REAPER tempo range 1..960 (mock's choice) */

static const char *track_name(mock_t *m, int abs, char *buf, size_t n) {
  if (abs == 0) return "MASTER";
  if (abs <= m->st->ntracks && m->st->tracks[abs - 1]->name[0]) return m->st->tracks[abs - 1]->name;
  snprintf(buf, n, "Track %d", abs);
  return buf;
}

/* ---------------- feedback builders ---------------- */
/* prefix "/track/S" for a bank slot or "/track" for the device-selected track */
static void track_fb(mock_t *m, const char *pfx, int abs, int with_fx) {
  struct rp *r = RP(m);
  struct mk_state *s = m->st;
  struct mk_track *t = abs >= 1 && abs <= s->ntracks ? s->tracks[abs - 1] : NULL;
  char nb[64], vb[32], pb[32], num[16];
  double db, pan;
  int mute = 0, solo = 0, rec = 0, sel = 0, mon = 0;
  if (abs == 0) {
    db = s->master_db;
    pan = s->master_pan;
    mute = s->master_mute;
  } else if (t) {
    db = t->volume_db;
    pan = t->pan;
    mute = t->mute;
    solo = t->solo;
    rec = t->recarm;
    sel = t->selected;
    mon = t->monitor;
  } else {
    db = -150.0; /* empty slot: volume 0 (-inf), pan centre (reaper-notes.md §1) */
    pan = 0;
  }
  snprintf(num, sizeof num, "%d", abs);
  if (!strcmp(pfx, "/master")) { /* MASTER_VOLUME n/master/volume s/master/volume/str, MASTER_PAN likewise */
    FBF('n', db_to_pos(db), "/master/volume");
    vol_str(vb, sizeof vb, db);
    FBS(vb, "/master/volume/str");
    FBF('n', (pan + 1.0) * 0.5, "/master/pan");
    pan_str(pb, sizeof pb, pan);
    FBS(pb, "/master/pan/str");
    return;
  }
  FBS(track_name(m, abs, nb, sizeof nb), "%s/name", pfx);
  FBS(num, "%s/number/str", pfx);
  FBF('b', sel, "%s/select", pfx);
  FBF('n', db_to_pos(db), "%s/volume", pfx);
  FBF('f', db <= -150 ? -150.0 : db, "%s/volume/db", pfx);
  vol_str(vb, sizeof vb, db);
  FBS(vb, "%s/volume/str", pfx);
  FBF('n', (pan + 1.0) * 0.5, "%s/pan", pfx);
  pan_str(pb, sizeof pb, pan);
  FBS(pb, "%s/pan/str", pfx);
  if (abs != 0) {
    FBF('b', mute, "%s/mute", pfx);
    FBF('b', solo, "%s/solo", pfx);
    FBF('b', rec, "%s/recarm", pfx);
    FBF('b', mon, "%s/monitor", pfx);
  }
  if (!with_fx || abs == 0) return;
  for (int k = 1; k <= r->fx_count; k++) {
    struct mk_fx *f = t ? mk_fx_chain_get(t, k) : NULL;
    char kb[16];
    snprintf(kb, sizeof kb, "%d", k);
    FBS(f ? mk_fx_osc_name(f->name) : "", "%s/fx/%d/name", pfx, k);
    FBS(f ? kb : "", "%s/fx/%d/number/str", pfx, k);
    FBF('b', f ? f->enabled : 0, "%s/fx/%d/bypass", pfx, k);
    FBS(f ? f->preset : "", "%s/fx/%d/preset", pfx, k);
    FBF('b', f ? f->openui : 0, "%s/fx/%d/openui", pfx, k);
    if (f)
      for (int p = 0; p < f->nparams && p < 16; p++) {
        struct mk_param *pp = &f->params[p];
        double nv = pp->upper > pp->lower ? (pp->value - pp->lower) / (pp->upper - pp->lower) : 0;
        FBF('n', nv, "%s/fx/%d/fxparam/%d/value", pfx, k, p + 1);
      }
  }
  FBS(t && t->inst ? mk_fx_osc_name(t->inst->name) : "", "%s/fxinst/name", pfx);
  FBF('b', t && t->inst ? t->inst->enabled : 0, "%s/fxinst/bypass", pfx);
}

static void globals_fb(mock_t *m) {
  struct mk_state *s = m->st;
  char tb[32];
  fb(m, 't', "/play", 'f', s->playing, NULL);
  fb(m, 't', "/stop", 'f', !s->playing, NULL);
  fb(m, 't', "/record", 'f', s->playing && s->recording, NULL);
  fb(m, 't', "/pause", 'f', s->paused, NULL);
  fb(m, 't', "/repeat", 'f', s->loop_enabled, NULL);
  fb(m, 't', "/click", 'f', s->click, NULL);
  fb(m, 'f', "/tempo/raw", 'f', s->tempo, NULL);
  fb(m, 'n', "/tempo", 'f', tempo_norm(s->tempo), NULL);
  snprintf(tb, sizeof tb, "%g bpm", s->tempo);
  fb(m, 's', "/tempo/str", 's', 0, tb);
  fb(m, 'f', "/time", 'f', mk_beats_to_sec(m, s->position), NULL);
}

static int marker_cmp(const void *a, const void *b) {
  const struct mk_marker *x = *(struct mk_marker *const *)a, *y = *(struct mk_marker *const *)b;
  return x->pos < y->pos ? -1 : x->pos > y->pos ? 1 : x->number - y->number;
}

/* markers in time order (REAPER enumerates markers by position) */
static int sorted_markers(mock_t *m, struct mk_marker ***out) {
  int n = m->st->nmarkers;
  struct mk_marker **v = malloc(sizeof *v * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) v[i] = &m->st->markers[i];
  qsort(v, (size_t)n, sizeof *v, marker_cmp);
  *out = v;
  return n;
}

static void markers_fb(mock_t *m) {
  struct rp *r = RP(m);
  if (r->marker_count <= 0) return;
  struct mk_marker **v;
  int n = sorted_markers(m, &v);
  for (int k = 1; k <= r->marker_count; k++) {
    struct mk_marker *mk = k <= n ? v[k - 1] : NULL;
    char nb[16];
    snprintf(nb, sizeof nb, "%d", mk ? mk->number : 0);
    FBS(mk ? mk->name : "", "/marker/%d/name", k);
    FBS(mk ? nb : "", "/marker/%d/number/str", k);
    FBF('f', mk ? mk_beats_to_sec(m, mk->pos) : 0.0, "/marker/%d/time", k);
  }
  free(v);
}

static void devsel_fb(mock_t *m) {
  struct rp *r = RP(m);
  track_fb(m, "/track", r->dev_sel, 0);
}

static void devsel_marks_fb(mock_t *m) {
  struct rp *r = RP(m);
  for (int s = 1; s <= r->bank_size; s++) FBF('b', r->bank_start + s == r->dev_sel, "/device/track/select/%d", s);
}

static void full_refresh(mock_t *m) {
  struct rp *r = RP(m);
  track_fb(m, "/master", 0, 0);
  for (int s = 1; s <= r->bank_size; s++) {
    char pfx[32];
    snprintf(pfx, sizeof pfx, "/track/%d", s);
    track_fb(m, pfx, r->bank_start + s, 1);
  }
  devsel_fb(m);
  devsel_marks_fb(m);
  globals_fb(m);
  markers_fb(m);
}

/* feedback for one track after a change: its bank slot (if visible) and the no-@ patterns if device-selected */
static void track_changed(mock_t *m, int abs) {
  struct rp *r = RP(m);
  if (abs == 0) {
    track_fb(m, "/master", 0, 0);
  } else if (abs > r->bank_start && abs <= r->bank_start + r->bank_size) {
    char pfx[32];
    snprintf(pfx, sizeof pfx, "/track/%d", abs - r->bank_start);
    track_fb(m, pfx, abs, 1);
  }
  if (r->dev_sel == abs) devsel_fb(m);
}

static void clamp_devsel(mock_t *m) {
  struct rp *r = RP(m);
  if (r->dev_sel > m->st->ntracks) r->dev_sel = m->st->ntracks;
  if (r->dev_sel < 0) r->dev_sel = 0;
}

/* ---------------- argument helpers (REAPER: n/f/b/t/r accept float or int; s parsed with atof) ---------------- */
static int arg_num(const char *types, lo_arg **argv, int argc, double *v) {
  if (argc < 1) return 0;
  switch (types[0]) {
  case 'f': *v = mk_af(argv, 0); break;
  case 'i': *v = mk_ai(argv, 0); break;
  case 's': *v = atof(mk_as(argv, 0)); break;
  default: return 0;
  }
  return isfinite(*v); /* NaN and inf are ignored */
}
static int arg_b(const char *types, lo_arg **argv, int argc, int *out) {
  double v;
  if (!arg_num(types, argv, argc, &v)) return 0;
  if (v == 1.0) {
    *out = 1;
    return 1;
  }
  if (v == 0.0) {
    *out = 0;
    return 1;
  }
  return 0; /* any other value is ignored */
}
static int arg_t(const char *types, lo_arg **argv, int argc) {
  double v;
  if (argc == 0) return 1;
  return arg_num(types, argv, argc, &v) && v == 1.0;
}

/* ---------------- transport / markers / actions ---------------- */
static void set_transport(mock_t *m, int playing, int recording, int paused) {
  struct mk_state *s = m->st;
  s->playing = playing;
  s->recording = recording;
  s->paused = paused;
  globals_fb(m);
}

static struct mk_marker *marker_by_number(mock_t *m, int num) {
  for (int i = 0; i < m->st->nmarkers; i++)
    if (m->st->markers[i].number == num) return &m->st->markers[i];
  return NULL;
}

static struct mk_marker *marker_add(mock_t *m, int num, double pos, const char *name) {
  struct mk_state *s = m->st;
  s->markers = realloc(s->markers, sizeof *s->markers * (size_t)(s->nmarkers + 1));
  struct mk_marker *mk = &s->markers[s->nmarkers++];
  mk->number = num;
  mk->pos = pos;
  mk->name = mk_strdup(name);
  s->saved = 0;
  return mk;
}

static int lowest_free_marker(mock_t *m) {
  for (int n = 1;; n++)
    if (!marker_by_number(m, n)) return n;
}

static struct mk_track *track_by_serial(mock_t *m, unsigned serial, int *idx) {
  for (int i = 0; i < m->st->ntracks; i++)
    if (m->st->tracks[i]->serial == serial) {
      if (idx) *idx = i;
      return m->st->tracks[i];
    }
  return NULL;
}

static void run_action(mock_t *m, int id) {
  struct rp *r = RP(m);
  struct mk_state *s = m->st;
  switch (id) {
  case 40001: { /* Track: Insert new track — after the last touched track (REAPER core behaviour, reaper-notes.md
                   §8); without one, after the last selected track; else at the end. The new track is the only
                   selected one and becomes the last touched. */
    int pos = -1, i;
    if (track_by_serial(m, r->last_touched, &i)) pos = i + 1;
    if (pos < 0)
      for (i = 0; i < s->ntracks; i++)
        if (s->tracks[i]->selected) pos = i + 1;
    mk_undo_push(m, "Insert new track");
    for (i = 0; i < s->ntracks; i++) s->tracks[i]->selected = 0;
    struct mk_track *t = mk_track_add(m, pos, "", MK_AUDIO);
    t->selected = 1;
    r->last_touched = t->serial;
    int abs = mk_track_index(m, t);
    mk_log(m, "action 40001: inserted track %d", abs);
    /* The new track's name goes out on its bank slot even when the slot showed the same default name before
     * ("Track N" of the unnamed track that moved down, or of the empty slot): REAPER announces a new track this
     * way (issue 10 §8, reaper-osc.md "create_track"), so its cache entry is dropped before the refresh. */
    if (abs > r->bank_start && abs <= r->bank_start + r->bank_size) {
      char key[64];
      snprintf(key, sizeof key, "/track/%d/name", abs - r->bank_start);
      cache_del(r, key);
    }
    full_refresh(m);
    break;
  }
  case 40005: { /* Track: Remove tracks (the selected ones) */
    int any = 0;
    for (int i = 0; i < s->ntracks; i++) any |= s->tracks[i]->selected;
    if (!any) break;
    mk_undo_push(m, "Remove tracks");
    for (int i = s->ntracks - 1; i >= 0; i--)
      if (s->tracks[i]->selected) mk_track_remove(m, i);
    clamp_devsel(m);
    full_refresh(m);
    break;
  }
  case 40296:
  case 40297:
    for (int i = 0; i < s->ntracks; i++) s->tracks[i]->selected = id == 40296;
    full_refresh(m);
    break;
  case 41743: /* Control surface: Refresh all surfaces -> CSURF_EXT_RESET: cache emptied, everything resent */
    cache_clear(r);
    full_refresh(m);
    break;
  case 1007: set_transport(m, 1, s->recording && s->playing, 0); break;
  case 1016: set_transport(m, 0, 0, 0); break;
  case 1013: set_transport(m, 1, 1, 0); break;
  case 1008: set_transport(m, 0, s->recording, s->playing || !s->paused); break;
  case 40044: set_transport(m, !s->playing, 0, 0); break;
  case 1068:
    s->loop_enabled = !s->loop_enabled;
    globals_fb(m);
    break;
  case 40364:
    s->click = !s->click;
    globals_fb(m);
    break;
  case 40042:
    s->position = 0;
    globals_fb(m);
    break;
  case 40157: /* Markers: Insert marker at current position (lowest free number, unnamed) */
    mk_undo_push(m, "Insert marker");
    marker_add(m, lowest_free_marker(m), s->position, "");
    markers_fb(m);
    break;
  case 40026:
    s->saved = 1;
    mk_log(m, "project saved");
    break;
  case 40029:
  case 40030: {
    char nm[128] = "";
    int rc = id == 40029 ? mk_undo(m, nm, sizeof nm) : mk_redo(m);
    mk_log(m, "%s %s", id == 40029 ? "undo" : "redo", rc ? "(nothing to do)" : nm);
    if (!rc) {
      clamp_devsel(m);
      full_refresh(m);
    }
    break;
  }
  default: mk_log(m, "action %d not modelled (ignored)", id); break;
  }
}

static void run_named(mock_t *m, const char *name) {
  if (!name[0]) return;
  char *end;
  long id = strtol(name, &end, 10);
  if (*end == 0 && id > 0) {
    run_action(m, (int)id);
  } else if (strcmp(name, MK_REAPER_COMMAND_ID) == 0 && m->comp) {
    mk_companion_run(m->comp);
  } else {
    mk_log(m, "unknown named command %s (ignored)", name);
  }
}

/* ---------------- track messages ---------------- */
static void handle_track(mock_t *m, int abs, const char *sub, const char *types, lo_arg **argv, int argc) {
  struct rp *r = RP(m);
  struct mk_state *s = m->st;
  double v;
  int b;
  if (abs == 0) { /* /track/0/... with bank at 0, or the device-selected master */
    if (!strcmp(sub, "volume") && arg_num(types, argv, argc, &v))
      s->master_db = pos_to_db(v);
    else if (!strcmp(sub, "volume/db") && arg_num(types, argv, argc, &v))
      s->master_db = v <= -150 ? -150 : v;
    else if (!strcmp(sub, "pan") && arg_num(types, argv, argc, &v))
      s->master_pan = fmax(-1, fmin(1, 2 * v - 1));
    else
      return;
    track_changed(m, 0);
    return;
  }
  if (abs < 0 || abs > s->ntracks) return; /* no such track: REAPER ignores it */
  struct mk_track *t = s->tracks[abs - 1];
  int ok = 1;
  if (!strcmp(sub, "name") && argc >= 1 && types[0] == 's') {
    free(t->name);
    t->name = mk_strdup(mk_as(argv, 0));
  } else if (!strcmp(sub, "volume") && arg_num(types, argv, argc, &v)) {
    t->volume_db = pos_to_db(fmax(0, v));
  } else if (!strcmp(sub, "volume/db") && arg_num(types, argv, argc, &v)) {
    t->volume_db = v <= -150 ? -150 : v;
  } else if (!strcmp(sub, "pan") && arg_num(types, argv, argc, &v)) {
    t->pan = fmax(-1, fmin(1, 2 * v - 1));
  } else if (!strcmp(sub, "mute") && arg_b(types, argv, argc, &b)) {
    t->mute = b;
  } else if (!strcmp(sub, "solo") && arg_b(types, argv, argc, &b)) {
    t->solo = b;
  } else if (!strcmp(sub, "recarm") && arg_b(types, argv, argc, &b)) {
    t->recarm = b;
  } else if (!strcmp(sub, "select") && arg_b(types, argv, argc, &b)) {
    t->selected = b;
  } else if (!strcmp(sub, "mute/toggle") && arg_t(types, argv, argc)) {
    t->mute = !t->mute;
  } else if (!strcmp(sub, "solo/toggle") && arg_t(types, argv, argc)) {
    t->solo = !t->solo;
  } else if (!strcmp(sub, "recarm/toggle") && arg_t(types, argv, argc)) {
    t->recarm = !t->recarm;
  } else if (!strcmp(sub, "monitor") && arg_num(types, argv, argc, &v)) {
    if (types[0] == 'i' ? (v >= 0 && v <= 2) : (v == 0 || v == 1))
      t->monitor = (int)v;
    else
      ok = 0;
  } else if (!strncmp(sub, "fx/", 3) || !strncmp(sub, "fxinst", 6)) {
    int k = 0, p = 0;
    char tail[64] = "";
    struct mk_fx *f = NULL;
    if (sscanf(sub, "fx/%d/fxparam/%d/%63s", &k, &p, tail) == 3 && !strcmp(tail, "value")) {
      f = mk_fx_chain_get(t, k);
      if (!f || p < 1 || p > f->nparams || argc < 1 || types[0] != 'f') return; /* int -1 ends an edit */
      struct mk_param *pp = &f->params[p - 1];
      pp->value = pp->lower + fmax(0, fmin(1, mk_af(argv, 0))) * (pp->upper - pp->lower);
    } else if (sscanf(sub, "fxinstparam/%d/%63s", &p, tail) == 2 && !strcmp(tail, "value")) {
      f = t->inst;
      if (!f || p < 1 || p > f->nparams || argc < 1 || types[0] != 'f') return;
      struct mk_param *pp = &f->params[p - 1];
      pp->value = pp->lower + fmax(0, fmin(1, mk_af(argv, 0))) * (pp->upper - pp->lower);
    } else if (sscanf(sub, "fx/%d/%63s", &k, tail) == 2 && (f = mk_fx_chain_get(t, k))) {
      if (!strcmp(tail, "bypass") && arg_b(types, argv, argc, &b))
        f->enabled = b; /* value = enabled */
      else if (!strcmp(tail, "openui") && arg_b(types, argv, argc, &b))
        f->openui = b;
      else
        return;
    } else if (!strcmp(sub, "fxinst/bypass") && t->inst && arg_b(types, argv, argc, &b)) {
      t->inst->enabled = b;
    } else if (!strcmp(sub, "fxinst/openui") && t->inst && arg_b(types, argv, argc, &b)) {
      t->inst->openui = b;
    } else {
      return;
    }
  } else {
    ok = 0;
  }
  if (!ok) return;
  s->saved = 0;
  r->last_touched = t->serial;
  track_changed(m, abs);
}

/* ---------------- dispatch ---------------- */
static void rp_handle(mock_t *m, const char *path, const char *types, lo_arg **argv, int argc,
                      const struct sockaddr_in *src) {
  (void)src;
  struct rp *r = RP(m);
  struct mk_state *s = m->st;
  for (const char *t = types; *t; t++)
    if (*t != 'i' && *t != 'f' && *t != 's') {
      m->stats.malformed++;
      mk_log(m, "message %s with type tag '%c' rejected (REAPER accepts only i, f, s)", path, *t);
      return;
    }
  if (strlen(path) > 512) return;
  cache_del(r, path); /* an incoming message clears the cache entry of its own address */
  r->handling = path;
  double v;
  int n;
  if (!strncmp(path, "/track/", 7)) {
    const char *rest = path + 7;
    if (isdigit((unsigned char)rest[0])) {
      char *e;
      long slot = strtol(rest, &e, 10);
      if (*e == '/') handle_track(m, r->bank_start + (int)slot, e + 1, types, argv, argc);
    } else {
      handle_track(m, r->dev_sel, rest, types, argv, argc);
    }
  } else if (!strcmp(path, "/master/volume") || !strcmp(path, "/master/pan")) {
    handle_track(m, 0, path + 8, types, argv, argc);
  } else if (!strcmp(path, "/play")) {
    if (arg_t(types, argv, argc)) set_transport(m, 1, s->recording && (s->playing || s->paused), 0);
  } else if (!strcmp(path, "/stop")) {
    if (arg_t(types, argv, argc)) set_transport(m, 0, 0, 0);
  } else if (!strcmp(path, "/record")) {
    if (arg_t(types, argv, argc)) set_transport(m, 1, 1, 0);
  } else if (!strcmp(path, "/pause")) {
    if (arg_t(types, argv, argc)) set_transport(m, 0, s->recording, 1);
  } else if (!strcmp(path, "/repeat")) {
    if (arg_t(types, argv, argc)) {
      s->loop_enabled = !s->loop_enabled;
      globals_fb(m);
    }
  } else if (!strcmp(path, "/click")) {
    if (arg_t(types, argv, argc)) {
      s->click = !s->click;
      globals_fb(m);
    }
  } else if (!strcmp(path, "/tempo/raw")) {
    if (arg_num(types, argv, argc, &v) && v >= 1 && v <= 960) {
      s->tempo = v;
      s->saved = 0;
      globals_fb(m);
      markers_fb(m);
    }
  } else if (!strcmp(path, "/tempo")) {
    if (arg_num(types, argv, argc, &v) && v >= 0 && v <= 1) {
      s->tempo = 1.0 + v * 959.0;
      s->saved = 0;
      globals_fb(m);
      markers_fb(m);
    }
  } else if (!strcmp(path, "/loop/start/time") || !strcmp(path, "/loop/end/time")) {
    if (arg_num(types, argv, argc, &v) && v >= 0 && v < 1e9) {
      if (path[6] == 's')
        s->loop_start = mk_sec_to_beats(m, v);
      else
        s->loop_end = mk_sec_to_beats(m, v);
      s->saved = 0;
      r->loop_dirty = 1;
    }
  } else if (!strcmp(path, "/time")) {
    if (arg_num(types, argv, argc, &v) && v >= 0 && v < 1e9) {
      s->position = mk_sec_to_beats(m, v);
      globals_fb(m);
    }
  } else if (!strncmp(path, "/marker_id/", 11)) {
    char *e;
    long num = strtol(path + 11, &e, 10);
    if (num < 1 || *e != '/') goto done;
    int is_time = !strcmp(e, "/time"), is_name = !strcmp(e, "/name");
    if (!(is_time && arg_num(types, argv, argc, &v)) && !(is_name && argc >= 1 && types[0] == 's')) goto done;
    struct mk_marker *mk = marker_by_number(m, (int)num);
    if (!mk) mk = marker_add(m, (int)num, 0.0, ""); /* REAPER creates a missing marker at time 0 */
    if (is_time)
      mk->pos = mk_sec_to_beats(m, fmin(fmax(0, v), 1e9));
    else {
      free(mk->name);
      mk->name = mk_strdup(mk_as(argv, 0));
    }
    s->saved = 0;
    markers_fb(m);
  } else if (!strncmp(path, "/marker/", 8) || !strcmp(path, "/marker")) {
    int k = 0;
    if (!strcmp(path, "/marker")) {
      if (arg_num(types, argv, argc, &v)) k = mk_dtoi(v, 0, 1 << 20);
    } else if (arg_t(types, argv, argc)) {
      k = atoi(path + 8);
    }
    struct mk_marker **mv;
    int nm = sorted_markers(m, &mv);
    if (k >= 1 && k <= nm) {
      s->position = mv[k - 1]->pos;
      globals_fb(m);
    }
    free(mv);
  } else if (!strcmp(path, "/action") || !strcmp(path, "/action/str")) {
    /* int32 or string arguments only; a float does nothing; several run in order */
    for (int i = 0; i < argc; i++) {
      if (types[i] == 'i')
        run_action(m, mk_ai(argv, i));
      else if (types[i] == 's')
        run_named(m, mk_as(argv, i));
    }
  } else if (!strncmp(path, "/action/", 8)) {
    const char *id = path + 8;
    if (strchr(id, '/')) { /* /action/@/cc...: not modelled */
      mk_log(m, "%s not modelled (ignored)", path);
    } else if (arg_t(types, argv, argc)) {
      run_named(m, id);
    }
  } else if (!strcmp(path, "/device/track/count")) {
    if (arg_num(types, argv, argc, &v) && v >= 0) {
      r->bank_size = mk_dtoi(v, 0, RP_MAX_BANK);
      full_refresh(m);
    }
  } else if (!strcmp(path, "/device/fx/count")) {
    if (arg_num(types, argv, argc, &v) && v >= 0) {
      r->fx_count = mk_dtoi(v, 0, 128);
      full_refresh(m);
    }
  } else if (!strcmp(path, "/device/marker/count")) {
    if (arg_num(types, argv, argc, &v) && v >= 0) {
      r->marker_count = mk_dtoi(v, 0, 4096);
      markers_fb(m);
    }
  } else if (!strcmp(path, "/device/track/select")) {
    if (arg_num(types, argv, argc, &v)) {
      double t = r->bank_start + v;
      r->dev_sel = mk_dtoi(t, 0, s->ntracks); /* clamped to the track count */
      devsel_fb(m);
      devsel_marks_fb(m);
    }
  } else if (!strcmp(path, "/device/track/+") || !strcmp(path, "/device/track/-")) {
    if (arg_t(types, argv, argc)) {
      r->dev_sel += path[strlen(path) - 1] == '+' ? 1 : -1;
      clamp_devsel(m);
      devsel_fb(m);
      devsel_marks_fb(m);
    }
  } else if (!strcmp(path, "/device/track/bank/select")) {
    if (arg_num(types, argv, argc, &v)) {
      n = r->bank_size;
      long bs = ((long)mk_dtoi(v, -1000000, 1000000) - 1) * n;
      long maxs = s->ntracks - 1 > 0 ? s->ntracks - 1 : 0;
      if (bs > maxs) bs = maxs;
      if (bs < 0) bs = 0;
      if (n > 0) bs = bs / n * n;
      r->bank_start = (int)bs;
      full_refresh(m);
    }
  } else if (!strcmp(path, "/device/track/bank/+") || !strcmp(path, "/device/track/bank/-")) {
    if (arg_t(types, argv, argc) && r->bank_size > 0) {
      int last = s->ntracks > 0 ? (s->ntracks - 1) / r->bank_size * r->bank_size : 0;
      if (path[strlen(path) - 1] == '+')
        r->bank_start = r->bank_start + r->bank_size > last ? 0 : r->bank_start + r->bank_size;
      else
        r->bank_start = r->bank_start == 0 ? last : r->bank_start - r->bank_size;
      full_refresh(m);
    }
  } else {
    mk_log(m, "unknown address %s (ignored)", path);
  }
done:
  r->handling = NULL;
}

static void rp_after_packet(mock_t *m) {
  struct rp *r = RP(m);
  if (r->loop_dirty) {
    /* LOOP_START_TIME / LOOP_END_TIME come from REAPER's periodic surface run (csurf_osc.cpp), not from the
     * handler, so anti-echo does not apply to them */
    r->loop_dirty = 0;
    fb(m, 'f', "/loop/start/time", 'f', m->st->loop_start * 60.0 / m->st->tempo, NULL);
    fb(m, 'f', "/loop/end/time", 'f', m->st->loop_end * 60.0 / m->st->tempo, NULL);
  }
  flush(m);
}

static void rp_reset(mock_t *m, int startup) {
  (void)startup;
  struct rp *r = RP(m);
  r->bank_size = 8; /* DEVICE_TRACK_COUNT 8 */
  r->bank_start = 0;
  r->fx_count = 8; /* DEVICE_FX_COUNT 8 */
  r->marker_count = 0;
  r->dev_sel = 0;
  r->pmsgs = 0;
  r->plen = 0;
  cache_clear(r);
  full_refresh(m); /* REAPER sends everything when the surface starts */
}

static void rp_tracks_changed(mock_t *m) {
  clamp_devsel(m);
  full_refresh(m); /* a track-list or FX-chain change triggers a (cache-filtered) refresh */
  if (!m->in_packet) flush(m);
}

static void rp_track_changed(mock_t *m, struct mk_track *t) {
  (void)t;
  rp_tracks_changed(m);
}

static void rp_free(mock_t *m) {
  struct rp *r = RP(m);
  if (!r) return;
  cache_clear(r);
  free(r->tab);
  free(r);
  m->dl = NULL;
}

const struct mk_dialect_ops mk_reaper_ops = {rp_handle,         rp_after_packet,  rp_reset,
                                             rp_tracks_changed, rp_track_changed, rp_free};

int mk_reaper_init(mock_t *m) {
  struct rp *r = calloc(1, sizeof *r);
  if (!r) return MOCK_ENOMEM;
  m->dl = r;
  cache_grow(r);
  mk_addr(&r->fb, m->cfg.feedback_port);
  r->bank_size = 8;
  r->fx_count = 8;
  return MOCK_OK;
}
