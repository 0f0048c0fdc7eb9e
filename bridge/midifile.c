/* midifile.c: Standard MIDI File (format 1) export. See midifile.h. */
#include "midifile.h"
#include "jsonget.h"
#include "errfmt.h"
#include "strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TICK 0x0FFFFFFFu

const char *midifile_strerror(int code) {
  switch (code) {
  case MIDIFILE_OK: return "success";
  case MIDIFILE_EINVAL: return "invalid snapshot";
  case MIDIFILE_EIO: return "cannot write the MIDI file";
  case MIDIFILE_ENOMEM: return "out of memory";
  default: return "unknown midifile error";
  }
}

/* ---- byte buffer ---- */

static void put(strbuf_t *b, const void *data, size_t n) { strbuf_append(b, data, n); }

static void put1(strbuf_t *b, unsigned v) {
  unsigned char c = (unsigned char)v;
  put(b, &c, 1);
}

static void put32(strbuf_t *b, uint32_t v) {
  unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
  put(b, c, 4);
}

static void put16(strbuf_t *b, unsigned v) {
  unsigned char c[2] = {(unsigned char)(v >> 8), (unsigned char)v};
  put(b, c, 2);
}

static void put_vlq(strbuf_t *b, uint32_t v) {
  unsigned char tmp[5];
  int n = 0;
  tmp[n++] = (unsigned char)(v & 0x7f);
  while ((v >>= 7) != 0) tmp[n++] = (unsigned char)(0x80 | (v & 0x7f));
  while (n-- > 0) put1(b, tmp[n]);
}

static void put_meta(strbuf_t *b, uint32_t delta, unsigned type, const void *data, size_t n) {
  put_vlq(b, delta);
  put1(b, 0xff);
  put1(b, type);
  put_vlq(b, (uint32_t)n);
  put(b, data, n);
}

/* Appends an MTrk chunk with the body `t`. */
static void put_chunk(strbuf_t *out, const strbuf_t *t) {
  put(out, "MTrk", 4);
  put32(out, (uint32_t)t->len);
  put(out, t->s, t->len);
}

/* ---- snapshot helpers ---- */

static const char *str(const json_t *o, const char *k, const char *def) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : def;
}

static uint32_t to_tick(double beats) {
  double t = floor(beats * MIDIFILE_PPQ + 0.5);
  if (!(t > 0)) return 0;
  if (t > MAX_TICK) return MAX_TICK;
  return (uint32_t)t;
}

static int contains_ci(const char *hay, const char *needle) {
  size_t nl = strlen(needle);
  for (const char *h = hay; *h; h++) {
    size_t i = 0;
    while (i < nl && h[i] && tolower((unsigned char)h[i]) == needle[i]) i++;
    if (i == nl) return 1;
  }
  return 0;
}

int midifile_is_drum_track(const char *name, const char *instrument) {
  static const char *const words[] = {"drum",    "kick",   "snare",      "hihat", "hi-hat", "hi hat",
                                      "perc",    "cymbal", "clap",       "808",   "909",    "tom-tom",
                                      "cowbell", "shaker", "tambourine", "conga", "bongo",  "rimshot"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if ((name && contains_ci(name, words[i])) || (instrument && contains_ci(instrument, words[i]))) return 1;
  return 0;
}

/* ---- notes → events ---- */

struct note {
  uint32_t on, off;
  unsigned char n, v;
};

struct ev {
  uint32_t tick;
  unsigned char on; /* 0 = off (sorted first), 1 = on */
  unsigned char n, v;
};

static int cmp_note(const void *a, const void *b) {
  const struct note *x = a, *y = b;
  if (x->n != y->n) return x->n < y->n ? -1 : 1;
  if (x->on != y->on) return x->on < y->on ? -1 : 1;
  return (x->off > y->off) - (x->off < y->off);
}

static int cmp_ev(const void *a, const void *b) {
  const struct ev *x = a, *y = b;
  if (x->tick != y->tick) return x->tick < y->tick ? -1 : 1;
  if (x->on != y->on) return x->on < y->on ? -1 : 1;
  return (x->n > y->n) - (x->n < y->n);
}

/* Collects the notes of a track (absolute ticks). Returns count, -1 on OOM. */
static long collect_notes(const json_t *track, struct note **out) {
  json_t *clips = json_object_get(track, "clips");
  size_t cap = 0, n = 0;
  struct note *v = NULL;
  for (size_t c = 0; c < json_array_size(clips); c++) {
    json_t *clip = json_array_get(clips, c);
    double cs = jget_num(clip, "start", 0), cl = jget_num(clip, "length", 0);
    json_t *notes = json_object_get(clip, "notes");
    for (size_t i = 0; i < json_array_size(notes); i++) {
      json_t *nt = json_array_get(notes, i);
      json_t *pn = json_object_get(nt, "n");
      if (!json_is_integer(pn) || json_integer_value(pn) < 0 || json_integer_value(pn) > 127) continue;
      double s = jget_num(nt, "s", 0), d = jget_num(nt, "d", 0);
      double e = s + d;
      if (cl > 0) {
        if (s >= cl - 1e-9) continue;
        if (e > cl) e = cl;
      }
      json_int_t vel = json_integer_value(json_object_get(nt, "v"));
      if (vel < 1) vel = json_is_integer(json_object_get(nt, "v")) ? 1 : 100;
      if (vel > 127) vel = 127;
      if (n == cap) {
        size_t nc = cap ? cap * 2 : 64;
        struct note *nv = realloc(v, nc * sizeof *nv);
        if (!nv) {
          free(v);
          return -1;
        }
        v = nv;
        cap = nc;
      }
      struct note *x = &v[n++];
      x->on = to_tick(cs + s);
      x->off = to_tick(cs + e);
      if (x->off <= x->on) x->off = x->on + 1;
      x->n = (unsigned char)json_integer_value(pn);
      x->v = (unsigned char)vel;
    }
  }
  *out = v;
  return (long)n;
}

/* Makes same-pitch notes non-overlapping and returns sorted events (count in *nev). */
static struct ev *note_events(struct note *v, size_t n, size_t *nev) {
  qsort(v, n, sizeof *v, cmp_note);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    if (kept > 0 && v[kept - 1].n == v[i].n) {
      struct note *prev = &v[kept - 1];
      if (prev->on == v[i].on) {
        if (v[i].off > prev->off) prev->off = v[i].off;
        if (v[i].v > prev->v) prev->v = v[i].v;
        continue;
      }
      if (prev->off > v[i].on) prev->off = v[i].on;
    }
    v[kept++] = v[i];
  }
  struct ev *e = malloc((2 * kept + 1) * sizeof *e);
  if (!e) return NULL;
  for (size_t i = 0; i < kept; i++) {
    e[2 * i] = (struct ev){v[i].on, 1, v[i].n, v[i].v};
    e[2 * i + 1] = (struct ev){v[i].off, 0, v[i].n, 64};
  }
  qsort(e, 2 * kept, sizeof *e, cmp_ev);
  *nev = 2 * kept;
  return e;
}

/* ---- chunks ---- */

static int cmp_marker(const void *a, const void *b) {
  double x = jget_num(*(json_t *const *)a, "position", 0), y = jget_num(*(json_t *const *)b, "position", 0);
  return (x > y) - (x < y);
}

static int tempo_track(const json_t *s, strbuf_t *out) {
  strbuf_t t = STRBUF_INIT;
  const char *project = str(s, "project", "");
  put_meta(&t, 0, 0x03, project, strlen(project));

  json_t *ts = json_object_get(s, "time_signature");
  json_int_t nn = 4, dd = 4;
  if (json_is_array(ts) && json_array_size(ts) == 2) {
    nn = json_integer_value(json_array_get(ts, 0));
    dd = json_integer_value(json_array_get(ts, 1));
  }
  int pow2 = 0;
  while (pow2 < 8 && (1 << pow2) < dd) pow2++;
  if (nn < 1 || nn > 255 || dd < 1 || (1 << pow2) != dd) {
    nn = 4;
    pow2 = 2;
  }
  unsigned char tsd[4] = {(unsigned char)nn, (unsigned char)pow2, 24, 8};
  put_meta(&t, 0, 0x58, tsd, 4);

  double bpm = jget_num(s, "tempo", 120.0);
  if (!(bpm > 0) || bpm > 10000) bpm = 120.0;
  double us = floor(60000000.0 / bpm + 0.5);
  if (us < 1) us = 1;
  if (us > 0xFFFFFF) us = 0xFFFFFF;
  uint32_t u = (uint32_t)us;
  unsigned char td[3] = {(unsigned char)(u >> 16), (unsigned char)(u >> 8), (unsigned char)u};
  put_meta(&t, 0, 0x51, td, 3);

  json_t *markers = json_object_get(s, "markers");
  size_t nm = json_array_size(markers);
  uint32_t last = 0;
  if (nm > 0) {
    json_t **ms = malloc(nm * sizeof *ms);
    if (!ms) {
      strbuf_reset(&t);
      return MIDIFILE_ENOMEM;
    }
    for (size_t i = 0; i < nm; i++) ms[i] = json_array_get(markers, i);
    qsort(ms, nm, sizeof *ms, cmp_marker);
    for (size_t i = 0; i < nm; i++) {
      uint32_t tick = to_tick(jget_num(ms[i], "position", 0));
      const char *name = str(ms[i], "name", "");
      put_meta(&t, tick - last, 0x06, name, strlen(name));
      last = tick;
    }
    free(ms);
  }
  put_meta(&t, 0, 0x2f, NULL, 0);
  put_chunk(out, &t);
  int oom = t.oom;
  strbuf_reset(&t);
  return oom ? MIDIFILE_ENOMEM : MIDIFILE_OK;
}

/* Writes the MTrk of one DAW track if it has notes; *written tells whether it did. */
static int note_track(const json_t *track, int channel, strbuf_t *out, int *written) {
  struct note *notes = NULL;
  long n = collect_notes(track, &notes);
  *written = 0;
  if (n < 0) return MIDIFILE_ENOMEM;
  if (n == 0) {
    free(notes);
    return MIDIFILE_OK;
  }
  size_t nev = 0;
  struct ev *ev = note_events(notes, (size_t)n, &nev);
  free(notes);
  if (!ev) return MIDIFILE_ENOMEM;
  strbuf_t t = STRBUF_INIT;
  const char *name = str(track, "name", "");
  put_meta(&t, 0, 0x03, name, strlen(name));
  uint32_t last = 0;
  for (size_t i = 0; i < nev; i++) {
    put_vlq(&t, ev[i].tick - last);
    last = ev[i].tick;
    put1(&t, (ev[i].on ? 0x90u : 0x80u) | (unsigned)channel);
    put1(&t, ev[i].n);
    put1(&t, ev[i].v);
  }
  put_meta(&t, 0, 0x2f, NULL, 0);
  free(ev);
  put_chunk(out, &t);
  int oom = t.oom;
  strbuf_reset(&t);
  *written = 1;
  return oom ? MIDIFILE_ENOMEM : MIDIFILE_OK;
}

int midifile_encode(const json_t *snapshot, unsigned char **data_out, size_t *len_out, char *err, size_t errlen) {
  if (!json_is_object(snapshot) || !data_out || !len_out) {
    return errfmt(err, errlen, MIDIFILE_EINVAL, "midifile: the snapshot must be a JSON object");
  }
  const json_t *s = snapshot;
  json_t *st = json_object_get(snapshot, "state");
  if (json_is_object(st)) s = st;

  strbuf_t body = STRBUF_INIT;
  int rc = tempo_track(s, &body);
  unsigned ntracks = 1;
  json_t *tracks = json_object_get(s, "tracks");
  int next_channel = 0;
  for (size_t i = 0; rc == MIDIFILE_OK && i < json_array_size(tracks); i++) {
    json_t *t = json_array_get(tracks, i);
    int drums = midifile_is_drum_track(str(t, "name", NULL), str(t, "instrument", NULL));
    int ch = drums ? 9 : next_channel;
    int written = 0;
    rc = note_track(t, ch, &body, &written);
    if (written) {
      ntracks++;
      if (!drums) {
        next_channel = (next_channel + 1) % 16;
        if (next_channel == 9) next_channel = 10;
      }
    }
  }
  if (rc == MIDIFILE_OK && (body.oom || ntracks > 0xffff)) rc = body.oom ? MIDIFILE_ENOMEM : MIDIFILE_EINVAL;
  if (rc != MIDIFILE_OK) {
    strbuf_reset(&body);
    return errfmt(err, errlen, rc, "midifile: %s", midifile_strerror(rc));
  }
  strbuf_t out = STRBUF_INIT;
  put(&out, "MThd", 4);
  put32(&out, 6);
  put16(&out, 1);
  put16(&out, ntracks);
  put16(&out, MIDIFILE_PPQ);
  put(&out, body.s, body.len);
  strbuf_reset(&body);
  if (out.oom) {
    strbuf_reset(&out);
    return errfmt(err, errlen, MIDIFILE_ENOMEM, "midifile: out of memory");
  }
  *data_out = (unsigned char *)strbuf_take(&out, len_out);
  return MIDIFILE_OK;
}

int midifile_write(const json_t *snapshot, const char *path, char *err, size_t errlen) {
  if (!path || !path[0]) {
    return errfmt(err, errlen, MIDIFILE_EINVAL, "midifile: no output path");
  }
  unsigned char *data = NULL;
  size_t len = 0;
  int rc = midifile_encode(snapshot, &data, &len, err, errlen);
  if (rc != MIDIFILE_OK) return rc;

  const char *slash = strrchr(path, '/');
  size_t dlen = slash ? (size_t)(slash - path) : 0;
  const char *base = slash ? slash + 1 : path;
  char *dir = malloc(dlen + 2);
  char *tmp = malloc(strlen(path) + 48);
  if (!dir || !tmp) {
    free(dir);
    free(tmp);
    free(data);
    return errfmt(err, errlen, MIDIFILE_ENOMEM, "midifile: out of memory");
  }
  if (slash) {
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    if (dlen == 0) strcpy(dir, "/");
  } else {
    strcpy(dir, ".");
  }
  sprintf(tmp, "%.*s%s.%s.%ld.tmp", (int)dlen, path, slash ? "/" : "", base, (long)getpid());

  rc = MIDIFILE_OK;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    rc = errfmt(err, errlen, MIDIFILE_EIO, "cannot create %s: %s", tmp, strerror(errno));
    goto out;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      rc = errfmt(err, errlen, MIDIFILE_EIO, "cannot write %s: %s", tmp, strerror(w < 0 ? errno : ENOSPC));
      break;
    }
    off += (size_t)w;
  }
  if (rc == MIDIFILE_OK && fsync(fd) != 0) {
    rc = errfmt(err, errlen, MIDIFILE_EIO, "cannot sync %s: %s", tmp, strerror(errno));
  }
  if (close(fd) != 0 && rc == MIDIFILE_OK) {
    rc = errfmt(err, errlen, MIDIFILE_EIO, "cannot close %s: %s", tmp, strerror(errno));
  }
  if (rc == MIDIFILE_OK && rename(tmp, path) != 0) {
    rc = errfmt(err, errlen, MIDIFILE_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  }
  if (rc != MIDIFILE_OK) {
    unlink(tmp);
    goto out;
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
out:
  free(dir);
  free(tmp);
  free(data);
  return rc;
}
