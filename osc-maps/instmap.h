/* instmap: instruments are musical roles, resolved per DAW from data (osc-maps/instruments/, format in
 * osc-maps/README.md "Instrument maps").
 *
 *   roles.json     DAW-neutral vocabulary: the 128 General MIDI programs and their 16 families, the GM drum map
 *                  (channel 10), producer words ("808", "sub", "rhodes", "pad", ...) -> a GM program or a drum
 *                  piece, and well-known third-party plugin names (these are plugin names, never roles).
 *   <dialect>.json which real plugin of that DAW plays each GM family, the drum kit and a few extra sounds, with
 *                  parameters/preset/channel where the plugin can take them, and the DAW's instrument plugins.
 *
 * A word resolves, in this order, to: a named plugin of the DAW (name or alias, "VSTi:"-style prefixes
 * stripped); a sound of the DAW map; a role word, GM program name, GM drum piece or GM family name (then that
 * family's sound, with the GM program / drum note); the last word of a longer phrase that resolves ("warm analog
 * pad" -> pad); else the DAW's default sound with a warning. A word that is clearly a plugin name (a type prefix
 * such as "VST3i:" or a known third-party instrument such as "Serum") but is not one of this DAW's instruments
 * is an error listing what is available. A role is never refused.
 *
 * Pure data, no I/O except the load functions; no globals. */
#ifndef DAWBRIDGE_INSTMAP_H
#define DAWBRIDGE_INSTMAP_H

#include <stddef.h>
#include <jansson.h>

enum {
  INSTMAP_OK = 0,
  INSTMAP_EIO = -1,       /* a file cannot be read or is not JSON */
  INSTMAP_EFORMAT = -2,   /* a map is malformed (message: file, key, problem) */
  INSTMAP_ENOTFOUND = -3, /* a named plugin that this DAW does not have (message lists the available ones) */
  INSTMAP_EARG = -4,
  INSTMAP_ENOMEM = -5,
  INSTMAP_ENOMAP = -6, /* no instrument map for this dialect in any search directory */
};

const char *instmap_strerror(int code);

typedef struct instmap instmap_t;

/* Load and validate a DAW map and the roles file. Returns INSTMAP_OK and *out (free with instmap_free), or an
 * error code with "<file>: <key>: <problem>" in err. */
int instmap_load(const char *daw_path, const char *roles_path, instmap_t **out, char *err, size_t errlen);

/* The same from parsed JSON (borrowed; copied). name/roles_name label the messages. */
int instmap_load_json(const json_t *daw, const char *name, const json_t *roles, const char *roles_name, instmap_t **out,
                      char *err, size_t errlen);

/* Finds "<dir>/instruments/<dialect>.json" and "<dir>/instruments/roles.json" with dir = $DAWBRIDGE_MAPS, then the
 * data directory's osc-maps (bridge/datadir.h: the source tree from a build tree, else the install); the
 * first directory holding the dialect's file wins. INSTMAP_ENOMAP when none has it. */
int instmap_load_dialect(const char *dialect, instmap_t **out, char *err, size_t errlen);

void instmap_free(instmap_t *m);

const char *instmap_dialect(const instmap_t *m);

/* {"daw": <dialect map>, "roles": <roles>}: borrowed, valid until instmap_free. Self-contained: it can be
 * carried inside another JSON document (the daw facade puts it in its catalog as "instrument_map") and
 * resolved with instmap_resolve_json(). */
const json_t *instmap_json(const instmap_t *m);

/* The DAW's instrument plugins as a catalog list [{"name", "aliases"}] (aliases: plugin-name variants only,
 * never roles): new reference. */
json_t *instmap_catalog(const instmap_t *m);

/* A short list of role words for prompts and messages (new reference, array of strings). */
json_t *instmap_role_examples(const instmap_t *m);

/* Resolve a plan's instrument word.
 * INSTMAP_OK: *out is a new object
 *   {"role": word as given, "kind": "plugin"|"role"|"default", "sound": S, "plugin": first candidate,
 *    "candidates": [plugins to try in order], "aliases": [names to try after "plugin", in order],
 *    "program"?: GM program 1..128, "drum_note"?: GM drum note, "channel"?: MIDI channel 1..16,
 *    "params"?: {name prefix: 0..1}, "preset"?: name, "warning"?: text}
 *   and, for kind "default" (an unknown role), the warning also goes to msg
 *   ("unknown instrument role 'x': using ReaSynth").
 * INSTMAP_ENOTFOUND: a plugin name this DAW does not have; msg says so and lists the available instruments.
 * msg may be NULL. */
int instmap_resolve(const instmap_t *m, const char *word, json_t **out, char *msg, size_t msglen);

/* The same against instmap_json()'s document (borrowed). */
int instmap_resolve_json(const json_t *doc, const char *word, json_t **out, char *msg, size_t msglen);

#endif
