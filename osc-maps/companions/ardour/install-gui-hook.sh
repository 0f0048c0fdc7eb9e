#!/usr/bin/env bash
# install-gui-hook.sh - install the dawbridge companion into the Ardour GUI as an EditorHook on the
# 100 ms timer (LuaTimerDS), by writing its entry into Ardour's "ui_scripts" file.
#
# Usage: install-gui-hook.sh [ARDOUR_CONFIG_DIR] [CORE_PATH]
#   ARDOUR_CONFIG_DIR  Ardour's user config dir (default: ${XDG_CONFIG_HOME:-~/.config}/ardour7)
#   CORE_PATH          absolute path of dawbridge_core.lua (default: the one next to this script)
# Quit Ardour before running this (Ardour rewrites ui_scripts when it exits). Running it again replaces the entry.
# Remove: install-gui-hook.sh --remove [ARDOUR_CONFIG_DIR]   (or Edit > Lua Scripts > Script Manager in Ardour)
#
# Format (see ../shared/docs/ardour-lua.md (f)):
#   <UIScripts><ActionHooks><LuaCallback lua="Lua 5.3" id="ID" name="NAME" signals="BITSET">BASE64</LuaCallback>
# BASE64 encodes the Lua chunk  s = {} s['n'] = NAME s['s'] = '' s['f'] = <hook chunk> s['a'] = {}
# BITSET is std::bitset<49>::to_string with only bit 47 (LuaTimerDS, every 100 ms) set: "01" followed by 47 zeros.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REMOVE=0
if [[ ${1:-} == --remove ]]; then REMOVE=1; shift; fi
CFG=${1:-${XDG_CONFIG_HOME:-$HOME/.config}/ardour7}
CORE=${2:-$HERE/dawbridge_core.lua}
HOOK_ID=919191919
NAME="dawbridge companion"
FILE=$CFG/ui_scripts

strip_entry() {  # remove our LuaCallback element (one line, as written here) from stdin
  sed -e "s|<LuaCallback [^>]*id=\"$HOOK_ID\"[^>]*>[^<]*</LuaCallback>||g"
}

mkdir -p "$CFG"
if (( REMOVE )); then
  if [[ -f $FILE ]]; then strip_entry < "$FILE" > "$FILE.tmp" && mv "$FILE.tmp" "$FILE"; fi
  echo "removed the dawbridge hook from $FILE"
  exit 0
fi

[[ -f $CORE ]] || { echo "install-gui-hook: no core at $CORE" >&2; exit 1; }
[[ $CORE == /* ]] || CORE=$(cd "$(dirname "$CORE")" && pwd)/$(basename "$CORE")
[[ $CORE != *']==]'* ]] || { echo "install-gui-hook: unusable path $CORE" >&2; exit 1; }
BODY=$(cat "$HERE/dawbridge_hook.lua")
[[ $BODY != *']==]'* ]] || { echo "install-gui-hook: hook contains ]==]" >&2; exit 1; }
BODY=${BODY//@DAWBRIDGE_CORE@/$CORE}
STATE="s = {} s['n'] = '$NAME' s['s'] = '' s['f'] = [==[$BODY]==] s['a'] = {} "
B64=$(printf '%s' "$STATE" | base64 -w0)
BITS="01$(printf '0%.0s' $(seq 1 47))"
ENTRY="<LuaCallback lua=\"Lua 5.3\" id=\"$HOOK_ID\" name=\"$NAME\" signals=\"$BITS\">$B64</LuaCallback>"

if [[ -f $FILE ]] && grep -q "<UIScripts" "$FILE"; then
  cp "$FILE" "$FILE.bak"
  content=$(strip_entry < "$FILE")
  if grep -q "<ActionHooks/>" <<< "$content"; then
    content=${content/<ActionHooks\/>/<ActionHooks>$ENTRY</ActionHooks>}
  elif grep -q "</ActionHooks>" <<< "$content"; then
    content=${content/<\/ActionHooks>/$ENTRY</ActionHooks>}
  else
    content=${content/<\/UIScripts>/<ActionHooks>$ENTRY</ActionHooks></UIScripts>}
  fi
  printf '%s\n' "$content" > "$FILE.tmp"
else
  printf '<?xml version="1.0" encoding="UTF-8"?>\n<UIScripts>\n  <ActionHooks>%s</ActionHooks>\n</UIScripts>\n' \
    "$ENTRY" > "$FILE.tmp"
fi
mv "$FILE.tmp" "$FILE"
echo "installed the dawbridge hook (core $CORE) into $FILE; (re)start Ardour"
