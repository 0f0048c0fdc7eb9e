-- testlib.lua: what the companion Lua tests share (test_ardour_companion.lua, test_reaper_companion.lua): a tiny
-- test runner with assertions, a private spool directory, and a client that writes command files into it, runs the
-- companion once and reads the replies back. Lua 5.3 and 5.4. Load with dofile(here .. "/testlib.lua").
local T = {}

local passed, failed = 0, 0
local before_each = nil

-- fn runs before every test (e.g. resetting the fake host); nil for none
function T.before_each (fn) before_each = fn end

-- runs fn as one named test; a raised error is a failure, printed with its traceback
function T.test (name, fn)
  if before_each then before_each() end
  local ok, err = xpcall(fn, debug.traceback)
  if ok then passed = passed + 1; print("ok   " .. name)
  else failed = failed + 1; print("FAIL " .. name .. "\n     " .. tostring(err):gsub("\n", "\n     ")) end
end

function T.eq (a, b, what)
  if a ~= b then error(string.format("%s: expected %s, got %s", what or "value", tostring(b), tostring(a)), 2) end
end
function T.truthy (v, what) if not v then error((what or "condition") .. " is false", 2) end end
function T.contains (s, sub, what)
  if type(s) ~= "string" or not s:find(sub, 1, true) then
    error(string.format("%s: %q does not contain %q", what or "text", tostring(s), sub), 2)
  end
end

-- notes read back (read_clip's "notes") are exactly the notes written: as many, each with the same n, s, d, v and c
-- (a note written without a channel reads back as channel 0)
function T.eq_notes (got, want, what)
  T.eq(#got, #want, (what or "notes") .. ": count")
  for i, nt in ipairs(want) do
    local g, w = got[i], string.format("%s[%d].", what or "notes", i)
    T.eq(g.n, nt.n, w .. "n"); T.eq(g.s, nt.s, w .. "s"); T.eq(g.d, nt.d, w .. "d")
    T.eq(g.v, nt.v, w .. "v"); T.eq(g.c, nt.c or 0, w .. "c")
  end
end

-- a new private spool directory with in/ and out/; T.finish removes it
function T.new_spool ()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p '" .. dir .. "/in' '" .. dir .. "/out'")
  return dir
end

-- removes the spool, prints the last line "N passed, N failed" and exits 1 on any failure
function T.finish (spool)
  if spool then os.execute("rm -rf '" .. spool .. "'") end
  print(string.format("%d passed, %d failed", passed, failed))
  os.exit((failed == 0 and passed > 0) and 0 or 1) -- a run where no test ran is a failure too
end

-- a spool client. opts: spool (directory), json (the companion's codec: encode/decode), run_once (runs the companion
-- over its spool once), after_write (optional, called with the id of each command file written: e.g. a doorbell).
-- Returns a table of functions: new_id, far, write_cmd, read_reply, run, cmd, call, ok_result, err_of.
function T.client (opts)
  local spool, json = opts.spool, opts.json
  local K = {}
  local seq = 0
  function K.new_id () seq = seq + 1; return string.format("20261125T101500-test-%04d", seq) end
  function K.far () return os.time() * 1000 + 600000 end
  function K.write_cmd (cmd)
    local f = assert(io.open(spool .. "/in/" .. cmd.id .. ".json", "wb"))
    f:write(type(cmd.raw) == "string" and cmd.raw or json.encode(cmd))
    f:close()
    if opts.after_write then opts.after_write(cmd.id) end
  end
  -- the decoded reply and its text, the reply file removed; nil when there is none
  function K.read_reply (id)
    local f = io.open(spool .. "/out/" .. id .. ".json", "rb")
    if not f then return nil end
    local s = f:read("a"); f:close()
    os.remove(spool .. "/out/" .. id .. ".json")
    return json.decode(s), s
  end
  -- one companion run with the given commands; returns their replies (decoded) in order
  function K.run (cmds)
    for _, c in ipairs(cmds) do K.write_cmd(c) end
    opts.run_once()
    local out = {}
    for i, c in ipairs(cmds) do out[i] = K.read_reply(c.id) or error("no reply for " .. c.id) end
    return out
  end
  function K.cmd (op, args, extra)
    local c = { id = K.new_id(), op = op, args = args or {}, deadline_ms = K.far(), reply_port = 9010 }
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
  end
  function K.call (op, args, extra) return K.run({ K.cmd(op, args, extra) })[1] end
  function K.ok_result (r, what)
    if not r.ok then error((what or "reply") .. " failed: " .. tostring(r.error), 2) end
    return r.result
  end
  function K.err_of (r)
    if r.ok then error("expected an error reply, got ok: " .. json.encode(r.result), 2) end
    return r.error
  end
  return K
end

-- The bulk-notes contract of the shared companion code (osc-maps/companions/common, PROTOCOL.md "Bulk notes"), run
-- against one host: a clip made from notes_packed reads back the same notes as JSON and packed; edit_clip adds packed
-- notes and answers packed; a "brief" add answers without notes and reads none of the host's notes; a clip created
-- with "packed" reads its notes back in the same reply, its span and name as read_clip gives them; a bad packed note
-- and notes with notes_packed are refused. K: a T.client. o: track (host id), packed (the note strings), length (of
-- each clip), start2 (where the second clip starts), pack_notes (the companion's encoder), brief_add (the add_packed
-- text of the brief add: two notes), note_reads (returns how often the host's notes have been read so far), created
-- (optional: called with the first create's reply, for the host's own checks). Returns the first clip's create
-- reply, its first packed read-back and its packed read-back after the edits.
function T.check_bulk_notes (K, o)
  local call, ok_result, err_of = K.call, K.ok_result, K.err_of
  local n = #o.packed
  local r = ok_result(call("create_midi_clip", { track = o.track, start = 0, length = o.length,
                                                 notes_packed = table.concat(o.packed, ";") }))
  T.eq(r.notes_added, n, "added")
  if o.created then o.created(r) end
  local j = ok_result(call("read_clip", { clip = r.host_id }))
  local p = ok_result(call("read_clip", { clip = r.host_id, packed = true }))
  T.eq(#j.notes, n, "json notes"); T.eq(j.notes_packed, nil, "no packed unless asked")
  T.eq(o.pack_notes(j.notes), p.notes_packed, "packed = the JSON notes")
  local e = ok_result(call("edit_clip", { clip = r.host_id, add_packed = "100 0 1920 90 0", packed = true }))
  T.eq(e.added, 1, "edit add packed"); T.eq(e.notes, nil, "packed reply"); T.truthy(#e.notes_packed > 0, "packed notes")
  -- a bulk add chunk: "brief" (no notes back), and the clip's notes are not read at all (nothing to remove)
  local reads = o.note_reads()
  local b = ok_result(call("edit_clip", { clip = r.host_id, add_packed = o.brief_add, brief = true }))
  T.eq(b.added, 2, "brief add"); T.eq(b.notes, nil, "brief: no notes"); T.eq(b.notes_packed, nil, "brief: no packed notes")
  T.eq(o.note_reads(), reads, "a bulk add reads no notes")
  local p2 = ok_result(call("read_clip", { clip = r.host_id, packed = true }))
  local j2 = ok_result(call("read_clip", { clip = r.host_id }))
  T.eq(#j2.notes, n + 3, "all notes")
  T.eq(o.pack_notes(j2.notes), p2.notes_packed, "packed = the JSON notes after edits")
  -- create_midi_clip "packed": the new clip's notes read back in the same reply (one command for a bulk clip)
  local c = ok_result(call("create_midi_clip", { track = o.track, start = o.start2, length = o.length, packed = true,
                                                  notes_packed = table.concat(o.packed, ";") }))
  local rc = ok_result(call("read_clip", { clip = c.host_id, packed = true }))
  T.eq(c.notes_packed, rc.notes_packed, "create reads back")
  -- the span and name as the host has them, as read_clip gives them (not the request's words)
  T.eq(c.start, rc.start, "create: start as read back"); T.eq(c.length, rc.length, "create: length as read back")
  T.eq(c.name, rc.name, "create: name as read back")
  T.truthy(c.name, "name")
  T.contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4, notes_packed = "60 0 x 100 0" })),
             "bad packed note")
  T.contains(err_of(call("create_midi_clip", { track = 1, start = 0, length = 4, notes_packed = "60 0 10 100 0",
                                               notes = {} })), "not both")
  return r, p, p2
end

return T
