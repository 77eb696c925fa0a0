/* Bulk import and export. An import is one transaction: every item is normalised first
 * (all errors collected, nothing written when there is one), then in replace mode the
 * objects the document does not name are deleted in reverse dependency order, then every
 * item is written in dependency order, and store_finish checks the cross-object rules
 * and commits, or rolls back for a dry run. The JSON document and the CSV of sites both
 * end up as the same per-kind lists of (path, item), so they share every step. */
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "audit.h"
#include "import.h"

struct import_kind {
	const struct kind_ops *k;
	bool present;		/* named by the document: replace mode prunes this kind */
	json_t *items;		/* the document's items, as given */
	json_t *paths;		/* one path string per item: "sites[3]" or "line 4" */
	json_t *bodies;		/* canonical bodies, null where the item is invalid */
	json_t *index;		/* name -> path string, for duplicates and store_finish */
	json_t *created, *updated, *deleted;
	size_t unchanged;
};

struct import_run {
	struct import_kind *kinds;	/* kind_all order */
	size_t n;
};

static void import_run_free(struct import_run *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; r->kinds && i < r->n; i++) {
		struct import_kind *ik = &r->kinds[i];

		json_decref(ik->items);
		json_decref(ik->paths);
		json_decref(ik->bodies);
		json_decref(ik->index);
		json_decref(ik->created);
		json_decref(ik->updated);
		json_decref(ik->deleted);
	}
	free(r->kinds);
	free(r);
}

static struct import_run *import_run_new(void)
{
	struct import_run *r = calloc(1, sizeof(*r));
	size_t i;

	if (!r)
		return NULL;
	r->n = kind_count;
	r->kinds = calloc(kind_count, sizeof(*r->kinds));
	if (!r->kinds)
		goto fail;
	for (i = 0; i < r->n; i++) {
		struct import_kind *ik = &r->kinds[i];

		ik->k = kind_all[i];
		ik->items = json_array();
		ik->paths = json_array();
		ik->bodies = json_array();
		ik->index = json_object();
		ik->created = json_array();
		ik->updated = json_array();
		ik->deleted = json_array();
		if (!ik->items || !ik->paths || !ik->bodies || !ik->index || !ik->created ||
		    !ik->updated || !ik->deleted)
			goto fail;
	}
	return r;
fail:
	import_run_free(r);
	return NULL;
}

static struct import_kind *import_run_kind(struct import_run *r, const char *kind)
{
	size_t i;

	for (i = 0; kind && i < r->n; i++)
		if (!strcmp(r->kinds[i].k->name, kind) || !strcmp(r->kinds[i].k->plural, kind))
			return &r->kinds[i];
	return NULL;
}

/* store_finish's path_of: errors about an object of this document go under its path. */
static const char *import_path_of(void *ctx, const char *kind, const char *name)
{
	struct import_kind *ik = import_run_kind(ctx, kind);

	if (!ik || !name)
		return NULL;
	return json_string_value(json_object_get(ik->index, name));
}

static int import_add_item(struct import_kind *ik, json_t *item, const char *path)
{
	if (json_array_append(ik->items, item) || json_array_append_new(ik->paths, json_string(path)))
		return -ENOMEM;
	return 0;
}

/* The JSON document into per-kind lists; shape errors (not an object, unknown key, not
 * an array) go to errs. */
static int import_split_doc(struct import_run *r, const json_t *doc, struct verr *errs)
{
	const char *key;
	json_t *val;
	char path[64];
	size_t i;
	int rc;

	if (!json_is_object(doc)) {
		verr_add(errs, "", "the import document must be a JSON object");
		return 0;
	}
	json_object_foreach((json_t *)doc, key, val) {
		struct import_kind *ik = import_run_kind(r, key);
		json_t *item;

		if (!ik || strcmp(ik->k->plural, key)) {
			verr_add(errs, key, "unknown key: expected sites, profiles, topologies or tunnels");
			continue;
		}
		if (!json_is_array(val)) {
			verr_add(errs, key, "must be an array");
			continue;
		}
		ik->present = true;
		json_array_foreach(val, i, item) {
			verr_path_idx(path, sizeof(path), ik->k->plural, i);
			rc = import_add_item(ik, item, path);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Every item through its kind's normalize, and names unique within the document. */
static int import_normalize(struct import_run *r, struct verr *errs)
{
	char npath[128];
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		struct import_kind *ik = &r->kinds[i];

		for (j = 0; j < json_array_size(ik->items); j++) {
			const char *path = json_string_value(json_array_get(ik->paths, j));
			json_t *body = NULL, *seen;
			const char *name;
			int rc;

			rc = ik->k->normalize(json_array_get(ik->items, j), path, errs, &body);
			if (rc && rc != -EINVAL)
				return rc;
			if (rc || !body) {
				if (json_array_append_new(ik->bodies, json_null()))
					return -ENOMEM;
				continue;
			}
			if (json_array_append_new(ik->bodies, body))
				return -ENOMEM;
			name = json_string_value(json_object_get(body, "name"));
			if (!name) {
				verr_add(errs, path, "no name");
				continue;
			}
			seen = json_object_get(ik->index, name);
			if (seen) {
				verr_add(errs, verr_path_key(npath, sizeof(npath), path, "name"),
					 "duplicate name \"%s\" (also at %s)", name,
					 json_string_value(seen));
				continue;
			}
			if (json_object_set_new(ik->index, name, json_string(path)))
				return -ENOMEM;
		}
	}
	return 0;
}

static const char *import_actor(const struct import_opts *o)
{
	return o->actor ? o->actor : "unknown";
}

/* Replace mode: what the document does not name goes, dependents first. Only kinds the
 * document names are pruned, so a CSV of sites, or a document holding only sites,
 * never wipes out the policy. */
static int import_prune(struct store *s, struct import_run *r, const struct import_opts *o)
{
	json_t *names = NULL, *before = NULL, *jn;
	size_t i, j;
	int rc = 0;

	for (i = r->n; i-- > 0;) {
		struct import_kind *ik = &r->kinds[i];

		if (!ik->present)
			continue;
		rc = store_names(s, ik->k, &names);
		if (rc)
			goto out;
		json_array_foreach(names, j, jn) {
			const char *name = json_string_value(jn);

			if (!name || json_object_get(ik->index, name))
				continue;
			rc = store_delete(s, ik->k, name, import_actor(o), &before);
			if (!rc)
				rc = audit_record(store_db(s), import_actor(o), "import", ik->k,
						  ik->k->name, name, before, NULL);
			json_decref(before);
			before = NULL;
			if (rc)
				goto out;
			if (json_array_append(ik->deleted, jn)) {
				rc = -ENOMEM;
				goto out;
			}
		}
		json_decref(names);
		names = NULL;
	}
out:
	json_decref(names);
	return rc;
}

static int import_tally(struct import_kind *ik, enum store_change ch, const char *name)
{
	json_t *list = NULL;

	switch (ch) {
	case STORE_CREATED:
		list = ik->created;
		break;
	case STORE_UPDATED:
		list = ik->updated;
		break;
	case STORE_DELETED:
		list = ik->deleted;
		break;
	case STORE_UNCHANGED:
		ik->unchanged++;
		return 0;
	}
	if (!list || json_array_append_new(list, json_string(name)))
		return -ENOMEM;
	return 0;
}

/* lenient: skip the items that failed validation (their bodies are null) instead of
 * treating them as a bug; used to check the rest across objects before answering. */
static int import_write(struct store *s, struct import_run *r, const struct import_opts *o,
			bool lenient)
{
	json_t *body, *before = NULL;
	size_t i, j;
	int rc = 0;

	for (i = 0; i < r->n; i++) {
		struct import_kind *ik = &r->kinds[i];

		json_array_foreach(ik->bodies, j, body) {
			const char *name = json_string_value(json_object_get(body, "name"));
			enum store_change ch = STORE_UNCHANGED;

			if (!name && lenient)
				continue;
			if (!name)
				return -EINVAL;	/* import_normalize let an invalid item through */

			rc = store_put(s, ik->k, name, body, &ch, &before);
			if (!rc && ch != STORE_UNCHANGED)
				rc = audit_record(store_db(s), import_actor(o), "import", ik->k,
						  ik->k->name, name, before, body);
			json_decref(before);
			before = NULL;
			if (!rc)
				rc = import_tally(ik, ch, name);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static json_t *import_report(const struct import_run *r, const struct import_opts *o)
{
	json_t *rep = NULL, *changes = json_object();
	size_t i, c = 0, u = 0, d = 0;

	if (!changes)
		return NULL;
	for (i = 0; i < r->n; i++) {
		const struct import_kind *ik = &r->kinds[i];
		size_t nc = json_array_size(ik->created), nu = json_array_size(ik->updated);
		size_t nd = json_array_size(ik->deleted);

		c += nc;
		u += nu;
		d += nd;
		if (json_object_set_new(changes, ik->k->plural,
			json_pack("{s:I,s:I,s:I,s:I,s:{s:O,s:O,s:O}}",
				  "created", (json_int_t)nc, "updated", (json_int_t)nu,
				  "deleted", (json_int_t)nd, "unchanged", (json_int_t)ik->unchanged,
				  "names", "created", ik->created, "updated", ik->updated,
				  "deleted", ik->deleted)))
			goto out;
	}
	rep = json_pack("{s:s,s:b,s:O,s:{s:I,s:I,s:I}}", "mode", o->replace ? "replace" : "merge",
			"dry_run", o->dry_run, "changes", changes, "totals",
			"created", (json_int_t)c, "updated", (json_int_t)u, "deleted", (json_int_t)d);
out:
	json_decref(changes);
	return rep;
}

/* The steps shared by JSON and CSV once the items are split by kind. */
static int import_run_all(struct store *s, struct import_run *r, const struct import_opts *o,
			  struct verr *errs, json_t **result)
{
	int rc;

	bool item_errors;

	rc = import_normalize(r, errs);
	if (rc)
		return rc;
	item_errors = verr_count(errs) > 0;
	rc = store_begin(s);
	if (rc)
		return rc;
	/* With invalid items nothing will be written, but the valid ones are still checked
	 * against each other and the store, so one answer lists every error. Pruning is
	 * skipped then: it would delete what the invalid items name. */
	rc = o->replace && !item_errors ? import_prune(s, r, o) : 0;
	if (!rc)
		rc = import_write(s, r, o, item_errors);
	if (!rc && item_errors) {
		rc = store_validate(s, errs, import_path_of, r);
		store_rollback(s);
		return rc == 0 || rc == -EINVAL ? -EINVAL : rc;
	}
	if (rc) {
		store_rollback(s);
		return rc;
	}
	rc = store_finish(s, errs, import_path_of, r, o->dry_run);
	if (rc)
		return rc;
	*result = import_report(r, o);
	return *result ? 0 : -ENOMEM;
}

int import_json(struct store *s, const json_t *doc, const struct import_opts *o,
		struct verr *errs, json_t **result)
{
	struct import_run *r = import_run_new();
	int rc;

	*result = NULL;
	if (!r)
		return -ENOMEM;
	/* Shape errors do not stop the items from being checked: the answer lists all. */
	rc = import_split_doc(r, doc, errs);
	if (!rc)
		rc = import_run_all(s, r, o, errs, result);
	import_run_free(r);
	return rc;
}

int import_export(struct store *s, json_t **doc)
{
	json_t *d = json_object(), *bodies = NULL;
	size_t i;
	int rc = -ENOMEM;

	*doc = NULL;
	if (!d)
		goto out;
	for (i = 0; i < kind_count; i++) {
		rc = store_all(s, kind_all[i], &bodies);
		if (rc)
			goto out;
		rc = json_object_set_new(d, kind_all[i]->plural, bodies) ? -ENOMEM : 0;
		if (rc)
			goto out;
	}
	*doc = d;
	d = NULL;
out:
	json_decref(d);
	return rc;
}

int import_csv(struct store *s, const char *buf, size_t len, const struct import_opts *o,
	       struct verr *errs, json_t **result)
{
	struct import_run *r = import_run_new();
	struct import_kind *ik;
	int rc = -ENOMEM;

	*result = NULL;
	if (!r)
		goto out;
	/* CSV carries sites only: replace mode prunes sites and nothing else. */
	ik = import_run_kind(r, kind_site.name);
	ik->present = true;
	rc = import_csv_sites(buf, len, errs, ik->items, ik->paths);
	if (!rc)
		rc = import_run_all(s, r, o, errs, result);
out:
	import_run_free(r);
	return rc;
}
