# tests/install/install.cmake: the install works without the source tree (tests/install/install_test.sh).
if(DAWBRIDGE_TESTS)
  add_test(NAME test_install_runs_without_source_tree
           COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/install/install_test.sh ${CMAKE_BINARY_DIR} ${DAWBRIDGE_SOURCE_DIR})
  set_tests_properties(test_install_runs_without_source_tree PROPERTIES LABELS "install;integration"
                       SKIP_RETURN_CODE 77 TIMEOUT 300
                       ENVIRONMENT "DAWBRIDGE_TEST_PREFIX_DATADIR=${CMAKE_INSTALL_FULL_DATADIR}/dawbridge")
endif()
