# fuzz/fuzz.cmake: fuzz targets. Always built as corpus-replay + deterministic-mutation tests (ctest);
# with -DDAWBRIDGE_FUZZ=ON and clang also as libFuzzer binaries (fuzz_*_libfuzzer).
option(DAWBRIDGE_FUZZ "Build libFuzzer targets (needs clang)" OFF)
if(DAWBRIDGE_TESTS)
  add_executable(fuzz_feedback fuzz/fuzz_feedback.c fuzz/fuzz_main.c)
  target_link_libraries(fuzz_feedback PRIVATE dbcore)
  add_test(NAME fuzz_feedback_replay COMMAND fuzz_feedback ${DAWBRIDGE_SOURCE_DIR}/fuzz/corpus/feedback)
  # the sanitizer build is ~7x slower: fewer mutations keep it well inside the timeout
  if(DAWBRIDGE_SANITIZE)
    set(_db_fuzz_rounds 4000)
  else()
    set(_db_fuzz_rounds 20000)
  endif()
  set_tests_properties(fuzz_feedback_replay PROPERTIES LABELS "fuzz" TIMEOUT 300
    ENVIRONMENT "DAWBRIDGE_SOURCE_DIR=${DAWBRIDGE_SOURCE_DIR};FUZZ_ROUNDS=${_db_fuzz_rounds}")
endif()
if(DAWBRIDGE_FUZZ)
  add_executable(fuzz_feedback_libfuzzer fuzz/fuzz_feedback.c)
  target_compile_options(fuzz_feedback_libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_feedback_libfuzzer PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_feedback_libfuzzer PRIVATE dbcore)
endif()
