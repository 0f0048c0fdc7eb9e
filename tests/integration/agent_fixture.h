/* agent_fixture: the agent end to end in one loop, shared by test_agent and test_instruments: the embedded mock
 * DAW (app/mock_embed.h, with its companion), a model (a scripted transcript, in process or replayed over HTTP in
 * OpenAI format by the mock LLM server, or none), the agent with every callback recorded in struct fx, and history
 * in a temporary directory that fx_close removes. Failures are cmocka failures naming the agent's log. */
#ifndef DAWBRIDGE_AGENT_FIXTURE_H
#define DAWBRIDGE_AGENT_FIXTURE_H

#include <jansson.h>
#include <sys/resource.h>
#include <uv.h>

#include "agent.h"
#include "mock_embed.h"
#include "mock_llm_server.h"
#include "db_test_json.h"
#include "db_test_util.h"

struct fx {
  uv_loop_t loop;
  daw_t *daw;
  mock_embed_t *mock; /* the in-process mock DAW behind daw (app/mock_embed.h) */
  llm_t *llm;
  agent_t *agent;
  mock_llm_t *mllm;
  int started, start_status;
  char start_msg[512];
  int done, status;
  json_t *resp;
  char msg[1024];
  char data_dir[256];
  char log[65536];
  int nstages[AGENT_DONE + 1];
  int confirm_answer;       /* -1: do not answer */
  int cancel_after_results; /* > 0: agent_cancel after that many tool results */
  int nresults;
  int nviolations;
  int limit_fsize; /* full disk while saving */
  int limit_stage; /* the stage at which the limit starts (0 = AGENT_SAVING) */
  struct rlimit old_fsize;
  int closed;
};

struct fx_opts {
  const char *dialect;
  int tracks; /* -1 demo session */
  double drop;
  unsigned seed;
  const char *transcript; /* fixture path relative to the source dir; NULL = no model (unless script) */
  json_t *script;         /* or the transcript itself (borrowed) */
  int openai_http;        /* replay the transcript through the mock LLM server in OpenAI format */
  enum agent_executor executor;
  int max_turns;
  int confirm;
  int no_fix;
};

/* A daw_cb that records status and message in f->started / start_status / start_msg (data: the fx). */
void on_started(int status, const json_t *result, const char *message, void *data);
/* Runs f's loop until *flag is set or timeout_ms pass; returns *flag. */
int run_until(struct fx *f, int *flag, int timeout_ms);
/* Starts the mock DAW (initial sync), the model and the agent. Returns 0, or the daw_start status (a DAW that
 * cannot start with drops is an explicit failure the caller checks). */
int fx_open(struct fx *f, const struct fx_opts *o);
/* Closes everything by its close callbacks; uv_loop_close must succeed; removes the data directory. */
void fx_close(struct fx *f);
/* Waits (120 s at most) for the job's on_done; fx_ask starts agent_ask (never synchronous) and waits. */
void fx_wait(struct fx *f);
void fx_ask(struct fx *f, const char *request);
/* fx_open, fx_ask(request), and a failure with the agent's log unless the run ends with want_status. */
void fx_run(struct fx *f, const struct fx_opts *o, const char *request, int want_status);

#endif
