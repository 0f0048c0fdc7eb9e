/* The history commands (issue 6). */
#include <stdio.h>

#include "cli.h"

int cmd_history(struct cli *c) {
  fprintf(stderr, "dawbridge: '%s' is not available in this build yet\n", c->cmd);
  return CLI_EXIT_USAGE;
}
