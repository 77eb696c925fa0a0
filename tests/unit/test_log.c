/* Logging: the journal's priority prefix (only when stderr is the stream systemd
 * named in $JOURNAL_STREAM) and the site/tunnel context helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

/* Points stderr at a fresh temporary file; returns the saved stderr. */
static int capture_start(FILE **f)
{
	int saved = dup(STDERR_FILENO);

	*f = tmpfile();
	assert_non_null(*f);
	assert_true(dup2(fileno(*f), STDERR_FILENO) >= 0);
	return saved;
}

/* Restores stderr and returns what was written (malloc'd). */
static char *capture_end(FILE *f, int saved)
{
	static char buf[4096];
	size_t n;

	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return strdup(buf);
}

static void test_journal_prefix(void **state)
{
	struct stat st;
	char env[64], *out;
	FILE *f;
	int saved = capture_start(&f);

	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init("test_log", LOG_LVL_DEBUG);
	assert_true(log_to_journal());
	log_err("broken %d", 1);
	log_warn("odd");
	log_info("fine");
	log_debug("detail");
	log_ctx(LOG_LVL_ERR, "hub1", "t0001", "down: %s", "peer gone");
	out = capture_end(f, saved);
	assert_string_equal(out, "<3>error: broken 1\n<4>warn: odd\n<6>info: fine\n"
			    "<7>debug: detail\n<3>error: site hub1 tunnel t0001: down: peer gone\n");
	free(out);
	unsetenv("JOURNAL_STREAM");
}

/* Another stream (the variable inherited by a child whose stderr was redirected):
 * the plain format, with time and pid, and no priority prefix. */
static void test_not_journal(void **state)
{
	char *out;
	FILE *f;
	int saved = capture_start(&f);

	(void)state;
	setenv("JOURNAL_STREAM", "1:2", 1);
	log_init("test_log", LOG_LVL_INFO);
	assert_false(log_to_journal());
	log_err("broken");
	log_debug("hidden");
	out = capture_end(f, saved);
	assert_non_null(strstr(out, " test_log["));
	assert_non_null(strstr(out, "] error: broken\n"));
	assert_null(strstr(out, "hidden"));
	assert_true(out[0] != '<');
	free(out);
	setenv("JOURNAL_STREAM", "garbage", 1);
	log_init("test_log", LOG_LVL_INFO);
	assert_false(log_to_journal());
	unsetenv("JOURNAL_STREAM");
}

static void test_context(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(log_context(buf, sizeof(buf), "hub1", "t1"), strlen("site hub1 tunnel t1: "));
	assert_string_equal(buf, "site hub1 tunnel t1: ");
	log_context(buf, sizeof(buf), "hub1", NULL);
	assert_string_equal(buf, "site hub1: ");
	log_context(buf, sizeof(buf), "", "t1");
	assert_string_equal(buf, "tunnel t1: ");
	assert_int_equal(log_context(buf, sizeof(buf), NULL, NULL), 0);
	assert_string_equal(buf, "");
	/* Cut, but terminated. */
	assert_int_equal(log_context(buf, 8, "averylongsitename", NULL), 7);
	assert_string_equal(buf, "site av");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_prefix),
		cmocka_unit_test(test_not_journal),
		cmocka_unit_test(test_context),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
