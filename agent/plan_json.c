/* plan_json: the plan as a JSON object (schema for a JSON mode, and back to the plan text). */
#include "plan_json.h"

#include "strbuf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PLAN_JSON_MAX_BYTES (64u << 20)

static const char plan_json_description[] =
    "Write the plan as one JSON object (no other text, no code fence) instead of the **ANALYSIS:** / **PLAN:** / "
    "**MUSICAL REASONING:** sections: {\"analysis\": \"...\", \"steps\": [{\"tool\": \"create_track\", "
    "\"description\": \"Create a kick drum track\", \"args\": {\"name\": \"Kick\", \"type\": \"midi\"}}, "
    "{\"tool\": \"create_midi_clip\", \"description\": \"Four on the floor\", \"args\": {\"track_id\": "
    "\"[track from Step 1]\", \"start_time\": 0, \"duration\": 4, \"notes\": [{\"n\": 36, \"s\": 0, \"d\": 0.5, "
    "\"v\": 110}]}}], \"reasoning\": \"...\"}. Steps are numbered by their order from 1; refer to what an earlier "
    "step creates as \"[track from Step N]\" or \"[clip from Step N]\". Every argument a tool requires, with exact "
    "values.";

json_t *plan_json_schema(const json_t *tools) {
  if (!json_is_array(tools)) return NULL;
  json_t *any = json_array();
  size_t i;
  json_t *t;
  json_array_foreach(tools, i, t) {
    const char *name = json_string_value(json_object_get(t, "name"));
    if (!name) continue;
    json_t *params = json_object_get(t, "parameters");
    json_t *step = json_pack("{s:s,s:{s:{s:s,s:[s]},s:{s:s},s:o},s:[s,s,s],s:b}", "type", "object", "properties",
                             "tool", "type", "string", "enum", name, "description", "type", "string", "args",
                             json_is_object(params) ? json_incref(params) : json_pack("{s:s}", "type", "object"),
                             "required", "tool", "description", "args", "additionalProperties", 0);
    if (step) json_array_append_new(any, step);
  }
  if (!json_array_size(any)) {
    json_decref(any);
    return NULL;
  }
  return json_pack("{s:s,s:s,s:{s:{s:s},s:{s:s,s:s,s:{s:o}},s:{s:s}},s:[s,s,s],s:b}", "description",
                   plan_json_description, "type", "object", "properties", "analysis", "type", "string", "steps", "type",
                   "array", "description", "the plan's steps, in order", "items", "anyOf", any, "reasoning", "type",
                   "string", "required", "analysis", "steps", "reasoning", "additionalProperties", 0);
}

/* a text on one line: line breaks and other control characters become spaces */
static void put_line_text(strbuf_t *b, const char *s) {
  for (; s && *s; s++) strbuf_putc(b, (unsigned char)*s < 0x20 ? ' ' : *s);
}

/* "[track from Step 1]", "(clip from step 2)": written bare so the plan parser reads a reference */
static int looks_like_ref(const char *s) {
  size_t n = strlen(s);
  if (n < 6 || n > 80 || (s[0] != '[' && s[0] != '(')) return 0;
  for (const char *p = s; *p; p++)
    if (!strncasecmp(p, "step", 4)) return !strchr(s, '\n') && !strchr(s, ':');
  return 0;
}

static void put_value(strbuf_t *b, json_t *v) {
  if (json_is_string(v) && looks_like_ref(json_string_value(v))) {
    strbuf_puts(b, json_string_value(v));
    return;
  }
  char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!d) {
    b->oom = 1;
    return;
  }
  strbuf_puts(b, d);
  free(d);
}

char *plan_json_to_text(const char *text, size_t len) {
  if (!text) return NULL;
  if (len == (size_t)-1) len = strlen(text);
  if (len > PLAN_JSON_MAX_BYTES) return NULL;
  const char *open = memchr(text, '{', len);
  if (!open) return NULL;
  /* only prose, white space or a code fence before the object: no markdown section ("**"; the text this function
   * writes starts with one, so it is never converted twice) and no "Step N" */
  for (const char *p = text; p < open; p++)
    if ((!strncasecmp(p, "step ", 5) && isdigit((unsigned char)p[5])) || !strncmp(p, "**", 2)) return NULL;
  const char *close = text + len;
  while (close > open && close[-1] != '}') close--;
  if (close <= open) return NULL;
  json_t *root = json_loadb(open, (size_t)(close - open), 0, NULL);
  json_t *steps = json_object_get(root, "steps");
  if (!json_is_object(root) || !json_is_array(steps) || !json_array_size(steps)) {
    json_decref(root);
    return NULL;
  }
  strbuf_t b = STRBUF_INIT;
  strbuf_puts(&b, "**ANALYSIS:** ");
  put_line_text(&b, json_string_value(json_object_get(root, "analysis")));
  strbuf_puts(&b, "\n**PLAN:**\n");
  size_t i;
  json_t *st;
  json_array_foreach(steps, i, st) {
    const char *tool = json_string_value(json_object_get(st, "tool"));
    strbuf_appendf(&b, "Step %zu: ", i + 1);
    put_line_text(&b, tool && *tool ? tool : "(no tool)");
    strbuf_puts(&b, " - ");
    put_line_text(&b, json_string_value(json_object_get(st, "description")));
    strbuf_putc(&b, '\n');
    json_t *args = json_object_get(st, "args"), *v;
    const char *k;
    json_object_foreach(args, k, v) {
      if (json_is_null(v)) continue;
      strbuf_puts(&b, "  - ");
      put_line_text(&b, k);
      strbuf_puts(&b, ": ");
      put_value(&b, v);
      strbuf_putc(&b, '\n');
    }
  }
  strbuf_puts(&b, "**MUSICAL REASONING:** ");
  put_line_text(&b, json_string_value(json_object_get(root, "reasoning")));
  strbuf_putc(&b, '\n');
  json_decref(root);
  return strbuf_take(&b, NULL);
}
