/* agent_overhead.c — what the agent costs per tool call, everything except waiting for a model.
 *
 * One process, one loop: the embedded mock DAW (REAPER dialect, with its companion) on 127.0.0.1 and the scripted
 * model (zero latency: each answer arrives on the next loop turn). The same request is run three ways:
 *   raw      the tool calls alone, daw_call after daw_call (the floor: OSC/companion round trips + confirmation)
 *   direct   agent_exec_plan: parse + validate the plan, run it with daw_call, verify against the mirror
 *   llm      agent_ask with the scripted model: stage 1 (prompt built, plan parsed + validated), stage 2 with one
 *            tool call per model turn (the conversation re-encoded each turn), verification
 * Two requests: "mix" (create an audio track, then 20 set_track changes on it: native OSC) and "seed" (the seed's
 * kick track + 2-note clip + reverb: companion calls). No history is written (saving is measured separately).
 *   bench_agent_overhead [RUNS]   (default 20 requests per figure)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "bench_util.h"
#include "daw.h"
#include "mock_embed.h"

#define SET_CALLS 20

struct bench {
  uv_loop_t loop;
  daw_t *daw;
  mock_embed_t *mock;
  llm_t *llm;
  agent_t *agent;
  int flag, status, failures;
  char msg[512];
  int pending_raw;
  json_t *raw_calls; /* the raw sequence being run */
  size_t raw_i;
  char created[16];
  int undo; /* raw with the undo block around it */
};

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

static int run_until(struct bench *b, int *flag, int timeout_ms) {
  uv_timer_t t;
  int expired = 0;
  uv_timer_init(&b->loop, &t);
  t.data = &expired;
  uv_timer_start(&t, on_deadline, (uint64_t)timeout_ms, 0);
  while (!*flag && !expired) uv_run(&b->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&b->loop, UV_RUN_NOWAIT);
  return *flag;
}

static void on_daw(int status, const json_t *result, const char *message, void *data) {
  struct bench *b = data;
  (void)result;
  b->status = status;
  snprintf(b->msg, sizeof b->msg, "%s", message ? message : "");
  b->flag = 1;
}

/* ---- the requests ---- */

static char *mix_plan(int run) {
  size_t cap = 8192, o = 0;
  char *s = malloc(cap);
  o += (size_t)snprintf(s + o, cap - o,
                        "**ANALYSIS:** bench\n**PLAN:**\nStep 1: create_track - bench track\n  - name: Bench %d\n"
                        "  - type: audio\n",
                        run);
  for (int k = 0; k < SET_CALLS; k++)
    o += (size_t)snprintf(s + o, cap - o,
                          "Step %d: set_track - level\n  - track_id: [track from Step 1]\n"
                          "  - volume_db: %d\n",
                          k + 2, -1 - k);
  snprintf(s + o, cap - o, "**MUSICAL REASONING:** none\n");
  return s;
}

static char *seed_plan(int run) {
  char *s = malloc(1024);
  snprintf(s, 1024,
           "**ANALYSIS:** bench\n**PLAN:**\nStep 1: create_track - kick\n  - name: Kick %d\n  - type: midi\n"
           "  - instrument: synth\nStep 2: create_midi_clip - two hits\n  - track_id: [track from Step 1]\n"
           "  - start_time: 0\n  - duration: 4\n  - notes: [{n: 36, s: 0, d: 0.5, v: 110}, {n: 36, s: 1, d: 0.5, "
           "v: 110}]\nStep 3: add_effect - reverb\n  - track_id: [track from Step 1]\n  - effect_name: reverb\n"
           "**MUSICAL REASONING:** none\n",
           run);
  return s;
}

/* The tool calls of a request, with the track named (tools accept a track name as track_id). */
static json_t *calls_for(int seed, int run) {
  json_t *a = json_array();
  char name[32];
  if (seed) {
    snprintf(name, sizeof name, "Kick %d", run);
    json_array_append_new(a, json_pack("{ss s{ssssss}}", "name", "create_track", "arguments", "name", name, "type",
                                       "midi", "instrument", "ReaSynth"));
    json_array_append_new(a, json_pack("{ss s{sssisis[{sisfsfsi}{sisfsfsi}]}}", "name", "create_midi_clip", "arguments",
                                       "track_id", name, "start_time", 0, "duration", 4, "notes", "n", 36, "s", 0.0,
                                       "d", 0.5, "v", 110, "n", 36, "s", 1.0, "d", 0.5, "v", 110));
    json_array_append_new(
        a, json_pack("{ss s{ssss}}", "name", "add_effect", "arguments", "track_id", name, "effect_name", "ReaVerbate"));
  } else {
    snprintf(name, sizeof name, "Bench %d", run);
    json_array_append_new(
        a, json_pack("{ss s{ssss}}", "name", "create_track", "arguments", "name", name, "type", "audio"));
    for (int k = 0; k < SET_CALLS; k++)
      json_array_append_new(
          a, json_pack("{ss s{sssi}}", "name", "set_track", "arguments", "track_id", name, "volume_db", -1 - k));
  }
  return a;
}

/* The scripted model for `runs` requests: per request the plan, one tool call per turn, then a final answer. */
static json_t *transcript(int seed, int first, int runs) {
  json_t *resp = json_array();
  for (int r = first; r < first + runs; r++) {
    char *plan = seed ? seed_plan(r) : mix_plan(r);
    json_array_append_new(resp, json_pack("{ssss}", "text", plan, "finish", "stop"));
    free(plan);
    json_t *calls = calls_for(seed, r);
    size_t i;
    json_t *c;
    json_array_foreach(calls, i, c) {
      char id[64];
      snprintf(id, sizeof id, "call_%d_%zu", r, i);
      json_t *call = json_deep_copy(c);
      json_object_set_new(call, "id", json_string(id));
      json_array_append_new(resp, json_pack("{sss[o]}", "text", "", "tool_calls", call));
    }
    json_decref(calls);
    json_array_append_new(resp, json_pack("{ssss}", "text", "Done.", "finish", "stop"));
  }
  return json_pack("{so}", "responses", resp);
}

/* ---- raw ---- */

static void raw_next(struct bench *b);

static void raw_done(int status, const json_t *result, const char *message, void *data) {
  struct bench *b = data;
  (void)result;
  if (status) {
    if (!b->failures) fprintf(stderr, "raw call failed: %s\n", message ? message : "?");
    b->failures++;
  }
  raw_next(b);
}

static void raw_ended(int status, const json_t *result, const char *message, void *data) {
  struct bench *b = data;
  (void)status, (void)result, (void)message;
  b->flag = 1;
}

static void raw_begun(int status, const json_t *result, const char *message, void *data) {
  (void)status, (void)result, (void)message;
  raw_next(data);
}

static void raw_next(struct bench *b) {
  if (b->raw_i >= json_array_size(b->raw_calls)) {
    if (b->undo)
      daw_end_request(b->daw, raw_ended, b);
    else
      b->flag = 1;
    return;
  }
  json_t *c = json_array_get(b->raw_calls, b->raw_i++);
  if (daw_call(b->daw, json_string_value(json_object_get(c, "name")), json_object_get(c, "arguments"), raw_done, b)) {
    b->failures++;
    b->flag = 1;
  }
}

/* ---- agent ---- */

static void on_agent_done(agent_t *a, int status, const json_t *resp, const char *message, void *data) {
  struct bench *b = data;
  (void)a, (void)resp;
  if (status) {
    if (!b->failures) fprintf(stderr, "agent: %s\n", message ? message : agent_strerror(status));
    b->failures++;
  }
  b->flag = 1;
}

static void on_closed(void *data) { (*(int *)data)++; }

static int open_daw(struct bench *b) {
  struct daw_config dc;
  memset(&dc, 0, sizeof dc);
  dc.dialect = "reaper";
  dc.listen_port = -1;
  dc.confirm_timeout_ms = -1;
  dc.retries = -1;
  struct mock_embed_config mc = {.tracks = 0, .companion = 1, .quiet = 1};
  char err[512];
  if (mock_embed_open(&b->loop, &dc, &mc, &b->daw, &b->mock, err, sizeof err)) {
    fprintf(stderr, "mock_embed_open: %s\n", err);
    return -1;
  }
  b->flag = 0;
  daw_start(b->daw, on_daw, b);
  if (!run_until(b, &b->flag, 30000) || b->status) {
    fprintf(stderr, "daw_start: %s\n", b->msg);
    return -1;
  }
  return 0;
}

static void close_daw(struct bench *b) {
  int n = 0;
  daw_close(b->daw, on_closed, &n);
  mock_embed_close(b->mock, on_closed, &n);
  while (n < 2) uv_run(&b->loop, UV_RUN_ONCE);
  b->daw = NULL;
}

enum way { RAW, RAWU, DIRECT, LLM, NWAYS };

struct agents {
  agent_t *direct, *llm, *save;
  llm_t *model;
};

/* One request one way; returns its wall time in ms. Names are unique per way and run. */
static double one(struct bench *b, struct agents *ag, int seed, enum way w, int run, int save) {
  b->flag = 0;
  int id = run * 5 + (int)w + (save ? 2 : 0);
  uint64_t t0 = uv_hrtime();
  if (w == RAW || w == RAWU) {
    b->raw_calls = calls_for(seed, id);
    b->raw_i = 0;
    b->undo = w == RAWU;
    if (b->undo)
      daw_begin_request(b->daw, "bench", raw_begun, b);
    else
      raw_next(b);
  } else if (w == LLM) {
    agent_ask(ag->llm, seed ? "a kick with reverb" : "a bench track");
  } else {
    char *plan = seed ? seed_plan(id) : mix_plan(id);
    agent_exec_plan(save ? ag->save : ag->direct, plan, "bench");
    free(plan);
  }
  if (!run_until(b, &b->flag, 120000)) {
    fprintf(stderr, "request did not finish\n");
    b->failures++;
  }
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  json_decref(b->raw_calls);
  b->raw_calls = NULL;
  return ms;
}

static agent_t *make_agent(struct bench *b, enum agent_executor ex, llm_t *model, int save, const char *dir) {
  char err[512];
  struct agent_config ac;
  memset(&ac, 0, sizeof ac);
  ac.daw = b->daw;
  ac.llm = model;
  ac.executor = ex;
  ac.max_turns = 64;
  ac.no_save = !save;
  ac.data_dir = dir;
  ac.composition = "bench";
  ac.cb.on_done = on_agent_done;
  ac.cb.data = b;
  agent_t *a = NULL;
  if (agent_new(&b->loop, &ac, &a, err, sizeof err)) fprintf(stderr, "agent_new: %s\n", err);
  return a;
}

/* The three ways interleaved on one DAW (the session grows the same for each), `runs` times. */
static void scenario(struct bench *b, int seed, int runs, const char *dir) {
  if (open_daw(b)) return;
  struct agents ag = {0};
  /* the llm agent's requests carry ids run*5+3 */
  json_t *resp = json_array();
  for (int r = 0; r < runs; r++) {
    json_t *t = transcript(seed, r * 5 + 3, 1);
    json_array_extend(resp, json_object_get(t, "responses"));
    json_decref(t);
  }
  json_t *script = json_pack("{so}", "responses", resp);
  struct llm_config lc;
  llm_config_defaults(&lc);
  lc.provider = LLM_PROVIDER_SCRIPT;
  lc.script = script;
  char err[512];
  ag.model = llm_new(&b->loop, &lc, err, sizeof err);
  json_decref(script);
  ag.direct = make_agent(b, AGENT_EXEC_DIRECT, NULL, 0, dir);
  ag.llm = make_agent(b, AGENT_EXEC_LLM, ag.model, 0, dir);
  ag.save = make_agent(b, AGENT_EXEC_DIRECT, NULL, 1, dir);
  if (!ag.model || !ag.direct || !ag.llm || !ag.save) return;
  double *t[NWAYS + 1], *over[NWAYS];
  if (0) over[0] = NULL;
  for (int w = 0; w <= NWAYS; w++) t[w] = calloc((size_t)runs, sizeof(double));
  for (int w = 0; w < NWAYS; w++) over[w] = calloc((size_t)runs, sizeof(double));
  b->failures = 0;
  int ncalls = seed ? 3 : 1 + SET_CALLS;
  for (int r = 0; r < runs; r++) {
    for (int w = 0; w < NWAYS; w++) t[w][r] = one(b, &ag, seed, (enum way)w, r, 0);
    t[NWAYS][r] = one(b, &ag, seed, DIRECT, r, 1);
    over[DIRECT][r] = (t[DIRECT][r] - t[RAWU][r]) / ncalls;
    over[LLM][r] = (t[LLM][r] - t[RAWU][r]) / ncalls;
    over[RAW][r] = (t[NWAYS][r] - t[DIRECT][r]);
    over[RAWU][r] = t[RAWU][r] - t[RAW][r];
  }
  double rawu = bench_median(t[RAWU], runs);
  double raw = bench_median(t[RAW], runs), direct = bench_median(t[DIRECT], runs), llm = bench_median(t[LLM], runs);
  double save = bench_median(t[NWAYS], runs);
  printf("%s: %d tool calls per request (%s)%s\n", seed ? "seed" : "mix", ncalls,
         seed ? "create_track + create_midi_clip + add_effect, via the companion"
              : "create_track + 20 set_track, native OSC",
         b->failures ? " [some requests failed]" : "");
  printf("  raw daw_call sequence     %8.2f ms/request  %7.3f ms/call\n", raw, raw / ncalls);
  printf("  raw + undo block          %8.2f ms/request  (the block: %+.2f ms/request)\n", rawu,
         bench_median(over[RAWU], runs));
  printf("  direct executor           %8.2f ms/request  agent overhead %+7.3f ms/call  ratio %.2f vs raw+undo\n",
         direct, bench_median(over[DIRECT], runs), direct / rawu);
  printf("  llm executor (scripted)   %8.2f ms/request  agent overhead %+7.3f ms/call  ratio %.2f vs raw+undo, %.2f vs "
         "direct\n",
         llm, bench_median(over[LLM], runs), llm / rawu, llm / direct);
  printf("  direct + history save     %8.2f ms/request  (the save: %+.2f ms/request)\n\n", save,
         bench_median(over[RAW], runs));
  for (int w = 0; w <= NWAYS; w++) free(t[w]);
  for (int w = 0; w < NWAYS; w++) free(over[w]);
  int n = 0;
  agent_close(ag.direct, on_closed, &n);
  agent_close(ag.llm, on_closed, &n);
  agent_close(ag.save, on_closed, &n);
  while (n < 3) uv_run(&b->loop, UV_RUN_ONCE);
  llm_close(ag.model, on_closed, &n);
  while (n < 4) uv_run(&b->loop, UV_RUN_ONCE);
  close_daw(b);
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 20;
  if (runs < 1) runs = 1;
  struct bench b;
  memset(&b, 0, sizeof b);
  uv_loop_init(&b.loop);
  char dir[] = "/tmp/dawbridge-bench-agent-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  printf("agent overhead: embedded mock REAPER + companion on 127.0.0.1, scripted model with zero latency,\n"
         "%d requests per way, the ways interleaved on one DAW; medians; one loop, one process.\n"
         "The agent's requests include the DAW undo block (daw_begin_request/daw_end_request: two more companion\n"
         "commands when the companion answers) and the verification; \"raw\" is the tool calls alone.\n\n",
         runs);
  for (int seed = 0; seed <= 1; seed++) scenario(&b, seed, runs, dir);
  uv_run(&b.loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&b.loop);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return rc ? 1 : 0;
}
