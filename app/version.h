/* version: `dawbridge --version` — the version from CMake's project(VERSION), the `git describe` of the source tree
 * at configure time (when it was a git checkout), and the data directory in use (bridge/datadir.h). */
#ifndef DAWBRIDGE_APP_VERSION_H
#define DAWBRIDGE_APP_VERSION_H

#include <stdio.h>

/* "0.1.0" (static string). */
const char *app_version(void);

/* Prints "dawbridge VERSION[ (git DESCRIBE)]" and "data: DIR (SOURCE)" (or "data: none (why)") to f. Returns the
 * exit code: 0, or 5 (configuration error) when no data directory is found. */
int app_print_version(FILE *f);

#endif
