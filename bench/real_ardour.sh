#!/usr/bin/env bash
# bench/real_ardour.sh - the companion's figures on a real headless Ardour 7 and on the mock DAW, in one run
# (issue 11). Prints "name value unit" lines; the figures are in docs/benchmarks.md.
#   1. Ardour alone (the runner's plain session-host loop, no companion): idle CPU over BENCH_IDLE_S seconds;
#      then 20,000 idle companion polls inside Ardour's Lua (bench/real_ardour_idle_poll.lua): cost per poll
#   2. Ardour with the companion (tests/companions/ardour_e2e.sh starts it): bench/real_ardour.py measures
#      idle CPU, companion command latency (median, p95), native confirm latency, 10,000 notes written + read
#      back, `state` with 8/64/256 tracks
#   2b. the Ardour GUI under Xvfb: idle CPU without and with the companion's timer hook (BENCH_GUI=0: skip)
#   3. the mock DAW (its Ardour dialect and companion): the same companion figures
# Usage: bench/real_ardour.sh [PORT]   (UDP PORT and PORT+1; default 3937).  Bounded: every wait has a deadline.
# Environment: BENCH_ROUNDS (100), BENCH_IDLE_S (10), BENCH_SIZES (8,64,256), BENCH_JSON_DIR (keep the JSON),
#   MOCK_DAW (the mock-daw binary; default: build*/mock-daw next to this tree), BENCH_SKIP_ARDOUR=1 (mock only).
# Exit: 0 ok, 1 a run failed, 77 Ardour not installed (and BENCH_SKIP_ARDOUR not set).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PORT=${1:-3937}
IDLE_S=${BENCH_IDLE_S:-10}
JDIR=${BENCH_JSON_DIR:-$(mktemp -d /tmp/dawbridge-bench.XXXXXX)}
mkdir -p "$JDIR"
export BENCH_IDLE_S=$IDLE_S
rc=0
log() { echo "real_ardour: $*" >&2; }

# the bridge binary for `dawbridge state` timings (DAWBRIDGE_BIN, else build*/dawbridge of this tree)
if [[ -z ${DAWBRIDGE_BIN:-} ]]; then
  for b in "$ROOT"/build*/dawbridge; do [[ -x $b ]] && export DAWBRIDGE_BIN=$b && break; done
fi
if [[ ${BENCH_SKIP_ARDOUR:-0} != 1 ]]; then
  if [[ ! -x /usr/lib/ardour7/luasession ]]; then log "Ardour 7 is not installed"; exit 77; fi
  # 1. Ardour alone
  export ARDOUR_HEADLESS_DIR=$JDIR/alone
  if pid=$(bash "$ROOT/tests/support/ardour-runner.sh" start "$PORT" 2>"$JDIR/alone.log"); then
    sleep 1
    python3 - "$pid" "$IDLE_S" <<'PY'
import os, sys, time
pid, secs = int(sys.argv[1]), float(sys.argv[2])
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
c0, t0 = cpu(), time.time(); time.sleep(secs)
print("%-40s %10.2f %s" % ("ardour.idle_cpu_alone", 100.0 * (cpu() - c0) / (time.time() - t0), "% of a core"), flush=True)
PY
    bash "$ROOT/tests/support/ardour-runner.sh" stop "$PORT" 2>>"$JDIR/alone.log" || true
  else
    log "Ardour alone did not start:"; cat "$JDIR/alone.log" >&2; rc=1
  fi
  # 1b. the companion's idle poll alone, inside Ardour's Lua (wall time per poll; noise-free upper bound of its cost)
  if [[ -d $JDIR/alone/session ]]; then
    mkdir -p "$JDIR/idle-spool/in" "$JDIR/idle-spool/out"
    ( export LD_LIBRARY_PATH=/usr/lib/ardour7 ARDOUR_DATA_PATH=/usr/share/ardour7 ARDOUR_CONFIG_PATH=/etc/ardour7 \
             ARDOUR_DLL_PATH=/usr/lib/ardour7 XDG_CONFIG_HOME=$JDIR/alone/xdg-config XDG_CACHE_HOME=$JDIR/alone/xdg-cache
      timeout 120 /usr/lib/ardour7/luasession "$HERE/real_ardour_idle_poll.lua" "$JDIR/alone/session" osctest \
        "$ROOT/osc-maps/companions/ardour/dawbridge_core.lua" "$JDIR/idle-spool" 20000 2>/dev/null | grep '^ardour\.' ) \
      || { log "idle poll probe failed"; rc=1; }
  fi
  unset ARDOUR_HEADLESS_DIR
  # 2. Ardour with the companion
  BENCH_LABEL=ardour BENCH_JSON=$JDIR/ardour.json ARDOUR_E2E_RUN=$HERE/real_ardour.py \
    bash "$ROOT/tests/companions/ardour_e2e.sh" "$PORT" 2> >(grep -v '^\[\|^0x' >&2) || rc=1
fi

# 2b. the GUI under Xvfb: idle CPU without and with the companion's timer hook (BENCH_GUI=0 skips it)
if [[ ${BENCH_SKIP_ARDOUR:-0} != 1 && ${BENCH_GUI:-1} == 1 ]] && command -v xvfb-run >/dev/null; then
  cat > "$JDIR/gui_idle.sh" <<'SH'
#!/usr/bin/env bash
# wait until the GUI settles (the session is loaded), then measure the Ardour process
sleep "${BENCH_GUI_SETTLE_S:-15}"
python3 - "$DAWBRIDGE_ARDOUR_PID" "$BENCH_IDLE_S" "$BENCH_GUI_LABEL" <<'PY'
import os, sys, time
pid, secs, label = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
c0, t0 = cpu(), time.time(); time.sleep(secs)
print("%-40s %10.2f %s" % (label, 100.0 * (cpu() - c0) / (time.time() - t0), "% of a core"), flush=True)
PY
SH
  chmod +x "$JDIR/gui_idle.sh"
  ARDOUR_GUI_NO_HOOK=1 BENCH_GUI_LABEL=ardour_gui.idle_cpu_alone ARDOUR_E2E_RUN=$JDIR/gui_idle.sh \
    bash "$ROOT/tests/companions/ardour_gui_e2e.sh" "$PORT" 2> >(grep -v '^\[\|^0x' >&2) || rc=1
  BENCH_GUI_LABEL=ardour_gui.idle_cpu_with_hook ARDOUR_E2E_RUN=$JDIR/gui_idle.sh \
    bash "$ROOT/tests/companions/ardour_gui_e2e.sh" "$PORT" 2> >(grep -v '^\[\|^0x' >&2) || rc=1
fi

# 3. the mock DAW
MOCK=${MOCK_DAW:-}
if [[ -z $MOCK ]]; then
  for m in "$ROOT"/build*/mock-daw; do [[ -x $m ]] && MOCK=$m && break; done
fi
if [[ -n $MOCK && -x $MOCK ]]; then
  SP=$JDIR/mock-spool; mkdir -p "$SP/in" "$SP/out"; chmod 700 "$SP"
  "$MOCK" --dialect ardour --port "$PORT" --spool "$SP" --quiet & MPID=$!
  sleep 0.5
  BENCH_LABEL=mock BENCH_JSON=$JDIR/mock.json DAWBRIDGE_SPOOL=$SP DAWBRIDGE_ARDOUR_PORT=$PORT DAWBRIDGE_ARDOUR_PID=$MPID \
    python3 "$HERE/real_ardour.py" || rc=1
  kill -TERM "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null
else
  log "no mock-daw binary (build the tree first, or set MOCK_DAW): mock figures skipped"
fi
log "JSON figures in $JDIR"
exit $rc
