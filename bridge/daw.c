/* daw: native OSC (sync + map) and the companion behind one interface. See daw.h. */
#include "daw.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"
#include "tools.h"

#define MOD "daw"

struct daw {
  uv_loop_t *loop;
  struct daw_config cfg;
  char dialect[16];
  oscmap_t *map;
  session_t *ses;
  sync_t *sync;
  tools_t *tools;
  mock_t *mock;
  int companion_ok;
  char companion_err[256];
  int closing, pending;
  void (*close_cb)(void *);
  void *close_data;
};

struct pending_call {
  daw_t *d;
  daw_cb cb;
  void *data;
  char tool[48];
};

const char *daw_strerror(int code) {
  switch (code) {
  case DAW_OK: return "ok";
  case DAW_EINVAL: return "invalid request";
  case DAW_EUNSUPPORTED: return "not supported by this DAW now";
  case DAW_ENOTRACK: return "unknown track or clip";
  case DAW_ETIMEDOUT: return "the DAW did not confirm";
  case DAW_EUNREACHABLE: return "the DAW does not answer";
  case DAW_EREJECTED: return "the DAW refused";
  case DAW_ECANCELED: return "canceled";
  case DAW_ECONFIG: return "configuration error";
  case DAW_ENOMEM: return "out of memory";
  default: return "unknown daw error";
  }
}

int daw_exit_code(int status) {
  switch (status) {
  case DAW_OK: return 0;
  case DAW_EUNREACHABLE: return 2;
  case DAW_ETIMEDOUT: return 3;
  case DAW_EINVAL:
  case DAW_EUNSUPPORTED:
  case DAW_ENOTRACK:
  case DAW_EREJECTED: return 4;
  case DAW_ECANCELED: return 130;
  default: return 5;
  }
}

static int from_sync(int s) {
  switch (s) {
  case SYNC_OK: return DAW_OK;
  case SYNC_EINVAL: return DAW_EINVAL;
  case SYNC_ENOTOOL: return DAW_EUNSUPPORTED;
  case SYNC_ENOTRACK: return DAW_ENOTRACK;
  case SYNC_ETIMEDOUT: return DAW_ETIMEDOUT;
  case SYNC_EUNREACHABLE: return DAW_EUNREACHABLE;
  case SYNC_ECANCELED: return DAW_ECANCELED;
  case SYNC_ENOMEM: return DAW_ENOMEM;
  default: return DAW_ECONFIG;
  }
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

int daw_open(uv_loop_t *loop, const struct daw_config *cfg, daw_t **out, char *err, size_t errlen) {
  *out = NULL;
  daw_t *d = calloc(1, sizeof *d);
  if (!d) return fail(err, errlen, DAW_ENOMEM, "out of memory");
  d->loop = loop;
  d->cfg = *cfg;
  snprintf(d->dialect, sizeof d->dialect, "%s", cfg->dialect ? cfg->dialect : "reaper");
  char path[1024];
  if (cfg->map_path) snprintf(path, sizeof path, "%s", cfg->map_path);
  else oscmap_find(d->dialect, path, sizeof path);
  int rc = oscmap_load(path, &d->map, err, errlen);
  if (rc) {
    free(d);
    return DAW_ECONFIG;
  }
  rc = tools_load(NULL, &d->tools, err, errlen);
  if (rc) {
    oscmap_free(d->map);
    free(d);
    return DAW_ECONFIG;
  }
  d->ses = session_new(oscmap_dialect(d->map));
  struct sync_config sc = {.daw_host = cfg->host, .daw_port = cfg->port, .listen_port = cfg->listen_port,
                           .refresh_interval_ms = cfg->refresh_interval_ms,
                           .confirm_timeout_ms = cfg->confirm_timeout_ms, .retries = cfg->retries,
                           .bank_size = cfg->bank_size, .silence_ms = -1, .probe_ms = -1, .log = cfg->log};
  if (cfg->embedded_mock) {
    sc.listen_port = 0;
    sc.daw_port = 9; /* replaced once the mock has bound */
    sc.daw_host = "127.0.0.1";
  }
  rc = sync_new(loop, d->map, d->ses, &sc, &d->sync, err, errlen);
  if (rc) {
    session_free(d->ses);
    tools_free(d->tools);
    oscmap_free(d->map);
    free(d);
    return DAW_ECONFIG;
  }
  if (cfg->embedded_mock) {
    struct mock_config mc = {.dialect = d->dialect, .port = 0, .feedback_port = sync_listen_port(d->sync),
                             .tracks = cfg->mock_tracks, .drop = cfg->mock_drop, .seed = cfg->mock_seed,
                             .quiet = cfg->log.level < LOG_DEBUG};
    rc = mock_new(loop, &mc, &d->mock, err, errlen);
    if (rc) {
      /* sync_close frees asynchronously; the caller runs the loop to finish */
      sync_close(d->sync, NULL, NULL);
      session_free(d->ses);
      tools_free(d->tools);
      oscmap_free(d->map);
      free(d);
      return DAW_ECONFIG;
    }
    sync_set_daw(d->sync, "127.0.0.1", mock_port(d->mock));
  }
  *out = d;
  return DAW_OK;
}

static void on_sync_result(int status, const json_t *result, const char *message, void *data) {
  struct pending_call *p = data;
  if (p->cb) {
    if (status) {
      p->cb(from_sync(status), NULL, message, p->data);
    } else {
      json_t *r = json_deep_copy(result);
      if (json_is_object(r) && json_object_get(r, "tool")) json_object_set_new(r, "via", json_string("osc"));
      p->cb(0, r, NULL, p->data);
      json_decref(r);
    }
  }
  free(p);
}

static struct pending_call *pend(daw_t *d, const char *tool, daw_cb cb, void *data) {
  struct pending_call *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->d = d;
  p->cb = cb;
  p->data = data;
  snprintf(p->tool, sizeof p->tool, "%s", tool ? tool : "");
  return p;
}

static void on_started(int status, const json_t *result, const char *message, void *data) {
  struct pending_call *p = data;
  if (!status) {
    json_t *r = json_pack("{sIsbss}", "tracks", json_integer_value(json_object_get(result, "tracks")), "companion",
                          p->d->companion_ok, "companion_error", "no companion configured");
    if (p->cb) p->cb(0, r, NULL, p->data);
    json_decref(r);
    free(p);
    return;
  }
  on_sync_result(status, result, message, data);
}

int daw_start(daw_t *d, daw_cb cb, void *data) {
  struct pending_call *p = pend(d, "start", cb, data);
  if (!p) return DAW_ENOMEM;
  return sync_start(d->sync, on_started, p) ? DAW_ECANCELED : DAW_OK;
}

int daw_refresh(daw_t *d, daw_cb cb, void *data) {
  struct pending_call *p = pend(d, "refresh", cb, data);
  if (!p) return DAW_ENOMEM;
  return sync_refresh(d->sync, on_sync_result, p) ? DAW_ECANCELED : DAW_OK;
}

struct deferred {
  uv_timer_t t;
  daw_cb cb;
  void *data;
  int status;
  char msg[512];
};

static void deferred_closed(uv_handle_t *h) { free(h->data); }
static void on_deferred(uv_timer_t *t) {
  struct deferred *x = t->data;
  if (x->cb) x->cb(x->status, NULL, x->msg, x->data);
  uv_close((uv_handle_t *)&x->t, deferred_closed);
}

/* Errors found before anything is sent are still delivered asynchronously, like every other result. */
static int defer_error(daw_t *d, daw_cb cb, void *data, int status, const char *msg) {
  struct deferred *x = calloc(1, sizeof *x);
  if (!x) return DAW_ENOMEM;
  x->cb = cb;
  x->data = data;
  x->status = status;
  snprintf(x->msg, sizeof x->msg, "%s", msg);
  uv_timer_init(d->loop, &x->t);
  x->t.data = x;
  uv_timer_start(&x->t, on_deferred, 0, 0);
  return DAW_OK;
}

const char *daw_unavailable_reason(const daw_t *d, const char *tool) {
  const json_t *mj = oscmap_json(d->map);
  const json_t *caps = json_object_get(mj, "capabilities");
  if (oscmap_tool(d->map, tool)) return NULL;
  const char *why = json_string_value(json_object_get(json_object_get(caps, "unavailable"), tool));
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(caps, "companion"), i, v) {
    if (!strcmp(json_string_value(v), tool))
      return d->companion_ok ? NULL
                             : "needs the dawbridge companion script in the DAW (see osc-maps/companions/README.md)";
  }
  return why ? why : "this DAW cannot do it";
}

int daw_call(daw_t *d, const char *tool, const json_t *args, daw_cb cb, void *data) {
  if (d->closing) return DAW_ECANCELED;
  char err[512];
  int rc = tools_check(d->tools, tool, args, d->ses, err, sizeof err);
  if (rc) {
    int code = rc == TOOLS_ENOTRACK ? DAW_ENOTRACK : DAW_EINVAL;
    return defer_error(d, cb, data, code, err);
  }
  const char *why = daw_unavailable_reason(d, tool);
  if (why) {
    snprintf(err, sizeof err, "%s: not available with %s now: %s", tool, d->dialect, why);
    return defer_error(d, cb, data, DAW_EUNSUPPORTED, err);
  }
  struct pending_call *p = pend(d, tool, cb, data);
  if (!p) return DAW_ENOMEM;
  return sync_call(d->sync, tool, args, on_sync_result, p) ? DAW_ECANCELED : DAW_OK;
}

static int request_noop(daw_t *d, const char *what, daw_cb cb, void *data) {
  struct deferred *x = calloc(1, sizeof *x);
  if (!x) return DAW_ENOMEM;
  (void)what;
  x->cb = cb;
  x->data = data;
  uv_timer_init(d->loop, &x->t);
  x->t.data = x;
  uv_timer_start(&x->t, on_deferred, 0, 0);
  return DAW_OK;
}

int daw_begin_request(daw_t *d, const char *name, daw_cb cb, void *data) { return request_noop(d, name, cb, data); }
int daw_end_request(daw_t *d, daw_cb cb, void *data) { return request_noop(d, "end", cb, data); }

json_t *daw_capabilities(const daw_t *d) {
  json_t *out = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(tools_catalog(d->tools), i, t) {
    const char *n = json_string_value(json_object_get(t, "name"));
    if (!daw_unavailable_reason(d, n)) json_array_append_new(out, json_string(n));
  }
  return out;
}

const json_t *daw_catalog(const daw_t *d) { return json_object_get(oscmap_json(d->map), "catalog"); }
int daw_has_companion(const daw_t *d) { return d->companion_ok; }
const char *daw_dialect(const daw_t *d) { return d->dialect; }
session_t *daw_session(daw_t *d) { return d->ses; }
sync_t *daw_sync(daw_t *d) { return d->sync; }
json_t *daw_mock_state(daw_t *d) { return d->mock ? mock_state(d->mock) : NULL; }

static void on_part_closed(void *data) {
  daw_t *d = data;
  if (--d->pending) return;
  void (*cb)(void *) = d->close_cb;
  void *cd = d->close_data;
  session_free(d->ses);
  tools_free(d->tools);
  oscmap_free(d->map);
  free(d);
  if (cb) cb(cd);
}

void daw_close(daw_t *d, void (*cb)(void *data), void *data) {
  if (!d || d->closing) return;
  d->closing = 1;
  d->close_cb = cb;
  d->close_data = data;
  d->pending = 1 + (d->mock != NULL);
  sync_close(d->sync, on_part_closed, d);
  if (d->mock) mock_close(d->mock, on_part_closed, d);
}
