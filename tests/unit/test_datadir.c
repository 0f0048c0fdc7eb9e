/* test_datadir: the data lookup (bridge/datadir.h). From the build tree it is the source tree (source layout);
 * DAWBRIDGE_DATA_DIR is taken as given (install layout, no fall-through); bad arguments and short buffers are errors.
 * The install cases (<exe>/../share/dawbridge) are test_install_runs_without_source_tree (tests/install/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datadir.h"

static const char *srcdir(void) {
  const char *s = getenv("DAWBRIDGE_SOURCE_DIR");
  return s && *s ? s : DAWBRIDGE_SOURCE_DIR;
}

static int ends_with(const char *s, const char *tail) {
  size_t a = strlen(s), b = strlen(tail);
  return a >= b && !strcmp(s + a - b, tail);
}

static void test_datadir_build_tree_is_the_source_tree(void **state) {
  unsetenv("DAWBRIDGE_DATA_DIR");
  char root[PATH_MAX], err[512] = "", want[PATH_MAX], got[PATH_MAX];
  int src = datadir_root(root, sizeof root, err, sizeof err);
  if (src < 0) print_error("%s\n", err);
  assert_int_equal(src, DATADIR_FROM_BUILD_TREE);
  assert_non_null(realpath(srcdir(), want));
  assert_non_null(realpath(root, got));
  assert_string_equal(got, want);
  char p[PATH_MAX];
  assert_int_equal(datadir_path(DATADIR_PROMPTS, p, sizeof p, err, sizeof err), DATADIR_OK);
  assert_true(ends_with(p, "/agent/prompts"));
  assert_int_equal(datadir_path(DATADIR_OSC_MAPS, p, sizeof p, err, sizeof err), DATADIR_OK);
  assert_true(ends_with(p, "/osc-maps"));
  assert_int_equal(datadir_file(DATADIR_EXAMPLES, "demo-transcript.json", p, sizeof p, err, sizeof err), DATADIR_OK);
  assert_int_equal(access(p, R_OK), 0);
  assert_string_equal(datadir_source_name(src), "build tree");
}

static void test_datadir_env_is_taken_as_given(void **state) {
  char tmp[] = "/tmp/dawbridge-datadir-XXXXXX";
  assert_non_null(mkdtemp(tmp));
  char sub[PATH_MAX];
  snprintf(sub, sizeof sub, "%s/prompts", tmp);
  assert_int_equal(mkdir(sub, 0700), 0);
  setenv("DAWBRIDGE_DATA_DIR", tmp, 1);

  char root[PATH_MAX], err[512] = "", p[PATH_MAX];
  assert_int_equal(datadir_root(root, sizeof root, err, sizeof err), DATADIR_FROM_ENV);
  assert_string_equal(root, tmp);
  /* install layout: prompts/, not agent/prompts */
  assert_int_equal(datadir_path(DATADIR_PROMPTS, p, sizeof p, err, sizeof err), DATADIR_OK);
  assert_string_equal(p, sub);
  /* an item missing there is an error naming the path, not a fall-through to the source tree */
  err[0] = '\0';
  assert_int_equal(datadir_path(DATADIR_OSC_MAPS, p, sizeof p, err, sizeof err), DATADIR_ENOTFOUND);
  assert_non_null(strstr(err, tmp));
  assert_non_null(strstr(err, "/osc-maps not found"));
  assert_non_null(strstr(err, "DAWBRIDGE_DATA_DIR"));

  /* not a directory */
  char file[PATH_MAX];
  snprintf(file, sizeof file, "%s/plain", tmp);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  setenv("DAWBRIDGE_DATA_DIR", file, 1);
  assert_int_equal(datadir_root(root, sizeof root, err, sizeof err), DATADIR_ENOTFOUND);
  assert_non_null(strstr(err, "is not a directory"));
  /* empty means unset */
  setenv("DAWBRIDGE_DATA_DIR", "", 1);
  assert_int_equal(datadir_root(root, sizeof root, err, sizeof err), DATADIR_FROM_BUILD_TREE);

  unsetenv("DAWBRIDGE_DATA_DIR");
  unlink(file);
  rmdir(sub);
  rmdir(tmp);
}

static void test_datadir_bad_arguments_and_short_buffers(void **state) {
  unsetenv("DAWBRIDGE_DATA_DIR");
  char small[8], p[PATH_MAX], err[256] = "";
  assert_int_equal(datadir_root(small, sizeof small, err, sizeof err), DATADIR_ETOOLONG);
  assert_int_equal(datadir_root(NULL, 0, err, sizeof err), DATADIR_EARG);
  assert_int_equal(datadir_path((enum datadir_item)99, p, sizeof p, err, sizeof err), DATADIR_EARG);
  assert_int_equal(datadir_path((enum datadir_item) - 1, p, sizeof p, err, sizeof err), DATADIR_EARG);
  assert_int_equal(datadir_file(DATADIR_EXAMPLES, "/etc/passwd", p, sizeof p, err, sizeof err), DATADIR_EARG);
  assert_int_equal(datadir_file(DATADIR_EXAMPLES, NULL, p, sizeof p, err, sizeof err), DATADIR_EARG);
  char mid[PATH_MAX];
  assert_true(datadir_path(DATADIR_EXAMPLES, mid, sizeof mid, err, sizeof err) == DATADIR_OK);
  assert_int_equal(datadir_file(DATADIR_EXAMPLES, "demo-transcript.json", p, strlen(mid) + 3, err, sizeof err),
                   DATADIR_ETOOLONG);
  assert_string_equal(datadir_strerror(DATADIR_ENOTFOUND), "data directory not found");
  assert_string_equal(datadir_strerror(12345), "unknown datadir error");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_datadir_build_tree_is_the_source_tree),
      cmocka_unit_test(test_datadir_env_is_taken_as_given),
      cmocka_unit_test(test_datadir_bad_arguments_and_short_buffers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
