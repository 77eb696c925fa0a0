/* charon's SA states: every state string maps to its enum, class and name; unknown
 * strings are UNKNOWN; the report words and the "best state" ranks are exactly what the
 * agent produced before the states had one parser (the old readings are kept here as
 * the reference). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ike_state.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *s;
	enum ike_sa_state e;
	enum ike_state_class cls;
} ike_cases[] = {
	{ "CREATED", IKE_SA_CREATED, IKE_STATE_CONNECTING },
	{ "CONNECTING", IKE_SA_CONNECTING, IKE_STATE_CONNECTING },
	{ "ESTABLISHED", IKE_SA_ESTABLISHED, IKE_STATE_UP },
	{ "PASSIVE", IKE_SA_PASSIVE, IKE_STATE_CONNECTING },
	{ "REKEYING", IKE_SA_REKEYING, IKE_STATE_UP },
	{ "REKEYED", IKE_SA_REKEYED, IKE_STATE_UP },
	{ "DELETING", IKE_SA_DELETING, IKE_STATE_GOING_DOWN },
	{ "DESTROYING", IKE_SA_DESTROYING, IKE_STATE_GOING_DOWN },
	{ "DOWN", IKE_SA_NONE, IKE_STATE_NONE },
};

static const struct {
	const char *s;
	enum child_sa_state e;
	enum ike_state_class cls;
} child_cases[] = {
	{ "CREATED", CHILD_SA_CREATED, IKE_STATE_CONNECTING },
	{ "ROUTED", CHILD_SA_ROUTED, IKE_STATE_NONE },
	{ "INSTALLING", CHILD_SA_INSTALLING, IKE_STATE_CONNECTING },
	{ "INSTALLED", CHILD_SA_INSTALLED, IKE_STATE_UP },
	{ "UPDATING", CHILD_SA_UPDATING, IKE_STATE_CONNECTING },
	{ "REKEYING", CHILD_SA_REKEYING, IKE_STATE_UP },
	{ "REKEYED", CHILD_SA_REKEYED, IKE_STATE_UP },
	{ "RETRYING", CHILD_SA_RETRYING, IKE_STATE_CONNECTING },
	{ "DELETING", CHILD_SA_DELETING, IKE_STATE_GOING_DOWN },
	{ "DELETED", CHILD_SA_DELETED, IKE_STATE_GOING_DOWN },
	{ "DESTROYING", CHILD_SA_DESTROYING, IKE_STATE_GOING_DOWN },
	{ "DOWN", CHILD_SA_NONE, IKE_STATE_NONE },
};

/* Not charon's spelling, or not a state of that kind. */
static const char *const unknown[] = { "", "established", "ESTABLISHED ", "UP", "UNKNOWN",
				       "INSTALLEDX", "NONE" };

static void test_every_state_parses(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(ike_cases); i++) {
		enum ike_sa_state e = ike_state_ike_parse(ike_cases[i].s);

		assert_int_equal(e, ike_cases[i].e);
		assert_int_equal(ike_state_ike_class(e), ike_cases[i].cls);
		assert_string_equal(ike_state_ike_name(e), ike_cases[i].s);
	}
	for (size_t i = 0; i < N(child_cases); i++) {
		enum child_sa_state e = ike_state_child_parse(child_cases[i].s);

		assert_int_equal(e, child_cases[i].e);
		assert_int_equal(ike_state_child_class(e), child_cases[i].cls);
		assert_string_equal(ike_state_child_name(e), child_cases[i].s);
	}
	/* Every enum value but UNKNOWN is covered above. */
	assert_int_equal(N(ike_cases), IKE_SA_COUNT - 1);
	assert_int_equal(N(child_cases), CHILD_SA_COUNT - 1);
}

static void test_unknown_and_absent(void **state)
{
	(void)state;
	assert_int_equal(ike_state_ike_parse(NULL), IKE_SA_NONE);
	assert_int_equal(ike_state_child_parse(NULL), CHILD_SA_NONE);
	for (size_t i = 0; i < N(unknown); i++) {
		assert_int_equal(ike_state_ike_parse(unknown[i]), IKE_SA_UNKNOWN);
		assert_int_equal(ike_state_child_parse(unknown[i]), CHILD_SA_UNKNOWN);
	}
	/* Child-only and IKE-only states are not the other kind's. */
	assert_int_equal(ike_state_ike_parse("INSTALLED"), IKE_SA_UNKNOWN);
	assert_int_equal(ike_state_ike_parse("ROUTED"), IKE_SA_UNKNOWN);
	assert_int_equal(ike_state_child_parse("ESTABLISHED"), CHILD_SA_UNKNOWN);
	assert_int_equal(ike_state_child_parse("PASSIVE"), CHILD_SA_UNKNOWN);
	assert_int_equal(ike_state_ike_class(IKE_SA_UNKNOWN), IKE_STATE_NONE);
	assert_int_equal(ike_state_child_class(CHILD_SA_UNKNOWN), IKE_STATE_NONE);
	assert_int_equal(ike_state_ike_rank(IKE_SA_UNKNOWN), 0);
	assert_int_equal(ike_state_child_rank(CHILD_SA_UNKNOWN), 0);
	/* Out of range reads as UNKNOWN, not past the table. */
	assert_string_equal(ike_state_ike_name((enum ike_sa_state)IKE_SA_COUNT), "UNKNOWN");
	assert_string_equal(ike_state_child_name((enum child_sa_state)-1), "UNKNOWN");
}

/* Every enum value has a distinct name that parses back to it. */
static void test_names_table(void **state)
{
	(void)state;
	for (int e = 0; e < IKE_SA_COUNT; e++) {
		const char *n = ike_state_ike_name((enum ike_sa_state)e);

		assert_true(n && *n);
		assert_int_equal(ike_state_ike_parse(n), e);
		for (int f = 0; f < e; f++)
			assert_string_not_equal(n, ike_state_ike_name((enum ike_sa_state)f));
	}
	for (int e = 0; e < CHILD_SA_COUNT; e++) {
		const char *n = ike_state_child_name((enum child_sa_state)e);

		assert_true(n && *n);
		assert_int_equal(ike_state_child_parse(n), e);
		for (int f = 0; f < e; f++)
			assert_string_not_equal(n, ike_state_child_name((enum child_sa_state)f));
	}
}

/* ---- the readings before ike_state.c, verbatim in behaviour ---- */

static bool old_is(const char *s, const char *const *set)
{
	for (; s && *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static const char *old_ike_word(const char *s, bool ike_ok)
{
	static const char *const est[] = { "ESTABLISHED", "REKEYING", "REKEYED", NULL };
	static const char *const con[] = { "CREATED", "CONNECTING", "PASSIVE", NULL };

	if (old_is(s, est))
		return "established";
	if (old_is(s, con))
		return "connecting";
	if (!ike_ok || (s && strcmp(s, "DOWN")))
		return "down";
	return "none";
}

static const char *old_child_word(const char *s, bool ike_ok)
{
	static const char *const rek[] = { "REKEYING", "REKEYED", NULL };
	static const char *const ins[] = { "CREATED", "INSTALLING", "UPDATING", "RETRYING", NULL };

	if (s && !strcmp(s, "INSTALLED"))
		return "installed";
	if (old_is(s, rek))
		return "rekeying";
	if (old_is(s, ins))
		return "installing";
	if (!ike_ok || (s && strcmp(s, "DOWN") && strcmp(s, "ROUTED")))
		return "down";
	return "none";
}

static int old_rank(const char *s, const char *const *order, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, order[i]))
			return (int)i + 1;
	return 0;
}

static const char *const old_ike_order[] = {
	"DESTROYING", "DELETING", "CREATED", "CONNECTING", "PASSIVE", "REKEYED",
	"REKEYING", "ESTABLISHED",
};
static const char *const old_child_order[] = {
	"DESTROYING", "DELETING", "DELETED", "RETRYING", "ROUTED", "CREATED",
	"INSTALLING", "REKEYED", "UPDATING", "REKEYING", "INSTALLED",
};

static void test_report_words_unchanged(void **state)
{
	(void)state;
	for (int ok = 0; ok < 2; ok++) {
		for (size_t i = 0; i < N(ike_cases); i++)
			assert_string_equal(ike_state_ike_word(ike_cases[i].e, ok),
					    old_ike_word(ike_cases[i].s, ok));
		for (size_t i = 0; i < N(child_cases); i++)
			assert_string_equal(ike_state_child_word(child_cases[i].e, ok),
					    old_child_word(child_cases[i].s, ok));
		for (size_t i = 0; i < N(unknown); i++) {
			assert_string_equal(ike_state_ike_word(ike_state_ike_parse(unknown[i]), ok),
					    old_ike_word(unknown[i], ok));
			assert_string_equal(
				ike_state_child_word(ike_state_child_parse(unknown[i]), ok),
				old_child_word(unknown[i], ok));
		}
	}
	/* The words themselves, spelled out once. */
	assert_string_equal(ike_state_ike_word(IKE_SA_REKEYED, false), "established");
	assert_string_equal(ike_state_ike_word(IKE_SA_NONE, true), "none");
	assert_string_equal(ike_state_ike_word(IKE_SA_NONE, false), "down");
	assert_string_equal(ike_state_ike_word(IKE_SA_DELETING, true), "down");
	assert_string_equal(ike_state_child_word(CHILD_SA_ROUTED, true), "none");
	assert_string_equal(ike_state_child_word(CHILD_SA_UPDATING, true), "installing");
	assert_string_equal(ike_state_child_word(CHILD_SA_REKEYED, true), "rekeying");
}

static void test_ranks_unchanged(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(ike_cases); i++)
		for (size_t j = 0; j < N(ike_cases); j++)
			assert_int_equal(ike_state_ike_rank(ike_cases[i].e) >
					 ike_state_ike_rank(ike_cases[j].e),
					 old_rank(ike_cases[i].s, old_ike_order, N(old_ike_order)) >
					 old_rank(ike_cases[j].s, old_ike_order, N(old_ike_order)));
	for (size_t i = 0; i < N(child_cases); i++)
		for (size_t j = 0; j < N(child_cases); j++)
			assert_int_equal(ike_state_child_rank(child_cases[i].e) >
					 ike_state_child_rank(child_cases[j].e),
					 old_rank(child_cases[i].s, old_child_order,
						  N(old_child_order)) >
					 old_rank(child_cases[j].s, old_child_order,
						  N(old_child_order)));
	assert_int_equal(ike_state_ike_rank(IKE_SA_NONE), 0);
	assert_int_equal(ike_state_child_rank(CHILD_SA_NONE), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_state_parses),
		cmocka_unit_test(test_unknown_and_absent),
		cmocka_unit_test(test_names_table),
		cmocka_unit_test(test_report_words_unchanged),
		cmocka_unit_test(test_ranks_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
