#!/bin/bash
# json_mode_cli.sh DAWBRIDGE MOCK_LLM — issue 16 end to end: `dawbridge --profile small plan` against the
# mock LLM server (OpenAI format, which answers 400 to a response_format whose shape the real API would refuse)
# asks for the plan as one JSON object with the plan's strict schema (json mode auto = schema under the small
# profile), and the JSON answer is parsed and validated as the plan. Then --json-mode off (no field, the JSON answer
# still parsed), and a bad --json-mode value (exit 1, nothing started). Every failure says what; nothing is skipped.
set -u
dawbridge=$1 mockllm=$2
work=$(mktemp -d)
mpid=
cleanup() {
  [ -n "$mpid" ] && kill "$mpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work"/*.txt; do echo "--- $f"; cat "$f"; done
  exit 1
}
plan='{"analysis": "An empty session.", "steps": [{"tool": "create_track", "description": "Kick track", "args": {"name": "Kick", "type": "midi", "instrument": "kick"}}, {"tool": "create_midi_clip", "description": "Four on the floor", "args": {"track_id": "[track from Step 1]", "start_time": 0, "duration": 4, "name": null, "notes": [{"n": 36, "s": 0, "d": 0.5, "v": 110}, {"n": 36, "s": 1, "d": 0.5, "v": 110}]}}], "reasoning": "A steady pulse."}'
python3 -c 'import json,sys; print(json.dumps({"responses": [{"text": sys.argv[1]}]}))' "$plan" > "$work/t.json" ||
  fail "python3 could not write the transcript"
"$mockllm" --port 0 --transcript "$work/t.json" --repeat > "$work/mock.txt" 2>&1 &
mpid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^mock-llm listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/mock.txt")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || fail "mock-llm did not say its port"
export XDG_CONFIG_HOME="$work/cfg"
unset DAWBRIDGE_DATA_DIR
unset DAWBRIDGE_JSON_MODE OPENAI_API_KEY ANTHROPIC_API_KEY

run() { # name, args...
  local name=$1
  shift
  "$dawbridge" --daw mock --llm openai --llm-url "http://127.0.0.1:$port" --model m --log-level info "$@" \
    > "$work/$name.out.txt" 2> "$work/$name.err.txt"
}
run small --profile small plan "a kick"
rc=$?
[ $rc -eq 0 ] || fail "--profile small: exit $rc (want 0)"
grep -q "^Plan valid: 2 steps\.$" "$work/small.out.txt" || fail "--profile small: the JSON plan was not valid"
grep -q "JSON mode schema: the plan as one JSON object" "$work/small.err.txt" || fail "--profile small: no JSON mode"
grep -q "rejected" "$work/small.err.txt" && fail "--profile small: the mock rejected the request's shape"

run off --profile small --json-mode off plan "a kick"
rc=$?
[ $rc -eq 0 ] || fail "--json-mode off: exit $rc (want 0)"
grep -q "^Plan valid: 2 steps\.$" "$work/off.out.txt" || fail "--json-mode off: the JSON answer was not parsed"
grep -q "JSON mode" "$work/off.err.txt" && fail "--json-mode off: a JSON mode was used"

run bad --json-mode strictest plan "a kick"
rc=$?
[ $rc -eq 1 ] || fail "--json-mode strictest: exit $rc (want 1)"
grep -q "json-mode must be auto, schema, object or off" "$work/bad.err.txt" || fail "--json-mode strictest: no clear error"
echo "json mode end to end: ok"
