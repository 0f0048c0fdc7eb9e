/* sync_bench.c: time to fully mirror a session (sync_start -> "mirror is whole") against a mock-daw process.
 *
 *   bench_sync [-r REPS] [-t N,N,...] [-d reaper|ardour] [--mock-daw PATH] [-v]
 *
 * For each dialect and session size (default 100 and 1000 tracks), one mock-daw process is started with
 * --tracks N and kept for all repetitions; REAPER is measured with the map's bank size and with bank 8. Each run
 * is a fresh bridge (map + session + sync on a new loop, listening on the same feedback port) doing sync_start
 * until its callback reports the whole mirror; the clock runs from the sync_start() call to that callback.
 * Configurations are interleaved (A B C ... A B C ...), REPS (default 5) times; the table shows medians.
 * Target: <= 200 ms for 1,000 tracks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lo/lo.h>

#include "bench_sync.h"
#include "bench_util.h"
#include "db_test_util.h"
#include "oscmap.h"
#include "session.h"
#include "sync.h"

#define MAX_SIZES 8
#define MAX_CFG 32
#define TARGET_MS 200.0

static double self_cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* user+sys CPU of another process, from /proc (clock-tick resolution: 10 ms at 100 Hz) */
static double proc_cpu_ms(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return 0;
  unsigned long ut = 0, st = 0;
  /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return 0;
  return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

struct run {
  int done, status;
  double t_end;
  int tracks;
  char message[512];
};

static void on_synced(int status, const json_t *result, const char *message, void *data) {
  struct run *r = data;
  r->t_end = db_test_now_ms();
  r->done = 1;
  r->status = status;
  r->tracks = (int)json_integer_value(json_object_get(result, "tracks"));
  snprintf(r->message, sizeof r->message, "%s", message ? message : "");
}

static void on_closed(void *data) { *(int *)data = 1; }

static void log_stderr(int level, const char *module, const char *text, void *data) {
  (void)data;
  fprintf(stderr, "%.3f [%d] %s: %s\n", db_test_now_ms(), level, module, text);
}

struct cfg {
  const char *dialect;
  int tracks, bank; /* bank 0 = the map's */
  int mock_port, listen_port;
  pid_t mock_pid;
  double ms[64], bridge_cpu[64], daw_cpu[64];
  unsigned long msgs[64];
  int n, failures;
};

/* One full sync against the mock of `c`: returns ms, or < 0 on failure. */
static double one_sync(struct cfg *c, int verbose, unsigned long *msgs, double *bcpu, double *dcpu) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char path[1024], err[512];
  oscmap_find(c->dialect, path, sizeof path);
  oscmap_t *map = NULL;
  if (oscmap_load(path, &map, err, sizeof err)) {
    fprintf(stderr, "map: %s\n", err);
    exit(1);
  }
  session_t *ses = session_new(c->dialect);
  struct sync_config sc = bench_sync_config(c->mock_port, c->listen_port);
  sc.bank_size = c->bank;
  sc.log = (struct log_sink){.fn = verbose ? log_stderr : NULL, .level = verbose > 1 ? LOG_DEBUG : LOG_INFO};
  sync_t *s = NULL;
  if (sync_new(&loop, map, ses, &sc, &s, err, sizeof err)) {
    fprintf(stderr, "sync: %s\n", err);
    exit(1);
  }
  struct run r = {0};
  double c0 = self_cpu_ms(), d0 = proc_cpu_ms(c->mock_pid);
  double t0 = db_test_now_ms();
  sync_start(s, on_synced, &r);
  while (!r.done) uv_run(&loop, UV_RUN_ONCE);
  double ms = r.t_end - t0;
  *bcpu = self_cpu_ms() - c0;
  *dcpu = proc_cpu_ms(c->mock_pid) - d0;
  struct sync_stats st;
  sync_get_stats(s, &st);
  *msgs = st.messages;
  if (r.status || r.tracks != c->tracks || session_track_count(ses) != c->tracks) {
    fprintf(stderr, "%s %d tracks bank %d: sync failed (status %d, %d tracks): %s\n", c->dialect, c->tracks, c->bank,
            r.status, session_track_count(ses), r.message);
    ms = -1;
  }
  int closed = 0;
  sync_close(s, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) fprintf(stderr, "warning: loop not closed cleanly\n");
  session_free(ses);
  oscmap_free(map);
  return ms;
}

static void usage(void) {
  printf("usage: bench_sync [-r REPS] [-t N,N,...] [-d reaper|ardour] [--mock-daw PATH] [-v]\n"
         "  Time to fully mirror N tracks (sync_start until the mirror is whole) against a mock-daw process,\n"
         "  REAPER (map's bank size and bank 8) and Ardour. Medians of REPS interleaved runs (default 5);\n"
         "  sizes default to 100,1000. Target: <= 200 ms for 1000 tracks.\n");
}

int main(int argc, char **argv) {
  int reps = 5, verbose = 0;
  int sizes[MAX_SIZES] = {100, 1000}, nsizes = 2;
  const char *mock_arg = NULL, *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-r") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
      nsizes = 0;
      for (char *tok = strtok(argv[++i], ","); tok && nsizes < MAX_SIZES; tok = strtok(NULL, ","))
        sizes[nsizes++] = atoi(tok);
    } else if (!strcmp(argv[i], "--mock-daw") && i + 1 < argc)
      mock_arg = argv[++i];
    else if (!strcmp(argv[i], "-d") && i + 1 < argc)
      only = argv[++i];
    else if (!strcmp(argv[i], "-v"))
      verbose++;
    else
      return bench_usage_exit(argv[i], usage);
  }
  reps = bench_clamp(reps, 1, 64);
  char exe[PATH_MAX];
  db_test_exe_path(exe, sizeof exe, "mock-daw", mock_arg);
  signal(SIGPIPE, SIG_IGN);
  static char errbuf[1 << 20];
  if (verbose) setvbuf(stderr, errbuf, _IOFBF, sizeof errbuf); /* timestamps stay honest: no write per line */

  /* one mock process per dialect and size; REAPER's is shared by both bank sizes */
  struct {
    const char *dialect;
    int tracks, port, fport;
    pid_t pid;
  } mocks[2 * MAX_SIZES];
  int nm = 0;
  struct cfg cfgs[MAX_CFG];
  int nc = 0;
  const char *dialects[] = {"reaper", "ardour"};
  for (int d = 0; d < 2; d++) {
    if (only && strcmp(only, dialects[d])) continue;
    for (int k = 0; k < nsizes; k++) {
      int port = db_test_free_udp_port(), fport = db_test_free_udp_port();
      mocks[nm].dialect = dialects[d];
      mocks[nm].tracks = sizes[k];
      mocks[nm].port = port;
      mocks[nm].fport = fport;
      mocks[nm].pid = bench_spawn_mock(exe, dialects[d], port, fport, sizes[k], -1);
      if (mocks[nm].pid < 0 || bench_wait_ping(port)) {
        fprintf(stderr, "mock-daw (%s) did not start or answer /mock/ping on port %d\n", exe, port);
        for (int j = 0; j <= nm; j++)
          if (mocks[j].pid > 0) kill(mocks[j].pid, SIGTERM), waitpid(mocks[j].pid, NULL, 0);
        return 1;
      }
      int banks[2] = {0, 8};
      int nb = d == 0 ? 2 : 1;
      for (int b = 0; b < nb; b++) {
        struct cfg *c = &cfgs[nc++];
        memset(c, 0, sizeof *c);
        c->dialect = dialects[d];
        c->tracks = sizes[k];
        c->bank = banks[b];
        c->mock_port = port;
        c->mock_pid = mocks[nm].pid;
        /* REAPER sends feedback to a fixed device port; Ardour replies to the sender (ephemeral is fine) */
        c->listen_port = d == 0 ? fport : 0;
      }
      nm++;
    }
  }
  int map_bank = 0;
  {
    char path[1024], err[256];
    oscmap_t *m = NULL;
    oscmap_find("reaper", path, sizeof path);
    if (!oscmap_load(path, &m, err, sizeof err)) {
      map_bank = (int)json_integer_value(json_object_get(json_object_get(oscmap_json(m), "banking"), "size"));
      oscmap_free(m);
    }
  }

  for (int r = 0; r < reps; r++) {
    for (int i = 0; i < nc; i++) {
      struct cfg *c = &cfgs[i];
      unsigned long msgs = 0;
      double bcpu = 0, dcpu = 0;
      double ms = one_sync(c, verbose, &msgs, &bcpu, &dcpu);
      if (ms < 0) {
        c->failures++;
        continue;
      }
      c->bridge_cpu[c->n] = bcpu;
      c->daw_cpu[c->n] = dcpu;
      c->msgs[c->n] = msgs;
      c->ms[c->n++] = ms;
    }
  }

  for (int i = 0; i < nm; i++) {
    kill(mocks[i].pid, SIGTERM);
    waitpid(mocks[i].pid, NULL, 0);
  }

  printf("bench_sync: full mirror against a mock-daw process, %d interleaved runs, medians\n", reps);
  printf("%-7s %6s %5s %10s %8s %8s %8s %10s %11s %8s %5s\n", "dialect", "tracks", "bank", "median ms", "min ms",
         "max ms", "msgs rx", "msgs/s", "bridge CPU", "DAW CPU", "fail");
  int all_ok = 1;
  for (int i = 0; i < nc; i++) {
    struct cfg *c = &cfgs[i];
    double mn = 0, mx = 0, med = bench_median(c->ms, c->n);
    double msgs[64];
    for (int k = 0; k < c->n; k++) {
      if (!k || c->ms[k] < mn) mn = c->ms[k];
      if (!k || c->ms[k] > mx) mx = c->ms[k];
      msgs[k] = (double)c->msgs[k];
    }
    char bank[16];
    if (strcmp(c->dialect, "reaper"))
      snprintf(bank, sizeof bank, "-");
    else
      snprintf(bank, sizeof bank, "%d", c->bank ? c->bank : map_bank);
    double mmsg = bench_median(msgs, c->n);
    printf("%-7s %6d %5s %10.1f %8.1f %8.1f %8.0f %10.0f %8.1f ms %5.0f ms %5d\n", c->dialect, c->tracks, bank, med, mn,
           mx, mmsg, med > 0 ? mmsg / (med / 1e3) : 0, bench_median(c->bridge_cpu, c->n),
           bench_median(c->daw_cpu, c->n), c->failures);
  }
  printf("\n");
  for (int i = 0; i < nc; i++) {
    struct cfg *c = &cfgs[i];
    if (c->tracks != 1000) continue;
    double med = bench_median(c->ms, c->n);
    int ok = c->n > 0 && !c->failures && med <= TARGET_MS;
    all_ok &= ok;
    char bank[16];
    if (strcmp(c->dialect, "reaper"))
      snprintf(bank, sizeof bank, "list");
    else
      snprintf(bank, sizeof bank, "bank %d", c->bank ? c->bank : map_bank);
    printf("verdict: %s 1000 tracks (%s): median %.1f ms, target <= %.0f ms: %s\n", c->dialect, bank, med, TARGET_MS,
           ok ? "MET" : "MISSED");
  }
  return all_ok ? 0 : 3;
}
