# tests/install/install.cmake: the install works without the source tree (tests/install/install_test.sh).
# RUN_SERIAL: run by an unprivileged user, the test makes the source and build trees unreadable for a moment.
if(DAWBRIDGE_TESTS)
  add_test(NAME test_install_runs_without_source_tree
           COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/install/install_test.sh ${CMAKE_BINARY_DIR} ${DAWBRIDGE_SOURCE_DIR})
  set_tests_properties(test_install_runs_without_source_tree PROPERTIES LABELS "install;integration"
                       SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE
                       ENVIRONMENT "DAWBRIDGE_TEST_PREFIX_DATADIR=${CMAKE_INSTALL_FULL_DATADIR}/dawbridge")
endif()
