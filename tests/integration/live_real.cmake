# tests/integration/live_real.cmake: the live session (`dawbridge run`) against a real headless Ardour 7.3 with the
# companion (issue 13): a two-turn conversation over the control socket, undo, 60 s idle CPU of the daemon and of
# Ardour, Ardour restarted mid-session. The script starts its own Ardour on UDP 3960 (a session of its own, the
# companion loaded) and stops it and the daemon by PID on every exit path. Only with DAWBRIDGE_REAL_ARDOUR.
if(DAWBRIDGE_TESTS AND DAWBRIDGE_REAL_ARDOUR)
  add_test(NAME test_live_ardour_real
           COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/integration/live_ardour_real.sh $<TARGET_FILE:dawbridge>
                   ${DAWBRIDGE_SOURCE_DIR} 3960)
  set_tests_properties(test_live_ardour_real PROPERTIES LABELS "real-ardour;live" RUN_SERIAL TRUE TIMEOUT 600)
endif()
