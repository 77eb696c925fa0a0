/* api/addr.c: parsing, canonical text, set relations and block arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

static struct addr A(const char *s)
{
	struct addr a;

	assert_int_equal(addr_parse(s, &a), 0);
	return a;
}

static struct addr_prefix P(const char *s)
{
	struct addr_prefix p;

	assert_int_equal(addr_prefix_parse(s, &p), 0);
	return p;
}

static void assert_fmt(const char *in, const char *want)
{
	struct addr a = A(in);
	char buf[ADDR_STRLEN];

	addr_fmt(&a, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void assert_pfmt(const struct addr_prefix *p, const char *want)
{
	char buf[ADDR_PREFIX_STRLEN];

	addr_prefix_fmt(p, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_parse_v4(void **state)
{
	static const uint8_t want[4] = { 192, 0, 2, 1 };
	struct addr a;

	(void)state;
	assert_int_equal(addr_parse("192.0.2.1", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, want, 4);
	assert_fmt("0.0.0.0", "0.0.0.0");
	assert_fmt("255.255.255.255", "255.255.255.255");
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", " 1.2.3.4", "1.2.3.4 ",
		"1.2.3.4/32", "0x1.2.3.4", "1.2.3.-4", "fe80::1%eth0", "::g", "1:2:3:4:5:6:7:8:9",
		"1::2::3", "[::1]", "12345::", "::1 ", "paris",
	};
	struct addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&a, 0x5a, sizeof(a));
		if (addr_parse(bad[i], &a) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(a.bytes[0], 0x5a);	/* out untouched on error */
	}
	assert_int_equal(addr_parse(NULL, &a), -EINVAL);
}

/* RFC 5952: lower case, no leading zeros, the longest (then first) zero run as "::",
 * never "::" for a single zero group, dotted quad only for IPv4-mapped. */
static void test_fmt_rfc5952(void **state)
{
	(void)state;
	assert_fmt("2001:DB8:0:0:0:0:0:1", "2001:db8::1");
	assert_fmt("2001:0db8::0001", "2001:db8::1");
	assert_fmt("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	assert_fmt("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1");
	assert_fmt("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	assert_fmt("0:0:0:0:0:0:0:0", "::");
	assert_fmt("0:0:0:0:0:0:0:1", "::1");
	assert_fmt("1:0:0:0:0:0:0:0", "1::");
	assert_fmt("::ffff:192.0.2.1", "::ffff:192.0.2.1");
	assert_fmt("::ffff:c000:201", "::ffff:192.0.2.1");
	/* IPv4-compatible (deprecated) stays hexadecimal */
	assert_fmt("::1.2.3.4", "::102:304");
	assert_fmt("::102:0", "::102:0");
	assert_fmt("FE80::ABCD", "fe80::abcd");
}

static void test_fmt_roundtrip(void **state)
{
	static const char *const in[] = {
		"10.1.2.3", "2001:db8::1", "::", "::1", "fe80::1:2", "1:2:3:4:5:6:7:8",
		"::ffff:10.0.0.1", "::102:304", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	};
	char buf[ADDR_STRLEN];
	struct addr a, b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		a = A(in[i]);
		addr_fmt(&a, buf, sizeof(buf));
		b = A(buf);
		assert_int_equal(addr_cmp(&a, &b), 0);
		assert_string_equal(buf, in[i]);
	}
}

static void test_fmt_small_buffer(void **state)
{
	struct addr a = A("2001:db8::1");
	char buf[4] = "xxx";

	(void)state;
	addr_fmt(&a, buf, sizeof(buf));
	assert_string_equal(buf, "");
	a.family = 12345;
	addr_fmt(&a, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static void test_prefix_parse(void **state)
{
	struct addr_prefix p;

	(void)state;
	p = P("10.0.0.0/8");
	assert_int_equal(p.len, 8);
	assert_pfmt(&p, "10.0.0.0/8");
	p = P("2001:DB8::/32");
	assert_pfmt(&p, "2001:db8::/32");
	p = P("0.0.0.0/0");
	assert_pfmt(&p, "0.0.0.0/0");
	p = P("::/0");
	assert_pfmt(&p, "::/0");
	p = P("192.0.2.1/32");
	assert_pfmt(&p, "192.0.2.1/32");
	p = P("2001:db8::1/128");
	assert_pfmt(&p, "2001:db8::1/128");
	p = P("172.16.0.0/12");
	assert_pfmt(&p, "172.16.0.0/12");
}

static void test_prefix_host_bits(void **state)
{
	struct addr_prefix p;

	(void)state;
	assert_int_equal(addr_prefix_parse("10.0.0.1/8", &p), -EDOM);
	assert_pfmt(&p, "10.0.0.0/8");	/* the network the user probably meant */
	assert_int_equal(addr_prefix_parse("172.31.0.0/12", &p), -EDOM);
	assert_pfmt(&p, "172.16.0.0/12");
	assert_int_equal(addr_prefix_parse("2001:db8::1/64", &p), -EDOM);
	assert_pfmt(&p, "2001:db8::/64");
	assert_int_equal(addr_prefix_parse("2001:db8:0:0:8000::/65", &p), 0);
	assert_int_equal(addr_prefix_parse("2001:db8:0:0:8000::/64", &p), -EDOM);
	assert_int_equal(addr_prefix_parse("0.0.0.1/0", &p), -EDOM);
}

static void test_prefix_rejects(void **state)
{
	static const char *const bad[] = {
		"10.0.0.0", "10.0.0.0/", "/8", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/+8",
		"10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/8/9", "10.0.0.0/0008", "10.0.0.0/-1",
		"10.0.0/8", "10.0.0.0/8a", "10.0.0.0//8", "fe80::%1/64",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999/64",
	};
	struct addr_prefix p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (addr_prefix_parse(bad[i], &p) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(addr_prefix_parse(NULL, &p), -EINVAL);
}

static void test_cmp(void **state)
{
	struct addr a = A("10.0.0.1"), b = A("10.0.0.2"), c = A("::1"), d = A("9.255.255.255");
	struct addr_prefix p8 = P("10.0.0.0/8"), p16 = P("10.0.0.0/16"), p9 = P("10.128.0.0/9");
	struct addr_prefix v6 = P("::/0");

	(void)state;
	assert_true(addr_cmp(&a, &b) < 0);
	assert_true(addr_cmp(&b, &a) > 0);
	assert_int_equal(addr_cmp(&a, &a), 0);
	assert_true(addr_cmp(&a, &c) < 0);	/* IPv4 sorts before IPv6 */
	assert_true(addr_cmp(&c, &d) > 0);
	assert_true(addr_cmp(&d, &a) < 0);
	assert_true(addr_prefix_cmp(&p8, &p16) < 0);	/* same address: shorter first */
	assert_true(addr_prefix_cmp(&p16, &p9) < 0);
	assert_true(addr_prefix_cmp(&p9, &v6) < 0);
	assert_int_equal(addr_prefix_cmp(&p9, &p9), 0);
}

static void test_contains(void **state)
{
	struct addr_prefix p = P("172.16.0.0/12"), all4 = P("0.0.0.0/0"), host = P("10.0.0.1/32");
	struct addr_prefix v6 = P("2001:db8::/127"), all6 = P("::/0");
	struct addr x;

	(void)state;
	x = A("172.31.255.255");
	assert_true(addr_prefix_contains(&p, &x));
	x = A("172.32.0.0");
	assert_false(addr_prefix_contains(&p, &x));
	x = A("172.15.255.255");
	assert_false(addr_prefix_contains(&p, &x));
	x = A("203.0.113.9");
	assert_true(addr_prefix_contains(&all4, &x));
	x = A("::1");
	assert_false(addr_prefix_contains(&all4, &x));	/* never across families */
	assert_true(addr_prefix_contains(&all6, &x));
	x = A("10.0.0.1");
	assert_true(addr_prefix_contains(&host, &x));
	x = A("10.0.0.0");
	assert_false(addr_prefix_contains(&host, &x));
	x = A("2001:db8::1");
	assert_true(addr_prefix_contains(&v6, &x));
	x = A("2001:db8::2");
	assert_false(addr_prefix_contains(&v6, &x));
}

static void test_overlap(void **state)
{
	struct addr_prefix a = P("10.0.0.0/8"), b = P("10.200.0.0/16"), c = P("10.0.0.0/9");
	struct addr_prefix d = P("10.128.0.0/9"), e = P("11.0.0.0/8"), v6 = P("::/0");
	struct addr_prefix f = P("2001:db8::/48"), g = P("2001:db8:0:8000::/49");

	(void)state;
	assert_true(addr_prefix_overlap(&a, &b));
	assert_true(addr_prefix_overlap(&b, &a));
	assert_true(addr_prefix_overlap(&a, &a));
	assert_false(addr_prefix_overlap(&c, &d));	/* adjacent halves */
	assert_true(addr_prefix_overlap(&d, &b));
	assert_false(addr_prefix_overlap(&c, &b));
	assert_false(addr_prefix_overlap(&a, &e));
	assert_false(addr_prefix_overlap(&a, &v6));
	assert_true(addr_prefix_overlap(&f, &g));
	assert_true(addr_prefix_overlap(&v6, &g));
}

static void test_nth(void **state)
{
	struct addr_prefix pool = P("10.0.0.0/16"), out, v6 = P("fd00::/8"), all6 = P("::/0");
	struct addr_prefix p8 = P("10.0.0.0/8");

	(void)state;
	assert_int_equal(addr_prefix_nth(&pool, 31, 0, &out), 0);
	assert_pfmt(&out, "10.0.0.0/31");
	assert_int_equal(addr_prefix_nth(&pool, 31, 1, &out), 0);
	assert_pfmt(&out, "10.0.0.2/31");
	assert_int_equal(addr_prefix_nth(&pool, 31, 200, &out), 0);
	assert_pfmt(&out, "10.0.1.144/31");	/* carries into the next byte */
	assert_int_equal(addr_prefix_nth(&pool, 31, 32767, &out), 0);
	assert_pfmt(&out, "10.0.255.254/31");
	assert_int_equal(addr_prefix_nth(&pool, 31, 32768, &out), -ERANGE);
	assert_int_equal(addr_prefix_nth(&pool, 16, 0, &out), 0);
	assert_pfmt(&out, "10.0.0.0/16");
	assert_int_equal(addr_prefix_nth(&pool, 16, 1, &out), -ERANGE);
	assert_int_equal(addr_prefix_nth(&pool, 15, 0, &out), -ERANGE);
	assert_int_equal(addr_prefix_nth(&pool, 33, 0, &out), -ERANGE);
	assert_int_equal(addr_prefix_nth(&p8, 24, 256, &out), 0);
	assert_pfmt(&out, "10.1.0.0/24");
	assert_int_equal(addr_prefix_nth(&v6, 64, (1ULL << 56) - 1, &out), 0);
	assert_pfmt(&out, "fdff:ffff:ffff:ffff::/64");
	assert_int_equal(addr_prefix_nth(&v6, 64, 1ULL << 56, &out), -ERANGE);
	assert_int_equal(addr_prefix_nth(&v6, 127, 3, &out), 0);
	assert_pfmt(&out, "fd00::6/127");
	/* more blocks than a uint64_t can count: any n is in range */
	assert_int_equal(addr_prefix_nth(&all6, 128, UINT64_MAX, &out), 0);
	assert_pfmt(&out, "::ffff:ffff:ffff:ffff/128");
	assert_int_equal(addr_prefix_nth(&all6, 64, UINT64_MAX, &out), 0);
	assert_pfmt(&out, "ffff:ffff:ffff:ffff::/64");
}

static void test_offset(void **state)
{
	struct addr_prefix p = P("10.0.0.0/30"), v6 = P("2001:db8::/64"), all6 = P("::/0");
	struct addr_prefix sloppy = { .addr = A("10.0.0.6"), .len = 30 };
	char buf[ADDR_STRLEN];
	struct addr out;

	(void)state;
	assert_int_equal(addr_offset(&p, 0, &out), 0);
	addr_fmt(&out, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0");
	assert_int_equal(addr_offset(&p, 3, &out), 0);
	addr_fmt(&out, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.3");
	assert_int_equal(addr_offset(&p, 4, &out), -ERANGE);
	assert_int_equal(addr_offset(&sloppy, 1, &out), 0);	/* from the network, 10.0.0.4 */
	addr_fmt(&out, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.5");
	assert_int_equal(addr_offset(&v6, 1ULL << 63, &out), 0);
	addr_fmt(&out, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8:0:0:8000::");	/* longest zero run */
	assert_int_equal(addr_offset(&v6, UINT64_MAX, &out), 0);
	addr_fmt(&out, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::ffff:ffff:ffff:ffff");
	assert_int_equal(addr_offset(&all6, 257, &out), 0);
	addr_fmt(&out, buf, sizeof(buf));
	assert_string_equal(buf, "::101");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v4),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_fmt_rfc5952),
		cmocka_unit_test(test_fmt_roundtrip),
		cmocka_unit_test(test_fmt_small_buffer),
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_prefix_host_bits),
		cmocka_unit_test(test_prefix_rejects),
		cmocka_unit_test(test_cmp),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_nth),
		cmocka_unit_test(test_offset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
