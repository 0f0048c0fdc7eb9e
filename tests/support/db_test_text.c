/* db_test_text: see db_test_text.h */
#include "db_test_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

void db_test_contains_all(const char *text, const char *const *subs) {
  if (!text) fail_msg("expected a text, got NULL");
  for (; *subs; subs++)
    if (!strstr(text, *subs)) fail_msg("\"%s\" not found in:\n%s", *subs, text);
}

void db_test_contains_none(const char *text, const char *const *subs) {
  if (!text) fail_msg("expected a text, got NULL");
  for (; *subs; subs++)
    if (strstr(text, *subs)) fail_msg("\"%s\" found in:\n%s", *subs, text);
}
