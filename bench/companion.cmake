# bench/companion.cmake: the bridge side of companion round trips against the embedded mock
# (bench_companion_latency [RUNS]; real Ardour figures: bench/real_ardour).
if(TARGET dbagent)
  # what these benches share (bench_daw.h: one daw_call's outcome, waited for on the loop)
  add_library(dbbenchdaw STATIC ${DAWBRIDGE_SOURCE_DIR}/bench/bench_daw.c)
  target_include_directories(dbbenchdaw PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bench)
  target_link_libraries(dbbenchdaw PUBLIC PkgConfig::LIBUV PkgConfig::JANSSON)
  add_executable(bench_companion_latency ${DAWBRIDGE_SOURCE_DIR}/bench/companion_latency.c)
  target_link_libraries(bench_companion_latency PRIVATE dbbenchdaw dbbenchutil dbagent)
  # 10,000 notes through the bridge against a running DAW with its companion (run by tests/companions/ardour_e2e.sh
  # with ARDOUR_E2E_RUN; figures in docs/benchmarks.md, issue 11)
  add_executable(bench_real_ardour_bulk ${DAWBRIDGE_SOURCE_DIR}/bench/real_ardour_bulk.c)
  target_link_libraries(bench_real_ardour_bulk PRIVATE dbbenchdaw dbbenchutil dbagent)
endif()
