/* surface_codec: decode the surface's OSC input, encode live events as OSC (see surface_codec.h). */
#include "surface_codec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lo/lo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errfmt.h"
#include "oscarg.h"
#include "strbuf.h"

const char *surface_strerror(int code) {
  switch (code) {
  case SURFACE_OK: return "ok";
  case SURFACE_EINVAL: return "invalid surface message";
  case SURFACE_ENOMEM: return "out of memory";
  case SURFACE_ESOCKET: return "the surface port could not be opened";
  case SURFACE_ETOOBIG: return "request text too long";
  default: return "unknown surface error";
  }
}

/* ---- decoding ---- */

static int utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  while (p < end) {
    unsigned c = *p++;
    if (c < 0x80) continue;
    int more;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
      more = 1, min = 0x80, c &= 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      more = 2, min = 0x800, c &= 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      more = 3, min = 0x10000, c &= 0x07;
    else
      return 0;
    if (end - p < more) return 0;
    for (int k = 0; k < more; k++) {
      if ((p[k] & 0xC0) != 0x80) return 0;
      c = (c << 6) | (p[k] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    p += more;
  }
  return 1;
}

/* Value of a numeric/boolean argument: 1 nonzero, 0 zero, -1 not a number. */
static int button_value(char type, lo_arg *a) {
  if (!oscarg_is_num(type) && type != 'T' && type != 'F') return -1;
  return oscarg_num(type, a) != 0; /* a NaN float counts as a press: it is not a release */
}

static const struct {
  const char *path;
  enum surface_op op;
} in_paths[] = {
    {"/dawbridge/ask", SURFACE_ASK}, {"/dawbridge/cancel", SURFACE_CANCEL}, {"/dawbridge/undo", SURFACE_UNDO},
    {"/dawbridge/new", SURFACE_NEW}, {"/dawbridge/status", SURFACE_STATUS},
};

/* The address for messages (printable, cut): bytes from the client are never echoed raw. */
static void safe_path(const char *p, char *buf, size_t n) {
  size_t k = 0;
  for (; p && *p && k + 4 < n; p++) buf[k++] = (*p >= 0x20 && *p < 0x7F) ? *p : '?';
  if (p && *p && k + 4 >= n) buf[k++] = '.', buf[k++] = '.', buf[k++] = '.';
  buf[k] = 0;
}

int surface_decode(const void *data, size_t len, struct surface_cmd *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!data || len == 0) return errfmt(err, errlen, SURFACE_EINVAL, "empty datagram: not an OSC message");
  if (len >= 8 && !memcmp(data, "#bundle", 8))
    return errfmt(err, errlen, SURFACE_EINVAL, "OSC bundles are not accepted: send single messages");
  if (((const char *)data)[0] != '/') return errfmt(err, errlen, SURFACE_EINVAL, "not an OSC message");
  int res = 0;
  lo_message m = lo_message_deserialise((void *)data, len, &res);
  if (!m) return errfmt(err, errlen, SURFACE_EINVAL, "malformed OSC message (liblo error %d)", res);
  const char *path = lo_get_path((void *)data, (ssize_t)len);
  char shown[96];
  safe_path(path, shown, sizeof shown);
  int rc = SURFACE_OK;
  size_t k;
  for (k = 0; k < sizeof in_paths / sizeof *in_paths; k++)
    if (path && !strcmp(path, in_paths[k].path)) break;
  const char *types = lo_message_get_types(m);
  int argc = lo_message_get_argc(m);
  lo_arg **argv = lo_message_get_argv(m);
  if (!types) types = "";
  if (k == sizeof in_paths / sizeof *in_paths) {
    rc = errfmt(err, errlen, SURFACE_EINVAL,
                "unknown address %s (known: /dawbridge/ask ,s, /dawbridge/cancel, /dawbridge/undo, /dawbridge/new, "
                "/dawbridge/status)",
                shown);
  } else if (in_paths[k].op == SURFACE_ASK) {
    if (argc != 1 || (types[0] != 's' && types[0] != 'S')) {
      rc = errfmt(err, errlen, SURFACE_EINVAL, "/dawbridge/ask takes one string (,s), not ,%.16s", types);
    } else {
      const char *s = (const char *)argv[0]; /* not argv[0]->s: liblo packs on 4 bytes (UBSan) */
      size_t n = strnlen(s, len);
      while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, n--;
      while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
      if (!n)
        rc = errfmt(err, errlen, SURFACE_EINVAL, "/dawbridge/ask: the request is empty");
      else if (n > SURFACE_TEXT_MAX)
        rc = errfmt(err, errlen, SURFACE_ETOOBIG, "/dawbridge/ask: the request has %zu bytes, at most %d", n,
                    SURFACE_TEXT_MAX);
      else if (!utf8_valid(s, n))
        rc = errfmt(err, errlen, SURFACE_EINVAL, "/dawbridge/ask: the request is not UTF-8");
      else if (!(out->text = malloc(n + 1)))
        rc = errfmt(err, errlen, SURFACE_ENOMEM, "out of memory");
      else {
        memcpy(out->text, s, n);
        out->text[n] = 0;
        out->op = SURFACE_ASK;
      }
    }
  } else if (argc == 0) {
    out->op = in_paths[k].op;
  } else {
    int v = argc == 1 ? button_value(types[0], argv[0]) : -1;
    if (v < 0)
      rc = errfmt(err, errlen, SURFACE_EINVAL, "%s takes no argument or one number (a button), not ,%.16s", shown,
                  types);
    else
      out->op = v ? in_paths[k].op : SURFACE_IGNORE;
  }
  lo_message_free(m);
  return rc;
}

void surface_cmd_clear(struct surface_cmd *c) {
  free(c->text);
  c->text = NULL;
  c->op = SURFACE_IGNORE;
}

/* ---- encoding ---- */

/* Copies s into buf (n bytes) cut at a UTF-8 character boundary, with "..." when cut; control characters other
 * than newline become spaces (surface text widgets). */
static void cut_text(const char *s, char *buf, size_t n) {
  size_t len = s ? strlen(s) : 0, k = 0;
  int cut = len + 1 > n;
  size_t keep = cut ? n - 4 : len;
  while (cut && keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--;
  for (; k < keep; k++) {
    unsigned char ch = (unsigned char)s[k];
    buf[k] = (ch < 0x20 && ch != '\n') || ch == 0x7F ? ' ' : (char)ch;
  }
  if (cut) memcpy(buf + k, "...", 3), k += 3;
  buf[k] = 0;
}

static void emit_msg(lo_message m, const char *path, surface_emit_fn emit, void *data) {
  size_t len = 0;
  void *buf = lo_message_serialise(m, path, NULL, &len);
  if (buf) emit(buf, len, data);
  free(buf);
  lo_message_free(m);
}

void surface_encode_text(const char *path, const char *text, surface_emit_fn emit, void *data) {
  char buf[SURFACE_SUMMARY_MAX + 1];
  cut_text(text ? text : "", buf, sizeof buf);
  lo_message m = lo_message_new();
  if (!m) return;
  lo_message_add_string(m, buf);
  emit_msg(m, path, emit, data);
}

static const char *jstr(const json_t *o, const char *k, const char *dflt) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : dflt;
}

static int jint(const json_t *o, const char *k) {
  json_int_t v = json_integer_value(json_object_get(o, k));
  return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int)v;
}

/* The text grows past SURFACE_PLAN_MAX by one line at most: cut_text cuts the rest. */
static void encode_plan(const json_t *ev, surface_emit_fn emit, void *data) {
  strbuf_t t = STRBUF_INIT;
  const json_t *steps = json_object_get(json_object_get(ev, "plan"), "steps");
  size_t i;
  const json_t *st;
  char line[512];
  json_array_foreach(steps, i, st) {
    snprintf(line, sizeof line, "%s%d %s: %s", i ? "\n" : "", jint(st, "step"), jstr(st, "tool", "?"),
             jstr(st, "description", ""));
    strbuf_puts(&t, line);
    if (t.len > SURFACE_PLAN_MAX) break;
  }
  if (!json_array_size(steps)) strbuf_puts(&t, jstr(ev, "text", "(no plan)"));
  const json_t *errors = json_object_get(ev, "errors");
  if (json_array_size(errors)) {
    strbuf_puts(&t, "\nplan errors:");
    json_array_foreach(errors, i, st) {
      const char *e = json_is_string(st) ? json_string_value(st) : jstr(st, "message", "?");
      snprintf(line, sizeof line, "\n- %s", e);
      strbuf_puts(&t, line);
      if (t.len > SURFACE_PLAN_MAX) break;
    }
  }
  char *buf = malloc(SURFACE_PLAN_MAX + 1);
  lo_message m = buf ? lo_message_new() : NULL;
  if (m) {
    cut_text(t.s ? t.s : "", buf, SURFACE_PLAN_MAX + 1); /* on oom: the part that fitted */
    lo_message_add_string(m, buf);
    emit_msg(m, "/dawbridge/plan", emit, data);
  }
  free(buf);
  strbuf_reset(&t);
}

int surface_encode_event(const json_t *ev, surface_emit_fn emit, void *data) {
  const char *type = jstr(ev, "type", "");
  char buf[SURFACE_SUMMARY_MAX + 1];
  lo_message m;
  if (!strcmp(type, "queued")) {
    int pos = jint(ev, "position");
    if (pos <= 0) return 0;
    if (!(m = lo_message_new())) return 0;
    snprintf(buf, sizeof buf, "busy: your request is queued at position %d and runs when the current one ends", pos);
    lo_message_add_int32(m, pos);
    lo_message_add_string(m, buf);
    emit_msg(m, "/dawbridge/busy", emit, data);
    return 1;
  }
  if (!strcmp(type, "stage")) {
    surface_encode_text("/dawbridge/status", jstr(ev, "stage", "?"), emit, data);
    return 1;
  }
  if (!strcmp(type, "plan")) {
    encode_plan(ev, emit, data);
    return 1;
  }
  if (!strcmp(type, "step")) {
    if (!(m = lo_message_new())) return 0;
    lo_message_add_int32(m, jint(ev, "index"));
    lo_message_add_int32(m, jint(ev, "total"));
    cut_text(jstr(ev, "tool", ""), buf, 128);
    lo_message_add_string(m, buf);
    cut_text(jstr(ev, "outcome", ""), buf, 64);
    lo_message_add_string(m, buf);
    emit_msg(m, "/dawbridge/step", emit, data);
    return 1;
  }
  if (!strcmp(type, "done")) {
    if (!(m = lo_message_new())) return 0;
    lo_message_add_int32(m, jint(ev, "confirmed"));
    lo_message_add_int32(m, jint(ev, "total"));
    cut_text(jstr(ev, "summary", jstr(ev, "status", "")), buf, sizeof buf);
    lo_message_add_string(m, buf);
    emit_msg(m, "/dawbridge/done", emit, data);
    const char *status = jstr(ev, "status", "ok");
    if (strcmp(status, "ok")) {
      snprintf(buf, sizeof buf, "%s: %s (exit code %d)", status, jstr(ev, "summary", ""), jint(ev, "exit_code"));
      surface_encode_text("/dawbridge/error", buf, emit, data);
      return 2;
    }
    return 1;
  }
  if (!strcmp(type, "error")) {
    surface_encode_text("/dawbridge/error", jstr(ev, "message", "error"), emit, data);
    return 1;
  }
  if (!strcmp(type, "connection")) {
    const char *msg = jstr(ev, "message", "");
    snprintf(buf, sizeof buf, "DAW connection %s%s%s", jstr(ev, "state", "?"), *msg ? ": " : "", msg);
    surface_encode_text("/dawbridge/status", buf, emit, data);
    return 1;
  }
  if (!strcmp(type, "conversation")) {
    surface_encode_text("/dawbridge/status", "new conversation", emit, data);
    return 1;
  }
  return 0;
}

void surface_status_text(const json_t *st, char *buf, size_t n) {
  const json_t *run = json_object_get(st, "running");
  size_t queued = json_array_size(json_object_get(st, "queue"));
  int connected = json_is_true(json_object_get(st, "connected"));
  char running[600];
  if (json_is_object(run)) {
    char t[200];
    cut_text(jstr(run, "text", ""), t, sizeof t);
    snprintf(running, sizeof running, "running #%d %s \"%s\" (%s)", jint(run, "request"), jstr(run, "kind", "?"), t,
             jstr(run, "stage", "?"));
  } else {
    snprintf(running, sizeof running, "idle");
  }
  snprintf(buf, n, "%s %s, %s, %zu queued, %d conversation turns", jstr(st, "dialect", "DAW"),
           connected ? "connected" : "NOT connected", running, queued, jint(st, "conversation_turns"));
}

/* ---- allow-list and reply address ---- */

int surface_parse_net(const char *s, struct surface_net *out, char *err, size_t errlen) {
  char host[64];
  const char *slash = s ? strchr(s, '/') : NULL;
  size_t hl = slash ? (size_t)(slash - s) : (s ? strlen(s) : 0);
  if (!s || !hl || hl >= sizeof host)
    return errfmt(err, errlen, SURFACE_EINVAL, "--surface-allow: '%.80s' is not an IPv4 address or CIDR", s ? s : "");
  memcpy(host, s, hl);
  host[hl] = 0;
  struct in_addr a;
  if (inet_pton(AF_INET, host, &a) != 1)
    return errfmt(err, errlen, SURFACE_EINVAL, "--surface-allow: '%.80s' is not an IPv4 address (A.B.C.D[/BITS])", s);
  long bits = 32;
  if (slash) {
    char *end;
    errno = 0;
    bits = strtol(slash + 1, &end, 10);
    if (errno || end == slash + 1 || *end || bits < 0 || bits > 32)
      return errfmt(err, errlen, SURFACE_EINVAL, "--surface-allow: '%.80s': the prefix length must be 0-32", s);
  }
  out->mask = bits ? 0xFFFFFFFFu << (32 - bits) : 0;
  out->addr = ntohl(a.s_addr) & out->mask;
  return SURFACE_OK;
}

int surface_net_allows(const struct surface_net *nets, size_t n, struct in_addr a) {
  uint32_t h = ntohl(a.s_addr);
  for (size_t i = 0; i < n; i++)
    if ((h & nets[i].mask) == nets[i].addr) return 1;
  return 0;
}

int surface_parse_hostport(const char *s, struct sockaddr_in *out, char *err, size_t errlen) {
  const char *colon = s ? strrchr(s, ':') : NULL;
  char host[64];
  if (!colon || colon == s || (size_t)(colon - s) >= sizeof host)
    return errfmt(err, errlen, SURFACE_EINVAL, "--surface-reply: '%.80s' is not HOST:PORT", s ? s : "");
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = 0;
  char *end;
  errno = 0;
  long port = strtol(colon + 1, &end, 10);
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  if (errno || end == colon + 1 || *end || port < 1 || port > 65535)
    return errfmt(err, errlen, SURFACE_EINVAL, "--surface-reply: '%.80s': the port must be 1-65535", s);
  if (!strcmp(host, "localhost")) strcpy(host, "127.0.0.1");
  if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
    return errfmt(err, errlen, SURFACE_EINVAL, "--surface-reply: '%.80s': the host must be an IPv4 address", s);
  out->sin_port = htons((uint16_t)port);
  return SURFACE_OK;
}
