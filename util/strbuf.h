/* strbuf: the one growable byte/string buffer (text and binary). A plain struct the caller owns, usually on the
 * stack: `strbuf_t b = STRBUF_INIT;`, appends, then strbuf_take() (the bytes become the caller's) or strbuf_reset().
 *
 * Out of memory is sticky: the first failed growth frees nothing, sets b->oom, and every later append does nothing;
 * strbuf_take() then frees the buffer and returns NULL. So a builder appends without checks and tests once at the
 * end. While not oom, b->s (when non-NULL) is always NUL-terminated after b->len bytes. No I/O, no globals. */
#ifndef DAWBRIDGE_STRBUF_H
#define DAWBRIDGE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
  char *s;    /* the bytes (owned; NULL until the first append) */
  size_t len; /* bytes in use, not counting the terminating NUL */
  size_t cap; /* bytes allocated */
  int oom;    /* an allocation failed: the content is incomplete */
} strbuf_t;

#define STRBUF_INIT                                                                                                    \
  { NULL, 0, 0, 0 }

/* Appends n bytes (any bytes, NULs included). */
void strbuf_append(strbuf_t *b, const void *data, size_t n);
/* Appends a C string (NULL appends nothing). */
void strbuf_puts(strbuf_t *b, const char *s);
void strbuf_putc(strbuf_t *b, char c);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void strbuf_appendf(strbuf_t *b, const char *fmt, ...);
void strbuf_vappendf(strbuf_t *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included (", \ and control characters escaped; other bytes as they
 * are, so UTF-8 passes through). NULL appends "". */
void strbuf_append_json_string(strbuf_t *b, const char *s);

/* Makes room for at least n more bytes (and the NUL); 0 on success, -1 (and oom) on failure. */
int strbuf_reserve(strbuf_t *b, size_t n);

/* The content as a NUL-terminated malloc'd string, owned by the caller ("" for an empty buffer); b is empty again
 * afterwards. NULL if an allocation failed at any point (the partial content is freed). If lenp, *lenp = length. */
char *strbuf_take(strbuf_t *b, size_t *lenp);
/* Frees the content; b is empty (and not oom) again. */
void strbuf_reset(strbuf_t *b);
/* Keeps the allocation, forgets the content (len = 0). */
void strbuf_clear(strbuf_t *b);

#endif
