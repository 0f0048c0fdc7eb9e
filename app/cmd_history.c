/* The history commands (issue 6): list, show, diff, export (no DAW needed); save, undo, restore (through the DAW).
 *
 *   history list                  number, time, source, action count, request; corrupt files are warnings
 *   history show N [--json]       one iteration: request, actions and results, the session table
 *   history diff A B [--json]     what changed from A to B (statediff)
 *   history export N FILE.mid     Standard MIDI File of iteration N
 *   history save [-m TEXT]        snapshot of the DAW's current session (source "user")
 *   history undo                  back to the state before the last change (source "undo")
 *   history restore N             back to iteration N (source "restore")
 *
 * The composition is --composition, else (commands that connect) the DAW's project name, else "default".
 * Exit codes (cli.h): 0 ok; 1 usage; 2 the DAW does not answer; 3 undo/restore done only in part (something is
 * not reversible with this DAW, failed, or still differs); 4 no such / corrupt iteration, nothing to undo;
 * 5 the history or the MIDI file cannot be written/read (permissions ...); 6 the DAW was changed but the
 * undo/restore iteration (or a `save`) could not be written (full disk ...).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <math.h>

#include "cli.h"
#include "history.h"
#include "midifile.h"
#include "statediff.h"
#include "strbuf.h"
#include "histop.h"
#include "undo.h"

struct hcmd {
  struct cli *c;
  const char *sub;
  char *data_dir;
  char composition[256];
  history_t *h;
  int target; /* iteration to go back to */
  int undone; /* undo: the latest iteration, whose change is undone */
  int latest; /* the latest readable iteration when the command started */
  json_t *target_it;
  json_t *undone_it;
};

static void hcmd_free(void *p) {
  struct hcmd *x = p;
  if (!x) return;
  history_free(x->h);
  free(x->data_dir);
  json_decref(x->target_it);
  json_decref(x->undone_it);
  free(x);
}

static int done(struct cli *c, int code) {
  cli_finish(c, code);
  return 0;
}

static int parse_number(const char *s, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 1 || v > 99999999) return -1;
  *out = (int)v;
  return 0;
}

static const char *sstr(const json_t *o, const char *k, const char *def) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : def;
}

/* "2026-11-25T09:07:07.123Z" → "2026-11-25 09:07:07" */
static void short_time(const char *ts, char *buf, size_t len) {
  snprintf(buf, len, "%.19s", ts ? ts : "?");
  if (strlen(buf) > 10 && buf[10] == 'T') buf[10] = ' ';
}

static void history_path(const struct hcmd *x, char *buf, size_t len) {
  snprintf(buf, len, "%s/compositions/%s/history", x->data_dir, x->composition);
}

/* Other compositions in the data dir with a history (for a hint). malloc'ed "a, b" or NULL. */
static char *other_compositions(const struct hcmd *x) {
  char p[4096];
  snprintf(p, sizeof p, "%s/compositions", x->data_dir);
  DIR *d = opendir(p);
  if (!d) return NULL;
  strbuf_t out = STRBUF_INIT;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, x->composition)) continue;
    char hp[8192];
    struct stat st;
    if ((size_t)snprintf(hp, sizeof hp, "%s/%s/history", p, e->d_name) >= sizeof hp) continue;
    if (stat(hp, &st) || !S_ISDIR(st.st_mode)) continue;
    strbuf_appendf(&out, "%s%s", out.len ? ", " : "", e->d_name);
  }
  closedir(d);
  if (!out.len) {
    strbuf_reset(&out);
    return NULL;
  }
  return strbuf_take(&out, NULL);
}

/* Sets data_dir and composition (NULL project = none known); returns 0 or an exit code after a message. */
static int choose_place(struct hcmd *x, const char *project) {
  const struct cli_opts *o = &x->c->o;
  if (!x->data_dir) {
    x->data_dir = o->data_dir ? strdup(o->data_dir) : history_default_data_dir();
    if (!x->data_dir) {
      fprintf(stderr, "dawbridge: history: no data directory (set XDG_DATA_HOME or HOME, or use --data-dir)\n");
      return CLI_EXIT_CONFIG;
    }
  }
  const char *comp = o->composition;
  if (comp && !history_composition_valid(comp)) {
    fprintf(stderr,
            "dawbridge: --composition '%s' is not a usable name (1-128 bytes, no / \\ : * ? \" < > | or control "
            "characters, not starting with '.' or '-')\n",
            comp);
    return CLI_EXIT_USAGE;
  }
  if (!comp && project && project[0]) {
    if (history_composition_valid(project))
      comp = project;
    else
      fprintf(stderr,
              "dawbridge: note: the project name '%s' cannot be a folder name; using \"default\" "
              "(--composition NAME to choose)\n",
              project);
  }
  snprintf(x->composition, sizeof x->composition, "%s", comp ? comp : "default");
  return 0;
}

/* Opens the history. must_exist: do not create it (read-only commands); a missing history is then reported
 * (as an empty list for `list`). Returns 0, -1 (empty, handled), or an exit code. */
static int open_history(struct hcmd *x, int must_exist) {
  char p[4096];
  history_path(x, p, sizeof p);
  struct stat st;
  if (must_exist && stat(p, &st)) {
    char *others = other_compositions(x);
    if (!strcmp(x->sub, "list")) {
      if (x->c->o.json) {
        json_t *j =
            json_pack("{s:s, s:s, s:[], s:[]}", "composition", x->composition, "dir", p, "iterations", "warnings");
        cli_print_json(j);
        json_decref(j);
      } else {
        printf("no iterations of \"%s\" yet (%s)\n", x->composition, p);
      }
    } else {
      fprintf(stderr, "dawbridge: history%s%s: %sno iterations of \"%s\" in %s\n", strcmp(x->sub, "undo") ? "" : " ",
              strcmp(x->sub, "undo") ? "" : "undo", strcmp(x->sub, "undo") ? "" : "nothing to undo: ", x->composition,
              x->data_dir);
    }
    if (others) fprintf(stderr, "dawbridge: other compositions there: %s (use --composition NAME)\n", others);
    free(others);
    return strcmp(x->sub, "list") ? CLI_EXIT_INVALID : -1;
  }
  char err[1024];
  x->h = history_open(x->data_dir, x->composition, err, sizeof err);
  if (!x->h) {
    fprintf(stderr, "dawbridge: history: %s\n", err);
    return CLI_EXIT_CONFIG;
  }
  return 0;
}

/* Loads iteration n or explains why not; returns 0 or an exit code. */
static int load(struct hcmd *x, int n, json_t **out) {
  char err[1024];
  int rc = history_load(x->h, n, out, err, sizeof err);
  if (rc == HISTORY_OK) return 0;
  if (rc == HISTORY_ENOENT)
    fprintf(stderr, "dawbridge: history: there is no iteration %d of \"%s\" (see `dawbridge history list`)\n", n,
            x->composition);
  else if (rc == HISTORY_ECORRUPT)
    fprintf(stderr, "dawbridge: history: iteration %d is corrupt or not a dawbridge iteration: %s\n", n, err);
  else
    fprintf(stderr, "dawbridge: history: cannot read iteration %d: %s\n", n, err);
  return rc == HISTORY_ENOENT || rc == HISTORY_ECORRUPT ? CLI_EXIT_INVALID : CLI_EXIT_CONFIG;
}

static void print_warnings(const json_t *warnings) {
  size_t i;
  json_t *w;
  json_array_foreach(warnings, i, w)
      fprintf(stderr, "dawbridge: warning: %s: %s\n", sstr(w, "file", "?"), sstr(w, "message", ""));
}

/* ---- list / show / diff / export ---- */

static int do_list(struct hcmd *x) {
  json_t *list = NULL, *warnings = NULL;
  char err[1024];
  int rc = history_list(x->h, &list, &warnings, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: history: %s\n", err);
    return CLI_EXIT_CONFIG;
  }
  print_warnings(warnings);
  if (x->c->o.json) {
    json_t *j = json_pack("{s:s, s:s, s:O, s:O}", "composition", x->composition, "dir", history_dir(x->h), "iterations",
                          list, "warnings", warnings);
    cli_print_json(j);
    json_decref(j);
  } else if (!json_array_size(list)) {
    printf("no iterations of \"%s\" yet (%s)\n", x->composition, history_dir(x->h));
  } else {
    printf("iterations of \"%s\" (%s)\n", x->composition, history_dir(x->h));
    printf("%5s  %-19s  %-12s  %7s  %s\n", "#", "time (UTC)", "source", "actions", "request");
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
      char t[32];
      short_time(sstr(it, "timestamp", NULL), t, sizeof t);
      printf("%5lld  %-19s  %-12s  %7lld  %s\n", (long long)json_integer_value(json_object_get(it, "number")), t,
             sstr(it, "source", "?"), (long long)json_integer_value(json_object_get(it, "actions_count")),
             sstr(it, "user_message", ""));
    }
  }
  json_decref(list);
  json_decref(warnings);
  return CLI_EXIT_OK;
}

static void print_action(size_t i, const json_t *a) {
  char *args = json_dumps(json_object_get(a, "args"), JSON_COMPACT | JSON_REAL_PRECISION(10));
  const json_t *r = json_object_get(a, "result");
  const char *st = sstr(r, "status", NULL);
  const char *err = sstr(a, "error", sstr(r, "error", NULL));
  printf("  %2zu. %s %s", i + 1, sstr(a, "tool", "?"), args ? args : "");
  if (st) printf(" -> %s", st);
  if (sstr(r, "track_id", NULL)) printf(", track %s", sstr(r, "track_id", ""));
  if (sstr(r, "clip_id", NULL)) printf(", clip %s", sstr(r, "clip_id", ""));
  if (err) printf(" -> error: %s", err);
  printf("\n");
  free(args);
}

static int do_show(struct hcmd *x, int n) {
  json_t *it = NULL;
  int rc = load(x, n, &it);
  if (rc) return rc;
  if (x->c->o.json) {
    cli_print_json(it);
    json_decref(it);
    return CLI_EXIT_OK;
  }
  printf("iteration %d of \"%s\": %s, %s\n", n, x->composition, sstr(it, "source", "?"), sstr(it, "timestamp", "?"));
  if (sstr(it, "user_message", NULL)) printf("request: %s\n", sstr(it, "user_message", ""));
  json_t *rf = json_object_get(it, "restored_from");
  if (json_is_integer(rf)) printf("restored to: iteration %lld\n", (long long)json_integer_value(rf));
  json_t *actions = json_object_get(it, "actions");
  printf("actions: %lld\n", (long long)json_integer_value(json_object_get(it, "actions_count")));
  size_t i;
  json_t *a;
  json_array_foreach(actions, i, a) print_action(i, a);
  json_array_foreach(json_object_get(it, "unsupported"), i, a)
      printf("  not reversible: %s (%s)\n", sstr(a, "what", "?"), sstr(a, "reason", ""));
  json_array_foreach(json_object_get(it, "failed"), i, a)
      printf("  failed: %s (%s)\n", sstr(a, "tool", "?"), sstr(a, "error", ""));
  json_array_foreach(json_object_get(it, "conflicts"), i, a) printf("  forced: %s\n", sstr(a, "message", "?"));
  json_t *kept = json_object_get(it, "kept");
  if (json_array_size(kept)) {
    json_t *d = json_pack("{s:s, s:O}", "format", "dawbridge.diff/1", "changes", kept);
    char *t = d ? statediff_to_text(d) : NULL;
    if (t)
      printf("kept (edits made since iteration %lld, not by it):\n%s",
             (long long)json_integer_value(json_object_get(it, "latest")), t);
    free(t);
    json_decref(d);
  }
  printf("\n");
  cli_print_state_table(json_object_get(it, "state"));
  json_decref(it);
  return CLI_EXIT_OK;
}

static int do_diff(struct hcmd *x, int a, int b) {
  json_t *ia = NULL, *ib = NULL;
  int rc = load(x, a, &ia);
  if (!rc) rc = load(x, b, &ib);
  if (rc) {
    json_decref(ia);
    return rc;
  }
  json_t *d = statediff_compute(ia, ib);
  if (x->c->o.json) {
    json_object_set_new(d, "from", json_integer(a));
    json_object_set_new(d, "to", json_integer(b));
    cli_print_json(d);
  } else {
    char *t = statediff_to_text(d);
    printf("iteration %d -> %d:\n%s", a, b, t ? t : "");
    free(t);
  }
  json_decref(d);
  json_decref(ia);
  json_decref(ib);
  return CLI_EXIT_OK;
}

static int do_export(struct hcmd *x, int n, const char *file) {
  json_t *it = NULL;
  int rc = load(x, n, &it);
  if (rc) return rc;
  char err[1024];
  rc = midifile_write(it, file, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: history export: %s\n", err);
    json_decref(it);
    return rc == MIDIFILE_EIO ? CLI_EXIT_CONFIG : CLI_EXIT_INVALID;
  }
  size_t tracks = 0, notes = 0, i, k;
  json_t *t, *cl;
  json_array_foreach(json_object_get(json_object_get(it, "state"), "tracks"), i, t) {
    size_t tn = 0;
    json_array_foreach(json_object_get(t, "clips"), k, cl) tn += json_array_size(json_object_get(cl, "notes"));
    notes += tn;
    tracks += tn > 0;
  }
  if (x->c->o.json) {
    json_t *j = json_pack("{s:i, s:s, s:I, s:I}", "iteration", n, "file", file, "tracks", (json_int_t)tracks, "notes",
                          (json_int_t)notes);
    cli_print_json(j);
    json_decref(j);
  } else {
    printf("wrote %s: iteration %d, Standard MIDI File format 1, %zu track%s with %zu note%s (+ tempo track)\n", file,
           n, tracks, tracks == 1 ? "" : "s", notes, notes == 1 ? "" : "s");
  }
  json_decref(it);
  return CLI_EXIT_OK;
}

/* ---- save / undo / restore (connect to the DAW) ---- */

/* The later edits an undo/restore kept (three-way): "kept (changed since iteration L, not by the iterations
 * undone):" and the statediff lines. */
static void print_kept(int latest, const json_t *result) {
  json_t *kept = json_object_get(result, "kept");
  if (!json_array_size(kept)) return;
  json_t *d = json_pack("{s:s, s:O}", "format", "dawbridge.diff/1", "changes", kept);
  char *t = d ? statediff_to_text(d) : NULL;
  if (t) printf("kept (your edits since iteration %d, which it did not make):\n%s", latest, t);
  free(t);
  json_decref(d);
}

/* Prints what histop reports (the --json object is the report minus its presentation fields). Shared by
 * `dawbridge history undo|restore` one-shot and through the live daemon. */
void cli_print_histop_report(const json_t *rep, int json) {
  const char *cmd = sstr(rep, "command", "undo");
  int is_undo = !strcmp(cmd, "undo");
  int target = (int)json_integer_value(json_object_get(rep, "target"));
  int undone = (int)json_integer_value(json_object_get(rep, "undone"));
  int latest = (int)json_integer_value(json_object_get(rep, "latest"));
  const char *status = sstr(rep, "status", "?");
  const char *message = sstr(rep, "message", "");
  if (json) {
    json_t *j = json_deep_copy(rep);
    json_object_del(j, "latest");
    json_object_del(j, "target_source");
    json_object_del(j, "target_timestamp");
    json_object_del(j, "dialect");
    cli_print_json(j);
    json_decref(j);
    return;
  }
  if (!strcmp(status, "conflict")) {
    if (is_undo)
      printf("undo of iteration %d stopped: you changed what it changed (since iteration %d)\n", undone, latest);
    else
      printf("restore iteration %d stopped: you changed what the iterations since it changed (since iteration %d)\n",
             target, latest);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(rep, "conflicts"), i, a) printf("  conflict: %s\n", sstr(a, "message", "?"));
    printf("nothing was changed in the DAW. To revert these too (losing those edits), run it again with --force.\n");
    return;
  }
  const json_t *result = json_object_get(rep, "result");
  json_t *fp = json_object_get(result, "fast_path");
  if (fp)
    fprintf(stderr, "dawbridge: %s: the DAW's own undo %s (%s); then checked against the iteration\n", cmd,
            json_is_true(json_object_get(fp, "ok")) ? "ran" : "was not possible",
            json_string_value(json_object_get(fp, "detail")) ? json_string_value(json_object_get(fp, "detail")) : "");
  char t[32];
  short_time(sstr(rep, "target_timestamp", NULL), t, sizeof t);
  if (is_undo)
    printf("undo of iteration %d: back to iteration %d (%s, %s)\n", undone, target, sstr(rep, "target_source", "?"), t);
  else
    printf("restore iteration %d (%s, %s)\n", target, sstr(rep, "target_source", "?"), t);
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(result, "applied"), i, a) {
    char *args = json_dumps(json_object_get(a, "args"), JSON_COMPACT | JSON_REAL_PRECISION(10));
    printf("  done: %s %s (%s)\n", sstr(a, "tool", "?"), args ? args : "",
           sstr(json_object_get(a, "result"), "status", "confirmed"));
    free(args);
  }
  json_array_foreach(json_object_get(result, "unsupported"), i, a) printf(
      "  not reversible with %s: %s -- %s\n", sstr(rep, "dialect", "?"), sstr(a, "what", "?"), sstr(a, "reason", ""));
  json_array_foreach(json_object_get(result, "failed"), i, a) {
    char *args = json_dumps(json_object_get(a, "args"), JSON_COMPACT | JSON_REAL_PRECISION(10));
    printf("  FAILED: %s %s -- %s\n", sstr(a, "tool", "?"), args ? args : "", sstr(a, "error", ""));
    free(args);
  }
  json_array_foreach(json_object_get(result, "conflicts"), i, a)
      printf("  forced: %s (--force: reverted)\n", sstr(a, "message", "?"));
  print_kept(latest, result);
  const char *rd = sstr(result, "remaining_diff", "");
  if (rd[0])
    printf("still different from iteration %d%s:\n%s", target,
           json_array_size(json_object_get(result, "kept")) ? " (with your edits kept)" : "", rd);
  printf("%s\n", message);
  if (json_is_integer(json_object_get(rep, "saved")))
    printf("saved as iteration %lld (%s)\n", (long long)json_integer_value(json_object_get(rep, "saved")), cmd);
}

static void on_histop(int exit_code, const json_t *report, const char *message, void *data) {
  struct hcmd *x = data;
  struct cli *c = x->c;
  if (report) cli_print_histop_report(report, c->o.json);
  if (exit_code && message &&
      (!report || exit_code == CLI_EXIT_SAVE || exit_code == CLI_EXIT_FAILED || exit_code == CLI_EXIT_UNREACHABLE ||
       exit_code == CLI_EXIT_INTERRUPTED))
    fprintf(stderr, "dawbridge: %s%s%s\n", report && exit_code == CLI_EXIT_FAILED ? x->sub : "",
            report && exit_code == CLI_EXIT_FAILED ? ": " : "", message);
  cli_finish(c, exit_code);
}

static void on_ready(int status, const json_t *result, const char *message, void *data) {
  struct hcmd *x = data;
  struct cli *c = x->c;
  (void)status, (void)result, (void)message;
  json_t *st = session_to_json(daw_session(c->daw));
  int rc = choose_place(x, sstr(st, "project", NULL));
  if (!rc) rc = open_history(x, strcmp(x->sub, "save") != 0); /* undo/restore: never create an empty history */
  if (rc) {
    json_decref(st);
    cli_finish(c, rc);
    return;
  }
  char err[1024];
  if (!strcmp(x->sub, "save")) {
    json_t *meta = json_pack("{s:s, s:o}", "source", "user", "user_message",
                             c->o.message ? json_string(c->o.message) : json_null());
    int num = 0;
    rc = history_save(x->h, st, meta, &num, err, sizeof err);
    json_decref(meta);
    json_decref(st);
    if (rc) {
      fprintf(stderr, "dawbridge: history save: cannot save the snapshot: %s\n", err);
      cli_finish(c, CLI_EXIT_SAVE);
      return;
    }
    if (c->o.json) {
      json_t *j = json_pack("{s:s, s:i, s:s, s:s}", "composition", x->composition, "saved", num, "source", "user",
                            "dir", history_dir(x->h));
      cli_print_json(j);
      json_decref(j);
    } else {
      printf("saved iteration %d of \"%s\" (user%s%s)\n", num, x->composition, c->o.message ? ": " : "",
             c->o.message ? c->o.message : "");
    }
    cli_finish(c, CLI_EXIT_OK);
    return;
  }

  json_decref(st);
  struct histop_req hr = {.daw = c->daw,
                          .data_dir = x->data_dir,
                          .composition = x->composition,
                          .kind = strcmp(x->sub, "undo") ? HISTOP_RESTORE : HISTOP_UNDO,
                          .target = x->target,
                          .force = c->o.force};
  rc = histop_start(&hr, on_histop, x, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    cli_finish(c, rc);
  }
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "dawbridge: history: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr,
          "\nusage: dawbridge [--data-dir DIR] [--composition NAME] history list | show N [--json] | diff A B | "
          "save [-m TEXT] | undo | restore N | export N FILE.mid\n");
  return CLI_EXIT_USAGE;
}

int cmd_history(struct cli *c) {
  if (c->argc < 1) return usage_error("%s", "which history command?");
  const char *sub = c->argv[0];
  static const struct {
    const char *name;
    int args;
    const char *form;
  } subs[] = {{"list", 0, "list"},           {"show", 1, "show N"},
              {"diff", 2, "diff A B"},       {"export", 2, "export N FILE.mid"},
              {"save", 0, "save [-m TEXT]"}, {"undo", 0, "undo"},
              {"restore", 1, "restore N"}};
  size_t k;
  for (k = 0; k < sizeof subs / sizeof *subs; k++)
    if (!strcmp(subs[k].name, sub)) break;
  if (k == sizeof subs / sizeof *subs) return usage_error("unknown history command '%s'", sub);
  if (c->argc - 1 != subs[k].args) return usage_error("expected: history %s", subs[k].form);
  int n1 = 0, n2 = 0;
  if ((!strcmp(sub, "show") || !strcmp(sub, "restore") || !strcmp(sub, "export") || !strcmp(sub, "diff")) &&
      parse_number(c->argv[1], &n1))
    return usage_error("'%s' is not an iteration number", c->argv[1]);
  if (!strcmp(sub, "diff") && parse_number(c->argv[2], &n2))
    return usage_error("'%s' is not an iteration number", c->argv[2]);

  struct hcmd *x = cli_cmd_new(c, sizeof *x, hcmd_free);
  if (!x) return CLI_EXIT_CONFIG;
  x->c = c;
  x->sub = sub;

  if (!strcmp(sub, "save") || !strcmp(sub, "undo") || !strcmp(sub, "restore")) {
    x->target = n1;
    /* a bad --composition is a usage error found before connecting */
    int rc = choose_place(x, NULL);
    if (rc) return rc;
    cli_open_daw(c, on_ready, x);
    return 0;
  }
  int rc = choose_place(x, NULL);
  if (!rc) rc = open_history(x, 1);
  if (rc < 0) return done(c, CLI_EXIT_OK);
  if (rc) return done(c, rc);
  if (!strcmp(sub, "list"))
    rc = do_list(x);
  else if (!strcmp(sub, "show"))
    rc = do_show(x, n1);
  else if (!strcmp(sub, "diff"))
    rc = do_diff(x, n1, n2);
  else
    rc = do_export(x, n1, c->argv[2]);
  return done(c, rc);
}
