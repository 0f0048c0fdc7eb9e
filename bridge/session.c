/* session: the DAW mirror as pure data. See session.h and docs/session-json.md. */
#include "session.h"
#include "jsonget.h"
#include "errfmt.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define VOL_NEG_INF (-150.0)

struct fx_param {
  double value;
  char *name;
};

struct fx {
  char *name;
  int enabled;
  struct fx_param *params;
  int nparams;
};

struct track {
  char id[16];
  char *host_id;
  char *name;
  char type[8];
  double volume_db;
  double pan;
  int mute, solo, rec_arm, selected;
  char *instrument;
  struct fx *fx;
  int nfx;
  json_t *clips; /* array; owned */
};

struct marker {
  int number;
  char id[16];
  char *name;
  double position;
};

struct session {
  char dialect[16];
  char *project;
  double tempo;
  int ts_num, ts_den;
  int playing, recording;
  double position;
  int loop_enabled;
  double loop_start, loop_end;
  struct track **tracks;
  int ntracks, cap;
  struct marker *markers;
  int nmarkers;
  unsigned next_track_id, next_clip_id, next_marker_id;
  unsigned long version;
};

const char *session_strerror(int code) {
  switch (code) {
  case SESSION_OK: return "ok";
  case SESSION_EINVAL: return "invalid update";
  case SESSION_ENOTRACK: return "no such track";
  case SESSION_ERANGE: return "value out of range";
  case SESSION_ENOMEM: return "out of memory";
  default: return "unknown session error";
  }
}

/* Length of the valid UTF-8 sequence at p, or 0. */
static size_t utf8_seq(const unsigned char *p) {
  if (p[0] < 0x80) return 1;
  size_t n = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (!n || (n == 2 && p[0] < 0xC2) || (n == 4 && p[0] > 0xF4)) return 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xC0) != 0x80) return 0;
  if (n == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0))) return 0; /* overlong, surrogates */
  if (n == 4 && ((p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))) return 0;
  return n;
}

/* Copies a DAW-supplied string; bytes that are not UTF-8 (an OSC string is just bytes) become '?', so the mirror
 * always serialises to JSON. */
static char *xstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (!d) return NULL;
  const unsigned char *p = (const unsigned char *)s;
  size_t o = 0;
  while (*p) {
    size_t k = utf8_seq(p);
    if (!k) {
      d[o++] = '?';
      p++;
      continue;
    }
    memcpy(d + o, p, k);
    o += k;
    p += k;
  }
  d[o] = 0;
  return d;
}

/* Replace *dst with a copy of src; returns 1 if the value changed. */
static int set_str(char **dst, const char *src) {
  if (src && !*src) src = NULL;
  if ((!*dst && !src) || (*dst && src && !strcmp(*dst, src))) return 0;
  free(*dst);
  *dst = xstrdup(src);
  return 1;
}

static int set_num(double *dst, double v) {
  if (*dst == v || (isnan(*dst) && isnan(v))) return 0;
  *dst = v;
  return 1;
}

static int set_int(int *dst, int v) {
  if (*dst == v) return 0;
  *dst = v;
  return 1;
}

static void fx_clear(struct fx *f) {
  free(f->name);
  for (int i = 0; i < f->nparams; i++) free(f->params[i].name);
  free(f->params);
  memset(f, 0, sizeof *f);
}

static void track_free(struct track *t) {
  if (!t) return;
  free(t->host_id);
  free(t->name);
  free(t->instrument);
  for (int i = 0; i < t->nfx; i++) fx_clear(&t->fx[i]);
  free(t->fx);
  json_decref(t->clips);
  free(t);
}

static struct track *track_new(session_t *s) {
  struct track *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  snprintf(t->id, sizeof t->id, "t%u", ++s->next_track_id);
  strcpy(t->type, "audio");
  t->clips = json_array();
  return t;
}

session_t *session_new(const char *dialect) {
  session_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  snprintf(s->dialect, sizeof s->dialect, "%s", dialect ? dialect : "");
  s->tempo = 120.0;
  s->ts_num = 4;
  s->ts_den = 4;
  return s;
}

static void clear_all(session_t *s) {
  for (int i = 0; i < s->ntracks; i++) track_free(s->tracks[i]);
  s->ntracks = 0;
  for (int i = 0; i < s->nmarkers; i++) free(s->markers[i].name);
  free(s->markers);
  s->markers = NULL;
  s->nmarkers = 0;
  free(s->project);
  s->project = NULL;
}

void session_free(session_t *s) {
  if (!s) return;
  clear_all(s);
  free(s->tracks);
  free(s);
}

unsigned long session_version(const session_t *s) { return s->version; }

static int reserve_tracks(session_t *s, int n) {
  if (n <= s->cap) return 0;
  int cap = s->cap ? s->cap : 16;
  while (cap < n) cap *= 2;
  struct track **t = realloc(s->tracks, (size_t)cap * sizeof *t);
  if (!t) return -1;
  s->tracks = t;
  s->cap = cap;
  return 0;
}

static int insert_track(session_t *s, int pos /*0-based*/, struct track *t) {
  if (reserve_tracks(s, s->ntracks + 1)) return -1;
  memmove(&s->tracks[pos + 1], &s->tracks[pos], (size_t)(s->ntracks - pos) * sizeof *s->tracks);
  s->tracks[pos] = t;
  s->ntracks++;
  return 0;
}

static void remove_track(session_t *s, int pos) {
  track_free(s->tracks[pos]);
  memmove(&s->tracks[pos], &s->tracks[pos + 1], (size_t)(s->ntracks - pos - 1) * sizeof *s->tracks);
  s->ntracks--;
}

static int fx_resize(struct track *t, int n) {
  if (n < 0) n = 0;
  if (n == t->nfx) return 0;
  if (n < t->nfx) {
    for (int i = n; i < t->nfx; i++) fx_clear(&t->fx[i]);
    t->nfx = n;
    return 1;
  }
  struct fx *f = realloc(t->fx, (size_t)n * sizeof *f);
  if (!f) return -1;
  memset(&f[t->nfx], 0, (size_t)(n - t->nfx) * sizeof *f);
  for (int i = t->nfx; i < n; i++) f[i].enabled = 1;
  t->fx = f;
  t->nfx = n;
  return 1;
}

static int param_resize(struct fx *f, int n) {
  if (n <= f->nparams) return 0;
  struct fx_param *p = realloc(f->params, (size_t)n * sizeof *p);
  if (!p) return -1;
  memset(&p[f->nparams], 0, (size_t)(n - f->nparams) * sizeof *p);
  f->params = p;
  f->nparams = n;
  return 0;
}

static struct marker *find_marker(session_t *s, int number) {
  for (int i = 0; i < s->nmarkers; i++)
    if (s->markers[i].number == number) return &s->markers[i];
  return NULL;
}

static int cmp_notes(const void *a, const void *b) {
  const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
  double sx = json_number_value(json_object_get(x, "s")), sy = json_number_value(json_object_get(y, "s"));
  if (sx != sy) return sx < sy ? -1 : 1;
  return (int)json_integer_value(json_object_get(x, "n")) - (int)json_integer_value(json_object_get(y, "n"));
}

/* Validates and normalises one clip (new reference), giving it a bridge id if it has none. */
static json_t *clip_normalise(session_t *s, const json_t *in, char *err, size_t errlen) {
  if (!json_is_object(in)) {
    errfmt(err, errlen, SESSION_EINVAL, "clip must be an object");
    return NULL;
  }
  json_t *c = json_deep_copy(in);
  json_t *id = json_object_get(c, "id");
  if (!json_is_string(id)) {
    char buf[16];
    snprintf(buf, sizeof buf, "c%u", ++s->next_clip_id);
    json_object_set_new(c, "id", json_string(buf));
  } else {
    unsigned n;
    if (sscanf(json_string_value(id), "c%u", &n) == 1 && n > s->next_clip_id) s->next_clip_id = n;
  }
  if (!json_is_number(json_object_get(c, "start"))) json_object_set_new(c, "start", json_real(0));
  if (!json_is_number(json_object_get(c, "length"))) json_object_set_new(c, "length", json_real(0));
  json_t *notes = json_object_get(c, "notes");
  if (!notes) json_object_set_new(c, "notes", notes = json_array());
  if (!json_is_array(notes)) {
    json_decref(c);
    errfmt(err, errlen, SESSION_EINVAL, "clip notes must be an array");
    return NULL;
  }
  size_t n = json_array_size(notes);
  json_t **v = n ? malloc(n * sizeof *v) : NULL;
  for (size_t i = 0; i < n; i++) {
    json_t *nt = json_array_get(notes, i);
    json_int_t p = json_integer_value(json_object_get(nt, "n"));
    json_int_t vel = json_integer_value(json_object_get(nt, "v"));
    if (!json_is_integer(json_object_get(nt, "n")) || p < 0 || p > 127 || !json_is_number(json_object_get(nt, "s")) ||
        !json_is_number(json_object_get(nt, "d")) || json_number_value(json_object_get(nt, "d")) <= 0 ||
        (json_object_get(nt, "v") && (vel < 1 || vel > 127))) {
      for (size_t k = 0; k < i; k++) json_decref(v[k]);
      free(v);
      json_decref(c);
      errfmt(err, errlen, SESSION_ERANGE, "note %zu is malformed (n 0-127, s, d > 0, v 1-127)", i + 1);
      return NULL;
    }
    v[i] = json_incref(nt);
  }
  if (n) qsort(v, n, sizeof *v, cmp_notes);
  json_t *sorted = json_array();
  for (size_t i = 0; i < n; i++) json_array_append_new(sorted, v[i]);
  free(v);
  json_object_set_new(c, "notes", sorted);
  return c;
}

static int clip_matches(const json_t *clip, const char *ref) {
  const char *id = json_string_value(json_object_get(clip, "id"));
  const char *hid = json_string_value(json_object_get(clip, "host_id"));
  return (id && !strcmp(id, ref)) || (hid && !strcmp(hid, ref));
}

const json_t *session_clip_find(const session_t *s, const char *ref, int *index) {
  if (!ref) return NULL;
  for (int i = 0; i < s->ntracks; i++) {
    size_t k;
    json_t *c;
    json_array_foreach(s->tracks[i]->clips, k, c) {
      if (clip_matches(c, ref)) {
        if (index) *index = i + 1;
        return c;
      }
    }
  }
  return NULL;
}

static int track_field_bool(const struct session_update *u) { return u->num != 0 && !isnan(u->num); }

int session_apply(session_t *s, const struct session_update *u, char *err, size_t errlen) {
  int changed = 0;
  struct track *t = NULL;
  if (u->field >= SF_TRACK_NAME && u->field <= SF_CLIP_REMOVE) {
    if (u->index < 1 || u->index > s->ntracks)
      return errfmt(err, errlen, SESSION_ENOTRACK, "no track at position %d (the session has %d)", u->index,
                    s->ntracks);
    t = s->tracks[u->index - 1];
  }
  switch (u->field) {
  case SF_TEMPO:
    if (!(u->num >= 1 && u->num <= 2000)) return errfmt(err, errlen, SESSION_ERANGE, "tempo %g out of range", u->num);
    changed = set_num(&s->tempo, u->num);
    break;
  case SF_TIMESIG:
    if (u->num < 1 || u->num > 64 || u->num2 < 1 || u->num2 > 64)
      return errfmt(err, errlen, SESSION_ERANGE, "time signature %g/%g out of range", u->num, u->num2);
    changed = set_int(&s->ts_num, (int)u->num) | set_int(&s->ts_den, (int)u->num2);
    break;
  case SF_PLAYING: changed = set_int(&s->playing, track_field_bool(u)); break;
  case SF_RECORDING: changed = set_int(&s->recording, track_field_bool(u)); break;
  /* non-finite times have no JSON form (the mirror's "transport"/"loop" vanished from session_to_json; found by
   * fuzz_feedback with the library instrumented) */
  case SF_POSITION:
    if (!isfinite(u->num)) return errfmt(err, errlen, SESSION_ERANGE, "position %g is not a finite time", u->num);
    changed = set_num(&s->position, u->num);
    break;
  case SF_LOOP_ENABLED: changed = set_int(&s->loop_enabled, track_field_bool(u)); break;
  case SF_LOOP_RANGE:
    if (!isfinite(u->num) || !isfinite(u->num2))
      return errfmt(err, errlen, SESSION_ERANGE, "loop %g..%g is not a finite range", u->num, u->num2);
    changed = set_num(&s->loop_start, u->num) | set_num(&s->loop_end, u->num2);
    break;
  case SF_PROJECT: changed = set_str(&s->project, u->str); break;
  case SF_TRACK_COUNT: {
    if (!(u->num >= 0 && u->num <= SESSION_MAX_TRACKS)) /* also refuses NaN before the int conversion */
      return errfmt(err, errlen, SESSION_ERANGE, "track count %g out of range", u->num);
    int n = (int)u->num;
    while (s->ntracks > n) {
      remove_track(s, s->ntracks - 1);
      changed = 1;
    }
    while (s->ntracks < n) {
      struct track *nt = track_new(s);
      if (!nt || insert_track(s, s->ntracks, nt)) {
        track_free(nt);
        return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
      }
      changed = 1;
    }
    break;
  }
  case SF_TRACK_INSERT: {
    if (u->index < 1 || u->index > s->ntracks + 1)
      return errfmt(err, errlen, SESSION_ENOTRACK, "cannot insert a track at position %d", u->index);
    struct track *nt = track_new(s);
    if (!nt || insert_track(s, u->index - 1, nt)) {
      track_free(nt);
      return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
    }
    set_str(&nt->name, u->str);
    changed = 1;
    break;
  }
  case SF_TRACK_REMOVE:
    if (u->index < 1 || u->index > s->ntracks)
      return errfmt(err, errlen, SESSION_ENOTRACK, "no track at position %d", u->index);
    remove_track(s, u->index - 1);
    changed = 1;
    break;
  case SF_TRACK_NAME: changed = set_str(&t->name, u->str); break;
  case SF_TRACK_TYPE:
    if (!u->str || (strcmp(u->str, "midi") && strcmp(u->str, "audio") && strcmp(u->str, "bus")))
      return errfmt(err, errlen, SESSION_EINVAL, "track type must be midi, audio or bus");
    if (strcmp(t->type, u->str)) {
      snprintf(t->type, sizeof t->type, "%s", u->str);
      changed = 1;
    }
    break;
  case SF_TRACK_HOST_ID: changed = set_str(&t->host_id, u->str); break;
  case SF_TRACK_VOLUME_DB: {
    double v = u->num;
    if (isnan(v)) return errfmt(err, errlen, SESSION_ERANGE, "volume is not a number");
    if (v < VOL_NEG_INF) v = VOL_NEG_INF;
    if (v > 24) return errfmt(err, errlen, SESSION_ERANGE, "volume %g dB out of range", v);
    changed = set_num(&t->volume_db, v);
    break;
  }
  case SF_TRACK_PAN:
    if (!(u->num >= -1.0001 && u->num <= 1.0001))
      return errfmt(err, errlen, SESSION_ERANGE, "pan %g out of -1..1", u->num);
    changed = set_num(&t->pan, fmax(-1.0, fmin(1.0, u->num)));
    break;
  case SF_TRACK_MUTE: changed = set_int(&t->mute, track_field_bool(u)); break;
  case SF_TRACK_SOLO: changed = set_int(&t->solo, track_field_bool(u)); break;
  case SF_TRACK_REC_ARM: changed = set_int(&t->rec_arm, track_field_bool(u)); break;
  case SF_TRACK_SELECTED: changed = set_int(&t->selected, track_field_bool(u)); break;
  case SF_TRACK_INSTRUMENT: changed = set_str(&t->instrument, u->str); break;
  case SF_FX_COUNT: {
    int r = fx_resize(t, (int)u->num);
    if (r < 0) return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
    changed = r;
    break;
  }
  case SF_FX_NAME:
  case SF_FX_ENABLED:
  case SF_FX_PARAM: {
    if (u->fx < 1 || u->fx > 1024) return errfmt(err, errlen, SESSION_ERANGE, "FX slot %d out of range", u->fx);
    if (u->field == SF_FX_NAME && (!u->str || !*u->str)) {
      if (u->fx <= t->nfx) changed = fx_resize(t, u->fx - 1);
      break;
    }
    if (u->fx > t->nfx) {
      if (u->field != SF_FX_NAME)
        return errfmt(err, errlen, SESSION_ENOTRACK, "track %d has no FX %d", u->index, u->fx);
      if (fx_resize(t, u->fx) < 0) return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
      changed = 1;
    }
    struct fx *f = &t->fx[u->fx - 1];
    if (u->field == SF_FX_NAME)
      changed |= set_str(&f->name, u->str);
    else if (u->field == SF_FX_ENABLED)
      changed |= set_int(&f->enabled, track_field_bool(u));
    else {
      if (u->param < 1 || u->param > 4096)
        return errfmt(err, errlen, SESSION_ERANGE, "parameter %d out of range", u->param);
      if (!(u->num >= 0 && u->num <= 1))
        return errfmt(err, errlen, SESSION_ERANGE, "parameter value %g outside 0..1", u->num);
      if (param_resize(f, u->param) < 0) return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
      changed |= set_num(&f->params[u->param - 1].value, u->num);
      if (u->str) changed |= set_str(&f->params[u->param - 1].name, u->str);
    }
    break;
  }
  case SF_CLIPS_SET: {
    if (!json_is_array(u->json)) return errfmt(err, errlen, SESSION_EINVAL, "clips must be an array");
    json_t *arr = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(u->json, i, c) {
      /* keep the bridge id of a clip we already know under the same host id */
      json_t *in = json_deep_copy(c);
      const char *hid = json_string_value(json_object_get(in, "host_id"));
      if (hid && !json_object_get(in, "id")) {
        size_t k;
        json_t *old;
        json_array_foreach(t->clips, k, old) {
          if (clip_matches(old, hid)) json_object_set(in, "id", json_object_get(old, "id"));
        }
      }
      json_t *nc = clip_normalise(s, in, err, errlen);
      json_decref(in);
      if (!nc) {
        json_decref(arr);
        return SESSION_EINVAL;
      }
      json_array_append_new(arr, nc);
    }
    changed = !json_equal(arr, t->clips);
    json_decref(t->clips);
    t->clips = arr;
    break;
  }
  case SF_CLIP_PUT: {
    json_t *in = json_copy((json_t *)u->json); /* shallow: only "id" is set here; clip_normalise copies deeply */
    if (!in) return errfmt(err, errlen, SESSION_EINVAL, "clip must be an object");
    const char *hid = json_string_value(json_object_get(in, "host_id"));
    const char *bid = json_string_value(json_object_get(in, "id"));
    size_t k, at = (size_t)-1;
    json_t *old;
    json_array_foreach(t->clips, k, old) {
      if ((hid && clip_matches(old, hid)) || (bid && clip_matches(old, bid))) {
        at = k;
        if (!bid) json_object_set(in, "id", json_object_get(old, "id"));
        break;
      }
    }
    json_t *nc = clip_normalise(s, in, err, errlen);
    json_decref(in);
    if (!nc) return SESSION_EINVAL;
    if (at != (size_t)-1) {
      changed = !json_equal(nc, json_array_get(t->clips, at));
      json_array_set_new(t->clips, at, nc);
    } else {
      json_array_append_new(t->clips, nc);
      changed = 1;
    }
    break;
  }
  case SF_CLIP_REMOVE: {
    if (!u->str) return errfmt(err, errlen, SESSION_EINVAL, "clip id missing");
    size_t k;
    json_t *old;
    json_array_foreach(t->clips, k, old) {
      if (clip_matches(old, u->str)) {
        json_array_remove(t->clips, k);
        changed = 1;
        break;
      }
    }
    if (!changed) return errfmt(err, errlen, SESSION_ENOTRACK, "no clip '%s' on track %d", u->str, u->index);
    break;
  }
  case SF_MARKER: {
    struct marker *m = find_marker(s, u->marker);
    if (!m) {
      struct marker *nm = realloc(s->markers, (size_t)(s->nmarkers + 1) * sizeof *nm);
      if (!nm) return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
      s->markers = nm;
      m = &s->markers[s->nmarkers++];
      memset(m, 0, sizeof *m);
      m->number = u->marker;
      snprintf(m->id, sizeof m->id, "m%u", ++s->next_marker_id);
      changed = 1;
    }
    if (u->str) changed |= set_str(&m->name, u->str);
    if (!isnan(u->num)) changed |= set_num(&m->position, u->num);
    break;
  }
  case SF_MARKER_REMOVE:
    for (int i = 0; i < s->nmarkers; i++) {
      if (s->markers[i].number == u->marker) {
        free(s->markers[i].name);
        memmove(&s->markers[i], &s->markers[i + 1], (size_t)(s->nmarkers - i - 1) * sizeof *s->markers);
        s->nmarkers--;
        changed = 1;
        break;
      }
    }
    break;
  case SF_MARKERS_CLEAR:
    changed = s->nmarkers > 0;
    for (int i = 0; i < s->nmarkers; i++) free(s->markers[i].name);
    s->nmarkers = 0;
    break;
  default: return errfmt(err, errlen, SESSION_EINVAL, "unknown update field %d", (int)u->field);
  }
  if (changed) s->version++;
  return SESSION_OK;
}

/* ---- queries ---- */

int session_track_count(const session_t *s) { return s->ntracks; }

int session_track_index_by_id(const session_t *s, const char *id) {
  if (!id) return 0;
  for (int i = 0; i < s->ntracks; i++)
    if (!strcmp(s->tracks[i]->id, id)) return i + 1;
  return 0;
}

int session_track_index_by_name(const session_t *s, const char *name) {
  if (!name) return 0;
  for (int i = 0; i < s->ntracks; i++)
    if (s->tracks[i]->name && !strcmp(s->tracks[i]->name, name)) return i + 1;
  return 0;
}

int session_track_resolve(const session_t *s, const char *ref) {
  if (!ref || !*ref) return 0;
  int i = session_track_index_by_id(s, ref);
  if (i) return i;
  for (int k = 0; k < s->ntracks; k++)
    if (s->tracks[k]->host_id && !strcmp(s->tracks[k]->host_id, ref)) return k + 1;
  i = session_track_index_by_name(s, ref);
  if (i) return i;
  for (int k = 0; k < s->ntracks; k++)
    if (s->tracks[k]->name && !strcasecmp(s->tracks[k]->name, ref)) return k + 1;
  return 0;
}

static const struct track *tr(const session_t *s, int index) {
  return index >= 1 && index <= s->ntracks ? s->tracks[index - 1] : NULL;
}

const char *session_track_id(const session_t *s, int index) {
  const struct track *t = tr(s, index);
  return t ? t->id : NULL;
}
const char *session_track_name(const session_t *s, int index) {
  const struct track *t = tr(s, index);
  return t ? t->name : NULL;
}
const char *session_track_host_id(const session_t *s, int index) {
  const struct track *t = tr(s, index);
  return t ? t->host_id : NULL;
}
int session_track_fx_count(const session_t *s, int index) {
  const struct track *t = tr(s, index);
  return t ? t->nfx : 0;
}
const char *session_track_fx_name(const session_t *s, int index, int fx) {
  const struct track *t = tr(s, index);
  return t && fx >= 1 && fx <= t->nfx ? t->fx[fx - 1].name : NULL;
}
double session_tempo(const session_t *s) { return s->tempo; }

double session_track_number(const session_t *s, int index, enum session_field f) {
  const struct track *t = tr(s, index);
  if (!t) return NAN;
  switch (f) {
  case SF_TRACK_VOLUME_DB: return t->volume_db;
  case SF_TRACK_PAN: return t->pan;
  case SF_TRACK_MUTE: return t->mute;
  case SF_TRACK_SOLO: return t->solo;
  case SF_TRACK_REC_ARM: return t->rec_arm;
  case SF_TRACK_SELECTED: return t->selected;
  case SF_FX_COUNT: return t->nfx;
  default: return NAN;
  }
}

/* The track fields session_lookup reads as numbers ("track.<name>"), through session_track_number. */
static const struct {
  const char *name;
  enum session_field f;
} track_numbers[] = {
    {"volume_db", SF_TRACK_VOLUME_DB}, {"pan", SF_TRACK_PAN},         {"mute", SF_TRACK_MUTE},
    {"solo", SF_TRACK_SOLO},           {"rec_arm", SF_TRACK_REC_ARM}, {"selected", SF_TRACK_SELECTED},
    {"fx.count", SF_FX_COUNT},
};

int session_lookup(const session_t *s, const char *path, int index, int fx, int param, int marker, double *num,
                   const char **str) {
  *num = NAN;
  *str = NULL;
  if (!strcmp(path, "tempo")) return *num = s->tempo, 1;
  if (!strcmp(path, "project")) return *str = s->project ? s->project : "", 1; /* a map may set/confirm it */
  if (!strcmp(path, "playing")) return *num = s->playing, 1;
  if (!strcmp(path, "recording")) return *num = s->recording, 1;
  if (!strcmp(path, "position")) return *num = s->position, 1;
  if (!strcmp(path, "loop.enabled")) return *num = s->loop_enabled, 1;
  if (!strcmp(path, "loop.start")) return *num = s->loop_start, 1;
  if (!strcmp(path, "loop.end")) return *num = s->loop_end, 1;
  if (!strcmp(path, "track.count")) return *num = s->ntracks, 1;
  if (!strcmp(path, "marker.count")) return *num = s->nmarkers, 1;
  if (!strncmp(path, "marker.", 7)) {
    const struct marker *m = NULL;
    for (int i = 0; i < s->nmarkers; i++)
      if (s->markers[i].number == marker) m = &s->markers[i];
    if (!m) return 0;
    if (!strcmp(path, "marker.name")) return *str = m->name ? m->name : "", 1;
    if (!strcmp(path, "marker.position")) return *num = m->position, 1;
    return 0;
  }
  const struct track *t = tr(s, index);
  if (!t || strncmp(path, "track.", 6)) return 0;
  const char *f = path + 6;
  if (!strcmp(f, "name")) return *str = t->name ? t->name : "", 1;
  if (!strcmp(f, "type")) return *str = t->type, 1;
  if (!strcmp(f, "instrument")) return *str = t->instrument ? t->instrument : "", 1;
  for (size_t k = 0; k < sizeof track_numbers / sizeof track_numbers[0]; k++)
    if (!strcmp(f, track_numbers[k].name)) return *num = session_track_number(s, index, track_numbers[k].f), 1;
  if (!strcmp(f, "clip.count")) return *num = (double)json_array_size(t->clips), 1;
  if (!strncmp(f, "fx.", 3)) {
    if (fx < 1 || fx > t->nfx) return 0;
    const struct fx *x = &t->fx[fx - 1];
    if (!strcmp(f, "fx.name")) return *str = x->name ? x->name : "", 1;
    if (!strcmp(f, "fx.enabled")) return *num = x->enabled, 1;
    if (!strcmp(f, "fx.param")) {
      if (param < 1 || param > x->nparams) return 0;
      return *num = x->params[param - 1].value, 1;
    }
  }
  return 0;
}

/* ---- JSON ---- */

static json_t *track_to_json(const struct track *t, int index) {
  json_t *j = json_object();
  json_object_set_new(j, "id", json_string(t->id));
  json_object_set_new(j, "index", json_integer(index));
  if (t->host_id) json_object_set_new(j, "host_id", json_string(t->host_id));
  json_object_set_new(j, "name", json_string(t->name ? t->name : ""));
  json_object_set_new(j, "type", json_string(t->type));
  json_object_set_new(j, "volume_db", json_real(t->volume_db));
  json_object_set_new(j, "pan", json_real(t->pan));
  json_object_set_new(j, "mute", json_boolean(t->mute));
  json_object_set_new(j, "solo", json_boolean(t->solo));
  json_object_set_new(j, "rec_arm", json_boolean(t->rec_arm));
  json_object_set_new(j, "selected", json_boolean(t->selected));
  json_object_set_new(j, "instrument", t->instrument ? json_string(t->instrument) : json_null());
  json_t *fx = json_array();
  for (int i = 0; i < t->nfx; i++) {
    json_t *f = json_object();
    json_object_set_new(f, "index", json_integer(i + 1));
    json_object_set_new(f, "name", json_string(t->fx[i].name ? t->fx[i].name : ""));
    json_object_set_new(f, "enabled", json_boolean(t->fx[i].enabled));
    json_t *ps = json_array();
    for (int k = 0; k < t->fx[i].nparams; k++) {
      json_t *p = json_object();
      json_object_set_new(p, "index", json_integer(k + 1));
      if (t->fx[i].params[k].name) json_object_set_new(p, "name", json_string(t->fx[i].params[k].name));
      json_object_set_new(p, "value", json_real(t->fx[i].params[k].value));
      json_array_append_new(ps, p);
    }
    json_object_set_new(f, "params", ps);
    json_array_append_new(fx, f);
  }
  json_object_set_new(j, "fx", fx);
  json_object_set_new(j, "clips", json_deep_copy(t->clips));
  return j;
}

json_t *session_to_json(const session_t *s) {
  json_t *j = json_object();
  json_object_set_new(j, "format", json_string("dawbridge.session/1"));
  json_object_set_new(j, "dialect", json_string(s->dialect));
  json_object_set_new(j, "project", s->project ? json_string(s->project) : json_null());
  json_object_set_new(j, "tempo", json_real(s->tempo));
  json_object_set_new(j, "time_signature", json_pack("[ii]", s->ts_num, s->ts_den));
  json_object_set_new(j, "transport",
                      json_pack("{sbsbsf}", "playing", s->playing, "recording", s->recording, "position", s->position));
  json_object_set_new(j, "loop",
                      json_pack("{sbsfsf}", "enabled", s->loop_enabled, "start", s->loop_start, "end", s->loop_end));
  json_t *ms = json_array();
  for (int i = 0; i < s->nmarkers; i++) {
    const struct marker *m = &s->markers[i];
    json_array_append_new(
        ms, json_pack("{sssiss*sf}", "id", m->id, "number", m->number, "name", m->name, "position", m->position));
  }
  json_object_set_new(j, "markers", ms);
  json_t *ts = json_array();
  for (int i = 0; i < s->ntracks; i++) json_array_append_new(ts, track_to_json(s->tracks[i], i + 1));
  json_object_set_new(j, "tracks", ts);
  return j;
}

static int bool_or(const json_t *o, const char *k, int d) {
  const json_t *v = json_object_get(o, k);
  if (json_is_boolean(v)) return json_is_true(v);
  if (json_is_number(v)) return json_number_value(v) != 0;
  return d;
}

static void note_id(unsigned *counter, const char *id, char prefix) {
  unsigned n;
  char fmt[4] = {prefix, '%', 'u', 0};
  if (id && sscanf(id, fmt, &n) == 1 && n > *counter) *counter = n;
}

/* A set of borrowed strings for duplicate checks while reading JSON: one pass over n items instead of a scan
 * of everything read so far per item (that scan made session_from_json quadratic: seconds at 100,000 tracks). */
struct strset {
  const char **slot;
  size_t mask;
};

static int strset_init(struct strset *h, size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;
  h->slot = calloc(cap, sizeof *h->slot);
  h->mask = cap - 1;
  return h->slot ? 0 : -1;
}

/* 1 if `k` (borrowed: must outlive the set) was added, 0 if it was already there. */
static int strset_add(struct strset *h, const char *k) {
  size_t x = 14695981039346656037u;
  for (const unsigned char *p = (const unsigned char *)k; *p; p++) x = (x ^ *p) * 1099511628211u;
  size_t i = x & h->mask;
  while (h->slot[i]) {
    if (!strcmp(h->slot[i], k)) return 0;
    i = (i + 1) & h->mask;
  }
  h->slot[i] = k;
  return 1;
}

/* A JSON number as an int in [lo, hi]: 0 and *out set, or -1 (absent numbers give `dflt`). Converting an
 * out-of-range double to int is undefined behaviour, so the range is checked on the double. */
static int int_in_range(const json_t *o, const char *k, int dflt, int lo, int hi, int *out) {
  const json_t *v = json_object_get(o, k);
  if (!json_is_number(v)) {
    *out = dflt;
    return 0;
  }
  double d = json_number_value(v);
  if (!(d >= lo && d <= hi)) return -1;
  *out = (int)d;
  return 0;
}

/* Fill a track from JSON. `t` keeps fields the JSON lacks. */
static int track_from_json(session_t *s, struct track *t, const json_t *j, char *err, size_t errlen) {
  const char *name = json_string_value(json_object_get(j, "name"));
  if (name) set_str(&t->name, name);
  const char *hid = json_string_value(json_object_get(j, "host_id"));
  if (hid) set_str(&t->host_id, hid);
  const char *type = json_string_value(json_object_get(j, "type"));
  if (type) {
    if (strcmp(type, "midi") && strcmp(type, "audio") && strcmp(type, "bus"))
      return errfmt(err, errlen, SESSION_EINVAL, "track type '%s' is not midi, audio or bus", type);
    snprintf(t->type, sizeof t->type, "%s", type);
  }
  t->volume_db = fmax(VOL_NEG_INF, jget_num(j, "volume_db", t->volume_db));
  t->pan = jget_num(j, "pan", t->pan);
  t->mute = bool_or(j, "mute", t->mute);
  t->solo = bool_or(j, "solo", t->solo);
  t->rec_arm = bool_or(j, "rec_arm", t->rec_arm);
  t->selected = bool_or(j, "selected", t->selected);
  json_t *ins = json_object_get(j, "instrument");
  if (ins) set_str(&t->instrument, json_string_value(ins));
  json_t *fx = json_object_get(j, "fx");
  if (json_is_array(fx)) {
    fx_resize(t, 0);
    if (fx_resize(t, (int)json_array_size(fx)) < 0) return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
    size_t i;
    json_t *f;
    json_array_foreach(fx, i, f) {
      set_str(&t->fx[i].name, json_string_value(json_object_get(f, "name")));
      t->fx[i].enabled = bool_or(f, "enabled", 1);
      json_t *ps = json_object_get(f, "params");
      if (json_is_array(ps) && json_array_size(ps)) {
        size_t k;
        json_t *p;
        json_array_foreach(ps, k, p) {
          int idx;
          if (int_in_range(p, "index", (int)k + 1, 1, 4096, &idx)) continue;
          if (param_resize(&t->fx[i], idx) < 0) return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
          t->fx[i].params[idx - 1].value = jget_num(p, "value", 0);
          set_str(&t->fx[i].params[idx - 1].name, json_string_value(json_object_get(p, "name")));
        }
      }
    }
  }
  json_t *clips = json_object_get(j, "clips");
  if (json_is_array(clips)) {
    json_t *arr = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(clips, i, c) {
      json_t *nc = clip_normalise(s, c, err, errlen);
      if (!nc) {
        json_decref(arr);
        return SESSION_EINVAL;
      }
      json_array_append_new(arr, nc);
    }
    json_decref(t->clips);
    t->clips = arr;
  }
  return 0;
}

int session_from_json(session_t *s, const json_t *j, char *err, size_t errlen) {
  if (!json_is_object(j)) return errfmt(err, errlen, SESSION_EINVAL, "session must be a JSON object");
  json_t *tracks = json_object_get(j, "tracks");
  if (tracks && !json_is_array(tracks)) return errfmt(err, errlen, SESSION_EINVAL, "\"tracks\" must be an array");
  session_t *n = session_new(
      json_string_value(json_object_get(j, "dialect")) ? json_string_value(json_object_get(j, "dialect")) : s->dialect);
  if (!n) return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
  n->next_track_id = s->next_track_id;
  n->next_clip_id = s->next_clip_id;
  n->next_marker_id = s->next_marker_id;
  set_str(&n->project, json_string_value(json_object_get(j, "project")));
  n->tempo = jget_num(j, "tempo", 120);
  json_t *tsig = json_object_get(j, "time_signature");
  if (json_is_array(tsig) && json_array_size(tsig) == 2) {
    n->ts_num = (int)json_integer_value(json_array_get(tsig, 0));
    n->ts_den = (int)json_integer_value(json_array_get(tsig, 1));
  }
  json_t *tp = json_object_get(j, "transport");
  n->playing = bool_or(tp, "playing", 0);
  n->recording = bool_or(tp, "recording", 0);
  n->position = jget_num(tp, "position", 0);
  json_t *lp = json_object_get(j, "loop");
  n->loop_enabled = bool_or(lp, "enabled", 0);
  n->loop_start = jget_num(lp, "start", 0);
  n->loop_end = jget_num(lp, "end", 0);
  json_t *ms = json_object_get(j, "markers");
  if (json_array_size(ms) > SESSION_MAX_MARKERS || json_array_size(tracks) > SESSION_MAX_TRACKS) {
    session_free(n);
    return errfmt(err, errlen, SESSION_ERANGE, "more than %d tracks or %d markers", SESSION_MAX_TRACKS,
                  SESSION_MAX_MARKERS);
  }
  size_t i;
  json_t *v;
  json_array_foreach(ms, i, v) {
    int number;
    if (int_in_range(v, "number", (int)i + 1, INT_MIN, INT_MAX, &number)) {
      session_free(n);
      return errfmt(err, errlen, SESSION_EINVAL, "marker %zu: number out of range", i + 1);
    }
    struct session_update u = {.field = SF_MARKER,
                               .marker = number,
                               .str = json_string_value(json_object_get(v, "name")),
                               .num = jget_num(v, "position", 0)};
    if (session_apply(n, &u, err, errlen)) {
      session_free(n);
      return SESSION_ENOMEM;
    }
    const char *mid = json_string_value(json_object_get(v, "id"));
    if (mid) {
      struct marker *m = find_marker(n, number); /* a repeated number updates the first, as on the wire */
      snprintf(m->id, sizeof m->id, "%s", mid);
      note_id(&n->next_marker_id, mid, 'm');
    }
  }
  struct strset ids;
  if (strset_init(&ids, json_array_size(tracks))) {
    session_free(n);
    return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
  }
  json_array_foreach(tracks, i, v) {
    struct track *t = track_new(n);
    if (!t || insert_track(n, n->ntracks, t)) {
      track_free(t);
      free(ids.slot);
      session_free(n);
      return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
    }
    const char *id = json_string_value(json_object_get(v, "id"));
    if (id) {
      if (strlen(id) >= sizeof t->id) {
        free(ids.slot);
        session_free(n);
        return errfmt(err, errlen, SESSION_EINVAL, "track id '%.20s' too long", id);
      }
      snprintf(t->id, sizeof t->id, "%s", id);
      note_id(&n->next_track_id, id, 't');
    }
    int rc = track_from_json(n, t, v, err, errlen);
    if (rc) {
      free(ids.slot);
      session_free(n);
      return rc;
    }
  }
  /* Ids, given or provisional (a given id may equal a provisional one handed out earlier), must be unique:
   * duplicates would break id stability, so refuse rather than guess. */
  for (int k = 0; k < n->ntracks; k++) {
    if (!strset_add(&ids, n->tracks[k]->id)) {
      char dup[sizeof n->tracks[k]->id];
      snprintf(dup, sizeof dup, "%s", n->tracks[k]->id);
      free(ids.slot);
      session_free(n);
      return errfmt(err, errlen, SESSION_EINVAL, "duplicate track id '%s'", dup);
    }
  }
  free(ids.slot);
  /* swap contents: keep s's address valid for its owner */
  clear_all(s);
  free(s->tracks);
  unsigned long ver = s->version + 1;
  *s = *n;
  s->version = ver;
  free(n);
  return SESSION_OK;
}

/* ---- reconcile ---- */

/* REAPER names unnamed tracks "Track N" from their position, so such names say nothing about identity. */
static int is_default_name(const char *name) {
  if (!name || !*name) return 1;
  if (strncmp(name, "Track ", 6)) return 0;
  const char *p = name + 6;
  if (!*p) return 0;
  for (; *p; p++)
    if (*p < '0' || *p > '9') return 0;
  return 1;
}

int session_reconcile_tracks(session_t *s, const json_t *fresh, char *err, size_t errlen) {
  if (!json_is_array(fresh)) return errfmt(err, errlen, SESSION_EINVAL, "fresh track list must be an array");
  size_t nf = json_array_size(fresh);
  {
    /* validate every fresh track on a scratch copy first: matched old tracks are filled in place below, and a
     * late failure must not leave the mirror half-updated */
    session_t *scratch = session_new(NULL);
    struct track *probe = scratch ? track_new(scratch) : NULL;
    int vrc = probe ? 0 : errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
    for (size_t i = 0; i < nf && !vrc; i++)
      vrc = track_from_json(scratch, probe, json_array_get(fresh, i), err, errlen);
    track_free(probe);
    session_free(scratch);
    if (vrc) return vrc;
  }
  if (reserve_tracks(s, (int)nf + 1)) return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
  int no = s->ntracks;
  struct track **old = s->tracks;
  int *taken = calloc((size_t)no + 1, sizeof *taken);
  struct track **out = calloc(nf + 1, sizeof *out);
  if (!taken || !out) {
    free(taken);
    free(out);
    return errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
  }
  /* pass 1: host ids are authoritative */
  for (size_t i = 0; i < nf; i++) {
    const char *hid = json_string_value(json_object_get(json_array_get(fresh, i), "host_id"));
    if (!hid) continue;
    for (int k = 0; k < no; k++) {
      if (!taken[k] && old[k]->host_id && !strcmp(old[k]->host_id, hid)) {
        taken[k] = 1;
        out[i] = old[k];
        break;
      }
    }
  }
  /* pass 2: in order, by name; a default name matches only the track at the same position */
  int cursor = 0;
  for (size_t i = 0; i < nf; i++) {
    if (out[i]) continue;
    const json_t *f = json_array_get(fresh, i);
    const char *name = json_string_value(json_object_get(f, "name"));
    if (json_string_value(json_object_get(f, "host_id"))) {
      /* a host id that matched nothing is a new track, unless an old track had no host id yet */
      for (int k = 0; k < no; k++) {
        if (!taken[k] && !old[k]->host_id && old[k]->name && name && !strcmp(old[k]->name, name)) {
          taken[k] = 1;
          out[i] = old[k];
          break;
        }
      }
      continue;
    }
    if (is_default_name(name)) {
      if ((int)i < no && !taken[i] && is_default_name(old[i]->name)) {
        taken[i] = 1;
        out[i] = old[i];
      }
      continue;
    }
    /* in order first (duplicate names keep their order), then anywhere (a track the user moved) */
    for (int pass = 0; pass < 2 && !out[i]; pass++) {
      for (int k = pass ? 0 : cursor; k < no; k++) {
        if (!taken[k] && old[k]->name && !strcmp(old[k]->name, name)) {
          taken[k] = 1;
          out[i] = old[k];
          if (!pass) cursor = k + 1;
          break;
        }
      }
    }
  }
  int rc = 0;
  for (size_t i = 0; i < nf && !rc; i++) {
    if (!out[i] && !(out[i] = track_new(s)))
      rc = errfmt(err, errlen, SESSION_ENOMEM, "out of memory");
    else
      rc = track_from_json(s, out[i], json_array_get(fresh, i), err, errlen);
  }
  if (rc) {
    /* roll back: free the new tracks only; old ones stay where they were */
    for (size_t i = 0; i < nf; i++) {
      int was_old = 0;
      for (int k = 0; k < no; k++) was_old |= out[i] == old[k];
      if (!was_old) track_free(out[i]);
    }
    free(taken);
    free(out);
    return rc;
  }
  for (int k = 0; k < no; k++)
    if (!taken[k]) track_free(old[k]);
  free(taken);
  memcpy(s->tracks, out, nf * sizeof *out);
  s->ntracks = (int)nf;
  free(out);
  s->version++;
  return SESSION_OK;
}
