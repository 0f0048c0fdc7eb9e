/* web_req: the web face's request rules (see web_req.h). Pure functions; no I/O except webreq_make_token. */
#include "web_req.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

static size_t policy_max_body(const struct webreq_policy *p) { return p->max_body ? p->max_body : WEBREQ_MAX_BODY; }

static int listen_is_loopback(const char *listen) {
  return !listen || !*listen || !strcmp(listen, "127.0.0.1") || !strcmp(listen, "localhost");
}

static int listen_is_wildcard(const char *listen) {
  return listen && (!strcmp(listen, "0.0.0.0") || !strcmp(listen, "::") || !strcmp(listen, "[::]"));
}

/* 1 if s (n bytes) is a dotted IPv4 literal or a bracketed IPv6 literal: names no DNS lookup can rebind. */
static int is_ip_literal(const char *s, size_t n) {
  if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
    for (size_t i = 1; i + 1 < n; i++)
      if (!strchr("0123456789abcdefABCDEF:.", s[i])) return 0;
    return n > 2;
  }
  int dots = 0, digits = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '.') {
      if (!digits) return 0;
      dots++, digits = 0;
    } else if (s[i] >= '0' && s[i] <= '9') {
      if (++digits > 3) return 0;
    } else {
      return 0;
    }
  }
  return dots == 3 && digits > 0;
}

static int name_eq(const char *s, size_t n, const char *name) { return strlen(name) == n && !strncasecmp(s, name, n); }

int webreq_host_ok(const struct webreq_policy *p, const char *host) {
  if (!host || !*host) return 0;
  size_t len = strlen(host);
  /* split off ":PORT" (the last ':' after a closing bracket for IPv6 literals) */
  const char *colon = NULL;
  const char *close = strrchr(host, ']');
  const char *from = close ? close : host;
  colon = strrchr(from, ':');
  size_t namelen = colon ? (size_t)(colon - host) : len;
  long port = 80;
  if (colon) {
    const char *d = colon + 1;
    if (!*d || strlen(d) > 5) return 0;
    port = 0;
    for (; *d; d++) {
      if (*d < '0' || *d > '9') return 0;
      port = port * 10 + (*d - '0');
    }
  }
  if (port != p->port) return 0;
  if (name_eq(host, namelen, "127.0.0.1") || name_eq(host, namelen, "localhost") || name_eq(host, namelen, "[::1]"))
    return 1;
  if (listen_is_loopback(p->listen)) return 0;
  if (listen_is_wildcard(p->listen)) return is_ip_literal(host, namelen);
  return name_eq(host, namelen, p->listen);
}

int webreq_origin_ok(const struct webreq_policy *p, const char *origin) {
  if (!origin) return 1;
  static const char scheme[] = "http://";
  if (strncasecmp(origin, scheme, sizeof scheme - 1)) return 0;
  const char *host = origin + sizeof scheme - 1;
  if (strchr(host, '/')) return 0;
  return webreq_host_ok(p, host);
}

/* constant-time equality of a candidate (n bytes) with the token */
static int token_eq(const char *token, const char *cand, size_t n) {
  size_t tl = strlen(token);
  unsigned char diff = (unsigned char)(tl != n || tl == 0);
  for (size_t i = 0; i < tl; i++) diff |= (unsigned char)(token[i] ^ (i < n ? cand[i] : 0));
  return diff == 0;
}

int webreq_token_ok(const struct webreq_policy *p, const char *authorization, const char *query) {
  if (!p->token || !*p->token) return 0;
  if (authorization) {
    static const char bearer[] = "Bearer ";
    if (!strncasecmp(authorization, bearer, sizeof bearer - 1)) {
      const char *t = authorization + sizeof bearer - 1;
      while (*t == ' ') t++;
      size_t n = strlen(t);
      while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
      if (token_eq(p->token, t, n)) return 1;
    }
  }
  for (const char *q = query; q && *q;) {
    const char *amp = strchr(q, '&');
    size_t n = amp ? (size_t)(amp - q) : strlen(q);
    if (n > 6 && !strncmp(q, "token=", 6) && token_eq(p->token, q + 6, n - 6)) return 1;
    q = amp ? amp + 1 : NULL;
  }
  return 0;
}

/* "/name" with name one plain file name: [A-Za-z0-9_-][A-Za-z0-9._-]*, no "..", at most WEBREQ_NAME_MAX */
static int static_name(const char *path, char *out) {
  if (!strcmp(path, "/")) {
    strcpy(out, "index.html");
    return 1;
  }
  const char *n = path + 1;
  size_t len = strlen(n);
  if (!len || len > WEBREQ_NAME_MAX || n[0] == '.' || strstr(n, "..")) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = n[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return 0;
  }
  memcpy(out, n, len + 1);
  return 1;
}

struct api_route {
  const char *path;
  enum webreq_route route;
  enum webreq_method method;
};

static const struct api_route api_routes[] = {
    {"/api/state", WEBREQ_STATE, WEBREQ_GET},     {"/api/status", WEBREQ_STATUS, WEBREQ_GET},
    {"/api/history", WEBREQ_HISTORY, WEBREQ_GET}, {"/api/events", WEBREQ_EVENTS, WEBREQ_GET},
    {"/api/ask", WEBREQ_ASK, WEBREQ_POST},        {"/api/cancel", WEBREQ_CANCEL, WEBREQ_POST},
    {"/api/undo", WEBREQ_UNDO, WEBREQ_POST},      {"/api/restore", WEBREQ_RESTORE, WEBREQ_POST},
    {"/api/new", WEBREQ_NEW, WEBREQ_POST},
};

/* "N" as a positive int, digits only */
static int parse_number(const char *s, int *out) {
  long v = 0;
  if (!*s) return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    v = v * 10 + (*s - '0');
    if (v > 1000000000L) return 0;
  }
  if (v < 1) return 0;
  *out = (int)v;
  return 1;
}

static int refuse(int status, char *msg, size_t msglen, const char *text) {
  snprintf(msg, msglen, "%s", text);
  return status;
}

int webreq_check(const struct webreq_policy *p, const struct webreq *r, struct webreq_target *t, char *msg,
                 size_t msglen) {
  memset(t, 0, sizeof *t);
  if (!webreq_host_ok(p, r->host))
    return refuse(403, msg, msglen, "foreign Host: this server answers only to the address it listens on");
  if (!webreq_origin_ok(p, r->origin))
    return refuse(403, msg, msglen, "foreign Origin: requests from other sites are refused");
  const char *path = r->path;
  if (!path || path[0] != '/') return refuse(404, msg, msglen, "not found");
  enum webreq_method want = WEBREQ_GET;
  int api = !strncmp(path, "/api/", 5) || !strcmp(path, "/api");
  if (api) {
    static const char iter[] = "/api/iteration/";
    if (!strncmp(path, iter, sizeof iter - 1)) {
      if (!parse_number(path + sizeof iter - 1, &t->iteration))
        return refuse(404, msg, msglen, "not found: /api/iteration/N takes an iteration number >= 1");
      t->route = WEBREQ_ITERATION;
    } else {
      for (size_t i = 0; i < sizeof api_routes / sizeof api_routes[0]; i++)
        if (!strcmp(path, api_routes[i].path)) {
          t->route = api_routes[i].route;
          want = api_routes[i].method;
        }
      if (t->route == WEBREQ_NOT_FOUND) return refuse(404, msg, msglen, "not found: no such API path");
    }
  } else {
    if (!static_name(path, t->file)) return refuse(404, msg, msglen, "not found");
    t->route = WEBREQ_STATIC;
  }
  if (r->websocket != (t->route == WEBREQ_EVENTS))
    return refuse(r->websocket ? 404 : 400, msg, msglen,
                  r->websocket ? "not found: the WebSocket is /api/events" : "/api/events is a WebSocket");
  if (r->method != want) {
    t->route = WEBREQ_NOT_FOUND;
    return refuse(405, msg, msglen,
                  want == WEBREQ_GET ? "method not allowed: use GET" : "method not allowed: use POST");
  }
  if (api && !webreq_token_ok(p, r->authorization, r->query)) {
    t->route = WEBREQ_NOT_FOUND;
    return refuse(401, msg, msglen,
                  "missing or wrong token: open the URL dawbridge printed (with ?token=...) or send "
                  "Authorization: Bearer TOKEN");
  }
  if (r->content_length > 0 && (size_t)r->content_length > policy_max_body(p)) {
    t->route = WEBREQ_NOT_FOUND;
    snprintf(msg, msglen, "body too large: at most %zu bytes", policy_max_body(p));
    return 413;
  }
  return 0;
}

/* the fields each POST route accepts */
static const char *const ask_fields[] = {"text", NULL};
static const char *const cancel_fields[] = {"request", NULL};
static const char *const undo_fields[] = {"iteration", "force", NULL};
static const char *const none_fields[] = {NULL};

static int field_known(const char *const *fields, const char *key) {
  for (; *fields; fields++)
    if (!strcmp(*fields, key)) return 1;
  return 0;
}

static int get_int(json_t *o, const char *key, int min, int *out, char *msg, size_t msglen) {
  json_t *v = json_object_get(o, key);
  if (!v) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > 1000000000) {
    snprintf(msg, msglen, "\"%s\" must be an integer >= %d", key, min);
    return 400;
  }
  *out = (int)json_integer_value(v);
  return 0;
}

int webreq_body(const struct webreq_policy *p, enum webreq_route route, const char *body, size_t len,
                struct webreq_body *out, json_t **json, char *msg, size_t msglen) {
  memset(out, 0, sizeof *out);
  *json = NULL;
  if (len > policy_max_body(p)) {
    snprintf(msg, msglen, "body too large: at most %zu bytes", policy_max_body(p));
    return 413;
  }
  const char *const *fields;
  switch (route) {
  case WEBREQ_ASK: fields = ask_fields; break;
  case WEBREQ_CANCEL: fields = cancel_fields; break;
  case WEBREQ_UNDO:
  case WEBREQ_RESTORE: fields = undo_fields; break;
  case WEBREQ_NEW: fields = none_fields; break;
  default: return refuse(400, msg, msglen, "this path takes no body");
  }
  size_t ws = 0;
  while (ws < len && (body[ws] == ' ' || body[ws] == '\t' || body[ws] == '\r' || body[ws] == '\n')) ws++;
  json_t *o = NULL;
  if (ws < len) {
    json_error_t e;
    o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
      snprintf(msg, msglen, "malformed JSON at line %d column %d: %s", e.line, e.column, e.text);
      return 400;
    }
    if (!json_is_object(o)) {
      json_decref(o);
      return refuse(400, msg, msglen, "the body must be a JSON object");
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
      if (!field_known(fields, key)) {
        snprintf(msg, msglen, "unknown field \"%.64s\"", key);
        json_decref(o);
        return 400;
      }
    }
  }
  int rc = 0;
  switch (route) {
  case WEBREQ_ASK: {
    json_t *text = json_object_get(o, "text");
    if (!json_is_string(text) || !json_string_length(text)) {
      rc = refuse(400, msg, msglen, "\"text\" (the request, a non-empty string) is required");
      break;
    }
    if (memchr(json_string_value(text), 0, json_string_length(text))) {
      rc = refuse(400, msg, msglen, "\"text\" must not contain NUL characters");
      break;
    }
    out->text = json_string_value(text);
    break;
  }
  case WEBREQ_CANCEL: rc = get_int(o, "request", 0, &out->request, msg, msglen); break;
  case WEBREQ_UNDO:
  case WEBREQ_RESTORE: {
    int min = route == WEBREQ_RESTORE ? 1 : 0;
    if (route == WEBREQ_RESTORE && !json_object_get(o, "iteration")) {
      rc = refuse(400, msg, msglen, "\"iteration\" (the iteration to restore, >= 1) is required");
      break;
    }
    rc = get_int(o, "iteration", min, &out->iteration, msg, msglen);
    json_t *force = json_object_get(o, "force");
    if (!rc && force) {
      if (!json_is_boolean(force))
        rc = refuse(400, msg, msglen, "\"force\" must be true or false");
      else
        out->force = json_is_true(force);
    }
    break;
  }
  default: break;
  }
  if (rc) {
    json_decref(o);
    memset(out, 0, sizeof *out);
    return rc;
  }
  *json = o;
  return 0;
}

const char *webreq_mime(const char *file) {
  static const struct {
    const char *ext, *mime;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".json", "application/json"},
      {".ico", "image/x-icon"},
  };
  const char *dot = strrchr(file, '.');
  if (dot)
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (!strcmp(dot, types[i].ext)) return types[i].mime;
  return "application/octet-stream";
}

int webreq_make_token(char *out, size_t outlen) {
  unsigned char raw[WEBREQ_TOKEN_HEX / 2];
  if (outlen <= WEBREQ_TOKEN_HEX) return UV_EINVAL;
  int rc = uv_random(NULL, NULL, raw, sizeof raw, 0, NULL);
  if (rc < 0) return rc;
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof raw; i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[WEBREQ_TOKEN_HEX] = 0;
  return 0;
}
