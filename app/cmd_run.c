/* `dawbridge run`: the live daemon (issue 13). One live session (app/live.h) for one DAW, its control socket
 * (app/ctl.h: the CLI and other clients), the OSC control surface when --surface-port is set, and the interactive
 * prompt when stdin and stdout are terminals. Without a terminal it logs one line per event to stderr (every
 * event but the streamed plan text, which is logged at --log-level debug). SIGINT/SIGTERM stop it cleanly: the
 * running request is cancelled (its done event still goes out), every handle is closed, exit 0.
 *
 * `dawbridge status`: the running request and the queue of the daemon for --daw (exit 2 when none runs). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "ctl_client.h"
#include "live.h"
#include "repl.h"
#include "surface.h"
#include "web.h"

struct runcmd {
  struct cli *c;
  live_t *live;
  ctl_t *ctl;
  surface_t *surface;
  web_t *web;
  repl_t *repl;
  int sub;
  int code;
  int stopping;
  struct log_sink log;
};

/* The control socket's name for the options: the dialect, or "mock-<dialect>" for the embedded mock. */
const char *cli_socket_name(const struct cli *c) {
  if (strcmp(c->o.daw, "mock")) return c->o.daw;
  return c->o.dialect && !strcmp(c->o.dialect, "ardour") ? "mock-ardour" : "mock-reaper";
}

/* Stopping closes the faces one after the other, then the live session, then ends the command: each step closes
 * the next one still open, and its close callback is this function again. */
static void close_next(void *data) {
  struct runcmd *x = data;
  if (x->repl) {
    repl_t *r = x->repl;
    x->repl = NULL;
    repl_close(r, close_next, x);
  } else if (x->web) {
    web_t *w = x->web;
    x->web = NULL;
    web_close(w, close_next, x);
  } else if (x->surface) {
    surface_t *s = x->surface;
    x->surface = NULL;
    surface_close(s, close_next, x);
  } else if (x->ctl) {
    ctl_t *t = x->ctl;
    x->ctl = NULL;
    ctl_close(t, close_next, x);
  } else if (x->live) {
    live_t *l = x->live;
    x->live = NULL;
    if (x->sub > 0) live_unsubscribe(l, x->sub);
    x->sub = 0;
    live_close(l, close_next, x);
  } else {
    cli_finish(x->c, x->code);
  }
}

static void stop(struct runcmd *x, int code) {
  if (x->stopping) return;
  x->stopping = 1;
  x->code = code;
  log_msg(&x->log, LOG_INFO, "run", "stopping");
  close_next(x);
}

static void on_signal(uv_signal_t *h, int signum) {
  struct cli *c = h->data;
  struct runcmd *x = c->cmd_data;
  log_msg(&x->log, LOG_WARN, "run", "signal %d: stopping (the running request is cancelled)", signum);
  stop(x, CLI_EXIT_OK);
}

static void on_quit(int exit_code, void *data) { stop(data, exit_code); }

static void log_line(int level, const char *module, const char *text, void *data) {
  struct runcmd *x = data;
  if (x->repl)
    repl_log(level, module, text, x->repl);
  else
    cli_log_stderr(level, module, text, NULL);
}

/* One line per event at --log-level info; "done" and "connection" already at warn (the default), the streamed
 * plan text only at debug; the prompt shows the events its own way (here only at debug). */
static void on_event(const json_t *ev, void *data) {
  struct runcmd *x = data;
  const char *type = json_string_value(json_object_get(ev, "type"));
  if (!type) type = "";
  int level = !strcmp(type, "plan_delta") || x->repl                 ? LOG_DEBUG
              : !strcmp(type, "done") || !strcmp(type, "connection") ? LOG_WARN
                                                                     : LOG_INFO;
  if (level > x->c->o.log_level) return;
  char *s = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10));
  if (!s) return;
  if (strlen(s) > 2000) strcpy(s + 1990, "...");
  if (x->repl)
    repl_log(LOG_DEBUG, "event", s, x->repl);
  else
    fprintf(stderr, "dawbridge: event: %s\n", s);
  free(s);
}

static void on_started(int status, const char *message, void *data) {
  struct runcmd *x = data;
  char line[1200];
  if (status < 0)
    snprintf(line, sizeof line, "the DAW is not answering: %s (retrying; requests end with exit 2 meanwhile)",
             message ? message : "");
  else
    snprintf(line, sizeof line, "connected to %s%s%s", live_dialect(x->live), message && *message ? ": " : "",
             message ? message : "");
  if (x->repl)
    repl_notice(x->repl, line);
  else
    fprintf(stderr, "dawbridge: run: %s\n", line);
}

int cmd_run(struct cli *c) {
  if (c->argc) {
    fprintf(stderr, "dawbridge: run takes no arguments (dawbridge --daw reaper|ardour|mock run)\n");
    return CLI_EXIT_USAGE;
  }
  struct runcmd *x = cli_cmd_new(c, sizeof *x, free);
  if (!x) return CLI_EXIT_CONFIG;
  x->c = c;
  /* a file-size limit is a reported save error, not a signal */
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  struct live_config lc;
  cli_live_config(c, &lc);
  x->log = (struct log_sink){log_line, x, c->o.log_level};
  lc.log = x->log;
  char err[1024];
  int rc = live_new(c->loop, &lc, &x->live, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    x->live = NULL;
    return CLI_EXIT_CONFIG;
  }
  char path[512];
  rc = ctl_socket_path(cli_socket_name(c), path, sizeof path, 1, err, sizeof err);
  if (!rc) rc = ctl_new(c->loop, x->live, path, &x->log, &x->ctl, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: run: %s\n", err);
    stop(x, CLI_EXIT_CONFIG);
    return 0;
  }
  if (isatty(0) && isatty(1)) {
    struct repl_config rcfg = {.on_quit = on_quit, .data = x};
    if (repl_new(c->loop, x->live, &rcfg, &x->repl, err, sizeof err)) {
      x->repl = NULL;
      fprintf(stderr, "dawbridge: run: no prompt: %s\n", err);
    }
  }
  if (!x->repl) {
    /* SIGINT/SIGTERM: a clean stop (the prompt takes them itself) */
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  } else {
    uv_signal_stop(&c->sigint);
    uv_signal_stop(&c->sigterm);
  }
  x->sub = live_subscribe(x->live, on_event, x);
  rc = cli_start_surface(c, x->live, &x->log, &x->surface);
  if (rc) {
    stop(x, rc);
    return 0;
  }
  {
    /* the web page's token file goes next to the control socket (the runtime directory, 0700) */
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    rc = cli_start_web(c, x->live, &x->log, slash ? dir : NULL, &x->web);
    if (rc) {
      stop(x, rc);
      return 0;
    }
  }
  fprintf(stderr, "dawbridge: run: control socket %s; connecting to the DAW...\n", path);
  live_start(x->live, on_started, x);
  return 0;
}
