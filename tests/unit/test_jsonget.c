/* test_jsonget: util/jsonget.h's getters: a number (integer or real) is read, anything else (absent key, NULL, a
 * string, a boolean, null, a non-object parent) gives the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "jsonget.h"

static void test_jnum_or_numbers_and_others(void **st) {
  (void)st;
  json_t *i = json_integer(7), *r = json_real(-2.5), *s = json_string("3"), *t = json_true(), *n = json_null();
  assert_true(jnum_or(i, 1) == 7.0);
  assert_true(jnum_or(r, 1) == -2.5);
  assert_true(jnum_or(s, 1) == 1.0);
  assert_true(jnum_or(t, 1) == 1.0);
  assert_true(jnum_or(n, 4) == 4.0);
  assert_true(jnum_or(NULL, 9) == 9.0);
  json_decref(i);
  json_decref(r);
  json_decref(s);
  json_decref(t);
  json_decref(n);
}

static void test_jget_num_keys(void **st) {
  (void)st;
  json_t *o = json_pack("{s:i,s:f,s:s,s:n}", "bpm", 120, "start", 1.5, "name", "x", "none");
  assert_non_null(o);
  assert_true(jget_num(o, "bpm", 0) == 120.0);
  assert_true(jget_num(o, "start", 0) == 1.5);
  assert_true(jget_num(o, "name", -1) == -1.0);
  assert_true(jget_num(o, "none", -1) == -1.0);
  assert_true(jget_num(o, "absent", 42) == 42.0);
  json_t *a = json_array();
  assert_true(jget_num(a, "bpm", 3) == 3.0); /* not an object */
  assert_true(jget_num(NULL, "bpm", 5) == 5.0);
  json_decref(a);
  json_decref(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jnum_or_numbers_and_others),
      cmocka_unit_test(test_jget_num_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
