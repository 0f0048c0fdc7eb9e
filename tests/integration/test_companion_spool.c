/* The companion spool is the musician's alone (issue 10 §7), and companion replies are matched by request id
 * (issue 10 §3). companion_t against a real spool directory on the loop; the test plays the companion (it reads
 * in/ and writes out/ itself) or another local user (world-writable spools, planted links and files, a planted
 * companion.json naming another REAPER action). Each refusal is checked: the error names the path and the problem,
 * and nothing is read through a link, executed or triggered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "companion.h"
#include "db_test_util.h"

/* ---------------------------------------------------------------- helpers */

static char base[512];

static int setup(void **st) {
  (void)st;
  const char *tmp = getenv("TMPDIR");
  snprintf(base, sizeof base, "%s/dawbridge-spooltest-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  assert_non_null(mkdtemp(base));
  return 0;
}

static int teardown(void **st) {
  (void)st;
  assert_int_equal(db_test_rm_rf(base), 0);
  return 0;
}

static void pathf(char *buf, size_t len, const char *fmt, ...) {
  char rel[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rel, sizeof rel, fmt, ap);
  va_end(ap);
  snprintf(buf, len, "%s/%s", base, rel);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *read_text(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}

static int mode_of(const char *p) {
  struct stat s;
  assert_int_equal(lstat(p, &s), 0);
  return (int)(s.st_mode & 07777);
}

struct res {
  int calls, status;
  char msg[4096];
  json_t *result;
};

static void on_res(int status, const json_t *result, const char *message, void *data) {
  struct res *r = data;
  r->calls++;
  r->status = status;
  snprintf(r->msg, sizeof r->msg, "%s", message ? message : "");
  json_decref(r->result);
  r->result = result ? json_deep_copy(result) : NULL;
}

static char logbuf[1 << 15];
static void on_log(int level, const char *module, const char *text, void *data) {
  (void)data;
  size_t n = strlen(logbuf);
  if (n > sizeof logbuf - 1200) n = logbuf[0] = 0;
  snprintf(logbuf + n, sizeof logbuf - n, "[%d] %s: %s\n", level, module, text);
  if (getenv("WIRE_VERBOSE")) fprintf(stderr, "[%d] %s: %s\n", level, module, text);
}

static int sends;
static char sent_id[256];
static int record_send(const json_t *templates, const json_t *vars, void *data, char *err, size_t errlen) {
  (void)templates, (void)data, (void)err, (void)errlen;
  sends++;
  snprintf(sent_id, sizeof sent_id, "%s", json_string_value(json_object_get(vars, "command_id")));
  return 0;
}

static companion_t *open_comp(uv_loop_t *loop, const char *spool, long owner, const json_t *section, int timeout_ms,
                              char *err, size_t errlen, int *rc) {
  struct companion_config cfg = {.spool_dir = spool,
                                 .host = section ? "reaper" : "ardour",
                                 .section = section,
                                 .timeout_ms = timeout_ms,
                                 .retries = -1,
                                 .ping_timeout_ms = 200,
                                 .poll_ms = 50,
                                 .owner_uid = owner,
                                 .send = section ? record_send : NULL,
                                 .log = {.fn = on_log, .level = LOG_DEBUG}};
  companion_t *c = NULL;
  err[0] = 0;
  *rc = companion_new(loop, &cfg, &c, err, errlen);
  return c;
}

/* A companion of this user on a fresh loop over `spool` (REAPER's trigger when section is given); the test fails,
 * with the companion's words, if it is refused. */
static companion_t *start_comp(uv_loop_t *loop, const char *spool, const json_t *section, int timeout_ms) {
  uv_loop_init(loop);
  char err[2048];
  int rc;
  companion_t *c = open_comp(loop, spool, 0, section, timeout_ms, err, sizeof err, &rc);
  if (rc) fail_msg("companion on %s refused: %d %s", spool, rc, err);
  return c;
}

static int closed;
static void on_closed(void *d) {
  (void)d;
  closed++;
}

static void close_comp(uv_loop_t *loop, companion_t *c) {
  closed = 0;
  companion_close(c, on_closed, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
}

static void keepalive_cb(uv_timer_t *t) { (void)t; }

/* Runs the loop until cond(data) or ms pass; returns cond's last value. */
static int run_until(uv_loop_t *loop, int (*cond)(void *), void *data, int ms) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, keepalive_cb, 5, 5);
  uint64_t end = uv_now(loop) + (uint64_t)ms;
  int ok;
  while (!(ok = cond(data)) && uv_now(loop) < end) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return ok;
}

static int res_done(void *d) { return ((struct res *)d)->calls > 0; }

/* The first command file in in/ (the test plays the companion): its id, or "" */
static int first_cmd(const char *spool, char *id, size_t idlen) {
  char in[1024];
  snprintf(in, sizeof in, "%s/in", spool);
  DIR *d = opendir(in);
  if (!d) return 0;
  struct dirent *e;
  int found = 0;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 5 && !strcmp(e->d_name + l - 5, ".json")) {
      snprintf(id, idlen, "%.*s", (int)(l - 5), e->d_name);
      found = 1;
      break;
    }
  }
  closedir(d);
  return found;
}

struct wait_cmd {
  const char *spool;
  char id[128];
};
static int cmd_there(void *d) {
  struct wait_cmd *w = d;
  return first_cmd(w->spool, w->id, sizeof w->id);
}

/* ---------------------------------------------------------------- created private */

static void test_companion_spool_created_mode_0700(void **st) {
  (void)st;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char spool[1024], p[1100], err[2048];
  pathf(spool, sizeof spool, "a/b/spool");
  int rc;
  mode_t old = umask(0); /* even with a permissive umask */
  companion_t *c = open_comp(&loop, spool, 0, NULL, 0, err, sizeof err, &rc);
  umask(old);
  assert_int_equal(rc, 0);
  assert_int_equal(mode_of(spool), 0700);
  snprintf(p, sizeof p, "%s/in", spool);
  assert_int_equal(mode_of(p), 0700);
  snprintf(p, sizeof p, "%s/out", spool);
  assert_int_equal(mode_of(p), 0700);
  pathf(p, sizeof p, "a");
  assert_int_equal(mode_of(p), 0700);
  pathf(p, sizeof p, "a/b");
  assert_int_equal(mode_of(p), 0700);
  close_comp(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---------------------------------------------------------------- refusals at start */

static void expect_refused(const char *spool, long owner, const char *path_in_msg, const char *problem) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[2048];
  int rc;
  companion_t *c = open_comp(&loop, spool, owner, NULL, 0, err, sizeof err, &rc);
  if (rc != COMPANION_ESPOOL || !strstr(err, path_in_msg) || !strstr(err, problem))
    fail_msg("spool %s: expected a refusal naming %s and \"%s\", got %d: %s", spool, path_in_msg, problem, rc, err);
  assert_null(c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* The spool is accepted: the companion opens on it and closes again (else the test fails naming `what`). */
static void expect_accepted(const char *spool, const char *what) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[2048];
  int rc;
  companion_t *c = open_comp(&loop, spool, 0, NULL, 0, err, sizeof err, &rc);
  if (rc) fail_msg("%s was refused: %s", what, err);
  close_comp(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_companion_spool_refuses_group_or_world_writable(void **st) {
  (void)st;
  char spool[1024], in[1100];
  pathf(spool, sizeof spool, "ww");
  assert_int_equal(mkdir(spool, 0700), 0);
  assert_int_equal(chmod(spool, 0777), 0); /* what another user's pre-created /tmp spool looks like */
  expect_refused(spool, 0, spool, "writable by group or others");
  assert_int_equal(chmod(spool, 0770), 0);
  expect_refused(spool, 0, spool, "writable by group or others");
  /* the spool private, but its in/ open to all */
  assert_int_equal(chmod(spool, 0700), 0);
  snprintf(in, sizeof in, "%s/in", spool);
  assert_int_equal(mkdir(in, 0700), 0);
  assert_int_equal(chmod(in, 0777), 0);
  expect_refused(spool, 0, in, "writable by group or others");
  /* a parent on the way that anyone can write (not sticky like /tmp): the spool could be swapped */
  char parent[1024], sp2[1100];
  pathf(parent, sizeof parent, "open");
  assert_int_equal(mkdir(parent, 0700), 0);
  assert_int_equal(chmod(parent, 0777), 0);
  snprintf(sp2, sizeof sp2, "%s/spool", parent);
  expect_refused(sp2, 0, parent, "not sticky");
  /* the same parent, sticky: fine (that is /tmp) */
  assert_int_equal(chmod(parent, 01777), 0);
  expect_accepted(sp2, "a private spool in a sticky directory");
}

static void test_companion_spool_refuses_other_owner(void **st) {
  (void)st;
  char spool[1024];
  pathf(spool, sizeof spool, "theirs");
  assert_int_equal(mkdir(spool, 0700), 0);
  /* the spool as another user would have made it: the bridge is told it runs as another uid */
  long other = (long)geteuid() + 4242;
  expect_refused(spool, other, spool, "owned by uid");
  /* and for real when the test may chown (root): a spool made by "nobody" */
  if (geteuid() == 0) {
    char sp2[1024];
    pathf(sp2, sizeof sp2, "nobodys");
    assert_int_equal(mkdir(sp2, 0700), 0);
    assert_int_equal(chown(sp2, 65534, 65534), 0);
    expect_refused(sp2, 0, sp2, "owned by uid 65534");
    /* a parent directory of another user (the /tmp/dawbridge-UID a squatter made first) */
    char sq[1024], sp3[1100];
    pathf(sq, sizeof sq, "squatted");
    assert_int_equal(mkdir(sq, 0755), 0);
    assert_int_equal(chown(sq, 65534, 65534), 0);
    snprintf(sp3, sizeof sp3, "%s/spool", sq);
    expect_refused(sp3, 0, sq, "owned by uid 65534");
  }
}

static void test_companion_spool_refuses_symlinked_dirs(void **st) {
  (void)st;
  char spool[1024], elsewhere[1024], in[1100];
  pathf(spool, sizeof spool, "ln");
  pathf(elsewhere, sizeof elsewhere, "elsewhere");
  assert_int_equal(mkdir(spool, 0700), 0);
  assert_int_equal(mkdir(elsewhere, 0700), 0);
  snprintf(in, sizeof in, "%s/in", spool);
  assert_int_equal(symlink(elsewhere, in), 0); /* commands would land somewhere else */
  expect_refused(spool, 0, in, "symbolic link");
  /* a link of another user on the way to the spool (only its owner could re-point it): refused. Needs lchown, so
   * only as root; as any user, the spool itself may be a link of one's own */
  char lnk[1024], target[1024];
  pathf(target, sizeof target, "target");
  assert_int_equal(mkdir(target, 0700), 0);
  pathf(lnk, sizeof lnk, "spool-link");
  assert_int_equal(symlink(target, lnk), 0);
  expect_accepted(lnk, "the user's own link to a private spool");
  if (geteuid() == 0) {
    assert_int_equal(lchown(lnk, 65534, 65534), 0);
    expect_refused(lnk, 0, lnk, "symbolic link owned by uid 65534");
  }
}

/* ---------------------------------------------------------------- planted files */

static void test_companion_spool_foreign_files_removed_never_run(void **st) {
  (void)st;
  char spool[1024], p[1100], victim[1024];
  pathf(spool, sizeof spool, "planted");
  snprintf(p, sizeof p, "%s/in", spool);
  assert_int_equal(mkdir(spool, 0700), 0);
  assert_int_equal(mkdir(p, 0700), 0);
  pathf(victim, sizeof victim, "victim.json");
  write_text(victim, "keep me");
  /* a link in in/ pointing at one of the user's files: removed, the target untouched */
  snprintf(p, sizeof p, "%s/in/20990101T000000.000-1-000001.json", spool);
  assert_int_equal(symlink(victim, p), 0);
  if (geteuid() == 0) {
    /* a command written by another user */
    snprintf(p, sizeof p, "%s/in/20990101T000000.000-1-000002.json", spool);
    write_text(p, "{\"id\":\"20990101T000000.000-1-000002\",\"op\":\"delete_track\",\"args\":{\"track\":1}}");
    assert_int_equal(chown(p, 65534, 65534), 0);
  }
  uv_loop_t loop;
  logbuf[0] = 0;
  companion_t *c = start_comp(&loop, spool, NULL, 0);
  struct companion_stats cs;
  companion_get_stats(c, &cs);
  assert_int_equal(cs.foreign_files, geteuid() == 0 ? 2 : 1);
  snprintf(p, sizeof p, "%s/in/20990101T000000.000-1-000001.json", spool);
  struct stat sb;
  assert_int_not_equal(lstat(p, &sb), 0);
  snprintf(p, sizeof p, "%s/in/20990101T000000.000-1-000002.json", spool);
  assert_int_not_equal(lstat(p, &sb), 0);
  assert_string_equal(read_text(victim), "keep me");
  assert_non_null(strstr(logbuf, "not written by you"));
  close_comp(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* A reply planted as a link (or another user's file) is never read; the companion's own reply is. */
static void test_companion_spool_planted_reply_link_not_followed(void **st) {
  (void)st;
  char spool[1024], p[1200], fake[1024];
  pathf(spool, sizeof spool, "replies");
  uv_loop_t loop;
  companion_t *c = start_comp(&loop, spool, NULL, 5000);
  struct res r = {0};
  json_t *args = json_pack("{s:s,s:s}", "name", "Kick", "type", "midi");
  assert_int_equal(companion_call(c, "create_track", args, NULL, on_res, &r), 0);
  json_decref(args);
  struct wait_cmd w = {.spool = spool};
  assert_true(run_until(&loop, cmd_there, &w, 3000));
  /* "another user" answers first, through a link to a file claiming success */
  pathf(fake, sizeof fake, "fake-reply.json");
  char text[512];
  snprintf(text, sizeof text, "{\"id\":\"%s\",\"ok\":true,\"result\":{\"host_id\":\"evil\"}}", w.id);
  write_text(fake, text);
  snprintf(p, sizeof p, "%s/out/%s.json", spool, w.id);
  assert_int_equal(symlink(fake, p), 0);
  struct companion_stats cs;
  for (int i = 0; i < 400; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    companion_get_stats(c, &cs);
    if (cs.foreign_files) break;
    usleep(5000);
  }
  companion_get_stats(c, &cs);
  assert_int_equal(cs.foreign_files, 1);
  assert_int_equal(r.calls, 0); /* not taken */
  struct stat sb;
  for (int i = 0; i < 200 && lstat(p, &sb) == 0; i++) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(5000);
  }
  assert_int_not_equal(lstat(p, &sb), 0); /* the link was removed */
  /* the real companion's reply (a regular file of this user) is taken */
  char tmp[1300];
  snprintf(tmp, sizeof tmp, "%s/out/%s.json.tmp", spool, w.id);
  snprintf(text, sizeof text, "{\"id\":\"%s\",\"ok\":true,\"result\":{\"host_id\":\"real\"}}", w.id);
  write_text(tmp, text);
  assert_int_equal(rename(tmp, p), 0);
  assert_true(run_until(&loop, res_done, &r, 3000));
  assert_int_equal(r.status, 0);
  assert_string_equal(json_string_value(json_object_get(r.result, "host_id")), "real");
  json_decref(r.result);
  close_comp(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---------------------------------------------------------------- REAPER's command id */

static json_t *reaper_section(void) {
  return json_loads("{\"trigger\":[{\"path\":\"/action/str\",\"args\":[[\"s\",\"{command_id}\"]]}],\"reply\":\"file\"}",
                    0, NULL);
}

static void ping_with_companion_json(const char *spool, const char *cj, int as_link, int *status, char *msg,
                                     size_t msglen) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  json_t *sec = reaper_section();
  char p[1100], err[2048];
  int rc;
  companion_t *c = open_comp(&loop, spool, 0, sec, 0, err, sizeof err, &rc);
  assert_int_equal(rc, 0);
  snprintf(p, sizeof p, "%s/companion.json", spool);
  unlink(p);
  if (as_link) {
    char target[1024];
    pathf(target, sizeof target, "cj-target.json");
    write_text(target, cj);
    assert_int_equal(symlink(target, p), 0);
  } else {
    write_text(p, cj);
  }
  sends = 0;
  sent_id[0] = 0;
  struct res r = {0};
  assert_int_equal(companion_ping(c, on_res, &r), 0);
  assert_true(run_until(&loop, res_done, &r, 5000));
  *status = r.status;
  snprintf(msg, msglen, "%s", r.msg);
  json_decref(r.result);
  close_comp(&loop, c);
  json_decref(sec);
  assert_int_equal(uv_loop_close(&loop), 0);
  /* nothing is left in in/ that a companion could run later */
  struct wait_cmd w = {.spool = spool};
  assert_false(cmd_there(&w));
}

static void test_companion_spool_command_id_validated(void **st) {
  (void)st;
  assert_true(companion_valid_command_id("_RS3f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708"));
  assert_false(companion_valid_command_id("1013"));  /* Transport: Record */
  assert_false(companion_valid_command_id("40026")); /* File: Save project */
  assert_false(companion_valid_command_id("_SWS_ABOUT"));
  assert_false(companion_valid_command_id("_RS"));
  assert_false(companion_valid_command_id("_RS1234/../x"));
  assert_false(companion_valid_command_id("_RS3f2a9c0d 1013"));
  char spool[1024], msg[4096];
  pathf(spool, sizeof spool, "reaper");
  int status;
  /* another REAPER action: nothing is sent */
  ping_with_companion_json(spool, "{\"host\":\"reaper\",\"version\":1,\"command_id\":\"1013\"}", 0, &status, msg,
                           sizeof msg);
  assert_int_equal(status, COMPANION_ENOTRUNNING);
  assert_int_equal(sends, 0);
  assert_non_null(strstr(msg, "not a ReaScript"));
  assert_non_null(strstr(msg, "companion.json"));
  /* a valid id, but companion.json is a link (planted): refused too */
  ping_with_companion_json(spool, "{\"command_id\":\"_RS3f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708\"}", 1, &status, msg,
                           sizeof msg);
  assert_int_equal(status, COMPANION_ENOTRUNNING);
  assert_int_equal(sends, 0);
  assert_non_null(strstr(msg, "not a regular file owned by you"));
  /* the companion's own file: the trigger goes out with its id (nobody answers here: a ping timeout) */
  ping_with_companion_json(spool, "{\"command_id\":\"_RS3f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708\"}", 0, &status, msg,
                           sizeof msg);
  assert_int_equal(status, COMPANION_ENOTRUNNING);
  assert_true(sends >= 1);
  assert_string_equal(sent_id, "_RS3f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708");
}

/* ---------------------------------------------------------------- request ids */

struct retried {
  companion_t *c;
};
static int was_retried(void *d) {
  struct companion_stats cs;
  companion_get_stats(((struct retried *)d)->c, &cs);
  return cs.retries >= 1;
}

/* A late reply to the first send is matched to its request (a retry carries the same id); a second reply for it
 * (file and OSC, or the retry's) is ignored and counted as a duplicate; a reply with an id nobody sent is ignored
 * and counted. The callback runs exactly once. */
static void test_companion_reply_late_duplicate_unknown(void **st) {
  (void)st;
  char spool[1024], p[1200];
  pathf(spool, sizeof spool, "ids");
  uv_loop_t loop;
  companion_t *c = start_comp(&loop, spool, NULL, 150);
  struct res r = {0};
  json_t *args = json_pack("{s:s,s:s}", "name", "Bass", "type", "midi");
  assert_int_equal(companion_call(c, "create_track", args, "a bass", on_res, &r), 0);
  json_decref(args);
  struct wait_cmd w = {.spool = spool};
  assert_true(run_until(&loop, cmd_there, &w, 3000));
  char first[128];
  snprintf(first, sizeof first, "%s", w.id);
  /* the companion is slow: no reply to the first attempt; the bridge sends it again under the same id */
  struct retried rt = {c};
  assert_true(run_until(&loop, was_retried, &rt, 3000));
  assert_int_equal(r.calls, 0);
  assert_true(run_until(&loop, cmd_there, &w, 3000));
  assert_string_equal(w.id, first);
  /* now the reply to the first send arrives: it answers the request */
  char text[512], tmp[1300];
  snprintf(text, sizeof text, "{\"id\":\"%s\",\"ok\":true,\"result\":{\"host_id\":\"r1\",\"name\":\"Bass\"}}", first);
  snprintf(p, sizeof p, "%s/out/%s.json", spool, first);
  snprintf(tmp, sizeof tmp, "%s.tmp", p);
  write_text(tmp, text);
  assert_int_equal(rename(tmp, p), 0);
  assert_true(run_until(&loop, res_done, &r, 3000));
  assert_int_equal(r.status, 0);
  assert_string_equal(json_string_value(json_object_get(r.result, "host_id")), "r1");
  /* the same reply again (say, by OSC as well): ignored, counted */
  companion_feed_reply(c, text);
  companion_feed_reply(c, "{\"id\":\"19990101T000000.000-1-000009\",\"ok\":true,\"result\":{}}");
  companion_feed_reply(c, "{\"ok\":true}"); /* no id: ignored */
  uv_run(&loop, UV_RUN_NOWAIT);
  struct companion_stats cs;
  companion_get_stats(c, &cs);
  assert_int_equal(cs.duplicate_replies, 1);
  assert_int_equal(cs.unknown_replies, 1);
  assert_int_equal(r.calls, 1);
  assert_int_equal(cs.sent, 1);
  json_decref(r.result);
  close_comp(&loop, c);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* An OSC reply must carry the token of the command file (only this user, and the companion reading the file, can
 * know it): a datagram with another token is ignored and counted, the right one answers the request. */
static void test_companion_reply_token_checked(void **st) {
  (void)st;
  char spool[1024], p[1200];
  pathf(spool, sizeof spool, "tokens");
  uv_loop_t loop;
  companion_t *c = start_comp(&loop, spool, NULL, 5000);
  struct res r = {0};
  assert_int_equal(companion_call(c, "read_clip", NULL, NULL, on_res, &r), 0);
  struct wait_cmd w = {.spool = spool};
  assert_true(run_until(&loop, cmd_there, &w, 3000));
  snprintf(p, sizeof p, "%s/in/%s.json", spool, w.id);
  json_t *cmd = json_load_file(p, 0, NULL);
  assert_non_null(cmd);
  const char *tok = json_string_value(json_object_get(cmd, "token"));
  assert_non_null(tok);
  assert_int_equal(strlen(tok), 32);
  char text[512];
  snprintf(text, sizeof text, "{\"id\":\"%s\",\"token\":\"%s\",\"ok\":true,\"result\":{\"host_id\":\"forged\"}}", w.id,
           "00000000000000000000000000000000");
  companion_feed_reply(c, text);
  struct companion_stats cs;
  companion_get_stats(c, &cs);
  assert_int_equal(cs.forged_replies, 1);
  assert_int_equal(r.calls, 0);
  snprintf(text, sizeof text, "{\"id\":\"%s\",\"token\":\"%s\",\"ok\":true,\"result\":{\"host_id\":\"real\"}}", w.id,
           tok);
  companion_feed_reply(c, text);
  assert_true(run_until(&loop, res_done, &r, 3000));
  assert_int_equal(r.status, 0);
  assert_string_equal(json_string_value(json_object_get(r.result, "host_id")), "real");
  char first_tok[40];
  snprintf(first_tok, sizeof first_tok, "%s", tok);
  json_decref(cmd);
  json_decref(r.result);
  /* two commands never share a token */
  struct res r2 = {0};
  assert_int_equal(companion_call(c, "read_clip", NULL, NULL, on_res, &r2), 0);
  for (int i = 0; i < 300; i++) {
    char id2[128];
    if (first_cmd(spool, id2, sizeof id2) && strcmp(id2, w.id)) {
      snprintf(p, sizeof p, "%s/in/%s.json", spool, id2);
      json_t *c2 = json_load_file(p, 0, NULL);
      if (c2) {
        assert_string_not_equal(json_string_value(json_object_get(c2, "token")), first_tok);
        json_decref(c2);
        break;
      }
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(5000);
  }
  close_comp(&loop, c);
  json_decref(r2.result);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_companion_spool_created_mode_0700, setup, teardown),
      cmocka_unit_test_setup_teardown(test_companion_spool_refuses_group_or_world_writable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_companion_spool_refuses_other_owner, setup, teardown),
      cmocka_unit_test_setup_teardown(test_companion_spool_refuses_symlinked_dirs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_companion_spool_foreign_files_removed_never_run, setup, teardown),
      cmocka_unit_test_setup_teardown(test_companion_spool_planted_reply_link_not_followed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_companion_spool_command_id_validated, setup, teardown),
      cmocka_unit_test_setup_teardown(test_companion_reply_late_duplicate_unknown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_companion_reply_token_checked, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
