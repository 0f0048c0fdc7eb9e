# bridge/undo.cmake: undo/restore through the DAW. Filled in by its module.
