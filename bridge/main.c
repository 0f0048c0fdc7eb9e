/* dawbridge CLI. Everything runs on one libuv loop built here; see README.md for the commands. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "mock.h"
#include "oscmap.h"
#include "session.h"
#include "sync.h"
#include "tools.h"

/* Exit codes (documented in README.md and --help). */
enum {
  EXIT_OK = 0,
  EXIT_USAGE = 1,       /* bad command line */
  EXIT_UNREACHABLE = 2, /* the DAW did not answer */
  EXIT_UNCONFIRMED = 3, /* the DAW did not confirm a change */
  EXIT_INVALID = 4,     /* unknown tool, bad or out-of-range arguments, unknown track, unsupported by the DAW */
  EXIT_CONFIG = 5,      /* map/config/socket problem */
};

struct opts {
  const char *daw;         /* reaper | ardour | mock */
  const char *dialect;     /* for --daw mock */
  const char *host;
  int port, listen_port;
  const char *map_path;
  int json;
  int log_level;
  int bank_size;
  int timeout_ms, retries;
  int mock_tracks;
};

struct app {
  uv_loop_t loop;
  struct opts o;
  oscmap_t *map;
  session_t *ses;
  sync_t *sync;
  mock_t *mock;
  tools_t *tools;
  uv_signal_t sigint, sigterm;
  int exit_code;
  const char *cmd;
  char **argv;
  int argc;
  int closing;
};

static void log_stderr(int level, const char *module, const char *text, void *data) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  (void)data;
  fprintf(stderr, "dawbridge: %s: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], module, text);
}

static void usage(FILE *f) {
  fputs("usage: dawbridge [options] COMMAND [ARGS]\n"
        "\n"
        "Commands:\n"
        "  state                  sync with the DAW and print the mirrored session (--json for JSON)\n"
        "  call TOOL 'JSON-ARGS'  run one tool through the dialect map; succeeds only when the DAW confirms it\n"
        "  tools                  list the tools the connected DAW supports\n"
        "\n"
        "Options:\n"
        "  --daw reaper|ardour|mock   which DAW (default: reaper); mock = an embedded mock DAW\n"
        "  --dialect reaper|ardour    dialect of the embedded mock (default: reaper)\n"
        "  --host HOST                DAW address (default 127.0.0.1)\n"
        "  --port PORT                DAW OSC port (default: REAPER 8000, Ardour 3819)\n"
        "  --listen-port PORT         our OSC port (default: REAPER 9000 = its device port; Ardour: any)\n"
        "  --map FILE                 use this dialect map instead of osc-maps/<dialect>.json\n"
        "  --bank-size N              REAPER surface bank size (default from the map)\n"
        "  --timeout-ms N             confirmation timeout per attempt (default from the map)\n"
        "  --retries N                resends before a call is reported failed (default from the map)\n"
        "  --mock-tracks N            tracks in the embedded mock's session (default: a small demo session)\n"
        "  --json                     machine-readable output\n"
        "  --log-level error|warn|info|debug   (default warn)\n"
        "  -h, --help                 this help; `dawbridge COMMAND --help` for a command\n"
        "\n"
        "Exit codes: 0 ok, 1 usage, 2 DAW not reachable, 3 DAW did not confirm, 4 invalid request (unknown tool,\n"
        "bad or out-of-range argument, unknown track, not supported by this DAW), 5 configuration error.\n",
        f);
}

static void cmd_usage(const char *cmd) {
  if (!strcmp(cmd, "state"))
    puts("usage: dawbridge [options] state [--json]\n\nConnects, mirrors the whole session (all tracks, paging through "
         "REAPER's banks) and prints it:\na table by default, the session JSON (docs/session-json.md) with --json.");
  else if (!strcmp(cmd, "call"))
    puts("usage: dawbridge [options] call TOOL 'JSON-ARGS'\n\nRuns one tool (see `dawbridge tools`) through the dialect "
         "map and waits until the DAW's own\nfeedback confirms it; resends a bounded number of times, then fails "
         "(exit 3).\nExample: dawbridge --daw ardour call set_track '{\"track_id\": \"t1\", \"volume_db\": -6}'");
  else if (!strcmp(cmd, "tools"))
    puts("usage: dawbridge [options] tools\n\nLists the tools the dialect supports natively, those that need the "
         "companion script, and those the DAW cannot do.");
  else usage(stdout);
}

/* ---- shutdown ---- */

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void on_sync_closed(void *data) {
  struct app *a = data;
  a->sync = NULL;
  if (a->mock) {
    mock_close(a->mock, NULL, NULL);
    a->mock = NULL;
  }
}

static void app_shutdown(struct app *a, int code) {
  if (a->closing) return;
  a->closing = 1;
  a->exit_code = code;
  uv_close((uv_handle_t *)&a->sigint, on_handle_closed);
  uv_close((uv_handle_t *)&a->sigterm, on_handle_closed);
  if (a->sync) sync_close(a->sync, on_sync_closed, a);
  else on_sync_closed(a);
}

static void on_signal(uv_signal_t *h, int signum) {
  struct app *a = h->data;
  fprintf(stderr, "dawbridge: interrupted (signal %d)\n", signum);
  app_shutdown(a, 130);
}

static int exit_for(int status) {
  switch (status) {
  case SYNC_EUNREACHABLE: return EXIT_UNREACHABLE;
  case SYNC_ETIMEDOUT: return EXIT_UNCONFIRMED;
  case SYNC_EINVAL:
  case SYNC_ENOTOOL:
  case SYNC_ENOTRACK: return EXIT_INVALID;
  case SYNC_ECANCELED: return 130;
  default: return EXIT_CONFIG;
  }
}

/* ---- output ---- */

static void fmt_pan(double p, char *buf, size_t n) {
  if (fabs(p) < 0.005) snprintf(buf, n, "C");
  else snprintf(buf, n, "%d%c", (int)lround(fabs(p) * 100), p < 0 ? 'L' : 'R');
}

static void print_state_table(const json_t *st) {
  const char *dialect = json_string_value(json_object_get(st, "dialect"));
  const char *project = json_string_value(json_object_get(st, "project"));
  const json_t *tp = json_object_get(st, "transport");
  const json_t *ts = json_object_get(st, "time_signature");
  printf("%s session%s%s%s: %.2f BPM, %lld/%lld, %s\n", dialect ? dialect : "DAW", project ? " \"" : "",
         project ? project : "", project ? "\"" : "", json_number_value(json_object_get(st, "tempo")),
         (long long)json_integer_value(json_array_get(ts, 0)), (long long)json_integer_value(json_array_get(ts, 1)),
         json_is_true(json_object_get(tp, "recording")) ? "recording"
         : json_is_true(json_object_get(tp, "playing")) ? "playing"
                                                        : "stopped");
  const json_t *tracks = json_object_get(st, "tracks");
  printf("%-6s %4s  %-24s %-5s %8s %5s  %-5s  %-22s %s\n", "id", "#", "name", "type", "vol dB", "pan", "M S R",
         "instrument", "effects / clips");
  size_t i;
  json_t *t;
  json_array_foreach(tracks, i, t) {
    char pan[16], vol[16];
    fmt_pan(json_number_value(json_object_get(t, "pan")), pan, sizeof pan);
    double v = json_number_value(json_object_get(t, "volume_db"));
    if (v <= -150) snprintf(vol, sizeof vol, "-inf");
    else snprintf(vol, sizeof vol, "%.1f", v);
    char fx[256] = "";
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(t, "fx"), k, f) {
      strncat(fx, k ? ", " : "", sizeof fx - strlen(fx) - 1);
      strncat(fx, json_string_value(json_object_get(f, "name")), sizeof fx - strlen(fx) - 1);
      if (!json_is_true(json_object_get(f, "enabled"))) strncat(fx, " (off)", sizeof fx - strlen(fx) - 1);
    }
    size_t nclips = json_array_size(json_object_get(t, "clips"));
    if (nclips) {
      char c[48];
      snprintf(c, sizeof c, "%s%zu clip%s", fx[0] ? "; " : "", nclips, nclips == 1 ? "" : "s");
      strncat(fx, c, sizeof fx - strlen(fx) - 1);
    }
    const char *ins = json_string_value(json_object_get(t, "instrument"));
    printf("%-6s %4lld  %-24.24s %-5s %8s %5s  %c %c %c  %-22.22s %s\n", json_string_value(json_object_get(t, "id")),
           (long long)json_integer_value(json_object_get(t, "index")), json_string_value(json_object_get(t, "name")),
           json_string_value(json_object_get(t, "type")), vol, pan,
           json_is_true(json_object_get(t, "mute")) ? 'M' : '.', json_is_true(json_object_get(t, "solo")) ? 'S' : '.',
           json_is_true(json_object_get(t, "rec_arm")) ? 'R' : '.', ins ? ins : "-", fx);
  }
  const json_t *ms = json_object_get(st, "markers");
  json_array_foreach(ms, i, t) {
    printf("marker %lld \"%s\" at beat %.2f\n", (long long)json_integer_value(json_object_get(t, "number")),
           json_string_value(json_object_get(t, "name")) ? json_string_value(json_object_get(t, "name")) : "",
           json_number_value(json_object_get(t, "position")));
  }
}

/* ---- commands ---- */

static void on_call_done(int status, const json_t *result, const char *message, void *data) {
  struct app *a = data;
  if (status) {
    fprintf(stderr, "dawbridge: %s\n", message ? message : sync_strerror(status));
    app_shutdown(a, exit_for(status));
    return;
  }
  const char *st = json_string_value(json_object_get(result, "status"));
  if (a->o.json) {
    char *s = json_dumps(result, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    puts(s);
    free(s);
  } else if (!strcmp(a->argv[0], "get_state")) {
    print_state_table(json_object_get(json_object_get(result, "state"), "session"));
  } else {
    const char *tid = json_string_value(json_object_get(result, "track_id"));
    printf("%s: %s%s%s (attempts %lld, %lld ms)\n", a->argv[0], st, tid ? ", track " : "", tid ? tid : "",
           (long long)json_integer_value(json_object_get(result, "attempts")),
           (long long)json_integer_value(json_object_get(result, "ms")));
    const char *reason = json_string_value(json_object_get(result, "reason"));
    if (reason) printf("  note: %s\n", reason);
  }
  /* "sent but unconfirmed" is not success */
  app_shutdown(a, st && !strcmp(st, "sent_unconfirmed") ? EXIT_UNCONFIRMED : EXIT_OK);
}

static void run_call(struct app *a) {
  const char *tool = a->argv[0];
  json_error_t je;
  json_t *args = a->argc > 1 ? json_loads(a->argv[1], 0, &je) : json_object();
  if (!args) {
    fprintf(stderr, "dawbridge: call %s: arguments are not valid JSON: %s (column %d)\n", tool, je.text, je.column);
    app_shutdown(a, EXIT_INVALID);
    return;
  }
  char err[512];
  int rc = tools_check(a->tools, tool, args, a->ses, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    json_decref(args);
    app_shutdown(a, EXIT_INVALID);
    return;
  }
  rc = sync_call(a->sync, tool, args, on_call_done, a);
  json_decref(args);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", sync_strerror(rc));
    app_shutdown(a, EXIT_CONFIG);
  }
}

static void run_tools(struct app *a) {
  const json_t *caps = json_object_get(oscmap_json(a->map), "capabilities");
  if (a->o.json) {
    char *s = json_dumps(caps, JSON_INDENT(2));
    puts(s);
    free(s);
    app_shutdown(a, EXIT_OK);
    return;
  }
  printf("%s dialect\n  native:", oscmap_dialect(a->map));
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(caps, "native"), i, v) printf(" %s", json_string_value(v));
  printf("\n  with the companion script:");
  json_array_foreach(json_object_get(caps, "companion"), i, v) printf(" %s", json_string_value(v));
  printf("\n");
  const char *k;
  json_object_foreach(json_object_get(caps, "unavailable"), k, v) printf("  not possible: %s (%s)\n", k, json_string_value(v));
  app_shutdown(a, EXIT_OK);
}

static void on_synced(int status, const json_t *result, const char *message, void *data) {
  struct app *a = data;
  if (status) {
    fprintf(stderr, "dawbridge: cannot sync with the DAW: %s\n", message ? message : sync_strerror(status));
    if (status == SYNC_EUNREACHABLE)
      fprintf(stderr, "dawbridge: is the %s OSC surface enabled and listening on port %d? (--host/--port)\n",
              oscmap_dialect(a->map), a->o.port ? a->o.port : (int)json_integer_value(json_object_get(json_object_get(oscmap_json(a->map), "ports"), "daw")));
    app_shutdown(a, exit_for(status));
    return;
  }
  (void)result;
  if (!strcmp(a->cmd, "state")) {
    json_t *st = session_to_json(a->ses);
    if (a->o.json) {
      char *s = json_dumps(st, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
      puts(s);
      free(s);
    } else {
      print_state_table(st);
    }
    json_decref(st);
    app_shutdown(a, EXIT_OK);
  } else if (!strcmp(a->cmd, "call")) {
    run_call(a);
  }
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

int main(int argc, char **argv) {
  struct app a;
  memset(&a, 0, sizeof a);
  a.o.daw = getenv("DAWBRIDGE_DAW") ? getenv("DAWBRIDGE_DAW") : "reaper";
  a.o.dialect = "reaper";
  a.o.listen_port = -1;
  a.o.log_level = LOG_WARN;
  a.o.timeout_ms = -1;
  a.o.retries = -1;
  a.o.mock_tracks = -1;
  enum { O_DAW = 256, O_DIALECT, O_HOST, O_PORT, O_LISTEN, O_MAP, O_JSON, O_LOG, O_BANK, O_TIMEOUT, O_RETRIES, O_MTRACKS };
  static const struct option lopts[] = {
    {"daw", required_argument, 0, O_DAW},          {"dialect", required_argument, 0, O_DIALECT},
    {"host", required_argument, 0, O_HOST},        {"port", required_argument, 0, O_PORT},
    {"listen-port", required_argument, 0, O_LISTEN}, {"map", required_argument, 0, O_MAP},
    {"json", no_argument, 0, O_JSON},              {"log-level", required_argument, 0, O_LOG},
    {"bank-size", required_argument, 0, O_BANK},   {"timeout-ms", required_argument, 0, O_TIMEOUT},
    {"retries", required_argument, 0, O_RETRIES},  {"mock-tracks", required_argument, 0, O_MTRACKS},
    {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
  int c;
  /* options may come before or after the command; "+" would stop at the first non-option */
  while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
    switch (c) {
    case O_DAW: a.o.daw = optarg; break;
    case O_DIALECT: a.o.dialect = optarg; break;
    case O_HOST: a.o.host = optarg; break;
    case O_PORT:
      if (parse_int(optarg, 1, 65535, "--port", &a.o.port)) return EXIT_USAGE;
      break;
    case O_LISTEN:
      if (parse_int(optarg, 0, 65535, "--listen-port", &a.o.listen_port)) return EXIT_USAGE;
      break;
    case O_MAP: a.o.map_path = optarg; break;
    case O_JSON: a.o.json = 1; break;
    case O_LOG:
      if ((a.o.log_level = log_level_parse(optarg)) < 0) {
        fprintf(stderr, "dawbridge: --log-level must be error, warn, info or debug\n");
        return EXIT_USAGE;
      }
      break;
    case O_BANK:
      if (parse_int(optarg, 1, 4096, "--bank-size", &a.o.bank_size)) return EXIT_USAGE;
      break;
    case O_TIMEOUT:
      if (parse_int(optarg, 1, 600000, "--timeout-ms", &a.o.timeout_ms)) return EXIT_USAGE;
      break;
    case O_RETRIES:
      if (parse_int(optarg, 0, 100, "--retries", &a.o.retries)) return EXIT_USAGE;
      break;
    case O_MTRACKS:
      if (parse_int(optarg, 0, 100000, "--mock-tracks", &a.o.mock_tracks)) return EXIT_USAGE;
      break;
    case 'h':
      if (optind < argc) cmd_usage(argv[optind]);
      else usage(stdout);
      return EXIT_OK;
    default: usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  a.cmd = argv[optind];
  a.argv = argv + optind + 1;
  a.argc = argc - optind - 1;
  if (strcmp(a.cmd, "state") && strcmp(a.cmd, "call") && strcmp(a.cmd, "tools")) {
    fprintf(stderr, "dawbridge: unknown command '%s' (try --help)\n", a.cmd);
    return EXIT_USAGE;
  }
  if (!strcmp(a.cmd, "call") && a.argc < 1) {
    fprintf(stderr, "dawbridge: call needs a tool name and JSON arguments, e.g. call set_tempo '{\"bpm\": 96}'\n");
    return EXIT_USAGE;
  }
  int mock = !strcmp(a.o.daw, "mock");
  const char *dialect = mock ? a.o.dialect : a.o.daw;
  if (strcmp(dialect, "reaper") && strcmp(dialect, "ardour") && !a.o.map_path) {
    fprintf(stderr, "dawbridge: --daw must be reaper, ardour or mock (and --dialect reaper or ardour)\n");
    return EXIT_USAGE;
  }
  char err[512];
  char path[1024];
  if (a.o.map_path) snprintf(path, sizeof path, "%s", a.o.map_path);
  else oscmap_find(dialect, path, sizeof path);
  if (oscmap_load(path, &a.map, err, sizeof err)) {
    fprintf(stderr, "dawbridge: %s\n", err);
    return EXIT_CONFIG;
  }
  if (tools_load(NULL, &a.tools, err, sizeof err)) {
    fprintf(stderr, "dawbridge: %s\n", err);
    oscmap_free(a.map);
    return EXIT_CONFIG;
  }
  if (!strcmp(a.cmd, "tools")) {
    a.closing = 0;
    uv_loop_init(&a.loop);
    uv_signal_init(&a.loop, &a.sigint);
    uv_signal_init(&a.loop, &a.sigterm);
    run_tools(&a);
    uv_run(&a.loop, UV_RUN_DEFAULT);
    uv_loop_close(&a.loop);
    tools_free(a.tools);
    oscmap_free(a.map);
    return a.exit_code;
  }
  uv_loop_init(&a.loop);
  a.ses = session_new(oscmap_dialect(a.map));
  struct sync_config sc = {.daw_host = a.o.host, .daw_port = a.o.port, .listen_port = a.o.listen_port,
                           .refresh_interval_ms = 0, .confirm_timeout_ms = a.o.timeout_ms, .retries = a.o.retries,
                           .bank_size = a.o.bank_size, .silence_ms = -1, .probe_ms = -1,
                           .log = {.fn = log_stderr, .level = a.o.log_level}};
  if (mock) {
    sc.listen_port = 0; /* the embedded mock learns our port below */
    sc.daw_port = 9;    /* placeholder until the mock has bound */
    sc.daw_host = "127.0.0.1";
  }
  int rc = sync_new(&a.loop, a.map, a.ses, &sc, &a.sync, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    session_free(a.ses);
    oscmap_free(a.map);
    tools_free(a.tools);
    uv_loop_close(&a.loop);
    return EXIT_CONFIG;
  }
  if (mock) {
    struct mock_config mc = {.dialect = dialect, .port = 0, .feedback_port = sync_listen_port(a.sync),
                             .tracks = a.o.mock_tracks, .quiet = a.o.log_level < LOG_DEBUG};
    if (mock_new(&a.loop, &mc, &a.mock, err, sizeof err)) {
      fprintf(stderr, "dawbridge: embedded mock DAW: %s\n", err);
      a.exit_code = EXIT_CONFIG;
      sync_close(a.sync, NULL, NULL);
      a.sync = NULL;
      uv_run(&a.loop, UV_RUN_DEFAULT);
      uv_loop_close(&a.loop);
      session_free(a.ses);
      oscmap_free(a.map);
      tools_free(a.tools);
      return EXIT_CONFIG;
    }
    sync_set_daw(a.sync, "127.0.0.1", mock_port(a.mock));
  }
  uv_signal_init(&a.loop, &a.sigint);
  uv_signal_init(&a.loop, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_unref((uv_handle_t *)&a.sigint);
  uv_unref((uv_handle_t *)&a.sigterm);
  sync_start(a.sync, on_synced, &a);
  uv_run(&a.loop, UV_RUN_DEFAULT);
  int lc = uv_loop_close(&a.loop);
  if (lc) fprintf(stderr, "dawbridge: internal: loop not empty at exit (%s)\n", uv_strerror(lc));
  session_free(a.ses);
  oscmap_free(a.map);
  tools_free(a.tools);
  return a.exit_code;
}
