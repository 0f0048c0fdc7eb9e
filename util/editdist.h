/* editdist: the edit (Levenshtein) distance of two short strings, for "did you mean" hints (vocab's tool names, the
 * config file's keys). Header only, no allocation. Strings longer than 64 bytes are never near anything: 99. */
#ifndef DAWBRIDGE_EDITDIST_H
#define DAWBRIDGE_EDITDIST_H

#include <stddef.h>
#include <string.h>

static inline size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 99;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j], m = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < m) m = up + 1;
      if (row[j - 1] + 1 < m) m = row[j - 1] + 1;
      row[j] = m;
      diag = up;
    }
  }
  return row[lb];
}

#endif
