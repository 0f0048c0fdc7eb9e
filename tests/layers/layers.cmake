# tests/layers/layers.cmake: includes point down only (DESIGN.md "Layers"; README "Architecture").
#   util (dbutil; util/, every layer may use it) <- vocab (dbvocab) <- bridge (dbdatadir dbinstmap dbcore dbagent
#   dbhistory dbundo; bridge/ + osc-maps/) <- agent (dbllm dbmusic dbtools dbagentcore; agent/) <- app (the dawbridge executable, dblive, dbmockembed, the
#   faces; app/). mock-daw (dbmock; mock-daw/) stands alone: the app and the tests embed it.
# Each library puts only its own layer's directories on its PUBLIC include path, so a source including a header of
# a higher layer does not compile. Checked two ways:
#   test_layers_includes_point_down        every #include "..." of vocab/ bridge/ osc-maps/ agent/ app/ mock-daw/
#                                          against the allowed directories (tests/layers/check_includes.sh)
#   test_layers_check_catches_wrong_include   that check reports planted wrong includes (it can fail)
#   test_layers_wrong_include_is_a_build_error  a probe compiled with each layer's libraries' real include path:
#                                          its own headers compile, a higher layer's header is "No such file"
if(NOT DAWBRIDGE_TESTS)
  return()
endif()
add_test(NAME test_layers_includes_point_down
         COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/layers/check_includes.sh ${DAWBRIDGE_SOURCE_DIR})
add_test(NAME test_layers_check_catches_wrong_include
         COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/layers/check_includes_selftest.sh)

# db_layer_probe(NAME HEADER LIBS...): an object library (not built by default) compiling tests/layers/probe.c
# with #include HEADER against LIBS' usage requirements.
# The probe's include directories and definitions, as CMake computes them for that target (its own plus every linked
# library's usage requirements), are written to layers-probes/<name>.flags; probe_build.sh compiles probe.c with
# them (-fsyntax-only: seconds, where `cmake --build --target` per probe took a minute and a half on 2 busy cores).
set(_db_probes)
function(db_layer_probe name want header)
  set(t dblayers_probe_${name})
  add_library(${t} OBJECT EXCLUDE_FROM_ALL ${DAWBRIDGE_SOURCE_DIR}/tests/layers/probe.c)
  target_compile_definitions(${t} PRIVATE PROBE_HEADER="${header}")
  target_link_libraries(${t} PRIVATE ${ARGN})
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/layers-probes/${name}.flags CONTENT
    "$<$<BOOL:$<TARGET_PROPERTY:${t},INCLUDE_DIRECTORIES>>:-I$<JOIN:$<TARGET_PROPERTY:${t},INCLUDE_DIRECTORIES>,\n-I>>
$<$<BOOL:$<TARGET_PROPERTY:${t},COMPILE_DEFINITIONS>>:-D$<JOIN:$<TARGET_PROPERTY:${t},COMPILE_DEFINITIONS>,\n-D>>
")
  set(_db_probes ${_db_probes} ${want} ${name} ${header} PARENT_SCOPE)
endfunction()
set(_db_vocab_libs dbvocab)
set(_db_bridge_libs)
foreach(_l dbutil dbdatadir dbinstmap dbcore dbagent dbhistory dbundo)
  if(TARGET ${_l})
    list(APPEND _db_bridge_libs ${_l})
  endif()
endforeach()
set(_db_agent_libs)
foreach(_l dbllm dbmusic dbtools dbagentcore)
  if(TARGET ${_l})
    list(APPEND _db_agent_libs ${_l})
  endif()
endforeach()
db_layer_probe(util_ok ok strbuf.h dbutil)
db_layer_probe(util_up up vocab.h dbutil)
db_layer_probe(util_up_bridge up session.h dbutil)
db_layer_probe(vocab_ok ok vocab.h ${_db_vocab_libs})
db_layer_probe(vocab_up up session.h ${_db_vocab_libs})
db_layer_probe(bridge_ok ok daw.h ${_db_bridge_libs})
db_layer_probe(bridge_ok_maps ok oscmap.h ${_db_bridge_libs})
db_layer_probe(bridge_up up agent.h ${_db_bridge_libs})
db_layer_probe(bridge_up_mock up mock.h ${_db_bridge_libs})
db_layer_probe(agent_ok ok agent.h ${_db_agent_libs})
db_layer_probe(agent_ok_bridge ok session.h ${_db_agent_libs})
db_layer_probe(agent_up up cli.h ${_db_agent_libs})
db_layer_probe(agent_up_mock up mock.h ${_db_agent_libs})
db_layer_probe(mock_ok ok mock.h dbmock)
db_layer_probe(mock_up up session.h dbmock)
add_test(NAME test_layers_wrong_include_is_a_build_error
         COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/layers/probe_build.sh ${CMAKE_C_COMPILER}
                 ${CMAKE_BINARY_DIR}/layers-probes ${DAWBRIDGE_SOURCE_DIR}/tests/layers/probe.c ${_db_probes})
set_tests_properties(test_layers_includes_point_down test_layers_check_catches_wrong_include
  test_layers_wrong_include_is_a_build_error PROPERTIES LABELS "unit;layers" TIMEOUT 300)
