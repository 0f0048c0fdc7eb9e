# bridge/exe.cmake: the dawbridge executable (after every library fragment).
add_executable(dawbridge
  bridge/main.c
  bridge/cli.c
  bridge/cmd_wire.c
  bridge/cmd_agent.c
  bridge/cmd_history.c
  bridge/cmd_eval.c
)
target_link_libraries(dawbridge PRIVATE dbagent dbcore dbmock dbhistory dbmusic dbllm)
foreach(_lib dbagentcore dbundo)
  if(TARGET ${_lib})
    target_link_libraries(dawbridge PRIVATE ${_lib})
  endif()
endforeach()
