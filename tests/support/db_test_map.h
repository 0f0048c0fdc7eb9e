/* db_test_map: a real dialect map (osc-maps/<dialect>.json, found through oscmap_find) for a cmocka unit test.
 * Header only, for the suites that link the map (dbcore); include it after <cmocka.h>. */
#ifndef DAWBRIDGE_DB_TEST_MAP_H
#define DAWBRIDGE_DB_TEST_MAP_H

#include "oscmap.h"

/* The loaded map (the caller frees it with oscmap_free); the test fails, naming the file and the reason, if the
 * map cannot be found or loaded. */
static inline oscmap_t *db_test_load_map(const char *dialect) {
  char path[1024], err[512] = "";
  if (oscmap_find(dialect, path, sizeof path)) fail_msg("cannot find the %s map (%s)", dialect, path);
  oscmap_t *m = NULL;
  int rc = oscmap_load(path, &m, err, sizeof err);
  if (rc) fail_msg("%s: %d %s", path, rc, err);
  return m;
}

#endif
