/* prompt_budget.c — the stage-1 prompt at any session size: tokens and build time, budget vs. the old prompt.
 *
 * Sessions of 8, 64, 256 and 1,024 tracks with 0 and 100 notes per track (MIDI tracks, one 16-bar clip each;
 * drums, bass, chords and melodies over Am-F-C-G). For each, the whole stage-1 prompt (system + user, with the
 * REAPER map's catalog and every tool of vocab/tools.json) is built
 *   budget   with the default budget (6,000 tokens): tokens (budget_tokens() estimate and characters / 4) and the
 *            build time of the prompt (prompt_stage1 with the analysis given, as the agent calls it) and with
 *            the analysis (context_analyze + prompt_stage1), medians of RUNS,
 *   old      without a budget (context_budget < 0: the whole state as JSON, the format before the budget), in
 *            the same run, as the baseline.
 * Checks: every budgeted figure <= the budget, and the 1,024 x 100 prompt build <= 10 ms of process CPU time
 * (the wall-clock median is printed beside it; on a machine shared with other work it measures the scheduler
 * too); exits 1 when a check fails. (The analysis of 102,400 notes is reported, not checked.)
 *   bench_prompt_budget [RUNS] [--show TRACKS NOTES]   (default 15 runs; --show prints that prompt's user part)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "budget.h"
#include "db_test_util.h"
#include "context.h"
#include "prompt.h"

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static json_t *load(const char *rel) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", db_test_source_dir(), rel);
  json_error_t e;
  json_t *j = json_load_file(path, 0, &e);
  if (!j) fprintf(stderr, "cannot load %s: %s\n", path, e.text);
  return j;
}

/* A session of ntr tracks with nnotes notes each. */
static json_t *make_session(int ntr, int nnotes) {
  static const char *kinds[] = {"Kick", "Snare", "Hats", "Bass", "Pad", "Lead", "Strings", "Piano", "Arp", "Brass"};
  static const int prog[4][3] = {{57, 60, 64}, {53, 57, 60}, {48, 52, 55}, {55, 59, 62}}; /* Am F C G */
  json_t *tracks = json_array();
  for (int t = 0; t < ntr; t++) {
    int kind = t % 10;
    char name[48], id[16];
    snprintf(name, sizeof name, "%s %d", kinds[kind], t / 10 + 1);
    snprintf(id, sizeof id, "t%d", t + 1);
    json_t *notes = json_array();
    for (int i = 0; i < nnotes; i++) {
      double s = i * (64.0 / (nnotes ? nnotes : 1));
      s = (double)(long)(s * 4) / 4; /* on the 16th grid */
      int bar = (int)(s / 4) % 4, n;
      double d = 0.5;
      if (kind == 0)
        n = 36;
      else if (kind == 1)
        n = 38;
      else if (kind == 2)
        n = 42, d = 0.25;
      else if (kind == 3)
        n = prog[bar][0] - 24;
      else
        n = prog[bar][i % 3] + (kind == 5 ? 12 : 0);
      json_array_append_new(notes, json_pack("{s:i, s:f, s:f, s:i}", "n", n, "s", s, "d", d, "v", 96));
    }
    json_t *tr =
        json_pack("{s:s, s:i, s:s, s:s, s:s, s:f, s:f, s:b, s:b, s:b, s:b, s:s, s:[{s:i, s:s, s:b, s:[]}], "
                  "s:[{s:s, s:s, s:s, s:f, s:f, s:o}]}",
                  "id", id, "index", t + 1, "host_id", "{0A1B2C3D-0000-0000-0000-000000000000}", "name", name, "type",
                  "midi", "volume_db", 0.0, "pan", 0.0, "mute", 0, "solo", 0, "rec_arm", 0, "selected", 0, "instrument",
                  "ReaSynth", "fx", "index", 1, "name", "ReaSynth", "enabled", 1, "params", "clips", "id", "c1",
                  "host_id", "{C}", "name", name, "start", 0.0, "length", 64.0, "notes", notes);
    json_array_append_new(tracks, tr);
  }
  return json_pack("{s:s, s:s, s:s, s:f, s:[i,i], s:{s:b, s:b, s:f}, s:{s:b, s:f, s:f}, s:[], s:o}", "format",
                   "dawbridge.session/1", "dialect", "reaper", "project", "Bench", "tempo", 120.0, "time_signature", 4,
                   4, "transport", "playing", 0, "recording", 0, "position", 0.0, "loop", "enabled", 0, "start", 0.0,
                   "end", 0.0, "markers", "tracks", tracks);
}

struct fig {
  size_t tokens, chars;
  double ms, prompt_ms; /* analysis + prompt; the prompt alone (analysis given, as the agent does) */
  double prompt_cpu_ms; /* the prompt alone, process CPU time (robust to other processes on the machine) */
  struct budget_stats st;
};

static int measure(prompt_t *p, const json_t *sess, const json_t *tools, const json_t *catalog, long budget, int runs,
                   struct fig *f, int show) {
  double *t = calloc((size_t)runs, sizeof *t), *tp = calloc((size_t)runs, sizeof *tp),
         *tc = calloc((size_t)runs, sizeof *tc);
  for (int r = 0; r < runs; r++) {
    double t0 = db_test_now_ms();
    json_t *an = context_analyze(sess);
    double t1 = db_test_now_ms(), c1 = cpu_ms();
    struct prompt_stage1 in = {.dialect = "reaper",
                               .request = "make the bass busier in bars 5-8",
                               .state = sess,
                               .analysis = an,
                               .catalog = catalog,
                               .tools = tools,
                               .context_budget = budget,
                               .stats = &f->st};
    struct prompt_text out;
    char err[256];
    if (prompt_stage1(p, &in, &out, err, sizeof err)) {
      fprintf(stderr, "prompt_stage1: %s\n", err);
      json_decref(an);
      free(t);
      free(tp);
      free(tc);
      return -1;
    }
    t[r] = db_test_now_ms() - t0;
    tp[r] = db_test_now_ms() - t1;
    tc[r] = cpu_ms() - c1;
    f->tokens = budget_tokens(out.system) + budget_tokens(out.user);
    f->chars = strlen(out.system ? out.system : "") + strlen(out.user ? out.user : "");
    if (show && r == 0) printf("---- system ----\n%s\n---- user ----\n%s\n----\n", out.system, out.user);
    prompt_text_free(&out);
    json_decref(an);
  }
  bench_sort(t, runs);
  bench_sort(tp, runs);
  bench_sort(tc, runs);
  f->ms = t[runs / 2];
  f->prompt_ms = tp[runs / 2];
  f->prompt_cpu_ms = tc[runs / 2];
  free(t);
  free(tp);
  free(tc);
  return 0;
}

int main(int argc, char **argv) {
  int runs = 15, show_t = -1, show_n = -1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--show") && i + 2 < argc) {
      show_t = atoi(argv[++i]);
      show_n = atoi(argv[++i]);
    } else {
      runs = atoi(argv[i]);
    }
  }
  if (runs < 1) runs = 1;
  json_t *tools = load("vocab/tools.json"), *map = load("osc-maps/reaper.json");
  if (!tools || !map) return 2;
  prompt_t *p = NULL;
  char err[512];
  if (prompt_load(NULL, &p, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  const json_t *tl = json_object_get(tools, "tools"), *catalog = json_object_get(map, "catalog");
  static const int sizes[] = {8, 64, 256, 1024}, counts[] = {0, 100};
  int fails = 0;
  printf("stage-1 prompt, budget %d tokens (estimate: budget_tokens; chars/4 for comparison); median of %d builds\n",
         BUDGET_DEFAULT_TOKENS, runs);
  printf("%6s %6s | %7s %7s %9s %8s %9s  %-22s | %8s %8s %9s %9s\n", "tracks", "notes", "tokens", "chars/4",
         "prompt ms", "cpu ms", "+anal. ms", "full/sum/name/cut", "old tok", "old c/4", "prompt ms", "+anal. ms");
  for (int si = 0; si < 4; si++)
    for (int ci = 0; ci < 2; ci++) {
      json_t *sess = make_session(sizes[si], counts[ci]);
      int show = sizes[si] == show_t && counts[ci] == show_n;
      struct fig nb = {0}, old = {0};
      int old_runs = sizes[si] * counts[ci] > 20000 ? (runs < 3 ? runs : 3) : runs;
      if (measure(p, sess, tl, catalog, 0, runs, &nb, show) || measure(p, sess, tl, catalog, -1, old_runs, &old, 0)) {
        fails++;
        json_decref(sess);
        continue;
      }
      char lv[40];
      snprintf(lv, sizeof lv, "%zu/%zu/%zu/%zu", nb.st.full, nb.st.detail, nb.st.name_only, nb.st.elided);
      int over = nb.tokens > BUDGET_DEFAULT_TOKENS;
      int slow = sizes[si] == 1024 && counts[ci] == 100 && nb.prompt_cpu_ms > 10.0;
      printf("%6d %6d | %7zu %7zu %9.2f %8.2f %9.2f  %-22s | %8zu %8zu %9.2f %9.2f%s%s\n", sizes[si], counts[ci],
             nb.tokens, nb.chars / 4, nb.prompt_ms, nb.prompt_cpu_ms, nb.ms, lv, old.tokens, old.chars / 4,
             old.prompt_ms, old.ms, over ? "  OVER BUDGET" : "", slow ? "  PROMPT SLOWER THAN 10 ms (CPU)" : "");
      fails += over + slow;
      json_decref(sess);
    }
  prompt_free(p);
  json_decref(tools);
  json_decref(map);
  printf("%s\n", fails ? "FAIL" : "all figures within the budget; the 1,024 x 100 prompt built within 10 ms (CPU)");
  return fails ? 1 : 0;
}
