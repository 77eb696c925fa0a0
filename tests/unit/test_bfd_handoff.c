/* BFD hand-over between agents (agent/bfd_handoff.c): what the next agent accepts
 * from the file the previous one left, and what it refuses (another boot, a
 * deadline passed, a damaged entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>

#include "bfd_handoff.h"

static char boot[64];

static int setup(void **state)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	(void)state;
	if (!f || !fgets(boot, sizeof(boot), f))
		return -1;
	boot[strcspn(boot, "\n")] = '\0';
	fclose(f);
	return 0;
}

static json_t *doc(const char *boot_id, json_int_t until, json_t *sessions)
{
	return json_pack("{s:i, s:s, s:I, s:o}", "format", 1, "boot_id", boot_id, "until_us", until,
			 "sessions", sessions);
}

static json_t *sess(const char *id, json_int_t discr, int mult)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:i}", "id", id,
			 "ifname", "gs6", "local", "169.254.0.1", "peer", "169.254.0.0",
			 "local_discr", discr, "remote_discr", (json_int_t)0xfeedbeef,
			 "remote_min_rx_us", (json_int_t)100000,
			 "remote_desired_min_tx_us", (json_int_t)100000, "remote_detect_mult", mult);
}

static void test_load_good(void **state)
{
	json_t *d = doc(boot, 5000000, json_pack("[o, o]", sess("gs6", 0x1234, 3), sess("gs7", 7, 3)));
	struct bfd_expect *v;
	size_t n;

	(void)state;
	assert_int_equal(bfd_handoff_load(d, 4000000, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, "gs6");
	assert_string_equal(v[0].ifname, "gs6");
	assert_int_equal(v[0].r.local_discr, 0x1234);
	assert_int_equal(v[0].r.remote_discr, 0xfeedbeef);
	assert_int_equal(v[0].r.remote_detect_mult, 3);
	assert_int_equal(v[0].local.family, 2);
	assert_false(v[0].used);
	assert_int_equal(v[1].r.local_discr, 7);
	free(v);
	json_decref(d);
}

static void test_load_stale(void **state)
{
	json_t *d = doc(boot, 5000000, json_pack("[o]", sess("gs6", 1, 3)));
	json_t *other = doc("00000000-0000-0000-0000-000000000000", 5000000,
			    json_pack("[o]", sess("gs6", 1, 3)));
	struct bfd_expect *v = (void *)1;
	size_t n = 9;

	(void)state;
	/* The peers stopped waiting at until_us. */
	assert_int_equal(bfd_handoff_load(d, 5000000, &v, &n), -ESTALE);
	assert_null(v);
	assert_int_equal(n, 0);
	/* Another boot: the monotonic clock started again, its deadline means nothing. */
	assert_int_equal(bfd_handoff_load(other, 1, &v, &n), -ESTALE);
	json_decref(d);
	json_decref(other);
}

static void test_load_damaged(void **state)
{
	json_t *bad[] = {
		json_pack("{s:i}", "format", 1),
		doc(boot, 5000000, json_pack("[o]", sess("gs6", 0, 3))),	/* discr 0 */
		doc(boot, 5000000, json_pack("[o]", sess("gs6", 1, 0))),	/* mult 0 */
		doc(boot, 5000000, json_pack("[o]", sess("gs6", 1, 256))),
		doc(boot, 5000000, json_pack("[o]", sess("gs6", (json_int_t)1 << 32, 3))),
		doc(boot, 5000000, json_pack("[o]", sess("", 1, 3))),
		doc(boot, 5000000, json_pack("[s]", "x")),
		doc(boot, 5000000, json_pack("[{s:s}]", "id", "gs6")),
	};
	struct bfd_expect *v;
	size_t n;

	(void)state;
	json_object_set_new(bad[7], "format", json_integer(2));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bfd_handoff_load(bad[i], 1, &v, &n), -EINVAL);
		assert_null(v);
		json_decref(bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_good),
		cmocka_unit_test(test_load_stale),
		cmocka_unit_test(test_load_damaged),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
