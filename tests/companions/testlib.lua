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

return T
