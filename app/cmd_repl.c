/* cmd_repl: `dawbridge` with no command in a terminal (or `dawbridge repl`): a live session (app/live.h) with the
 * interactive prompt (app/repl.h), and the OSC control surface (app/surface.h) when --surface-port is given.
 *
 *   live_new → repl_new (+ surface_new) → live_start ... /quit → surface_close → repl_close → live_close →
 *   cli_finish(exit code)
 *
 * Also cli_surface_config / cli_live_config for `dawbridge run` (cmd_run) to start the same faces, and
 * cli_faces_close / cli_faces_log for both to close and log through them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "live.h"
#include "repl.h"
#include "surface.h"
#include "web.h"

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

/* Each step closes the next face still open; its close callback is this function again. */
static void close_next(void *data) {
  struct cli_faces *f = data;
  if (f->repl) {
    repl_t *r = f->repl;
    f->repl = NULL;
    repl_close(r, close_next, f);
  } else if (f->web) {
    web_t *w = f->web;
    f->web = NULL;
    web_close(w, close_next, f);
  } else if (f->surface) {
    surface_t *s = f->surface;
    f->surface = NULL;
    surface_close(s, close_next, f);
  } else if (f->ctl) {
    ctl_t *t = f->ctl;
    f->ctl = NULL;
    ctl_close(t, close_next, f);
  } else if (f->live) {
    live_t *l = f->live;
    f->live = NULL;
    if (f->sub > 0) live_unsubscribe(l, f->sub);
    f->sub = 0;
    live_close(l, close_next, f);
  } else {
    cli_finish(f->c, f->code);
  }
}

void cli_faces_close(struct cli_faces *f, int code) {
  if (f->closing) return;
  f->closing = 1;
  f->code = code;
  close_next(f);
}

void cli_faces_log(int level, const char *module, const char *text, void *data) {
  struct cli_faces *f = data;
  if (f->repl)
    repl_log(level, module, text, f->repl);
  else
    cli_log_stderr(level, module, text, NULL);
}

static void on_quit(int exit_code, void *data) { cli_faces_close(data, exit_code); }

static void on_started(int status, const char *message, void *data) {
  struct cli_faces *f = data;
  if (!f->repl) return;
  char line[1200];
  if (status < 0)
    snprintf(line, sizeof line,
             "The DAW is not answering: %s\nStill trying; requests end with an error until it answers. /help for "
             "commands.",
             message ? message : "");
  else
    snprintf(line, sizeof line, "Type a request, or /help.");
  repl_notice(f->repl, line);
}

int cmd_repl(struct cli *c) {
  struct cli_faces *f = cli_cmd_new(c, sizeof *f, free); /* the live session, the prompt, the surface */
  if (!f) return CLI_EXIT_CONFIG;
  f->c = c;
  struct live_config lc;
  cli_live_config(c, &lc);
  lc.log = (struct log_sink){cli_faces_log, f, c->o.log_level};
  char err[1024];
  int rc = live_new(c->loop, &lc, &f->live, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    f->live = NULL;
    return rc == LIVE_EDAW ? CLI_EXIT_UNREACHABLE : CLI_EXIT_CONFIG;
  }
  struct repl_config rcfg = {.on_quit = on_quit, .data = f};
  rc = repl_new(c->loop, f->live, &rcfg, &f->repl, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    f->repl = NULL;
    cli_faces_close(f, CLI_EXIT_USAGE);
    return 0;
  }
  /* Ctrl-C and SIGTERM belong to the prompt now: Ctrl-C cancels a request, never the program */
  uv_signal_stop(&c->sigint);
  uv_signal_stop(&c->sigterm);
  rc = cli_start_surface(c, f->live, &lc.log, &f->surface);
  if (rc) {
    cli_faces_close(f, rc);
    return 0;
  }
  repl_notice(f->repl, "dawbridge: connecting to the DAW...");
  live_start(f->live, on_started, f);
  return 0;
}
