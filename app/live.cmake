# app/live.cmake: the live session core (live), history undo/restore as one operation (histop), the control socket
# (ctl server + client), `dawbridge run|status`, and their tests. Included after app/app.cmake.
add_library(dblive STATIC
  ${DAWBRIDGE_SOURCE_DIR}/app/live.c
  ${DAWBRIDGE_SOURCE_DIR}/app/histop.c)
target_include_directories(dblive PUBLIC ${DAWBRIDGE_SOURCE_DIR}/app ${DAWBRIDGE_SOURCE_DIR}/agent
  ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dblive PUBLIC dbagentcore dbundo dbagent dbcore dbmock dbhistory dbmusic dbllm
  PkgConfig::LIBUV PkgConfig::JANSSON)

target_link_libraries(dawbridge PRIVATE dblive)
