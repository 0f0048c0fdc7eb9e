# shellcheck shell=bash
# ardour-lib.sh - shell functions shared by the scripts that run a REAL Ardour 7 (Debian 12 package) for tests:
# tests/support/ardour-runner.sh, tests/integration/ardour_sized_session.sh, tests/integration/live_ardour_real.sh,
# tests/companions/ardour_e2e.sh and ardour_gui_e2e.sh. Source it (bash):
#   . "$ROOT/tests/support/ardour-lib.sh"
# Every function returns non-zero with a message on stderr when it fails; the caller decides (exit 1, fail, ...).
# Nothing here starts or stops a process it was not given or did not start itself; every wait is bounded.
# Ardour binds its OSC port on all interfaces; talk to it on 127.0.0.1 only.

ARDOUR_LUASESSION=${LUASESSION:-/usr/lib/ardour7/luasession}
if [[ -z ${ARDOUR_GUI_BIN:-} ]]; then
  for _ardour_f in /usr/lib/ardour7/ardour-7*; do [[ -x $_ardour_f ]] && { ARDOUR_GUI_BIN=$_ardour_f; break; }; done
  unset _ardour_f
fi
ARDOUR_GUI_BIN=${ARDOUR_GUI_BIN:-/usr/lib/ardour7/ardour-7.3.0~ds0}
ARDOUR_PID=""   # set by ardour_start_companion

# ardour_installed: the Debian package "ardour" and its Lua session host are there
ardour_installed() { [[ -x $ARDOUR_LUASESSION ]] && dpkg -s ardour >/dev/null 2>&1; }

# ardour_env WORK: Ardour's library and data paths; its per-user config and cache under WORK (not in ~)
ardour_env() {
  export LD_LIBRARY_PATH=/usr/lib/ardour7${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export ARDOUR_DATA_PATH=/usr/share/ardour7 ARDOUR_CONFIG_PATH=/etc/ardour7 ARDOUR_DLL_PATH=/usr/lib/ardour7
  export VAMP_PATH=/usr/lib/ardour7/vamp XDG_CONFIG_HOME=$1/xdg-config XDG_CACHE_HOME=$1/xdg-cache
  mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
}

# ardour_udp_busy PORT...: true when any of these UDP ports is bound (by anyone)
ardour_udp_busy() {
  local p
  for p; do [[ -n "$(ss -H -uln "sport = :$p" 2>/dev/null)" ]] && return 0; done
  return 1
}

# ardour_udp_holders PORT: the pids holding UDP PORT, comma-separated (or nothing)
ardour_udp_holders() { ss -H -ulnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | paste -sd, -; }

# ardour_port_held_by PORT PID: UDP PORT is bound by PID. Ardour's children (ardour-avahi, ...) inherit the socket and
# are often listed first, so PID has to be AMONG those listed.
ardour_port_held_by() { ss -H -ulnp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"; }

# ardour_enable_osc FILE: switch Ardour's OSC surface on in a session file (Ardour writes it as active="0")
ardour_enable_osc() {
  local f=$1
  [[ -f $f ]] || { echo "no session file $f" >&2; return 1; }
  sed -i 's|<Protocol name="Open Sound Control (OSC)" active="0"/>|<Protocol name="Open Sound Control (OSC)" active="1"/>|' "$f"
  grep -q '<Protocol name="Open Sound Control (OSC)" active="1"' "$f" || { echo "could not enable OSC in $f" >&2; return 1; }
}

# ardour_create_session SESS_DIR NAME LUA_BODY [TIMEOUT_S]: a new session (SESS_DIR removed first) made by luasession
# with the "None (Dummy)" backend at 48 kHz; LUA_BODY (tracks, plugins; `Session` is the new session) runs before it
# is saved; then the OSC surface is switched on. The script and its log are SESS_DIR.create.lua/.log.
ardour_create_session() {
  local dir=$1 name=$2 body=$3 secs=${4:-120}
  rm -rf "$dir"
  cat >"$dir.create.lua" <<EOF
AudioEngine:set_backend ("None (Dummy)", "", "")
local s = create_session ("$dir", "$name", 48000)
assert (s, "create_session failed")
$body
Session:save_state ("", false, false, false, false, false)
close_session ()
quit ()
EOF
  # Ardour 7.3 itself sometimes aborts while creating tracks ("Port already exists", std::logic_error: README
  # "What was observed on real Ardour 7.3"); the session is new and its directory removed first, so that case alone
  # is tried again, at most twice, and said
  local try
  for try in 1 2 3; do
    timeout "$secs" "$ARDOUR_LUASESSION" "$dir.create.lua" >"$dir.create.log" 2>&1 && break
    if (( try < 3 )) && grep -q "Port already exists" "$dir.create.log"; then
      echo "ardour-lib: Ardour aborted creating the session (Port already exists); creating it again" >&2
      rm -rf "$dir"
      continue
    fi
    echo "session creation failed; $dir.create.log:" >&2; tail -20 "$dir.create.log" >&2; return 1
  done
  ardour_enable_osc "$dir/$name.ardour" || { tail -20 "$dir.create.log" >&2; return 1; }
}

# ardour_write_serve_lua FILE PORT SESS_DIR NAME STOPFILE [SAVE]: a luasession script that loads the session with its
# OSC surface on PORT, prints READY, and runs until STOPFILE exists (checked every 0.2 s); SAVE=1 saves before closing
ardour_write_serve_lua() {
  cat >"$1" <<EOF
AudioEngine:set_backend ("None (Dummy)", "", "")
ARDOUR.config ():set_osc_port ($2)
local s = load_session ("$3", "$4")
assert (s, "load_session failed")
print ("READY")
while true do
  local f = io.open ("$5", "r")
  if f then f:close () break end
  sleep (0.2)
end
if ${6:-0} == 1 then Session:save_state ("", false, false, false, false, false) end
close_session ()
print ("STOPPED")
quit ()
EOF
}

# ardour_start_companion PORT SPOOL SESS_DIR NAME LOG ENTRY: luasession (own session, -X: exit if the engine halts)
# running the companion's headless entry ENTRY (osc-maps/companions/ardour/dawbridge.lua) on SESS_DIR/NAME with its
# spool SPOOL and Ardour's OSC on UDP PORT; output appended to LOG. Sets ARDOUR_PID (also when it fails, for the
# caller's cleanup) and waits up to 60 s for "dawbridge: READY" in LOG and PORT bound by that PID.
ardour_start_companion() {
  local port=$1 spool=$2 dir=$3 name=$4 log=$5 entry=$6
  DAWBRIDGE_SPOOL=$spool DAWBRIDGE_ARDOUR_OSC_PORT=$port \
    setsid "$ARDOUR_LUASESSION" -X "$entry" "$dir" "$name" >>"$log" 2>&1 </dev/null &
  ARDOUR_PID=$!
  local _
  for _ in $(seq 1 600); do
    if ! kill -0 "$ARDOUR_PID" 2>/dev/null; then
      echo "Ardour exited during startup; $log:" >&2; cat "$log" >&2; ARDOUR_PID=""; return 1
    fi
    grep -q "dawbridge: READY" "$log" && ardour_port_held_by "$port" "$ARDOUR_PID" && return 0
    sleep 0.1
  done
  echo "Ardour (PID $ARDOUR_PID) not ready within 60 s; $log:" >&2; tail -40 "$log" >&2; return 1
}

# ardour_write_gui_config CFG PORT: a private Ardour user config in CFG (XDG_CONFIG_HOME/ardour7): the Dummy engine
# started at once, no first-run wizard or Audio/MIDI setup dialog, the OSC port
ardour_write_gui_config() {
  local cfg=$1 port=$2
  mkdir -p "$cfg"
  touch "$cfg/.a7"
  cat >"$cfg/config" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Ardour>
  <Config>
    <Option name="osc-port" value="$port"/>
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
}

# ardour_gui_pid WRAPPER [TRIES]: prints the PID of the Ardour GUI process (ARDOUR_GUI_BIN) that xvfb-run (pid
# WRAPPER) started, looking every 0.1 s, TRIES times (default 300)
ardour_gui_pid() {
  local w=$1 c _
  for _ in $(seq 1 "${2:-300}"); do
    for c in $(ps -o pid= --ppid "$w" 2>/dev/null || true); do
      [[ "$(readlink "/proc/$c/exe" 2>/dev/null || true)" == "$ARDOUR_GUI_BIN" ]] && { echo "$c"; return 0; }
    done
    sleep 0.1
  done
  echo "Ardour GUI process not found under PID $w" >&2
  return 1
}

# ardour_wait_gone PID TENTHS: wait up to TENTHS tenths of a second for PID to exit; false if it still runs
ardour_wait_gone() {
  local _
  for _ in $(seq 1 "$2"); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  ! kill -0 "$1" 2>/dev/null
}

# ardour_stop PID [STOPFILE [TENTHS]]: stop a process this script started (Ardour, or any other), by PID: touch
# STOPFILE (the way out of the Lua loop of a luasession) and wait TENTHS/10 s (default 15 s); then SIGTERM and 10 s;
# then SIGKILL. No-op when PID is empty or gone.
ardour_stop() {
  local pid=$1 stopfile=${2:-}
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  if [[ -n $stopfile ]]; then
    touch "$stopfile"
    ardour_wait_gone "$pid" "${3:-150}" && return 0
    echo "PID $pid did not stop on $stopfile; SIGTERM" >&2
  fi
  kill -TERM "$pid" 2>/dev/null || true
  ardour_wait_gone "$pid" 100 && return 0
  echo "PID $pid did not stop on SIGTERM; SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

# ardour_running_pid PIDFILE DIR: prints the PID in PIDFILE when that process is alive, is luasession or the Ardour
# GUI, and has DIR/ on its command line (ours, not another instance that reused the pid)
ardour_running_pid() {
  local pidfile=$1 dir=$2 pid exe
  [[ -f $pidfile ]] || return 1
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
  [[ "$exe" == "$ARDOUR_LUASESSION" || "$exe" == "$ARDOUR_GUI_BIN" ]] || return 1
  grep -qF -- "$dir/" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}
