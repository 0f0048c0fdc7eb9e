/* wire_fixture: a bridge (map + session + sync) and an in-process mock DAW on one loop, over real UDP on
 * 127.0.0.1, for integration tests. Each helper runs the loop until its result arrives or a deadline passes. */
#ifndef DAWBRIDGE_WIRE_FIXTURE_H
#define DAWBRIDGE_WIRE_FIXTURE_H

#include <jansson.h>
#include <uv.h>

#include "mock.h"
#include "oscmap.h"
#include "session.h"
#include "sync.h"

struct wire {
  uv_loop_t loop;
  oscmap_t *map;
  session_t *ses;
  sync_t *sync;
  mock_t *mock;
  const char *dialect;
  /* process mode */
  uv_process_t proc;
  int proc_running, proc_exit;
  int daw_port;
  struct osc_client *insp; /* inspection client (/mock/state, /mock/restart) */
  /* last result */
  int done, status;
  json_t *result;
  char message[512];
  char log[8192];      /* the last log lines, for assertions on messages */
  int internal_errors; /* "internal: ..." error lines logged (e.g. an unlisted sync state transition) */
};

struct wire_opts {
  const char *dialect;
  int tracks; /* mock session size; -1 = demo session */
  double drop;
  unsigned seed;
  int bank_size;            /* 0 = map default */
  int confirm_ms;           /* -1 = map default */
  int retries;              /* -1 = map default */
  int silence_ms, probe_ms; /* -1 = map default */
  const char *spool_dir;
  int process;       /* 1 = run the mock-daw executable as a separate process (else in-process on the loop) */
  int external_port; /* > 0: no mock; talk to a real DAW on 127.0.0.1:external_port */
};

/* Sets up everything and runs the first full sync; returns 0 on success (the sync's status otherwise). */
int wire_open(struct wire *w, const struct wire_opts *o);
/* Closes everything; returns 0 when every handle closed and the bridge logged no "internal:" error (an unlisted
 * sync state transition, say), else nonzero. */
int wire_close(struct wire *w);

/* One tool call; returns its status (0 = confirmed/unchanged), result in w->result (new ref held by w). */
int wire_call(struct wire *w, const char *tool, const char *json_args);
int wire_refresh(struct wire *w);
/* Runs the loop for ms. */
void wire_run_for(struct wire *w, int ms);
/* Runs until pred(w) or timeout; returns 1 if pred became true. */
int wire_run_until(struct wire *w, int (*pred)(struct wire *w), int timeout_ms);

/* Restarts the DAW: keep_state 0 = back to its initial session. */
int wire_restart_daw(struct wire *w, int keep_state, int down_ms);
/* Sends an inspection/fault message to the DAW (process or in-process), waits for its reply path if given. */
int wire_daw_fault(struct wire *w, double drop, int delay_ms);

/* The mock's state (new ref) and the bridge's mirror (new ref). */
json_t *wire_daw_state(struct wire *w);
json_t *wire_mirror(struct wire *w);
/* Compares the mirror with what the DAW holds (names, mix values, FX names); returns 0 if equal, else writes the
 * first difference into diff. */
int wire_compare(struct wire *w, char *diff, size_t difflen);

#endif
