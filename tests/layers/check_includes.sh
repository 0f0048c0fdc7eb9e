#!/usr/bin/env bash
# check_includes.sh [ROOT]: every #include "..." in the C sources of each layer must point down (DESIGN.md "Layers"):
#   util/             util (the bottom: includes nothing of ours)
#   vocab/            vocab util
#   bridge/ osc-maps/ bridge osc-maps vocab util
#   agent/            agent bridge osc-maps vocab util
#   app/              app agent bridge osc-maps vocab mock-daw util (the composition root; + generated headers)
#   mock-daw/         mock-daw util (independent of the bridge, by design)
# A header is looked up like the compiler does for quotes: the including file's own directory first, then the layer
# directories; one found only in a directory the layer may not use is a violation, one found nowhere is too (except
# the generated headers listed below). Prints every violation; exit 1 if any, 0 otherwise.
set -euo pipefail
root=$(realpath "${1:-$(dirname "$0")/../..}")
all_dirs="util vocab bridge osc-maps agent app mock-daw"
generated="dawbridge_version.h"   # app/app.cmake: configure_file(app/version.h.in ...)
allowed() {
  case $1 in
  util) echo "util" ;;
  vocab) echo "vocab util" ;;
  bridge | osc-maps) echo "bridge osc-maps vocab util" ;;
  agent) echo "agent bridge osc-maps vocab util" ;;
  app) echo "app agent bridge osc-maps vocab mock-daw util" ;;
  mock-daw) echo "mock-daw util" ;;
  esac
}
bad=0 files=0 includes=0
for layer in $all_dirs; do
  [ -d "$root/$layer" ] || continue
  ok_dirs=$(allowed "$layer")
  for f in "$root/$layer"/*.c "$root/$layer"/*.h; do
    [ -e "$f" ] || continue
    files=$((files + 1))
    while IFS= read -r hdr; do
      includes=$((includes + 1))
      [ -e "$root/$layer/$hdr" ] && continue
      found="" ok=""
      for d in $all_dirs; do
        if [ -e "$root/$d/$hdr" ]; then
          found="$found $d/$hdr"
          case " $ok_dirs " in *" $d "*) ok=1 ;; esac
        fi
      done
      [ -n "$ok" ] && continue
      if [ -z "$found" ]; then
        case " $generated " in *" $hdr "*) [ "$layer" = app ] && continue ;; esac
        echo "${f#"$root"/}: includes \"$hdr\", which is in no layer directory"
      else
        echo "${f#"$root"/}: includes \"$hdr\" (${found# }): $layer/ may include only from: $ok_dirs"
      fi
      bad=$((bad + 1))
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
  done
done
if [ "$bad" -gt 0 ]; then
  echo "layers: $bad include(s) point up or sideways ($files files, $includes includes checked)" >&2
  exit 1
fi
echo "layers: $includes includes in $files files point down"
