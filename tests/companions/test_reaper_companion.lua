-- test_reaper_companion.lua: unit tests of osc-maps/companions/reaper/dawbridge.lua against fake_reaper.lua.
-- Run: lua5.4 tests/companions/test_reaper_companion.lua  (from any directory)
-- Last line: "N passed, N failed"; exit code 1 on failure.
local here = (arg and arg[0] or ""):match("^(.*)[/\\][^/\\]*$") or "."
local ROOT = here .. "/../.."
local SCRIPT = ROOT .. "/osc-maps/companions/reaper/dawbridge.lua"
local API_LIST = os.getenv("REAPER_API_LIST") or (ROOT .. "/docs/reaper-api-functions.txt")
package.path = here .. "/?.lua;" .. package.path

local fake = dofile(here .. "/fake_reaper.lua")
reaper = fake.api

local T = dofile(here .. "/testlib.lua")
local test, eq, truthy, contains = T.test, T.eq, T.truthy, T.contains

-- a private spool directory, handed to the script through os.getenv("DAWBRIDGE_SPOOL")
local SPOOL = T.new_spool()
local real_getenv = os.getenv
os.getenv = function (k) if k == "DAWBRIDGE_SPOOL" then return SPOOL end return real_getenv(k) end

-- load the script as one REAPER run would (fresh Lua chunk each run; ExtState persists in the fake)
local function load_script ()
  DAWBRIDGE_TEST = true
  local M = dofile(SCRIPT)
  DAWBRIDGE_TEST = nil
  return M
end
local M0 = load_script()
local json = M0.json

-- one triggered run per T.client run
local K = T.client({ spool = SPOOL, json = json, run_once = function () load_script().run() end })
local new_id, far, write_cmd, read_reply = K.new_id, K.far, K.write_cmd, K.read_reply
local run, cmd, call, ok_result, err_of = K.run, K.cmd, K.call, K.ok_result, K.err_of
local function fresh () fake.reset() end

local function midi_track (name)
  return ok_result(call("create_track", { name = name or "Keys", type = "midi", instrument = "ReaSynth" }))
end

-- ---------------------------------------------------------------------------
test("first run without commands publishes companion.json with the named command id", function ()
  fresh()
  os.remove(SPOOL .. "/companion.json")
  load_script().run()
  local f = assert(io.open(SPOOL .. "/companion.json"))
  local info = json.decode(f:read("a")); f:close()
  eq(info.host, "reaper", "host"); eq(info.version, 1, "version")
  eq(info.command_id, "_" .. fake.named_command, "command_id")
  eq(#fake.messages, 1, "message shown")
  contains(fake.messages[1], "_" .. fake.named_command, "message")
  -- an empty run later (e.g. a trigger whose command an earlier run already handled): no dialog
  load_script().run()
  eq(#fake.messages, 1, "no second message for an unchanged companion.json")
end)

test("running the script file top-level (main) works and does not raise", function ()
  fresh()
  local c = cmd("ping")
  write_cmd(c)
  dofile(SCRIPT)
  eq(#fake.console, 0, "console errors")
  truthy(read_reply(c.id).ok, "ping answered")
end)

test("ping", function ()
  fresh()
  local r = ok_result(call("ping"))
  eq(r.companion, "dawbridge", "companion"); eq(r.host, "reaper", "host"); eq(r.version, 1, "version")
  eq(r.command_id, "_" .. fake.named_command, "command_id"); eq(r.undo, "native", "undo")
  -- the bulk capability the bridge looks for (PROTOCOL.md "Bulk notes")
  eq(r.bulk.packed, true, "bulk.packed"); eq(r.bulk.max_notes, 50000, "bulk.max_notes")
end)

test("create_track midi with instrument; reply names the inserted plugin", function ()
  fresh()
  local r = midi_track("Keys")
  eq(r.name, "Keys", "name"); eq(r.type, "midi", "type"); eq(r.index, 1, "index")
  eq(r.instrument, "VSTi: ReaSynth (Cockos)", "instrument")
  eq(r.host_id, fake.project().tracks[1].guid, "host_id is the GUID")
  local a = ok_result(call("create_track", { name = "Vox", type = "audio" }))
  eq(a.index, 2, "index"); eq(a.instrument, json.null, "no instrument")
end)

test("create_track tries instrument aliases in order; no such instrument is refused and leaves no track", function ()
  fresh()
  local r = ok_result(call("create_track", { name = "K", type = "midi", instrument = "General MIDI Synth",
                                             instrument_aliases = { "Nope", "ReaSynth" } }))
  eq(r.instrument, "VSTi: ReaSynth (Cockos)", "alias inserted")
  local e = err_of(call("create_track", { name = "K2", type = "midi", instrument = "Nothing",
                                          instrument_aliases = { "Nada" } }))
  contains(e, "no instrument plugin named Nothing, Nada")
  eq(#fake.project().tracks, 1, "the refused track was removed")
end)

test("create_track with a role's sound: drum plugin, GM channel kept, params set by name prefix", function ()
  fresh()
  -- what the bridge sends for the role "kick" (osc-maps/instruments/reaper.json)
  local k = ok_result(call("create_track", { name = "Kick Drum", type = "midi", instrument = "ReaSynDr",
                                             instrument_aliases = { "reasyndr", "ReaSynth" }, role = "kick",
                                             channel = 10 }))
  eq(k.instrument, "VSTi: ReaSynDr (Cockos)", "the drum synth is loaded")
  eq(k.channel, 10, "channel")
  local tr = fake.project().tracks[1]
  eq(tr.ext["dawbridge_channel"] or tr.ext["P_EXT:dawbridge_channel"], "10", "channel kept with the track")
  -- a pad: ReaSynth shaped by its parameters; a key the plugin lacks is reported, not invented
  local p = ok_result(call("create_track", { name = "Pad", type = "midi", instrument = "ReaSynth", role = "pad",
                                             params = { Attack = 0.6, Saw = 0.5, Wobble = 0.3 },
                                             preset = "Soft pad" }))
  eq(p.instrument, "VSTi: ReaSynth (Cockos)", "instrument")
  eq(json.encode(p.params_applied), '["Attack","Sawtooth mix"]', "params applied (real names)")
  eq(json.encode(p.params_missing), '["Wobble"]', "params missing")
  eq(p.preset_applied, true, "preset")
  local fx = fake.project().tracks[2].fx[1]
  eq(fx.params[3].value, 0.6, "Attack"); eq(fx.params[8].value, 0.5, "Sawtooth mix")
  contains(err_of(call("create_track", { name = "X", type = "midi", instrument = "ReaSynth", channel = 17 })),
           "'channel'")
  contains(err_of(call("create_track", { name = "X", type = "midi", instrument = "ReaSynth", params = 3 })),
           "'params'")
end)

test("create_track bad args name the problem", function ()
  fresh()
  contains(err_of(call("create_track", { type = "midi" })), "'name'")
  contains(err_of(call("create_track", { name = "X", type = "video" })), "'type'")
  contains(err_of(call("create_track", { name = "X", type = "midi", instrument_aliases = "ReaSynth" })),
           "instrument_aliases")
  eq(#fake.project().tracks, 0, "no track created")
end)

test("create_midi_clip writes exact notes (ppq) and read_clip reads them back", function ()
  fresh()
  local t = midi_track()
  local notes = { { n = 60, s = 0, d = 1, v = 100 }, { n = 64, s = 1.5, d = 0.5, v = 90, c = 1 },
                  { n = 67, s = 2.25, d = 0.25, v = 80 } }
  local r = ok_result(call("create_midi_clip", { track = t.host_id, start = 4, length = 4, name = "verse",
                                                  notes = notes }))
  eq(r.notes_added, 3, "notes_added"); eq(r.track, t.host_id, "track"); eq(r.start, 4, "start")
  local item = fake.project().tracks[1].items[1]
  eq(item.pos, 2.0, "item position (s at 120 bpm)"); eq(item.len, 2.0, "item length (s)")
  eq(item.take.name, "verse", "take name")
  eq(item.take.notes[2].s, 1440.0, "note 2 start ppq"); eq(item.take.notes[2].e, 1920.0, "note 2 end ppq")
  eq(item.take.notes[2].c, 1, "note 2 channel")
  eq(fake.count("MIDI_Sort"), 1, "MIDI_Sort once")
  local rc = ok_result(call("read_clip", { clip = r.host_id }))
  eq(rc.start, 4, "start"); eq(rc.length, 4, "length")
  T.eq_notes(rc.notes, notes, "read_clip notes")
end)

test("bulk notes: notes_packed in (one MIDI_Sort), packed read-back equals the JSON notes; bounded per command", function ()
  fresh()
  local t = midi_track()
  local packed = {}
  for i = 0, 1999 do
    packed[#packed + 1] = string.format("%d %d %d %d %d", 30 + i % 90, (i % 400) * 480 + (i // 400) * 7, 240, 1 + i % 127, i % 16)
  end
  T.check_bulk_notes(K, { track = t.host_id, packed = packed, length = 200, start2 = 300, pack_notes = M0.pack_notes,
                          brief_add = "101 0 1920 90 0;102 1920 480 7 3",
                          note_reads = function () return fake.count("MIDI_GetNote") end,
                          created = function () eq(fake.count("MIDI_Sort"), 1, "MIDI_Sort once for 2,000 notes") end })
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 1,
    notes_packed = string.rep("60 0 10 100 0;", 50001) })), "at most 50000")
end)

test("the reply memory in ExtState is bounded in bytes as well (bulk replies), the newest kept", function ()
  fresh()
  local t = midi_track()
  local packed = {}
  for i = 0, 1999 do packed[#packed + 1] = string.format("%d %d 240 100 0", 30 + i % 90, i * 240) end
  local r = ok_result(call("create_midi_clip", { track = t.host_id, start = 0, length = 300, notes_packed = table.concat(packed, ";") }))
  for _ = 1, 14 do ok_result(call("read_clip", { clip = r.host_id })) end   -- ~90 KB each: 1.2 MB in all
  local mem = json.decode(reaper.GetExtState(M0.EXT, "memory"))
  local bytes = 0
  for _, e in ipairs(mem) do bytes = bytes + #e[2] end
  truthy(bytes <= M0.MEMORY_BYTES, "memory within " .. M0.MEMORY_BYTES .. " bytes: " .. bytes)
  truthy(#mem >= 8 and #mem < 14, "old replies dropped, recent kept: " .. #mem)
end)

test("a triggered run starts no process (no io.popen / os.execute while handling commands)", function ()
  fresh()
  local real_popen, real_execute = io.popen, os.execute
  -- (the fake's EnumerateFiles lists with ls: only calls made by the companion script itself count)
  local function from_script () return (debug.getinfo(3, "S").source or ""):find("reaper/dawbridge.lua", 1, true) end
  io.popen = function (...)
    if from_script() then error("the companion started a process (io.popen)") end
    return real_popen(...)
  end
  os.execute = function (...)
    if from_script() then error("the companion started a process (os.execute)") end
    return real_execute(...)
  end
  local ok, err = pcall(function ()
    local t = midi_track()
    ok_result(call("create_midi_clip", { track = t.host_id, start = 0, length = 4, notes = { { n = 60, s = 0, d = 1, v = 100 } } }))
    ok_result(call("state"))
    -- the default spool (no DAWBRIDGE_SPOOL, no config file, no XDG_RUNTIME_DIR, no UID): the uid without `id -u`
    local saved = os.getenv
    os.getenv = function (k)
      if k == "DAWBRIDGE_SPOOL" or k == "XDG_RUNTIME_DIR" or k == "UID" then return nil end
      if k == "HOME" then return "/nonexistent-home" end
      return real_getenv(k)
    end
    local sp = M0.spool_dir()
    os.getenv = saved
    local p = real_popen("id -u"); local uid = p:read("l"); p:close()
    eq(sp, "/tmp/dawbridge-" .. uid .. "/spool", "default spool")
  end)
  io.popen, os.execute = real_popen, real_execute
  if not ok then error(err, 0) end
end)

test("create_midi_clip by 1-based index; notes are added, never replacing an existing clip", function ()
  fresh()
  midi_track()
  local a = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4,
                                                  notes = { { n = 36, s = 0, d = 1, v = 100 } } }))
  local b = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4,
                                                  notes = { { n = 38, s = 1, d = 1, v = 100 } } }))
  truthy(a.host_id ~= b.host_id, "two clips")
  eq(#fake.project().tracks[1].items, 2, "items on the track")
  eq(#ok_result(call("read_clip", { clip = a.host_id })).notes, 1, "first clip kept its note")
end)

test("create_midi_clip bad args and missing track", function ()
  fresh()
  midi_track()
  contains(err_of(call("create_midi_clip", { track = "{nope}", start = 0, length = 4, notes = {} })),
           "no track with id {nope}")
  contains(err_of(call("create_midi_clip", { track = 7, start = 0, length = 4, notes = {} })), "index 7")
  contains(err_of(call("create_midi_clip", { start = 0, length = 4, notes = {} })), "'track'")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 0, notes = {} })), "'length'")
  contains(err_of(call("create_midi_clip", { track = 1, start = -1, length = 2, notes = {} })), "'start'")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4 })), "'notes'")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4,
    notes = { { n = 60, s = 0, d = 1, v = 100 }, { n = 60, s = 0, d = 1, v = 0 } } })), "notes[2].v")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4,
    notes = { { n = 128, s = 0, d = 1, v = 100 } } })), "notes[1].n")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4,
    notes = { { n = 60, s = 4, d = 1, v = 100 } } })), "outside the clip")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4,
    notes = { { n = 60, s = 0, d = 0, v = 100 } } })), "notes[1].d")
  contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4,
    notes = { { n = 60, s = 0, d = 1, v = 100, c = 16 } } })), "notes[1].c")
  eq(#fake.project().tracks[1].items, 0, "no item created by a bad command")
end)

test("edit_clip adds and removes given notes (match on n and s within 1/960 beat)", function ()
  fresh()
  midi_track()
  local c = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4, notes = {
    { n = 60, s = 0, d = 1, v = 100 }, { n = 62, s = 1, d = 1, v = 100 }, { n = 64, s = 2, d = 1, v = 100 } } }))
  local r = ok_result(call("edit_clip", { clip = c.host_id, remove = { { n = 62, s = 1.0005 } },
                                          add = { { n = 65, s = 3, d = 0.5, v = 70 } } }))
  eq(r.added, 1, "added"); eq(r.removed, 1, "removed"); eq(#r.notes, 3, "notes after edit")
  local pitches = {}
  for _, nt in ipairs(r.notes) do pitches[#pitches + 1] = nt.n end
  eq(table.concat(pitches, ","), "60,64,65", "pitches")
end)

test("edit_clip: a note to remove that is not there is an error naming it; nothing changes", function ()
  fresh()
  midi_track()
  local c = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 4, notes = {
    { n = 60, s = 0, d = 1, v = 100 } } }))
  local before = fake.count("MIDI_DeleteNote")
  local e = err_of(call("edit_clip", { clip = c.host_id, remove = { { n = 60, s = 0 }, { n = 61, s = 0.01 } },
                                       add = { { n = 70, s = 1, d = 1, v = 100 } } }))
  contains(e, "n=61"); contains(e, "remove[2]")
  eq(fake.count("MIDI_DeleteNote"), before, "no note deleted")
  eq(#ok_result(call("read_clip", { clip = c.host_id })).notes, 1, "clip unchanged")
  contains(err_of(call("edit_clip", { clip = c.host_id })), "nothing to do")
  contains(err_of(call("edit_clip", { clip = "{none}", add = {} })), "no clip with id {none}")
end)

test("read_clip / edit_clip on an audio clip is an error", function ()
  fresh()
  ok_result(call("create_track", { name = "Vox", type = "audio" }))
  local item = fake.add_audio_item(fake.project().tracks[1], 0, 1)
  contains(err_of(call("read_clip", { clip = item.guid })), "not a MIDI clip")
end)

test("add_effect inserts by name/aliases, index = chain position (instrument counted); remove_effect", function ()
  fresh()
  local t = midi_track()
  local r = ok_result(call("add_effect", { track = t.host_id, name = "ReaVerbate" }))
  eq(r.index, 2, "index (instrument is slot 1)"); eq(r.name, "VST: ReaVerbate (Cockos)", "name inserted")
  local r2 = ok_result(call("add_effect", { track = 1, name = "Compressor", aliases = { "ACE Compressor", "ReaComp" } }))
  eq(r2.index, 3, "index"); eq(r2.name, "VST: ReaComp (Cockos)", "alias inserted")
  contains(err_of(call("add_effect", { track = 1, name = "Shimmer", aliases = { "Cloud" } })),
           "no such effect: tried 'Shimmer', 'Cloud'")
  contains(err_of(call("add_effect", { track = 1 })), "'name'")
  local st = ok_result(call("state"))
  eq(#st.tracks[1].fx, 3, "whole chain listed"); eq(st.tracks[1].fx[1].name, "VSTi: ReaSynth (Cockos)", "fx 1 = instrument")
  eq(st.tracks[1].fx[2].name, "VST: ReaVerbate (Cockos)", "fx 2"); eq(st.tracks[1].fx[2].index, 2, "fx 2 index")
  eq(st.tracks[1].fx[2].enabled, true, "enabled")
  local rm = ok_result(call("remove_effect", { track = 1, index = 2 }))
  eq(rm.removed, "VST: ReaVerbate (Cockos)", "removed")
  eq(fake.project().tracks[1].fx[1].name, "VSTi: ReaSynth (Cockos)", "instrument kept")
  contains(err_of(call("remove_effect", { track = 1, index = 5 })), "no effect at index 5")
  contains(err_of(call("remove_effect", { track = 1, index = 0 })), "'index'")
end)

test("state reports tempo, tracks, instrument, fx, clips with notes", function ()
  fresh()
  local t = midi_track("Keys")
  ok_result(call("create_track", { name = "Vox", type = "audio" }))
  ok_result(call("create_midi_clip", { track = t.host_id, start = 8, length = 2, name = "hook",
                                       notes = { { n = 72, s = 0.5, d = 0.5, v = 64 } } }))
  local st, raw = call("state")
  st = ok_result(st)
  eq(st.tempo, 120.0, "tempo"); eq(#st.tracks, 2, "tracks")
  local k = st.tracks[1]
  eq(k.name, "Keys", "name"); eq(k.type, "midi", "type"); eq(k.instrument, "VSTi: ReaSynth (Cockos)", "instrument")
  eq(k.index, 1, "index"); eq(#k.fx, 1, "fx (the instrument is in the chain)"); eq(k.fx[1].index, 1, "chain index")
  eq(#k.clips, 1, "clips"); eq(k.clips[1].name, "hook", "clip name"); eq(k.clips[1].start, 8, "clip start")
  eq(k.clips[1].length, 2, "clip length"); eq(k.clips[1].notes[1].s, 0.5, "note s")
  eq(st.tracks[2].type, "audio", "audio type"); eq(st.tracks[2].instrument, json.null, "no instrument")
end)

test("delete_clip and delete_track; missing ids are errors", function ()
  fresh()
  local t = midi_track()
  local c = ok_result(call("create_midi_clip", { track = 1, start = 0, length = 1, notes = {} }))
  eq(ok_result(call("delete_clip", { clip = c.host_id })).deleted, c.host_id, "deleted clip")
  eq(#fake.project().tracks[1].items, 0, "item gone")
  contains(err_of(call("delete_clip", { clip = c.host_id })), "no clip with id")
  eq(ok_result(call("delete_track", { track = t.host_id })).deleted, t.host_id, "deleted track")
  eq(#fake.project().tracks, 0, "track gone")
  contains(err_of(call("delete_track", { track = t.host_id })), "no track with id")
end)

test("unknown op and malformed args are error replies, never a crash", function ()
  fresh()
  contains(err_of(call("frobnicate")), "unknown op: frobnicate")
  contains(err_of(run({ { id = new_id(), op = "state", args = { 1, 2 }, deadline_ms = far() } })[1]), "'args'")
  local id = new_id()
  local r = run({ { id = id, raw = '{"id":"' .. id .. '","op":"ping",' } })[1]
  contains(err_of(r), "bad command: json:")
  local id2 = new_id()
  contains(err_of(run({ { id = id2, raw = '{"id":"other","op":"ping","deadline_ms":' .. far() .. '}' } })[1]),
           "does not match the file name")
  contains(err_of(run({ { id = new_id(), raw = "[1,2]" } })[1]), "not a JSON object")
  local id3 = new_id()
  contains(err_of(run({ { id = id3, raw = '{"id":"' .. id3 .. '","op":"ping"}' } })[1]), "deadline_ms")
  eq(#fake.console, 0, "no internal error")
end)

test("command files: processed in lexical order, deleted after the reply; reply written atomically", function ()
  fresh()
  local c1, c2 = cmd("create_track", { name = "B", type = "audio" }), cmd("create_track", { name = "A", type = "audio" })
  c1.id, c2.id = "20261125T101500-x-0002", "20261125T101500-x-0001"
  run({ c1, c2 })
  eq(fake.project().tracks[1].name, "A", "older id first")
  local p = io.popen("ls -A '" .. SPOOL .. "/in' '" .. SPOOL .. "/out'")
  local listing = p:read("a"); p:close()
  truthy(not listing:find("%.json"), "no command or reply files left: " .. listing)
  truthy(not listing:find("%.tmp"), "no tmp files left")
end)

test("duplicate id: the stored reply is returned and the command is not executed again", function ()
  fresh()
  local c = cmd("create_track", { name = "Once", type = "midi", instrument = "ReaSynth" })
  local r1, raw1 = run({ c })[1], nil
  ok_result(r1)
  local before = fake.count("InsertTrackAtIndex")
  write_cmd(c)
  load_script().run()
  local r2, raw2 = read_reply(c.id)
  eq(json.encode(r2), json.encode(r1), "same reply")
  eq(fake.count("InsertTrackAtIndex"), before, "not executed again")
  eq(#fake.project().tracks, 1, "one track")
end)

test("expired deadline: not executed, reply says expired", function ()
  fresh()
  local c = cmd("create_track", { name = "Late", type = "audio" })
  c.deadline_ms = os.time() * 1000 - 5000
  local e = err_of(run({ c })[1])
  truthy(e:sub(1, 8) == "expired:", "starts with expired: " .. e)
  eq(#fake.project().tracks, 0, "nothing created")
  eq(fake.count("InsertTrackAtIndex"), 0, "no insert")
end)

test("undo grouping: one named block per run, begin/end across runs; undo reverts the request", function ()
  fresh()
  local pre = ok_result(call("create_track", { name = "Existing", type = "audio" }))
  eq(fake.undo_names()[1], "dawbridge: create_track", "block named after the op outside begin/end")
  ok_result(run({ cmd("begin_undo", { name = "add keys part" }) })[1])
  eq(#fake.undo_names(), 1, "begin_undo makes no undo point")
  -- two changing commands in one run -> one block
  local rs = run({ cmd("create_track", { name = "Keys", type = "midi", instrument = "ReaSynth" }),
                   cmd("add_effect", { track = 2, name = "ReaVerbate" }) })
  ok_result(rs[1]); ok_result(rs[2])
  truthy(not fake.block_open(), "block closed at the end of the run")
  -- one more in another run -> a second block with the same name
  ok_result(call("create_midi_clip", { track = 2, start = 0, length = 4, notes = { { n = 60, s = 0, d = 1, v = 90 } } }))
  ok_result(call("state"))   -- read-only: no block
  local e = ok_result(call("end_undo"))
  eq(e.name, "add keys part", "end_undo name")
  local names = fake.undo_names()
  eq(#names, 3, "undo points"); eq(names[2], "add keys part", "named after the request")
  eq(names[3], "add keys part", "second run, same name")
  eq(fake.count("Undo_BeginBlock2"), fake.count("Undo_EndBlock2"), "balanced blocks")
  local u = ok_result(call("undo"))
  eq(u.undone, "add keys part", "undone"); eq(u.steps, 2, "both blocks undone")
  eq(#fake.project().tracks, 1, "back to the state before the request")
  eq(fake.project().tracks[1].guid, pre.host_id, "earlier work kept")
  contains(err_of(call("undo")), "nothing to undo")
  contains(err_of(call("end_undo")), "no undo step is open")
end)

test("undo: a command rejected for bad arguments leaves no undo point", function ()
  fresh()
  contains(err_of(call("create_track", { name = "X" })), "'type'")
  contains(err_of(call("create_midi_clip", { track = 3, start = 0, length = 1, notes = {} })), "index 3")
  eq(#fake.undo_names(), 0, "no undo point"); eq(fake.count("Undo_BeginBlock2"), 0, "no block opened")
end)

test("undo: a command outside begin/end is named after its request field", function ()
  fresh()
  ok_result(call("create_track", { name = "X", type = "audio" }, { request = "add a bass" }))
  eq(fake.undo_names()[1], "add a bass", "block name")
  eq(ok_result(call("undo")).undone, "add a bass", "undo")
  eq(#fake.project().tracks, 0, "undone")
end)

test("JSON codec edge cases", function ()
  local v = json.decode('{"s":"\\u00e9\\ud83c\\udfb9\\n\\"\\\\\\/","a":[[[]],{"b":[1,-2.5e3,0.125,1E2]}],"t":true,"f":false,"z":null}')
  eq(v.s, "é🎹\n\"\\/", "unicode and escapes")
  eq(v.a[2].b[2], -2500.0, "exponent"); eq(math.type(v.a[2].b[1]), "integer", "integer")
  eq(v.a[2].b[4], 100.0, "E exponent"); eq(v.z, json.null, "null"); eq(v.f, false, "false")
  eq(json.encode(v.a), "[[[]],{\"b\":[1,-2500.0,0.125,100.0]}]", "re-encode nesting")
  for _, bad in ipairs({ "", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1", "1e", "\"\\x\"", "\"a\nb\"",
                         "\"\\ud800\"", "\"\\udc00x\"", "[1] 2", "nul", "{\"a\" 1}", "{1:2}", "\"\\u12\"",
                         "{\"a\":1,\"a\":2}", string.rep("[", 100) .. string.rep("]", 100), "\"\255\"" }) do
    local ok = pcall(json.decode, bad)
    truthy(not ok, "rejects " .. bad)
  end
  eq(json.encode("\1\31\127é"), '"\\u0001\\u001f\\u007fé"', "control characters escaped")
  eq(json.encode({ x = 0.1, y = 1 / 3, n = 3, big = 1e300 }), '{"big":1e+300,"n":3,"x":0.1,"y":0.3333333333333333}',
     "numbers")
  eq(json.encode(json.array({})), "[]", "empty array"); eq(json.encode({}), "{}", "empty object")
  truthy(not pcall(json.encode, 0 / 0), "NaN rejected")
  truthy(not pcall(json.encode, { [1] = 1, [3] = 3 }), "sparse array rejected (non-string keys)")
  eq(json.encode("\255ok"), '"\239\191\189ok"', "invalid UTF-8 replaced")
end)

test("installed as two files in REAPER's Scripts folder: the script loads dawbridge_common.lua next to itself", function ()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "'")
  local function copy (from, to)
    local text = assert(io.open(from, "rb")):read("a")
    local f = assert(io.open(to, "wb")); f:write(text); f:close()
  end
  copy(SCRIPT, dir .. "/dawbridge.lua")
  local ok, err = pcall(function ()
    -- load() with no file name: only REAPER's script path (get_action_context) can lead to the common file
    local src = assert(io.open(dir .. "/dawbridge.lua")):read("a")
    fake.script_path = dir .. "/dawbridge.lua"
    DAWBRIDGE_TEST = true
    local lok, lerr = pcall(assert(load(src, "=dawbridge.lua")))
    truthy(not lok, "without dawbridge_common.lua the script does not load")
    contains(tostring(lerr), "cannot find dawbridge_common.lua", "error")
    contains(tostring(lerr), dir .. "/dawbridge_common.lua", "the path tried")
    copy(ROOT .. "/osc-maps/companions/common/dawbridge_common.lua", dir .. "/dawbridge_common.lua")
    local M = assert(load(src, "=dawbridge.lua"))()
    eq(M.json.encode(M.json.array({ 1, "a" })), '[1,"a"]', "codec from the common file")
    eq(M.pack_notes({ { n = 36, s = 1, d = 0.25, v = 90, c = 9 } }), "36 1920 480 90 9", "packed notes")
  end)
  DAWBRIDGE_TEST = nil
  fake.script_path = nil
  os.execute("rm -rf '" .. dir .. "'")
  if not ok then error(err, 0) end
end)

test("every reaper.* function used by the script is in REAPER's API list; the fake defines only listed ones", function ()
  local f = io.open(API_LIST)
  if not f then error("API list not found: " .. API_LIST .. " (set REAPER_API_LIST)") end
  local allowed = {}
  for line in f:lines() do allowed[line:match("^%s*(.-)%s*$")] = true end
  f:close()
  local src = assert(io.open(SCRIPT)):read("a")
  src = src:gsub("%-%-%[%[.-%]%]", ""):gsub("%-%-[^\n]*", "")   -- drop comments
  local used, bad = {}, {}
  for name in src:gmatch("reaper%.([%a_][%w_]*)") do
    if not used[name] then
      used[name] = true
      if not allowed[name] then bad[#bad + 1] = name end
      if name:match("^BR_") or name:match("^SNM_") or name:match("^CF_") or name:match("^NF_") then
        bad[#bad + 1] = name .. " (extension function)"
      end
    end
  end
  truthy(next(used) ~= nil, "found reaper.* calls")
  eq(table.concat(bad, ", "), "", "functions not in the API list")
  local fbad = {}
  for _, name in ipairs(fake.defined) do if not allowed[name] then fbad[#fbad + 1] = name end end
  eq(table.concat(fbad, ", "), "", "fake defines functions not in the API list")
  -- and the fake errors loudly on anything else
  local ok, err = pcall(function () return reaper.BR_GetMediaItemByGUID(0, "x") end)
  truthy(not ok and tostring(err):find("not defined by the fake"), "fake rejects unknown functions")
end)

T.finish(SPOOL)
