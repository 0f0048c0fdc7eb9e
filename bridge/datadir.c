/* datadir: where the read-only data is. See datadir.h for the order and the two layouts. */
#include "datadir.h"
#include "errfmt.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

/* Set by bridge/core.cmake on this file only: where the build tree, its source tree and the install live. */
#ifndef DAWBRIDGE_BUILD_TREE
#error "DAWBRIDGE_BUILD_TREE must be defined (bridge/core.cmake)"
#endif
#ifndef DAWBRIDGE_SOURCE_TREE
#error "DAWBRIDGE_SOURCE_TREE must be defined (bridge/core.cmake)"
#endif
#ifndef DAWBRIDGE_INSTALL_DATADIR
#error "DAWBRIDGE_INSTALL_DATADIR must be defined (bridge/core.cmake)"
#endif

static const struct {
  const char *installed, *source;
} layout[] = {
    [DATADIR_OSC_MAPS] = {"osc-maps", "osc-maps"},
    [DATADIR_PROMPTS] = {"prompts", "agent/prompts"},
    [DATADIR_EXAMPLES] = {"examples", "examples"},
    [DATADIR_WEB] = {"web", "web"},
};

const char *datadir_strerror(int code) {
  switch (code) {
  case DATADIR_OK: return "ok";
  case DATADIR_EARG: return "invalid argument";
  case DATADIR_ENOTFOUND: return "data directory not found";
  case DATADIR_ETOOLONG: return "data path too long";
  default: return "unknown datadir error";
  }
}

const char *datadir_source_name(int source) {
  switch (source) {
  case DATADIR_FROM_ENV: return "DAWBRIDGE_DATA_DIR";
  case DATADIR_FROM_BUILD_TREE: return "build tree";
  case DATADIR_FROM_EXE: return "install (relative to the executable)";
  case DATADIR_FROM_PREFIX: return "install prefix";
  default: return "unknown";
  }
}

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int put(char *out, size_t outlen, const char *a, const char *b, const char *c) {
  int n = snprintf(out, outlen, "%s%s%s", a, b, c);
  return n < 0 || (size_t)n >= outlen ? DATADIR_ETOOLONG : DATADIR_OK;
}

/* 1 when dir is the build tree or below it (both resolved). */
static int in_build_tree(const char *dir) {
  char build[PATH_MAX];
  if (!realpath(DAWBRIDGE_BUILD_TREE, build)) return 0;
  size_t n = strlen(build);
  return !strncmp(dir, build, n) && (dir[n] == '\0' || dir[n] == '/');
}

int datadir_root(char *out, size_t outlen, char *err, size_t errlen) {
  if (!out || !outlen) return errfmt(err, errlen, DATADIR_EARG, "datadir_root: no buffer");
  const char *env = getenv("DAWBRIDGE_DATA_DIR");
  if (env && *env) {
    if (!is_dir(env)) return errfmt(err, errlen, DATADIR_ENOTFOUND, "DAWBRIDGE_DATA_DIR=%s is not a directory", env);
    if (put(out, outlen, env, "", "")) return errfmt(err, errlen, DATADIR_ETOOLONG, "DAWBRIDGE_DATA_DIR too long");
    return DATADIR_FROM_ENV;
  }
  char exe[PATH_MAX], dir[PATH_MAX] = "";
  size_t len = sizeof exe;
  if (uv_exepath(exe, &len) == 0 && realpath(exe, dir)) {
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    if (in_build_tree(dir)) {
      if (put(out, outlen, DAWBRIDGE_SOURCE_TREE, "", ""))
        return errfmt(err, errlen, DATADIR_ETOOLONG, "source tree path too long");
      return DATADIR_FROM_BUILD_TREE;
    }
    char cand[PATH_MAX + 32];
    snprintf(cand, sizeof cand, "%s/../share/dawbridge", dir);
    char real[PATH_MAX];
    if (is_dir(cand) && realpath(cand, real)) {
      if (put(out, outlen, real, "", "")) return errfmt(err, errlen, DATADIR_ETOOLONG, "%s: path too long", real);
      return DATADIR_FROM_EXE;
    }
  }
  if (is_dir(DAWBRIDGE_INSTALL_DATADIR)) {
    if (put(out, outlen, DAWBRIDGE_INSTALL_DATADIR, "", ""))
      return errfmt(err, errlen, DATADIR_ETOOLONG, "install data directory path too long");
    return DATADIR_FROM_PREFIX;
  }
  return errfmt(err, errlen, DATADIR_ENOTFOUND,
                "no dawbridge data directory: DAWBRIDGE_DATA_DIR is not set, %s/../share/dawbridge and %s do not "
                "exist (install with `cmake --install BUILD`, or set DAWBRIDGE_DATA_DIR)",
                *dir ? dir : "<executable directory unknown>", DAWBRIDGE_INSTALL_DATADIR);
}

int datadir_path(enum datadir_item item, char *out, size_t outlen, char *err, size_t errlen) {
  if ((unsigned)item >= sizeof layout / sizeof layout[0] || !out || !outlen)
    return errfmt(err, errlen, DATADIR_EARG, "datadir_path: bad item or buffer");
  char root[PATH_MAX];
  int src = datadir_root(root, sizeof root, err, errlen);
  if (src < 0) return src;
  const char *rel = src == DATADIR_FROM_BUILD_TREE ? layout[item].source : layout[item].installed;
  if (put(out, outlen, root, "/", rel)) return errfmt(err, errlen, DATADIR_ETOOLONG, "%s/%s: path too long", root, rel);
  struct stat st;
  if (stat(out, &st) != 0)
    return errfmt(err, errlen, DATADIR_ENOTFOUND, "%s not found (data from %s)", out, datadir_source_name(src));
  return DATADIR_OK;
}

int datadir_file(enum datadir_item item, const char *rel, char *out, size_t outlen, char *err, size_t errlen) {
  if (!rel || rel[0] == '/') return errfmt(err, errlen, DATADIR_EARG, "datadir_file: relative name needed");
  char dir[PATH_MAX];
  int rc = datadir_path(item, dir, sizeof dir, err, errlen);
  if (rc) return rc;
  if (put(out, outlen, dir, "/", rel)) return errfmt(err, errlen, DATADIR_ETOOLONG, "%s/%s: path too long", dir, rel);
  return DATADIR_OK;
}
