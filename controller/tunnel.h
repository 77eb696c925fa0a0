/* Materialised tunnels: one per pair of sites joined by topologies or an explicit
 * definition, with identifiers (id → GRE key, reqid, interface names) that never
 * change while the pair stays joined. */
#ifndef GRESEC_TUNNEL_H
#define GRESEC_TUNNEL_H

#include <stdbool.h>
#include <jansson.h>
#include "store.h"
#include "verr.h"

enum { TUNNEL_NONE = 0, TUNNEL_MEMBER = 1, TUNNEL_HUB = 2 };

/* Recomputes the set of joined pairs from the store as the transaction sees it and
 * brings the tunnel table to it with the fewest row changes. Called by store_finish.
 * changes is the transaction's write log (NULL: everything may have changed): when it
 * touches a few sites and no topology, only their pairs are re-derived (tunnel_delta.c),
 * with the same outcome. dirty (a JSON object used as a set, may be NULL) gets both
 * sites of every tunnel whose change shows in intents. */
int tunnel_materialize(struct store *s, const json_t *changes, struct verr *errs,
		       json_t *dirty);
/* (tunnel_materialize also tells the store which tunnels it changed, when it knows:
 * store_tunnels_changed.) */
/* tunnel_delta.c: *touched (a new object used as a set) gets the sites whose pairs the
 * write log can change; NULL when only re-deriving every pair will do. */
int tunnel_delta_touched(struct store *s, const json_t *changes, json_t **touched);
/* Re-derives only the pairs with an end in touched, as tunnel_materialize would; ids
 * (an array) gets the ids of the tunnels whose change shows in intents. */
int tunnel_delta_materialize(struct store *s, const json_t *touched, struct verr *errs,
			     json_t *dirty, json_t *ids);
/* The role of one site (name, canonical body or NULL) in a topology. */
unsigned char tunnel_role(const json_t *topo, const char *name, const json_t *site);
/* Tunnels with id > after_id, touching site when non-NULL, by id, at most limit:
 * {"items":[...],"next":id|null}. Secrets are never part of it. */
int tunnel_list(struct store *s, const char *site, long long after_id, unsigned limit,
		json_t **out);

/* The two ends (site_a's, site_b's) of overlay block idx of pool. */
int tunnel_overlay_addrs(const struct addr_prefix *pool, long long idx, struct addr_prefix *a,
			 struct addr_prefix *b);

/* The role of each site in a topology: role[i] for names[i] (sorted site names, sites the
 * matching canonical bodies). Shared by materialisation and intent compilation. */
void tunnel_roles(const char **names, size_t n, const json_t *sites, const json_t *topo,
		  unsigned char *role);

#define TUNNEL_IFNAME_LEN 16
/* The interface name, which is also the tunnel's id in intents: "gs<id>". Both ends use
 * it: unique on each gateway, and it tells an operator which tunnel it is. */
void tunnel_ifname(long long id, char *buf, size_t len);

#endif
