/* test_oscmap.c: dialect maps (osc-maps/oscmap.[ch]).
 *
 * The two real maps load; a table of broken maps (a valid minimal map with one mutation each) is refused with
 * a message naming the file, the key and the problem; feedback matching against the real REAPER and Ardour maps
 * (messages built with liblo, as they arrive); template rendering and evaluation; the conversions.
 * JSON literals use single quotes (see J()). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "oscmap.h"
#include "osc_client.h"
#include "db_test_map.h"
#include "db_test_json.h"

/* ---- loading ---- */

static void test_oscmap_real_maps_load(void **state) {
  (void)state;
  oscmap_t *r = db_test_load_map("reaper");
  oscmap_t *a = db_test_load_map("ardour");
  assert_string_equal(oscmap_dialect(r), "reaper");
  assert_string_equal(oscmap_dialect(a), "ardour");
  assert_true(oscmap_timing(r, "confirm_timeout_ms", -1) > 0);
  assert_true(oscmap_timing(a, "no_such_timing", 42) == 42);
  assert_non_null(oscmap_tool(r, "set_tempo"));
  assert_null(oscmap_tool(a, "set_tempo"));
  assert_null(oscmap_tool(r, "fly"));
  assert_true(json_is_object(oscmap_json(r)));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(oscmap_json(r), "ports"), "daw")), 8000);
  /* every natively capable tool has an entry */
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(json_object_get(oscmap_json(a), "capabilities"), "native"), i, v)
      assert_non_null(oscmap_tool(a, json_string_value(v)));
  oscmap_free(r);
  oscmap_free(a);
  oscmap_free(NULL);
}

static void test_oscmap_find_and_io_errors(void **state) {
  (void)state;
  char path[1024], err[256] = "";
  assert_int_equal(oscmap_find("no-such-dialect", path, sizeof path), -1);
  assert_non_null(strstr(path, "no-such-dialect.json"));
  oscmap_t *m = (oscmap_t *)1;
  assert_int_equal(oscmap_load("/nonexistent/dir/x.json", &m, err, sizeof err), OSCMAP_EIO);
  assert_null(m);
  assert_non_null(strstr(err, "/nonexistent/dir/x.json"));
  for (int c = 0; c >= -6; c--) assert_non_null(oscmap_strerror(c));
}

static void test_oscmap_not_json_names_file_and_line(void **state) {
  (void)state;
  char path[] = "/tmp/test_oscmap_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "{\n  \"format\": \"dawbridge.oscmap/1\",\n  \"dialect\": oops\n}\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  oscmap_t *m = NULL;
  char err[512] = "";
  int rc = oscmap_load(path, &m, err, sizeof err);
  unlink(path);
  assert_int_equal(rc, OSCMAP_EPARSE);
  assert_null(m);
  assert_non_null(strstr(err, path));
  if (!strstr(err, ":3:")) fail_msg("message '%s' does not give line 3", err);

  /* duplicate keys are refused too */
  fd = mkstemp(strcpy(path, "/tmp/test_oscmap_XXXXXX"));
  text = "{\"format\": 1, \"format\": 2}";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  rc = oscmap_load(path, &m, err, sizeof err);
  unlink(path);
  assert_int_equal(rc, OSCMAP_EPARSE);
}

/* A minimal valid map; each bad case mutates one key. */
static const char base_map[] =
    "{'format': 'dawbridge.oscmap/1', 'dialect': 'test',"
    " 'ports': {'daw': 8000, 'listen': 9000},"
    " 'timing': {'confirm_timeout_ms': 250},"
    " 'banking': {'size': 8, 'select': [{'path': '/bank', 'args': [['i', '{bank}']]}]},"
    " 'refresh': {'mode': 'banked', 'count': [{'path': '/count', 'args': []}],"
    "             'bank': [{'path': '/bank', 'args': [['i', '{bank}']]}], 'done_event': 'count'},"
    " 'feedback': ["
    "   {'path': '/track/@/volume', 'types': 'f', 'track': '@1', 'set': 'track.volume_db', 'value': '$0', 'convert': "
    "'db_floor'},"
    "   {'path': '/track/@/fx/@/name', 'types': 's', 'track': '@1', 'fx': '@2', 'set': 'track.fx.name', 'value': '$0'},"
    "   {'path': '/count', 'types': 's', 'event': 'count', 'value': '$0', 'convert': 'int_string'}],"
    " 'tools': {'set_tempo': {'send': [{'path': '/tempo', 'args': [['f', '{bpm}']]}],"
    "                         'confirm': [{'field': 'tempo', 'equals': '{bpm}'}]},"
    "           'transport': {'by': 'action', 'variants': {'play': {'send': [{'path': '/play', 'args': [['i', 1]]}],"
    "                                                              'confirm': [{'field': 'playing', 'equals': 1}]}}},"
    "           'get_state': {'local': true}},"
    " 'capabilities': {'native': ['set_tempo', 'transport', 'get_state'], 'companion': ['create_track']},"
    " 'companion': {'trigger': [{'path': '/action/str', 'args': [['s', '{command_id}']]}], 'reply': 'file'},"
    " 'catalog': {'instruments': [{'name': 'Synth'}], 'effects': [{'name': 'Verb', 'aliases': ['reverb']}]}}";

/* Sets (value != NULL) or deletes (value == NULL) the key at a dotted path; numeric segments index arrays. */
static void mutate(json_t *root, const char *path, const char *value) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  char *last = strrchr(buf, '.');
  json_t *parent = root;
  const char *key = buf;
  if (last) {
    *last = 0;
    key = last + 1;
    char *save = NULL;
    for (char *seg = strtok_r(buf, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
      parent = json_is_array(parent) ? json_array_get(parent, (size_t)atoi(seg)) : json_object_get(parent, seg);
      if (!parent) fail_msg("mutate: no %s in the base map", path);
    }
  }
  if (json_is_array(parent)) {
    size_t k = (size_t)atoi(key);
    if (!value)
      json_array_remove(parent, k);
    else if (k == json_array_size(parent))
      json_array_append_new(parent, J(value));
    else
      json_array_set_new(parent, k, J(value));
  } else if (!value) {
    if (json_object_del(parent, key)) fail_msg("mutate: no key %s", path);
  } else {
    json_object_set_new(parent, key, J(value));
  }
}

struct bad_map {
  const char *what;
  const char *path, *value;   /* mutation */
  const char *path2, *value2; /* optional second mutation (path2 NULL = none) */
  const char *msg[3];         /* substrings the message must contain (besides "bad.json") */
};

static const struct bad_map bad_maps[] = {
    {"missing format", "format", NULL, NULL, NULL, {"\"format\"", "dawbridge.oscmap/1"}},
    {"wrong format", "format", "'dawbridge.oscmap/2'", NULL, NULL, {"\"format\""}},
    {"bad dialect", "dialect", "'Reaper!'", NULL, NULL, {"\"dialect\"", "lower-case"}},
    {"empty dialect", "dialect", "''", NULL, NULL, {"\"dialect\""}},
    {"daw port too high", "ports.daw", "70000", NULL, NULL, {"ports.daw", "1-65535"}},
    {"daw port 0", "ports.daw", "0", NULL, NULL, {"ports.daw", "1-65535"}},
    {"daw port a string", "ports.daw", "'8000'", NULL, NULL, {"ports.daw", "integer"}},
    {"listen port negative", "ports.listen", "-1", NULL, NULL, {"ports.listen", "0-65535"}},
    {"listen port too high", "ports.listen", "65536", NULL, NULL, {"ports.listen", "0-65535"}},
    {"no ports", "ports", NULL, NULL, NULL, {"ports.daw"}},
    {"negative timing", "timing.confirm_timeout_ms", "-5", NULL, NULL, {"timing.confirm_timeout_ms", "non-negative"}},
    {"banking size 0", "banking.size", "0", NULL, NULL, {"banking.size", "1-4096"}},
    {"feedback without set/event",
     "feedback.2.event",
     NULL,
     NULL,
     NULL,
     {"feedback[2]", "/count", "needs \"set\" or \"event\""}},
    {"feedback empty", "feedback", "[]", NULL, NULL, {"\"feedback\"", "non-empty"}},
    {"feedback path not OSC", "feedback.0.path", "'track/@/volume'", NULL, NULL, {"feedback[0].path", "OSC address"}},
    {"feedback bad types", "feedback.0.types", "'fx'", NULL, NULL, {"feedback[0].types", "'fx'"}},
    {"feedback * not last", "feedback.0.types", "'*f'", NULL, NULL, {"feedback[0].types", "final *"}},
    {"unknown session field",
     "feedback.0.set",
     "'track.volume'",
     NULL,
     NULL,
     {"feedback[0].set", "'track.volume'", "not a session field"}},
    {"unknown conversion",
     "feedback.0.convert",
     "'db_to_magic'",
     NULL,
     NULL,
     {"feedback[0].convert", "'db_to_magic'", "not a known conversion"}},
    {"value not an argument reference",
     "feedback.0.value",
     "'0'",
     NULL,
     NULL,
     {"feedback[0].value", "argument reference"}},
    {"value $x", "feedback.0.value", "'$x'", NULL, NULL, {"feedback[0].value", "argument reference"}},
    {"set without value", "feedback.0.value", NULL, NULL, NULL, {"feedback[0].value", "argument reference"}},
    {"@2 with one wildcard", "feedback.0.track", "'@2'", NULL, NULL, {"feedback[0].track", "'@2'", "N-th '@'"}},
    {"@0", "feedback.1.fx", "'@0'", NULL, NULL, {"feedback[1].fx", "'@0'"}},
    {"bad marker reference", "feedback.2.marker", "'#1'", NULL, NULL, {"feedback[2].marker", "'#1'"}},
    {"track field without track",
     "feedback.0.track",
     NULL,
     NULL,
     NULL,
     {"feedback[0]", "track.volume_db", "no \"track\""}},
    {"fx field without fx", "feedback.1.fx", NULL, NULL, NULL, {"feedback[1]", "track.fx.name", "no \"fx\""}},
    {"marker field without marker",
     "feedback.0",
     "{'path': '/m/@', 'set': 'marker.name', 'value': '$0'}",
     NULL,
     NULL,
     {"feedback[0]", "marker.name", "no \"marker\""}},
    {"range_to_norm without range",
     "feedback.0.convert",
     "'range_to_norm'",
     NULL,
     NULL,
     {"feedback[0]", "range_to_norm", "\"range\""}},
    {"fields not references",
     "feedback.2.fields",
     "{'n': 'x'}",
     NULL,
     NULL,
     {"feedback[2].fields.n", "argument reference"}},
    {"repeat without group", "feedback.2.repeat", "{'from': 1}", NULL, NULL, {"feedback[2].repeat", "\"group\""}},
    {"tool not in the vocabulary",
     "tools.set_tmpo",
     "{'send': [{'path': '/t', 'args': []}], 'unconfirmable': 'x'}",
     NULL,
     NULL,
     {"tools.set_tmpo", "'set_tmpo'", "not a dawbridge tool"}},
    {"tool sends without confirm",
     "tools.set_tempo.confirm",
     NULL,
     NULL,
     NULL,
     {"tools.set_tempo", "\"confirm\"", "\"unconfirmable\""}},
    {"variant sends without confirm",
     "tools.transport.variants.play.confirm",
     NULL,
     NULL,
     NULL,
     {"tools.transport.variants.play", "\"unconfirmable\""}},
    {"variants without by", "tools.transport.by", NULL, NULL, NULL, {"tools.transport", "\"by\""}},
    {"tool without send", "tools.set_tempo", "{'confirm': []}", NULL, NULL, {"tools.set_tempo", "\"send\""}},
    {"confirm without field",
     "tools.set_tempo.confirm.0",
     "{'equals': 1}",
     NULL,
     NULL,
     {"tools.set_tempo.confirm[0]", "\"field\" or \"event\""}},
    {"confirm unknown field",
     "tools.set_tempo.confirm.0.field",
     "'bpm'",
     NULL,
     NULL,
     {"tools.set_tempo.confirm[0].field", "'bpm'", "not a session field"}},
    {"unclosed { in a path",
     "tools.set_tempo.send.0.path",
     "'/tempo/{bpm'",
     NULL,
     NULL,
     {"tools.set_tempo.send[0]", "unclosed '{'", "/tempo/{bpm"}},
    {"unbalanced } in an argument",
     "tools.set_tempo.send.0.args.0",
     "['f', 'bpm}']",
     NULL,
     NULL,
     {"tools.set_tempo.send[0]", "unbalanced '}'"}},
    {"empty placeholder",
     "tools.set_tempo.send.0.path",
     "'/tempo/{}'",
     NULL,
     NULL,
     {"tools.set_tempo.send[0]", "empty"}},
    {"unknown conversion in a placeholder",
     "tools.set_tempo.send.0.args.0",
     "['f', '{bpm|warp}']",
     NULL,
     NULL,
     {"tools.set_tempo.send[0]", "unknown conversion 'warp'"}},
    {"unknown conversion in a confirmation",
     "tools.set_tempo.confirm.0.equals",
     "'{bpm|warp}'",
     NULL,
     NULL,
     {"tools.set_tempo", "'warp'"}},
    {"bad argument type",
     "tools.set_tempo.send.0.args.0",
     "['x', 1]",
     NULL,
     NULL,
     {"tools.set_tempo.send[0].args[0]", "i f s d h"}},
    {"argument value an object",
     "tools.set_tempo.send.0.args.0",
     "['f', {}]",
     NULL,
     NULL,
     {"tools.set_tempo.send[0].args[0]", "number or a string"}},
    {"template path relative",
     "tools.set_tempo.send.0.path",
     "'tempo'",
     NULL,
     NULL,
     {"tools.set_tempo.send[0].path", "'/'"}},
    {"tools not an object", "tools", "[]", NULL, NULL, {"\"tools\"", "object"}},
    {"native tool without entry",
     "capabilities.native.3",
     "'set_loop'",
     NULL,
     NULL,
     {"capabilities.native", "'set_loop'", "tools.set_loop is missing"}},
    {"native tool unknown",
     "capabilities.native.0",
     "'fly'",
     NULL,
     NULL,
     {"capabilities.native[0]", "'fly'", "not a dawbridge tool"}},
    {"native missing", "capabilities.native", NULL, NULL, NULL, {"capabilities.native", "array"}},
    {"companion tool unknown",
     "capabilities.companion.0",
     "'teleport'",
     NULL,
     NULL,
     {"capabilities.companion[0]", "not a dawbridge tool"}},
    {"companion not an object", "companion", "[]", NULL, NULL, {"\"companion\"", "object"}},
    {"companion without trigger", "companion.trigger", NULL, NULL, NULL, {"companion.trigger", "missing"}},
    {"companion trigger bad", "companion.trigger.0.path", "'action'", NULL, NULL, {"companion.trigger[0].path", "'/'"}},
    {"companion reply unknown",
     "companion.reply",
     "'carrier pigeon'",
     NULL,
     NULL,
     {"companion.reply", "\"file\" or \"osc+file\""}},
    {"companion osc reply without feedback",
     "companion.reply",
     "'osc+file'",
     NULL,
     NULL,
     {"companion.reply", "companion_reply"}},
    {"companion timeout not positive", "companion.timeout_ms", "0", NULL, NULL, {"companion.timeout_ms", "positive"}},
    {"done_event not emitted",
     "refresh.done_event",
     "'finished'",
     NULL,
     NULL,
     {"refresh.done_event", "'finished'", "not emitted"}},
    {"done_event missing", "refresh.done_event", NULL, NULL, NULL, {"refresh.done_event"}},
    {"banked refresh without banking", "banking", NULL, NULL, NULL, {"refresh.mode", "\"banking\""}},
    {"banked refresh without count", "refresh.count", NULL, NULL, NULL, {"banked refresh", "\"count\""}},
    {"unknown refresh mode", "refresh.mode", "'poll'", NULL, NULL, {"refresh.mode", "\"banked\" or \"list\""}},
    {"list refresh without list", "refresh.mode", "'list'", NULL, NULL, {"list refresh", "\"list\""}},
    {"refresh template bad", "refresh.count.0.path", "'/c/{x'", NULL, NULL, {"refresh.count[0]", "unclosed '{'"}},
    {"connect not an array", "connect", "{'path': '/x'}", NULL, NULL, {"connect", "array"}},
    {"catalog entry without name", "catalog.effects.0.name", NULL, NULL, NULL, {"catalog.effects[0].name", "string"}},
    {"catalog instruments missing", "catalog.instruments", NULL, NULL, NULL, {"catalog.instruments", "array"}},
    {"catalog aliases not an array",
     "catalog.effects.0.aliases",
     "'reverb'",
     NULL,
     NULL,
     {"catalog.effects[0].aliases", "array"}},
    {"not an object", "", NULL, NULL, NULL, {"JSON object"}},
};

static void test_oscmap_bad_maps_refused(void **state) {
  (void)state;
  /* the base itself is valid */
  json_t *base = J(base_map);
  oscmap_t *m = NULL;
  char err[512] = "";
  int rc = oscmap_load_json(base, "good.json", &m, err, sizeof err);
  if (rc) fail_msg("the base map is refused: %s", err);
  oscmap_free(m);
  json_decref(base);

  for (size_t i = 0; i < sizeof bad_maps / sizeof *bad_maps; i++) {
    const struct bad_map *c = &bad_maps[i];
    json_t *j;
    if (!c->path[0])
      j = J("['not', 'an', 'object']");
    else {
      j = J(base_map);
      mutate(j, c->path, c->value);
      if (c->path2) mutate(j, c->path2, c->value2);
    }
    err[0] = 0;
    m = (oscmap_t *)1;
    rc = oscmap_load_json(j, "bad.json", &m, err, sizeof err);
    if (rc != OSCMAP_EINVALID) fail_msg("case '%s': rc %d (%s)", c->what, rc, err);
    if (m) fail_msg("case '%s': *out not NULL", c->what);
    if (strncmp(err, "bad.json: ", 10)) fail_msg("case '%s': message '%s' does not start with the file", c->what, err);
    for (int k = 0; k < 3 && c->msg[k]; k++)
      if (!strstr(err, c->msg[k])) fail_msg("case '%s': message '%s' lacks '%s'", c->what, err, c->msg[k]);
    json_decref(j);
  }
}

/* ---- matching ---- */

/* Builds a message from types and values (i: int, f/d: double, h: int64_t, s: string, T/F/N: none), as a
 * receiver sees it: the message is serialised and parsed back. */
struct msg {
  lo_message m;
  const char *types;
  lo_arg **argv;
  int argc;
};

static struct msg mk(const char *types, ...) {
  va_list ap;
  va_start(ap, types);
  lo_message out = osc_message_vnew(types, ap);
  va_end(ap);
  if (!out) fail_msg("mk: bad type tags %s", types);
  size_t len = 0;
  void *data = lo_message_serialise(out, "/x", NULL, &len);
  lo_message_free(out);
  int res = 0;
  lo_message back = lo_message_deserialise(data, len, &res);
  free(data);
  if (!back) fail_msg("mk: deserialise failed (%d)", res);
  struct msg r = {back, lo_message_get_types(back), lo_message_get_argv(back), lo_message_get_argc(back)};
  return r;
}

static int match(const oscmap_t *m, const char *path, struct msg msg, struct oscmap_match *out, int max, char *err,
                 size_t errlen) {
  int n = oscmap_match(m, path, msg.types, msg.argv, msg.argc, out, max, err, errlen);
  return n;
}

static void test_oscmap_match_reaper(void **state) {
  (void)state;
  oscmap_t *m = db_test_load_map("reaper");
  struct oscmap_match mm[4];
  char err[256] = "";
  struct msg msg;

  msg = mk("f", -6.0);
  assert_int_equal(match(m, "/track/3/volume/db", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.volume_db");
  assert_null(mm[0].event);
  assert_int_equal(mm[0].track_ref, OSCMAP_TRACK_SLOT);
  assert_int_equal(mm[0].track, 3);
  assert_int_equal(mm[0].has_num, 1);
  assert_true(fabs(mm[0].num + 6) < 1e-6);
  assert_null(mm[0].fields);
  lo_message_free(msg.m);

  msg = mk("d", -200.0); /* f accepts d; db_floor floors at -150 */
  assert_int_equal(match(m, "/track/1/volume/db", msg, mm, 4, err, sizeof err), 1);
  assert_true(mm[0].num == -150);
  lo_message_free(msg.m);

  msg = mk("f", 0.25);
  assert_int_equal(match(m, "/track/2/pan", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.pan");
  assert_int_equal(mm[0].track, 2);
  assert_true(fabs(mm[0].num + 0.5) < 1e-6);
  lo_message_free(msg.m);

  msg = mk("f", 1.0);
  assert_int_equal(match(m, "/track/4/mute", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.mute");
  assert_true(mm[0].num == 1);
  lo_message_free(msg.m);

  msg = mk("s", "ReaEQ (Cockos)");
  assert_int_equal(match(m, "/track/3/fx/2/name", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.fx.name");
  assert_int_equal(mm[0].track, 3);
  assert_int_equal(mm[0].fx, 2);
  assert_int_equal(mm[0].has_num, 0);
  assert_string_equal(mm[0].str, "ReaEQ (Cockos)");
  lo_message_free(msg.m);

  msg = mk("f", 0.3);
  assert_int_equal(match(m, "/track/1/fx/2/fxparam/5/value", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.fx.param");
  assert_int_equal(mm[0].track, 1);
  assert_int_equal(mm[0].fx, 2);
  assert_int_equal(mm[0].param, 5);
  assert_true(fabs(mm[0].num - 0.3) < 1e-6);
  lo_message_free(msg.m);

  msg = mk("f", 2.0); /* needs the tempo: left to the caller */
  assert_int_equal(match(m, "/time", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "position");
  assert_int_equal(mm[0].track_ref, OSCMAP_TRACK_NONE);
  assert_string_equal(mm[0].convert_ctx, "sec_to_beats");
  assert_true(mm[0].num == 2);
  lo_message_free(msg.m);

  msg = mk("s", "12");
  assert_int_equal(match(m, "/track/number/str", msg, mm, 4, err, sizeof err), 1);
  assert_null(mm[0].set);
  assert_string_equal(mm[0].event, "count");
  assert_int_equal(mm[0].has_num, 1);
  assert_true(mm[0].num == 12);
  lo_message_free(msg.m);

  msg = mk("s", "");
  assert_int_equal(match(m, "/marker/2/number/str", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].event, "marker_slot");
  assert_int_equal(mm[0].marker, 2);
  assert_int_equal(mm[0].has_num, 0);
  assert_string_equal(mm[0].str, "");
  lo_message_free(msg.m);

  msg = mk("s", "3");
  assert_int_equal(match(m, "/marker/1/number/str", msg, mm, 4, err, sizeof err), 1);
  assert_int_equal(mm[0].has_num, 1);
  assert_true(mm[0].num == 3);
  lo_message_free(msg.m);

  /* wrong types on a known path: refused with a message */
  msg = mk("s", "x");
  err[0] = 0;
  int rc = match(m, "/track/1/mute", msg, mm, 4, err, sizeof err);
  assert_true(rc < 0);
  assert_non_null(strstr(err, "/track/1/mute"));
  assert_non_null(strstr(err, ",s"));
  lo_message_free(msg.m);

  msg = mk("ff", 1.0, 2.0);
  assert_true(match(m, "/track/1/mute", msg, mm, 4, err, sizeof err) < 0);
  lo_message_free(msg.m);

  msg = mk("", 0);
  assert_true(match(m, "/tempo/raw", msg, mm, 4, err, sizeof err) < 0);
  lo_message_free(msg.m);

  /* unknown paths, or a wildcard that is not a number: 0 */
  msg = mk("f", 1.0);
  assert_int_equal(match(m, "/no/such/path", msg, mm, 4, err, sizeof err), 0);
  assert_int_equal(match(m, "/track/x/mute", msg, mm, 4, err, sizeof err), 0);
  assert_int_equal(match(m, "/track/-1/mute", msg, mm, 4, err, sizeof err), 0);
  assert_int_equal(match(m, "/track//mute", msg, mm, 4, err, sizeof err), 0);
  assert_int_equal(match(m, "/track/1/mute/extra", msg, mm, 4, err, sizeof err), 0);
  assert_int_equal(match(m, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t", msg, mm, 4, err, sizeof err), 0);
  /* max 0: nothing filled */
  assert_int_equal(match(m, "/track/1/mute", msg, mm, 0, err, sizeof err), 0);
  lo_message_free(msg.m);
  oscmap_free(m);
}

struct str_case {
  const char *path, *arg;
  const char *set;
  double num;
  int has_num;
};

static const struct str_case reaper_strings[] = {
    {"/track/1/volume/str", "-6.00dB", "track.volume_db", -6, 1},
    {"/track/1/volume/str", "+3.5 dB", "track.volume_db", 3.5, 1},
    {"/track/1/volume/str", "-inf", "track.volume_db", -150, 1},
    {"/track/1/volume/str", "-inf dB", "track.volume_db", -150, 1},
    {"/track/1/volume/str", "-200dB", "track.volume_db", -150, 1},
    {"/track/1/volume/str", "", "track.volume_db", 0, 0},
    {"/track/1/pan/str", "C", "track.pan", 0, 1},
    {"/track/1/pan/str", "center", "track.pan", 0, 1},
    {"/track/1/pan/str", "50%L", "track.pan", -0.5, 1},
    {"/track/1/pan/str", "23%R", "track.pan", 0.23, 1},
    {"/track/1/pan/str", "100% R", "track.pan", 1, 1},
    {"/tempo/str", "120 bpm", "tempo", 120, 1},
    {"/tempo/str", "97.5", "tempo", 97.5, 1},
    {"/track/number/str", "12", NULL, 12, 1},
    {"/track/number/str", " 7", NULL, 7, 1},
};

static void test_oscmap_match_reaper_strings(void **state) {
  (void)state;
  oscmap_t *m = db_test_load_map("reaper");
  struct oscmap_match mm[4];
  char err[256];
  for (size_t i = 0; i < sizeof reaper_strings / sizeof *reaper_strings; i++) {
    const struct str_case *c = &reaper_strings[i];
    struct msg msg = mk("s", c->arg);
    int n = match(m, c->path, msg, mm, 4, err, sizeof err);
    if (n != 1) fail_msg("%s s \"%s\": %d matches (%s)", c->path, c->arg, n, err);
    if (c->set ? !mm[0].set || strcmp(mm[0].set, c->set) : mm[0].set != NULL)
      fail_msg("%s s \"%s\": set %s", c->path, c->arg, mm[0].set ? mm[0].set : "(none)");
    if (mm[0].has_num != c->has_num) fail_msg("%s s \"%s\": has_num %d", c->path, c->arg, mm[0].has_num);
    if (c->has_num && fabs(mm[0].num - c->num) > 1e-9)
      fail_msg("%s s \"%s\": %g, expected %g", c->path, c->arg, mm[0].num, c->num);
    assert_string_equal(mm[0].str, c->arg);
    lo_message_free(msg.m);
  }
  /* text where a number belongs: not a match, and an error */
  static const char *const bad[][2] = {{"/track/1/volume/str", "loud"},
                                       {"/track/1/pan/str", "left"},
                                       {"/tempo/str", "fast"},
                                       {"/track/1/pan/str", "50%X"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    struct msg msg = mk("s", bad[i][1]);
    int n = match(m, bad[i][0], msg, mm, 4, err, sizeof err);
    if (n >= 0) fail_msg("%s s \"%s\" accepted", bad[i][0], bad[i][1]);
    lo_message_free(msg.m);
  }
  oscmap_free(m);
}

static void test_oscmap_match_ardour_lists(void **state) {
  (void)state;
  oscmap_t *m = db_test_load_map("ardour");
  struct oscmap_match mm[4];
  char err[256] = "";
  struct msg msg;
  const char *paths[] = {"/reply", "#reply"};
  for (int p = 0; p < 2; p++) {
    msg = mk("ssiiiiii", "MT", "Keys", 0, 2, 0, 1, 4, 1);
    int n = match(m, paths[p], msg, mm, 4, err, sizeof err);
    if (n != 1) fail_msg("%s: %d (%s)", paths[p], n, err);
    assert_string_equal(mm[0].event, "list_entry");
    assert_null(mm[0].set);
    json_t *want = J("{'type': 'midi', 'name': 'Keys', 'mute': 0, 'solo': 1, 'index': 4, 'rec_arm': 1}");
    if (!json_equal(mm[0].fields, want)) {
      char *g = json_dumps(mm[0].fields, JSON_COMPACT);
      fail_msg("%s fields: %s", paths[p], g);
    }
    json_decref(want);
    oscmap_match_clear(mm, n);
    assert_null(mm[0].fields);
    lo_message_free(msg.m);
  }
  /* every strip type maps; unknown ones pass through */
  const char *types[][2] = {{"AT", "audio"}, {"B", "bus"}, {"AB", "bus"}, {"MB", "bus"}, {"XX", "XX"}};
  for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
    msg = mk("ssiiiiii", types[i][0], "S", 0, 2, 0, 0, 1, 0);
    assert_int_equal(match(m, "/reply", msg, mm, 4, err, sizeof err), 1);
    assert_string_equal(json_string_value(json_object_get(mm[0].fields, "type")), types[i][1]);
    oscmap_match_clear(mm, 1);
    lo_message_free(msg.m);
  }

  for (int p = 0; p < 2; p++) {
    msg = mk("shhi", "end_route_list", (int64_t)48000, (int64_t)0, 0);
    assert_int_equal(match(m, paths[p], msg, mm, 4, err, sizeof err), 1);
    assert_string_equal(mm[0].event, "list_end");
    assert_int_equal(json_integer_value(json_object_get(mm[0].fields, "sample_rate")), 48000);
    oscmap_match_clear(mm, 1);
    lo_message_free(msg.m);
  }
  /* the "when" condition fails: a known path with the wrong meaning */
  msg = mk("shhi", "something_else", (int64_t)48000, (int64_t)0, 0);
  assert_true(match(m, "/reply", msg, mm, 4, err, sizeof err) < 0);
  lo_message_free(msg.m);

  msg = mk("iisiisi", 5, 1, "ACE Compressor", 1, 2, "ACE Reverb", 0);
  assert_int_equal(match(m, "/strip/plugin/list", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].event, "plugin_list");
  assert_int_equal(mm[0].track_ref, OSCMAP_TRACK_ABS);
  assert_int_equal(mm[0].track, 5);
  json_t *want = J(
      "{'items': [{'fx': 1, 'name': 'ACE Compressor', 'enabled': 1}, {'fx': 2, 'name': 'ACE Reverb', 'enabled': 0}]}");
  if (!json_equal(mm[0].fields, want)) fail_msg("plugin list: %s", json_dumps(mm[0].fields, JSON_COMPACT));
  json_decref(want);
  oscmap_match_clear(mm, 1);
  lo_message_free(msg.m);

  msg = mk("i", 3); /* a strip without plugins */
  assert_int_equal(match(m, "/strip/plugin/list", msg, mm, 4, err, sizeof err), 1);
  assert_int_equal(json_array_size(json_object_get(mm[0].fields, "items")), 0);
  oscmap_match_clear(mm, 1);
  lo_message_free(msg.m);

  msg = mk("iisiis", 5, 1, "A", 1, 2, "B"); /* a trailing partial group is dropped */
  assert_int_equal(match(m, "/strip/plugin/list", msg, mm, 4, err, sizeof err), 1);
  assert_int_equal(json_array_size(json_object_get(mm[0].fields, "items")), 1);
  oscmap_match_clear(mm, 1);
  lo_message_free(msg.m);

  msg = mk("h", (int64_t)123456);
  assert_int_equal(match(m, "/transport_frame", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].event, "sentinel");
  lo_message_free(msg.m);

  msg = mk("", 0);
  assert_int_equal(match(m, "/strip/list", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].event, "list_changed");
  lo_message_free(msg.m);

  /* a message that means two things: set and event */
  msg = mk("s", "MySession");
  assert_int_equal(match(m, "/session_name", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "project");
  assert_string_equal(mm[0].event, "session_name");
  assert_string_equal(mm[0].str, "MySession");
  lo_message_free(msg.m);
  oscmap_free(m);
}

static void test_oscmap_match_ardour_strips(void **state) {
  (void)state;
  oscmap_t *m = db_test_load_map("ardour");
  struct oscmap_match mm[4];
  char err[256] = "";
  struct msg msg;

  /* the real descriptor (docs: iiisisffsid ssid plugin param name flags datatype lower upper format npoints value) */
  msg = mk("iiisisffsid", 1, 1, 4, "Ratio", 132, "NOTHING", 1.0, 20.0, "%.3f  ", 0, 4.0);
  int n = match(m, "/strip/plugin/descriptor", msg, mm, 4, err, sizeof err);
  if (n != 1) fail_msg("descriptor: %d (%s)", n, err);
  assert_string_equal(mm[0].set, "track.fx.param");
  assert_int_equal(mm[0].track_ref, OSCMAP_TRACK_ABS);
  assert_int_equal(mm[0].track, 1);
  assert_int_equal(mm[0].fx, 1);
  assert_int_equal(mm[0].param, 4);
  assert_int_equal(mm[0].has_num, 1);
  assert_true(fabs(mm[0].num - 3.0 / 19.0) < 1e-6);
  assert_int_equal(mm[0].has_range, 1);
  assert_true(fabs(mm[0].range_min - 1) < 1e-6);
  assert_true(fabs(mm[0].range_max - 20) < 1e-6);
  assert_string_equal(mm[0].str, "Ratio");
  lo_message_free(msg.m);

  msg = mk("iiisisffsid", 1, 1, 1, "Attack", 128, "NOTHING", 0.1, 100.0, "", 0, 10.0);
  assert_int_equal(match(m, "/strip/plugin/descriptor", msg, mm, 4, err, sizeof err), 1);
  assert_true(fabs(mm[0].num - (10.0 - 0.1) / (100.0 - 0.1)) < 1e-6);
  assert_string_equal(mm[0].str, "Attack");
  lo_message_free(msg.m);

  /* with scale points between the count and the value; the value is the last argument */
  msg = mk("iiisisffsiisisd", 2, 3, 1, "Mode", 0, "NOTHING", 0.0, 2.0, "", 2, 0, "Off", 1, "On", 1.0);
  assert_int_equal(match(m, "/strip/plugin/descriptor", msg, mm, 4, err, sizeof err), 1);
  assert_true(fabs(mm[0].num - 0.5) < 1e-6);
  lo_message_free(msg.m);

  /* a value above the range clamps */
  msg = mk("iiisisffsid", 1, 1, 4, "Ratio", 132, "NOTHING", 1.0, 20.0, "", 0, 40.0);
  assert_int_equal(match(m, "/strip/plugin/descriptor", msg, mm, 4, err, sizeof err), 1);
  assert_true(mm[0].num == 1);
  lo_message_free(msg.m);

  msg = mk("if", 1, 0.5);
  assert_int_equal(match(m, "/strip/fader", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.volume_db");
  assert_int_equal(mm[0].track_ref, OSCMAP_TRACK_ABS);
  assert_int_equal(mm[0].track, 1);
  assert_true(fabs(mm[0].num - (-10.469)) < 0.005);
  lo_message_free(msg.m);

  msg = mk("if", 2, 0.0);
  assert_int_equal(match(m, "/strip/fader", msg, mm, 4, err, sizeof err), 1);
  assert_true(mm[0].num == -150);
  lo_message_free(msg.m);

  msg = mk("if", 2, 0.75);
  assert_int_equal(match(m, "/strip/pan_stereo_position", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.pan");
  assert_true(fabs(mm[0].num - 0.5) < 1e-6);
  lo_message_free(msg.m);

  msg = mk("is", 3, "Bass");
  assert_int_equal(match(m, "/strip/name", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.name");
  assert_int_equal(mm[0].track, 3);
  assert_string_equal(mm[0].str, "Bass");
  lo_message_free(msg.m);

  /* i accepts h on the wire */
  msg = mk("hf", (int64_t)4, 1.0);
  assert_int_equal(match(m, "/strip/mute", msg, mm, 4, err, sizeof err), 1);
  assert_int_equal(mm[0].track, 4);
  assert_true(mm[0].num == 1);
  lo_message_free(msg.m);

  msg = mk("sf", "x", 1.0);
  assert_true(match(m, "/strip/mute", msg, mm, 4, err, sizeof err) < 0);
  lo_message_free(msg.m);
  oscmap_free(m);
}

/* A map with the less common feedback shapes: "$N" locators, "when", name, T/F. */
static void test_oscmap_match_custom_feedback(void **state) {
  (void)state;
  json_t *j = J(base_map);
  mutate(j, "feedback.3",
         "{'path': '/ev', 'types': 'sif', 'when': {'$0': 'go'}, 'track': '$1', 'set': 'track.pan', 'value': '$2'}");
  mutate(j, "feedback.4", "{'path': '/ev', 'types': 'sif', 'when': {'$0': 'stop'}, 'event': 'stopped'}");
  mutate(j, "feedback.5", "{'path': '/flag', 'types': 'T', 'set': 'playing', 'value': '$0', 'convert': 'not'}");
  mutate(j, "feedback.6", "{'path': '/flag', 'types': 'F', 'set': 'playing', 'value': '$0'}");
  mutate(j, "feedback.7", "{'path': '/both', 'types': 'f', 'set': 'tempo', 'value': '$0'}");
  mutate(j, "feedback.8", "{'path': '/both', 'types': 'f', 'event': 'tick'}");
  mutate(j, "feedback.9", "{'path': '/loc', 'types': 'sf', 'track': '$0', 'set': 'track.mute', 'value': '$1'}");
  oscmap_t *m = NULL;
  char err[512] = "";
  if (oscmap_load_json(j, "custom.json", &m, err, sizeof err)) fail_msg("custom map: %s", err);
  json_decref(j);
  struct oscmap_match mm[4];
  struct msg msg;

  msg = mk("sif", "go", 7, -0.25);
  assert_int_equal(match(m, "/ev", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].set, "track.pan");
  assert_int_equal(mm[0].track_ref, OSCMAP_TRACK_ABS);
  assert_int_equal(mm[0].track, 7);
  assert_true(mm[0].num == -0.25);
  lo_message_free(msg.m);

  msg = mk("sif", "stop", 7, 0.0);
  assert_int_equal(match(m, "/ev", msg, mm, 4, err, sizeof err), 1);
  assert_string_equal(mm[0].event, "stopped");
  lo_message_free(msg.m);

  msg = mk("T");
  assert_int_equal(match(m, "/flag", msg, mm, 4, err, sizeof err), 1);
  assert_true(mm[0].num == 0);
  lo_message_free(msg.m);
  msg = mk("F");
  assert_int_equal(match(m, "/flag", msg, mm, 4, err, sizeof err), 1);
  assert_true(mm[0].num == 0);
  assert_int_equal(mm[0].has_num, 1);
  lo_message_free(msg.m);

  /* two meanings, and max limits them */
  msg = mk("f", 100.0);
  assert_int_equal(match(m, "/both", msg, mm, 4, err, sizeof err), 2);
  assert_string_equal(mm[0].set, "tempo");
  assert_string_equal(mm[1].event, "tick");
  assert_int_equal(match(m, "/both", msg, mm, 1, err, sizeof err), 1);
  lo_message_free(msg.m);

  /* a "$N" locator that is not a number: the pattern does not apply */
  msg = mk("sf", "one", 1.0);
  assert_true(match(m, "/loc", msg, mm, 4, err, sizeof err) < 0);
  lo_message_free(msg.m);
  oscmap_free(m);
}

/* ---- rendering ---- */

/* Arguments of a rendered message, read without dereferencing lo_arg (liblo aligns them on 4 bytes only). */
static const void *argp(lo_message m, int i) { return lo_message_get_argv(m)[i]; }
static float argf(lo_message m, int i) {
  float f;
  memcpy(&f, argp(m, i), sizeof f);
  return f;
}
static int32_t argi(lo_message m, int i) {
  int32_t v;
  memcpy(&v, argp(m, i), sizeof v);
  return v;
}
static double argd(lo_message m, int i) {
  double v;
  memcpy(&v, argp(m, i), sizeof v);
  return v;
}
static int64_t argh(lo_message m, int i) {
  int64_t v;
  memcpy(&v, argp(m, i), sizeof v);
  return v;
}
static const char *args_(lo_message m, int i) { return (const char *)argp(m, i); }

static int render(const oscmap_t *m, const char *tpl, const char *vars, char **paths, lo_message *msgs, int max,
                  char *err, size_t errlen) {
  json_t *t = J(tpl), *v = J(vars);
  int n = oscmap_render(m, t, v, paths, msgs, max, err, errlen);
  json_decref(t);
  json_decref(v);
  return n;
}

static void free_rendered(char **paths, lo_message *msgs, int n) {
  for (int i = 0; i < n; i++) {
    free(paths[i]);
    lo_message_free(msgs[i]);
  }
}

static void test_oscmap_render_templates(void **state) {
  (void)state;
  oscmap_t *m = db_test_load_map("reaper");
  char *paths[4];
  lo_message msgs[4];
  char err[256] = "";

  int n = render(m, "[{'path': '/track/{slot}/volume/db', 'args': [['f', '{volume_db}']]}]",
                 "{'slot': 3, 'volume_db': -6}", paths, msgs, 4, err, sizeof err);
  assert_int_equal(n, 1);
  assert_string_equal(paths[0], "/track/3/volume/db");
  assert_string_equal(lo_message_get_types(msgs[0]), "f");
  assert_true(fabs(argf(msgs[0], 0) + 6) < 1e-6);
  free_rendered(paths, msgs, n);

  /* the real set_track pan field */
  const json_t *pan =
      json_object_get(json_object_get(json_object_get(oscmap_tool(m, "set_track"), "fields"), "pan"), "send");
  assert_non_null(pan);
  json_t *vars = J("{'slot': 2, 'pan': -0.5}");
  n = oscmap_render(m, pan, vars, paths, msgs, 4, err, sizeof err);
  json_decref(vars);
  assert_int_equal(n, 1);
  assert_string_equal(paths[0], "/track/2/pan");
  assert_true(fabs(argf(msgs[0], 0) - 0.25) < 1e-6);
  free_rendered(paths, msgs, n);

  /* the real set_loop: beats to seconds with the tempo from the variables */
  const json_t *loop = json_object_get(oscmap_tool(m, "set_loop"), "send");
  vars = J("{'start': 6, 'end': 12, 'tempo': 90}");
  n = oscmap_render(m, loop, vars, paths, msgs, 4, err, sizeof err);
  json_decref(vars);
  assert_int_equal(n, 2);
  assert_string_equal(paths[0], "/loop/start/time");
  assert_true(fabs(argf(msgs[0], 0) - 4.0) < 1e-6);
  assert_true(fabs(argf(msgs[1], 0) - 8.0) < 1e-6);
  free_rendered(paths, msgs, n);

  n = render(m, "[{'path': '/time', 'args': [['f', '{position|beats_to_sec}']]}]", "{'position': 3, 'tempo': 90}",
             paths, msgs, 4, err, sizeof err);
  assert_int_equal(n, 1);
  assert_true(fabs(argf(msgs[0], 0) - 2.0) < 1e-6);
  free_rendered(paths, msgs, n);

  /* bool from JSON true / false, into an int */
  n = render(m,
             "[{'path': '/track/{slot}/mute', 'args': [['i', '{mute|bool}']]}, {'path': '/x', 'args': [['i', "
             "'{solo|bool}']]}]",
             "{'slot': 1, 'mute': true, 'solo': false}", paths, msgs, 4, err, sizeof err);
  assert_int_equal(n, 2);
  assert_string_equal(paths[0], "/track/1/mute");
  assert_string_equal(lo_message_get_types(msgs[0]), "i");
  assert_int_equal(argi(msgs[0], 0), 1);
  assert_int_equal(argi(msgs[1], 0), 0);
  free_rendered(paths, msgs, n);

  /* literals, strings, every type, text around placeholders, a real that is an integer */
  n = render(m,
             "[{'path': '/a/{n}/b{x}', 'args': [['i', 41743], ['s', '{name}'], ['s', 'Track {n}'], ['d', '{x}'], ['h', "
             "'{big}'],"
             " ['s', '{x}'], ['f', '2.5'], ['i', '{n}']]}, {'path': '/noargs'}]",
             "{'n': 3.0, 'x': 0.5, 'name': 'Bass', 'big': 5000000000}", paths, msgs, 4, err, sizeof err);
  if (n != 2) fail_msg("render: %d %s", n, err);
  assert_string_equal(paths[0], "/a/3/b0.5");
  assert_string_equal(lo_message_get_types(msgs[0]), "issdhsfi");
  assert_int_equal(argi(msgs[0], 0), 41743);
  assert_string_equal(args_(msgs[0], 1), "Bass");
  assert_string_equal(args_(msgs[0], 2), "Track 3");
  assert_true(argd(msgs[0], 3) == 0.5);
  assert_true(argh(msgs[0], 4) == 5000000000LL);
  assert_string_equal(args_(msgs[0], 5), "0.5");
  assert_true(argf(msgs[0], 6) == 2.5f);
  assert_int_equal(argi(msgs[0], 7), 3);
  assert_string_equal(paths[1], "/noargs");
  assert_int_equal(lo_message_get_argc(msgs[1]), 0);
  free_rendered(paths, msgs, n);

  /* an empty template list renders nothing */
  assert_int_equal(render(m, "[]", "{}", paths, msgs, 4, err, sizeof err), 0);
  oscmap_free(m);
}

struct render_err {
  const char *tpl, *vars;
  int max;
  const char *msg;
};

static const struct render_err render_errs[] = {
    {"[{'path': '/tempo', 'args': [['f', '{bpm}']]}]", "{}", 4, "'bpm'"},
    {"[{'path': '/track/{slot}/mute', 'args': []}]", "{'mute': 1}", 4, "'slot'"},
    {"[{'path': '/ok', 'args': []}, {'path': '/x', 'args': [['i', '{n}']]}]", "{}", 4, "missing value for 'n'"},
    {"[{'path': '/x', 'args': [['i', '{n}']]}]", "{'n': 3000000000}", 4, "int32"},
    {"[{'path': '/x', 'args': [['i', '{n}']]}]", "{'n': -2147483649}", 4, "int32"},
    {"[{'path': '/x', 'args': [['f', '{n}']]}]", "{'n': 'fast'}", 4, "not a number"},
    {"[{'path': '/x', 'args': [['i', 'n{n}']]}]", "{'n': 1}", 4, "not a number"},
    {"[{'path': '/x', 'args': [['f', '{n}']]}]", "{'n': null}", 4, "not a number"},
    {"[{'path': '/x', 'args': [['f', '{n|pan_to_norm}']]}]", "{'n': 'left'}", 4, "must be a number"},
    {"[{'path': '/x', 'args': [['f', '{n|warp}']]}]", "{'n': 1}", 4, "unknown conversion 'warp'"},
    {"[{'path': '/a', 'args': []}, {'path': '/b', 'args': []}]", "{}", 1, "too many"},
};

static void test_oscmap_render_errors(void **state) {
  (void)state;
  oscmap_t *m = db_test_load_map("reaper");
  char *paths[4];
  lo_message msgs[4];
  for (size_t i = 0; i < sizeof render_errs / sizeof *render_errs; i++) {
    char err[256] = "";
    int n = render(m, render_errs[i].tpl, render_errs[i].vars, paths, msgs, render_errs[i].max, err, sizeof err);
    if (n != OSCMAP_ERENDER) fail_msg("case %zu (%s): rc %d", i, render_errs[i].tpl, n);
    if (!strstr(err, render_errs[i].msg)) fail_msg("case %zu: message '%s' lacks '%s'", i, err, render_errs[i].msg);
  }
  oscmap_free(m);
}

static void test_oscmap_eval_typed_values(void **state) {
  (void)state;
  json_t *vars =
      J("{'bpm': 120, 'x': 0.5, 'name': 'Bass', 'flag': true, 'slot': 3, 'pan': -0.5, 'tempo': 90, 'beats': 3,"
        " 'arr': [1, 2]}");
  struct {
    const char *tpl, *want;
  } cases[] = {
      {"'{bpm}'", "120"},
      {"'{x}'", "0.5"},
      {"'{name}'", "'Bass'"},
      {"'{flag}'", "true"},
      {"'{arr}'", "[1, 2]"},
      {"'/track/{slot}'", "'/track/3'"},
      {"'{slot}{slot}'", "'33'"},
      {"'{name} and {bpm}'", "'Bass and 120'"},
      {"'{pan|pan_to_norm}'", "0.25"},
      {"'{flag|bool}'", "1.0"},
      {"'{flag|not}'", "0.0"},
      {"'{beats|beats_to_sec}'", "2.0"},
      {"'plain'", "'plain'"},
      {"''", "''"},
      {"5", "5"},
      {"2.5", "2.5"},
      {"true", "true"},
      {"null", "null"},
  };
  char err[256];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    json_t *t = J(cases[i].tpl), *want = J(cases[i].want);
    err[0] = 0;
    json_t *got = oscmap_eval(t, vars, err, sizeof err);
    if (!got) fail_msg("eval %s: NULL (%s)", cases[i].tpl, err);
    if (!json_equal(got, want)) {
      char *g = json_dumps(got, JSON_ENCODE_ANY);
      fail_msg("eval %s = %s, expected %s", cases[i].tpl, g, cases[i].want);
    }
    json_decref(got);
    json_decref(want);
    json_decref(t);
  }
  assert_null(oscmap_eval(NULL, vars, err, sizeof err));
  struct {
    const char *tpl, *msg;
  } bad[] = {
      {"'{nope}'", "'nope'"},
      {"'/track/{nope}/x'", "'nope'"},
      {"'{name|bool}'", "must be a number"},
      {"'{bpm|warp}'", "unknown conversion 'warp'"},
      {"'{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}'",
       "too long"},
      {"'/x/{aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}'",
       "too long"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    json_t *t = J(bad[i].tpl);
    err[0] = 0;
    json_t *got = oscmap_eval(t, vars, err, sizeof err);
    if (got) fail_msg("eval %s succeeded", bad[i].tpl);
    if (!strstr(err, bad[i].msg)) fail_msg("eval %s: message '%s' lacks '%s'", bad[i].tpl, err, bad[i].msg);
    json_decref(t);
  }
  json_decref(vars);
}

/* ---- conversions ---- */

struct conv_case {
  const char *name;
  double in;
  const char *ctx; /* JSON or NULL */
  double out;
  double tol;
};

static const struct conv_case conv_cases[] = {
    {"bool", 0, NULL, 0, 0},
    {"bool", 0.49, NULL, 0, 0},
    {"bool", 0.5, NULL, 1, 0},
    {"bool", 1, NULL, 1, 0},
    {"bool", -1, NULL, 0, 0},
    {"not", 0, NULL, 1, 0},
    {"not", 0.5, NULL, 0, 0},
    {"not", 1, NULL, 0, 0},
    {"int", 2.4, NULL, 2, 0},
    {"int", 2.5, NULL, 3, 0},
    {"int", -2.4, NULL, -2, 0},
    {"int_string", 11.6, NULL, 12, 0},
    {"db_floor", -6, NULL, -6, 0},
    {"db_floor", -150, NULL, -150, 0},
    {"db_floor", -1000, NULL, -150, 0},
    {"db_floor", -INFINITY, NULL, -150, 0},
    {"db_floor", 12, NULL, 12, 0},
    {"db_string", -151, NULL, -150, 0},
    {"float_string", 97.25, NULL, 97.25, 0},
    {"pan_string", -0.3, NULL, -0.3, 0},
    {"norm_to_pan", 0, NULL, -1, 1e-12},
    {"norm_to_pan", 0.5, NULL, 0, 1e-12},
    {"norm_to_pan", 1, NULL, 1, 1e-12},
    {"norm_to_pan", 0.25, NULL, -0.5, 1e-12},
    {"norm_to_pan", 2, NULL, 1, 0},
    {"norm_to_pan", -1, NULL, -1, 0},
    {"pan_to_norm", -1, NULL, 0, 0},
    {"pan_to_norm", 0, NULL, 0.5, 0},
    {"pan_to_norm", 1, NULL, 1, 0},
    {"pan_to_norm", -0.5, NULL, 0.25, 1e-12},
    {"pan_to_norm", 3, NULL, 1, 0},
    {"pan_to_norm", -3, NULL, 0, 0},
    {"sec_to_beats", 2, NULL, 4, 1e-12}, /* default tempo 120 */
    {"sec_to_beats", 2, "{'tempo': 90}", 3, 1e-12},
    {"sec_to_beats", 2, "{'tempo': 0}", 4, 1e-12}, /* nonsense tempo: default */
    {"sec_to_beats", 2, "{'tempo': -60}", 4, 1e-12},
    {"beats_to_sec", 4, NULL, 2, 1e-12},
    {"beats_to_sec", 3, "{'tempo': 90}", 2, 1e-12},
    {"beats_to_sec", 0, "{'tempo': 90}", 0, 0},
    {"beats_to_samples", 4, NULL, 96000, 0}, /* default sample rate 48000 */
    {"beats_to_samples", 4, "{'tempo': 120, 'sample_rate': 44100}", 88200, 0},
    {"beats_to_samples", 1, "{'tempo': 90, 'sample_rate': 44100}", 29400, 0},
    {"beats_to_samples", 1, "{'tempo': 7, 'sample_rate': 1}", 9, 0}, /* 8.57 rounds to 9 */
    {"samples_to_beats", 96000, NULL, 4, 1e-12},                     /* defaults: 120 bpm, 48000 Hz */
    {"samples_to_beats", 88200, "{'tempo': 90, 'sample_rate': 44100}", 3, 1e-12},
    {"samples_to_beats", 0, NULL, 0, 0},
    {"ardour_fader_to_db", 0, NULL, -150, 0},
    {"ardour_fader_to_db", -0.5, NULL, -150, 0},
    {"ardour_fader_to_db", 1, NULL, 6.0206, 1e-3},
    {"ardour_fader_to_db", 0.5, NULL, -10.469, 1e-3},
    {"ardour_fader_to_db", 0.781787, NULL, 0, 1e-3},
    {"ardour_fader_to_db", 1e-12, NULL, -150, 0},
    {"db_to_ardour_fader", -150, NULL, 0, 0},
    {"db_to_ardour_fader", -200, NULL, 0, 0},
    {"db_to_ardour_fader", 0, NULL, 0.781787, 1e-5},
    {"db_to_ardour_fader", 6.0206, NULL, 1, 1e-4},
    {"db_to_ardour_fader", -10.469, NULL, 0.5, 1e-4},
    {"range_to_norm", 4, "{'param_min': 1, 'param_max': 20}", 3.0 / 19.0, 1e-12},
    {"range_to_norm", 1, "{'param_min': 1, 'param_max': 20}", 0, 0},
    {"range_to_norm", 30, "{'param_min': 1, 'param_max': 20}", 1, 0},
    {"range_to_norm", -5, "{'param_min': 1, 'param_max': 20}", 0, 0},
    {"range_to_norm", 0.3, NULL, 0.3, 1e-12},                               /* no range: 0..1 */
    {"range_to_norm", 0.3, "{'param_min': 5, 'param_max': 5}", 0.3, 1e-12}, /* empty range: 0..1 */
    {"norm_to_range", 0.5, "{'param_min': 1, 'param_max': 20}", 10.5, 1e-12},
    {"norm_to_range", 2, "{'param_min': 1, 'param_max': 20}", 20, 0},
    {"norm_to_range", -1, "{'param_min': -24, 'param_max': 24}", -24, 0},
    {"norm_to_range", 0.25, NULL, 0.25, 1e-12},
};

static void test_oscmap_conversions(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases; i++) {
    const struct conv_case *c = &conv_cases[i];
    json_t *ctx = c->ctx ? J(c->ctx) : NULL;
    double out = NAN;
    int rc = oscmap_convert(c->name, c->in, ctx, &out);
    if (rc) fail_msg("%s(%g): rc %d", c->name, c->in, rc);
    if (!(fabs(out - c->out) <= c->tol))
      fail_msg("%s(%g) with %s = %.9g, expected %.9g", c->name, c->in, c->ctx ? c->ctx : "-", out, c->out);
    json_decref(ctx);
  }
  /* the fader curve round-trips */
  for (double db = -60; db <= 6; db += 1.5) {
    double pos, back;
    assert_int_equal(oscmap_convert("db_to_ardour_fader", db, NULL, &pos), 0);
    assert_int_equal(oscmap_convert("ardour_fader_to_db", pos, NULL, &back), 0);
    if (fabs(back - db) > 1e-6) fail_msg("fader round trip %g -> %g -> %g", db, pos, back);
  }
  /* pan round trip */
  for (double p = -1; p <= 1; p += 0.125) {
    double n, back;
    oscmap_convert("pan_to_norm", p, NULL, &n);
    oscmap_convert("norm_to_pan", n, NULL, &back);
    assert_true(fabs(back - p) < 1e-12);
  }
  double out = 7;
  assert_int_equal(oscmap_convert("warp", 1, NULL, &out), -1);
  assert_int_equal(oscmap_convert("", 1, NULL, &out), -1);
  assert_true(out == 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oscmap_real_maps_load),
      cmocka_unit_test(test_oscmap_find_and_io_errors),
      cmocka_unit_test(test_oscmap_not_json_names_file_and_line),
      cmocka_unit_test(test_oscmap_bad_maps_refused),
      cmocka_unit_test(test_oscmap_match_reaper),
      cmocka_unit_test(test_oscmap_match_reaper_strings),
      cmocka_unit_test(test_oscmap_match_ardour_lists),
      cmocka_unit_test(test_oscmap_match_ardour_strips),
      cmocka_unit_test(test_oscmap_match_custom_feedback),
      cmocka_unit_test(test_oscmap_render_templates),
      cmocka_unit_test(test_oscmap_render_errors),
      cmocka_unit_test(test_oscmap_eval_typed_values),
      cmocka_unit_test(test_oscmap_conversions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
