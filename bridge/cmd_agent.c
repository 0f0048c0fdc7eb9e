/* The agent commands: ask, plan, exec, demo (issue 5). */
#include <stdio.h>

#include "cli.h"

static int not_yet(struct cli *c) {
  fprintf(stderr, "dawbridge: '%s' is not available in this build yet\n", c->cmd);
  return CLI_EXIT_USAGE;
}

int cmd_ask(struct cli *c) { return not_yet(c); }
int cmd_plan(struct cli *c) { return not_yet(c); }
int cmd_exec(struct cli *c) { return not_yet(c); }
int cmd_demo(struct cli *c) { return not_yet(c); }
