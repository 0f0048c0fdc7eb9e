/* test_history.c: iteration store round trips, numbering, corrupt files, write failures, XDG. */
#define _GNU_SOURCE /* nftw, unshare, O_TMPFILE */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "history.h"
#include "db_test_util.h"
#include "db_test_json.h"
#include "db_test_text.h"

/* ---------------------------------------------------------------- helpers */

/* The fixture of most tests: *state is a fresh temporary data directory (char *), removed after the test. */
static int tmpdir_setup(void **state) {
  *state = db_test_tmpdir("history");
  return *state ? 0 : -1;
}

static int tmpdir_teardown(void **state) {
  db_test_rm_rf(*state);
  free(*state);
  return 0;
}

/* Opens composition `name` in the data directory tmp; the test fails with history's message if it does not open. */
static history_t *open_ok(const char *tmp, const char *name) {
  char err[512] = "";
  history_t *h = history_open(tmp, name, err, sizeof err);
  if (!h) fail_msg("history_open(%s, %s): %s", tmp, name, err);
  return h;
}

/* Saves s (no metadata) into h; the save must succeed and get iteration number want. */
static void save_expect(history_t *h, const json_t *s, int want) {
  char err[512] = "";
  int num = 0;
  int rc = history_save(h, s, NULL, &num, err, sizeof err);
  if (rc != HISTORY_OK) fail_msg("history_save: %d (%s), expected iteration %d", rc, err, want);
  if (num != want) fail_msg("saved as iteration %d, expected %d", num, want);
}

/* Lists h; the listing must succeed with nlist entries and nwarn warnings. */
static void assert_list_sizes(history_t *h, size_t nlist, size_t nwarn) {
  char err[512] = "";
  json_t *list = NULL, *warn = NULL;
  assert_int_equal(history_list(h, &list, &warn, err, sizeof err), HISTORY_OK);
  assert_int_equal(json_array_size(list), nlist);
  assert_int_equal(json_array_size(warn), nwarn);
  json_decref(list);
  json_decref(warn);
}

static char *pathf(const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return strdup(buf);
}

static void spit(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  fclose(f);
}

static json_t *snapshot(int variant) {
  json_error_t e;
  json_t *s =
      json_pack_ex(&e, 0,
                   "{s:s, s:s, s:s, s:f, s:[i,i], s:[{s:s, s:i, s:s, s:s, s:f, s:f, s:b, s:[], "
                   "s:[{s:s, s:f, s:f, s:[{s:i, s:f, s:f, s:i}]}]}]}",
                   "format", "dawbridge.session/1", "dialect", "reaper", "project", "Song", "tempo", 100.0 + variant,
                   "time_signature", 4, 4, "tracks", "id", "t1", "index", 1, "name", "Piano", "type", "midi",
                   "volume_db", -6.0 + variant, "pan", 0.25, "mute", 0, "fx", "clips", "id", "c1", "start", 0.0,
                   "length", 4.0, "notes", "n", 60 + variant, "s", 0.5, "d", 0.25, "v", 100);
  if (!s) fail_msg("json_pack: %s", e.text);
  return s;
}

static json_t *meta(const char *source, const char *msg, int nactions) {
  json_t *actions = json_array();
  for (int i = 0; i < nactions; i++)
    json_array_append_new(actions, json_pack("{s:s, s:{s:s}, s:{s:b}}", "tool", "create_track", "args", "name", "Bass",
                                             "result", "ok", 1));
  return json_pack("{s:s, s:s, s:o, s:{s:s}}", "source", source, "user_message", msg, "actions", actions, "plan",
                   "summary", "add a bass");
}

static int count_files(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  size_t sl = strlen(suffix);
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0) n++;
  }
  closedir(d);
  return n;
}

/* ---------------------------------------------------------------- tests */

static void test_history_save_list_load_round_trip(void **state) {
  const char *tmp = *state;
  char err[512] = "";
  history_t *h = open_ok(tmp, "My Song");
  char *expect_dir = pathf("%s/compositions/My Song/history", tmp);
  assert_string_equal(history_dir(h), expect_dir);
  free(expect_dir);

  const char *msgs[] = {NULL, "add a bass line", "make it louder"};
  const char *sources[] = {"baseline", "ai_iteration", "user"};
  for (int i = 0; i < 3; i++) {
    json_t *s = snapshot(i);
    json_t *m = meta(sources[i], msgs[i] ? msgs[i] : "", i);
    if (!msgs[i]) json_object_set_new(m, "user_message", json_null());
    if (i == 1) json_object_set_new(m, "restored_from", json_integer(7));
    int num = 0;
    assert_int_equal(history_save(h, s, m, &num, err, sizeof err), HISTORY_OK);
    assert_int_equal(num, i + 1);
    json_decref(s);
    json_decref(m);
  }

  json_t *list = NULL, *warn = NULL;
  assert_int_equal(history_list(h, &list, &warn, err, sizeof err), HISTORY_OK);
  assert_int_equal(json_array_size(list), 3);
  assert_int_equal(json_array_size(warn), 0);
  for (int i = 0; i < 3; i++) {
    json_t *e = json_array_get(list, (size_t)i);
    assert_int_equal(json_integer_value(json_object_get(e, "number")), i + 1);
    assert_string_equal(json_string_value(json_object_get(e, "source")), sources[i]);
    assert_int_equal(json_integer_value(json_object_get(e, "actions_count")), i);
    if (msgs[i])
      assert_string_equal(json_string_value(json_object_get(e, "user_message")), msgs[i]);
    else
      assert_true(json_is_null(json_object_get(e, "user_message")));
    const char *ts = json_string_value(json_object_get(e, "timestamp"));
    assert_non_null(ts);
    /* 2026-11-25T09:07:07.123Z */
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[23], 'Z');
  }
  json_decref(list);
  json_decref(warn);

  json_t *it = NULL;
  assert_int_equal(history_load(h, 2, &it, err, sizeof err), HISTORY_OK);
  json_t *s1 = snapshot(1);
  assert_true(json_equal(json_object_get(it, "state"), s1));
  json_decref(s1);
  assert_string_equal(json_string_value(json_object_get(it, "format")), HISTORY_FORMAT);
  assert_int_equal(json_integer_value(json_object_get(it, "number")), 2);
  assert_string_equal(json_string_value(json_object_get(json_object_get(it, "plan"), "summary")), "add a bass");
  assert_int_equal(json_array_size(json_object_get(it, "actions")), 1);
  assert_int_equal(json_integer_value(json_object_get(it, "restored_from")), 7);
  json_decref(it);

  /* key order in the file: format first, state last */
  char *f2 = pathf("%s/0002.json", history_dir(h));
  char *text = db_test_slurp(f2, NULL);
  assert_non_null(text);
  assert_true(strncmp(text, "{\n \"format\": \"dawbridge.iteration/1\",\n \"number\": 2,", 48) == 0);
  assert_true(strstr(text, "\"state\"") > strstr(text, "\"actions\""));
  free(text);
  free(f2);

  assert_int_equal(history_latest(h, &it, err, sizeof err), 3);
  assert_int_equal(json_integer_value(json_object_get(it, "number")), 3);
  json_decref(it);
  assert_int_equal(history_previous(h, 3, NULL, err, sizeof err), 2);
  assert_int_equal(history_previous(h, 2, NULL, err, sizeof err), 1);
  assert_int_equal(history_previous(h, 1, NULL, err, sizeof err), HISTORY_ENOENT);
  assert_int_equal(history_load(h, 9, &it, err, sizeof err), HISTORY_ENOENT);
  assert_non_null(strstr(err, "no iteration 9"));

  /* defaults and validation */
  json_t *s = snapshot(0);
  int num = 0;
  save_expect(h, s, 4);
  assert_int_equal(history_load(h, 4, &it, err, sizeof err), HISTORY_OK);
  assert_string_equal(json_string_value(json_object_get(it, "source")), "ai_iteration");
  assert_int_equal(json_integer_value(json_object_get(it, "actions_count")), 0);
  json_decref(it);
  json_t *bad = json_pack("{s:s}", "source", "whatever");
  assert_int_equal(history_save(h, s, bad, &num, err, sizeof err), HISTORY_EINVAL);
  json_decref(bad);
  json_t *notobj = json_array();
  assert_int_equal(history_save(h, notobj, NULL, &num, err, sizeof err), HISTORY_EINVAL);
  json_decref(notobj);
  json_decref(s);
  assert_int_equal(count_files(history_dir(h), ".tmp"), 0);

  history_free(h);
}

static void test_history_empty_history(void **state) {
  char err[512];
  history_t *h = open_ok(*state, "default");
  assert_list_sizes(h, 0, 0);
  assert_int_equal(history_latest(h, NULL, err, sizeof err), HISTORY_ENOENT);
  history_free(h);
}

/* Opens "song" in tmp, saves s with the iteration number want, closes it again. */
static void reopen_save_expect(const char *tmp, const json_t *s, int want) {
  history_t *h = open_ok(tmp, "song");
  save_expect(h, s, want);
  history_free(h);
}

/* Saves s as iterations 1..n of "song" in tmp; returns the history directory (malloc'd). */
static char *save_first(const char *tmp, const json_t *s, int n) {
  history_t *h = open_ok(tmp, "song");
  for (int i = 1; i <= n; i++) save_expect(h, s, i);
  char *dir = strdup(history_dir(h));
  history_free(h);
  return dir;
}

static void test_history_numbers_never_reused_across_reopen(void **state) {
  const char *tmp = *state;
  json_t *s = snapshot(0);
  char *dir = save_first(tmp, s, 3);

  /* the newest file is deleted: its number stays taken (counter) */
  char *p3 = pathf("%s/0003.json", dir);
  assert_int_equal(unlink(p3), 0);
  reopen_save_expect(tmp, s, 4);

  /* the counter is lost: the files still give max + 1 */
  char *pc = pathf("%s/next", dir);
  assert_int_equal(unlink(pc), 0);
  reopen_save_expect(tmp, s, 5);

  /* the counter is garbage: ignored; the counter ahead of the files wins */
  spit(pc, "garbage", 7);
  reopen_save_expect(tmp, s, 6);
  spit(pc, "42\n", 3);
  history_t *h = open_ok(tmp, "song");
  save_expect(h, s, 42);
  save_expect(h, s, 43);
  history_free(h);

  json_decref(s);
  free(p3);
  free(pc);
  free(dir);
}

static void test_history_corrupt_and_foreign_files_skipped(void **state) {
  const char *tmp = *state;
  char err[512];
  json_t *s = snapshot(0);
  char *dir = save_first(tmp, s, 3);

  char *p2 = pathf("%s/0002.json", dir);
  size_t len = 0;
  char *text = db_test_slurp(p2, &len);
  spit(p2, text, len / 2); /* truncated */
  free(text);
  char *p4 = pathf("%s/0004.json", dir);
  const char *foreign = "{\"format\":\"something.else/2\",\"number\":4}";
  spit(p4, foreign, strlen(foreign)); /* foreign */
  char *p5 = pathf("%s/0005.json", dir);
  text = db_test_slurp(p2, &len);
  free(text);
  {
    /* valid JSON of our format but its number does not match the name */
    json_t *it = json_pack("{s:s, s:i, s:s, s:s, s:o}", "format", HISTORY_FORMAT, "number", 9, "source", "user",
                           "timestamp", "2026-01-01T00:00:00.000Z", "state", json_object());
    json_dump_file(it, p5, 0);
    json_decref(it);
  }
  char *p6 = pathf("%s/0006.json", dir);
  spit(p6, "", 0); /* empty */
  char *pn = pathf("%s/notes.txt", dir);
  spit(pn, "hello", 5); /* unknown file */
  char *pd = pathf("%s/7.json", dir);
  spit(pd, "{}", 2);                                       /* not canonical */
  char *pstale = pathf("%s/.0008.json.99999999.tmp", dir); /* temp of a dead process: removed on open */
  spit(pstale, "{\"form", 6);
  char *plive = pathf("%s/.0009.json.%d.tmp", dir, (int)getppid()); /* temp of a live process: left alone */
  spit(plive, "{\"form", 6);

  history_t *h = open_ok(tmp, "song");
  assert_int_equal(access(pstale, F_OK), -1);
  assert_int_equal(access(plive, F_OK), 0);

  json_t *list = NULL, *warn = NULL;
  assert_int_equal(history_list(h, &list, &warn, err, sizeof err), HISTORY_OK);
  assert_int_equal(json_array_size(list), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "number")), 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 1), "number")), 3);
  /* 0002 truncated, 0004 foreign, 0005 mismatch, 0006 empty, notes.txt, 7.json */
  assert_int_equal(json_array_size(warn), 6);
  char *wtext = json_dumps(warn, JSON_COMPACT);
  db_test_contains_all(wtext, (const char *const[]){"0002.json", "corrupt or truncated", "foreign", "does not match",
                                                    "notes.txt", NULL});
  assert_null(strstr(wtext, ".tmp"));
  free(wtext);
  json_decref(list);
  json_decref(warn);

  json_t *it = NULL;
  assert_int_equal(history_load(h, 2, &it, err, sizeof err), HISTORY_ECORRUPT);
  assert_non_null(strstr(err, "0002.json"));
  assert_int_equal(history_load(h, 4, &it, err, sizeof err), HISTORY_ECORRUPT);
  assert_int_equal(history_latest(h, NULL, err, sizeof err), 3);
  assert_int_equal(history_previous(h, 3, NULL, err, sizeof err), 1);
  assert_int_equal(history_previous(h, 7, NULL, err, sizeof err), 3);

  /* corrupt and in-flight numbers stay taken: 0009 is being written by a live process */
  save_expect(h, s, 10);
  history_free(h);

  json_decref(s);
  char *paths[] = {p2, p4, p5, p6, pn, pd, pstale, plive, dir};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) free(paths[i]);
}

static void test_history_invalid_composition_names(void **state) {
  const char *tmp = *state;
  const char *bad[] = {"",          ".",         "..",        "../etc", "a/b", "a\\b",  ".hidden", "-rf",
                       "trailing.", "trailing ", "tab\there", "star*",  "q?",  "pipe|", "colon:"};
  const char *good[] = {"default", "My Song", "Lied für Anna", "song_2 (take 3)", "a.b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_false(history_composition_valid(bad[i]));
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) assert_true(history_composition_valid(good[i]));
  char err[512] = "";
  assert_null(history_open(tmp, "../escape", err, sizeof err));
  assert_non_null(strstr(err, "invalid composition name"));
  char *esc = pathf("%s/escape", tmp);
  assert_int_equal(access(esc, F_OK), -1);
  free(esc);
  /* data dir is a file → clear error */
  char *file = pathf("%s/afile", tmp);
  spit(file, "x", 1);
  assert_null(history_open(file, "song", err, sizeof err));
  assert_non_null(strstr(err, file));
  free(file);
}

static void test_history_default_data_dir_from_xdg(void **state) {
  const char *tmp = *state;
  char *old_xdg = getenv("XDG_DATA_HOME") ? strdup(getenv("XDG_DATA_HOME")) : NULL;
  char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

  setenv("XDG_DATA_HOME", "/x/data", 1);
  char *d = history_default_data_dir();
  assert_string_equal(d, "/x/data/dawbridge");
  free(d);
  setenv("XDG_DATA_HOME", "/x/data/", 1);
  d = history_default_data_dir();
  assert_string_equal(d, "/x/data/dawbridge");
  free(d);

  setenv("HOME", "/home/musician", 1);
  setenv("XDG_DATA_HOME", "relative/ignored", 1); /* the spec says relative paths are invalid */
  d = history_default_data_dir();
  assert_string_equal(d, "/home/musician/.local/share/dawbridge");
  free(d);
  setenv("XDG_DATA_HOME", "", 1);
  d = history_default_data_dir();
  assert_string_equal(d, "/home/musician/.local/share/dawbridge");
  free(d);
  unsetenv("XDG_DATA_HOME");
  d = history_default_data_dir();
  assert_string_equal(d, "/home/musician/.local/share/dawbridge");
  free(d);

  /* history_open(NULL, ...) uses it */
  setenv("XDG_DATA_HOME", tmp, 1);
  history_t *h = open_ok(NULL, "song");
  char *expect = pathf("%s/dawbridge/compositions/song/history", tmp);
  assert_string_equal(history_dir(h), expect);
  struct stat st;
  assert_int_equal(stat(expect, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  free(expect);
  history_free(h);

  if (old_xdg)
    setenv("XDG_DATA_HOME", old_xdg, 1);
  else
    unsetenv("XDG_DATA_HOME");
  if (old_home) setenv("HOME", old_home, 1);
  free(old_xdg);
  free(old_home);
}

/* Runs fn in a child (for what must not happen to the test process itself: a file-size limit, a private mount
 * namespace). Returns what fn returned; msg receives fn's message. The test fails if the child dies first. */
typedef int (*child_fn)(const char *tmp, char *msg, size_t msglen);

static int run_child(child_fn fn, const char *tmp, char *msg, size_t msglen) {
  int fd;
  pid_t pid = db_test_fork_piped(&fd);
  assert_true(pid >= 0);
  if (pid == 0) { /* reports fn's code, then its message */
    char m[2048] = "";
    int rc = fn(tmp, m, sizeof m);
    ssize_t w = write(fd, &rc, sizeof rc);
    w = write(fd, m, strlen(m));
    (void)w;
    close(fd);
    _exit(0);
  }
  char buf[sizeof(int) + 2048];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) > 0) n += (size_t)r;
  close(fd);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || n < sizeof(int))
    fail_msg("child died before it reported (signal %d)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  int rc;
  memcpy(&rc, buf, sizeof rc);
  size_t mlen = n - sizeof(int) < msglen - 1 ? n - sizeof(int) : msglen - 1;
  memcpy(msg, buf + sizeof(int), mlen);
  msg[mlen] = '\0';
  return rc;
}

static json_t *big_snapshot(void) {
  json_t *s = snapshot(0);
  json_t *notes = db_test_json_clip_notes(s, 0, 0);
  for (int i = 0; i < 2000; i++)
    json_array_append_new(notes,
                          json_pack("{s:i, s:f, s:f, s:i}", "n", 40 + i % 40, "s", i * 0.25, "d", 0.25, "v", 90));
  return s;
}

static int child_save_with_fsize_limit(const char *tmp, char *err, size_t errlen) {
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit rl = {4096, 4096};
  if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return -99;
  history_t *h = history_open(tmp, "song", err, errlen);
  if (!h) return -98;
  json_t *s = big_snapshot();
  int num = 0;
  int rc = history_save(h, s, NULL, &num, err, errlen);
  json_decref(s);
  history_free(h);
  return rc;
}

/* Saves 2 iterations, returns their texts for later comparison. */
static void save_two(const char *tmp, char **t1, char **t2, char **dir_out) {
  json_t *s = snapshot(0);
  *dir_out = save_first(tmp, s, 2);
  json_decref(s);
  char *p1 = pathf("%s/0001.json", *dir_out), *p2 = pathf("%s/0002.json", *dir_out);
  *t1 = db_test_slurp(p1, NULL);
  *t2 = db_test_slurp(p2, NULL);
  free(p1);
  free(p2);
}

static void assert_two_intact(const char *dir, const char *t1, const char *t2) {
  char *p1 = pathf("%s/0001.json", dir), *p2 = pathf("%s/0002.json", dir);
  char *n1 = db_test_slurp(p1, NULL), *n2 = db_test_slurp(p2, NULL);
  assert_non_null(n1);
  assert_non_null(n2);
  assert_string_equal(n1, t1);
  assert_string_equal(n2, t2);
  free(n1);
  free(n2);
  free(p1);
  free(p2);
  assert_int_equal(count_files(dir, ".tmp"), 0);
}

static void test_history_full_disk_keeps_earlier_and_reserves_number(void **state) {
  const char *tmp = *state;
  char *t1, *t2, *dir;
  save_two(tmp, &t1, &t2, &dir);

  char msg[1024];
  int rc = run_child(child_save_with_fsize_limit, tmp, msg, sizeof msg);
  assert_int_equal(rc, HISTORY_ENOSPC);
  /* the message names the file and the system's reason */
  assert_non_null(strstr(msg, dir));
  assert_non_null(strstr(msg, strerror(EFBIG)));
  assert_int_equal(access(dir, F_OK), 0);
  assert_two_intact(dir, t1, t2);
  char *p3 = pathf("%s/0003.json", dir);
  assert_int_equal(access(p3, F_OK), -1);
  free(p3);

  /* number 3 was reserved by the failed write: the next save gets 4 */
  history_t *h = open_ok(tmp, "song");
  json_t *s = snapshot(1);
  save_expect(h, s, 4);
  assert_list_sizes(h, 3, 0);
  json_decref(s);
  history_free(h);
  free(t1);
  free(t2);
  free(dir);
}

/* ---- conditions produced in a private mount namespace (work as root and as an ordinary user) ---- */

static int write_proc(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t w = write(fd, text, strlen(text));
  close(fd);
  return w == (ssize_t)strlen(text) ? 0 : -1;
}

/* Enters a mount namespace of its own (root: CLONE_NEWNS; others: a user namespace too, mapping the user to
 * root inside it), with no propagation back to the host. Returns 0, or -1 with the reason in why. */
static int enter_private_mounts(char *why, size_t len) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  if (unshare(CLONE_NEWNS) != 0) {
    int e1 = errno;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      snprintf(why, len,
               "cannot produce the condition: no mount namespace (unshare(CLONE_NEWNS): %s; "
               "with CLONE_NEWUSER: %s) -- run as root or allow unprivileged user namespaces "
               "(sysctl kernel.unprivileged_userns_clone=1)",
               strerror(e1), strerror(errno));
      return -1;
    }
    char map[64];
    write_proc("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %ld 1\n", (long)uid);
    if (write_proc("/proc/self/uid_map", map) != 0) {
      snprintf(why, len, "cannot write uid_map: %s", strerror(errno));
      return -1;
    }
    snprintf(map, sizeof map, "0 %ld 1\n", (long)gid);
    if (write_proc("/proc/self/gid_map", map) != 0) {
      snprintf(why, len, "cannot write gid_map: %s", strerror(errno));
      return -1;
    }
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    snprintf(why, len, "cannot make the mounts private: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/* fn (run in a child) returns 0 when every check passed, else a nonzero step number with its reason in msg. The
 * test fails with that reason. */
static void run_checked_child(child_fn fn, const char *tmp) {
  char msg[2048];
  int step = run_child(fn, tmp, msg, sizeof msg);
  if (step) fail_msg("step %d: %s", step, msg);
}

#define CHECK(step, cond, ...)                                                                                         \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      snprintf(msg, msglen, __VA_ARGS__);                                                                              \
      return (step);                                                                                                   \
    }                                                                                                                  \
  } while (0)

/* In the child: the history directory (holding two iterations) becomes a read-only bind mount. Both the
 * check before a change and the save itself fail with EROFS naming the directory. */
static int ns_read_only(const char *tmp, char *msg, size_t msglen) {
  if (enter_private_mounts(msg, msglen) != 0) return 1;
  char *dir = pathf("%s/compositions/song/history", tmp);
  CHECK(2, mount(dir, dir, NULL, MS_BIND, NULL) == 0, "bind mount %s: %s", dir, strerror(errno));
  CHECK(3, mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) == 0, "read-only remount: %s",
        strerror(errno));
  char err[1024] = "";
  history_t *h = history_open(tmp, "song", err, sizeof err);
  CHECK(4, h != NULL, "history_open on a read-only directory: %s", err);
  int rc = history_check_writable(h, err, sizeof err);
  CHECK(5, rc == HISTORY_EIO, "history_check_writable: %d (%s), want HISTORY_EIO", rc, err);
  CHECK(6, strstr(err, dir) && strstr(err, strerror(EROFS)), "check message does not name %s and \"%s\": %s", dir,
        strerror(EROFS), err);
  json_t *s = snapshot(5);
  int num = 0;
  rc = history_save(h, s, NULL, &num, err, sizeof err);
  json_decref(s);
  CHECK(7, rc == HISTORY_EIO, "history_save: %d (%s), want HISTORY_EIO", rc, err);
  CHECK(8, strstr(err, dir) && strstr(err, strerror(EROFS)), "save message does not name %s and \"%s\": %s", dir,
        strerror(EROFS), err);
  history_free(h);
  free(dir);
  return 0;
}

static void test_history_read_only_dir_clear_error(void **state) {
  const char *tmp = *state;
  char *t1, *t2, *dir;
  save_two(tmp, &t1, &t2, &dir);
  run_checked_child(ns_read_only, tmp);
  assert_two_intact(dir, t1, t2);
  /* outside the namespace the directory is writable again: the next save works */
  char err[512];
  history_t *h = open_ok(tmp, "song");
  assert_int_equal(history_check_writable(h, err, sizeof err), HISTORY_OK);
  json_t *s = snapshot(1);
  save_expect(h, s, 3);
  json_decref(s);
  history_free(h);
  free(t1);
  free(t2);
  free(dir);
}

/* In the child: a 512 KiB tmpfs as the data directory; two iterations saved; a file fills the rest. Then the
 * check and the save fail with ENOSPC naming the directory; the two iterations are intact, no temporary
 * file; once room is made, the next save works (the failed one only skipped a number). */
static int ns_full_disk(const char *tmp, char *msg, size_t msglen) {
  if (enter_private_mounts(msg, msglen) != 0) return 1;
  CHECK(2, mount("dbtest", tmp, "tmpfs", 0, "size=512k,mode=0700") == 0, "tmpfs on %s: %s", tmp, strerror(errno));
  char err[1024] = "";
  history_t *h = history_open(tmp, "song", err, sizeof err);
  CHECK(3, h != NULL, "history_open: %s", err);
  const char *dir = history_dir(h);
  json_t *s = snapshot(0);
  int num = 0;
  for (int i = 1; i <= 2; i++) {
    int rc = history_save(h, s, NULL, &num, err, sizeof err);
    CHECK(4, rc == HISTORY_OK && num == i, "save %d: %d %s", i, rc, err);
  }
  CHECK(5, history_check_writable(h, err, sizeof err) == HISTORY_OK, "check with room: %s", err);
  char *p1 = pathf("%s/0001.json", dir), *p2 = pathf("%s/0002.json", dir);
  char *t1 = db_test_slurp(p1, NULL), *t2 = db_test_slurp(p2, NULL);
  char *filler = pathf("%s/filler", tmp);
  int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  CHECK(6, fd >= 0, "filler: %s", strerror(errno));
  static const char block[4096];
  while (write(fd, block, sizeof block) > 0)
    ;
  close(fd);

  int rc = history_check_writable(h, err, sizeof err);
  CHECK(7, rc == HISTORY_ENOSPC, "check on a full disk: %d (%s), want HISTORY_ENOSPC", rc, err);
  CHECK(8, strstr(err, dir) && strstr(err, strerror(ENOSPC)), "check message lacks %s / \"%s\": %s", dir,
        strerror(ENOSPC), err);
  json_t *big = big_snapshot();
  rc = history_save(h, big, NULL, &num, err, sizeof err);
  CHECK(9, rc == HISTORY_ENOSPC, "save on a full disk: %d (%s), want HISTORY_ENOSPC", rc, err);
  CHECK(10, strstr(err, dir) && strstr(err, strerror(ENOSPC)), "save message lacks %s / \"%s\": %s", dir,
        strerror(ENOSPC), err);
  char *n1 = db_test_slurp(p1, NULL), *n2 = db_test_slurp(p2, NULL);
  CHECK(11, n1 && n2 && strcmp(n1, t1) == 0 && strcmp(n2, t2) == 0, "earlier iterations changed");
  DIR *d = opendir(dir);
  struct dirent *de;
  int others = 0;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "next") &&
        strcmp(de->d_name, "0001.json") && strcmp(de->d_name, "0002.json"))
      others++;
  closedir(d);
  CHECK(12, others == 0, "%d stray file(s) left in %s after the failed save", others, dir);

  unlink(filler);
  rc = history_save(h, big, NULL, &num, err, sizeof err);
  CHECK(13, rc == HISTORY_OK && num == 4, "save after making room: %d num %d (%s)", rc, num, err);
  json_t *list = NULL, *warn = NULL;
  CHECK(14,
        history_list(h, &list, &warn, err, sizeof err) == HISTORY_OK && json_array_size(list) == 3 &&
            json_array_size(warn) == 0,
        "list after the full disk: %zu entries, %zu warnings", json_array_size(list), json_array_size(warn));
  json_decref(list);
  json_decref(warn);
  json_decref(s);
  json_decref(big);
  free(p1), free(p2), free(t1), free(t2), free(n1), free(n2), free(filler);
  history_free(h);
  return 0;
}

static void test_history_full_disk_tmpfs_clear_error(void **state) { run_checked_child(ns_full_disk, *state); }

static void test_history_check_writable_leaves_nothing(void **state) {
  const char *tmp = *state;
  char *t1, *t2, *dir;
  save_two(tmp, &t1, &t2, &dir);
  char err[512];
  history_t *h = open_ok(tmp, "song");
  assert_int_equal(history_check_writable(h, err, sizeof err), HISTORY_OK);
  assert_two_intact(dir, t1, t2);
  assert_int_equal(count_files(dir, ""), 5); /* . .. next 0001 0002 */
  /* a counter that cannot be written is found before the DAW is touched */
  char *pc = pathf("%s/next", dir);
  assert_int_equal(chmod(pc, 0400), 0);
  if (geteuid() != 0) {
    assert_int_equal(history_check_writable(h, err, sizeof err), HISTORY_EIO);
    assert_non_null(strstr(err, pc));
  }
  chmod(pc, 0600);
  free(pc);
  history_free(h);
  free(t1), free(t2), free(dir);
}

/* In the child: /proc hidden (an empty tmpfs over it), so an unnamed file cannot be linked through
 * /proc/self/fd: saves still work (AT_EMPTY_PATH, else a named temporary file) and leave no temporary file. */
static int ns_no_proc(const char *tmp, char *msg, size_t msglen) {
  if (enter_private_mounts(msg, msglen) != 0) return 1;
  CHECK(2, mount("noproc", "/proc", "tmpfs", 0, "size=16k") == 0, "tmpfs over /proc: %s", strerror(errno));
  CHECK(3, access("/proc/self/fd", F_OK) != 0, "/proc/self/fd still visible");
  char err[1024] = "";
  history_t *h = history_open(tmp, "song", err, sizeof err);
  CHECK(4, h != NULL, "history_open: %s", err);
  json_t *s = snapshot(3);
  for (int i = 1; i <= 3; i++) {
    int num = 0;
    int rc = history_save(h, s, NULL, &num, err, sizeof err);
    CHECK(5, rc == HISTORY_OK && num == i, "save %d without /proc: %d (%s)", i, rc, err);
  }
  CHECK(6, history_check_writable(h, err, sizeof err) == HISTORY_OK, "check without /proc: %s", err);
  json_t *list = NULL;
  CHECK(7, history_list(h, &list, NULL, err, sizeof err) == HISTORY_OK && json_array_size(list) == 3,
        "list without /proc");
  CHECK(8, count_files(history_dir(h), ".tmp") == 0, "temporary file left without /proc");
  json_decref(list);
  json_decref(s);
  history_free(h);
  return 0;
}

static void test_history_saves_without_proc(void **state) { run_checked_child(ns_no_proc, *state); }

/* ---- concurrency ---- */

#define CONCURRENT_SAVERS 400

static void test_history_concurrent_saves_all_kept(void **state) {
  const char *tmp = *state;
  char err[512];
  history_t *h = open_ok(tmp, "song");
  char *dir = strdup(history_dir(h));
  int go[2], out[2];
  assert_int_equal(pipe(go), 0);
  assert_int_equal(pipe(out), 0);
  pid_t pids[CONCURRENT_SAVERS];
  for (int i = 0; i < CONCURRENT_SAVERS; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      close(go[1]);
      close(out[0]);
      char b;
      ssize_t r = read(go[0], &b, 1); /* all start together when the parent closes its end */
      (void)r;
      char e[512];
      history_t *hc = history_open(tmp, "song", e, sizeof e);
      json_t *s = snapshot(0);
      json_object_set_new(s, "saver", json_integer(i));
      int num = 0;
      int rc = hc ? history_save(hc, s, NULL, &num, e, sizeof e) : -99;
      int rec[2] = {i, rc == HISTORY_OK ? num : -1};
      ssize_t w = write(out[1], rec, sizeof rec);
      (void)w;
      _exit(rc == HISTORY_OK ? 0 : 1);
    }
  }
  close(go[0]);
  close(out[1]);
  close(go[1]);
  int failed = 0;
  for (int i = 0; i < CONCURRENT_SAVERS; i++) {
    int status = 0;
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
  }
  assert_int_equal(failed, 0);
  /* every saver reported a number; the numbers are distinct */
  char *seen_num = calloc(CONCURRENT_SAVERS * 4 + 2, 1);
  int saver_of[CONCURRENT_SAVERS * 4 + 2];
  int rec[2], got = 0;
  while (read(out[0], rec, sizeof rec) == (ssize_t)sizeof rec) {
    assert_true(rec[1] >= 1 && rec[1] <= CONCURRENT_SAVERS * 4);
    if (seen_num[rec[1]]) fail_msg("iteration number %d handed to two savers", rec[1]);
    seen_num[rec[1]] = 1;
    saver_of[rec[1]] = rec[0];
    got++;
  }
  close(out[0]);
  assert_int_equal(got, CONCURRENT_SAVERS);
  /* and each is on disk, readable, holding what that saver wrote */
  json_t *list = NULL, *warn = NULL;
  assert_int_equal(history_list(h, &list, &warn, err, sizeof err), HISTORY_OK);
  assert_int_equal(json_array_size(list), CONCURRENT_SAVERS);
  assert_int_equal(json_array_size(warn), 0);
  for (size_t i = 0; i < json_array_size(list); i++) {
    int num = (int)json_integer_value(json_object_get(json_array_get(list, i), "number"));
    assert_true(num >= 1 && num <= CONCURRENT_SAVERS * 4 && seen_num[num]);
    json_t *it = NULL;
    assert_int_equal(history_load(h, num, &it, err, sizeof err), HISTORY_OK);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(it, "state"), "saver")), saver_of[num]);
    json_decref(it);
  }
  assert_int_equal(count_files(dir, ".tmp"), 0);
  json_decref(list);
  json_decref(warn);
  free(seen_num);
  history_free(h);
  free(dir);
}

/* Two writers save in a loop; one is killed with SIGKILL at random moments, again and again. No temporary
 * file is ever left in the directory (not even before the next open), every number is distinct, and every
 * iteration is readable. */
static void test_history_kill9_leaves_no_temp_file(void **state) {
  const char *tmp = *state;
  char err[512];
  history_t *h = open_ok(tmp, "song");
  char *dir = strdup(history_dir(h));
  int probe = open(dir, O_TMPFILE | O_WRONLY, 0600);
  int unnamed_ok = probe >= 0;
  if (probe >= 0) close(probe);
  pid_t steady = fork();
  assert_true(steady >= 0);
  if (steady == 0) {
    history_t *hc = history_open(tmp, "song", err, sizeof err);
    json_t *s = snapshot(2);
    for (int i = 0; i < 100000; i++) {
      int num;
      if (history_save(hc, s, NULL, &num, err, sizeof err) != HISTORY_OK) _exit(1);
    }
    _exit(0);
  }
  unsigned rnd = 4242;
  int left_after_kill = 0;
  for (int round = 0; round < 60; round++) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      history_t *hc = history_open(tmp, "song", err, sizeof err);
      json_t *s = big_snapshot();
      for (;;) {
        int num;
        history_check_writable(hc, err, sizeof err);
        if (history_save(hc, s, NULL, &num, err, sizeof err) != HISTORY_OK) _exit(1);
      }
    }
    usleep((useconds_t)(rand_r(&rnd) % 8000));
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    left_after_kill += count_files(dir, ".tmp");
  }
  kill(steady, SIGKILL);
  waitpid(steady, NULL, 0);
  if (unnamed_ok) assert_int_equal(left_after_kill, 0);
  history_t *h2 = open_ok(tmp, "song"); /* removes a dead writer's leftovers, if any */
  assert_int_equal(count_files(dir, ".tmp"), 0);
  json_t *list = NULL, *warn = NULL;
  assert_int_equal(history_list(h2, &list, &warn, err, sizeof err), HISTORY_OK);
  assert_int_equal(json_array_size(warn), 0);
  assert_true(json_array_size(list) > 0);
  print_message("kill -9 loop: %zu iterations, %d temporary files seen right after the kills (O_TMPFILE %s)\n",
                json_array_size(list), left_after_kill, unnamed_ok ? "yes" : "no");
  json_decref(list);
  json_decref(warn);
  history_free(h2);
  history_free(h);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_history_save_list_load_round_trip, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_empty_history, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_numbers_never_reused_across_reopen, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_corrupt_and_foreign_files_skipped, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_invalid_composition_names, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_default_data_dir_from_xdg, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_full_disk_keeps_earlier_and_reserves_number, tmpdir_setup,
                                      tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_read_only_dir_clear_error, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_full_disk_tmpfs_clear_error, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_check_writable_leaves_nothing, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_saves_without_proc, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_concurrent_saves_all_kept, tmpdir_setup, tmpdir_teardown),
      cmocka_unit_test_setup_teardown(test_history_kill9_leaves_no_temp_file, tmpdir_setup, tmpdir_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
