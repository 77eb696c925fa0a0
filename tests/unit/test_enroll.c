/* agent/enroll.c: the site's key made once (0600) and kept, its CSR accepted by the
 * controller's CA (ca_csr.c), the certificate taken only for this key, renewal at two
 * thirds of its life. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ca.h"
#include "enroll.h"
#include "state.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/gresec-test-enroll-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct ca *make_ca(void)
{
	char cert[128], key[128], err[256];
	struct ca *ca = NULL;

	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	assert_int_equal(ca_open(cert, key, 1, &ca, err, sizeof(err)), 0);
	return ca;
}

/* The controller's answer to e's CSR, written where the agent keeps it. */
static void sign_for(struct ca *ca, const struct enroll *e)
{
	static const struct ca_site who = { .name = "paris", .underlay = "192.0.2.1" };
	char *csr = NULL, *pem = NULL, serial[41], err[256];
	long long na;

	assert_int_equal(enroll_csr(e, &csr), 0);
	assert_int_equal(ca_sign_csr(ca, csr, strlen(csr), &who, &pem, serial, &na, err,
				     sizeof(err)), 0);
	assert_int_equal(state_write_text(dir, "ike.pem", pem, ""), 0);
	free(csr);
	free(pem);
}

static void test_key_made_once_private(void **state)
{
	struct enroll *a, *b;
	char path[128];
	struct stat st;

	(void)state;
	assert_null(enroll_new(dir, "paris", false));	/* no key, none made */
	a = enroll_new(dir, "paris", true);
	assert_non_null(a);
	assert_null(a->cert_pem);
	assert_int_equal(enroll_renew_at(a), 0);	/* no certificate: at once */
	snprintf(path, sizeof(path), "%s/ike.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	b = enroll_new(dir, "paris", true);
	assert_non_null(b);
	assert_string_equal(a->key_pem, b->key_pem);
	enroll_free(a);
	enroll_free(b);
}

static void test_certificate_taken_and_renewal(void **state)
{
	struct ca *ca = make_ca();
	struct enroll *e = enroll_new(dir, "paris", true), *again;
	char key[128];

	(void)state;
	assert_non_null(e);
	sign_for(ca, e);
	again = enroll_new(dir, "paris", true);
	assert_non_null(again);
	assert_non_null(again->cert_pem);
	assert_int_equal(enroll_renew_at(again), again->not_before +
			 (again->not_after - again->not_before) * 2 / 3);
	assert_true(again->not_after - again->not_before >= CA_CERT_DAYS_DEFAULT * 86400);
	enroll_free(again);
	/* A new key (ike.key deleted): the old certificate is not its own, so not taken. */
	snprintf(key, sizeof(key), "%s/ike.key", dir);
	assert_int_equal(unlink(key), 0);
	again = enroll_new(dir, "paris", true);
	assert_non_null(again);
	assert_null(again->cert_pem);
	assert_string_not_equal(again->key_pem, e->key_pem);
	enroll_free(again);
	enroll_free(e);
	ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_made_once_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate_taken_and_renewal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
