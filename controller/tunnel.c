#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/socket.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "psk.h"
#include "tunnel.h"

/* Reqids below this are left to charon's own allocation (api/intent.h). */
#define TUNNEL_REQID_BASE 0x10000

/* One definition joining a pair: a topology's or an explicit tunnel's. */
struct tunnel_def {
	unsigned a, b;		/* indices into the sorted site names, a < b */
	unsigned prio;		/* lower wins: explicit tunnels first, then topologies, by name */
	unsigned src;		/* index into tunnel_plan.srcs */
};

struct tunnel_src {
	char *id;		/* "tunnel/x" or "topology/y" */
	const char *type, *profile;
	int is_explicit;
};

struct tunnel_plan {
	const char **names;	/* sorted site names, borrowed from sites */
	size_t nnames;
	struct tunnel_src *srcs;
	size_t nsrcs;
	struct tunnel_def *defs;
	size_t ndefs, cap;
};

struct tunnel_row {
	long long id;
	char *a, *b, *origin, *source, *sources, *type, *profile;
	long long overlay;	/* -1: none yet (a row from before schema v2) */
};

/* Lowest-free allocation of overlay blocks. Only the first `size` indices are tracked:
 * with n tunnels the lowest free index is at most n, so that is all we ever need. */
struct tunnel_alloc {
	unsigned char *used;
	size_t size, next;
	uint64_t capacity;	/* blocks in the pool */
	const struct addr_prefix *pool;
};

static void tunnel_plan_free(struct tunnel_plan *p)
{
	for (size_t i = 0; i < p->nsrcs; i++)
		free(p->srcs[i].id);
	free(p->srcs);
	free(p->defs);
	free(p->names);
}

static int tunnel_name_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static long tunnel_site_index(const struct tunnel_plan *p, const char *name)
{
	const char **hit = bsearch(name, p->names, p->nnames, sizeof(*p->names), tunnel_name_cmp);

	return hit ? hit - p->names : -1;
}

static int tunnel_add_def(struct tunnel_plan *p, unsigned x, unsigned y, unsigned src)
{
	if (x == y)
		return 0;
	if (p->ndefs == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 1024;
		struct tunnel_def *d = realloc(p->defs, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		p->defs = d;
		p->cap = cap;
	}
	p->defs[p->ndefs++] = (struct tunnel_def){ x < y ? x : y, x < y ? y : x, src, src };
	return 0;
}

static int tunnel_add_src(struct tunnel_plan *p, const char *kind, const json_t *body,
			  int is_explicit)
{
	struct tunnel_src *s = &p->srcs[p->nsrcs];

	if (asprintf(&s->id, "%s/%s", kind, json_string_value(json_object_get(body, "name"))) < 0)
		return -ENOMEM;
	s->type = json_string_value(json_object_get(body, "tunnel_type"));
	s->profile = json_string_value(json_object_get(body, "profile"));
	s->is_explicit = is_explicit;
	p->nsrcs++;
	return 0;
}

static int tunnel_tags_match(const json_t *site, const json_t *want)
{
	const json_t *tags = json_object_get(site, "tags");
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)want, k, v) {
		if (!json_equal(json_object_get(tags, k), v))
			return 0;
	}
	return 1;
}

void tunnel_roles(const char **names, size_t n, const json_t *sites, const json_t *topo,
		  unsigned char *role)
{
	const json_t *want = json_object_get(topo, "match_tags");
	const char **hit;
	size_t i;
	json_t *v;

	memset(role, 0, n);
	if (json_object_size(want) > 0) {
		for (i = 0; i < n; i++)
			if (tunnel_tags_match(json_array_get(sites, i), want))
				role[i] = TUNNEL_MEMBER;
	}
	json_array_foreach(json_object_get(topo, "members"), i, v) {
		hit = bsearch(json_string_value(v), names, n, sizeof(*names), tunnel_name_cmp);
		if (hit)
			role[hit - names] = TUNNEL_MEMBER;
	}
	json_array_foreach(json_object_get(topo, "hubs"), i, v) {
		hit = bsearch(json_string_value(v), names, n, sizeof(*names), tunnel_name_cmp);
		if (hit)
			role[hit - names] = TUNNEL_HUB;
	}
}

static int tunnel_topology_defs(struct tunnel_plan *p, const json_t *sites, const json_t *topo,
				unsigned src, unsigned char *role)
{
	int mesh = strcmp(json_string_value(json_object_get(topo, "kind")), "full-mesh") == 0;
	int r = 0;

	tunnel_roles(p->names, p->nnames, sites, topo, role);
	for (unsigned i = 0; i < p->nnames && r == 0; i++) {
		if (!role[i])
			continue;
		for (unsigned j = i + 1; j < p->nnames && r == 0; j++) {
			/* A hub joins everyone; spokes join each other only in a mesh. */
			if (role[j] && (mesh || role[i] == TUNNEL_HUB || role[j] == TUNNEL_HUB))
				r = tunnel_add_def(p, i, j, src);
		}
	}
	return r;
}

static int tunnel_def_cmp(const void *x, const void *y)
{
	const struct tunnel_def *a = x, *b = y;

	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->b != b->b)
		return a->b < b->b ? -1 : 1;
	return (a->prio > b->prio) - (a->prio < b->prio);
}

/* Explicit tunnels get the lowest source indices so that they win a shared pair. */
static int tunnel_plan_build(struct tunnel_plan *p, const json_t *sites, const json_t *topos,
			     const json_t *explicit)
{
	unsigned char *role = NULL;
	size_t i;
	json_t *v;
	int r = -ENOMEM;

	p->nnames = json_array_size(sites);
	p->names = calloc(p->nnames + 1, sizeof(*p->names));
	p->srcs = calloc(json_array_size(topos) + json_array_size(explicit) + 1, sizeof(*p->srcs));
	role = calloc(p->nnames + 1, 1);
	if (!p->names || !p->srcs || !role)
		goto out;
	json_array_foreach(sites, i, v)
		p->names[i] = json_string_value(json_object_get(v, "name"));
	r = 0;
	json_array_foreach(explicit, i, v) {
		long a = tunnel_site_index(p, json_string_value(json_object_get(v, "a")));
		long b = tunnel_site_index(p, json_string_value(json_object_get(v, "b")));

		if (r == 0 && a >= 0 && b >= 0)
			r = tunnel_add_src(p, "tunnel", v, 1);
		if (r == 0 && a >= 0 && b >= 0)
			r = tunnel_add_def(p, (unsigned)a, (unsigned)b, (unsigned)p->nsrcs - 1);
	}
	json_array_foreach(topos, i, v) {
		if (r == 0)
			r = tunnel_add_src(p, "topology", v, 0);
		if (r == 0)
			r = tunnel_topology_defs(p, sites, v, (unsigned)p->nsrcs - 1, role);
	}
	if (r == 0 && p->ndefs)
		qsort(p->defs, p->ndefs, sizeof(*p->defs), tunnel_def_cmp);
out:
	free(role);
	return r;
}

static void tunnel_rows_free(struct tunnel_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(rows[i].a);
		free(rows[i].b);
		free(rows[i].origin);
		free(rows[i].source);
		free(rows[i].sources);
		free(rows[i].type);
		free(rows[i].profile);
	}
	free(rows);
}

static char *tunnel_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return strdup(t ? (const char *)t : "");
}

/* All existing rows, read before any write so the table is never changed under a cursor. */
static int tunnel_rows_load(struct db *db, struct tunnel_row **out, size_t *nout)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, site_a, site_b, origin, source, sources, "
				   "tunnel_type, profile, overlay FROM tunnel ORDER BY site_a, site_b");
	struct tunnel_row *rows = NULL, *tmp;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			tmp = realloc(rows, cap * sizeof(*rows));
			if (!tmp) {
				r = -ENOMEM;
				goto out;
			}
			rows = tmp;
		}
		rows[n] = (struct tunnel_row){
			sqlite3_column_int64(st, 0), tunnel_col(st, 1), tunnel_col(st, 2),
			tunnel_col(st, 3), tunnel_col(st, 4), tunnel_col(st, 5),
			tunnel_col(st, 6), tunnel_col(st, 7),
			sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8) };
		n++;
	}
	if (rc != SQLITE_DONE)
		r = db_errno(rc);
out:
	sqlite3_reset(st);
	if (r < 0) {
		tunnel_rows_free(rows, n);
		return r;
	}
	*out = rows;
	*nout = n;
	return 0;
}

/* The desired attributes of the pair whose definitions are defs[0..n). */
struct tunnel_want {
	const char *a, *b, *origin, *source, *type, *profile;
	char *sources;
	long long overlay;
};

static int tunnel_want_build(const struct tunnel_plan *p, const struct tunnel_def *defs,
			     size_t n, struct tunnel_want *w)
{
	const struct tunnel_src *win = &p->srcs[defs[0].src];
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		/* Hub-to-hub pairs are emitted once per hub: list the source once. */
		if (i > 0 && defs[i].src == defs[i - 1].src)
			continue;
		json_array_append_new(arr, json_string(p->srcs[defs[i].src].id));
	}
	w->sources = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	if (!w->sources)
		return -ENOMEM;
	w->a = p->names[defs[0].a];
	w->b = p->names[defs[0].b];
	w->origin = win->is_explicit ? "explicit" : "topology";
	w->source = win->id;
	w->type = win->type;
	w->profile = win->profile;
	return 0;
}

static uint8_t tunnel_overlay_len(const struct addr_prefix *pool)
{
	return pool->addr.family == AF_INET ? 31 : 127;
}

static int tunnel_alloc_init(struct tunnel_alloc *al, const struct addr_prefix *pool,
			     const struct tunnel_row *rows, size_t nrows, size_t nnew)
{
	unsigned bits = tunnel_overlay_len(pool) - pool->len;

	al->pool = pool;
	al->capacity = bits >= 63 ? UINT64_MAX : (uint64_t)1 << bits;
	al->size = nrows + nnew + 1;
	al->next = 0;
	al->used = calloc(al->size, 1);
	if (!al->used)
		return -ENOMEM;
	for (size_t i = 0; i < nrows; i++)
		if (rows[i].overlay >= 0 && (size_t)rows[i].overlay < al->size)
			al->used[rows[i].overlay] = 1;
	return 0;
}

/* Indices of rows deleted in this pass are not reused until the next one: the unique
 * index would otherwise see the new row before the old one is gone. */
static int tunnel_alloc_take(struct tunnel_alloc *al, struct verr *errs, long long *out)
{
	char pool[ADDR_PREFIX_STRLEN];

	while (al->next < al->size && al->used[al->next])
		al->next++;
	if (al->next >= al->size || al->next >= al->capacity) {
		addr_prefix_fmt(al->pool, pool, sizeof(pool));
		verr_add(errs, "", "overlay address pool %s is exhausted (%llu tunnels fit)", pool,
			 (unsigned long long)al->capacity);
		return -EINVAL;
	}
	al->used[al->next] = 1;
	*out = (long long)al->next;
	return 0;
}

static int tunnel_insert(struct db *db, const struct tunnel_want *w)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO tunnel (site_a, site_b, origin, source, sources, "
				   "tunnel_type, profile, psk, overlay) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
	char psk[PSK_TEXT_LEN];
	int rc;

	if (!st)
		return -EIO;
	if (psk_new(psk) < 0)
		return -EIO;
	sqlite3_bind_text(st, 1, w->a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->b, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, w->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, w->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, w->sources, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, w->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, w->profile, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, psk, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 9, w->overlay);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	gnutls_memset(psk, 0, sizeof(psk));
	return db_errno(rc);
}

static int tunnel_update(struct db *db, const struct tunnel_row *row, const struct tunnel_want *w)
{
	sqlite3_stmt *st;
	int rc;

	int felt = strcmp(row->type, w->type) || strcmp(row->profile, w->profile) ||
		   row->overlay != w->overlay;

	if (!felt && !strcmp(row->origin, w->origin) && !strcmp(row->source, w->source) &&
	    !strcmp(row->sources, w->sources))
		return 0;
	st = db_stmt(db, "UPDATE tunnel SET origin = ?, source = ?, sources = ?, tunnel_type = ?, "
		     "profile = ?, overlay = ? WHERE id = ?");
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, w->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, w->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, w->sources, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, w->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, w->profile, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, w->overlay);
	sqlite3_bind_int64(st, 7, row->id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	/* 1: the change shows in the two sites' intents (which topology defines the
	 * tunnel does not). */
	return rc == SQLITE_DONE ? felt : db_errno(rc);
}

static int tunnel_delete(struct db *db, long long id)
{
	sqlite3_stmt *st = db_stmt(db, "DELETE FROM tunnel WHERE id = ?");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return db_errno(rc);
}

static int tunnel_row_cmp(const struct tunnel_row *row, const struct tunnel_plan *p,
			  const struct tunnel_def *d)
{
	int c = strcmp(row->a, p->names[d->a]);

	return c ? c : strcmp(row->b, p->names[d->b]);
}

/* Walks existing rows and desired pairs, both sorted by (site_a, site_b), in step. */
static void tunnel_dirty(json_t *dirty, const char *a, const char *b)
{
	if (!dirty)
		return;
	json_object_set_new(dirty, a, json_true());
	json_object_set_new(dirty, b, json_true());
}

static int tunnel_apply(struct db *db, const struct tunnel_plan *p, const struct tunnel_row *rows,
			size_t nrows, struct tunnel_alloc *al, struct verr *errs, json_t *dirty)
{
	size_t i = 0, d = 0;
	int r = 0;

	while (r == 0 && (i < nrows || d < p->ndefs)) {
		struct tunnel_want w = { 0 };
		size_t end = d;
		int c;

		while (end < p->ndefs && p->defs[end].a == p->defs[d].a &&
		       p->defs[end].b == p->defs[d].b)
			end++;
		c = i >= nrows ? 1 : d >= p->ndefs ? -1 : tunnel_row_cmp(&rows[i], p, &p->defs[d]);
		if (c < 0) {
			tunnel_dirty(dirty, rows[i].a, rows[i].b);
			r = tunnel_delete(db, rows[i++].id);
			continue;
		}
		r = tunnel_want_build(p, &p->defs[d], end - d, &w);
		w.overlay = c == 0 ? rows[i].overlay : -1;
		if (r == 0 && w.overlay < 0)
			r = tunnel_alloc_take(al, errs, &w.overlay);
		if (r == 0)
			r = c > 0 ? tunnel_insert(db, &w) : tunnel_update(db, &rows[i++], &w);
		if (r == 0 && c > 0)
			r = 1;
		if (r == 1) {
			tunnel_dirty(dirty, w.a, w.b);
			r = 0;
		}
		free(w.sources);
		d = end;
	}
	return r;
}

int tunnel_materialize(struct store *s, struct verr *errs, json_t *dirty)
{
	struct tunnel_plan p = { 0 };
	struct tunnel_alloc al = { 0 };
	json_t *sites = NULL, *topos = NULL, *explicit = NULL;
	struct tunnel_row *rows = NULL;
	size_t nrows = 0;
	int r;

	r = store_all(s, &kind_site, &sites);
	if (r == 0)
		r = store_all(s, &kind_topology, &topos);
	if (r == 0)
		r = store_all(s, &kind_tunnel, &explicit);
	if (r == 0)
		r = tunnel_plan_build(&p, sites, topos, explicit);
	if (r == 0)
		r = tunnel_rows_load(store_db(s), &rows, &nrows);
	if (r == 0)
		r = tunnel_alloc_init(&al, store_overlay_pool(s), rows, nrows, p.ndefs);
	if (r == 0)
		r = tunnel_apply(store_db(s), &p, rows, nrows, &al, errs, dirty);
	free(al.used);
	tunnel_rows_free(rows, nrows);
	tunnel_plan_free(&p);
	json_decref(sites);
	json_decref(topos);
	json_decref(explicit);
	return r;
}

/* The two ends of overlay block idx: site_a takes the first address, site_b the second. */
int tunnel_overlay_addrs(const struct addr_prefix *pool, long long idx, struct addr_prefix *a,
			 struct addr_prefix *b)
{
	struct addr_prefix blk;
	int r;

	if (idx < 0)
		return -ENOENT;
	r = addr_prefix_nth(pool, tunnel_overlay_len(pool), (uint64_t)idx, &blk);
	if (r == 0)
		r = addr_offset(&blk, 0, &a->addr);
	if (r == 0)
		r = addr_offset(&blk, 1, &b->addr);
	a->len = b->len = blk.len;
	return r;
}

static json_t *tunnel_overlay_json(const struct addr_prefix *pool, sqlite3_stmt *st, int col,
				   const char *a, const char *b)
{
	struct addr_prefix pa, pb;
	char ta[ADDR_PREFIX_STRLEN], tb[ADDR_PREFIX_STRLEN];

	if (sqlite3_column_type(st, col) == SQLITE_NULL ||
	    tunnel_overlay_addrs(pool, sqlite3_column_int64(st, col), &pa, &pb) < 0)
		return json_null();
	addr_prefix_fmt(&pa, ta, sizeof(ta));
	addr_prefix_fmt(&pb, tb, sizeof(tb));
	return json_pack("{s:s, s:s}", a, ta, b, tb);
}

void tunnel_ifname(long long id, char *buf, size_t len)
{
	snprintf(buf, len, "gs%lld", id);
}

static json_t *tunnel_row_json(const struct addr_prefix *pool, sqlite3_stmt *st)
{
	long long id = sqlite3_column_int64(st, 0);
	const char *a = (const char *)sqlite3_column_text(st, 1);
	const char *b = (const char *)sqlite3_column_text(st, 2);
	const char *source = (const char *)sqlite3_column_text(st, 4);
	json_t *sources = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
	char ifname[TUNNEL_IFNAME_LEN];

	tunnel_ifname(id, ifname, sizeof(ifname));
	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:I, s:I, s:{s:s, s:s}, s:o, s:s}",
			 "id", (json_int_t)id,
			 "name", strncmp(source, "tunnel/", 7) == 0 ? json_string(source + 7)
								   : json_null(),
			 "a", a, "b", b,
			 "origin", sqlite3_column_text(st, 3),
			 "source", source,
			 "sources", sources ? sources : json_array(),
			 "tunnel_type", sqlite3_column_text(st, 6),
			 "profile", sqlite3_column_text(st, 7),
			 "key", (json_int_t)id, "reqid", (json_int_t)(TUNNEL_REQID_BASE + id),
			 "interfaces", a, ifname, b, ifname,
			 "overlay", tunnel_overlay_json(pool, st, 9, a, b),
			 "created_at", sqlite3_column_text(st, 8));
}

static json_t *tunnel_page_row(sqlite3_stmt *st, void *ctx)
{
	return tunnel_row_json(ctx, st);
}

int tunnel_list(struct store *s, const char *site, long long after_id, unsigned limit,
		json_t **out)
{
	sqlite3_stmt *st = db_stmt(store_db(s),
		"SELECT id, site_a, site_b, origin, source, sources, tunnel_type, profile, "
		"created_at, overlay FROM tunnel WHERE id > ?1 AND (?2 IS NULL OR site_a = ?2 OR site_b = ?2) "
		"ORDER BY id LIMIT ?3");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, after_id);
	if (site)
		sqlite3_bind_text(st, 2, site, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, (int)limit);
	return db_page(st, limit, tunnel_page_row, (void *)store_overlay_pool(s), out);
}
