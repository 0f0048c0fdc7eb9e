/* main.c — mock-daw: the mock DAW as a stand-alone process. */
#include "mock.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
          "usage: mock-daw --dialect reaper|ardour --port P [options]\n"
          "  A mock REAPER or Ardour 7.3 OSC server on 127.0.0.1 (see mock-daw/README.md).\n"
          "  --dialect reaper|ardour  which host to imitate (required)\n"
          "  --port P                 UDP listen port (REAPER's default is 8000, Ardour's 3819; 0 = ephemeral)\n"
          "  --feedback-port P        REAPER: device port feedback goes to (default 9000);\n"
          "                           Ardour: reply port before /set_surface (default 8000)\n"
          "  --drop P                 drop each message with probability P (0..1), both directions\n"
          "  --delay-ms N             delay every reply/feedback packet by N ms\n"
          "  --seed N                 PRNG seed for --drop (default 1)\n"
          "  --tracks N               initial session of N tracks (default: a small demo session)\n"
          "  --session FILE           initial session from a session JSON (docs/session-json.md)\n"
          "  --spool DIR              companion spool directory (default: companion absent)\n"
          "  --project NAME           project/session name (default \"mock\")\n"
          "  --host ADDR              listen on this IPv4 address instead of 127.0.0.1 (e.g. 127.0.0.2)\n"
          "  --quiet                  no log lines\n"
          "  --help                   this text\n"
          "Signals: SIGINT/SIGTERM stop cleanly; SIGHUP restarts the socket keeping the state.\n"
          "Inspection: /mock/state, /mock/dump s PATH, /mock/restart ii KEEP DOWN_MS, /mock/fault fi DROP DELAY_MS,\n"
          "/mock/ping (see mock.h).  Exit codes: 0 ok, 1 runtime error, 2 bad usage.\n");
}

struct app {
  mock_t *mock;
  uv_signal_t sint, sterm, shup;
  int closing;
};

static void on_closed_handle(uv_handle_t *h) { (void)h; }

static void on_mock_closed(void *data) {
  struct app *a = data;
  uv_close((uv_handle_t *)&a->sint, on_closed_handle);
  uv_close((uv_handle_t *)&a->sterm, on_closed_handle);
  uv_close((uv_handle_t *)&a->shup, on_closed_handle);
}

static void on_signal(uv_signal_t *s, int signum) {
  struct app *a = s->data;
  if (signum == SIGHUP) {
    if (!a->closing) mock_restart(a->mock, 1, 0);
    return;
  }
  if (a->closing) return;
  a->closing = 1;
  mock_close(a->mock, on_mock_closed, a);
}

static int parse_int(const char *s, int *out) {
  char *e;
  long v = strtol(s, &e, 10);
  if (!*s || *e) return 0;
  *out = (int)v;
  return 1;
}

int main(int argc, char **argv) {
  struct mock_config cfg = {0};
  cfg.tracks = -1;
  cfg.seed = 1;
  int have_port = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int iv;
    if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(o, "--quiet")) {
      cfg.quiet = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "mock-daw: %s needs a value (see --help)\n", o);
      return 2;
    }
    i++;
    if (!strcmp(o, "--dialect"))
      cfg.dialect = v;
    else if (!strcmp(o, "--port") && parse_int(v, &cfg.port))
      have_port = 1;
    else if (!strcmp(o, "--feedback-port") && parse_int(v, &cfg.feedback_port)) {
    } else if (!strcmp(o, "--drop")) {
      char *e;
      cfg.drop = strtod(v, &e);
      if (*e || cfg.drop < 0 || cfg.drop > 1) {
        fprintf(stderr, "mock-daw: --drop must be 0..1\n");
        return 2;
      }
    } else if (!strcmp(o, "--delay-ms") && parse_int(v, &cfg.delay_ms) && cfg.delay_ms >= 0) {
    } else if (!strcmp(o, "--seed") && parse_int(v, &iv))
      cfg.seed = (unsigned)iv;
    else if (!strcmp(o, "--tracks") && parse_int(v, &cfg.tracks) && cfg.tracks >= 0) {
    } else if (!strcmp(o, "--session"))
      cfg.session_file = v;
    else if (!strcmp(o, "--spool"))
      cfg.spool_dir = v;
    else if (!strcmp(o, "--project"))
      cfg.project = v;
    else if (!strcmp(o, "--host"))
      cfg.host = v;
    else {
      fprintf(stderr, "mock-daw: bad option or value: %s %s (see --help)\n", o, v);
      return 2;
    }
  }
  if (!cfg.dialect || (strcmp(cfg.dialect, "reaper") && strcmp(cfg.dialect, "ardour"))) {
    fprintf(stderr, "mock-daw: --dialect reaper|ardour is required (see --help)\n");
    return 2;
  }
  if (!have_port) {
    fprintf(stderr, "mock-daw: --port is required (see --help)\n");
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct app a = {0};
  char err[512];
  int rc = mock_new(&loop, &cfg, &a.mock, err, sizeof err);
  if (rc != MOCK_OK) {
    fprintf(stderr, "mock-daw: %s: %s\n", mock_strerror(rc), err);
    uv_run(&loop, UV_RUN_DEFAULT); /* let the closed handles' callbacks free them */
    uv_loop_close(&loop);
    return 1;
  }
  uv_signal_init(&loop, &a.sint);
  uv_signal_init(&loop, &a.sterm);
  uv_signal_init(&loop, &a.shup);
  a.sint.data = a.sterm.data = a.shup.data = &a;
  uv_signal_start(&a.sint, on_signal, SIGINT);
  uv_signal_start(&a.sterm, on_signal, SIGTERM);
  uv_signal_start(&a.shup, on_signal, SIGHUP);
  uv_run(&loop, UV_RUN_DEFAULT);
  return uv_loop_close(&loop) == 0 ? 0 : 1;
}
