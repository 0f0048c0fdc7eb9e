/* web: HTTP + WebSocket face over libwebsockets on the daemon's libuv loop (see web.h). The rules of what is
 * served live in web_req.c; this file is the glue: libwebsockets callbacks, live calls, the event fan-out. */
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <libwebsockets.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"
#include "statediff.h"
#include "strbuf.h"
#include "web_req.h"

/* a WebSocket client that reads slower than events come is dropped beyond these (it reconnects and re-reads) */
#define WEB_QUEUE_MAX_MSGS 4096
#define WEB_QUEUE_MAX_BYTES (8u * 1024 * 1024)
#define WEB_HDR_MAX 1024

const char *web_strerror(int code) {
  switch (code) {
  case WEB_OK: return "ok";
  case WEB_EINVAL: return "invalid web configuration";
  case WEB_ENOMEM: return "out of memory";
  case WEB_ELISTEN: return "the web server could not listen";
  case WEB_ETOKEN: return "the web token could not be made or saved";
  case WEB_ESTATIC: return "the web page's files were not found";
  default: return "unknown web error";
  }
}

struct msg {
  struct msg *next;
  size_t len;
  unsigned char buf[]; /* LWS_PRE + len */
};

enum conn_kind { CONN_HTTP = 0, CONN_WS };

/* per connection (lws allocates and zeroes it; on an upgrade the same memory becomes the WebSocket's) */
struct pss {
  enum conn_kind kind;
  unsigned id;                 /* connection serial, for the live request's client name "web:ID" */
  struct webreq_target target; /* the HTTP request being answered */
  strbuf_t body;               /* POST body so far */
  int body_over;               /* more than the limit arrived: answer 413 */
  unsigned char *resp;         /* LWS_PRE + resp_len: the JSON body waiting for HTTP_WRITEABLE */
  size_t resp_len;
  int close_after; /* the request's body was not read: close instead of keep-alive */
  int answered;    /* answered before its body (refused, or no body): what follows is ignored */
  /* WebSocket */
  struct pss *next, *prev;
  struct lws *wsi;
  struct msg *head, *tail;
  size_t queued_bytes;
  unsigned queued;
};

struct web {
  uv_loop_t *loop;
  live_t *live;
  struct lws_context *ctx;
  struct lws_vhost *vhost;
  int sub;
  unsigned serial;
  int nclients;
  struct pss *clients;
  struct webreq_policy policy;
  char token[WEBREQ_TOKEN_HEX + 1];
  char listen[64];
  char static_dir[PATH_MAX];
  char token_path[PATH_MAX];
  char url[256];
  char security_headers[512];
  struct log_sink log;
  /* libwebsockets 4.1 on a foreign loop ends in two calls: lws_context_destroy closes its handles, and once their
   * close callbacks have run (the next closing phase of the loop), a second lws_context_destroy frees the context
   * (and NULLs w->ctx through info.pcontext). closer is closed right after the first call; its close callback
   * closes closer2, whose callback runs one loop turn later, after lws's: the second call, then w is freed. */
  uv_check_t closer, closer2;
  void (*close_cb)(void *data);
  void *close_data;
  int closing;
};

static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* ---- HTTP responses ---- */

static void pss_reset_http(struct pss *s) {
  strbuf_reset(&s->body);
  s->body_over = 0;
  free(s->resp);
  s->resp = NULL;
  s->resp_len = 0;
  memset(&s->target, 0, sizeof s->target);
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end) {
  return lws_add_http_header_by_name(wsi, (const unsigned char *)name, (const unsigned char *)value, (int)strlen(value),
                                     p, end);
}

/* Writes the status line and headers now, keeps the body for HTTP_WRITEABLE. Returns 0, or -1 to close. */
static int respond_json(struct lws *wsi, struct pss *s, unsigned status, json_t *body) {
  char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(body);
  if (!text) return -1;
  size_t len = strlen(text);
  free(s->resp);
  s->resp = malloc(LWS_PRE + len + 1);
  if (!s->resp) {
    free(text);
    return -1;
  }
  memcpy(s->resp + LWS_PRE, text, len);
  s->resp_len = len;
  free(text);
  unsigned char hdr[LWS_PRE + WEB_HDR_MAX], *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
  if (lws_add_http_common_headers(wsi, status, "application/json", len, &p, end) ||
      add_header(wsi, "cache-control:", "no-store", &p, end) ||
      add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
      add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
      (s->close_after && add_header(wsi, "connection:", "close", &p, end)) ||
      lws_finalize_write_http_header(wsi, start, &p, end))
    return -1;
  lws_callback_on_writable(wsi);
  return 0;
}

static int respond_error(struct lws *wsi, struct pss *s, unsigned status, const char *message) {
  return respond_json(wsi, s, status, json_pack("{s:s, s:i}", "error", message, "status", (int)status));
}

static unsigned live_err_status(int rc) {
  switch (rc) {
  case LIVE_EINVAL: return 400;
  case LIVE_ENOENT: return 404;
  case LIVE_EFULL:
  case LIVE_EDAW:
  case LIVE_ECLOSED: return 503;
  default: return 500;
  }
}

/* ---- reading a request ---- */

static char *hdr_dup(struct lws *wsi, enum lws_token_indexes tok) {
  int n = lws_hdr_total_length(wsi, tok);
  if (n <= 0) return NULL;
  char *b = malloc((size_t)n + 1);
  if (!b) return NULL;
  if (lws_hdr_copy(wsi, b, n + 1, tok) < 0) {
    free(b);
    return NULL;
  }
  return b;
}

/* the query string as "a=b&c=d" (lws keeps the arguments as fragments) */
static char *query_dup(struct lws *wsi) {
  int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  if (total <= 0) return NULL;
  size_t cap = (size_t)total + 64;
  char *q = calloc(1, cap);
  if (!q) return NULL;
  size_t used = 0;
  char frag[512];
  for (int i = 0;; i++) {
    int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    if (used + (size_t)n + 2 > cap) break;
    if (used) q[used++] = '&';
    memcpy(q + used, frag, (size_t)n);
    used += (size_t)n;
    q[used] = 0;
  }
  return q;
}

struct req_hdrs {
  char *path, *query, *host, *origin, *auth, *clen;
};

static void req_hdrs_free(struct req_hdrs *h) {
  free(h->path);
  free(h->query);
  free(h->host);
  free(h->origin);
  free(h->auth);
  free(h->clen);
}

static int read_request(struct web *w, struct lws *wsi, int websocket, struct webreq *r, struct req_hdrs *h,
                        struct webreq_target *t, char *msg, size_t msglen) {
  memset(h, 0, sizeof *h);
  memset(r, 0, sizeof *r);
  r->method = WEBREQ_OTHER;
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) {
    r->method = WEBREQ_GET;
    h->path = hdr_dup(wsi, WSI_TOKEN_GET_URI);
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
    r->method = WEBREQ_POST;
    h->path = hdr_dup(wsi, WSI_TOKEN_POST_URI);
  }
  h->query = query_dup(wsi);
  h->host = hdr_dup(wsi, WSI_TOKEN_HOST);
  h->origin = hdr_dup(wsi, WSI_TOKEN_ORIGIN);
  h->auth = hdr_dup(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  h->clen = hdr_dup(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  r->path = h->path ? h->path : "";
  r->query = h->query;
  r->host = h->host;
  r->origin = h->origin;
  r->authorization = h->auth;
  r->websocket = websocket;
  r->content_length = -1;
  if (h->clen) {
    char *endp;
    errno = 0;
    long long v = strtoll(h->clen, &endp, 10);
    r->content_length = (errno || *endp || v < 0) ? LLONG_MAX : v;
  }
  return webreq_check(&w->policy, r, t, msg, msglen);
}

/* ---- the API ---- */

static void client_name(struct pss *s, char *out, size_t outlen) { snprintf(out, outlen, "web:%u", s->id); }

/* "diff_text": what changed from iteration N-1 to N, as `dawbridge history diff` writes it (bridge/statediff) */
static void add_diff_text(struct web *w, json_t *it, int number) {
  if (number < 2) return;
  char err[256];
  json_t *prev = live_iteration(w->live, number - 1, err, sizeof err);
  if (!prev) return;
  json_t *diff = statediff_compute(json_object_get(prev, "state"), json_object_get(it, "state"));
  char *text = diff ? statediff_to_text(diff) : NULL;
  if (text) json_object_set_new(it, "diff_text", json_string(text));
  free(text);
  json_decref(diff);
  json_decref(prev);
}

static int api_get(struct web *w, struct lws *wsi, struct pss *s) {
  char err[256] = "";
  json_t *out = NULL;
  switch (s->target.route) {
  case WEBREQ_STATE: out = live_state(w->live); break;
  case WEBREQ_STATUS: out = live_status(w->live); break;
  case WEBREQ_HISTORY: out = live_history(w->live, err, sizeof err); break;
  case WEBREQ_ITERATION:
    out = live_iteration(w->live, s->target.iteration, err, sizeof err);
    if (!out) return respond_error(wsi, s, 404, err[0] ? err : "no such iteration");
    add_diff_text(w, out, s->target.iteration);
    break;
  default: return respond_error(wsi, s, 404, "not found");
  }
  if (!out) return respond_error(wsi, s, 500, err[0] ? err : "the live session could not answer");
  return respond_json(wsi, s, 200, out);
}

static int api_post(struct web *w, struct lws *wsi, struct pss *s) {
  char msg[256] = "";
  struct webreq_body b;
  json_t *json = NULL;
  if (s->body_over) {
    snprintf(msg, sizeof msg, "body too large: at most %zu bytes", w->policy.max_body);
    return respond_error(wsi, s, 413, msg);
  }
  int status =
      webreq_body(&w->policy, s->target.route, s->body.s ? s->body.s : "", s->body.len, &b, &json, msg, sizeof msg);
  if (status) return respond_error(wsi, s, (unsigned)status, msg);
  char client[32];
  client_name(s, client, sizeof client);
  if (s->target.route == WEBREQ_CANCEL) {
    json_decref(json);
    int rc = live_cancel(w->live, b.request);
    if (rc < 0) return respond_error(wsi, s, live_err_status(rc), live_strerror(rc));
    return respond_json(wsi, s, 200, json_pack("{s:i}", "cancelled", b.request));
  }
  struct live_request req = {.client = client, .iteration = b.iteration, .flags = b.force ? LIVE_FORCE : 0};
  switch (s->target.route) {
  case WEBREQ_ASK:
    req.kind = LIVE_ASK;
    req.text = b.text;
    break;
  case WEBREQ_UNDO: req.kind = LIVE_UNDO; break;
  case WEBREQ_RESTORE: req.kind = LIVE_RESTORE; break;
  case WEBREQ_NEW: req.kind = LIVE_NEW; break;
  default: json_decref(json); return respond_error(wsi, s, 404, "not found");
  }
  int id = live_submit(w->live, &req);
  json_decref(json);
  if (id < 0) return respond_error(wsi, s, live_err_status(id), live_strerror(id));
  log_msg(&w->log, LOG_INFO, "web", "%s: request %d queued", client, id);
  return respond_json(wsi, s, 202, json_pack("{s:i}", "request", id));
}

static int serve_static(struct web *w, struct lws *wsi, struct pss *s) {
  char path[PATH_MAX + WEBREQ_NAME_MAX + 2];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", w->static_dir, s->target.file);
  if (stat(path, &st) || !S_ISREG(st.st_mode)) return respond_error(wsi, s, 404, "not found");
  int n = lws_serve_http_file(wsi, path, webreq_mime(s->target.file), w->security_headers,
                              (int)strlen(w->security_headers));
  if (n < 0) return -1;
  if (n > 0 && lws_http_transaction_completed(wsi)) return -1;
  return 0;
}

/* ---- WebSocket clients ---- */

static void client_free_queue(struct pss *s) {
  while (s->head) {
    struct msg *m = s->head;
    s->head = m->next;
    free(m);
  }
  s->tail = NULL;
  s->queued = 0;
  s->queued_bytes = 0;
}

static void client_unlink(struct web *w, struct pss *s) {
  if (s->prev)
    s->prev->next = s->next;
  else if (w->clients == s)
    w->clients = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
  client_free_queue(s);
}

static void on_live_event(const json_t *event, void *data) {
  struct web *w = data;
  if (!w->clients) return;
  char *text = json_dumps(event, JSON_COMPACT);
  if (!text) return;
  size_t len = strlen(text);
  for (struct pss *s = w->clients; s; s = s->next) {
    if (s->queued >= WEB_QUEUE_MAX_MSGS || s->queued_bytes + len > WEB_QUEUE_MAX_BYTES) {
      /* too slow: drop it rather than grow without bound (it reconnects and re-reads /api/state) */
      log_msg(&w->log, LOG_WARN, "web", "web:%u reads too slowly: disconnected", s->id);
      client_free_queue(s);
      lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
      continue;
    }
    struct msg *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m) continue;
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    if (s->tail)
      s->tail->next = m;
    else
      s->head = m;
    s->tail = m;
    s->queued++;
    s->queued_bytes += len;
    lws_callback_on_writable(s->wsi);
  }
  free(text);
}

static int ws_write_one(struct pss *s) {
  struct msg *m = s->head;
  if (!m) return 0;
  int n = lws_write(s->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
  if (n < (int)m->len) return -1;
  s->head = m->next;
  if (!s->head) s->tail = NULL;
  s->queued--;
  s->queued_bytes -= m->len;
  free(m);
  if (s->head) lws_callback_on_writable(s->wsi);
  return 0;
}

/* ---- the libwebsockets callback ---- */

static int web_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  struct lws_context *ctx = lws_get_context(wsi);
  struct web *w = ctx ? lws_context_user(ctx) : NULL;
  struct pss *s = user;
  char msg[256];
  switch (reason) {
  case LWS_CALLBACK_HTTP: {
    if (!w || !s) return -1;
    pss_reset_http(s);
    s->answered = 0;
    s->close_after = 0;
    if (!s->id) s->id = ++w->serial;
    struct webreq r;
    struct req_hdrs h;
    int status = read_request(w, wsi, 0, &r, &h, &s->target, msg, sizeof msg);
    int method = r.method;
    long long clen = r.content_length;
    req_hdrs_free(&h);
    if (status) {
      /* a refused request's body is never read: close after the answer */
      s->close_after = clen > 0 || method == WEBREQ_POST;
      s->answered = 1;
      if (status == 403 || status == 401) log_msg(&w->log, LOG_INFO, "web", "refused (%d): %s", status, msg);
      return respond_error(wsi, s, (unsigned)status, msg);
    }
    if (s->target.route == WEBREQ_STATIC) {
      s->answered = 1;
      return serve_static(w, wsi, s);
    }
    if (method == WEBREQ_GET) {
      s->answered = 1; /* a body sent with a GET is not read as a request */
      s->close_after = clen > 0;
      return api_get(w, wsi, s);
    }
    if (clen > 0) return 0; /* wait for LWS_CALLBACK_HTTP_BODY ... BODY_COMPLETION */
    s->answered = 1;        /* no body: lws may still report an empty BODY_COMPLETION */
    return api_post(w, wsi, s);
  }
  case LWS_CALLBACK_HTTP_BODY:
    if (!w || !s) return -1;
    if (s->answered) return 0;
    if (s->body_over || s->body.len + len > w->policy.max_body) {
      s->body_over = 1;
      strbuf_reset(&s->body);
      return 0;
    }
    strbuf_append(&s->body, in, len);
    return s->body.oom ? -1 : 0;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    if (!w || !s) return -1;
    if (s->answered) return 0;
    return api_post(w, wsi, s);
  case LWS_CALLBACK_HTTP_WRITEABLE:
    if (!s || !s->resp) return 0;
    {
      int n = lws_write(wsi, s->resp + LWS_PRE, s->resp_len, LWS_WRITE_HTTP_FINAL);
      int close_after = s->close_after;
      pss_reset_http(s);
      s->close_after = 0;
      if (n < 0 || close_after) return -1;
      if (lws_http_transaction_completed(wsi)) return -1;
    }
    return 0;
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
  case LWS_CALLBACK_CLOSED_HTTP:
    if (s) pss_reset_http(s);
    return 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
    if (!w || !s || w->closing) return 1;
    struct webreq r;
    struct req_hdrs h;
    struct webreq_target t;
    int status = read_request(w, wsi, 1, &r, &h, &t, msg, sizeof msg);
    req_hdrs_free(&h);
    if (status) {
      log_msg(&w->log, LOG_INFO, "web", "WebSocket refused (%d): %s", status, msg);
      lws_return_http_status(wsi, (unsigned)status, msg);
      return 1;
    }
    return 0;
  }
  case LWS_CALLBACK_ESTABLISHED:
    if (!w || !s) return -1;
    pss_reset_http(s);
    s->kind = CONN_WS;
    if (!s->id) s->id = ++w->serial;
    s->wsi = wsi;
    s->prev = NULL;
    s->next = w->clients;
    if (w->clients) w->clients->prev = s;
    w->clients = s;
    w->nclients++;
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (!s || s->kind != CONN_WS) return 0;
    return ws_write_one(s);
  case LWS_CALLBACK_RECEIVE: return 0; /* the event stream is one-way; requests go through the HTTP API */
  case LWS_CALLBACK_CLOSED:
    if (w && s && s->kind == CONN_WS) {
      client_unlink(w, s);
      s->kind = CONN_HTTP;
      w->nclients--;
    }
    return 0;
  default: break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols web_protocols[] = {
    {"dawbridge-events", web_callback, sizeof(struct pss), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- life cycle ---- */

static int write_token_file(struct web *w, const char *dir, char *err, size_t errlen) {
  snprintf(w->token_path, sizeof w->token_path, "%s/web-%d.token", dir, w->policy.port);
  int fd = open(w->token_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "cannot write the web token to %s: %s", w->token_path, strerror(errno));
    w->token_path[0] = 0;
    return WEB_ETOKEN;
  }
  int ok = fchmod(fd, 0600) == 0;
  char line[WEBREQ_TOKEN_HEX + 2];
  int n = snprintf(line, sizeof line, "%s\n", w->token);
  ok = ok && write(fd, line, (size_t)n) == n;
  ok = (close(fd) == 0) && ok;
  if (!ok) {
    snprintf(err, errlen, "cannot write the web token to %s", w->token_path);
    unlink(w->token_path);
    w->token_path[0] = 0;
    return WEB_ETOKEN;
  }
  return 0;
}

/* Whether addr:port can be bound now (a plain socket, closed at once; port 0 always can). libwebsockets 4.1 on a
 * foreign loop cannot be torn down cleanly when its listening socket failed (its first destroy completes at once
 * and unloads the libuv event library while its handles still wait for their close callbacks), so a taken port is
 * found here, before the context exists. Returns 0 or -errno. */
static int can_listen(const char *addr, int port) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (strchr(addr, ':')) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &a6->sin6_addr) != 1) return -EINVAL;
    len = sizeof *a6;
  } else {
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &a4->sin_addr) != 1) return -EINVAL;
    len = sizeof *a4;
  }
  if (port == 0) return 0;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc = bind(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
  close(fd);
  return rc;
}

static void on_closer2_closed(uv_handle_t *h) {
  struct web *w = h->data;
  if (w->ctx) lws_context_destroy(w->ctx); /* the second call: frees the context, sets w->ctx NULL */
  void (*cb)(void *) = w->close_cb;
  void *data = w->close_data;
  free(w);
  if (cb) cb(data);
}

static void on_closer_closed(uv_handle_t *h) {
  struct web *w = h->data;
  w->closer2.data = w;
  uv_close((uv_handle_t *)&w->closer2, on_closer2_closed);
}

int web_new(uv_loop_t *loop, live_t *live, const struct web_config *cfg, web_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (cfg->port < 0 || cfg->port > 65535 || (cfg->listen && strlen(cfg->listen) >= 64)) {
    snprintf(err, errlen, "web: the port must be 0..65535 and the listen address an IP address");
    return WEB_EINVAL;
  }
  struct web *w = calloc(1, sizeof *w);
  if (!w) return WEB_ENOMEM;
  w->loop = loop;
  w->live = live;
  w->log = cfg->log;
  snprintf(w->listen, sizeof w->listen, "%s", cfg->listen && *cfg->listen ? cfg->listen : "127.0.0.1");
  if (cfg->static_dir && *cfg->static_dir) {
    snprintf(w->static_dir, sizeof w->static_dir, "%s", cfg->static_dir);
  } else if (datadir_path(DATADIR_WEB, w->static_dir, sizeof w->static_dir, err, errlen)) {
    free(w);
    return WEB_ESTATIC;
  }
  char index[PATH_MAX + 16];
  snprintf(index, sizeof index, "%s/index.html", w->static_dir);
  if (access(index, R_OK)) {
    snprintf(err, errlen, "web: the page is missing: %s", index);
    free(w);
    return WEB_ESTATIC;
  }
  if (cfg->token && *cfg->token) {
    snprintf(w->token, sizeof w->token, "%s", cfg->token);
  } else if (webreq_make_token(w->token, sizeof w->token)) {
    snprintf(err, errlen, "web: no random token could be made");
    free(w);
    return WEB_ETOKEN;
  }
  snprintf(w->security_headers, sizeof w->security_headers,
           "content-security-policy: %s\r\nx-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n"
           "cache-control: no-store\r\n",
           csp);
  w->policy.token = w->token;
  w->policy.listen = w->listen;
  w->policy.max_body = cfg->max_body ? cfg->max_body : WEBREQ_MAX_BODY;

  int lrc = can_listen(w->listen, cfg->port);
  if (lrc) {
    if (lrc == -EINVAL)
      snprintf(err, errlen, "web: --web-listen takes an IP address (e.g. 127.0.0.1, 0.0.0.0), not \"%s\"", w->listen);
    else
      snprintf(err, errlen, "web: cannot listen on %s:%d: %s", w->listen, cfg->port, strerror(-lrc));
    free(w);
    return lrc == -EINVAL ? WEB_EINVAL : WEB_ELISTEN;
  }
  lws_set_log_level(LLL_ERR, NULL);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  void *loops[1] = {loop};
  info.foreign_loops = loops;
  info.options =
      LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN | LWS_SERVER_OPTION_VALIDATE_UTF8;
  if (!strchr(w->listen, ':')) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.port = cfg->port;
  info.iface = w->listen;
  info.protocols = web_protocols;
  info.user = w;
  info.max_http_header_data = 4096;
  info.timeout_secs = 30;
  info.vhost_name = "dawbridge";
  info.pcontext = &w->ctx;
  w->ctx = lws_create_context(&info);
  if (!w->ctx) {
    snprintf(err, errlen,
             "web: libwebsockets could not start on %s:%d (port in use? libwebsockets-evlib-uv "
             "missing?)",
             w->listen, cfg->port);
    free(w);
    return WEB_ELISTEN;
  }
  uv_check_init(loop, &w->closer);
  uv_check_init(loop, &w->closer2);
  w->vhost = lws_get_vhost_by_name(w->ctx, "dawbridge");
  w->policy.port = w->vhost ? lws_get_vhost_listen_port(w->vhost) : -1;
  if (w->policy.port <= 0) {
    snprintf(err, errlen, "web: cannot listen on %s:%d (in use, or not an address of this machine?)", w->listen,
             cfg->port);
    /* w is freed by the close of its check handles, on the loop */
    w->closing = 1;
    lws_context_destroy(w->ctx);
    w->closer.data = w;
    uv_close((uv_handle_t *)&w->closer, on_closer_closed);
    return WEB_ELISTEN;
  }
  int wildcard = !strcmp(w->listen, "0.0.0.0") || !strcmp(w->listen, "::");
  const char *urlhost = wildcard ? "127.0.0.1" : w->listen;
  int v6 = strchr(urlhost, ':') != NULL;
  snprintf(w->url, sizeof w->url, "http://%s%s%s:%d/?token=%s", v6 ? "[" : "", urlhost, v6 ? "]" : "", w->policy.port,
           w->token);
  if (strcmp(w->listen, "127.0.0.1") && strcmp(w->listen, "localhost"))
    log_msg(&w->log, LOG_WARN, "web",
            "the web page listens on %s: anyone who can reach this address and has the token can change your "
            "session",
            w->listen);
  if (cfg->runtime_dir && *cfg->runtime_dir) {
    int rc = write_token_file(w, cfg->runtime_dir, err, errlen);
    if (rc) {
      /* w is freed by the close of its check handle, on the loop */
      w->closing = 1;
      lws_context_destroy(w->ctx);
      w->closer.data = w;
      uv_close((uv_handle_t *)&w->closer, on_closer_closed);
      return rc;
    }
  }
  w->sub = live_subscribe(live, on_live_event, w);
  *out = w;
  return 0;
}

const char *web_url(const web_t *w) { return w->url; }
const char *web_token(const web_t *w) { return w->token; }
int web_port(const web_t *w) { return w->policy.port; }
int web_clients(const web_t *w) { return w->nclients; }

void web_close(web_t *w, void (*cb)(void *data), void *data) {
  w->closing = 1;
  w->close_cb = cb;
  w->close_data = data;
  if (w->sub > 0) live_unsubscribe(w->live, w->sub);
  w->sub = 0;
  if (w->token_path[0]) unlink(w->token_path);
  /* closes every connection (their CLOSED callbacks run now, with w alive) and the listening socket; lws's
   * libuv handles finish closing on the next loop turns */
  lws_context_destroy(w->ctx);
  w->closer.data = w;
  uv_close((uv_handle_t *)&w->closer, on_closer_closed);
}
