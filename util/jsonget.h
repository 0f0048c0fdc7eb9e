/* jsonget: the tiny jansson getters every layer repeated (a number, or a default when absent or of another type).
 * Header only; needs jansson (dbutil passes it on). Values are borrowed; nothing is allocated. */
#ifndef DAWBRIDGE_JSONGET_H
#define DAWBRIDGE_JSONGET_H

#include <jansson.h>

/* v's value when v is a JSON number (integer or real), def otherwise (NULL included). */
static inline double jnum_or(const json_t *v, double def) { return json_is_number(v) ? json_number_value(v) : def; }

/* The number under key in object o, def when o is not an object, the key is absent or not a number. */
static inline double jget_num(const json_t *o, const char *key, double def) {
  return jnum_or(json_object_get(o, key), def);
}

/* v's value as an int when v is a JSON number in [lo, hi]; def otherwise. Converting an out-of-range double to
 * int is undefined behaviour, so a model's or a DAW's 1e12 must never reach a plain cast. */
static inline int jint_in(const json_t *v, int lo, int hi, int def) {
  double x = jnum_or(v, (double)def);
  return x >= lo && x <= hi ? (int)x : def;
}

#endif
