/* Which overlay blocks are taken, as a bitmap the store keeps between writes, so a
 * write that adds one tunnel finds the lowest free block without reading every tunnel.
 * Blocks of tunnels deleted in a write stay taken until it commits: the unique index
 * would otherwise see a new row take a block before the old row gives it up. */
#ifndef GRESEC_OVERLAY_MAP_H
#define GRESEC_OVERLAY_MAP_H

#include <stdbool.h>
#include <stdint.h>
#include "db.h"

struct overlay_map;

struct overlay_map *overlay_map_new(void);
void overlay_map_free(struct overlay_map *m);
/* Every block the tunnel table holds now. */
int overlay_map_load(struct overlay_map *m, struct db *db);
int overlay_map_take(struct overlay_map *m, uint64_t block);
bool overlay_map_taken(const struct overlay_map *m, uint64_t block);
/* The lowest block at or above from that is free (may be past every block taken). */
uint64_t overlay_map_lowest_free(const struct overlay_map *m, uint64_t from);
/* The block of a deleted tunnel: free once the write commits (overlay_map_commit). */
int overlay_map_release(struct overlay_map *m, uint64_t block);
void overlay_map_commit(struct overlay_map *m);
/* Whether releases wait for a commit: a map left so by a write that neither committed
 * nor rolled back through the store is not to be trusted. */
bool overlay_map_pending(const struct overlay_map *m);

#endif
