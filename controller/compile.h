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

/* Every site's canonical body the context was built from, by name (borrowed). */
const json_t *compile_ctx_sites(const struct compile_ctx *c);
/* compile_delta.c: every site's canonical body as the open transaction sees it (a new
 * array, by name), from the committed context (old) and the write log; 1 (nothing
 * made) when it cannot tell (no context, no log, a large write). */
int compile_delta_sites_now(struct store *s, const struct compile_ctx *old,
			    const json_t *changes, json_t **sites);

#endif
