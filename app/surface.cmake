# app/surface.cmake: the interactive prompt (libedit) and the OSC control surface, two faces of the live session
# (README "Live session"). Included after app/app.cmake. The surface's wire format is a small library of its own
# (pure: liblo as codec + jansson) so the unit test and the fuzz target need no live session.
pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
add_library(dbsurfacecodec STATIC ${DAWBRIDGE_SOURCE_DIR}/app/surface_codec.c)
target_include_directories(dbsurfacecodec PUBLIC ${DAWBRIDGE_SOURCE_DIR}/app PRIVATE ${DAWBRIDGE_SOURCE_DIR}/osc-maps)
target_link_libraries(dbsurfacecodec PUBLIC dbutil PkgConfig::LIBLO PkgConfig::JANSSON)

target_sources(dawbridge PRIVATE ${DAWBRIDGE_SOURCE_DIR}/app/surface.c ${DAWBRIDGE_SOURCE_DIR}/app/repl.c
  ${DAWBRIDGE_SOURCE_DIR}/app/cmd_repl.c)
target_link_libraries(dawbridge PRIVATE dbsurfacecodec PkgConfig::LIBEDIT)

db_add_test(test_surface_codec SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_surface_codec.c LIBS dbsurfacecodec LABELS unit surface)

# The faces against a real daemon: oscsend/oscdump (liblo-tools) and raw sockets for the surface, a
# pseudo-terminal for the prompt. A missing tool FAILS the test (skip policy, README "Tests").
if(DAWBRIDGE_TESTS)
  find_program(DB_PYTHON3 python3)
  if(NOT DB_PYTHON3)
    db_unavailable_test(test_surface_daemon "python3 not found")
    db_unavailable_test(test_repl_pty "python3 not found")
  else()
    foreach(_t surface_daemon repl_pty)
      add_test(NAME test_${_t} COMMAND ${DB_PYTHON3} ${DAWBRIDGE_SOURCE_DIR}/tests/surface/test_${_t}.py
               $<TARGET_FILE:dawbridge> $<TARGET_FILE:mock-daw>)
      set_tests_properties(test_${_t} PROPERTIES LABELS "integration;surface;mock" TIMEOUT 300
        ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};DAWBRIDGE_BINARY_DIR=${CMAKE_BINARY_DIR}")
    endforeach()
  endif()
endif()
