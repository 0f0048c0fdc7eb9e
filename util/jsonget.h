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

#endif
