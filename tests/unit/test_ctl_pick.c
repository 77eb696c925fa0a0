/* Controller selection: failover to the next with backoff, return to an earlier one
 * only after two probe rounds it answered, probe jitter, and the rule that keeps a
 * single lagging controller from rolling the site back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ctl_pick.h"

static void test_failover_wraps_with_backoff(void **state)
{
	struct ctl_pick p;

	(void)state;
	ctl_pick_init(&p, 3, 0, 1);
	assert_int_equal(p.cur, 0);
	/* Each failure: the next controller, after 1, 2, 4 ... seconds. */
	assert_int_equal(ctl_pick_failed(&p, true, 0), 1);
	assert_int_equal(p.cur, 1);
	assert_int_equal(ctl_pick_failed(&p, true, 0), 2);
	assert_int_equal(p.cur, 2);
	assert_int_equal(ctl_pick_failed(&p, true, 0), 4);
	assert_int_equal(p.cur, 0);
	assert_int_equal(p.switches, 3);
	for (int i = 0; i < 10; i++)
		ctl_pick_failed(&p, true, 0);
	assert_int_equal(ctl_pick_failed(&p, true, 0), CTL_PICK_BACKOFF_MAX);
	/* An answer resets the backoff and stays where it is. */
	ctl_pick_ok(&p);
	assert_int_equal(p.backoff, 1);
	assert_true(p.up[p.cur]);
	/* A failure that is the same everywhere (4xx) does not move. */
	size_t at = p.cur;

	assert_int_equal(ctl_pick_failed(&p, false, 0), 1);
	assert_int_equal(p.cur, at);
	assert_false(p.up[at]);
}

static void test_single_controller_never_moves_nor_probes(void **state)
{
	struct ctl_pick p;

	(void)state;
	ctl_pick_init(&p, 1, 1, 1);
	ctl_pick_failed(&p, true, 0);
	assert_int_equal(p.cur, 0);
	assert_int_equal(p.switches, 0);
	assert_int_equal(ctl_pick_probe(&p, 1000000), -1);
}

static void test_probe_period_is_jittered(void **state)
{
	int64_t lo = INT64_MAX, hi = 0;
	struct ctl_pick p;

	(void)state;
	ctl_pick_init(&p, 2, 10, 12345);
	assert_int_equal(ctl_pick_probe(&p, 0), -1);	/* on the first: none */
	for (int i = 0; i < 200; i++) {
		ctl_pick_go(&p, 0, 0);
		ctl_pick_failed(&p, true, 1000);
		assert_int_equal(p.cur, 1);
		lo = p.probe_due_ms - 1000 < lo ? p.probe_due_ms - 1000 : lo;
		hi = p.probe_due_ms - 1000 > hi ? p.probe_due_ms - 1000 : hi;
	}
	assert_true(lo >= 8000 && hi <= 12000);
	assert_true(hi - lo > 2000);	/* spread, not one value */
}

static void test_return_needs_two_rounds(void **state)
{
	struct ctl_pick p;
	int64_t t;

	(void)state;
	ctl_pick_init(&p, 3, 60, 7);
	ctl_pick_failed(&p, true, 0);
	ctl_pick_failed(&p, true, 0);
	assert_int_equal(p.cur, 2);
	/* Not before the period. */
	assert_int_equal(ctl_pick_probe(&p, 1000), -1);
	t = p.probe_due_ms;
	/* Round 1: the first does not answer, the second does. */
	assert_int_equal(ctl_pick_probe(&p, t), 0);
	assert_int_equal(ctl_pick_probe(&p, t), -1);	/* one probe at a time */
	assert_int_equal(ctl_pick_probed(&p, 0, false, t), -1);
	assert_int_equal(ctl_pick_probe(&p, t), 1);	/* the round goes on at once */
	assert_int_equal(ctl_pick_probed(&p, 1, true, t), -1);
	assert_true(p.probe_due_ms >= t + 48000);	/* round over: the next period */
	t = p.probe_due_ms;
	/* Round 2: both answer; the first has answered once only, the second twice. */
	assert_int_equal(ctl_pick_probe(&p, t), 0);
	assert_int_equal(ctl_pick_probed(&p, 0, true, t), -1);
	assert_int_equal(ctl_pick_probe(&p, t), 1);
	assert_int_equal(ctl_pick_probed(&p, 1, true, t), 1);
	ctl_pick_go(&p, 1, t);
	assert_int_equal(p.cur, 1);
	/* Answers counted at the old position do not count: the first needs two more. */
	t = p.probe_due_ms;
	assert_int_equal(ctl_pick_probe(&p, t), 0);
	assert_int_equal(ctl_pick_probed(&p, 0, true, t), -1);
	t = p.probe_due_ms;
	assert_int_equal(ctl_pick_probe(&p, t), 0);
	assert_int_equal(ctl_pick_probed(&p, 0, true, t), 0);
	ctl_pick_go(&p, 0, t);
	assert_int_equal(p.probe_due_ms, -1);
	assert_int_equal(ctl_pick_probe(&p, t + 1000000), -1);
}

static void test_flapping_controller_is_not_returned_to(void **state)
{
	struct ctl_pick p;
	int64_t t;

	(void)state;
	ctl_pick_init(&p, 2, 60, 9);
	ctl_pick_failed(&p, true, 0);
	for (int i = 0; i < 10; i++) {
		t = p.probe_due_ms;
		assert_int_equal(ctl_pick_probe(&p, t), 0);
		assert_int_equal(ctl_pick_probed(&p, 0, i % 2 == 0, t), -1);
	}
	assert_int_equal(p.cur, 1);
	/* A probe that ends after the agent moved for another reason counts for nothing. */
	ctl_pick_failed(&p, true, t);
	assert_int_equal(p.cur, 0);
	assert_int_equal(ctl_pick_probed(&p, 0, true, t), -1);
}

static void test_older_revision_needs_every_controller(void **state)
{
	struct ctl_pick p;

	(void)state;
	/* One controller: its word (a restored database). */
	ctl_pick_init(&p, 1, 0, 1);
	assert_true(ctl_pick_older(&p, 3));
	/* Two: the lagging one alone is not followed... */
	ctl_pick_init(&p, 2, 0, 1);
	ctl_pick_go(&p, 1, 0);
	assert_false(ctl_pick_older(&p, 3));
	assert_false(ctl_pick_older(&p, 3));
	ctl_pick_failed(&p, true, 0);
	/* ... nor when the other says another older revision ... */
	assert_false(ctl_pick_older(&p, 2));
	ctl_pick_go(&p, 1, 0);
	assert_false(ctl_pick_older(&p, 3));
	ctl_pick_go(&p, 0, 0);
	/* ... nor after an answer that was not older in between ... */
	ctl_pick_ok(&p);
	ctl_pick_go(&p, 1, 0);
	assert_false(ctl_pick_older(&p, 3));
	ctl_pick_go(&p, 0, 0);
	/* ... but both saying the same older revision is the database's word. */
	assert_true(ctl_pick_older(&p, 3));
	ctl_pick_go(&p, 1, 0);
	assert_false(ctl_pick_older(&p, 3));	/* and it starts over */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failover_wraps_with_backoff),
		cmocka_unit_test(test_single_controller_never_moves_nor_probes),
		cmocka_unit_test(test_probe_period_is_jittered),
		cmocka_unit_test(test_return_needs_two_rounds),
		cmocka_unit_test(test_flapping_controller_is_not_returned_to),
		cmocka_unit_test(test_older_revision_needs_every_controller),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
