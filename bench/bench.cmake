include(bench/llm.cmake)
include(bench/wire.cmake)
include(bench/agent.cmake)
include(bench/prompt_budget.cmake)
