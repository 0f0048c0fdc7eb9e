/* sse.c — incremental Server-Sent Events parser. See sse.h. */
#include "sse.h"

#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

struct sse {
  sse_event_cb cb;
  void *data;
  size_t max_len;
  strbuf_t line, evdata, event, id; /* NUL-terminated once sse_new succeeded */
  long retry_ms;
  int has_data; /* at least one data field in the current event */
  int last_cr;  /* previous slice ended with '\r' */
  int bom_checked;
  int bom_pos;
  int err;
  size_t count;
};

const char *sse_strerror(int err) {
  switch (err) {
  case SSE_OK: return "ok";
  case SSE_ENOMEM: return "out of memory";
  case SSE_ETOOLONG: return "event stream line or event too long";
  case SSE_ESTOPPED: return "stopped by callback";
  default: return "unknown sse error";
  }
}

static int buf_add(strbuf_t *b, const char *s, size_t n, size_t max) {
  if (b->len + n + 1 > max + 1) return SSE_ETOOLONG;
  strbuf_append(b, s, n);
  return b->oom ? SSE_ENOMEM : SSE_OK;
}

static int buf_set(strbuf_t *b, const char *s, size_t n, size_t max) {
  strbuf_clear(b);
  return buf_add(b, s, n, max);
}

sse_t *sse_new(size_t max_len, sse_event_cb cb, void *data) {
  sse_t *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->cb = cb;
  p->data = data;
  p->max_len = max_len ? max_len : (size_t)16 << 20;
  p->retry_ms = -1;
  if (buf_set(&p->id, "", 0, p->max_len) || buf_set(&p->event, "", 0, p->max_len) ||
      buf_set(&p->evdata, "", 0, p->max_len) || buf_set(&p->line, "", 0, p->max_len)) {
    sse_free(p);
    return NULL;
  }
  return p;
}

void sse_free(sse_t *p) {
  if (!p) return;
  strbuf_reset(&p->line);
  strbuf_reset(&p->evdata);
  strbuf_reset(&p->event);
  strbuf_reset(&p->id);
  free(p);
}

size_t sse_count(const sse_t *p) { return p->count; }

static int dispatch(sse_t *p) {
  int rc = SSE_OK;
  if (p->has_data) {
    if (p->evdata.len && p->evdata.s[p->evdata.len - 1] == '\n') p->evdata.s[--p->evdata.len] = '\0';
    struct sse_event ev = {
        .event = p->event.len ? p->event.s : "message",
        .data = p->evdata.s,
        .data_len = p->evdata.len,
        .id = p->id.s,
        .retry_ms = p->retry_ms,
    };
    p->count++;
    if (p->cb && p->cb(&ev, p->data)) rc = SSE_ESTOPPED;
  }
  p->has_data = 0;
  p->evdata.len = 0;
  p->evdata.s[0] = '\0';
  p->event.len = 0;
  p->event.s[0] = '\0';
  return rc;
}

static int process_line(sse_t *p, const char *l, size_t n) {
  if (n == 0) return dispatch(p);
  if (l[0] == ':') return SSE_OK; /* comment / keep-alive */
  const char *colon = memchr(l, ':', n);
  size_t flen = colon ? (size_t)(colon - l) : n;
  const char *v = colon ? colon + 1 : l + n;
  size_t vlen = colon ? n - flen - 1 : 0;
  if (vlen && v[0] == ' ') {
    v++;
    vlen--;
  }
  if (flen == 4 && !memcmp(l, "data", 4)) {
    int rc = buf_add(&p->evdata, v, vlen, p->max_len);
    if (!rc) rc = buf_add(&p->evdata, "\n", 1, p->max_len);
    p->has_data = 1;
    return rc;
  }
  if (flen == 5 && !memcmp(l, "event", 5)) return buf_set(&p->event, v, vlen, p->max_len);
  if (flen == 2 && !memcmp(l, "id", 2)) {
    if (memchr(v, '\0', vlen)) return SSE_OK;
    return buf_set(&p->id, v, vlen, p->max_len);
  }
  if (flen == 5 && !memcmp(l, "retry", 5)) {
    long r = 0;
    if (!vlen) return SSE_OK;
    for (size_t i = 0; i < vlen; i++) {
      if (v[i] < '0' || v[i] > '9') return SSE_OK;
      if (r < 100000000L) r = r * 10 + (v[i] - '0');
    }
    p->retry_ms = r;
    return SSE_OK;
  }
  return SSE_OK; /* unknown field: ignored */
}

static int end_line(sse_t *p) {
  int rc = process_line(p, p->line.s, p->line.len);
  p->line.len = 0;
  p->line.s[0] = '\0';
  return rc;
}

int sse_feed(sse_t *p, const char *buf, size_t len) {
  if (p->err) return p->err;
  size_t i = 0;
  while (!p->bom_checked && i < len) { /* skip a UTF-8 BOM at the very start, even when split */
    static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
    if ((unsigned char)buf[i] == bom[p->bom_pos]) {
      i++;
      if (++p->bom_pos == 3) p->bom_checked = 1;
    } else {
      p->bom_checked = 1;
      if (p->bom_pos) {
        int rc = buf_add(&p->line, (const char *)bom, p->bom_pos, p->max_len);
        if (rc) return p->err = rc;
      }
    }
  }
  if (p->last_cr && i < len && buf[i] == '\n') i++;
  p->last_cr = 0;
  while (i < len) {
    const char *s = buf + i;
    size_t rem = len - i, k = 0;
    while (k < rem && s[k] != '\n' && s[k] != '\r') k++;
    if (k) {
      int rc = buf_add(&p->line, s, k, p->max_len);
      if (rc) return p->err = rc;
    }
    i += k;
    if (i >= len) break;
    char c = buf[i++];
    if (c == '\r') {
      if (i < len) {
        if (buf[i] == '\n') i++;
      } else {
        p->last_cr = 1;
      }
    }
    int rc = end_line(p);
    if (rc) return p->err = rc;
  }
  return SSE_OK;
}

int sse_finish(sse_t *p) {
  if (p->err) return p->err;
  if (p->line.len) {
    int rc = end_line(p);
    if (rc) return p->err = rc;
  }
  /* an event not terminated by a blank line is discarded */
  p->has_data = 0;
  p->evdata.len = 0;
  p->evdata.s[0] = '\0';
  return SSE_OK;
}
