"""oscmsg: OSC messages encoded and decoded by hand, for the Python test scripts that hold their own UDP sockets
(tests/surface/, tests/companions/). Python 3 standard library only."""
import struct


def pad(b):
    """b padded with NULs to a multiple of 4 bytes (at least one NUL), as OSC strings are"""
    return b + b"\0" * (4 - len(b) % 4)


def osc(path, types="", *args):
    """An OSC message with i/f/s arguments."""
    out = pad(path.encode()) + pad(("," + types).encode())
    for t, a in zip(types, args):
        if t == "s":
            out += pad(a.encode())
        elif t == "i":
            out += struct.pack(">i", int(a))
        elif t == "f":
            out += struct.pack(">f", float(a))
    return out


def _cstr(b, o):
    e = b.index(b"\0", o)
    return b[o:e].decode("utf-8", "replace"), (e // 4 + 1) * 4


def parse(b):
    """(path, [args]) of an OSC message with i/f/h/d/s/T/F arguments (no type tags: no arguments)."""
    path, o = _cstr(b, 0)
    if o >= len(b):
        return path, []
    types, o = _cstr(b, o)
    args = []
    for t in types[1:]:
        if t in "if":
            args.append(struct.unpack(">" + t, b[o:o + 4])[0])
            o += 4
        elif t in "hd":
            args.append(struct.unpack(">" + ("q" if t == "h" else "d"), b[o:o + 8])[0])
            o += 8
        elif t == "s":
            s, o = _cstr(b, o)
            args.append(s)
        elif t in "TF":
            args.append(t == "T")
    return path, args
