# mock-daw/mock.cmake — the mock DAW (library dbmock, executable mock-daw) and its tests.
add_library(dbmock STATIC
  ${DAWBRIDGE_SOURCE_DIR}/mock-daw/mock.c
  ${DAWBRIDGE_SOURCE_DIR}/mock-daw/reaper.c
  ${DAWBRIDGE_SOURCE_DIR}/mock-daw/ardour.c
  ${DAWBRIDGE_SOURCE_DIR}/mock-daw/companion.c
  ${DAWBRIDGE_SOURCE_DIR}/mock-daw/faults.c)
target_include_directories(dbmock PUBLIC ${DAWBRIDGE_SOURCE_DIR}/mock-daw)
target_link_libraries(dbmock PUBLIC PkgConfig::LIBLO PkgConfig::LIBUV PkgConfig::JANSSON ${MATH_LIB})

add_executable(mock-daw ${DAWBRIDGE_SOURCE_DIR}/mock-daw/main.c)
target_link_libraries(mock-daw PRIVATE dbmock)

# the small liblo + libuv OSC test client, shared with other test suites
if(DAWBRIDGE_TESTS AND NOT TARGET dbtest_osc_client)
  add_library(dbtest_osc_client STATIC ${DAWBRIDGE_SOURCE_DIR}/tests/support/osc_client.c)
  target_include_directories(dbtest_osc_client PUBLIC ${DAWBRIDGE_SOURCE_DIR}/tests/support)
  target_link_libraries(dbtest_osc_client PUBLIC PkgConfig::LIBLO PkgConfig::LIBUV)
endif()

# the mock tests' fixture (tests/support/mock_fixture.h): the mock and an OSC client on one loop
if(DAWBRIDGE_TESTS)
  add_library(dbtest_mockfx STATIC ${DAWBRIDGE_SOURCE_DIR}/tests/support/mock_fixture.c)
  target_include_directories(dbtest_mockfx PUBLIC ${DAWBRIDGE_SOURCE_DIR}/tests/support)
  target_link_libraries(dbtest_mockfx PUBLIC dbmock dbtest_osc_client dbtestutil PkgConfig::CMOCKA)
endif()

db_add_test(test_mock_reaper SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_mock_reaper.c
            LIBS dbtest_mockfx LABELS mock)
db_add_test(test_mock_ardour SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_mock_ardour.c
            LIBS dbtest_mockfx LABELS mock)
db_add_test(test_mock_companion SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_mock_companion.c
            LIBS dbtest_mockfx LABELS mock)
if(DAWBRIDGE_TESTS)
  add_dependencies(test_mock_reaper mock-daw)
endif()
