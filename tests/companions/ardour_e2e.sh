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
. "$ROOT/tests/support/ardour-lib.sh"
PORT=${1:-3917}
REPLY_PORT=$((PORT + 1))
WORK=${ARDOUR_E2E_DIR:-$(mktemp -d /tmp/dawbridge-ardour-e2e.XXXXXX)}
SESS_NAME=e2e
SESS_DIR=$WORK/session
SPOOL=$WORK/spool
LOG=$WORK/ardour.log

log() { echo "ardour_e2e: $*" >&2; }

if ! ardour_installed; then
  log "SKIP: Ardour (Debian package 'ardour', $ARDOUR_LUASESSION) is not installed"
  exit 77
fi
command -v python3 >/dev/null || { log "SKIP: python3 not found"; exit 77; }

cleanup() {
  ardour_stop "$ARDOUR_PID" "$SPOOL/ardour.stop"
  if [[ ${ARDOUR_E2E_KEEP:-0} != 1 ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT

if ardour_udp_busy "$PORT" "$REPLY_PORT"; then log "UDP port $PORT or $REPLY_PORT is busy"; exit 1; fi
ardour_env "$WORK"
mkdir -p "$SPOOL/in" "$SPOOL/out"

# 1. a fresh session (one audio track, so the companion's MIDI track is not strip 1)
ardour_create_session "$SESS_DIR" "$SESS_NAME" \
  'Session:new_audio_track (1, 2, nil, 1, "Audio", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)' ||
  exit 1

# 2. Ardour with the companion's headless entry
ardour_start_companion "$PORT" "$SPOOL" "$SESS_DIR" "$SESS_NAME" "$LOG" "$ROOT/osc-maps/companions/ardour/dawbridge.lua" ||
  exit 1
PID=$ARDOUR_PID
log "luasession PID $PID ready (OSC udp $PORT), work dir $WORK"

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
ardour_wait_gone "$PID" 150 || { log "companion did not stop on the stop file"; rc=1; }
exit $rc
