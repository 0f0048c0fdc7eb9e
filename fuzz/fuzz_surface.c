/* Fuzz target: the OSC control surface's message handler (app/surface_codec.c) — every datagram a surface can
 * send goes through surface_decode; the same bytes are also tried as a live event (JSON) for surface_encode_event,
 * and as an allow-list entry and a reply address. Invariants: no crash/sanitizer report; a decoded /ask has a
 * non-empty text within SURFACE_TEXT_MAX; a refused datagram has a message and no text; everything encoded
 * deserialises again with liblo. */
#include <lo/lo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "surface_codec.h"

static void check_encoded(const void *buf, size_t len, void *data) {
  int res;
  lo_message m = lo_message_deserialise((void *)buf, len, &res);
  if (!m) abort();
  const char *path = lo_get_path((void *)buf, (ssize_t)len);
  if (!path || strncmp(path, "/dawbridge/", 11)) abort();
  lo_message_free(m);
  (*(int *)data)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 70000) return 0;
  /* as a datagram (its own buffer: liblo may read up to len, no further) */
  uint8_t *dgram = malloc(size ? size : 1);
  memcpy(dgram, data, size);
  struct surface_cmd c;
  char err[512] = "";
  int rc = surface_decode(dgram, size, &c, err, sizeof err);
  if (rc == SURFACE_OK) {
    if (c.op < SURFACE_IGNORE || c.op > SURFACE_STATUS) abort();
    if (c.op == SURFACE_ASK && (!c.text || !c.text[0] || strlen(c.text) > SURFACE_TEXT_MAX)) abort();
    if (c.op != SURFACE_ASK && c.text) abort();
  } else {
    if (!err[0] || c.text) abort();
  }
  surface_cmd_clear(&c);
  free(dgram);

  char *text = strndup((const char *)data, size); /* the input as a C string: the parsers read up to a NUL */
  if (!text) return 0;
  json_t *ev = json_loads(text, 0, NULL);
  if (ev) {
    int n = 0;
    int k = surface_encode_event(ev, check_encoded, &n);
    if (k != n || k < 0 || k > 2) abort();
    char status[256];
    surface_status_text(ev, status, sizeof status);
    if (strlen(status) >= sizeof status) abort();
    json_decref(ev);
  }
  struct surface_net net;
  struct sockaddr_in sa;
  err[0] = 0;
  if (surface_parse_net(text, &net, err, sizeof err) == SURFACE_OK) {
    if ((net.addr & ~net.mask) != 0) abort();
  } else if (!err[0]) {
    abort();
  }
  if (surface_parse_hostport(text, &sa, err, sizeof err) == SURFACE_OK && sa.sin_port == 0) abort();
  free(text);
  return 0;
}
