-- dawbridge_core.lua: the shared core of the dawbridge companion for Ardour (Lua 5.3, Ardour 7.3 bindings).
--
-- Contract: osc-maps/companions/PROTOCOL.md (version 1). Install: osc-maps/companions/README.md.
-- Loaded by two entry points:
--   dawbridge.lua       headless, in Ardour's Lua session host (luasession): polls every 10 ms (20 ms after 2 s idle), at once
--                       again after answering
--   dawbridge_hook.lua  GUI, an EditorHook on the 100 ms LuaTimerDS timer
-- A poll starts no process: it renames the spool's doorbell file in/.queue (the ids the bridge announced, one a
-- line; PROTOCOL.md) -- one rename(2) that fails with ENOENT when there is no work.
-- with  local C = load(io.open(path):read("a"))()  ;  local core = C.new{mode = "headless"|"gui"}  ;  core:poll()
--
-- Every Ardour call used here is one proven on Ardour 7.3 (../shared/docs/ardour-lua.md):
--   tracks        Session:new_midi_track (instrument PluginInfo, ARDOUR.PluginInfo () for none) / new_audio_track
--   MIDI clip     Track:bounce_range of an empty range with ARDOUR.LuaAPI.nil_proc (), then a note-diff command,
--                 then Playlist:add_region (it adds a COPY: the new region is looked up on the playlist afterwards)
--   plugins       ARDOUR.LuaAPI.new_plugin (Session, name, type, "") + Route:add_processor_by_index
--   notes back    ARDOUR.LuaAPI.note_list (model)
--   undo          Ardour transactions named after the request, never nested (7.3 aborts nested ones, and asserts):
--                 each note diff is Ardour's own transaction (MidiModel::apply_diff_command_as_commit), and the
--                 request's clip changes are ONE transaction (begin / add_stateful_diff_command / commit) at its end.
--                 Track creation and plugin insertion are never in Ardour's history (Ardour records neither).
--                 The core also keeps, per request, the inverse operations; the `undo` op applies them
--                 ("bridge undo: <name>"): the whole request, plugins included, headless or in the GUI.
--   replies       a reply file, and OSC /dawbridge/reply s <json> via ARDOUR.LuaOSC.Address
-- The core only executes the protocol's JSON ops; it never evaluates received text as code.
local C = {}

-- The host-independent part (JSON, files, spool, arguments, notes, the command envelope) is
-- ../common/dawbridge_common.lua. The loaders pass this file's path:  load(io.open(p):read("a"))(p)  ;
-- DAWBRIDGE_COMMON names the common file instead; next to this file is tried too (an installation in one folder).
local function load_common (core_path)
  local dir = type(core_path) == "string" and core_path:match("^(.*)[/\\][^/\\]*$") or "."
  local tried = {}
  for _, p in ipairs({ os.getenv("DAWBRIDGE_COMMON") or "", dir .. "/../common/dawbridge_common.lua",
                       dir .. "/dawbridge_common.lua" }) do
    local f = p ~= "" and io.open(p, "r")
    if f then
      local src = f:read("a")
      f:close()
      return assert(load(src, "=dawbridge_common.lua"))()
    end
    if p ~= "" then tried[#tried + 1] = p end
  end
  error("dawbridge: cannot find dawbridge_common.lua (tried " .. table.concat(tried, ", ") ..
        "; a GUI hook installed by an older version: run install-gui-hook.sh again)", 0)
end
local D = load_common(...)
local json = D.json
local join, trim, read_file, write_atomic, shq, mkdir_p = D.join, D.trim, D.read_file, D.write_atomic, D.shq, D.mkdir_p
local fail, get_string, get_number, as_int, get_string_list = D.fail, D.get_string, D.get_number, D.as_int,
  D.get_string_list
local check_notes, round6, sort_notes, one_line, valid_id = D.check_notes, D.round6, D.sort_notes, D.one_line,
  D.valid_id
local pack_notes, unpack_notes = D.pack_notes, D.unpack_notes

C.json = json
C.VERSION = D.VERSION
C.MEMORY_MAX = D.MEMORY_MAX
C.MEMORY_BYTES = D.MEMORY_BYTES
C.TICKS = D.TICKS             -- Temporal ticks per beat (also the packed notes' unit)
C.TOL_BEATS = 1 / 960         -- edit_clip matching tolerance (PROTOCOL.md)
C.TAKEN_KEEP_MS = 3000        -- a taken doorbell file is re-read this long (late appends), then removed
C.MAX_NOTES = D.MAX_NOTES     -- notes in one command (bounded work per poll: the GUI thread runs it)
C.TXN_IDLE_S = 600            -- an open request with no command for this long is committed anyway
C.gc_stress = os.getenv("DAWBRIDGE_GC_STRESS") == "1"  -- full collection inside every list loop (tests)
C.timing = os.getenv("DAWBRIDGE_TIMING") == "1"  -- log each command's time in the companion (benches)
C.fail, C.check_notes, C.valid_id, C.pack_notes, C.unpack_notes = fail, check_notes, valid_id, pack_notes, unpack_notes
C.spool_dir = D.spool_dir

local function is_windows () return D.is_windows() end


-- names of the files in dir ending in .json (no directory listing in Ardour's Lua: ls / dir). Starts a process:
-- used only when DAWBRIDGE_LIST_EVERY_MS asks for a periodic listing (a bridge that writes no doorbell).
function C.list_json (dir)
  local cmdline
  if is_windows() then cmdline = 'dir /b "' .. dir .. '" 2>nul'
  else cmdline = "ls -1 " .. shq(dir) .. " 2>/dev/null" end
  local p = io.popen(cmdline)
  if not p then return {} end
  local ids = {}
  for line in p:lines() do
    local id = line:match("^(.*)%.json$")
    if id then ids[#ids + 1] = id end
  end
  p:close()
  table.sort(ids)
  return ids
end


-- ---------------------------------------------------------------------------
-- Ardour helpers
-- ---------------------------------------------------------------------------
local function id_of (obj) return obj:to_stateful():id():to_s() end

-- The elements of a LuaBridge list (RouteList, RegionList, note list ...) copied into a Lua table.
-- Never write `for x in f():iter()`: nothing holds the temporary list returned by f(), so Lua's collector may
-- free it (and the C++ list with it) in the middle of the loop, and LuaBridge's listIterIter then walks freed
-- memory -- the segfaults of issue 11. Here the list is the argument `list`, a live local until the loop is done.
-- C.gc_stress (env DAWBRIDGE_GC_STRESS=1, used by the real-Ardour tests) runs a full collection at every element,
-- which turns such a use-after-free into a crash at once instead of now and then.
local function items (list)
  local out = {}
  local it = list:iter()
  for x in it do
    out[#out + 1] = x
    if C.gc_stress then collectgarbage() end
  end
  if C.gc_stress then collectgarbage() end
  local _ = list  -- keep the list referenced (alive) up to this point
  return out
end
C.items = items

-- "B:T" (Temporal.Beats:str ()) -> beats as a float
local function beats_of (str)
  local neg, b, t = string.match(str, "^(%-?)(%d+):(%d+)$")
  if not b then error("cannot parse beat time '" .. tostring(str) .. "'") end
  local v = tonumber(b) + tonumber(t) / C.TICKS
  if neg == "-" then v = -v end
  return v
end
C.beats_of = beats_of

local function ticks (beats) return math.floor(beats * C.TICKS + 0.5) end

local function tempo ()
  local tm = Temporal.TempoMap.read()
  return tm:tempo_at(Temporal.timepos_t(0)):quarter_notes_per_minute()
end

-- tracks in presentation order (master and busses are not tracks)
local function track_list ()
  local list = {}
  for _, r in ipairs(items(Session:get_tracks())) do
    local t = r:to_track()
    if not t:isnil() then list[#list + 1] = t end
  end
  table.sort(list, function (a, b)
    return a:presentation_info_ptr():order() < b:presentation_info_ptr():order()
  end)
  return list
end

local function track_index (route)
  local rid = id_of(route)
  for i, t in ipairs(track_list()) do if id_of(t) == rid then return i end end
  return nil
end

local function find_track (ref, key)
  key = key or "track"
  if ref == nil or ref == json.null then fail("missing argument '%s' (track id string or 1-based index)", key) end
  if type(ref) == "number" then
    local idx = math.tointeger(ref)
    if not idx or idx < 1 then fail("argument '%s' must be a track id string or an index >= 1", key) end
    local list = track_list()
    if idx > #list then fail("no track at index %d (the session has %d tracks)", idx, #list) end
    return list[idx]
  elseif type(ref) == "string" and ref ~= "" then
    if ref:find("^%d+$") then
      local r = Session:route_by_id(PBD.ID(ref))
      if not r:isnil() then
        local t = r:to_track()
        if not t:isnil() then return t end
      end
    end
    fail("no track with id %s", ref)
  end
  fail("argument '%s' must be a track id string or a 1-based index", key)
end

local function is_midi_track (t) return t:data_type():to_string() == "midi" end

-- region by id, still on a playlist
local function find_region (ref)
  if type(ref) ~= "string" or ref == "" then fail("missing argument 'clip' (the clip id string)") end
  if ref:find("^%d+$") then
    local r = ARDOUR.RegionFactory.region_by_id(PBD.ID(ref))
    if not r:isnil() and not r:playlist():isnil() then return r end
  end
  fail("no clip with id %s", ref)
end

local function region_track (r)
  local pid = id_of(r:playlist())
  for _, t in ipairs(track_list()) do
    if id_of(t:playlist()) == pid then return t end
  end
  return nil
end

local function region_span (r)
  local start = beats_of(r:position():beats():str())
  local len = beats_of(r:length():beats():str())
  return start, len
end

local function region_offset (r)
  local ok, v = pcall(function () return beats_of(r:start():beats():str()) end)
  if ok then return v end
  return 0
end

-- Walks the notes of a MIDI region: emit(ptr, n, s, d, v, c) for each note starting inside it, s (from the region
-- start) and d in ticks. Returns false for a region that is not MIDI. The cost of a bulk read is in the LuaBridge
-- calls per note, so (issue 11, 10,000 notes): the NotePtr and Beats methods are looked up once (LuaBridge walks the
-- userdata's metatables on every `n:time ()`) and called as plain functions; a Beats time is turned into ticks from
-- its "B:T" text (7.3 binds no integer accessor on Temporal::Beats), each distinct text parsed once. The note list is
-- held in a local while it is iterated (see items); C.gc_stress collects inside the loop all the same.
local function scan_notes (r, emit)
  local mr = r:to_midiregion()
  if mr:isnil() then return false end
  local off = ticks(region_offset(r))
  local _, len = region_span(r)
  local lent = ticks(len)
  local list = ARDOUR.LuaAPI.note_list(mr:model())
  local f_time, f_len, f_note, f_vel, f_chan, f_str
  local cache = {}
  local match, tointeger = string.match, math.tointeger
  for n in list:iter() do
    if not f_time then f_time, f_len, f_note, f_vel, f_chan = n.time, n.length, n.note, n.velocity, n.channel end
    local tb = f_time(n)
    if not f_str then f_str = tb.str end
    local ts, ls = f_str(tb), f_str(f_len(n))
    local st, dt = cache[ts], cache[ls]
    if not st then
      local neg, b, t = match(ts, "^(%-?)(%d+):(%d+)$")
      if not b then error("cannot parse beat time '" .. tostring(ts) .. "'") end
      st = tointeger(b * C.TICKS + t)
      if neg == "-" then st = -st end
      cache[ts] = st
    end
    if not dt then
      local b, t = match(ls, "^(%d+):(%d+)$")
      if not b then error("cannot parse beat length '" .. tostring(ls) .. "'") end
      dt = tointeger(b * C.TICKS + t)
      cache[ls] = dt
    end
    st = st - off
    if st >= 0 and st <= lent then emit(n, f_note(n), st, dt, f_vel(n), f_chan(n)) end
    if C.gc_stress then collectgarbage() end
  end
  if C.gc_stress then collectgarbage() end
  local _ = list  -- the list stays referenced (alive) up to here
  return true
end
C.scan_notes = scan_notes

-- notes of a MIDI region, times relative to the region start; each entry keeps its NotePtr in _ptr
local function region_notes (r)
  local notes = {}
  local T = C.TICKS
  local ok = scan_notes(r, function (p, n, st, dt, v, c)
    notes[#notes + 1] = { n = n, s = round6(st / T), d = round6(dt / T), v = v, c = c, _ptr = p }
  end)
  if not ok then return nil end
  return sort_notes(notes)
end

-- the notes of a MIDI region packed (PROTOCOL.md, bulk notes), in one pass: no table per note, one string each,
-- table.concat at the end; sorted (s, n, c) like the JSON notes (Ardour's list is in time order already: then
-- no sort)
local function region_packed (r)
  local out, keys = {}, {}
  local k, sorted, last = 0, true, -1
  local ok = scan_notes(r, function (_, n, st, dt, v, c)
    k = k + 1
    out[k] = n .. " " .. st .. " " .. dt .. " " .. v .. " " .. c
    local key = (st * 128 + n) * 16 + c
    keys[k] = key
    if key < last then sorted = false end
    last = key
  end)
  if not ok then return nil end
  if not sorted then
    local idx = {}
    for i = 1, k do idx[i] = i end
    table.sort(idx, function (a, b) return keys[a] < keys[b] end)
    local o2 = {}
    for i = 1, k do o2[i] = out[idx[i]] end
    out = o2
  end
  return table.concat(out, ";")
end

local function public_notes (notes)
  local out = json.array({})
  for _, nt in ipairs(notes) do out[#out + 1] = json.note({ n = nt.n, s = nt.s, d = nt.d, v = nt.v, c = nt.c }) end
  return out
end
-- the notes of a command: "notes" (JSON list) or "notes_packed"; at most C.MAX_NOTES
local function command_notes (args, key, packed_key, clip_len)
  return D.command_notes(args, key, packed_key, clip_len, C.MAX_NOTES)
end

-- /strip/plugin/list piid does) and the effects without the instrument
local function plugin_list (route)
  local all = {}
  local i = 0
  while true do
    local p = route:nth_plugin(i)
    if p:isnil() then break end
    all[#all + 1] = p
    i = i + 1
  end
  local inst = route:the_instrument()
  local inst_id = (not inst:isnil()) and id_of(inst) or nil
  local effects = {}
  for _, p in ipairs(all) do
    if id_of(p) ~= inst_id then effects[#effects + 1] = p end
  end
  return all, effects, inst
end

local PLUGIN_TYPES = { "LV2", "Lua", "VST3", "LADSPA" }

local function new_plugin (name)
  for _, tname in ipairs(PLUGIN_TYPES) do
    local ty = ARDOUR.PluginType[tname]
    if ty then
      local p = ARDOUR.LuaAPI.new_plugin(Session, name, ty, "")
      if not p:isnil() then return p end
    end
  end
  return nil
end

local function new_plugin_info (name)
  for _, tname in ipairs(PLUGIN_TYPES) do
    local ty = ARDOUR.PluginType[tname]
    if ty then
      local pi = ARDOUR.LuaAPI.new_plugin_info(name, ty)
      if not pi:isnil() then return pi end
    end
  end
  return nil
end

-- does a LuaBridge object have this method? (a missing key may raise instead of returning nil)
local function has_method (obj, name)
  local ok, v = pcall(function () return obj[name] end)
  return ok and v ~= nil
end

-- remove the plugin with this id from the track, if it is still there
local function remove_plugin_id (track, pid)
  for _, e in ipairs((plugin_list(track))) do
    if id_of(e) == pid then track:remove_processor(e, nil, true); return true end
  end
  return false
end

-- insert a new instance of plugin `name` at processor index idx; returns its id
local function insert_plugin (track, name, idx)
  local np = new_plugin(name)
  if np and track:add_processor_by_index(np, idx, nil, true) == 0 then return id_of(np) end
  return nil
end

local function first_of (list)
  return items(list)[1]
end

-- ---------------------------------------------------------------------------
-- the companion object
-- ---------------------------------------------------------------------------
local Core = {}
Core.__index = Core

-- opts: mode = "headless" | "gui"; spool (default C.spool_dir ()); now_ms (clock); log (function)
function C.new (opts)
  opts = opts or {}
  local self = setmetatable({}, Core)
  self.mode = opts.mode or "headless"
  self.spool = opts.spool or C.spool_dir()
  self.now_ms = opts.now_ms or function () return os.time() * 1000 end
  self.log = opts.log or function (msg) print("dawbridge: " .. msg) end
  self.memory = {}         -- id -> reply text
  self.memory_order = {}   -- ids, oldest first
  self.txn = nil           -- the open request (see begin_txn)
  self.undo_stack = {}     -- {name, inverses = {fn...}, not_undone = {...}}
  self.osc = {}            -- reply port -> ARDOUR.LuaOSC.Address
  if opts.gc_stress ~= nil then C.gc_stress = opts.gc_stress end
  -- a periodic directory listing (starts a process) for bridges that ring no doorbell; 0 = never (default)
  self.list_every_ms = opts.list_every_ms or tonumber(os.getenv("DAWBRIDGE_LIST_EVERY_MS") or "") or 0
  self.last_list_ms = 0
  self.clock_ms = opts.clock_ms or function ()
    if ARDOUR and ARDOUR.LuaAPI and ARDOUR.LuaAPI.monotonic_time then return ARDOUR.LuaAPI.monotonic_time() / 1000 end
    return os.clock() * 1000
  end
  return self
end

-- ---- one request = one Ardour transaction --------------------------------
-- txn = {name, explicit, playlists = {Playlist}, seen = {id = true}, notes_steps = number,
--        inverses = {function (undo_ctx)}, not_undone = {text}, touched = time}
function Core:begin_txn (name, explicit)
  self.txn = { name = name, explicit = explicit, playlists = {}, seen = {}, inverses = {}, gui_ops = {},
               not_undone = {}, touched = os.time() }
  return self.txn
end

-- call BEFORE changing a playlist: clear_changes once per request, so the diff covers the whole request
function Core:touch_playlist (pl)
  local txn = self.txn
  local pid = id_of(pl)
  if not txn.seen[pid] then
    txn.seen[pid] = true
    pl:to_stateful():clear_changes()
    txn.playlists[#txn.playlists + 1] = pl
  end
end

-- a note diff command named after the open request (the name of the Ardour undo step it makes)
function Core:note_diff (model)
  return model:new_note_diff_command(self.txn and self.txn.name or "dawbridge")
end

-- Apply a note diff now, as Ardour's own transaction: MidiModel::apply_diff_command_as_commit opens a reversible
-- command named after the diff (= the request), runs it and commits it. Never inside an open transaction: Ardour
-- 7.3 does not nest them (HistoryOwner::begin_reversible_command aborts both and asserts(false), which aborts a
-- debug build), and 7.3's Lua has no apply_diff_command_as_subcommand; so no transaction of ours is ever open
-- across a call, and the request's playlist changes are recorded at its end by commit_txn.
function Core:apply_diff (model, cmd)
  model:apply_diff_command_as_commit(Session, cmd)
  self.txn.notes_steps = (self.txn.notes_steps or 0) + 1
end

-- The request's clip changes (playlist diffs) as ONE Ardour transaction named after the request, built the way
-- Ardour's own scripts do: begin_reversible_command, add_stateful_diff_command per playlist (clear_changes was
-- called before the first change, see touch_playlist), commit. It is opened and committed here, in one go.
function Core:commit_txn ()
  local txn = self.txn
  if not txn then return nil end
  self.txn = nil
  -- GUI: changes Ardour keeps no history of (plugins) get the undo mark into the request's step (see mark_step)
  local marked = self.mode == "gui" and #txn.gui_ops > 0 and not txn.undo
  if #txn.playlists > 0 or marked then
    if Session:collected_undo_commands() then
      -- someone else's transaction is open (a GUI edit in progress): never nest into it
      self.log("an Ardour undo transaction is open; the changes of '" .. txn.name .. "' are not recorded in Ardour's history")
    else
      local mark = marked and self:undo_mark()
      if mark then mark:to_stateful():clear_changes() end
      Session:begin_reversible_command(txn.name)
      for _, pl in ipairs(txn.playlists) do Session:add_stateful_diff_command(pl:to_statefuldestructible()) end
      if mark then self:mark_step(mark, txn) end
      if not Session:abort_empty_reversible_command() then Session:commit_reversible_command(nil) end
    end
  end
  if self.mode == "gui" and (#txn.playlists > 0 or marked or (txn.notes_steps or 0) > 0) then self:refresh_gui_undo() end
  if not txn.undo and (#txn.inverses > 0 or #txn.not_undone > 0) then
    self.undo_stack[#self.undo_stack + 1] = { name = txn.name, inverses = txn.inverses, not_undone = txn.not_undone }
    while #self.undo_stack > 64 do table.remove(self.undo_stack, 1) end
  end
  return txn
end

-- GUI: a transaction committed from Lua does not make the editor's Edit > Undo action (the one OSC /undo and
-- Ctrl+Z activate) sensitive; tested on Ardour 7.3 under Xvfb: /undo did nothing until Editor:redo had run once.
-- Editor:redo (0) redoes nothing (n = 0) but marks the undo action sensitive, so native undo reaches the request.
function Core:refresh_gui_undo ()
  local ed = Editor
  if ed ~= nil and has_method(ed, "redo") then
    local ok, err = pcall(function () ed:redo(0) end)
    if not ok then self.log("Editor:redo (0) failed: " .. tostring(err)) end
  end
end

-- ---- GUI: Ardour's own undo/redo of changes Ardour keeps no history of ----
-- Ardour 7.3 records no undo for inserting or removing a plugin (nor for a new track). So that the musician's
-- Ctrl+Z (or OSC /undo) still reverts exactly the last AI request -- and not the clip of the request before it --
-- every such request's Ardour step also carries a StatefulDiffCommand of the companion's *undo mark*: a tiny
-- whole-file region that is on no playlist (invisible, silent), whose name holds the request's sequence number.
-- Ardour's undo of the step puts the old name back, its redo the new one; the timer hook reads the name on every
-- poll (one call) and applies the request's plugin changes backwards or forwards. Plugin changes are not in
-- Ardour's history, so applying them disturbs neither Ardour's undo nor its redo list. The mark lives as long as
-- the hook's Lua state (marks of a previous Ardour run are not followed).
function Core:undo_mark ()
  if self.mark then return self.mark end
  local host
  for _, t in ipairs(track_list()) do
    if is_midi_track(t) then host = t; break end
  end
  if not host then self.log("no MIDI track to make the undo mark on: plugin changes are not in Ardour's undo"); return nil end
  local ok, wf = pcall(function () return self:empty_bounce(host, 64, "dawbridge undo mark") end)
  if not ok or not wf or wf:isnil() then self.log("cannot make the undo mark: " .. tostring(wf)); return nil end
  self.mark, self.mark_seq, self.mark_steps = wf, 0, {}
  wf:set_name("dawbridge undo mark 0")
  return wf
end

-- inside the open transaction: the mark's name moves to the next sequence number; the request's GUI ops are kept
function Core:mark_step (mark, txn)
  local seq = self.mark_seq + 1
  for k in pairs(self.mark_steps) do if k >= seq then self.mark_steps[k] = nil end end  -- the redo list is gone
  mark:set_name("dawbridge undo mark " .. seq)
  Session:add_stateful_diff_command(mark:to_statefuldestructible())
  self.mark_steps[seq] = { name = txn.name, ops = txn.gui_ops }
  while self.mark_steps[seq - 64] do self.mark_steps[seq - 64] = nil end
  self.mark_seq = seq
end

-- every GUI poll: did Ardour's undo/redo move the mark? then revert / re-apply those requests' plugin changes
function Core:follow_mark ()
  local mark = self.mark
  if not mark then return end
  local seq = math.tointeger(tonumber(string.match(mark:name(), "(%d+)$") or ""))
  if not seq or seq == self.mark_seq then return end
  while self.mark_seq > seq do           -- undone
    local step = self.mark_steps[self.mark_seq]
    if step then
      for i = #step.ops, 1, -1 do
        local ok, err = pcall(step.ops[i].undo)
        if not ok then self.log("undo of '" .. step.name .. "': " .. tostring(err)) end
      end
      self.log("Ardour undid '" .. step.name .. "': its plugin changes reverted")
    end
    self.mark_seq = self.mark_seq - 1
  end
  while self.mark_seq < seq do           -- redone
    self.mark_seq = self.mark_seq + 1
    local step = self.mark_steps[self.mark_seq]
    if step then
      for i = 1, #step.ops do
        local ok, err = pcall(step.ops[i].redo)
        if not ok then self.log("redo of '" .. step.name .. "': " .. tostring(err)) end
      end
      self.log("Ardour redid '" .. step.name .. "': its plugin changes made again")
    end
  end
end

-- a plugin change Ardour has no history of: its undo and redo for the GUI mark
local function gui_op (txn, undo, redo) txn.gui_ops[#txn.gui_ops + 1] = { undo = undo, redo = redo } end

local function add_inverse (txn, fn) txn.inverses[#txn.inverses + 1] = fn end

-- ---- ops -----------------------------------------------------------------
local ops = {}
C.ops = ops
local CHANGES = { create_track = true, create_midi_clip = true, edit_clip = true, add_effect = true,
                  remove_effect = true, delete_track = true, delete_clip = true }
C.CHANGES = CHANGES

function ops.ping (self)
  return { companion = "dawbridge", version = C.VERSION, host = "ardour", command_id = json.null,
           undo = self.mode == "gui" and "native" or "companion",
           bulk = { packed = true, max_notes = C.MAX_NOTES } }
end

function ops.state (self)
  local tracks = json.array({})
  for i, t in ipairs(track_list()) do
    local all, _, inst = plugin_list(t)
    local fx = json.array({})
    for k, p in ipairs(all) do fx[#fx + 1] = { index = k, name = p:display_name(), enabled = p:active() } end
    local clips = json.array({})
    for _, r in ipairs(items(t:playlist():region_list())) do
      local start, len = region_span(r)
      local notes = region_notes(r)
      clips[#clips + 1] = { host_id = id_of(r), name = r:name(), start = round6(start), length = round6(len),
                            notes = notes and public_notes(notes) or json.array({}) }
    end
    tracks[#tracks + 1] = { host_id = id_of(t), index = i, name = t:name(),
                            type = is_midi_track(t) and "midi" or "audio",
                            instrument = (not inst:isnil()) and inst:display_name() or json.null,
                            fx = fx, clips = clips }
  end
  return { tempo = tempo() + 0.0, tracks = tracks }
end

function ops.create_track (self, args)
  local name, ttype, inst, aliases, params, preset = D.create_track_args(args)
  -- the instrument is found before anything changes: a name this host does not have is refused, no track made
  local names, pi, ap = {}, nil, nil
  if inst then
    names[1] = inst
    for _, a in ipairs(aliases) do names[#names + 1] = a end
    for _, n in ipairs(names) do
      if ttype == "midi" then pi = new_plugin_info(n) else ap = new_plugin(n) end
      if pi or ap then break end
    end
    if not pi and not ap then fail("no instrument plugin named %s on this host", table.concat(names, ", ")) end
  end
  local track
  -- Ardour 7.3 headless with an OSC surface registered (the bridge's) sometimes raises from new_*_track after the
  -- track was made ("Port already exists: <name>/audio_out 1", a race with the surface's thread; seen in about 1
  -- of 5 creations here). The new track is then there and usable: take it, instead of failing a change that was made.
  local before = {}
  for _, t in ipairs(track_list()) do before[id_of(t)] = true end
  local function created (ok, res)
    if ok then return res end
    for _, t in ipairs(track_list()) do
      if not before[id_of(t)] and t:name() == name then
        print("dawbridge: Ardour raised while creating track '" .. name .. "' (" .. tostring(res) ..
              "), but the track is there: using it")
        return t
      end
    end
    error(res, 0)
  end
  if ttype == "audio" then
    track = created(pcall(function ()
      return first_of(Session:new_audio_track(1, 2, nil, 1, name, ARDOUR.PresentationInfo.max_order,
                                              ARDOUR.TrackMode.Normal, true))
    end))
  else
    -- never pass nil as instrument (crashes 7.3): ARDOUR.PluginInfo () is the "none" value.
    -- strict_io is false: with strict I/O, Ardour 7.3 headless re-registered the track's output ports while the
    -- instrument was configured, racing its own threads: "Port already exists: <name>/audio_out 1" in about one
    -- creation in four, and a segfault at the next plugin insert. With false: 0 failures in 40 runs here.
    track = created(pcall(function ()
      return first_of(Session:new_midi_track(ARDOUR.ChanCount(ARDOUR.DataType("midi"), 1),
                                             ARDOUR.ChanCount(ARDOUR.DataType("audio"), 2), false,
                                             pi or ARDOUR.PluginInfo(), nil, nil, 1, name,
                                             ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true))
    end))
  end
  if not track or track:isnil() then fail("Ardour did not create the track") end
  local instrument = json.null
  local res = {}
  if ttype == "midi" then
    local ti = track:the_instrument()
    if not ti:isnil() then instrument = ti:display_name() end
  elseif ap then
    -- an instrument on an audio track: add it as the first plugin
    if track:add_processor_by_index(ap, 0, nil, true) == 0 then instrument = ap:display_name() end
  end
  if inst and instrument ~= json.null then
    -- a preset where the plugin has it (Plugin:preset_by_label / load_preset); parameters by name are not
    -- applied on Ardour (its instruments here have none the maps use): reported as missing, never invented
    if preset then
      local ok, done = pcall(function ()
        local ins = track:the_instrument()
        local pl = ins:to_plugininsert():plugin(0)
        local pr = pl:preset_by_label(preset)
        return pr and pl:load_preset(pr) or false
      end)
      res.preset_applied = ok and done and true or false
    end
    if type(params) == "table" then
      local keys = {}
      for k in pairs(params) do keys[#keys + 1] = k end
      table.sort(keys)
      res.params_applied, res.params_missing = json.array({}), json.array(keys)
    end
  end
  local rid = id_of(track)
  local txn = self.txn
  if has_method(Session, "remove_route") then
    add_inverse(txn, function ()
      local r = Session:route_by_id(PBD.ID(rid))
      if not r:isnil() then Session:remove_route(r) end
    end)
  else
    txn.not_undone[#txn.not_undone + 1] = "track '" .. track:name() .. "' (Ardour's Lua cannot remove tracks)"
  end
  res.host_id, res.index, res.name, res.type, res.instrument = rid, track_index(track), track:name(), ttype, instrument
  return res
end

-- A new whole-file MIDI region of len_samples, empty: the bounce of an empty range 1 s after the end of the last
-- region on the track's playlist -- and after every range bounced here before: the bounce reads the track's
-- rendered MIDI, which can still hold a region removed a moment ago (seen in the soak test: a clip bounced just
-- after an undo got 8 notes of the removed clip; the caller also removes any stray note)
function Core:empty_bounce (track, len_samples, name)
  local pl = track:playlist()
  local sr = Session:nominal_sample_rate()
  local far = sr
  for _, r in ipairs(items(pl:region_list())) do
    local e = r:position():samples() + r:length():samples()
    if e + sr > far then far = e + sr end
  end
  self.bounce_mark = self.bounce_mark or {}
  local plid = id_of(pl)
  if (self.bounce_mark[plid] or 0) > far then far = self.bounce_mark[plid] end
  self.bounce_mark[plid] = far + len_samples + sr
  local wf = track:bounce_range(far, far + len_samples, ARDOUR.InterThreadInfo(), ARDOUR.LuaAPI.nil_proc(), false, name)
  if wf:isnil() then fail("Ardour could not create a MIDI region (bounce failed)") end
  return wf
end

function ops.create_midi_clip (self, args)
  local track = find_track(args.track)
  local start = get_number(args, "start")
  local length = get_number(args, "length")
  if start < 0 then fail("argument 'start' must be >= 0 (beats)") end
  if length <= 0 then fail("argument 'length' must be > 0 (beats)") end
  local name = get_string(args, "name", true) or track:name()
  if args.notes == nil and args.notes_packed == nil then fail("missing argument 'notes' (a list, may be empty)") end
  local notes = command_notes(args, "notes", "notes_packed", length)
  if not is_midi_track(track) then fail("track %s is an audio track; a MIDI clip needs a MIDI track", track:name()) end
  local pl = track:playlist()
  local sr = Session:nominal_sample_rate()
  local len_samples = math.ceil(length * 60.0 / tempo() * sr)
  local before = {}
  for _, r in ipairs(items(pl:region_list())) do before[id_of(r)] = true end
  local wf = self:empty_bounce(track, len_samples, name)
  local model = wf:to_midiregion():model()
  -- whatever the bounce brought along is removed in the same diff: the clip holds exactly the given notes
  local stray = items(ARDOUR.LuaAPI.note_list(model))
  if #notes > 0 or #stray > 0 then
    local cmd = self:note_diff(model)
    for _, p in ipairs(stray) do cmd:remove(p) end
    -- one new_noteptr and one add per note, the functions looked up once (10,000 notes: bulk)
    local add, new_noteptr, bticks = cmd.add, ARDOUR.LuaAPI.new_noteptr, Temporal.Beats.ticks
    for _, nt in ipairs(notes) do
      add(cmd, new_noteptr(nt.c, bticks(ticks(nt.s)), bticks(ticks(nt.d)), nt.n, nt.v))
    end
    self:apply_diff(model, cmd)
  end
  self:touch_playlist(pl)
  pl:add_region(wf, Temporal.timepos_t.from_ticks(ticks(start)), 1, false)
  -- add_region inserted a copy: find it
  local region
  for _, r in ipairs(items(pl:region_list())) do
    if not before[id_of(r)] then region = r end
  end
  if not region then fail("the new region was not found on the playlist") end
  local txn = self.txn
  add_inverse(txn, function (core)
    core:touch_playlist(pl)
    pl:remove_region(region)
  end)
  local res = { host_id = id_of(region), track = id_of(track), start = start, length = length, notes_added = #notes }
  -- "packed": the new clip's notes as read back from Ardour after the change (the bridge's read-back in the same
  -- command: one round trip for a bulk clip)
  -- (and the clip's span and name as Ardour has them, as read_clip gives them: Ardour rounds to whole samples)
  if args.packed == true then
    local s, l = region_span(region)
    res.start, res.length, res.name = round6(s), round6(l), region:name()
    res.notes_packed = region_packed(region)
  end
  return res
end

function ops.read_clip (self, args)
  local r = find_region(args.clip)
  local notes = args.packed == true or region_notes(r)
  if not notes or r:to_midiregion():isnil() then fail("clip %s is not a MIDI clip", args.clip) end
  local start, len = region_span(r)
  local t = region_track(r)
  -- the name too: Ardour names a new region after its track, and a mirror without it differs from the next state dump
  local res = { host_id = id_of(r), track = t and id_of(t) or json.null, name = r:name(), start = round6(start),
                length = round6(len) }
  if args.packed == true then res.notes_packed = region_packed(r) else res.notes = public_notes(notes) end
  return res
end

function ops.edit_clip (self, args)
  local ref = args.clip
  local r = find_region(ref)
  if r:to_midiregion():isnil() then fail("clip %s is not a MIDI clip", ref) end
  -- the clip's notes are read only to find those to remove (a bulk add reads nothing)
  local rm = args.remove
  local existing = (rm ~= nil and rm ~= json.null and (type(rm) ~= "table" or next(rm) ~= nil)) and region_notes(r) or {}
  local _, len = region_span(r)
  local add, positions = D.edit_clip_notes(args, existing, len, ref, C.TOL_BEATS, C.MAX_NOTES)
  local victims = {}
  for i, k in ipairs(positions) do victims[i] = existing[k]._ptr end
  local model = r:to_midiregion():model()
  local off = region_offset(r)
  local cmd = self:note_diff(model)
  local added = {}
  for _, p in ipairs(victims) do cmd:remove(p) end
  local cmd_add, new_noteptr, bticks = cmd.add, ARDOUR.LuaAPI.new_noteptr, Temporal.Beats.ticks
  for _, nt in ipairs(add) do
    local p = new_noteptr(nt.c, bticks(ticks(nt.s + off)), bticks(ticks(nt.d)), nt.n, nt.v)
    added[#added + 1] = p
    cmd_add(cmd, p)
  end
  self:apply_diff(model, cmd)
  add_inverse(self.txn, function (core)
    local inv = core:note_diff(model)
    for _, p in ipairs(added) do inv:remove(p) end
    for _, p in ipairs(victims) do inv:add(p) end
    core:apply_diff(model, inv)
  end)
  local res = { added = #add, removed = #victims }
  -- "brief": the bridge does not need the clip's notes back (a chunk of a bulk add)
  if args.brief == true then return res end
  if args.packed == true then res.notes_packed = region_packed(r) else res.notes = public_notes(region_notes(r)) end
  return res
end

function ops.add_effect (self, args)
  local track = find_track(args.track)
  local name = get_string(args, "name")
  local names = { name }
  for _, a in ipairs(get_string_list(args, "aliases")) do names[#names + 1] = a end
  local p
  for _, n in ipairs(names) do
    p = new_plugin(n)
    if p then break end
  end
  if not p then fail("no such effect: tried %s", "'" .. table.concat(names, "', '") .. "'") end
  local all = plugin_list(track)
  -- visible-processor index = number of plugins: after the last plugin, before the fader
  if track:add_processor_by_index(p, #all, nil, true) ~= 0 then
    fail("Ardour could not insert %s on track %s", p:display_name(), track:name())
  end
  local pid = id_of(p)
  local chain = plugin_list(track)
  local index
  for k, e in ipairs(chain) do if id_of(e) == pid then index = k end end
  if not index then fail("the inserted plugin %s was not found on the track", p:display_name()) end
  add_inverse(self.txn, function ()
    local _, eff = plugin_list(track)
    for _, e in ipairs(eff) do
      if id_of(e) == pid then track:remove_processor(e, nil, true) end
    end
  end)
  local pname, cur = p:display_name(), { pid = pid }
  gui_op(self.txn, function () remove_plugin_id(track, cur.pid) end,
                   function () cur.pid = insert_plugin(track, pname, index - 1) or cur.pid end)
  return { index = index, name = pname }
end

function ops.remove_effect (self, args)
  local track = find_track(args.track)
  local all = plugin_list(track)
  local index, p = D.chain_entry(args, all)
  local name = p:display_name()
  local pos = 0
  for k, q in ipairs(all) do if id_of(q) == id_of(p) then pos = k - 1 end end
  local cur = { pid = id_of(p) }
  if track:remove_processor(p, nil, true) ~= 0 then fail("Ardour could not remove effect %d (%s)", index, name) end
  gui_op(self.txn, function () cur.pid = insert_plugin(track, name, pos) or cur.pid end,
                   function () remove_plugin_id(track, cur.pid) end)
  add_inverse(self.txn, function ()
    local np = new_plugin(name)
    if np then track:add_processor_by_index(np, pos, nil, true) end
  end)
  return { removed = name }
end

function ops.delete_track (self, args)
  local track = find_track(args.track)
  local rid = id_of(track)
  if not has_method(Session, "remove_route") then
    fail("delete_track is not available: Ardour's Lua bindings (7.3) cannot remove a track; remove '%s' by hand",
         track:name())
  end
  Session:remove_route(track)
  self.txn.not_undone[#self.txn.not_undone + 1] = "deleted track " .. rid
  return { deleted = rid }
end

function ops.delete_clip (self, args)
  local r = find_region(args.clip)
  local rid = id_of(r)
  local pl = r:playlist()
  local pos = r:position()
  self:touch_playlist(pl)
  pl:remove_region(r)
  add_inverse(self.txn, function (core)
    core:touch_playlist(pl)
    pl:add_region(r, pos, 1, false)
  end)
  return { deleted = rid }
end

function ops.begin_undo (self, args)
  local name = one_line(get_string(args, "name"))
  if self.txn then self:commit_txn() end
  self:begin_txn(name, true)
  return {}
end

function ops.end_undo (self)
  if not self.txn or not self.txn.explicit then fail("no undo step is open (begin_undo was not received)") end
  local txn = self:commit_txn()
  return { name = txn.name }
end

function ops.undo (self)
  if self.txn then self:commit_txn() end
  local entry = table.remove(self.undo_stack)
  if not entry then fail("nothing to undo") end
  local txn = self:begin_txn("bridge undo: " .. entry.name, false)
  txn.undo = true
  local errors = {}
  for i = #entry.inverses, 1, -1 do
    local ok, err = pcall(entry.inverses[i], self)
    if not ok then errors[#errors + 1] = tostring(err) end
  end
  self:commit_txn()
  local res = { undone = entry.name }
  if #entry.not_undone > 0 then res.not_undone = json.array(entry.not_undone) end
  if #errors > 0 then res.errors = json.array(errors) end
  return res
end

-- ---- command processing --------------------------------------------------
-- the last C.MEMORY_MAX replies, and at most C.MEMORY_BYTES of them (bulk replies are large), the newest always kept
function Core:remember (id, text)
  local old = self.memory[id]
  if old == nil then self.memory_order[#self.memory_order + 1] = id end
  self.memory_bytes = (self.memory_bytes or 0) + #text - (old and #old or 0)
  self.memory[id] = text
  while #self.memory_order > C.MEMORY_MAX or (#self.memory_order > 1 and self.memory_bytes > C.MEMORY_BYTES) do
    local gone = table.remove(self.memory_order, 1)
    self.memory_bytes = self.memory_bytes - #self.memory[gone]
    self.memory[gone] = nil
  end
end

function Core:execute (cmd)
  local fn, args = D.lookup_op(ops, cmd)
  if not fn then return args end
  local op = cmd.op
  local auto = false
  if CHANGES[op] then
    if self.txn then
      self.txn.touched = os.time()
    else
      auto = true
      self:begin_txn(D.request_name(cmd, op), false)
    end
  end
  local ok, res = pcall(fn, self, args)
  if auto then
    local cok, cerr = pcall(self.commit_txn, self)
    if not cok then self.txn = nil; self.log("commit failed: " .. tostring(cerr)) end
  end
  return D.op_reply(cmd, ok, res)
end

-- returns reply text, was_duplicate, reply_port
function Core:handle_text (id, text)
  local cmd, bad = D.decode_command(id, text)
  local port = cmd and as_int(cmd.reply_port)
  if port and (port < 1 or port > 65535) then port = nil end
  if bad then return bad, false, port end
  -- the command's token (PROTOCOL.md) goes back in the reply, so the bridge can tell our OSC reply from a forged
  -- datagram; the memory keeps the reply without it (a resend may carry its own)
  local function with_token (t)
    local tok = cmd.token
    if type(tok) == "string" and #tok <= 64 and not tok:find("[^%x]") and tok ~= "" and t:sub(1, 1) == "{" then
      return '{"token":"' .. tok .. '",' .. t:sub(2)
    end
    return t
  end
  if self.memory[id] then return with_token(self.memory[id]), true, port end
  local rtext = D.run_command(id, cmd, self.now_ms(), function (c) return self:execute(c) end)
  self:remember(id, rtext)
  return with_token(rtext), false, port
end

function Core:send_osc (port, text)
  local ok, err = pcall(function ()
    local a = self.osc[port]
    if not a then
      a = ARDOUR.LuaOSC.Address("osc.udp://127.0.0.1:" .. port)
      self.osc[port] = a
    end
    a:send("/dawbridge/reply", "s", text)
  end)
  if not ok then self.log("OSC reply to port " .. port .. " failed: " .. tostring(err)) end
end

-- The ids of the commands announced since the last poll, sorted (ids sort by time). The bridge appends
-- "<id>\n" to in/.queue after each command file is in place; the poll takes the whole file with one rename to
-- in/.queue.taken.<n>. A bridge that opened .queue just before the rename writes into the taken file, perhaps
-- much later on a loaded machine: so a taken file is read again (from where the last read ended) on every poll
-- for C.TAKEN_KEEP_MS, and only then removed. No process is started; an idle poll is one failed rename (plus one
-- read of a taken file during the C.TAKEN_KEEP_MS after work).
local NO_IDS = {}
function Core:announced_ids (indir)
  -- the idle fast path: nothing taken recently, no listing: one rename that fails, no allocation
  local queue = self.queue_path
  if not queue then queue = join(indir, ".queue"); self.queue_path = queue end
  self.taken = self.taken or {}
  local taken = self.next_taken
  if not taken then
    taken = join(indir, ".queue.taken." .. ((self.taken_seq or 0) + 1)); self.next_taken = taken
  end
  if #self.taken == 0 and self.list_every_ms <= 0 then
    if not os.rename(queue, taken) then return NO_IDS end
    self.renamed = taken
  end
  local ids, seen = {}, {}
  local function take (text)
    for line in string.gmatch(text or "", "[^\r\n]+") do
      local id = trim(line)
      if id ~= "" and not seen[id] then seen[id] = true; ids[#ids + 1] = id end
    end
  end
  local now = self.clock_ms()
  local keep = {}
  for _, tk in ipairs(self.taken) do
    local f = io.open(tk.path, "rb")
    if f then
      f:seek("set", tk.offset)
      local more = f:read("a") or ""
      f:close()
      -- only whole lines: a line still being written is read at the next poll
      local whole = string.match(more, "^(.*\n)") or ""
      tk.offset = tk.offset + #whole
      take(whole)
    end
    if now - tk.t >= C.TAKEN_KEEP_MS then os.remove(tk.path) else keep[#keep + 1] = tk end
  end
  self.taken = keep
  local renamed = self.renamed or (os.rename(queue, taken) and taken)
  self.renamed = nil
  if renamed then
    self.taken_seq = (self.taken_seq or 0) + 1
    self.next_taken = nil
    local text = read_file(taken) or ""
    local whole = string.match(text, "^(.*\n)") or ""
    take(whole)
    self.taken[#self.taken + 1] = { path = taken, t = now, offset = #whole }
  end
  if self.list_every_ms > 0 then
    if now - self.last_list_ms >= self.list_every_ms then
      self.last_list_ms = now
      for _, id in ipairs(C.list_json(indir)) do
        if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
      end
    end
  end
  table.sort(ids)
  return ids
end

-- handle the announced commands once; returns the number of commands handled
function Core:poll ()
  if self.mark then
    local ok, err = pcall(self.follow_mark, self)
    if not ok then self.log("undo mark: " .. tostring(err)) end
  end
  local indir, outdir = self.indir, self.outdir
  if not indir then
    indir, outdir = join(self.spool, "in"), join(self.spool, "out")
    self.indir, self.outdir = indir, outdir
  end
  local ids = self:announced_ids(indir)
  if #ids == 0 then
    -- an explicit request left open for a long time is committed so its changes reach the history
    if self.txn and os.time() - self.txn.touched > C.TXN_IDLE_S then self:commit_txn() end
    return 0
  end
  local handled = 0
  for _, id in ipairs(ids) do
    local path = join(indir, id .. ".json")
    if not valid_id(id) then
      -- never touch a path built from a bad id (it could name a file outside the spool)
      self.log("ignored an announced command id that is not [A-Za-z0-9_.-]{1,64}")
    else
      local text = read_file(path)
      if text then
        local t0 = C.timing and ARDOUR.LuaAPI.monotonic_time()
        local ok, rtext, _, port = pcall(self.handle_text, self, id, text)
        local t1 = t0 and ARDOUR.LuaAPI.monotonic_time()
        if not ok then
          rtext = json.encode({ id = id, ok = false, error = "internal error: " .. tostring(rtext) })
          port = nil
        end
        local wok, werr = write_atomic(join(outdir, id .. ".json"), rtext)
        if not wok and not self.outdir_made then
          -- out/ missing: make it once (mkdir -p starts a process; never on a poll that finds nothing)
          mkdir_p(outdir); self.outdir_made = true
          wok, werr = write_atomic(join(outdir, id .. ".json"), rtext)
        end
        -- a reply too big for one UDP datagram goes by file only
        if port and #rtext <= D.OSC_REPLY_MAX then self:send_osc(port, rtext) end
        if t0 then
          self.log(string.format("timing: %s: %d bytes in, %d out: %.1f ms handled, %.1f ms with the reply written",
                                 id, #text, #rtext, (t1 - t0) / 1000, (ARDOUR.LuaAPI.monotonic_time() - t0) / 1000))
        end
        if wok then
          os.remove(path)
        else
          -- keep the command: the next poll answers it again from the id memory (not executed twice)
          self.log(tostring(werr))
        end
        handled = handled + 1
      end
    end
  end
  return handled
end

return C
