/* mock_llm_main.c — stand-alone mock LLM server:
 *   mock-llm [--port N] [--transcript FILE.json] [--repeat]
 * FILE holds {"responses": [spec, ...]} (see mock_llm_server.h); --repeat keeps answering with
 * the last spec once the queue is empty. Prints "mock-llm listening on 127.0.0.1:PORT". */
#include "mock_llm_server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct app {
  mock_llm_t *m;
  uv_signal_t sigint, sigterm;
};

static void on_signal(uv_signal_t *s, int signum) {
  struct app *a = s->data;
  (void)signum;
  mock_llm_close(a->m, NULL, NULL);
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
}

int main(int argc, char **argv) {
  int port = 0, repeat = 0;
  const char *transcript = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc)
      port = (int)strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--transcript") && i + 1 < argc)
      transcript = argv[++i];
    else if (!strcmp(argv[i], "--repeat"))
      repeat = 1;
    else {
      fprintf(stderr, "usage: mock-llm [--port N] [--transcript FILE.json] [--repeat]\n");
      return 2;
    }
  }
  uv_loop_t *loop = uv_default_loop();
  char err[256];
  struct app a;
  a.m = mock_llm_new(loop, port, err, sizeof err);
  if (!a.m) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  if (transcript) {
    if (mock_llm_load(a.m, transcript, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    if (repeat && mock_llm_pending(a.m)) {
      json_t *root = json_load_file(transcript, 0, NULL);
      json_t *arr = json_is_array(root) ? root : json_object_get(root, "responses");
      mock_llm_set_default(a.m, json_incref(json_array_get(arr, json_array_size(arr) - 1)));
      json_decref(root);
    }
  }
  uv_signal_init(loop, &a.sigint);
  uv_signal_init(loop, &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  printf("mock-llm listening on 127.0.0.1:%d\n", mock_llm_port(a.m));
  fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : 1;
}
