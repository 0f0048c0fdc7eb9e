/* Unit tests: app/web_req.c, the web face's request rules, as data: each case is a request (method, path, query,
 * Host, Origin, Authorization, WebSocket, Content-Length) and the status it must get (0 = served) with the
 * route; then the POST bodies (good, malformed, mistyped, unknown fields, oversized). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "web_req.h"

#define TOK "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define BAD "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee"

struct check_case {
  const char *name;
  enum webreq_method method;
  const char *path, *query, *host, *origin, *auth;
  int websocket;
  long long clen;
  int status;
  enum webreq_route route;
};

static const struct check_case check_cases[] = {
    {"page", WEBREQ_GET, "/", NULL, "127.0.0.1:8765", NULL, NULL, 0, -1, 0, WEBREQ_STATIC},
    {"page needs no token", WEBREQ_GET, "/app.js", NULL, "localhost:8765", NULL, NULL, 0, -1, 0, WEBREQ_STATIC},
    {"state, token in query", WEBREQ_GET, "/api/state", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 0, -1, 0,
     WEBREQ_STATE},
    {"state, token among args", WEBREQ_GET, "/api/state", "a=1&token=" TOK "&b=2", "127.0.0.1:8765", NULL, NULL, 0, -1,
     0, WEBREQ_STATE},
    {"history, bearer", WEBREQ_GET, "/api/history", NULL, "127.0.0.1:8765", "http://127.0.0.1:8765", "Bearer " TOK, 0,
     -1, 0, WEBREQ_HISTORY},
    {"iteration 3", WEBREQ_GET, "/api/iteration/3", NULL, "[::1]:8765", NULL, "bearer " TOK, 0, -1, 0,
     WEBREQ_ITERATION},
    {"ask", WEBREQ_POST, "/api/ask", NULL, "127.0.0.1:8765", "http://localhost:8765", "Bearer " TOK, 0, 20, 0,
     WEBREQ_ASK},
    {"events", WEBREQ_GET, "/api/events", "token=" TOK, "127.0.0.1:8765", "http://127.0.0.1:8765", NULL, 1, -1, 0,
     WEBREQ_EVENTS},
    /* refusals */
    {"no token", WEBREQ_GET, "/api/state", NULL, "127.0.0.1:8765", NULL, NULL, 0, -1, 401, 0},
    {"wrong token", WEBREQ_GET, "/api/state", "token=" BAD, "127.0.0.1:8765", NULL, NULL, 0, -1, 401, 0},
    {"token prefix", WEBREQ_GET, "/api/state", "token=0123", "127.0.0.1:8765", NULL, NULL, 0, -1, 401, 0},
    {"token longer", WEBREQ_GET, "/api/state", "token=" TOK "0", "127.0.0.1:8765", NULL, NULL, 0, -1, 401, 0},
    {"wrong bearer", WEBREQ_POST, "/api/ask", NULL, "127.0.0.1:8765", NULL, "Bearer " BAD, 0, 5, 401, 0},
    {"basic auth", WEBREQ_POST, "/api/ask", NULL, "127.0.0.1:8765", NULL, "Basic " TOK, 0, 5, 401, 0},
    {"websocket without token", WEBREQ_GET, "/api/events", NULL, "127.0.0.1:8765", NULL, NULL, 1, -1, 401, 0},
    {"foreign origin", WEBREQ_POST, "/api/ask", NULL, "127.0.0.1:8765", "http://evil.example", "Bearer " TOK, 0, 5, 403,
     0},
    {"foreign origin, other port", WEBREQ_GET, "/api/state", "token=" TOK, "127.0.0.1:8765", "http://127.0.0.1:9999",
     NULL, 0, -1, 403, 0},
    {"https origin", WEBREQ_GET, "/api/state", "token=" TOK, "127.0.0.1:8765", "https://127.0.0.1:8765", NULL, 0, -1,
     403, 0},
    {"null origin", WEBREQ_GET, "/api/state", "token=" TOK, "127.0.0.1:8765", "null", NULL, 0, -1, 403, 0},
    {"rebinding host", WEBREQ_GET, "/api/state", "token=" TOK, "evil.example:8765", NULL, NULL, 0, -1, 403, 0},
    {"rebinding host on the page", WEBREQ_GET, "/", NULL, "evil.example:8765", NULL, NULL, 0, -1, 403, 0},
    {"host without port", WEBREQ_GET, "/", NULL, "127.0.0.1", NULL, NULL, 0, -1, 403, 0},
    {"host other port", WEBREQ_GET, "/", NULL, "127.0.0.1:80", NULL, NULL, 0, -1, 403, 0},
    {"no host", WEBREQ_GET, "/", NULL, NULL, NULL, NULL, 0, -1, 403, 0},
    {"websocket foreign origin", WEBREQ_GET, "/api/events", "token=" TOK, "127.0.0.1:8765", "http://evil.example", NULL,
     1, -1, 403, 0},
    {"traversal", WEBREQ_GET, "/../etc/passwd", NULL, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"traversal dotdot name", WEBREQ_GET, "/..", NULL, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"hidden file", WEBREQ_GET, "/.git", NULL, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"subdirectory", WEBREQ_GET, "/img/x.png", NULL, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"encoded", WEBREQ_GET, "/%2e%2e%2fetc", NULL, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"backslash", WEBREQ_GET, "/..\\etc", NULL, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"unknown api", WEBREQ_GET, "/api/nope", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"iteration 0", WEBREQ_GET, "/api/iteration/0", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"iteration junk", WEBREQ_GET, "/api/iteration/3x", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 0, -1, 404, 0},
    {"GET a POST path", WEBREQ_GET, "/api/ask", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 0, -1, 405, 0},
    {"POST a GET path", WEBREQ_POST, "/api/state", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 0, 0, 405, 0},
    {"PUT", WEBREQ_OTHER, "/api/ask", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 0, 0, 405, 0},
    {"events without upgrade", WEBREQ_GET, "/api/events", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 0, -1, 400, 0},
    {"upgrade elsewhere", WEBREQ_GET, "/api/state", "token=" TOK, "127.0.0.1:8765", NULL, NULL, 1, -1, 404, 0},
    {"oversized", WEBREQ_POST, "/api/ask", NULL, "127.0.0.1:8765", NULL, "Bearer " TOK, 0, 65537, 413, 0},
    {"oversized without token is 401 first", WEBREQ_POST, "/api/ask", NULL, "127.0.0.1:8765", NULL, NULL, 0, 1000000,
     401, 0},
};

/* the policy of every case: the token TOK, the page on port 8765, loopback only */
static const struct webreq_policy POL = {.token = TOK, .port = 8765};

/* runs every case (case_fails(i) prints what is wrong and returns 1); the test fails after all ran if any did */
static void run_cases(size_t n, int (*case_fails)(size_t i)) {
  int failures = 0;
  for (size_t i = 0; i < n; i++) failures += case_fails(i);
  assert_int_equal(failures, 0);
}

static int check_case_fails(size_t i) {
  const struct check_case *c = &check_cases[i];
  struct webreq r = {c->method, c->path, c->query, c->host, c->origin, c->auth, c->websocket, c->clen};
  struct webreq_target t;
  char msg[256] = "";
  int st = webreq_check(&POL, &r, &t, msg, sizeof msg);
  if (st == c->status && (st != 0 || t.route == c->route) && (!st || msg[0])) return 0;
  printf("case \"%s\": status %d (want %d), route %d (want %d), message \"%s\"\n", c->name, st, c->status, (int)t.route,
         (int)c->route, msg);
  return 1;
}

static void test_web_req_check_table(void **state) {
  (void)state;
  run_cases(sizeof check_cases / sizeof check_cases[0], check_case_fails);
}

static void test_web_req_static_names(void **state) {
  (void)state;
  const struct webreq_policy *pol = &POL;
  struct webreq r = {.method = WEBREQ_GET, .path = "/", .host = "127.0.0.1:8765", .content_length = -1};
  struct webreq_target t;
  char msg[128];
  assert_int_equal(webreq_check(pol, &r, &t, msg, sizeof msg), 0);
  assert_string_equal(t.file, "index.html");
  r.path = "/style.css";
  assert_int_equal(webreq_check(pol, &r, &t, msg, sizeof msg), 0);
  assert_string_equal(t.file, "style.css");
  assert_string_equal(webreq_mime("style.css"), "text/css; charset=utf-8");
  assert_string_equal(webreq_mime("app.js"), "text/javascript; charset=utf-8");
  assert_string_equal(webreq_mime("index.html"), "text/html; charset=utf-8");
  assert_string_equal(webreq_mime("x"), "application/octet-stream");
  char longname[WEBREQ_NAME_MAX + 3];
  longname[0] = '/';
  memset(longname + 1, 'a', WEBREQ_NAME_MAX + 1);
  longname[WEBREQ_NAME_MAX + 2] = 0;
  r.path = longname;
  assert_int_equal(webreq_check(pol, &r, &t, msg, sizeof msg), 404);
}

/* --web-listen widens Host: the named address, or any IP literal for a wildcard; never a DNS name. Each case: the
 * listen address (NULL: loopback only), a Host (or an Origin, when origin is set) and whether it is accepted. */
struct listen_case {
  const char *listen, *value;
  int origin, ok;
};

static const struct listen_case listen_cases[] = {
    {"192.168.1.20", "192.168.1.20:8765", 0, 1},
    {"192.168.1.20", "127.0.0.1:8765", 0, 1},
    {"192.168.1.20", "192.168.1.21:8765", 0, 0},
    {"192.168.1.20", "evil.example:8765", 0, 0},
    {"192.168.1.20", "http://192.168.1.20:8765", 1, 1},
    {"0.0.0.0", "10.1.2.3:8765", 0, 1},
    {"0.0.0.0", "[fe80::1]:8765", 0, 1},
    {"0.0.0.0", "evil.example:8765", 0, 0},
    {"0.0.0.0", "1.2.3:8765", 0, 0},
    {"0.0.0.0", "10.1.2.3:8766", 0, 0},
    {NULL, "10.1.2.3:8765", 0, 0},
    {NULL, "127.0.0.1:8765:1", 0, 0},
    {NULL, "127.0.0.1:08765x", 0, 0},
    {NULL, "http://127.0.0.1:8765/path", 1, 0},
};

static int listen_case_fails(size_t i) {
  const struct listen_case *c = &listen_cases[i];
  struct webreq_policy pol = {.token = TOK, .port = 8765, .listen = c->listen};
  int ok = c->origin ? webreq_origin_ok(&pol, c->value) : webreq_host_ok(&pol, c->value);
  if (!ok == !c->ok) return 0;
  printf("listen %s: %s \"%s\" %s (want %s)\n", c->listen ? c->listen : "(loopback)", c->origin ? "Origin" : "Host",
         c->value, ok ? "accepted" : "refused", c->ok ? "accepted" : "refused");
  return 1;
}

static void test_web_req_listen_widened(void **state) {
  (void)state;
  run_cases(sizeof listen_cases / sizeof listen_cases[0], listen_case_fails);
}

struct body_case {
  const char *name;
  enum webreq_route route;
  const char *body;
  int status;
  const char *msg_contains;
  const char *text;
  int iteration, force, request;
};

static const struct body_case body_cases[] = {
    {"ask", WEBREQ_ASK, "{\"text\": \"add a kick\"}", 0, NULL, "add a kick", 0, 0, 0},
    {"ask unicode", WEBREQ_ASK, "{\"text\": \"Basse \\u00e9l\\u00e9gante\"}", 0, NULL, "Basse \xc3\xa9l\xc3\xa9gante",
     0, 0, 0},
    {"ask empty body", WEBREQ_ASK, "", 400, "\"text\"", NULL, 0, 0, 0},
    {"ask empty text", WEBREQ_ASK, "{\"text\": \"\"}", 400, "\"text\"", NULL, 0, 0, 0},
    {"ask number", WEBREQ_ASK, "{\"text\": 4}", 400, "\"text\"", NULL, 0, 0, 0},
    {"ask NUL", WEBREQ_ASK, "{\"text\": \"a\\u0000b\"}", 400, NULL, NULL, 0, 0, 0},
    {"malformed", WEBREQ_ASK, "{\"text\": \"add", 400, "malformed JSON at line 1", NULL, 0, 0, 0},
    {"trailing garbage", WEBREQ_ASK, "{\"text\": \"a\"} x", 400, "malformed JSON", NULL, 0, 0, 0},
    {"duplicate key", WEBREQ_ASK, "{\"text\": \"a\", \"text\": \"b\"}", 400, "malformed JSON", NULL, 0, 0, 0},
    {"not an object", WEBREQ_ASK, "[\"add a kick\"]", 400, "JSON object", NULL, 0, 0, 0},
    {"unknown field", WEBREQ_ASK, "{\"text\": \"a\", \"tool\": \"delete_track\"}", 400, "unknown field \"tool\"", NULL,
     0, 0, 0},
    {"invalid utf-8", WEBREQ_ASK, "{\"text\": \"\xff\"}", 400, "malformed JSON", NULL, 0, 0, 0},
    {"undo last", WEBREQ_UNDO, "", 0, NULL, NULL, 0, 0, 0},
    {"undo 3 force", WEBREQ_UNDO, "{\"iteration\": 3, \"force\": true}", 0, NULL, NULL, 3, 1, 0},
    {"undo negative", WEBREQ_UNDO, "{\"iteration\": -1}", 400, "\"iteration\"", NULL, 0, 0, 0},
    {"undo float", WEBREQ_UNDO, "{\"iteration\": 1.5}", 400, "\"iteration\"", NULL, 0, 0, 0},
    {"undo force string", WEBREQ_UNDO, "{\"force\": \"yes\"}", 400, "\"force\"", NULL, 0, 0, 0},
    {"restore", WEBREQ_RESTORE, "{\"iteration\": 2}", 0, NULL, NULL, 2, 0, 0},
    {"restore needs iteration", WEBREQ_RESTORE, "{}", 400, "\"iteration\"", NULL, 0, 0, 0},
    {"restore 0", WEBREQ_RESTORE, "{\"iteration\": 0}", 400, "\"iteration\"", NULL, 0, 0, 0},
    {"cancel running", WEBREQ_CANCEL, "", 0, NULL, NULL, 0, 0, 0},
    {"cancel 7", WEBREQ_CANCEL, "{\"request\": 7}", 0, NULL, NULL, 0, 0, 7},
    {"cancel huge", WEBREQ_CANCEL, "{\"request\": 99999999999}", 400, "\"request\"", NULL, 0, 0, 0},
    {"new", WEBREQ_NEW, "  \n", 0, NULL, NULL, 0, 0, 0},
    {"new with fields", WEBREQ_NEW, "{\"x\": 1}", 400, "unknown field", NULL, 0, 0, 0},
    {"state takes no body", WEBREQ_STATE, "{}", 400, NULL, NULL, 0, 0, 0},
};

static int body_case_fails(size_t i) {
  const struct body_case *c = &body_cases[i];
  struct webreq_body b;
  json_t *json = NULL;
  char msg[256] = "";
  int st = webreq_body(&POL, c->route, c->body, strlen(c->body), &b, &json, msg, sizeof msg);
  int bad = st != c->status || (c->msg_contains && !strstr(msg, c->msg_contains)) || (st && !msg[0]);
  if (!st && !c->status)
    bad |= (c->text ? !b.text || strcmp(b.text, c->text) : b.text != NULL) || b.iteration != c->iteration ||
           b.force != c->force || b.request != c->request;
  if (st && json) bad = 1;
  if (bad) printf("body case \"%s\": status %d (want %d), message \"%s\"\n", c->name, st, c->status, msg);
  json_decref(json);
  return bad;
}

static void test_web_req_body_table(void **state) {
  (void)state;
  run_cases(sizeof body_cases / sizeof body_cases[0], body_case_fails);
}

static void test_web_req_body_limit(void **state) {
  (void)state;
  struct webreq_policy pol = POL;
  static char big[WEBREQ_MAX_BODY + 2];
  memset(big, ' ', sizeof big - 1);
  struct webreq_body b;
  json_t *json = NULL;
  char msg[128];
  assert_int_equal(webreq_body(&pol, WEBREQ_ASK, big, WEBREQ_MAX_BODY + 1, &b, &json, msg, sizeof msg), 413);
  assert_non_null(strstr(msg, "65536"));
  assert_null(json);
  pol.max_body = 10;
  assert_int_equal(webreq_body(&pol, WEBREQ_ASK, "{\"text\":\"abc\"}", 14, &b, &json, msg, sizeof msg), 413);
}

static void test_web_req_token_is_random_hex(void **state) {
  (void)state;
  char a[WEBREQ_TOKEN_HEX + 1], b[WEBREQ_TOKEN_HEX + 1];
  assert_int_equal(webreq_make_token(a, sizeof a), 0);
  assert_int_equal(webreq_make_token(b, sizeof b), 0);
  assert_int_equal(strlen(a), WEBREQ_TOKEN_HEX);
  assert_int_equal(strspn(a, "0123456789abcdef"), WEBREQ_TOKEN_HEX);
  assert_string_not_equal(a, b);
  assert_true(webreq_make_token(a, WEBREQ_TOKEN_HEX) < 0);
  struct webreq_policy pol = {.token = a, .port = 1};
  char q[WEBREQ_TOKEN_HEX + 8];
  snprintf(q, sizeof q, "token=%s", a);
  assert_true(webreq_token_ok(&pol, NULL, q));
  assert_false(webreq_token_ok(&pol, NULL, NULL));
  struct webreq_policy none = {.token = "", .port = 1};
  assert_false(webreq_token_ok(&none, "Bearer ", "token="));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_web_req_check_table),    cmocka_unit_test(test_web_req_static_names),
      cmocka_unit_test(test_web_req_listen_widened), cmocka_unit_test(test_web_req_body_table),
      cmocka_unit_test(test_web_req_body_limit),     cmocka_unit_test(test_web_req_token_is_random_hex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
