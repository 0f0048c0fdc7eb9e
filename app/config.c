/* config: the configuration file (see config.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "editdist.h"
#include "errfmt.h"
#include "strbuf.h"

enum ktype {
  K_STR,   /* any non-empty string -> const char * */
  K_ADDR,  /* an IPv4 address -> const char * */
  K_WORD,  /* one of words -> const char * */
  K_INDEX, /* one of words -> int (its index) */
  K_INT,   /* integer in lo..hi -> int */
  K_LONG,  /* integer in lo..hi -> long */
  K_BOOL,  /* true/false -> int 0/1 */
};

struct key {
  const char *name;
  enum ktype type;
  long lo, hi;              /* K_INT, K_LONG */
  const char *const *words; /* K_WORD, K_INDEX: NULL-terminated */
  size_t field;             /* offsetof(struct cli_opts, ...) */
  long unset;               /* the field's "not given" value (ints; strings: NULL) */
  const char *env;          /* an environment variable that wins over the file, or NULL */
  const char *what;         /* one-line description */
};

static const char *const daws[] = {"reaper", "ardour", "mock", NULL};
static const char *const dialects[] = {"reaper", "ardour", NULL};
/* the provider names agent/llm.c accepts (llm_config_resolve) */
static const char *const llms[] = {"openai",   "openai-compatible", "ollama", "llama.cpp", "llamacpp", "vllm",
                                   "lmstudio", "anthropic",         "claude", "script",    NULL};
static const char *const executors[] = {"llm", "direct", NULL};
static const char *const profiles[] = {"default", "small", NULL};
static const char *const json_modes[] = {"auto", "schema", "object", "off", NULL};
static const char *const levels[] = {"error", "warn", "info", "debug", NULL}; /* = enum log_level */

#define F(m) offsetof(struct cli_opts, m)
static const struct key keys[] = {
    {"daw", K_WORD, 0, 0, daws, F(daw), 0, "DAWBRIDGE_DAW", "reaper|ardour|mock (--daw)"},
    {"dialect", K_WORD, 0, 0, dialects, F(dialect), 0, NULL, "reaper|ardour: the embedded mock's (--dialect)"},
    {"host", K_ADDR, 0, 0, NULL, F(host), 0, NULL, "IPv4 address of the DAW (--host)"},
    {"port", K_INT, 1, 65535, NULL, F(port), 0, NULL, "1-65535: the DAW's OSC port (--port)"},
    {"listen", K_ADDR, 0, 0, NULL, F(listen), 0, NULL, "IPv4 address we receive feedback on (--listen)"},
    {"listen_port", K_INT, 0, 65535, NULL, F(listen_port), -1, NULL, "0-65535: our OSC port (--listen-port)"},
    {"map", K_STR, 0, 0, NULL, F(map_path), 0, NULL, "a dialect map file (--map)"},
    {"bank_size", K_INT, 1, 4096, NULL, F(bank_size), 0, NULL, "1-4096: REAPER's surface bank (--bank-size)"},
    {"timeout_ms", K_INT, 1, 600000, NULL, F(timeout_ms), -1, NULL, "1-600000: confirmation timeout (--timeout-ms)"},
    {"retries", K_INT, 0, 100, NULL, F(retries), -1, NULL, "0-100: resends (--retries)"},
    {"spool", K_STR, 0, 0, NULL, F(spool_dir), 0, NULL, "the companion's spool directory (--spool)"},
    {"no_companion", K_BOOL, 0, 0, NULL, F(no_companion), 0, NULL, "true: native OSC only (--no-companion)"},
    {"llm", K_WORD, 0, 0, llms, F(llm), 0, "DAWBRIDGE_LLM", "openai|anthropic|script|ollama|... (--llm)"},
    {"model", K_STR, 0, 0, NULL, F(model), 0, "DAWBRIDGE_MODEL", "the model's name (--model)"},
    {"llm_url", K_STR, 0, 0, NULL, F(llm_url), 0, "DAWBRIDGE_LLM_URL", "the model server's URL (--llm-url)"},
    {"transcript", K_STR, 0, 0, NULL, F(transcript), 0, NULL, "a transcript for --llm script (--transcript)"},
    {"executor", K_WORD, 0, 0, executors, F(executor), 0, NULL, "llm|direct (--executor)"},
    {"max_turns", K_INT, 1, 1000, NULL, F(max_turns), 0, NULL, "1-1000: stage-2 turn limit (--max-turns)"},
    {"context_budget", K_LONG, 500, 2000000, NULL, F(context_budget), 0, NULL,
     "500-2000000: stage-1 prompt tokens (--context-budget)"},
    {"profile", K_INDEX, 0, 0, profiles, F(profile), -1, NULL, "default|small (--profile)"},
    {"json_mode", K_WORD, 0, 0, json_modes, F(json_mode), 0, "DAWBRIDGE_JSON_MODE",
     "auto|schema|object|off (--json-mode)"},
    {"log_level", K_INDEX, 0, 0, levels, F(log_level), -1, NULL, "error|warn|info|debug (--log-level)"},
    {"data_dir", K_STR, 0, 0, NULL, F(data_dir), 0, NULL, "where the history lives (--data-dir)"},
    {"composition", K_STR, 0, 0, NULL, F(composition), 0, NULL, "the composition's name (--composition)"},
    {"surface_port", K_INT, 1, 65535, NULL, F(surface_port), 0, NULL,
     "1-65535: the OSC control surface (--surface-port)"},
    {"surface_reply", K_STR, 0, 0, NULL, F(surface_reply), 0, NULL, "HOST:PORT for the surface's answers"},
    {"web_port", K_INT, 1, 65535, NULL, F(web_port), 0, NULL, "1-65535: the web page (--web-port)"},
    {"web_listen", K_ADDR, 0, 0, NULL, F(web_listen), 0, NULL, "IPv4 address of the web page (--web-listen)"},
};
#undef F
#define NKEYS (sizeof keys / sizeof keys[0])

struct app_config {
  json_t *root;
  char *name;
  int line[NKEYS];
};

const char *app_config_strerror(int code) {
  switch (code) {
  case APP_CONFIG_OK: return "ok";
  case APP_CONFIG_ESYNTAX: return "not a JSON object";
  case APP_CONFIG_EKEY: return "unknown or duplicate key";
  case APP_CONFIG_ETYPE: return "wrong type";
  case APP_CONFIG_EVALUE: return "bad value";
  case APP_CONFIG_EIO: return "cannot read the file";
  case APP_CONFIG_ENOMEM: return "out of memory";
  default: return "unknown error";
  }
}

size_t app_config_nkeys(void) { return NKEYS; }

const char *app_config_key(size_t i, const char **description) {
  if (i >= NKEYS) return NULL;
  if (description) *description = keys[i].what;
  return keys[i].name;
}

static const struct key *find_key(const char *name) {
  for (size_t i = 0; i < NKEYS; i++)
    if (!strcmp(keys[i].name, name)) return &keys[i];
  return NULL;
}

static const char *nearest_key(const char *name) {
  const char *best = NULL;
  size_t bd = 3; /* at most 2 edits */
  for (size_t i = 0; i < NKEYS; i++) {
    size_t d = edit_distance(name, keys[i].name);
    if (d < bd) bd = d, best = keys[i].name;
  }
  return best;
}

/* The line of each top-level key in text: a string at depth 1 followed by ':' is a key. Keys are compared as
 * written (a key spelled with escapes gets no line; messages then name the file only). */
static void find_key_lines(const char *t, size_t n, json_t *lines) {
  int depth = 0, line = 1;
  for (size_t i = 0; i < n; i++) {
    char ch = t[i];
    if (ch == '\n')
      line++;
    else if (ch == '{' || ch == '[')
      depth++;
    else if (ch == '}' || ch == ']')
      depth--;
    else if (ch == '"') {
      size_t start = ++i;
      int kline = line;
      while (i < n && t[i] != '"') {
        if (t[i] == '\\')
          i++;
        else if (t[i] == '\n')
          line++;
        i++;
      }
      if (i >= n) return;
      size_t j = i + 1;
      while (j < n && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n')) j++;
      if (depth == 1 && j < n && t[j] == ':') {
        char *k = strndup(t + start, i - start);
        if (k && !json_object_get(lines, k)) json_object_set_new(lines, k, json_integer(kline));
        free(k);
      }
    }
  }
}

static void words_list(const char *const *w, strbuf_t *b) {
  for (size_t i = 0; w[i]; i++) strbuf_appendf(b, "%s%s", i ? (w[i + 1] ? ", " : " or ") : "", w[i]);
}

static int word_index(const char *const *w, const char *s) {
  for (int i = 0; w[i]; i++)
    if (!strcmp(w[i], s)) return i;
  return -1;
}

/* Checks one value against its key; 0 or an error with "where: ..." in err. */
static int check_value(const struct key *k, const json_t *v, const char *where, char *err, size_t errlen) {
  static const char *const tnames[] = {
      "a string", "an IPv4 address (a string)", "a string", "a string", "an integer", "an integer", "true or false"};
  int ok;
  switch (k->type) {
  case K_STR:
  case K_ADDR:
  case K_WORD:
  case K_INDEX: ok = json_is_string(v); break;
  case K_INT:
  case K_LONG: ok = json_is_integer(v); break;
  default: ok = json_is_boolean(v); break;
  }
  if (!ok) return errfmt(err, errlen, APP_CONFIG_ETYPE, "%s: '%s' must be %s", where, k->name, tnames[k->type]);
  if (k->type == K_INT || k->type == K_LONG) {
    json_int_t x = json_integer_value(v);
    if (x < k->lo || x > k->hi)
      return errfmt(err, errlen, APP_CONFIG_EVALUE, "%s: '%s' must be %ld-%ld, not %lld", where, k->name, k->lo, k->hi,
                    (long long)x);
    return 0;
  }
  if (k->type == K_BOOL) return 0;
  const char *s = json_string_value(v);
  if (!s[0] || strlen(s) != json_string_length(v))
    return errfmt(err, errlen, APP_CONFIG_EVALUE, "%s: '%s' must not be empty or contain NUL", where, k->name);
  if (k->type == K_ADDR) {
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
      return errfmt(err, errlen, APP_CONFIG_EVALUE, "%s: '%s' must be an IPv4 address like 192.168.1.20, not '%.60s'",
                    where, k->name, s);
  } else if ((k->type == K_WORD || k->type == K_INDEX) && word_index(k->words, s) < 0) {
    strbuf_t b = STRBUF_INIT;
    words_list(k->words, &b);
    errmsg(err, errlen, "%s: unknown %s '%.60s' (use %s)", where, k->name, s, b.s ? b.s : "?");
    strbuf_reset(&b);
    return APP_CONFIG_EVALUE;
  }
  return 0;
}

void app_config_free(app_config_t *c) {
  if (!c) return;
  json_decref(c->root);
  free(c->name);
  free(c);
}

int app_config_parse(const char *text, size_t len, const char *name, app_config_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (!name) name = "config.json";
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    /* jansson's "duplicate object key" is about a key: say which file and where like the others */
    int dup = strstr(je.text, "duplicate object key") != NULL;
    return errfmt(err, errlen, dup ? APP_CONFIG_EKEY : APP_CONFIG_ESYNTAX, "%s:%d:%d: %s", name, je.line, je.column,
                  je.text);
  }
  if (!json_is_object(root)) {
    json_decref(root);
    return errfmt(err, errlen, APP_CONFIG_ESYNTAX, "%s:1: must be one JSON object ({\"key\": value, ...})", name);
  }
  json_t *lines = json_object();
  app_config_t *c = calloc(1, sizeof *c);
  char *nm = strdup(name);
  if (!lines || !c || !nm) {
    json_decref(lines);
    json_decref(root);
    free(c);
    free(nm);
    return errfmt(err, errlen, APP_CONFIG_ENOMEM, "%s: out of memory", name);
  }
  c->root = root;
  c->name = nm;
  find_key_lines(text, len, lines);
  int rc = 0;
  const char *k;
  json_t *v;
  json_object_foreach(root, k, v) {
    char where[600];
    int line = (int)json_integer_value(json_object_get(lines, k));
    if (line)
      snprintf(where, sizeof where, "%.500s:%d", name, line);
    else
      snprintf(where, sizeof where, "%.500s", name);
    const struct key *key = find_key(k);
    if (!key) {
      const char *near = nearest_key(k);
      if (near)
        rc = errfmt(err, errlen, APP_CONFIG_EKEY, "%s: unknown key '%.60s' (did you mean '%s'?)", where, k, near);
      else
        rc = errfmt(err, errlen, APP_CONFIG_EKEY, "%s: unknown key '%.60s' (README \"Configuration file\" lists them)",
                    where, k);
      break;
    }
    if ((rc = check_value(key, v, where, err, errlen))) break;
    c->line[key - keys] = line ? line : 1;
  }
  json_decref(lines);
  if (rc) {
    app_config_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void app_config_default_path(char *out, size_t n) {
  const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
  if (x && *x)
    snprintf(out, n, "%s/dawbridge/config.json", x);
  else
    snprintf(out, n, "%s/.config/dawbridge/config.json", h && *h ? h : ".");
}

char *app_config_read_file(const char *path, size_t max, size_t *lenp, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    errmsg(err, errlen, "cannot read %s: %s", path, strerror(e));
    errno = e;
    return NULL;
  }
  strbuf_t b = STRBUF_INIT;
  char chunk[4096];
  size_t n;
  while (b.len <= max && (n = fread(chunk, 1, sizeof chunk, f)) > 0) strbuf_append(&b, chunk, n);
  int bad = ferror(f), e = EIO;
  fclose(f);
  if (b.len > max) {
    errmsg(err, errlen, "%s: larger than %zu bytes", path, max);
    e = EFBIG;
  } else if (bad) {
    errmsg(err, errlen, "cannot read %s: read error", path);
  } else {
    char *s = strbuf_take(&b, lenp);
    if (s) return s;
    errmsg(err, errlen, "%s: out of memory", path);
    e = ENOMEM;
  }
  strbuf_reset(&b);
  errno = e;
  return NULL;
}

int app_config_load(const char *path, app_config_t **out, char *err, size_t errlen) {
  char def[1024];
  *out = NULL;
  if (!path) {
    app_config_default_path(def, sizeof def);
    path = def;
  }
  size_t len = 0;
  char *text = app_config_read_file(path, (size_t)1 << 20, &len, err, errlen);
  if (!text) {
    if (errno == ENOENT || errno == ENOTDIR) return app_config_parse("{}", 2, path, out, err, errlen);
    return errno == ENOMEM ? APP_CONFIG_ENOMEM : APP_CONFIG_EIO;
  }
  int rc = app_config_parse(text, len, path, out, err, errlen);
  free(text);
  return rc;
}

const char *app_config_name(const app_config_t *c) { return c && c->name ? c->name : ""; }

int app_config_line(const app_config_t *c, const char *key) {
  const struct key *k = c ? find_key(key) : NULL;
  return k ? c->line[k - keys] : 0;
}

void app_config_apply(const app_config_t *c, struct cli_opts *o) {
  if (!c) return;
  for (size_t i = 0; i < NKEYS; i++) {
    const struct key *k = &keys[i];
    const json_t *v = json_object_get(c->root, k->name);
    const char *env = k->env ? getenv(k->env) : NULL;
    if (!v || (env && *env)) continue;
    char *f = (char *)o + k->field;
    switch (k->type) {
    case K_STR:
    case K_ADDR:
    case K_WORD:
      if (!*(const char **)f) *(const char **)f = json_string_value(v);
      break;
    case K_INDEX:
      if (*(int *)f == (int)k->unset) *(int *)f = word_index(k->words, json_string_value(v));
      break;
    case K_INT:
      if (*(int *)f == (int)k->unset) *(int *)f = (int)json_integer_value(v);
      break;
    case K_LONG:
      if (*(long *)f == k->unset) *(long *)f = (long)json_integer_value(v);
      break;
    case K_BOOL:
      if (*(int *)f == (int)k->unset) *(int *)f = json_is_true(v);
      break;
    }
  }
}
