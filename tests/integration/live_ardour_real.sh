#!/usr/bin/env bash
# live_ardour_real.sh - the live session (`dawbridge run`, issue 13) against a REAL headless Ardour 7.3 running the
# dawbridge companion (osc-maps/companions/ardour/dawbridge.lua in luasession, "None (Dummy)" backend).
#
#  0. Ardour alone for IDLE_S seconds: its CPU time (from /proc/PID/stat) without the daemon.
#  1. `dawbridge run --daw ardour` with the scripted model and the direct executor; a client subscribed over the
#     control socket ({"op":"subscribe"}) records every event. Two `dawbridge ask` through the daemon: the second
#     stage-1 prompt must carry the first request (the script's "match" fails the model call otherwise, and the
#     daemon logs "conversation: 1 earlier turn"); every step confirmed (exit 0). Read back with `dawbridge state`
#     through the daemon AND a one-shot `dawbridge state` with its own data dir (the DAW's word). `dawbridge
#     history undo` through the daemon: the second turn's clip is gone in Ardour, the volume back (read back again).
#  2. IDLE_S seconds idle: the daemon's CPU time must be < 0.1 s; Ardour's CPU over the same time is printed.
#  3. Ardour stopped by PID mid-session: the subscriber sees {"type":"connection","state":"lost"} (after a request
#     finds the DAW gone); Ardour started again on the same port and session: "resynced"; the next request works.
# Ardour and the daemon are stopped by PID on every exit path (trap). Only UDP ports PORT..PORT+1 are used.
# Usage: live_ardour_real.sh DAWBRIDGE_EXE SOURCE_DIR [PORT]   (default PORT 3960)
# Environment: LIVEREAL_IDLE_S (default 60), LIVEREAL_KEEP=1 keeps the work dir.
# Exit: 0 pass, 1 fail (Ardour missing is a failure too: the test is only registered with DAWBRIDGE_REAL_ARDOUR).
set -uo pipefail

exe=${1:?usage: live_ardour_real.sh DAWBRIDGE_EXE SOURCE_DIR [PORT]}
src=${2:?usage: live_ardour_real.sh DAWBRIDGE_EXE SOURCE_DIR [PORT]}
PORT=${3:-3960}
IDLE_S=${LIVEREAL_IDLE_S:-60}
. "$src/tests/support/ardour-lib.sh"
tmp=$(mktemp -d /tmp/dawbridge-live-ardour-XXXXXX)
SESS_NAME=live
SESS_DIR=$tmp/session
SPOOL=$tmp/spool
APID=""   # Ardour (luasession)
DPID=""   # the daemon
SPID=""   # the subscribed client
TICK=$(getconf CLK_TCK)

log() { echo "live_ardour_real: $*" >&2; }

stop_ardour() { # by the companion's stop file, then by PID
  ardour_stop "$APID" "$SPOOL/ardour.stop" 100
  APID=""
}
cleanup() {
  ardour_stop "$SPID"
  ardour_stop "$DPID"
  stop_ardour
  if [[ ${LIVEREAL_KEEP:-0} == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  [[ -f $tmp/daemon.log ]] && { echo "--- daemon log (tail):"; tail -30 "$tmp/daemon.log"; } >&2
  [[ -f $tmp/ardour.log ]] && { echo "--- Ardour log (tail):"; tail -15 "$tmp/ardour.log"; } >&2
  exit 1
}
# run WANT_EXIT OUTFILE ARGS..., has FILE ERE, hasnt FILE ERE
. "$src/tests/support/cli-check.sh"
cpu_ticks() { # utime+stime of PID (all its threads), in clock ticks
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -1; return; }
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  echo $((${12} + ${13}))
}
secs() { awk -v t="$1" -v hz="$TICK" 'BEGIN { printf "%.2f", t / hz }'; }
wait_for() { # wait_for SECONDS FILE REGEX
  local n=$(($1 * 10))
  for _ in $(seq 1 "$n"); do grep -qE -- "$3" "$2" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

ardour_installed || fail "Ardour ($ARDOUR_LUASESSION, Debian package 'ardour') is not installed"
command -v python3 >/dev/null || fail "python3 not found"
ardour_udp_busy "$PORT" $((PORT + 1)) && fail "UDP port $PORT or $((PORT + 1)) is busy"

ardour_env "$tmp"
export XDG_RUNTIME_DIR=$tmp/run XDG_DATA_HOME=$tmp/data
mkdir -p "$SPOOL/in" "$SPOOL/out"
mkdir -m 700 "$XDG_RUNTIME_DIR"

# a fresh session with one audio track, Ardour's OSC surface on
ardour_create_session "$SESS_DIR" "$SESS_NAME" \
  'Session:new_audio_track (1, 2, nil, 1, "Audio", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)' ||
  fail "session creation failed"

start_ardour() {
  : >"$tmp/ardour.log"
  local rc=0
  ardour_start_companion "$PORT" "$SPOOL" "$SESS_DIR" "$SESS_NAME" "$tmp/ardour.log" \
    "$src/osc-maps/companions/ardour/dawbridge.lua" || rc=1
  APID=$ARDOUR_PID   # also on failure: cleanup stops it
  ((rc == 0)) || fail "Ardour did not start"
  log "Ardour PID $APID ready (OSC udp $PORT)"
}
start_ardour

# 0. Ardour idle, no daemon (after 5 s for the end of its start-up)
sleep 5
a0=$(cpu_ticks "$APID")
sleep "$IDLE_S"
a1=$(cpu_ticks "$APID")
ardour_alone=$((a1 - a0))

# the scripted model: two stage-1 plans (direct executor: no stage 2). The second matches only when its prompt
# carries the first request ("LRBASS" occurs nowhere else), and one more for the request after the restart.
cat >"$tmp/transcript.json" <<'EOF'
{"responses": [
 {"match": "LRBASS",
  "text": "**ANALYSIS:** A bass track.\n\n**PLAN:**\nStep 1: create_track - the bass\n  - name: LR Bass\n  - type: midi\nStep 2: create_midi_clip - one bar\n  - track_id: [track from Step 1]\n  - start_time: 0\n  - duration: 4\n  - notes: [{n: 36, s: 0, d: 1, v: 100}, {n: 43, s: 2, d: 1, v: 100}]\n\n**MUSICAL REASONING:** Root and fifth.",
  "finish": "stop"},
 {"match": "LRBASS",
  "text": "**ANALYSIS:** A second bar for the bass made before (t2), a little quieter.\n\n**PLAN:**\nStep 1: create_midi_clip - bar two\n  - track_id: t2\n  - start_time: 4\n  - duration: 4\n  - notes: [{n: 38, s: 0, d: 1, v: 90}, {n: 41, s: 1, d: 1, v: 90}, {n: 43, s: 2, d: 2, v: 90}]\nStep 2: set_track - quieter\n  - track_id: t2\n  - volume_db: -6\n\n**MUSICAL REASONING:** A walk up to the fifth.",
  "finish": "stop"},
 {"match": "LRAFTER",
  "text": "**ANALYSIS:** After the restart.\n\n**PLAN:**\nStep 1: create_track - pads\n  - name: LR Pad\n  - type: midi\nStep 2: create_midi_clip - a fifth\n  - track_id: [track from Step 1]\n  - start_time: 0\n  - duration: 4\n  - notes: [{n: 48, s: 0, d: 4, v: 80}, {n: 55, s: 0, d: 4, v: 80}]\n\n**MUSICAL REASONING:** One more track.",
  "finish": "stop"}
]}
EOF

# 1. the daemon and a subscribed client
"$exe" --daw ardour --port "$PORT" --spool "$SPOOL" --transcript "$tmp/transcript.json" --executor direct \
  --log-level info run </dev/null >"$tmp/daemon.out" 2>"$tmp/daemon.log" &
DPID=$!
sock=$XDG_RUNTIME_DIR/dawbridge/ardour.sock
for _ in $(seq 1 300); do
  [[ -S $sock ]] && grep -q '"state":"connected"' "$tmp/daemon.log" && break
  kill -0 "$DPID" 2>/dev/null || fail "the daemon exited at start"
  sleep 0.1
done
[[ -S $sock ]] && grep -q '"state":"connected"' "$tmp/daemon.log" || fail "the daemon did not connect to Ardour within 30 s"
python3 - "$sock" >"$tmp/events" 2>"$tmp/sub.err" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b'{"op":"subscribe","id":"sub"}\n')
f = s.makefile("rb")
for line in f:
    sys.stdout.write(line.decode("utf-8", "replace"))
    sys.stdout.flush()
EOF
SPID=$!
wait_for 5 "$tmp/events" '"subscribed"' || fail "no subscription reply"

run 0 "$tmp/ask1" --daw ardour ask "add a bass line, call it LRBASS in your notes"
has "$tmp/ask1" "Steps: 2 of 2 confirmed"
run 0 "$tmp/ask2" --daw ardour ask "another bar for it, and a bit quieter"
has "$tmp/ask2" "Steps: 2 of 2 confirmed"
has "$tmp/daemon.log" "conversation: 1 earlier turn"
has "$tmp/events" '"type":"done".*"exit_code":0'
# read back: through the daemon (its mirror) and one-shot (a fresh sync from Ardour, its own data dir)
oneshot_state() {
  run 0 "$1" --daw ardour --port "$PORT" --spool "$SPOOL" --data-dir "$tmp/elsewhere" --json state
}
check_bass() { # check_bass STATE_JSON NOTES_PER_CLIP VOLUME_DB: the track "LR Bass" as Ardour has it
  python3 - "$@" <<'PY' || { cat "$1" >&2; fail "$1: LR Bass is not as expected ($2 notes by clip, $3 dB)"; }
import json, sys
s = json.load(open(sys.argv[1]))
want = [int(x) for x in sys.argv[2].split(",")]
t = [t for t in s.get("tracks", []) if t.get("name") == "LR Bass"]
assert len(t) == 1, f"{len(t)} tracks named LR Bass"
clips = sorted(t[0].get("clips", []), key=lambda c: c["start"])
got = [len(c.get("notes", [])) for c in clips]
assert got == want, f"notes by clip {got}, want {want}"
assert abs(t[0].get("volume_db", 99) - float(sys.argv[3])) < 0.1, f"volume {t[0].get('volume_db')} dB"
PY
}
run 0 "$tmp/state1" --daw ardour --json state
check_bass "$tmp/state1" 2,3 -6
oneshot_state "$tmp/state1o"
check_bass "$tmp/state1o" 2,3 -6

# undo through the daemon: the second turn's clip is gone in Ardour and the volume back, the first turn stays
run 0 "$tmp/undo" --daw ardour history undo
has "$tmp/undo" "undo of iteration"
oneshot_state "$tmp/state2o"
check_bass "$tmp/state2o" 2 0
run 0 "$tmp/state2" --daw ardour --json state
check_bass "$tmp/state2" 2 0

# 2. idle: the daemon and Ardour over the same IDLE_S seconds
d0=$(cpu_ticks "$DPID")
a0=$(cpu_ticks "$APID")
sleep "$IDLE_S"
d1=$(cpu_ticks "$DPID")
a1=$(cpu_ticks "$APID")
daemon_idle=$((d1 - d0))
ardour_with=$((a1 - a0))
echo "idle ${IDLE_S} s: daemon CPU $(secs $daemon_idle) s; Ardour CPU $(secs $ardour_alone) s without the daemon," \
  "$(secs $ardour_with) s with it attached (clock tick 1/$TICK s)"
(( d0 >= 0 && d1 >= 0 )) || fail "the daemon is gone during the idle minute"
awk -v t="$daemon_idle" -v hz="$TICK" 'BEGIN { exit !(t / hz < 0.1) }' ||
  fail "the daemon used $(secs $daemon_idle) s CPU in $IDLE_S s idle (limit 0.1 s)"

# 3. Ardour goes away (stopped by PID), the daemon notices, Ardour comes back, the daemon re-syncs
old=$APID
ardour_stop "$APID"
APID=""
log "Ardour PID $old stopped"
# a request finds the DAW gone: exit 2, and the subscriber sees the connection lost
run 2 "$tmp/lostcall" --daw ardour call set_track '{"track_id": "t1", "volume_db": -2}'
wait_for 30 "$tmp/events" '"type":"connection".*"state":"lost"' || fail "no connection-lost event"
rm -f "$SPOOL/ardour.stop"
start_ardour
wait_for 60 "$tmp/events" '"type":"connection".*"state":"resynced"' || fail "no resynced event within 60 s of the restart"
run 0 "$tmp/ask3" --daw ardour ask "one more after the restart: LRAFTER"
has "$tmp/ask3" "Steps: 2 of 2 confirmed"
oneshot_state "$tmp/state3o"
has "$tmp/state3o" '"LR Pad"'

# a clean stop of the daemon (exit 0, no handle left open)
kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=""
[[ $rc == 0 ]] || fail "the daemon exited $rc on SIGTERM"
grep -q "handles still open" "$tmp/daemon.log" && fail "the daemon left handles open"
echo "live_ardour_real: ok"
