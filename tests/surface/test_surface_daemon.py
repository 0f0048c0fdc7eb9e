#!/usr/bin/env python3
"""test_surface_daemon: the OSC control surface (app/surface.c) of a running daemon, driven by real OSC clients:
`oscsend` / `oscdump` (liblo-tools) and plain UDP sockets. The daemon is `dawbridge run --daw mock --surface-port P`
with the scripted model (--executor direct); for a request that is still running, the mock-daw program with a
reply delay.

usage: test_surface_daemon.py DAWBRIDGE MOCK_DAW [NAME_FILTER]"""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BASS_PLAN, KICK_PLAN, TestDir, free_udp_port, mix_plan, mock_fault, need, osc,  # noqa: E402
                    parse, run_tests, transcript)

DAWBRIDGE, MOCK_DAW = sys.argv[1], sys.argv[2]


class Client:
    def __init__(self, host="127.0.0.1"):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.s.bind((host, 0))

    def send(self, port, data):
        self.s.sendto(data, ("127.0.0.1", port))

    def recv_all(self, timeout):
        out = []
        end = time.time() + timeout
        while True:
            r, _, _ = select.select([self.s], [], [], max(0, end - time.time()))
            if not r:
                return out
            out.append(parse(self.s.recv(70000)))
            end = time.time() + 0.2 if timeout < 0.2 else end

    def wait_for(self, path, timeout=20):
        end = time.time() + timeout
        got = []
        while time.time() < end:
            r, _, _ = select.select([self.s], [], [], 0.1)
            if r:
                m = parse(self.s.recv(70000))
                got.append(m)
                if m[0] == path:
                    return m, got
        raise AssertionError("no %s within %ss; got %r" % (path, timeout, got))

    def status(self, port, timeout=5):
        """/dawbridge/status to the surface on port: the arguments of the answer"""
        self.send(port, osc("/dawbridge/status"))
        (_, args), _ = self.wait_for("/dawbridge/status", timeout=timeout)
        return args

    def close(self):
        self.s.close()


# ---- the daemon ----

class Daemon:
    def __init__(self, d, plans, extra=(), daw=("--daw", "mock"), env_extra=None):
        self.port = free_udp_port()
        tr = transcript(d("transcript.json"), plans)
        os.makedirs(d("run"), mode=0o700, exist_ok=True)
        env = dict(os.environ, XDG_RUNTIME_DIR=d("run"), XDG_STATE_HOME=d("state"), XDG_CONFIG_HOME=d("config"),
                   HOME=d("home"))
        env.update(env_extra or {})
        self.errpath = d("daemon.stderr")
        self.err = open(self.errpath, "wb")
        args = [DAWBRIDGE] + list(daw) + ["--llm", "script", "--transcript", tr, "--executor", "direct",
                                          "--data-dir", d("data"), "--spool", d("spool"),
                                          "--surface-port", str(self.port)] + list(extra) + ["run"]
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err,
                                  env=env)

    def wait_ready(self, timeout=30, dump=None):
        """Asks /dawbridge/status until the answer says connected (at the sender, or in dump's output when the
        daemon answers to a --surface-reply address)."""
        c = Client()
        end = time.time() + timeout
        try:
            while time.time() < end:
                assert self.p.poll() is None, "the daemon exited (%s): %s" % (self.p.returncode, self.stderr())
                c.send(self.port, osc("/dawbridge/status"))
                if dump:
                    time.sleep(0.2)
                    m = re.search(r'/dawbridge/status s "(reaper connected[^"]*)"', dump.text())
                    if m:
                        return m.group(1)
                    continue
                for path, args in c.recv_all(0.2):
                    if path == "/dawbridge/status" and re.search(r"\bconnected\b", args[0]) and "NOT" not in args[0]:
                        return args[0]
            raise AssertionError("the surface never answered /dawbridge/status; stderr: " + self.stderr())
        finally:
            c.close()

    def stderr(self):
        self.err.flush()
        return open(self.errpath, "rb").read().decode("utf-8", "replace")

    def rss_kb(self):
        for line in open("/proc/%d/status" % self.p.pid):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()
        return self.p.returncode


class OscDump:
    """oscdump on a port of its own, line-buffered into a file (the real client that receives the answers)."""

    def __init__(self, d):
        need("oscdump")
        self.port = free_udp_port()
        self.path = d("oscdump-%d.txt" % self.port)
        self.f = open(self.path, "wb")
        self.p = subprocess.Popen(["oscdump", "-L", str(self.port)], stdout=self.f, stderr=subprocess.STDOUT)
        time.sleep(0.3)

    def text(self):
        self.f.flush()
        return open(self.path, "rb").read().decode("utf-8", "replace")

    def expect(self, pattern, timeout=30, since=0):
        rx = re.compile(pattern, re.S)
        end = time.time() + timeout
        while time.time() < end:
            t = self.text()
            m = rx.search(t, since)
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError("oscdump never showed %r; it got:\n%s" % (pattern, self.text()))

    def stop(self):
        self.p.terminate()
        self.p.wait(10)
        self.f.close()


def finish(dm, *clients, d=None):
    """Closes the clients, stops the daemon (it must exit 0) and removes the test directory d."""
    for c in clients:
        c.close()
    assert dm.stop() == 0, dm.stderr()
    if d:
        d.cleanup()


def oscsend(port, path, types="", *args):
    need("oscsend")
    r = subprocess.run(["oscsend", "127.0.0.1", str(port), path, types] + [str(a) for a in args],
                       capture_output=True, timeout=10)
    assert r.returncode == 0, r


# ---- tests ----

def test_surface_ask_plan_steps_done_with_oscsend_oscdump():
    d = TestDir("surface-ask")
    dump = OscDump(d)
    # the second answer is only given when the second stage-1 prompt carries the first request (the conversation)
    dm = Daemon(d, [("kick", KICK_PLAN), ("add a kick drum with reverb", BASS_PLAN)],
                ["--surface-reply", "127.0.0.1:%d" % dump.port])
    try:
        dm.wait_ready(dump=dump)
        since = len(dump.text())
        oscsend(dm.port, "/dawbridge/ask", "s", "add a kick drum with reverb")
        m = dump.expect(r'/dawbridge/plan s "1 create_track: A kick drum track\n2 create_midi_clip: Two kick hits in '
                        r'bar 1\n3 add_effect: Reverb on the kick"', since=since)
        m = dump.expect(r'/dawbridge/step iiss 1 3 "create_track" "confirmed"', since=m.end())
        m = dump.expect(r'/dawbridge/step iiss 2 3 "create_midi_clip" "confirmed"', since=m.end())
        m = dump.expect(r'/dawbridge/step iiss 3 3 "add_effect" "confirmed"', since=m.end())
        m = dump.expect(r'/dawbridge/done iis 3 3 "Steps: 3 of 3 confirmed, 0 uncertain, 0 failed[^"]*"',
                        since=m.end())
        assert "/dawbridge/error" not in dump.text(), dump.text()

        # the second turn of the conversation
        oscsend(dm.port, "/dawbridge/ask", "s", "and a sub bass under it")
        m = dump.expect(r'/dawbridge/done iis 2 2 "Steps: 2 of 2 confirmed', since=m.end())
        # a button press (,f 1) undoes the last iteration; its release (,f 0) does nothing
        oscsend(dm.port, "/dawbridge/undo", "f", 1.0)
        oscsend(dm.port, "/dawbridge/undo", "f", 0.0)
        m = dump.expect(r'/dawbridge/done iis \d+ \d+ "[^"]*"', since=m.end())
        oscsend(dm.port, "/dawbridge/new")
        m = dump.expect(r'/dawbridge/(status s "new conversation"|done iis)', since=m.end())
        oscsend(dm.port, "/dawbridge/status")
        dump.expect(r'/dawbridge/status s "reaper connected, idle, 0 queued', since=m.end())
        time.sleep(0.5)
        t = dump.text()[since:]
        assert t.count("/dawbridge/done") == 4, "one done per request (ask, ask, undo, new):\n" + t
        assert "/dawbridge/error" not in t, t
    finally:
        assert dm.stop() == 0, "daemon exit code %s: %s" % (dm.p.returncode, dm.stderr())
        dump.stop()
        d.cleanup()


def test_surface_busy_cancel_and_queue():
    d = TestDir("surface-busy")
    mport, fb = free_udp_port(), free_udp_port()
    mock = subprocess.Popen([MOCK_DAW, "--dialect", "reaper", "--port", str(mport), "--feedback-port", str(fb),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    dm = Daemon(d, [("fade", mix_plan(12)), ("louder", mix_plan(2))], [],
                daw=("--daw", "reaper", "--port", str(mport), "--listen-port", str(fb), "--no-companion"))
    c = Client()
    try:
        dm.wait_ready()
        # every feedback packet 120 ms late, inside the 250 ms confirm window: the 12-step request takes ≥ 1.4 s, so it
        # is still running below, and the queued one (which starts as soon as it ends) is confirmed too
        mock_fault(mport, 0.0, 120)
        c.send(dm.port, osc("/dawbridge/ask", "s", "a slow fade"))
        c.wait_for("/dawbridge/plan")
        step, _ = c.wait_for("/dawbridge/step")
        assert step[1][:2] == [1, 12] and step[1][3] == "confirmed", step
        c.send(dm.port, osc("/dawbridge/ask", "s", "then louder"))
        busy, got = c.wait_for("/dawbridge/busy")
        assert busy[1][0] == 1 and "queued" in busy[1][1], busy
        c.send(dm.port, osc("/dawbridge/status"))
        st, got = c.wait_for("/dawbridge/status")
        assert "running" in st[1][0] and "1 queued" in st[1][0], st
        c.send(dm.port, osc("/dawbridge/cancel", "i", 1))  # a button press
        done, got = c.wait_for("/dawbridge/done", timeout=30)
        assert done[1][1] == 12 and 1 <= done[1][0] < 12, "cancelled mid-run: %r" % (done,)
        err, got = c.wait_for("/dawbridge/error")
        assert "130" in err[1][0], err
        # the queued request runs after the cancelled one
        done2, got = c.wait_for("/dawbridge/done", timeout=30)
        assert done2[1][:2] == [2, 2], done2
        mock_fault(mport, 0.0, 0)
        c.send(dm.port, osc("/dawbridge/cancel"))  # nothing runs now
        err, got = c.wait_for("/dawbridge/error")
        assert "nothing to cancel" in err[1][0], err
    finally:
        c.close()
        assert dm.stop() == 0, dm.stderr()
        mock.terminate()
        mock.wait(10)
        d.cleanup()


def test_surface_answers_the_sender_and_rejects_bad_messages():
    d = TestDir("surface-sender")
    dm = Daemon(d, [("kick", KICK_PLAN)])
    c = Client()
    try:
        dm.wait_ready()
        cases = [
            (osc("/dawbridge/ask", "i", 4), "one string"),
            (osc("/dawbridge/ask", "s", "   "), "empty"),
            (osc("/dawbridge/play"), "unknown address /dawbridge/play"),
            (osc("/dawbridge/undo", "s", "x"), "one number"),
            (b"#bundle\0" + b"\0" * 8, "bundles"),
            (b"hello", "not an OSC message"),
            (osc("/dawbridge/ask", "s", "x" * 5000), "at most"),
        ]
        for data, words in cases:
            c.send(dm.port, data)
            (path, args), _ = c.wait_for("/dawbridge/error", timeout=5)
            assert words in args[0], (words, args)
        args = c.status(dm.port)
        assert "idle" in args[0], args
        # the default allow-list is 127.0.0.0/8: a second local address is answered at its own address
        other = Client("127.0.0.2")
        args = other.status(dm.port)
        other.close()
        assert dm.p.poll() is None
    finally:
        finish(dm, c, d=d)


def test_surface_allow_list_ignores_other_senders():
    d = TestDir("surface-allow")
    dm = Daemon(d, [("kick", KICK_PLAN)], ["--surface-allow", "127.0.0.1/32"])
    other = Client("127.0.0.2")  # a second local address: not on the allow-list
    mine = Client()
    try:
        dm.wait_ready()
        for _ in range(3):
            other.send(dm.port, osc("/dawbridge/status"))
            other.send(dm.port, osc("/dawbridge/ask", "s", "add a kick"))
        got = other.recv_all(1.0)
        assert got == [], "a sender not on the allow-list got answers: %r" % got
        args = mine.status(dm.port)
        assert "idle" in args[0], "the ignored ask must not have run: %r" % args
        log = dm.stderr()
        assert log.count("ignoring 127.0.0.2") == 1, "logged once per address:\n" + log
    finally:
        other.close()
        mine.close()
        assert dm.stop() == 0, dm.stderr()
    # an allow-list replaces the default: with only another network, loopback senders are ignored too, and the
    # port listens on every interface with a warning (OSC has no authentication)
    dm = Daemon(d, [("kick", KICK_PLAN)], ["--surface-allow", "10.0.0.0/8"])
    mine = Client()
    try:
        end = time.time() + 30
        while "connected to" not in dm.stderr() and time.time() < end:
            assert dm.p.poll() is None, dm.stderr()
            time.sleep(0.1)
        mine.send(dm.port, osc("/dawbridge/status"))
        assert mine.recv_all(1.0) == [], "a loopback sender was answered though only 10.0.0.0/8 is allowed"
        log = dm.stderr()
        assert "listening on 0.0.0.0:%d" % dm.port in log and "no authentication" in log, log
        assert "ignoring 127.0.0.1" in log, log
    finally:
        finish(dm, mine, d=d)


def test_surface_flood_of_malformed_messages():
    d = TestDir("surface-flood")
    # in the sanitizer build, ASan's quarantine would hold every freed buffer: keep it small so RSS shows leaks
    asan = os.environ.get("ASAN_OPTIONS", "")
    dm = Daemon(d, [("kick", KICK_PLAN)], env_extra={"ASAN_OPTIONS": (asan + ":" if asan else "") +
                                                      "quarantine_size_mb=1:thread_local_quarantine_size_kb=64"})
    c = Client()
    import random
    rnd = random.Random(13)
    kinds = [
        lambda i: osc("/dawbridge/nope%d" % i),
        lambda i: osc("/dawbridge/ask", "i", i),
        lambda i: osc("/dawbridge/cancel", "ss", "a", "b"),
        lambda i: bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64))),
        lambda i: osc("/dawbridge/ask", "s", "kick")[: rnd.randint(1, 23)],
        lambda i: b"#bundle\0" + bytes(rnd.getrandbits(8) for _ in range(16)),
        lambda i: b"/dawbridge/ask\0\0,s\0\0" + b"\xff" * 8,
        lambda i: osc("/dawbridge/ask", "s", "x" * 4500),
    ]

    def flood(n):
        replies, bad = 0, []
        for batch in range(n // 500):
            for i in range(500):
                c.send(dm.port, kinds[(batch * 500 + i) % len(kinds)](i))
            got = c.recv_all(0.05)
            replies += len(got)
            bad += [m for m in got if m[0] != "/dawbridge/error"]
        got = c.recv_all(1.0)
        return replies + len(got), bad + [m for m in got if m[0] != "/dawbridge/error"]

    try:
        dm.wait_ready()
        flood(1000)  # warm-up: buffers and allocator arenas reach their working size
        rss0 = dm.rss_kb()
        replies, bad = flood(10000)
        assert dm.p.poll() is None, "the daemon died: " + dm.stderr()
        assert not bad, "malformed input answered with something else than /dawbridge/error: %r" % bad[:5]
        assert replies > 0, "no /dawbridge/error answered during the flood"
        args = c.status(dm.port, timeout=10)
        assert "idle" in args[0], args
        rss1 = dm.rss_kb()
        print("flood: 10000 malformed datagrams, %d /dawbridge/error replies (the rest dropped by the socket "
              "buffers), RSS %d -> %d kB" % (replies, rss0, rss1))
        assert rss1 - rss0 < 2048, "memory grew by %d kB over the flood" % (rss1 - rss0)
    finally:
        finish(dm, c, d=d)


def test_surface_bad_options_are_refused():
    d = TestDir("surface-opts")
    try:
        for extra, code, words in [
            (["--surface-allow", "everyone"], 1, "--surface-allow"),
            (["--surface-allow", "10.0.0.0/40"], 1, "prefix length"),
            (["--surface-reply", "nowhere"], 1, "--surface-reply"),
        ]:
            dm = Daemon(d, [("kick", KICK_PLAN)], extra)
            rc = dm.p.wait(30)
            log = dm.stderr()
            dm.err.close()
            assert rc == code and words in log, (extra, rc, log)
        # the port is taken
        blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        blocker.bind(("127.0.0.1", 0))
        dm = Daemon(d, [("kick", KICK_PLAN)])
        dm.p.kill()
        dm.p.wait()
        dm.err.close()
        taken = blocker.getsockname()[1]
        tr = d("transcript.json")
        r = subprocess.run([DAWBRIDGE, "--daw", "mock", "--llm", "script", "--transcript", tr, "--data-dir",
                            d("data"), "--spool", d("spool"), "--surface-port", str(taken), "run"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           env=dict(os.environ, XDG_RUNTIME_DIR=d("run")))
        blocker.close()
        assert r.returncode == 5 and b"surface port" in r.stderr, r
    finally:
        d.cleanup()


if __name__ == "__main__":
    run_tests([test_surface_ask_plan_steps_done_with_oscsend_oscdump, test_surface_busy_cancel_and_queue,
               test_surface_answers_the_sender_and_rejects_bad_messages, test_surface_allow_list_ignores_other_senders,
               test_surface_flood_of_malformed_messages, test_surface_bad_options_are_refused])
