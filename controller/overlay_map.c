#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "overlay_map.h"

struct overlay_map {
	uint64_t *bits;
	size_t nwords;
	uint64_t *released;	/* blocks freed by the open write */
	size_t nreleased, cap;
};

struct overlay_map *overlay_map_new(void)
{
	return calloc(1, sizeof(struct overlay_map));
}

void overlay_map_free(struct overlay_map *m)
{
	if (!m)
		return;
	free(m->bits);
	free(m->released);
	free(m);
}

static int overlay_map_grow(struct overlay_map *m, size_t word)
{
	size_t n = m->nwords ? m->nwords : 1024;
	uint64_t *b;

	while (n <= word)
		n *= 2;
	if (n == m->nwords)
		return 0;
	b = realloc(m->bits, n * sizeof(*b));
	if (!b)
		return -ENOMEM;
	memset(b + m->nwords, 0, (n - m->nwords) * sizeof(*b));
	m->bits = b;
	m->nwords = n;
	return 0;
}

int overlay_map_take(struct overlay_map *m, uint64_t block)
{
	int r = overlay_map_grow(m, (size_t)(block / 64));

	if (r == 0)
		m->bits[block / 64] |= (uint64_t)1 << (block % 64);
	return r;
}

bool overlay_map_taken(const struct overlay_map *m, uint64_t block)
{
	return block / 64 < m->nwords && (m->bits[block / 64] >> (block % 64) & 1);
}

uint64_t overlay_map_lowest_free(const struct overlay_map *m, uint64_t from)
{
	size_t w = (size_t)(from / 64);
	uint64_t free_bits;

	if (w >= m->nwords)
		return from;
	/* The bits below from count as taken. */
	free_bits = ~m->bits[w] & (~(uint64_t)0 << (from % 64));
	while (!free_bits && ++w < m->nwords)
		free_bits = ~m->bits[w];
	if (w >= m->nwords)
		return (uint64_t)m->nwords * 64;
	return (uint64_t)w * 64 + (uint64_t)__builtin_ctzll(free_bits);
}

int overlay_map_release(struct overlay_map *m, uint64_t block)
{
	if (m->nreleased == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		uint64_t *r = realloc(m->released, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		m->released = r;
		m->cap = cap;
	}
	m->released[m->nreleased++] = block;
	return 0;
}

void overlay_map_commit(struct overlay_map *m)
{
	for (size_t i = 0; i < m->nreleased; i++)
		if (m->released[i] / 64 < m->nwords)
			m->bits[m->released[i] / 64] &= ~((uint64_t)1 << (m->released[i] % 64));
	m->nreleased = 0;
}

bool overlay_map_pending(const struct overlay_map *m)
{
	return m->nreleased > 0;
}

int overlay_map_load(struct overlay_map *m, struct db *db)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT overlay FROM tunnel WHERE overlay IS NOT NULL");
	int rc, r = 0;

	if (!st)
		return -EIO;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_int64(st, 0) >= 0)
			r = overlay_map_take(m, (uint64_t)sqlite3_column_int64(st, 0));
	if (r == 0 && rc != SQLITE_DONE)
		r = db_errno(rc);
	sqlite3_reset(st);
	return r;
}
