include(bench/llm.cmake)
