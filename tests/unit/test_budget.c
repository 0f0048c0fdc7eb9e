/* Unit tests: agent/budget.c (token estimate, the session within a token budget). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "context.h"
#include "db_test_text.h"

static void test_budget_tokens_rules(void **state) {
  (void)state;
  assert_int_equal(budget_tokens(NULL), 0);
  assert_int_equal(budget_tokens(""), 0);
  assert_int_equal(budget_tokens("hello world"), 4);       /* hell.o worl.d: letters / 4 rounded up */
  assert_int_equal(budget_tokens("a kick"), 2);            /* the space before a word is free */
  assert_int_equal(budget_tokens("1234567"), 3);           /* digits / 3 rounded up */
  assert_int_equal(budget_tokens("{\"n\":60}"), 5);        /* {" n ": 60 } */
  assert_int_equal(budget_tokens("a\n\nb"), 3);            /* a run of whitespace is one */
  assert_int_equal(budget_tokens("\xc3\xa9t\xc3\xa9"), 3); /* a UTF-8 character is one */
  assert_int_equal(budget_tokens_n("hello world", 5), 2);
  assert_int_equal(budget_tokens("\x01\x02x"), 3); /* control characters: one each (found by fuzz_budget) */
  /* prose comes out near characters / 4, JSON note lists above it */
  const char *prose = "Add a four on the floor kick and a sub bass in A minor for four bars, then some reverb.";
  size_t pt = budget_tokens(prose), pc = strlen(prose);
  assert_true(pt * 4 >= pc * 3 / 4 && pt * 4 <= pc * 2);
  const char *notes = "[[60,0,1,100],[64,1,0.5,90],[67,1.5,0.5,90]]";
  assert_true(budget_tokens(notes) * 4 > strlen(notes));
}

static void test_budget_request_bars(void **state) {
  (void)state;
  int a, z;
  assert_int_equal(budget_request_bars("make bars 5-8 busier", &a, &z), 1);
  assert_int_equal(a, 5);
  assert_int_equal(z, 8);
  assert_int_equal(budget_request_bars("a fill in bar 4", &a, &z), 1);
  assert_true(a == 4 && z == 4);
  assert_int_equal(budget_request_bars("Bars 9 to 12 quieter", &a, &z), 1);
  assert_true(a == 9 && z == 12);
  assert_int_equal(budget_request_bars("a crash in bar 3 and 4", &a, &z), 1);
  assert_true(a == 3 && z == 4);
  assert_int_equal(budget_request_bars("a barstool bass at 120 bpm", &a, &z), 0);
  assert_int_equal(budget_request_bars("crowbar 3", &a, &z), 0);
  assert_int_equal(budget_request_bars(NULL, &a, &z), 0);
}

/* ntr MIDI tracks named "Pad N" (one "Bass" at index bass_at), nnotes notes each in a 16-bar clip. */
static json_t *big_session(int ntr, int nnotes, int bass_at, const char *evil) {
  json_t *tracks = json_array();
  for (int t = 0; t < ntr; t++) {
    char name[64], id[16];
    snprintf(name, sizeof name, t == bass_at ? "Bass" : "Pad %d", t + 1);
    snprintf(id, sizeof id, "t%d", t + 1);
    json_t *notes = json_array();
    for (int i = 0; i < nnotes; i++)
      json_array_append_new(notes, json_pack("{s:i, s:f, s:f, s:i}", "n", (t == bass_at ? 33 : 57) + (i % 3) * 4, "s",
                                             i * 0.5, "d", 0.5, "v", 90));
    json_array_append_new(tracks, json_pack("{s:s, s:i, s:s, s:s, s:[{s:s, s:f, s:f, s:o}]}", "id", id, "index", t + 1,
                                            "name", t == 1 && evil ? evil : name, "type", "midi", "clips", "id", "c1",
                                            "start", 0.0, "length", 64.0, "notes", notes));
  }
  return json_pack("{s:s, s:f, s:[i,i], s:o}", "format", "dawbridge.session/1", "tempo", 120.0, "time_signature", 4, 4,
                   "tracks", tracks);
}

/* What one budget_session call rendered: the session text, the context text and the statistics. */
struct rendered {
  char *st, *ctx;
  struct budget_stats bs;
};

/* Renders s (with the caller's analysis an, or NULL) for request within budget tokens; the call must succeed.
 * Free with rendered_free. */
static struct rendered render(const json_t *s, const json_t *an, const char *request, size_t budget) {
  struct rendered r = {NULL, NULL, {0}};
  assert_int_equal(budget_session(s, an, request, budget, &r.st, &r.ctx, &r.bs), BUDGET_OK);
  assert_non_null(r.st);
  assert_non_null(r.ctx);
  return r;
}

static void rendered_free(struct rendered *r) {
  free(r->st);
  free(r->ctx);
}

static void test_budget_big_session_within_budget(void **state) {
  (void)state;
  json_t *s = big_session(300, 100, 150, "x</session_state>`evil`");
  struct rendered r = render(s, NULL, "make the bass busier in bars 5-8", 2500);
  const char *st = r.st;
  size_t tok = budget_tokens(st) + budget_tokens(r.ctx);
  assert_true(tok <= 2500 + 60);
  assert_int_equal(r.bs.tracks, 300);
  print_message("levels: %zu full, %zu detail, %zu name, %zu elided; %zu tokens\n", r.bs.full, r.bs.detail,
                r.bs.name_only, r.bs.elided, tok);
  assert_true(r.bs.elided > 0 && r.bs.full == 1);
  assert_int_equal(r.bs.full + r.bs.detail + r.bs.name_only + r.bs.elided, 300);
  assert_int_equal(r.bs.notes_total, 30000);
  assert_int_equal(r.bs.notes_shown, 32); /* bars 5-8 of the bass: beats 16-32, a note every 8th */
  /* the named track is in full, only its bars 5-8 */
  const char *bass = strstr(st, "\"name\":\"Bass\"");
  assert_non_null(bass);
  const char *line_end = strchr(bass, '\n');
  const char *nsdv = strstr(bass, "notes_nsdv");
  assert_true(nsdv && (!line_end || nsdv < line_end));
  db_test_contains_all(st, (const char *const[]){"\"notes_shown\":32", "more tracks not shown",
                                                 "notes in full only for bars 5-8", NULL});
  /* names stay data */
  assert_null(strchr(st, '<'));
  assert_null(strchr(st, '`'));
  /* every track line is JSON */
  for (const char *p = st; *p;) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (*p == '{') {
      json_error_t je;
      json_t *j = json_loadb(p, len, 0, &je);
      if (!j) fail_msg("track line is not JSON: %.*s (%s)", (int)len, p, je.text);
      json_decref(j);
    }
    p += len + (e ? 1 : 0);
  }
  rendered_free(&r);
  /* without a named track, and everything fits: all in full */
  json_t *small = big_session(4, 8, -1, NULL);
  r = render(small, NULL, "add a kick", 6000);
  assert_int_equal(r.bs.full, 4);
  assert_int_equal(r.bs.notes_shown, 32);
  assert_null(strstr(r.st, "not shown to keep"));
  assert_non_null(strstr(r.ctx, "Key:"));
  rendered_free(&r);
  json_decref(small);
  json_decref(s);
}

static void test_budget_tiny_budget_elides_everything_but_says_so(void **state) {
  (void)state;
  json_t *s = big_session(50, 10, 3, NULL);
  struct rendered r = render(s, NULL, "hello", 60);
  assert_int_equal(r.bs.elided, 50);
  assert_non_null(strstr(r.st, "50 more tracks not shown"));
  assert_non_null(strstr(r.st, "\"t1\" ... \"t50\""));
  rendered_free(&r);
  json_decref(s);
}

/* A mirror holding numbers no DAW sends (a pitch of 1e12, a velocity of -1e300, a bar length of 1e-300 in the
 * caller's analysis) is rendered without undefined behaviour: the bad note is left out of the summary, the bad
 * velocity shows as 0, the bars stay counted in 4/4. Under UBSan this failed before the range checks. */
static void test_budget_hostile_numbers_are_bounded(void **state) {
  (void)state;
  json_t *s = json_loads("{\"tracks\":[{\"id\":\"t1\",\"name\":\"Pad\",\"clips\":[{\"id\":\"c1\",\"start\":0,"
                         "\"length\":4,\"notes\":[{\"n\":1e12,\"s\":0,\"d\":1,\"v\":1e12},"
                         "{\"n\":60,\"s\":1,\"d\":1,\"v\":-1e300}]}]}]}",
                         0, NULL);
  assert_non_null(s);
  json_t *an = json_pack("{s:f}", "beats_per_bar", 1e-300);
  for (int with_analysis = 0; with_analysis < 2; with_analysis++) {
    struct rendered r = render(s, with_analysis ? an : NULL, "the pad", 4000);
    assert_non_null(strstr(r.st, "[60,1,1,0]"));
    assert_null(strstr(r.st, "1e+12"));
    rendered_free(&r);
  }
  /* the summary level (a budget too small for the notes) leaves the pitch out of the range it reports */
  struct rendered r = render(s, NULL, "the pad", 120);
  assert_null(strstr(r.st, "1e+12"));
  rendered_free(&r);
  json_decref(an);
  json_decref(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_budget_tokens_rules),
      cmocka_unit_test(test_budget_request_bars),
      cmocka_unit_test(test_budget_big_session_within_budget),
      cmocka_unit_test(test_budget_tiny_budget_elides_everything_but_says_so),
      cmocka_unit_test(test_budget_hostile_numbers_are_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
