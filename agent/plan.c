/* plan: parse the stage-1 plan text and validate it against the tool catalog, the session and the
 * instrument/effect catalog. */
#include "plan.h"
#include "instmap.h"
#include "plan_json.h"

#include "notation.h"
#include "relaxed_json.h"
#include "vocab.h"
#include "errfmt.h"
#include "strbuf.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_VALUE_BYTES (16u << 20) /* a multi-line argument (a clip of 20,000+ notes written one per line) */

typedef struct {
  int number;
  char *tool;
  char *description;
  json_t *args;
} step_t;

struct plan {
  char *analysis;
  char *reasoning;
  step_t *steps;
  size_t n, cap;
  json_t *warnings;
};

const char *plan_strerror(int code) {
  switch (code) {
  case PLAN_OK: return "ok";
  case PLAN_ERR_EMPTY: return "empty plan text";
  case PLAN_ERR_NOSTEPS: return "no plan steps found";
  case PLAN_ERR_INVALID: return "the plan failed validation";
  case PLAN_ERR_ARG: return "bad argument";
  case PLAN_ERR_NOMEM: return "out of memory";
  default: return "unknown plan error";
  }
}

/* ---- small string buffer -------------------------------------------------------------------- */

static char *dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static char *trim_inplace(char *s) {
  while (*s && isspace((unsigned char)*s)) s++;
  size_t l = strlen(s);
  while (l > 0 && isspace((unsigned char)s[l - 1])) s[--l] = 0;
  return s;
}

/* ---- plan object ---------------------------------------------------------------------------- */

void plan_free(plan_t *plan) {
  if (!plan) return;
  for (size_t i = 0; i < plan->n; i++) {
    free(plan->steps[i].tool);
    free(plan->steps[i].description);
    json_decref(plan->steps[i].args);
  }
  free(plan->steps);
  free(plan->analysis);
  free(plan->reasoning);
  json_decref(plan->warnings);
  free(plan);
}

const char *plan_analysis(const plan_t *plan) { return plan && plan->analysis ? plan->analysis : ""; }
const char *plan_reasoning(const plan_t *plan) { return plan && plan->reasoning ? plan->reasoning : ""; }
size_t plan_step_count(const plan_t *plan) { return plan ? plan->n : 0; }
int plan_step_number(const plan_t *plan, size_t i) { return plan && i < plan->n ? plan->steps[i].number : -1; }
const char *plan_step_tool(const plan_t *plan, size_t i) { return plan && i < plan->n ? plan->steps[i].tool : NULL; }
const char *plan_step_description(const plan_t *plan, size_t i) {
  return plan && i < plan->n ? plan->steps[i].description : NULL;
}
json_t *plan_step_args(const plan_t *plan, size_t i) { return plan && i < plan->n ? plan->steps[i].args : NULL; }
const json_t *plan_warnings(const plan_t *plan) { return plan ? plan->warnings : NULL; }

/* A JSON string of a model's text; invalid UTF-8 bytes become '?'. New reference. */
static json_t *text_json(const char *s) { return relaxed_json_string(s ? s : "", s ? strlen(s) : 0); }

json_t *plan_to_json(const plan_t *plan) {
  if (!plan) return NULL;
  json_t *steps = json_array();
  for (size_t i = 0; i < plan->n; i++) {
    const step_t *st = &plan->steps[i];
    /* the model's text may hold invalid UTF-8, which json_pack "s" refuses (the whole plan came out NULL):
         * such bytes become '?' (found by fuzz/fuzz_plan.c) */
    json_array_append_new(steps, json_pack("{s:i, s:o, s:o, s:O}", "step", st->number, "tool", text_json(st->tool),
                                           "description", text_json(st->description), "args", st->args));
  }
  return json_pack("{s:o, s:o, s:o, s:O}", "analysis", text_json(plan_analysis(plan)), "steps", steps, "reasoning",
                   text_json(plan_reasoning(plan)), "warnings", plan->warnings);
}

int plan_ref_step(const json_t *v, const char **kind) {
  const json_t *ref = json_object_get(v, "$ref");
  if (!json_is_object(ref)) return 0;
  const json_t *st = json_object_get(ref, "step");
  if (!json_is_integer(st)) return 0;
  const char *k = json_string_value(json_object_get(ref, "kind"));
  if (kind) *kind = k && !strcmp(k, "track") ? "track" : k && !strcmp(k, "clip") ? "clip" : "any";
  return (int)json_integer_value(st);
}

/* ---- line parsing helpers ------------------------------------------------------------------- */

static int starts_ci(const char *s, const char *prefix) {
  for (; *prefix; s++, prefix++)
    if (tolower((unsigned char)*s) != tolower((unsigned char)*prefix)) return 0;
  return 1;
}

/* Strip leading indentation, blockquote, heading marks and one bullet. */
static const char *strip_lead(const char *line, int *indent, int *bulleted) {
  const char *p = line;
  int ind = 0;
  for (; *p == ' ' || *p == '\t'; p++) ind += *p == '\t' ? 4 : 1;
  *indent = ind;
  *bulleted = 0;
  while (*p == '>')
    for (p++; *p == ' '; p++)
      ;
  if (*p == '#') {
    while (*p == '#') p++;
    while (*p == ' ') p++;
  }
  if ((*p == '-' || *p == '*' || *p == '+') && (p[1] == ' ' || p[1] == '\t')) {
    p += 2;
    *bulleted = 1;
  } else if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0xA2) {
    p += 3;
    *bulleted = 1;
  } else if (isdigit((unsigned char)*p)) {
    const char *q = p;
    while (isdigit((unsigned char)*q)) q++;
    if ((*q == '.' || *q == ')') && (q[1] == ' ' || q[1] == '\t')) {
      *bulleted = 2; /* numbered */
      p = q + 2;
    }
  }
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* Copy s without '*' and '`' markers, trimmed. */
static void demark(const char *s, char *out, size_t outlen) {
  size_t o = 0;
  for (; *s && o + 1 < outlen; s++)
    if (*s != '*' && *s != '`') out[o++] = *s;
  out[o] = 0;
  char *t = trim_inplace(out);
  if (t != out) memmove(out, t, strlen(t) + 1);
}

enum { SEC_NONE, SEC_ANALYSIS, SEC_PLAN, SEC_REASONING };

/* Section header? Returns SEC_* and points *rest at the inline text after the colon. */
static int section_header(const char *clean, const char **rest) {
  static const struct {
    const char *word;
    int sec;
  } heads[] = {{"MUSICAL REASONING", SEC_REASONING},
               {"REASONING", SEC_REASONING},
               {"ANALYSIS", SEC_ANALYSIS},
               {"PLAN", SEC_PLAN},
               {"THE PLAN", SEC_PLAN},
               {"EXECUTION PLAN", SEC_PLAN}};
  for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
    size_t l = strlen(heads[i].word);
    if (!starts_ci(clean, heads[i].word)) continue;
    const char *p = clean + l;
    while (*p == ' ') p++;
    if (*p == ':') {
      p++;
      while (*p == ' ') p++;
      *rest = p;
      return heads[i].sec;
    }
    if (*p == 0) {
      *rest = p;
      return heads[i].sec;
    }
  }
  return SEC_NONE;
}

static int is_ident_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Separator between tool and description: -, —, –, :, or end. Returns bytes consumed (0 = none) or -1. */
static int skip_sep(const char *p) {
  const char *q = p;
  while (*q == ' ' || *q == '\t') q++;
  if (*q == 0) return (int)(q - p);
  if (*q == '-' || *q == ':') return (int)(q - p) + 1;
  if ((unsigned char)q[0] == 0xE2 && (unsigned char)q[1] == 0x80 &&
      ((unsigned char)q[2] == 0x94 || (unsigned char)q[2] == 0x93))
    return (int)(q - p) + 3;
  if (*q == '(') /* "create_track (Kick) - ..." or "create_track()" */
    return (int)(q - p);
  return -1;
}

/* Find a snake_case identifier in backticks or parentheses: fallback tool name. */
static int find_embedded_tool(const char *s, char *tool, size_t toollen) {
  for (const char *p = s; *p; p++) {
    if (*p != '`' && *p != '(') continue;
    const char *q = p + 1;
    const char *b = q;
    while (is_ident_char(*q)) q++;
    size_t l = (size_t)(q - b);
    const char *after = *q ? q + 1 : q;
    while (*after == ' ' || *after == ':') after++;
    int ok = l >= 3 && l < toollen &&
             ((*p == '`' && *q == '`') ||
              (*p == '(' && (*q == ')' || *q == '(') && (memchr(b, '_', l) || (*q == ')' && *after == 0))));
    if (ok) {
      memcpy(tool, b, l);
      tool[l] = 0;
      return 1;
    }
  }
  return 0;
}

/* "Step 3: create_track - text" (after strip_lead). numbered: the line had "N." bullet. */
static int parse_step_line(const char *lead, int numbered, const char *rawline, int *num, char *tool, size_t toollen,
                           char *desc, size_t desclen, char *call, size_t calllen) {
  char clean[4096];
  call[0] = 0;
  const char *p;
  if (strlen(lead) >= sizeof clean) return 0;
  /* drop bold markers and backticks around the head */
  size_t o = 0;
  for (p = lead; *p && o + 1 < sizeof clean; p++)
    if (*p != '*' && *p != '`') clean[o++] = *p;
  clean[o] = 0;
  p = clean;
  int n = -1;
  if (starts_ci(p, "step")) {
    p += 4;
    while (*p == ' ' || *p == '#') p++;
    if (!isdigit((unsigned char)*p)) return 0;
    n = 0;
    while (isdigit((unsigned char)*p)) {
      n = n * 10 + (*p - '0');
      if (n > 100000) return 0;
      p++;
    }
    while (*p == ' ') p++;
    if (*p == ':' || *p == '.' || *p == ')' || *p == '-')
      p++;
    else if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
             ((unsigned char)p[2] == 0x94 || (unsigned char)p[2] == 0x93))
      p += 3;
    while (*p == ' ') p++;
  } else if (numbered) {
    const char *q = rawline;
    while (*q == ' ' || *q == '\t') q++;
    n = atoi(q);
  } else {
    return 0;
  }
  const char *t = p;
  while (is_ident_char(*p)) p++;
  size_t tl = (size_t)(p - t);
  int sep = tl > 0 ? skip_sep(p) : -1;
  if (numbered && n >= 0 && !starts_ci(clean, "step")) {
    /* "1. create_track - ..." only with a dash-like separator or an underscore tool */
    const char *q = p;
    while (*q == ' ') q++;
    int dash = *q == '-' || (unsigned char)*q == 0xE2;
    if (tl == 0 || sep < 0 || (!dash && !memchr(t, '_', tl))) return 0;
    if (!dash) {
      /* "1. create_track: ..." at the left margin, but not a numbered argument "   2. track_id: t1" */
      static const char *const arg_suffixes[] = {"_id", "_time", "_name", "_notes", "_index", "_db", "_arm"};
      if (rawline[0] == ' ' || rawline[0] == '\t') return 0;
      for (size_t i = 0; i < sizeof arg_suffixes / sizeof arg_suffixes[0]; i++) {
        size_t sl = strlen(arg_suffixes[i]);
        if (tl > sl && !strncmp(t + tl - sl, arg_suffixes[i], sl)) return 0;
      }
    }
  }
  if (tl == 0 || tl >= toollen || sep < 0) {
    /* "Step 2: Add the clip (create_midi_clip)" */
    if (!find_embedded_tool(lead, tool, toollen)) return 0;
    *num = n;
    demark(lead, desc, desclen);
    return 2;
  }
  memcpy(tool, t, tl);
  tool[tl] = 0;
  /* "()" or a parenthetical: "create_track (Kick) - ..." or call syntax "create_track(name="Kick")" */
  p += sep;
  if (*p == '(') {
    int depth = 0;
    char q = 0;
    const char *c = p;
    for (; *c; c++) {
      if (q) {
        if (*c == '\\' && c[1])
          c++;
        else if (*c == q)
          q = 0;
      } else if (*c == '"' || *c == '\'') {
        q = *c;
      } else if (*c == '(' || *c == '[' || *c == '{') {
        depth++;
      } else if (*c == ')' || *c == ']' || *c == '}') {
        if (--depth == 0) break;
      }
    }
    if (*c == ')') {
      snprintf(call, calllen, "%.*s", (int)(c - p - 1), p + 1);
      p = c + 1;
      int s2 = skip_sep(p);
      if (s2 > 0) p += s2;
    }
  }
  while (*p == ' ') p++;
  *num = n;
  snprintf(desc, desclen, "%s", p);
  return 1;
}

/* "- key: value". Returns 1 with key copied and *value pointing into lead. */
static int parse_arg_line(const char *lead, char *key, size_t keylen, const char **value) {
  const char *p = lead;
  while (*p == '*' || *p == '`' || *p == '_') p++;
  const char *k = p;
  if (!(islower((unsigned char)*p) || *p == '$')) return 0;
  while (islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_') p++;
  size_t kl = (size_t)(p - k);
  while (kl > 0 && k[kl - 1] == '_') kl--; /* "__key__" */
  if (kl == 0 || kl >= keylen) return 0;
  while (*p == '*' || *p == '`' || *p == '_') p++;
  while (*p == ' ') p++;
  if (*p != ':' && *p != '=') return 0;
  p++;
  while (*p == '*' || *p == '`') {
    /* "**key:** value" — only when the markers close the key */
    if (p[0] == '*' && p[1] == '*') {
      p += 2;
      continue;
    }
    break;
  }
  while (*p == ' ' || *p == '\t') p++;
  memcpy(key, k, kl);
  key[kl] = 0;
  *value = p;
  return 1;
}

/* Update the bracket depth of a value text with more text, ignoring brackets inside double quotes. */
static void bracket_scan(const char *s, int *depthp, char *qp) {
  int depth = *depthp;
  char q = *qp;
  for (; *s; s++) {
    if (q) {
      if (*s == '\\' && s[1])
        s++;
      else if (*s == q)
        q = 0;
      continue;
    }
    if (*s == '"')
      q = *s;
    else if (*s == '[' || *s == '{')
      depth++;
    else if (*s == ']' || *s == '}')
      depth--;
  }
  *depthp = depth;
  *qp = q;
}

/* "[from Step 1]", "[track from Step 1]", "(clip from step 2)", "step_1", "$step1". */
static json_t *parse_ref(const char *v) {
  size_t l = strlen(v);
  if (l == 0 || l > 80) return NULL;
  if (strchr(v, ':') || (strchr(v, '{') && strncmp(v, "{{", 2) != 0)) return NULL;
  char low[96];
  size_t i;
  for (i = 0; i < l && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)v[i]);
  low[i] = 0;
  const char *s = strstr(low, "step");
  if (!s) return NULL;
  const char *p = s + 4;
  while (*p == ' ' || *p == '_' || *p == '#' || *p == '-') p++;
  if (!isdigit((unsigned char)*p)) return NULL;
  int n = atoi(p);
  if (n <= 0 || n > 100000) return NULL;
  /* must look like a reference, not prose: short, and few words */
  int words = 0;
  for (const char *q = low; *q;) {
    while (*q && !isalnum((unsigned char)*q)) q++;
    if (!*q) break;
    words++;
    while (*q && isalnum((unsigned char)*q)) q++;
  }
  if (words > 8) return NULL;
  /* "[...step N...]", "(from step N)", "$step1", "{{step1.id}}", "from/of Step N", "Step N's track", "step_N" */
  const char *t = low;
  while (*t == ' ') t++;
  const char *q = p;
  while (isdigit((unsigned char)*q)) q++;
  int bracketed = *t == '[' || *t == '(' || *t == '$' || !strncmp(t, "{{", 2);
  int worded = strstr(low, "from step") || strstr(low, "of step") || strstr(low, "in step") || !strncmp(q, "'s", 2) ||
               !strncmp(q, "\xE2\x80\x99s", 4);
  int bare = s == t && *q == 0;
  if (!bracketed && !worded && !bare) return NULL;
  const char *kind = strstr(low, "clip") ? "clip" : strstr(low, "track") ? "track" : "any";
  return json_pack("{s:{s:i, s:s}}", "$ref", "step", n, "kind", kind);
}

/* Strip wrapping markdown (**x**, `x`, *x*) from a value; returns pointer into buf. */
static char *strip_wrapping(char *v) {
  v = trim_inplace(v);
  for (int again = 1; again;) {
    again = 0;
    size_t l = strlen(v);
    if (l >= 4 && !strncmp(v, "**", 2) && !strcmp(v + l - 2, "**")) {
      v[l - 2] = 0;
      v += 2;
      again = 1;
    } else if (l >= 2 && ((v[0] == '`' && v[l - 1] == '`') || (v[0] == '*' && v[l - 1] == '*') ||
                          (v[0] == '_' && v[l - 1] == '_'))) {
      v[l - 1] = 0;
      v++;
      again = 1;
    }
    v = trim_inplace(v);
  }
  return v;
}

static json_t *parse_value_text(char *text) {
  char *v = strip_wrapping(text);
  json_t *ref = parse_ref(v);
  if (ref) return ref;
  int how;
  json_t *j = relaxed_json_parse(v, (size_t)-1, &how);
  if (j && how == RELAXED_JSON_STRING && json_is_string(j) && v[0] == '{') {
    /* several objects without the enclosing brackets */
    size_t l = strlen(v);
    char *w = malloc(l + 3);
    if (w) {
      w[0] = '[';
      memcpy(w + 1, v, l);
      w[l + 1] = ']';
      w[l + 2] = 0;
      json_t *j2 = relaxed_json_parse(w, l + 2, &how);
      free(w);
      if (j2 && json_is_array(j2)) {
        json_decref(j);
        return j2;
      }
      json_decref(j2);
    }
  }
  return j;
}

static void warn(plan_t *plan, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *w = relaxed_json_string(msg, strlen(msg));
  size_t i;
  const json_t *e;
  json_array_foreach(plan->warnings, i, e) if (json_equal(e, w)) break; /* validating twice warns once */
  if (i < json_array_size(plan->warnings))
    json_decref(w);
  else
    json_array_append_new(plan->warnings, w);
}

static step_t *add_step(plan_t *plan, int number, const char *tool, const char *desc) {
  if (plan->n == plan->cap) {
    size_t cap = plan->cap ? plan->cap * 2 : 8;
    step_t *ns = realloc(plan->steps, cap * sizeof *ns);
    if (!ns) return NULL;
    plan->steps = ns;
    plan->cap = cap;
  }
  step_t *st = &plan->steps[plan->n++];
  char t[128];
  size_t o = 0;
  for (const char *p = tool; *p && o + 1 < sizeof t; p++) t[o++] = *p == '-' ? '_' : (char)tolower((unsigned char)*p);
  t[o] = 0;
  st->number = number;
  st->tool = strdup(t);
  char *d = strdup(desc ? desc : "");
  char *dt = d ? strip_wrapping(d) : NULL;
  st->description = dt ? strdup(dt) : strdup("");
  free(d);
  st->args = json_object();
  return st;
}

typedef struct {
  step_t *step;
  char key[64];
  strbuf_t value;
  int indent;
  int open;
  int depth; /* bracket depth of value so far */
  char quote;
} pending_t;

static void pending_add(pending_t *pa, const char *text) {
  if (pa->value.len > 0) strbuf_puts(&pa->value, "\n");
  strbuf_puts(&pa->value, text);
  bracket_scan(text, &pa->depth, &pa->quote);
}

static void finish_arg(plan_t *plan, pending_t *pa) {
  if (!pa->open) return;
  pa->open = 0;
  pa->depth = 0;
  pa->quote = 0;
  char *v = strbuf_take(&pa->value, NULL);
  if (!v) return;
  json_t *j = parse_value_text(v);
  free(v);
  if (!j) return;
  if (json_object_get(pa->step->args, pa->key))
    warn(plan, "Step %d: argument '%s' given twice; the last value is used", pa->step->number, pa->key);
  json_object_set_new(pa->step->args, pa->key, j);
}

/* Call syntax arguments "name="Kick", type: 'midi'" → merged into the step's args. */
static void add_call_args(step_t *st, const char *call) {
  size_t l = strlen(call);
  if (l == 0 || (!strchr(call, '=') && !strchr(call, ':'))) return;
  char *buf = malloc(l + 3);
  if (!buf) return;
  size_t o = 0;
  buf[o++] = '{';
  char q = 0;
  for (size_t i = 0; i < l; i++) {
    char c = call[i];
    if (q) {
      if (c == '\\' && i + 1 < l) {
        buf[o++] = c;
        c = call[++i];
      } else if (c == q) {
        q = 0;
      }
    } else if (c == '"' || c == '\'') {
      q = c;
    } else if (c == '=') {
      c = ':';
    }
    buf[o++] = c;
  }
  buf[o++] = '}';
  buf[o] = 0;
  int how;
  json_t *j = relaxed_json_parse(buf, o, &how);
  free(buf);
  if (json_is_object(j)) {
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
      const json_t *sv = json_is_array(v) && json_array_size(v) == 1 ? json_array_get(v, 0) : v;
      json_t *ref = json_is_string(sv) ? parse_ref(json_string_value(sv)) : NULL;
      json_object_set_new(st->args, k, ref ? ref : json_incref(v));
    }
  }
  json_decref(j);
}

static void append_text(strbuf_t *b, const char *line) {
  if (b->len) strbuf_puts(b, "\n");
  strbuf_puts(b, line);
}

plan_t *plan_parse(const char *text, size_t len, char *err, size_t errlen) {
  if (!text) {
    errmsg(err, errlen, "no plan text");
    return NULL;
  }
  if (len == (size_t)-1) len = strlen(text);
  char *from_json = plan_json_to_text(text, len); /* a plan written as one JSON object (a JSON mode; plan_json.h) */
  if (from_json) {
    plan_t *p = plan_parse(from_json, (size_t)-1, err, errlen);
    free(from_json);
    return p;
  }
  plan_t *plan = calloc(1, sizeof *plan);
  if (!plan) {
    errmsg(err, errlen, "out of memory");
    return NULL;
  }
  plan->warnings = json_array();
  char *buf = dupn(text, len);
  if (!buf || !plan->warnings) {
    free(buf);
    plan_free(plan);
    errmsg(err, errlen, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < len; i++)
    if (buf[i] == 0) buf[i] = ' ';

  strbuf_t analysis = {0}, reasoning = {0};
  int section = SEC_NONE, saw_analysis = 0, saw_plan = 0, saw_reasoning = 0, after_arg = 0;
  step_t *cur = NULL;
  pending_t pa = {0};
  char *line = buf;
  while (line) {
    char *nl = strpbrk(line, "\r\n");
    char *next = NULL;
    if (nl) {
      next = nl + 1;
      if (*nl == '\r' && *next == '\n') next++;
      *nl = 0;
    }
    char *raw = line;
    line = next;

    char *tr = raw;
    while (*tr == ' ' || *tr == '\t') tr++;
    if (!strncmp(tr, "```", 3) || !strncmp(tr, "~~~", 3)) continue;

    int indent, bulleted;
    const char *lead = strip_lead(raw, &indent, &bulleted);
    char clean[512];
    demark(lead, clean, sizeof clean);

    const char *rest;
    int sec = section_header(clean, &rest);

    /* an open multi-line value swallows lines until its brackets balance (but never a step or section
         * header: an unclosed bracket must not eat the rest of the plan) */
    if (pa.open && pa.value.len > 0 && pa.depth > 0) {
      int num;
      char tool[96], d[8], c[8];
      int header = (sec != SEC_NONE && strlen(clean) < 200) ||
                   (starts_ci(clean, "step") &&
                    parse_step_line(lead, 0, raw, &num, tool, sizeof tool, d, sizeof d, c, sizeof c) == 1);
      if (!header) {
        if (pa.value.len < MAX_VALUE_BYTES) pending_add(&pa, tr);
        if (pa.depth <= 0) finish_arg(plan, &pa);
        continue;
      }
      finish_arg(plan, &pa);
    }

    if (sec != SEC_NONE && strlen(clean) < 200 && (sec != SEC_PLAN || *rest == 0 || bulleted == 0)) {
      finish_arg(plan, &pa);
      section = sec;
      if (sec == SEC_ANALYSIS) {
        saw_analysis = 1;
        if (*rest) append_text(&analysis, rest);
      } else if (sec == SEC_REASONING) {
        saw_reasoning = 1;
        if (*rest) append_text(&reasoning, rest);
      } else {
        saw_plan = 1;
      }
      cur = NULL;
      continue;
    }

    if (section != SEC_REASONING) {
      int num;
      char tool[96];
      char dcopy[512] = "", call[4096];
      int sr =
          parse_step_line(lead, bulleted == 2, raw, &num, tool, sizeof tool, dcopy, sizeof dcopy, call, sizeof call);
      if (sr) {
        finish_arg(plan, &pa);
        if (section != SEC_PLAN && !saw_plan) section = SEC_PLAN;
        cur = add_step(plan, num, tool, dcopy);
        if (!cur) break;
        if (call[0]) add_call_args(cur, call);
        after_arg = 1;
        continue;
      }
    }

    if (cur && section == SEC_PLAN) {
      char key[64];
      const char *value;
      if ((bulleted || indent > 0 || after_arg) && parse_arg_line(lead, key, sizeof key, &value)) {
        after_arg = 1;
        finish_arg(plan, &pa);
        pa.step = cur;
        snprintf(pa.key, sizeof pa.key, "%s", key);
        pa.indent = indent;
        pa.open = 1;
        pending_add(&pa, value);
        if (pa.value.len > 0 && pa.depth <= 0) finish_arg(plan, &pa);
        continue;
      }
      if (pa.open && pa.value.len == 0) {
        /* "- notes:" followed by the value on the next lines */
        if (*tr == 0) continue;
        pending_add(&pa, tr);
        if (pa.depth <= 0) finish_arg(plan, &pa);
        continue;
      }
      finish_arg(plan, &pa);
      if (*tr) after_arg = 0;
      continue; /* prose between steps */
    }

    finish_arg(plan, &pa);
    if (section == SEC_ANALYSIS && *tr)
      append_text(&analysis, tr);
    else if (section == SEC_REASONING && *tr)
      append_text(&reasoning, tr);
  }
  finish_arg(plan, &pa);
  free(pa.value.s);
  free(buf);
  plan->analysis = strbuf_take(&analysis, NULL);
  plan->reasoning = strbuf_take(&reasoning, NULL);
  if (plan->analysis) memmove(plan->analysis, trim_inplace(plan->analysis), strlen(trim_inplace(plan->analysis)) + 1);
  if (plan->reasoning)
    memmove(plan->reasoning, trim_inplace(plan->reasoning), strlen(trim_inplace(plan->reasoning)) + 1);

  if (plan->n == 0) {
    errmsg(err, errlen,
           "no plan steps found: write **PLAN:** followed by lines like \"Step 1: create_track - what it does\" "
           "with \"  - key: value\" argument lines");
    plan_free(plan);
    return NULL;
  }
  if (!saw_analysis) warn(plan, "no **ANALYSIS:** section");
  if (!saw_plan) warn(plan, "no **PLAN:** header; steps were read anyway");
  if (!saw_reasoning) warn(plan, "no **MUSICAL REASONING:** section");
  return plan;
}

/* ---- validation ----------------------------------------------------------------------------- */

typedef struct {
  plan_t *plan;
  const json_t *tools, *state, *fx;
  const vocab_t *vocab; /* the tool-call validator (vocab_check), the last word on a step's arguments */
  json_t *errors;
} vctx_t;

static void verr(vctx_t *v, const step_t *st, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *e = json_object();
  json_object_set_new(e, "step", json_integer(st ? st->number : 0));
  if (st && st->tool) json_object_set_new(e, "tool", relaxed_json_string(st->tool, strlen(st->tool)));
  json_object_set_new(e, "message", relaxed_json_string(msg, strlen(msg)));
  json_array_append_new(v->errors, e);
}

static const json_t *find_tool(const json_t *tools, const char *name) {
  size_t i;
  const json_t *t;
  json_array_foreach(tools, i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    if (n && !strcmp(n, name)) return t;
  }
  return NULL;
}

static void tool_names(const json_t *tools, char *buf, size_t len) {
  size_t o = 0;
  size_t i;
  const json_t *t;
  buf[0] = 0;
  json_array_foreach(tools, i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    if (!n) continue;
    int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", n);
    if (w < 0 || (size_t)w >= len - o) break;
    o += (size_t)w;
  }
}

static const step_t *find_step(const plan_t *plan, int number) {
  for (size_t i = 0; i < plan->n; i++)
    if (plan->steps[i].number == number) return &plan->steps[i];
  return NULL;
}

static const char *tool_creates(const char *tool) {
  int t = vocab_lookup(tool);
  return t < 0 ? NULL : vocab_creates((enum vocab_tool)t);
}

/* Short printable form of a value for messages. */
static void show(const json_t *j, char *buf, size_t len) {
  if (json_is_string(j)) {
    snprintf(buf, len, "\"%.60s%s\"", json_string_value(j), strlen(json_string_value(j)) > 60 ? "…" : "");
    return;
  }
  char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
  snprintf(buf, len, "%.60s%s", s ? s : "?", s && strlen(s) > 60 ? "…" : "");
  free(s);
}

/* Coerce strings like "4", "4 beats", "120 bpm", "-6 dB", "yes" to the schema type. New ref or NULL. */
static json_t *coerce(const json_t *val, const char *type) {
  if (!json_is_string(val) || !type) return NULL;
  const char *s = json_string_value(val);
  if (!strcmp(type, "number") || !strcmp(type, "integer")) {
    char *end;
    double d = strtod(s, &end);
    if (end == s || !isfinite(d)) return NULL;
    while (*end == ' ') end++;
    static const char *const units[] = {"", "beat", "beats", "bpm", "BPM", "db", "dB", "DB", NULL};
    for (int i = 0; units[i]; i++) {
      if (!strcmp(end, units[i])) {
        if (!strcmp(type, "integer") && d == floor(d) && fabs(d) < 1e15) return json_integer((json_int_t)d);
        return json_real(d);
      }
    }
    return NULL;
  }
  if (!strcmp(type, "boolean")) {
    static const char *const yes[] = {"true", "yes", "on", "1", NULL}, *const no[] = {"false", "no", "off", "0", NULL};
    for (int i = 0; yes[i]; i++) {
      if (!strcasecmp(s, yes[i])) return json_true();
      if (!strcasecmp(s, no[i])) return json_false();
    }
  }
  return NULL;
}

static int type_ok(const json_t *val, const char *type) {
  if (!type) return 1;
  if (!strcmp(type, "string")) return json_is_string(val);
  if (!strcmp(type, "number")) return json_is_number(val);
  if (!strcmp(type, "integer"))
    return json_is_integer(val) || (json_is_real(val) && json_real_value(val) == floor(json_real_value(val)));
  if (!strcmp(type, "boolean")) return json_is_boolean(val);
  if (!strcmp(type, "array")) return json_is_array(val);
  if (!strcmp(type, "object")) return json_is_object(val);
  if (!strcmp(type, "null")) return json_is_null(val);
  return 1;
}

static const char *schema_type(const json_t *ps, const json_t *val) {
  const json_t *t = json_object_get(ps, "type");
  if (json_is_string(t)) return json_string_value(t);
  if (json_is_array(t)) { /* a union: pick the first that fits, else the first */
    size_t i;
    const json_t *x;
    json_array_foreach(t, i,
                       x) if (json_is_string(x) && type_ok(val, json_string_value(x))) return json_string_value(x);
    return json_string_value(json_array_get(t, 0));
  }
  return NULL;
}

/* ---- catalog -------------------------------------------------------------------------------- */

static const char *catalog_find(const json_t *list, const char *name) {
  size_t i, j;
  const json_t *e, *a;
  json_array_foreach(list, i, e) {
    const char *n = json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "name"));
    if (!n) continue;
    if (!strcasecmp(n, name)) return n;
    json_array_foreach(json_object_get(e, "aliases"), j,
                       a) if (json_is_string(a) && !strcasecmp(json_string_value(a), name)) return n;
  }
  /* "ReaVerbate (Cockos)" style: match the name up to " (" */
  json_array_foreach(list, i, e) {
    const char *n = json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "name"));
    if (!n) continue;
    const char *paren = strstr(n, " (");
    size_t l = paren ? (size_t)(paren - n) : strlen(n);
    if (strlen(name) == l && !strncasecmp(n, name, l)) return n;
    const char *p2 = strstr(name, " (");
    if (p2 && (size_t)(p2 - name) == strlen(n) && !strncasecmp(n, name, strlen(n))) return n;
  }
  return NULL;
}

static void catalog_names(const json_t *list, char *buf, size_t len) {
  size_t o = 0, i;
  const json_t *e;
  buf[0] = 0;
  json_array_foreach(list, i, e) {
    const char *n = json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "name"));
    if (!n) continue;
    if (i >= 12) {
      snprintf(buf + o, len - o, ", …");
      break;
    }
    int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", n);
    if (w < 0 || (size_t)w >= len - o) break;
    o += (size_t)w;
  }
}

/* ---- state lookups -------------------------------------------------------------------------- */

static const json_t *state_track(const json_t *state, const char *id_or_name, int *by_name) {
  size_t i;
  const json_t *t;
  *by_name = 0;
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    if (id && !strcmp(id, id_or_name)) return t;
  }
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    if (n && !strcasecmp(n, id_or_name)) {
      *by_name = 1;
      return t;
    }
  }
  return NULL;
}

static const json_t *state_track_by_index(const json_t *state, json_int_t idx) {
  size_t i;
  const json_t *t;
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    if (json_integer_value(json_object_get(t, "index")) == idx) return t;
  }
  return NULL;
}

static const json_t *state_clip(const json_t *state, const char *id_or_name, const json_t **track_out) {
  size_t i, j;
  const json_t *t, *c;
  for (int pass = 0; pass < 2; pass++) {
    json_array_foreach(json_object_get(state, "tracks"), i, t) {
      json_array_foreach(json_object_get(t, "clips"), j, c) {
        const char *s = json_string_value(json_object_get(c, pass == 0 ? "id" : "name"));
        if (s && (pass == 0 ? !strcmp(s, id_or_name) : !strcasecmp(s, id_or_name))) {
          if (track_out) *track_out = t;
          return c;
        }
      }
    }
  }
  return NULL;
}

/* DAW-supplied text as a JSON string literal, shortened to 40 characters. */
static void quote_text(const char *s, char *buf, size_t len) {
  char shortened[164];
  size_t l = strlen(s);
  if (l > 40) {
    size_t cut = 40;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80) cut--;
    snprintf(shortened, sizeof shortened, "%.*s…", (int)cut, s);
    s = shortened;
  }
  json_t *j = relaxed_json_string(s, strlen(s));
  char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  snprintf(buf, len, "%s", d ? d : "\"?\"");
  free(d);
  json_decref(j);
}

static void state_track_list(const json_t *state, char *buf, size_t len) {
  size_t o = 0, i;
  const json_t *t;
  buf[0] = 0;
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    const char *n = json_string_value(json_object_get(t, "name"));
    char q[128];
    quote_text(n ? n : "", q, sizeof q);
    int w = snprintf(buf + o, len - o, "%s%s %s", o ? ", " : "", id ? id : "?", q);
    if (w < 0 || (size_t)w >= len - o) break;
    o += (size_t)w;
  }
  if (o == 0) snprintf(buf, len, "none (the session is empty)");
}

/* ---- per-argument checks -------------------------------------------------------------------- */

static int is_midi_track_step(const step_t *st) {
  const char *type = json_string_value(json_object_get(st->args, "type"));
  return vocab_lookup(st->tool) == VOCAB_CREATE_TRACK && (!type || !strcasecmp(type, "midi"));
}

/* Resolve a track_id/clip_id value. kind: "track" or "clip". May replace the value in args. */
static void check_id_arg(vctx_t *v, step_t *st, const char *key, const char *want) {
  json_t *val = json_object_get(st->args, key);
  const char *rkind;
  int ref = plan_ref_step(val, &rkind);
  if (ref) {
    const step_t *target = find_step(v->plan, ref);
    if (!target) {
      verr(v, st, "'%s' refers to Step %d, but the plan has no Step %d", key, ref, ref);
      return;
    }
    if (ref >= st->number) {
      verr(v, st, "'%s' refers to Step %d, which %s; a reference must point to an earlier step", key, ref,
           ref == st->number ? "is this step itself" : "comes later");
      return;
    }
    const char *creates = tool_creates(target->tool);
    if (creates && !strcmp(creates, "clip") && !strcmp(want, "track") && strcmp(rkind, "clip") != 0) {
      /* "[from Step 2]" where Step 2 made a clip: the track that clip is on */
      const char *k2;
      int tref = plan_ref_step(json_object_get(target->args, "track_id"), &k2);
      if (tref > 0 && tref < target->number) {
        json_object_set_new(st->args, key, json_pack("{s:{s:i, s:s}}", "$ref", "step", tref, "kind", "track"));
        check_id_arg(v, st, key, want);
        return;
      }
    }
    if (!creates || strcmp(creates, want) != 0) {
      verr(v, st, "'%s' refers to Step %d (%s), which creates %s%s, not a %s", key, ref, target->tool,
           creates ? "a " : "no track or clip", creates ? creates : "", want);
      return;
    }
    if (strcmp(rkind, "any") && strcmp(rkind, want))
      verr(v, st, "'%s' asks for the %s from Step %d, but this argument needs a %s", key, rkind, ref, want);
    const char *ttype = json_string_value(json_object_get(target->args, "type"));
    if (!strcmp(want, "track") && vocab_lookup(st->tool) == VOCAB_CREATE_MIDI_CLIP && ttype &&
        !strcasecmp(ttype, "audio"))
      verr(v, st, "'%s': Step %d creates an audio track; MIDI clips need a MIDI track", key, ref);
    return;
  }
  char buf[64];
  const char *s = NULL;
  if (json_is_integer(val) && !strcmp(want, "track")) {
    const json_t *t = state_track_by_index(v->state, json_integer_value(val));
    if (t) {
      json_object_set_new(st->args, key, json_copy(json_object_get(t, "id")));
      return;
    }
    snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
    s = buf;
  } else if (json_is_string(val)) {
    s = json_string_value(val);
  } else {
    char shown[96];
    show(val, shown, sizeof shown);
    verr(v, st, "'%s' must be a %s id (like %s), a name in quotes or a reference like [%s from Step 1]; got %s", key,
         want, !strcmp(want, "track") ? "t1" : "c1", want, shown);
    return;
  }
  if (!strcmp(want, "track")) {
    /* a track created earlier in this plan, named in the value, wins over an existing one */
    for (size_t i = 0; i < v->plan->n; i++) {
      step_t *o = &v->plan->steps[i];
      const char *n = json_string_value(json_object_get(o->args, "name"));
      if (o->number < st->number && vocab_lookup(o->tool) == VOCAB_CREATE_TRACK && n && !strcasecmp(n, s)) {
        json_object_set_new(st->args, key, json_pack("{s:{s:i, s:s}}", "$ref", "step", o->number, "kind", "track"));
        check_id_arg(v, st, key, want);
        return;
      }
    }
    int by_name;
    const json_t *t = state_track(v->state, s, &by_name);
    if (t) {
      if (vocab_lookup(st->tool) == VOCAB_CREATE_MIDI_CLIP) {
        const char *type = json_string_value(json_object_get(t, "type"));
        if (type && strcmp(type, "midi") != 0)
          verr(v, st, "'%s': track \"%s\" is an %s track; MIDI clips need a MIDI track", key, s, type);
      }
      if (by_name) json_object_set_new(st->args, key, json_copy(json_object_get(t, "id")));
      return;
    }
    /* a track created later in this plan */
    for (size_t i = 0; i < v->plan->n; i++) {
      step_t *o = &v->plan->steps[i];
      const char *n = json_string_value(json_object_get(o->args, "name"));
      if (vocab_lookup(o->tool) == VOCAB_CREATE_TRACK && n && !strcasecmp(n, s)) {
        verr(v, st, "'%s' names track \"%s\", which is only created later in Step %d; reorder the steps", key, s,
             o->number);
        return;
      }
    }
    char list[600];
    state_track_list(v->state, list, sizeof list);
    verr(v, st,
         "'%s': no track \"%s\" exists; existing tracks: %s; or use [track from Step N] for a track this "
         "plan creates",
         key, s, list);
    return;
  }
  const json_t *c = state_clip(v->state, s, NULL);
  if (c) {
    json_object_set_new(st->args, key, json_copy(json_object_get(c, "id")));
    return;
  }
  verr(v, st, "'%s': no clip \"%s\" exists; use a clip id from the session (like c1) or [clip from Step N]", key, s);
}

/* Clip length for notes checks of this step, or 0 when unknown. */
static double clip_length_for(vctx_t *v, const step_t *st) {
  if (vocab_lookup(st->tool) == VOCAB_CREATE_MIDI_CLIP) {
    const json_t *d = json_object_get(st->args, "duration");
    return json_is_number(d) ? json_number_value(d) : 0;
  }
  const json_t *cid = json_object_get(st->args, "clip_id");
  int ref = plan_ref_step(cid, NULL);
  if (ref) {
    const step_t *t = find_step(v->plan, ref);
    if (t && ref < st->number && vocab_lookup(t->tool) == VOCAB_CREATE_MIDI_CLIP) {
      const json_t *d = json_object_get(t->args, "duration");
      return json_is_number(d) ? json_number_value(d) : 0;
    }
    return 0;
  }
  if (json_is_string(cid)) {
    const json_t *c = state_clip(v->state, json_string_value(cid), NULL);
    const json_t *l = json_object_get(c, "length");
    return json_is_number(l) ? json_number_value(l) : 0;
  }
  return 0;
}

/* remove_notes: items select notes to remove, so only pitches are converted ({n: "kick"}, "C4", 36);
 * s/d/v are kept as written when present. */
static void check_remove_notes_arg(vctx_t *v, step_t *st, const char *key) {
  json_t *val = json_object_get(st->args, key);
  if (!json_is_array(val)) {
    verr(v, st, "'%s' must be an array of notes to remove, like [{n: 36, s: 0}] or [\"C4\"]", key);
    return;
  }
  json_t *out = json_array();
  size_t i;
  json_t *it;
  json_array_foreach(val, i, it) {
    json_t *sel = json_is_object(it) ? json_deep_copy(it) : json_object();
    const json_t *n = json_is_object(it) ? json_object_get(it, "n") : it;
    if (!n && json_is_object(it)) n = json_object_get(it, "note");
    char err[300];
    int m;
    if (json_is_string(n)) {
      if (notation_pitch(json_string_value(n), &m, err, sizeof err) != NOTATION_OK) {
        verr(v, st, "'%s'[%zu]: %s", key, i, err);
        json_decref(sel);
        continue;
      }
      json_object_del(sel, "note");
      json_object_set_new(sel, "n", json_integer(m));
    } else if (json_is_integer(n) && json_integer_value(n) >= 0 && json_integer_value(n) <= 127) {
      json_object_del(sel, "note");
      json_object_set_new(sel, "n", json_integer(json_integer_value(n)));
    } else if (n || !json_is_object(it)) {
      char shown[96];
      show(n ? n : it, shown, sizeof shown);
      verr(v, st, "'%s'[%zu]: the note to remove must be a MIDI number 0..127 or a name, got %s", key, i, shown);
      json_decref(sel);
      continue;
    }
    json_array_append_new(out, sel);
  }
  json_object_set_new(st->args, key, out);
}

static void check_notes_arg(vctx_t *v, step_t *st, const char *key, int inside_clip) {
  json_t *val = json_object_get(st->args, key);
  char err[600];
  if (json_is_string(val) && (json_string_value(val)[0] == '[' || json_string_value(val)[0] == '{')) {
    char shown[96];
    show(val, shown, sizeof shown);
    verr(v, st, "'%s' is not valid JSON (unbalanced brackets or quotes?): %s", key, shown);
    return;
  }
  json_t *notes = notation_expand_notes(val, NULL, err, sizeof err);
  if (!notes) {
    verr(v, st, "'%s': %s", key, err);
    return;
  }
  if (json_array_size(notes) == 0 && !strcmp(key, "notes"))
    verr(v, st, "'%s' is empty; a MIDI clip needs at least one note", key);
  double len = inside_clip ? clip_length_for(v, st) : 0;
  if (notation_check_notes(notes, len, err, sizeof err) > 0)
    verr(v, st, "'%s': %s%s", key, err, len > 0 ? "; notes must satisfy s >= 0 and s + d <= the clip duration" : "");
  json_object_set_new(st->args, key, notes);
}

/* A plain argument as the model wrote it, normalized towards its schema type before the vocabulary checks it:
 * "4 beats", "-6 dB", "yes" become numbers and booleans, 4.0 an integer, 808 a name, "MIDI" the enum's "midi".
 * What cannot be normalized is left as written: the vocabulary's validator reports it (check_with_vocab). */
static void normalize_plain_arg(vctx_t *v, step_t *st, const char *key, const json_t *ps) {
  json_t *val = json_object_get(st->args, key);
  if (plan_ref_step(val, NULL)) {
    verr(v, st, "'%s' cannot be a reference to another step; only track_id and clip_id can", key);
    return;
  }
  const char *type = schema_type(ps, val);
  if (type && !type_ok(val, type)) {
    json_t *c = coerce(val, type);
    if (!c && !strcmp(type, "string") && json_is_number(val)) { /* names like 808 */
      char b[64];
      show(val, b, sizeof b);
      c = json_string(b);
    }
    if (c) json_object_set_new(st->args, key, c), val = c;
  }
  if (type && !strcmp(type, "integer") && json_is_real(val) && type_ok(val, type))
    json_object_set_new(st->args, key, json_integer((json_int_t)json_real_value(val)));
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(ps, "enum"), i, e) {
    if (json_is_string(e) && json_is_string(val) && strcmp(json_string_value(e), json_string_value(val)) &&
        !strcasecmp(json_string_value(e), json_string_value(val))) {
      json_object_set_new(st->args, key, json_copy((json_t *)e));
      break;
    }
  }
}

/* An instrument is a musical role resolved per DAW by the catalog's "instrument_map" (osc-maps/instmap.h): a role
 * is never refused (an unknown one becomes a plan warning: the DAW's default instrument is used); a plugin name
 * the DAW does not have is an error listing the available ones; a plugin alias is canonicalized. */
static void check_instrument_role(vctx_t *v, step_t *st, const char *key, const json_t *map) {
  const char *name = json_string_value(json_object_get(st->args, key));
  json_t *res = NULL;
  char msg[900];
  int rc = instmap_resolve_json(map, name, &res, msg, sizeof msg);
  if (rc == INSTMAP_ENOTFOUND) {
    verr(v, st, "%s", msg);
    return;
  }
  if (rc) return;
  const char *kind = json_string_value(json_object_get(res, "kind"));
  const char *plugin = json_string_value(json_object_get(res, "plugin"));
  if (kind && !strcmp(kind, "plugin") && plugin && strcmp(plugin, name))
    json_object_set_new(st->args, key, json_string(plugin));
  if (msg[0]) warn(v->plan, "Step %d: %s", st->number, msg);
  json_decref(res);
}

static void check_catalog_arg(vctx_t *v, step_t *st, const char *key, int instrument) {
  json_t *val = json_object_get(st->args, key);
  if (!v->fx || !json_is_string(val)) return;
  const json_t *imap = json_object_get(v->fx, "instrument_map");
  if (instrument && json_is_object(imap)) {
    check_instrument_role(v, st, key, imap);
    return;
  }
  const char *name = json_string_value(val);
  const json_t *list = json_object_get(v->fx, instrument ? "instruments" : "effects");
  const char *found = catalog_find(list, name);
  if (!found && !instrument) found = catalog_find(json_object_get(v->fx, "instruments"), name);
  if (found) {
    if (strcmp(found, name)) json_object_set_new(st->args, key, json_string(found));
    return;
  }
  char names[600];
  catalog_names(list, names, sizeof names);
  verr(v, st, "%s \"%s\" is not available in this DAW; choose one of: %s", instrument ? "instrument" : "effect", name,
       names[0] ? names : "(none)");
}

/* A copy of args with every step reference replaced by an id-shaped placeholder (what the tool call will carry). */
static json_t *args_as_call(const json_t *args) {
  json_t *c = json_object();
  const char *k;
  json_t *x;
  json_object_foreach((json_t *)args, k, x) {
    const char *kind;
    if (plan_ref_step(x, &kind) > 0)
      json_object_set_new(c, k, json_string(!strcmp(kind, "clip") || !strcmp(k, "clip_id") ? "c0" : "t0"));
    else
      json_object_set(c, k, x);
  }
  return c;
}

struct vocab_sink {
  vctx_t *v;
  step_t *st;
  const json_t *reported; /* arguments the plan's own checks already reported (borrowed object used as a set) */
};

static void vocab_problem(void *data, const char *arg, const char *message) {
  struct vocab_sink *k = data;
  if (!arg || !json_object_get(k->reported, arg)) verr(k->v, k->st, "%s", message);
}

/* The arguments as normalized (types, names, notes expanded; references as id-shaped placeholders) go through the
 * tool-call validator: a plan step is held to the same rules as the call it becomes, and every problem the
 * vocabulary finds is reported, except on an argument the plan's own checks (references, notation, catalog)
 * already reported. */
static void check_with_vocab(vctx_t *v, step_t *st, const json_t *reported) {
  int t = vocab_lookup(st->tool);
  if (!v->vocab || t < 0) return;
  json_t *call = args_as_call(st->args);
  struct vocab_sink k = {v, st, reported};
  if (call) vocab_check_all(v->vocab, (enum vocab_tool)t, call, vocab_problem, &k);
  json_decref(call);
}

/* Issue 13: a create_track whose name an existing track already has (case-insensitive) may be meant for that
 * track; it is a warning, not an error (two tracks may share a name), shown with the plan. */
static void warn_existing_track_name(vctx_t *v, const step_t *st) {
  const char *name = json_string_value(json_object_get(st->args, "name"));
  if (vocab_lookup(st->tool) != VOCAB_CREATE_TRACK || !name || !v->state) return;
  size_t i;
  const json_t *t;
  json_array_foreach(json_object_get(v->state, "tracks"), i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    if (!n || strcasecmp(n, name)) continue;
    const char *id = json_string_value(json_object_get(t, "id"));
    char q[128];
    quote_text(n, q, sizeof q);
    warn(v->plan,
         "Step %d: a track named %s already exists (%s); this step creates another one. If the request meant the "
         "existing track, use track_id %s instead of creating a track",
         st->number, q, id ? id : "?", id ? id : "?");
    return;
  }
}

/* One plan-side check of argument key; when it reported a problem, key joins the reported set. */
#define CHECKED(v, reported, key, call)                                                                                \
  do {                                                                                                                 \
    size_t n0_ = json_array_size((v)->errors);                                                                         \
    call;                                                                                                              \
    if (json_array_size((v)->errors) > n0_) json_object_set_new((reported), (key), json_true());                       \
  } while (0)

static void check_step(vctx_t *v, step_t *st) {
  int t = vocab_lookup(st->tool);
  if (t < 0 || !find_tool(v->tools, st->tool)) {
    const char *sug = vocab_suggest(st->tool);
    char names[1024];
    tool_names(v->tools, names, sizeof names);
    if (t >= 0)
      verr(v, st, "the tool '%s' is not available now; available tools: %s", st->tool, names);
    else if (sug && find_tool(v->tools, sug))
      verr(v, st, "unknown tool '%s'; did you mean '%s'? Available tools: %s", st->tool, sug, names);
    else
      verr(v, st, "unknown tool '%s'; available tools: %s", st->tool, names);
    return;
  }
  const json_t *props = json_object_get(vocab_schema(v->vocab, (enum vocab_tool)t), "properties");
  json_t *reported = json_object();
  const char *key;
  json_t *val;
  void *tmp;
  /* per argument; ids and notes after the plain ones (clip length needs a normalized duration) */
  json_object_foreach_safe(st->args, tmp, key, val) {
    const json_t *ps = json_object_get(props, key);
    size_t kl = strlen(key);
    if (!ps || (kl > 3 && !strcmp(key + kl - 3, "_id"))) continue;
    if (!strcmp(key, "notes") || !strcmp(key, "add_notes") || !strcmp(key, "remove_notes")) continue;
    CHECKED(v, reported, key, normalize_plain_arg(v, st, key, ps));
  }
  static const char *const ids[][2] = {{"track_id", "track"}, {"clip_id", "clip"}};
  for (size_t i = 0; i < 2; i++)
    if (json_object_get(props, ids[i][0]) && json_object_get(st->args, ids[i][0]))
      CHECKED(v, reported, ids[i][0], check_id_arg(v, st, ids[i][0], ids[i][1]));
  if (json_object_get(props, "notes") && json_object_get(st->args, "notes"))
    CHECKED(v, reported, "notes", check_notes_arg(v, st, "notes", 1));
  if (json_object_get(props, "add_notes") && json_object_get(st->args, "add_notes"))
    CHECKED(v, reported, "add_notes", check_notes_arg(v, st, "add_notes", 1));
  if (json_object_get(props, "remove_notes") && json_object_get(st->args, "remove_notes"))
    CHECKED(v, reported, "remove_notes", check_remove_notes_arg(v, st, "remove_notes"));
  if (t == VOCAB_CREATE_TRACK && json_object_get(st->args, "instrument") &&
      !json_is_null(json_object_get(st->args, "instrument")))
    CHECKED(v, reported, "instrument", check_catalog_arg(v, st, "instrument", 1));
  if (t == VOCAB_ADD_EFFECT) CHECKED(v, reported, "effect_name", check_catalog_arg(v, st, "effect_name", 0));
  if (t == VOCAB_SET_LOOP) {
    const json_t *s = json_object_get(st->args, "start"), *e = json_object_get(st->args, "end");
    if (json_is_number(s) && json_is_number(e) && json_number_value(e) <= json_number_value(s))
      verr(v, st, "loop end %g must be after loop start %g", json_number_value(e), json_number_value(s));
  }
  check_with_vocab(v, st, reported);
  json_decref(reported);
  warn_existing_track_name(v, st);
}

int plan_validate(plan_t *plan, const json_t *tools_catalog, const json_t *state, const json_t *effects_catalog,
                  json_t **errors_out) {
  if (errors_out) *errors_out = NULL;
  if (!plan || !json_is_array(tools_catalog)) return PLAN_ERR_ARG;
  vctx_t v = {.plan = plan, .tools = tools_catalog, .state = state, .fx = effects_catalog, .errors = json_array()};
  if (!v.errors) return PLAN_ERR_NOMEM;
  vocab_t *vocab = NULL;
  char verrbuf[256];
  if (vocab_load(NULL, &vocab, verrbuf, sizeof verrbuf) != VOCAB_OK) { /* built in: only out of memory */
    json_decref(v.errors);
    return PLAN_ERR_NOMEM;
  }
  v.vocab = vocab;
  if (plan->n == 0) verr(&v, NULL, "the plan has no steps");
  for (size_t i = 0; i < plan->n; i++) {
    step_t *st = &plan->steps[i];
    if (st->number <= 0) {
      st->number = (int)i + 1;
    }
    for (size_t j = 0; j < i; j++) {
      if (plan->steps[j].number == st->number) {
        verr(&v, st, "Step %d appears twice; number the steps 1, 2, 3, … in order", st->number);
        break;
      }
    }
  }
  for (size_t i = 0; i < plan->n; i++) check_step(&v, &plan->steps[i]);
  /* complete workflows: every MIDI track created gets a clip */
  for (size_t i = 0; i < plan->n; i++) {
    step_t *st = &plan->steps[i];
    if (!is_midi_track_step(st) || !find_tool(v.tools, vocab_name(VOCAB_CREATE_MIDI_CLIP))) continue;
    int has_clip = 0;
    for (size_t j = 0; j < plan->n && !has_clip; j++) {
      const step_t *c = &plan->steps[j];
      if (vocab_lookup(c->tool) == VOCAB_CREATE_MIDI_CLIP &&
          plan_ref_step(json_object_get(c->args, "track_id"), NULL) == st->number)
        has_clip = 1;
    }
    if (!has_clip) {
      const char *n = json_string_value(json_object_get(st->args, "name"));
      verr(&v, st,
           "Step %d creates MIDI track \"%s\" but no step adds a clip to it; add a create_midi_clip step "
           "with track_id: [track from Step %d] (an empty track is not allowed)",
           st->number, n ? n : "?", st->number);
    }
  }
  vocab_free(vocab);
  int rc = json_array_size(v.errors) ? PLAN_ERR_INVALID : PLAN_OK;
  if (errors_out)
    *errors_out = v.errors;
  else
    json_decref(v.errors);
  return rc;
}

char *plan_format_errors(const json_t *errors) {
  strbuf_t b = STRBUF_INIT;
  size_t n = json_array_size(errors);
  strbuf_appendf(
      &b,
      "The plan was rejected before execution: %zu problem%s. Fix every problem below and write the complete "
      "plan again in the same format (**ANALYSIS:**, **PLAN:** with \"Step N: tool_name - description\" and "
      "\"  - key: value\" lines, **MUSICAL REASONING:**).\n",
      n, n == 1 ? "" : "s");
  size_t i;
  const json_t *e;
  json_array_foreach(errors, i, e) {
    int step = (int)json_integer_value(json_object_get(e, "step"));
    const char *tool = json_string_value(json_object_get(e, "tool"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (step > 0)
      strbuf_appendf(&b, "- Step %d%s%s%s: %s\n", step, tool ? " (" : "", tool ? tool : "", tool ? ")" : "",
                     msg ? msg : "?");
    else
      strbuf_appendf(&b, "- Plan: %s\n", msg ? msg : "?");
  }
  return strbuf_take(&b, NULL);
}
