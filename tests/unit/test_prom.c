/* The Prometheus writer: label escaping, histogram buckets (cumulative, +Inf, _sum,
 * _count), and room for every API route in the controller's request counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "api.h"
#include "metrics.h"
#include "prom.h"

static void test_label(void **state)
{
	char buf[64] = "", small[12] = "";

	(void)state;
	prom_label(buf, sizeof(buf), "route", "/v1/sites/{name}");
	prom_label(buf, sizeof(buf), "x", "a\"b\\c\nd");
	assert_string_equal(buf, "route=\"/v1/sites/{name}\",x=\"a\\\"b\\\\c\\nd\"");
	/* Cut short, still terminated and within the buffer. */
	prom_label(small, sizeof(small), "route", "/v1/sites");
	assert_true(strlen(small) < sizeof(small));
}

static void test_hist(void **state)
{
	static const struct prom_buckets b = { 2, { 0.1, 1 } };
	struct prom_hist h;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	prom_hist_init(&h, &b);
	prom_observe(&h, 0.05);
	prom_observe(&h, 0.5);
	prom_observe(&h, 0.5);
	prom_observe(&h, 7);
	prom_observe(&h, -1);		/* a clock step back counts as 0 */
	prom_hist_write(f, "t_seconds", "k=\"v\"", &h);
	fclose(f);
	assert_string_equal(text,
		"t_seconds_bucket{k=\"v\",le=\"0.1\"} 2\n"
		"t_seconds_bucket{k=\"v\",le=\"1\"} 4\n"
		"t_seconds_bucket{k=\"v\",le=\"+Inf\"} 5\n"
		"t_seconds_sum{k=\"v\"} 8.050000\n"
		"t_seconds_count{k=\"v\"} 5\n");
	free(text);
}

static void test_routes_fit(void **state)
{
	(void)state;
	/* Beyond METRICS_MAX_ROUTES a route would be counted as unmatched. */
	assert_true(api_nroutes < METRICS_MAX_ROUTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label),
		cmocka_unit_test(test_hist),
		cmocka_unit_test(test_routes_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
