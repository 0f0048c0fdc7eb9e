/* sync: mirror maintenance and DAW-confirmed tool calls. See sync.h. */
#include "sync.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "vocab.h"

#define MAX_MSGS 256
#define MOD "sync"
#define PLUGIN_WINDOW 16 /* per-track plugin-list queries in flight at once (Ardour drops a burst of 256 under load) */

enum op_kind { OP_REFRESH, OP_CALL };
/* The state of an operation. A call goes QUEUED -> CALL_SENT and ends there (finish). A refresh goes QUEUED ->
 * COUNT -> BANKS (banked dialects: REAPER) or QUEUED -> LIST [-> PLUGINS -> DONE] (listed dialects: Ardour, per
 * track plugin lists when the map asks for them); op_enter checks every change against op_next[] below. */
enum op_state {
  ST_QUEUED,          /* waiting in the queue: op_start picks the head up */
  ST_CALL_SENT,       /* a call's step was sent (or its build error is being delivered); confirmations decide */
  ST_REFRESH_COUNT,   /* banked refresh: asking the track count */
  ST_REFRESH_BANKS,   /* banked refresh: paging the tracks bank by bank */
  ST_REFRESH_LIST,    /* listed refresh: the track list, ended by the map's sentinel */
  ST_REFRESH_PLUGINS, /* listed refresh: each track's plugin list, paced (PLUGIN_WINDOW in flight) */
  ST_REFRESH_DONE,    /* every plugin list arrived: late answers change nothing */
  ST_COUNT_
};

#define ST_BIT(st) (1u << (st))
/* op_next[from]: the states an operation may go to from `from`. A refresh that identifies a new track
 * (create_track without a companion) goes back to QUEUED from where it ended to insert again and refresh anew. */
static const unsigned op_next[ST_COUNT_] = {
    [ST_QUEUED] = ST_BIT(ST_CALL_SENT) | ST_BIT(ST_REFRESH_COUNT) | ST_BIT(ST_REFRESH_LIST),
    [ST_CALL_SENT] = 0,
    [ST_REFRESH_COUNT] = ST_BIT(ST_REFRESH_BANKS) | ST_BIT(ST_QUEUED),
    [ST_REFRESH_BANKS] = ST_BIT(ST_REFRESH_COUNT) | ST_BIT(ST_QUEUED),
    [ST_REFRESH_LIST] = ST_BIT(ST_REFRESH_PLUGINS) | ST_BIT(ST_QUEUED),
    [ST_REFRESH_PLUGINS] = ST_BIT(ST_REFRESH_DONE),
    [ST_REFRESH_DONE] = ST_BIT(ST_QUEUED),
};

static const char *const op_state_name[ST_COUNT_] = {
    [ST_QUEUED] = "queued",      [ST_CALL_SENT] = "sent",          [ST_REFRESH_COUNT] = "track count",
    [ST_REFRESH_BANKS] = "bank", [ST_REFRESH_LIST] = "track list", [ST_REFRESH_PLUGINS] = "plugin list",
    [ST_REFRESH_DONE] = "done",
};

struct op {
  enum op_kind kind;
  struct op *next;
  sync_cb cb;
  void *data;
  int error; /* set when built: deliver this error at start */
  char errmsg[512];
  uint64_t t0;
  int attempts;
  enum op_state state;
  /* call */
  char *tool;
  json_t *vars;    /* template variables */
  json_t *send;    /* templates */
  json_t *query;   /* templates sent after `send` (and on resends) to make the DAW report */
  json_t *confirm; /* predicates */
  const char *unconfirmable;
  int identify_new;   /* create_track on REAPER: find the new (selected) track by a refresh */
  char range_key[48]; /* waiting for this parameter's range before sending (Ardour) */
  json_t *later;      /* further steps of a "sequence" tool, each sent once the previous one is confirmed */
  json_t *skip_if;    /* the current step is already satisfied when these hold (toggles: send only if needed) */
  char *then_name;    /* ... then rename it */
  int track;          /* position at build time */
  char track_id[16];
  unsigned pre;        /* bit i: confirm predicate i held before sending (needs FRESH feedback to count) */
  unsigned fresh;      /* bit i: the DAW reported predicate i's field (or event) after the send / read-back */
  int create;          /* the current step creates something (add_marker on Ardour): never resent blindly */
  int step_confirm_ms; /* the current step's own wait (map "confirm_timeout_ms"), 0 = the sync's */
  json_t *seq;         /* a "sequence" tool's steps: a create step is resent by running the sequence again */
  int create_sends;    /* times a create step was sent */
  int seq_create;      /* a send-only create step of this sequence was sent: the later steps read it back */
  json_t *seen;        /* {field: true}: fields the DAW reported during this call (any step) */
  json_t *read_back;   /* templates that make the DAW report the state again (the step's, else the map's) */
  int rb_sent;         /* a read-back is in flight for this attempt */
  int skipped_stale;   /* a step was skipped on the mirror's (not freshly read) word */
  unsigned long heard_at_send, heard_at_start;
  json_t *events; /* [{event, str}] heard since sending */
  /* refresh */
  int count, bank, nbanks, zero_seen, last_seen, seen_start, restarts;
  int list_end_seen;
  uint64_t progress_at; /* refresh: last time the DAW's answer grew (a step times out only without progress) */
  unsigned char *got;   /* ST_REFRESH_PLUGINS: got[t] = 1 when track t's plugin list arrived */
  int ntracks, next_q, inflight, answered, rounds;
  int max_track_heard; /* ST_REFRESH_LIST: highest track position the DAW's feedback named (a lost list entry shows) */
  session_t *stage;
  int old_count;    /* identify_new: the mirror's count before */
  int create_tries; /* identify_new: insert actions sent (resent only when a read-back shows no new track) */
};

struct sync {
  uv_loop_t *loop;
  oscmap_t *map;
  session_t *ses;
  link_t *link;
  struct sync_config cfg;
  struct log_sink log;
  const json_t *mj; /* map json (borrowed) */
  uv_timer_t op_timer, refresh_timer, kick;
  struct op *head, *tail;
  int bank_size, bank_start, banked;
  int confirm_ms, retries, step_ms, refresh_ms;
  double sample_rate;
  int expect_count;     /* a count query is in flight: the next nonzero device-track number is the track count */
  int reports_type;     /* the map's feedback reports track types (Ardour's strip list; REAPER has none) */
  char *device_name;    /* REAPER: device-selected track name waiting for its number */
  json_t *marker_slots; /* REAPER marker bank slot -> marker number */
  json_t *param_ranges; /* "track/fx/param" -> [min, max] from descriptors */
  unsigned long heard;
  uint64_t refused_at; /* uv_now() of the last "nothing listens at the DAW's port"; 0 = never */
  int lost, need_refresh;
  struct sync_stats st;
  struct {
    char name[32];
    sync_event_cb cb;
    void *data;
  } handlers[4];
  int closing, pending;
  void (*close_cb)(void *);
  void *close_data;
};

const char *sync_strerror(int code) {
  switch (code) {
  case SYNC_OK: return "ok";
  case SYNC_EINVAL: return "invalid arguments";
  case SYNC_ENOTOOL: return "the DAW cannot do this";
  case SYNC_ENOTRACK: return "no such track";
  case SYNC_ETIMEDOUT: return "the DAW did not confirm";
  case SYNC_EUNREACHABLE: return "the DAW does not answer";
  case SYNC_ECANCELED: return "canceled";
  case SYNC_ELINK: return "OSC socket error";
  case SYNC_ENOMEM: return "out of memory";
  default: return "unknown sync error";
  }
}

static void kick_queue(sync_t *s);
static void op_start(sync_t *s, struct op *o);
static int link_refused_since(const sync_t *s, uint64_t t) { return s->refused_at && s->refused_at >= t; }
static void arm(sync_t *s, int ms);
static void add_step(struct op *o, const json_t *st);
static void restart_sequence(sync_t *s, struct op *o);
static int plugin_round_ms(const sync_t *s);
static void refresh_step_send(sync_t *s, struct op *o);

/* Moves o to state `to`. A change op_next[] does not list is a bug in this file: it is logged (an error line, never
 * silence) and made anyway, so a release build behaves as before the table existed. */
static void op_enter(sync_t *s, struct op *o, enum op_state to) {
  if (!(op_next[o->state] & ST_BIT(to)))
    log_msg(&s->log, LOG_ERROR, MOD, "internal: %s: %s -> %s is not a listed transition",
            o->kind == OP_CALL ? (o->tool ? o->tool : "call") : "refresh", op_state_name[o->state], op_state_name[to]);
  o->state = to;
}

/* ---- helpers ---- */

static int send_templates(sync_t *s, const json_t *tpl, const json_t *vars, char *err, size_t errlen) {
  if (!tpl || !json_array_size(tpl)) return 0;
  char *paths[MAX_MSGS];
  lo_message msgs[MAX_MSGS];
  int n = oscmap_render(s->map, tpl, vars, paths, msgs, MAX_MSGS, err, errlen);
  if (n < 0) return SYNC_EINVAL;
  const char *dsel = json_string_value(json_object_get(json_object_get(s->mj, "banking"), "device_select"));
  int rc = 0;
  for (int i = 0; i < n; i++) {
    if (dsel && !strcmp(paths[i], dsel) && lo_message_get_argc(msgs[i]) == 1) {
      /* a device-track select makes REAPER report that track's no-@ fields: drop any half-heard name */
      free(s->device_name);
      s->device_name = NULL;
    }
    if (!rc && link_send(s->link, paths[i], msgs[i]) < 0) {
      snprintf(err, errlen, "cannot send %s to the DAW", paths[i]);
      rc = SYNC_ELINK;
    }
    log_msg(&s->log, LOG_DEBUG, MOD, "-> %s", paths[i]);
    free(paths[i]);
    lo_message_free(msgs[i]);
  }
  return rc;
}

static json_t *base_vars(sync_t *s) {
  return json_pack("{sisfsfsisi}", "bank_size", s->bank_size, "tempo", session_tempo(s->ses), "sample_rate",
                   s->sample_rate, "listen_port", link_listen_port(s->link), "count", session_track_count(s->ses));
}

static void op_free(struct op *o) {
  if (!o) return;
  free(o->tool);
  free(o->then_name);
  json_decref(o->vars);
  json_decref(o->send);
  json_decref(o->query);
  json_decref(o->confirm);
  json_decref(o->events);
  json_decref(o->later);
  json_decref(o->skip_if);
  json_decref(o->read_back);
  json_decref(o->seq);
  json_decref(o->seen);
  free(o->got);
  session_free(o->stage);
  free(o);
}

static void finish(sync_t *s, struct op *o, int status, const json_t *result, const char *fmt, ...) {
  char msg[512] = "";
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
  }
  uv_timer_stop(&s->op_timer);
  if (s->head == o) {
    s->head = o->next;
    if (!s->head) s->tail = NULL;
  }
  if (o->cb) o->cb(status, result, status ? msg : NULL, o->data);
  op_free(o);
  if (!s->closing) kick_queue(s);
}

static void enqueue(sync_t *s, struct op *o) {
  if (s->tail)
    s->tail->next = o;
  else
    s->head = o;
  s->tail = o;
  kick_queue(s);
}

static void on_kick(uv_timer_t *t) {
  sync_t *s = t->data;
  if (s->head && s->head->state == ST_QUEUED) op_start(s, s->head);
}

/* Start the head operation on the next loop turn: callbacks never run inside the caller's call. */
static void kick_queue(sync_t *s) {
  if (s->closing || !s->head || s->head->state != ST_QUEUED) return;
  uv_timer_start(&s->kick, on_kick, 0, 0);
}

static void append_all(json_t *dst, const json_t *src) {
  size_t i;
  json_t *v;
  json_array_foreach(src, i, v) json_array_append(dst, v);
}

/* ---- applying feedback ---- */

static int session_field_of(const char *set, enum session_field *f) {
  static const struct {
    const char *name;
    enum session_field f;
  } t[] = {{"tempo", SF_TEMPO},
           {"playing", SF_PLAYING},
           {"recording", SF_RECORDING},
           {"position", SF_POSITION},
           {"loop.enabled", SF_LOOP_ENABLED},
           {"project", SF_PROJECT},
           {"track.name", SF_TRACK_NAME},
           {"track.type", SF_TRACK_TYPE},
           {"track.volume_db", SF_TRACK_VOLUME_DB},
           {"track.pan", SF_TRACK_PAN},
           {"track.mute", SF_TRACK_MUTE},
           {"track.solo", SF_TRACK_SOLO},
           {"track.rec_arm", SF_TRACK_REC_ARM},
           {"track.selected", SF_TRACK_SELECTED},
           {"track.instrument", SF_TRACK_INSTRUMENT},
           {"track.fx.name", SF_FX_NAME},
           {"track.fx.enabled", SF_FX_ENABLED},
           {"track.fx.param", SF_FX_PARAM},
           {"marker.name", SF_MARKER},
           {"marker.position", SF_MARKER}};
  for (size_t i = 0; i < sizeof t / sizeof *t; i++)
    if (!strcmp(t[i].name, set)) return *f = t[i].f, 1;
  return 0;
}

static int refresh_active(const sync_t *s) {
  return s->head && s->head->kind == OP_REFRESH && s->head->stage &&
         (s->head->state == ST_REFRESH_BANKS || s->head->state == ST_REFRESH_LIST);
}

/* Returns the mirror position the feedback was about (track fields), 0 otherwise. */
static int apply_set(sync_t *s, const struct oscmap_match *mm) {
  enum session_field f;
  if (!strcmp(mm->set, "loop.start") || !strcmp(mm->set, "loop.end")) {
    double v = mm->num;
    if (mm->convert_ctx) {
      json_t *ctx = json_pack("{sf}", "tempo", session_tempo(s->ses));
      oscmap_convert(mm->convert_ctx, v, ctx, &v);
      json_decref(ctx);
    }
    double a = NAN, b = NAN;
    session_lookup(s->ses, "loop.start", 0, 0, 0, 0, &a, &(const char *){NULL});
    session_lookup(s->ses, "loop.end", 0, 0, 0, 0, &b, &(const char *){NULL});
    if (mm->set[5] == 's')
      a = v;
    else
      b = v;
    struct session_update u = {.field = SF_LOOP_RANGE, .num = a, .num2 = b};
    session_apply(s->ses, &u, NULL, 0);
    return 0;
  }
  if (!session_field_of(mm->set, &f)) return 0;
  struct session_update u = {.field = f, .num = mm->num, .str = mm->str, .fx = mm->fx, .param = mm->param};
  if (mm->convert_ctx) {
    json_t *ctx = json_pack("{sfsf}", "tempo", session_tempo(s->ses), "sample_rate", s->sample_rate);
    oscmap_convert(mm->convert_ctx, mm->num, ctx, &u.num);
    json_decref(ctx);
  }
  if (f == SF_FX_PARAM && mm->str == NULL) u.str = NULL;
  if (f == SF_FX_PARAM && !mm->has_num) return 0;
  session_t *target = s->ses;
  if (!strncmp(mm->set, "track.", 6)) {
    int pos = mm->track;
    if (mm->track_ref == OSCMAP_TRACK_SLOT) {
      if (pos < 1 || pos > s->bank_size) return 0;
      pos += s->bank_start;
    }
    if (refresh_active(s)) {
      target = s->head->stage;
      if (s->head->state == ST_REFRESH_LIST && mm->track_ref != OSCMAP_TRACK_SLOT && pos > s->head->max_track_heard &&
          pos <= 100000)
        s->head->max_track_heard = pos;
    }
    if (pos < 1 || pos > session_track_count(target)) {
      /* feedback about a track the mirror does not know yet: the track list changed under us */
      if (!refresh_active(s) && pos > 0 && mm->track_ref != OSCMAP_TRACK_SLOT) s->need_refresh = 1;
      return 0;
    }
    u.index = pos;
  } else if (!strncmp(mm->set, "marker.", 7)) {
    char key[16];
    snprintf(key, sizeof key, "%d", mm->marker);
    json_t *num = json_object_get(s->marker_slots, key);
    if (!json_is_integer(num)) return 0;
    u.marker = (int)json_integer_value(num);
    if (!strcmp(mm->set, "marker.name"))
      u.num = NAN;
    else
      u.str = NULL;
  } else if (f == SF_TEMPO && !(u.num >= 1)) {
    return 0;
  }
  char err[160];
  if (session_apply(target, &u, err, sizeof err) < 0) log_msg(&s->log, LOG_DEBUG, MOD, "feedback ignored: %s", err);
  return u.marker ? u.marker : u.index;
}

/* Marks the running call's confirm predicates whose field this feedback reported: the DAW's FRESH word, heard
 * after the send (or the read-back). `pos` is the track position (track fields) or marker number (markers). */
static void note_fresh(sync_t *s, const char *set, int pos, int fx, int param) {
  struct op *o = s->head;
  if (!o || o->kind != OP_CALL || o->state != ST_CALL_SENT || !set) return;
  size_t i;
  json_t *p;
  json_array_foreach(o->confirm, i, p) {
    if (i >= 32) break;
    const char *field = json_string_value(json_object_get(p, "field"));
    if (!field) continue;
    /* "track.fx": a whole plugin list arrived for the track (names, enabled flags, instrument) */
    int list = !strcmp(set, "track.fx") && (!strncmp(field, "track.fx.", 9) || !strcmp(field, "track.instrument"));
    if (strcmp(field, set) && !list) continue;
    int track_field = !strncmp(field, "track.", 6), marker_field = !strncmp(field, "marker.", 7);
    if (!strncmp(field, "track.", 6)) {
      int track = o->track_id[0] ? session_track_index_by_id(s->ses, o->track_id) : 0;
      if (pos != track) continue;
      if (!strncmp(field, "track.fx.", 9) && fx > 0 &&
          fx != (int)json_integer_value(json_object_get(o->vars, "effect_index")))
        continue;
      if (!strcmp(field, "track.fx.param") && param > 0 &&
          param != (int)json_integer_value(json_object_get(o->vars, "param_index")))
        continue;
    } else if (marker_field) {
      if (pos != (int)json_integer_value(json_object_get(o->vars, "marker"))) continue;
    }
    (void)track_field;
    o->fresh |= 1u << i;
    if (!o->seen) o->seen = json_object();
    json_object_set_new(o->seen, field, json_true());
  }
}

static void record_event(sync_t *s, const char *ev, const char *str) {
  struct op *o = s->head;
  if (!o || o->kind != OP_CALL || o->state != ST_CALL_SENT) return;
  if (!o->events) o->events = json_array();
  json_array_append_new(o->events, json_pack("{ssss?}", "event", ev, "str", str));
  log_msg(&s->log, LOG_DEBUG, MOD, "%s: event %s \"%s\" at %llu ms", o->tool, ev, str ? str : "",
          (unsigned long long)(uv_now(s->loop) - o->t0));
  size_t i;
  json_t *p;
  json_array_foreach(o->confirm, i, p) {
    const char *pe = json_string_value(json_object_get(p, "event"));
    if (i < 32 && pe && !strcmp(pe, ev)) o->fresh |= 1u << i;
  }
}

static void on_count(sync_t *s, int n);
static void on_sentinel(sync_t *s);
static void plugin_list_arrived(sync_t *s, int track);

static void stage_list_entry(sync_t *s, const json_t *fields) {
  struct op *o = s->head;
  if (!refresh_active(s) || o->state != ST_REFRESH_LIST) return;
  int idx = (int)json_integer_value(json_object_get(fields, "index"));
  if (idx < 1 || idx > 100000) return;
  if (idx > session_track_count(o->stage)) {
    struct session_update u = {.field = SF_TRACK_COUNT, .num = idx};
    session_apply(o->stage, &u, NULL, 0);
  }
  struct session_update u = {.index = idx};
  u.field = SF_TRACK_NAME, u.str = json_string_value(json_object_get(fields, "name"));
  session_apply(o->stage, &u, NULL, 0);
  const char *type = json_string_value(json_object_get(fields, "type"));
  if (type) {
    u.field = SF_TRACK_TYPE, u.str = type;
    session_apply(o->stage, &u, NULL, 0);
  }
  u.str = NULL;
  const char *bools[] = {"mute", "solo", "rec_arm"};
  enum session_field bf[] = {SF_TRACK_MUTE, SF_TRACK_SOLO, SF_TRACK_REC_ARM};
  for (int i = 0; i < 3; i++) {
    json_t *v = json_object_get(fields, bools[i]);
    if (!json_is_number(v)) continue;
    u.field = bf[i], u.num = json_number_value(v);
    session_apply(o->stage, &u, NULL, 0);
  }
}

static void apply_plugin_list(sync_t *s, const struct oscmap_match *mm) {
  int pos = mm->track;
  if (pos < 1 || pos > session_track_count(s->ses)) return;
  json_t *items = json_object_get(mm->fields, "items");
  /* fx lists the whole chain as the DAW numbers it (tools address plugins by that number); the instrument is the
   * first plugin of a MIDI track when the catalog knows it as an instrument */
  const json_t *instr = json_object_get(json_object_get(s->mj, "catalog"), "instruments");
  const char *type = NULL;
  double dummy;
  session_lookup(s->ses, "track.type", pos, 0, 0, 0, &dummy, &type);
  int fxn = 0;
  const char *instrument = NULL;
  struct session_update u = {.index = pos};
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    const char *name = json_string_value(json_object_get(it, "name"));
    if (!name) continue;
    if (fxn == 0 && type && !strcmp(type, "midi")) {
      size_t k;
      json_t *c;
      json_array_foreach(instr, k, c) if (!strcmp(json_string_value(json_object_get(c, "name")), name)) instrument =
          name;
    }
    fxn++;
    u.field = SF_FX_NAME, u.fx = fxn, u.str = name;
    session_apply(s->ses, &u, NULL, 0);
    u.field = SF_FX_ENABLED, u.num = json_number_value(json_object_get(it, "enabled"));
    u.str = NULL;
    session_apply(s->ses, &u, NULL, 0);
  }
  u.field = SF_TRACK_INSTRUMENT, u.str = instrument;
  session_apply(s->ses, &u, NULL, 0);
  u.field = SF_FX_COUNT, u.num = fxn, u.str = NULL;
  session_apply(s->ses, &u, NULL, 0);
  note_fresh(s, "track.fx", pos, 0, 0);
}

static int check_confirm(sync_t *s, struct op *o, char *why, size_t whylen);
static void range_arrived(sync_t *s, struct op *o);
static void call_confirmed(sync_t *s, struct op *o, const char *status);
static void step_begin(sync_t *s, struct op *o);

static void on_message(const char *path, const char *types, lo_arg **argv, int argc, void *data) {
  sync_t *s = data;
  if (s->closing) return;
  s->st.messages++;
  s->heard++;
  struct oscmap_match mm[4];
  char err[256];
  int n = oscmap_match(s->map, path, types, argv, argc, mm, 4, err, sizeof err);
  if (n < 0) {
    s->st.malformed++;
    /* a misbehaving peer must not flood the log: the first few in full, then a count now and then */
    if (s->st.malformed <= 5)
      log_msg(&s->log, LOG_WARN, MOD, "ignored malformed message: %s", err);
    else if (s->st.malformed % 1000 == 0)
      log_msg(&s->log, LOG_WARN, MOD, "%lu malformed messages ignored so far", s->st.malformed);
    else
      log_msg(&s->log, LOG_DEBUG, MOD, "ignored malformed message: %s", err);
    return;
  }
  if (n == 0) {
    s->st.unknown++;
    log_msg(&s->log, LOG_DEBUG, MOD, "<- %s ,%s (not in the map)", path, types);
    return;
  }
  s->st.matched++;
  log_msg(&s->log, LOG_DEBUG, MOD, "<- %s ,%s", path, types);
  for (int i = 0; i < n; i++) {
    const struct oscmap_match *m = &mm[i];
    if (m->set) note_fresh(s, m->set, apply_set(s, m), m->fx, m->param);
    /* a refresh makes progress while the DAW answers about its tracks (a big session's dumps take seconds);
     * heartbeats and transport position do not count, so a silent DAW still times out */
    if (s->head && s->head->kind == OP_REFRESH &&
        ((m->set && !strncmp(m->set, "track.", 6)) ||
         (m->event &&
          (!strcmp(m->event, "list_entry") || !strcmp(m->event, "list_end") || !strcmp(m->event, "plugin_list")))))
      s->head->progress_at = uv_now(s->loop);
    if (!m->event) continue;
    const char *ev = m->event;
    if (!strcmp(ev, "count")) {
      if (m->has_num && m->num >= 0 && m->num <= INT_MAX) on_count(s, (int)m->num);
    } else if (!strcmp(ev, "device_name")) {
      free(s->device_name);
      s->device_name = m->str ? strdup(m->str) : NULL;
    } else if (!strcmp(ev, "marker_slot")) {
      char key[16];
      snprintf(key, sizeof key, "%d", m->marker);
      /* a marker's position in samples; out of json_int_t's range is no position (fuzzing) */
      if (m->has_num && m->num > 0 && m->num < 9.2e18)
        json_object_set_new(s->marker_slots, key, json_integer((json_int_t)m->num));
      else
        json_object_del(s->marker_slots, key); /* an empty slot */
    } else if (!strcmp(ev, "list_entry")) {
      stage_list_entry(s, m->fields);
      if (refresh_active(s)) s->head->progress_at = uv_now(s->loop);
    } else if (!strcmp(ev, "list_end")) {
      json_t *sr = json_object_get(m->fields, "sample_rate");
      if (json_is_number(sr) && json_number_value(sr) > 0) s->sample_rate = json_number_value(sr);
      if (refresh_active(s)) s->head->list_end_seen = 1;
    } else if (!strcmp(ev, "plugin_list")) {
      apply_plugin_list(s, m);
      plugin_list_arrived(s, m->track);
    } else if (!strcmp(ev, "list_changed")) {
      if (!refresh_active(s)) s->need_refresh = 1;
    } else if (!strcmp(ev, "sentinel")) {
      on_sentinel(s);
    } else {
      for (int h = 0; h < 4; h++)
        if (s->handlers[h].cb && !strcmp(s->handlers[h].name, ev)) s->handlers[h].cb(ev, m->str, s->handlers[h].data);
    }
    if (!strcmp(ev, "track.fx.param") && m->fields) {
      /* not used */
    }
    record_event(s, ev, m->str);
  }
  /* remember parameter ranges (Ardour's descriptors) for 0..1 <-> plugin units */
  for (int i = 0; i < n; i++) {
    if (!mm[i].has_range || mm[i].track_ref != OSCMAP_TRACK_ABS) continue;
    char key[48];
    snprintf(key, sizeof key, "%d/%d/%d", mm[i].track, mm[i].fx, mm[i].param);
    json_object_set_new(s->param_ranges, key, json_pack("[ff]", mm[i].range_min, mm[i].range_max));
  }
  oscmap_match_clear(mm, n);
  struct op *o = s->head;
  if (o && o->kind == OP_CALL && o->state == ST_CALL_SENT && o->range_key[0]) {
    range_arrived(s, o);
    return;
  }
  if (o && o->kind == OP_CALL && o->state == ST_CALL_SENT && !o->identify_new) {
    char why[256];
    if (check_confirm(s, o, why, sizeof why)) call_confirmed(s, o, "confirmed");
  }
  if (s->need_refresh && !s->head) {
    s->need_refresh = 0;
    sync_refresh(s, NULL, NULL);
  }
}

/* ---- refresh ---- */

static int nbanks_for(int count, int bs) { return count <= 0 ? 0 : (count + bs - 1) / bs; }

static void refresh_fail(sync_t *s, struct op *o, int code, const char *what) {
  log_msg(&s->log, LOG_WARN, MOD, "refresh failed: %s", what);
  finish(s, o, code, NULL, "%s", what);
}

static void create_identified(sync_t *s, struct op *o);

static void refresh_done(sync_t *s, struct op *o) {
  char err[256];
  int rc = 0;
  if (o->stage) {
    json_t *st = session_to_json(o->stage);
    json_t *tracks = json_object_get(st, "tracks");
    size_t i;
    json_t *t;
    int sel = 0;
    json_array_foreach(tracks, i, t) {
      json_object_del(t, "id");
      json_object_del(t, "clips");
      json_object_del(t, "index");
      /* a field the DAW's OSC never reports keeps what the mirror knows (from the companion, or a create) */
      if (!s->reports_type) json_object_del(t, "type");
      if (json_is_true(json_object_get(t, "selected"))) sel = (int)i + 1;
    }
    if (o->identify_new && session_track_count(o->stage) == o->old_count + 1 && sel) {
      /* the new track is the selected one: insert it in the mirror where it landed, so the tracks after it
       * keep their ids when REAPER renumbers their default names */
      struct session_update u = {.field = SF_TRACK_INSERT, .index = sel};
      session_apply(s->ses, &u, NULL, 0);
      o->track = sel;
    }
    rc = session_reconcile_tracks(s->ses, tracks, err, sizeof err);
    json_decref(st);
    if (o->identify_new) {
      o->track = (o->track && session_track_count(s->ses) == o->old_count + 1) ? o->track : 0;
    }
  }
  s->st.refreshes++;
  if (rc) {
    refresh_fail(s, o, SYNC_EINVAL, err);
    return;
  }
  if (o->state == ST_REFRESH_LIST && json_object_get(json_object_get(s->mj, "refresh"), "per_track") &&
      session_track_count(s->ses) > 0) {
    /* Ardour: plugins per strip, ended by the sentinel */
    session_free(o->stage);
    o->stage = NULL;
    op_enter(s, o, ST_REFRESH_PLUGINS);
    o->attempts = 1;
    o->ntracks = session_track_count(s->ses);
    free(o->got);
    o->got = calloc((size_t)o->ntracks + 1, 1);
    o->next_q = 1;
    o->inflight = o->answered = o->rounds = 0;
    o->progress_at = uv_now(s->loop);
    refresh_step_send(s, o);
    if (s->head == o && o->state == ST_REFRESH_PLUGINS) arm(s, plugin_round_ms(s));
    return;
  }
  log_msg(&s->log, LOG_INFO, MOD, "mirror refreshed: %d tracks in %lld ms", session_track_count(s->ses),
          (long long)(uv_now(s->loop) - o->t0));
  if (o->identify_new) {
    create_identified(s, o);
    return;
  }
  json_t *res = json_pack("{sisI}", "tracks", session_track_count(s->ses), "ms", (json_int_t)(uv_now(s->loop) - o->t0));
  finish(s, o, 0, res, NULL);
  json_decref(res);
}

static void refresh_step_send(sync_t *s, struct op *o) {
  const json_t *ref = json_object_get(s->mj, "refresh");
  char err[256] = "";
  json_t *vars = base_vars(s);
  int rc = 0;
  switch (o->state) {
  case ST_REFRESH_COUNT:
    s->expect_count = 1;
    o->zero_seen = 0;
    o->seen_start = 0;
    s->bank_start = 0; /* the count step selects the first bank */
    rc = send_templates(s, json_object_get(ref, "count"), vars, err, sizeof err);
    break;
  case ST_REFRESH_BANKS: {
    /* REAPER clamps the bank start to the last track and rounds it down to the bank size */
    int start = (o->bank - 1) * s->bank_size;
    if (start > o->count - 1) start = o->count - 1;
    if (start < 0) start = 0;
    s->bank_start = start - start % s->bank_size;
    o->seen_start = 0;
    json_object_set_new(vars, "bank", json_integer(o->bank));
    s->expect_count = 1;
    rc = send_templates(s, json_object_get(ref, "bank"), vars, err, sizeof err);
    break;
  }
  case ST_REFRESH_LIST: rc = send_templates(s, json_object_get(ref, "list"), vars, err, sizeof err); break;
  case ST_REFRESH_PLUGINS: {
    /* paced: at most PLUGIN_WINDOW queries in flight, the next one sent as an answer arrives; a round resends
     * only the tracks that have not answered */
    const json_t *per = json_object_get(ref, "per_track");
    while (!rc && o->got && o->inflight < PLUGIN_WINDOW && o->next_q <= o->ntracks) {
      int t = o->next_q++;
      if (o->got[t]) continue;
      json_object_set_new(vars, "track", json_integer(t));
      rc = send_templates(s, per, vars, err, sizeof err);
      o->inflight++;
    }
    break;
  }
  default: break;
  }
  json_decref(vars);
  if (rc) {
    refresh_fail(s, o, rc, err);
    return;
  }
}

static void on_op_timeout(uv_timer_t *t);

static void arm(sync_t *s, int ms) { uv_timer_start(&s->op_timer, on_op_timeout, (uint64_t)ms, 0); }

/* A plugin-list round waits this long without an answer (the DAW answers each query at once, or shows progress). */
static int plugin_round_ms(const sync_t *s) {
  int ms = 4 * s->confirm_ms;
  if (ms < 500) ms = 500;
  return ms < s->step_ms ? ms : s->step_ms;
}

static void plugin_list_arrived(sync_t *s, int track) {
  struct op *o = s->head;
  if (!o || o->kind != OP_REFRESH || o->state != ST_REFRESH_PLUGINS || !o->got || track < 1 || track > o->ntracks)
    return;
  if (o->inflight > 0) o->inflight--;
  if (o->got[track]) return;
  o->got[track] = 1;
  o->answered++;
  o->progress_at = uv_now(s->loop);
  if (o->answered == o->ntracks) {
    uv_timer_stop(&s->op_timer);
    op_enter(s, o, ST_REFRESH_DONE);
    refresh_done(s, o);
    return;
  }
  refresh_step_send(s, o);
}

static void refresh_enter(sync_t *s, struct op *o, enum op_state ph) {
  op_enter(s, o, ph);
  o->attempts = 1;
  o->progress_at = 0;
  o->max_track_heard = 0;
  if (ph == ST_REFRESH_BANKS || ph == ST_REFRESH_LIST) {
    session_free(o->stage);
    o->stage = session_new(oscmap_dialect(s->map));
    if (ph == ST_REFRESH_BANKS) {
      struct session_update u = {.field = SF_TRACK_COUNT, .num = o->count};
      session_apply(o->stage, &u, NULL, 0);
    }
  }
  if (ph == ST_REFRESH_BANKS && o->count == 0) {
    refresh_done(s, o);
    return;
  }
  refresh_step_send(s, o);
  if (s->head == o && o->state == ph) arm(s, s->step_ms);
}

/* REAPER reports the device-selected track's number. A count query selects slot 0 (which is the master in the
 * first bank, else the bank's first track) and then slot 100000, which REAPER clamps to the last track: the
 * number that is neither 0 nor the bank start is the track count. */
static void on_count(sync_t *s, int n) {
  struct op *o = s->head;
  int in_refresh = o && o->kind == OP_REFRESH && (o->state == ST_REFRESH_COUNT || o->state == ST_REFRESH_BANKS);
  if (!in_refresh) {
    /* a device-track number outside a count query: a named track's position (rename read-back) */
    if (s->device_name && n > 0 && !s->expect_count) {
      struct session_update u = {.field = SF_TRACK_NAME, .index = n, .str = s->device_name};
      session_apply(s->ses, &u, NULL, 0);
    }
    free(s->device_name);
    s->device_name = NULL;
    if (s->expect_count && n > 0 && n != s->bank_start) {
      s->expect_count = 0;
      if (n != session_track_count(s->ses)) {
        log_msg(&s->log, LOG_INFO, MOD, "the DAW has %d tracks, the mirror %d: refreshing", n,
                session_track_count(s->ses));
        s->need_refresh = 1;
      }
    }
    return;
  }
  free(s->device_name);
  s->device_name = NULL;
  o->zero_seen = 1;
  o->last_seen = n;
  if (!o->seen_start) {
    /* wait for this step's own "slot 0" report: anything before it is left over from an earlier step */
    if (n == s->bank_start) o->seen_start = 1;
    return;
  }
  if (n == s->bank_start) return; /* the reset's own report of slot 0, or a repeat */
  if (o->state == ST_REFRESH_COUNT) {
    s->expect_count = 0;
    o->count = n;
    o->nbanks = nbanks_for(n, s->bank_size);
    o->bank = 1;
    refresh_enter(s, o, ST_REFRESH_BANKS);
    return;
  }
  if (n != o->count) {
    /* the track count changed while paging: count again (bounded) */
    if (++o->restarts > 3) {
      refresh_fail(s, o, SYNC_ETIMEDOUT, "the track count kept changing during the refresh");
      return;
    }
    refresh_enter(s, o, ST_REFRESH_COUNT);
    return;
  }
  s->expect_count = 0;
  if (o->bank < o->nbanks) {
    o->bank++;
    o->attempts = 1;
    refresh_step_send(s, o);
    arm(s, s->step_ms);
    return;
  }
  uv_timer_stop(&s->op_timer);
  refresh_done(s, o);
}

static void on_sentinel(sync_t *s) {
  struct op *o = s->head;
  if (!o || o->kind != OP_REFRESH) return;
  if (o->state == ST_REFRESH_LIST) {
    if (!o->list_end_seen) return; /* the list was lost: the timeout resends it */
    /* entries lost on the way: a gap, or feedback about a track the list did not name */
    int n = session_track_count(o->stage), gap = o->max_track_heard > n;
    for (int i = 1; i <= n && !gap; i++) {
      const char *nm = session_track_name(o->stage, i);
      if (!nm || !*nm) gap = 1;
    }
    if (gap) {
      log_msg(&s->log, LOG_INFO, MOD,
              "the track list arrived incomplete (%d listed, feedback names track %d): asking "
              "again",
              n, o->max_track_heard);
      o->list_end_seen = 0; /* the timeout resends it */
      return;
    }
    uv_timer_stop(&s->op_timer);
    refresh_done(s, o);
  }
  /* ST_REFRESH_PLUGINS ends when every track's list arrived (plugin_list_arrived), not on a sentinel */
}

static void refresh_start(sync_t *s, struct op *o) {
  o->heard_at_start = s->heard;
  const char *mode = json_string_value(json_object_get(json_object_get(s->mj, "refresh"), "mode"));
  o->old_count = session_track_count(s->ses);
  if (o->identify_new) {
    /* create_track without a companion: the insert action, then a refresh that finds the new track */
    o->create_tries++;
    char err[256] = "";
    int rc = send_templates(s, o->send, o->vars, err, sizeof err);
    if (rc) {
      finish(s, o, rc, NULL, "create_track: %s", err);
      return;
    }
  }
  if (!strcmp(mode, "banked")) {
    json_object_clear(s->marker_slots);
    struct session_update u = {.field = SF_MARKERS_CLEAR};
    session_apply(s->ses, &u, NULL, 0);
    refresh_enter(s, o, ST_REFRESH_COUNT);
  } else {
    o->list_end_seen = 0;
    refresh_enter(s, o, ST_REFRESH_LIST);
  }
}

/* ---- calls ---- */

static int pred_holds(sync_t *s, struct op *o, const json_t *p, char *why, size_t whylen) {
  char err[160];
  const char *ev = json_string_value(json_object_get(p, "event"));
  if (ev) {
    json_t *want = json_object_get(p, "contains");
    json_t *w = want ? oscmap_eval(want, o->vars, err, sizeof err) : NULL;
    size_t i;
    json_t *e;
    int ok = 0;
    json_array_foreach(o->events, i, e) {
      if (strcmp(json_string_value(json_object_get(e, "event")), ev)) continue;
      const char *str = json_string_value(json_object_get(e, "str"));
      if (!w || (str && json_is_string(w) && strstr(str, json_string_value(w)))) ok = 1;
    }
    if (!ok) snprintf(why, whylen, "no %s feedback%s%s", ev, w ? " naming " : "", w ? json_string_value(w) : "");
    json_decref(w);
    return ok;
  }
  const char *field = json_string_value(json_object_get(p, "field"));
  int fx = (int)json_integer_value(json_object_get(o->vars, "effect_index"));
  int param = (int)json_integer_value(json_object_get(o->vars, "param_index"));
  int marker = (int)json_integer_value(json_object_get(o->vars, "marker"));
  double num;
  const char *str;
  int track = o->track_id[0] ? session_track_index_by_id(s->ses, o->track_id) : 0;
  if (!session_lookup(s->ses, field, track, fx, param, marker, &num, &str)) {
    snprintf(why, whylen, "%s is not known yet", field);
    return 0;
  }
  json_t *want = oscmap_eval(json_object_get(p, "equals"), o->vars, err, sizeof err);
  if (!want) return 1; /* nothing to compare with: presence is enough */
  int ok;
  if (str) {
    const char *w = json_is_string(want) ? json_string_value(want) : "";
    ok = !strcmp(str, w);
    if (!ok) snprintf(why, whylen, "%s is \"%s\", expected \"%s\"", field, str, w);
  } else {
    double w = json_is_number(want) ? json_number_value(want) : json_is_true(want) ? 1 : 0;
    double tol = json_number_value(json_object_get(p, "tolerance"));
    if (!(tol > 0)) tol = 1e-4;
    ok = fabs(num - w) <= tol;
    if (!ok) snprintf(why, whylen, "%s is %g, expected %g", field, num, w);
  }
  json_decref(want);
  return ok;
}

static int check_confirm(sync_t *s, struct op *o, char *why, size_t whylen) {
  size_t i;
  json_t *p;
  json_array_foreach(o->confirm, i, p) {
    if (!pred_holds(s, o, p, why, whylen)) return 0;
  }
  /* a value the mirror already showed counts only once the DAW reports it again (fresh feedback) */
  if (o->pre & ~o->fresh) {
    snprintf(why, whylen, "the DAW has not reported the value again since the request");
    return 0;
  }
  return 1;
}

/* Bit i set: confirm predicate i holds in the mirror now. */
static unsigned preds_mask(sync_t *s, struct op *o) {
  unsigned m = 0;
  char why[256];
  size_t i;
  json_t *p;
  json_array_foreach(o->confirm, i, p) {
    if (i < 32 && pred_holds(s, o, p, why, sizeof why)) m |= 1u << i;
  }
  return m;
}

/* What makes the DAW report the state again: the step's own read-back, else the map's. */
static const json_t *rb_templates(sync_t *s, const struct op *o) {
  if (json_array_size(o->read_back)) return o->read_back;
  const json_t *rb = json_object_get(s->mj, "read_back");
  return json_array_size(rb) ? rb : NULL;
}

static void send_read_back(sync_t *s, struct op *o) {
  char err[256] = "";
  const json_t *rb = rb_templates(s, o);
  o->rb_sent = 1;
  s->st.read_backs++;
  if (rb && send_templates(s, rb, o->vars, err, sizeof err))
    log_msg(&s->log, LOG_WARN, MOD, "%s: read-back: %s", o->tool, err);
}

static void call_send(sync_t *s, struct op *o) {
  char err[256] = "";
  json_t *vars = o->vars;
  json_object_set_new(vars, "tempo", json_real(session_tempo(s->ses)));
  int rc = send_templates(s, o->send, vars, err, sizeof err);
  if (!rc) rc = send_templates(s, o->query, vars, err, sizeof err);
  if (rc) {
    finish(s, o, rc, NULL, "%s: %s", o->tool, err);
    return;
  }
  o->heard_at_send = s->heard;
  o->rb_sent = 0;
  if (o->create) o->create_sends++;
  if (o->create && !json_array_size(o->confirm) && json_array_size(o->later)) {
    /* a send-only create step (Ardour's /add_marker): the steps after it read the object back */
    o->seq_create = 1;
    uv_timer_stop(&s->op_timer);
    call_confirmed(s, o, "confirmed");
    return;
  }
  /* the mirror already shows the value, or this is a resend (the first change's feedback may have been lost): the
   * DAW will not report a change (REAPER sends changes only), so ask it to report the state again at once; only
   * that fresh word confirms */
  if ((o->pre || o->attempts > 1) && !o->create && rb_templates(s, o)) send_read_back(s, o);
  arm(s, o->step_confirm_ms > s->confirm_ms ? o->step_confirm_ms : s->confirm_ms);
}

static void call_start(sync_t *s, struct op *o) {
  op_enter(s, o, ST_CALL_SENT);
  o->attempts = 1;
  o->heard_at_start = s->heard;
  if (o->unconfirmable) {
    char err[256] = "";
    int rc = send_templates(s, o->send, o->vars, err, sizeof err);
    if (rc) {
      finish(s, o, rc, NULL, "%s: %s", o->tool, err);
      return;
    }
    json_t *res;
    if (json_array_size(o->send) == 0) {
      res =
          json_pack("{sssss{so}}", "tool", o->tool, "status", "confirmed", "state", "session", session_to_json(s->ses));
    } else {
      res = json_pack("{sssssiss}", "tool", o->tool, "status", "uncertain", "attempts", 1, "reason", o->unconfirmable);
    }
    finish(s, o, 0, res, NULL);
    json_decref(res);
    return;
  }
  if (o->range_key[0]) {
    char err[256] = "";
    int rc = send_templates(s, o->query, o->vars, err, sizeof err);
    if (rc) {
      finish(s, o, rc, NULL, "%s: %s", o->tool, err);
      return;
    }
    arm(s, s->confirm_ms);
    return;
  }
  step_begin(s, o);
}

/* A range arrived for the parameter a call waits on: now it can convert and send. */
static void range_arrived(sync_t *s, struct op *o) {
  json_t *r = json_object_get(s->param_ranges, o->range_key);
  if (!r) return;
  json_object_set(o->vars, "param_min", json_array_get(r, 0));
  json_object_set(o->vars, "param_max", json_array_get(r, 1));
  o->range_key[0] = 0;
  uv_timer_stop(&s->op_timer);
  o->pre = preds_mask(s, o);
  o->fresh = 0;
  call_send(s, o);
}

static void op_start(sync_t *s, struct op *o) {
  o->t0 = uv_now(s->loop);
  if (o->error) {
    op_enter(s, o, ST_CALL_SENT);
    finish(s, o, o->error, NULL, "%s", o->errmsg);
    return;
  }
  if (o->kind == OP_REFRESH)
    refresh_start(s, o);
  else
    call_start(s, o);
}

static int preds_hold(sync_t *s, struct op *o, const json_t *preds) {
  char why[256];
  size_t i;
  json_t *p;
  json_array_foreach(preds, i, p) {
    if (!pred_holds(s, o, p, why, sizeof why)) return 0;
  }
  return 1;
}

static void call_confirmed(sync_t *s, struct op *o, const char *status);

/* Sends the current step, unless the DAW already is where the step would take it (a toggle already on). */
static void step_begin(sync_t *s, struct op *o) {
  if (json_array_size(o->skip_if) && preds_hold(s, o, o->skip_if)) {
    /* a toggle the mirror shows as already on: sending would flip it. Skipped on the mirror's word, which is not
     * a fresh read: the call can at best be "uncertain" */
    o->skipped_stale = 1;
    call_confirmed(s, o, "confirmed");
    return;
  }
  o->pre = preds_mask(s, o);
  o->fresh = 0;
  call_send(s, o);
}

/* Forgets the current step of a sequence (what it sends, asks, confirms and heard) before the next is added. */
static void step_clear(struct op *o) {
  json_array_clear(o->send);
  json_array_clear(o->query);
  json_array_clear(o->confirm);
  json_decref(o->events);
  o->events = NULL;
  json_decref(o->skip_if);
  o->skip_if = NULL;
  json_decref(o->read_back);
  o->read_back = NULL;
  o->create = 0;
  o->step_confirm_ms = 0;
}

/* The current step holds: send the next step of a sequence, or report the call. */
static void call_confirmed(sync_t *s, struct op *o, const char *status) {
  if (json_array_size(o->later)) {
    json_t *st = json_incref(json_array_get(o->later, 0));
    json_array_remove(o->later, 0);
    step_clear(o);
    add_step(o, st);
    json_decref(st);
    uv_timer_stop(&s->op_timer);
    o->attempts = 1;
    step_begin(s, o);
    return;
  }
  if (o->skipped_stale) status = "uncertain";
  json_t *res = json_pack("{sssssisI}", "tool", o->tool, "status", status, "attempts", o->attempts, "ms",
                          (json_int_t)(uv_now(s->loop) - o->t0));
  if (o->track_id[0]) json_object_set_new(res, "track_id", json_string(o->track_id));
  if (o->pre && !strcmp(status, "confirmed")) json_object_set_new(res, "unchanged", json_true());
  if (o->skipped_stale)
    json_object_set_new(res, "reason",
                        json_string("a step was skipped because the mirror showed it done; the DAW "
                                    "did not report that state again"));
  finish(s, o, 0, res, NULL);
  json_decref(res);
}

/* Runs a sequence from its first step again: the steps before a create set it up (Ardour: locate, then add where
 * the playhead is), so a create is only ever resent together with them. */
static void restart_sequence(sync_t *s, struct op *o) {
  json_decref(o->later);
  o->later = json_array();
  for (size_t k = 1; k < json_array_size(o->seq); k++) json_array_append(o->later, json_array_get(o->seq, k));
  step_clear(o);
  json_decref(o->seen);
  o->seen = NULL;
  o->seq_create = 0;
  o->attempts = 1;
  add_step(o, json_array_get(o->seq, 0));
  step_begin(s, o);
}

/* Sent, and the DAW's word did not settle it: "uncertain" (status 0), never success. A step of a sequence goes on
 * (the later steps may still be confirmed), and the call ends uncertain. */
static void call_uncertain(sync_t *s, struct op *o, int unchanged, const char *fmt, ...) {
  char why[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  log_msg(&s->log, LOG_WARN, MOD, "%s: uncertain: %s", o->tool, why);
  if (json_array_size(o->later)) {
    o->skipped_stale = 1;
    call_confirmed(s, o, "confirmed");
    return;
  }
  json_t *res = json_pack("{sssssisIss}", "tool", o->tool, "status", "uncertain", "attempts", o->attempts, "ms",
                          (json_int_t)(uv_now(s->loop) - o->t0), "reason", why);
  if (o->track_id[0]) json_object_set_new(res, "track_id", json_string(o->track_id));
  if (unchanged) json_object_set_new(res, "unchanged", json_true());
  finish(s, o, 0, res, NULL);
  json_decref(res);
}

/* A create sent as often as the retries allow, and each read-back shows it absent: the call failed. */
static void fail_absent(sync_t *s, struct op *o, const char *why) {
  finish(s, o, SYNC_ETIMEDOUT, NULL, "%s failed: sent %d times, and each time the DAW's read-back shows it absent (%s)",
         o->tool, o->create_sends, why);
}

static void on_op_timeout(uv_timer_t *t) {
  sync_t *s = t->data;
  struct op *o = s->head;
  if (!o) return;
  int retries = s->retries;
  if (o->kind == OP_REFRESH) {
    uint64_t now = uv_now(s->loop);
    /* a hard deadline for the whole refresh, however the DAW trickles: 60 s + 60 ms per track */
    uint64_t cap =
        60000 + 60 * (uint64_t)(o->ntracks > session_track_count(s->ses) ? o->ntracks : session_track_count(s->ses));
    if (now - o->t0 > cap) {
      char msg[256];
      snprintf(msg, sizeof msg, "the DAW at %s:%d did not complete the refresh in %llu s (%s phase)",
               s->cfg.daw_host ? s->cfg.daw_host : "127.0.0.1", s->cfg.daw_port, (unsigned long long)(cap / 1000),
               op_state_name[o->state]);
      refresh_fail(s, o, SYNC_EUNREACHABLE, msg);
      return;
    }
    int wait = o->state == ST_REFRESH_PLUGINS ? plugin_round_ms(s) : s->step_ms;
    if ((o->state == ST_REFRESH_LIST || o->state == ST_REFRESH_PLUGINS) && o->progress_at &&
        now - o->progress_at < (uint64_t)wait) {
      /* the DAW is still answering (a big session): the deadline counts from its last progress */
      arm(s, wait - (int)(now - o->progress_at));
      return;
    }
    if (o->state == ST_REFRESH_PLUGINS) {
      /* each round asks only for the lists still missing: cheap, so more rounds than a call's retries */
      if (++o->rounds > 2 * retries + 2) {
        char miss[160] = "";
        int nmiss = 0;
        for (int k = 1; k <= o->ntracks; k++) {
          if (o->got[k]) continue;
          if (nmiss++ < 8) snprintf(miss + strlen(miss), sizeof miss - strlen(miss), "%s%d", nmiss > 1 ? ", " : "", k);
        }
        char msg[320];
        snprintf(msg, sizeof msg,
                 "the DAW did not answer the plugin-list query of %d of %d tracks (track %s%s) after %d "
                 "rounds",
                 nmiss, o->ntracks, miss, nmiss > 8 ? ", ..." : "", o->rounds);
        refresh_fail(s, o, SYNC_EUNREACHABLE, msg);
        return;
      }
      s->st.resends++;
      log_msg(&s->log, LOG_INFO, MOD, "plugin lists: %d of %d answered, asking again for the rest (round %d)",
              o->answered, o->ntracks, o->rounds + 1);
      o->next_q = 1;
      o->inflight = 0;
      o->progress_at = now;
      refresh_step_send(s, o);
      arm(s, plugin_round_ms(s));
      return;
    }
    if (o->state == ST_REFRESH_COUNT && o->zero_seen && o->last_seen == s->bank_start && o->attempts <= retries) {
      /* only the reset's "slot 0" came back: an empty project, or the clamp's answer was lost. Ask again (soon)
       * before believing the session is empty */
      o->attempts++;
      s->st.resends++;
      refresh_step_send(s, o);
      arm(s, s->confirm_ms);
      return;
    }
    if (o->state == ST_REFRESH_COUNT && o->zero_seen) {
      /* only 0 or the bank start came back (REAPER sends a number only when it changed): that is the count */
      s->expect_count = 0;
      o->count = o->last_seen;
      o->nbanks = nbanks_for(o->count, s->bank_size);
      o->bank = 1;
      refresh_enter(s, o, ST_REFRESH_BANKS);
      return;
    }
    if (o->state == ST_REFRESH_BANKS && o->attempts > retries && ++o->restarts <= 3) {
      /* the count never came back as expected: the track list changed while paging; count again */
      refresh_enter(s, o, ST_REFRESH_COUNT);
      return;
    }
    /* the list's entries accumulate over attempts (only what is missing matters): more attempts than a call's */
    if (o->attempts > (o->state == ST_REFRESH_LIST && s->heard != o->heard_at_start ? 2 * retries + 2 : retries)) {
      const char *what = o->state == ST_REFRESH_COUNT || (o->state == ST_REFRESH_LIST && s->heard == 0)
                             ? "no answer from the DAW"
                             : "the DAW stopped answering during the refresh";
      char msg[256];
      const char *host = s->cfg.daw_host ? s->cfg.daw_host : "127.0.0.1";
      snprintf(msg, sizeof msg, "%s at %s:%d (%s query, %d attempts)", what, host, s->cfg.daw_port,
               op_state_name[o->state], o->attempts);
      /* an incomplete sync is "the DAW is not answering", never a reason to call a track unknown */
      refresh_fail(s, o, SYNC_EUNREACHABLE, msg);
      return;
    }
    o->attempts++;
    s->st.resends++;
    o->progress_at = 0;
    refresh_step_send(s, o);
    arm(s, s->step_ms);
    return;
  }
  if (o->range_key[0]) {
    if (o->attempts > retries) {
      finish(s, o, SYNC_EINVAL, NULL,
             "%s: the DAW did not describe parameter %s (track/effect/parameter): does it exist?", o->tool,
             o->range_key);
      return;
    }
    o->attempts++;
    char err[256] = "";
    send_templates(s, o->query, o->vars, err, sizeof err);
    arm(s, s->confirm_ms);
    return;
  }
  char why[256] = "";
  int holds = 1, failing = -1;
  size_t i;
  json_t *p;
  json_array_foreach(o->confirm, i, p) {
    if (!pred_holds(s, o, p, why, sizeof why)) {
      holds = 0;
      failing = (int)i;
      break;
    }
  }
  const json_t *rb = rb_templates(s, o);
  if (holds) {
    if (!(o->pre & ~o->fresh)) {
      call_confirmed(s, o, "confirmed");
      return;
    }
    /* the mirror showed the value before the request and the DAW has not said it again */
    if (rb && !o->rb_sent) {
      send_read_back(s, o);
      arm(s, s->confirm_ms);
      return;
    }
    call_uncertain(s, o, 1, "the value was already so in the mirror and the DAW did not report it again");
    return;
  }
  int fresh_fail = failing >= 0 && failing < 32 && ((o->fresh >> failing) & 1);
  if (!fresh_fail && o->seq_create && failing >= 0) {
    /* a read-back step after a create: the DAW reported this field earlier in the call (e.g. the playhead moved
     * away) and nothing since says otherwise */
    const char *ff = json_string_value(json_object_get(json_array_get(o->confirm, (size_t)failing), "field"));
    fresh_fail = ff && json_is_true(json_object_get(o->seen, ff));
  }
  if (o->create) {
    /* never resend a create blindly: read the state back first, resend only if the DAW shows it absent */
    if (rb && !o->rb_sent) {
      o->fresh = 0; /* only what the DAW says after the read-back decides "absent" */
      send_read_back(s, o);
      arm(s, o->step_confirm_ms > s->confirm_ms ? o->step_confirm_ms : s->confirm_ms);
      return;
    }
    if (o->rb_sent && fresh_fail) {
      if (o->create_sends <= retries) {
        o->attempts++;
        s->st.resends++;
        log_msg(&s->log, LOG_INFO, MOD, "%s: the read-back shows it absent (%s): sending again (attempt %d)", o->tool,
                why, o->create_sends + 1);
        o->fresh = 0;
        if (json_array_size(o->seq) > 1) {
          restart_sequence(s, o);
          return;
        }
        call_send(s, o);
        return;
      }
      fail_absent(s, o, why);
      return;
    }
    call_uncertain(s, o, 0, "sent once; the DAW neither confirmed it nor answered the read-back (%s)", why);
    return;
  }
  if (o->attempts > retries) {
    if (fresh_fail && o->seq_create) {
      /* the read-back shows the created object absent: only now may the create be sent again */
      if (o->create_sends <= retries) {
        s->st.resends++;
        log_msg(&s->log, LOG_INFO, MOD, "%s: the read-back shows it absent (%s): running it again (attempt %d)",
                o->tool, why, o->create_sends + 1);
        restart_sequence(s, o);
        return;
      }
      fail_absent(s, o, why);
      return;
    }
    if (fresh_fail) {
      finish(s, o, SYNC_ETIMEDOUT, NULL, "%s failed: the DAW reports otherwise after %d attempts: %s", o->tool,
             o->attempts, why);
      return;
    }
    if (s->heard == o->heard_at_start && link_refused_since(s, o->t0)) {
      const char *host = s->cfg.daw_host ? s->cfg.daw_host : "127.0.0.1";
      finish(s, o, SYNC_EUNREACHABLE, NULL, "%s: nothing is listening at %s:%d (is the DAW running with OSC on?)",
             o->tool, host, s->cfg.daw_port);
      return;
    }
    call_uncertain(s, o, 0, "sent %d times, no word from the DAW about it (%s)%s", o->attempts, why,
                   s->heard == o->heard_at_start ? "; the DAW sent nothing at all" : "");
    return;
  }
  o->attempts++;
  s->st.resends++;
  log_msg(&s->log, LOG_INFO, MOD, "%s not confirmed yet (%s): resending (attempt %d)", o->tool, why, o->attempts);
  call_send(s, o);
}

/* ---- building calls from the map ---- */

static struct op *op_error(int code, const char *fmt, ...) {
  struct op *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->kind = OP_CALL;
  o->error = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->errmsg, sizeof o->errmsg, fmt, ap);
  va_end(ap);
  return o;
}

/* Adds one step's send/query/confirm to the op. */
static void add_step(struct op *o, const json_t *st) {
  json_t *sk = json_object_get(st, "skip_if");
  if (sk) {
    if (!o->skip_if) o->skip_if = json_array();
    append_all(o->skip_if, sk);
  }
  append_all(o->send, json_object_get(st, "send"));
  append_all(o->query, json_object_get(st, "query"));
  append_all(o->confirm, json_object_get(st, "confirm"));
  const char *un = json_string_value(json_object_get(st, "unconfirmable"));
  if (un) o->unconfirmable = un;
  if (json_is_true(json_object_get(st, "create"))) o->create = 1;
  json_int_t cms = json_integer_value(json_object_get(st, "confirm_timeout_ms"));
  if (cms > 0 && cms <= 60000) o->step_confirm_ms = (int)cms;
  json_t *rb = json_object_get(st, "read_back");
  if (json_is_array(rb)) {
    if (!o->read_back) o->read_back = json_array();
    append_all(o->read_back, rb);
  }
}

/* A step, or a "sequence" of steps whose first is loaded now and the rest confirmed one after another. */
static void load_steps(struct op *o, const json_t *st) {
  const json_t *seq = json_object_get(st, "sequence");
  if (!json_is_array(seq)) {
    add_step(o, st);
    return;
  }
  json_decref(o->seq);
  o->seq = json_incref((json_t *)seq);
  add_step(o, json_array_get(seq, 0));
  if (!o->later) o->later = json_array();
  for (size_t i = 1; i < json_array_size(seq); i++) json_array_append(o->later, json_array_get(seq, i));
}

static int uses_range(const json_t *tpl) {
  char *d = json_dumps(tpl, JSON_COMPACT);
  int r = d && strstr(d, "norm_to_range") != NULL;
  free(d);
  return r;
}

static struct op *build_call(sync_t *s, const char *tool, const json_t *args) {
  const json_t *entry = oscmap_tool(s->map, tool);
  const json_t *caps = json_object_get(s->mj, "capabilities");
  if (!entry) {
    const char *why = json_string_value(json_object_get(json_object_get(caps, "unavailable"), tool));
    return op_error(SYNC_ENOTOOL, "%s: not available in the %s dialect%s%s", tool, oscmap_dialect(s->map),
                    why ? ": " : "", why ? why : "");
  }
  if (args && !json_is_object(args)) return op_error(SYNC_EINVAL, "%s: arguments must be a JSON object", tool);
  struct op *o = calloc(1, sizeof *o);
  if (!o) return NULL;
  o->kind = OP_CALL;
  o->tool = strdup(tool);
  o->send = json_array();
  o->query = json_array();
  o->confirm = json_array();
  o->vars = base_vars(s);
  if (args) json_object_update(o->vars, (json_t *)args);
  const char *targ = json_string_value(json_object_get(entry, "track_arg"));
  int banked = json_is_true(json_object_get(entry, "banked")) && s->banked;
  if (targ) {
    json_t *ref = json_object_get(args, targ);
    char buf[32];
    const char *r = json_string_value(ref);
    if (json_is_integer(ref)) {
      snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(ref));
      r = buf;
    }
    if (!r) {
      op_free(o);
      return op_error(SYNC_EINVAL, "%s: missing argument '%s' (a track id such as t1, or a track name)", tool, targ);
    }
    int pos = session_track_resolve(s->ses, r);
    if (!pos && json_is_integer(ref) && json_integer_value(ref) >= 1 &&
        json_integer_value(ref) <= session_track_count(s->ses))
      pos = (int)json_integer_value(ref);
    if (!pos) {
      op_free(o);
      return op_error(SYNC_ENOTRACK, "%s: unknown track '%s' (the session has %d tracks; see `dawbridge state`)", tool,
                      r, session_track_count(s->ses));
    }
    o->track = pos;
    snprintf(o->track_id, sizeof o->track_id, "%s", session_track_id(s->ses, pos));
    json_object_set_new(o->vars, "track", json_integer(pos));
    int slot = pos;
    if (banked) {
      int bank = (pos - 1) / s->bank_size + 1;
      int start = (bank - 1) * s->bank_size;
      slot = pos - start;
      json_object_set_new(o->vars, "bank", json_integer(bank));
      if (start != s->bank_start) {
        /* address the track's bank first; REAPER processes messages in order */
        append_all(o->send, json_object_get(json_object_get(s->mj, "banking"), "select"));
        s->bank_start = start;
      }
    }
    json_object_set_new(o->vars, "slot", json_integer(slot));
    json_object_set_new(o->vars, "ssid", json_integer(pos));
  }
  if (json_is_true(json_object_get(entry, "local"))) {
    o->unconfirmable = NULL;
    return o; /* get_state: answered from the mirror in sync_call */
  }
  const json_t *fields = json_object_get(entry, "fields");
  const json_t *variants = json_object_get(entry, "variants");
  const json_t *native = json_object_get(entry, "native");
  if (fields) {
    const char *k;
    json_t *st;
    int any = 0;
    json_object_foreach((json_t *)fields, k, st) {
      if (!json_object_get(args, k)) continue;
      add_step(o, st);
      any = 1;
    }
    if (!any) {
      char names[256] = "";
      json_object_foreach((json_t *)fields, k, st) {
        strncat(names, names[0] ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, k, sizeof names - strlen(names) - 1);
      }
      op_free(o);
      return op_error(SYNC_EINVAL, "%s: nothing to change; give at least one of: %s", tool, names);
    }
  } else if (variants) {
    const char *by = json_string_value(json_object_get(entry, "by"));
    json_t *v = json_object_get(args, by);
    const char *key = json_is_string(v)  ? json_string_value(v)
                      : json_is_true(v)  ? "true"
                      : json_is_false(v) ? "false"
                                         : NULL;
    const json_t *st = key ? json_object_get(variants, key) : NULL;
    if (!st) {
      char names[256] = "";
      const char *k;
      json_t *x;
      json_object_foreach((json_t *)variants, k, x) {
        strncat(names, names[0] ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, k, sizeof names - strlen(names) - 1);
      }
      op_free(o);
      return op_error(SYNC_EINVAL, "%s: '%s' must be one of: %s", tool, by, names);
    }
    load_steps(o, st);
  } else if (json_is_array(json_object_get(entry, "sequence"))) {
    load_steps(o, entry);
  } else if (native) {
    add_step(o, native);
    if (json_is_string(json_object_get(native, "identify"))) {
      o->kind = OP_REFRESH;
      o->identify_new = 1;
      const char *name = json_string_value(json_object_get(args, "name"));
      if (name) o->then_name = strdup(name);
    }
  } else {
    add_step(o, entry);
  }
  if (vocab_lookup(tool) == VOCAB_ADD_MARKER && !json_object_get(o->vars, "marker")) {
    /* REAPER creates a marker for a number that does not exist yet: take the next free one */
    json_t *st = session_to_json(s->ses);
    json_int_t mx = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(st, "markers"), i, m) {
      json_int_t n = json_integer_value(json_object_get(m, "number"));
      if (n > mx) mx = n;
    }
    json_decref(st);
    json_object_set_new(o->vars, "marker", json_integer(mx + 1));
  }
  if (uses_range(o->send) && o->track) {
    char key[48];
    snprintf(key, sizeof key, "%d/%d/%d", o->track, (int)json_integer_value(json_object_get(args, "effect_index")),
             (int)json_integer_value(json_object_get(args, "param_index")));
    json_t *r = json_object_get(s->param_ranges, key);
    if (r) {
      json_object_set(o->vars, "param_min", json_array_get(r, 0));
      json_object_set(o->vars, "param_max", json_array_get(r, 1));
    } else {
      /* ask the DAW first (call_start sends the query and waits for the range) */
      snprintf(o->range_key, sizeof o->range_key, "%s", key);
      json_object_set_new(o->vars, "param_min", json_real(0));
      json_object_set_new(o->vars, "param_max", json_real(1));
    }
  }
  /* render once now so a missing argument is reported before anything is sent */
  char err[256] = "";
  char *paths[MAX_MSGS];
  lo_message msgs[MAX_MSGS];
  json_t *all = json_array();
  append_all(all, o->send);
  append_all(all, o->query);
  size_t li;
  json_t *lst;
  json_array_foreach(o->later, li, lst) {
    append_all(all, json_object_get(lst, "send"));
    append_all(all, json_object_get(lst, "query"));
  }
  int n = oscmap_render(s->map, all, o->vars, paths, msgs, MAX_MSGS, err, sizeof err);
  json_decref(all);
  if (n < 0) {
    op_free(o);
    return op_error(SYNC_EINVAL, "%s: %s", tool, err);
  }
  for (int i = 0; i < n; i++) {
    free(paths[i]);
    lo_message_free(msgs[i]);
  }
  return o;
}

static void enqueue_front(sync_t *s, struct op *o) {
  o->next = s->head;
  s->head = o;
  if (!s->tail) s->tail = o;
}

struct create_ctx {
  sync_cb cb;
  void *data;
  char track_id[16];
  int attempts;
  uint64_t t0;
};

static void on_created_renamed(int status, const json_t *result, const char *message, void *data) {
  struct create_ctx *c = data;
  if (status) {
    if (c->cb) c->cb(status, NULL, message, c->data);
  } else {
    json_t *res = json_pack("{sssssssi}", "tool", "create_track", "status", "confirmed", "track_id", c->track_id,
                            "attempts", (int)json_integer_value(json_object_get(result, "attempts")));
    if (c->cb) c->cb(0, res, NULL, c->data);
    json_decref(res);
  }
  free(c);
}

static void refresh_start(sync_t *s, struct op *o);

static void create_identified(sync_t *s, struct op *o) {
  if (!o->track) {
    int now = session_track_count(s->ses);
    if (now == o->old_count && o->create_tries <= s->retries) {
      /* the read-back (a full refresh) shows no new track: the insert did not arrive, so sending it again cannot
       * make a duplicate */
      s->st.resends++;
      log_msg(&s->log, LOG_INFO, MOD, "create_track: the DAW shows no new track: sending the insert again (attempt %d)",
              o->create_tries + 1);
      op_enter(s, o, ST_QUEUED);
      refresh_start(s, o);
      return;
    }
    if (now == o->old_count) {
      finish(s, o, SYNC_ETIMEDOUT, NULL, "create_track failed: after %d attempts the DAW shows no new track (still %d)",
             o->create_tries, now);
      return;
    }
    json_t *res =
        json_pack("{sssssiss}", "tool", "create_track", "status", "uncertain", "attempts", o->create_tries, "reason",
                  "the DAW's track count changed, but not by exactly one new, selected track: "
                  "cannot tell which track is the new one");
    log_msg(&s->log, LOG_WARN, MOD, "create_track: uncertain (had %d tracks, now %d)", o->old_count, now);
    finish(s, o, 0, res, NULL);
    json_decref(res);
    return;
  }
  const char *id = session_track_id(s->ses, o->track);
  const char *type = json_string_value(json_object_get(o->vars, "type"));
  if (type) {
    struct session_update u = {.field = SF_TRACK_TYPE, .index = o->track, .str = type};
    session_apply(s->ses, &u, NULL, 0);
  }
  log_msg(&s->log, LOG_INFO, MOD, "track created: %s at position %d", id, o->track);
  if (!o->then_name) {
    json_t *res = json_pack("{sssssssi}", "tool", "create_track", "status", "confirmed", "track_id", id, "attempts", 1);
    finish(s, o, 0, res, NULL);
    json_decref(res);
    return;
  }
  json_t *args = json_pack("{ssss}", "track_id", id, "name", o->then_name);
  struct op *r = build_call(s, "set_track", args);
  json_decref(args);
  struct create_ctx *c = calloc(1, sizeof *c);
  c->cb = o->cb;
  c->data = o->data;
  snprintf(c->track_id, sizeof c->track_id, "%s", id);
  r->cb = on_created_renamed;
  r->data = c;
  o->cb = NULL;
  finish(s, o, 0, NULL, NULL); /* removes the create op; the rename runs next */
  enqueue_front(s, r);
  kick_queue(s);
}

/* ---- public API ---- */

int sync_call(sync_t *s, const char *tool, const json_t *args, sync_cb cb, void *data) {
  if (s->closing) return SYNC_ECANCELED;
  struct op *o = build_call(s, tool, args);
  if (!o) return SYNC_ENOMEM;
  if (!o->error && json_is_true(json_object_get(oscmap_tool(s->map, tool), "local"))) {
    /* get_state: the mirror itself, delivered on the next turn like every other result */
    o->unconfirmable = "the mirror";
    json_decref(o->send);
    o->send = json_array();
  }
  o->cb = cb;
  o->data = data;
  enqueue(s, o);
  return 0;
}

int sync_refresh(sync_t *s, sync_cb cb, void *data) {
  if (s->closing) return SYNC_ECANCELED;
  struct op *o = calloc(1, sizeof *o);
  if (!o) return SYNC_ENOMEM;
  o->kind = OP_REFRESH;
  o->cb = cb;
  o->data = data;
  enqueue(s, o);
  return 0;
}

static void send_connect(sync_t *s) {
  char err[256] = "";
  json_t *vars = base_vars(s);
  if (send_templates(s, json_object_get(s->mj, "connect"), vars, err, sizeof err))
    log_msg(&s->log, LOG_WARN, MOD, "connect: %s", err);
  json_decref(vars);
}

int sync_start(sync_t *s, sync_cb cb, void *data) {
  send_connect(s);
  return sync_refresh(s, cb, data);
}

static void on_link_event(enum link_event ev, void *data) {
  sync_t *s = data;
  if (ev == LINK_EVENT_LOST) {
    s->lost = 1;
    s->st.lost_events++;
    log_msg(&s->log, LOG_WARN, MOD, "lost the DAW: no message for %d ms", s->cfg.silence_ms);
  } else if (ev == LINK_EVENT_REFUSED) {
    s->refused_at = uv_now(s->loop);
    struct op *o = s->head;
    /* nothing listens at the DAW's port: an operation that has heard nothing from the DAW ends now, clearly */
    if (o && o->state != ST_QUEUED && s->heard == o->heard_at_start) {
      const char *host = s->cfg.daw_host ? s->cfg.daw_host : "127.0.0.1";
      if (o->kind == OP_REFRESH) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "no answer from the DAW: nothing is listening at %s:%d (is it running, with OSC on "
                 "and this port?)",
                 host, s->cfg.daw_port);
        refresh_fail(s, o, SYNC_EUNREACHABLE, msg);
      } else {
        finish(s, o, SYNC_EUNREACHABLE, NULL, "%s: nothing is listening at %s:%d (is the DAW running, with OSC on?)",
               o->tool, host, s->cfg.daw_port);
      }
    }
  } else if (ev == LINK_EVENT_CONNECTED && s->lost) {
    s->lost = 0;
    log_msg(&s->log, LOG_INFO, MOD, "the DAW is back: reconnecting and refreshing the mirror");
    send_connect(s);
    sync_refresh(s, NULL, NULL);
  }
}

static void on_probe(void *data) {
  sync_t *s = data;
  if (s->head) return; /* an operation is talking to the DAW already */
  char err[256] = "";
  json_t *vars = base_vars(s);
  /* after a restart the DAW forgot our registration (Ardour replies to port 8000 again): re-register */
  if (s->lost) send_connect(s);
  s->expect_count = 1;
  if (send_templates(s, json_object_get(s->mj, "probe"), vars, err, sizeof err))
    log_msg(&s->log, LOG_WARN, MOD, "probe: %s", err);
  json_decref(vars);
}

static void on_refresh_timer(uv_timer_t *t) {
  sync_t *s = t->data;
  if (!s->head) sync_refresh(s, NULL, NULL);
}

static int cfg_int(int v, int def) { return v >= 0 ? v : def; }

int sync_new(uv_loop_t *loop, oscmap_t *map, session_t *session, const struct sync_config *cfg, sync_t **out, char *err,
             size_t errlen) {
  *out = NULL;
  sync_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return SYNC_ENOMEM;
  }
  s->loop = loop;
  s->map = map;
  s->ses = session;
  s->cfg = *cfg;
  s->log = cfg->log;
  s->mj = oscmap_json(map);
  const json_t *ports = json_object_get(s->mj, "ports");
  if (!s->cfg.daw_port) s->cfg.daw_port = (int)json_integer_value(json_object_get(ports, "daw"));
  if (s->cfg.listen_port < 0) s->cfg.listen_port = (int)json_integer_value(json_object_get(ports, "listen"));
  s->confirm_ms = cfg_int(cfg->confirm_timeout_ms, (int)oscmap_timing(map, "confirm_timeout_ms", 300));
  s->retries = cfg_int(cfg->retries, (int)oscmap_timing(map, "retries", 3));
  s->step_ms = (int)oscmap_timing(map, "refresh_step_timeout_ms", 1500);
  s->refresh_ms = cfg_int(cfg->refresh_interval_ms, (int)oscmap_timing(map, "refresh_interval_ms", 30000));
  s->cfg.silence_ms = cfg_int(cfg->silence_ms, (int)oscmap_timing(map, "silence_ms", 3000));
  s->cfg.probe_ms = cfg_int(cfg->probe_ms, (int)oscmap_timing(map, "probe_ms", 1000));
  const json_t *bank = json_object_get(s->mj, "banking");
  s->banked = bank != NULL;
  s->bank_size = cfg->bank_size > 0 ? cfg->bank_size
                 : bank             ? (int)json_integer_value(json_object_get(bank, "size"))
                                    : 1 << 30;
  s->sample_rate = 48000;
  s->marker_slots = json_object();
  s->param_ranges = json_object();
  size_t fi;
  json_t *fe;
  json_array_foreach(json_object_get(s->mj, "feedback"), fi, fe) {
    const char *set = json_string_value(json_object_get(fe, "set"));
    if ((set && !strcmp(set, "track.type")) || json_object_get(json_object_get(fe, "fields"), "type"))
      s->reports_type = 1;
  }
  struct link_config lc = {.daw_host = s->cfg.daw_host,
                           .daw_port = s->cfg.daw_port,
                           .listen_host = s->cfg.listen_host,
                           .listen_port = s->cfg.listen_port,
                           .silence_ms = s->cfg.silence_ms,
                           .probe_ms = s->cfg.probe_ms ? s->cfg.probe_ms : -1,
                           /* the map may say its DAW replies from another socket than the one it listens on */
                           .any_source_port = json_is_true(json_object_get(ports, "reply_from_any_port"))};
  struct link_callbacks lcb = {.on_message = on_message, .on_event = on_link_event, .on_probe = on_probe, .data = s};
  int rc = link_new(loop, &lc, &lcb, &s->link, err, errlen);
  if (rc) {
    json_decref(s->marker_slots);
    json_decref(s->param_ranges);
    free(s);
    return SYNC_ELINK;
  }
  uv_timer_init(loop, &s->op_timer);
  uv_timer_init(loop, &s->refresh_timer);
  uv_timer_init(loop, &s->kick);
  s->op_timer.data = s->refresh_timer.data = s->kick.data = s;
  if (s->refresh_ms > 0)
    uv_timer_start(&s->refresh_timer, on_refresh_timer, (uint64_t)s->refresh_ms, (uint64_t)s->refresh_ms);
  *out = s;
  return SYNC_OK;
}

int sync_send(sync_t *s, const json_t *templates, const json_t *vars, char *err, size_t errlen) {
  if (!s || s->closing) return SYNC_ECANCELED;
  if (!json_is_array(templates) || !json_array_size(templates)) return SYNC_OK;
  json_t *v = base_vars(s);
  if (json_is_object(vars)) json_object_update(v, (json_t *)vars);
  int rc = send_templates(s, templates, v, err, errlen);
  json_decref(v);
  return rc;
}

int sync_set_event_handler(sync_t *s, const char *event, sync_event_cb cb, void *data) {
  if (!s || !event || strlen(event) >= sizeof s->handlers[0].name) return SYNC_EINVAL;
  int free_slot = -1;
  for (int h = 0; h < 4; h++) {
    if (s->handlers[h].name[0] && !strcmp(s->handlers[h].name, event)) {
      s->handlers[h].cb = cb;
      s->handlers[h].data = data;
      if (!cb) s->handlers[h].name[0] = 0;
      return SYNC_OK;
    }
    if (!s->handlers[h].name[0] && free_slot < 0) free_slot = h;
  }
  if (!cb) return SYNC_OK;
  if (free_slot < 0) return SYNC_EINVAL;
  snprintf(s->handlers[free_slot].name, sizeof s->handlers[free_slot].name, "%s", event);
  s->handlers[free_slot].cb = cb;
  s->handlers[free_slot].data = data;
  return SYNC_OK;
}

int sync_listen_port(const sync_t *s) { return link_listen_port(s->link); }
void sync_inject(sync_t *s, const void *datagram, size_t len) { link_inject(s->link, datagram, len); }
int sync_set_daw(sync_t *s, const char *host, int port) {
  s->cfg.daw_port = port;
  return link_set_daw(s->link, host, port) ? SYNC_EINVAL : SYNC_OK;
}
int sync_is_connected(const sync_t *s) { return link_is_connected(s->link); }
session_t *sync_session(sync_t *s) { return s->ses; }
const oscmap_t *sync_map(const sync_t *s) { return s->map; }
void sync_get_stats(const sync_t *s, struct sync_stats *st) {
  *st = s->st;
  struct link_stats ls;
  link_get_stats(s->link, &ls);
  st->foreign = ls.foreign;
  st->refused = ls.refused;
}

static void on_closed(uv_handle_t *h) {
  sync_t *s = h->data;
  if (--s->pending) return;
  void (*cb)(void *) = s->close_cb;
  void *data = s->close_data;
  json_decref(s->marker_slots);
  json_decref(s->param_ranges);
  free(s->device_name);
  free(s);
  if (cb) cb(data);
}

static void on_link_closed(void *data) { on_closed((uv_handle_t *)&((sync_t *)data)->kick); }

void sync_close(sync_t *s, void (*cb)(void *data), void *data) {
  if (!s || s->closing) return;
  s->closing = 1;
  s->close_cb = cb;
  s->close_data = data;
  while (s->head) {
    struct op *o = s->head;
    s->head = o->next;
    if (o->cb) o->cb(SYNC_ECANCELED, NULL, "canceled: the bridge is shutting down", o->data);
    op_free(o);
  }
  s->tail = NULL;
  /* Say goodbye while the socket is open: Ardour 7.3 keeps a feedback surface for our port after we exit and can
   * crash in its OSC thread when tracks are added later (docs/benchmarks.md, tests/companions/ardour_surface_crash.py);
   * the map's "disconnect" turns our feedback off first. */
  if (json_object_get(s->mj, "disconnect")) {
    char err[256] = "";
    json_t *vars = base_vars(s);
    if (send_templates(s, json_object_get(s->mj, "disconnect"), vars, err, sizeof err))
      log_msg(&s->log, LOG_DEBUG, MOD, "disconnect: %s", err);
    json_decref(vars);
  }
  s->pending = 4;
  uv_close((uv_handle_t *)&s->op_timer, on_closed);
  uv_close((uv_handle_t *)&s->refresh_timer, on_closed);
  uv_close((uv_handle_t *)&s->kick, on_closed);
  link_close(s->link, on_link_closed, s);
}
