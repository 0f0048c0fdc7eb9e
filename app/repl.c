/* repl: the interactive face (see repl.h). */
#include "repl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* libedit's readline emulation (Debian libedit-dev) */
#include <editline/readline.h>

#include "cli.h"
#include "errfmt.h"
#include "strbuf.h"

#define REPL_OWN_MAX (LIVE_QUEUE_MAX + 8)
#define REPL_HISTORY_LINES 1000

struct repl {
  uv_loop_t *loop;
  live_t *live;
  uv_poll_t poll;
  uv_signal_t sigint, sigterm, sigwinch;
  uv_timer_t defer; /* runs the quit callback outside libedit's and live's call stacks */
  int handles;      /* open handles; r is freed when the last one has closed */
  int sub;
  int active;            /* libedit's callback handler is installed: the prompt line is on the screen */
  int in_line;           /* inside the line callback: libedit redraws the prompt itself afterwards */
  int own[REPL_OWN_MAX]; /* ids of our requests that have not ended (queued or running) */
  int quitting, quit_code, quit_called, closing;
  char *history_path;
  char *prompt;
  /* stage-1 text as it streams: complete lines are printed, the rest waits here */
  int delta_req;
  int delta_seen;
  strbuf_t delta; /* the streamed stage-1 text not yet printed */
  void (*on_quit)(int exit_code, void *data);
  void *data;
  void (*close_cb)(void *data);
  void *close_data;
};

/* libedit's line callback carries no data pointer: the one repl of this process (repl.h). */
static repl_t *the_repl;

const char *repl_strerror(int code) {
  switch (code) {
  case REPL_OK: return "ok";
  case REPL_ENOTTY: return "not a terminal";
  case REPL_ENOMEM: return "out of memory";
  case REPL_EBUSY: return "a prompt is already open";
  default: return "unknown repl error";
  }
}

/* ---- output that keeps the prompt line intact ---- */

static void out_begin(repl_t *r) {
  if (r && r->active && !r->in_line) fputs("\r\033[K", stdout);
}

static void out_end(repl_t *r) {
  fflush(stdout);
  if (r && r->active && !r->in_line) rl_forced_update_display();
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
say(repl_t *r, const char *fmt, ...) {
  out_begin(r);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  out_end(r);
}

void repl_notice(repl_t *r, const char *text) { say(r, "%s", text); }

void repl_log(int level, const char *module, const char *text, void *data) {
  repl_t *r = data;
  static const char *const names[] = {"error", "warn", "info", "debug"};
  out_begin(r);
  fflush(stdout);
  fprintf(stderr, "dawbridge: %s: %s: %s\n", level >= 0 && level <= 3 ? names[level] : "log", module, text);
  fflush(stderr);
  out_end(r);
}

/* ---- our requests ---- */

static void own_add(repl_t *r, int id) {
  for (int i = 0; i < REPL_OWN_MAX; i++)
    if (!r->own[i]) {
      r->own[i] = id;
      return;
    }
}

static int own_has(const repl_t *r, int id) {
  for (int i = 0; id > 0 && i < REPL_OWN_MAX; i++)
    if (r->own[i] == id) return 1;
  return 0;
}

static void own_del(repl_t *r, int id) {
  for (int i = 0; i < REPL_OWN_MAX; i++)
    if (r->own[i] == id) r->own[i] = 0;
}

static int own_count(const repl_t *r) {
  int n = 0;
  for (int i = 0; i < REPL_OWN_MAX; i++) n += r->own[i] != 0;
  return n;
}

static void cancel_own(repl_t *r) {
  for (int i = 0; i < REPL_OWN_MAX; i++)
    if (r->own[i]) live_cancel(r->live, r->own[i]);
}

static void on_defer(uv_timer_t *t) {
  repl_t *r = t->data;
  if (r->quit_called || r->closing) return;
  r->quit_called = 1;
  if (r->on_quit) r->on_quit(r->quit_code, r->data);
}

static void quit_now(repl_t *r) {
  if (!r->quit_called && !r->closing) uv_timer_start(&r->defer, on_defer, 0, 0);
}

static void quit(repl_t *r, int code) {
  if (r->quitting) {
    quit_now(r); /* asked again: do not wait for the cancelled request */
    return;
  }
  r->quitting = 1;
  r->quit_code = code;
  if (own_count(r)) {
    say(r, "cancelling your request before quitting (nothing further is sent; the confirmed part is kept)...");
    cancel_own(r);
    return; /* its done event ends the quit */
  }
  quit_now(r);
}

/* ---- events ---- */

static const char *jstr(const json_t *o, const char *k, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : dflt;
}

static int jint(const json_t *o, const char *k) { return (int)json_integer_value(json_object_get(o, k)); }

static void delta_reset(repl_t *r, int req) {
  r->delta_req = req;
  r->delta_seen = 0;
  if (r->delta.oom)
    strbuf_reset(&r->delta);
  else
    strbuf_clear(&r->delta);
}

/* Prints the complete lines of the streamed stage-1 text (all of it when flush). */
static void delta_print(repl_t *r, int flush) {
  size_t start = 0;
  strbuf_t *d = &r->delta;
  if (!d->len) return;
  out_begin(r);
  for (size_t i = 0; i < d->len; i++)
    if (d->s[i] == '\n') {
      printf("  %.*s\n", (int)(i - start), d->s + start);
      start = i + 1;
    }
  if (flush && start < d->len) {
    printf("  %.*s\n", (int)(d->len - start), d->s + start);
    start = d->len;
  }
  memmove(d->s, d->s + start, d->len - start + 1); /* the NUL too */
  d->len -= start;
  out_end(r);
}

static void delta_add(repl_t *r, int req, const char *text) {
  if (req != r->delta_req) delta_reset(r, req);
  size_t n = strlen(text);
  strbuf_append(&r->delta, text, n);
  r->delta_seen = 1;
  if (memchr(text, '\n', n)) delta_print(r, 0);
}

static void print_plan(repl_t *r, const json_t *ev) {
  int req = jint(ev, "request");
  const json_t *steps = json_object_get(json_object_get(ev, "plan"), "steps");
  const json_t *errors = json_object_get(ev, "errors");
  if (r->delta_req == req && r->delta_seen) {
    delta_print(r, 1);
  } else {
    out_begin(r);
    printf("Plan:\n");
    size_t i;
    const json_t *st;
    json_array_foreach(steps, i, st)
        printf("  Step %d: %s - %s\n", jint(st, "step"), jstr(st, "tool", "?"), jstr(st, "description", ""));
    out_end(r);
  }
  delta_reset(r, 0);
  if (json_array_size(errors)) {
    out_begin(r);
    printf("Plan errors:\n");
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e)
        printf("  - %s\n", json_is_string(e) ? json_string_value(e) : jstr(e, "message", "?"));
    out_end(r);
  } else {
    say(r, "Plan valid: %zu steps.", json_array_size(steps));
  }
}

static void on_event(const json_t *ev, void *data) {
  repl_t *r = data;
  const char *type = jstr(ev, "type", "");
  const json_t *rq = json_object_get(ev, "request");
  int id = json_is_integer(rq) ? (int)json_integer_value(rq) : 0;
  int mine = own_has(r, id);
  if (id && !mine) { /* another client's request (control socket, surface, web): one line at its start and end */
    if (!strcmp(type, "started"))
      say(r, "[%s] request %d: %s %s", jstr(ev, "client", "?"), id, jstr(ev, "kind", "?"), jstr(ev, "text", ""));
    else if (!strcmp(type, "done"))
      say(r, "[request %d] %s", id, jstr(ev, "summary", jstr(ev, "status", "")));
    return;
  }
  if (!strcmp(type, "queued")) {
    if (jint(ev, "position") > 0)
      say(r, "busy: queued at position %d, runs when the current request ends (Ctrl-C cancels it)",
          jint(ev, "position"));
  } else if (!strcmp(type, "stage")) {
    const char *st = jstr(ev, "stage", "?");
    if (r->delta_req == id && r->delta.len) delta_print(r, 1); /* the plan text's last line before the stage */
    if (!strcmp(st, "planning")) delta_reset(r, id);
    say(r, "%c%s...", st[0] >= 'a' && st[0] <= 'z' ? st[0] - 'a' + 'A' : st[0], st[0] ? st + 1 : "");
  } else if (!strcmp(type, "plan_delta")) {
    delta_add(r, id, jstr(ev, "text", ""));
  } else if (!strcmp(type, "plan")) {
    print_plan(r, ev);
  } else if (!strcmp(type, "step")) {
    const char *msg = jstr(ev, "message", NULL);
    const json_t *res = json_object_get(ev, "result");
    const char *tid = jstr(res, "track_id", NULL), *cid = jstr(res, "clip_id", NULL);
    char where[160] = "";
    if (tid || cid)
      snprintf(where, sizeof where, "%s%s%s%s", tid ? " track " : "", tid ? tid : "", cid ? " clip " : "",
               cid ? cid : "");
    if (jint(ev, "index") > 0)
      say(r, "  [%d/%d] %s %s%s%s%s", jint(ev, "index"), jint(ev, "total"), jstr(ev, "outcome", "?"),
          jstr(ev, "tool", "?"), where, msg ? ": " : "", msg ? msg : "");
    else
      say(r, "  [-] %s %s%s%s%s", jstr(ev, "outcome", "?"), jstr(ev, "tool", "?"), where, msg ? ": " : "",
          msg ? msg : "");
  } else if (!strcmp(type, "violation")) {
    const json_t *v = json_object_get(ev, "violation");
    say(r, "  violation: %s", jstr(v, "message", jstr(v, "kind", "?")));
  } else if (!strcmp(type, "done")) {
    own_del(r, id);
    const char *summary = jstr(ev, "summary", "");
    int code = jint(ev, "exit_code");
    const json_t *it = json_object_get(ev, "iteration");
    if (code == CLI_EXIT_INTERRUPTED) {
      if (json_is_integer(it))
        say(r, "cancelled: %s -- the confirmed part is saved as partial iteration %d (/undo reverts it)", summary,
            (int)json_integer_value(it));
      else
        say(r, "cancelled: %s", summary);
    } else {
      say(r, "%s", summary);
      if (json_is_integer(it)) say(r, "Iteration %d saved.", (int)json_integer_value(it));
      if (strcmp(jstr(ev, "status", "ok"), "ok")) say(r, "(%s, exit code %d)", jstr(ev, "status", "?"), code);
    }
    if (r->quitting && !own_count(r)) quit_now(r);
  } else if (!strcmp(type, "error")) {
    say(r, "error: %s", jstr(ev, "message", "?"));
  } else if (!strcmp(type, "connection")) {
    const char *m = jstr(ev, "message", "");
    say(r, "DAW connection %s%s%s", jstr(ev, "state", "?"), *m ? ": " : "", m);
  } else if (!strcmp(type, "conversation")) {
    say(r, "New conversation.");
  }
}

/* ---- commands ---- */

static void submit(repl_t *r, const struct live_request *q) {
  int id = live_submit(r->live, q);
  if (id < 0)
    say(r, "error: %s", live_strerror(id));
  else
    own_add(r, id);
}

static void repl_history_list(repl_t *r) {
  char err[512];
  json_t *h = live_history(r->live, err, sizeof err);
  if (!h) {
    say(r, "history: %s", err);
    return;
  }
  const json_t *list = json_is_array(h) ? h : json_object_get(h, "iterations");
  if (!json_array_size(list)) {
    say(r, "no iterations yet");
  } else {
    out_begin(r);
    printf("%5s  %-19s  %-12s  %7s  %s\n", "#", "time (UTC)", "source", "actions", "request");
    size_t i;
    const json_t *it;
    json_array_foreach(list, i, it) {
      char t[20] = "";
      snprintf(t, sizeof t, "%s", jstr(it, "timestamp", ""));
      if (t[10] == 'T') t[10] = ' ';
      printf("%5d  %-19s  %-12s  %7d  %s\n", jint(it, "number"), t, jstr(it, "source", "?"), jint(it, "actions_count"),
             jstr(it, "user_message", ""));
    }
    out_end(r);
  }
  json_decref(h);
}

static void repl_status(repl_t *r) {
  json_t *st = live_status(r->live);
  const json_t *run = json_object_get(st, "running");
  out_begin(r);
  printf("%s, %s\n", jstr(st, "dialect", "DAW"),
         json_is_true(json_object_get(st, "connected")) ? "connected" : "NOT connected");
  if (json_is_object(run))
    printf("running: request %d %s \"%s\" from %s (%s)\n", jint(run, "request"), jstr(run, "kind", "?"),
           jstr(run, "text", ""), jstr(run, "client", "?"), jstr(run, "stage", "?"));
  else
    printf("idle\n");
  size_t i;
  const json_t *q;
  json_array_foreach(json_object_get(st, "queue"), i, q)
      printf("queued %zu: request %d %s \"%s\" from %s\n", i + 1, jint(q, "request"), jstr(q, "kind", "?"),
             jstr(q, "text", ""), jstr(q, "client", "?"));
  printf("conversation: %d turns\n", jint(st, "conversation_turns"));
  out_end(r);
  json_decref(st);
}

static const char help_text[] =
    "Type a request in plain words (\"add a sub bass in A minor, 4 bars\"): it is planned, run in the DAW and saved.\n"
    "  /undo [N] [--force]  revert the last iteration (or N); --force also reverts your later edits of the same thing\n"
    "  /state               the session as the DAW reports it\n"
    "  /history             the saved iterations\n"
    "  /status              the running request and the queue\n"
    "  /new                 start a new conversation (earlier requests no longer go to the planner)\n"
    "  /help                this text\n"
    "  /quit                leave (also Ctrl-D on an empty line)\n"
    "Ctrl-C cancels the running request: nothing further is sent, the confirmed part is kept as a partial iteration.";

static void dispatch(repl_t *r, const char *line) {
  struct live_request q = {.client = "repl"};
  if (line[0] != '/') {
    q.kind = LIVE_ASK;
    q.text = line;
    submit(r, &q);
    return;
  }
  char cmd[32];
  size_t n = strcspn(line, " \t");
  snprintf(cmd, sizeof cmd, "%.*s", (int)(n < sizeof cmd - 1 ? n : sizeof cmd - 1), line);
  const char *arg = line + n;
  while (*arg == ' ' || *arg == '\t') arg++;
  if (!strcmp(cmd, "/quit") || !strcmp(cmd, "/exit")) {
    quit(r, 0);
  } else if (!strcmp(cmd, "/help") || !strcmp(cmd, "/?")) {
    say(r, "%s", help_text);
  } else if (!strcmp(cmd, "/state")) {
    json_t *st = live_state(r->live);
    if (!st) {
      say(r, "no session mirrored yet (the DAW is not connected)");
      return;
    }
    out_begin(r);
    cli_print_state_table(st);
    out_end(r);
    json_decref(st);
  } else if (!strcmp(cmd, "/history")) {
    repl_history_list(r);
  } else if (!strcmp(cmd, "/status")) {
    repl_status(r);
  } else if (!strcmp(cmd, "/new")) {
    q.kind = LIVE_NEW;
    submit(r, &q);
  } else if (!strcmp(cmd, "/undo")) {
    q.kind = LIVE_UNDO;
    char word[32];
    const char *p = arg;
    while (*p) {
      size_t k = strcspn(p, " \t");
      snprintf(word, sizeof word, "%.*s", (int)(k < sizeof word - 1 ? k : sizeof word - 1), p);
      char *end;
      long v = strtol(word, &end, 10);
      if (!strcmp(word, "--force"))
        q.flags |= LIVE_FORCE;
      else if (*word && !*end && v > 0 && v < 1000000)
        q.iteration = (int)v;
      else {
        say(r, "usage: /undo [N] [--force]");
        return;
      }
      p += k;
      while (*p == ' ' || *p == '\t') p++;
    }
    submit(r, &q);
  } else {
    say(r, "unknown command %s (try /help)", cmd);
  }
}

static void on_line(char *line) {
  repl_t *r = the_repl;
  if (!r) {
    free(line);
    return;
  }
  r->in_line = 1;
  if (!line) { /* Ctrl-D on an empty line */
    fputs("\n", stdout);
    quit(r, 0);
  } else {
    char *s = line;
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = 0;
    if (*s) {
      add_history(s);
      if (r->history_path && write_history(r->history_path) == 0) chmod(r->history_path, 0600);
      if (!r->quitting) dispatch(r, s);
    }
    free(line);
  }
  fflush(stdout);
  r->in_line = 0;
  /* libedit 3.1 (2022) leaves its callback mode when a line is done: install the handler again for the next
   * line (a fresh, empty line and the prompt). When quitting, the prompt is not shown again and stdin is no
   * longer read (libedit would read a whole line blocking). */
  if (r->quitting) {
    r->active = 0;
    uv_poll_stop(&r->poll);
  } else if (!r->closing)
    rl_callback_handler_install(r->prompt, on_line);
}

/* ---- terminal and signals ---- */

static void on_readable(uv_poll_t *p, int status, int events) {
  repl_t *r = p->data;
  if (status < 0 || (events & UV_DISCONNECT)) { /* the terminal went away */
    uv_poll_stop(p);
    r->quitting = 1;
    quit_now(r);
    return;
  }
  if (r->active) rl_callback_read_char();
}

static void on_sigint(uv_signal_t *h, int signum) {
  repl_t *r = h->data;
  if (r->quitting) {
    quit_now(r);
    return;
  }
  if (own_count(r)) {
    say(r, "^C cancelling: nothing further is sent; the confirmed part is kept as a partial iteration");
    cancel_own(r);
    return;
  }
  if (r->active) { /* idle prompt: clear the line (^U is libedit's em-kill-line in emacs mode) */
    rl_insert(1, 'U' - '@');
    rl_callback_read_char();
  }
}

static void on_sigterm(uv_signal_t *h, int signum) { quit(h->data, CLI_EXIT_INTERRUPTED); }

static void on_sigwinch(uv_signal_t *h, int signum) {
  repl_t *r = h->data;
  if (r->active) rl_resize_terminal();
}

static char *history_path(const char *given) {
  if (given) return strdup(given);
  const char *state = getenv("XDG_STATE_HOME");
  const char *home = getenv("HOME");
  char dir[4096];
  if (state && state[0] == '/')
    snprintf(dir, sizeof dir, "%s/dawbridge", state);
  else if (home && home[0])
    snprintf(dir, sizeof dir, "%s/.local/state/dawbridge", home);
  else
    return NULL;
  /* create the directory and its missing parents (0700) */
  for (char *p = dir + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(dir, 0700);
      *p = '/';
    }
  mkdir(dir, 0700);
  size_t n = strlen(dir) + sizeof "/repl_history";
  char *path = malloc(n);
  if (path) snprintf(path, n, "%s/repl_history", dir);
  return path;
}

int repl_new(uv_loop_t *loop, live_t *live, const struct repl_config *cfg, repl_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (the_repl) return errfmt(err, errlen, REPL_EBUSY, "a prompt is already open in this process");
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
    return errfmt(err, errlen, REPL_ENOTTY, "the interactive prompt needs a terminal (stdin and stdout)");
  repl_t *r = calloc(1, sizeof *r);
  if (!r) return errfmt(err, errlen, REPL_ENOMEM, "out of memory");
  r->loop = loop;
  r->live = live;
  r->on_quit = cfg ? cfg->on_quit : NULL;
  r->data = cfg ? cfg->data : NULL;
  r->prompt = strdup(cfg && cfg->prompt ? cfg->prompt : "dawbridge> ");
  r->history_path = history_path(cfg ? cfg->history_file : NULL);
  if (!r->prompt) {
    free(r->history_path);
    free(r);
    return errfmt(err, errlen, REPL_ENOMEM, "out of memory");
  }
  the_repl = r;
  if (uv_poll_init(loop, &r->poll, STDIN_FILENO)) {
    the_repl = NULL;
    free(r->prompt);
    free(r->history_path);
    free(r);
    return errfmt(err, errlen, REPL_ENOTTY, "stdin cannot be watched by the event loop");
  }
  r->poll.data = r;
  uv_signal_init(loop, &r->sigint);
  uv_signal_init(loop, &r->sigterm);
  uv_signal_init(loop, &r->sigwinch);
  uv_timer_init(loop, &r->defer);
  r->sigint.data = r->sigterm.data = r->sigwinch.data = r->defer.data = r;
  r->handles = 5;
  uv_signal_start(&r->sigint, on_sigint, SIGINT);
  uv_signal_start(&r->sigterm, on_sigterm, SIGTERM);
  uv_signal_start(&r->sigwinch, on_sigwinch, SIGWINCH);

  /* libedit: no signal handlers of its own (the loop has them), our name for ~/.editrc, the history file */
  rl_catch_signals = 0;
  rl_readline_name = "dawbridge";
  using_history();
  stifle_history(REPL_HISTORY_LINES);
  if (r->history_path) {
    int fd = open(r->history_path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
      fchmod(fd, 0600);
      close(fd);
    }
    read_history(r->history_path);
  }
  r->sub = live_subscribe(live, on_event, r);
  rl_callback_handler_install(r->prompt, on_line);
  r->active = 1;
  uv_poll_start(&r->poll, UV_READABLE | UV_DISCONNECT, on_readable);
  *out = r;
  return REPL_OK;
}

static void on_handle_closed(uv_handle_t *h) {
  repl_t *r = h->data;
  if (--r->handles) return;
  /* every handle is closed: libedit's line handler has long returned, so the terminal can go back to normal */
  rl_callback_handler_remove(); /* back to the terminal's normal mode (also when a line ended the prompt) */
  if (r->active) fputs("\r\033[K", stdout);
  r->active = 0;
  fflush(stdout);
  if (r->history_path) {
    if (write_history(r->history_path) == 0) chmod(r->history_path, 0600);
    history_truncate_file(r->history_path, REPL_HISTORY_LINES);
  }
  void (*cb)(void *) = r->close_cb;
  void *data = r->close_data;
  if (the_repl == r) the_repl = NULL;
  strbuf_reset(&r->delta);
  free(r->prompt);
  free(r->history_path);
  free(r);
  if (cb) cb(data);
}

void repl_close(repl_t *r, void (*cb)(void *data), void *data) {
  if (!r) {
    if (cb) cb(data);
    return;
  }
  if (r->closing) return;
  r->closing = 1;
  r->close_cb = cb;
  r->close_data = data;
  if (r->sub > 0) live_unsubscribe(r->live, r->sub);
  r->sub = 0;
  uv_close((uv_handle_t *)&r->poll, on_handle_closed);
  uv_close((uv_handle_t *)&r->sigint, on_handle_closed);
  uv_close((uv_handle_t *)&r->sigterm, on_handle_closed);
  uv_close((uv_handle_t *)&r->sigwinch, on_handle_closed);
  uv_close((uv_handle_t *)&r->defer, on_handle_closed);
}
