/* db_test_text: text assertions for the cmocka suites (library dbtestjson, tests/support/support.cmake; linked into
 * every db_add_test() suite). Like db_test_json.h they fail the running test (cmocka's fail_msg), and the message
 * names the string that is missing (or present) and shows the whole text, which assert_non_null(strstr(...)) cannot. */
#ifndef DAWBRIDGE_DB_TEST_TEXT_H
#define DAWBRIDGE_DB_TEST_TEXT_H

/* text contains every string of subs, a list ended by NULL: e.g.
 *   db_test_contains_all(err, (const char *const[]){"OPENAI_API_KEY", "config.json", NULL});
 * Otherwise (or when text is NULL) the test fails naming the first one missing. */
void db_test_contains_all(const char *text, const char *const *subs);

/* text contains none of the strings of subs (a list ended by NULL); otherwise the test fails naming the first one
 * found. A NULL text fails too. */
void db_test_contains_none(const char *text, const char *const *subs);

#endif
