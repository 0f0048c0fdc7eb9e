#!/usr/bin/env bash
# ardour_e2e.sh - end-to-end test of the dawbridge Ardour companion against a REAL Ardour 7 (headless).
#
# Starts Ardour's Lua session host (luasession, "None (Dummy)" backend, no audio hardware, no X) on a fresh
# session with the companion's headless entry (osc-maps/companions/ardour/dawbridge.lua) and Ardour's own OSC
# surface enabled, then runs tests/companions/ardour_e2e.py, which drives the companion through the spool and
# checks the results in the companion's replies, through Ardour's native OSC and in the saved session files.
# Ardour is started and stopped by PID; every wait is bounded.
#
# Usage: tests/companions/ardour_e2e.sh [OSC_PORT]     (default 3917; the reply port is OSC_PORT+1)
# Exit: 0 pass, 1 fail, 77 skip (Ardour not installed).
# Environment: ARDOUR_E2E_KEEP=1 keeps the work dir; ARDOUR_E2E_DIR sets it; ARDOUR_E2E_RUN=PROGRAM runs PROGRAM
# (with DAWBRIDGE_SPOOL and DAWBRIDGE_ARDOUR_PORT set) instead of ardour_e2e.py.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PORT=${1:-3917}
REPLY_PORT=$((PORT + 1))
LUASESSION=${LUASESSION:-/usr/lib/ardour7/luasession}
WORK=${ARDOUR_E2E_DIR:-$(mktemp -d /tmp/dawbridge-ardour-e2e.XXXXXX)}
SESS_NAME=e2e
SESS_DIR=$WORK/session
SPOOL=$WORK/spool
LOG=$WORK/ardour.log
PID=""

log() { echo "ardour_e2e: $*" >&2; }

if [[ ! -x $LUASESSION ]] || ! dpkg -s ardour >/dev/null 2>&1; then
  log "SKIP: Ardour (Debian package 'ardour', $LUASESSION) is not installed"
  exit 77
fi
command -v python3 >/dev/null || { log "SKIP: python3 not found"; exit 77; }

cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
    touch "$SPOOL/ardour.stop"
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$PID" 2>/dev/null; then log "PID $PID did not stop; SIGTERM"; kill -TERM "$PID" 2>/dev/null || true; fi
    for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
  fi
  if [[ ${ARDOUR_E2E_KEEP:-0} != 1 ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT

if [[ -n "$(ss -H -uln "sport = :$PORT" 2>/dev/null)" || -n "$(ss -H -uln "sport = :$REPLY_PORT" 2>/dev/null)" ]]; then
  log "UDP port $PORT or $REPLY_PORT is busy"; exit 1
fi

export LD_LIBRARY_PATH=/usr/lib/ardour7${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export ARDOUR_DATA_PATH=/usr/share/ardour7 ARDOUR_CONFIG_PATH=/etc/ardour7 ARDOUR_DLL_PATH=/usr/lib/ardour7
export VAMP_PATH=/usr/lib/ardour7/vamp
export XDG_CONFIG_HOME=$WORK/xdg-config XDG_CACHE_HOME=$WORK/xdg-cache
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$SPOOL/in" "$SPOOL/out"

# 1. a fresh session (one audio track, so the companion's MIDI track is not strip 1)
cat > "$WORK/create.lua" <<EOF
AudioEngine:set_backend ("None (Dummy)", "", "")
local s = create_session ("$SESS_DIR", "$SESS_NAME", 48000)
assert (s, "create_session failed")
Session:new_audio_track (1, 2, nil, 1, "Audio", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
Session:save_state ("", false, false, false, false, false)
close_session ()
quit ()
EOF
if ! timeout 120 "$LUASESSION" "$WORK/create.lua" > "$WORK/create.log" 2>&1; then
  log "session creation failed:"; cat "$WORK/create.log" >&2; exit 1
fi
F=$SESS_DIR/$SESS_NAME.ardour
[[ -f $F ]] || { log "no session file $F"; cat "$WORK/create.log" >&2; exit 1; }
sed -i 's|<Protocol name="Open Sound Control (OSC)" active="0"/>|<Protocol name="Open Sound Control (OSC)" active="1"/>|' "$F"
grep -q '<Protocol name="Open Sound Control (OSC)" active="1"' "$F" || { log "could not enable OSC in $F"; exit 1; }

# 2. Ardour with the companion's headless entry
DAWBRIDGE_SPOOL=$SPOOL DAWBRIDGE_ARDOUR_OSC_PORT=$PORT \
  setsid "$LUASESSION" -X "$ROOT/osc-maps/companions/ardour/dawbridge.lua" "$SESS_DIR" "$SESS_NAME" \
  > "$LOG" 2>&1 < /dev/null &
PID=$!
log "started luasession PID $PID (OSC udp $PORT), work dir $WORK"
ready=0
for _ in $(seq 1 600); do
  kill -0 "$PID" 2>/dev/null || { log "Ardour exited during startup:"; cat "$LOG" >&2; PID=""; exit 1; }
  if grep -q "dawbridge: READY" "$LOG" && [[ -n "$(ss -H -ulnp "sport = :$PORT" 2>/dev/null | grep "pid=$PID,")" ]]; then
    ready=1; break
  fi
  sleep 0.1
done
(( ready )) || { log "Ardour not ready within 60 s:"; cat "$LOG" >&2; exit 1; }

# 3. the test proper (ARDOUR_E2E_RUN: another test program instead, e.g. the bridge's own, given the spool and port)
if [[ -n ${ARDOUR_E2E_RUN:-} ]]; then
  DAWBRIDGE_SPOOL=$SPOOL DAWBRIDGE_ARDOUR_PORT=$PORT DAWBRIDGE_ARDOUR_PID=$PID "$ARDOUR_E2E_RUN"
else
  python3 "$HERE/ardour_e2e.py" --spool "$SPOOL" --osc-port "$PORT" --reply-port "$REPLY_PORT" \
    --session-dir "$SESS_DIR" --session-name "$SESS_NAME"
fi
rc=$?
# never a nested Ardour transaction (7.3 aborts both, and a debug build asserts)
if grep -q "An UNDO transaction was started while a prior command was underway" "$LOG"; then
  log "FAIL: Ardour logged a nested undo transaction:"; grep "An UNDO transaction" "$LOG" | head -3 >&2; rc=1
fi
if (( rc != 0 )); then log "FAILED; Ardour log tail:"; tail -40 "$LOG" >&2; fi

# 4. stop by PID (the companion loop exits on its stop file)
touch "$SPOOL/ardour.stop"
for _ in $(seq 1 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then log "companion did not stop on the stop file"; rc=1; fi
exit $rc
