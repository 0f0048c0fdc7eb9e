/* companion.c — the dawbridge companion protocol (osc-maps/companions/PROTOCOL.md), implemented from that
 * document only, shared by both dialects.
 *
 * REAPER flavour: runs once per trigger (/action/str <command id>), drains in/, replies by file only; publishes
 * companion.json with its command id at start.  Ardour flavour: polls in/ every 50 ms (uv timer, like the
 * headless session-host loop) and replies by file and by OSC /dawbridge/reply s JSON to 127.0.0.1:reply_port.
 * File I/O is synchronous on the loop thread: the files are a few KB and this is a test double. */
#include "mock_int.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char MK_REAPER_COMMAND_ID[] = "_RSdawbridgemock0000000000000000000000000000";

#define MEMORY 256

struct mk_companion {
  mock_t *m;
  char *spool, *in, *out;
  uv_timer_t *timer; /* Ardour only */
  struct {
    char *id;
    char *reply;
  } mem[MEMORY];
  int nmem, memhead;
  int drop_replies; /* fault: the next N replies are lost (the command still runs and is remembered) */
  int legacy;       /* plays a companion from before the packed form: no "bulk" in ping, no packed notes */
  void (*close_cb)(void *);
  void *close_data;
};

/* ---------------- helpers ---------------- */
static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_file_atomic(const char *dir, const char *name, const char *data) {
  char tmp[4096], dst[4096];
  snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
  snprintf(dst, sizeof dst, "%s/%s", dir, name);
  FILE *f = fopen(tmp, "w");
  if (!f) return -1;
  fputs(data, f);
  if (fflush(f) != 0) {
    fclose(f);
    unlink(tmp);
    return -1;
  }
  fsync(fileno(f));
  fclose(f);
  return rename(tmp, dst);
}

static const char *remembered(struct mk_companion *c, const char *id) {
  for (int i = 0; i < c->nmem; i++)
    if (!strcmp(c->mem[i].id, id)) return c->mem[i].reply;
  return NULL;
}

static void remember(struct mk_companion *c, const char *id, const char *reply) {
  int slot;
  if (c->nmem < MEMORY) {
    slot = c->nmem++;
  } else {
    slot = c->memhead;
    c->memhead = (c->memhead + 1) % MEMORY;
    free(c->mem[slot].id);
    free(c->mem[slot].reply);
  }
  c->mem[slot].id = mk_strdup(id);
  c->mem[slot].reply = mk_strdup(reply);
}

static int valid_id(const char *id) {
  size_t n = strlen(id);
  if (n < 1 || n > 64) return 0;
  for (const char *p = id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
          *p == '-'))
      return 0;
  return 1;
}

/* ---------------- addressing ---------------- */
static struct mk_track *find_track(mock_t *m, json_t *ref, char *err, size_t errlen) {
  if (json_is_integer(ref)) {
    json_int_t i = json_integer_value(ref);
    if (i >= 1 && i <= m->st->ntracks) return m->st->tracks[i - 1];
    snprintf(err, errlen, "no track at index %lld (the session has %d tracks)", (long long)i, m->st->ntracks);
    return NULL;
  }
  if (json_is_string(ref)) {
    for (int i = 0; i < m->st->ntracks; i++)
      if (!strcmp(m->st->tracks[i]->host_id, json_string_value(ref))) return m->st->tracks[i];
    snprintf(err, errlen, "no track with id %s", json_string_value(ref));
    return NULL;
  }
  snprintf(err, errlen, "'track' must be a track id string or a 1-based index");
  return NULL;
}

static struct mk_clip *find_clip(mock_t *m, json_t *ref, struct mk_track **tr, char *err, size_t errlen) {
  if (!json_is_string(ref)) {
    snprintf(err, errlen, "'clip' must be a clip id string");
    return NULL;
  }
  for (int i = 0; i < m->st->ntracks; i++)
    for (int k = 0; k < m->st->tracks[i]->nclips; k++)
      if (!strcmp(m->st->tracks[i]->clips[k].host_id, json_string_value(ref))) {
        if (tr) *tr = m->st->tracks[i];
        return &m->st->tracks[i]->clips[k];
      }
  snprintf(err, errlen, "no clip with id %s", json_string_value(ref));
  return NULL;
}

static const char *type_name(int t) { return t == MK_MIDI ? "midi" : t == MK_AUDIO ? "audio" : "bus"; }

static const char *fx_name(mock_t *m, const struct mk_fx *f) {
  (void)m;
  return f->name; /* the host's own name (REAPER: "VST: ReaVerbate (Cockos)", as TrackFX_GetFXName gives it) */
}

static int note_cmp(const void *a, const void *b) {
  const struct mk_note *x = a, *y = b;
  if (x->s != y->s) return x->s < y->s ? -1 : 1;
  return x->n - y->n;
}

/* parse notes; on error returns -1 with err naming the note. match_only: notes to remove, which PROTOCOL.md
 * matches on n and s only (d and v may be absent) */
static int parse_notes(json_t *arr, double length, int match_only, struct mk_note **out, int *count, char *err,
                       size_t errlen) {
  *out = NULL;
  *count = 0;
  if (!arr) return 0;
  if (!json_is_array(arr)) {
    snprintf(err, errlen, "'notes' must be an array");
    return -1;
  }
  size_t n = json_array_size(arr), i;
  json_t *v;
  struct mk_note *notes = calloc(n ? n : 1, sizeof *notes);
  json_array_foreach(arr, i, v) {
    json_t *jn = json_object_get(v, "n"), *js = json_object_get(v, "s"), *jd = json_object_get(v, "d"),
           *jv = json_object_get(v, "v"), *jc = json_object_get(v, "c");
    struct mk_note *x = &notes[i];
    int ok_d = json_is_number(jd) || (match_only && !jd), ok_v = json_is_integer(jv) || (match_only && !jv);
    if (!json_is_integer(jn) || !json_is_number(js) || !ok_d || !ok_v || (jc && !json_is_integer(jc))) {
      snprintf(err, errlen, "note %zu: needs integer n, number s, number d, integer v", i + 1);
      free(notes);
      return -1;
    }
    if (llabs(json_integer_value(jn)) > 100000 || llabs(json_integer_value(jv)) > 100000 ||
        (jc && llabs(json_integer_value(jc)) > 100000)) {
      snprintf(err, errlen, "note %zu: value out of range", i + 1);
      free(notes);
      return -1;
    }
    x->n = (int)json_integer_value(jn);
    x->s = json_number_value(js);
    x->d = jd ? json_number_value(jd) : 1;
    x->v = jv ? (int)json_integer_value(jv) : 1;
    x->c = jc ? (int)json_integer_value(jc) : 0;
    if (x->n < 0 || x->n > 127 || x->v < 1 || x->v > 127 || x->d <= 0 || x->s < 0 || x->c < 0 || x->c > 15 ||
        (length > 0 && x->s >= length)) {
      snprintf(err, errlen, "note %zu {n:%d, s:%g, d:%g, v:%d} out of range (n 0-127, v 1-127, d > 0, 0 <= s < %g)",
               i + 1, x->n, x->s, x->d, x->v, length);
      free(notes);
      return -1;
    }
  }
  *out = notes;
  *count = (int)n;
  return 0;
}

/* PROTOCOL.md "Bulk notes": one command carries at most this many notes (either form) */
#define MAX_NOTES 50000
#define TICKS 1920

/* packed notes "n s d v c;..." (s, d in ticks of 1/1920 beat) -> notes, checked like the JSON form */
static int parse_packed(json_t *js, double length, struct mk_note **out, int *count, char *err, size_t errlen) {
  *out = NULL;
  *count = 0;
  if (!json_is_string(js)) {
    snprintf(err, errlen, "packed notes must be a string \"n s d v c;...\"");
    return -1;
  }
  const char *p = json_string_value(js);
  size_t cap = 0;
  int n = 0;
  struct mk_note *notes = NULL;
  while (*p) {
    long long v[5];
    char *end;
    for (int k = 0; k < 5; k++) {
      while (*p == ' ') p++;
      if (*p < '0' || *p > '9') { /* digits only: no sign, no fraction */
        snprintf(err, errlen, "bad packed note %d (want \"n s d v c\" integers, ';' between)", n + 1);
        free(notes);
        return -1;
      }
      v[k] = strtoll(p, &end, 10);
      p = end;
      if (v[k] > 2000000000LL) {
        snprintf(err, errlen, "packed note %d: value out of range", n + 1);
        free(notes);
        return -1;
      }
    }
    while (*p == ' ') p++;
    if (*p == ';')
      p++;
    else if (*p) {
      snprintf(err, errlen, "bad packed note %d (want ';' after it)", n + 1);
      free(notes);
      return -1;
    }
    if (n >= MAX_NOTES) {
      snprintf(err, errlen, "more than %d notes in one command: send the rest with edit_clip 'add'", MAX_NOTES);
      free(notes);
      return -1;
    }
    if ((size_t)n == cap) {
      cap = cap ? cap * 2 : 256;
      struct mk_note *g = realloc(notes, cap * sizeof *notes);
      if (!g) {
        free(notes);
        snprintf(err, errlen, "out of memory");
        return -1;
      }
      notes = g;
    }
    struct mk_note *x = &notes[n];
    x->n = (int)v[0];
    x->s = (double)v[1] / TICKS;
    x->d = (double)v[2] / TICKS;
    x->v = (int)v[3];
    x->c = (int)v[4];
    if (x->n > 127 || x->v < 1 || x->v > 127 || v[2] < 1 || x->c > 15 || (length > 0 && x->s >= length)) {
      snprintf(err, errlen, "packed note %d {n:%d, s:%lld, d:%lld, v:%d, c:%d} out of range", n + 1, x->n, v[1], v[2],
               x->v, x->c);
      free(notes);
      return -1;
    }
    n++;
  }
  *out = notes;
  *count = n;
  return 0;
}

/* the notes of a command: JSON under key, or packed under pkey (not both); at most MAX_NOTES */
static int command_notes(struct mk_companion *c, json_t *args, const char *key, const char *pkey, double length,
                         struct mk_note **out, int *count, char *err, size_t errlen) {
  json_t *pk = c->legacy ? NULL : json_object_get(args, pkey);
  int rc;
  if (pk && json_object_get(args, key)) {
    snprintf(err, errlen, "give '%s' or '%s', not both", key, pkey);
    return -1;
  }
  rc = pk ? parse_packed(pk, length, out, count, err, errlen)
          : parse_notes(json_object_get(args, key), length, 0, out, count, err, errlen);
  if (!rc && *count > MAX_NOTES) {
    free(*out);
    *out = NULL;
    snprintf(err, errlen, "%d notes in one command (at most %d): send the rest with edit_clip 'add'", *count,
             MAX_NOTES);
    return -1;
  }
  return rc;
}

/* ticks of a time in beats, rounded to the nearest; clamped so that any double converts defined */
static long long ticks_of(double beats) {
  double t = floor(beats * TICKS + 0.5);
  if (!(t > -9e15)) return (long long)-9e15; /* NaN too */
  return t < 9e15 ? (long long)t : (long long)9e15;
}

/* a clip's notes packed (ticks rounded to the nearest); the buffer grows as the notes need (no fixed size per note) */
static json_t *packed_json(const struct mk_clip *cl) {
  size_t cap = (size_t)cl->nnotes * 24 + 64, len = 0;
  char *b = malloc(cap);
  if (!b) return json_null();
  for (int i = 0; i < cl->nnotes; i++) {
    const struct mk_note *x = &cl->notes[i];
    char one[128];
    int n = snprintf(one, sizeof one, "%s%d %lld %lld %d %d", i ? ";" : "", x->n, ticks_of(x->s), ticks_of(x->d), x->v,
                     x->c);
    if (n < 0 || (size_t)n >= sizeof one) continue; /* cannot happen with these bounds; never write past */
    if (len + (size_t)n + 1 > cap) {
      size_t ncap = (cap + (size_t)n + 1) * 2;
      char *nb = realloc(b, ncap);
      if (!nb) {
        free(b);
        return json_null();
      }
      b = nb;
      cap = ncap;
    }
    memcpy(b + len, one, (size_t)n);
    len += (size_t)n;
  }
  json_t *j = json_stringn(b, len);
  free(b);
  return j;
}

static void clip_add_notes(struct mk_clip *c, const struct mk_note *notes, int n) {
  if (n <= 0) return; /* nothing to add (notes may be NULL) */
  if (c->nnotes + n > c->cap) {
    c->cap = c->nnotes + n + 8;
    c->notes = realloc(c->notes, sizeof *c->notes * (size_t)c->cap);
  }
  memcpy(c->notes + c->nnotes, notes, sizeof *notes * (size_t)n);
  c->nnotes += n;
  qsort(c->notes, (size_t)c->nnotes, sizeof *c->notes, note_cmp);
}

static const struct mk_plugin *resolve_plugin(mock_t *m, json_t *name, json_t *aliases, char *tried, size_t tl) {
  const struct mk_plugin *p = NULL;
  tried[0] = 0;
  if (json_is_string(name)) {
    p = mk_catalog_find(m->dialect, json_string_value(name));
    snprintf(tried, tl, "%s", json_string_value(name));
  }
  size_t i;
  json_t *v;
  json_array_foreach(aliases, i, v) {
    if (p) break;
    if (!json_is_string(v)) continue;
    p = mk_catalog_find(m->dialect, json_string_value(v));
    size_t l = strlen(tried);
    snprintf(tried + l, tl - l, ", %s", json_string_value(v));
  }
  return p;
}

static json_t *track_json(mock_t *m, struct mk_track *t) {
  /* the whole chain as the host numbers it, instrument included (PROTOCOL.md: chain numbering) */
  json_t *fx = json_array();
  int nchain = mk_fx_chain_len(t);
  for (int k = 1; k <= nchain; k++) {
    const struct mk_fx *f = mk_fx_chain_get(t, k);
    json_array_append_new(fx, json_pack("{s:i,s:s,s:b}", "index", k, "name", fx_name(m, f), "enabled", f->enabled));
  }
  json_t *clips = json_array();
  for (int k = 0; k < t->nclips; k++) {
    struct mk_clip *c = &t->clips[k];
    json_array_append_new(clips, json_pack("{s:s,s:s,s:f,s:f,s:o}", "host_id", c->host_id, "name", c->name, "start",
                                           c->start, "length", c->length, "notes", mk_notes_json(c)));
  }
  char nb[32];
  const char *name = t->name;
  if (!name[0]) {
    snprintf(nb, sizeof nb, "Track %d", mk_track_index(m, t));
    name = nb;
  }
  return json_pack("{s:s,s:i,s:s,s:s,s:o,s:o,s:o}", "host_id", t->host_id, "index", mk_track_index(m, t), "name", name,
                   "type", type_name(t->type), "instrument", t->inst ? json_string(fx_name(m, t->inst)) : json_null(),
                   "fx", fx, "clips", clips);
}

/* ---------------- ops ---------------- */
/* Ardour 7.3's Lua cannot remove a route: the real companion's `undo` leaves a track the request created and lists
 * it in the reply's `not_undone` (osc-maps/companions/README.md); the request's clips and effects on it are removed.
 * `after` is the state before this undo: a track of it that the restored snapshot lacks is put back (same id,
 * name, mix and instrument), without clips and effects. */
static void keep_created_tracks(mock_t *m, const struct mk_state *after, json_t *reply) {
  json_t *kept = json_array();
  struct mk_state *copy = NULL;
  for (int i = 0; i < after->ntracks; i++) {
    const struct mk_track *t = after->tracks[i];
    int found = 0;
    for (int k = 0; k < m->st->ntracks && !found; k++) found = !strcmp(m->st->tracks[k]->host_id, t->host_id);
    if (found) continue;
    if (!copy) copy = mk_state_clone(after);
    struct mk_track *c = copy->tracks[i];
    copy->tracks[i] = NULL; /* taken: mk_state_free skips it */
    for (int k = 0; k < c->nclips; k++) {
      free(c->clips[k].host_id);
      free(c->clips[k].name);
      free(c->clips[k].notes);
    }
    c->nclips = 0;
    for (int k = 0; k < c->nfx; k++) mk_fx_clear(&c->fx[k]);
    c->nfx = 0;
    int pos = i < m->st->ntracks ? i : m->st->ntracks;
    struct mk_track *slot = mk_track_add(m, pos, "", c->type); /* grows the list; replaced by the kept track */
    mk_track_free(slot);
    m->st->tracks[pos] = c;
    char line[320];
    snprintf(line, sizeof line, "track '%s' (Ardour's Lua cannot remove tracks)", c->name);
    json_array_append_new(kept, json_string(line));
  }
  if (after->next_serial > m->st->next_serial) m->st->next_serial = after->next_serial;
  mk_state_free(copy);
  if (json_array_size(kept))
    json_object_set_new(reply, "not_undone", kept);
  else
    json_decref(kept);
}

#define FAIL(...)                                                                                                      \
  do {                                                                                                                 \
    snprintf(err, errlen, __VA_ARGS__);                                                                                \
    return NULL;                                                                                                       \
  } while (0)

static json_t *op_exec(struct mk_companion *c, const char *op, json_t *args, char *err, size_t errlen,
                       int *changed_tracks, struct mk_track **changed) {
  mock_t *m = c->m;
  struct mk_state *s = m->st;
  if (!strcmp(op, "ping")) {
    json_t *r = json_pack("{s:s,s:i,s:s,s:o,s:s}", "companion", "dawbridge", "version", 1, "host",
                          m->dialect == MK_REAPER ? "reaper" : "ardour", "command_id",
                          m->dialect == MK_REAPER ? json_string(MK_REAPER_COMMAND_ID) : json_null(), "undo",
                          m->dialect == MK_REAPER ? "native" : "companion");
    if (!c->legacy) json_object_set_new(r, "bulk", json_pack("{s:b,s:i}", "packed", 1, "max_notes", MAX_NOTES));
    return r;
  }
  if (!strcmp(op, "state")) {
    json_t *tr = json_array();
    for (int i = 0; i < s->ntracks; i++) json_array_append_new(tr, track_json(m, s->tracks[i]));
    return json_pack("{s:f,s:o}", "tempo", s->tempo, "tracks", tr);
  }
  if (!strcmp(op, "create_track")) {
    json_t *jn = json_object_get(args, "name"), *jt = json_object_get(args, "type");
    if (!json_is_string(jn)) FAIL("create_track: 'name' (string) is required");
    if (!json_is_string(jt) || (strcmp(json_string_value(jt), "midi") && strcmp(json_string_value(jt), "audio")))
      FAIL("create_track: 'type' must be \"midi\" or \"audio\"");
    const struct mk_plugin *p = NULL;
    json_t *ji = json_object_get(args, "instrument");
    if (ji && !json_is_null(ji)) {
      char tried[512];
      p = resolve_plugin(m, ji, json_object_get(args, "instrument_aliases"), tried, sizeof tried);
      if (!p) FAIL("create_track: no instrument plugin named %s on this host", tried);
      if (!p->instrument) FAIL("create_track: %s is an effect, not an instrument", p->name);
    }
    /* PROTOCOL.md create_track: channel 1..16 (recorded), params {name prefix: 0..1} set on the instrument */
    json_t *jc = json_object_get(args, "channel"), *jp = json_object_get(args, "params");
    if (jc && (!json_is_integer(jc) || json_integer_value(jc) < 1 || json_integer_value(jc) > 16))
      FAIL("create_track: 'channel' must be a MIDI channel 1..16");
    if (jp && !json_is_object(jp)) FAIL("create_track: 'params' must be an object {parameter: 0..1}");
    mk_undo_push(m, "create_track");
    struct mk_track *t =
        mk_track_add(m, -1, json_string_value(jn), strcmp(json_string_value(jt), "midi") ? MK_AUDIO : MK_MIDI);
    json_t *applied = json_array(), *missing = json_array();
    if (p) {
      t->inst = malloc(sizeof *t->inst);
      mk_fx_from_plugin(t->inst, p, NULL);
      const char *pk;
      json_t *pv;
      json_object_foreach(jp, pk, pv) {
        struct mk_param *hit = NULL;
        for (int k = 0; k < t->inst->nparams && !hit; k++)
          if (!strncasecmp(t->inst->params[k].name, pk, strlen(pk))) hit = &t->inst->params[k];
        if (!hit || !json_is_number(pv)) {
          json_array_append_new(missing, json_string(pk));
          continue;
        }
        double v = json_number_value(pv);
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        hit->value = hit->lower + v * (hit->upper - hit->lower);
        json_array_append_new(applied, json_string(hit->name));
      }
    }
    *changed_tracks = 1;
    json_t *r = json_pack("{s:s,s:i,s:s,s:s,s:o}", "host_id", t->host_id, "index", mk_track_index(m, t), "name",
                          t->name, "type", type_name(t->type), "instrument", p ? json_string(p->full) : json_null());
    if (jc && p) json_object_set(r, "channel", jc);
    if (jp && p) {
      json_object_set(r, "params_applied", applied);
      json_object_set(r, "params_missing", missing);
    }
    json_decref(applied);
    json_decref(missing);
    return r;
  }
  if (!strcmp(op, "create_midi_clip")) {
    struct mk_track *t = find_track(m, json_object_get(args, "track"), err, errlen);
    if (!t) return NULL;
    json_t *js = json_object_get(args, "start"), *jl = json_object_get(args, "length");
    if (!json_is_number(js) || !(json_number_value(js) >= 0) || json_number_value(js) > 1e9)
      FAIL("create_midi_clip: 'start' must be a number >= 0");
    if (!json_is_number(jl) || !(json_number_value(jl) > 0) || json_number_value(jl) > 1e9)
      FAIL("create_midi_clip: 'length' must be a number > 0");
    if (m->dialect == MK_ARDOUR && t->type != MK_MIDI) FAIL("create_midi_clip: track %s is not a MIDI track", t->name);
    struct mk_note *notes;
    int nn;
    if (command_notes(c, args, "notes", "notes_packed", json_number_value(jl), &notes, &nn, err, errlen)) return NULL;
    mk_undo_push(m, "create_midi_clip");
    t->clips = realloc(t->clips, sizeof *t->clips * (size_t)(t->nclips + 1));
    struct mk_clip *cl = &t->clips[t->nclips++];
    memset(cl, 0, sizeof *cl);
    cl->host_id = mk_new_host_id(m);
    json_t *jname = json_object_get(args, "name");
    cl->name = mk_strdup(json_is_string(jname) ? json_string_value(jname) : "");
    cl->start = json_number_value(js);
    cl->length = json_number_value(jl);
    clip_add_notes(cl, notes, nn);
    free(notes);
    if (m->dialect == MK_REAPER) t->type = MK_MIDI; /* REAPER has no track types: a track with MIDI items is MIDI */
    s->saved = 0;
    json_t *r = json_pack("{s:s,s:s,s:f,s:f,s:i}", "host_id", cl->host_id, "track", t->host_id, "start", cl->start,
                          "length", cl->length, "notes_added", nn);
    /* "packed": the new clip's notes read back in the same reply (PROTOCOL.md "Bulk notes") */
    if (!c->legacy && json_is_true(json_object_get(args, "packed")))
      json_object_set_new(r, "notes_packed", packed_json(cl));
    return r;
  }
  if (!strcmp(op, "read_clip")) {
    struct mk_track *t = NULL;
    struct mk_clip *cl = find_clip(m, json_object_get(args, "clip"), &t, err, errlen);
    if (!cl) return NULL;
    int packed = !c->legacy && json_is_true(json_object_get(args, "packed"));
    return json_pack("{s:s,s:s,s:f,s:f,s:o}", "host_id", cl->host_id, "track", t->host_id, "start", cl->start, "length",
                     cl->length, packed ? "notes_packed" : "notes", packed ? packed_json(cl) : mk_notes_json(cl));
  }
  if (!strcmp(op, "edit_clip")) {
    struct mk_clip *cl = find_clip(m, json_object_get(args, "clip"), NULL, err, errlen);
    if (!cl) return NULL;
    struct mk_note *add, *rem;
    int na, nr;
    if (command_notes(c, args, "add", "add_packed", cl->length, &add, &na, err, errlen)) return NULL;
    if (parse_notes(json_object_get(args, "remove"), 0, 1, &rem, &nr, err, errlen)) {
      free(add);
      return NULL;
    }
    /* every note to remove must be there (matched on n and s within 1/960 beat), else nothing changes */
    int *idx = calloc((size_t)(nr ? nr : 1), sizeof *idx);
    char *taken = calloc((size_t)(cl->nnotes ? cl->nnotes : 1), 1);
    for (int i = 0; i < nr; i++) {
      idx[i] = -1;
      for (int k = 0; k < cl->nnotes; k++)
        if (!taken[k] && cl->notes[k].n == rem[i].n && fabs(cl->notes[k].s - rem[i].s) <= 1.0 / 960.0) {
          idx[i] = k;
          taken[k] = 1;
          break;
        }
      if (idx[i] < 0) {
        snprintf(err, errlen, "edit_clip: note {n:%d, s:%g} to remove is not in the clip; nothing changed", rem[i].n,
                 rem[i].s);
        free(add);
        free(rem);
        free(idx);
        free(taken);
        return NULL;
      }
    }
    mk_undo_push(m, "edit_clip");
    int w = 0;
    for (int k = 0; k < cl->nnotes; k++)
      if (!taken[k]) cl->notes[w++] = cl->notes[k];
    cl->nnotes = w;
    clip_add_notes(cl, add, na);
    free(add);
    free(rem);
    free(idx);
    free(taken);
    s->saved = 0;
    json_t *r = json_pack("{s:i,s:i}", "added", na, "removed", nr);
    if (c->legacy || !json_is_true(json_object_get(args, "brief")))
      json_object_set_new(r, !c->legacy && json_is_true(json_object_get(args, "packed")) ? "notes_packed" : "notes",
                          !c->legacy && json_is_true(json_object_get(args, "packed")) ? packed_json(cl)
                                                                                      : mk_notes_json(cl));
    return r;
  }
  if (!strcmp(op, "add_effect")) {
    struct mk_track *t = find_track(m, json_object_get(args, "track"), err, errlen);
    if (!t) return NULL;
    if (!json_is_string(json_object_get(args, "name"))) FAIL("add_effect: 'name' (string) is required");
    char tried[512];
    const struct mk_plugin *p =
        resolve_plugin(m, json_object_get(args, "name"), json_object_get(args, "aliases"), tried, sizeof tried);
    if (!p) FAIL("add_effect: no plugin named %s on this host", tried);
    mk_undo_push(m, "add_effect");
    t->fx = realloc(t->fx, sizeof *t->fx * (size_t)(t->nfx + 1));
    mk_fx_from_plugin(&t->fx[t->nfx++], p, NULL);
    s->saved = 0;
    *changed = t;
    return json_pack("{s:i,s:s}", "index", mk_fx_chain_len(t), "name", p->full); /* chain position */
  }
  if (!strcmp(op, "remove_effect")) {
    struct mk_track *t = find_track(m, json_object_get(args, "track"), err, errlen);
    if (!t) return NULL;
    json_t *ji = json_object_get(args, "index");
    int nchain = mk_fx_chain_len(t);
    if (!json_is_integer(ji) || json_integer_value(ji) < 1 || json_integer_value(ji) > nchain)
      FAIL("remove_effect: 'index' must be 1..%d (track %s has %d plugins in its chain)", nchain, t->name, nchain);
    int k = (int)json_integer_value(ji); /* chain position: the instrument, if any, is 1 */
    mk_undo_push(m, "remove_effect");
    json_t *r;
    if (t->inst && k == 1) {
      r = json_pack("{s:s}", "removed", t->inst->name);
      mk_fx_clear(t->inst);
      free(t->inst);
      t->inst = NULL;
    } else {
      k -= t->inst ? 2 : 1;
      r = json_pack("{s:s}", "removed", t->fx[k].name);
      mk_fx_clear(&t->fx[k]);
      memmove(&t->fx[k], &t->fx[k + 1], sizeof *t->fx * (size_t)(t->nfx - k - 1));
      t->nfx--;
    }
    s->saved = 0;
    *changed = t;
    return r;
  }
  if (!strcmp(op, "delete_track")) {
    struct mk_track *t = find_track(m, json_object_get(args, "track"), err, errlen);
    if (!t) return NULL;
    /* Ardour 7.3's Lua bindings cannot remove a route (osc-maps/companions/README.md): the real companion finds
     * the track, then answers with this error and leaves the session unchanged. REAPER deletes. */
    if (m->dialect == MK_ARDOUR)
      FAIL("delete_track is not available: Ardour's Lua bindings (7.3) cannot remove a track; remove '%s' by hand",
           t->name);
    mk_undo_push(m, "delete_track");
    json_t *r = json_pack("{s:s}", "deleted", t->host_id);
    mk_track_remove(m, mk_track_index(m, t) - 1);
    *changed_tracks = 1;
    return r;
  }
  if (!strcmp(op, "delete_clip")) {
    struct mk_track *t = NULL;
    struct mk_clip *cl = find_clip(m, json_object_get(args, "clip"), &t, err, errlen);
    if (!cl) return NULL;
    mk_undo_push(m, "delete_clip");
    json_t *r = json_pack("{s:s}", "deleted", cl->host_id);
    int k = (int)(cl - t->clips);
    free(cl->host_id);
    free(cl->name);
    free(cl->notes);
    memmove(&t->clips[k], &t->clips[k + 1], sizeof *t->clips * (size_t)(t->nclips - k - 1));
    t->nclips--;
    s->saved = 0;
    return r;
  }
  if (!strcmp(op, "begin_undo")) {
    json_t *jn = json_object_get(args, "name");
    if (!json_is_string(jn)) FAIL("begin_undo: 'name' (string) is required");
    if (m->group_open) { /* an unclosed block: close it first, like a new request would */
      m->group_open = 0;
      mk_undo_push(m, m->group_name);
      mk_state_free(m->undo[m->nundo - 1].s);
      m->undo[m->nundo - 1].s = m->group_snap;
      m->group_snap = NULL;
      free(m->group_name);
      m->group_name = NULL;
    }
    m->group_open = 1;
    m->group_name = mk_strdup(json_string_value(jn));
    m->group_snap = mk_state_clone(m->st);
    return json_object();
  }
  if (!strcmp(op, "end_undo")) {
    if (!m->group_open) FAIL("end_undo: no undo block is open");
    m->group_open = 0;
    char *name = m->group_name;
    m->group_name = NULL;
    mk_undo_push(m, name);                  /* pushes a snapshot of now ... */
    mk_state_free(m->undo[m->nundo - 1].s); /* ... replaced by the one taken at begin_undo */
    m->undo[m->nundo - 1].s = m->group_snap;
    m->group_snap = NULL;
    json_t *r = json_pack("{s:s}", "name", name);
    free(name);
    return r;
  }
  if (!strcmp(op, "undo")) {
    char name[256];
    if (m->group_open) FAIL("undo: an undo block is open (send end_undo first)");
    if (mk_undo(m, name, sizeof name)) FAIL("nothing to undo");
    *changed_tracks = 1;
    json_t *r = json_pack("{s:s}", "undone", name);
    if (m->dialect == MK_ARDOUR) keep_created_tracks(m, m->redo[m->nredo - 1].s, r);
    return r;
  }
  FAIL("unknown op '%s'", op);
}

/* ---------------- one command file ---------------- */
static void reply(struct mk_companion *c, const char *id, const char *text, int reply_port) {
  if (c->drop_replies > 0) {
    c->drop_replies--;
    mk_log(c->m, "companion: fault: reply to %s lost", id);
    return;
  }
  char name[128];
  snprintf(name, sizeof name, "%s.json", id);
  if (write_file_atomic(c->out, name, text) != 0) mk_log(c->m, "companion: cannot write reply %s/%s", c->out, name);
  if (c->m->dialect == MK_ARDOUR && reply_port > 0 && reply_port < 65536) {
    struct sockaddr_in to;
    mk_addr(&to, reply_port);
    mk_send_msg(c->m, &to, 0, "/dawbridge/reply", "s", text);
  }
}

static void process_file(struct mk_companion *c, const char *fname) {
  mock_t *m = c->m;
  char path[4096], id[80];
  snprintf(path, sizeof path, "%s/%s", c->in, fname);
  size_t fl = strlen(fname) - 5; /* ".json" */
  snprintf(id, sizeof id, "%.*s", (int)(fl < 79 ? fl : 79), fname);
  json_error_t je;
  json_t *cmd = json_load_file(path, 0, &je);
  char err[1024] = "";
  json_t *res = NULL;
  int reply_port = 0;
  const char *cid = id;
  char *text = NULL;
  if (!cmd || !json_is_object(cmd)) {
    snprintf(err, sizeof err, "bad command file: %s", cmd ? "not a JSON object" : je.text);
  } else {
    json_t *jid = json_object_get(cmd, "id"), *jop = json_object_get(cmd, "op"),
           *jdl = json_object_get(cmd, "deadline_ms");
    json_t *jrp = json_object_get(cmd, "reply_port");
    if (json_is_integer(jrp) && json_integer_value(jrp) > 0 && json_integer_value(jrp) < 65536)
      reply_port = (int)json_integer_value(jrp);
    if (json_is_string(jid)) cid = json_string_value(jid);
    const char *old;
    if (!json_is_string(jid) || !valid_id(cid)) {
      snprintf(err, sizeof err, "bad command: 'id' must match [A-Za-z0-9_.-]{1,64}");
    } else if ((old = remembered(c, cid)) != NULL) {
      mk_log(m, "companion: duplicate id %s answered from memory (not executed again)", cid);
      text = mk_strdup(old);
    } else if (json_is_number(jdl) && (double)now_ms() > json_number_value(jdl)) {
      snprintf(err, sizeof err, "expired: command %s read %lld ms after its deadline; not executed", cid,
               (long long)((double)now_ms() - json_number_value(jdl)));
    } else if (!json_is_string(jop)) {
      snprintf(err, sizeof err, "bad command: 'op' (string) is required");
    } else {
      json_t *args = json_object_get(cmd, "args");
      if (args && !json_is_object(args)) {
        snprintf(err, sizeof err, "%s: 'args' must be an object", json_string_value(jop));
      } else {
        int changed_tracks = 0;
        struct mk_track *changed = NULL;
        json_t *empty = json_object();
        res = op_exec(c, json_string_value(jop), args ? args : empty, err, sizeof err, &changed_tracks, &changed);
        json_decref(empty);
        mk_log(m, "companion: %s %s -> %s", cid, json_string_value(jop), res ? "ok" : err);
        if (changed_tracks)
          m->ops->tracks_changed(m);
        else if (changed)
          m->ops->track_changed(m, changed);
      }
      json_t *r = res ? json_pack("{s:s,s:b,s:o}", "id", cid, "ok", 1, "result", res)
                      : json_pack("{s:s,s:b,s:s}", "id", cid, "ok", 0, "error", err);
      text = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(17));
      json_decref(r);
      remember(c, cid, text);
    }
  }
  if (!text) {
    json_t *r = json_pack("{s:s,s:b,s:s}", "id", cid, "ok", 0, "error", err);
    text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    mk_log(m, "companion: %s -> %s", cid, err);
  }
  reply(c, valid_id(cid) ? cid : id, text, reply_port);
  free(text);
  json_decref(cmd);
  unlink(path); /* deleted after the reply was written */
}

void mk_companion_drop_replies(struct mk_companion *c, int n) { c->drop_replies = n > 0 ? n : 0; }
void mk_companion_legacy(struct mk_companion *c, int on) { c->legacy = on; }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void mk_companion_run(struct mk_companion *c) {
  DIR *d = opendir(c->in);
  if (!d) return;
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0) continue; /* only *.json, never *.json.tmp */
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      names = realloc(names, sizeof *names * cap);
    }
    names[n++] = mk_strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(names, n, sizeof *names, cmp_str); /* lexical order: ids sort by time */
  for (size_t i = 0; i < n; i++) {
    if (!c->m->closing) process_file(c, names[i]);
    free(names[i]);
  }
  free(names);
}

static void on_poll(uv_timer_t *t) {
  struct mk_companion *c = t->data;
  if (!c->m->down) mk_companion_run(c);
}

/* Frees c and all it owns (also a half-made one, from mk_companion_new), then calls its close callback if any. */
static void comp_free(struct mk_companion *c) {
  for (int i = 0; i < c->nmem; i++) {
    free(c->mem[i].id);
    free(c->mem[i].reply);
  }
  free(c->spool);
  free(c->in);
  free(c->out);
  void (*cb)(void *) = c->close_cb;
  void *data = c->close_data;
  free(c);
  if (cb) cb(data);
}

int mk_companion_new(mock_t *m, const char *spool, struct mk_companion **out, char *err, size_t errlen) {
  struct mk_companion *c = calloc(1, sizeof *c);
  if (!c) return MOCK_ENOMEM;
  c->m = m;
  c->spool = mk_strdup(spool);
  size_t l = strlen(spool) + 8;
  c->in = malloc(l);
  c->out = malloc(l);
  snprintf(c->in, l, "%s/in", spool);
  snprintf(c->out, l, "%s/out", spool);
  if ((mkdir(c->in, 0755) != 0 && errno != EEXIST) || (mkdir(c->out, 0755) != 0 && errno != EEXIST)) {
    snprintf(err, errlen, "cannot create %s/in and out: %s", spool, strerror(errno));
    comp_free(c);
    return MOCK_ESPOOL;
  }
  if (m->dialect == MK_REAPER) {
    char buf[256];
    snprintf(buf, sizeof buf, "{\"host\":\"reaper\",\"version\":1,\"command_id\":\"%s\"}\n", MK_REAPER_COMMAND_ID);
    if (write_file_atomic(spool, "companion.json", buf) != 0) {
      snprintf(err, errlen, "cannot write %s/companion.json: %s", spool, strerror(errno));
      comp_free(c);
      return MOCK_ESPOOL;
    }
  } else {
    c->timer = malloc(sizeof *c->timer);
    uv_timer_init(m->loop, c->timer);
    c->timer->data = c;
    uv_timer_start(c->timer, on_poll, 50, 50);
  }
  *out = c;
  return MOCK_OK;
}

static void on_timer_closed(uv_handle_t *h) {
  struct mk_companion *c = h->data;
  free(h);
  comp_free(c);
}

void mk_companion_close(struct mk_companion *c, void (*cb)(void *), void *data) {
  c->close_cb = cb;
  c->close_data = data;
  if (c->timer) {
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, on_timer_closed);
  } else {
    comp_free(c); /* note: synchronous; mock_close counts it before this returns */
  }
}
