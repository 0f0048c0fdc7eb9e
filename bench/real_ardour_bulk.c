/* real_ardour_bulk.c: 10,000 notes written and read back through the bridge, in one process holding the link (as a
 * daemon will), against a running DAW with its companion (issue 11: "10,000 notes written and read back <= 0.5 s").
 *
 *   bench_real_ardour_bulk [ROUNDS]      (default 3)
 *
 * Environment (as tests/companions/ardour_e2e.sh gives it with ARDOUR_E2E_RUN=this program):
 *   DAWBRIDGE_SPOOL        the companion's spool
 *   DAWBRIDGE_ARDOUR_PORT  Ardour's OSC port
 *   BULK_DIALECT           "ardour" (default) or "reaper"; BULK_NOTES (default 10000)
 *
 * The bridge's daw_t (bridge/daw.h) connects, syncs and pings the companion (packed capability or not), creates one
 * MIDI track, then per round: create_midi_clip of BULK_NOTES distinct notes as one tool call, the clock running from
 * daw_call() to the "confirmed" result -- the companion commands that carry the notes, the whole clip read back and
 * compared note by note with what was sent; then get_notes of that clip (a read alone: read_clip and the decode).
 * Prints "name value unit" lines: bulk.packed (1/0: the companion's ping offered the packed form),
 * bulk.write_read_ms (each round, with the CPU time the bridge and the DAW spent on it), bulk.write_read_median,
 * bulk.read_median, bulk.write_read_cpu_bridge_median, bulk.write_read_cpu_daw_median (DAWBRIDGE_ARDOUR_PID: the
 * DAW's process, all threads), bulk.companion_commands. On a loaded machine the CPU times show the work, the wall
 * times mostly the wait for a core.
 * Exit 0 when every round was confirmed with every note, 1 otherwise, 2 on bad usage or no DAW. Every wait is bounded
 * by the bridge's own deadlines (companion timeouts, retries). Noisy on a shared machine: give the load with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_daw.h"
#include "bench_util.h"
#include "companion.h"
#include "daw.h"

struct ctx {
  uv_loop_t loop;
  daw_t *d;
  struct bench_daw_result r;
  int closed;
};

static double now_ms(void) { return (double)uv_hrtime() / 1e6; }

/* CPU time (user + system, ms) of this process, and of the DAW's process when DAWBRIDGE_ARDOUR_PID names it (-1
 * otherwise): the work done, whatever the load made the wall time */
static double self_cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double daw_cpu_ms(void) {
  const char *pid = getenv("DAWBRIDGE_ARDOUR_PID");
  char path[64], buf[2048];
  if (!pid) return -1;
  snprintf(path, sizeof path, "/proc/%d/stat", atoi(pid));
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces: fields count from after it */
  unsigned long long ut = 0, st = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2) return -1;
  return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

/* n distinct notes: 1,024 slots of 1/4 beat (256 beats), layers of 8 pitches; lengths and velocities varied */
static json_t *make_notes(int n) {
  json_t *a = json_array();
  for (int i = 0; i < n; i++) {
    int slot = i % 1024, layer = i / 1024;
    json_array_append_new(a, json_pack("{s:i,s:f,s:f,s:i}", "n", 20 + (layer * 8) % 100 + slot % 8, "s", slot * 0.25,
                                       "d", 0.125 + (i % 3) * 0.0625, "v", 1 + i % 127));
  }
  return a;
}

static void on_closed(void *data) { ((struct ctx *)data)->closed = 1; }

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 3;
  const char *spool = getenv("DAWBRIDGE_SPOOL"), *port = getenv("DAWBRIDGE_ARDOUR_PORT");
  const char *dialect = getenv("BULK_DIALECT") ? getenv("BULK_DIALECT") : "ardour";
  int nnotes = getenv("BULK_NOTES") ? atoi(getenv("BULK_NOTES")) : 10000;
  if (rounds < 1 || rounds > 100 || !spool || !port || nnotes < 1 || nnotes > 200000) {
    fprintf(stderr, "usage: DAWBRIDGE_SPOOL=DIR DAWBRIDGE_ARDOUR_PORT=P bench_real_ardour_bulk [ROUNDS 1-100]\n");
    return 2;
  }
  struct ctx x;
  memset(&x, 0, sizeof x);
  uv_loop_init(&x.loop);
  struct daw_config cfg = {.dialect = dialect,
                           .port = atoi(port),
                           .listen_port = 0,
                           .confirm_timeout_ms = -1,
                           .retries = -1,
                           .refresh_interval_ms = 0,
                           .spool_dir = spool,
                           .companion_timeout_ms = 60000,
                           .log = {.level = LOG_WARN}};
  char err[512];
  int rc = daw_open(&x.loop, &cfg, &x.d, err, sizeof err);
  if (rc) {
    fprintf(stderr, "bench_real_ardour_bulk: %s\n", err);
    return 2;
  }
  int exitc = 0;
  if (daw_start(x.d, bench_daw_on_result, &x.r) || bench_daw_wait(&x.loop, &x.r) || !daw_has_companion(x.d)) {
    fprintf(stderr, "bench_real_ardour_bulk: no DAW or no companion: %s\n", x.r.msg);
    exitc = 2;
    goto out;
  }
  const json_t *bulk = json_object_get(companion_info(daw_companion(x.d)), "bulk");
  printf("bulk.packed %d flag\n", json_is_true(json_object_get(bulk, "packed")));
  json_t *ta = json_pack("{s:s,s:s}", "name", "Bulk bench", "type", "midi");
  x.r.done = 0;
  if (daw_call(x.d, "create_track", ta, bench_daw_on_result, &x.r) || bench_daw_wait(&x.loop, &x.r)) {
    fprintf(stderr, "bench_real_ardour_bulk: create_track: %s\n", x.r.msg);
    json_decref(ta);
    exitc = 2;
    goto out;
  }
  json_decref(ta);
  char track[32];
  snprintf(track, sizeof track, "%s", json_string_value(json_object_get(x.r.result, "track_id")));
  json_t *notes = make_notes(nnotes);
  double *wr = calloc((size_t)rounds, sizeof *wr), *rd = calloc((size_t)rounds, sizeof *rd);
  double *cb = calloc((size_t)rounds, sizeof *cb), *cd = calloc((size_t)rounds, sizeof *cd);
  long long commands = 0;
  for (int i = 0; i < rounds; i++) {
    json_t *args =
        json_pack("{s:s,s:f,s:f,s:O}", "track_id", track, "start_time", 300.0 * i, "duration", 256.0, "notes", notes);
    x.r.done = 0;
    double c0 = self_cpu_ms(), a0 = daw_cpu_ms(), t0 = now_ms();
    rc = daw_call(x.d, "create_midi_clip", args, bench_daw_on_result, &x.r) ? -1 : bench_daw_wait(&x.loop, &x.r);
    wr[i] = now_ms() - t0;
    cb[i] = self_cpu_ms() - c0;
    cd[i] = a0 < 0 ? -1 : daw_cpu_ms() - a0;
    json_decref(args);
    const char *st = json_string_value(json_object_get(x.r.result, "status"));
    if (rc || !st || strcmp(st, "confirmed") || json_integer_value(json_object_get(x.r.result, "notes")) != nnotes) {
      fprintf(stderr, "bench_real_ardour_bulk: round %d: create_midi_clip not confirmed: %s %s\n", i + 1, st ? st : "",
              x.r.msg);
      exitc = 1;
      break;
    }
    commands = json_integer_value(json_object_get(x.r.result, "companion_commands"));
    char clip[32];
    snprintf(clip, sizeof clip, "%s", json_string_value(json_object_get(x.r.result, "clip_id")));
    printf("bulk.write_read_ms %.1f ms (round %d: %d notes written, read back, compared; CPU: bridge %.0f ms, DAW %.0f "
           "ms)\n",
           wr[i], i + 1, nnotes, cb[i], cd[i]);
    json_t *ga = json_pack("{s:s,s:s}", "track_id", track, "clip_id", clip);
    x.r.done = 0;
    t0 = now_ms();
    rc = daw_call(x.d, "get_notes", ga, bench_daw_on_result, &x.r) ? -1 : bench_daw_wait(&x.loop, &x.r);
    rd[i] = now_ms() - t0;
    json_decref(ga);
    if (rc || json_integer_value(json_object_get(x.r.result, "note_count")) != nnotes) {
      fprintf(stderr, "bench_real_ardour_bulk: round %d: get_notes: %s\n", i + 1, x.r.msg);
      exitc = 1;
      break;
    }
    printf("bulk.read_ms %.1f ms (round %d: get_notes of that clip)\n", rd[i], i + 1);
  }
  if (!exitc) {
    bench_sort(wr, rounds);
    bench_sort(rd, rounds);
    printf("bulk.write_read_median %.1f ms (%d rounds, min %.1f, max %.1f)\n", wr[rounds / 2], rounds, wr[0],
           wr[rounds - 1]);
    printf("bulk.read_median %.1f ms\n", rd[rounds / 2]);
    bench_sort(cb, rounds);
    bench_sort(cd, rounds);
    printf("bulk.write_read_cpu_bridge_median %.0f ms (CPU time of this process: the bridge)\n", cb[rounds / 2]);
    printf("bulk.write_read_cpu_daw_median %.0f ms (CPU time of the DAW process, all its threads; -1 = unknown)\n",
           cd[rounds / 2]);
    printf("bulk.companion_commands %lld commands (create + adds + read_clip; 0 = one command and the read)\n",
           commands);
  }
  free(wr);
  free(rd);
  free(cb);
  free(cd);
  json_decref(notes);
out:
  daw_close(x.d, on_closed, &x);
  while (!x.closed) uv_run(&x.loop, UV_RUN_ONCE);
  json_decref(x.r.result);
  uv_run(&x.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&x.loop)) fprintf(stderr, "bench_real_ardour_bulk: loop not closed\n");
  return exitc;
}
