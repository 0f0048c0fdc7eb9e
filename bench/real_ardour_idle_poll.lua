-- bench/real_ardour_idle_poll.lua: the companion's idle cost inside Ardour's Lua session host, without the noise of
-- whole-process CPU figures on a shared machine: N idle polls back to back (no command waiting), wall time each.
-- Run by bench/real_ardour.sh:  luasession real_ardour_idle_poll.lua SESSION_DIR SNAPSHOT CORE SPOOL [N]
-- Prints "ardour.idle_poll_us <microseconds per poll>" and the implied CPU share at the headless loop's 100 polls/s.
local sess, snap, core_path, spool, n = arg[1], arg[2], arg[3], arg[4], tonumber(arg[5] or "20000")
AudioEngine:set_backend("None (Dummy)", "", "")
assert(load_session(sess, snap), "load_session failed")
local f = assert(io.open(core_path, "r"))
local C = assert(load(f:read("a"), "=dawbridge_core.lua"))(core_path)
f:close()
local core = C.new({ mode = "headless", spool = spool, log = function () end })
local stop = io.open(spool .. "/ardour.stop", "r")  -- what the headless loop also does on every poll
if stop then stop:close() end
for _ = 1, 100 do core:poll() end  -- warm up
local t0 = ARDOUR.LuaAPI.monotonic_time()
for _ = 1, n do
  local sf = io.open(spool .. "/ardour.stop", "r")
  if sf then sf:close() end
  core:poll()
end
local us = (ARDOUR.LuaAPI.monotonic_time() - t0) / n
print(string.format("%-40s %10.2f %s", "ardour.idle_poll_us", us, "us per idle poll (wall)"))
print(string.format("%-40s %10.3f %s", "ardour.idle_poll_cpu_at_100_per_s", us * 100 / 1e6 * 100, "% of a core (upper bound)"))
close_session()
quit()
