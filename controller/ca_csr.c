/* A site's CSR: what the controller accepts, and the certificate it signs for it. The
 * controller, not the CSR, decides every name in the certificate; the CSR's own names
 * are only checked, so a gateway asking for another site's identity is refused
 * rather than quietly given its own. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <gnutls/crypto.h>

#include "ca.h"

/* Accepted key types: ECDSA on the NIST curves charon and GnuTLS both verify, Ed25519,
 * and RSA of at least 2048 bits (what an enterprise HSM may still insist on). */
static int ca_csr_key(gnutls_x509_crq_t crq, char *err, size_t errlen)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	unsigned bits = 0;
	int alg = gnutls_x509_crq_get_pk_algorithm(crq, &bits), ok = 0;

	if (alg == GNUTLS_PK_ECDSA && gnutls_pubkey_init(&pub) >= 0 &&
	    gnutls_pubkey_import_x509_crq(pub, crq, 0) >= 0)
		gnutls_pubkey_export_ecc_raw(pub, &curve, NULL, NULL);
	gnutls_pubkey_deinit(pub);
	if (alg == GNUTLS_PK_ECDSA)
		ok = curve == GNUTLS_ECC_CURVE_SECP256R1 || curve == GNUTLS_ECC_CURVE_SECP384R1 ||
		     curve == GNUTLS_ECC_CURVE_SECP521R1;
	else if (alg == GNUTLS_PK_EDDSA_ED25519)
		ok = 1;
	else if (alg == GNUTLS_PK_RSA)
		ok = bits >= 2048;
	if (ok)
		return 0;
	snprintf(err, errlen, "key type %s (%u bits) is not accepted: use ECDSA P-256/P-384/"
		 "P-521, Ed25519 or RSA of at least 2048 bits",
		 alg > 0 ? gnutls_pk_get_name((gnutls_pk_algorithm_t)alg) : "unknown", bits);
	return -EINVAL;
}

/* The subjectAltName entries the CSR asks for must each be one of the site's own
 * identities: its name as a dNSName, its underlay as an iPAddress. */
static int ca_csr_san_ok(int type, const unsigned char *v, size_t len,
			 const struct ca_site *site)
{
	unsigned char ip[16];
	int fam = strchr(site->underlay, ':') ? AF_INET6 : AF_INET;
	size_t iplen = fam == AF_INET6 ? 16 : 4;

	if (type == GNUTLS_SAN_DNSNAME)
		return len == strlen(site->name) && !memcmp(v, site->name, len);
	if (type == GNUTLS_SAN_IPADDRESS)
		return inet_pton(fam, site->underlay, ip) == 1 && len == iplen &&
		       !memcmp(v, ip, len);
	return 0;
}

static int ca_csr_names(gnutls_x509_crq_t crq, const struct ca_site *site, char *err,
			size_t errlen)
{
	char buf[256];
	size_t len = sizeof(buf);
	unsigned crit;
	int rc;

	rc = gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len);
	if (rc >= 0 && (len != strlen(site->name) || memcmp(buf, site->name, len))) {
		snprintf(err, errlen, "subject CN names another site: must be '%s' or absent",
			 site->name);
		return -EINVAL;
	}
	for (unsigned i = 0;; i++) {
		unsigned type;

		len = sizeof(buf);
		rc = gnutls_x509_crq_get_subject_alt_name(crq, i, buf, &len, &type, &crit);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			return 0;
		if (rc < 0 || !ca_csr_san_ok(rc, (unsigned char *)buf, len, site)) {
			snprintf(err, errlen, "subjectAltName[%u] is not an identity of site '%s' "
				 "(its name as a DNS name, its underlay as an IP address)",
				 i, site->name);
			return -EINVAL;
		}
	}
}

/* Parses and checks the CSR: size, PEM, self-signature (proof the gateway holds the
 * key), key type, names. */
static int ca_csr_read(const char *csr, size_t len, const struct ca_site *site,
		       gnutls_x509_crq_t crq, char *err, size_t errlen)
{
	gnutls_datum_t d = { (unsigned char *)csr, (unsigned)len };

	if (len > CA_CSR_MAX) {
		snprintf(err, errlen, "larger than %d bytes", CA_CSR_MAX);
		return -EINVAL;
	}
	if (gnutls_x509_crq_import(crq, &d, GNUTLS_X509_FMT_PEM) < 0) {
		snprintf(err, errlen, "not a PEM certificate request");
		return -EINVAL;
	}
	if (gnutls_x509_crq_verify(crq, 0) < 0) {
		snprintf(err, errlen, "its signature does not verify with its own key");
		return -EINVAL;
	}
	if (ca_csr_key(crq, err, errlen) < 0)
		return -EINVAL;
	return ca_csr_names(crq, site, err, errlen);
}

static int ca_crt_names(gnutls_x509_crt_t crt, const struct ca_site *site)
{
	unsigned char ip[16];
	int v6 = strchr(site->underlay, ':') != NULL;
	int rc;

	rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, "gresec", 6);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, site->name,
						   strlen(site->name));
	if (rc >= 0)
		rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, site->name,
							  strlen(site->name), GNUTLS_FSAN_SET);
	if (rc >= 0 && inet_pton(v6 ? AF_INET6 : AF_INET, site->underlay, ip) != 1)
		rc = GNUTLS_E_INVALID_REQUEST;
	if (rc >= 0)
		rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip,
							  v6 ? 16 : 4, GNUTLS_FSAN_APPEND);
	return ca_gnutls_errno(rc < 0 ? rc : 0);
}

/* Only the key is taken from the CSR (not its subject or extensions). */
static int ca_crt_key(gnutls_x509_crt_t crt, gnutls_x509_crq_t crq)
{
	gnutls_pubkey_t pub = NULL;
	int rc = gnutls_pubkey_init(&pub);

	if (rc >= 0)
		rc = gnutls_pubkey_import_x509_crq(pub, crq, 0);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_pubkey(crt, pub);
	gnutls_pubkey_deinit(pub);
	return rc;
}

/* An end-entity certificate for IKE and for the agent's TLS client: digitalSignature,
 * serverAuth + clientAuth + ipsecIKE (RFC 4945), with both key identifiers so charon
 * and GnuTLS chain it to the CA without guessing. */
static int ca_crt_fill(struct ca *ca, gnutls_x509_crt_t crt, gnutls_x509_crq_t crq,
		       const struct ca_site *site, unsigned char serial[16], time_t now)
{
	unsigned char kid[64];
	size_t kidlen = sizeof(kid);
	int rc;

	rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, 16);
	serial[0] = (serial[0] & 0x7f) | 0x40;
	if (rc >= 0) rc = gnutls_x509_crt_set_version(crt, 3);
	if (rc >= 0) rc = gnutls_x509_crt_set_serial(crt, serial, 16);
	if (rc >= 0) rc = ca_crt_key(crt, crq);
	/* Back-dated for clocks a little behind, by at most a tenth of the life: the
	 * agent renews at two thirds of notBefore..notAfter, which a back-dating as long
	 * as a short lifetime would put in the past. */
	if (rc >= 0) rc = gnutls_x509_crt_set_activation_time(crt, now - (ca->cert_seconds / 10 <
					300 ? ca->cert_seconds / 10 : 300));
	if (rc >= 0) rc = gnutls_x509_crt_set_expiration_time(crt, now + ca->cert_seconds);
	if (rc >= 0) rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
	if (rc >= 0) rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
	if (rc >= 0) rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
	if (rc >= 0) rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
	if (rc >= 0) rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_IPSEC_IKE, 0);
	if (rc >= 0) rc = gnutls_x509_crt_get_key_id(crt, 0, kid, &kidlen);
	if (rc >= 0) rc = gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
	kidlen = sizeof(kid);
	if (rc >= 0 && gnutls_x509_crt_get_subject_key_id(ca->crt, kid, &kidlen, NULL) >= 0)
		rc = gnutls_x509_crt_set_authority_key_id(crt, kid, kidlen);
	if (rc < 0)
		return ca_gnutls_errno(rc);
	return ca_crt_names(crt, site);
}

static int ca_crt_sign(struct ca *ca, gnutls_x509_crt_t crt, char **pem)
{
	gnutls_datum_t d = { NULL, 0 };
	int r;

	r = ca_gnutls_errno(gnutls_x509_crt_privkey_sign(crt, ca->crt, ca->key, ca_digest(ca), 0));
	if (r == 0)
		r = ca_gnutls_errno(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d));
	if (r == 0 && !(*pem = strndup((char *)d.data, d.size)))
		r = -ENOMEM;
	gnutls_free(d.data);
	return r;
}

int ca_sign_csr(struct ca *ca, const char *csr, size_t len, const struct ca_site *site,
		char **cert_pem, char serial[41], long long *not_after, char *err, size_t errlen)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_x509_crt_t crt = NULL;
	unsigned char s[16];
	time_t now = time(NULL);
	int r;

	*cert_pem = NULL;
	err[0] = 0;
	if (gnutls_x509_crq_init(&crq) < 0 || gnutls_x509_crt_init(&crt) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = ca_csr_read(csr, len, site, crq, err, errlen);
	if (r == 0)
		r = ca_crt_fill(ca, crt, crq, site, s, now);
	if (r == 0 && !err[0] && (r = ca_crt_sign(ca, crt, cert_pem)) == 0) {
		for (int i = 0; i < 16; i++)
			sprintf(serial + 2 * i, "%02x", s[i]);
		*not_after = (long long)now + ca->cert_seconds;
	}
	/* A failure after the CSR passed is the controller's, not the client's. */
	if (r == -EINVAL && !err[0])
		r = -EIO;
out:
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crq_deinit(crq);
	return r;
}
