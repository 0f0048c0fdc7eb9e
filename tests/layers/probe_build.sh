#!/usr/bin/env bash
# probe_build.sh CMAKE BUILD_DIR {ok|up TARGET HEADER}...
# Builds each probe object library (tests/layers/layers.cmake: probe.c including HEADER, linked with one layer's
# libraries). "ok": a header of that layer or below, must compile. "up": a header of a higher layer, must FAIL with
# that header not found. So a wrong include is a build error, checked with the targets' real include directories.
set -uo pipefail
cmake=$1 build=$2
shift 2
bad=0 n=0
while [ $# -ge 3 ]; do
  want=$1 t=$2 hdr=$3
  shift 3
  n=$((n + 1))
  out=$("$cmake" --build "$build" --target "$t" 2>&1)
  rc=$?
  if [ "$want" = ok ]; then
    if [ $rc -ne 0 ]; then
      echo "$out" | tail -15
      echo "FAIL: $t: \"$hdr\" does not compile with its layer's libraries"
      bad=1
    else
      echo "ok: $t: \"$hdr\" compiles"
    fi
  elif [ $rc -eq 0 ]; then
    echo "FAIL: $t compiled: \"$hdr\" is on this layer's include path"
    bad=1
  elif ! echo "$out" | grep -qF "$hdr: No such file"; then
    echo "$out" | tail -15
    echo "FAIL: $t failed, but not because \"$hdr\" is not found"
    bad=1
  else
    echo "ok: $t: \"$hdr\" is not on the include path (build error)"
  fi
done
[ $# -eq 0 ] || { echo "usage: probe_build.sh CMAKE BUILD {ok|up TARGET HEADER}..."; exit 2; }
[ $n -gt 0 ] || { echo "no probes"; exit 1; }
exit $bad
