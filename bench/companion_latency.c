/* bench_companion_latency [RUNS]: the bridge side of companion round trips, in one process holding the link (as a
 * daemon will), against the embedded mock DAW and its companion over a real spool, both dialects.
 *
 * Prints, per dialect:
 *   - raw companion command (companion_call "ping" as a command: spool write, trigger/poll, reply) median / p95
 *   - create_midi_clip of 16 notes, confirmed (create + whole-clip read-back) median / p95
 *   - 10,000 notes written and read back as one tool call (its companion commands + 1 read_clip)
 *   - set_track (native OSC, no companion involved) median, with the companion loaded
 * The mock's Ardour companion polls in/ every 50 ms like the headless session host, so its figures are bounded
 * below by that poll; the REAPER flavour runs on its trigger at once. Real Ardour: bench/real_ardour (comp). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_daw.h"
#include "bench_util.h"
#include "companion.h"
#include "daw.h"
#include "mock_embed.h"

struct ctx {
  uv_loop_t loop;
  daw_t *d;
  struct bench_daw_result r;
};

static void stats(double *v, int n, double *med, double *p95) {
  bench_sort(v, n);
  *med = v[n / 2];
  *p95 = v[(int)(n * 0.95) < n ? (int)(n * 0.95) : n - 1];
}

static double now_ms(uv_loop_t *l) {
  uv_update_time(l);
  return (double)uv_hrtime() / 1e6;
}

static json_t *notes(int n) {
  json_t *a = json_array();
  for (int i = 0; i < n; i++)
    json_array_append_new(a, json_pack("{s:i,s:f,s:f,s:i}", "n", 36 + i % 24, "s",
                                       (double)(i / 2) * 0.25 + (i % 2) * 0.125, "d", 0.125, "v", 1 + i % 127));
  return a;
}

static void closed(void *data) { *(int *)data = 1; }

/* One call run to its result: daw_call(tool, args) or, with tool NULL, a raw companion "ping". Its milliseconds;
 * the bench ends (exit 1) when it fails. Steals args. */
static double timed(struct ctx *x, const char *tool, json_t *args) {
  x->r.done = 0;
  double t0 = now_ms(&x->loop);
  if (tool)
    daw_call(x->d, tool, args, bench_daw_on_result, &x->r);
  else
    companion_call(daw_companion(x->d), "ping", NULL, NULL, bench_daw_on_result, &x->r);
  json_decref(args);
  if (bench_daw_wait(&x->loop, &x->r)) {
    fprintf(stderr, "%s: %s\n", tool ? tool : "ping", x->r.msg);
    exit(1);
  }
  return now_ms(&x->loop) - t0;
}

static void report(const char *dialect, const char *what, double *v, int runs) {
  double med, p95;
  stats(v, runs, &med, &p95);
  printf("%-7s %-34s %10.2f %10.2f\n", dialect, what, med, p95);
}

/* the link to the embedded mock DAW with its companion, started (sync + ping + state); exits on failure */
static mock_embed_t *open_embedded(struct ctx *x, const char *dialect) {
  memset(x, 0, sizeof *x);
  uv_loop_init(&x->loop);
  struct daw_config cfg = {
      .dialect = dialect, .listen_port = -1, .confirm_timeout_ms = -1, .retries = -1, .log = {.level = LOG_ERROR}};
  struct mock_embed_config mc = {.tracks = -1, .companion = 1, .quiet = 1};
  mock_embed_t *mock = NULL;
  char err[512];
  if (mock_embed_open(&x->loop, &cfg, &mc, &x->d, &mock, err, sizeof err)) {
    fprintf(stderr, "mock_embed_open: %s\n", err);
    exit(1);
  }
  double t0 = now_ms(&x->loop);
  daw_start(x->d, bench_daw_on_result, &x->r);
  if (bench_daw_wait(&x->loop, &x->r) || !daw_has_companion(x->d)) {
    fprintf(stderr, "start: %s\n", x->r.msg);
    exit(1);
  }
  printf("%-7s %-34s %10.2f %10s\n", dialect, "start (sync + ping + state)", now_ms(&x->loop) - t0, "-");
  return mock;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 40;
  if (runs < 3) runs = 3;
  const char *dialects[2] = {"reaper", "ardour"};
  printf("companion round trips in one process, embedded mock DAW + companion, %d runs each\n", runs);
  printf("%-7s %-34s %10s %10s\n", "dialect", "what", "median ms", "p95 ms");
  for (int di = 0; di < 2; di++) {
    struct ctx x;
    mock_embed_t *mock = open_embedded(&x, dialects[di]);
    double *v = calloc((size_t)runs, sizeof *v);
    for (int i = 0; i < runs; i++) v[i] = timed(&x, NULL, NULL);
    report(dialects[di], "companion command (raw)", v, runs);
    for (int i = 0; i < runs; i++)
      v[i] = timed(&x, "create_midi_clip",
                   json_pack("{s:s,s:f,s:f,s:o}", "track_id", "Bass", "start_time", 100.0 + 8.0 * i, "duration", 4.0,
                             "notes", notes(16)));
    report(dialects[di], "create_midi_clip 16 notes confirmed", v, runs);
    /* 10,000 notes, one tool call */
    double ms = timed(&x, "create_midi_clip",
                      json_pack("{s:s,s:f,s:f,s:o}", "track_id", "Drums", "start_time", 2000.0, "duration", 2600.0,
                                "notes", notes(10000)));
    json_t *cmds = json_object_get(x.r.result, "companion_commands"); /* absent: the call took one command */
    printf("%-7s %-34s %10.2f %10s  (%lld companion commands + read-back)\n", dialects[di],
           "10,000 notes written + read back", ms, "-", cmds ? (long long)json_integer_value(cmds) : 1LL);
    /* native command with the companion loaded */
    for (int i = 0; i < runs; i++)
      v[i] = timed(&x, "set_track", json_pack("{s:s,s:f}", "track_id", "Drums", "volume_db", -1.0 - (i % 10)));
    report(dialects[di], "set_track (native) confirmed", v, runs);
    free(v);
    int c = 0;
    daw_close(x.d, closed, &c);
    mock_embed_close(mock, closed, &c);
    uv_run(&x.loop, UV_RUN_DEFAULT);
    json_decref(x.r.result);
    uv_loop_close(&x.loop);
  }
  return 0;
}
