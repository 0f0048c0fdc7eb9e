# app/mcp.cmake: the MCP face (`dawbridge mcp`: app/mcp.c on stdio, app/mcp_server.c the protocol), its fuzz
# target and its tests with the official MCP SDK client (tests/mcp/, Node). Included after app/live.cmake.
target_sources(dawbridge PRIVATE ${DAWBRIDGE_SOURCE_DIR}/app/mcp.c ${DAWBRIDGE_SOURCE_DIR}/app/mcp_server.c
  ${DAWBRIDGE_SOURCE_DIR}/app/mcp_ctl.c)
target_link_libraries(dawbridge PRIVATE dbvocab)
set_property(SOURCE ${DAWBRIDGE_SOURCE_DIR}/app/mcp.c APPEND PROPERTY
  COMPILE_DEFINITIONS DAWBRIDGE_VERSION_STRING="${PROJECT_VERSION}")

if(NOT DAWBRIDGE_TESTS)
  return()
endif()

# The protocol engine with a scripted core, no process, no Node: every bad frame and the result encoding.
db_add_test(test_mcp_server SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_mcp_server.c
  ${DAWBRIDGE_SOURCE_DIR}/app/mcp_server.c LIBS dblive dbvocab)
target_include_directories(test_mcp_server PRIVATE ${DAWBRIDGE_SOURCE_DIR}/app)

# The real client: @modelcontextprotocol/sdk (pinned by tests/mcp/package-lock.json) installed with `npm ci` into
# the build tree by a fixture (CI has the network), then tests/mcp/*.mjs against `dawbridge mcp`.
find_program(DB_NODE node)
find_program(DB_NPM npm)
if(NOT DB_NODE OR NOT DB_NPM)
  db_unavailable_test(test_mcp_sdk "node and npm are needed for the MCP SDK client test (Debian: nodejs npm)")
  return()
endif()
set(_db_mcp_dir ${CMAKE_BINARY_DIR}/tests/mcp)
foreach(_f package.json package-lock.json test_mcp_sdk.mjs)
  configure_file(${DAWBRIDGE_SOURCE_DIR}/tests/mcp/${_f} ${_db_mcp_dir}/${_f} COPYONLY)
endforeach()
add_test(NAME test_mcp_npm_ci
  COMMAND sh -c "test -d node_modules/@modelcontextprotocol/sdk || ${DB_NPM} ci --no-audit --no-fund --prefer-offline"
  WORKING_DIRECTORY ${_db_mcp_dir})
set_tests_properties(test_mcp_npm_ci PROPERTIES FIXTURES_SETUP mcp_node TIMEOUT 600)
add_test(NAME test_mcp_sdk COMMAND ${DB_NODE} ${_db_mcp_dir}/test_mcp_sdk.mjs WORKING_DIRECTORY ${_db_mcp_dir})
set_tests_properties(test_mcp_sdk PROPERTIES FIXTURES_REQUIRED mcp_node TIMEOUT 300
  ENVIRONMENT "DAWBRIDGE=$<TARGET_FILE:dawbridge>;MOCK_DAW=$<TARGET_FILE:mock-daw>;DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR}")
