/* errfmt: the one way modules fill a caller's message buffer and return their error code. */
#ifndef DAWBRIDGE_ERRFMT_H
#define DAWBRIDGE_ERRFMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into err (if given and errlen > 0); the message buffer of errfmt and errmsg. */
static inline void verrmsg(char *err, size_t errlen, const char *fmt, va_list ap) {
  if (err && errlen) vsnprintf(err, errlen, fmt, ap);
}

/* Formats into err (if given) and returns code, so `return errfmt(err, errlen, X_EFOO, "...", ...);`. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static inline int
errfmt(char *err, size_t errlen, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verrmsg(err, errlen, fmt, ap);
  va_end(ap);
  return code;
}

/* Formats into err (if given) only: for a message written before cleanup that its arguments still need, with the
 * code returned after it. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline void
errmsg(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verrmsg(err, errlen, fmt, ap);
  va_end(ap);
}

#endif
