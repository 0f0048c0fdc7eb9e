#!/usr/bin/env bash
# test_install_runs_without_source_tree BUILD_DIR SOURCE_DIR
# `cmake --install` into a temporary prefix, the prefix moved elsewhere (an install finds its data relative to
# itself), then the installed dawbridge run from / with an empty environment while the source tree and the build
# tree are HIDDEN (root: an empty directory mounted over each in a private user+mount namespace; another user:
# the trees made unreadable), so any read of them fails. `--version` must name <prefix>/share/dawbridge, and `demo` must confirm all three steps.
# Then, with share/dawbridge renamed away, both must fail with a clear message (exit 5), not find other data.
# CI (.ci/run) does the same for real: clone, build, install, move the clone away, run the demo.
set -uo pipefail
build=$(realpath "$1") src=$(realpath "$2")
fail() { echo "FAIL: $*" >&2; exit 1; }
base=/tmp
case "$base/" in "$src/"* | "$build/"*) fail "/tmp is inside the source or build tree" ;; esac
work=$(mktemp -d "$base/dawbridge-install-XXXXXX") || fail "mktemp"
restore=() # modes to put back (mode:path) if a run with the trees made unreadable is interrupted
trap 'for m in "${restore[@]}"; do chmod "${m%%:*}" "${m#*:}"; done; rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/p" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }
for f in bin/dawbridge bin/mock-daw share/dawbridge/osc-maps/reaper.json share/dawbridge/osc-maps/ardour.json \
  share/dawbridge/osc-maps/instruments/roles.json share/dawbridge/osc-maps/companions/reaper/dawbridge.lua \
  share/dawbridge/osc-maps/companions/ardour/dawbridge.lua share/dawbridge/prompts/stage1.txt \
  share/dawbridge/examples/demo-transcript.json share/dawbridge/examples/kick-reverb.plan \
  share/dawbridge/vocab/tools.json share/man/man1/dawbridge.1; do
  [ -e "$work/p/$f" ] || fail "not installed: $f"
done
if [ -e "$src/web/index.html" ]; then [ -e "$work/p/share/dawbridge/web/index.html" ] || fail "not installed: the web page"; fi
[ -x "$work/p/share/dawbridge/osc-maps/companions/ardour/install-gui-hook.sh" ] || fail "install-gui-hook.sh not executable"
mv "$work/p" "$work/moved" || fail "mv prefix"
P=$work/moved
mkdir -p "$work/empty" "$work/home"

# hidden CMD...: runs CMD from / with an empty environment while the source and build trees cannot be read.
# As root: an empty directory is mounted over each in a private user+mount namespace (unshare -rm). As another user
# the namespace would show every root-owned directory (/, /tmp) as owned by the overflow uid 65534, which the
# companion spool's ownership check rightly refuses; so an unprivileged run makes the trees unreadable instead
# (chmod 000 on the trees it owns; restored on exit).
if [ "$(id -u)" -eq 0 ]; then
  unshare -rm true 2>/dev/null || { echo "cannot run here: unshare -rm (user + mount namespace) is not permitted" >&2; exit 77; }
  hidden() {
    unshare -rm -- sh -c 'e=$1 s=$2 b=$3 h=$4; shift 4
      mount --bind "$e" "$b" && mount --bind "$e" "$s" || exit 99  # the build tree first: it may be inside the source
      cd / && exec env -i PATH=/usr/bin:/bin HOME="$h" TMPDIR=/tmp "$@"' sh "$work/empty" "$src" "$build" "$work/home" "$@"
  }
else
  [ -O "$src" ] && [ -O "$build" ] || { echo "cannot run here: the source and build trees must be this user's to hide them" >&2; exit 77; }
  hidden() {
    local t rc
    for t in "$build" "$src"; do
      restore+=("$(stat -c %a "$t"):$t")
      chmod 000 "$t" || return 99
    done
    (cd / && exec env -i PATH=/usr/bin:/bin HOME="$work/home" TMPDIR=/tmp "$@"); rc=$?
    chmod "${restore[1]%%:*}" "$src"; chmod "${restore[0]%%:*}" "$build"; restore=()
    return $rc
  }
fi
# the hiding works: the trees are empty inside
n=$(hidden sh -c "ls -A '$src' | wc -l; if [ -e '$build' ]; then ls -A '$build' | wc -l; else echo 0; fi" | tr '\n' ' ')
[ "$n" = "0 0 " ] || fail "source/build tree still visible inside the namespace ($n entries)"

out=$(hidden "$P/bin/dawbridge" --version 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "--version exited $rc"
grep -qx "dawbridge [0-9][0-9.]*\( (git .*)\)\?" <<<"$out" || fail "--version: no version line"
grep -qxF "data: $P/share/dawbridge (install (relative to the executable))" <<<"$out" ||
  fail "--version: data directory is not $P/share/dawbridge"

out=$(hidden "$P/bin/dawbridge" demo 2>&1); rc=$?
echo "$out"
[ $rc -eq 0 ] || fail "demo exited $rc"
grep -qx "Steps: 3 of 3 confirmed, 0 uncertain, 0 failed" <<<"$out" || fail "demo: not every step confirmed"
grep -qx "Verification: the DAW's session matches the plan\." <<<"$out" || fail "demo: session does not match the plan"
grep -q "^t4 .*Kick Drum .*ReaVerbate (Cockos); 1 clip, 2 notes$" <<<"$out" || fail "demo: no kick track with its clip and reverb"

# without its data the install says so (and does not find the source tree's); skipped only if a system-wide
# install exists at the compiled-in prefix (it would rightly be used)
prefix_data=${DAWBRIDGE_TEST_PREFIX_DATADIR:-}  # the compiled-in install data dir (tests/install/install.cmake)
if [ -n "$prefix_data" ] && [ -d "$prefix_data" ]; then
  echo "note: $prefix_data exists: the no-data check is not meaningful here, not run"
else
  mv "$P/share/dawbridge" "$P/share/dawbridge.away"
  out=$(hidden "$P/bin/dawbridge" --version 2>&1); rc=$?
  echo "$out"
  [ $rc -eq 5 ] || fail "--version without data exited $rc, not 5"
  grep -q "^data: none (no dawbridge data directory" <<<"$out" || fail "--version without data: no clear message"
  out=$(hidden "$P/bin/dawbridge" demo 2>&1); rc=$?
  echo "$out"
  [ $rc -eq 5 ] || fail "demo without data exited $rc, not 5"
  grep -q "no dawbridge data directory" <<<"$out" || fail "demo without data: no clear message"
fi
echo "PASS: installed dawbridge ran from $P with the source and build trees hidden"
