# bench/real_ardour.cmake: the in-process native confirm against a running DAW (real Ardour or the mock's Ardour
# dialect), run by bench/real_ardour.py (bench/real_ardour.sh; ctest bench_real_ardour) -- issue 11.
add_executable(bench_real_ardour_confirm ${DAWBRIDGE_SOURCE_DIR}/bench/real_ardour_confirm.c)
target_link_libraries(bench_real_ardour_confirm PRIVATE dbbenchutil dbbenchsync dbcore PkgConfig::LIBUV PkgConfig::JANSSON)
