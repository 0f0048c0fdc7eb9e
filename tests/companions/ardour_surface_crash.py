#!/usr/bin/env python3
"""ardour_surface_crash.py: reproduces an Ardour 7.3 crash found by bench/real_ardour (issue 11), not a ctest test.
OSC clients that registered a surface with strip feedback (/set_surface ... feedback 7, as the bridge does) and
then went away, followed by routes being added (here: 80 audio tracks through the companion): Ardour's OSC thread
segfaults (gdb on the core: liblo lo_send_message_from <- OSC::float_message_with_id <- OSCRouteObserver::
send_select_status <- refresh_strip <- OSCRouteObserver ctor <- OSC::strip_feedback <- OSC::_recalcbanks <-
OSC::periodic). REPRO_MODE=cli: three `dawbridge state` runs (crashed 2 of 2); surf: three raw surfaces closed
without more (crashed 1 of 1); surf_off: the same, each sending /set_surface/feedback i 0 before it closes (no
crash, 2 of 2); none: no surface (no crash). Run: ARDOUR_E2E_RUN=$PWD/ardour_surface_crash.py REPRO_MODE=surf
bash ardour_e2e.sh 3921  (with `ulimit -c unlimited` for a core file in the current directory)."""
import os, sys, subprocess, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ardour_e2e import Companion
c = Companion(os.environ["DAWBRIDGE_SPOOL"], 0)
port = os.environ["DAWBRIDGE_ARDOUR_PORT"]
print("ping", c.call("ping")[1].get("ok"), flush=True)
mode = os.environ.get("REPRO_MODE", "cli")
if mode == "cli":
    for i in range(3):
        rc = subprocess.run([os.environ.get("DAWBRIDGE_BIN", "dawbridge"), "--daw", "ardour", "--port", port, "--spool",
                             os.environ["DAWBRIDGE_SPOOL"], "state", "--json"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=120).returncode
        print("cli state rc", rc, flush=True)
if mode in ("surf", "surf_off"):
    import socket
    from ardour_e2e import osc_msg
    for k in range(3):
        sk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); sk.bind(("127.0.0.1", 0))
        sk.sendto(osc_msg("/set_surface", "iiiiiiiii", 0, 159, 7, 0, 0, 0, 0, 0, 0), ("127.0.0.1", int(port)))
        time.sleep(0.5)
        if mode == "surf_off":
            sk.sendto(osc_msg("/set_surface/feedback", "i", 0), ("127.0.0.1", int(port)))
            time.sleep(0.3)
        sk.close()
    print("surfaces registered and closed", mode, flush=True)
failed = 0
for i in range(80):
    _, r = c.call("create_track", {"name": "T%d" % i, "type": "audio"}, deadline_s=30)
    if not r.get("ok"):
        failed += 1
        print("create_track", i, r.get("error"), flush=True)
        if failed >= 3:
            break
pid = int(os.environ.get("DAWBRIDGE_ARDOUR_PID", "0") or 0)
alive = True
if pid:
    try:
        os.kill(pid, 0)
    except OSError:
        alive = False
print("done 80 tracks" if not failed else "%d create_track calls failed" % failed, "; Ardour",
      "alive" if alive else "GONE", flush=True)
# As a test (ctest companion_ardour_surface_gone, REPRO_MODE=cli): the bridge's "disconnect" must keep Ardour alive.
sys.exit(0 if alive and not failed else 1)
