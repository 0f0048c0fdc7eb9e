/* surface: the OSC control-surface face of the live session (DESIGN.md "Surface API"; wire format in
 * surface_codec.h). A UDP port of its own on the loop (uv_udp; liblo only as the codec). A datagram from a sender
 * on the allow-list becomes a live request (client "surface:ADDR:PORT"); the events of that request go back to
 * the sender's address and port, or to the configured reply address. Senders not on the allow-list are dropped
 * unread and logged once per address. Malformed or unknown messages are answered with /dawbridge/error.
 *
 *   surface_new(loop, live, &cfg, &s, err, errlen) → ... → surface_close(s, cb, data)
 *
 * The surface subscribes to the live session's events (live_subscribe) and must be closed before the live
 * session (it unsubscribes in surface_close). The live_t is borrowed.
 */
#ifndef DAWBRIDGE_SURFACE_H
#define DAWBRIDGE_SURFACE_H

#include <netinet/in.h>
#include <uv.h>

#include "live.h"
#include "log.h"
#include "surface_codec.h"

typedef struct surface surface_t;

#define SURFACE_ALLOW_MAX 32

struct surface_config {
  int port;                 /* UDP port (1-65535; 0 = any free port, see surface_port) */
  const char *const *allow; /* NULL-terminated list of "A.B.C.D[/BITS]"; NULL or empty = 127.0.0.0/8 */
  const char *reply;        /* "HOST:PORT" every answer goes to; NULL = the sender of the request */
  struct log_sink log;
};

/* Binds 127.0.0.1:port — or 0.0.0.0:port when the allow-list names a non-loopback network (logged as a warning:
 * OSC has no authentication) — and starts receiving. Errors: SURFACE_EINVAL (a bad allow entry or reply
 * address, message names it), SURFACE_ESOCKET (port in use ...), SURFACE_ENOMEM. */
int surface_new(uv_loop_t *loop, live_t *live, const struct surface_config *cfg, surface_t **out, char *err,
                size_t errlen);
/* The bound port (useful with port 0). */
int surface_port(const surface_t *s);

struct surface_stats {
  unsigned long received, accepted, malformed, ignored_senders, replies, send_errors;
};
void surface_get_stats(const surface_t *s, struct surface_stats *st);

/* Unsubscribes, closes the socket, frees s in the close callback, then cb(data). */
void surface_close(surface_t *s, void (*cb)(void *data), void *data);

#endif
