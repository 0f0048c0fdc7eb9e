-- fake_reaper.lua: a fake of the REAPER ReaScript API, just enough to run
-- osc-maps/companions/reaper/dawbridge.lua in plain lua5.4.
--
-- * Only functions listed in ../shared/docs/reaper-api-functions.txt are defined (a test checks this).
-- * Every call is recorded in fake.calls ({name = ..., args = {...}}).
-- * Calling a reaper.* function the fake does not define raises a loud error.
-- Model: constant tempo (fake.tempo, default 120 bpm), QN 0 = time 0, 960 PPQ, item takes start at the item
-- start. Plugins known to the fake are in fake.plugins (name accepted by TrackFX_AddByName -> name shown).
local fake = { calls = {}, tempo = 120.0, ppq = 960 }

local project                 -- { tracks = {track...} }
local ext = {}                -- ExtState: ext[section][key]
local undo_stack, redo_stack  -- undo points {name, snapshot}
local open_block              -- snapshot at Undo_BeginBlock2
local guid_n = 0

fake.plugins = {
  ["ReaSynth"] = { shown = "VSTi: ReaSynth (Cockos)", instrument = true },
  ["VSTi: ReaSynth (Cockos)"] = { shown = "VSTi: ReaSynth (Cockos)", instrument = true },
  ["ReaSynDr"] = { shown = "VSTi: ReaSynDr (Cockos)", instrument = true },
  ["ReaVerbate"] = { shown = "VST: ReaVerbate (Cockos)" },
  ["ReaComp"] = { shown = "VST: ReaComp (Cockos)" },
  ["ReaEQ"] = { shown = "VST: ReaEQ (Cockos)" },
  ["ReaDelay"] = { shown = "VST: ReaDelay (Cockos)" },
}

-- parameter names by shown plugin name (REAPER's own ReaSynth names; ReaSynDr's voice levels)
fake.params = {
  ["VSTi: ReaSynth (Cockos)"] = { "Volume", "Tuning", "Attack", "Decay", "Sustain", "Release", "Square mix",
                                  "Sawtooth mix", "Triangle mix", "Extra sine mix", "Extra sine tuning" },
  ["VSTi: ReaSynDr (Cockos)"] = { "Volume", "Kick level", "Snare level", "Hi-hat level", "Tom level" },
}
fake.presets = { ["VSTi: ReaSynth (Cockos)"] = { "Soft pad" } }

local function new_guid ()
  guid_n = guid_n + 1
  return string.format("{%08X-0000-4000-8000-%012X}", guid_n, guid_n)
end

local function deepcopy (v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local c = {}
  seen[v] = c
  for k, x in pairs(v) do c[deepcopy(k, seen)] = deepcopy(x, seen) end
  return setmetatable(c, getmetatable(v))
end

function fake.reset ()
  project = { tracks = {} }
  ext = {}
  undo_stack, redo_stack = {}, {}
  open_block = nil
  fake.calls = {}
  fake.action_cmd_id = 55001
  fake.named_command = "RS3f2a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708"
  fake.messages = {}
  fake.console = {}
end

function fake.project () return project end
function fake.undo_names ()
  local t = {}
  for i, u in ipairs(undo_stack) do t[i] = u.name end
  return t
end
function fake.count (name)
  local n = 0
  for _, c in ipairs(fake.calls) do if c.name == name then n = n + 1 end end
  return n
end

local function qn_to_time (qn) return qn * 60.0 / fake.tempo end
local function time_to_qn (t) return t * fake.tempo / 60.0 end

local function check_track (tr, fn)
  for _, t in ipairs(project.tracks) do if t == tr then return tr end end
  error("fake reaper: " .. fn .. ": invalid MediaTrack", 3)
end
local function all_items ()
  local list = {}
  for _, t in ipairs(project.tracks) do
    for _, it in ipairs(t.items) do list[#list + 1] = it end
  end
  return list
end
local function item_track (item)
  for _, t in ipairs(project.tracks) do
    for _, it in ipairs(t.items) do if it == item then return t end end
  end
end
local function take_item (take)
  for _, it in ipairs(all_items()) do if it.take == take then return it end end
  error("fake reaper: invalid MediaItem_Take", 3)
end

local R = {}

-- ---- actions, ext state, ui ----
function R.get_action_context ()
  return false, fake.script_path or "/fake/Scripts/dawbridge.lua", 0, fake.action_cmd_id, -1, -1, -1, ""
end
function R.ReverseNamedCommandLookup (id)
  if id == fake.action_cmd_id then return fake.named_command end
  return nil
end
function R.ShowMessageBox (msg, title, kind) fake.messages[#fake.messages + 1] = msg; return 1 end
function R.ShowConsoleMsg (msg) fake.console[#fake.console + 1] = msg end
function R.GetExtState (section, key) return (ext[section] and ext[section][key]) or "" end
function R.SetExtState (section, key, value, persist)
  assert(type(value) == "string", "SetExtState: value must be a string")
  assert(not value:find("\n"), "SetExtState: value must not contain a newline")
  ext[section] = ext[section] or {}
  ext[section][key] = value
end
function R.DeleteExtState (section, key, persist) if ext[section] then ext[section][key] = nil end end
function R.UpdateArrange () end

-- ---- files ----
local dir_cache = {}
function R.EnumerateFiles (path, idx)
  if idx == -1 or not dir_cache[path] then
    local list = {}
    local p = io.popen("ls -1A '" .. path:gsub("'", "'\\''") .. "' 2>/dev/null")
    for line in p:lines() do
      local f = io.open(path .. "/" .. line .. "/.")   -- skip directories
      if f then f:close() else list[#list + 1] = line end
    end
    p:close()
    dir_cache[path] = list
    if idx == -1 then return nil end
  end
  return dir_cache[path][idx + 1]
end
function R.RecursiveCreateDirectory (path, ignored)
  os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
  return 1
end

-- ---- tempo / time ----
function R.Master_GetTempo () return fake.tempo end
function R.TimeMap_QNToTime (qn) return qn_to_time(qn) end
function R.TimeMap_timeToQN (t) return time_to_qn(t) end

-- ---- tracks ----
function R.CountTracks (proj) return #project.tracks end
function R.GetTrack (proj, idx) return project.tracks[idx + 1] end
function R.InsertTrackAtIndex (idx, defaults)
  if idx < 0 then idx = 0 end
  if idx > #project.tracks then idx = #project.tracks end
  table.insert(project.tracks, idx + 1, { guid = new_guid(), name = "", ext = {}, fx = {}, items = {} })
end
function R.DeleteTrack (tr)
  check_track(tr, "DeleteTrack")
  for i, t in ipairs(project.tracks) do if t == tr then table.remove(project.tracks, i) return end end
end
function R.GetTrackGUID (tr) return check_track(tr, "GetTrackGUID").guid end
function R.GetSetMediaTrackInfo_String (tr, parm, val, set)
  check_track(tr, "GetSetMediaTrackInfo_String")
  if parm == "P_NAME" then
    if set then tr.name = val end
    return true, tr.name
  elseif parm:match("^P_EXT:") then
    if set then tr.ext[parm] = val end
    return tr.ext[parm] ~= nil, tr.ext[parm] or ""
  elseif parm == "GUID" then
    return true, tr.guid
  end
  error("fake reaper: GetSetMediaTrackInfo_String: parameter " .. parm .. " not faked")
end

-- ---- FX ----
function R.TrackFX_AddByName (tr, name, recfx, instantiate)
  check_track(tr, "TrackFX_AddByName")
  assert(recfx == false, "fake: recFX must be false")
  local p = fake.plugins[name]
  if not p then return -1 end
  if instantiate == 0 then
    for i, fx in ipairs(tr.fx) do if fx.name == p.shown then return i - 1 end end
    return -1
  end
  local params = {}
  for i, pn in ipairs(fake.params[p.shown] or { "Wet", "Dry" }) do params[i] = { name = pn, value = 0.5 } end
  tr.fx[#tr.fx + 1] = { name = p.shown, enabled = true, instrument = p.instrument or false, params = params }
  return #tr.fx - 1
end
-- parameters (normalized values); presets: fake.presets[shown name] = {preset names}
function R.TrackFX_GetNumParams (tr, idx)
  local fx = check_track(tr, "TrackFX_GetNumParams").fx[idx + 1]
  return fx and #fx.params or 0
end
function R.TrackFX_GetParamName (tr, idx, p, buf)
  local fx = check_track(tr, "TrackFX_GetParamName").fx[idx + 1]
  local pp = fx and fx.params[p + 1]
  if not pp then return false, "" end
  return true, pp.name
end
function R.TrackFX_GetParamNormalized (tr, idx, p)
  local fx = check_track(tr, "TrackFX_GetParamNormalized").fx[idx + 1]
  local pp = fx and fx.params[p + 1]
  return pp and pp.value or -1
end
function R.TrackFX_SetParamNormalized (tr, idx, p, v)
  local fx = check_track(tr, "TrackFX_SetParamNormalized").fx[idx + 1]
  local pp = fx and fx.params[p + 1]
  if not pp then return false end
  pp.value = v
  return true
end
function R.TrackFX_SetPreset (tr, idx, name)
  local fx = check_track(tr, "TrackFX_SetPreset").fx[idx + 1]
  for _, pr in ipairs(fx and fake.presets[fx.name] or {}) do
    if pr == name then fx.preset = name; return true end
  end
  return false
end
function R.TrackFX_GetCount (tr) return #check_track(tr, "TrackFX_GetCount").fx end
function R.TrackFX_GetFXName (tr, idx)
  local fx = check_track(tr, "TrackFX_GetFXName").fx[idx + 1]
  if not fx then return false, "" end
  return true, fx.name
end
function R.TrackFX_GetEnabled (tr, idx) local fx = tr.fx[idx + 1]; return fx and fx.enabled or false end
function R.TrackFX_GetInstrument (tr)
  for i, fx in ipairs(check_track(tr, "TrackFX_GetInstrument").fx) do if fx.instrument then return i - 1 end end
  return -1
end
function R.TrackFX_Delete (tr, idx)
  check_track(tr, "TrackFX_Delete")
  if not tr.fx[idx + 1] then return false end
  table.remove(tr.fx, idx + 1)
  return true
end

-- ---- items / takes / MIDI ----
function R.CreateNewMIDIItemInProj (tr, t0, t1, qn)
  check_track(tr, "CreateNewMIDIItemInProj")
  if qn then t0, t1 = qn_to_time(t0), qn_to_time(t1) end
  local item = { guid = new_guid(), pos = t0, len = t1 - t0,
                 take = { name = "", midi = true, notes = {}, sorted = true } }
  tr.items[#tr.items + 1] = item
  return item
end
function fake.add_audio_item (tr, t0, len)   -- test helper: an audio item
  local item = { guid = new_guid(), pos = t0, len = len, take = { name = "audio", midi = false, notes = {} } }
  tr.items[#tr.items + 1] = item
  return item
end
function R.CountMediaItems (proj) return #all_items() end
function R.GetMediaItem (proj, idx) return all_items()[idx + 1] end
function R.CountTrackMediaItems (tr) return #check_track(tr, "CountTrackMediaItems").items end
function R.GetTrackMediaItem (tr, idx) return check_track(tr, "GetTrackMediaItem").items[idx + 1] end
function R.GetMediaItem_Track (item) return item_track(item) end
function R.GetActiveTake (item) return item.take end
function R.TakeIsMIDI (take) return take.midi end
function R.GetMediaItemInfo_Value (item, parm)
  if parm == "D_POSITION" then return item.pos end
  if parm == "D_LENGTH" then return item.len end
  error("fake reaper: GetMediaItemInfo_Value: parameter " .. parm .. " not faked")
end
function R.GetSetMediaItemInfo_String (item, parm, val, set)
  if parm == "GUID" then return true, item.guid end
  error("fake reaper: GetSetMediaItemInfo_String: parameter " .. parm .. " not faked")
end
function R.GetSetMediaItemTakeInfo_String (take, parm, val, set)
  if parm == "P_NAME" then
    if set then take.name = val end
    return true, take.name
  end
  error("fake reaper: GetSetMediaItemTakeInfo_String: parameter " .. parm .. " not faked")
end
function R.DeleteTrackMediaItem (tr, item)
  check_track(tr, "DeleteTrackMediaItem")
  for i, it in ipairs(tr.items) do if it == item then table.remove(tr.items, i) return true end end
  return false
end
function R.MIDI_GetPPQPosFromProjQN (take, qn)
  local item = take_item(take)
  return (qn - time_to_qn(item.pos)) * fake.ppq
end
function R.MIDI_GetProjQNFromPPQPos (take, ppq)
  local item = take_item(take)
  return time_to_qn(item.pos) + ppq / fake.ppq
end
function R.MIDI_InsertNote (take, sel, muted, sppq, eppq, chan, pitch, vel, nosort)
  assert(take.midi, "fake: MIDI_InsertNote on an audio take")
  assert(math.type(pitch) == "integer" and math.type(vel) == "integer" and math.type(chan) == "integer",
         "fake: MIDI_InsertNote needs integer chan/pitch/vel")
  take.notes[#take.notes + 1] = { s = sppq, e = eppq, c = chan, n = pitch, v = vel, sel = sel, muted = muted }
  take.sorted = false
  if not nosort then R.MIDI_Sort(take) end
  return true
end
function R.MIDI_Sort (take)
  table.sort(take.notes, function (a, b) if a.s ~= b.s then return a.s < b.s end return a.n < b.n end)
  take.sorted = true
end
function R.MIDI_CountEvts (take)
  return #take.notes, #take.notes, 0, 0
end
function R.MIDI_GetNote (take, idx)
  assert(take.sorted, "fake: MIDI_GetNote on an unsorted take (call MIDI_Sort first)")
  local nt = take.notes[idx + 1]
  if not nt then return false, false, false, 0, 0, 0, 0, 0 end
  return true, nt.sel, nt.muted, nt.s, nt.e, nt.c, nt.n, nt.v
end
function R.MIDI_DeleteNote (take, idx)
  if not take.notes[idx + 1] then return false end
  table.remove(take.notes, idx + 1)
  return true
end

-- ---- undo ----
function R.Undo_BeginBlock2 (proj)
  assert(open_block == nil, "fake: Undo_BeginBlock2 while a block is open")
  open_block = deepcopy(project)
end
function R.Undo_EndBlock2 (proj, desc, flags)
  assert(open_block, "fake: Undo_EndBlock2 without Undo_BeginBlock2")
  undo_stack[#undo_stack + 1] = { name = desc, snapshot = open_block }
  open_block = nil
  redo_stack = {}
end
function R.Undo_CanUndo2 (proj)
  local u = undo_stack[#undo_stack]
  return u and u.name or nil
end
function R.Undo_DoUndo2 (proj)
  local u = table.remove(undo_stack)
  if not u then return 0 end
  redo_stack[#redo_stack + 1] = { name = u.name, snapshot = deepcopy(project) }
  project = u.snapshot
  return 1
end
function fake.block_open () return open_block ~= nil end

-- ---- install: recorder + loud failure on anything not defined ----
fake.defined = {}
local api = {}
for name, fn in pairs(R) do
  fake.defined[#fake.defined + 1] = name
  api[name] = function (...)
    fake.calls[#fake.calls + 1] = { name = name, args = table.pack(...) }
    return fn(...)
  end
end
table.sort(fake.defined)
setmetatable(api, {
  __index = function (_, k)
    error("fake reaper: reaper." .. tostring(k) .. " is not defined by the fake (not a known/allowed call)", 2)
  end,
  __newindex = function (_, k) error("fake reaper: the script must not assign reaper." .. tostring(k), 2) end,
})
fake.api = api
fake.reset()
return fake
