/* history.c: crash-safe iteration store. See history.h for the contract. */
#define _GNU_SOURCE /* O_TMPFILE, linkat AT_EMPTY_PATH */
#include "history.h"
#include "errfmt.h"
#include "utctime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HISTORY_COUNTER "next"
#define HISTORY_MAX_NUMBER 99999999
#define HISTORY_PROBE "probe"
#define HISTORY_PROBE_MIN (64 * 1024)
#define HISTORY_PROBE_MAX (256L * 1024 * 1024)
#define HISTORY_PUBLISH_TRIES 1000

struct history {
  char *dir;
  int next_mem; /* lowest number this handle may still hand out */
};

const char *history_strerror(int code) {
  switch (code) {
  case HISTORY_OK: return "success";
  case HISTORY_EINVAL: return "invalid argument";
  case HISTORY_EIO: return "file system error";
  case HISTORY_ENOSPC: return "no space left (disk full or size limit)";
  case HISTORY_ENOENT: return "no such iteration";
  case HISTORY_ECORRUPT: return "corrupt or foreign iteration file";
  case HISTORY_ENOMEM: return "out of memory";
  default: return "unknown history error";
  }
}

static int code_for_errno(int e) {
  switch (e) {
  case ENOSPC:
#ifdef EDQUOT
  case EDQUOT:
#endif
  case EFBIG: return HISTORY_ENOSPC;
  case ENOMEM: return HISTORY_ENOMEM;
  default: return HISTORY_EIO;
  }
}

static char *path_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + lb + 2);
  if (!p) return NULL;
  memcpy(p, a, la);
  size_t o = la;
  if (la > 0 && a[la - 1] != '/') p[o++] = '/';
  memcpy(p + o, b, lb + 1);
  return p;
}

char *history_default_data_dir(void) {
  const char *xdg = getenv("XDG_DATA_HOME");
  if (xdg && xdg[0] == '/') return path_join(xdg, "dawbridge");
  const char *home = getenv("HOME");
  if (!home || !home[0]) {
    struct passwd *pw = getpwuid(getuid());
    home = pw ? pw->pw_dir : NULL;
  }
  if (!home || !home[0]) return NULL;
  return path_join(home, ".local/share/dawbridge");
}

int history_composition_valid(const char *c) {
  if (!c) return 0;
  size_t n = strlen(c);
  if (n == 0 || n > 128 || c[0] == '.' || c[0] == '-' || c[n - 1] == '.' || c[n - 1] == ' ') return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)c[i];
    if (ch < 0x20 || ch == 0x7f || strchr("/\\:*?\"<>|", ch)) return 0;
  }
  return 1;
}

/* mkdir -p for an absolute or relative path. */
static int mkdir_p(const char *path, char *err, size_t errlen) {
  char *p = strdup(path);
  if (!p) {
    return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
  }
  int rc = HISTORY_OK;
  for (char *s = p + 1;; s++) {
    if (*s == '/' || *s == '\0') {
      char saved = *s;
      *s = '\0';
      if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        rc = errfmt(err, errlen, code_for_errno(e), "cannot create directory %s: %s", p, strerror(e));
        break;
      }
      *s = saved;
      if (saved == '\0') break;
    }
  }
  if (rc == HISTORY_OK) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
      rc = errfmt(err, errlen, HISTORY_EIO, "%s exists but is not a directory", path);
    }
  }
  free(p);
  return rc;
}

/* "<digits>.json" → number, else -1. */
static int parse_iteration_name(const char *name) {
  size_t n = strlen(name);
  if (n < 6 || strcmp(name + n - 5, ".json") != 0) return -1;
  long v = 0;
  for (size_t i = 0; i < n - 5; i++) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
    if (v > HISTORY_MAX_NUMBER) return -1;
  }
  /* only the canonical spelling "%04d.json" counts ("7.json", "00012.json" are foreign) */
  char canon[32];
  snprintf(canon, sizeof canon, "%04ld.json", v);
  if (strcmp(canon, name) != 0) return -1;
  return (int)v;
}

/* Our temporary files: ".<final name>.<pid>.tmp". Returns 1 and fills pid/number (number = -1 for the
 * counter) when `name` is one of them. */
static int parse_temp_name(const char *name, long *pid, int *number) {
  size_t n = strlen(name);
  if (name[0] != '.' || n < 7 || strcmp(name + n - 4, ".tmp") != 0) return 0;
  const char *end = name + n - 4;
  const char *dot = end;
  while (dot > name + 1 && dot[-1] != '.') dot--;
  if (dot <= name + 1 || dot == end) return 0;
  long p = 0;
  for (const char *c = dot; c < end; c++) {
    if (*c < '0' || *c > '9') return 0;
    p = p * 10 + (*c - '0');
    if (p > INT_MAX) return 0;
  }
  size_t flen = (size_t)(dot - 1 - (name + 1));
  char final[64];
  if (flen == 0 || flen >= sizeof final) return 0;
  memcpy(final, name + 1, flen);
  final[flen] = '\0';
  if (strcmp(final, HISTORY_COUNTER) == 0 || strcmp(final, HISTORY_PROBE) == 0)
    *number = -1;
  else if ((*number = parse_iteration_name(final)) < 0)
    return 0;
  *pid = p;
  return 1;
}

static void remove_stale_temps(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    long pid;
    int num;
    if (!parse_temp_name(de->d_name, &pid, &num)) continue;
    if (pid > 0 && (pid_t)pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      char *p = path_join(dir, de->d_name);
      if (p) {
        unlink(p);
        free(p);
      }
    }
  }
  closedir(d);
}

history_t *history_open(const char *data_dir, const char *composition, char *err, size_t errlen) {
  if (!history_composition_valid(composition)) {
    errmsg(err, errlen,
           "invalid composition name \"%s\": use 1-128 characters without / \\ : * ? \" < > |, "
           "control characters, a leading '.' or '-' or a trailing '.' or space",
           composition ? composition : "(null)");
    return NULL;
  }
  char *def = NULL;
  if (!data_dir) {
    def = history_default_data_dir();
    if (!def) {
      errmsg(err, errlen, "cannot find the data directory: set XDG_DATA_HOME or HOME, or pass --data-dir");
      return NULL;
    }
    data_dir = def;
  }
  if (!data_dir[0]) {
    errmsg(err, errlen, "empty data directory");
    free(def);
    return NULL;
  }
  size_t len = strlen(data_dir) + strlen(composition) + 32;
  char *dir = malloc(len);
  history_t *h = calloc(1, sizeof *h);
  if (!dir || !h) {
    errmsg(err, errlen, "out of memory");
    free(dir);
    free(h);
    free(def);
    return NULL;
  }
  snprintf(dir, len, "%s%scompositions/%s/history", data_dir, data_dir[strlen(data_dir) - 1] == '/' ? "" : "/",
           composition);
  free(def);
  if (mkdir_p(dir, err, errlen) != HISTORY_OK) {
    free(dir);
    free(h);
    return NULL;
  }
  h->dir = dir;
  h->next_mem = 1;
  remove_stale_temps(dir);
  return h;
}

void history_free(history_t *h) {
  if (!h) return;
  free(h->dir);
  free(h);
}

const char *history_dir(const history_t *h) { return h ? h->dir : NULL; }

/* ---- durable file writing ---- */

static int fsync_dir(const char *dir, char *err, size_t errlen) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return errfmt(err, errlen, code_for_errno(e), "cannot open directory %s: %s", dir, strerror(e));
  }
  int rc = HISTORY_OK;
  if (fsync(fd) != 0 && errno != EINVAL) {
    int e = errno;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot sync directory %s: %s", dir, strerror(e));
  }
  close(fd);
  return rc;
}

static int write_all(int fd, const char *data, size_t len, const char *what, char *err, size_t errlen) {
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      return errfmt(err, errlen, code_for_errno(e), "cannot write %s: %s", what, strerror(e));
    }
    if (w == 0) {
      return errfmt(err, errlen, HISTORY_ENOSPC, "cannot write %s: %s", what, strerror(ENOSPC));
    }
    off += (size_t)w;
  }
  return HISTORY_OK;
}

/* An unnamed file in `dir` (O_TMPFILE): it has no name until it is linked, so a writer killed at any moment
 * leaves nothing behind. Returns the fd, or -1 with errno (EOPNOTSUPP/EISDIR/EINVAL when the file system or
 * kernel has no O_TMPFILE: the caller then falls back to a named temporary file). */
static int open_unnamed(const char *dir) {
#ifdef O_TMPFILE
  return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
#else
  (void)dir;
  errno = EOPNOTSUPP;
  return -1;
#endif
}

static int unnamed_unsupported(int e) { return e == EOPNOTSUPP || e == EISDIR || e == EINVAL || e == ENOSYS; }

/* Gives the unnamed file `fd` the name `final`, failing with EEXIST when that name exists (never replaces).
 * Returns 0 or -1 with errno. */
static int link_unnamed(int fd, const char *final) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (linkat(AT_FDCWD, proc, AT_FDCWD, final, AT_SYMLINK_FOLLOW) == 0) return 0;
  if (errno != ENOENT) return -1;
#ifdef AT_EMPTY_PATH
  /* no /proc: AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH on older kernels) */
  return linkat(fd, "", AT_FDCWD, final, AT_EMPTY_PATH);
#else
  errno = ENOENT;
  return -1;
#endif
}

/* Writes data under <dir>/<name> if and only if that name does not exist yet: the content is written to an
 * unnamed file (or, where O_TMPFILE is missing, a hidden ".<name>.<pid>.tmp"), fsync'ed, then linked to its
 * final name without replacing anything, and the directory is fsync'ed. The name appears complete or not at
 * all. Returns HISTORY_OK, HISTORY_EEXIST_INTERNAL when the name is taken (nothing written), or an error. */
#define HISTORY_EEXIST_INTERNAL 1
#define HISTORY_NAMED_INTERNAL 2 /* the unnamed file could not be linked (no /proc, ...): write a named one */
static int write_new_file_as(const char *dir, const char *name, const char *data, size_t len, int named, char *err,
                             size_t errlen) {
  char *final = path_join(dir, name);
  if (!final) {
    return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
  }
  char *tmp = NULL;
  int rc = HISTORY_OK;
  int fd = named ? -1 : open_unnamed(dir);
  if (named || (fd < 0 && unnamed_unsupported(errno))) {
    char tmpname[128];
    snprintf(tmpname, sizeof tmpname, ".%s.%ld.tmp", name, (long)getpid());
    tmp = path_join(dir, tmpname);
    if (!tmp) {
      free(final);
      return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    int e = errno;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot create a file in %s for %s: %s", dir, name, strerror(e));
    goto out;
  }
  rc = write_all(fd, data, len, final, err, errlen);
  if (rc == HISTORY_OK && fsync(fd) != 0) {
    int e = errno;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot sync %s: %s", final, strerror(e));
  }
  if (rc == HISTORY_OK) {
    int lr = tmp ? link(tmp, final) : link_unnamed(fd, final);
    if (lr != 0) {
      int e = errno;
      if (e == EEXIST) {
        rc = HISTORY_EEXIST_INTERNAL;
      } else if (!tmp) {
        rc = HISTORY_NAMED_INTERNAL;
      } else {
        rc = errfmt(err, errlen, code_for_errno(e), "cannot create %s: %s", final, strerror(e));
      }
    }
  }
  if (close(fd) != 0 && rc == HISTORY_OK) {
    int e = errno;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot close %s: %s", final, strerror(e));
  }
  if (tmp) unlink(tmp);
  if (rc == HISTORY_OK) rc = fsync_dir(dir, err, errlen);
out:
  free(tmp);
  free(final);
  return rc;
}

static int write_new_file(const char *dir, const char *name, const char *data, size_t len, char *err, size_t errlen) {
  int rc = write_new_file_as(dir, name, data, len, 0, err, errlen);
  if (rc == HISTORY_NAMED_INTERNAL) rc = write_new_file_as(dir, name, data, len, 1, err, errlen);
  return rc;
}

/* ---- numbering ---- */

/* The counter's value, 0 when absent or unreadable. */
static int parse_counter(const char *buf) {
  char *end;
  long v = strtol(buf, &end, 10);
  if (end == buf || (*end != '\n' && *end != '\0') || v < 1 || v > HISTORY_MAX_NUMBER) return 0;
  return (int)v;
}

static int read_counter_fd(int fd) {
  char buf[32] = {0};
  ssize_t n;
  do n = pread(fd, buf, sizeof buf - 1, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return parse_counter(buf);
}

/* Highest number used by any iteration file or temporary iteration file, 0 if none; <0 on error. */
static int highest_on_disk(const char *dir, char *err, size_t errlen) {
  DIR *d = opendir(dir);
  if (!d) {
    int e = errno;
    return errfmt(err, errlen, code_for_errno(e), "cannot read directory %s: %s", dir, strerror(e));
  }
  int hi = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    int n = parse_iteration_name(de->d_name);
    long pid;
    if (n < 0 && !parse_temp_name(de->d_name, &pid, &n)) continue;
    if (n > hi) hi = n;
  }
  closedir(d);
  return hi;
}

/* ---- saving ---- */

static void iso8601_now(char *buf, size_t len) {
  char base[40];
  utc_now_ms(base, sizeof base, "%Y-%m-%dT%H:%M:%S");
  snprintf(buf, len, "%sZ", base);
}

static int source_valid(const char *s) {
  static const char *const ok[] = {"ai_iteration", "user", "baseline", "undo", "restore"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (strcmp(s, ok[i]) == 0) return 1;
  return 0;
}

static int is_reserved_key(const char *k) {
  static const char *const r[] = {"format",    "number", "source",  "user_message", "actions_count",
                                  "timestamp", "plan",   "actions", "state"};
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
    if (strcmp(k, r[i]) == 0) return 1;
  return 0;
}

/* Builds the iteration document (new reference) or NULL with err set. */
static json_t *build_iteration(int number, const json_t *snapshot, const json_t *meta, char *err, size_t errlen) {
  const char *source = "ai_iteration";
  json_t *src = meta ? json_object_get(meta, "source") : NULL;
  if (src) {
    if (!json_is_string(src) || !source_valid(json_string_value(src))) {
      errmsg(err, errlen, "invalid iteration source (expected ai_iteration, user, baseline, undo or restore)");
      return NULL;
    }
    source = json_string_value(src);
  }
  json_t *um = meta ? json_object_get(meta, "user_message") : NULL;
  if (um && !json_is_string(um) && !json_is_null(um)) {
    errmsg(err, errlen, "user_message must be a string or null");
    return NULL;
  }
  json_t *actions = meta ? json_object_get(meta, "actions") : NULL;
  if (actions && !json_is_array(actions)) {
    errmsg(err, errlen, "actions must be an array");
    return NULL;
  }
  json_t *ac = meta ? json_object_get(meta, "actions_count") : NULL;
  if (ac && (!json_is_integer(ac) || json_integer_value(ac) < 0)) {
    errmsg(err, errlen, "actions_count must be a non-negative integer");
    return NULL;
  }
  json_int_t count = ac ? json_integer_value(ac) : (json_int_t)(actions ? json_array_size(actions) : 0);
  char ts[48];
  iso8601_now(ts, sizeof ts);
  json_t *plan = meta ? json_object_get(meta, "plan") : NULL;

  json_t *doc = json_object();
  int bad = !doc;
  bad |= json_object_set_new(doc, "format", json_string(HISTORY_FORMAT));
  bad |= json_object_set_new(doc, "number", json_integer(number));
  bad |= json_object_set_new(doc, "source", json_string(source));
  bad |= json_object_set_new(doc, "user_message", um ? json_deep_copy(um) : json_null());
  bad |= json_object_set_new(doc, "actions_count", json_integer(count));
  bad |= json_object_set_new(doc, "timestamp", json_string(ts));
  bad |= json_object_set_new(doc, "plan", plan ? json_deep_copy(plan) : json_null());
  bad |= json_object_set_new(doc, "actions", actions ? json_deep_copy(actions) : json_array());
  if (meta) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
      if (!is_reserved_key(k)) bad |= json_object_set_new(doc, k, json_deep_copy(v));
    }
  }
  bad |= json_object_set_new(doc, "state", json_deep_copy(snapshot));
  if (bad) {
    json_decref(doc);
    errmsg(err, errlen, "out of memory (or invalid JSON) while building the iteration");
    return NULL;
  }
  return doc;
}

/* Reserves the next number: under an exclusive flock on the history directory (so concurrent writers, in
 * this process or others, serialise here for a moment; the lock goes away with its holder, even after
 * kill -9), n = max(what this handle handed out + 1, the counter, the highest number on disk + 1) and the
 * counter is advanced to n + 1 in place (one 9-byte pwrite at offset 0, which a kill cannot tear) and
 * synced. Without flock (ENOLCK, ...) it goes on unlocked: the final names are created without replacing,
 * so a collision costs a retry, never a save. */
static int reserve_number(history_t *h, int *out, char *err, size_t errlen) {
  char *cpath = path_join(h->dir, HISTORY_COUNTER);
  if (!cpath) {
    return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
  }
  int rc = HISTORY_OK, cfd = -1, created = 0;
  int dfd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    int e = errno;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot open directory %s: %s", h->dir, strerror(e));
    goto out;
  }
  while (flock(dfd, LOCK_EX) != 0 && errno == EINTR)
    ;
  cfd = open(cpath, O_RDWR | O_CLOEXEC);
  if (cfd < 0 && errno == ENOENT) {
    cfd = open(cpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    created = cfd >= 0;
  }
  if (cfd < 0) {
    int e = errno;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot write %s: %s", cpath, strerror(e));
    goto out;
  }
  int hi = highest_on_disk(h->dir, err, errlen);
  if (hi < 0) {
    rc = hi;
    goto out;
  }
  int n = h->next_mem;
  int c = read_counter_fd(cfd);
  if (c > n) n = c;
  if (hi + 1 > n) n = hi + 1;
  if (n >= HISTORY_MAX_NUMBER) {
    rc = errfmt(err, errlen, HISTORY_EINVAL, "history %s is full (iteration numbers exhausted)", h->dir);
    goto out;
  }
  char cbuf[16];
  int clen = snprintf(cbuf, sizeof cbuf, "%08d\n", n + 1);
  ssize_t w;
  do w = pwrite(cfd, cbuf, (size_t)clen, 0);
  while (w < 0 && errno == EINTR);
  if (w != clen) {
    int e = w < 0 ? errno : ENOSPC;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot write %s: %s", cpath, strerror(e));
    goto out;
  }
  struct stat st;
  if (fstat(cfd, &st) == 0 && st.st_size > clen && ftruncate(cfd, clen) != 0) {
    int e = errno;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot write %s: %s", cpath, strerror(e));
    goto out;
  }
  if (fdatasync(cfd) != 0) {
    int e = errno;
    rc = errfmt(err, errlen, code_for_errno(e), "cannot sync %s: %s", cpath, strerror(e));
    goto out;
  }
  if (created && (rc = fsync_dir(h->dir, err, errlen)) != HISTORY_OK) goto out;
  h->next_mem = n + 1;
  *out = n;
out:
  if (cfd >= 0) close(cfd);
  if (dfd >= 0) close(dfd); /* releases the lock */
  free(cpath);
  return rc;
}

int history_save(history_t *h, const json_t *snapshot, const json_t *meta, int *number_out, char *err, size_t errlen) {
  if (!h || !json_is_object(snapshot) || (meta && !json_is_object(meta))) {
    return errfmt(err, errlen, HISTORY_EINVAL, "history_save: snapshot (and meta, if given) must be JSON objects");
  }
  /* validate and build first: a bad request never costs a number */
  json_t *doc = build_iteration(0, snapshot, meta, err, errlen);
  if (!doc) return HISTORY_EINVAL;
  int rc = HISTORY_OK;
  for (int attempt = 0; attempt < HISTORY_PUBLISH_TRIES; attempt++) {
    int n = 0;
    rc = reserve_number(h, &n, err, errlen);
    if (rc != HISTORY_OK) break;
    /* from here on n is never handed out again, whatever happens */
    json_object_set_new(doc, "number", json_integer(n));
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    if (!text) {
      rc = errfmt(err, errlen, HISTORY_ENOMEM, "cannot serialize the iteration (out of memory?)");
      break;
    }
    size_t tlen = strlen(text);
    char *t2 = realloc(text, tlen + 2);
    if (t2) {
      text = t2;
      text[tlen++] = '\n';
      text[tlen] = '\0';
    }
    char name[32];
    snprintf(name, sizeof name, "%04d.json", n);
    rc = write_new_file(h->dir, name, text, tlen, err, errlen);
    free(text);
    if (rc == HISTORY_OK && number_out) *number_out = n;
    if (rc != HISTORY_EEXIST_INTERNAL) break;
    /* the name was taken by a writer that did not reserve it (another version, a copy by hand): next */
  }
  if (rc == HISTORY_EEXIST_INTERNAL) {
    rc = errfmt(err, errlen, HISTORY_EIO, "cannot find a free iteration number in %s", h->dir);
  }
  json_decref(doc);
  return rc;
}

/* ---- reading ---- */

/* Loads and validates one file. Returns HISTORY_OK with *out (new ref) or a negative code + message. */
static int load_file(const char *dir, const char *name, int number, json_t **out, char *err, size_t errlen) {
  char *p = path_join(dir, name);
  if (!p) {
    return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
  }
  struct stat st;
  if (stat(p, &st) != 0) {
    int e = errno;
    errmsg(err, errlen, "%s: %s", p, strerror(e));
    free(p);
    return e == ENOENT ? HISTORY_ENOENT : code_for_errno(e);
  }
  if (!S_ISREG(st.st_mode)) {
    errmsg(err, errlen, "%s: not a regular file", p);
    free(p);
    return HISTORY_ECORRUPT;
  }
  /* read whole file, then parse from memory (much faster than a FILE* stream) */
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    errmsg(err, errlen, "%s: %s", p, strerror(e));
    free(p);
    return e == ENOENT ? HISTORY_ENOENT : code_for_errno(e);
  }
  size_t size = (size_t)st.st_size, got = 0;
  char *data = malloc(size + 1);
  if (!data) {
    close(fd);
    errmsg(err, errlen, "%s: out of memory", p);
    free(p);
    return HISTORY_ENOMEM;
  }
  while (got < size) {
    ssize_t r = read(fd, data + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  json_error_t je;
  json_t *doc = json_loadb(data, got, JSON_REJECT_DUPLICATES, &je);
  free(data);
  if (!doc) {
    errmsg(err, errlen, "%s: corrupt or truncated (line %d: %s)", p, je.line, je.text);
    free(p);
    return HISTORY_ECORRUPT;
  }
  const char *why = NULL;
  json_t *fmt = json_object_get(doc, "format");
  json_t *num = json_object_get(doc, "number");
  if (!json_is_object(doc))
    why = "not a JSON object";
  else if (!json_is_string(fmt) || strcmp(json_string_value(fmt), HISTORY_FORMAT) != 0)
    why = "foreign file (format is not " HISTORY_FORMAT ")";
  else if (!json_is_integer(num) || json_integer_value(num) != number)
    why = "its number does not match its file name";
  else if (!json_is_string(json_object_get(doc, "source")))
    why = "missing source";
  else if (!json_is_string(json_object_get(doc, "timestamp")))
    why = "missing timestamp";
  else if (!json_is_object(json_object_get(doc, "state")))
    why = "missing state";
  if (why) {
    errmsg(err, errlen, "%s: %s", p, why);
    json_decref(doc);
    free(p);
    return HISTORY_ECORRUPT;
  }
  free(p);
  *out = doc;
  return HISTORY_OK;
}

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

/* Sorted iteration numbers found by name (+ optional warnings for unknown files). */
static int scan_numbers(const history_t *h, int **nums_out, size_t *count_out, json_t *warnings, char *err,
                        size_t errlen) {
  DIR *d = opendir(h->dir);
  if (!d) {
    int e = errno;
    return errfmt(err, errlen, code_for_errno(e), "cannot read directory %s: %s", h->dir, strerror(e));
  }
  size_t cap = 64, n = 0;
  int *nums = malloc(cap * sizeof *nums);
  if (!nums) {
    closedir(d);
    return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *nm = de->d_name;
    if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || strcmp(nm, HISTORY_COUNTER) == 0) continue;
    long pid;
    int tn;
    if (parse_temp_name(nm, &pid, &tn)) continue;
    int num = parse_iteration_name(nm);
    if (num < 0) {
      if (warnings) {
        json_array_append_new(warnings, json_pack("{s:s, s:s}", "file", nm, "message",
                                                  "not an iteration file (name is not NNNN.json); skipped"));
      }
      continue;
    }
    if (n == cap) {
      int *nn = realloc(nums, 2 * cap * sizeof *nums);
      if (!nn) {
        free(nums);
        closedir(d);
        return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
      }
      nums = nn;
      cap *= 2;
    }
    nums[n++] = num;
  }
  closedir(d);
  qsort(nums, n, sizeof *nums, cmp_int);
  *nums_out = nums;
  *count_out = n;
  return HISTORY_OK;
}

static void number_name(int number, char *buf, size_t len) { snprintf(buf, len, "%04d.json", number); }

static int load_number(const history_t *h, int number, json_t **out, char *err, size_t errlen) {
  char name[32];
  number_name(number, name, sizeof name);
  return load_file(h->dir, name, number, out, err, errlen);
}

int history_list(history_t *h, json_t **list_out, json_t **warnings_out, char *err, size_t errlen) {
  if (!h || !list_out) {
    return errfmt(err, errlen, HISTORY_EINVAL, "history_list: bad arguments");
  }
  json_t *list = json_array();
  json_t *warnings = json_array();
  int *nums = NULL;
  size_t n = 0;
  int rc = scan_numbers(h, &nums, &n, warnings, err, errlen);
  if (rc != HISTORY_OK) {
    json_decref(list);
    json_decref(warnings);
    return rc;
  }
  for (size_t i = 0; i < n; i++) {
    char name[32];
    number_name(nums[i], name, sizeof name);
    json_t *doc = NULL;
    char msg[512];
    int lrc = load_file(h->dir, name, nums[i], &doc, msg, sizeof msg);
    if (lrc == HISTORY_ENOENT) continue; /* removed meanwhile */
    if (lrc != HISTORY_OK) {
      json_array_append_new(warnings, json_pack("{s:s, s:s}", "file", name, "message", msg));
      continue;
    }
    json_t *um = json_object_get(doc, "user_message");
    json_t *ac = json_object_get(doc, "actions_count");
    json_array_append_new(list,
                          json_pack("{s:i, s:O, s:O, s:O, s:I, s:s}", "number", nums[i], "timestamp",
                                    json_object_get(doc, "timestamp"), "source", json_object_get(doc, "source"),
                                    "user_message", um ? um : json_null(), "actions_count",
                                    (json_int_t)(json_is_integer(ac) ? json_integer_value(ac) : 0), "file", name));
    json_decref(doc);
  }
  free(nums);
  *list_out = list;
  if (warnings_out)
    *warnings_out = warnings;
  else
    json_decref(warnings);
  return HISTORY_OK;
}

int history_load(history_t *h, int number, json_t **iteration_out, char *err, size_t errlen) {
  if (!h || !iteration_out || number < 1) {
    return errfmt(err, errlen, number < 1 ? HISTORY_ENOENT : HISTORY_EINVAL, "no iteration %d", number);
  }
  int rc = load_number(h, number, iteration_out, err, errlen);
  if (rc == HISTORY_ENOENT) errmsg(err, errlen, "no iteration %d in %s", number, h->dir);
  return rc;
}

/* Highest readable iteration with number < below (below = INT_MAX for the latest). */
static int find_readable_below(history_t *h, int below, json_t **out, char *err, size_t errlen) {
  int *nums = NULL;
  size_t n = 0;
  int rc = scan_numbers(h, &nums, &n, NULL, err, errlen);
  if (rc != HISTORY_OK) return rc;
  for (size_t i = n; i-- > 0;) {
    if (nums[i] >= below) continue;
    json_t *doc = NULL;
    char msg[512];
    if (load_number(h, nums[i], &doc, msg, sizeof msg) == HISTORY_OK) {
      int num = nums[i];
      free(nums);
      if (out)
        *out = doc;
      else
        json_decref(doc);
      return num;
    }
  }
  free(nums);
  if (below == INT_MAX)
    errmsg(err, errlen, "no readable iteration in %s", h->dir);
  else
    errmsg(err, errlen, "no readable iteration before %d in %s", below, h->dir);
  return HISTORY_ENOENT;
}

int history_latest(history_t *h, json_t **iteration_out, char *err, size_t errlen) {
  if (!h) {
    return errfmt(err, errlen, HISTORY_EINVAL, "history_latest: no history");
  }
  return find_readable_below(h, INT_MAX, iteration_out, err, errlen);
}

int history_previous(history_t *h, int number, json_t **iteration_out, char *err, size_t errlen) {
  if (!h) {
    return errfmt(err, errlen, HISTORY_EINVAL, "history_previous: no history");
  }
  return find_readable_below(h, number, iteration_out, err, errlen);
}

/* ---- checking before a change ---- */

/* Size of the newest iteration file, 0 if none. */
static long latest_file_size(history_t *h) {
  int *nums = NULL;
  size_t n = 0;
  char msg[256];
  if (scan_numbers(h, &nums, &n, NULL, msg, sizeof msg) != HISTORY_OK) return 0;
  long size = 0;
  if (n > 0) {
    char name[32];
    number_name(nums[n - 1], name, sizeof name);
    char *p = path_join(h->dir, name);
    struct stat st;
    if (p && stat(p, &st) == 0) size = (long)st.st_size;
    free(p);
  }
  free(nums);
  return size;
}

int history_check_writable(history_t *h, char *err, size_t errlen) {
  if (!h) {
    return errfmt(err, errlen, HISTORY_EINVAL, "history_check_writable: no history");
  }
  /* the counter, if there is one, must be writable in place */
  char *cpath = path_join(h->dir, HISTORY_COUNTER);
  if (!cpath) {
    return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
  }
  int cfd = open(cpath, O_WRONLY | O_CLOEXEC);
  if (cfd < 0 && errno != ENOENT) {
    int e = errno;
    errmsg(err, errlen, "cannot write %s: %s", cpath, strerror(e));
    free(cpath);
    return code_for_errno(e);
  }
  if (cfd >= 0) close(cfd);
  free(cpath);

  /* room for an iteration at least as big as the newest one, half again, and never less than 64 KiB */
  long want = latest_file_size(h);
  want += want / 2;
  if (want < HISTORY_PROBE_MIN) want = HISTORY_PROBE_MIN;
  if (want > HISTORY_PROBE_MAX) want = HISTORY_PROBE_MAX;

  char *tmp = NULL;
  int fd = open_unnamed(h->dir);
  if (fd < 0 && unnamed_unsupported(errno)) {
    char tmpname[64];
    snprintf(tmpname, sizeof tmpname, "." HISTORY_PROBE ".%ld.tmp", (long)getpid());
    tmp = path_join(h->dir, tmpname);
    if (!tmp) {
      return errfmt(err, errlen, HISTORY_ENOMEM, "out of memory");
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  }
  int rc = HISTORY_OK;
  if (fd < 0) {
    int e = errno;
    errmsg(err, errlen, "cannot write in the history directory %s: %s", h->dir, strerror(e));
    free(tmp);
    return code_for_errno(e);
  }
  static const char zeros[16384];
  char what[64];
  snprintf(what, sizeof what, "a %ld-byte test file", want);
  long done = 0;
  char msg[512];
  while (rc == HISTORY_OK && done < want) {
    size_t chunk = (size_t)(want - done) < sizeof zeros ? (size_t)(want - done) : sizeof zeros;
    rc = write_all(fd, zeros, chunk, what, msg, sizeof msg);
    done += (long)chunk;
  }
  if (rc == HISTORY_OK && fsync(fd) != 0) {
    int e = errno;
    snprintf(msg, sizeof msg, "cannot sync %s: %s", what, strerror(e));
    rc = code_for_errno(e);
  }
  close(fd);
  if (tmp) unlink(tmp);
  free(tmp);
  if (rc != HISTORY_OK) errmsg(err, errlen, "the history directory %s cannot take an iteration: %s", h->dir, msg);
  return rc;
}
