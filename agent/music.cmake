# agent/music.cmake: the pure music modules (notation, relaxed JSON, plan parse/validate, musical context).
add_library(dbmusic STATIC
  ${DAWBRIDGE_SOURCE_DIR}/agent/notation.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/relaxed_json.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/plan.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/plan_json.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/context.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/budget.c)
target_include_directories(dbmusic PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent)
target_link_libraries(dbmusic PUBLIC dbinstmap dbvocab PkgConfig::JANSSON ${MATH_LIB})

db_add_test(test_notation SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_notation.c LIBS dbmusic LABELS unit music)
db_add_test(test_plan SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_plan.c LIBS dbmusic LABELS unit music)
db_add_test(test_context SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_context.c LIBS dbmusic LABELS unit music)
db_add_test(test_context_keys SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_context_keys.c LIBS dbmusic LABELS unit music)
db_add_test(test_budget SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_budget.c LIBS dbmusic LABELS unit music)

# dawbridge eval, offline (scripted model, embedded mock DAW): the core suite must pass in full, and the self-test
# suite (cases built to fail) must be caught case by case.
if(DAWBRIDGE_TESTS)
  add_test(NAME eval_offline COMMAND dawbridge --data-dir ${CMAKE_BINARY_DIR}/test-eval-data eval
           ${DAWBRIDGE_SOURCE_DIR}/examples/eval/suite.json)
  add_test(NAME eval_selftest_catches_failures COMMAND dawbridge --data-dir ${CMAKE_BINARY_DIR}/test-eval-data eval
           ${DAWBRIDGE_SOURCE_DIR}/examples/eval/selftest.json)
  file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/test-eval-data)
  set_tests_properties(eval_offline eval_selftest_catches_failures PROPERTIES LABELS "agent;cli;eval" TIMEOUT 300
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR}")
  set_tests_properties(eval_offline PROPERTIES PASS_REGULAR_EXPRESSION "33 of 33 cases passed")
  set_tests_properties(eval_selftest_catches_failures PROPERTIES PASS_REGULAR_EXPRESSION
    "0 of 4 cases passed; plan valid first time 3/4; steps confirmed 4/4; checks 1/9")
  # the child runs get the model options eval resolved (--profile, also over the config file; --json-mode)
  add_test(NAME test_eval_args COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/eval/test_eval_args.sh
           $<TARGET_FILE:dawbridge> ${DAWBRIDGE_SOURCE_DIR})
  set_tests_properties(test_eval_args PROPERTIES LABELS "agent;cli;eval" TIMEOUT 300)
endif()
