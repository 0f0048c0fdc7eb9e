#!/usr/bin/env bash
# The include check can fail: on a small tree where bridge/ includes an agent header, agent/ an app header and
# mock-daw/ a bridge header, util/ a vocab header it must report each (exit 1); on the same tree without them it must
# pass (exit 0): there every layer includes util/.
set -uo pipefail
check=$(dirname "$0")/check_includes.sh
t=$(mktemp -d /tmp/dawbridge-layers-XXXXXX)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t"/{util,vocab,bridge,osc-maps,agent,app,mock-daw}
touch "$t/util/strbuf.h" "$t/vocab/vocab.h" "$t/bridge/session.h" "$t/osc-maps/oscmap.h" "$t/agent/agent.h" "$t/app/cli.h" "$t/mock-daw/mock.h"
printf '#include "strbuf.h"\n' >"$t/util/strbuf.c"
printf '#include "strbuf.h"\n' >"$t/vocab/vocab.c"
printf '#include "session.h"\n#include "oscmap.h"\n#include "vocab.h"\n#include "strbuf.h"\n' >"$t/bridge/session.c"
printf '#include "agent.h"\n#include "session.h"\n' >"$t/agent/agent.c"
printf '#include "cli.h"\n#include "agent.h"\n#include "mock.h"\n#include "dawbridge_version.h"\n' >"$t/app/main.c"
printf '#include "mock.h"\n#include "strbuf.h"\n' >"$t/mock-daw/mock.c"
out=$(bash "$check" "$t" 2>&1) || { echo "$out"; echo "FAIL: a clean tree was refused"; exit 1; }
printf '#include "agent.h"\n' >"$t/bridge/daw.c"
printf '  #  include "cli.h" /* spaced */\n' >"$t/agent/plan.c"
printf '#include "session.h"\n' >"$t/mock-daw/ardour.c"
printf '#include "nowhere.h"\n' >"$t/vocab/vocab.c"
printf '#include "vocab.h"\n' >"$t/util/errfmt.h"
out=$(bash "$check" "$t" 2>&1); rc=$?
echo "$out"
[ $rc -eq 1 ] || { echo "FAIL: exit $rc, not 1"; exit 1; }
for want in 'bridge/daw.c: includes "agent.h" (agent/agent.h): bridge/ may include only from: bridge osc-maps vocab' \
  'agent/plan.c: includes "cli.h" (app/cli.h)' 'mock-daw/ardour.c: includes "session.h" (bridge/session.h)' \
  'vocab/vocab.c: includes "nowhere.h", which is in no layer directory' \
  'util/errfmt.h: includes "vocab.h" (vocab/vocab.h): util/ may include only from: util' 'layers: 5 include(s) point up'; do
  grep -qF "$want" <<<"$out" || { echo "FAIL: not reported: $want"; exit 1; }
done
echo "PASS"
