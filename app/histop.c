/* histop: history undo/restore through the DAW (see histop.h). Moved out of cmd_history.c so the CLI and the
 * live session run the same logic. */
#include "histop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "errfmt.h"
#include "history.h"
#include "undo.h"
#include "vocab.h"

struct hop {
  daw_t *daw;
  history_t *h;
  char *data_dir;
  char composition[256];
  int is_undo;
  int force;
  int target; /* iteration to go back to */
  int undone; /* undo: the latest iteration, whose change is undone */
  int latest; /* the latest readable iteration when it started */
  json_t *target_it;
  json_t *undone_it;
  histop_cb cb;
  void *data;
};

static void hop_free(struct hop *x) {
  history_free(x->h);
  free(x->data_dir);
  json_decref(x->target_it);
  json_decref(x->undone_it);
  free(x);
}

static const char *sstr(const json_t *o, const char *k, const char *def) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : def;
}

static int has_marker(const json_t *markers, const char *name, double pos) {
  size_t i;
  json_t *m;
  json_array_foreach(markers, i, m) {
    const char *n = json_string_value(json_object_get(m, "name"));
    if (n && name && !strcmp(n, name) && fabs(json_number_value(json_object_get(m, "position")) - pos) < 1e-6) return 1;
  }
  return 0;
}

static const json_t *track_by_id(const json_t *state, const char *id) {
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(state, "tracks"), i, t) {
    const char *tid = json_string_value(json_object_get(t, "id"));
    if (tid && id && !strcmp(tid, id)) return t;
  }
  return NULL;
}

/* Changes made by the iterations after the target that no snapshot can show, so the diff cannot see them:
 *   - markers (add_marker) where the DAW's OSC does not list markers (Ardour: only the one at the playhead);
 *   - effect parameters (set_effect_param) where it does not report plugin parameter values (Ardour).
 * Found from the iterations' actions; appended to `unsup`. Returns how many. */
static size_t invisible_changes(struct hop *x, const json_t *mirror, json_t *unsup) {
  int markers_hidden = json_array_size(json_object_get(mirror, "markers")) == 0;
  const json_t *want = json_object_get(json_object_get(x->target_it, "state"), "markers");
  json_t *seen = json_array();
  size_t added = 0;
  for (int n = x->target + 1; n <= x->latest; n++) {
    json_t *it = NULL;
    if (history_load(x->h, n, &it, NULL, 0)) continue;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(it, "actions"), i, a) {
      const json_t *args = json_object_get(a, "args");
      const char *tool = sstr(a, "tool", "");
      const char *st = sstr(json_object_get(a, "result"), "status", "confirmed");
      if (json_object_get(a, "error") || strcmp(st, "confirmed")) continue;
      char what[512], why[512], key[600];
      int vt = vocab_lookup(tool);
      if (vt == VOCAB_ADD_MARKER && markers_hidden) {
        const char *name = sstr(args, "name", "");
        double pos = json_number_value(json_object_get(args, "position"));
        if (has_marker(want, name, pos)) continue;
        snprintf(what, sizeof what, "remove marker \"%s\" at beat %g (added in iteration %d)", name, pos, n);
        snprintf(why, sizeof why,
                 "%s's OSC does not list markers, so the bridge can neither see nor remove it: remove it in the DAW",
                 daw_dialect(x->daw));
      } else if (vt == VOCAB_SET_EFFECT_PARAM) {
        const json_t *t = track_by_id(mirror, sstr(args, "track_id", NULL));
        json_int_t fi = json_integer_value(json_object_get(args, "effect_index"));
        const json_t *f = t && fi >= 1 ? json_array_get(json_object_get(t, "fx"), (size_t)fi - 1) : NULL;
        if (!f || json_array_size(json_object_get(f, "params"))) continue; /* visible: the diff covered it */
        snprintf(what, sizeof what,
                 "set parameter %lld of effect %lld (\"%s\") on track \"%s\" back (changed in "
                 "iteration %d)",
                 (long long)json_integer_value(json_object_get(args, "param_index")), (long long)fi,
                 sstr(f, "name", "?"), sstr(t, "name", "?"), n);
        snprintf(why, sizeof why,
                 "%s's OSC does not report plugin parameter values, so the earlier value is unknown: set it in the DAW",
                 daw_dialect(x->daw));
      } else {
        continue;
      }
      snprintf(key, sizeof key, "%s", what);
      char *paren = strstr(key, " (added in");
      if (!paren) paren = strstr(key, " (changed in");
      if (paren) *paren = 0; /* the same change from several iterations: once */
      size_t q;
      json_t *v;
      int dup = 0;
      json_array_foreach(seen, q, v) dup |= !strcmp(json_string_value(v), key);
      if (dup) continue;
      json_array_append_new(seen, json_string(key));
      json_array_append_new(unsup, json_pack("{s:s, s:s}", "what", what, "reason", why));
      added++;
    }
    json_decref(it);
  }
  json_decref(seen);
  return added;
}

static json_t *report_new(struct hop *x, const char *status, const char *message) {
  json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:s}", "command", x->is_undo ? "undo" : "restore",
                        "composition", x->composition, "target", x->target, "latest", x->latest, "status", status,
                        "message", message, "target_source", sstr(x->target_it, "source", "?"), "target_timestamp",
                        sstr(x->target_it, "timestamp", "?"), "dialect", daw_dialect(x->daw));
  if (x->is_undo) json_object_set_new(j, "undone", json_integer(x->undone));
  return j;
}

static void end(struct hop *x, int code, json_t *report, const char *message) {
  x->cb(code, report, message, x->data);
  json_decref(report);
  hop_free(x);
}

static void on_undone(int status, const json_t *result, const char *message, void *data) {
  struct hop *x = data;
  const char *src = x->is_undo ? "undo" : "restore";
  if (!result) {
    char m[1024];
    snprintf(m, sizeof m, "%s: %s", src, message);
    end(x,
        status == UNDO_ECANCELED ? CLI_EXIT_INTERRUPTED
        : status == UNDO_EDAW    ? CLI_EXIT_UNREACHABLE
                                 : CLI_EXIT_CONFIG,
        NULL, m);
    return;
  }
  json_t *conflicts = json_object_get(result, "conflicts");
  if (status == UNDO_ECONFLICT) {
    json_t *j = report_new(x, "conflict", message);
    json_object_set(j, "conflicts", conflicts);
    json_object_set(j, "kept", json_object_get(result, "kept"));
    json_object_set_new(j, "saved", json_null());
    end(x, CLI_EXIT_FAILED, j, message);
    return;
  }
  json_t *applied = json_object_get(result, "applied");
  json_t *failed = json_object_get(result, "failed");
  json_t *unsup = json_deep_copy(json_object_get(result, "unsupported"));
  if (!unsup) unsup = json_array();
  size_t na = json_array_size(applied);
  json_t *mirror = session_to_json(daw_session(x->daw));
  if (invisible_changes(x, mirror, unsup) && status == UNDO_OK) {
    status = UNDO_EPARTIAL;
    message = "partly restored: changes this DAW does not show are left (see above)";
  }

  /* the undo itself becomes an iteration (when the DAW answered to the end, or something was changed) */
  int saved = 0, save_rc = 0;
  char save_err[1024] = "";
  if (status == UNDO_OK || status == UNDO_EPARTIAL || na) {
    char msg[1024];
    const char *req = sstr(x->undone_it, "user_message", NULL);
    const char *usrc = sstr(x->undone_it, "source", "");
    if (!strcmp(usrc, "undo") || !strcmp(usrc, "restore")) req = NULL; /* no nesting of undo messages */
    if (x->is_undo)
      snprintf(msg, sizeof msg, "undo of iteration %d%s%s%s, back to %d", x->undone, req ? " (\"" : "", req ? req : "",
               req ? "\")" : "", x->target);
    else
      snprintf(msg, sizeof msg, "restore iteration %d", x->target);
    json_t *meta = json_pack("{s:s, s:s, s:O, s:i, s:O, s:O, s:O, s:b}", "source", src, "user_message", msg, "actions",
                             applied, "restored_from", x->target, "unsupported", unsup, "failed", failed,
                             "remaining_diff", json_object_get(result, "remaining_diff"), "complete",
                             json_is_true(json_object_get(result, "complete")));
    if (x->is_undo) json_object_set_new(meta, "undone", json_integer(x->undone));
    if (conflicts) {
      json_object_set(meta, "conflicts", conflicts);
      json_object_set(meta, "forced", json_object_get(result, "forced"));
      json_object_set(meta, "kept", json_object_get(result, "kept"));
      json_object_set_new(meta, "latest", json_integer(x->latest));
    }
    save_rc = mirror ? history_save(x->h, mirror, meta, &saved, save_err, sizeof save_err) : HISTORY_ENOMEM;
    if (!mirror) snprintf(save_err, sizeof save_err, "out of memory");
    json_decref(meta);
    if (save_rc) saved = 0;
  }
  json_decref(mirror);

  json_t *res = json_deep_copy(result);
  json_object_set_new(res, "unsupported", unsup);
  json_t *j = report_new(x, status == UNDO_OK ? "ok" : status == UNDO_EPARTIAL ? "partial" : "stopped", message);
  json_object_set_new(j, "result", res);
  json_object_set_new(j, "saved", saved ? json_integer(saved) : json_null());
  if (save_rc) json_object_set_new(j, "save_error", json_string(save_err));
  int code;
  char m[2048];
  snprintf(m, sizeof m, "%s", message);
  if (save_rc) {
    snprintf(m, sizeof m, "%s: the DAW change is done, but the %s iteration could not be saved: %s", src, src,
             save_err);
    code = CLI_EXIT_SAVE;
  } else if (status == UNDO_OK)
    code = CLI_EXIT_OK;
  else if (status == UNDO_EPARTIAL)
    code = json_array_size(failed) ? CLI_EXIT_FAILED : CLI_EXIT_UNCERTAIN;
  else if (status == UNDO_ECANCELED)
    code = CLI_EXIT_INTERRUPTED;
  else {
    int ds = (int)json_integer_value(json_object_get(result, "daw_status"));
    code = ds ? daw_exit_code(ds) : CLI_EXIT_UNREACHABLE;
  }
  end(x, code, j, m);
}

int histop_start(const struct histop_req *r, histop_cb cb, void *data, char *err, size_t errlen) {
  if (!r || !r->daw || !r->composition || !cb) return errfmt(err, errlen, CLI_EXIT_USAGE, "histop: bad arguments");
  struct hop *x = calloc(1, sizeof *x);
  if (!x) return errfmt(err, errlen, CLI_EXIT_CONFIG, "out of memory");
  x->daw = r->daw;
  x->is_undo = r->kind == HISTOP_UNDO;
  x->force = r->force;
  x->target = x->is_undo ? 0 : r->target;
  x->cb = cb;
  x->data = data;
  snprintf(x->composition, sizeof x->composition, "%s", r->composition);
  const char *sub = x->is_undo ? "undo" : "restore";
  x->data_dir = r->data_dir ? strdup(r->data_dir) : history_default_data_dir();
  int rc = CLI_EXIT_OK;
  char e[1024];
  if (!x->data_dir) {
    rc = errfmt(err, errlen, CLI_EXIT_CONFIG,
                "history: no data directory (set XDG_DATA_HOME or HOME, or use --data-dir)");
    goto fail;
  }
  /* undo/restore never create an empty history */
  char p[4096];
  struct stat st;
  snprintf(p, sizeof p, "%s/compositions/%s/history", x->data_dir, x->composition);
  if (stat(p, &st)) {
    rc = errfmt(err, errlen, CLI_EXIT_INVALID, "history %s: %sno iterations of \"%s\" in %s", sub,
                x->is_undo ? "nothing to undo: " : "", x->composition, x->data_dir);
    goto fail;
  }
  x->h = history_open(x->data_dir, x->composition, e, sizeof e);
  if (!x->h) {
    rc = errfmt(err, errlen, CLI_EXIT_CONFIG, "history: %s", e);
    goto fail;
  }
  if (x->is_undo) {
    rc = history_latest(x->h, &x->undone_it, e, sizeof e);
    if (rc == HISTORY_ENOENT) {
      rc = errfmt(err, errlen, CLI_EXIT_INVALID, "history undo: nothing to undo: no iterations of \"%s\" yet (%s)",
                  x->composition, history_dir(x->h));
      goto fail;
    }
    if (rc < 0) {
      rc = errfmt(err, errlen, CLI_EXIT_CONFIG, "history undo: %s", e);
      goto fail;
    }
    x->undone = rc;
    /* after an undo, the next undo goes further back: before the iteration that undo restored */
    int from = x->undone;
    json_t *rf = json_object_get(x->undone_it, "restored_from");
    if (!strcmp(sstr(x->undone_it, "source", ""), "undo") && json_is_integer(rf) && json_integer_value(rf) > 0)
      from = (int)json_integer_value(rf);
    rc = history_previous(x->h, from, &x->target_it, e, sizeof e);
    if (rc == HISTORY_ENOENT) {
      rc = errfmt(err, errlen, CLI_EXIT_INVALID,
                  "history undo: nothing to undo: iteration %d is the oldest readable state of \"%s\"%s", from,
                  x->composition, from == x->undone ? "" : " (the earlier undos already went back to it)");
      goto fail;
    }
    if (rc < 0) {
      rc = errfmt(err, errlen, CLI_EXIT_CONFIG, "history undo: %s", e);
      goto fail;
    }
    x->target = rc;
  } else {
    rc = history_load(x->h, x->target, &x->target_it, e, sizeof e);
    if (rc == HISTORY_ENOENT) {
      rc = errfmt(err, errlen, CLI_EXIT_INVALID,
                  "history: there is no iteration %d of \"%s\" (see `dawbridge history list`)", x->target,
                  x->composition);
      goto fail;
    }
    if (rc == HISTORY_ECORRUPT) {
      rc = errfmt(err, errlen, CLI_EXIT_INVALID, "history: iteration %d is corrupt or not a dawbridge iteration: %s",
                  x->target, e);
      goto fail;
    }
    if (rc) {
      rc = errfmt(err, errlen, CLI_EXIT_CONFIG, "history: cannot read iteration %d: %s", x->target, e);
      goto fail;
    }
  }
  /* the undo/restore becomes an iteration: make sure it can be written before anything is sent to the DAW */
  if (history_check_writable(x->h, e, sizeof e) != HISTORY_OK) {
    rc = errfmt(err, errlen, CLI_EXIT_SAVE,
                "%s: the undo iteration could not be saved, so nothing was changed in the DAW: %s", sub, e);
    goto fail;
  }
  /* the iteration(s) undone: from the target to the latest; the musician's edits since the latest are kept */
  json_t *latest = x->undone_it;
  json_t *own_latest = NULL;
  x->latest = x->undone;
  if (!latest && (x->latest = history_latest(x->h, &own_latest, e, sizeof e)) > 0) latest = own_latest;
  if (x->latest < 0) x->latest = 0;
  /* the DAW's own undo is the fast path only for undoing an AI request it recorded as one step, and undo.c takes
   * it only when nothing changed since that request (not for a partial iteration: a run interrupted by Ctrl-C may
   * not have closed its undo step in the DAW) */
  const char *lsrc = latest ? json_string_value(json_object_get(latest, "source")) : NULL;
  unsigned flags = (x->force ? UNDO_FORCE : 0) | (x->is_undo && lsrc && !strcmp(lsrc, "ai_iteration") &&
                                                          !json_is_true(json_object_get(latest, "partial"))
                                                      ? UNDO_FAST_PATH
                                                      : 0);
  rc = latest ? undo_three_way(x->daw, x->target_it, latest, flags, on_undone, x)
              : undo_to_state(x->daw, x->target_it, on_undone, x);
  json_decref(own_latest);
  if (rc) {
    rc = errfmt(err, errlen, rc == UNDO_EINVAL ? CLI_EXIT_INVALID : CLI_EXIT_CONFIG,
                "%s: %s (iteration %d has no usable session snapshot?)", sub, undo_strerror(rc), x->target);
    goto fail;
  }
  return 0;
fail:
  hop_free(x);
  return rc;
}
