/* wire_fixture: see wire_fixture.h */
#include "wire_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "osc_client.h"
#include "db_test_util.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void wire_log(int level, const char *module, const char *text, void *data) {
  struct wire *w = data;
  size_t n = strlen(w->log);
  if (n > sizeof w->log - 600) {
    memmove(w->log, w->log + n / 2, n - n / 2 + 1);
    n = strlen(w->log);
  }
  snprintf(w->log + n, sizeof w->log - n, "[%d] %s: %s\n", level, module, text);
  if (level == LOG_ERROR && !strncmp(text, "internal:", 9)) {
    /* a bug the bridge noticed in itself (sync: an unlisted state transition): wire_close fails the test */
    w->internal_errors++;
    fprintf(stderr, "wire: %s: %s\n", module, text);
  }
  if (getenv("WIRE_VERBOSE")) fprintf(stderr, "[%d] %s: %s\n", level, module, text);
}

void wire_on_result(int status, const json_t *result, const char *message, void *data) {
  struct wire *w = data;
  w->done = 1;
  w->status = status;
  json_decref(w->result);
  w->result = result ? json_deep_copy(result) : NULL;
  snprintf(w->message, sizeof w->message, "%s", message ? message : "");
}

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

int wire_run_until(struct wire *w, int (*pred)(struct wire *w), int timeout_ms) {
  uv_timer_t t;
  int expired = 0;
  uv_timer_init(&w->loop, &t);
  t.data = &expired;
  uv_timer_start(&t, on_deadline, (uint64_t)timeout_ms, 0);
  while (!pred(w) && !expired) uv_run(&w->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&w->loop, UV_RUN_NOWAIT);
  return pred(w);
}

static int is_done(struct wire *w) { return w->done; }
static int never(struct wire *w) {
  (void)w;
  return 0;
}

void wire_run_for(struct wire *w, int ms) { wire_run_until(w, never, ms); }

int wire_wait(struct wire *w, int timeout_ms) {
  if (!wire_run_until(w, is_done, timeout_ms)) {
    snprintf(w->message, sizeof w->message, "no result within %d ms", timeout_ms);
    return WIRE_ENORESULT;
  }
  return w->status;
}

static int wait_result(struct wire *w) { return wire_wait(w, 60000); }

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  struct wire *w = p->data;
  w->proc_running = 0;
  w->proc_exit = (int)status ? (int)status : sig;
  uv_close((uv_handle_t *)p, NULL);
}

static int spawn_mock(struct wire *w, const struct wire_opts *o, int feedback_port) {
  char exe[1024], port[16], fport[16], tracks[16], drop[32], seed[16];
  const char *bd = getenv("DAWBRIDGE_BINARY_DIR");
  snprintf(exe, sizeof exe, "%s/mock-daw", bd ? bd : ".");
  w->daw_port = db_test_free_udp_port();
  snprintf(port, sizeof port, "%d", w->daw_port);
  snprintf(fport, sizeof fport, "%d", feedback_port);
  snprintf(tracks, sizeof tracks, "%d", o->tracks);
  snprintf(drop, sizeof drop, "%g", o->drop);
  snprintf(seed, sizeof seed, "%u", o->seed);
  char *args[24];
  int n = 0;
  args[n++] = exe;
  args[n++] = "--dialect";
  args[n++] = (char *)o->dialect;
  args[n++] = "--port";
  args[n++] = port;
  args[n++] = "--feedback-port";
  args[n++] = fport;
  if (o->tracks >= 0) {
    args[n++] = "--tracks";
    args[n++] = tracks;
  }
  args[n++] = "--drop";
  args[n++] = drop;
  args[n++] = "--seed";
  args[n++] = seed;
  if (o->spool_dir) {
    args[n++] = "--spool";
    args[n++] = (char *)o->spool_dir;
  }
  if (!getenv("WIRE_VERBOSE")) args[n++] = "--quiet";
  args[n] = NULL;
  uv_stdio_container_t stdio[3] = {
      {.flags = UV_IGNORE}, {.flags = UV_INHERIT_FD, .data.fd = 2}, {.flags = UV_INHERIT_FD, .data.fd = 2}};
  uv_process_options_t po = {.file = exe, .args = args, .exit_cb = on_exit_cb, .stdio = stdio, .stdio_count = 3};
  w->proc.data = w;
  int rc = uv_spawn(&w->loop, &w->proc, &po);
  if (rc) {
    fprintf(stderr, "cannot start %s: %s\n", exe, uv_strerror(rc));
    return -1;
  }
  w->proc_running = 1;
  /* ready when it answers /mock/ping */
  osc_client_new(&w->loop, 0, &w->insp);
  for (int i = 0; i < 100; i++) {
    osc_client_send(w->insp, w->daw_port, "/mock/ping", "");
    if (osc_client_wait_path(w->insp, "/mock/pong", 100)) return 0;
  }
  fprintf(stderr, "mock-daw did not answer /mock/ping\n");
  return -1;
}

int wire_open(struct wire *w, const struct wire_opts *o) {
  memset(w, 0, sizeof *w);
  w->dialect = o->dialect;
  uv_loop_init(&w->loop);
  char path[1024], err[512];
  oscmap_find(o->dialect, path, sizeof path);
  if (oscmap_load(path, &w->map, err, sizeof err)) {
    fprintf(stderr, "map: %s\n", err);
    return -1;
  }
  w->ses = session_new(o->dialect);
  struct sync_config sc = {.daw_port = 9,
                           .listen_port = 0,
                           .refresh_interval_ms = 0,
                           .confirm_timeout_ms = o->confirm_ms,
                           .retries = o->retries,
                           .bank_size = o->bank_size,
                           .silence_ms = o->silence_ms,
                           .probe_ms = o->probe_ms,
                           .log = {.fn = wire_log, .data = w, .level = LOG_DEBUG}};
  if (sync_new(&w->loop, w->map, w->ses, &sc, &w->sync, err, sizeof err)) {
    fprintf(stderr, "sync: %s\n", err);
    return -1;
  }
  if (o->external_port > 0) {
    w->daw_port = o->external_port;
    osc_client_new(&w->loop, 0, &w->insp);
  } else if (o->process) {
    if (spawn_mock(w, o, sync_listen_port(w->sync))) return -1;
  } else {
    struct mock_config mc = {.dialect = o->dialect,
                             .port = 0,
                             .feedback_port = sync_listen_port(w->sync),
                             .tracks = o->tracks,
                             .drop = o->drop,
                             .seed = o->seed,
                             .spool_dir = o->spool_dir,
                             .quiet = !getenv("WIRE_VERBOSE")};
    if (mock_new(&w->loop, &mc, &w->mock, err, sizeof err)) {
      fprintf(stderr, "mock: %s\n", err);
      return -1;
    }
    w->daw_port = mock_port(w->mock);
    osc_client_new(&w->loop, 0, &w->insp);
  }
  sync_set_daw(w->sync, "127.0.0.1", w->daw_port);
  w->done = 0;
  sync_start(w->sync, wire_on_result, w);
  return wait_result(w);
}

int wire_call(struct wire *w, const char *tool, const char *json_args) {
  json_error_t je;
  json_t *args = json_loads(json_args, 0, &je);
  if (!args) fail_msg("bad test JSON %s: %s", json_args, je.text);
  w->done = 0;
  int rc = w->daw ? daw_call(w->daw, tool, args, wire_on_result, w) : sync_call(w->sync, tool, args, wire_on_result, w);
  json_decref(args);
  if (rc) return rc;
  rc = wait_result(w);
  if (rc && getenv("WIRE_VERBOSE")) fprintf(stderr, "%s %s -> %d %s\n", tool, json_args, rc, w->message);
  return rc;
}

int wire_callf(struct wire *w, const char *tool, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof buf) fail_msg("%s: test arguments longer than %zu bytes", tool, sizeof buf);
  return wire_call(w, tool, buf);
}

int wire_refresh(struct wire *w) {
  w->done = 0;
  int rc = w->daw ? daw_refresh(w->daw, wire_on_result, w) : sync_refresh(w->sync, wire_on_result, w);
  if (rc) return rc;
  return wait_result(w);
}

static daw_t *facade(struct wire *w) {
  if (!w->daw) fail_msg("the wire fixture has no daw_t (set w->daw)");
  return w->daw;
}

int wire_offers(struct wire *w, const char *tool) {
  json_t *caps = daw_capabilities(facade(w));
  int has = 0;
  size_t i;
  json_t *v;
  json_array_foreach(caps, i, v) has |= !strcmp(json_string_value(v), tool);
  json_decref(caps);
  return has;
}

int wire_begin_request(struct wire *w, const char *name) {
  w->done = 0;
  int rc = daw_begin_request(facade(w), name, wire_on_result, w);
  return rc ? rc : wait_result(w);
}

int wire_end_request(struct wire *w) {
  w->done = 0;
  int rc = daw_end_request(facade(w), wire_on_result, w);
  return rc ? rc : wait_result(w);
}

json_t *wire_daw_state(struct wire *w) {
  if (w->mock) return mock_state(w->mock);
  if (!w->proc_running) return NULL; /* a real DAW: no inspection address */
  /* a mock process: ask it to dump its state to a file */
  char path[256];
  snprintf(path, sizeof path, "/tmp/dawbridge-wire-%d-%d.json", (int)getpid(), w->daw_port);
  osc_client_clear(w->insp);
  osc_client_send(w->insp, w->daw_port, "/mock/dump", "s", path);
  if (!osc_client_wait_path(w->insp, "/mock/dumped", 5000)) return NULL;
  json_t *j = json_load_file(path, 0, NULL);
  unlink(path);
  return j;
}

int wire_restart_daw(struct wire *w, int keep_state, int down_ms) {
  if (w->mock) return mock_restart(w->mock, keep_state, down_ms);
  return osc_client_send(w->insp, w->daw_port, "/mock/restart", "ii", keep_state, down_ms);
}

int wire_daw_fault(struct wire *w, double drop, int delay_ms) {
  osc_client_clear(w->insp);
  osc_client_send(w->insp, w->daw_port, "/mock/fault", "fi", drop, delay_ms);
  return osc_client_wait_path(w->insp, "/mock/fault", 3000) ? 0 : -1;
}
json_t *wire_mirror(struct wire *w) { return session_to_json(w->ses); }

static int close_pending;
static void on_closed(void *data) {
  (void)data;
  close_pending--;
}

int wire_close(struct wire *w) {
  close_pending = 0;
  if (w->sync) {
    close_pending++;
    sync_close(w->sync, on_closed, NULL);
  }
  if (w->mock) {
    close_pending++;
    mock_close(w->mock, on_closed, NULL);
  }
  if (w->insp) osc_client_close(w->insp, NULL, NULL);
  if (w->proc_running) {
    uv_process_kill(&w->proc, SIGTERM);
    while (w->proc_running) uv_run(&w->loop, UV_RUN_ONCE);
  }
  uv_run(&w->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&w->loop);
  session_free(w->ses);
  oscmap_free(w->map);
  json_decref(w->result);
  w->result = NULL;
  if (w->internal_errors) fprintf(stderr, "wire: %d internal error(s) logged (above)\n", w->internal_errors);
  return rc || close_pending || w->internal_errors;
}

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

int wire_compare(struct wire *w, char *diff, size_t difflen) {
  json_t *d = wire_daw_state(w), *m = wire_mirror(w);
  json_t *dt = json_object_get(d, "tracks"), *mt = json_object_get(m, "tracks");
  int rc = 0;
  if (json_array_size(dt) != json_array_size(mt)) {
    snprintf(diff, difflen, "track count: DAW %zu, mirror %zu", json_array_size(dt), json_array_size(mt));
    rc = 1;
  }
  for (size_t i = 0; !rc && i < json_array_size(dt); i++) {
    json_t *a = json_array_get(dt, i), *b = json_array_get(mt, i);
    const char *an = json_string_value(json_object_get(a, "name")), *bn = json_string_value(json_object_get(b, "name"));
    if (!an || !bn || strcmp(an, bn)) {
      snprintf(diff, difflen, "track %zu name: DAW \"%s\", mirror \"%s\"", i + 1, an ? an : "?", bn ? bn : "?");
      rc = 1;
      break;
    }
    const char *nums[] = {"volume_db", "pan"};
    for (int k = 0; k < 2; k++) {
      double x = json_number_value(json_object_get(a, nums[k])), y = json_number_value(json_object_get(b, nums[k]));
      if (!near(fmax(x, -150), fmax(y, -150), 0.02)) {
        snprintf(diff, difflen, "track %zu %s: DAW %g, mirror %g", i + 1, nums[k], x, y);
        rc = 1;
      }
    }
    const char *bools[] = {"mute", "solo", "rec_arm"};
    for (int k = 0; k < 3 && !rc; k++) {
      if (json_is_true(json_object_get(a, bools[k])) != json_is_true(json_object_get(b, bools[k]))) {
        snprintf(diff, difflen, "track %zu %s: DAW %d, mirror %d", i + 1, bools[k],
                 json_is_true(json_object_get(a, bools[k])), json_is_true(json_object_get(b, bools[k])));
        rc = 1;
      }
    }
    /* the mirror lists the whole chain; a DAW state may name the instrument apart from its effects */
    json_t *af = json_deep_copy(json_object_get(a, "fx")), *bf = json_object_get(b, "fx");
    const char *ins = json_string_value(json_object_get(a, "instrument"));
    const char *f0 = json_string_value(json_object_get(json_array_get(af, 0), "name"));
    if (ins && (!f0 || strcmp(f0, ins))) json_array_insert_new(af, 0, json_pack("{ss}", "name", ins));
    if (!rc && json_array_size(af) != json_array_size(bf)) {
      snprintf(diff, difflen, "track %zu fx count: DAW %zu, mirror %zu", i + 1, json_array_size(af),
               json_array_size(bf));
      rc = 1;
    }
    for (size_t k = 0; !rc && k < json_array_size(af); k++) {
      const char *x = json_string_value(json_object_get(json_array_get(af, k), "name"));
      const char *y = json_string_value(json_object_get(json_array_get(bf, k), "name"));
      /* DAWs strip type prefixes ("VST: ") in OSC; compare on the mirror's form */
      if (!x || !y || !strstr(x, y)) {
        snprintf(diff, difflen, "track %zu fx %zu: DAW \"%s\", mirror \"%s\"", i + 1, k + 1, x ? x : "?", y ? y : "?");
        rc = 1;
      }
    }
    json_decref(af);
  }
  json_decref(d);
  json_decref(m);
  return rc;
}
