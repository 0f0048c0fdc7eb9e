# app/live.cmake: the live session core (live), history undo/restore as one operation (histop), the control socket
# (ctl server + client), `dawbridge run|status`, and their tests. Included after app/app.cmake.
add_library(dblive STATIC
  ${DAWBRIDGE_SOURCE_DIR}/app/live.c
  ${DAWBRIDGE_SOURCE_DIR}/app/histop.c
  ${DAWBRIDGE_SOURCE_DIR}/app/ctl.c
  ${DAWBRIDGE_SOURCE_DIR}/app/ctl_client.c
  ${DAWBRIDGE_SOURCE_DIR}/app/config.c)
target_sources(dawbridge PRIVATE ${DAWBRIDGE_SOURCE_DIR}/app/cmd_run.c ${DAWBRIDGE_SOURCE_DIR}/app/cmd_client.c)
target_include_directories(dblive PUBLIC ${DAWBRIDGE_SOURCE_DIR}/app ${DAWBRIDGE_SOURCE_DIR}/agent
  ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dblive PUBLIC dbagentcore dbundo dbagent dbcore dbmock dbhistory dbmusic dbllm
  PkgConfig::LIBUV PkgConfig::JANSSON)

target_link_libraries(dawbridge PRIVATE dblive)

# the configuration file (app/config.c): table-driven cases, file and line in every message
db_add_test(test_config SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_config.c LIBS dblive LABELS unit)

db_add_test(test_live SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/integration/test_live.c
  LIBS dblive dbmockllm LABELS integration live mock TIMEOUT 300)
if(TARGET test_live)
  add_dependencies(test_live mock-daw)
endif()

# bench/live_idle.c: idle CPU and RSS over many requests of `dawbridge run`, the one-shot CLI as baseline
# (README "Live session", docs/benchmarks.md). ctest runs it short (10 s idle); by hand: bench_live_idle 60 1000.
add_executable(bench_live_idle ${DAWBRIDGE_SOURCE_DIR}/bench/live_idle.c)
target_link_libraries(bench_live_idle PRIVATE dblive)
if(DAWBRIDGE_TESTS)
  add_test(NAME bench_live_idle_short COMMAND bench_live_idle 10 1000)
  set_tests_properties(bench_live_idle_short PROPERTIES LABELS "bench;live;mock" TIMEOUT 600
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};DAWBRIDGE_BINARY_DIR=${CMAKE_BINARY_DIR}")
  add_dependencies(bench_live_idle dawbridge)
endif()

# `dawbridge demo` removes its temporary directories (a shell script driving the real binary).
if(DAWBRIDGE_TESTS)
  add_test(NAME test_demo_tmp COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/live/test_demo_tmp.sh $<TARGET_FILE:dawbridge>)
  set_tests_properties(test_demo_tmp PROPERTIES LABELS "integration;live;mock" TIMEOUT 120
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};DAWBRIDGE_BINARY_DIR=${CMAKE_BINARY_DIR}")
endif()

# The CLI through a running `dawbridge run` (a shell script driving the real binary).
if(DAWBRIDGE_TESTS)
  add_test(NAME test_live_cli COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/live/test_live_cli.sh
           $<TARGET_FILE:dawbridge> ${DAWBRIDGE_SOURCE_DIR})
  set_tests_properties(test_live_cli PROPERTIES LABELS "integration;live;mock" TIMEOUT 300
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};DAWBRIDGE_BINARY_DIR=${CMAKE_BINARY_DIR}")
endif()
