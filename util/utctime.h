/* utctime: the wall clock (CLOCK_REALTIME) as text or milliseconds, for ids, file names and timestamps. Header only;
 * no state. */
#ifndef DAWBRIDGE_UTCTIME_H
#define DAWBRIDGE_UTCTIME_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* Now, in UTC: strftime's `fmt` then '.' and the milliseconds (3 digits), into buf (always NUL-terminated when
 * len > 0; cut to fit). fmt's own expansion must fit in 63 bytes. */
static inline void utc_now_ms(char *buf, size_t len, const char *fmt) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[64];
  if (!strftime(base, sizeof base, fmt, &tm)) base[0] = '\0';
  if (len) snprintf(buf, len, "%s.%03ld", base, (long)(ts.tv_nsec / 1000000));
}

#endif
