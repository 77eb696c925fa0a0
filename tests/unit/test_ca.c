/* controller/ca.c and ca_csr.c: the CA made at first start, and what a CSR must be
 * before the controller signs it. CSRs are made here with GnuTLS, as an agent would. */
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
#include <arpa/inet.h>
#include <gnutls/x509.h>

#include "ca.h"

struct fx {
	char dir[64], cert[128], key[128];
	struct ca *ca;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	strcpy(f->dir, "/tmp/gresec-test-ca-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->cert, sizeof(f->cert), "%s/ca.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/ca.key", f->dir);
	assert_int_equal(ca_open(f->cert, f->key, 1, &f->ca, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	ca_free(f->ca);
	unlink(f->cert);
	unlink(f->key);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* A CSR signed by a new key of the given kind; cn and the SANs optional. */
static char *make_csr(gnutls_pk_algorithm_t pk, unsigned bits, const char *cn,
		      const char *dns, const char *ip)
{
	gnutls_x509_privkey_t k;
	gnutls_x509_crq_t crq;
	gnutls_datum_t d = { NULL, 0 };
	unsigned char a[16];
	char *pem;

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_generate(k, pk, bits, 0), 0);
	assert_int_equal(gnutls_x509_crq_init(&crq), 0);
	assert_int_equal(gnutls_x509_crq_set_key(crq, k), 0);
	if (cn)
		assert_int_equal(gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME,
							       0, cn, strlen(cn)), 0);
	if (dns)
		assert_int_equal(gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_DNSNAME,
				 dns, strlen(dns), GNUTLS_FSAN_APPEND), 0);
	if (ip) {
		assert_int_equal(inet_pton(AF_INET, ip, a), 1);
		assert_int_equal(gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_IPADDRESS,
				 a, 4, GNUTLS_FSAN_APPEND), 0);
	}
	assert_int_equal(gnutls_x509_crq_sign2(crq, k, pk == GNUTLS_PK_EDDSA_ED25519 ?
					       GNUTLS_DIG_SHA512 : GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d), 0);
	pem = strndup((char *)d.data, d.size);
	gnutls_free(d.data);
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(k);
	return pem;
}

static const struct ca_site site_a = { .name = "paris", .underlay = "192.0.2.1" };

/* Signs csr for site_a; returns the ca_sign_csr result, err holds its reason. */
static int sign(struct fx *f, const char *csr, char *err, size_t errlen, char **pem)
{
	char serial[41];
	long long na = 0;

	return ca_sign_csr(f->ca, csr, strlen(csr), &site_a, pem, serial, &na, err, errlen);
}

static void test_created_private(void **state)
{
	struct fx *f = *state;
	struct ca *again = NULL;
	struct stat st;
	char err[256];

	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(strstr(f->ca->pem, "BEGIN CERTIFICATE"));
	/* The second start loads the same CA instead of making another. */
	assert_int_equal(ca_open(f->cert, f->key, 1, &again, err, sizeof(err)), 0);
	assert_string_equal(again->pem, f->ca->pem);
	ca_free(again);
}

static void test_key_mismatch(void **state)
{
	struct fx *f = *state;
	struct ca *other = NULL, *bad = NULL;
	char cert2[160], key2[160], err[256];

	snprintf(cert2, sizeof(cert2), "%s/other.pem", f->dir);
	snprintf(key2, sizeof(key2), "%s/other.key", f->dir);
	assert_int_equal(ca_open(cert2, key2, 1, &other, err, sizeof(err)), 0);
	assert_int_equal(ca_open(f->cert, key2, 0, &bad, err, sizeof(err)), -EINVAL);
	assert_null(bad);
	assert_non_null(strstr(err, "does not match"));
	assert_int_equal(ca_open("/nonexistent/ca.pem", f->key, 0, &bad, err, sizeof(err)),
			 -ENOENT);
	ca_free(other);
	unlink(cert2);
	unlink(key2);
}

static void test_sign_good(void **state)
{
	struct fx *f = *state;
	char *csr = make_csr(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			     "paris", "paris", "192.0.2.1");
	gnutls_x509_crt_t crt;
	gnutls_datum_t d;
	char *pem = NULL, err[256], buf[64];
	size_t len = sizeof(buf);
	unsigned type, crit, status = 1;

	assert_int_equal(sign(f, csr, err, sizeof(err), &pem), 0);
	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	d.data = (unsigned char *)pem;
	d.size = strlen(pem);
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_crt_verify(crt, &f->ca->crt, 1, 0, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name2(crt, 0, buf, &len, &type, &crit),
			 GNUTLS_SAN_DNSNAME);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "paris", 5);
	len = sizeof(buf);
	assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 1, buf, &len, &crit),
			 GNUTLS_SAN_IPADDRESS);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "\xc0\x00\x02\x01", 4);
	assert_true(gnutls_x509_crt_get_expiration_time(crt) -
		    gnutls_x509_crt_get_activation_time(crt) >= CA_CERT_DAYS_DEFAULT * 86400);
	gnutls_x509_crt_deinit(crt);
	free(pem);
	free(csr);
	/* No names at all is fine too: the controller writes them. */
	csr = make_csr(GNUTLS_PK_EDDSA_ED25519, 256, NULL, NULL, NULL);
	assert_int_equal(sign(f, csr, err, sizeof(err), &pem), 0);
	free(pem);
	free(csr);
}

static void refused(struct fx *f, char *csr, const char *why)
{
	char *pem = NULL, err[256];

	assert_int_equal(sign(f, csr, err, sizeof(err), &pem), -EINVAL);
	assert_null(pem);
	if (!strstr(err, why))
		fail_msg("'%s' does not say '%s'", err, why);
	free(csr);
}

static void test_sign_refused(void **state)
{
	struct fx *f = *state;
	char *big = calloc(1, CA_CSR_MAX + 2);

	refused(f, make_csr(GNUTLS_PK_RSA, 1024, "paris", NULL, NULL), "key type");
	refused(f, make_csr(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			    NULL, "london", NULL), "subjectAltName[0]");
	refused(f, make_csr(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			    NULL, "paris", "192.0.2.2"), "subjectAltName[1]");
	refused(f, make_csr(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			    "london", NULL, NULL), "CN");
	refused(f, strdup("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
			  "-----END CERTIFICATE REQUEST-----\n"), "not a PEM");
	refused(f, strdup("\x01\x02garbage"), "not a PEM");
	assert_non_null(big);
	memset(big, 'A', CA_CSR_MAX + 1);
	refused(f, big, "larger than");
}

/* A CSR whose signature was made by another key proves nothing: the last byte of the
 * DER is the end of the ECDSA signature's s, so flipping it keeps the encoding valid. */
static void test_sign_forged(void **state)
{
	struct fx *f = *state;
	char *csr = make_csr(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			     "paris", NULL, NULL);
	gnutls_datum_t in = { (unsigned char *)csr, strlen(csr) }, der, out;

	assert_int_equal(gnutls_pem_base64_decode2(NULL, &in, &der), 0);
	der.data[der.size - 1] ^= 0x01;
	assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE REQUEST", &der, &out), 0);
	free(csr);
	refused(f, strndup((char *)out.data, out.size), "signature does not verify");
	gnutls_free(der.data);
	gnutls_free(out.data);
}

static void test_crl(void **state)
{
	struct fx *f = *state;
	const char *serials[] = { "4a0102030405060708090a0b0c0d0e0f" };
	long long at[] = { 1700000000 };
	gnutls_x509_crl_t crl;
	gnutls_datum_t d;
	unsigned char s[32];
	size_t sl = sizeof(s);
	time_t t;
	unsigned status = 1;
	unsigned char aki[64], ski[64];
	size_t akil = sizeof(aki), skil = sizeof(ski);
	char *pem = NULL;

	assert_int_equal(ca_crl(f->ca, serials, at, 1, 3600, &pem), 0);
	assert_int_equal(gnutls_x509_crl_init(&crl), 0);
	d.data = (unsigned char *)pem;
	d.size = strlen(pem);
	assert_int_equal(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_PEM), 0);
	assert_int_equal(gnutls_x509_crl_get_crt_count(crl), 1);
	assert_int_equal(gnutls_x509_crl_get_crt_serial(crl, 0, s, &sl, &t), 0);
	assert_int_equal(sl, 16);
	assert_memory_equal(s, "\x4a\x01\x02\x03", 4);
	assert_int_equal(gnutls_x509_crl_verify(crl, &f->ca->crt, 1, 0, &status), 0);
	assert_int_equal(status, 0);
	/* Named by the CA's key identifier: charon finds a CA's CRL by it. */
	assert_int_equal(gnutls_x509_crl_get_authority_key_id(crl, aki, &akil, NULL), 0);
	assert_int_equal(gnutls_x509_crt_get_subject_key_id(f->ca->crt, ski, &skil, NULL), 0);
	assert_int_equal(akil, skil);
	assert_memory_equal(aki, ski, skil);
	gnutls_x509_crl_deinit(crl);
	free(pem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_created_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_good, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_forged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crl, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
