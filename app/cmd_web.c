/* cmd_web.c: starts the web page for `dawbridge run --web-port N` (app/web.h) and prints the URL to open. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "web.h"

int cli_start_web(struct cli *c, struct live *live, const struct log_sink *log, const char *runtime_dir,
                  struct web **out) {
  *out = NULL;
  if (c->o.web_port <= 0) return 0;
  struct web_config wc = {
      .port = c->o.web_port,
      .listen = c->o.web_listen,
      .runtime_dir = runtime_dir,
      .log = *log,
  };
  char err[512];
  int rc = web_new(c->loop, live, &wc, out, err, sizeof err);
  if (rc) {
    *out = NULL;
    fprintf(stderr, "dawbridge: %s\n", err);
    return rc == WEB_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_CONFIG;
  }
  fprintf(stderr, "dawbridge: run: web page: %s\n", web_url(*out));
  return 0;
}
