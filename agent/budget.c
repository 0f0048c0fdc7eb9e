/* budget: the stage-1 session text within a token budget. See budget.h. */
#include "budget.h"

#include "context.h"
#include "jsonget.h"
#include "notation.h"
#include "strbuf.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *budget_strerror(int code) {
  switch (code) {
  case BUDGET_OK: return "ok";
  case BUDGET_ERR_ARG: return "bad argument";
  case BUDGET_ERR_NOMEM: return "out of memory";
  default: return "unknown budget error";
  }
}

/* ---- token estimate ------------------------------------------------------------------------- */

size_t budget_tokens_n(const char *s, size_t n) {
  if (!s) return 0;
  size_t t = 0, i = 0;
  while (i < n && s[i]) {
    unsigned char c = (unsigned char)s[i];
    if (isalpha(c)) {
      size_t j = i;
      while (j < n && s[j] && isalpha((unsigned char)s[j])) j++;
      t += (j - i + 3) / 4;
      i = j;
    } else if (isdigit(c)) {
      size_t j = i;
      while (j < n && s[j] && isdigit((unsigned char)s[j])) j++;
      t += (j - i + 2) / 3;
      i = j;
    } else if (isspace(c)) {
      size_t j = i;
      while (j < n && s[j] && isspace((unsigned char)s[j])) j++;
      /* one space before a word or number is part of it */
      if (!(j - i == 1 && c == ' ' && j < n && s[j] && isalnum((unsigned char)s[j]))) t++;
      i = j;
    } else if (c >= 0x80) {
      size_t j = i + 1;
      while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
      t++;
      i = j;
    } else {
      /* punctuation: BPE vocabularies hold the common pairs ("{\"", "\":", "\",", "],") as one token */
      size_t j = i;
      while (j < n && s[j] && ispunct((unsigned char)s[j])) j++;
      if (j == i) /* a control character: one token */
        j = i + 1;
      t += (j - i + 1) / 2;
      i = j;
    }
  }
  return t;
}

size_t budget_tokens(const char *s) { return s ? budget_tokens_n(s, strlen(s)) : 0; }

/* ---- JSON into a strbuf (util/strbuf.h) ------------------------------------------------------ */

void budget_append_escaped(strbuf_t *b, const char *s) {
  for (const char *p = s ? s : ""; *p; p++) {
    if (*p == '<')
      strbuf_puts(b, "\\u003c");
    else if (*p == '>')
      strbuf_puts(b, "\\u003e");
    else if (*p == '`')
      strbuf_puts(b, "\\u0060");
    else {
      size_t run = strcspn(p, "<>`");
      strbuf_append(b, p, run);
      p += run - 1;
    }
  }
}

char *budget_escape(const char *s) {
  strbuf_t b = STRBUF_INIT;
  budget_append_escaped(&b, s);
  return strbuf_take(&b, NULL);
}

/* JSON (compact), escaped (budget_append_escaped). */
static void sb_json(strbuf_t *b, const json_t *j) {
  char *d = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6) | JSON_ENCODE_ANY);
  if (!d) {
    b->oom = 1;
    return;
  }
  budget_append_escaped(b, d);
  free(d);
}

static void sb_str(strbuf_t *b, const char *s) {
  /* fast path: nothing to escape */
  const char *p = s ? s : "";
  while (*p && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 && *p != '<' && *p != '>' && *p != '`' &&
         (unsigned char)*p < 0x7f)
    p++;
  if (!*p) {
    strbuf_append(b, "\"", 1);
    strbuf_puts(b, s ? s : "");
    strbuf_append(b, "\"", 1);
    return;
  }
  json_t *j = json_string(s ? s : "");
  if (!j) {
    b->oom = 1;
    return;
  }
  sb_json(b, j);
  json_decref(j);
}

/* ---- request: names, ids, bars -------------------------------------------------------------- */

int budget_request_bars(const char *request, int *first, int *last) {
  *first = *last = 0;
  if (!request) return 0;
  for (const char *p = request; *p; p++) {
    if (tolower((unsigned char)p[0]) != 'b' || tolower((unsigned char)p[1]) != 'a' ||
        tolower((unsigned char)p[2]) != 'r' || (p > request && isalpha((unsigned char)p[-1])))
      continue;
    const char *q = p + 3;
    if (tolower((unsigned char)*q) == 's') q++;
    while (*q == ' ') q++;
    if (!isdigit((unsigned char)*q)) continue;
    long a = strtol(q, (char **)&q, 10), z = a;
    const char *r = q;
    while (*r == ' ') r++;
    if (*r == '-' || !strncmp(r, "\xe2\x80\x93", 3) || !strncmp(r, "to ", 3) || !strncmp(r, "and ", 4) ||
        !strncmp(r, "through ", 8)) {
      r += *r == '-' ? 1 : (unsigned char)*r == 0xe2 ? 3 : r[0] == 't' && r[1] == 'o' ? 2 : r[0] == 'a' ? 3 : 7;
      while (*r == ' ') r++;
      if (isdigit((unsigned char)*r)) z = strtol(r, NULL, 10);
    }
    if (a >= 1 && z >= a && z <= 100000) {
      *first = (int)a;
      *last = (int)z;
      return 1;
    }
  }
  return 0;
}

/* Lower-cased copy with every non-alphanumeric byte a space, padded with a space at both ends. */
static char *words_of(const char *s) {
  size_t n = s ? strlen(s) : 0;
  char *w = malloc(n + 3);
  if (!w) return NULL;
  w[0] = ' ';
  for (size_t i = 0; i < n; i++) w[i + 1] = isalnum((unsigned char)s[i]) ? (char)tolower((unsigned char)s[i]) : ' ';
  w[n + 1] = ' ';
  w[n + 2] = 0;
  return w;
}

/* Does the request (words_of) name this track: its id as a word, or a word (>= 3 letters) of its name as the
 * start of a request word, or "drum(s)"/"beat" for a drum track? */
static int named_in(const char *req, const char *id, const char *name, int drums) {
  if (!req) return 0;
  char buf[80];
  if (id && strlen(id) < sizeof buf - 3) {
    snprintf(buf, sizeof buf, " %s ", id);
    for (char *p = buf; *p; p++) *p = (char)tolower((unsigned char)*p);
    if (strstr(req, buf)) return 1;
  }
  if (drums && (strstr(req, " drum") || strstr(req, " beat ") || strstr(req, " groove"))) return 1;
  char *nw = words_of(name);
  if (!nw) return 0;
  int hit = 0;
  for (char *p = nw; *p && !hit;) {
    while (*p == ' ') p++;
    char *e = p;
    while (*e && *e != ' ') e++;
    size_t len = (size_t)(e - p);
    if (len >= 3 && len < sizeof buf - 2) {
      buf[0] = ' ';
      memcpy(buf + 1, p, len);
      buf[len + 1] = 0;
      if (strstr(req, buf)) hit = 1;
    }
    p = e;
  }
  free(nw);
  return hit;
}

/* ---- one track at each level ---------------------------------------------------------------- */

enum { LV_ELIDED, LV_NAME, LV_DETAIL, LV_FULL };

typedef struct {
  const json_t *t;  /* borrowed track */
  const json_t *an; /* borrowed analysis of the track (or NULL) */
  int relevant, drums, notes;
  int level;
  char *text[4]; /* rendered line per level (NULL = not rendered) */
  size_t tok[4];
  size_t shown; /* notes written at LV_FULL */
} trk_t;

/* A copy of the track without host ids, clips and (unless keep_params) plugin parameters. */
static json_t *track_base(const json_t *t, int keep_params) {
  json_t *o = json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)t, k, v) {
    if (!strcmp(k, "host_id") || !strcmp(k, "clips")) continue;
    if (!strcmp(k, "fx") && json_is_array(v) && !keep_params) {
      json_t *fx = json_array();
      size_t i;
      json_t *f;
      json_array_foreach(v, i, f) {
        json_t *c = json_object();
        const char *fk;
        json_t *fv;
        json_object_foreach(f, fk, fv) {
          if (!strcmp(fk, "params")) {
            if (json_array_size(fv))
              json_object_set_new(c, "params_total", json_integer((json_int_t)json_array_size(fv)));
          } else if (strcmp(fk, "host_id")) {
            json_object_set(c, fk, fv);
          }
        }
        json_array_append_new(fx, c);
      }
      json_object_set_new(o, k, fx);
      continue;
    }
    json_object_set(o, k, v);
  }
  return o;
}

/* The musical summary of a clip: bars, notes, range, density, chord per bar, rhythm sketch. */
static char *clip_summary(const json_t *clip, double bpb, int drums) {
  strbuf_t b = STRBUF_INIT;
  double cs = jnum_or(json_object_get(clip, "start"), 0), cl = jnum_or(json_object_get(clip, "length"), 0);
  if (!isfinite(cs) || fabs(cs) > CONTEXT_MAX_TIME) cs = 0;
  if (!isfinite(cl) || cl < 0 || cl > CONTEXT_MAX_TIME) cl = 0;
  const json_t *notes = json_object_get(clip, "notes");
  size_t nn = json_array_size(notes);
  int bar0 = (int)floor(cs / bpb + 1e-9) + 1, bar1 = cl > 0 ? (int)ceil((cs + cl) / bpb - 1e-9) : bar0;
  if (bar1 < bar0) bar1 = bar0;
  strbuf_appendf(&b, "bars %d-%d", bar0, bar1);
  if (!nn) {
    strbuf_puts(&b, ", empty");
    return strbuf_take(&b, NULL);
  }
  int lo = 128, hi = -1;
  enum { MAXB = 64 };
  unsigned masks[MAXB] = {0};
  double w[MAXB][12];
  int bass[MAXB];
  memset(w, 0, sizeof w);
  for (int i = 0; i < MAXB; i++) bass[i] = -1;
  int steps = (int)lround(bpb * 4);
  if (steps < 1 || steps > 64) steps = 16;
  char rhythm[65];
  memset(rhythm, '.', (size_t)steps);
  rhythm[steps] = 0;
  int rbar = -1;
  size_t i;
  const json_t *n;
  json_array_foreach(notes, i, n) {
    int p = jint_in(json_object_get(n, "n"), 0, 127, -1);
    double s = jnum_or(json_object_get(n, "s"), -1), d = jnum_or(json_object_get(n, "d"), 0);
    if (p < 0 || p > 127 || !(s >= 0) || !(d > 0) || s > CONTEXT_MAX_TIME || d > CONTEXT_MAX_TIME) continue;
    if (p < lo) lo = p;
    if (p > hi) hi = p;
    double abs_s = cs + s;
    int bar = (int)floor(abs_s / bpb + 1e-9) + 1 - bar0;
    if (rbar < 0) rbar = bar;
    if (bar == rbar) {
      int st = (int)floor((abs_s - (bar + bar0 - 1) * bpb) * 4 + 1e-6);
      if (st >= 0 && st < steps) rhythm[st] = 'x';
    }
    /* weight in each bar it sounds in */
    for (int k = bar < 0 ? 0 : bar; k < MAXB; k++) {
      double bs = (k + bar0 - 1) * bpb, be = bs + bpb;
      double ov = fmin(abs_s + d, be) - fmax(abs_s, bs);
      if (ov <= 0) break;
      w[k][p % 12] += ov;
      if (bass[k] < 0 || p < bass[k]) bass[k] = p;
    }
  }
  char lon[8] = "?", hin[8] = "?";
  notation_note_name(lo, lon, sizeof lon);
  notation_note_name(hi, hin, sizeof hin);
  int nbars = bar1 - bar0 + 1;
  strbuf_appendf(&b, ", %zu notes %s-%s, %.1f/bar", nn, lon, hin, (double)nn / nbars);
  if (!drums) {
    strbuf_puts(&b, ", chords by bar:");
    int shown = nbars < MAXB ? nbars : MAXB;
    if (shown > 16) shown = 16;
    for (int k = 0; k < shown; k++) {
      for (int pc = 0; pc < 12; pc++)
        if (w[k][pc] >= 0.5 - 1e-9) masks[k] |= 1u << pc;
      char name[32] = "";
      if (masks[k]) context_chord_name(masks[k], bass[k] >= 0 ? bass[k] % 12 : -1, -1, name, sizeof name);
      if (!name[0] && masks[k]) {
        /* no chord: the pitch classes */
        size_t o = 0;
        for (int pc = 0; pc < 12 && o + 4 < sizeof name; pc++)
          if (masks[k] & (1u << pc))
            o += (size_t)snprintf(name + o, sizeof name - o, "%s%s", o ? "." : "", notation_pc_name(pc, 0));
      }
      strbuf_appendf(&b, " %s", name[0] ? name : "-");
    }
    if (nbars > shown) strbuf_puts(&b, " ...");
  }
  if (rbar >= 0) strbuf_appendf(&b, ", rhythm bar %d: %s", rbar + bar0, rhythm);
  return strbuf_take(&b, NULL);
}

static const char *kwords[] = {"drums",   "muted",         "note_count",    "lowest",
                               "highest", "notes_per_bar", "on_beat_share", NULL};

static json_t *track_music(const json_t *an) {
  if (!an || !json_integer_value(json_object_get(an, "note_count"))) return NULL;
  json_t *m = json_object();
  for (int i = 0; kwords[i]; i++) {
    const json_t *v = json_object_get(an, kwords[i]);
    if (v && !(json_is_false(v))) json_object_set(m, kwords[i], (json_t *)v);
  }
  const json_t *d = json_array_get(json_object_get(an, "common_durations"), 0);
  if (json_is_string(json_object_get(d, "name"))) json_object_set(m, "common_duration", json_object_get(d, "name"));
  const json_t *ds = json_object_get(an, "drum_sounds");
  if (json_array_size(ds)) json_object_set(m, "drum_sounds", (json_t *)ds);
  return m;
}

static char *render_name(const json_t *t) {
  strbuf_t b = STRBUF_INIT;
  strbuf_puts(&b, "{\"id\":");
  sb_str(&b, json_string_value(json_object_get(t, "id")));
  strbuf_puts(&b, ",\"name\":");
  sb_str(&b, json_string_value(json_object_get(t, "name")));
  const char *ty = json_string_value(json_object_get(t, "type"));
  if (ty) {
    strbuf_puts(&b, ",\"type\":");
    sb_str(&b, ty);
  }
  strbuf_puts(&b, "}");
  return strbuf_take(&b, NULL);
}

static char *render_detail(const trk_t *tk, double bpb) {
  json_t *o = track_base(tk->t, 0);
  json_t *m = track_music(tk->an);
  if (m) json_object_set_new(o, "music", m);
  json_t *clips = json_array();
  size_t i;
  const json_t *c;
  json_array_foreach(json_object_get(tk->t, "clips"), i, c) {
    json_t *cc = json_object();
    const char *keys[] = {"id", "name", "start", "length"};
    for (int k = 0; k < 4; k++)
      if (json_object_get(c, keys[k])) json_object_set(cc, keys[k], json_object_get(c, keys[k]));
    json_object_set_new(cc, "notes_total", json_integer((json_int_t)json_array_size(json_object_get(c, "notes"))));
    char *s = clip_summary(c, bpb, tk->drums);
    if (s) json_object_set_new(cc, "summary", json_string(s));
    free(s);
    json_array_append_new(clips, cc);
  }
  json_object_set_new(o, "clips", clips);
  strbuf_t b = STRBUF_INIT;
  sb_json(&b, o);
  json_decref(o);
  return strbuf_take(&b, NULL);
}

/* The track with its notes as [[n,s,d,v]]: at most max_notes per track, only those starting in [from, to)
 * (absolute beats; to < 0: no limit). *shown gets the count written. */
static char *render_full(const trk_t *tk, size_t max_notes, double from, double to, size_t *shown) {
  json_t *o = track_base(tk->t, 1);
  json_t *m = track_music(tk->an);
  if (m) json_object_set_new(o, "music", m);
  strbuf_t b = STRBUF_INIT;
  sb_json(&b, o);
  json_decref(o);
  if (b.oom || b.len < 2) return strbuf_take(&b, NULL);
  b.len--; /* reopen the object: drop '}' */
  strbuf_puts(&b, ",\"clips\":[");
  *shown = 0;
  size_t i;
  const json_t *c;
  json_array_foreach(json_object_get(tk->t, "clips"), i, c) {
    double cs = jnum_or(json_object_get(c, "start"), 0);
    json_t *head = json_object();
    const char *keys[] = {"id", "name", "start", "length"};
    for (int k = 0; k < 4; k++)
      if (json_object_get(c, keys[k])) json_object_set(head, keys[k], json_object_get(c, keys[k]));
    strbuf_puts(&b, i ? "," : "");
    size_t mark = b.len;
    sb_json(&b, head);
    json_decref(head);
    if (b.oom) break;
    b.len = b.len > mark ? b.len - 1 : b.len;
    const json_t *notes = json_object_get(c, "notes");
    size_t total = json_array_size(notes), here = 0;
    strbuf_puts(&b, b.s[b.len - 1] == '{' ? "\"notes_nsdv\":[" : ",\"notes_nsdv\":[");
    size_t j;
    const json_t *n;
    json_array_foreach(notes, j, n) {
      double s = jnum_or(json_object_get(n, "s"), 0);
      if (to >= 0 && (cs + s < from || cs + s >= to)) continue;
      if (*shown >= max_notes) break;
      strbuf_appendf(&b, "%s[%d,%g,%g,%d]", here ? "," : "", jint_in(json_object_get(n, "n"), 0, 127, 0), s,
                     jnum_or(json_object_get(n, "d"), 0), jint_in(json_object_get(n, "v"), 0, 127, 0));
      here++;
      (*shown)++;
    }
    strbuf_appendf(&b, "],\"notes_total\":%zu", total);
    if (here < total) strbuf_appendf(&b, ",\"notes_shown\":%zu", here);
    strbuf_puts(&b, "}");
  }
  strbuf_puts(&b, "]}");
  return strbuf_take(&b, NULL);
}

/* ---- the whole session ---------------------------------------------------------------------- */

static char *context_without_tracks(const json_t *analysis) {
  json_t *c = json_copy((json_t *)analysis);
  if (!c) return NULL;
  json_object_del(c, "tracks");
  char *s = context_to_text(c);
  json_decref(c);
  char *e = s ? budget_escape(s) : NULL;
  free(s);
  return e;
}

/* Cut text to whole lines within max tokens, ending with a line saying so. */
static void cut_lines(char *s, size_t max) {
  size_t used = 0;
  char *p = s;
  while (*p) {
    char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
    size_t t = budget_tokens_n(p, len);
    if (used + t + 12 > max) {
      strcpy(p, "(rest of the analysis cut to fit the budget)\n");
      return;
    }
    used += t;
    p += len;
  }
}

typedef struct {
  const trk_t *tk;
  size_t i;
} prio_t;

static int prio_rank(const trk_t *t) { return t->relevant ? 0 : t->notes ? 1 : 2; }

static int cmp_prio_q(const void *a, const void *b) {
  const prio_t *x = a, *y = b;
  int rx = prio_rank(x->tk), ry = prio_rank(y->tk);
  if (rx != ry) return rx - ry;
  return (x->i > y->i) - (x->i < y->i);
}

int budget_session(const json_t *state, const json_t *analysis, const char *request, size_t max_tokens,
                   char **state_text, char **context_text, struct budget_stats *stats) {
  if (!state_text || !context_text) return BUDGET_ERR_ARG;
  *state_text = *context_text = NULL;
  struct budget_stats st = {0};
  json_t *own = NULL;
  if (!analysis) analysis = own = context_analyze(state);
  if (!analysis) return BUDGET_ERR_NOMEM;
  double bpb = jnum_or(json_object_get(analysis, "beats_per_bar"), 4);
  if (!(bpb >= 0.25 && bpb <= 64)) bpb = 4; /* bars are ints: a caller's analysis must not overflow them */

  char *ctx = context_without_tracks(analysis);
  if (!ctx) {
    json_decref(own);
    return BUDGET_ERR_NOMEM;
  }
  size_t ctx_tok = budget_tokens(ctx);
  if (ctx_tok > max_tokens / 3) {
    cut_lines(ctx, max_tokens / 3);
    ctx_tok = budget_tokens(ctx);
  }

  const json_t *tracks = json_object_get(state, "tracks");
  size_t nt = json_array_size(tracks);
  trk_t *tk = calloc(nt ? nt : 1, sizeof *tk);
  prio_t *order = calloc(nt ? nt : 1, sizeof *order);
  char *req = words_of(request);
  if (!tk || !order || !req) {
    free(tk);
    free(order);
    free(req);
    free(ctx);
    json_decref(own);
    return BUDGET_ERR_NOMEM;
  }
  int bar_a = 0, bar_z = 0;
  budget_request_bars(request, &bar_a, &bar_z);
  double from = bar_a ? (bar_a - 1) * bpb : 0, to = bar_a ? bar_z * bpb : -1;
  const json_t *atr = json_object_get(analysis, "tracks");
  int any_named = 0;
  for (size_t i = 0; i < nt; i++) {
    tk[i].t = json_array_get(tracks, i);
    tk[i].an = json_array_get(atr, i);
    const char *id = json_string_value(json_object_get(tk[i].t, "id"));
    const char *aid = json_string_value(json_object_get(tk[i].an, "id"));
    if (tk[i].an && (!id || !aid || strcmp(id, aid))) tk[i].an = NULL;
    tk[i].drums = json_is_true(json_object_get(tk[i].an, "drums"));
    size_t k;
    const json_t *c;
    json_array_foreach(json_object_get(tk[i].t, "clips"), k, c) tk[i].notes +=
        (int)json_array_size(json_object_get(c, "notes"));
    st.notes_total += (size_t)tk[i].notes;
    tk[i].relevant = named_in(req, id, json_string_value(json_object_get(tk[i].t, "name")), tk[i].drums);
    any_named |= tk[i].relevant;
    order[i] = (prio_t){.tk = &tk[i], .i = i};
  }
  free(req);
  qsort(order, nt, sizeof *order, cmp_prio_q);

  /* header */
  strbuf_t hb = STRBUF_INIT;
  json_t *top = json_object();
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)state, k, v) {
    if (strcmp(k, "tracks") && strcmp(k, "markers") && strcmp(k, "format")) json_object_set(top, k, v);
  }
  strbuf_puts(&hb, "session: ");
  sb_json(&hb, top);
  json_decref(top);
  const json_t *mk = json_object_get(state, "markers");
  if (json_array_size(mk)) {
    strbuf_puts(&hb, "\nmarkers: [");
    size_t i;
    const json_t *m;
    json_array_foreach(mk, i, m) {
      if (i >= 32) {
        strbuf_appendf(&hb, "] (and %zu more markers)", json_array_size(mk) - 32);
        break;
      }
      strbuf_puts(&hb, i ? "," : "");
      sb_json(&hb, m);
    }
    if (json_array_size(mk) <= 32) strbuf_puts(&hb, "]");
  }
  strbuf_puts(&hb, "\n");
  size_t used = budget_tokens(hb.s) + ctx_tok + 110 /* the track-count line and the elision line */;

  /* level by level, in priority order: the tracks the request names first, up to name, detail and notes
     * (within 60% of the budget), then every other track by name, then as a summary, then (when the request
     * names no track) with its notes */
  size_t named_cap = used + (max_tokens > used ? (max_tokens - used) * 6 / 10 : 0);
  for (int pass = 0; pass < 4; pass++) {
    int misses = 0; /* tracks in a row that did not fit: past 16 the rest will not either */
    for (size_t r = 0; r < nt && misses < 16; r++) {
      trk_t *t = &tk[order[r].i];
      int before = t->level;
      int want;
      size_t cap = max_tokens;
      if (pass == 0) {
        if (!t->relevant) break; /* relevant ones come first in the order */
        want = LV_FULL;
        cap = named_cap;
      } else if (pass == 1) {
        want = LV_NAME;
      } else if (pass == 2) {
        want = LV_DETAIL;
      } else {
        if (any_named) break;
        want = LV_FULL;
      }
      for (int lv = t->level + 1; lv <= want; lv++) {
        size_t cur = t->level ? t->tok[t->level] : 0;
        if (used > cap) break;
        if (t->text[lv]) {
          /* rendered in an earlier pass that had no room for it */
        } else if (lv == LV_NAME) {
          t->text[LV_NAME] = render_name(t->t);
          t->tok[LV_NAME] = budget_tokens(t->text[LV_NAME]) + 1;
        } else if (lv == LV_DETAIL) {
          t->text[LV_DETAIL] = render_detail(t, bpb);
          t->tok[LV_DETAIL] = budget_tokens(t->text[LV_DETAIL]) + 1;
        } else {
          if (!t->notes) break;
          size_t room = cap - used + cur;
          if (room < cur + 48) break; /* not even a few notes would fit */
          size_t maxn = (size_t)t->notes, shown = 0;
          for (int tries = 0; tries < 4; tries++) {
            char *fs = render_full(t, maxn, from, to, &shown);
            size_t tok = budget_tokens(fs) + 1;
            if (fs && tok <= room) {
              t->text[LV_FULL] = fs;
              t->tok[LV_FULL] = tok;
              t->shown = shown;
              break;
            }
            free(fs);
            if (!shown) break;
            /* scale down by the overshoot */
            size_t base = tok > shown * 8 ? tok - shown * 8 : 0;
            maxn = room > base ? (room - base) / 9 : 0;
            if (maxn >= shown) maxn = shown / 2;
            if (!maxn) break;
          }
          if (!t->text[LV_FULL]) break;
        }
        if (!t->text[lv]) break; /* out of memory: stay at the level below */
        if (used - cur + t->tok[lv] > cap) break;
        used = used - cur + t->tok[lv];
        t->level = lv;
      }
      if (t->level == before || (pass == 0 && t->level < LV_FULL))
        misses++;
      else
        misses = 0;
    }
  }

  /* write out in session order */
  size_t first_el = (size_t)-1, last_el = 0;
  for (size_t i = 0; i < nt; i++) {
    switch (tk[i].level) {
    case LV_FULL: st.full++, st.notes_shown += tk[i].shown; break;
    case LV_DETAIL: st.detail++; break;
    case LV_NAME: st.name_only++; break;
    default:
      st.elided++;
      if (first_el == (size_t)-1) first_el = i;
      last_el = i;
    }
  }
  st.tracks = nt;
  strbuf_appendf(&hb, "tracks: %zu (%zu with notes in full, %zu as summaries, %zu by name only, %zu not shown)%s\n", nt,
                 st.full, st.detail, st.name_only, st.elided,
                 nt ? "; one JSON object per line, notes_nsdv = [note, start, duration, velocity]" : "");
  if (bar_a && st.full)
    strbuf_appendf(&hb, "(notes in full only for bars %d-%d, as the request names them)\n", bar_a, bar_z);
  for (size_t i = 0; i < nt; i++) {
    if (tk[i].level == LV_ELIDED) continue;
    strbuf_puts(&hb, tk[i].text[tk[i].level]);
    strbuf_puts(&hb, "\n");
  }
  if (st.elided) {
    strbuf_appendf(&hb, "... %zu more tracks not shown to keep this prompt within its budget (", st.elided);
    sb_str(&hb, json_string_value(json_object_get(json_array_get(tracks, first_el), "id")));
    strbuf_puts(&hb, " ... ");
    sb_str(&hb, json_string_value(json_object_get(json_array_get(tracks, last_el), "id")));
    strbuf_puts(&hb, "); use only ids shown here, or name the track in the request\n");
  }
  for (size_t i = 0; i < nt; i++)
    for (int l = 0; l < 4; l++) free(tk[i].text[l]);
  free(tk);
  free(order);
  json_decref(own);
  char *s = strbuf_take(&hb, NULL);
  if (!s) {
    free(ctx);
    return BUDGET_ERR_NOMEM;
  }
  size_t n = strlen(s);
  while (n && s[n - 1] == '\n') s[--n] = 0;
  n = strlen(ctx);
  while (n && ctx[n - 1] == '\n') ctx[--n] = 0;
  st.tokens = budget_tokens(s) + budget_tokens(ctx);
  if (stats) *stats = st;
  *state_text = s;
  *context_text = ctx;
  return BUDGET_OK;
}
