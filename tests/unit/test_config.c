/* test_config: the configuration file (app/config.h). A table of files and the error each must give (code and the
 * "name:line: ..." text), the options a good file fills (never over the command line or the environment), the
 * file read from $XDG_CONFIG_HOME, and the README documenting every key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "config.h"

static const struct {
  const char *text;
  int rc;
  const char *msg; /* a substring of the error ("" for none) */
} cases[] = {
    {"{}", 0, ""},
    {"  \n{\n  \"daw\": \"ardour\",\n  \"port\": 3819\n}\n", 0, ""},
    {"{\"llm\": \"ollama\", \"model\": \"llama3.1\", \"llm_url\": \"http://localhost:11434\"}", 0, ""},
    {"{\"no_companion\": true, \"context_budget\": 3000, \"profile\": \"small\", \"log_level\": \"debug\"}", 0, ""},
    {"{\"host\": \"192.168.1.20\", \"listen\": \"0.0.0.0\", \"listen_port\": 0}", 0, ""},
    /* unknown keys, with the nearest known one and the key's own line */
    {"{\n  \"daw\": \"ardour\",\n\n\n\n\n  \"modle\": \"x\"\n}", APP_CONFIG_EKEY,
     "cfg.json:7: unknown key 'modle' (did you mean 'model'?)"},
    {"{\"llm_ulr\": \"http://x\"}", APP_CONFIG_EKEY, "cfg.json:1: unknown key 'llm_ulr' (did you mean 'llm_url'?)"},
    {"{\n\"listen-port\": 9000}", APP_CONFIG_EKEY,
     "cfg.json:2: unknown key 'listen-port' (did you mean 'listen_port'?)"},
    {"{\"colour\": 1}", APP_CONFIG_EKEY, "cfg.json:1: unknown key 'colour' (README"},
    /* a nested object's key is not a top-level key: the line is the top-level key's */
    {"{\"x\": {\"model\": 1},\n \"model\": 2}", APP_CONFIG_EKEY, "cfg.json:1: unknown key 'x'"},
    /* wrong types */
    {"{\n\n\"port\": \"8000\"}", APP_CONFIG_ETYPE, "cfg.json:3: 'port' must be an integer"},
    {"{\"port\": 8000.5}", APP_CONFIG_ETYPE, "'port' must be an integer"},
    {"{\"model\": 7}", APP_CONFIG_ETYPE, "cfg.json:1: 'model' must be a string"},
    {"{\"no_companion\": \"yes\"}", APP_CONFIG_ETYPE, "'no_companion' must be true or false"},
    {"{\"host\": null}", APP_CONFIG_ETYPE, "'host' must be an IPv4 address"},
    /* bad values */
    {"{\n \"port\": 70000\n}", APP_CONFIG_EVALUE, "cfg.json:2: 'port' must be 1-65535, not 70000"},
    {"{\"port\": 0}", APP_CONFIG_EVALUE, "'port' must be 1-65535, not 0"},
    {"{\"listen_port\": -1}", APP_CONFIG_EVALUE, "'listen_port' must be 0-65535, not -1"},
    {"{\"context_budget\": 99999999999}", APP_CONFIG_EVALUE, "'context_budget' must be 500-2000000"},
    {"{\n\n\n\n  \"daw\": \"cubase\"}", APP_CONFIG_EVALUE,
     "cfg.json:5: unknown daw 'cubase' (use reaper, ardour or mock)"},
    {"{\"llm\": \"gemini\"}", APP_CONFIG_EVALUE, "unknown llm 'gemini' (use openai,"},
    {"{\"log_level\": \"loud\"}", APP_CONFIG_EVALUE, "unknown log_level 'loud' (use error, warn, info or debug)"},
    {"{\"host\": \"daw.local\"}", APP_CONFIG_EVALUE, "'host' must be an IPv4 address like"},
    {"{\"model\": \"\"}", APP_CONFIG_EVALUE, "'model' must not be empty"},
    {"{\"model\": \"a\\u0000b\"}", APP_CONFIG_ESYNTAX, "cfg.json:1:20: "},
    /* syntax: jansson's line and column */
    {"{\n  \"daw\": \"ardour\",\n  \"port\": 3819,\n}", APP_CONFIG_ESYNTAX, "cfg.json:4:1: "},
    {"{\"llm\": ", APP_CONFIG_ESYNTAX, "cfg.json:1:"},
    {"", APP_CONFIG_ESYNTAX, "cfg.json:"},
    {"[1, 2]", APP_CONFIG_ESYNTAX, "cfg.json:1: must be one JSON object"},
    {"\"model\"", APP_CONFIG_ESYNTAX, "cfg.json:1:7: "},
    {"{\"model\": \"a\",\n \"model\": \"b\"}", APP_CONFIG_EKEY, "cfg.json:2:"},
};

static void test_config_table_of_files(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    app_config_t *c = (app_config_t *)1;
    char err[1024] = "";
    int rc = app_config_parse(cases[i].text, strlen(cases[i].text), "cfg.json", &c, err, sizeof err);
    if (rc != cases[i].rc || !strstr(err, cases[i].msg)) {
      print_error("case %zu: %s\n  rc %d (want %d), err \"%s\" (want \"%s\")\n", i, cases[i].text, rc, cases[i].rc, err,
                  cases[i].msg);
      fail();
    }
    if (rc) {
      assert_null(c);
      assert_string_not_equal(app_config_strerror(rc), "unknown error");
    } else {
      assert_non_null(c);
      assert_string_equal(err, "");
    }
    app_config_free(c);
  }
}

static void test_config_fills_only_what_is_unset(void **state) {
  (void)state;
  const char *text =
      "{\n \"daw\": \"ardour\",\n \"port\": 3819,\n \"host\": \"10.0.0.5\",\n \"listen\": \"10.0.0.2\",\n"
      " \"model\": \"file-model\",\n \"llm\": \"ollama\",\n \"profile\": \"small\",\n"
      " \"log_level\": \"info\",\n \"context_budget\": 4000,\n \"no_companion\": true,\n"
      " \"listen_port\": 9001\n}\n";
  app_config_t *c = NULL;
  char err[512];
  assert_int_equal(app_config_parse(text, strlen(text), "cfg.json", &c, err, sizeof err), 0);
  assert_int_equal(app_config_line(c, "daw"), 2);
  assert_int_equal(app_config_line(c, "listen_port"), 12);
  assert_int_equal(app_config_line(c, "map"), 0);
  assert_string_equal(app_config_name(c), "cfg.json");
  unsetenv("DAWBRIDGE_DAW");
  unsetenv("DAWBRIDGE_LLM");
  setenv("DAWBRIDGE_MODEL", "env-model", 1); /* the environment wins over the file */
  struct cli_opts o;
  memset(&o, 0, sizeof o);
  o.listen_port = -1;
  o.log_level = -1;
  o.timeout_ms = -1;
  o.retries = -1;
  o.profile = -1;
  o.port = 8000; /* given on the command line */
  app_config_apply(c, &o);
  assert_string_equal(o.daw, "ardour");
  assert_int_equal(o.port, 8000);
  assert_string_equal(o.host, "10.0.0.5");
  assert_string_equal(o.listen, "10.0.0.2");
  assert_null(o.model); /* left for agent/llm.c to take from DAWBRIDGE_MODEL */
  assert_string_equal(o.llm, "ollama");
  assert_int_equal(o.profile, 1);
  assert_int_equal(o.log_level, 2);
  assert_int_equal(o.context_budget, 4000);
  assert_int_equal(o.no_companion, 1);
  assert_int_equal(o.listen_port, 9001);
  assert_int_equal(o.timeout_ms, -1);
  assert_null(o.map_path);
  unsetenv("DAWBRIDGE_MODEL");
  app_config_free(c);
}

/* --profile on the command line (-1: not given, as app/main.c starts it) against "profile" in the file: 0 is
 * "--profile default", which the file's "small" must not override. */
static void test_config_profile_command_line_wins(void **state) {
  (void)state;
  static const struct {
    int given;
    const char *file;
    int want;
  } pc[] = {
      {-1, "{\"profile\": \"small\"}", 1}, {-1, "{\"profile\": \"default\"}", 0}, {-1, "{}", -1},
      {0, "{\"profile\": \"small\"}", 0},  {1, "{\"profile\": \"default\"}", 1},  {0, "{}", 0},
      {1, "{\"profile\": \"small\"}", 1},
  };
  for (size_t i = 0; i < sizeof pc / sizeof pc[0]; i++) {
    app_config_t *c = NULL;
    char err[512];
    assert_int_equal(app_config_parse(pc[i].file, strlen(pc[i].file), "cfg.json", &c, err, sizeof err), 0);
    struct cli_opts o;
    memset(&o, 0, sizeof o);
    o.listen_port = o.log_level = o.timeout_ms = o.retries = -1;
    o.profile = pc[i].given;
    app_config_apply(c, &o);
    if (o.profile != pc[i].want) {
      print_error("case %zu: given %d, file %s: profile %d, want %d\n", i, pc[i].given, pc[i].file, o.profile,
                  pc[i].want);
      fail();
    }
    app_config_free(c);
  }
}

static void test_config_loads_the_xdg_file(void **state) {
  (void)state;
  char dir[] = "/tmp/dawbridge-config-test-XXXXXX", sub[256], path[300], want[400];
  assert_non_null(mkdtemp(dir));
  snprintf(sub, sizeof sub, "%s/dawbridge", dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  snprintf(path, sizeof path, "%s/config.json", sub);
  setenv("XDG_CONFIG_HOME", dir, 1);
  char got[1024];
  app_config_default_path(got, sizeof got);
  assert_string_equal(got, path);
  /* no file: an empty configuration */
  app_config_t *c = NULL;
  char err[1024] = "";
  assert_int_equal(app_config_load(NULL, &c, err, sizeof err), 0);
  assert_non_null(c);
  app_config_free(c);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs("{\n  \"daw\": \"reaper\",\n  \"modle\": \"llama3.1\"\n}\n", f);
  fclose(f);
  assert_int_equal(app_config_load(NULL, &c, err, sizeof err), APP_CONFIG_EKEY);
  assert_null(c);
  snprintf(want, sizeof want, "%s:3: unknown key 'modle' (did you mean 'model'?)", path);
  assert_string_equal(err, want);
  /* a directory where the file should be: a read error naming it, not a crash */
  unlink(path);
  assert_int_equal(mkdir(path, 0700), 0);
  assert_int_not_equal(app_config_load(NULL, &c, err, sizeof err), 0);
  assert_non_null(strstr(err, path));
  rmdir(path);
  rmdir(sub);
  rmdir(dir);
  unsetenv("XDG_CONFIG_HOME");
}

/* Every key of the table is documented in the README's "Configuration file" section. */
static void test_config_every_key_in_readme(void **state) {
  (void)state;
  const char *src = getenv("DAWBRIDGE_SOURCE_DIR");
  char path[1024];
#ifdef DAWBRIDGE_SOURCE_DIR
  if (!src) src = DAWBRIDGE_SOURCE_DIR;
#endif
  assert_non_null(src);
  snprintf(path, sizeof path, "%s/README.md", src);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char text[1 << 20];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  const char *sec = strstr(text, "### Configuration file");
  assert_non_null(sec);
  const char *end = strstr(sec + 4, "\n## ");
  assert_true(app_config_nkeys() > 20);
  for (size_t i = 0; i < app_config_nkeys(); i++) {
    const char *what = NULL;
    const char *k = app_config_key(i, &what);
    char quoted[80];
    snprintf(quoted, sizeof quoted, "`%s`", k);
    const char *at = strstr(sec, quoted);
    if (!at || (end && at > end)) {
      print_error("README \"Configuration file\" does not document the key %s\n", quoted);
      fail();
    }
    assert_non_null(what);
  }
  assert_null(app_config_key(app_config_nkeys(), NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_table_of_files),
      cmocka_unit_test(test_config_fills_only_what_is_unset),
      cmocka_unit_test(test_config_profile_command_line_wins),
      cmocka_unit_test(test_config_loads_the_xdg_file),
      cmocka_unit_test(test_config_every_key_in_readme),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
