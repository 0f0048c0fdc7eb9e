/* test_history_crash.c: a child saves iterations in a loop and is killed with SIGKILL at random moments,
 * several hundred times (bounded to ~20 s). After every kill the history is reopened and must be readable:
 * every NNNN.json parses and is complete, numbers strictly increase with the order of the saves, nothing
 * saved earlier is lost, no temporary file is taken for an iteration. What survived is asserted exactly: the
 * child reports every save history_save() returned as done (number and sequence, through a pipe), and after the
 * kill the history holds exactly those iterations, each with exactly the snapshot saved, plus at most the one save
 * that was in flight when the child died (the next sequence number) — nothing else, nothing older lost. Then a
 * full disk (RLIMIT_FSIZE child) must fail cleanly without touching anything. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "history.h"
#include "db_test_util.h"

#define MAX_KILLS 500
#define TIME_BUDGET_SEC 18.0
#define MIN_KILLS 50 /* kills now wait for 0..3 completed saves: fewer fit in the time budget on a loaded machine */

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static json_t *child_snapshot(int run, int seq) {
  /* mostly small, every fourth one large enough to take a while to write */
  size_t len = (seq + run) % 4 == 0 ? (size_t)(8 + (seq * 7919) % 16) * 1024 : (size_t)(seq * 31 % 900) + 17;
  char *blob = malloc(len + 1);
  for (size_t i = 0; i < len; i++) blob[i] = (char)('a' + (i + (size_t)seq) % 26);
  blob[len] = '\0';
  json_t *s = json_pack("{s:s, s:s, s:i, s:i, s:I, s:s, s:[{s:s, s:s}]}", "format", "dawbridge.session/1", "project",
                        "Crash", "run", run, "seq", seq, "blob_len", (json_int_t)len, "blob", blob, "tracks", "id",
                        "t1", "name", "Piano");
  free(blob);
  return s;
}

/* what the child reports after each completed save */
struct done_rec {
  int number, seq;
};

static void child_loop(const char *tmp, int run, int report_fd) {
  char err[512];
  history_t *h = history_open(tmp, "crash", err, sizeof err);
  if (!h) _exit(2);
  for (int seq = 1;; seq++) {
    json_t *s = child_snapshot(run, seq);
    json_t *m = json_pack("{s:s, s:s}", "source", "ai_iteration", "user_message", "keep going");
    int num;
    if (history_save(h, s, m, &num, err, sizeof err) != HISTORY_OK) _exit(3);
    struct done_rec rec = {num, seq};
    if (write(report_fd, &rec, sizeof rec) != (ssize_t)sizeof rec) /* atomic: smaller than PIPE_BUF */
      _exit(4);
    json_decref(s);
    json_decref(m);
  }
}

static int count_tmp(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0) n++;
  }
  closedir(d);
  return n;
}

struct seen {
  int number, run, seq;
};

/* Loads and checks iteration `number` completely; returns its (run, seq). */
static void check_iteration(history_t *h, int number, int *run, int *seq) {
  char err[512];
  json_t *it = NULL;
  int rc = history_load(h, number, &it, err, sizeof err);
  if (rc != HISTORY_OK) fail_msg("iteration %d unreadable: %s", number, err);
  json_t *st = json_object_get(it, "state");
  const char *blob = json_string_value(json_object_get(st, "blob"));
  assert_non_null(blob);
  assert_int_equal(strlen(blob), json_integer_value(json_object_get(st, "blob_len")));
  assert_string_equal(json_string_value(json_object_get(it, "user_message")), "keep going");
  *run = (int)json_integer_value(json_object_get(st, "run"));
  *seq = (int)json_integer_value(json_object_get(st, "seq"));
  /* exactly the snapshot that was saved, byte for byte */
  json_t *want = child_snapshot(*run, *seq);
  if (!json_equal(st, want))
    fail_msg("iteration %d (run %d, save %d) does not hold the snapshot saved", number, *run, *seq);
  json_decref(want);
  json_decref(it);
}

static void test_history_crash_kill9_loop_leaves_readable_history(void **state) {
  (void)state;
  char tmpl[] = "/tmp/dbhist-crash-XXXXXX";
  char *tmp = mkdtemp(tmpl);
  assert_non_null(tmp);
  char err[512];
  history_t *h0 = history_open(tmp, "crash", err, sizeof err);
  assert_non_null(h0);
  char *dir = strdup(history_dir(h0));
  history_t *hl = h0; /* long-lived reader */

  size_t cap = 4096, nseen = 0;
  struct seen *seen = malloc(cap * sizeof *seen);
  unsigned rnd = 12345;
  double start = now_sec();
  int kills = 0, exited_early = 0, mid_write = 0, in_flight_survived = 0;

  for (int run = 1; run <= MAX_KILLS && now_sec() - start < TIME_BUDGET_SEC; run++) {
    int fd; /* the child reports each completed save on it */
    pid_t pid = db_test_fork_piped(&fd);
    assert_true(pid >= 0);
    if (pid == 0) child_loop(tmp, run, fd);
    size_t nrec = 0, reccap = 64;
    struct done_rec *recs = malloc(reccap * sizeof *recs);
    /* random moment: sometimes immediately (during open / first write), else after 0..3 completed saves
         * (however slow the machine is) and then 0..3 ms, so the kills land in every phase of a save */
    int r = rand_r(&rnd) % 100;
    int wait_saves = r < 10 ? 0 : rand_r(&rnd) % 4;
    useconds_t delay = r < 10 ? 0 : (useconds_t)(rand_r(&rnd) % 3000);
    while ((int)nrec < wait_saves && read(fd, &recs[nrec], sizeof *recs) == (ssize_t)sizeof *recs) nrec++;
    if (delay) usleep(delay);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      kills++;
    else
      exited_early++;
    /* the other saves the child completed (the pipe holds every report: the writer is gone) */
    for (;;) {
      if (nrec == reccap) recs = realloc(recs, (reccap *= 2) * sizeof *recs);
      ssize_t got = read(fd, &recs[nrec], sizeof *recs);
      if (got == 0) break;
      assert_int_equal(got, sizeof *recs);
      nrec++;
    }
    close(fd);

    int tmps = count_tmp(dir);
    if (tmps > 0) mid_write++; /* killed while a temporary file existed */
    /* first read through a handle opened long ago (the dead child's temporary files are still there:
         * they must not show up as iterations nor as warnings) */
    history_t *h = hl;
    json_t *list = NULL, *warn = NULL;
    assert_int_equal(history_list(h, &list, &warn, err, sizeof err), HISTORY_OK);
    if (json_array_size(warn) != 0) {
      char *w = json_dumps(warn, JSON_COMPACT);
      fail_msg("after kill %d: %s", run, w);
    }
    /* everything seen before is still there, in the same order, then the new ones */
    assert_true(json_array_size(list) >= nseen);
    size_t nseen_before = nseen;
    /* every completed save survived (checked one by one below) */
    if (json_array_size(list) - nseen < nrec)
      fail_msg("kill %d: the child completed %zu saves, only %zu new iterations are there", run, nrec,
               json_array_size(list) - nseen);
    for (size_t i = 0; i < json_array_size(list); i++) {
      int num = (int)json_integer_value(json_object_get(json_array_get(list, i), "number"));
      if (i > 0) assert_true(num > (int)json_integer_value(json_object_get(json_array_get(list, i - 1), "number")));
      if (i < nseen) {
        assert_int_equal(num, seen[i].number);
        continue;
      }
      int rr, sq;
      check_iteration(h, num, &rr, &sq);
      /* later number ⇔ later save: (run, seq) increases strictly */
      if (nseen > 0) {
        struct seen *p = &seen[nseen - 1];
        assert_true(rr > p->run || (rr == p->run && sq > p->seq));
      }
      assert_int_equal(rr, run);   /* only this child wrote since the last check */
      size_t k = i - nseen_before; /* the k-th new iteration of this run */
      if (k < nrec) {
        /* a save the child saw completed: exactly that number and that snapshot */
        if (num != recs[k].number || sq != recs[k].seq)
          fail_msg("kill %d: new iteration %zu is number %d (save %d), the child saved number %d (save %d)", run, k + 1,
                   num, sq, recs[k].number, recs[k].seq);
      } else if (k == nrec) {
        /* the save in flight when the child died made it to disk: only the very next one */
        if (sq != (nrec ? recs[nrec - 1].seq : 0) + 1)
          fail_msg("kill %d: an extra iteration %d holds save %d, not the one in flight (%d)", run, num, sq,
                   (nrec ? recs[nrec - 1].seq : 0) + 1);
        in_flight_survived++;
      } else {
        fail_msg("kill %d: %zu new iterations for %zu completed saves (at most one more may survive)", run,
                 json_array_size(list) - nseen_before, nrec);
      }
      if (nseen == cap) seen = realloc(seen, (cap *= 2) * sizeof *seen);
      seen[nseen++] = (struct seen){num, rr, sq};
    }
    /* from time to time, re-read everything completely */
    if (run % 100 == 0) {
      for (size_t i = 0; i < nseen; i++) {
        int rr, sq;
        check_iteration(h, seen[i].number, &rr, &sq);
        assert_int_equal(rr, seen[i].run);
        assert_int_equal(sq, seen[i].seq);
      }
    }
    json_decref(list);
    json_decref(warn);
    free(recs);
    assert_int_equal(count_tmp(dir), tmps);
    /* reopening removes the stale temporary files, nothing else */
    history_t *h2 = history_open(tmp, "crash", err, sizeof err);
    if (!h2) fail_msg("reopen after kill %d: %s", run, err);
    assert_int_equal(count_tmp(dir), 0);
    assert_int_equal(history_latest(h2, NULL, err, sizeof err), nseen ? seen[nseen - 1].number : HISTORY_ENOENT);
    history_free(h2);
  }
  history_free(hl);
  double elapsed = now_sec() - start;
  print_message("history crash loop: %d kills (%d of them while a temporary file existed, %d children exited "
                "first), %zu iterations survived (%d of them the save in flight at the kill), %.1f s\n",
                kills, mid_write, exited_early, nseen, in_flight_survived, elapsed);
  assert_int_equal(exited_early, 0);
  assert_true(kills >= MIN_KILLS);
  assert_true(nseen > 0);

  /* full disk at the end: a child limited by RLIMIT_FSIZE fails cleanly, nothing changes */
  history_t *h = history_open(tmp, "crash", err, sizeof err);
  json_t *before = NULL;
  assert_int_equal(history_list(h, &before, NULL, err, sizeof err), HISTORY_OK);
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {2048, 2048};
    setrlimit(RLIMIT_FSIZE, &rl);
    json_t *s = child_snapshot(9999, 41); /* (run + seq) % 4 == 0: a large one, > 2 KiB */
    int num;
    int rc = history_save(h, s, NULL, &num, err, sizeof err);
    _exit(rc == HISTORY_ENOSPC && strstr(err, dir) && strstr(err, strerror(EFBIG)) ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  json_t *after = NULL, *warn = NULL;
  assert_int_equal(history_list(h, &after, &warn, err, sizeof err), HISTORY_OK);
  assert_true(json_equal(before, after));
  assert_int_equal(json_array_size(warn), 0);
  assert_int_equal(count_tmp(dir), 0);
  json_decref(before);
  json_decref(after);
  json_decref(warn);
  history_free(h);

  free(seen);
  free(dir);
  nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_history_crash_kill9_loop_leaves_readable_history),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
