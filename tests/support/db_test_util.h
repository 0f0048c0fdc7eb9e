/* db_test_util: the small helpers every test and bench shares (one copy, tests/support/support.cmake: dbtestutil):
 * a free loopback port, temporary directories, whole files, a monotonic clock, where the built programs are.
 * Plain POSIX; no loop, no global state. Functions that can fail say how; none aborts. */
#ifndef DAWBRIDGE_DB_TEST_UTIL_H
#define DAWBRIDGE_DB_TEST_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* A loopback port that was free a moment ago (the kernel's pick for a bound, then closed socket). -1 on error. */
int db_test_free_udp_port(void);
int db_test_free_tcp_port(void);

/* Makes a fresh directory "$TMPDIR/dawbridge-<tag>-XXXXXX" (/tmp without TMPDIR). Returns its malloc'd path, owned
 * by the caller, or NULL (errno set). */
char *db_test_tmpdir(const char *tag);

/* Removes path and everything below it (links are removed, not followed; read-only directories are made writable
 * first). 0 when gone (or never there), else -1. */
int db_test_rm_rf(const char *path);

/* The whole file, NUL-terminated, malloc'd (caller frees); *len (if given) = its size. NULL if unreadable. */
char *db_test_slurp(const char *path, size_t *len);

/* fork() with a pipe from the child to the parent: returns the child's pid in the parent, 0 in the child, -1 on
 * error (errno set, nothing left open). *fd is the pipe's write end in the child and its read end in the parent;
 * the other end is closed on each side, so the parent reads end-of-file once the child is gone. */
pid_t db_test_fork_piped(int *fd);

/* Waits until another process has bound the UDP port host:port (IPv4; our own bind of it fails with EADDRINUSE),
 * checking every 5 ms for at most timeout_ms: a started server is ready without a fixed sleep. 0 when bound, -1 on
 * timeout or error. */
int db_test_wait_udp_bound(const char *host, int port, int timeout_ms);

/* Milliseconds of CLOCK_MONOTONIC (benches' figures, tests' deadlines: never asserted on). */
double db_test_now_ms(void);

/* The build directory: $DAWBRIDGE_BINARY_DIR (set by ctest), else the compile-time one, else ".". */
const char *db_test_binary_dir(void);
/* The source tree: $DAWBRIDGE_SOURCE_DIR (set by ctest), else the compile-time one, else ".". */
const char *db_test_source_dir(void);

/* The path of a built program `name` (e.g. "mock-daw"): `given` if not NULL, else the one next to this executable
 * if it is there, else <binary dir>/<name>. */
void db_test_exe_path(char *out, size_t len, const char *name, const char *given);

#endif
