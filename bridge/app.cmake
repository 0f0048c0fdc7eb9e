# bridge/app.cmake: the agent core pieces the CLI needs, and the dawbridge executable.
add_library(dbagent STATIC
  agent/tools.c
)
target_include_directories(dbagent PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent)
target_link_libraries(dbagent PUBLIC dbcore PkgConfig::JANSSON)

add_executable(dawbridge bridge/main.c)
target_link_libraries(dawbridge PRIVATE dbagent dbcore dbmock)

if(EXISTS ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_tools.c)
  db_add_test(test_tools SOURCES tests/unit/test_tools.c LIBS dbagent)
endif()
