-- dawbridge_hook.lua: dawbridge companion for the Ardour GUI: the body of an EditorHook on the 100 ms
-- LuaTimerDS timer. install-gui-hook.sh embeds this chunk (with the core-path placeholder below set to the absolute path
-- of dawbridge_core.lua) into Ardour's ui_scripts file. Ardour calls the chunk once and keeps the function it
-- returns; the core object below lives as long as the hook (undo bookkeeping and duplicate-id memory persist).
-- Native undo works in the GUI: one Ardour transaction per AI request (Edit > Undo, OSC /undo).
-- A callback that raises is dropped by Ardour, so everything runs under pcall.
local core_path = "@DAWBRIDGE_CORE@"
local core, broken
return function (signal, ref, ...)
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
  local ok, err = pcall(core.poll, core)
  if not ok then print("dawbridge: poll error: " .. tostring(err)) end
end
