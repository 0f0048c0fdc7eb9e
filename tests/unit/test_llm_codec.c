/* test_llm_codec.c — encode/decode of both wire formats against tests/fixtures/llm/.
 * Data-driven: cases.json lists each response fixture, its streamed twin (.sse) and the
 * expected neutral result; the streamed assembly must equal the plain decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "llm_provider.h"
#include "sse.h"
#include "db_test_json.h"
#include "db_test_util.h"

/* The fixture tests/fixtures/llm/<name>, whole and NUL-terminated (malloc'd); *len its size. Fails if unreadable. */
static char *read_fixture(const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fixtures/llm/%s", db_test_source_dir(), name);
  char *buf = db_test_slurp(path, len);
  if (!buf) fail_msg("cannot read %s", path);
  return buf;
}

/* The JSON fixture tests/fixtures/llm/<name> (new reference). */
static json_t *load_fixture(const char *name) {
  char rel[512];
  snprintf(rel, sizeof rel, "tests/fixtures/llm/%s", name);
  return db_test_source_json(rel);
}

/* The response fixture <name> decoded by ops; the decode must succeed. Free with llm_result_free. */
static struct llm_result *decode_fixture(const struct llm_provider_ops *ops, const char *name) {
  size_t len;
  char *body = read_fixture(name, &len);
  struct llm_result *res = NULL;
  char err[128] = "";
  int rc = ops->decode(body, len, &res, err, sizeof err);
  if (rc != LLM_OK) fail_msg("%s: decode %d (%s)", name, rc, err);
  free(body);
  return res;
}

static const struct llm_provider_ops *ops_for(const char *p) {
  return !strcmp(p, "openai") ? llm__openai_ops() : llm__anthropic_ops();
}

static void assert_json_eq(json_t *got, json_t *want, const char *what) {
  if (!json_equal(got, want)) {
    char *g = json_dumps(got, JSON_SORT_KEYS), *w = json_dumps(want, JSON_SORT_KEYS);
    fail_msg("%s:\n got  %s\n want %s", what, g, w);
  }
}

struct stream_ctx {
  const struct llm_provider_ops *ops;
  void *st;
  strbuf_t text;
  int rc;
  char err[256];
};

static void on_text(void *ctx, const char *t, size_t n) {
  struct stream_ctx *s = ctx;
  assert_int_equal(llm__buf_add(&s->text, t, n), 0);
}

static int on_ev(const struct sse_event *ev, void *data) {
  struct stream_ctx *s = data;
  int rc = s->ops->stream_event(s->st, ev->event, ev->data, ev->data_len, on_text, s, s->err, sizeof s->err);
  if (rc < 0) s->rc = rc;
  return rc < 0;
}

/* Decode a stream fed in slices of `step` bytes (0 = whole). Returns status; *res new. */
static int decode_stream(const struct llm_provider_ops *ops, const char *buf, size_t len, size_t step,
                         struct llm_result **res, char **text) {
  struct stream_ctx s = {.ops = ops, .st = ops->stream_new()};
  sse_t *p = sse_new(0, on_ev, &s);
  for (size_t off = 0; off < len;) {
    size_t n = step && step < len - off ? step : len - off;
    if (sse_feed(p, buf + off, n) != SSE_OK) break;
    off += n;
  }
  sse_finish(p);
  sse_free(p);
  int rc = s.rc ? s.rc : ops->stream_finish(s.st, res, s.err, sizeof s.err);
  ops->stream_free(s.st);
  *text = s.text.s ? s.text.s : strdup("");
  return rc;
}

static void test_llm_codec_fixture_cases(void **state) {
  (void)state;
  json_t *all = load_fixture("cases.json"), *c;
  size_t i;
  assert_true(json_array_size(json_object_get(all, "cases")) >= 12);
  json_array_foreach(json_object_get(all, "cases"), i, c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    const struct llm_provider_ops *ops = ops_for(json_string_value(json_object_get(c, "provider")));
    json_t *want = json_object_get(c, "expect");
    size_t len;
    char *body = read_fixture(json_string_value(json_object_get(c, "response")), &len);
    struct llm_result *res = NULL;
    char err[256];
    int rc = ops->decode(body, len, &res, err, sizeof err);
    if (rc) fail_msg("%s: decode failed: %s", name, err);
    json_t *got = llm_result_json(res);
    char what[128];
    snprintf(what, sizeof what, "%s (plain)", name);
    assert_json_eq(got, want, what);
    json_decref(got);
    llm_result_free(res);
    free(body);

    json_t *sname = json_object_get(c, "stream");
    if (!json_is_string(sname)) continue;
    char *sse = read_fixture(json_string_value(sname), &len);
    static const size_t steps[] = {0, 1, 7, 64};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
      char *text = NULL;
      rc = decode_stream(ops, sse, len, steps[k], &res, &text);
      if (rc) fail_msg("%s: stream decode failed (step %zu)", name, steps[k]);
      got = llm_result_json(res);
      snprintf(what, sizeof what, "%s (stream, step %zu)", name, steps[k]);
      assert_json_eq(got, want, what);
      /* the deltas add up to the text */
      assert_string_equal(text, json_string_value(json_object_get(want, "text")));
      json_decref(got);
      llm_result_free(res);
      free(text);
    }
    free(sse);
  }
  json_decref(all);
}

/* ops encodes the neutral request for model exactly as the fixture <want_fixture> says. */
static void assert_encodes(const struct llm_provider_ops *ops, json_t *neutral, const char *model,
                           const char *want_fixture) {
  char err[256] = "";
  json_t *got = ops->encode(neutral, model, err, sizeof err);
  if (!got) fail_msg("%s: encode failed (%s)", want_fixture, err);
  json_t *want = load_fixture(want_fixture);
  assert_json_eq(got, want, want_fixture);
  json_decref(got);
  json_decref(want);
}

static void test_llm_codec_encode_both_formats(void **state) {
  (void)state;
  json_t *neutral = load_fixture("request_neutral.json");
  assert_encodes(llm__openai_ops(), neutral, "gpt-test", "request_openai.json");
  assert_encodes(llm__anthropic_ops(), neutral, "claude-test", "request_anthropic.json");
  json_decref(neutral);
}

static void test_llm_codec_request_builder_matches_neutral(void **state) {
  (void)state;
  llm_request_t *q = llm_request_new();
  assert_int_equal(llm_request_set_system(q, "You are a DAW assistant."), LLM_OK);
  assert_int_equal(llm_request_add_user(q, "Add a kick ♪"), LLM_OK);
  json_t *a1 = json_pack("{s:s,s:s}", "name", "Kick", "type", "midi"), *a2 = json_pack("{s:i}", "bpm", 120);
  struct llm_tool_call calls[2] = {{.id = "call_1", .name = "create_track", .args = a1},
                                   {.id = "call_2", .name = "set_tempo", .args = a2}};
  assert_int_equal(llm_request_add_assistant(q, "Creating it.", calls, 2), LLM_OK);
  assert_int_equal(llm_request_add_tool_result(q, "call_1", "create_track", "{\"track_id\":\"t1\"}", 0), LLM_OK);
  assert_int_equal(llm_request_add_tool_result(q, "call_2", "set_tempo", "tempo out of range", 1), LLM_OK);
  assert_int_equal(llm_request_add_user(q, "Now a snare."), LLM_OK);
  json_t *schema = json_pack("{s:s,s:{s:{s:s}},s:[s]}", "type", "object", "properties", "name", "type", "string",
                             "required", "name");
  assert_int_equal(llm_request_add_tool(q, "create_track", "Create a track", schema), LLM_OK);
  json_decref(schema);
  struct llm_options o = {.temperature = 0.25, .max_tokens = 1000, .stream = 1};
  llm_request_set_options(q, &o);
  json_t *want = load_fixture("request_neutral.json");
  assert_json_eq(llm_request_json(q), want, "neutral request");
  /* and back from JSON */
  char err[128];
  llm_request_t *q2 = llm_request_from_json(want, err, sizeof err);
  assert_non_null(q2);
  assert_json_eq(llm_request_json(q2), want, "from_json");
  llm_request_free(q2);
  json_decref(want);
  json_decref(a1);
  json_decref(a2);
  llm_request_free(q);
}

static void test_llm_codec_missing_ids_are_synthesized(void **state) {
  (void)state;
  struct llm_result *res = decode_fixture(llm__openai_ops(), "oa_ollama_object_args.json");
  assert_int_equal(res->ncalls, 2);
  assert_null(res->calls[0].id);
  assert_int_equal(res->finish, LLM_STOP_TOOL); /* finish_reason "stop", but tool_calls win */
  assert_int_equal(llm__result_fill_ids(res, 7), 0);
  assert_string_equal(res->calls[0].id, "call_7_0");
  assert_string_equal(res->calls[1].id, "call_7_1");
  assert_string_equal(res->calls[0].raw_args, "{\"bpm\":120}");
  llm_result_free(res);
}

static void test_llm_codec_invalid_arguments_kept_raw(void **state) {
  (void)state;
  const char *body = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":null,"
                     "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"set_tempo\","
                     "\"arguments\":\"{\\\"bpm\\\": 12\"}},{\"id\":\"c2\",\"type\":\"function\",\"function\":"
                     "{\"name\":\"get_state\",\"arguments\":\"\"}},{\"id\":\"c3\",\"type\":\"function\",\"function\":"
                     "{\"name\":\"x\",\"arguments\":\"[1,2]\"}}]},\"finish_reason\":\"tool_calls\"}]}";
  struct llm_result *res = NULL;
  char err[128];
  assert_int_equal(llm__openai_ops()->decode(body, strlen(body), &res, err, sizeof err), LLM_OK);
  assert_int_equal(res->ncalls, 3);
  assert_null(res->calls[0].args);
  assert_string_equal(res->calls[0].raw_args, "{\"bpm\": 12");
  assert_true(json_is_object(res->calls[1].args)); /* "" → {} */
  assert_int_equal(json_object_size(res->calls[1].args), 0);
  assert_null(res->calls[2].args); /* not an object */
  llm_result_free(res);
}

static void test_llm_codec_error_bodies(void **state) {
  (void)state;
  char m[256];
  const char *oa = "{\"error\":{\"message\":\"Invalid model 'x'\",\"type\":\"invalid_request_error\"}}";
  const char *an = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}";
  /* the message of an error body: OpenAI's, Anthropic's, Ollama's, and a plain text one */
  const struct {
    const char *body, *message;
  } cases[] = {
      {oa, "Invalid model 'x'"},
      {an, "Overloaded"},
      {"{\"error\":\"model \\\"llama9\\\" not found\"}", "model \"llama9\" not found"},
      {"Bad Gateway\n", "Bad Gateway "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    llm__error_message(cases[i].body, strlen(cases[i].body), m, sizeof m);
    if (strcmp(m, cases[i].message) != 0)
      fail_msg("error body %s: \"%s\", want \"%s\"", cases[i].body, m, cases[i].message);
  }
  /* a 200 body carrying an error is a provider error, not a result */
  struct llm_result *res = NULL;
  assert_int_equal(llm__openai_ops()->decode(oa, strlen(oa), &res, m, sizeof m), LLM_EPROVIDER);
  assert_null(res);
  assert_int_equal(llm__anthropic_ops()->decode(an, strlen(an), &res, m, sizeof m), LLM_EPROVIDER);
  assert_non_null(strstr(m, "Overloaded"));
  assert_int_equal(llm__openai_ops()->decode("{\"choices\":[{\"mess", 18, &res, m, sizeof m), LLM_EPROTO);
}

static void test_llm_codec_stream_errors(void **state) {
  (void)state;
  char *text;
  struct llm_result *res = NULL;
  const char *oa_err = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
                       "data: {\"error\":{\"message\":\"boom\"}}\n\n";
  assert_int_equal(decode_stream(llm__openai_ops(), oa_err, strlen(oa_err), 5, &res, &text), LLM_EPROVIDER);
  assert_string_equal(text, "Hi");
  free(text);
  const char *oa_cut = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
  assert_int_equal(decode_stream(llm__openai_ops(), oa_cut, strlen(oa_cut), 0, &res, &text), LLM_EPROTO);
  free(text);
  const char *an_err = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{}}}\n\n"
                       "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                       "\"message\":\"Overloaded\"}}\n\n";
  assert_int_equal(decode_stream(llm__anthropic_ops(), an_err, strlen(an_err), 3, &res, &text), LLM_EPROVIDER);
  free(text);
  assert_null(res);
}

static void test_llm_codec_result_roundtrip_into_request(void **state) {
  (void)state;
  struct llm_result *res = decode_fixture(llm__anthropic_ops(), "an_tool_use.json");
  struct llm_result *dup = llm_result_dup(res);
  json_t *a = llm_result_json(res), *b = llm_result_json(dup);
  assert_json_eq(b, a, "dup");
  llm_request_t *q = llm_request_new();
  llm_request_add_user(q, "go");
  assert_int_equal(llm_request_add_result(q, dup), LLM_OK);
  json_t *m = json_array_get(json_object_get(llm_request_json(q), "messages"), 1);
  assert_string_equal(json_string_value(json_object_get(m, "role")), "assistant");
  assert_int_equal(json_array_size(json_object_get(m, "tool_calls")), 2);
  json_decref(a);
  json_decref(b);
  llm_request_free(q);
  llm_result_free(dup);
  llm_result_free(res);
}

/* JSON mode and tool_choice, per mode and wire format (issue 16). */
static void test_llm_codec_json_mode_bodies(void **state) {
  (void)state;
  char err[256];
  json_t *schema = json_pack("{s:s,s:{s:{s:s,s:i},s:{s:s,s:[s,s]},s:{s:s}},s:[s]}", "type", "object", "properties",
                             "name", "type", "string", "maxLength", 8, "kind", "type", "string", "enum", "a", "b",
                             "params", "type", "object", "required", "name");
  static const struct {
    enum llm_json_mode mode;
    const char *provider;
  } cases[] = {{LLM_JSON_SCHEMA, "openai"},    {LLM_JSON_OBJECT, "openai"}, {LLM_JSON_SCHEMA, "anthropic"},
               {LLM_JSON_OBJECT, "anthropic"}, {LLM_JSON_OFF, "openai"},    {LLM_JSON_OFF, "anthropic"}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    llm_request_t *q = llm_request_new();
    llm_request_add_user(q, "a kick");
    assert_int_equal(llm_request_set_json(q, cases[k].mode, "plan", schema), LLM_OK);
    json_t *body = ops_for(cases[k].provider)->encode(llm_request_json(q), "m", err, sizeof err);
    assert_non_null(body);
    json_t *rf = json_object_get(body, "response_format"), *tc = json_object_get(body, "tool_choice");
    if (cases[k].mode == LLM_JSON_OFF) {
      assert_null(rf);
      assert_null(tc);
      assert_null(json_object_get(body, "tools"));
    } else if (!strcmp(cases[k].provider, "openai")) {
      assert_null(tc);
      if (cases[k].mode == LLM_JSON_OBJECT) {
        assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_object");
        assert_int_equal(json_object_size(rf), 1);
      } else {
        json_t *js = json_object_get(rf, "json_schema");
        assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_schema");
        assert_true(json_is_true(json_object_get(js, "strict")));
        json_t *sc = json_object_get(js, "schema"), *props = json_object_get(sc, "properties");
        assert_true(json_is_false(json_object_get(sc, "additionalProperties")));
        assert_int_equal(json_array_size(json_object_get(sc, "required")), 2); /* name, kind (nullable); params gone */
        assert_null(json_object_get(props, "params"));                         /* free-form: cannot be strict */
        assert_null(json_object_get(json_object_get(props, "name"), "maxLength"));
        json_t *kind = json_object_get(props, "kind");
        assert_string_equal(json_string_value(json_array_get(json_object_get(kind, "type"), 1)), "null");
        assert_true(json_is_null(json_array_get(json_object_get(kind, "enum"), 2)));
        /* the caller's schema is untouched */
        assert_non_null(json_object_get(json_object_get(json_object_get(schema, "properties"), "name"), "maxLength"));
      }
    } else {
      assert_null(rf);
      assert_string_equal(json_string_value(json_object_get(tc, "type")), "tool");
      assert_string_equal(json_string_value(json_object_get(tc, "name")), "plan");
      json_t *tool = json_array_get(json_object_get(body, "tools"), 0);
      assert_string_equal(json_string_value(json_object_get(tool, "name")), "plan");
      if (cases[k].mode == LLM_JSON_SCHEMA) assert_true(json_equal(json_object_get(tool, "input_schema"), schema));
    }
    json_decref(body);
    llm_request_free(q);
  }
  json_decref(schema);
  /* tool_choice: only with tools; "required" is Anthropic's {"type":"any"} */
  llm_request_t *q = llm_request_new();
  llm_request_add_user(q, "a kick");
  assert_int_equal(llm_request_set_tool_choice(q, "required"), LLM_OK);
  json_t *oa = llm__openai_ops()->encode(llm_request_json(q), "m", err, sizeof err);
  assert_null(json_object_get(oa, "tool_choice"));
  json_decref(oa);
  llm_request_add_tool(q, "create_track", "Create a track", NULL);
  oa = llm__openai_ops()->encode(llm_request_json(q), "m", err, sizeof err);
  assert_string_equal(json_string_value(json_object_get(oa, "tool_choice")), "required");
  json_decref(oa);
  json_t *an = llm__anthropic_ops()->encode(llm_request_json(q), "m", err, sizeof err);
  assert_string_equal(json_string_value(json_object_get(json_object_get(an, "tool_choice"), "type")), "any");
  json_decref(an);
  assert_int_equal(llm_request_set_tool_choice(q, NULL), LLM_OK);
  assert_null(json_object_get(llm_request_json(q), "tool_choice"));
  llm_request_free(q);
}

static void test_llm_codec_json_mode_config(void **state) {
  (void)state;
  static const char *const names[] = {"auto", "off", "object", "schema"};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(llm_json_mode_parse(names[i]), i);
    assert_string_equal(llm_json_mode_name((enum llm_json_mode)i), names[i]);
  }
  assert_int_equal(llm_json_mode_parse("strict"), -1);
  assert_int_equal(llm_json_mode_parse(NULL), -1);
  struct llm_config c;
  llm_config_defaults(&c);
  assert_int_equal(c.json_mode, LLM_JSON_AUTO);
  c.provider = LLM_PROVIDER_OPENAI;
  assert_int_equal(llm_json_mode_effective(&c, 1), LLM_JSON_SCHEMA);
  assert_int_equal(llm_json_mode_effective(&c, 0), LLM_JSON_OFF);
  c.provider = LLM_PROVIDER_ANTHROPIC;
  assert_int_equal(llm_json_mode_effective(&c, 1), LLM_JSON_SCHEMA);
  c.provider = LLM_PROVIDER_SCRIPT;
  assert_int_equal(llm_json_mode_effective(&c, 1), LLM_JSON_OFF);
  c.json_mode = LLM_JSON_OBJECT;
  assert_int_equal(llm_json_mode_effective(&c, 0), LLM_JSON_OBJECT);
  /* --json-mode / DAWBRIDGE_JSON_MODE: the flag wins, a bad value is a configuration error */
  char err[512];
  setenv("DAWBRIDGE_JSON_MODE", "object", 1);
  struct llm_flags fl = {.llm = "openai", .url = "http://127.0.0.1:9"};
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, &fl, err, sizeof err), LLM_OK);
  assert_int_equal(c.json_mode, LLM_JSON_OBJECT);
  fl.json_mode = "off";
  assert_int_equal(llm_config_resolve(&c, &fl, err, sizeof err), LLM_OK);
  assert_int_equal(c.json_mode, LLM_JSON_OFF);
  fl.json_mode = "strictest";
  assert_int_equal(llm_config_resolve(&c, &fl, err, sizeof err), LLM_ECONFIG);
  assert_non_null(strstr(err, "auto, schema, object, off"));
  unsetenv("DAWBRIDGE_JSON_MODE");
}

static size_t count_chars(const char *s) { return strlen(s); }

/* llm_request_count_tokens: cached per message, equal to counting everything again */
static void test_llm_codec_count_tokens_incremental(void **state) {
  (void)state;
  llm_request_t *q = llm_request_new();
  llm_request_set_system(q, "sys");
  llm_request_add_tool(q, "t", "d", NULL);
  long prev = 0;
  for (int i = 0; i < 20; i++) {
    char text[64];
    snprintf(text, sizeof text, "message %d", i);
    llm_request_add_user(q, text);
    long n = llm_request_count_tokens(q, count_chars);
    /* from scratch: a copy of the request has no cache */
    char err[64];
    llm_request_t *fresh = llm_request_from_json(llm_request_json(q), err, sizeof err);
    assert_int_equal(llm_request_count_tokens(fresh, count_chars), n);
    llm_request_free(fresh);
    assert_true(n > prev);
    prev = n;
  }
  llm_request_set_system(q, "a longer system text");
  assert_int_equal(llm_request_count_tokens(q, count_chars), prev + 17);
  llm_request_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_llm_codec_fixture_cases),
      cmocka_unit_test(test_llm_codec_encode_both_formats),
      cmocka_unit_test(test_llm_codec_request_builder_matches_neutral),
      cmocka_unit_test(test_llm_codec_missing_ids_are_synthesized),
      cmocka_unit_test(test_llm_codec_invalid_arguments_kept_raw),
      cmocka_unit_test(test_llm_codec_error_bodies),
      cmocka_unit_test(test_llm_codec_stream_errors),
      cmocka_unit_test(test_llm_codec_result_roundtrip_into_request),
      cmocka_unit_test(test_llm_codec_json_mode_bodies),
      cmocka_unit_test(test_llm_codec_json_mode_config),
      cmocka_unit_test(test_llm_codec_count_tokens_incremental),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
