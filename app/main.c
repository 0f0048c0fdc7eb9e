/* dawbridge CLI: option parsing and dispatch. Everything runs on one libuv loop built here; the commands are in
 * cmd_*.c (see cli.h). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cli.h"
#include "config.h"
#include "llm.h"
#include "version.h"

static const struct {
  const char *name;
  int (*fn)(struct cli *c);
  const char *usage;
} commands[] = {
    {"state", cmd_state,
     "state [--json]\n  Connect, mirror the whole session (paging through REAPER's banks) and print it: a table, or "
     "the\n"
     "  session JSON (docs/session-json.md) with --json."},
    {"call", cmd_call,
     "call TOOL 'JSON-ARGS' | @FILE | -\n  Run one tool (see `dawbridge tools`) and wait for the DAW's own word: exit "
     "0 confirmed, 3 uncertain\n"
     "  (sent, no word from the DAW by the deadline), 7 failed (refused, or the DAW shows otherwise), 2 not\n"
     "  answering. Creates are never resent blindly. Arguments from a file (@clip.json) or stdin (-).\n"
     "  Example: dawbridge --daw ardour call set_track '{\"track_id\": \"t1\", \"volume_db\": -6}'"},
    {"tools", cmd_tools,
     "tools\n  The tools this DAW can run now (native OSC, companion) and those it cannot, with the reason."},
    {"ask", cmd_ask,
     "ask TEXT\n  One request: plan (stage 1), validate, [--confirm], execute (stage 2), verify, save the iteration."},
    {"plan", cmd_plan,
     "plan TEXT\n  Stage 1 and validation only: print the plan and its errors; nothing is sent to the DAW."},
    {"exec", cmd_exec,
     "exec PLAN_FILE\n  Validate and run a plan file directly (no model), verify, save the iteration."},
    {"demo", cmd_demo,
     "demo\n  The whole pipeline offline: the embedded mock DAW and a scripted model replaying\n"
     "  examples/demo-transcript.json."},
    {"repl", cmd_repl,
     "repl\n  The interactive prompt (also `dawbridge` with no command in a terminal): type requests, watch the plan "
     "and\n"
     "  each step as the DAW confirms it; /undo /state /history /status /new /help /quit; Ctrl-C cancels a request."},
    {"eval", cmd_eval,
     "eval [SUITE]\n  A suite of musical requests (default examples/eval/suite.json), each against a fresh embedded "
     "mock DAW,\n"
     "  scored (plan valid first time, re-plans, steps confirmed, musical checks, model calls, tokens, time);\n"
     "  offline with the scripted model, or with --llm/--model/--llm-url a real one. Exit 0 when all pass, else 7."},
    {"mcp", cmd_mcp,
     "mcp\n  An MCP server on stdio (JSON-RPC, one message a line) for MCP clients: the tools, ask, undo, history; "
     "--profile small: ten tools. README: Use from an MCP client."},
    {"run", cmd_run,
     "run\n  The live daemon for one DAW (--daw reaper|ardour|mock): keeps the link, the mirror, the conversation and "
     "the\n"
     "  history; serves the CLI through its control socket ($XDG_RUNTIME_DIR/dawbridge/<daw>.sock), the OSC surface\n"
     "  (--surface-port) and, in a terminal, the prompt. While it runs, ask/plan/exec/call/state/history/undo go\n"
     "  through it (queued in order). SIGINT/SIGTERM stop it cleanly. README: Live session."},
    {"status", cmd_daemon_status,
     "status\n  The running daemon's request and queue (exit 2 when no daemon runs for --daw)."},
    {"history", cmd_history,
     "history list | show N [--json] | diff A B | save -m TEXT | undo [--force] | restore N [--force] | export N "
     "FILE.mid\n"
     "  The iterations saved after each AI change (<data>/compositions/<id>/history/NNNN.json). undo/restore revert\n"
     "  only what the iterations changed and keep your own edits since; where you changed the same thing they stop\n"
     "  and name it (exit 7) unless --force."},
};

static void usage(FILE *f) {
  fputs("usage: dawbridge [options] COMMAND [ARGS]\n\nCommands:\n", f);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
    const char *nl = strchr(commands[i].usage, '\n');
    fprintf(f, "  %-*.*s\n", (int)(nl - commands[i].usage), (int)(nl - commands[i].usage), commands[i].usage);
  }
  fputs("\nDAW options:\n"
        "  --daw reaper|ardour|mock   which DAW (default: reaper, or $DAWBRIDGE_DAW); mock = an embedded mock DAW\n"
        "  --dialect reaper|ardour    dialect of the embedded mock (default: reaper)\n"
        "  --host HOST                DAW address (default 127.0.0.1)\n"
        "  --port PORT                DAW OSC port (default: REAPER 8000, Ardour 3819)\n"
        "  --listen-port PORT         our OSC port (default: REAPER 9000, its device port; Ardour: any)\n"
        "  --listen ADDR              the address the DAW's feedback arrives on (default 127.0.0.1; with a remote\n"
        "                             --host: 0.0.0.0 and a warning, OSC has no authentication; README)\n"
        "  --map FILE                 a dialect map instead of osc-maps/<dialect>.json\n"
        "  --bank-size N              REAPER surface bank size (default from the map)\n"
        "  --timeout-ms N, --retries N  confirmation timeout per attempt, and resends (defaults from the map)\n"
        "  --mock-tracks N            tracks in the embedded mock's session (default: a small demo session)\n"
        "  --spool DIR                companion spool directory; --no-companion to use native OSC only\n"
        "Agent options:\n"
        "  --llm openai|anthropic|script, --model NAME, --llm-url URL   (or DAWBRIDGE_LLM/_MODEL/_LLM_URL)\n"
        "  --transcript FILE          transcript for --llm script\n"
        "  --executor llm|direct      stage 2 by the model (default) or run the parsed plan directly\n"
        "  --context-budget TOKENS    stage-1 prompt size limit (default 6000; README, prompt budget)\n"
        "  --profile default|small    small: for small local models (shorter prompt, fewer tools, 3000 tokens)\n"
        "  --json-mode auto|schema|object|off  the plan as one JSON object, enforced by the server where it can\n"
        "                             (auto: schema under --profile small; docs/llm.md)\n"
        "  --confirm                  show the plan and wait for approval before executing\n"
        "  --max-turns N              stage-2 turn limit\n"
        "History options:\n"
        "  --data-dir DIR, --composition NAME, -m TEXT\n"
        "  --force                    undo/restore: also revert what you changed again since the iteration\n"
        "  --new                      ask (through the daemon): start a new conversation first\n"
        "Control surface (run, and the prompt):\n"
        "  --surface-port N           OSC control surface on UDP port N (default off; README \"Live session\")\n"
        "  --surface-allow ADDR[/BITS]  senders allowed (repeatable; default 127.0.0.0/8)\n"
        "  --surface-reply HOST:PORT  where answers go (default: the sender)\n"
        "Web page (run):\n"
        "  --web-port N               the web page and its API on 127.0.0.1:N (default off; README \"Web page\")\n"
        "  --web-listen ADDR          listen on ADDR instead (e.g. 0.0.0.0 for a tablet; the token still applies)\n"
        "General:\n"
        "  --json                     machine-readable output\n"
        "  Every option can also be set in $XDG_CONFIG_HOME/dawbridge/config.json (README: Configuration file)\n"
        "  --log-level error|warn|info|debug   (default warn)\n"
        "  -h, --help                 this help; `dawbridge COMMAND --help` for one command\n"
        "  --version                  the version, the git describe of the build, and the data directory in use\n"
        "\n"
        "Exit codes: 0 ok (every step confirmed by the DAW), 1 usage, 2 DAW (or model) not answering, 3 some\n"
        "step uncertain (sent, no word from the DAW), none failed, 4 invalid request (unknown tool, bad or\n"
        "out-of-range argument, unknown track, unsupported, invalid plan), 5 configuration error, 6 the\n"
        "iteration could not be saved, 7 some step failed (refused, or the DAW shows otherwise), 130 interrupted.\n",
        f);
}

static int parse_int(const char *s, int lo, int hi, const char *what, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || end == s || v < lo || v > hi) {
    fprintf(stderr, "dawbridge: %s must be an integer %d-%d, not '%s'\n", what, lo, hi, s);
    return -1;
  }
  *out = (int)v;
  return 0;
}

static void on_signal(uv_signal_t *h, int signum) {
  struct cli *c = h->data;
  fprintf(stderr, "dawbridge: interrupted (signal %d)\n", signum);
  cli_finish(c, 130);
}

int main(int argc, char **argv) {
  struct cli c;
  memset(&c, 0, sizeof c);
  struct cli_opts *o = &c.o;
  /* A file-size limit must be an error we report (history: "cannot be written"), not a signal that kills us. */
  signal(SIGXFSZ, SIG_IGN);
  /* "not given" values: the config file (app/config.h) fills what the command line leaves at them */
  o->listen_port = -1;
  o->log_level = -1;
  o->timeout_ms = -1;
  o->retries = -1;
  o->mock_tracks = -1;
  o->profile = -1; /* 0 is "--profile default", which the file must not override */
  enum {
    O_DAW = 256,
    O_DIALECT,
    O_HOST,
    O_PORT,
    O_LISTEN,
    O_MAP,
    O_JSON,
    O_LOG,
    O_BANK,
    O_TIMEOUT,
    O_RETRIES,
    O_MTRACKS,
    O_SPOOL,
    O_NOCOMP,
    O_LLM,
    O_MODEL,
    O_LLMURL,
    O_JSONMODE,
    O_TRANSCRIPT,
    O_EXECUTOR,
    O_CONFIRM,
    O_MAXTURNS,
    O_DATADIR,
    O_COMPOSITION,
    O_FORCE,
    O_CTXBUDGET,
    O_PROFILE,
    O_SURFPORT,
    O_SURFALLOW,
    O_SURFREPLY,
    O_NEWCONV,
    O_WEBPORT,
    O_WEBLISTEN,
    O_LISTENADDR
  };
  static const struct option lopts[] = {{"daw", required_argument, 0, O_DAW},
                                        {"dialect", required_argument, 0, O_DIALECT},
                                        {"host", required_argument, 0, O_HOST},
                                        {"port", required_argument, 0, O_PORT},
                                        {"listen-port", required_argument, 0, O_LISTEN},
                                        {"listen", required_argument, 0, O_LISTENADDR},
                                        {"map", required_argument, 0, O_MAP},
                                        {"json", no_argument, 0, O_JSON},
                                        {"log-level", required_argument, 0, O_LOG},
                                        {"bank-size", required_argument, 0, O_BANK},
                                        {"timeout-ms", required_argument, 0, O_TIMEOUT},
                                        {"retries", required_argument, 0, O_RETRIES},
                                        {"mock-tracks", required_argument, 0, O_MTRACKS},
                                        {"spool", required_argument, 0, O_SPOOL},
                                        {"no-companion", no_argument, 0, O_NOCOMP},
                                        {"llm", required_argument, 0, O_LLM},
                                        {"model", required_argument, 0, O_MODEL},
                                        {"llm-url", required_argument, 0, O_LLMURL},
                                        {"json-mode", required_argument, 0, O_JSONMODE},
                                        {"transcript", required_argument, 0, O_TRANSCRIPT},
                                        {"executor", required_argument, 0, O_EXECUTOR},
                                        {"confirm", no_argument, 0, O_CONFIRM},
                                        {"max-turns", required_argument, 0, O_MAXTURNS},
                                        {"data-dir", required_argument, 0, O_DATADIR},
                                        {"composition", required_argument, 0, O_COMPOSITION},
                                        {"force", no_argument, 0, O_FORCE},
                                        {"context-budget", required_argument, 0, O_CTXBUDGET},
                                        {"profile", required_argument, 0, O_PROFILE},
                                        {"surface-port", required_argument, 0, O_SURFPORT},
                                        {"surface-allow", required_argument, 0, O_SURFALLOW},
                                        {"surface-reply", required_argument, 0, O_SURFREPLY},
                                        {"new", no_argument, 0, O_NEWCONV},
                                        {"web-port", required_argument, 0, O_WEBPORT},
                                        {"web-listen", required_argument, 0, O_WEBLISTEN},
                                        {"help", no_argument, 0, 'h'},
                                        {"version", no_argument, 0, 'V'},
                                        {0, 0, 0, 0}};
  /* the integer options: their range and where the value goes */
  const struct {
    int opt, lo, hi;
    const char *name;
    int *out;
  } ints[] = {
      {O_PORT, 1, 65535, "--port", &o->port},
      {O_LISTEN, 0, 65535, "--listen-port", &o->listen_port},
      {O_BANK, 1, 4096, "--bank-size", &o->bank_size},
      {O_TIMEOUT, 1, 600000, "--timeout-ms", &o->timeout_ms},
      {O_RETRIES, 0, 100, "--retries", &o->retries},
      {O_MTRACKS, 0, 100000, "--mock-tracks", &o->mock_tracks},
      {O_MAXTURNS, 1, 1000, "--max-turns", &o->max_turns},
      {O_SURFPORT, 1, 65535, "--surface-port", &o->surface_port},
      {O_WEBPORT, 1, 65535, "--web-port", &o->web_port},
  };
  const size_t nints = sizeof ints / sizeof ints[0];
  int ch, help = 0;
  while ((ch = getopt_long(argc, argv, "hm:", lopts, NULL)) != -1) {
    size_t k = 0;
    while (k < nints && ints[k].opt != ch) k++;
    if (k < nints) {
      if (parse_int(optarg, ints[k].lo, ints[k].hi, ints[k].name, ints[k].out)) return CLI_EXIT_USAGE;
      continue;
    }
    switch (ch) {
    case O_DAW: o->daw = optarg; break;
    case O_DIALECT: o->dialect = optarg; break;
    case O_HOST: o->host = optarg; break;
    case O_LISTENADDR: o->listen = optarg; break;
    case O_MAP: o->map_path = optarg; break;
    case O_JSON: o->json = 1; break;
    case O_LOG:
      if ((o->log_level = log_level_parse(optarg)) < 0) {
        fprintf(stderr, "dawbridge: --log-level must be error, warn, info or debug\n");
        return CLI_EXIT_USAGE;
      }
      break;
    case O_SPOOL: o->spool_dir = optarg; break;
    case O_NOCOMP: o->no_companion = 1; break;
    case O_LLM: o->llm = optarg; break;
    case O_MODEL: o->model = optarg; break;
    case O_LLMURL: o->llm_url = optarg; break;
    case O_JSONMODE:
      if (llm_json_mode_parse(optarg) < 0) {
        fprintf(stderr, "dawbridge: --json-mode must be auto, schema, object or off\n");
        return CLI_EXIT_USAGE;
      }
      o->json_mode = optarg;
      break;
    case O_TRANSCRIPT: o->transcript = optarg; break;
    case O_EXECUTOR:
      if (strcmp(optarg, "llm") && strcmp(optarg, "direct")) {
        fprintf(stderr, "dawbridge: --executor must be llm or direct\n");
        return CLI_EXIT_USAGE;
      }
      o->executor = optarg;
      break;
    case O_CONFIRM: o->confirm = 1; break;
    case O_CTXBUDGET: {
      int v;
      if (parse_int(optarg, 500, 2000000, "--context-budget", &v)) return CLI_EXIT_USAGE;
      o->context_budget = v;
      break;
    }
    case O_SURFALLOW:
      if (o->surface_allow_n >= 32) {
        fprintf(stderr, "dawbridge: --surface-allow: at most 32 entries\n");
        return CLI_EXIT_USAGE;
      }
      o->surface_allow[o->surface_allow_n++] = optarg;
      break;
    case O_SURFREPLY: o->surface_reply = optarg; break;
    case O_PROFILE:
      if (strcmp(optarg, "default") && strcmp(optarg, "small")) {
        fprintf(stderr, "dawbridge: --profile must be default or small\n");
        return CLI_EXIT_USAGE;
      }
      o->profile = !strcmp(optarg, "small");
      break;
    case O_DATADIR: o->data_dir = optarg; break;
    case O_COMPOSITION: o->composition = optarg; break;
    case O_FORCE: o->force = 1; break;
    case O_NEWCONV: o->new_conversation = 1; break;
    case O_WEBLISTEN: o->web_listen = optarg; break;
    case 'm': o->message = optarg; break;
    case 'h': help = 1; break;
    case 'V': return app_print_version(stdout);
    default: usage(stderr); return CLI_EXIT_USAGE;
    }
  }
  if (optind >= argc && (help || !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
    usage(help ? stdout : stderr);
    return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
  }
  /* no command in a terminal: the interactive prompt (app/repl.c) */
  c.cmd = optind < argc ? argv[optind] : "repl";
  c.argv = argv + (optind < argc ? optind + 1 : optind);
  c.argc = optind < argc ? argc - optind - 1 : 0;
  size_t k;
  for (k = 0; k < sizeof commands / sizeof *commands; k++)
    if (!strcmp(commands[k].name, c.cmd)) break;
  if (k == sizeof commands / sizeof *commands) {
    fprintf(stderr, "dawbridge: unknown command '%s' (try --help)\n", c.cmd);
    return CLI_EXIT_USAGE;
  }
  if (help) {
    printf("usage: dawbridge [options] %s\n", commands[k].usage);
    return CLI_EXIT_OK;
  }
  /* the configuration file fills what the command line left unset (flags > environment > file > defaults) */
  c.given = *o;
  app_config_t *conf = NULL;
  char cerr[1024];
  if (app_config_load(NULL, &conf, cerr, sizeof cerr)) {
    fprintf(stderr, "dawbridge: %s\n", cerr);
    return CLI_EXIT_CONFIG;
  }
  app_config_apply(conf, o);
  if (!o->daw) o->daw = getenv("DAWBRIDGE_DAW") && *getenv("DAWBRIDGE_DAW") ? getenv("DAWBRIDGE_DAW") : "reaper";
  if (!o->dialect) o->dialect = "reaper";
  if (o->log_level < 0) o->log_level = LOG_WARN;
  if (o->profile < 0) o->profile = 0;
  if (strcmp(o->daw, "reaper") && strcmp(o->daw, "ardour") && strcmp(o->daw, "mock")) {
    fprintf(stderr, "dawbridge: --daw must be reaper, ardour or mock\n");
    app_config_free(conf);
    return CLI_EXIT_USAGE;
  }
  if (strcmp(o->dialect, "reaper") && strcmp(o->dialect, "ardour")) {
    fprintf(stderr, "dawbridge: --dialect must be reaper or ardour\n");
    app_config_free(conf);
    return CLI_EXIT_USAGE;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  c.loop = &loop;
  uv_signal_init(&loop, &c.sigint);
  uv_signal_init(&loop, &c.sigterm);
  c.sigint.data = c.sigterm.data = &c;
  uv_signal_start(&c.sigint, on_signal, SIGINT);
  uv_signal_start(&c.sigterm, on_signal, SIGTERM);
  uv_unref((uv_handle_t *)&c.sigint);
  uv_unref((uv_handle_t *)&c.sigterm);
  /* through the live daemon when one serves this DAW (app/cmd_client.c), else one-shot */
  int rc = cli_dispatch(&c, commands[k].fn);
  if (rc > 0 && !c.finished) cli_finish(&c, rc);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (c.cmd_free) c.cmd_free(c.cmd_data);
  int lc = uv_loop_close(&loop);
  if (lc) fprintf(stderr, "dawbridge: internal: handles still open at exit (%s)\n", uv_strerror(lc));
  app_config_free(conf);
  return c.exit_code;
}
