#!/usr/bin/env python3
"""Renders an HTML preview of an Open Stage Control session file's widgets (position, size, label, address),
optionally filled with the last value oscdump received at each widget's address. It is NOT Open Stage Control
(not packaged for Debian or npm here): the page says so. docs/img/surface.png was made with it:

  oscdump -L 9101 > capture.txt &   # with: dawbridge run --daw mock ... --surface-port 9100 --surface-reply 127.0.0.1:9101
  oscsend 127.0.0.1 9100 /dawbridge/ask s "add a kick drum with reverb"
  python3 examples/surface/preview.py examples/surface/dawbridge.json capture.txt "add a kick drum with reverb" > preview.html
  chromium --headless --screenshot=docs/img/surface.png --window-size=800,560 preview.html

usage: preview.py SESSION.json [OSCDUMP_CAPTURE.txt [TEXT_TYPED_IN_THE_INPUT]]"""
import html
import json
import re
import sys


def last_values(capture):
    """address -> the argument text of the last message oscdump printed for it (strings unquoted, numbers kept)."""
    text = open(capture, encoding="utf-8", errors="replace").read()
    vals = {}
    for m in re.finditer(r'^(?:[0-9a-f]+\.[0-9a-f]+ )?(/\S+) (\S*) ?((?:"[^"]*"|[^"\n])*)$', text, re.M):
        path, args = m.group(1), m.group(3)
        parts = re.findall(r'"([^"]*)"|(\S+)', args)
        vals[path] = " ".join(a or b for a, b in parts)
    return vals


def main():
    session = json.load(open(sys.argv[1]))
    vals = last_values(sys.argv[2]) if len(sys.argv) > 2 else {}
    if len(sys.argv) > 3:
        vals["#input"] = sys.argv[3]
    out = ['<!doctype html><meta charset="utf-8"><title>dawbridge surface preview</title><style>',
           'body{background:#1e2124;color:#ddd;font:14px sans-serif;margin:0}',
           '.w{position:absolute;box-sizing:border-box;border-radius:4px;overflow:hidden}',
           '.lbl{font-size:11px;color:#9aa;padding:2px 6px}',
           '.input{background:#2b2f33;border:1px solid #567}.input .v{padding:4px 8px;font-size:16px;color:#fff}',
           '.button{display:flex;align-items:center;justify-content:center;font-weight:bold;color:#fff}',
           '.text{background:#25292c;border:1px solid #3a3f44}.text .v{padding:2px 8px;white-space:pre-wrap}',
           '.note{position:absolute;left:10px;top:6px;font-size:12px;color:#aaa}',
           '</style>',
           '<div class="note">HTML preview of examples/surface/dawbridge.json (Open Stage Control session; rendered '
           'by examples/surface/preview.py, not by Open Stage Control) &mdash; values: what oscdump received from '
           '<code>dawbridge run --daw mock</code></div>']
    for w in session["content"]["widgets"]:
        style = "left:%dpx;top:%dpx;width:%dpx;height:%dpx" % (w["left"], w["top"], w["width"], w["height"])
        label = html.escape(str(w.get("label", w["id"])))
        addr = w.get("address", "")
        if w["type"] == "button":
            color = w.get("colorWidget", "#666")
            out.append('<div class="w button" style="%s;background:%s" title="%s">%s</div>'
                       % (style, color, html.escape(addr), label))
        else:
            value = vals.get(addr, "")
            if w["type"] == "input" and not value:
                value = vals.get("#input", "")
            out.append('<div class="w %s" style="%s"><div class="lbl">%s &nbsp; <code>%s</code></div>'
                       '<div class="v">%s</div></div>' % (w["type"], style, label, html.escape(addr), html.escape(value)))
    print("\n".join(out))


if __name__ == "__main__":
    main()
