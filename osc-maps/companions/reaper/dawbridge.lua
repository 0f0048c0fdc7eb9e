-- dawbridge.lua: dawbridge companion for REAPER (ReaScript, Lua 5.4).
--
-- Contract: osc-maps/companions/PROTOCOL.md (version 1). Install: osc-maps/companions/README.md.
--
-- Each run of this script is short-lived: it drains <spool>/in/ (commands in lexical order), writes one reply
-- per command to <spool>/out/ (tmp file + rename), deletes the command file, and exits. The bridge triggers a run
-- with the OSC message /action/str "<named command id>". A run that finds no command (the user running it once
-- from the Actions list) publishes <spool>/companion.json with the script's named command id and shows a message.
--
-- Only documented ReaScript functions are called (every function of the reaper table used below is in REAPER's API
-- documentation; tests/companions/test_reaper_companion.lua checks every name against the function list). No SWS/BR_
-- functions. The script never evaluates received text as code: it accepts only the protocol's JSON ops.
--
-- Undo (why it is done this way):
--   REAPER's Undo_BeginBlock2/Undo_EndBlock2 bracket changes made during ONE script run; a block cannot stay open
--   after the run ends (the API documents no way to keep it open, and a non-deferred script that leaves a block
--   open has undefined behaviour). The bridge sends the commands of one AI request as separate triggers, so they
--   usually arrive in separate runs. Therefore:
--   * begin_undo stores the request's name in a (non-persistent) ExtState; end_undo clears it.
--   * every run wraps its changing commands in Undo_BeginBlock2/Undo_EndBlock2 named after the open request
--     (or, outside begin/end, after the command's "request" field, else "dawbridge: <op>").
--   * So one AI request gives ONE undo point when all its commands arrive in one run, and otherwise SEVERAL
--     consecutive undo points with the same name (one per run). The companion counts them (ExtState), and its
--     `undo` op undoes exactly that many points with Undo_DoUndo2, checking each time with Undo_CanUndo2 that
--     the next undo point still carries the request's name (it stops if the user did something in between).
--     A user pressing Ctrl+Z by hand (or the bridge sending native /action 40029) steps back one run at a time.
local M = {}


-- The host-independent part (JSON, files, spool, arguments, notes, the command envelope) is dawbridge_common.lua:
-- next to this script (copy both into REAPER's Scripts folder), else in ../common/ (the source tree, an install).
local function load_common ()
  local dirs = {}
  local _, script = reaper.get_action_context()
  if type(script) == "string" then dirs[#dirs + 1] = script:match("^(.*)[/\\][^/\\]*$") end
  local src = debug and debug.getinfo and debug.getinfo(1, "S").source
  if type(src) == "string" and src:sub(1, 1) == "@" then dirs[#dirs + 1] = src:sub(2):match("^(.*)[/\\][^/\\]*$") end
  local tried = {}
  for _, dir in ipairs(dirs) do
    for _, p in ipairs({ dir .. "/dawbridge_common.lua", dir .. "/../common/dawbridge_common.lua" }) do
      local f = io.open(p, "r")
      if f then
        local text = f:read("a")
        f:close()
        return assert(load(text, "=dawbridge_common.lua"))()
      end
      tried[#tried + 1] = p
    end
  end
  error("dawbridge: cannot find dawbridge_common.lua (tried " .. table.concat(tried, ", ") .. ")", 0)
end
local D = load_common()
local json = D.json
local join, read_file, write_atomic = D.join, D.read_file, D.write_atomic
local fail, get_string, get_number, get_string_list = D.fail, D.get_string, D.get_number, D.get_string_list
local check_notes, pack_notes, round6, sort_notes = D.check_notes, D.pack_notes, D.round6, D.sort_notes
local one_line, valid_id = D.one_line, D.valid_id

M.json = json
M.VERSION = D.VERSION
M.EXT = "dawbridge"          -- ExtState section
M.MEMORY_MAX = D.MEMORY_MAX  -- remembered ids (with their replies)
M.TICK_BEATS = 1 / 960       -- edit_clip matching tolerance (PROTOCOL.md)
M.TICKS = D.TICKS            -- packed notes (PROTOCOL.md, bulk notes): ticks per beat
M.MAX_NOTES = D.MAX_NOTES    -- notes in one command (bounded work per run)
M.MEMORY_BYTES = 1024 * 1024  -- remembered replies: at most this many bytes (kept in ExtState, rewritten per command)
M.spool_dir, M.fail, M.check_notes, M.pack_notes, M.unpack_notes, M.valid_id = D.spool_dir, fail, check_notes,
  D.pack_notes, D.unpack_notes, valid_id

local function now_ms () return os.time() * 1000 end
M.now_ms = now_ms

local function command_notes (args, key, packed_key, clip_len)
  return D.command_notes(args, key, packed_key, clip_len, M.MAX_NOTES)
end

-- ---------------------------------------------------------------------------
-- REAPER object helpers (documented ReaScript calls only)
-- ---------------------------------------------------------------------------
local function track_guid (tr) return reaper.GetTrackGUID(tr) end

local function track_name (tr)
  local _, name = reaper.GetSetMediaTrackInfo_String(tr, "P_NAME", "", false)
  return name or ""
end

local function item_guid (item)
  local _, g = reaper.GetSetMediaItemInfo_String(item, "GUID", "", false)
  return g
end

-- track by GUID string or 1-based index (number)
local function find_track (ref, key)
  key = key or "track"
  if ref == nil or ref == json.null then fail("missing argument '%s' (track id string or 1-based index)", key) end
  local count = reaper.CountTracks(0)
  if type(ref) == "number" then
    local idx = math.tointeger(ref)
    if not idx or idx < 1 then fail("argument '%s' must be a track id string or an index >= 1", key) end
    if idx > count then fail("no track at index %d (the project has %d tracks)", idx, count) end
    return reaper.GetTrack(0, idx - 1), idx
  elseif type(ref) == "string" and ref ~= "" then
    for i = 0, count - 1 do
      local tr = reaper.GetTrack(0, i)
      if track_guid(tr) == ref then return tr, i + 1 end
    end
    fail("no track with id %s", ref)
  end
  fail("argument '%s' must be a track id string or a 1-based index", key)
end

local function find_item (ref)
  if type(ref) ~= "string" or ref == "" then fail("missing argument 'clip' (the clip id string)") end
  local n = reaper.CountMediaItems(0)
  for i = 0, n - 1 do
    local item = reaper.GetMediaItem(0, i)
    if item_guid(item) == ref then return item end
  end
  fail("no clip with id %s", ref)
end

local function item_span (item)
  local pos = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
  local len = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
  local qs = reaper.TimeMap_timeToQN(pos)
  local qe = reaper.TimeMap_timeToQN(pos + len)
  return qs, qe - qs
end

-- The MIDI clip with id `ref`: its item, active take and span (start, length in beats); fails when there is no such
-- clip or it is not a MIDI clip.
local function midi_clip (ref)
  local item = find_item(ref)
  local take = reaper.GetActiveTake(item)
  if not take or not reaper.TakeIsMIDI(take) then fail("clip %s is not a MIDI clip", ref) end
  local start, length = item_span(item)
  return item, take, start, length
end

local function take_notes (take, start_qn)
  local notes = {}
  local _, cnt = reaper.MIDI_CountEvts(take)
  for i = 0, (cnt or 0) - 1 do
    local ok, _, _, sppq, eppq, chan, pitch, vel = reaper.MIDI_GetNote(take, i)
    if ok then
      local qs = reaper.MIDI_GetProjQNFromPPQPos(take, sppq)
      local qe = reaper.MIDI_GetProjQNFromPPQPos(take, eppq)
      notes[#notes + 1] = { n = pitch, s = round6(qs - start_qn), d = round6(qe - qs), v = vel, c = chan, _idx = i }
    end
  end
  return sort_notes(notes)
end

local function public_notes (notes)
  local out = json.array({})
  for _, nt in ipairs(notes) do out[#out + 1] = { n = nt.n, s = nt.s, d = nt.d, v = nt.v, c = nt.c } end
  return out
end

local function insert_notes (take, start_qn, notes)
  for _, nt in ipairs(notes) do
    local sp = reaper.MIDI_GetPPQPosFromProjQN(take, start_qn + nt.s)
    local ep = reaper.MIDI_GetPPQPosFromProjQN(take, start_qn + nt.s + nt.d)
    if not reaper.MIDI_InsertNote(take, false, false, sp, ep, nt.c, nt.n, nt.v, true) then
      fail("REAPER refused to insert note n=%d s=%s", nt.n, tostring(nt.s))
    end
  end
  reaper.MIDI_Sort(take)
end

local function fx_name (tr, idx)
  local _, name = reaper.TrackFX_GetFXName(tr, idx)
  return name or ""
end

-- the track's whole FX chain as the DAW numbers it (instrument included, PROTOCOL.md "chain numbering"):
-- list of {chain = 0-based REAPER index, index = 1-based position, the number OSC's /track/@/fx/@ uses}
local function effect_slots (tr)
  local inst = reaper.TrackFX_GetInstrument(tr)
  local slots = {}
  for i = 0, reaper.TrackFX_GetCount(tr) - 1 do slots[#slots + 1] = { chain = i, index = i + 1 } end
  return slots, inst
end

local function track_type (tr)
  local _, t = reaper.GetSetMediaTrackInfo_String(tr, "P_EXT:dawbridge_type", "", false)
  if t == "midi" or t == "audio" then return t end
  if reaper.TrackFX_GetInstrument(tr) >= 0 then return "midi" end
  for i = 0, reaper.CountTrackMediaItems(tr) - 1 do
    local take = reaper.GetActiveTake(reaper.GetTrackMediaItem(tr, i))
    if take and reaper.TakeIsMIDI(take) then return "midi" end
  end
  return "audio"
end

local function add_fx_by_names (tr, names)
  for _, name in ipairs(names) do
    local idx = reaper.TrackFX_AddByName(tr, name, false, -1)   -- negative: always insert a new instance
    if idx and idx >= 0 then return idx, fx_name(tr, idx) end
  end
  return nil
end

-- ---------------------------------------------------------------------------
-- ops
-- ---------------------------------------------------------------------------
local ops = {}
M.ops = ops
-- ops that change the project (wrapped in an undo block)
local CHANGES = { create_track = true, create_midi_clip = true, edit_clip = true, add_effect = true,
                  remove_effect = true, delete_track = true, delete_clip = true }
M.CHANGES = CHANGES

function M.command_id ()
  local _, _, _, cmd_id = reaper.get_action_context()
  if not cmd_id or cmd_id <= 0 then return nil end
  local name = reaper.ReverseNamedCommandLookup(cmd_id)
  if not name or name == "" then return nil end
  if name:sub(1, 1) ~= "_" then name = "_" .. name end
  return name
end

function ops.ping ()
  return { companion = "dawbridge", version = M.VERSION, host = "reaper",
           command_id = M.command_id() or json.null, undo = "native",
           bulk = { packed = true, max_notes = M.MAX_NOTES } }
end

function ops.state ()
  local tracks = json.array({})
  for i = 0, reaper.CountTracks(0) - 1 do
    local tr = reaper.GetTrack(0, i)
    local slots, inst = effect_slots(tr)
    local fx = json.array({})
    for _, sl in ipairs(slots) do
      fx[#fx + 1] = { index = sl.index, name = fx_name(tr, sl.chain),
                      enabled = reaper.TrackFX_GetEnabled(tr, sl.chain) and true or false }
    end
    local clips = json.array({})
    for k = 0, reaper.CountTrackMediaItems(tr) - 1 do
      local item = reaper.GetTrackMediaItem(tr, k)
      local start, length = item_span(item)
      local take = reaper.GetActiveTake(item)
      local name = ""
      local notes = json.array({})
      if take then
        local _, tn = reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", "", false)
        name = tn or ""
        if reaper.TakeIsMIDI(take) then notes = public_notes(take_notes(take, start)) end
      end
      clips[#clips + 1] = { host_id = item_guid(item), name = name, start = round6(start),
                            length = round6(length), notes = notes }
    end
    tracks[#tracks + 1] = { host_id = track_guid(tr), index = i + 1, name = track_name(tr), type = track_type(tr),
                            instrument = inst >= 0 and fx_name(tr, inst) or json.null, fx = fx, clips = clips }
  end
  return { tempo = reaper.Master_GetTempo() + 0.0, tracks = tracks }
end

-- create_track's sound settings (PROTOCOL.md): params {name prefix: 0..1} set on the instrument by parameter
-- name (case-insensitive prefix, sorted keys); returns the parameter names set and the keys the plugin lacks
local function apply_params (tr, fxi, params)
  local applied, missing = json.array({}), json.array({})
  local keys = {}
  for k in pairs(params) do keys[#keys + 1] = k end
  table.sort(keys)
  local n = reaper.TrackFX_GetNumParams(tr, fxi)
  for _, key in ipairs(keys) do
    local val, hit, hitname = params[key], nil, nil
    for p = 0, n - 1 do
      local _, pn = reaper.TrackFX_GetParamName(tr, fxi, p, "")
      if pn and pn:lower():sub(1, #key) == key:lower() then hit, hitname = p, pn; break end
    end
    if hit and type(val) == "number" and val >= 0 and val <= 1 then
      reaper.TrackFX_SetParamNormalized(tr, fxi, hit, val)
      applied[#applied + 1] = hitname
    else
      missing[#missing + 1] = key
    end
  end
  return applied, missing
end

function ops.create_track (args)
  local name, ttype, inst, aliases, params, preset = D.create_track_args(args)
  local channel = args.channel
  if channel ~= nil and channel ~= json.null and
     (math.type(channel) ~= "integer" or channel < 1 or channel > 16) then
    fail("argument 'channel' must be a MIDI channel 1..16")
  end
  local idx = reaper.CountTracks(0)
  M.changing()
  reaper.InsertTrackAtIndex(idx, true)
  local tr = reaper.GetTrack(0, idx)
  if not tr then fail("REAPER did not create the track") end
  reaper.GetSetMediaTrackInfo_String(tr, "P_NAME", name, true)
  reaper.GetSetMediaTrackInfo_String(tr, "P_EXT:dawbridge_type", ttype, true)
  local inserted = json.null
  local res = {}
  if inst then
    local names = { inst }
    for _, a in ipairs(aliases) do names[#names + 1] = a end
    local fxi, fxn = add_fx_by_names(tr, names)
    if not fxi then
      -- like the host refusing: no half-made track is left behind
      reaper.DeleteTrack(tr)
      fail("no instrument plugin named %s on this host", table.concat(names, ", "))
    end
    inserted = fxn
    if type(params) == "table" then res.params_applied, res.params_missing = apply_params(tr, fxi, params) end
    if preset then res.preset_applied = reaper.TrackFX_SetPreset(tr, fxi, preset) and true or false end
    if channel ~= nil and channel ~= json.null then
      -- the GM channel the role plays on (drums: 10), kept with the track for its clips
      reaper.GetSetMediaTrackInfo_String(tr, "P_EXT:dawbridge_channel", tostring(channel), true)
      res.channel = channel
    end
  end
  res.host_id, res.index, res.name, res.type, res.instrument = track_guid(tr), idx + 1, track_name(tr), ttype, inserted
  return res
end

function ops.create_midi_clip (args)
  local tr = find_track(args.track)
  local start = get_number(args, "start")
  local length = get_number(args, "length")
  if start < 0 then fail("argument 'start' must be >= 0 (beats)") end
  if length <= 0 then fail("argument 'length' must be > 0 (beats)") end
  local name = get_string(args, "name", true)
  if args.notes == nil and args.notes_packed == nil then fail("missing argument 'notes' (a list, may be empty)") end
  local notes = command_notes(args, "notes", "notes_packed", length)
  M.changing()
  local t0 = reaper.TimeMap_QNToTime(start)
  local t1 = reaper.TimeMap_QNToTime(start + length)
  local item = reaper.CreateNewMIDIItemInProj(tr, t0, t1, false)
  if not item then fail("REAPER did not create the MIDI item") end
  local take = reaper.GetActiveTake(item)
  if not take then fail("the new MIDI item has no take") end
  if name then reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", name, true) end
  insert_notes(take, start, notes)
  local res = { host_id = item_guid(item), track = track_guid(tr), start = start, length = length,
                notes_added = #notes }
  -- "packed": the new clip's notes as read back after the change (the bridge's read-back in the same command)
  -- (and the item's span and take name as REAPER has them, as read_clip gives them)
  if args.packed == true then
    local s, l = item_span(item)
    local _, tn = reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", "", false)
    res.start, res.length, res.name = round6(s), round6(l), tn or ""
    res.notes_packed = pack_notes(take_notes(take, s))
  end
  return res
end

function ops.read_clip (args)
  local ref = args.clip
  local item, take, start, length = midi_clip(ref)
  local _, tn = reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", "", false)
  -- the take's name too, as the state dump has it (a mirror without it would differ from the next dump)
  local res = { host_id = ref, track = track_guid(reaper.GetMediaItem_Track(item)), name = tn or "",
                start = round6(start), length = round6(length) }
  if args.packed == true then res.notes_packed = pack_notes(take_notes(take, start))
  else res.notes = public_notes(take_notes(take, start)) end
  return res
end

function ops.edit_clip (args)
  local ref = args.clip
  local item, take, start, length = midi_clip(ref)
  -- find every note to remove first; if one is missing, change nothing (a bulk add reads nothing)
  local rm = args.remove
  local existing = (rm ~= nil and rm ~= json.null and (type(rm) ~= "table" or next(rm) ~= nil))
                   and take_notes(take, start) or {}
  local add, positions = D.edit_clip_notes(args, existing, length, ref, M.TICK_BEATS, M.MAX_NOTES)
  local victims = {}
  for i, k in ipairs(positions) do victims[i] = existing[k]._idx end
  M.changing()
  table.sort(victims, function (a, b) return a > b end)   -- delete from the end so indices stay valid
  for _, idx in ipairs(victims) do reaper.MIDI_DeleteNote(take, idx) end
  insert_notes(take, start, add)
  local res = { added = #add, removed = #victims }
  -- "brief": the bridge does not need the clip's notes back (a chunk of a bulk add)
  if args.brief == true then return res end
  if args.packed == true then res.notes_packed = pack_notes(take_notes(take, start))
  else res.notes = public_notes(take_notes(take, start)) end
  return res
end

function ops.add_effect (args)
  local tr = find_track(args.track)
  local name = get_string(args, "name")
  local names = { name }
  for _, a in ipairs(get_string_list(args, "aliases")) do names[#names + 1] = a end
  M.changing()
  local chain = add_fx_by_names(tr, names)
  if not chain then
    fail("no such effect: tried %s", "'" .. table.concat(names, "', '") .. "'")
  end
  return { index = chain + 1, name = fx_name(tr, chain) }   -- 1-based position in the chain
end

function ops.remove_effect (args)
  local tr = find_track(args.track)
  local index, sl = D.chain_entry(args, effect_slots(tr))
  local name = fx_name(tr, sl.chain)
  M.changing()
  if not reaper.TrackFX_Delete(tr, sl.chain) then fail("REAPER could not remove effect %d (%s)", index, name) end
  return { removed = name }
end

function ops.delete_track (args)
  local tr = find_track(args.track)
  local guid = track_guid(tr)
  M.changing()
  reaper.DeleteTrack(tr)
  return { deleted = guid }
end

function ops.delete_clip (args)
  local ref = args.clip
  local item = find_item(ref)
  local tr = reaper.GetMediaItem_Track(item)
  M.changing()
  if not reaper.DeleteTrackMediaItem(tr, item) then fail("REAPER could not delete clip %s", ref) end
  return { deleted = ref }
end

-- undo bookkeeping in ExtState (survives between runs while REAPER runs, not across restarts)
local function ext_get (key)
  local v = reaper.GetExtState(M.EXT, key)
  if v == nil or v == "" then return nil end
  return v
end
local function ext_set (key, val)
  if val == nil then reaper.DeleteExtState(M.EXT, key, false)
  else reaper.SetExtState(M.EXT, key, tostring(val), false) end
end


-- the run-level undo block state (set by M.run): the open block's name, and the name the current command's
-- block will get; an op calls M.changing () right before its first change, after its arguments were checked,
-- so a command rejected for bad arguments leaves no empty undo point
local run = { block = nil, pending = nil }

local function end_block ()
  if run.block then
    reaper.Undo_EndBlock2(0, run.block, -1)
    if ext_get("undo_name") == run.block then
      ext_set("undo_blocks", (tonumber(ext_get("undo_blocks")) or 0) + 1)
    else
      -- a block outside begin/end: it is a request of its own
      ext_set("last_name", run.block)
      ext_set("last_blocks", 1)
    end
    run.block = nil
  end
end

local function ensure_block (name)
  if run.block ~= name then
    end_block()
    reaper.Undo_BeginBlock2(0)
    run.block = name
  end
end

function M.changing ()
  if run.pending then ensure_block(run.pending) end
end

function ops.begin_undo (args)
  local name = one_line(get_string(args, "name"))
  end_block()
  if ext_get("undo_name") then
    -- an unclosed request: it ends here
    ext_set("last_name", ext_get("undo_name")); ext_set("last_blocks", ext_get("undo_blocks") or 0)
  end
  ext_set("undo_name", name)
  ext_set("undo_blocks", 0)
  return {}
end

function ops.end_undo ()
  local name = ext_get("undo_name")
  if not name then fail("no undo step is open (begin_undo was not received)") end
  end_block()
  ext_set("last_name", name)
  ext_set("last_blocks", ext_get("undo_blocks") or 0)
  ext_set("undo_name", nil)
  ext_set("undo_blocks", nil)
  return { name = name }
end

function ops.undo ()
  end_block()
  local name = ext_get("last_name")
  local blocks = tonumber(ext_get("last_blocks")) or 0
  if not name or blocks <= 0 then fail("nothing to undo") end
  local done = 0
  for _ = 1, blocks do
    if reaper.Undo_CanUndo2(0) ~= name then break end
    if reaper.Undo_DoUndo2(0) == 0 then break end
    done = done + 1
  end
  ext_set("last_name", nil); ext_set("last_blocks", nil)
  if done == 0 then fail("nothing to undo: REAPER's next undo point is not '%s'", name) end
  return { undone = name, steps = done }
end

-- ---------------------------------------------------------------------------
-- command processing
-- ---------------------------------------------------------------------------

-- memory of executed ids (ExtState "memory": JSON list of [id, reply], newest last)
local function memory_load ()
  local s = ext_get("memory")
  if not s then return {} end
  local ok, v = pcall(json.decode, s)
  if ok and type(v) == "table" then return v end
  return {}
end
local function memory_find (mem, id)
  for _, e in ipairs(mem) do if e[1] == id then return e[2] end end
end
-- the last M.MEMORY_MAX replies and at most M.MEMORY_BYTES of them (bulk replies are large, and the whole memory
-- is written to ExtState after every command), the newest always kept
local function memory_add (mem, id, reply)
  mem[#mem + 1] = json.array({ id, reply })
  local bytes = 0
  for _, e in ipairs(mem) do bytes = bytes + #e[2] end
  while #mem > M.MEMORY_MAX or (#mem > 1 and bytes > M.MEMORY_BYTES) do
    bytes = bytes - #mem[1][2]
    table.remove(mem, 1)
  end
  ext_set("memory", json.encode(json.array(mem)))
end

-- execute one command (already decoded); returns the reply table
function M.execute (cmd)
  local fn, args = D.lookup_op(ops, cmd)
  if not fn then return args end
  if CHANGES[cmd.op] then
    run.pending = ext_get("undo_name") or D.request_name(cmd, cmd.op)
  else
    run.pending = nil
  end
  local ok, res = pcall(fn, args)
  run.pending = nil
  return D.op_reply(cmd, ok, res)
end

-- handle one command file's text for id (the file name); returns the reply JSON text
function M.handle_text (id, text, mem)
  local cmd, bad = D.decode_command(id, text)
  if bad then return bad, false end
  local stored = memory_find(mem, id)
  if stored then return stored, true end
  local rtext = D.run_command(id, cmd, M.now_ms(), M.execute)
  memory_add(mem, id, rtext)
  return rtext, false
end

local function list_commands (indir)
  local names = {}
  reaper.EnumerateFiles(indir, -1)          -- documented: -1 forces a re-read of the directory
  local i = 0
  while true do
    local f = reaper.EnumerateFiles(indir, i)
    if not f then break end
    local id = f:match("^(.*)%.json$")
    if id then names[#names + 1] = id end
    i = i + 1
  end
  table.sort(names)
  return names
end

-- write <spool>/companion.json; returns ok, err, command id, changed (false if the file already said the same)
function M.publish (spool)
  local cid = M.command_id()
  local info = { host = "reaper", version = M.VERSION, command_id = cid or json.null }
  local text = json.encode(info)
  local path = join(spool, "companion.json")
  if read_file(path) == text then return true, nil, cid, false end
  reaper.RecursiveCreateDirectory(spool, 0)
  local ok, err = write_atomic(path, text)
  return ok, err, cid, true
end

-- one run: returns the number of commands handled
function M.run ()
  local spool = M.spool_dir()
  local indir, outdir = join(spool, "in"), join(spool, "out")
  local names = list_commands(indir)
  if #names == 0 then
    -- the installation run (by hand, from the Actions list). A run triggered by the bridge can also find in/
    -- empty (an earlier run already drained the command), so the message is shown only when companion.json
    -- is new or changed, never on every empty run.
    local ok, err, cid, changed = M.publish(spool)
    if ok and not changed then return 0 end
    local msg
    if ok then
      msg = "dawbridge companion is installed.\n\nSpool: " .. spool .. "\nCommand id: " ..
            (cid or "(unknown: run this script from the Actions list)") ..
            "\n\nThe bridge triggers this script through REAPER's OSC surface; nothing else to do."
    else
      msg = "dawbridge companion could not write " .. join(spool, "companion.json") .. ":\n" .. tostring(err)
    end
    reaper.ShowMessageBox(msg, "dawbridge", 0)
    return 0
  end
  reaper.RecursiveCreateDirectory(outdir, 0)
  local mem = memory_load()
  run.block = nil
  local handled = 0
  for _, id in ipairs(names) do
    local path = join(indir, id .. ".json")
    if not valid_id(id) then
      os.rename(path, path .. ".rejected")      -- cannot reply: the id is not a valid file name
    else
      local text = read_file(path)
      if text then
        local rtext = M.handle_text(id, text, mem)
        local ok = write_atomic(join(outdir, id .. ".json"), rtext)
        if ok then os.remove(path) end
        handled = handled + 1
      end
    end
  end
  end_block()
  reaper.UpdateArrange()
  return handled
end

function M.main ()
  local ok, err = pcall(M.run)
  if not ok then reaper.ShowConsoleMsg("dawbridge companion: " .. tostring(err) .. "\n") end
end

if rawget(_G, "DAWBRIDGE_TEST") then return M end
M.main()
