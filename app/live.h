/* live: the live session — one DAW link, a mirror kept current by the DAW's feedback, the conversation, the
 * history, and a queue of requests; the one core every face (CLI over the control socket, REPL, OSC surface,
 * web page, MCP) talks to. A face turns its input into live requests and encodes live events; it holds no logic
 * of its own (validation, outcomes, undo rules, budgets are decided here or below).
 *
 *   live_new → live_start (connect, sync; reconnects by itself) → live_submit ... → live_close
 *
 * ONE EVENT MODEL. Every event is a JSON object with a "type" and, for request events, the "request" id. Faces
 * subscribe (live_subscribe) and encode the object for their transport (control socket and WebSocket: the object
 * as one line of JSON; OSC surface: /dawbridge/plan|step|done|error|busy; MCP: progress notifications and the
 * call result). The object is borrowed for the callback; json_deep_copy/json_incref to keep it.
 *
 *   {"type":"queued",   "request":N, "kind":"ask", "text":"...", "client":"ctl:3", "position":P}  P = 0: runs now
 *   {"type":"started",  "request":N, "kind":"ask", "text":"...", "client":"..."}
 *   {"type":"stage",    "request":N, "stage":"planning"|"validating"|"confirming"|"executing"|"verifying"|
 *                        "fixing"|"saving"}
 *   {"type":"plan_delta","request":N, "attempt":0, "text":"..."}          stage-1 text as it streams
 *   {"type":"plan",     "request":N, "attempt":0, "plan":{plan_to_json}, "errors":[...], "text":"..."}
 *   {"type":"step",     "request":N, "index":i (1-based plan step, 0 = not a plan step), "total":T (plan steps),
 *                        "tool":"create_track", "args":{...}, "outcome":"confirmed"|"uncertain"|"failed",
 *                        "result":{...}|null, "message":"..."|null}
 *   {"type":"violation","request":N, "violation":{...}}
 *   {"type":"done",     "request":N, "kind":"ask", "status":"ok"|"<agent/undo error name>", "exit_code":E
 *                        (app/cli.h codes), "confirmed":c, "uncertain":u, "failed":f, "total":T,
 *                        "summary":"one line", "iteration":K|null, "response":{the agent's response object}|null}
 *   {"type":"error",    "request":N|null, "message":"..."}              a request refused before it ran, etc.
 *   {"type":"state",    "changed":["t3", "tempo", ...]}                  the mirror changed (coalesced, <= 10/s)
 *   {"type":"connection","state":"connected"|"lost"|"resynced", "message":"..."}
 *   {"type":"conversation","state":"new"}
 *
 * Every request ends with exactly one "done" event (also when refused, cancelled, or the DAW is gone: then
 * status names the error and exit_code follows app/cli.h). Requests run one at a time in submission order
 * (a FIFO queue); state/history/status reads never queue.
 *
 * Conversation: each "ask" goes to stage 1 with the earlier asks of this conversation — their requests, plans
 * and outcomes — bounded by the prompt budget (agent_set_conversation). LIVE_NEW starts a fresh one.
 *
 * Ownership: live_t owns the DAW link (daw_t), the llm_t, the agent_t and the history handle; strings in the
 * config are copied. Everything runs on the loop; no callback is called synchronously from a live_* call.
 */
#ifndef DAWBRIDGE_LIVE_H
#define DAWBRIDGE_LIVE_H

#include <jansson.h>
#include <uv.h>

#include "daw.h"
#include "mock_embed.h"
#include "log.h"

typedef struct live live_t;

enum live_err {
  LIVE_OK = 0,
  LIVE_EINVAL = -1, /* bad request (unknown kind, missing text, bad iteration number) */
  LIVE_ENOMEM = -2,
  LIVE_ECONFIG = -3, /* no model configured, maps/prompts missing */
  LIVE_EDAW = -4,    /* the DAW is not connected (a request submitted while it is down ends with this) */
  LIVE_EFULL = -5,   /* the queue is full (LIVE_QUEUE_MAX) */
  LIVE_ENOENT = -6,  /* no such request / iteration */
  LIVE_ECLOSED = -7, /* live_close was called */
};
const char *live_strerror(int code);

#define LIVE_QUEUE_MAX 64

enum live_kind {
  LIVE_ASK = 0, /* text: the musician's request; the whole two-stage agent */
  LIVE_PLAN,    /* text: stage 1 only */
  LIVE_EXEC,    /* text: a plan in the plan format; label: its name */
  LIVE_CALL,    /* tool + args: one tool call, validated like any other */
  LIVE_UNDO,    /* iteration: 0 = the last; flags LIVE_FORCE: revert conflicting edits of the musician too */
  LIVE_RESTORE, /* iteration N; flags LIVE_FORCE */
  LIVE_NEW,     /* start a new conversation (runs in queue order) */
  LIVE_SAVE,    /* text (optional): the message; a snapshot of the mirror saved as a "user" iteration */
};
#define LIVE_FORCE 1u

struct live_request {
  enum live_kind kind;
  const char *text;   /* ASK, PLAN, EXEC */
  const char *label;  /* EXEC: the iteration's user_message; NULL = "exec" */
  const char *tool;   /* CALL */
  const json_t *args; /* CALL (borrowed; copied) */
  int iteration;      /* UNDO / RESTORE */
  unsigned flags;
  const char *client; /* who sent it, for events and logs ("ctl:3", "surface:127.0.0.1:9000", "web:2",
                           * "mcp", "repl"); copied */
};

struct live_config {
  struct daw_config daw; /* how to reach the DAW (strings copied) */
  int embedded_mock;     /* 1 = start an in-process mock DAW (--daw mock, app/mock_embed.h) with `mock` */
  struct mock_embed_config mock;
  /* the model: the same resolution as the CLI (llm_config_resolve); NULL fields = env/config/defaults */
  const char *llm, *model, *llm_url, *transcript;
  const char *executor;  /* "llm" (default) | "direct" */
  const char *json_mode; /* --json-mode auto|schema|object|off; NULL = DAWBRIDGE_JSON_MODE / auto (agent/llm.h) */
  int max_turns;
  long context_budget;
  int profile;
  const char *data_dir;    /* NULL = XDG */
  const char *composition; /* NULL = from the DAW project */
  int reconnect_ms;        /* first retry after the DAW went away; 0 = 1000 (backoff to 10 s) */
  struct log_sink log;
};

int live_new(uv_loop_t *loop, const struct live_config *cfg, live_t **out, char *err, size_t errlen);

/* The agent's configuration for cfg's options (executor, turns, prompt budget, profile, data place, log; streaming
 * on) with daw and llm (borrowed); the callbacks, confirm and any override are the caller's. The daemon and the
 * one-shot commands (app/cmd_agent.c) build their agents with it. */
struct agent_config;
struct llm;
void live_agent_config(const struct live_config *cfg, daw_t *daw, struct llm *llm, struct agent_config *ac);
/* Connects and mirrors the DAW; cb(status, message) once the first sync ends (status < 0: not reachable — the
 * live session keeps retrying and emits "connection" events; requests end with LIVE_EDAW meanwhile). Requests
 * submitted before the first sync ends wait for it in the queue (bounded by the sync's own deadline), then run, or
 * end with status "unreachable" (exit 2) when it failed; live_status says "first_sync": true meanwhile. */
int live_start(live_t *l, void (*cb)(int status, const char *message, void *data), void *data);

/* Queues a request; returns its id (> 0) or a negative live_err (then no event is emitted). */
int live_submit(live_t *l, const struct live_request *req);
/* Cancels request id (0 = the running one): a queued one ends with status "cancelled" at once; the running one
 * stops sending, keeps its confirmed part as a partial iteration (agent_cancel), and ends exit_code 130. */
int live_cancel(live_t *l, int id);

/* Reads (never queued; new references, caller decrefs): the mirror as session JSON; the history list;
 * {"running": {"request","kind","text","client","stage"}|null, "queue":[...], "connected":bool,
 * "first_sync":bool, "dialect":"...",
 * "conversation_turns":n}. */
json_t *live_state(live_t *l);
json_t *live_history(live_t *l, char *err, size_t errlen);
json_t *live_status(live_t *l);
/* The tools of the DAW now (new reference): {"dialect", "companion": bool, "available": [names], "unavailable":
 * [{"tool", "reason"}]} — of the daemon's DAW (NULL with err when it is not connected), or of any daw_t. */
json_t *live_tools(live_t *l, char *err, size_t errlen);
json_t *live_tools_of(daw_t *d);
/* One iteration of the history (new reference) or NULL with err. */
json_t *live_iteration(live_t *l, int number, char *err, size_t errlen);

typedef void (*live_event_cb)(const json_t *event, void *data);
/* Returns a subscription id (> 0); every event from now on goes to cb until live_unsubscribe. Safe to call
 * live_unsubscribe from inside cb. */
int live_subscribe(live_t *l, live_event_cb cb, void *data);
void live_unsubscribe(live_t *l, int subscription);

/* "ask", "plan", ... (the control socket's and the events' names); live_kind_parse: the kind or -1. */
const char *live_kind_name(enum live_kind k);
int live_kind_parse(const char *name);
/* The exit code of one tool call (LIVE_CALL and `dawbridge call`): daw_exit_code for an error, 0 for a
 * "confirmed" result, 3 for anything else (uncertain: sent, no word from the DAW). result borrowed. */
int live_call_exit_code(int status, const json_t *result);

const char *live_dialect(const live_t *l);
daw_t *live_daw(live_t *l); /* borrowed: read-only use (catalog, capabilities) by faces that list tools */

/* Cancels the running request (its done event is still emitted), drops the queue (each queued request gets its
 * done event with status "cancelled"), closes the agent, the llm and the DAW, frees l, then cb(data). */
void live_close(live_t *l, void (*cb)(void *data), void *data);

#endif
