#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gnutls/crypto.h>

#include "auth.h"
#include "privfile.h"
#include "log.h"

#define AUTH_SECRET_BYTES 32

static const char *const auth_roles[] = {
	[AUTH_AGENT] = "agent", [AUTH_VIEWER] = "viewer",
	[AUTH_OPERATOR] = "operator", [AUTH_ADMIN] = "admin",
};

const char *auth_role_name(enum auth_role role)
{
	return role > AUTH_NONE && role <= AUTH_ADMIN ? auth_roles[role] : "none";
}

enum auth_role auth_role_parse(const char *name)
{
	for (int i = AUTH_AGENT; name && i <= AUTH_ADMIN; i++)
		if (strcmp(name, auth_roles[i]) == 0)
			return (enum auth_role)i;
	return AUTH_NONE;
}

static void auth_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void auth_hash(const char *secret, char out[65])
{
	unsigned char d[32];

	gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, strlen(secret), d);
	auth_hex(d, sizeof(d), out);
}

/* Every request presents a token: the last few answers are kept, keyed by the hash,
 * and forgotten whenever any token is issued or revoked. */
#define AUTH_CACHE 64

static struct {
	char hash[65];
	struct auth_principal p;
} auth_cache[AUTH_CACHE];
static unsigned auth_cache_next;

static void auth_cache_clear(void)
{
	memset(auth_cache, 0, sizeof(auth_cache));
}

static const struct auth_principal *auth_cache_find(const char *hash)
{
	for (int i = 0; i < AUTH_CACHE; i++)
		if (auth_cache[i].hash[0] && strcmp(auth_cache[i].hash, hash) == 0)
			return &auth_cache[i].p;
	return NULL;
}

static void auth_cache_put(const char *hash, const struct auth_principal *p)
{
	unsigned i = auth_cache_next++ % AUTH_CACHE;

	memcpy(auth_cache[i].hash, hash, sizeof(auth_cache[i].hash));
	auth_cache[i].p = *p;
}

int auth_lookup(struct db *db, const char *secret, struct auth_principal *p)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, name, role, site FROM token "
				   "WHERE hash = ? AND revoked_at IS NULL");
	const struct auth_principal *hit;
	char hash[65];
	int rc, r = -EACCES;

	if (!st)
		return -EIO;
	auth_hash(secret, hash);
	if ((hit = auth_cache_find(hash))) {
		*p = *hit;
		return 0;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *site = sqlite3_column_text(st, 3);

		p->id = sqlite3_column_int64(st, 0);
		snprintf(p->name, sizeof(p->name), "%s", sqlite3_column_text(st, 1));
		p->role = auth_role_parse((const char *)sqlite3_column_text(st, 2));
		snprintf(p->site, sizeof(p->site), "%s", site ? (const char *)site : "");
		r = p->role == AUTH_NONE ? -EACCES : 0;
		if (r == 0)
			auth_cache_put(hash, p);
	} else if (rc != SQLITE_DONE) {
		r = db_errno(rc);
	}
	sqlite3_reset(st);
	return r;
}

int auth_issue(struct db *db, const char *name, enum auth_role role, const char *site,
	       char **secret, long long *id)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO token (name, role, site, hash) VALUES (?, ?, ?, ?)");
	unsigned char raw[AUTH_SECRET_BYTES];
	char *s = NULL, hash[65];
	int rc, r;

	if (!st)
		return -EIO;
	s = malloc(4 + 2 * AUTH_SECRET_BYTES + 1);
	if (!s)
		return -ENOMEM;
	if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) < 0) {
		r = -EIO;
		goto out;
	}
	/* The prefix lets secret scanners recognise a leaked gresec token. */
	memcpy(s, "gst_", 4);
	auth_hex(raw, sizeof(raw), s + 4);
	auth_hash(s, hash);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, auth_role_name(role), -1, SQLITE_STATIC);
	if (site)
		sqlite3_bind_text(st, 3, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	r = db_errno(rc);
	auth_cache_clear();
	if (r == 0)
		*id = sqlite3_last_insert_rowid(db_handle(db));
out:
	gnutls_memset(raw, 0, sizeof(raw));
	if (r < 0) {
		free(s);
		return r;
	}
	*secret = s;
	return 0;
}

int auth_revoke(struct db *db, long long id)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE token SET revoked_at = "
				   "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
				   "WHERE id = ? AND revoked_at IS NULL");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	/* Before the commit: a rolled-back revoke only costs a cache refill. */
	auth_cache_clear();
	if (rc != SQLITE_DONE)
		return db_errno(rc);
	return sqlite3_changes(db_handle(db)) ? 0 : -ENOENT;
}

int auth_revoke_site(struct db *db, const char *site, json_t **ids)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE token SET revoked_at = "
				   "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
				   "WHERE role = 'agent' AND site = ? AND revoked_at IS NULL "
				   "RETURNING id");
	json_t *list = json_array();
	int rc, r = 0;

	if (!st || !list) {
		json_decref(list);
		return st ? -ENOMEM : -EIO;
	}
	sqlite3_bind_text(st, 1, site, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (json_array_append_new(list, json_integer(sqlite3_column_int64(st, 0))) < 0)
			r = -ENOMEM;
	sqlite3_reset(st);
	/* Before the commit, as in auth_revoke: the cache must not outlive the rows. */
	auth_cache_clear();
	if (r == 0)
		r = db_errno(rc);
	if (r < 0) {
		json_decref(list);
		return r;
	}
	*ids = list;
	return 0;
}

static json_t *auth_row(sqlite3_stmt *st, void *ctx)
{
	const char *site = (const char *)sqlite3_column_text(st, 3);
	const char *rev = (const char *)sqlite3_column_text(st, 5);

	(void)ctx;
	return json_pack("{s:I, s:s, s:s, s:o, s:s, s:o}",
			 "id", (json_int_t)sqlite3_column_int64(st, 0),
			 "name", sqlite3_column_text(st, 1), "role", sqlite3_column_text(st, 2),
			 "site", site ? json_string(site) : json_null(),
			 "created_at", sqlite3_column_text(st, 4),
			 "revoked_at", rev ? json_string(rev) : json_null());
}

int auth_list(struct db *db, long long after, unsigned limit, json_t **out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, name, role, site, created_at, revoked_at "
				   "FROM token WHERE id > ? ORDER BY id LIMIT ?");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, (int)limit);
	return db_page(st, limit, auth_row, NULL, out);
}

/* The secret, on a line of its own, through privfile_write (0600). */
static int auth_write_file(const char *path, const char *secret)
{
	char *line = NULL;
	int n = asprintf(&line, "%s\n", secret), r;

	if (n < 0)
		return -ENOMEM;
	r = privfile_write(path, line, (size_t)n, 0600);
	explicit_bzero(line, (size_t)n);
	free(line);
	return r;
}

int auth_bootstrap(struct db *db, const char *path)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT count(*) FROM token "
				   "WHERE role = 'admin' AND revoked_at IS NULL");
	char *secret = NULL;
	long long id, n = 0;
	int r;

	if (!st)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (n > 0)
		return 0;
	r = db_begin(db);
	if (r == 0)
		r = auth_issue(db, "bootstrap-admin", AUTH_ADMIN, NULL, &secret, &id);
	/* The file first: a token nobody can read must not be committed. */
	if (r == 0)
		r = auth_write_file(path, secret);
	if (r == 0)
		r = db_commit(db);
	if (r < 0) {
		db_rollback(db);
		log_err("cannot create the first admin token in %s: %s", path, strerror(-r));
	} else {
		log_info("created the first admin token (id %lld); it is in %s", id, path);
	}
	if (secret)
		gnutls_memset(secret, 0, strlen(secret));
	free(secret);
	return r;
}
