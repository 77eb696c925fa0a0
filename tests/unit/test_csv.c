/* The RFC 4180 reader: fields, quoting, line endings, line numbers and every error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "csv.h"

/* Reads the next record of c and checks it is fields[0..n) starting on line. */
static void expect_record(struct csv *c, unsigned long line, size_t n, ...)
{
	va_list ap;
	size_t i;

	assert_int_equal(csv_next(c), 1);
	assert_int_equal(csv_line(c), line);
	assert_int_equal(csv_nfields(c), n);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		assert_string_equal(csv_field(c, i), va_arg(ap, const char *));
	va_end(ap);
	assert_null(csv_field(c, n));
}

static struct csv *open_str(const char *s)
{
	struct csv *c = csv_new(s, strlen(s));

	assert_non_null(c);
	return c;
}

static void test_plain_lf(void **state)
{
	struct csv *c = open_str("name,underlay\nhq,10.0.0.1\nbr,2001:db8::1\n");

	(void)state;
	expect_record(c, 1, 2, "name", "underlay");
	expect_record(c, 2, 2, "hq", "10.0.0.1");
	expect_record(c, 3, 2, "br", "2001:db8::1");
	assert_int_equal(csv_next(c), 0);
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
}

static void test_crlf_and_no_final_newline(void **state)
{
	struct csv *c = open_str("a,b\r\n1,2\r\n3,4");

	(void)state;
	expect_record(c, 1, 2, "a", "b");
	expect_record(c, 2, 2, "1", "2");
	expect_record(c, 3, 2, "3", "4");
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
}

static void test_quoted(void **state)
{
	struct csv *c = open_str("\"a,b\",\"say \"\"hi\"\"\",\"\"\n\"x\",y\n");

	(void)state;
	expect_record(c, 1, 3, "a,b", "say \"hi\"", "");
	expect_record(c, 2, 2, "x", "y");
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
}

/* A line break inside quotes is data, and the records after it keep true line numbers. */
static void test_multiline_field(void **state)
{
	struct csv *c = open_str("h1,h2\r\n\"two\r\nlines\",b\nc,\"3\n4\n5\"\nlast,row\n");

	(void)state;
	expect_record(c, 1, 2, "h1", "h2");
	expect_record(c, 2, 2, "two\r\nlines", "b");
	expect_record(c, 4, 2, "c", "3\n4\n5");
	expect_record(c, 7, 2, "last", "row");
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
}

static void test_empty_fields_and_lines(void **state)
{
	struct csv *c = open_str(",,\n\na,b,\n,\"\"");

	(void)state;
	expect_record(c, 1, 3, "", "", "");
	expect_record(c, 2, 1, "");
	expect_record(c, 3, 3, "a", "b", "");
	expect_record(c, 4, 2, "", "");
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
}

static void test_empty_input_and_bom(void **state)
{
	struct csv *c = open_str("");

	(void)state;
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
	c = open_str("\xef\xbb\xbfname\n");
	expect_record(c, 1, 1, "name");
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
	c = csv_new(NULL, 5);
	assert_non_null(c);
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
	csv_free(NULL);
}

/* Each malformed input fails with the line the problem is on, and the reader stops. */
static void expect_error(const char *in, size_t len, size_t good, unsigned long line,
			 const char *msg_part)
{
	struct csv *c = csv_new(in, len);
	size_t i;

	assert_non_null(c);
	for (i = 0; i < good; i++)
		assert_int_equal(csv_next(c), 1);
	assert_int_equal(csv_next(c), -EINVAL);
	assert_int_equal(csv_error_line(c), line);
	assert_non_null(strstr(csv_error(c), msg_part));
	assert_int_equal(csv_nfields(c), 0);
	assert_int_equal(csv_next(c), 0);
	csv_free(c);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("a,b\n1,\"open\nstill\n", 18, 1, 2, "unterminated");
	expect_error("a,b\nx\"y,1\n", 10, 1, 2, "quote inside");
	expect_error("a\n\"q\"x,1\n", 9, 1, 2, "after a closing quote");
	expect_error("a\nb\rc\n", 6, 1, 2, "carriage return");
	expect_error("a\n\nb\0c\n", 7, 2, 3, "NUL");
	expect_error("\"x\0\"\n", 5, 0, 1, "NUL");
	/* An error after a multi-line field names the line it is really on. */
	expect_error("\"1\n2\n3\"z\n", 9, 0, 3, "after a closing quote");
}

/* Fields far larger than the initial buffers, and many of them. */
static void test_large(void **state)
{
	size_t n = 200000, i;
	char *big = malloc(n + 16), *f;
	struct csv *c;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', n);
	memcpy(big + n, ",y\n", 4);
	c = csv_new(big, strlen(big));
	assert_int_equal(csv_next(c), 1);
	assert_int_equal(csv_nfields(c), 2);
	assert_int_equal(strlen(csv_field(c, 0)), n);
	assert_string_equal(csv_field(c, 1), "y");
	csv_free(c);
	for (i = 0; i < n; i++)
		big[i] = i % 2 ? ',' : 'a';
	big[n] = '\0';
	c = csv_new(big, n);
	assert_int_equal(csv_next(c), 1);
	assert_int_equal(csv_nfields(c), n / 2 + 1);
	f = (char *)csv_field(c, n / 2 - 1);
	assert_string_equal(f, "a");
	assert_string_equal(csv_field(c, n / 2), "");
	csv_free(c);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_lf),
		cmocka_unit_test(test_crlf_and_no_final_newline),
		cmocka_unit_test(test_quoted),
		cmocka_unit_test(test_multiline_field),
		cmocka_unit_test(test_empty_fields_and_lines),
		cmocka_unit_test(test_empty_input_and_bom),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_large),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
