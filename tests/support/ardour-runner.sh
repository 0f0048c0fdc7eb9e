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
LUASESSION=/usr/lib/ardour7/luasession
ARDOUR_GUI_BIN=/usr/lib/ardour7/ardour-7.3.0~ds0
SAVE_ON_STOP=${ARDOUR_SAVE_ON_STOP:-0}
START_TIMEOUT=${ARDOUR_START_TIMEOUT:-60}

log() { echo "ardour-runner: $*" >&2; }

ardour_env() {
  export LD_LIBRARY_PATH=/usr/lib/ardour7${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export ARDOUR_DATA_PATH=/usr/share/ardour7
  export ARDOUR_CONFIG_PATH=/etc/ardour7
  export ARDOUR_DLL_PATH=/usr/lib/ardour7
  export VAMP_PATH=/usr/lib/ardour7/vamp
  # keep Ardour's per-user config/cache out of ~/.config and ~/.cache
  export XDG_CONFIG_HOME=$DIR/xdg-config
  export XDG_CACHE_HOME=$DIR/xdg-cache
  mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
}

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

# PID from the pid file, only if that process is alive and is our luasession
running_pid() {
  [[ -f $PIDFILE ]] || return 1
  local pid; pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local exe; exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  [[ "$exe" == "$LUASESSION" || "$exe" == "$ARDOUR_GUI_BIN" ]] || return 1
  grep -qF -- "$DIR/" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

port_bound_by() {  # prints the pids of the processes holding UDP $PORT, one a line (or nothing)
  ss -H -ulnp "sport = :$PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true
}

# Is UDP $PORT held by pid $1? Ardour's children (ardour-avahi, tail, ...) inherit the socket and are often listed
# by ss before Ardour itself, so the pid has to be AMONG those listed, not the first.
port_bound_by_pid() { port_bound_by | grep -qx "$1"; }

port_in_use() { [[ -n "$(ss -H -uln "sport = :$PORT" 2>/dev/null)" ]]; }

make_session() {
  rm -rf "$SESS_DIR"
  cat > "$DIR/create.lua" <<EOF
AudioEngine:set_backend ("None (Dummy)", "", "")
local s = create_session ("$SESS_DIR", "$SESS_NAME", 48000)
assert (s, "create_session failed")
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
Session:save_state ("", false, false, false, false, false)
close_session ()
quit ()
EOF
  if ! timeout 120 "$LUASESSION" "$DIR/create.lua" > "$DIR/create.log" 2>&1; then
    log "session creation failed, see $DIR/create.log"; cat "$DIR/create.log" >&2; exit 1
  fi
  local f=$SESS_DIR/$SESS_NAME.ardour
  [[ -f $f ]] || { log "no session file $f"; cat "$DIR/create.log" >&2; exit 1; }
  # switch the OSC surface on (Ardour writes it as active="0")
  sed -i "s|<Protocol name=\"Open Sound Control (OSC)\" active=\"0\"/>|<Protocol name=\"Open Sound Control (OSC)\" active=\"1\"/>|" "$f"
  grep -q '<Protocol name="Open Sound Control (OSC)" active="1"' "$f" || {
    log "could not enable OSC in $f"; exit 1; }
}

write_serve_lua() {
  cat > "$DIR/serve.lua" <<EOF
AudioEngine:set_backend ("None (Dummy)", "", "")
ARDOUR.config ():set_osc_port ($PORT)
local s = load_session ("$SESS_DIR", "$SESS_NAME")
assert (s, "load_session failed")
print ("READY")
while true do
  local f = io.open ("$STOPFILE", "r")
  if f then f:close () break end
  sleep (0.2)
end
if $SAVE_ON_STOP == 1 then Session:save_state ("", false, false, false, false, false) end
close_session ()
print ("STOPPED")
quit ()
EOF
}

# GUI mode: per-instance Ardour user config (skips first-run wizard and the
# Audio/MIDI setup dialog, selects the Dummy backend, sets the OSC port) and
# the Lua action scripts (file "ui_scripts": base64 of a Lua chunk; the
# manager's table is 1-based: scripts[N] is action LuaAction/script-N).
write_gui_config() {
  local cfg=$XDG_CONFIG_HOME/ardour7
  mkdir -p "$cfg"
  touch "$cfg/.a7"
  cat > "$cfg/config" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Ardour>
  <Config>
    <Option name="osc-port" value="$PORT"/>
    <Option name="try-autostart-engine" value="1"/>
    <Option name="hide-dummy-backend" value="0"/>
  </Config>
  <Extra>
    <AudioMIDISetup>
      <EngineStates>
        <State backend="None (Dummy)" driver="" device="Silence" input-device="" output-device="" sample-rate="48000" buffer-size="1024" n-periods="0" input-latency="0" output-latency="0" active="1" use-buffered-io="0" midi-option="" lm-input="0" lm-output="0" lru="$(date +%s)">
          <MIDIDevices/>
        </State>
      </EngineStates>
    </AudioMIDISetup>
  </Extra>
</Ardour>
EOF
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
  if port_in_use; then
    log "UDP port $PORT is already in use (by pid $(port_bound_by | paste -sd, -)); not starting"; exit 2
  fi
  ardour_env
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
    local wrapper=$! i
    pid=""
    for i in $(seq 1 200); do
      local c
      for c in $(ps -o pid= --ppid "$wrapper" 2>/dev/null || true); do
        [[ "$(readlink "/proc/$c/exe" 2>/dev/null || true)" == "$ARDOUR_GUI_BIN" ]] && pid=$c
      done
      [[ -n "$pid" ]] && break
      sleep 0.1
    done
    [[ -n "$pid" ]] || { log "Ardour GUI process not found; log:"; cat "$LOG" >&2; exit 1; }
  else
    write_serve_lua
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
    port_bound_by_pid "$pid" && break
    if (( $(date +%s) > deadline )); then
      local holders; holders=$(port_bound_by | paste -sd, -)
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
  local i
  if [[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == "$ARDOUR_GUI_BIN" ]]; then
    kill -TERM "$pid" 2>/dev/null || true      # GUI: SIGTERM exits (no save prompt)
  else
    touch "$STOPFILE"                          # luasession: the Lua loop polls this file
  fi
  for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    log "PID $pid did not stop within 15s; sending SIGTERM"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
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
