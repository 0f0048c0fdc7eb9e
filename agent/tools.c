/* tools: the agent's view of the vocabulary (vocab/vocab.h) plus the session reference check. See tools.h. */
#include "tools.h"
#include "errfmt.h"
#include "strbuf.h"

#include <stdlib.h>

#include "vocab.h"

struct tools {
  vocab_t *v;
};

const char *tools_strerror(int code) {
  switch (code) { /* the codes it shares with the vocabulary (unknown tool, invalid arguments) read the same */
  case TOOLS_ENOTRACK: return "unknown track or clip";
  case TOOLS_ELOAD: return "cannot load the tool catalog";
  case TOOLS_EUNSUPPORTED: return "not supported by the connected DAW";
  default: return vocab_strerror(code);
  }
}

int tools_load(const char *path, tools_t **out, char *err, size_t errlen) {
  *out = NULL;
  tools_t *t = calloc(1, sizeof *t);
  if (!t) return errfmt(err, errlen, TOOLS_ELOAD, "out of memory");
  if (vocab_load(path, &t->v, err, errlen)) {
    free(t);
    return TOOLS_ELOAD;
  }
  *out = t;
  return 0;
}

void tools_free(tools_t *t) {
  if (!t) return;
  vocab_free(t->v);
  free(t);
}

const vocab_t *tools_vocab(const tools_t *t) { return t->v; }

const json_t *tools_catalog(const tools_t *t) { return vocab_catalog(t->v); }

const json_t *tools_get(const tools_t *t, const char *name) {
  int k = vocab_lookup(name);
  return k < 0 ? NULL : vocab_entry(t->v, (enum vocab_tool)k);
}

const char *tools_kind(const tools_t *t, const char *name) {
  (void)t;
  int k = vocab_lookup(name);
  return k < 0 ? NULL : vocab_kind_name(vocab_kind((enum vocab_tool)k));
}

int tools_is_read(const tools_t *t, const char *name) {
  (void)t;
  return vocab_name_is_read(name);
}

json_t *tools_subset(const tools_t *t, const json_t *names) {
  if (!names) return json_array();
  return vocab_tools_json(t->v, names, VOCAB_JSON_CATALOG);
}

const char *tools_suggest(const tools_t *t, const char *name) {
  (void)t;
  return vocab_suggest(name);
}

static void join_problem(void *data, const char *arg, const char *message) {
  (void)arg;
  strbuf_t *b = data;
  strbuf_appendf(b, "%s%s", b->len ? "; " : "", message);
}

int tools_check(const tools_t *t, const char *tool, const json_t *args, const session_t *session, char *err,
                size_t errlen) {
  int k = vocab_lookup(tool);
  if (k < 0) {
    vocab_check_name(t->v, tool, args, err, errlen); /* "unknown tool 'x' (did you mean y?)" */
    return TOOLS_EUNKNOWN;
  }
  strbuf_t b = STRBUF_INIT; /* every problem at once, so one retry can fix them all */
  if (vocab_check_all(t->v, (enum vocab_tool)k, args, join_problem, &b) > 0) {
    errmsg(err, errlen, "%s: %s", tool, b.s && !b.oom ? b.s : "invalid arguments");
    strbuf_reset(&b);
    return TOOLS_EARGS;
  }
  strbuf_reset(&b);
  if (session) {
    const char *tr = json_string_value(json_object_get(args, "track_id"));
    if (tr && !session_track_resolve(session, tr))
      return errfmt(err, errlen, TOOLS_ENOTRACK, "%s: unknown track '%s' (known: %d tracks, ids t1...; see get_state)",
                    tool, tr, session_track_count(session));
  }
  return 0;
}
