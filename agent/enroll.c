/* The site's IKE key and certificate: see enroll.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "client.h"
#include "enroll.h"
#include "log.h"
#include "state.h"

#define ENROLL_KEY "ike.key"
#define ENROLL_CERT "ike.pem"

static char *enroll_read(const char *dir, const char *name)
{
	gnutls_datum_t d = { NULL, 0 };
	char path[4096], *s = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (gnutls_load_file(path, &d) < 0)
		return NULL;
	s = strndup((char *)d.data, d.size);
	gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	return s;
}

/* A new ECDSA P-256 key, PEM (PKCS#8). */
static char *enroll_make_key(void)
{
	gnutls_x509_privkey_t k = NULL;
	gnutls_datum_t d = { NULL, 0 };
	char *pem = NULL;

	if (gnutls_x509_privkey_init(&k) >= 0 &&
	    gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
			GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) >= 0 &&
	    gnutls_x509_privkey_export2_pkcs8(k, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					      &d) >= 0)
		pem = strndup((char *)d.data, d.size);
	if (d.data)
		gnutls_memset(d.data, 0, d.size);
	gnutls_free(d.data);
	gnutls_x509_privkey_deinit(k);
	return pem;
}

static int enroll_import_key(const char *pem, gnutls_x509_privkey_t *k)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };

	if (gnutls_x509_privkey_init(k) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_import2(*k, &d, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
		gnutls_x509_privkey_deinit(*k);
		*k = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Takes cert (PEM) when it certifies e's key: its dates into e. */
static int enroll_take_cert(struct enroll *e, char *cert)
{
	gnutls_x509_privkey_t k = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = { (unsigned char *)cert, (unsigned)strlen(cert) };
	unsigned char a[64], b[64];
	size_t al = sizeof(a), bl = sizeof(b);
	int rc = enroll_import_key(e->key_pem, &k);

	if (rc == 0 && (gnutls_x509_crt_init(&crt) < 0 ||
			gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0 ||
			gnutls_x509_crt_get_key_id(crt, 0, a, &al) < 0 ||
			gnutls_x509_privkey_get_key_id(k, 0, b, &bl) < 0 ||
			al != bl || memcmp(a, b, al)))
		rc = -EINVAL;
	if (rc == 0) {
		e->not_before = gnutls_x509_crt_get_activation_time(crt);
		e->not_after = gnutls_x509_crt_get_expiration_time(crt);
		free(e->cert_pem);
		e->cert_pem = cert;
	}
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(k);
	return rc;
}

void enroll_free(struct enroll *e)
{
	if (!e)
		return;
	if (e->key_pem) {
		explicit_bzero(e->key_pem, strlen(e->key_pem));
		free(e->key_pem);
	}
	free(e->cert_pem);
	free(e->key_file);
	free(e->cert_file);
	free(e->dir);
	free(e->site);
	free(e);
}

struct enroll *enroll_new(const char *dir, const char *site, bool make)
{
	struct enroll *e = calloc(1, sizeof(*e));
	char *cert;
	int rc = -ENOMEM;

	if (!e || !(e->dir = strdup(dir)) || !(e->site = strdup(site)) ||
	    asprintf(&e->key_file, "%s/%s", dir, ENROLL_KEY) < 0 ||
	    asprintf(&e->cert_file, "%s/%s", dir, ENROLL_CERT) < 0)
		goto out;
	e->key_pem = enroll_read(dir, ENROLL_KEY);
	if (!e->key_pem && !make) {
		rc = -ENOENT;
		goto out;
	}
	if (!e->key_pem) {
		/* Made on the gateway; written 0600 before anything uses it. */
		if (!(e->key_pem = enroll_make_key()))
			goto out;
		if ((rc = state_write_text(dir, ENROLL_KEY, e->key_pem, "")) < 0) {
			log_err("site %s: cannot write %s/%s: %s", site, dir, ENROLL_KEY,
				strerror(-rc));
			goto out;
		}
		log_info("site %s: made a new IKE key (%s/%s)", site, dir, ENROLL_KEY);
	}
	cert = enroll_read(dir, ENROLL_CERT);
	if (cert && enroll_take_cert(e, cert) < 0) {
		log_warn("site %s: %s/%s is not a certificate of %s: enrolling anew", site, dir,
			 ENROLL_CERT, ENROLL_KEY);
		free(cert);
	}
	return e;
out:
	enroll_free(e);
	return NULL;
}

bool enroll_valid(const struct enroll *e)
{
	return e && e->cert_pem && time(NULL) < e->not_after;
}

time_t enroll_renew_at(const struct enroll *e)
{
	if (!e->cert_pem)
		return 0;
	return e->not_before + (e->not_after - e->not_before) * 2 / 3;
}

int enroll_csr(const struct enroll *e, char **pem)
{
	gnutls_x509_privkey_t k = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t d = { NULL, 0 };
	int rc = enroll_import_key(e->key_pem, &k);

	*pem = NULL;
	if (rc == 0 && (gnutls_x509_crq_init(&crq) < 0 ||
			gnutls_x509_crq_set_key(crq, k) < 0 ||
			gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, e->site,
						      strlen(e->site)) < 0 ||
			gnutls_x509_crq_sign2(crq, k, GNUTLS_DIG_SHA256, 0) < 0 ||
			gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &d) < 0))
		rc = -EINVAL;
	if (rc == 0 && !(*pem = strndup((char *)d.data, d.size)))
		rc = -ENOMEM;
	gnutls_free(d.data);
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(k);
	return rc;
}

/* One CSR round with the controller; the new certificate written beside the key. */
static int enroll_run(struct enroll *e, struct client *c, char *err, size_t errlen)
{
	json_t *ans = NULL;
	char *csr = NULL, *cert = NULL;
	int rc = enroll_csr(e, &csr);

	if (rc == 0)
		rc = client_post_csr(c, csr, &ans, err, errlen);
	if (rc == 0 && (!json_is_string(json_object_get(ans, "certificate")) ||
			!(cert = strdup(json_string_value(json_object_get(ans, "certificate")))))) {
		snprintf(err, errlen, "no certificate in the answer");
		rc = -EPROTO;
	}
	if (rc == 0 && (rc = enroll_take_cert(e, cert)) < 0)
		snprintf(err, errlen, "the certificate is not for this key");
	else if (rc == 0)
		cert = NULL;
	if (rc == 0 && (rc = state_write_text(e->dir, ENROLL_CERT, e->cert_pem, "")) < 0)
		snprintf(err, errlen, "cannot write %s: %s", ENROLL_CERT, strerror(-rc));
	free(cert);
	free(csr);
	json_decref(ans);
	return rc;
}

int enroll_tick(struct enroll *e, struct client *c, const struct intent *in, int64_t now_ms)
{
	char err[256] = "";
	int rc;

	if (!e || !c || !in || !in->ca || now_ms < e->retry_ms ||
	    (e->cert_pem && time(NULL) < enroll_renew_at(e)))
		return 0;
	rc = enroll_run(e, c, err, sizeof(err));
	if (rc < 0) {
		log_warn("site %s: enrollment with the controller's CA failed: %s; retrying in "
			 "%ds", e->site, err[0] ? err : strerror(-rc), ENROLL_RETRY_MS / 1000);
		e->retry_ms = now_ms + ENROLL_RETRY_MS;
		return rc;
	}
	e->retry_ms = 0;
	log_info("site %s: IKE certificate valid until %lld, renewal from %lld", e->site,
		 (long long)e->not_after, (long long)enroll_renew_at(e));
	return 1;
}
