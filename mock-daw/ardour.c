/* ardour.c — the mock Ardour 7.3 OSC surface, modelled on what real Ardour 7.3 answered on this machine
 * (../shared/docs/ardour-osc.md, verbatim exchanges) and the Ardour manual's OSC pages (reaper-osc.md §9).
 *
 * It behaves like the headless Lua session host (luasession): /access_action, /undo and /redo have no effect,
 * and /strip/select does not change the (nonexistent) editor selection — all as observed. */
#include "mock_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ar {
  int registered;
  int bank_size, strip_types, feedback, gainmode, send_page, plugin_page, port, linkset, linkid;
  int bank_start;
  struct sockaddr_in last_src;
  int have_src;
  int tally;
  char marker_text[160];
};

static struct ar *AR(mock_t *m) { return m->dl; }

#define SR 48000.0

/* ---------------- conversions (Ardour's own formulas) ---------------- */
/* dB -> gain coefficient -> dB in float, as Ardour does (dB_to_coefficient / accurate_coefficient_to_dB);
 * this reproduces e.g. -12.5 -> -12.500001 */
static double gain_db_roundtrip(double db) {
  if (db <= -193.0) return -193.0;
  /* Ardour is built with fast math: pow(10, x) becomes exp(x * ln 10); computing it that way reproduces the
   * observed -12.5 -> -12.500001 (plain powf gives -12.5) */
  float coeff = expf((float)db * 0.05f * logf(10.0f));
  return (double)(20.0f * log10f(coeff));
}
/* Ardour's fader curve (gain_to_slider_position / slider_position_to_gain) */
static double fader_to_db(double pos) {
  if (pos <= 0) return -193.0;
  float g = powf(2.0f, (float)((sqrt(sqrt(sqrt(pos))) * 198.0 - 192.0) / 6.0));
  return (double)(20.0f * log10f(g));
}
static double db_to_fader(double db) {
  if (db <= -193.0) return 0;
  double g = pow(10.0, db / 20.0);
  return pow((6.0 * log(g) / log(2.0) + 192.0) / 198.0, 8.0);
}
static int64_t beats_to_samples(mock_t *m, double beats) { return (int64_t)llround(mk_beats_to_sec(m, beats) * SR); }

/* ---------------- destinations ---------------- */
static struct sockaddr_in dest(mock_t *m, const struct sockaddr_in *src) {
  struct ar *a = AR(m);
  struct sockaddr_in d;
  const struct sockaddr_in *s = src ? src : a->have_src ? &a->last_src : NULL;
  mk_addr(&d, m->cfg.feedback_port);
  if (s) d.sin_addr = s->sin_addr;
  if (!a->registered) return d; /* before /set_surface: port 8000 of the sender's host */
  if (a->port == 0) {
    if (s) d.sin_port = s->sin_port; /* auto: each message's source port */
  } else {
    d.sin_port = htons((uint16_t)a->port);
  }
  return d;
}

/* ---------------- strips ---------------- */
static int visible(mock_t *m, const struct mk_track *t) {
  int bit = t->type == MK_MIDI ? 2 : t->type == MK_AUDIO ? 1 : 4;
  return (AR(m)->strip_types & bit) != 0;
}

/* ssid (1-based, bank-relative) -> track, or NULL */
static struct mk_track *strip(mock_t *m, int ssid, int *abs) {
  struct ar *a = AR(m);
  if (ssid < 1 || (a->bank_size > 0 && ssid > a->bank_size)) return NULL;
  int want = a->bank_start + ssid, k = 0;
  for (int i = 0; i < m->st->ntracks; i++) {
    if (!visible(m, m->st->tracks[i])) continue;
    if (++k == want) {
      if (abs) *abs = i + 1;
      return m->st->tracks[i];
    }
  }
  return NULL;
}

static int ssid_of(mock_t *m, const struct mk_track *t) {
  struct ar *a = AR(m);
  int k = 0;
  for (int i = 0; i < m->st->ntracks; i++) {
    if (!visible(m, m->st->tracks[i])) continue;
    k++;
    if (m->st->tracks[i] == t) {
      int ssid = k - a->bank_start;
      if (ssid < 1 || (a->bank_size > 0 && ssid > a->bank_size)) return 0;
      return ssid;
    }
  }
  return 0;
}

/* one strip feedback message: "/strip/X if ssid v", or "/strip/X/ssid f v" with feedback bit 4 */
static void strip_msg(mock_t *m, const struct sockaddr_in *to, int ssid, const char *what, char type, double num,
                      const char *str) {
  struct ar *a = AR(m);
  char path[128];
  if (a->feedback & 4) {
    snprintf(path, sizeof path, "/strip/%s/%d", what, ssid);
    if (type == 'f')
      mk_send_msg(m, to, 0, path, "f", num);
    else if (type == 'i')
      mk_send_msg(m, to, 0, path, "i", (int)num);
    else
      mk_send_msg(m, to, 0, path, "s", str);
  } else {
    snprintf(path, sizeof path, "/strip/%s", what);
    if (type == 'f')
      mk_send_msg(m, to, 0, path, "if", ssid, num);
    else if (type == 'i')
      mk_send_msg(m, to, 0, path, "ii", ssid, (int)num);
    else
      mk_send_msg(m, to, 0, path, "is", ssid, str);
  }
}

static const char *pan_type(const struct mk_track *t) {
  if (t->type == MK_AUDIO || t->type == MK_BUS) return "panner_1in2out";
  return t->inst ? "panner_balance" : "none"; /* a MIDI track without instrument has no audio outs, no panner */
}

/* gainmode 0: /strip/gain dB; 1: /strip/fader + the dB as text on /strip/name; 2: fader + gain; 3: fader only
 * (observed on Ardour 7.3; in mode 1 the real one puts the name back after a while — not modelled) */
static void gain_fb(mock_t *m, const struct sockaddr_in *to, int ssid, double db) {
  struct ar *a = AR(m);
  if (a->gainmode >= 1 && a->gainmode <= 3) strip_msg(m, to, ssid, "fader", 'f', db_to_fader(db), NULL);
  if (a->gainmode == 1) {
    char txt[32];
    snprintf(txt, sizeof txt, "%.2f", db);
    strip_msg(m, to, ssid, "name", 's', 0, txt);
  }
  if (a->gainmode == 0 || a->gainmode == 2) strip_msg(m, to, ssid, "gain", 'f', db, NULL);
}

/* the complete strip dump, in the order real Ardour 7.3 sends it (ardour-osc.md §3) */
static void strip_dump(mock_t *m, const struct sockaddr_in *to, int ssid, struct mk_track *t) {
  struct ar *a = AR(m);
  int b1 = a->feedback & 1, b2 = a->feedback & 2;
  int pan = strcmp(pan_type(t), "none") != 0;
  /* groups as observed: the first select goes with either bit, name..second select with bit 1, the level and pan
   * lines with bit 2, expand with bit 1 */
  strip_msg(m, to, ssid, "select", 'f', 0, NULL); /* headless: no editor selection */
  if (b1) {
    strip_msg(m, to, ssid, "name", 's', 0, t->name);
    strip_msg(m, to, ssid, "group", 's', 0, " ");
    strip_msg(m, to, ssid, "hide", 'i', 0, NULL);
    strip_msg(m, to, ssid, "mute/automation", 'f', 0, NULL);
    strip_msg(m, to, ssid, "mute/automation_name", 's', 0, "Manual");
    strip_msg(m, to, ssid, "mute", 'f', t->mute, NULL);
    strip_msg(m, to, ssid, "solo", 'f', t->solo, NULL);
    strip_msg(m, to, ssid, "solo_iso", 'f', 0, NULL);
    strip_msg(m, to, ssid, "solo_safe", 'f', 0, NULL);
    strip_msg(m, to, ssid, "monitor_input", 'i', 0, NULL);
    strip_msg(m, to, ssid, "monitor_disk", 'i', 0, NULL);
    if (t->type != MK_BUS) {
      strip_msg(m, to, ssid, "recenable", 'f', t->recarm, NULL);
      strip_msg(m, to, ssid, "record_safe", 'f', 0, NULL);
    }
    strip_msg(m, to, ssid, "select", 'f', 0, NULL);
  }
  if (b2) {
    gain_fb(m, to, ssid, t->volume_db);
    strip_msg(m, to, ssid, a->gainmode == 0 ? "gain/automation" : "fader/automation", 'f', 0, NULL);
    strip_msg(m, to, ssid, a->gainmode == 0 ? "gain/automation_name" : "fader/automation_name", 's', 0, "Manual");
    strip_msg(m, to, ssid, "trimdB/automation", 'f', 0, NULL);
    strip_msg(m, to, ssid, "trimdB/automation_name", 's', 0, "Manual");
    strip_msg(m, to, ssid, "trimdB", 'f', 0, NULL);
    strip_msg(m, to, ssid, "pan_type", 's', 0, pan_type(t));
    strip_msg(m, to, ssid, "pan_stereo_position", 'f', (t->pan + 1.0) * 0.5, NULL);
    if (pan) {
      strip_msg(m, to, ssid, "pan_stereo_position/automation", 'f', 0, NULL);
      strip_msg(m, to, ssid, "pan_stereo_position/automation_name", 's', 0, "Manual");
    }
    strip_msg(m, to, ssid, "pan_stereo_width", 'f', 0.5, NULL);
    if (pan) {
      strip_msg(m, to, ssid, "pan_stereo_width/automation", 'f', 0, NULL);
      strip_msg(m, to, ssid, "pan_stereo_width/automation_name", 's', 0, "Manual");
    }
  }
  if (b1) strip_msg(m, to, ssid, "expand", 'f', 0, NULL);
}

static void all_strips_dump(mock_t *m, const struct sockaddr_in *to) {
  if (!(AR(m)->feedback & 3)) return;
  for (int ssid = 1;; ssid++) {
    struct mk_track *t = strip(m, ssid, NULL);
    if (!t) break;
    strip_dump(m, to, ssid, t);
  }
}

/* ---------------- global section (feedback bit 16) ---------------- */
static void marker_text(mock_t *m, char *buf, size_t n) {
  struct mk_state *s = m->st;
  if (!s->nmarkers) {
    snprintf(buf, n, "No Marks");
    return;
  }
  const struct mk_marker *prev = NULL, *next = NULL;
  for (int i = 0; i < s->nmarkers; i++) {
    const struct mk_marker *k = &s->markers[i];
    if (fabs(k->pos - s->position) < 1e-9) {
      snprintf(buf, n, "%s", k->name);
      return;
    }
    if (k->pos < s->position && (!prev || k->pos > prev->pos)) prev = k;
    if (k->pos > s->position && (!next || k->pos < next->pos)) next = k;
  }
  if (prev)
    snprintf(buf, n, "%s <-", prev->name);
  else
    snprintf(buf, n, "-> %s", next->name);
}

static int any_solo(mock_t *m) {
  for (int i = 0; i < m->st->ntracks; i++)
    if (m->st->tracks[i]->solo) return 1;
  return 0;
}
static int tally(mock_t *m) {
  if (m->st->rec_global) return 1;
  for (int i = 0; i < m->st->ntracks; i++)
    if (m->st->tracks[i]->recarm) return 1;
  return 0;
}

static void transport_block(mock_t *m, const struct sockaddr_in *to) {
  struct mk_state *s = m->st;
  mk_send_msg(m, to, 0, "/loop_toggle", "f", (double)s->loop_enabled);
  mk_send_msg(m, to, 0, "/transport_play", "f", (double)s->playing);
  mk_send_msg(m, to, 0, "/toggle_roll", "f", (double)s->playing);
  mk_send_msg(m, to, 0, "/transport_stop", "f", (double)!s->playing);
  mk_send_msg(m, to, 0, "/rewind", "f", 0.0);
  mk_send_msg(m, to, 0, "/ffwd", "f", 0.0);
}

static void marker_fb(mock_t *m, const struct sockaddr_in *to, int force) {
  struct ar *a = AR(m);
  if (!(a->feedback & 16)) return;
  char t[160];
  marker_text(m, t, sizeof t);
  if (!force && !strcmp(t, a->marker_text)) return;
  snprintf(a->marker_text, sizeof a->marker_text, "%s", t);
  mk_send_msg(m, to, 0, "/marker", "s", t);
}

static void tally_fb(mock_t *m, const struct sockaddr_in *to) {
  struct ar *a = AR(m);
  int t = tally(m);
  if (!(a->feedback & 16) || t == a->tally) return;
  a->tally = t;
  mk_send_msg(m, to, 0, "/record_tally", "f", (double)t);
}

static void globals(mock_t *m, const struct sockaddr_in *to) {
  struct ar *a = AR(m);
  struct mk_state *s = m->st;
  if (!(a->feedback & 16)) return;
  mk_send_msg(m, to, 0, "/master/name", "s", "Master");
  mk_send_msg(m, to, 0, "/master/mute", "f", (double)s->master_mute);
  mk_send_msg(m, to, 0, "/master/trimdB", "f", 0.0);
  mk_send_msg(m, to, 0, "/master/pan_stereo_position", "f", (s->master_pan + 1.0) * 0.5);
  mk_send_msg(m, to, 0, "/master/gain", "f", s->master_db);
  transport_block(m, to);
  mk_send_msg(m, to, 0, "/rec_enable_toggle", "f", (double)s->rec_global);
  a->tally = tally(m);
  mk_send_msg(m, to, 0, "/record_tally", "f", (double)a->tally);
  marker_fb(m, to, 1);
  mk_send_msg(m, to, 0, "/session_name", "s", m->project);
  mk_send_msg(m, to, 0, "/cancel_all_solos", "f", (double)any_solo(m));
  mk_send_msg(m, to, 0, "/click/level", "f", 0.781787);
  mk_send_msg(m, to, 0, "/group/list", "s", "none");
  mk_send_msg(m, to, 0, "/toggle_punch_in", "f", 0.0);
  mk_send_msg(m, to, 0, "/toggle_punch_out", "f", 0.0);
  mk_send_msg(m, to, 0, "/toggle_click", "f", (double)s->click);
  mk_send_msg(m, to, 0, "/jog/mode/name", "s", "Jog");
  mk_send_msg(m, to, 0, "/jog/mode", "i", 0);
}

static void position_fb(mock_t *m, const struct sockaddr_in *to) {
  struct ar *a = AR(m);
  if (a->feedback & 1024) {
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)beats_to_samples(m, m->st->position));
    mk_send_msg(m, to, 0, "/position/samples", "s", b);
  }
  marker_fb(m, to, 0);
}

static void set_playing(mock_t *m, const struct sockaddr_in *to, int playing) {
  struct ar *a = AR(m);
  m->st->playing = playing;
  if (!playing)
    m->st->recording = 0;
  else
    m->st->recording = m->st->rec_global;
  if (a->feedback & 16) {
    transport_block(m, to);
    if (playing) transport_block(m, to); /* the real one sent the block twice when starting */
  }
  marker_fb(m, to, 0);
}

/* ---------------- /strip/list ---------------- */
static void strip_list(mock_t *m, const struct sockaddr_in *to) {
  struct ar *a = AR(m);
  const char *addr = (a->feedback & 16384) ? "/reply" : "#reply";
  double end = 0;
  for (int i = 0; i < m->st->ntracks; i++)
    for (int k = 0; k < m->st->tracks[i]->nclips; k++) {
      const struct mk_clip *c = &m->st->tracks[i]->clips[k];
      if (c->start + c->length > end) end = c->start + c->length;
    }
  for (int ssid = 1;; ssid++) {
    struct mk_track *t = strip(m, ssid, NULL);
    if (!t) break;
    if (t->type == MK_BUS) {
      mk_send_msg(m, to, 0, addr, "ssiiiii", "AB", t->name, 2, 2, t->mute, t->solo, ssid);
    } else if (t->type == MK_MIDI) {
      /* a MIDI track counts audio ports only: 0 0 without an instrument, 0 2 with a synth */
      mk_send_msg(m, to, 0, addr, "ssiiiiii", "MT", t->name, 0, t->inst ? 2 : 0, t->mute, t->solo, ssid, t->recarm);
    } else {
      mk_send_msg(m, to, 0, addr, "ssiiiiii", "AT", t->name, 1, 2, t->mute, t->solo, ssid, t->recarm);
    }
  }
  mk_send_msg(m, to, 0, addr, "shhi", "end_route_list", (int64_t)48000, beats_to_samples(m, end), 0);
  all_strips_dump(m, to);
}

/* ---------------- plugins ---------------- */
static void plugin_list(mock_t *m, const struct sockaddr_in *to, int ssid, struct mk_track *t) {
  int n = mk_fx_chain_len(t);
  char types[3 + 3 * 64] = "i";
  if (n > 64) n = 64;
  /* build "i(isi)*" and the encoded message by hand */
  unsigned char buf[8192];
  for (int k = 0; k < n; k++) strcat(types, "isi");
  /* encode manually: path, types, args */
  size_t pl = strlen("/strip/plugin/list"), off = (pl + 4) & ~(size_t)3;
  memset(buf, 0, sizeof buf);
  memcpy(buf, "/strip/plugin/list", pl);
  size_t tl = strlen(types);
  buf[off] = ',';
  memcpy(buf + off + 1, types, tl);
  off += (tl + 2 + 3) & ~(size_t)3;
  uint32_t be = htonl((uint32_t)ssid);
  memcpy(buf + off, &be, 4);
  off += 4;
  for (int k = 1; k <= n; k++) {
    struct mk_fx *f = mk_fx_chain_get(t, k);
    size_t sl = strlen(f->name);
    if (off + 12 + sl + 4 > sizeof buf) break;
    be = htonl((uint32_t)k);
    memcpy(buf + off, &be, 4);
    off += 4;
    memcpy(buf + off, f->name, sl);
    off += (sl + 4) & ~(size_t)3;
    be = htonl((uint32_t)(f->enabled ? 1 : 0));
    memcpy(buf + off, &be, 4);
    off += 4;
  }
  if (mk_drop_tx(m)) return;
  mk_send_packet(m, to, buf, off, 1, 0);
}

/* ---------------- dispatch ---------------- */
static int num(const char *types, lo_arg **argv, int argc, int i, double *v) {
  int ok;
  if (i >= argc) return 0;
  *v = mk_arg_num(types, argv, i, &ok);
  return ok && isfinite(*v);
}

static void handle_strip(mock_t *m, const char *cmd, int ssid, const char *types, lo_arg **argv, int argc, int a0,
                         const struct sockaddr_in *to) {
  struct ar *a = AR(m);
  int abs = 0;
  struct mk_track *t = strip(m, ssid, &abs);
  double v, v2, v3;
  if (!t) {
    mk_log(m, "[WARNING]: OSC: No such strip (%s ssid %d)", cmd, ssid);
    return;
  }
  if (!strcmp(cmd, "plugin/list")) {
    plugin_list(m, to, ssid, t);
    return;
  }
  if (!strncmp(cmd, "plugin/", 7)) {
    if (!num(types, argv, argc, a0, &v)) return;
    int piid = mk_dtoi(v, 0, 1 << 20);
    struct mk_fx *f = mk_fx_chain_get(t, piid);
    if (!f) {
      mk_log(m, "%s: strip %d has no plugin %d", cmd, ssid, piid);
      return;
    }
    if (!strcmp(cmd, "plugin/descriptor")) {
      for (int p = 0; p < f->nparams; p++) {
        const struct mk_param *pp = &f->params[p];
        mk_send_msg(m, to, 0, "/strip/plugin/descriptor", "iiisisffsid", ssid, piid, p + 1, pp->name, pp->flags,
                    "NOTHING", pp->lower, pp->upper, pp->fmt ? pp->fmt : "", 0, pp->value);
      }
      mk_send_msg(m, to, 0, "/strip/plugin/descriptor_end", "ii", ssid, piid);
    } else if (!strcmp(cmd, "plugin/activate") || !strcmp(cmd, "plugin/deactivate")) {
      f->enabled = cmd[7] == 'a';
      m->st->saved = 0;
    } else if (!strcmp(cmd, "plugin/parameter")) {
      if (!num(types, argv, argc, a0 + 1, &v2) || !num(types, argv, argc, a0 + 2, &v3)) return;
      int pid = mk_dtoi(v2, 0, 1 << 20);
      if (pid < 1 || pid > f->nparams) {
        mk_log(m, "plugin/parameter: no parameter %d", pid);
        return;
      }
      struct mk_param *pp = &f->params[pid - 1];
      pp->value = fmax(pp->lower, fmin(pp->upper, v3));
      m->st->saved = 0;
    } else {
      mk_log(m, "/strip/%s not modelled (ignored)", cmd);
    }
    return;
  }
  if (!strcmp(cmd, "name")) {
    if (argc <= a0 || types[a0] != 's') return;
    free(t->name);
    t->name = mk_strdup(mk_as(argv, a0));
    m->st->saved = 0;
    if (a->feedback & 1) strip_msg(m, to, ssid, "name", 's', 0, t->name);
    return;
  }
  if (!num(types, argv, argc, a0, &v)) {
    mk_log(m, "/strip/%s: wrong number or type of parameters", cmd);
    return;
  }
  m->st->saved = 0;
  if (!strcmp(cmd, "gain")) {
    t->volume_db = gain_db_roundtrip(fmin(6.0, v));
    if (a->feedback & 2) gain_fb(m, to, ssid, t->volume_db);
  } else if (!strcmp(cmd, "fader")) {
    t->volume_db = fader_to_db(fmax(0, fmin(1, v)));
    if (a->feedback & 2) gain_fb(m, to, ssid, t->volume_db);
  } else if (!strcmp(cmd, "mute") || !strcmp(cmd, "solo") || !strcmp(cmd, "recenable")) {
    int b = v != 0;
    if (cmd[0] == 'm')
      t->mute = b;
    else if (cmd[0] == 's')
      t->solo = b;
    else {
      if (t->type == MK_BUS) return;
      t->recarm = b;
    }
    if (a->feedback & 1) strip_msg(m, to, ssid, cmd, 'f', b, NULL);
    if (cmd[0] == 'r') tally_fb(m, to);
    if (cmd[0] == 's' && (a->feedback & 16)) mk_send_msg(m, to, 0, "/cancel_all_solos", "f", (double)any_solo(m));
  } else if (!strcmp(cmd, "pan_stereo_position")) {
    double p = fmax(0, fmin(1, v));
    t->pan = 2.0 * (double)(float)p - 1.0;
    if (a->feedback & 2) strip_msg(m, to, ssid, "pan_stereo_position", 'f', p, NULL);
  } else if (!strcmp(cmd, "select")) {
    /* observed on headless Ardour 7.3: accepted, but no editor selection exists, nothing changes or is sent */
    mk_log(m, "/strip/select %d: no editor selection in a headless session (no effect)", ssid);
  } else {
    mk_log(m, "/strip/%s not modelled (ignored)", cmd);
  }
}

static void set_surface_field(struct ar *a, int i, int v) {
  switch (i) {
  case 0: a->bank_size = v; break;
  case 1: a->strip_types = v; break;
  case 2: a->feedback = v; break;
  case 3: a->gainmode = v; break;
  case 4: a->send_page = v; break;
  case 5: a->plugin_page = v; break;
  case 6: a->port = v; break;
  case 7: a->linkset = v; break;
  case 8: a->linkid = v; break;
  }
}

static void registered_dump(mock_t *m, const struct sockaddr_in *to) {
  /* the real one sends the strip dump twice on /set_surface */
  all_strips_dump(m, to);
  all_strips_dump(m, to);
  globals(m, to);
}

static void ar_handle(mock_t *m, const char *path, const char *types, lo_arg **argv, int argc,
                      const struct sockaddr_in *src) {
  struct ar *a = AR(m);
  struct mk_state *s = m->st;
  double v, v2;
  a->last_src = *src;
  a->have_src = 1;
  struct sockaddr_in to = dest(m, src);

  if (!strcmp(path, "/set_surface")) {
    if (argc == 0) {
      /* observed reply: the settings; the 8th value was 1 with linkset 0 (meaning unknown; reproduced) */
      mk_send_msg(m, &to, 0, "/set_surface", "iiiiiiiii", a->bank_size, a->strip_types, a->feedback, a->gainmode,
                  a->send_page, a->plugin_page, a->port, 1, a->linkid);
      return;
    }
    for (int i = 0; i < argc && i < 9; i++)
      if (num(types, argv, argc, i, &v)) set_surface_field(a, i, mk_dtoi(v, -1000000000, 1000000000));
    a->registered = 1;
    a->bank_start = 0;
    a->marker_text[0] = 0;
    to = dest(m, src);
    registered_dump(m, &to);
    return;
  }
  if (!strncmp(path, "/set_surface/", 13)) {
    static const char *const fields[] = {"bank_size",        "strip_types", "feedback", "gainmode", "send_page_size",
                                         "plugin_page_size", "port",        "linkset",  "linkid"};
    const char *f = path + 13;
    int idx = -1;
    for (int i = 0; i < 9; i++)
      if (!strcmp(f, fields[i])) idx = i;
    if (!strcmp(f, "fadermode")) idx = 3;
    if (idx < 0 || !num(types, argv, argc, 0, &v)) {
      mk_log(m, "%s not modelled (ignored)", path);
      return;
    }
    set_surface_field(a, idx, mk_dtoi(v, -1000000000, 1000000000));
    a->registered = 1;
    to = dest(m, src);
    if (idx == 2) { /* observed: /set_surface/feedback dumps the strips once */
      all_strips_dump(m, &to);
      globals(m, &to);
    }
    return;
  }
  if (!strcmp(path, "/strip/list")) {
    strip_list(m, &to);
    return;
  }
  if (!strncmp(path, "/strip/", 7)) {
    /* "/strip/cmd ssid args..." or "/strip/cmd/ssid args..." */
    char cmd[96];
    snprintf(cmd, sizeof cmd, "%s", path + 7);
    char *last = strrchr(cmd, '/');
    char *e = NULL;
    if (last && last[1]) {
      long ss = strtol(last + 1, &e, 10);
      if (*e == 0) {
        *last = 0;
        handle_strip(m, cmd, ss > (1 << 20) || ss < 0 ? -1 : (int)ss, types, argv, argc, 0, &to);
        return;
      }
    }
    if (!num(types, argv, argc, 0, &v)) {
      mk_log(m, "%s: wrong number or type of parameters", path);
      return;
    }
    handle_strip(m, cmd, mk_dtoi(v, -1, 1 << 20), types, argv, argc, 1, &to);
    return;
  }
  if (!strcmp(path, "/transport_play"))
    set_playing(m, &to, 1);
  else if (!strcmp(path, "/transport_stop"))
    set_playing(m, &to, 0);
  else if (!strcmp(path, "/toggle_roll"))
    set_playing(m, &to, !s->playing);
  else if (!strcmp(path, "/set_transport_speed")) {
    if (num(types, argv, argc, 0, &v)) set_playing(m, &to, v != 0);
  } else if (!strcmp(path, "/rec_enable_toggle")) {
    s->rec_global = !s->rec_global;
    if (s->playing) s->recording = s->rec_global;
    if (a->feedback & 16) mk_send_msg(m, &to, 0, "/rec_enable_toggle", "f", (double)s->rec_global);
    tally_fb(m, &to);
  } else if (!strcmp(path, "/goto_start")) {
    s->position = 0;
    position_fb(m, &to);
  } else if (!strcmp(path, "/goto_end")) {
    double end = 0;
    for (int i = 0; i < s->ntracks; i++)
      for (int k = 0; k < s->tracks[i]->nclips; k++)
        end = fmax(end, s->tracks[i]->clips[k].start + s->tracks[i]->clips[k].length);
    s->position = end;
    position_fb(m, &to);
  } else if (!strcmp(path, "/locate")) {
    if (!num(types, argv, argc, 0, &v)) return;
    s->position = mk_sec_to_beats(m, fmin(fmax(0, v), 1e12) / SR);
    position_fb(m, &to);
    if (num(types, argv, argc, 1, &v2) && v2 != 0) set_playing(m, &to, 1);
  } else if (!strcmp(path, "/loop_toggle")) {
    s->loop_enabled = !s->loop_enabled;
    if (a->feedback & 16) transport_block(m, &to);
  } else if (!strcmp(path, "/loop_location")) {
    if (num(types, argv, argc, 0, &v) && num(types, argv, argc, 1, &v2) && v2 > v) {
      s->loop_start = mk_sec_to_beats(m, v / SR);
      s->loop_end = mk_sec_to_beats(m, v2 / SR);
    }
  } else if (!strcmp(path, "/toggle_click")) {
    s->click = !s->click;
    if (a->feedback & 16) mk_send_msg(m, &to, 0, "/toggle_click", "f", (double)s->click);
  } else if (!strcmp(path, "/transport_frame")) {
    mk_send_msg(m, &to, 0, "/transport_frame", "h", beats_to_samples(m, s->position));
  } else if (!strcmp(path, "/transport_speed")) {
    mk_send_msg(m, &to, 0, "/transport_speed", "d", s->playing ? 1.0 : 0.0);
  } else if (!strcmp(path, "/marker") && argc >= 1 && types[0] == 's') {
    /* "/marker s NAME" locates to the first marker of that name; nothing when there is none (seen on real
     * Ardour 7.3, 2026-12-06: /locate 0, /marker s N52 -> /position/samples "1248000") */
    for (int i = 0; i < s->nmarkers; i++)
      if (s->markers[i].name && !strcmp(s->markers[i].name, mk_as(argv, 0))) {
        s->position = s->markers[i].pos;
        position_fb(m, &to);
        break;
      }
  } else if (!strcmp(path, "/add_marker")) {
    /* real Ardour 7.3 adds a second marker at a position that already has one (seen 2026-12-06: 8 "M1" markers
     * where "TestMk1" was, counted in the saved session file) */
    int n = 1;
    for (int i = 0; i < s->nmarkers; i++)
      if (s->markers[i].number >= n) n = s->markers[i].number + 1;
    char name[128];
    /* "/add_marker s NAME" names it (seen on real Ardour 7.3); without a name Ardour numbers it "markN" */
    if (argc >= 1 && types[0] == 's' && *mk_as(argv, 0))
      snprintf(name, sizeof name, "%s", mk_as(argv, 0));
    else
      snprintf(name, sizeof name, "mark%d", n);
    s->markers = realloc(s->markers, sizeof *s->markers * (size_t)(s->nmarkers + 1));
    s->markers[s->nmarkers++] = (struct mk_marker){n, mk_strdup(name), s->position};
    s->saved = 0;
    marker_fb(m, &to, 0);
  } else if (!strcmp(path, "/save_state")) {
    s->saved = 1;
    mk_log(m, "session saved");
    if (a->feedback & 16) mk_send_msg(m, &to, 0, "/session_name", "s", m->project);
  } else if (!strcmp(path, "/undo") || !strcmp(path, "/redo") || !strncmp(path, "/access_action", 14)) {
    /* headless luasession: /access_action goes to a signal nothing listens to; /undo and /redo are access
     * actions (ardour-osc.md §4) */
    mk_log(m, "%s%s%s: no effect in a headless session", path, argc && types[0] == 's' ? " " : "",
           argc && types[0] == 's' ? mk_as(argv, 0) : "");
  } else if (!strcmp(path, "/master/gain")) {
    if (!num(types, argv, argc, 0, &v)) return;
    s->master_db = gain_db_roundtrip(fmin(6, v));
    if (a->feedback & 16) mk_send_msg(m, &to, 0, "/master/gain", "f", s->master_db);
  } else if (!strcmp(path, "/master/mute")) {
    if (!num(types, argv, argc, 0, &v)) return;
    s->master_mute = v != 0;
    if (a->feedback & 16) mk_send_msg(m, &to, 0, "/master/mute", "f", (double)s->master_mute);
  } else if (!strcmp(path, "/bank_up") || !strcmp(path, "/bank_down")) {
    if (a->bank_size > 0) {
      int nvis = 0;
      for (int i = 0; i < s->ntracks; i++) nvis += visible(m, s->tracks[i]);
      if (path[6] == 'u' && a->bank_start + a->bank_size < nvis) a->bank_start += a->bank_size;
      if (path[6] == 'd') a->bank_start = a->bank_start >= a->bank_size ? a->bank_start - a->bank_size : 0;
      all_strips_dump(m, &to);
    }
  } else {
    mk_log(m, "unknown address %s (ignored)", path);
  }
}

static void ar_after_packet(mock_t *m) { (void)m; }

static void ar_reset(mock_t *m, int startup) {
  (void)startup;
  struct ar *a = AR(m);
  memset(a, 0, sizeof *a);
  a->strip_types = 159; /* defaults: bank 0, strip_types 159, feedback 0, gainmode 0, reply port 8000 */
  a->port = m->cfg.feedback_port;
}

static void ar_tracks_changed(mock_t *m) {
  struct ar *a = AR(m);
  if (!a->registered) return;
  struct sockaddr_in to = dest(m, NULL);
  mk_send_msg(m, &to, 0, "/strip/list", ""); /* "strip list changed, refresh" (seen in GUI mode) */
}

static void ar_track_changed(mock_t *m, struct mk_track *t) {
  struct ar *a = AR(m);
  int ssid = ssid_of(m, t);
  if (!a->registered || !ssid || !(a->feedback & 1)) return;
  struct sockaddr_in to = dest(m, NULL);
  strip_msg(m, &to, ssid, "name", 's', 0, t->name);
}

static void ar_free(mock_t *m) {
  free(m->dl);
  m->dl = NULL;
}

const struct mk_dialect_ops mk_ardour_ops = {ar_handle,         ar_after_packet,  ar_reset,
                                             ar_tracks_changed, ar_track_changed, ar_free};

int mk_ardour_init(mock_t *m) {
  struct ar *a = calloc(1, sizeof *a);
  if (!a) return MOCK_ENOMEM;
  m->dl = a;
  a->strip_types = 159;
  a->port = m->cfg.feedback_port;
  return MOCK_OK;
}
