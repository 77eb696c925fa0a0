/* controller/utf8.c and http_target_check: what the HTTP front makes of client bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <jansson.h>

#include "http.h"
#include "utf8.h"

static void sanitized(const char *in, const char *want)
{
	char buf[64];
	json_t *s;

	snprintf(buf, sizeof(buf), "%s", in);
	utf8_sanitize(buf);
	assert_string_equal(buf, want);
	s = json_string(buf);		/* what the error message is built with */
	assert_non_null(s);
	json_decref(s);
}

static void test_sanitize(void **state)
{
	(void)state;
	sanitized("plain /v1/x", "plain /v1/x");
	sanitized("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	sanitized("/\xff", "/?");
	sanitized("cut \xc3", "cut ?");				/* a character cut by a buffer */
	sanitized("cut \xf0\x9f\x98", "cut ???");
	sanitized("\xc0\xaf overlong", "?? overlong");
	sanitized("\xed\xa0\x80 surrogate", "??? surrogate");
	sanitized("\xf4\x90\x80\x80 past max", "???? past max");
	sanitized("\x80\xbf lone", "?? lone");
}

static void test_char_len(void **state)
{
	(void)state;
	assert_int_equal(utf8_char_len("a", 1), 1);
	assert_int_equal(utf8_char_len("\xc3\xa9", 2), 2);
	assert_int_equal(utf8_char_len("\xc3\xa9", 1), 0);
	assert_int_equal(utf8_char_len("\xe0\x9f\x80", 3), 0);	/* overlong 3-byte */
	assert_int_equal(utf8_char_len("\xef\xbf\xbf", 3), 3);
	assert_int_equal(utf8_char_len("\xf4\x8f\xbf\xbf", 4), 4);	/* U+10FFFF */
	assert_int_equal(utf8_char_len("", 0), 0);
}

#define HTTP_MAX_QUERY_TEST 32

static void test_target(void **state)
{
	char many[512] = "/v1/sites?";

	(void)state;
	assert_null(http_target_check("/v1/sites/hub1"));
	assert_null(http_target_check("/v1/sites?x=%2F&limit=1"));	/* a value, not the path */
	assert_null(http_target_check("/v1/sites/%c3%a9"));
	assert_non_null(http_target_check("/v1/sites%2Fhub1"));
	assert_non_null(http_target_check("/v1/sites%2fhub1"));
	assert_non_null(http_target_check("/v1/sites/a%00"));
	assert_non_null(http_target_check("/v1/sites?after=a%00b"));
	for (int i = 0; i < 32; i++)
		strcat(many, i ? "&a=1" : "a=1");
	assert_null(http_target_check(many));
	strcat(many, "&");				/* a trailing '&' adds none */
	assert_null(http_target_check(many));
	strcat(many, "&");				/* but an empty one counts */
	assert_non_null(http_target_check(many));
	assert_null(http_target_check("/v1/sites?"));
	memset(many + 10, '&', 400);			/* only empty ones */
	many[410] = '\0';
	assert_non_null(http_target_check(many));
	many[10 + HTTP_MAX_QUERY_TEST] = '\0';	/* 32 '&': 32 empty parameters */
	assert_null(http_target_check(many));
	many[11 + HTTP_MAX_QUERY_TEST] = '\0';
	memset(many + 10, '&', HTTP_MAX_QUERY_TEST + 1);
	assert_non_null(http_target_check(many));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_char_len),
		cmocka_unit_test(test_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
