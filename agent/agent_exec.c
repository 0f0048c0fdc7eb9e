/* agent_exec: stage 2 — the actions record, tool arguments (notation, catalog names), the DAW request, the direct
 * executor and the LLM executor, and the plan matching that refuses calls outside the plan. See agent.h. */
#include "agent_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errfmt.h"
#include "history.h"
#include "instmap.h"
#include "notation.h"
#include "session.h"

static void on_direct_checked(int status, const json_t *result, const char *message, void *data);
static void s2_start(agent_t *a);
static void on_s2_checked(int status, const json_t *result, const char *message, void *data);
static void s2_next_call(agent_t *a);

/* ------------------------------------------------------------------------------------------------ */
/* Actions */

static void count_failure(agent_t *a, int status) {
  if (!status) return;
  a->n_failed++;
  if (status == DAW_EUNREACHABLE || status == DAW_ETIMEDOUT) a->n_unreachable++;
}

static json_t *record_action(agent_t *a, int step, const char *tool, const json_t *args, int ok, const json_t *result,
                             const char *error) {
  json_t *x = json_object();
  if (step > 0) json_object_set_new(x, "step", json_integer(step));
  json_object_set_new(x, "tool", json_string(tool ? tool : ""));
  json_object_set_new(x, "args", args ? json_deep_copy(args) : json_object());
  json_object_set_new(x, "ok", json_boolean(ok));
  json_object_set_new(x, "outcome", json_string(agent_outcome_of(ok, result)));
  json_object_set_new(x, "result", result ? json_deep_copy(result) : json_null());
  if (error) json_object_set_new(x, "error", json_string(error));
  json_object_set_new(x, "phase", json_string(a->round ? "fix" : "execute"));
  if (ok && step > 0) {
    /* earlier failed attempts of this step were retried with success */
    size_t i;
    json_t *p;
    json_array_foreach(a->actions, i, p) {
      if (json_integer_value(json_object_get(p, "step")) == step && !json_is_true(json_object_get(p, "ok")) &&
          !json_object_get(p, "refused"))
        json_object_set_new(p, "retried", json_true());
    }
  }
  json_array_append_new(a->actions, x);
  return x;
}

static const char *track_name_of(agent_t *a, const char *id) {
  session_t *s = daw_session(a->cfg.daw);
  int idx = id ? session_track_index_by_id(s, id) : 0;
  return idx ? session_track_name(s, idx) : NULL;
}

static void log_result(agent_t *a, const char *tool, const json_t *args, int status, const json_t *result,
                       const char *message) {
  if (status) {
    agent_log(a, LOG_INFO, "tool %s failed: %s", tool, message ? message : "error");
    return;
  }
  const char *st = json_string_value(json_object_get(result, "status"));
  const char *tid = json_string_value(json_object_get(result, "track_id"));
  const char *cid = json_string_value(json_object_get(result, "clip_id"));
  agent_log(a, LOG_INFO, "tool %s: %s%s%s%s%s", tool, st ? st : "done", tid ? ", track " : "", tid ? tid : "",
            cid ? ", clip " : "", cid ? cid : "");
  if (vocab_lookup(tool) == VOCAB_CREATE_TRACK) {
    const char *nm = json_string_value(json_object_get(args, "name"));
    const char *ty = json_string_value(json_object_get(args, "type"));
    char *q = agent_compact(json_object_get(args, "name"));
    agent_log(a, LOG_INFO, "track created: %s (%s, %s)", q ? q : (nm ? nm : "?"), tid ? tid : "?", ty ? ty : "?");
    free(q);
  } else if (vocab_lookup(tool) == VOCAB_CREATE_MIDI_CLIP) {
    const char *tr = json_string_value(json_object_get(args, "track_id"));
    json_int_t n = json_is_integer(json_object_get(result, "notes_added"))
                       ? json_integer_value(json_object_get(result, "notes_added"))
                       : (json_int_t)json_array_size(json_object_get(args, "notes"));
    const char *tn = track_name_of(a, tid ? tid : tr);
    json_t *tq = tn ? json_string(tn) : NULL;
    char *q = tq ? agent_compact(tq) : NULL;
    json_decref(tq);
    agent_log(a, LOG_INFO, "clip added: %s on %s%s%s, %lld note%s", cid ? cid : "?", tid ? tid : (tr ? tr : "?"),
              q ? " " : "", q ? q : "", (long long)n, n == 1 ? "" : "s");
    free(q);
  } else if (vocab_lookup(tool) == VOCAB_ADD_EFFECT) {
    const char *en = json_string_value(json_object_get(args, "effect_name"));
    const char *tr = json_string_value(json_object_get(args, "track_id"));
    agent_log(a, LOG_INFO, "effect added: %s on %s", en ? en : "?", tid ? tid : (tr ? tr : "?"));
  }
}

/* Expand notation in tool arguments (notes, add_notes, remove_notes); canonicalize catalog names.
 * Returns a new object or NULL with err. */
static int canon_catalog(const json_t *list, const char *name, const char **out) {
  size_t i, k;
  json_t *e, *al;
  json_array_foreach(list, i, e) {
    const char *n = json_string_value(json_object_get(e, "name"));
    if (n && !strcasecmp(n, name)) {
      *out = n;
      return 1;
    }
    json_array_foreach(json_object_get(e, "aliases"), k, al) {
      if (json_string_value(al) && !strcasecmp(json_string_value(al), name)) {
        *out = n;
        return 1;
      }
    }
  }
  return 0;
}

json_t *agent_expand_call_args(const json_t *catalog, const json_t *args, char *err, size_t errlen) {
  json_t *x = json_deep_copy(args);
  if (!x) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  static const char *const note_keys[] = {"notes", "add_notes"};
  for (size_t k = 0; k < 2; k++) {
    json_t *v = json_object_get(x, note_keys[k]);
    if (!v) continue;
    char e2[400];
    json_t *ex = notation_expand_notes(v, NULL, e2, sizeof e2);
    if (!ex) {
      snprintf(err, errlen, "%s: %s", note_keys[k], e2);
      json_decref(x);
      return NULL;
    }
    json_object_set_new(x, note_keys[k], ex);
  }
  json_t *rm = json_object_get(x, "remove_notes");
  size_t i;
  json_t *n;
  json_array_foreach(rm, i, n) {
    json_t *nv = json_object_get(n, "n");
    if (json_is_string(nv)) {
      int midi;
      char e2[256];
      if (notation_pitch(json_string_value(nv), &midi, e2, sizeof e2)) {
        snprintf(err, errlen, "remove_notes[%zu]: %s", i, e2);
        json_decref(x);
        return NULL;
      }
      json_object_set_new(n, "n", json_integer(midi));
    }
  }
  const json_t *cat = catalog;
  const char *canon;
  const char *en = json_string_value(json_object_get(x, "effect_name"));
  if (en && canon_catalog(json_object_get(cat, "effects"), en, &canon))
    json_object_set_new(x, "effect_name", json_string(canon));
  const char *in = json_string_value(json_object_get(x, "instrument"));
  if (in && canon_catalog(json_object_get(cat, "instruments"), in, &canon))
    json_object_set_new(x, "instrument", json_string(canon));
  return x;
}

static int tool_offered(agent_t *a, const char *name) {
  size_t i;
  json_t *t;
  json_array_foreach(a->tools_avail, i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    if (n && name && !strcmp(n, name)) return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* Stage 2 */

int agent_is_direct(agent_t *a) { return a->mode == MODE_EXEC || a->cfg.executor == AGENT_EXEC_DIRECT; }

static void on_begun(int status, const json_t *result, const char *message, void *data) {
  agent_t *a = data;
  (void)result;
  a->daw_pending = 0;
  if (status)
    agent_log(a, LOG_WARN, "could not open the DAW's undo block: %s", message ? message : daw_strerror(status));
  else
    a->request_begun = 1;
  if (agent_stop_if_canceled(a)) return;
  if (agent_is_direct(a)) {
    /* the validated plan's steps, in order */
    a->work = json_array();
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(a->plan_json, "steps"), i, st) {
      json_array_append_new(a->work, json_pack("{sOsOsO}", "step", json_object_get(st, "step"), "tool",
                                               json_object_get(st, "tool"), "args", json_object_get(st, "args")));
    }
    a->step_i = 0;
    agent_direct_next(a);
  } else {
    s2_start(a);
  }
}

/* Before the first DAW change: can the data directory take the iteration (read-only, full)? */
static int check_storage(agent_t *a, char *m, size_t mlen) {
  if (a->cfg.no_save) return 0;
  char err[512];
  const char *comp = agent_composition(a);
  history_t *h = history_open(a->cfg.data_dir, comp, err, sizeof err);
  if (!h) {
    errfmt(m, mlen, 0,
           "the history of \"%s\" cannot be opened, so the change could not be saved: %s; nothing was "
           "sent to the DAW",
           comp, err);
    return -1;
  }
  int rc = history_check_writable(h, err, sizeof err);
  history_free(h);
  if (rc) {
    errfmt(m, mlen, 0, "the data directory cannot take the iteration: %s; nothing was sent to the DAW", err);
    return -1;
  }
  return 0;
}

void agent_begin_exec(agent_t *a) {
  json_decref(a->before);
  a->before = session_to_json(daw_session(a->cfg.daw));
  char m[800];
  if (check_storage(a, m, sizeof m)) {
    agent_log(a, LOG_INFO, "%s", m);
    agent_job_done(a, AGENT_ESTORAGE, m);
    return;
  }
  agent_set_stage(a, AGENT_EXECUTING);
  a->exec_started = 1;
  agent_log(a, LOG_INFO, "executing %zu step%s (%s executor)", plan_step_count(a->plan),
            plan_step_count(a->plan) == 1 ? "" : "s", agent_is_direct(a) ? "direct" : "llm");
  a->daw_pending = 1;
  int rc = daw_begin_request(a->cfg.daw, a->request ? a->request : "dawbridge", on_begun, a);
  if (rc) {
    a->daw_pending = 0;
    on_begun(rc, NULL, daw_strerror(rc), a);
  }
}

/* ---- the direct executor ---- */

/* Copy of v with references resolved to confirmed ids; *missing = the step number of an unresolved one. */
static json_t *resolve_refs(agent_t *a, const json_t *v, const char *key, int *missing) {
  const char *kind;
  int n = plan_ref_step(v, &kind);
  if (n > 0) {
    char k[16];
    snprintf(k, sizeof k, "%d", n);
    int want_clip = (key && !strcmp(key, "clip_id")) || !strcmp(kind, "clip");
    const json_t *id = json_object_get(want_clip ? a->step_clips : a->step_tracks, k);
    if (!json_is_string(id)) {
      if (!*missing) *missing = n;
      return json_null();
    }
    return json_copy((json_t *)id);
  }
  if (json_is_object(v)) {
    json_t *o = json_object();
    const char *kk;
    json_t *x;
    json_object_foreach((json_t *)v, kk, x) json_object_set_new(o, kk, resolve_refs(a, x, kk, missing));
    return o;
  }
  if (json_is_array(v)) {
    json_t *arr = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) json_array_append_new(arr, resolve_refs(a, x, key, missing));
    return arr;
  }
  return json_deep_copy(v);
}

struct direct_call {
  agent_t *a;
  int step;
  char tool[48];
  json_t *args;
};

static void note_created(agent_t *a, int step, const char *tool, const json_t *result) {
  if (step <= 0) return;
  char k[16];
  snprintf(k, sizeof k, "%d", step);
  const json_t *tid = json_object_get(result, "track_id");
  const json_t *cid = json_object_get(result, "clip_id");
  if (vocab_lookup(tool) == VOCAB_CREATE_TRACK && json_is_string(tid))
    json_object_set(a->step_tracks, k, (json_t *)tid);
  if (vocab_lookup(tool) == VOCAB_CREATE_MIDI_CLIP && json_is_string(cid))
    json_object_set(a->step_clips, k, (json_t *)cid);
}

static void on_direct_result(int status, const json_t *result, const char *message, void *data) {
  struct direct_call *dc = data;
  dc->a->daw_pending = 0;
  if (agent_readback_start(dc->a, dc->tool, dc->args, status, message, on_direct_checked, dc)) return;
  on_direct_checked(status, result, message, dc);
}

static void on_direct_checked(int status, const json_t *result, const char *message, void *data) {
  struct direct_call *dc = data;
  agent_t *a = dc->a;
  a->daw_pending = 0;
  if (!a->closing) {
    record_action(a, dc->step, dc->tool, dc->args, status == 0, result,
                  status ? (message ? message : daw_strerror(status)) : NULL);
    log_result(a, dc->tool, dc->args, status, result, message);
    if (a->cfg.cb.on_tool_result)
      a->cfg.cb.on_tool_result(a, dc->tool, dc->args, status, result, message, a->cfg.cb.data);
    if (!status) note_created(a, dc->step, dc->tool, result);
    count_failure(a, status);
  }
  json_decref(dc->args);
  free(dc);
  if (agent_stop_if_canceled(a)) return;
  agent_direct_next(a);
}

void agent_direct_next(agent_t *a) {
  while (a->step_i < json_array_size(a->work)) {
    json_t *w = json_array_get(a->work, a->step_i++);
    int step = (int)json_integer_value(json_object_get(w, "step"));
    const char *tool = json_string_value(json_object_get(w, "tool"));
    int missing = 0;
    json_t *args = resolve_refs(a, json_object_get(w, "args"), NULL, &missing);
    if (missing) {
      char m[200];
      snprintf(m, sizeof m, "not run: Step %d, which this step refers to, did not run", missing);
      record_action(a, step, tool, args, 0, NULL, m);
      agent_log(a, LOG_INFO, "Step %d (%s) %s", step, tool, m);
      if (a->cfg.cb.on_tool_result) a->cfg.cb.on_tool_result(a, tool, args, DAW_ENOTRACK, NULL, m, a->cfg.cb.data);
      json_decref(args);
      continue;
    }
    char *aj = agent_compact(args);
    agent_log(a, LOG_INFO, "tool call (Step %d): %s %s", step, tool, aj ? aj : "{}");
    free(aj);
    if (a->cfg.cb.on_tool_call) a->cfg.cb.on_tool_call(a, tool, args, a->cfg.cb.data);
    struct direct_call *dc = calloc(1, sizeof *dc);
    dc->a = a;
    dc->step = step;
    snprintf(dc->tool, sizeof dc->tool, "%s", tool ? tool : "");
    dc->args = args;
    a->daw_pending = 1;
    int rc = daw_call(a->cfg.daw, dc->tool, args, on_direct_result, dc);
    if (rc) {
      a->daw_pending = 0;
      record_action(a, step, tool, args, 0, NULL, daw_strerror(rc));
      json_decref(args);
      free(dc);
      if (rc == DAW_ECANCELED) break;
      continue;
    }
    return;
  }
  agent_after_round(a);
}

/* ---- stage 2 carries out only the plan (issue 10 §4) ----
 *
 * The llm executor keeps the list of what the model may still do: the validated plan's steps (in the corrective
 * round also the repairs verification proposed). A call runs only when it matches an open entry: the same tool,
 * the same target (track/clip references of the plan resolved through the ids earlier steps returned), every
 * argument the plan gives with the same value (numbers within a small tolerance, names case-insensitively, catalog
 * names canonically, notes as the same set), and no other argument — except for a tool that creates an object,
 * where arguments the plan left open (a clip's name, an effect's parameters) are refinements. A call that succeeds
 * (confirmed or uncertain) consumes its entry, so the same create_track twice is refused the second time; a call
 * that failed leaves it open for a retry. Read-only tools (kind "read") may always be called and consume nothing. */

static void s2_open_add(agent_t *a, const json_t *step, const json_t *tool, const json_t *args, int repair) {
  json_t *e = json_pack("{sOsOsosb}", "step", step, "tool", tool, "args", args ? json_deep_copy(args) : json_object(),
                        "used", 0);
  if (!e) return;
  if (repair) json_object_set_new(e, "repair", json_true());
  json_array_append_new(a->s2_open, e);
}

static void s2_open_plan(agent_t *a) {
  json_decref(a->s2_open);
  a->s2_open = json_array();
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(a->plan_json, "steps"), i, st)
      s2_open_add(a, json_object_get(st, "step"), json_object_get(st, "tool"), json_object_get(st, "args"), 0);
}

void agent_s2_open_repairs(agent_t *a) {
  if (!a->s2_open) a->s2_open = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(a->violations, i, v) {
    const json_t *fix = json_object_get(v, "fix");
    if (!json_is_object(fix) || !json_is_string(json_object_get(fix, "tool"))) continue;
    s2_open_add(a, json_object_get(v, "step"), json_object_get(fix, "tool"), json_object_get(fix, "args"), 1);
  }
}

/* A track reference (id, host id or exact name) as the mirror's bridge id; the text itself when unknown. */
static const char *track_ref_id(agent_t *a, const char *ref) {
  if (!ref) return NULL;
  session_t *s = daw_session(a->cfg.daw);
  int idx = session_track_resolve(s, ref);
  const char *id = idx ? session_track_id(s, idx) : NULL;
  return id ? id : ref;
}

/* The plan's value of a track_id/clip_id argument as an id (references resolved through the ids earlier steps
 * returned); NULL when it refers to a step that has not produced its object yet. */
static const char *plan_target(agent_t *a, const char *key, const json_t *v, int depth) {
  const char *kind;
  int n = plan_ref_step(v, &kind);
  if (n <= 0) return json_string_value(v);
  char k[16];
  snprintf(k, sizeof k, "%d", n);
  if (!strcmp(key, "clip_id")) return json_string_value(json_object_get(a->step_clips, k));
  const char *id = json_string_value(json_object_get(a->step_tracks, k));
  if (id || depth > 8) return id;
  /* a reference to a clip step where a track is meant: that clip's track */
  const json_t *target = NULL;
  size_t i;
  json_t *st;
  json_array_foreach(json_object_get(a->plan_json, "steps"), i, st) {
    if (json_integer_value(json_object_get(st, "step")) == n) target = st;
  }
  const json_t *tv = json_object_get(json_object_get(target, "args"), "track_id");
  return tv ? plan_target(a, key, tv, depth + 1) : NULL;
}

/* The creating step's result was lost (its confirmation did not come, so no id was returned): a track the call
 * names is that step's track when it is new since execution began and has the name the step gave it. */
static const char *new_track_of_step(agent_t *a, int n, const char *id) {
  if (n <= 0 || !id) return NULL;
  session_t *s = daw_session(a->cfg.daw);
  int idx = session_track_index_by_id(s, id);
  if (!idx) return NULL;
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(a->before, "tracks"), i, t) {
    const char *bid = json_string_value(json_object_get(t, "id"));
    if (bid && !strcmp(bid, id)) return NULL;
  }
  const json_t *step = NULL, *st;
  json_array_foreach(json_object_get(a->plan_json, "steps"), i, st) {
    if (json_integer_value(json_object_get(st, "step")) == n) step = st;
  }
  const char *tool = json_string_value(json_object_get(step, "tool"));
  const char *name = json_string_value(json_object_get(json_object_get(step, "args"), "name"));
  const char *have = session_track_name(s, idx);
  if (!tool || vocab_lookup(tool) != VOCAB_CREATE_TRACK || !name || !have || strcasecmp(name, have)) return NULL;
  return id;
}

static int note_eq(const json_t *x, const json_t *y) {
  if (fabs(json_number_value(json_object_get(x, "n")) - json_number_value(json_object_get(y, "n"))) > 0.01) return 0;
  if (fabs(json_number_value(json_object_get(x, "s")) - json_number_value(json_object_get(y, "s"))) > 0.01) return 0;
  if (fabs(json_number_value(json_object_get(x, "d")) - json_number_value(json_object_get(y, "d"))) > 0.01) return 0;
  const json_t *vx = json_object_get(x, "v"), *vy = json_object_get(y, "v");
  /* a velocity left out on one side is the default: not a different note */
  return !vx || !vy || fabs(json_number_value(vx) - json_number_value(vy)) <= 1.01;
}

static int note_cmp(const void *pa, const void *pb) {
  const json_t *x = *(const json_t *const *)pa, *y = *(const json_t *const *)pb;
  double ks[2][3] = {{json_number_value(json_object_get(x, "s")), json_number_value(json_object_get(x, "n")),
                      json_number_value(json_object_get(x, "d"))},
                     {json_number_value(json_object_get(y, "s")), json_number_value(json_object_get(y, "n")),
                      json_number_value(json_object_get(y, "d"))}};
  for (int i = 0; i < 3; i++) {
    double a = round(ks[0][i] * 100), b = round(ks[1][i] * 100);
    if (a != b) return a < b ? -1 : 1;
  }
  return 0;
}

/* The same notes, as a multiset (order free). Linear when the call keeps the plan's order, else sorted; a
 * quadratic search only for small clips whose values sit on a rounding boundary. */
static int notes_eq(const json_t *p, const json_t *c) {
  if (!json_is_array(p) || !json_is_array(c) || json_array_size(p) != json_array_size(c)) return 0;
  size_t n = json_array_size(p), i, k;
  for (i = 0; i < n && note_eq(json_array_get(p, i), json_array_get(c, i)); i++) {}
  if (i == n) return 1;
  const json_t **sp = malloc(n * sizeof *sp), **sc = malloc(n * sizeof *sc);
  int ok = sp && sc;
  if (ok) {
    for (i = 0; i < n; i++) sp[i] = json_array_get(p, i), sc[i] = json_array_get(c, i);
    qsort(sp, n, sizeof *sp, note_cmp);
    qsort(sc, n, sizeof *sc, note_cmp);
    for (i = 0; i < n && note_eq(sp[i], sc[i]); i++) {}
    ok = i == n;
  }
  free(sp);
  free(sc);
  if (ok || n > 512) return ok;
  unsigned char used[512] = {0};
  for (i = 0; i < n; i++) {
    const json_t *x = json_array_get(p, i);
    int found = 0;
    for (k = 0; k < n && !found; k++) {
      if (!used[k] && note_eq(x, json_array_get(c, k))) used[k] = 1, found = 1;
    }
    if (!found) return 0;
  }
  return 1;
}

static int value_eq(const json_t *p, const json_t *c) {
  if (json_is_number(p) && json_is_number(c)) {
    double x = json_number_value(p), y = json_number_value(c);
    return fabs(x - y) <= 1e-3 + 1e-6 * fabs(x);
  }
  if (json_is_string(p) && json_is_string(c)) return !strcasecmp(json_string_value(p), json_string_value(c));
  if (json_is_boolean(p) && json_is_boolean(c)) return json_is_true(p) == json_is_true(c);
  if (json_is_object(p) && json_is_object(c)) {
    if (json_object_size(p) != json_object_size(c)) return 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)p, k, v) {
      if (!json_object_get(c, k) || !value_eq(v, json_object_get(c, k))) return 0;
    }
    return 1;
  }
  if (json_is_array(p) && json_is_array(c)) {
    if (json_array_size(p) != json_array_size(c)) return 0;
    for (size_t i = 0; i < json_array_size(p); i++)
      if (!value_eq(json_array_get(p, i), json_array_get(c, i))) return 0;
    return 1;
  }
  return json_equal((json_t *)p, (json_t *)c);
}

/* Arguments that name what a step works on (never left out, never "refined"). */
/* The tool's kind is k (an unknown tool has none). */
static int kind_is(const char *tool, enum vocab_kind k) {
  int t = vocab_lookup(tool);
  return t >= 0 && vocab_kind((enum vocab_tool)t) == k;
}

static int is_target_key(const char *k) {
  return !strcmp(k, "track_id") || !strcmp(k, "clip_id") || !strcmp(k, "effect_index") || !strcmp(k, "param_index");
}

/* Does the call (tool, prepared args) match the open entry e? On a mismatch, why (for the model). */
static int entry_matches(agent_t *a, const json_t *e, const char *tool, const json_t *args, char *why, size_t wlen) {
  const json_t *pargs = json_object_get(e, "args");
  const json_t *cat = daw_catalog(a->cfg.daw);
  const char *k;
  json_t *pv;
  int step = (int)json_integer_value(json_object_get(e, "step"));
  json_object_foreach((json_t *)pargs, k, pv) {
    const json_t *cv = json_object_get(args, k);
    char *pj = agent_compact(pv);
    int ok = 1;
    if (!strcmp(k, "track_id") || !strcmp(k, "clip_id")) {
      const char *want = plan_target(a, k, pv, 0);
      const char *have = json_string_value(cv);
      if (!strcmp(k, "track_id")) want = track_ref_id(a, want), have = track_ref_id(a, have);
      if (!want && !strcmp(k, "track_id")) want = new_track_of_step(a, plan_ref_step(pv, NULL), have);
      ok = want && have && !strcmp(want, have);
      if (!ok && !want) {
        snprintf(why, wlen, "Step %d (%s) works on the object Step %d creates, which does not exist yet", step, tool,
                 plan_ref_step(pv, NULL));
        free(pj);
        return 0;
      }
      if (!ok) {
        free(pj);
        snprintf(why, wlen, "Step %d (%s) is for %s %s, not %s", step, tool, k, want, have ? have : "(missing)");
        return 0;
      }
    } else if (!cv) {
      /* a change step may be carried out in parts (volume, then pan): each part with the plan's value */
      if (kind_is(tool, VOCAB_CHANGE) && !is_target_key(k)) {
        free(pj);
        continue;
      }
      ok = 0;
    } else if (!strcmp(k, "notes") || !strcmp(k, "add_notes") || !strcmp(k, "remove_notes")) {
      ok = notes_eq(pv, cv);
    } else if ((!strcmp(k, "effect_name") || !strcmp(k, "instrument")) && json_is_string(pv) && json_is_string(cv)) {
      const char *list = !strcmp(k, "effect_name") ? "effects" : "instruments";
      const char *cp = json_string_value(pv), *cc = json_string_value(cv);
      canon_catalog(json_object_get(cat, list), cp, &cp);
      canon_catalog(json_object_get(cat, list), cc, &cc);
      ok = !strcasecmp(cp, cc);
      if (!ok && !strcmp(k, "instrument") && json_object_get(cat, "instrument_map")) {
        /* the plan's role and the call's word or plugin name the same sound of this DAW (osc-maps/instruments/):
         * "kick" and "ReaSynDr" are the same step */
        json_t *rp = NULL, *rc = NULL;
        const json_t *im = json_object_get(cat, "instrument_map");
        if (!instmap_resolve_json(im, cp, &rp, NULL, 0) && !instmap_resolve_json(im, cc, &rc, NULL, 0)) {
          const char *pp = json_string_value(json_object_get(rp, "plugin"));
          const char *kc = json_string_value(json_object_get(rc, "kind"));
          const char *sp = json_string_value(json_object_get(rp, "sound"));
          const char *sc = json_string_value(json_object_get(rc, "sound"));
          ok = pp && !strcmp(pp, json_string_value(json_object_get(rc, "plugin"))) && kc &&
               (!strcmp(kc, "plugin") || (!strcmp(kc, "role") && sp && sc && !strcmp(sp, sc)));
        }
        json_decref(rp);
        json_decref(rc);
      }
    } else {
      ok = value_eq(pv, cv);
    }
    if (!ok) {
      char *cj = cv ? agent_compact(cv) : NULL;
      if (snprintf(why, wlen, "Step %d (%s) says %s: %.200s%s, the call has %.200s", step, tool, k, pj ? pj : "?",
                   pj && strlen(pj) > 200 ? "..." : "", cj ? cj : "nothing") >= (int)wlen)
        why[wlen - 1] = 0; /* cut: fine for a message */
      free(cj);
      free(pj);
      return 0;
    }
    free(pj);
  }
  /* arguments the plan does not give: refinements of an object being created, nothing else */
  int creates = kind_is(tool, VOCAB_CREATE) && !json_is_true(json_object_get(e, "repair"));
  int values = 0;
  json_t *cv;
  json_object_foreach((json_t *)args, k, cv) {
    if (!is_target_key(k)) values++;
    if (json_object_get(pargs, k) || creates) continue;
    snprintf(why, wlen, "Step %d (%s) does not set %s", step, tool, k);
    return 0;
  }
  if (!values && kind_is(tool, VOCAB_CHANGE) && json_object_size(pargs) > 1) {
    snprintf(why, wlen, "Step %d (%s): the call sets nothing the step sets", step, tool);
    return 0;
  }
  return 1;
}

/* The call matched entry idx and the DAW did it: the entry is done (a change step done in parts: the values
 * set are taken off it, and it is done when none is left). */
static void s2_consume(agent_t *a, int idx, const char *tool, const json_t *args) {
  json_t *e = json_array_get(a->s2_open, (size_t)idx);
  if (!e) return;
  if (kind_is(tool, VOCAB_CHANGE)) {
    json_t *pargs = json_object_get(e, "args");
    const char *k;
    json_t *v;
    void *tmp;
    int left = 0;
    json_object_foreach_safe(pargs, tmp, k, v) {
      if (is_target_key(k)) continue;
      if (json_object_get(args, k))
        json_object_del(pargs, k);
      else
        left++;
    }
    if (left) return;
  }
  json_object_set_new(e, "used", json_true());
}

/* The step number of the first open entry of this tool (a failed attempt is tied to it), 0 if none. */
static int s2_candidate_step(agent_t *a, const char *tool) {
  size_t i;
  json_t *e;
  json_array_foreach(a->s2_open, i, e) {
    const char *t = json_string_value(json_object_get(e, "tool"));
    if (t && tool && !strcmp(t, tool) && !json_is_true(json_object_get(e, "used")) &&
        !json_is_true(json_object_get(e, "unknown")))
      return (int)json_integer_value(json_object_get(e, "step"));
  }
  return 0;
}

/* The open entry the call carries out (index into s2_open), or -1 with the reason in why. A read-only tool
 * matches without an entry (returns -2). */
static int s2_match(agent_t *a, const char *tool, const json_t *args, char *why, size_t wlen) {
  if (vocab_name_is_read(tool)) return -2;
  size_t i;
  json_t *e;
  char first[400] = "";
  int used_same = 0, unknown = 0;
  json_array_foreach(a->s2_open, i, e) {
    const char *t = json_string_value(json_object_get(e, "tool"));
    if (!t || strcmp(t, tool)) continue;
    if (json_is_true(json_object_get(e, "used"))) {
      used_same = 1;
      continue;
    }
    if (json_is_true(json_object_get(e, "unknown"))) {
      if (!unknown) unknown = (int)json_integer_value(json_object_get(e, "step"));
      continue;
    }
    char w[400];
    if (entry_matches(a, e, tool, args, w, sizeof w)) return (int)i;
    if (!first[0]) snprintf(first, sizeof first, "%s", w);
  }
  if (first[0])
    snprintf(why, wlen, "refused: not in the plan (%s)", first);
  else if (unknown)
    snprintf(why, wlen,
             "refused: Step %d (%s) may have been done already (its confirmation was lost and the "
             "session could not be read back); it is not sent again",
             unknown, tool);
  else if (used_same)
    snprintf(why, wlen,
             "refused: not in the plan (every %s step of the plan has been carried out already; a step "
             "is done once)",
             tool);
  else
    snprintf(why, wlen, "refused: not in the plan (the plan has no %s step)", tool);
  return -1;
}

/* The open steps, for the model: "Step 2 create_midi_clip, Step 3 add_effect" (or "none"). */
static void s2_open_list(agent_t *a, char *buf, size_t len) {
  size_t o = 0, i;
  json_t *e;
  buf[0] = 0;
  json_array_foreach(a->s2_open, i, e) {
    if (json_is_true(json_object_get(e, "used")) || json_is_true(json_object_get(e, "unknown"))) continue;
    int w = snprintf(
        buf + o, len - o, "%sStep %lld %s%s", o ? ", " : "", (long long)json_integer_value(json_object_get(e, "step")),
        json_string_value(json_object_get(e, "tool")), json_is_true(json_object_get(e, "repair")) ? " (repair)" : "");
    if (w < 0 || (size_t)w >= len - o) break;
    o += (size_t)w;
  }
  if (!o) snprintf(buf, len, "none: every step is done");
}

static void s2_start(agent_t *a) {
  struct prompt_stage2 in = {.dialect = daw_dialect(a->cfg.daw),
                             .request = a->request,
                             .plan = a->plan_json,
                             .state = a->before,
                             .tools = a->tools_avail};
  struct prompt_text pt;
  char err[512];
  if (prompt_stage2(a->prompts, &in, &pt, err, sizeof err)) {
    a->llm_status = LLM_ECONFIG;
    snprintf(a->llm_msg, sizeof a->llm_msg, "%s", err);
    agent_after_round(a);
    return;
  }
  llm_request_free(a->req);
  a->req = llm_request_new();
  if (pt.system) llm_request_set_system(a->req, pt.system);
  llm_request_add_user(a->req, pt.user ? pt.user : "");
  prompt_text_free(&pt);
  size_t i;
  json_t *t;
  json_array_foreach(a->tools_avail, i, t) {
    llm_request_add_tool(a->req, json_string_value(json_object_get(t, "name")),
                         json_string_value(json_object_get(t, "description")), json_object_get(t, "parameters"));
  }
  agent_set_llm_options(a, a->req, 0);
  s2_open_plan(a);
  a->turns = 0;
  agent_s2_turn(a);
}

static void on_s2_done(llm_call_t *call, int status, const struct llm_result *res, const char *errmsg, void *data) {
  (void)call;
  agent_t *a = agent_call_ended(data, status, res);
  if (!a) return;
  if (status) {
    a->llm_status = status;
    snprintf(a->llm_msg, sizeof a->llm_msg, "%s", errmsg && *errmsg ? errmsg : llm_strerror(status));
    agent_log(a, LOG_INFO, "execution: the model failed: %s", a->llm_msg);
    agent_after_round(a);
    return;
  }
  llm_request_add_result(a->req, res);
  if (res->text && *res->text) agent_log(a, LOG_DEBUG, "model: %s", res->text);
  if (!res->ncalls) {
    free(a->final_text);
    a->final_text = strdup(res->text ? res->text : "");
    agent_log(a, LOG_INFO, "the model stopped after %d turn%s (%s)", a->turns, a->turns == 1 ? "" : "s",
              llm_finish_name(res->finish));
    agent_after_round(a);
    return;
  }
  if (res->text && *res->text) {
    free(a->final_text);
    a->final_text = strdup(res->text);
  }
  llm_result_free(a->pending);
  a->pending = llm_result_dup(res);
  a->call_i = 0;
  s2_next_call(a);
}

void agent_s2_turn(agent_t *a) {
  if (a->turns >= a->cfg.max_turns) {
    a->turn_limit_hit = 1;
    agent_log(a, LOG_INFO, "turn limit reached: %d model calls in this round", a->turns);
    agent_after_round(a);
    return;
  }
  a->turns++;
  a->total_turns++;
  /* under a JSON mode (the small profile): a tool call is required while steps of the plan are open */
  if (llm_json_mode_effective(llm_get_config(a->cfg.llm), a->cfg.profile == PROMPT_PROFILE_SMALL) != LLM_JSON_OFF) {
    char open[128];
    s2_open_list(a, open, sizeof open);
    llm_request_set_tool_choice(a->req, strncmp(open, "none:", 5) ? "required" : "auto");
  }
  a->call = llm_chat(a->cfg.llm, a->req, NULL, on_s2_done, a);
  if (!a->call) {
    a->llm_status = LLM_ENOMEM;
    snprintf(a->llm_msg, sizeof a->llm_msg, "the model client could not start a request");
    agent_after_round(a);
  }
}

struct s2_call {
  agent_t *a;
  char *id, *name;
  json_t *args;
  int entry; /* index into s2_open, or -2 for a read-only tool */
  int step;
};

/* A call that is not carried out. step > 0: a failed attempt of that step (bad arguments; the step stays open
 * for a retry); step < 0: an error not tied to a step (a read-only tool); step 0: refused, not in the plan
 * (counted as failed; the model hears which steps are still open). */
static void s2_error_result(agent_t *a, const struct llm_tool_call *c, const json_t *args, int step, const char *msg) {
  char content[1400], open[400], rmsg[900];
  int refused = step == 0;
  if (refused) {
    snprintf(rmsg, sizeof rmsg, "%s%s", strncmp(msg, "refused:", 8) ? "refused: not in the plan: " : "", msg);
    s2_open_list(a, open, sizeof open);
    snprintf(content, sizeof content,
             "%s. Nothing was done. Only the plan's steps can be carried out; still open: "
             "%s.",
             rmsg, open);
    msg = rmsg;
  } else {
    snprintf(content, sizeof content, "error: %s", msg);
  }
  llm_request_add_tool_result(a->req, c->id, c->name, content, 1);
  json_t *x = record_action(a, step, c->name, args, 0, NULL, msg);
  if (refused) json_object_set_new(x, "refused", json_string("not in the plan"));
  agent_log(a, LOG_INFO, "tool call %s %s: %s", c->name ? c->name : "?", refused ? "refused" : "rejected", msg);
  if (a->cfg.cb.on_tool_result)
    a->cfg.cb.on_tool_result(a, c->name, args, DAW_EINVAL, NULL, json_string_value(json_object_get(x, "error")),
                             a->cfg.cb.data);
}

static void on_s2_result(int status, const json_t *result, const char *message, void *data) {
  struct s2_call *sc = data;
  sc->a->daw_pending = 0;
  if (sc->entry >= 0 && agent_readback_start(sc->a, sc->name, sc->args, status, message, on_s2_checked, sc)) return;
  on_s2_checked(status, result, message, sc);
}

static void on_s2_checked(int status, const json_t *result, const char *message, void *data) {
  struct s2_call *sc = data;
  agent_t *a = sc->a;
  a->daw_pending = 0;
  if (!a->closing && a->req) {
    if (status) {
      char content[900];
      snprintf(content, sizeof content, "error: %s", message ? message : daw_strerror(status));
      llm_request_add_tool_result(a->req, sc->id, sc->name, content, 1);
    } else {
      char *rj = agent_compact(result);
      llm_request_add_tool_result(a->req, sc->id, sc->name, rj ? rj : "{}", 0);
      free(rj);
    }
    record_action(a, sc->step, sc->name, sc->args, status == 0, result,
                  status ? (message ? message : daw_strerror(status)) : NULL);
    if (!status && sc->entry >= 0) {
      s2_consume(a, sc->entry, sc->name, sc->args);
      note_created(a, sc->step, sc->name, result);
    } else if (status && sc->entry >= 0 && a->readback_unknown) {
      /* it may have been done: the step is not run again in this round (verification reads it back later) */
      json_object_set_new(json_array_get(a->s2_open, (size_t)sc->entry), "unknown", json_true());
    }
    log_result(a, sc->name, sc->args, status, result, message);
    count_failure(a, status);
    if (a->cfg.cb.on_tool_result)
      a->cfg.cb.on_tool_result(a, sc->name, sc->args, status, result, message, a->cfg.cb.data);
  }
  free(sc->id);
  free(sc->name);
  json_decref(sc->args);
  free(sc);
  if (agent_stop_if_canceled(a)) return;
  a->call_i++;
  s2_next_call(a);
}

static void s2_next_call(agent_t *a) {
  while (a->pending && a->call_i < a->pending->ncalls) {
    const struct llm_tool_call *c = &a->pending->calls[a->call_i];
    char err[600];
    if (!c->name || !tool_offered(a, c->name)) {
      const char *sug = c->name ? vocab_suggest(c->name) : NULL;
      struct {
        char b[400];
        size_t o;
      } names = {{0}, 0};
      size_t i;
      json_t *t;
      json_array_foreach(a->tools_avail, i, t) {
        int w = snprintf(names.b + names.o, sizeof names.b - names.o, "%s%s", i ? ", " : "",
                         json_string_value(json_object_get(t, "name")));
        if (w > 0 && (size_t)w < sizeof names.b - names.o) names.o += (size_t)w;
      }
      const char *why = c->name ? daw_unavailable_reason(a->cfg.daw, c->name) : NULL;
      if (vocab_lookup(c->name) >= 0 && why)
        snprintf(err, sizeof err, "tool '%s' cannot run with this DAW now (%s); the tools you can call are: %s",
                 c->name, why, names.b);
      else
        snprintf(err, sizeof err, "unknown tool '%s'%s%s%s; the tools you can call are: %s", c->name ? c->name : "",
                 sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "", names.b);
      s2_error_result(a, c, c->args, 0, err);
      a->call_i++;
      continue;
    }
    if (!c->args || !json_is_object(c->args)) {
      snprintf(err, sizeof err, "the arguments are not a valid JSON object: %.300s", c->raw_args ? c->raw_args : "");
      s2_error_result(a, c, NULL, s2_candidate_step(a, c->name), err);
      a->call_i++;
      continue;
    }
    json_t *args = agent_expand_call_args(daw_catalog(a->cfg.daw), c->args, err, sizeof err);
    if (!args) {
      s2_error_result(a, c, c->args, s2_candidate_step(a, c->name), err);
      a->call_i++;
      continue;
    }
    /* arguments the DAW would refuse are an attempt of the step (retried), not a call outside the plan */
    if (tools_check(a->tools, c->name, args, daw_session(a->cfg.daw), err, sizeof err) &&
        s2_candidate_step(a, c->name) > 0) {
      s2_error_result(a, c, args, s2_candidate_step(a, c->name), err);
      json_decref(args);
      a->call_i++;
      continue;
    }
    int entry = s2_match(a, c->name, args, err, sizeof err);
    if (entry == -1) {
      s2_error_result(a, c, args, 0, err);
      json_decref(args);
      a->call_i++;
      continue;
    }
    char *aj = agent_compact(args);
    agent_log(a, LOG_INFO, "tool call: %s %s", c->name, aj ? aj : "{}");
    free(aj);
    if (a->cfg.cb.on_tool_call) a->cfg.cb.on_tool_call(a, c->name, args, a->cfg.cb.data);
    struct s2_call *sc = calloc(1, sizeof *sc);
    sc->a = a;
    sc->id = strdup(c->id ? c->id : "");
    sc->name = strdup(c->name);
    sc->args = args;
    sc->entry = entry;
    sc->step =
        entry >= 0 ? (int)json_integer_value(json_object_get(json_array_get(a->s2_open, (size_t)entry), "step")) : 0;
    a->daw_pending = 1;
    int rc = daw_call(a->cfg.daw, c->name, args, on_s2_result, sc);
    if (rc) {
      a->daw_pending = 0;
      s2_error_result(a, c, args, entry == -2 ? -1 : sc->step, daw_strerror(rc));
      free(sc->id), free(sc->name), json_decref(sc->args), free(sc);
      a->call_i++;
      continue;
    }
    return;
  }
  llm_result_free(a->pending);
  a->pending = NULL;
  agent_s2_turn(a);
}
