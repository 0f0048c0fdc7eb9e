/* test_strbuf: the growable buffer (util/strbuf.h): text, binary, formatting past any initial size, JSON string
 * literals, take/reset/clear, and the sticky out-of-memory state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"

static void test_strbuf_appends_text_and_takes_it(void **state) {
  (void)state;
  strbuf_t b = STRBUF_INIT;
  strbuf_puts(&b, "ab");
  strbuf_putc(&b, 'c');
  strbuf_puts(&b, NULL);
  strbuf_appendf(&b, "-%d-%s", 42, "x");
  assert_string_equal(b.s, "abc-42-x");
  assert_int_equal(b.len, 8);
  size_t len = 0;
  char *s = strbuf_take(&b, &len);
  assert_string_equal(s, "abc-42-x");
  assert_int_equal(len, 8);
  assert_null(b.s);
  assert_int_equal(b.len, 0);
  free(s);
}

static void test_strbuf_take_of_empty_is_empty_string(void **state) {
  (void)state;
  strbuf_t b = STRBUF_INIT;
  char *s = strbuf_take(&b, NULL);
  assert_non_null(s);
  assert_string_equal(s, "");
  free(s);
}

static void test_strbuf_formats_beyond_every_growth_step(void **state) {
  (void)state;
  strbuf_t b = STRBUF_INIT;
  char big[5000];
  memset(big, 'q', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  for (int i = 0; i < 50; i++) strbuf_appendf(&b, "%d:%s;", i, i % 7 ? "s" : big);
  size_t want = 0;
  for (int i = 0; i < 50; i++) want += (size_t)snprintf(NULL, 0, "%d:%s;", i, i % 7 ? "s" : big);
  assert_int_equal(b.len, want);
  assert_int_equal(strlen(b.s), want);
  assert_memory_equal(b.s, "0:qqq", 5);
  assert_non_null(strstr(b.s, ";1:s;2:s;"));
  assert_true(b.cap > b.len);
  strbuf_reset(&b);
  assert_null(b.s);
}

static void test_strbuf_keeps_binary_bytes(void **state) {
  (void)state;
  strbuf_t b = STRBUF_INIT;
  const unsigned char bytes[] = {0x4d, 0x54, 0x00, 0xff, 0x00, 0x7f};
  for (int i = 0; i < 1000; i++) strbuf_append(&b, bytes, sizeof bytes);
  assert_int_equal(b.len, 6000);
  assert_memory_equal(b.s + 5994, bytes, sizeof bytes);
  assert_int_equal(b.s[b.len], '\0');
  strbuf_clear(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.s, "");
  strbuf_reset(&b);
}

static void test_strbuf_json_string_escapes(void **state) {
  (void)state;
  static const struct {
    const char *in, *want;
  } cases[] = {
      {"", "\"\""},
      {NULL, "\"\""},
      {"plain", "\"plain\""},
      {"a\"b\\c", "\"a\\\"b\\\\c\""},
      {"l1\nl2\r\t", "\"l1\\nl2\\r\\t\""},
      {"\x01\x1f", "\"\\u0001\\u001f\""},
      {"caf\xc3\xa9 \xf0\x9f\x8e\xb9", "\"caf\xc3\xa9 \xf0\x9f\x8e\xb9\""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    strbuf_t b = STRBUF_INIT;
    strbuf_append_json_string(&b, cases[i].in);
    char *s = strbuf_take(&b, NULL);
    assert_string_equal(s, cases[i].want);
    free(s);
  }
}

static void test_strbuf_out_of_memory_is_sticky(void **state) {
  (void)state;
  strbuf_t b = STRBUF_INIT;
  strbuf_puts(&b, "partial");
  /* a request that cannot be met: the buffer turns oom, keeps nothing more, and take gives NULL */
  assert_int_equal(strbuf_reserve(&b, (size_t)-1), -1);
  assert_true(b.oom);
  strbuf_puts(&b, "more");
  strbuf_appendf(&b, "%s", "and more");
  assert_int_equal(b.len, 7);
  assert_null(strbuf_take(&b, NULL));
  assert_false(b.oom);
  assert_null(b.s);
  strbuf_puts(&b, "again");
  char *s = strbuf_take(&b, NULL);
  assert_string_equal(s, "again");
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strbuf_appends_text_and_takes_it),
      cmocka_unit_test(test_strbuf_take_of_empty_is_empty_string),
      cmocka_unit_test(test_strbuf_formats_beyond_every_growth_step),
      cmocka_unit_test(test_strbuf_keeps_binary_bytes),
      cmocka_unit_test(test_strbuf_json_string_escapes),
      cmocka_unit_test(test_strbuf_out_of_memory_is_sticky),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
