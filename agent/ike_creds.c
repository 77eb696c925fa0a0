/* charon's credentials for certificate tunnels: the intent's CA (trust anchor), its
 * CRL, and the site's key and certificate (enroll.c), loaded over VICI (load-cert,
 * load-key) whenever any of them changed, on every site whose intent has a CA. Established SAs keep running: credentials
 * are only read when an IKE_SA authenticates. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "ike.h"
#include "log.h"
#include "vici.h"

static void ike_creds_digest(const char *a, const char *b, const char *c, unsigned char d[32])
{
	gnutls_hash_hd_t h;
	const char *v[] = { a, b, c };

	memset(d, 0, 32);
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
		return;
	for (int i = 0; i < 3; i++)
		gnutls_hash(h, v[i] ? v[i] : "", v[i] ? strlen(v[i]) + 1 : 0);
	gnutls_hash_deinit(h, d);
}

/* load-cert (type X509 with flag CA or NONE, or X509_CRL) or load-key. */
static int ike_creds_load(struct ike *ike, const char *cmd, const char *type,
			  const char *flag, const char *pem, char *err, size_t errlen)
{
	struct vici_msg *m = vici_msg_new();
	int rc;

	if (!m)
		return -ENOMEM;
	vici_msg_kv(m, "type", type);
	if (flag)
		vici_msg_kv(m, "flag", flag);
	vici_msg_kvb(m, "data", pem, strlen(pem));
	rc = vici_msg_finish(m) ? -ENOMEM : vici_call_check(ike->vc, cmd, m, err, errlen);
	/* The message may hold the private key. */
	explicit_bzero(m->buf, m->len);
	vici_msg_free(m);
	return rc;
}

/* clear first when what charon holds from us changed (a renewal, a new CA): it drops
 * the old certificate, which charon would otherwise keep offering if it found it
 * first, and the shared keys, which the plan that follows in the same pass loads
 * again. A first load (agent start, new charon) adds only: charon keeps one copy of
 * an identical credential. */
static int ike_creds_full(struct ike *ike, const struct intent *in, bool clear, char *err,
			  size_t errlen)
{
	int rc = clear ? vici_call_check(ike->vc, "clear-creds", NULL, err, errlen) : 0;

	if (!rc)
		rc = ike_creds_load(ike, "load-cert", "X509", "CA", in->ca, err, errlen);
	if (!rc && ike->key_pem)
		rc = ike_creds_load(ike, "load-key", "any", NULL, ike->key_pem, err, errlen);
	if (!rc && ike->cert_pem)
		rc = ike_creds_load(ike, "load-cert", "X509", "NONE", ike->cert_pem, err, errlen);
	return rc;
}

int ike_creds_sync(struct ike *ike, const struct intent *in)
{
	unsigned char base[32], crl[32];
	char err[256] = "";
	int rc = 0;

	/* Every site's charon gets them (not only those with certificate tunnels now):
	 * the CRL reaches all, and a switch to x509 needs nothing loaded first. */
	if (!in || !in->ca)
		return 0;
	ike_creds_digest(in->ca, ike->cert_pem, ike->key_pem, base);
	ike_creds_digest(in->crl, NULL, NULL, crl);
	if (!ike->creds_ok || memcmp(base, ike->creds_base, 32)) {
		bool clear = ike->creds_ok;

		ike->creds_ok = false;
		if ((rc = ike_creds_full(ike, in, clear, err, sizeof(err))) < 0)
			goto out;
		memset(ike->creds_crl, 0, 32);
		memcpy(ike->creds_base, base, 32);
		ike->creds_ok = true;
		log_info("site %s: charon has the CA%s", in->site, ike->cert_pem ?
			 " and this site's key and certificate" : " (no certificate of this "
			 "site yet: certificate tunnels cannot authenticate)");
	}
	/* A newer CRL replaces the older one of the same CA in charon's set. */
	if (in->crl && memcmp(crl, ike->creds_crl, 32)) {
		if ((rc = ike_creds_load(ike, "load-cert", "X509_CRL", NULL, in->crl, err,
					 sizeof(err))) < 0)
			goto out;
		memcpy(ike->creds_crl, crl, 32);
		log_info("site %s: charon has the current CRL", in->site);
	}
out:
	if (rc < 0)
		log_warn("site %s: loading credentials into charon: %s", in->site,
			 err[0] ? err : strerror(-rc));
	return rc;
}

void ike_set_creds(struct ike *ike, const char *key_pem, const char *cert_pem)
{
	ike->key_pem = key_pem;
	ike->cert_pem = cert_pem;
}
