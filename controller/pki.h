/* The site certificates the CA has signed: issue (record), revoke, list, and the CRL
 * built from the revoked ones. Rows in table cert (schema/0004_certs.sql). */
#ifndef GRESEC_PKI_H
#define GRESEC_PKI_H

#include <jansson.h>
#include "ca.h"
#include "db.h"

/* Signs csr for site (its canonical body) and records the certificate. 0 with
 * *cert_pem and *info ({"serial","not_after"}); -EINVAL with the reason in err for a
 * refused CSR (nothing stored); other -errno for the controller's failures. */
int pki_issue(struct db *db, struct ca *ca, const json_t *site, const char *csr, size_t len,
	      char **cert_pem, json_t **info, char *err, size_t errlen);
/* Revokes every unexpired certificate of site; *n how many. */
int pki_revoke_site(struct db *db, const char *site, int *n);
/* The CRL of every revoked certificate not yet expired; *pem NULL when there is none. */
int pki_crl(struct db *db, struct ca *ca, char **pem);
/* The certificates of a site, newest first: [{"serial","issued_at","not_after",
 * "revoked_at"}]. */
int pki_list(struct db *db, const char *site, json_t **out);
/* 0 when serial is a certificate of site that is neither revoked nor expired;
 * -EACCES otherwise. */
int pki_cert_valid(struct db *db, const char *serial, const char *site);

#endif
