# bridge/util.cmake: the one-of-each helpers at the bottom, linked by every layer (osc-maps, bridge, agent, app,
# tests, benches) without pulling in the wire: strbuf.c (the growable string buffer) and errfmt.h (header only:
# the caller's message buffer). Library dbutil.
add_library(dbutil STATIC ${DAWBRIDGE_SOURCE_DIR}/bridge/strbuf.c)
target_include_directories(dbutil PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bridge)
db_add_test(test_strbuf SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_strbuf.c LIBS dbutil LABELS unit)
