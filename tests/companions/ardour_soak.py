#!/usr/bin/env python3
"""ardour_soak.py: soak test of the dawbridge Ardour companion inside a REAL headless Ardour (issue 11).
Run by ardour_e2e.sh (ARDOUR_E2E_RUN=this file; DAWBRIDGE_SPOOL and DAWBRIDGE_ARDOUR_PORT are set by it).
At least 500 mixed companion commands, among them 100 successive small clips on one track and 20 clips of 5,000
notes, with companion undo, edits, effects and read-back between them. Every clip written is read back and compared
note by note; at the end Ardour must still answer (ping) and the clips that remain must still read back exactly.
Bounded: every reply has a deadline; the whole run is limited by --budget seconds. Exit 0 pass, 1 fail."""
import argparse, json, os, random, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ardour_e2e import Companion  # noqa: E402

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL " + what, flush=True)
    return cond


def notes_of(rng, count, length):
    """count distinct notes inside [0, length) beats; exact on Ardour's 1/1920 tick grid"""
    out, seen = [], set()
    while len(out) < count:
        s = rng.randrange(0, int(length * 1920)) / 1920.0
        n = rng.randrange(24, 108)
        if (s, n) in seen:
            continue
        seen.add((s, n))
        out.append({"n": n, "s": s, "d": rng.choice([0.125, 0.25, 0.5, 1.0]), "v": rng.randrange(1, 128),
                    "c": rng.randrange(0, 16)})
    return sorted(out, key=lambda x: (x["s"], x["n"], x["c"]))


def same_notes(got, want):
    """equal note for note, times compared on Ardour's tick grid (1/1920 beat; replies carry 6 decimals)"""
    def norm(xs):
        return sorted((int(round(x["s"] * 1920)), x["n"], x.get("c", 0), int(round(x["d"] * 1920)), x["v"]) for x in xs)
    return norm(got) == norm(want)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spool", default=os.environ.get("DAWBRIDGE_SPOOL"))
    ap.add_argument("--reply-port", type=int, default=int(os.environ.get("DAWBRIDGE_ARDOUR_PORT", "3917")) + 1)
    ap.add_argument("--budget", type=float, default=float(os.environ.get("SOAK_BUDGET_S", "600")))
    ap.add_argument("--small", type=int, default=100)
    ap.add_argument("--big", type=int, default=20)
    ap.add_argument("--big-notes", type=int, default=5000)
    o = ap.parse_args()
    if not o.spool:
        print("no spool (DAWBRIDGE_SPOOL)"); return 1
    c = Companion(o.spool, o.reply_port)
    rng = random.Random(11)
    t0 = time.time()
    n_cmds = 0
    live = {}  # clip id -> notes expected

    def call(op, args=None, timeout=60.0, **extra):
        nonlocal n_cmds
        if time.time() - t0 > o.budget:
            raise SystemExit("soak: over the time budget of %.0f s after %d commands" % (o.budget, n_cmds))
        n_cmds += 1
        _, r = c.call(op, args, deadline_s=timeout, **extra)
        return r

    def readback(clip, want, what):
        r = call("read_clip", {"clip": clip})
        return check(r.get("ok") and same_notes(r["result"]["notes"], want),
                     "%s: read back %s" % (what, (r.get("error") or "%d notes, want %d" % (len(r["result"]["notes"]), len(want)))))

    r = call("ping", timeout=30)
    check(r.get("ok"), "ping")
    r = call("create_track", {"name": "Soak", "type": "midi", "instrument": "ACE Reasonable Synth"})
    check(r.get("ok"), "create_track: %s" % r.get("error"))
    track = r["result"]["host_id"]
    r = call("create_track", {"name": "Soak FX", "type": "audio"})
    fx_track = r["result"]["host_id"] if check(r.get("ok"), "audio track") else None

    # 1. 100 successive small clips on one track, each read back; every 10th is an undo step of its own
    pos = 0.0
    for i in range(o.small):
        want = notes_of(rng, 16, 4)
        req = "soak small %d" % i
        if i % 10 == 0:
            call("begin_undo", {"name": req})
        r = call("create_midi_clip", {"track": track, "start": pos, "length": 4, "notes": want}, request=req)
        if not check(r.get("ok") and r["result"]["notes_added"] == 16, "small clip %d: %s" % (i, r.get("error"))):
            continue
        clip = r["result"]["host_id"]
        readback(clip, want, "small clip %d" % i)
        if i % 10 == 0:
            call("end_undo")
            u = call("undo")          # the companion's undo of that request: the clip goes
            check(u.get("ok") and u["result"]["undone"] == req, "undo of %s: %s" % (req, u.get("error")))
            r = call("read_clip", {"clip": clip})
            check(not r.get("ok"), "clip %d gone after undo" % i)
        else:
            live[clip] = want
        if i % 7 == 3 and clip in live:  # an edit: add one note, remove the first
            first = want[0]
            add = {"n": 100, "s": 3.5, "d": 0.25, "v": 64, "c": 0}
            r = call("edit_clip", {"clip": clip, "remove": [{"n": first["n"], "s": first["s"]}], "add": [add]})
            if check(r.get("ok"), "edit_clip %d: %s" % (i, r.get("error"))):
                want = [x for x in want if x is not first] + [add]
                live[clip] = want
                readback(clip, want, "edited clip %d" % i)
        if i % 25 == 12 and fx_track:
            r = call("add_effect", {"track": fx_track, "name": "ACE Delay"})
            check(r.get("ok"), "add_effect: %s" % r.get("error"))
        pos += 4.0
    # 2. 20 clips of 5,000 notes, each read back; some deleted and their deletion undone
    for i in range(o.big):
        want = notes_of(rng, o.big_notes, 64)
        r = call("create_midi_clip", {"track": track, "start": pos, "length": 64, "notes": want}, timeout=120)
        if not check(r.get("ok") and r["result"]["notes_added"] == o.big_notes, "big clip %d: %s" % (i, r.get("error"))):
            continue
        clip = r["result"]["host_id"]
        readback(clip, want, "big clip %d" % i)
        live[clip] = want
        if i % 5 == 2:
            r = call("delete_clip", {"clip": clip})
            check(r.get("ok"), "delete_clip: %s" % r.get("error"))
            u = call("undo")
            check(u.get("ok"), "undo of delete_clip: %s" % u.get("error"))
            r = call("state", timeout=120)
            ids = [cl["host_id"] for t in r.get("result", {}).get("tracks", []) for cl in t["clips"]]
            check(r.get("ok") and len(ids) >= len(live), "state after undo of delete_clip: %d clips" % len(ids))
        pos += 64.0
    # 3. fill up to 500 commands with cheap mixed ones (ping, read_clip, effects, undo of effects)
    clips = sorted(live)
    k = 0
    while n_cmds < 500:
        k += 1
        if k % 3 == 0 and fx_track:
            call("begin_undo", {"name": "soak fx %d" % k})
            r = call("add_effect", {"track": fx_track, "name": "ACE Compressor"})
            call("end_undo")
            check(r.get("ok"), "add_effect %d" % k)
            u = call("undo")
            check(u.get("ok"), "undo of add_effect %d: %s" % (k, u.get("error")))
        elif k % 3 == 1:
            check(call("ping").get("ok"), "ping %d" % k)
        else:
            clip = clips[k % len(clips)]
            readback(clip, live[clip], "re-read clip %s" % clip)
    # 4. Ardour alive, and every clip still exactly there
    check(call("ping").get("ok"), "Ardour answers at the end")
    bad = 0
    for clip in clips:
        r = call("read_clip", {"clip": clip}, timeout=60)
        if not (r.get("ok") and same_notes(r["result"]["notes"], live[clip])):
            bad += 1
    check(bad == 0, "%d of %d clips differ at the end" % (bad, len(clips)))
    total = sum(len(v) for v in live.values())
    print("soak: %d commands in %.1f s; %d clips (%d notes) read back exactly at the end; %d failures"
          % (n_cmds, time.time() - t0, len(clips) - bad, total, len(FAILS)), flush=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
