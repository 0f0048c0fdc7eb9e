/* Fuzz target: arbitrary datagrams through the bridge's whole receive path (liblo dispatch, dialect map
 * matching, session updates, refresh and confirmation logic) for both dialects. The first byte picks the
 * dialect; the rest is the datagram. Invariant: no crash, no sanitizer report, and the mirror still round-trips
 * through JSON. Built with libFuzzer when DAWBRIDGE_FUZZ=ON (clang), else with fuzz_main.c, which replays the
 * corpus and a fixed number of deterministic mutations (a ctest test). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "oscmap.h"
#include "session.h"
#include "sync.h"

struct side {
  oscmap_t *map;
  session_t *ses;
  sync_t *sync;
};

static uv_loop_t loop;
static struct side sides[2];
static int ready;

static void setup(void) {
  const char *names[2] = {"reaper", "ardour"};
  uv_loop_init(&loop);
  for (int i = 0; i < 2; i++) {
    char path[1024], err[256];
    oscmap_find(names[i], path, sizeof path);
    if (oscmap_load(path, &sides[i].map, err, sizeof err)) {
      fprintf(stderr, "fuzz: %s\n", err);
      abort();
    }
    sides[i].ses = session_new(names[i]);
    struct sync_config sc = {.daw_port = 9,
                             .listen_port = 0,
                             .refresh_interval_ms = 0,
                             .confirm_timeout_ms = -1,
                             .retries = -1,
                             .silence_ms = -1,
                             .probe_ms = 0};
    if (sync_new(&loop, sides[i].map, sides[i].ses, &sc, &sides[i].sync, err, sizeof err)) {
      fprintf(stderr, "fuzz: %s\n", err);
      abort();
    }
    /* a refresh in progress, so refresh events are exercised too */
    sync_refresh(sides[i].sync, NULL, NULL);
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) setup();
  if (size < 1) return 0;
  struct side *s = &sides[data[0] & 1];
  sync_inject(s->sync, data + 1, size - 1);
  uv_run(&loop, UV_RUN_NOWAIT);
  static unsigned n;
  if (++n % 256 == 0) {
    json_t *a = session_to_json(s->ses);
    session_t *copy = session_new("x");
    char err[256];
    if (session_from_json(copy, a, err, sizeof err)) {
      fprintf(stderr, "fuzz: mirror does not round-trip: %s\n", err);
      abort();
    }
    json_t *b = session_to_json(copy);
    json_object_del(a, "dialect");
    json_object_del(b, "dialect");
    if (!json_equal(a, b)) {
      char *x = json_dumps(a, JSON_SORT_KEYS), *y = json_dumps(b, JSON_SORT_KEYS);
      size_t k = 0;
      while (x[k] && x[k] == y[k]) k++;
      fprintf(stderr, "fuzz: mirror JSON differs after a round trip at: ...%.120s\nvs ...%.120s\n",
              x + (k > 40 ? k - 40 : 0), y + (k > 40 ? k - 40 : 0));
      abort();
    }
    json_decref(a);
    json_decref(b);
    session_free(copy);
  }
  return 0;
}
