import json
def plan(analysis, steps, reason="the request, nothing more."):
    out = "**ANALYSIS:** " + analysis + "\n**PLAN:**\n"
    for i, (tool, desc, args) in enumerate(steps, 1):
        out += "Step %d: %s - %s\n" % (i, tool, desc)
        for k, v in args:
            out += "  - %s: %s\n" % (k, v)
    return out + "**MUSICAL REASONING:** " + reason
def notes(lst, v=96):
    return "[" + ", ".join("{n: %d, s: %g, d: %g, v: %d}" % (n, s, d, v) for n, s, d in lst) + "]"
def seq(pitches, dur, start=0.0):
    r, t = [], start
    for p in pitches:
        if p is not None: r.append((p, t, dur))
        t += dur
    return r
NEW = ("track_id", "[track from Step 1]")
cases = []
def case(id, request, steps, checks, analysis="The mock session has Drums (t1, a one-bar kick clip c1), Bass (t2, empty) and Vocals (t3, audio).", responses=None, tags=None):
    c = {"id": id, "request": request, "responses": responses or [plan(analysis, steps)], "checks": checks}
    if tags: c["tags"] = tags
    cases.append(c)

case("kick-four-on-the-floor", "add a four-on-the-floor kick, 4 bars",
     [("create_track", "Kick track", [("name", "Kick"), ("type", "midi"), ("instrument", "kick")]),
      ("create_midi_clip", "Four on the floor, 4 bars", [NEW, ("start_time", 0), ("duration", 16), ("notes", '[{drum: kick, pattern: "x...x...x...x...", repeat: 4}]')])],
     {"track": {"name_contains": "kick", "instrument": ["kick", "drum"]}, "notes": {"min": 16, "grid": 1, "bars": [1, 4], "pitches": [36]}}, tags=["drums"])
case("closed-hats-eighths", "add closed hi-hats on eighth notes for 2 bars",
     [("create_track", "Hats", [("name", "Hats"), ("type", "midi"), ("instrument", "drums")]),
      ("create_midi_clip", "Eighth-note hats", [NEW, ("start_time", 0), ("duration", 8), ("notes", '[{drum: closed hat, pattern: "x.x.x.x.x.x.x.x.", repeat: 2}]')])],
     {"track": {"name_contains": "hat", "instrument": ["drum", "kit"]}, "notes": {"min": 16, "grid": 0.5, "bars": [1, 2], "pitches": [42]}}, tags=["drums"])
case("snare-backbeat", "a snare on 2 and 4, 4 bars",
     [("create_track", "Snare", [("name", "Snare"), ("type", "midi"), ("instrument", "snare")]),
      ("create_midi_clip", "Backbeat", [NEW, ("start_time", 0), ("duration", 16), ("notes", '[{drum: snare, pattern: "....x.......x...", repeat: 4}]')])],
     {"track": {"name_contains": "snare", "instrument": ["snare", "drum"]}, "notes": {"min": 8, "grid": 1, "bars": [1, 4], "pitches": [38]}}, tags=["drums"])
case("clap-on-two-and-four", "add claps on 2 and 4 for 2 bars",
     [("create_track", "Clap", [("name", "Clap"), ("type", "midi"), ("instrument", "drums")]),
      ("create_midi_clip", "Claps", [NEW, ("start_time", 0), ("duration", 8), ("notes", notes([(39, 1, 0.25), (39, 3, 0.25), (39, 5, 0.25), (39, 7, 0.25)], 100))])],
     {"track": {"name_contains": "clap"}, "notes": {"min": 4, "grid": 1, "bars": [1, 2], "pitches": [39]}}, tags=["drums"])
case("shaker-sixteenths", "a shaker playing sixteenths for one bar",
     [("create_track", "Shaker", [("name", "Shaker"), ("type", "midi"), ("instrument", "drums")]),
      ("create_midi_clip", "16ths", [NEW, ("start_time", 0), ("duration", 4), ("notes", notes(seq([82] * 16, 0.25), 70))])],
     {"track": {"name_contains": "shaker"}, "notes": {"min": 16, "grid": 0.25, "bars": [1, 1], "pitches": [82]}}, tags=["drums"])
case("crash-at-bar-5", "add a crash cymbal at the start of bar 5 on the drums",
     [("create_midi_clip", "A crash on bar 5 of the Drums track", [("track_id", "t1"), ("start_time", 16), ("duration", 4), ("notes", notes([(49, 0, 2)], 110))])],
     {"notes": {"track": "t1", "min": 1, "bars": [5, 5], "pitches": [49]}}, tags=["drums", "edit"])
case("snare-into-existing-clip", "add snares on beats 2 and 4 to the existing drum clip",
     [("edit_clip", "Snares into the Drums clip c1", [("clip_id", "c1"), ("add_notes", notes([(38, 1, 0.5), (38, 3, 0.5)], 100))])],
     {"notes": {"track": "t1", "clip_start": 0, "min": 2, "grid": 1, "bars": [1, 1], "pitches": [38]}}, tags=["drums", "edit"])
case("quantize-drums", "quantize the drum clip to sixteenths",
     [("edit_clip", "Quantize c1", [("clip_id", "c1"), ("quantize", 0.25)])],
     {"actions": [{"tool": "edit_clip", "args": {"clip_id": "c1", "quantize": 0.25}}]}, tags=["edit"])
Am = [33, 29, 36, 31]  # A1 F1 C2 G1
case("sub-bass-a-minor", "a sub bass in A minor, 4 bars, following Am F C G",
     [("create_track", "Sub bass", [("name", "Sub Bass"), ("type", "midi"), ("instrument", "bass")]),
      ("create_midi_clip", "Roots on eighths", [NEW, ("start_time", 0), ("duration", 16), ("notes", notes([(p, b * 4 + k * 0.5, 0.5) for b, p in enumerate(Am) for k in range(8)], 100))])],
     {"track": {"name_contains": "bass", "instrument": ["bass"]}, "notes": {"min": 32, "in_key": "A minor", "grid": 0.5, "bars": [1, 4], "range": [24, 52]}}, tags=["bass", "key"])
case("bass-line-on-existing-track", "write a bass line on the Bass track in A minor, 2 bars",
     [("create_midi_clip", "A minor line on t2", [("track_id", "t2"), ("start_time", 0), ("duration", 8), ("notes", notes(seq([33, 33, 36, 38, 40, 38, 36, 31], 1)))])],
     {"notes": {"track": "t2", "min": 8, "in_key": "A minor", "grid": 1, "bars": [1, 2], "range": [24, 55]}}, tags=["bass", "key", "edit"])
case("walking-bass-blues-a", "a walking bass for the first 4 bars of a blues in A",
     [("create_midi_clip", "Walking quarters on t2", [("track_id", "t2"), ("start_time", 0), ("duration", 16), ("notes", notes(seq([33, 37, 40, 42, 45, 42, 40, 37, 33, 37, 40, 43, 45, 43, 40, 38], 1)))])],
     {"notes": {"track": "t2", "min": 16, "in_key": "A mixolydian", "grid": 1, "bars": [1, 4]}}, tags=["bass", "key"])
case("pad-am-f-c-g", "add a pad playing Am F C G, one bar each",
     [("create_track", "Pad", [("name", "Pad"), ("type", "midi"), ("instrument", "pad")]),
      ("create_midi_clip", "Whole-bar chords", [NEW, ("start_time", 0), ("duration", 16), ("notes", '[{chord: "Am", s: 0, d: 4}, {chord: "F", s: 4, d: 4}, {chord: "C", s: 8, d: 4}, {chord: "G", s: 12, d: 4}]')])],
     {"track": {"name_contains": "pad", "instrument": ["pad", "synth", "string"]}, "notes": {"min": 12, "in_key": "A minor", "grid": 4, "bars": [1, 4]}}, tags=["chords", "key"])
case("piano-c-g-am-f", "piano chords C G Am F, two beats each, 2 bars",
     [("create_track", "Piano", [("name", "Piano"), ("type", "midi"), ("instrument", "piano")]),
      ("create_midi_clip", "Half-note chords", [NEW, ("start_time", 0), ("duration", 8), ("notes", '[{chord: "C", s: 0, d: 2}, {chord: "G", s: 2, d: 2}, {chord: "Am", s: 4, d: 2}, {chord: "F", s: 6, d: 2}]')])],
     {"track": {"name_contains": "piano", "instrument": ["piano", "keys"]}, "notes": {"min": 12, "in_key": "C major", "grid": 2, "bars": [1, 2]}}, tags=["chords", "key"])
case("jazz-ii-v-i-bb", "a ii-V-I in B flat on electric piano with sevenths",
     [("create_track", "Keys", [("name", "EP"), ("type", "midi"), ("instrument", "electric piano")]),
      ("create_midi_clip", "Cm7 F7 Bbmaj7", [NEW, ("start_time", 0), ("duration", 16), ("notes", '[{chord: "Cm7", s: 0, d: 4}, {chord: "F7", s: 4, d: 4}, {chord: "Bbmaj7", s: 8, d: 8}]')])],
     {"track": {"name_contains": "ep", "instrument": ["piano", "keys", "ep", "rhodes"]}, "notes": {"min": 12, "in_key": "Bb major", "grid": 4, "bars": [1, 4]}}, tags=["chords", "key"])
case("organ-f-major", "organ chords in F major for 2 bars: F Bb C F",
     [("create_track", "Organ", [("name", "Organ"), ("type", "midi"), ("instrument", "organ")]),
      ("create_midi_clip", "F Bb C F", [NEW, ("start_time", 0), ("duration", 8), ("notes", '[{chord: "F", s: 0, d: 2}, {chord: "Bb", s: 2, d: 2}, {chord: "C", s: 4, d: 2}, {chord: "F", s: 6, d: 2}]')])],
     {"track": {"name_contains": "organ", "instrument": ["organ"]}, "notes": {"min": 12, "in_key": "F major", "grid": 2, "bars": [1, 2]}}, tags=["chords", "key"])
case("dorian-arpeggio", "an arpeggiated synth in D dorian over Dm G, 2 bars",
     [("create_track", "Arp", [("name", "Arp"), ("type", "midi"), ("instrument", "synth")]),
      ("create_midi_clip", "16th arpeggio", [NEW, ("start_time", 0), ("duration", 8), ("notes", notes(seq([62, 65, 69, 72] * 4 + [67, 71, 74, 71] * 4, 0.25), 80))])],
     {"track": {"name_contains": "arp", "instrument": ["synth", "lead", "arp"]}, "notes": {"min": 32, "in_key": "D dorian", "grid": 0.25, "bars": [1, 2]}}, tags=["melody", "key"])
case("lead-e-minor-bars-5-8", "a lead melody in E minor in bars 5 to 8",
     [("create_track", "Lead", [("name", "Lead"), ("type", "midi"), ("instrument", "lead")]),
      ("create_midi_clip", "Melody in bars 5-8", [NEW, ("start_time", 16), ("duration", 16), ("notes", notes(seq([64, 67, 71, 69, 67, 66, 64, None, 62, 64, 66, 67, 71, 69, 67, 64], 1)))])],
     {"track": {"name_contains": "lead", "instrument": ["lead", "synth"]}, "notes": {"min": 15, "in_key": "E minor", "grid": 1, "bars": [5, 8], "range": [55, 84]}}, tags=["melody", "key", "bars"])
case("counter-melody-g-major", "a flute counter-melody in G major, bars 1-4",
     [("create_track", "Flute", [("name", "Flute"), ("type", "midi"), ("instrument", "flute")]),
      ("create_midi_clip", "Counter-melody", [NEW, ("start_time", 0), ("duration", 16), ("notes", notes(seq([79, 78, 76, 74, 76, 78, 79, 81], 2)))])],
     {"track": {"name_contains": "flute", "instrument": ["flute", "wind"]}, "notes": {"min": 8, "in_key": "G major", "grid": 2, "bars": [1, 4], "range": [60, 96]}}, tags=["melody", "key"])
case("strings-chorus-bigger", "make the chorus (bars 9-16) bigger with strings and reverb",
     [("create_track", "Strings", [("name", "Chorus Strings"), ("type", "midi"), ("instrument", "strings")]),
      ("create_midi_clip", "Chords in bars 9-16", [NEW, ("start_time", 32), ("duration", 32), ("notes", '[{chord: "C", s: 0, d: 8}, {chord: "G", s: 8, d: 8}, {chord: "Am", s: 16, d: 8}, {chord: "F", s: 24, d: 8}]')]),
      ("add_effect", "Hall reverb", [NEW, ("effect_name", "reverb")])],
     {"track": {"name_contains": "strings", "instrument": ["string", "pad"]}, "notes": {"min": 12, "in_key": "C major", "grid": 8, "bars": [9, 16]}, "effect": "verb"}, tags=["arrangement", "bars"])
case("octave-synth-bass", "double the bass line an octave up with a synth, 1 bar",
     [("create_track", "Synth bass double", [("name", "Bass Double"), ("type", "midi"), ("instrument", "synth")]),
      ("create_midi_clip", "A minor line an octave up", [NEW, ("start_time", 0), ("duration", 4), ("notes", notes(seq([45, 45, 48, 50, 52, 50, 48, 43], 0.5)))])],
     {"track": {"name_contains": "double", "instrument": ["synth", "bass"]}, "notes": {"min": 8, "in_key": "A minor", "grid": 0.5, "bars": [1, 1]}}, tags=["bass", "key"])
case("reverb-on-vocals", "put some reverb on the vocals",
     [("add_effect", "Reverb on Vocals", [("track_id", "t3"), ("effect_name", "reverb")])],
     {"effect": "verb"}, tags=["mix"])
case("delay-on-new-lead", "a short lead line in A minor with a delay on it",
     [("create_track", "Lead", [("name", "Delay Lead"), ("type", "midi"), ("instrument", "lead")]),
      ("create_midi_clip", "One bar", [NEW, ("start_time", 0), ("duration", 4), ("notes", notes(seq([69, 72, 76, 74], 1)))]),
      ("add_effect", "Delay", [NEW, ("effect_name", "delay")])],
     {"track": {"name_contains": "lead"}, "notes": {"min": 4, "in_key": "A minor", "grid": 1, "bars": [1, 1]}, "effect": "delay"}, tags=["mix", "melody"])
case("eq-on-bass", "add an EQ to the bass",
     [("add_effect", "EQ on Bass", [("track_id", "t2"), ("effect_name", "eq")])],
     {"effect": "eq"}, tags=["mix"])
case("bass-quieter", "make the bass 4 dB quieter",
     [("set_track", "Bass down", [("track_id", "t2"), ("volume_db", -4)])],
     {"actions": [{"tool": "set_track", "args": {"track_id": "t2"}, "max": {"volume_db": -3}}]}, tags=["mix"])
case("pan-bass-left", "pan the bass 30% left",
     [("set_track", "Pan", [("track_id", "t2"), ("pan", -0.3)])],
     {"actions": [{"tool": "set_track", "args": {"track_id": "t2", "pan": -0.3}}]}, tags=["mix"])
case("mute-drums", "mute the drums",
     [("set_track", "Mute", [("track_id", "t1"), ("mute", "true")])],
     {"actions": [{"tool": "set_track", "args": {"track_id": "t1", "mute": True}}]}, tags=["mix"])
case("solo-bass", "solo the bass",
     [("set_track", "Solo", [("track_id", "t2"), ("solo", "true")])],
     {"actions": [{"tool": "set_track", "args": {"track_id": "t2", "solo": True}}]}, tags=["mix"])
case("rename-vocals", "rename the vocals track to Lead Vox",
     [("set_track", "Rename", [("track_id", "t3"), ("name", "Lead Vox")])],
     {"actions": [{"tool": "set_track", "args": {"track_id": "t3", "name": "Lead Vox"}}]}, tags=["mix"])
case("tempo-128", "set the tempo to 128",
     [("set_tempo", "128 BPM", [("bpm", 128)])],
     {"actions": [{"tool": "set_tempo", "args": {"bpm": 128}}]}, tags=["song"])
case("chorus-marker", "put a marker called Chorus at bar 9",
     [("add_marker", "Chorus at bar 9", [("position", 32), ("name", "Chorus")])],
     {"actions": [{"tool": "add_marker", "args": {"position": 32, "name": "Chorus"}}]}, tags=["song"])
case("loop-first-four-bars", "loop the first four bars",
     [("set_loop", "Bars 1-4", [("start", 0), ("end", 16), ("enabled", "true")])],
     {"actions": [{"tool": "set_loop", "args": {"start": 0, "end": 16}}]}, tags=["song"])
bad = plan("A kick.", [("create_clip", "Kick clip", [("track_id", "t1"), ("start_time", 0), ("duration", 4)])])
good = plan("A kick on the Drums track, bar 2.", [("create_midi_clip", "Four kicks in bar 2", [("track_id", "t1"), ("start_time", 4), ("duration", 4), ("notes", notes([(36, 0, 0.5), (36, 1, 0.5), (36, 2, 0.5), (36, 3, 0.5)], 110))])])
case("replan-after-unknown-tool", "add four kicks in bar 2 of the drums", None,
     {"notes": {"track": "t1", "min": 4, "grid": 1, "bars": [2, 2], "pitches": [36]}}, responses=[bad, good], tags=["replan"])
case("vocals-quieter-and-eq", "bring the vocals down 2 dB and add an EQ",
     [("set_track", "Vocals down", [("track_id", "t3"), ("volume_db", -2)]), ("add_effect", "EQ", [("track_id", "t3"), ("effect_name", "eq")])],
     {"effect": "eq", "actions": [{"tool": "set_track", "args": {"track_id": "t3"}, "max": {"volume_db": -1.5}}]}, tags=["mix"])

suite = {"name": "core", "description": "dawbridge eval core suite: musical requests from 'add a four-on-the-floor kick' to 'make the chorus bigger' and edits of existing material, each against the mock's demo session (t1 Drums with a one-bar kick clip c1, t2 Bass empty, t3 Vocals audio). responses: the scripted model's answers (stage 1; a second one is the re-plan); checks: examples/eval/README.md.", "cases": cases}
json.dump(suite, open("/work/main/examples/eval/suite.json", "w"), indent=1)
print(len(cases))

# self-test: cases that must FAIL (the checks can fail)
st = []
st.append({"id": "selftest-out-of-key", "request": "a bass line in A minor",
  "responses": [plan("x", [("create_midi_clip", "Line with F# and C#", [("track_id", "t2"), ("start_time", 0), ("duration", 4), ("notes", notes(seq([33, 37, 42, 45], 1)))])])],
  "checks": {"notes": {"track": "t2", "min": 4, "in_key": "A minor"}}})
st.append({"id": "selftest-outside-bars-off-grid", "request": "a melody in bars 5-8 on the 8th grid",
  "responses": [plan("x", [("create_midi_clip", "In bar 1, off grid", [("track_id", "t2"), ("start_time", 0), ("duration", 4), ("notes", notes([(60, 0.1, 0.5), (62, 1.3, 0.5)]))])])],
  "checks": {"notes": {"track": "t2", "min": 2, "grid": 0.5, "bars": [5, 8]}}})
st.append({"id": "selftest-invalid-plan-twice", "request": "add a kick",
  "responses": [bad, bad], "checks": {"notes": {"track": "t1", "min": 1}}})
st.append({"id": "selftest-wrong-instrument-and-no-effect", "request": "a piano with reverb",
  "responses": [plan("x", [("create_track", "Piano", [("name", "Piano"), ("type", "midi"), ("instrument", "kick")]), ("create_midi_clip", "C", [NEW, ("start_time", 0), ("duration", 4), ("notes", notes([(60, 0, 4)]))])])],
  "checks": {"track": {"name_contains": "piano", "instrument": ["piano"]}, "effect": "verb"}})
json.dump({"name": "selftest", "description": "Cases built to FAIL: the eval's checks must catch out-of-key notes, notes outside the named bars or off the grid, a plan that stays invalid, a wrong instrument and a missing effect (ctest eval_selftest expects 0 of 4 passed).", "cases": st}, open("/work/main/examples/eval/selftest.json", "w"), indent=1)
