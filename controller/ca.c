/* The controller's CA: load or create it, and the CRL of revoked site certificates. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gnutls/crypto.h>

#include "ca.h"
#include "privfile.h"

/* Ten years: the CA outlives many site certificates; an operator replaces it with
 * --ca-cert/--ca-key (an enterprise CA) when policy wants a shorter one. */
#define CA_SELF_SECONDS (10LL * 365 * 86400)

/* SHA-256, or what the key needs (Ed25519 signs with its own hash). */
gnutls_digest_algorithm_t ca_digest(const struct ca *ca)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_digest_algorithm_t dig = GNUTLS_DIG_SHA256;

	if (gnutls_pubkey_init(&pub) >= 0 &&
	    gnutls_pubkey_import_privkey(pub, ca->key, 0, 0) >= 0 &&
	    gnutls_pubkey_get_pk_algorithm(pub, NULL) == GNUTLS_PK_EDDSA_ED25519)
		dig = GNUTLS_DIG_SHA512;
	gnutls_pubkey_deinit(pub);
	return dig;
}

int ca_gnutls_errno(int rc)
{
	switch (rc) {
	case GNUTLS_E_SUCCESS: return 0;
	case GNUTLS_E_MEMORY_ERROR: return -ENOMEM;
	case GNUTLS_E_FILE_ERROR: return -ENOENT;
	default: return -EINVAL;
	}
}

void ca_free(struct ca *ca)
{
	if (!ca)
		return;
	gnutls_x509_crt_deinit(ca->crt);
	gnutls_privkey_deinit(ca->key);
	free(ca->pem);
	free(ca);
}

/* The key is written before the certificate, each through privfile_write: no window
 * with wider rights, no half file after a crash, no planted name to follow. */
static int ca_write(const char *path, const gnutls_datum_t *d, mode_t mode)
{
	return privfile_write(path, d->data, d->size, mode);
}

static int ca_serial(unsigned char s[16])
{
	int rc = gnutls_rnd(GNUTLS_RND_NONCE, s, 16);

	s[0] &= 0x7f;			/* a positive INTEGER, and never zero-led */
	s[0] |= 0x40;
	return ca_gnutls_errno(rc);
}

static int ca_self_sign(gnutls_x509_crt_t crt, gnutls_x509_privkey_t xk)
{
	unsigned char serial[16], kid[64];
	size_t kidlen = sizeof(kid);
	time_t now = time(NULL);
	int rc;

	if ((rc = ca_serial(serial)) < 0)
		return rc;
	rc = gnutls_x509_crt_set_version(crt, 3);
	if (rc >= 0) rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	if (rc >= 0) rc = gnutls_x509_crt_set_activation_time(crt, now - 300);
	if (rc >= 0) rc = gnutls_x509_crt_set_expiration_time(crt, now + CA_SELF_SECONDS);
	if (rc >= 0) rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME,
							0, "gresec", 6);
	if (rc >= 0) rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
							"gresec CA", 9);
	if (rc >= 0) rc = gnutls_x509_crt_set_key(crt, xk);
	/* Path length 0: it signs site certificates only, never another CA. */
	if (rc >= 0) rc = gnutls_x509_crt_set_basic_constraints(crt, 1, 0);
	if (rc >= 0) rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN |
							GNUTLS_KEY_CRL_SIGN);
	if (rc >= 0) rc = gnutls_x509_crt_get_key_id(crt, 0, kid, &kidlen);
	if (rc >= 0) rc = gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
	if (rc >= 0) rc = gnutls_x509_crt_sign2(crt, crt, xk, GNUTLS_DIG_SHA256, 0);
	return ca_gnutls_errno(rc < 0 ? rc : 0);
}

/* A new ECDSA P-256 CA: the key file first (0600), then the certificate. */
static int ca_create(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	gnutls_x509_privkey_t xk = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t kd = { NULL, 0 }, cd = { NULL, 0 };
	int r;

	r = ca_gnutls_errno(gnutls_x509_privkey_init(&xk));
	if (r == 0)
		r = ca_gnutls_errno(gnutls_x509_privkey_generate(xk, GNUTLS_PK_ECDSA,
				GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
	if (r == 0)
		r = ca_gnutls_errno(gnutls_x509_crt_init(&crt));
	if (r == 0)
		r = ca_self_sign(crt, xk);
	if (r == 0)
		r = ca_gnutls_errno(gnutls_x509_privkey_export2_pkcs8(xk, GNUTLS_X509_FMT_PEM,
					NULL, GNUTLS_PKCS_PLAIN, &kd));
	if (r == 0)
		r = ca_gnutls_errno(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cd));
	if (r < 0)
		snprintf(err, errlen, "cannot make a CA: %s", strerror(-r));
	else if ((r = ca_write(key_path, &kd, 0600)) < 0)
		snprintf(err, errlen, "%s: %s", key_path, strerror(-r));
	else if ((r = ca_write(cert_path, &cd, 0644)) < 0)
		snprintf(err, errlen, "%s: %s", cert_path, strerror(-r));
	if (kd.data)
		gnutls_memset(kd.data, 0, kd.size);
	gnutls_free(kd.data);
	gnutls_free(cd.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(xk);
	return r;
}

/* The certificate must be a CA that may sign certificates and CRLs, and the key its
 * own: an operator's mix-up is found at start, not at the first enrollment. */
static int ca_check(struct ca *ca, char *err, size_t errlen)
{
	gnutls_pubkey_t pub = NULL;
	unsigned char a[64], b[64];
	size_t al = sizeof(a), bl = sizeof(b);
	unsigned crit, usage = 0;
	int r;

	if (gnutls_x509_crt_get_basic_constraints(ca->crt, &crit, NULL, NULL) != 1) {
		snprintf(err, errlen, "the CA certificate is not a CA (basicConstraints)");
		return -EINVAL;
	}
	if (gnutls_x509_crt_get_key_usage(ca->crt, &usage, &crit) >= 0 &&
	    (usage & (GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) !=
	    (GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) {
		snprintf(err, errlen, "the CA certificate may not sign certificates and CRLs "
			 "(keyUsage keyCertSign, cRLSign)");
		return -EINVAL;
	}
	r = ca_gnutls_errno(gnutls_pubkey_init(&pub));
	if (r == 0)
		r = ca_gnutls_errno(gnutls_pubkey_import_privkey(pub, ca->key, 0, 0));
	if (r == 0)
		r = ca_gnutls_errno(gnutls_pubkey_get_key_id(pub, 0, a, &al));
	if (r == 0)
		r = ca_gnutls_errno(gnutls_x509_crt_get_key_id(ca->crt, 0, b, &bl));
	if (r == 0 && (al != bl || memcmp(a, b, al))) {
		snprintf(err, errlen, "the CA key does not match the CA certificate");
		r = -EINVAL;
	} else if (r < 0) {
		snprintf(err, errlen, "cannot read the CA key");
	}
	gnutls_pubkey_deinit(pub);
	return r;
}

static int ca_load(struct ca *ca, const char *cert_path, const char *key_path, char *err,
		   size_t errlen)
{
	gnutls_datum_t cd = { NULL, 0 }, kd = { NULL, 0 };
	int r;

	r = ca_gnutls_errno(gnutls_load_file(cert_path, &cd));
	if (r == 0 && (r = ca_gnutls_errno(gnutls_load_file(key_path, &kd))) < 0)
		snprintf(err, errlen, "%s: cannot read", key_path);
	else if (r < 0)
		snprintf(err, errlen, "%s: cannot read", cert_path);
	if (r == 0 && (r = ca_gnutls_errno(gnutls_x509_crt_import(ca->crt, &cd,
						GNUTLS_X509_FMT_PEM))) < 0)
		snprintf(err, errlen, "%s: not a PEM certificate", cert_path);
	if (r == 0 && (r = ca_gnutls_errno(gnutls_privkey_import_x509_raw(ca->key, &kd,
						GNUTLS_X509_FMT_PEM, NULL, 0))) < 0)
		snprintf(err, errlen, "%s: not an unencrypted PEM private key", key_path);
	gnutls_free(cd.data);
	cd.data = NULL;
	/* Served and sent to agents as re-encoded: one certificate, no stray text. */
	if (r == 0 && (r = ca_gnutls_errno(gnutls_x509_crt_export2(ca->crt,
						GNUTLS_X509_FMT_PEM, &cd))) < 0)
		snprintf(err, errlen, "cannot encode the CA certificate");
	if (r == 0 && !(ca->pem = strndup((char *)cd.data, cd.size)))
		r = -ENOMEM;
	if (r == 0)
		r = ca_check(ca, err, errlen);
	if (kd.data)
		gnutls_memset(kd.data, 0, kd.size);
	gnutls_free(kd.data);
	gnutls_free(cd.data);
	return r;
}

int ca_open(const char *cert_path, const char *key_path, int create, struct ca **out,
	    char *err, size_t errlen)
{
	struct ca *ca = calloc(1, sizeof(*ca));
	struct stat st;
	int r = 0;

	*out = NULL;
	if (!ca)
		return -ENOMEM;
	ca->cert_seconds = CA_CERT_DAYS_DEFAULT * 86400;
	if (create && stat(cert_path, &st) < 0 && errno == ENOENT &&
	    stat(key_path, &st) < 0 && errno == ENOENT)
		r = ca_create(cert_path, key_path, err, errlen);
	if (r == 0 && (gnutls_x509_crt_init(&ca->crt) < 0 || gnutls_privkey_init(&ca->key) < 0))
		r = -ENOMEM;
	if (r == 0)
		r = ca_load(ca, cert_path, key_path, err, errlen);
	if (r < 0)
		ca_free(ca);
	else
		*out = ca;
	return r;
}

static int ca_hex_serial(const char *hex, unsigned char *out, size_t *len)
{
	size_t n = strlen(hex);

	if (n == 0 || n % 2 || n / 2 > *len)
		return -EINVAL;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

/* The CRL names its CA by key identifier (charon looks a CA's CRL up by the CA's
 * subjectKeyIdentifier and finds none without it) and carries a number that grows
 * with time, so the newest of two CRLs is the one with the larger number. */
static int ca_crl_ids(struct ca *ca, gnutls_x509_crl_t crl, time_t now)
{
	unsigned char kid[64], num[8];
	size_t kidlen = sizeof(kid);
	int rc = 0;

	if (gnutls_x509_crt_get_subject_key_id(ca->crt, kid, &kidlen, NULL) >= 0)
		rc = gnutls_x509_crl_set_authority_key_id(crl, kid, kidlen);
	for (int i = 0; i < 8; i++)
		num[i] = (unsigned char)((unsigned long long)now >> (56 - 8 * i));
	if (rc >= 0)
		rc = gnutls_x509_crl_set_number(crl, num, sizeof(num));
	return rc;
}

static int ca_crl_fill(struct ca *ca, gnutls_x509_crl_t crl, const char *const *serials,
		       const long long *revoked_at, size_t n, unsigned next_update_s)
{
	time_t now = time(NULL);
	int rc = gnutls_x509_crl_set_version(crl, 2);

	if (rc >= 0) rc = ca_crl_ids(ca, crl, now);
	if (rc >= 0) rc = gnutls_x509_crl_set_this_update(crl, now);
	if (rc >= 0) rc = gnutls_x509_crl_set_next_update(crl, now + next_update_s);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		unsigned char s[20];
		size_t sl = sizeof(s);

		if (ca_hex_serial(serials[i], s, &sl) < 0)
			continue;	/* not one of ours: nothing to list */
		rc = gnutls_x509_crl_set_crt_serial(crl, s, sl, (time_t)revoked_at[i]);
	}
	if (rc >= 0)
		rc = gnutls_x509_crl_privkey_sign(crl, ca->crt, ca->key, ca_digest(ca), 0);
	return ca_gnutls_errno(rc < 0 ? rc : 0);
}

int ca_crl(struct ca *ca, const char *const *serials, const long long *revoked_at, size_t n,
	   unsigned next_update_s, char **pem)
{
	gnutls_x509_crl_t crl = NULL;
	gnutls_datum_t d = { NULL, 0 };
	int r;

	*pem = NULL;
	r = ca_gnutls_errno(gnutls_x509_crl_init(&crl));
	if (r == 0)
		r = ca_crl_fill(ca, crl, serials, revoked_at, n, next_update_s);
	if (r == 0)
		r = ca_gnutls_errno(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &d));
	if (r == 0 && !(*pem = strndup((char *)d.data, d.size)))
		r = -ENOMEM;
	gnutls_free(d.data);
	gnutls_x509_crl_deinit(crl);
	return r;
}
