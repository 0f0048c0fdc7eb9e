/* oscmap: load, validate, match and render a DAW dialect map. Format: osc-maps/README.md. */
#include "oscmap.h"
#include "datadir.h"
#include "errfmt.h"
#include "oscarg.h"
#include "strbuf.h"
#include "vocab.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_SEGS 16
#define MAX_WILD 4

struct fb {
  const json_t *j;      /* the entry (borrowed from map->root) */
  char *segs[MAX_SEGS]; /* path segments; "@" = integer wildcard */
  int nsegs;
  int wild_pos[MAX_WILD]; /* which segments are wildcards */
  int nwild;
  const char *types; /* expected type tags; trailing '*' = anything after; NULL = any */
  const char *set, *event, *convert, *value, *track, *fx, *param, *marker, *name;
  const json_t *fields, *repeat, *when, *values, *range;
};

struct oscmap {
  json_t *root;
  char *name;
  struct fb *fb;
  int nfb;
};

static const char *const known_sets[] = {"tempo",
                                         "playing",
                                         "recording",
                                         "position",
                                         "loop.enabled",
                                         "loop.start",
                                         "loop.end",
                                         "project",
                                         "track.name",
                                         "track.volume_db",
                                         "track.pan",
                                         "track.mute",
                                         "track.solo",
                                         "track.rec_arm",
                                         "track.selected",
                                         "track.instrument",
                                         "track.type",
                                         "track.fx.name",
                                         "track.fx.enabled",
                                         "track.fx.param",
                                         "marker.name",
                                         "marker.position",
                                         "track.count",
                                         "marker.count",
                                         "track.fx.count",
                                         "track.clip.count",
                                         NULL};

static const char *const known_converts[] = {"bool",
                                             "not",
                                             "int",
                                             "int_string",
                                             "db_string",
                                             "db_floor",
                                             "float_string",
                                             "pan_string",
                                             "samples_to_beats",
                                             "norm_to_pan",
                                             "pan_to_norm",
                                             "sec_to_beats",
                                             "beats_to_sec",
                                             "beats_to_samples",
                                             "ardour_fader_to_db",
                                             "db_to_ardour_fader",
                                             "range_to_norm",
                                             "norm_to_range",
                                             "beats_to_away",
                                             "beats_to_away_samples",
                                             NULL};

const char *oscmap_strerror(int code) {
  switch (code) {
  case OSCMAP_OK: return "ok";
  case OSCMAP_EIO: return "cannot read the map file";
  case OSCMAP_EPARSE: return "the map is not valid JSON";
  case OSCMAP_EINVALID: return "the map is invalid";
  case OSCMAP_ERENDER: return "cannot render an OSC message from the map";
  case OSCMAP_ENOMEM: return "out of memory";
  default: return "unknown oscmap error";
  }
}

static int in_list(const char *s, const char *const *list) {
  for (; s && *list; list++)
    if (!strcmp(s, *list)) return 1;
  return 0;
}

/* ---- validation ---- */

/* "$3", "$-1" */
static int valid_argref(const char *s) {
  if (!s || s[0] != '$') return 0;
  const char *p = s + 1;
  if (*p == '-') p++;
  if (!isdigit((unsigned char)*p)) return 0;
  while (isdigit((unsigned char)*p)) p++;
  return *p == 0;
}

/* "@2" or "$0" */
static int valid_locref(const char *s, int nwild) {
  if (!s) return 0;
  if (s[0] == '@') {
    char *end;
    long k = strtol(s + 1, &end, 10);
    return *end == 0 && k >= 1 && k <= nwild;
  }
  return valid_argref(s);
}

static int check_template_string(const char *file, const char *where, const char *s, char *err, size_t errlen) {
  for (const char *p = s; *p; p++) {
    if (*p == '}') return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s: unbalanced '}' in \"%s\"", file, where, s);
    if (*p != '{') continue;
    const char *e = strchr(p, '}');
    if (!e) return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s: unclosed '{' in \"%s\"", file, where, s);
    char var[96];
    size_t n = (size_t)(e - p - 1);
    if (n == 0 || n >= sizeof var)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s: empty or oversized placeholder in \"%s\"", file, where, s);
    memcpy(var, p + 1, n);
    var[n] = 0;
    char *bar = strchr(var, '|');
    if (bar && !in_list(bar + 1, known_converts))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s: unknown conversion '%s' in \"%s\"", file, where, bar + 1, s);
    p = e;
  }
  return 0;
}

static int check_templates(const char *file, const char *where, const json_t *arr, char *err, size_t errlen) {
  if (!json_is_array(arr))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s must be an array of messages", file, where);
  size_t i;
  json_t *m;
  json_array_foreach(arr, i, m) {
    char w[160];
    snprintf(w, sizeof w, "%s[%zu]", where, i);
    const char *path = json_string_value(json_object_get(m, "path"));
    if (!path || path[0] != '/')
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.path must be a string starting with '/'", file, w);
    int rc = check_template_string(file, w, path, err, errlen);
    if (rc) return rc;
    json_t *args = json_object_get(m, "args");
    if (args && !json_is_array(args))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.args must be an array", file, w);
    size_t k;
    json_t *a;
    json_array_foreach(args, k, a) {
      const char *t = json_string_value(json_array_get(a, 0));
      json_t *v = json_array_get(a, 1);
      if (!json_is_array(a) || json_array_size(a) != 2 || !t || strlen(t) != 1 || !strchr("ifsdh", t[0]))
        return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.args[%zu] must be [type, value] with type one of i f s d h",
                      file, w, k);
      if (json_is_string(v)) {
        rc = check_template_string(file, w, json_string_value(v), err, errlen);
        if (rc) return rc;
      } else if (!json_is_number(v)) {
        return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.args[%zu] value must be a number or a string", file, w, k);
      }
    }
  }
  return 0;
}

static int check_confirm(const char *file, const char *where, const json_t *c, char *err, size_t errlen) {
  if (!json_is_array(c)) return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.confirm must be an array", file, where);
  size_t i;
  json_t *x;
  json_array_foreach(c, i, x) {
    const char *f = json_string_value(json_object_get(x, "field"));
    const char *ev = json_string_value(json_object_get(x, "event"));
    if (!f && !ev)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.confirm[%zu] needs \"field\" or \"event\"", file, where, i);
    if (f && !in_list(f, known_sets))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.confirm[%zu].field '%s' is not a session field", file, where,
                    i, f);
    json_t *eq = json_object_get(x, "equals");
    if (json_is_string(eq)) {
      int rc = check_template_string(file, where, json_string_value(eq), err, errlen);
      if (rc) return rc;
    }
  }
  return 0;
}

static int check_step(const char *file, const char *where, const json_t *st, char *err, size_t errlen) {
  if (!json_is_object(st)) return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s must be an object", file, where);
  char w[160];
  json_t *seq = json_object_get(st, "sequence");
  if (seq) {
    if (!json_is_array(seq) || !json_array_size(seq))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.sequence must be a non-empty array of steps", file, where);
    size_t i;
    json_t *x;
    json_array_foreach(seq, i, x) {
      snprintf(w, sizeof w, "%s.sequence[%zu]", where, i);
      int rc = check_step(file, w, x, err, errlen);
      if (rc) return rc;
    }
    return 0;
  }
  /* the message templates a step may send */
  static const char *const sent[] = {"send", "query", "read_back"};
  for (size_t k = 0; k < sizeof sent / sizeof sent[0]; k++) {
    json_t *t = json_object_get(st, sent[k]);
    if (!t) continue;
    snprintf(w, sizeof w, "%s.%s", where, sent[k]);
    int rc = check_templates(file, w, t, err, errlen);
    if (rc) return rc;
  }
  json_t *send = json_object_get(st, "send");
  json_t *cr = json_object_get(st, "create");
  if (cr && !json_is_boolean(cr))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.create must be true or false", file, where);
  json_t *c = json_object_get(st, "confirm");
  if (c) {
    int rc = check_confirm(file, where, c, err, errlen);
    if (rc) return rc;
  }
  json_t *sk = json_object_get(st, "skip_if");
  if (sk) {
    char w2[200];
    snprintf(w2, sizeof w2, "%s.skip_if", where);
    int rc = check_confirm(file, w2, sk, err, errlen);
    if (rc) return rc;
  }
  if (send && !c && !json_object_get(st, "unconfirmable") && !json_object_get(st, "identify") &&
      !json_is_true(json_object_get(st, "create")))
    return errfmt(err, errlen, OSCMAP_EINVALID,
                  "%s: %s sends messages but says neither how the DAW confirms them (\"confirm\") nor why it cannot "
                  "(\"unconfirmable\")",
                  file, where);
  return 0;
}

/* Checks each step of a tool's "fields" or "variants" object (key = group), named "<w>.<group>.<key>". */
static int check_step_group(const char *file, const char *w, const char *group, const json_t *steps, char *err,
                            size_t errlen) {
  if (!json_is_object(steps) || !json_object_size(steps))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s.%s must be a non-empty object", file, w, group);
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)steps, k, v) {
    char w2[200];
    snprintf(w2, sizeof w2, "%s.%s.%s", w, group, k);
    int rc = check_step(file, w2, v, err, errlen);
    if (rc) return rc;
  }
  return 0;
}

static int check_tool(const char *file, const char *name, const json_t *t, char *err, size_t errlen) {
  char w[160];
  snprintf(w, sizeof w, "tools.%s", name);
  if (vocab_lookup(name) < 0)
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s: '%s' is not a dawbridge tool", file, w, name);
  if (!json_is_object(t)) return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s must be an object", file, w);
  if (json_is_true(json_object_get(t, "local"))) return 0;
  json_t *fields = json_object_get(t, "fields");
  json_t *variants = json_object_get(t, "variants");
  json_t *native = json_object_get(t, "native");
  if (fields) return check_step_group(file, w, "fields", fields, err, errlen);
  if (variants) {
    if (!json_is_string(json_object_get(t, "by")))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: %s has variants but no \"by\" naming the argument", file, w);
    return check_step_group(file, w, "variants", variants, err, errlen);
  }
  if (json_object_get(t, "sequence")) return check_step(file, w, t, err, errlen); /* a step that is a sequence */
  if (native) {
    snprintf(w, sizeof w, "tools.%s.native", name);
    return check_step(file, w, native, err, errlen);
  }
  if (!json_object_get(t, "send"))
    return errfmt(err, errlen, OSCMAP_EINVALID,
                  "%s: %s needs \"send\", \"fields\", \"variants\", \"sequence\", \"native\" or \"local\"", file, w);
  return check_step(file, w, t, err, errlen);
}

static void fb_free(struct fb *f) {
  for (int i = 0; i < f->nsegs; i++) free(f->segs[i]);
}

static int compile_feedback(oscmap_t *m, const char *file, char *err, size_t errlen) {
  json_t *arr = json_object_get(m->root, "feedback");
  if (!json_is_array(arr) || !json_array_size(arr))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: \"feedback\" must be a non-empty array", file);
  m->fb = calloc(json_array_size(arr), sizeof *m->fb);
  if (!m->fb) return errfmt(err, errlen, OSCMAP_ENOMEM, "out of memory");
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    struct fb *f = &m->fb[m->nfb++];
    f->j = e;
    const char *path = json_string_value(json_object_get(e, "path"));
    if (!path || (path[0] != '/' && path[0] != '#'))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].path must be an OSC address", file, i);
    const char *p = path + (path[0] == '/');
    while (*p) {
      const char *s = strchr(p, '/');
      size_t n = s ? (size_t)(s - p) : strlen(p);
      if (f->nsegs == MAX_SEGS)
        return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].path has too many segments", file, i);
      f->segs[f->nsegs] = strndup(p, n);
      if (n == 1 && p[0] == '@') {
        if (f->nwild == MAX_WILD)
          return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].path has too many '@'", file, i);
        f->wild_pos[f->nwild++] = f->nsegs;
      }
      f->nsegs++;
      p += n + (s != NULL);
    }
    f->types = json_string_value(json_object_get(e, "types"));
    if (f->types)
      for (const char *t = f->types; *t; t++)
        if (!strchr("ifsdhTFN*", *t) || (*t == '*' && t[1]))
          return errfmt(err, errlen, OSCMAP_EINVALID,
                        "%s: feedback[%zu].types '%s': only i f s d h T F N and a final *", file, i, f->types);
    f->set = json_string_value(json_object_get(e, "set"));
    f->event = json_string_value(json_object_get(e, "event"));
    f->convert = json_string_value(json_object_get(e, "convert"));
    f->value = json_string_value(json_object_get(e, "value"));
    f->track = json_string_value(json_object_get(e, "track"));
    f->fx = json_string_value(json_object_get(e, "fx"));
    f->param = json_string_value(json_object_get(e, "param"));
    f->marker = json_string_value(json_object_get(e, "marker"));
    f->name = json_string_value(json_object_get(e, "name"));
    f->fields = json_object_get(e, "fields");
    f->repeat = json_object_get(e, "repeat");
    f->when = json_object_get(e, "when");
    f->values = json_object_get(e, "values");
    f->range = json_object_get(e, "range");
    if (!f->set && !f->event)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu] (%s) needs \"set\" or \"event\"", file, i, path);
    if (f->set && !in_list(f->set, known_sets))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].set '%s' is not a session field", file, i, f->set);
    if (f->convert && !in_list(f->convert, known_converts))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].convert '%s' is not a known conversion", file, i,
                    f->convert);
    if (f->set && !valid_argref(f->value))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].value must be an argument reference like \"$0\"",
                    file, i);
    const char *locs[] = {f->track, f->fx, f->param, f->marker};
    const char *locn[] = {"track", "fx", "param", "marker"};
    for (int k = 0; k < 4; k++)
      if (locs[k] && !valid_locref(locs[k], f->nwild))
        return errfmt(err, errlen, OSCMAP_EINVALID,
                      "%s: feedback[%zu].%s '%s' must be \"@N\" (N-th '@' of the path) or \"$N\" (argument N)", file, i,
                      locn[k], locs[k]);
    if (f->set && !strncmp(f->set, "track.", 6) && !f->track)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu] sets %s but has no \"track\"", file, i, f->set);
    if (f->set && !strncmp(f->set, "track.fx.", 9) && !f->fx)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu] sets %s but has no \"fx\"", file, i, f->set);
    if (f->set && !strncmp(f->set, "marker.", 7) && !f->marker)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu] sets %s but has no \"marker\"", file, i, f->set);
    if (f->convert && !strcmp(f->convert, "range_to_norm") &&
        (!json_is_array(f->range) || json_array_size(f->range) != 2))
      return errfmt(err, errlen, OSCMAP_EINVALID,
                    "%s: feedback[%zu] converts range_to_norm without a 2-entry \"range\"", file, i);
    if (f->fields && !json_is_object(f->fields))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].fields must be an object", file, i);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)f->fields, k, v) {
      if (!valid_argref(json_string_value(v)))
        return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].fields.%s must be an argument reference", file,
                      i, k);
    }
    if (f->repeat &&
        (!json_is_integer(json_object_get(f->repeat, "from")) || !json_is_array(json_object_get(f->repeat, "group")) ||
         !json_array_size(json_object_get(f->repeat, "group"))))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: feedback[%zu].repeat needs \"from\" and a non-empty \"group\"",
                    file, i);
  }
  return 0;
}

static int validate(oscmap_t *m, const char *file, char *err, size_t errlen) {
  json_t *r = m->root;
  if (!json_is_object(r)) return errfmt(err, errlen, OSCMAP_EINVALID, "%s: the map must be a JSON object", file);
  const char *fmt = json_string_value(json_object_get(r, "format"));
  if (!fmt || strcmp(fmt, "dawbridge.oscmap/1"))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: \"format\" must be \"dawbridge.oscmap/1\"", file);
  const char *d = json_string_value(json_object_get(r, "dialect"));
  if (!d || !*d || strspn(d, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(d))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: \"dialect\" must be a lower-case name", file);
  json_t *ports = json_object_get(r, "ports");
  json_int_t dp = json_integer_value(json_object_get(ports, "daw"));
  json_t *lpj = json_object_get(ports, "listen");
  if (!json_is_integer(json_object_get(ports, "daw")) || dp < 1 || dp > 65535)
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: ports.daw must be an integer 1-65535", file);
  if (!json_is_integer(lpj) || json_integer_value(lpj) < 0 || json_integer_value(lpj) > 65535)
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: ports.listen must be an integer 0-65535", file);
  json_t *timing = json_object_get(r, "timing");
  const char *k;
  json_t *v;
  json_object_foreach(timing, k, v) {
    if (!json_is_number(v) || json_number_value(v) < 0)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: timing.%s must be a non-negative number", file, k);
  }
  json_t *bank = json_object_get(r, "banking");
  if (bank) {
    json_int_t bs = json_integer_value(json_object_get(bank, "size"));
    if (bs < 1 || bs > 4096) return errfmt(err, errlen, OSCMAP_EINVALID, "%s: banking.size must be 1-4096", file);
    int rc = check_templates(file, "banking.select", json_object_get(bank, "select"), err, errlen);
    if (rc) return rc;
  }
  const char *lists[] = {"connect", "probe", "read_back", "disconnect"};
  for (int i = 0; i < 4; i++) {
    json_t *l = json_object_get(r, lists[i]);
    if (l) {
      int rc = check_templates(file, lists[i], l, err, errlen);
      if (rc) return rc;
    }
  }
  json_t *ref = json_object_get(r, "refresh");
  const char *mode = json_string_value(json_object_get(ref, "mode"));
  if (!mode || (strcmp(mode, "banked") && strcmp(mode, "list")))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: refresh.mode must be \"banked\" or \"list\"", file);
  if (!strcmp(mode, "banked") && !bank)
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: refresh.mode \"banked\" needs a \"banking\" section", file);
  const char *rkeys[] = {"count", "bank", "list", "per_track", "per_fx", "sentinel"};
  for (size_t i = 0; i < sizeof rkeys / sizeof *rkeys; i++) {
    json_t *l = json_object_get(ref, rkeys[i]);
    char w[64];
    snprintf(w, sizeof w, "refresh.%s", rkeys[i]);
    if (l) {
      int rc = check_templates(file, w, l, err, errlen);
      if (rc) return rc;
    }
  }
  if (!strcmp(mode, "banked") && (!json_object_get(ref, "count") || !json_object_get(ref, "bank")))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: a banked refresh needs \"count\" and \"bank\" messages", file);
  if (!strcmp(mode, "list") && !json_object_get(ref, "list"))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: a list refresh needs \"list\" messages", file);
  if (!json_is_string(json_object_get(ref, "done_event")))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: refresh.done_event must name the event that ends a refresh step",
                  file);
  int rc = compile_feedback(m, file, err, errlen);
  if (rc) return rc;
  /* the refresh's done event must be something a feedback entry emits */
  const char *done = json_string_value(json_object_get(ref, "done_event"));
  int found = 0;
  for (int i = 0; i < m->nfb; i++) found |= m->fb[i].event && !strcmp(m->fb[i].event, done);
  if (!found)
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: refresh.done_event '%s' is not emitted by any feedback entry",
                  file, done);
  json_t *tools = json_object_get(r, "tools");
  if (!json_is_object(tools)) return errfmt(err, errlen, OSCMAP_EINVALID, "%s: \"tools\" must be an object", file);
  json_object_foreach(tools, k, v) {
    rc = check_tool(file, k, v, err, errlen);
    if (rc) return rc;
  }
  json_t *caps = json_object_get(r, "capabilities");
  json_t *native = json_object_get(caps, "native");
  if (!json_is_array(native))
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s: capabilities.native must be an array of tool names", file);
  size_t i;
  json_array_foreach(native, i, v) {
    const char *t = json_string_value(v);
    if (vocab_lookup(t) < 0)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: capabilities.native[%zu] '%s' is not a dawbridge tool", file, i,
                    t ? t : "?");
    if (!json_object_get(tools, t))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: capabilities.native lists '%s' but tools.%s is missing", file, t,
                    t);
  }
  json_t *comp = json_object_get(caps, "companion");
  json_array_foreach(comp, i, v) {
    if (vocab_lookup(json_string_value(v)) < 0)
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: capabilities.companion[%zu] is not a dawbridge tool", file, i);
  }
  json_t *cs = json_object_get(r, "companion");
  if (cs) {
    if (!json_is_object(cs))
      return errfmt(err, errlen, OSCMAP_EINVALID,
                    "%s: \"companion\" must be an object {\"trigger\": [...], \"reply\": ...}", file);
    json_t *trig = json_object_get(cs, "trigger");
    if (!trig)
      return errfmt(err, errlen, OSCMAP_EINVALID,
                    "%s: companion.trigger is missing (the messages that run the companion; [] when it polls)", file);
    rc = check_templates(file, "companion.trigger", trig, err, errlen);
    if (rc) return rc;
    const char *reply = json_string_value(json_object_get(cs, "reply"));
    if (!reply || (strcmp(reply, "file") && strcmp(reply, "osc+file")))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: companion.reply must be \"file\" or \"osc+file\"", file);
    if (!strcmp(reply, "osc+file")) {
      int has = 0;
      for (int q = 0; q < m->nfb; q++) has |= m->fb[q].event && !strcmp(m->fb[q].event, "companion_reply");
      if (!has)
        return errfmt(err, errlen, OSCMAP_EINVALID,
                      "%s: companion.reply \"osc+file\" needs a feedback entry with \"event\": \"companion_reply\" "
                      "(the /dawbridge/reply message)",
                      file);
    }
    json_t *to = json_object_get(cs, "timeout_ms");
    if (to && (!json_is_integer(to) || json_integer_value(to) < 1))
      return errfmt(err, errlen, OSCMAP_EINVALID, "%s: companion.timeout_ms must be a positive integer", file);
  }
  json_t *cat = json_object_get(r, "catalog");
  const char *ck[] = {"instruments", "effects"};
  for (int c = 0; c < 2; c++) {
    json_t *a = json_object_get(cat, ck[c]);
    if (!json_is_array(a)) return errfmt(err, errlen, OSCMAP_EINVALID, "%s: catalog.%s must be an array", file, ck[c]);
    json_array_foreach(a, i, v) {
      if (!json_is_string(json_object_get(v, "name")))
        return errfmt(err, errlen, OSCMAP_EINVALID, "%s: catalog.%s[%zu].name must be a string", file, ck[c], i);
      json_t *al = json_object_get(v, "aliases");
      if (al && !json_is_array(al))
        return errfmt(err, errlen, OSCMAP_EINVALID, "%s: catalog.%s[%zu].aliases must be an array", file, ck[c], i);
    }
  }
  return 0;
}

int oscmap_load_json(const json_t *j, const char *name, oscmap_t **out, char *err, size_t errlen) {
  *out = NULL;
  oscmap_t *m = calloc(1, sizeof *m);
  if (!m) return errfmt(err, errlen, OSCMAP_ENOMEM, "out of memory");
  m->root = json_deep_copy(j);
  m->name = strdup(name ? name : "(map)");
  int rc = m->root ? validate(m, m->name, err, errlen) : errfmt(err, errlen, OSCMAP_ENOMEM, "out of memory");
  if (rc) {
    oscmap_free(m);
    return rc;
  }
  *out = m;
  return OSCMAP_OK;
}

int oscmap_load(const char *path, oscmap_t **out, char *err, size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return errfmt(err, errlen, OSCMAP_EIO, "%s: %s", path, strerror(errno));
  json_error_t je;
  json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
  fclose(f);
  if (!j) return errfmt(err, errlen, OSCMAP_EPARSE, "%s:%d:%d: %s", path, je.line, je.column, je.text);
  int rc = oscmap_load_json(j, path, out, err, errlen);
  json_decref(j);
  return rc;
}

void oscmap_free(oscmap_t *m) {
  if (!m) return;
  for (int i = 0; i < m->nfb; i++) fb_free(&m->fb[i]);
  free(m->fb);
  json_decref(m->root);
  free(m->name);
  free(m);
}

int oscmap_find(const char *dialect, char *path, size_t pathlen) {
  char data[1024];
  if (datadir_path(DATADIR_OSC_MAPS, data, sizeof data, NULL, 0)) /* named in the caller's "not found" message */
    snprintf(data, sizeof data, "<no dawbridge data directory: set DAWBRIDGE_DATA_DIR>/osc-maps");
  const char *dirs[2] = {getenv("DAWBRIDGE_MAPS"), data};
  for (int i = 0; i < 2; i++) {
    if (!dirs[i] || !*dirs[i]) continue;
    snprintf(path, pathlen, "%s/%s.json", dirs[i], dialect);
    if (access(path, R_OK) == 0) return 0;
  }
  snprintf(path, pathlen, "%s/%s.json", data, dialect);
  return -1;
}

const char *oscmap_dialect(const oscmap_t *m) { return json_string_value(json_object_get(m->root, "dialect")); }
const json_t *oscmap_json(const oscmap_t *m) { return m->root; }

double oscmap_timing(const oscmap_t *m, const char *key, double def) {
  json_t *v = json_object_get(json_object_get(m->root, "timing"), key);
  return json_is_number(v) ? json_number_value(v) : def;
}

const json_t *oscmap_tool(const oscmap_t *m, const char *tool) {
  return json_object_get(json_object_get(m->root, "tools"), tool);
}

/* ---- conversions ---- */

int oscmap_convert(const char *name, double in, const json_t *ctx, double *out) {
  double tempo = json_number_value(json_object_get(ctx, "tempo"));
  if (!(tempo > 0)) tempo = 120;
  double sr = json_number_value(json_object_get(ctx, "sample_rate"));
  if (!(sr > 0)) sr = 48000;
  if (!strcmp(name, "bool"))
    *out = in >= 0.5 ? 1 : 0;
  else if (!strcmp(name, "not"))
    *out = in >= 0.5 ? 0 : 1;
  else if (!strcmp(name, "int") || !strcmp(name, "int_string"))
    *out = floor(in + 0.5);
  else if (!strcmp(name, "db_floor") || !strcmp(name, "db_string"))
    *out = in < -150 ? -150 : in;
  else if (!strcmp(name, "float_string") || !strcmp(name, "pan_string"))
    *out = in;
  else if (!strcmp(name, "norm_to_pan"))
    *out = fmax(-1, fmin(1, in * 2 - 1));
  else if (!strcmp(name, "pan_to_norm"))
    *out = fmax(0, fmin(1, (in + 1) / 2));
  else if (!strcmp(name, "sec_to_beats"))
    *out = in * tempo / 60.0;
  else if (!strcmp(name, "beats_to_sec"))
    *out = in * 60.0 / tempo;
  else if (!strcmp(name, "beats_to_samples"))
    *out = floor(in * 60.0 / tempo * sr + 0.5);
  /* a place at least a beat away from `in` (a read-back locates there first, so a locate back is a change) */
  else if (!strcmp(name, "beats_to_away"))
    *out = in >= 1 ? 0 : in + 4;
  else if (!strcmp(name, "beats_to_away_samples"))
    *out = floor((in >= 1 ? 0 : in + 4) * 60.0 / tempo * sr + 0.5);
  else if (!strcmp(name, "samples_to_beats"))
    *out = in / sr * tempo / 60.0;
  else if (!strcmp(name, "ardour_fader_to_db")) {
    /* Ardour's slider curve: gain = 2^((pos^(1/8)*198 - 192)/6) */
    if (in <= 0)
      *out = -150;
    else
      *out = fmax(-150, 20 * log10(pow(2.0, (pow(in, 0.125) * 198.0 - 192.0) / 6.0)));
  } else if (!strcmp(name, "db_to_ardour_fader")) {
    if (in <= -150)
      *out = 0;
    else
      *out = pow((6.0 * log2(pow(10, in / 20)) + 192.0) / 198.0, 8.0);
  } else if (!strcmp(name, "range_to_norm") || !strcmp(name, "norm_to_range")) {
    double lo = json_number_value(json_object_get(ctx, "param_min"));
    double hi = json_number_value(json_object_get(ctx, "param_max"));
    if (!(hi > lo)) {
      lo = 0;
      hi = 1;
    }
    if (name[0] == 'r')
      *out = fmax(0, fmin(1, (in - lo) / (hi - lo)));
    else
      *out = lo + fmax(0, fmin(1, in)) * (hi - lo);
  } else
    return -1;
  return 0;
}

/* ---- matching ---- */

/* Numbers REAPER writes as text: "-6.00dB", "-inf", "120 bpm", "C", "50%L", "23%R". */
static int parse_string_value(const char *conv, const char *sv, double *out) {
  while (*sv == ' ') sv++;
  if (!strcmp(conv, "pan_string")) {
    if (!strcasecmp(sv, "C") || !strncasecmp(sv, "center", 6)) return *out = 0, 0;
    char *end;
    double d = strtod(sv, &end);
    if (end == sv) return -1;
    while (*end == ' ' || *end == '%') end++;
    if (*end == 'L' || *end == 'l') return *out = -d / 100.0, 0;
    if (*end == 'R' || *end == 'r') return *out = d / 100.0, 0;
    return -1;
  }
  char *end;
  double d = strtod(sv, &end);
  if (end == sv || isnan(d)) {
    if (!strcmp(conv, "db_string") && strstr(sv, "inf")) return *out = -150, 0;
    return -1;
  }
  if (isinf(d)) d = d < 0 ? -150 : 150;
  *out = d;
  return 0;
}

/* Expected type compatible with actual: f accepts d, i accepts h (wire widths differ between hosts). */
static int types_match(const char *want, const char *got) {
  if (!want) return 1;
  for (; *want; want++, got++) {
    if (*want == '*') return 1;
    if (!*got) return 0;
    if (*want == *got) continue;
    if (*want == 'f' && *got == 'd') continue;
    if (*want == 'i' && *got == 'h') continue;
    return 0;
  }
  return *got == 0;
}

/* index of "$k" / "$-k" into args, or -1 */
static int argidx(const char *ref, int argc) {
  if (!ref || ref[0] != '$') return -1;
  int k = atoi(ref + 1);
  if (k < 0) k += argc;
  return k >= 0 && k < argc ? k : -1;
}

static int loc_value(const char *ref, const int *wild, const char *types, lo_arg **argv, int argc, int *out) {
  if (!ref) return 0;
  if (ref[0] == '@') {
    *out = wild[atoi(ref + 1) - 1];
    return 1;
  }
  int k = argidx(ref, argc);
  if (k < 0 || !oscarg_is_num(types[k])) return -1;
  /* a DAW's index is an int; anything else (a 64-bit 'h', NaN, a huge float) is not a location: no match */
  double v = oscarg_num(types[k], argv[k]);
  if (!(v >= INT_MIN && v <= INT_MAX)) return -1;
  *out = (int)v;
  return 1;
}

static json_t *arg_json(char t, lo_arg *a) {
  if (t == 's' || t == 'S') return json_string((const char *)a); /* not &a->s: args are only 4-byte aligned */
  if (t == 'i' || t == 'h') return json_integer((json_int_t)oscarg_num(t, a));
  if (t == 'T' || t == 'F') return json_boolean(t == 'T');
  if (oscarg_is_num(t)) return json_real(oscarg_num(t, a));
  return json_null();
}

int oscmap_match(const oscmap_t *m, const char *path, const char *types, lo_arg **argv, int argc,
                 struct oscmap_match *out, int max, char *err, size_t errlen) {
  const char *segs[MAX_SEGS + 1];
  size_t seglen[MAX_SEGS + 1];
  int nsegs = 0;
  const char *p = path + (path[0] == '/');
  while (*p && nsegs <= MAX_SEGS) {
    const char *s = strchr(p, '/');
    segs[nsegs] = p;
    seglen[nsegs] = s ? (size_t)(s - p) : strlen(p);
    nsegs++;
    p += seglen[nsegs - 1] + (s != NULL);
  }
  if (path[0] == '#') {
    segs[0] = path;
    seglen[0] = strlen(path);
    nsegs = 1;
  }
  int n = 0, path_hit = 0;
  for (int i = 0; i < m->nfb && n < max; i++) {
    const struct fb *f = &m->fb[i];
    if (f->nsegs != nsegs) continue;
    int wild[MAX_WILD], nw = 0, ok = 1;
    for (int s = 0; s < nsegs && ok; s++) {
      if (f->segs[s][0] == '@' && !f->segs[s][1]) {
        char *end;
        long v = strtol(segs[s], &end, 10);
        if (end != segs[s] + seglen[s] || seglen[s] == 0 || v < 0 || v > 1000000)
          ok = 0;
        else
          wild[nw++] = (int)v;
      } else if (strlen(f->segs[s]) != seglen[s] || memcmp(f->segs[s], segs[s], seglen[s])) {
        ok = 0;
      }
    }
    if (!ok) continue;
    path_hit = 1;
    if (!types_match(f->types, types)) continue;
    if (f->when) {
      const char *k;
      json_t *v;
      int pass = 1;
      json_object_foreach((json_t *)f->when, k, v) {
        int a = argidx(k, argc);
        if (a < 0 || (types[a] != 's' && types[a] != 'S') || !json_is_string(v) ||
            strcmp((const char *)argv[a], json_string_value(v)))
          pass = 0;
      }
      if (!pass) continue;
    }
    struct oscmap_match *mm = &out[n];
    memset(mm, 0, sizeof *mm);
    mm->set = f->set;
    mm->event = f->event;
    int r = loc_value(f->track, wild, types, argv, argc, &mm->track);
    if (r < 0) continue;
    if (r) mm->track_ref = f->track[0] == '@' ? OSCMAP_TRACK_SLOT : OSCMAP_TRACK_ABS;
    if (loc_value(f->fx, wild, types, argv, argc, &mm->fx) < 0 ||
        loc_value(f->param, wild, types, argv, argc, &mm->param) < 0 ||
        loc_value(f->marker, wild, types, argv, argc, &mm->marker) < 0)
      continue;
    if (f->value) {
      int k = argidx(f->value, argc);
      if (k < 0) continue;
      if (types[k] == 's' || types[k] == 'S') {
        const char *sv = (const char *)argv[k];
        mm->str = sv;
        if (f->convert && !strcmp(f->convert, "samples_to_beats")) {
          /* Ardour writes positions as text; the conversion needs the session's tempo and rate */
          char *end;
          double d = strtod(sv, &end);
          if (end == sv) continue;
          mm->num = d;
          mm->has_num = 1;
          mm->convert_ctx = f->convert;
        } else if (f->convert && (!strcmp(f->convert, "int_string") || !strcmp(f->convert, "db_string") ||
                                  !strcmp(f->convert, "float_string") || !strcmp(f->convert, "pan_string"))) {
          double d;
          if (!parse_string_value(f->convert, sv, &d)) {
            oscmap_convert(f->convert, d, NULL, &mm->num);
            mm->has_num = 1;
          } else if (*sv) {
            continue; /* text where a number belongs: not this pattern */
          }           /* "" = an empty slot (REAPER's unused marker/track slots): matched, no number */
        }
      } else if (oscarg_is_num(types[k]) || types[k] == 'T' || types[k] == 'F') {
        double v = oscarg_num(types[k], argv[k]);
        mm->has_num = 1;
        if (f->convert && !strcmp(f->convert, "range_to_norm")) {
          int lo = argidx(json_string_value(json_array_get(f->range, 0)), argc);
          int hi = argidx(json_string_value(json_array_get(f->range, 1)), argc);
          if (lo < 0 || hi < 0 || !oscarg_is_num(types[lo]) || !oscarg_is_num(types[hi])) continue;
          mm->has_range = 1;
          mm->range_min = oscarg_num(types[lo], argv[lo]);
          mm->range_max = oscarg_num(types[hi], argv[hi]);
          json_t *ctx = json_pack("{sfsf}", "param_min", mm->range_min, "param_max", mm->range_max);
          oscmap_convert("range_to_norm", v, ctx, &mm->num);
          json_decref(ctx);
        } else if (f->convert && (!strcmp(f->convert, "sec_to_beats") || !strcmp(f->convert, "beats_to_sec") ||
                                  !strcmp(f->convert, "beats_to_samples") || !strcmp(f->convert, "samples_to_beats"))) {
          mm->num = v; /* needs the session tempo: the caller converts */
          mm->convert_ctx = f->convert;
        } else if (f->convert) {
          oscmap_convert(f->convert, v, NULL, &mm->num);
        } else {
          mm->num = v;
        }
      } else {
        continue;
      }
    }
    if (f->name) {
      int k = argidx(f->name, argc);
      if (k >= 0 && types[k] == 's') mm->str = (const char *)argv[k];
    }
    if (f->fields || f->repeat) {
      json_t *fj = json_object();
      const char *k;
      json_t *v;
      json_object_foreach((json_t *)f->fields, k, v) {
        int a = argidx(json_string_value(v), argc);
        if (a < 0) continue;
        json_t *val = arg_json(types[a], argv[a]);
        json_t *map = json_object_get(f->values, k);
        if (map && json_is_string(val)) {
          json_t *mapped = json_object_get(map, json_string_value(val));
          if (mapped) {
            json_decref(val);
            val = json_incref(mapped);
          }
        }
        json_object_set_new(fj, k, val);
      }
      if (f->repeat) {
        int from = (int)json_integer_value(json_object_get(f->repeat, "from"));
        json_t *group = json_object_get(f->repeat, "group");
        int g = (int)json_array_size(group);
        json_t *items = json_array();
        for (int a = from; a + g <= argc; a += g) {
          json_t *it = json_object();
          for (int q = 0; q < g; q++)
            json_object_set_new(it, json_string_value(json_array_get(group, (size_t)q)),
                                arg_json(types[a + q], argv[a + q]));
          json_array_append_new(items, it);
        }
        json_object_set_new(fj, "items", items);
      }
      mm->fields = fj;
    }
    n++;
  }
  if (n == 0 && path_hit)
    return errfmt(err, errlen, OSCMAP_EINVALID, "%s with arguments ,%s does not match what the dialect expects", path,
                  types);
  return n;
}

void oscmap_match_clear(struct oscmap_match *mm, int n) {
  for (int i = 0; i < n; i++) {
    json_decref(mm[i].fields);
    mm[i].fields = NULL;
  }
}

/* ---- rendering ---- */

/* Resolves "{name}" / "{name|conv}" into a JSON value (new reference) or NULL. */
static json_t *eval_placeholder(const char *expr, size_t n, const json_t *vars, char *err, size_t errlen) {
  char buf[96];
  if (n >= sizeof buf) {
    errfmt(err, errlen, OSCMAP_ERENDER, "placeholder '%.20s...' too long", expr);
    return NULL;
  }
  memcpy(buf, expr, n);
  buf[n] = 0;
  char *conv = strchr(buf, '|');
  if (conv) *conv++ = 0;
  json_t *v = json_object_get(vars, buf);
  if (!v) {
    errfmt(err, errlen, OSCMAP_ERENDER, "missing value for '%s'", buf);
    return NULL;
  }
  if (!conv) return json_incref(v);
  double d;
  if (json_is_boolean(v))
    d = json_is_true(v);
  else if (json_is_number(v))
    d = json_number_value(v);
  else {
    errfmt(err, errlen, OSCMAP_ERENDER, "'%s' must be a number to convert with %s", buf, conv);
    return NULL;
  }
  double r;
  if (oscmap_convert(conv, d, vars, &r)) {
    errfmt(err, errlen, OSCMAP_ERENDER, "unknown conversion '%s'", conv);
    return NULL;
  }
  return json_real(r);
}

/* Renders a template string. If the whole string is one placeholder, *whole gets its JSON value. */
static char *render_string(const char *tpl, const json_t *vars, json_t **whole, char *err, size_t errlen) {
  if (whole) *whole = NULL;
  size_t len = strlen(tpl);
  if (whole && tpl[0] == '{' && tpl[len - 1] == '}' && !memchr(tpl + 1, '{', len - 2)) {
    *whole = eval_placeholder(tpl + 1, len - 2, vars, err, errlen);
    return *whole ? strdup("") : NULL;
  }
  strbuf_t out = STRBUF_INIT;
  for (const char *p = tpl; *p;) {
    if (*p == '{') {
      const char *e = strchr(p, '}');
      if (!e) break;
      json_t *v = eval_placeholder(p + 1, (size_t)(e - p - 1), vars, err, errlen);
      if (!v) {
        strbuf_reset(&out);
        return NULL;
      }
      char tmp[512];
      if (json_is_string(v))
        snprintf(tmp, sizeof tmp, "%s", json_string_value(v));
      else if (json_is_integer(v))
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
      else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 1e15)
        snprintf(tmp, sizeof tmp, "%lld", (long long)json_real_value(v));
      else if (json_is_number(v))
        snprintf(tmp, sizeof tmp, "%g", json_number_value(v));
      else
        snprintf(tmp, sizeof tmp, "%s", json_is_true(v) ? "1" : "0");
      json_decref(v);
      strbuf_puts(&out, tmp);
      p = e + 1;
      continue;
    }
    const char *q = p;
    while (*q && *q != '{') q++;
    strbuf_append(&out, p, (size_t)(q - p));
    p = q;
  }
  return strbuf_take(&out, NULL);
}

json_t *oscmap_eval(const json_t *tpl, const json_t *vars, char *err, size_t errlen) {
  if (!json_is_string(tpl)) return tpl ? json_incref((json_t *)tpl) : NULL;
  json_t *whole = NULL;
  char *s = render_string(json_string_value(tpl), vars, &whole, err, errlen);
  if (!s) return NULL;
  if (whole) {
    free(s);
    return whole;
  }
  json_t *r = json_string(s);
  free(s);
  return r;
}

int oscmap_render(const oscmap_t *m, const json_t *templates, const json_t *vars, char **paths, lo_message *msgs,
                  int max, char *err, size_t errlen) {
  (void)m;
  int n = 0;
  size_t i;
  json_t *t;
  json_array_foreach(templates, i, t) {
    if (n >= max) {
      errfmt(err, errlen, OSCMAP_ERENDER, "too many messages");
      goto bad; /* frees the messages already rendered */
    }
    char *path = render_string(json_string_value(json_object_get(t, "path")), vars, NULL, err, errlen);
    if (!path) goto bad;
    lo_message msg = lo_message_new();
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(t, "args"), k, a) {
      char type = json_string_value(json_array_get(a, 0))[0];
      json_t *v = json_array_get(a, 1);
      json_t *val = NULL;
      char *sv = NULL;
      if (json_is_string(v)) {
        sv = render_string(json_string_value(v), vars, &val, err, errlen);
        if (!sv) {
          lo_message_free(msg);
          free(path);
          goto bad;
        }
      } else {
        val = json_incref(v);
      }
      double d = NAN;
      if (val && json_is_number(val))
        d = json_number_value(val);
      else if (val && json_is_boolean(val))
        d = json_is_true(val);
      else if (val && json_is_string(val) && type != 's') {
        char *end;
        d = strtod(json_string_value(val), &end);
        if (*end) d = NAN;
      } else if (!val && sv && type != 's') {
        char *end;
        d = strtod(sv, &end);
        if (*end || end == sv) d = NAN;
      }
      const char *unsendable = NULL; /* why the value cannot be this argument */
      if (type == 's') {
        const char *s = val ? (json_is_string(val) ? json_string_value(val) : NULL) : sv;
        char nb[64];
        if (!s && val) {
          snprintf(nb, sizeof nb, "%g", d);
          s = nb;
        }
        lo_message_add_string(msg, s ? s : "");
      } else if (isnan(d) || isinf(d))
        unsendable = "is not a number";
      else if (type == 'i' && (d < -2147483648.0 || d > 2147483647.0))
        unsendable = "out of int32 range";
      else if (type == 'i')
        lo_message_add_int32(msg, (int32_t)lrint(d));
      else if (type == 'f')
        lo_message_add_float(msg, (float)d);
      else if (type == 'd')
        lo_message_add_double(msg, d);
      else if (type == 'h')
        lo_message_add_int64(msg, (int64_t)llrint(d));
      json_decref(val);
      free(sv);
      if (unsendable) {
        errfmt(err, errlen, OSCMAP_ERENDER, "%s: argument %zu %s", path, k + 1, unsendable);
        lo_message_free(msg);
        free(path);
        goto bad;
      }
    }
    paths[n] = path;
    msgs[n] = msg;
    n++;
  }
  return n;
bad:
  for (int q = 0; q < n; q++) {
    free(paths[q]);
    lo_message_free(msgs[q]);
  }
  return OSCMAP_ERENDER;
}
