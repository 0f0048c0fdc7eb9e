# bench/wire.cmake: OSC throughput, confirm latency, sync benchmarks (not tests: run them by hand, see
# docs/benchmarks.md). They spawn the mock-daw executable, so they depend on it.
foreach(_b osc_throughput confirm_latency sync)
  if(_b STREQUAL "sync")
    set(_src ${DAWBRIDGE_SOURCE_DIR}/bench/sync_bench.c)
  else()
    set(_src ${DAWBRIDGE_SOURCE_DIR}/bench/${_b}.c)
  endif()
  add_executable(bench_${_b} ${_src})
  target_link_libraries(bench_${_b} PRIVATE dbcore dbmock PkgConfig::LIBLO PkgConfig::LIBUV PkgConfig::JANSSON ${MATH_LIB})
  target_compile_definitions(bench_${_b} PRIVATE DAWBRIDGE_BINARY_DIR="${CMAKE_BINARY_DIR}")
  add_dependencies(bench_${_b} mock-daw)
endforeach()
