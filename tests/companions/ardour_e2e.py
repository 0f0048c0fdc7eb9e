#!/usr/bin/env python3
"""ardour_e2e.py: drives the dawbridge Ardour companion running inside a real Ardour (started by
ardour_e2e.sh) through the spool directory, as the bridge does, and checks the results:
  * ping; create a MIDI track with ACE Reasonable Synth; a clip with exact notes; ACE Reverb (by alias);
    all inside one begin_undo/end_undo request
  * read_clip returns the exact notes; the OSC reply (/dawbridge/reply s <json>) also arrives
  * native OSC /strip/plugin/list shows ACE Reasonable Synth and ACE Reverb on the new strip
  * after /save_state: the .history file holds ONE UndoTransaction for the request; the notes are in the
    session's .mid source (parsed here)
  * duplicate id -> stored reply, not executed twice; expired deadline -> not executed
  * companion-level undo removes the clip (read_clip -> error, state shows no clip, .history gains
    "bridge undo: ..."), and the reverb
Python 3 standard library only. Exit 0 on success, 1 on failure."""
import argparse, glob, json, os, socket, struct, sys, time, xml.etree.ElementTree as ET

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)
    return cond


# ---- OSC (minimal): tests/support/oscmsg.py ----
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from oscmsg import osc as osc_msg, parse as osc_parse  # noqa: E402


class Companion:
    def __init__(self, spool, reply_port):
        self.spool = spool
        self.reply_port = reply_port
        self.n = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", reply_port))
        if not reply_port:  # 0: any free port
            self.reply_port = self.sock.getsockname()[1]
        self.sock.settimeout(0.05)
        self.osc_replies = {}

    def new_id(self):
        self.n += 1
        return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-e2e-%04d" % self.n

    def write(self, cmd):
        p = os.path.join(self.spool, "in", cmd["id"] + ".json")
        with open(p + ".tmp", "w") as f:
            json.dump(cmd, f)
        os.rename(p + ".tmp", p)
        self.ring(cmd["id"])

    def ring(self, cid):
        # the doorbell (PROTOCOL.md): the id appended to in/.queue after the command file is in place
        fd = os.open(os.path.join(self.spool, "in", ".queue"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (cid + "\n").encode())
        finally:
            os.close(fd)

    def recv_osc(self, wait):
        # wait up to `wait` s for one datagram; keep every /dawbridge/reply by id
        self.sock.settimeout(max(wait, 0.0005))
        try:
            b, _ = self.sock.recvfrom(1 << 20)
        except socket.timeout:
            return
        addr, args = osc_parse(b)
        if addr == "/dawbridge/reply" and args:
            r = json.loads(args[0])
            self.osc_replies[r.get("id")] = r

    def drain_osc(self):
        self.sock.settimeout(0.0005)
        while True:
            try:
                b, _ = self.sock.recvfrom(1 << 20)
            except (socket.timeout, BlockingIOError):
                return
            addr, args = osc_parse(b)
            if addr == "/dawbridge/reply" and args:
                r = json.loads(args[0])
                self.osc_replies[r.get("id")] = r

    def wait_reply(self, cid, timeout=20.0):
        # whichever comes first: the OSC reply (sent after the reply file is written) or the reply file
        p = os.path.join(self.spool, "out", cid + ".json")
        end = time.time() + timeout
        while time.time() < end:
            if cid in self.osc_replies:
                try:
                    os.remove(p)
                except FileNotFoundError:
                    pass
                return self.osc_replies[cid]
            if os.path.exists(p):
                with open(p) as f:
                    r = json.load(f)
                os.remove(p)
                return r
            self.recv_osc(min(0.02, max(end - time.time(), 0)))
        raise SystemExit("no reply for %s within %.0f s" % (cid, timeout))

    def call(self, op, args=None, deadline_s=30.0, cid=None, **extra):
        cmd = {"id": cid or self.new_id(), "op": op, "args": args or {},
               "deadline_ms": int((time.time() + deadline_s) * 1000), "reply_port": self.reply_port}
        cmd.update(extra)
        self.osc_replies.pop(cmd["id"], None)  # a resent id waits for its new reply
        self.write(cmd)
        return cmd, self.wait_reply(cmd["id"], timeout=max(20.0, deadline_s))


def osc_query(port, msgs, wait=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.1)
    for m in msgs:
        s.sendto(m, ("127.0.0.1", port))
        time.sleep(0.05)
    out, end = [], time.time() + wait
    while time.time() < end:
        try:
            b, _ = s.recvfrom(65536)
        except socket.timeout:
            continue
        out.append(osc_parse(b))
    s.close()
    return out


# ---- Standard MIDI File (stdlib) ----
def smf_notes(path):
    """[(pitch, start_beats, dur_beats, velocity, channel)] of a type-0/1 SMF."""
    data = open(path, "rb").read()
    if data[:4] != b"MThd":
        return None
    _, _, ppqn = struct.unpack(">HHH", data[8:14])
    pos, notes = 8 + struct.unpack(">I", data[4:8])[0], []
    while pos + 8 <= len(data):
        cid, ln = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])[0]
        body, pos = data[pos + 8:pos + 8 + ln], pos + 8 + ln
        if cid != b"MTrk":
            continue
        i, t, status, on = 0, 0, 0, {}

        def vlq(i):
            v = 0
            while True:
                c = body[i]; i += 1
                v = (v << 7) | (c & 0x7F)
                if c < 0x80:
                    return v, i
        while i < len(body):
            d, i = vlq(i)
            t += d
            if body[i] & 0x80:
                status = body[i]; i += 1
            if status == 0xFF:
                _, i = body[i], i + 1
                ln2, i = vlq(i)
                i += ln2
                continue
            if status in (0xF0, 0xF7):
                ln2, i = vlq(i)
                i += ln2
                continue
            kind, ch = status & 0xF0, status & 0x0F
            nbytes = 1 if kind in (0xC0, 0xD0) else 2
            a = body[i:i + nbytes]; i += nbytes
            if kind == 0x90 and a[1] > 0:
                on[(ch, a[0])] = (t, a[1])
            elif kind == 0x80 or (kind == 0x90 and a[1] == 0):
                if (ch, a[0]) in on:
                    st, vel = on.pop((ch, a[0]))
                    notes.append((a[0], st / ppqn, (t - st) / ppqn, vel, ch))
    return sorted(notes)


def gui_main(o, c):
    """The same request through the GUI's timer hook; Ardour's own undo (/undo over OSC) reverts it."""
    _, r = c.call("ping", deadline_s=60)
    check(r.get("ok") and r["result"]["undo"] == "native", "ping through the GUI hook: %s" % json.dumps(r))
    REQ = "add keys part (gui)"
    notes = [{"n": 60, "s": 0, "d": 1, "v": 100}, {"n": 64, "s": 1, "d": 0.5, "v": 90}, {"n": 67, "s": 2.5, "d": 1.5, "v": 80}]
    c.call("begin_undo", {"name": REQ})
    _, r = c.call("create_track", {"name": "Keys", "type": "midi", "instrument": "ACE Reasonable Synth"})
    check(r.get("ok") and r["result"]["instrument"] == "ACE Reasonable Synth", "create_track: %s" % json.dumps(r))
    track = r.get("result", {}).get("host_id")
    _, r = c.call("create_midi_clip", {"track": track, "start": 4, "length": 4, "name": "verse", "notes": notes})
    check(r.get("ok"), "create_midi_clip: %s" % json.dumps(r))
    clip = r.get("result", {}).get("host_id")
    _, r = c.call("add_effect", {"track": track, "name": "ACE Reverb"})
    check(r.get("ok") and r["result"]["name"] == "ACE Reverb", "add_effect: %s" % json.dumps(r))
    _, r = c.call("end_undo")
    check(r.get("ok"), "end_undo")
    _, r = c.call("read_clip", {"clip": clip})
    want = [dict(n, c=0) for n in notes]
    check(r.get("ok") and r["result"]["notes"] == want, "read_clip exact notes: %s" % json.dumps(r)[:300])
    # native undo over OSC: reverts the whole request's transaction (the clip and its notes)
    osc_query(o.osc_port, [osc_msg("/undo")], wait=1.0)
    _, r = c.call("read_clip", {"clip": clip})
    check(not r.get("ok"), "after native /undo the clip is gone: %s" % json.dumps(r)[:200])
    _, r = c.call("state")
    keys = [t for t in r.get("result", {}).get("tracks", []) if t["host_id"] == track]
    check(len(keys) == 1 and keys[0]["clips"] == [], "state after /undo: no clip on Keys")
    check(len(keys) == 1 and [f["name"] for f in keys[0]["fx"]] == ["ACE Reasonable Synth"],
          "... and the request's reverb is gone too (Ardour has no undo for plugins: the hook follows the undo mark): %s"
          % (keys[0]["fx"] if keys else None))
    osc_query(o.osc_port, [osc_msg("/redo")], wait=1.0)
    _, r = c.call("read_clip", {"clip": clip})
    check(r.get("ok") and r["result"]["notes"] == want, "after native /redo the clip is back with its notes: %s"
          % json.dumps(r)[:200])

    # a request that only adds an effect (Ardour records no undo for plugins): Ardour's own /undo reverts exactly
    # it -- the effect goes, the clip of the request before stays -- and /redo brings the effect back (undo mark)
    def chain():
        _, st = c.call("state")
        ks = [t for t in st.get("result", {}).get("tracks", []) if t["host_id"] == track]
        return [f["name"] for f in ks[0]["fx"]] if ks else None

    def wait_chain(want_fx):
        end = time.time() + 5
        got = chain()
        while got != want_fx and time.time() < end:
            time.sleep(0.1)
            got = chain()
        return got

    REQ2 = "add a delay (gui)"
    c.call("begin_undo", {"name": REQ2})
    _, r = c.call("add_effect", {"track": track, "name": "ACE Delay"})
    check(r.get("ok"), "add_effect ACE Delay: %s" % json.dumps(r))
    c.call("end_undo")
    before_fx = chain()
    check(before_fx and before_fx[-1] == "ACE Delay", "the delay is in the chain: %s" % before_fx)
    osc_query(o.osc_port, [osc_msg("/undo")], wait=0.5)
    got = wait_chain([x for x in before_fx if x != "ACE Delay"])
    check(got is not None and "ACE Delay" not in got, "after native /undo of the effect request the delay is gone: %s" % got)
    _, r = c.call("read_clip", {"clip": clip})
    check(r.get("ok") and r["result"]["notes"] == want, "... and the clip of the request before is still there: %s"
          % json.dumps(r)[:200])
    osc_query(o.osc_port, [osc_msg("/redo")], wait=0.5)
    got = wait_chain(before_fx)
    check(got is not None and "ACE Delay" in got, "after native /redo the delay is back: %s" % got)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spool", required=True)
    ap.add_argument("--osc-port", type=int, required=True)
    ap.add_argument("--reply-port", type=int, required=True)
    ap.add_argument("--session-dir", required=True)
    ap.add_argument("--session-name", required=True)
    ap.add_argument("--gui", action="store_true", help="GUI run: the timer hook, native /undo and /redo")
    o = ap.parse_args()
    c = Companion(o.spool, o.reply_port)
    if o.gui:
        return gui_main(o, c)

    _, r = c.call("ping")
    check(r.get("ok") and r["result"]["host"] == "ardour" and r["result"]["undo"] == "companion"
          and r["result"]["version"] == 1, "ping: %s" % json.dumps(r))
    c.drain_osc()
    check(r["id"] in c.osc_replies, "ping reply also arrived as OSC /dawbridge/reply")

    notes = [{"n": 60, "s": 0, "d": 1, "v": 100}, {"n": 64, "s": 1, "d": 0.5, "v": 90},
             {"n": 67, "s": 2.5, "d": 1.5, "v": 80, "c": 1}, {"n": 72, "s": 3.25, "d": 0.25, "v": 127}]
    REQ = "add keys part"
    _, r = c.call("begin_undo", {"name": REQ}, request=REQ)
    check(r.get("ok"), "begin_undo")
    cmd_t, r = c.call("create_track", {"name": "Keys", "type": "midi", "instrument": "ACE Reasonable Synth"},
                      request=REQ)
    check(r.get("ok") and r["result"]["instrument"] == "ACE Reasonable Synth" and r["result"]["type"] == "midi",
          "create_track with instrument: %s" % json.dumps(r))
    track = r["result"]["host_id"] if r.get("ok") else None
    check(r.get("ok") and r["result"]["index"] == 2, "new track is track 2")
    _, r = c.call("create_midi_clip", {"track": track, "start": 4, "length": 4, "name": "verse", "notes": notes},
                  request=REQ)
    check(r.get("ok") and r["result"]["notes_added"] == 4, "create_midi_clip: %s" % json.dumps(r))
    clip = r["result"]["host_id"] if r.get("ok") else None
    _, r = c.call("add_effect", {"track": track, "name": "Reverb", "aliases": ["a-Reverb", "ACE Reverb"]},
                  request=REQ)
    check(r.get("ok") and r["result"] == {"index": 2, "name": "ACE Reverb"}, "add_effect by alias (chain index: the synth is 1): %s" % json.dumps(r))
    _, r = c.call("end_undo", request=REQ)
    check(r.get("ok") and r["result"]["name"] == REQ, "end_undo")

    # duplicate delivery of create_track: same reply, no second track
    c.write(cmd_t)
    r2 = c.wait_reply(cmd_t["id"])
    check(r2.get("result") == {"host_id": track, "index": 2, "name": "Keys", "type": "midi",
                                "instrument": "ACE Reasonable Synth"}, "duplicate id answered with the stored reply")
    # expired command: not executed
    _, r = c.call("create_track", {"name": "Late", "type": "audio"}, deadline_s=-5)
    check(not r.get("ok") and r["error"].startswith("expired:"), "expired deadline: %s" % r.get("error"))
    # bad args / unknown op / missing track
    _, r = c.call("create_midi_clip", {"track": track, "start": 0, "length": 4,
                                       "notes": [{"n": 60, "s": 0, "d": 1, "v": 0}]})
    check(not r.get("ok") and "notes[1].v" in r["error"], "bad note velocity: %s" % r.get("error"))
    _, r = c.call("frobnicate")
    check(not r.get("ok") and "unknown op" in r["error"], "unknown op")
    _, r = c.call("add_effect", {"track": "999999", "name": "ACE Reverb"})
    check(not r.get("ok") and "no track with id 999999" in r["error"], "missing track: %s" % r.get("error"))

    _, r = c.call("read_clip", {"clip": clip})
    got = r["result"]["notes"] if r.get("ok") else []
    want = [dict(n, c=n.get("c", 0)) for n in notes]
    check(r.get("ok") and r["result"]["start"] == 4 and r["result"]["length"] == 4 and
          r["result"]["track"] == track, "read_clip position: %s" % json.dumps(r)[:300])
    check(got == want, "read_clip exact notes: %s" % json.dumps(got))

    _, r = c.call("state")
    st = r.get("result", {})
    keys = [t for t in st.get("tracks", []) if t["host_id"] == track]
    check(len(keys) == 1 and keys[0]["instrument"] == "ACE Reasonable Synth" and
          [f["name"] for f in keys[0]["fx"]] == ["ACE Reasonable Synth", "ACE Reverb"] and len(keys[0]["clips"]) == 1 and
          keys[0]["clips"][0]["notes"] == want, "state shows the track, instrument, reverb and clip")
    check(st.get("tempo") == 120.0, "state tempo 120")

    # native OSC: the plugins on the strip

    # /set_surface with port 0 first: replies then go to the sender's port (ardour-osc.md), feedback off
    found = None
    seen = osc_query(o.osc_port, [osc_msg("/set_surface", "iiiiiiiii", 0, 159, 0, 0, 0, 0, 0, 0, 0)] +
                     [osc_msg("/strip/plugin/list", "i", ssid) for ssid in (1, 2)], wait=1.0)
    for addr, args in seen:
        if addr == "/strip/plugin/list" and "ACE Reverb" in args:
            found = args
    check(found is not None and "ACE Reasonable Synth" in found,
          "native OSC /strip/plugin/list shows the synth and ACE Reverb: %s" % (found or seen,))

    # save (native OSC) and look at the files
    def save_and_wait(prev_mtime):
        osc_query(o.osc_port, [osc_msg("/save_state")], wait=0.1)
        hist = os.path.join(o.session_dir, o.session_name + ".history")
        end = time.time() + 15
        while time.time() < end:
            if os.path.exists(hist) and os.path.getmtime(hist) > prev_mtime:
                time.sleep(0.3)
                return hist
            time.sleep(0.1)
        return hist
    hist = save_and_wait(0)
    txns = [t.get("name") for t in ET.parse(hist).getroot().iter("UndoTransaction")] if os.path.exists(hist) else []
    # Ardour 7.3's Lua cannot put a note diff into a larger transaction (no apply_diff_command_as_subcommand; nesting
    # aborts): the request is its notes' step and its clips' step, both named after it, never nested
    check(txns == [REQ, REQ], "the request's undo steps in .history (notes, then clips), named after it: %s" % txns)
    if os.path.exists(hist):
        t = [t for t in ET.parse(hist).getroot().iter("UndoTransaction") if t.get("name") == REQ]
        kinds = [sorted({ch.tag for ch in x}) for x in t]
        check(kinds == [["NoteDiffCommand"], ["StatefulDiffCommand"]], "the note diff, then the playlist diff: %s" % kinds)
    mids = glob.glob(os.path.join(o.session_dir, "interchange", "*", "midifiles", "*.mid"))
    want_smf = sorted((n["n"], n["s"], n["d"], n["v"], n.get("c", 0)) for n in notes)
    smf = {m: smf_notes(m) for m in mids}
    check(any(v == want_smf for v in smf.values()),
          "notes in the saved .mid source: %s" % {os.path.basename(k): v for k, v in smf.items()})

    # companion-level undo
    _, r = c.call("undo")
    check(r.get("ok") and r["result"]["undone"] == REQ, "undo: %s" % json.dumps(r))
    _, r = c.call("read_clip", {"clip": clip})
    check(not r.get("ok") and "no clip with id" in r["error"], "clip gone after undo: %s" % r.get("error"))
    _, r = c.call("state")
    keys = [t for t in r.get("result", {}).get("tracks", []) if t["host_id"] == track]
    check(len(keys) == 1 and keys[0]["clips"] == [] and [f["name"] for f in keys[0]["fx"]] == ["ACE Reasonable Synth"], "state after undo: no clip, no reverb")
    hist = save_and_wait(os.path.getmtime(hist) if os.path.exists(hist) else 0)
    txns = [t.get("name") for t in ET.parse(hist).getroot().iter("UndoTransaction")] if os.path.exists(hist) else []
    check(txns == [REQ, REQ, "bridge undo: " + REQ], ".history after undo: %s" % txns)
    _, r = c.call("undo")
    check(not r.get("ok") and "nothing to undo" in r["error"], "second undo: nothing to undo")

    # the remaining ops on real Ardour: edit_clip (+ its undo), delete_clip (+ its undo), remove_effect,
    # audio track, index addressing, delete_track (not possible in 7.3 Lua: a clear error)
    _, r = c.call("create_midi_clip", {"track": 2, "start": 0, "length": 2, "notes": [
        {"n": 48, "s": 0, "d": 0.5, "v": 100}, {"n": 50, "s": 1, "d": 0.5, "v": 100}]})
    check(r.get("ok"), "create_midi_clip by index: %s" % r.get("error"))
    clip2 = r.get("result", {}).get("host_id")
    _, r = c.call("edit_clip", {"clip": clip2, "remove": [{"n": 50, "s": 1}], "add": [{"n": 55, "s": 1.5, "d": 0.25, "v": 60}]})
    check(r.get("ok") and r["result"]["added"] == 1 and r["result"]["removed"] == 1 and
          [n["n"] for n in r["result"]["notes"]] == [48, 55], "edit_clip add/remove: %s" % json.dumps(r)[:300])
    _, r = c.call("edit_clip", {"clip": clip2, "remove": [{"n": 61, "s": 0}]})
    check(not r.get("ok") and "n=61" in r["error"], "edit_clip missing note named: %s" % r.get("error"))
    _, r = c.call("undo")
    _, r = c.call("read_clip", {"clip": clip2})
    check(r.get("ok") and [n["n"] for n in r["result"]["notes"]] == [48, 50], "undo of edit_clip restores the notes: %s"
          % json.dumps(r)[:300])
    _, r = c.call("delete_clip", {"clip": clip2})
    check(r.get("ok") and r["result"]["deleted"] == clip2, "delete_clip")
    _, r = c.call("read_clip", {"clip": clip2})
    check(not r.get("ok"), "deleted clip is gone")
    _, r = c.call("undo")
    _, r = c.call("state")
    keys = [t for t in r.get("result", {}).get("tracks", []) if t["host_id"] == track]
    check(len(keys) == 1 and len(keys[0]["clips"]) == 1 and [n["n"] for n in keys[0]["clips"][0]["notes"]] == [48, 50],
          "undo of delete_clip puts the clip back")
    _, r = c.call("add_effect", {"track": track, "name": "ACE Compressor"})
    _, r2 = c.call("add_effect", {"track": track, "name": "ACE Delay"})
    check(r.get("ok") and r2.get("ok") and r2["result"]["index"] == 3, "two effects (chain: synth, comp, delay): %s" % json.dumps(r2))
    _, r = c.call("remove_effect", {"track": track, "index": 2})
    check(r.get("ok") and r["result"]["removed"] == "ACE Compressor", "remove_effect: %s" % json.dumps(r))
    _, r = c.call("remove_effect", {"track": track, "index": 4})
    check(not r.get("ok") and "no effect at index 4" in r["error"], "remove_effect bad index")
    _, r = c.call("create_track", {"name": "Vox", "type": "audio"})
    check(r.get("ok") and r["result"]["type"] == "audio" and r["result"]["index"] == 3, "audio track: %s" % json.dumps(r))
    _, r = c.call("create_midi_clip", {"track": 3, "start": 0, "length": 1, "notes": []})
    check(not r.get("ok") and "audio track" in r["error"], "MIDI clip on an audio track refused")
    _, r = c.call("delete_track", {"track": 3})
    check(r.get("ok") or "cannot remove a track" in r.get("error", ""), "delete_track: %s" % json.dumps(r))

    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
