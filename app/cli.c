/* cli: shared helpers of the commands (see cli.h). */
#include "cli.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_log_stderr(int level, const char *module, const char *text, void *data) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  (void)data;
  fprintf(stderr, "dawbridge: %s: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], module, text);
}

int cli_is_loopback(const char *addr) {
  struct in_addr a;
  return !addr || (inet_pton(AF_INET, addr, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127);
}

const char *cli_choose_listen(const struct cli_opts *o, FILE *warn) {
  if (o->listen || cli_is_loopback(o->host) || !strcmp(o->daw, "mock")) return o->listen;
  if (warn)
    fprintf(warn,
            "dawbridge: warning: the DAW at %s is not on this machine: listening for its feedback on every "
            "interface (0.0.0.0); OSC has no authentication, choose one with --listen ADDR\n",
            o->host);
  return "0.0.0.0";
}

void *cli_cmd_new(struct cli *c, size_t size, void (*cmd_free)(void *cmd_data)) {
  void *x = calloc(1, size);
  if (x) {
    c->cmd_data = x;
    c->cmd_free = cmd_free;
  }
  return x;
}

void cli_daw_config(const struct cli *c, struct daw_config *cfg) {
  const struct cli_opts *o = &c->o;
  memset(cfg, 0, sizeof *cfg);
  int mock = !strcmp(o->daw, "mock");
  cfg->dialect = mock ? o->dialect : o->daw;
  cfg->map_path = o->map_path;
  cfg->host = o->host;
  /* chosen (and warned about) only where a command opens the DAW: a command served by a daemon or one that never
   * talks to the DAW (history list) says nothing about it */
  cfg->listen_host = cli_choose_listen(o, o->log_level >= LOG_WARN ? stderr : NULL);
  cfg->port = o->port;
  cfg->listen_port = o->listen_port;
  cfg->bank_size = o->bank_size;
  cfg->confirm_timeout_ms = o->timeout_ms;
  cfg->retries = o->retries;
  cfg->refresh_interval_ms = 0; /* one-shot commands: no periodic refresh */
  cfg->spool_dir = o->no_companion ? "" : o->spool_dir;
  cfg->log.fn = cli_log_stderr;
  cfg->log.level = o->log_level;
}

int cli_mock_config(const struct cli *c, struct mock_embed_config *mc) {
  const struct cli_opts *o = &c->o;
  memset(mc, 0, sizeof *mc);
  mc->tracks = o->mock_tracks;
  mc->companion = !o->no_companion;
  mc->quiet = o->log_level < LOG_DEBUG;
  return !strcmp(o->daw, "mock");
}

struct open_ctx {
  struct cli *c;
  daw_cb cb;
  void *data;
};

static void on_started(int status, const json_t *result, const char *message, void *data) {
  struct open_ctx *x = data;
  struct cli *c = x->c;
  daw_cb cb = x->cb;
  void *cd = x->data;
  free(x);
  if (status) {
    fprintf(stderr, "dawbridge: cannot sync with the DAW: %s\n", message ? message : daw_strerror(status));
    if (status == DAW_EUNREACHABLE)
      fprintf(stderr, "dawbridge: is the %s OSC surface enabled and listening? (--host, --port; README: Setup)\n",
              daw_dialect(c->daw));
    cli_finish(c, daw_exit_code(status));
    return;
  }
  cb(status, result, message, cd);
}

int cli_open_daw(struct cli *c, daw_cb cb, void *data) {
  struct daw_config cfg;
  cli_daw_config(c, &cfg);
  struct mock_embed_config mc;
  char err[512];
  /* --daw mock: the app starts the in-process mock and points the daw at it (app/mock_embed.h) */
  int rc = cli_mock_config(c, &mc) ? mock_embed_open(c->loop, &cfg, &mc, &c->daw, &c->mock, err, sizeof err)
                                   : daw_open(c->loop, &cfg, &c->daw, err, sizeof err);
  if (rc) {
    fprintf(stderr, "dawbridge: %s\n", err);
    cli_finish(c, daw_exit_code(rc));
    return rc;
  }
  struct open_ctx *x = calloc(1, sizeof *x);
  x->c = c;
  x->cb = cb;
  x->data = data;
  return daw_start(c->daw, on_started, x);
}

static void on_daw_closed(void *data) {
  struct cli *c = data;
  c->daw = NULL;
}

static void on_mock_closed(void *data) {
  struct cli *c = data;
  c->mock = NULL;
}

void cli_finish(struct cli *c, int exit_code) {
  if (c->finished) return;
  c->finished = 1;
  c->exit_code = exit_code;
  if (!uv_is_closing((uv_handle_t *)&c->sigint)) uv_close((uv_handle_t *)&c->sigint, NULL);
  if (!uv_is_closing((uv_handle_t *)&c->sigterm)) uv_close((uv_handle_t *)&c->sigterm, NULL);
  if (c->daw) daw_close(c->daw, on_daw_closed, c);
  if (c->mock) mock_embed_close(c->mock, on_mock_closed, c);
}

void cli_print_json(const json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10) | JSON_ENCODE_ANY);
  if (s) puts(s);
  free(s);
}

static void fmt_pan(double p, char *buf, size_t n) {
  if (fabs(p) < 0.005)
    snprintf(buf, n, "C");
  else
    snprintf(buf, n, "%d%c", (int)lround(fabs(p) * 100), p < 0 ? 'L' : 'R');
}

void cli_print_state_table(const json_t *st) {
  const char *dialect = json_string_value(json_object_get(st, "dialect"));
  const char *project = json_string_value(json_object_get(st, "project"));
  const json_t *tp = json_object_get(st, "transport");
  const json_t *ts = json_object_get(st, "time_signature");
  printf("%s session%s%s%s: %.2f BPM, %lld/%lld, %s\n", dialect ? dialect : "DAW", project ? " \"" : "",
         project ? project : "", project ? "\"" : "", json_number_value(json_object_get(st, "tempo")),
         (long long)json_integer_value(json_array_get(ts, 0)), (long long)json_integer_value(json_array_get(ts, 1)),
         json_is_true(json_object_get(tp, "recording")) ? "recording"
         : json_is_true(json_object_get(tp, "playing")) ? "playing"
                                                        : "stopped");
  printf("%-6s %4s  %-24s %-5s %8s %5s  %-5s  %-22s %s\n", "id", "#", "name", "type", "vol dB", "pan", "M S R",
         "instrument", "plugins / clips");
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(st, "tracks"), i, t) {
    char pan[16], vol[16];
    fmt_pan(json_number_value(json_object_get(t, "pan")), pan, sizeof pan);
    double v = json_number_value(json_object_get(t, "volume_db"));
    if (v <= -150)
      snprintf(vol, sizeof vol, "-inf");
    else
      snprintf(vol, sizeof vol, "%.1f", v);
    char fx[256] = "";
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(t, "fx"), k, f) {
      strncat(fx, k ? ", " : "", sizeof fx - strlen(fx) - 1);
      const char *n = json_string_value(json_object_get(f, "name"));
      strncat(fx, n ? n : "?", sizeof fx - strlen(fx) - 1);
      if (!json_is_true(json_object_get(f, "enabled"))) strncat(fx, " (off)", sizeof fx - strlen(fx) - 1);
    }
    json_t *clips = json_object_get(t, "clips");
    if (json_array_size(clips)) {
      size_t notes = 0;
      json_t *cl;
      json_array_foreach(clips, k, cl) notes += json_array_size(json_object_get(cl, "notes"));
      char cbuf[64];
      snprintf(cbuf, sizeof cbuf, "%s%zu clip%s, %zu notes", fx[0] ? "; " : "", json_array_size(clips),
               json_array_size(clips) == 1 ? "" : "s", notes);
      strncat(fx, cbuf, sizeof fx - strlen(fx) - 1);
    }
    const char *ins = json_string_value(json_object_get(t, "instrument"));
    const char *name = json_string_value(json_object_get(t, "name"));
    printf("%-6s %4lld  %-24.24s %-5s %8s %5s  %c %c %c  %-22.22s %s\n", json_string_value(json_object_get(t, "id")),
           (long long)json_integer_value(json_object_get(t, "index")), name ? name : "",
           json_string_value(json_object_get(t, "type")), vol, pan,
           json_is_true(json_object_get(t, "mute")) ? 'M' : '.', json_is_true(json_object_get(t, "solo")) ? 'S' : '.',
           json_is_true(json_object_get(t, "rec_arm")) ? 'R' : '.', ins ? ins : "-", fx);
  }
  json_array_foreach(json_object_get(st, "markers"), i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    printf("marker %lld \"%s\" at beat %.2f\n", (long long)json_integer_value(json_object_get(t, "number")), n ? n : "",
           json_number_value(json_object_get(t, "position")));
  }
}

char *cli_join_args(const struct cli *c) {
  size_t n = 1;
  for (int i = 0; i < c->argc; i++) n += strlen(c->argv[i]) + 1;
  char *s = malloc(n);
  if (!s) return NULL;
  s[0] = 0;
  for (int i = 0; i < c->argc; i++) {
    if (i) strcat(s, " ");
    strcat(s, c->argv[i]);
  }
  return s;
}
