/* The controller's certificate authority: created at first start (ECDSA P-256) or an
 * enterprise CA / intermediate given by the operator; signs the sites' IKE certificates
 * from their CSRs (ca_csr.c). */
#ifndef GRESEC_CA_H
#define GRESEC_CA_H

#include <stddef.h>
#include <gnutls/x509.h>
#include <gnutls/abstract.h>

/* Days a site certificate is valid; the agent renews it at two thirds of that. */
#define CA_CERT_DAYS_DEFAULT 30
/* Largest CSR accepted (PEM text): an RSA-4096 CSR with a few names is ~2 KiB. */
#define CA_CSR_MAX 8192

struct ca {
	gnutls_x509_crt_t crt;
	gnutls_privkey_t key;
	char *pem;			/* the CA certificate, PEM */
	unsigned cert_seconds;		/* validity of the certificates it signs */
};

/* Loads cert_path/key_path; when both are absent and create is set, makes a new CA
 * there (the key written with mode 0600 first). 0 or -errno, a reason in err. */
int ca_open(const char *cert_path, const char *key_path, int create, struct ca **out,
	    char *err, size_t errlen);
void ca_free(struct ca *ca);

/* What a site's certificate must say: its name (CN and the dNSName the IKE identity
 * pins) and its underlay address (an iPAddress). */
struct ca_site {
	const char *name;
	const char *underlay;
};

/* Checks the CSR (PEM) for the site and signs it. 0 with *cert_pem (malloc'd), its
 * serial (hex) and expiry (unix seconds); -EINVAL with the reason in err when the CSR
 * is refused; other -errno for the controller's own failures. */
int ca_sign_csr(struct ca *ca, const char *csr, size_t len, const struct ca_site *site,
		char **cert_pem, char serial[41], long long *not_after, char *err, size_t errlen);

/* A CRL (PEM, malloc'd) listing the given serials (hex), valid for next_update_s. */
int ca_crl(struct ca *ca, const char *const *serials, const long long *revoked_at, size_t n,
	   unsigned next_update_s, char **pem);

gnutls_digest_algorithm_t ca_digest(const struct ca *ca);
/* Same helper for callers that report GnuTLS errors as -errno. */
int ca_gnutls_errno(int gnutls_rc);

#endif
