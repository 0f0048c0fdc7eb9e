# app/surface.cmake: the interactive prompt (libedit) and the OSC control surface, two faces of the live session
# (README "Live session"). Included after app/app.cmake. The surface's wire format is a small library of its own
# (pure: liblo as codec + jansson) so the unit test and the fuzz target need no live session.
pkg_check_modules(LIBEDIT REQUIRED IMPORTED_TARGET libedit)
add_library(dbsurfacecodec STATIC ${DAWBRIDGE_SOURCE_DIR}/app/surface_codec.c)
target_include_directories(dbsurfacecodec PUBLIC ${DAWBRIDGE_SOURCE_DIR}/app ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dbsurfacecodec PUBLIC PkgConfig::LIBLO PkgConfig::JANSSON)

target_sources(dawbridge PRIVATE ${DAWBRIDGE_SOURCE_DIR}/app/surface.c ${DAWBRIDGE_SOURCE_DIR}/app/repl.c
  ${DAWBRIDGE_SOURCE_DIR}/app/cmd_repl.c)
target_link_libraries(dawbridge PRIVATE dbsurfacecodec PkgConfig::LIBEDIT)

db_add_test(test_surface_codec SOURCES ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_surface_codec.c LIBS dbsurfacecodec LABELS unit surface)
