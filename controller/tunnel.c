#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/socket.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "psk.h"
#include "tunnel.h"
#include "tunnel_plan.h"

/* Reqids below this are left to charon's own allocation (api/intent.h). */
#define TUNNEL_REQID_BASE 0x10000

void tunnel_plan_free(struct tunnel_plan *p)
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

int tunnel_add_def(struct tunnel_plan *p, unsigned x, unsigned y, unsigned src)
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

int tunnel_add_src(struct tunnel_plan *p, const char *kind, const json_t *body, int is_explicit)
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

unsigned char tunnel_role(const json_t *topo, const char *name, const json_t *site)
{
	const json_t *want = json_object_get(topo, "match_tags");
	unsigned char role = TUNNEL_NONE;
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(topo, "hubs"), i, v)
		if (!strcmp(json_string_value(v), name))
			return TUNNEL_HUB;
	json_array_foreach(json_object_get(topo, "members"), i, v)
		if (!strcmp(json_string_value(v), name))
			role = TUNNEL_MEMBER;
	if (json_object_size(want) > 0 && site && tunnel_tags_match(site, want))
		role = TUNNEL_MEMBER;
	return role;
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

void tunnel_plan_sort(struct tunnel_plan *p)
{
	if (p->ndefs)
		qsort(p->defs, p->ndefs, sizeof(*p->defs), tunnel_def_cmp);
}

/* Every explicit tunnel has a source, joining its pair or not: then a tunnel's source
 * index is the same whichever sites a plan covers. */
int tunnel_plan_srcs(struct tunnel_plan *p, const json_t *explicit, const json_t *topos)
{
	size_t i;
	json_t *v;
	int r = 0;

	p->srcs = calloc(json_array_size(topos) + json_array_size(explicit) + 1, sizeof(*p->srcs));
	if (!p->srcs)
		return -ENOMEM;
	json_array_foreach(explicit, i, v)
		if (r == 0)
			r = tunnel_add_src(p, "tunnel", v, 1);
	json_array_foreach(topos, i, v)
		if (r == 0)
			r = tunnel_add_src(p, "topology", v, 0);
	return r;
}

static int tunnel_plan_build(struct tunnel_plan *p, const json_t *sites, const json_t *topos,
			     const json_t *explicit)
{
	size_t i, nexp = json_array_size(explicit);
	unsigned char *role = NULL;
	json_t *v;
	int r = -ENOMEM;

	p->nnames = json_array_size(sites);
	p->names = calloc(p->nnames + 1, sizeof(*p->names));
	role = calloc(p->nnames + 1, 1);
	if (!p->names || !role || (r = tunnel_plan_srcs(p, explicit, topos)) < 0)
		goto out;
	json_array_foreach(sites, i, v)
		p->names[i] = json_string_value(json_object_get(v, "name"));
	json_array_foreach(explicit, i, v) {
		long a = tunnel_site_index(p, json_string_value(json_object_get(v, "a")));
		long b = tunnel_site_index(p, json_string_value(json_object_get(v, "b")));

		if (r == 0 && a >= 0 && b >= 0)
			r = tunnel_add_def(p, (unsigned)a, (unsigned)b, (unsigned)i);
	}
	json_array_foreach(topos, i, v)
		if (r == 0)
			r = tunnel_topology_defs(p, sites, v, (unsigned)(nexp + i), role);
	if (r == 0)
		tunnel_plan_sort(p);
out:
	free(role);
	return r;
}

void tunnel_row_clear(struct tunnel_row *row)
{
	free(row->a);
	free(row->b);
	free(row->origin);
	free(row->source);
	free(row->sources);
	free(row->type);
	free(row->profile);
}

void tunnel_rows_free(struct tunnel_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tunnel_row_clear(&rows[i]);
	free(rows);
}

static char *tunnel_col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return strdup(t ? (const char *)t : "");
}

int tunnel_rows_read(sqlite3_stmt *st, struct tunnel_row **rows, size_t *n, size_t *cap)
{
	struct tunnel_row *tmp;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 1024;

			tmp = realloc(*rows, c * sizeof(*tmp));
			if (!tmp)
				return -ENOMEM;
			*rows = tmp;
			*cap = c;
		}
		(*rows)[(*n)++] = (struct tunnel_row){
			sqlite3_column_int64(st, 0), tunnel_col(st, 1), tunnel_col(st, 2),
			tunnel_col(st, 3), tunnel_col(st, 4), tunnel_col(st, 5),
			tunnel_col(st, 6), tunnel_col(st, 7),
			sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 8) };
	}
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* All existing rows, read before any write so the table is never changed under a cursor. */
static int tunnel_rows_load(struct db *db, struct tunnel_row **out, size_t *nout)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, site_a, site_b, origin, source, sources, "
				   "tunnel_type, profile, overlay FROM tunnel ORDER BY site_a, site_b");
	size_t cap = 0;
	int r;

	*out = NULL;
	*nout = 0;
	if (!st)
		return -EIO;
	r = tunnel_rows_read(st, out, nout, &cap);
	sqlite3_reset(st);
	if (r < 0) {
		tunnel_rows_free(*out, *nout);
		*out = NULL;
	}
	return r;
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

void tunnel_alloc_init(struct tunnel_alloc *al, const struct addr_prefix *pool,
		       struct overlay_map *map)
{
	unsigned bits = tunnel_overlay_len(pool) - pool->len;

	al->pool = pool;
	al->capacity = bits >= 63 ? UINT64_MAX : (uint64_t)1 << bits;
	al->next = 0;
	al->map = map;
}

static int tunnel_alloc_take(struct tunnel_alloc *al, struct verr *errs, long long *out)
{
	char pool[ADDR_PREFIX_STRLEN];

	al->next = overlay_map_lowest_free(al->map, al->next);
	if (al->next >= al->capacity) {
		addr_prefix_fmt(al->pool, pool, sizeof(pool));
		verr_add(errs, "", "overlay address pool %s is exhausted (%llu tunnels fit)", pool,
			 (unsigned long long)al->capacity);
		return -EINVAL;
	}
	*out = (long long)al->next;
	return overlay_map_take(al->map, al->next);
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

/* A tunnel whose change shows in intents: its sites to dirty, its id to ids. */
static void tunnel_dirty(json_t *dirty, json_t *ids, const char *a, const char *b,
			 long long id)
{
	if (dirty) {
		json_object_set_new(dirty, a, json_true());
		json_object_set_new(dirty, b, json_true());
	}
	if (ids)
		json_array_append_new(ids, json_integer(id));
}

/* Walks existing rows and desired pairs, both sorted by (site_a, site_b), in step. */
int tunnel_apply(struct db *db, const struct tunnel_plan *p, const struct tunnel_row *rows,
		 size_t nrows, struct tunnel_alloc *al, struct verr *errs, json_t *dirty,
		 json_t *ids)
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
			tunnel_dirty(dirty, ids, rows[i].a, rows[i].b, rows[i].id);
			r = tunnel_delete(db, rows[i].id);
			/* Its block stays taken until the write commits (overlay_map.h). */
			if (r == 0 && rows[i].overlay >= 0)
				r = overlay_map_release(al->map, (uint64_t)rows[i].overlay);
			i++;
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
			tunnel_dirty(dirty, ids, w.a, w.b, c > 0 ? sqlite3_last_insert_rowid(db_handle(db))
							       : rows[i - 1].id);
			r = 0;
		}
		free(w.sources);
		d = end;
	}
	return r;
}

/* Every pair from scratch; the map of taken blocks is rebuilt from the rows on the way. */
static int tunnel_materialize_all(struct store *s, struct verr *errs, json_t *dirty)
{
	struct tunnel_plan p = { 0 };
	struct tunnel_alloc al = { 0 };
	json_t *sites = NULL, *topos = NULL, *explicit = NULL;
	struct overlay_map *map = overlay_map_new();
	struct tunnel_row *rows = NULL;
	size_t nrows = 0;
	int r = map ? store_all(s, &kind_site, &sites) : -ENOMEM;

	if (r == 0)
		r = store_all(s, &kind_topology, &topos);
	if (r == 0)
		r = store_all(s, &kind_tunnel, &explicit);
	if (r == 0)
		r = tunnel_plan_build(&p, sites, topos, explicit);
	if (r == 0)
		r = tunnel_rows_load(store_db(s), &rows, &nrows);
	for (size_t i = 0; r == 0 && i < nrows; i++)
		if (rows[i].overlay >= 0)
			r = overlay_map_take(map, (uint64_t)rows[i].overlay);
	tunnel_alloc_init(&al, store_overlay_pool(s), map);
	if (r == 0)
		r = tunnel_apply(store_db(s), &p, rows, nrows, &al, errs, dirty, NULL);
	/* Kept even on failure: the rollback that follows drops it. */
	store_set_overlays(s, map);
	tunnel_rows_free(rows, nrows);
	tunnel_plan_free(&p);
	json_decref(sites);
	json_decref(topos);
	json_decref(explicit);
	return r;
}

int tunnel_materialize(struct store *s, const json_t *changes, struct verr *errs, json_t *dirty)
{
	json_t *touched = NULL, *ids = NULL;
	int r = tunnel_delta_touched(s, changes, &touched);

	if (r == 0 && touched && !(ids = json_array()))
		r = -ENOMEM;
	if (r == 0 && touched)
		r = tunnel_delta_materialize(s, touched, errs, dirty, ids);
	else if (r == 0)
		r = tunnel_materialize_all(s, errs, dirty);
	/* A full pass does not list what it changed: then nobody knows. */
	store_set_tunnels_changed(s, ids);
	json_decref(touched);
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
