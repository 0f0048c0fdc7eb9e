/* The wire commands: state, call, tools. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "live.h"
#include "vocab.h"

static void on_state(int status, const json_t *result, const char *message, void *data) {
  struct cli *c = data;
  (void)status, (void)result, (void)message;
  json_t *st = session_to_json(daw_session(c->daw));
  if (c->o.json)
    cli_print_json(st);
  else
    cli_print_state_table(st);
  json_decref(st);
  cli_finish(c, CLI_EXIT_OK);
}

int cmd_state(struct cli *c) {
  cli_open_daw(c, on_state, c);
  return 0;
}

void cli_print_call_result(const char *tool, const json_t *result, int json) {
  const char *st = json_string_value(json_object_get(result, "status"));
  if (json) {
    cli_print_json(result);
  } else if (vocab_lookup(tool) == VOCAB_GET_STATE) {
    cli_print_state_table(json_object_get(json_object_get(result, "state"), "session"));
  } else {
    const char *tid = json_string_value(json_object_get(result, "track_id"));
    const char *cid = json_string_value(json_object_get(result, "clip_id"));
    const char *via = json_string_value(json_object_get(result, "via"));
    printf("%s: %s%s%s%s%s%s%s (attempts %lld, %lld ms)\n", tool, st ? st : "?", tid ? ", track " : "", tid ? tid : "",
           cid ? ", clip " : "", cid ? cid : "", via ? " via " : "", via ? via : "",
           (long long)json_integer_value(json_object_get(result, "attempts")),
           (long long)json_integer_value(json_object_get(result, "ms")));
    const char *reason = json_string_value(json_object_get(result, "reason"));
    if (reason) printf("  note: %s\n", reason);
    const char *warning = json_string_value(json_object_get(result, "warning"));
    if (warning) printf("  warning: %s\n", warning);
  }
}

static void on_called(int status, const json_t *result, const char *message, void *data) {
  struct cli *c = data;
  if (status) {
    fprintf(stderr, "dawbridge: %s\n", message ? message : daw_strerror(status));
    cli_finish(c, daw_exit_code(status));
    return;
  }
  cli_print_call_result(c->argv[0], result, c->o.json);
  /* only "confirmed" is success: "uncertain" (sent, no word from the DAW) exits 3 (live_call_exit_code) */
  cli_finish(c, live_call_exit_code(status, result));
}

static void on_ready_call(int status, const json_t *result, const char *message, void *data) {
  struct cli *c = data;
  (void)status, (void)result, (void)message;
  /* the arguments were read and checked before connecting (cmd_call) */
  char err[512];
  json_t *args =
      c->cmd_data ? agent_expand_call_args(daw_catalog(c->daw), c->cmd_data, err, sizeof err) : json_object();
  if (!args) { /* the notation did not parse: nothing was sent */
    fprintf(stderr, "dawbridge: call %s: %s\n", c->argv[0], err);
    cli_finish(c, CLI_EXIT_INVALID);
    return;
  }
  int rc = daw_call(c->daw, c->argv[0], args, on_called, c);
  json_decref(args);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", daw_strerror(rc));
    cli_finish(c, daw_exit_code(rc));
  }
}

static void free_call_args(void *p) { json_decref((json_t *)p); }

int cli_call_args(struct cli *c, json_t **out) {
  *out = NULL;
  if (c->argc < 1 || c->argc > 2) {
    fprintf(stderr, "dawbridge: call needs a tool and JSON arguments, e.g. call set_tempo '{\"bpm\": 96}'\n");
    return CLI_EXIT_USAGE;
  }
  if (c->argc > 1) {
    /* a bad JSON argument is a usage error found before connecting. Arguments too big for the command line (a
     * clip of 20,000 notes is ~700 KB; Linux caps one argument at 128 KiB) come from a file (@FILE) or stdin (-) */
    json_error_t je;
    const char *a = c->argv[1];
    const char *from = !strcmp(a, "-") ? "stdin" : a[0] == '@' ? a + 1 : NULL;
    json_t *args = !strcmp(a, "-") ? json_loadf(stdin, 0, &je)
                   : a[0] == '@'   ? json_load_file(a + 1, 0, &je)
                                   : json_loads(a, 0, &je);
    if (!args || !json_is_object(args)) {
      fprintf(stderr, "dawbridge: call %s: the arguments%s%s must be a JSON object: %s\n", c->argv[0],
              from ? " from " : "", from ? from : "", args ? "got another JSON type" : je.text);
      json_decref(args);
      return CLI_EXIT_INVALID;
    }
    *out = args;
  }
  return 0;
}

int cmd_call(struct cli *c) {
  /* arguments already read (by cli_dispatch, when a daemon's socket did not answer) are taken as they are */
  if (!c->cmd_data) {
    json_t *args = NULL;
    int rc = cli_call_args(c, &args);
    if (rc) return rc;
    if (args) {
      c->cmd_data = args;
      c->cmd_free = free_call_args;
    }
  } else if (c->argc < 1 || c->argc > 2) {
    return cli_call_args(c, &(json_t *){NULL});
  }
  cli_open_daw(c, on_ready_call, c);
  return 0;
}

void cli_print_tools(const json_t *tools, int json) {
  if (json) {
    cli_print_json(tools);
    return;
  }
  printf("%s, companion %s\n  available now:", json_string_value(json_object_get(tools, "dialect")),
         json_is_true(json_object_get(tools, "companion")) ? "answering" : "not answering");
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(tools, "available"), i, v) printf(" %s", json_string_value(v));
  printf("\n");
  json_array_foreach(json_object_get(tools, "unavailable"), i, v) {
    printf("  not now: %s (%s)\n", json_string_value(json_object_get(v, "tool")),
           json_string_value(json_object_get(v, "reason")));
  }
}

static void on_ready_tools(int status, const json_t *result, const char *message, void *data) {
  struct cli *c = data;
  (void)status, (void)message, (void)result;
  json_t *tools = live_tools_of(c->daw); /* the same object the daemon's "tools" op answers */
  cli_print_tools(tools, c->o.json);
  json_decref(tools);
  cli_finish(c, CLI_EXIT_OK);
}

int cmd_tools(struct cli *c) {
  cli_open_daw(c, on_ready_tools, c);
  return 0;
}
