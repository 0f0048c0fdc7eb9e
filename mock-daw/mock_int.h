/* mock_int.h — internals shared by the mock DAW's files (not a public API). */
#ifndef DAWBRIDGE_MOCK_INT_H
#define DAWBRIDGE_MOCK_INT_H

#include "mock.h"
#include <lo/lo.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#define MK_UNDO_MAX 64 /* undo (and redo) steps kept; the oldest is dropped beyond */

/* liblo's argv points into 4-byte aligned data while lo_arg contains 8-byte members: read through memcpy
 * (direct member access is undefined behaviour that UBSan reports) */
static inline int32_t mk_ai(lo_arg **a, int i) {
  int32_t v;
  memcpy(&v, a[i], 4);
  return v;
}
static inline float mk_af(lo_arg **a, int i) {
  float v;
  memcpy(&v, a[i], 4);
  return v;
}
static inline int64_t mk_ah(lo_arg **a, int i) {
  int64_t v;
  memcpy(&v, a[i], 8);
  return v;
}
static inline double mk_ad(lo_arg **a, int i) {
  double v;
  memcpy(&v, a[i], 8);
  return v;
}
static inline const char *mk_as(lo_arg **a, int i) { return (const char *)a[i]; }
/* double -> int without undefined behaviour: NaN -> lo, clamped to lo..hi */
static inline int mk_dtoi(double v, int lo, int hi) { return !(v >= lo) ? lo : v > hi ? hi : (int)v; }

enum mk_dialect { MK_REAPER, MK_ARDOUR };
enum mk_ttype { MK_MIDI, MK_AUDIO, MK_BUS };

/* ---- plugin catalog (mock.c) ---- */
struct mk_pdesc { /* one parameter of a catalog plugin */
  const char *name;
  int flags; /* Ardour descriptor flags (128 = input control, 0 = output, 194 = toggle...) */
  float lower, upper;
  const char *fmt; /* Ardour print format */
  double def;      /* default raw value */
};
struct mk_plugin {
  const char *name; /* display/short name: "ReaVerbate" / "ACE Reverb" */
  const char *full; /* the host's own name: "VST: ReaVerbate (Cockos)" / "ACE Reverb" */
  int instrument;
  int nparams;
  const struct mk_pdesc *params;
};
const struct mk_plugin *mk_catalog_find(int dialect, const char *name); /* case-insensitive on name/full/stripped */
const char *mk_fx_osc_name(const char *full); /* REAPER: strip "VST: " etc. prefixes (pointer into full) */

/* ---- state ---- */
struct mk_param {
  char *name;
  double value;
  double lower, upper;
  int flags;
  const char *fmt;
}; /* raw value */
struct mk_fx {
  char *name;
  int enabled;
  int nparams;
  struct mk_param *params;
  char *preset;
  int openui;
};
struct mk_note {
  int n;
  double s, d;
  int v, c;
};
struct mk_clip {
  char *host_id;
  char *name;
  double start, length;
  int nnotes, cap;
  struct mk_note *notes;
};
struct mk_track {
  unsigned serial; /* stable mock id ("t<serial>" in the dump) */
  char *host_id;
  char *name; /* REAPER: "" = unnamed (shown as "Track N") */
  int type;
  double volume_db; /* <= -150 is -inf */
  double pan;       /* -1..1 */
  int mute, solo, recarm, selected, monitor;
  struct mk_fx *inst; /* instrument or NULL */
  int nfx;
  struct mk_fx *fx; /* effects, chain order, instrument excluded */
  int nclips;
  struct mk_clip *clips;
};
struct mk_marker {
  int number;
  char *name;
  double pos;
}; /* pos in beats */
struct mk_state {
  double tempo;
  int ts_num, ts_den;
  int playing, recording, paused, rec_global;
  double position; /* beats */
  int loop_enabled;
  double loop_start, loop_end;
  int click;
  double master_db, master_pan;
  int master_mute;
  int ntracks, captracks;
  struct mk_track **tracks;
  int nmarkers;
  struct mk_marker *markers;
  unsigned next_serial, next_host; /* counters for ids */
  int saved;
};

struct mk_state *mk_state_new(void);
struct mk_state *mk_state_clone(const struct mk_state *s);
void mk_state_free(struct mk_state *s);
json_t *mk_state_json(const mock_t *m, const struct mk_state *s);
json_t *mk_notes_json(const struct mk_clip *c); /* [{n, s, d, v[, c]}] (new reference) */
struct mk_track *mk_track_add(mock_t *m, int pos /* 0-based insert position */, const char *name, int type);
void mk_track_remove(mock_t *m, int idx0);
void mk_track_free(struct mk_track *t);
int mk_track_index(const mock_t *m, const struct mk_track *t); /* 1-based, 0 if absent */
struct mk_fx *mk_fx_from_plugin(struct mk_fx *dst, const struct mk_plugin *p, const char *fallback_name);
void mk_fx_clear(struct mk_fx *f);
int mk_fx_chain_len(const struct mk_track *t);            /* instrument + effects */
struct mk_fx *mk_fx_chain_get(struct mk_track *t, int k); /* 1-based chain slot, NULL if none */
char *mk_new_host_id(mock_t *m);
char *mk_strdup(const char *s);
double mk_beats_to_sec(const mock_t *m, double beats);
double mk_sec_to_beats(const mock_t *m, double sec);
void mk_undo_push(mock_t *m, const char *name); /* snapshot before a change */
int mk_undo(mock_t *m, char *name, size_t namelen);
int mk_redo(mock_t *m);

/* ---- packets ---- */
/* OSC encoder: path + types + args ('i' int, 'f' double, 's' const char *, 'h' int64_t, 'd' double).
 * Returns the encoded length or 0 when it does not fit. */
size_t mk_osc_encode(void *buf, size_t cap, const char *path, const char *types, ...);
size_t mk_osc_vencode(void *buf, size_t cap, const char *path, const char *types, va_list ap);

/* ---- faults (faults.c) ---- */
struct mk_faults;
struct mk_faults *mk_faults_new(mock_t *m, uv_loop_t *loop, double drop, int delay_ms, unsigned seed);
void mk_faults_set(struct mk_faults *f, double drop, int delay_ms);
double mk_faults_drop(const struct mk_faults *f);
int mk_faults_delay(const struct mk_faults *f);
int mk_faults_should_drop(struct mk_faults *f); /* draws from the PRNG only when drop > 0 */
/* queue a packet for later (copies buf); sent through mk_send_now when due */
void mk_faults_delay_packet(struct mk_faults *f, const struct sockaddr_in *to, const void *buf, size_t len);
void mk_faults_close(struct mk_faults *f, void (*cb)(void *), void *data);
void mk_faults_flush_drop(struct mk_faults *f); /* forget queued packets (restart) */

/* ---- dialects ---- */
struct mk_dialect_ops {
  /* one incoming message (already past the drop fault); src = sender */
  void (*handle)(mock_t *m, const char *path, const char *types, lo_arg **argv, int argc,
                 const struct sockaddr_in *src);
  void (*after_packet)(mock_t *m);                      /* flush queued feedback */
  void (*reset)(mock_t *m, int startup);                /* socket (re)opened / state replaced */
  void (*tracks_changed)(mock_t *m);                    /* companion changed the track list */
  void (*track_changed)(mock_t *m, struct mk_track *t); /* companion changed a track (fx, name) */
  void (*free)(mock_t *m);
};
extern const struct mk_dialect_ops mk_reaper_ops;
extern const struct mk_dialect_ops mk_ardour_ops;
int mk_reaper_init(mock_t *m);
int mk_ardour_init(mock_t *m);

/* ---- companion ---- */
struct mk_companion;
int mk_companion_new(mock_t *m, const char *spool, struct mk_companion **out, char *err, size_t errlen);
void mk_companion_run(struct mk_companion *c);                 /* drain in/ once */
void mk_companion_drop_replies(struct mk_companion *c, int n); /* fault: execute, but lose the next n replies */
void mk_companion_legacy(struct mk_companion *c, int on);      /* a companion without the packed form (PROTOCOL.md) */
void mk_companion_close(struct mk_companion *c, void (*cb)(void *), void *data);
extern const char MK_REAPER_COMMAND_ID[];

/* ---- the mock ---- */
struct mock {
  uv_loop_t *loop;
  int dialect;
  const struct mk_dialect_ops *ops;
  void *dl;               /* dialect-private */
  struct mock_config cfg; /* strings below are owned copies */
  char *project;
  char *spool;
  uint32_t bind_addr; /* network order: cfg.host, 127.0.0.1 by default */
  struct mk_state *st, *initial;
  uv_udp_t *udp; /* NULL while down */
  uv_timer_t *restart_timer;
  int port;
  int down;
  int restart_keep;
  int closing;
  int pending_close;
  void (*close_cb)(void *);
  void *close_data;
  struct mk_faults *faults;
  struct mk_companion *comp;
  struct mock_stats stats;
  char rxbuf[65536];
  int in_packet;
  /* undo: two stacks of whole-state snapshots, the newest last (mock.c keeps at most MK_UNDO_MAX in each) */
  int nundo, nredo;
  struct mk_snapshot {
    char *name;         /* the undo step's name (owned) */
    struct mk_state *s; /* the state before it (undo) or after it (redo) (owned) */
  } undo[MK_UNDO_MAX], redo[MK_UNDO_MAX];
  int group_open;
  char *group_name;
  struct mk_state *group_snap;
  uint64_t idrng; /* id generator state (not the drop PRNG) */
};

void mk_log(const mock_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send one encoded packet containing `nmsgs` messages; applies delay unless exempt. */
void mk_send_packet(mock_t *m, const struct sockaddr_in *to, const void *buf, size_t len, int nmsgs, int exempt);
void mk_send_now(mock_t *m, const struct sockaddr_in *to, const void *buf, size_t len);
/* Encode and send one bare message (drop fault applies unless exempt). */
void mk_send_msg(mock_t *m, const struct sockaddr_in *to, int exempt, const char *path, const char *types, ...);
int mk_drop_tx(mock_t *m); /* one outgoing message: 1 = drop it (counts) */
void mk_addr(struct sockaddr_in *a, int port);
double mk_arg_num(const char *types, lo_arg **argv, int i, int *ok); /* i/f/d/h as double */
void mk_close_one(mock_t *m); /* a handle closed: counts down and finishes mock_close */

#endif
