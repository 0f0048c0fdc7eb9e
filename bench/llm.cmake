# bench/llm.cmake — LLM client overhead against the mock LLM server (same loop, 127.0.0.1).
add_executable(bench_llm_overhead ${DAWBRIDGE_SOURCE_DIR}/bench/llm_overhead.c)
target_link_libraries(bench_llm_overhead PRIVATE dbllm dbmockllm)
