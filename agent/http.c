/* http.c — libcurl multi socket interface driven by libuv. See http.h.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION → one uv_poll_t per socket)
 * and when to wake it up (CURLMOPT_TIMERFUNCTION → one uv_timer_t); we call
 * curl_multi_socket_action() from those handles and always drain curl_multi_info_read().
 * Requests are never removed from the multi handle while curl is running one of our
 * callbacks: cancellations and a close requested from inside a callback are deferred
 * until the outermost dispatch returns.
 */
#include "http.h"

#include "strbuf.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define HTTP_DEFAULT_MAX_BODY ((size_t)16 << 20)
#define HTTP_DEFAULT_CONNECT_MS 10000L

struct http_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  http_t *h;
  int closing;
  struct http_sock *next, *prev;
};

struct http {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  int depth;    /* > 0 while inside curl or while delivering completions */
  int in_timer; /* inside the timer callback */
  int closing;  /* http_close called */
  int close_started;
  int cleaning;       /* inside curl_multi_cleanup */
  int cancel_pending; /* a cancellation waits for after_action */
  int open_handles;   /* libuv handles not yet closed (timer + polls) */
  size_t nreqs;
  struct http_req *reqs;
  struct http_sock *socks;
  http_close_cb close_cb;
  void *close_data;
};

struct http_req {
  http_t *h;
  CURL *easy;
  struct curl_slist *hdrs;
  char *body;
  strbuf_t resp; /* the body, when not streamed to on_data */
  size_t received, max_body;
  long status;
  char ctype[128];
  long retry_after_ms;
  http_data_cb on_data;
  http_done_cb on_done;
  void *data;
  int err;
  int cancelled;
  int done;
  char errbuf[CURL_ERROR_SIZE];
  struct http_req *next, *prev;
};

const char *http_strerror(int err) {
  switch (err) {
  case HTTP_OK: return "ok";
  case HTTP_ENOMEM: return "out of memory";
  case HTTP_EINVAL: return "invalid request";
  case HTTP_ECONNECT: return "could not connect";
  case HTTP_ETIMEDOUT: return "timed out";
  case HTTP_ETOOBIG: return "response body too large";
  case HTTP_EIO: return "connection failed during transfer";
  case HTTP_ETLS: return "TLS failure";
  case HTTP_ECANCELED: return "cancelled";
  case HTTP_ECLOSED: return "http client is closing";
  case HTTP_EINTERNAL: return "internal libcurl error";
  default: return "unknown http error";
  }
}

/* ---------- handle bookkeeping ---------- */

static void finish_close(http_t *h) {
  http_close_cb cb = h->close_cb;
  void *data = h->close_data;
  free(h);
  curl_global_cleanup();
  if (cb) cb(data);
}

static void on_handle_closed(uv_handle_t *hd) {
  http_t *h;
  if (hd->type == UV_POLL) {
    struct http_sock *k = hd->data;
    h = k->h;
    if (k->prev)
      k->prev->next = k->next;
    else
      h->socks = k->next;
    if (k->next) k->next->prev = k->prev;
    free(k);
  } else {
    h = hd->data;
  }
  h->open_handles--;
  if (h->close_started && h->open_handles == 0 && !h->multi) finish_close(h);
}

static void sock_close(struct http_sock *k) {
  if (k->closing) return;
  k->closing = 1;
  uv_poll_stop(&k->poll);
  uv_close((uv_handle_t *)&k->poll, on_handle_closed);
}

/* ---------- request lifecycle ---------- */

static void req_unlink(struct http_req *r) {
  http_t *h = r->h;
  if (r->prev)
    r->prev->next = r->next;
  else if (h->reqs == r)
    h->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  r->next = r->prev = NULL;
  h->nreqs--;
}

static void req_free(struct http_req *r) {
  if (r->easy) curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->hdrs);
  free(r->body);
  strbuf_reset(&r->resp);
  free(r);
}

static void req_remove(struct http_req *r) {
  req_unlink(r);
  curl_multi_remove_handle(r->h->multi, r->easy);
  req_free(r);
}

static int map_curl_code(struct http_req *r, CURLcode c) {
  switch (c) {
  case CURLE_OK: return HTTP_OK;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT: return HTTP_ECONNECT;
  case CURLE_OPERATION_TIMEDOUT: return HTTP_ETIMEDOUT;
  case CURLE_WRITE_ERROR:
  case CURLE_ABORTED_BY_CALLBACK: return r->err ? r->err : HTTP_EIO;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT: return HTTP_EINVAL;
  case CURLE_OUT_OF_MEMORY: return HTTP_ENOMEM;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_USE_SSL_FAILED: return HTTP_ETLS;
  default: return HTTP_EIO;
  }
}

static void req_complete(struct http_req *r, CURLcode code) {
  http_t *h = r->h;
  char msg[CURL_ERROR_SIZE + 128];
  req_unlink(r);
  curl_multi_remove_handle(h->multi, r->easy);
  r->done = 1;
  int err = map_curl_code(r, code);
  msg[0] = '\0';
  if (err) {
    const char *detail = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
    if (err == HTTP_ETOOBIG)
      snprintf(msg, sizeof msg, "%s (limit %zu bytes)", http_strerror(err), r->max_body);
    else
      snprintf(msg, sizeof msg, "%s: %s", http_strerror(err), detail);
  }
  struct http_response res = {
      .err = err,
      .status = r->status,
      .content_type = r->ctype,
      .retry_after_ms = r->retry_after_ms,
      .body = r->resp.s ? r->resp.s : "",
      .body_len = r->resp.len,
      .errmsg = msg,
  };
  r->on_done(r, &res, r->data);
  req_free(r);
}

static void process_cancelled(http_t *h) {
  struct http_req *r = h->reqs, *next;
  h->cancel_pending = 0;
  for (; r; r = next) {
    next = r->next;
    if (r->cancelled) req_remove(r);
  }
}

static void do_close(http_t *h);

/* Called after every entry from libuv: deliver completions, apply deferred work. */
static void after_action(http_t *h) {
  if (h->depth) return;
  h->depth++;
  for (;;) {
    process_cancelled(h);
    if (h->closing) break;
    CURLMsg *m;
    int left, any = 0;
    while (!h->closing && (m = curl_multi_info_read(h->multi, &left))) {
      if (m->msg != CURLMSG_DONE) continue;
      char *priv = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
      struct http_req *r = (struct http_req *)(void *)priv;
      CURLcode code = m->data.result;
      any = 1;
      if (!r) continue;
      if (r->cancelled) {
        req_remove(r);
        continue;
      }
      req_complete(r, code);
    }
    if (!any && !h->cancel_pending) break;
  }
  h->depth--;
  if (h->closing && !h->close_started) do_close(h);
}

/* ---------- curl → libuv ---------- */

static void on_poll(uv_poll_t *p, int status, int events) {
  struct http_sock *k = p->data;
  http_t *h = k->h;
  int flags = 0, running = 0;
  if (k->closing || h->closing) return;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  }
  h->depth++;
  curl_multi_socket_action(h->multi, k->fd, flags, &running);
  h->depth--;
  after_action(h);
}

static void on_uv_timeout(uv_timer_t *t) {
  http_t *h = t->data;
  int running = 0;
  if (h->closing) return;
  h->depth++;
  h->in_timer = 1;
  curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  h->in_timer = 0;
  h->depth--;
  after_action(h);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  http_t *h = userp;
  struct http_sock *k = socketp;
  (void)e;
  if (what == CURL_POLL_REMOVE) {
    if (k) sock_close(k);
    if (!h->cleaning) curl_multi_assign(h->multi, s, NULL);
    return 0;
  }
  if (h->cleaning) return 0; /* ignore IN/OUT requests during curl_multi_cleanup */
  if (!k || k->closing) {
    k = calloc(1, sizeof *k);
    if (!k) return -1;
    if (uv_poll_init_socket(h->loop, &k->poll, s) != 0) {
      free(k);
      return -1;
    }
    k->fd = s;
    k->h = h;
    k->poll.data = k;
    k->next = h->socks;
    if (h->socks) h->socks->prev = k;
    h->socks = k;
    h->open_handles++;
    curl_multi_assign(h->multi, s, k);
  }
  int ev = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev |= UV_WRITABLE;
  if (uv_poll_start(&k->poll, ev, on_poll) != 0) return -1;
  return 0;
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp) {
  http_t *h = userp;
  (void)m;
  if (h->cleaning || h->close_started) return 0;
  if (timeout_ms < 0) {
    uv_timer_stop(&h->timer);
  } else {
    /* 0 means "soon, but not from inside this callback"; from within our own timer
     * callback use 1 ms so libuv does not run the timer again in the same pass. */
    uint64_t ms = (uint64_t)timeout_ms;
    if (ms == 0 && h->in_timer) ms = 1;
    uv_timer_start(&h->timer, on_uv_timeout, ms, 0);
  }
  return 0;
}

/* Safety net for curl/curl#14976: never close an fd libuv still polls. */
static int on_curl_closesocket(void *clientp, curl_socket_t s) {
  http_t *h = clientp;
  for (struct http_sock *k = h->socks; k; k = k->next)
    if (k->fd == s && !k->closing) sock_close(k);
  return close(s);
}

/* ---------- easy callbacks ---------- */

static long parse_retry_after(const char *v) {
  while (*v == ' ' || *v == '\t') v++;
  if (isdigit((unsigned char)*v)) {
    long s = 0;
    for (; isdigit((unsigned char)*v); v++)
      if (s < 86400L * 365) s = s * 10 + (*v - '0');
    return s * 1000;
  }
  time_t t = curl_getdate(v, NULL);
  if (t == (time_t)-1) return -1;
  time_t now = time(NULL);
  return t > now ? (long)(t - now) * 1000 : 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *userp) {
  struct http_req *r = userp;
  size_t len = size * n;
  char line[512];
  size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
  memcpy(line, buf, l);
  line[l] = '\0';
  while (l && (line[l - 1] == '\r' || line[l - 1] == '\n')) line[--l] = '\0';
  if (!strncmp(line, "HTTP/", 5)) {
    const char *sp = strchr(line, ' ');
    r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    r->ctype[0] = '\0';
    r->retry_after_ms = -1;
  } else if (!strncasecmp(line, "content-type:", 13)) {
    const char *v = line + 13;
    while (*v == ' ' || *v == '\t') v++;
    snprintf(r->ctype, sizeof r->ctype, "%.127s", v);
  } else if (!strncasecmp(line, "retry-after:", 12)) {
    r->retry_after_ms = parse_retry_after(line + 12);
  }
  return len;
}

static size_t on_write(char *buf, size_t size, size_t n, void *userp) {
  struct http_req *r = userp;
  size_t len = size * n;
  if (r->cancelled) return 0;
  r->received += len;
  if (r->received > r->max_body) {
    r->err = HTTP_ETOOBIG;
    return 0;
  }
  if (r->on_data) {
    if (r->on_data(r, buf, len, r->data) || r->cancelled) {
      if (!r->err) r->err = HTTP_ECANCELED;
      return 0;
    }
    return len;
  }
  strbuf_append(&r->resp, buf, len);
  if (r->resp.oom) {
    r->err = HTTP_ENOMEM;
    return 0;
  }
  return len;
}

/* ---------- public API ---------- */

http_t *http_new(uv_loop_t *loop, char *err, size_t errlen) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, errlen, "http: curl_global_init failed");
    return NULL;
  }
  http_t *h = calloc(1, sizeof *h);
  if (!h) {
    curl_global_cleanup();
    snprintf(err, errlen, "http: out of memory");
    return NULL;
  }
  h->loop = loop;
  h->multi = curl_multi_init();
  if (!h->multi) {
    free(h);
    curl_global_cleanup();
    snprintf(err, errlen, "http: curl_multi_init failed");
    return NULL;
  }
  uv_timer_init(loop, &h->timer);
  h->timer.data = h;
  h->open_handles = 1;
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  return h;
}

size_t http_in_flight(const http_t *h) { return h->nreqs; }
long http_req_status(const http_req_t *r) { return r->status; }
const char *http_req_content_type(const http_req_t *r) { return r->ctype; }

http_req_t *http_request(http_t *h, const struct http_request *q, int *errp) {
  int dummy;
  if (!errp) errp = &dummy;
  *errp = HTTP_OK;
  if (h->closing) {
    *errp = HTTP_ECLOSED;
    return NULL;
  }
  if (!q || !q->url || !q->on_done || (strncasecmp(q->url, "http://", 7) && strncasecmp(q->url, "https://", 8))) {
    *errp = HTTP_EINVAL;
    return NULL;
  }
  struct http_req *r = calloc(1, sizeof *r);
  if (!r) {
    *errp = HTTP_ENOMEM;
    return NULL;
  }
  r->h = h;
  r->retry_after_ms = -1;
  r->max_body = q->max_body ? q->max_body : HTTP_DEFAULT_MAX_BODY;
  r->on_data = q->on_data;
  r->on_done = q->on_done;
  r->data = q->data;
  r->easy = curl_easy_init();
  if (!r->easy) goto nomem;
  CURL *e = r->easy;
  for (const char *const *hp = q->headers; hp && *hp; hp++) {
    struct curl_slist *n = curl_slist_append(r->hdrs, *hp);
    if (!n) goto nomem;
    r->hdrs = n;
  }
  struct curl_slist *n = curl_slist_append(r->hdrs, "Expect:");
  if (!n) goto nomem;
  r->hdrs = n;

  curl_easy_setopt(e, CURLOPT_URL, q->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "dawbridge/0.1");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   q->connect_timeout_ms > 0 ? q->connect_timeout_ms : HTTP_DEFAULT_CONNECT_MS);
  if (q->total_timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, q->total_timeout_ms);
  if (q->low_speed_time_s > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, q->low_speed_time_s);
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
  const char *method = q->method ? q->method : (q->body ? "POST" : "GET");
  if (q->body) {
    r->body = malloc(q->body_len + 1);
    if (!r->body) goto nomem;
    memcpy(r->body, q->body, q->body_len);
    r->body[q->body_len] = '\0';
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
  }
  if (strcmp(method, "GET") && !(q->body && !strcmp(method, "POST")))
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_curl_closesocket);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, h);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);

  r->next = h->reqs;
  if (h->reqs) h->reqs->prev = r;
  h->reqs = r;
  h->nreqs++;
  if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
    req_unlink(r);
    req_free(r);
    *errp = HTTP_EINTERNAL;
    return NULL;
  }
  return r;
nomem:
  req_free(r);
  *errp = HTTP_ENOMEM;
  return NULL;
}

void http_cancel(http_req_t *r) {
  if (!r || r->cancelled || r->done) return;
  r->cancelled = 1;
  if (r->h->depth == 0)
    req_remove(r);
  else
    r->h->cancel_pending = 1; /* removed by after_action once curl has returned */
}

static void do_close(http_t *h) {
  h->close_started = 1;
  h->depth++;
  /* Complete every live request with ECANCELED so owners can release their state. */
  while (h->reqs) {
    struct http_req *r = h->reqs;
    if (r->cancelled) {
      req_remove(r);
      continue;
    }
    req_unlink(r);
    curl_multi_remove_handle(h->multi, r->easy);
    r->done = 1;
    struct http_response res = {.err = HTTP_ECANCELED,
                                .status = r->status,
                                .content_type = r->ctype,
                                .retry_after_ms = r->retry_after_ms,
                                .body = r->resp.s ? r->resp.s : "",
                                .body_len = r->resp.len,
                                .errmsg = "cancelled: http client closing"};
    r->on_done(r, &res, r->data);
    req_free(r);
  }
  h->cleaning = 1;
  curl_multi_cleanup(h->multi); /* may call on_curl_socket(REMOVE) for cached connections */
  h->multi = NULL;
  h->cleaning = 0;
  for (struct http_sock *k = h->socks; k; k = k->next) sock_close(k);
  uv_timer_stop(&h->timer);
  uv_close((uv_handle_t *)&h->timer, on_handle_closed);
  h->depth--;
}

void http_close(http_t *h, http_close_cb cb, void *data) {
  if (!h || h->closing) return;
  h->closing = 1;
  h->close_cb = cb;
  h->close_data = data;
  if (h->depth == 0) do_close(h);
  /* else: after_action() runs do_close once the current dispatch unwinds */
}
