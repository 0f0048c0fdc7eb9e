-- dawbridge_common.lua: the host-independent part of the dawbridge companions (Lua 5.3 and 5.4, no host API):
-- the JSON codec, files and the spool directory, argument checking, notes (JSON and packed), and the command
-- envelope (decode, deadline, dispatch, reply). Contract: osc-maps/companions/PROTOCOL.md (version 1).
--
-- Each companion is a host adapter plus this file, loaded at run time the same way Ardour's GUI can load code
-- (`load(io.open(p):read("a"))()`; dofile/require do not exist there):
--   reaper/dawbridge.lua      finds it next to itself, else in ../common/ (REAPER's script path)
--   ardour/dawbridge_core.lua is given its own path by its loaders (dawbridge.lua, dawbridge_hook.lua) and finds it
--                             the same way
-- The chunk returns the table D below; it keeps no state between calls.
local D = {}

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
-- a note {n, s, d, v, c} (integers n, v, c; numbers s, d): encoded by one string.format, same text as the
-- generic path (keys sorted) -- 10,000 notes are read back in one reply
local NOTE_MT = { __jsontype = "note" }
function json.note (t) return setmetatable(t, NOTE_MT) end
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
  -- at the opening bracket of an array or object: past it; true (the closing bracket `close` consumed) when empty
  local function open_empty (close)
    pos = pos + 1
    skip_ws()
    if string.sub(text, pos, pos) == close then pos = pos + 1; return true end
    return false
  end
  -- after an item of an array or object (`what`): true at its closing bracket `close`, false at a ',' (consumed)
  local function item_was_last (close, what)
    skip_ws()
    local ch = string.sub(text, pos, pos)
    if ch == "," then pos = pos + 1; return false end
    if ch == close then pos = pos + 1; return true end
    fail("expected ',' or '" .. close .. "' in " .. what)
  end
  local function parse_array (depth)
    local arr = json.array({})
    if open_empty("]") then return arr end
    repeat arr[#arr + 1] = parse_value(depth + 1) until item_was_last("]", "array")
    return arr
  end
  local function parse_object (depth)
    local obj = {}
    if open_empty("}") then return obj end
    repeat
      skip_ws()
      if string.sub(text, pos, pos) ~= '"' then fail("expected string key in object") end
      local key = parse_string()
      skip_ws()
      if string.sub(text, pos, pos) ~= ":" then fail("expected ':' in object") end
      pos = pos + 1
      if obj[key] ~= nil then fail("duplicate key '" .. key .. "'") end
      obj[key] = parse_value(depth + 1)
    until item_was_last("}", "object")
    return obj
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
    elseif t == "table" and getmetatable(v) == NOTE_MT then
      out[#out + 1] = string.format('{"c":%d,"d":%s,"n":%d,"s":%s,"v":%d}', v.c, encode_number(v.d), v.n,
                                    encode_number(v.s), v.v)
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

D.json = json
D.VERSION = 1
D.MEMORY_MAX = 256            -- remembered ids (with their replies)
D.TICKS = 1920                -- packed notes: ticks per beat
D.MAX_NOTES = 50000           -- notes in one command (bounded work per run / poll)
D.MEMORY_BYTES = 8 * 1024 * 1024  -- remembered replies: at most this many bytes (the newest is always kept)
D.OSC_REPLY_MAX = 60000       -- a reply longer than this goes by file only (one UDP datagram is at most 64 KiB)

-- ---------------------------------------------------------------------------
-- files
-- ---------------------------------------------------------------------------
local function is_windows ()
  if type(package) == "table" and type(package.config) == "string" then return package.config:sub(1, 1) == "\\" end
  return os.getenv("OS") == "Windows_NT"
end
local SEP = is_windows() and "\\" or "/"
local function join (a, b) return a .. SEP .. b end
local function trim (s) return (string.gsub(s, "^%s+", ""):gsub("%s+$", "")) end

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
  if is_windows() then os.remove(path) end
  local ok, rerr = os.rename(tmp, path)
  if not ok then return nil, "cannot rename " .. tmp .. ": " .. tostring(rerr) end
  return true
end

local function shq (s) return "'" .. string.gsub(s, "'", "'\\''") .. "'" end
D.is_windows, D.SEP, D.join, D.trim, D.read_file, D.write_atomic, D.shq = is_windows, SEP, join, trim, read_file,
  write_atomic, shq

-- spool directory: $DAWBRIDGE_SPOOL, else ~/.config/dawbridge/spool (one line), else
-- $XDG_RUNTIME_DIR/dawbridge/spool, else /tmp/dawbridge-$UID/spool (Windows: %TEMP%\dawbridge\spool)
function D.spool_dir ()
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
    local st = read_file("/proc/self/status")  -- Linux: no process needed
    uid = st and string.match(st, "\nUid:%s*(%d+)")
  end
  if not uid or uid == "" then
    local p = io.popen and io.popen("id -u 2>/dev/null")
    if p then uid = trim(p:read("a") or ""); p:close() end
  end
  if not uid or uid == "" then uid = "0" end
  return "/tmp/dawbridge-" .. uid .. "/spool"
end

-- names of the files in dir ending in .json (no directory listing in Ardour's Lua: ls / dir). Starts a process:

function D.mkdir_p (dir)
  if is_windows() then os.execute('mkdir "' .. dir .. '" 2>nul')
  else os.execute("mkdir -p " .. shq(dir)) end
end

-- ---------------------------------------------------------------------------
-- argument checking: every failure raises a table {msg=...} that becomes an error reply
-- ---------------------------------------------------------------------------
local ArgError = {}
local function fail (fmt, ...) error(setmetatable({ msg = string.format(fmt, ...) }, ArgError), 0) end
D.fail = fail

-- args[key] when given (neither nil nor null); else nil when `optional`, or a failure naming the `kind` wanted
local function given (args, key, optional, kind)
  local v = args[key]
  if v ~= nil and v ~= json.null then return v end
  if not optional then fail("missing argument '%s' (%s)", key, kind) end
  return nil
end

local function get_string (args, key, optional)
  local v = given(args, key, optional, "a string")
  if v ~= nil and (type(v) ~= "string" or v == "") then fail("argument '%s' must be a non-empty string", key) end
  return v
end

local function get_number (args, key, optional)
  local v = given(args, key, optional, "a number")
  if v ~= nil and type(v) ~= "number" then fail("argument '%s' must be a number", key) end
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
D.ArgError, D.get_string, D.get_number, D.as_int, D.get_string_list, D.check_notes = ArgError, get_string, get_number,
  as_int, get_string_list, check_notes


local function round6 (x)
  local r = math.floor(x * 1e6 + 0.5) / 1e6
  if r == math.floor(r) then return r + 0.0 end
  return r
end

local function note_before (a, b)
  if a.s ~= b.s then return a.s < b.s end
  if a.n ~= b.n then return a.n < b.n end
  return (a.c or 0) < (b.c or 0)
end

local function sort_notes (notes)
  -- Ardour's note list usually comes in order already: one pass instead of a sort of 10,000 notes
  for i = 2, #notes do
    if note_before(notes[i], notes[i - 1]) then table.sort(notes, note_before); return notes end
  end
  return notes
end

local function one_line (s) return (string.gsub(s, "[\r\n]+", " ")) end
local function valid_id (id) return type(id) == "string" and #id >= 1 and #id <= 64 and not id:find("[^%w_.-]") end
D.round6, D.note_before, D.sort_notes, D.one_line, D.valid_id = round6, note_before, sort_notes, one_line, valid_id

-- ---------------------------------------------------------------------------
-- bulk notes
-- ---------------------------------------------------------------------------
-- The packed form of a note list (PROTOCOL.md, bulk notes): one string "n s d v c;n s d v c;..." with s and d in
-- ticks (D.TICKS per beat), all integers. Parsing and writing it are a few C-level string operations per note
-- instead of a JSON object each.
local function pack_notes (notes)
  local out = {}
  for i, nt in ipairs(notes) do
    out[i] = string.format("%d %d %d %d %d", nt.n, math.floor(nt.s * D.TICKS + 0.5), math.floor(nt.d * D.TICKS + 0.5),
                           nt.v, nt.c or 0)
  end
  return table.concat(out, ";")
end
D.pack_notes = pack_notes

-- packed text -> the same list check_notes makes (validated the same way); raises an argument error
local function unpack_notes (text, key, clip_len)
  if type(text) ~= "string" then fail("argument '%s' must be a string \"n s d v c;...\" (s, d in ticks)", key) end
  local out = {}
  local pos = 1
  local len = #text
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
    local sb = st / D.TICKS
    if clip_len and sb >= clip_len then
      fail("%s[%d].s = %d ticks is outside the clip (length %s beats)", key, i, st, tostring(clip_len))
    end
    out[i] = { n = n, s = sb, d = dt / D.TICKS, v = v, c = c }
  end
  return out
end
D.unpack_notes = unpack_notes

-- the notes of a command: "notes" (JSON list) or "notes_packed"; at most max_notes (default D.MAX_NOTES)
function D.command_notes (args, key, packed_key, clip_len, max_notes)
  local notes
  if args[packed_key] ~= nil and args[packed_key] ~= json.null then
    if args[key] ~= nil and args[key] ~= json.null then fail("give '%s' or '%s', not both", key, packed_key) end
    notes = unpack_notes(args[packed_key], packed_key, clip_len)
  else
    notes = check_notes(args[key], key, clip_len)
  end
  max_notes = max_notes or D.MAX_NOTES
  if #notes > max_notes then
    fail("%d notes in one command (at most %d): send the rest with edit_clip 'add'", #notes, max_notes)
  end
  return notes
end

-- edit_clip's notes: those to add (within the clip, at most max_notes) and the positions in `existing` (the clip's
-- notes as read back) of those to remove, each matched by pitch and by start within tol beats. Raises an argument
-- error, before anything changes, when nothing is asked or a note to remove is not in the clip.
function D.edit_clip_notes (args, existing, clip_len, ref, tol, max_notes)
  local add = D.command_notes(args, "add", "add_packed", clip_len, max_notes)
  local remove = check_notes(args.remove, "remove", nil, true)
  if #add == 0 and #remove == 0 then fail("nothing to do: give 'add' and/or 'remove' notes") end
  local used, positions = {}, {}
  -- the clip's notes by pitch: a bulk removal (2,000 of 25,000 notes) scans one pitch's notes per note, not all
  local by_pitch = {}
  if #remove > 0 then
    for k, en in ipairs(existing) do
      local b = by_pitch[en.n]
      if not b then b = {}; by_pitch[en.n] = b end
      b[#b + 1] = k
    end
  end
  for i, rn in ipairs(remove) do
    local found
    for _, k in ipairs(by_pitch[rn.n] or {}) do
      local en = existing[k]
      if not used[k] and math.abs(en.s - rn.s) <= tol then found = k; break end
    end
    if not found then fail("remove[%d]: no note n=%d at s=%s in clip %s", i, rn.n, tostring(rn.s), ref) end
    used[found] = true
    positions[#positions + 1] = found
  end
  return add, positions
end

-- create_track's arguments, checked before anything changes: name, type, instrument, instrument_aliases, params, preset
function D.create_track_args (args)
  local name = get_string(args, "name")
  local ttype = get_string(args, "type")
  if ttype ~= "midi" and ttype ~= "audio" then fail("argument 'type' must be \"midi\" or \"audio\"") end
  local inst = get_string(args, "instrument", true)
  local aliases = get_string_list(args, "instrument_aliases")
  local params = args.params
  if params ~= nil and params ~= json.null and type(params) ~= "table" then
    fail("argument 'params' must be an object {parameter: 0..1}")
  end
  return name, ttype, inst, aliases, params, get_string(args, "preset", true)
end

-- remove_effect's argument 'index' (1-based) into `chain`, the track's plugins as a list: the index and its entry
function D.chain_entry (args, chain)
  local index = as_int(args.index)
  if not index or index < 1 then fail("argument 'index' must be an integer >= 1") end
  local entry = chain[index]
  if not entry then fail("no effect at index %d (the track has %d plugins in its chain)", index, #chain) end
  return index, entry
end

-- ---------------------------------------------------------------------------
-- the command envelope (PROTOCOL.md): decode, deadline, dispatch, reply
-- ---------------------------------------------------------------------------
-- The command in a file named id: cmd, nil; or cmd (if it decoded to an object), reply text of a bad command.
-- Malformed commands are answered but not remembered (a corrected command may reuse the id).
function D.decode_command (id, text)
  local ok, cmd = pcall(json.decode, text)
  if not ok then return nil, json.encode({ id = id, ok = false, error = "bad command: " .. tostring(cmd) }) end
  if type(cmd) ~= "table" or json.is_array(cmd) then
    return nil, json.encode({ id = id, ok = false, error = "bad command: not a JSON object" })
  end
  if cmd.id ~= id then
    return cmd, json.encode({ id = id, ok = false, error = "bad command: id does not match the file name" })
  end
  return cmd, nil
end

-- The undo name of a changing command: its "request", else "dawbridge: <op>".
function D.request_name (cmd, op)
  return (type(cmd.request) == "string" and cmd.request ~= "") and one_line(cmd.request) or ("dawbridge: " .. op)
end

-- Looks the command's op up in ops: fn, args (an object); or nil, the error reply.
function D.lookup_op (ops, cmd)
  local op = cmd.op
  local fn = type(op) == "string" and ops[op]
  if not fn then
    return nil, { id = cmd.id, ok = false, error = "unknown op: " .. (type(op) == "string" and op or tostring(op)) }
  end
  local args = cmd.args
  if args == nil or args == json.null then args = {} end
  if type(args) ~= "table" or json.is_array(args) then
    return nil, { id = cmd.id, ok = false, error = "bad command: 'args' must be an object" }
  end
  return fn, args
end

-- The reply to a command whose op ran under pcall (ok, res): an argument error is the op's message, anything else
-- an internal error naming the op.
function D.op_reply (cmd, ok, res)
  if ok then return { id = cmd.id, ok = true, result = res } end
  local msg
  if getmetatable(res) == ArgError then msg = res.msg
  else msg = "internal error in " .. cmd.op .. ": " .. tostring(res) end
  return { id = cmd.id, ok = false, error = msg }
end

-- Runs a decoded command unless its deadline passed (now_ms: the host's clock); execute(cmd) -> reply table.
-- Returns the reply text (always valid JSON).
function D.run_command (id, cmd, now_ms, execute)
  local reply
  if type(cmd.deadline_ms) ~= "number" then
    reply = { id = id, ok = false, error = "bad command: missing deadline_ms" }
  elseif now_ms > cmd.deadline_ms then
    reply = { id = id, ok = false, error = string.format("expired: deadline %.0f passed %.0f ms ago; not executed",
                                                         cmd.deadline_ms, now_ms - cmd.deadline_ms) }
  else
    reply = execute(cmd)
  end
  local eok, rtext = pcall(json.encode, reply)
  if not eok then rtext = json.encode({ id = id, ok = false, error = "cannot encode reply: " .. tostring(rtext) }) end
  return rtext
end

return D
