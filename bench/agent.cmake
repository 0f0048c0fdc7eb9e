# bench/agent.cmake: agent overhead benchmark.
