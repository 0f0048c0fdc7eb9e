/* instmap: instrument roles -> a DAW's real plugins, from data. See instmap.h. */
#include "instmap.h"
#include "errfmt.h"
#include "datadir.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DAW_FORMAT "dawbridge.instruments/1"
#define ROLES_FORMAT "dawbridge.instrument-roles/1"

struct instmap {
  json_t *doc; /* {"daw": ..., "roles": ...} */
};

const char *instmap_strerror(int code) {
  switch (code) {
  case INSTMAP_OK: return "ok";
  case INSTMAP_EIO: return "cannot read the instrument map";
  case INSTMAP_EFORMAT: return "malformed instrument map";
  case INSTMAP_ENOTFOUND: return "no such instrument plugin in this DAW";
  case INSTMAP_EARG: return "invalid argument";
  case INSTMAP_ENOMEM: return "out of memory";
  case INSTMAP_ENOMAP: return "no instrument map for this DAW";
  default: return "unknown instmap error";
  }
}

/* ---------------- validation ---------------- */

static int is_unit(const json_t *v) {
  return json_is_number(v) && json_number_value(v) >= 0.0 && json_number_value(v) <= 1.0;
}

static int check_roles(const json_t *r, const char *f, char *err, size_t errlen) {
  if (!json_is_object(r)) return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: the top level must be an object", f);
  const char *fmt = json_string_value(json_object_get(r, "format"));
  if (!fmt || strcmp(fmt, ROLES_FORMAT))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: format must be \"%s\"", f, ROLES_FORMAT);
  const json_t *fams = json_object_get(r, "families");
  if (!json_is_array(fams) || json_array_size(fams) != 16)
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: families must be the 16 General MIDI family names", f);
  size_t i;
  const json_t *e;
  json_array_foreach(fams, i, e) if (!json_is_string(e)) return errfmt(err, errlen, INSTMAP_EFORMAT,
                                                                       "%s: families[%zu] is not a string", f, i);
  const json_t *progs = json_object_get(r, "programs");
  if (!json_is_array(progs) || json_array_size(progs) != 128)
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: programs must list the 128 General MIDI programs", f);
  json_array_foreach(progs, i, e) {
    const json_t *p = json_object_get(e, "program");
    if (!json_is_integer(p) || json_integer_value(p) != (json_int_t)i + 1)
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: programs[%zu].program must be %zu", f, i, i + 1);
    if (!json_is_string(json_object_get(e, "name")))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: programs[%zu].name must be a string", f, i);
    const char *fam = json_string_value(json_object_get(e, "family"));
    const json_t *want = json_array_get(fams, i / 8);
    if (!fam || strcmp(fam, json_string_value(want)))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: programs[%zu].family must be \"%s\"", f, i,
                    json_string_value(want));
  }
  const json_t *ch = json_object_get(r, "drum_channel");
  if (!json_is_integer(ch) || json_integer_value(ch) < 1 || json_integer_value(ch) > 16)
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: drum_channel must be a MIDI channel 1..16", f);
  json_array_foreach(json_object_get(r, "drum_notes"), i, e) {
    const json_t *n = json_object_get(e, "note");
    if (!json_is_integer(n) || json_integer_value(n) < 0 || json_integer_value(n) > 127 ||
        !json_is_string(json_object_get(e, "name")))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: drum_notes[%zu] must be {\"note\": 0..127, \"name\": string}", f,
                    i);
  }
  const char *k;
  const json_t *v;
  if (!json_is_object(json_object_get(r, "drum_words")))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: drum_words must be an object {word: GM drum note}", f);
  json_object_foreach((json_t *)json_object_get(r, "drum_words"), k, v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 127)
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: drum_words.%s must be a MIDI note 0..127", f, k);
  }
  if (!json_is_object(json_object_get(r, "words")))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: words must be an object {word: GM program}", f);
  json_object_foreach((json_t *)json_object_get(r, "words"), k, v) {
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 128)
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: words.%s must be a General MIDI program 1..128", f, k);
  }
  const json_t *tp = json_object_get(r, "third_party_plugins");
  if (tp && !json_is_array(tp))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: third_party_plugins must be an array of names", f);
  json_array_foreach(tp, i, e) if (!json_is_string(e)) return errfmt(
      err, errlen, INSTMAP_EFORMAT, "%s: third_party_plugins[%zu] is not a string", f, i);
  return INSTMAP_OK;
}

static const json_t *plugin_by_name(const json_t *daw, const char *name) {
  size_t i;
  const json_t *p;
  json_array_foreach(json_object_get(daw, "plugins"), i, p) {
    const char *n = json_string_value(json_object_get(p, "name"));
    if (n && name && !strcmp(n, name)) return p;
  }
  return NULL;
}

static int check_daw(const json_t *d, const char *f, const json_t *roles, char *err, size_t errlen) {
  if (!json_is_object(d)) return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: the top level must be an object", f);
  const char *fmt = json_string_value(json_object_get(d, "format"));
  if (!fmt || strcmp(fmt, DAW_FORMAT))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: format must be \"%s\"", f, DAW_FORMAT);
  if (!json_is_string(json_object_get(d, "dialect")))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: dialect must be a string", f);
  const json_t *pl = json_object_get(d, "plugins");
  if (!json_is_array(pl) || !json_array_size(pl))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: plugins must be a non-empty array of {name, aliases}", f);
  size_t i, k;
  const json_t *e, *a;
  json_array_foreach(pl, i, e) {
    if (!json_is_string(json_object_get(e, "name")) || !*json_string_value(json_object_get(e, "name")))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: plugins[%zu].name must be a non-empty string", f, i);
    const json_t *al = json_object_get(e, "aliases");
    if (al && !json_is_array(al))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: plugins[%zu].aliases must be an array of strings", f, i);
    json_array_foreach(al, k, a) if (!json_is_string(a)) return errfmt(
        err, errlen, INSTMAP_EFORMAT, "%s: plugins[%zu].aliases[%zu] is not a string", f, i, k);
    for (size_t j = 0; j < i; j++)
      if (!strcasecmp(json_string_value(json_object_get(json_array_get(pl, j), "name")),
                      json_string_value(json_object_get(e, "name"))))
        return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: plugins[%zu].name \"%s\" appears twice", f, i,
                      json_string_value(json_object_get(e, "name")));
  }
  const json_t *snd = json_object_get(d, "sounds");
  if (!json_is_object(snd))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: sounds must be an object {sound: {plugins}}", f);
  const char *key;
  const json_t *s;
  json_object_foreach((json_t *)snd, key, s) {
    const json_t *sp = json_object_get(s, "plugins");
    if (!json_is_array(sp) || !json_array_size(sp))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: sounds.%s.plugins must be a non-empty array of plugin names", f,
                    key);
    json_array_foreach(sp, k, a) {
      if (!json_is_string(a) || !plugin_by_name(d, json_string_value(a)))
        return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: sounds.%s.plugins[%zu] is not one of the map's plugins", f,
                      key, k);
    }
    const json_t *pa = json_object_get(s, "params");
    if (pa && !json_is_object(pa))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: sounds.%s.params must be an object {parameter: 0..1}", f, key);
    const char *pk;
    const json_t *pv;
    json_object_foreach((json_t *)pa, pk, pv) if (!is_unit(pv)) return errfmt(
        err, errlen, INSTMAP_EFORMAT, "%s: sounds.%s.params.%s must be a number 0..1", f, key, pk);
    const json_t *ch = json_object_get(s, "channel");
    if (ch && (!json_is_integer(ch) || json_integer_value(ch) < 1 || json_integer_value(ch) > 16))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: sounds.%s.channel must be a MIDI channel 1..16", f, key);
    const json_t *pr = json_object_get(s, "preset");
    if (pr && !json_is_string(pr))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: sounds.%s.preset must be a string", f, key);
  }
  const char *def = json_string_value(json_object_get(d, "default"));
  if (!def || !json_object_get(snd, def))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: default must name one of the sounds", f);
  if (!json_object_get(snd, "drums"))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: sounds has no \"drums\" entry (the GM drum kit)", f);
  json_array_foreach(json_object_get(roles, "families"), i, e) {
    if (!json_object_get(snd, json_string_value(e)))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: sounds has no entry for the General MIDI family \"%s\"", f,
                    json_string_value(e));
  }
  const json_t *w = json_object_get(d, "words");
  if (w && !json_is_object(w))
    return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: words must be an object {word: sound}", f);
  json_object_foreach((json_t *)w, key, s) {
    if (!json_is_string(s) || !json_object_get(snd, json_string_value(s)))
      return errfmt(err, errlen, INSTMAP_EFORMAT, "%s: words.%s must name one of the sounds", f, key);
  }
  return INSTMAP_OK;
}

int instmap_load_json(const json_t *daw, const char *name, const json_t *roles, const char *roles_name, instmap_t **out,
                      char *err, size_t errlen) {
  if (!out) return INSTMAP_EARG;
  *out = NULL;
  if (!name) name = "instrument map";
  if (!roles_name) roles_name = "roles";
  int rc = check_roles(roles, roles_name, err, errlen);
  if (rc) return rc;
  rc = check_daw(daw, name, roles, err, errlen);
  if (rc) return rc;
  instmap_t *m = calloc(1, sizeof *m);
  if (!m) return errfmt(err, errlen, INSTMAP_ENOMEM, "out of memory");
  /* deep copies: the caller's documents may change afterwards */
  m->doc = json_pack("{s:o,s:o}", "daw", json_deep_copy(daw), "roles", json_deep_copy(roles));
  if (!m->doc) {
    free(m);
    return errfmt(err, errlen, INSTMAP_ENOMEM, "out of memory");
  }
  *out = m;
  return INSTMAP_OK;
}

static json_t *read_json(const char *path, int *rc, char *err, size_t errlen) {
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  if (!j) *rc = errfmt(err, errlen, INSTMAP_EIO, "%s: line %d: %s", path, je.line, je.text);
  return j;
}

int instmap_load(const char *daw_path, const char *roles_path, instmap_t **out, char *err, size_t errlen) {
  if (!out || !daw_path || !roles_path) return INSTMAP_EARG;
  *out = NULL;
  int rc = 0;
  json_t *d = read_json(daw_path, &rc, err, errlen);
  if (!d) return rc;
  json_t *r = read_json(roles_path, &rc, err, errlen);
  if (!r) {
    json_decref(d);
    return rc;
  }
  rc = instmap_load_json(d, daw_path, r, roles_path, out, err, errlen);
  json_decref(d);
  json_decref(r);
  return rc;
}

int instmap_load_dialect(const char *dialect, instmap_t **out, char *err, size_t errlen) {
  if (!out || !dialect) return INSTMAP_EARG;
  *out = NULL;
  char src[1024], derr[512] = "";
  int drc = datadir_path(DATADIR_OSC_MAPS, src, sizeof src, derr, sizeof derr);
  if (drc) snprintf(src, sizeof src, "(%s)", derr);
  const char *dirs[2] = {getenv("DAWBRIDGE_MAPS"), drc ? NULL : src};
  char dp[1200], rp[1200];
  for (int i = 0; i < 2; i++) {
    if (!dirs[i] || !*dirs[i]) continue;
    snprintf(dp, sizeof dp, "%s/instruments/%s.json", dirs[i], dialect);
    if (access(dp, R_OK)) continue;
    snprintf(rp, sizeof rp, "%s/instruments/roles.json", dirs[i]);
    return instmap_load(dp, rp, out, err, errlen);
  }
  return errfmt(err, errlen, INSTMAP_ENOMAP, "no instrument map instruments/%s.json in $DAWBRIDGE_MAPS or %s", dialect,
                src);
}

void instmap_free(instmap_t *m) {
  if (!m) return;
  json_decref(m->doc);
  free(m);
}

const json_t *instmap_json(const instmap_t *m) { return m ? m->doc : NULL; }

const char *instmap_dialect(const instmap_t *m) {
  return m ? json_string_value(json_object_get(json_object_get(m->doc, "daw"), "dialect")) : NULL;
}

json_t *instmap_catalog(const instmap_t *m) {
  json_t *out = json_array();
  size_t i;
  const json_t *p;
  json_array_foreach(json_object_get(json_object_get(m->doc, "daw"), "plugins"), i, p) {
    json_t *al = json_object_get(p, "aliases");
    json_array_append_new(out, json_pack("{s:O,s:o}", "name", json_object_get(p, "name"), "aliases",
                                         al ? json_deep_copy(al) : json_array()));
  }
  return out;
}

json_t *instmap_role_examples(const instmap_t *m) {
  (void)m;
  static const char *const ex[] = {"kick",  "snare", "hat",    "clap",  "drums",  "808",     "bass",  "sub",
                                   "piano", "keys",  "rhodes", "organ", "guitar", "strings", "brass", "choir",
                                   "pad",   "lead",  "pluck",  "bells", "flute",  "sax"};
  json_t *a = json_array();
  for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) json_array_append_new(a, json_string(ex[i]));
  return a;
}

/* ---------------- resolution ---------------- */

/* lower case, '_' and '-' between letters as spaces, runs of spaces collapsed, trimmed */
static void normalize(const char *in, char *out, size_t outlen) {
  size_t o = 0;
  int space = 1;
  for (const char *p = in; *p && o + 1 < outlen; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '_' || isspace(c)) c = ' ';
    if (c == ' ') {
      if (!space) out[o++] = ' ';
      space = 1;
      continue;
    }
    out[o++] = (char)tolower(c);
    space = 0;
  }
  while (o && out[o - 1] == ' ') o--;
  out[o] = 0;
}

static const char *const type_prefixes[] = {"VSTi:", "VST:", "VST3i:", "VST3:", "LV2i:", "LV2:", "JS:",    "CLAPi:",
                                            "CLAP:", "AUi:", "AU:",    "DXi:",  "DX:",   "Lua:", "LADSPA:"};

/* "VSTi: Serum (Xfer Records)" -> "Serum (Xfer Records)", *prefixed = 1 */
static const char *strip_type(const char *w, int *prefixed) {
  *prefixed = 0;
  while (isspace((unsigned char)*w)) w++;
  for (size_t i = 0; i < sizeof type_prefixes / sizeof type_prefixes[0]; i++) {
    size_t l = strlen(type_prefixes[i]);
    if (!strncasecmp(w, type_prefixes[i], l)) {
      *prefixed = 1;
      w += l;
      while (isspace((unsigned char)*w)) w++;
      break;
    }
  }
  return w;
}

/* the DAW's plugin named (or aliased) w, also with a trailing " (Vendor)" removed */
static const json_t *find_plugin(const json_t *daw, const char *w) {
  size_t i, k;
  const json_t *p, *a;
  char nw[256], na[256];
  normalize(w, nw, sizeof nw);
  for (int pass = 0; pass < 2; pass++) {
    json_array_foreach(json_object_get(daw, "plugins"), i, p) {
      normalize(json_string_value(json_object_get(p, "name")), na, sizeof na);
      if (!strcmp(na, nw)) return p;
      json_array_foreach(json_object_get(p, "aliases"), k, a) {
        normalize(json_string_value(a), na, sizeof na);
        if (!strcmp(na, nw)) return p;
      }
    }
    char *paren = strrchr(nw, '(');
    if (pass || !paren || paren == nw) break;
    *paren = 0;
    normalize(nw, nw, sizeof nw);
  }
  return NULL;
}

static int is_third_party(const json_t *roles, const char *w) {
  char nw[256], na[256];
  normalize(w, nw, sizeof nw);
  char *paren = strrchr(nw, '(');
  if (paren && paren != nw) {
    *paren = 0;
    normalize(nw, nw, sizeof nw);
  }
  size_t i;
  const json_t *a;
  json_array_foreach(json_object_get(roles, "third_party_plugins"), i, a) {
    normalize(json_string_value(a), na, sizeof na);
    if (!strcmp(na, nw)) return 1;
  }
  return 0;
}

static const json_t *obj_get_ci(const json_t *obj, const char *key) {
  const json_t *v = json_object_get(obj, key);
  if (v) return v;
  const char *k;
  json_t *x;
  char nk[256];
  json_object_foreach((json_t *)obj, k, x) {
    normalize(k, nk, sizeof nk);
    if (!strcmp(nk, key)) return x;
  }
  return NULL;
}

/* The index in roles[list] of the entry whose normalized "name" is w, or -1. */
static int index_by_name(const json_t *roles, const char *list, const char *w) {
  size_t i;
  const json_t *p;
  char n[128];
  json_array_foreach(json_object_get(roles, list), i, p) {
    normalize(json_string_value(json_object_get(p, "name")), n, sizeof n);
    if (!strcmp(n, w)) return (int)i;
  }
  return -1;
}

/* GM program by name ("Electric Piano 1", "electric piano 1"): 1-based, 0 for none */
static int gm_program_by_name(const json_t *roles, const char *w) { return index_by_name(roles, "programs", w) + 1; }

static int gm_drum_by_name(const json_t *roles, const char *w) {
  int i = index_by_name(roles, "drum_notes", w);
  if (i < 0) return -1;
  const json_t *entry = json_array_get(json_object_get(roles, "drum_notes"), (size_t)i);
  return (int)json_integer_value(json_object_get(entry, "note"));
}

static int family_index(const json_t *roles, const char *w) {
  size_t i;
  const json_t *f;
  json_array_foreach(json_object_get(roles, "families"), i, f) {
    if (!strcmp(json_string_value(f), w)) return (int)i;
  }
  return -1;
}

struct hit {
  const char *sound; /* key into daw.sounds */
  int program;       /* 0 = none */
  int drum;          /* -1 = none */
};

/* one normalized word or phrase; returns 1 on a hit */
static int lookup(const json_t *doc, const char *w, struct hit *h) {
  const json_t *daw = json_object_get(doc, "daw"), *roles = json_object_get(doc, "roles");
  const json_t *sounds = json_object_get(daw, "sounds");
  h->sound = NULL, h->program = 0, h->drum = -1;
  const json_t *v;
  const char *k;
  json_t *x;
  /* a sound of this DAW by its own name (case-insensitive key) */
  json_object_foreach((json_t *)sounds, k, x) {
    char nk[128];
    normalize(k, nk, sizeof nk);
    if (!strcmp(nk, w)) {
      h->sound = k;
      v = obj_get_ci(json_object_get(roles, "words"), w);
      if (json_is_integer(v)) h->program = (int)json_integer_value(v);
      v = obj_get_ci(json_object_get(roles, "drum_words"), w);
      if (json_is_integer(v)) h->drum = (int)json_integer_value(v);
      int fam = family_index(roles, w);
      if (!h->program && fam >= 0) h->program = fam * 8 + 1;
      return 1;
    }
  }
  /* a DAW-specific word */
  v = obj_get_ci(json_object_get(daw, "words"), w);
  if (json_is_string(v)) {
    h->sound = json_string_value(v);
    return 1;
  }
  /* a General MIDI program by its exact name ("Whistle" is program 79, not the drum "Short Whistle") */
  int prog = gm_program_by_name(roles, w);
  if (prog) {
    h->program = prog;
    h->sound = json_string_value(json_array_get(json_object_get(roles, "families"), (size_t)(prog - 1) / 8));
    return 1;
  }
  /* drum pieces before melodic words ("bass drum" is a drum, "bass" is not) */
  v = obj_get_ci(json_object_get(roles, "drum_words"), w);
  int drum = json_is_integer(v) ? (int)json_integer_value(v) : gm_drum_by_name(roles, w);
  if (drum >= 0) {
    h->sound = "drums";
    h->drum = drum;
    return 1;
  }
  v = obj_get_ci(json_object_get(roles, "words"), w);
  prog = json_is_integer(v) ? (int)json_integer_value(v) : 0;
  int fam = -1;
  if (!prog) {
    fam = family_index(roles, w);
    if (fam >= 0) prog = fam * 8 + 1;
  }
  if (prog >= 1 && prog <= 128) {
    h->program = prog;
    h->sound = json_string_value(json_array_get(json_object_get(roles, "families"), (size_t)(prog - 1) / 8));
    return 1;
  }
  return 0;
}

static json_t *plugin_names(const json_t *daw, const json_t *cands) {
  json_t *al = json_array();
  size_t i, k;
  const json_t *c, *a;
  json_array_foreach(cands, i, c) {
    if (i) json_array_append(al, (json_t *)c);
    json_array_foreach(json_object_get(plugin_by_name(daw, json_string_value(c)), "aliases"), k, a)
        json_array_append(al, (json_t *)a);
  }
  return al;
}

static void list_plugins(const json_t *daw, char *buf, size_t len) {
  size_t o = 0, i;
  const json_t *p;
  buf[0] = 0;
  json_array_foreach(json_object_get(daw, "plugins"), i, p) {
    int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", json_string_value(json_object_get(p, "name")));
    if (w < 0 || (size_t)w >= len - o) break;
    o += (size_t)w;
  }
}

static json_t *from_sound(const json_t *doc, const char *word, const char *kind, const struct hit *h) {
  const json_t *daw = json_object_get(doc, "daw"), *roles = json_object_get(doc, "roles");
  const json_t *s = json_object_get(json_object_get(daw, "sounds"), h->sound);
  const json_t *cands = json_object_get(s, "plugins");
  json_t *o = json_pack("{s:s,s:s,s:s,s:O,s:O}", "role", word, "kind", kind, "sound", h->sound, "plugin",
                        json_array_get(cands, 0), "candidates", cands);
  if (!o) return NULL;
  json_object_set_new(o, "aliases", plugin_names(daw, cands));
  if (h->program > 0) json_object_set_new(o, "program", json_integer(h->program));
  int ch = (int)json_integer_value(json_object_get(s, "channel"));
  if (h->drum >= 0 || !strcmp(h->sound, "drums")) {
    if (h->drum >= 0) json_object_set_new(o, "drum_note", json_integer(h->drum));
    if (!ch) ch = (int)json_integer_value(json_object_get(roles, "drum_channel"));
  }
  if (ch) json_object_set_new(o, "channel", json_integer(ch));
  if (json_object_get(s, "params")) json_object_set_new(o, "params", json_deep_copy(json_object_get(s, "params")));
  if (json_object_get(s, "preset")) json_object_set(o, "preset", json_object_get(s, "preset"));
  return o;
}

static int resolve_word(const json_t *doc, const char *word, json_t **out, char *msg, size_t msglen);

int instmap_resolve_json(const json_t *doc, const char *word, json_t **out, char *msg, size_t msglen) {
  if (out) *out = NULL;
  if (msg && msglen) msg[0] = 0;
  if (!out || !word) return INSTMAP_EARG;
  /* the word goes into JSON strings: bytes that are not valid UTF-8 (model noise) become '?' */
  json_t *chk = json_string(word);
  if (chk) {
    json_decref(chk);
    return resolve_word(doc, word, out, msg, msglen);
  }
  size_t n = strlen(word);
  char *safe = malloc(n + 1);
  if (!safe) return INSTMAP_ENOMEM;
  memcpy(safe, word, n + 1);
  for (char *c = safe; *c; c++)
    if ((unsigned char)*c >= 0x80) *c = '?';
  int rc = resolve_word(doc, safe, out, msg, msglen);
  free(safe);
  return rc;
}

static int resolve_word(const json_t *doc, const char *word, json_t **out, char *msg, size_t msglen) {
  const json_t *daw = json_object_get(doc, "daw"), *roles = json_object_get(doc, "roles");
  if (!json_is_object(daw) || !json_is_object(roles)) return INSTMAP_EARG;
  const char *dialect = json_string_value(json_object_get(daw, "dialect"));
  int prefixed;
  const char *bare = strip_type(word, &prefixed);
  /* 1. one of this DAW's instrument plugins, by name or alias */
  const json_t *p = find_plugin(daw, bare);
  if (p) {
    json_t *cands = json_pack("[O]", json_object_get(p, "name"));
    json_t *o = json_pack("{s:s,s:s,s:O,s:o}", "role", word, "kind", "plugin", "plugin", json_object_get(p, "name"),
                          "candidates", cands);
    if (!o) return INSTMAP_ENOMEM;
    json_object_set_new(o, "aliases", plugin_names(daw, cands));
    *out = o;
    return INSTMAP_OK;
  }
  /* 2. clearly a plugin name, not a role: refused with what this DAW has. A type prefix, a known third-party
   * instrument, or a host-style "Name (Vendor)" that is not a role ("Lead 2 (sawtooth)" is a GM program). */
  size_t bl = strlen(bare);
  int vendor = bl > 3 && bare[bl - 1] == ')' && strchr(bare, '(') && strchr(bare, '(') != bare;
  if (vendor) {
    char nw[256];
    struct hit hv;
    normalize(bare, nw, sizeof nw);
    vendor = !lookup(doc, nw, &hv);
  }
  if (prefixed || vendor || is_third_party(roles, bare)) {
    char names[600];
    list_plugins(daw, names, sizeof names);
    errmsg(msg, msglen,
           "instrument plugin \"%s\" is not installed in %s; available instruments: %s (or a role such as kick, drums, "
           "bass, piano, strings, pad, lead)",
           bare, dialect ? dialect : "this DAW", names);
    return INSTMAP_ENOTFOUND;
  }
  /* 3. a role: the whole phrase, its singular, then its words from the last */
  char w[256];
  normalize(bare, w, sizeof w);
  struct hit h;
  int found = w[0] && lookup(doc, w, &h);
  if (!found && strlen(w) > 3 && w[strlen(w) - 1] == 's') {
    char s[256];
    snprintf(s, sizeof s, "%.*s", (int)strlen(w) - 1, w);
    found = lookup(doc, s, &h);
  }
  for (char *sp = strrchr(w, ' '); !found && sp; sp = strrchr(w, ' ')) {
    /* try the last word, then the last two words ("sub bass" in "deep sub bass") */
    *sp = 0;
    const char *last = sp + 1;
    char two[520];
    char *sp2 = strrchr(w, ' ');
    snprintf(two, sizeof two, "%s %s", sp2 ? sp2 + 1 : w, last);
    found = lookup(doc, two, &h) || lookup(doc, last, &h);
    if (!found && strlen(last) > 3 && last[strlen(last) - 1] == 's') {
      char s[128];
      snprintf(s, sizeof s, "%.*s", (int)strlen(last) - 1, last);
      found = lookup(doc, s, &h);
    }
  }
  if (!found && w[0] && strcmp(w, bare)) {
    /* what is left of the phrase: its first word ("kick" in "kick ??") */
    found = lookup(doc, w, &h);
  }
  if (found) {
    *out = from_sound(doc, word, "role", &h);
    return *out ? INSTMAP_OK : INSTMAP_ENOMEM;
  }
  /* 4. unknown: the default sound, with a warning */
  struct hit d = {.sound = json_string_value(json_object_get(daw, "default")), .program = 0, .drum = -1};
  json_t *o = from_sound(doc, word, "default", &d);
  if (!o) return INSTMAP_ENOMEM;
  char warn[400];
  snprintf(warn, sizeof warn, "unknown instrument role '%s': using %s", word,
           json_string_value(json_object_get(o, "plugin")));
  json_object_set_new(o, "warning", json_string(warn));
  if (msg && msglen) snprintf(msg, msglen, "%s", warn);
  *out = o;
  return INSTMAP_OK;
}

int instmap_resolve(const instmap_t *m, const char *word, json_t **out, char *msg, size_t msglen) {
  if (!m) return INSTMAP_EARG;
  return instmap_resolve_json(m->doc, word, out, msg, msglen);
}
