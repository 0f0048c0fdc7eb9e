# util/util.cmake: the bottom utility layer, below vocab/: the one-of-each helpers every layer may use (vocab,
# osc-maps, bridge, agent, app, mock-daw, tests, benches) without pulling in anything else: strbuf.c (the growable
# string buffer), errfmt.h (header only: the caller's message buffer) and jsonget.h (header only: tiny jansson
# getters). util/ includes nothing of ours; jansson is its one dependency.
# Library dbutil; its PUBLIC include path is util/ only. Included first by the top CMakeLists.txt.
add_library(dbutil STATIC ${DAWBRIDGE_SOURCE_DIR}/util/strbuf.c)
target_include_directories(dbutil PUBLIC ${DAWBRIDGE_SOURCE_DIR}/util)
target_link_libraries(dbutil PUBLIC PkgConfig::JANSSON)
db_add_test(test_strbuf SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_strbuf.c LIBS dbutil LABELS unit)
db_add_test(test_jsonget SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_jsonget.c LIBS dbutil LABELS unit)
