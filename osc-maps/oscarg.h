/* oscarg: the value of a numeric OSC argument, read safely. liblo packs arguments on 4-byte boundaries while lo_arg
 * has 8-byte members, so an 8-byte argument ('h', 'd') is misaligned: the bytes are copied out, never dereferenced
 * (a direct member access is undefined behaviour that UBSan reports). Header only: liblo's types, no library.
 * Used by the OSC maps (matching what a DAW sends) and by the control surface's codec (app/). The mock DAW keeps
 * its own readers (mock-daw/mock_int.h): it stands alone, below nothing of the bridge's. */
#ifndef DAWBRIDGE_OSCARG_H
#define DAWBRIDGE_OSCARG_H

#include <lo/lo.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* 1 for the numeric type tags i f d h (not T/F: those are booleans). */
static inline int oscarg_is_num(char t) { return t == 'i' || t == 'f' || t == 'd' || t == 'h'; }

/* The argument as a double: i f d h as numbers (an 'h' beyond 2^53 rounds), T 1, F 0; NAN for any other type. */
static inline double oscarg_num(char t, const lo_arg *a) {
  int32_t i;
  float f;
  double d;
  int64_t h;
  switch (t) {
  case 'i': memcpy(&i, a, sizeof i); return i;
  case 'f': memcpy(&f, a, sizeof f); return f;
  case 'd': memcpy(&d, a, sizeof d); return d;
  case 'h': memcpy(&h, a, sizeof h); return (double)h;
  case 'T': return 1;
  case 'F': return 0;
  default: return NAN;
  }
}

#endif
