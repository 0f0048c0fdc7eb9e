#!/usr/bin/env bash
# test_live_cli: the CLI as a client of `dawbridge run` (README "Live session"). A daemon with the embedded mock
# DAW and the scripted model runs; the ordinary commands go through its control socket (same output, same exit
# codes), two CLI clients at once are queued, `status` sees the daemon, `ask --new`, history list/undo; after
# SIGTERM the daemon is gone (exit 0, socket removed) and the commands run one-shot again.
# Usage: test_live_cli.sh DAWBRIDGE_EXE SOURCE_DIR
set -uo pipefail
exe=$1
src=$2
tmp=$(mktemp -d /tmp/dawbridge-test-live-cli-XXXXXX)
daemon=
cleanup() {
  if [[ -n $daemon ]] && kill -0 "$daemon" 2>/dev/null; then kill -KILL "$daemon"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$tmp/run XDG_CONFIG_HOME=$tmp XDG_DATA_HOME=$tmp/data
mkdir -m 700 "$XDG_RUNTIME_DIR"
fail() { echo "FAIL: $*" >&2; [[ -f $tmp/daemon.log ]] && { echo "--- daemon log:"; tail -40 "$tmp/daemon.log"; } >&2; exit 1; }
# run WANT_EXIT OUTFILE ARGS..., has FILE ERE, hasnt FILE ERE
. "$src/tests/support/cli-check.sh"
# start_daemon OUTFILE ARGS...: `dawbridge --daw mock ARGS... run` in the background (no stdin, stdout to OUTFILE, stderr
# to daemon.log), its pid in $daemon; waits until its control socket $sock is there and it has logged the connected DAW
start_daemon() {
  local out=$1
  shift
  "$exe" --daw mock "$@" run </dev/null >"$out" 2>"$tmp/daemon.log" &
  daemon=$!
  for _ in $(seq 1 200); do
    [[ -S $sock ]] && grep -q '"state":"connected"' "$tmp/daemon.log" && break
    sleep 0.05
  done
  [[ -S $sock ]] || fail "no control socket at $sock"
}
# stop_daemon NAME: SIGTERM ends the daemon with exit 0
stop_daemon() {
  kill -TERM "$daemon"
  wait "$daemon"
  local rc=$?
  daemon=
  [[ $rc == 0 ]] || fail "$1 exited $rc on SIGTERM"
}

# no daemon: status says so (exit 2)
run 2 "$tmp/status0" --daw mock status
has "$tmp/status0" "no daemon runs for mock"

# the daemon (no terminal: one line per event on stderr)
sock=$XDG_RUNTIME_DIR/dawbridge/mock-reaper.sock
start_daemon "$tmp/daemon.out" --transcript "$src/examples/demo-transcript.json" --composition live --log-level info
[[ $(stat -c %a "$sock") == 600 ]] || fail "the socket's mode is $(stat -c %a "$sock"), not 600"
[[ $(stat -c %a "$XDG_RUNTIME_DIR/dawbridge") == 700 ]] || fail "the socket's directory is not 0700"

run 0 "$tmp/status1" --daw mock status
has "$tmp/status1" "daemon for reaper: DAW connected"
has "$tmp/status1" "queue: empty"

# ask through the daemon: the plan streams, each step, the summary; exit 0; the daemon logged the events
run 0 "$tmp/ask" --daw mock ask "Add a kick drum track with a two-note pattern and some reverb"
has "$tmp/ask" "Plan valid: 3 steps"
has "$tmp/ask" "confirmed +create_track"
has "$tmp/ask" "Steps: 3 of 3 confirmed"
has "$tmp/daemon.log" '"type":"done".*"exit_code":0'
has "$tmp/daemon.log" '"client":"ctl:'

# call and state through the daemon, the same output as one-shot; the mirror follows without a re-sync
run 0 "$tmp/call" --daw mock call set_tempo '{"bpm": 97}'
has "$tmp/call" "set_tempo: confirmed"
run 0 "$tmp/state" --daw mock state
has "$tmp/state" "97.00 BPM"
has "$tmp/state" "Kick Drum"
run 0 "$tmp/statej" --json --daw mock state
has "$tmp/statej" '"tempo": 97'
# a bad call: the validator's error and exit 4, like one-shot
run 4 "$tmp/badcall" --daw mock call set_tempo '{"bpm": "fast"}'

# two clients at once: both exit 0, the second waited in the queue
"$exe" --daw mock call set_tempo '{"bpm": 98}' >"$tmp/q1" 2>&1 </dev/null &
p1=$!
"$exe" --daw mock call set_track '{"track_id": "t1", "volume_db": -3}' >"$tmp/q2" 2>&1 </dev/null &
p2=$!
wait $p1 || fail "client 1 of 2: exit $?"
wait $p2 || fail "client 2 of 2: exit $?"
has "$tmp/q1" "set_tempo: confirmed"
has "$tmp/q2" "set_track: confirmed"

# history through the daemon; undo of the last iteration (the ask), exit 0
run 0 "$tmp/hist" --daw mock history list
has "$tmp/hist" "Add a kick drum track"
run 0 "$tmp/undo" --daw mock history undo
has "$tmp/undo" "undo of iteration"
has "$tmp/undo" "saved as iteration"
# history save, diff, show, export and tools through the daemon (issue 13): save is queued in the daemon (a
# snapshot of its mirror, source "user"); show/diff/export read the daemon's own history (composition "live", which
# a one-shot run here would not find: it would look at "default"); tools answers from the daemon's DAW
run 0 "$tmp/save" --daw mock --log-level info -m "my own mix" history save
has "$tmp/save" "through the running daemon"
has "$tmp/save" 'saved iteration [0-9]+ of "live" \(user: my own mix\)'
has "$tmp/daemon.log" '"kind":"save"'
run 0 "$tmp/hist2" --daw mock history list
has "$tmp/hist2" "user +0 +my own mix"
n=$(grep -oE '^ +[0-9]+ .*my own mix' "$tmp/hist2" | awk '{print $1}')
[[ -n $n ]] || fail "the saved iteration is not in the list"
run 0 "$tmp/diff" --daw mock history diff 1 "$n"
has "$tmp/diff" "tempo|bpm|Kick Drum|track"
run 0 "$tmp/show" --daw mock history show 2
has "$tmp/show" "Add a kick drum track"
run 0 "$tmp/export" --daw mock history export 2 "$tmp/it2.mid"
[[ $(head -c 4 "$tmp/it2.mid") == MThd ]] || fail "history export through the daemon wrote no MIDI file"
run 0 "$tmp/tools" --daw mock --log-level info tools
has "$tmp/tools" "through the running daemon"
has "$tmp/tools" "companion answering"
has "$tmp/tools" "available now:.*create_midi_clip"
run 0 "$tmp/toolsj" --daw mock --json tools
has "$tmp/toolsj" '"unavailable"'
# without the daemon's place, the same diff finds no history of "live" here: it really went through the daemon
run 4 "$tmp/diff1" --daw mock --composition default history diff 1 "$n"

# ask --new: a new conversation first (the script has no second plan: the model's end is an error, exit 2 or 5)
"$exe" --daw mock ask --new "another one" >"$tmp/new" 2>&1 </dev/null
has "$tmp/new" "a new conversation"
has "$tmp/daemon.log" '"type":"conversation","state":"new"'

# a clean stop on SIGTERM: exit 0, the socket is gone, commands are one-shot again
stop_daemon "the daemon"
grep -q "handles still open" "$tmp/daemon.log" && fail "the daemon left handles open"
[[ -e $sock ]] && fail "the socket is still there after the daemon stopped"
run 0 "$tmp/oneshot" --daw mock call set_tempo '{"bpm": 99}'
has "$tmp/oneshot" "set_tempo: confirmed"
# a stale socket (a daemon that died without removing it): one-shot, and call's arguments from stdin are read once
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$sock" || fail "cannot make a stale socket"
[[ -S $sock ]] || fail "no stale socket"
echo '{"bpm": 91}' | "$exe" --daw mock call set_tempo - >"$tmp/stale" 2>&1
rc=$?
[[ $rc == 0 ]] || { cat "$tmp/stale" >&2; fail "call from stdin with a stale socket exited $rc"; }
has "$tmp/stale" "set_tempo: confirmed"

# plan through the daemon prints the validator's warnings like one-shot (issue 13): a second daemon whose script
# creates a track named "Bass", which the demo session already has
export XDG_RUNTIME_DIR=$tmp/run2
mkdir -m 700 "$XDG_RUNTIME_DIR"
sock=$XDG_RUNTIME_DIR/dawbridge/mock-reaper.sock
start_daemon "$tmp/daemon2.out" --transcript "$src/tests/fixtures/agent/existing_name.json" --composition warn \
  --log-level info
run 0 "$tmp/planw" --daw mock --log-level info plan "add a bass track with a walking line"
has "$tmp/planw" "through the running daemon"
has "$tmp/planw" "Plan valid: 2 steps"
has "$tmp/planw" '^Warning: Step 1: a track named "Bass" already exists \(t[0-9]+\)'
has "$tmp/planw" "Nothing was sent to the DAW"
stop_daemon "the second daemon"
echo "test_live_cli: ok"
