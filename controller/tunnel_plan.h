/* Materialisation's insides, shared by tunnel.c (every pair, from scratch) and
 * tunnel_delta.c (the pairs of the sites a write touches). Not for other modules. */
#ifndef GRESEC_TUNNEL_PLAN_H
#define GRESEC_TUNNEL_PLAN_H

#include <stdint.h>
#include <jansson.h>
#include "db.h"
#include "overlay_map.h"
#include "verr.h"

/* One definition joining a pair: a topology's or an explicit tunnel's. */
struct tunnel_def {
	unsigned a, b;		/* indices into the sorted site names, a < b */
	unsigned prio;		/* lower wins: explicit tunnels first, then topologies, by name */
	unsigned src;		/* index into tunnel_plan.srcs */
};

struct tunnel_src {
	char *id;		/* "tunnel/x" or "topology/y" */
	const char *type, *profile;
	int is_explicit;
};

struct tunnel_plan {
	const char **names;	/* sorted site names, borrowed */
	size_t nnames;
	struct tunnel_src *srcs;
	size_t nsrcs;
	struct tunnel_def *defs;
	size_t ndefs, cap;
};

struct tunnel_row {
	long long id;
	char *a, *b, *origin, *source, *sources, *type, *profile;
	long long overlay;	/* -1: none yet (a row from before schema v2) */
};

/* Lowest-free allocation of overlay blocks from the store's map of taken blocks. */
struct tunnel_alloc {
	struct overlay_map *map;
	uint64_t next;		/* nothing below is free in this pass */
	uint64_t capacity;	/* blocks in the pool */
	const struct addr_prefix *pool;
};

void tunnel_plan_free(struct tunnel_plan *p);
int tunnel_add_def(struct tunnel_plan *p, unsigned x, unsigned y, unsigned src);
int tunnel_add_src(struct tunnel_plan *p, const char *kind, const json_t *body, int is_explicit);
/* Explicit tunnels' sources first (so that they win a shared pair), then topologies'. */
int tunnel_plan_srcs(struct tunnel_plan *p, const json_t *explicit, const json_t *topos);
/* Definitions sorted by pair, the winning one first. */
void tunnel_plan_sort(struct tunnel_plan *p);
/* The rows st yields (columns as tunnel_rows_load selects them), appended. */
int tunnel_rows_read(sqlite3_stmt *st, struct tunnel_row **rows, size_t *n, size_t *cap);
void tunnel_row_clear(struct tunnel_row *row);
void tunnel_rows_free(struct tunnel_row *rows, size_t n);
void tunnel_alloc_init(struct tunnel_alloc *al, const struct addr_prefix *pool,
		       struct overlay_map *map);
/* Brings the rows (sorted by pair) to the plan's pairs; both cover the same pairs. The
 * sites (dirty) and ids (ids, an array; may be NULL) of the tunnels whose change shows
 * in intents are added to. */
int tunnel_apply(struct db *db, const struct tunnel_plan *p, const struct tunnel_row *rows,
		 size_t nrows, struct tunnel_alloc *al, struct verr *errs, json_t *dirty,
		 json_t *ids);

#endif
