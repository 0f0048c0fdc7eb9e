# app/web.cmake: the web face (`dawbridge run --web-port N`): app/web.c (libwebsockets on the daemon's libuv loop)
# and app/web_req.c (the request rules, pure), the page in web/ (installed data), its fuzz target and its tests:
# the rules as a cmocka suite, the server with raw HTTP/WebSocket clients and headless Chromium (tests/web/, Node).
# Included after app/live.cmake.
pkg_check_modules(LWS REQUIRED IMPORTED_TARGET libwebsockets)
include(GNUInstallDirs)

add_library(dbwebreq STATIC ${DAWBRIDGE_SOURCE_DIR}/app/web_req.c)
target_include_directories(dbwebreq PUBLIC ${DAWBRIDGE_SOURCE_DIR}/app)
target_link_libraries(dbwebreq PUBLIC PkgConfig::JANSSON PkgConfig::LIBUV)

add_library(dbweb STATIC ${DAWBRIDGE_SOURCE_DIR}/app/web.c)
target_sources(dawbridge PRIVATE ${DAWBRIDGE_SOURCE_DIR}/app/cmd_web.c)
target_link_libraries(dbweb PUBLIC dbwebreq dblive dbdatadir PkgConfig::LWS)
target_link_libraries(dawbridge PRIVATE dbweb)

install(DIRECTORY ${DAWBRIDGE_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/dawbridge/web
  FILES_MATCHING PATTERN "*.html" PATTERN "*.js" PATTERN "*.css" PATTERN "*.svg")

if(NOT DAWBRIDGE_TESTS)
  return()
endif()

db_add_test(test_web_req SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/web/test_web_req.c LIBS dbwebreq LABELS unit web)

# The server and the page over real sockets, from Node (tests/web/, pinned by its package-lock.json, installed by
# `npm ci` into the build tree by a fixture): test_web_api (every refusal, the token file, 200 concurrent
# WebSocket clients x 3 rounds: fds and RSS back to the baseline) and test_web_browser (Debian's chromium, headless,
# driven by puppeteer-core: ask, plan, outcomes, the new track's piano roll, undo; screenshots in
# <build>/tests/web/artefacts). Both start `dawbridge --daw mock run --web-port P` and stop it (and chromium) by PID.
find_program(DB_WEB_NODE node)
find_program(DB_WEB_NPM npm)
find_program(DB_CHROMIUM NAMES chromium chromium-browser)
if(NOT DB_WEB_NODE OR NOT DB_WEB_NPM)
  db_unavailable_test(test_web_api "node and npm are needed for the web tests (Debian: nodejs npm)")
  db_unavailable_test(test_web_browser "node and npm are needed for the web tests (Debian: nodejs npm)")
  return()
endif()
set(_db_web_dir ${CMAKE_BINARY_DIR}/tests/web)
foreach(_f package.json package-lock.json web_util.mjs test_web_api.mjs test_web_browser.mjs)
  configure_file(${DAWBRIDGE_SOURCE_DIR}/tests/web/${_f} ${_db_web_dir}/${_f} COPYONLY)
endforeach()
add_test(NAME test_web_npm_ci
  COMMAND sh -c "test -d node_modules/puppeteer-core -a -d node_modules/ws || ${DB_WEB_NPM} ci --no-audit --no-fund --prefer-offline"
  WORKING_DIRECTORY ${_db_web_dir})
set_tests_properties(test_web_npm_ci PROPERTIES FIXTURES_SETUP web_node TIMEOUT 600 LABELS "web")
set(_db_web_env "DAWBRIDGE=$<TARGET_FILE:dawbridge>;DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};WEB_ARTEFACTS=${_db_web_dir}/artefacts")
if(DAWBRIDGE_SANITIZE OR DAWBRIDGE_FUZZ)
  # ASan's quarantine keeps freed memory resident for a while: RSS after the WebSocket rounds is checked loosely
  list(APPEND _db_web_env "WEB_RSS_SLACK_KIB=65536")
endif()
add_test(NAME test_web_api COMMAND ${DB_WEB_NODE} ${_db_web_dir}/test_web_api.mjs WORKING_DIRECTORY ${_db_web_dir})
set_tests_properties(test_web_api PROPERTIES FIXTURES_REQUIRED web_node TIMEOUT 300 LABELS "web;integration"
  ENVIRONMENT "${_db_web_env}")
if(NOT DB_CHROMIUM)
  db_unavailable_test(test_web_browser "Debian's chromium is needed for the browser test (apt install chromium)")
else()
  add_test(NAME test_web_browser COMMAND ${DB_WEB_NODE} ${_db_web_dir}/test_web_browser.mjs WORKING_DIRECTORY ${_db_web_dir})
  set_tests_properties(test_web_browser PROPERTIES FIXTURES_REQUIRED web_node TIMEOUT 300 LABELS "web;integration"
    ENVIRONMENT "${_db_web_env};CHROMIUM=${DB_CHROMIUM}")
endif()
