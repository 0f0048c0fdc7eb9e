# bridge/daw.cmake: the DAW facade (daw) and the companion link (library dbagent: bridge layer, no agent/ or
# mock-daw/ header on its include path), and the agent's tool shim (dbtools: agent/tools.c over vocab/, agent layer).
add_library(dbagent STATIC
  bridge/daw.c
  bridge/companion.c
  bridge/notes_packed.c
)
target_include_directories(dbagent PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bridge)
target_link_libraries(dbagent PUBLIC dbvocab dbcore PkgConfig::JANSSON)

add_library(dbtools STATIC agent/tools.c)
target_include_directories(dbtools PUBLIC ${DAWBRIDGE_SOURCE_DIR}/agent)
target_link_libraries(dbtools PUBLIC dbvocab dbcore PkgConfig::JANSSON)

db_add_test(test_tools SOURCES tests/unit/test_tools.c LIBS dbtools)
db_add_test(test_companion SOURCES tests/integration/test_companion.c LIBS dbtest_wire dbagent dbtest_osc_client
            LABELS integration TIMEOUT 300)
# the spool's security and request-id matching (companion_t alone, the test plays the companion / another user)
db_add_test(test_companion_spool SOURCES tests/integration/test_companion_spool.c LIBS dbagent LABELS integration companion)
# the packed note list of the companion protocol (bridge/notes_packed.c): decode/encode, bad input refused
db_add_test(test_notes_packed SOURCES tests/unit/test_notes_packed.c LIBS dbagent)
# bulk notes: a 20,000-note clip as one tool call, in bounded companion commands, read back whole (both dialects)
db_add_test(test_companion_bulk SOURCES tests/integration/test_companion_bulk.c LIBS dbagentcore dbtest_wire LABELS integration companion
            TIMEOUT 300)

# The seed workflow through the bridge against a real headless Ardour running the companion (started and stopped by
# tests/companions/ardour_e2e.sh, which runs this program in place of its Python driver).
if(DAWBRIDGE_TESTS AND DAWBRIDGE_REAL_ARDOUR)
  add_executable(test_companion_real tests/integration/test_companion_real.c)
  target_link_libraries(test_companion_real PRIVATE dbagent dbtest_wire PkgConfig::CMOCKA)
  add_test(NAME companion_bridge_real
           COMMAND bash ${DAWBRIDGE_SOURCE_DIR}/tests/companions/ardour_e2e.sh 3933)
  set_tests_properties(companion_bridge_real PROPERTIES
    ENVIRONMENT "ARDOUR_E2E_RUN=$<TARGET_FILE:test_companion_real>;DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};CMOCKA_MESSAGE_OUTPUT=stdout"
    LABELS "real-ardour;companion;integration" SKIP_RETURN_CODE 77 TIMEOUT 300 RUN_SERIAL TRUE
    DEPENDS companion_ardour_real)
endif()
