/* Incremental materialisation: a write that touches a few sites (and no topology)
 * re-derives only the pairs with an end among them. Every other pair joins two sites
 * whose roles, and the definitions over them, are what they were at the last commit, so
 * its row stays as it is; the roles of those sites come from the committed compile
 * context instead of the whole store. The rows of the touched pairs go through the same
 * walk as a full pass, in the same pair order, against the same map of taken overlay
 * blocks: identifiers and blocks come out as a full pass would give them
 * (tests/unit/test_incremental.c holds the two to each other). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "compile_ctx.h"
#include "tunnel.h"
#include "tunnel_plan.h"

/* Beyond this many touched sites a full pass costs about as much. */
#define TUNNEL_DELTA_MAX 64

struct tunnel_delta {
	const struct compile_ctx *c;	/* the committed context */
	const char **names;		/* the sites now, sorted (moved to the plan) */
	size_t n;
	long *old_of;			/* index in c, -1 for a touched site */
	const json_t **body;		/* a touched site's body now, NULL otherwise */
	json_t *bodies;			/* holds them */
};

static void tunnel_delta_add(json_t *set, const json_t *name)
{
	if (json_is_string(name))
		json_object_set_new(set, json_string_value(name), json_true());
}

/* The sites one change can re-join; 1 when it can re-join anything. */
static int tunnel_delta_change(const json_t *ch, json_t *set)
{
	const char *kind = json_string_value(json_object_get(ch, "kind"));
	const json_t *old = json_object_get(ch, "old"), *new = json_object_get(ch, "new");

	if (!strcmp(kind, "topology"))
		return 1;
	if (!strcmp(kind, "site") && !(old && new && json_equal(json_object_get(old, "tags"),
								 json_object_get(new, "tags"))))
		tunnel_delta_add(set, json_object_get(ch, "name"));
	if (!strcmp(kind, "tunnel")) {
		tunnel_delta_add(set, json_object_get(old, "a"));
		tunnel_delta_add(set, json_object_get(old, "b"));
		tunnel_delta_add(set, json_object_get(new, "a"));
		tunnel_delta_add(set, json_object_get(new, "b"));
	}
	return 0;
}

int tunnel_delta_touched(struct store *s, const json_t *changes, json_t **touched)
{
	const struct compile_ctx *c = store_compiled(s);
	json_t *set, *ch;
	size_t i;

	*touched = NULL;
	if (!changes || !c)
		return 0;
	set = json_object();
	if (!set)
		return -ENOMEM;
	json_array_foreach(changes, i, ch) {
		if (tunnel_delta_change(ch, set) || json_object_size(set) > TUNNEL_DELTA_MAX) {
			json_decref(set);
			return 0;
		}
	}
	*touched = set;
	return 0;
}

static int tunnel_delta_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void tunnel_delta_free(struct tunnel_delta *d)
{
	free(d->names);
	free(d->old_of);
	free(d->body);
	json_decref(d->bodies);
}

/* The touched sites that exist now, sorted, their bodies in d->bodies in that order. */
static int tunnel_delta_load(struct store *s, const json_t *touched, struct tunnel_delta *d,
			     const char ***names, size_t *n)
{
	const char *k, **v = calloc(json_object_size(touched) + 1, sizeof(*v));
	json_t *val, *body;
	int r = 0;

	*names = v;
	*n = 0;
	if (!v || !(d->bodies = json_array()))
		return -ENOMEM;
	json_object_foreach((json_t *)touched, k, val)
		v[(*n)++] = k;
	if (*n)
		qsort(v, *n, sizeof(*v), tunnel_delta_cmp);
	for (size_t i = 0, all = *n; r == 0 && i < all; i++) {
		r = store_get(s, &kind_site, v[i], &body, NULL);
		if (r == -ENOENT) {
			r = 0;	/* deleted: its rows go, no pair is derived for it */
			continue;
		}
		if (r == 0 && json_array_append_new(d->bodies, body) < 0)
			r = -ENOMEM;
		v[json_array_size(d->bodies) - 1] = v[i];
	}
	*n = json_array_size(d->bodies);
	return r;
}

/* The sites now: the committed ones but the touched, merged with the touched that
 * exist, in name order. */
static int tunnel_delta_names(struct store *s, const json_t *touched, struct tunnel_delta *d)
{
	const struct compile_ctx *c = d->c;
	const char **t = NULL;
	size_t nt = 0, i = 0, k = 0;
	int r = tunnel_delta_load(s, touched, d, &t, &nt);

	d->names = calloc(c->n + nt + 1, sizeof(*d->names));
	d->old_of = calloc(c->n + nt + 1, sizeof(*d->old_of));
	d->body = calloc(c->n + nt + 1, sizeof(*d->body));
	if (r == 0 && (!d->names || !d->old_of || !d->body))
		r = -ENOMEM;
	while (r == 0 && (i < c->n || k < nt)) {
		if (i < c->n && json_object_get(touched, c->names[i])) {
			i++;
		} else if (k >= nt || (i < c->n && strcmp(c->names[i], t[k]) < 0)) {
			d->old_of[d->n] = (long)i;
			d->names[d->n++] = c->names[i++];
		} else {
			d->old_of[d->n] = -1;
			d->body[d->n] = json_array_get(d->bodies, k);
			d->names[d->n++] = t[k++];
		}
	}
	free(t);
	return r;
}

static unsigned char tunnel_delta_role(const struct tunnel_delta *d, size_t t, size_t i)
{
	if (d->old_of[i] >= 0)
		return d->c->roles[t * d->c->n + (size_t)d->old_of[i]];
	return tunnel_role(json_array_get(d->c->topos, t), d->names[i], d->body[i]);
}

/* Topology t's pairs with an end at touched site x; a pair of two touched sites once. */
static int tunnel_delta_topology(struct tunnel_plan *p, const struct tunnel_delta *d, size_t t,
				 size_t x, unsigned src)
{
	const json_t *topo = json_array_get(d->c->topos, t);
	int mesh = strcmp(json_string_value(json_object_get(topo, "kind")), "full-mesh") == 0;
	unsigned char rx = tunnel_delta_role(d, t, x), rj;
	int r = 0;

	for (size_t j = 0; rx && j < d->n && r == 0; j++) {
		if (j == x || (d->old_of[j] < 0 && j < x))
			continue;
		rj = tunnel_delta_role(d, t, j);
		if (rj && (mesh || rx == TUNNEL_HUB || rj == TUNNEL_HUB))
			r = tunnel_add_def(p, (unsigned)x, (unsigned)j, src);
	}
	return r;
}

static long tunnel_delta_index(const struct tunnel_delta *d, const json_t *name)
{
	const char *key = json_string_value(name);
	const char **hit = key && d->n ? bsearch(&key, d->names, d->n, sizeof(*d->names),
						 tunnel_delta_cmp) : NULL;

	return hit ? hit - d->names : -1;
}

static int tunnel_delta_plan(struct tunnel_plan *p, const struct tunnel_delta *d,
			     const json_t *explicit)
{
	size_t i, nexp = json_array_size(explicit);
	json_t *v;
	int r = tunnel_plan_srcs(p, explicit, d->c->topos);

	json_array_foreach(explicit, i, v) {
		long a = tunnel_delta_index(d, json_object_get(v, "a"));
		long b = tunnel_delta_index(d, json_object_get(v, "b"));

		if (r == 0 && a >= 0 && b >= 0 && (d->old_of[a] < 0 || d->old_of[b] < 0))
			r = tunnel_add_def(p, (unsigned)a, (unsigned)b, (unsigned)i);
	}
	for (size_t x = 0; x < d->n && r == 0; x++) {
		if (d->old_of[x] >= 0)
			continue;
		for (size_t t = 0; t < json_array_size(d->c->topos) && r == 0; t++)
			r = tunnel_delta_topology(p, d, t, x, (unsigned)(nexp + t));
	}
	if (r == 0)
		tunnel_plan_sort(p);
	return r;
}

static int tunnel_delta_row_cmp(const void *x, const void *y)
{
	const struct tunnel_row *a = x, *b = y;
	int c = strcmp(a->a, b->a);

	return c ? c : strcmp(a->b, b->b);
}

/* The rows with an end among the touched sites, in pair order, each once. */
static int tunnel_delta_rows(struct db *db, const json_t *touched, struct tunnel_row **rows,
			     size_t *n)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, site_a, site_b, origin, source, sources, "
		"tunnel_type, profile, overlay FROM tunnel WHERE site_a = ?1 UNION ALL "
		"SELECT id, site_a, site_b, origin, source, sources, tunnel_type, profile, "
		"overlay FROM tunnel WHERE site_b = ?1");
	size_t cap = 0, out = 0;
	const char *k;
	json_t *v;
	int r = 0;

	if (!st)
		return -EIO;
	json_object_foreach((json_t *)touched, k, v) {
		sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
		if (r == 0)
			r = tunnel_rows_read(st, rows, n, &cap);
		sqlite3_reset(st);
	}
	if (*n)
		qsort(*rows, *n, sizeof(**rows), tunnel_delta_row_cmp);
	/* A pair of two touched sites came once for each. */
	for (size_t i = 0; i < *n; i++) {
		if (out && (*rows)[out - 1].id == (*rows)[i].id)
			tunnel_row_clear(&(*rows)[i]);
		else
			(*rows)[out++] = (*rows)[i];
	}
	*n = out;
	return r;
}

static int tunnel_delta_map(struct store *s, struct overlay_map **out)
{
	struct overlay_map *m = store_overlays(s);
	int r = 0;

	if (!m) {
		m = overlay_map_new();
		r = m ? overlay_map_load(m, store_db(s)) : -ENOMEM;
		store_set_overlays(s, m);
	}
	*out = m;
	return r;
}

int tunnel_delta_materialize(struct store *s, const json_t *touched, struct verr *errs,
			     json_t *dirty, json_t *ids)
{
	struct tunnel_delta d = { .c = store_compiled(s) };
	struct tunnel_plan p = { 0 };
	struct tunnel_alloc al = { 0 };
	struct overlay_map *map = NULL;
	struct tunnel_row *rows = NULL;
	json_t *explicit = NULL;
	size_t nrows = 0;
	int r = tunnel_delta_names(s, touched, &d);

	if (r == 0)
		r = store_all(s, &kind_tunnel, &explicit);
	if (r == 0)
		r = tunnel_delta_plan(&p, &d, explicit);
	if (r == 0)
		r = tunnel_delta_rows(store_db(s), touched, &rows, &nrows);
	if (r == 0)
		r = tunnel_delta_map(s, &map);
	if (r == 0) {
		tunnel_alloc_init(&al, store_overlay_pool(s), map);
		p.names = d.names;
		p.nnames = d.n;
		r = tunnel_apply(store_db(s), &p, rows, nrows, &al, errs, dirty, ids);
		p.names = NULL;
	}
	tunnel_rows_free(rows, nrows);
	tunnel_plan_free(&p);
	tunnel_delta_free(&d);
	json_decref(explicit);
	return r;
}
