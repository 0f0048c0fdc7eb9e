# bridge/undo.cmake: undo/restore through the DAW (undo), its tests, and the history CLI test.
add_library(dbundo STATIC ${DAWBRIDGE_SOURCE_DIR}/bridge/undo.c)
target_include_directories(dbundo PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dbundo PUBLIC dbagent dbhistory)

db_add_test(test_undo
  SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/integration/test_undo.c
  LIBS dbundo dbtest_wire
  LABELS integration
  TIMEOUT 300)
db_add_test(test_history_cli
  SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/integration/test_history_cli.c
          ${DAWBRIDGE_SOURCE_DIR}/tests/support/smf_reader.c
  LIBS dbhistory
  LABELS integration
  TIMEOUT 300)
if(TARGET test_history_cli)
  add_dependencies(test_history_cli dawbridge mock-daw)
endif()
