# fuzz/fuzz.cmake: one fuzz target per parser (README "Fuzz targets"). Each target is built twice:
#  - always, with fuzz/fuzz_main.c, as the ctest test fuzz_<name>_replay: the corpus fuzz/corpus/<name>/ and then
#    a fixed number of deterministic mutations of it (any compiler; bounded; fails on a crash or sanitizer report);
#  - with -DDAWBRIDGE_FUZZ=ON and clang, as the libFuzzer binary fuzz_<name>_libfuzzer. The top-level
#    CMakeLists.txt then compiles every library with -fsanitize=fuzzer-no-link (plus ASan/UBSan), so libFuzzer
#    sees the coverage of the code under test, not only of the harness. fuzz/run-libfuzzer.sh runs them all for a
#    bounded time (CI: 20 s each).
if(NOT DAWBRIDGE_TESTS)
  return()
endif()
# the sanitizer build is ~7x slower: fewer mutations keep it well inside the timeout
if(DAWBRIDGE_SANITIZE OR DAWBRIDGE_FUZZ)
  set(_db_fuzz_rounds 4000)
else()
  set(_db_fuzz_rounds 20000)
endif()

# db_fuzz_target(NAME SOURCES src... LIBS lib... [ROUNDS n])   ROUNDS: mutations in the replay test (default above)
if(DAWBRIDGE_FUZZ)
  add_custom_target(fuzzers) # all libFuzzer binaries: cmake --build build-fuzz --target fuzzers
endif()
function(db_fuzz_target name)
  cmake_parse_arguments(F "" "ROUNDS" "SOURCES;LIBS" ${ARGN})
  if(NOT IS_DIRECTORY ${DAWBRIDGE_SOURCE_DIR}/fuzz/corpus/${name})
    message(SEND_ERROR "fuzz target ${name} has no corpus: add fuzz/corpus/${name}/ with a few real inputs")
  endif()
  if(NOT F_ROUNDS)
    set(F_ROUNDS ${_db_fuzz_rounds})
  endif()
  add_executable(fuzz_${name} ${F_SOURCES} fuzz/fuzz_main.c)
  target_link_libraries(fuzz_${name} PRIVATE ${F_LIBS})
  add_test(NAME fuzz_${name}_replay COMMAND fuzz_${name} ${DAWBRIDGE_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(fuzz_${name}_replay PROPERTIES LABELS "fuzz" TIMEOUT 300
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};FUZZ_ROUNDS=${F_ROUNDS};TMPDIR=${CMAKE_BINARY_DIR}")
  if(DAWBRIDGE_FUZZ)
    add_executable(fuzz_${name}_libfuzzer ${F_SOURCES})
    target_compile_options(fuzz_${name}_libfuzzer PRIVATE -fsanitize=fuzzer)
    target_link_options(fuzz_${name}_libfuzzer PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${name}_libfuzzer PRIVATE ${F_LIBS})
    add_dependencies(fuzzers fuzz_${name}_libfuzzer)
  endif()
endfunction()

db_fuzz_target(feedback SOURCES fuzz/fuzz_feedback.c LIBS dbcore)
db_fuzz_target(session_json SOURCES fuzz/fuzz_session_json.c LIBS dbcore ROUNDS 4000)
db_fuzz_target(plan SOURCES fuzz/fuzz_plan.c LIBS dbmusic dbagent)
db_fuzz_target(plan_json SOURCES fuzz/fuzz_plan_json.c LIBS dbmusic)
db_fuzz_target(relaxed_json SOURCES fuzz/fuzz_relaxed_json.c LIBS dbmusic)
db_fuzz_target(notation SOURCES fuzz/fuzz_notation.c LIBS dbmusic)
db_fuzz_target(budget SOURCES fuzz/fuzz_budget.c LIBS dbmusic)
db_fuzz_target(instmap SOURCES fuzz/fuzz_instmap.c LIBS dbinstmap)
db_fuzz_target(vocab SOURCES fuzz/fuzz_vocab.c LIBS dbvocab)
db_fuzz_target(llm_response SOURCES fuzz/fuzz_llm_response.c LIBS dbllm)
db_fuzz_target(packed SOURCES fuzz/fuzz_packed.c LIBS dbagent)
# each input waits for the command file the bridge writes (a few ms of file I/O): fewer mutations
db_fuzz_target(companion_reply SOURCES fuzz/fuzz_companion_reply.c LIBS dbagent dbtestutil ROUNDS 500)
db_fuzz_target(surface SOURCES fuzz/fuzz_surface.c LIBS dbsurfacecodec)
db_fuzz_target(web SOURCES fuzz/fuzz_web.c LIBS dbwebreq)
db_fuzz_target(mcp SOURCES fuzz/fuzz_mcp.c app/mcp_server.c LIBS dblive dbvocab)
db_fuzz_target(ctl SOURCES fuzz/fuzz_ctl.c LIBS dblive)
db_fuzz_target(config SOURCES fuzz/fuzz_config.c LIBS dblive)
