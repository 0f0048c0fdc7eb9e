/* wire_fixture: a bridge (map + session + sync) and an in-process mock DAW on one loop, over real UDP on
 * 127.0.0.1, for integration tests. Each helper runs the loop until its result arrives or a deadline passes.
 *
 * Tests of the DAW facade (daw_t: native OSC + companion) use the same struct for its loop, log and last result:
 * they open their daw_t themselves (daw_open or mock_embed_open on w->loop, with wire_log as its log), set w->daw,
 * and then wire_call/wire_callf/wire_refresh go through it; wire_on_result + wire_wait serve any other call
 * (daw_start, daw_begin_request, undo_to_state, ...). They close their daw_t themselves (not wire_close). */
#ifndef DAWBRIDGE_WIRE_FIXTURE_H
#define DAWBRIDGE_WIRE_FIXTURE_H

#include <jansson.h>
#include <uv.h>

#include "daw.h"
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
  daw_t *daw;              /* set by a facade test: calls and refreshes go through daw_call/daw_refresh (not owned) */
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

/* No result within the deadline (wire_wait, and the calls below). */
#define WIRE_ENORESULT (-999)

/* The result callback of every bridge call (sync_cb and daw_cb have this shape); data is the struct wire. Records
 * done/status/message and a copy of result in w->result (held by w). The caller sets w->done = 0 before the call. */
void wire_on_result(int status, const json_t *result, const char *message, void *data);
/* Runs the loop until the pending result arrives (w->done); returns its status, or WIRE_ENORESULT with
 * "no result within N ms" in w->message. */
int wire_wait(struct wire *w, int timeout_ms);
/* The bridge's log callback (data is the struct wire): keeps the last lines in w->log, counts "internal:" errors
 * (wire_close fails on them), prints everything when WIRE_VERBOSE is set. */
void wire_log(int level, const char *module, const char *text, void *data);

/* One tool call; returns its status (0 = confirmed/unchanged), result in w->result (new ref held by w). Bad JSON
 * in json_args fails the running test. */
int wire_call(struct wire *w, const char *tool, const char *json_args);
/* The same with the arguments formatted printf-style (at most 4 KiB). */
int wire_callf(struct wire *w, const char *tool, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int wire_refresh(struct wire *w);
/* 1 if the DAW facade (w->daw) offers `tool` in its capability list (what the planner is shown), else 0. */
int wire_offers(struct wire *w, const char *tool);
/* A facade test's request bracket (daw_begin_request / daw_end_request on w->daw): the status. */
int wire_begin_request(struct wire *w, const char *name);
int wire_end_request(struct wire *w);
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
