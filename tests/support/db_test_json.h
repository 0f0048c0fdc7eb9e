/* db_test_json: JSON helpers for the cmocka suites (library dbtestjson, tests/support/support.cmake; linked into
 * every db_add_test() suite). Unlike db_test_util.h these fail the running test (cmocka's fail_msg) on bad input,
 * so a typo in a test's data is a failure that names it, never a NULL handed to the code under test. */
#ifndef DAWBRIDGE_DB_TEST_JSON_H
#define DAWBRIDGE_DB_TEST_JSON_H

#include <jansson.h>

/* JSON written with single quotes in place of double quotes (test data has no apostrophes), any value at the top
 * (JSON_DECODE_ANY). New reference; bad JSON fails the test with jansson's message and the text. */
json_t *db_test_json(const char *single_quoted);
#define J(s) db_test_json(s)

/* The track named `name` in a session state (a mirror's or a mock DAW's: {"tracks": [{"name": ...}, ...]}), borrowed
 * from state; NULL if there is none. */
json_t *db_test_json_track(const json_t *state, const char *name);

/* The notes array of clip `clip` of track `track` (both 0-based, in array order) in a session state, borrowed from
 * state; the test fails if there is none. */
json_t *db_test_json_clip_notes(const json_t *state, size_t track, size_t clip);

/* The JSON file at rel in the source tree (db_test_source_dir()). New reference; a missing or bad file fails the
 * test with its path, line and jansson's message. */
json_t *db_test_source_json(const char *rel);

#endif
