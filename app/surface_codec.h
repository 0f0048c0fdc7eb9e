/* surface_codec: the OSC control surface's wire format (README "Live session", "Control surface"), pure: no I/O,
 * no loop, no live session — the face (surface.c) does the socket and the live calls.
 *
 *   in   /dawbridge/ask ,s   /dawbridge/cancel   /dawbridge/undo   /dawbridge/new   /dawbridge/status
 *   out  /dawbridge/plan ,s  /dawbridge/step ,iiss (index, total, tool, outcome)  /dawbridge/done ,iis (confirmed,
 *        total, summary)  /dawbridge/error ,s  /dawbridge/busy ,is (queue position, text)  /dawbridge/status ,s
 *
 * Buttons of TouchOSC / Open Stage Control send a value with each press (1) and release (0): the argument-less
 * commands also take ONE number or boolean; a zero/false one is a release and is ignored (SURFACE_IGNORE), so one
 * press acts once. Anything else (bundles, unknown addresses, wrong types, empty or oversized text, bytes that
 * are no OSC) is an error with a message for /dawbridge/error.
 */
#ifndef DAWBRIDGE_SURFACE_CODEC_H
#define DAWBRIDGE_SURFACE_CODEC_H

#include <jansson.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

enum surface_err {
  SURFACE_OK = 0,
  SURFACE_EINVAL = -1, /* malformed OSC, wrong arguments, unknown address, bad option value */
  SURFACE_ENOMEM = -2,
  SURFACE_ESOCKET = -3, /* the UDP port could not be opened */
  SURFACE_ETOOBIG = -4, /* a request text over SURFACE_TEXT_MAX */
};
const char *surface_strerror(int code);

#define SURFACE_TEXT_MAX 4000    /* bytes of an /ask text */
#define SURFACE_PLAN_MAX 6000    /* bytes of an outgoing /dawbridge/plan text (longer plans are cut, "...") */
#define SURFACE_SUMMARY_MAX 1000 /* bytes of any other outgoing string */

enum surface_op {
  SURFACE_IGNORE = 0, /* a button release (value 0): nothing to do, no answer */
  SURFACE_ASK,
  SURFACE_CANCEL,
  SURFACE_UNDO,
  SURFACE_NEW,
  SURFACE_STATUS,
};

struct surface_cmd {
  enum surface_op op;
  char *text; /* SURFACE_ASK: the request (malloc'd, NUL-terminated, trimmed); else NULL */
};

/* Decodes one datagram. Returns SURFACE_OK and fills *out (free with surface_cmd_clear), or a negative code with
 * a one-line message in err (what was wrong, naming the address when there was one). */
int surface_decode(const void *data, size_t len, struct surface_cmd *out, char *err, size_t errlen);
void surface_cmd_clear(struct surface_cmd *c);

/* One serialised OSC message (buffer malloc'd by liblo; free()). */
typedef void (*surface_emit_fn)(const void *buf, size_t len, void *data);

/* Encodes one live event (app/live.h's event model; borrowed) for the surface: emit is called for 0..2 messages.
 *   queued (position > 0) → /dawbridge/busy ,is     stage → /dawbridge/status ,s "planning" ...
 *   plan → /dawbridge/plan ,s (one line per step: "1 create_track: description"; invalid plans add the errors)
 *   step → /dawbridge/step ,iiss                    done → /dawbridge/done ,iis (and /dawbridge/error ,s when the
 *   request ended in an error: status != "ok")     error → /dawbridge/error ,s
 *   connection → /dawbridge/status ,s "DAW connection lost: ..."   conversation → /dawbridge/status ,s
 * Other events (plan_delta, violation, state) are not sent. Returns the number of messages emitted. */
int surface_encode_event(const json_t *event, surface_emit_fn emit, void *data);
/* A bare message: /dawbridge/error ,s text, or /dawbridge/status ,s text (types "s"), via emit. */
void surface_encode_text(const char *path, const char *text, surface_emit_fn emit, void *data);
/* The short status line for /dawbridge/status from live_status()'s object (borrowed) into buf. */
void surface_status_text(const json_t *status, char *buf, size_t n);

/* The allow-list: IPv4 "A.B.C.D" or "A.B.C.D/BITS" (0-32). */
struct surface_net {
  uint32_t addr, mask; /* host byte order */
};
int surface_parse_net(const char *s, struct surface_net *out, char *err, size_t errlen);
/* 1 if a (network byte order, as in sockaddr_in) lies in one of the n nets. */
int surface_net_allows(const struct surface_net *nets, size_t n, struct in_addr a);
/* "HOST:PORT" (IPv4 host) for --surface-reply. */
int surface_parse_hostport(const char *s, struct sockaddr_in *out, char *err, size_t errlen);

#endif
