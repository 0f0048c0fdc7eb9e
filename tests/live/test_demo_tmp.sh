#!/usr/bin/env bash
# test_demo_tmp: `dawbridge demo` leaves nothing in $TMPDIR (issue 13): its history directory and the embedded
# mock's companion spool are removed when it ends, and the hint then does not point at a deleted directory. With
# --data-dir the history is kept there and the hint names it.
# Usage: test_demo_tmp.sh DAWBRIDGE_EXE
set -uo pipefail
exe=$1
tmp=$(mktemp -d /tmp/dawbridge-test-demo-tmp-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export XDG_CONFIG_HOME=$tmp/config XDG_RUNTIME_DIR=$tmp/run XDG_DATA_HOME=$tmp/data
mkdir -m 700 "$tmp/run"
mkdir "$tmp/t1" "$tmp/t2"

TMPDIR=$tmp/t1 "$exe" demo >"$tmp/out1" 2>&1 </dev/null
rc=$?
[[ $rc == 0 ]] || { cat "$tmp/out1" >&2; fail "demo exited $rc"; }
grep -q "Steps: 3 of 3 confirmed" "$tmp/out1" || { cat "$tmp/out1" >&2; fail "demo did not confirm its steps"; }
left=$(find "$tmp/t1" -mindepth 1 | head -5)
[[ -z $left ]] || fail "demo left in TMPDIR: $left"
grep -q "removed as the demo ends" "$tmp/out1" || { cat "$tmp/out1" >&2; fail "no hint that the history is gone"; }
grep -q -- "--data-dir $tmp/t1" "$tmp/out1" && fail "the hint names the deleted directory"
grep -q "0002  ai_iteration" "$tmp/out1" || { cat "$tmp/out1" >&2; fail "the history was not printed before removal"; }

# --data-dir: kept, and the hint points there (and works)
TMPDIR=$tmp/t2 "$exe" --data-dir "$tmp/keep" demo >"$tmp/out2" 2>&1 </dev/null
rc=$?
[[ $rc == 0 ]] || { cat "$tmp/out2" >&2; fail "demo --data-dir exited $rc"; }
left=$(find "$tmp/t2" -mindepth 1 | head -5)
[[ -z $left ]] || fail "demo --data-dir left in TMPDIR: $left"
grep -q "Inspect it with: dawbridge --data-dir $tmp/keep --composition demo history show 2" "$tmp/out2" ||
  { cat "$tmp/out2" >&2; fail "no hint naming --data-dir"; }
"$exe" --data-dir "$tmp/keep" --composition demo history show 2 >"$tmp/show" 2>&1 ||
  { cat "$tmp/show" >&2; fail "the hinted command failed"; }
echo "ok: demo leaves nothing in TMPDIR; --data-dir keeps the history"
