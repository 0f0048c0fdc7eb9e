-- dawbridge.lua: dawbridge companion for Ardour, headless entry (Ardour's Lua session host).
--
-- Run:   ardour7-lua dawbridge.lua SESSION_DIR [SNAPSHOT_NAME]
--   or   /usr/lib/ardour7/luasession dawbridge.lua SESSION_DIR [SNAPSHOT_NAME]   (Debian: set the ARDOUR_* env, see README)
-- Environment (all optional but the session):
--   DAWBRIDGE_ARDOUR_SESSION   session directory (if not given as the first argument)
--   DAWBRIDGE_ARDOUR_SNAPSHOT  snapshot name (default: the directory's base name)
--   DAWBRIDGE_ARDOUR_BACKEND   audio backend (default "None (Dummy)": no audio hardware needed)
--   DAWBRIDGE_ARDOUR_OSC_PORT  if set, Ardour's own OSC surface listens on this UDP port (if enabled in the session)
--   DAWBRIDGE_ARDOUR_BUFFER    if set, the backend's buffer size in samples (Dummy's default: 1024 = 21 ms at 48 kHz;
--                              Ardour applies an OSC change such as a mute at the next cycle, so this bounds how soon
--                              its feedback can confirm it)
--   DAWBRIDGE_SPOOL            spool directory (else ~/.config/dawbridge/spool, else the default, see PROTOCOL.md)
--   DAWBRIDGE_STOP_FILE        the loop exits when this file exists (default <spool>/ardour.stop; it is removed)
--   DAWBRIDGE_SAVE_ON_STOP     1 = save the session before exiting
--   DAWBRIDGE_CORE             path of dawbridge_core.lua (default: next to this script)
--   DAWBRIDGE_POLL_MS          poll period in ms while work came in the last 2 s (default 10); 2x that when idle longer
--   DAWBRIDGE_GC_STRESS        1 = a full Lua collection inside every list loop (tests: proves no list is freed mid-loop)
-- The loop polls the spool's doorbell (in/.queue, one rename(2); no process is started) every DAWBRIDGE_POLL_MS
-- while idle, and again at once after it answered something (sleep is Ardour's Lua builtin in the session host).
local function script_dir ()
  local src = (arg and arg[0]) or debug.getinfo(1, "S").source:gsub("^@", "")
  return src:match("^(.*)[/\\][^/\\]*$") or "."
end

local core_path = os.getenv("DAWBRIDGE_CORE") or (script_dir() .. "/dawbridge_core.lua")
local f = assert(io.open(core_path, "r"), "dawbridge: cannot open the core " .. core_path)
local C = assert(load(f:read("a"), "=dawbridge_core.lua"))(core_path)  -- its path: it finds ../common/ from it
f:close()

local sess_dir = (arg and arg[1]) or os.getenv("DAWBRIDGE_ARDOUR_SESSION")
assert(sess_dir and sess_dir ~= "", "dawbridge: give the session directory (argument 1 or DAWBRIDGE_ARDOUR_SESSION)")
sess_dir = sess_dir:gsub("[/\\]+$", "")
local snapshot = (arg and arg[2]) or os.getenv("DAWBRIDGE_ARDOUR_SNAPSHOT") or sess_dir:match("([^/\\]+)$")

local backend = AudioEngine:set_backend(os.getenv("DAWBRIDGE_ARDOUR_BACKEND") or "None (Dummy)", "", "")
local buffer = math.tointeger(tonumber(os.getenv("DAWBRIDGE_ARDOUR_BUFFER") or ""))
if buffer and backend and not backend:isnil() then
  if backend:set_buffer_size(buffer) ~= 0 then print("dawbridge: the backend refused buffer size " .. buffer) end
end
local osc_port = tonumber(os.getenv("DAWBRIDGE_ARDOUR_OSC_PORT") or "")
if osc_port then ARDOUR.config():set_osc_port(math.tointeger(osc_port)) end
local s = load_session(sess_dir, snapshot)
assert(s, "dawbridge: load_session failed for " .. sess_dir .. " / " .. tostring(snapshot))

local core = C.new({ mode = "headless" })
local stop_file = os.getenv("DAWBRIDGE_STOP_FILE") or (core.spool .. "/ardour.stop")
os.remove(stop_file)
print("dawbridge: READY spool=" .. core.spool .. " stop=" .. stop_file)
io.stdout:flush()

local busy_s = (tonumber(os.getenv("DAWBRIDGE_POLL_MS") or "") or 10) / 1000
local idle_s = 2 * busy_s  -- after 2 s without work: half the polls (an idle poll costs tens of microseconds)
local function now_s () return ARDOUR.LuaAPI.monotonic_time() / 1e6 end
local last_work = now_s()
while true do
  local sf = io.open(stop_file, "r")
  if sf then sf:close(); os.remove(stop_file); break end
  local ok, n = pcall(core.poll, core)
  if not ok then print("dawbridge: poll error: " .. tostring(n)) end
  if ok and n > 0 then
    last_work = now_s()      -- after answering, look for more work at once
  else
    sleep(now_s() - last_work < 2 and busy_s or idle_s)
  end
end

if core.txn then pcall(core.commit_txn, core) end
if os.getenv("DAWBRIDGE_SAVE_ON_STOP") == "1" then
  Session:save_state("", false, false, false, false, false)
end
close_session()
print("dawbridge: STOPPED")
quit()
