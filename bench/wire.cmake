# bench/wire.cmake: OSC throughput, confirm latency, sync benchmarks (not tests: run them by hand, see
# docs/benchmarks.md). They spawn the mock-daw executable, so they depend on it.
# what the benches share (bench_util.h: the mock-daw process, statistics), with the port/clock/path helpers of
# tests/support (db_test_util.h)
add_library(dbbenchutil STATIC ${DAWBRIDGE_SOURCE_DIR}/bench/bench_util.c)
target_include_directories(dbbenchutil PUBLIC ${DAWBRIDGE_SOURCE_DIR}/bench)
target_link_libraries(dbbenchutil PUBLIC dbtestutil PkgConfig::LIBLO)
foreach(_b osc_throughput confirm_latency sync)
  if(_b STREQUAL "sync")
    set(_src ${DAWBRIDGE_SOURCE_DIR}/bench/sync_bench.c)
  else()
    set(_src ${DAWBRIDGE_SOURCE_DIR}/bench/${_b}.c)
  endif()
  add_executable(bench_${_b} ${_src})
  target_link_libraries(bench_${_b} PRIVATE dbbenchutil dbcore dbmock PkgConfig::LIBLO PkgConfig::LIBUV PkgConfig::JANSSON ${MATH_LIB})
  target_compile_definitions(bench_${_b} PRIVATE DAWBRIDGE_BINARY_DIR="${CMAKE_BINARY_DIR}")
  add_dependencies(bench_${_b} mock-daw)
endforeach()
