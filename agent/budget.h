/* budget: the session for the stage-1 prompt within a token budget, at any session size.
 *
 * Token counting is an approximation (no tokenizer ships with dawbridge), chosen to err on the high side for
 * the BPE tokenizers of current models (cl100k/o200k, Llama 3, Claude): a run of letters costs one token per
 * 4 letters (rounded up), a run of digits one per 3 digits (rounded up), a run of punctuation one per 2
 * characters (rounded up: '{"', '":', '",' are single tokens in those vocabularies), a non-ASCII UTF-8
 * character one, a single space before a word or number nothing, any other run of whitespace one. Prose comes out near characters / 4, JSON and note lists higher than characters / 4,
 * as real tokenizers count them.
 *
 * The session text: a header (tempo, meter, markers, track counts), then one line per track, in the session's
 * order, at one of four levels:
 *   full    the track as JSON with its notes as "notes_nsdv": [[n, s, d, v], ...] (for the tracks the request
 *           names, or all of them when the whole session fits; only the bars the request names when it names
 *           bars; cut notes are counted in "notes_shown"/"notes_total"),
 *   detail  the track as JSON with clips as musical summaries (bars, note count, range, notes per bar, chord
 *           of each bar, a 16th-note rhythm sketch of the first bar with notes) and its track statistics,
 *   name    {"id", "name", "type"} only,
 *   elided  not listed; a closing line counts them and names the first and last id.
 * Passes, each in priority order (the tracks the request names — by a word of the name of 3+ letters, by id,
 * "drums"/"beat"/"groove" for drum tracks — then tracks with notes, then the rest, each group in session order):
 * 1. named tracks up to full, within 60% of the budget; 2. every other track by name; 3. summaries; 4. when the
 * request names no track, notes in full. A pass stops after 16 tracks in a row that gain nothing. Every name is a JSON string with '<', '>', '`' written as
 * \u003c, \u003e, \u0060. Pure, no I/O, no globals. */
#ifndef DAWBRIDGE_BUDGET_H
#define DAWBRIDGE_BUDGET_H

#include <stddef.h>
#include <jansson.h>

#include "strbuf.h"

#define BUDGET_DEFAULT_TOKENS 6000

enum {
  BUDGET_OK = 0,
  BUDGET_ERR_ARG = -1,
  BUDGET_ERR_NOMEM = -2,
};
const char *budget_strerror(int code);

/* Appends s (NULL = "") to b with '<', '>' and '`' written as \u003c, \u003e, \u0060: the one escaping of data
 * (JSON) put into a prompt, so a track name cannot open a tag or a code fence; JSON stays valid, as those bytes only
 * occur inside its strings. budget_escape: the same as a new malloc'd string (NULL when out of memory). */
void budget_append_escaped(strbuf_t *b, const char *s);
char *budget_escape(const char *s);

/* Estimated tokens of s (NULL = 0) / of its first n bytes. */
size_t budget_tokens(const char *s);
size_t budget_tokens_n(const char *s, size_t n);

struct budget_stats {
  size_t tracks, full, detail, name_only, elided; /* tracks per level */
  size_t notes_total, notes_shown;                /* notes in the session / written out */
  size_t tokens;                                  /* estimate of state + context text */
};

/* Renders the session (borrowed; NULL = empty) and its musical context (analysis: borrowed, from
 * context_analyze(state); NULL = computed here) for a request (may be NULL) within max_tokens for both texts
 * together. *state_text and *context_text are malloc'd (caller frees). stats may be NULL. When even the
 * header and the context do not fit, the context is cut by lines and every track is elided; the result may
 * then exceed max_tokens by the header (a few dozen tokens). */
int budget_session(const json_t *state, const json_t *analysis, const char *request, size_t max_tokens,
                   char **state_text, char **context_text, struct budget_stats *stats);

/* First and last bar (1-based) a request names ("bar 5", "bars 9-16", "bars 3 to 4", "bar 2 and 3"); 0 when
 * none. */
int budget_request_bars(const char *request, int *first, int *last);

#endif
