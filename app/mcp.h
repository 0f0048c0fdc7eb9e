/* mcp: the Model Context Protocol face — JSON-RPC 2.0 frames in, frames out, over the live core's requests and
 * events. It holds no logic of its own: validation, outcomes, undo rules are decided by the core (live.h).
 *
 *   mcp_server_new → mcp_server_frame (each line read) / mcp_server_event (each live event) → mcp_server_free
 *
 * The server is transport-free (app/mcp.c connects it to stdin/stdout on the loop; fuzz/fuzz_mcp.c feeds it
 * bytes): every frame it produces goes to cfg->send as one line of compact JSON without the trailing newline.
 *
 * Protocol (revision MCP_PROTOCOL_LATEST, negotiated down to the older ones the official SDK supports):
 * initialize, notifications/initialized, ping, tools/list, tools/call, resources/list, resources/templates/list,
 * resources/read, resources/subscribe, resources/unsubscribe, notifications/cancelled; the server sends
 * notifications/progress (a call with _meta.progressToken: one per live event of its request) and
 * notifications/resources/updated (subscribed URIs, when the mirror changed or an iteration was saved).
 *
 * Errors: -32700 unparsable frame, -32600 not a JSON-RPC 2.0 request (batches included: MCP has none), -32601
 * unknown method, -32602 bad params (also: unknown tool, unknown resource — as the TypeScript SDK and SEP-2164),
 * MCP_ERR_NOT_INITIALIZED for a request other than initialize/ping before initialize. A tool the core refused
 * or that failed is a result with isError: true, not a protocol error.
 *
 * Tools: the vocabulary's tools the DAW can run now (backend->tools: name, description, kind, idempotent,
 * parameters — the schemas come from the one vocabulary table), plus ask, undo and history. Annotations come
 * from the kind (read → readOnlyHint; change/delete → destructiveHint) and the idempotent flag. At most
 * MCP_TOOLS_MAX tools, descriptions at most MCP_DESC_MAX characters; profile "small" lists MCP_SMALL_TOOLS.
 */
#ifndef DAWBRIDGE_MCP_H
#define DAWBRIDGE_MCP_H

#include <jansson.h>
#include <stddef.h>

#include "live.h"

#define MCP_PROTOCOL_LATEST "2025-11-25"
#define MCP_FRAME_MAX (4u * 1024u * 1024u) /* bytes of one frame; a longer line is refused and skipped */
#define MCP_TOOLS_MAX 40                   /* the whole tool set stays below this */
#define MCP_DESC_MAX 300                   /* characters of one tool description */
#define MCP_SMALL_TOOLS 10                 /* tools of the small profile */

enum mcp_err {
  MCP_OK = 0,
  MCP_EINVAL = -1,
  MCP_ENOMEM = -2,
};
const char *mcp_strerror(int code);

/* JSON-RPC error codes. */
enum {
  MCP_ERR_PARSE = -32700,
  MCP_ERR_INVALID_REQUEST = -32600,
  MCP_ERR_METHOD = -32601,
  MCP_ERR_PARAMS = -32602,
  MCP_ERR_INTERNAL = -32603,
  MCP_ERR_NOT_INITIALIZED = -32000, /* the official TypeScript SDK's "Server not initialized" */
};

enum mcp_read_what { MCP_READ_STATE, MCP_READ_HISTORY, MCP_READ_ITERATION };
struct mcp_read; /* one read the server waits for (owned by the server) */

/* What the server asks of the core. In-process these are live_* on a live_t; as a daemon client they go over the
 * control socket. Every function may be NULL (then the matching tools/resources answer "not available"). */
struct mcp_backend {
  void *data;
  /* live_submit: returns the request id (> 0) or a negative live_err; its events reach mcp_server_event. */
  int (*submit)(void *data, const struct live_request *req);
  int (*cancel)(void *data, int id);
  /* Reads (live_state, live_history, live_iteration n): answered with mcp_server_read_done(op, ...), at once or
   * later (the daemon's reply). */
  void (*read)(void *data, enum mcp_read_what what, int n, struct mcp_read *op);
  /* The vocabulary's tools this DAW can run now (new reference): [{name, description, kind, idempotent?,
   * parameters}] */
  json_t *(*tools)(void *data);
  void *tools_data;                  /* tools' data; NULL = data */
  const char *(*strerror)(int code); /* live_strerror: words for submit's negative codes */
};

struct mcp_server_config {
  struct mcp_backend backend;
  int small;           /* the small profile: MCP_SMALL_TOOLS tools */
  const char *version; /* serverInfo.version */
  /* one outgoing frame (compact JSON, no newline; borrowed for the call) */
  void (*send)(const char *frame, size_t len, void *data);
  void *send_data;
  struct log_sink log;
};

typedef struct mcp_server mcp_server_t;

int mcp_server_new(const struct mcp_server_config *cfg, mcp_server_t **out);
void mcp_server_free(mcp_server_t *s); /* pending calls are forgotten (not answered) */

/* One incoming frame (one line without its newline; need not be NUL-terminated). Never fails: bad input is
 * answered with the JSON-RPC error above. */
void mcp_server_frame(mcp_server_t *s, const char *frame, size_t len);
/* A line longer than MCP_FRAME_MAX was dropped: answer -32600 (id null; the id cannot be read). */
void mcp_server_oversized(mcp_server_t *s, size_t len);
/* One live event (borrowed): progress for calls, their results on "done", resource updates on "state". */
void mcp_server_event(mcp_server_t *s, const json_t *event);
/* The core's answer to backend.read: result (steals; NULL = failed, err says why). op is invalid afterwards. */
void mcp_server_read_done(mcp_server_t *s, struct mcp_read *op, json_t *result, const char *err);
/* Tool calls still waiting for their "done", and reads still waiting for the core. */
int mcp_server_pending(const mcp_server_t *s);

/* The tools/list array this server offers (new reference) — for tests and `dawbridge mcp --list`. */
json_t *mcp_server_tools(mcp_server_t *s);

/* ---- app/mcp_ctl.c: the core as a client of a running live daemon (its control socket, app/ctl.h) ---- */
typedef struct mcp_ctl mcp_ctl_t;
struct mcp_ctl_callbacks {
  void (*on_ready)(int status, void *data);       /* connected (0) or not (< 0, a libuv error: no daemon) */
  void (*on_event)(const json_t *ev, void *data); /* every event handed to the server (borrowed) */
  void (*on_gone)(const char *why, void *data);   /* the daemon went away: calls ended, reads failed */
  void *data;
};
int mcp_ctl_connect(uv_loop_t *loop, const char *path, const struct mcp_ctl_callbacks *cb, mcp_ctl_t **out);
/* Fills b with the daemon-backed submit/cancel/read (tools: the caller's). */
void mcp_ctl_backend(mcp_ctl_t *m, struct mcp_backend *b);
/* The server the daemon's events and replies go to (borrowed; NULL = none). */
void mcp_ctl_set_server(mcp_ctl_t *m, mcp_server_t *srv);
/* Closes the connection (requests keep running in the daemon); frees in the close callback, then cb(data). */
void mcp_ctl_close(mcp_ctl_t *m, void (*cb)(void *data), void *data);

/* The command: `dawbridge mcp` (app/mcp.c). */
struct cli;
int cmd_mcp(struct cli *c);

#endif
