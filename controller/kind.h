/* The object kinds of the topology and policy store, behind one ops table so the
 * store, the API and bulk import treat sites, profiles, topologies and explicit
 * tunnels alike. */
#ifndef GRESEC_KIND_H
#define GRESEC_KIND_H

#include <stdbool.h>
#include <jansson.h>
#include "addr.h"
#include "verr.h"

/* Called once per reference an object makes to another object. field is the path of
 * the referring field relative to the object ("profile", "members[2]", "hubs[0]"). */
typedef int (*kind_ref_fn)(void *ctx, const char *to_kind, const char *to_name,
			   const char *field);

struct kind_ops {
	const char *name;	/* "site": the value stored in the database */
	const char *plural;	/* "sites": the collection path and the import key */
	/* Validate in and build the canonical body: every field present, defaults filled,
	 * addresses and prefixes in canonical text, lists sorted where order has no meaning.
	 * Errors go to errs with paths under path ("sites[3]" or "" for a single object).
	 * Returns 0 with *out set (a new reference), or -EINVAL with errors in errs.
	 * Unknown fields are errors: a typo must not be silently ignored. */
	int (*normalize)(const json_t *in, const char *path, struct verr *errs, json_t **out);
	/* Enumerate the references of a canonical body; stops at and returns the first
	 * nonzero return of fn. NULL when the kind refers to nothing. */
	int (*refs)(const json_t *body, kind_ref_fn fn, void *ctx);
	/* Remove secrets from a copy of a canonical body, for roles that may not see them.
	 * NULL when the kind holds none. */
	void (*redact)(json_t *body);
	/* Agent tokens are issued per object of this kind (sites): store_delete revokes
	 * them in the deleting transaction, so no way of deleting one can forget. */
	bool agent_tokens;
};

extern const struct kind_ops kind_site;
extern const struct kind_ops kind_profile;
extern const struct kind_ops kind_topology;
extern const struct kind_ops kind_tunnel;	/* explicit point-to-point tunnels */

/* In dependency order: an import writes them in this order and deletes in reverse. */
extern const struct kind_ops *const kind_all[];
extern const size_t kind_count;
const struct kind_ops *kind_by_name(const char *name);
const struct kind_ops *kind_by_plural(const char *plural);

/* Cross-object rules for sites, which no single object can check: no two sites'
 * prefixes overlap, no prefix contains any site's underlay address, no two sites share
 * an underlay. sites is an array of canonical site bodies. site_path maps a site name to
 * the path its errors go under ("sites[3]" in an import, "" for a single PUT); it may
 * return NULL for a site not being written now, whose name is then used as the path. */
int kind_site_check_all(const json_t *sites, struct verr *errs,
			const char *(*site_path)(void *ctx, const char *site), void *ctx);

#endif
