/* cmd_repl: `dawbridge` with no command in a terminal (or `dawbridge repl`): a live session (app/live.h) with the
 * interactive prompt (app/repl.h), and the OSC control surface (app/surface.h) when --surface-port is given.
 *
 *   live_new → repl_new (+ surface_new) → live_start ... /quit → surface_close → repl_close → live_close →
 *   cli_finish(exit code)
 *
 * Also cli_surface_config / cli_live_config for `dawbridge run` (cmd_run) to start the same faces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "live.h"
#include "repl.h"
#include "surface.h"

struct replcmd {
  struct cli *c;
  live_t *live;
  repl_t *repl;
  surface_t *surface;
  int code;
  int quitting;
};

void cli_live_config(const struct cli *c, struct live_config *lc) {
  memset(lc, 0, sizeof *lc);
  cli_daw_config(c, &lc->daw);
  lc->embedded_mock = cli_mock_config(c, &lc->mock);
  lc->llm = c->o.llm;
  lc->model = c->o.model;
  lc->llm_url = c->o.llm_url;
  lc->transcript = c->o.transcript;
  lc->executor = c->o.executor;
  lc->json_mode = c->o.json_mode;
  lc->max_turns = c->o.max_turns;
  lc->context_budget = c->o.context_budget;
  lc->profile = c->o.profile;
  lc->data_dir = c->o.data_dir;
  lc->composition = c->o.composition;
  lc->log = (struct log_sink){cli_log_stderr, NULL, c->o.log_level};
}

int cli_start_surface(struct cli *c, live_t *live, const struct log_sink *log, surface_t **out) {
  *out = NULL;
  if (c->o.surface_port <= 0) return 0;
  struct surface_config sc = {
      .port = c->o.surface_port,
      .allow = c->o.surface_allow_n ? c->o.surface_allow : NULL,
      .reply = c->o.surface_reply,
      .log = *log,
  };
  char err[512];
  int rc = surface_new(c->loop, live, &sc, out, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    return rc == SURFACE_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_CONFIG;
  }
  return 0;
}

/* Closing takes the surface, then the prompt, then the live session, and ends the command: each step closes the
 * next one still open, and its close callback is this function again. */
static void close_next(void *data) {
  struct replcmd *x = data;
  if (x->surface) {
    surface_t *s = x->surface;
    x->surface = NULL;
    surface_close(s, close_next, x);
  } else if (x->repl) {
    repl_t *r = x->repl;
    x->repl = NULL;
    repl_close(r, close_next, x);
  } else if (x->live) {
    live_t *l = x->live;
    x->live = NULL;
    live_close(l, close_next, x);
  } else {
    cli_finish(x->c, x->code);
  }
}

static void shut_down(struct replcmd *x, int code) {
  if (x->quitting) return;
  x->quitting = 1;
  x->code = code;
  close_next(x);
}

static void on_quit(int exit_code, void *data) { shut_down(data, exit_code); }

/* Log lines go through the prompt (not garbling the line being typed) once it exists. */
static void log_line(int level, const char *module, const char *text, void *data) {
  struct replcmd *x = data;
  if (x->repl)
    repl_log(level, module, text, x->repl);
  else
    cli_log_stderr(level, module, text, NULL);
}

static void on_started(int status, const char *message, void *data) {
  struct replcmd *x = data;
  if (!x->repl) return;
  char line[1200];
  if (status < 0)
    snprintf(line, sizeof line,
             "The DAW is not answering: %s\nStill trying; requests end with an error until it answers. /help for "
             "commands.",
             message ? message : "");
  else
    snprintf(line, sizeof line, "Type a request, or /help.");
  repl_notice(x->repl, line);
}

int cmd_repl(struct cli *c) {
  struct replcmd *x = cli_cmd_new(c, sizeof *x, free);
  if (!x) return CLI_EXIT_CONFIG;
  x->c = c;
  struct live_config lc;
  cli_live_config(c, &lc);
  lc.log = (struct log_sink){log_line, x, c->o.log_level};
  char err[1024];
  int rc = live_new(c->loop, &lc, &x->live, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    x->live = NULL;
    return rc == LIVE_EDAW ? CLI_EXIT_UNREACHABLE : CLI_EXIT_CONFIG;
  }
  struct repl_config rcfg = {.on_quit = on_quit, .data = x};
  rc = repl_new(c->loop, x->live, &rcfg, &x->repl, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    x->repl = NULL;
    shut_down(x, CLI_EXIT_USAGE);
    return 0;
  }
  /* Ctrl-C and SIGTERM belong to the prompt now: Ctrl-C cancels a request, never the program */
  uv_signal_stop(&c->sigint);
  uv_signal_stop(&c->sigterm);
  rc = cli_start_surface(c, x->live, &lc.log, &x->surface);
  if (rc) {
    shut_down(x, rc);
    return 0;
  }
  repl_notice(x->repl, "dawbridge: connecting to the DAW...");
  live_start(x->live, on_started, x);
  return 0;
}
