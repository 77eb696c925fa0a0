/* Containers for kernel objects (current and desired). */
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
		l->conf = (struct kconf){ -1, -1, -1 };
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

/* The kernel's identity of a policy: selector, direction and mark (priority is not). */
bool kstate_policy_same_key(const struct kpolicy *a, const struct kpolicy *b)
{
	return a->dir == b->dir && a->proto == b->proto &&
	       !addr_prefix_cmp(&a->src, &b->src) && !addr_prefix_cmp(&a->dst, &b->dst) &&
	       (a->has_mark ? a->mark & a->mark_mask : 0) ==
	       (b->has_mark ? b->mark & b->mark_mask : 0) &&
	       (a->has_mark ? a->mark_mask : 0) == (b->has_mark ? b->mark_mask : 0);
}
