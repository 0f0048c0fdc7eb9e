# app/app.cmake: the dawbridge executable (after every library fragment), --version, and the install rules.
# The faces add their sources from their own fragments (target_sources(dawbridge PRIVATE ...)), included after this.
add_executable(dawbridge
  app/main.c
  app/cli.c
  app/cmd_wire.c
  app/cmd_agent.c
  app/cmd_history.c
  app/cmd_eval.c
  app/version.c
)
target_link_libraries(dawbridge PRIVATE dbagent dbcore dbmock dbhistory dbmusic dbllm)
foreach(_lib dbagentcore dbundo)
  if(TARGET ${_lib})
    target_link_libraries(dawbridge PRIVATE ${_lib})
  endif()
endforeach()

# --version: project(VERSION) and the source tree's `git describe` when it is a git checkout, taken at configure
# time (re-run cmake to refresh it) into a generated header only the app sees.
set(DAWBRIDGE_GIT_DESCRIBE "")
find_package(Git QUIET)
if(GIT_FOUND AND EXISTS ${DAWBRIDGE_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --tags
                  WORKING_DIRECTORY ${DAWBRIDGE_SOURCE_DIR} OUTPUT_VARIABLE DAWBRIDGE_GIT_DESCRIBE
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _db_git_rc)
  if(NOT _db_git_rc EQUAL 0)
    set(DAWBRIDGE_GIT_DESCRIBE "")
  endif()
endif()
configure_file(app/version.h.in ${CMAKE_BINARY_DIR}/generated/app/dawbridge_version.h @ONLY)
target_include_directories(dawbridge PRIVATE ${CMAKE_BINARY_DIR}/generated/app)

# Install: the programs, and their data in the install layout bridge/datadir.h reads (share/dawbridge/...).
# Programs installed are never given the DAWBRIDGE_SOURCE_DIR definition (top-level CMakeLists.txt).
set(DAWBRIDGE_INSTALLED_PROGRAMS dawbridge mock-daw)
install(TARGETS ${DAWBRIDGE_INSTALLED_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
set(_db_share ${CMAKE_INSTALL_DATADIR}/dawbridge)
# the dialect maps, instrument maps and the in-DAW companion scripts (the user copies those into the DAW)
install(DIRECTORY osc-maps/ DESTINATION ${_db_share}/osc-maps USE_SOURCE_PERMISSIONS
        FILES_MATCHING PATTERN "*.json" PATTERN "*.lua" PATTERN "*.md" PATTERN "*.sh" PATTERN "*.txt")
install(DIRECTORY agent/prompts/ DESTINATION ${_db_share}/prompts)
install(DIRECTORY examples/ DESTINATION ${_db_share}/examples)
install(FILES vocab/tools.json DESTINATION ${_db_share}/vocab)
install(FILES docs/dawbridge.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
