/* The CA's routes: its certificate, enrollment (a site's CSR signed), a site's
 * certificates, and their revocation. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "audit.h"
#include "ca.h"
#include "pki.h"

/* Public material, but only for those who hold a token (agents included). */
/* Every controller started by main has a CA; a server embedded without one (a test)
 * answers these routes 404 instead of failing. */
static int api_pki_have_ca(struct api_req *r)
{
	if (r->api->ca)
		return 0;
	api_error(r, 404, NULL, NULL, "this controller has no CA");
	return -ENOENT;
}

void api_pki_ca(struct api_req *r)
{
	const char *crl = store_crl(r->api->store);

	if (api_pki_have_ca(r) < 0)
		return;
	api_reply(r, 200, json_pack("{s:s, s:s?}", "certificate", r->api->ca->pem, "crl", crl));
}

/* The site a certificate names (its first dNSName, which must also be its CN) and
 * its serial in hex. */
static int api_pki_cert_names(gnutls_x509_crt_t crt, char site[64], char serial[41])
{
	unsigned char s[20];
	char cn[64];
	size_t len = 63, sl = sizeof(s), cl = sizeof(cn);
	unsigned type = 0, crit;

	if (gnutls_x509_crt_get_subject_alt_name2(crt, 0, site, &len, &type, &crit) !=
	    GNUTLS_SAN_DNSNAME || gnutls_x509_crt_get_serial(crt, s, &sl) < 0 || sl > 20 ||
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cl) < 0)
		return -EACCES;
	site[len] = '\0';
	if (strlen(site) != len || strcmp(cn, site))
		return -EACCES;
	for (size_t i = 0; i < sl; i++)
		sprintf(serial + 2 * i, "%02x", s[i]);
	serial[2 * sl] = '\0';
	return 0;
}

/* A bearer token sent with a valid certificate is not needed; only an agent token of
 * another site is a contradiction worth refusing. */
static int api_pki_token_agrees(struct api_req *r, const char *site)
{
	const char *h = http_header(r->http, "Authorization");
	struct auth_principal tok;

	if (!h || strncasecmp(h, "Bearer ", 7) || auth_lookup(store_db(r->api->store), h + 7,
							     &tok) < 0 ||
	    tok.role != AUTH_AGENT || !strcmp(tok.site, site))
		return 0;
	api_error(r, 401, NULL, NULL, "the client certificate and the token are of different "
		  "sites");
	return -EACCES;
}

int api_pki_authenticate(struct api_req *r)
{
	struct auth_principal *p = &r->who;
	gnutls_x509_crt_t crt = NULL;
	char site[64] = "", serial[41] = "";
	int rc = http_peer_cert(r->http, &crt);

	if (rc == -ENOENT)
		return rc;
	if (rc == 0)
		rc = api_pki_cert_names(crt, site, serial);
	/* Issued by this controller, for this site, neither revoked nor expired. */
	if (rc == 0)
		rc = pki_cert_valid(store_db(r->api->store), serial, site);
	gnutls_x509_crt_deinit(crt);
	if (rc == -EACCES) {
		api_error(r, 401, NULL, NULL, "client certificate refused (not issued by this "
			  "controller, expired or revoked)");
		return rc;
	}
	if (rc < 0) {
		api_fail(r, rc, "checking the client certificate");
		return rc;
	}
	if ((rc = api_pki_token_agrees(r, site)) < 0)
		return rc;
	memset(p, 0, sizeof(*p));
	p->role = AUTH_AGENT;
	snprintf(p->site, sizeof(p->site), "%s", site);
	snprintf(p->name, sizeof(p->name), "cert:%.40s", serial);
	snprintf(r->actor, sizeof(r->actor), "%s", p->name);
	return 0;
}

static void api_pki_refused(struct api_req *r, const char *path, const char *why)
{
	api_error(r, 422, NULL, json_pack("[{s:s, s:s}]", "path", path, "message", why),
		  "certificate request refused: %s", why);
}

/* The CSR from {"csr": "PEM"}: -EINVAL with a 4xx set when it is not there. */
static int api_pki_csr_text(struct api_req *r, const json_t *in, const char **csr)
{
	const json_t *v = json_object_get(in, "csr");
	const char *k;
	json_t *x;

	json_object_foreach((json_t *)in, k, x)
		if (strcmp(k, "csr")) {
			api_pki_refused(r, k, "unknown field");
			return -EINVAL;
		}
	if (!json_is_string(v)) {
		api_pki_refused(r, "csr", "required: a PEM certificate request");
		return -EINVAL;
	}
	*csr = json_string_value(v);
	return 0;
}

static int api_pki_audit(struct api_req *r, const char *action, json_t *rec)
{
	int rc = rec ? audit_record(store_db(r->api->store), r->actor, action, NULL, "site",
				    r->param, NULL, rec) : -ENOMEM;

	json_decref(rec);
	return rc;
}

/* Nothing is stored for a refused CSR; the certificate and its row for a signed one. */
void api_pki_csr(struct api_req *r)
{
	struct db *db = store_db(r->api->store);
	json_t *in = NULL, *site = NULL, *info = NULL;
	const char *csr = NULL;
	char *pem = NULL, err[512];
	int rc;

	if (api_pki_have_ca(r) < 0 || api_agent_allowed(r) < 0 || api_body(r, false, &in) < 0 ||
	    api_pki_csr_text(r, in, &csr) < 0)
		goto out;
	rc = store_get(r->api->store, &kind_site, r->param, &site, NULL);
	if (rc == -ENOENT) {
		api_error(r, 404, NULL, NULL, "site '%s' does not exist", r->param);
		goto out;
	}
	/* The row and its audit record commit together (one fsync, not two). */
	if (rc == 0)
		rc = db_begin(db);
	if (rc == 0)
		rc = pki_issue(db, r->api->ca, site, csr,
			       json_string_length(json_object_get(in, "csr")), &pem, &info, err,
			       sizeof(err));
	if (rc == 0)
		rc = api_pki_audit(r, "cert-issue", json_deep_copy(info));
	if (rc == 0)
		rc = db_commit(db);
	db_rollback(db);
	if (rc == -EINVAL) {
		api_pki_refused(r, "csr", err);
		goto out;
	}
	if (rc < 0) {
		api_fail(r, rc, "signing the certificate");
		goto out;
	}
	json_object_set_new(info, "certificate", json_string(pem));
	json_object_set_new(info, "ca", json_string(r->api->ca->pem));
	api_reply(r, 201, info);
	info = NULL;
out:
	free(pem);
	json_decref(info);
	json_decref(site);
	json_decref(in);
}

void api_pki_list(struct api_req *r)
{
	json_t *site = NULL, *items = NULL;
	int rc = store_get(r->api->store, &kind_site, r->param, &site, NULL);

	json_decref(site);
	if (rc == 0)
		rc = pki_list(store_db(r->api->store), r->param, &items);
	if (rc == -ENOENT)
		api_error(r, 404, NULL, NULL, "site '%s' does not exist", r->param);
	else if (rc < 0)
		api_fail(r, rc, "listing certificates");
	else
		api_reply(r, 200, json_pack("{s:o}", "items", items));
}

/* Revokes the site's certificates and agent tokens (a compromised gateway must not
 * simply enroll again), re-signs the CRL and recompiles every intent in one
 * transaction: the new CRL reaches every agent with the next fan-out. */
void api_pki_revoke(struct api_req *r)
{
	struct store *s = r->api->store;
	struct verr *errs = verr_new();
	json_t *site = NULL;
	int n = 0, rc = errs ? store_get(s, &kind_site, r->param, &site, NULL) : -ENOMEM;

	json_decref(site);
	if (rc == -ENOENT) {
		api_error(r, 404, NULL, NULL, "site '%s' does not exist", r->param);
		goto out;
	}
	if (rc == 0)
		rc = store_begin(s);
	if (rc == 0)
		rc = store_revoke_credentials(s, r->param, r->actor, &n);
	if (rc == 0)
		rc = api_pki_audit(r, "cert-revoke", json_pack("{s:i}", "revoked", n));
	if (rc == 0)
		rc = store_finish(s, errs, NULL, NULL, false);
	else
		store_rollback(s);
	if (rc < 0)
		api_fail(r, rc, "revoking certificates");
	else
		api_reply(r, 200, json_pack("{s:s, s:i}", "site", r->param, "revoked", n));
out:
	verr_free(errs);
}
