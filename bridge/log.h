/* log: leveled log lines to a caller-chosen sink (stderr in the CLI, a buffer in tests). No global state. */
#ifndef DAWBRIDGE_LOG_H
#define DAWBRIDGE_LOG_H

#include <stdarg.h>
#include <stdio.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

struct log_sink {
  void (*fn)(int level, const char *module, const char *text, void *data); /* NULL = silent */
  void *data;
  int level; /* lines above this level are dropped before formatting */
};

/* Formats one line (cut at 1023 bytes) and gives it to the sink, unless the sink is silent or level is above its
 * level; the va_list form, for a module's own printf-like log function. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 0)))
#endif
static inline void
log_vmsg(const struct log_sink *s, int level, const char *module, const char *fmt, va_list ap) {
  if (!s || !s->fn || level > s->level) return;
  char buf[1024];
  vsnprintf(buf, sizeof buf, fmt, ap);
  s->fn(level, module, buf, s->data);
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static inline void
log_msg(const struct log_sink *s, int level, const char *module, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(s, level, module, fmt, ap);
  va_end(ap);
}

/* Parses "error|warn|info|debug"; returns -1 if unknown. */
static inline int log_level_parse(const char *s) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++) {
    const char *a = s, *b = names[i];
    while (*a && *a == *b) a++, b++;
    if (!*a && !*b) return i;
  }
  return -1;
}

#endif
