/* link: OSC over our own UDP socket on the libuv loop; liblo only (de)serialises and dispatches.
 * Why this shape: docs/osc-performance.md measured recv()+lo_server_dispatch_data at 0.84x raw receive capacity,
 * against 0.30x for lo_server_recv_noblock; and liblo 0.31 cannot bind to 127.0.0.1. */
#include "link.h"
#include "errfmt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RCVBUF_BYTES (4 * 1024 * 1024)
#define MAX_DATAGRAM 65536
#define DRAIN_BUDGET 512 /* datagrams per wakeup, so one burst cannot starve the loop's other work */

struct link {
  uv_loop_t *loop;
  uv_poll_t poll;
  uv_timer_t health;
  int fd;
  lo_server srv;
  struct sockaddr_in daw;
  int listen_port;
  struct link_callbacks cb;
  int silence_ms, probe_ms, any_source_port;
  uint64_t last_heard, last_probe;
  int connected; /* 1 after a message, 0 after silence */
  int reported_lost;
  struct link_stats st;
  unsigned char *buf;
  int closing, pending_closes;
  void (*close_cb)(void *);
  void *close_data;
};

const char *link_strerror(int code) {
  switch (code) {
  case LINK_OK: return "ok";
  case LINK_EINVAL: return "invalid address or port";
  case LINK_ESOCKET: return "cannot open the OSC socket";
  case LINK_ESEND: return "cannot send to the DAW";
  case LINK_ENOMEM: return "out of memory";
  case LINK_ETOOBIG: return "OSC message too large for one datagram";
  default: return "unknown link error";
  }
}

static int dispatch_cb(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg, void *data) {
  link_t *l = data;
  (void)msg;
  l->st.rx_messages++;
  if (l->cb.on_message) l->cb.on_message(path, types ? types : "", argv, argc, l->cb.data);
  return 0;
}

static void lo_err_silent(int num, const char *msg, const char *where) {
  /* liblo reports malformed packets here; the link counts them from the dispatch result instead. There is no
   * user data on this callback, so it cannot reach the link. */
  (void)num, (void)msg, (void)where;
}

static void heard(link_t *l) {
  l->last_heard = uv_now(l->loop);
  if (!l->connected) {
    l->connected = 1;
    l->reported_lost = 0;
    if (l->cb.on_event) l->cb.on_event(LINK_EVENT_CONNECTED, l->cb.data);
  }
}

static void handle_datagram(link_t *l, void *data, size_t n) {
  l->st.rx_datagrams++;
  unsigned long before = l->st.rx_messages;
  int r = lo_server_dispatch_data(l->srv, data, n);
  if (r < 0 || (l->st.rx_messages == before && r <= 0)) {
    l->st.malformed++;
    return;
  }
  heard(l);
}

/* Reads the socket's error queue (IP_RECVERR): an ICMP "port unreachable" from the DAW's address means nothing
 * listens there. Returns 1 when one was read. */
static int read_error_queue(link_t *l) {
  char cbuf[512];
  unsigned char dummy[64];
  struct sockaddr_in from;
  struct iovec iov = {.iov_base = dummy, .iov_len = sizeof dummy};
  struct msghdr mh = {.msg_name = &from,
                      .msg_namelen = sizeof from,
                      .msg_iov = &iov,
                      .msg_iovlen = 1,
                      .msg_control = cbuf,
                      .msg_controllen = sizeof cbuf};
  if (recvmsg(l->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_RECVERR) continue;
    struct sock_extended_err ee;
    memcpy(&ee, CMSG_DATA(c), sizeof ee);
    /* the original destination is in msg_name: only our DAW's port counts */
    if (ee.ee_errno == ECONNREFUSED && from.sin_port == l->daw.sin_port &&
        from.sin_addr.s_addr == l->daw.sin_addr.s_addr) {
      l->st.refused++;
      if (l->cb.on_event) l->cb.on_event(LINK_EVENT_REFUSED, l->cb.data);
    }
  }
  return 1;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  link_t *l = h->data;
  if (status < 0) {
    /* POLLERR: an ICMP error is queued (IP_RECVERR). libuv stopped the poll: read the error, then watch again */
    if (l->closing) return;
    while (!l->closing && read_error_queue(l)) {}
    if (l->closing) return;
    uv_poll_start(&l->poll, UV_READABLE, on_readable);
    events = UV_READABLE;
  }
  if (!(events & UV_READABLE)) return;
  for (int i = 0; i < DRAIN_BUDGET && !l->closing; i++) {
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(l->fd, l->buf, MAX_DATAGRAM, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) {
        while (!l->closing && read_error_queue(l)) {}
        continue;
      }
      break; /* EAGAIN: drained */
    }
    if (n == 0) continue;
    /* only the DAW's word counts: anything from another address or port is dropped unread */
    if (flen < sizeof from || from.sin_family != AF_INET || (!l->any_source_port && from.sin_port != l->daw.sin_port) ||
        from.sin_addr.s_addr != l->daw.sin_addr.s_addr) {
      l->st.foreign++;
      continue;
    }
    handle_datagram(l, l->buf, (size_t)n);
  }
}

void link_inject(link_t *l, const void *datagram, size_t len) {
  if (l->closing || len == 0 || len > MAX_DATAGRAM) return;
  /* liblo may write into the buffer while dispatching: work on our own copy */
  memcpy(l->buf, datagram, len);
  handle_datagram(l, l->buf, len);
}

static void on_health(uv_timer_t *t) {
  link_t *l = t->data;
  uint64_t now = uv_now(l->loop);
  if (l->connected && l->last_heard && now - l->last_heard >= (uint64_t)l->silence_ms) {
    l->connected = 0;
    if (!l->reported_lost) {
      l->reported_lost = 1;
      if (l->cb.on_event) l->cb.on_event(LINK_EVENT_LOST, l->cb.data);
    }
  }
  if (l->probe_ms > 0 && l->cb.on_probe) {
    uint64_t since_heard = l->last_heard ? now - l->last_heard : UINT64_MAX;
    if (since_heard >= (uint64_t)l->probe_ms && now - l->last_probe >= (uint64_t)l->probe_ms) {
      l->last_probe = now;
      l->cb.on_probe(l->cb.data);
    }
  }
}

static int open_socket(link_t *l, const struct link_config *cfg, char *err, size_t errlen) {
  const char *lh = cfg->listen_host ? cfg->listen_host : "127.0.0.1";
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->listen_port)};
  if (inet_pton(AF_INET, lh, &a.sin_addr) != 1)
    return errfmt(err, errlen, LINK_EINVAL, "listen address '%s' is not an IPv4 address", lh);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return errfmt(err, errlen, LINK_ESOCKET, "socket: %s", strerror(errno));
  int sz = RCVBUF_BYTES;
  /* best effort: the kernel caps it at rmem_max; refresh dumps are bursts and the default ~208 KB loses some */
  (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  /* ICMP errors (nothing listening at the DAW's port) reach an unconnected socket only through its error queue */
  int on = 1;
  (void)setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    int e = errno;
    close(fd);
    return errfmt(err, errlen, LINK_ESOCKET, "cannot listen on %s:%d: %s", lh, cfg->listen_port, strerror(e));
  }
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  l->fd = fd;
  l->listen_port = ntohs(a.sin_port);
  return 0;
}

int link_new(uv_loop_t *loop, const struct link_config *cfg, const struct link_callbacks *cb, link_t **out, char *err,
             size_t errlen) {
  *out = NULL;
  if (!cfg || cfg->daw_port <= 0 || cfg->daw_port > 65535 || cfg->listen_port < 0 || cfg->listen_port > 65535)
    return errfmt(err, errlen, LINK_EINVAL, "DAW port must be 1-65535 and listen port 0-65535");
  link_t *l = calloc(1, sizeof *l);
  if (!l) return errfmt(err, errlen, LINK_ENOMEM, "out of memory");
  l->loop = loop;
  l->cb = *cb;
  l->fd = -1;
  l->silence_ms = cfg->silence_ms > 0 ? cfg->silence_ms : 3000;
  l->any_source_port = cfg->any_source_port;
  l->probe_ms = cfg->probe_ms >= 0 ? (cfg->probe_ms ? cfg->probe_ms : 1000) : 0;
  const char *dh = cfg->daw_host ? cfg->daw_host : "127.0.0.1";
  l->daw.sin_family = AF_INET;
  l->daw.sin_port = htons((uint16_t)cfg->daw_port);
  if (inet_pton(AF_INET, dh, &l->daw.sin_addr) != 1) {
    free(l);
    return errfmt(err, errlen, LINK_EINVAL, "DAW address '%s' is not an IPv4 address", dh);
  }
  l->buf = malloc(MAX_DATAGRAM);
  if (!l->buf) {
    free(l);
    return errfmt(err, errlen, LINK_ENOMEM, "out of memory");
  }
  int rc = open_socket(l, cfg, err, errlen);
  if (rc) {
    free(l->buf);
    free(l);
    return rc;
  }
  /* A liblo server only for dispatch. It opens its own 0.0.0.0 socket; we put ours in its place with dup2 so no
   * wildcard socket stays open, and never let liblo read from it. */
  l->srv = lo_server_new_with_proto(NULL, LO_UDP, lo_err_silent);
  if (!l->srv) {
    close(l->fd);
    free(l->buf);
    free(l);
    return errfmt(err, errlen, LINK_ESOCKET, "liblo could not create its dispatcher");
  }
  int lfd = lo_server_get_socket_fd(l->srv);
  if (lfd >= 0) dup2(l->fd, lfd);
  lo_server_enable_queue(l->srv, 0, 1); /* dispatch bundles at once, whatever their timetag */
  lo_server_add_method(l->srv, NULL, NULL, dispatch_cb, l);
  uv_poll_init(loop, &l->poll, l->fd);
  l->poll.data = l;
  uv_poll_start(&l->poll, UV_READABLE, on_readable);
  uv_timer_init(loop, &l->health);
  l->health.data = l;
  int tick = l->probe_ms > 0 && l->probe_ms < l->silence_ms ? l->probe_ms : l->silence_ms;
  tick = tick / 4 > 10 ? tick / 4 : 10;
  uv_timer_start(&l->health, on_health, (uint64_t)tick, (uint64_t)tick);
  l->last_probe = uv_now(loop);
  *out = l;
  return LINK_OK;
}

int link_send(link_t *l, const char *path, lo_message m) {
  size_t len = 0;
  void *data = lo_message_serialise(m, path, NULL, &len);
  if (!data) return LINK_ENOMEM;
  if (len > MAX_DATAGRAM - 8) {
    free(data);
    return LINK_ETOOBIG;
  }
  ssize_t n;
  do {
    n = sendto(l->fd, data, len, 0, (struct sockaddr *)&l->daw, sizeof l->daw);
  } while (n < 0 && errno == EINTR);
  free(data);
  if (n < 0) return errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED ? LINK_OK : LINK_ESEND;
  l->st.tx_messages++;
  return LINK_OK;
}

int link_sendf(link_t *l, const char *path, const char *types, ...) {
  lo_message m = lo_message_new();
  if (!m) return LINK_ENOMEM;
  va_list ap;
  va_start(ap, types);
  for (const char *t = types; t && *t; t++) {
    switch (*t) {
    case 'i': lo_message_add_int32(m, va_arg(ap, int32_t)); break;
    case 'f': lo_message_add_float(m, (float)va_arg(ap, double)); break;
    case 's': lo_message_add_string(m, va_arg(ap, const char *)); break;
    case 'd': lo_message_add_double(m, va_arg(ap, double)); break;
    case 'h': lo_message_add_int64(m, va_arg(ap, int64_t)); break;
    default:
      va_end(ap);
      lo_message_free(m);
      return LINK_EINVAL;
    }
  }
  va_end(ap);
  int rc = link_send(l, path, m);
  lo_message_free(m);
  return rc;
}

int link_set_daw(link_t *l, const char *host, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, host ? host : "127.0.0.1", &a.sin_addr) != 1) return LINK_EINVAL;
  l->daw = a;
  return LINK_OK;
}

int link_listen_port(const link_t *l) { return l->listen_port; }
int link_is_connected(const link_t *l) { return l->connected; }
uint64_t link_last_heard_ms(const link_t *l) { return l->last_heard; }
void link_get_stats(const link_t *l, struct link_stats *st) { *st = l->st; }

static void on_closed(uv_handle_t *h) {
  link_t *l = h->data;
  if (--l->pending_closes) return;
  void (*cb)(void *) = l->close_cb;
  void *data = l->close_data;
  /* lo_server_free closes the fd it holds, which is our dup; close our own descriptor too */
  lo_server_free(l->srv);
  close(l->fd);
  free(l->buf);
  free(l);
  if (cb) cb(data);
}

void link_close(link_t *l, void (*cb)(void *data), void *data) {
  if (!l || l->closing) return;
  l->closing = 1;
  l->close_cb = cb;
  l->close_data = data;
  l->pending_closes = 2;
  uv_poll_stop(&l->poll);
  uv_timer_stop(&l->health);
  uv_close((uv_handle_t *)&l->poll, on_closed);
  uv_close((uv_handle_t *)&l->health, on_closed);
}
