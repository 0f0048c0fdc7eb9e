# agent/agent.cmake: the two-stage agent (agent, prompt) and its integration test.
add_library(dbagentcore STATIC
  ${DAWBRIDGE_SOURCE_DIR}/agent/agent.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/agent_plan.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/agent_exec.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/agent_verify.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/agent_report.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/prompt.c)
target_include_directories(dbagentcore PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent)  # bridge/ comes with dbagent (layers)
target_link_libraries(dbagentcore PUBLIC dbagent dbmusic dbllm dbhistory PkgConfig::LIBUV PkgConfig::JANSSON ${MATH_LIB})

if(DAWBRIDGE_TESTS)
  db_add_test(test_prompt SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_prompt.c
              LIBS dbagentcore LABELS unit agent)
  db_add_test(test_agent SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/integration/test_agent.c
              ${DAWBRIDGE_SOURCE_DIR}/tests/integration/agent_fixture.c
              LIBS dbagentcore dbmockllm LABELS integration agent TIMEOUT 600)
endif()

# The CLI end to end, offline: `dawbridge demo` (mock DAW + companion + scripted model), and `exec` of the example
# plan. Each must exit 0 AND print its key lines: every step confirmed, none uncertain or failed, the session
# matching the plan, the kick track with its clip and reverb (tests/support/expect-run.sh checks both; ctest's
# PASS_REGULAR_EXPRESSION alone would ignore the exit code). Each writes its history under its own build-tree dir.
if(DAWBRIDGE_TESTS)
  set(_db_expect bash ${DAWBRIDGE_SOURCE_DIR}/tests/support/expect-run.sh)
  add_test(NAME cli_demo COMMAND ${_db_expect} --exit 0
           --match "^  \"status\": \"ok\",$" --match "^    \"confirmed\": 3,$" --match "^    \"uncertain\": 0,$"
           --match "^    \"failed\": 0,$" --match "\"name\": \"Kick Drum\"" --match "\"effect_name\": \"ReaVerbate\""
           --no-match "\"outcome\": \"(uncertain|failed)\""
           -- $<TARGET_FILE:dawbridge> --json --data-dir ${CMAKE_BINARY_DIR}/test-demo-data/cli_demo demo)
  add_test(NAME cli_demo_ardour_direct COMMAND ${_db_expect} --exit 0
           --match "^3 of 3 steps confirmed by the DAW, 0 uncertain, 0 failed; the session matches the plan\\.$"
           --match "^t4 +4 +Kick Drum +midi .*ACE Reverb; 1 clip, 2 notes$"
           --no-match "^ *(uncertain|failed) "
           -- $<TARGET_FILE:dawbridge> --dialect ardour --executor direct
              --data-dir ${CMAKE_BINARY_DIR}/test-demo-data/cli_demo_ardour_direct demo)
  add_test(NAME cli_exec_plan COMMAND ${_db_expect} --exit 0
           --match "^3 of 3 steps confirmed by the DAW, 0 uncertain, 0 failed; the session matches the plan\\.$"
           --match "^  confirmed add_effect .*\"effect_name\":\"ReaVerbate\"} -> t4$"
           --match "^  confirmed create_midi_clip .* -> t4 c[0-9]+$"
           -- $<TARGET_FILE:dawbridge> --daw mock --data-dir ${CMAKE_BINARY_DIR}/test-demo-data/cli_exec_plan
              exec ${DAWBRIDGE_SOURCE_DIR}/examples/kick-reverb.plan)
  set_tests_properties(cli_demo cli_demo_ardour_direct cli_exec_plan PROPERTIES LABELS "agent;cli" TIMEOUT 120
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR}")
endif()
