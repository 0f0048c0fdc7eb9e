/* undo: restore an earlier state through the DAW. See undo.h. */
#include "undo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "statediff.h"
#include "vocab.h"

enum call_state { CS_PENDING = 0, CS_APPLIED, CS_FAILED, CS_UNSUPPORTED };

struct undo_op {
  daw_t *d;
  json_t *target;        /* the snapshot (own reference); three-way: the merged state, set after the first refresh */
  json_t *base, *result; /* three-way (undo_three_way): the iteration's before/after snapshots, else NULL */
  unsigned flags;
  json_t *conflicts; /* three-way: conflicts found (overridden with UNDO_FORCE) */
  json_t *kept;      /* three-way: later edits kept (statediff changes base -> merged) */
  undo_cb cb;
  void *data;
  json_t *calls; /* inverse calls */
  json_t *applied, *failed, *unsupported;
  json_t *created; /* per call: the result of an applied call, else null */
  enum call_state *cs;
  size_t n, next;
  int in_call, sync_done; /* a daw_call callback that ran inside daw_call itself */
  int daw_status;         /* the daw_err that stopped the run, 0 otherwise */
  char stop_msg[512];
};

const char *undo_strerror(int code) {
  switch (code) {
  case UNDO_OK: return "ok";
  case UNDO_EPARTIAL: return "only partly restored";
  case UNDO_EDAW: return "the DAW does not answer";
  case UNDO_EINVAL: return "invalid argument";
  case UNDO_ENOMEM: return "out of memory";
  case UNDO_ECANCELED: return "canceled";
  case UNDO_ECONFLICT: return "changed again since the iteration (use --force)";
  default: return "unknown undo error";
  }
}

static void op_free(struct undo_op *op) {
  json_decref(op->target);
  json_decref(op->base);
  json_decref(op->result);
  json_decref(op->conflicts);
  json_decref(op->kept);
  json_decref(op->calls);
  json_decref(op->applied);
  json_decref(op->failed);
  json_decref(op->unsupported);
  json_decref(op->created);
  free(op->cs);
  free(op);
}

/* "set_track {"track_id":"t2","volume_db":-6.0}" — malloc'ed. */
static char *describe(const char *tool, const json_t *args) {
  char *a = json_dumps(args, JSON_COMPACT | JSON_REAL_PRECISION(10));
  size_t len = strlen(tool) + (a ? strlen(a) : 0) + 2;
  char *s = malloc(len);
  if (s) snprintf(s, len, "%s %s", tool, a ? a : "");
  free(a);
  return s;
}

static int is_ref(const json_t *v) {
  return json_is_object(v) && json_object_get(v, "$ref") && json_object_size(v) == 1;
}

/* A copy of args for people: {"$ref": {"call": K}} becomes "<new track NAME>" (NAME from call K's args). */
static json_t *display_args(struct undo_op *op, const json_t *v) {
  if (is_ref(v)) {
    json_int_t k = json_integer_value(json_object_get(json_object_get(v, "$ref"), "call"));
    const char *name =
        k >= 0 && (size_t)k < op->n
            ? json_string_value(json_object_get(json_object_get(json_array_get(op->calls, (size_t)k), "args"), "name"))
            : NULL;
    char buf[300];
    snprintf(buf, sizeof buf, "<new track%s%s>", name ? " " : "", name ? name : "");
    return json_string(buf);
  }
  if (json_is_object(v)) {
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) json_object_set_new(o, k, display_args(op, x));
    return o;
  }
  if (json_is_array(v)) {
    json_t *a = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) json_array_append_new(a, display_args(op, x));
    return a;
  }
  return json_incref((json_t *)v);
}

static void add_unsupported(struct undo_op *op, const char *tool, const json_t *args_in, const char *reason) {
  json_t *args = display_args(op, args_in);
  char *what = describe(tool, args);
  json_decref(args);
  json_array_append_new(op->unsupported, json_pack("{s:s, s:s}", "what", what ? what : tool, "reason", reason));
  free(what);
}

/* An inverse delete_track named after the track it would remove (`delete track "Kick"`), as the mirror still
 * knows it; NULL when the mirror has no such track. malloc'ed. */
static char *describe_track_delete(struct undo_op *op, const json_t *args) {
  session_t *ses = daw_session(op->d);
  int idx = session_track_index_by_id(ses, json_string_value(json_object_get(args, "track_id")));
  const char *name = idx > 0 ? session_track_name(ses, idx) : NULL;
  if (!name) return NULL;
  size_t len = strlen(name) + 32;
  char *s = malloc(len);
  if (s) snprintf(s, len, "delete track \"%s\"", name);
  return s;
}

static void add_failed(struct undo_op *op, const char *tool, const json_t *args, int daw_status, const char *error) {
  json_array_append_new(op->failed, json_pack("{s:s, s:o, s:s, s:i}", "tool", tool, "args", display_args(op, args),
                                              "error", error, "daw_status", daw_status));
}

/* The string a reference stands for, or NULL with *dep set (call index, or -2 when malformed). */
static const char *ref_value(struct undo_op *op, const json_t *x, long *dep) {
  json_t *r = json_object_get(x, "$ref");
  json_t *jk = json_object_get(r, "call");
  const char *field = json_string_value(json_object_get(r, "field"));
  if (!json_is_integer(jk) || json_integer_value(jk) < 0 || (size_t)json_integer_value(jk) >= op->n ||
      (size_t)json_integer_value(jk) >= op->next) {
    *dep = -2;
    return NULL;
  }
  size_t kk = (size_t)json_integer_value(jk);
  const char *val = json_string_value(json_object_get(json_array_get(op->created, kk), field ? field : "track_id"));
  if (op->cs[kk] != CS_APPLIED || !val) {
    *dep = (long)kk;
    return NULL;
  }
  return val;
}

/* Replaces every $ref in v (a deep copy the caller owns) in place. Returns 0, or -1 with *dep = the call index
 * whose result is missing (or -2 for a malformed reference). */
static int resolve(struct undo_op *op, json_t *v, long *dep);

/* One member or element x of a value being resolved: a reference gives its string in *out (new reference, for the
 * caller to put in x's place); anything else is resolved in place (*out NULL). 0, or -1 as resolve. */
static int resolve_child(struct undo_op *op, json_t *x, long *dep, json_t **out) {
  *out = NULL;
  if (!is_ref(x)) return resolve(op, x, dep);
  const char *val = ref_value(op, x, dep);
  if (!val) return -1;
  *out = json_string(val);
  return 0;
}

static int resolve(struct undo_op *op, json_t *v, long *dep) {
  json_t *x, *r;
  if (json_is_object(v)) {
    const char *k;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, x) {
      if (resolve_child(op, x, dep, &r)) return -1;
      if (r) json_object_set_new(v, k, r);
    }
  } else if (json_is_array(v)) {
    size_t i;
    json_array_foreach(v, i, x) {
      if (resolve_child(op, x, dep, &r)) return -1;
      if (r) json_array_set_new(v, i, r);
    }
  }
  return 0;
}

static void run_next(struct undo_op *op);
static void finish(struct undo_op *op, int status, const char *msg);

static void on_final_refresh(int status, const json_t *result, const char *message, void *data) {
  struct undo_op *op = data;
  (void)result;
  if (status) {
    op->daw_status = status;
    snprintf(op->stop_msg, sizeof op->stop_msg, "cannot read the session back from the DAW: %s",
             message ? message : daw_strerror(status));
    finish(op, status == DAW_ECANCELED ? UNDO_ECANCELED : UNDO_EDAW, op->stop_msg);
    return;
  }
  finish(op, UNDO_OK, NULL);
}

static void on_call(int status, const json_t *result, const char *message, void *data) {
  struct undo_op *op = data;
  size_t k = op->next;
  json_t *c = json_array_get(op->calls, k);
  const char *tool = json_string_value(json_object_get(c, "tool"));
  json_t *args = json_object_get(c, "resolved");
  const char *st = json_string_value(json_object_get(result, "status"));
  if (status == 0 && st && strcmp(st, "confirmed")) { /* "uncertain": sent, not confirmed by the DAW */
    op->cs[k] = CS_FAILED;
    add_failed(op, tool, args, DAW_ETIMEDOUT, "sent, but the DAW did not confirm it");
  } else if (status == 0) {
    op->cs[k] = CS_APPLIED;
    json_array_set(op->created, k, (json_t *)result);
    json_array_append_new(op->applied, json_pack("{s:s, s:O, s:O}", "tool", tool, "args", args, "result",
                                                 result ? (json_t *)result : json_null()));
  } else {
    op->cs[k] = status == DAW_EUNSUPPORTED ? CS_UNSUPPORTED : CS_FAILED;
    if (status == DAW_EUNSUPPORTED)
      add_unsupported(op, tool, args, message ? message : daw_strerror(status));
    else
      add_failed(op, tool, args, status, message ? message : daw_strerror(status));
    if (status == DAW_EUNREACHABLE || status == DAW_ECANCELED) {
      op->daw_status = status;
      snprintf(op->stop_msg, sizeof op->stop_msg, "stopped after %s: %s", tool,
               message ? message : daw_strerror(status));
    }
  }
  op->next++;
  if (op->in_call) {
    op->sync_done = 1;
    return;
  }
  run_next(op);
}

static void run_next(struct undo_op *op) {
  while (op->next < op->n && !op->daw_status) {
    size_t k = op->next;
    json_t *c = json_array_get(op->calls, k);
    const char *tool = json_string_value(json_object_get(c, "tool"));
    json_t *args = json_deep_copy(json_object_get(c, "args"));
    if (!tool || !args) {
      json_decref(args);
      op->cs[k] = CS_FAILED;
      add_failed(op, tool ? tool : "?", json_object_get(c, "args"), DAW_EINVAL, "malformed inverse call");
      op->next++;
      continue;
    }
    long dep = -1;
    if (resolve(op, args, &dep)) {
      json_t *orig = json_object_get(c, "args");
      if (dep < 0) {
        op->cs[k] = CS_FAILED;
        add_failed(op, tool, orig, DAW_EINVAL, "malformed $ref in the inverse call");
      } else {
        json_t *dc = json_array_get(op->calls, (size_t)dep);
        const char *dtool = json_string_value(json_object_get(dc, "tool"));
        const char *dname = json_string_value(json_object_get(json_object_get(dc, "args"), "name"));
        char reason[768];
        snprintf(reason, sizeof reason, "needs the result of %s%s%s%s, which %s", dtool ? dtool : "an earlier call",
                 dname ? " \"" : "", dname ? dname : "", dname ? "\"" : "",
                 op->cs[dep] == CS_UNSUPPORTED ? "cannot run with this DAW" : "failed");
        if (op->cs[dep] == CS_UNSUPPORTED) {
          op->cs[k] = CS_UNSUPPORTED;
          add_unsupported(op, tool, orig, reason);
        } else {
          op->cs[k] = CS_FAILED;
          add_failed(op, tool, orig, DAW_EINVAL, reason);
        }
      }
      json_decref(args);
      op->next++;
      continue;
    }
    const char *why = daw_unavailable_reason(op->d, tool);
    if (why) {
      char reason[768];
      snprintf(reason, sizeof reason, "%s is not available with %s: %s", tool, daw_dialect(op->d), why);
      op->cs[k] = CS_UNSUPPORTED;
      char *what = vocab_lookup(tool) == VOCAB_DELETE_TRACK ? describe_track_delete(op, args) : NULL;
      if (what) /* a track the iteration created, which this DAW cannot remove (Ardour 7.3): named */
        json_array_append_new(op->unsupported, json_pack("{s:s, s:s}", "what", what, "reason", reason));
      else
        add_unsupported(op, tool, args, reason);
      free(what);
      json_decref(args);
      op->next++;
      continue;
    }
    json_object_set_new(c, "resolved", args);
    op->in_call = 1;
    op->sync_done = 0;
    int rc = daw_call(op->d, tool, args, on_call, op);
    op->in_call = 0;
    if (rc) {
      op->cs[k] = CS_FAILED;
      add_failed(op, tool, args, rc, daw_strerror(rc));
      if (rc == DAW_ECANCELED || rc == DAW_EUNREACHABLE) {
        op->daw_status = rc;
        snprintf(op->stop_msg, sizeof op->stop_msg, "stopped at %s: %s", tool, daw_strerror(rc));
      }
      op->next++;
      continue;
    }
    if (!op->sync_done) return; /* on_call continues */
  }
  if (op->daw_status) {
    /* mark what was never sent */
    for (size_t k = op->next; k < op->n; k++) {
      json_t *c = json_array_get(op->calls, k);
      const char *tool = json_string_value(json_object_get(c, "tool"));
      op->cs[k] = CS_FAILED;
      add_failed(op, tool ? tool : "?", json_object_get(c, "args"), op->daw_status, "not sent: the run stopped");
    }
    op->next = op->n;
    finish(op, op->daw_status == DAW_ECANCELED ? UNDO_ECANCELED : UNDO_EDAW, op->stop_msg);
    return;
  }
  int rc = daw_refresh(op->d, on_final_refresh, op);
  if (rc) {
    op->daw_status = rc;
    snprintf(op->stop_msg, sizeof op->stop_msg, "cannot read the session back from the DAW: %s", daw_strerror(rc));
    finish(op, rc == DAW_ECANCELED ? UNDO_ECANCELED : UNDO_EDAW, op->stop_msg);
  }
}

/* Builds the result (with the comparison against the target when the DAW answered) and delivers it. */
static void finish(struct undo_op *op, int status, const char *msg) {
  json_t *res = json_pack("{s:O, s:O, s:O, s:I}", "applied", op->applied, "failed", op->failed, "unsupported",
                          op->unsupported, "calls", (json_int_t)op->n);
  int complete = 0;
  size_t left = 0;
  if (status == UNDO_OK) {
    json_t *mirror = session_to_json(daw_session(op->d));
    json_t *diff = mirror ? statediff_compute(mirror, op->target) : NULL;
    char *text = diff ? statediff_to_text(diff) : NULL;
    json_t *changes = json_object_get(diff, "changes");
    left = json_array_size(changes);
    complete = diff && left == 0;
    json_object_set_new(res, "remaining_diff", json_string(complete || !text ? "" : text));
    json_object_set_new(res, "remaining", changes ? json_incref(changes) : json_array());
    free(text);
    json_decref(diff);
    json_decref(mirror);
    if (!diff)
      status = UNDO_ENOMEM;
    else if (!complete || json_array_size(op->failed))
      status = UNDO_EPARTIAL;
  } else {
    json_object_set_new(res, "remaining_diff", json_string("unknown: the session could not be read back"));
    json_object_set_new(res, "remaining", json_array());
    json_object_set_new(res, "daw_status", json_integer(op->daw_status));
  }
  json_object_set_new(res, "complete", json_boolean(complete));
  if (op->base) {
    json_object_set_new(res, "conflicts", op->conflicts ? json_incref(op->conflicts) : json_array());
    json_object_set_new(res, "forced", json_boolean(op->flags & UNDO_FORCE));
    json_object_set_new(res, "kept", op->kept ? json_incref(op->kept) : json_array());
  }
  char summary[768];
  size_t na = json_array_size(op->applied), nf = json_array_size(op->failed), nu = json_array_size(op->unsupported);
  if (status == UNDO_OK && !op->n)
    snprintf(summary, sizeof summary, "nothing to change: the session already matches");
  else if (status == UNDO_OK)
    snprintf(summary, sizeof summary, "restored: %zu change%s confirmed by the DAW", na, na == 1 ? "" : "s");
  else if (status == UNDO_EPARTIAL) {
    int w =
        snprintf(summary, sizeof summary,
                 "partly restored: %zu change%s confirmed, %zu failed, %zu not reversible here, %zu difference%s left",
                 na, na == 1 ? "" : "s", nf, nu, left, left == 1 ? "" : "s");
    json_t *u0 = json_array_get(op->unsupported, 0); /* the first thing this DAW cannot revert, by name */
    if (u0 && w > 0 && (size_t)w < sizeof summary)
      snprintf(summary + w, sizeof summary - (size_t)w, "; not reversible here: %s (%s)%s",
               json_string_value(json_object_get(u0, "what")), json_string_value(json_object_get(u0, "reason")),
               nu > 1 ? ", ..." : "");
  } else
    snprintf(summary, sizeof summary, "%s (%zu change%s confirmed before that)", msg ? msg : undo_strerror(status), na,
             na == 1 ? "" : "s");
  undo_cb cb = op->cb;
  void *data = op->data;
  op_free(op);
  cb(status, res, summary, data);
  json_decref(res);
}

static int fast_path(daw_t *d, const json_t *target_state, undo_cb cb, void *data);

/* Three-way: computes the merged target from base, result and the current session. Returns 0 to go on with the
 * tool calls, or 1 when the op was delivered (and freed) here: conflicts without UNDO_FORCE (nothing sent),
 * the DAW's own undo (nothing changed since the iteration), or out of memory. */
static int three_way_target(struct undo_op *op, json_t *current) {
  undo_cb cb = op->cb;
  void *cd = op->data;
  if ((op->flags & UNDO_FAST_PATH) && daw_has_companion(op->d)) {
    json_t *since = statediff_compute(op->result, current);
    int untouched = since && json_array_size(json_object_get(since, "changes")) == 0;
    json_decref(since);
    if (untouched) {
      /* nothing changed since the iteration: its own undo step in the DAW cannot touch anybody's later edit */
      daw_t *d = op->d;
      json_t *base = json_incref(op->base);
      op_free(op);
      int rc = fast_path(d, base, cb, cd);
      json_decref(base);
      if (rc) cb(rc, NULL, undo_strerror(rc), cd);
      return 1;
    }
  }
  json_t *conflicts = NULL;
  json_t *merged = statediff_merge3(op->base, op->result, current, (op->flags & UNDO_FORCE) != 0, &conflicts);
  if (!merged) {
    json_decref(conflicts);
    op_free(op);
    cb(UNDO_ENOMEM, NULL, "out of memory", cd);
    return 1;
  }
  op->conflicts = conflicts;
  json_t *kd = statediff_compute(op->base, merged);
  op->kept = kd ? json_incref(json_object_get(kd, "changes")) : json_array();
  json_decref(kd);
  if (json_array_size(conflicts) && !(op->flags & UNDO_FORCE)) {
    json_decref(merged);
    size_t n = json_array_size(conflicts);
    json_t *res = json_pack("{s:[], s:[], s:[], s:i, s:b, s:s, s:[], s:O, s:b, s:O}", "applied", "failed",
                            "unsupported", "calls", 0, "complete", 0, "remaining_diff", "", "remaining", "conflicts",
                            conflicts, "forced", 0, "kept", op->kept);
    char m[256];
    snprintf(m, sizeof m,
             "stopped: %zu thing%s changed by the iteration %s changed again since (nothing was sent; "
             "--force reverts %s anyway)",
             n, n == 1 ? "" : "s", n == 1 ? "was" : "were", n == 1 ? "it" : "them");
    op_free(op);
    cb(UNDO_ECONFLICT, res, m, cd);
    json_decref(res);
    return 1;
  }
  json_decref(op->target);
  op->target = merged;
  return 0;
}

static void on_first_refresh(int status, const json_t *result, const char *message, void *data) {
  struct undo_op *op = data;
  (void)result;
  if (status) {
    char m[600];
    snprintf(m, sizeof m, "cannot read the session from the DAW: %s", message ? message : daw_strerror(status));
    undo_cb cb = op->cb;
    void *cd = op->data;
    op_free(op);
    cb(status == DAW_ECANCELED ? UNDO_ECANCELED : UNDO_EDAW, NULL, m, cd);
    return;
  }
  json_t *current = session_to_json(daw_session(op->d));
  if (op->base && current && three_way_target(op, current)) {
    json_decref(current);
    return; /* delivered (conflicts, fast path, or out of memory) */
  }
  json_t *unsup = NULL;
  op->calls = current ? statediff_inverse_calls(current, op->target, &unsup) : NULL;
  json_decref(current);
  if (!op->calls || !unsup) {
    json_decref(unsup);
    undo_cb cb = op->cb;
    void *cd = op->data;
    op_free(op);
    cb(UNDO_ENOMEM, NULL, "out of memory", cd);
    return;
  }
  json_array_extend(op->unsupported, unsup);
  json_decref(unsup);
  op->n = json_array_size(op->calls);
  op->cs = calloc(op->n + 1, sizeof *op->cs);
  if (!op->cs) {
    undo_cb cb = op->cb;
    void *cd = op->data;
    op_free(op);
    cb(UNDO_ENOMEM, NULL, "out of memory", cd);
    return;
  }
  for (size_t i = 0; i < op->n; i++) json_array_append_new(op->created, json_null());
  run_next(op);
}

/* A new operation towards `target` (copied); base and result (copied when given) for a three-way undo. */
static struct undo_op *op_new(daw_t *d, const json_t *target, const json_t *base, const json_t *result, undo_cb cb,
                              void *data) {
  struct undo_op *op = calloc(1, sizeof *op);
  if (!op) return NULL;
  op->d = d;
  op->cb = cb;
  op->data = data;
  op->target = json_deep_copy(target);
  op->base = base ? json_deep_copy(base) : NULL;
  op->result = result ? json_deep_copy(result) : NULL;
  op->applied = json_array();
  op->failed = json_array();
  op->unsupported = json_array();
  op->created = json_array();
  if (!op->target || (base && !op->base) || (result && !op->result) || !op->applied || !op->failed ||
      !op->unsupported || !op->created) {
    op_free(op);
    return NULL;
  }
  return op;
}

/* Starts op with a refresh of the mirror; on failure op is freed. */
static int op_begin(struct undo_op *op) {
  int rc = daw_refresh(op->d, on_first_refresh, op);
  if (rc) {
    op_free(op);
    return rc == DAW_ENOMEM ? UNDO_ENOMEM : UNDO_ECANCELED;
  }
  return UNDO_OK;
}

int undo_to_state(daw_t *d, const json_t *target_state, undo_cb cb, void *data) {
  if (!d || !cb || !json_is_object(target_state)) return UNDO_EINVAL;
  const json_t *st = json_object_get(target_state, "state");
  if (!json_is_object(st)) st = target_state;
  if (!json_is_array(json_object_get(st, "tracks"))) return UNDO_EINVAL;
  struct undo_op *op = op_new(d, st, NULL, NULL, cb, data);
  return op ? op_begin(op) : UNDO_ENOMEM;
}

/* ---- the fast path ---- */

struct fast {
  daw_t *d;
  json_t *target;
  undo_cb cb;
  void *data;
  json_t *fast; /* {"ok", "detail"} */
};

static void on_fast_done(int status, const json_t *result, const char *message, void *data) {
  struct fast *f = data;
  json_t *r = result ? json_deep_copy(result) : NULL;
  if (r) json_object_set(r, "fast_path", f->fast);
  f->cb(status, r, message, f->data);
  json_decref(r);
  json_decref(f->fast);
  free(f);
}

static void on_daw_undo(int status, const json_t *result, const char *message, void *data) {
  struct fast *f = data;
  if (status) {
    f->fast = json_pack("{s:b, s:s}", "ok", 0, "detail", message ? message : daw_strerror(status));
  } else {
    json_t *undone = json_object_get(json_object_get(result, "result"), "undone");
    f->fast = json_pack("{s:b, s:s}", "ok", 1, "detail", json_is_string(undone) ? json_string_value(undone) : "undone");
  }
  /* the mirror is checked against the target either way, and anything left is fixed with tool calls */
  int rc = undo_to_state(f->d, f->target, on_fast_done, f);
  json_decref(f->target);
  f->target = NULL;
  if (rc) {
    undo_cb cb = f->cb;
    void *cd = f->data;
    json_decref(f->fast);
    free(f);
    cb(rc, NULL, undo_strerror(rc), cd);
  }
}

static int fast_path(daw_t *d, const json_t *target_state, undo_cb cb, void *data) {
  if (!d || !cb || !json_is_object(target_state)) return UNDO_EINVAL;
  if (!daw_has_companion(d)) return undo_to_state(d, target_state, cb, data);
  struct fast *f = calloc(1, sizeof *f);
  if (!f) return UNDO_ENOMEM;
  f->d = d;
  f->cb = cb;
  f->data = data;
  f->target = json_deep_copy(target_state);
  int rc = daw_undo_request(d, on_daw_undo, f);
  if (rc) {
    json_decref(f->target);
    free(f);
    return undo_to_state(d, target_state, cb, data);
  }
  return UNDO_OK;
}

int undo_last_request(daw_t *d, const json_t *target_state, undo_cb cb, void *data) {
  return fast_path(d, target_state, cb, data);
}

static const json_t *snapshot_of(const json_t *s) {
  const json_t *st = json_object_get(s, "state");
  if (!json_is_object(st)) st = s;
  return json_is_array(json_object_get(st, "tracks")) ? st : NULL;
}

int undo_three_way(daw_t *d, const json_t *base, const json_t *result, unsigned flags, undo_cb cb, void *data) {
  const json_t *b = snapshot_of(base), *r = snapshot_of(result);
  if (!d || !cb || !b || !r) return UNDO_EINVAL;
  struct undo_op *op = op_new(d, b, b, r, cb, data);
  if (!op) return UNDO_ENOMEM;
  op->flags = flags;
  return op_begin(op);
}
