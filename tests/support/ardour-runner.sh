#!/usr/bin/env bash
# ardour-runner.sh - run a real Ardour 7 (Debian 12 package) headless, with
# its OSC control surface listening on a UDP port, for integration tests.
#
# How it works: Ardour's own Lua session host (/usr/lib/ardour7/luasession,
# a.k.a. ardour7-lua) with the "None (Dummy)" audio backend. No X display,
# no JACK, no audio hardware. A fresh session is created on every start
# (2 audio tracks + 1 MIDI track), the OSC surface is switched on in the
# session file, and the session is loaded and kept alive by a Lua loop.
#
# Adapted for dawbridge's tests from the project's shared ardour-runner.sh (same behaviour; its own work dir
# /tmp/dawbridge-ardour-PORT). Used by ctest's real-Ardour fixture (tests/CMake) and by .ci/run.
#
# Usage:
#   ardour-runner.sh [start] [PORT]   start (default PORT 3819); prints the PID on stdout
#   ardour-runner.sh start-gui [PORT] same, but runs the full Ardour GUI under Xvfb
#                                       (needed for any /access_action, e.g. Transport/ToggleRoll
#                                       and the Lua actions LuaAction/script-1..3 below; note that
#                                       /undo and /redo showed no effect in either mode)
#   ardour-runner.sh stop   [PORT]    stop the instance for PORT (by its PID)
#   ardour-runner.sh status [PORT]    exit 0 and print PID if running, else exit 1
#   ardour-runner.sh install          only install the Debian packages
#
# GUI mode installs three Lua action scripts, reachable over OSC with
#   /access_action s "LuaAction/script-1"   add a mono audio track named "OSC Audio"
#   /access_action s "LuaAction/script-2"   add a MIDI track "OSC MIDI" with ACE Reasonable Synth
#   /access_action s "LuaAction/script-3"   add ACE Compressor to the editor-selected tracks
#                                           (or to the last track if none is selected)
#
# Environment (optional):
#   ARDOUR_HEADLESS_DIR   work dir (default /tmp/dawbridge-ardour-PORT): session/, log, pid
#   ARDOUR_SAVE_ON_STOP   1 = save the session state before exiting on "stop" (default 0;
#                         headless mode only - GUI mode is stopped with SIGTERM, no save)
#   ARDOUR_START_TIMEOUT  seconds to wait for the OSC port (default 60)
#
# Exit codes: 0 ok, 1 not running (status) / generic failure, 2 port busy.
# Notes: Ardour's OSC server binds 0.0.0.0:PORT (all interfaces); talk to it on
# 127.0.0.1 only. Ardour silently moves to PORT+1.. if PORT is taken, so this
# script refuses to start when PORT is already bound.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ardour-lib.sh"

MODE=start
GUI=0
case "${1:-}" in
  start|stop|status|install) MODE=$1; shift ;;
  start-gui) MODE=start; GUI=1; shift ;;
esac
PORT=${1:-3819}
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || (( PORT < 1024 || PORT > 65535 )); then
  echo "ardour-runner: bad port '$PORT'" >&2; exit 1
fi

DIR=${ARDOUR_HEADLESS_DIR:-/tmp/dawbridge-ardour-$PORT}
SESS_NAME=osctest
SESS_DIR=$DIR/session
PIDFILE=$DIR/ardour.pid
LOG=$DIR/ardour.log
STOPFILE=$DIR/STOP
LUASESSION=$ARDOUR_LUASESSION
SAVE_ON_STOP=${ARDOUR_SAVE_ON_STOP:-0}
START_TIMEOUT=${ARDOUR_START_TIMEOUT:-60}

log() { echo "ardour-runner: $*" >&2; }

install_pkgs() {
  local need=()
  dpkg -s ardour >/dev/null 2>&1 || need+=(ardour)
  dpkg -s ardour-lv2-plugins >/dev/null 2>&1 || need+=(ardour-lv2-plugins)
  dpkg -s liblo-tools >/dev/null 2>&1 || need+=(liblo-tools)
  command -v ss >/dev/null 2>&1 || need+=(iproute2)
  if (( GUI )); then
    dpkg -s xvfb >/dev/null 2>&1 || need+=(xvfb)
    dpkg -s xauth >/dev/null 2>&1 || need+=(xauth)
  fi
  if ((${#need[@]})); then
    log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${need[@]}" >&2; then
      apt-get update >&2
      apt-get install -y --no-install-recommends "${need[@]}" >&2
    fi
  fi
  [[ -x $LUASESSION ]] || { log "missing $LUASESSION after install"; exit 1; }
}

# PID from the pid file, only if that process is alive and is our luasession (or GUI)
running_pid() { ardour_running_pid "$PIDFILE" "$DIR"; }

make_session() {
  local body
  body=$(cat <<'EOF'
Session:new_audio_track (1, 2, nil, 2, "Audio", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
-- MIDI track with Ardour's bundled "ACE Reasonable Synth" as instrument (if present)
local synth = ARDOUR.LuaAPI.new_plugin_info ("https://community.ardour.org/node/7596", ARDOUR.PluginType.LV2)
Session:new_midi_track (ARDOUR.ChanCount (ARDOUR.DataType ("midi"), 1), ARDOUR.ChanCount (ARDOUR.DataType ("audio"), 2),
  true, synth, nil, nil, 1, "MIDI", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
-- one effect plugin on "Audio 1" so /strip/plugin/* has something to list
local comp = ARDOUR.LuaAPI.new_plugin (Session, "urn:ardour:a-comp", ARDOUR.PluginType.LV2, "")
if not comp:isnil () then
  Session:route_by_name ("Audio 1"):add_processor_by_index (comp, 0, nil, true)
end
for r in Session:get_routes ():iter () do print ("route: " .. r:name ()) end
EOF
)
  ardour_create_session "$SESS_DIR" "$SESS_NAME" "$body" || { log "could not create the session"; exit 1; }
}

# GUI mode: per-instance Ardour user config (skips first-run wizard and the
# Audio/MIDI setup dialog, selects the Dummy backend, sets the OSC port) and
# the Lua action scripts (file "ui_scripts": base64 of a Lua chunk; the
# manager's table is 1-based: scripts[N] is action LuaAction/script-N).
write_gui_config() {
  local cfg=$XDG_CONFIG_HOME/ardour7
  ardour_write_gui_config "$cfg" "$PORT"
  cat > "$DIR/actions.lua" <<'EOF'
scripts = {}
scripts[1] = { ["n"] = "OSC Add Audio Track", ["s"] = "",
  ["f"] = "return function () Session:new_audio_track (1, 2, nil, 1, 'OSC Audio', ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true) end" }
scripts[2] = { ["n"] = "OSC Add MIDI Track", ["s"] = "",
  ["f"] = "return function () local pi = ARDOUR.LuaAPI.new_plugin_info ('https://community.ardour.org/node/7596', ARDOUR.PluginType.LV2); Session:new_midi_track (ARDOUR.ChanCount (ARDOUR.DataType ('midi'), 1), ARDOUR.ChanCount (ARDOUR.DataType ('audio'), 2), true, pi, nil, nil, 1, 'OSC MIDI', ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true) end" }
scripts[3] = { ["n"] = "OSC Add Compressor", ["s"] = "",
  ["f"] = "return function () local targets = {}; for r in Editor:get_selection ().tracks:routelist ():iter () do targets[#targets + 1] = r end; if #targets == 0 then local last = nil; for t in Session:get_tracks ():iter () do last = t end; if last then targets[1] = last end end; for _, r in ipairs (targets) do local p = ARDOUR.LuaAPI.new_plugin (Session, 'urn:ardour:a-comp', ARDOUR.PluginType.LV2, ''); if not p:isnil () then r:add_processor_by_index (p, 0, nil, true) end end end" }
EOF
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<UIScripts>\n  <ActionScript lua="Lua 5.3">%s</ActionScript>\n  <ActionHooks/>\n</UIScripts>\n' \
    "$(base64 -w0 "$DIR/actions.lua")" > "$cfg/ui_scripts"
  # the session written by luasession carries EngineHints backend="Dummy", which
  # the GUI treats as "device changed" and answers with a modal dialog: drop it
  sed -i '/<EngineHints /d' "$SESS_DIR/$SESS_NAME.ardour"
}

do_start() {
  mkdir -p "$DIR"
  local pid
  if pid=$(running_pid); then
    log "already running, PID $pid, OSC udp port $PORT"
    echo "$pid"; return 0
  fi
  install_pkgs
  if ardour_udp_busy "$PORT"; then
    log "UDP port $PORT is already in use (by pid $(ardour_udp_holders "$PORT")); not starting"; exit 2
  fi
  ardour_env "$DIR"
  rm -f "$STOPFILE" "$PIDFILE"
  local t0; t0=$(date +%s%N)
  make_session
  local t1
  if (( GUI )); then
    write_gui_config
    t1=$(date +%s%N)
    # xvfb-run is the parent; the PID we track is the Ardour GUI process itself
    setsid xvfb-run -a -s "-screen 0 1600x1200x24 -nolisten tcp" \
      "$ARDOUR_GUI_BIN" -a -n "$SESS_DIR/$SESS_NAME.ardour" > "$LOG" 2>&1 < /dev/null &
    local wrapper=$!
    pid=$(ardour_gui_pid "$wrapper" 200) || { log "Ardour GUI process not found; log:"; cat "$LOG" >&2; exit 1; }
  else
    ardour_write_serve_lua "$DIR/serve.lua" "$PORT" "$SESS_DIR" "$SESS_NAME" "$STOPFILE" "$SAVE_ON_STOP"
    t1=$(date +%s%N)
    # -X: exit if the (dummy) engine halts. setsid: own session, no terminal.
    setsid "$LUASESSION" -X "$DIR/serve.lua" > "$LOG" 2>&1 < /dev/null &
    pid=$!
  fi
  echo "$pid" > "$PIDFILE"
  local deadline=$(( $(date +%s) + START_TIMEOUT ))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "Ardour exited during startup; log:"; cat "$LOG" >&2; rm -f "$PIDFILE"; exit 1
    fi
    ardour_port_held_by "$PORT" "$pid" && break
    if (( $(date +%s) > deadline )); then
      local holders; holders=$(ardour_udp_holders "$PORT")
      log "Ardour (PID $pid) started but did not open its OSC port UDP $PORT within ${START_TIMEOUT}s" \
          "(port held by: ${holders:-nobody}); stopping PID $pid. Its log ($LOG) follows:"
      kill -TERM "$pid" 2>/dev/null || true; tail -40 "$LOG" >&2; rm -f "$PIDFILE"; exit 1
    fi
    sleep 0.1
  done
  local t2; t2=$(date +%s%N)
  log "started PID $pid; OSC udp 127.0.0.1:$PORT; session $SESS_DIR/$SESS_NAME.ardour"
  log "timing: create session $(( (t1 - t0) / 1000000 )) ms, load until OSC port bound $(( (t2 - t1) / 1000000 )) ms; log $LOG"
  echo "$pid"
}

do_stop() {
  local pid
  if ! pid=$(running_pid); then
    log "not running (port $PORT)"; rm -f "$PIDFILE"; return 0
  fi
  if [[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == "$ARDOUR_GUI_BIN" ]]; then
    ardour_stop "$pid"                         # GUI: SIGTERM exits (no save prompt)
  else
    ardour_stop "$pid" "$STOPFILE"             # luasession: the Lua loop polls this file
  fi
  rm -f "$PIDFILE" "$STOPFILE"
  log "stopped PID $pid"
}

case $MODE in
  install) install_pkgs ;;
  start)   do_start ;;
  stop)    do_stop ;;
  status)  if pid=$(running_pid); then echo "$pid"; else exit 1; fi ;;
esac
