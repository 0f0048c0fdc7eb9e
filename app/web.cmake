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
target_link_libraries(dbweb PUBLIC dbwebreq dblive PkgConfig::LWS)
target_link_libraries(dawbridge PRIVATE dbweb)

install(DIRECTORY ${DAWBRIDGE_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/dawbridge/web
  FILES_MATCHING PATTERN "*.html" PATTERN "*.js" PATTERN "*.css" PATTERN "*.svg")

if(NOT DAWBRIDGE_TESTS)
  return()
endif()

db_add_test(test_web_req SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/web/test_web_req.c LIBS dbwebreq LABELS unit web)
