/* osc_throughput.c: OSC messages/s bridge -> mock, and the bridge's receive capacity (the drain method).
 *
 *   bench_osc_throughput [-n N] [-r REPS] [-d DRAIN_N] [-R DRAIN_REPS] [--only e2e|drain]
 *
 * Method (../shared/docs/osc-performance.md): sender and receiver are two processes on 127.0.0.1 (the receiver is
 * forked, fresh for every run), every message is m1 = "/track/1/volume ,f 0.5" (24 bytes), every receiving socket
 * has SO_RCVBUF 4 MiB, configurations are interleaved (A B C ... A B C ...) and the tables show medians; the
 * ratios are taken against baselines measured in the same run.
 *
 * 1. End to end (N messages, default 100,000, unpaced): the receiver is the mock DAW (REAPER dialect, the dbmock
 *    library in its own process, exactly what the mock-daw executable runs) and the sender is, in turn,
 *      raw    sendto() of a prebuilt datagram,
 *      liblo  lo_send_message() of a prebuilt lo_message (bare liblo),
 *      link   link_send() of a prebuilt lo_message through the bridge's link (its socket, its serialisation).
 *    goodput = messages the mock received / (last receipt - sender's start). Target: link >= 0.9x liblo.
 * 2. Receive capacity (drain): the receiver process is SIGSTOPped, DRAIN_N datagrams (default 9,000: the 8 MiB
 *    buffer holds about 10,000) are queued with raw sendto(), then SIGCONT; the receiver's first-to-last receipt
 *    time gives the drain rate. Receivers:
 *      raw    blocking recvfrom() loop (just counts),
 *      liblo  bare liblo: lo_server_recv_noblock(s, 20 ms) loop with a catch-all method (socket bound to 127.0.0.1),
 *      link   the bridge's link: link_new() + uv_run(), counting in its message callback,
 *      mock   (information) the mock DAW handling the messages.
 *    Target: link >= 0.8x raw.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lo/lo.h>
#include <uv.h>

#include "bench_util.h"
#include "link.h"
#include "mock.h"

#define RCVBUF (4 * 1024 * 1024)
#define MAX_REPS 32
#define PATH_M1 "/track/1/volume"

enum rx_mode { RX_RAW, RX_LO, RX_LINK, RX_MOCK };
static const char *const rx_names[] = {"raw", "liblo", "link", "mock"};
enum tx_mode { TX_RAW, TX_LO, TX_LINK };
static const char *const tx_names[] = {"raw sendto", "liblo lo_send_message", "link link_send"};

/* shared between the bench (parent) and the receiver process */
struct shm {
  int ready, stop, port;
  long expect, count;
  long mock_tx;
  double t_first, t_last; /* ns, CLOCK_MONOTONIC (same clock in both processes) */
  double cpu_ns;
};

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cpu_ns(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

static void minmax(const double *v, int n, double *mn, double *mx) {
  *mn = *mx = n ? v[0] : 0;
  for (int i = 1; i < n; i++) {
    if (v[i] < *mn) *mn = v[i];
    if (v[i] > *mx) *mx = v[i];
  }
}

static int load_int(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store_int(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static long load_long(const long *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store_long(long *p, long v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static int loopback_socket(int *port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int sz = RCVBUF;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    perror("bind");
    _exit(1);
  }
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  if (port) *port = ntohs(a.sin_port);
  return fd;
}

/* ---- receivers (run in the child) ---- */

static struct shm *G; /* the child's view of the shared block; set once in the child before it receives */

static inline void counted(long c) {
  store_long(&G->count, c);
  if (c == 1) G->t_first = now_ns();
  if (c == G->expect || (c & 255) == 0) G->t_last = now_ns();
}

static void rx_raw(void) {
  int port, fd = loopback_socket(&port);
  struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[2048];
  long c = 0;
  G->port = port;
  double cpu0 = cpu_ns(RUSAGE_SELF);
  store_int(&G->ready, 1);
  for (;;) {
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, NULL, NULL);
    if (n > 0)
      counted(++c);
    else if (load_int(&G->stop))
      break;
  }
  G->cpu_ns = cpu_ns(RUSAGE_SELF) - cpu0;
  close(fd);
}

static long lo_count;
static int lo_handler(const char *path, const char *types, lo_arg **argv, int argc, lo_message msg, void *data) {
  (void)path, (void)types, (void)argv, (void)argc, (void)msg, (void)data;
  counted(++lo_count);
  return 0;
}
static void lo_err(int num, const char *msg, const char *where) { (void)num, (void)msg, (void)where; }

static void rx_lo(void) {
  lo_server s = lo_server_new_with_proto(NULL, LO_UDP, lo_err);
  int port, fd = loopback_socket(&port);
  /* liblo 0.31 binds 0.0.0.0: put a 127.0.0.1 socket in its place (as osc-performance.md did) */
  dup2(fd, lo_server_get_socket_fd(s));
  close(fd);
  lo_server_add_method(s, NULL, NULL, lo_handler, NULL);
  G->port = port;
  double cpu0 = cpu_ns(RUSAGE_SELF);
  store_int(&G->ready, 1);
  while (!load_int(&G->stop)) lo_server_recv_noblock(s, 20);
  G->cpu_ns = cpu_ns(RUSAGE_SELF) - cpu0;
  lo_server_free(s);
}

struct uvrx {
  uv_loop_t loop;
  uv_timer_t tick;
  uv_check_t check;
  link_t *link;
  mock_t *mock;
  long c;
};

static void link_msg(const char *path, const char *types, lo_arg **argv, int argc, void *data) {
  struct uvrx *u = data;
  (void)path, (void)types, (void)argv, (void)argc;
  counted(++u->c);
}

static void on_check(uv_check_t *h) {
  struct uvrx *u = h->data;
  struct mock_stats st;
  mock_get_stats(u->mock, &st);
  long c = (long)st.rx;
  if (c == u->c) return;
  double t = now_ns();
  if (u->c == 0) G->t_first = t;
  G->t_last = t;
  u->c = c;
  store_long(&G->count, c);
  G->mock_tx = (long)st.tx;
}

static void on_tick(uv_timer_t *t) {
  struct uvrx *u = t->data;
  if (!load_int(&G->stop)) return;
  uv_timer_stop(t);
  uv_close((uv_handle_t *)t, NULL);
  if (u->link) link_close(u->link, NULL, NULL);
  if (u->mock) {
    uv_check_stop(&u->check);
    uv_close((uv_handle_t *)&u->check, NULL);
    mock_close(u->mock, NULL, NULL);
  }
}

/* The drain sender's port, set before the receiver is forked: the link accepts only its DAW's address and port
 * (link_config.any_source_port 0, the default), so the link receiver is pointed at the sender, as at a DAW. */
static int drain_src_port;

static void rx_uv(enum rx_mode mode, int sink_port) {
  struct uvrx u = {0};
  uv_loop_init(&u.loop);
  char err[256];
  if (mode == RX_LINK) {
    struct link_config lc = {
        .daw_port = drain_src_port ? drain_src_port : 9, .listen_port = 0, .silence_ms = 600000, .probe_ms = -1};
    struct link_callbacks cb = {.on_message = link_msg, .data = &u};
    if (link_new(&u.loop, &lc, &cb, &u.link, err, sizeof err)) {
      fprintf(stderr, "link_new: %s\n", err);
      _exit(1);
    }
    G->port = link_listen_port(u.link);
  } else {
    struct mock_config mc = {
        .dialect = "reaper", .port = 0, .feedback_port = sink_port, .tracks = 8, .seed = 1, .quiet = 1};
    if (mock_new(&u.loop, &mc, &u.mock, err, sizeof err)) {
      fprintf(stderr, "mock_new: %s\n", err);
      _exit(1);
    }
    G->port = mock_port(u.mock);
    uv_check_init(&u.loop, &u.check);
    u.check.data = &u;
    uv_check_start(&u.check, on_check);
  }
  uv_timer_init(&u.loop, &u.tick);
  u.tick.data = &u;
  uv_timer_start(&u.tick, on_tick, 20, 20);
  /* let the mock send its startup refresh before the clock starts */
  uv_run(&u.loop, UV_RUN_NOWAIT);
  if (u.mock) {
    struct mock_stats st;
    mock_get_stats(u.mock, &st);
    G->mock_tx = (long)st.tx;
  }
  double cpu0 = cpu_ns(RUSAGE_SELF);
  store_int(&G->ready, 1);
  uv_run(&u.loop, UV_RUN_DEFAULT);
  G->cpu_ns = cpu_ns(RUSAGE_SELF) - cpu0;
  uv_loop_close(&u.loop);
}

static pid_t start_receiver(struct shm *sh, enum rx_mode mode, long expect, int sink_port) {
  memset(sh, 0, sizeof *sh);
  sh->expect = expect;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    exit(1);
  }
  if (pid == 0) {
    G = sh;
    switch (mode) {
    case RX_RAW: rx_raw(); break;
    case RX_LO: rx_lo(); break;
    default: rx_uv(mode, sink_port); break;
    }
    _exit(0);
  }
  for (int i = 0; i < 5000 && !load_int(&sh->ready); i++) usleep(1000);
  if (!load_int(&sh->ready)) {
    fprintf(stderr, "receiver %s did not start\n", rx_names[mode]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    exit(1);
  }
  return pid;
}

/* Waits until the receiver has `expect` messages or makes no progress for 300 ms; stops it. */
static void finish_receiver(struct shm *sh, pid_t pid) {
  long last = -1;
  double since = now_ns();
  for (;;) {
    long c = load_long(&sh->count);
    if (c >= sh->expect) break;
    if (c != last) {
      last = c;
      since = now_ns();
    } else if (now_ns() - since > 300e6) {
      break;
    }
    usleep(1000);
  }
  store_int(&sh->stop, 1);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "receiver exited abnormally (status %d)\n", st);
}

/* ---- senders (in the bench process) ---- */

static void *m1_bytes(size_t *len) {
  lo_message m = lo_message_new();
  lo_message_add_float(m, 0.5f);
  void *d = lo_message_serialise(m, PATH_M1, NULL, len);
  lo_message_free(m);
  return d;
}

struct e2e_result {
  double send_rate, goodput, loss_pct, send_cpu_ns, recv_cpu_ns;
};

static void on_link_closed(void *data) { (void)data; }

/* sends n messages with SEND between two readings of the clock (t0, t1) and of this process's CPU time (c0, c1);
 * a macro, not a callback, so the measured loop stays a plain loop */
#define TIMED_SENDS(SEND)                                                                                              \
  do {                                                                                                                 \
    c0 = cpu_ns(RUSAGE_SELF);                                                                                          \
    t0 = now_ns();                                                                                                     \
    for (long i = 0; i < n; i++) SEND;                                                                                 \
    t1 = now_ns();                                                                                                     \
    c1 = cpu_ns(RUSAGE_SELF);                                                                                          \
  } while (0)

static void run_e2e(enum tx_mode tx, enum rx_mode rx, long n, int sink_port, struct shm *sh, struct e2e_result *res) {
  /* the mock counts every message it receives (none before the run) */
  pid_t pid = start_receiver(sh, rx, n, sink_port);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sh->port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  double t0 = 0, t1 = 0, c0 = 0, c1 = 0;
  if (tx == TX_RAW) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    size_t len;
    void *d = m1_bytes(&len);
    TIMED_SENDS(sendto(fd, d, len, 0, (struct sockaddr *)&to, sizeof to));
    free(d);
    close(fd);
  } else if (tx == TX_LO) {
    char port[16];
    snprintf(port, sizeof port, "%d", sh->port);
    lo_address a = lo_address_new("127.0.0.1", port);
    lo_message m = lo_message_new();
    lo_message_add_float(m, 0.5f);
    TIMED_SENDS(lo_send_message(a, PATH_M1, m));
    lo_message_free(m);
    lo_address_free(a);
  } else {
    uv_loop_t loop;
    uv_loop_init(&loop);
    link_t *l = NULL;
    char err[256];
    struct link_config lc = {.daw_port = sh->port, .listen_port = 0, .silence_ms = 600000, .probe_ms = -1};
    struct link_callbacks cb = {0};
    if (link_new(&loop, &lc, &cb, &l, err, sizeof err)) {
      fprintf(stderr, "link_new: %s\n", err);
      exit(1);
    }
    lo_message m = lo_message_new();
    lo_message_add_float(m, 0.5f);
    TIMED_SENDS(link_send(l, PATH_M1, m));
    lo_message_free(m);
    link_close(l, on_link_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  finish_receiver(sh, pid);
  long got = sh->count;
  res->send_rate = n / ((t1 - t0) / 1e9);
  res->goodput = got > 0 && sh->t_last > t0 ? got / ((sh->t_last - t0) / 1e9) : 0;
  res->loss_pct = 100.0 * (double)(n - got) / (double)n;
  res->send_cpu_ns = (c1 - c0) / (double)n;
  res->recv_cpu_ns = got ? sh->cpu_ns / (double)got : 0;
}

struct drain_result {
  double rate, loss_pct, recv_cpu_ns;
};

static void run_drain(enum rx_mode rx, long n, int sink_port, struct shm *sh, struct drain_result *res) {
  int fd = loopback_socket(&drain_src_port); /* bound first: the link receiver takes it as its DAW's port */
  pid_t pid = start_receiver(sh, rx, n, sink_port);
  kill(pid, SIGSTOP);
  int st;
  waitpid(pid, &st, WUNTRACED);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)sh->port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  size_t len;
  void *d = m1_bytes(&len);
  for (long i = 0; i < n; i++) sendto(fd, d, len, 0, (struct sockaddr *)&to, sizeof to);
  free(d);
  close(fd);
  kill(pid, SIGCONT);
  finish_receiver(sh, pid);
  long got = sh->count;
  res->rate = got > 1 && sh->t_last > sh->t_first ? (got - 1) / ((sh->t_last - sh->t_first) / 1e9) : 0;
  res->loss_pct = 100.0 * (double)(n - got) / (double)n;
  res->recv_cpu_ns = got ? sh->cpu_ns / (double)got : 0;
}

static void usage(void) {
  printf("usage: bench_osc_throughput [-n N] [-r REPS] [-d DRAIN_N] [-R DRAIN_REPS] [--only e2e|drain]\n"
         "  End to end: N messages (default 100000) raw / bare liblo / bridge link -> the mock DAW process, REPS\n"
         "  interleaved runs (default 3). Receive capacity by the drain method: DRAIN_N datagrams (default 9000)\n"
         "  queued while the receiver is stopped, DRAIN_REPS interleaved runs (default 9).\n"
         "  Targets: link >= 0.9x bare liblo end to end; link >= 0.8x raw receive capacity.\n");
}

int main(int argc, char **argv) {
  long n = 100000, dn = 9000;
  int reps = 3, dreps = 9, do_e2e = 1, do_drain = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc)
      n = atol(argv[++i]);
    else if (!strcmp(argv[i], "-r") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-d") && i + 1 < argc)
      dn = atol(argv[++i]);
    else if (!strcmp(argv[i], "-R") && i + 1 < argc)
      dreps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
      const char *o = argv[++i];
      do_e2e = !strcmp(o, "e2e");
      do_drain = !strcmp(o, "drain");
      if (!do_e2e && !do_drain) {
        usage();
        return 2;
      }
    } else
      return bench_usage_exit(argv[i], usage);
  }
  if (n < 1000) n = 1000;
  if (dn < 100) dn = 100;
  reps = bench_clamp(reps, 1, MAX_REPS);
  dreps = bench_clamp(dreps, 1, MAX_REPS);
  signal(SIGPIPE, SIG_IGN);
  struct shm *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  /* the mock's feedback (its startup refresh; nothing during the run: the value never changes) goes here, unread */
  int sink_port, sink = loopback_socket(&sink_port);
  size_t m1len;
  free(m1_bytes(&m1len));
  int ok_e2e = 1, ok_drain = 1;
  double e2e_ratio[2] = {0, 0}, drain_ratio = 0;

  if (do_e2e) {
    /* receivers: the mock DAW (what the bridge talks to) and a raw counting sink (keeps up with any sender, so
     * the sender's own cost decides: the doc's "sender-bound" regime) */
    static const enum rx_mode rxs[2] = {RX_MOCK, RX_RAW};
    static const char *const rx_label[2] = {"mock DAW (REAPER dialect)", "raw recvfrom() sink"};
    struct e2e_result r[2][3][MAX_REPS];
    for (int k = 0; k < reps; k++)
      for (int x = 0; x < 2; x++)
        for (int t = 0; t < 3; t++) run_e2e((enum tx_mode)t, rxs[x], n, sink_port, sh, &r[x][t][k]);
    printf("bench_osc_throughput: end to end, sender process -> receiver process, %ld x %zu-byte messages, "
           "unpaced, median of %d interleaved runs\n",
           n, m1len, reps);
    printf("%-26s %-22s %11s %11s %15s %8s %11s %11s\n", "receiver", "sender", "send msg/s", "goodput/s",
           "goodput min-max", "loss %", "send ns/msg", "recv ns/msg");
    double good[2][3], scpu[3] = {0, 0, 0};
    for (int x = 0; x < 2; x++) {
      for (int t = 0; t < 3; t++) {
        double sr[MAX_REPS], gp[MAX_REPS], ls[MAX_REPS], sc[MAX_REPS], rc[MAX_REPS], mn, mx;
        for (int k = 0; k < reps; k++) {
          sr[k] = r[x][t][k].send_rate;
          gp[k] = r[x][t][k].goodput;
          ls[k] = r[x][t][k].loss_pct;
          sc[k] = r[x][t][k].send_cpu_ns;
          rc[k] = r[x][t][k].recv_cpu_ns;
        }
        minmax(gp, reps, &mn, &mx);
        good[x][t] = bench_median(gp, reps);
        if (x == 1) scpu[t] = bench_median(sc, reps);
        char range[40];
        snprintf(range, sizeof range, "%.0fk-%.0fk", mn / 1e3, mx / 1e3);
        printf("%-26s %-22s %11.0f %11.0f %15s %8.3f %11.0f %11.0f\n", rx_label[x], tx_names[t], bench_median(sr, reps),
               good[x][t], range, bench_median(ls, reps), bench_median(sc, reps), bench_median(rc, reps));
      }
    }
    for (int x = 0; x < 2; x++) {
      double ratio = good[x][TX_LO] > 0 ? good[x][TX_LINK] / good[x][TX_LO] : 0;
      printf("ratios into %s (goodput medians): liblo/raw %.2f, link/liblo %.2f, link/raw %.2f\n", rx_label[x],
             good[x][TX_RAW] > 0 ? good[x][TX_LO] / good[x][TX_RAW] : 0, ratio,
             good[x][TX_RAW] > 0 ? good[x][TX_LINK] / good[x][TX_RAW] : 0);
      e2e_ratio[x] = ratio;
    }
    printf("sender CPU per message (raw sink runs): liblo/raw %.2f, link/liblo %.2f\n",
           scpu[TX_RAW] > 0 ? scpu[TX_LO] / scpu[TX_RAW] : 0, scpu[TX_LO] > 0 ? scpu[TX_LINK] / scpu[TX_LO] : 0);
    ok_e2e = e2e_ratio[0] >= 0.9 && e2e_ratio[1] >= 0.9;
    printf("\n");
  }

  if (do_drain) {
    struct drain_result r[4][MAX_REPS];
    for (int k = 0; k < dreps; k++)
      for (int m = 0; m < 4; m++) run_drain((enum rx_mode)m, dn, sink_port, sh, &r[m][k]);
    printf("bench_osc_throughput: receive capacity (drain: %ld datagrams queued while the receiver is stopped), "
           "median of %d interleaved runs\n",
           dn, dreps);
    printf("%-8s %-52s %12s %18s %8s %12s\n", "receiver", "path", "drain msg/s", "min-max", "loss %", "CPU ns/msg");
    static const char *const what[] = {"recvfrom() loop, counts only", "lo_server_recv_noblock() loop (bare liblo)",
                                       "link: uv_poll + recv + lo_server_dispatch_data",
                                       "mock DAW (uv_udp + liblo + REAPER handling)"};
    double rate[4];
    for (int m = 0; m < 4; m++) {
      double rt[MAX_REPS], ls[MAX_REPS], rc[MAX_REPS], mn, mx;
      for (int k = 0; k < dreps; k++) {
        rt[k] = r[m][k].rate;
        ls[k] = r[m][k].loss_pct;
        rc[k] = r[m][k].recv_cpu_ns;
      }
      minmax(rt, dreps, &mn, &mx);
      rate[m] = bench_median(rt, dreps);
      char range[40];
      snprintf(range, sizeof range, "%.0fk-%.0fk", mn / 1e3, mx / 1e3);
      printf("%-8s %-52s %12.0f %18s %8.3f %12.0f\n", rx_names[m], what[m], rate[m], range, bench_median(ls, dreps),
             bench_median(rc, dreps));
    }
    double ratio = rate[RX_RAW] > 0 ? rate[RX_LINK] / rate[RX_RAW] : 0;
    printf("ratios (drain medians): liblo/raw %.2f, link/raw %.2f, link/liblo %.2f, mock/raw %.2f\n",
           rate[RX_RAW] > 0 ? rate[RX_LO] / rate[RX_RAW] : 0, ratio, rate[RX_LO] > 0 ? rate[RX_LINK] / rate[RX_LO] : 0,
           rate[RX_RAW] > 0 ? rate[RX_MOCK] / rate[RX_RAW] : 0);
    drain_ratio = ratio;
    ok_drain = ratio >= 0.8;
    printf("\n");
  }
  close(sink);
  munmap(sh, sizeof *sh);
  if (do_e2e) {
    printf(
        "verdict: end to end into the mock DAW (receiver-bound: the mock's capacity decides), link/bare liblo = %.2f, "
        "target >= 0.9: %s\n",
        e2e_ratio[0], e2e_ratio[0] >= 0.9 ? "MET" : "MISSED");
    printf("verdict: end to end into a raw sink (sender-bound), link/bare liblo = %.2f, target >= 0.9: %s\n",
           e2e_ratio[1], e2e_ratio[1] >= 0.9 ? "MET" : "MISSED");
  }
  if (do_drain)
    printf("verdict: receive capacity link/raw = %.2f, target >= 0.8: %s\n", drain_ratio, ok_drain ? "MET" : "MISSED");
  return ok_e2e && ok_drain ? 0 : 3;
}
