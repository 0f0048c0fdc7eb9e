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

local json = (function ()
-- ---------------------------------------------------------------------------
-- Small strict JSON codec (pure Lua, works in Lua 5.3 and 5.4).
-- decode(text) -> value | raises "json: ..." ; JSON null decodes to json.null.
-- encode(value) -> text | raises "json: ..." (NaN/inf, cycles, bad keys).
-- Arrays: a table marked with json.array(t), or a non-empty sequence.
-- An empty unmarked table encodes as {}.
-- ---------------------------------------------------------------------------
local json = {}
json.null = setmetatable({}, { __tostring = function () return "null" end })
local ARRAY_MT = { __jsontype = "array" }
function json.array (t) return setmetatable(t or {}, ARRAY_MT) end
function json.is_array (t) return getmetatable(t) == ARRAY_MT end

local MAX_DEPTH = 64

local function utf8_char (cp)
  if cp < 0x80 then return string.char(cp)
  elseif cp < 0x800 then
    return string.char(0xC0 | (cp >> 6), 0x80 | (cp & 0x3F))
  elseif cp < 0x10000 then
    return string.char(0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F))
  else
    return string.char(0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F),
                       0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F))
  end
end

function json.decode (text)
  if type(text) ~= "string" then error("json: expected a string to decode", 0) end
  local pos = 1
  local len = #text
  local function fail (msg) error(string.format("json: %s at byte %d", msg, pos), 0) end
  local function skip_ws ()
    pos = string.find(text, "[^ \t\r\n]", pos) or (len + 1)
  end
  local parse_value
  local function parse_string ()
    -- pos is at the opening quote
    pos = pos + 1
    local parts = {}
    while true do
      local s, e = string.find(text, '["\\%c]', pos)
      if not s then fail("unterminated string") end
      if s > pos then parts[#parts + 1] = string.sub(text, pos, s - 1) end
      local ch = string.sub(text, s, s)
      if ch == '"' then pos = s + 1; break
      elseif ch == "\\" then
        local esc = string.sub(text, s + 1, s + 1)
        pos = s + 2
        if esc == '"' or esc == "\\" or esc == "/" then parts[#parts + 1] = esc
        elseif esc == "b" then parts[#parts + 1] = "\b"
        elseif esc == "f" then parts[#parts + 1] = "\f"
        elseif esc == "n" then parts[#parts + 1] = "\n"
        elseif esc == "r" then parts[#parts + 1] = "\r"
        elseif esc == "t" then parts[#parts + 1] = "\t"
        elseif esc == "u" then
          local hex = string.match(text, "^%x%x%x%x", pos)
          if not hex then fail("bad \\u escape") end
          local cp = tonumber(hex, 16)
          pos = pos + 4
          if cp >= 0xD800 and cp <= 0xDBFF then
            local lo = string.match(text, "^\\u(%x%x%x%x)", pos)
            local lov = lo and tonumber(lo, 16)
            if not lov or lov < 0xDC00 or lov > 0xDFFF then fail("unpaired surrogate in \\u escape") end
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lov - 0xDC00)
            pos = pos + 6
          elseif cp >= 0xDC00 and cp <= 0xDFFF then
            fail("unpaired surrogate in \\u escape")
          end
          parts[#parts + 1] = utf8_char(cp)
        else
          pos = s + 1
          fail("bad escape")
        end
      else
        pos = s
        fail("control character in string")
      end
    end
    local str = table.concat(parts)
    if not utf8.len(str) then fail("invalid UTF-8 in string") end
    return str
  end
  local function parse_number ()
    -- validate against the JSON grammar exactly
    local int, frac, exp = string.match(text, "^(-?%d+)(%.?%d*)([eE]?[-+]?%d*)", pos)
    if not int then fail("bad number") end
    if string.match(int, "^-?0%d") then fail("leading zero in number") end
    if frac == "." then fail("bad number fraction") end
    if exp ~= "" and not string.match(exp, "^[eE][-+]?%d+$") then fail("bad number exponent") end
    local lit = int .. frac .. exp
    pos = pos + #lit
    local v
    if frac == "" and exp == "" then
      v = math.tointeger(tonumber(lit))
      if not v then v = tonumber(lit) + 0.0 end  -- too large for an integer
    else
      v = tonumber(lit) + 0.0
    end
    if v ~= v or v == math.huge or v == -math.huge then fail("number out of range") end
    return v
  end
  local function parse_array (depth)
    pos = pos + 1
    local arr = json.array({})
    skip_ws()
    if string.sub(text, pos, pos) == "]" then pos = pos + 1; return arr end
    while true do
      arr[#arr + 1] = parse_value(depth + 1)
      skip_ws()
      local ch = string.sub(text, pos, pos)
      if ch == "," then pos = pos + 1
      elseif ch == "]" then pos = pos + 1; return arr
      else fail("expected ',' or ']' in array") end
    end
  end
  local function parse_object (depth)
    pos = pos + 1
    local obj = {}
    skip_ws()
    if string.sub(text, pos, pos) == "}" then pos = pos + 1; return obj end
    while true do
      skip_ws()
      if string.sub(text, pos, pos) ~= '"' then fail("expected string key in object") end
      local key = parse_string()
      skip_ws()
      if string.sub(text, pos, pos) ~= ":" then fail("expected ':' in object") end
      pos = pos + 1
      if obj[key] ~= nil then fail("duplicate key '" .. key .. "'") end
      obj[key] = parse_value(depth + 1)
      skip_ws()
      local ch = string.sub(text, pos, pos)
      if ch == "," then pos = pos + 1
      elseif ch == "}" then pos = pos + 1; return obj
      else fail("expected ',' or '}' in object") end
    end
  end
  parse_value = function (depth)
    if depth > MAX_DEPTH then fail("nesting too deep") end
    skip_ws()
    local ch = string.sub(text, pos, pos)
    if ch == "{" then return parse_object(depth)
    elseif ch == "[" then return parse_array(depth)
    elseif ch == '"' then return parse_string()
    elseif ch == "-" or string.match(ch, "%d") then return parse_number()
    elseif string.sub(text, pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif string.sub(text, pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif string.sub(text, pos, pos + 3) == "null" then pos = pos + 4; return json.null
    elseif ch == "" then fail("unexpected end of input")
    else fail("unexpected character '" .. ch .. "'") end
  end
  local v = parse_value(1)
  skip_ws()
  if pos <= len then fail("trailing characters after JSON value") end
  return v
end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
              ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string (s)
  if not utf8.len(s) then
    -- replace bytes that are not valid UTF-8 with U+FFFD so the output stays valid JSON
    local out, i, n = {}, 1, #s
    while i <= n do
      local ok_len
      for l = 4, 1, -1 do
        if i + l - 1 <= n and utf8.len(string.sub(s, i, i + l - 1)) == 1 then ok_len = l; break end
      end
      if ok_len then out[#out + 1] = string.sub(s, i, i + ok_len - 1); i = i + ok_len
      else out[#out + 1] = "\239\191\189"; i = i + 1 end
    end
    s = table.concat(out)
  end
  return '"' .. string.gsub(s, '[%c"\\]', function (c)
    return ESC[c] or string.format("\\u%04x", string.byte(c))
  end) .. '"'
end

local function encode_number (v)
  if math.type(v) == "integer" then return string.format("%d", v) end
  if v ~= v or v == math.huge or v == -math.huge then error("json: cannot encode NaN or infinity", 0) end
  if v == math.floor(v) and math.abs(v) < 1e15 then return string.format("%.1f", v) end
  for _, fmt in ipairs({ "%.15g", "%.16g", "%.17g" }) do
    local s = string.format(fmt, v)
    if tonumber(s) == v then return s end
  end
  return string.format("%.17g", v)
end

function json.encode (value)
  local out = {}
  local seen = {}
  local function enc (v, depth)
    if depth > MAX_DEPTH then error("json: nesting too deep to encode", 0) end
    local t = type(v)
    if v == json.null or v == nil then out[#out + 1] = "null"
    elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
    elseif t == "number" then out[#out + 1] = encode_number(v)
    elseif t == "string" then out[#out + 1] = encode_string(v)
    elseif t == "table" then
      if seen[v] then error("json: cycle in value", 0) end
      seen[v] = true
      local n = #v
      local is_arr = json.is_array(v)
      if not is_arr and n > 0 then
        local count = 0
        for _ in pairs(v) do count = count + 1 end
        is_arr = (count == n)
      end
      if is_arr then
        out[#out + 1] = "["
        for i = 1, n do
          if i > 1 then out[#out + 1] = "," end
          enc(v[i], depth + 1)
        end
        out[#out + 1] = "]"
      else
        local keys = {}
        for k in pairs(v) do
          if type(k) ~= "string" then error("json: object key is not a string", 0) end
          keys[#keys + 1] = k
        end
        table.sort(keys)
        out[#out + 1] = "{"
        for i, k in ipairs(keys) do
          if i > 1 then out[#out + 1] = "," end
          out[#out + 1] = encode_string(k)
          out[#out + 1] = ":"
          enc(v[k], depth + 1)
        end
        out[#out + 1] = "}"
      end
      seen[v] = nil
    else
      error("json: cannot encode a " .. t, 0)
    end
  end
  enc(value, 1)
  return table.concat(out)
end
return json
end)()

M.json = json
M.VERSION = 1
M.EXT = "dawbridge"          -- ExtState section
M.MEMORY_MAX = 256           -- remembered ids (with their replies)
M.TICK_BEATS = 1 / 960       -- edit_clip matching tolerance (PROTOCOL.md)

-- ---------------------------------------------------------------------------
-- small helpers
-- ---------------------------------------------------------------------------
local function now_ms () return os.time() * 1000 end
M.now_ms = now_ms

-- (the Ardour GUI's Lua state has no `package` table)
local function is_windows ()
  if type(package) == "table" and type(package.config) == "string" then return package.config:sub(1, 1) == "\\" end
  return os.getenv("OS") == "Windows_NT"
end
local SEP = is_windows() and "\\" or "/"

local function join (a, b) return a .. SEP .. b end

local function read_file (p)
  local f = io.open(p, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write_atomic (path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, "cannot write " .. tmp .. ": " .. tostring(err) end
  f:write(text)
  f:close()
  if is_windows() then os.remove(path) end  -- rename does not replace on Windows
  local ok, rerr = os.rename(tmp, path)
  if not ok then return nil, "cannot rename " .. tmp .. ": " .. tostring(rerr) end
  return true
end

local function trim (s) return (string.gsub(s, "^%s+", ""):gsub("%s+$", "")) end

-- spool directory: $DAWBRIDGE_SPOOL, else ~/.config/dawbridge/spool (one line), else
-- $XDG_RUNTIME_DIR/dawbridge/spool, else /tmp/dawbridge-$UID/spool (Windows: %TEMP%\dawbridge\spool)
function M.spool_dir ()
  local env = os.getenv("DAWBRIDGE_SPOOL")
  if env and env ~= "" then return env end
  local home = os.getenv("HOME") or os.getenv("USERPROFILE")
  if home then
    local s = read_file(home .. "/.config/dawbridge/spool")
    if s then
      local line = trim(string.match(s, "^[^\r\n]*") or "")
      if line ~= "" then return line end
    end
  end
  local xdg = os.getenv("XDG_RUNTIME_DIR")
  if xdg and xdg ~= "" then return xdg .. "/dawbridge/spool" end
  if is_windows() then return (os.getenv("TEMP") or "C:\\Temp") .. "\\dawbridge\\spool" end
  local uid = os.getenv("UID")
  if not uid or uid == "" then
    -- Linux: the real uid from /proc (no process is started on each triggered run)
    local st = read_file("/proc/self/status")
    uid = st and string.match(st, "\nUid:%s*(%d+)")
  end
  if not uid or uid == "" then
    local p = io.popen and io.popen("id -u 2>/dev/null")
    if p then uid = trim(p:read("a") or ""); p:close() end
  end
  if not uid or uid == "" then uid = "0" end
  return "/tmp/dawbridge-" .. uid .. "/spool"
end

-- ---------------------------------------------------------------------------
-- argument checking: every failure raises a table {msg=...} that becomes an error reply
-- ---------------------------------------------------------------------------
local ArgError = {}
local function fail (fmt, ...) error(setmetatable({ msg = string.format(fmt, ...) }, ArgError), 0) end
M.fail = fail

local function need_table (args, key)
  local v = args[key]
  if type(v) ~= "table" or json.is_array(v) then fail("%s: must be an object", key) end
  return v
end

local function get_string (args, key, optional)
  local v = args[key]
  if v == nil or v == json.null then
    if optional then return nil end
    fail("missing argument '%s' (a string)", key)
  end
  if type(v) ~= "string" or v == "" then fail("argument '%s' must be a non-empty string", key) end
  return v
end

local function get_number (args, key, optional)
  local v = args[key]
  if v == nil or v == json.null then
    if optional then return nil end
    fail("missing argument '%s' (a number)", key)
  end
  if type(v) ~= "number" then fail("argument '%s' must be a number", key) end
  return v
end

local function as_int (v)
  if type(v) ~= "number" then return nil end
  return math.tointeger(v)
end

local function get_string_list (args, key)
  local v = args[key]
  if v == nil or v == json.null then return {} end
  if type(v) ~= "table" or (not json.is_array(v) and next(v) ~= nil) then
    fail("argument '%s' must be a list of strings", key)
  end
  for i, s in ipairs(v) do
    if type(s) ~= "string" or s == "" then fail("argument '%s'[%d] must be a non-empty string", key, i) end
  end
  return v
end

-- notes {n, s, d, v, c?}; clip_len (beats) bounds s when given
local function check_notes (list, key, clip_len, for_removal)
  if list == nil or list == json.null then return {} end
  if type(list) ~= "table" or (not json.is_array(list) and next(list) ~= nil) then
    fail("argument '%s' must be a list of notes {n, s, d, v}", key)
  end
  local out = {}
  for i, nt in ipairs(list) do
    local where = string.format("%s[%d]", key, i)
    if type(nt) ~= "table" or json.is_array(nt) then fail("%s must be an object {n, s, d, v}", where) end
    local n = as_int(nt.n)
    if not n or n < 0 or n > 127 then fail("%s.n must be an integer 0-127", where) end
    if type(nt.s) ~= "number" or nt.s < 0 then fail("%s.s must be a number >= 0 (beats from the clip start)", where) end
    if clip_len and nt.s >= clip_len then
      fail("%s.s = %s is outside the clip (length %s beats)", where, tostring(nt.s), tostring(clip_len))
    end
    local note = { n = n, s = nt.s + 0.0 }
    if not for_removal then
      if type(nt.d) ~= "number" or nt.d <= 0 then fail("%s.d must be a number > 0 (beats)", where) end
      local v = as_int(nt.v)
      if not v or v < 1 or v > 127 then fail("%s.v must be an integer 1-127", where) end
      local c = 0
      if nt.c ~= nil and nt.c ~= json.null then
        c = as_int(nt.c)
        if not c or c < 0 or c > 15 then fail("%s.c must be an integer 0-15", where) end
      end
      note.d = nt.d + 0.0; note.v = v; note.c = c
    end
    out[#out + 1] = note
  end
  return out
end
M.check_notes = check_notes

-- Bulk notes (PROTOCOL.md): "notes_packed" = "n s d v c;n s d v c;..." with s and d in ticks (M.TICKS a beat),
-- all integers; a command carries at most M.MAX_NOTES notes (bounded work per run)
M.TICKS = 1920
M.MAX_NOTES = 50000
local function pack_notes (notes)
  local out = {}
  for i, nt in ipairs(notes) do
    out[i] = string.format("%d %d %d %d %d", nt.n, math.floor(nt.s * M.TICKS + 0.5), math.floor(nt.d * M.TICKS + 0.5),
                           nt.v, nt.c or 0)
  end
  return table.concat(out, ";")
end
M.pack_notes = pack_notes

local function unpack_notes (text, key, clip_len)
  if type(text) ~= "string" then fail("argument '%s' must be a string \"n s d v c;...\" (s, d in ticks)", key) end
  local out, pos, len = {}, 1, #text
  while pos <= len do
    local a, b, n, st, dt, v, c = string.find(text, "^%s*(%d+)%s+(%d+)%s+(%d+)%s+(%d+)%s+(%d+)%s*;?", pos)
    if not a or b < pos then fail("%s: bad packed note at byte %d (want \"n s d v c\" integers, ';' between)", key, pos) end
    pos = b + 1
    local i = #out + 1
    n, st, dt, v, c = math.tointeger(tonumber(n)), math.tointeger(tonumber(st)), math.tointeger(tonumber(dt)),
                      math.tointeger(tonumber(v)), math.tointeger(tonumber(c))
    if not n or n > 127 then fail("%s[%d].n must be an integer 0-127", key, i) end
    if not dt or dt < 1 then fail("%s[%d].d must be > 0 ticks", key, i) end
    if not v or v < 1 or v > 127 then fail("%s[%d].v must be an integer 1-127", key, i) end
    if not c or c > 15 then fail("%s[%d].c must be an integer 0-15", key, i) end
    if clip_len and st / M.TICKS >= clip_len then
      fail("%s[%d].s = %d ticks is outside the clip (length %s beats)", key, i, st, tostring(clip_len))
    end
    out[i] = { n = n, s = st / M.TICKS, d = dt / M.TICKS, v = v, c = c }
  end
  return out
end
M.unpack_notes = unpack_notes

local function command_notes (args, key, packed_key, clip_len)
  local notes
  if args[packed_key] ~= nil and args[packed_key] ~= json.null then
    if args[key] ~= nil and args[key] ~= json.null then fail("give '%s' or '%s', not both", key, packed_key) end
    notes = unpack_notes(args[packed_key], packed_key, clip_len)
  else
    notes = check_notes(args[key], key, clip_len)
  end
  if #notes > M.MAX_NOTES then
    fail("%d notes in one command (at most %d): send the rest with edit_clip 'add'", #notes, M.MAX_NOTES)
  end
  return notes
end

local function round6 (x)
  local r = math.floor(x * 1e6 + 0.5) / 1e6
  if r == math.floor(r) then return r + 0.0 end
  return r
end

local function sort_notes (notes)
  table.sort(notes, function (a, b)
    if a.s ~= b.s then return a.s < b.s end
    if a.n ~= b.n then return a.n < b.n end
    return (a.c or 0) < (b.c or 0)
  end)
  return notes
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

local function midi_take (item, ref)
  local take = reaper.GetActiveTake(item)
  if not take or not reaper.TakeIsMIDI(take) then fail("clip %s is not a MIDI clip", ref) end
  return take
end

local function item_span (item)
  local pos = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
  local len = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
  local qs = reaper.TimeMap_timeToQN(pos)
  local qe = reaper.TimeMap_timeToQN(pos + len)
  return qs, qe - qs
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
           command_id = M.command_id() or json.null, undo = "native" }
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
  local name = get_string(args, "name")
  local ttype = get_string(args, "type")
  if ttype ~= "midi" and ttype ~= "audio" then fail("argument 'type' must be \"midi\" or \"audio\"") end
  local inst = get_string(args, "instrument", true)
  local aliases = get_string_list(args, "instrument_aliases")
  local params = args.params
  if params ~= nil and params ~= json.null and type(params) ~= "table" then
    fail("argument 'params' must be an object {parameter: 0..1}")
  end
  local preset = get_string(args, "preset", true)
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
  return { host_id = item_guid(item), track = track_guid(tr), start = start, length = length,
           notes_added = #notes }
end

function ops.read_clip (args)
  local ref = args.clip
  local item = find_item(ref)
  local take = midi_take(item, ref)
  local start, length = item_span(item)
  local res = { host_id = ref, track = track_guid(reaper.GetMediaItem_Track(item)), start = round6(start),
                length = round6(length) }
  if args.packed == true then res.notes_packed = pack_notes(take_notes(take, start))
  else res.notes = public_notes(take_notes(take, start)) end
  return res
end

function ops.edit_clip (args)
  local ref = args.clip
  local item = find_item(ref)
  local take = midi_take(item, ref)
  local start, length = item_span(item)
  local add = command_notes(args, "add", "add_packed", length)
  local remove = check_notes(args.remove, "remove", nil, true)
  if #add == 0 and #remove == 0 then fail("nothing to do: give 'add' and/or 'remove' notes") end
  -- find every note to remove first; if one is missing, change nothing
  local existing = take_notes(take, start)
  local used, victims = {}, {}
  for i, rn in ipairs(remove) do
    local found
    for k, en in ipairs(existing) do
      if not used[k] and en.n == rn.n and math.abs(en.s - rn.s) <= M.TICK_BEATS then found = k; break end
    end
    if not found then fail("remove[%d]: no note n=%d at s=%s in clip %s", i, rn.n, tostring(rn.s), ref) end
    used[found] = true
    victims[#victims + 1] = existing[found]._idx
  end
  M.changing()
  table.sort(victims, function (a, b) return a > b end)   -- delete from the end so indices stay valid
  for _, idx in ipairs(victims) do reaper.MIDI_DeleteNote(take, idx) end
  insert_notes(take, start, add)
  local res = { added = #add, removed = #victims }
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
  local index = as_int(args.index)
  if not index or index < 1 then fail("argument 'index' must be an integer >= 1") end
  local slots = effect_slots(tr)
  local sl = slots[index]
  if not sl then fail("no effect at index %d (the track has %d plugins in its chain)", index, #slots) end
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

local function one_line (s) return (string.gsub(s, "[\r\n]+", " ")) end

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
local function valid_id (id) return type(id) == "string" and #id >= 1 and #id <= 64 and not id:find("[^%w_.-]") end
M.valid_id = valid_id

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
local function memory_add (mem, id, reply)
  mem[#mem + 1] = json.array({ id, reply })
  while #mem > M.MEMORY_MAX do table.remove(mem, 1) end
  ext_set("memory", json.encode(json.array(mem)))
end

-- execute one command (already decoded); returns the reply table
function M.execute (cmd)
  local op = cmd.op
  local fn = type(op) == "string" and ops[op]
  if not fn then
    return { id = cmd.id, ok = false, error = "unknown op: " .. (type(op) == "string" and op or tostring(op)) }
  end
  local args = cmd.args
  if args == nil or args == json.null then args = {} end
  if type(args) ~= "table" or json.is_array(args) then
    return { id = cmd.id, ok = false, error = "bad command: 'args' must be an object" }
  end
  if CHANGES[op] then
    local name = ext_get("undo_name")
    if not name then
      name = (type(cmd.request) == "string" and cmd.request ~= "") and one_line(cmd.request) or ("dawbridge: " .. op)
    end
    run.pending = name
  else
    run.pending = nil
  end
  local ok, res = pcall(fn, args)
  run.pending = nil
  if ok then return { id = cmd.id, ok = true, result = res } end
  local msg
  if getmetatable(res) == ArgError then msg = res.msg
  else msg = "internal error in " .. op .. ": " .. tostring(res) end
  return { id = cmd.id, ok = false, error = msg }
end

-- handle one command file's text for id (the file name); returns the reply JSON text
function M.handle_text (id, text, mem)
  local ok, cmd = pcall(json.decode, text)
  local reply
  -- malformed commands are answered but not remembered (a corrected command may reuse the id)
  if not ok then
    return json.encode({ id = id, ok = false, error = "bad command: " .. tostring(cmd) }), false
  elseif type(cmd) ~= "table" or json.is_array(cmd) then
    return json.encode({ id = id, ok = false, error = "bad command: not a JSON object" }), false
  elseif cmd.id ~= id then
    return json.encode({ id = id, ok = false, error = "bad command: id does not match the file name" }), false
  else
    local stored = memory_find(mem, id)
    if stored then return stored, true end
    if type(cmd.deadline_ms) ~= "number" then
      reply = { id = id, ok = false, error = "bad command: missing deadline_ms" }
    elseif M.now_ms() > cmd.deadline_ms then
      reply = { id = id, ok = false,
                error = string.format("expired: deadline %.0f passed %.0f ms ago; not executed",
                                      cmd.deadline_ms, M.now_ms() - cmd.deadline_ms) }
    else
      reply = M.execute(cmd)
    end
  end
  local rtext
  local eok, etext = pcall(json.encode, reply)
  if eok then rtext = etext
  else rtext = json.encode({ id = id, ok = false, error = "cannot encode reply: " .. tostring(etext) }) end
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
