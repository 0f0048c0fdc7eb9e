# agent/music.cmake: the pure music modules (notation, relaxed JSON, plan parse/validate, musical context).
add_library(dbmusic STATIC
  ${DAWBRIDGE_SOURCE_DIR}/agent/notation.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/relaxed_json.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/plan.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/context.c
  ${DAWBRIDGE_SOURCE_DIR}/agent/budget.c)
target_include_directories(dbmusic PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent)
target_link_libraries(dbmusic PUBLIC dbinstmap PkgConfig::JANSSON ${MATH_LIB})

db_add_test(test_notation SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_notation.c LIBS dbmusic LABELS unit music)
db_add_test(test_plan SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_plan.c LIBS dbmusic LABELS unit music)
db_add_test(test_context SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_context.c LIBS dbmusic LABELS unit music)
db_add_test(test_context_keys SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_context_keys.c LIBS dbmusic LABELS unit music)
db_add_test(test_budget SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_budget.c LIBS dbmusic LABELS unit music)
