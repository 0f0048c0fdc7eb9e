/* datadir: where dawbridge's read-only data is (the OSC maps and instrument maps, the prompts, the examples, the
 * web page). The one place that decides it; nothing else looks at the source tree, an env var or a prefix.
 *
 * The data is found, first match wins:
 *  1. $DAWBRIDGE_DATA_DIR, when set and not empty: a directory in the install layout below (tests, a relocated or
 *     hand-made install). It is used as given: a missing item inside it is an error, never a fall-through.
 *  2. A build tree: the running executable is in the build directory it was compiled for (or below it). The build
 *     tree is not an install, so its data is the source tree it was configured from (source layout below).
 *  3. An install, wherever its prefix was moved: <directory of the executable>/../share/dawbridge, if it exists.
 *  4. The install directory compiled in (CMAKE_INSTALL_FULL_DATADIR/dawbridge), if it exists.
 * The executable is the running program (uv_exepath: /proc/self/exe, symlinks resolved), not argv[0] or the cwd.
 *
 * Layouts (item: install layout | source layout):
 *   DATADIR_OSC_MAPS   osc-maps   | osc-maps        (dialect maps, instruments/, companions/)
 *   DATADIR_PROMPTS    prompts    | agent/prompts
 *   DATADIR_EXAMPLES   examples   | examples        (demo transcript, plans, eval suites)
 *   DATADIR_WEB        web        | web
 *
 * Blocking: a few stat() calls per lookup; meant for start-up and loading, not for a hot path on the loop. */
#ifndef DAWBRIDGE_DATADIR_H
#define DAWBRIDGE_DATADIR_H

#include <stddef.h>

enum datadir_item { DATADIR_OSC_MAPS, DATADIR_PROMPTS, DATADIR_EXAMPLES, DATADIR_WEB };

enum datadir_source {
  DATADIR_FROM_ENV = 1,    /* $DAWBRIDGE_DATA_DIR */
  DATADIR_FROM_BUILD_TREE, /* the source tree of this build tree */
  DATADIR_FROM_EXE,        /* <exe>/../share/dawbridge */
  DATADIR_FROM_PREFIX,     /* the compiled-in install directory */
};

enum {
  DATADIR_OK = 0,
  DATADIR_EARG = -1,      /* bad argument (unknown item, no buffer) */
  DATADIR_ENOTFOUND = -2, /* no data directory, or the item is not in it */
  DATADIR_ETOOLONG = -3,  /* the path does not fit the caller's buffer */
};

const char *datadir_strerror(int code);

/* The data root and how it was found: writes the directory (no trailing slash) into out and returns the
 * enum datadir_source (> 0), or a negative code with err saying where it looked. */
int datadir_root(char *out, size_t outlen, char *err, size_t errlen);

/* The directory (or file) of one item: "<root>/<item's path in the root's layout>". Returns DATADIR_OK, or a negative
 * code with err naming the path (DATADIR_ENOTFOUND when the item is not there). */
int datadir_path(enum datadir_item item, char *out, size_t outlen, char *err, size_t errlen);

/* "<item path>/<rel>" (rel without a leading slash, e.g. "demo-transcript.json"). Existence of rel is not checked:
 * the caller's open reports it with the full path. */
int datadir_file(enum datadir_item item, const char *rel, char *out, size_t outlen, char *err, size_t errlen);

/* A name for the source: "DAWBRIDGE_DATA_DIR", "build tree", "install (relative to the executable)", "install
 * prefix". Static string. */
const char *datadir_source_name(int source);

#endif
