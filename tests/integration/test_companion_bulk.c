/* Bulk notes (issue 11): a clip of 20,000 notes goes through daw_call as one tool call, split into bounded
 * companion commands, confirmed as one by reading the whole clip back and comparing; the mock DAW's own state dump
 * holds every note exactly. A companion whose ping offers the packed form (PROTOCOL.md "Bulk notes") gets the notes
 * packed, 10,000 a command, and gives the read-back packed; an older companion gets JSON notes, 2,000 a command
 * (create with the first chunk, then edit_clip adds). Both dialects, the embedded mock DAW with its companion over a
 * real spool and real UDP. Also: create_track names a track of the same name in its result's "warning". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "companion.h"
#include "daw.h"
#include "plan.h"
#include "mock_embed.h"
#include "tools.h"
#include "db_test_json.h"
#include "wire_fixture.h"

static const char *const dialects[] = {"reaper", "ardour"};

/* The DAW facade over the embedded mock DAW on the wire fixture's loop, with its last result
 * (tests/support/wire_fixture.h). */
struct ctx {
  struct wire w;
  daw_t *d;
  mock_embed_t *mock;
  int closed;
};

/* Opens the embedded mock DAW of `dialect` (with its companion or not) and starts the facade on it; legacy = 1: the
 * companion plays one from before the packed bulk form (set before the bridge pings it). */
static void ctx_open(struct ctx *x, const char *dialect, int companion, int legacy) {
  memset(x, 0, sizeof *x);
  uv_loop_init(&x->w.loop);
  struct daw_config cfg = {.dialect = dialect,
                           .listen_port = -1,
                           .confirm_timeout_ms = -1,
                           .retries = -1,
                           .refresh_interval_ms = 0,
                           .log = {.level = LOG_ERROR}};
  struct mock_embed_config mcfg = {.tracks = -1, .companion = companion, .quiet = 1};
  char err[512];
  assert_int_equal(mock_embed_open(&x->w.loop, &cfg, &mcfg, &x->d, &x->mock, err, sizeof err), 0);
  if (companion) assert_int_equal(mock_companion_legacy(mock_embed_mock(x->mock), legacy), MOCK_OK);
  x->w.daw = x->d;
  assert_int_equal(daw_start(x->d, wire_on_result, &x->w), 0);
  assert_int_equal(wire_wait(&x->w, 30000), 0);
}

/* One tool call through the facade, `args` borrowed, waiting at most ms: its status, the result in x->w.result. */
static int ctx_call(struct ctx *x, const char *tool, const json_t *args, int ms) {
  x->w.done = 0;
  assert_int_equal(daw_call(x->d, tool, args, wire_on_result, &x->w), 0);
  return wire_wait(&x->w, ms);
}

static void on_closed(void *data) { ((struct ctx *)data)->closed++; }

static void ctx_close(struct ctx *x) {
  daw_close(x->d, on_closed, x);
  mock_embed_close(x->mock, on_closed, x);
  uv_run(&x->w.loop, UV_RUN_DEFAULT);
  assert_int_equal(x->closed, 2);
  json_decref(x->w.result);
  assert_int_equal(uv_loop_close(&x->w.loop), 0);
}

/* n notes over 16 pitches and n/4 beats: every note distinct, velocities and lengths varied */
static json_t *make_notes(size_t n, int pitch0) {
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
    json_array_append_new(a, json_pack("{s:i,s:f,s:f,s:i}", "n", pitch0 + (int)(i % 16), "s",
                                       (double)(i / 4) * 0.25 + (double)(i % 4) * 0.0625, "d",
                                       0.125 + (double)(i % 3) * 0.0625, "v", 1 + (int)(i % 127)));
  }
  return a;
}

static int note_cmp(const void *a, const void *b) {
  const double *x = a, *y = b;
  for (int k = 0; k < 4; k++)
    if (x[k] != y[k]) return x[k] < y[k] ? -1 : 1;
  return 0;
}

/* The mock's notes equal the wanted ones exactly (sorted, n/s/d/v). */
static void expect_same_notes(const json_t *want, const json_t *got) {
  size_t n = json_array_size(want);
  assert_int_equal(json_array_size(got), n);
  double *a = malloc(n * 4 * sizeof *a), *b = malloc(n * 4 * sizeof *b);
  for (size_t i = 0; i < n; i++) {
    const json_t *w = json_array_get(want, i), *g = json_array_get(got, i);
    const char *k[4] = {"n", "s", "d", "v"};
    for (int j = 0; j < 4; j++) {
      a[i * 4 + j] = json_number_value(json_object_get(w, k[j]));
      b[i * 4 + j] = json_number_value(json_object_get(g, k[j]));
    }
  }
  qsort(a, n, 4 * sizeof *a, note_cmp);
  qsort(b, n, 4 * sizeof *b, note_cmp);
  for (size_t i = 0; i < n * 4; i++)
    if (fabs(a[i] - b[i]) > 1e-9) fail_msg("note %zu differs in the DAW: want %g, has %g", i / 4, a[i], b[i]);
  free(a);
  free(b);
}

/* The k-th clip of the track `track` in the mock's state dump st (borrowed), NULL if there is none. */
static const json_t *mock_clip(json_t *st, const char *track, size_t k) {
  return json_array_get(json_object_get(db_test_json_track(st, track), "clips"), k);
}

/* The mock DAW's own clip k of "Bass" holds exactly the notes `want`. */
static void expect_daw_bass_clip(struct ctx *x, size_t k, const json_t *want) {
  json_t *ms = mock_embed_state(x->mock);
  expect_same_notes(want, json_object_get(mock_clip(ms, "Bass", k), "notes"));
  json_decref(ms);
}

/* The last call's result: confirmed, the clip holding `notes` notes, sent in `commands` companion commands (0: in
 * one, which a result does not count). */
static void expect_confirmed(struct ctx *x, json_int_t notes, json_int_t commands) {
  assert_string_equal(json_string_value(json_object_get(x->w.result, "status")), "confirmed");
  assert_int_equal(json_integer_value(json_object_get(x->w.result, "notes")), notes);
  assert_int_equal(json_integer_value(json_object_get(x->w.result, "companion_commands")), commands);
}

static void test_companion_bulk_notes_20000_one_call(void **st) {
  (void)st;
  for (int run = 0; run < 4; run++) {
    int di = run % 2, legacy = run / 2;
    /* companion commands: packed 10,000 notes a command (removals JSON, 2,000 a command); legacy 2,000 */
    const int cmds_create = legacy ? 10 : 2, cmds_add = legacy ? 3 : 1, cmds_transpose = legacy ? 26 : 13 + 3;
    struct ctx x;
    ctx_open(&x, dialects[di], 1, legacy);
    assert_true(daw_has_companion(x.d));
    /* the ping's capability as the bridge saw it */
    const json_t *bulk = json_object_get(companion_info(daw_companion(x.d)), "bulk");
    assert_int_equal(json_is_true(json_object_get(bulk, "packed")), !legacy);
    int ti = session_track_index_by_name(daw_session(x.d), "Bass");
    assert_true(ti > 0);
    size_t before = 0;
    json_t *ms = mock_embed_state(x.mock);
    while (mock_clip(ms, "Bass", before)) before++;
    json_decref(ms);

    /* one create_midi_clip of 20,000 notes */
    json_t *notes = make_notes(20000, 36);
    json_t *args = json_pack("{s:s,s:f,s:f,s:O}", "track_id", session_track_id(daw_session(x.d), ti), "start_time",
                             64.0, "duration", 5000.0, "notes", notes);
    if (ctx_call(&x, "create_midi_clip", args, 120000))
      fail_msg("%s%s: create_midi_clip of 20,000 notes: %s", dialects[di], legacy ? " (legacy)" : "", x.w.message);
    json_decref(args);
    expect_confirmed(&x, 20000, cmds_create);
    assert_int_equal(json_integer_value(json_object_get(x.w.result, "notes_added")), 20000);
    char clip_id[32];
    snprintf(clip_id, sizeof clip_id, "%s", json_string_value(json_object_get(x.w.result, "clip_id")));
    /* the DAW's own state: exactly those notes, in one clip */
    ms = mock_embed_state(x.mock);
    const json_t *clip = mock_clip(ms, "Bass", before);
    assert_non_null(clip);
    assert_null(mock_clip(ms, "Bass", before + 1));
    expect_same_notes(notes, json_object_get(clip, "notes"));
    json_decref(ms);
    /* the mirror too */
    const json_t *mc = session_clip_find(daw_session(x.d), clip_id, NULL);
    assert_non_null(mc);
    assert_int_equal(json_array_size(json_object_get(mc, "notes")), 20000);

    /* edit_clip adds 4,500 more: three commands, the whole clip read back */
    json_t *more = make_notes(4500, 70);
    args = json_pack("{s:s,s:O}", "clip_id", clip_id, "add_notes", more);
    if (ctx_call(&x, "edit_clip", args, 120000))
      fail_msg("%s: edit_clip adding 4,500 notes: %s", dialects[di], x.w.message);
    json_decref(args);
    expect_confirmed(&x, 24500, cmds_add > 1 ? cmds_add : 0);
    assert_int_equal(json_integer_value(json_object_get(x.w.result, "added")), 4500);
    json_array_extend(notes, more);
    expect_daw_bass_clip(&x, before, notes);

    /* transpose all 24,500 notes: removals and additions in bounded commands, the whole clip read back */
    args = json_pack("{s:s,s:i}", "clip_id", clip_id, "transpose", 1);
    if (ctx_call(&x, "edit_clip", args, 120000))
      fail_msg("%s: transposing 24,500 notes: %s", dialects[di], x.w.message);
    json_decref(args);
    expect_confirmed(&x, 24500, cmds_transpose);
    size_t i;
    json_t *o;
    json_array_foreach(notes, i, o)
        json_object_set_new(o, "n", json_integer(json_integer_value(json_object_get(o, "n")) + 1));
    /* (the objects of `more` are in `notes` too: shifted once above) */
    expect_daw_bass_clip(&x, before, notes);

    /* remove the 4,500 again: three removal commands */
    args = json_pack("{s:s,s:O}", "clip_id", clip_id, "remove_notes", more);
    if (ctx_call(&x, "edit_clip", args, 120000)) fail_msg("%s: removing 4,500 notes: %s", dialects[di], x.w.message);
    json_decref(args);
    expect_confirmed(&x, 20000, 3);
    json_t *kept = json_array();
    for (i = 0; i < 20000; i++) json_array_append(kept, json_array_get(notes, i));
    expect_daw_bass_clip(&x, before, kept);
    json_decref(kept);
    json_decref(more);
    json_decref(notes);

    ctx_close(&x);
  }
}

/* A plan whose clip has 20,000 notes written one per line (1.3 MB for that one argument): parsed, validated against
 * the catalog and the session, and run as one tool call; every note in the DAW. */
static void test_companion_bulk_plan_20000_notes(void **st) {
  (void)st;
  size_t cap = 2u << 20, n = 0;
  char *text = malloc(cap);
  n += (size_t)snprintf(text + n, cap - n,
                        "**PLAN:**\nStep 1: create_midi_clip - a long bass line\n  - track_id: Bass\n"
                        "  - start_time: 64\n  - duration: 5000\n  - notes: [\n");
  json_t *want = make_notes(20000, 36);
  for (size_t i = 0; i < 20000; i++) {
    const json_t *o = json_array_get(want, i);
    n += (size_t)snprintf(text + n, cap - n, "      {\"n\": %lld, \"s\": %.10f, \"d\": %.10f, \"v\": %lld}%s\n",
                          (long long)json_integer_value(json_object_get(o, "n")),
                          json_number_value(json_object_get(o, "s")), json_number_value(json_object_get(o, "d")),
                          (long long)json_integer_value(json_object_get(o, "v")), i + 1 < 20000 ? "," : "");
  }
  n += (size_t)snprintf(text + n, cap - n, "    ]\n");
  assert_true(n > (1u << 20)); /* beyond the old 1 MiB limit for one argument */
  char err[512];
  plan_t *plan = plan_parse(text, n, err, sizeof err);
  free(text);
  if (!plan) fail_msg("plan_parse: %s", err);
  tools_t *tools = NULL;
  assert_int_equal(tools_load(NULL, &tools, err, sizeof err), 0);

  struct ctx x;
  ctx_open(&x, "ardour", 1, 0);
  json_t *state = session_to_json(daw_session(x.d));
  json_t *errors = NULL;
  int rc = plan_validate(plan, tools_catalog(tools), state, NULL, &errors);
  if (rc) {
    char *e = json_dumps(errors, 0);
    fail_msg("plan_validate: %s", e);
  }
  json_decref(errors);
  json_decref(state);
  assert_int_equal(plan_step_count(plan), 1);
  json_t *args = plan_step_args(plan, 0);
  assert_int_equal(json_array_size(json_object_get(args, "notes")), 20000);
  if (ctx_call(&x, plan_step_tool(plan, 0), args, 120000)) fail_msg("the plan's create_midi_clip: %s", x.w.message);
  assert_string_equal(json_string_value(json_object_get(x.w.result, "status")), "confirmed");
  assert_int_equal(json_integer_value(json_object_get(x.w.result, "companion_commands")), 2);
  json_t *ms = mock_embed_state(x.mock);
  size_t k = 0;
  const json_t *c, *found = NULL;
  while ((c = mock_clip(ms, "Bass", k++)) != NULL)
    if (json_array_size(json_object_get(c, "notes")) == 20000) found = c;
  assert_non_null(found);
  expect_same_notes(want, json_object_get(found, "notes"));
  json_decref(ms);
  json_decref(want);
  plan_free(plan);
  tools_free(tools);
  ctx_close(&x);
}

/* The CLI: arguments too big for one command-line argument (Linux: 128 KiB) come from a file or stdin. */
static int run_cli(const char *cmd, char *out, size_t outlen) {
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(out, 1, outlen - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli_call_args_from_file_and_stdin(void **st) {
  (void)st;
  const char *bin = getenv("DAWBRIDGE_BINARY_DIR");
  if (!bin) fail_msg("DAWBRIDGE_BINARY_DIR is not set (run through ctest)");
  const char *tmp = getenv("TMPDIR");
  char dir[512], file[600], cmd[2048], out[1 << 16];
  snprintf(dir, sizeof dir, "%s/dawbridge-bulkcli-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  assert_non_null(mkdtemp(dir));
  snprintf(file, sizeof file, "%s/clip.json", dir);
  json_t *notes = make_notes(20000, 36);
  json_t *args =
      json_pack("{s:s,s:f,s:f,s:o}", "track_id", "Bass", "start_time", 64.0, "duration", 5000.0, "notes", notes);
  assert_int_equal(json_dump_file(args, file, JSON_COMPACT), 0);
  json_decref(args);
  for (int di = 0; di < 2; di++) {
    for (int via_stdin = 0; via_stdin < 2; via_stdin++) {
      snprintf(cmd, sizeof cmd, "'%s/dawbridge' --daw mock --dialect %s --json call create_midi_clip %s%s 2>&1", bin,
               dialects[di], via_stdin ? "- < " : "@", file);
      int rc = run_cli(cmd, out, sizeof out);
      if (rc != 0) fail_msg("%s: exit %d:\n%s", cmd, rc, out);
      json_error_t je;
      json_t *r = json_loads(strchr(out, '{') ? strchr(out, '{') : out, JSON_DISABLE_EOF_CHECK, &je);
      if (!r) fail_msg("%s: no JSON result: %s\n%s", cmd, je.text, out);
      assert_string_equal(json_string_value(json_object_get(r, "status")), "confirmed");
      assert_int_equal(json_integer_value(json_object_get(r, "notes")), 20000);
      assert_int_equal(json_integer_value(json_object_get(r, "companion_commands")), 2); /* packed, 10,000 each */
      json_decref(r);
    }
  }
  /* a file that is not there, and one that is not a JSON object: invalid request (4), the file named */
  snprintf(cmd, sizeof cmd, "'%s/dawbridge' --daw mock call create_midi_clip @%s/nope.json 2>&1", bin, dir);
  assert_int_equal(run_cli(cmd, out, sizeof out), 4);
  assert_non_null(strstr(out, "nope.json"));
  snprintf(cmd, sizeof cmd, "echo '[1,2]' | '%s/dawbridge' --daw mock call create_midi_clip - 2>&1", bin);
  assert_int_equal(run_cli(cmd, out, sizeof out), 4);
  assert_non_null(strstr(out, "stdin"));
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* create_track with a name a track has already: the track is made (names need not be unique), and the result's
 * "warning" names the existing one; a free name gets no warning. Through the companion (both dialects) and through
 * REAPER's native OSC (no companion); and the CLI prints the warning. */
static void test_companion_bulk_create_track_name_taken(void **st) {
  (void)st;
  static const struct {
    const char *dialect;
    int companion;
  } runs[] = {{"reaper", 1}, {"ardour", 1}, {"reaper", 0}};
  for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
    struct ctx x;
    ctx_open(&x, runs[r].dialect, runs[r].companion, 0);
    assert_int_equal(daw_has_companion(x.d), runs[r].companion);
    int ti = session_track_index_by_name(daw_session(x.d), "Bass");
    assert_true(ti > 0);
    char want[200];
    snprintf(want, sizeof want, "a track named \"Bass\" already exists (track_id %s)",
             session_track_id(daw_session(x.d), ti));
    static const char *const names[] = {"bass", "Brand New Track"};
    for (int k = 0; k < 2; k++) {
      json_t *args = json_pack("{s:s,s:s}", "name", names[k], "type", "midi");
      if (ctx_call(&x, "create_track", args, 30000))
        fail_msg("%s: create_track %s: %s", runs[r].dialect, names[k], x.w.message);
      json_decref(args);
      assert_string_equal(json_string_value(json_object_get(x.w.result, "status")), "confirmed");
      const char *w = json_string_value(json_object_get(x.w.result, "warning"));
      if (k == 0 && (!w || !strstr(w, want)))
        fail_msg("%s%s: warning '%s', want '%s'", runs[r].dialect, runs[r].companion ? "" : " (native)",
                 w ? w : "(none)", want);
      if (k == 1 && w) fail_msg("%s: a free name got the warning '%s'", runs[r].dialect, w);
    }
    ctx_close(&x);
  }
  /* the CLI prints it */
  const char *bin = getenv("DAWBRIDGE_BINARY_DIR");
  if (!bin) fail_msg("DAWBRIDGE_BINARY_DIR is not set (run through ctest)");
  char cmd[1024], out[1 << 14];
  snprintf(cmd, sizeof cmd,
           "'%s/dawbridge' --daw mock --dialect ardour call create_track '{\"name\":\"Bass\",\"type\":\"midi\"}' 2>&1",
           bin);
  int rc = run_cli(cmd, out, sizeof out);
  if (rc != 0) fail_msg("%s: exit %d:\n%s", cmd, rc, out);
  if (!strstr(out, "warning: a track named \"Bass\" already exists (track_id t"))
    fail_msg("no warning printed:\n%s", out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_companion_bulk_notes_20000_one_call),
      cmocka_unit_test(test_companion_bulk_plan_20000_notes),
      cmocka_unit_test(test_cli_call_args_from_file_and_stdin),
      cmocka_unit_test(test_companion_bulk_create_track_name_taken),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
