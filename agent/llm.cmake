# agent/llm.cmake — the LLM client (http + sse + llm + providers), the mock LLM server, tests.
add_library(dbllm STATIC
  ${DAWBRIDGE_SOURCE_DIR}/agent/http.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/sse.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/llm.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/llm_openai.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/llm_anthropic.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/llm_script.c)
target_include_directories(dbllm PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent)
target_link_libraries(dbllm PUBLIC dbutil PkgConfig::LIBUV PkgConfig::JANSSON PkgConfig::LIBCURL ${MATH_LIB})

# Mock LLM HTTP server: a library for tests/benches on the same loop, plus a stand-alone binary.
add_library(dbmockllm STATIC ${DAWBRIDGE_SOURCE_DIR}/tests/support/mock_llm_server.c)
target_include_directories(dbmockllm PUBLIC ${DAWBRIDGE_SOURCE_DIR}/tests/support)
target_link_libraries(dbmockllm PUBLIC dbutil PkgConfig::LIBUV PkgConfig::JANSSON)

add_executable(mock-llm ${DAWBRIDGE_SOURCE_DIR}/tests/support/mock_llm_main.c)
target_link_libraries(mock-llm PRIVATE dbmockllm)

if(DAWBRIDGE_TESTS)
  db_add_test(test_sse SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_sse.c LIBS dbllm LABELS unit llm)
  db_add_test(test_llm_codec SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_llm_codec.c LIBS dbllm LABELS unit llm)
  db_add_test(test_llm_script SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_llm_script.c LIBS dbllm LABELS unit llm)
  db_add_test(test_plan_json SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_plan_json.c LIBS dbmusic dbllm
              LABELS unit llm)
  # issue 16 end to end: --profile small asks for the plan as one JSON object (the mock refuses a wrong shape)
  add_test(NAME llm_json_mode_cli COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/llm/json_mode_cli.sh
           $<TARGET_FILE:dawbridge> $<TARGET_FILE:mock-llm>)
  set_tests_properties(llm_json_mode_cli PROPERTIES LABELS "integration;llm" TIMEOUT 120)
  db_add_test(test_llm_http SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/integration/test_llm_http.c
              LIBS dbllm dbmockllm LABELS integration llm TIMEOUT 180)
endif()
