/* db_test_util: see db_test_util.h. */
#include "db_test_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int free_port(int type) {
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t l = sizeof a;
  int rc = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &l) == 0;
  close(fd);
  return rc ? ntohs(a.sin_port) : -1;
}

int db_test_free_udp_port(void) { return free_port(SOCK_DGRAM); }
int db_test_free_tcp_port(void) { return free_port(SOCK_STREAM); }

int db_test_wait_udp_bound(const char *host, int port, int timeout_ms) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (port <= 0 || port > 65535 || inet_pton(AF_INET, host ? host : "127.0.0.1", &a.sin_addr) != 1) return -1;
  for (int waited = 0; waited <= timeout_ms; waited += 5) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return -1;
    int r = bind(fd, (struct sockaddr *)&a, sizeof a), e = errno;
    close(fd);
    if (r != 0 && e == EADDRINUSE) return 0;
    if (r != 0) return -1;
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

char *db_test_tmpdir(const char *tag) {
  const char *base = getenv("TMPDIR");
  char tmpl[PATH_MAX];
  int n = snprintf(tmpl, sizeof tmpl, "%s/dawbridge-%s-XXXXXX", base && *base ? base : "/tmp", tag ? tag : "test");
  if (n < 0 || (size_t)n >= sizeof tmpl) {
    errno = ENAMETOOLONG;
    return NULL;
  }
  if (!mkdtemp(tmpl)) return NULL;
  return strdup(tmpl);
}

/* Depth first; a directory gets u+rwx first (tests make read-only ones), links are removed, never followed. */
static int rm_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
  if ((st.st_mode & 0700) != 0700) chmod(path, (st.st_mode & 07777) | 0700);
  DIR *d = opendir(path);
  if (!d) return -1;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *sub = malloc(strlen(path) + strlen(e->d_name) + 2);
    if (!sub) {
      rc = -1;
      break;
    }
    sprintf(sub, "%s/%s", path, e->d_name);
    if (rm_tree(sub)) rc = -1;
    free(sub);
  }
  closedir(d);
  if (rmdir(path) != 0 && errno != ENOENT) rc = -1;
  return rc;
}

int db_test_rm_rf(const char *path) {
  if (!path || !*path) return -1;
  return rm_tree(path);
}

char *db_test_slurp(const char *path, size_t *len) {
  if (len) *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  while (b) {
    n += fread(b + n, 1, cap - n - 1, f);
    if (n < cap - 1) break;
    char *nb = realloc(b, cap * 2);
    if (!nb) {
      free(b);
      b = NULL;
      break;
    }
    b = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (!b || bad) {
    free(b);
    return NULL;
  }
  b[n] = '\0';
  if (len) *len = n;
  return b;
}

double db_test_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

const char *db_test_source_dir(void) {
  const char *s = getenv("DAWBRIDGE_SOURCE_DIR");
  if (s && *s) return s;
#ifdef DAWBRIDGE_SOURCE_DIR
  return DAWBRIDGE_SOURCE_DIR;
#else
  return ".";
#endif
}

const char *db_test_binary_dir(void) {
  const char *b = getenv("DAWBRIDGE_BINARY_DIR");
  if (b && *b) return b;
#ifdef DAWBRIDGE_BINARY_DIR
  return DAWBRIDGE_BINARY_DIR;
#else
  return ".";
#endif
}

void db_test_exe_path(char *out, size_t len, const char *name, const char *given) {
  if (given) {
    snprintf(out, len, "%s", given);
    return;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = '\0';
      snprintf(out, len, "%s/%s", self, name);
      if (access(out, X_OK) == 0) return;
    }
  }
  snprintf(out, len, "%s/%s", db_test_binary_dir(), name);
}

pid_t db_test_fork_piped(int *fd) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    errno = e;
    return -1;
  }
  close(fds[pid == 0 ? 0 : 1]);
  *fd = fds[pid == 0 ? 1 : 0];
  return pid;
}
