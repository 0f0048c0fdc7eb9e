# tests/support/support.cmake: dbtestutil, the helpers every test and bench shares (tests/support/db_test_util.h):
# free loopback ports, temporary directories, whole files, a monotonic clock, where the built programs are.
# db_add_test links it into every test; benches link it themselves.
add_library(dbtestutil STATIC ${DAWBRIDGE_SOURCE_DIR}/tests/support/db_test_util.c)
target_include_directories(dbtestutil PUBLIC ${DAWBRIDGE_SOURCE_DIR}/tests/support)
target_compile_definitions(dbtestutil PRIVATE DAWBRIDGE_BINARY_DIR="${CMAKE_BINARY_DIR}"
                                               DAWBRIDGE_SOURCE_DIR="${DAWBRIDGE_SOURCE_DIR}")
# dbtestjson: JSON and text helpers that fail the running cmocka test (tests/support/db_test_json.h, db_test_text.h);
# db_add_test links it.
if(DAWBRIDGE_TESTS)
  add_library(dbtestjson STATIC ${DAWBRIDGE_SOURCE_DIR}/tests/support/db_test_json.c
                                ${DAWBRIDGE_SOURCE_DIR}/tests/support/db_test_text.c)
  target_include_directories(dbtestjson PUBLIC ${DAWBRIDGE_SOURCE_DIR}/tests/support)
  target_link_libraries(dbtestjson PUBLIC dbtestutil PkgConfig::JANSSON PkgConfig::CMOCKA)
endif()
db_add_test(test_support SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_support.c LABELS unit)
