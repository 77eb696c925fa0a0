/* The topology and policy store: canonical JSON bodies of every kind, the references
 * between them, and the cross-object rules checked before a transaction commits.
 * Single-threaded: every call happens on the HTTP thread. */
#ifndef GRESEC_STORE_H
#define GRESEC_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include "db.h"
#include "kind.h"
#include "verr.h"

#define STORE_ETAG_LEN 19	/* "\"" + 16 hex + "\"" + NUL */

enum store_change { STORE_UNCHANGED = 0, STORE_CREATED, STORE_UPDATED, STORE_DELETED };

struct store;
struct compile_ctx;
struct ca;

/* Called after a transaction that changed some sites' intents commits. */
typedef void (*store_notify_fn)(void *ctx, const json_t *changed_sites);

int store_open(const char *path, struct store **out);
/* The pool tunnels' overlay addresses come from: /31s of an IPv4 pool or /127s of an
 * IPv6 one (default 100.64.0.0/10). Addresses are kept as indices into it. */
void store_set_overlay_pool(struct store *s, const struct addr_prefix *pool);
const struct addr_prefix *store_overlay_pool(const struct store *s);
void store_set_notify(struct store *s, store_notify_fn fn, void *ctx);
/* Whether someone waits on a site's intent right now (any thread): the refresh then
 * writes that intent's text ahead, so serving it is only sending it. */
typedef bool (*store_prefetch_fn_t)(void *ctx, const char *site);
void store_set_prefetch(struct store *s, store_prefetch_fn_t fn, void *ctx);
store_prefetch_fn_t store_prefetch_fn(const struct store *s);
void *store_prefetch_ctx(const struct store *s);
/* The compile context of the committed state (NULL until first needed); the store owns
 * it and replaces it at every commit. */
struct compile_ctx *store_compiled(struct store *s);
void store_set_compiled(struct store *s, struct compile_ctx *c);
/* The CA whose certificate every intent carries (not owned), and its current CRL
 * (owned; NULL when nothing is revoked). A CRL that differs from the last one makes
 * the next refresh recompile every site, since every intent carries it. */
void store_set_ca(struct store *s, struct ca *ca);
struct ca *store_ca(const struct store *s);
int store_set_crl(struct store *s, char *crl);
const char *store_crl(const struct store *s);
/* Revokes site's certificates inside the open transaction and re-signs the CRL. */
int store_revoke_certs(struct store *s, const char *site, int *n);
/* Both: the site's agent tokens (audited) and certificates (*certs how many). */
int store_revoke_credentials(struct store *s, const char *site, const char *actor, int *certs);
/* The overlay blocks tunnels take (NULL: not known; tunnel.c loads it): kept between
 * writes, its releases applied on commit, dropped on rollback. Takes m. */
struct overlay_map *store_overlays(struct store *s);
void store_set_overlays(struct store *s, struct overlay_map *m);
/* The ids of the tunnels the open write changed in a way intents show (an array), as
 * materialisation listed them; NULL when unknown (a full pass, or tunnels changed
 * otherwise: a key rotated). Empty before materialisation. Takes ids. */
const json_t *store_tunnels_changed(const struct store *s);
void store_set_tunnels_changed(struct store *s, json_t *ids);
/* Whether a write re-derives only the pairs and intents it can touch (the default) or
 * everything, as from scratch: the reference the incremental paths are pinned to
 * (tests/unit/test_incremental.c). */
void store_set_incremental(struct store *s, bool on);
bool store_incremental(const struct store *s);
/* At start: brings intent revisions up to date with the store (one transaction). */
int store_refresh(struct store *s);
void store_free(struct store *s);
struct db *store_db(struct store *s);

int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* 0 with *body (new reference) and etag set; -ENOENT. etag may be NULL. */
int store_get(struct store *s, const struct kind_ops *k, const char *name, json_t **body,
	      char etag[STORE_ETAG_LEN]);
/* The stored canonical body as text (malloc'd): for sending as it is. -ENOENT. */
int store_get_text(struct store *s, const struct kind_ops *k, const char *name, char **text,
		   char etag[STORE_ETAG_LEN]);
/* Bodies sorted by name, names strictly after `after` (NULL: from the start), at most
 * limit of them. *items is a new array. */
int store_list(struct store *s, const struct kind_ops *k, const char *after, unsigned limit,
	       json_t **items);
/* Every name of kind k, sorted: a new array of strings. */
int store_names(struct store *s, const struct kind_ops *k, json_t **names);
/* Every body of kind k, sorted by name: a new array. */
int store_all(struct store *s, const struct kind_ops *k, json_t **bodies);

/* Inside a transaction. body must be canonical (kind_ops.normalize). *change says what
 * happened; *before (may be NULL) receives the previous body or NULL. Writing an equal
 * body changes nothing, not even the etag. */
int store_put(struct store *s, const struct kind_ops *k, const char *name, const json_t *body,
	      enum store_change *change, json_t **before);
/* -ENOENT when absent. Does not check references: store_validate does, before commit.
 * Every deletion goes through here: for a kind with agent_tokens it revokes the
 * object's agent tokens too, audited as actor's "token-revoke". */
int store_delete(struct store *s, const struct kind_ops *k, const char *name,
		 const char *actor, json_t **before);

/* Cross-object rules over the whole store as the transaction sees it: dangling
 * references (an error at the referring field) and kind_site_check_all. path_of maps
 * (kind, name) to the path the object's errors go under; NULL return → "<plural>/<name>".
 * 0 when clean, -EINVAL with errors in errs. */
int store_validate(struct store *s, struct verr *errs,
		   const char *(*path_of)(void *ctx, const char *kind, const char *name),
		   void *ctx);
/* Who refers to (k, name): a new array of {"kind","name","field"}; empty when none. */
int store_referrers(struct store *s, const struct kind_ops *k, const char *name,
		    json_t **refs);

/* Ends a write transaction: store_validate, then the derived state (materialised
 * tunnels), then commit — or rollback when there are errors or dry_run is set.
 * 0 when committed (or cleanly rolled back for dry_run); -EINVAL with errs filled;
 * another negative errno on a storage failure (rolled back). */
int store_finish(struct store *s, struct verr *errs,
		 const char *(*path_of)(void *ctx, const char *kind, const char *name),
		 void *ctx, bool dry_run);
/* Ends a write transaction that changed no object, only what the sites named in dirty
 * (an object of site names) compile to, e.g. a tunnel's key: recompiles them, commits,
 * wakes their held polls; rolls back on any error. */
int store_finish_sites(struct store *s, struct verr *errs, const json_t *dirty);

#endif
