/* surface: the OSC control-surface face (see surface.h). */
#include "surface.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errfmt.h"

#define SURFACE_IGNORED_MAX 256 /* distinct refused senders remembered (for "logged once") */
#define SURFACE_TRACK_MAX (LIVE_QUEUE_MAX + 8)
#define SURFACE_DGRAM_MAX 65536

struct tracked {
  int id; /* live request id, 0 = free slot */
  struct sockaddr_in to;
};

struct surface {
  uv_loop_t *loop;
  live_t *live;
  uv_udp_t udp;
  int sub;
  int port;
  struct surface_net nets[SURFACE_ALLOW_MAX];
  size_t nnets;
  int has_reply;
  struct sockaddr_in reply;
  struct tracked reqs[SURFACE_TRACK_MAX];
  int has_peer;
  struct sockaddr_in peer; /* the last allowed sender (or the reply address): gets request-less notices */
  uint32_t ignored[SURFACE_IGNORED_MAX];
  size_t nignored;
  int ignored_full_logged;
  struct surface_stats st;
  struct log_sink log;
  void (*close_cb)(void *data);
  void *close_data;
  char buf[SURFACE_DGRAM_MAX];
};

struct emit_ctx {
  surface_t *s;
  const struct sockaddr_in *to;
};

static void send_buf(const void *buf, size_t len, void *data) {
  struct emit_ctx *x = data;
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
  int rc = uv_udp_try_send(&x->s->udp, &b, 1, (const struct sockaddr *)x->to);
  if (rc < 0) {
    x->s->st.send_errors++;
    log_msg(&x->s->log, LOG_DEBUG, "surface", "reply not sent: %s", uv_strerror(rc));
  } else {
    x->s->st.replies++;
  }
}

static void reply_text(surface_t *s, const struct sockaddr_in *to, const char *path, const char *text) {
  struct emit_ctx x = {s, to};
  surface_encode_text(path, text, send_buf, &x);
}

static struct tracked *find_tracked(surface_t *s, int id) {
  for (size_t i = 0; i < SURFACE_TRACK_MAX; i++)
    if (s->reqs[i].id == id) return &s->reqs[i];
  return NULL;
}

static void track(surface_t *s, int id, const struct sockaddr_in *to) {
  struct tracked *t = find_tracked(s, 0);
  if (!t) { /* more requests of ours than the live queue holds: the oldest slot is reused */
    memmove(&s->reqs[0], &s->reqs[1], sizeof s->reqs - sizeof s->reqs[0]);
    t = &s->reqs[SURFACE_TRACK_MAX - 1];
  }
  t->id = id;
  t->to = *to;
}

static void on_event(const json_t *ev, void *data) {
  surface_t *s = data;
  const json_t *rq = json_object_get(ev, "request");
  if (json_is_integer(rq)) {
    struct tracked *t = find_tracked(s, (int)json_integer_value(rq));
    if (!t || !t->id) return; /* another client's request */
    struct sockaddr_in to = t->to;
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (type && !strcmp(type, "done")) t->id = 0;
    struct emit_ctx x = {s, &to};
    surface_encode_event(ev, send_buf, &x);
    return;
  }
  /* request-less events (connection, conversation, errors without a request): to the surface we last heard from */
  if (!s->has_peer) return;
  struct emit_ctx x = {s, &s->peer};
  surface_encode_event(ev, send_buf, &x);
}

static int ignored_before(surface_t *s, uint32_t a) {
  for (size_t i = 0; i < s->nignored; i++)
    if (s->ignored[i] == a) return 1;
  if (s->nignored < SURFACE_IGNORED_MAX) {
    s->ignored[s->nignored++] = a;
    return 0;
  }
  if (!s->ignored_full_logged) {
    s->ignored_full_logged = 1;
    log_msg(&s->log, LOG_WARN, "surface", "more than %d senders not on the allow-list: no longer logging them",
            SURFACE_IGNORED_MAX);
  }
  return 1;
}

static void handle(surface_t *s, const struct sockaddr_in *from, const char *data, size_t len) {
  const struct sockaddr_in *to = s->has_reply ? &s->reply : from;
  char err[512];
  struct surface_cmd cmd;
  int rc = surface_decode(data, len, &cmd, err, sizeof err);
  if (rc) {
    s->st.malformed++;
    log_msg(&s->log, LOG_DEBUG, "surface", "malformed message: %s", err);
    reply_text(s, to, "/dawbridge/error", err);
    return;
  }
  s->st.accepted++;
  s->peer = *to;
  s->has_peer = 1;
  char client[64], ip[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &from->sin_addr, ip, sizeof ip);
  snprintf(client, sizeof client, "surface:%s:%d", ip, ntohs(from->sin_port));
  struct live_request req = {.client = client};
  switch (cmd.op) {
  case SURFACE_IGNORE: break;
  case SURFACE_ASK:
  case SURFACE_UNDO:
  case SURFACE_NEW: {
    req.kind = cmd.op == SURFACE_ASK ? LIVE_ASK : cmd.op == SURFACE_UNDO ? LIVE_UNDO : LIVE_NEW;
    req.text = cmd.text;
    int id = live_submit(s->live, &req);
    if (id < 0) {
      snprintf(err, sizeof err, "request refused: %s", live_strerror(id));
      reply_text(s, to, "/dawbridge/error", err);
    } else {
      track(s, id, to);
      log_msg(&s->log, LOG_INFO, "surface", "%s: request %d (%s)", client, id,
              cmd.op == SURFACE_ASK    ? "ask"
              : cmd.op == SURFACE_UNDO ? "undo"
                                       : "new");
    }
    break;
  }
  case SURFACE_CANCEL: {
    int crc = live_cancel(s->live, 0);
    if (crc < 0) {
      snprintf(err, sizeof err, "nothing to cancel: %s", live_strerror(crc));
      reply_text(s, to, "/dawbridge/error", err);
    } else {
      reply_text(s, to, "/dawbridge/status", "cancelling: no further step is sent; the confirmed part is kept");
    }
    break;
  }
  case SURFACE_STATUS: {
    json_t *st = live_status(s->live);
    char text[SURFACE_SUMMARY_MAX];
    surface_status_text(st, text, sizeof text);
    json_decref(st);
    reply_text(s, to, "/dawbridge/status", text);
    break;
  }
  }
  surface_cmd_clear(&cmd);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  surface_t *s = h->data;
  *buf = uv_buf_init(s->buf, sizeof s->buf);
}

static void on_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags) {
  surface_t *s = u->data;
  if (nread < 0) {
    log_msg(&s->log, LOG_DEBUG, "surface", "receive error: %s", uv_strerror((int)nread));
    return;
  }
  if (!addr || addr->sa_family != AF_INET) return;
  const struct sockaddr_in *from = (const struct sockaddr_in *)addr;
  s->st.received++;
  if (!surface_net_allows(s->nets, s->nnets, from->sin_addr)) {
    s->st.ignored_senders++;
    if (!ignored_before(s, from->sin_addr.s_addr)) {
      char ip[INET_ADDRSTRLEN] = "?";
      inet_ntop(AF_INET, &from->sin_addr, ip, sizeof ip);
      log_msg(&s->log, LOG_WARN, "surface", "ignoring %s: not on the allow-list (--surface-allow); logged once", ip);
    }
    return;
  }
  if (flags & UV_UDP_PARTIAL) {
    s->st.malformed++;
    reply_text(s, s->has_reply ? &s->reply : from, "/dawbridge/error", "datagram too large");
    return;
  }
  handle(s, from, buf->base, (size_t)nread);
}

static void on_closed(uv_handle_t *h) {
  surface_t *s = h->data;
  void (*cb)(void *) = s->close_cb;
  void *data = s->close_data;
  free(s);
  if (cb) cb(data);
}

int surface_new(uv_loop_t *loop, live_t *live, const struct surface_config *cfg, surface_t **out, char *err,
                size_t errlen) {
  *out = NULL;
  if (cfg->port < 0 || cfg->port > 65535)
    return errfmt(err, errlen, SURFACE_EINVAL, "--surface-port must be 1-65535, not %d", cfg->port);
  surface_t *s = calloc(1, sizeof *s);
  if (!s) return errfmt(err, errlen, SURFACE_ENOMEM, "out of memory");
  s->loop = loop;
  s->live = live;
  s->log = cfg->log;
  int loopback_only = 1;
  for (size_t i = 0; cfg->allow && cfg->allow[i]; i++) {
    if (s->nnets == SURFACE_ALLOW_MAX) {
      free(s);
      return errfmt(err, errlen, SURFACE_EINVAL, "--surface-allow: at most %d entries", SURFACE_ALLOW_MAX);
    }
    int rc = surface_parse_net(cfg->allow[i], &s->nets[s->nnets], err, errlen);
    if (rc) {
      free(s);
      return rc;
    }
    const struct surface_net *n = &s->nets[s->nnets++];
    if ((n->addr & 0xFF000000u) != 0x7F000000u || (n->mask & 0xFF000000u) != 0xFF000000u) loopback_only = 0;
  }
  if (!s->nnets) {
    s->nets[0] = (struct surface_net){0x7F000000u, 0xFF000000u};
    s->nnets = 1;
  }
  if (cfg->reply) {
    int rc = surface_parse_hostport(cfg->reply, &s->reply, err, errlen);
    if (rc) {
      free(s);
      return rc;
    }
    s->has_reply = 1;
    s->peer = s->reply;
    s->has_peer = 1;
  }
  struct sockaddr_in a;
  uv_ip4_addr(loopback_only ? "127.0.0.1" : "0.0.0.0", cfg->port, &a);
  uv_udp_init(loop, &s->udp);
  s->udp.data = s;
  int rc = uv_udp_bind(&s->udp, (const struct sockaddr *)&a, 0);
  if (!rc) rc = uv_udp_recv_start(&s->udp, on_alloc, on_recv);
  if (rc) {
    errfmt(err, errlen, SURFACE_ESOCKET, "the surface port %s:%d cannot be opened: %s",
           loopback_only ? "127.0.0.1" : "0.0.0.0", cfg->port, uv_strerror(rc));
    uv_close((uv_handle_t *)&s->udp, on_closed); /* frees s; close_cb is NULL */
    return SURFACE_ESOCKET;
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  if (!uv_udp_getsockname(&s->udp, (struct sockaddr *)&bound, &blen))
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  if (!loopback_only)
    log_msg(&s->log, LOG_WARN, "surface",
            "listening on 0.0.0.0:%d for the allow-list: OSC has no authentication, anyone on those networks can "
            "send requests",
            s->port);
  s->sub = live_subscribe(live, on_event, s);
  log_msg(&s->log, LOG_INFO, "surface", "OSC control surface on udp port %d", s->port);
  *out = s;
  return SURFACE_OK;
}

int surface_port(const surface_t *s) { return s->port; }

void surface_get_stats(const surface_t *s, struct surface_stats *st) { *st = s->st; }

void surface_close(surface_t *s, void (*cb)(void *data), void *data) {
  if (!s) {
    if (cb) cb(data);
    return;
  }
  if (s->sub > 0) live_unsubscribe(s->live, s->sub);
  s->sub = 0;
  s->close_cb = cb;
  s->close_data = data;
  uv_close((uv_handle_t *)&s->udp, on_closed);
}
