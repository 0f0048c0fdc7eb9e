/* The `dawbridge history ...` commands, run as the real binary (DAWBRIDGE_BINARY_DIR/dawbridge) against the
 * embedded mock DAW (--daw mock) or a mock-daw process, with a temporary --data-dir: output and exit codes of
 * list/show/diff/export/save/undo/restore; the MIDI export parsed back by tests/support/smf_reader.c and by
 * python3 (stdlib only); a full disk (file-size limit) gives exit 6 after the DAW change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "history.h"
#include "smf_reader.h"
#include "db_test_json.h"
#include "db_test_text.h"
#include "db_test_util.h"

struct env {
  char dir[64];   /* temp root */
  char data[128]; /* --data-dir */
  char exe[1024];
  char out[256], err[256];
  char *stdout_text, *stderr_text;
};

/* The whole file, or "" when it cannot be read (the command wrote nothing). */
static char *slurp(const char *path) {
  char *s = db_test_slurp(path, NULL);
  return s ? s : strdup("");
}

/* Runs "dawbridge --data-dir DATA ARGS" through the shell (prefix: shell code before it, e.g. ulimit).
 * Returns the exit code; output in e->stdout_text / e->stderr_text. */
static int vrun(struct env *e, const char *prefix, const char *fmt, va_list ap) {
  char args[4096], cmd[8192];
  vsnprintf(args, sizeof args, fmt, ap);
  snprintf(cmd, sizeof cmd, "%s exec '%s' --data-dir '%s' %s >'%s' 2>'%s'", prefix ? prefix : "", e->exe, e->data, args,
           e->out, e->err);
  int st = system(cmd);
  free(e->stdout_text);
  free(e->stderr_text);
  e->stdout_text = slurp(e->out);
  e->stderr_text = slurp(e->err);
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  if (getenv("CLI_VERBOSE"))
    fprintf(stderr, "$ dawbridge %s\n[exit %d]\n%s%s", args, code, e->stdout_text, e->stderr_text);
  return code;
}

static int run(struct env *e, const char *prefix, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(struct env *e, const char *prefix, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int code = vrun(e, prefix, fmt, ap);
  va_end(ap);
  return code;
}

static void expect(struct env *e, int code, int want, const char *what) {
  if (code != want)
    fprintf(stderr, "%s: exit %d, expected %d\n--- stdout\n%s--- stderr\n%s", what, code, want, e->stdout_text,
            e->stderr_text);
  assert_int_equal(code, want);
}

static void has(const char *text, const char *needle) {
  if (!strstr(text, needle)) fprintf(stderr, "expected to find \"%s\" in:\n%s\n", needle, text);
  assert_non_null(strstr(text, needle));
}

static void env_open(struct env *e) {
  memset(e, 0, sizeof *e);
  snprintf(e->dir, sizeof e->dir, "/tmp/dawbridge-test-hcli-XXXXXX");
  assert_non_null(mkdtemp(e->dir));
  snprintf(e->data, sizeof e->data, "%s/data", e->dir);
  snprintf(e->out, sizeof e->out, "%s/stdout", e->dir);
  snprintf(e->err, sizeof e->err, "%s/stderr", e->dir);
  db_test_exe_path(e->exe, sizeof e->exe, "dawbridge", NULL);
  assert_int_equal(access(e->exe, X_OK), 0);
}

static void env_close(struct env *e) {
  free(e->stdout_text);
  free(e->stderr_text);
  db_test_rm_rf(e->dir);
}

/* A mock-daw process speaking REAPER's dialect, which keeps its state between commands; opts gets the options
 * that reach it. Returns once it answers `dawbridge state` (the test fails if it never does). */
static pid_t start_mock_daw(struct env *e, char *opts, size_t optslen) {
  int port = db_test_free_udp_port(), fb = db_test_free_udp_port();
  char exe[1024], ps[16], fs[16];
  db_test_exe_path(exe, sizeof exe, "mock-daw", NULL);
  snprintf(ps, sizeof ps, "%d", port);
  snprintf(fs, sizeof fs, "%d", fb);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* a failed test (which returns early) leaves no mock-daw behind */
    execl(exe, exe, "--dialect", "reaper", "--port", ps, "--feedback-port", fs, "--quiet", (char *)NULL);
    _exit(127);
  }
  snprintf(opts, optslen, "--daw reaper --port %d --listen-port %d --no-companion --timeout-ms 300", port, fb);
  int code = 1;
  for (int i = 0; i < 50 && code; i++) {
    code = run(e, NULL, "%s state", opts);
    if (code) usleep(100000); /* a separate process starting: no loop event to wait on here */
  }
  expect(e, code, 0, "state");
  return pid;
}

static void stop_mock_daw(pid_t pid) {
  kill(pid, SIGTERM);
  int status;
  waitpid(pid, &status, 0);
}

/* Runs the command, expects exit code `want`, and parses its standard output as JSON (new reference; the test
 * fails if it is not JSON). */
static json_t *run_json(struct env *e, int want, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static json_t *run_json(struct env *e, int want, const char *what, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int code = vrun(e, NULL, fmt, ap);
  va_end(ap);
  expect(e, code, want, what);
  json_error_t je;
  json_t *j = json_loads(e->stdout_text, 0, &je);
  if (!j) fail_msg("%s: the output is not JSON (%s):\n%s", what, je.text, e->stdout_text);
  return j;
}

static history_t *hist(struct env *e, const char *composition) {
  char err[512];
  history_t *h = history_open(e->data, composition, err, sizeof err);
  if (!h) fprintf(stderr, "history_open: %s\n", err);
  assert_non_null(h);
  return h;
}

/* Saves an "AI" iteration: the state of iteration `base` with the Bass at -3 dB, Drums muted, and per flags:
 * tempo 100, no markers, an add_marker action, a bass clip with notes. Returns its number. */
enum { AI_TEMPO = 1, AI_DROP_MARKER = 2, AI_MARKER_ACTION = 4, AI_CLIP = 8, AI_PARAM_ACTION = 16 };

static int save_ai_iteration(history_t *h, int base, int flags) {
  int tempo = flags & AI_TEMPO, drop_marker = flags & AI_DROP_MARKER, marker_action = flags & AI_MARKER_ACTION;
  json_t *it = NULL;
  char err[512];
  assert_int_equal(history_load(h, base, &it, err, sizeof err), HISTORY_OK);
  json_t *st = json_deep_copy(json_object_get(it, "state"));
  json_decref(it);
  json_t *bass = db_test_json_track(st, "Bass"), *drums = db_test_json_track(st, "Drums");
  assert_non_null(bass);
  assert_non_null(drums);
  json_object_set_new(bass, "volume_db", json_real(-3.0));
  json_object_set_new(drums, "mute", json_true());
  if (tempo) json_object_set_new(st, "tempo", json_real(100.0));
  if (drop_marker) json_array_clear(json_object_get(st, "markers"));
  if (flags & AI_CLIP) {
    json_t *notes = json_pack("[{s:i,s:f,s:f,s:i},{s:i,s:f,s:f,s:i},{s:i,s:f,s:f,s:i}]", "n", 40, "s", 0.0, "d", 1.0,
                              "v", 100, "n", 43, "s", 1.5, "d", 0.5, "v", 90, "n", 47, "s", 3.0, "d", 2.0, "v", 64);
    json_array_append_new(json_object_get(bass, "clips"),
                          json_pack("{s:s, s:s, s:f, s:f, s:o}", "id", "c77", "name", "bassline", "start", 4.0,
                                    "length", 4.0, "notes", notes));
  }
  json_t *meta = json_pack("{s:s, s:s, s:[{s:s, s:{s:s, s:f}, s:{s:s}}]}", "source", "ai_iteration", "user_message",
                           "quieter bass, mute the drums", "actions", "tool", "set_track", "args", "track_id", "t2",
                           "volume_db", -3.0, "result", "status", "confirmed");
  if (marker_action)
    json_array_append_new(json_object_get(meta, "actions"),
                          json_pack("{s:s, s:{s:f, s:s}, s:{s:s}}", "tool", "add_marker", "args", "position", 16.0,
                                    "name", "Chorus", "result", "status", "confirmed"));
  if (flags & AI_PARAM_ACTION)
    json_array_append_new(json_object_get(meta, "actions"),
                          json_pack("{s:s, s:{s:s, s:i, s:i, s:f}, s:{s:s}}", "tool", "set_effect_param", "args",
                                    "track_id", "t3", "effect_index", 1, "param_index", 1, "value", 0.9, "result",
                                    "status", "confirmed"));
  int num = 0;
  assert_int_equal(history_save(h, st, meta, &num, err, sizeof err), HISTORY_OK);
  json_decref(meta);
  json_decref(st);
  return num;
}

/* After the baseline (iteration 1): the "AI" iteration 2 (save_ai_iteration's flags) in `composition`'s history, then
 * `dawbridge OPTS history save` records the fresh embedded mock each command starts (iteration 3, the state of 1), so
 * that restoring 2 reverts the change from 2 to 3 (restore keeps edits made after the latest iteration). Returns
 * 2's number. */
static int ai_iteration_then_fresh_save(struct env *e, const char *opts, const char *composition, int flags) {
  history_t *h = hist(e, composition);
  int n2 = save_ai_iteration(h, 1, flags);
  history_free(h);
  expect(e, run(e, NULL, "%s history save", opts), 0, "save 3 (a fresh mock)");
  return n2;
}

static void test_history_cli_usage_and_empty(void **st) {
  struct env e;
  env_open(&e);
  expect(&e, run(&e, NULL, "history list"), 0, "list (empty)");
  has(e.stdout_text, "no iterations");
  json_t *j = run_json(&e, 0, "list --json (empty)", "--json history list");
  assert_int_equal(json_array_size(json_object_get(j, "iterations")), 0);
  json_decref(j);
  /* what cannot be done on an empty history (exit 4) or is not a command (exit 1), and what stderr says */
  static const struct {
    const char *args, *what;
    int exit;
    const char *says; /* NULL: not checked */
  } refused[] = {
      {"history show 1", "show of a missing iteration", 4, "no iterations"},
      {"--daw mock history undo", "undo with no history", 4, "nothing to undo"},
      {"history show x", "show x", 1, "not an iteration number"},
      {"history frob", "unknown subcommand", 1, NULL},
      {"history diff 1", "diff with one number", 1, NULL},
      {"history", "no subcommand", 1, NULL},
      {"--composition ../x history list", "unsafe composition", 1, NULL},
  };
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    expect(&e, run(&e, NULL, "%s", refused[i].args), refused[i].exit, refused[i].what);
    if (refused[i].says) has(e.stderr_text, refused[i].says);
  }
  env_close(&e);
  (void)st;
}

static void test_history_cli_save_list_show_diff(void **st) {
  struct env e;
  env_open(&e);
  expect(&e, run(&e, NULL, "--daw mock --no-companion history save -m 'before the bass'"), 0, "save");
  has(e.stdout_text, "saved iteration 1 of \"default\"");
  history_t *h = hist(&e, "default");
  int n2 = save_ai_iteration(h, 1, AI_TEMPO | AI_CLIP);
  assert_int_equal(n2, 2);
  /* a corrupt file and a foreign one: warnings, never fatal */
  char p[512];
  snprintf(p, sizeof p, "%s/0007.json", history_dir(h));
  FILE *f = fopen(p, "w");
  fputs("{\"format\": \"dawbridge.iteration/1\", \"number\": 7, \"sta", f);
  fclose(f);
  snprintf(p, sizeof p, "%s/notes.txt", history_dir(h));
  f = fopen(p, "w");
  fputs("hello", f);
  fclose(f);

  expect(&e, run(&e, NULL, "history list"), 0, "list");
  db_test_contains_all(e.stdout_text, (const char *const[]){"before the bass", "quieter bass, mute the drums",
                                                            "ai_iteration", "user", NULL});
  has(e.stderr_text, "warning: 0007.json");
  has(e.stderr_text, "notes.txt");
  json_t *j = run_json(&e, 0, "list --json", "--json history list");
  assert_int_equal(json_array_size(json_object_get(j, "iterations")), 2);
  assert_int_equal(
      json_integer_value(json_object_get(json_array_get(json_object_get(j, "iterations"), 1), "actions_count")), 1);
  assert_true(json_array_size(json_object_get(j, "warnings")) >= 2);
  json_decref(j);

  expect(&e, run(&e, NULL, "history show 2"), 0, "show 2");
  db_test_contains_all(e.stdout_text, (const char *const[]){"iteration 2", "request: quieter bass, mute the drums",
                                                            "set_track", "Bass", NULL});
  j = run_json(&e, 0, "show 2 --json", "history show 2 --json");
  assert_int_equal(json_integer_value(json_object_get(j, "number")), 2);
  assert_string_equal(json_string_value(json_object_get(j, "source")), "ai_iteration");
  json_decref(j);
  expect(&e, run(&e, NULL, "history show 7"), 4, "show a corrupt iteration");
  has(e.stderr_text, "corrupt");
  expect(&e, run(&e, NULL, "history show 5"), 4, "show a missing iteration");
  has(e.stderr_text, "no iteration 5");

  expect(&e, run(&e, NULL, "history diff 1 2"), 0, "diff");
  db_test_contains_all(e.stdout_text, (const char *const[]){"tempo 120", "100", "volume_db", "mute", "clip", NULL});
  expect(&e, run(&e, NULL, "history diff 2 2"), 0, "diff of the same");
  has(e.stdout_text, "no changes");
  j = run_json(&e, 0, "diff --json", "--json history diff 1 2");
  assert_true(json_array_size(json_object_get(j, "changes")) >= 4);
  json_decref(j);
  expect(&e, run(&e, NULL, "history diff 1 9"), 4, "diff with a missing iteration");
  history_free(h);
  env_close(&e);
  (void)st;
}

/* The expected notes of save_ai_iteration's bass clip at 960 PPQ: (tick on, tick off, key, velocity). */
static const int want_notes[][4] = {
    {4 * 960, 5 * 960, 40, 100},
    {(int)(5.5 * 960), 6 * 960, 43, 90},
    {7 * 960, 8 * 960, 47, 64}, /* 3 + 2 beats runs past the clip end (4 + 4): cut there */
};

static const char *PY_SMF = "import struct,sys,json\n"
                            "d=open(sys.argv[1],'rb').read()\n"
                            "assert d[:4]==b'MThd'\n"
                            "ln,fmt,ntr,div=struct.unpack('>IHHH',d[4:14]); p=8+ln; "
                            "out={'format':fmt,'ntracks':ntr,'division':div,'tracks':[]}\n"
                            "def vlq(p):\n"
                            "  v=0\n"
                            "  while True:\n"
                            "    b=d[p]; p+=1; v=(v<<7)|(b&127)\n"
                            "    if b<128: return v,p\n"
                            "for t in range(ntr):\n"
                            "  assert d[p:p+4]==b'MTrk'; n=struct.unpack('>I',d[p+4:p+8])[0]; q=p+8; end=q+n; tick=0; "
                            "rs=0; on={}; notes=[]; tempo=None; name=''\n"
                            "  while q<end:\n"
                            "    dt,q=vlq(q); tick+=dt; s=d[q]\n"
                            "    if s==0xFF:\n"
                            "      ty=d[q+1]; l,q=vlq(q+2); data=d[q:q+l]; q+=l\n"
                            "      if ty==0x51: tempo=int.from_bytes(data,'big')\n"
                            "      if ty==0x03: name=data.decode('utf-8','replace')\n"
                            "      continue\n"
                            "    if s in (0xF0,0xF7):\n"
                            "      l,q=vlq(q+1); q+=l; continue\n"
                            "    if s&0x80: rs=s; q+=1\n"
                            "    hi=rs&0xF0\n"
                            "    if hi in (0xC0,0xD0): q+=1; continue\n"
                            "    a,b=d[q],d[q+1]; q+=2\n"
                            "    if hi==0x90 and b>0: on[(rs&15,a)]=(tick,b)\n"
                            "    elif hi==0x80 or (hi==0x90 and b==0):\n"
                            "      st,v=on.pop((rs&15,a)); notes.append([st,tick,a,v])\n"
                            "  assert not on\n"
                            "  out['tracks'].append({'name':name,'tempo':tempo,'notes':sorted(notes)}); p=end\n"
                            "print(json.dumps(out))\n";

static void test_history_cli_export_parsed_back(void **st) {
  struct env e;
  env_open(&e);
  expect(&e, run(&e, NULL, "--daw mock --no-companion history save"), 0, "save");
  history_t *h = hist(&e, "default");
  int n2 = save_ai_iteration(h, 1, AI_TEMPO | AI_CLIP);
  history_free(h);
  char mid[256];
  snprintf(mid, sizeof mid, "%s/out.mid", e.dir);
  expect(&e, run(&e, NULL, "history export %d '%s'", n2, mid), 0, "export");
  has(e.stdout_text, "wrote");
  has(e.stdout_text, "3 notes");

  /* independent reader (tests/support/smf_reader.c) */
  smf_t smf;
  char err[256];
  int rc = smf_read(mid, &smf, err, sizeof err);
  if (rc) fprintf(stderr, "smf_read: %s\n", err);
  assert_int_equal(rc, 0);
  assert_int_equal(smf.format, 1);
  assert_int_equal(smf.division, 960);
  assert_int_equal(smf.ntracks, 2); /* tempo track + the one track with notes */
  assert_string_equal(smf.tracks[1].name, "Bass");
  int found_tempo = 0;
  for (size_t i = 0; i < smf.tracks[0].count; i++) {
    smf_event_t *ev = &smf.tracks[0].events[i];
    if (ev->status == 0xFF && ev->meta == 0x51) {
      assert_int_equal(ev->len, 3);
      uint32_t us = ((uint32_t)ev->data[0] << 16) | ((uint32_t)ev->data[1] << 8) | ev->data[2];
      assert_int_equal(us, 600000); /* 100 BPM */
      found_tempo = 1;
    }
  }
  assert_true(found_tempo);
  size_t k = 0;
  for (size_t i = 0; i < smf.tracks[1].count; i++) {
    smf_event_t *ev = &smf.tracks[1].events[i];
    if ((ev->status & 0xF0) == 0x90 && ev->d2 > 0) {
      assert_true(k < 3);
      assert_int_equal(ev->tick, (uint32_t)want_notes[k][0]);
      assert_int_equal(ev->d1, want_notes[k][2]);
      assert_int_equal(ev->d2, want_notes[k][3]);
      /* its note-off */
      int off = -1;
      for (size_t q = i + 1; q < smf.tracks[1].count; q++) {
        smf_event_t *o = &smf.tracks[1].events[q];
        if ((((o->status & 0xF0) == 0x80) || ((o->status & 0xF0) == 0x90 && o->d2 == 0)) && o->d1 == ev->d1) {
          off = (int)o->tick;
          break;
        }
      }
      assert_int_equal(off, want_notes[k][1]);
      k++;
    }
  }
  assert_int_equal(k, 3);
  smf_free(&smf);

  /* and python3's stdlib */
  char py[256];
  snprintf(py, sizeof py, "%s/smf.py", e.dir);
  FILE *f = fopen(py, "w");
  fputs(PY_SMF, f);
  fclose(f);
  char cmd[1024], outp[256];
  snprintf(outp, sizeof outp, "%s/py.json", e.dir);
  snprintf(cmd, sizeof cmd, "python3 -c \"$(cat '%s')\" '%s' > '%s'", py, mid, outp);
  if (system("python3 -c 'pass' 2>/dev/null") != 0) {
    fprintf(stderr, "python3 not available: that extra check is skipped\n");
  } else {
    assert_int_equal(system(cmd), 0);
    json_t *j = json_load_file(outp, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "format")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "division")), 960);
    json_t *trs = json_object_get(j, "tracks");
    assert_int_equal(json_array_size(trs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(trs, 0), "tempo")), 600000);
    json_t *notes = json_object_get(json_array_get(trs, 1), "notes");
    assert_int_equal(json_array_size(notes), 3);
    for (size_t i = 0; i < 3; i++)
      for (size_t q = 0; q < 4; q++)
        assert_int_equal(json_integer_value(json_array_get(json_array_get(notes, i), q)), want_notes[i][q]);
    json_decref(j);
  }
  expect(&e, run(&e, NULL, "history export 9 '%s'", mid), 4, "export of a missing iteration");
  expect(&e, run(&e, NULL, "history export %d '%s/no/such/dir/x.mid'", n2, e.dir), 5, "export to a bad path");
  has(e.stderr_text, "x.mid");
  env_close(&e);
  (void)st;
}

/* With the embedded mock every run starts from the mock's demo session: restore N puts it into iteration N's
 * state; the result is saved as an iteration (source restore / undo); repeated undos go further back. */
static void test_history_cli_restore_and_undo_embedded_mock(void **st) {
  static const char *const dialects[] = {"reaper", "ardour"};
  for (int d = 0; d < 2; d++) {
    int reaper = d == 0;
    struct env e;
    env_open(&e);
    const char *comp = reaper ? "default" : "mock"; /* the Ardour mock reports its session name */
    char opts[128];
    snprintf(opts, sizeof opts, "--daw mock --dialect %s --no-companion", dialects[d]);
    expect(&e, run(&e, NULL, "%s history save -m baseline", opts), 0, "save");
    char want[128];
    snprintf(want, sizeof want, "of \"%s\"", comp);
    has(e.stdout_text, want);
    int n2 = ai_iteration_then_fresh_save(&e, opts, comp, reaper ? AI_TEMPO : 0);

    expect(&e, run(&e, NULL, "%s history restore %d", opts, n2), 0, "restore 2");
    has(e.stdout_text, "done: set_track");
    has(e.stdout_text, "saved as iteration 4 (restore)");
    if (reaper) has(e.stdout_text, "set_tempo");
    json_t *j = run_json(&e, 0, "show 4", "--composition %s history show 4 --json", comp);
    assert_string_equal(json_string_value(json_object_get(j, "source")), "restore");
    assert_int_equal(json_integer_value(json_object_get(j, "restored_from")), 2);
    assert_true(json_integer_value(json_object_get(j, "actions_count")) >= 2);
    json_t *bass = db_test_json_track(json_object_get(j, "state"), "Bass");
    assert_true(fabs(json_number_value(json_object_get(bass, "volume_db")) + 3) < 0.02);
    assert_true(json_is_true(json_object_get(db_test_json_track(json_object_get(j, "state"), "Drums"), "mute")));
    if (reaper)
      assert_true(fabs(json_number_value(json_object_get(json_object_get(j, "state"), "tempo")) - 100) < 0.01);
    json_decref(j);

    /* undo of 4 (a restore): back to 3 (a fresh mock already is); then back to 2 (the change again), then to 1
     * (a fresh mock already is), then nothing left */
    j = run_json(&e, 0, "undo 1", "--json %s history undo", opts);
    assert_int_equal(json_integer_value(json_object_get(j, "undone")), 4);
    assert_int_equal(json_integer_value(json_object_get(j, "target")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "saved")), 5);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    expect(&e, run(&e, NULL, "%s history undo", opts), 0, "undo 2");
    db_test_contains_all(e.stdout_text, (const char *const[]){"back to iteration 2", "done: set_track",
                                                              "saved as iteration 6 (undo)", NULL});
    expect(&e, run(&e, NULL, "%s history undo", opts), 0, "undo 3");
    has(e.stdout_text, "back to iteration 1");
    has(e.stdout_text, "nothing to change"); /* a fresh mock is already in iteration 1's state */
    has(e.stdout_text, "saved as iteration 7 (undo)");
    expect(&e, run(&e, NULL, "%s history undo", opts), 4, "undo 4");
    has(e.stderr_text, "nothing to undo");

    expect(&e, run(&e, NULL, "--composition %s history list", comp), 0, "list");
    has(e.stdout_text, "restore iteration 2");
    has(e.stdout_text, "undo of iteration 4, back to 3");
    j = run_json(&e, 0, "show 7", "--composition %s history show 7 --json", comp);
    assert_string_equal(json_string_value(json_object_get(j, "source")), "undo");
    assert_int_equal(json_integer_value(json_object_get(j, "restored_from")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "undone")), 6);
    json_decref(j);
    expect(&e, run(&e, NULL, "%s history restore 42", opts), 4, "restore of a missing iteration");
    has(e.stderr_text, "no iteration 42");
    env_close(&e);
  }
  (void)st;
}

/* Not reversible with this DAW: reported, the rest done, exit 3, and still saved. */
static void test_history_cli_partial_restore_reported(void **st) {
  struct env e;
  env_open(&e);
  /* REAPER: the iteration lacks the demo's marker, and no tool removes one */
  const char *reaper = "--daw mock --no-companion";
  expect(&e, run(&e, NULL, "%s history save", reaper), 0, "save");
  int n2 = ai_iteration_then_fresh_save(&e, reaper, "default", AI_TEMPO | AI_DROP_MARKER);
  expect(&e, run(&e, NULL, "%s history restore %d", reaper, n2), 3, "partial restore (reaper)");
  db_test_contains_all(e.stdout_text, (const char *const[]){"done: set_track", "done: set_tempo",
                                                            "not reversible with reaper: remove marker \"Intro\"",
                                                            "still different from iteration 2", "partly restored",
                                                            "saved as iteration 4 (restore)", NULL});

  /* Ardour: no tempo over OSC; and its OSC lists neither markers nor plugin parameter values, so a marker or a
   * parameter the undone request changed is named from the iteration's actions */
  const char *opts = "--daw mock --dialect ardour --no-companion";
  expect(&e, run(&e, NULL, "%s history save", opts), 0, "save");
  n2 = ai_iteration_then_fresh_save(&e, opts, "mock", AI_TEMPO | AI_MARKER_ACTION | AI_PARAM_ACTION);
  expect(&e, run(&e, NULL, "%s history restore %d", opts, n2), 3, "partial restore (ardour)");
  db_test_contains_all(e.stdout_text, (const char *const[]){"done: set_track", "not reversible with ardour: set_tempo",
                                                            "still different from iteration 2",
                                                            "saved as iteration 4 (restore)", NULL});
  /* undo of 4 (the restore) goes back to 3 (a fresh mock is), the next to 2 (the tempo), the next to 1: the
   * marker of 2 is named */
  expect(&e, run(&e, NULL, "%s history undo", opts), 0, "undo to 3");
  expect(&e, run(&e, NULL, "%s history undo", opts), 3, "undo to 2 (ardour: tempo)");
  expect(&e, run(&e, NULL, "%s history undo", opts), 3, "undo to 1 (ardour: the marker)");
  db_test_contains_all(
      e.stdout_text,
      (const char *const[]){
          "back to iteration 1", "remove marker \"Chorus\" at beat 16 (added in iteration 2)", "does not list markers",
          "set parameter 1 of effect 1 (\"ACE Reverb\") on track \"Vocals\" back (changed in iteration 2)",
          "does not report plugin parameter values", NULL});
  env_close(&e);
  (void)st;
}

/* Full disk (here: a file-size limit, EFBIG): found before the DAW is changed, exit 6; a save fails with exit 6;
 * nothing earlier is lost. */
static void test_history_cli_full_disk_exit_6(void **st) {
  struct env e;
  env_open(&e);
  const char *opts = "--daw mock --no-companion";
  expect(&e, run(&e, NULL, "%s history save", opts), 0, "save");
  int n2 = ai_iteration_then_fresh_save(&e, opts, "default", AI_TEMPO);
  /* 2 KiB: enough for the command's output, not for an iteration with the whole session: found before the DAW is
   * changed (nothing sent), exit 6 */
  expect(&e, run(&e, "trap '' XFSZ; ulimit -f 2;", "%s history restore %d", opts, n2), 6, "restore on a full disk");
  has(e.stderr_text, "could not be saved, so nothing was changed in the DAW");
  has(e.stderr_text, strerror(EFBIG));
  assert_null(strstr(e.stdout_text, "done: set_track"));
  expect(&e, run(&e, "trap '' XFSZ; ulimit -f 2;", "%s history save -m x", opts), 6, "save on a full disk");
  /* nothing earlier is lost */
  json_t *j = run_json(&e, 0, "list", "--json history list");
  assert_int_equal(json_array_size(json_object_get(j, "iterations")), 3);
  assert_int_equal(json_array_size(json_object_get(j, "warnings")), 0);
  json_decref(j);
  env_close(&e);
  (void)st;
}

/* With the embedded mock's companion: restoring an iteration re-creates its MIDI clip in the DAW, and the
 * restore iteration (the session read back from the DAW) exports the same notes. */
static void test_history_cli_restore_clip_with_companion(void **st) {
  struct env e;
  env_open(&e);
  expect(&e, run(&e, NULL, "--daw mock tools"), 0, "tools");
  if (!strstr(e.stdout_text, "companion answering")) {
    fprintf(stderr, "skipped: the embedded mock's companion does not answer\n");
    env_close(&e);
    skip();
  }
  expect(&e, run(&e, NULL, "--daw mock history save -m baseline"), 0, "save");
  int n2 = ai_iteration_then_fresh_save(&e, "--daw mock", "default", AI_TEMPO | AI_CLIP);
  expect(&e, run(&e, NULL, "--daw mock history restore %d", n2), 0, "restore with the companion");
  has(e.stdout_text, "done: create_midi_clip");
  has(e.stdout_text, "saved as iteration 4 (restore)");
  char m2[256], m3[256];
  snprintf(m2, sizeof m2, "%s/two.mid", e.dir);
  snprintf(m3, sizeof m3, "%s/three.mid", e.dir);
  expect(&e, run(&e, NULL, "history export 2 '%s'", m2), 0, "export 2");
  expect(&e, run(&e, NULL, "history export 4 '%s'", m3), 0, "export 4");
  smf_t a, b;
  char err[256];
  assert_int_equal(smf_read(m2, &a, err, sizeof err), 0);
  assert_int_equal(smf_read(m3, &b, err, sizeof err), 0);
  assert_int_equal(a.ntracks, b.ntracks);
  for (int t = 1; t < a.ntracks; t++) {
    assert_string_equal(a.tracks[t].name, b.tracks[t].name);
    assert_int_equal(a.tracks[t].count, b.tracks[t].count);
    for (size_t i = 0; i < a.tracks[t].count; i++) {
      assert_int_equal(a.tracks[t].events[i].tick, b.tracks[t].events[i].tick);
      assert_int_equal(a.tracks[t].events[i].status, b.tracks[t].events[i].status);
      assert_int_equal(a.tracks[t].events[i].d1, b.tracks[t].events[i].d1);
      assert_int_equal(a.tracks[t].events[i].d2, b.tracks[t].events[i].d2);
    }
  }
  smf_free(&a);
  smf_free(&b);
  /* and undo (of the restore) takes the clip away again */
  expect(&e, run(&e, NULL, "--daw mock history undo"), 0, "undo with the companion");
  env_close(&e);
  (void)st;
}

/* A DAW that keeps its state between commands (a mock-daw process speaking REAPER's dialect): change it with
 * `call`, save, undo, and read the DAW back with `state --json`. */
static void test_history_cli_undo_in_a_running_daw(void **st) {
  struct env e;
  env_open(&e);
  char opts[256];
  pid_t pid = start_mock_daw(&e, opts, sizeof opts);
  expect(&e, run(&e, NULL, "%s history save -m baseline", opts), 0, "save baseline");
  expect(&e, run(&e, NULL, "%s call set_track '{\"track_id\":\"t2\",\"volume_db\":-1,\"mute\":true}'", opts), 0,
         "call set_track");
  expect(&e, run(&e, NULL, "%s call set_tempo '{\"bpm\": 90}'", opts), 0, "call set_tempo");
  expect(&e, run(&e, NULL, "%s history save -m 'louder, slower'", opts), 0, "save 2");
  expect(&e, run(&e, NULL, "%s history undo", opts), 0, "undo");
  has(e.stdout_text, "undo of iteration 2: back to iteration 1");
  has(e.stdout_text, "saved as iteration 3 (undo)");
  json_t *j = run_json(&e, 0, "state after undo", "--json %s state", opts);
  json_t *bass = db_test_json_track(j, "Bass");
  assert_true(fabs(json_number_value(json_object_get(bass, "volume_db")) + 6) < 0.02);
  assert_false(json_is_true(json_object_get(bass, "mute")));
  assert_true(fabs(json_number_value(json_object_get(j, "tempo")) - 120) < 0.01);
  json_decref(j);
  /* restore 2 brings the change back */
  expect(&e, run(&e, NULL, "%s history restore 2", opts), 0, "restore 2");
  j = run_json(&e, 0, "state after restore", "--json %s state", opts);
  bass = db_test_json_track(j, "Bass");
  assert_true(fabs(json_number_value(json_object_get(bass, "volume_db")) + 1) < 0.02);
  assert_true(json_is_true(json_object_get(bass, "mute")));
  assert_true(fabs(json_number_value(json_object_get(j, "tempo")) - 90) < 0.01);
  json_decref(j);
  stop_mock_daw(pid);
  env_close(&e);
  (void)st;
}

/* Undo keeps the musician's edits (a mock-daw process keeps its state between commands): the "AI" change is
 * reverted, a rename and another track's volume made since stay; the same volume changed since stops the undo
 * (exit 7, named, nothing sent); --force reverts it. */
static void test_history_cli_undo_keeps_edits_and_names_conflicts(void **st) {
  struct env e;
  env_open(&e);
  char opts[256];
  pid_t pid = start_mock_daw(&e, opts, sizeof opts);
  json_t *j = run_json(&e, 0, "state before", "--json %s state", opts);
  double bass0 = json_number_value(json_object_get(db_test_json_track(j, "Bass"), "volume_db"));
  assert_non_null(db_test_json_track(j, "Drums"));
  json_decref(j);
  expect(&e, run(&e, NULL, "%s history save -m baseline", opts), 0, "save baseline");
  /* the change to undo */
  expect(&e, run(&e, NULL, "%s call set_track '{\"track_id\":\"t2\",\"volume_db\":-1}'", opts), 0, "AI volume");
  expect(&e, run(&e, NULL, "%s history save -m 'louder bass'", opts), 0, "save 2");
  /* the musician's own edits since */
  expect(&e, run(&e, NULL, "%s call set_track '{\"track_id\":\"t1\",\"name\":\"Kit\"}'", opts), 0, "rename");
  expect(&e, run(&e, NULL, "%s call set_track '{\"track_id\":\"t3\",\"volume_db\":-10}'", opts), 0, "volume t3");
  expect(&e, run(&e, NULL, "%s history undo", opts), 0, "undo keeping the edits");
  db_test_contains_all(e.stdout_text, (const char *const[]){"undo of iteration 2: back to iteration 1",
                                                            "done: set_track {\"track_id\":\"t2\"",
                                                            "kept (your edits since iteration 2", "\"Kit\"", NULL});
  expect(&e, run(&e, NULL, "history show 3"), 0, "show the undo");
  has(e.stdout_text, "kept (edits made since iteration 2, not by it)");
  has(e.stdout_text, "\"Kit\"");
  j = run_json(&e, 0, "state after undo", "--json %s state", opts);
  assert_true(fabs(json_number_value(json_object_get(db_test_json_track(j, "Bass"), "volume_db")) - bass0) < 0.02);
  assert_non_null(db_test_json_track(j, "Kit"));
  assert_null(db_test_json_track(j, "Drums"));
  json_t *t3 = NULL, *t;
  size_t i;
  json_array_foreach(json_object_get(j, "tracks"), i, t) if (!strcmp(json_string_value(json_object_get(t, "id")), "t3"))
      t3 = t;
  assert_non_null(t3);
  assert_true(fabs(json_number_value(json_object_get(t3, "volume_db")) + 10) < 0.02);
  json_decref(j);

  /* a conflict: the change to undo, then the musician changes the same volume */
  expect(&e, run(&e, NULL, "%s call set_track '{\"track_id\":\"t2\",\"volume_db\":-2}'", opts), 0, "AI volume 2");
  expect(&e, run(&e, NULL, "%s history save -m 'bass at -2'", opts), 0, "save 4");
  expect(&e, run(&e, NULL, "%s call set_track '{\"track_id\":\"t2\",\"volume_db\":-9}'", opts), 0, "own volume");
  expect(&e, run(&e, NULL, "%s history undo", opts), 7, "undo with a conflict");
  db_test_contains_all(e.stdout_text, (const char *const[]){"conflict: track \"Bass\" volume_db", "--force",
                                                            "nothing was changed", NULL});
  j = run_json(&e, 0, "list after the conflict", "--json %s history list", opts);
  assert_int_equal(json_array_size(json_object_get(j, "iterations")), 4); /* nothing saved by the refusal */
  json_decref(j);
  j = run_json(&e, 0, "state after the conflict", "--json %s state", opts);
  assert_true(fabs(json_number_value(json_object_get(db_test_json_track(j, "Bass"), "volume_db")) + 9) < 0.02);
  json_decref(j);
  expect(&e, run(&e, NULL, "--force %s history undo", opts), 0, "undo --force");
  has(e.stdout_text, "forced: track \"Bass\" volume_db");
  j = run_json(&e, 0, "state after --force", "--json %s state", opts);
  assert_true(fabs(json_number_value(json_object_get(db_test_json_track(j, "Bass"), "volume_db")) - bass0) < 0.02);
  assert_non_null(db_test_json_track(j, "Kit"));
  json_decref(j);
  stop_mock_daw(pid);
  env_close(&e);
  (void)st;
}

/* The DAW's own undo (fast path, companion) runs only for a complete AI iteration with nothing changed since; never
 * for a partial (interrupted) one, whose undo step in the DAW may still be open. */
static void test_history_cli_no_fast_path_for_partial_iteration(void **st) {
  for (int partial = 0; partial < 2; partial++) {
    struct env e;
    env_open(&e);
    expect(&e, run(&e, NULL, "--daw mock history save -m start"), 0, "save 1");
    history_t *h = hist(&e, "default");
    json_t *it = NULL;
    char err[512];
    assert_int_equal(history_load(h, 1, &it, err, sizeof err), HISTORY_OK);
    /* "the AI" left the session as a fresh mock has it: nothing changed since */
    json_t *meta =
        json_pack("{s:s, s:s, s:b}", "source", "ai_iteration", "user_message", "nothing really", "partial", partial);
    int n = 0;
    assert_int_equal(history_save(h, json_object_get(it, "state"), meta, &n, err, sizeof err), HISTORY_OK);
    json_decref(meta);
    json_decref(it);
    history_free(h);
    expect(&e, run(&e, NULL, "--daw mock history undo"), 0, "undo");
    if (partial)
      assert_null(strstr(e.stderr_text, "the DAW's own undo"));
    else
      has(e.stderr_text, "the DAW's own undo"); /* tried (a fresh mock has nothing to undo) */
    env_close(&e);
  }
  (void)st;
}

/* Concurrent `history save` processes: every one that says "saved iteration N" has its own N, on disk. */
static void test_history_cli_concurrent_saves_none_lost(void **st) {
  struct env e;
  env_open(&e);
  enum { N = 24 };
  char cmd[4096];
  const char *bd = getenv("DAWBRIDGE_BINARY_DIR");
  snprintf(cmd, sizeof cmd,
           "cd '%s' && for i in $(seq %d); do '%s/dawbridge' --data-dir '%s/data' --daw mock --no-companion history "
           "save -m \"s$i\" > out.$i 2>&1 & done; wait; cat out.* | grep -c '^saved iteration'; cat out.* | sed -n "
           "'s/^saved iteration \\([0-9]*\\).*/\\1/p' | sort -n | uniq -d | wc -l",
           e.dir, N, bd ? bd : ".", e.dir);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  int saved = -1, dups = -1;
  assert_int_equal(fscanf(p, "%d %d", &saved, &dups), 2);
  pclose(p);
  assert_int_equal(saved, N);
  assert_int_equal(dups, 0);
  json_t *j = run_json(&e, 0, "list", "--json history list");
  assert_int_equal(json_array_size(json_object_get(j, "iterations")), N);
  assert_int_equal(json_array_size(json_object_get(j, "warnings")), 0);
  json_decref(j);
  env_close(&e);
  (void)st;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_history_cli_usage_and_empty),
      cmocka_unit_test(test_history_cli_save_list_show_diff),
      cmocka_unit_test(test_history_cli_export_parsed_back),
      cmocka_unit_test(test_history_cli_restore_and_undo_embedded_mock),
      cmocka_unit_test(test_history_cli_partial_restore_reported),
      cmocka_unit_test(test_history_cli_full_disk_exit_6),
      cmocka_unit_test(test_history_cli_restore_clip_with_companion),
      cmocka_unit_test(test_history_cli_undo_in_a_running_daw),
      cmocka_unit_test(test_history_cli_undo_keeps_edits_and_names_conflicts),
      cmocka_unit_test(test_history_cli_concurrent_saves_none_lost),
      cmocka_unit_test(test_history_cli_no_fast_path_for_partial_iteration),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
