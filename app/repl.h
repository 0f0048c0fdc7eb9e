/* repl: the interactive face of the live session (README "Live session", "Interactive"). A prompt with line
 * editing and a history file (libedit through its readline-compatible callback interface: rl_callback_read_char
 * driven by a uv_poll on stdin, so the loop never blocks on the terminal).
 *
 * A line of text is an "ask" request (live_submit, client "repl"); the plan and each step's outcome are printed as
 * the live events arrive, also while the musician types the next line (the prompt line is cleared, the output
 * printed, and the prompt with the typed text redrawn). Commands: /undo, /state, /history, /status, /new, /help,
 * /quit. Ctrl-C cancels the running request of this prompt (live_cancel: nothing further is sent, the confirmed
 * part is kept as a partial iteration) and never ends the program; at an idle prompt it clears the line. Ctrl-D on
 * an empty line, /quit, or SIGTERM end the REPL: a running request of ours is cancelled first and its end shown,
 * then the quit callback gets the exit code (0; 130 after SIGTERM).
 *
 * Terminal state is process-wide (libedit's readline emulation keeps one editor): one repl_t per process.
 * repl_new requires stdin and stdout to be terminals. The live_t is borrowed and must outlive the repl.
 */
#ifndef DAWBRIDGE_REPL_H
#define DAWBRIDGE_REPL_H

#include <uv.h>

#include "live.h"

typedef struct repl repl_t;

enum repl_err {
  REPL_OK = 0,
  REPL_ENOTTY = -1, /* stdin or stdout is not a terminal */
  REPL_ENOMEM = -2,
  REPL_EBUSY = -3, /* a repl already exists in this process */
};
const char *repl_strerror(int code);

struct repl_config {
  const char *history_file; /* NULL = $XDG_STATE_HOME/dawbridge/repl_history (~/.local/state/...), mode 0600 */
  const char *prompt;       /* NULL = "dawbridge> " */
  void (*on_quit)(int exit_code, void *data); /* called once when the musician quits */
  void *data;
};

/* Starts the prompt (and takes SIGINT, SIGTERM, SIGWINCH on the loop while it runs). */
int repl_new(uv_loop_t *loop, live_t *live, const struct repl_config *cfg, repl_t **out, char *err, size_t errlen);

/* A log sink (struct log_sink's fn, data = the repl_t) that prints a line without garbling the prompt line. */
void repl_log(int level, const char *module, const char *text, void *data);
/* Prints a notice line (e.g. "connected to REAPER") the same way. */
void repl_notice(repl_t *r, const char *text);

/* Restores the terminal, saves the history, closes every handle; frees r in the last close callback, then
 * cb(data). */
void repl_close(repl_t *r, void (*cb)(void *data), void *data);

#endif
