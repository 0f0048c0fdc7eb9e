# bench/companion.cmake: the bridge side of companion round trips against the embedded mock
# (bench_companion_latency [RUNS]; real Ardour figures: bench/real_ardour).
if(TARGET dbagent)
  add_executable(bench_companion_latency ${DAWBRIDGE_SOURCE_DIR}/bench/companion_latency.c)
  target_link_libraries(bench_companion_latency PRIVATE dbagent)
endif()
