#!/usr/bin/env bash
# Runs every libFuzzer target of a DAWBRIDGE_FUZZ=ON build (clang) for a bounded time, starting from its corpus
# fuzz/corpus/<name>/ (read only: new inputs go to a scratch directory, crashes to <build>/fuzz-artifacts/).
# Usage: fuzz/run-libfuzzer.sh BUILD_DIR [NAME...]   env: FUZZ_SECONDS (default 20) per target.
# Exit: 0 when no target found anything; 1 otherwise (the artifact paths are printed).
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: run-libfuzzer.sh BUILD_DIR [NAME...]}
shift
seconds=${FUZZ_SECONDS:-20}
if [[ $# -gt 0 ]]; then
  names=("$@")
else
  names=()
  for b in "$build"/fuzz_*_libfuzzer; do
    [[ -x $b ]] || continue
    n=${b##*/fuzz_}
    names+=("${n%_libfuzzer}")
  done
fi
[[ ${#names[@]} -gt 0 ]] || { echo "no fuzz_*_libfuzzer in $build (configure with clang and -DDAWBRIDGE_FUZZ=ON)" >&2; exit 1; }
art="$build/fuzz-artifacts"
mkdir -p "$art"
export DAWBRIDGE_SOURCE_DIR=$src TMPDIR=${TMPDIR:-/tmp}
failed=0
for n in "${names[@]}"; do
  scratch=$(mktemp -d)
  echo "== fuzz_$n: ${seconds} s"
  if ! "$build/fuzz_${n}_libfuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
       -print_final_stats=1 -artifact_prefix="$art/$n-" "$scratch" "$src/fuzz/corpus/$n" >"$art/$n.log" 2>&1; then
    echo "fuzz_$n FOUND A PROBLEM: see $art/$n.log and $art/$n-*" >&2
    grep -E "ERROR|SUMMARY|Test unit written" "$art/$n.log" | head -5 >&2
    failed=1
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added)|cov: " "$art/$n.log" | tail -3
  rm -rf "$scratch"
done
exit $failed
