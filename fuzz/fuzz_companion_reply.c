/* Fuzz target: replies from the in-DAW companion (bridge/companion.c), as they arrive by OSC
 * (/dawbridge/reply s JSON) for a command that is waiting. The harness starts one command, finds its id from
 * the file the bridge wrote into the spool's in/, replaces every "@ID@" in the input with that id, and feeds
 * the text as a reply. Invariants: no crash/sanitizer report; the command ends at most once, with status 0 and a
 * result object, or < 0 with a message; a command left waiting is then ended by a valid reply. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "companion.h"
#include "db_test_util.h"

static uv_loop_t loop;
static companion_t *comp;
static char *spool; /* the spool directory (malloc'd) */

struct done {
  int calls;
};

static void on_done(int status, const json_t *result, const char *message, void *data) {
  struct done *d = data;
  d->calls++;
  if (status == 0 && !json_is_object(result)) abort();
  if (status < 0 && (!message || !*message)) abort();
}

/* the spool goes at exit (the replay returns from main; libFuzzer exits) */
static void remove_spool(void) {
  if (spool) db_test_rm_rf(spool);
  free(spool);
}

static void setup(void) {
  spool = db_test_tmpdir("fuzz-spool");
  if (!spool) abort();
  atexit(remove_spool);
  uv_loop_init(&loop);
  struct companion_config cfg = {
      .spool_dir = spool, .host = "reaper", .timeout_ms = 3600000, .retries = 0, .poll_ms = 3600000};
  char err[512];
  if (companion_new(&loop, &cfg, &comp, err, sizeof err)) {
    fprintf(stderr, "fuzz: %s\n", err);
    abort();
  }
}

/* the id of the one waiting command: its file in in/ (written asynchronously) */
static int waiting_id(char *id, size_t len) {
  char in[300];
  snprintf(in, sizeof in, "%s/in", spool);
  for (int tries = 0; tries < 100; tries++) {
    uv_run(&loop, UV_RUN_ONCE); /* the write is pending, so this returns when a job is done */
    DIR *d = opendir(in);
    struct dirent *e;
    int found = 0;
    while (d && (e = readdir(d))) {
      size_t n = strlen(e->d_name);
      if (n > 5 && !strcmp(e->d_name + n - 5, ".json") && n - 5 < len) {
        memcpy(id, e->d_name, n - 5);
        id[n - 5] = 0;
        found = 1;
      }
    }
    if (d) closedir(d);
    if (found) {
      /* taken, as the companion takes it */
      char p[600];
      snprintf(p, sizeof p, "%s/%s.json", in, id);
      unlink(p);
      return 0;
    }
  }
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!comp) setup();
  if (size > 16384) return 0;
  struct done d = {0};
  if (companion_call(comp, "get_state", NULL, "fuzz", on_done, &d)) abort();
  char id[200];
  if (waiting_id(id, sizeof id)) {
    fprintf(stderr, "fuzz: the command file never appeared in %s/in\n", spool);
    abort();
  }
  /* the reply text with @ID@ replaced */
  size_t idl = strlen(id), cap = size * (idl > 4 ? idl : 4) / 4 + idl + 1;
  char *text = malloc(cap);
  size_t o = 0;
  for (size_t i = 0; i < size;) {
    if (i + 4 <= size && !memcmp(data + i, "@ID@", 4)) {
      memcpy(text + o, id, idl);
      o += idl;
      i += 4;
    } else {
      text[o++] = (char)data[i++];
    }
  }
  text[o] = 0;
  companion_feed_reply(comp, text);
  free(text);
  uv_run(&loop, UV_RUN_NOWAIT);
  if (d.calls > 1) abort();
  if (!d.calls) {
    char ok[300];
    snprintf(ok, sizeof ok, "{\"id\": \"%s\", \"ok\": true, \"result\": {}}", id);
    companion_feed_reply(comp, ok);
    uv_run(&loop, UV_RUN_NOWAIT);
    if (d.calls != 1) {
      fprintf(stderr, "fuzz: a waiting command did not end on a valid reply\n");
      abort();
    }
  }
  return 0;
}
