#!/usr/bin/env bash
# probe_build.sh CC FLAGS_DIR PROBE.c {ok|up NAME HEADER}...
# Compiles PROBE.c (#include HEADER) with the include directories and definitions CMake computed for the probe
# target dblayers_probe_NAME (FLAGS_DIR/NAME.flags: that layer's libraries' usage requirements, tests/layers/
# layers.cmake). "ok": a header of that layer or below, must compile. "up": a header of a higher layer, must FAIL
# with that header not found. So a wrong include is a build error with the targets' real include directories.
set -uo pipefail
cc=$1 flags_dir=$2 probe=$3
shift 3
bad=0 n=0
while [ $# -ge 3 ]; do
  want=$1 name=$2 hdr=$3
  shift 3
  n=$((n + 1))
  f=$flags_dir/$name.flags
  [ -r "$f" ] || { echo "FAIL: $f missing (re-run cmake)"; bad=1; continue; }
  mapfile -t flags < <(grep -v '^$' "$f" | grep -v '^-DPROBE_HEADER=')
  out=$("$cc" -std=c11 -fsyntax-only -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE "${flags[@]}" \
    "-DPROBE_HEADER=\"$hdr\"" "$probe" 2>&1)
  rc=$?
  if [ "$want" = ok ]; then
    if [ $rc -ne 0 ]; then
      echo "$out" | tail -15
      echo "FAIL: $name: \"$hdr\" does not compile with its layer's libraries"
      bad=1
    else
      echo "ok: $name: \"$hdr\" compiles"
    fi
  elif [ $rc -eq 0 ]; then
    echo "FAIL: $name compiled: \"$hdr\" is on this layer's include path"
    bad=1
  elif [[ $out != *"$hdr: No such file"* ]]; then
    echo "$out" | tail -15
    echo "FAIL: $name failed, but not because \"$hdr\" is not found"
    bad=1
  else
    echo "ok: $name: \"$hdr\" is not on the include path (build error)"
  fi
done
[ $# -eq 0 ] || { echo "usage: probe_build.sh CC FLAGS_DIR PROBE.c {ok|up NAME HEADER}..."; exit 2; }
[ $n -gt 0 ] || { echo "no probes"; exit 1; }
exit $bad
