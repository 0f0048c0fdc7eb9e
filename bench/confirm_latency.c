/* confirm_latency.c: tool call -> DAW-confirmed, on the mock DAW.
 *
 *   bench_confirm_latency [-n CALLS] [-w WARMUP] [-r REPS] [--pin none|same|cross] [--mock-daw PATH]
 *
 * One call = sync_call("set_track", {"track_id":"t1","volume_db":V}) until its callback reports "confirmed" by the
 * DAW's feedback; V alternates between two values so every call is a real change. The clock runs from the
 * sync_call() call to the callback (µs); the next call is issued from the callback. Measured against a mock-daw
 * *process* and against the mock *in-process* (same loop, same thread), both dialects.
 * Baseline in the same run, on the same loop and against the same mock: a raw OSC round trip (/mock/ping ->
 * /mock/pong from a uv_udp socket, no bridge code). Configurations are interleaved REPS times (default 3);
 * each figure is the median over repetitions of that repetition's median/p90/p99.
 * Target: median <= 100 µs.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lo/lo.h>

#include "bench_sync.h"
#include "bench_util.h"
#include "db_test_util.h"
#include "mock.h"
#include "oscmap.h"
#include "session.h"
#include "sync.h"

#define TARGET_US 100.0
#define MAX_REPS 32

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* ---- one configuration on one loop ---- */

struct bench {
  uv_loop_t loop;
  oscmap_t *map;
  session_t *ses;
  sync_t *sync;
  mock_t *mock;
  int daw_port;
  /* calls */
  json_t *args[2];
  int total, warm, i, done, failures, not_first_attempt;
  double t0;
  double *lat;
  int nlat;
  char firsterr[512];
  /* ping */
  uv_udp_t udp;
  struct sockaddr_in to;
  void *ping;
  size_t ping_len;
  char rbuf[2048];
};

static void on_started(int status, const json_t *result, const char *message, void *data) {
  struct bench *b = data;
  (void)result;
  b->done = 1;
  if (status) {
    b->failures++;
    snprintf(b->firsterr, sizeof b->firsterr, "sync_start: %s", message ? message : "?");
  }
}

static void start_call(struct bench *b);

/* one round trip done in t us: recorded after the warm-up; then the next one (again), or the run is done */
static void next(struct bench *b, double t, void (*again)(struct bench *b)) {
  if (b->i >= b->warm) b->lat[b->nlat++] = t;
  b->i++;
  if (b->i < b->total)
    again(b);
  else
    b->done = 1;
}

static void on_called(int status, const json_t *result, const char *message, void *data) {
  struct bench *b = data;
  double t = now_us() - b->t0;
  const char *st = json_string_value(json_object_get(result, "status"));
  if (status || !st || strcmp(st, "confirmed")) {
    if (!b->failures)
      snprintf(b->firsterr, sizeof b->firsterr, "call %d: status %d %s %s", b->i, status, st ? st : "",
               message ? message : "");
    b->failures++;
  } else if (json_integer_value(json_object_get(result, "attempts")) > 1) {
    b->not_first_attempt++;
  }
  next(b, t, start_call);
}

static void start_call(struct bench *b) {
  b->t0 = now_us();
  if (sync_call(b->sync, "set_track", b->args[b->i % 2], on_called, b)) {
    b->failures++;
    b->done = 1;
  }
}

static void ping_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  struct bench *b = h->data;
  (void)sz;
  *buf = uv_buf_init(b->rbuf, sizeof b->rbuf);
}

static void ping_send(struct bench *b) {
  uv_buf_t buf = uv_buf_init(b->ping, (unsigned)b->ping_len);
  b->t0 = now_us();
  if (uv_udp_try_send(&b->udp, &buf, 1, (const struct sockaddr *)&b->to) < 0) {
    b->failures++;
    b->done = 1;
  }
}

static void ping_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags) {
  struct bench *b = h->data;
  (void)addr, (void)flags;
  if (n < 10 || memcmp(buf->base, "/mock/pong", 10)) return;
  double t = now_us() - b->t0;
  next(b, t, ping_send);
}

static void on_closed(void *data) { (void)data; }

static int setup(struct bench *b, const char *dialect, int inproc, int proc_port, int fport) {
  memset(b, 0, sizeof *b);
  uv_loop_init(&b->loop);
  char path[1024], err[512];
  oscmap_find(dialect, path, sizeof path);
  if (oscmap_load(path, &b->map, err, sizeof err)) {
    fprintf(stderr, "map: %s\n", err);
    return -1;
  }
  b->ses = session_new(dialect);
  int reaper = !strcmp(dialect, "reaper");
  struct sync_config sc = bench_sync_config(inproc ? 9 : proc_port, !inproc && reaper ? fport : 0);
  if (sync_new(&b->loop, b->map, b->ses, &sc, &b->sync, err, sizeof err)) {
    fprintf(stderr, "sync: %s\n", err);
    return -1;
  }
  if (inproc) {
    struct mock_config mc = {
        .dialect = dialect, .port = 0, .feedback_port = sync_listen_port(b->sync), .tracks = 8, .seed = 1, .quiet = 1};
    if (mock_new(&b->loop, &mc, &b->mock, err, sizeof err)) {
      fprintf(stderr, "mock: %s\n", err);
      return -1;
    }
    b->daw_port = mock_port(b->mock);
  } else {
    b->daw_port = proc_port;
  }
  sync_set_daw(b->sync, "127.0.0.1", b->daw_port);
  sync_start(b->sync, on_started, b);
  while (!b->done) uv_run(&b->loop, UV_RUN_ONCE);
  if (b->failures) {
    fprintf(stderr, "%s\n", b->firsterr);
    return -1;
  }
  b->args[0] = json_pack("{sssf}", "track_id", "t1", "volume_db", -6.0);
  b->args[1] = json_pack("{sssf}", "track_id", "t1", "volume_db", -7.5);
  return 0;
}

static void teardown(struct bench *b) {
  if (b->sync) sync_close(b->sync, on_closed, NULL);
  if (b->mock) mock_close(b->mock, on_closed, NULL);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&b->loop) != 0) fprintf(stderr, "warning: loop not closed cleanly\n");
  session_free(b->ses);
  oscmap_free(b->map);
  json_decref(b->args[0]);
  json_decref(b->args[1]);
}

/* a run of n measured round trips after warm unmeasured ones, latencies into lat */
static void begin_run(struct bench *b, int n, int warm, double *lat) {
  b->total = n + warm;
  b->warm = warm;
  b->i = 0;
  b->done = 0;
  b->lat = lat;
  b->nlat = 0;
}

/* Runs `n` measured calls after `warm`; fills lat. Returns failures. */
static int run_calls(struct bench *b, int n, int warm, double *lat) {
  begin_run(b, n, warm, lat);
  start_call(b);
  while (!b->done) uv_run(&b->loop, UV_RUN_ONCE);
  if (b->failures) fprintf(stderr, "%d failed calls; first: %s\n", b->failures, b->firsterr);
  return b->failures;
}

static int run_pings(struct bench *b, int n, int warm, double *lat) {
  uv_udp_init(&b->loop, &b->udp);
  b->udp.data = b;
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  uv_udp_bind(&b->udp, (const struct sockaddr *)&a, 0);
  b->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)b->daw_port)};
  b->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  lo_message m = lo_message_new();
  b->ping = lo_message_serialise(m, "/mock/ping", NULL, &b->ping_len);
  lo_message_free(m);
  begin_run(b, n, warm, lat);
  uv_udp_recv_start(&b->udp, ping_alloc, ping_recv);
  ping_send(b);
  while (!b->done) uv_run(&b->loop, UV_RUN_ONCE);
  uv_udp_recv_stop(&b->udp);
  uv_close((uv_handle_t *)&b->udp, NULL);
  uv_run(&b->loop, UV_RUN_NOWAIT);
  free(b->ping);
  return b->failures;
}

struct series {
  const char *name;
  double med[MAX_REPS], p90[MAX_REPS], p99[MAX_REPS], max[MAX_REPS];
  int n, failures, retried;
};

static void add_rep(struct series *s, double *lat, int n) {
  if (n <= 0) return;
  s->med[s->n] = bench_pct(lat, n, 0.5);
  s->p90[s->n] = bench_pct(lat, n, 0.9);
  s->p99[s->n] = bench_pct(lat, n, 0.99);
  s->max[s->n] = lat[n - 1];
  s->n++;
}

static void usage(void) {
  printf("usage: bench_confirm_latency [-n CALLS] [-w WARMUP] [-r REPS] [--pin none|same|cross] [--mock-daw PATH]\n"
         "  Tool call -> DAW-confirmed latency (set_track volume_db) against a mock-daw process and the in-process\n"
         "  mock, REAPER and Ardour, with a raw OSC round trip (/mock/ping) to the same mock as baseline.\n"
         "  Defaults: 10000 calls, 1000 warm-up, 3 interleaved repetitions, unpinned.\n"
         "  --pin same: bench and mock-daw process on CPU 0; cross: bench on CPU 0, mock-daw on CPU 1.\n");
}

int main(int argc, char **argv) {
  int n = 10000, warm = 1000, reps = 3;
  int cpu_self = -1, cpu_mock = -1;
  const char *mock_arg = NULL, *pin = "none";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc)
      n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-w") && i + 1 < argc)
      warm = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-r") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--mock-daw") && i + 1 < argc)
      mock_arg = argv[++i];
    else if (!strcmp(argv[i], "--pin") && i + 1 < argc) {
      pin = argv[++i];
      if (!strcmp(pin, "same"))
        cpu_self = cpu_mock = 0;
      else if (!strcmp(pin, "cross"))
        cpu_self = 0, cpu_mock = 1;
      else if (strcmp(pin, "none")) {
        usage();
        return 2;
      }
    } else
      return bench_usage_exit(argv[i], usage);
  }
  if (n < 10) n = 10;
  if (warm < 0) warm = 0;
  reps = bench_clamp(reps, 1, MAX_REPS);
  char exe[PATH_MAX];
  db_test_exe_path(exe, sizeof exe, "mock-daw", mock_arg);
  signal(SIGPIPE, SIG_IGN);
  bench_pin_to(cpu_self);

  const char *dialects[2] = {"reaper", "ardour"};
  int mport[2], fport[2];
  pid_t pids[2] = {-1, -1};
  for (int d = 0; d < 2; d++) {
    mport[d] = db_test_free_udp_port();
    fport[d] = db_test_free_udp_port();
    pids[d] = bench_spawn_mock(exe, dialects[d], mport[d], fport[d], 8, cpu_mock);
    if (pids[d] < 0 || bench_wait_ping(mport[d])) {
      fprintf(stderr, "mock-daw (%s) did not answer /mock/ping\n", exe);
      for (int k = 0; k <= d; k++)
        if (pids[k] > 0) kill(pids[k], SIGTERM), waitpid(pids[k], NULL, 0);
      return 1;
    }
  }

  /* series: [dialect][inproc][0 = call, 1 = ping] */
  struct series ser[2][2][2];
  memset(ser, 0, sizeof ser);
  double *lat = malloc(sizeof *lat * (size_t)(n + 1));
  int rc = 0;
  for (int r = 0; r < reps && !rc; r++) {
    for (int d = 0; d < 2 && !rc; d++) {
      for (int ip = 0; ip < 2 && !rc; ip++) {
        struct bench b;
        if (setup(&b, dialects[d], ip, mport[d], fport[d])) {
          rc = 1;
          teardown(&b);
          break;
        }
        int f = run_calls(&b, n, warm, lat);
        ser[d][ip][0].failures += f;
        ser[d][ip][0].retried += b.not_first_attempt;
        add_rep(&ser[d][ip][0], lat, b.nlat);
        b.failures = 0;
        f = run_pings(&b, n, warm, lat);
        ser[d][ip][1].failures += f;
        add_rep(&ser[d][ip][1], lat, b.nlat);
        teardown(&b);
      }
    }
  }
  free(lat);
  for (int d = 0; d < 2; d++) {
    kill(pids[d], SIGTERM);
    waitpid(pids[d], NULL, 0);
  }
  if (rc) return 1;

  printf("bench_confirm_latency: set_track volume_db -> confirmed, %d calls x %d interleaved reps (after %d warm-up), "
         "pin %s; µs, median over reps\n",
         n, reps, warm, pin);
  printf("%-7s %-10s %-22s %9s %9s %9s %9s %6s %7s\n", "dialect", "mock", "what", "median", "p90", "p99", "max", "fail",
         "resent");
  for (int d = 0; d < 2; d++)
    for (int ip = 0; ip < 2; ip++)
      for (int k = 0; k < 2; k++) {
        struct series *s = &ser[d][ip][k];
        printf("%-7s %-10s %-22s %9.1f %9.1f %9.1f %9.1f %6d %7d\n", dialects[d], ip ? "in-process" : "process",
               k ? "raw OSC ping RTT" : "sync_call confirmed", bench_median(s->med, s->n), bench_median(s->p90, s->n),
               bench_median(s->p99, s->n), bench_median(s->max, s->n), s->failures, s->retried);
      }
  printf("\n%-7s %-10s %14s %14s %16s\n", "dialect", "mock", "call/ping med", "call/ping p99", "call-ping µs");
  for (int d = 0; d < 2; d++)
    for (int ip = 0; ip < 2; ip++) {
      double cm = bench_median(ser[d][ip][0].med, ser[d][ip][0].n),
             pm = bench_median(ser[d][ip][1].med, ser[d][ip][1].n);
      double c99 = bench_median(ser[d][ip][0].p99, ser[d][ip][0].n),
             p99 = bench_median(ser[d][ip][1].p99, ser[d][ip][1].n);
      printf("%-7s %-10s %14.2f %14.2f %16.1f\n", dialects[d], ip ? "in-process" : "process", pm > 0 ? cm / pm : 0,
             p99 > 0 ? c99 / p99 : 0, cm - pm);
    }
  printf("\n");
  int all = 1;
  for (int d = 0; d < 2; d++)
    for (int ip = 0; ip < 2; ip++) {
      struct series *s = &ser[d][ip][0];
      double m = bench_median(s->med, s->n);
      int ok = !s->failures && m <= TARGET_US;
      all &= ok;
      printf("verdict: %s, %s mock: median %.1f µs (p99 %.1f), target median <= %.0f µs: %s\n", dialects[d],
             ip ? "in-process" : "process", m, bench_median(s->p99, s->n), TARGET_US, ok ? "MET" : "MISSED");
    }
  return all ? 0 : 3;
}
