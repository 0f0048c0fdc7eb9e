/* `dawbridge mcp`: the MCP face on stdio. stdin is read on the loop (pipe or terminal), split into lines of at
 * most MCP_FRAME_MAX bytes and handed to the protocol server (mcp_server.c); its frames go to stdout, one per line,
 * with uv_write; logs go to stderr. When a live daemon runs for this DAW (its control socket answers, and no
 * --data-dir/--composition asks for a one-shot run), the server is its client (app/mcp_ctl.c): same link, mirror,
 * conversation and history. Otherwise it holds an in-process live core (live.h). stdin's end (the client went
 * away) lets the calls still running finish, then closes.
 */
#include <sys/stat.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "ctl_client.h"
#include "live.h"
#include "mcp.h"
#include "strbuf.h"
#include "vocab.h"

#define MCP_READ_CHUNK 65536
/* A client that does not read its answers: above this many bytes waiting for stdout, stdin is not read until
 * half of it went out (the answers to come are bounded by the requests already read). */
#define MCP_WRITE_BACKLOG_MAX (16u * 1024u * 1024u)
#ifndef DAWBRIDGE_VERSION_STRING
#define DAWBRIDGE_VERSION_STRING "0"
#endif

struct mcp_cmd {
  struct cli *c;
  live_t *live;
  mcp_ctl_t *ctl; /* the daemon's control socket, instead of live */
  int sub;
  mcp_server_t *srv;
  vocab_t *vocab;
  union {
    uv_pipe_t pipe;
    uv_tty_t tty;
  } in, out;
  uv_handle_type in_kind, out_kind;
  int in_open, out_open;
  strbuf_t line; /* the line being read */
  int skipping;  /* an oversized line: dropped up to its newline */
  size_t skipped;
  int eof;
  int paused;  /* stdin not read while stdout's backlog is too big */
  char *stash; /* the rest of a read chunk, not handled while paused */
  size_t stash_len;
  int writes; /* uv_write requests in flight */
  int closing;
  int core_closed;
  int signals;
  int exit_code;
};

struct wreq {
  uv_write_t req;
  struct mcp_cmd *x;
  char data[]; /* frame + '\n' */
};

static void maybe_finish(struct mcp_cmd *x);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void add_bytes(struct mcp_cmd *x, const char *p, size_t n);

/* ---- the backend: the live core in this process ---- */

static int be_submit(void *d, const struct live_request *req) { return live_submit(((struct mcp_cmd *)d)->live, req); }
static int be_cancel(void *d, int id) { return live_cancel(((struct mcp_cmd *)d)->live, id); }
static void be_read(void *d, enum mcp_read_what what, int n, struct mcp_read *op) {
  struct mcp_cmd *x = d;
  char err[512] = "";
  json_t *r = what == MCP_READ_STATE     ? live_state(x->live)
              : what == MCP_READ_HISTORY ? live_history(x->live, err, sizeof err)
                                         : live_iteration(x->live, n, err, sizeof err);
  mcp_server_read_done(x->srv, op, r, err);
}
/* The vocabulary's tools this DAW can do now, shaped for MCP by the vocabulary itself. */
static json_t *be_tools(void *d) {
  struct mcp_cmd *x = d;
  daw_t *daw = x->live ? live_daw(x->live) : NULL; /* through a daemon: every tool of the vocabulary */
  json_t *caps = daw ? daw_capabilities(daw) : NULL;
  json_t *tools = vocab_tools_json(x->vocab, caps, VOCAB_JSON_MCP);
  json_decref(caps);
  return tools;
}

/* ---- stdout ---- */

static void on_written(uv_write_t *req, int status) {
  struct wreq *w = (struct wreq *)req;
  struct mcp_cmd *x = w->x;
  if (status < 0 && status != UV_ECANCELED)
    fprintf(stderr, "dawbridge mcp: cannot write to stdout: %s\n", uv_strerror(status));
  free(w);
  x->writes--;
  if (x->paused && x->in_open && x->out_open &&
      uv_stream_get_write_queue_size((uv_stream_t *)&x->out) < MCP_WRITE_BACKLOG_MAX / 2) {
    x->paused = 0;
    char *rest = x->stash;
    size_t n = x->stash_len;
    x->stash = NULL;
    x->stash_len = 0;
    if (rest) add_bytes(x, rest, n); /* may pause again (and stash what is left) */
    free(rest);
    if (!x->paused && x->in_open) uv_read_start((uv_stream_t *)&x->in, on_alloc, on_read);
  }
  maybe_finish(x);
}

static void send_frame(const char *frame, size_t len, void *data) {
  struct mcp_cmd *x = data;
  if (!x->out_open) return;
  if (x->out_kind == UV_FILE) {
    /* a regular file never blocks for long: written in place, frame and newline together */
    char *b = malloc(len + 1);
    if (!b) return;
    memcpy(b, frame, len);
    b[len] = '\n';
    uv_fs_t fr;
    uv_buf_t buf = uv_buf_init(b, (unsigned)(len + 1));
    uv_fs_write(x->c->loop, &fr, 1, &buf, 1, -1, NULL);
    uv_fs_req_cleanup(&fr);
    free(b);
    return;
  }
  struct wreq *w = malloc(sizeof *w + len + 1);
  if (!w) {
    fprintf(stderr, "dawbridge mcp: out of memory writing a frame\n");
    return;
  }
  w->x = x;
  memcpy(w->data, frame, len);
  w->data[len] = '\n';
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)(len + 1));
  int rc = uv_write(&w->req, (uv_stream_t *)&x->out, &buf, 1, on_written);
  if (rc) {
    fprintf(stderr, "dawbridge mcp: cannot write to stdout: %s\n", uv_strerror(rc));
    free(w);
    return;
  }
  x->writes++;
  if (!x->paused && x->in_open && uv_stream_get_write_queue_size((uv_stream_t *)&x->out) > MCP_WRITE_BACKLOG_MAX) {
    x->paused = 1;
    uv_read_stop((uv_stream_t *)&x->in);
  }
}

/* ---- stdin ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h, (void)suggested;
  char *b = malloc(MCP_READ_CHUNK);
  *buf = uv_buf_init(b, b ? MCP_READ_CHUNK : 0);
}

/* The line so far (size bytes with what arrived now) is dropped up to its newline, and answered now: the client
 * need not wait for the end. */
static void drop_line(struct mcp_cmd *x, size_t size) {
  x->skipping = 1;
  x->skipped = size;
  strbuf_reset(&x->line);
  mcp_server_oversized(x->srv, size);
}

static void add_bytes(struct mcp_cmd *x, const char *p, size_t n) {
  while (n) {
    const char *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) : n;
    size_t size = x->line.len + take;
    if (x->skipping) {
      x->skipped += take;
    } else if (size > MCP_FRAME_MAX) {
      drop_line(x, size);
      log_msg(&(struct log_sink){cli_log_stderr, NULL, x->c->o.log_level}, LOG_WARN, "mcp",
              "dropped a frame of more than %u bytes", MCP_FRAME_MAX);
    } else {
      strbuf_append(&x->line, p, take);
      if (x->line.oom) {
        fprintf(stderr, "dawbridge mcp: out of memory reading a frame\n");
        drop_line(x, size);
      }
    }
    if (!nl) return;
    if (!x->skipping) mcp_server_frame(x->srv, x->line.s ? x->line.s : "", x->line.len);
    x->skipping = 0;
    x->skipped = 0;
    strbuf_clear(&x->line);
    p = nl + 1;
    n -= take + 1;
    if (x->paused && n) {
      /* stdout is backed up: the rest of this chunk waits (at most one read chunk) */
      char *st = malloc(n);
      if (st) {
        memcpy(st, p, n);
        x->stash = st;
        x->stash_len = n;
        return;
      }
    }
  }
}

static void close_input(struct mcp_cmd *x) {
  if (!x->in_open) return;
  x->in_open = 0;
  uv_read_stop((uv_stream_t *)&x->in);
  uv_close((uv_handle_t *)&x->in, NULL);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct mcp_cmd *x = s->data;
  if (nread > 0) add_bytes(x, buf->base, (size_t)nread);
  free(buf->base);
  if (nread < 0) {
    if (nread != UV_EOF) fprintf(stderr, "dawbridge mcp: reading stdin: %s\n", uv_strerror((int)nread));
    /* a last line without its newline is still a frame */
    if (x->line.len && !x->skipping) mcp_server_frame(x->srv, x->line.s, x->line.len);
    strbuf_clear(&x->line);
    x->eof = 1;
    close_input(x);
    maybe_finish(x);
  }
}

static int open_stream(struct mcp_cmd *x, int fd, uv_handle_type *kind, void *h, int readable) {
  *kind = uv_guess_handle(fd);
  int rc;
  switch (*kind) {
  case UV_NAMED_PIPE:
    if ((rc = uv_pipe_init(x->c->loop, h, 0))) return rc;
    if ((rc = uv_pipe_open(h, fd))) {
      uv_close(h, NULL);
      return rc;
    }
    break;
  case UV_TTY:
    if ((rc = uv_tty_init(x->c->loop, h, fd, readable))) return rc;
    break;
  case UV_FILE:
    if (readable) return UV_EINVAL;
    return 0; /* written with uv_fs_write */
  default: return UV_EINVAL;
  }
  ((uv_handle_t *)h)->data = x;
  return 0;
}

/* ---- lifecycle ---- */

static void on_out_closed(uv_handle_t *h) {
  struct mcp_cmd *x = h->data;
  cli_finish(x->c, x->exit_code);
}

static void on_core_closed(void *data) {
  struct mcp_cmd *x = data;
  x->live = NULL;
  x->ctl = NULL;
  x->core_closed = 1;
  maybe_finish(x);
}

static void close_core(struct mcp_cmd *x) {
  if (x->closing) return;
  x->closing = 1;
  if (x->live) {
    live_unsubscribe(x->live, x->sub);
    live_close(x->live, on_core_closed, x);
  } else if (x->ctl) {
    mcp_ctl_close(x->ctl, on_core_closed, x);
  } else {
    x->core_closed = 1;
  }
}

static void maybe_finish(struct mcp_cmd *x) {
  if (!x->eof && !x->closing) return;
  if (!x->closing) {
    /* the client is gone: the calls still running finish first (a change in flight is seen through) */
    if (x->srv && mcp_server_pending(x->srv)) return;
    close_core(x);
  }
  if (!x->core_closed || x->writes) return;
  close_input(x);
  if (x->out_open) {
    x->out_open = 0;
    if (x->out_kind != UV_FILE) {
      uv_close((uv_handle_t *)&x->out, on_out_closed);
      return;
    }
  }
  if (!x->c->finished) cli_finish(x->c, x->exit_code);
}

static void on_event(const json_t *ev, void *data) {
  struct mcp_cmd *x = data;
  if (x->srv) mcp_server_event(x->srv, ev);
  const char *type = json_string_value(json_object_get(ev, "type"));
  if (type && !strcmp(type, "connection"))
    fprintf(stderr, "dawbridge mcp: DAW %s%s%s\n", json_string_value(json_object_get(ev, "state")),
            json_string_value(json_object_get(ev, "message")) ? ": " : "",
            json_string_value(json_object_get(ev, "message")) ? json_string_value(json_object_get(ev, "message")) : "");
  if (type && !strcmp(type, "done")) maybe_finish(x);
}

static void start_reading(struct mcp_cmd *x);

static void on_started(int status, const char *message, void *data) {
  struct mcp_cmd *x = data;
  if (status < 0)
    fprintf(stderr, "dawbridge mcp: the DAW does not answer yet (%s); retrying, tool calls fail until it does\n",
            message ? message : live_strerror(status));
  else
    log_msg(&(struct log_sink){cli_log_stderr, NULL, x->c->o.log_level}, LOG_INFO, "mcp", "DAW connected: %s",
            message ? message : "ok");
  /* requests are read once the first sync ended, so tools/list reflects what this DAW can do */
  start_reading(x);
}

static void start_reading(struct mcp_cmd *x) {
  if (x->closing || !x->in_open) return;
  int rc = uv_read_start((uv_stream_t *)&x->in, on_alloc, on_read);
  if (rc) {
    fprintf(stderr, "dawbridge mcp: cannot read stdin: %s\n", uv_strerror(rc));
    x->eof = 1;
    x->exit_code = CLI_EXIT_CONFIG;
    close_input(x);
    maybe_finish(x);
  }
}

/* SIGINT/SIGTERM: cancel what runs (its confirmed part is saved as a partial iteration), then close. A second
 * signal exits at once. */
static void on_signal(uv_signal_t *h, int signum) {
  struct cli *c = h->data;
  struct mcp_cmd *x = c->cmd_data;
  if (++x->signals > 1) {
    fprintf(stderr, "dawbridge mcp: interrupted again (signal %d): exiting now\n", signum);
    _exit(CLI_EXIT_INTERRUPTED);
  }
  fprintf(stderr, "dawbridge mcp: interrupted (signal %d): cancelling, then closing\n", signum);
  x->exit_code = CLI_EXIT_INTERRUPTED;
  x->eof = 1;
  close_input(x);
  close_core(x);
  /* the CLI's handles go now; the loop ends once live and stdout are closed */
  if (!uv_is_closing((uv_handle_t *)&c->sigint)) uv_close((uv_handle_t *)&c->sigint, NULL);
  if (!uv_is_closing((uv_handle_t *)&c->sigterm)) uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void free_cmd(void *p) {
  struct mcp_cmd *x = p;
  mcp_server_free(x->srv);
  vocab_free(x->vocab);
  strbuf_reset(&x->line);
  free(x->stash);
  free(x);
}

/* The protocol server for x; on failure (out of memory) the command ends with exit 5 and -1 is returned. */
static int new_server(struct mcp_cmd *x, const struct mcp_server_config *sc) {
  if (!mcp_server_new(sc, &x->srv)) return 0;
  fprintf(stderr, "dawbridge mcp: out of memory\n");
  x->exit_code = CLI_EXIT_CONFIG;
  x->eof = 1;
  close_input(x);
  maybe_finish(x);
  return -1;
}

/* The in-process core: our own live_t (DAW link, agent, history). */
static int start_inprocess(struct mcp_cmd *x) {
  struct cli *c = x->c;
  char err[512];
  int rc;
  struct live_config lc;
  cli_live_config(c, &lc);
  lc.daw.refresh_interval_ms = -1; /* long-lived: the map's periodic refresh */
  if ((rc = live_new(c->loop, &lc, &x->live, err, sizeof err))) {
    fprintf(stderr, "dawbridge mcp: %s\n", err);
    close_input(x);
    x->out_open = 0;
    if (x->out_kind != UV_FILE) uv_close((uv_handle_t *)&x->out, NULL);
    return CLI_EXIT_CONFIG;
  }
  struct mcp_server_config sc = {
      .backend = {.data = x,
                  .submit = be_submit,
                  .cancel = be_cancel,
                  .read = be_read,
                  .tools = be_tools,
                  .strerror = live_strerror},
      .small = c->o.profile == 1,
      .version = DAWBRIDGE_VERSION_STRING,
      .send = send_frame,
      .send_data = x,
      .log = {cli_log_stderr, NULL, c->o.log_level},
  };
  if (new_server(x, &sc)) return 0;
  x->sub = live_subscribe(x->live, on_event, x);
  uv_signal_start(&c->sigint, on_signal, SIGINT);
  uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  if ((rc = live_start(x->live, on_started, x)) < 0) {
    fprintf(stderr, "dawbridge mcp: %s\n", live_strerror(rc));
    x->exit_code = CLI_EXIT_CONFIG;
    x->eof = 1;
    maybe_finish(x);
  }
  return 0;
}

/* ---- through a running daemon ---- */

static void on_ctl_event(const json_t *ev, void *data) {
  struct mcp_cmd *x = data;
  const char *type = json_string_value(json_object_get(ev, "type"));
  if (type && !strcmp(type, "done")) maybe_finish(x);
}

static void on_ctl_gone(const char *why, void *data) {
  struct mcp_cmd *x = data;
  fprintf(stderr, "dawbridge mcp: %s; closing\n", why);
  x->exit_code = CLI_EXIT_UNREACHABLE;
  x->eof = 1;
  close_input(x);
  maybe_finish(x);
}

static void on_ctl_closed_fallback(void *data) { (void)data; }

static void on_ctl_ready(int status, void *data) {
  struct mcp_cmd *x = data;
  struct cli *c = x->c;
  if (status < 0) {
    /* a socket nobody answers on (a daemon that died): our own core, as without a daemon */
    mcp_ctl_close(x->ctl, on_ctl_closed_fallback, NULL);
    x->ctl = NULL;
    uv_signal_stop(&c->sigint);
    uv_signal_stop(&c->sigterm);
    int rc = start_inprocess(x);
    if (rc > 0) {
      x->exit_code = rc;
      x->eof = 1;
      close_input(x);
      maybe_finish(x);
    }
    return;
  }
  log_msg(&(struct log_sink){cli_log_stderr, NULL, c->o.log_level}, LOG_INFO, "mcp",
          "through the running daemon's control socket");
  struct mcp_server_config sc = {
      .small = c->o.profile == 1,
      .version = DAWBRIDGE_VERSION_STRING,
      .send = send_frame,
      .send_data = x,
      .log = {cli_log_stderr, NULL, c->o.log_level},
  };
  mcp_ctl_backend(x->ctl, &sc.backend);
  sc.backend.tools = be_tools;
  sc.backend.tools_data = x;
  if (new_server(x, &sc)) return;
  mcp_ctl_set_server(x->ctl, x->srv);
  start_reading(x);
}

int cmd_mcp(struct cli *c) {
  if (c->argc) {
    fprintf(stderr, "dawbridge: mcp takes no arguments (the client speaks on stdin); see --help\n");
    return CLI_EXIT_USAGE;
  }
  /* a client that went away must not kill us with SIGPIPE: writes fail with EPIPE instead */
  signal(SIGPIPE, SIG_IGN);
  struct mcp_cmd *x = cli_cmd_new(c, sizeof *x, free_cmd);
  if (!x) return CLI_EXIT_CONFIG;
  x->c = c;
  char err[512];
  if (vocab_load(NULL, &x->vocab, err, sizeof err)) {
    fprintf(stderr, "dawbridge mcp: %s\n", err);
    return CLI_EXIT_CONFIG;
  }
  int rc = open_stream(x, 0, &x->in_kind, &x->in, 1);
  if (rc) {
    fprintf(stderr, "dawbridge mcp: stdin must be a pipe or a terminal (%s)\n", uv_strerror(rc));
    return CLI_EXIT_CONFIG;
  }
  x->in_open = 1;
  if ((rc = open_stream(x, 1, &x->out_kind, &x->out, 0))) {
    fprintf(stderr, "dawbridge mcp: stdout must be a pipe, a terminal or a file (%s)\n", uv_strerror(rc));
    close_input(x);
    return CLI_EXIT_CONFIG;
  }
  x->out_open = 1;

  /* through the daemon when one runs for this DAW, by the CLI's rule (options naming another link, model or data
   * place mean one-shot) */
  char sock[512];
  struct stat st;
  if (cli_daemon_applies(c) && !ctl_socket_path(cli_socket_name(c), sock, sizeof sock, 0, NULL, 0) &&
      !stat(sock, &st) && S_ISSOCK(st.st_mode)) {
    struct mcp_ctl_callbacks cb = {on_ctl_ready, on_ctl_event, on_ctl_gone, x};
    if (!mcp_ctl_connect(c->loop, sock, &cb, &x->ctl)) {
      uv_signal_start(&c->sigint, on_signal, SIGINT);
      uv_signal_start(&c->sigterm, on_signal, SIGTERM);
      return 0;
    }
    x->ctl = NULL;
  }
  return start_inprocess(x);
}
