/* ctl_client: the control socket client (see ctl_client.h). */
#include "ctl_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct ctl_client {
  uv_pipe_t pipe;
  uv_connect_t creq;
  struct ctl_client_callbacks cb;
  strbuf_t in; /* read and not yet handled */
  int connected, closing, failed;
  void (*close_cb)(void *);
  void *close_data;
};

struct cwr {
  uv_write_t req;
  char data[];
};

static void on_closed(uv_handle_t *h) {
  ctl_client_t *c = h->data;
  void (*cb)(void *) = c->close_cb;
  void *data = c->close_data;
  strbuf_reset(&c->in);
  free(c);
  if (cb) cb(data);
}

static void gone(ctl_client_t *c, const char *why) {
  if (c->closing || c->failed) return;
  c->failed = 1;
  uv_read_stop((uv_stream_t *)&c->pipe);
  if (c->cb.on_close) c->cb.on_close(c, why, c->cb.data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  ctl_client_t *c = h->data;
  (void)suggested;
  ctl_line_alloc(&c->in, buf);
}

static int client_line(void *data, const char *text, size_t len) {
  ctl_client_t *c = data;
  json_error_t je;
  json_t *m = json_loadb(text, len, 0, &je);
  if (!json_is_object(m)) {
    json_decref(m);
    gone(c, "the daemon sent a line that is not a JSON object");
    return 1;
  }
  if (c->cb.on_message) c->cb.on_message(c, m, c->cb.data);
  json_decref(m);
  return c->closing || c->failed;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  ctl_client_t *c = s->data;
  (void)buf;
  if (n < 0) {
    gone(c, n == UV_EOF ? "the daemon closed the connection" : uv_strerror((int)n));
    return;
  }
  if (ctl_line_feed(&c->in, (size_t)n, client_line, c) < 0) gone(c, "the daemon sent a line longer than the limit");
}

static void on_connected(uv_connect_t *req, int status) {
  ctl_client_t *c = req->data;
  if (c->closing) return;
  if (!status) status = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
  c->connected = !status;
  if (status) c->failed = 1;
  if (c->cb.on_connect) c->cb.on_connect(c, status, c->cb.data);
}

int ctl_client_connect(uv_loop_t *loop, const char *path, const struct ctl_client_callbacks *cb, ctl_client_t **out) {
  if (!loop || !path || !cb || !out) return UV_EINVAL;
  ctl_client_t *c = calloc(1, sizeof *c);
  if (!c) return UV_ENOMEM;
  c->cb = *cb;
  int rc = uv_pipe_init(loop, &c->pipe, 0);
  if (rc) {
    free(c);
    return rc;
  }
  c->pipe.data = c;
  c->creq.data = c;
  uv_pipe_connect(&c->creq, &c->pipe, path, on_connected);
  *out = c;
  return 0;
}

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

int ctl_client_send(ctl_client_t *c, const json_t *msg) {
  if (!c || !c->connected || c->closing || c->failed) return UV_ENOTCONN;
  char *s = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(10));
  if (!s) return UV_ENOMEM;
  size_t n = strlen(s);
  struct cwr *w = malloc(sizeof *w + n + 1);
  if (!w) {
    free(s);
    return UV_ENOMEM;
  }
  memcpy(w->data, s, n);
  w->data[n] = '\n';
  free(s);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)(n + 1));
  int rc = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written);
  if (rc) free(w);
  return rc;
}

void ctl_client_close(ctl_client_t *c, void (*cb)(void *data), void *data) {
  if (!c || c->closing) return;
  c->closing = 1;
  c->close_cb = cb;
  c->close_data = data;
  uv_close((uv_handle_t *)&c->pipe, on_closed);
}
