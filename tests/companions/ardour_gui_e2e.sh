#!/usr/bin/env bash
# ardour_gui_e2e.sh - end-to-end test of the dawbridge Ardour companion in the real Ardour 7 GUI, under Xvfb.
#
# What it does:
#   1. creates a fresh session with Ardour's Lua session host (Dummy backend) and enables the OSC surface;
#   2. writes a private Ardour user config (XDG_CONFIG_HOME in the work dir: Dummy engine, no first-run dialogs,
#      OSC port) and installs the companion's timer hook into it with osc-maps/companions/ardour/install-gui-hook.sh;
#   3. starts the Ardour GUI under xvfb-run (no display needed) and tracks the Ardour process by PID;
#   4. runs tests/companions/ardour_e2e.py --gui: ping through the hook (undo "native"), one AI request
#      (begin_undo, MIDI track with ACE Reasonable Synth, clip with notes, ACE Reverb, end_undo), read_clip,
#      then Ardour's own undo through native OSC /undo (the clip and the request's reverb disappear) and /redo
#      (they come back); then a request that only adds an effect: /undo removes exactly that effect (the clip of
#      the request before stays), /redo puts it back -- Ardour records no undo for plugins, the hook follows the
#      companion's undo mark (osc-maps/companions/README.md);
#   5. stops Ardour with SIGTERM by PID.
# Needs: Debian packages ardour, ardour-lv2-plugins, xvfb, xauth, python3.
# Usage: tests/companions/ardour_gui_e2e.sh [OSC_PORT]   (default 3927; reply port OSC_PORT+1)
# Exit: 0 pass, 1 fail, 77 skip (Ardour or Xvfb missing). ARDOUR_E2E_KEEP=1 keeps the work dir.
# ARDOUR_E2E_RUN=PROGRAM runs PROGRAM instead of the test (with DAWBRIDGE_SPOOL, DAWBRIDGE_ARDOUR_PORT and
# DAWBRIDGE_ARDOUR_PID set); ARDOUR_GUI_NO_HOOK=1 starts the GUI without the companion's hook.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/support/ardour-lib.sh"
PORT=${1:-3927}
REPLY_PORT=$((PORT + 1))
WORK=${ARDOUR_E2E_DIR:-$(mktemp -d /tmp/dawbridge-ardour-gui.XXXXXX)}
SESS_NAME=gui
SESS_DIR=$WORK/session
SPOOL=$WORK/spool
LOG=$WORK/ardour-gui.log
PID=""
WRAPPER=""

log() { echo "ardour_gui_e2e: $*" >&2; }

[[ -x $ARDOUR_LUASESSION && -x $ARDOUR_GUI_BIN ]] || { log "SKIP: Ardour 7 is not installed"; exit 77; }
command -v xvfb-run >/dev/null || { log "SKIP: xvfb-run (package xvfb) is not installed"; exit 77; }

cleanup() {
  ardour_stop "$PID"
  if [[ -n $WRAPPER ]] && kill -0 "$WRAPPER" 2>/dev/null; then kill -TERM "$WRAPPER" 2>/dev/null || true; fi
  # xvfb-run runs in its own session (setsid): its Xvfb outlived it, so end the whole process group by its id
  if [[ -n $WRAPPER ]]; then
    kill -TERM -- "-$WRAPPER" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 -- "-$WRAPPER" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$WRAPPER" 2>/dev/null || true
  fi
  if [[ ${ARDOUR_E2E_KEEP:-0} != 1 ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}
trap cleanup EXIT

ardour_env "$WORK"
mkdir -p "$SPOOL/in" "$SPOOL/out"

# 1. session
ardour_create_session "$SESS_DIR" "$SESS_NAME" \
  'Session:new_audio_track (1, 2, nil, 1, "Audio", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)' ||
  exit 1
F=$SESS_DIR/$SESS_NAME.ardour
# the luasession-written EngineHints make the GUI ask about a changed device: drop them
sed -i '/<EngineHints /d' "$F"

# 2. private Ardour config + the companion hook
CFG=$XDG_CONFIG_HOME/ardour7
ardour_write_gui_config "$CFG" "$PORT"
if [[ ${ARDOUR_GUI_NO_HOOK:-0} != 1 ]]; then
  "$ROOT/osc-maps/companions/ardour/install-gui-hook.sh" "$CFG" >&2 || exit 1
fi

# 3. the GUI under Xvfb
DAWBRIDGE_SPOOL=$SPOOL setsid xvfb-run -a -s "-screen 0 1600x1200x24 -nolisten tcp" \
  "$ARDOUR_GUI_BIN" -a -n "$F" > "$LOG" 2>&1 < /dev/null &
WRAPPER=$!
PID=$(ardour_gui_pid "$WRAPPER" 300) || { cat "$LOG" >&2; exit 1; }
log "Ardour GUI PID $PID (OSC udp $PORT), work dir $WORK"
ready=0
for _ in $(seq 1 900); do
  kill -0 "$PID" 2>/dev/null || { log "Ardour exited:"; tail -40 "$LOG" >&2; PID=""; exit 1; }
  if ardour_port_held_by "$PORT" "$PID"; then ready=1; break; fi
  sleep 0.1
done
(( ready )) || { log "OSC port not bound within 90 s"; tail -40 "$LOG" >&2; exit 1; }

# 4. the test (the first ping waits up to 60 s for the session and the hook)
if [[ -n ${ARDOUR_E2E_RUN:-} ]]; then  # another program instead (e.g. bench/real_ardour.sh's idle measurement)
  DAWBRIDGE_SPOOL=$SPOOL DAWBRIDGE_ARDOUR_PORT=$PORT DAWBRIDGE_ARDOUR_PID=$PID "$ARDOUR_E2E_RUN"
else
  python3 "$HERE/ardour_e2e.py" --gui --spool "$SPOOL" --osc-port "$PORT" --reply-port "$REPLY_PORT" \
    --session-dir "$SESS_DIR" --session-name "$SESS_NAME"
fi
rc=$?
if grep -q "An UNDO transaction was started while a prior command was underway" "$LOG"; then
  log "FAIL: Ardour logged a nested undo transaction"; rc=1
fi
(( rc == 0 )) || { log "FAILED; Ardour log tail:"; tail -40 "$LOG" >&2; }
exit $rc
