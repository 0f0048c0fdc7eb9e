# app/mock_embed.cmake: the in-process mock DAW behind a daw_t (app/mock_embed.c, library dbmockembed: app layer,
# used by the app's --daw mock, the live core, tests and benches), and the link lines of the targets that use it or
# the agent's tool shim (dbtools, bridge/daw.cmake). Included last, after every fragment that defines those targets.
add_library(dbmockembed STATIC ${DAWBRIDGE_SOURCE_DIR}/app/mock_embed.c)
target_include_directories(dbmockembed PUBLIC ${DAWBRIDGE_SOURCE_DIR}/app)
target_link_libraries(dbmockembed PUBLIC dbagent dbmock)

foreach(_t dblive dawbridge test_companion test_companion_bulk test_undo test_instruments test_agent
        bench_agent_overhead bench_companion_latency)
  if(TARGET ${_t})
    target_link_libraries(${_t} PRIVATE dbmockembed)
  endif()
endforeach()
foreach(_t dbagentcore fuzz_plan fuzz_plan_libfuzzer)
  if(TARGET ${_t})
    target_link_libraries(${_t} PUBLIC dbtools)
  endif()
endforeach()
