# bridge/app.cmake: the DAW facade (daw), the tool catalog, and the dawbridge executable.
add_library(dbagent STATIC
  agent/tools.c
  bridge/daw.c
)
target_include_directories(dbagent PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dbagent PUBLIC dbcore dbmock PkgConfig::JANSSON)

add_executable(dawbridge
  bridge/main.c
  bridge/cli.c
  bridge/cmd_wire.c
  bridge/cmd_agent.c
  bridge/cmd_history.c
)
target_link_libraries(dawbridge PRIVATE dbagent dbcore dbmock dbhistory dbmusic dbllm)

db_add_test(test_tools SOURCES tests/unit/test_tools.c LIBS dbagent)
