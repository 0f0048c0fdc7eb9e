/* osc_client.c — see osc_client.h */
#include "osc_client.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct osc_client {
  uv_loop_t *loop;
  uv_udp_t udp;
  uv_timer_t timer;
  int port;
  int timed_out;
  int closing, pending;
  struct osc_rx *rx;
  size_t n, cap;
  unsigned packets;
  char buf[65536];
  void (*close_cb)(void *);
  void *close_data;
};

static void add_msg(osc_client_t *c, unsigned char *data, size_t len, int bundled, int port, size_t plen) {
  int res = 0;
  lo_message m = lo_message_deserialise(data, len, &res);
  if (!m) return;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 256;
    c->rx = realloc(c->rx, sizeof *c->rx * c->cap);
  }
  struct osc_rx *r = &c->rx[c->n++];
  r->path = strdup((const char *)data);
  const char *t = lo_message_get_types(m);
  r->types = strdup(t ? t : "");
  r->argc = lo_message_get_argc(m);
  r->argv = lo_message_get_argv(m);
  r->packet = c->packets;
  r->bundled = bundled;
  r->src_port = port;
  r->packet_len = plen;
  r->msg = m;
}

static uint32_t rd32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void on_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)s;
  osc_client_t *c = h->data;
  *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  osc_client_t *c = h->data;
  if (nread <= 0 || !addr) return;
  int port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
  unsigned char *d = (unsigned char *)buf->base;
  size_t len = (size_t)nread;
  if (len >= 16 && memcmp(d, "#bundle", 8) == 0) {
    size_t off = 16;
    while (off + 4 <= len) {
      uint32_t el = rd32(d + off);
      off += 4;
      if (el > len - off) break;
      add_msg(c, d + off, el, 1, port, len);
      off += el;
    }
  } else {
    add_msg(c, d, len, 0, port, len);
  }
  c->packets++;
}

int osc_client_new(uv_loop_t *loop, int port, osc_client_t **out) {
  osc_client_t *c = calloc(1, sizeof *c);
  if (!c) return UV_ENOMEM;
  c->loop = loop;
  uv_udp_init(loop, &c->udp);
  uv_timer_init(loop, &c->timer);
  c->udp.data = c->timer.data = c;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  int r = uv_udp_bind(&c->udp, (const struct sockaddr *)&a, 0);
  if (r) {
    *out = NULL;
    osc_client_close(c, NULL, NULL);
    return r;
  }
  int sz = 4 << 20;
  uv_recv_buffer_size((uv_handle_t *)&c->udp, &sz);
  struct sockaddr_in got;
  int gl = sizeof got;
  uv_udp_getsockname(&c->udp, (struct sockaddr *)&got, &gl);
  c->port = ntohs(got.sin_port);
  uv_udp_recv_start(&c->udp, on_alloc, on_recv);
  *out = c;
  return 0;
}

int osc_client_port(const osc_client_t *c) { return c->port; }

int osc_client_send_raw(osc_client_t *c, int port, const void *buf, size_t len) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int r = uv_udp_try_send(&c->udp, &b, 1, (const struct sockaddr *)&a);
  return r < 0 ? r : 0;
}

lo_message osc_message_vnew(const char *types, va_list ap) {
  lo_message m = lo_message_new();
  for (const char *t = types; m && *t; t++) {
    switch (*t) {
    case 'i': lo_message_add_int32(m, va_arg(ap, int)); break;
    case 'f': lo_message_add_float(m, (float)va_arg(ap, double)); break;
    case 's': lo_message_add_string(m, va_arg(ap, const char *)); break;
    case 'h': lo_message_add_int64(m, va_arg(ap, int64_t)); break;
    case 'd': lo_message_add_double(m, va_arg(ap, double)); break;
    case 'T': lo_message_add_true(m); break;
    case 'F': lo_message_add_false(m); break;
    case 'N': lo_message_add_nil(m); break;
    default: lo_message_free(m); return NULL;
    }
  }
  return m;
}

int osc_client_send(osc_client_t *c, int port, const char *path, const char *types, ...) {
  va_list ap;
  va_start(ap, types);
  lo_message m = osc_message_vnew(types, ap);
  va_end(ap);
  if (!m) return -1;
  size_t len = 0;
  void *data = lo_message_serialise(m, path, NULL, &len);
  lo_message_free(m);
  if (!data) return -1;
  int r = osc_client_send_raw(c, port, data, len);
  free(data);
  return r;
}

/* liblo packs arguments on 4-byte boundaries: copy them out (a direct load is misaligned, UBSan reports it) */
#define OSC_RX_GETTER(name, type)                                                                                      \
  type name(const struct osc_rx *r, int k) {                                                                           \
    type v;                                                                                                            \
    memcpy(&v, r->argv[k], sizeof v);                                                                                  \
    return v;                                                                                                          \
  }
OSC_RX_GETTER(osc_rx_i, int32_t)
OSC_RX_GETTER(osc_rx_f, float)
OSC_RX_GETTER(osc_rx_h, int64_t)
OSC_RX_GETTER(osc_rx_d, double)
const char *osc_rx_s(const struct osc_rx *r, int k) { return (const char *)r->argv[k]; }

size_t osc_client_count(const osc_client_t *c) { return c->n; }
unsigned osc_client_packets(const osc_client_t *c) { return c->packets; }
const struct osc_rx *osc_client_get(const osc_client_t *c, size_t i) { return i < c->n ? &c->rx[i] : NULL; }

size_t osc_client_find_index(const osc_client_t *c, const char *path, size_t from) {
  for (size_t i = from; i < c->n; i++)
    if (!strcmp(c->rx[i].path, path)) return i;
  return SIZE_MAX;
}
const struct osc_rx *osc_client_find(const osc_client_t *c, const char *path, size_t from) {
  size_t i = osc_client_find_index(c, path, from);
  return i == SIZE_MAX ? NULL : &c->rx[i];
}
const struct osc_rx *osc_client_last(const osc_client_t *c, const char *path) {
  for (size_t i = c->n; i-- > 0;)
    if (!strcmp(c->rx[i].path, path)) return &c->rx[i];
  return NULL;
}
size_t osc_client_count_path(const osc_client_t *c, const char *path) {
  size_t k = 0;
  for (size_t i = 0; i < c->n; i++) k += !strcmp(c->rx[i].path, path);
  return k;
}

void osc_client_clear(osc_client_t *c) {
  for (size_t i = 0; i < c->n; i++) {
    free(c->rx[i].path);
    free(c->rx[i].types);
    lo_message_free(c->rx[i].msg);
  }
  c->n = 0;
}

static void on_timeout(uv_timer_t *t) {
  osc_client_t *c = t->data;
  c->timed_out = 1;
}

int osc_client_wait(osc_client_t *c, int (*pred)(osc_client_t *, void *), void *data, int timeout_ms) {
  if (pred && pred(c, data)) return 1;
  c->timed_out = 0;
  uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0);
  int ok = 0;
  while (!c->timed_out) {
    uv_run(c->loop, UV_RUN_ONCE);
    if (pred && pred(c, data)) {
      ok = 1;
      break;
    }
  }
  uv_timer_stop(&c->timer);
  return ok;
}

static int has_path(osc_client_t *c, void *d) { return osc_client_find(c, d, 0) != NULL; }
int osc_client_wait_path(osc_client_t *c, const char *path, int timeout_ms) {
  return osc_client_wait(c, has_path, (void *)path, timeout_ms);
}
static int has_count(osc_client_t *c, void *d) { return c->n >= *(size_t *)d; }
int osc_client_wait_count(osc_client_t *c, size_t n, int timeout_ms) {
  return osc_client_wait(c, has_count, &n, timeout_ms);
}
void osc_client_run_for(osc_client_t *c, int ms) { osc_client_wait(c, NULL, NULL, ms); }

static void on_closed(uv_handle_t *h) {
  osc_client_t *c = h->data;
  if (--c->pending) return;
  void (*cb)(void *) = c->close_cb;
  void *d = c->close_data;
  osc_client_clear(c);
  free(c->rx);
  free(c);
  if (cb) cb(d);
}

void osc_client_close(osc_client_t *c, void (*cb)(void *), void *data) {
  if (!c || c->closing) return;
  c->closing = 1;
  c->close_cb = cb;
  c->close_data = data;
  c->pending = 2;
  uv_close((uv_handle_t *)&c->udp, on_closed);
  uv_close((uv_handle_t *)&c->timer, on_closed);
}

void osc_client_dump(const osc_client_t *c) {
  for (size_t i = 0; i < c->n; i++) {
    const struct osc_rx *r = &c->rx[i];
    fprintf(stderr, "[%zu p%u%s] %s %s", i, r->packet, r->bundled ? " b" : "", r->path, r->types);
    for (int k = 0; k < r->argc; k++) {
      switch (r->types[k]) {
      case 'i': fprintf(stderr, " %d", osc_rx_i(r, k)); break;
      case 'f': fprintf(stderr, " %g", osc_rx_f(r, k)); break;
      case 'h': fprintf(stderr, " %lld", (long long)osc_rx_h(r, k)); break;
      case 'd': fprintf(stderr, " %g", osc_rx_d(r, k)); break;
      case 's': fprintf(stderr, " \"%s\"", osc_rx_s(r, k)); break;
      default: fprintf(stderr, " ?"); break;
      }
    }
    fputc('\n', stderr);
  }
}
