/* Intent revisions: after a write, which sites it can affect, their intents compiled
 * and hashed, and each revision bumped exactly when its content changed; and the
 * current intent of a site, as served to its agent. */
#include <errno.h>
#include <pthread.h>
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

/* Compiling and hashing is most of a refresh and reads nothing but the context, which
 * stays unchanged while it runs: with many sites to do, two threads share them. */
#define REVISION_THREADS 2
#define REVISION_PARALLEL_MIN 64

struct revision_part {
	const struct compile_ctx *c;
	const unsigned char *mark;	/* which sites to compile */
	size_t from, to;
	char (*hash)[33];		/* out: hash[i] of site i */
	int *rc;			/* out: rc[i] of site i */
	struct verr *errs;
};

static void *revision_part_run(void *arg)
{
	struct revision_part *p = arg;

	for (size_t i = p->from; i < p->to; i++) {
		struct intent *in = NULL;

		if (!p->mark[i])
			continue;
		p->rc[i] = compile_site(p->c, i, 0, &in, p->errs);
		if (p->rc[i] == 0)
			p->rc[i] = revision_hash(in, p->hash[i]);
		intent_free(in);
	}
	return NULL;
}

static void revision_compile_marked(const struct compile_ctx *c, const unsigned char *mark,
				    size_t nmarked, char (*hash)[33], int *rc, struct verr *errs)
{
	struct revision_part part[REVISION_THREADS];
	pthread_t th[REVISION_THREADS];
	int nth = nmarked >= REVISION_PARALLEL_MIN ? REVISION_THREADS : 1, started = 1;

	for (int t = 0; t < nth; t++) {
		part[t] = (struct revision_part){ c, mark, c->n * t / nth, c->n * (t + 1) / nth,
						  hash, rc, t ? verr_new() : errs };
		if (!part[t].errs)
			nth = t;	/* out of memory: the threads there are do more */
	}
	part[nth - 1].to = c->n;
	for (; started < nth; started++)
		if (pthread_create(&th[started], NULL, revision_part_run, &part[started]) != 0)
			break;
	/* A thread that could not start: its share runs here. */
	for (int t = started; t < nth; t++)
		part[0].to = part[t].to;
	revision_part_run(&part[0]);
	for (int t = 1; t < nth; t++) {
		if (t < started)
			pthread_join(th[t], NULL);
		/* Errors in site order, as one thread would have reported them. */
		verr_append(errs, part[t].errs);
		verr_free(part[t].errs);
	}
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
	char (*hash)[33] = NULL;
	int *rc = NULL, r = names ? compile_ctx_new(s, &c) : -ENOMEM, failed = 0, bumped;
	size_t nmarked = 0;

	if (r == 0) {
		mark = calloc(c->n + 1, 1);
		hash = calloc(c->n + 1, sizeof(*hash));
		rc = calloc(c->n + 1, sizeof(*rc));
		if (!mark || !hash || !rc)
			r = -ENOMEM;
	}
	if (r == 0) {
		c->path_of = path_of;
		c->path_ctx = path_ctx;
		if (!revision_mark(c, changes, dirty, mark))
			memset(mark, 1, c->n);
		for (size_t i = 0; i < c->n; i++)
			nmarked += mark[i];
		revision_compile_marked(c, mark, nmarked, hash, rc, errs);
	}
	for (size_t i = 0; r == 0 && i < c->n; i++) {
		if (!mark[i])
			continue;
		/* A site's own error does not stop the others: every broken site is reported. */
		if (rc[i] == -EINVAL)
			failed = 1;
		else if (rc[i] < 0)
			r = rc[i];
		else if ((r = revision_bump(store_db(s), c->names[i], hash[i], &bumped)) == 0 && bumped)
			r = json_array_append_new(names, json_string(c->names[i])) ? -ENOMEM : 0;
	}
	free(mark);
	free(hash);
	free(rc);
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
