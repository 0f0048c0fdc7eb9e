/* ctl: the live daemon's control socket (server side). A Unix stream socket, mode 0600, at
 * $XDG_RUNTIME_DIR/dawbridge/<name>.sock (fallback /tmp/dawbridge-$UID/<name>.sock; the directory is created
 * 0700 and refused when another user owns it or others may write it). A socket path owned by another user is
 * refused; a socket left by a dead daemon (connect fails) is replaced; one that answers means a daemon runs:
 * CTL_EBUSY. <name> is the dialect ("reaper", "ardour") or "mock-reaper" / "mock-ardour" for `--daw mock`.
 *
 * PROTOCOL: newline-delimited JSON both ways, one object per line (UTF-8, at most CTL_LINE_MAX bytes a line).
 * Client → daemon ("id" optional, any string, echoed in the reply):
 *   {"op":"submit","id":"c1","request":{"kind":"ask"|"plan"|"exec"|"call"|"undo"|"restore"|"new"|"save",
 *        "text":"...", "label":"...", "tool":"...", "args":{...}, "iteration":N, "force":true}}
 *        → result {"request": N}; then the events of request N come on this connection.
 *   {"op":"cancel","id":..,"request":N}          N = 0: the running request      → result {"request": N}
 *   {"op":"state"}                                → result: the mirror (session JSON)
 *   {"op":"history"}                              → result: {"composition","data_dir","dir","iterations","warnings"}
 *   {"op":"iteration","number":N}                 → result: the iteration object
 *   {"op":"status"}                               → result: live_status()
 *   {"op":"tools"}                                → result: live_tools() (error while the DAW is not connected)
 *   {"op":"subscribe"}                            → result {"subscribed": true}; every event from now on
 * Daemon → client: {"type":"reply","id":..,"ok":true,"result":...} | {"type":"reply","id":..,"ok":false,
 *   "error":"..."}, and the live events (live.h) as they happen: the events of the client's own requests, and
 *   every event after "subscribe". A malformed line (not JSON, not an object, unknown op or kind, wrong types)
 *   gets an error reply and the connection stays; a line longer than CTL_LINE_MAX gets an error reply and the
 *   connection is closed. A client that does not read its events (more than CTL_BACKLOG_MAX bytes queued) is
 *   disconnected. A request keeps running when its client disconnects.
 */
#ifndef DAWBRIDGE_CTL_H
#define DAWBRIDGE_CTL_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "live.h"
#include "log.h"
#include "strbuf.h"

#define CTL_LINE_MAX (1u << 20)
#define CTL_BACKLOG_MAX (16u << 20)

enum ctl_err {
  CTL_OK = 0,
  CTL_EINVAL = -1, /* bad argument; a malformed request line */
  CTL_ENOMEM = -2,
  CTL_EBUSY = -3, /* a daemon already answers on that socket */
  CTL_EPERM = -4, /* the directory or the socket path belongs to another user, or others may write the dir */
  CTL_EIO = -5,   /* cannot create the directory, bind, listen */
};
const char *ctl_strerror(int code);

/* The socket path for name (see above) into buf. mkdir: create the directory (0700) if missing, and check it.
 * Returns 0 or a negative ctl_err with err. */
int ctl_socket_path(const char *name, char *buf, size_t len, int mkdir, char *err, size_t errlen);

/* ---- reading lines: the server's connections and the client (ctl_client.c) share this ---- */
/* libuv's alloc callback for a connection whose unread bytes are in b: room at b's end for the next read (64 KiB
 * more, never past CTL_LINE_MAX + 64 KiB in all; an empty buffer when memory ran out, so the read fails). */
void ctl_line_alloc(strbuf_t *b, uv_buf_t *out);
/* After a read of n bytes into that room: calls line(data, text, len) for each complete line (without its newline)
 * until it returns non-zero, then keeps the unfinished rest in b. Returns 1 when line() stopped it, -1 when the rest
 * is longer than CTL_LINE_MAX (the caller closes the connection), else 0. */
int ctl_line_feed(strbuf_t *b, size_t n, int (*line)(void *data, const char *text, size_t len), void *data);

/* ---- the request-line parser (pure; fuzz/fuzz_ctl.c) ---- */
enum ctl_op {
  CTL_OP_SUBMIT = 0,
  CTL_OP_CANCEL,
  CTL_OP_STATE,
  CTL_OP_HISTORY,
  CTL_OP_ITERATION,
  CTL_OP_STATUS,
  CTL_OP_SUBSCRIBE,
  CTL_OP_TOOLS
};
struct ctl_msg {
  enum ctl_op op;
  const char *id;          /* NULL when absent; borrowed from root */
  struct live_request req; /* SUBMIT (strings and args borrowed from root; client NULL) */
  int number;              /* CANCEL: request; ITERATION: number */
  json_t *root;            /* the parsed line (owned; ctl_msg_clear) */
};
/* Parses one line (without its newline). Returns 0, or CTL_EINVAL with err (out->id still set when the line was an
 * object with a string "id", so the error reply can carry it; call ctl_msg_clear either way). */
int ctl_parse_line(const char *line, size_t len, struct ctl_msg *out, char *err, size_t errlen);
void ctl_msg_clear(struct ctl_msg *m);

/* ---- the server ---- */
typedef struct ctl ctl_t;

/* Binds path (see ctl_socket_path) and serves live (borrowed; must outlive the server). */
int ctl_new(uv_loop_t *loop, live_t *live, const char *path, const struct log_sink *log, ctl_t **out, char *err,
            size_t errlen);
int ctl_clients(const ctl_t *c);
/* Closes the listener and every connection, removes the socket file, frees in the last close callback, cb(data). */
void ctl_close(ctl_t *c, void (*cb)(void *data), void *data);

#endif
