/* Test data shared by unit tests. Include after <cmocka.h> and <jansson.h>. */
#ifndef GRESEC_TEST_FIXTURES_H
#define GRESEC_TEST_FIXTURES_H

/* A JSON file named from the top of the tree, where `make unit` runs the tests. Missing
 * or malformed, it fails the test: a fixture that is not there checks nothing. */
static inline json_t *fixture_json(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	if (!j)
		fail_msg("%s: %s (run from the top of the tree)", path, je.text);
	return j;
}

#endif
