/* relaxed_json: strict JSON first, then a forgiving recursive-descent parser, then a plain string. */
#include "relaxed_json.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *p, *end;
  int depth;
  int failed;
} rj_t;

static int utf8_len(const unsigned char *s, size_t avail) {
  unsigned char c = s[0];
  int n;
  if (c < 0x80)
    return 1;
  else if ((c & 0xE0) == 0xC0 && c >= 0xC2)
    n = 2;
  else if ((c & 0xF0) == 0xE0)
    n = 3;
  else if ((c & 0xF8) == 0xF0 && c <= 0xF4)
    n = 4;
  else
    return 0;
  if ((size_t)n > avail) return 0;
  for (int i = 1; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  /* what jansson also refuses: overlong forms, UTF-16 surrogates, code points above U+10FFFF (found by
     * fuzz/fuzz_relaxed_json.c: relaxed_json_string returned NULL for "\xF4\x95\x95\x95") */
  unsigned long cp = n == 2 ? c & 0x1Fu : n == 3 ? c & 0x0Fu : c & 0x07u;
  for (int i = 1; i < n; i++) cp = (cp << 6) | (s[i] & 0x3Fu);
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return n;
}

json_t *relaxed_json_string(const char *text, size_t len) {
  if (!text) return NULL;
  json_t *s = json_stringn(text, len);
  if (s) return s;
  char *buf = malloc(len + 1);
  if (!buf) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    int n = utf8_len((const unsigned char *)text + i, len - i);
    if (n == 0 || (n == 1 && text[i] == 0)) {
      buf[o++] = '?';
      i++;
    } else {
      memcpy(buf + o, text + i, (size_t)n);
      o += (size_t)n;
      i += (size_t)n;
    }
  }
  s = json_stringn(buf, o);
  free(buf);
  return s;
}

static void skip_ws(rj_t *r) {
  for (;;) {
    while (r->p < r->end && isspace((unsigned char)*r->p)) r->p++;
    if (r->p + 1 < r->end && r->p[0] == '/' && r->p[1] == '/') {
      while (r->p < r->end && *r->p != '\n') r->p++;
      continue;
    }
    if (r->p + 1 < r->end && r->p[0] == '/' && r->p[1] == '*') {
      const char *e = r->p + 2;
      while (e + 1 < r->end && !(e[0] == '*' && e[1] == '/')) e++;
      r->p = (e + 1 < r->end) ? e + 2 : r->end;
      continue;
    }
    break;
  }
}

/* A scalar word: number, boolean, null, or string. */
static json_t *classify_word(const char *s, size_t len) {
  char buf[64];
  if (len > 0 && len < sizeof buf) {
    memcpy(buf, s, len);
    buf[len] = 0;
    if (!strcmp(buf, "true") || !strcmp(buf, "True") || !strcmp(buf, "TRUE")) return json_true();
    if (!strcmp(buf, "false") || !strcmp(buf, "False") || !strcmp(buf, "FALSE")) return json_false();
    if (!strcmp(buf, "null") || !strcmp(buf, "None") || !strcmp(buf, "NULL")) return json_null();
    const char *b = buf;
    if (*b == '+') b++;
    int is_int = 1, digits = 0;
    for (const char *q = b; *q; q++) {
      if (isdigit((unsigned char)*q))
        digits++;
      else if (!(*q == '-' && q == b))
        is_int = 0;
    }
    if (digits > 0 && (isdigit((unsigned char)*b) || *b == '-' || *b == '.')) {
      char *end;
      errno = 0;
      if (is_int && digits < 18) {
        long long v = strtoll(b, &end, 10);
        if (*end == 0 && errno == 0) return json_integer((json_int_t)v);
      }
      double d = strtod(b, &end);
      if (*end == 0 && errno == 0 && isfinite(d) && !strchr(b, 'x') && !strchr(b, 'X') && !strchr(b, 'n') &&
          !strchr(b, 'N'))
        return json_real(d);
    }
  }
  return relaxed_json_string(s, len);
}

static json_t *parse_value(rj_t *r);

static json_t *parse_quoted(rj_t *r) {
  char q = *r->p++;
  size_t cap = 64, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    r->failed = 1;
    return NULL;
  }
  while (r->p < r->end && *r->p != q) {
    char c = *r->p++;
    char tmp[4];
    size_t tl = 1;
    tmp[0] = c;
    if (c == '\\' && r->p < r->end) {
      char e = *r->p++;
      switch (e) {
      case 'n': tmp[0] = '\n'; break;
      case 't': tmp[0] = '\t'; break;
      case 'r': tmp[0] = '\r'; break;
      case 'b': tmp[0] = '\b'; break;
      case 'f': tmp[0] = '\f'; break;
      case 'u': {
        unsigned cp = 0;
        int k;
        for (k = 0; k < 4 && r->p < r->end && isxdigit((unsigned char)*r->p); k++, r->p++) {
          char h = *r->p;
          cp = cp * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower((unsigned char)h) - 'a' + 10));
        }
        if (k < 4 || cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
          tmp[0] = '?';
        } else if (cp < 0x80) {
          tmp[0] = (char)cp;
        } else if (cp < 0x800) {
          tmp[0] = (char)(0xC0 | (cp >> 6));
          tmp[1] = (char)(0x80 | (cp & 0x3F));
          tl = 2;
        } else {
          tmp[0] = (char)(0xE0 | (cp >> 12));
          tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
          tmp[2] = (char)(0x80 | (cp & 0x3F));
          tl = 3;
        }
        break;
      }
      default: tmp[0] = e; break;
      }
    }
    if (n + tl + 1 > cap) {
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        r->failed = 1;
        return NULL;
      }
      buf = nb;
    }
    memcpy(buf + n, tmp, tl);
    n += tl;
  }
  if (r->p >= r->end) {
    free(buf);
    r->failed = 1;
    return NULL;
  }
  r->p++; /* closing quote */
  json_t *s = relaxed_json_string(buf, n);
  free(buf);
  if (!s) r->failed = 1;
  return s;
}

/* Bare word inside a container: up to , ] } (or ':' for keys), trimmed. */
static json_t *parse_bare(rj_t *r, int key) {
  const char *s = r->p;
  while (r->p < r->end && !strchr(key ? ":,{}[]\n" : ",]}\n", *r->p)) {
    if (r->p[0] == '/' && r->p + 1 < r->end && (r->p[1] == '/' || r->p[1] == '*') &&
        (r->p == s || isspace((unsigned char)r->p[-1])))
      break;
    r->p++;
  }
  const char *e = r->p;
  while (e > s && isspace((unsigned char)e[-1])) e--;
  if (e == s) {
    r->failed = 1;
    return NULL;
  }
  if (key) return relaxed_json_string(s, (size_t)(e - s));
  return classify_word(s, (size_t)(e - s));
}

static json_t *parse_object(rj_t *r) {
  r->p++;
  json_t *obj = json_object();
  if (!obj) {
    r->failed = 1;
    return NULL;
  }
  for (;;) {
    skip_ws(r);
    if (r->p >= r->end) goto fail;
    if (*r->p == '}') {
      r->p++;
      return obj;
    }
    json_t *k = (*r->p == '"' || *r->p == '\'') ? parse_quoted(r) : parse_bare(r, 1);
    if (!k) goto fail;
    skip_ws(r);
    if (r->p >= r->end || (*r->p != ':' && *r->p != '=')) {
      json_decref(k);
      goto fail;
    }
    r->p++;
    skip_ws(r);
    json_t *v = parse_value(r);
    if (!v) {
      json_decref(k);
      goto fail;
    }
    json_object_set_new(obj, json_string_value(k), v);
    json_decref(k);
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      continue;
    }
    if (r->p < r->end && *r->p == '}') continue;
    /* tolerate a missing comma between pairs */
    if (r->p < r->end && (isalpha((unsigned char)*r->p) || *r->p == '"' || *r->p == '\'' || *r->p == '_')) continue;
    goto fail;
  }
fail:
  json_decref(obj);
  r->failed = 1;
  return NULL;
}

static json_t *parse_array(rj_t *r) {
  r->p++;
  json_t *arr = json_array();
  if (!arr) {
    r->failed = 1;
    return NULL;
  }
  for (;;) {
    skip_ws(r);
    if (r->p >= r->end) goto fail;
    if (*r->p == ']') {
      r->p++;
      return arr;
    }
    json_t *v = parse_value(r);
    if (!v) goto fail;
    json_array_append_new(arr, v);
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
      r->p++;
      continue;
    }
    if (r->p < r->end && *r->p == ']') continue;
    /* tolerate a missing comma between objects: [{...} {...}] */
    if (r->p < r->end && (*r->p == '{' || *r->p == '[')) continue;
    goto fail;
  }
fail:
  json_decref(arr);
  r->failed = 1;
  return NULL;
}

static json_t *parse_value(rj_t *r) {
  skip_ws(r);
  if (r->p >= r->end || r->failed) {
    r->failed = 1;
    return NULL;
  }
  if (++r->depth > RELAXED_JSON_MAX_DEPTH) {
    r->failed = 1;
    return NULL;
  }
  json_t *v;
  switch (*r->p) {
  case '{': v = parse_object(r); break;
  case '[': v = parse_array(r); break;
  case '"':
  case '\'': v = parse_quoted(r); break;
  default: v = parse_bare(r, 0); break;
  }
  r->depth--;
  return v;
}

json_t *relaxed_json_parse(const char *text, size_t len, int *how) {
  int dummy;
  if (!how) how = &dummy;
  if (!text) return NULL;
  if (len == (size_t)-1) len = strlen(text);
  const char *s = text, *e = text + len;
  while (s < e && isspace((unsigned char)*s)) s++;
  while (e > s && isspace((unsigned char)e[-1])) e--;
  size_t tl = (size_t)(e - s);

  json_error_t jerr;
  json_t *v = json_loadb(s, tl, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
  if (v) {
    *how = RELAXED_JSON_STRICT;
    return v;
  }
  if (tl > 0 && (*s == '{' || *s == '[' || *s == '"' || *s == '\'')) {
    rj_t r = {.p = s, .end = e};
    v = parse_value(&r);
    if (v && !r.failed) {
      skip_ws(&r);
      if (r.p == r.end) {
        *how = RELAXED_JSON_RELAXED;
        return v;
      }
    }
    json_decref(v);
  }
  *how = RELAXED_JSON_STRING;
  if (tl > 0 && tl < 64 && !memchr(s, ' ', tl)) return classify_word(s, tl);
  return relaxed_json_string(s, tl);
}
