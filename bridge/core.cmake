# bridge/core.cmake: the wire (link, session mirror, dialect maps, sync) as a static library.
# The data lookup (bridge/datadir.h): the one place that knows the build tree, its source tree and the install dir.
add_library(dbdatadir STATIC bridge/datadir.c)
target_include_directories(dbdatadir PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_compile_definitions(dbdatadir PRIVATE DAWBRIDGE_BUILD_TREE="${CMAKE_BINARY_DIR}"
  DAWBRIDGE_SOURCE_TREE="${CMAKE_SOURCE_DIR}" DAWBRIDGE_INSTALL_DATADIR="${CMAKE_INSTALL_FULL_DATADIR}/dawbridge")
target_link_libraries(dbdatadir PUBLIC dbutil PkgConfig::LIBUV)
db_add_test(test_datadir SOURCES tests/unit/test_datadir.c LIBS dbdatadir LABELS unit)

# Instrument maps (roles -> a DAW's plugins): pure data + jansson, also used by the plan validator (dbmusic).
add_library(dbinstmap STATIC osc-maps/instmap.c)
target_include_directories(dbinstmap PUBLIC ${DAWBRIDGE_SOURCE_DIR}/osc-maps)
target_link_libraries(dbinstmap PUBLIC dbutil dbdatadir PkgConfig::JANSSON)
db_add_test(test_instmap SOURCES tests/unit/test_instmap.c LIBS dbinstmap LABELS unit)
db_add_test(test_plan_instruments SOURCES tests/unit/test_plan_instruments.c LIBS dbmusic dbinstmap LABELS unit music)
# the reference request end to end (agent, direct executor) against the embedded mock DAW + companion, both dialects
db_add_test(test_instruments SOURCES tests/integration/test_instruments.c tests/integration/agent_fixture.c
            LIBS dbagentcore dbmockllm LABELS integration mock TIMEOUT 300)

add_library(dbcore STATIC
  bridge/session.c
  bridge/link.c
  bridge/sync.c
  osc-maps/oscmap.c
)
target_include_directories(dbcore PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bridge ${DAWBRIDGE_SOURCE_DIR}/osc-maps)
target_link_libraries(dbcore PUBLIC dbutil dbvocab dbdatadir dbinstmap PkgConfig::LIBLO PkgConfig::LIBUV PkgConfig::JANSSON ${MATH_LIB})

if(EXISTS ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_session.c)
  db_add_test(test_session SOURCES tests/unit/test_session.c LIBS dbcore)
endif()
if(EXISTS ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_oscmap.c)
  db_add_test(test_oscmap SOURCES tests/unit/test_oscmap.c LIBS dbcore dbtest_osc_client)
endif()
if(EXISTS ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_link.c)
  db_add_test(test_link SOURCES tests/unit/test_link.c LIBS dbcore)
endif()

# Integration: bridge <-> in-process mock DAW over real UDP (both dialects).
if(DAWBRIDGE_TESTS)
  add_library(dbtest_wire STATIC tests/support/wire_fixture.c)
  target_include_directories(dbtest_wire PUBLIC ${DAWBRIDGE_SOURCE_DIR}/tests/support)
  # the DAW facade too (dbagent): facade tests use the fixture's loop, log and result with their own daw_t
  target_link_libraries(dbtest_wire PUBLIC dbcore dbmock dbagent dbtestutil dbtest_osc_client PkgConfig::CMOCKA)
endif()
db_add_test(test_wire SOURCES tests/integration/test_wire.c LIBS dbtest_wire dbtest_osc_client LABELS integration TIMEOUT 300)
# `dawbridge call` end to end against a mock-daw process: exit codes of the three outcomes, loss, nothing listening
db_add_test(test_call_cli SOURCES tests/integration/test_call_cli.c LABELS integration mock TIMEOUT 600)

# Real Ardour: ctest starts one headless Ardour for these tests and stops it by PID afterwards.
if(DAWBRIDGE_TESTS AND DAWBRIDGE_REAL_ARDOUR)
  set(DB_ARDOUR_PORT 3861)
  add_test(NAME real_ardour_start COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/support/ardour-runner.sh start ${DB_ARDOUR_PORT})
  add_test(NAME real_ardour_stop COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/support/ardour-runner.sh stop ${DB_ARDOUR_PORT})
  set_tests_properties(real_ardour_start PROPERTIES FIXTURES_SETUP real_ardour LABELS real-ardour TIMEOUT 180)
  set_tests_properties(real_ardour_stop PROPERTIES FIXTURES_CLEANUP real_ardour LABELS real-ardour TIMEOUT 60)
  db_add_test(test_real_ardour SOURCES tests/integration/test_real_ardour.c LIBS dbtest_wire dbtest_osc_client
              LABELS real-ardour TIMEOUT 180)
  set_tests_properties(test_real_ardour PROPERTIES FIXTURES_REQUIRED real_ardour RUN_SERIAL TRUE SKIP_RETURN_CODE 77
    ENVIRONMENT "DAWBRIDGE_ARDOUR_PORT=${DB_ARDOUR_PORT};DAWBRIDGE_ARDOUR_SESSION=/tmp/dawbridge-ardour-${DB_ARDOUR_PORT}/session/osctest.ardour;DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};DAWBRIDGE_BINARY_DIR=${CMAKE_BINARY_DIR}")
  # issue 10 §3 / issue 11 "no hang": one add_marker -> one marker; 256- and 1,000-track sessions sync completely
  # (tests/integration/ardour_sized_session.sh: creating the 1,000-track session takes minutes the first time; it is
  # kept in /tmp/dawbridge-ardour-sized-PORT for later runs)
  # one executable, one ctest test per Ardour fixture (argv[1] picks the test), so not db_add_test
  add_executable(test_real_ardour_sync tests/integration/test_real_ardour_sync.c
                 ${DAWBRIDGE_SOURCE_DIR}/tests/support/db_skip.c)
  target_include_directories(test_real_ardour_sync PRIVATE ${DAWBRIDGE_SOURCE_DIR}/tests/support)
  set_property(SOURCE tests/integration/test_real_ardour_sync.c APPEND PROPERTY COMPILE_DEFINITIONS _skip=db_skip_policy)
  target_link_libraries(test_real_ardour_sync PRIVATE dbtest_wire dbtest_osc_client PkgConfig::CMOCKA)
  add_test(NAME test_real_ardour_sync COMMAND test_real_ardour_sync marker)
  set_tests_properties(test_real_ardour_sync PROPERTIES FIXTURES_REQUIRED real_ardour RUN_SERIAL TRUE
    SKIP_RETURN_CODE 77 LABELS real-ardour TIMEOUT 180
    ENVIRONMENT "DAWBRIDGE_ARDOUR_PORT=${DB_ARDOUR_PORT};DAWBRIDGE_ARDOUR_SESSION=/tmp/dawbridge-ardour-${DB_ARDOUR_PORT}/session/osctest.ardour;DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};DAWBRIDGE_BINARY_DIR=${CMAKE_BINARY_DIR}")
  foreach(n 256 1000)
    math(EXPR p "${DB_ARDOUR_PORT} + 1 + (${n} / 1000)")
    add_test(NAME real_ardour_sized_${n}_start
             COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/integration/ardour_sized_session.sh start ${n} ${p})
    add_test(NAME real_ardour_sized_${n}_stop
             COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/integration/ardour_sized_session.sh stop ${p})
    set_tests_properties(real_ardour_sized_${n}_start PROPERTIES FIXTURES_SETUP real_ardour_sized_${n}
      LABELS real-ardour TIMEOUT 2400 RUN_SERIAL TRUE)
    set_tests_properties(real_ardour_sized_${n}_stop PROPERTIES FIXTURES_CLEANUP real_ardour_sized_${n}
      LABELS real-ardour TIMEOUT 120)
    add_test(NAME test_real_ardour_sync_${n} COMMAND test_real_ardour_sync sized)
    set_tests_properties(test_real_ardour_sync_${n} PROPERTIES FIXTURES_REQUIRED real_ardour_sized_${n} RUN_SERIAL TRUE
      SKIP_RETURN_CODE 77 LABELS real-ardour TIMEOUT 600
      ENVIRONMENT "DAWBRIDGE_ARDOUR_SIZED_PORT=${p};DAWBRIDGE_ARDOUR_SIZED_TRACKS=${n};DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};DAWBRIDGE_BINARY_DIR=${CMAKE_BINARY_DIR}")
  endforeach()
endif()
