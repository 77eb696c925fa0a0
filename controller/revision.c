/* Intent revisions: after a write, which sites it can affect, their intents compiled
 * and hashed, and each revision bumped exactly when its content changed; and the
 * current intent of a site, as served to its agent. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gnutls/crypto.h>

#include "compile.h"
#include "compile_ctx.h"
#include "metrics.h"
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

int revision_get_at(struct store *s, const char *site, uint64_t *revision,
		    char at[INTENT_TIME_LEN])
{
	sqlite3_stmt *st = db_stmt(store_db(s),
				   "SELECT revision, updated_at FROM intent WHERE site = ?");
	const char *t;
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, site, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	*revision = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 1) : NULL;
	if (at)
		snprintf(at, INTENT_TIME_LEN, "%s", t ? t : "");
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int revision_get(struct store *s, const char *site, uint64_t *revision)
{
	return revision_get_at(s, site, revision, NULL);
}

/* Bumps the site's revision when the hash of its intent (compiled at revision 0, so
 * the revision itself does not feed the hash) differs from the stored one. */
static int revision_bump(struct db *db, const char *site, const char *hash, const char *at,
			 int *bumped)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO intent (site, revision, hash, updated_at) "
		"VALUES (?1, 1, ?2, ?3) ON CONFLICT (site) DO UPDATE SET revision = revision + 1, "
		"hash = ?2, updated_at = ?3 WHERE hash <> ?2");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	*bumped = sqlite3_changes(db_handle(db)) > 0;
	return db_errno(rc);
}

/* Compiling and hashing is most of a refresh and reads nothing but the context, which
 * stays unchanged while it runs: with many sites to do, two threads share them. */
#define REVISION_THREADS 2
#define REVISION_PARALLEL_MIN 64

/* One refresh's per-site working arrays, indexed like the context's sites. */
struct revision_run {
	const struct compile_ctx *c;
	unsigned char *mark;		/* which sites to compile */
	char (*stored)[33];		/* the hash the store has ("" when none) */
	uint64_t *rev;			/* the stored revision; after the run, the new one */
	char (*hash)[33];
	int *rc;
	char **text;			/* the new intent's JSON, for sites someone waits on */
	bool (*want)(void *ctx, const char *site);
	void *want_ctx;
	/* The time every revision of this write is stamped with (stored as updated_at,
	 * sent as the intent's committed_at): the write's, taken once before it commits. */
	char at[INTENT_TIME_LEN];
};

struct revision_part {
	struct revision_run *run;
	size_t from, to;
	struct verr *errs;
};

/* For a changed intent whose agent is waiting, the text is written here too, on this
 * thread: serving it after the commit is then only sending it. */
static int revision_one(struct revision_run *run, size_t i, struct verr *errs)
{
	struct intent *in = NULL;
	int r = compile_site(run->c, i, 0, &in, errs);

	if (r == 0)
		r = revision_hash(in, run->hash[i]);
	if (r == 0 && strcmp(run->hash[i], run->stored[i]) != 0) {
		run->rev[i]++;
		if (run->want && run->want(run->want_ctx, run->c->names[i])) {
			in->revision = run->rev[i];
			memcpy(in->committed_at, run->at, sizeof(in->committed_at));
			run->text[i] = revision_text(in);	/* NULL: compiled when served */
		}
	}
	intent_free(in);
	return r;
}

static void *revision_part_run(void *arg)
{
	struct revision_part *p = arg;

	for (size_t i = p->from; i < p->to; i++)
		if (p->run->mark[i])
			p->run->rc[i] = revision_one(p->run, i, p->errs);
	return NULL;
}

/* Contiguous shares of the sites (errors stay in site order) with about the same work
 * each: a site costs about its number of tunnels. A write's marked sites are often
 * together in name order (one region's mesh) while a hub's intent alone may weigh as
 * much as all of them. */
static void revision_split(const struct revision_run *run, struct revision_part *part, int nth)
{
	const struct compile_ctx *c = run->c;
	size_t total = 0, sum = 0, i = 0;

	for (size_t k = 0; k < c->n; k++)
		total += run->mark[k] ? 1 + c->adj_off[k + 1] - c->adj_off[k] : 0;
	for (int t = 0; t + 1 < nth; t++) {
		part[t].from = i;
		while (i < c->n && sum * nth < total * (size_t)(t + 1)) {
			sum += run->mark[i] ? 1 + c->adj_off[i + 1] - c->adj_off[i] : 0;
			i++;
		}
		part[t].to = i;
	}
	part[nth - 1].from = i;
	part[nth - 1].to = c->n;
}

static void revision_compile_marked(struct revision_run *run, size_t nmarked, struct verr *errs)
{
	struct revision_part part[REVISION_THREADS];
	pthread_t th[REVISION_THREADS];
	size_t n = run->c->n;
	int nth = nmarked >= REVISION_PARALLEL_MIN ? REVISION_THREADS : 1, started = 1;

	for (int t = 0; t < nth; t++) {
		part[t] = (struct revision_part){ run, 0, n, t ? verr_new() : errs };
		if (!part[t].errs)
			nth = t;	/* out of memory: the threads there are do more */
	}
	revision_split(run, part, nth);
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

/* The stored revision and hash of every marked site, read before the threads start. */
static int revision_load_stored(struct db *db, struct revision_run *run)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT revision, hash FROM intent WHERE site = ?");
	int rc = SQLITE_DONE;

	if (!st)
		return -EIO;
	for (size_t i = 0; i < run->c->n && (rc == SQLITE_DONE || rc == SQLITE_ROW); i++) {
		if (!run->mark[i])
			continue;
		sqlite3_bind_text(st, 1, run->c->names[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			run->rev[i] = (uint64_t)sqlite3_column_int64(st, 0);
			snprintf(run->stored[i], sizeof(run->stored[i]), "%s",
				 (const char *)sqlite3_column_text(st, 1));
		}
		sqlite3_reset(st);
	}
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_errno(rc);
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
	return tunnel_role(topo, json_string_value(json_object_get(site, "name")), site) !=
	       TUNNEL_NONE;
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
	/* Spokes of a hub-spoke route each other's prefixes through their hubs: all
	 * members feel a member's change, unless summaries stand for the prefixes. Anything
	 * else a site's change shows in reaches only its tunnels' peers, marked above or by
	 * materialisation (dirty). */
	for (size_t t = 0; t < json_array_size(c->topos); t++) {
		const json_t *topo = json_array_get(c->topos, t);

		if (strcmp(json_string_value(json_object_get(topo, "kind")), "hub-spoke") ||
		    json_array_size(json_object_get(topo, "summary_prefixes")))
			continue;
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

static void revision_run_free(struct revision_run *run)
{
	for (size_t i = 0; run->text && run->c && i < run->c->n; i++)
		free(run->text[i]);
	free(run->text);
	free(run->mark);
	free(run->stored);
	free(run->rev);
	free(run->hash);
	free(run->rc);
}

static int revision_run_init(struct revision_run *run, struct compile_ctx *c,
			     const json_t *changes, const json_t *dirty)
{
	size_t n = c->n + 1;

	run->c = c;
	run->mark = calloc(n, 1);
	run->stored = calloc(n, sizeof(*run->stored));
	run->rev = calloc(n, sizeof(*run->rev));
	run->hash = calloc(n, sizeof(*run->hash));
	run->rc = calloc(n, sizeof(*run->rc));
	run->text = calloc(n, sizeof(*run->text));
	if (!run->mark || !run->stored || !run->rev || !run->hash || !run->rc || !run->text)
		return -ENOMEM;
	if (!revision_mark(c, changes, dirty, run->mark))
		memset(run->mark, 1, c->n);
	return 0;
}

/* Writes the new revisions; the texts of changed sites move to the context. */
static int revision_commit_run(struct store *s, struct revision_run *run, json_t *names,
			       bool *failed)
{
	struct compile_ctx *c = (struct compile_ctx *)run->c;
	int bumped, r = 0;

	for (size_t i = 0; r == 0 && i < c->n; i++) {
		if (!run->mark[i])
			continue;
		/* A site's own error does not stop the others: every broken site is reported. */
		if (run->rc[i] == -EINVAL)
			*failed = true;
		else if (run->rc[i] < 0)
			r = run->rc[i];
		else if ((r = revision_bump(store_db(s), c->names[i], run->hash[i], run->at,
						 &bumped)) == 0 &&
			 bumped) {
			metrics_revision();
			r = json_array_append_new(names, json_string(c->names[i])) ? -ENOMEM : 0;
		}
	}
	if (r == 0) {
		c->text = run->text;
		c->text_rev = run->rev;
		run->text = NULL;
		run->rev = NULL;
	}
	return r;
}

/* The context the write leads to: derived from the committed one when the write is
 * small enough (compile_delta.c), read from the whole store otherwise. */
static int revision_ctx(struct store *s, const json_t *changes, const json_t *dirty,
			struct compile_ctx **c)
{
	int r = 1;

	if (store_incremental(s) && store_compiled(s))
		r = compile_delta_new(s, store_compiled(s), changes, dirty, c);
	return r == 1 ? compile_ctx_new(s, c) : r;
}

int revision_refresh(struct store *s, struct verr *errs, const json_t *changes,
		     const json_t *dirty, const char *(*path_of)(void *, const char *, const char *),
		     void *path_ctx, json_t **changed, struct compile_ctx **ctx)
{
	struct revision_run run = { .want = store_prefetch_fn(s), .want_ctx = store_prefetch_ctx(s) };
	struct compile_ctx *c = NULL;
	json_t *names = json_array();
	int r = names ? revision_ctx(s, changes, dirty, &c) : -ENOMEM;
	bool failed = false;
	size_t nmarked = 0;
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	intent_time_fmt((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, run.at);

	if (r == 0)
		r = revision_run_init(&run, c, changes, dirty);
	if (r == 0)
		r = revision_load_stored(store_db(s), &run);
	if (r == 0) {
		c->path_of = path_of;
		c->path_ctx = path_ctx;
		for (size_t i = 0; i < c->n; i++)
			nmarked += run.mark[i];
		revision_compile_marked(&run, nmarked, errs);
		r = revision_commit_run(s, &run, names, &failed);
	}
	revision_run_free(&run);
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
	char at[INTENT_TIME_LEN];
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
	r = revision_get_at(s, site, revision, at);
	/* Written by the refresh for the agent that was waiting: the first taker gets it. */
	if (r == 0 && c->text && c->text[i] && c->text_rev[i] == *revision) {
		*text = c->text[i];
		c->text[i] = NULL;
		return 0;
	}
	errs = verr_new();
	if (r == 0 && !errs)
		r = -ENOMEM;
	if (r == 0)
		r = compile_site(c, (size_t)i, *revision, &in, errs);
	if (r == 0)
		memcpy(in->committed_at, at, sizeof(in->committed_at));
	if (r == 0 && !(*text = revision_text(in)))
		r = -ENOMEM;
	intent_free(in);
	verr_free(errs);
	return r;
}
