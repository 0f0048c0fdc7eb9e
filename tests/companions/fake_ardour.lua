-- fake_ardour.lua: a fake of the Ardour 7.3 Lua bindings (ARDOUR.*, Session, PBD, Temporal), just enough to run
-- osc-maps/companions/ardour/dawbridge_core.lua (and its two entry points) in plain lua5.3.
--
-- * Every method call is recorded in fake.calls ({name = "Class:method", args = {...}}).
-- * Calling a method or function the fake does not define raises a loud error ("fake ardour: ... not defined").
-- * Behaviour follows ../shared/docs/ardour-lua.md: begin_reversible_command does not nest (a second begin
--   aborts both), apply_diff_command_as_commit does its own begin/commit, Playlist:add_region inserts a COPY,
--   new_midi_track with a nil instrument crashes (here: raises), bounce_range with nil_proc gives an empty
--   whole-file MIDI region (here: raises if the range is not empty), 1920 ticks per beat.
-- Model: sample rate 48000, constant tempo fake.tempo (120), so one beat = 24000 samples.
local fake = { calls = {}, tempo = 120.0, sr = 48000 }
local TICKS = 1920

local next_id = 100
local function new_id () next_id = next_id + 1; return next_id end

-- ---- object system: classes with recorded methods, loud failure on anything else ----
local function class (cname, methods)
  local mt = {}
  mt.__index = function (obj, k)
    if type(k) == "string" and k:sub(1, 1) == "_" then return nil end   -- unset private field of the fake
    local m = methods[k]
    if m == nil then error("fake ardour: " .. cname .. ":" .. tostring(k) .. " is not defined by the fake", 2) end
    return function (self, ...)
      fake.calls[#fake.calls + 1] = { name = cname .. ":" .. k, args = table.pack(...) }
      return m(self, ...)
    end
  end
  mt.__name = cname
  return function (fields) return setmetatable(fields or {}, mt) end, methods
end

local function static (tname, fns)
  return setmetatable({}, {
    __index = function (_, k)
      local f = fns[k]
      if f == nil then error("fake ardour: " .. tname .. "." .. tostring(k) .. " is not defined by the fake", 2) end
      if type(f) ~= "function" then return f end
      return function (...)
        fake.calls[#fake.calls + 1] = { name = tname .. "." .. k, args = table.pack(...) }
        return f(...)
      end
    end,
  })
end

-- nil shared_ptr stand-in
local Nil = class("nil", { isnil = function () return true end })
local NIL = Nil()

-- lists with :iter(). Like LuaBridge's listIterIter, the iterator does NOT keep the list alive: it holds it
-- weakly, and walking a list the collector has freed raises (in Ardour: a segfault in libardour). A loop over a
-- temporary list (`for x in f():iter()`) plus a collection inside the loop (C.gc_stress) hits this.
local List = class("List", {
  iter = function (self)
    local i = 0
    local weak = setmetatable({ self }, { __mode = "v" })
    return function ()
      local lst = weak[1]
      if lst == nil then
        error("fake ardour: the list was freed by Lua's collector while it was iterated (use-after-free: Ardour segfaults)")
      end
      i = i + 1
      return lst.items[i]
    end
  end,
  size = function (self) return #self.items end,
})

-- ---- Temporal ----
local Beats
Beats = class("Beats", {
  str = function (self)
    local t = self.t
    local sign = t < 0 and "-" or ""
    t = math.abs(t)
    return string.format("%s%d:%d", sign, t // TICKS, t % TICKS)
  end,
})
local function beats_ticks (t) return Beats({ t = math.tointeger(t) or error("fake: Beats.ticks needs an integer") }) end
local function spb () return fake.sr * 60 / fake.tempo end   -- samples per beat

local Timepos
Timepos = class("timepos_t", {
  beats = function (self) return beats_ticks(math.floor(self.samples_ / spb() * TICKS + 0.5)) end,
  samples = function (self) return math.floor(self.samples_ + 0.5) end,
  str = function (self) return "a" .. self.samples_ end,
})
local Timecnt = class("timecnt_t", {
  beats = function (self) return beats_ticks(math.floor(self.samples_ / spb() * TICKS + 0.5)) end,
  samples = function (self) return self.samples_ end,
})
local Tempo = class("Tempo", {
  quarter_notes_per_minute = function () return fake.tempo end,
  note_types_per_minute = function () return fake.tempo end,
})
local TempoMap = class("TempoMap", { tempo_at = function () return Tempo() end })

local Temporal = {
  Beats = static("Temporal.Beats", { ticks = beats_ticks }),
  timepos_t = setmetatable({ from_ticks = function (t)
      fake.calls[#fake.calls + 1] = { name = "Temporal.timepos_t.from_ticks", args = { t } }
      assert(math.type(t) == "integer", "fake: timepos_t.from_ticks needs an integer")
      return Timepos({ samples_ = t / TICKS * spb() })
    end },
    { __call = function (_, samples) return Timepos({ samples_ = samples }) end,
      __index = function (_, k) error("fake ardour: Temporal.timepos_t." .. k .. " is not defined by the fake") end }),
  TempoMap = static("Temporal.TempoMap", { read = function () return TempoMap() end }),
}

-- ---- PBD ----
local ID = class("ID", { to_s = function (self) return tostring(self.v) end })
local PBD = { ID = function (s)
  fake.calls[#fake.calls + 1] = { name = "PBD.ID", args = { s } }
  return ID({ v = tonumber(s) or error("fake ardour: PBD.ID of a non-numeric string " .. tostring(s)) })
end }

-- Stateful view of an object
local Stateful = class("Stateful", {
  id = function (self) return ID({ v = self.obj._id }) end,
  clear_changes = function (self)
    local o = self.obj
    if o._kind == "region" then o._before_name = o._name; return end
    if o._kind ~= "playlist" then return end
    o._before = {}
    for i, r in ipairs(o._regions) do o._before[i] = r end
  end,
})

-- ---- session model ----
local session = {}
fake.history = {}        -- committed transactions {name, commands = {...}}
fake.warnings = {}
fake.osc_sent = {}
local current            -- open transaction
local regions_by_id = {}
local routes = {}

local function stateful (obj) return Stateful({ obj = obj }) end

-- MIDI model / notes
local NotePtr = class("NotePtr", {
  note = function (self) return self.n end,
  time = function (self) return beats_ticks(self.t) end,
  length = function (self) return beats_ticks(self.l) end,
  velocity = function (self) return self.v end,
  channel = function (self) return self.c end,
})
local NoteDiff = class("NoteDiffCommand", {
  add = function (self, p) self.adds[#self.adds + 1] = p end,
  remove = function (self, p) self.removes[#self.removes + 1] = p end,
})
local function diff_apply (cmd, reverse)
  local model = cmd.model
  local adds, removes = cmd.adds, cmd.removes
  if reverse then adds, removes = removes, adds end
  for _, p in ipairs(removes) do
    local found = false
    for i, q in ipairs(model.notes) do if q == p then table.remove(model.notes, i); found = true; break end end
    if not found then error("fake ardour: note diff removes a note that is not in the model") end
  end
  for _, p in ipairs(adds) do model.notes[#model.notes + 1] = p end
end
local Model
Model = class("MidiModel", {
  new_note_diff_command = function (self, name) return NoteDiff({ name = name, model = self, adds = {}, removes = {} }) end,
  apply_diff_command_as_commit = function (self, sess, cmd)
    -- as in Ardour 7.3: begin (does not nest) / apply / commit
    session.begin_reversible_command(sess, cmd.name)
    diff_apply(cmd, false)
    cmd.applied = true
    session.commit_reversible_command(sess, cmd)
  end,
})

local Region
local function copy_region (r)
  local c = Region({ _id = new_id(), _kind = "region", _name = r._name, _pos = r._pos, _len = r._len, _model = r._model,
                     _midi = r._midi, _playlist = nil, whole_file = false })
  regions_by_id[c._id] = c
  return c
end
Region = class("Region", {
  isnil = function () return false end,
  name = function (self) return self._name end,
  position = function (self) return Timepos({ samples_ = self._pos }) end,
  length = function (self) return Timecnt({ samples_ = self._len }) end,
  start = function () return Timepos({ samples_ = 0 }) end,
  to_midiregion = function (self) if self._midi then return self end return NIL end,
  model = function (self) return self._model end,
  playlist = function (self) return self._playlist or NIL end,
  to_stateful = function (self) return stateful(self) end,
  set_name = function (self, n) self._name = n; return true end,
  to_statefuldestructible = function (self) return self end,
})

local Playlist = class("Playlist", {
  isnil = function () return false end,
  name = function (self) return self._name end,
  region_list = function (self)
    local items = {}
    for i, r in ipairs(self._regions) do items[i] = r end
    return List({ items = items })
  end,
  add_region = function (self, r, pos, times, auto_partition)
    assert(getmetatable(pos) and pos.samples_, "fake: add_region needs a timepos_t")
    local c = copy_region(r)          -- Ardour inserts a copy of a whole-file region
    c._pos = pos.samples_
    c._playlist = self
    self._regions[#self._regions + 1] = c
  end,
  remove_region = function (self, r)
    for i, q in ipairs(self._regions) do
      if q == r then table.remove(self._regions, i); r._playlist = nil; return end
    end
  end,
  to_stateful = function (self) return stateful(self) end,
  to_statefuldestructible = function (self) return self end,
})

local Processor = class("Processor", {
  isnil = function () return false end,
  display_name = function (self) return self._name end,
  name = function (self) return self._name end,
  active = function (self) return self._active end,
  to_stateful = function (self) return stateful(self) end,
})

local PluginInfo = class("PluginInfo", {
  isnil = function (self) return self._name == nil end,
})

local DataType = class("DataType", { to_string = function (self) return self.t end })
local PresInfo = class("PresentationInfo", { order = function (self) return self.o end })

local Track = class("Track", {
  isnil = function () return false end,
  name = function (self) return self._name end,
  to_track = function (self) return self end,
  to_stateful = function (self) return stateful(self) end,
  data_type = function (self) return DataType({ t = self._type }) end,
  presentation_info_ptr = function (self) return PresInfo({ o = self._order }) end,
  playlist = function (self) return self._playlist end,
  the_instrument = function (self)
    for _, p in ipairs(self._plugins) do if p._instrument then return p end end
    return NIL
  end,
  nth_plugin = function (self, i) return self._plugins[i + 1] or NIL end,
  add_processor_by_index = function (self, p, idx, err, activate)
    assert(p and p._name, "fake: add_processor_by_index needs a processor")
    for _, q in ipairs(self._plugins) do if q == p then return 1 end end
    if idx < 0 or idx > #self._plugins then idx = #self._plugins end
    table.insert(self._plugins, idx + 1, p)
    return 0
  end,
  remove_processor = function (self, p, err, need_process_lock)
    for i, q in ipairs(self._plugins) do
      if q == p then table.remove(self._plugins, i); return 0 end
    end
    return 1
  end,
  bounce_range = function (self, s0, s1, iti, endpoint, include_endpoint, name)
    assert(endpoint == fake.NIL_PROC, "fake: bounce_range must be called with ARDOUR.LuaAPI.nil_proc ()")
    assert(self._type == "midi", "fake: only MIDI bounce is faked")
    for _, r in ipairs(self._playlist._regions) do
      if r._pos < s1 and r._pos + r._len > s0 then
        error("fake ardour: bounce_range over a NON-EMPTY range would copy existing notes")
      end
    end
    local r = Region({ _id = new_id(), _kind = "region", _name = name, _pos = 0, _len = s1 - s0,
                       _model = Model({ notes = {} }), _midi = true, whole_file = true })
    regions_by_id[r._id] = r
    return r
  end,
})

-- ---- plugins known to the fake (Ardour 7.3 names) ----
fake.plugins = {
  LV2 = { ["ACE Reverb"] = {}, ["ACE Compressor"] = {}, ["ACE Delay"] = {}, ["ACE EQ"] = {},
          ["ACE Reasonable Synth"] = { instrument = true },
          -- x42 AVL Drumkits (Debian avldrums.lv2, in .ci/deps)
          ["Black Pearl Drumkit"] = { instrument = true }, ["Red Zeppelin Drumkit"] = { instrument = true } },
  Lua = { ["ACE Amplifier"] = {} },
}
local TYPE_NAMES = { [2] = "LV2", [6] = "Lua", [7] = "VST3", [1] = "LADSPA" }

local function plugin_entry (name, ty)
  local tn = TYPE_NAMES[ty]
  return tn and fake.plugins[tn] and fake.plugins[tn][name]
end

-- ---- Session ----
local function track_list ()
  local t = {}
  for _, r in ipairs(routes) do t[#t + 1] = r end
  return t
end

local function make_track (kind, name, pi)
  local tr = Track({ _id = new_id(), _name = name, _type = kind, _order = #routes, _plugins = {} })
  tr._playlist = Playlist({ _id = new_id(), _kind = "playlist", _name = name, _regions = {} })
  if pi and not pi:isnil() then
    tr._plugins[1] = Processor({ _id = new_id(), _name = pi._name, _active = true, _instrument = pi._instrument })
  end
  routes[#routes + 1] = tr
  return tr
end

local S = {}
function S.get_tracks () return List({ items = track_list() }) end
function S.route_by_id (self, id)
  for _, r in ipairs(routes) do if r._id == id.v then return r end end
  return NIL
end
function S.nominal_sample_rate () return fake.sr end
function S.new_audio_track (self, inputs, outputs, group, how_many, name, order, mode, autoconnect)
  assert(how_many == 1, "fake: one track at a time")
  return List({ items = { make_track("audio", name) } })
end
function S.new_midi_track (self, cin, cout, strict, pi, preset, group, how_many, name, order, mode, autoconnect)
  if pi == nil then error("fake ardour: new_midi_track with a nil instrument segfaults Ardour 7.3") end
  assert(getmetatable(pi) == getmetatable(PluginInfo({})), "fake: instrument must be a PluginInfo")
  local tr = make_track("midi", name, pi)
  if fake.raise_after_create then
    -- Ardour 7.3 headless with an OSC surface: the track is made, then the call raises (a port race)
    fake.raise_after_create = nil
    error(true)
  end
  return List({ items = { tr } })
end
function S.begin_reversible_command (self, name)
  if current then
    fake.warnings[#fake.warnings + 1] = string.format(
      "An UNDO transaction was started while a prior command was underway. Aborting command (%s) and prior (%s)",
      name, current.name)
    current = nil
    -- HistoryOwner::begin_reversible_command then runs assert (false): a debug build of Ardour aborts
    if fake.debug_build then error("fake ardour: nested begin_reversible_command: assert (false) aborts a debug build") end
    return
  end
  current = { name = name, commands = {} }
end
function S.add_command (self, cmd)
  if not current then error("fake ardour: add_command without an open transaction") end
  assert(cmd.applied, "fake: add_command with a note diff that was never applied")
  current.commands[#current.commands + 1] = { kind = "NoteDiffCommand", cmd = cmd }
end
function S.add_stateful_diff_command (self, pl)
  if not current then error("fake ardour: add_stateful_diff_command without an open transaction") end
  if pl._kind == "region" then  -- a region's property diff (its name)
    current.commands[#current.commands + 1] = { kind = "StatefulDiffCommand", region = pl,
                                                before_name = pl._before_name, after_name = pl._name }
    return NIL
  end
  local before = pl._before or {}
  local after = {}
  for i, r in ipairs(pl._regions) do after[i] = r end
  current.commands[#current.commands + 1] = { kind = "StatefulDiffCommand", playlist = pl, before = before, after = after }
  return NIL
end
function S.commit_reversible_command (self, cmd)
  if not current then return end          -- aborted: nothing recorded
  if cmd then current.commands[#current.commands + 1] = { kind = "NoteDiffCommand", cmd = cmd } end
  if #current.commands > 0 then fake.history[#fake.history + 1] = current end
  current = nil
end
function S.abort_reversible_command () current = nil end
function S.collected_undo_commands () return current ~= nil and #current.commands > 0 end
function S.abort_empty_reversible_command ()
  if current and #current.commands == 0 then current = nil; return true end
  return false
end
session = S
fake.Session = static("Session", S)
-- Session is used with ":" syntax: make Session:method (...) work through a table whose entries take self
local SessionObj = setmetatable({}, {
  __index = function (_, k)
    local f = S[k]
    if f == nil then error("fake ardour: Session:" .. tostring(k) .. " is not defined by the fake", 2) end
    return function (self, ...)
      fake.calls[#fake.calls + 1] = { name = "Session:" .. k, args = table.pack(...) }
      return f(self, ...)
    end
  end,
})

-- one recorded command of a transaction, applied backwards (undo) or forwards (redo)
local function apply_command (c, undo)
  if c.kind == "NoteDiffCommand" then diff_apply(c.cmd, undo)
  elseif c.region then c.region._name = undo and c.before_name or c.after_name
  else
    local pl = c.playlist
    for _, r in ipairs(pl._regions) do r._playlist = nil end
    pl._regions = {}
    for k, r in ipairs(undo and c.before or c.after) do pl._regions[k] = r; r._playlist = pl end
  end
end

-- native undo of the last committed transaction (what Ardour's GUI Edit > Undo does)
fake.redo_list = {}
function fake.native_undo ()
  local t = table.remove(fake.history)
  if not t then return nil end
  fake.redo_list[#fake.redo_list + 1] = t
  for i = #t.commands, 1, -1 do apply_command(t.commands[i], true) end
  return t.name
end

-- native redo of the last undone transaction (Edit > Redo)
function fake.native_redo ()
  local t = table.remove(fake.redo_list)
  if not t then return nil end
  fake.history[#fake.history + 1] = t
  for _, c in ipairs(t.commands) do apply_command(c, false) end
  return t.name
end

function fake.enable_remove_route ()
  S.remove_route = function (self, r)
    for i, q in ipairs(routes) do if q == r then table.remove(routes, i) return end end
  end
end

-- ---- ARDOUR ----
fake.NIL_PROC = setmetatable({}, { __name = "nil_proc" })
local LuaOSCAddress = class("LuaOSC.Address", {
  send = function (self, path, types, ...)
    local args = table.pack(...)
    assert(#types == args.n, "fake: LuaOSC type string does not match the arguments")
    fake.osc_sent[#fake.osc_sent + 1] = { uri = self.uri, path = path, types = types, args = args }
    return true
  end,
})

local ARDOUR = {
  PluginType = setmetatable({ LADSPA = 1, LV2 = 2, Lua = 6, VST3 = 7 }, {
    __index = function (_, k) return nil end }),
  PresentationInfo = { max_order = 4294967295 },
  TrackMode = { Normal = 0 },
  PluginInfo = function () return PluginInfo({}) end,
  ChanCount = function (dt, n) return { dt = dt, n = n } end,
  DataType = function (t) return DataType({ t = t }) end,
  InterThreadInfo = function () return {} end,
  LuaAPI = static("ARDOUR.LuaAPI", {
    nil_proc = function () return fake.NIL_PROC end,
    monotonic_time = function () return fake.clock_us or math.floor(os.clock() * 1e6) end,  -- microseconds, as Ardour's
    new_plugin = function (sess, name, ty, preset)
      local e = plugin_entry(name, ty)
      if not e then return NIL end
      return Processor({ _id = new_id(), _name = name, _active = true, _instrument = e.instrument or false })
    end,
    new_plugin_info = function (name, ty)
      local e = plugin_entry(name, ty)
      if not e then return PluginInfo({}) end
      return PluginInfo({ _name = name, _instrument = e.instrument or false })
    end,
    new_noteptr = function (c, t, l, n, v)
      assert(math.type(n) == "integer" and math.type(v) == "integer" and math.type(c) == "integer",
             "fake: new_noteptr needs integer channel, pitch, velocity")
      return NotePtr({ c = c, t = t.t, l = l.t, n = n, v = v })
    end,
    note_list = function (model)
      local items = {}
      for i, p in ipairs(model.notes) do items[i] = p end
      table.sort(items, function (a, b) return a.t < b.t end)
      return List({ items = items })
    end,
  }),
  RegionFactory = static("ARDOUR.RegionFactory", {
    region_by_id = function (id) return regions_by_id[id.v] or NIL end,
  }),
  LuaOSC = static("ARDOUR.LuaOSC", {
    Address = function (uri) return LuaOSCAddress({ uri = uri }) end,
  }),
}
setmetatable(ARDOUR, { __index = function (_, k) error("fake ardour: ARDOUR." .. tostring(k) .. " is not defined by the fake", 2) end })

function fake.reset ()
  fake.debug_build = true   -- strict: a nested transaction is an error, as in a debug build
  fake.calls = {}
  fake.history = {}
  fake.warnings = {}
  fake.osc_sent = {}
  fake.editor_calls = {}
  fake.redo_list = {}
  current = nil
  regions_by_id = {}
  routes = {}
  S.remove_route = nil
end

function fake.install ()
  _G.ARDOUR = ARDOUR
  _G.PBD = PBD
  _G.Temporal = Temporal
  _G.Session = SessionObj
end

-- the GUI's Editor object (only for GUI-mode tests): undo/redo of the session history
fake.editor_calls = {}
local EditorObj = class("Editor", {
  redo = function (self, n) fake.editor_calls[#fake.editor_calls + 1] = "redo " .. n end,
  undo = function (self, n)
    fake.editor_calls[#fake.editor_calls + 1] = "undo " .. n
    for _ = 1, n do fake.native_undo() end
  end,
})
function fake.install_editor () _G.Editor = EditorObj({}) end
function fake.remove_editor () _G.Editor = nil end

function fake.transaction_open () return current ~= nil end
function fake.routes () return routes end
function fake.count (name)
  local n = 0
  for _, c in ipairs(fake.calls) do if c.name == name then n = n + 1 end end
  return n
end

fake.reset()
return fake
