/* bench_live_idle [IDLE_SECONDS] [REQUESTS]: the live daemon's idle cost and memory over many requests (issue 13).
 *
 *   1. baseline: the one-shot CLI, `dawbridge --daw mock exec PLAN` run 10 times: wall time per request and
 *      the largest RSS of those processes;
 *   2. `dawbridge --daw mock run` (embedded mock DAW, no terminal): its CPU time over IDLE_SECONDS with nothing
 *      to do (default 60; ctest runs 10), from /proc/PID/stat;
 *   3. REQUESTS (default 1,000) exec requests through the control socket, one after the other: time per request
 *      and the daemon's RSS (VmRSS) after the first 10 and after all;
 *   4. SIGTERM: a clean stop (exit 0).
 * Prints the figures with the baseline ratio. Exit 0 when it ran (targets are read, not asserted: README). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ctl.h"
#include "ctl_client.h"

#define PLAN_A "Step 1: set_tempo - slower\n  - bpm: 96\n"
#define PLAN_B "Step 1: set_tempo - faster\n  - bpm: 97\n"

struct bench {
  uv_loop_t loop;
  char dir[256], exe[1024], sock[600];
  uv_process_t proc;
  int running, exit_status;
  ctl_client_t *cl;
  int connected, connect_status, gone;
  int done_request, last_exit;
  json_t *last_reply;
  uv_timer_t timer;
  int timer_fired;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_timer(uv_timer_t *t) { ((struct bench *)t->data)->timer_fired = 1; }

/* Runs the loop until *flag or ms passed (a timer wakes the loop; no busy wait). */
static int run_until(struct bench *b, const int *flag, int ms) {
  b->timer_fired = 0;
  uv_timer_start(&b->timer, on_timer, (uint64_t)ms, 0);
  while (!*flag && !b->timer_fired) uv_run(&b->loop, UV_RUN_ONCE);
  uv_timer_stop(&b->timer);
  return *flag;
}

static void sleep_loop(struct bench *b, int ms) {
  int never = 0;
  run_until(b, &never, ms);
}

/* ---- the one-shot baseline ---- */

struct child {
  int done;
  int64_t status;
};
static void on_child_exit(uv_process_t *p, int64_t status, int sig) {
  struct child *c = p->data;
  c->done = 1;
  c->status = status ? status : sig;
  uv_close((uv_handle_t *)p, NULL);
}

static int run_oneshot(struct bench *b, char **args) {
  uv_process_t p;
  struct child c = {0};
  p.data = &c;
  uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
  uv_process_options_t po = {.file = args[0], .args = args, .exit_cb = on_child_exit, .stdio = stdio, .stdio_count = 3};
  if (uv_spawn(&b->loop, &p, &po)) return -1;
  run_until(b, &c.done, 120000);
  uv_run(&b->loop, UV_RUN_NOWAIT);
  return (int)c.status;
}

/* ---- the daemon ---- */

static void on_daemon_exit(uv_process_t *p, int64_t status, int sig) {
  struct bench *b = p->data;
  b->running = 0;
  b->exit_status = (int)(status ? status : sig ? 128 + sig : 0);
  uv_close((uv_handle_t *)p, NULL);
}

static long proc_cpu_ticks(int pid) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  long ut = 0, st = 0;
  /* after ") ": state(3) ... utime is field 14, stime 15 */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st) != 2) return -1;
  return ut + st;
}

static long proc_rss_kib(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  fclose(f);
  return kb;
}

static void c_connect(ctl_client_t *cl, int status, void *data) {
  struct bench *b = data;
  (void)cl;
  b->connected = 1;
  b->connect_status = status;
}

static void c_message(ctl_client_t *cl, const json_t *m, void *data) {
  struct bench *b = data;
  (void)cl;
  const char *type = json_string_value(json_object_get(m, "type"));
  if (!type) return;
  if (!strcmp(type, "reply")) {
    json_decref(b->last_reply);
    b->last_reply = json_deep_copy(m);
  } else if (!strcmp(type, "done")) {
    b->done_request = (int)json_integer_value(json_object_get(m, "request"));
    b->last_exit = (int)json_integer_value(json_object_get(m, "exit_code"));
  }
}

static void c_close(ctl_client_t *cl, const char *why, void *data) {
  struct bench *b = data;
  (void)cl, (void)why;
  b->gone = 1;
}

static int free_udp_port(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a)) return -1;
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  return ntohs(a.sin_port);
}

/* Connects to the daemon's socket once it exists and answers; gives up after 30 s in all. */
static int connect_daemon(struct bench *b) {
  uint64_t end = uv_now(&b->loop) + 30000;
  while (uv_now(&b->loop) < end) {
    struct stat st;
    if (!stat(b->sock, &st)) {
      struct ctl_client_callbacks cb = {c_connect, c_message, c_close, b};
      b->connected = 0;
      b->gone = 0;
      if (ctl_client_connect(&b->loop, b->sock, &cb, &b->cl) == 0) {
        run_until(b, &b->connected, 2000);
        if (b->connected && b->connect_status == 0) return 0;
        ctl_client_close(b->cl, NULL, NULL);
        b->cl = NULL;
      }
    }
    sleep_loop(b, 50);
    uv_update_time(&b->loop);
  }
  return -1;
}

static int got_reply(struct bench *b) { return b->last_reply != NULL; }

static json_t *op(struct bench *b, json_t *msg) {
  json_decref(b->last_reply);
  b->last_reply = NULL;
  ctl_client_send(b->cl, msg);
  json_decref(msg);
  b->timer_fired = 0;
  uv_timer_start(&b->timer, on_timer, 30000, 0);
  while (!got_reply(b) && !b->timer_fired && !b->gone) uv_run(&b->loop, UV_RUN_ONCE);
  uv_timer_stop(&b->timer);
  return b->last_reply;
}

static int request(struct bench *b, int i) {
  json_t *r = op(b, json_pack("{s:s, s:{s:s, s:s, s:s}}", "op", "submit", "request", "kind", "exec", "text",
                              i % 2 ? PLAN_B : PLAN_A, "label", "bench"));
  if (!r || !json_is_true(json_object_get(r, "ok"))) return -1;
  int id = (int)json_integer_value(json_object_get(json_object_get(r, "result"), "request"));
  b->timer_fired = 0;
  uv_timer_start(&b->timer, on_timer, 60000, 0);
  while (b->done_request != id && !b->timer_fired && !b->gone) uv_run(&b->loop, UV_RUN_ONCE);
  uv_timer_stop(&b->timer);
  return b->done_request == id ? b->last_exit : -1;
}

int main(int argc, char **argv) {
  int idle_s = argc > 1 ? atoi(argv[1]) : 60;
  int nreq = argc > 2 ? atoi(argv[2]) : 1000;
  if (idle_s < 1 || nreq < 11) {
    fprintf(stderr, "usage: bench_live_idle [IDLE_SECONDS >= 1] [REQUESTS > 10]\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  struct bench b;
  memset(&b, 0, sizeof b);
  uv_loop_init(&b.loop);
  uv_timer_init(&b.loop, &b.timer);
  b.timer.data = &b;
  snprintf(b.dir, sizeof b.dir, "/tmp/dawbridge-bench-live-XXXXXX");
  if (!mkdtemp(b.dir)) return 1;
  char rt[300], data[300], data1[300], planf[300];
  snprintf(rt, sizeof rt, "%s/run", b.dir);
  snprintf(data, sizeof data, "%s/data", b.dir);
  snprintf(data1, sizeof data1, "%s/data-oneshot", b.dir);
  snprintf(planf, sizeof planf, "%s/tempo.plan", b.dir);
  mkdir(rt, 0700);
  setenv("XDG_RUNTIME_DIR", rt, 1);
  setenv("XDG_CONFIG_HOME", b.dir, 1);
  FILE *pf = fopen(planf, "w");
  fputs(PLAN_A, pf);
  fclose(pf);
  const char *bin = getenv("DAWBRIDGE_BINARY_DIR");
  snprintf(b.exe, sizeof b.exe, "%s/dawbridge", bin ? bin : ".");
  if (access(b.exe, X_OK)) {
    fprintf(stderr, "bench_live_idle: %s not found (set DAWBRIDGE_BINARY_DIR)\n", b.exe);
    return 1;
  }

  /* 1. the one-shot baseline */
  const int oneshots = 10;
  char *oargs[] = {b.exe, "--daw", "mock", "--data-dir", data1, "--composition", "bench", "exec", planf, NULL};
  double t0 = now_s();
  for (int i = 0; i < oneshots; i++) {
    int st = run_oneshot(&b, oargs);
    if (st) {
      fprintf(stderr, "bench_live_idle: the one-shot exec exited %d\n", st);
      return 1;
    }
  }
  double oneshot_ms = (now_s() - t0) * 1000.0 / oneshots;
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  long oneshot_rss = ru.ru_maxrss;

  /* 2. the daemon, idle */
  char *dargs[] = {b.exe,   "--daw",       "mock",  "--data-dir", data, "--composition",
                   "bench", "--log-level", "error", "run",        NULL};
  uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
  uv_process_options_t po = {.file = b.exe, .args = dargs, .exit_cb = on_daemon_exit, .stdio = stdio, .stdio_count = 3};
  b.proc.data = &b;
  if (uv_spawn(&b.loop, &b.proc, &po)) return 1;
  b.running = 1;
  int pid = b.proc.pid;
  if (ctl_socket_path("mock-reaper", b.sock, sizeof b.sock, 0, NULL, 0) || connect_daemon(&b)) {
    fprintf(stderr, "bench_live_idle: the daemon's control socket does not answer\n");
    uv_process_kill(&b.proc, SIGKILL);
    return 1;
  }
  for (int i = 0; i < 100; i++) { /* until the DAW is mirrored */
    json_t *r = op(&b, json_pack("{s:s}", "op", "status"));
    if (r && json_is_true(json_object_get(json_object_get(r, "result"), "connected"))) break;
    sleep_loop(&b, 50);
  }
  sleep_loop(&b, 500); /* start-up settles */
  long hz = sysconf(_SC_CLK_TCK);
  long c0 = proc_cpu_ticks(pid);
  sleep_loop(&b, idle_s * 1000);
  long c1 = proc_cpu_ticks(pid);
  double idle_cpu = (double)(c1 - c0) / (double)hz;
  long rss_idle = proc_rss_kib(pid);

  /* 3. requests */
  long rss10 = 0;
  int fails = 0;
  t0 = now_s();
  double t10 = 0;
  for (int i = 0; i < nreq; i++) {
    int rc = request(&b, i);
    if (rc != 0) fails++;
    if (rc < 0) break;
    if (i == 9) {
      rss10 = proc_rss_kib(pid);
      t10 = now_s();
    }
  }
  double daemon_ms = nreq > 10 ? (now_s() - t10) * 1000.0 / (nreq - 10) : 0;
  long rssn = proc_rss_kib(pid);

  /* 4. clean stop */
  ctl_client_close(b.cl, NULL, NULL);
  uv_process_kill(&b.proc, SIGTERM);
  int r = 1;
  int stopped = 0;
  b.timer_fired = 0;
  uv_timer_start(&b.timer, on_timer, 30000, 0);
  while (b.running && !b.timer_fired) uv_run(&b.loop, UV_RUN_ONCE);
  uv_timer_stop(&b.timer);
  stopped = !b.running;

  /* 5. idle against a separate mock-daw process over UDP (REAPER dialect, no companion): the daemon alone */
  double idle_ext = -1, idle_mock = -1;
  {
    char mexe[1100], port[16], fport[16];
    snprintf(mexe, sizeof mexe, "%s/mock-daw", bin ? bin : ".");
    int dp = free_udp_port(), lp = free_udp_port();
    snprintf(port, sizeof port, "%d", dp);
    snprintf(fport, sizeof fport, "%d", lp);
    char *margs[] = {mexe, "--dialect", "reaper", "--port", port, "--feedback-port", fport, "--quiet", NULL};
    uv_process_t mp;
    struct child mc = {0};
    mp.data = &mc;
    uv_process_options_t mpo = {
        .file = mexe, .args = margs, .exit_cb = on_child_exit, .stdio = stdio, .stdio_count = 3};
    char *eargs[] = {
        b.exe, "--daw",       "reaper", "--port", port, "--listen-port", fport, "--no-companion", "--data-dir",
        data,  "--log-level", "error",  "run",    NULL};
    uv_process_options_t epo = {
        .file = b.exe, .args = eargs, .exit_cb = on_daemon_exit, .stdio = stdio, .stdio_count = 3};
    if (!access(mexe, X_OK) && !uv_spawn(&b.loop, &mp, &mpo)) {
      b.proc.data = &b;
      b.gone = 0;
      if (!uv_spawn(&b.loop, &b.proc, &epo)) {
        b.running = 1;
        int epid = b.proc.pid;
        if (!ctl_socket_path("reaper", b.sock, sizeof b.sock, 0, NULL, 0) && !connect_daemon(&b)) {
          for (int i = 0; i < 100; i++) {
            json_t *rr = op(&b, json_pack("{s:s}", "op", "status"));
            if (rr && json_is_true(json_object_get(json_object_get(rr, "result"), "connected"))) break;
            sleep_loop(&b, 50);
          }
          sleep_loop(&b, 500);
          long e0 = proc_cpu_ticks(epid), m0 = proc_cpu_ticks(mp.pid);
          sleep_loop(&b, idle_s * 1000);
          long e1 = proc_cpu_ticks(epid), m1 = proc_cpu_ticks(mp.pid);
          idle_ext = (double)(e1 - e0) / (double)hz;
          idle_mock = (double)(m1 - m0) / (double)hz;
          ctl_client_close(b.cl, NULL, NULL);
        }
        uv_process_kill(&b.proc, SIGTERM);
        b.timer_fired = 0;
        uv_timer_start(&b.timer, on_timer, 30000, 0);
        while (b.running && !b.timer_fired) uv_run(&b.loop, UV_RUN_ONCE);
        uv_timer_stop(&b.timer);
        if (b.exit_status) stopped = 0;
      }
      uv_process_kill(&mp, SIGTERM);
      run_until(&b, &mc.done, 10000);
    }
  }

  printf("bench_live_idle: dawbridge --daw mock run (embedded mock DAW), %d s idle, %d exec requests\n", idle_s, nreq);
  printf("  idle CPU:               %.3f s over %d s = %.3f s per minute (%.3f %% of a core); target < 0.1 s/min\n",
         idle_cpu, idle_s, idle_cpu * 60.0 / idle_s, idle_cpu * 100.0 / idle_s);
  if (idle_ext >= 0)
    printf("  idle CPU, separate DAW: %.3f s over %d s (dawbridge --daw reaper run against the mock-daw process, no "
           "companion; the mock itself: %.3f s)\n",
           idle_ext, idle_s, idle_mock);
  else
    printf("  idle CPU, separate DAW: not measured (mock-daw not found or did not start)\n");
  printf("  per request:            daemon %.1f ms  vs one-shot CLI %.1f ms  (ratio %.3f)\n", daemon_ms, oneshot_ms,
         daemon_ms / oneshot_ms);
  printf("  RSS:                    idle %ld KiB, after 10 requests %ld KiB, after %d: %ld KiB (growth %+.1f %%; "
         "target within 10 %%)\n",
         rss_idle, rss10, nreq, rssn, rss10 > 0 ? (double)(rssn - rss10) * 100.0 / (double)rss10 : 0.0);
  printf("  one-shot CLI max RSS:   %ld KiB (each request a new process: connect, mirror, plan, save, exit)\n",
         oneshot_rss);
  printf("  requests not exit 0:    %d; clean stop on SIGTERM: %s (exit %d)\n", fails, stopped ? "yes" : "NO",
         b.exit_status);
  r = fails || !stopped || b.exit_status ? 1 : 0;
  json_decref(b.last_reply);
  uv_close((uv_handle_t *)&b.timer, NULL);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&b.loop)) r = 1;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", b.dir);
  if (system(cmd)) {}
  return r;
}
