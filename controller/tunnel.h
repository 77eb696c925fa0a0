/* Materialised tunnels: one per pair of sites joined by topologies or an explicit
 * definition, with identifiers (id → GRE key, reqid, interface names) that never
 * change while the pair stays joined. */
#ifndef GRESEC_TUNNEL_H
#define GRESEC_TUNNEL_H

#include <stdbool.h>
#include <jansson.h>
#include "store.h"
#include "verr.h"

/* Recomputes the set of joined pairs from the store as the transaction sees it and
 * brings the tunnel table to it with the fewest row changes. Called by store_finish. */
int tunnel_materialize(struct store *s, struct verr *errs);
/* Tunnels with id > after_id, touching site when non-NULL, by id, at most limit:
 * {"items":[...],"next":id|null}. Secrets are never part of it. */
int tunnel_list(struct store *s, const char *site, long long after_id, unsigned limit,
		json_t **out);

#endif
