#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "site_index.h"

struct site_entry {
	struct addr_prefix p;	/* a host address as a /32 or /128 */
	char *site;
};

struct site_index {
	struct site_entry *e;	/* sorted by prefix (addr_prefix_cmp) */
	size_t n, cap;
};

static int site_index_cmp(const void *x, const void *y)
{
	const struct site_entry *a = x, *b = y;

	return addr_prefix_cmp(&a->p, &b->p);
}

/* The addresses of a body, parsed; what does not parse is skipped (bodies are
 * canonical: normalize saw to that). At most cap. */
static size_t site_index_parse(const json_t *body, struct addr_prefix *out, size_t cap)
{
	const char *nat = json_string_value(json_object_get(body, "nat_address"));
	size_t n = 0, i;
	json_t *v;

	if (n < cap && addr_parse(json_string_value(json_object_get(body, "underlay")),
				  &out[n].addr) == 0)
		out[n].len = out[n].addr.family == AF_INET ? 32 : 128, n++;
	if (nat && json_is_true(json_object_get(body, "behind_nat")) && n < cap &&
	    addr_parse(nat, &out[n].addr) == 0)
		out[n].len = out[n].addr.family == AF_INET ? 32 : 128, n++;
	json_array_foreach(json_object_get(body, "prefixes"), i, v)
		if (n < cap && addr_prefix_parse(json_string_value(v), &out[n]) == 0)
			n++;
	return n;
}

static size_t site_index_count(const json_t *body)
{
	return 2 + json_array_size(json_object_get(body, "prefixes"));
}

static int site_index_add(struct site_index *x, const char *site, const json_t *body)
{
	size_t cap = site_index_count(body), n;
	struct addr_prefix *p = calloc(cap, sizeof(*p));
	int r = p ? 0 : -ENOMEM;

	n = p ? site_index_parse(body, p, cap) : 0;
	if (r == 0 && x->n + n > x->cap) {
		size_t c = x->cap ? x->cap * 2 : 1024;
		struct site_entry *e;

		while (c < x->n + n)
			c *= 2;
		e = realloc(x->e, c * sizeof(*e));
		if (!e)
			r = -ENOMEM;
		else
			x->e = e, x->cap = c;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		x->e[x->n] = (struct site_entry){ p[i], strdup(site) };
		r = x->e[x->n++].site ? 0 : -ENOMEM;
	}
	free(p);
	return r;
}

struct site_index *site_index_new(const json_t *sites)
{
	struct site_index *x = calloc(1, sizeof(*x));
	size_t i;
	json_t *s;
	int r = x ? 0 : -ENOMEM;

	json_array_foreach(sites, i, s)
		if (r == 0)
			r = site_index_add(x, json_string_value(json_object_get(s, "name")), s);
	if (r < 0) {
		site_index_free(x);
		return NULL;
	}
	if (x->n)
		qsort(x->e, x->n, sizeof(*x->e), site_index_cmp);
	return x;
}

void site_index_free(struct site_index *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++)
		free(x->e[i].site);
	free(x->e);
	free(x);
}

int site_index_put(struct site_index *x, const char *site, const json_t *body)
{
	size_t out = 0, from;
	int r = 0;

	for (size_t i = 0; i < x->n; i++) {
		if (strcmp(x->e[i].site, site) == 0)
			free(x->e[i].site);
		else
			x->e[out++] = x->e[i];
	}
	x->n = out;
	from = x->n;
	if (body)
		r = site_index_add(x, site, body);
	/* The few new entries, each moved into place. */
	for (size_t i = from; r == 0 && i < x->n; i++) {
		struct site_entry e = x->e[i];
		size_t k = i;

		while (k > 0 && site_index_cmp(&x->e[k - 1], &e) > 0) {
			x->e[k] = x->e[k - 1];
			k--;
		}
		x->e[k] = e;
	}
	return r;
}

static void site_index_mask(struct addr_prefix *p, unsigned len)
{
	for (unsigned b = len; b < 128; b++)
		p->addr.bytes[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	p->len = (uint8_t)len;
}

/* Whether an entry of another site equals or contains p (one bsearch per length). */
static bool site_index_enclosed(const struct site_index *x, const char *site,
				const struct addr_prefix *p)
{
	for (unsigned len = 0; x->n && len <= p->len; len++) {
		struct site_entry key = { .p = *p };
		const struct site_entry *hit;

		site_index_mask(&key.p, len);
		hit = bsearch(&key, x->e, x->n, sizeof(*x->e), site_index_cmp);
		if (!hit)
			continue;
		/* Equal entries sit together: any of another site's will do. */
		while (hit > x->e && site_index_cmp(hit - 1, &key) == 0)
			hit--;
		for (; hit < x->e + x->n && site_index_cmp(hit, &key) == 0; hit++)
			if (strcmp(hit->site, site))
				return true;
	}
	return false;
}

/* Whether an entry of another site lies inside p: they follow p's network address. */
static bool site_index_encloses(const struct site_index *x, const char *site,
				const struct addr_prefix *p)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&x->e[mid].p.addr, &p->addr) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < x->n && addr_prefix_contains(p, &x->e[lo].p.addr); lo++)
		if (x->e[lo].p.len >= p->len && strcmp(x->e[lo].site, site))
			return true;
	return false;
}

bool site_index_touches(const struct site_index *x, const char *site, const json_t *body)
{
	struct addr_prefix p[64];
	size_t n;

	if (site_index_count(body) > sizeof(p) / sizeof(*p))
		return true;
	n = site_index_parse(body, p, sizeof(p) / sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		if (site_index_enclosed(x, site, &p[i]) || site_index_encloses(x, site, &p[i]))
			return true;
		/* Its own underlay inside its own prefix is an error too. */
		for (size_t j = 0; j < n; j++)
			if (j != i && p[j].len <= p[i].len && addr_prefix_contains(&p[j], &p[i].addr))
				return true;
	}
	return false;
}
