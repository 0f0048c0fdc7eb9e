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
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../support/ardour-lib.sh"
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

running_pid() { ardour_running_pid "$PIDFILE" "$DIR"; }

if [[ $MODE == stop ]]; then
  pid=$(running_pid) || { log "not running on $PORT"; exit 0; }
  ardour_stop "$pid" "$STOPFILE" 200   # a large session takes a while to close
  rm -f "$PIDFILE" "$STOPFILE"
  exit 0
fi

[[ "$N" =~ ^[0-9]+$ ]] && (( N >= 1 && N <= 4000 )) || { log "bad track count '$N'"; exit 1; }
if running_pid >/dev/null; then log "already running on $PORT"; exit 1; fi
if ardour_udp_busy "$PORT"; then log "UDP port $PORT is busy"; exit 2; fi
mkdir -p "$DIR"
rm -f "$STOPFILE"
ardour_env "$DIR"
SESS=$DIR/session-$N
EVERY=$(( N <= 256 ? 4 : 50 ))
NAME=sized
if [[ ! -f $SESS/$NAME.ardour ]]; then
  # all tracks in one call (one graph update); every EVERY-th track gets a plugin (each insertion re-sorts the graph)
  body=$(cat <<EOF
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
EOF
)
  t0=$(date +%s)
  ardour_create_session "$SESS" "$NAME" "$body" 1200 || { log "session creation failed"; exit 1; }
  log "created $N tracks in $(( $(date +%s) - t0 )) s"
fi
ardour_write_serve_lua "$DIR/serve.lua" "$PORT" "$SESS" "$NAME" "$STOPFILE"
setsid "$ARDOUR_LUASESSION" "$DIR/serve.lua" > "$DIR/ardour.log" 2>&1 < /dev/null &
pid=$!
echo "$pid" > "$PIDFILE"
for _ in $(seq 1 $(( ${ARDOUR_START_TIMEOUT:-240} * 5 ))); do
  kill -0 "$pid" 2>/dev/null || { log "Ardour exited while starting, see $DIR/ardour.log"; tail -20 "$DIR/ardour.log" >&2; exit 1; }
  if ardour_port_held_by "$PORT" "$pid"; then log "started PID $pid; OSC udp 127.0.0.1:$PORT; $N tracks"; echo "$pid"; exit 0; fi
  sleep 0.2
done
log "Ardour (PID $pid) did not bind UDP $PORT in time: stopping it"
kill "$pid" 2>/dev/null || true
exit 1
