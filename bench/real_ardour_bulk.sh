#!/usr/bin/env bash
# real_ardour_bulk.sh [PORT] [ROUNDS] - 10,000 notes written + read back through the bridge against real Ardour 7.3
# headless with the companion (issue 11). Starts Ardour by PID through tests/companions/ardour_e2e.sh (default UDP
# port 3970, replies on PORT+1), waits until Ardour has settled after loading the session (its MIDNAM loader thread
# parses patch files for a few seconds after start and competes for the CPU), then runs bench_real_ardour_bulk
# ROUNDS times (default 5) in one process holding the link. Prints the bench's "name value unit" lines and the load.
# Exit: the bench's (0 all confirmed), 77 when Ardour is not installed. BUILD_DIR: where bench_real_ardour_bulk is
# (default ./build).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
if [[ -n ${BULK_INNER:-} ]]; then
  # inside ardour_e2e.sh: DAWBRIDGE_ARDOUR_PID is Ardour; settle = under 10 % of a core over 1 s, at most 30 s
  pid=$DAWBRIDGE_ARDOUR_PID hz=$(getconf CLK_TCK)
  cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
  for _ in $(seq 1 30); do
    a=$(cpu); sleep 1; b=$(cpu)
    (( (b - a) * 100 < hz * 10 )) && break
  done
  echo "load $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) before the rounds"
  "$BULK_BENCH" "$BULK_ROUNDS"
  rc=$?
  echo "load $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) after"
  exit $rc
fi
PORT=${1:-3970}
export BULK_ROUNDS=${2:-5}
export BULK_BENCH=${BUILD_DIR:-$ROOT/build}/bench_real_ardour_bulk
[[ -x $BULK_BENCH ]] || { echo "real_ardour_bulk: build bench_real_ardour_bulk first ($BULK_BENCH)" >&2; exit 2; }
BULK_INNER=1 ARDOUR_E2E_RUN="$HERE/real_ardour_bulk.sh" exec bash "$ROOT/tests/companions/ardour_e2e.sh" "$PORT"
