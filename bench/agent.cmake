# bench/agent.cmake: agent overhead benchmark (bench_agent_overhead [RUNS]).
if(TARGET dbagentcore)
  add_executable(bench_agent_overhead ${DAWBRIDGE_SOURCE_DIR}/bench/agent_overhead.c)
  target_link_libraries(bench_agent_overhead PRIVATE dbbenchutil dbagentcore)
endif()
