# osc-maps/companions/companions.cmake: tests of the in-DAW companion scripts (included by the top-level CMakeLists.txt).
#   companion_reaper_lua   REAPER companion against a fake ReaScript API   (lua5.4, like REAPER's Lua)
#   companion_ardour_lua   Ardour companion against a fake Ardour Lua API  (lua5.3, like Ardour's Lua)
#   companion_ardour_real  end to end against a real headless Ardour 7    (only with -DDAWBRIDGE_REAL_ARDOUR=ON)
if(NOT DAWBRIDGE_TESTS)
  return()
endif()

set(_db_comp_tests ${DAWBRIDGE_SOURCE_DIR}/tests/companions)

find_program(DAWBRIDGE_LUA54 NAMES lua5.4)
find_program(DAWBRIDGE_LUA53 NAMES lua5.3)

if(DAWBRIDGE_LUA54)
  add_test(NAME companion_reaper_lua
           COMMAND ${DAWBRIDGE_LUA54} ${_db_comp_tests}/test_reaper_companion.lua
           WORKING_DIRECTORY ${_db_comp_tests})
  # the REAPER API function list every reaper.* call is checked against
  set(_db_api_list ${DAWBRIDGE_SOURCE_DIR}/docs/reaper-api-functions.txt)
  set(_db_env "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR}")
  if(DEFINED ENV{REAPER_API_LIST})
    list(APPEND _db_env "REAPER_API_LIST=$ENV{REAPER_API_LIST}")
  elseif(EXISTS ${_db_api_list})
    list(APPEND _db_env "REAPER_API_LIST=${_db_api_list}")
  endif()
  set_tests_properties(companion_reaper_lua PROPERTIES ENVIRONMENT "${_db_env}" LABELS "companion;lua" TIMEOUT 60)
else()
  db_unavailable_test(companion_reaper_lua "lua5.4 not found (apt install lua5.4)")
endif()

if(DAWBRIDGE_LUA53)
  add_test(NAME companion_ardour_lua
           COMMAND ${DAWBRIDGE_LUA53} ${_db_comp_tests}/test_ardour_companion.lua
           WORKING_DIRECTORY ${_db_comp_tests})
  set_tests_properties(companion_ardour_lua PROPERTIES
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR}" LABELS "companion;lua" TIMEOUT 60)
else()
  db_unavailable_test(companion_ardour_lua "lua5.3 not found (apt install lua5.3)")
endif()

# The tests on a real Ardour run one at a time, in a chain: each is RUN_SERIAL and DEPENDS on the one before (AFTER),
# since two real Ardours on 2 cores starve each other. COMMAND and its WORKDIR (optional), ENV (the environment, one
# VAR=value an argument), LABELS ("real-ardour;..."), TIMEOUT (s); exit 77 is a skip (no Ardour, no Xvfb).
function(_db_real_ardour_test name)
  cmake_parse_arguments(A "" "WORKDIR;TIMEOUT;AFTER" "COMMAND;ENV;LABELS" ${ARGN})
  if(A_WORKDIR)
    add_test(NAME ${name} COMMAND ${A_COMMAND} WORKING_DIRECTORY ${A_WORKDIR})
  else()
    add_test(NAME ${name} COMMAND ${A_COMMAND})
  endif()
  set_tests_properties(${name} PROPERTIES
    LABELS "${A_LABELS}" SKIP_RETURN_CODE 77 TIMEOUT ${A_TIMEOUT} RUN_SERIAL TRUE DEPENDS ${A_AFTER})
  if(A_ENV)
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "${A_ENV}")
  endif()
endfunction()

if(DAWBRIDGE_REAL_ARDOUR)
  set(_db_e2e bash ${_db_comp_tests}/ardour_e2e.sh 3917)

  _db_real_ardour_test(companion_ardour_real COMMAND ${_db_e2e} WORKDIR ${_db_comp_tests}
    ENV "DAWBRIDGE_GC_STRESS=1"  # a full Lua collection inside every list loop of the companion
    LABELS "real-ardour;companion" TIMEOUT 300 AFTER real_ardour_stop)

  # The reference request (issue 10): examples/kick-reverb.plan through `dawbridge exec` on a real headless Ardour,
  # then read back by a separate `dawbridge state`: Kick Drum with the DAW's drum kit, the exact notes, a reverb.
  _db_real_ardour_test(companion_ardour_reference COMMAND ${_db_e2e} WORKDIR ${_db_comp_tests}
    ENV "ARDOUR_E2E_RUN=${_db_comp_tests}/ardour_reference.py" "DAWBRIDGE_BIN=$<TARGET_FILE:dawbridge>"
        "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR}"
    LABELS "real-ardour;companion" TIMEOUT 300 AFTER companion_ardour_real)

  # Ardour 7.3 segfaulted when tracks were added after `dawbridge` processes that had registered a feedback surface
  # exited (2 of 2 before the map's "disconnect"); three `dawbridge state` runs, then 80 tracks: Ardour must live.
  _db_real_ardour_test(companion_ardour_surface_gone COMMAND ${_db_e2e} WORKDIR ${_db_comp_tests}
    ENV "ARDOUR_E2E_RUN=${_db_comp_tests}/ardour_surface_crash.py" "REPRO_MODE=cli"
        "DAWBRIDGE_BIN=$<TARGET_FILE:dawbridge>"
    LABELS "real-ardour;companion" TIMEOUT 400 AFTER companion_ardour_reference)

  # The same request through the GUI's timer hook, and Ardour's own /undo and /redo, in the real Ardour GUI under
  # Xvfb (needs xvfb and xauth; skipped with 77 when they are missing).
  _db_real_ardour_test(companion_ardour_gui_real COMMAND bash ${_db_comp_tests}/ardour_gui_e2e.sh 3945
    WORKDIR ${_db_comp_tests} LABELS "real-ardour;companion" TIMEOUT 300 AFTER companion_ardour_surface_gone)

  # Soak on a real headless Ardour (issue 11): 500+ mixed companion commands -- 100 small clips on one track, 20
  # clips of 5,000 notes, undo, edits, effects, read-back -- Ardour alive at the end, every note read back. The
  # companion runs with DAWBRIDGE_GC_STRESS=1 in companion_ardour_real (a collection inside every list loop), not
  # here (slow).
  _db_real_ardour_test(companion_ardour_soak COMMAND ${_db_e2e} WORKDIR ${_db_comp_tests}
    ENV "ARDOUR_E2E_RUN=${_db_comp_tests}/ardour_soak.py" "SOAK_BUDGET_S=420"
    LABELS "real-ardour;companion" TIMEOUT 480 AFTER companion_ardour_gui_real)

  # the companion's figures, real Ardour and the mock side by side (bench/real_ardour.sh; short run in ctest)
  _db_real_ardour_test(bench_real_ardour COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/bench/real_ardour.sh 3917
    ENV "BENCH_ROUNDS=30" "BENCH_IDLE_S=5" "BENCH_GUI=0" "MOCK_DAW=$<TARGET_FILE:mock-daw>"
        "DAWBRIDGE_BIN=$<TARGET_FILE:dawbridge>" "BENCH_CONFIRM_BIN=$<TARGET_FILE:bench_real_ardour_confirm>"
    LABELS "real-ardour;bench" TIMEOUT 900 AFTER companion_ardour_soak)

  # 10,000 notes written + read back through the bridge (bench/real_ardour_bulk.sh; 3 rounds in ctest)
  _db_real_ardour_test(bench_real_ardour_bulk COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/bench/real_ardour_bulk.sh 3917 3
    ENV "BUILD_DIR=${CMAKE_BINARY_DIR}" LABELS "real-ardour;bench" TIMEOUT 300 AFTER bench_real_ardour)
endif()
