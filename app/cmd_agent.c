/* The agent commands: ask, plan, exec, demo (issue 5).
 *
 *   ask TEXT        stage 1 → validation → [--confirm] → stage 2 → verification → corrective round → iteration
 *   plan TEXT       stage 1 and validation only; nothing is sent to the DAW
 *   exec PLAN_FILE  a plan file, validated and run directly (no model)
 *   demo            the embedded mock DAW (with its companion) and the scripted model replaying
 *                   examples/demo-transcript.json: the whole pipeline offline
 *
 * stdout: the plan as the model writes it, then the readable summary (or only the response JSON with --json).
 * stderr: log lines (--log-level), the --confirm question, errors.
 *
 * Exit codes follow the outcomes (agent_exit_code): 0 every step confirmed by the DAW; 3 some step uncertain, none
 * failed; 7 some step failed or a stage-2 call was refused (not in the plan); 6 the data directory cannot take the
 * iteration (checked before the DAW is changed: nothing was sent) or the save failed afterwards; 130 Ctrl-C
 * (the part done is saved as a partial iteration; a second Ctrl-C exits at once).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "history.h"
#include "datadir.h"
#include "live.h"
#include "llm.h"
#include "rmtree.h"

enum kind { K_ASK, K_PLAN, K_EXEC, K_DEMO };

struct acmd {
  struct cli *c;
  enum kind kind;
  char *text;  /* request, or the plan file's text */
  char *label; /* exec: "exec FILE" */
  struct llm_config lcfg;
  llm_t *llm;
  agent_t *agent;
  int exit_code;
  int ending;
  int signals; /* SIGINT/SIGTERM received */
  /* --confirm input */
  int input_kind; /* 0 none, 1 tty, 2 pipe, 3 file */
  uv_tty_t tty;
  uv_pipe_t pipe;
  uv_fs_t fsreq;
  char inbuf[256];
  char line[256];
  size_t linelen;
  int answered;
  /* output */
  int streamed;
  char demo_dir[1024];
  char transcript[1200];
  int iteration;
  json_t *response;
};

static void acmd_free(void *data) {
  struct acmd *x = data;
  if (!x) return;
  /* the demo's own temporary history (no --data-dir): nothing is left in $TMPDIR */
  if (x->demo_dir[0]) rmtree(x->demo_dir);
  free(x->text);
  free(x->label);
  json_decref(x->response);
  free(x);
}

/* ---- shutdown: agent → model client → input/signals → cli_finish (closes the DAW) ---- */

static void finish_cli(struct acmd *x) { cli_finish(x->c, x->exit_code); }

static void on_llm_closed(void *data) {
  struct acmd *x = data;
  x->llm = NULL;
  finish_cli(x);
}

static void on_agent_closed(void *data) {
  struct acmd *x = data;
  x->agent = NULL;
  if (x->llm)
    llm_close(x->llm, on_llm_closed, x);
  else
    finish_cli(x);
}

static void close_input(struct acmd *x) {
  if (x->input_kind == 1 && !uv_is_closing((uv_handle_t *)&x->tty)) {
    uv_read_stop((uv_stream_t *)&x->tty);
    uv_close((uv_handle_t *)&x->tty, NULL);
  } else if (x->input_kind == 2 && !uv_is_closing((uv_handle_t *)&x->pipe)) {
    uv_read_stop((uv_stream_t *)&x->pipe);
    uv_close((uv_handle_t *)&x->pipe, NULL);
  }
  if (x->input_kind != 3) x->input_kind = 0;
}

static void end(struct acmd *x, int code) {
  if (x->ending) return;
  x->ending = 1;
  x->exit_code = code;
  close_input(x);
  if (x->agent)
    agent_close(x->agent, on_agent_closed, x);
  else if (x->llm)
    llm_close(x->llm, on_llm_closed, x);
  else
    finish_cli(x);
}

/* The CLI's own SIGINT/SIGTERM handles, taken over: the agent and the model client must close before the DAW.
 * First Ctrl-C: no new tool call is sent; the call in flight finishes (it cannot be recalled), the part the DAW
 * did is saved as a partial iteration, "interrupted: N of M steps", exit 130. A second one exits at once. */
static void on_signal(uv_signal_t *h, int signum) {
  struct cli *c = h->data;
  struct acmd *x = c->cmd_data;
  if (++x->signals > 1) {
    fprintf(stderr,
            "dawbridge: interrupted again (signal %d): exiting now; the DAW call in flight (if any) is not "
            "awaited and nothing more is saved\n",
            signum);
    fflush(stdout);
    fflush(stderr);
    _exit(CLI_EXIT_INTERRUPTED);
  }
  if (x->agent && agent_busy(x->agent)) {
    fprintf(stderr,
            "dawbridge: interrupted (signal %d): no further step is sent; finishing the call in flight and "
            "saving what was done (Ctrl-C again to quit at once)\n",
            signum);
    agent_cancel(x->agent); /* on_done(AGENT_ECANCELED) ends the command */
    return;
  }
  fprintf(stderr, "dawbridge: interrupted (signal %d)\n", signum);
  end(x, CLI_EXIT_INTERRUPTED);
}

/* ---- printing ---- */

static int is_json(struct acmd *x) { return x->c->o.json; }

static void print_plan_errors(const json_t *errors) {
  size_t i;
  json_t *e;
  json_array_foreach(errors, i, e) {
    json_int_t step = json_integer_value(json_object_get(e, "step"));
    const char *m = json_string_value(json_object_get(e, "message"));
    if (step)
      printf("  Step %lld: %s\n", (long long)step, m ? m : "?");
    else
      printf("  %s\n", m ? m : "?");
  }
}

static void on_stage(agent_t *a, enum agent_stage st, void *data) {
  struct acmd *x = data;
  (void)a;
  if (is_json(x)) return;
  if (st == AGENT_PLANNING) {
    printf("%s", x->streamed ? "\n--- re-plan ---\n" : "Planning...\n");
    fflush(stdout);
  } else if (st == AGENT_EXECUTING) {
    printf("Executing...\n");
    fflush(stdout);
  } else if (st == AGENT_FIXING) {
    printf("Corrective round...\n");
    fflush(stdout);
  }
}

static void on_plan_delta(agent_t *a, int attempt, const char *text, size_t len, void *data) {
  struct acmd *x = data;
  (void)a, (void)attempt;
  if (is_json(x)) return;
  fwrite(text, 1, len, stdout);
  fflush(stdout);
  x->streamed = 1;
}

static void on_plan(agent_t *a, int attempt, const json_t *plan, const json_t *errors, const char *text, void *data) {
  struct acmd *x = data;
  (void)a;
  if (is_json(x)) return;
  const char *sep = "\n";
  if (x->kind == K_EXEC) {
    sep = ""; /* the plan file is not echoed */
  } else {
    if (!x->streamed && text) printf("%s", text);
    if (text && *text && text[strlen(text) - 1] != '\n') printf("\n");
  }
  size_t n = json_array_size(errors);
  if (n) {
    printf("%sThe plan has %zu error%s:\n", sep, n, n == 1 ? "" : "s");
    print_plan_errors(errors);
    if (attempt == 0 && x->kind != K_EXEC) printf("Asking the model for a corrected plan (errors quoted)...\n");
  } else {
    printf("%sPlan valid: %zu step%s.\n", sep, json_array_size(json_object_get(plan, "steps")),
           json_array_size(json_object_get(plan, "steps")) == 1 ? "" : "s");
  }
  size_t wi;
  json_t *w; /* the validator's warnings about steps (issue 13: a track name that already exists) */
  json_array_foreach(json_object_get(plan, "warnings"), wi, w) {
    if (json_is_string(w) && !strncmp(json_string_value(w), "Step ", 5)) printf("Warning: %s\n", json_string_value(w));
  }
  x->streamed = 1; /* a re-plan gets its own header */
  fflush(stdout);
}

static void on_tool_result(agent_t *a, const char *tool, const json_t *args, int status, const json_t *result,
                           const char *message, void *data) {
  struct acmd *x = data;
  (void)a;
  if (is_json(x)) return;
  if (status && message && !strncmp(message, "refused:", 8)) {
    char *aj = args ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    printf("  REFUSED   %s %.160s: %s\n", tool ? tool : "?", aj ? aj : "", message);
    free(aj);
  } else if (status) {
    printf("  FAILED    %s: %s\n", tool ? tool : "?", message ? message : "error");
  } else {
    const char *tid = json_string_value(json_object_get(result, "track_id"));
    const char *cid = json_string_value(json_object_get(result, "clip_id"));
    const char *st = json_string_value(json_object_get(result, "status"));
    /* the three outcomes (older result statuses read as what they mean) */
    if (st && (!strcmp(st, "sent_unconfirmed") || !strcmp(st, "unchanged"))) st = "uncertain";
    printf("  %-9s %s%s%s%s%s\n", st ? st : "confirmed", tool ? tool : "?", tid ? " track " : "", tid ? tid : "",
           cid ? " clip " : "", cid ? cid : "");
  }
  fflush(stdout);
}

static void on_violation(agent_t *a, const json_t *v, void *data) {
  struct acmd *x = data;
  (void)a;
  if (is_json(x)) return;
  printf("  violation: %s\n", json_string_value(json_object_get(v, "message")));
  fflush(stdout);
}

static void print_demo_tail(struct acmd *x, const json_t *resp) {
  json_t *st = x->c->daw ? session_to_json(daw_session(x->c->daw)) : NULL;
  printf("\nThe DAW's session now:\n");
  if (st) cli_print_state_table(st);
  json_decref(st);
  const json_t *it = json_object_get(resp, "iteration");
  const char *hd = json_string_value(json_object_get(resp, "history_dir"));
  if (!json_is_integer(it) || !hd) return;
  char err[512];
  history_t *h = history_open(x->c->o.data_dir ? x->c->o.data_dir : x->demo_dir, "demo", err, sizeof err);
  if (!h) return;
  json_t *list = NULL;
  if (history_list(h, &list, NULL, err, sizeof err) == HISTORY_OK) {
    printf("\nSaved iterations (%s):\n", x->c->o.data_dir ? history_dir(h) : "in a temporary directory");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
      const char *um = json_string_value(json_object_get(e, "user_message"));
      printf("  %04lld  %-12s %-24s %lld action%s  %s%s%s\n",
             (long long)json_integer_value(json_object_get(e, "number")),
             json_string_value(json_object_get(e, "source")), json_string_value(json_object_get(e, "timestamp")),
             (long long)json_integer_value(json_object_get(e, "actions_count")),
             json_integer_value(json_object_get(e, "actions_count")) == 1 ? "" : "s", um ? "\"" : "", um ? um : "",
             um ? "\"" : "");
    }
  }
  json_decref(list);
  history_free(h);
  if (x->c->o.data_dir)
    printf("\nInspect it with: dawbridge --data-dir %s --composition demo history show %lld\n", x->c->o.data_dir,
           (long long)json_integer_value(it));
  else
    printf("\nThis history was in a temporary directory, removed as the demo ends. To keep it:\n"
           "  dawbridge demo --data-dir DIR, then: dawbridge --data-dir DIR --composition demo history show %lld\n",
           (long long)json_integer_value(it));
}

static void on_done(agent_t *a, int status, const json_t *resp, const char *message, void *data) {
  struct acmd *x = data;
  (void)a;
  if (is_json(x)) {
    cli_print_json(resp);
  } else if (x->kind == K_PLAN) {
    if (!status)
      printf("Nothing was sent to the DAW (plan only).\n");
    else if (message)
      fprintf(stderr, "dawbridge: %s\n", message);
  } else {
    char *s = agent_summary(resp);
    if (status == AGENT_EPLAN) {
      printf("\nThe plan was not executed.\n");
    }
    printf("\n%s", s ? s : "");
    free(s);
    if (x->kind == K_DEMO && status != AGENT_EPLAN && status != AGENT_EREJECTED) print_demo_tail(x, resp);
  }
  if (status && status != AGENT_EREJECTED && message && (is_json(x) || x->kind != K_PLAN))
    fprintf(stderr, "dawbridge: %s\n", message);
  fflush(stdout);
  end(x, agent_exit_code(status));
}

/* ---- --confirm: one line from stdin, read on the loop ---- */

static void answer(struct acmd *x, const char *line, int eof) {
  if (x->answered) return;
  x->answered = 1;
  const char *p = line;
  while (*p == ' ' || *p == '\t') p++;
  int yes = !eof && (*p == 'y' || *p == 'Y');
  close_input(x);
  if (!yes) fprintf(stderr, "dawbridge: not approved%s; nothing will be changed\n", eof ? " (end of input)" : "");
  if (x->agent) agent_confirm(x->agent, yes);
}

static void feed(struct acmd *x, const char *buf, size_t n) {
  for (size_t i = 0; i < n && !x->answered; i++) {
    if (buf[i] == '\n' || buf[i] == '\r') {
      x->line[x->linelen] = 0;
      answer(x, x->line, 0);
      return;
    }
    if (x->linelen + 1 < sizeof x->line) x->line[x->linelen++] = buf[i];
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct acmd *x = h->data;
  (void)suggested;
  *buf = uv_buf_init(x->inbuf, sizeof x->inbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct acmd *x = s->data;
  if (n > 0)
    feed(x, buf->base, (size_t)n);
  else if (n < 0) {
    x->line[x->linelen] = 0;
    answer(x, x->line, x->linelen == 0);
  }
}

static void on_fs_read(uv_fs_t *req) {
  struct acmd *x = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  if (n > 0 && !x->answered) {
    feed(x, x->inbuf, (size_t)n);
    if (!x->answered && !x->ending) {
      uv_buf_t b = uv_buf_init(x->inbuf, sizeof x->inbuf);
      if (uv_fs_read(x->c->loop, &x->fsreq, 0, &b, 1, -1, on_fs_read) == 0) return;
    }
  }
  x->input_kind = 0;
  if (!x->answered) {
    x->line[x->linelen] = 0;
    answer(x, x->line, x->linelen == 0);
  }
}

static void on_confirm(agent_t *a, const json_t *plan, void *data) {
  struct acmd *x = data;
  (void)a, (void)plan;
  fprintf(stderr, "Execute this plan (%zu steps)? [y/N] ", json_array_size(json_object_get(plan, "steps")));
  fflush(stderr);
  x->answered = 0;
  x->linelen = 0;
  uv_handle_type t = uv_guess_handle(0);
  int rc = -1;
  if (t == UV_TTY) {
    rc = uv_tty_init(x->c->loop, &x->tty, 0, 1);
    if (!rc) {
      x->input_kind = 1;
      x->tty.data = x;
      rc = uv_read_start((uv_stream_t *)&x->tty, on_alloc, on_read);
    }
  } else if (t == UV_NAMED_PIPE) {
    rc = uv_pipe_init(x->c->loop, &x->pipe, 0);
    if (!rc) {
      x->input_kind = 2;
      x->pipe.data = x;
      rc = uv_pipe_open(&x->pipe, 0);
      if (!rc) rc = uv_read_start((uv_stream_t *)&x->pipe, on_alloc, on_read);
    }
  } else if (t == UV_FILE) {
    x->fsreq.data = x;
    uv_buf_t b = uv_buf_init(x->inbuf, sizeof x->inbuf);
    rc = uv_fs_read(x->c->loop, &x->fsreq, 0, &b, 1, -1, on_fs_read);
    if (!rc) x->input_kind = 3;
  }
  if (rc) {
    fprintf(stderr, "\ndawbridge: --confirm needs an answer on stdin, which cannot be read (%s)\n",
            rc < 0 ? uv_strerror(rc) : "unsupported");
    close_input(x);
    agent_confirm(a, 0);
  }
}

/* ---- setup ---- */

static void llm_log(void *data, enum llm_log_level level, const char *line) {
  struct acmd *x = data;
  int lv = level == LLM_LOG_ERROR  ? LOG_ERROR
           : level == LLM_LOG_WARN ? LOG_WARN
           : level == LLM_LOG_INFO ? LOG_INFO
                                   : LOG_DEBUG;
  if (lv <= x->c->o.log_level) cli_log_stderr(lv, "llm", line, NULL);
}

static void start_agent(struct acmd *x) {
  struct cli *c = x->c;
  char err[512];
  if (x->kind != K_EXEC) {
    x->llm = llm_new(c->loop, &x->lcfg, err, sizeof err);
    if (!x->llm) {
      fprintf(stderr, "dawbridge: %s\n", err);
      end(x, CLI_EXIT_CONFIG);
      return;
    }
  }
  struct live_config lc; /* the options as the daemon would take them */
  cli_live_config(c, &lc);
  struct agent_config ac;
  live_agent_config(&lc, c->daw, x->llm, &ac);
  ac.confirm = c->o.confirm;
  ac.stream = !c->o.json;
  if (!ac.data_dir && x->demo_dir[0]) ac.data_dir = x->demo_dir;
  if (!ac.composition && x->kind == K_DEMO) ac.composition = "demo";
  ac.cb.on_stage = on_stage;
  ac.cb.on_plan_delta = on_plan_delta;
  ac.cb.on_plan = on_plan;
  ac.cb.on_confirm = on_confirm;
  ac.cb.on_tool_result = on_tool_result;
  ac.cb.on_violation = on_violation;
  ac.cb.on_done = on_done;
  ac.cb.data = x;
  int rc = agent_new(c->loop, &ac, &x->agent, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    end(x, CLI_EXIT_CONFIG);
    return;
  }
  if (x->kind == K_DEMO && !is_json(x))
    printf(
        "dawbridge demo: an embedded mock %s (with its companion), a scripted model replaying\n%s\n\nRequest: %s\n\n",
        daw_dialect(c->daw), x->transcript, x->text);
  switch (x->kind) {
  case K_PLAN: rc = agent_plan(x->agent, x->text); break;
  case K_EXEC: rc = agent_exec_plan(x->agent, x->text, x->label); break;
  default: rc = agent_ask(x->agent, x->text); break;
  }
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", agent_strerror(rc));
    end(x, CLI_EXIT_USAGE);
  }
}

static void on_daw_ready(int status, const json_t *result, const char *message, void *data) {
  struct acmd *x = data;
  (void)status, (void)message;
  if (!json_is_true(json_object_get(result, "companion"))) {
    const char *why = json_string_value(json_object_get(result, "companion_error"));
    int lv = x->kind == K_DEMO ? LOG_WARN : LOG_INFO;
    if (x->c->o.log_level >= lv)
      cli_log_stderr(lv, "agent", why ? why : "the companion does not answer: only native OSC tools are offered", NULL);
  }
  start_agent(x);
}

static void open_daw(struct acmd *x) {
  /* on failure cli_open_daw prints the error and finishes the command itself */
  if (cli_open_daw(x->c, on_daw_ready, x)) x->ending = 1;
}

static void on_probe(int status, struct llm_config *cfg, const char *msg, void *data) {
  struct acmd *x = data;
  (void)cfg;
  if (x->ending) return;
  if (status) {
    fprintf(stderr, "dawbridge: no language model configured.\n%s\n", msg ? msg : "");
    end(x, CLI_EXIT_CONFIG);
    return;
  }
  if (msg && *msg && x->c->o.log_level >= LOG_INFO) cli_log_stderr(LOG_INFO, "llm", msg, NULL);
  open_daw(x);
}

static struct acmd *acmd_new(struct cli *c, enum kind k) {
  struct acmd *x = cli_cmd_new(c, sizeof *x, acmd_free);
  if (!x) return NULL;
  x->c = c;
  x->kind = k;
  uv_signal_start(&c->sigint, on_signal, SIGINT);
  uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  /* a file size limit makes the history's write fail with an error (reported, checked before the DAW is changed)
   * instead of killing the process in the middle of a change */
  signal(SIGXFSZ, SIG_IGN);
  return x;
}

/* Resolve the model configuration; 0 = go on (open the DAW, maybe after a probe), else an exit code. */
static int setup_llm(struct acmd *x) {
  struct cli *c = x->c;
  llm_config_defaults(&x->lcfg);
  x->lcfg.log = llm_log;
  x->lcfg.log_data = x;
  x->lcfg.log_level = c->o.log_level >= LOG_DEBUG  ? LLM_LOG_DEBUG
                      : c->o.log_level >= LOG_INFO ? LLM_LOG_INFO
                      : c->o.log_level >= LOG_WARN ? LLM_LOG_WARN
                                                   : LLM_LOG_ERROR;
  struct llm_flags fl = {.llm = c->o.llm, .model = c->o.model, .url = c->o.llm_url, .json_mode = c->o.json_mode};
  if (c->o.transcript) {
    if (c->o.llm && strcmp(c->o.llm, "script")) {
      fprintf(stderr, "dawbridge: --transcript is for --llm script, not --llm %s\n", c->o.llm);
      return CLI_EXIT_USAGE;
    }
    fl.llm = "script";
    fl.url = c->o.transcript;
  }
  char err[1024];
  if (llm_config_resolve(&x->lcfg, &fl, err, sizeof err) == LLM_OK) {
    if (x->lcfg.provider == LLM_PROVIDER_SCRIPT && !x->lcfg.url[0]) {
      fprintf(stderr, "dawbridge: --llm script needs a transcript: --transcript FILE (see docs/llm.md)\n");
      return CLI_EXIT_USAGE;
    }
    open_daw(x);
    return 0;
  }
  if (fl.llm) {
    /* a provider was named but is not usable: say why, no probing */
    fprintf(stderr, "dawbridge: %s\n", err);
    return CLI_EXIT_CONFIG;
  }
  if (c->o.log_level >= LOG_INFO)
    cli_log_stderr(LOG_INFO, "llm", "no model configured; looking for a local OpenAI-compatible server", NULL);
  if (llm_config_probe(c->loop, &x->lcfg, NULL, on_probe, x) != LLM_OK) {
    fprintf(stderr, "dawbridge: no language model configured.\n%s\n", err);
    return CLI_EXIT_CONFIG;
  }
  return 0;
}

static int usage_text(struct cli *c, const char *what) {
  fprintf(stderr, "dawbridge: %s needs %s, e.g. dawbridge %s \"add a four-on-the-floor kick, 4 bars\"\n", c->cmd, what,
          c->cmd);
  return CLI_EXIT_USAGE;
}

static int start_text_cmd(struct cli *c, enum kind k) {
  if (c->argc < 1) return usage_text(c, "a request in words");
  struct acmd *x = acmd_new(c, k);
  if (!x) return CLI_EXIT_CONFIG;
  x->text = cli_join_args(c);
  if (!x->text || !*x->text) return usage_text(c, "a request in words");
  int rc = setup_llm(x);
  if (rc) x->ending = 1;
  return rc;
}

int cmd_ask(struct cli *c) { return start_text_cmd(c, K_ASK); }
int cmd_plan(struct cli *c) { return start_text_cmd(c, K_PLAN); }

int cmd_exec(struct cli *c) {
  if (c->argc != 1) {
    fprintf(stderr, "dawbridge: exec needs one plan file (docs/plan-format.md), e.g. dawbridge exec song.plan\n");
    return CLI_EXIT_USAGE;
  }
  char err[1200];
  char *text = app_config_read_file(c->argv[0], (size_t)8 << 20, NULL, err, sizeof err);
  if (!text) {
    fprintf(stderr, "dawbridge: %s\n", err);
    return CLI_EXIT_USAGE;
  }
  struct acmd *x = acmd_new(c, K_EXEC);
  if (!x) {
    free(text);
    return CLI_EXIT_CONFIG;
  }
  x->text = text;
  size_t n = strlen(c->argv[0]) + 8;
  x->label = malloc(n);
  if (x->label) snprintf(x->label, n, "exec %s", c->argv[0]);
  open_daw(x);
  return 0;
}

#define DEMO_REQUEST "Add a kick drum track with a two-note pattern and some reverb"

int cmd_demo(struct cli *c) {
  c->o.daw = "mock";
  c->o.no_companion = 0;
  if (c->argc > 0) {
    fprintf(stderr, "dawbridge: demo takes no arguments (it replays examples/demo-transcript.json)\n");
    return CLI_EXIT_USAGE;
  }
  struct acmd *x = acmd_new(c, K_DEMO);
  if (!x) return CLI_EXIT_CONFIG;
  x->text = strdup(DEMO_REQUEST);
  char derr[600];
  if (!c->o.transcript &&
      datadir_file(DATADIR_EXAMPLES, "demo-transcript.json", x->transcript, sizeof x->transcript, derr, sizeof derr)) {
    fprintf(stderr, "dawbridge: demo: %s\n", derr);
    x->ending = 1;
    return CLI_EXIT_CONFIG;
  }
  if (!c->o.transcript)
    c->o.transcript = x->transcript;
  else
    snprintf(x->transcript, sizeof x->transcript, "%s", c->o.transcript);
  c->o.llm = "script";
  if (!c->o.data_dir) {
    const char *tmp = getenv("TMPDIR");
    snprintf(x->demo_dir, sizeof x->demo_dir, "%s/dawbridge-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(x->demo_dir)) {
      fprintf(stderr, "dawbridge: cannot create a directory for the demo's history: %s\n", strerror(errno));
      x->ending = 1;
      return CLI_EXIT_CONFIG;
    }
  }
  int rc = setup_llm(x);
  if (rc) x->ending = 1;
  return rc;
}
