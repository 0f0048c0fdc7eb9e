# bridge/history.cmake: iteration store (history), state diff / inverse calls (statediff), SMF export (midifile).
add_library(dbhistory STATIC
  ${DAWBRIDGE_SOURCE_DIR}/bridge/history.c
  ${DAWBRIDGE_SOURCE_DIR}/bridge/statediff.c
  ${DAWBRIDGE_SOURCE_DIR}/bridge/midifile.c)
target_include_directories(dbhistory PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dbhistory PUBLIC dbutil PkgConfig::JANSSON ${MATH_LIB})

db_add_test(test_history
  SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_history.c
  LIBS dbhistory)
db_add_test(test_statediff
  SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_statediff.c
  LIBS dbhistory)
db_add_test(test_midifile
  SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_midifile.c
          ${DAWBRIDGE_SOURCE_DIR}/tests/support/smf_reader.c
  LIBS dbhistory)
db_add_test(test_history_crash
  SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/integration/test_history_crash.c
  LIBS dbhistory
  LABELS integration
  TIMEOUT 120)
