/* bench_util: see bench_util.h. */
#define _GNU_SOURCE /* sched_setaffinity */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <lo/lo.h>

void bench_pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

pid_t bench_spawn_mock(const char *exe, const char *dialect, int port, int fport, int tracks, int cpu) {
  char p[16], f[16], t[16];
  snprintf(p, sizeof p, "%d", port);
  snprintf(f, sizeof f, "%d", fport);
  snprintf(t, sizeof t, "%d", tracks);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    bench_pin_to(cpu);
    execl(exe, exe, "--dialect", dialect, "--port", p, "--feedback-port", f, "--tracks", t, "--quiet", (char *)NULL);
    fprintf(stderr, "cannot run %s: %s\n", exe, strerror(errno));
    _exit(127);
  }
  return pid;
}

int bench_wait_ping(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  lo_message m = lo_message_new();
  size_t len = 0;
  void *data = lo_message_serialise(m, "/mock/ping", NULL, &len);
  int ok = 0;
  char buf[2048];
  for (int i = 0; i < 100 && !ok; i++) {
    sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
    ssize_t n;
    while (!ok && (n = recv(fd, buf, sizeof buf, 0)) > 0)
      if (n >= 10 && !memcmp(buf, "/mock/pong", 10)) ok = 1;
  }
  free(data);
  lo_message_free(m);
  close(fd);
  return ok ? 0 : -1;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

void bench_sort(double *v, int n) {
  if (n > 0) qsort(v, (size_t)n, sizeof *v, cmp_dbl);
}

double bench_median(const double *v, int n) {
  if (n <= 0) return 0;
  double *t = malloc(sizeof *t * (size_t)n);
  if (!t) return 0;
  memcpy(t, v, sizeof *v * (size_t)n);
  bench_sort(t, n);
  double m = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
  free(t);
  return m;
}

double bench_pct(double *v, int n, double q) {
  if (n <= 0) return 0;
  bench_sort(v, n);
  size_t k = (size_t)(q * (n - 1) + 0.5);
  return v[k];
}

int bench_clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

int bench_usage_exit(const char *arg, void (*usage)(void)) {
  usage();
  return strcmp(arg, "-h") && strcmp(arg, "--help") ? 2 : 0;
}
