/* test_surface_codec.c: the OSC control surface's wire format (app/surface_codec.[ch]): decoding every input
 * message and the bad ones (table), encoding live events (decoded back with liblo), the allow-list and the reply
 * address. */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lo/lo.h>

#include "surface_codec.h"

/* Serialises path + args ("i" int, "f" double, "s" string, "T"/"F"/"N", "h" int64, "d" double). */
static void *msg(size_t *len, const char *path, const char *types, ...) {
  lo_message m = lo_message_new();
  va_list ap;
  va_start(ap, types);
  for (const char *t = types; *t; t++) switch (*t) {
    case 'i': lo_message_add_int32(m, va_arg(ap, int)); break;
    case 'f': lo_message_add_float(m, (float)va_arg(ap, double)); break;
    case 'd': lo_message_add_double(m, va_arg(ap, double)); break;
    case 'h': lo_message_add_int64(m, va_arg(ap, long long)); break;
    case 's': lo_message_add_string(m, va_arg(ap, const char *)); break;
    case 'T': lo_message_add_true(m); break;
    case 'F': lo_message_add_false(m); break;
    case 'N': lo_message_add_nil(m); break;
    }
  va_end(ap);
  void *buf = lo_message_serialise(m, path, NULL, len);
  lo_message_free(m);
  return buf;
}

static int decode(void *buf, size_t len, struct surface_cmd *c, char *err) {
  int rc = surface_decode(buf, len, c, err, 512);
  free(buf);
  return rc;
}

static void test_surface_codec_decodes_commands(void **state) {
  struct {
    const char *path, *types;
    double v;
    enum surface_op op;
  } cases[] = {
      {"/dawbridge/cancel", "", 0, SURFACE_CANCEL},  {"/dawbridge/undo", "", 0, SURFACE_UNDO},
      {"/dawbridge/new", "", 0, SURFACE_NEW},        {"/dawbridge/status", "", 0, SURFACE_STATUS},
      {"/dawbridge/cancel", "f", 1, SURFACE_CANCEL}, /* a button press */
      {"/dawbridge/cancel", "f", 0, SURFACE_IGNORE}, /* its release */
      {"/dawbridge/undo", "i", 1, SURFACE_UNDO},     {"/dawbridge/undo", "i", 0, SURFACE_IGNORE},
      {"/dawbridge/new", "d", 1, SURFACE_NEW},       {"/dawbridge/new", "h", 0, SURFACE_IGNORE},
      {"/dawbridge/status", "T", 0, SURFACE_STATUS}, {"/dawbridge/status", "F", 0, SURFACE_IGNORE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t len;
    void *b;
    if (!cases[i].types[0])
      b = msg(&len, cases[i].path, "");
    else if (cases[i].types[0] == 'i')
      b = msg(&len, cases[i].path, "i", (int)cases[i].v);
    else if (cases[i].types[0] == 'h')
      b = msg(&len, cases[i].path, "h", (long long)cases[i].v);
    else if (cases[i].types[0] == 'T' || cases[i].types[0] == 'F')
      b = msg(&len, cases[i].path, cases[i].types);
    else
      b = msg(&len, cases[i].path, cases[i].types, cases[i].v);
    struct surface_cmd c;
    char err[512] = "";
    int rc = decode(b, len, &c, err);
    if (rc || c.op != cases[i].op)
      fail_msg("case %zu %s ,%s: rc %d op %d (want %d): %s", i, cases[i].path, cases[i].types, rc, c.op, cases[i].op,
               err);
    surface_cmd_clear(&c);
  }
}

static void test_surface_codec_decodes_ask_trimmed(void **state) {
  size_t len;
  struct surface_cmd c;
  char err[512];
  void *b = msg(&len, "/dawbridge/ask", "s", "  add a kick, 4 bars \n");
  assert_int_equal(decode(b, len, &c, err), 0);
  assert_int_equal(c.op, SURFACE_ASK);
  assert_string_equal(c.text, "add a kick, 4 bars");
  surface_cmd_clear(&c);
  assert_null(c.text);
  b = msg(&len, "/dawbridge/ask", "s", "Bass in A–moll ♪");
  assert_int_equal(decode(b, len, &c, err), 0);
  assert_string_equal(c.text, "Bass in A–moll ♪");
  surface_cmd_clear(&c);
}

static void bad(void *buf, size_t len, int code, const char *words) {
  struct surface_cmd c;
  char err[512] = "";
  int rc = decode(buf, len, &c, err);
  if (rc != code || !strstr(err, words)) fail_msg("rc %d (want %d), message \"%s\" lacks \"%s\"", rc, code, err, words);
  assert_null(c.text);
}

static void test_surface_codec_rejects_bad_messages(void **state) {
  char big[SURFACE_TEXT_MAX + 10];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  size_t len;
  void *b;
  b = msg(&len, "/dawbridge/ask", "");
  bad(b, len, SURFACE_EINVAL, "one string");
  b = msg(&len, "/dawbridge/ask", "i", 3);
  bad(b, len, SURFACE_EINVAL, ",i");
  b = msg(&len, "/dawbridge/ask", "s", " \t ");
  bad(b, len, SURFACE_EINVAL, "empty");
  b = msg(&len, "/dawbridge/ask", "s", big);
  bad(b, len, SURFACE_ETOOBIG, "at most");
  b = msg(&len, "/dawbridge/ask", "s", "caf\xC3");
  bad(b, len, SURFACE_EINVAL, "UTF-8");
  b = msg(&len, "/dawbridge/ask", "ss", "a", "b");
  bad(b, len, SURFACE_EINVAL, ",ss");
  b = msg(&len, "/dawbridge/cancel", "s", "now");
  bad(b, len, SURFACE_EINVAL, "one number");
  b = msg(&len, "/dawbridge/undo", "ii", 1, 1);
  bad(b, len, SURFACE_EINVAL, ",ii");
  b = msg(&len, "/dawbridge/status", "N");
  bad(b, len, SURFACE_EINVAL, ",N");
  b = msg(&len, "/dawbridge/play", "");
  bad(b, len, SURFACE_EINVAL, "unknown address /dawbridge/play");
  b = msg(&len, "/dawbridge/ask/x", "s", "a");
  bad(b, len, SURFACE_EINVAL, "unknown address");
  b = msg(&len, "/dawbridge/\x01\xFF", "");
  bad(b, len, SURFACE_EINVAL, "unknown address /dawbridge/??");
  /* a bundle, bytes that are no OSC, a truncated message, an empty datagram */
  static const char bundle[] = "#bundle\0\0\0\0\0\0\0\0\1";
  b = malloc(sizeof bundle);
  memcpy(b, bundle, sizeof bundle);
  bad(b, sizeof bundle, SURFACE_EINVAL, "bundles");
  b = strdup("GET / HTTP/1.1\r\n\r\n");
  bad(b, 18, SURFACE_EINVAL, "not an OSC message");
  b = msg(&len, "/dawbridge/ask", "s", "a kick");
  bad(b, len - 4, SURFACE_EINVAL, "malformed");
  b = malloc(1);
  bad(b, 0, SURFACE_EINVAL, "empty datagram");
}

/* ---- encoding ---- */

struct got {
  int n;
  char path[4][64];
  char types[4][16];
  lo_message m[4];
};

static void collect(const void *buf, size_t len, void *data) {
  struct got *g = data;
  assert_true(g->n < 4);
  int res;
  lo_message m = lo_message_deserialise((void *)buf, len, &res);
  assert_non_null(m);
  snprintf(g->path[g->n], 64, "%s", lo_get_path((void *)buf, (ssize_t)len));
  snprintf(g->types[g->n], 16, "%s", lo_message_get_types(m));
  g->m[g->n++] = m;
}

static void got_free(struct got *g) {
  for (int i = 0; i < g->n; i++) lo_message_free(g->m[i]);
  memset(g, 0, sizeof *g);
}

static int32_t arg_i(lo_message m, int k) {
  int32_t v;
  memcpy(&v, lo_message_get_argv(m)[k], sizeof v);
  return v;
}
static const char *arg_s(lo_message m, int k) { return (const char *)lo_message_get_argv(m)[k]; }

static json_t *J(const char *s) {
  json_error_t e;
  json_t *v = json_loads(s, 0, &e);
  if (!v) fail_msg("bad test JSON: %s: %s", e.text, s);
  return v;
}

static void encode(const char *ev, struct got *g) {
  json_t *e = J(ev);
  int n = surface_encode_event(e, collect, g);
  json_decref(e);
  assert_int_equal(n, g->n);
}

/* The messages an event encodes to, one line each: "path types arg ..." (strings quoted), e.g.
 * "/dawbridge/step iiss 2 3 \"create_midi_clip\" \"confirmed\"". */
static void encoded_text(const char *ev, char *out, size_t len) {
  struct got g = {0};
  encode(ev, &g);
  out[0] = 0;
  size_t o = 0;
  for (int i = 0; i < g.n; i++) {
    o += (size_t)snprintf(out + o, len - o, "%s%s %s", i ? "\n" : "", g.path[i], g.types[i]);
    for (int k = 0; g.types[i][k] && o < len; k++) {
      if (g.types[i][k] == 'i')
        o += (size_t)snprintf(out + o, len - o, " %d", (int)arg_i(g.m[i], k));
      else if (g.types[i][k] == 's')
        o += (size_t)snprintf(out + o, len - o, " \"%s\"", arg_s(g.m[i], k));
      else
        o += (size_t)snprintf(out + o, len - o, " ?");
    }
    assert_true(o < len);
  }
  got_free(&g);
}

/* each live event and the messages it must encode to: a shell pattern (fnmatch) over encoded_text's lines */
static const struct {
  const char *event, *want;
} ENCODE_CASES[] = {
    {"{\"type\":\"step\",\"request\":3,\"index\":2,\"total\":3,\"tool\":\"create_midi_clip\",\"args\":{},"
     "\"outcome\":\"confirmed\",\"result\":null,\"message\":null}",
     "/dawbridge/step iiss 2 3 \"create_midi_clip\" \"confirmed\""},
    {"{\"type\":\"done\",\"request\":3,\"kind\":\"ask\",\"status\":\"ok\",\"exit_code\":0,\"confirmed\":3,"
     "\"uncertain\":0,\"failed\":0,\"total\":3,\"summary\":\"Steps: 3 of 3 confirmed\",\"iteration\":2}",
     "/dawbridge/done iis 3 3 \"Steps: 3 of 3 confirmed\""},
    /* a request that ended in an error: done, then the error */
    {"{\"type\":\"done\",\"request\":4,\"status\":\"cancelled\",\"exit_code\":130,\"confirmed\":1,\"total\":3,"
     "\"summary\":\"interrupted: 1 of 3 steps\"}",
     "/dawbridge/done *\n/dawbridge/error s \"*cancelled*130*\""},
    {"{\"type\":\"plan\",\"request\":3,\"attempt\":0,\"plan\":{\"steps\":[{\"step\":1,\"tool\":\"create_track\","
     "\"description\":\"a kick track\",\"args\":{}},{\"step\":2,\"tool\":\"add_effect\",\"description\":\"reverb\","
     "\"args\":{}}]},\"errors\":[],\"text\":\"**PLAN:** ...\"}",
     "/dawbridge/plan s \"1 create_track: a kick track\n2 add_effect: reverb\""},
    {"{\"type\":\"plan\",\"request\":3,\"attempt\":1,\"plan\":null,\"errors\":[\"Step 2: unknown tool 'x'\"],"
     "\"text\":\"garbled\"}",
     "/dawbridge/plan s \"*garbled*plan errors:\n- Step 2: unknown tool 'x'*\""},
    {"{\"type\":\"queued\",\"request\":5,\"kind\":\"ask\",\"text\":\"x\",\"client\":\"c\",\"position\":0}", ""},
    {"{\"type\":\"queued\",\"request\":5,\"kind\":\"ask\",\"text\":\"x\",\"client\":\"c\",\"position\":2}",
     "/dawbridge/busy is 2 \"*queued*\""},
    {"{\"type\":\"error\",\"request\":null,\"message\":\"no model configured\"}",
     "/dawbridge/error s \"no model configured\""},
    {"{\"type\":\"stage\",\"request\":3,\"stage\":\"executing\"}", "/dawbridge/status s \"executing\""},
    {"{\"type\":\"plan_delta\",\"request\":3,\"attempt\":0,\"text\":\"**PLAN\"}", ""},
    {"{\"type\":\"state\",\"changed\":[\"t3\"]}", ""},
    {"{\"type\":\"violation\",\"request\":3,\"violation\":{}}", ""},
    {"{\"no\":\"type\"}", ""},
};

static void test_surface_codec_encodes_events(void **state) {
  for (size_t i = 0; i < sizeof ENCODE_CASES / sizeof *ENCODE_CASES; i++) {
    char text[2048];
    encoded_text(ENCODE_CASES[i].event, text, sizeof text);
    if (fnmatch(ENCODE_CASES[i].want, text, 0))
      fail_msg("case %zu %s:\nencoded: %s\nwanted:  %s", i, ENCODE_CASES[i].event, text, ENCODE_CASES[i].want);
  }
}

static void test_surface_codec_cuts_long_text(void **state) {
  size_t n = SURFACE_SUMMARY_MAX * 3;
  char *s = malloc(n + 1);
  for (size_t i = 0; i < n; i += 3) memcpy(s + i, "\xE2\x99\xAA", 3); /* ♪: cut must not split it */
  s[n] = 0;
  json_t *e = json_pack("{s:s, s:i, s:s}", "type", "error", "request", 1, "message", s);
  struct got g = {0};
  surface_encode_event(e, collect, &g);
  const char *out = arg_s(g.m[0], 0);
  size_t len = strlen(out);
  assert_true(len <= SURFACE_SUMMARY_MAX);
  assert_string_equal(out + len - 3, "...");
  assert_int_equal((len - 3) % 3, 0);
  got_free(&g);
  json_decref(e);
  free(s);
}

static void test_surface_codec_status_text(void **state) {
  char buf[512];
  json_t *st = J("{\"running\":{\"request\":7,\"kind\":\"ask\",\"text\":\"a bassline\",\"client\":\"repl\","
                 "\"stage\":\"executing\"},\"queue\":[{}, {}],\"connected\":true,\"dialect\":\"ardour\","
                 "\"conversation_turns\":2}");
  surface_status_text(st, buf, sizeof buf);
  assert_string_equal(buf,
                      "ardour connected, running #7 ask \"a bassline\" (executing), 2 queued, 2 conversation turns");
  json_decref(st);
  st = J("{\"running\":null,\"queue\":[],\"connected\":false,\"dialect\":\"reaper\",\"conversation_turns\":0}");
  surface_status_text(st, buf, sizeof buf);
  assert_string_equal(buf, "reaper NOT connected, idle, 0 queued, 0 conversation turns");
  json_decref(st);
}

static void test_surface_codec_allow_list(void **state) {
  struct surface_net nets[3];
  char err[256];
  assert_int_equal(surface_parse_net("127.0.0.1", &nets[0], err, sizeof err), 0);
  assert_int_equal(surface_parse_net("10.0.0.0/8", &nets[1], err, sizeof err), 0);
  assert_int_equal(surface_parse_net("192.168.1.77/24", &nets[2], err, sizeof err), 0); /* host bits ignored */
  struct {
    const char *ip;
    int allowed;
  } cases[] = {{"127.0.0.1", 1},   {"127.0.0.2", 0},   {"10.200.3.4", 1}, {"11.0.0.1", 0},
               {"192.168.1.3", 1}, {"192.168.2.3", 0}, {"0.0.0.0", 0},    {"255.255.255.255", 0}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct in_addr a;
    inet_pton(AF_INET, cases[i].ip, &a);
    if (surface_net_allows(nets, 3, a) != cases[i].allowed) fail_msg("%s: want %d", cases[i].ip, cases[i].allowed);
  }
  struct in_addr any;
  inet_pton(AF_INET, "8.8.8.8", &any);
  assert_int_equal(surface_parse_net("0.0.0.0/0", &nets[0], err, sizeof err), 0);
  assert_true(surface_net_allows(nets, 1, any));
  const char *bad[] = {"",          "/8",       "localhost", "10.0.0.0/33", "10.0.0.0/-1",
                       "10.0.0.0/", "10.0.0/8", "::1",       "10.0.0.0/8x", "1.2.3.4.5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = 0;
    if (surface_parse_net(bad[i], &nets[0], err, sizeof err) != SURFACE_EINVAL || !strstr(err, "--surface-allow"))
      fail_msg("'%s' accepted or no message (%s)", bad[i], err);
  }
}

static void test_surface_codec_reply_address(void **state) {
  struct sockaddr_in a;
  char err[256];
  assert_int_equal(surface_parse_hostport("127.0.0.1:9001", &a, err, sizeof err), 0);
  assert_int_equal(ntohs(a.sin_port), 9001);
  assert_int_equal(surface_parse_hostport("localhost:7", &a, err, sizeof err), 0);
  assert_int_equal(ntohl(a.sin_addr.s_addr), 0x7F000001);
  const char *bad[] = {"127.0.0.1",         ":9000",     "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x",
                       "host.example:9000", "127.0.0.1:"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    if (surface_parse_hostport(bad[i], &a, err, sizeof err) != SURFACE_EINVAL) fail_msg("'%s' accepted", bad[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_surface_codec_decodes_commands),
      cmocka_unit_test(test_surface_codec_decodes_ask_trimmed),
      cmocka_unit_test(test_surface_codec_rejects_bad_messages),
      cmocka_unit_test(test_surface_codec_encodes_events),
      cmocka_unit_test(test_surface_codec_cuts_long_text),
      cmocka_unit_test(test_surface_codec_status_text),
      cmocka_unit_test(test_surface_codec_allow_list),
      cmocka_unit_test(test_surface_codec_reply_address),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
