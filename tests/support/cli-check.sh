# cli-check.sh: the checks the CLI's shell tests share (tests/live/test_live_cli.sh,
# tests/integration/live_ardour_real.sh). Sourced by bash; the caller sets $exe (the dawbridge program) and defines
# fail MESSAGE... (its own: it adds the logs it keeps to stderr, and exits 1).

# run WANT_EXIT OUTFILE ARGS...: dawbridge ARGS (no stdin, stdout and stderr to OUTFILE) must exit WANT_EXIT; else
# OUTFILE is shown and the test fails.
run() {
  local want=$1 out=$2
  shift 2
  "$exe" "$@" >"$out" 2>&1 </dev/null
  local rc=$?
  [[ $rc == "$want" ]] || { cat "$out" >&2; fail "dawbridge $* exited $rc, want $want"; }
}
# has FILE ERE: a line of FILE matches ERE. hasnt FILE ERE: none does.
has() { grep -qE -- "$2" "$1" || { cat "$1" >&2; fail "no line matching '$2' in $1"; }; }
hasnt() { if grep -qE -- "$2" "$1"; then cat "$1" >&2; fail "a line matches '$2' in $1"; fi; }
