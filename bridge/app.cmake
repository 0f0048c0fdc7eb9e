# bridge/app.cmake: the DAW facade (daw), the tool catalog, and the dawbridge executable.
add_library(dbagent STATIC
  agent/tools.c
  bridge/daw.c
)
target_include_directories(dbagent PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dbagent PUBLIC dbcore dbmock PkgConfig::JANSSON)


db_add_test(test_tools SOURCES tests/unit/test_tools.c LIBS dbagent)
