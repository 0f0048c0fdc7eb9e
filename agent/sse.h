/* sse.h — incremental Server-Sent Events parser (WHATWG "event stream" rules).
 *
 * Feed arbitrary byte slices with sse_feed(); complete events are dispatched
 * through the callback when a blank line ends them. Handles the fields event,
 * data (multi-line, joined with '\n'), id and retry, comment lines starting
 * with ':', a leading UTF-8 BOM, and line ends "\n", "\r" and "\r\n" — also when
 * a "\r\n" pair is split across two slices. Used by both LLM providers.
 */
#ifndef DAWBRIDGE_SSE_H
#define DAWBRIDGE_SSE_H

#include <stddef.h>

enum sse_err {
  SSE_OK = 0,
  SSE_ENOMEM = -1,
  SSE_ETOOLONG = -2, /* a line or an event's data exceeded the limit */
  SSE_ESTOPPED = -3, /* the callback asked to stop */
};
const char *sse_strerror(int err);

struct sse_event {
  const char *event; /* event type; "message" when the stream gave none */
  const char *data;  /* NUL-terminated, trailing '\n' removed */
  size_t data_len;
  const char *id; /* last event id seen so far ("" if none) */
  long retry_ms;  /* last valid retry value, -1 if none */
};

/* Return 0 to continue, non-zero to stop parsing (sse_feed returns SSE_ESTOPPED).
 * Pointers in ev are borrowed: valid only during the call. */
typedef int (*sse_event_cb)(const struct sse_event *ev, void *data);

typedef struct sse sse_t;

/* max_len: limit for one line and for one event's data; 0 = 16 MiB. NULL on ENOMEM. */
sse_t *sse_new(size_t max_len, sse_event_cb cb, void *data);
void sse_free(sse_t *p);

/* Parse len bytes. Returns SSE_OK or a negative sse_err; after an error the parser
 * stays in error state and ignores further input. */
int sse_feed(sse_t *p, const char *buf, size_t len);

/* End of stream: an unterminated last line is processed as if ended, but an event not
 * ended by a blank line is discarded (per the spec). Returns SSE_OK or an error. */
int sse_finish(sse_t *p);

/* Count of events dispatched so far. */
size_t sse_count(const sse_t *p);

#endif
