#!/usr/bin/env bash
# test_eval_args: `dawbridge eval` gives its child runs the model options it resolved (app/cmd_eval.c): --profile
# (also "default" over a configuration file's "small": the children read the same file) and --json-mode. Seen in
# the results of a one-case suite: the case's stage-1 prompt estimate (the small profile's prompt is shorter) and
# the JSON mode the child logged ("json_mode").
# Usage: test_eval_args.sh DAWBRIDGE_EXE SOURCE_DIR
set -uo pipefail
exe=$1
src=$2
tmp=$(mktemp -d /tmp/dawbridge-test-eval-args-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export XDG_RUNTIME_DIR=$tmp/run XDG_DATA_HOME=$tmp/data
mkdir -m 700 "$XDG_RUNTIME_DIR"
mkdir -p "$tmp/nocfg" "$tmp/small/dawbridge"
echo '{"profile": "small"}' >"$tmp/small/dawbridge/config.json"
python3 - "$src/examples/eval/suite.json" "$tmp/suite.json" <<'EOF' || fail "cannot make the one-case suite"
import json, sys
s = json.load(open(sys.argv[1]))
s["cases"] = s["cases"][:1]
json.dump(s, open(sys.argv[2], "w"))
EOF
# ev NAME CONFIG_HOME ARGS...: one eval (exit 0: the case passes), its JSON in $tmp/NAME.json
ev() {
  local name=$1 cfg=$2
  shift 2
  mkdir -p "$tmp/d-$name"
  XDG_CONFIG_HOME=$cfg "$exe" --data-dir "$tmp/d-$name" --json "$@" eval "$tmp/suite.json" >"$tmp/$name.json" \
    2>"$tmp/$name.err" </dev/null
  local rc=$?
  [[ $rc == 0 ]] || { cat "$tmp/$name.err" "$tmp/$name.json" >&2; fail "eval $name ($*) exited $rc"; }
}
# get NAME KEY: the first case's KEY (summary.KEY for "summary.KEY")
get() {
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
k = sys.argv[2]
print(r["summary"][k[8:]] if k.startswith("summary.") else r["cases"][0][k])' "$tmp/$1.json" "$2" ||
    fail "no $2 in $tmp/$1.json"
}

ev def "$tmp/nocfg"
ev small "$tmp/nocfg" --profile small
ev over "$tmp/small" --profile default
ev file "$tmp/small"
ev jm "$tmp/nocfg" --json-mode object
d=$(get def stage1_prompt_tokens_est)
s=$(get small stage1_prompt_tokens_est)
[[ $d =~ ^[0-9]+$ && $s =~ ^[0-9]+$ ]] || fail "no prompt estimates (default '$d', small '$s')"
((s < d)) || fail "the small profile's prompt ($s tokens) is not shorter than the default's ($d)"
p=$(get over summary.profile)
[[ $p == default ]] || fail "eval --profile default over the file's small: the summary says $p"
o=$(get over stage1_prompt_tokens_est)
[[ $o == "$d" ]] || fail "--profile default over the file's small: the child's prompt is $o tokens, the default's $d"
f=$(get file stage1_prompt_tokens_est)
[[ $f == "$s" ]] || fail "the file's small profile: the child's prompt is $f tokens, the small profile's $s"
j=$(get def json_mode)
[[ $j == off ]] || fail "without --json-mode the scripted child asked for JSON mode $j"
[[ $(get jm json_mode) == object ]] || fail "eval --json-mode object: the child asked for JSON mode $(get jm json_mode)"
echo "test_eval_args: ok (prompt: default $d, small $s tokens)"
