/* test_vocab.c: the tool vocabulary (vocab/vocab.[ch]): the table and vocab/tools.json agree, lookup, the
 * MCP annotations derived from the table, the argument validator, and a catalog that disagrees is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db_test_util.h"
#include "vocab.h"

/* every enum row has exactly one schema and every schema a row, in the same order, built-in and file alike */
static void test_vocab_table_and_schemas_agree(void **state) {
  (void)state;
  char err[512], path[1024];
  snprintf(path, sizeof path, "%s/vocab/tools.json", db_test_source_dir());
  const char *paths[] = {NULL, path};
  for (int p = 0; p < 2; p++) {
    vocab_t *v = NULL;
    assert_int_equal(vocab_load(paths[p], &v, err, sizeof err), 0);
    assert_int_equal(json_array_size(vocab_catalog(v)), VOCAB__COUNT);
    for (int t = 0; t < VOCAB__COUNT; t++) {
      const json_t *e = vocab_entry(v, (enum vocab_tool)t);
      assert_non_null(e);
      assert_string_equal(json_string_value(json_object_get(e, "name")), vocab_name((enum vocab_tool)t));
      assert_string_equal(json_string_value(json_object_get(e, "kind")),
                          vocab_kind_name(vocab_kind((enum vocab_tool)t)));
      assert_true(json_is_object(vocab_schema(v, (enum vocab_tool)t)));
      assert_non_null(vocab_description(v, (enum vocab_tool)t));
      assert_ptr_equal(json_array_get(vocab_catalog(v), (size_t)t), e);
    }
    assert_null(vocab_entry(v, VOCAB__COUNT));
    assert_null(vocab_schema(v, (enum vocab_tool) - 1));
    vocab_free(v);
  }
}

static void test_vocab_lookup(void **state) {
  (void)state;
  for (int t = 0; t < VOCAB__COUNT; t++) assert_int_equal(vocab_lookup(vocab_name((enum vocab_tool)t)), t);
  assert_int_equal(vocab_lookup("get_notes"), VOCAB_GET_NOTES);
  assert_int_equal(vocab_lookup("create_track"), VOCAB_CREATE_TRACK);
  assert_int_equal(vocab_lookup("Create_Track"), -1);
  assert_int_equal(vocab_lookup("create_track "), -1);
  assert_int_equal(vocab_lookup(""), -1);
  assert_int_equal(vocab_lookup(NULL), -1);
  assert_null(vocab_name(VOCAB__COUNT));
  assert_string_equal(vocab_suggest("get_note"), "get_notes");
  assert_string_equal(vocab_suggest("crete_track"), "create_track");
  assert_null(vocab_suggest("zzzzzzzzzzzzzzzzzzzz"));
  /* properties the bridge and the agent rely on */
  assert_true(vocab_is_read(VOCAB_GET_STATE));
  assert_true(vocab_is_read(VOCAB_GET_NOTES));
  assert_true(vocab_name_is_read("get_notes"));
  assert_false(vocab_name_is_read("nope"));
  assert_false(vocab_is_read(VOCAB_SET_TRACK));
  assert_int_equal(vocab_confirm(VOCAB_GET_NOTES), VOCAB_CONFIRM_NONE);
  assert_int_equal(vocab_confirm(VOCAB_CREATE_MIDI_CLIP), VOCAB_CONFIRM_READBACK);
  assert_int_equal(vocab_confirm(VOCAB_SET_TRACK), VOCAB_CONFIRM_FEEDBACK);
  assert_false(vocab_idempotent(VOCAB_CREATE_TRACK));
  assert_true(vocab_idempotent(VOCAB_SET_TEMPO));
  assert_string_equal(vocab_creates(VOCAB_CREATE_MIDI_CLIP), "clip");
  assert_null(vocab_creates(VOCAB_SET_TRACK));
  /* every create creates something, nothing else does; every read needs no confirmation and is idempotent */
  for (int t = 0; t < VOCAB__COUNT; t++) {
    enum vocab_tool x = (enum vocab_tool)t;
    assert_int_equal(vocab_kind(x) == VOCAB_CREATE, vocab_creates(x) != NULL);
    if (vocab_kind(x) == VOCAB_READ) {
      assert_int_equal(vocab_confirm(x), VOCAB_CONFIRM_NONE);
      assert_true(vocab_idempotent(x));
    } else {
      assert_int_not_equal(vocab_confirm(x), VOCAB_CONFIRM_NONE);
    }
    if (vocab_kind(x) == VOCAB_CREATE) assert_false(vocab_idempotent(x));
  }
}

static void test_vocab_mcp_annotations(void **state) {
  (void)state;
  char err[512];
  vocab_t *v = NULL;
  assert_int_equal(vocab_load(NULL, &v, err, sizeof err), 0);
  json_t *all = vocab_tools_json(v, NULL, VOCAB_JSON_MCP);
  assert_int_equal(json_array_size(all), VOCAB__COUNT);
  size_t i;
  json_t *e;
  json_array_foreach(all, i, e) {
    enum vocab_tool t = (enum vocab_tool)vocab_lookup(json_string_value(json_object_get(e, "name")));
    assert_int_equal(t, (int)i);
    json_t *a = json_object_get(e, "annotations");
    assert_int_equal(json_is_true(json_object_get(a, "readOnlyHint")), vocab_kind(t) == VOCAB_READ);
    assert_int_equal(json_is_true(json_object_get(a, "destructiveHint")),
                     vocab_kind(t) == VOCAB_CHANGE || vocab_kind(t) == VOCAB_DELETE);
    assert_int_equal(json_is_true(json_object_get(a, "idempotentHint")), vocab_idempotent(t));
    assert_true(json_is_false(json_object_get(a, "openWorldHint")));
    assert_true(json_equal(json_object_get(e, "inputSchema"), (json_t *)vocab_schema(v, t)));
    assert_true(json_is_string(json_object_get(e, "description")));
  }
  json_decref(all);
  /* a subset keeps the table's order and ignores unknown names */
  json_t *names = json_pack("[s,s,s]", "get_notes", "nope", "create_track");
  json_t *sub = vocab_tools_json(v, names, VOCAB_JSON_CATALOG);
  assert_int_equal(json_array_size(sub), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(sub, 0), "name")), "create_track");
  assert_string_equal(json_string_value(json_object_get(json_array_get(sub, 1), "name")), "get_notes");
  assert_non_null(json_object_get(json_array_get(sub, 1), "parameters"));
  json_decref(sub);
  json_decref(names);
  vocab_free(v);
}

struct check_case {
  const char *tool, *args;
  int rc;
  const char *msg; /* a substring of the message, or NULL */
};

static const struct check_case cases[] = {
    {"get_notes", "{\"track_id\": \"t1\"}", 0, NULL},
    {"get_notes", "{\"track_id\": \"t1\", \"clip_id\": \"c2\", \"start\": 0, \"end\": 16}", 0, NULL},
    {"get_notes", "{}", VOCAB_EARGS, "get_notes: missing required argument 'track_id'"},
    {"get_notes", "{\"track_id\": \"t1\", \"end\": 0}", VOCAB_EARGS, "end is 0; it must be greater than 0"},
    {"get_notes", "{\"track_id\": \"t1\", \"start\": -1}", VOCAB_EARGS, "start is -1; it must be at least 0"},
    {"get_notes", "{\"track_id\": \"t1\", \"bars\": 2}", VOCAB_EARGS, "unknown argument 'bars'"},
    {"get_notes", "{\"track_id\": 3}", VOCAB_EARGS, "track_id must be a string, not an integer"},
    {"get_state", "{}", 0, NULL},
    {"get_state", "{\"track_id\": \"t2\"}", 0, NULL},
    {"get_state", "{\"track_id\": \"\"}", VOCAB_EARGS, "track_id must not be empty"},
    {"set_track", "{\"track_id\": \"t1\"}", VOCAB_EARGS, "nothing to change"},
    {"set_track", "{\"track_id\": \"t1\", \"pan\": 3}", VOCAB_EARGS, "pan is 3; it must be at most 1"},
    {"transport", "{\"action\": \"jump\"}", VOCAB_EARGS, "action must be one of"},
    {"create_midi_clip",
     "{\"track_id\": \"t1\", \"start_time\": 0, \"duration\": 4, \"notes\": [{\"n\": 60, \"s\": 0}]}", VOCAB_EARGS,
     "notes[0]: missing required argument 'd'"},
    {"create_midi_clip",
     "{\"track_id\": \"t1\", \"start_time\": 0, \"duration\": 4, \"notes\": [{\"n\": 60.5, \"s\": 0, \"d\": 1}]}",
     VOCAB_EARGS, "notes[0].n must be an integer"},
    {"crete_track", "{}", VOCAB_EUNKNOWN, "did you mean create_track?"},
    {"get_notes", "[]", VOCAB_EARGS, "arguments must be a JSON object"},
};

static void test_vocab_check_cases(void **state) {
  (void)state;
  char err[512];
  vocab_t *v = NULL;
  assert_int_equal(vocab_load(NULL, &v, err, sizeof err), 0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_error_t je;
    json_t *a = json_loads(cases[i].args, JSON_DECODE_ANY, &je);
    assert_non_null(a);
    err[0] = 0;
    int rc = vocab_check_name(v, cases[i].tool, a, err, sizeof err);
    if (rc != cases[i].rc || (cases[i].msg && !strstr(err, cases[i].msg)))
      fail_msg("case %zu %s %s: rc %d, message '%s'", i, cases[i].tool, cases[i].args, rc, err);
    json_decref(a);
  }
  json_t *empty = json_object();
  assert_int_equal(vocab_check(v, VOCAB__COUNT, empty, err, sizeof err), VOCAB_EUNKNOWN);
  json_decref(empty);
  vocab_free(v);
}

/* vocab_check_all: every problem of a call, each with the argument it concerns ("-" = the call as a whole) */
struct all_case {
  const char *tool, *args;
  int count;
  const char *want[5][2]; /* {arg, substring of the message}, in report order */
};

static const struct all_case all_cases[] = {
    {"set_track", "{\"track_id\": \"t1\", \"mute\": true}", 0, {{NULL}}},
    {"set_track",
     "{\"track_id\": \"t1\", \"pan\": 2, \"volume_db\": 40, \"mute\": \"perhaps\", \"color\": \"red\"}",
     4,
     {{"pan", "pan is 2; it must be at most 1 (range -1 to 1)"},
      {"volume_db", "volume_db is 40; it must be at most 12"},
      {"mute", "mute must be a boolean, not a string: \"perhaps\""},
      {"color", "unknown argument 'color' (expected: track_id, "}}},
    /* missing required arguments come first, each with its description */
    {"create_track",
     "{\"colour\": \"blue\"}",
     3,
     {{"name", "missing required argument 'name'"},
      {"type", "missing required argument 'type' (midi or audio)"},
      {"colour", "unknown argument 'colour' (expected: name, type, instrument)"}}},
    /* one problem per argument: the first inside its value, with the path */
    {"create_midi_clip",
     "{\"track_id\": \"t1\", \"start_time\": -1, \"duration\": 4, \"notes\": [{\"n\": 60}, {\"n\": 500}]}",
     2,
     {{"start_time", "start_time is -1; it must be at least 0"}, {"notes", "notes[0]: missing required argument"}}},
    {"set_track", "{\"track_id\": \"t1\"}", 1, {{"-", "nothing to change"}}},
    {"transport",
     "{\"action\": \"PLAY\"}",
     1,
     {{"action", "action must be one of [\"play\""}, {"action", "not \"PLAY\""}}},
    {"get_notes", "[]", 1, {{"-", "arguments must be a JSON object"}}},
};

struct got_problems {
  json_t *list; /* [[arg, message], ...] */
};

static void collect(void *data, const char *arg, const char *message) {
  struct got_problems *g = data;
  assert_non_null(message);
  assert_null(strstr(message, "set_track:")); /* the tool's name is the caller's to add */
  json_array_append_new(g->list, json_pack("[s,s]", arg ? arg : "-", message));
}

static void test_vocab_check_all_cases(void **state) {
  (void)state;
  char err[512];
  vocab_t *v = NULL;
  assert_int_equal(vocab_load(NULL, &v, err, sizeof err), 0);
  for (size_t i = 0; i < sizeof all_cases / sizeof all_cases[0]; i++) {
    const struct all_case *c = &all_cases[i];
    json_error_t je;
    json_t *a = json_loads(c->args, JSON_DECODE_ANY, &je);
    assert_non_null(a);
    struct got_problems g = {json_array()};
    enum vocab_tool t = (enum vocab_tool)vocab_lookup(c->tool);
    int n = vocab_check_all(v, t, a, collect, &g);
    char *dump = json_dumps(g.list, JSON_COMPACT);
    if (n != c->count || json_array_size(g.list) != (size_t)c->count)
      fail_msg("case %zu %s %s: %d problems, expected %d: %s", i, c->tool, c->args, n, c->count, dump);
    for (size_t k = 0, at = 0; k < 5 && c->want[k][0]; k++) {
      /* in report order; two wants may describe the same problem */
      while (at < json_array_size(g.list)) {
        const json_t *p = json_array_get(g.list, at);
        if (!strcmp(json_string_value(json_array_get(p, 0)), c->want[k][0]) &&
            strstr(json_string_value(json_array_get(p, 1)), c->want[k][1]))
          break;
        at++;
      }
      if (at == json_array_size(g.list))
        fail_msg("case %zu %s: no problem (%s) \"%s\" in order: %s", i, c->tool, c->want[k][0], c->want[k][1], dump);
    }
    /* vocab_check is the first of them, with the tool's name */
    int rc = vocab_check(v, t, a, err, sizeof err);
    assert_int_equal(rc, c->count ? VOCAB_EARGS : 0);
    if (c->count) {
      char first[600];
      snprintf(first, sizeof first, "%s: %s", c->tool, json_string_value(json_array_get(json_array_get(g.list, 0), 1)));
      assert_string_equal(err, first);
    }
    assert_int_equal(vocab_check_all(v, t, a, NULL, NULL), c->count); /* counting only */
    free(dump);
    json_decref(g.list);
    json_decref(a);
  }
  json_t *empty = json_object();
  assert_int_equal(vocab_check_all(v, VOCAB__COUNT, empty, collect, NULL), VOCAB_EUNKNOWN);
  json_decref(empty);
  vocab_free(v);
}

/* vocab_suggest: the names models write for a tool, typos, shared words; nothing for what resembles no tool */
static void test_vocab_suggest_cases(void **state) {
  (void)state;
  static const struct {
    const char *in, *want; /* want NULL: no suggestion */
  } c[] = {
      {"add_track", "create_track"},
      {"create_clip", "create_midi_clip"},
      {"set_volume", "set_track"},
      {"play", "transport"},
      {"delete_effect", "remove_effect"},
      {"get_note", "get_notes"},
      {"crete_track", "create_track"},
      {"marker", "add_marker"},
      {"set_effect_parm", "set_effect_param"},
      {"transprot", "transport"},
      {"zzzzzzzzzzzzzzzzzzzz", NULL},
      {"make me a sandwich please", NULL},
      {"", NULL},
      {"__", NULL},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    const char *got = vocab_suggest(c[i].in);
    if (c[i].want ? !got || strcmp(got, c[i].want) : got != NULL)
      fail_msg("suggest(%s) = %s, expected %s", c[i].in, got ? got : "(none)", c[i].want ? c[i].want : "(none)");
  }
  assert_null(vocab_suggest(NULL));
}

/* a catalog that disagrees with the table is refused at load with a message naming what */
static void test_vocab_load_refuses_disagreement(void **state) {
  (void)state;
  char path[1024], err[512];
  snprintf(path, sizeof path, "%s/vocab/tools.json", db_test_source_dir());
  json_error_t je;
  json_t *good = json_load_file(path, 0, &je);
  assert_non_null(good);
  char tmp[] = "/tmp/test_vocab_XXXXXX";
  int fd = mkstemp(tmp);
  assert_true(fd >= 0);
  close(fd);
  for (int k = 0; k < 5; k++) {
    json_t *r = json_deep_copy(good);
    json_t *tools = json_object_get(r, "tools");
    const char *want = NULL;
    switch (k) {
    case 0:
      json_array_remove(tools, VOCAB_GET_NOTES);
      want = "no schema for the tool 'get_notes'";
      break;
    case 1:
      json_array_append_new(tools, json_pack("{s:s,s:s,s:{}}", "name", "get_everything", "kind", "read", "parameters"));
      want = "'get_everything' has no row";
      break;
    case 2:
      json_object_set_new(json_array_get(tools, VOCAB_GET_NOTES), "kind", json_string("change"));
      want = "get_notes.kind is \"change\" but the vocabulary table says \"read\"";
      break;
    case 3:
      json_object_set_new(json_array_get(tools, VOCAB_ADD_MARKER), "creates", json_null());
      want = "add_marker.creates is null but the vocabulary table says marker";
      break;
    case 4:
      json_array_append(tools, json_array_get(tools, VOCAB_GET_STATE));
      want = "'get_state' is listed twice";
      break;
    }
    assert_int_equal(json_dump_file(r, tmp, 0), 0);
    vocab_t *v = NULL;
    err[0] = 0;
    assert_int_equal(vocab_load(tmp, &v, err, sizeof err), VOCAB_ELOAD);
    assert_null(v);
    if (!strstr(err, want)) fail_msg("mutation %d: '%s' does not say '%s'", k, err, want);
    json_decref(r);
  }
  vocab_t *v = NULL;
  assert_int_equal(vocab_load("/nonexistent/tools.json", &v, err, sizeof err), VOCAB_ELOAD);
  assert_non_null(strstr(err, "/nonexistent/tools.json"));
  FILE *f = fopen(tmp, "w");
  fputs("{\"tools\": [", f);
  fclose(f);
  assert_int_equal(vocab_load(tmp, &v, err, sizeof err), VOCAB_ELOAD);
  unlink(tmp);
  json_decref(good);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vocab_table_and_schemas_agree),
      cmocka_unit_test(test_vocab_lookup),
      cmocka_unit_test(test_vocab_mcp_annotations),
      cmocka_unit_test(test_vocab_check_cases),
      cmocka_unit_test(test_vocab_load_refuses_disagreement),
      cmocka_unit_test(test_vocab_check_all_cases),
      cmocka_unit_test(test_vocab_suggest_cases),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
