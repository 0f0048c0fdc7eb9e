#!/usr/bin/env python3
"""The reference request on a REAL Ardour 7 (issue 10, "Done when"), run by ardour_e2e.sh as ARDOUR_E2E_RUN.

`dawbridge exec examples/kick-reverb.plan` (the plan step `create_track {name: Kick Drum, type: midi,
instrument: kick}`, a two-note clip, reverb) against the headless Ardour that ardour_e2e.sh started, with the
companion in its spool. Then checks, from the DAW's side and not from the bridge's report alone:
  - exit code 0 and every action's outcome "confirmed";
  - a second, independent `dawbridge state --json` (a new process, a fresh mirror from Ardour + companion) shows
    a "Kick Drum" MIDI track whose instrument is a real drum-capable plugin of this Ardour (Black Pearl Drumkit
    when avldrums.lv2 is installed, else the map's fallback), the clip's exact notes, and a reverb in its chain.
Environment (from ardour_e2e.sh): DAWBRIDGE_SPOOL, DAWBRIDGE_ARDOUR_PORT; DAWBRIDGE_BIN (default: the build's
dawbridge found through DAWBRIDGE_BINARY_DIR), DAWBRIDGE_SOURCE_DIR.
"""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("DAWBRIDGE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("DAWBRIDGE_BIN") or os.path.join(os.environ.get("DAWBRIDGE_BINARY_DIR", "build"), "dawbridge")
PORT = os.environ["DAWBRIDGE_ARDOUR_PORT"]
SPOOL = os.environ["DAWBRIDGE_SPOOL"]
DRUM_PLUGINS = ("Black Pearl Drumkit", "Red Zeppelin Drumkit", "ACE Reasonable Synth")
WANT_NOTES = [(36, 0.0, 0.5, 110), (36, 1.0, 0.5, 110)]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def dawbridge(*args, timeout=120):
    cmd = [BIN, "--daw", "ardour", "--port", PORT, "--spool", SPOOL] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    sys.stderr.write(p.stderr[-4000:])
    return p


def main():
    plugin_dir = "/usr/lib/lv2/avldrums.lv2"
    with tempfile.TemporaryDirectory() as data:
        p = dawbridge("--data-dir", data, "--json", "exec", os.path.join(SRC, "examples", "kick-reverb.plan"))
        check(p.returncode == 0, "exec exits 0 (got %d)" % p.returncode)
        try:
            res = json.loads(p.stdout)
        except ValueError:
            print(p.stdout[-2000:])
            check(False, "exec --json prints the response object")
            return
        acts = res.get("actions_executed") or []
        check(len(acts) == 3, "three actions executed (got %d)" % len(acts))
        for a in acts:
            check(a.get("outcome") == "confirmed", "%s is confirmed (got %s)" % (a.get("tool"), a.get("outcome")))

    p = dawbridge("state", "--json")
    check(p.returncode == 0, "state exits 0 (got %d)" % p.returncode)
    try:
        st = json.loads(p.stdout)
    except ValueError:
        check(False, "state --json prints the session")
        return
    kicks = [t for t in st.get("tracks", []) if t.get("name") == "Kick Drum"]
    check(len(kicks) == 1, "exactly one Kick Drum track in Ardour (got %d)" % len(kicks))
    if not kicks:
        return
    k = kicks[0]
    check(k.get("type") == "midi", "Kick Drum is a MIDI track (got %s)" % k.get("type"))
    ins = k.get("instrument") or ""
    expect = "Black Pearl Drumkit" if os.path.isdir(plugin_dir) else None
    if expect:
        check(ins.startswith(expect), "instrument is the DAW's drum kit %r (got %r)" % (expect, ins))
    else:
        check(any(ins.startswith(x) for x in DRUM_PLUGINS), "instrument is a real plugin (got %r)" % ins)
    clips = k.get("clips") or []
    check(len(clips) == 1, "one clip on Kick Drum (got %d)" % len(clips))
    if clips:
        got = sorted((int(n["n"]), round(float(n["s"]), 4), round(float(n["d"]), 4), int(n.get("v", 0)))
                     for n in clips[0].get("notes", []))
        check(got == sorted(WANT_NOTES), "the clip's notes read back exactly (got %s)" % got)
    fx = [str(f.get("name", "")) for f in (k.get("fx") or k.get("plugins") or [])]
    check(any("reverb" in f.lower() for f in fx), "a reverb in the FX chain (got %s)" % fx)


if __name__ == "__main__":
    main()
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("reference request: all checks passed")
