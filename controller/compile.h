/* Per-site intents: compiled from the store (sites, profiles, topologies, materialised
 * tunnels) into api/intent.h's types, so the controller and the agent share one codec.
 * Compilation is deterministic: the same store gives byte-identical intents. */
#ifndef GRESEC_COMPILE_H
#define GRESEC_COMPILE_H

#include <stdint.h>
#include <jansson.h>
#include "intent.h"
#include "store.h"
#include "verr.h"

struct compile_ctx;

/* Everything compilation reads, loaded once: one ctx compiles every site. */
int compile_ctx_new(struct store *s, struct compile_ctx **out);
void compile_ctx_free(struct compile_ctx *c);
size_t compile_ctx_nsites(const struct compile_ctx *c);
const char *compile_ctx_site(const struct compile_ctx *c, size_t i);

/* The intent of site i with the given revision. -EINVAL with errs when the store
 * describes something no gateway can do (e.g. an IPv4 and an IPv6 underlay joined). */
int compile_site(const struct compile_ctx *c, size_t i, uint64_t revision, struct intent **out,
		 struct verr *errs);

/* Inside the writing transaction (store_finish): recompiles the sites the writes may
 * affect and bumps the revision of each whose intent changed. changes is the
 * transaction's write log ([{"kind","name","old","new"}], NULL: everything changed),
 * dirty a set of sites already known to be affected (from materialisation). *changed
 * (may be NULL) gets the names whose revision moved; *ctx the context it compiled
 * from, to serve intents from once the transaction commits. path_of (may be NULL) maps
 * a site to the path its errors go under, as in store_finish. */
int compile_refresh(struct store *s, struct verr *errs, const json_t *changes,
		    const json_t *dirty, const char *(*path_of)(void *, const char *, const char *),
		    void *path_ctx, json_t **changed, struct compile_ctx **ctx);
/* The current intent of site as JSON text (malloc'd) and its revision. -ENOENT for a
 * site that does not exist. */
int compile_current(struct store *s, const char *site, uint64_t *revision, char **text);
/* The stored revision of a site's intent, 0 when it never had one. */
int compile_revision(struct store *s, const char *site, uint64_t *revision);

#endif
