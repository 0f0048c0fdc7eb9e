/* dawbridge eval [SUITE]: a suite of musical requests, each run against a fresh embedded mock DAW, scored.
 *
 * Each case runs as its own `dawbridge --daw mock ... --json ask REQUEST` child process (uv_spawn on the loop,
 * one at a time): a fresh mock session (the mock's demo session: t1 Drums, t2 Bass, t3 Vocals), its own data
 * directory, and either the scripted model replaying the case's own responses (offline, the default) or the
 * model the options name (--llm openai|anthropic, --model, --llm-url: a real endpoint). Scored from the child's
 * JSON response and log: the plan valid the first time, re-plans, every step confirmed by the DAW, the case's
 * musical checks on the confirmed actions (notes in key, on the grid, in the named bars, at least N notes,
 * only these pitches; a created track whose name and instrument fit; an effect; an action with given
 * arguments), model calls, tokens in/out (when the provider reports them), wall time. Prints a table (or the
 * JSON with --json) and writes the JSON to <dir>/results.json. Exit 0 when every case passes, 7 otherwise.
 * Suite format: examples/eval/README.md.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "datadir.h"
#include "notation.h"
#include "strbuf.h"
#include "vocab.h"

#define EVAL_CASE_TIMEOUT_MS 120000

struct ev {
  struct cli *c;
  json_t *suite;
  const json_t *cases;
  size_t i;
  char exe[1024], dir[1024], suite_path[1024];
  int real_model;
  uv_process_t proc;
  uv_pipe_t out, err;
  uv_timer_t timer;
  int live;        /* handles open for the current case */
  strbuf_t ob, eb; /* the case's stdout and stderr */
  int64_t exit_status;
  int timed_out;
  uint64_t t0;
  json_t *results;
};

static void ev_free(void *data) {
  struct ev *e = data;
  json_decref(e->suite);
  json_decref(e->results);
  strbuf_reset(&e->ob);
  strbuf_reset(&e->eb);
  free(e);
}

static void start_case(struct ev *e);

/* ---- checks ---- */

static int scale_of(const char *key, int *pcs) {
  /* "A minor", "C# dorian", "Bb major" -> pcs[12] membership */
  char tonic[8] = "";
  char mode[24] = "";
  if (!key || sscanf(key, "%7s %23s", tonic, mode) != 2) return -1;
  char nb[16];
  snprintf(nb, sizeof nb, "%s4", tonic);
  int midi;
  if (notation_parse_note(nb, &midi, NULL, 0)) return -1;
  static const struct {
    const char *mode;
    int iv[8];
  } modes[] = {{"major", {0, 2, 4, 5, 7, 9, 11, -1}},
               {"minor", {0, 2, 3, 5, 7, 8, 10, 11}},
               {"dorian", {0, 2, 3, 5, 7, 9, 10, -1}},
               {"mixolydian", {0, 2, 4, 5, 7, 9, 10, -1}},
               {"blues", {0, 3, 4, 5, 6, 7, 9, 10}}};
  for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
    if (strcmp(mode, modes[m].mode)) continue;
    memset(pcs, 0, 12 * sizeof *pcs);
    for (int k = 0; k < 8 && modes[m].iv[k] >= 0; k++) pcs[(midi + modes[m].iv[k]) % 12] = 1;
    return 0;
  }
  return -1;
}

static int ci_contains(const char *hay, const char *needle) {
  if (!hay || !needle) return 0;
  size_t n = strlen(needle);
  for (const char *p = hay; *p; p++)
    if (!strncasecmp(p, needle, n)) return 1;
  return 0;
}

static int confirmed(const json_t *a) {
  const char *o = json_string_value(json_object_get(a, "outcome"));
  if (o) return !strcmp(o, "confirmed");
  return json_is_true(json_object_get(a, "ok"));
}

/* The id of the track a confirmed create_track made whose name contains `name` (NULL: the first one). */
static const char *created_track(const json_t *acts, const char *name, const json_t **act) {
  size_t i;
  const json_t *a;
  json_array_foreach(acts, i, a) {
    const char *tool = json_string_value(json_object_get(a, "tool"));
    if (vocab_lookup(tool) != VOCAB_CREATE_TRACK || !confirmed(a)) continue;
    const char *nm = json_string_value(json_object_get(json_object_get(a, "args"), "name"));
    if (name && !ci_contains(nm, name)) continue;
    if (act) *act = a;
    return json_string_value(json_object_get(json_object_get(a, "result"), "track_id"));
  }
  return NULL;
}

static void fail_check(json_t *fails, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_check(json_t *fails, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  json_array_append_new(fails, json_vsprintf(fmt, ap));
  va_end(ap);
}

/* Runs the case's checks on the confirmed actions; returns the number of checks, failures appended. */
static int run_checks(const json_t *checks, const json_t *acts, json_t *fails) {
  int n = 0;
  const char *new_id = NULL;
  const json_t *tr = json_object_get(checks, "track");
  if (tr) {
    n++;
    const json_t *act = NULL;
    const char *nm = json_string_value(json_object_get(tr, "name_contains"));
    new_id = created_track(acts, nm, &act);
    if (!new_id) {
      fail_check(fails, "no confirmed create_track%s%s", nm ? " named like " : "", nm ? nm : "");
    } else if (json_array_size(json_object_get(tr, "instrument"))) {
      n++;
      const json_t *res = json_object_get(act, "result");
      const char *ins = json_string_value(json_object_get(res, "instrument"));
      const char *req = json_string_value(json_object_get(json_object_get(act, "args"), "instrument"));
      const json_t *role = json_object_get(res, "instrument_role");
      const char *rr = json_string_value(json_object_get(role, "role")),
                 *rs = json_string_value(json_object_get(role, "sound"));
      int ok = 0;
      size_t k;
      const json_t *w;
      json_array_foreach(json_object_get(tr, "instrument"), k, w) {
        const char *x = json_string_value(w);
        if (ci_contains(ins, x) || ci_contains(req, x) || ci_contains(rr, x) || ci_contains(rs, x)) ok = 1;
      }
      if (!ok) fail_check(fails, "track %s: instrument %s does not fit", new_id, ins ? ins : req ? req : "none");
    }
  }
  const json_t *nc = json_object_get(checks, "notes");
  if (nc) {
    const char *target = json_string_value(json_object_get(nc, "track"));
    if (!target || !strcmp(target, "new")) target = new_id ? new_id : created_track(acts, NULL, NULL);
    /* the notes the confirmed actions wrote on that track, absolute beats */
    json_t *notes = json_array();
    json_t *clips = json_object(); /* clip id -> start */
    size_t i;
    const json_t *a;
    json_array_foreach(acts, i, a) {
      const char *tool = json_string_value(json_object_get(a, "tool"));
      const json_t *args = json_object_get(a, "args"), *res = json_object_get(a, "result");
      if (!tool || !confirmed(a)) continue;
      int t = vocab_lookup(tool);
      if (t == VOCAB_CREATE_MIDI_CLIP) {
        const char *tid = json_string_value(json_object_get(args, "track_id"));
        if (!tid) tid = json_string_value(json_object_get(res, "track_id"));
        if (!target || !tid || strcmp(tid, target)) continue;
        double cs = json_number_value(json_object_get(args, "start_time"));
        const char *cid = json_string_value(json_object_get(res, "clip_id"));
        if (cid) json_object_set_new(clips, cid, json_real(cs));
        size_t k;
        const json_t *nt;
        json_array_foreach(json_object_get(args, "notes"), k, nt) json_array_append_new(
            notes, json_pack("{s:O, s:f, s:O}", "n", json_object_get(nt, "n"), "s",
                             cs + json_number_value(json_object_get(nt, "s")), "d", json_object_get(nt, "d")));
      } else if (t == VOCAB_EDIT_CLIP) {
        const char *cid = json_string_value(json_object_get(args, "clip_id"));
        const char *tid = json_string_value(json_object_get(res, "track_id"));
        const json_t *cs = cid ? json_object_get(clips, cid) : NULL;
        if (!target || (!cs && !(tid && !strcmp(tid, target)))) continue;
        double start = cs ? json_number_value(cs) : json_number_value(json_object_get(nc, "clip_start"));
        size_t k;
        const json_t *nt;
        json_array_foreach(json_object_get(args, "add_notes"), k, nt) json_array_append_new(
            notes, json_pack("{s:O, s:f, s:O}", "n", json_object_get(nt, "n"), "s",
                             start + json_number_value(json_object_get(nt, "s")), "d", json_object_get(nt, "d")));
      }
    }
    size_t nn = json_array_size(notes);
    json_int_t min = json_integer_value(json_object_get(nc, "min"));
    n++;
    if ((json_int_t)nn < (min > 0 ? min : 1))
      fail_check(fails, "%zu confirmed notes on %s, expected at least %lld", nn, target ? target : "the new track",
                 (long long)(min > 0 ? min : 1));
    const char *key = json_string_value(json_object_get(nc, "in_key"));
    int pcs[12];
    if (key) {
      n++;
      if (scale_of(key, pcs)) {
        fail_check(fails, "suite error: key \"%s\" (use e.g. \"A minor\", \"D dorian\")", key);
      } else {
        size_t out = 0;
        const json_t *nt;
        json_array_foreach(notes, i, nt) out += !pcs[json_integer_value(json_object_get(nt, "n")) % 12];
        if (out) fail_check(fails, "%zu of %zu notes outside %s", out, nn, key);
      }
    }
    const json_t *grid = json_object_get(nc, "grid");
    if (json_is_number(grid) && json_number_value(grid) > 0) {
      n++;
      double g = json_number_value(grid);
      size_t off = 0;
      const json_t *nt;
      json_array_foreach(notes, i, nt) {
        double q = json_number_value(json_object_get(nt, "s")) / g;
        off += fabs(q - round(q)) > 1e-4;
      }
      if (off) fail_check(fails, "%zu of %zu notes off the %g-beat grid", off, nn, g);
    }
    const json_t *bars = json_object_get(nc, "bars");
    if (json_array_size(bars) == 2) {
      n++;
      double bpb = 4, a0 = (json_number_value(json_array_get(bars, 0)) - 1) * bpb,
             z = json_number_value(json_array_get(bars, 1)) * bpb;
      size_t outside = 0;
      const json_t *nt;
      json_array_foreach(notes, i, nt) {
        double s = json_number_value(json_object_get(nt, "s"));
        outside += s < a0 - 1e-6 || s >= z - 1e-6;
      }
      if (outside)
        fail_check(fails, "%zu of %zu notes outside bars %lld-%lld", outside, nn,
                   (long long)json_integer_value(json_array_get(bars, 0)),
                   (long long)json_integer_value(json_array_get(bars, 1)));
    }
    const json_t *pitches = json_object_get(nc, "pitches");
    if (json_array_size(pitches)) {
      n++;
      size_t bad = 0;
      const json_t *nt;
      json_array_foreach(notes, i, nt) {
        json_int_t p = json_integer_value(json_object_get(nt, "n"));
        int ok = 0;
        size_t k;
        const json_t *x;
        json_array_foreach(pitches, k, x) ok |= json_integer_value(x) == p;
        bad += !ok;
      }
      if (bad) fail_check(fails, "%zu of %zu notes are not among the expected pitches", bad, nn);
    }
    const json_t *range = json_object_get(nc, "range");
    if (json_array_size(range) == 2) {
      n++;
      json_int_t lo = json_integer_value(json_array_get(range, 0)), hi = json_integer_value(json_array_get(range, 1));
      size_t bad = 0;
      const json_t *nt;
      json_array_foreach(notes, i, nt) {
        json_int_t p = json_integer_value(json_object_get(nt, "n"));
        bad += p < lo || p > hi;
      }
      if (bad) fail_check(fails, "%zu of %zu notes outside MIDI %lld-%lld", bad, nn, (long long)lo, (long long)hi);
    }
    json_decref(notes);
    json_decref(clips);
  }
  const char *fx = json_string_value(json_object_get(checks, "effect"));
  if (fx) {
    n++;
    int ok = 0;
    size_t i;
    const json_t *a;
    json_array_foreach(acts, i, a) {
      const char *tool = json_string_value(json_object_get(a, "tool"));
      if (vocab_lookup(tool) == VOCAB_ADD_EFFECT && confirmed(a) &&
          (ci_contains(json_string_value(json_object_get(json_object_get(a, "args"), "effect_name")), fx) ||
           ci_contains(json_string_value(json_object_get(json_object_get(a, "result"), "effect_name")), fx)))
        ok = 1;
    }
    if (!ok) fail_check(fails, "no confirmed add_effect like \"%s\"", fx);
  }
  size_t k;
  const json_t *want;
  json_array_foreach(json_object_get(checks, "actions"), k, want) {
    n++;
    const char *tool = json_string_value(json_object_get(want, "tool"));
    const json_t *wargs = json_object_get(want, "args");
    int ok = 0;
    size_t i;
    const json_t *a;
    json_array_foreach(acts, i, a) {
      const char *t = json_string_value(json_object_get(a, "tool"));
      if (!t || !tool || strcmp(t, tool) || !confirmed(a)) continue;
      const json_t *args = json_object_get(a, "args");
      int all = 1;
      const char *key;
      const json_t *v;
      json_object_foreach((json_t *)wargs, key, v) {
        const json_t *got = json_object_get(args, key);
        if (json_is_number(v) && json_is_number(got))
          all &= fabs(json_number_value(v) - json_number_value(got)) < 1e-6;
        else
          all &= json_equal((json_t *)v, (json_t *)got);
      }
      const json_t *mx = json_object_get(want, "max");
      json_object_foreach((json_t *)mx, key, v) all &=
          json_number_value(json_object_get(args, key)) <= json_number_value(v) + 1e-9;
      const json_t *mn = json_object_get(want, "min");
      json_object_foreach((json_t *)mn, key, v) all &=
          json_number_value(json_object_get(args, key)) >= json_number_value(v) - 1e-9;
      ok |= all;
    }
    if (!ok) {
      char *wj = json_dumps(want, JSON_COMPACT);
      fail_check(fails, "no confirmed action like %s", wj ? wj : "?");
      free(wj);
    }
  }
  return n;
}

/* ---- one case ---- */

static int count_lines(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s ? strstr(s, needle) : NULL; p; p = strstr(p + 1, needle)) n++;
  return n;
}

static long sum_after(const char *s, const char *key) {
  long t = -1;
  for (const char *p = s ? strstr(s, key) : NULL; p; p = strstr(p + 1, key)) {
    long v = strtol(p + strlen(key), NULL, 10);
    if (v >= 0) t = (t < 0 ? 0 : t) + v;
  }
  return t;
}

static void score_case(struct ev *e) {
  const json_t *cs = json_array_get(e->cases, e->i);
  double ms = (double)(uv_now(e->c->loop) - e->t0);
  json_error_t je;
  json_t *resp = e->ob.s ? json_loads(e->ob.s, 0, &je) : NULL;
  json_t *fails = json_array();
  const json_t *acts = json_object_get(resp, "actions_executed");
  int replans = count_lines(e->eb.s, "re-planning");
  int plan_ok = resp && !json_array_size(json_object_get(resp, "plan_errors")) && replans == 0 &&
                json_is_object(json_object_get(resp, "plan")) &&
                json_array_size(json_object_get(json_object_get(resp, "plan"), "steps"));
  size_t steps = json_array_size(acts), conf = 0;
  size_t i;
  const json_t *a;
  json_array_foreach(acts, i, a) conf += confirmed(a);
  size_t general = json_array_size(fails);
  if (!resp)
    fail_check(fails, "no JSON response (exit %lld%s)", (long long)e->exit_status, e->timed_out ? ", timed out" : "");
  else if (e->exit_status)
    fail_check(fails, "exit code %lld", (long long)e->exit_status);
  if (resp && (!steps || conf < steps)) fail_check(fails, "%zu of %zu steps confirmed", conf, steps);
  general = json_array_size(fails) - general;
  int nchecks = resp ? run_checks(json_object_get(cs, "checks"), acts, fails) : 0;
  size_t failed_checks = json_array_size(fails) - general;
  const json_t *usage = json_object_get(resp, "usage");
  /* the agent counts its model calls itself (usage.calls); older responses: stage 1 + re-plans + stage-2 turns */
  long calls = json_is_integer(json_object_get(usage, "calls"))
                   ? (long)json_integer_value(json_object_get(usage, "calls"))
                   : 1 + replans + (long)json_integer_value(json_object_get(resp, "model_turns"));
  long prompt_est = -1; /* the agent logs "stage 1 prompt: N tokens (estimate)" */
  const char *pl = e->eb.s ? strstr(e->eb.s, "stage 1 prompt: ") : NULL;
  if (pl) prompt_est = strtol(pl + strlen("stage 1 prompt: "), NULL, 10);
  long tin = json_is_object(usage) ? (long)json_integer_value(json_object_get(usage, "input_tokens"))
                                   : sum_after(e->eb.s, " in=");
  long tout = json_is_object(usage) ? (long)json_integer_value(json_object_get(usage, "output_tokens"))
                                    : sum_after(e->eb.s, " out=");
  int pass = resp && !e->exit_status && json_array_size(fails) == 0;
  json_t *r = json_pack(
      "{s:O, s:O, s:b, s:b, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:f, s:I, s:o}", "id", json_object_get(cs, "id"),
      "request", json_object_get(cs, "request"), "pass", pass, "plan_valid_first", plan_ok, "replans", replans, "steps",
      (int)steps, "confirmed", (int)conf, "checks", nchecks, "checks_failed", (int)failed_checks, "model_calls",
      (int)calls, "tokens_in", tin >= 0 ? json_integer(tin) : json_null(), "tokens_out",
      tout >= 0 ? json_integer(tout) : json_null(), "ms", ms, "exit", (json_int_t)e->exit_status, "failures", fails);
  json_object_set_new(r, "stage1_prompt_tokens_est", prompt_est >= 0 ? json_integer(prompt_est) : json_null());
  /* the JSON mode the child asked the model for (it logs "JSON mode schema: ..."); "off" when it asked for none */
  char jmode[16] = "off";
  const char *jl = e->eb.s ? strstr(e->eb.s, "JSON mode ") : NULL;
  if (jl) sscanf(jl + strlen("JSON mode "), "%15[a-z]", jmode);
  json_object_set_new(r, "json_mode", json_string(jmode));
  if (json_array_size(json_object_get(cs, "tags"))) json_object_set(r, "tags", json_object_get(cs, "tags"));
  json_array_append_new(e->results, r);
  if (!e->c->o.json) {
    char tin_s[24] = "-", tout_s[24] = "-";
    if (tin >= 0) snprintf(tin_s, sizeof tin_s, "%ld", tin);
    if (tout >= 0) snprintf(tout_s, sizeof tout_s, "%ld", tout);
    char pe_s[24] = "-";
    if (prompt_est >= 0) snprintf(pe_s, sizeof pe_s, "%ld", prompt_est);
    printf("%-28.28s %-5s %7d %5zu/%-3zu %5d/%-3d %5ld %7s %7s %7s %7.0f  %s\n",
           json_string_value(json_object_get(cs, "id")), plan_ok ? "ok" : "no", replans, conf, steps,
           nchecks - (int)failed_checks, nchecks, calls, pe_s, tin_s, tout_s, ms, pass ? "PASS" : "FAIL");
    json_array_foreach(fails, i, a) printf("    - %s\n", json_string_value(a));
    fflush(stdout);
  }
  json_decref(resp);
}

static void on_handle_closed(uv_handle_t *h) {
  struct ev *e = h->data;
  if (--e->live > 0) return;
  score_case(e);
  e->i++;
  start_case(e);
}

static void close_case(struct ev *e) {
  if (!uv_is_closing((uv_handle_t *)&e->timer)) uv_close((uv_handle_t *)&e->timer, on_handle_closed);
}

static void on_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b) {
  (void)h;
  b->base = malloc(sug);
  b->len = b->base ? sug : 0;
}

static int pipes_open(struct ev *e) {
  return !uv_is_closing((uv_handle_t *)&e->out) || !uv_is_closing((uv_handle_t *)&e->err);
}

static int proc_done(struct ev *e) { return uv_is_closing((uv_handle_t *)&e->proc); }

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  struct ev *e = s->data;
  if (n > 0) strbuf_append((uv_stream_t *)&e->out == s ? &e->ob : &e->eb, b->base, (size_t)n);
  free(b->base);
  if (n < 0) {
    uv_close((uv_handle_t *)s, on_handle_closed);
    if (!pipes_open(e) && proc_done(e)) close_case(e);
  }
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  struct ev *e = p->data;
  e->exit_status = sig ? 128 + sig : status;
  uv_close((uv_handle_t *)p, on_handle_closed);
  if (!pipes_open(e)) close_case(e);
}

static void on_timeout(uv_timer_t *t) {
  struct ev *e = t->data;
  e->timed_out = 1;
  if (!proc_done(e)) uv_process_kill(&e->proc, SIGTERM);
}

static void finish(struct ev *e) {
  size_t n = json_array_size(e->results), pass = 0, first = 0, steps = 0, conf = 0, checks = 0, cfail = 0;
  double ms = 0, prompt_sum = 0;
  long calls = 0;
  size_t prompt_n = 0;
  size_t i;
  const json_t *r;
  json_array_foreach(e->results, i, r) {
    pass += json_is_true(json_object_get(r, "pass"));
    first += json_is_true(json_object_get(r, "plan_valid_first"));
    steps += (size_t)json_integer_value(json_object_get(r, "steps"));
    conf += (size_t)json_integer_value(json_object_get(r, "confirmed"));
    checks += (size_t)json_integer_value(json_object_get(r, "checks"));
    cfail += (size_t)json_integer_value(json_object_get(r, "checks_failed"));
    calls += (long)json_integer_value(json_object_get(r, "model_calls"));
    ms += json_number_value(json_object_get(r, "ms"));
    const json_t *pe = json_object_get(r, "stage1_prompt_tokens_est");
    if (json_is_integer(pe)) prompt_sum += (double)json_integer_value(pe), prompt_n++;
  }
  const char *model = e->real_model ? (e->c->o.model ? e->c->o.model : "(configured model)") : "scripted";
  json_t *summary = json_pack(
      "{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:f}", "suite", e->suite_path, "model", model,
      "executor", e->c->o.executor ? e->c->o.executor : (e->real_model ? "llm" : "direct"), "cases", (int)n, "passed",
      (int)pass, "plan_valid_first", (int)first, "steps", (int)steps, "steps_confirmed", (int)conf, "checks",
      (int)checks, "checks_passed", (int)(checks - cfail), "model_calls", (json_int_t)calls, "wall_ms", ms);
  json_object_set_new(summary, "stage1_prompt_tokens_est_mean",
                      prompt_n ? json_integer((json_int_t)(prompt_sum / prompt_n + 0.5)) : json_null());
  json_object_set_new(summary, "profile", json_string(e->c->o.profile == 1 ? "small" : "default"));
  /* per tag: cases passed / run */
  json_t *tags = json_object();
  json_array_foreach(e->results, i, r) {
    size_t k;
    const json_t *tg;
    json_array_foreach(json_object_get(r, "tags"), k, tg) {
      const char *name = json_string_value(tg);
      if (!name) continue;
      json_t *t = json_object_get(tags, name);
      if (!t) json_object_set_new(tags, name, t = json_pack("{s:i, s:i}", "cases", 0, "passed", 0));
      json_object_set_new(t, "cases", json_integer(json_integer_value(json_object_get(t, "cases")) + 1));
      json_object_set_new(
          t, "passed",
          json_integer(json_integer_value(json_object_get(t, "passed")) + json_is_true(json_object_get(r, "pass"))));
    }
  }
  json_object_set_new(summary, "tags", tags);
  json_t *all = json_pack("{s:o, s:O}", "summary", summary, "cases", e->results);
  char path[1200];
  snprintf(path, sizeof path, "%s/results.json", e->dir);
  int saved = json_dump_file(all, path, JSON_INDENT(2)) == 0;
  if (e->c->o.json) {
    cli_print_json(all);
  } else {
    printf("\n%s (%s): %zu of %zu cases passed; plan valid first time %zu/%zu; steps confirmed %zu/%zu; checks "
           "%zu/%zu; %ld model calls; stage-1 prompt %.0f tokens on average; %.1f s\n",
           json_string_value(json_object_get(e->suite, "name")) ? json_string_value(json_object_get(e->suite, "name"))
                                                                : e->suite_path,
           model, pass, n, first, n, conf, steps, checks - cfail, checks, calls, prompt_n ? prompt_sum / prompt_n : 0.0,
           ms / 1000.0);
    if (json_object_size(tags)) {
      printf("By tag:");
      const char *name;
      const json_t *t;
      int first_tag = 1;
      json_object_foreach(tags, name, t) {
        printf("%s %s %lld/%lld", first_tag ? "" : ",", name,
               (long long)json_integer_value(json_object_get(t, "passed")),
               (long long)json_integer_value(json_object_get(t, "cases")));
        first_tag = 0;
      }
      printf("\n");
    }
    if (saved) printf("Results: %s\n", path);
  }
  if (!saved) fprintf(stderr, "dawbridge: eval: cannot write %s\n", path);
  json_decref(all);
  cli_finish(e->c, pass == n && n ? CLI_EXIT_OK : CLI_EXIT_FAILED);
}

static void start_case(struct ev *e) {
  if (e->i >= json_array_size(e->cases)) {
    finish(e);
    return;
  }
  const json_t *cs = json_array_get(e->cases, e->i);
  const char *req = json_string_value(json_object_get(cs, "request"));
  char tpath[1200], ddir[1200];
  snprintf(ddir, sizeof ddir, "%s/data-%zu", e->dir, e->i + 1);
  snprintf(tpath, sizeof tpath, "%s/case-%zu.json", e->dir, e->i + 1);
  if (!e->real_model) {
    json_t *tr = json_pack("{s:s, s:[]}", "description", "eval case", "responses");
    size_t k;
    const json_t *r;
    json_array_foreach(json_object_get(cs, "responses"), k, r) {
      json_array_append_new(json_object_get(tr, "responses"), json_is_string(r)
                                                                  ? json_pack("{s:O, s:s}", "text", r, "finish", "stop")
                                                                  : json_deep_copy(r));
    }
    json_dump_file(tr, tpath, JSON_INDENT(1));
    json_decref(tr);
  }
  strbuf_reset(&e->ob);
  strbuf_reset(&e->eb);
  e->exit_status = -1;
  e->timed_out = 0;
  const char *args[40];
  int n = 0;
  char budget[32];
  args[n++] = e->exe;
  args[n++] = "--daw";
  args[n++] = "mock";
  if (e->c->o.dialect) args[n++] = "--dialect", args[n++] = e->c->o.dialect;
  args[n++] = "--json";
  args[n++] = "--log-level";
  args[n++] = e->real_model ? "debug" : "info";
  args[n++] = "--data-dir";
  args[n++] = ddir;
  args[n++] = "--executor";
  args[n++] = e->c->o.executor ? e->c->o.executor : e->real_model ? "llm" : "direct";
  /* the resolved model options, always explicit: the child reads the same configuration file, which must not
   * undo a --profile default or --json-mode given here */
  args[n++] = "--profile", args[n++] = e->c->o.profile == 1 ? "small" : "default";
  if (e->c->o.json_mode) args[n++] = "--json-mode", args[n++] = e->c->o.json_mode;
  if (e->c->o.context_budget > 0) {
    snprintf(budget, sizeof budget, "%ld", e->c->o.context_budget);
    args[n++] = "--context-budget", args[n++] = budget;
  }
  if (e->real_model) {
    args[n++] = "--llm", args[n++] = e->c->o.llm;
    if (e->c->o.model) args[n++] = "--model", args[n++] = e->c->o.model;
    if (e->c->o.llm_url) args[n++] = "--llm-url", args[n++] = e->c->o.llm_url;
  } else {
    args[n++] = "--llm", args[n++] = "script", args[n++] = "--transcript", args[n++] = tpath;
  }
  args[n++] = "ask";
  args[n++] = req ? req : "";
  args[n] = NULL;
  uv_loop_t *loop = e->c->loop;
  uv_pipe_init(loop, &e->out, 0);
  uv_pipe_init(loop, &e->err, 0);
  uv_timer_init(loop, &e->timer);
  e->out.data = e->err.data = e->timer.data = e->proc.data = e;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&e->out;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&e->err;
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  po.file = e->exe;
  po.args = (char **)args;
  po.exit_cb = on_exit_cb;
  po.stdio = stdio;
  po.stdio_count = 3;
  e->t0 = uv_now(loop);
  e->live = 4;
  int rc = uv_spawn(loop, &e->proc, &po);
  if (rc) {
    fprintf(stderr, "dawbridge: eval: cannot start %s: %s\n", e->exe, uv_strerror(rc));
    e->exit_status = 127;
    e->live = 4;
    uv_close((uv_handle_t *)&e->proc, on_handle_closed);
    uv_close((uv_handle_t *)&e->out, on_handle_closed);
    uv_close((uv_handle_t *)&e->err, on_handle_closed);
    close_case(e);
    return;
  }
  uv_read_start((uv_stream_t *)&e->out, on_alloc, on_read);
  uv_read_start((uv_stream_t *)&e->err, on_alloc, on_read);
  uv_timer_start(&e->timer, on_timeout, EVAL_CASE_TIMEOUT_MS, 0);
}

int cmd_eval(struct cli *c) {
  if (c->argc > 1) {
    fprintf(stderr, "dawbridge: eval takes at most one argument, the suite (default examples/eval/suite.json)\n");
    return CLI_EXIT_USAGE;
  }
  struct ev *e = cli_cmd_new(c, sizeof *e, ev_free);
  if (!e) return CLI_EXIT_CONFIG;
  e->c = c;
  char derr[600];
  if (c->argc == 1)
    snprintf(e->suite_path, sizeof e->suite_path, "%s", c->argv[0]);
  else if (datadir_file(DATADIR_EXAMPLES, "eval/suite.json", e->suite_path, sizeof e->suite_path, derr, sizeof derr)) {
    fprintf(stderr, "dawbridge: eval: %s\n", derr);
    return CLI_EXIT_CONFIG;
  }
  json_error_t je;
  e->suite = json_load_file(e->suite_path, 0, &je);
  e->cases = json_object_get(e->suite, "cases");
  if (!e->suite || !json_array_size(e->cases)) {
    fprintf(stderr, "dawbridge: eval: %s: %s\n", e->suite_path, e->suite ? "no cases" : je.text);
    return CLI_EXIT_CONFIG;
  }
  size_t sz = sizeof e->exe;
  if (uv_exepath(e->exe, &sz)) {
    fprintf(stderr, "dawbridge: eval: cannot find this executable\n");
    return CLI_EXIT_CONFIG;
  }
  e->real_model = c->o.llm && strcmp(c->o.llm, "script");
  if (c->o.data_dir) {
    snprintf(e->dir, sizeof e->dir, "%s/eval-XXXXXX", c->o.data_dir);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(e->dir, sizeof e->dir, "%s/dawbridge-eval-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  }
  if (!mkdtemp(e->dir)) {
    fprintf(stderr, "dawbridge: eval: cannot create %s: %s\n", e->dir, strerror(errno));
    return CLI_EXIT_CONFIG;
  }
  e->results = json_array();
  if (!c->o.json) {
    printf("dawbridge eval: %s, %zu cases, model %s, each against a fresh embedded mock DAW\n\n", e->suite_path,
           json_array_size(e->cases), e->real_model ? (c->o.model ? c->o.model : c->o.llm) : "scripted (offline)");
    printf("%-28s %-5s %7s %9s %9s %5s %7s %7s %7s %7s  %s\n", "case", "plan", "replans", "confirmed", "checks",
           "calls", "prompt", "tok in", "tok out", "ms", "result");
  }
  start_case(e);
  return 0;
}
