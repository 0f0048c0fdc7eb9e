/* The CLI as a client of the live daemon (issue 13). While `dawbridge run` serves this DAW (its control socket
 * answers, app/ctl.h), ask | plan | exec | call | state | tools | history list|show|undo|restore|save | status go
 * through it, and history show|diff|export read the daemon's history files (its place asked first):
 * the request is queued behind the daemon's others, its progress is printed as it comes (like the one-shot
 * commands), and the exit code is the done event's. Without a daemon (no socket, or nobody answers) the
 * command runs one-shot as before. Ctrl-C cancels the request in the daemon (the confirmed part is kept as a
 * partial iteration; exit 130); a second Ctrl-C exits at once. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "cli.h"
#include "config.h"
#include "ctl.h"
#include "ctl_client.h"
#include "live.h"

/* W_PLACE: history show|diff|export read the daemon's history files themselves (below); W_TOOLS: `tools`. */
enum what { W_NONE = 0, W_SUBMIT, W_STATE, W_HISTORY, W_ITERATION, W_STATUS, W_TOOLS, W_PLACE };

struct ccmd {
  struct cli *c;
  int (*oneshot)(struct cli *c);
  ctl_client_t *cl;
  enum what what;
  json_t *submit;  /* the request object of a submit */
  int with_new;    /* ask --new: a "new" request first */
  int request;     /* our request id (the last submitted) */
  int pending_new; /* the "new" request's id */
  int code;
  int ending;
  int signals;
  int streamed;
  char sock[512];
  char *place_dir, *place_comp; /* W_PLACE: the daemon's data directory and composition */
};

static void free_json(void *p) { json_decref((json_t *)p); }

static void ccmd_free(void *p) {
  struct ccmd *x = p;
  if (!x) return;
  json_decref(x->submit);
  free(x->place_dir);
  free(x->place_comp);
  free(x);
}

static void on_client_closed(void *data) {
  struct ccmd *x = data;
  x->cl = NULL;
  cli_finish(x->c, x->code);
}

static void end(struct ccmd *x, int code) {
  if (x->ending) return;
  x->ending = 1;
  x->code = code;
  fflush(stdout);
  if (x->cl)
    ctl_client_close(x->cl, on_client_closed, x);
  else
    cli_finish(x->c, code);
}

static void send_op(struct ccmd *x, json_t *msg /* steals */) {
  int rc = ctl_client_send(x->cl, msg);
  json_decref(msg);
  if (rc) {
    fprintf(stderr, "dawbridge: the daemon's control socket: %s\n", uv_strerror(rc));
    end(x, CLI_EXIT_UNREACHABLE);
  }
}

static void on_signal(uv_signal_t *h, int signum) {
  struct cli *c = h->data;
  struct ccmd *x = c->cmd_data;
  if (++x->signals > 1 || !x->request || x->what != W_SUBMIT) {
    fprintf(stderr, "dawbridge: interrupted (signal %d)%s\n", signum,
            x->request ? ": the daemon carries on with what it was doing" : "");
    fflush(stdout);
    _exit(CLI_EXIT_INTERRUPTED);
  }
  fprintf(stderr,
          "dawbridge: interrupted (signal %d): cancelling request %d in the daemon: no further step is sent; "
          "what was done is kept (Ctrl-C again to quit at once)\n",
          signum, x->request);
  send_op(x, json_pack("{s:s, s:s, s:i}", "op", "cancel", "id", "cancel", "request", x->request));
}

/* ---- printing the events (as the one-shot commands print them) ---- */

static const char *sget(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void print_event(struct ccmd *x, const json_t *ev) {
  const char *type = sget(ev, "type");
  int json = x->c->o.json;
  if (!type || json) return;
  if (!strcmp(type, "queued")) {
    json_int_t pos = json_integer_value(json_object_get(ev, "position"));
    if (pos > 0) {
      fprintf(stderr, "dawbridge: queued behind %lld request%s of the daemon\n", (long long)pos, pos == 1 ? "" : "s");
    }
  } else if (!strcmp(type, "stage")) {
    const char *st = sget(ev, "stage");
    if (!st) return;
    if (!strcmp(st, "planning"))
      printf("%s", x->streamed ? "\n--- re-plan ---\n" : "Planning...\n");
    else if (!strcmp(st, "executing"))
      printf("Executing...\n");
    else if (!strcmp(st, "fixing"))
      printf("Corrective round...\n");
  } else if (!strcmp(type, "plan_delta")) {
    const char *t = sget(ev, "text");
    if (t) fputs(t, stdout);
    x->streamed = 1;
  } else if (!strcmp(type, "plan")) {
    const json_t *errors = json_object_get(ev, "errors");
    const char *text = sget(ev, "text");
    if (!x->streamed && text) printf("%s", text);
    if (text && *text && text[strlen(text) - 1] != '\n') printf("\n");
    size_t n = json_array_size(errors);
    if (n) {
      printf("\nThe plan has %zu error%s:\n", n, n == 1 ? "" : "s");
      size_t i;
      json_t *e;
      json_array_foreach(errors, i, e) {
        json_int_t step = json_integer_value(json_object_get(e, "step"));
        if (step)
          printf("  Step %lld: %s\n", (long long)step, sget(e, "message") ? sget(e, "message") : "?");
        else
          printf("  %s\n", sget(e, "message") ? sget(e, "message") : "?");
      }
    } else {
      size_t k = json_array_size(json_object_get(json_object_get(ev, "plan"), "steps"));
      printf("\nPlan valid: %zu step%s.\n", k, k == 1 ? "" : "s");
    }
    size_t wi;
    json_t *w; /* the validator's warnings about steps, as the one-shot path prints them (app/cmd_agent.c) */
    json_array_foreach(json_object_get(json_object_get(ev, "plan"), "warnings"), wi, w) {
      if (json_is_string(w) && !strncmp(json_string_value(w), "Step ", 5))
        printf("Warning: %s\n", json_string_value(w));
    }
    x->streamed = 1;
  } else if (!strcmp(type, "step")) {
    const char *oc = sget(ev, "outcome");
    const char *tool = sget(ev, "tool");
    const json_t *res = json_object_get(ev, "result");
    if (!strcmp(sget(x->submit, "kind") ? sget(x->submit, "kind") : "", "call")) return; /* printed at the end */
    if (oc && !strcmp(oc, "failed")) {
      printf("  FAILED    %s: %s\n", tool ? tool : "?", sget(ev, "message") ? sget(ev, "message") : "error");
    } else {
      const char *tid = sget(res, "track_id"), *cid = sget(res, "clip_id");
      printf("  %-9s %s%s%s%s%s\n", oc ? oc : "?", tool ? tool : "?", tid ? " track " : "", tid ? tid : "",
             cid ? " clip " : "", cid ? cid : "");
    }
  } else if (!strcmp(type, "violation")) {
    printf("  violation: %s\n", sget(json_object_get(ev, "violation"), "message"));
  } else if (!strcmp(type, "connection")) {
    fprintf(stderr, "dawbridge: the daemon's DAW connection: %s%s%s\n", sget(ev, "state"),
            sget(ev, "message") && *sget(ev, "message") ? ": " : "", sget(ev, "message") ? sget(ev, "message") : "");
  }
  fflush(stdout);
}

static void print_done(struct ccmd *x, const json_t *ev) {
  const char *kind = sget(ev, "kind");
  const json_t *resp = json_object_get(ev, "response");
  const char *status = sget(ev, "status");
  const char *summary = sget(ev, "summary");
  int code = (int)json_integer_value(json_object_get(ev, "exit_code"));
  int json = x->c->o.json;
  if (!kind) kind = "?";
  if (!strcmp(kind, "call")) {
    if (json_is_object(resp) && code != CLI_EXIT_UNREACHABLE && strcmp(status ? status : "", "failed"))
      cli_print_call_result(sget(x->submit, "tool") ? sget(x->submit, "tool") : "?", resp, json);
    else
      fprintf(stderr, "dawbridge: %s\n", summary ? summary : "failed");
    return;
  }
  if (!strcmp(kind, "save")) {
    if (json && json_is_object(resp))
      cli_print_json(resp);
    else if (!code)
      printf("%s (user%s%s)\n", summary ? summary : "saved", x->c->o.message ? ": " : "",
             x->c->o.message ? x->c->o.message : "");
    else
      fprintf(stderr, "dawbridge: history save: %s\n", summary ? summary : "failed");
    return;
  }
  if (!strcmp(kind, "undo") || !strcmp(kind, "restore")) {
    if (json_is_object(resp)) cli_print_histop_report(resp, json);
    if (code && summary && (!json_is_object(resp) || code != CLI_EXIT_UNCERTAIN))
      fprintf(stderr, "dawbridge: %s\n", summary);
    return;
  }
  if (json) {
    if (json_is_object(resp)) cli_print_json(resp);
  } else if (json_is_object(resp) && strcmp(kind, "plan")) {
    char *s = agent_summary(resp);
    if (status && !strcmp(status, "plan")) printf("\nThe plan was not executed.\n");
    printf("\n%s", s ? s : "");
    free(s);
  } else if (!strcmp(kind, "plan") && !code) {
    printf("Nothing was sent to the DAW (plan only).\n");
  }
  if (code && summary) fprintf(stderr, "dawbridge: %s\n", summary);
}

static void print_status(const json_t *st) {
  const json_t *run = json_object_get(st, "running");
  printf("daemon for %s: DAW %s, conversation of %lld turn%s, model %s\n", sget(st, "dialect"),
         json_is_true(json_object_get(st, "connected")) ? "connected" : "NOT connected",
         (long long)json_integer_value(json_object_get(st, "conversation_turns")),
         json_integer_value(json_object_get(st, "conversation_turns")) == 1 ? "" : "s",
         sget(st, "model") ? sget(st, "model") : "?");
  if (json_is_object(run))
    printf("running: #%lld %s \"%s\" from %s%s%s\n", (long long)json_integer_value(json_object_get(run, "request")),
           sget(run, "kind"), sget(run, "text") ? sget(run, "text") : "",
           sget(run, "client") ? sget(run, "client") : "?", sget(run, "stage") ? ", " : "",
           sget(run, "stage") ? sget(run, "stage") : "");
  else
    printf("running: nothing\n");
  size_t i;
  json_t *q;
  json_array_foreach(json_object_get(st, "queue"), i, q) printf(
      "queued %zu: #%lld %s \"%s\" from %s\n", i + 1, (long long)json_integer_value(json_object_get(q, "request")),
      sget(q, "kind"), sget(q, "text") ? sget(q, "text") : "", sget(q, "client") ? sget(q, "client") : "?");
  if (!json_array_size(json_object_get(st, "queue"))) printf("queue: empty\n");
}

static void print_history(struct ccmd *x, const json_t *h) {
  if (x->c->o.json) {
    cli_print_json(h);
    return;
  }
  const json_t *list = json_object_get(h, "iterations");
  if (!json_array_size(list)) {
    printf("no iterations of \"%s\" yet (%s)\n", sget(h, "composition"), sget(h, "dir"));
    return;
  }
  printf("iterations of \"%s\" (%s)\n", sget(h, "composition"), sget(h, "dir"));
  printf("%5s  %-19s  %-12s  %7s  %s\n", "#", "time (UTC)", "source", "actions", "request");
  size_t i;
  json_t *it;
  json_array_foreach(list, i, it) {
    char t[32];
    snprintf(t, sizeof t, "%.19s", sget(it, "timestamp") ? sget(it, "timestamp") : "?");
    if (strlen(t) > 10 && t[10] == 'T') t[10] = ' ';
    printf("%5lld  %-19s  %-12s  %7lld  %s\n", (long long)json_integer_value(json_object_get(it, "number")), t,
           sget(it, "source") ? sget(it, "source") : "?",
           (long long)json_integer_value(json_object_get(it, "actions_count")),
           sget(it, "user_message") ? sget(it, "user_message") : "");
  }
}

/* ---- history show|diff|export: the daemon's files, read here ----
 * They only read complete iteration files (history.c creates each one whole, by linking a finished file to its
 * final name, and never rewrites one), so they cannot conflict with the daemon's writes. They run in this process
 * (export writes FILE.mid relative to the user's directory, not the daemon's), on the daemon's data directory and
 * composition, which the "history" op tells: the same history `history list` shows through the daemon. */

static void on_place_closed(void *data) {
  struct ccmd *x = data;
  struct cli *c = x->c;
  int (*fn)(struct cli *) = x->oneshot;
  const char *dd = c->o.data_dir, *comp = c->o.composition;
  c->o.data_dir = x->place_dir;
  c->o.composition = x->place_comp;
  c->cmd_data = NULL;
  c->cmd_free = NULL;
  uv_signal_stop(&c->sigint);
  uv_signal_stop(&c->sigterm);
  int rc = fn(c); /* cmd_history copies both and ends before it returns (file operations only) */
  c->o.data_dir = dd;
  c->o.composition = comp;
  ccmd_free(x);
  if (rc > 0 && !c->finished) cli_finish(c, rc);
}

static void place_known(struct ccmd *x, const json_t *h) {
  const char *dd = sget(h, "data_dir"), *comp = sget(h, "composition");
  if (!dd || !*dd || !comp) {
    fprintf(stderr, "dawbridge: the daemon did not say where its history is\n");
    end(x, CLI_EXIT_CONFIG);
    return;
  }
  x->place_dir = strdup(dd);
  x->place_comp = strdup(comp);
  if (!x->place_dir || !x->place_comp) { /* never fall back to this client's own default history */
    fprintf(stderr, "dawbridge: out of memory\n");
    end(x, CLI_EXIT_CONFIG);
    return;
  }
  x->ending = 1;
  ctl_client_close(x->cl, on_place_closed, x);
  x->cl = NULL;
}

/* ---- the conversation with the daemon ---- */

static void on_message(ctl_client_t *cl, const json_t *m, void *data) {
  struct ccmd *x = data;
  (void)cl;
  if (x->ending) return;
  const char *type = sget(m, "type");
  if (type && !strcmp(type, "reply")) {
    const char *id = sget(m, "id");
    if (!json_is_true(json_object_get(m, "ok"))) {
      fprintf(stderr, "dawbridge: the daemon refused %s: %s\n", id ? id : "the request", sget(m, "error"));
      end(x, CLI_EXIT_INVALID);
      return;
    }
    const json_t *res = json_object_get(m, "result");
    if (id && !strcmp(id, "cancel")) return;
    switch (x->what) {
    case W_SUBMIT:
      if (id && !strcmp(id, "new"))
        x->pending_new = (int)json_integer_value(json_object_get(res, "request"));
      else
        x->request = (int)json_integer_value(json_object_get(res, "request"));
      return;
    case W_STATE:
      if (x->c->o.json)
        cli_print_json(res);
      else
        cli_print_state_table(res);
      end(x, json_is_object(res) ? CLI_EXIT_OK : CLI_EXIT_UNREACHABLE);
      return;
    case W_HISTORY:
      print_history(x, res);
      end(x, CLI_EXIT_OK);
      return;
    case W_ITERATION:
      cli_print_json(res);
      end(x, CLI_EXIT_OK);
      return;
    case W_STATUS:
      if (x->c->o.json)
        cli_print_json(res);
      else
        print_status(res);
      end(x, CLI_EXIT_OK);
      return;
    case W_TOOLS:
      cli_print_tools(res, x->c->o.json);
      end(x, CLI_EXIT_OK);
      return;
    case W_PLACE: place_known(x, res); return;
    default: return;
    }
  }
  json_int_t rid = json_integer_value(json_object_get(m, "request"));
  if (type && !strcmp(type, "done") && rid && rid == x->request) {
    print_done(x, m);
    end(x, (int)json_integer_value(json_object_get(m, "exit_code")));
    return;
  }
  if (type && !strcmp(type, "done") && rid && rid == x->pending_new) {
    if (!x->c->o.json) fprintf(stderr, "dawbridge: a new conversation\n");
    return;
  }
  print_event(x, m);
}

static void on_close(ctl_client_t *cl, const char *why, void *data) {
  struct ccmd *x = data;
  (void)cl;
  fprintf(stderr, "dawbridge: the daemon went away (%s)%s\n", why,
          x->request ? ": the request's outcome is unknown (see `dawbridge history list`)" : "");
  end(x, x->request ? CLI_EXIT_UNCERTAIN : CLI_EXIT_UNREACHABLE);
}

static void on_connect(ctl_client_t *cl, int status, void *data) {
  struct ccmd *x = data;
  if (status) {
    /* nobody answers: one-shot as without a daemon */
    x->ending = 1;
    x->cl = NULL;
    ctl_client_close(cl, NULL, NULL);
    struct cli *c = x->c;
    int (*fn)(struct cli *) = x->oneshot;
    c->cmd_data = NULL;
    c->cmd_free = NULL;
    /* call's arguments were read already (perhaps from stdin): cmd_call takes them as they are */
    json_t *args = !strcmp(c->cmd, "call") ? json_object_get(x->submit, "args") : NULL;
    if (args) {
      c->cmd_data = json_incref(args);
      c->cmd_free = free_json;
    }
    ccmd_free(x);
    uv_signal_stop(&c->sigint);
    uv_signal_stop(&c->sigterm);
    int rc = fn(c);
    if (rc > 0 && !c->finished) cli_finish(c, rc);
    return;
  }
  if (x->c->o.log_level >= LOG_INFO)
    cli_log_stderr(LOG_INFO, "cli", "through the running daemon's control socket", NULL);
  switch (x->what) {
  case W_SUBMIT:
    if (x->with_new)
      send_op(x, json_pack("{s:s, s:s, s:{s:s}}", "op", "submit", "id", "new", "request", "kind", "new"));
    if (!x->ending) send_op(x, json_pack("{s:s, s:s, s:O}", "op", "submit", "id", "request", "request", x->submit));
    break;
  case W_STATE: send_op(x, json_pack("{s:s}", "op", "state")); break;
  case W_HISTORY: send_op(x, json_pack("{s:s}", "op", "history")); break;
  case W_ITERATION: send_op(x, json_pack("{s:s, s:i}", "op", "iteration", "number", atoi(x->c->argv[1]))); break;
  case W_STATUS: send_op(x, json_pack("{s:s}", "op", "status")); break;
  case W_TOOLS: send_op(x, json_pack("{s:s}", "op", "tools")); break;
  case W_PLACE: send_op(x, json_pack("{s:s}", "op", "history")); break;
  default: end(x, CLI_EXIT_USAGE); break;
  }
}

/* The request for the command, or W_NONE (one-shot only); an exit code > 0 for a usage error. */
static int plan_request(struct ccmd *x) {
  struct cli *c = x->c;
  const char *cmd = c->cmd;
  if (!strcmp(cmd, "ask") || !strcmp(cmd, "plan")) {
    if (c->argc < 1) return -1; /* the one-shot command says how to use it */
    char *t = cli_join_args(c);
    x->submit = json_pack("{s:s, s:s}", "kind", cmd, "text", t ? t : "");
    free(t);
    x->with_new = c->o.new_conversation && !strcmp(cmd, "ask");
    x->what = W_SUBMIT;
  } else if (!strcmp(cmd, "exec")) {
    if (c->argc != 1) return -1;
    char err[1200];
    char *text = app_config_read_file(c->argv[0], (size_t)8 << 20, NULL, err, sizeof err);
    if (!text) return -1;
    char label[1100];
    snprintf(label, sizeof label, "exec %s", c->argv[0]);
    x->submit = json_pack("{s:s, s:s, s:s}", "kind", "exec", "text", text, "label", label);
    free(text);
    x->what = W_SUBMIT;
  } else if (!strcmp(cmd, "call")) {
    if (c->argc < 1 || c->argc > 2) return -1;
    json_t *args = NULL;
    int rc = cli_call_args(c, &args);
    if (rc) return rc;
    x->submit = json_pack("{s:s, s:s, s:o}", "kind", "call", "tool", c->argv[0], "args", args ? args : json_object());
    x->what = W_SUBMIT;
  } else if (!strcmp(cmd, "state")) {
    x->what = W_STATE;
  } else if (!strcmp(cmd, "status")) {
    x->what = W_STATUS;
  } else if (!strcmp(cmd, "tools") && c->argc == 0) {
    x->what = W_TOOLS;
  } else if (!strcmp(cmd, "history") && c->argc >= 1) {
    const char *sub = c->argv[0];
    if (!strcmp(sub, "list") && c->argc == 1)
      x->what = W_HISTORY;
    else if (!strcmp(sub, "show") && c->argc == 2 && c->o.json && atoi(c->argv[1]) > 0)
      x->what = W_ITERATION;
    else if ((!strcmp(sub, "show") && c->argc == 2) || (!strcmp(sub, "diff") && c->argc == 3) ||
             (!strcmp(sub, "export") && c->argc == 3))
      x->what = W_PLACE;
    else if (!strcmp(sub, "save") && c->argc == 1) {
      x->submit = json_pack("{s:s, s:s}", "kind", "save", "text", c->o.message ? c->o.message : "");
      x->what = W_SUBMIT;
    } else if (!strcmp(sub, "undo") && c->argc == 1) {
      x->submit = json_pack("{s:s, s:b}", "kind", "undo", "force", c->o.force);
      x->what = W_SUBMIT;
    } else if (!strcmp(sub, "restore") && c->argc == 2 && atoi(c->argv[1]) > 0) {
      x->submit = json_pack("{s:s, s:i, s:b}", "kind", "restore", "iteration", atoi(c->argv[1]), "force", c->o.force);
      x->what = W_SUBMIT;
    }
  }
  return 0;
}

int cli_daemon_applies(const struct cli *c) {
  /* the command line only: the daemon read the same configuration file */
  const struct cli_opts *o = &c->given;
  /* options that describe another DAW link, model or data place than the daemon's own ask for a one-shot run */
  return !(o->data_dir || o->composition || o->confirm || o->host || o->listen || o->port || o->listen_port != -1 ||
           o->map_path || o->spool_dir || o->no_companion || o->mock_tracks != -1 || o->timeout_ms != -1 ||
           o->retries != -1 || o->bank_size || o->llm || o->model || o->llm_url || o->json_mode || o->transcript ||
           o->executor || o->max_turns || o->context_budget || o->profile != -1);
}

int cli_dispatch(struct cli *c, int (*fn)(struct cli *c)) {
  if (!cli_daemon_applies(c) || !strcmp(c->cmd, "demo") || !strcmp(c->cmd, "eval")) return fn(c);
  struct ccmd *x = calloc(1, sizeof *x);
  if (!x) return fn(c);
  x->c = c;
  x->oneshot = fn;
  /* no socket, no daemon: one-shot without touching the arguments (call reads stdin only once) */
  struct stat st;
  if (ctl_socket_path(cli_socket_name(c), x->sock, sizeof x->sock, 0, NULL, 0) || stat(x->sock, &st) ||
      !S_ISSOCK(st.st_mode)) {
    ccmd_free(x);
    return fn(c);
  }
  int rc = plan_request(x);
  if (rc > 0) {
    ccmd_free(x);
    return rc;
  }
  if (x->what == W_NONE) {
    ccmd_free(x);
    return fn(c);
  }
  c->cmd_data = x;
  c->cmd_free = ccmd_free;
  struct ctl_client_callbacks cb = {on_connect, on_message, on_close, x};
  if (ctl_client_connect(c->loop, x->sock, &cb, &x->cl)) {
    c->cmd_data = NULL;
    c->cmd_free = NULL;
    ccmd_free(x);
    return fn(c);
  }
  uv_signal_start(&c->sigint, on_signal, SIGINT);
  uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  return 0;
}

/* `dawbridge status` without a daemon. */
int cmd_daemon_status(struct cli *c) {
  char path[512];
  if (ctl_socket_path(cli_socket_name(c), path, sizeof path, 0, NULL, 0)) path[0] = 0;
  fprintf(stderr, "dawbridge: no daemon runs for %s (no answer on %s); start one with: dawbridge --daw %s run\n",
          cli_socket_name(c), path[0] ? path : "its control socket", c->o.daw);
  return CLI_EXIT_UNREACHABLE;
}
