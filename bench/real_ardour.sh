#!/usr/bin/env bash
# bench/real_ardour.sh - the companion's figures on a real headless Ardour 7 and on the mock DAW, in one run
# (issue 11). Prints "name value unit" lines; the figures are in docs/benchmarks.md.
#   1. Ardour alone (the runner's plain session-host loop, no companion): idle CPU over BENCH_IDLE_S seconds;
#      then 20,000 idle companion polls inside Ardour's Lua (bench/real_ardour_idle_poll.lua): cost per poll
#   2. Ardour with the companion (tests/companions/ardour_e2e.sh starts it): bench/real_ardour.py measures
#      idle CPU, companion command latency (median, p95), native confirm latency, 10,000 notes written + read
#      back, `state` with 8/64/256 tracks
#   2c. native confirm in-process (bench_real_ardour_confirm) against headless Ardour with smaller audio buffers
#       (BENCH_CONFIRM_BUFFERS, default "64"; space-separated sizes in samples)
#   2b. the Ardour GUI under Xvfb: idle CPU without and with the companion's timer hook (BENCH_GUI=0: skip),
#       BENCH_GUI_PAIRS interleaved pairs (default 1) of BENCH_GUI_IDLE_S seconds (default BENCH_IDLE_S)
#   3. the mock DAW (its Ardour dialect and companion): the same companion figures
# Usage: bench/real_ardour.sh [PORT]   (UDP PORT and PORT+1; default 3937).  Bounded: every wait has a deadline.
# Environment: BENCH_ROUNDS (100), BENCH_IDLE_S (10), BENCH_SIZES (8,64,256), BENCH_JSON_DIR (keep the JSON),
#   MOCK_DAW (the mock-daw binary; default: build*/mock-daw next to this tree), BENCH_SKIP_ARDOUR=1 (mock only),
#   BENCH_HEADLESS=0 (no headless Ardour: parts 1 and 2), BENCH_MOCK=0 (no part 3).
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
if [[ ${BENCH_SKIP_ARDOUR:-0} != 1 && ${BENCH_HEADLESS:-1} == 1 ]]; then
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

# 2c. native confirm against smaller audio buffers: Ardour applies an OSC change at its next process cycle, so the
#     buffer (the Dummy backend's default 1024 samples = 21.3 ms at 48 kHz) bounds the confirmation; a fresh headless
#     Ardour with the companion per size in BENCH_CONFIRM_BUFFERS (default 64; empty: skip), idle CPU alongside
CONFIRM_BIN=${BENCH_CONFIRM_BIN:-}
if [[ -z $CONFIRM_BIN ]]; then
  for b in "$ROOT"/build*/bench_real_ardour_confirm; do [[ -x $b ]] && CONFIRM_BIN=$b && break; done
fi
if [[ ${BENCH_SKIP_ARDOUR:-0} != 1 && ${BENCH_HEADLESS:-1} == 1 && -n ${BENCH_CONFIRM_BUFFERS-64} && -x $CONFIRM_BIN ]]; then
  cat > "$JDIR/confirm_buf.sh" <<SH
#!/usr/bin/env bash
"$CONFIRM_BIN" --port "\$DAWBRIDGE_ARDOUR_PORT" --label "ardour_buf\$DAWBRIDGE_ARDOUR_BUFFER" -n "\${BENCH_CONFIRM_N:-200}" -w 10
rc=\$?
python3 - "\$DAWBRIDGE_ARDOUR_PID" "$IDLE_S" "ardour_buf\$DAWBRIDGE_ARDOUR_BUFFER.idle_cpu" <<'PY'
import os, sys, time
pid, secs, label = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
c0, t0 = cpu(), time.time(); time.sleep(secs)
print("%-40s %10.2f %s" % (label, 100.0 * (cpu() - c0) / (time.time() - t0), "% of a core (with the companion)"), flush=True)
PY
exit \$rc
SH
  chmod +x "$JDIR/confirm_buf.sh"
  for buf in ${BENCH_CONFIRM_BUFFERS-64}; do
    DAWBRIDGE_ARDOUR_BUFFER=$buf ARDOUR_E2E_RUN=$JDIR/confirm_buf.sh \
      bash "$ROOT/tests/companions/ardour_e2e.sh" "$PORT" 2> >(grep -v '^\[\|^0x' >&2) || rc=1
  done
fi

# 2b. the GUI under Xvfb: idle CPU without and with the companion's timer hook (BENCH_GUI=0 skips it), in
#     BENCH_GUI_PAIRS interleaved pairs (alone/hook, then hook/alone, ...) of BENCH_GUI_IDLE_S seconds each; the
#     medians and the median of the pairwise differences are printed (one pair is noise on a shared machine)
if [[ ${BENCH_SKIP_ARDOUR:-0} != 1 && ${BENCH_GUI:-1} == 1 ]] && command -v xvfb-run >/dev/null; then
  cat > "$JDIR/gui_idle.sh" <<'SH'
#!/usr/bin/env bash
# wait until the GUI settles (the session is loaded), then measure the Ardour process
sleep "${BENCH_GUI_SETTLE_S:-15}"
python3 - "$DAWBRIDGE_ARDOUR_PID" "$BENCH_GUI_IDLE_S" "$BENCH_GUI_LABEL" <<'PY'
import os, sys, time
pid, secs, label = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
def cpu():
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
def load1():
    return float(open("/proc/loadavg").read().split()[0])
l0, c0, t0 = load1(), cpu(), time.time(); time.sleep(secs)
pct = 100.0 * (cpu() - c0) / (time.time() - t0)
print("%-40s %10.2f %s" % (label, pct, "%% of a core (load %.1f-%.1f)" % (l0, load1())), flush=True)
PY
SH
  chmod +x "$JDIR/gui_idle.sh"
  export BENCH_GUI_IDLE_S=${BENCH_GUI_IDLE_S:-$IDLE_S}
  : > "$JDIR/gui_idle.txt"
  gui_run() {  # gui_run alone|with_hook PAIR
    local no_hook=0; [[ $1 == alone ]] && no_hook=1
    ARDOUR_GUI_NO_HOOK=$no_hook BENCH_GUI_LABEL=ardour_gui.idle_cpu_$1.$2 ARDOUR_E2E_RUN=$JDIR/gui_idle.sh \
      bash "$ROOT/tests/companions/ardour_gui_e2e.sh" "$PORT" 2> >(grep -v '^\[\|^0x' >&2) | tee -a "$JDIR/gui_idle.txt"
    return "${PIPESTATUS[0]}"
  }
  for i in $(seq 1 "${BENCH_GUI_PAIRS:-1}"); do
    if (( i % 2 )); then gui_run alone "$i" || rc=1; gui_run with_hook "$i" || rc=1
    else gui_run with_hook "$i" || rc=1; gui_run alone "$i" || rc=1; fi
  done
  python3 - "$JDIR/gui_idle.txt" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 2 and f[0].startswith("ardour_gui.idle_cpu_"):
        kind, pair = f[0][len("ardour_gui.idle_cpu_"):].rsplit(".", 1)
        runs.setdefault(int(pair), {})[kind] = float(f[1])
pairs = [r for r in runs.values() if "alone" in r and "with_hook" in r]
if pairs:
    a = statistics.median(r["alone"] for r in pairs)
    h = statistics.median(r["with_hook"] for r in pairs)
    d = statistics.median(r["with_hook"] - r["alone"] for r in pairs)
    print("%-40s %10.2f %s" % ("ardour_gui.idle_cpu_alone", a, "%% of a core (median of %d)" % len(pairs)))
    print("%-40s %10.2f %s" % ("ardour_gui.idle_cpu_with_hook", h, "%% of a core (median of %d)" % len(pairs)))
    print("%-40s %10.2f %s" % ("ardour_gui.idle_hook_minus_alone", d, "pp (median of %d interleaved pairs)" % len(pairs)))
PY
fi

# 3. the mock DAW
MOCK=${MOCK_DAW:-}
if [[ -z $MOCK ]]; then
  for m in "$ROOT"/build*/mock-daw; do [[ -x $m ]] && MOCK=$m && break; done
fi
if [[ ${BENCH_MOCK:-1} != 1 ]]; then
  :
elif [[ -n $MOCK && -x $MOCK ]]; then
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
