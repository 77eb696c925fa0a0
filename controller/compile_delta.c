/* The compile context after a write, derived from the committed one instead of read
 * again from the whole store. A write that changes no topology changes the context in
 * three places only: the bodies of the sites it wrote, the profiles (few, read again),
 * and some tunnels: those materialisation lists as changed (store_tunnels_changed), or,
 * when it does not know (a key rotated, an agent's features), every tunnel of the dirty
 * sites; the dirty sites' agent features are read again too. Everything else (the other
 * sites' bodies, roles and tunnels, and the key blocks behind them) is shared or copied
 * from the committed context. tests/unit/test_incremental.c checks every intent
 * compiled from such a context against one compiled from scratch. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "compile_ctx.h"
#include "intent.h"
#include "tunnel.h"

/* Beyond this many sites to read again, reading everything costs about as much. */
#define COMPILE_DELTA_MAX 256
/* Key blocks a context may gather before a full read packs them into one again. */
#define COMPILE_DELTA_KEYS 32

struct compile_delta {
	const struct compile_ctx *old;
	json_t *written;	/* sites whose bodies the write log has */
	const json_t *dirty;	/* sites whose features (and maybe tunnels) are read again */
	long *old_of;		/* new index -> old index, -1 when written */
	long *new_of;		/* old index -> new index, -1 when gone or written */
};

/* 1 when the write log is beyond a delta. */
static int compile_delta_scope(const json_t *changes, const json_t *dirty, struct compile_delta *d)
{
	size_t i;
	json_t *ch;

	if (!changes || !d->old || d->old->nkeys >= COMPILE_DELTA_KEYS)
		return 1;
	d->written = json_object();
	if (!d->written)
		return -ENOMEM;
	json_array_foreach(changes, i, ch) {
		const char *kind = json_string_value(json_object_get(ch, "kind"));

		if (!strcmp(kind, "topology"))
			return 1;
		if (!strcmp(kind, "site"))
			json_object_set_new(d->written, json_string_value(json_object_get(ch, "name")),
					    json_true());
	}
	return json_object_size(d->written) + json_object_size(dirty) > COMPILE_DELTA_MAX;
}

static int compile_delta_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The written sites that exist now, in name order: their bodies appended to fresh. */
static int compile_delta_written(struct store *s, const struct compile_delta *d, json_t *fresh)
{
	size_t n = 0, i;
	const char *k, **v = calloc(json_object_size(d->written) + 1, sizeof(*v));
	json_t *val, *body;
	int r = v ? 0 : -ENOMEM;

	json_object_foreach(d->written, k, val)
		if (v)
			v[n++] = k;
	if (v && n)
		qsort(v, n, sizeof(*v), compile_delta_cmp);
	for (i = 0; r == 0 && i < n; i++) {
		r = store_get(s, &kind_site, v[i], &body, NULL);
		if (r == 0 && json_array_append_new(fresh, body) < 0)
			r = -ENOMEM;
		else if (r == -ENOENT)
			r = 0;
	}
	free(v);
	return r;
}

/* The sites now: the committed ones but the written, merged with the written that
 * exist, in name order; the index maps both ways. */
static int compile_delta_sites(struct store *s, struct compile_delta *d, struct compile_ctx *c)
{
	const struct compile_ctx *o = d->old;
	json_t *fresh = json_array();
	unsigned char *gone = calloc(o->n + 1, 1);
	size_t i = 0, k = 0, nf;
	const char *key;
	json_t *v;
	int r = fresh && gone ? compile_delta_written(s, d, fresh) : -ENOMEM;

	/* The written sites' committed indices, so the walk below only compares. */
	json_object_foreach(d->written, key, v) {
		long x = gone ? compile_site_index(o, key) : -1;

		if (x >= 0)
			gone[x] = 1;
	}
	nf = json_array_size(fresh);
	c->sites = json_array();
	c->names = calloc(o->n + nf + 1, sizeof(*c->names));
	d->old_of = calloc(o->n + nf + 1, sizeof(*d->old_of));
	d->new_of = calloc(o->n + 1, sizeof(*d->new_of));
	if (r == 0 && (!c->sites || !c->names || !d->old_of || !d->new_of))
		r = -ENOMEM;
	while (r == 0 && (i < o->n || k < nf)) {
		const json_t *f = json_array_get(fresh, k);
		const char *fname = f ? json_string_value(json_object_get(f, "name")) : NULL;

		if (i < o->n && gone[i]) {
			d->new_of[i++] = -1;
			continue;
		}
		if (!fname || (i < o->n && strcmp(o->names[i], fname) < 0)) {
			d->new_of[i] = (long)c->n;
			d->old_of[c->n] = (long)i;
			c->names[c->n] = o->names[i];	/* the same body: the same string */
			r = json_array_append(c->sites, json_array_get(o->sites, i++));
		} else {
			d->old_of[c->n] = -1;
			c->names[c->n] = fname;
			r = json_array_append(c->sites, json_array_get(fresh, k++));
		}
		c->n++;
	}
	/* A written site that was there before keeps its tunnels. */
	for (i = 0; r == 0 && i < c->n; i++) {
		long x = d->old_of[i] < 0 ? compile_site_index(o, c->names[i]) : -1;

		if (x >= 0)
			d->new_of[x] = (long)i;
	}
	free(gone);
	json_decref(fresh);
	return r < 0 ? -ENOMEM : r;
}

/* The committed key blocks, shared: the kept tunnels' keys are in them. */
static int compile_delta_keys(const struct compile_ctx *o, struct compile_ctx *c)
{
	c->keys = malloc((o->nkeys + 1) * sizeof(*c->keys));
	if (!c->keys)
		return -ENOMEM;
	for (size_t i = 0; i < o->nkeys; i++)
		o->keys[i]->refs++;
	if (o->nkeys)
		memcpy(c->keys, o->keys, o->nkeys * sizeof(*c->keys));
	c->nkeys = o->nkeys;
	return 0;
}

/* The new context's profile for each of the committed context's (by name). */
static const json_t **compile_delta_profiles(const struct compile_ctx *o,
					     const struct compile_ctx *c)
{
	size_t np = json_array_size(o->profiles);
	const json_t **prof = calloc(np + 1, sizeof(*prof));

	for (size_t j = 0; prof && j < np; j++)
		prof[j] = compile_profile(c, json_string_value(json_object_get(
					  json_array_get(o->profiles, j), "name")));
	return prof;
}

/* Appends committed tunnel t, on the new indices and profiles, unless its tunnels are
 * read again. */
static int compile_delta_keep(const struct compile_delta *d, const unsigned char *reread,
			      const json_t **prof, const struct compile_tun *t,
			      struct compile_ctx *c)
{
	const struct compile_ctx *o = d->old;
	size_t j = 0, np = json_array_size(o->profiles);
	struct compile_tun *k = &c->tuns[c->ntuns];

	if (reread[t->a] || reread[t->b] || d->new_of[t->a] < 0 || d->new_of[t->b] < 0)
		return 0;
	/* Profiles are few: the pointer's position is found faster than its name. */
	while (j < np && json_array_get(o->profiles, j) != t->profile)
		j++;
	*k = *t;
	k->a = (size_t)d->new_of[t->a];
	k->b = (size_t)d->new_of[t->b];
	k->profile = j < np ? prof[j] : NULL;
	c->ntuns++;
	return k->profile ? 0 : -EIO;
}

static int compile_delta_tun_cmp(const void *x, const void *y)
{
	const struct compile_tun *a = x, *b = y;

	return (a->id > b->id) - (a->id < b->id);
}

/* The tunnels of the dirty sites, read again (a tunnel of two of them once). */
static int compile_delta_reread(struct store *s, const struct compile_delta *d,
				struct compile_ctx *c, struct compile_tun **out, size_t *n)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT id, site_a, site_b, tunnel_type, profile, "
		"psk, overlay FROM tunnel WHERE site_a = ?1 UNION ALL SELECT id, site_a, site_b, "
		"tunnel_type, profile, psk, overlay FROM tunnel WHERE site_b = ?1");
	struct compile_keys *k = compile_keys_new();
	size_t m = 0;
	const char *name;
	json_t *v;
	int r = st && k ? 0 : -ENOMEM;

	json_object_foreach((json_t *)d->dirty, name, v) {
		if (r < 0)
			break;
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		r = compile_tunnels_read(c, st, k, out, n);
		sqlite3_reset(st);
	}
	if (r < 0) {
		compile_keys_unref(k);
		return r;
	}
	if (*n)
		qsort(*out, *n, sizeof(**out), compile_delta_tun_cmp);
	for (size_t i = 0; i < *n; i++)
		if (!m || (*out)[m - 1].id != (*out)[i].id)
			(*out)[m++] = (*out)[i];
	*n = m;
	return compile_keys_attach(c, k, *out, m);
}

static int compile_delta_id_cmp(const void *x, const void *y)
{
	long long a = *(const long long *)x, b = *(const long long *)y;

	return (a > b) - (a < b);
}

/* The tunnels materialisation changed (ids, sorted into *chg), read again: only they
 * can differ from the committed context's. */
static int compile_delta_reread_ids(struct store *s, struct compile_ctx *c, const json_t *ids,
				    long long **chg, size_t *nchg, struct compile_tun **out,
				    size_t *n)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT id, site_a, site_b, tunnel_type, profile, "
				   "psk, overlay FROM tunnel WHERE id = ?1");
	struct compile_keys *k = compile_keys_new();
	size_t i;
	json_t *v;
	int r = st && k && (*chg = calloc(json_array_size(ids) + 1, sizeof(**chg))) ? 0 : -ENOMEM;

	json_array_foreach(ids, i, v)
		if (r == 0)
			(*chg)[(*nchg)++] = json_integer_value(v);
	if (r == 0 && *nchg)
		qsort(*chg, *nchg, sizeof(**chg), compile_delta_id_cmp);
	for (i = 0; r == 0 && i < *nchg; i++) {
		if (i && (*chg)[i] == (*chg)[i - 1])
			continue;
		sqlite3_bind_int64(st, 1, (*chg)[i]);
		r = compile_tunnels_read(c, st, k, out, n);
		sqlite3_reset(st);
	}
	if (r < 0) {
		compile_keys_unref(k);
		return r;
	}
	return compile_keys_attach(c, k, *out, *n);
}

/* The kept tunnels and the ones read again, merged in id order in one pass. */
static int compile_delta_tunnels(struct store *s, const struct compile_delta *d,
				 struct compile_ctx *c)
{
	const struct compile_ctx *o = d->old;
	const json_t *ids = store_tunnels_changed(s);
	unsigned char *reread = calloc(o->n + 1, 1);
	const json_t **prof = compile_delta_profiles(o, c);
	struct compile_tun *fresh = NULL;
	long long *chg = NULL;
	size_t nf = 0, nchg = 0, i = 0, j = 0, x = 0;
	const char *name;
	json_t *v;
	int r = reread && prof ? compile_delta_keys(o, c) : -ENOMEM;

	/* Without the list of changed tunnels, every tunnel of a dirty site is read again. */
	json_object_foreach((json_t *)(ids ? NULL : d->dirty), name, v) {
		long k = reread ? compile_site_index(o, name) : -1;

		if (k >= 0)
			reread[k] = 1;
	}
	if (r == 0)
		r = ids ? compile_delta_reread_ids(s, c, ids, &chg, &nchg, &fresh, &nf)
			: compile_delta_reread(s, d, c, &fresh, &nf);
	if (r == 0 && !(c->tuns = malloc((o->ntuns + nf + 1) * sizeof(*c->tuns))))
		r = -ENOMEM;
	while (r == 0 && (i < o->ntuns || j < nf)) {
		if (j < nf && (i >= o->ntuns || o->tuns[i].id >= fresh[j].id)) {
			c->tuns[c->ntuns++] = fresh[j++];
			continue;
		}
		while (x < nchg && chg[x] < o->tuns[i].id)
			x++;
		/* A changed tunnel is in fresh, or gone. */
		if (x < nchg && chg[x] == o->tuns[i].id)
			i++;
		else
			r = compile_delta_keep(d, reread, prof, &o->tuns[i++], c);
	}
	free(chg);
	free(fresh);
	free(prof);
	free(reread);
	return r;
}

/* Shares the committed tunnels, keys and adjacency: a write that read no tunnel again,
 * kept every site's index and changed no profile (the tunnels point at the profiles). */
static int compile_delta_share(const struct compile_delta *d, const json_t *changes,
			       struct compile_ctx *c)
{
	const struct compile_ctx *o = d->old;
	size_t i;
	json_t *ch;

	if (json_object_size(d->dirty) || c->n != o->n)
		return 1;
	for (i = 0; i < c->n; i++)
		if (d->new_of[i] != (long)i)
			return 1;
	json_array_foreach(changes, i, ch)
		if (!strcmp(json_string_value(json_object_get(ch, "kind")), "profile"))
			return 1;
	if (!o->links && !(((struct compile_ctx *)o)->links = calloc(1, sizeof(*o->links))))
		return -ENOMEM;
	if (*o->links == 0)
		*o->links = 1;
	++*o->links;
	c->links = o->links;
	c->tuns = o->tuns;
	c->ntuns = o->ntuns;
	c->keys = o->keys;
	c->nkeys = o->nkeys;
	c->adj_off = o->adj_off;
	c->adj = o->adj;
	json_decref(c->profiles);
	c->profiles = json_incref(o->profiles);
	return 0;
}

/* Whether site i's agent reported the psk-hex feature (or it is unmanaged: peer-config
 * renders keys as bytes): the committed answer unless the site was written or dirty. */
static int compile_delta_features(struct store *s, const struct compile_delta *d,
				  struct compile_ctx *c)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT 1 FROM site_status WHERE site = ?1 AND "
		"EXISTS (SELECT 1 FROM json_each(body, '$.features') WHERE value = ?2)");
	int rc = SQLITE_DONE;

	bool dirty = json_object_size(d->dirty) > 0;

	c->psk_hex = calloc(c->n + 1, 1);
	if (!st || !c->psk_hex)
		return st ? -ENOMEM : -EIO;
	for (size_t i = 0; i < c->n && (rc == SQLITE_DONE || rc == SQLITE_ROW); i++) {
		if (d->old_of[i] >= 0 && !(dirty && json_object_get(d->dirty, c->names[i]))) {
			c->psk_hex[i] = d->old->psk_hex[d->old_of[i]];
			continue;
		}
		sqlite3_bind_text(st, 1, c->names[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, INTENT_FEATURE_PSK_HEX, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		c->psk_hex[i] = rc == SQLITE_ROW ||
				json_is_false(json_object_get(json_array_get(c->sites, i), "managed"));
		sqlite3_reset(st);
	}
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_errno(rc);
}

/* Roles: the committed ones of the sites not written; the written ones anew. */
static int compile_delta_roles(const struct compile_delta *d, struct compile_ctx *c)
{
	size_t nt = json_array_size(c->topos);
	bool same = c->n == d->old->n;

	for (size_t i = 0; same && i < c->n; i++)
		same = d->old_of[i] < 0 || d->old_of[i] == (long)i;
	c->roles = calloc(nt * c->n + 1, 1);
	if (!c->roles)
		return -ENOMEM;
	for (size_t t = 0; t < nt; t++) {
		const json_t *topo = json_array_get(c->topos, t);
		const unsigned char *was = d->old->roles + t * d->old->n;
		unsigned char *role = c->roles + t * c->n;

		/* Same sites, same indices: the committed roles, then the written sites'. */
		if (same && c->n)
			memcpy(role, was, c->n);
		for (size_t i = 0; i < c->n; i++)
			if (d->old_of[i] < 0)
				role[i] = tunnel_role(topo, c->names[i], json_array_get(c->sites, i));
			else if (!same)
				role[i] = was[d->old_of[i]];
	}
	return 0;
}

int compile_delta_sites_now(struct store *s, const struct compile_ctx *old,
			    const json_t *changes, json_t **sites)
{
	struct compile_delta d = { .old = old };
	struct compile_ctx c = { 0 };
	int r = compile_delta_scope(changes, NULL, &d);

	if (r == 0)
		r = compile_delta_sites(s, &d, &c);
	if (r == 0) {
		*sites = c.sites;
		c.sites = NULL;
	}
	json_decref(c.sites);
	free(c.names);
	json_decref(d.written);
	free(d.old_of);
	free(d.new_of);
	return r;
}

int compile_delta_new(struct store *s, const struct compile_ctx *old, const json_t *changes,
		      const json_t *dirty, struct compile_ctx **out)
{
	struct compile_delta d = { .old = old, .dirty = dirty };
	struct compile_ctx *c = NULL;
	int r = compile_delta_scope(changes, dirty, &d);

	if (r == 0 && !(c = calloc(1, sizeof(*c))))
		r = -ENOMEM;
	if (r == 0) {
		c->pool = *store_overlay_pool(s);
		c->topos = json_incref(old->topos);
		r = compile_pki(s, c);
	}
	if (r == 0)
		r = store_all(s, &kind_profile, &c->profiles);
	if (r == 0)
		r = compile_delta_sites(s, &d, c);
	if (r == 0)
		r = compile_infos(c, old, d.old_of);
	if (r == 0 && (r = compile_delta_share(&d, changes, c)) == 1)
		r = compile_delta_tunnels(s, &d, c);
	if (r == 0)
		r = compile_prof_infos(c);
	if (r == 0 && !c->links)
		r = compile_adjacency(c);
	if (r == 0)
		r = compile_delta_features(s, &d, c);
	if (r == 0)
		r = compile_delta_roles(&d, c);
	json_decref(d.written);
	free(d.old_of);
	free(d.new_of);
	if (r != 0) {
		compile_ctx_free(c);
		return r;
	}
	*out = c;
	return 0;
}
