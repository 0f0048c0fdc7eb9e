/* bench_util: small helpers the wire benchmarks share (a free loopback port, where mock-daw is). */
#ifndef DAWBRIDGE_BENCH_UTIL_H
#define DAWBRIDGE_BENCH_UTIL_H

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int free_udp_port(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  return ntohs(a.sin_port);
}

static inline void mock_exe_path(char *out, size_t len, const char *given) {
  if (given) {
    snprintf(out, len, "%s", given);
    return;
  }
  char self[PATH_MAX - 32];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(out, len, "%s/mock-daw", self);
    if (access(out, X_OK) == 0) return;
  }
  snprintf(out, len, "%s/mock-daw", DAWBRIDGE_BINARY_DIR);
}

#endif
