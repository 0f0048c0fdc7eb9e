# bench/prompt_budget.cmake: the stage-1 prompt budget benchmark (bench_prompt_budget [RUNS] [--show T N]).
# prompt.c is compiled in directly (the prompt needs only the music modules, not the agent).
add_executable(bench_prompt_budget ${DAWBRIDGE_SOURCE_DIR}/bench/prompt_budget.c ${DAWBRIDGE_SOURCE_DIR}/agent/prompt.c)
target_link_libraries(bench_prompt_budget PRIVATE dbmusic dbvocab dbbenchutil)  # sorting; (dbtestutil) the clock, the source tree
