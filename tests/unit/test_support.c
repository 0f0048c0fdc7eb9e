/* test_support: the shared test/bench helpers (tests/support/db_test_util.h) do what they say: a port that can be
 * bound, a temporary tree made and removed, files read whole, the build directory and programs found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "db_test_util.h"

static int can_bind(int type, int port) {
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) return 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

static void test_support_free_ports_can_be_bound(void **state) {
  (void)state;
  int u = db_test_free_udp_port(), t = db_test_free_tcp_port();
  assert_true(u > 0 && u < 65536);
  assert_true(t > 0 && t < 65536);
  assert_true(can_bind(SOCK_DGRAM, u));
  assert_true(can_bind(SOCK_STREAM, t));
}

static void write_file(const char *path, const char *text, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

static void test_support_tmpdir_slurp_and_rm_rf(void **state) {
  (void)state;
  char *d = db_test_tmpdir("support");
  assert_non_null(d);
  assert_non_null(strstr(d, "/dawbridge-support-"));
  struct stat st;
  assert_int_equal(stat(d, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  char sub[1024], file[1100], big[1100], link[1100];
  snprintf(sub, sizeof sub, "%s/a/b", d);
  snprintf(file, sizeof file, "%s/a/b/f.txt", d);
  snprintf(big, sizeof big, "%s/big.bin", d);
  snprintf(link, sizeof link, "%s/a/up", d);
  char a[1100];
  snprintf(a, sizeof a, "%s/a", d);
  assert_int_equal(mkdir(a, 0700), 0);
  assert_int_equal(mkdir(sub, 0700), 0);
  write_file(file, "hello\nworld", 11);
  /* a file larger than any first read, with NULs in it */
  size_t bn = 100000;
  char *bytes = malloc(bn);
  for (size_t i = 0; i < bn; i++) bytes[i] = (char)(i % 251);
  write_file(big, bytes, bn);
  /* a link out of the tree: removing the tree must not follow it */
  char outside[1100];
  snprintf(outside, sizeof outside, "%s-keep", d);
  assert_int_equal(mkdir(outside, 0700), 0);
  assert_int_equal(symlink(outside, link), 0);

  size_t len = 0;
  char *s = db_test_slurp(file, &len);
  assert_string_equal(s, "hello\nworld");
  assert_int_equal(len, 11);
  free(s);
  s = db_test_slurp(big, &len);
  assert_int_equal(len, bn);
  assert_memory_equal(s, bytes, bn);
  free(s);
  free(bytes);
  assert_null(db_test_slurp("/nonexistent/dawbridge/file", &len));
  assert_int_equal(len, 0);

  assert_int_equal(chmod(sub, 0500), 0); /* read-only, as some tests leave them */
  assert_int_equal(db_test_rm_rf(d), 0);
  assert_int_not_equal(stat(d, &st), 0);
  assert_int_equal(stat(outside, &st), 0); /* the link's target is still there */
  assert_int_equal(db_test_rm_rf(outside), 0);
  assert_int_equal(db_test_rm_rf(d), 0); /* already gone: fine */
  free(d);
}

static void test_support_finds_the_build_and_its_programs(void **state) {
  (void)state;
  const char *bd = db_test_binary_dir();
  assert_non_null(bd);
  char p[4096];
  db_test_exe_path(p, sizeof p, "test_support", NULL);
  assert_int_equal(access(p, X_OK), 0); /* this very program, next to itself */
  db_test_exe_path(p, sizeof p, "mock-daw", "/given/path");
  assert_string_equal(p, "/given/path");
  double t0 = db_test_now_ms(), t1 = db_test_now_ms();
  assert_true(t0 > 0 && t1 >= t0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_support_free_ports_can_be_bound),
      cmocka_unit_test(test_support_tmpdir_slurp_and_rm_rf),
      cmocka_unit_test(test_support_finds_the_build_and_its_programs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
