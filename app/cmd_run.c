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
  struct cli_faces f; /* the live session and its faces: control socket, surface, web page, prompt */
  struct log_sink log;
};

/* The control socket's name for the options: the dialect, or "mock-<dialect>" for the embedded mock. */
const char *cli_socket_name(const struct cli *c) {
  if (strcmp(c->o.daw, "mock")) return c->o.daw;
  return c->o.dialect && !strcmp(c->o.dialect, "ardour") ? "mock-ardour" : "mock-reaper";
}

static void stop(struct runcmd *x, int code) {
  if (x->f.closing) return;
  log_msg(&x->log, LOG_INFO, "run", "stopping");
  cli_faces_close(&x->f, code); /* the faces one after the other, then the live session, then the command ends */
}

static void on_signal(uv_signal_t *h, int signum) {
  struct cli *c = h->data;
  struct runcmd *x = c->cmd_data;
  log_msg(&x->log, LOG_WARN, "run", "signal %d: stopping (the running request is cancelled)", signum);
  stop(x, CLI_EXIT_OK);
}

static void on_quit(int exit_code, void *data) { stop(data, exit_code); }

/* One line per event at --log-level info; "done" and "connection" already at warn (the default), the streamed
 * plan text only at debug; the prompt shows the events its own way (here only at debug). */
static void on_event(const json_t *ev, void *data) {
  struct runcmd *x = data;
  const char *type = json_string_value(json_object_get(ev, "type"));
  if (!type) type = "";
  int level = !strcmp(type, "plan_delta") || x->f.repl               ? LOG_DEBUG
              : !strcmp(type, "done") || !strcmp(type, "connection") ? LOG_WARN
                                                                     : LOG_INFO;
  if (level > x->f.c->o.log_level) return;
  char *s = json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10));
  if (!s) return;
  if (strlen(s) > 2000) strcpy(s + 1990, "...");
  if (x->f.repl)
    repl_log(LOG_DEBUG, "event", s, x->f.repl);
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
    snprintf(line, sizeof line, "connected to %s%s%s", live_dialect(x->f.live), message && *message ? ": " : "",
             message ? message : "");
  if (x->f.repl)
    repl_notice(x->f.repl, line);
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
  x->f.c = c;
  /* a file-size limit is a reported save error, not a signal */
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  struct live_config lc;
  cli_live_config(c, &lc);
  x->log = (struct log_sink){cli_faces_log, &x->f, c->o.log_level};
  lc.log = x->log;
  char err[1024];
  int rc = live_new(c->loop, &lc, &x->f.live, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    x->f.live = NULL;
    return CLI_EXIT_CONFIG;
  }
  char path[512];
  rc = ctl_socket_path(cli_socket_name(c), path, sizeof path, 1, err, sizeof err);
  if (!rc) rc = ctl_new(c->loop, x->f.live, path, &x->log, &x->f.ctl, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: run: %s\n", err);
    stop(x, CLI_EXIT_CONFIG);
    return 0;
  }
  if (isatty(0) && isatty(1)) {
    struct repl_config rcfg = {.on_quit = on_quit, .data = x};
    if (repl_new(c->loop, x->f.live, &rcfg, &x->f.repl, err, sizeof err)) {
      x->f.repl = NULL;
      fprintf(stderr, "dawbridge: run: no prompt: %s\n", err);
    }
  }
  if (!x->f.repl) {
    /* SIGINT/SIGTERM: a clean stop (the prompt takes them itself) */
    uv_signal_start(&c->sigint, on_signal, SIGINT);
    uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  } else {
    uv_signal_stop(&c->sigint);
    uv_signal_stop(&c->sigterm);
  }
  x->f.sub = live_subscribe(x->f.live, on_event, x);
  rc = cli_start_surface(c, x->f.live, &x->log, &x->f.surface);
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
    rc = cli_start_web(c, x->f.live, &x->log, slash ? dir : NULL, &x->f.web);
    if (rc) {
      stop(x, rc);
      return 0;
    }
  }
  fprintf(stderr, "dawbridge: run: control socket %s; connecting to the DAW...\n", path);
  live_start(x->f.live, on_started, x);
  return 0;
}
