/* companion: spool-directory transport to the in-DAW companion script. See companion.h and
 * osc-maps/companions/PROTOCOL.md. */
#include "companion.h"
#include "errfmt.h"
#include "utctime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MOD "companion"
#define TICK_MS 50
#define GRACE_MS 300              /* a reply that arrives this late after the last attempt is still taken */
#define ABSENT_MARK "ping.absent" /* in the spool: the last ping got no answer (and when) */
#define ABSENT_PING_MS 400
#define ABSENT_MEMORY_S (24 * 3600) /* an older mark is ignored */

struct cmd {
  struct cmd *next;
  char id[80];
  char token[33]; /* a random secret in the command file (readable by this user only): an OSC reply that
                          carries a token must carry this one */
  char op[32];
  char *text; /* the command file's content */
  companion_cb cb;
  void *data;
  int is_ping;
  int attempts, max_attempts;
  int attempt_ms;
  uint64_t t0, attempt_end; /* uv_now() */
  int written;              /* the command file is in place (this attempt) */
  int timed_out;            /* ended because no reply came in time */
  int reading;              /* a read of out/<id>.json is in flight */
};

struct companion {
  uv_loop_t *loop;
  struct companion_config cfg;
  char spool[1024], in[1100], out[1100];
  char host[16];
  uv_fs_event_t watch;
  uv_timer_t tick;
  int watching;
  struct cmd *head;
  unsigned counter;
  uint64_t last_poll;
  char command_id[128];
  char bad_command_id[1400];   /* why companion.json was refused ("" = it was not) */
  uid_t owner;                 /* who must own the spool and every file read from it */
  int spool_fd, in_fd, out_fd; /* the checked directories, open for the companion's life */
  char done_ids[32][80];       /* ids answered lately: a second reply for one of them is a duplicate */
  int done_head;
  int absent_hint; /* ping.absent in the spool: a ping here got no answer lately (see companion_ping) */
  json_t *info;
  int running;
  char why[1024];
  struct companion_stats st;
  int inflight; /* uv_fs jobs still running */
  int closing, handles_open;
  void (*close_cb)(void *);
  void *close_data;
};

static void close_fds(companion_t *c) {
  if (c->spool_fd >= 0) close(c->spool_fd);
  if (c->in_fd >= 0) close(c->in_fd);
  if (c->out_fd >= 0) close(c->out_fd);
  c->spool_fd = c->in_fd = c->out_fd = -1;
}

const char *companion_strerror(int code) {
  switch (code) {
  case COMPANION_OK: return "ok";
  case COMPANION_EINVAL: return "invalid arguments";
  case COMPANION_ESPOOL: return "spool directory unusable";
  case COMPANION_ENOTRUNNING: return "the companion is not running";
  case COMPANION_ETIMEDOUT: return "the companion did not answer";
  case COMPANION_EREJECTED: return "the companion refused";
  case COMPANION_ECANCELED: return "canceled";
  case COMPANION_ETRIGGER: return "cannot trigger the companion";
  case COMPANION_ENOMEM: return "out of memory";
  case COMPANION_EEXPIRED: return "the companion read the command after its deadline and did not run it";
  default: return "unknown companion error";
  }
}

const char *companion_install_hint(const char *host) {
  if (host && !strcmp(host, "ardour"))
    return "with Ardour closed, run osc-maps/companions/ardour/install-gui-hook.sh (Ardour GUI), or run "
           "`luasession osc-maps/companions/ardour/dawbridge.lua SESSION` (headless), with DAWBRIDGE_SPOOL set to "
           "the spool above in Ardour's environment (or the path in ~/.config/dawbridge/spool); details in "
           "osc-maps/companions/README.md";
  return "copy osc-maps/companions/reaper/dawbridge.lua into REAPER's Scripts folder, add it with Actions > Show "
         "action list > New action > Load ReaScript, run it once (it writes companion.json into the spool above), and "
         "enable OSC (Preferences > Control/OSC/web: device port 9000, local listen port 8000); details in "
         "osc-maps/companions/README.md";
}

int companion_default_spool(char *buf, size_t len) {
  const char *e = getenv("DAWBRIDGE_SPOOL");
  if (e && *e) return snprintf(buf, len, "%s", e) >= (int)len ? -1 : 0;
  const char *home = getenv("HOME");
  if (home && *home) {
    char p[1024];
    snprintf(p, sizeof p, "%s/.config/dawbridge/spool", home);
    FILE *f = fopen(p, "r");
    if (f) {
      char line[1024] = "";
      char *got = fgets(line, sizeof line, f);
      fclose(f);
      if (got) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) return snprintf(buf, len, "%s", line) >= (int)len ? -1 : 0;
      }
    }
  }
  const char *x = getenv("XDG_RUNTIME_DIR");
  if (x && *x) return snprintf(buf, len, "%s/dawbridge/spool", x) >= (int)len ? -1 : 0;
  return snprintf(buf, len, "/tmp/dawbridge-%u/spool", (unsigned)getuid()) >= (int)len ? -1 : 0;
}

/* ---------------- the spool's security (README: "The companion spool is yours alone") ----------------
 *
 * The spool carries commands that the DAW executes, so nobody but this user may be able to write into it or
 * swap any directory on the way to it:
 * - every directory on the path is owned by this user or root, and writable by group/others only when sticky
 *   (like /tmp); a symbolic link on the path must be owned by this user or root too (nobody else can re-point it);
 * - the spool and its in/ and out/ are owned by this user and not writable by group/others (created 0700);
 *   in/ and out/ must be real directories, never symbolic links;
 * - files are opened with O_NOFOLLOW and checked after opening (a regular file owned by this user), so a link
 *   or a file planted by someone else is never read or written through. */

/* Directories and links on the way to the spool: this user's or root's (the real user's too when a test plays
 * another owner with owner_uid). */
static int is_trusted_owner(const companion_t *c, uid_t uid) { return uid == c->owner || uid == 0 || uid == geteuid(); }

/* One existing directory on the way to the spool (or the spool's parent chain). */
static int check_ancestor(const companion_t *c, const char *p, char *err, size_t errlen) {
  struct stat ls, st;
  if (lstat(p, &ls) != 0)
    return errfmt(err, errlen, COMPANION_ESPOOL, "companion spool: cannot inspect %s: %s", p, strerror(errno));
  if (S_ISLNK(ls.st_mode) && !is_trusted_owner(c, ls.st_uid))
    return errfmt(
        err, errlen, COMPANION_ESPOOL,
        "companion spool refused: %s is a symbolic link owned by uid %u, not by you (uid %u) or root; another "
        "user could point it anywhere. Remove it, or choose another spool with --spool or DAWBRIDGE_SPOOL",
        p, (unsigned)ls.st_uid, (unsigned)c->owner);
  if (stat(p, &st) != 0)
    return errfmt(err, errlen, COMPANION_ESPOOL, "companion spool: cannot inspect %s: %s", p, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return errfmt(err, errlen, COMPANION_ESPOOL, "companion spool refused: %s is not a directory", p);
  if (!is_trusted_owner(c, st.st_uid))
    return errfmt(
        err, errlen, COMPANION_ESPOOL,
        "companion spool refused: %s is owned by uid %u, not by you (uid %u) or root; another user could "
        "replace the spool and plant commands the DAW runs. Remove it, or choose another spool with --spool or "
        "DAWBRIDGE_SPOOL",
        p, (unsigned)st.st_uid, (unsigned)c->owner);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
    return errfmt(err, errlen, COMPANION_ESPOOL,
                  "companion spool refused: %s is writable by group or others (mode %03o) and not sticky; another user "
                  "could replace the spool. Run `chmod go-w %s`, or choose another spool with --spool",
                  p, (unsigned)(st.st_mode & 07777), p);
  return 0;
}

/* The spool itself and its in/, out/: opened (O_DIRECTORY, O_NOFOLLOW unless `follow`), owned by this user, not
 * writable by group/others. Returns the directory fd or < 0 with a message. */
static int open_private_dir(const companion_t *c, int at, const char *name, const char *shown, int follow, char *err,
                            size_t errlen) {
  int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0) {
    int e = errno;
    struct stat ls;
    if ((e == ELOOP || e == ENOTDIR) && fstatat(at, name, &ls, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(ls.st_mode))
      return errfmt(err, errlen, COMPANION_ESPOOL,
                    "companion spool refused: %s is a symbolic link; the spool's in/ and out/ must be real directories "
                    "(someone may have planted it). Remove it and start again",
                    shown);
    return errfmt(err, errlen, COMPANION_ESPOOL, "companion spool: cannot open %s: %s", shown, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return errfmt(err, errlen, COMPANION_ESPOOL, "companion spool: cannot inspect %s: %s", shown, strerror(e));
  }
  if (st.st_uid != c->owner) {
    close(fd);
    return errfmt(err, errlen, COMPANION_ESPOOL,
                  "companion spool refused: %s is owned by uid %u, not by you (uid %u); another user could plant "
                  "commands the DAW runs. Remove it (it is recreated, mode 0700), or choose another spool with --spool "
                  "or DAWBRIDGE_SPOOL",
                  shown, (unsigned)st.st_uid, (unsigned)c->owner);
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    close(fd);
    return errfmt(err, errlen, COMPANION_ESPOOL,
                  "companion spool refused: %s is writable by group or others (mode %03o); another user could plant "
                  "commands the DAW runs. Run `chmod 700 %s` (or remove it), or choose another spool with --spool",
                  shown, (unsigned)(st.st_mode & 07777), shown);
  }
  return fd;
}

/* Creates what is missing (mode 0700) and checks the whole path; on success c->spool_fd, in_fd, out_fd are open. */
static int spool_secure(companion_t *c, char *err, size_t errlen) {
  if (c->spool[0] != '/') {
    /* relative to the working directory, checked like any other path */
    char cwd[512], rel[1024];
    snprintf(rel, sizeof rel, "%s", c->spool);
    if (!getcwd(cwd, sizeof cwd) || snprintf(c->spool, sizeof c->spool, "%s/%s", cwd, rel) >= (int)sizeof c->spool)
      return errfmt(err, errlen, COMPANION_ESPOOL, "companion spool %s: cannot make the path absolute", rel);
    snprintf(c->in, sizeof c->in, "%s/in", c->spool);
    snprintf(c->out, sizeof c->out, "%s/out", c->spool);
  }
  char p[1100];
  snprintf(p, sizeof p, "%s", c->spool);
  size_t n = strlen(p);
  while (n > 1 && p[n - 1] == '/') p[--n] = 0;
  /* every ancestor: created when missing (0700), then checked */
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
      int e = errno;
      return errfmt(err, errlen, COMPANION_ESPOOL, "cannot create the companion spool's directory %s: %s", p,
                    strerror(e));
    }
    int rc = check_ancestor(c, p, err, errlen);
    if (rc) return rc;
    *s = '/';
  }
  if (mkdir(p, 0700) != 0 && errno != EEXIST) {
    int e = errno;
    return errfmt(err, errlen, COMPANION_ESPOOL, "cannot create the companion spool %s: %s", p, strerror(e));
  }
  /* the spool itself may be a link the user made (owned by them or root, in a directory checked above) */
  struct stat ls;
  if (lstat(p, &ls) == 0 && S_ISLNK(ls.st_mode) && !is_trusted_owner(c, ls.st_uid))
    return errfmt(err, errlen, COMPANION_ESPOOL,
                  "companion spool refused: %s is a symbolic link owned by uid %u, not by you (uid %u) or root. Remove "
                  "it, or choose another spool with --spool or DAWBRIDGE_SPOOL",
                  p, (unsigned)ls.st_uid, (unsigned)c->owner);
  c->spool_fd = open_private_dir(c, AT_FDCWD, p, p, 1, err, errlen);
  if (c->spool_fd < 0) return c->spool_fd;
  const char *names[2] = {"in", "out"};
  int *fds[2] = {&c->in_fd, &c->out_fd};
  for (int i = 0; i < 2; i++) {
    char shown[1200];
    snprintf(shown, sizeof shown, "%s/%s", p, names[i]);
    if (mkdirat(c->spool_fd, names[i], 0700) != 0 && errno != EEXIST) {
      int e = errno;
      return errfmt(err, errlen, COMPANION_ESPOOL, "cannot create the companion spool's %s: %s", shown, strerror(e));
    }
    *fds[i] = open_private_dir(c, c->spool_fd, names[i], shown, 0, err, errlen);
    if (*fds[i] < 0) return *fds[i];
  }
  return 0;
}

/* A command id as the REAPER companion publishes it: REAPER's named command id of a ReaScript, "_RS" and
 * letters/digits (REAPER: 40 hex digits). Anything else (a numeric action, "_SWS_...", text with separators) is
 * refused, so a planted companion.json cannot make the bridge run another action. */
int companion_valid_command_id(const char *id) {
  if (!id || strncmp(id, "_RS", 3)) return 0;
  size_t n = strlen(id + 3);
  if (n < 8 || n > 100) return 0;
  for (const char *s = id + 3; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9'))) return 0;
  return 1;
}

static int64_t unix_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_json_name(const char *n, size_t *idlen) {
  size_t l = strlen(n);
  if (l <= 5 || l > 64 + 5 || strcmp(n + l - 5, ".json")) return 0;
  for (size_t i = 0; i < l - 5; i++) {
    char ch = n[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
          ch == '-'))
      return 0;
  }
  if (idlen) *idlen = l - 5;
  return 1;
}

/* ---------------- asynchronous file jobs (uv_fs) ---------------- */

enum job_kind { JOB_WRITE, JOB_READ, JOB_UNLINK, JOB_APPEND };

struct job {
  uv_fs_t req;
  companion_t *c;
  enum job_kind kind;
  int step;
  uv_file fd;
  int err;     /* first libuv error */
  int foreign; /* a read refused: not a regular file owned by this user (planted) */
  char path[1200], path2[1200];
  char *buf;
  size_t len;
  char id[80];
  void (*done)(struct job *j);
};

static void job_next(uv_fs_t *req);

/* The last handle closed and the last file job ended after companion_close(): frees c, then calls the close
 * callback. */
static void closed_free(companion_t *c) {
  void (*cb)(void *) = c->close_cb;
  void *d = c->close_data;
  json_decref(c->info);
  close_fds(c);
  free(c);
  if (cb) cb(d);
}

static void job_finish(struct job *j) {
  companion_t *c = j->c;
  if (j->done) j->done(j);
  free(j->buf);
  free(j);
  c->inflight--;
  if (c->closing && !c->inflight && !c->handles_open) closed_free(c);
}

static struct job *job_new(companion_t *c, enum job_kind k, const char *path, const char *id) {
  struct job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->c = c;
  j->kind = k;
  j->fd = -1;
  j->req.data = j;
  snprintf(j->path, sizeof j->path, "%s", path);
  snprintf(j->id, sizeof j->id, "%s", id ? id : "");
  c->inflight++;
  return j;
}

/* close the fd (if any) and finish */
static void job_close_then_finish(struct job *j) {
  if (j->fd >= 0) {
    uv_file fd = j->fd;
    j->fd = -1;
    j->step = 100;
    uv_fs_close(j->c->loop, &j->req, fd, job_next);
    return;
  }
  job_finish(j);
}

static void job_next(uv_fs_t *req) {
  struct job *j = req->data;
  ssize_t r = req->result;
  uv_fs_req_cleanup(req);
  if (j->step == 100) { /* closing after an error or the end of a read */
    job_finish(j);
    return;
  }
  if (r < 0) {
    if (!j->err) j->err = (int)r;
    job_close_then_finish(j);
    return;
  }
  uv_loop_t *loop = j->c->loop;
  if (j->kind == JOB_UNLINK) {
    job_finish(j);
    return;
  }
  if (j->kind == JOB_APPEND) { /* (comp helper) the doorbell: open, one write, close */
    if (j->step++ == 0) {
      j->fd = (uv_file)r;
      uv_buf_t b = uv_buf_init(j->buf, (unsigned)j->len);
      uv_fs_write(loop, req, j->fd, &b, 1, -1, job_next);
      return;
    }
    job_close_then_finish(j);
    return;
  }
  if (j->kind == JOB_WRITE) {
    switch (j->step++) {
    case 0: { /* opened */
      j->fd = (uv_file)r;
      uv_buf_t b = uv_buf_init(j->buf, (unsigned)j->len);
      uv_fs_write(loop, req, j->fd, &b, 1, 0, job_next);
      return;
    }
    case 1:
      if ((size_t)r != j->len) {
        j->err = UV_EIO;
        job_close_then_finish(j);
        return;
      }
      /* no fsync: a command lives for seconds and carries its deadline; the rename alone makes it appear whole
       * (an fsync per command cost milliseconds of every round trip) */
      j->step++;
      /* fall through */
    case 2: {
      uv_file fd = j->fd;
      j->fd = -1;
      uv_fs_close(loop, req, fd, job_next);
      return;
    }
    case 3: uv_fs_rename(loop, req, j->path2, j->path, job_next); return; /* tmp -> final */
    default: job_finish(j); return;
    }
  }
  /* JOB_READ */
  switch (j->step++) {
  case 0:
    j->fd = (uv_file)r;
    uv_fs_fstat(loop, req, j->fd, job_next);
    return;
  case 1: {
    if ((req->statbuf.st_mode & S_IFMT) != S_IFREG || req->statbuf.st_uid != (uint64_t)j->c->owner) {
      j->foreign = 1; /* never read what another user (or a link, a pipe) put there */
      j->err = UV_EPERM;
      job_close_then_finish(j);
      return;
    }
    size_t size = (size_t)req->statbuf.st_size;
    if (size > 16u << 20) {
      j->err = UV_E2BIG;
      job_close_then_finish(j);
      return;
    }
    j->buf = malloc(size + 1);
    if (!j->buf) {
      j->err = UV_ENOMEM;
      job_close_then_finish(j);
      return;
    }
    j->len = 0;
    uv_buf_t b = uv_buf_init(j->buf, (unsigned)size);
    j->buf[size] = 0;
    if (!size) {
      job_close_then_finish(j);
      return;
    }
    uv_fs_read(loop, req, j->fd, &b, 1, 0, job_next);
    return;
  }
  default:
    j->len = (size_t)r;
    j->buf[j->len] = 0;
    job_close_then_finish(j);
    return;
  }
}

static int job_write(companion_t *c, const char *dst, const char *text, const char *id, void (*done)(struct job *)) {
  struct job *j = job_new(c, JOB_WRITE, dst, id);
  if (!j) return COMPANION_ENOMEM;
  if (snprintf(j->path2, sizeof j->path2, "%s.tmp", dst) >= (int)sizeof j->path2) {
    free(j);
    c->inflight--;
    return COMPANION_EINVAL; /* a spool path this long cannot be written atomically */
  }
  j->len = strlen(text);
  j->buf = malloc(j->len + 1);
  if (!j->buf) {
    free(j);
    c->inflight--;
    return COMPANION_ENOMEM;
  }
  memcpy(j->buf, text, j->len + 1);
  j->done = done;
  int rc =
      uv_fs_open(c->loop, &j->req, j->path2, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600, job_next);
  if (rc) {
    j->err = rc;
    job_finish(j);
  }
  return COMPANION_OK;
}

static void job_read(companion_t *c, const char *path, const char *id, void (*done)(struct job *)) {
  struct job *j = job_new(c, JOB_READ, path, id);
  if (!j) return;
  j->done = done;
  int rc = uv_fs_open(c->loop, &j->req, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0, job_next);
  if (rc) {
    j->err = rc;
    job_finish(j);
  }
}

/* (comp helper) Rings the companion's doorbell: appends "<id>\n" to <spool>/in/.queue (O_APPEND: one write, so
 * concurrent bridges do not interleave). A polling companion (Ardour) takes that file with one rename(2) instead
 * of listing the directory with a process on every poll (osc-maps/companions/PROTOCOL.md, "Doorbell"). */
static void job_ring(companion_t *c, const char *id) {
  char p[1200];
  if (snprintf(p, sizeof p, "%s/.queue", c->in) >= (int)sizeof p) return;
  struct job *j = job_new(c, JOB_APPEND, p, id);
  if (!j) return;
  j->len = strlen(id) + 1;
  j->buf = malloc(j->len + 1);
  if (!j->buf) {
    job_finish(j);
    return;
  }
  snprintf(j->buf, j->len + 1, "%s\n", id);
  int rc = uv_fs_open(c->loop, &j->req, p, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600, job_next);
  if (rc) job_finish(j);
}

static void job_unlink(companion_t *c, const char *path) {
  struct job *j = job_new(c, JOB_UNLINK, path, NULL);
  if (!j) return;
  int rc = uv_fs_unlink(c->loop, &j->req, path, job_next);
  if (rc) job_finish(j);
}

/* ---------------- commands ---------------- */

static struct cmd *find_cmd(companion_t *c, const char *id) {
  for (struct cmd *k = c->head; k; k = k->next)
    if (!strcmp(k->id, id)) return k;
  return NULL;
}

static void unlink_cmd(companion_t *c, struct cmd *k) {
  for (struct cmd **pp = &c->head; *pp; pp = &(*pp)->next) {
    if (*pp == k) {
      *pp = k->next;
      return;
    }
  }
}

static void cmd_free(struct cmd *k) {
  free(k->text);
  free(k);
}

static void path_of(const companion_t *c, const char *dir, const char *id, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s.json", dir, id);
}

/* The message is for the user: one longer than buf is cut, ending in "..." (never a silently clipped path). */
static void not_running_msg(companion_t *c, const char *detail, char *buf, size_t len) {
  int n = snprintf(buf, len, "companion not running in %s (%s; spool %s) - install it like this: %s",
                   !strcmp(c->host, "ardour") ? "Ardour" : "REAPER", detail, c->spool, companion_install_hint(c->host));
  if (n >= 0 && (size_t)n >= len && len > 4) memcpy(buf + len - 4, "...", 4);
}

/* Ends a command: removed from the list first, so the callback may queue new ones. */
static void cmd_end(companion_t *c, struct cmd *k, int status, const json_t *result, const char *msg) {
  unlink_cmd(c, k);
  snprintf(c->done_ids[c->done_head], sizeof c->done_ids[0], "%s", k->id);
  c->done_head = (c->done_head + 1) % (int)(sizeof c->done_ids / sizeof c->done_ids[0]);
  if (status == COMPANION_ETIMEDOUT || status == COMPANION_ECANCELED || status == COMPANION_ETRIGGER ||
      status == COMPANION_ENOTRUNNING) {
    /* never leave a command behind that could run later (its deadline protects it too) */
    char p[1200];
    path_of(c, c->in, k->id, p, sizeof p);
    job_unlink(c, p);
  }
  if (k->is_ping) {
    char mark[1200];
    snprintf(mark, sizeof mark, "%s/" ABSENT_MARK, c->spool);
    if (!status) {
      c->running = 1;
      c->why[0] = 0;
      json_decref(c->info);
      c->info = json_deep_copy(result);
      if (c->absent_hint) job_unlink(c, mark);
      c->absent_hint = 0;
    } else if (status != COMPANION_ECANCELED) {
      c->running = 0;
      snprintf(c->why, sizeof c->why, "%s", msg ? msg : "companion not running");
      if (k->timed_out && !c->closing) {
        /* remembered for the next process on this spool: its ping waits one short attempt, not the full timeout */
        char t[64];
        snprintf(t, sizeof t, "{\"unanswered_ping_ms\":%lld}\n", (long long)unix_ms());
        job_write(c, mark, t, "", NULL);
        c->absent_hint = 1;
      }
    }
  } else if (status == COMPANION_ETIMEDOUT) {
    c->running = 0;
    snprintf(c->why, sizeof c->why, "the companion stopped answering (%s)", msg ? msg : "timeout");
  }
  log_msg(&c->cfg.log, status ? LOG_INFO : LOG_DEBUG, MOD, "%s %s -> %s", k->id, k->op,
          status ? (msg ? msg : companion_strerror(status)) : "ok");
  if (k->cb) k->cb(status, result, msg, k->data);
  cmd_free(k);
}

static void on_tick(uv_timer_t *t);

static void tick_start(companion_t *c) {
  if (!c->closing && !uv_is_active((uv_handle_t *)&c->tick)) uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
}

static void trigger(companion_t *c, struct cmd *k) {
  const json_t *tpl = json_object_get(c->cfg.section, "trigger");
  if (!json_array_size(tpl) || !c->cfg.send) return;
  char err[1500] = "";
  int rc;
  if (!c->command_id[0]) {
    /* nothing is sent without a valid id from a companion.json of this user */
    snprintf(err, sizeof err, "%s",
             c->bad_command_id[0] ? c->bad_command_id : "no command id: companion.json is missing in the spool");
    rc = -1;
  } else {
    json_t *vars = json_object();
    json_object_set_new(vars, "command_id", json_string(c->command_id));
    rc = c->cfg.send(tpl, vars, c->cfg.send_data, err, sizeof err);
    json_decref(vars);
  }
  if (rc) {
    char msg[2400];
    if (k->is_ping) {
      char detail[1600];
      snprintf(detail, sizeof detail, "cannot trigger it: %s", err);
      not_running_msg(c, detail, msg, sizeof msg);
      cmd_end(c, k, COMPANION_ENOTRUNNING, NULL, msg);
    } else {
      snprintf(msg, sizeof msg, "cannot trigger the companion: %s", err);
      cmd_end(c, k, COMPANION_ETRIGGER, NULL, msg);
    }
  }
}

static void on_written(struct job *j) {
  companion_t *c = j->c;
  struct cmd *k = find_cmd(c, j->id);
  if (!k || c->closing) return;
  if (j->err) {
    char msg[1400];
    snprintf(msg, sizeof msg, "cannot write the command file %s: %s", j->path, uv_strerror(j->err));
    cmd_end(c, k, COMPANION_ESPOOL, NULL, msg);
    return;
  }
  k->written = 1;
  job_ring(c, k->id);
  trigger(c, k);
}

static void attempt(companion_t *c, struct cmd *k) {
  k->attempts++;
  k->written = 0;
  c->st.attempts++;
  if (k->attempts > 1) c->st.retries++;
  k->attempt_end =
      uv_now(c->loop) + (uint64_t)k->attempt_ms + (k->attempts == k->max_attempts && !k->is_ping ? GRACE_MS : 0);
  char p[1200];
  path_of(c, c->in, k->id, p, sizeof p);
  log_msg(&c->cfg.log, LOG_DEBUG, MOD, "-> %s %s (attempt %d/%d)", k->id, k->op, k->attempts, k->max_attempts);
  if (job_write(c, p, k->text, k->id, on_written)) {
    cmd_end(c, k, COMPANION_ENOMEM, NULL, "out of memory");
    return;
  }
  tick_start(c);
}

/* 128 random bits as hex. The command file is readable only by this user, so only the companion that read it can
 * echo the token; a datagram with another token is not the companion's. */
static void make_token(char out[33]) {
  unsigned char r[16];
  size_t got = 0;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, r, sizeof r);
    got = n > 0 ? (size_t)n : 0;
    close(fd);
  }
  if (got < sizeof r) { /* no /dev/urandom: time and address bits (weaker, still unguessable from outside) */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec * 6364136223846793005ull ^ (uint64_t)(uintptr_t)out ^ (uint64_t)getpid();
    for (size_t i = 0; i < sizeof r; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      r[i] = (unsigned char)x;
    }
  }
  for (size_t i = 0; i < sizeof r; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
}

static void handle_reply_text(companion_t *c, const char *text, int via_osc) {
  json_error_t je;
  json_t *r = json_loads(text, 0, &je);
  const char *id = json_string_value(json_object_get(r, "id"));
  if (!json_is_object(r) || !id) {
    log_msg(&c->cfg.log, LOG_WARN, MOD, "ignored a malformed companion reply: %s", r ? "no id" : je.text);
    json_decref(r);
    return;
  }
  struct cmd *k = find_cmd(c, id);
  if (!k) {
    int dup = 0;
    for (size_t i = 0; i < sizeof c->done_ids / sizeof c->done_ids[0]; i++) dup |= !strcmp(c->done_ids[i], id);
    if (dup)
      c->st.duplicate_replies++;
    else
      c->st.unknown_replies++;
    log_msg(&c->cfg.log, dup ? LOG_DEBUG : LOG_INFO, MOD, "ignored a reply for %.80s: %s", id,
            dup ? "that command was answered already (a duplicate)" : "this bridge sent no such command now");
    json_decref(r);
    return;
  }
  const char *tok = json_string_value(json_object_get(r, "token"));
  if (via_osc && tok && strcmp(tok, k->token)) {
    /* not the companion that read the command (the file is this user's alone): ignored, counted */
    c->st.forged_replies++;
    log_msg(&c->cfg.log, LOG_WARN, MOD, "ignored an OSC reply for %.80s with a wrong token (not from the companion)",
            id);
    json_decref(r);
    return;
  }
  if (via_osc)
    c->st.replies_osc++;
  else
    c->st.replies_file++;
  char p[1200];
  path_of(c, c->out, id, p, sizeof p);
  job_unlink(c, p); /* the reply file, whichever way the reply came */
  if (json_is_true(json_object_get(r, "ok"))) {
    json_t *res = json_object_get(r, "result");
    json_t *empty = NULL;
    if (!json_is_object(res)) res = empty = json_object();
    cmd_end(c, k, COMPANION_OK, res, NULL);
    json_decref(empty);
  } else {
    const char *e = json_string_value(json_object_get(r, "error"));
    char msg[1200];
    if (e && !strncmp(e, "expired:", 8)) {
      snprintf(msg, sizeof msg, "%s: the companion read the command too late and did not run it (%s)", k->op, e);
      cmd_end(c, k, COMPANION_EEXPIRED, NULL, msg);
    } else {
      snprintf(msg, sizeof msg, "%s: the companion refused: %s", k->op, e ? e : "(no error message)");
      cmd_end(c, k, COMPANION_EREJECTED, NULL, msg);
    }
  }
  json_decref(r);
}

void companion_feed_reply(companion_t *c, const char *json_text) {
  if (!c || c->closing || !json_text) return;
  handle_reply_text(c, json_text, 1);
}

static void on_reply_read(struct job *j) {
  companion_t *c = j->c;
  struct cmd *k = find_cmd(c, j->id);
  if (k) k->reading = 0;
  if (c->closing) return;
  if (j->foreign || j->err == UV_ELOOP) {
    /* a link, a pipe or another user's file where the companion's reply should be: never read, removed */
    c->st.foreign_files++;
    log_msg(&c->cfg.log, LOG_WARN, MOD, "refused %s: not a regular file written by you (uid %u); removed", j->path,
            (unsigned)c->owner);
    job_unlink(c, j->path);
    return;
  }
  if (j->err) return; /* not there (yet): ENOENT is the normal case of a poll */
  if (!k) {
    job_unlink(c, j->path); /* a late or foreign reply: answered already */
    return;
  }
  handle_reply_text(c, j->buf ? j->buf : "", 0);
}

static void read_reply(companion_t *c, const char *id) {
  struct cmd *k = find_cmd(c, id);
  if (k && k->reading) return;
  if (k) k->reading = 1;
  char p[1200];
  path_of(c, c->out, id, p, sizeof p);
  job_read(c, p, id, on_reply_read);
}

static void on_out_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  companion_t *c = h->data;
  if (c->closing) return;
  if (status < 0) {
    log_msg(&c->cfg.log, LOG_WARN, MOD, "watching %s: %s (the poll goes on)", c->out, uv_strerror(status));
    return;
  }
  size_t idlen;
  if (!filename || !is_json_name(filename, &idlen)) {
    if (!filename) c->last_poll = 0; /* no name: poll at the next tick */
    return;
  }
  char id[80];
  snprintf(id, sizeof id, "%.*s", (int)idlen, filename);
  if (find_cmd(c, id)) {
    read_reply(c, id);
  } else if (events & UV_RENAME) {
    /* a reply of ours that came late (already answered by OSC, or given up): remove it */
    char mine[32], p[1200];
    snprintf(mine, sizeof mine, "-%d-", (int)getpid());
    if (strstr(id, mine)) {
      path_of(c, c->out, id, p, sizeof p);
      job_unlink(c, p);
    }
  }
}

static void on_tick(uv_timer_t *t) {
  companion_t *c = t->data;
  if (c->closing) return;
  if (!c->head) {
    uv_timer_stop(t);
    return;
  }
  uint64_t now = uv_now(c->loop);
  int poll = now - c->last_poll >= (uint64_t)c->cfg.poll_ms;
  if (poll) c->last_poll = now;
  /* collect first: ending a command runs its callback, which may change the list */
  char ids[64][80];
  int n = 0;
  for (struct cmd *k = c->head; k && n < 64; k = k->next) snprintf(ids[n++], sizeof ids[0], "%s", k->id);
  for (int i = 0; i < n; i++) {
    struct cmd *k = find_cmd(c, ids[i]);
    if (!k) continue;
    if (now >= k->attempt_end) {
      if (k->attempts < k->max_attempts) {
        log_msg(&c->cfg.log, LOG_INFO, MOD, "%s %s: no reply within %d ms, sending it again (same id)", k->id, k->op,
                k->attempt_ms);
        attempt(c, k);
      } else if (k->is_ping) {
        char msg[1600], detail[200];
        snprintf(detail, sizeof detail, "no answer to ping within %d ms x %d", k->attempt_ms, k->max_attempts);
        not_running_msg(c, detail, msg, sizeof msg);
        c->st.timeouts++;
        k->timed_out = 1;
        cmd_end(c, k, COMPANION_ENOTRUNNING, NULL, msg);
      } else {
        char msg[1400];
        snprintf(msg, sizeof msg, "%s: no reply from the companion after %d attempts (%d ms each; spool %s)", k->op,
                 k->attempts, k->attempt_ms, c->spool);
        c->st.timeouts++;
        cmd_end(c, k, COMPANION_ETIMEDOUT, NULL, msg);
      }
      continue;
    }
    if (poll && k->written) read_reply(c, k->id);
  }
}

static int start_cmd(companion_t *c, const char *op, const json_t *args, const char *request, int is_ping,
                     companion_cb cb, void *data) {
  if (c->closing) return COMPANION_ECANCELED;
  if (!op || !*op) return COMPANION_EINVAL;
  struct cmd *k = calloc(1, sizeof *k);
  if (!k) return COMPANION_ENOMEM;
  char tb[32];
  utc_now_ms(tb, sizeof tb, "%Y%m%dT%H%M%S");
  snprintf(k->id, sizeof k->id, "%s-%d-%06u", tb, (int)getpid(), ++c->counter);
  snprintf(k->op, sizeof k->op, "%s", op);
  k->cb = cb;
  k->data = data;
  k->is_ping = is_ping;
  k->attempt_ms = is_ping ? c->cfg.ping_timeout_ms : c->cfg.timeout_ms;
  k->max_attempts = is_ping ? 2 : 1 + c->cfg.retries;
  if (is_ping && c->absent_hint) {
    /* it did not answer lately: one short attempt (an idle companion answers within its poll period, 50-100 ms) */
    k->max_attempts = 1;
    if (k->attempt_ms > ABSENT_PING_MS) k->attempt_ms = ABSENT_PING_MS;
  }
  k->t0 = uv_now(c->loop);
  int64_t deadline = unix_ms() + (int64_t)k->attempt_ms * k->max_attempts;
  json_t *j =
      json_pack("{s:s,s:s,s:I,s:s?}", "id", k->id, "op", op, "deadline_ms", (json_int_t)deadline, "request", request);
  if (!j) {
    free(k);
    return COMPANION_ENOMEM;
  }
  json_object_set_new(j, "args", args ? json_deep_copy(args) : json_object());
  if (c->cfg.reply_port > 0) json_object_set_new(j, "reply_port", json_integer(c->cfg.reply_port));
  make_token(k->token);
  json_object_set_new(j, "token", json_string(k->token));
  k->text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(j);
  if (!k->text) {
    free(k);
    return COMPANION_ENOMEM;
  }
  /* append: commands are written in the order they were asked for */
  struct cmd **pp = &c->head;
  while (*pp) pp = &(*pp)->next;
  *pp = k;
  c->st.sent++;
  attempt(c, k);
  return COMPANION_OK;
}

int companion_call(companion_t *c, const char *op, const json_t *args, const char *request, companion_cb cb,
                   void *data) {
  if (!c) return COMPANION_EINVAL;
  return start_cmd(c, op, args, request, 0, cb, data);
}

struct ping_ctx {
  companion_cb cb;
  void *data;
};

static void on_companion_json(struct job *j) {
  companion_t *c = j->c;
  struct ping_ctx ctx;
  memcpy(&ctx, j->path2, sizeof ctx); /* stashed by companion_ping */
  if (c->closing) {
    if (ctx.cb) ctx.cb(COMPANION_ECANCELED, NULL, "closed", ctx.data);
    return;
  }
  c->command_id[0] = 0;
  c->bad_command_id[0] = 0;
  if (j->foreign || j->err == UV_ELOOP) {
    c->st.foreign_files++;
    snprintf(c->bad_command_id, sizeof c->bad_command_id,
             "%s is not a regular file owned by you (uid %u): refused, nothing is triggered from it", j->path,
             (unsigned)c->owner);
    log_msg(&c->cfg.log, LOG_WARN, MOD, "%s", c->bad_command_id);
  } else if (!j->err && j->buf) {
    json_t *cj = json_loads(j->buf, 0, NULL);
    const char *id = json_string_value(json_object_get(cj, "command_id"));
    if (id && companion_valid_command_id(id)) {
      snprintf(c->command_id, sizeof c->command_id, "%s", id);
    } else if (id) {
      snprintf(c->bad_command_id, sizeof c->bad_command_id,
               "%s names the command id \"%.60s\", which is not a ReaScript's id (_RS and letters/digits): refused, "
               "nothing is triggered",
               j->path, id);
      log_msg(&c->cfg.log, LOG_WARN, MOD, "%s", c->bad_command_id);
    }
    json_decref(cj);
  }
  int rc = start_cmd(c, "ping", NULL, NULL, 1, ctx.cb, ctx.data);
  if (rc && ctx.cb) ctx.cb(rc, NULL, companion_strerror(rc), ctx.data);
}

int companion_ping(companion_t *c, companion_cb cb, void *data) {
  if (!c) return COMPANION_EINVAL;
  if (c->closing) return COMPANION_ECANCELED;
  const json_t *tpl = json_object_get(c->cfg.section, "trigger");
  if (!json_array_size(tpl)) return start_cmd(c, "ping", NULL, NULL, 1, cb, data);
  /* a triggered companion (REAPER): its command id is in companion.json, written when it was installed */
  char p[1200];
  snprintf(p, sizeof p, "%s/companion.json", c->spool);
  struct job *j = job_new(c, JOB_READ, p, NULL);
  if (!j) return COMPANION_ENOMEM;
  struct ping_ctx ctx = {cb, data};
  memcpy(j->path2, &ctx, sizeof ctx);
  j->done = on_companion_json;
  int rc = uv_fs_open(c->loop, &j->req, p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0, job_next);
  if (rc) {
    j->err = rc;
    job_finish(j);
  }
  return COMPANION_OK;
}

/* ---------------- lifetime ---------------- */

/* Files of a previous run in in/ or out/ (by the directory fd; unlinkat never follows a link). Anything not owned
 * by this user is removed too, and counted: nobody else's command or reply is ever used. */
static int clean_dir(companion_t *c, int dirfd, const char *shown) {
  int fd = dup(dirfd);
  if (fd < 0) return -1;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    int foreign = st.st_uid != c->owner || !S_ISREG(st.st_mode);
    size_t l = strlen(e->d_name);
    int stale = (l > 5 && !strcmp(e->d_name + l - 5, ".json")) || (l > 9 && !strcmp(e->d_name + l - 9, ".json.tmp"));
    if (!stale && !foreign) continue;
    if (foreign && S_ISDIR(st.st_mode)) {
      log_msg(&c->cfg.log, LOG_WARN, MOD, "%s/%s is a directory that does not belong in the spool: ignored", shown,
              e->d_name);
      continue;
    }
    if (unlinkat(dirfd, e->d_name, 0) == 0) {
      if (foreign) {
        c->st.foreign_files++;
        log_msg(&c->cfg.log, LOG_WARN, MOD, "removed %s/%s: %s, not written by you (uid %u); never executed", shown,
                e->d_name,
                S_ISLNK(st.st_mode)   ? "a symbolic link"
                : S_ISREG(st.st_mode) ? "owned by another user"
                                      : "not a regular file",
                (unsigned)c->owner);
      } else {
        c->st.stale_removed++;
      }
    }
  }
  closedir(d);
  return 0;
}

int companion_new(uv_loop_t *loop, const struct companion_config *cfg, companion_t **out, char *err, size_t errlen) {
  *out = NULL;
  companion_t *c = calloc(1, sizeof *c);
  if (!c) return errfmt(err, errlen, COMPANION_ENOMEM, "out of memory");
  c->loop = loop;
  c->cfg = *cfg;
  if (c->cfg.timeout_ms <= 0) c->cfg.timeout_ms = 10000;
  if (c->cfg.retries < 0) c->cfg.retries = 2;
  if (c->cfg.ping_timeout_ms <= 0) c->cfg.ping_timeout_ms = 1500;
  if (c->cfg.poll_ms <= 0) c->cfg.poll_ms = 500;
  snprintf(c->host, sizeof c->host, "%s", cfg->host ? cfg->host : "reaper");
  if (cfg->spool_dir && *cfg->spool_dir)
    snprintf(c->spool, sizeof c->spool, "%s", cfg->spool_dir);
  else if (companion_default_spool(c->spool, sizeof c->spool)) {
    free(c);
    return errfmt(err, errlen, COMPANION_ESPOOL, "the spool directory path is too long");
  }
  c->cfg.spool_dir = c->spool;
  c->cfg.host = c->host;
  c->owner = cfg->owner_uid > 0 ? (uid_t)cfg->owner_uid : geteuid();
  c->spool_fd = c->in_fd = c->out_fd = -1;
  snprintf(c->in, sizeof c->in, "%s/in", c->spool);
  snprintf(c->out, sizeof c->out, "%s/out", c->spool);
  int src = spool_secure(c, err, errlen);
  if (src) {
    close_fds(c);
    free(c);
    return src;
  }
  /* a ping on this spool got no answer lately (this user's regular file, not older than a day) */
  struct stat ms;
  if (fstatat(c->spool_fd, ABSENT_MARK, &ms, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(ms.st_mode) &&
      ms.st_uid == c->owner && time(NULL) - ms.st_mtime < ABSENT_MEMORY_S)
    c->absent_hint = 1;
  /* files of a previous run: a command there is past its deadline anyway, a reply answers nobody */
  clean_dir(c, c->in_fd, c->in);
  clean_dir(c, c->out_fd, c->out);
  if (c->st.stale_removed)
    log_msg(&c->cfg.log, LOG_INFO, MOD, "removed %lu stale file(s) of a previous run from %s", c->st.stale_removed,
            c->spool);
  uv_timer_init(loop, &c->tick);
  c->tick.data = c;
  c->handles_open = 1;
  uv_fs_event_init(loop, &c->watch);
  c->watch.data = c;
  c->handles_open++;
  int rc = uv_fs_event_start(&c->watch, on_out_event, c->out, 0);
  if (rc)
    log_msg(&c->cfg.log, LOG_WARN, MOD, "cannot watch %s (%s): polling every %d ms", c->out, uv_strerror(rc),
            c->cfg.poll_ms);
  c->watching = rc == 0;
  snprintf(c->why, sizeof c->why, "the companion has not answered a ping yet");
  log_msg(&c->cfg.log, LOG_INFO, MOD, "spool %s (%s companion)", c->spool, c->host);
  *out = c;
  return COMPANION_OK;
}

int companion_is_running(const companion_t *c) { return c && c->running; }
const char *companion_why(const companion_t *c) { return c ? c->why : "no companion configured"; }
const json_t *companion_info(const companion_t *c) { return c ? c->info : NULL; }
const char *companion_spool(const companion_t *c) { return c ? c->spool : ""; }
void companion_get_stats(const companion_t *c, struct companion_stats *st) { *st = c->st; }

static void on_handle_closed(uv_handle_t *h) {
  companion_t *c = h->data;
  if (--c->handles_open) return;
  if (c->inflight) return; /* the last file job frees */
  closed_free(c);
}

void companion_close(companion_t *c, void (*cb)(void *data), void *data) {
  if (!c || c->closing) return;
  /* cancel waiting commands first (their callbacks may still use the companion's getters) */
  while (c->head) cmd_end(c, c->head, COMPANION_ECANCELED, NULL, "canceled: the companion link is closing");
  c->closing = 1;
  c->close_cb = cb;
  c->close_data = data;
  uv_timer_stop(&c->tick);
  uv_close((uv_handle_t *)&c->tick, on_handle_closed);
  if (c->watching) uv_fs_event_stop(&c->watch);
  uv_close((uv_handle_t *)&c->watch, on_handle_closed);
}
