/* smf_reader.c: see smf_reader.h. Written from the SMF 1.0 spec, independently of bridge/midifile.c. */
#include "smf_reader.h"
#include "db_test_util.h"
#include "errfmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int vlq(const uint8_t *p, size_t len, size_t *pos, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    if (*pos >= len) return -1;
    uint8_t c = p[(*pos)++];
    v = (v << 7) | (c & 0x7f);
    if (!(c & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

static int push(smf_track_t *t, size_t *cap, smf_event_t e) {
  if (t->count == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    smf_event_t *n = realloc(t->events, nc * sizeof *n);
    if (!n) return -1;
    t->events = n;
    *cap = nc;
  }
  t->events[t->count++] = e;
  return 0;
}

static int parse_track(const uint8_t *p, size_t len, smf_track_t *t, char *err, size_t errlen) {
  size_t pos = 0, cap = 0;
  uint32_t tick = 0;
  uint8_t running = 0;
  int ended = 0;
  while (pos < len) {
    if (ended) return errfmt(err, errlen, -1, "data after end of track");
    uint32_t delta;
    if (vlq(p, len, &pos, &delta)) return errfmt(err, errlen, -1, "bad delta time");
    tick += delta;
    if (pos >= len) return errfmt(err, errlen, -1, "event missing");
    smf_event_t e = {0};
    e.tick = tick;
    uint8_t b = p[pos];
    if (b == 0xff) {
      pos++;
      if (pos >= len) return errfmt(err, errlen, -1, "truncated meta");
      e.status = 0xff;
      e.meta = p[pos++];
      if (vlq(p, len, &pos, &e.len) || pos + e.len > len) return errfmt(err, errlen, -1, "bad meta length");
      e.data = p + pos;
      pos += e.len;
      if (e.meta == 0x2f) ended = 1;
      if (e.meta == 0x03 && !t->name[0]) {
        size_t n = e.len < sizeof t->name - 1 ? e.len : sizeof t->name - 1;
        memcpy(t->name, e.data, n);
        t->name[n] = '\0';
      }
      running = 0;
    } else if (b == 0xf0 || b == 0xf7) {
      pos++;
      e.status = b;
      if (vlq(p, len, &pos, &e.len) || pos + e.len > len) return errfmt(err, errlen, -1, "bad sysex length");
      e.data = p + pos;
      pos += e.len;
      running = 0;
    } else {
      if (b & 0x80) {
        running = b;
        pos++;
      } else if (!running) {
        return errfmt(err, errlen, -1, "data byte without status at offset %zu", pos);
      }
      e.status = running;
      int hi = running & 0xf0;
      int nd = (hi == 0xc0 || hi == 0xd0) ? 1 : 2;
      if (pos + (size_t)nd > len) return errfmt(err, errlen, -1, "truncated channel message");
      e.d1 = p[pos++];
      if (nd == 2) e.d2 = p[pos++];
      if ((e.d1 | e.d2) & 0x80) return errfmt(err, errlen, -1, "data byte with high bit set");
    }
    if (push(t, &cap, e)) return errfmt(err, errlen, -1, "out of memory");
  }
  if (!ended) return errfmt(err, errlen, -1, "track without end-of-track meta event");
  return 0;
}

int smf_read(const char *path, smf_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  size_t len = 0;
  uint8_t *buf = (uint8_t *)db_test_slurp(path, &len);
  if (!buf) return errfmt(err, errlen, -1, "cannot read %s", path);
  out->raw = buf;
  out->raw_len = len;
  if (len < 14 || memcmp(buf, "MThd", 4) != 0 || be32(buf + 4) != 6) {
    smf_free(out);
    return errfmt(err, errlen, -1, "not a MIDI file (bad MThd)");
  }
  out->format = (buf[8] << 8) | buf[9];
  out->ntracks = (buf[10] << 8) | buf[11];
  out->division = (buf[12] << 8) | buf[13];
  out->tracks = calloc((size_t)out->ntracks + 1, sizeof *out->tracks);
  if (!out->tracks) {
    smf_free(out);
    return errfmt(err, errlen, -1, "out of memory");
  }
  size_t pos = 14;
  for (int i = 0; i < out->ntracks; i++) {
    if (pos + 8 > len || memcmp(buf + pos, "MTrk", 4) != 0) {
      smf_free(out);
      return errfmt(err, errlen, -1, "track %d: missing MTrk", i);
    }
    uint32_t tl = be32(buf + pos + 4);
    if (pos + 8 + tl > len) {
      smf_free(out);
      return errfmt(err, errlen, -1, "track %d: chunk longer than the file", i);
    }
    char msg[128];
    if (parse_track(buf + pos + 8, tl, &out->tracks[i], msg, sizeof msg)) {
      smf_free(out);
      return errfmt(err, errlen, -1, "track %d: %s", i, msg);
    }
    pos += 8 + tl;
  }
  if (pos != len) {
    smf_free(out);
    return errfmt(err, errlen, -1, "%zu trailing bytes", len - pos);
  }
  return 0;
}

void smf_free(smf_t *smf) {
  if (smf->tracks)
    for (int i = 0; i < smf->ntracks; i++) free(smf->tracks[i].events);
  free(smf->tracks);
  free(smf->raw);
  memset(smf, 0, sizeof *smf);
}
