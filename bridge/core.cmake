# bridge/core.cmake: the wire (link, session mirror, dialect maps, sync) as a static library.
add_library(dbcore STATIC
  bridge/session.c
  bridge/link.c
  bridge/sync.c
  osc-maps/oscmap.c
)
target_include_directories(dbcore PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bridge ${DAWBRIDGE_SOURCE_DIR}/osc-maps)
target_link_libraries(dbcore PUBLIC PkgConfig::LIBLO PkgConfig::LIBUV PkgConfig::JANSSON ${MATH_LIB})

if(EXISTS ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_session.c)
  db_add_test(test_session SOURCES tests/unit/test_session.c LIBS dbcore)
endif()
if(EXISTS ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_oscmap.c)
  db_add_test(test_oscmap SOURCES tests/unit/test_oscmap.c LIBS dbcore)
endif()
if(EXISTS ${DAWBRIDGE_SOURCE_DIR}/tests/unit/test_link.c)
  db_add_test(test_link SOURCES tests/unit/test_link.c LIBS dbcore)
endif()
