-- dawbridge_hook.lua: dawbridge companion for the Ardour GUI: the body of an EditorHook on the 100 ms
-- LuaTimerDS timer. install-gui-hook.sh embeds this chunk (with the core-path placeholder below set to the absolute path
-- of dawbridge_core.lua) into Ardour's ui_scripts file. Ardour calls the chunk once and keeps the function it
-- returns; the core object below lives as long as the hook (undo bookkeeping and duplicate-id memory persist).
-- Native undo works in the GUI: one Ardour transaction per AI request (Edit > Undo, OSC /undo).
-- A callback that raises is dropped by Ardour, so everything runs under pcall.
--
-- Idle cost. Ardour 7.3's hook manager (gtk2_ardour/luainstance.cc, LuaCallback::init: `call`) runs a *full*
-- `collectgarbage()` of the hook's Lua state after every callback. That state holds all of Ardour's Lua bindings
-- and the core (~1.7 MB): one full collection took 0.8-1.2 ms under Xvfb here, 10 times a second -- about 1
-- percentage point of a core, the whole measured idle cost of the hook (the poll itself is one failed rename(2)).
-- So the hook replaces the global `collectgarbage` of its own Lua state (each hook has its own; nothing else of
-- Ardour's sees it) with a wrapper that skips exactly the one full collection Ardour asks for right after an
-- idle tick; after a tick that did work (a command answered, Ardour's undo/redo followed) and at least every
-- FULL_GC_EVERY ticks the full collection runs as before. Lua's own incremental collector keeps running on
-- allocation, and an idle poll allocates almost nothing.
local core_path = "@DAWBRIDGE_CORE@"
local FULL_GC_EVERY = 600  -- ticks (60 s) between full collections while idle
local core, broken
local real_gc = collectgarbage
local skip_next, idle_ticks = false, 0
collectgarbage = function (opt, ...)
  if opt == nil and skip_next then
    skip_next = false
    return 0
  end
  return real_gc(opt, ...)
end
return function (signal, ref, ...)
  skip_next = false
  if broken then return end
  if not core then
    local ok, err = pcall(function ()
      local f = assert(io.open(core_path, "r"), "cannot open " .. core_path)
      local C = assert(load(f:read("a"), "=dawbridge_core.lua"))(core_path)
      f:close()
      core = C.new({ mode = "gui" })
      print("dawbridge: GUI hook ready, spool " .. core.spool)
    end)
    if not ok then broken = true; print("dawbridge: hook disabled: " .. tostring(err)); return end
  end
  local seq = core.mark_seq
  local ok, n = pcall(core.poll, core)
  if not ok then print("dawbridge: poll error: " .. tostring(n)) end
  if ok and n == 0 and core.mark_seq == seq and not core.txn and idle_ticks < FULL_GC_EVERY then
    idle_ticks = idle_ticks + 1
    skip_next = true
  else
    idle_ticks = 0
  end
end
