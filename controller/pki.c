/* The site certificates the CA has signed: what revocation and mTLS need to know. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pki.h"

static int pki_record(struct db *db, const char *serial, const char *site, long long not_after)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO cert (serial, site, not_after, issued_at) "
				   "VALUES (?, ?, ?, ?)");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, site, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, not_after);
	sqlite3_bind_int64(st, 4, (long long)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int pki_issue(struct db *db, struct ca *ca, const json_t *site, const char *csr, size_t len,
	      char **cert_pem, json_t **info, char *err, size_t errlen)
{
	struct ca_site cs = {
		.name = json_string_value(json_object_get(site, "name")),
		.underlay = json_string_value(json_object_get(site, "underlay")),
	};
	char serial[41];
	long long not_after = 0;
	int r;

	*cert_pem = NULL;
	*info = NULL;
	if (!cs.name || !cs.underlay)
		return -EIO;
	r = ca_sign_csr(ca, csr, len, &cs, cert_pem, serial, &not_after, err, errlen);
	if (r == 0)
		r = pki_record(db, serial, cs.name, not_after);
	if (r == 0 && !(*info = json_pack("{s:s, s:I}", "serial", serial, "not_after",
					  (json_int_t)not_after)))
		r = -ENOMEM;
	if (r < 0) {
		free(*cert_pem);
		*cert_pem = NULL;
	}
	return r;
}

int pki_revoke_site(struct db *db, const char *site, int *n)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE cert SET revoked_at = ?1 WHERE site = ?2 "
				   "AND revoked_at IS NULL AND not_after > ?1");
	int rc;

	*n = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (long long)time(NULL));
	sqlite3_bind_text(st, 2, site, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		*n = sqlite3_changes(db_handle(db));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* The revoked, unexpired serials (an expired certificate fails on its own dates). */
static int pki_revoked(struct db *db, char ***serials, long long **at, size_t *n)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT serial, revoked_at FROM cert WHERE revoked_at "
				   "IS NOT NULL AND not_after > ? ORDER BY serial");
	size_t cap = 0;
	int rc, r = 0;

	*serials = NULL;
	*at = NULL;
	*n = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (long long)time(NULL));
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			char **s2 = realloc(*serials, (cap = cap ? 2 * cap : 16) * sizeof(char *));
			long long *a2 = s2 ? realloc(*at, cap * sizeof(long long)) : NULL;

			if (s2)
				*serials = s2;
			if (a2)
				*at = a2;
			if (!s2 || !a2) {
				r = -ENOMEM;
				break;
			}
		}
		(*at)[*n] = sqlite3_column_int64(st, 1);
		if (!((*serials)[(*n)++] = strdup((const char *)sqlite3_column_text(st, 0))))
			r = -ENOMEM;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_errno(rc);
	sqlite3_reset(st);
	return r;
}

int pki_crl(struct db *db, struct ca *ca, char **pem)
{
	char **serials = NULL;
	long long *at = NULL;
	size_t n = 0;
	int r;

	*pem = NULL;
	r = pki_revoked(db, &serials, &at, &n);
	/* Valid for twice a certificate's life: a CRL is re-signed whenever it changes
	 * and at every start, and a listed certificate is expired before it goes stale. */
	if (r == 0 && n)
		r = ca_crl(ca, (const char *const *)serials, at, n, 2 * ca->cert_seconds, pem);
	for (size_t i = 0; i < n; i++)
		free(serials[i]);
	free(serials);
	free(at);
	return r;
}

static json_t *pki_row(sqlite3_stmt *st)
{
	return json_pack("{s:s, s:I, s:I, s:o}", "serial", sqlite3_column_text(st, 0),
			 "issued_at", (json_int_t)sqlite3_column_int64(st, 1),
			 "not_after", (json_int_t)sqlite3_column_int64(st, 2),
			 "revoked_at", sqlite3_column_type(st, 3) == SQLITE_NULL ? json_null()
				: json_integer(sqlite3_column_int64(st, 3)));
}

int pki_list(struct db *db, const char *site, json_t **out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT serial, issued_at, not_after, revoked_at FROM "
				   "cert WHERE site = ? ORDER BY issued_at DESC, serial");
	json_t *list = json_array();
	int rc, r = 0;

	*out = NULL;
	if (!st || !list) {
		json_decref(list);
		return st ? -ENOMEM : -EIO;
	}
	sqlite3_bind_text(st, 1, site, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (json_array_append_new(list, pki_row(st)) < 0)
			r = -ENOMEM;
	sqlite3_reset(st);
	if (r == 0 && rc != SQLITE_DONE)
		r = db_errno(rc);
	if (r < 0)
		json_decref(list);
	else
		*out = list;
	return r;
}

int pki_cert_valid(struct db *db, const char *serial, const char *site)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT 1 FROM cert WHERE serial = ? AND site = ? AND "
				   "revoked_at IS NULL AND not_after > ?");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, serial, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, site, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (long long)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -EACCES : db_errno(rc);
}
