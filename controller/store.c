#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "store.h"
#include "audit.h"
#include "auth.h"
#include "compile.h"
#include "overlay_map.h"
#include "site_index.h"
#include "pki.h"
#include "revision.h"
#include "tunnel.h"

struct store {
	struct db *db;
	struct addr_prefix pool;
	struct compile_ctx *compiled;
	json_t *changes;	/* this transaction's writes: [{"kind","name","old","new"}] */
	store_notify_fn notify;
	void *notify_ctx;
	store_prefetch_fn_t prefetch;
	void *prefetch_ctx;
	struct ca *ca;
	char *crl;
	bool crl_changed;	/* since the last refresh: every intent changes */
	bool full;		/* store_set_incremental(false): every write from scratch */
	struct overlay_map *overlays;
	json_t *tunnels_changed;	/* store_tunnels_changed */
	struct site_index *addresses;	/* the committed sites' (NULL: not built) */
};

const json_t *store_tunnels_changed(const struct store *s)
{
	return s->tunnels_changed;
}

void store_set_tunnels_changed(struct store *s, json_t *ids)
{
	json_decref(s->tunnels_changed);
	s->tunnels_changed = ids;
}

struct overlay_map *store_overlays(struct store *s)
{
	return s->overlays;
}

void store_set_overlays(struct store *s, struct overlay_map *m)
{
	if (s->overlays != m)
		overlay_map_free(s->overlays);
	s->overlays = m;
}

void store_set_incremental(struct store *s, bool on)
{
	s->full = !on;
}

bool store_incremental(const struct store *s)
{
	return !s->full;
}

void store_set_ca(struct store *s, struct ca *ca)
{
	s->ca = ca;
}

struct ca *store_ca(const struct store *s)
{
	return s->ca;
}

const char *store_crl(const struct store *s)
{
	return s->crl;
}

int store_set_crl(struct store *s, char *crl)
{
	if (!s->crl != !crl || (crl && strcmp(crl, s->crl)))
		s->crl_changed = true;
	free(s->crl);
	s->crl = crl;
	return 0;
}

/* The CRL is re-signed from the rows each time they change, inside the transaction;
 * store_rollback re-signs it from the rows as they are again. */
int store_revoke_certs(struct store *s, const char *site, int *n)
{
	char *crl = NULL;
	int r;

	r = pki_revoke_site(s->db, site, n);
	if (r == 0 && *n && s->ca && (r = pki_crl(s->db, s->ca, &crl)) == 0)
		store_set_crl(s, crl);
	return r;
}

void store_set_prefetch(struct store *s, store_prefetch_fn_t fn, void *ctx)
{
	s->prefetch = fn;
	s->prefetch_ctx = ctx;
}

store_prefetch_fn_t store_prefetch_fn(const struct store *s)
{
	return s->prefetch;
}

void *store_prefetch_ctx(const struct store *s)
{
	return s->prefetch_ctx;
}

void store_set_notify(struct store *s, store_notify_fn fn, void *ctx)
{
	s->notify = fn;
	s->notify_ctx = ctx;
}

struct compile_ctx *store_compiled(struct store *s)
{
	return s->compiled;
}

void store_set_compiled(struct store *s, struct compile_ctx *c)
{
	if (s->compiled != c)
		compile_ctx_free(s->compiled);
	s->compiled = c;
}

void store_set_overlay_pool(struct store *s, const struct addr_prefix *pool)
{
	s->pool = *pool;
}

const struct addr_prefix *store_overlay_pool(const struct store *s)
{
	return &s->pool;
}

int store_open(const char *path, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	addr_prefix_parse("100.64.0.0/10", &s->pool);
	s->changes = json_array();
	r = s->changes ? db_open(path, &s->db) : -ENOMEM;
	if (r < 0) {
		json_decref(s->changes);
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	compile_ctx_free(s->compiled);
	overlay_map_free(s->overlays);
	site_index_free(s->addresses);
	json_decref(s->tunnels_changed);
	free(s->crl);
	json_decref(s->changes);
	db_free(s->db);
	free(s);
}

struct db *store_db(struct store *s)
{
	return s->db;
}

int store_begin(struct store *s)
{
	json_array_clear(s->changes);
	/* Left mid-write by a transaction that did not end through the store. */
	if (s->overlays && overlay_map_pending(s->overlays))
		store_set_overlays(s, NULL);
	return db_begin(s->db);
}

/* The committed sites' address index follows the write log; without one, it goes. */
static void store_commit_addresses(struct store *s)
{
	size_t i;
	json_t *c;
	int r = s->changes ? 0 : -EINVAL;

	json_array_foreach(s->changes, i, c)
		if (r == 0 && s->addresses &&
		    !strcmp(json_string_value(json_object_get(c, "kind")), "site"))
			r = site_index_put(s->addresses, json_string_value(json_object_get(c, "name")),
					   json_object_get(c, "new"));
	if (r < 0) {
		site_index_free(s->addresses);
		s->addresses = NULL;
	}
}

int store_commit(struct store *s)
{
	int r = db_commit(s->db);

	if (r == 0 && s->overlays)
		overlay_map_commit(s->overlays);
	else
		store_set_overlays(s, NULL);
	if (r == 0)
		store_commit_addresses(s);
	json_array_clear(s->changes);
	return r;
}

/* After a rollback: the CRL of the rows as they are again. */
static void store_crl_resign(struct store *s)
{
	char *crl = NULL;

	if (s->crl_changed && s->ca && pki_crl(s->db, s->ca, &crl) == 0)
		store_set_crl(s, crl);
}

int store_rollback(struct store *s)
{
	int r;

	json_array_clear(s->changes);
	/* It may hold blocks the rolled-back write took. (Handlers also roll back after a
	 * commit, to be sure: then there is nothing to undo and the map stays.) */
	if (!sqlite3_get_autocommit(db_handle(s->db)))
		store_set_overlays(s, NULL);
	r = db_rollback(s->db);
	store_crl_resign(s);
	return r;
}

static void store_note(struct store *s, const struct kind_ops *k, const char *name,
		       const json_t *old, const json_t *new)
{
	json_array_append_new(s->changes, json_pack("{s:s, s:s, s:O*, s:O*}", "kind", k->name,
						    "name", name, "old", old, "new", new));
}

static char *store_dump(const json_t *body)
{
	return json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
}

/* A strong validator that is the same for the same body on every controller, so a
 * client's If-Match survives restarts and equal rewrites. */
static void store_etag(const char *text, char etag[STORE_ETAG_LEN])
{
	unsigned char d[32];

	gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), d);
	snprintf(etag, STORE_ETAG_LEN, "\"%02x%02x%02x%02x%02x%02x%02x%02x\"",
		 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]);
}

static json_t *store_column_json(sqlite3_stmt *st, int col)
{
	const char *text = (const char *)sqlite3_column_text(st, col);

	return text ? json_loads(text, 0, NULL) : NULL;
}

int store_get_text(struct store *s, const struct kind_ops *k, const char *name, char **text,
		   char etag[STORE_ETAG_LEN])
{
	sqlite3_stmt *st = db_stmt(s->db, "SELECT body, etag FROM object WHERE kind = ? AND name = ?");
	int rc, r = 0;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*text = strdup((const char *)sqlite3_column_text(st, 0));
		snprintf(etag, STORE_ETAG_LEN, "%s", (const char *)sqlite3_column_text(st, 1));
		r = *text ? 0 : -ENOMEM;
	} else {
		r = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
	}
	sqlite3_reset(st);
	return r;
}

int store_get(struct store *s, const struct kind_ops *k, const char *name, json_t **body,
	      char etag[STORE_ETAG_LEN])
{
	char tag[STORE_ETAG_LEN], *text = NULL;
	int r = store_get_text(s, k, name, &text, etag ? etag : tag);

	if (r == 0 && !(*body = json_loads(text, 0, NULL)))
		r = -ENOMEM;
	free(text);
	return r;
}

/* Runs st (bound by the caller) and appends column 0 of each row to a new array, as
 * parsed JSON when as_json, as a string otherwise. */
static int store_collect(sqlite3_stmt *st, int as_json, json_t **out)
{
	json_t *arr = json_array();
	int rc, r = 0;

	if (!arr) {
		r = -ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *v = as_json ? store_column_json(st, 0)
				    : json_string((const char *)sqlite3_column_text(st, 0));

		if (!v || json_array_append_new(arr, v) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		r = db_errno(rc);
out:
	sqlite3_reset(st);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*out = arr;
	return 0;
}

int store_list(struct store *s, const struct kind_ops *k, const char *after, unsigned limit,
	       json_t **items)
{
	sqlite3_stmt *st = db_stmt(s->db, "SELECT body FROM object WHERE kind = ? AND name > ? "
				   "ORDER BY name LIMIT ?");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, after ? after : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, (int)limit);
	return store_collect(st, 1, items);
}

int store_names(struct store *s, const struct kind_ops *k, json_t **names)
{
	sqlite3_stmt *st = db_stmt(s->db, "SELECT name FROM object WHERE kind = ? ORDER BY name");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	return store_collect(st, 0, names);
}

int store_all(struct store *s, const struct kind_ops *k, json_t **bodies)
{
	sqlite3_stmt *st = db_stmt(s->db, "SELECT body FROM object WHERE kind = ? ORDER BY name");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	return store_collect(st, 1, bodies);
}

struct store_ref_ctx {
	struct store *s;
	const struct kind_ops *k;
	const char *name;
};

static int store_ref_add(void *ctx, const char *to_kind, const char *to_name, const char *field)
{
	struct store_ref_ctx *c = ctx;
	sqlite3_stmt *st = db_stmt(c->s->db, "INSERT INTO ref (from_kind, from_name, field, "
				   "to_kind, to_name) VALUES (?, ?, ?, ?, ?)");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, c->k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, c->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, field, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, to_kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, to_name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return db_errno(rc);
}

static int store_write_refs(struct store *s, const struct kind_ops *k, const char *name,
			    const json_t *body)
{
	sqlite3_stmt *st = db_stmt(s->db, "DELETE FROM ref WHERE from_kind = ? AND from_name = ?");
	struct store_ref_ctx ctx = { s, k, name };
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_errno(rc);
	return k->refs ? k->refs(body, store_ref_add, &ctx) : 0;
}

int store_put(struct store *s, const struct kind_ops *k, const char *name, const json_t *body,
	      enum store_change *change, json_t **before)
{
	sqlite3_stmt *st;
	json_t *old = NULL;
	char *text = NULL, *old_text = NULL;
	char etag[STORE_ETAG_LEN];
	int r, rc;

	r = store_get(s, k, name, &old, NULL);
	if (r < 0 && r != -ENOENT)
		goto out;
	text = store_dump(body);
	old_text = old ? store_dump(old) : NULL;
	if (!text || (old && !old_text)) {
		r = -ENOMEM;
		goto out;
	}
	if (old_text && strcmp(text, old_text) == 0) {
		*change = STORE_UNCHANGED;
		r = 0;
		goto out;
	}
	store_etag(text, etag);
	st = db_stmt(s->db, "INSERT INTO object (kind, name, body, etag) VALUES (?, ?, ?, ?) "
		     "ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body, "
		     "etag = excluded.etag, "
		     "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
	if (!st) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, etag, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	r = db_errno(rc);
	if (r == 0)
		r = store_write_refs(s, k, name, body);
	if (r == 0) {
		*change = old ? STORE_UPDATED : STORE_CREATED;
		store_note(s, k, name, old, body);
	}
out:
	if (r == 0 && before) {
		*before = old;
		old = NULL;
	}
	json_decref(old);
	free(text);
	free(old_text);
	return r;
}

/* Agent tokens of a deleted object die with it, in the same transaction, audited: a
 * new site of the same name must not hand its intent (PSKs) to the old gateway. */
static int store_revoke_agents(struct store *s, const struct kind_ops *k, const char *name,
			       const char *actor)
{
	json_t *ids = NULL, *rec = NULL;
	int r;

	if (!k->agent_tokens)
		return 0;
	r = auth_revoke_site(s->db, name, &ids);
	if (r < 0 || json_array_size(ids) == 0)
		goto out;
	rec = json_pack("{s:s, s:O, s:s}", "site", name, "ids", ids, "reason",
			"site deleted");
	r = rec ? audit_record(s->db, actor, "token-revoke", NULL, "token", name, NULL, rec)
		: -ENOMEM;
out:
	json_decref(ids);
	json_decref(rec);
	return r;
}

int store_delete(struct store *s, const struct kind_ops *k, const char *name,
		 const char *actor, json_t **before)
{
	sqlite3_stmt *st;
	json_t *old = NULL;
	int r, rc;

	r = store_get(s, k, name, &old, NULL);
	if (r < 0)
		goto out;
	st = db_stmt(s->db, "DELETE FROM object WHERE kind = ? AND name = ?");
	if (!st) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	r = db_errno(rc);
	if (r == 0 && k->agent_tokens)
		r = store_revoke_credentials(s, name, actor, &(int){ 0 });
	if (r == 0)
		store_note(s, k, name, old, NULL);
out:
	if (r == 0 && before) {
		*before = old;
		old = NULL;
	}
	json_decref(old);
	return r;
}

/* Its agent tokens and its certificates: a gateway that lost them (deleted site,
 * revoked certificate) comes back only with a token an admin issues anew. */
int store_revoke_credentials(struct store *s, const char *site, const char *actor, int *certs)
{
	int r = store_revoke_agents(s, &kind_site, site, actor);

	return r ? r : store_revoke_certs(s, site, certs);
}

struct store_path_ctx {
	const char *(*path_of)(void *ctx, const char *kind, const char *name);
	void *ctx;
	char buf[256];
};

static const char *store_path(struct store_path_ctx *p, const char *kind, const char *name)
{
	const char *path = p->path_of ? p->path_of(p->ctx, kind, name) : NULL;
	const struct kind_ops *k;

	if (path)
		return path;
	k = kind_by_name(kind);
	snprintf(p->buf, sizeof(p->buf), "%s/%s", k ? k->plural : kind, name);
	return p->buf;
}

/* NULL for a site this write does not touch: kind_site_check_all then puts a conflict's
 * error on the other site, the one being written. */
static const char *store_site_path(void *ctx, const char *site)
{
	struct store_path_ctx *p = ctx;

	return p->path_of ? p->path_of(p->ctx, "site", site) : NULL;
}

static int store_check_refs(struct store *s, struct verr *errs, struct store_path_ctx *p)
{
	sqlite3_stmt *st = db_stmt(s->db,
		"SELECT r.from_kind, r.from_name, r.field, r.to_kind, r.to_name FROM ref r "
		"WHERE NOT EXISTS (SELECT 1 FROM object o WHERE o.kind = r.to_kind "
		"AND o.name = r.to_name) ORDER BY r.from_kind, r.from_name, r.field");
	char path[512];
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *base = store_path(p, (const char *)sqlite3_column_text(st, 0),
					      (const char *)sqlite3_column_text(st, 1));

		verr_path_key(path, sizeof(path), base, (const char *)sqlite3_column_text(st, 2));
		verr_add(errs, path, "%s '%s' does not exist", sqlite3_column_text(st, 3),
			 sqlite3_column_text(st, 4));
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* Whether one change creates or re-addresses a site: the only changes that can bring
 * two sites' addresses into conflict, since the committed state passed the check. */
static bool store_addresses_changed_one(const json_t *c)
{
	static const char *const fields[] = { "underlay", "nat_address", "behind_nat", "prefixes" };
	const json_t *old = json_object_get(c, "old"), *new = json_object_get(c, "new");

	if (strcmp(json_string_value(json_object_get(c, "kind")), "site") || !new)
		return false;
	for (size_t f = 0; old && f < sizeof(fields) / sizeof(*fields); f++)
		if (!json_equal(json_object_get(old, fields[f]), json_object_get(new, fields[f])))
			return true;
	return !old;
}

static bool store_addresses_changed(const json_t *changes)
{
	size_t i;
	json_t *c;

	json_array_foreach(changes, i, c)
		if (store_addresses_changed_one(c))
			return true;
	return !changes;
}

/* Whether the full address check can be spared: one site created or re-addressed, whose
 * addresses touch no other site's in the committed index (built at the first such write). */
static bool store_addresses_clear(struct store *s)
{
	const json_t *one = NULL, *c;
	size_t i, n = 0;

	if (s->full || !s->changes || !s->compiled)
		return false;
	json_array_foreach(s->changes, i, c) {
		const json_t *new = json_object_get(c, "new");

		if (store_addresses_changed_one(c))
			one = new, n++;
	}
	if (n != 1)
		return false;
	if (!s->addresses)
		s->addresses = site_index_new(compile_ctx_sites(s->compiled));
	return s->addresses && !site_index_touches(s->addresses, json_string_value(
					json_object_get(one, "name")), one);
}

/* Every site's body as the transaction sees it: from the committed compile context and
 * the write log when it can, which spares parsing every body again. */
static int store_sites_now(struct store *s, json_t **sites)
{
	int r = s->full ? 1 : compile_delta_sites_now(s, s->compiled, s->changes, sites);

	return r == 1 ? store_all(s, &kind_site, sites) : r;
}

int store_validate(struct store *s, struct verr *errs,
		   const char *(*path_of)(void *ctx, const char *kind, const char *name),
		   void *ctx)
{
	struct store_path_ctx p = { .path_of = path_of, .ctx = ctx };
	size_t before = verr_count(errs);
	json_t *sites = NULL;
	int r;

	r = store_check_refs(s, errs, &p);
	if (r == 0 && (s->full || store_addresses_changed(s->changes)) &&
	    !store_addresses_clear(s)) {
		r = store_sites_now(s, &sites);
		if (r == 0)
			r = kind_site_check_all(sites, errs, store_site_path, &p);
	}
	json_decref(sites);
	if (r == 0 && verr_count(errs) > before)
		r = -EINVAL;
	return r;
}

int store_referrers(struct store *s, const struct kind_ops *k, const char *name, json_t **refs)
{
	sqlite3_stmt *st = db_stmt(s->db, "SELECT from_kind, from_name, field FROM ref "
				   "WHERE to_kind = ? AND to_name = ? ORDER BY 1, 2, 3");
	json_t *arr = json_array();
	int rc, r = 0;

	if (!st || !arr) {
		json_decref(arr);
		return st ? -ENOMEM : -EIO;
	}
	sqlite3_bind_text(st, 1, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
				"kind", sqlite3_column_text(st, 0),
				"name", sqlite3_column_text(st, 1),
				"field", sqlite3_column_text(st, 2))) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_errno(rc);
	sqlite3_reset(st);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	*refs = arr;
	return 0;
}

/* Whether the writes can change which pairs are joined: not when only profiles, or
 * sites' addresses and prefixes changed, which is most day-to-day work. */
static int store_joins_changed(const json_t *changes)
{
	size_t i;
	json_t *c;

	if (!changes)
		return 1;
	json_array_foreach(changes, i, c) {
		const char *kind = json_string_value(json_object_get(c, "kind"));
		const json_t *old = json_object_get(c, "old"), *new = json_object_get(c, "new");

		if (strcmp(kind, "profile") == 0)
			continue;
		if (strcmp(kind, "site") != 0 || !old || !new ||
		    !json_equal(json_object_get(old, "tags"), json_object_get(new, "tags")))
			return 1;
	}
	return 0;
}

/* A deleted site has no intent to compile, but its held requests must hear of it. */
static void store_note_deleted_sites(const json_t *changes, json_t *changed)
{
	size_t i;
	json_t *c;

	json_array_foreach(changes, i, c)
		if (!strcmp(json_string_value(json_object_get(c, "kind")), "site") &&
		    !json_object_get(c, "new"))
			json_array_append(changed, json_object_get(c, "name"));
}

/* Commits (r == 0 and not dry_run) or rolls back; on commit the new compile context
 * serves intents and the sites in changed are woken. Takes compiled and changed. */
static int store_end(struct store *s, int r, struct compile_ctx *compiled, json_t *changed,
		     bool dry_run)
{
	if (r == 0 && !dry_run)
		r = store_commit(s);
	if (r < 0 || dry_run) {
		store_rollback(s);
		compile_ctx_free(compiled);
	} else {
		s->crl_changed = false;
		store_set_compiled(s, compiled);
		if (s->notify && json_array_size(changed))
			s->notify(s->notify_ctx, changed);
	}
	json_decref(changed);
	return r;
}

int store_finish(struct store *s, struct verr *errs,
		 const char *(*path_of)(void *ctx, const char *kind, const char *name),
		 void *ctx, bool dry_run)
{
	struct compile_ctx *compiled = NULL;
	json_t *changed = NULL, *dirty = json_object();
	int r = dirty ? store_validate(s, errs, path_of, ctx) : -ENOMEM;

	/* Nothing materialised yet: no tunnel changed. */
	store_set_tunnels_changed(s, json_array());

	if (r == 0 && (s->full || store_joins_changed(s->changes)))
		r = tunnel_materialize(s, s->full ? NULL : s->changes, errs, dirty);
	/* A new CRL is in every intent: no change log then, every site recompiles. */
	if (r == 0)
		r = revision_refresh(s, errs, s->crl_changed || s->full ? NULL : s->changes, dirty,
				     path_of, ctx, &changed, &compiled);
	if (r == 0)
		store_note_deleted_sites(s->changes, changed);
	json_decref(dirty);
	return store_end(s, r, compiled, changed, dry_run);
}

int store_finish_sites(struct store *s, struct verr *errs, const json_t *dirty)
{
	struct compile_ctx *compiled = NULL;
	json_t *changed = NULL;
	int r;

	/* Keys rotated, agents' features: which tunnels, only the dirty sites tell. */
	store_set_tunnels_changed(s, NULL);
	r = revision_refresh(s, errs, s->full ? NULL : s->changes, dirty, NULL, NULL, &changed,
			     &compiled);

	return store_end(s, r, compiled, changed, false);
}

int store_refresh(struct store *s)
{
	struct verr *errs = verr_new();
	int r = errs ? store_begin(s) : -ENOMEM;

	/* No change log: store_finish then treats everything as changed. */
	json_decref(s->changes);
	s->changes = NULL;
	if (r == 0)
		r = store_finish(s, errs, NULL, NULL, false);
	s->changes = json_array();
	if (r == 0 && !s->changes)
		r = -ENOMEM;
	verr_free(errs);
	return r;
}
