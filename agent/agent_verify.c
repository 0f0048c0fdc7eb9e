/* agent_verify: the read-back of creates whose confirmation was lost, verification after a round (refresh, then
 * agent_verify), the corrective round, and agent_verify itself (pure: the mirror compared with the plan). See
 * agent.h. */
#include "agent_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session.h"

static void verify(agent_t *a);
static const json_t *track_by_id(const json_t *state, const char *id);
static int clip_in(const json_t *track, const char *cid);
static int count_fx(const json_t *track, const char *name);

static json_t *created_tracks(agent_t *a) {
  json_t *out = json_array();
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  size_t i, k;
  json_t *t, *b;
  json_array_foreach(json_object_get(after, "tracks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    int old = 0;
    json_array_foreach(json_object_get(a->before, "tracks"), k, b) {
      const char *bid = json_string_value(json_object_get(b, "id"));
      if (bid && id && !strcmp(bid, id)) old = 1;
    }
    if (old) continue;
    /* the type it was created with (a mirror fed by native OSC alone may not know it) */
    json_t *c = json_deep_copy(t);
    size_t m;
    json_t *x;
    json_array_foreach(a->actions, m, x) {
      const char *rid = json_string_value(json_object_get(json_object_get(x, "result"), "track_id"));
      const char *tool = json_string_value(json_object_get(x, "tool"));
      const json_t *ty = json_object_get(json_object_get(x, "args"), "type");
      if (tool && vocab_lookup(tool) == VOCAB_CREATE_TRACK && rid && id && !strcmp(rid, id) && json_is_string(ty))
        json_object_set(c, "type", (json_t *)ty);
    }
    json_array_append_new(out, c);
  }
  json_decref(after);
  return out;
}

struct readback {
  agent_t *a;
  daw_cb cb; /* the result handler the call had: called with the outcome of the read-back */
  void *data;
  char tool[48];
  json_t *args; /* borrowed from the call's context, which lives until cb */
  int status;
  char *message;
};

/* The creates a lost confirmation is read back for (a marker is not: agent_readback_find cannot tell it apart). */
static int is_create(const char *tool) {
  switch (vocab_lookup(tool)) {
  case VOCAB_CREATE_TRACK:
  case VOCAB_CREATE_MIDI_CLIP:
  case VOCAB_ADD_EFFECT: return 1;
  default: return 0;
  }
}

/* Was this id returned by an action the agent already counts as done? */
static int id_claimed(const json_t *actions, const char *key, const char *id) {
  size_t i;
  json_t *x;
  json_array_foreach((json_t *)actions, i, x) {
    if (!json_is_true(json_object_get(x, "ok"))) continue;
    const char *v = json_string_value(json_object_get(json_object_get(x, "result"), key));
    if (v && !strcmp(v, id)) return 1;
  }
  return 0;
}

json_t *agent_readback_find(const json_t *before, const json_t *after, const json_t *actions, const char *tool,
                            const json_t *args) {
  json_t *res = NULL;
  if (!tool || !args || !is_create(tool)) return NULL;
  size_t i;
  json_t *t;
  if (vocab_lookup(tool) == VOCAB_CREATE_TRACK) {
    const char *name = json_string_value(json_object_get(args, "name"));
    json_array_foreach(json_object_get(after, "tracks"), i, t) {
      const char *id = json_string_value(json_object_get(t, "id"));
      const char *nm = json_string_value(json_object_get(t, "name"));
      if (!id || !nm || !name || strcasecmp(nm, name) || track_by_id(before, id) || id_claimed(actions, "track_id", id))
        continue;
      res = json_pack("{sssssb}", "status", "confirmed", "track_id", id, "read_back", 1);
      break;
    }
  } else {
    const char *tid = json_string_value(json_object_get(args, "track_id"));
    const json_t *T = track_by_id(after, tid);
    const json_t *bt = track_by_id(before, tid);
    if (T && vocab_lookup(tool) == VOCAB_CREATE_MIDI_CLIP) {
      double start = json_number_value(json_object_get(args, "start_time"));
      json_array_foreach(json_object_get(T, "clips"), i, t) {
        const char *cid = json_string_value(json_object_get(t, "id"));
        if (!cid || (bt && clip_in(bt, cid)) || id_claimed(actions, "clip_id", cid)) continue;
        if (fabs(json_number_value(json_object_get(t, "start")) - start) > 0.01) continue;
        res = json_pack("{sssssssIsb}", "status", "confirmed", "track_id", tid, "clip_id", cid, "notes",
                        (json_int_t)json_array_size(json_object_get(t, "notes")), "read_back", 1);
        break;
      }
    } else if (T) {
      const char *en = json_string_value(json_object_get(args, "effect_name"));
      int have = count_fx(T, en) - (bt ? count_fx(bt, en) : 0), done = 0;
      json_array_foreach((json_t *)actions, i, t) {
        const json_t *xa = json_object_get(t, "args");
        const char *xt = json_string_value(json_object_get(t, "tool"));
        const char *xe = json_string_value(json_object_get(xa, "effect_name"));
        const char *xtr = json_string_value(json_object_get(xa, "track_id"));
        done += json_is_true(json_object_get(t, "ok")) && xt && vocab_lookup(xt) == VOCAB_ADD_EFFECT && xe && en &&
                !strcasecmp(xe, en) && xtr && !strcmp(xtr, tid);
      }
      if (have > done) res = json_pack("{sssssb}", "status", "confirmed", "track_id", tid, "read_back", 1);
    }
  }
  return res;
}

static json_t *readback_find(agent_t *a, const char *tool, const json_t *args) {
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  json_t *res = agent_readback_find(a->before, after, a->actions, tool, args);
  json_decref(after);
  return res;
}

static void on_readback(int status, const json_t *result, const char *message, void *data) {
  struct readback *rb = data;
  agent_t *a = rb->a;
  json_t *found = NULL;
  /* clips come from the companion's state: when it was not read, "no such clip" is no answer */
  const char *cerr = json_string_value(json_object_get(result, "companion_state_error"));
  if (!cerr) cerr = json_string_value(json_object_get(result, "companion_error"));
  if (!status && cerr && vocab_lookup(rb->tool) == VOCAB_CREATE_MIDI_CLIP &&
      (found = readback_find(a, rb->tool, rb->args)) == NULL) {
    status = DAW_EUNREACHABLE;
    message = cerr;
  }
  char msg[1200];
  if (a->closing || a->canceled) {
    snprintf(msg, sizeof msg, "%s", rb->message);
  } else if (status) {
    snprintf(msg, sizeof msg,
             "%s (the read-back failed too: %s; it is unknown whether the DAW did it, so the step "
             "is not run again; do not call it again)",
             rb->message, message ? message : daw_strerror(status));
    rb->status = DAW_ETIMEDOUT;
  } else if (found || (found = readback_find(a, rb->tool, rb->args)) != NULL) {
    agent_log(a, LOG_INFO, "%s: the confirmation was lost (%s), but the read-back shows it was done", rb->tool,
              rb->message);
    json_object_set_new(found, "note",
                        json_string("the DAW's confirmation was lost, but a read-back of the session "
                                    "shows this was done; do not call it again"));
  } else {
    agent_log(a, LOG_INFO, "%s: not confirmed (%s), and the read-back shows it was not done", rb->tool, rb->message);
    snprintf(msg, sizeof msg, "%s (a read-back shows the DAW does not have it: the step can be called again)",
             rb->message);
  }
  if (!found && status && !a->closing && !a->canceled) a->readback_unknown = 1;
  if (found)
    rb->cb(0, found, NULL, rb->data);
  else
    rb->cb(rb->status, NULL, msg, rb->data);
  a->readback_unknown = 0;
  json_decref(found);
  free(rb->message);
  free(rb);
}

/* Returns 1 when a read-back was started (cb follows with its outcome), 0 when the result stands as it is. */
int agent_readback_start(agent_t *a, const char *tool, const json_t *args, int status, const char *message, daw_cb cb,
                         void *data) {
  if (!status || a->closing || a->canceled || !is_create(tool) || !args || !a->before) return 0;
  if (status != DAW_ETIMEDOUT && status != DAW_EUNREACHABLE) return 0;
  struct readback *rb = calloc(1, sizeof *rb);
  if (!rb) return 0;
  rb->a = a, rb->cb = cb, rb->data = data, rb->args = (json_t *)args, rb->status = status;
  snprintf(rb->tool, sizeof rb->tool, "%s", tool);
  rb->message = strdup(message ? message : daw_strerror(status));
  agent_log(a, LOG_INFO, "%s failed (%s): reading the session back before the step may run again", tool, rb->message);
  a->daw_pending = 1;
  if (!rb->message || daw_refresh(a->cfg.daw, on_readback, rb) != DAW_OK) {
    free(rb->message);
    free(rb);
    return 0;
  }
  return 1;
}

static void fix_round(agent_t *a) {
  a->round = 1;
  agent_set_stage(a, AGENT_FIXING);
  agent_log(a, LOG_INFO, "corrective round: %zu violation%s", json_array_size(a->violations),
            json_array_size(a->violations) == 1 ? "" : "s");
  if (agent_is_direct(a)) {
    /* the repairs verification proposed, in step order, one per step */
    json_decref(a->work);
    a->work = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(a->violations, i, v) {
      const json_t *fix = json_object_get(v, "fix");
      if (!fix) continue;
      json_array_append_new(a->work, json_pack("{sOsOsO}", "step", json_object_get(v, "step"), "tool",
                                               json_object_get(fix, "tool"), "args", json_object_get(fix, "args")));
    }
    a->step_i = 0;
    agent_direct_next(a);
    return;
  }
  agent_s2_open_repairs(
      a); /* besides the steps still open, the model may carry out the repairs verification proposed */
  json_t *ct = created_tracks(a);
  struct prompt_text pt;
  char err[512];
  int rc = prompt_fix(a->prompts, a->violations, ct, &pt, err, sizeof err);
  json_decref(ct);
  if (rc) {
    agent_log(a, LOG_ERROR, "%s", err);
    agent_after_round(a);
    return;
  }
  llm_request_add_user(a->req, pt.user ? pt.user : "");
  prompt_text_free(&pt);
  a->turns = 0;
  agent_s2_turn(a);
}

static void on_refreshed(int status, const json_t *result, const char *message, void *data) {
  agent_t *a = data;
  a->daw_pending = 0;
  if (agent_stop_if_canceled(a)) return;
  const char *cerr = status ? NULL : json_string_value(json_object_get(result, "companion_state_error"));
  if (cerr) {
    /* the tracks are fresh, the clips are not: a clip whose confirmation was lost would look missing */
    status = DAW_EUNREACHABLE;
    message = cerr;
  }
  if (status && ++a->refresh_tries < 2) {
    agent_log(a, LOG_INFO, "refresh before verification failed (%s); once more",
              message ? message : daw_strerror(status));
    a->daw_pending = 1;
    if (daw_refresh(a->cfg.daw, on_refreshed, a) == DAW_OK) return;
    a->daw_pending = 0;
  }
  if (status) {
    /* the mirror may miss changes whose confirmation was lost: repairing from it could duplicate them */
    a->unverified = 1;
    agent_log(a, LOG_WARN, "the mirror could not be refreshed (%s): verifying it as it is, without repairs",
              message ? message : daw_strerror(status));
  }
  a->verify_fresh = 1;
  verify(a);
}

/* After a round: when a call failed, the DAW may hold more than its confirmations said (a change that ran but
 * whose feedback was lost), so the mirror is refreshed first; a repair must not duplicate what is there. */
void agent_after_round(agent_t *a) {
  agent_set_stage(a, AGENT_VERIFYING);
  if (a->n_failed > a->failed_seen && !a->canceled) {
    a->failed_seen = a->n_failed;
    a->refresh_tries = 0;
    agent_log(a, LOG_INFO, "refreshing the mirror before verification (%d call%s failed)", a->n_failed,
              a->n_failed == 1 ? "" : "s");
    a->daw_pending = 1;
    if (daw_refresh(a->cfg.daw, on_refreshed, a) == DAW_OK) return;
    a->daw_pending = 0;
  }
  verify(a);
}

/* A repair that would create something again (a track, a clip, an effect, notes added): it runs only on a mirror
 * read back after the round, never on one that only followed the confirmations (issue 10 §3). */
static int needs_create_repair(const json_t *violations) {
  size_t i;
  json_t *v;
  json_array_foreach((json_t *)violations, i, v) {
    const char *k = json_string_value(json_object_get(v, "kind"));
    if (k && (!strcmp(k, "missing_track") || !strcmp(k, "missing_clip") || !strcmp(k, "missing_effect") ||
              !strcmp(k, "missing_notes") || !strcmp(k, "empty_track")))
      return 1;
  }
  return 0;
}

static void verify(agent_t *a) {
  int fresh = a->verify_fresh;
  a->verify_fresh = 0;
  json_t *after = session_to_json(daw_session(a->cfg.daw));
  json_t *st = NULL;
  json_decref(a->violations);
  a->violations = agent_verify(a->plan_json, a->before, after, a->actions, &st);
  json_decref(after);
  if (!fresh && a->round == 0 && !a->cfg.no_fix && !a->unverified && !a->canceled &&
      needs_create_repair(a->violations)) {
    /* the mirror may have lost what the DAW confirmed (ids renumbered, feedback lost): read it back first */
    json_decref(st);
    a->refresh_tries = 0;
    agent_log(a, LOG_INFO, "refreshing the mirror before a repair creates anything again");
    a->daw_pending = 1;
    if (daw_refresh(a->cfg.daw, on_refreshed, a) == DAW_OK) return;
    a->daw_pending = 0;
    a->unverified = 1; /* not read back: nothing is created again */
    st = NULL;
    after = session_to_json(daw_session(a->cfg.daw));
    json_decref(a->violations);
    a->violations = agent_verify(a->plan_json, a->before, after, a->actions, &st);
    json_decref(after);
  }
  /* tracks verification matched to the plan's create_track steps: references of repairs resolve to them */
  const char *k;
  json_t *v;
  json_object_foreach(st, k, v) json_object_set(a->step_tracks, k, v);
  json_decref(st);
  size_t i;
  json_array_foreach(a->violations, i, v) {
    agent_log(a, LOG_INFO, "violation: %s", json_string_value(json_object_get(v, "message")));
    if (a->cfg.cb.on_violation) a->cfg.cb.on_violation(a, v, a->cfg.cb.data);
  }
  if (!json_array_size(a->violations)) agent_log(a, LOG_INFO, "verified: the session matches the plan");
  if (a->round == 0) {
    json_decref(a->violations_first);
    a->violations_first = json_incref(a->violations);
  }
  int llm_dead = !agent_is_direct(a) && a->llm_status;
  if (a->round == 0 && json_array_size(a->violations) && !a->cfg.no_fix && !llm_dead && !a->unverified) {
    fix_round(a);
    return;
  }
  agent_end_request(a);
}

/* ------------------------------------------------------------------------------------------------ */
/* agent_verify: pure comparison of the mirror with the plan */

static const json_t *track_by_id(const json_t *state, const char *id) {
  size_t i;
  json_t *t;
  if (!id) return NULL;
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    const char *tid = json_string_value(json_object_get(t, "id"));
    if (tid && !strcmp(tid, id)) return t;
  }
  return NULL;
}

static int clip_in(const json_t *track, const char *cid) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(track, "clips"), i, c) {
    const char *id = json_string_value(json_object_get(c, "id"));
    if (id && cid && !strcmp(id, cid)) return 1;
  }
  return 0;
}

static const json_t *step_by_number(const json_t *plan, int n) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(plan, "steps"), i, s) {
    if (json_integer_value(json_object_get(s, "step")) == n) return s;
  }
  return NULL;
}

static void quote(const char *s, char *out, size_t n) {
  json_t *j = json_string(s ? s : "");
  char *q = j ? agent_compact(j) : NULL;
  json_decref(j);
  snprintf(out, n, "%s", q ? q : "\"?\"");
  free(q);
}

#if defined(__GNUC__)
__attribute__((format(printf, 6, 7)))
#endif
static json_t *
violation(json_t *out, const char *kind, int step, const char *track_id, const json_t *fix, const char *fmt, ...) {
  char buf[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_t *v = json_pack("{sssiss}", "kind", kind, "step", step, "message", buf);
  if (track_id) json_object_set_new(v, "track_id", json_string(track_id));
  if (fix) json_object_set(v, "fix", (json_t *)fix);
  json_array_append_new(out, v);
  return v;
}

/* A step's track argument resolved against step_tracks / the state after; NULL if it cannot be. */
static const char *resolve_track(const json_t *plan, const json_t *step_tracks, const json_t *after, const json_t *val,
                                 int *ref_step) {
  *ref_step = 0;
  const char *kind;
  int n = plan_ref_step(val, &kind);
  if (n > 0) {
    const json_t *target = step_by_number(plan, n);
    const char *ttool = json_string_value(json_object_get(target, "tool"));
    if (ttool && vocab_lookup(ttool) != VOCAB_CREATE_TRACK) {
      /* a clip step: its track */
      return resolve_track(plan, step_tracks, after, json_object_get(json_object_get(target, "args"), "track_id"),
                           ref_step);
    }
    *ref_step = n;
    char k[16];
    snprintf(k, sizeof k, "%d", n);
    return json_string_value(json_object_get(step_tracks, k));
  }
  const char *s = json_string_value(val);
  if (s && track_by_id(after, s)) return s;
  /* a name */
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(after, "tracks"), i, t) {
    const char *nm = json_string_value(json_object_get(t, "name"));
    if (s && nm && !strcasecmp(nm, s)) return json_string_value(json_object_get(t, "id"));
  }
  return NULL;
}

static int fx_matches(const json_t *fx, const char *name) {
  const char *n = json_string_value(json_object_get(fx, "name"));
  if (!n || !name || !*name) return 0;
  size_t ln = strlen(name);
  for (const char *p = n; *p; p++)
    if (!strncasecmp(p, name, ln)) return 1;
  return 0;
}

static int count_fx(const json_t *track, const char *name) {
  int c = 0;
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(track, "fx"), i, f) c += fx_matches(f, name);
  return c;
}

/* Is step n the last step of the plan that sets `key` through `tool` on the same target? */
static int last_setter(const json_t *plan, int n, enum vocab_tool tool, const char *key, const json_t *step_tracks,
                       const json_t *after, const char *track) {
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(plan, "steps"), i, s) {
    int m = (int)json_integer_value(json_object_get(s, "step"));
    if (m <= n) continue;
    if (vocab_lookup(json_string_value(json_object_get(s, "tool"))) != (int)tool) continue;
    const json_t *args = json_object_get(s, "args");
    if (!json_object_get(args, key)) continue;
    if (track) {
      int rs;
      const char *tr = resolve_track(plan, step_tracks, after, json_object_get(args, "track_id"), &rs);
      if (!tr || strcmp(tr, track)) continue;
    }
    return 0;
  }
  return 1;
}

static int ok_action_for_step(const json_t *actions, int step, int tool, int ordinal) {
  /* direct: an action with this step number; llm: at least `ordinal` successful calls of the tool */
  size_t i;
  json_t *x;
  int any_step = 0, count = 0;
  json_array_foreach(actions, i, x) {
    if (json_object_get(x, "step")) any_step = 1;
    if (vocab_lookup(json_string_value(json_object_get(x, "tool"))) != tool || !json_is_true(json_object_get(x, "ok")))
      continue;
    if (json_integer_value(json_object_get(x, "step")) == step) return 1;
    count++;
  }
  return !any_step && count >= ordinal;
}

static void note_text(const json_t *n, char *buf, size_t len) {
  snprintf(buf, len, "{n: %lld, s: %g, d: %g, v: %lld}", (long long)json_integer_value(json_object_get(n, "n")),
           json_number_value(json_object_get(n, "s")), json_number_value(json_object_get(n, "d")),
           (long long)json_integer_value(json_object_get(n, "v")));
}

/* A clip's notes as numbers, sorted by (s, n): each planned note is looked up by binary search on its start, so a
 * 20,000-note clip is checked in O(n log n) instead of pair by pair. */
struct note_key {
  double s, n, d, v;
};

static int note_key_cmp(const void *x, const void *y) {
  const struct note_key *a = x, *b = y;
  if (a->s != b->s) return a->s < b->s ? -1 : 1;
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  return 0;
}

/* malloc'd, *count set; NULL when the clip has no notes (or out of memory: *count = 0, every note then "missing") */
static struct note_key *note_index(const json_t *notes, size_t *count) {
  size_t n = json_array_size(notes), i;
  *count = 0;
  if (!n) return NULL;
  struct note_key *k = malloc(n * sizeof *k);
  if (!k) return NULL;
  for (i = 0; i < n; i++) {
    const json_t *x = json_array_get(notes, i);
    k[i].s = json_number_value(json_object_get(x, "s"));
    k[i].n = json_number_value(json_object_get(x, "n"));
    k[i].d = json_number_value(json_object_get(x, "d"));
    k[i].v = json_number_value(json_object_get(x, "v"));
  }
  qsort(k, n, sizeof *k, note_key_cmp);
  *count = n;
  return k;
}

/* Is the planned note in the clip? Same pitch and start (±0.01 beat), length ±0.05, velocity ±1 when planned. */
static int note_present(const struct note_key *k, size_t count, const json_t *want) {
  double wn = json_number_value(json_object_get(want, "n"));
  double ws = json_number_value(json_object_get(want, "s"));
  double wd = json_number_value(json_object_get(want, "d"));
  const json_t *wv = json_object_get(want, "v");
  size_t lo = 0, hi = count;
  while (lo < hi) { /* the first note starting at ws - 0.01 or later */
    size_t mid = lo + (hi - lo) / 2;
    if (k[mid].s < ws - 0.01)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; i < count && k[i].s <= ws + 0.01; i++) {
    if (fabs(k[i].s - ws) > 0.01 || fabs(k[i].n - wn) > 0.01) continue;
    if (fabs(k[i].d - wd) > 0.05) continue;
    if (json_is_number(wv) && fabs(k[i].v - json_number_value(wv)) > 1.01) continue;
    return 1;
  }
  return 0;
}

/* MIDI by the mirror, or by how it was created: a mirror fed by native OSC alone may not know a track's type. */
static int is_midi_track(const json_t *t, const json_t *actions, const json_t *plan, const json_t *step_tracks) {
  const char *id = json_string_value(json_object_get(t, "id"));
  const char *type = json_string_value(json_object_get(t, "type"));
  if (type && !strcmp(type, "midi")) return 1;
  size_t i;
  json_t *x;
  json_array_foreach(actions, i, x) {
    const char *tool = json_string_value(json_object_get(x, "tool"));
    const char *rid = json_string_value(json_object_get(json_object_get(x, "result"), "track_id"));
    const char *ty = json_string_value(json_object_get(json_object_get(x, "args"), "type"));
    if (tool && vocab_lookup(tool) == VOCAB_CREATE_TRACK && json_is_true(json_object_get(x, "ok")) && rid && id &&
        !strcmp(rid, id))
      return ty && !strcasecmp(ty, "midi");
  }
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)step_tracks, key, v) {
    if (!id || strcmp(json_string_value(v), id)) continue;
    const json_t *s = step_by_number(plan, atoi(key));
    const char *ty = json_string_value(json_object_get(json_object_get(s, "args"), "type"));
    return !ty || !strcasecmp(ty, "midi");
  }
  return 0;
}

json_t *agent_verify(const json_t *plan, const json_t *before, const json_t *after, const json_t *actions,
                     json_t **step_tracks_out) {
  json_t *out = json_array();
  json_t *st = json_object();      /* step -> track id */
  json_t *claimed = json_object(); /* track ids / clip ids already matched */
  const json_t *steps = json_object_get(plan, "steps");
  size_t i, k;
  json_t *s, *t;

  /* 1. tracks the plan creates */
  json_array_foreach(steps, i, s) {
    const char *tool = json_string_value(json_object_get(s, "tool"));
    if (!tool || vocab_lookup(tool) != VOCAB_CREATE_TRACK) continue;
    int n = (int)json_integer_value(json_object_get(s, "step"));
    const json_t *args = json_object_get(s, "args");
    const char *name = json_string_value(json_object_get(args, "name"));
    const char *found = NULL;
    /* the id the DAW confirmed for this step (direct executor) */
    json_array_foreach(actions, k, t) {
      if (json_integer_value(json_object_get(t, "step")) != n || !json_is_true(json_object_get(t, "ok"))) continue;
      const char *tool2 = json_string_value(json_object_get(t, "tool"));
      const char *id = json_string_value(json_object_get(json_object_get(t, "result"), "track_id"));
      if (tool2 && vocab_lookup(tool2) == VOCAB_CREATE_TRACK && id && track_by_id(after, id) &&
          !track_by_id(before, id) && !json_object_get(claimed, id))
        found = id;
    }
    /* else a new track by name (or by the name a later set_track gives it) */
    if (!found) {
      json_array_foreach(json_object_get(after, "tracks"), k, t) {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *nm = json_string_value(json_object_get(t, "name"));
        if (!id || track_by_id(before, id) || json_object_get(claimed, id)) continue;
        int match = nm && name && !strcasecmp(nm, name);
        size_t m;
        json_t *s2;
        json_array_foreach(steps, m, s2) {
          const json_t *a2 = json_object_get(s2, "args");
          const char *t2 = json_string_value(json_object_get(s2, "tool"));
          const char *kind;
          if (t2 && vocab_lookup(t2) == VOCAB_SET_TRACK && plan_ref_step(json_object_get(a2, "track_id"), &kind) == n &&
              json_is_string(json_object_get(a2, "name")) && nm &&
              !strcasecmp(json_string_value(json_object_get(a2, "name")), nm))
            match = 1;
        }
        if (match) {
          found = id;
          break;
        }
      }
    }
    char q[300];
    quote(name, q, sizeof q);
    if (found) {
      char key[16];
      snprintf(key, sizeof key, "%d", n);
      json_object_set_new(st, key, json_string(found));
      json_object_set_new(claimed, found, json_true());
    } else {
      json_t *fix = json_pack("{sssO}", "tool", vocab_name(VOCAB_CREATE_TRACK), "args", args);
      violation(out, "missing_track", n, NULL, fix, "Step %d: the track %s was not created", n, q);
      json_decref(fix);
    }
  }

  /* 2. the other steps */
  json_t *fx_seen = json_object(); /* "t4|ReaVerbate" -> count planned so far */
  json_t *tool_seen = json_object();
  json_array_foreach(steps, i, s) {
    const char *tool = json_string_value(json_object_get(s, "tool"));
    int n = (int)json_integer_value(json_object_get(s, "step"));
    const json_t *args = json_object_get(s, "args");
    if (!tool || vocab_lookup(tool) == VOCAB_CREATE_TRACK) continue;
    json_int_t ord = json_integer_value(json_object_get(tool_seen, tool)) + 1;
    json_object_set_new(tool_seen, tool, json_integer(ord));
    int rs = 0;
    const char *tr = json_object_get(args, "track_id")
                         ? resolve_track(plan, st, after, json_object_get(args, "track_id"), &rs)
                         : NULL;
    const json_t *T = tr ? track_by_id(after, tr) : NULL;
    char tq[300] = "";
    if (T) {
      char nq[260];
      quote(json_string_value(json_object_get(T, "name")), nq, sizeof nq);
      snprintf(tq, sizeof tq, "%s (%s)", nq, tr);
    } else if (rs) {
      snprintf(tq, sizeof tq, "the track of Step %d", rs);
    } else if (json_object_get(args, "track_id")) {
      char *vj = agent_compact(json_object_get(args, "track_id"));
      snprintf(tq, sizeof tq, "track %s", vj ? vj : "?");
      free(vj);
    }
    /* the repair: the step itself with the track resolved when known */
    json_t *fix_args = json_deep_copy(args);
    if (T) json_object_set_new(fix_args, "track_id", json_string(tr));
    json_t *fix = json_pack("{sssO}", "tool", tool, "args", fix_args);
    json_decref(fix_args);

    if (vocab_lookup(tool) == VOCAB_CREATE_MIDI_CLIP) {
      const json_t *notes = json_object_get(args, "notes");
      double start = json_number_value(json_object_get(args, "start_time"));
      double dur = json_number_value(json_object_get(args, "duration"));
      const json_t *clip = NULL;
      const json_t *bt = tr ? track_by_id(before, tr) : NULL;
      if (T) {
        json_t *c;
        json_array_foreach(json_object_get(T, "clips"), k, c) {
          const char *cid = json_string_value(json_object_get(c, "id"));
          if (!cid || json_object_get(claimed, cid) || (bt && clip_in(bt, cid))) continue;
          if (fabs(json_number_value(json_object_get(c, "start")) - start) > 0.01) continue;
          clip = c;
          json_object_set_new(claimed, cid, json_true());
          break;
        }
      }
      if (!clip) {
        violation(out, "missing_clip", n, tr, fix,
                  "Step %d: %s has no clip at beat %g (the plan's %g-beat clip with "
                  "%zu note%s)",
                  n, tq, start, dur, json_array_size(notes), json_array_size(notes) == 1 ? "" : "s");
      } else {
        json_t *missing = json_array();
        json_t *nn;
        size_t nk;
        struct note_key *idx = note_index(json_object_get(clip, "notes"), &nk);
        json_array_foreach(notes, k, nn) {
          if (!note_present(idx, nk, nn)) json_array_append(missing, nn);
        }
        free(idx);
        if (json_array_size(missing)) {
          char first[120];
          note_text(json_array_get(missing, 0), first, sizeof first);
          const char *cid = json_string_value(json_object_get(clip, "id"));
          json_t *f2 = json_pack("{sss{sssO}}", "tool", vocab_name(VOCAB_EDIT_CLIP), "args", "clip_id", cid,
                                 "add_notes", missing);
          violation(out, "missing_notes", n, tr, f2,
                    "Step %d: clip %s on %s lacks %zu of the %zu planned notes "
                    "(first: %s)",
                    n, cid, tq, json_array_size(missing), json_array_size(notes), first);
          json_decref(f2);
        }
        json_decref(missing);
      }
    } else if (vocab_lookup(tool) == VOCAB_ADD_EFFECT) {
      const char *en = json_string_value(json_object_get(args, "effect_name"));
      char key[400];
      snprintf(key, sizeof key, "%s|%s", tr ? tr : "?", en ? en : "?");
      json_int_t want = json_integer_value(json_object_get(fx_seen, key)) + 1;
      json_object_set_new(fx_seen, key, json_integer(want));
      const json_t *bt = tr ? track_by_id(before, tr) : NULL;
      int have = T ? count_fx(T, en) - (bt ? count_fx(bt, en) : 0) : 0;
      if (have < want) {
        char eq[200];
        quote(en, eq, sizeof eq);
        violation(out, "missing_effect", n, tr, fix, "Step %d: the effect %s is not on %s", n, eq, tq);
      }
    } else if (vocab_lookup(tool) == VOCAB_SET_TRACK) {
      if (!T) {
        violation(out, "step_failed", n, NULL, fix, "Step %d: set_track could not be checked: %s does not exist", n,
                  tq);
      } else {
        char diffs[600] = "";
        size_t o = 0;
        json_t *f3 = json_pack("{ss}", "track_id", tr);
        const char *key;
        json_t *want;
        json_object_foreach((json_t *)args, key, want) {
          if (!strcmp(key, "track_id") || !last_setter(plan, n, VOCAB_SET_TRACK, key, st, after, tr)) continue;
          const json_t *have = json_object_get(T, key);
          int differs = 0;
          if (json_is_number(want)) {
            double tol = !strcmp(key, "volume_db") ? 0.1 : 0.01;
            if (!strcmp(key, "volume_db") && json_number_value(want) <= -150 && json_number_value(have) <= -149)
              tol = 1e9;
            differs = !json_is_number(have) || fabs(json_number_value(have) - json_number_value(want)) > tol;
          } else if (json_is_boolean(want)) {
            differs = !json_is_boolean(have) || json_is_true(have) != json_is_true(want);
          } else if (json_is_string(want)) {
            differs = !json_is_string(have) || strcmp(json_string_value(have), json_string_value(want));
          }
          if (differs) {
            char *hj = agent_compact(have ? have : json_null()), *wj = agent_compact(want);
            int w = snprintf(diffs + o, sizeof diffs - o, "%s%s is %s, the plan says %s", o ? "; " : "", key,
                             hj ? hj : "?", wj ? wj : "?");
            if (w > 0 && (size_t)w < sizeof diffs - o) o += (size_t)w;
            free(hj), free(wj);
            json_object_set(f3, key, want);
          }
        }
        if (o) {
          json_t *f4 = json_pack("{sssO}", "tool", vocab_name(VOCAB_SET_TRACK), "args", f3);
          violation(out, "value_differs", n, tr, f4, "Step %d: on %s %s", n, tq, diffs);
          json_decref(f4);
        }
        json_decref(f3);
      }
    } else if (vocab_lookup(tool) == VOCAB_SET_TEMPO) {
      double want = json_number_value(json_object_get(args, "bpm"));
      double have = json_number_value(json_object_get(after, "tempo"));
      if (last_setter(plan, n, VOCAB_SET_TEMPO, "bpm", st, after, NULL) && fabs(have - want) > 0.01)
        violation(out, "value_differs", n, NULL, fix, "Step %d: the tempo is %g BPM, the plan says %g", n, have, want);
    } else if (vocab_lookup(tool) == VOCAB_ADD_MARKER) {
      const char *nm = json_string_value(json_object_get(args, "name"));
      double pos = json_number_value(json_object_get(args, "position"));
      int found = 0;
      json_t *m;
      json_array_foreach(json_object_get(after, "markers"), k, m) {
        const char *mn = json_string_value(json_object_get(m, "name"));
        if (mn && nm && !strcmp(mn, nm) && fabs(json_number_value(json_object_get(m, "position")) - pos) < 0.01)
          found = 1;
      }
      if (!found) {
        char q[300];
        quote(nm, q, sizeof q);
        violation(out, "missing_marker", n, NULL, fix, "Step %d: no marker %s at beat %g", n, q, pos);
      }
    } else if (vocab_lookup(tool) == VOCAB_SET_LOOP) {
      const json_t *lp = json_object_get(after, "loop");
      double ws = json_number_value(json_object_get(args, "start")),
             we = json_number_value(json_object_get(args, "end"));
      if (last_setter(plan, n, VOCAB_SET_LOOP, "start", st, after, NULL) &&
          (fabs(json_number_value(json_object_get(lp, "start")) - ws) > 0.01 ||
           fabs(json_number_value(json_object_get(lp, "end")) - we) > 0.01))
        violation(out, "value_differs", n, NULL, fix, "Step %d: the loop is %g-%g, the plan says %g-%g", n,
                  json_number_value(json_object_get(lp, "start")), json_number_value(json_object_get(lp, "end")), ws,
                  we);
    } else if (!ok_action_for_step(actions, n, vocab_lookup(tool), (int)ord)) {
      violation(out, "step_failed", n, tr, fix, "Step %d: %s was not carried out", n, tool);
    }
    json_decref(fix);
  }
  json_decref(fx_seen);
  json_decref(tool_seen);

  /* 3. the seed's check: MIDI tracks created without a clip */
  json_array_foreach(json_object_get(after, "tracks"), i, t) {
    const char *id = json_string_value(json_object_get(t, "id"));
    if (!id || track_by_id(before, id) || json_array_size(json_object_get(t, "clips")) ||
        !is_midi_track(t, actions, plan, st))
      continue;
    char q[300];
    quote(json_string_value(json_object_get(t, "name")), q, sizeof q);
    int step = 0;
    const char *key;
    json_t *v;
    json_object_foreach(st, key, v) if (!strcmp(json_string_value(v), id)) step = atoi(key);
    violation(out, "empty_track", step, id, NULL, "AI CREATED EMPTY TRACKS: %s (%s) is a MIDI track without a clip", q,
              id);
  }
  json_decref(claimed);
  if (step_tracks_out)
    *step_tracks_out = st;
  else
    json_decref(st);
  return out;
}
