/* http.h — asynchronous HTTP client on the libuv loop (libcurl multi socket interface).
 *
 * The only module that knows curl. One http_t per loop; any number of requests in flight.
 * Every request ends in exactly one on_done call, unless it was cancelled with http_cancel()
 * (then none). Callbacks run on the loop thread, never synchronously from http_request().
 * TLS peer and host verification are always on (system CA bundle).
 */
#ifndef DAWBRIDGE_HTTP_H
#define DAWBRIDGE_HTTP_H

#include <stddef.h>
#include <uv.h>

enum http_err {
  HTTP_OK = 0,
  HTTP_ENOMEM = -1,
  HTTP_EINVAL = -2,     /* bad arguments / URL */
  HTTP_ECONNECT = -3,   /* could not resolve or connect */
  HTTP_ETIMEDOUT = -4,  /* connect, total or low-speed timeout */
  HTTP_ETOOBIG = -5,    /* response body over the limit */
  HTTP_EIO = -6,        /* connection dropped, partial body, send/recv failure */
  HTTP_ETLS = -7,       /* TLS handshake or certificate failure */
  HTTP_ECANCELED = -8,  /* request aborted by the data callback or by http_close */
  HTTP_ECLOSED = -9,    /* client is closing */
  HTTP_EINTERNAL = -10, /* unexpected libcurl failure */
};
const char *http_strerror(int err);

typedef struct http http_t;
typedef struct http_req http_req_t;

/* Completed request. All pointers borrowed: valid only during on_done. */
struct http_response {
  int err;                  /* HTTP_OK when an HTTP response arrived (any status) */
  long status;              /* HTTP status, 0 if none */
  const char *content_type; /* "" if none */
  long retry_after_ms;      /* parsed Retry-After (seconds or HTTP date), -1 if absent */
  const char *body;         /* NUL-terminated; "" when streamed through on_data */
  size_t body_len;
  const char *errmsg; /* human-readable detail when err != 0, else "" */
};

/* Body bytes as they arrive (streaming). status/content_type are known by then via
 * http_req_status()/http_req_content_type(). Return 0 to continue, non-zero to abort the
 * transfer (it completes with HTTP_ECANCELED). May call http_cancel() on any request. */
typedef int (*http_data_cb)(http_req_t *req, const char *buf, size_t len, void *data);
typedef void (*http_done_cb)(http_req_t *req, const struct http_response *res, void *data);
typedef void (*http_close_cb)(void *data);

struct http_request {
  const char *method;         /* NULL: "POST" if body != NULL, else "GET" */
  const char *url;            /* http:// or https:// only */
  const char *const *headers; /* NULL-terminated "Name: value" lines; copied */
  const char *body;           /* copied; may be NULL */
  size_t body_len;
  long connect_timeout_ms; /* 0 = 10 s */
  long total_timeout_ms;   /* 0 = no total limit */
  long low_speed_time_s;   /* abort if < 1 byte/s for this long; 0 = off */
  size_t max_body;         /* limit on received body bytes (also streamed); 0 = 16 MiB */
  http_data_cb on_data;    /* NULL: body collected into http_response.body */
  http_done_cb on_done;    /* required */
  void *data;
};

/* NULL on failure with a message in err. */
http_t *http_new(uv_loop_t *loop, char *err, size_t errlen);

/* Start a request. Returns the request handle (valid until on_done returns or until
 * http_cancel), or NULL with *errp set (HTTP_EINVAL, HTTP_ENOMEM, HTTP_ECLOSED). */
http_req_t *http_request(http_t *h, const struct http_request *r, int *errp);

/* Abort a request; its on_done is never called afterwards. Safe inside any callback. */
void http_cancel(http_req_t *req);

long http_req_status(const http_req_t *req);
const char *http_req_content_type(const http_req_t *req);
size_t http_in_flight(const http_t *h);

/* Cancel every request (each gets on_done with HTTP_ECANCELED), release curl and close all
 * libuv handles; cb runs once everything is closed and h has been freed. After that the
 * loop holds nothing of h (uv_loop_close() can return 0). */
void http_close(http_t *h, http_close_cb cb, void *data);

#endif
