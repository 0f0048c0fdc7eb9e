include(bench/llm.cmake)
include(bench/wire.cmake)
include(bench/agent.cmake)
