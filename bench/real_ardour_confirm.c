/* real_ardour_confirm.c: a native tool call -> the DAW's own confirmation, in-process, against a running DAW
 * (issue 11: "native command confirmed in <= 2 ms in-process").
 *
 *   bench_real_ardour_confirm --port P [--label L] [-n CALLS] [-w WARMUP] [--track ID]
 *
 * One process holds the link, as the daemon does: the bridge's sync (bridge/sync.h) with the Ardour map connects
 * to the DAW at 127.0.0.1:P, runs its full sync, then issues CALLS sync_call("set_track", {"track_id": ID,
 * "mute": true|false}) back to back (each from the previous one's callback; the value alternates so every call is
 * a real change), the clock running from sync_call() to the callback that reports "confirmed" by the DAW's fresh
 * feedback. Run by bench/real_ardour.py against real Ardour and against the mock DAW (its Ardour dialect), so the
 * two columns come from the same code. Prints "name value unit" lines:
 *   L.native_sync_ms, L.native_confirm_inproc_median, _p95, _max, L.native_confirm_inproc_resent,
 *   L.native_confirm_inproc_failed
 * Exit 0 when every call was confirmed, 1 otherwise (the figures are printed anyway), 2 on bad usage or no DAW.
 * Every wait is bounded by the sync's own deadlines (the map's confirmation timeout and resends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_sync.h"
#include "bench_util.h"
#include "db_test_util.h"
#include "oscmap.h"
#include "session.h"
#include "sync.h"

struct run {
  uv_loop_t loop;
  sync_t *sync;
  json_t *args[2];
  int total, warm, i, done, failed, resent, nlat, start_status;
  double t0, *lat;
  char err[512];
};

static void on_started(int status, const json_t *result, const char *message, void *data) {
  struct run *r = data;
  (void)result;
  r->done = 1;
  r->start_status = status;
  if (status) snprintf(r->err, sizeof r->err, "%s", message ? message : sync_strerror(status));
}

static void start_call(struct run *r);

static void on_called(int status, const json_t *result, const char *message, void *data) {
  struct run *r = data;
  double t = db_test_now_ms() - r->t0;
  const char *st = json_string_value(json_object_get(result, "status"));
  if (status || !st || strcmp(st, "confirmed")) {
    if (!r->failed)
      snprintf(r->err, sizeof r->err, "call %d: %s %s", r->i, st ? st : sync_strerror(status), message ? message : "");
    r->failed++;
  } else {
    if (json_integer_value(json_object_get(result, "attempts")) > 1) r->resent++;
    if (r->i >= r->warm) r->lat[r->nlat++] = t;
  }
  if (++r->i < r->total)
    start_call(r);
  else
    r->done = 1;
}

static void start_call(struct run *r) {
  r->t0 = db_test_now_ms();
  int rc = sync_call(r->sync, "set_track", r->args[r->i % 2], on_called, r);
  if (rc) {
    snprintf(r->err, sizeof r->err, "sync_call: %s", sync_strerror(rc));
    r->failed++;
    r->done = 1;
  }
}

static void on_closed(void *data) { (void)data; }

/* one "name value unit" line, the format of bench/real_ardour.py */
static void emit(const char *label, const char *name, double value, const char *unit) {
  char full[128];
  snprintf(full, sizeof full, "%s.%s", label, name);
  printf("%-40s %10.3f %s\n", full, value, unit);
  fflush(stdout);
}

static void usage(void) {
  printf("usage: bench_real_ardour_confirm --port P [--label L] [-n CALLS] [-w WARMUP] [--track ID]\n"
         "  set_track mute on/off through the bridge's sync (Ardour map) until the DAW's own feedback confirms it,\n"
         "  in-process; median/p95/max in ms. Defaults: label ardour, 200 calls, 20 warm-up, track t1.\n");
}

int main(int argc, char **argv) {
  int port = 0, n = 200, warm = 20;
  const char *label = "ardour", *track = "t1";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc)
      port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--label") && i + 1 < argc)
      label = argv[++i];
    else if (!strcmp(argv[i], "-n") && i + 1 < argc)
      n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-w") && i + 1 < argc)
      warm = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--track") && i + 1 < argc)
      track = argv[++i];
    else {
      usage();
      return strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (port < 1 || port > 65535 || n < 1 || n > 1000000 || warm < 0 || warm > 1000000) {
    usage();
    return 2;
  }
  char path[1024], err[512];
  oscmap_t *map = NULL;
  if (oscmap_find("ardour", path, sizeof path) || oscmap_load(path, &map, err, sizeof err)) {
    fprintf(stderr, "bench_real_ardour_confirm: the Ardour map: %s\n", map ? err : "not found");
    return 2;
  }
  session_t *ses = session_new("ardour");
  static struct run r;
  uv_loop_init(&r.loop);
  struct sync_config sc = bench_sync_config(port, 0);
  int rc = 0;
  if (sync_new(&r.loop, map, ses, &sc, &r.sync, err, sizeof err)) {
    fprintf(stderr, "bench_real_ardour_confirm: %s\n", err);
    rc = 2;
    goto out;
  }
  double t = db_test_now_ms();
  sync_start(r.sync, on_started, &r);
  while (!r.done) uv_run(&r.loop, UV_RUN_ONCE);
  if (r.start_status) {
    fprintf(stderr, "bench_real_ardour_confirm: no DAW at 127.0.0.1:%d: %s\n", port, r.err);
    rc = 2;
    goto out;
  }
  emit(label, "native_sync_ms", db_test_now_ms() - t, "ms (full sync of the session, in-process)");
  r.args[0] = json_pack("{s:s, s:b}", "track_id", track, "mute", 1);
  r.args[1] = json_pack("{s:s, s:b}", "track_id", track, "mute", 0);
  r.lat = calloc((size_t)n, sizeof *r.lat);
  r.total = n + warm;
  r.warm = warm;
  r.done = 0;
  if (!r.args[0] || !r.args[1] || !r.lat) {
    fprintf(stderr, "bench_real_ardour_confirm: out of memory\n");
    rc = 2;
    goto out;
  }
  start_call(&r);
  while (!r.done) uv_run(&r.loop, UV_RUN_ONCE);
  if (r.nlat > 0) {
    char unit[128];
    snprintf(unit, sizeof unit, "ms (set_track mute -> the DAW's own feedback, %d calls)", r.nlat);
    emit(label, "native_confirm_inproc_median", bench_median(r.lat, r.nlat), unit);
    emit(label, "native_confirm_inproc_p95", bench_pct(r.lat, r.nlat, 0.95), "ms");
    emit(label, "native_confirm_inproc_max", r.lat[r.nlat - 1], "ms");
  }
  emit(label, "native_confirm_inproc_resent", r.resent, "calls (confirmed after a resend)");
  emit(label, "native_confirm_inproc_failed", r.failed, "calls (not confirmed)");
  if (r.failed) {
    fprintf(stderr, "bench_real_ardour_confirm: %d of %d calls not confirmed; first: %s\n", r.failed, r.total, r.err);
    rc = 1;
  }
out:
  if (r.sync) sync_close(r.sync, on_closed, NULL);
  uv_run(&r.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&r.loop) != 0) {
    fprintf(stderr, "bench_real_ardour_confirm: the loop did not close cleanly\n");
    rc = rc ? rc : 1;
  }
  json_decref(r.args[0]);
  json_decref(r.args[1]);
  free(r.lat);
  session_free(ses);
  oscmap_free(map);
  return rc;
}
