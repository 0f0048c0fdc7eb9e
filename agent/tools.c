/* tools: catalog and argument checks. See tools.h. */
#include "tools.h"
#include "errfmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tools {
  json_t *root;
  json_t *list; /* borrowed from root */
};

const char *tools_strerror(int code) {
  switch (code) {
  case TOOLS_OK: return "ok";
  case TOOLS_EUNKNOWN: return "unknown tool";
  case TOOLS_EARGS: return "invalid arguments";
  case TOOLS_ENOTRACK: return "unknown track or clip";
  case TOOLS_ELOAD: return "cannot load the tool catalog";
  case TOOLS_EUNSUPPORTED: return "not supported by the connected DAW";
  default: return "unknown tools error";
  }
}

int tools_load(const char *path, tools_t **out, char *err, size_t errlen) {
  *out = NULL;
  char buf[1024];
  if (!path) {
    const char *sd = getenv("DAWBRIDGE_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/agent/tools.json", sd ? sd : DAWBRIDGE_SOURCE_DIR);
    path = buf;
  }
  json_error_t je;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!root) return errfmt(err, errlen, TOOLS_ELOAD, "%s:%d: %s", path, je.line, je.text);
  json_t *list = json_object_get(root, "tools");
  size_t i;
  json_t *t;
  if (!json_is_array(list)) {
    json_decref(root);
    return errfmt(err, errlen, TOOLS_ELOAD, "%s: \"tools\" must be an array", path);
  }
  json_array_foreach(list, i, t) {
    if (!json_is_string(json_object_get(t, "name")) || !json_is_object(json_object_get(t, "parameters"))) {
      json_decref(root);
      return errfmt(err, errlen, TOOLS_ELOAD, "%s: tools[%zu] needs a name and parameters", path, i);
    }
  }
  tools_t *tt = calloc(1, sizeof *tt);
  tt->root = root;
  tt->list = list;
  *out = tt;
  return 0;
}

void tools_free(tools_t *t) {
  if (!t) return;
  json_decref(t->root);
  free(t);
}

const json_t *tools_catalog(const tools_t *t) { return t->list; }

const json_t *tools_get(const tools_t *t, const char *name) {
  size_t i;
  json_t *x;
  json_array_foreach(t->list, i, x) {
    if (name && !strcmp(json_string_value(json_object_get(x, "name")), name)) return x;
  }
  return NULL;
}

const char *tools_kind(const tools_t *t, const char *name) {
  return json_string_value(json_object_get(tools_get(t, name), "kind"));
}

int tools_is_read(const tools_t *t, const char *name) {
  const char *k = tools_kind(t, name);
  return k && !strcmp(k, "read");
}

json_t *tools_subset(const tools_t *t, const json_t *names) {
  json_t *out = json_array();
  size_t i;
  json_t *x;
  json_array_foreach(t->list, i, x) {
    const char *n = json_string_value(json_object_get(x, "name"));
    size_t k;
    json_t *v;
    json_array_foreach(names, k, v) {
      if (!strcmp(json_string_value(v) ? json_string_value(v) : "", n)) {
        json_array_append(out, x);
        break;
      }
    }
  }
  return out;
}

static size_t lev(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 99;
  size_t d[65][65];
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      size_t x = d[i - 1][j] + 1, y = d[i][j - 1] + 1;
      d[i][j] = c < x ? (c < y ? c : y) : (x < y ? x : y);
    }
  return d[la][lb];
}

const char *tools_suggest(const tools_t *t, const char *name) {
  const char *best = NULL;
  size_t bd = 99;
  size_t i;
  json_t *x;
  json_array_foreach(t->list, i, x) {
    const char *n = json_string_value(json_object_get(x, "name"));
    size_t d = lev(name, n);
    if (strstr(n, name) || strstr(name, n)) d = d > 2 ? 2 : d;
    if (d < bd) {
      bd = d;
      best = n;
    }
  }
  return bd <= 4 ? best : NULL;
}

static const char *type_of(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* A JSON-schema subset: enough for the catalog, strict about what it does check. */
static int check_value(const json_t *schema, const json_t *v, const char *where, char *err, size_t errlen) {
  const char *type = json_string_value(json_object_get(schema, "type"));
  if (type) {
    int ok = (!strcmp(type, "object") && json_is_object(v)) || (!strcmp(type, "array") && json_is_array(v)) ||
             (!strcmp(type, "string") && json_is_string(v)) || (!strcmp(type, "boolean") && json_is_boolean(v)) ||
             (!strcmp(type, "number") && json_is_number(v)) ||
             (!strcmp(type, "integer") && (json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))));
    if (!ok) return errfmt(err, errlen, TOOLS_EARGS, "%s must be %s %s, not %s", where,
                         strchr("aeiou", type[0]) ? "an" : "a", type, type_of(v));
  }
  json_t *en = json_object_get(schema, "enum");
  if (json_is_array(en)) {
    size_t i;
    json_t *e;
    int found = 0;
    json_array_foreach(en, i, e) found |= json_equal(e, (json_t *)v);
    if (!found) {
      char *list = json_dumps(en, JSON_COMPACT);
      int rc = errfmt(err, errlen, TOOLS_EARGS, "%s must be one of %s", where, list ? list : "?");
      free(list);
      return rc;
    }
  }
  if (json_is_number(v)) {
    double d = json_number_value(v);
    if (isnan(d) || isinf(d)) return errfmt(err, errlen, TOOLS_EARGS, "%s is not a finite number", where);
    json_t *mn = json_object_get(schema, "minimum"), *mx = json_object_get(schema, "maximum");
    json_t *xmn = json_object_get(schema, "exclusiveMinimum");
    if (mn && d < json_number_value(mn))
      return errfmt(err, errlen, TOOLS_EARGS, "%s is %g; it must be at least %g", where, d, json_number_value(mn));
    if (xmn && d <= json_number_value(xmn))
      return errfmt(err, errlen, TOOLS_EARGS, "%s is %g; it must be greater than %g", where, d, json_number_value(xmn));
    if (mx && d > json_number_value(mx))
      return errfmt(err, errlen, TOOLS_EARGS, "%s is %g; it must be at most %g", where, d, json_number_value(mx));
  }
  if (json_is_string(v)) {
    size_t n = json_string_length(v);
    json_t *mn = json_object_get(schema, "minLength"), *mx = json_object_get(schema, "maxLength");
    if (mn && n < (size_t)json_integer_value(mn)) return errfmt(err, errlen, TOOLS_EARGS, "%s must not be empty", where);
    if (mx && n > (size_t)json_integer_value(mx))
      return errfmt(err, errlen, TOOLS_EARGS, "%s is longer than %lld characters", where, (long long)json_integer_value(mx));
  }
  if (json_is_array(v)) {
    json_t *mx = json_object_get(schema, "maxItems");
    if (mx && json_array_size(v) > (size_t)json_integer_value(mx))
      return errfmt(err, errlen, TOOLS_EARGS, "%s has %zu items; at most %lld are allowed", where, json_array_size(v),
                  (long long)json_integer_value(mx));
    json_t *items = json_object_get(schema, "items");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
      char w[160];
      snprintf(w, sizeof w, "%s[%zu]", where, i);
      int rc = check_value(items, e, w, err, errlen);
      if (rc) return rc;
    }
  }
  if (json_is_object(v) && json_is_object(json_object_get(schema, "properties"))) {
    json_t *props = json_object_get(schema, "properties");
    json_t *req = json_object_get(schema, "required");
    size_t i;
    json_t *r;
    json_array_foreach(req, i, r) {
      if (!json_object_get(v, json_string_value(r)))
        return errfmt(err, errlen, TOOLS_EARGS, "%s%smissing required argument '%s'", where, *where ? ": " : "",
                    json_string_value(r));
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
      json_t *ps = json_object_get(props, k);
      char w[160];
      snprintf(w, sizeof w, "%s%s%s", where, *where ? "." : "", k);
      if (!ps) {
        if (json_is_false(json_object_get(schema, "additionalProperties"))) {
          char names[256] = "";
          const char *pk;
          json_t *pv;
          json_object_foreach(props, pk, pv) {
            strncat(names, names[0] ? ", " : "", sizeof names - strlen(names) - 1);
            strncat(names, pk, sizeof names - strlen(names) - 1);
          }
          return errfmt(err, errlen, TOOLS_EARGS, "unknown argument '%s' (expected: %s)", w, names);
        }
        continue;
      }
      int rc = check_value(ps, x, w, err, errlen);
      if (rc) return rc;
    }
    json_t *minp = json_object_get(schema, "minProperties");
    if (minp && json_object_size(v) < (size_t)json_integer_value(minp))
      return errfmt(err, errlen, TOOLS_EARGS, "%snothing to change: give at least one setting besides the track", where);
  }
  return 0;
}

int tools_check(const tools_t *t, const char *tool, const json_t *args, const session_t *session, char *err,
                size_t errlen) {
  const json_t *d = tools_get(t, tool);
  if (!d) {
    const char *s = tools_suggest(t, tool ? tool : "");
    return errfmt(err, errlen, TOOLS_EUNKNOWN, "unknown tool '%s'%s%s%s", tool ? tool : "", s ? " (did you mean " : "",
                s ? s : "", s ? "?)" : "");
  }
  if (!json_is_object(args)) return errfmt(err, errlen, TOOLS_EARGS, "%s: arguments must be a JSON object", tool);
  char buf[400];
  int rc = check_value(json_object_get(d, "parameters"), args, "", buf, sizeof buf);
  if (rc) return errfmt(err, errlen, rc, "%s: %s", tool, buf);
  if (session) {
    const char *tr = json_string_value(json_object_get(args, "track_id"));
    if (tr && !session_track_resolve(session, tr))
      return errfmt(err, errlen, TOOLS_ENOTRACK, "%s: unknown track '%s' (known: %d tracks, ids t1...; see get_state)",
                  tool, tr, session_track_count(session));
  }
  return 0;
}
