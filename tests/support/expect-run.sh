#!/usr/bin/env bash
# expect-run.sh: run a command and check its exit code AND its output (stdout and stderr together), so a CLI test
# cannot pass on output alone (ctest's PASS_REGULAR_EXPRESSION ignores the exit code) or on exit code alone.
# Usage: expect-run.sh [--exit N] [--match ERE]... [--no-match ERE]... -- COMMAND [ARG...]
#   --exit N      the exit code the command must return (default 0)
#   --match ERE   a line of the output must match (grep -E); repeatable
#   --no-match ERE  no line may match; repeatable
# Prints the output and every unmet expectation on failure; exit 0 when all are met, 1 otherwise.
set -uo pipefail
want_exit=0
match=()
nomatch=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --exit) want_exit=$2; shift 2 ;;
    --match) match+=("$2"); shift 2 ;;
    --no-match) nomatch+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "expect-run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "expect-run.sh: no command" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
rc=$?
bad=()
[[ $rc == "$want_exit" ]] || bad+=("exit code $rc, expected $want_exit")
for re in "${match[@]+"${match[@]}"}"; do
  grep -Eq -- "$re" "$out" || bad+=("no line matches: $re")
done
for re in "${nomatch[@]+"${nomatch[@]}"}"; do
  if grep -Eq -- "$re" "$out"; then bad+=("a line matches what must not appear: $re ($(grep -Em1 -- "$re" "$out"))"); fi
done
if [[ ${#bad[@]} -gt 0 ]]; then
  cat "$out"
  echo "---- expect-run.sh: $*" >&2
  printf 'FAILED: %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "expect-run.sh: exit $rc and all ${#match[@]} expected lines (and none of ${#nomatch[@]} forbidden ones) in the output of: $*"
exit 0
