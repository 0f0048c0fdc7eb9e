"""Shared helpers of the surface and REPL tests (tests/surface/): scripted-model transcripts, free ports, a
per-test directory, and a small test runner that reports each test_* by name and fails the process on any
failure (nothing is skipped: a missing tool is a failure, README "Tests")."""
import json
import os
import shutil
import socket
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import oscmsg  # noqa: E402

osc, parse = oscmsg.osc, oscmsg.parse  # OSC by hand, for the surface tests

KICK_PLAN = """**ANALYSIS:** A kick track with two hits and reverb.

**PLAN:**
Step 1: create_track - A kick drum track
  - name: Kick Drum
  - type: midi
  - instrument: kick
Step 2: create_midi_clip - Two kick hits in bar 1
  - track_id: [track from Step 1]
  - start_time: 0
  - duration: 4
  - notes: [{n: 36, s: 0, d: 0.5, v: 110}, {n: 36, s: 1, d: 0.5, v: 110}]
Step 3: add_effect - Reverb on the kick
  - track_id: [track from Step 1]
  - effect_name: reverb

**MUSICAL REASONING:** A simple pulse.
"""

BASS_PLAN = """**PLAN:**
Step 1: create_track - A bass track
  - name: Sub Bass
  - type: midi
  - instrument: bass
Step 2: create_midi_clip - A root note per bar
  - track_id: [track from Step 1]
  - start_time: 0
  - duration: 8
  - notes: [{n: 33, s: 0, d: 4, v: 100}, {n: 33, s: 4, d: 4, v: 100}]

**MUSICAL REASONING:** Roots in A.
"""


def mix_plan(steps):
    """A plan of `steps` set_track volume changes on t1..t3 (native OSC, each confirmed by feedback)."""
    out = ["**PLAN:**"]
    for i in range(steps):
        out.append("Step %d: set_track - volume change %d" % (i + 1, i + 1))
        out.append("  - track_id: t%d" % (i % 3 + 1))
        out.append("  - volume_db: %d" % (-1 - i))
    out.append("")
    out.append("**MUSICAL REASONING:** A slow fade.")
    return "\n".join(out) + "\n"


def transcript(path, plans):
    """Writes a scripted-model transcript: one stage-1 answer per request, in order (used with --executor
    direct: no stage-2 call). plans: list of (match, text)."""
    resp = []
    for match, text in plans:
        r = {"text": text, "finish": "stop", "usage": {"input_tokens": 100, "output_tokens": 50}}
        if match:
            r["match"] = match
        resp.append(r)
    with open(path, "w") as f:
        json.dump({"responses": resp}, f)
    return path


def mock_fault(port, drop, delay_ms):
    """/mock/fault ,fi DROP DELAY_MS to the mock-daw program on 127.0.0.1:port."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(osc("/mock/fault", "fi", drop, delay_ms), ("127.0.0.1", port))
    s.close()


def free_udp_port(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TestDir:
    def __init__(self, name):
        base = os.environ.get("DAWBRIDGE_BINARY_DIR") or tempfile.gettempdir()
        self.path = tempfile.mkdtemp(prefix="%s-" % name, dir=base)
        os.chmod(self.path, 0o700)

    def __call__(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def need(tool):
    path = shutil.which(tool)
    if not path:
        raise AssertionError("cannot run here: %s not found (install liblo-tools, see .ci/deps)" % tool)
    return path


def run_tests(tests):
    failed = []
    only = sys.argv[3] if len(sys.argv) > 3 else None
    ran = 0
    for t in tests:
        if only and only not in t.__name__:
            continue
        ran += 1
        print("[ RUN      ] %s" % t.__name__, flush=True)
        try:
            t()
            print("[       OK ] %s" % t.__name__, flush=True)
        except Exception:
            traceback.print_exc()
            print("[  FAILED  ] %s" % t.__name__, flush=True)
            failed.append(t.__name__)
    if failed:
        print("FAILED: %s" % ", ".join(failed))
        sys.exit(1)
    if not ran:
        print("no test matches %r" % only)
        sys.exit(1)
    print("all %d passed" % ran)
