/* test_sse.c — the incremental SSE parser, data-driven: every case is fed whole, split at
 * every byte offset, and byte by byte; the dispatched events must be identical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

struct collect {
  char out[4096];
  size_t len;
  int stop_after; /* 0 = never */
  int seen;
};

static int on_event(const struct sse_event *ev, void *data) {
  struct collect *c = data;
  int n =
      snprintf(c->out + c->len, sizeof c->out - c->len, "[%s|%s|%s|%ld]", ev->event, ev->data, ev->id, ev->retry_ms);
  if (n > 0) c->len += (size_t)n;
  assert_int_equal(strlen(ev->data), ev->data_len);
  c->seen++;
  return c->stop_after && c->seen >= c->stop_after;
}

struct sse_case {
  const char *name;
  const char *input;
  const char *expect;
};

static const struct sse_case cases[] = {
    {"basic", "data: hello\n\n", "[message|hello||-1]"},
    {"multiline", "data: a\ndata: b\n\n", "[message|a\nb||-1]"},
    {"fields", "event: ping\nid: 7\nretry: 1500\ndata: {}\n\n", "[ping|{}|7|1500]"},
    {"comment", ": keep-alive\n\ndata: x\n\n", "[message|x||-1]"},
    {"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", "[message|a||-1][message|b||-1]"},
    {"cr", "data: a\r\rdata: b\r\r", "[message|a||-1][message|b||-1]"},
    {"mixed_eol", "data: a\r\ndata: b\rdata: c\n\n", "[message|a\nb\nc||-1]"},
    {"no_space", "data:x\n\ndata:  y\n\n", "[message|x||-1][message| y||-1]"},
    {"bare_field", "data\n\n", "[message|||-1]"},
    {"event_without_data", "event: x\n\ndata: y\n\n", "[message|y||-1]"},
    {"unterminated", "data: z", ""},
    {"bom",
     "\xEF\xBB\xBF"
     "data: b\n\n",
     "[message|b||-1]"},
    {"unknown_field", "foo: bar\ndata: q\n\n", "[message|q||-1]"},
    {"bad_retry", "retry: 12a\ndata: x\n\n", "[message|x||-1]"},
    {"id_persists", "id: 1\ndata: a\n\ndata: b\n\n", "[message|a|1|-1][message|b|1|-1]"},
    {"openai_done", "data: {\"a\":1}\n\ndata: [DONE]\n\n", "[message|{\"a\":1}||-1][message|[DONE]||-1]"},
    {"anthropic", "event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\ndata: {}\n\n",
     "[message_start|{\"type\":\"message_start\"}||-1][ping|{}||-1]"},
    {"utf8", "data: h\xC3\xA9llo \xE2\x99\xAA\n\n", "[message|h\xC3\xA9llo \xE2\x99\xAA||-1]"},
};

static void run_split(const struct sse_case *c, size_t cut, int bytewise) {
  struct collect col = {0};
  sse_t *p = sse_new(0, on_event, &col);
  assert_non_null(p);
  size_t len = strlen(c->input);
  if (bytewise) {
    for (size_t i = 0; i < len; i++) assert_int_equal(sse_feed(p, c->input + i, 1), SSE_OK);
  } else {
    assert_int_equal(sse_feed(p, c->input, cut), SSE_OK);
    assert_int_equal(sse_feed(p, c->input + cut, len - cut), SSE_OK);
  }
  assert_int_equal(sse_finish(p), SSE_OK);
  if (strcmp(col.out, c->expect))
    fail_msg("case %s (cut %zu, bytewise %d): got %s want %s", c->name, cut, bytewise, col.out, c->expect);
  sse_free(p);
}

static void test_sse_cases_every_split(void **state) {
  (void)state;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    size_t len = strlen(cases[k].input);
    for (size_t cut = 0; cut <= len; cut++) run_split(&cases[k], cut, 0);
    run_split(&cases[k], 0, 1);
  }
}

static void test_sse_too_long(void **state) {
  (void)state;
  struct collect col = {0};
  sse_t *p = sse_new(16, on_event, &col);
  assert_int_equal(sse_feed(p, "data: 0123456789abcdefghij\n\n", 28), SSE_ETOOLONG);
  assert_int_equal(sse_feed(p, "data: x\n\n", 9), SSE_ETOOLONG); /* sticky */
  assert_int_equal(col.seen, 0);
  sse_free(p);
}

static void test_sse_stop_from_callback(void **state) {
  (void)state;
  struct collect col = {.stop_after = 1};
  sse_t *p = sse_new(0, on_event, &col);
  assert_int_equal(sse_feed(p, "data: a\n\ndata: b\n\n", 18), SSE_ESTOPPED);
  assert_int_equal(col.seen, 1);
  assert_int_equal(sse_count(p), 1);
  assert_string_equal(sse_strerror(SSE_ESTOPPED), "stopped by callback");
  sse_free(p);
}

static void test_sse_crlf_split_between_slices(void **state) {
  (void)state;
  struct collect col = {0};
  sse_t *p = sse_new(0, on_event, &col);
  /* "\r" ends one slice, "\n" starts the next: one line end, not two */
  assert_int_equal(sse_feed(p, "data: a\r", 8), SSE_OK);
  assert_int_equal(sse_feed(p, "\ndata: b\r", 9), SSE_OK);
  assert_int_equal(sse_feed(p, "\n\r", 2), SSE_OK);
  assert_int_equal(sse_feed(p, "\n", 1), SSE_OK);
  assert_string_equal(col.out, "[message|a\nb||-1]");
  sse_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sse_cases_every_split),
      cmocka_unit_test(test_sse_too_long),
      cmocka_unit_test(test_sse_stop_from_callback),
      cmocka_unit_test(test_sse_crlf_split_between_slices),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
