/* cli: what every dawbridge command shares — the parsed command line, the loop, the DAW, and shutdown.
 *
 * main.c parses all options into struct cli_opts and calls the command's function, which starts its work on the
 * loop and returns. A command ends by calling cli_finish(c, exit_code): that closes the DAW (if open) and every
 * handle, so uv_run returns and uv_loop_close() == 0. Commands live one per file by theme:
 * cmd_wire.c (state, call, tools), cmd_agent.c (ask, plan, exec, demo), cmd_history.c (history ...).
 */
#ifndef DAWBRIDGE_CLI_H
#define DAWBRIDGE_CLI_H

#include <jansson.h>
#include <stdio.h>
#include <uv.h>

#include "daw.h"
#include "mock_embed.h"
#include "log.h"

/* Exit codes (README.md). */
enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_USAGE = 1,       /* bad command line */
  CLI_EXIT_UNREACHABLE = 2, /* the DAW (or the model) did not answer */
  CLI_EXIT_UNCERTAIN = 3,   /* some step is "uncertain" (sent, no word from the DAW by the deadline), none failed */
  CLI_EXIT_INVALID = 4,     /* unknown tool, bad or out-of-range arguments, unknown track, unsupported, invalid plan */
  CLI_EXIT_CONFIG = 5,      /* map/config/socket/LLM configuration problem */
  CLI_EXIT_SAVE = 6,        /* the change ran but its iteration could not be saved (full disk...) */
  CLI_EXIT_FAILED = 7,      /* some step "failed": the DAW refused it, its read-back contradicts the request, or
                             * stage 2 tried a call outside the plan ("refused: not in the plan") */
  CLI_EXIT_INTERRUPTED = 130, /* Ctrl-C / SIGINT during a run: the confirmed part is saved as a partial iteration */
};

struct cli_opts {
  const char *daw;     /* reaper | ardour | mock */
  const char *dialect; /* dialect of --daw mock */
  const char *host;
  const char *listen;    /* --listen ADDR: the address feedback arrives on (NULL: see cli_listen_host) */
  int port, listen_port; /* 0 / -1 = map defaults */
  const char *map_path;
  int json;
  int log_level;
  int bank_size, timeout_ms, retries; /* 0 / -1 = map defaults */
  int mock_tracks;                    /* -1 = mock demo session */
  const char *spool_dir;              /* companion spool; NULL default */
  int no_companion;
  /* agent */
  const char *llm, *model, *llm_url; /* NULL = env/config/defaults */
  const char *json_mode;             /* --json-mode auto|schema|object|off (docs/llm.md); NULL = env/config/auto */
  const char *transcript;            /* script provider transcript file */
  const char *executor;              /* "llm" (default) | "direct" */
  int confirm;                       /* show the plan and wait for approval */
  int max_turns;                     /* stage-2 turn limit, 0 = default */
  long context_budget;               /* --context-budget: stage-1 prompt tokens, 0 = default (6,000) */
  int profile;                       /* --profile: 0 default, 1 small (PROMPT_PROFILE_SMALL); -1 not given
                                      (main: the file fills it, else 0) */
  /* history */
  const char *data_dir;    /* NULL = XDG */
  const char *composition; /* NULL = from the DAW project, else "default" */
  const char *message;     /* -m TEXT */
  int force;               /* --force: history undo/restore revert conflicting later edits too */
  int new_conversation;    /* ask --new: start a new conversation of the live daemon first */
  /* the OSC control surface (app/surface.h; `run` and the interactive prompt) */
  int surface_port;              /* --surface-port N, 0 = off */
  const char *surface_allow[33]; /* --surface-allow CIDR|ADDR (repeatable, NULL-terminated); none = loopback */
  int surface_allow_n;
  const char *surface_reply; /* --surface-reply HOST:PORT; NULL = the sender */
  /* the web page (app/web.h; `run`) */
  int web_port;           /* --web-port N, 0 = off */
  const char *web_listen; /* --web-listen ADDR; NULL = 127.0.0.1 */
};

struct cli {
  uv_loop_t *loop;
  struct cli_opts o;     /* the command line, then the config file (app/config.h), then defaults */
  struct cli_opts given; /* the command line alone (cli_daemon_applies) */
  const char *cmd;
  char **argv; /* command arguments (after the command name) */
  int argc;
  daw_t *daw;
  mock_embed_t *mock; /* --daw mock: the in-process mock DAW behind daw (closed with it) */
  int exit_code;
  int finished;
  uv_signal_t sigint, sigterm;
  void *cmd_data; /* the command's own state */
  void (*cmd_free)(void *cmd_data);
};

void cli_log_stderr(int level, const char *module, const char *text, void *data);
/* 1 when addr (IPv4 text; NULL = the default 127.0.0.1) is a loopback address (127.0.0.0/8). */
int cli_is_loopback(const char *addr);
/* The address the DAW's feedback arrives on: --listen (or the config's "listen") when given; else NULL (127.0.0.1)
 * for a DAW on loopback, or "0.0.0.0" with a one-line warning to warn (NULL: none) that OSC has no authentication.
 * The link drops every datagram not from the DAW's address and port either way. Called by cli_daw_config. */
const char *cli_choose_listen(const struct cli_opts *o, FILE *warn);
/* A command's state: size zeroed bytes, made c->cmd_data with cmd_free (called after the loop ends); NULL on OOM. */
void *cli_cmd_new(struct cli *c, size_t size, void (*cmd_free)(void *cmd_data));
/* The DAW configuration the options describe. */
void cli_daw_config(const struct cli *c, struct daw_config *cfg);
/* --daw mock: fills mc (tracks, companion unless --no-companion) and returns 1; else 0. */
int cli_mock_config(const struct cli *c, struct mock_embed_config *mc);
/* Opens the DAW from the options and starts it (connect, mirror, companion ping); cb gets daw_start's result.
 * On failure prints a clear message and finishes with the right exit code itself (cb is not called). */
int cli_open_daw(struct cli *c, daw_cb cb, void *data);
/* Ends the command: closes the DAW and the signal handles; uv_run then returns. */
void cli_finish(struct cli *c, int exit_code);
/* The command's arguments joined by single spaces (the request text of ask/plan); malloc'd, NULL on OOM. */
char *cli_join_args(const struct cli *c);
/* Prints a JSON value (pretty) to stdout. */
void cli_print_json(const json_t *j);

/* Commands: start on the loop, return 0 (or an exit code > 0 for an immediate usage error). */
int cmd_state(struct cli *c);
int cmd_call(struct cli *c);
int cmd_tools(struct cli *c);
int cmd_ask(struct cli *c);
int cmd_plan(struct cli *c);
int cmd_exec(struct cli *c);
int cmd_demo(struct cli *c);
int cmd_history(struct cli *c);
int cmd_eval(struct cli *c); /* cmd_eval.c */
int cmd_mcp(struct cli *c);  /* mcp.c: the MCP server on stdio */
int cmd_repl(struct cli *c); /* cmd_repl.c: the interactive prompt (`dawbridge` with no command in a terminal) */
/* cmd_repl.c: the live_config the options describe (log to stderr), and the OSC surface when --surface-port is
 * set (*out NULL otherwise); returns 0 or an exit code after printing the error. */
struct live_config;
struct live;
struct surface;
void cli_live_config(const struct cli *c, struct live_config *lc);
int cli_start_surface(struct cli *c, struct live *live, const struct log_sink *log, struct surface **out);
/* cmd_web.c: the web page when --web-port is set (token file next to the control socket in runtime_dir); prints its
 * URL. Returns 0 (*out NULL when off) or an exit code. */
struct web;
int cli_start_web(struct cli *c, struct live *live, const struct log_sink *log, const char *runtime_dir,
                  struct web **out);
/* cmd_repl.c: the faces a command opened over its live session (NULL: not open; all borrowed by the command) and
 * how it ends. */
struct ctl;
struct repl;
struct cli_faces {
  struct cli *c;
  struct live *live;
  struct ctl *ctl;
  struct surface *surface;
  struct web *web;
  struct repl *repl;
  int sub;     /* live_subscribe id, 0 = none */
  int code;    /* the exit code cli_faces_close was given */
  int closing; /* cli_faces_close was called */
};
/* Closes the open faces one after the other (prompt, web page, surface, control socket), then the live session
 * (unsubscribing sub first), each from the previous one's close callback; then cli_finish(f->c, code). Once: a later
 * call does nothing. f must live until then. */
void cli_faces_close(struct cli_faces *f, int code);
/* A log_sink fn for data = a struct cli_faces: a line goes through the prompt (not garbling the line being typed)
 * while it is open, else to stderr. */
void cli_faces_log(int level, const char *module, const char *text, void *data);
int cmd_run(struct cli *c);           /* cmd_run.c: the live daemon */
int cmd_daemon_status(struct cli *c); /* cmd_client.c: `dawbridge status` without a daemon */
/* cmd_wire.c: `dawbridge tools` from live_tools()'s object (one-shot, or the daemon's answer). */
void cli_print_tools(const json_t *tools, int json);
/* Prints a history undo/restore report (app/histop.h) as `dawbridge history undo|restore` does (cmd_history.c). */
void cli_print_histop_report(const json_t *report, int json);
/* cmd_wire.c: `call`'s arguments (argv[1]: JSON, @FILE or -) into *out (new reference, NULL when none); 0 or an
 * exit code after a message. And one call's result printed as `dawbridge call` does. */
int cli_call_args(struct cli *c, json_t **out);
void cli_print_call_result(const char *tool, const json_t *result, int json);
/* cmd_run.c: the control socket's name for these options ("reaper", "ardour", "mock"). */
const char *cli_socket_name(const struct cli *c);
/* cmd_client.c: runs the command through the live daemon for this DAW when one answers on its control socket
 * (ask, plan, exec, call, state, tools, history list|show|diff|export|undo|restore|save, status), else fn
 * (one-shot). Returns like a
 * command function. */
int cli_dispatch(struct cli *c, int (*fn)(struct cli *c));
/* cmd_client.c: 0 when the options describe another DAW link, model or data place than a daemon's own (--host,
 * --port, --listen-port, --map, --spool, --no-companion, --mock-tracks, --timeout-ms, --retries, --bank-size, --llm,
 * --model, --llm-url, --json-mode, --transcript, --executor, --max-turns, --context-budget, --profile, --data-dir,
 * --composition, --confirm, --listen) on the command line (c->given; the daemon read the same config file): then commands run
 * one-shot even while a daemon runs. */
int cli_daemon_applies(const struct cli *c);

/* Prints the mirror as a readable table. */
void cli_print_state_table(const json_t *state);

#endif
