/* Intent revisions: after a write, which sites it can affect, their intents compiled
 * and hashed, and each revision bumped exactly when its content changed; and the
 * current intent of a site, as served to its agent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "compile.h"
#include "compile_ctx.h"
#include "revision.h"
#include "tunnel.h"

static char *revision_text(const struct intent *in)
{
	char *text = NULL;

	return intent_dump(in, &text, NULL) == 0 ? text : NULL;
}

static int revision_hash(const struct intent *in, char out[33])
{
	unsigned char d[32];
	int r = intent_hash(in, d);

	for (int i = 0; r == 0 && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return r;
}

int revision_get(struct store *s, const char *site, uint64_t *revision)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT revision FROM intent WHERE site = ?");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, site, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	*revision = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* Bumps the site's revision when the hash of its intent (compiled at revision 0, so
 * the revision itself does not feed the hash) differs from the stored one. */
static int revision_bump(struct db *db, const char *site, const char *hash, int *bumped)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO intent (site, revision, hash) VALUES (?1, 1, ?2) "
		"ON CONFLICT (site) DO UPDATE SET revision = revision + 1, hash = ?2, "
		"updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE hash <> ?2");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	*bumped = sqlite3_changes(db_handle(db)) > 0;
	return db_errno(rc);
}

static int revision_refresh_site(struct store *s, const struct compile_ctx *c, size_t i,
				struct verr *errs, json_t *changed)
{
	struct intent *in = NULL;
	char hash[33];
	int bumped = 0, r;

	r = compile_site(c, i, 0, &in, errs);
	if (r == 0)
		r = revision_hash(in, hash);
	if (r == 0)
		r = revision_bump(store_db(s), c->names[i], hash, &bumped);
	if (r == 0 && bumped && changed)
		r = json_array_append_new(changed, json_string(c->names[i])) ? -ENOMEM : 0;
	intent_free(in);
	return r;
}

/* A description is for people: no intent carries it. */
static int revision_only_description(const json_t *old, const json_t *new)
{
	json_t *a, *b;
	int same;

	if (!old || !new)
		return 0;
	a = json_deep_copy(old);
	b = json_deep_copy(new);
	json_object_del(a, "description");
	json_object_del(b, "description");
	same = json_equal(a, b);
	json_decref(a);
	json_decref(b);
	return same;
}

/* Does site (a canonical body) belong to topology t, by name or by its tags? */
static int revision_in_topology(const json_t *topo, const json_t *site)
{
	const char *name = json_string_value(json_object_get(site, "name"));
	const json_t *want = json_object_get(topo, "match_tags"), *v;
	const char *k;
	size_t i;

	json_array_foreach(json_object_get(topo, "members"), i, v)
		if (!strcmp(json_string_value(v), name))
			return 1;
	json_array_foreach(json_object_get(topo, "hubs"), i, v)
		if (!strcmp(json_string_value(v), name))
			return 1;
	if (json_object_size(want) == 0)
		return 0;
	json_object_foreach((json_t *)want, k, v)
		if (!json_equal(json_object_get(json_object_get(site, "tags"), k), v))
			return 0;
	return 1;
}

static void revision_mark_site(const struct compile_ctx *c, unsigned char *mark, const json_t *old,
			      const json_t *new)
{
	const json_t *body = new ? new : old;
	long x = compile_site_index(c, json_string_value(json_object_get(body, "name")));

	if (x >= 0) {
		mark[x] = 1;
		for (size_t j = c->adj_off[x]; j < c->adj_off[x + 1]; j++)
			mark[c->tuns[c->adj[j]].a] = mark[c->tuns[c->adj[j]].b] = 1;
	}
	/* Spokes route each other's prefixes through their hubs: all members feel it. */
	for (size_t t = 0; t < json_array_size(c->topos); t++) {
		const json_t *topo = json_array_get(c->topos, t);

		if (!(old && revision_in_topology(topo, old)) && !(new && revision_in_topology(topo, new)))
			continue;
		for (size_t i = 0; i < c->n; i++)
			if (c->roles[t * c->n + i])
				mark[i] = 1;
	}
}

/* Which sites a write log can affect; 0 when it can affect every site. */
static int revision_mark(const struct compile_ctx *c, const json_t *changes, const json_t *dirty,
			unsigned char *mark)
{
	const char *k;
	size_t i;
	json_t *v;

	if (!changes)
		return 0;
	json_object_foreach((json_t *)dirty, k, v) {
		long x = compile_site_index(c, k);

		if (x >= 0)
			mark[x] = 1;
	}
	json_array_foreach(changes, i, v) {
		const char *kind = json_string_value(json_object_get(v, "kind"));
		const char *name = json_string_value(json_object_get(v, "name"));
		json_t *old = json_object_get(v, "old"), *new = json_object_get(v, "new");

		if (!strcmp(kind, "topology"))
			return 0;
		if (!strcmp(kind, "profile")) {
			for (size_t j = 0; j < c->ntuns; j++)
				if (!strcmp(json_string_value(json_object_get(c->tuns[j].profile, "name")), name))
					mark[c->tuns[j].a] = mark[c->tuns[j].b] = 1;
		} else if (!strcmp(kind, "site") && !revision_only_description(old, new)) {
			revision_mark_site(c, mark, old, new);
		}
	}
	return 1;
}

int revision_refresh(struct store *s, struct verr *errs, const json_t *changes,
		    const json_t *dirty, const char *(*path_of)(void *, const char *, const char *),
		    void *path_ctx, json_t **changed, struct compile_ctx **ctx)
{
	struct compile_ctx *c = NULL;
	json_t *names = json_array();
	unsigned char *mark = NULL;
	int r = names ? compile_ctx_new(s, &c) : -ENOMEM;
	int failed = 0, some;

	if (r == 0 && !(mark = calloc(c->n + 1, 1)))
		r = -ENOMEM;
	if (r == 0) {
		c->path_of = path_of;
		c->path_ctx = path_ctx;
	}
	some = r == 0 && revision_mark(c, changes, dirty, mark);
	for (size_t i = 0; r == 0 && c && i < c->n; i++) {
		if (some && !mark[i])
			continue;
		r = revision_refresh_site(s, c, i, errs, names);
		/* Keep going on a site's own error, so every broken site is reported. */
		if (r == -EINVAL) {
			failed = 1;
			r = 0;
		}
	}
	free(mark);
	if (c) {
		c->path_of = NULL;	/* path_ctx does not outlive the write */
		c->path_ctx = NULL;
	}
	if (r == 0 && failed)
		r = -EINVAL;
	if (r < 0) {
		compile_ctx_free(c);
		json_decref(names);
		return r;
	}
	*ctx = c;
	if (changed)
		*changed = names;
	else
		json_decref(names);
	return 0;
}

int revision_current(struct store *s, const char *site, uint64_t *revision, char **text)
{
	struct compile_ctx *c = store_compiled(s);
	struct intent *in = NULL;
	struct verr *errs = NULL;
	long i;
	int r;

	if (!c) {
		r = compile_ctx_new(s, &c);
		if (r < 0)
			return r;
		store_set_compiled(s, c);
	}
	i = compile_site_index(c, site);
	if (i < 0)
		return -ENOENT;
	r = revision_get(s, site, revision);
	errs = verr_new();
	if (r == 0 && !errs)
		r = -ENOMEM;
	if (r == 0)
		r = compile_site(c, (size_t)i, *revision, &in, errs);
	if (r == 0 && !(*text = revision_text(in)))
		r = -ENOMEM;
	intent_free(in);
	verr_free(errs);
	return r;
}
