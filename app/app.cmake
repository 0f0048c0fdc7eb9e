# app/app.cmake: the dawbridge executable (after every library fragment).
add_executable(dawbridge
  app/main.c
  app/cli.c
  app/cmd_wire.c
  app/cmd_agent.c
  app/cmd_history.c
  app/cmd_eval.c
)
target_link_libraries(dawbridge PRIVATE dbagent dbcore dbmock dbhistory dbmusic dbllm)
foreach(_lib dbagentcore dbundo)
  if(TARGET ${_lib})
    target_link_libraries(dawbridge PRIVATE ${_lib})
  endif()
endforeach()
