/* bench_util: what the benchmarks share (bench/wire.cmake: dbbenchutil): the mock-daw process they measure against,
 * and the statistics they print. The free port, the clock and the mock-daw path come from tests/support/db_test_util.h. */
#ifndef DAWBRIDGE_BENCH_UTIL_H
#define DAWBRIDGE_BENCH_UTIL_H

#include <sys/types.h>

/* Pins the calling process to one CPU (cpu < 0: no pinning). */
void bench_pin_to(int cpu);

/* Starts `exe --dialect D --port P --feedback-port F --tracks T --quiet`, pinned to cpu (< 0: not pinned).
 * Returns its pid, or -1 if fork failed (a failed exec exits the child with 127). */
pid_t bench_spawn_mock(const char *exe, const char *dialect, int port, int fport, int tracks, int cpu);

/* Blocks (a bench, not the product) until the mock answers /mock/ping with /mock/pong: 0, or -1 after ~10 s. */
int bench_wait_ping(int port);

/* v limited to lo..hi (a command-line count). */
int bench_clamp(int v, int lo, int hi);
/* For an argument main did not recognise: prints the usage; returns main's exit code (0 for -h / --help, else 2). */
int bench_usage_exit(const char *arg, void (*usage)(void));

/* Sorts v[0..n-1] ascending (then v[n / 2] is the upper median, v[0] and v[n - 1] the extremes). */
void bench_sort(double *v, int n);
/* The median of v[0..n-1] (v is not changed; 0 for n <= 0). */
double bench_median(const double *v, int n);
/* The q-quantile (0..1, nearest rank) of v[0..n-1]; sorts v. 0 for n <= 0. */
double bench_pct(double *v, int n, double q);

#endif
