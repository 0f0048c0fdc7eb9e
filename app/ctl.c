/* ctl: the control socket server (see ctl.h). */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "errfmt.h"

const char *ctl_strerror(int code) {
  switch (code) {
  case CTL_OK: return "ok";
  case CTL_EINVAL: return "bad request";
  case CTL_ENOMEM: return "out of memory";
  case CTL_EBUSY: return "a daemon already answers on this socket";
  case CTL_EPERM: return "the socket's directory or path belongs to another user";
  case CTL_EIO: return "cannot create the control socket";
  default: return "unknown ctl error";
  }
}

/* ---- the socket path ---- */

static int check_dir(const char *dir, int mk, char *err, size_t errlen) {
  struct stat st;
  if (lstat(dir, &st)) {
    if (errno != ENOENT || !mk) return errfmt(err, errlen, CTL_EIO, "%s: %s", dir, strerror(errno));
    if (mkdir(dir, 0700) && errno != EEXIST)
      return errfmt(err, errlen, CTL_EIO, "cannot create %s: %s", dir, strerror(errno));
    if (lstat(dir, &st)) return errfmt(err, errlen, CTL_EIO, "%s: %s", dir, strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return errfmt(err, errlen, CTL_EPERM, "%s is not a directory", dir);
  if (st.st_uid != getuid())
    return errfmt(err, errlen, CTL_EPERM, "%s belongs to another user (uid %u)", dir, (unsigned)st.st_uid);
  if (st.st_mode & 022)
    return errfmt(err, errlen, CTL_EPERM, "%s may be written by others (mode %03o): refused", dir,
                  (unsigned)(st.st_mode & 0777));
  return CTL_OK;
}

int ctl_socket_path(const char *name, char *buf, size_t len, int mk, char *err, size_t errlen) {
  if (!name || !*name || strchr(name, '/') || !buf) return errfmt(err, errlen, CTL_EINVAL, "bad socket name");
  char dir[512];
  const char *rt = getenv("XDG_RUNTIME_DIR");
  if (rt && rt[0] == '/') {
    struct stat st;
    if (!stat(rt, &st) && S_ISDIR(st.st_mode)) {
      snprintf(dir, sizeof dir, "%s/dawbridge", rt);
    } else {
      rt = NULL;
    }
  } else {
    rt = NULL;
  }
  if (!rt) snprintf(dir, sizeof dir, "/tmp/dawbridge-%u", (unsigned)getuid());
  int rc = check_dir(dir, mk, err, errlen);
  if (rc && !(rc == CTL_EIO && !mk)) return rc;
  struct sockaddr_un sa;
  if ((size_t)snprintf(buf, len, "%s/%s.sock", dir, name) >= len || strlen(buf) >= sizeof sa.sun_path)
    return errfmt(err, errlen, CTL_EINVAL, "the socket path %s/%s.sock is too long for a Unix socket", dir, name);
  return CTL_OK;
}

/* ---- the request-line parser ---- */

void ctl_msg_clear(struct ctl_msg *m) {
  if (!m) return;
  json_decref(m->root);
  memset(m, 0, sizeof *m);
}

static const char *const op_names[] = {"submit",    "cancel", "state",     "history",
                                       "iteration", "status", "subscribe", "tools"};

static int opt_string(const json_t *o, const char *k, const char **out, char *err, size_t errlen) {
  const json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) return errfmt(err, errlen, CTL_EINVAL, "\"%s\" must be a string", k);
  *out = json_string_value(v);
  return 0;
}

static int int_field(const json_t *o, const char *k, int lo, int hi, int *out, int required, char *err, size_t errlen) {
  const json_t *v = json_object_get(o, k);
  if (!v) {
    if (required) return errfmt(err, errlen, CTL_EINVAL, "\"%s\" is missing", k);
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return errfmt(err, errlen, CTL_EINVAL, "\"%s\" must be an integer %d-%d", k, lo, hi);
  *out = (int)json_integer_value(v);
  return 0;
}

int ctl_parse_line(const char *line, size_t len, struct ctl_msg *m, char *err, size_t errlen) {
  memset(m, 0, sizeof *m);
  if (!line) return errfmt(err, errlen, CTL_EINVAL, "empty line");
  json_error_t je;
  m->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
  if (!m->root) return errfmt(err, errlen, CTL_EINVAL, "not JSON: %s (column %d)", je.text, je.column);
  if (!json_is_object(m->root)) return errfmt(err, errlen, CTL_EINVAL, "a request is a JSON object");
  const json_t *id = json_object_get(m->root, "id");
  if (id && !json_is_string(id)) return errfmt(err, errlen, CTL_EINVAL, "\"id\" must be a string");
  m->id = json_string_value(id);
  const char *op = json_string_value(json_object_get(m->root, "op"));
  if (!op) return errfmt(err, errlen, CTL_EINVAL, "\"op\" (a string) is missing");
  size_t k;
  for (k = 0; k < sizeof op_names / sizeof *op_names; k++)
    if (!strcmp(op_names[k], op)) break;
  if (k == sizeof op_names / sizeof *op_names)
    return errfmt(err, errlen, CTL_EINVAL,
                  "unknown op \"%.64s\" (submit, cancel, state, history, iteration, status, "
                  "subscribe, tools)",
                  op);
  m->op = (enum ctl_op)k;
  if (m->op == CTL_OP_CANCEL) return int_field(m->root, "request", 0, 0x7fffffff, &m->number, 1, err, errlen);
  if (m->op == CTL_OP_ITERATION) return int_field(m->root, "number", 1, 99999999, &m->number, 1, err, errlen);
  if (m->op != CTL_OP_SUBMIT) return 0;
  const json_t *r = json_object_get(m->root, "request");
  if (!json_is_object(r)) return errfmt(err, errlen, CTL_EINVAL, "\"request\" (an object) is missing");
  const char *kind = json_string_value(json_object_get(r, "kind"));
  int kd = live_kind_parse(kind);
  if (kd < 0)
    return errfmt(err, errlen, CTL_EINVAL,
                  "unknown request kind \"%.64s\" (ask, plan, exec, call, undo, restore, new, save)", kind ? kind : "");
  m->req.kind = (enum live_kind)kd;
  int rc = opt_string(r, "text", &m->req.text, err, errlen);
  if (!rc) rc = opt_string(r, "label", &m->req.label, err, errlen);
  if (!rc) rc = opt_string(r, "tool", &m->req.tool, err, errlen);
  if (!rc) rc = int_field(r, "iteration", 0, 99999999, &m->req.iteration, m->req.kind == LIVE_RESTORE, err, errlen);
  if (rc) return rc;
  const json_t *force = json_object_get(r, "force");
  if (force && !json_is_boolean(force)) return errfmt(err, errlen, CTL_EINVAL, "\"force\" must be true or false");
  if (json_is_true(force)) m->req.flags |= LIVE_FORCE;
  const json_t *args = json_object_get(r, "args");
  if (args && !json_is_object(args)) return errfmt(err, errlen, CTL_EINVAL, "\"args\" must be a JSON object");
  m->req.args = args;
  switch (m->req.kind) {
  case LIVE_ASK:
  case LIVE_PLAN:
  case LIVE_EXEC:
    if (!m->req.text || !m->req.text[0]) return errfmt(err, errlen, CTL_EINVAL, "%s needs \"text\"", kind);
    break;
  case LIVE_CALL:
    if (!m->req.tool || !m->req.tool[0]) return errfmt(err, errlen, CTL_EINVAL, "call needs \"tool\"");
    break;
  case LIVE_RESTORE:
    if (m->req.iteration < 1) return errfmt(err, errlen, CTL_EINVAL, "restore needs \"iteration\" >= 1");
    break;
  default: break;
  }
  return 0;
}

/* ---- the server ---- */

struct conn {
  uv_pipe_t pipe;
  struct ctl *ctl;
  int n;       /* connection number, for "ctl:N" */
  strbuf_t in; /* what was read and not yet handled: the line being read */
  int subscribed;
  int *owned; /* request ids of this client still running */
  int nowned, ownedcap;
  size_t backlog; /* bytes written but not yet flushed */
  int closing;
  int dropping; /* discarding the rest of an oversized line: never (we close) */
  struct conn *next;
};

struct ctl {
  uv_loop_t *loop;
  live_t *live;
  uv_pipe_t server;
  struct log_sink log;
  char path[512];
  struct conn *conns;
  int nconns, next_n;
  int sub;
  int open_handles;
  int closing;
  void (*close_cb)(void *);
  void *close_data;
};

struct wr {
  uv_write_t req;
  struct conn *c;
  size_t len;
  char data[];
};

static void maybe_free_ctl(struct ctl *s);

static void on_conn_closed(uv_handle_t *h) {
  struct conn *c = h->data;
  struct ctl *s = c->ctl;
  struct conn **pp = &s->conns;
  while (*pp && *pp != c) pp = &(*pp)->next;
  if (*pp) *pp = c->next;
  s->nconns--;
  strbuf_reset(&c->in);
  free(c->owned);
  free(c);
  s->open_handles--;
  maybe_free_ctl(s);
}

static void conn_close(struct conn *c) {
  if (c->closing) return;
  c->closing = 1;
  log_msg(&c->ctl->log, LOG_DEBUG, "ctl", "client ctl:%d disconnected", c->n);
  uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void on_written(uv_write_t *req, int status) {
  struct wr *w = (struct wr *)req;
  struct conn *c = w->c;
  c->backlog -= w->len;
  free(w);
  if (status < 0 && !c->closing) conn_close(c);
}

/* Writes one JSON object as a line. */
static void send_json(struct conn *c, const json_t *j) {
  if (c->closing) return;
  char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
  if (!s) return;
  size_t n = strlen(s);
  struct wr *w = malloc(sizeof *w + n + 1);
  if (!w) {
    free(s);
    return;
  }
  memcpy(w->data, s, n);
  w->data[n] = '\n';
  free(s);
  w->c = c;
  w->len = n + 1;
  if (c->backlog + w->len > CTL_BACKLOG_MAX) {
    log_msg(&c->ctl->log, LOG_WARN, "ctl", "client ctl:%d does not read its events (%zu bytes queued): disconnected",
            c->n, c->backlog);
    free(w);
    conn_close(c);
    return;
  }
  uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
  c->backlog += w->len;
  if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_written)) {
    c->backlog -= w->len;
    free(w);
    conn_close(c);
  }
}

static void reply(struct conn *c, const char *id, json_t *result /* steals */, const char *error) {
  json_t *j = json_pack("{s:s, s:o, s:b}", "type", "reply", "id", id ? json_string(id) : json_null(), "ok", !error);
  if (error)
    json_object_set_new(j, "error", json_string(error));
  else
    json_object_set_new(j, "result", result ? result : json_null());
  if (error) json_decref(result);
  send_json(c, j);
  json_decref(j);
}

static int owns(const struct conn *c, int id) {
  for (int i = 0; i < c->nowned; i++)
    if (c->owned[i] == id) return i;
  return -1;
}

static void own(struct conn *c, int id) {
  if (c->nowned == c->ownedcap) {
    int cap = c->ownedcap ? c->ownedcap * 2 : 4;
    int *n = realloc(c->owned, (size_t)cap * sizeof *n);
    if (!n) return;
    c->owned = n;
    c->ownedcap = cap;
  }
  c->owned[c->nowned++] = id;
}

static void handle_line(struct conn *c, const char *line, size_t len) {
  struct ctl *s = c->ctl;
  while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
  if (!len) return; /* blank lines are ignored */
  struct ctl_msg m;
  char err[512];
  if (ctl_parse_line(line, len, &m, err, sizeof err)) {
    log_msg(&s->log, LOG_INFO, "ctl", "ctl:%d: bad request: %s", c->n, err);
    reply(c, m.id, NULL, err);
    ctl_msg_clear(&m);
    return;
  }
  char client[32];
  snprintf(client, sizeof client, "ctl:%d", c->n);
  json_t *res = NULL;
  const char *error = NULL;
  switch (m.op) {
  case CTL_OP_SUBMIT: {
    m.req.client = client;
    int id = live_submit(s->live, &m.req);
    if (id < 0) {
      snprintf(err, sizeof err, "%s", live_strerror(id));
      error = err;
    } else {
      own(c, id);
      res = json_pack("{s:i}", "request", id);
    }
    break;
  }
  case CTL_OP_CANCEL: {
    int rc = live_cancel(s->live, m.number);
    if (rc) {
      snprintf(err, sizeof err, "cancel %d: %s", m.number, live_strerror(rc));
      error = err;
    } else {
      res = json_pack("{s:i}", "request", m.number);
    }
    break;
  }
  case CTL_OP_STATE: res = live_state(s->live); break;
  case CTL_OP_HISTORY:
    res = live_history(s->live, err, sizeof err);
    if (!res) error = err;
    break;
  case CTL_OP_ITERATION:
    res = live_iteration(s->live, m.number, err, sizeof err);
    if (!res) error = err;
    break;
  case CTL_OP_STATUS: res = live_status(s->live); break;
  case CTL_OP_SUBSCRIBE:
    c->subscribed = 1;
    res = json_pack("{s:b}", "subscribed", 1);
    break;
  case CTL_OP_TOOLS:
    res = live_tools(s->live, err, sizeof err);
    if (!res) error = err;
    break;
  }
  reply(c, m.id, res, error);
  ctl_msg_clear(&m);
}

void ctl_line_alloc(strbuf_t *b, uv_buf_t *out) {
  if (b->cap - b->len < 65536 && b->len <= CTL_LINE_MAX) strbuf_reserve(b, 65536);
  *out = b->oom || !b->s ? uv_buf_init(NULL, 0) : uv_buf_init(b->s + b->len, (unsigned)(b->cap - b->len - 1));
}

int ctl_line_feed(strbuf_t *b, size_t n, int (*line)(void *data, const char *text, size_t len), void *data) {
  size_t start = 0, from = b->len;
  b->len += n;
  b->s[b->len] = '\0';
  for (size_t i = from; i < b->len; i++) {
    if (b->s[i] != '\n') continue;
    size_t at = start;
    start = i + 1;
    if (line(data, b->s + at, i - at)) return 1;
  }
  memmove(b->s, b->s + start, b->len - start);
  b->len -= start;
  b->s[b->len] = '\0';
  return b->len > CTL_LINE_MAX ? -1 : 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct conn *c = h->data;
  (void)suggested;
  ctl_line_alloc(&c->in, buf);
}

static int conn_line(void *data, const char *text, size_t len) {
  struct conn *c = data;
  handle_line(c, text, len);
  return c->closing;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  struct conn *c = st->data;
  (void)buf;
  if (n < 0) {
    conn_close(c);
    return;
  }
  int rc = ctl_line_feed(&c->in, (size_t)n, conn_line, c);
  if (rc > 0 || c->closing) return;
  if (rc < 0) {
    char e[128];
    snprintf(e, sizeof e, "request line longer than %u bytes: connection closed", CTL_LINE_MAX);
    log_msg(&c->ctl->log, LOG_WARN, "ctl", "ctl:%d: %s", c->n, e);
    reply(c, NULL, NULL, e);
    uv_read_stop(st);
    conn_close(c);
  }
}

static void on_event(const json_t *ev, void *data) {
  struct ctl *s = data;
  json_int_t rid = json_integer_value(json_object_get(ev, "request"));
  int is_done = !strcmp(
      json_string_value(json_object_get(ev, "type")) ? json_string_value(json_object_get(ev, "type")) : "", "done");
  for (struct conn *c = s->conns; c; c = c->next) {
    int k = rid ? owns(c, (int)rid) : -1;
    if (c->subscribed || k >= 0) send_json(c, ev);
    if (is_done && k >= 0) c->owned[k] = c->owned[--c->nowned];
  }
}

static void on_connection(uv_stream_t *server, int status) {
  struct ctl *s = server->data;
  if (status < 0 || s->closing) return;
  struct conn *c = calloc(1, sizeof *c);
  if (!c) return;
  c->ctl = s;
  uv_pipe_init(s->loop, &c->pipe, 0);
  c->pipe.data = c;
  s->open_handles++;
  s->nconns++;
  c->next = s->conns;
  s->conns = c;
  c->n = ++s->next_n;
  if (uv_accept(server, (uv_stream_t *)&c->pipe) || uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read)) {
    conn_close(c);
    return;
  }
  log_msg(&s->log, LOG_DEBUG, "ctl", "client ctl:%d connected", c->n);
}

/* A socket at path: another user's → refused; answering → a daemon runs; else stale → removed. */
static int clear_stale(const char *path, char *err, size_t errlen) {
  struct stat st;
  if (lstat(path, &st)) return errno == ENOENT ? CTL_OK : errfmt(err, errlen, CTL_EIO, "%s: %s", path, strerror(errno));
  if (st.st_uid != getuid()) return errfmt(err, errlen, CTL_EPERM, "%s belongs to another user: refused", path);
  if (!S_ISSOCK(st.st_mode)) return errfmt(err, errlen, CTL_EPERM, "%s exists and is not a socket: refused", path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return errfmt(err, errlen, CTL_EIO, "socket: %s", strerror(errno));
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa); /* a local socket: answers or refuses at once */
  close(fd);
  if (rc == 0) return errfmt(err, errlen, CTL_EBUSY, "a dawbridge daemon already answers on %s", path);
  if (unlink(path) && errno != ENOENT)
    return errfmt(err, errlen, CTL_EIO, "cannot remove the stale %s: %s", path, strerror(errno));
  return CTL_OK;
}

int ctl_new(uv_loop_t *loop, live_t *live, const char *path, const struct log_sink *log, ctl_t **out, char *err,
            size_t errlen) {
  if (!loop || !live || !path || !out) return errfmt(err, errlen, CTL_EINVAL, "ctl_new: bad arguments");
  *out = NULL;
  int rc = clear_stale(path, err, errlen);
  if (rc) return rc;
  struct ctl *s = calloc(1, sizeof *s);
  if (!s) return errfmt(err, errlen, CTL_ENOMEM, "out of memory");
  s->loop = loop;
  s->live = live;
  if (log) s->log = *log;
  snprintf(s->path, sizeof s->path, "%s", path);
  uv_pipe_init(loop, &s->server, 0);
  s->server.data = s;
  s->open_handles = 1;
  mode_t old = umask(0177);
  int uvrc = uv_pipe_bind(&s->server, path);
  umask(old);
  if (!uvrc) uvrc = chmod(path, 0600) ? uv_translate_sys_error(errno) : 0;
  if (!uvrc) uvrc = uv_listen((uv_stream_t *)&s->server, 16, on_connection);
  if (uvrc) {
    errfmt(err, errlen, CTL_EIO, "cannot listen on %s: %s", path, uv_strerror(uvrc));
    s->path[0] = 0;
    ctl_close(s, NULL, NULL);
    return CTL_EIO;
  }
  s->sub = live_subscribe(live, on_event, s);
  log_msg(&s->log, LOG_INFO, "ctl", "control socket %s", path);
  *out = s;
  return CTL_OK;
}

int ctl_clients(const ctl_t *c) { return c ? c->nconns : 0; }

static void maybe_free_ctl(struct ctl *s) {
  if (!s->closing || s->open_handles) return;
  void (*cb)(void *) = s->close_cb;
  void *data = s->close_data;
  free(s);
  if (cb) cb(data);
}

static void on_server_closed(uv_handle_t *h) {
  struct ctl *s = h->data;
  s->open_handles--;
  maybe_free_ctl(s);
}

void ctl_close(ctl_t *s, void (*cb)(void *data), void *data) {
  if (!s || s->closing) return;
  s->closing = 1;
  s->close_cb = cb;
  s->close_data = data;
  if (s->sub > 0) live_unsubscribe(s->live, s->sub);
  if (s->path[0]) unlink(s->path);
  for (struct conn *c = s->conns; c; c = c->next) conn_close(c);
  uv_close((uv_handle_t *)&s->server, on_server_closed);
}
