-- test_ardour_companion.lua: unit tests of osc-maps/companions/ardour/ (core, headless entry, GUI hook) against
-- fake_ardour.lua. Run with Ardour's Lua version: lua5.3 tests/companions/test_ardour_companion.lua
-- Last line: "N passed, N failed"; exit code 1 on failure.
local here = (arg and arg[0] or ""):match("^(.*)[/\\][^/\\]*$") or "."
local ROOT = here .. "/../.."
local DIR = ROOT .. "/osc-maps/companions/ardour"
local CORE = DIR .. "/dawbridge_core.lua"

local fake = dofile(here .. "/fake_ardour.lua")
fake.install()

local T = dofile(here .. "/testlib.lua")
local test, eq, truthy, contains = T.test, T.eq, T.truthy, T.contains
T.before_each(fake.reset)
local SPOOL = T.new_spool()

-- load the core as the entry points do
local function load_core ()
  local f = assert(io.open(CORE, "r"))
  local C = assert(load(f:read("a"), "=dawbridge_core.lua"))(CORE)
  f:close()
  return C
end
local C = load_core()
local json = C.json

local logs = {}
local function new_core (mode)
  logs = {}
  -- gc_stress: a full collection inside every list loop, so a loop over a temporary list fails here (fake lists)
  return C.new({ mode = mode or "headless", spool = SPOOL, log = function (m) logs[#logs + 1] = m end, gc_stress = true })
end

local clock = 0
-- as the bridge does: the command file, then its id appended to the doorbell in/.queue
local function ring (id)
  local q = assert(io.open(SPOOL .. "/in/.queue", "ab"))
  q:write(id .. "\n")
  q:close()
end
local core
local K = T.client({ spool = SPOOL, json = json, after_write = ring, run_once = function () core:poll() end })
local new_id, far, write_cmd, read_reply = K.new_id, K.far, K.write_cmd, K.read_reply
local run, cmd, call, ok_result, err_of = K.run, K.cmd, K.call, K.ok_result, K.err_of
local function midi_track (name)
  return ok_result(call("create_track", { name = name or "Keys", type = "midi", instrument = "ACE Reasonable Synth" }))
end

-- ---------------------------------------------------------------------------
test("ping: headless reports companion-level undo, GUI native undo; no command id", function ()
  core = new_core("headless")
  local r = ok_result(call("ping"))
  eq(r.host, "ardour", "host"); eq(r.companion, "dawbridge", "companion"); eq(r.version, 1, "version")
  eq(r.command_id, json.null, "command_id"); eq(r.undo, "companion", "undo")
  -- the bulk capability the bridge looks for (PROTOCOL.md "Bulk notes")
  eq(r.bulk.packed, true, "bulk.packed"); eq(r.bulk.max_notes, C.MAX_NOTES, "bulk.max_notes")
  core = new_core("gui")
  eq(ok_result(call("ping")).undo, "native", "gui undo")
end)

test("replies: file (atomic) AND OSC /dawbridge/reply s <json> to the reply port", function ()
  core = new_core()
  local c = cmd("ping")
  write_cmd(c)
  core:poll()
  local _, text = read_reply(c.id)
  eq(#fake.osc_sent, 1, "one OSC message")
  local m = fake.osc_sent[1]
  eq(m.uri, "osc.udp://127.0.0.1:9010", "uri"); eq(m.path, "/dawbridge/reply", "path"); eq(m.types, "s", "types")
  eq(m.args[1], text, "same JSON as the file")
  local p = io.popen("ls -A '" .. SPOOL .. "/in' '" .. SPOOL .. "/out'")
  local listing = p:read("a"); p:close()
  truthy(not listing:find("%.json") and not listing:find("%.tmp"), "no files left: " .. listing)
end)

test("the command's token is echoed in the reply (file and OSC), also for a duplicate; a bad token is not", function ()
  core = new_core()
  local c = cmd("ping", nil, { token = "9f2c0e61a4b85d7730e1c2f4a8b96d05" })
  local r = run({ c })[1]
  eq(r.token, "9f2c0e61a4b85d7730e1c2f4a8b96d05", "token in the reply file")
  eq(json.decode(fake.osc_sent[#fake.osc_sent].args[1]).token, c.token, "token in the OSC reply")
  c.token = "0123456789abcdef0123456789abcdef"
  eq(run({ c })[1].token, c.token, "a resend: its own token")
  local bad = cmd("ping", nil, { token = 'x","ok":false' })
  eq(run({ bad })[1].token, nil, "a token that is not hex is not copied")
end)

test("create_track midi with instrument (PluginInfo, never nil); aliases; no instrument asked -> null", function ()
  core = new_core()
  local r = midi_track("Keys")
  eq(r.instrument, "ACE Reasonable Synth", "instrument"); eq(r.type, "midi", "type"); eq(r.index, 1, "index")
  eq(r.host_id, tostring(fake.routes()[1]._id), "host_id is the route id")
  local r2 = ok_result(call("create_track", { name = "K2", type = "midi", instrument = "General MIDI Synth",
                                              instrument_aliases = { "x42 gmsynth", "ACE Reasonable Synth" } }))
  eq(r2.instrument, "ACE Reasonable Synth", "alias")
  local r3 = ok_result(call("create_track", { name = "K3", type = "midi" }))
  eq(r3.instrument, json.null, "no instrument (ARDOUR.PluginInfo () passed, not nil)")
  local a = ok_result(call("create_track", { name = "Vox", type = "audio" }))
  eq(a.type, "audio", "audio"); eq(a.index, 4, "index"); eq(a.instrument, json.null, "audio instrument")
end)

test("create_track: an instrument this host does not have is refused before any track is made", function ()
  core = new_core()
  contains(err_of(call("create_track", { name = "K", type = "midi", instrument = "General MIDI Synth",
                                         instrument_aliases = { "x42 gmsynth" } })),
           "no instrument plugin named General MIDI Synth, x42 gmsynth")
  contains(err_of(call("create_track", { name = "V", type = "audio", instrument = "Nothing" })),
           "no instrument plugin named Nothing")
  eq(#fake.routes(), 0, "nothing created")
end)

test("create_track with a role's sound: the drum kit for kick, falling back in order; params reported missing", function ()
  core = new_core()
  -- what the bridge sends for the role "kick" (osc-maps/instruments/ardour.json)
  local k = ok_result(call("create_track", { name = "Kick Drum", type = "midi", instrument = "Black Pearl Drumkit",
                                             instrument_aliases = { "avldrums", "Red Zeppelin Drumkit",
                                                                    "ACE Reasonable Synth" },
                                             role = "kick", channel = 10 }))
  eq(k.instrument, "Black Pearl Drumkit", "the AVL drum kit is loaded")
  -- without avldrums.lv2 the next candidate is loaded, and the reply says which
  fake.plugins.LV2["Black Pearl Drumkit"], fake.plugins.LV2["Red Zeppelin Drumkit"] = nil, nil
  local f = ok_result(call("create_track", { name = "Kick 2", type = "midi", instrument = "Black Pearl Drumkit",
                                             instrument_aliases = { "Red Zeppelin Drumkit", "ACE Reasonable Synth" } }))
  eq(f.instrument, "ACE Reasonable Synth", "fallback named in the reply")
  fake.plugins.LV2["Black Pearl Drumkit"] = { instrument = true }
  fake.plugins.LV2["Red Zeppelin Drumkit"] = { instrument = true }
  local p = ok_result(call("create_track", { name = "Pad", type = "midi", instrument = "ACE Reasonable Synth",
                                             params = { Attack = 0.6 } }))
  eq(json.encode(p.params_applied), "[]", "nothing applied"); eq(json.encode(p.params_missing), '["Attack"]', "missing")
  contains(err_of(call("create_track", { name = "X", type = "midi", instrument = "ACE Reasonable Synth", params = 2 })),
           "'params'")
end)

test("create_track: Ardour raising after it made the track (7.3 port race) still answers with that track", function ()
  core = new_core()
  fake.raise_after_create = true
  local r = ok_result(call("create_track", { name = "Kick", type = "midi", instrument = "ACE Reasonable Synth" }))
  eq(r.name, "Kick", "name"); eq(r.index, 1, "index"); eq(r.instrument, "ACE Reasonable Synth", "instrument")
  eq(#fake.routes(), 1, "one track, not two")
end)

test("create_track bad args name the problem", function ()
  core = new_core()
  contains(err_of(call("create_track", { type = "midi" })), "'name'")
  contains(err_of(call("create_track", { name = "X", type = "bus" })), "'type'")
  contains(err_of(call("create_track", { name = "X", type = "midi", instrument = 5 })), "'instrument'")
  eq(#fake.routes(), 0, "nothing created")
end)

test("create_midi_clip: empty-range bounce, exact notes, region copy looked up, read_clip", function ()
  core = new_core()
  local t = midi_track()
  local notes = { { n = 60, s = 0, d = 1, v = 100 }, { n = 64, s = 1.5, d = 0.5, v = 90, c = 2 },
                  { n = 67, s = 3.75, d = 0.25, v = 1 } }
  local r = ok_result(call("create_midi_clip", { track = t.host_id, start = 4, length = 4, name = "verse", notes = notes }))
  eq(r.notes_added, 3, "notes_added"); eq(r.track, t.host_id, "track"); eq(r.start, 4, "start"); eq(r.length, 4, "length")
  local pl = fake.routes()[1]._playlist
  eq(#pl._regions, 1, "one region on the playlist")
  eq(r.host_id, tostring(pl._regions[1]._id), "the id is the playlist's copy, not the bounced whole-file region")
  eq(pl._regions[1]._pos, 4 * 24000, "position (beats -> samples at 120 bpm, 48 kHz)")
  eq(fake.count("Track:bounce_range"), 1, "bounce once")
  local model = pl._regions[1]._model
  eq(#model.notes, 3, "notes in the model")
  eq(model.notes[2].t, 1.5 * 1920, "tick position"); eq(model.notes[2].l, 960, "tick length"); eq(model.notes[2].c, 2, "channel")
  local rc = ok_result(call("read_clip", { clip = r.host_id }))
  eq(rc.start, 4, "start"); eq(rc.length, 4, "length"); eq(rc.track, t.host_id, "track")
  eq(rc.name, "verse", "name (the mirror needs it: the next state dump has it)")
  T.eq_notes(rc.notes, notes, "read_clip notes")
end)

test("create_midi_clip twice at the same place: notes are added, the first clip is never replaced", function ()
  core = new_core()
  midi_track()
  local a = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4, notes = { { n = 36, s = 0, d = 1, v = 100 } } }))
  local b = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4, notes = { { n = 38, s = 1, d = 1, v = 100 } } }))
  truthy(a.host_id ~= b.host_id, "two regions")
  eq(#ok_result(call("read_clip", { clip = a.host_id })).notes, 1, "first clip kept its note")
  eq(ok_result(call("read_clip", { clip = b.host_id })).notes[1].n, 38, "second clip has its own note")
end)

test("create_midi_clip bad args, missing track, audio track", function ()
  core = new_core()
  midi_track()
  ok_result(call("create_track", { name = "Vox", type = "audio" }))
  contains(err_of(call("create_midi_clip", { track = "99999", start = 0, length = 4, notes = {} })), "no track with id 99999")
  contains(err_of(call("create_midi_clip", { track = "{abc}", start = 0, length = 4, notes = {} })), "no track with id {abc}")
  contains(err_of(call("create_midi_clip", { track = 9, start = 0, length = 4, notes = {} })), "index 9")
  contains(err_of(call("create_midi_clip", { track = 2, start = 0, length = 4, notes = {} })), "audio track")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = -1, notes = {} })), "'length'")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4 })), "'notes'")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4,
    notes = { { n = 60, s = 0, d = 1, v = 100 }, { n = 60.5, s = 0, d = 1, v = 100 } } })), "notes[2].n")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4, notes = { { n = 60, s = 5, d = 1, v = 100 } } })),
           "outside the clip")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4, notes = { "C4" } })), "notes[1]")
  eq(#fake.routes()[1]._playlist._regions, 0, "no region created")
end)

test("edit_clip adds and removes given notes; a missing note is an error naming it and nothing changes", function ()
  core = new_core()
  midi_track()
  local c = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4, notes = {
    { n = 60, s = 0, d = 1, v = 100 }, { n = 62, s = 1, d = 1, v = 100 }, { n = 64, s = 2, d = 1, v = 100 } } }))
  local r = ok_result(call("edit_clip", { clip = c.host_id, remove = { { n = 62, s = 0.9995 } },
                                          add = { { n = 65, s = 3, d = 0.5, v = 70 } } }))
  eq(r.added, 1, "added"); eq(r.removed, 1, "removed")
  local p = {} for _, nt in ipairs(r.notes) do p[#p + 1] = nt.n end
  eq(table.concat(p, ","), "60,64,65", "notes after edit")
  local hist = #fake.history
  local e = err_of(call("edit_clip", { clip = c.host_id, remove = { { n = 60, s = 0 }, { n = 99, s = 1 } } }))
  contains(e, "remove[2]"); contains(e, "n=99")
  eq(#ok_result(call("read_clip", { clip = c.host_id })).notes, 3, "unchanged")
  eq(#fake.history, hist, "no transaction for the failed edit")
  contains(err_of(call("edit_clip", { clip = c.host_id })), "nothing to do")
  contains(err_of(call("edit_clip", { clip = "4242", add = {} })), "no clip with id 4242")
  contains(err_of(call("read_clip", { clip = "abc" })), "no clip with id abc")
end)

test("add_effect by name/aliases (LV2 then Lua types), index = chain position (instrument counted); remove_effect", function ()
  core = new_core()
  local t = midi_track()
  local r = ok_result(call("add_effect", { track = t.host_id, name = "Reverb", aliases = { "a-Reverb", "ACE Reverb" } }))
  eq(r.index, 2, "index (the instrument is plugin 1)"); eq(r.name, "ACE Reverb", "inserted name")
  local r2 = ok_result(call("add_effect", { track = 1, name = "ACE Amplifier" }))
  eq(r2.index, 3, "Lua plugin index"); eq(r2.name, "ACE Amplifier", "Lua plugin")
end)

test("add_effect / remove_effect details", function ()
  core = new_core()
  midi_track()
  ok_result(call("add_effect", { track = 1, name = "ACE Reverb" }))
  ok_result(call("add_effect", { track = 1, name = "ACE Delay" }))
  local pl = {}
  for i, p in ipairs(fake.routes()[1]._plugins) do pl[i] = p._name end
  eq(table.concat(pl, ","), "ACE Reasonable Synth,ACE Reverb,ACE Delay", "chain order: after the last plugin")
  contains(err_of(call("add_effect", { track = 1, name = "a-EQ", aliases = { "General EQ" } })),
           "no such effect: tried 'a-EQ', 'General EQ'")
  local st = ok_result(call("state"))
  eq(#st.tracks[1].fx, 3, "whole chain"); eq(st.tracks[1].fx[1].name, "ACE Reasonable Synth", "fx 1 = instrument")
  eq(st.tracks[1].fx[3].name, "ACE Delay", "fx 3"); eq(st.tracks[1].fx[2].index, 2, "idx")
  eq(st.tracks[1].fx[2].enabled, true, "enabled")
  eq(ok_result(call("remove_effect", { track = 1, index = 2 })).removed, "ACE Reverb", "removed")
  contains(err_of(call("remove_effect", { track = 1, index = 3 })), "no effect at index 3")
  contains(err_of(call("remove_effect", { track = 1, index = "1" })), "'index'")
  eq(fake.routes()[1]._plugins[1]._name, "ACE Reasonable Synth", "instrument kept")
end)

test("state: tempo, tracks in order, types, instrument, clips with notes", function ()
  core = new_core()
  local t = midi_track("Keys")
  ok_result(call("create_track", { name = "Vox", type = "audio" }))
  ok_result(call("create_midi_clip", { track = t.host_id, start = 8, length = 2, name = "hook",
                                       notes = { { n = 72, s = 0.5, d = 0.5, v = 64 } } }))
  local st = ok_result(call("state"))
  eq(st.tempo, 120.0, "tempo"); eq(#st.tracks, 2, "tracks")
  local k = st.tracks[1]
  eq(k.name, "Keys", "name"); eq(k.type, "midi", "type"); eq(k.instrument, "ACE Reasonable Synth", "instrument")
  eq(#k.fx, 1, "fx: the instrument is in the chain"); eq(k.fx[1].name, "ACE Reasonable Synth", "fx 1")
  eq(#k.clips, 1, "clips"); eq(k.clips[1].name, "hook", "clip name")
  eq(k.clips[1].start, 8, "start"); eq(k.clips[1].length, 2, "length"); eq(k.clips[1].notes[1].s, 0.5, "note")
  eq(st.tracks[2].type, "audio", "audio"); eq(st.tracks[2].index, 2, "index")
  truthy(json.encode(st):find('"fx":[]', 1, true), "empty lists encode as []")
end)

test("delete_clip; delete_track is a clear error without Session:remove_route, works when bound", function ()
  core = new_core()
  local t = midi_track()
  local c = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 1, notes = {} }))
  eq(ok_result(call("delete_clip", { clip = c.host_id })).deleted, c.host_id, "deleted")
  eq(#fake.routes()[1]._playlist._regions, 0, "region removed")
  contains(err_of(call("delete_clip", { clip = c.host_id })), "no clip with id")
  contains(err_of(call("delete_track", { track = t.host_id })), "cannot remove a track")
  eq(#fake.routes(), 1, "track still there")
  fake.enable_remove_route()
  eq(ok_result(call("delete_track", { track = t.host_id })).deleted, t.host_id, "deleted with remove_route")
  eq(#fake.routes(), 0, "gone")
  contains(err_of(call("delete_track", { track = t.host_id })), "no track with id")
end)

test("unknown op and malformed commands are error replies, never a crash", function ()
  core = new_core()
  contains(err_of(call("frobnicate")), "unknown op: frobnicate")
  contains(err_of(call("eval", { code = "os.exit()" })), "unknown op: eval")
  contains(err_of(run({ { id = new_id(), op = 5, deadline_ms = far() } })[1]), "unknown op")
  contains(err_of(run({ { id = new_id(), op = "state", args = "x", deadline_ms = far() } })[1]), "'args'")
  local id = new_id()
  contains(err_of(run({ { id = id, raw = "{\"id\":\"" .. id .. "\",\"op\":\"ping\"" } })[1]), "bad command: json:")
  local id2 = new_id()
  contains(err_of(run({ { id = id2, raw = '{"id":"x","op":"ping","deadline_ms":' .. far() .. '}' } })[1]), "file name")
  local id3 = new_id()
  contains(err_of(run({ { id = id3, raw = '{"id":"' .. id3 .. '","op":"ping"}' } })[1]), "deadline_ms")
end)

test("commands are processed in lexical order; bad announced ids are ignored, no path is built from them", function ()
  core = new_core()
  local a, b = cmd("create_track", { name = "B", type = "audio" }), cmd("create_track", { name = "A", type = "audio" })
  a.id, b.id = "20261125T101500-o-0002", "20261125T101500-o-0001"
  run({ a, b })
  eq(fake.routes()[1]._name, "A", "older id first")
  local f = assert(io.open(SPOOL .. "/in/bad name!.json", "w")); f:write("{}"); f:close()
  ring("bad name!"); ring("../out/x")
  eq(core:poll(), 0, "not handled")
  truthy(io.open(SPOOL .. "/in/bad name!.json"), "left alone")
  os.remove(SPOOL .. "/in/bad name!.json")
  core:poll()
end)

test("idle polls start no process; work is found through the doorbell alone; a racing append is not lost", function ()
  clock = 1000
  core = C.new({ mode = "headless", spool = SPOOL, log = function () end, gc_stress = true,
                 clock_ms = function () return clock end })
  local real_popen, real_execute = io.popen, os.execute
  io.popen = function () error("a poll started a process (io.popen)") end
  os.execute = function () error("a poll started a process (os.execute)") end
  local ok, err = pcall(function ()
    for _ = 1, 50 do eq(core:poll(), 0, "idle") end
    -- a command file without a doorbell entry is not seen (nothing lists the directory)
    local c = cmd("ping")
    local f = assert(io.open(SPOOL .. "/in/" .. c.id .. ".json", "wb")); f:write(json.encode(c)); f:close()
    eq(core:poll(), 0, "unannounced file not seen")
    ring(c.id)
    eq(core:poll(), 1, "announced: handled")
    truthy(read_reply(c.id).ok, "answered")
    -- an append that lands in the taken file after the poll read it (the bridge opened .queue before the rename
    -- and was descheduled before its write): still handled, even a few polls later; then the file goes
    local taken = core.taken[#core.taken].path
    for _ = 1, 5 do eq(core:poll(), 0, "idle") end
    local c2 = cmd("ping")
    local f2 = assert(io.open(SPOOL .. "/in/" .. c2.id .. ".json", "wb")); f2:write(json.encode(c2)); f2:close()
    local t = assert(io.open(taken, "ab")); t:write(c2.id .. "\n"); t:close()
    eq(core:poll(), 1, "the late append in the taken file is handled")
    truthy(read_reply(c2.id).ok, "answered")
    eq(core:poll(), 0, "idle again")
    clock = clock + C.TAKEN_KEEP_MS
    eq(core:poll(), 0, "idle")
    truthy(not io.open(taken), "the taken file is removed after C.TAKEN_KEEP_MS")
    eq(#core.taken, 0, "nothing pending")
  end)
  io.popen, os.execute = real_popen, real_execute
  if not ok then error(err, 0) end
end)

test("bulk notes: notes_packed in, read_clip/edit_clip packed out, same notes as JSON; bounded per command", function ()
  core = C.new({ mode = "headless", spool = SPOOL, log = function () end, gc_stress = false })  -- 3,000 notes
  local t = midi_track()
  local list, packed = {}, {}
  for i = 0, 2999 do
    local nt = { n = 30 + i % 90, s = (i % 1500) / 4 + (i // 1500) / 8, d = 0.125, v = 1 + i % 127, c = i % 16 }
    list[#list + 1] = nt
    packed[#packed + 1] = string.format("%d %d %d %d %d", nt.n, math.floor(nt.s * 1920 + 0.5), 240, nt.v, nt.c)
  end
  local _, p, p2 = T.check_bulk_notes(K, { track = t.host_id, packed = packed, length = 400, start2 = 500,
                                        pack_notes = C.pack_notes, brief_add = "101 0 1920 90 0;102 1 5 7 3",
                                        note_reads = function () return fake.count("ARDOUR.LuaAPI.note_list") end })
  eq(#C.unpack_notes(p.notes_packed, "x"), 3000, "unpacked")
  -- the packed read-back carries every note exactly, sorted like the JSON notes
  contains(p2.notes_packed, "102 1 5 7 3", "ticks exact")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4, notes_packed = "60 7680 10 100 0" })), "outside the clip")
  local saved = C.MAX_NOTES
  C.MAX_NOTES = 10
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4, notes_packed = string.rep("60 0 10 100 0;", 11) })), "at most 10")
  C.MAX_NOTES = saved
  -- the fast note encoding writes the same text as the generic encoder
  eq(json.encode(json.array({ json.note({ n = 60, s = 0.5, d = 1.0, v = 100, c = 0 }) })),
     json.encode(json.array({ { n = 60, s = 0.5, d = 1.0, v = 100, c = 0 } })), "same JSON")
end)

test("lists are held while iterated: a collection inside every loop (gc_stress) frees nothing in use", function ()
  core = new_core()
  local t = midi_track()
  for i = 1, 3 do
    ok_result(call("create_midi_clip", { track = t.host_id, start = i * 4, length = 4, notes = { { n = 60, s = 0, d = 1, v = 100 } } }))
  end
  local st = ok_result(call("state"))
  eq(#st.tracks[1].clips, 3, "three clips")
  eq(#ok_result(call("read_clip", { clip = st.tracks[1].clips[2].host_id })).notes, 1, "notes read back")
  -- the fake does fail a loop over a temporary list under the same stress (so this test can fail)
  local Cx = load_core()
  Cx.gc_stress = true
  local failed = not pcall(function ()
    for _ in Session:get_tracks():iter() do collectgarbage() end
  end)
  truthy(failed, "the fake detects iterating a freed temporary list")
end)

test("the reply memory is bounded in bytes as well (bulk replies), the newest kept; big replies go by file only", function ()
  core = C.new({ mode = "headless", spool = SPOOL, log = function () end, gc_stress = false })
  local t = midi_track()
  local packed = {}
  for i = 0, 1999 do packed[#packed + 1] = string.format("%d %d 240 100 0", 30 + i % 90, i * 240) end
  local r = ok_result(call("create_midi_clip", { track = t.host_id, start = 0, length = 300, notes_packed = table.concat(packed, ";") }))
  truthy(core.memory_bytes and core.memory_bytes > 0, "memory counts bytes")
  local osc_before = #fake.osc_sent
  local big = ok_result(call("read_clip", { clip = r.host_id }))   -- ~90 KB of JSON notes
  eq(#big.notes, 2000, "read")
  eq(#fake.osc_sent, osc_before, "a reply over 60,000 bytes is not sent by OSC (the file carries it)")
  local saved = C.MEMORY_BYTES
  C.MEMORY_BYTES = 300000
  for _ = 1, 6 do ok_result(call("read_clip", { clip = r.host_id })) end
  truthy(core.memory_bytes <= 300000, "memory within the byte bound: " .. core.memory_bytes)
  truthy(#core.memory_order <= 4, "old replies dropped: " .. #core.memory_order)
  C.MEMORY_BYTES = 1
  ok_result(call("ping"))
  eq(#core.memory_order, 1, "the newest is always kept")
  C.MEMORY_BYTES = saved
end)

test("duplicate id: stored reply, not executed again (also after a lost reply file)", function ()
  core = new_core()
  local c = cmd("create_track", { name = "Once", type = "midi", instrument = "ACE Reasonable Synth" })
  local r1 = run({ c })[1]
  ok_result(r1)
  write_cmd(c)
  core:poll()
  local r2 = read_reply(c.id)
  eq(json.encode(r2), json.encode(r1), "same reply")
  eq(fake.count("Session:new_midi_track"), 1, "executed once")
  eq(#fake.routes(), 1, "one track")
  eq(#fake.osc_sent, 2, "the stored reply is sent again over OSC")
end)

test("expired deadline: not executed", function ()
  core = new_core()
  local c = cmd("create_track", { name = "Late", type = "audio" })
  c.deadline_ms = os.time() * 1000 - 2000
  local e = err_of(run({ c })[1])
  eq(e:sub(1, 8), "expired:", "expired")
  eq(fake.count("Session:new_audio_track"), 0, "not executed")
end)

test("undo: transactions named after the request, never nested; the clip changes are ONE transaction", function ()
  core = new_core("headless")
  local REQ = "add keys part"
  ok_result(call("begin_undo", { name = REQ }))
  local t = midi_track()
  local c1 = ok_result(call("create_midi_clip", { track = t.host_id, start = 0, length = 4,
    notes = { { n = 60, s = 0, d = 1, v = 100 }, { n = 62, s = 1, d = 1, v = 100 } } }))
  ok_result(call("create_midi_clip", { track = t.host_id, start = 4, length = 4, notes = { { n = 67, s = 0, d = 1, v = 90 } } }))
  ok_result(call("edit_clip", { clip = c1.host_id, add = { { n = 64, s = 2, d = 1, v = 80 } } }))
  ok_result(call("add_effect", { track = t.host_id, name = "ACE Reverb" }))
  -- each note diff is Ardour's own transaction (apply_diff_command_as_commit), named after the request
  eq(#fake.history, 3, "three note-diff transactions before end_undo")
  for i = 1, 3 do
    eq(fake.history[i].name, REQ, "note step named after the request")
    eq(fake.history[i].commands[1].kind, "NoteDiffCommand", "a note diff")
  end
  truthy(not fake.transaction_open(), "no transaction left open between commands")
  eq(ok_result(call("end_undo")).name, REQ, "end_undo")
  eq(#fake.history, 4, "plus one transaction for the clips")
  local tx = fake.history[4]
  eq(tx.name, REQ, "named after the request")
  eq(#tx.commands, 1, "one command"); eq(tx.commands[1].kind, "StatefulDiffCommand", "one playlist diff (merged)")
  eq(#fake.warnings, 0, "no nested transaction, no Ardour warning")
  contains(err_of(call("end_undo")), "no undo step is open")
end)

test("GUI mode: native undo of the request's transaction removes its clips and notes", function ()
  core = new_core("gui")
  local t = midi_track()
  ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4, notes = { { n = 40, s = 0, d = 1, v = 100 } } }))
  ok_result(call("begin_undo", { name = "two clips" }))
  local a = ok_result(call("create_midi_clip", { track = 1, start = 4, length = 4, notes = { { n = 60, s = 0, d = 1, v = 100 } } }))
  local b = ok_result(call("create_midi_clip", { track = 1, start = 8, length = 4, notes = { { n = 62, s = 0, d = 1, v = 100 } } }))
  fake.install_editor()
  ok_result(call("end_undo"))
  fake.remove_editor()
  eq(fake.editor_calls[#fake.editor_calls], "redo 0", "Editor:redo (0) after the commit (makes Edit > Undo sensitive)")
  eq(fake.native_undo(), "two clips", "undo the request")
  eq(#fake.routes()[1]._playlist._regions, 1, "both clips of the request gone, the earlier one kept")
  contains(err_of(call("read_clip", { clip = a.host_id })), "no clip")
  contains(err_of(call("read_clip", { clip = b.host_id })), "no clip")
end)

test("a changing command outside begin/end gets its own transaction named after its request", function ()
  core = new_core()
  midi_track()
  ok_result(call("create_midi_clip", { track = 1, start = 0, length = 1, notes = { { n = 1, s = 0, d = 1, v = 1 } } },
                 { request = "add a kick" }))
  eq(#fake.history, 2, "the notes' step and the clip's step")
  eq(fake.history[1].name, "add a kick", "name"); eq(fake.history[2].name, "add a kick", "name")
  ok_result(call("delete_clip", { clip = tostring(fake.routes()[1]._playlist._regions[1]._id) }))
  eq(fake.history[3].name, "dawbridge: delete_clip", "default name")
end)

test("companion-level undo: inverse ops as a new transaction 'bridge undo: ...'", function ()
  core = new_core("headless")
  local t = midi_track()
  local base = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4,
    notes = { { n = 60, s = 0, d = 1, v = 100 }, { n = 67, s = 2, d = 1, v = 100 } } }))
  ok_result(call("begin_undo", { name = "add keys part" }))
  local c = ok_result(call("create_midi_clip", { track = 1, start = 4, length = 4, notes = { { n = 72, s = 0, d = 1, v = 100 } } }))
  ok_result(call("add_effect", { track = 1, name = "ACE Reverb" }))
  ok_result(call("end_undo"))
  ok_result(call("begin_undo", { name = "edit verse" }))
  ok_result(call("edit_clip", { clip = base.host_id, remove = { { n = 67, s = 2 } }, add = { { n = 64, s = 1, d = 1, v = 90 } } }))
  ok_result(call("end_undo"))
  local u1 = ok_result(call("undo"))
  eq(u1.undone, "edit verse", "undo edit")
  local p = {} for _, nt in ipairs(ok_result(call("read_clip", { clip = base.host_id })).notes) do p[#p + 1] = nt.n end
  eq(table.concat(p, ","), "60,67", "notes back")
  local u2 = ok_result(call("undo"))
  eq(u2.undone, "add keys part", "undo request")
  contains(err_of(call("read_clip", { clip = c.host_id })), "no clip with id")
  eq(#fake.routes()[1]._plugins, 1, "reverb removed, instrument kept")
  eq(ok_result(call("undo")).undone, "dawbridge: create_midi_clip", "the base clip (its own request)")
  local u4 = ok_result(call("undo"))     -- the track creation: reported as not undoable in 7.3
  eq(u4.undone, "dawbridge: create_track", "create_track request"); truthy(u4.not_undone, "not_undone listed")
  contains(err_of(call("undo")), "nothing to undo")
  local names = {}
  for i, tx in ipairs(fake.history) do names[i] = tx.name end
  eq(table.concat(names, "|"), "dawbridge: create_midi_clip|dawbridge: create_midi_clip|add keys part|add keys part|" ..
     "edit verse|bridge undo: edit verse|bridge undo: add keys part|bridge undo: dawbridge: create_midi_clip", "history")
  -- the track itself cannot be removed in 7.3: reported, not hidden
  eq(#fake.routes(), 1, "track kept")
end)

test("companion-level undo of create_track reports what cannot be undone; delete_clip undo re-adds", function ()
  core = new_core()
  ok_result(call("create_track", { name = "T", type = "midi" }))
  local u = ok_result(call("undo"))
  eq(u.not_undone[1]:find("Lua cannot remove tracks", 1, true) ~= nil, true, "not_undone names the track")
  local c = ok_result(call("create_midi_clip", { track = 1, start = 2, length = 2, notes = { { n = 50, s = 0, d = 1, v = 50 } } }))
  ok_result(call("delete_clip", { clip = c.host_id }))
  ok_result(call("undo"))
  local st = ok_result(call("state"))
  eq(#st.tracks[1].clips, 1, "clip back"); eq(st.tracks[1].clips[1].start, 2, "at its position")
  eq(st.tracks[1].clips[1].notes[1].n, 50, "with its notes")
end)

test("GUI: Ardour's own undo/redo of a request that only added an effect reverts exactly it (undo mark)", function ()
  core = new_core("gui")
  local t = midi_track()
  ok_result(call("begin_undo", { name = "add a clip" }))
  local a = ok_result(call("create_midi_clip", { track = t.host_id, start = 0, length = 4, notes = { { n = 60, s = 0, d = 1, v = 100 } } }))
  ok_result(call("end_undo"))
  ok_result(call("begin_undo", { name = "add reverb" }))
  ok_result(call("add_effect", { track = t.host_id, name = "ACE Reverb" }))
  ok_result(call("end_undo"))
  local top = fake.history[#fake.history]
  eq(top.name, "add reverb", "the effect-only request has its own Ardour step")
  eq(#top.commands, 1, "one command: the undo mark's diff"); truthy(top.commands[1].region, "a region diff")
  local function fx () local n = {} for _, p in ipairs(fake.routes()[1]._plugins) do n[#n + 1] = p._name end return table.concat(n, ",") end
  eq(fx(), "ACE Reasonable Synth,ACE Reverb", "reverb in")
  eq(fake.native_undo(), "add reverb", "Ctrl+Z undoes the effect request, not the clip")
  core:poll()
  eq(fx(), "ACE Reasonable Synth", "the hook removed the reverb")
  eq(#ok_result(call("read_clip", { clip = a.host_id })).notes, 1, "the clip of the request before is still there")
  eq(fake.native_redo(), "add reverb", "redo")
  core:poll()
  eq(fx(), "ACE Reasonable Synth,ACE Reverb", "redo put the reverb back")
  eq(fake.native_undo(), "add reverb", "undo again"); core:poll()
  eq(fx(), "ACE Reasonable Synth", "gone again")
  eq(fake.native_undo(), "add a clip", "the next Ctrl+Z: the clip request")
  contains(err_of(call("read_clip", { clip = a.host_id })), "no clip")
  -- a new request after undo: the redo list is dropped, nothing is re-applied later
  ok_result(call("begin_undo", { name = "remove synth" }))
  ok_result(call("remove_effect", { track = t.host_id, index = 1 }))
  ok_result(call("end_undo"))
  eq(fx(), "", "synth removed")
  eq(fake.native_undo(), "remove synth", "undo of a removal"); core:poll()
  eq(fx(), "ACE Reasonable Synth", "synth back")
end)

test("GUI hook: loads the core once via load(io.open(p):read('a'))(), polls, never raises", function ()
  local src = assert(io.open(DIR .. "/dawbridge_hook.lua")):read("a")
  truthy(src:find("@DAWBRIDGE_CORE@", 1, true), "placeholder present")
  local body = src:gsub("@DAWBRIDGE_CORE@", CORE)
  local real_getenv = os.getenv
  os.getenv = function (k) if k == "DAWBRIDGE_SPOOL" then return SPOOL end return real_getenv(k) end
  local hook = assert(load(body, "=hook"))()
  local c = cmd("create_track", { name = "FromHook", type = "midi", instrument = "ACE Reasonable Synth" })
  write_cmd(c)
  hook(47, nil)
  local r = read_reply(c.id)
  eq(r.result.instrument, "ACE Reasonable Synth", "ran through the hook")
  local c2 = cmd("ping"); write_cmd(c2); hook(47, nil)
  eq(read_reply(c2.id).result.undo, "native", "GUI mode, same core object")
  os.getenv = real_getenv
  local broken = assert(load((src:gsub("@DAWBRIDGE_CORE@", "/nonexistent/core.lua")), "=hook2"))()
  broken(47, nil); broken(47, nil)   -- must not raise
end)

test("GUI hook: skips Ardour's full collection after an idle tick only (its idle cost), keeps it after work", function ()
  -- Ardour's hook manager calls collectgarbage() (a full collection, ~1 ms) after every 100 ms callback; the hook
  -- wraps the global of its own Lua state. Here the hook gets a private environment with a counting collector.
  local src = assert(io.open(DIR .. "/dawbridge_hook.lua")):read("a")
  local full = 0
  local env = setmetatable({}, { __index = _G })
  env.collectgarbage = function (opt, ...)
    if opt == nil or opt == "collect" then full = full + 1; return 0 end
    return collectgarbage(opt, ...)
  end
  local real_getenv = os.getenv
  os.getenv = function (k) if k == "DAWBRIDGE_SPOOL" then return SPOOL end return real_getenv(k) end
  local hook = assert(load((src:gsub("@DAWBRIDGE_CORE@", CORE)), "=hook", "t", env))()
  local manager_gc = env.collectgarbage   -- what Ardour's manager calls after each callback
  truthy(manager_gc ~= nil, "collectgarbage still a function")
  hook(47, nil); manager_gc()             -- first tick: loads the core, answers nothing
  local before = full
  for _ = 1, 20 do hook(47, nil); manager_gc() end
  eq(full, before, "no full collection after 20 idle ticks")
  manager_gc(); eq(full, before + 1, "a second call (not right after an idle tick) collects")
  env.collectgarbage("collect"); eq(full, before + 2, "an explicit collect always collects")
  local c = cmd("ping"); write_cmd(c)
  hook(47, nil); manager_gc()
  eq(read_reply(c.id).ok, true, "answered through the hook")
  eq(full, before + 3, "a full collection after a tick that did work")
  local idle0 = full
  for _ = 1, 700 do hook(47, nil); manager_gc() end
  os.getenv = real_getenv
  eq(full, idle0 + 1, "at least one full collection every 600 idle ticks (60 s)")
  eq(collectgarbage, _G.collectgarbage, "the test's own global untouched")
end)

test("headless entry: loads the session, polls, exits on the stop file", function ()
  local real_getenv = os.getenv
  local stop = SPOOL .. "/ardour.stop"
  local env = { DAWBRIDGE_SPOOL = SPOOL }
  os.getenv = function (k) if env[k] ~= nil then return env[k] end return real_getenv(k) end
  local events = {}
  AudioEngine = setmetatable({}, { __index = function (_, k)
    if k == "set_backend" then return function (_, b) events[#events + 1] = "backend " .. b end end
    error("fake: AudioEngine." .. k) end })
  load_session = function (d, n) events[#events + 1] = "load " .. d .. " " .. n; return true end
  close_session = function () events[#events + 1] = "close" end
  quit = function () events[#events + 1] = "quit" end
  local c = cmd("ping")
  local sleeps, got = 0, {}
  fake.clock_us = 0
  sleep = function (s)
    sleeps = sleeps + 1
    got[#got + 1] = s
    fake.clock_us = fake.clock_us + math.floor(s * 1e6)
    if sleeps == 1 then write_cmd(c)
    elseif sleeps == 2 then fake.clock_us = fake.clock_us + 3000000   -- 3 s without work
    elseif sleeps == 3 then io.open(stop, "w"):close() end
  end
  arg = { [0] = DIR .. "/dawbridge.lua", "/sessions/song", "song" }
  dofile(DIR .. "/dawbridge.lua")
  os.getenv = real_getenv
  fake.clock_us = nil
  eq(read_reply(c.id).ok, true, "command answered by the loop")
  eq(got[1], 0.01, "idle poll every 10 ms"); eq(got[2], 0.01, "after work: at once, then every 10 ms")
  eq(got[3], 0.02, "after 2 s without work: every 20 ms")
  eq(events[1], "backend None (Dummy)", "dummy backend"); eq(events[2], "load /sessions/song song", "session")
  eq(events[#events], "quit", "quit at the end")
  truthy(not io.open(stop), "stop file consumed")
  AudioEngine, load_session, close_session, quit, sleep = nil, nil, nil, nil, nil
end)

test("JSON codec edge cases", function ()
  local v = json.decode('{"s":"\\u00e9\\ud83c\\udfb9\\t","a":[[[]],{"b":[1,-2.5e3,0.125,1E2]}],"z":null}')
  eq(v.s, "é🎹\t", "unicode"); eq(v.a[2].b[2], -2500.0, "exponent"); eq(math.type(v.a[2].b[1]), "integer", "int")
  eq(v.z, json.null, "null")
  eq(json.encode(v.a), '[[[]],{"b":[1,-2500.0,0.125,100.0]}]', "nesting")
  for _, bad in ipairs({ "", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"\\x\"", "\"\\ud800\"", "[1] 2", "{\"a\" 1}",
                         "\"\\u12\"", string.rep("[", 100) .. string.rep("]", 100), "\"\255\"", "{\"a\":1,\"a\":2}" }) do
    truthy(not pcall(json.decode, bad), "rejects " .. bad)
  end
  eq(json.encode({ x = 0.1, n = -3, t = true }), '{"n":-3,"t":true,"x":0.1}', "numbers")
  truthy(not pcall(json.encode, math.huge), "inf rejected")
end)

test("the core finds ../common/dawbridge_common.lua from the path its loader gives, and says so when it cannot", function ()
  local src = assert(io.open(CORE)):read("a")
  local C2 = assert(load(src, "=dawbridge_core.lua"))(CORE)
  eq(C2.json.encode(C2.json.array({ 1 })), "[1]", "common codec through the core")
  eq(C2.pack_notes({ { n = 60, s = 0.5, d = 1, v = 100 } }), "60 960 1920 100 0", "common notes through the core")
  local ok, err = pcall(assert(load(src, "=dawbridge_core.lua")), "/nonexistent/dir/dawbridge_core.lua")
  truthy(not ok, "no common file: the core does not load")
  contains(tostring(err), "cannot find dawbridge_common.lua", "error")
  contains(tostring(err), "/nonexistent/dir/../common/dawbridge_common.lua", "tried path named")
end)

test("Ardour scripts are Lua 5.3 code: no 5.4-only syntax", function ()
  for _, f in ipairs({ "dawbridge_core.lua", "dawbridge.lua", "dawbridge_hook.lua", "../common/dawbridge_common.lua" }) do
    local src = assert(io.open(DIR .. "/" .. f)):read("a")
    local code = src:gsub("%-%-[^\n]*", ""):gsub('"[^"\n]*"', '""')
    truthy(not code:find("<close>", 1, true) and not code:find("<const>", 1, true), f .. ": no <close>/<const>")
    truthy(not code:find("//", 1, true), f .. ": no // integer division")
    truthy(not code:find("%f[%w]goto%f[%W]"), f .. ": no goto")
    truthy(not code:find("loadstring", 1, true) and not code:find("dofile", 1, true), f .. ": no code loading but the core")
  end
end)

T.finish(SPOOL)
