/* Fuzz target: the web face's request rules (app/web_req.c) — routing, Host/Origin (DNS rebinding), the token,
 * static file names (path traversal), and the POST bodies turned into live requests.
 * Input: a request as text: "METHOD PATH[?QUERY]\n" then "Name: value" header lines (Host, Origin,
 * Authorization, Content-Length, Upgrade), an empty line, then the body (the harness's own split, not HTTP).
 * Invariants: no crash/sanitizer report; webreq_check answers 0 or one of 400/401/403/404/405/413; a request it
 * lets through has an accepted Host, an accepted Origin, the token for /api paths, and a static name without
 * '/' or ".."; webreq_body answers 0/400/413, and 0 only with the fields each route needs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web_req.h"

static const char token[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) abort();
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data, *end = in + size;
  char *line[8] = {0};
  int nlines = 0;
  const char *p = in;
  while (p < end && nlines < 8) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n == 0) {
      p = nl ? nl + 1 : end;
      break;
    }
    line[nlines++] = dup_n(p, n);
    p = nl ? nl + 1 : end;
  }
  const char *body = p;
  size_t body_len = (size_t)(end - p);

  struct webreq r = {.method = WEBREQ_OTHER, .content_length = -1};
  char *path = NULL;
  if (nlines > 0) {
    char *sp = strchr(line[0], ' ');
    if (sp) {
      *sp = 0;
      if (!strcmp(line[0], "GET"))
        r.method = WEBREQ_GET;
      else if (!strcmp(line[0], "POST"))
        r.method = WEBREQ_POST;
      path = sp + 1;
      char *q = strchr(path, '?');
      if (q) {
        *q = 0;
        r.query = q + 1;
      }
      r.path = path;
    }
  }
  for (int i = 1; i < nlines; i++) {
    char *colon = strchr(line[i], ':');
    if (!colon) continue;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ') v++;
    if (!strcmp(line[i], "Host"))
      r.host = v;
    else if (!strcmp(line[i], "Origin"))
      r.origin = v;
    else if (!strcmp(line[i], "Authorization"))
      r.authorization = v;
    else if (!strcmp(line[i], "Content-Length"))
      r.content_length = strtoll(v, NULL, 10);
    else if (!strcmp(line[i], "Upgrade"))
      r.websocket = 1;
  }
  /* two policies: loopback only, and widened to a LAN address */
  const char *listens[] = {NULL, "192.168.1.20", "0.0.0.0"};
  for (size_t k = 0; k < 3; k++) {
    struct webreq_policy pol = {.token = token, .port = 8765, .listen = listens[k], .max_body = 256};
    struct webreq_target t;
    char msg[256];
    int st = webreq_check(&pol, &r, &t, msg, sizeof msg);
    if (st && st != 400 && st != 401 && st != 403 && st != 404 && st != 405 && st != 413) {
      fprintf(stderr, "fuzz: webreq_check answered %d\n", st);
      abort();
    }
    if (st && !memchr(msg, 0, sizeof msg)) abort();
    if (!st) {
      if (!webreq_host_ok(&pol, r.host) || !webreq_origin_ok(&pol, r.origin)) abort();
      if (t.route == WEBREQ_NOT_FOUND) abort();
      if (t.route == WEBREQ_STATIC && (strchr(t.file, '/') || strstr(t.file, "..") || !t.file[0])) {
        fprintf(stderr, "fuzz: static name %s let through\n", t.file);
        abort();
      }
      if (t.route != WEBREQ_STATIC && !webreq_token_ok(&pol, r.authorization, r.query)) abort();
      if (t.route == WEBREQ_ITERATION && t.iteration < 1) abort();
    }
    static const enum webreq_route posts[] = {WEBREQ_ASK, WEBREQ_CANCEL, WEBREQ_UNDO, WEBREQ_RESTORE, WEBREQ_NEW};
    for (size_t j = 0; j < sizeof posts / sizeof posts[0]; j++) {
      struct webreq_body b;
      json_t *json = NULL;
      int bs = webreq_body(&pol, posts[j], body, body_len, &b, &json, msg, sizeof msg);
      if (bs && bs != 400 && bs != 413) abort();
      if (bs && json) abort();
      if (!bs) {
        if (posts[j] == WEBREQ_ASK && (!b.text || !*b.text)) abort();
        if (posts[j] == WEBREQ_RESTORE && b.iteration < 1) abort();
        if (b.iteration < 0 || b.request < 0) abort();
      }
      json_decref(json);
    }
  }
  (void)webreq_mime(r.path ? r.path : "");
  for (int i = 0; i < nlines; i++) free(line[i]);
  return 0;
}
