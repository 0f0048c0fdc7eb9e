/* db_skip.c: the suite's skip policy for cmocka tests (README "Tests": "A skipped test is not a pass").
 *
 * db_add_test() compiles every cmocka test with -D_skip=db_skip_policy, so cmocka's skip() macro
 * (`_skip(__FILE__, __LINE__)`) lands here instead of in cmocka. This file is compiled without that definition and
 * calls the real cmocka functions:
 *   - DAWBRIDGE_ALLOW_SKIP=1 (ctest sets it when the suite was configured with -DDAWBRIDGE_ALLOW_SKIP=ON): the
 *     test is skipped as cmocka would, and "<program> <file>:<line>" is appended to $DAWBRIDGE_SKIP_LOG, which the
 *     ctest test `skipped_tests` prints at the end of the run (and is itself reported as Skipped);
 *   - otherwise the test FAILS, saying where it could not run and how to allow skipping.
 * A test that calls skip() should print why just before (what is missing), as they do today. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void db_skip_policy(const char *const file, const int line);

void db_skip_policy(const char *const file, const int line) {
  const char *allow = getenv("DAWBRIDGE_ALLOW_SKIP");
  if (allow && strcmp(allow, "1") == 0) {
    const char *log = getenv("DAWBRIDGE_SKIP_LOG");
    if (log && *log) {
      FILE *f = fopen(log, "a");
      if (f) {
        fprintf(f, "%s %s:%d\n", program_invocation_short_name, file, line);
        fclose(f);
      }
    }
    print_message("SKIPPED (allowed by DAWBRIDGE_ALLOW_SKIP=1) at %s:%d\n", file, line);
    _skip(file, line);
    return;
  }
  print_error("%s:%d: this test cannot run here (see the reason above), and a skipped test is not a pass.\n"
              "Install what it needs (.ci/deps), or configure with -DDAWBRIDGE_ALLOW_SKIP=ON to skip it and have\n"
              "it listed by the ctest test 'skipped_tests'.\n",
              file, line);
  _fail(file, line);
}
