/* bench_daw: what the benches that hold the bridge's daw_t share (bench/companion.cmake: dbbenchdaw): one call's
 * outcome, waited for on the loop as a daemon's client would. */
#ifndef DAWBRIDGE_BENCH_DAW_H
#define DAWBRIDGE_BENCH_DAW_H

#include <jansson.h>
#include <uv.h>

/* The outcome of the last call given bench_daw_on_result; clear done before each call. */
struct bench_daw_result {
  int done, status;
  char msg[2048];
  json_t *result; /* new reference owned here (a shallow copy: the benches read its top-level counts), or NULL;
                     json_decref it when done */
};

/* A daw_cb (bridge/daw.h) or companion_cb for data = a struct bench_daw_result: records status, message and the result. */
void bench_daw_on_result(int status, const json_t *result, const char *message, void *data);

/* Runs loop until r->done (a 1 s keep-alive timer stops it from returning while the call waits); r->status. */
int bench_daw_wait(uv_loop_t *loop, struct bench_daw_result *r);

#endif
