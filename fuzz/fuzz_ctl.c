/* Fuzz target: one request line of the live daemon's control socket (app/ctl.c ctl_parse_line), as the server
 * parses it. Invariants: no crash/sanitizer report/hang; an accepted line has a known op; an accepted submit has a
 * known kind and the fields its kind needs (text for ask/plan/exec, tool for call, iteration >= 1 for restore),
 * args (if any) is an object; a refused line has an error message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct ctl_msg m;
  char err[512] = "";
  int rc = ctl_parse_line((const char *)data, size, &m, err, sizeof err);
  if (rc) {
    if (rc != CTL_EINVAL || !err[0]) abort();
  } else {
    if ((unsigned)m.op > CTL_OP_TOOLS || !json_is_object(m.root)) abort();
    if (m.op == CTL_OP_SUBMIT) {
      const char *name = live_kind_name(m.req.kind);
      if (!name || live_kind_parse(name) != (int)m.req.kind) abort();
      if ((m.req.kind == LIVE_ASK || m.req.kind == LIVE_PLAN || m.req.kind == LIVE_EXEC) &&
          (!m.req.text || !m.req.text[0]))
        abort();
      if (m.req.kind == LIVE_CALL && (!m.req.tool || !m.req.tool[0])) abort();
      if (m.req.kind == LIVE_RESTORE && m.req.iteration < 1) abort();
      if (m.req.args && !json_is_object(m.req.args)) abort();
    }
    if (m.op == CTL_OP_ITERATION && m.number < 1) abort();
    if (m.op == CTL_OP_CANCEL && m.number < 0) abort();
  }
  ctl_msg_clear(&m);
  return 0;
}
