/* osc_client.h — a tiny OSC test client on a libuv loop (uv_udp_t socket on 127.0.0.1, liblo to decode).
 *
 * Link the CMake target dbtest_osc_client (defined in mock-daw/mock.cmake); include "osc_client.h".
 *
 * Typical use in a test:
 *   osc_client_t *c;  osc_client_new(loop, 0, &c);           // bind 127.0.0.1:<ephemeral>
 *   osc_client_send(c, port, "/strip/gain", "if", 1, -6.0);    // args: i int, f double, s char*, h int64_t, d double
 *   assert_true(osc_client_wait_path(c, "/strip/gain", 2000)); // runs the loop until it arrives (or 2 s)
 *   const struct osc_rx *r = osc_client_find(c, "/strip/gain", 0);  osc_rx_f(r, 1) ...
 *   osc_client_close(c, NULL, NULL);  uv_run(loop, UV_RUN_DEFAULT);  uv_loop_close(loop) == 0
 *
 * Every received message is kept (bundles are unpacked; each message records its packet number and whether it came
 * in a bundle) until osc_client_clear().  Waiting runs the loop with UV_RUN_ONCE plus a deadline timer, so other
 * handles on the same loop (e.g. an in-process mock) keep working while the test waits.  No threads. */
#ifndef DAWBRIDGE_OSC_CLIENT_H
#define DAWBRIDGE_OSC_CLIENT_H

#include <lo/lo.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct osc_client osc_client_t;

struct osc_rx {
  char *path;  /* address */
  char *types; /* type tags without the comma ("" for none) */
  int argc;
  lo_arg **argv;     /* raw liblo argument pointers (owned by the client); read them with osc_rx_*() */
  unsigned packet;   /* 0-based number of the datagram it came in */
  int bundled;       /* 1 if it came inside a #bundle */
  size_t packet_len; /* size of that datagram in bytes */
  int src_port;      /* sender's UDP port */
  lo_message msg;    /* owned */
};

/* Argument k of a received message (the caller checks r->types[k]); use these rather than r->argv[k]->x, which is
 * a misaligned access that UBSan reports (liblo packs arguments on 4-byte boundaries). */
int32_t osc_rx_i(const struct osc_rx *r, int k);
float osc_rx_f(const struct osc_rx *r, int k);
int64_t osc_rx_h(const struct osc_rx *r, int k);
double osc_rx_d(const struct osc_rx *r, int k);
const char *osc_rx_s(const struct osc_rx *r, int k);

/* Binds 127.0.0.1:port (0 = ephemeral), SO_RCVBUF 4 MiB. Returns 0 or a negative libuv error. */
int osc_client_new(uv_loop_t *loop, int port, osc_client_t **out);
int osc_client_port(const osc_client_t *c);
/* Sends one message to 127.0.0.1:port. Returns 0 or a negative error. */
int osc_client_send(osc_client_t *c, int port, const char *path, const char *types, ...);
/* A liblo message from type tags and C values, as osc_client_send takes them ('N' adds a nil too). New message
 * (lo_message_free), or NULL for an unknown tag. */
lo_message osc_message_vnew(const char *types, va_list ap);
/* Sends raw bytes (for malformed packets and hand-made bundles). */
int osc_client_send_raw(osc_client_t *c, int port, const void *buf, size_t len);

size_t osc_client_count(const osc_client_t *c);
unsigned osc_client_packets(const osc_client_t *c);                   /* datagrams received */
const struct osc_rx *osc_client_get(const osc_client_t *c, size_t i); /* borrowed; NULL if out of range */
/* first message with this path at index >= from (NULL if none); *index (optional) gets its index */
const struct osc_rx *osc_client_find(const osc_client_t *c, const char *path, size_t from);
size_t osc_client_find_index(const osc_client_t *c, const char *path, size_t from); /* SIZE_MAX if none */
/* the LAST message with this path (NULL if none) */
const struct osc_rx *osc_client_last(const osc_client_t *c, const char *path);
size_t osc_client_count_path(const osc_client_t *c, const char *path);
void osc_client_clear(osc_client_t *c);

/* Runs the loop until pred(c, data) is true (returns 1) or timeout_ms passes (returns 0). */
int osc_client_wait(osc_client_t *c, int (*pred)(osc_client_t *c, void *data), void *data, int timeout_ms);
/* true at once if ANY stored message has this path (also one from before): osc_client_clear() first, or use
 * osc_client_count_path() with a custom predicate, to wait for a new one */
int osc_client_wait_path(osc_client_t *c, const char *path, int timeout_ms);
int osc_client_wait_count(osc_client_t *c, size_t n, int timeout_ms); /* at least n messages */
/* Runs the loop for ms milliseconds (collects whatever arrives). */
void osc_client_run_for(osc_client_t *c, int ms);

/* Closes the socket and timer; frees in the close callbacks; then cb(data) (cb may be NULL). */
void osc_client_close(osc_client_t *c, void (*cb)(void *data), void *data);

/* Prints the received messages to stderr (debugging). */
void osc_client_dump(const osc_client_t *c);

#endif
