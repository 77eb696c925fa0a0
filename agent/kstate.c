/* Containers for kernel objects (current and desired). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"
#include "kstate.h"

struct kstate *kstate_new(void)
{
	return calloc(1, sizeof(struct kstate));
}

void kstate_free(struct kstate *ks)
{
	if (!ks)
		return;
	free(ks->links);
	free(ks->addrs);
	free(ks->routes);
	free(ks->policies);
	free(ks);
}

void kstate_clear(struct kstate *ks)
{
	ks->n_links = ks->n_addrs = ks->n_routes = ks->n_policies = 0;
}

/* Grows *arr by one zeroed element of size sz. */
static void *kstate_grow(void **arr, size_t *n, size_t *cap, size_t sz)
{
	char *p;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		void *na = realloc(*arr, ncap * sz);

		if (!na)
			return NULL;
		*arr = na;
		*cap = ncap;
	}
	p = (char *)*arr + (*n)++ * sz;
	memset(p, 0, sz);
	return p;
}

struct klink *kstate_add_link(struct kstate *ks)
{
	struct klink *l = kstate_grow((void **)&ks->links, &ks->n_links, &ks->cap_links,
				      sizeof(*l));

	if (l) {
		l->tunnel = -1;
		l->conf = (struct kconf){ -1, -1, -1, -1 };
	}
	return l;
}

struct kaddr *kstate_add_addr(struct kstate *ks)
{
	struct kaddr *a = kstate_grow((void **)&ks->addrs, &ks->n_addrs, &ks->cap_addrs,
				      sizeof(*a));

	if (a)
		a->tunnel = -1;
	return a;
}

struct kroute *kstate_add_route(struct kstate *ks)
{
	struct kroute *r = kstate_grow((void **)&ks->routes, &ks->n_routes, &ks->cap_routes,
				       sizeof(*r));

	if (r)
		r->tunnel = -1;
	return r;
}

struct knh *kstate_route_add_nh(struct kroute *r)
{
	struct knh *nh;

	if (r->n_nh >= KSTATE_NH_MAX) {
		r->nh_trunc = true;
		return NULL;
	}
	nh = &r->nh[r->n_nh++];
	memset(nh, 0, sizeof(*nh));
	nh->tunnel = -1;
	return nh;
}

size_t kstate_route_keep(struct kroute *r, const bool *keep)
{
	uint8_t n = 0;

	for (uint8_t i = 0; i < r->n_nh; i++)
		if (keep[i])
			r->nh[n++] = r->nh[i];
	r->n_nh = n;
	/* Gateways exist only for IPv6 multipath: a single path is a device route. */
	if (n == 1)
		memset(&r->nh[0].gw, 0, sizeof(r->nh[0].gw));
	r->tunnel = n == 1 ? r->nh[0].tunnel : -1;
	return n;
}

struct kpolicy *kstate_add_policy(struct kstate *ks)
{
	struct kpolicy *p = kstate_grow((void **)&ks->policies, &ks->n_policies,
					&ks->cap_policies, sizeof(*p));

	if (p)
		p->tunnel = -1;
	return p;
}

const struct klink *kstate_link_by_name(const struct kstate *ks, const char *ifname)
{
	for (size_t i = 0; i < ks->n_links; i++)
		if (strcmp(ks->links[i].ifname, ifname) == 0)
			return &ks->links[i];
	return NULL;
}

const struct klink *kstate_link_by_index(const struct kstate *ks, int ifindex)
{
	for (size_t i = 0; i < ks->n_links; i++)
		if (ks->links[i].ifindex == ifindex)
			return &ks->links[i];
	return NULL;
}

bool kstate_link_is_owned(const char *ifname, const char *alias, uint32_t group)
{
	if (strncmp(ifname, INTENT_IFNAME_PREFIX, strlen(INTENT_IFNAME_PREFIX)))
		return false;
	if (!alias[0])
		return group == KSTATE_LINK_GROUP;
	return strncmp(alias, KSTATE_ALIAS_PREFIX, strlen(KSTATE_ALIAS_PREFIX)) == 0;
}

/* Both the priority band and the reqid range: charon's own policies (with
 * `policies = yes`) use neither, and an operator's hand-made policy would have to
 * match both by accident. */
bool kstate_policy_is_owned(const struct kpolicy *p)
{
	return p->priority >= INTENT_SPD_PRIO_MIN && p->priority <= INTENT_SPD_PRIO_MAX &&
	       p->n_tmpl == 1 && p->tmpl_reqid >= INTENT_REQID_MIN &&
	       p->tmpl_reqid <= INTENT_REQID_MAX;
}

#define KSTATE_CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

/* The kernel's identity of a policy: selector, direction and mark (priority is not). */
int kstate_policy_key_cmp(const void *x, const void *y)
{
	const struct kpolicy *a = x, *b = y;
	int r;

	KSTATE_CMP(a->dir, b->dir);
	KSTATE_CMP(a->proto, b->proto);
	if ((r = addr_prefix_cmp(&a->src, &b->src)) || (r = addr_prefix_cmp(&a->dst, &b->dst)))
		return r;
	KSTATE_CMP(a->has_mark ? a->mark & a->mark_mask : 0,
		   b->has_mark ? b->mark & b->mark_mask : 0);
	KSTATE_CMP(a->has_mark ? a->mark_mask : 0, b->has_mark ? b->mark_mask : 0);
	return 0;
}

bool kstate_policy_same_key(const struct kpolicy *a, const struct kpolicy *b)
{
	return kstate_policy_key_cmp(a, b) == 0;
}

/* Element order, then address order: a stable sort from qsort_r. */
static int kstate_sort_cmp(const void *x, const void *y, void *arg)
{
	const void *a = *(const void *const *)x, *b = *(const void *const *)y;
	int r = (*(const kstate_cmp *)arg)(a, b);

	if (r)
		return r;
	return a == b ? 0 : (uintptr_t)a < (uintptr_t)b ? -1 : 1;
}

const void **kstate_sort(const void *arr, size_t n, size_t size, kstate_cmp cmp)
{
	const void **v = malloc((n ? n : 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = (const char *)arr + i * size;
	qsort_r(v, n, sizeof(*v), kstate_sort_cmp, &cmp);
	return v;
}

size_t kstate_lower_bound(const void *const *v, size_t n, const void *key, kstate_cmp cmp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const void *kstate_find(const void *const *v, size_t n, const void *key, kstate_cmp cmp)
{
	size_t i = kstate_lower_bound(v, n, key, cmp);

	return i < n && !cmp(v[i], key) ? v[i] : NULL;
}

static int kstate_link_name_cmp(const void *x, const void *y)
{
	return strcmp(((const struct klink *)x)->ifname, ((const struct klink *)y)->ifname);
}

static int kstate_link_index_cmp(const void *x, const void *y)
{
	KSTATE_CMP(((const struct klink *)x)->ifindex, ((const struct klink *)y)->ifindex);
	return 0;
}

struct kstate_links *kstate_links_new(const struct kstate *ks)
{
	struct kstate_links *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return NULL;
	ix->n = ks->n_links;
	ix->by_name = (const struct klink **)kstate_sort(ks->links, ks->n_links,
							 sizeof(*ks->links), kstate_link_name_cmp);
	ix->by_index = (const struct klink **)kstate_sort(ks->links, ks->n_links,
							  sizeof(*ks->links), kstate_link_index_cmp);
	if (!ix->by_name || !ix->by_index) {
		kstate_links_free(ix);
		return NULL;
	}
	return ix;
}

void kstate_links_free(struct kstate_links *ix)
{
	if (!ix)
		return;
	free(ix->by_name);
	free(ix->by_index);
	free(ix);
}

const struct klink *kstate_links_by_name(const struct kstate_links *ix, const char *ifname)
{
	struct klink key;

	snprintf(key.ifname, sizeof(key.ifname), "%s", ifname);
	return kstate_find((const void *const *)ix->by_name, ix->n, &key, kstate_link_name_cmp);
}

const struct klink *kstate_links_by_index(const struct kstate_links *ix, int ifindex)
{
	struct klink key = { .ifindex = ifindex };

	return kstate_find((const void *const *)ix->by_index, ix->n, &key, kstate_link_index_cmp);
}
