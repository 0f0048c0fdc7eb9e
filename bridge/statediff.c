/* statediff.c: snapshot diff, readable text, inverse tool calls. See statediff.h. */
#include "statediff.h"
#include "strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPS 1e-6

/* ---------------------------------------------------------------- small JSON helpers */

static const json_t *state_of(const json_t *s) {
  json_t *st = json_object_get(s, "state");
  return json_is_object(st) ? st : s;
}

static double num(const json_t *o, const char *k, double def) {
  json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : def;
}

static const char *str(const json_t *o, const char *k, const char *def) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : def;
}

static int boolean(const json_t *o, const char *k, int def) {
  json_t *v = json_object_get(o, k);
  return json_is_boolean(v) ? json_is_true(v) : def;
}

static json_t *arr(const json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_array(v) ? v : NULL;
}

static int feq(double a, double b) { return fabs(a - b) <= EPS; }

static int str_eq(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

/* Values equal with numbers within eps, in arrays and objects too; the rest exactly. NULL counts as json null. */
static int json_near(const json_t *a, const json_t *b, double eps) {
  if (!a) a = json_null();
  if (!b) b = json_null();
  if (json_is_number(a) && json_is_number(b)) return fabs(json_number_value(a) - json_number_value(b)) <= eps;
  if (json_is_array(a) && json_is_array(b)) {
    if (json_array_size(a) != json_array_size(b)) return 0;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!json_near(json_array_get(a, i), json_array_get(b, i), eps)) return 0;
    return 1;
  }
  if (json_is_object(a) && json_is_object(b)) {
    if (json_object_size(a) != json_object_size(b)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v) {
      if (!json_near(v, json_object_get(b, k), eps)) return 0;
    }
    return 1;
  }
  return json_equal((json_t *)a, (json_t *)b);
}

/* Values compared with a tolerance for numbers (EPS); NULL counts as json null. */
static int jv_equal(const json_t *a, const json_t *b) { return json_near(a, b, EPS); }

/* ---------------------------------------------------------------- properties with defaults */

enum { P_STR, P_STRNULL, P_NUM, P_BOOL };
struct prop {
  const char *key;
  int kind;
  const char *sdef;
};
static const struct prop TRACK_PROPS[] = {
    {"name", P_STR, ""},    {"type", P_STR, "midi"}, {"volume_db", P_NUM, NULL}, {"pan", P_NUM, NULL},
    {"mute", P_BOOL, NULL}, {"solo", P_BOOL, NULL},  {"rec_arm", P_BOOL, NULL},  {"instrument", P_STRNULL, NULL},
};
#define N_TRACK_PROPS (sizeof TRACK_PROPS / sizeof TRACK_PROPS[0])

/* New reference to the property value, default applied. */
static json_t *prop_get(const json_t *o, const struct prop *p) {
  json_t *v = json_object_get(o, p->key);
  switch (p->kind) {
  case P_STR: return json_string(json_is_string(v) ? json_string_value(v) : p->sdef);
  case P_STRNULL: return json_is_string(v) ? json_incref(v) : json_null();
  case P_NUM: return json_real(json_is_number(v) ? json_number_value(v) : 0.0);
  default: return json_boolean(json_is_boolean(v) ? json_is_true(v) : 0);
  }
}

static json_t *loop_get(const json_t *s) {
  json_t *l = json_object_get(s, "loop");
  return json_pack("{s:b, s:f, s:f}", "enabled", boolean(l, "enabled", 0), "start", num(l, "start", 0.0), "end",
                   num(l, "end", 0.0));
}

static json_t *timesig_get(const json_t *s) {
  json_t *t = json_object_get(s, "time_signature");
  json_int_t a = 4, b = 4;
  if (json_is_array(t) && json_array_size(t) == 2 && json_is_integer(json_array_get(t, 0)) &&
      json_is_integer(json_array_get(t, 1))) {
    a = json_integer_value(json_array_get(t, 0));
    b = json_integer_value(json_array_get(t, 1));
  }
  return json_pack("[I, I]", a, b);
}

/* ---------------------------------------------------------------- matching */

typedef int (*same_fn)(const json_t *a, const json_t *b, int pass);

/* Greedy matching in `passes` passes; a2b/b2a receive the partner index or -1. */
static void match(const json_t *A, const json_t *B, int passes, same_fn same, int *a2b, int *b2a) {
  size_t na = json_array_size(A), nb = json_array_size(B);
  for (size_t i = 0; i < na; i++) a2b[i] = -1;
  for (size_t j = 0; j < nb; j++) b2a[j] = -1;
  for (int pass = 0; pass < passes; pass++) {
    for (size_t j = 0; j < nb; j++) {
      if (b2a[j] >= 0) continue;
      for (size_t i = 0; i < na; i++) {
        if (a2b[i] >= 0) continue;
        if (same(json_array_get(A, i), json_array_get(B, j), pass)) {
          a2b[i] = (int)j;
          b2a[j] = (int)i;
          break;
        }
      }
    }
  }
}

static int same_str_key(const json_t *a, const json_t *b, const char *k) {
  const char *x = str(a, k, NULL), *y = str(b, k, NULL);
  return x && y && x[0] && strcmp(x, y) == 0;
}

static int track_same(const json_t *a, const json_t *b, int pass) {
  static const char *const keys[] = {"id", "host_id", "name"};
  return same_str_key(a, b, keys[pass]);
}

static int notes_equal(const json_t *A, const json_t *B);

/* Passes: id, host_id, then start — first among clips at the same start that are identical (length and
 * notes), so that several clips starting together pair up with their look-alikes. */
static int clip_same(const json_t *a, const json_t *b, int pass) {
  if (pass == 0) return same_str_key(a, b, "id");
  if (pass == 1) return same_str_key(a, b, "host_id");
  if (!json_is_number(json_object_get(a, "start")) || !json_is_number(json_object_get(b, "start")) ||
      !feq(num(a, "start", 0), num(b, "start", 0)))
    return 0;
  if (pass == 2)
    return feq(num(a, "length", 0), num(b, "length", 0)) &&
           notes_equal(json_object_get(a, "notes"), json_object_get(b, "notes"));
  return 1;
}

static int marker_same(const json_t *a, const json_t *b, int pass) {
  if (pass == 0) return same_str_key(a, b, "id");
  if (pass == 1)
    return str_eq(str(a, "name", ""), str(b, "name", "")) && feq(num(a, "position", 0), num(b, "position", 0));
  if (pass == 2) return feq(num(a, "position", -1), num(b, "position", -2));
  return same_str_key(a, b, "name");
}

/* Allocates the two index arrays (at least 1 element each) and matches. Returns 0 on OOM. */
static int match_alloc(const json_t *A, const json_t *B, int passes, same_fn same, int **a2b, int **b2a) {
  *a2b = malloc((json_array_size(A) + 1) * sizeof(int));
  *b2a = malloc((json_array_size(B) + 1) * sizeof(int));
  if (!*a2b || !*b2a) {
    free(*a2b);
    free(*b2a);
    return 0;
  }
  match(A, B, passes, same, *a2b, *b2a);
  return 1;
}

/* ---------------------------------------------------------------- notes */

static json_t *note_norm(const json_t *n) {
  return json_pack("{s:I, s:f, s:f, s:I}", "n", json_integer_value(json_object_get(n, "n")), "s", num(n, "s", 0), "d",
                   num(n, "d", 0), "v", json_integer_value(json_object_get(n, "v")));
}

static int note_eq(const json_t *a, const json_t *b) {
  return json_integer_value(json_object_get(a, "n")) == json_integer_value(json_object_get(b, "n")) &&
         json_integer_value(json_object_get(a, "v")) == json_integer_value(json_object_get(b, "v")) &&
         feq(num(a, "s", 0), num(b, "s", 0)) && feq(num(a, "d", 0), num(b, "d", 0));
}

/* Multiset difference: removed = A \ B, added = B \ A (normalized notes, in list order). */
static void notes_diff(const json_t *A, const json_t *B, json_t *removed, json_t *added) {
  size_t na = json_array_size(A), nb = json_array_size(B);
  char *usedb = calloc(nb + 1, 1);
  if (!usedb) return;
  for (size_t i = 0; i < na; i++) {
    json_t *a = json_array_get(A, i);
    size_t j;
    for (j = 0; j < nb; j++)
      if (!usedb[j] && note_eq(a, json_array_get(B, j))) break;
    if (j < nb)
      usedb[j] = 1;
    else
      json_array_append_new(removed, note_norm(a));
  }
  for (size_t j = 0; j < nb; j++)
    if (!usedb[j]) json_array_append_new(added, note_norm(json_array_get(B, j)));
  free(usedb);
}

/* Same multiset of notes. */
static int notes_equal(const json_t *A, const json_t *B) {
  if (json_array_size(A) != json_array_size(B)) return 0;
  json_t *removed = json_array(), *added = json_array();
  notes_diff(A, B, removed, added);
  int eq = json_array_size(removed) == 0 && json_array_size(added) == 0;
  json_decref(removed);
  json_decref(added);
  return eq;
}

static json_t *notes_norm_all(const json_t *A) {
  json_t *out = json_array();
  for (size_t i = 0; i < json_array_size(A); i++) json_array_append_new(out, note_norm(json_array_get(A, i)));
  return out;
}

/* ---------------------------------------------------------------- fx chains (LCS by name) */

static const char *fx_name(const json_t *fx) { return str(fx, "name", ""); }

/* a2b/b2a from a longest common subsequence of effect names. */
static int fx_lcs(const json_t *A, const json_t *B, int **a2b, int **b2a) {
  size_t na = json_array_size(A), nb = json_array_size(B);
  *a2b = malloc((na + 1) * sizeof(int));
  *b2a = malloc((nb + 1) * sizeof(int));
  int *L = calloc((na + 1) * (nb + 1), sizeof(int));
  if (!*a2b || !*b2a || !L) {
    free(*a2b);
    free(*b2a);
    free(L);
    return 0;
  }
  for (size_t i = 0; i < na; i++) (*a2b)[i] = -1;
  for (size_t j = 0; j < nb; j++) (*b2a)[j] = -1;
#define LL(i, j) L[(i) * (nb + 1) + (j)]
  for (size_t i = na; i-- > 0;)
    for (size_t j = nb; j-- > 0;) {
      if (strcmp(fx_name(json_array_get(A, i)), fx_name(json_array_get(B, j))) == 0)
        LL(i, j) = 1 + LL(i + 1, j + 1);
      else
        LL(i, j) = LL(i + 1, j) > LL(i, j + 1) ? LL(i + 1, j) : LL(i, j + 1);
    }
  size_t i = 0, j = 0;
  while (i < na && j < nb) {
    if (strcmp(fx_name(json_array_get(A, i)), fx_name(json_array_get(B, j))) == 0) {
      (*a2b)[i] = (int)j;
      (*b2a)[j] = (int)i;
      i++;
      j++;
    } else if (LL(i + 1, j) >= LL(i, j + 1)) {
      i++;
    } else {
      j++;
    }
  }
#undef LL
  free(L);
  return 1;
}

static json_t *param_by_index(const json_t *fx, json_int_t idx) {
  json_t *ps = arr(fx, "params");
  for (size_t i = 0; i < json_array_size(ps); i++) {
    json_t *p = json_array_get(ps, i);
    if (json_integer_value(json_object_get(p, "index")) == idx) return p;
  }
  return NULL;
}

/* ---------------------------------------------------------------- diff */

static json_t *tid(const json_t *t) {
  json_t *v = json_object_get(t, "id");
  return json_is_string(v) ? json_incref(v) : json_null();
}

static void add_change(json_t *changes, json_t *c) {
  if (c) json_array_append_new(changes, c);
}

static json_t *clip_record(const char *op, const json_t *track, const json_t *clip) {
  json_t *cid = json_object_get(clip, "id");
  return json_pack("{s:s, s:s, s:o, s:o, s:f, s:f, s:I}", "op", op, "kind", "clip", "track", tid(track), "clip",
                   json_is_string(cid) ? json_incref(cid) : json_null(), "start", num(clip, "start", 0), "length",
                   num(clip, "length", 0), "notes", (json_int_t)json_array_size(arr(clip, "notes")));
}

static json_t *fx_record(const char *op, const json_t *track, size_t pos, const json_t *fx) {
  return json_pack("{s:s, s:s, s:o, s:I, s:s}", "op", op, "kind", "fx", "track", tid(track), "index",
                   (json_int_t)(pos + 1), "name", fx_name(fx));
}

static void whole_track(json_t *changes, const char *op, const json_t *t) {
  add_change(changes, json_pack("{s:s, s:s, s:o, s:s, s:s}", "op", op, "kind", "track", "track", tid(t), "name",
                                str(t, "name", ""), "type", str(t, "type", "midi")));
  json_t *fxs = arr(t, "fx");
  for (size_t i = 0; i < json_array_size(fxs); i++) add_change(changes, fx_record(op, t, i, json_array_get(fxs, i)));
  json_t *clips = arr(t, "clips");
  for (size_t i = 0; i < json_array_size(clips); i++) add_change(changes, clip_record(op, t, json_array_get(clips, i)));
}

static void diff_fx(json_t *changes, const json_t *ft, const json_t *tt) {
  json_t *A = arr(ft, "fx"), *B = arr(tt, "fx");
  int *a2b, *b2a;
  if (!fx_lcs(A, B, &a2b, &b2a)) return;
  for (size_t i = 0; i < json_array_size(A); i++)
    if (a2b[i] < 0) add_change(changes, fx_record("remove", ft, i, json_array_get(A, i)));
  for (size_t j = 0; j < json_array_size(B); j++) {
    json_t *bf = json_array_get(B, j);
    if (b2a[j] < 0) {
      add_change(changes, fx_record("add", tt, j, bf));
      continue;
    }
    json_t *af = json_array_get(A, (size_t)b2a[j]);
    int ea = boolean(af, "enabled", 1), eb = boolean(bf, "enabled", 1);
    if (ea != eb) {
      json_t *c = fx_record("change", tt, j, bf);
      json_object_set_new(c, "key", json_string("enabled"));
      json_object_set_new(c, "from", json_boolean(ea));
      json_object_set_new(c, "to", json_boolean(eb));
      add_change(changes, c);
    }
    json_t *bps = arr(bf, "params");
    for (size_t k = 0; k < json_array_size(bps); k++) {
      json_t *bp = json_array_get(bps, k);
      json_int_t idx = json_integer_value(json_object_get(bp, "index"));
      json_t *ap = param_by_index(af, idx);
      if (!ap || feq(num(ap, "value", 0), num(bp, "value", 0))) continue;
      add_change(changes,
                 json_pack("{s:s, s:s, s:o, s:I, s:s, s:I, s:s, s:f, s:f}", "op", "change", "kind", "fx_param", "track",
                           tid(tt), "fx_index", (json_int_t)(j + 1), "fx", fx_name(bf), "param", idx, "param_name",
                           str(bp, "name", ""), "from", num(ap, "value", 0), "to", num(bp, "value", 0)));
    }
  }
  free(a2b);
  free(b2a);
}

static void diff_clips(json_t *changes, const json_t *ft, const json_t *tt) {
  json_t *A = arr(ft, "clips"), *B = arr(tt, "clips");
  int *a2b, *b2a;
  if (!match_alloc(A, B, 4, clip_same, &a2b, &b2a)) return;
  for (size_t i = 0; i < json_array_size(A); i++)
    if (a2b[i] < 0) add_change(changes, clip_record("remove", ft, json_array_get(A, i)));
  for (size_t j = 0; j < json_array_size(B); j++) {
    json_t *bc = json_array_get(B, j);
    if (b2a[j] < 0) {
      add_change(changes, clip_record("add", tt, bc));
      continue;
    }
    json_t *ac = json_array_get(A, (size_t)b2a[j]);
    static const char *const keys[] = {"start", "length"};
    for (size_t k = 0; k < 2; k++) {
      if (feq(num(ac, keys[k], 0), num(bc, keys[k], 0))) continue;
      json_t *c = clip_record("change", tt, bc);
      json_object_set_new(c, "key", json_string(keys[k]));
      json_object_set_new(c, "from", json_real(num(ac, keys[k], 0)));
      json_object_set_new(c, "to", json_real(num(bc, keys[k], 0)));
      add_change(changes, c);
    }
    if (!str_eq(str(ac, "name", ""), str(bc, "name", ""))) {
      json_t *c = clip_record("change", tt, bc);
      json_object_set_new(c, "key", json_string("name"));
      json_object_set_new(c, "from", json_string(str(ac, "name", "")));
      json_object_set_new(c, "to", json_string(str(bc, "name", "")));
      add_change(changes, c);
    }
    json_t *removed = json_array(), *added = json_array();
    notes_diff(arr(ac, "notes"), arr(bc, "notes"), removed, added);
    if (json_array_size(removed) || json_array_size(added)) {
      json_t *cid = json_object_get(bc, "id");
      add_change(changes, json_pack("{s:s, s:s, s:o, s:o, s:f, s:O, s:O}", "op", "change", "kind", "notes", "track",
                                    tid(tt), "clip", json_is_string(cid) ? json_incref(cid) : json_null(), "start",
                                    num(bc, "start", 0), "added", added, "removed", removed));
    }
    json_decref(removed);
    json_decref(added);
  }
  free(a2b);
  free(b2a);
}

static void diff_track(json_t *changes, const json_t *ft, const json_t *tt) {
  for (size_t k = 0; k < N_TRACK_PROPS; k++) {
    json_t *a = prop_get(ft, &TRACK_PROPS[k]), *b = prop_get(tt, &TRACK_PROPS[k]);
    if (!jv_equal(a, b)) {
      add_change(changes, json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:O, s:O}", "op", "change", "kind", "track",
                                    "track", tid(tt), "name", str(tt, "name", ""), "type", str(tt, "type", "midi"),
                                    "key", TRACK_PROPS[k].key, "from", a, "to", b));
    }
    json_decref(a);
    json_decref(b);
  }
  diff_fx(changes, ft, tt);
  diff_clips(changes, ft, tt);
}

static json_t *marker_record(const char *op, const json_t *m) {
  json_t *r = json_pack("{s:s, s:s, s:s, s:f}", "op", op, "kind", "marker", "name", str(m, "name", ""), "position",
                        num(m, "position", 0));
  if (r && json_is_string(json_object_get(m, "id"))) json_object_set(r, "id", json_object_get(m, "id"));
  return r;
}

static void diff_markers(json_t *changes, const json_t *F, const json_t *T) {
  json_t *A = arr(F, "markers"), *B = arr(T, "markers");
  int *a2b, *b2a;
  if (!match_alloc(A, B, 4, marker_same, &a2b, &b2a)) return;
  for (size_t i = 0; i < json_array_size(A); i++)
    if (a2b[i] < 0) add_change(changes, marker_record("remove", json_array_get(A, i)));
  for (size_t j = 0; j < json_array_size(B); j++) {
    json_t *bm = json_array_get(B, j);
    if (b2a[j] < 0) {
      add_change(changes, marker_record("add", bm));
      continue;
    }
    json_t *am = json_array_get(A, (size_t)b2a[j]);
    if (!str_eq(str(am, "name", ""), str(bm, "name", ""))) {
      json_t *c = marker_record("change", am);
      json_object_set_new(c, "key", json_string("name"));
      json_object_set_new(c, "from", json_string(str(am, "name", "")));
      json_object_set_new(c, "to", json_string(str(bm, "name", "")));
      add_change(changes, c);
    }
    if (!feq(num(am, "position", 0), num(bm, "position", 0))) {
      json_t *c = marker_record("change", bm);
      json_object_set_new(c, "key", json_string("position"));
      json_object_set_new(c, "from", json_real(num(am, "position", 0)));
      json_object_set_new(c, "to", json_real(num(bm, "position", 0)));
      add_change(changes, c);
    }
  }
  free(a2b);
  free(b2a);
}

static void project_change(json_t *changes, const char *key, json_t *a /*steals*/, json_t *b /*steals*/) {
  if (!jv_equal(a, b))
    add_change(changes, json_pack("{s:s, s:s, s:s, s:O, s:O}", "op", "change", "kind", "project", "key", key, "from", a,
                                  "to", b));
  json_decref(a);
  json_decref(b);
}

json_t *statediff_compute(const json_t *from_in, const json_t *to_in) {
  const json_t *F = state_of(from_in), *T = state_of(to_in);
  json_t *changes = json_array();
  json_t *diff = json_pack("{s:s, s:o}", "format", "dawbridge.diff/1", "changes", changes);
  if (!diff) return NULL;

  project_change(changes, "project", json_string(str(F, "project", "")), json_string(str(T, "project", "")));
  project_change(changes, "tempo", json_real(num(F, "tempo", 120.0)), json_real(num(T, "tempo", 120.0)));
  project_change(changes, "time_signature", timesig_get(F), timesig_get(T));
  project_change(changes, "loop", loop_get(F), loop_get(T));
  diff_markers(changes, F, T);

  json_t *A = arr(F, "tracks"), *B = arr(T, "tracks");
  int *a2b, *b2a;
  if (!match_alloc(A, B, 3, track_same, &a2b, &b2a)) {
    json_decref(diff);
    return NULL;
  }
  for (size_t i = 0; i < json_array_size(A); i++)
    if (a2b[i] < 0) whole_track(changes, "remove", json_array_get(A, i));
  for (size_t j = 0; j < json_array_size(B); j++) {
    if (b2a[j] < 0)
      whole_track(changes, "add", json_array_get(B, j));
    else
      diff_track(changes, json_array_get(A, (size_t)b2a[j]), json_array_get(B, j));
  }
  free(a2b);
  free(b2a);
  return diff;
}

/* ---------------------------------------------------------------- text */

/* Number with at most `maxd` decimals, trailing zeros trimmed but at least `mind` decimals. */
static const char *fmtn(char *buf, size_t len, double x, int mind, int maxd) {
  if (fabs(x) < 0.5 * pow(10, -maxd)) x = 0.0;
  snprintf(buf, len, "%.*f", maxd, x);
  char *dot = strchr(buf, '.');
  if (dot) {
    char *end = buf + strlen(buf) - 1;
    while (end > dot + mind && *end == '0') *end-- = '\0';
    if (end == dot) *end = '\0';
  }
  return buf;
}

static const char *beat_s(char *buf, size_t len, double x) { return fmtn(buf, len, x, 0, 3); }

/* A json value for the text: numbers via fmt (mind), strings quoted, null as "none". */
static void value_text(strbuf_t *b, const json_t *v, int mind, int maxd) {
  char nb[64];
  if (json_is_number(v))
    strbuf_appendf(b, "%s", fmtn(nb, sizeof nb, json_number_value(v), mind, maxd));
  else if (json_is_string(v))
    strbuf_appendf(b, "\"%s\"", json_string_value(v));
  else if (json_is_true(v))
    strbuf_puts(b, "true");
  else if (json_is_false(v))
    strbuf_puts(b, "false");
  else if (!v || json_is_null(v))
    strbuf_puts(b, "none");
  else {
    char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    strbuf_appendf(b, "%s", d ? d : "?");
    free(d);
  }
}

/* "<from> → <to>" and the end of the line. */
static void change_text(strbuf_t *b, const json_t *from, const json_t *to, int mind, int maxd) {
  value_text(b, from, mind, maxd);
  strbuf_puts(b, " → ");
  value_text(b, to, mind, maxd);
  strbuf_puts(b, "\n");
}

static char op_char(const char *op) { return strcmp(op, "add") == 0 ? '+' : strcmp(op, "remove") == 0 ? '-' : '~'; }

static const char *id_or(const json_t *c, const char *k, const char *def) { return str(c, k, def); }

static void note_line(strbuf_t *b, char sign, const json_t *n, double clip_start) {
  static const char *const names[] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  json_int_t p = json_integer_value(json_object_get(n, "n"));
  char b1[32], b2[32];
  int pc = (int)(((p % 12) + 12) % 12);
  strbuf_appendf(b, "    %c note %d (%s%d) at beat %s len %s vel %d\n", sign, (int)p, names[pc], (int)(p / 12) - 1,
                 beat_s(b1, sizeof b1, clip_start + num(n, "s", 0)), beat_s(b2, sizeof b2, num(n, "d", 0)),
                 (int)json_integer_value(json_object_get(n, "v")));
}

#define MAX_NOTE_LINES 24

static void text_change(strbuf_t *b, const json_t *c) {
  const char *op = str(c, "op", "change");
  const char *kind = str(c, "kind", "");
  const char *key = str(c, "key", NULL);
  char sign = op_char(op);
  char b1[64], b2[64];
  json_t *from = json_object_get(c, "from"), *to = json_object_get(c, "to");
  const char *track = id_or(c, "track", "?");

  if (strcmp(kind, "project") == 0) {
    if (key && strcmp(key, "time_signature") == 0) {
      strbuf_appendf(b, "~ time signature %d/%d → %d/%d\n", (int)json_integer_value(json_array_get(from, 0)),
                     (int)json_integer_value(json_array_get(from, 1)), (int)json_integer_value(json_array_get(to, 0)),
                     (int)json_integer_value(json_array_get(to, 1)));
    } else if (key && strcmp(key, "loop") == 0) {
      strbuf_appendf(b, "~ loop %s %s–%s → ", boolean(from, "enabled", 0) ? "on" : "off",
                     beat_s(b1, sizeof b1, num(from, "start", 0)), beat_s(b2, sizeof b2, num(from, "end", 0)));
      strbuf_appendf(b, "%s %s–%s\n", boolean(to, "enabled", 0) ? "on" : "off",
                     beat_s(b1, sizeof b1, num(to, "start", 0)), beat_s(b2, sizeof b2, num(to, "end", 0)));
    } else {
      strbuf_appendf(b, "~ %s ", key ? key : "?");
      change_text(b, from, to, 0, 3);
    }
  } else if (strcmp(kind, "marker") == 0) {
    if (sign != '~') {
      strbuf_appendf(b, "%c marker \"%s\" at beat %s\n", sign, str(c, "name", ""),
                     beat_s(b1, sizeof b1, num(c, "position", 0)));
    } else {
      strbuf_appendf(b, "~ marker \"%s\" %s ", str(c, "name", ""), key ? key : "?");
      change_text(b, from, to, 0, 3);
    }
  } else if (strcmp(kind, "track") == 0) {
    if (sign != '~') {
      strbuf_appendf(b, "%c track %s \"%s\" (%s)\n", sign, track, str(c, "name", ""), str(c, "type", "midi"));
    } else {
      strbuf_appendf(b, "~ %s %s ", track, key ? key : "?");
      change_text(b, from, to, 1, 3);
    }
  } else if (strcmp(kind, "clip") == 0) {
    const char *cid = str(c, "clip", NULL);
    if (sign != '~') {
      json_int_t n = json_integer_value(json_object_get(c, "notes"));
      strbuf_appendf(b, "%c clip%s%s on %s at beat %s (%d note%s)\n", sign, cid ? " " : "", cid ? cid : "", track,
                     beat_s(b1, sizeof b1, num(c, "start", 0)), (int)n, n == 1 ? "" : "s");
    } else {
      strbuf_appendf(b, "~ clip%s%s on %s %s ", cid ? " " : "", cid ? cid : "", track, key ? key : "?");
      change_text(b, from, to, 0, 3);
    }
  } else if (strcmp(kind, "notes") == 0) {
    const char *cid = str(c, "clip", NULL);
    json_t *added = arr(c, "added"), *removed = arr(c, "removed");
    double start = num(c, "start", 0);
    strbuf_appendf(b, "~ clip%s%s on %s notes: +%d -%d\n", cid ? " " : "", cid ? cid : "", track,
                   (int)json_array_size(added), (int)json_array_size(removed));
    size_t shown = 0, total = json_array_size(added) + json_array_size(removed);
    for (size_t i = 0; i < json_array_size(removed) && shown < MAX_NOTE_LINES; i++, shown++)
      note_line(b, '-', json_array_get(removed, i), start);
    for (size_t i = 0; i < json_array_size(added) && shown < MAX_NOTE_LINES; i++, shown++)
      note_line(b, '+', json_array_get(added, i), start);
    if (total > shown) strbuf_appendf(b, "    … and %d more\n", (int)(total - shown));
  } else if (strcmp(kind, "fx") == 0) {
    if (sign != '~') {
      strbuf_appendf(b, "%c fx \"%s\" on %s\n", sign, str(c, "name", ""), track);
    } else {
      strbuf_appendf(b, "~ fx \"%s\" on %s %s ", str(c, "name", ""), track, key ? key : "?");
      change_text(b, from, to, 0, 4);
    }
  } else if (strcmp(kind, "fx_param") == 0) {
    const char *pn = str(c, "param_name", "");
    strbuf_appendf(b, "~ fx \"%s\" on %s param ", str(c, "fx", ""), track);
    if (pn[0])
      strbuf_appendf(b, "\"%s\" ", pn);
    else
      strbuf_appendf(b, "%d ", (int)json_integer_value(json_object_get(c, "param")));
    change_text(b, from, to, 1, 4);
  } else {
    strbuf_appendf(b, "%c %s\n", sign, kind);
  }
}

char *statediff_to_text(const json_t *diff) {
  strbuf_t b = STRBUF_INIT;
  json_t *changes = arr(diff, "changes");
  if (json_array_size(changes) == 0) strbuf_puts(&b, "no changes\n");
  for (size_t i = 0; i < json_array_size(changes); i++) text_change(&b, json_array_get(changes, i));
  return strbuf_take(&b, NULL);
}

/* ---------------------------------------------------------------- inverse calls */

static json_t *call(const char *tool, json_t *args /*steals*/) {
  return json_pack("{s:s, s:o}", "tool", tool, "args", args);
}

static json_t *ref(size_t k) { return json_pack("{s:{s:I}}", "$ref", "call", (json_int_t)k); }

static void unsupported(json_t *u, const char *reason, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  json_t *what = json_vsprintf(fmt, ap);
  va_end(ap);
  json_array_append_new(u, json_pack("{s:o, s:s}", "what", what, "reason", reason));
}

static json_t *clip_create_args(json_t *track_id /*steals*/, const json_t *clip) {
  json_t *a = json_pack("{s:o, s:f, s:f, s:o}", "track_id", track_id, "start_time", num(clip, "start", 0), "duration",
                        num(clip, "length", 0), "notes", notes_norm_all(arr(clip, "notes")));
  const char *name = str(clip, "name", NULL); /* a re-created clip keeps its name */
  if (name && name[0]) json_object_set_new(a, "name", json_string(name));
  return a;
}

static const char *clip_ref_id(const json_t *clip) {
  const char *id = str(clip, "id", NULL);
  if (!id || !id[0]) id = str(clip, "host_id", NULL);
  return id && id[0] ? id : NULL;
}

struct phases {
  json_t *tempo, *delclip, *deltrack, *settrack, *rmfx, *addfx, *fxparam, *editclip, *newclip;
};

/* Adds a create_midi_clip (or an unsupported entry for audio tracks). */
static void recreate_clip(json_t *out, json_t *u, const json_t *track, json_t *track_id /*steals*/,
                          const json_t *clip) {
  char b1[32];
  if (strcmp(str(track, "type", "midi"), "midi") != 0 && json_array_size(arr(clip, "notes")) == 0) {
    unsupported(u, "only MIDI clips can be created by the tools", "re-create clip at beat %s on track \"%s\"",
                beat_s(b1, sizeof b1, num(clip, "start", 0)), str(track, "name", ""));
    json_decref(track_id);
    return;
  }
  json_array_append_new(out, call("create_midi_clip", clip_create_args(track_id, clip)));
}

/* Effects of a kept track: remove what does not fit, append the rest, set differing params. */
static void inverse_fx(struct phases *ph, json_t *u, const json_t *ct, const json_t *tt) {
  json_t *C = arr(ct, "fx"), *T = arr(tt, "fx");
  const char *tidc = str(ct, "id", "");
  size_t nc = json_array_size(C), nt = json_array_size(T);
  int *keep = malloc((nc + 1) * sizeof(int)); /* current index → target index, or -1 */
  if (!keep) return;
  for (size_t i = 0; i < nc; i++) keep[i] = -1;
  /* longest prefix of T that is a subsequence of C (greedy earliest match) */
  size_t p = 0, i = 0;
  while (p < nt) {
    while (i < nc && strcmp(fx_name(json_array_get(C, i)), fx_name(json_array_get(T, p))) != 0) i++;
    if (i == nc) break;
    keep[i] = (int)p;
    i++;
    p++;
  }
  for (size_t k = nc; k-- > 0;)
    if (keep[k] < 0)
      json_array_append_new(ph->rmfx, call("remove_effect", json_pack("{s:s, s:I}", "track_id", tidc, "effect_index",
                                                                      (json_int_t)(k + 1))));
  for (size_t k = 0; k < nc; k++) {
    if (keep[k] < 0) continue;
    json_t *cf = json_array_get(C, k), *tf = json_array_get(T, (size_t)keep[k]);
    if (boolean(cf, "enabled", 1) != boolean(tf, "enabled", 1))
      json_array_append_new(ph->fxparam, call("set_effect_enabled", json_pack("{s:s, s:I, s:b}", "track_id", tidc,
                                                                              "effect_index", (json_int_t)(keep[k] + 1),
                                                                              "enabled", boolean(tf, "enabled", 1))));
    json_t *tps = arr(tf, "params");
    for (size_t q = 0; q < json_array_size(tps); q++) {
      json_t *tp = json_array_get(tps, q);
      json_int_t idx = json_integer_value(json_object_get(tp, "index"));
      json_t *cp = param_by_index(cf, idx);
      if (cp && feq(num(cp, "value", 0), num(tp, "value", 0))) continue;
      json_array_append_new(ph->fxparam,
                            call("set_effect_param", json_pack("{s:s, s:I, s:I, s:f}", "track_id", tidc, "effect_index",
                                                               (json_int_t)(keep[k] + 1), "param_index", idx, "value",
                                                               num(tp, "value", 0))));
    }
  }
  for (size_t k = p; k < nt; k++) {
    json_t *tf = json_array_get(T, k);
    json_array_append_new(ph->addfx,
                          call("add_effect", json_pack("{s:s, s:s}", "track_id", tidc, "effect_name", fx_name(tf))));
    if (!boolean(tf, "enabled", 1))
      json_array_append_new(ph->fxparam,
                            call("set_effect_enabled", json_pack("{s:s, s:I, s:b}", "track_id", tidc, "effect_index",
                                                                 (json_int_t)(k + 1), "enabled", 0)));
    json_t *tps = arr(tf, "params");
    for (size_t q = 0; q < json_array_size(tps); q++) {
      json_t *tp = json_array_get(tps, q);
      json_array_append_new(
          ph->fxparam,
          call("set_effect_param",
               json_pack("{s:s, s:I, s:I, s:f}", "track_id", tidc, "effect_index", (json_int_t)(k + 1), "param_index",
                         json_integer_value(json_object_get(tp, "index")), "value", num(tp, "value", 0))));
    }
  }
  free(keep);
}

static void inverse_clips(struct phases *ph, json_t *u, const json_t *ct, const json_t *tt) {
  json_t *C = arr(ct, "clips"), *T = arr(tt, "clips");
  int *c2t, *t2c;
  char b1[32];
  if (!match_alloc(C, T, 4, clip_same, &c2t, &t2c)) return;
  const char *tidc = str(ct, "id", "");
  for (size_t i = 0; i < json_array_size(C); i++) {
    json_t *cc = json_array_get(C, i);
    int recreate = 0;
    if (c2t[i] >= 0) {
      json_t *tc = json_array_get(T, (size_t)c2t[i]);
      recreate = !feq(num(cc, "start", 0), num(tc, "start", 0)) || !feq(num(cc, "length", 0), num(tc, "length", 0));
    }
    if (c2t[i] >= 0 && !recreate) continue;
    const char *cid = clip_ref_id(cc);
    if (!cid) {
      unsupported(u, "the clip has no id to refer to", "delete clip at beat %s on track \"%s\"",
                  beat_s(b1, sizeof b1, num(cc, "start", 0)), str(ct, "name", ""));
      continue;
    }
    json_array_append_new(ph->delclip, call("delete_clip", json_pack("{s:s}", "clip_id", cid)));
    if (recreate) recreate_clip(ph->newclip, u, tt, json_string(tidc), json_array_get(T, (size_t)c2t[i]));
  }
  for (size_t j = 0; j < json_array_size(T); j++) {
    json_t *tc = json_array_get(T, j);
    if (t2c[j] < 0) {
      recreate_clip(ph->newclip, u, tt, json_string(tidc), tc);
      continue;
    }
    json_t *cc = json_array_get(C, (size_t)t2c[j]);
    if (!feq(num(cc, "start", 0), num(tc, "start", 0)) || !feq(num(cc, "length", 0), num(tc, "length", 0)))
      continue; /* re-created above */
    if (!str_eq(str(cc, "name", ""), str(tc, "name", "")))
      unsupported(u, "no tool renames a clip", "rename clip \"%s\" to \"%s\" on track \"%s\"", str(cc, "name", ""),
                  str(tc, "name", ""), str(tt, "name", ""));
    json_t *removed = json_array(), *added = json_array();
    notes_diff(arr(cc, "notes"), arr(tc, "notes"), removed, added);
    if (json_array_size(removed) || json_array_size(added)) {
      const char *cid = clip_ref_id(cc);
      if (!cid) {
        unsupported(u, "the clip has no id to refer to", "edit notes of clip at beat %s on track \"%s\"",
                    beat_s(b1, sizeof b1, num(cc, "start", 0)), str(ct, "name", ""));
      } else {
        json_t *args = json_pack("{s:s}", "clip_id", cid);
        if (json_array_size(added)) json_object_set(args, "add_notes", added);
        if (json_array_size(removed)) json_object_set(args, "remove_notes", removed);
        json_array_append_new(ph->editclip, call("edit_clip", args));
      }
    }
    json_decref(removed);
    json_decref(added);
  }
  free(c2t);
  free(t2c);
}

static void inverse_track(struct phases *ph, json_t *u, const json_t *ct, const json_t *tt) {
  const char *tidc = str(ct, "id", NULL);
  if (!tidc || !tidc[0]) {
    unsupported(u, "the track has no id to refer to", "change track \"%s\"", str(ct, "name", ""));
    return;
  }
  json_t *args = json_pack("{s:s}", "track_id", tidc);
  for (size_t k = 0; k < N_TRACK_PROPS; k++) {
    const struct prop *p = &TRACK_PROPS[k];
    json_t *a = prop_get(ct, p), *b = prop_get(tt, p);
    if (!jv_equal(a, b)) {
      if (strcmp(p->key, "type") == 0 || strcmp(p->key, "instrument") == 0) {
        char *from = json_dumps(a, JSON_ENCODE_ANY), *to = json_dumps(b, JSON_ENCODE_ANY);
        unsupported(u, "no tool changes a track's type or instrument", "change %s of track \"%s\" from %s to %s",
                    p->key, str(tt, "name", ""), from ? from : "?", to ? to : "?");
        free(from);
        free(to);
      } else {
        json_object_set(args, p->key, b);
      }
    }
    json_decref(a);
    json_decref(b);
  }
  if (json_object_size(args) > 1)
    json_array_append_new(ph->settrack, call("set_track", args));
  else
    json_decref(args);
  inverse_fx(ph, u, ct, tt);
  inverse_clips(ph, u, ct, tt);
}

/* create_track + its setup, appended straight to `calls` so $ref indexes are final. */
static void recreate_track(json_t *calls, json_t *u, const json_t *tt) {
  json_t *args = json_pack("{s:s, s:s}", "name", str(tt, "name", ""), "type", str(tt, "type", "midi"));
  const char *instr = str(tt, "instrument", NULL);
  if (instr) json_object_set_new(args, "instrument", json_string(instr));
  size_t k = json_array_size(calls);
  json_array_append_new(calls, call("create_track", args));

  json_t *set = json_pack("{s:o}", "track_id", ref(k));
  for (size_t i = 0; i < N_TRACK_PROPS; i++) {
    const struct prop *p = &TRACK_PROPS[i];
    if (p->kind != P_NUM && p->kind != P_BOOL) continue;
    json_t *v = prop_get(tt, p);
    if ((p->kind == P_NUM && !feq(json_number_value(v), 0.0)) || (p->kind == P_BOOL && json_is_true(v)))
      json_object_set(set, p->key, v);
    json_decref(v);
  }
  if (json_object_size(set) > 1)
    json_array_append_new(calls, call("set_track", set));
  else
    json_decref(set);

  json_t *fxs = arr(tt, "fx");
  /* where the chain lists the instrument as fx[0] (docs/session-json.md), create_track inserts it already */
  size_t first = (instr && json_array_size(fxs) && strcmp(fx_name(json_array_get(fxs, 0)), instr) == 0) ? 1 : 0;
  for (size_t i = first; i < json_array_size(fxs); i++) {
    json_t *f = json_array_get(fxs, i);
    json_array_append_new(calls,
                          call("add_effect", json_pack("{s:o, s:s}", "track_id", ref(k), "effect_name", fx_name(f))));
  }
  for (size_t i = 0; i < json_array_size(fxs); i++) {
    if (!boolean(json_array_get(fxs, i), "enabled", 1))
      json_array_append_new(calls,
                            call("set_effect_enabled", json_pack("{s:o, s:I, s:b}", "track_id", ref(k), "effect_index",
                                                                 (json_int_t)(i + 1), "enabled", 0)));
  }
  for (size_t i = 0; i < json_array_size(fxs); i++) {
    json_t *ps = arr(json_array_get(fxs, i), "params");
    for (size_t q = 0; q < json_array_size(ps); q++) {
      json_t *p = json_array_get(ps, q);
      json_array_append_new(
          calls,
          call("set_effect_param",
               json_pack("{s:o, s:I, s:I, s:f}", "track_id", ref(k), "effect_index", (json_int_t)(i + 1), "param_index",
                         json_integer_value(json_object_get(p, "index")), "value", num(p, "value", 0))));
    }
  }
  json_t *clips = arr(tt, "clips");
  for (size_t i = 0; i < json_array_size(clips); i++) recreate_clip(calls, u, tt, ref(k), json_array_get(clips, i));
}

static void append_all(json_t *dst, json_t *src /*steals*/) {
  json_array_extend(dst, src);
  json_decref(src);
}

json_t *statediff_inverse_calls(const json_t *current, const json_t *target, json_t **unsupported_out) {
  const json_t *C = state_of(current), *T = state_of(target);
  json_t *calls = json_array(), *u = json_array();
  struct phases ph = {json_array(), json_array(), json_array(), json_array(), json_array(),
                      json_array(), json_array(), json_array(), json_array()};
  char b1[32], b2[32];

  if (!feq(num(C, "tempo", 120.0), num(T, "tempo", 120.0)))
    json_array_append_new(ph.tempo, call("set_tempo", json_pack("{s:f}", "bpm", num(T, "tempo", 120.0))));
  json_t *tsc = timesig_get(C), *tst = timesig_get(T);
  if (!jv_equal(tsc, tst))
    unsupported(u, "no tool sets the time signature", "set time signature to %d/%d",
                (int)json_integer_value(json_array_get(tst, 0)), (int)json_integer_value(json_array_get(tst, 1)));
  json_decref(tsc);
  json_decref(tst);
  if (!str_eq(str(C, "project", ""), str(T, "project", "")))
    unsupported(u, "no tool renames the project", "rename project to \"%s\"", str(T, "project", ""));

  json_t *CT = arr(C, "tracks"), *TT = arr(T, "tracks");
  int *c2t, *t2c;
  if (!match_alloc(CT, TT, 3, track_same, &c2t, &t2c)) {
    json_decref(calls);
    json_decref(u);
    calls = NULL;
    u = NULL;
    goto out;
  }
  for (size_t i = 0; i < json_array_size(CT); i++) {
    json_t *ct = json_array_get(CT, i);
    if (c2t[i] >= 0) continue;
    const char *id = str(ct, "id", NULL);
    if (id && id[0])
      json_array_append_new(ph.deltrack, call("delete_track", json_pack("{s:s}", "track_id", id)));
    else
      unsupported(u, "the track has no id to refer to", "delete track \"%s\"", str(ct, "name", ""));
  }
  for (size_t j = 0; j < json_array_size(TT); j++)
    if (t2c[j] >= 0) inverse_track(&ph, u, json_array_get(CT, (size_t)t2c[j]), json_array_get(TT, j));

  append_all(calls, ph.tempo);
  append_all(calls, ph.delclip);
  append_all(calls, ph.deltrack);
  append_all(calls, ph.settrack);
  append_all(calls, ph.rmfx);
  append_all(calls, ph.addfx);
  append_all(calls, ph.fxparam);
  append_all(calls, ph.editclip);
  append_all(calls, ph.newclip);
  memset(&ph, 0, sizeof ph);
  for (size_t j = 0; j < json_array_size(TT); j++)
    if (t2c[j] < 0) recreate_track(calls, u, json_array_get(TT, j));
  free(c2t);
  free(t2c);

  json_t *lc = loop_get(C), *lt = loop_get(T);
  if (!jv_equal(lc, lt))
    json_array_append_new(calls, call("set_loop", json_pack("{s:f, s:f, s:b}", "start", num(lt, "start", 0), "end",
                                                            num(lt, "end", 0), "enabled", boolean(lt, "enabled", 0))));
  json_decref(lc);
  json_decref(lt);

  json_t *CM = arr(C, "markers"), *TM = arr(T, "markers");
  int *m2t, *t2m;
  if (match_alloc(CM, TM, 4, marker_same, &m2t, &t2m)) {
    for (size_t i = 0; i < json_array_size(CM); i++) {
      json_t *m = json_array_get(CM, i);
      if (m2t[i] < 0) {
        unsupported(u, "no tool removes a marker", "remove marker \"%s\" at beat %s", str(m, "name", ""),
                    beat_s(b1, sizeof b1, num(m, "position", 0)));
        continue;
      }
      json_t *tm = json_array_get(TM, (size_t)m2t[i]);
      if (!str_eq(str(m, "name", ""), str(tm, "name", "")) || !feq(num(m, "position", 0), num(tm, "position", 0)))
        unsupported(u, "no tool moves or renames a marker", "change marker \"%s\" at beat %s to \"%s\" at beat %s",
                    str(m, "name", ""), beat_s(b1, sizeof b1, num(m, "position", 0)), str(tm, "name", ""),
                    beat_s(b2, sizeof b2, num(tm, "position", 0)));
    }
    for (size_t j = 0; j < json_array_size(TM); j++) {
      json_t *tm = json_array_get(TM, j);
      if (t2m[j] < 0)
        json_array_append_new(calls, call("add_marker", json_pack("{s:f, s:s}", "position", num(tm, "position", 0),
                                                                  "name", str(tm, "name", ""))));
    }
    free(m2t);
    free(t2m);
  }
out:
  json_decref(ph.tempo);
  json_decref(ph.delclip);
  json_decref(ph.deltrack);
  json_decref(ph.settrack);
  json_decref(ph.rmfx);
  json_decref(ph.addfx);
  json_decref(ph.fxparam);
  json_decref(ph.editclip);
  json_decref(ph.newclip);
  if (unsupported_out)
    *unsupported_out = u;
  else
    json_decref(u);
  return calls;
}

/* ---------------------------------------------------------------- three-way merge (undo keeps later edits) */

struct merge {
  int force;
  json_t *conflicts;
};

/* The same music: a one-element diff of the two wrapped in the same container shows nothing. `kind` is
 * "track", "clip" or "fx". */
static int same_music(const char *kind, const json_t *a, const json_t *b) {
  json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
  json_t *sa = NULL, *sb = NULL;
  if (!x || !y) goto out;
  json_t *objs[2] = {x, y};
  json_t *snaps[2];
  for (int i = 0; i < 2; i++) {
    json_t *o = objs[i];
    json_object_del(o, "host_id");
    json_object_del(o, "index");
    if (!strcmp(kind, "track")) {
      json_object_set_new(o, "id", json_string("t"));
      snaps[i] = json_pack("{s:[O]}", "tracks", o);
    } else if (!strcmp(kind, "clip")) {
      json_object_set_new(o, "id", json_string("c"));
      snaps[i] = json_pack("{s:[{s:s, s:s, s:[O]}]}", "tracks", "id", "t", "name", "t", "clips", o);
    } else {
      snaps[i] = json_pack("{s:[{s:s, s:s, s:[O]}]}", "tracks", "id", "t", "name", "t", "fx", o);
    }
  }
  sa = snaps[0];
  sb = snaps[1];
out:;
  int eq = 0;
  if (sa && sb) {
    json_t *d = statediff_compute(sa, sb);
    eq = d && json_array_size(json_object_get(d, "changes")) == 0;
    json_decref(d);
  }
  json_decref(sa);
  json_decref(sb);
  json_decref(x);
  json_decref(y);
  return eq;
}

static void text_value(char *buf, size_t len, const json_t *v) {
  if (json_is_real(v))
    snprintf(buf, len, "%g", json_real_value(v));
  else if (!v || json_is_null(v))
    snprintf(buf, len, "none");
  else {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    snprintf(buf, len, "%s", s ? s : "?");
    free(s);
  }
}

/* Records a conflict: `where` (e.g. track "Bass"), `what` (e.g. volume_db), the three values (any may be NULL
 * for "absent"), and a sentence. */
static void conflict(struct merge *m, const char *where, const char *what, const json_t *b, const json_t *r,
                     const json_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  json_t *msg = json_vsprintf(fmt, ap);
  va_end(ap);
  json_t *o = json_pack("{s:s, s:s, s:o}", "where", where, "what", what, "message", msg);
  json_object_set_new(o, "before", b ? json_deep_copy(b) : json_null());
  json_object_set_new(o, "iteration", r ? json_deep_copy(r) : json_null());
  json_object_set_new(o, "now", c ? json_deep_copy(c) : json_null());
  json_array_append_new(m->conflicts, o);
}

/* Equality for the merge: numbers within 1e-3 (a value read back through OSC in another bridge process may
 * differ in the last float digits; no musical edit is that small), the rest exactly. */
static int mv_equal(const json_t *a, const json_t *b) { return json_near(a, b, 1e-3); }

/* Three-way value: b (before the iteration), r (after it), c (now). New reference to the merged value. */
static json_t *merge_value(struct merge *m, const char *where, const char *what, const json_t *b, const json_t *r,
                           const json_t *c) {
  if (mv_equal(b, r) || mv_equal(c, b))
    return c ? json_deep_copy(c) : json_null(); /* the iteration did not touch it, or it is already back */
  if (mv_equal(c, r)) return b ? json_deep_copy(b) : json_null(); /* only the iteration changed it: revert */
  char vb[64], vr[64], vc[64];
  text_value(vb, sizeof vb, b);
  text_value(vr, sizeof vr, r);
  text_value(vc, sizeof vc, c);
  conflict(m, where, what, b, r, c, "%s %s: the iteration changed it from %s to %s, and it was changed to %s since",
           where, what, vb, vr, vc);
  return m->force ? (b ? json_deep_copy(b) : json_null()) : (c ? json_deep_copy(c) : json_null());
}

typedef void (*merge_item_fn)(struct merge *m, const char *where, const json_t *b, const json_t *r, json_t *c);

/* Three-way merge of a list of objects (tracks, clips, effects, markers): items are paired between the three
 * lists with `same`; the result starts from the current list:
 *   in the iteration's result but not before it (added by it): dropped if unchanged since, else a conflict;
 *   before it but not in its result (removed by it): added back (at its old position) unless it exists now;
 *   in all three: `item` merges it in place (NULL: kept as it is now);
 *   before and after it but gone now (removed since): stays gone, a conflict if the iteration had changed it;
 *   only now (added since): kept.
 * `kind` names items in messages and for same_music (NULL: no same_music, e.g. markers). New reference. */
static json_t *merge_list(struct merge *m, const char *where, const char *kind, const json_t *B, const json_t *R,
                          const json_t *C, int passes, same_fn same, merge_item_fn item,
                          const char *(*label)(const json_t *, char *, size_t)) {
  size_t nb = json_array_size(B), nc = json_array_size(C);
  int *br = NULL, *rb = NULL, *rc = NULL, *cr = NULL, *bc = NULL, *cb = NULL;
  json_t *out = json_array();
  if (!match_alloc(B, R, passes, same, &br, &rb) || !match_alloc(R, C, passes, same, &rc, &cr) ||
      !match_alloc(B, C, passes, same, &bc, &cb))
    goto done;
  /* pair by the chains first (B-R-C), then directly */
  int *c_b = calloc(nc + 1, sizeof(int)), *c_r = calloc(nc + 1, sizeof(int));
  char *b_used = calloc(nb + 1, 1);
  if (!c_b || !c_r || !b_used) {
    free(c_b), free(c_r), free(b_used);
    goto done;
  }
  for (size_t k = 0; k < nc; k++) {
    c_r[k] = cr[k];
    c_b[k] = cr[k] >= 0 ? rb[cr[k]] : -1;
    if (c_b[k] < 0 && cr[k] < 0) c_b[k] = cb[k];
    if (c_b[k] >= 0 && b_used[c_b[k]]) c_b[k] = -1;
    if (c_b[k] >= 0) b_used[c_b[k]] = 1;
  }
  char lab[300], w[400];
  for (size_t k = 0; k < nc; k++) {
    json_t *c = json_array_get(C, k);
    json_t *r = c_r[k] >= 0 ? json_array_get(R, (size_t)c_r[k]) : NULL;
    json_t *b = c_b[k] >= 0 ? json_array_get(B, (size_t)c_b[k]) : NULL;
    label(c, lab, sizeof lab);
    snprintf(w, sizeof w, "%s%s%s", where, where[0] ? " " : "", lab);
    if (r && !b) { /* added by the iteration */
      if (!kind || same_music(kind, r, c)) continue;
      conflict(m, w, "changed since", NULL, NULL, NULL,
               "%s was added by the iteration and changed since: removing it would lose that", w);
      if (m->force) continue;
      json_array_append(out, c);
      continue;
    }
    json_t *copy = json_deep_copy(c);
    if (r && b && item) item(m, w, b, r, copy);
    json_array_append_new(out, copy);
  }
  /* removed by the iteration, or removed since */
  for (size_t j = 0; j < nb; j++) {
    if (b_used[j]) continue;
    json_t *b = json_array_get(B, j);
    json_t *r = br[j] >= 0 ? json_array_get(R, (size_t)br[j]) : NULL;
    label(b, lab, sizeof lab);
    snprintf(w, sizeof w, "%s%s%s", where, where[0] ? " " : "", lab);
    if (r) { /* the musician removed it after the iteration */
      if (!kind || same_music(kind, b, r)) continue;
      conflict(m, w, "removed since", NULL, NULL, NULL,
               "%s was changed by the iteration and removed since: reverting the change would bring it back", w);
      if (!m->force) continue;
    }
    /* add back B's version at (about) its old position; no id clash with what is there now */
    json_t *copy = json_deep_copy(b);
    const char *id = str(copy, "id", NULL), *hid = str(copy, "host_id", NULL);
    for (size_t k = 0; k < json_array_size(out); k++) {
      const json_t *o = json_array_get(out, k);
      if (id && str_eq(id, str(o, "id", NULL))) json_object_del(copy, "id"), id = NULL;
      if (hid && str_eq(hid, str(o, "host_id", NULL))) json_object_del(copy, "host_id"), hid = NULL;
    }
    size_t pos = j < json_array_size(out) ? j : json_array_size(out);
    json_array_insert_new(out, pos, copy);
  }
  free(c_b), free(c_r), free(b_used);
done:
  free(br), free(rb), free(rc), free(cr), free(bc), free(cb);
  return out;
}

static const char *track_label(const json_t *t, char *buf, size_t len) {
  snprintf(buf, len, "track \"%s\"", str(t, "name", "?"));
  return buf;
}

static const char *clip_label(const json_t *c, char *buf, size_t len) {
  snprintf(buf, len, "clip at beat %g", num(c, "start", 0));
  return buf;
}

static const char *fx_label(const json_t *f, char *buf, size_t len) {
  snprintf(buf, len, "effect \"%s\"", str(f, "name", "?"));
  return buf;
}

static const char *marker_label(const json_t *mk, char *buf, size_t len) {
  snprintf(buf, len, "marker \"%s\" at beat %g", str(mk, "name", ""), num(mk, "position", 0));
  return buf;
}

/* Effects pair by name and occurrence (the 2nd "ReaEQ" with the 2nd "ReaEQ"). */
static int fx_occurrence(const json_t *fx) {
  json_t *o = json_object_get(fx, "_occ");
  return json_is_integer(o) ? (int)json_integer_value(o) : 0;
}

static int fx_same(const json_t *a, const json_t *b, int pass) {
  (void)pass;
  return str_eq(fx_name(a), fx_name(b)) && fx_occurrence(a) == fx_occurrence(b);
}

/* A copy of a chain with "_occ" set on each effect. */
static json_t *fx_tagged(const json_t *chain) {
  json_t *out = json_array();
  for (size_t i = 0; i < json_array_size(chain); i++) {
    json_t *f = json_deep_copy(json_array_get(chain, i));
    int occ = 0;
    for (size_t k = 0; k < i; k++) occ += str_eq(fx_name(json_array_get(chain, k)), fx_name(f));
    json_object_set_new(f, "_occ", json_integer(occ));
    json_array_append_new(out, f);
  }
  return out;
}

static void merge_fx_item(struct merge *m, const char *where, const json_t *b, const json_t *r, json_t *c) {
  json_object_set_new(c, "enabled",
                      merge_value(m, where, "enabled", json_object_get(b, "enabled"), json_object_get(r, "enabled"),
                                  json_object_get(c, "enabled")));
  json_t *params = json_object_get(c, "params");
  for (size_t i = 0; i < json_array_size(params); i++) {
    json_t *p = json_array_get(params, i);
    json_int_t idx = json_integer_value(json_object_get(p, "index"));
    json_t *pb = param_by_index(b, idx), *pr = param_by_index(r, idx);
    if (!pb || !pr) continue;
    char what[200];
    snprintf(what, sizeof what, "parameter \"%s\"", str(p, "name", "?"));
    json_object_set_new(p, "value",
                        merge_value(m, where, what, json_object_get(pb, "value"), json_object_get(pr, "value"),
                                    json_object_get(p, "value")));
  }
}

/* Notes, as multisets, one distinct note (pitch, start, length, velocity) at a time, with b, r, c its counts
 * before the iteration, after it, and now: the iteration's additions go (but never below what was there before
 * it: b), its removals come back (but never above b, so a note put back by hand is not doubled); notes added or
 * removed since stay so:
 *   r > b: min(c, max(b, c - (r - b)));   r < b: max(c, min(b, c + (b - r)));   r == b: c. */
static size_t note_count(const json_t *list, const json_t *n) {
  size_t k = 0;
  for (size_t i = 0; i < json_array_size(list); i++) k += note_eq(json_array_get(list, i), n);
  return k;
}

static json_t *merge_notes(const json_t *B, const json_t *R, const json_t *C) {
  json_t *out = json_array();
  json_t *seen = json_array();
  const json_t *lists[3] = {C, B, R};
  for (int l = 0; l < 3; l++) {
    for (size_t i = 0; i < json_array_size(lists[l]); i++) {
      json_t *n = json_array_get(lists[l], i);
      if (note_count(seen, n)) continue;
      json_array_append(seen, n);
      long b = (long)note_count(B, n), r = (long)note_count(R, n), c = (long)note_count(C, n), m = c;
      if (r > b) {
        m = c - (r - b);
        if (m < b) m = b;
        if (m > c) m = c;
      } else if (r < b) {
        m = c + (b - r);
        if (m > b) m = b;
        if (m < c) m = c;
      }
      for (long k = 0; k < m; k++) json_array_append_new(out, note_norm(n));
    }
  }
  json_decref(seen);
  return out;
}

static void merge_clip_item(struct merge *m, const char *where, const json_t *b, const json_t *r, json_t *c) {
  static const char *const keys[] = {"start", "length", "name"};
  for (size_t i = 0; i < 3; i++) {
    json_t *v = merge_value(m, where, keys[i], json_object_get(b, keys[i]), json_object_get(r, keys[i]),
                            json_object_get(c, keys[i]));
    if (json_is_null(v) && !json_object_get(c, keys[i]))
      json_decref(v);
    else
      json_object_set_new(c, keys[i], v);
  }
  json_object_set_new(
      c, "notes", merge_notes(json_object_get(b, "notes"), json_object_get(r, "notes"), json_object_get(c, "notes")));
}

static void strip_occ(json_t *chain) {
  for (size_t i = 0; i < json_array_size(chain); i++) {
    json_t *f = json_array_get(chain, i);
    json_object_del(f, "_occ");
    json_object_set_new(f, "index", json_integer((json_int_t)i + 1));
  }
}

static int fx_in(const json_t *chain, const json_t *fx) {
  for (size_t i = 0; i < json_array_size(chain); i++)
    if (fx_same(json_array_get(chain, i), fx, 0)) return 1;
  return 0;
}

/* The effects both before and after the iteration, in the order of `chain` (borrowed items). */
static json_t *fx_common(const json_t *chain, const json_t *other) {
  json_t *out = json_array();
  for (size_t i = 0; i < json_array_size(chain); i++)
    if (fx_in(other, json_array_get(chain, i))) json_array_append(out, json_array_get(chain, i));
  return out;
}

/* When the iteration re-ordered the chain (the effects present before and after it are in another order after),
 * the merged chain takes the order from before it; effects added since follow at the end. Returns a new reference
 * (the chain itself, re-ordered or not). */
static json_t *fx_order_back(json_t *merged /*steals*/, const json_t *fb, const json_t *fr) {
  json_t *cb = fx_common(fb, fr), *cr = fx_common(fr, fb);
  int reordered = 0;
  for (size_t i = 0; i < json_array_size(cb); i++)
    reordered |= !fx_same(json_array_get(cb, i), json_array_get(cr, i), 0);
  json_decref(cb);
  json_decref(cr);
  if (!reordered) return merged;
  json_t *out = json_array();
  char *used = calloc(json_array_size(merged) + 1, 1);
  for (size_t i = 0; used && i < json_array_size(fb); i++)
    for (size_t k = 0; k < json_array_size(merged); k++)
      if (!used[k] && fx_same(json_array_get(merged, k), json_array_get(fb, i), 0)) {
        used[k] = 1;
        json_array_append(out, json_array_get(merged, k));
        break;
      }
  for (size_t k = 0; k < json_array_size(merged); k++)
    if (!used || !used[k]) json_array_append(out, json_array_get(merged, k));
  free(used);
  json_decref(merged);
  return out;
}

static void merge_track_item(struct merge *m, const char *where, const json_t *b, const json_t *r, json_t *c) {
  for (size_t i = 0; i < N_TRACK_PROPS; i++) {
    json_t *vb = prop_get(b, &TRACK_PROPS[i]), *vr = prop_get(r, &TRACK_PROPS[i]), *vc = prop_get(c, &TRACK_PROPS[i]);
    json_object_set_new(c, TRACK_PROPS[i].key, merge_value(m, where, TRACK_PROPS[i].key, vb, vr, vc));
    json_decref(vb), json_decref(vr), json_decref(vc);
  }
  json_t *fb = fx_tagged(arr(b, "fx")), *fr = fx_tagged(arr(r, "fx")), *fc = fx_tagged(arr(c, "fx"));
  json_t *fx = fx_order_back(merge_list(m, where, "fx", fb, fr, fc, 1, fx_same, merge_fx_item, fx_label), fb, fr);
  strip_occ(fx);
  json_object_set_new(c, "fx", fx);
  json_decref(fb), json_decref(fr), json_decref(fc);
  json_object_set_new(c, "clips",
                      merge_list(m, where, "clip", arr(b, "clips"), arr(r, "clips"), arr(c, "clips"), 4, clip_same,
                                 merge_clip_item, clip_label));
}

static int marker_same3(const json_t *a, const json_t *b, int pass) {
  return marker_same(a, b, pass + 1); /* ids are per bridge process: name+position, position, name */
}

json_t *statediff_merge3(const json_t *base_in, const json_t *result_in, const json_t *current_in, int force,
                         json_t **conflicts_out) {
  const json_t *B = state_of(base_in), *R = state_of(result_in), *C = state_of(current_in);
  struct merge m = {force, json_array()};
  json_t *out = json_deep_copy(C);
  if (!out || !m.conflicts) {
    json_decref(out);
    json_decref(m.conflicts);
    return NULL;
  }
  json_t *v = merge_value(&m, "project", "tempo", json_object_get(B, "tempo"), json_object_get(R, "tempo"),
                          json_object_get(C, "tempo"));
  if (json_is_null(v))
    json_decref(v);
  else
    json_object_set_new(out, "tempo", v);
  json_t *tb = timesig_get(B), *tr = timesig_get(R), *tc = timesig_get(C);
  json_object_set_new(out, "time_signature", merge_value(&m, "project", "time_signature", tb, tr, tc));
  json_decref(tb), json_decref(tr), json_decref(tc);
  json_t *lb = loop_get(B), *lr = loop_get(R), *lc = loop_get(C);
  json_object_set_new(out, "loop", merge_value(&m, "project", "loop", lb, lr, lc));
  json_decref(lb), json_decref(lr), json_decref(lc);
  json_object_set_new(out, "markers",
                      merge_list(&m, "", NULL, arr(B, "markers"), arr(R, "markers"), arr(C, "markers"), 3, marker_same3,
                                 NULL, marker_label));
  json_object_set_new(out, "tracks",
                      merge_list(&m, "", "track", arr(B, "tracks"), arr(R, "tracks"), arr(C, "tracks"), 3, track_same,
                                 merge_track_item, track_label));
  if (conflicts_out)
    *conflicts_out = m.conflicts;
  else
    json_decref(m.conflicts);
  return out;
}
