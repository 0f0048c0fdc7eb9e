/* notes_packed: the companion's packed note list. See notes_packed.h. */
#include "notes_packed.h"

#include <math.h>
#include <stdio.h>

#include "errfmt.h"

const char *packed_strerror(int code) {
  switch (code) {
  case PACKED_OK: return "ok";
  case PACKED_EINVAL: return "malformed packed notes";
  case PACKED_ETOOMANY: return "too many packed notes";
  case PACKED_ENOMEM: return "out of memory";
  default: return "unknown packed-notes error";
  }
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* One unsigned decimal of 1..10 digits at *pp (< end); 0 with *v and *pp past it, or -1. */
static int read_uint(const char **pp, const char *end, long long *v) {
  const char *p = *pp;
  long long x = 0;
  int digits = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (++digits > 10) return -1;
    x = x * 10 + (*p - '0');
    p++;
  }
  if (!digits) return -1;
  *v = x;
  *pp = p;
  return 0;
}

static double beats_of(long long ticks) { return floor((double)ticks / PACKED_TICKS * 1e6 + 0.5) / 1e6; }

int packed_decode(const char *text, size_t len, size_t max_notes, json_t **out, char *err, size_t errlen) {
  static const char *const field[5] = {"n", "s", "d", "v", "c"};
  static const long long lo[5] = {0, 0, 1, 0, 0};
  static const long long hi[5] = {127, PACKED_MAX_TICKS, PACKED_MAX_TICKS, 127, 15};
  *out = NULL;
  if (!text && len) return errfmt(err, errlen, PACKED_EINVAL, "packed notes: no text");
  json_t *a = json_array();
  if (!a) return errfmt(err, errlen, PACKED_ENOMEM, "packed notes: out of memory");
  const char *p = text, *end = text ? text + len : text; /* no arithmetic on a NULL pointer */
  size_t count = 0;
  for (;;) {
    while (p < end && is_space(*p)) p++;
    if (p >= end) break;
    if (count >= max_notes) {
      json_decref(a);
      return errfmt(err, errlen, PACKED_ETOOMANY, "packed notes: more than %zu notes", max_notes);
    }
    long long v[5];
    for (int k = 0; k < 5; k++) {
      if (k) {
        const char *q = p;
        while (p < end && is_space(*p)) p++;
        if (p == q) {
          json_decref(a);
          return errfmt(err, errlen, PACKED_EINVAL,
                        "packed notes: note %zu: want \"n s d v c\" (five integers), bad text at byte %zu", count + 1,
                        (size_t)(p - text));
        }
      }
      if (read_uint(&p, end, &v[k])) {
        json_decref(a);
        return errfmt(err, errlen, PACKED_EINVAL,
                      "packed notes: note %zu: %s must be an unsigned integer of at most 10 digits (byte %zu)",
                      count + 1, field[k], (size_t)(p - text));
      }
      if (v[k] < lo[k] || v[k] > hi[k]) {
        json_decref(a);
        return errfmt(err, errlen, PACKED_EINVAL, "packed notes: note %zu: %s = %lld is outside %lld..%lld", count + 1,
                      field[k], v[k], lo[k], hi[k]);
      }
    }
    /* built directly (not json_pack: its format is parsed per call, and a bulk read has 10,000s of notes) */
    json_t *o = json_object();
    if (o &&
        (json_object_set_new(o, "n", json_integer(v[0])) || json_object_set_new(o, "s", json_real(beats_of(v[1]))) ||
         json_object_set_new(o, "d", json_real(beats_of(v[2]))) || json_object_set_new(o, "v", json_integer(v[3])) ||
         json_object_set_new(o, "c", json_integer(v[4])))) {
      json_decref(o);
      o = NULL;
    }
    if (!o || json_array_append_new(a, o)) {
      json_decref(a);
      return errfmt(err, errlen, PACKED_ENOMEM, "packed notes: out of memory");
    }
    count++;
    while (p < end && is_space(*p)) p++;
    if (p >= end) break;
    if (*p != ';') {
      json_decref(a);
      return errfmt(err, errlen, PACKED_EINVAL, "packed notes: note %zu: want ';' after it, bad text at byte %zu",
                    count, (size_t)(p - text));
    }
    p++;
  }
  *out = a;
  return PACKED_OK;
}

static long long ticks_of(double beats) { return (long long)floor(beats * PACKED_TICKS + 0.5); }

int packed_encode(const json_t *notes, size_t from, size_t count, strbuf_t *out, char *err, size_t errlen) {
  size_t n = json_array_size(notes);
  for (size_t i = from; i < n && i < from + count; i++) {
    const json_t *o = json_array_get(notes, i);
    const json_t *jn = json_object_get(o, "n"), *js = json_object_get(o, "s"), *jd = json_object_get(o, "d"),
                 *jv = json_object_get(o, "v"), *jc = json_object_get(o, "c");
    if (!json_is_integer(jn) || !json_is_number(js) || !json_is_number(jd) || !json_is_integer(jv) ||
        (jc && !json_is_integer(jc)))
      return errfmt(err, errlen, PACKED_EINVAL, "note %zu: needs integer n and v, numbers s and d", i + 1);
    double s = json_number_value(js), d = json_number_value(jd);
    json_int_t nn = json_integer_value(jn), v = json_integer_value(jv), c = jc ? json_integer_value(jc) : 0;
    /* (the comparisons on doubles first: a NaN or a huge value never reaches the conversion to ticks) */
    int ok = s >= 0 && d > 0 && s < 2.0 * PACKED_MAX_TICKS / PACKED_TICKS && d < 2.0 * PACKED_MAX_TICKS / PACKED_TICKS;
    long long st = ok ? ticks_of(s) : -1, dt = ok ? ticks_of(d) : -1;
    if (ok && dt < 1) dt = 1;
    if (!ok || st > PACKED_MAX_TICKS || dt > PACKED_MAX_TICKS || nn < 0 || nn > 127 || v < 0 || v > 127 || c < 0 ||
        c > 15)
      return errfmt(err, errlen, PACKED_EINVAL, "note %zu {n:%lld, s:%g, d:%g, v:%lld}: out of range", i + 1,
                    (long long)nn, s, d, (long long)v);
    if (i > from) strbuf_putc(out, ';');
    strbuf_appendf(out, "%lld %lld %lld %lld %lld", (long long)nn, st, dt, (long long)v, (long long)c);
  }
  if (out->oom) return errfmt(err, errlen, PACKED_ENOMEM, "packed notes: out of memory");
  return PACKED_OK;
}
