/* errfmt: the one way modules fill a caller's message buffer and return their error code. */
#ifndef DAWBRIDGE_ERRFMT_H
#define DAWBRIDGE_ERRFMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into err (if given) and returns code, so `return errfmt(err, errlen, X_EFOO, "...", ...);`. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static inline int errfmt(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

#endif
