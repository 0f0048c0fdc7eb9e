/* Fuzz target: the configuration file (app/config.c app_config_parse), as main reads it. Invariants: no
 * crash/sanitizer report/hang; an accepted file applies to the options without crashing and every key it sets has a
 * line >= 1; a refused file has a known error code and a message naming the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  app_config_t *c = NULL;
  char err[1024] = "";
  int rc = app_config_parse((const char *)data, size, "fuzz.json", &c, err, sizeof err);
  if (rc) {
    if (c || rc < APP_CONFIG_ENOMEM || strncmp(err, "fuzz.json", 9)) abort();
    return 0;
  }
  if (!c) abort();
  struct cli_opts o;
  memset(&o, 0, sizeof o);
  o.listen_port = o.log_level = o.timeout_ms = o.retries = o.profile = -1;
  app_config_apply(c, &o);
  for (size_t i = 0; i < app_config_nkeys(); i++) {
    const char *k = app_config_key(i, NULL);
    if (app_config_line(c, k) < 0) abort();
  }
  if (o.port < 0 || o.port > 65535 || o.listen_port < -1 || o.listen_port > 65535 || o.log_level > 3 ||
      o.profile < -1 || o.profile > 1)
    abort();
  app_config_free(c);
  return 0;
}
