/* The live session (app/live.c) through its control socket (app/ctl.c, app/ctl_client.c): real Unix sockets, a
 * mock DAW (embedded, or the mock-daw process for the restart test), a mock OpenAI-compatible model server on
 * 127.0.0.1 that records every prompt. Every test ends with uv_loop_close() == 0. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_client.h"
#include "live.h"
#include "mock_llm_server.h"
#include "db_test_util.h"

struct client {
  ctl_client_t *cl;
  int connected, connect_status, closed;
  json_t *msgs; /* every message, with "_seq" added */
  struct fx *f;
};

struct fx {
  uv_loop_t loop;
  char dir[256], sock[512], data[300];
  mock_llm_t *mllm;
  live_t *live;
  ctl_t *ctl;
  int started, start_status;
  int seq;
  json_t *events; /* every live event (direct subscription), with "_seq" */
  uv_timer_t guard;
  /* mock-daw process */
  uv_process_t proc;
  int proc_running;
  int *child_pid; /* the test's state (child_setup): the running mock-daw's pid for child_teardown, else 0 */
  int daw_port, listen_port;
  int live_closed, ctl_closed, llm_closed;
  /* a DAW that never answers: a UDP socket at daw_port that reads and drops everything */
  uv_udp_t silent;
  int silent_open;
};

static void on_guard(uv_timer_t *t) { (void)t; }

static int run_until(struct fx *f, int (*pred)(struct fx *, void *), void *arg, int ms) {
  uint64_t end = uv_now(&f->loop) + (uint64_t)ms;
  uv_timer_start(&f->guard, on_guard, 20, 20);
  int ok;
  while (!(ok = pred(f, arg)) && uv_now(&f->loop) < end) uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  return ok;
}

static void on_live_event(const json_t *ev, void *data) {
  struct fx *f = data;
  json_t *c = json_deep_copy(ev);
  json_object_set_new(c, "_seq", json_integer(++f->seq));
  json_array_append_new(f->events, c);
}

static void on_live_started(int status, const char *message, void *data) {
  struct fx *f = data;
  (void)message;
  f->started = 1;
  f->start_status = status;
}

static int p_started(struct fx *f, void *a) {
  (void)a;
  return f->started;
}

struct fx_opts {
  int process_daw;      /* the mock-daw executable instead of the embedded mock */
  int delay_ms;         /* process_daw: mock-daw --delay-ms (every reply late) */
  int silent_daw;       /* no DAW: a socket at the DAW's port that never answers */
  int no_wait;          /* return right after live_start (the first sync still running) */
  const char *executor; /* "direct" default */
  int no_llm;
  int *child_pid; /* process_daw: *state of a test registered with child_setup/child_teardown */
};

static void on_proc_exit(uv_process_t *p, int64_t status, int sig) {
  struct fx *f = p->data;
  (void)status, (void)sig;
  f->proc_running = 0;
  if (f->child_pid) *f->child_pid = 0;
  uv_close((uv_handle_t *)p, NULL);
}

static void spawn_mock_delayed(struct fx *f, int delay_ms) {
  const char *bin = getenv("DAWBRIDGE_BINARY_DIR");
  char exe[600], port[16], fport[16], delay[16];
  snprintf(exe, sizeof exe, "%s/mock-daw", bin ? bin : ".");
  snprintf(port, sizeof port, "%d", f->daw_port);
  snprintf(fport, sizeof fport, "%d", f->listen_port);
  snprintf(delay, sizeof delay, "%d", delay_ms);
  char *args[] = {exe,   "--dialect",  "reaper", "--port",  port, "--feedback-port",
                  fport, "--delay-ms", delay,    "--quiet", NULL};
  /* no inherited output: a mock left behind by a failed assertion must not hold ctest's pipe open */
  uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
  uv_process_options_t po = {.file = exe, .args = args, .exit_cb = on_proc_exit, .stdio = stdio, .stdio_count = 3};
  f->proc.data = f;
  int rc = uv_spawn(&f->loop, &f->proc, &po);
  if (rc) fail_msg("cannot start %s: %s", exe, uv_strerror(rc));
  f->proc_running = 1;
  if (f->child_pid) *f->child_pid = f->proc.pid;
}

static void spawn_mock(struct fx *f) { spawn_mock_delayed(f, 0); }

/* A test that starts the mock-daw process keeps its pid in *state: a failed assertion (cmocka leaves the test
 * function at once, fx_close never runs) must not leave the mock running; the teardown kills it by that pid. */
static int child_setup(void **state) {
  *state = calloc(1, sizeof(int));
  return *state ? 0 : -1;
}

static int child_teardown(void **state) {
  int *pid = *state;
  if (pid && *pid > 0) {
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
  }
  free(pid);
  return 0;
}

/* The DAW's port is taken (by the mock-daw process, or the silent socket): binding it again fails. */
static int p_port_taken(struct fx *f, void *a) {
  (void)a;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->daw_port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int taken = bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno == EADDRINUSE;
  close(fd);
  return taken;
}

static void silent_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b) {
  static char buf[65536];
  (void)h, (void)sug;
  *b = uv_buf_init(buf, sizeof buf);
}
static void silent_recv(uv_udp_t *u, ssize_t n, const uv_buf_t *b, const struct sockaddr *a, unsigned fl) {
  (void)u, (void)n, (void)b, (void)a, (void)fl; /* heard, never answered */
}

static int p_proc_gone(struct fx *f, void *a) {
  (void)a;
  return !f->proc_running;
}

static void kill_mock(struct fx *f) {
  if (!f->proc_running) return;
  uv_process_kill(&f->proc, SIGKILL);
  assert_true(run_until(f, p_proc_gone, NULL, 10000));
}

static int p_connected_event(struct fx *f, void *a) {
  (void)a;
  size_t i;
  json_t *e;
  json_array_foreach(f->events, i, e) {
    const char *st = json_string_value(json_object_get(e, "state"));
    if (st && !strcmp(st, "connected")) return 1;
  }
  return 0;
}

static void fx_open(struct fx *f, const struct fx_opts *o) {
  memset(f, 0, sizeof *f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  uv_timer_init(&f->loop, &f->guard);
  snprintf(f->dir, sizeof f->dir, "/tmp/dawbridge-test-live-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->data, sizeof f->data, "%s/data", f->dir);
  mkdir(f->data, 0700);
  char rt[300];
  snprintf(rt, sizeof rt, "%s/run", f->dir);
  mkdir(rt, 0700);
  setenv("XDG_RUNTIME_DIR", rt, 1);
  setenv("XDG_CONFIG_HOME", f->dir, 1); /* no user config file */
  unsetenv("DAWBRIDGE_LLM");
  unsetenv("DAWBRIDGE_MODEL");
  unsetenv("DAWBRIDGE_LLM_URL");
  f->events = json_array();
  char err[1024];
  struct live_config lc;
  memset(&lc, 0, sizeof lc);
  lc.daw.dialect = "reaper";
  lc.daw.listen_port = -1;
  lc.daw.confirm_timeout_ms = -1;
  lc.daw.retries = -1;
  lc.daw.refresh_interval_ms = 0;
  lc.mock.tracks = -1;
  f->child_pid = o->child_pid;
  if (o->process_daw) {
    f->daw_port = db_test_free_udp_port();
    f->listen_port = db_test_free_udp_port();
    lc.daw.port = f->daw_port;
    lc.daw.listen_port = f->listen_port;
    lc.daw.host = "127.0.0.1";
    lc.daw.spool_dir = "";
    /* a slow DAW (delay_ms) keeps the first sync running; its replies must not also race the confirm window */
    lc.daw.confirm_timeout_ms = o->delay_ms > 0 ? 2000 : 300;
    lc.daw.retries = 1;
    spawn_mock_delayed(f, o->delay_ms);
    if (o->no_wait) assert_true(run_until(f, p_port_taken, NULL, 10000)); /* listening before we start */
  } else if (o->silent_daw) {
    f->daw_port = db_test_free_udp_port();
    lc.daw.port = f->daw_port;
    lc.daw.host = "127.0.0.1";
    lc.daw.spool_dir = "";
    lc.daw.confirm_timeout_ms = 200;
    lc.daw.retries = 1;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", f->daw_port, &sa);
    assert_int_equal(uv_udp_init(&f->loop, &f->silent), 0);
    f->silent_open = 1;
    assert_int_equal(uv_udp_bind(&f->silent, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_udp_recv_start(&f->silent, silent_alloc, silent_recv), 0);
  } else {
    lc.embedded_mock = 1; /* app/mock_embed.h */
    lc.mock.companion = 1;
    lc.mock.quiet = 1;
  }
  lc.daw.log.level = -1;
  char url[64];
  if (!o->no_llm) {
    f->mllm = mock_llm_new(&f->loop, 0, err, sizeof err);
    if (!f->mllm) fail_msg("mock_llm_new: %s", err);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", mock_llm_port(f->mllm));
    lc.llm = "openai";
    lc.llm_url = url;
    lc.model = "mock-model";
  } else {
    lc.llm = "script";
    lc.transcript = "/nonexistent-transcript.json";
  }
  lc.executor = o->executor ? o->executor : "direct";
  lc.data_dir = f->data;
  lc.composition = "test";
  lc.reconnect_ms = 200;
  lc.log.level = getenv("LIVE_VERBOSE") ? LOG_DEBUG : -1;
  int rc = live_new(&f->loop, &lc, &f->live, err, sizeof err);
  if (rc) fail_msg("live_new: %s", err);
  assert_true(live_subscribe(f->live, on_live_event, f) > 0);
  assert_int_equal(ctl_socket_path("reaper", f->sock, sizeof f->sock, 1, err, sizeof err), 0);
  assert_non_null(strstr(f->sock, rt));
  rc = ctl_new(&f->loop, f->live, f->sock, NULL, &f->ctl, err, sizeof err);
  if (rc) fail_msg("ctl_new: %s", err);
  struct stat st;
  assert_int_equal(stat(f->sock, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(live_start(f->live, on_live_started, f), 0);
  if (o->no_wait) return;
  assert_true(run_until(f, p_started, NULL, 30000));
  if (o->process_daw && f->start_status) {
    /* the mock process may not listen yet (slow sanitizer builds): the live session retries by itself */
    assert_true(run_until(f, p_connected_event, NULL, 30000));
    return;
  }
  assert_int_equal(f->start_status, 0);
}

static void on_ctl_closed(void *d) { ((struct fx *)d)->ctl_closed = 1; }
static void on_live_closed(void *d) { ((struct fx *)d)->live_closed = 1; }
static void on_llm_closed(void *d) { ((struct fx *)d)->llm_closed = 1; }
static int p_closed(struct fx *f, void *a) {
  (void)a;
  return f->ctl_closed && f->live_closed && f->llm_closed;
}

static void fx_close(struct fx *f) {
  ctl_close(f->ctl, on_ctl_closed, f);
  live_close(f->live, on_live_closed, f);
  if (f->mllm)
    mock_llm_close(f->mllm, on_llm_closed, f);
  else
    f->llm_closed = 1;
  assert_true(run_until(f, p_closed, NULL, 30000));
  struct stat st;
  assert_int_not_equal(stat(f->sock, &st), 0); /* the socket file is removed */
  kill_mock(f);
  if (f->silent_open) uv_close((uv_handle_t *)&f->silent, NULL);
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  json_decref(f->events);
  db_test_rm_rf(f->dir);
}

/* ---- clients ---- */

static void c_connect(ctl_client_t *cl, int status, void *data) {
  struct client *c = data;
  (void)cl;
  c->connected = 1;
  c->connect_status = status;
}

static void c_message(ctl_client_t *cl, const json_t *m, void *data) {
  struct client *c = data;
  (void)cl;
  json_t *x = json_deep_copy(m);
  json_object_set_new(x, "_seq", json_integer(++c->f->seq));
  json_array_append_new(c->msgs, x);
}

static void c_close(ctl_client_t *cl, const char *why, void *data) {
  struct client *c = data;
  (void)cl, (void)why;
  c->closed = 1;
}

static int p_connected(struct fx *f, void *a) {
  (void)f;
  return ((struct client *)a)->connected;
}

static void client_open(struct fx *f, struct client *c) {
  memset(c, 0, sizeof *c);
  c->f = f;
  c->msgs = json_array();
  struct ctl_client_callbacks cb = {c_connect, c_message, c_close, c};
  assert_int_equal(ctl_client_connect(&f->loop, f->sock, &cb, &c->cl), 0);
  assert_true(run_until(f, p_connected, c, 5000));
  assert_int_equal(c->connect_status, 0);
}

static int client_closed_flag;
static void on_client_freed(void *d) { *(int *)d = 1; }
static int p_flag(struct fx *f, void *a) {
  (void)f;
  return *(int *)a;
}

static void client_close(struct fx *f, struct client *c) {
  int done = 0;
  ctl_client_close(c->cl, on_client_freed, &done);
  assert_true(run_until(f, p_flag, &done, 5000));
  json_decref(c->msgs);
  (void)client_closed_flag;
}

static void client_send_text(struct client *c, const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (!j) fail_msg("bad test JSON %s: %s", text, je.text);
  assert_int_equal(ctl_client_send(c->cl, j), 0);
  json_decref(j);
}

struct want {
  struct client *c;
  const char *type;
  const char *id; /* reply id */
  int request;    /* event request id (0 = any) */
  const char *state;
};

static const json_t *find_msg(const json_t *msgs, const struct want *w) {
  size_t i;
  json_t *m;
  json_array_foreach(msgs, i, m) {
    const char *t = json_string_value(json_object_get(m, "type"));
    if (!t || strcmp(t, w->type)) continue;
    if (w->id &&
        (!json_string_value(json_object_get(m, "id")) || strcmp(w->id, json_string_value(json_object_get(m, "id")))))
      continue;
    if (w->request && json_integer_value(json_object_get(m, "request")) != w->request) continue;
    if (w->state && (!json_string_value(json_object_get(m, "state")) ||
                     strcmp(w->state, json_string_value(json_object_get(m, "state")))))
      continue;
    return m;
  }
  return NULL;
}

static int p_msg(struct fx *f, void *a) {
  struct want *w = a;
  return find_msg(w->c ? w->c->msgs : f->events, w) != NULL;
}

static const json_t *wait_msg(struct fx *f, struct want w, int ms) {
  if (!run_until(f, p_msg, &w, ms)) {
    char *d = json_dumps(w.c ? w.c->msgs : f->events, JSON_COMPACT);
    fail_msg("no %s (id %s, request %d) within %d ms; got: %.3000s", w.type, w.id ? w.id : "-", w.request, ms, d);
  }
  return find_msg(w.c ? w.c->msgs : f->events, &w);
}

/* Submits a request line and returns the request id from the reply. */
static int submit(struct fx *f, struct client *c, const char *id, const char *request_json) {
  char line[8192];
  snprintf(line, sizeof line, "{\"op\":\"submit\",\"id\":\"%s\",\"request\":%s}", id, request_json);
  client_send_text(c, line);
  const json_t *r = wait_msg(f, (struct want){.c = c, .type = "reply", .id = id}, 10000);
  if (!json_is_true(json_object_get(r, "ok")))
    fail_msg("submit %s refused: %s", id, json_string_value(json_object_get(r, "error")));
  return (int)json_integer_value(json_object_get(json_object_get(r, "result"), "request"));
}

static json_int_t seq_of(const json_t *m) { return json_integer_value(json_object_get(m, "_seq")); }

/* ---- a raw connection (bytes, not objects) ---- */

struct raw {
  uv_pipe_t pipe;
  uv_connect_t creq;
  char *buf;
  size_t len, cap;
  int connected, eof, closed;
};

static void raw_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b) {
  struct raw *r = h->data;
  (void)sug;
  if (r->cap - r->len < 4097) {
    r->cap = r->cap ? r->cap * 2 : 65536;
    r->buf = realloc(r->buf, r->cap);
  }
  *b = uv_buf_init(r->buf + r->len, (unsigned)(r->cap - r->len - 1));
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct raw *r = s->data;
  (void)b;
  if (n < 0) {
    r->eof = 1;
    uv_read_stop(s);
    return;
  }
  r->len += (size_t)n;
  r->buf[r->len] = 0;
}

static void raw_connected(uv_connect_t *req, int status) {
  struct raw *r = req->data;
  r->connected = status ? -1 : 1;
  if (!status) uv_read_start((uv_stream_t *)&r->pipe, raw_alloc, raw_read);
}

static int p_raw_connected(struct fx *f, void *a) {
  (void)f;
  return ((struct raw *)a)->connected != 0;
}

static void raw_open(struct fx *f, struct raw *r) {
  memset(r, 0, sizeof *r);
  uv_pipe_init(&f->loop, &r->pipe, 0);
  r->pipe.data = r;
  r->creq.data = r;
  uv_pipe_connect(&r->creq, &r->pipe, f->sock, raw_connected);
  assert_true(run_until(f, p_raw_connected, r, 5000));
  assert_int_equal(r->connected, 1);
}

struct rawwr {
  uv_write_t req;
  char data[];
};
static void raw_written(uv_write_t *w, int status) {
  (void)status; /* EPIPE once the daemon closed an oversized line: expected */
  free(w);
}

static void raw_write(struct raw *r, const char *data, size_t n) {
  struct rawwr *w = malloc(sizeof *w + n);
  memcpy(w->data, data, n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  assert_int_equal(uv_write(&w->req, (uv_stream_t *)&r->pipe, &b, 1, raw_written), 0);
}

struct raw_want {
  struct raw *r;
  const char *text;
};
static int p_raw_has(struct fx *f, void *a) {
  (void)f;
  struct raw_want *w = a;
  return w->r->buf && strstr(w->r->buf, w->text);
}
static int p_raw_eof(struct fx *f, void *a) {
  (void)f;
  return ((struct raw *)a)->eof;
}
static void raw_closed(uv_handle_t *h) { ((struct raw *)h->data)->closed = 1; }
static int p_raw_closed(struct fx *f, void *a) {
  (void)f;
  return ((struct raw *)a)->closed;
}
static void raw_close(struct fx *f, struct raw *r) {
  uv_close((uv_handle_t *)&r->pipe, raw_closed);
  assert_true(run_until(f, p_raw_closed, r, 5000));
  free(r->buf);
}

static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; p && (p = strstr(p, needle)); p++) n++;
  return n;
}

/* ---- tests ---- */

static const char *PLAN_KICK =
    "## PLAN\nStep 1: create_track - Kick\n  - name: Kick Drum\n  - type: midi\n  - instrument: kick\n"
    "Step 2: create_midi_clip - two hits\n  - track_id: [track from Step 1]\n  - start_time: 0\n  - duration: 4\n"
    "  - notes: [{n: 36, s: 0, d: 0.5, v: 110}, {n: 36, s: 1, d: 0.5, v: 110}]\n";
static const char *PLAN_BUSIER =
    "## PLAN\nStep 1: create_track - Hats\n  - name: Hats\n  - type: midi\n  - instrument: drums\n"
    "Step 2: create_midi_clip - eighths\n  - track_id: [track from Step 1]\n  - start_time: 0\n  - duration: 4\n"
    "  - notes: [{n: 42, s: 0, d: 0.25, v: 90}, {n: 42, s: 0.5, d: 0.25, v: 90}]\n";

/* The second ask's stage-1 prompt carries the first request and its outcome (agent_set_conversation); /new
 * forgets it. */
static void test_live_conversation_two_turns(void **state) {
  (void)state;
  struct fx f;
  fx_open(&f, &(struct fx_opts){0});
  mock_llm_push(f.mllm, json_pack("{s:s, s:s}", "text", PLAN_KICK, "finish", "stop"));
  mock_llm_push(f.mllm, json_pack("{s:s, s:s}", "text", PLAN_BUSIER, "finish", "stop"));
  mock_llm_push(f.mllm, json_pack("{s:s, s:s}", "text", PLAN_BUSIER, "finish", "stop"));
  struct client c;
  client_open(&f, &c);
  int r1 = submit(&f, &c, "a1", "{\"kind\":\"ask\",\"text\":\"add a kick drum on beats one and two\"}");
  const json_t *d1 = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r1}, 60000);
  assert_int_equal(json_integer_value(json_object_get(d1, "exit_code")), 0);
  assert_int_equal(json_integer_value(json_object_get(d1, "confirmed")), 2);
  assert_non_null(find_msg(c.msgs, &(struct want){.type = "plan", .request = r1}));
  assert_non_null(find_msg(c.msgs, &(struct want){.type = "step", .request = r1}));
  int r2 = submit(&f, &c, "a2", "{\"kind\":\"ask\",\"text\":\"make it busier with hats\"}");
  const json_t *d2 = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r2}, 60000);
  assert_int_equal(json_integer_value(json_object_get(d2, "exit_code")), 0);
  json_t *reqs = mock_llm_requests(f.mllm);
  assert_int_equal(json_array_size(reqs), 2);
  char *p1 = json_dumps(json_object_get(json_array_get(reqs, 0), "body"), JSON_COMPACT);
  char *p2 = json_dumps(json_object_get(json_array_get(reqs, 1), "body"), JSON_COMPACT);
  assert_non_null(strstr(p2, "make it busier with hats"));
  assert_non_null(strstr(p2, "add a kick drum on beats one and two")); /* the first request */
  assert_null(strstr(p1, "make it busier"));
  /* its outcome: the status and the track the DAW created for it */
  assert_non_null(strstr(p2, "Kick Drum"));
  assert_true(strstr(p2, "\\\"ok\\\"") || strstr(p2, "outcome") || strstr(p2, "confirmed"));
  free(p1);
  free(p2);
  /* status counts the turns; a new conversation forgets them */
  client_send_text(&c, "{\"op\":\"status\",\"id\":\"s1\"}");
  const json_t *st = wait_msg(&f, (struct want){.c = &c, .type = "reply", .id = "s1"}, 5000);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "result"), "conversation_turns")), 2);
  int r3 = submit(&f, &c, "n", "{\"kind\":\"new\"}");
  wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r3}, 5000);
  int r4 = submit(&f, &c, "a3", "{\"kind\":\"plan\",\"text\":\"hats again\"}");
  wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r4}, 60000);
  char *p3 = json_dumps(json_object_get(json_array_get(mock_llm_requests(f.mllm), 2), "body"), JSON_COMPACT);
  assert_null(strstr(p3, "add a kick drum on beats one and two"));
  free(p3);
  /* the history has the two iterations (and the baseline) */
  client_send_text(&c, "{\"op\":\"history\",\"id\":\"h\"}");
  const json_t *h = wait_msg(&f, (struct want){.c = &c, .type = "reply", .id = "h"}, 5000);
  assert_int_equal(json_array_size(json_object_get(json_object_get(h, "result"), "iterations")), 3);
  client_close(&f, &c);
  fx_close(&f);
}

/* Two clients at once: the requests run in submission order, each client sees only its own request's events
 * (until it subscribes), status shows the queue. */
static void test_live_queue_two_clients(void **state) {
  (void)state;
  struct fx f;
  fx_open(&f, &(struct fx_opts){.no_llm = 1});
  struct client a, b, s;
  client_open(&f, &a);
  client_open(&f, &b);
  client_open(&f, &s);
  client_send_text(&s, "{\"op\":\"subscribe\",\"id\":\"sub\"}");
  wait_msg(&f, (struct want){.c = &s, .type = "reply", .id = "sub"}, 5000);
  char plan[4096];
  snprintf(
      plan, sizeof plan, "{\"kind\":\"exec\",\"label\":\"kick\",\"text\":%s}",
      "\"Step 1: create_track - K\\n  - name: Kick\\n  - type: midi\\nStep 2: create_midi_clip - c\\n  - track_id: "
      "[track from Step 1]\\n  - start_time: 0\\n  - duration: 4\\n  - notes: [{n: 36, s: 0, d: 1, v: 100}]\\n\"");
  /* both lines go out before the loop runs: they reach the daemon together */
  char line[8192];
  snprintf(line, sizeof line, "{\"op\":\"submit\",\"id\":\"A\",\"request\":%s}", plan);
  client_send_text(&a, line);
  client_send_text(
      &b,
      "{\"op\":\"submit\",\"id\":\"B\",\"request\":{\"kind\":\"call\",\"tool\":\"set_tempo\",\"args\":{\"bpm\":97}}}");
  const json_t *ra = wait_msg(&f, (struct want){.c = &a, .type = "reply", .id = "A"}, 5000);
  const json_t *rb = wait_msg(&f, (struct want){.c = &b, .type = "reply", .id = "B"}, 5000);
  int ida = (int)json_integer_value(json_object_get(json_object_get(ra, "result"), "request"));
  int idb = (int)json_integer_value(json_object_get(json_object_get(rb, "result"), "request"));
  assert_true(ida > 0 && idb > ida);
  const json_t *qb = wait_msg(&f, (struct want){.c = &b, .type = "queued", .request = idb}, 5000);
  assert_int_equal(json_integer_value(json_object_get(qb, "position")), 1);
  client_send_text(&s, "{\"op\":\"status\",\"id\":\"st\"}");
  const json_t *da = wait_msg(&f, (struct want){.c = &a, .type = "done", .request = ida}, 60000);
  const json_t *db = wait_msg(&f, (struct want){.c = &b, .type = "done", .request = idb}, 60000);
  assert_int_equal(json_integer_value(json_object_get(da, "exit_code")), 0);
  assert_int_equal(json_integer_value(json_object_get(db, "exit_code")), 0);
  /* order: B started only after A was done */
  const json_t *sb = find_msg(f.events, &(struct want){.type = "started", .request = idb});
  const json_t *dae = find_msg(f.events, &(struct want){.type = "done", .request = ida});
  assert_non_null(sb);
  assert_true(seq_of(sb) > seq_of(dae));
  /* each saw only its own request */
  size_t i;
  json_t *m;
  json_array_foreach(a.msgs, i, m) assert_int_not_equal(json_integer_value(json_object_get(m, "request")), idb);
  json_array_foreach(b.msgs, i, m) assert_int_not_equal(json_integer_value(json_object_get(m, "request")), ida);
  /* the subscriber saw both */
  assert_non_null(find_msg(s.msgs, &(struct want){.type = "done", .request = ida}));
  assert_non_null(find_msg(s.msgs, &(struct want){.type = "done", .request = idb}));
  /* status while A ran: A running, B queued */
  const json_t *st = find_msg(s.msgs, &(struct want){.type = "reply", .id = "st"});
  const json_t *res = json_object_get(st, "result");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(res, "running"), "request")), ida);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(res, "queue"), 0), "request")),
                   idb);
  /* the mirror followed: the state read shows the new tempo and the created track, "state" events came */
  client_send_text(&a, "{\"op\":\"state\",\"id\":\"state\"}");
  const json_t *sr = wait_msg(&f, (struct want){.c = &a, .type = "reply", .id = "state"}, 5000);
  assert_true(json_number_value(json_object_get(json_object_get(sr, "result"), "tempo")) > 96.9);
  assert_non_null(find_msg(s.msgs, &(struct want){.type = "state"}));
  client_close(&f, &a);
  client_close(&f, &b);
  client_close(&f, &s);
  fx_close(&f);
}

/* Cancel while a plan runs: no further step is sent, the confirmed part is saved as a partial iteration, exit 130. */
static void test_live_cancel_midrun(void **state) {
  (void)state;
  struct fx f;
  fx_open(&f, &(struct fx_opts){.no_llm = 1});
  struct client c;
  client_open(&f, &c);
  char text[4096] = "";
  for (int i = 1; i <= 8; i++) {
    char step[256];
    snprintf(step, sizeof step, "Step %d: create_track - T%d\\n  - name: Track %d\\n  - type: audio\\n", i, i, i);
    strcat(text, step);
  }
  char req[5000];
  snprintf(req, sizeof req, "{\"kind\":\"exec\",\"label\":\"eight\",\"text\":\"%s\"}", text);
  int r = submit(&f, &c, "x", req);
  wait_msg(&f, (struct want){.c = &c, .type = "step", .request = r}, 30000);
  client_send_text(&c, "{\"op\":\"cancel\",\"id\":\"c\",\"request\":0}");
  const json_t *cr = wait_msg(&f, (struct want){.c = &c, .type = "reply", .id = "c"}, 5000);
  assert_true(json_is_true(json_object_get(cr, "ok")));
  const json_t *d = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r}, 60000);
  assert_int_equal(json_integer_value(json_object_get(d, "exit_code")), 130);
  assert_string_equal(json_string_value(json_object_get(d, "status")), "cancelled");
  const json_t *resp = json_object_get(d, "response");
  assert_true(json_is_true(json_object_get(resp, "interrupted")));
  int confirmed = (int)json_integer_value(json_object_get(d, "confirmed"));
  assert_true(confirmed >= 1 && confirmed < 8);
  /* the partial iteration is in the history */
  assert_true(json_is_integer(json_object_get(d, "iteration")));
  char err[512];
  json_t *it = live_iteration(f.live, (int)json_integer_value(json_object_get(d, "iteration")), err, sizeof err);
  assert_non_null(it);
  assert_true(json_is_true(json_object_get(it, "partial")));
  json_decref(it);
  /* a cancel of a request that does not exist is an error reply */
  client_send_text(&c, "{\"op\":\"cancel\",\"id\":\"c2\",\"request\":999}");
  const json_t *c2 = wait_msg(&f, (struct want){.c = &c, .type = "reply", .id = "c2"}, 5000);
  assert_false(json_is_true(json_object_get(c2, "ok")));
  /* and the next request runs */
  int r2 = submit(&f, &c, "t", "{\"kind\":\"call\",\"tool\":\"set_tempo\",\"args\":{\"bpm\":101}}");
  const json_t *d2 = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r2}, 30000);
  assert_int_equal(json_integer_value(json_object_get(d2, "exit_code")), 0);
  client_close(&f, &c);
  fx_close(&f);
}

/* The mock DAW process dies mid-session: a request ends unreachable, "lost"; the DAW comes back: "resynced", and
 * the next request works (no restart of the daemon). */
static void test_live_daw_restart(void **state) {
  struct fx f;
  fx_open(&f, &(struct fx_opts){.process_daw = 1, .no_llm = 1, .child_pid = *state});
  wait_msg(&f, (struct want){.type = "connection", .state = "connected"}, 5000);
  struct client c;
  client_open(&f, &c);
  int r1 = submit(&f, &c, "t1", "{\"kind\":\"call\",\"tool\":\"set_tempo\",\"args\":{\"bpm\":111}}");
  const json_t *d1 = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r1}, 30000);
  assert_int_equal(json_integer_value(json_object_get(d1, "exit_code")), 0);
  kill_mock(&f);
  int r2 = submit(&f, &c, "t2", "{\"kind\":\"call\",\"tool\":\"set_tempo\",\"args\":{\"bpm\":112}}");
  const json_t *d2 = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r2}, 30000);
  assert_int_not_equal(json_integer_value(json_object_get(d2, "exit_code")), 0);
  wait_msg(&f, (struct want){.type = "connection", .state = "lost"}, 30000);
  /* while it is down, a request ends at once with exit 2 */
  int r3 = submit(&f, &c, "t3", "{\"kind\":\"call\",\"tool\":\"set_tempo\",\"args\":{\"bpm\":113}}");
  const json_t *d3 = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r3}, 30000);
  assert_int_equal(json_integer_value(json_object_get(d3, "exit_code")), 2);
  spawn_mock(&f);
  wait_msg(&f, (struct want){.type = "connection", .state = "resynced"}, 30000);
  int r4 = submit(&f, &c, "t4", "{\"kind\":\"call\",\"tool\":\"set_tempo\",\"args\":{\"bpm\":114}}");
  const json_t *d4 = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r4}, 30000);
  assert_int_equal(json_integer_value(json_object_get(d4, "exit_code")), 0);
  client_close(&f, &c);
  fx_close(&f);
}

/* Issue 13: a request sent while the daemon's first sync is still running waits for it instead of failing at once.
 * A slow DAW (every reply 150 ms late): the call is queued before the sync ends (its reply comes before the
 * "connected" event), runs after it, and is confirmed (exit 0); status says "first_sync" meanwhile. */
static void test_live_request_waits_for_first_sync(void **state) {
  struct fx f;
  fx_open(&f, &(struct fx_opts){.process_daw = 1, .no_llm = 1, .delay_ms = 150, .no_wait = 1, .child_pid = *state});
  struct client c;
  client_open(&f, &c);
  client_send_text(&c, "{\"op\":\"status\",\"id\":\"s1\"}");
  const json_t *st = wait_msg(&f, (struct want){.c = &c, .type = "reply", .id = "s1"}, 10000);
  int r = submit(&f, &c, "w1", "{\"kind\":\"call\",\"tool\":\"set_tempo\",\"args\":{\"bpm\":101}}");
  const json_t *reply = wait_msg(&f, (struct want){.c = &c, .type = "reply", .id = "w1"}, 1000);
  json_int_t submitted = seq_of(reply);
  /* the test is only meaningful when the sync was still running: both before the "connected" event */
  assert_null(find_msg(f.events, &(struct want){.type = "connection", .state = "connected"}));
  assert_true(json_is_true(json_object_get(json_object_get(st, "result"), "first_sync")));
  const json_t *d = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r}, 60000);
  const json_t *conn = wait_msg(&f, (struct want){.type = "connection", .state = "connected"}, 1000);
  assert_true(submitted < seq_of(conn));
  assert_true(seq_of(conn) < seq_of(d));
  if (json_integer_value(json_object_get(d, "exit_code")) != 0) {
    char *t = json_dumps(d, JSON_COMPACT);
    fail_msg("the waiting request did not succeed: %s", t);
  }
  assert_true(f.started);
  assert_int_equal(f.start_status, 0);
  client_close(&f, &c);
  fx_close(&f);
}

/* ... and the wait is bounded: a DAW that never answers ends the first sync at its deadline, and the request that
 * waited for it ends then with "the DAW is not connected", exit 2 (after the "lost" event, not at once). */
static void test_live_request_wait_is_bounded(void **state) {
  (void)state;
  struct fx f;
  fx_open(&f, &(struct fx_opts){.silent_daw = 1, .no_llm = 1, .no_wait = 1});
  struct client c;
  client_open(&f, &c);
  int r = submit(&f, &c, "b1", "{\"kind\":\"call\",\"tool\":\"set_tempo\",\"args\":{\"bpm\":102}}");
  assert_false(f.started);
  const json_t *d = wait_msg(&f, (struct want){.c = &c, .type = "done", .request = r}, 60000);
  assert_true(f.started);
  assert_int_not_equal(f.start_status, 0);
  const json_t *lost = wait_msg(&f, (struct want){.type = "connection", .state = "lost"}, 1000);
  assert_true(seq_of(lost) < seq_of(d));
  assert_int_equal(json_integer_value(json_object_get(d, "exit_code")), 2);
  char *t = json_dumps(d, JSON_COMPACT);
  if (!strstr(t, "not connected")) fail_msg("no 'not connected' in %s", t);
  free(t);
  client_close(&f, &c);
  fx_close(&f);
}

/* Malformed lines get an error reply and the connection stays; an oversized line gets one and is closed; the
 * daemon serves the next client. The parser's cases as data. */
static void test_ctl_bad_input(void **state) {
  (void)state;
  static const struct {
    const char *line;
    int ok;
    const char *err;
  } cases[] = {
      {"not json", 0, "not JSON"},
      {"[1,2]", 0, "object"},
      {"{\"op\":5}", 0, "op"},
      {"{\"op\":\"dance\"}", 0, "unknown op"},
      {"{\"op\":\"submit\"}", 0, "request"},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"dance\"}}", 0, "unknown request kind"},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"ask\"}}", 0, "text"},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"ask\",\"text\":7}}", 0, "string"},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"call\"}}", 0, "tool"},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"call\",\"tool\":\"x\",\"args\":[]}}", 0, "args"},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"restore\"}}", 0, "iteration"},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"restore\",\"iteration\":-3}}", 0, "iteration"},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"undo\",\"force\":\"yes\"}}", 0, "force"},
      {"{\"op\":\"cancel\"}", 0, "request"},
      {"{\"op\":\"iteration\",\"number\":\"x\"}", 0, "number"},
      {"{\"op\":\"iteration\",\"number\":0}", 0, "number"},
      {"{\"op\":\"status\",\"id\":5}", 0, "id"},
      {"{\"op\":\"status\",\"op\":\"state\"}", 0, "not JSON"},
      {"{\"op\":\"status\"}", 1, NULL},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"undo\",\"force\":true}}", 1, NULL},
      {"{\"op\":\"submit\",\"request\":{\"kind\":\"restore\",\"iteration\":2}}", 1, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct ctl_msg m;
    char err[512] = "";
    int rc = ctl_parse_line(cases[i].line, strlen(cases[i].line), &m, err, sizeof err);
    if ((rc == 0) != cases[i].ok || (cases[i].err && !strstr(err, cases[i].err)))
      fail_msg("case %zu %s: rc %d, err \"%s\"", i, cases[i].line, rc, err);
    ctl_msg_clear(&m);
  }
  struct fx f;
  fx_open(&f, &(struct fx_opts){.no_llm = 1});
  struct client c;
  client_open(&f, &c);
  /* the malformed lines go raw through a plain connection (the client API only sends objects) */
  struct raw r;
  raw_open(&f, &r);
  size_t nbad = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    if (cases[i].ok) continue;
    char line[512];
    snprintf(line, sizeof line, "%s\n", cases[i].line);
    raw_write(&r, line, strlen(line));
    nbad++;
  }
  raw_write(&r, "\n\n{\"op\":\"status\",\"id\":\"alive\"}\n", 32);
  assert_true(run_until(&f, p_raw_has, (void *)&(struct raw_want){&r, "\"alive\""}, 10000));
  assert_int_equal(count(r.buf, "\"type\":\"reply\""), (int)nbad + 1);
  assert_int_equal(count(r.buf, "\"ok\":false"), (int)nbad);
  assert_false(r.eof);
  /* an oversized line: an error reply, then the daemon closes the connection */
  size_t big = CTL_LINE_MAX + 4096;
  char *huge = malloc(big);
  memset(huge, 'x', big);
  raw_write(&r, huge, big);
  free(huge);
  assert_true(run_until(&f, p_raw_eof, &r, 20000));
  assert_non_null(strstr(r.buf, "longer than"));
  raw_close(&f, &r);
  /* the ctl client (an API user) still works, and so does a new connection */
  client_send_text(&c, "{\"op\":\"status\",\"id\":\"s\"}");
  const json_t *st = wait_msg(&f, (struct want){.c = &c, .type = "reply", .id = "s"}, 5000);
  assert_true(json_is_true(json_object_get(st, "ok")));
  /* a second daemon on the same socket is refused; a stale socket file is replaced */
  ctl_t *other = NULL;
  char err[512];
  assert_int_equal(ctl_new(&f.loop, f.live, f.sock, NULL, &other, err, sizeof err), CTL_EBUSY);
  client_close(&f, &c);
  fx_close(&f);
}

/* A stale socket (its daemon died) is replaced; a socket path that is not a socket is refused. */
static void test_ctl_stale_socket(void **state) {
  (void)state;
  char dir[] = "/tmp/dawbridge-test-ctl-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[100];
  snprintf(path, sizeof path, "%s/x.sock", dir);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  close(fd); /* bound, never listening, closed: a dead daemon's file */
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct live_config lc;
  memset(&lc, 0, sizeof lc);
  lc.daw.dialect = "reaper";
  lc.embedded_mock = 1;
  lc.llm = "script";
  lc.transcript = "/nonexistent";
  live_t *l = NULL;
  char err[512];
  setenv("XDG_CONFIG_HOME", dir, 1);
  assert_int_equal(live_new(&loop, &lc, &l, err, sizeof err), 0);
  ctl_t *c = NULL;
  assert_int_equal(ctl_new(&loop, l, path, NULL, &c, err, sizeof err), 0);
  ctl_close(c, NULL, NULL);
  char file[300];
  snprintf(file, sizeof file, "%s/plain", dir);
  FILE *fp = fopen(file, "w");
  fclose(fp);
  assert_int_equal(ctl_new(&loop, l, file, NULL, &c, err, sizeof err), CTL_EPERM);
  live_close(l, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
  db_test_rm_rf(dir);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ctl_bad_input),
      cmocka_unit_test(test_ctl_stale_socket),
      cmocka_unit_test(test_live_queue_two_clients),
      cmocka_unit_test(test_live_cancel_midrun),
      cmocka_unit_test(test_live_conversation_two_turns),
      cmocka_unit_test_setup_teardown(test_live_daw_restart, child_setup, child_teardown),
      cmocka_unit_test_setup_teardown(test_live_request_waits_for_first_sync, child_setup, child_teardown),
      cmocka_unit_test(test_live_request_wait_is_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
