/* web: the web face of the live session. HTTP + WebSocket on ONE port, served by Debian's libwebsockets 4.1 with
 * its libuv event library on the daemon's own loop (a foreign loop: lws adds its handles to it, starts no thread,
 * and removes them again when closed). A thin layer over app/live.h: every request becomes a live request,
 * every live event goes to each WebSocket client as one text frame (the event object as JSON).
 *
 *   GET  /                 the page (index.html; app.js, style.css beside it), from the static dir, no token
 *   GET  /api/state        live_state            GET /api/status     live_status
 *   GET  /api/history      live_history          GET /api/iteration/N live_iteration
 *   POST /api/ask {text}                        -> 202 {"request": id}
 *   POST /api/cancel {request?}                 -> 200 {"cancelled": id}  (0/absent = the running request)
 *   POST /api/undo {iteration?, force?}         -> 202 {"request": id}
 *   POST /api/restore {iteration, force?}       -> 202 {"request": id}
 *   POST /api/new                               -> 202 {"request": id}
 *   WS   /api/events       every live event object, one text frame each
 *
 * Security (rules in app/web_req.h): every /api path and the WebSocket need the token (Authorization: Bearer T
 * or ?token=T); Host must name this server and Origin, when sent, too (DNS rebinding) -> 403; bodies over
 * 64 KiB -> 413; malformed JSON -> 400 {"error": "..."}. Errors are always JSON {"error": "..."}.
 *
 *   web_new (listening when it returns) → ... → web_close(cb)
 */
#ifndef DAWBRIDGE_WEB_H
#define DAWBRIDGE_WEB_H

#include <stddef.h>
#include <uv.h>

#include "live.h"
#include "log.h"

typedef struct web web_t;

enum web_err {
  WEB_OK = 0,
  WEB_EINVAL = -1, /* bad config (port out of range, listen address too long) */
  WEB_ENOMEM = -2,
  WEB_ELISTEN = -3, /* libwebsockets could not start or listen (port in use, no libuv event library) */
  WEB_ETOKEN = -4,  /* no random token, or the token file could not be written */
  WEB_ESTATIC = -5, /* the page's directory has no index.html */
};
const char *web_strerror(int code);

struct web_config {
  int port;                /* 1..65535; 0 = an ephemeral port (web_port tells which) */
  const char *listen;      /* NULL = "127.0.0.1"; another address widens who can reach it (a warning is logged) */
  const char *static_dir;  /* the page's files; NULL = the data lookup's web/ (bridge/datadir.h) */
  const char *runtime_dir; /* the token goes to <runtime_dir>/web-PORT.token (mode 0600); NULL = not written */
  const char *token;       /* NULL = 32 random bytes as hex (tests may fix one) */
  size_t max_body;         /* 0 = 64 KiB */
  struct log_sink log;
};

/* Starts the server on loop for live (borrowed; must outlive the web_t). Strings in cfg are copied. */
int web_new(uv_loop_t *loop, live_t *live, const struct web_config *cfg, web_t **out, char *err, size_t errlen);

/* The URL the musician opens: "http://HOST:PORT/?token=..." (borrowed, valid until web_close). */
const char *web_url(const web_t *w);
const char *web_token(const web_t *w);
int web_port(const web_t *w);
/* WebSocket clients connected now. */
int web_clients(const web_t *w);

/* Closes every connection and the listening socket, removes the token file, unsubscribes from live, frees w,
 * then cb(data) from the loop. lws's own handles are closed by then or close on the next loop turns. */
void web_close(web_t *w, void (*cb)(void *data), void *data);

#endif
