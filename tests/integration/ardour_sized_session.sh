#!/usr/bin/env bash
# ardour_sized_session.sh - a real headless Ardour 7 (Debian 12 package) holding a session of N tracks, for the
# big-session sync tests (issue 11 "no hang"): 256 and 1,000 tracks. Same method as tests/support/ardour-runner.sh
# (Ardour's Lua session host, "None (Dummy)" backend, OSC switched on in the session file), with N audio tracks,
# every 4th (N <= 256; else every 50th) holding ACE Compressor, so the per-track plugin-list queries have
# something to list.
#
# Usage:
#   ardour_sized_session.sh start N PORT   create the session (cached per N in the work dir), serve it; prints the PID
#   ardour_sized_session.sh stop PORT      stop the instance for PORT (STOP file, then its PID)
# Work dir: /tmp/dawbridge-ardour-sized-PORT (session, logs, pid). Exit codes: 0 ok, 1 failure, 2 port busy.
set -euo pipefail

MODE=${1:-}
LUASESSION=/usr/lib/ardour7/luasession
log() { echo "ardour_sized_session: $*" >&2; }

case "$MODE" in
  start) N=${2:?tracks}; PORT=${3:?port} ;;
  stop) PORT=${2:?port} ;;
  *) echo "usage: $0 start N PORT | stop PORT" >&2; exit 1 ;;
esac
[[ "$PORT" =~ ^[0-9]+$ ]] || { log "bad port '$PORT'"; exit 1; }
DIR=/tmp/dawbridge-ardour-sized-$PORT
PIDFILE=$DIR/ardour.pid
STOPFILE=$DIR/STOP

ardour_env() {
  export LD_LIBRARY_PATH=/usr/lib/ardour7${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export ARDOUR_DATA_PATH=/usr/share/ardour7 ARDOUR_CONFIG_PATH=/etc/ardour7 ARDOUR_DLL_PATH=/usr/lib/ardour7
  export VAMP_PATH=/usr/lib/ardour7/vamp XDG_CONFIG_HOME=$DIR/xdg-config XDG_CACHE_HOME=$DIR/xdg-cache
  mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
}

running_pid() {
  [[ -f $PIDFILE ]] || return 1
  local pid; pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == "$LUASESSION" ]] || return 1
  grep -qF -- "$DIR/" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# is UDP $PORT bound by $1 (Ardour's children inherit the socket and may be listed first: accept any match)
port_bound_by() { ss -H -ulnp "sport = :$PORT" 2>/dev/null | grep -q "pid=$1,"; }

if [[ $MODE == stop ]]; then
  pid=$(running_pid) || { log "not running on $PORT"; exit 0; }
  touch "$STOPFILE"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && { log "still running after STOP: SIGTERM $pid"; kill "$pid" || true; sleep 1; }
  kill -0 "$pid" 2>/dev/null && { kill -9 "$pid" || true; }
  rm -f "$PIDFILE" "$STOPFILE"
  exit 0
fi

[[ "$N" =~ ^[0-9]+$ ]] && (( N >= 1 && N <= 4000 )) || { log "bad track count '$N'"; exit 1; }
if running_pid >/dev/null; then log "already running on $PORT"; exit 1; fi
if [[ -n "$(ss -H -uln "sport = :$PORT" 2>/dev/null)" ]]; then log "UDP port $PORT is busy"; exit 2; fi
mkdir -p "$DIR"
rm -f "$STOPFILE"
ardour_env
SESS=$DIR/session-$N
EVERY=$(( N <= 256 ? 4 : 50 ))
NAME=sized
if [[ ! -f $SESS/$NAME.ardour ]]; then
  rm -rf "$SESS"
  cat > "$DIR/create-$N.lua" <<EOF
AudioEngine:set_backend ("None (Dummy)", "", "")
local s = create_session ("$SESS", "$NAME", 48000)
assert (s, "create_session failed")
-- all tracks in one call (one graph update); every EVERY-th track gets a plugin (each insertion re-sorts the graph)
Session:new_audio_track (1, 2, nil, $N, "T", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
local i = 0
local rl = Session:get_routes ()
for r in rl:iter () do
  if not r:is_master () and not r:is_monitor () then
    i = i + 1
    if i % $EVERY == 1 or $EVERY == 1 then
      local comp = ARDOUR.LuaAPI.new_plugin (Session, "urn:ardour:a-comp", ARDOUR.PluginType.LV2, "")
      if not comp:isnil () then r:add_processor_by_index (comp, 0, nil, true) end
    end
  end
end
print ("tracks: " .. i)
Session:save_state ("", false, false, false, false, false)
close_session ()
quit ()
EOF
  t0=$(date +%s)
  if ! timeout 1200 "$LUASESSION" "$DIR/create-$N.lua" > "$DIR/create-$N.log" 2>&1; then
    log "session creation failed, see $DIR/create-$N.log"; tail -20 "$DIR/create-$N.log" >&2; exit 1
  fi
  f=$SESS/$NAME.ardour
  [[ -f $f ]] || { log "no session file $f"; exit 1; }
  sed -i 's|<Protocol name="Open Sound Control (OSC)" active="0"/>|<Protocol name="Open Sound Control (OSC)" active="1"/>|' "$f"
  grep -q '<Protocol name="Open Sound Control (OSC)" active="1"' "$f" || { log "could not enable OSC in $f"; exit 1; }
  log "created $N tracks in $(( $(date +%s) - t0 )) s"
fi
cat > "$DIR/serve.lua" <<EOF
AudioEngine:set_backend ("None (Dummy)", "", "")
ARDOUR.config ():set_osc_port ($PORT)
local s = load_session ("$SESS", "$NAME")
assert (s, "load_session failed")
print ("READY")
while true do
  local f = io.open ("$STOPFILE", "r")
  if f then f:close () break end
  sleep (0.2)
end
close_session ()
quit ()
EOF
setsid "$LUASESSION" "$DIR/serve.lua" > "$DIR/ardour.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$PIDFILE"
for _ in $(seq 1 $(( ${ARDOUR_START_TIMEOUT:-240} * 5 ))); do
  kill -0 "$pid" 2>/dev/null || { log "Ardour exited while starting, see $DIR/ardour.log"; tail -20 "$DIR/ardour.log" >&2; exit 1; }
  if port_bound_by "$pid"; then log "started PID $pid; OSC udp 127.0.0.1:$PORT; $N tracks"; echo "$pid"; exit 0; fi
  sleep 0.2
done
log "Ardour (PID $pid) did not bind UDP $PORT in time: stopping it"
kill "$pid" 2>/dev/null || true
exit 1
