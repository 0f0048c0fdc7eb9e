/* strbuf: growable byte buffer. See strbuf.h. */
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int strbuf_reserve(strbuf_t *b, size_t n) {
  if (b->oom) return -1;
  if (n >= (size_t)-1 - b->len) {
    b->oom = 1;
    return -1;
  }
  size_t need = b->len + n + 1;
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > (size_t)-1 / 2 ? need : cap * 2;
  char *s = realloc(b->s, cap);
  if (!s) {
    b->oom = 1;
    return -1;
  }
  b->s = s;
  b->cap = cap;
  return 0;
}

void strbuf_append(strbuf_t *b, const void *data, size_t n) {
  if (strbuf_reserve(b, n)) return;
  if (n) memcpy(b->s + b->len, data, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void strbuf_puts(strbuf_t *b, const char *s) {
  if (s) strbuf_append(b, s, strlen(s));
}

void strbuf_putc(strbuf_t *b, char c) { strbuf_append(b, &c, 1); }

void strbuf_vappendf(strbuf_t *b, const char *fmt, va_list ap) {
  if (b->oom) return;
  va_list again;
  va_copy(again, ap);
  size_t room = b->cap > b->len ? b->cap - b->len : 0;
  int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
  if (n < 0) {
    /* an encoding error: nothing is appended (keep the terminator where it was) */
    if (b->s) b->s[b->len] = '\0';
    va_end(again);
    return;
  }
  if (b->s && (size_t)n < room) {
    b->len += (size_t)n;
    va_end(again);
    return;
  }
  if (!strbuf_reserve(b, (size_t)n)) {
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, again);
    b->len += (size_t)n;
  }
  va_end(again);
}

void strbuf_appendf(strbuf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  strbuf_vappendf(b, fmt, ap);
  va_end(ap);
}

void strbuf_append_json_string(strbuf_t *b, const char *s) {
  strbuf_putc(b, '"');
  for (const char *p = s ? s : ""; *p;) {
    const char *q = p;
    while (*q && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
    strbuf_append(b, p, (size_t)(q - p));
    if (!*q) break;
    switch (*q) {
    case '"': strbuf_puts(b, "\\\""); break;
    case '\\': strbuf_puts(b, "\\\\"); break;
    case '\n': strbuf_puts(b, "\\n"); break;
    case '\r': strbuf_puts(b, "\\r"); break;
    case '\t': strbuf_puts(b, "\\t"); break;
    default: strbuf_appendf(b, "\\u%04x", (unsigned)(unsigned char)*q); break;
    }
    p = q + 1;
  }
  strbuf_putc(b, '"');
}

char *strbuf_take(strbuf_t *b, size_t *lenp) {
  if (lenp) *lenp = 0;
  if (b->oom) {
    strbuf_reset(b);
    return NULL;
  }
  char *s = b->s;
  size_t len = b->len;
  if (!s && !(s = calloc(1, 1))) return NULL;
  b->s = NULL;
  b->len = b->cap = 0;
  if (lenp) *lenp = len;
  return s;
}

void strbuf_reset(strbuf_t *b) {
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

void strbuf_clear(strbuf_t *b) {
  b->len = 0;
  if (b->s) b->s[0] = '\0';
}
