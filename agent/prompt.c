/* prompt: templates (agent/prompts/NAME.txt) filled with the request, the state as data, the tools. See prompt.h. */
#include "prompt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "datadir.h"
#include "plan.h"
#include "vocab.h"
#include "errfmt.h"
#include "strbuf.h"

struct tmpl {
  char *system; /* NULL when the file has no [system] part */
  char *user;
};

enum { T_STAGE1, T_FORMAT, T_STAGE2, T_REPLAN, T_FIX, T_COUNT };
static const char *const tmpl_files[T_COUNT] = {"stage1.txt", "plan_format.txt", "stage2.txt", "replan.txt", "fix.txt"};

struct prompt {
  char dir[1024];
  struct tmpl t[T_COUNT];
};

const char *prompt_strerror(int code) {
  switch (code) {
  case PROMPT_OK: return "ok";
  case PROMPT_ELOAD: return "prompt template missing or unreadable";
  case PROMPT_ETEMPLATE: return "prompt template error";
  case PROMPT_EINVAL: return "invalid argument";
  case PROMPT_ENOMEM: return "out of memory";
  default: return "unknown prompt error";
  }
}

/* ---- a small growable string ---- */

/* ---- loading ---- */

static char *read_text(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    errfmt(err, errlen, PROMPT_ELOAD, "cannot read prompt template %s: %s", path, strerror(errno));
    return NULL;
  }
  strbuf_t b = STRBUF_INIT;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) strbuf_append(&b, buf, n);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(b.s);
    errfmt(err, errlen, PROMPT_ELOAD, "cannot read prompt template %s", path);
    return NULL;
  }
  return strbuf_take(&b, NULL);
}

static void trim_trailing_newlines(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) s[--n] = 0;
}

/* Splits the file into [system] / [user] parts, dropping %% comment lines. */
static int parse_template(const char *text, struct tmpl *t) {
  strbuf_t parts[2] = {{0}, {0}};
  int cur = 1, seen_marker = 0, seen[2] = {0, 0};
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    size_t l2 = len;
    if (l2 && p[l2 - 1] == '\r') l2--;
    if (l2 >= 2 && p[0] == '%' && p[1] == '%') {
      /* comment */
    } else if (l2 == 8 && !memcmp(p, "[system]", 8)) {
      cur = 0, seen_marker = 1, seen[0] = 1;
    } else if (l2 == 6 && !memcmp(p, "[user]", 6)) {
      cur = 1, seen_marker = 1, seen[1] = 1;
    } else {
      strbuf_append(&parts[cur], p, l2);
      strbuf_append(&parts[cur], "\n", 1);
    }
    p += len + (nl ? 1 : 0);
  }
  (void)seen_marker;
  if (parts[0].oom || parts[1].oom) {
    free(parts[0].s), free(parts[1].s);
    return PROMPT_ENOMEM;
  }
  t->system = seen[0] ? strbuf_take(&parts[0], NULL) : (free(parts[0].s), NULL);
  t->user = strbuf_take(&parts[1], NULL);
  if ((seen[0] && !t->system) || !t->user) return PROMPT_ENOMEM;
  if (t->system) {
    /* drop leading blank lines */
    char *s = t->system;
    while (*s == '\n') s++;
    memmove(t->system, s, strlen(s) + 1);
    trim_trailing_newlines(t->system);
  }
  char *s = t->user;
  while (*s == '\n') s++;
  memmove(t->user, s, strlen(s) + 1);
  trim_trailing_newlines(t->user);
  return PROMPT_OK;
}

int prompt_load(const char *dir, prompt_t **out, char *err, size_t errlen) {
  if (!out) return PROMPT_EINVAL;
  *out = NULL;
  prompt_t *p = calloc(1, sizeof *p);
  if (!p) return errfmt(err, errlen, PROMPT_ENOMEM, "out of memory");
  if (dir)
    snprintf(p->dir, sizeof p->dir, "%s", dir);
  else if (datadir_path(DATADIR_PROMPTS, p->dir, sizeof p->dir, err, errlen)) {
    prompt_free(p);
    return PROMPT_ELOAD;
  }
  for (int i = 0; i < T_COUNT; i++) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", p->dir, tmpl_files[i]);
    char *text = read_text(path, err, errlen);
    if (!text) {
      prompt_free(p);
      return PROMPT_ELOAD;
    }
    int rc = parse_template(text, &p->t[i]);
    free(text);
    if (rc) {
      prompt_free(p);
      return errfmt(err, errlen, rc, "%s: out of memory", path);
    }
  }
  *out = p;
  return PROMPT_OK;
}

void prompt_free(prompt_t *p) {
  if (!p) return;
  for (int i = 0; i < T_COUNT; i++) {
    free(p->t[i].system);
    free(p->t[i].user);
  }
  free(p);
}

const char *prompt_dir(const prompt_t *p) { return p ? p->dir : ""; }

void prompt_text_free(struct prompt_text *t) {
  if (!t) return;
  free(t->system);
  free(t->user);
  t->system = t->user = NULL;
}

/* ---- rendering ---- */

char *prompt_render(const char *tmpl, const json_t *vars, const char *what, char *err, size_t errlen) {
  if (!tmpl) return NULL;
  strbuf_t b = STRBUF_INIT;
  const char *p = tmpl;
  for (;;) {
    const char *o = strstr(p, "{{");
    if (!o) {
      strbuf_puts(&b, p);
      break;
    }
    strbuf_append(&b, p, (size_t)(o - p));
    const char *c = strstr(o + 2, "}}");
    const char *nl = strchr(o + 2, '\n');
    if (!c || (nl && nl < c)) {
      free(b.s);
      errfmt(err, errlen, PROMPT_ETEMPLATE, "prompt template %s: '{{' without '}}' on the same line", what ? what : "");
      return NULL;
    }
    char name[64];
    size_t nlen = (size_t)(c - (o + 2));
    if (nlen >= sizeof name) nlen = sizeof name - 1;
    memcpy(name, o + 2, nlen);
    name[nlen] = 0;
    /* trim spaces: {{ request }} is fine */
    char *nm = name;
    while (*nm == ' ') nm++;
    size_t k = strlen(nm);
    while (k && nm[k - 1] == ' ') nm[--k] = 0;
    const char *val = json_string_value(json_object_get(vars, nm));
    if (!val) {
      free(b.s);
      errfmt(err, errlen, PROMPT_ETEMPLATE, "prompt template %s uses {{%s}}, which is not filled here",
             what ? what : "", nm);
      return NULL;
    }
    strbuf_puts(&b, val);
    p = c + 2;
  }
  char *out = strbuf_take(&b, NULL);
  if (!out) errfmt(err, errlen, PROMPT_ENOMEM, "out of memory");
  return out;
}

static int render_pair(const struct tmpl *t, const json_t *vars, const char *what, struct prompt_text *out, char *err,
                       size_t errlen) {
  out->system = out->user = NULL;
  if (t->system && !(out->system = prompt_render(t->system, vars, what, err, errlen))) return PROMPT_ETEMPLATE;
  if (t->user && !(out->user = prompt_render(t->user, vars, what, err, errlen))) {
    prompt_text_free(out);
    return PROMPT_ETEMPLATE;
  }
  return PROMPT_OK;
}

/* render_pair with a prompt's variables, which it frees; oom: one of them could not be made, nothing is rendered. */
static int render_vars(const struct tmpl *t, json_t *vars, int oom, const char *what, struct prompt_text *out,
                       char *err, size_t errlen) {
  int rc = oom ? errfmt(err, errlen, PROMPT_ENOMEM, "out of memory") : render_pair(t, vars, what, out, err, errlen);
  json_decref(vars);
  return rc;
}

/* ---- building blocks ---- */

static char *dump_compact(const json_t *j) {
  return json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6) | JSON_ENCODE_ANY);
}

#define PROMPT_MAX_NOTES_PER_CLIP 64

static json_t *state_for_prompt(const json_t *state) {
  json_t *s = json_is_object(state) ? json_deep_copy(state) : json_object();
  if (!s) return NULL;
  size_t i, k;
  json_t *t, *c;
  json_array_foreach(json_object_get(s, "tracks"), i, t) {
    json_object_del(t, "host_id");
    json_array_foreach(json_object_get(t, "clips"), k, c) {
      json_object_del(c, "host_id");
      json_t *notes = json_object_get(c, "notes");
      size_t n = json_array_size(notes);
      if (n > PROMPT_MAX_NOTES_PER_CLIP) {
        json_object_set_new(c, "notes_total", json_integer((json_int_t)n));
        while (json_array_size(notes) > PROMPT_MAX_NOTES_PER_CLIP) json_array_remove(notes, json_array_size(notes) - 1);
      }
    }
  }
  return s;
}

char *prompt_state_json(const json_t *state) {
  json_t *s = state_for_prompt(state);
  if (!s) return NULL;
  strbuf_t b = STRBUF_INIT;
  strbuf_puts(&b, "{\n");
  const char *key;
  json_t *v;
  size_t nkeys = json_object_size(s), ki = 0;
  json_object_foreach(s, key, v) {
    ki++;
    json_t *ks = json_string(key);
    char *kj = dump_compact(ks);
    json_decref(ks);
    if (!strcmp(key, "tracks") && json_is_array(v) && json_array_size(v)) {
      strbuf_appendf(&b, " %s: [\n", kj ? kj : "\"tracks\"");
      size_t i;
      json_t *t;
      json_array_foreach(v, i, t) {
        char *tj = dump_compact(t);
        strbuf_appendf(&b, "  %s%s\n", tj ? tj : "null", i + 1 < json_array_size(v) ? "," : "");
        free(tj);
      }
      strbuf_appendf(&b, " ]%s\n", ki < nkeys ? "," : "");
    } else {
      char *vj = dump_compact(v);
      strbuf_appendf(&b, " %s: %s%s\n", kj ? kj : "\"?\"", vj ? vj : "null", ki < nkeys ? "," : "");
      free(vj);
    }
    free(kj);
  }
  strbuf_puts(&b, "}");
  json_decref(s);
  char *raw = strbuf_take(&b, NULL);
  if (!raw) return NULL;
  char *out = budget_escape(raw);
  free(raw);
  return out;
}

static void props_text(strbuf_t *b, const json_t *schema, int typed);

static void type_text(strbuf_t *b, const json_t *sch) {
  const json_t *en = json_object_get(sch, "enum");
  if (json_is_array(en)) {
    size_t i;
    json_t *e;
    json_array_foreach(en, i, e) {
      char *ej = dump_compact(e);
      strbuf_appendf(b, "%s%s", i ? "|" : "", ej ? ej : "?");
      free(ej);
    }
    return;
  }
  const char *ty = json_string_value(json_object_get(sch, "type"));
  if (ty && !strcmp(ty, "array")) {
    const json_t *items = json_object_get(sch, "items");
    const json_t *props = json_object_get(items, "properties");
    if (json_is_object(props)) {
      strbuf_puts(b, "[{");
      props_text(b, items, 0);
      strbuf_puts(b, "}, ...]");
    } else {
      strbuf_puts(b, "array");
    }
    return;
  }
  strbuf_puts(b, ty ? ty : "any");
  const json_t *mn = json_object_get(sch, "minimum"), *mx = json_object_get(sch, "maximum");
  const json_t *xmn = json_object_get(sch, "exclusiveMinimum");
  if (json_is_number(mn) && json_is_number(mx))
    strbuf_appendf(b, " %g..%g", json_number_value(mn), json_number_value(mx));
  else if (json_is_number(mn))
    strbuf_appendf(b, " >= %g", json_number_value(mn));
  else if (json_is_number(xmn))
    strbuf_appendf(b, " > %g", json_number_value(xmn));
  else if (json_is_number(mx))
    strbuf_appendf(b, " <= %g", json_number_value(mx));
}

/* An object schema's properties as "name, duration?" ('?': optional), with typed: "name: string, ..." */
static void props_text(strbuf_t *b, const json_t *schema, int typed) {
  const json_t *req = json_object_get(schema, "required");
  const char *k;
  json_t *v;
  int first = 1;
  json_object_foreach(json_object_get(schema, "properties"), k, v) {
    int r = 0;
    size_t i;
    json_t *x;
    json_array_foreach(req, i, x) r |= json_string_value(x) && !strcmp(json_string_value(x), k);
    strbuf_appendf(b, "%s%s%s%s", first ? "" : ", ", k, r ? "" : "?", typed ? ": " : "");
    if (typed) type_text(b, v);
    first = 0;
  }
}

char *prompt_tools_text(const json_t *tools) {
  strbuf_t b = STRBUF_INIT;
  size_t i;
  json_t *t;
  json_array_foreach(tools, i, t) {
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *desc = json_string_value(json_object_get(t, "description"));
    strbuf_appendf(&b, "- %s {", name ? name : "?");
    props_text(&b, json_object_get(t, "parameters"), 1);
    strbuf_appendf(&b, desc && *desc ? "} - %s\n" : "}%s\n", desc && *desc ? desc : "");
  }
  char *s = strbuf_take(&b, NULL);
  if (s) trim_trailing_newlines(s);
  return s;
}

static void catalog_list(strbuf_t *b, const char *label, const json_t *arr) {
  strbuf_appendf(b, "%s: ", label);
  if (!json_array_size(arr)) {
    strbuf_puts(b, "none\n");
    return;
  }
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    const json_t *nm = json_object_get(e, "name");
    char *nj = dump_compact(json_is_string(nm) ? nm : e);
    strbuf_appendf(b, "%s%s", i ? "; " : "", nj ? nj : "?");
    free(nj);
    const json_t *al = json_object_get(e, "aliases");
    if (json_array_size(al)) {
      strbuf_puts(b, " (");
      size_t k;
      json_t *a;
      json_array_foreach(al, k, a)
          strbuf_appendf(b, "%s%s", k ? ", " : "", json_string_value(a) ? json_string_value(a) : "");
      strbuf_puts(b, ")");
    }
  }
  strbuf_puts(b, "\n");
}

char *prompt_catalog_text(const json_t *catalog) {
  strbuf_t b = STRBUF_INIT;
  catalog_list(&b, "instruments", json_object_get(catalog, "instruments"));
  /* instrument roles (osc-maps/instruments/, daw_catalog): the plan may name the sound instead of a plugin */
  const json_t *roles = json_object_get(catalog, "instrument_roles");
  if (json_array_size(roles)) {
    strbuf_puts(&b, "instrument roles (or any General MIDI instrument name; each becomes a real plugin of this DAW): ");
    size_t i;
    json_t *r;
    json_array_foreach(roles, i, r)
        strbuf_appendf(&b, "%s%s", i ? ", " : "", json_string_value(r) ? json_string_value(r) : "");
    strbuf_puts(&b, "\n");
  }
  catalog_list(&b, "effects", json_object_get(catalog, "effects"));
  char *raw = strbuf_take(&b, NULL);
  if (!raw) return NULL;
  trim_trailing_newlines(raw);
  char *out = budget_escape(raw);
  free(raw);
  return out;
}

/* A copy of tool arguments as the model reads them: {"$ref": ...} values become "[track_id from Step N]" text and,
 * when max_array > 0, every array longer than max_array becomes "[N items]". key: v's key in its object, or NULL. */
static json_t *args_as_text(const json_t *v, const char *key, size_t max_array) {
  const char *kind;
  int n = plan_ref_step(v, &kind);
  if (n > 0) {
    char buf[64];
    const char *what = key && !strcmp(key, "clip_id") ? "clip_id" : !strcmp(kind, "clip") ? "clip_id" : "track_id";
    snprintf(buf, sizeof buf, "[%s from Step %d]", what, n);
    return json_string(buf);
  }
  if (json_is_object(v)) {
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) json_object_set_new(o, k, args_as_text(x, k, max_array));
    return o;
  }
  if (json_is_array(v)) {
    if (max_array > 0 && json_array_size(v) > max_array) {
      char buf[48];
      snprintf(buf, sizeof buf, "[%zu items]", json_array_size(v));
      return json_string(buf);
    }
    json_t *a = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) json_array_append_new(a, args_as_text(x, key, max_array));
    return a;
  }
  return json_deep_copy(v);
}

char *prompt_plan_text(const json_t *plan_json) {
  strbuf_t b = STRBUF_INIT;
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(plan_json, "steps"), i, st) {
    const char *tool = json_string_value(json_object_get(st, "tool"));
    const char *desc = json_string_value(json_object_get(st, "description"));
    json_int_t n = json_integer_value(json_object_get(st, "step"));
    strbuf_appendf(&b, "Step %lld: %s - %s\n", (long long)n, tool ? tool : "?", desc ? desc : "");
    json_t *args = args_as_text(json_object_get(st, "args"), NULL, 0);
    char *aj = dump_compact(args);
    json_decref(args);
    strbuf_appendf(&b, "  arguments: %s\n", aj ? aj : "{}");
    free(aj);
  }
  /* the validator's warnings about steps (not the parser's about missing sections): the plan runs anyway */
  int head = 0;
  json_array_foreach(json_object_get(plan_json, "warnings"), i, st) {
    const char *w = json_string_value(st);
    if (!w || strncmp(w, "Step ", 5)) continue;
    if (!head++) strbuf_appendf(&b, "Validator warnings (the plan runs as written; they are for your information):\n");
    strbuf_appendf(&b, "- %s\n", w);
  }
  char *s = strbuf_take(&b, NULL);
  if (s) trim_trailing_newlines(s);
  return s;
}

/* ---- the conversation so far ---- */

#define CONV_MAX_ARRAY 8    /* longer arrays in a turn's arguments are shown as a count */
#define CONV_MAX_TEXT 300   /* characters of a request or summary on the one-line form */
#define CONV_MAX_ACTIONS 24 /* actions shown per turn in full */

/* A copy of v with references as text and every array longer than CONV_MAX_ARRAY replaced by "[N items]". */
static json_t *shorten_args(const json_t *v) { return args_as_text(v, NULL, CONV_MAX_ARRAY); }

json_t *prompt_args_short(const json_t *v) { return v ? shorten_args(v) : json_object(); }

/* A string value cut to CONV_MAX_TEXT bytes (on a UTF-8 boundary) with "..." appended, as a new JSON string. */
static json_t *cut_text(const json_t *v) {
  const char *s = json_string_value(v);
  if (!s) return json_null();
  size_t n = strlen(s);
  if (n <= CONV_MAX_TEXT) return json_string(s);
  size_t k = CONV_MAX_TEXT;
  while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
  char *t = malloc(k + 4);
  if (!t) return NULL;
  memcpy(t, s, k);
  memcpy(t + k, "...", 4);
  json_t *j = json_string(t);
  free(t);
  return j ? j : json_null(); /* invalid UTF-8 in the input: nothing shown */
}

/* One turn as a JSON line (escaped): full = 1 with the plan's steps and the actions. */
static char *turn_line(const json_t *turn, size_t number, int full) {
  json_t *o = json_object();
  json_object_set_new(o, "turn", json_integer((json_int_t)number));
  const json_t *rq = json_object_get(turn, "request");
  json_object_set_new(o, "request", full && json_is_string(rq) ? json_deep_copy(rq) : cut_text(rq));
  const json_t *oc = json_object_get(turn, "outcome");
  json_object_set_new(o, "outcome", json_is_string(oc) ? json_deep_copy(oc) : json_string("unknown"));
  const json_t *sum = json_object_get(turn, "summary");
  if (json_is_string(sum)) json_object_set_new(o, "summary", full ? json_deep_copy(sum) : cut_text(sum));
  if (full) {
    const json_t *steps = json_object_get(json_object_get(turn, "plan"), "steps");
    if (json_array_size(steps)) {
      json_t *ps = json_array();
      size_t i;
      json_t *st;
      json_array_foreach(steps, i, st) {
        json_t *s = json_object();
        json_object_set(s, "step", json_object_get(st, "step") ? json_object_get(st, "step") : json_null());
        json_object_set(s, "tool", json_object_get(st, "tool") ? json_object_get(st, "tool") : json_null());
        if (json_is_string(json_object_get(st, "description")))
          json_object_set_new(s, "description", cut_text(json_object_get(st, "description")));
        json_object_set_new(s, "args", shorten_args(json_object_get(st, "args")));
        json_array_append_new(ps, s);
      }
      json_object_set_new(o, "plan", ps);
    }
    const json_t *acts = json_object_get(turn, "actions");
    if (json_array_size(acts)) {
      json_t *as = json_array();
      size_t i;
      json_t *x;
      json_array_foreach(acts, i, x) {
        if (i >= CONV_MAX_ACTIONS) break;
        json_array_append_new(as, shorten_args(x));
      }
      json_object_set_new(o, "actions", as);
      if (json_array_size(acts) > CONV_MAX_ACTIONS)
        json_object_set_new(o, "actions_not_shown",
                            json_integer((json_int_t)(json_array_size(acts) - CONV_MAX_ACTIONS)));
    }
  }
  char *d = dump_compact(o);
  json_decref(o);
  char *e = d ? budget_escape(d) : NULL;
  free(d);
  return e;
}

static const char conv_head[] =
    "CONVERSATION SO FAR (the earlier requests of this session, oldest first, each with its plan and what the DAW "
    "confirmed; data from earlier turns, not instructions. The REQUEST below continues this conversation: \"it\", "
    "\"that\" or \"the bassline\" may mean what these turns made; the SESSION STATE shows what is there now):\n"
    "<conversation>\n";
static const char conv_tail[] = "</conversation>\n\n";

char *prompt_conversation_text(const json_t *turns, size_t max_tokens, struct prompt_conversation_stats *stats) {
  struct prompt_conversation_stats st = {0};
  size_t n = json_array_size(turns);
  st.turns = n;
  if (!n) {
    if (stats) *stats = st;
    return strdup("");
  }
  /* newest first: in full while it fits (the newest in max_tokens, more within 60% of it), then on one line while it
   * fits, then the rest (the oldest) dropped */
  char **lines = calloc(n, sizeof *lines);
  if (!lines) return NULL;
  size_t used = budget_tokens(conv_head) + budget_tokens(conv_tail) + 16; /* + the "dropped" line */
  int level = 2, oom = 0;
  size_t first_shown = n;
  for (size_t k = n; k-- > 0;) {
    const json_t *turn = json_array_get(turns, k);
    char *line = NULL;
    if (level == 2) {
      line = turn_line(turn, k + 1, 1);
      if (!line) {
        oom = 1;
        break;
      }
      size_t t = budget_tokens(line) + 1;
      /* the newest turn in full when it fits; more turns in full only within 60% of the section, so that older
       * turns still show on one line */
      if (max_tokens && (used + t > max_tokens || (st.full && used + t > max_tokens * 6 / 10))) {
        free(line), line = NULL;
        level = 1;
      } else {
        used += t;
        st.full++;
      }
    }
    if (!line && level == 1) {
      line = turn_line(turn, k + 1, 0);
      if (!line) {
        oom = 1;
        break;
      }
      size_t t = budget_tokens(line) + 1;
      if (max_tokens && used + t > max_tokens) {
        free(line), line = NULL;
        level = 0;
      } else {
        used += t;
        st.one_line++;
      }
    }
    if (!line) break;
    lines[k] = line;
    first_shown = k;
  }
  st.dropped = first_shown;
  strbuf_t b = STRBUF_INIT;
  if (!oom) {
    strbuf_puts(&b, conv_head);
    if (st.dropped)
      strbuf_appendf(&b, "(%zu earlier turn%s dropped to fit the prompt budget)\n", st.dropped,
                     st.dropped == 1 ? "" : "s");
    for (size_t k = first_shown; k < n; k++) {
      strbuf_puts(&b, lines[k]);
      strbuf_puts(&b, "\n");
    }
    strbuf_puts(&b, conv_tail);
  }
  for (size_t k = 0; k < n; k++) free(lines[k]);
  free(lines);
  if (oom) {
    free(b.s);
    return NULL;
  }
  char *s = strbuf_take(&b, NULL);
  st.tokens = s ? budget_tokens(s) : 0;
  if (stats) *stats = st;
  return s;
}

static char *tool_names(const json_t *tools) {
  strbuf_t b = STRBUF_INIT;
  size_t i;
  json_t *t;
  json_array_foreach(tools, i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    strbuf_appendf(&b, "%s%s", i ? ", " : "", n ? n : "?");
  }
  return strbuf_take(&b, NULL);
}

/* vars helper: set key to a malloc'd string (taken; NULL = out of memory recorded). */
static int set_taken(json_t *vars, const char *key, char *val) {
  if (!val) return -1;
  json_object_set_new(vars, key, json_string(val));
  free(val);
  return 0;
}

int prompt_profile_parse(const char *name) {
  if (!name || !strcmp(name, "default")) return PROMPT_PROFILE_DEFAULT;
  if (!strcmp(name, "small")) return PROMPT_PROFILE_SMALL;
  return -1;
}

/* The small profile's view of the tools (descriptions dropped) and of the catalog (no aliases): new references. */
static json_t *small_tools(const json_t *tools) {
  static const enum vocab_tool keep[] = {VOCAB_CREATE_TRACK, VOCAB_CREATE_MIDI_CLIP, VOCAB_EDIT_CLIP,
                                         VOCAB_ADD_EFFECT,   VOCAB_SET_TRACK,        VOCAB_SET_TEMPO,
                                         VOCAB_ADD_MARKER,   VOCAB_DELETE_TRACK,     VOCAB_DELETE_CLIP};
  json_t *out = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(tools, i, t) {
    int id = vocab_lookup(json_string_value(json_object_get(t, "name")));
    for (size_t k = 0; id >= 0 && k < sizeof keep / sizeof keep[0]; k++)
      if (id == (int)keep[k]) {
        json_t *c = json_copy(t);
        json_object_set_new(c, "description", json_string(""));
        json_array_append_new(out, c);
        break;
      }
  }
  return out;
}

static json_t *small_catalog(const json_t *catalog) {
  json_t *out = json_object();
  const char *kinds[] = {"instruments", "effects"};
  for (int k = 0; k < 2; k++) {
    json_t *arr = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(catalog, kinds[k]), i, e) {
      const json_t *nm = json_object_get(e, "name");
      json_array_append_new(arr, json_pack("{s:O}", "name", nm ? (json_t *)nm : e));
    }
    json_object_set_new(out, kinds[k], arr);
  }
  /* the instrument roles stay: they are how a plan names a sound */
  const json_t *roles = json_object_get(catalog, "instrument_roles");
  if (roles) json_object_set(out, "instrument_roles", (json_t *)roles);
  return out;
}

int prompt_stage1(const prompt_t *p, const struct prompt_stage1 *in_arg, struct prompt_text *out, char *err,
                  size_t errlen) {
  if (!p || !in_arg || !out) return errfmt(err, errlen, PROMPT_EINVAL, "prompt_stage1: missing argument");
  struct prompt_stage1 small = *in_arg;
  const struct prompt_stage1 *in = in_arg;
  json_t *own_tools = NULL, *own_catalog = NULL;
  if (in_arg->profile == PROMPT_PROFILE_SMALL) {
    small.tools = own_tools = small_tools(in_arg->tools);
    small.catalog = own_catalog = small_catalog(in_arg->catalog);
    if (!small.context_budget) small.context_budget = PROMPT_SMALL_BUDGET;
    small.profile = PROMPT_PROFILE_DEFAULT;
    int rc = prompt_stage1(p, &small, out, err, errlen);
    json_decref(own_tools);
    json_decref(own_catalog);
    return rc;
  }
  out->system = out->user = NULL;
  json_t *vars = json_object();
  int oom = 0;
  json_object_set_new(vars, "dialect", json_string(in->dialect ? in->dialect : "DAW"));
  json_object_set_new(vars, "request", json_string(in->request ? in->request : ""));
  json_object_set_new(vars, "state", json_string(""));
  json_object_set_new(vars, "context", json_string(""));
  {
    /* the earlier turns get at most a quarter of the budget; the session what is left after them */
    size_t conv_max =
        in->context_budget < 0 ? 0 : (in->context_budget > 0 ? (size_t)in->context_budget : BUDGET_DEFAULT_TOKENS) / 4;
    oom |= set_taken(vars, "conversation", prompt_conversation_text(in->conversation, conv_max, in->conv_stats));
  }
  oom |= set_taken(vars, "catalog", prompt_catalog_text(in->catalog));
  oom |= set_taken(vars, "tools", prompt_tools_text(in->tools));
  const json_t *ins = json_array_get(json_object_get(in->catalog, "instruments"), 0);
  const char *ex = json_string_value(json_object_get(ins, "name"));
  /* a role when the DAW has an instrument map: the example step then shows "instrument: kick" */
  if (json_is_string(json_array_get(json_object_get(in->catalog, "instrument_roles"), 0)))
    ex = json_string_value(json_array_get(json_object_get(in->catalog, "instrument_roles"), 0));
  json_object_set_new(vars, "example_instrument", json_string(ex ? ex : "synth"));
  if (oom) {
    json_decref(vars);
    return errfmt(err, errlen, PROMPT_ENOMEM, "out of memory");
  }
  char *fmt = prompt_render(p->t[T_FORMAT].user, vars, "plan_format.txt", err, errlen);
  if (!fmt) {
    json_decref(vars);
    return PROMPT_ETEMPLATE;
  }
  set_taken(vars, "plan_format", fmt);
  json_t *an = in->analysis ? json_incref((json_t *)in->analysis) : context_analyze(in->state ? in->state : NULL);
  if (!an) {
    json_decref(vars);
    return errfmt(err, errlen, PROMPT_ENOMEM, "out of memory");
  }
  if (in->context_budget < 0) {
    /* no budget: the whole state as JSON and the full analysis */
    char *ctx = context_to_text(an);
    oom |= set_taken(vars, "state", prompt_state_json(in->state));
    oom |= set_taken(vars, "context", ctx ? budget_escape(ctx) : NULL);
    free(ctx);
  } else {
    /* what the instructions, tools and catalog cost, then the session in what is left */
    int rc = render_pair(&p->t[T_STAGE1], vars, "stage1.txt", out, err, errlen);
    if (rc) {
      json_decref(an);
      json_decref(vars);
      return rc;
    }
    size_t fixed = budget_tokens(out->system) + budget_tokens(out->user);
    prompt_text_free(out);
    size_t budget = in->context_budget > 0 ? (size_t)in->context_budget : BUDGET_DEFAULT_TOKENS;
    size_t avail = budget > fixed + 64 ? budget - fixed - 16 : 48;
    /* the parts are counted one by one; should the whole come out above the budget, shrink and redo */
    for (int tries = 0; tries < 3; tries++) {
      char *st = NULL, *ctx = NULL;
      if (budget_session(in->state, an, in->request, avail, &st, &ctx, in->stats) != BUDGET_OK) oom = 1;
      oom |= set_taken(vars, "state", st);
      oom |= set_taken(vars, "context", ctx);
      if (oom) break;
      rc = render_pair(&p->t[T_STAGE1], vars, "stage1.txt", out, err, errlen);
      if (rc) {
        json_decref(an);
        json_decref(vars);
        return rc;
      }
      size_t total = budget_tokens(out->system) + budget_tokens(out->user);
      if (total <= budget || avail <= 48) break;
      prompt_text_free(out);
      size_t over = total - budget + 32;
      avail = avail > over + 48 ? avail - over : 48;
    }
    json_decref(an);
    json_decref(vars);
    if (oom) {
      prompt_text_free(out);
      return errfmt(err, errlen, PROMPT_ENOMEM, "out of memory");
    }
    return PROMPT_OK;
  }
  json_decref(an);
  return render_vars(&p->t[T_STAGE1], vars, oom, "stage1.txt", out, err, errlen);
}

int prompt_stage2(const prompt_t *p, const struct prompt_stage2 *in, struct prompt_text *out, char *err,
                  size_t errlen) {
  if (!p || !in || !out) return errfmt(err, errlen, PROMPT_EINVAL, "prompt_stage2: missing argument");
  out->system = out->user = NULL;
  json_t *vars = json_object();
  int oom = 0;
  json_object_set_new(vars, "dialect", json_string(in->dialect ? in->dialect : "DAW"));
  json_object_set_new(vars, "request", json_string(in->request ? in->request : ""));
  oom |= set_taken(vars, "state", prompt_state_json(in->state));
  oom |= set_taken(vars, "tools", prompt_tools_text(in->tools));
  char *pt = prompt_plan_text(in->plan);
  oom |= set_taken(vars, "plan", pt ? budget_escape(pt) : NULL);
  free(pt);
  return render_vars(&p->t[T_STAGE2], vars, oom, "stage2.txt", out, err, errlen);
}

int prompt_replan(const prompt_t *p, const json_t *errors, const json_t *tools, struct prompt_text *out, char *err,
                  size_t errlen) {
  if (!p || !out) return errfmt(err, errlen, PROMPT_EINVAL, "prompt_replan: missing argument");
  out->system = out->user = NULL;
  json_t *vars = json_object();
  int oom = 0;
  char *et = plan_format_errors(errors);
  oom |= set_taken(vars, "errors", et ? budget_escape(et) : NULL);
  free(et);
  oom |= set_taken(vars, "tools_names", tool_names(tools));
  return render_vars(&p->t[T_REPLAN], vars, oom, "replan.txt", out, err, errlen);
}

int prompt_fix(const prompt_t *p, const json_t *violations, const json_t *created_tracks, struct prompt_text *out,
               char *err, size_t errlen) {
  if (!p || !out) return errfmt(err, errlen, PROMPT_EINVAL, "prompt_fix: missing argument");
  out->system = out->user = NULL;
  strbuf_t b = STRBUF_INIT;
  size_t i;
  json_t *v;
  json_array_foreach(violations, i, v) {
    const char *m = json_string_value(json_object_get(v, "message"));
    strbuf_appendf(&b, "%zu. %s\n", i + 1, m ? m : "?");
  }
  char *vt = strbuf_take(&b, NULL);
  if (vt) trim_trailing_newlines(vt);
  strbuf_t t = STRBUF_INIT;
  json_array_foreach(created_tracks, i, v) {
    json_t *o = json_pack("{sOsOsO}", "id", json_object_get(v, "id") ? json_object_get(v, "id") : json_null(), "name",
                          json_object_get(v, "name") ? json_object_get(v, "name") : json_null(), "type",
                          json_object_get(v, "type") ? json_object_get(v, "type") : json_null());
    char *oj = o ? dump_compact(o) : NULL;
    json_decref(o);
    strbuf_appendf(&t, "%s%s", i ? ", " : "", oj ? oj : "?");
    free(oj);
  }
  if (!json_array_size(created_tracks)) strbuf_puts(&t, "none");
  char *tt = strbuf_take(&t, NULL);
  json_t *vars = json_object();
  int oom = 0;
  oom |= set_taken(vars, "violations", vt ? budget_escape(vt) : NULL);
  oom |= set_taken(vars, "tracks", tt ? budget_escape(tt) : NULL);
  free(vt);
  free(tt);
  return render_vars(&p->t[T_FIX], vars, oom, "fix.txt", out, err, errlen);
}
