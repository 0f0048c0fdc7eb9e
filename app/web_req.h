/* web_req: the web face's request rules, as pure functions (no sockets, no libwebsockets): which route a request
 * names, whether it may be served (Host and Origin against DNS rebinding, the token, the body limit), the static
 * file it names (path traversal refused by construction: a single plain file name), and the JSON body turned
 * into a live request. app/web.c feeds it what libwebsockets parsed; tests and fuzz/fuzz_web.c feed it directly.
 *
 * Every refusal is an HTTP status plus a one-line message for the JSON body {"error": "..."}.
 */
#ifndef DAWBRIDGE_WEB_REQ_H
#define DAWBRIDGE_WEB_REQ_H

#include <jansson.h>
#include <stddef.h>

#define WEBREQ_TOKEN_HEX 64         /* 32 random bytes as lowercase hex */
#define WEBREQ_MAX_BODY (64 * 1024) /* default body limit: larger bodies get 413 */
#define WEBREQ_NAME_MAX 64          /* longest static file name served */

enum webreq_method { WEBREQ_GET = 0, WEBREQ_POST, WEBREQ_OTHER };

enum webreq_route {
  WEBREQ_NOT_FOUND = 0,
  WEBREQ_STATIC,    /* GET a page file: name in webreq_target.file */
  WEBREQ_STATE,     /* GET /api/state */
  WEBREQ_STATUS,    /* GET /api/status */
  WEBREQ_HISTORY,   /* GET /api/history */
  WEBREQ_ITERATION, /* GET /api/iteration/N: number in webreq_target.iteration */
  WEBREQ_EVENTS,    /* the WebSocket /api/events */
  WEBREQ_ASK,       /* POST /api/ask {"text"} */
  WEBREQ_CANCEL,    /* POST /api/cancel {"request"?} */
  WEBREQ_UNDO,      /* POST /api/undo {"iteration"?, "force"?} */
  WEBREQ_RESTORE,   /* POST /api/restore {"iteration", "force"?} */
  WEBREQ_NEW,       /* POST /api/new */
};

struct webreq_target {
  enum webreq_route route;
  int iteration;                  /* WEBREQ_ITERATION */
  char file[WEBREQ_NAME_MAX + 1]; /* WEBREQ_STATIC: "index.html", "app.js", ... */
};

/* Who may talk to the server: the token, the port and the address it listens on (NULL or "127.0.0.1" = the
 * loopback names 127.0.0.1 and localhost; another address is accepted in Host too). Strings are borrowed. */
struct webreq_policy {
  const char *token; /* WEBREQ_TOKEN_HEX chars */
  int port;
  const char *listen;
  size_t max_body; /* 0 = WEBREQ_MAX_BODY */
};

/* The parts of one request the rules look at (borrowed; NULL = header absent). path has no query string. */
struct webreq {
  enum webreq_method method;
  const char *path;
  const char *query; /* the raw query string after '?' (or NULL) */
  const char *host;
  const char *origin;
  const char *authorization; /* the Authorization header */
  int websocket;             /* the request asks for a WebSocket upgrade */
  long long content_length;  /* -1 = not given */
};

/* Routes and checks a request before its body is read. Returns 0 (serve it: *t filled) or the HTTP status to
 * refuse with (403 foreign Host/Origin, 404, 405 wrong method, 401 missing or wrong token, 413 body too large),
 * with msg set. Static files need no token; every /api path does. */
int webreq_check(const struct webreq_policy *p, const struct webreq *r, struct webreq_target *t, char *msg,
                 size_t msglen);

/* 1 if host (a Host header value) names this server: 127.0.0.1:PORT, localhost:PORT, [::1]:PORT or
 * LISTEN:PORT (the port may be omitted only for port 80). */
int webreq_host_ok(const struct webreq_policy *p, const char *host);
/* 1 if origin is absent (non-browser client) or http://<an accepted host>. */
int webreq_origin_ok(const struct webreq_policy *p, const char *origin);
/* 1 if the request carries the token (Authorization: Bearer T, or token=T in the query); constant time. */
int webreq_token_ok(const struct webreq_policy *p, const char *authorization, const char *query);

/* A POST body parsed for its route. Strings point into *json (owned by the caller: json_decref it). */
struct webreq_body {
  const char *text; /* ASK */
  int iteration;    /* UNDO (0 = the last), RESTORE (>= 1) */
  int force;        /* UNDO, RESTORE */
  int request;      /* CANCEL (0 = the running one) */
};
/* Parses body (len bytes, may be empty for CANCEL/UNDO/NEW) for route. Returns 0, or 400 with msg (malformed
 * JSON with its line/column, not an object, a missing or mistyped field, an unknown field), or 413 when len is
 * over the limit. On 0, *json is a new reference (or NULL for an empty body). */
int webreq_body(const struct webreq_policy *p, enum webreq_route route, const char *body, size_t len,
                struct webreq_body *out, json_t **json, char *msg, size_t msglen);

/* The content type of a static file by its extension ("application/octet-stream" if unknown). */
const char *webreq_mime(const char *file);

/* Writes 32 random bytes as WEBREQ_TOKEN_HEX hex chars + NUL into out (size > WEBREQ_TOKEN_HEX). Returns 0 or a
 * negative libuv error. */
int webreq_make_token(char *out, size_t outlen);

#endif
