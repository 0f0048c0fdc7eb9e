/* config: the configuration file, $XDG_CONFIG_HOME/dawbridge/config.json (or ~/.config/dawbridge/config.json).
 *
 * The file is one JSON object whose keys are the long options' names with '_' for '-' (a table in config.c: name,
 * type, range or allowed values, and the cli_opts field it fills; README "Configuration file" lists them all). It
 * is read by the composition root (app/main.c) only; the layers below get filled structs (the LLM's provider,
 * model and URL reach agent/llm.c as flags). Precedence: command line > environment (DAWBRIDGE_DAW, DAWBRIDGE_LLM,
 * DAWBRIDGE_MODEL, DAWBRIDGE_LLM_URL) > this file > built-in defaults.
 *
 * Nothing in the file is ignored: an unknown key (with the nearest known name), a value of the wrong type or out
 * of range, a duplicate key and a JSON syntax error are errors naming the file and the line ("config.json:7:
 * unknown key 'modle' (did you mean 'model'?)"; syntax errors with jansson's line:column). jansson gives no
 * positions for keys, so their lines are found in the text by a small scanner of the top-level object.
 */
#ifndef DAWBRIDGE_CONFIG_H
#define DAWBRIDGE_CONFIG_H

#include <stddef.h>

struct cli_opts;
typedef struct app_config app_config_t;

enum app_config_err {
  APP_CONFIG_OK = 0,
  APP_CONFIG_ESYNTAX = -1, /* not JSON, or not one object */
  APP_CONFIG_EKEY = -2,    /* unknown or duplicate key */
  APP_CONFIG_ETYPE = -3,   /* a value of the wrong JSON type */
  APP_CONFIG_EVALUE = -4,  /* out of range, not one of the allowed words, not an IPv4 address */
  APP_CONFIG_EIO = -5,     /* the file exists but cannot be read */
  APP_CONFIG_ENOMEM = -6,
};
const char *app_config_strerror(int code);

/* Parses text (len bytes, need not be NUL-terminated) as a configuration file called name (used in messages).
 * On success *out is a new config (app_config_free); on error *out is NULL and err says "name:LINE: ...". */
int app_config_parse(const char *text, size_t len, const char *name, app_config_t **out, char *err, size_t errlen);

/* Reads and parses path; NULL = the default path (app_config_default_path). A missing file is an empty config. */
int app_config_load(const char *path, app_config_t **out, char *err, size_t errlen);

/* The default path into out: $XDG_CONFIG_HOME/dawbridge/config.json, else $HOME/.config/dawbridge/config.json. */
void app_config_default_path(char *out, size_t n);

/* The path or name the config was read from (borrowed; "" for none). */
const char *app_config_name(const app_config_t *c);

/* Fills every option the file sets and the command line left unset (a field still at its "not given" value: NULL,
 * 0 or -1 as the table says), except where the key's environment variable is set (the environment wins; the
 * layer that reads it sees the option still unset). Strings point into c: keep c alive while o is used. */
void app_config_apply(const app_config_t *c, struct cli_opts *o);

/* The line of key in the file (1-based), 0 when the file does not set it. */
int app_config_line(const app_config_t *c, const char *key);

/* The number of keys the file may contain, and the i-th one's name and a one-line description (type and range),
 * for help texts and the README test. NULL past the end. */
size_t app_config_nkeys(void);
const char *app_config_key(size_t i, const char **description);

void app_config_free(app_config_t *c);

/* A whole small file (the config file, a plan file): malloc'd, NUL-terminated, *lenp its length (if lenp); NULL with
 * err ("cannot read PATH: why", "PATH: larger than MAX bytes") and errno from the failure (ENOENT: no such file,
 * EFBIG: too large, ENOMEM). */
char *app_config_read_file(const char *path, size_t max, size_t *lenp, char *err, size_t errlen);

#endif
