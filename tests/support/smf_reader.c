/* smf_reader.c: see smf_reader.h. Written from the SMF 1.0 spec, independently of bridge/midifile.c. */
#include "smf_reader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int vlq(const uint8_t *p, size_t len, size_t *pos, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        if (*pos >= len)
            return -1;
        uint8_t c = p[(*pos)++];
        v = (v << 7) | (c & 0x7f);
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int push(smf_track_t *t, size_t *cap, smf_event_t e)
{
    if (t->count == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        smf_event_t *n = realloc(t->events, nc * sizeof *n);
        if (!n)
            return -1;
        t->events = n;
        *cap = nc;
    }
    t->events[t->count++] = e;
    return 0;
}

static int parse_track(const uint8_t *p, size_t len, smf_track_t *t, char *err, size_t errlen)
{
    size_t pos = 0, cap = 0;
    uint32_t tick = 0;
    uint8_t running = 0;
    int ended = 0;
    while (pos < len) {
        if (ended)
            return fail(err, errlen, "data after end of track");
        uint32_t delta;
        if (vlq(p, len, &pos, &delta))
            return fail(err, errlen, "bad delta time");
        tick += delta;
        if (pos >= len)
            return fail(err, errlen, "event missing");
        smf_event_t e = {0};
        e.tick = tick;
        uint8_t b = p[pos];
        if (b == 0xff) {
            pos++;
            if (pos >= len)
                return fail(err, errlen, "truncated meta");
            e.status = 0xff;
            e.meta = p[pos++];
            if (vlq(p, len, &pos, &e.len) || pos + e.len > len)
                return fail(err, errlen, "bad meta length");
            e.data = p + pos;
            pos += e.len;
            if (e.meta == 0x2f)
                ended = 1;
            if (e.meta == 0x03 && !t->name[0]) {
                size_t n = e.len < sizeof t->name - 1 ? e.len : sizeof t->name - 1;
                memcpy(t->name, e.data, n);
                t->name[n] = '\0';
            }
            running = 0;
        } else if (b == 0xf0 || b == 0xf7) {
            pos++;
            e.status = b;
            if (vlq(p, len, &pos, &e.len) || pos + e.len > len)
                return fail(err, errlen, "bad sysex length");
            e.data = p + pos;
            pos += e.len;
            running = 0;
        } else {
            if (b & 0x80) {
                running = b;
                pos++;
            } else if (!running) {
                return fail(err, errlen, "data byte without status at offset %zu", pos);
            }
            e.status = running;
            int hi = running & 0xf0;
            int nd = (hi == 0xc0 || hi == 0xd0) ? 1 : 2;
            if (pos + (size_t)nd > len)
                return fail(err, errlen, "truncated channel message");
            e.d1 = p[pos++];
            if (nd == 2)
                e.d2 = p[pos++];
            if ((e.d1 | e.d2) & 0x80)
                return fail(err, errlen, "data byte with high bit set");
        }
        if (push(t, &cap, e))
            return fail(err, errlen, "out of memory");
    }
    if (!ended)
        return fail(err, errlen, "track without end-of-track meta event");
    return 0;
}

int smf_read(const char *path, smf_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(err, errlen, "cannot open %s", path);
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return fail(err, errlen, "out of memory");
    out->raw = buf;
    out->raw_len = len;
    if (len < 14 || memcmp(buf, "MThd", 4) != 0 || be32(buf + 4) != 6) {
        smf_free(out);
        return fail(err, errlen, "not a MIDI file (bad MThd)");
    }
    out->format = (buf[8] << 8) | buf[9];
    out->ntracks = (buf[10] << 8) | buf[11];
    out->division = (buf[12] << 8) | buf[13];
    out->tracks = calloc((size_t)out->ntracks + 1, sizeof *out->tracks);
    if (!out->tracks) {
        smf_free(out);
        return fail(err, errlen, "out of memory");
    }
    size_t pos = 14;
    for (int i = 0; i < out->ntracks; i++) {
        if (pos + 8 > len || memcmp(buf + pos, "MTrk", 4) != 0) {
            smf_free(out);
            return fail(err, errlen, "track %d: missing MTrk", i);
        }
        uint32_t tl = be32(buf + pos + 4);
        if (pos + 8 + tl > len) {
            smf_free(out);
            return fail(err, errlen, "track %d: chunk longer than the file", i);
        }
        char msg[128];
        if (parse_track(buf + pos + 8, tl, &out->tracks[i], msg, sizeof msg)) {
            smf_free(out);
            return fail(err, errlen, "track %d: %s", i, msg);
        }
        pos += 8 + tl;
    }
    if (pos != len) {
        smf_free(out);
        return fail(err, errlen, "%zu trailing bytes", len - pos);
    }
    return 0;
}

void smf_free(smf_t *smf)
{
    if (smf->tracks)
        for (int i = 0; i < smf->ntracks; i++)
            free(smf->tracks[i].events);
    free(smf->tracks);
    free(smf->raw);
    memset(smf, 0, sizeof *smf);
}
