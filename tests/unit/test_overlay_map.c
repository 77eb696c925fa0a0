/* The map of taken overlay blocks (controller/overlay_map.c): the lowest free block
 * across word boundaries and past the end, blocks released by a write taken until it
 * commits, and a load from the tunnel table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "db.h"
#include "overlay_map.h"

static void test_lowest_free(void **state)
{
	struct overlay_map *m = overlay_map_new();

	(void)state;
	assert_non_null(m);
	assert_int_equal(overlay_map_lowest_free(m, 0), 0);
	assert_int_equal(overlay_map_lowest_free(m, 70), 70);
	for (uint64_t b = 0; b < 130; b++)
		assert_int_equal(overlay_map_take(m, b), 0);
	assert_true(overlay_map_taken(m, 129));
	assert_false(overlay_map_taken(m, 130));
	assert_false(overlay_map_taken(m, 1u << 20));
	assert_int_equal(overlay_map_lowest_free(m, 0), 130);
	assert_int_equal(overlay_map_lowest_free(m, 200), 200);
	/* Every bit of the words in use taken: the first block past them. */
	for (uint64_t b = 130; b < 64 * 1024; b++)
		assert_int_equal(overlay_map_take(m, b), 0);
	assert_int_equal(overlay_map_lowest_free(m, 0), 64 * 1024);
	overlay_map_free(m);
}

static void test_release_waits_for_commit(void **state)
{
	struct overlay_map *m = overlay_map_new();

	(void)state;
	for (uint64_t b = 0; b < 100; b++)
		assert_int_equal(overlay_map_take(m, b), 0);
	assert_int_equal(overlay_map_release(m, 63), 0);
	assert_int_equal(overlay_map_release(m, 5), 0);
	assert_true(overlay_map_pending(m));
	/* Still taken for the write that released them. */
	assert_int_equal(overlay_map_lowest_free(m, 0), 100);
	overlay_map_commit(m);
	assert_false(overlay_map_pending(m));
	assert_int_equal(overlay_map_lowest_free(m, 0), 5);
	assert_int_equal(overlay_map_lowest_free(m, 6), 63);
	assert_int_equal(overlay_map_lowest_free(m, 64), 100);
	overlay_map_free(m);
	overlay_map_free(NULL);
}

static void test_load(void **state)
{
	char dir[] = "/tmp/gresec-test-ovl.XXXXXX", path[64], p[80];
	struct overlay_map *m = overlay_map_new();
	struct db *db = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	assert_int_equal(db_open(path, &db), 0);
	assert_int_equal(db_exec(db, "INSERT INTO tunnel (site_a, site_b, origin, source, sources, "
		"tunnel_type, profile, psk, overlay) VALUES ('a', 'b', 'topology', 't', '[]', 'gre', "
		"'p', 'k', 0), ('a', 'c', 'topology', 't', '[]', 'gre', 'p', 'k', 2), "
		"('b', 'c', 'topology', 't', '[]', 'gre', 'p', 'k', NULL)"), 0);
	assert_int_equal(overlay_map_load(m, db), 0);
	assert_true(overlay_map_taken(m, 0));
	assert_false(overlay_map_taken(m, 1));
	assert_true(overlay_map_taken(m, 2));
	assert_int_equal(overlay_map_lowest_free(m, 0), 1);
	overlay_map_free(m);
	db_free(db);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", path, (const char *[]){ "", "-wal", "-shm" }[i]);
		unlink(p);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lowest_free),
		cmocka_unit_test(test_release_waits_for_commit),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
