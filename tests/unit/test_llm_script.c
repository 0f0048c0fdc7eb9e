/* test_llm_script.c — the scripted provider (in-process transcript replay through the llm
 * interface) and the configuration resolution (flags > env > XDG file > defaults). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llm.h"
#include "db_test_text.h"

#define KEY "sk-script-test-SECRET-987654321"

static const char *src_dir(void) {
  const char *d = getenv("DAWBRIDGE_SOURCE_DIR");
  return d && *d ? d : DAWBRIDGE_SOURCE_DIR;
}

struct done {
  int called;
  int status;
  char msg[1024];
  json_t *res;
  char text[1024];
  int ndeltas;
};

static void on_done(llm_call_t *c, int status, const struct llm_result *res, const char *msg, void *data) {
  struct done *d = data;
  (void)c;
  d->called++;
  d->status = status;
  snprintf(d->msg, sizeof d->msg, "%s", msg);
  if (res) d->res = llm_result_json(res);
}

static void on_delta(llm_call_t *c, const char *t, size_t n, void *data) {
  struct done *d = data;
  (void)c;
  strncat(d->text, t, n < sizeof d->text - strlen(d->text) - 1 ? n : sizeof d->text - strlen(d->text) - 1);
  d->ndeltas++;
}

static llm_t *script_llm(uv_loop_t *loop, json_t *inline_transcript) {
  struct llm_config cfg;
  char err[512];
  llm_config_defaults(&cfg);
  cfg.provider = LLM_PROVIDER_SCRIPT;
  cfg.script = inline_transcript;
  snprintf(cfg.url, sizeof cfg.url, "%s/tests/fixtures/llm/script_demo.json", src_dir());
  llm_t *l = llm_new(loop, &cfg, err, sizeof err);
  if (!l) fail_msg("llm_new: %s", err);
  return l;
}

static void run_chat(uv_loop_t *loop, llm_t *l, llm_request_t *q, struct done *d, int stream) {
  struct llm_options o = {.temperature = -1, .stream = stream};
  llm_request_set_options(q, &o);
  assert_non_null(llm_chat(l, q, on_delta, on_done, d));
  assert_int_equal(d->called, 0); /* never synchronous */
  while (!d->called) uv_run(loop, UV_RUN_ONCE);
}

static void finish_loop(uv_loop_t *loop, llm_t *l) {
  llm_close(l, NULL, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(loop), 0);
}

/* The fixture of the script tests: a script LLM (inline transcript, or NULL for the demo transcript file) on a loop
 * of its own, and a request holding one user message. */
struct script_fx {
  uv_loop_t loop;
  llm_t *l;
  llm_request_t *q;
};

static void script_open(struct script_fx *fx, json_t *inline_transcript, const char *user) {
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  fx->l = script_llm(&fx->loop, inline_transcript);
  fx->q = llm_request_new();
  assert_non_null(fx->q);
  llm_request_add_user(fx->q, user);
}

/* Frees the request, closes the LLM and runs the loop until it can be closed. */
static void script_close(struct script_fx *fx) {
  llm_request_free(fx->q);
  finish_loop(&fx->loop, fx->l);
}

static void test_llm_script_replays_in_order(void **state) {
  (void)state;
  struct script_fx fx;
  script_open(&fx, NULL, "add a kick please");
  llm_request_t *q = fx.q;
  llm_request_set_system(q, "sys");
  struct done d1 = {0}, d2 = {0}, d3 = {0};
  run_chat(&fx.loop, fx.l, q, &d1, 1);
  assert_int_equal(d1.status, LLM_OK);
  assert_non_null(strstr(json_string_value(json_object_get(d1.res, "text")), "**PLAN:**"));
  assert_string_equal(d1.text, json_string_value(json_object_get(d1.res, "text"))); /* streamed as a delta */
  assert_int_equal(json_integer_value(json_object_get(json_object_get(d1.res, "usage"), "input_tokens")), 120);

  llm_request_add_user(q, "execute it");
  run_chat(&fx.loop, fx.l, q, &d2, 0);
  assert_int_equal(d2.status, LLM_OK);
  json_t *calls = json_object_get(d2.res, "tool_calls");
  assert_int_equal(json_array_size(calls), 2);
  assert_string_equal(json_string_value(json_object_get(d2.res, "finish")), "tool_calls");
  const char *id0 = json_string_value(json_object_get(json_array_get(calls, 0), "id"));
  assert_non_null(id0); /* synthesized */
  assert_string_equal(json_string_value(json_object_get(json_array_get(calls, 1), "id")), "call_fixed");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(calls, 1), "arguments"), "bpm")),
                   120);
  assert_int_equal(d2.ndeltas, 0);

  /* the tool round trip: results go back, the match checks the tool message */
  llm_request_add_assistant(q, "Creating the track.", NULL, 0);
  llm_request_add_tool_result(q, id0, "create_track", "{\"track_id\":\"t1\"}", 0);
  run_chat(&fx.loop, fx.l, q, &d3, 0);
  assert_int_equal(d3.status, LLM_OK);
  assert_string_equal(json_string_value(json_object_get(d3.res, "finish")), "stop");

  /* the requests were recorded for assertions */
  json_t *reqs = llm_script_requests(fx.l);
  assert_int_equal(json_array_size(reqs), 3);
  json_t *last = json_array_get(reqs, 2);
  assert_string_equal(json_string_value(json_object_get(last, "system")), "sys");
  json_t *msgs = json_object_get(last, "messages");
  assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "role")),
                      "tool");

  /* out of responses: a clear error */
  struct done d4 = {0};
  run_chat(&fx.loop, fx.l, q, &d4, 0);
  assert_int_equal(d4.status, LLM_ESCRIPT);
  assert_non_null(strstr(d4.msg, "exhausted"));
  assert_non_null(strstr(d4.msg, "3 responses"));
  json_decref(d1.res);
  json_decref(d2.res);
  json_decref(d3.res);
  script_close(&fx);
}

static void test_llm_script_match_failure(void **state) {
  (void)state;
  struct script_fx fx;
  script_open(&fx, NULL, "make a snare");
  struct done d = {0};
  run_chat(&fx.loop, fx.l, fx.q, &d, 0);
  assert_int_equal(d.status, LLM_ESCRIPT);
  assert_non_null(strstr(d.msg, "\"kick\""));
  assert_non_null(strstr(d.msg, "make a snare"));
  script_close(&fx);
}

static void test_llm_script_inline_transcript_and_errors(void **state) {
  (void)state;
  struct script_fx fx;
  json_t *t = json_pack("{s:[{s:s},{s:s,s:s}]}", "responses", "error", "overloaded", "text", "cut", "finish", "length");
  script_open(&fx, t, "x");
  json_decref(t);
  struct done d = {0}, d2 = {0};
  run_chat(&fx.loop, fx.l, fx.q, &d, 0);
  assert_int_equal(d.status, LLM_EPROVIDER);
  assert_non_null(strstr(d.msg, "overloaded"));
  run_chat(&fx.loop, fx.l, fx.q, &d2, 0);
  assert_int_equal(d2.status, LLM_OK);
  assert_string_equal(json_string_value(json_object_get(d2.res, "finish")), "length");
  json_decref(d2.res);
  /* empty request: rejected (asynchronously) */
  llm_request_t *empty = llm_request_new();
  struct done d3 = {0};
  run_chat(&fx.loop, fx.l, empty, &d3, 0);
  assert_int_equal(d3.status, LLM_EINVAL);
  llm_request_free(empty);
  script_close(&fx);
}

static void test_llm_script_cancel_and_close(void **state) {
  (void)state;
  struct script_fx fx;
  script_open(&fx, NULL, "kick");
  struct done d = {0}, d2 = {0};
  llm_call_t *c = llm_chat(fx.l, fx.q, NULL, on_done, &d);
  llm_cancel(c);
  uv_run(&fx.loop, UV_RUN_NOWAIT);
  uv_run(&fx.loop, UV_RUN_NOWAIT);
  assert_int_equal(d.called, 0);
  llm_chat(fx.l, fx.q, NULL, on_done, &d2);
  llm_close(fx.l, NULL, NULL); /* in flight: completes with ECANCELED */
  assert_int_equal(d2.called, 1);
  assert_int_equal(d2.status, LLM_ECANCELED);
  uv_run(&fx.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx.loop), 0);
  llm_request_free(fx.q);
}

static void test_llm_script_bad_transcript(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct llm_config cfg;
  char err[512];
  llm_config_defaults(&cfg);
  cfg.provider = LLM_PROVIDER_SCRIPT;
  snprintf(cfg.url, sizeof cfg.url, "/nonexistent/transcript.json");
  assert_null(llm_new(&loop, &cfg, err, sizeof err));
  assert_non_null(strstr(err, "/nonexistent/transcript.json"));
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---------- configuration ---------- */

static char tmpdir[256];

static void clear_env(void) {
  unsetenv("DAWBRIDGE_LLM");
  unsetenv("DAWBRIDGE_MODEL");
  unsetenv("DAWBRIDGE_LLM_URL");
  unsetenv("OPENAI_API_KEY");
  unsetenv("ANTHROPIC_API_KEY");
  setenv("XDG_CONFIG_HOME", tmpdir, 1);
}

static void write_config(const char *json) {
  char path[512];
  snprintf(path, sizeof path, "%s/dawbridge", tmpdir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/dawbridge/config.json", tmpdir);
  if (!json) {
    unlink(path);
    return;
  }
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(json, f);
  fclose(f);
}

static int config_setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/dawbridge-llm-test-XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  clear_env();
  return 0;
}

static int config_teardown(void **state) {
  (void)state;
  write_config(NULL);
  char path[512];
  snprintf(path, sizeof path, "%s/dawbridge", tmpdir);
  rmdir(path);
  rmdir(tmpdir);
  return 0;
}

static void test_llm_config_nothing_configured_explains(void **state) {
  (void)state;
  struct llm_config c;
  char err[2048];
  clear_env();
  write_config(NULL);
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, NULL, err, sizeof err), LLM_ECONFIG);
  db_test_contains_all(err, (const char *const[]){"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "http://localhost:11434",
                                                  "http://localhost:8080", "config.json", "DAWBRIDGE_LLM_URL", NULL});
}

static void test_llm_config_precedence(void **state) {
  (void)state;
  struct llm_config c;
  char err[2048], ep[1100];
  clear_env();
  /* file only: the app reads config.json (app/config.c, test_config) and passes its values as flags; a file
   * here is never read by the llm layer */
  write_config("{\"llm\": \"anthropic\", \"model\": \"not-read\"}");
  struct llm_flags file = {.llm = "openai", .model = "file-model", .url = "http://localhost:11434"};
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, &file, err, sizeof err), LLM_OK);
  assert_int_equal(c.provider, LLM_PROVIDER_OPENAI);
  assert_string_equal(c.model, "file-model");
  assert_string_equal(llm_config_endpoint(&c, ep, sizeof ep), "http://localhost:11434/v1/chat/completions");
  assert_string_equal(c.key, ""); /* local server: no key needed */
  /* env beats file (the app passes no file value when the variable is set) */
  setenv("DAWBRIDGE_MODEL", "env-model", 1);
  setenv("DAWBRIDGE_LLM_URL", "http://localhost:8080/v1", 1);
  file.model = file.url = NULL;
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, &file, err, sizeof err), LLM_OK);
  assert_string_equal(c.model, "env-model");
  assert_string_equal(llm_config_endpoint(&c, ep, sizeof ep), "http://localhost:8080/v1/chat/completions");
  /* flags beat env */
  struct llm_flags fl = {.llm = "anthropic", .model = "flag-model", .url = "http://127.0.0.1:9/"};
  setenv("ANTHROPIC_API_KEY", KEY, 1);
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, &fl, err, sizeof err), LLM_OK);
  assert_int_equal(c.provider, LLM_PROVIDER_ANTHROPIC);
  assert_string_equal(c.model, "flag-model");
  assert_string_equal(c.key, KEY);
  assert_string_equal(llm_config_endpoint(&c, ep, sizeof ep), "http://127.0.0.1:9/v1/messages");
  /* defaults: key alone picks the provider and the public endpoint */
  clear_env();
  write_config(NULL);
  setenv("ANTHROPIC_API_KEY", KEY, 1);
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, NULL, err, sizeof err), LLM_OK);
  assert_int_equal(c.provider, LLM_PROVIDER_ANTHROPIC);
  assert_string_equal(llm_config_endpoint(&c, ep, sizeof ep), "https://api.anthropic.com/v1/messages");
  assert_true(c.model[0] != '\0');
  setenv("OPENAI_API_KEY", KEY, 1);
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, NULL, err, sizeof err), LLM_OK);
  assert_int_equal(c.provider, LLM_PROVIDER_OPENAI);
  assert_string_equal(llm_config_endpoint(&c, ep, sizeof ep), "https://api.openai.com/v1/chat/completions");
  clear_env();
}

static void test_llm_config_errors_never_show_keys(void **state) {
  (void)state;
  struct llm_config c;
  char err[2048];
  clear_env();
  setenv("OPENAI_API_KEY", KEY, 1);
  struct llm_flags fl = {.llm = "gemini"};
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, &fl, err, sizeof err), LLM_ECONFIG);
  assert_non_null(strstr(err, "gemini"));
  assert_null(strstr(err, KEY));
  /* anthropic without its key, openai key set: names the missing variable only */
  fl.llm = "anthropic";
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, &fl, err, sizeof err), LLM_ECONFIG);
  assert_non_null(strstr(err, "ANTHROPIC_API_KEY"));
  assert_null(strstr(err, KEY));
  /* a broken config file is the app's to report (test_config); the llm layer never reads it */
  write_config("{\"llm\": ");
  fl.llm = NULL;
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, &fl, err, sizeof err), LLM_OK);
  write_config(NULL);
  /* script provider needs a transcript */
  fl.llm = "script";
  llm_config_defaults(&c);
  assert_int_equal(llm_config_resolve(&c, &fl, err, sizeof err), LLM_ECONFIG);
  assert_non_null(strstr(err, "transcript"));
  clear_env();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_llm_script_replays_in_order),
      cmocka_unit_test(test_llm_script_match_failure),
      cmocka_unit_test(test_llm_script_inline_transcript_and_errors),
      cmocka_unit_test(test_llm_script_cancel_and_close),
      cmocka_unit_test(test_llm_script_bad_transcript),
      cmocka_unit_test(test_llm_config_nothing_configured_explains),
      cmocka_unit_test(test_llm_config_precedence),
      cmocka_unit_test(test_llm_config_errors_never_show_keys),
  };
  return cmocka_run_group_tests(tests, config_setup, config_teardown);
}
