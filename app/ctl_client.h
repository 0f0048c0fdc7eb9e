/* ctl_client: a loop-based client of the live daemon's control socket (protocol: app/ctl.h). Used by the CLI
 * (ask, call, state, history, undo, status through a running daemon) and by tests.
 *
 *   ctl_client_connect → on_connect(0) → ctl_client_send ... → on_message (replies and events) → ctl_client_close
 *
 * on_connect gets a negative libuv error when no daemon answers (ENOENT, ECONNREFUSED: then the caller works
 * one-shot). Lines longer than CTL_LINE_MAX from the daemon, or that are not JSON objects, end the connection
 * (on_close with the reason). Everything on the loop; no callback runs synchronously from a ctl_client_* call. */
#ifndef DAWBRIDGE_CTL_CLIENT_H
#define DAWBRIDGE_CTL_CLIENT_H

#include <jansson.h>
#include <uv.h>

typedef struct ctl_client ctl_client_t;

struct ctl_client_callbacks {
  void (*on_connect)(ctl_client_t *c, int status, void *data);
  void (*on_message)(ctl_client_t *c, const json_t *msg, void *data); /* msg borrowed */
  void (*on_close)(ctl_client_t *c, const char *why, void *data);     /* the daemon went away (not after close) */
  void *data;
};

int ctl_client_connect(uv_loop_t *loop, const char *path, const struct ctl_client_callbacks *cb, ctl_client_t **out);
/* Sends one JSON object as a line (borrowed). Returns 0 or a negative libuv error. */
int ctl_client_send(ctl_client_t *c, const json_t *msg);
/* Closes the connection; frees in the close callback, then cb(data). */
void ctl_client_close(ctl_client_t *c, void (*cb)(void *data), void *data);

#endif
