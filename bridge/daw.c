/* daw: native OSC (sync + map) and the companion behind one interface. See daw.h. */
#include "daw.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "companion.h"
#include "instmap.h"
#include "notes_packed.h"
#include "vocab.h"
#include "errfmt.h"

#define MOD "daw"

struct daw {
  uv_loop_t *loop;
  struct daw_config cfg;
  char dialect[16];
  oscmap_t *map;
  instmap_t *inst; /* instrument roles -> this DAW's plugins (osc-maps/instruments/), NULL when none */
  json_t *catalog; /* the map's catalog, instruments from the instrument map (daw_catalog) */
  session_t *ses;
  sync_t *sync;
  vocab_t *vocab; /* the tool vocabulary: schemas for the argument check */
  companion_t *comp;
  char request[256];       /* the open AI request (begin_request), "" = none */
  char why[1400];          /* daw_unavailable_reason's text */
  uint64_t ping_failed_at; /* uv_now() of the last failed ping: a refresh re-pings at most every 30 s */
  int bg_ping;             /* a background ping is out (the companion did not answer before) */
  struct ccall *waiting;   /* companion calls waiting on a timer before their next refresh */
  int closing, pending;
  void (*close_cb)(void *);
  void *close_data;
};

struct pending_call {
  daw_t *d;
  daw_cb cb;
  void *data;
  char tool[48];
  char only_track[16]; /* get_state {track_id}: the bridge id of the one track to report, "" = all */
  char warning[300];   /* added to the result as "warning" (create_track: the name is taken already) */
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
  case DAW_ETIMEDOUT: return 7; /* failed: the DAW's read-back contradicts the request (cli.h CLI_EXIT_FAILED) */
  case DAW_EREJECTED: return 7; /* failed: the DAW refused */
  case DAW_EINVAL:
  case DAW_EUNSUPPORTED:
  case DAW_ENOTRACK: return 4;
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

static int from_companion(int c) {
  switch (c) {
  case COMPANION_OK: return DAW_OK;
  case COMPANION_EINVAL: return DAW_EINVAL;
  case COMPANION_EREJECTED: return DAW_EREJECTED;
  case COMPANION_ETIMEDOUT: return DAW_ETIMEDOUT;
  case COMPANION_ECANCELED: return DAW_ECANCELED;
  case COMPANION_ENOMEM: return DAW_ENOMEM;
  case COMPANION_ESPOOL: return DAW_ECONFIG;
  case COMPANION_EEXPIRED: return DAW_EREJECTED; /* read too late, not executed: failed */
  default: return DAW_EUNREACHABLE;              /* not running, cannot trigger */
  }
}

static int comp_up(const daw_t *d) { return d->comp && companion_is_running(d->comp); }

/* The companion's trigger goes out through the native OSC link. */
static int comp_send(const json_t *templates, const json_t *vars, void *data, char *err, size_t errlen) {
  daw_t *d = data;
  return sync_send(d->sync, templates, vars, err, errlen);
}

/* Ardour's companion answers by OSC on our link socket: the map turns it into the "companion_reply" event. */
static void on_comp_reply_event(const char *event, const char *str, void *data) {
  daw_t *d = data;
  (void)event;
  if (d->comp && str) companion_feed_reply(d->comp, str);
}

/* The instrument map of the map's dialect (a missing one is not an error: instruments are then checked against
 * the map's catalog alone), and the catalog the planner and the validator see: the map's effects, the instrument
 * map's plugins as "instruments", and the whole instrument map as "instrument_map" (plan.c resolves roles). */
static int load_instruments(daw_t *d, char *err, size_t errlen) {
  const json_t *mc = json_object_get(oscmap_json(d->map), "catalog");
  d->catalog = json_is_object(mc) ? json_deep_copy(mc) : json_object();
  if (!d->catalog) return errfmt(err, errlen, DAW_ENOMEM, "out of memory");
  const char *dl = oscmap_dialect(d->map);
  char ierr[512];
  int rc = instmap_load_dialect(dl ? dl : d->dialect, &d->inst, ierr, sizeof ierr);
  if (rc == INSTMAP_ENOMAP) {
    log_msg(&d->cfg.log, LOG_INFO, MOD, "%s", ierr);
    return 0;
  }
  if (rc) return errfmt(err, errlen, DAW_ECONFIG, "%s", ierr);
  json_object_set_new(d->catalog, "instruments", instmap_catalog(d->inst));
  json_object_set_new(d->catalog, "instrument_roles", instmap_role_examples(d->inst));
  json_object_set(d->catalog, "instrument_map", (json_t *)instmap_json(d->inst));
  return 0;
}

/* Frees d and what it owns besides sync and the companion (closed, or closing, by the caller). */
static void daw_free(daw_t *d) {
  session_free(d->ses);
  vocab_free(d->vocab);
  oscmap_free(d->map);
  instmap_free(d->inst);
  json_decref(d->catalog);
  free(d);
}

int daw_open(uv_loop_t *loop, const struct daw_config *cfg, daw_t **out, char *err, size_t errlen) {
  *out = NULL;
  daw_t *d = calloc(1, sizeof *d);
  if (!d) return errfmt(err, errlen, DAW_ENOMEM, "out of memory");
  d->loop = loop;
  d->cfg = *cfg;
  snprintf(d->dialect, sizeof d->dialect, "%s", cfg->dialect ? cfg->dialect : "reaper");
  char path[1024];
  if (cfg->map_path)
    snprintf(path, sizeof path, "%s", cfg->map_path);
  else
    oscmap_find(d->dialect, path, sizeof path);
  int rc = oscmap_load(path, &d->map, err, errlen);
  if (rc) {
    free(d);
    return DAW_ECONFIG;
  }
  rc = vocab_load(NULL, &d->vocab, err, errlen);
  if (rc) {
    oscmap_free(d->map);
    free(d);
    return DAW_ECONFIG;
  }
  d->ses = session_new(oscmap_dialect(d->map));
  struct sync_config sc = {.daw_host = cfg->host,
                           .listen_host = cfg->listen_host,
                           .daw_port = cfg->port,
                           .listen_port = cfg->listen_port,
                           .refresh_interval_ms = cfg->refresh_interval_ms,
                           .confirm_timeout_ms = cfg->confirm_timeout_ms,
                           .retries = cfg->retries,
                           .bank_size = cfg->bank_size,
                           .silence_ms = -1,
                           .probe_ms = -1,
                           .log = cfg->log};
  rc = sync_new(loop, d->map, d->ses, &sc, &d->sync, err, errlen);
  if (rc) {
    session_free(d->ses);
    vocab_free(d->vocab);
    oscmap_free(d->map);
    free(d);
    return DAW_ECONFIG;
  }
  /* the companion: unless switched off ("" spool) */
  int want_comp = !(cfg->spool_dir && !cfg->spool_dir[0]);
  const char *spool = cfg->spool_dir;
  if (!rc && want_comp) {
    const json_t *sec = json_object_get(oscmap_json(d->map), "companion");
    int to = cfg->companion_timeout_ms > 0 ? cfg->companion_timeout_ms
                                           : (int)json_integer_value(json_object_get(sec, "timeout_ms"));
    struct companion_config cc = {.spool_dir = spool,
                                  .host = d->dialect,
                                  .section = sec,
                                  .timeout_ms = to,
                                  .retries = -1,
                                  .reply_port = sync_listen_port(d->sync),
                                  .send = comp_send,
                                  .send_data = d,
                                  .log = cfg->log};
    char cerr[512];
    if (companion_new(loop, &cc, &d->comp, cerr, sizeof cerr))
      rc = errfmt(err, errlen, DAW_ECONFIG, "%s", cerr);
    else
      sync_set_event_handler(d->sync, "companion_reply", on_comp_reply_event, d);
  }
  if (!rc) rc = load_instruments(d, err, errlen);
  if (rc) {
    /* sync_close/companion_close free asynchronously; the caller runs the loop to finish */
    if (d->comp) companion_close(d->comp, NULL, NULL);
    sync_close(d->sync, NULL, NULL);
    daw_free(d);
    return DAW_ECONFIG;
  }
  *out = d;
  return DAW_OK;
}

/* get_state {track_id}: the mirror's session with that one track (and "track": the track itself). */
static void only_one_track(json_t *r, const char *id) {
  json_t *ses = json_object_get(json_object_get(r, "state"), "session");
  json_t *tracks = json_object_get(ses, "tracks");
  json_t *keep = NULL;
  size_t i;
  json_t *t;
  json_array_foreach(tracks, i, t) {
    const char *tid = json_string_value(json_object_get(t, "id"));
    if (tid && !strcmp(tid, id)) keep = t;
  }
  json_t *one = json_array();
  if (keep) json_array_append(one, keep);
  if (ses)
    json_object_set_new(ses, "tracks", one);
  else
    json_decref(one);
  if (keep) json_object_set(r, "track", keep);
}

static void on_sync_result(int status, const json_t *result, const char *message, void *data) {
  struct pending_call *p = data;
  if (p->cb) {
    if (status) {
      p->cb(from_sync(status), NULL, message, p->data);
    } else {
      json_t *r = json_deep_copy(result);
      if (json_is_object(r) && json_object_get(r, "tool")) json_object_set_new(r, "via", json_string("osc"));
      if (p->only_track[0]) only_one_track(r, p->only_track);
      if (p->warning[0] && json_is_object(r)) json_object_set_new(r, "warning", json_string(p->warning));
      p->cb(0, r, NULL, p->data);
      json_decref(r);
    }
  }
  free(p);
}

/* create_track: a track of that name exists already (case-insensitive). The track is made anyway (names need not be
 * unique), and the result says so in "warning", so a second "Bass" does not go unnoticed. "" when the name is free. */
static void name_taken(const daw_t *d, const char *name, char *out, size_t outlen) {
  out[0] = 0;
  if (!name) return;
  int n = session_track_count(d->ses);
  for (int i = 1; i <= n; i++) {
    const char *tn = session_track_name(d->ses, i);
    if (tn && !strcasecmp(tn, name)) {
      snprintf(out, outlen, "a track named \"%s\" already exists (track_id %s)", tn, session_track_id(d->ses, i));
      return;
    }
  }
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

/* ---------------- the companion's state in the mirror ---------------- */

/* "VST: ReaVerbate (Cockos)" -> "ReaVerbate (Cockos)": OSC shows plugin names without the type prefix. */
static const char *plain_fx_name(const char *n) {
  if (!n) return NULL;
  const char *c = strstr(n, ": ");
  if (!c || c - n > 8) return n;
  for (const char *p = n; p < c; p++)
    if (!isalnum((unsigned char)*p)) return n;
  return c + 2;
}

static int names_match(const char *a, const char *b) {
  if (!a || !b) return 0;
  a = plain_fx_name(a);
  b = plain_fx_name(b);
  return !strcmp(a, b) || strstr(a, b) || strstr(b, a);
}

static void apply(daw_t *d, struct session_update *u) {
  char err[256];
  if (session_apply(d->ses, u, err, sizeof err) < 0) log_msg(&d->cfg.log, LOG_DEBUG, MOD, "mirror: %s", err);
}

static int mirror_index_of_host(daw_t *d, const char *hid) {
  int n = session_track_count(d->ses);
  for (int i = 1; hid && i <= n; i++) {
    const char *h = session_track_host_id(d->ses, i);
    if (h && !strcmp(h, hid)) return i;
  }
  return 0;
}

/* clips as the mirror keeps them: {host_id, name, start, length, notes} */
/* {n, s, d, v} from borrowed values (NULL left out): built directly, not through json_pack's format parser (a bulk
 * clip makes 10,000s of them) */
static json_t *note_obj(json_t *n, json_t *s, json_t *d, json_t *v) {
  json_t *o = json_object();
  if (n) json_object_set(o, "n", n);
  if (s) json_object_set(o, "s", s);
  if (d) json_object_set(o, "d", d);
  if (v) json_object_set(o, "v", v);
  return o;
}

static json_t *mirror_clip(const json_t *c, const json_t *notes) {
  json_t *o =
      json_pack("{s:O?,s:O?,s:O?,s:O?}", "host_id", json_object_get(c, "host_id"), "name", json_object_get(c, "name"),
                "start", json_object_get(c, "start"), "length", json_object_get(c, "length"));
  json_t *ns = json_array();
  size_t i;
  json_t *n;
  json_array_foreach(notes ? notes : json_object_get(c, "notes"), i, n) {
    json_array_append_new(ns, note_obj(json_object_get(n, "n"), json_object_get(n, "s"), json_object_get(n, "d"),
                                       json_object_get(n, "v")));
  }
  json_object_set_new(o, "notes", ns);
  return o;
}

/* Companion track -> mirror track: the host id when the mirror knows it, else the same position with the same
 * name, else the name. Returns the mirror position or 0. */
static int match_track(daw_t *d, const json_t *ct) {
  const char *hid = json_string_value(json_object_get(ct, "host_id"));
  const char *name = json_string_value(json_object_get(ct, "name"));
  int idx = (int)json_integer_value(json_object_get(ct, "index"));
  int mi = mirror_index_of_host(d, hid);
  if (!mi && idx >= 1 && idx <= session_track_count(d->ses) && name &&
      !strcmp(name, session_track_name(d->ses, idx) ? session_track_name(d->ses, idx) : ""))
    mi = idx;
  if (!mi && name) mi = session_track_index_by_name(d->ses, name);
  return mi;
}

/* Host ids, type, instrument, clips with notes, and FX the native side cannot see (REAPER reports 8 slots). */
static void merge_track(daw_t *d, int mi, const json_t *ct) {
  struct session_update u = {.index = mi};
  const char *hid = json_string_value(json_object_get(ct, "host_id"));
  if (hid) {
    u.field = SF_TRACK_HOST_ID;
    u.str = hid;
    apply(d, &u);
  }
  const char *type = json_string_value(json_object_get(ct, "type"));
  if (type && (!strcmp(type, "midi") || !strcmp(type, "audio"))) {
    u.field = SF_TRACK_TYPE;
    u.str = type;
    apply(d, &u);
  }
  json_t *ins = json_object_get(ct, "instrument");
  if (ins) {
    u.field = SF_TRACK_INSTRUMENT;
    u.str = json_is_string(ins) ? plain_fx_name(json_string_value(ins)) : NULL;
    apply(d, &u);
  }
  json_t *clips = json_object_get(ct, "clips");
  if (json_is_array(clips)) {
    json_t *arr = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(clips, i, c) json_array_append_new(arr, mirror_clip(c, NULL));
    u.field = SF_CLIPS_SET;
    u.json = arr;
    apply(d, &u);
    json_decref(arr);
  }
  json_t *fx = json_object_get(ct, "fx");
  int have = session_track_fx_count(d->ses, mi);
  for (int k = have; k < (int)json_array_size(fx); k++) {
    json_t *f = json_array_get(fx, (size_t)k);
    struct session_update v = {.field = SF_FX_NAME,
                               .index = mi,
                               .fx = k + 1,
                               .str = plain_fx_name(json_string_value(json_object_get(f, "name")))};
    if (!v.str || !*v.str) break;
    apply(d, &v);
    v.field = SF_FX_ENABLED;
    v.num = json_is_false(json_object_get(f, "enabled")) ? 0 : 1;
    apply(d, &v);
  }
}

static void merge_state(daw_t *d, const json_t *state) {
  size_t i;
  json_t *ct;
  json_array_foreach(json_object_get(state, "tracks"), i, ct) {
    int mi = match_track(d, ct);
    if (!mi) {
      log_msg(&d->cfg.log, LOG_INFO, MOD, "companion track %s (%s) is not in the OSC mirror yet",
              json_string_value(json_object_get(ct, "name")), json_string_value(json_object_get(ct, "host_id")));
      continue;
    }
    merge_track(d, mi, ct);
  }
}

/* ---------------- start / refresh ---------------- */

struct startup {
  daw_t *d;
  daw_cb cb;
  void *data;
  json_int_t tracks;
  int ping_only_if_down; /* refresh: ping only when the companion is not known to run */
  int waiting;           /* start: the native sync and the companion's ping run side by side; both must end */
  int sync_status, ping_status, canceled;
  char sync_msg[1024];
  char comp_err[1600];
};

static void startup_done(struct startup *st) {
  daw_t *d = st->d;
  json_t *r = json_pack("{sIsb}", "tracks", (json_int_t)session_track_count(d->ses), "companion", comp_up(d));
  if (d->comp) {
    json_object_set_new(r, "spool", json_string(companion_spool(d->comp)));
    const json_t *info = companion_info(d->comp);
    if (comp_up(d) && info) json_object_set(r, "companion_info", (json_t *)info);
    if (!comp_up(d))
      json_object_set_new(r, "companion_error", json_string(st->comp_err[0] ? st->comp_err : companion_why(d->comp)));
    /* the companion runs but its state (clips, notes) was not read: the mirror's clips are not fresh */
    else if (st->comp_err[0])
      json_object_set_new(r, "companion_state_error", json_string(st->comp_err));
  } else {
    json_object_set_new(r, "companion_error", json_string("no companion configured"));
  }
  if (st->cb) st->cb(0, r, NULL, st->data);
  json_decref(r);
  free(st);
}

static void on_start_state(int status, const json_t *result, const char *message, void *data) {
  struct startup *st = data;
  if (status == COMPANION_ECANCELED) {
    if (st->cb) st->cb(DAW_ECANCELED, NULL, message, st->data);
    free(st);
    return;
  }
  if (!status)
    merge_state(st->d, result);
  else
    snprintf(st->comp_err, sizeof st->comp_err, "%s", message ? message : "state failed");
  startup_done(st);
}

/* One short notice when the companion does not answer (the full install text is in companion_error and
 * `dawbridge tools`); the failure is remembered: refreshes do not wait for another ping (a background one, at most
 * every 30 s, notices the companion when it starts), and companion tools fail at once with the reason. */
static void note_ping_failed(daw_t *d, const char *message) {
  d->ping_failed_at = uv_now(d->loop);
  log_msg(&d->cfg.log, LOG_WARN, MOD,
          "the %s companion does not answer (spool %s): only native OSC tools now; "
          "`dawbridge tools` says how to install it",
          d->dialect, d->comp ? companion_spool(d->comp) : "-");
  log_msg(&d->cfg.log, LOG_DEBUG, MOD, "%s", message ? message : "companion not running");
}

static void on_start_ping(int status, const json_t *result, const char *message, void *data) {
  struct startup *st = data;
  (void)result;
  if (status == COMPANION_ECANCELED) {
    if (st->cb) st->cb(DAW_ECANCELED, NULL, message, st->data);
    free(st);
    return;
  }
  if (status) {
    snprintf(st->comp_err, sizeof st->comp_err, "%s", message ? message : "companion not running");
    note_ping_failed(st->d, st->comp_err);
    startup_done(st);
    return;
  }
  if (companion_call(st->d->comp, "state", NULL, NULL, on_start_state, st)) startup_done(st);
}

/* daw_start: the native sync and the ping run side by side; the companion's state is merged once both ended
 * (it is matched against the mirror the native sync built). */
static void start_joined(struct startup *st) {
  if (--st->waiting > 0) return;
  daw_t *d = st->d;
  if (st->canceled || st->sync_status) {
    if (st->cb)
      st->cb(st->canceled ? DAW_ECANCELED : from_sync(st->sync_status), NULL, st->canceled ? "canceled" : st->sync_msg,
             st->data);
    free(st);
    return;
  }
  if (st->ping_status || d->closing || !d->comp) {
    startup_done(st);
    return;
  }
  if (companion_call(d->comp, "state", NULL, NULL, on_start_state, st)) startup_done(st);
}

static void on_start_sync(int status, const json_t *result, const char *message, void *data) {
  struct startup *st = data;
  (void)result;
  st->sync_status = status;
  if (status == SYNC_ECANCELED) st->canceled = 1;
  snprintf(st->sync_msg, sizeof st->sync_msg, "%s", message ? message : "");
  start_joined(st);
}

static void on_start_ping_joined(int status, const json_t *result, const char *message, void *data) {
  struct startup *st = data;
  (void)result;
  st->ping_status = status;
  if (status == COMPANION_ECANCELED) {
    st->canceled = 1;
  } else if (status) {
    snprintf(st->comp_err, sizeof st->comp_err, "%s", message ? message : "companion not running");
    note_ping_failed(st->d, st->comp_err);
  }
  start_joined(st);
}

/* a refresh while the companion is down: a ping in the background, nobody waits for it */
static void on_bg_ping(int status, const json_t *result, const char *message, void *data) {
  daw_t *d = data;
  (void)result;
  d->bg_ping = 0;
  if (status == COMPANION_ECANCELED || d->closing) return;
  if (status) {
    d->ping_failed_at = uv_now(d->loop);
    log_msg(&d->cfg.log, LOG_DEBUG, MOD, "background ping: %s", message ? message : "no answer");
    return;
  }
  log_msg(&d->cfg.log, LOG_INFO, MOD, "the companion answers now: its tools are available");
  d->ping_failed_at = 0;
}

static void on_started(int status, const json_t *result, const char *message, void *data) {
  struct startup *st = data;
  (void)result;
  if (status) {
    if (st->cb) st->cb(from_sync(status), NULL, message, st->data);
    free(st);
    return;
  }
  daw_t *d = st->d;
  if (!d->comp || d->closing) {
    startup_done(st);
    return;
  }
  int rc;
  if (st->ping_only_if_down && comp_up(d)) {
    rc = companion_call(d->comp, "state", NULL, NULL, on_start_state, st);
  } else if (st->ping_only_if_down && d->ping_failed_at) {
    /* it did not answer: the refresh does not wait for another ping; one runs in the background (at most every
     * 30 s) and makes the companion's tools available when it answers */
    if (!d->bg_ping && uv_now(d->loop) - d->ping_failed_at >= 30000 && !companion_ping(d->comp, on_bg_ping, d))
      d->bg_ping = 1;
    startup_done(st);
    return;
  } else {
    rc = companion_ping(d->comp, on_start_ping, st);
  }
  if (rc) startup_done(st);
}

static struct startup *startup_new(daw_t *d, daw_cb cb, void *data) {
  struct startup *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->d = d;
  st->cb = cb;
  st->data = data;
  return st;
}

int daw_start(daw_t *d, daw_cb cb, void *data) {
  if (d->closing) return DAW_ECANCELED;
  struct startup *st = startup_new(d, cb, data);
  if (!st) return DAW_ENOMEM;
  if (!d->comp) {
    if (sync_start(d->sync, on_started, st)) {
      free(st);
      return DAW_ECANCELED;
    }
    return DAW_OK;
  }
  st->waiting = 2;
  if (sync_start(d->sync, on_start_sync, st)) {
    free(st);
    return DAW_ECANCELED;
  }
  if (companion_ping(d->comp, on_start_ping_joined, st)) {
    st->ping_status = COMPANION_ENOTRUNNING;
    snprintf(st->comp_err, sizeof st->comp_err, "the companion could not be pinged");
    start_joined(st);
  }
  return DAW_OK;
}

int daw_refresh(daw_t *d, daw_cb cb, void *data) {
  if (d->closing) return DAW_ECANCELED;
  struct startup *st = startup_new(d, cb, data);
  if (!st) return DAW_ENOMEM;
  st->ping_only_if_down = 1;
  if (sync_refresh(d->sync, on_started, st)) {
    free(st);
    return DAW_ECANCELED;
  }
  return DAW_OK;
}

struct deferred {
  uv_timer_t t;
  daw_cb cb;
  void *data;
  int status;
  json_t *result;
  char msg[1600];
};

static void deferred_closed(uv_handle_t *h) {
  struct deferred *x = h->data;
  json_decref(x->result);
  free(x);
}
static void on_deferred(uv_timer_t *t) {
  struct deferred *x = t->data;
  if (x->cb) x->cb(x->status, x->result, x->status ? x->msg : NULL, x->data);
  uv_close((uv_handle_t *)&x->t, deferred_closed);
}

/* Results found before anything is sent are still delivered asynchronously, like every other result. */
static int defer_result(daw_t *d, daw_cb cb, void *data, int status, const char *msg, json_t *result /* steals */) {
  struct deferred *x = calloc(1, sizeof *x);
  if (!x) {
    json_decref(result);
    return DAW_ENOMEM;
  }
  x->cb = cb;
  x->data = data;
  x->status = status;
  x->result = result;
  snprintf(x->msg, sizeof x->msg, "%s", msg ? msg : "");
  uv_timer_init(d->loop, &x->t);
  x->t.data = x;
  uv_timer_start(&x->t, on_deferred, 0, 0);
  return DAW_OK;
}

static int defer_error(daw_t *d, daw_cb cb, void *data, int status, const char *msg) {
  return defer_result(d, cb, data, status, msg, NULL);
}

static int in_array(const json_t *a, const char *s) {
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return 1;
  return 0;
}

static int companion_tool(const daw_t *d, const char *tool) {
  return in_array(json_object_get(json_object_get(oscmap_json(d->map), "capabilities"), "companion"), tool);
}

/* A companion tool this host's companion cannot carry out (Ardour 7.3: delete_track, its Lua cannot remove a
 * route), or NULL: the dialect map's capabilities.companion_unavailable {tool: reason} (data). */
static const char *companion_refuses(const daw_t *d, const char *tool) {
  const json_t *list = json_object_get(json_object_get(oscmap_json(d->map), "capabilities"), "companion_unavailable");
  return json_string_value(json_object_get(list, tool));
}

const char *daw_unavailable_reason(const daw_t *d, const char *tool) {
  const json_t *caps = json_object_get(oscmap_json(d->map), "capabilities");
  if (companion_tool(d, tool) && !oscmap_tool(d->map, tool)) {
    const char *no = companion_refuses(d, tool);
    if (no) return no;
  }
  if (companion_tool(d, tool) && comp_up(d)) return NULL;
  if (oscmap_tool(d->map, tool)) return NULL;
  if (companion_tool(d, tool)) {
    daw_t *m = (daw_t *)d; /* the reason text is a cache of the companion's state */
    snprintf(m->why, sizeof m->why, "needs the dawbridge companion script in the DAW: %s",
             d->comp ? companion_why(d->comp) : "the companion is switched off (no spool directory)");
    return m->why;
  }
  const char *why = json_string_value(json_object_get(json_object_get(caps, "unavailable"), tool));
  return why ? why : "this DAW cannot do it";
}

/* ---------------- tool calls through the companion ---------------- */

struct ccall;
typedef void (*cstep)(struct ccall *cc, int status, const json_t *res, const char *msg);

struct ccall {
  daw_t *d;
  daw_cb cb;
  void *data;
  char tool[48];
  json_t *args;      /* copy of the tool's arguments */
  json_t *reply;     /* the change's reply (result) */
  json_t *want;      /* notes expected on read-back */
  json_t *rest;      /* bulk notes: notes still to add in chunks (edit_clip add), from index `sent` */
  size_t sent;       /* how many of `rest` went out already */
  size_t chunk_from; /* where the last chunk started in `rest` */
  json_t *rest_rm;   /* bulk edits: notes to remove, sent in chunks before the adds */
  size_t sent_rm;
  size_t chunks;   /* companion commands that carried notes */
  size_t per_cmd;  /* notes per companion command: more when the companion takes them packed */
  int packed;      /* the companion takes and gives packed notes (its ping's "bulk"; PROTOCOL.md) */
  char dup[300];   /* create_track: the name is taken already (name_taken), "" = free */
  int change_sent; /* a command that changes the DAW went out: from now on no answer means "uncertain" */
  json_t *inst;    /* create_track: the resolved instrument (instmap_resolve) */
  json_t *out;     /* the result being built */
  cstep next;
  int track; /* mirror position */
  char track_id[16];
  char host[160]; /* host id of the track or clip the call is about */
  char clip_id[32];
  int old_count;
  char err[256]; /* why the start function refused (DAW_EINVAL) */
  uint64_t t0;
  int attempts;
  int refreshes;     /* refreshes done while waiting for the DAW's OSC to show the change */
  uv_timer_t *timer; /* while waiting between refreshes (own allocation: freed in its close callback) */
  cstep after;       /* the step to run after that refresh */
  struct ccall *wnext;
};

static void cc_free(struct ccall *cc) {
  json_decref(cc->rest);
  json_decref(cc->rest_rm);
  json_decref(cc->inst);
  json_decref(cc->args);
  json_decref(cc->reply);
  json_decref(cc->want);
  json_decref(cc->out);
  free(cc);
}

static void cc_fail(struct ccall *cc, int status, const char *fmt, ...) {
  char msg[1600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (cc->cb) cc->cb(status, NULL, msg, cc->data);
  cc_free(cc);
}

static void cc_ok(struct ccall *cc) {
  json_object_set_new(cc->out, "tool", json_string(cc->tool));
  json_object_set_new(cc->out, "status", json_string("confirmed"));
  json_object_set_new(cc->out, "via", json_string("companion"));
  json_object_set_new(cc->out, "attempts", json_integer(cc->attempts ? cc->attempts : 1));
  json_object_set_new(cc->out, "ms", json_integer((json_int_t)(uv_now(cc->d->loop) - cc->t0)));
  if (cc->cb) cc->cb(0, cc->out, NULL, cc->data);
  cc_free(cc);
}

/* The most notes one packed companion reply may carry: a reply file is at most 16 MiB (companion.c), a packed note
 * at least 10 bytes. */
#define PACKED_READ_MAX_NOTES ((16u << 20) / 10)

static void cc_uncertain(struct ccall *cc, const char *msg);

static void on_cc_comp(int status, const json_t *res, const char *msg, void *data) {
  struct ccall *cc = data;
  if (status == COMPANION_ECANCELED || cc->d->closing) {
    cc_fail(cc, DAW_ECANCELED, "%s: canceled", cc->tool);
    return;
  }
  const json_t *packed = status ? NULL : json_object_get(res, "notes_packed");
  if (packed) {
    /* packed notes back (read_clip / edit_clip with "packed"): the steps see them as "notes", as from JSON */
    json_t *notes = NULL;
    char why[300] = "\"notes_packed\" is not a string";
    int rc = json_is_string(packed) ? packed_decode(json_string_value(packed), json_string_length(packed),
                                                    PACKED_READ_MAX_NOTES, &notes, why, sizeof why)
                                    : PACKED_EINVAL;
    json_t *r = rc ? NULL : json_copy((json_t *)res);
    if (!r && cc->change_sent) {
      /* the reply of a command that changed the DAW (a new clip, an edit): the change may well be there, so it is
       * "uncertain", never a refusal that invites sending it again */
      char m[400];
      snprintf(m, sizeof m, "%s: sent, but the companion's reply cannot be read: %s", cc->tool,
               rc ? why : "out of memory");
      json_decref(notes);
      cc_uncertain(cc, m);
      return;
    }
    if (!r) {
      json_decref(notes);
      cc_fail(cc, rc == PACKED_ENOMEM || !rc ? DAW_ENOMEM : DAW_EREJECTED,
              "%s: the companion's reply cannot be read (not confirmed): %s", cc->tool, rc ? why : "out of memory");
      return;
    }
    json_object_del(r, "notes_packed");
    json_object_set_new(r, "notes", notes);
    cc->next(cc, 0, r, msg);
    json_decref(r);
    return;
  }
  cc->next(cc, status, res, msg);
}

static void on_cc_sync(int status, const json_t *res, const char *msg, void *data) {
  struct ccall *cc = data;
  if (status == SYNC_ECANCELED || cc->d->closing) {
    cc_fail(cc, DAW_ECANCELED, "%s: canceled", cc->tool);
    return;
  }
  cc->next(cc, status ? from_sync(status) : 0, res, msg);
}

static void cc_send(struct ccall *cc, const char *op, json_t *args /* steals */, cstep next) {
  cc->next = next;
  if (strcmp(op, "read_clip") && strcmp(op, "state") && strcmp(op, "ping")) cc->change_sent = 1;
  int rc = companion_call(cc->d->comp, op, args, cc->d->request[0] ? cc->d->request : NULL, on_cc_comp, cc);
  json_decref(args);
  if (rc)
    cc_fail(cc, from_companion(rc), "%s: cannot send %s to the companion: %s", cc->tool, op, companion_strerror(rc));
}

static void cc_refresh(struct ccall *cc, cstep next) {
  cc->next = next;
  cc->refreshes++;
  if (sync_refresh(cc->d->sync, on_cc_sync, cc)) cc_fail(cc, DAW_ECANCELED, "%s: canceled", cc->tool);
}

/* The DAW's OSC surface may show a change a moment after the companion made it (Ardour updates its strip list
 * asynchronously): refresh again after a pause, a bounded number of times. Returns 0 when it gave up. */
#define SHOW_REFRESHES 20
#define SHOW_PAUSE_MS 250

static void on_part_closed(void *data);

static void timer_closed(uv_handle_t *h) {
  daw_t *d = h->data;
  free(h);
  if (d) on_part_closed(d);
}

static void on_cc_timer(uv_timer_t *tm) {
  struct ccall *cc = tm->data;
  daw_t *d = cc->d;
  for (struct ccall **pp = &d->waiting; *pp; pp = &(*pp)->wnext)
    if (*pp == cc) {
      *pp = cc->wnext;
      break;
    }
  cc->timer = NULL;
  tm->data = NULL;
  uv_close((uv_handle_t *)tm, timer_closed);
  cc_refresh(cc, cc->after);
}

static int cc_refresh_later(struct ccall *cc, cstep next) {
  daw_t *d = cc->d;
  if (cc->refreshes >= SHOW_REFRESHES || d->closing) return 0;
  uv_timer_t *tm = malloc(sizeof *tm);
  if (!tm) return 0;
  uv_timer_init(d->loop, tm);
  tm->data = cc;
  cc->timer = tm;
  cc->after = next;
  cc->wnext = d->waiting;
  d->waiting = cc;
  /* 20, 40, 80, 160 ms, then 250: the change usually shows at once or within one host tick */
  uint64_t pause = cc->refreshes >= 5 ? SHOW_PAUSE_MS : (uint64_t)20 << (cc->refreshes > 0 ? cc->refreshes - 1 : 0);
  uv_timer_start(tm, on_cc_timer, pause < SHOW_PAUSE_MS ? pause : SHOW_PAUSE_MS, 0);
  return 1;
}

/* Sent, and no word from the companion by the deadline (every attempt, same id): the change may or may not have
 * happened, so the outcome is "uncertain" (status 0), never confirmed and never a plain failure. The companion
 * answering "expired" (it read the command too late and did not run it) is a failure instead. */
static void cc_uncertain(struct ccall *cc, const char *msg) {
  json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "tool", cc->tool, "status", "uncertain", "via", "companion",
                        "reason", msg ? msg : "no answer from the companion", "attempts",
                        cc->attempts ? cc->attempts : 1, "ms", (json_int_t)(uv_now(cc->d->loop) - cc->t0));
  if (cc->track_id[0]) json_object_set_new(o, "track_id", json_string(cc->track_id));
  if (cc->clip_id[0] && cc->clip_id[0] == 'c') json_object_set_new(o, "clip_id", json_string(cc->clip_id));
  log_msg(&cc->d->cfg.log, LOG_WARN, MOD, "%s: uncertain: %s", cc->tool, msg ? msg : "no answer");
  if (cc->cb) cc->cb(0, o, NULL, cc->data);
  json_decref(o);
  cc_free(cc);
}

/* A companion step failed: the message already names the op and the companion's words. */
static int cc_check(struct ccall *cc, int status, const char *msg) {
  if (!status) return 0;
  if (status == COMPANION_ETIMEDOUT && cc->change_sent) {
    cc_uncertain(cc, msg ? msg : companion_strerror(status));
    return 1;
  }
  cc_fail(cc, from_companion(status), "%s", msg ? msg : companion_strerror(status));
  return 1;
}

/* A change the companion answered: keep its reply (a copy) and refresh the native view, then `next`. */
static void cc_changed_refresh(struct ccall *cc, int status, const json_t *res, const char *msg, cstep next) {
  if (cc_check(cc, status, msg)) return;
  cc->reply = json_deep_copy(res);
  cc_refresh(cc, next);
}

/* The refresh after a change failed (status != 0): fails the call with `what` (the tool, what the companion did,
 * that the refresh failed) and the refresh's message, and returns 1; else returns 0. */
static int cc_refresh_failed(struct ccall *cc, int status, const char *msg, const char *what) {
  if (!status) return 0;
  cc_fail(cc, status, "%s: %s", what, msg ? msg : "");
  return 1;
}

/* The changed track's mirror index after a refresh: found by its host id when it has one (a refresh may have moved
 * it), else (or when not found) where it was. */
static int cc_track_now(struct ccall *cc) {
  int mi = cc->host[0] ? mirror_index_of_host(cc->d, cc->host) : cc->track;
  return mi ? mi : cc->track;
}

/* The mirror index of the call's "track_id" argument (0 when unknown). */
static int cc_arg_track(const struct ccall *cc) {
  return session_track_resolve(cc->d->ses, json_string_value(json_object_get(cc->args, "track_id")));
}

/* The track argument as the companion wants it: the host id when known, else the 1-based position. */
static json_t *track_ref(struct ccall *cc, int index) {
  const char *h = session_track_host_id(cc->d->ses, index);
  cc->track = index;
  snprintf(cc->track_id, sizeof cc->track_id, "%s", session_track_id(cc->d->ses, index));
  snprintf(cc->host, sizeof cc->host, "%s", h ? h : "");
  return h ? json_string(h) : json_integer(index);
}

/* A catalog entry by name or alias (case-insensitive): its name and aliases, so the companion can try them. */
static const json_t *catalog_find(const daw_t *d, const char *kind, const char *name) {
  size_t i, k;
  json_t *e, *a;
  json_array_foreach(json_object_get(daw_catalog(d), kind), i, e) {
    if (!strcasecmp(json_string_value(json_object_get(e, "name")), name)) return e;
  }
  json_array_foreach(json_object_get(daw_catalog(d), kind), i, e) {
    json_array_foreach(json_object_get(e, "aliases"), k, a) {
      if (json_is_string(a) && !strcasecmp(json_string_value(a), name)) return e;
    }
  }
  return NULL;
}

static void put_names(json_t *cargs, const char *key, const char *akey, const daw_t *d, const char *kind,
                      const char *name) {
  const json_t *e = catalog_find(d, kind, name);
  json_t *aliases = json_array();
  if (e) {
    json_object_set_new(cargs, key, json_string(json_string_value(json_object_get(e, "name"))));
    if (strcasecmp(name, json_string_value(json_object_get(e, "name"))))
      json_array_append_new(aliases, json_string(name));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(e, "aliases"), i, a) json_array_append(aliases, a);
  } else {
    json_object_set_new(cargs, key, json_string(name));
  }
  json_object_set_new(cargs, akey, aliases);
}

static json_t *notes_for_companion(const json_t *notes) {
  json_t *a = json_array();
  size_t i;
  json_t *n;
  json_array_foreach(notes, i, n) {
    json_t *v = json_object_get(n, "v"), *dd = json_object_get(n, "d");
    json_t *o = note_obj(json_object_get(n, "n"), json_object_get(n, "s"), NULL, NULL);
    json_object_set_new(o, "d", dd ? json_incref(dd) : json_real(0.25));
    json_object_set_new(o, "v", json_is_integer(v) ? json_incref(v) : json_integer(100));
    json_array_append_new(a, o);
  }
  return a;
}

/* Every wanted note is in `got` (n, v equal; s, d within 1/960 beat) and the counts agree. Both lists are sorted
 * and compared in step (20,000 notes in milliseconds); only when that finds a difference among few notes does the
 * greedy pairing run (two notes whose starts differ by less than the tolerance may sort either way). */
struct nv {
  json_int_t n, v;
  double s, d;
  int has_v;
};

static int nv_cmp(const void *a, const void *b) {
  const struct nv *x = a, *y = b;
  if (x->n != y->n) return x->n < y->n ? -1 : 1;
  if (x->s != y->s) return x->s < y->s ? -1 : 1;
  if (x->d != y->d) return x->d < y->d ? -1 : 1;
  return (x->v > y->v) - (x->v < y->v);
}

static struct nv *nv_list(const json_t *notes, size_t n) {
  struct nv *a = malloc((n ? n : 1) * sizeof *a);
  if (!a) return NULL;
  for (size_t i = 0; i < n; i++) {
    const json_t *o = json_array_get(notes, i);
    a[i].n = json_integer_value(json_object_get(o, "n"));
    a[i].s = json_number_value(json_object_get(o, "s"));
    a[i].d = json_number_value(json_object_get(o, "d"));
    a[i].has_v = json_object_get(o, "v") != NULL;
    a[i].v = json_integer_value(json_object_get(o, "v"));
  }
  qsort(a, n, sizeof *a, nv_cmp);
  return a;
}

static int nv_same(const struct nv *w, const struct nv *g) {
  return w->n == g->n && fabs(w->s - g->s) <= 1.0 / 960 && fabs(w->d - g->d) <= 1.0 / 960 &&
         (!w->has_v || w->v == g->v);
}

static int notes_equal_greedy(const json_t *want, const json_t *got, char *why, size_t whylen) {
  size_t n = json_array_size(got);
  char *used = calloc(n ? n : 1, 1);
  size_t i, k;
  json_t *w, *g;
  json_array_foreach(want, i, w) {
    int found = 0;
    json_array_foreach(got, k, g) {
      if (used[k]) continue;
      if (json_integer_value(json_object_get(w, "n")) == json_integer_value(json_object_get(g, "n")) &&
          fabs(json_number_value(json_object_get(w, "s")) - json_number_value(json_object_get(g, "s"))) <= 1.0 / 960 &&
          fabs(json_number_value(json_object_get(w, "d")) - json_number_value(json_object_get(g, "d"))) <= 1.0 / 960 &&
          (!json_object_get(w, "v") ||
           json_integer_value(json_object_get(w, "v")) == json_integer_value(json_object_get(g, "v")))) {
        used[k] = 1;
        found = 1;
        break;
      }
    }
    if (!found) {
      snprintf(why, whylen, "note {n:%lld, s:%g} was not read back as sent",
               (long long)json_integer_value(json_object_get(w, "n")), json_number_value(json_object_get(w, "s")));
      free(used);
      return 0;
    }
  }
  free(used);
  return 1;
}

static int notes_equal(const json_t *want, const json_t *got, char *why, size_t whylen) {
  size_t n = json_array_size(want);
  if (n != json_array_size(got)) {
    snprintf(why, whylen, "%zu notes read back, %zu expected", json_array_size(got), n);
    return 0;
  }
  struct nv *w = nv_list(want, n), *g = nv_list(got, n);
  int ok = w && g;
  size_t bad = 0;
  for (size_t i = 0; ok && i < n; i++)
    if (!nv_same(&w[i], &g[i])) {
      ok = 0;
      bad = i;
    }
  if (!ok && w && g && n > 4096)
    snprintf(why, whylen, "note {n:%lld, s:%g} was not read back as sent (the DAW has {n:%lld, s:%g} there)",
             (long long)w[bad].n, w[bad].s, (long long)g[bad].n, g[bad].s);
  free(w);
  free(g);
  if (ok) return 1;
  return n > 4096 ? 0 : notes_equal_greedy(want, got, why, whylen);
}

/* --- create_track: companion create, native refresh shows it, host id into the mirror --- */

/* The instrument the companion reported loaded, or NULL (null, missing, empty). */
static const char *ct_loaded(const struct ccall *cc) {
  const char *ins = json_string_value(json_object_get(cc->reply, "instrument"));
  return ins && *ins ? ins : NULL;
}

static void ct_refreshed(struct ccall *cc, int status, const json_t *res, const char *msg) {
  (void)res;
  daw_t *d = cc->d;
  if (cc_refresh_failed(cc, status, msg,
                        "create_track: the companion created the track, but the refresh that should show it failed"))
    return;
  const char *name = json_string_value(json_object_get(cc->reply, "name"));
  const char *hid = json_string_value(json_object_get(cc->reply, "host_id"));
  int idx = (int)json_integer_value(json_object_get(cc->reply, "index"));
  int mi = mirror_index_of_host(d, hid);
  if (!mi && idx >= 1 && idx <= session_track_count(d->ses) && name && session_track_name(d->ses, idx) &&
      !strcmp(session_track_name(d->ses, idx), name))
    mi = idx;
  if (!mi) {
    if (cc_refresh_later(cc, ct_refreshed)) return;
    cc_fail(cc, DAW_ETIMEDOUT,
            "create_track: the companion reported track \"%s\" created at position %d, but the DAW's OSC does not show "
            "it there (%d refreshes)",
            name ? name : "?", idx, cc->refreshes);
    return;
  }
  struct session_update u = {.index = mi, .field = SF_TRACK_HOST_ID, .str = hid};
  if (hid) apply(d, &u);
  u.field = SF_TRACK_TYPE;
  u.str = json_string_value(json_object_get(cc->reply, "type"));
  if (u.str) apply(d, &u);
  /* the mirror's instrument is the plugin the DAW loaded (its real name), never the role */
  const char *loaded = ct_loaded(cc);
  u.field = SF_TRACK_INSTRUMENT;
  u.str = plain_fx_name(loaded);
  apply(d, &u);
  const char *asked = json_string_value(json_object_get(cc->args, "instrument"));
  if (asked && !loaded) {
    cc_fail(cc, DAW_EREJECTED,
            "create_track: the DAW created track \"%s\" (%s) but reports no instrument loaded; asked for \"%s\"%s%s",
            name ? name : "?", session_track_id(d->ses, mi), asked, cc->inst ? " -> " : "",
            cc->inst ? json_string_value(json_object_get(cc->inst, "plugin")) : "");
    return;
  }
  cc->out = json_pack("{s:s,s:i,s:s?,s:s?,s:s?}", "track_id", session_track_id(d->ses, mi), "index", mi, "name", name,
                      "type", json_string_value(json_object_get(cc->reply, "type")), "host_id", hid);
  json_object_set_new(cc->out, "instrument", loaded ? json_string(loaded) : json_null());
  if (asked && cc->inst) {
    /* what the role asked for and what the DAW did with it */
    json_t *ri = json_pack("{s:s,s:O?,s:O?}", "role", asked, "kind", json_object_get(cc->inst, "kind"), "sound",
                           json_object_get(cc->inst, "sound"));
    static const char *const keys[] = {"program", "channel", "drum_note", "preset"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
      if (json_object_get(cc->inst, keys[k])) json_object_set(ri, keys[k], json_object_get(cc->inst, keys[k]));
    static const char *const applied[] = {"params_applied", "params_missing", "preset_applied", "program_applied"};
    for (size_t k = 0; k < sizeof applied / sizeof applied[0]; k++)
      if (json_object_get(cc->reply, applied[k]))
        json_object_set(ri, applied[k], json_object_get(cc->reply, applied[k]));
    json_object_set_new(cc->out, "instrument_role", ri);
    const char *want = json_string_value(json_object_get(cc->inst, "plugin"));
    const char *warn = json_string_value(json_object_get(cc->inst, "warning"));
    if (json_object_get(cc->inst, "unmapped"))
      warn = "the plugin is not in this DAW's instrument map (osc-maps/instruments/): loaded by name";
    char w2[600] = "";
    if (want && !names_match(loaded, want))
      snprintf(w2, sizeof w2, "%s%sinstrument '%s': %s is not available in the DAW, loaded %s instead",
               warn ? warn : "", warn ? "; " : "", asked, want, loaded);
    if (w2[0])
      json_object_set_new(cc->out, "warning", json_string(w2));
    else if (warn)
      json_object_set_new(cc->out, "warning", json_string(warn));
  }
  if (cc->dup[0]) {
    const char *w = json_string_value(json_object_get(cc->out, "warning"));
    char all[1000];
    snprintf(all, sizeof all, "%s%s%s", cc->dup, w ? "; " : "", w ? w : "");
    json_object_set_new(cc->out, "warning", json_string(all));
  }
  cc_ok(cc);
}

static void ct_created(struct ccall *cc, int status, const json_t *res, const char *msg) {
  const char *unmapped = json_string_value(json_object_get(cc->inst, "unmapped"));
  if (status && unmapped) {
    /* a plugin name the instrument map does not know, and the DAW does not have either */
    cc_fail(cc, from_companion(status), "create_track: %s (the DAW: %s)", unmapped,
            msg ? msg : companion_strerror(status));
    return;
  }
  cc_changed_refresh(cc, status, res, msg, ct_refreshed);
}

static void start_create_track(struct ccall *cc) {
  json_t *a = cc->args;
  name_taken(cc->d, json_string_value(json_object_get(a, "name")), cc->dup, sizeof cc->dup);
  json_t *ca = json_pack("{s:O,s:O}", "name", json_object_get(a, "name"), "type", json_object_get(a, "type"));
  const char *ins = json_string_value(json_object_get(a, "instrument"));
  if (ins && cc->d->inst) {
    /* a role or a plugin name -> this DAW's plugin (+ the names to try after it), program, channel, params */
    char msg[900];
    int rc = instmap_resolve(cc->d->inst, ins, &cc->inst, msg, sizeof msg);
    if (rc == INSTMAP_ENOTFOUND) {
      /* a plugin name outside the map (undo re-creating a musician's track, a direct call): the DAW decides; the
       * plan validator already refused such names for AI plans */
      cc->inst = json_pack("{s:s,s:s,s:s,s:[s],s:[],s:s}", "role", ins, "kind", "unmapped", "plugin", ins, "candidates",
                           ins, "aliases", "unmapped", msg);
      if (!cc->inst)
        rc = INSTMAP_ENOMEM;
      else
        rc = 0;
    }
    if (rc) {
      json_decref(ca);
      cc_fail(cc, DAW_ENOMEM, "create_track: %s", msg);
      return;
    }
    json_object_set(ca, "instrument", json_object_get(cc->inst, "plugin"));
    json_object_set(ca, "instrument_aliases", json_object_get(cc->inst, "aliases"));
    json_object_set_new(ca, "role", json_string(ins));
    static const char *const keys[] = {"program", "channel", "params", "preset"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
      if (json_object_get(cc->inst, keys[k])) json_object_set(ca, keys[k], json_object_get(cc->inst, keys[k]));
  } else if (ins) {
    put_names(ca, "instrument", "instrument_aliases", cc->d, "instruments", ins);
  }
  cc_send(cc, "create_track", ca, ct_created);
}

/* --- create_midi_clip: companion create, read_clip read-back, clip into the mirror --- */
static void clip_into_mirror(struct ccall *cc, const json_t *clip, const json_t *notes) {
  daw_t *d = cc->d;
  const char *hid = json_string_value(json_object_get(clip, "host_id"));
  const char *thid = json_string_value(json_object_get(clip, "track"));
  int mi = mirror_index_of_host(d, thid);
  if (!mi) mi = cc->track;
  json_t *mc = mirror_clip(clip, notes);
  const json_t *old = session_clip_find(d->ses, hid, NULL);
  if (old && json_object_get(old, "name") && !json_object_get(clip, "name"))
    json_object_set(mc, "name", json_object_get(old, "name"));
  struct session_update u = {.index = mi, .field = SF_CLIP_PUT, .json = mc};
  apply(d, &u);
  json_decref(mc);
  const json_t *c = session_clip_find(d->ses, hid, &mi);
  snprintf(cc->clip_id, sizeof cc->clip_id, "%s", c ? json_string_value(json_object_get(c, "id")) : "");
  if (mi >= 1) snprintf(cc->track_id, sizeof cc->track_id, "%s", session_track_id(d->ses, mi));
}

/* A clip read back after the change: 1 when it holds the notes wanted (cc->want); else fails the call (the
 * companion's error, or "<tool>: not confirmed: <why>") and returns 0. */
static int cc_read_back_ok(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (cc_check(cc, status, msg)) return 0;
  char why[256];
  if (!notes_equal(cc->want, json_object_get(res, "notes"), why, sizeof why)) {
    cc_fail(cc, DAW_ETIMEDOUT, "%s: not confirmed: %s", cc->tool, why);
    return 0;
  }
  return 1;
}

static void mc_read(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (!cc_read_back_ok(cc, status, res, msg)) return;
  json_t *clip = json_copy((json_t *)res); /* shallow: only "name" changes */
  if (json_object_get(cc->args, "name")) json_object_set(clip, "name", json_object_get(cc->args, "name"));
  clip_into_mirror(cc, clip, json_object_get(res, "notes"));
  json_decref(clip);
  cc->out =
      json_pack("{s:s,s:s,s:s?,s:O?,s:O?,s:O?,s:I}", "track_id", cc->track_id, "clip_id", cc->clip_id, "host_id",
                json_string_value(json_object_get(res, "host_id")), "start", json_object_get(res, "start"), "length",
                json_object_get(res, "length"), "notes_added", json_object_get(cc->reply, "notes_added"), "notes",
                (json_int_t)json_array_size(json_object_get(res, "notes")));
  if (cc->chunks > 1) {
    json_object_set_new(cc->out, "notes_added", json_integer((json_int_t)json_array_size(cc->want)));
    json_object_set_new(cc->out, "companion_commands", json_integer((json_int_t)cc->chunks));
  }
  cc_ok(cc);
}

/* Bulk notes: a clip's notes go to the companion in commands of at most cc->per_cmd notes (the clip is created with
 * the first chunk, edit_clip adds the rest), and the whole clip is read back once and compared with everything
 * that was asked for: one tool call, confirmed as one. JSON notes: NOTES_PER_COMMAND a command. A companion whose
 * ping offers the packed form (PROTOCOL.md "Bulk notes") gets every note list packed, up to PACKED_PER_COMMAND (or
 * its own max_notes) a command, gives the read-back packed, and answers the intermediate edit_clip chunks "brief"
 * (no note list back). Removals are always JSON, NOTES_PER_COMMAND a command (each is matched against the clip). */
#define NOTES_PER_COMMAND 2000
#define PACKED_PER_COMMAND 10000

/* The packed capability of the companion's last ping ({"bulk": {"packed": true, "max_notes": N}}): notes per
 * command, or 0 when it takes JSON notes only. */
static size_t comp_packed(const daw_t *d) {
  const json_t *b = json_object_get(d->comp ? companion_info(d->comp) : NULL, "bulk");
  json_int_t m = json_integer_value(json_object_get(b, "max_notes"));
  if (!json_is_true(json_object_get(b, "packed")) || m < 1) return 0;
  return m < PACKED_PER_COMMAND ? (size_t)m : PACKED_PER_COMMAND;
}

static json_t *chunk_of(const json_t *notes, size_t from) {
  json_t *a = json_array();
  size_t n = json_array_size(notes);
  for (size_t i = from; i < n && i < from + NOTES_PER_COMMAND; i++) json_array_append(a, json_array_get(notes, i));
  return a;
}

/* notes[from, from + count) into the command's args: under key as JSON notes, or under pkey as one packed string
 * when the companion takes it. Returns how many went in, or -1 with cc->err set (a note the packed form cannot
 * carry; the vocabulary's check makes that unreachable). */
static long put_notes(struct ccall *cc, json_t *ca, const char *key, const char *pkey, const json_t *notes, size_t from,
                      size_t count) {
  size_t n = json_array_size(notes), end = from + count < n ? from + count : n;
  if (from > end) from = end;
  if (!cc->packed) {
    json_t *a = json_array();
    for (size_t i = from; i < end; i++) json_array_append(a, json_array_get(notes, i));
    json_object_set_new(ca, key, a);
    return (long)(end - from);
  }
  strbuf_t b = STRBUF_INIT;
  char why[200];
  int rc = packed_encode(notes, from, end - from, &b, why, sizeof why);
  if (!rc && json_object_set_new(ca, pkey, json_stringn(b.s ? b.s : "", b.len))) rc = PACKED_ENOMEM;
  strbuf_reset(&b);
  if (rc) {
    snprintf(cc->err, sizeof cc->err, "%s: %s", cc->tool, rc == PACKED_ENOMEM ? "out of memory" : why);
    return -1;
  }
  return (long)(end - from);
}

/* A packed-capable companion answers an edit_clip with the clip's notes packed ("packed"), or without them
 * ("brief") where the bridge does not need them; others answer as always (JSON notes). */
static void reply_form(struct ccall *cc, json_t *ca, int notes_back) {
  if (cc->packed) json_object_set_new(ca, notes_back ? "packed" : "brief", json_true());
}

/* read_clip's arguments: the clip, packed when the companion can. */
static json_t *read_args(struct ccall *cc, const char *hid) {
  json_t *ra = json_pack("{s:s}", "clip", hid ? hid : "");
  if (cc->packed) json_object_set_new(ra, "packed", json_true());
  return ra;
}

/* Sends the next chunk (removals of cc->rest_rm, then additions of cc->rest) to the clip cc->host with edit_clip,
 * or returns 0 when all went out. notes_back: the last command's reply must carry the clip's notes. */
static int send_next_chunk(struct ccall *cc, cstep next, int notes_back) {
  size_t nrm = json_array_size(cc->rest_rm), n = json_array_size(cc->rest);
  if (cc->sent_rm < nrm) { /* removals first, each command atomic on the companion */
    json_t *ch = chunk_of(cc->rest_rm, cc->sent_rm);
    cc->sent_rm += json_array_size(ch);
    cc->chunks++;
    json_t *ca = json_pack("{s:s,s:o}", "clip", cc->host, "remove", ch);
    reply_form(cc, ca, notes_back && cc->sent_rm >= nrm && cc->sent >= n);
    cc_send(cc, "edit_clip", ca, next);
    return 1;
  }
  if (cc->sent >= n) return 0;
  json_t *ca = json_pack("{s:s}", "clip", cc->host);
  long k = put_notes(cc, ca, "add", "add_packed", cc->rest, cc->sent, cc->per_cmd);
  if (k < 0) {
    json_decref(ca);
    cc_fail(cc, DAW_EINVAL, "%s", cc->err);
    return 1;
  }
  cc->chunk_from = cc->sent;
  cc->sent += (size_t)k;
  cc->chunks++;
  reply_form(cc, ca, notes_back && cc->sent >= n);
  cc_send(cc, "edit_clip", ca, next);
  return 1;
}

static void mc_chunk_added(struct ccall *cc, int status, const json_t *res, const char *msg) {
  (void)res;
  if (status == COMPANION_ETIMEDOUT) {
    cc_check(cc, status, msg); /* uncertain: those notes may be in the clip */
    return;
  }
  if (status) {
    cc_fail(cc, status == COMPANION_ECANCELED ? DAW_ECANCELED : from_companion(status),
            "create_midi_clip: clip %s was created, but adding notes %zu-%zu of %zu failed (%zu notes are in the clip "
            "now): %s",
            cc->host, cc->chunk_from + 1, cc->sent, json_array_size(cc->want), cc->chunk_from,
            msg ? msg : companion_strerror(status));
    return;
  }
  if (send_next_chunk(cc, mc_chunk_added, 1)) return;
  if (cc->packed && json_is_array(json_object_get(res, "notes"))) {
    /* a packed companion read the clip back with the last chunk: that is the read-back */
    json_t *r = json_copy(cc->reply);
    json_object_set(r, "notes", json_object_get(res, "notes"));
    mc_read(cc, 0, r, msg);
    json_decref(r);
    return;
  }
  cc_send(cc, "read_clip", read_args(cc, cc->host), mc_read);
}

static void mc_created(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (cc_check(cc, status, msg)) return;
  cc->reply = json_copy((json_t *)res); /* shallow */
  json_object_del(cc->reply, "notes");
  const char *hid = json_string_value(json_object_get(res, "host_id"));
  if (cc->rest && hid) {
    snprintf(cc->host, sizeof cc->host, "%s", hid);
    if (send_next_chunk(cc, mc_chunk_added, 1)) return;
  }
  if (cc->packed && !cc->rest && json_is_array(json_object_get(res, "notes"))) {
    /* a packed companion read the new clip back in the same command: that is the read-back */
    mc_read(cc, 0, res, msg);
    return;
  }
  cc_send(cc, "read_clip", read_args(cc, hid), mc_read);
}

static void start_create_midi_clip(struct ccall *cc) {
  int t = cc_arg_track(cc);
  cc->want = notes_for_companion(json_object_get(cc->args, "notes"));
  json_t *ca = json_pack("{s:o,s:O,s:O}", "track", track_ref(cc, t), "start", json_object_get(cc->args, "start_time"),
                         "length", json_object_get(cc->args, "duration"));
  long k = put_notes(cc, ca, "notes", "notes_packed", cc->want, 0, cc->per_cmd);
  if (k < 0) {
    json_decref(ca);
    cc_fail(cc, DAW_EINVAL, "%s", cc->err);
    return;
  }
  if (json_array_size(cc->want) > (size_t)k) {
    cc->rest = json_incref(cc->want);
    cc->sent = (size_t)k;
  }
  cc->chunks = 1;
  if (json_object_get(cc->args, "name")) json_object_set(ca, "name", json_object_get(cc->args, "name"));
  if (cc->packed && !cc->rest) json_object_set_new(ca, "packed", json_true()); /* the read-back comes with it */
  cc_send(cc, "create_midi_clip", ca, mc_created);
}

/* --- edit_clip: add/remove given notes (transpose/quantize: read first, then replace by the result) --- */
static void ec_read_back(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (!cc_read_back_ok(cc, status, res, msg)) return;
  clip_into_mirror(cc, res, json_object_get(res, "notes"));
  cc->out = json_pack("{s:s,s:s,s:O?,s:O?,s:I}", "clip_id", cc->clip_id, "track_id", cc->track_id, "added",
                      json_object_get(cc->reply, "added"), "removed", json_object_get(cc->reply, "removed"), "notes",
                      (json_int_t)json_array_size(json_object_get(res, "notes")));
  if (cc->chunks > 1) {
    json_object_set_new(cc->out, "added", json_integer((json_int_t)json_array_size(cc->rest)));
    json_object_set_new(cc->out, "companion_commands", json_integer((json_int_t)cc->chunks));
  }
  cc_ok(cc);
}

static void ec_edited(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (status && status != COMPANION_ETIMEDOUT && cc->chunks > 1) {
    cc_fail(cc, status == COMPANION_ECANCELED ? DAW_ECANCELED : from_companion(status),
            "edit_clip: clip %s: companion command %zu of the bulk edit failed (%zu of %zu removals and %zu of %zu "
            "additions were sent; the earlier commands are applied): %s",
            cc->host, cc->chunks, cc->sent_rm, json_array_size(cc->rest_rm), cc->sent, json_array_size(cc->rest),
            msg ? msg : companion_strerror(status));
    return;
  }
  if (cc_check(cc, status, msg)) return;
  if (send_next_chunk(cc, ec_edited, 1)) return;
  json_decref(cc->reply);
  cc->reply = json_deep_copy(res);
  if (!cc->want) cc->want = json_deep_copy(json_object_get(res, "notes"));
  cc_send(cc, "read_clip", read_args(cc, cc->host), ec_read_back);
}

static void ec_transform(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (cc_check(cc, status, msg)) return;
  json_t *cur = json_object_get(res, "notes");
  json_t *fin = json_array();
  size_t i, k;
  json_t *n, *r;
  char *gone = calloc(json_array_size(cur) + 1, 1);
  json_array_foreach(json_object_get(cc->args, "remove_notes"), k, r) {
    int hit = 0;
    json_array_foreach(cur, i, n) {
      if (!gone[i] && json_integer_value(json_object_get(n, "n")) == json_integer_value(json_object_get(r, "n")) &&
          fabs(json_number_value(json_object_get(n, "s")) - json_number_value(json_object_get(r, "s"))) <= 1.0 / 960) {
        gone[i] = hit = 1;
        break;
      }
    }
    if (!hit) {
      free(gone);
      json_decref(fin);
      cc_fail(cc, DAW_EREJECTED, "edit_clip: note {n:%lld, s:%g} to remove is not in clip %s; nothing changed",
              (long long)json_integer_value(json_object_get(r, "n")), json_number_value(json_object_get(r, "s")),
              cc->clip_id);
      return;
    }
  }
  json_array_foreach(cur, i, n) if (!gone[i]) json_array_append(fin, n);
  free(gone);
  json_t *add = notes_for_companion(json_object_get(cc->args, "add_notes"));
  json_array_extend(fin, add);
  json_decref(add);
  json_int_t tr = json_integer_value(json_object_get(cc->args, "transpose"));
  double q = json_number_value(json_object_get(cc->args, "quantize"));
  double len = json_number_value(json_object_get(res, "length"));
  json_t *out = json_array();
  json_array_foreach(fin, i, n) {
    json_int_t nn = json_integer_value(json_object_get(n, "n")) + tr;
    double s = json_number_value(json_object_get(n, "s"));
    if (q > 0) s = floor(s / q + 0.5) * q;
    if (len > 0 && s >= len) s = floor((len - 1e-9) / (q > 0 ? q : 1)) * (q > 0 ? q : 1);
    if (nn < 0 || nn > 127) {
      json_decref(fin);
      json_decref(out);
      cc_fail(cc, DAW_EINVAL, "edit_clip: transposing note %lld by %lld leaves 0..127; nothing changed",
              (long long)json_integer_value(json_object_get(n, "n")), (long long)tr);
      return;
    }
    json_array_append_new(out, json_pack("{s:I,s:f,s:O,s:O}", "n", nn, "s", s, "d", json_object_get(n, "d"), "v",
                                         json_object_get(n, "v")));
  }
  json_decref(fin);
  json_t *rm = json_array();
  json_array_foreach(cur, i, n)
      json_array_append_new(rm, json_pack("{s:O,s:O}", "n", json_object_get(n, "n"), "s", json_object_get(n, "s")));
  cc->want = json_deep_copy(out);
  if (json_array_size(rm) > NOTES_PER_COMMAND || json_array_size(out) > cc->per_cmd ||
      (!cc->packed && json_array_size(rm) + json_array_size(out) > NOTES_PER_COMMAND)) {
    /* a big clip: the removals, then the additions, in bounded commands; the read-back compares the whole clip */
    cc->rest_rm = rm;
    cc->rest = out;
    cc->chunks = 0;
    send_next_chunk(cc, ec_edited, 1);
    return;
  }
  json_t *ca = json_pack("{s:s,s:o}", "clip", cc->host, "remove", rm);
  if (put_notes(cc, ca, "add", "add_packed", out, 0, json_array_size(out)) < 0) {
    json_decref(ca);
    json_decref(out);
    cc_fail(cc, DAW_EINVAL, "%s", cc->err);
    return;
  }
  json_decref(out);
  reply_form(cc, ca, 1);
  cc_send(cc, "edit_clip", ca, ec_edited);
}

/* The call's "clip_id" argument as the mirror has it, with a host id: fills cc's host, clip_id, track and track_id
 * and returns the host id (borrowed from the mirror); NULL when the mirror has no such clip. */
static const char *cc_arg_clip(struct ccall *cc) {
  int ti = 0;
  const json_t *c = session_clip_find(cc->d->ses, json_string_value(json_object_get(cc->args, "clip_id")), &ti);
  const char *hid = json_string_value(json_object_get(c, "host_id"));
  if (!c || !hid) return NULL;
  snprintf(cc->host, sizeof cc->host, "%s", hid);
  snprintf(cc->clip_id, sizeof cc->clip_id, "%s", json_string_value(json_object_get(c, "id")));
  cc->track = ti;
  snprintf(cc->track_id, sizeof cc->track_id, "%s", session_track_id(cc->d->ses, ti));
  return hid;
}

static int start_edit_clip(struct ccall *cc) {
  const char *hid = cc_arg_clip(cc);
  if (!hid) return DAW_ENOTRACK;
  if (json_object_get(cc->args, "transpose") || json_object_get(cc->args, "quantize")) {
    cc_send(cc, "read_clip", read_args(cc, hid), ec_transform);
    return 0;
  }
  json_t *ca = json_pack("{s:s}", "clip", hid);
  cc->chunks = 1;
  json_t *add = NULL;
  if (json_object_get(cc->args, "add_notes")) {
    /* bulk: the first chunk with the removals, then edit_clip adds of the rest; the last reply's notes are
     * what the read-back must show */
    add = notes_for_companion(json_object_get(cc->args, "add_notes"));
    long k = put_notes(cc, ca, "add", "add_packed", add, 0, cc->per_cmd);
    if (k < 0) {
      json_decref(add);
      json_decref(ca);
      return DAW_EINVAL;
    }
    if (json_array_size(add) > (size_t)k) {
      cc->rest = json_incref(add);
      cc->sent = (size_t)k;
    }
  }
  if (json_object_get(cc->args, "remove_notes")) {
    json_t *rm = json_array();
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(cc->args, "remove_notes"), i, n)
        json_array_append_new(rm, json_pack("{s:O,s:O}", "n", json_object_get(n, "n"), "s", json_object_get(n, "s")));
    if (json_array_size(rm) > NOTES_PER_COMMAND) {
      /* many removals: in bounded commands before the additions */
      if (add && !cc->rest) cc->rest = json_incref(add);
      json_decref(add);
      cc->sent = 0;
      cc->rest_rm = rm;
      cc->chunks = 0;
      json_decref(ca);
      send_next_chunk(cc, ec_edited, 1);
      return 0;
    }
    json_object_set_new(ca, "remove", rm);
  }
  reply_form(cc, ca, !cc->rest);
  json_decref(add);
  cc_send(cc, "edit_clip", ca, ec_edited);
  return 0;
}

/* --- add_effect / remove_effect: companion change, native refresh shows the chain --- */
static void ae_refreshed(struct ccall *cc, int status, const json_t *res, const char *msg) {
  (void)res;
  daw_t *d = cc->d;
  if (cc_refresh_failed(cc, status, msg,
                        "add_effect: inserted by the companion, but the refresh that should show it failed"))
    return;
  int mi = cc_track_now(cc);
  int idx = (int)json_integer_value(json_object_get(cc->reply, "index"));
  const char *name = json_string_value(json_object_get(cc->reply, "name"));
  const char *seen = session_track_fx_name(d->ses, mi, idx);
  const char *by = "osc";
  if ((!seen || !*seen || !names_match(seen, name)) && cc_refresh_later(cc, ae_refreshed)) return;
  if (!seen || !*seen) {
    if (session_track_fx_count(d->ses, mi) >= idx) {
      cc_fail(cc, DAW_ETIMEDOUT, "add_effect: the companion inserted %s at %d, but OSC shows nothing there", name, idx);
      return;
    }
    /* beyond what the native surface reports (REAPER: /device/fx/count slots): the companion's word */
    struct session_update u = {.index = mi, .fx = idx, .field = SF_FX_NAME, .str = plain_fx_name(name)};
    apply(d, &u);
    by = "companion";
  } else if (!names_match(seen, name)) {
    cc_fail(cc, DAW_ETIMEDOUT, "add_effect: the companion inserted %s at %d, but OSC shows %s there", name, idx, seen);
    return;
  }
  cc->out = json_pack("{s:s,s:i,s:s?,s:s}", "track_id", session_track_id(d->ses, mi), "effect_index", idx, "name", name,
                      "confirmed_by", by);
  if (json_object_get(cc->args, "params"))
    json_object_set_new(cc->out, "note", json_string("params were not applied: set them with set_effect_param"));
  cc_ok(cc);
}

static void ae_added(struct ccall *cc, int status, const json_t *res, const char *msg) {
  cc_changed_refresh(cc, status, res, msg, ae_refreshed);
}

static void start_add_effect(struct ccall *cc) {
  int t = cc_arg_track(cc);
  json_t *ca = json_pack("{s:o}", "track", track_ref(cc, t));
  put_names(ca, "name", "aliases", cc->d, "effects", json_string_value(json_object_get(cc->args, "effect_name")));
  cc_send(cc, "add_effect", ca, ae_added);
}

static void re_refreshed(struct ccall *cc, int status, const json_t *res, const char *msg) {
  (void)res;
  daw_t *d = cc->d;
  if (cc_refresh_failed(cc, status, msg, "remove_effect: removed by the companion, but the refresh failed")) return;
  int mi = cc_track_now(cc);
  int now = session_track_fx_count(d->ses, mi);
  if (now != cc->old_count - 1) {
    if (cc->old_count > 0 && now == cc->old_count) {
      if (cc_refresh_later(cc, re_refreshed)) return;
      cc_fail(cc, DAW_ETIMEDOUT, "remove_effect: the companion removed %s, but OSC still shows %d plugins",
              json_string_value(json_object_get(cc->reply, "removed")), now);
      return;
    }
    /* the native view was shorter than the chain: trust the companion's word for the slots OSC cannot see */
    struct session_update u = {.index = mi, .field = SF_FX_COUNT, .num = cc->old_count > 0 ? cc->old_count - 1 : 0};
    apply(d, &u);
  }
  cc->out = json_pack("{s:s,s:I,s:O?}", "track_id", session_track_id(d->ses, mi), "effect_index",
                      json_integer_value(json_object_get(cc->args, "effect_index")), "name",
                      json_object_get(cc->reply, "removed"));
  cc_ok(cc);
}

static void re_removed(struct ccall *cc, int status, const json_t *res, const char *msg) {
  cc_changed_refresh(cc, status, res, msg, re_refreshed);
}

static void start_remove_effect(struct ccall *cc) {
  int t = cc_arg_track(cc);
  cc->old_count = session_track_fx_count(cc->d->ses, t);
  json_t *ca = json_pack("{s:o,s:O}", "track", track_ref(cc, t), "index", json_object_get(cc->args, "effect_index"));
  cc_send(cc, "remove_effect", ca, re_removed);
}

/* --- delete_track / delete_clip --- */
static void dt_refreshed(struct ccall *cc, int status, const json_t *res, const char *msg) {
  (void)res;
  if (cc_refresh_failed(cc, status, msg, "delete_track: deleted by the companion, but the refresh failed")) return;
  if ((cc->host[0] && mirror_index_of_host(cc->d, cc->host)) || session_track_count(cc->d->ses) != cc->old_count - 1) {
    if (cc_refresh_later(cc, dt_refreshed)) return;
    int still = cc->host[0] ? mirror_index_of_host(cc->d, cc->host) : 0;
    cc_fail(cc, DAW_ETIMEDOUT, "delete_track: the companion deleted %s (%s), but OSC still shows %d tracks%s%s",
            cc->track_id, cc->host, session_track_count(cc->d->ses), still ? ", that one at position " : "",
            still ? session_track_name(cc->d->ses, still) : "");
    return;
  }
  cc->out = json_pack("{s:s,s:s?}", "track_id", cc->track_id, "host_id", cc->host[0] ? cc->host : NULL);
  cc_ok(cc);
}

static void dt_deleted(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (status) {
    /* not deleted after all: put the track back where it was, and let a refresh fill in the rest */
    struct session_update u = {.field = SF_TRACK_INSERT, .index = cc->track, .str = cc->clip_id};
    apply(cc->d, &u);
    if (cc->host[0]) {
      struct session_update h = {.field = SF_TRACK_HOST_ID, .index = cc->track, .str = cc->host};
      apply(cc->d, &h);
    }
    if (!cc->d->closing) sync_refresh(cc->d->sync, NULL, NULL);
    cc_check(cc, status, msg);
    return;
  }
  cc_changed_refresh(cc, status, res, msg, dt_refreshed);
}

static void start_delete_track(struct ccall *cc) {
  int t = cc_arg_track(cc);
  cc->old_count = session_track_count(cc->d->ses);
  json_t *ref = track_ref(cc, t);
  /* the track leaves the mirror now: the DAW's positional feedback about the tracks after it (REAPER renumbers,
   * Ardour renumbers its strips) then lands on the right tracks, and they keep their ids */
  snprintf(cc->clip_id, sizeof cc->clip_id, "%s", session_track_name(cc->d->ses, t)); /* the name, to undo this */
  struct session_update u = {.field = SF_TRACK_REMOVE, .index = t};
  apply(cc->d, &u);
  cc_send(cc, "delete_track", json_pack("{s:o}", "track", ref), dt_deleted);
}

static void dc_checked(struct ccall *cc, int status, const json_t *res, const char *msg) {
  (void)res;
  if (!status) {
    cc_fail(cc, DAW_ETIMEDOUT, "delete_clip: the companion deleted %s, but read_clip still finds it", cc->clip_id);
    return;
  }
  if (status != COMPANION_EREJECTED || !msg || !strstr(msg, "no clip")) {
    cc_check(cc, status, msg);
    return;
  }
  struct session_update u = {.index = cc->track, .field = SF_CLIP_REMOVE, .str = cc->clip_id};
  apply(cc->d, &u);
  cc->out = json_pack("{s:s,s:s,s:s}", "clip_id", cc->clip_id, "track_id", cc->track_id, "host_id", cc->host);
  cc_ok(cc);
}

static void dc_deleted(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (cc_check(cc, status, msg)) return;
  cc->reply = json_deep_copy(res);
  cc_send(cc, "read_clip", json_pack("{s:s}", "clip", cc->host), dc_checked);
}

static int start_delete_clip(struct ccall *cc) {
  const char *hid = cc_arg_clip(cc);
  if (!hid) return DAW_ENOTRACK;
  cc_send(cc, "delete_clip", json_pack("{s:s}", "clip", hid), dc_deleted);
  return 0;
}

/* --- get_notes: the notes of one clip (read_clip) or of a track's clips (the companion's state), read from the DAW;
 * with start/end only the notes starting in [start, end) (beats from the project start). A read: nothing to confirm,
 * the DAW's answer is the result, and the mirror takes what was read. --- */
static json_t *gn_clip(const struct ccall *cc, const char *clip_id, const json_t *c) {
  double cs = json_number_value(json_object_get(c, "start"));
  const json_t *a = cc->args, *from = json_object_get(a, "start"), *to = json_object_get(a, "end");
  json_t *notes = json_array();
  size_t i;
  json_t *n;
  json_array_foreach(json_object_get(c, "notes"), i, n) {
    double at = cs + json_number_value(json_object_get(n, "s"));
    if (from && at < json_number_value(from) - 1e-9) continue;
    if (to && at >= json_number_value(to) - 1e-9) continue;
    json_array_append_new(notes, note_obj(json_object_get(n, "n"), json_object_get(n, "s"), json_object_get(n, "d"),
                                          json_object_get(n, "v")));
  }
  return json_pack("{s:s,s:O?,s:O?,s:o}", "clip_id", clip_id ? clip_id : "", "start", json_object_get(c, "start"),
                   "length", json_object_get(c, "length"), "notes", notes);
}

static void gn_ok(struct ccall *cc, json_t *clips /* steals */) {
  json_int_t total = 0;
  size_t i;
  json_t *c;
  json_array_foreach(clips, i, c) total += (json_int_t)json_array_size(json_object_get(c, "notes"));
  cc->out = json_pack("{s:s,s:o,s:I}", "track_id", cc->track_id, "clips", clips, "note_count", total);
  if (json_object_get(cc->args, "start")) json_object_set(cc->out, "start", json_object_get(cc->args, "start"));
  if (json_object_get(cc->args, "end")) json_object_set(cc->out, "end", json_object_get(cc->args, "end"));
  cc_ok(cc);
}

static void gn_clip_read(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (cc_check(cc, status, msg)) return;
  clip_into_mirror(cc, res, json_object_get(res, "notes"));
  json_t *clips = json_array();
  json_array_append_new(clips, gn_clip(cc, cc->clip_id, res));
  gn_ok(cc, clips);
}

static void gn_state_read(struct ccall *cc, int status, const json_t *res, const char *msg) {
  if (cc_check(cc, status, msg)) return;
  daw_t *d = cc->d;
  merge_state(d, res);
  const json_t *mine = NULL;
  size_t i;
  json_t *ct;
  json_array_foreach(json_object_get(res, "tracks"), i, ct) {
    if (match_track(d, ct) == cc->track) mine = ct;
  }
  if (!mine) {
    cc_fail(cc, DAW_ENOTRACK, "get_notes: the companion's state has no track %s (%s)", cc->track_id,
            session_track_name(d->ses, cc->track) ? session_track_name(d->ses, cc->track) : "?");
    return;
  }
  json_t *clips = json_array();
  json_t *c;
  json_array_foreach(json_object_get(mine, "clips"), i, c) {
    const json_t *mc = session_clip_find(d->ses, json_string_value(json_object_get(c, "host_id")), NULL);
    json_array_append_new(clips, gn_clip(cc, json_string_value(json_object_get(mc, "id")), c));
  }
  gn_ok(cc, clips);
}

static int start_get_notes(struct ccall *cc) {
  daw_t *d = cc->d;
  const json_t *a = cc->args, *from = json_object_get(a, "start"), *to = json_object_get(a, "end");
  if (from && to && json_number_value(to) <= json_number_value(from)) {
    snprintf(cc->err, sizeof cc->err, "get_notes: end (%g) must be after start (%g)", json_number_value(to),
             json_number_value(from));
    return DAW_EINVAL;
  }
  int t = session_track_resolve(d->ses, json_string_value(json_object_get(a, "track_id")));
  json_decref(track_ref(cc, t));
  const char *cid = json_string_value(json_object_get(a, "clip_id"));
  if (!cid) {
    cc_send(cc, "state", NULL, gn_state_read);
    return 0;
  }
  int ti = 0;
  const json_t *c = session_clip_find(d->ses, cid, &ti);
  const char *hid = json_string_value(json_object_get(c, "host_id"));
  if (!c || !hid) return DAW_ENOTRACK;
  if (ti != t) {
    snprintf(cc->err, sizeof cc->err, "get_notes: clip %s is on track %s, not on %s", cid, session_track_id(d->ses, ti),
             cc->track_id);
    return DAW_EINVAL;
  }
  snprintf(cc->host, sizeof cc->host, "%s", hid);
  cc_send(cc, "read_clip", read_args(cc, hid), gn_clip_read);
  return 0;
}

static int companion_route(daw_t *d, enum vocab_tool t, const json_t *args, daw_cb cb, void *data) {
  struct ccall *cc = calloc(1, sizeof *cc);
  if (!cc) return DAW_ENOMEM;
  cc->d = d;
  cc->cb = cb;
  cc->data = data;
  cc->args = json_deep_copy(args);
  cc->t0 = uv_now(d->loop);
  cc->per_cmd = comp_packed(d);
  cc->packed = cc->per_cmd > 0;
  if (!cc->packed) cc->per_cmd = NOTES_PER_COMMAND;
  const char *tool = vocab_name(t);
  snprintf(cc->tool, sizeof cc->tool, "%s", tool);
  int rc = 0;
  switch (t) {
  case VOCAB_CREATE_TRACK: start_create_track(cc); break;
  case VOCAB_CREATE_MIDI_CLIP: start_create_midi_clip(cc); break;
  case VOCAB_EDIT_CLIP: rc = start_edit_clip(cc); break;
  case VOCAB_ADD_EFFECT: start_add_effect(cc); break;
  case VOCAB_REMOVE_EFFECT: start_remove_effect(cc); break;
  case VOCAB_DELETE_TRACK: start_delete_track(cc); break;
  case VOCAB_DELETE_CLIP: rc = start_delete_clip(cc); break;
  case VOCAB_GET_NOTES: rc = start_get_notes(cc); break;
  default: rc = DAW_EUNSUPPORTED; break;
  }
  if (rc) {
    char msg[256];
    if (rc == DAW_EINVAL && cc->err[0])
      snprintf(msg, sizeof msg, "%s", cc->err);
    else if (rc == DAW_ENOTRACK)
      snprintf(msg, sizeof msg, "%s: unknown clip '%s' (use a clip id such as c1 from the session)", tool,
               json_string_value(json_object_get(args, "clip_id")) ? json_string_value(json_object_get(args, "clip_id"))
                                                                   : "?");
    else
      snprintf(msg, sizeof msg, "%s: the companion route does not handle this tool", tool);
    cc_free(cc);
    return defer_error(d, cb, data, rc, msg);
  }
  return DAW_OK;
}

static int call_checked(daw_t *d, const char *tool, const json_t *args, daw_cb cb, void *data, int refreshed);

/* An unknown track is only reported once a fresh refresh says so: the mirror may be incomplete (a lost packet
 * in the first sync), and then the answer is "the DAW is not answering", never "unknown track". */
struct notrack_retry {
  daw_t *d;
  char tool[48];
  json_t *args;
  daw_cb cb;
  void *data;
  char err[512];
};

static void on_notrack_refreshed(int status, const json_t *result, const char *message, void *data) {
  struct notrack_retry *r = data;
  (void)result;
  if (status == DAW_ECANCELED || r->d->closing) {
    if (r->cb) r->cb(DAW_ECANCELED, NULL, "canceled", r->data);
  } else if (status) {
    char msg[768];
    snprintf(msg, sizeof msg, "%s: cannot check the track against the DAW: %s", r->tool,
             message ? message : daw_strerror(status));
    if (r->cb) r->cb(status == DAW_ETIMEDOUT ? DAW_EUNREACHABLE : status, NULL, msg, r->data);
  } else {
    int rc = call_checked(r->d, r->tool, r->args, r->cb, r->data, 1);
    if (rc && r->cb) r->cb(rc, NULL, daw_strerror(rc), r->data);
  }
  json_decref(r->args);
  free(r);
}

int daw_call(daw_t *d, const char *tool, const json_t *args, daw_cb cb, void *data) {
  return call_checked(d, tool, args, cb, data, 0);
}

/* The vocabulary's schema check, then the one check that needs the mirror: the track exists. */
static int check_call(const daw_t *d, const char *tool, const json_t *args, char *err, size_t errlen) {
  if (vocab_check_name(d->vocab, tool, args, err, errlen)) return DAW_EINVAL;
  const char *tr = json_string_value(json_object_get(args, "track_id"));
  if (tr && !session_track_resolve(d->ses, tr)) {
    snprintf(err, errlen, "%s: unknown track '%s' (known: %d tracks, ids t1...; see get_state)", tool, tr,
             session_track_count(d->ses));
    return DAW_ENOTRACK;
  }
  return 0;
}

static int call_checked(daw_t *d, const char *tool, const json_t *args, daw_cb cb, void *data, int refreshed) {
  if (d->closing) return DAW_ECANCELED;
  char err[512];
  int rc = check_call(d, tool, args, err, sizeof err);
  if (rc) {
    int code = rc;
    if (code == DAW_ENOTRACK && !refreshed && strlen(tool) < sizeof((struct notrack_retry *)0)->tool) {
      struct notrack_retry *r = calloc(1, sizeof *r);
      if (!r) return DAW_ENOMEM;
      r->d = d;
      snprintf(r->tool, sizeof r->tool, "%s", tool);
      r->args = args ? json_deep_copy(args) : json_object();
      r->cb = cb;
      r->data = data;
      int frc = daw_refresh(d, on_notrack_refreshed, r);
      if (frc) {
        json_decref(r->args);
        free(r);
        return defer_error(d, cb, data, code, err);
      }
      return DAW_OK;
    }
    return defer_error(d, cb, data, code, err);
  }
  /* the companion first where it can (create_track: only it can set an instrument), else native OSC */
  enum vocab_tool t = (enum vocab_tool)vocab_lookup(tool); /* known: checked above */
  if (companion_tool(d, tool) && comp_up(d) && !companion_refuses(d, tool))
    return companion_route(d, t, args, cb, data);
  const char *why = daw_unavailable_reason(d, tool);
  if (why) {
    char msg[1600];
    snprintf(msg, sizeof msg, "%s: not available with %s now: %s", tool, d->dialect, why);
    return defer_error(d, cb, data, DAW_EUNSUPPORTED, msg);
  }
  if (t == VOCAB_CREATE_TRACK && json_object_get(args, "instrument")) {
    snprintf(err, sizeof err,
             "create_track: an instrument needs the dawbridge companion script in the DAW (native OSC cannot insert "
             "plugins): %s",
             d->comp ? companion_why(d->comp) : "the companion is switched off");
    return defer_error(d, cb, data, DAW_EUNSUPPORTED, err);
  }
  struct pending_call *p = pend(d, tool, cb, data);
  if (!p) return DAW_ENOMEM;
  if (t == VOCAB_CREATE_TRACK)
    name_taken(d, json_string_value(json_object_get(args, "name")), p->warning, sizeof p->warning);
  if (t == VOCAB_GET_STATE && json_object_get(args, "track_id")) {
    int ti = session_track_resolve(d->ses, json_string_value(json_object_get(args, "track_id")));
    snprintf(p->only_track, sizeof p->only_track, "%s", session_track_id(d->ses, ti));
  }
  return sync_call(d->sync, tool, args, on_sync_result, p) ? DAW_ECANCELED : DAW_OK;
}

/* ---------------- one AI request = one undo step ---------------- */

struct req {
  daw_t *d;
  daw_cb cb;
  void *data;
  int end;
};

static void on_req(int status, const json_t *res, const char *msg, void *data) {
  struct req *r = data;
  if (r->end) r->d->request[0] = 0;
  if (status) {
    if (r->cb) r->cb(from_companion(status), NULL, msg, r->data);
  } else {
    json_t *o = json_pack("{s:s,s:O}", "undo", "companion", "result", (json_t *)res);
    if (r->cb) r->cb(0, o, NULL, r->data);
    json_decref(o);
  }
  free(r);
}

static int request_step(daw_t *d, const char *name, int end, daw_cb cb, void *data) {
  if (d->closing) return DAW_ECANCELED;
  if (!comp_up(d) || (end && !d->request[0])) {
    if (end)
      d->request[0] = 0;
    else
      snprintf(d->request, sizeof d->request, "%s", name ? name : "");
    return defer_result(d, cb, data, 0, NULL, json_pack("{s:s}", "undo", "none"));
  }
  struct req *r = calloc(1, sizeof *r);
  if (!r) return DAW_ENOMEM;
  r->d = d;
  r->cb = cb;
  r->data = data;
  r->end = end;
  int rc;
  if (end) {
    rc = companion_call(d->comp, "end_undo", NULL, d->request, on_req, r);
  } else {
    snprintf(d->request, sizeof d->request, "%s", name && *name ? name : "dawbridge request");
    json_t *a = json_pack("{s:s}", "name", d->request);
    rc = companion_call(d->comp, "begin_undo", a, d->request, on_req, r);
    json_decref(a);
  }
  if (rc) {
    free(r);
    return from_companion(rc);
  }
  return DAW_OK;
}

int daw_undo_request(daw_t *d, daw_cb cb, void *data) {
  if (d->closing) return DAW_ECANCELED;
  if (!comp_up(d))
    return defer_result(d, cb, data, DAW_EUNSUPPORTED, "no companion: the DAW's own undo is not reachable", NULL);
  struct req *r = calloc(1, sizeof *r);
  if (!r) return DAW_ENOMEM;
  r->d = d;
  r->cb = cb;
  r->data = data;
  int rc = companion_call(d->comp, "undo", NULL, "dawbridge undo", on_req, r);
  if (rc) {
    free(r);
    return from_companion(rc);
  }
  return DAW_OK;
}

int daw_begin_request(daw_t *d, const char *name, daw_cb cb, void *data) { return request_step(d, name, 0, cb, data); }
int daw_end_request(daw_t *d, daw_cb cb, void *data) { return request_step(d, NULL, 1, cb, data); }

json_t *daw_capabilities(const daw_t *d) {
  json_t *out = json_array();
  for (int t = 0; t < VOCAB__COUNT; t++) {
    const char *n = vocab_name((enum vocab_tool)t);
    if (!daw_unavailable_reason(d, n)) json_array_append_new(out, json_string(n));
  }
  return out;
}

const json_t *daw_catalog(const daw_t *d) {
  return d->catalog ? d->catalog : json_object_get(oscmap_json(d->map), "catalog");
}
int daw_has_companion(const daw_t *d) { return comp_up(d); }
const char *daw_dialect(const daw_t *d) { return d->dialect; }
session_t *daw_session(daw_t *d) { return d->ses; }
sync_t *daw_sync(daw_t *d) { return d->sync; }
companion_t *daw_companion(daw_t *d) { return d->comp; }
const char *daw_spool_dir(const daw_t *d) { return d->comp ? companion_spool(d->comp) : NULL; }

static void on_part_closed(void *data) {
  daw_t *d = data;
  if (--d->pending) return;
  void (*cb)(void *) = d->close_cb;
  void *cd = d->close_data;
  daw_free(d);
  if (cb) cb(cd);
}

void daw_close(daw_t *d, void (*cb)(void *data), void *data) {
  if (!d || d->closing) return;
  d->closing = 1;
  d->close_cb = cb;
  d->close_data = data;
  d->pending = 1 + (d->comp != NULL);
  /* calls waiting between refreshes: canceled, their timers closed before the daw is freed */
  while (d->waiting) {
    struct ccall *cc = d->waiting;
    d->waiting = cc->wnext;
    d->pending++;
    uv_timer_stop(cc->timer);
    cc->timer->data = d;
    uv_close((uv_handle_t *)cc->timer, timer_closed);
    cc->timer = NULL;
    cc_fail(cc, DAW_ECANCELED, "%s: canceled", cc->tool);
  }
  /* the companion first: its waiting commands are canceled while sync still runs */
  if (d->comp) companion_close(d->comp, on_part_closed, d);
  sync_close(d->sync, on_part_closed, d);
}
