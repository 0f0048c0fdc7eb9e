# agent/agent.cmake: the two-stage agent (agent, prompt) and its integration test.
add_library(dbagentcore STATIC
  ${DAWBRIDGE_SOURCE_DIR}/agent/agent.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/prompt.c)
target_include_directories(dbagentcore PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dbagentcore PUBLIC dbagent dbmusic dbllm dbhistory PkgConfig::LIBUV PkgConfig::JANSSON ${MATH_LIB})

if(DAWBRIDGE_TESTS)
  db_add_test(test_prompt SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_prompt.c
              LIBS dbagentcore LABELS unit agent)
  db_add_test(test_agent SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/integration/test_agent.c
              LIBS dbagentcore dbmockllm LABELS integration agent TIMEOUT 300)
endif()

# The CLI end to end, offline: `dawbridge demo` (mock DAW + companion + scripted model), and `exec` of the example
# plan; both must exit 0. The demo writes its history under the build tree.
if(DAWBRIDGE_TESTS)
  add_test(NAME cli_demo COMMAND dawbridge --json --data-dir ${CMAKE_BINARY_DIR}/test-demo-data demo)
  add_test(NAME cli_demo_ardour_direct
           COMMAND dawbridge --dialect ardour --executor direct --data-dir ${CMAKE_BINARY_DIR}/test-demo-data demo)
  add_test(NAME cli_exec_plan COMMAND dawbridge --daw mock --data-dir ${CMAKE_BINARY_DIR}/test-demo-data
           exec ${DAWBRIDGE_SOURCE_DIR}/examples/kick-reverb.plan)
  set_tests_properties(cli_demo cli_demo_ardour_direct cli_exec_plan PROPERTIES LABELS "agent;cli" TIMEOUT 120
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR}")
  set_tests_properties(cli_demo PROPERTIES PASS_REGULAR_EXPRESSION "\"status\": \"ok\"")
endif()
