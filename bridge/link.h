/* link: the OSC connection to the DAW, on the libuv loop.
 *
 * The link owns one UDP socket (bound to 127.0.0.1 by default: liblo 0.31 cannot bind a server to one address)
 * with SO_RCVBUF 4 MiB, watched by a uv_poll. Each datagram is received with recv() and handed to liblo
 * (lo_server_dispatch_data: bundles included, future timetags dispatched at once) which calls the message
 * callback. Outgoing messages are built with liblo and sent from the same socket, so a DAW that replies to the
 * sender (Ardour with /set_surface port 0) answers on our listening port.
 *
 * Only the DAW's word counts: a datagram whose source is not the DAW's address and port (link_set_daw) is dropped
 * before it is parsed and counted in link_stats.foreign; link_inject bypasses the check (fuzzing, tests).
 *
 * Health: the link records when it last heard the DAW. After `silence_ms` without a message it reports
 * LINK_EVENT_LOST (once); the next message reports LINK_EVENT_CONNECTED. While silent it calls the probe
 * callback every `probe_ms` so the owner can send something that makes the DAW answer.
 */
#ifndef DAWBRIDGE_LINK_H
#define DAWBRIDGE_LINK_H

#include <lo/lo.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct link link_t;

enum link_err {
  LINK_OK = 0,
  LINK_EINVAL = -1,  /* bad address or port */
  LINK_ESOCKET = -2, /* socket/bind failed (message says why) */
  LINK_ESEND = -3,   /* sendto failed */
  LINK_ENOMEM = -4,
  LINK_ETOOBIG = -5, /* message larger than a datagram */
};
const char *link_strerror(int code);

/* LINK_EVENT_REFUSED: the DAW's host said nothing listens at its port (ICMP port unreachable, seen through
 * IP_RECVERR); reported for every such error, so the owner can fail at once instead of waiting for a timeout. */
enum link_event { LINK_EVENT_CONNECTED = 1, LINK_EVENT_LOST = 2, LINK_EVENT_REFUSED = 3 };

struct link_config {
  const char *daw_host;    /* where the DAW listens; default "127.0.0.1" */
  int daw_port;            /* required */
  const char *listen_host; /* our socket's address; default "127.0.0.1" */
  int listen_port;         /* 0 = ephemeral */
  int silence_ms;          /* no message for this long = lost; default 3000 */
  int probe_ms;            /* probe interval while silent; default 1000; 0 disables probing */
  int any_source_port;     /* 1 = accept the DAW's address from any port (a DAW that sends from another socket than
                            * it listens on); default 0: address and port must both be the DAW's */
};

/* Called for every OSC message received (bundles unpacked). path/types/argv are borrowed for the call. */
typedef void (*link_message_cb)(const char *path, const char *types, lo_arg **argv, int argc, void *data);
typedef void (*link_event_cb)(enum link_event ev, void *data);
/* Called while the DAW is silent, every probe_ms: the owner sends whatever makes its DAW answer. */
typedef void (*link_probe_cb)(void *data);

struct link_callbacks {
  link_message_cb on_message;
  link_event_cb on_event; /* may be NULL */
  link_probe_cb on_probe; /* may be NULL */
  void *data;
};

int link_new(uv_loop_t *loop, const struct link_config *cfg, const struct link_callbacks *cb, link_t **out, char *err,
             size_t errlen);

/* Sends one message (not stolen: the caller frees it). */
int link_send(link_t *l, const char *path, lo_message m);
/* Convenience: lo_send-style typed varargs ("if", 1, 0.5f), like lo_message_add. */
int link_sendf(link_t *l, const char *path, const char *types, ...);

/* Points the link at another DAW address (e.g. an embedded mock whose port is known only after the link bound). */
int link_set_daw(link_t *l, const char *host, int port);

/* Handles one datagram as if it had arrived on the socket (same dispatch path). For fuzzing and tests. */
void link_inject(link_t *l, const void *datagram, size_t len);

int link_listen_port(const link_t *l);
int link_is_connected(const link_t *l);
uint64_t link_last_heard_ms(const link_t *l); /* uv_now() of the last message; 0 = never */

struct link_stats {
  unsigned long rx_datagrams, rx_messages, tx_messages, malformed;
  unsigned long foreign; /* datagrams from another address or port than the DAW's: dropped unread */
  unsigned long refused; /* ICMP "port unreachable" answers to our sends: nothing listens at the DAW's port */
};
void link_get_stats(const link_t *l, struct link_stats *st);

/* Stops and closes the handles; frees the link in the last close callback, then calls cb(data). */
void link_close(link_t *l, void (*cb)(void *data), void *data);

#endif
