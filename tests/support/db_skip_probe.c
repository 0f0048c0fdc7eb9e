/* db_skip_probe.c: a cmocka suite whose only test calls skip(), built like every db_add_test() suite (skip() goes
 * through tests/support/db_skip.c). The top-level CMakeLists.txt runs it to check the skip policy itself: without
 * DAWBRIDGE_ALLOW_SKIP=1 it must fail; with it, it must pass as skipped and append itself to DAWBRIDGE_SKIP_LOG. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

static void test_probe_cannot_run(void **state) {
  (void)state;
  fprintf(stderr, "probe: pretending that something this test needs is missing\n");
  skip();
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_probe_cannot_run)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
