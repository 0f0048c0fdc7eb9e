/* companion: the bridge side of the in-DAW companion script (osc-maps/companions/PROTOCOL.md), on the libuv loop.
 *
 * Transport. Commands are files in the spool directory: `in/<id>.json`, written atomically (tmp, rename;
 * all as uv_fs requests). After the rename the companion is triggered through the DAW's native OSC as the dialect
 * map's "companion" section says ("trigger" templates, sent by the owner's send function; REAPER: /action/str
 * with the script's named command id, read from `companion.json` in the spool; Ardour: no trigger, it polls).
 * Replies arrive as OSC `/dawbridge/reply s JSON` where the host can send it (the owner feeds them in with
 * companion_feed_reply()), else as `out/<id>.json` files, watched with uv_fs_event plus a slow uv_timer poll as a
 * safety net. Whichever arrives first wins; the reply file is deleted.
 *
 * Every command carries a deadline (`deadline_ms`, Unix ms) that covers all its attempts: an attempt that gets no
 * reply within the per-attempt timeout is retried with the SAME id (the companion answers a repeated id from its
 * memory without executing it again), a bounded number of times; then the command fails with COMPANION_ETIMEDOUT
 * and its file is removed. A command file left over from a crashed run is harmless: it is past its deadline, and
 * files of a previous run in `in/` and `out/` are removed when a companion_t is created.
 *
 * Ids are unique per process and sort by time: "YYYYmmddTHHMMSS.mmm-<pid>-<counter>".
 *
 * One command at a time is not required: several may be in flight; replies are matched by id.
 */
#ifndef DAWBRIDGE_COMPANION_H
#define DAWBRIDGE_COMPANION_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "log.h"

typedef struct companion companion_t;

enum companion_err {
  COMPANION_OK = 0,
  COMPANION_EINVAL = -1,      /* bad arguments */
  COMPANION_ESPOOL = -2,      /* the spool directory cannot be created or written (message names the path) */
  COMPANION_ENOTRUNNING = -3, /* ping got no answer: the message says how to install/start the companion */
  COMPANION_ETIMEDOUT = -4,   /* no reply after every attempt */
  COMPANION_EREJECTED = -5,   /* the companion answered {"ok": false}: the message quotes its error */
  COMPANION_ECANCELED = -6,   /* closed before the reply */
  COMPANION_ETRIGGER = -7,    /* the trigger could not be sent (e.g. REAPER's command id unknown) */
  COMPANION_ENOMEM = -8,
  COMPANION_EEXPIRED = -9, /* the companion answered "expired": it read the command too late and did not run it */
};
const char *companion_strerror(int code);

/* Sends the map's trigger templates (borrowed) with `vars` (borrowed; {"command_id": ...}) through the DAW's
 * native OSC. Returns 0 or < 0 with a message. */
typedef int (*companion_send_fn)(const json_t *templates, const json_t *vars, void *data, char *err, size_t errlen);

struct companion_config {
  const char *spool_dir;  /* NULL = companion_default_spool() */
  const char *host;       /* "reaper" | "ardour" (messages, install hints) */
  const json_t *section;  /* the map's "companion" section (borrowed; must outlive the companion); NULL = no
                              trigger, replies by file */
  int timeout_ms;         /* per attempt; 0 = 10000 */
  int retries;            /* further attempts after the first; -1 = 2 */
  int ping_timeout_ms;    /* per ping attempt; 0 = 1500 */
  int poll_ms;            /* safety-net poll of out/ while commands wait; 0 = 500 */
  int reply_port;         /* the bridge's OSC port for /dawbridge/reply (put into each command); 0 = none */
  long owner_uid;         /* who must own the spool and the files read from it; 0 = this process's effective user
                              (tests set another uid to play "a spool made by another user") */
  companion_send_fn send; /* NULL = never trigger */
  void *send_data;
  struct log_sink log;
};

/* Result callback: status 0 with the reply's `result` (borrowed for the call), or < 0 with a one-line message.
 * COMPANION_ETIMEDOUT after a command that changes the DAW means "sent, no answer": the caller reports it as
 * uncertain, never as done and never as not done (daw.c does). */
typedef void (*companion_cb)(int status, const json_t *result, const char *message, void *data);

/* The default spool: $DAWBRIDGE_SPOOL, else the first line of ~/.config/dawbridge/spool, else
 * $XDG_RUNTIME_DIR/dawbridge/spool, else /tmp/dawbridge-<uid>/spool (the same order the companions use). */
int companion_default_spool(char *buf, size_t len);

/* Creates the spool (missing directories mode 0700, with in/ and out/) and checks that it is this user's alone:
 * every directory on the path owned by the user or root and not writable by others unless sticky, the spool and
 * in/, out/ owned by the user and not group/other-writable, in/ and out/ real directories (no symbolic links).
 * Anything else is refused with COMPANION_ESPOOL and a message naming the path and the problem. Then removes files
 * a previous run left in in/ and out/ and any file there not owned by the user (these few synchronous file-system
 * calls happen once, here, through directory fds), and starts watching out/. Afterwards every file is opened with
 * O_NOFOLLOW and a reply (or companion.json) is read only when it is a regular file owned by the user. */
int companion_new(uv_loop_t *loop, const struct companion_config *cfg, companion_t **out, char *err, size_t errlen);

/* ping: status 0 with the ping result ({"companion","version","host","command_id","undo"}); on no answer
 * COMPANION_ENOTRUNNING with a message naming the spool and the install steps for this host. REAPER: re-reads
 * companion.json for the command id first (missing file = not installed, answered at once); the id is used only
 * when companion.json is this user's regular file and the id is a ReaScript's (companion_valid_command_id),
 * otherwise nothing is triggered and the message says why. */
int companion_ping(companion_t *c, companion_cb cb, void *data);

/* One command: op and args (borrowed, may be NULL). `request` (may be NULL) names the AI request for the undo
 * step and is sent as the command's "request". */
int companion_call(companion_t *c, const char *op, const json_t *args, const char *request, companion_cb cb,
                   void *data);

/* 1 when `id` has the form of a ReaScript's named command id as the REAPER companion publishes it: "_RS" and
 * 8-100 letters/digits. */
int companion_valid_command_id(const char *id);

/* A reply that arrived by OSC (/dawbridge/reply s JSON): borrowed text. Unknown ids are ignored. Each command
 * carries a random "token" (in the command file, which only this user can read); a reply that carries a token
 * must carry the command's, else it is ignored and counted (forged_replies). A reply without a token is taken
 * (today's companions do not echo it; the link accepts datagrams only from the DAW's own address and port). */
void companion_feed_reply(companion_t *c, const char *json_text);

/* 1 when the last ping was answered (and no command has timed out since). */
int companion_is_running(const companion_t *c);
/* Why the companion cannot be used now ("" when it can): borrowed. */
const char *companion_why(const companion_t *c);
/* The last ping result (borrowed) or NULL. */
const json_t *companion_info(const companion_t *c);
const char *companion_spool(const companion_t *c);
/* The install/start hint for a host, one line (borrowed static text). */
const char *companion_install_hint(const char *host);

struct companion_stats {
  unsigned long sent, attempts, retries, replies_osc, replies_file, timeouts, stale_removed;
  unsigned long unknown_replies;   /* replies whose id this bridge never sent (or forgot): ignored */
  unsigned long duplicate_replies; /* a second reply for an id already answered (file + OSC, a retry's): ignored */
  unsigned long foreign_files;     /* files in the spool not written by this user (or links): refused, removed */
  unsigned long forged_replies;    /* OSC replies whose token is not the command's: ignored */
};
void companion_get_stats(const companion_t *c, struct companion_stats *st);

/* Cancels waiting commands (their callbacks get COMPANION_ECANCELED, and their command files are removed), closes
 * the watcher and timers, frees in the last close callback, then cb(data). */
void companion_close(companion_t *c, void (*cb)(void *data), void *data);

#endif
