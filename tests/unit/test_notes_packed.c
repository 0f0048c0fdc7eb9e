/* notes_packed: the companion's packed note list (PROTOCOL.md "Bulk notes"): decode, encode, round trip, and the
 * bad inputs refused with a message (data-driven). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notes_packed.h"

static void test_notes_packed_decode_values(void **st) {
  (void)st;
  const char *t = "36 1920 480 90 9;60 0 1 127 0;127 3840 960 1 15;";
  json_t *a = NULL;
  char err[256] = "";
  assert_int_equal(packed_decode(t, strlen(t), 10, &a, err, sizeof err), PACKED_OK);
  assert_int_equal(json_array_size(a), 3);
  const json_t *o = json_array_get(a, 0);
  assert_int_equal(json_integer_value(json_object_get(o, "n")), 36);
  assert_true(fabs(json_number_value(json_object_get(o, "s")) - 1.0) < 1e-12);
  assert_true(fabs(json_number_value(json_object_get(o, "d")) - 0.25) < 1e-12);
  assert_int_equal(json_integer_value(json_object_get(o, "v")), 90);
  assert_int_equal(json_integer_value(json_object_get(o, "c")), 9);
  /* 1 tick = 1/1920 beat, rounded to 6 decimals as the companions report JSON notes */
  assert_true(fabs(json_number_value(json_object_get(json_array_get(a, 1), "d")) - 0.000521) < 1e-12);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 2), "c")), 15);
  json_decref(a);
  /* empty text, whitespace: no notes */
  assert_int_equal(packed_decode("", 0, 10, &a, err, sizeof err), PACKED_OK);
  assert_int_equal(json_array_size(a), 0);
  json_decref(a);
  assert_int_equal(packed_decode(" \n", 2, 10, &a, err, sizeof err), PACKED_OK);
  assert_int_equal(json_array_size(a), 0);
  json_decref(a);
  /* not NUL-terminated: only len bytes are read */
  char buf[] = {'6', '0', ' ', '0', ' ', '5', ' ', '9', ' ', '1', '2'};
  assert_int_equal(packed_decode(buf, 10, 10, &a, err, sizeof err), PACKED_OK);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "c")), 1);
  json_decref(a);
}

static const struct {
  const char *text, *says;
  int code;
} bad[] = {
    {"60 0 10 100", "five integers", PACKED_EINVAL},
    {"60 0 10 100 0 7", "want ';'", PACKED_EINVAL},
    {"60 0 x 100 0", "d must be", PACKED_EINVAL},
    {"-1 0 10 100 0", "n must be", PACKED_EINVAL},
    {"128 0 10 100 0", "n = 128", PACKED_EINVAL},
    {"60 0 0 100 0", "d = 0", PACKED_EINVAL},
    {"60 0 10 128 0", "v = 128", PACKED_EINVAL},
    {"60 0 10 100 16", "c = 16", PACKED_EINVAL},
    {"60 0 10 100 0;;", "n must be", PACKED_EINVAL},
    {";", "n must be", PACKED_EINVAL},
    {"60 99999999999 10 100 0", "at most 10 digits", PACKED_EINVAL},
    {"60 2000000001 10 100 0", "s = 2000000001", PACKED_EINVAL},
    {"60 0 10 100 0;61 0 10 100 0,", "want ';'", PACKED_EINVAL},
    {"60 0 10 100 0 ;61 0 10 100 0;62 0 10 100 0;63 0 10 100 0", "more than 3", PACKED_ETOOMANY},
    {"60\0 0 10 100 0", "five integers", PACKED_EINVAL},
    {"60 +1 10 100 0", "s must be", PACKED_EINVAL},
    {"60 1.5 10 100 0", "five integers", PACKED_EINVAL},
    {"{\"n\":60}", "n must be", PACKED_EINVAL},
};

static void test_notes_packed_decode_refuses_garbage(void **st) {
  (void)st;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    size_t len = strlen(bad[i].text);
    if (i == 14) len = 15; /* the embedded NUL */
    json_t *a = (json_t *)1;
    char err[256] = "";
    int rc = packed_decode(bad[i].text, len, 3, &a, err, sizeof err);
    if (rc != bad[i].code) fail_msg("case %zu '%s': rc %d (%s), want %d", i, bad[i].text, rc, err, bad[i].code);
    assert_null(a);
    if (!strstr(err, bad[i].says)) fail_msg("case %zu '%s': message '%s' lacks '%s'", i, bad[i].text, err, bad[i].says);
  }
}

static void test_notes_packed_encode_round_trip(void **st) {
  (void)st;
  json_t *notes = json_array();
  for (int i = 0; i < 5000; i++)
    json_array_append_new(notes, json_pack("{s:i,s:f,s:f,s:i}", "n", 20 + i % 100, "s", i * 0.0625 + (i % 3) / 3.0, "d",
                                           0.125 + (i % 5) * 0.1, "v", 1 + i % 127));
  json_array_append_new(notes, json_pack("{s:i,s:f,s:f,s:i,s:i}", "n", 60, "s", 0.0, "d", 1e-6, "v", 64, "c", 9));
  strbuf_t b = STRBUF_INIT;
  char err[256];
  assert_int_equal(packed_encode(notes, 0, 100000, &b, err, sizeof err), PACKED_OK);
  json_t *back = NULL;
  assert_int_equal(packed_decode(b.s, b.len, 10000, &back, err, sizeof err), PACKED_OK);
  assert_int_equal(json_array_size(back), json_array_size(notes));
  for (size_t i = 0; i < json_array_size(notes); i++) {
    const json_t *w = json_array_get(notes, i), *g = json_array_get(back, i);
    assert_int_equal(json_integer_value(json_object_get(w, "n")), json_integer_value(json_object_get(g, "n")));
    assert_int_equal(json_integer_value(json_object_get(w, "v")), json_integer_value(json_object_get(g, "v")));
    /* within half a tick (plus the 6-decimal rounding); a length below one tick becomes one tick */
    assert_true(fabs(json_number_value(json_object_get(w, "s")) - json_number_value(json_object_get(g, "s"))) <=
                0.5 / PACKED_TICKS + 1e-6);
    assert_true(fabs(json_number_value(json_object_get(w, "d")) - json_number_value(json_object_get(g, "d"))) <=
                1.0 / PACKED_TICKS + 1e-6);
  }
  assert_int_equal(json_integer_value(json_object_get(json_array_get(back, 5000), "c")), 9);
  json_decref(back);
  /* a slice */
  strbuf_clear(&b);
  assert_int_equal(packed_encode(notes, 1, 2, &b, err, sizeof err), PACKED_OK);
  assert_string_equal(b.s, "21 760 432 2 0;22 1520 624 3 0");
  /* a note the packed form cannot carry */
  json_t *neg = json_pack("[{s:i,s:f,s:f,s:i}]", "n", 60, "s", -1.0, "d", 1.0, "v", 100);
  strbuf_clear(&b);
  assert_int_equal(packed_encode(neg, 0, 1, &b, err, sizeof err), PACKED_EINVAL);
  assert_non_null(strstr(err, "note 1"));
  json_decref(neg);
  json_t *str = json_pack("[{s:s,s:f,s:f,s:i}]", "n", "C4", "s", 0.0, "d", 1.0, "v", 100);
  assert_int_equal(packed_encode(str, 0, 1, &b, err, sizeof err), PACKED_EINVAL);
  json_decref(str);
  strbuf_reset(&b);
  json_decref(notes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_notes_packed_decode_values),
      cmocka_unit_test(test_notes_packed_decode_refuses_garbage),
      cmocka_unit_test(test_notes_packed_encode_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
