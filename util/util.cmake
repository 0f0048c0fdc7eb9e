# util/util.cmake: the bottom utility layer, below vocab/: the one-of-each helpers every layer may use (vocab,
# osc-maps, bridge, agent, app, mock-daw, tests, benches) without pulling in anything else: strbuf.c (the growable
# string buffer) and errfmt.h (header only: the caller's message buffer). util/ includes nothing of ours.
# Library dbutil; its PUBLIC include path is util/ only. Included first by the top CMakeLists.txt.
add_library(dbutil STATIC ${DAWBRIDGE_SOURCE_DIR}/util/strbuf.c)
target_include_directories(dbutil PUBLIC ${DAWBRIDGE_SOURCE_DIR}/util)
db_add_test(test_strbuf SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_strbuf.c LIBS dbutil LABELS unit)
