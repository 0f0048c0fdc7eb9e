#!/usr/bin/env python3
"""test_repl_pty: the interactive prompt (app/repl.c) under a real pseudo-terminal, as a musician uses it:
`dawbridge` with no command in a terminal, the embedded mock DAW (or the mock-daw program with a reply delay, to
have a request still running), the scripted model, --executor direct.

usage: test_repl_pty.py DAWBRIDGE MOCK_DAW [NAME_FILTER]"""
import os
import pty
import re
import select
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (BASS_PLAN, KICK_PLAN, TestDir, free_udp_port, mix_plan, mock_fault, run_tests,  # noqa: E402
                    transcript)

DAWBRIDGE, MOCK_DAW = sys.argv[1], sys.argv[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Pty:
    def __init__(self, args, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(args[0], args, env)
            finally:
                os._exit(127)
        self.raw = b""
        self.status = None

    def text(self, since=0):
        return self.raw[since:].decode("utf-8", "replace")

    def pump(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            r, _, _ = select.select([self.fd], [], [], min(0.05, max(0, end - time.time())))
            if r:
                try:
                    b = os.read(self.fd, 65536)
                except OSError:
                    return
                if not b:
                    return
                self.raw += b

    def expect(self, pattern, timeout=20, since=0):
        """Waits until pattern (regex) appears in the output after byte offset since; returns the match end."""
        rx = re.compile(pattern)
        end = time.time() + timeout
        while True:
            m = rx.search(self.text(since))
            if m:
                return since + len(self.text(since)[: m.end()].encode("utf-8"))
            if time.time() > end:
                raise AssertionError("timed out waiting for %r; output so far:\n%s" % (pattern, self.text()))
            self.pump(0.1)

    def send(self, s):
        os.write(self.fd, s.encode() if isinstance(s, str) else s)

    def say(self, line, pattern, timeout=20):
        """Types line and Enter, waits for pattern in what follows; returns where the output of line began."""
        at = len(self.raw)
        self.send(line + "\r")
        self.expect(pattern, since=at, timeout=timeout)
        return at

    def wait_exit(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            self.pump(0.05)
            pid, st = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(st)
                return self.status
        raise AssertionError("dawbridge did not exit; output:\n%s" % self.text())

    def alive(self):
        return os.waitpid(self.pid, os.WNOHANG)[0] == 0

    def kill(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def last_screen_line(text):
    """What the terminal shows on its last line: the text after the last line feed, after the last carriage
    return that is followed by an erase-line (or the start)."""
    line = text.split("\n")[-1]
    parts = line.split("\r")
    shown = ""
    for p in parts:
        if p.startswith("\x1b[K") or not shown:
            shown = p
        else:
            shown = p + shown[len(p):] if len(p) < len(shown) else p
    return ANSI.sub("", shown)


def pty_env(d):
    """A minimal environment in the test directory d (home, state, config, runtime dir), TERM xterm."""
    os.makedirs(d("run"), mode=0o700, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": d("home"),
        "XDG_STATE_HOME": d("state"),
        "XDG_CONFIG_HOME": d("config"),
        "XDG_RUNTIME_DIR": d("run"),
        "TERM": "xterm",
        "DAWBRIDGE_SOURCE_DIR": os.environ.get("DAWBRIDGE_SOURCE_DIR", ""),
    }


def start(d, plans, extra=(), env_extra=None):
    tr = transcript(d("transcript.json"), plans)
    env = pty_env(d)
    env.update(env_extra or {})
    args = [DAWBRIDGE, "--llm", "script", "--transcript", tr, "--executor", "direct", "--data-dir", d("data"),
            "--spool", d("spool")] + list(extra)
    p = Pty(args, env)
    p.expect(r"Type a request, or /help\.", timeout=30)
    return p


def test_repl_ask_streams_plan_and_outcomes():
    d = TestDir("repl-ask")
    # the second answer is only given when the second stage-1 prompt carries the first request (the conversation)
    p = start(d, [("kick", KICK_PLAN), ("add a kick drum with reverb", BASS_PLAN)], ["--daw", "mock"])
    try:
        at = len(p.raw)
        p.send("add a kick drum with reverb\r")
        a = p.expect(r"Plan valid: 3 steps\.", since=at)
        b = p.expect(r"\[1/3\] confirmed create_track track t4", since=a)
        c = p.expect(r"\[2/3\] confirmed create_midi_clip track t4 clip c\d+", since=b)
        e = p.expect(r"\[3/3\] confirmed add_effect", since=c)
        f = p.expect(r"Steps: 3 of 3 confirmed, 0 uncertain, 0 failed", since=e)
        p.expect(r"Iteration 2 saved\.", since=f)
        assert "Step 1: create_track" in p.text(at), "the plan was not shown"

        at = p.say("/state", r"Kick Drum")

        # a second request goes on in the same conversation
        at = p.say("and a sub bass", r"\[2/2\] confirmed create_midi_clip")
        p.expect(r"Iteration 3 saved\.", since=at)

        at = p.say("/undo", r"Iteration 4 saved\.", timeout=30)  # the undo is an iteration too
        p.pump(1.0)
        at = p.say("/state", r"Kick Drum")
        p.pump(0.5)
        assert "Sub Bass" not in p.text(at), "undo left the bass track:\n" + p.text(at)

        at = p.say("/history", r"ai_iteration\s+3\s+add a kick drum with reverb")
        at = p.say("/status", r"idle")
        at = p.say("/nonsense", r"unknown command /nonsense \(try /help\)")
        at = p.say("/help", r"/undo \[N\]")

        p.send("/quit\r")
        assert p.wait_exit() == 0, "exit code %s" % p.status
        hist = d("state", "dawbridge", "repl_history")
        mode = stat.S_IMODE(os.stat(hist).st_mode)
        assert mode == 0o600, "history file mode %o" % mode
        content = open(hist, "rb").read().decode("utf-8", "replace")
        assert "/state" in content and "/undo" in content, content
        # the next prompt reads the history file: Up recalls the last line (/quit), Enter runs it
        p.kill()
        p = start(d, [("kick", KICK_PLAN)], ["--daw", "mock"])
        at = len(p.raw)
        p.send("\x1b[A")
        p.expect(r"/quit", since=at)
        p.send("\r")
        assert p.wait_exit() == 0, "exit code %s" % p.status
    finally:
        p.kill()
        d.cleanup()


def slow_daw(d):
    port, fb = free_udp_port(), free_udp_port()
    mock = subprocess.Popen([MOCK_DAW, "--dialect", "reaper", "--port", str(port), "--feedback-port", str(fb),
                             "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return mock, port, ["--daw", "reaper", "--port", str(port), "--listen-port", str(fb), "--no-companion"]


def test_repl_ctrl_c_cancels_mid_run_and_keeps_the_prompt():
    d = TestDir("repl-cancel")
    mock, port, args = slow_daw(d)
    p = None
    try:
        p = start(d, [("fade", mix_plan(12))], args)
        mock_fault(port, 0.0, 400)  # every feedback packet 400 ms late: the request is still running below
        at = len(p.raw)
        p.send("a slow fade\r")
        a = p.expect(r"\[1/12\] confirmed set_track", since=at, timeout=30)
        # typing while steps are printed: the line being typed is redrawn after each output
        p.send("next idea")
        b = p.expect(r"\[2/12\] confirmed set_track[^\n]*\n", since=a, timeout=30)
        p.pump(0.3)
        shown = last_screen_line(p.text())
        assert shown.startswith("dawbridge> next idea"), "typed text not redrawn: %r" % shown
        p.send("\x03")  # Ctrl-C: cancel the request, not the program
        c = p.expect(r"cancelled: [^\n]*", since=b, timeout=30)
        done = p.text(b)
        assert "partial iteration" in done, "no partial iteration reported:\n" + done
        assert "Steps: 12 of 12" not in p.text(), "the request ran to the end"
        assert p.alive(), "Ctrl-C ended the program"
        # the typed text is still there: clear it (Ctrl-U) and use the prompt
        p.send("\x15/status\r")
        p.expect(r"idle", since=c)
        at = p.say("/history", r"a slow fade")
        p.send("/quit\r")
        assert p.wait_exit() == 0, "exit code %s" % p.status
    finally:
        if p:
            p.kill()
        mock.terminate()
        mock.wait(10)
        d.cleanup()


def test_repl_ctrl_c_at_idle_prompt_clears_the_line():
    d = TestDir("repl-idle")
    p = start(d, [("kick", KICK_PLAN)], ["--daw", "mock"])
    try:
        at = len(p.raw)
        p.send("half a thought")
        p.pump(0.3)
        p.send("\x03")
        p.pump(0.3)
        assert p.alive(), "Ctrl-C at the prompt ended the program"
        p.send("/status\r")
        p.expect(r"idle", since=at)
        out = p.text(at)
        assert "unknown command" not in out and "Planning" not in out, out
        p.send("\x04")  # Ctrl-D on an empty line
        assert p.wait_exit() == 0, "exit code %s" % p.status
    finally:
        p.kill()
        d.cleanup()


def test_repl_sigterm_ends_cleanly():
    d = TestDir("repl-term")
    p = start(d, [("kick", KICK_PLAN)], ["--daw", "mock"])
    try:
        os.kill(p.pid, signal.SIGTERM)
        assert p.wait_exit() == 130, "exit code %s" % p.status
        assert "handles still open" not in p.text(), p.text()
    finally:
        p.kill()
        d.cleanup()


def test_repl_run_on_a_terminal_opens_the_prompt():
    # `dawbridge run` in a terminal: the daemon with the prompt on it
    d = TestDir("repl-run")
    tr = transcript(d("transcript.json"), [("kick", KICK_PLAN)])
    env = pty_env(d)
    p = Pty([DAWBRIDGE, "--daw", "mock", "--llm", "script", "--transcript", tr, "--executor", "direct",
             "--data-dir", d("data"), "--spool", d("spool"), "run"], env)
    try:
        p.expect(r"dawbridge> ", timeout=30)
        p.expect(r"DAW connection connected", timeout=30)
        p.say("add a kick drum with reverb", r"Steps: 3 of 3 confirmed")
        p.say("/status", r"idle")
        p.send("/quit\r")
        assert p.wait_exit() == 0, "exit code %s" % p.status
    finally:
        p.kill()
        d.cleanup()


def test_repl_needs_a_terminal():
    # no command and stdin not a terminal: the usage, exit 1 (never a prompt that reads a pipe)
    r = subprocess.run([DAWBRIDGE], stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    assert r.returncode == 1 and b"usage: dawbridge" in r.stderr, r


if __name__ == "__main__":
    run_tests([test_repl_ask_streams_plan_and_outcomes, test_repl_ctrl_c_cancels_mid_run_and_keeps_the_prompt,
               test_repl_ctrl_c_at_idle_prompt_clears_the_line, test_repl_sigterm_ends_cleanly,
               test_repl_run_on_a_terminal_opens_the_prompt, test_repl_needs_a_terminal])
