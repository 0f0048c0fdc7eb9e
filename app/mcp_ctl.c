/* mcp_ctl: the MCP server's core when a live daemon runs for the DAW — its control socket (app/ctl.h) instead of an
 * in-process live_t, so MCP clients share the daemon's link, mirror, conversation and history.
 *
 * The protocol engine wants a request id at once (live_submit's contract); the daemon gives its id in a reply.
 * So each submit gets a local id now, the daemon's id is mapped to it when the reply comes, and the daemon's
 * events are handed on with the local id. A cancel before the reply is sent once the id is known. Reads wait
 * for their reply. When the daemon goes away, every call still waiting ends ("done", exit 2) and every read
 * fails, then on_gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_client.h"
#include "mcp.h"

struct mc_req {
  int local, remote; /* remote 0 until the submit's reply */
  int cancel_wanted;
  struct mc_req *next;
};

struct mc_read {
  int key;
  struct mcp_read *op;
  struct mc_read *next;
};

struct mcp_ctl {
  ctl_client_t *cl;
  mcp_server_t *srv;
  struct mcp_ctl_callbacks cb;
  int next_local, next_key;
  struct mc_req *reqs;
  struct mc_read *reads;
  int gone;
  void (*close_cb)(void *data);
  void *close_data;
};

static struct mc_req *req_by(struct mcp_ctl *m, int local, int remote) {
  for (struct mc_req *r = m->reqs; r; r = r->next)
    if ((local && r->local == local) || (remote && r->remote == remote)) return r;
  return NULL;
}

static void req_drop(struct mcp_ctl *m, struct mc_req *r) {
  for (struct mc_req **pp = &m->reqs; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      free(r);
      return;
    }
}

static int send_msg(struct mcp_ctl *m, json_t *msg /* steals */) {
  int rc = m->gone || !msg ? UV_ENOTCONN : ctl_client_send(m->cl, msg);
  json_decref(msg);
  return rc;
}

/* A call the daemon refused or could not finish: its error and done events, as live would emit them. */
static void end_call(struct mcp_ctl *m, int local, const char *status, int exit_code, const char *why) {
  json_t *ev = json_pack("{ss si ss}", "type", "error", "request", local, "message", why);
  if (m->srv && ev) mcp_server_event(m->srv, ev);
  json_decref(ev);
  ev = json_pack("{ss si ss si si si si si ss}", "type", "done", "request", local, "status", status, "exit_code",
                 exit_code, "confirmed", 0, "uncertain", 0, "failed", 0, "total", 0, "summary", why);
  if (m->srv && ev) mcp_server_event(m->srv, ev);
  json_decref(ev);
}

static int be_submit(void *d, const struct live_request *q) {
  struct mcp_ctl *m = d;
  if (m->gone) return LIVE_EDAW;
  struct mc_req *r = calloc(1, sizeof *r);
  if (!r) return LIVE_ENOMEM;
  r->local = ++m->next_local;
  json_t *req = json_pack("{ss}", "kind", live_kind_name(q->kind));
  if (q->text) json_object_set_new(req, "text", json_string(q->text));
  if (q->label) json_object_set_new(req, "label", json_string(q->label));
  if (q->tool) json_object_set_new(req, "tool", json_string(q->tool));
  if (q->args) json_object_set_new(req, "args", json_deep_copy(q->args));
  if (q->kind == LIVE_UNDO || q->kind == LIVE_RESTORE)
    json_object_set_new(req, "iteration", json_integer(q->iteration));
  if (q->flags & LIVE_FORCE) json_object_set_new(req, "force", json_true());
  char id[32];
  snprintf(id, sizeof id, "s%d", r->local);
  json_t *msg = json_pack("{ss ss so}", "op", "submit", "id", id, "request", req);
  /* the control socket takes lines up to CTL_LINE_MAX and closes on a longer one: refuse it here instead */
  if (msg && json_dumpb(msg, NULL, 0, JSON_COMPACT) >= CTL_LINE_MAX) {
    fprintf(stderr, "dawbridge mcp: a request of more than %u bytes cannot go through the daemon's control socket\n",
            CTL_LINE_MAX);
    json_decref(msg);
    free(r);
    return LIVE_EINVAL;
  }
  if (send_msg(m, msg)) {
    free(r);
    return LIVE_EDAW;
  }
  r->next = m->reqs;
  m->reqs = r;
  return r->local;
}

static int be_cancel(void *d, int local) {
  struct mcp_ctl *m = d;
  struct mc_req *r = req_by(m, local, 0);
  if (!r) return LIVE_ENOENT;
  if (!r->remote) {
    r->cancel_wanted = 1;
    return LIVE_OK;
  }
  send_msg(m, json_pack("{ss ss si}", "op", "cancel", "id", "c", "request", r->remote));
  return LIVE_OK;
}

static void be_read(void *d, enum mcp_read_what what, int n, struct mcp_read *op) {
  struct mcp_ctl *m = d;
  struct mc_read *rd = calloc(1, sizeof *rd);
  if (!rd || m->gone) {
    free(rd);
    mcp_server_read_done(m->srv, op, NULL, m->gone ? "the daemon went away" : "out of memory");
    return;
  }
  rd->key = ++m->next_key;
  rd->op = op;
  char id[32];
  snprintf(id, sizeof id, "r%d", rd->key);
  json_t *msg = what == MCP_READ_STATE     ? json_pack("{ss ss}", "op", "state", "id", id)
                : what == MCP_READ_HISTORY ? json_pack("{ss ss}", "op", "history", "id", id)
                                           : json_pack("{ss ss si}", "op", "iteration", "id", id, "number", n);
  if (send_msg(m, msg)) {
    free(rd);
    mcp_server_read_done(m->srv, op, NULL, "cannot reach the daemon");
    return;
  }
  rd->next = m->reads;
  m->reads = rd;
}

static void on_reply(struct mcp_ctl *m, const json_t *msg) {
  const char *id = json_string_value(json_object_get(msg, "id"));
  int ok = json_is_true(json_object_get(msg, "ok"));
  const char *error = json_string_value(json_object_get(msg, "error"));
  json_t *result = json_object_get(msg, "result");
  if (!id || (id[0] != 's' && id[0] != 'r')) return; /* cancel and subscribe replies */
  int key = atoi(id + 1);
  if (id[0] == 's') {
    struct mc_req *r = req_by(m, key, 0);
    if (!r) return;
    if (!ok) {
      int local = r->local;
      req_drop(m, r);
      end_call(m, local, "refused", 4, error ? error : "the daemon refused the request");
      return;
    }
    r->remote = (int)json_integer_value(json_object_get(result, "request"));
    if (r->cancel_wanted && r->remote)
      send_msg(m, json_pack("{ss ss si}", "op", "cancel", "id", "c", "request", r->remote));
    return;
  }
  for (struct mc_read **pp = &m->reads; *pp; pp = &(*pp)->next) {
    struct mc_read *rd = *pp;
    if (rd->key != key) continue;
    *pp = rd->next;
    struct mcp_read *op = rd->op;
    free(rd);
    mcp_server_read_done(m->srv, op, ok && result ? json_incref(result) : NULL,
                         ok ? NULL : (error ? error : "the daemon could not read it"));
    return;
  }
}

static void on_message(ctl_client_t *cl, const json_t *msg, void *data) {
  (void)cl;
  struct mcp_ctl *m = data;
  const char *type = json_string_value(json_object_get(msg, "type"));
  if (!type) return;
  if (!strcmp(type, "reply")) {
    on_reply(m, msg);
    return;
  }
  json_t *rq = json_object_get(msg, "request");
  if (!json_is_integer(rq)) {
    if (m->cb.on_event) m->cb.on_event(msg, m->cb.data);
    if (m->srv) mcp_server_event(m->srv, msg);
    return;
  }
  struct mc_req *r = json_integer_value(rq) > 0 ? req_by(m, 0, (int)json_integer_value(rq)) : NULL;
  if (!r) return; /* another client's request */
  json_t *ev = json_copy((json_t *)msg);
  json_object_set_new(ev, "request", json_integer(r->local));
  if (!strcmp(type, "done")) req_drop(m, r);
  if (m->srv) mcp_server_event(m->srv, ev);
  if (m->cb.on_event) m->cb.on_event(ev, m->cb.data);
  json_decref(ev);
}

static void fail_all(struct mcp_ctl *m, const char *why) {
  while (m->reqs) {
    int local = m->reqs->local;
    req_drop(m, m->reqs);
    end_call(m, local, "unreachable", 2, why);
  }
  while (m->reads) {
    struct mc_read *rd = m->reads;
    m->reads = rd->next;
    struct mcp_read *op = rd->op;
    free(rd);
    mcp_server_read_done(m->srv, op, NULL, why);
  }
}

static void on_close(ctl_client_t *cl, const char *why, void *data) {
  (void)cl;
  struct mcp_ctl *m = data;
  m->gone = 1;
  char msg[300];
  snprintf(msg, sizeof msg, "the daemon went away (%s)", why ? why : "closed");
  fail_all(m, msg);
  if (m->cb.on_gone) m->cb.on_gone(msg, m->cb.data);
}

static void on_connect(ctl_client_t *cl, int status, void *data) {
  (void)cl;
  struct mcp_ctl *m = data;
  if (status >= 0)
    send_msg(m, json_pack("{ss ss}", "op", "subscribe", "id", "u"));
  else
    m->gone = 1;
  if (m->cb.on_ready) m->cb.on_ready(status, m->cb.data);
}

int mcp_ctl_connect(uv_loop_t *loop, const char *path, const struct mcp_ctl_callbacks *cb, mcp_ctl_t **out) {
  *out = NULL;
  struct mcp_ctl *m = calloc(1, sizeof *m);
  if (!m) return UV_ENOMEM;
  m->cb = *cb;
  struct ctl_client_callbacks cc = {on_connect, on_message, on_close, m};
  int rc = ctl_client_connect(loop, path, &cc, &m->cl);
  if (rc) {
    free(m);
    return rc;
  }
  *out = m;
  return 0;
}

void mcp_ctl_backend(mcp_ctl_t *m, struct mcp_backend *b) {
  b->data = m;
  b->submit = be_submit;
  b->cancel = be_cancel;
  b->read = be_read;
  b->strerror = live_strerror;
}

void mcp_ctl_set_server(mcp_ctl_t *m, mcp_server_t *srv) { m->srv = srv; }

static void on_client_closed(void *data) {
  struct mcp_ctl *m = data;
  void (*cb)(void *) = m->close_cb;
  void *cd = m->close_data;
  while (m->reqs) req_drop(m, m->reqs);
  while (m->reads) {
    struct mc_read *rd = m->reads;
    m->reads = rd->next;
    free(rd);
  }
  free(m);
  if (cb) cb(cd);
}

void mcp_ctl_close(mcp_ctl_t *m, void (*cb)(void *data), void *data) {
  m->close_cb = cb;
  m->close_data = data;
  m->gone = 1;
  /* the requests keep running in the daemon; the reads are forgotten here (the server frees its own) */
  m->srv = NULL;
  ctl_client_close(m->cl, on_client_closed, m);
}
