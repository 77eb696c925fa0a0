/* Planner: intent + current kernel objects -> minimal ordered actions. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>

#include "plan.h"
#include "plan_fmt.h"
#include "tunnel_kind.h"

struct plan *plan_new(void)
{
	return calloc(1, sizeof(struct plan));
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	free(p->acts);
	free(p->fails);
	free(p->failed);
	free(p);
}

/* Room for n actions at once: at 500 tunnels a plan is thousands of actions of most of
 * a kilobyte each, and growing to them by doubling peaks at one and a half times that. */
static int plan_reserve(struct plan *p, size_t n)
{
	void *na;

	if (n <= p->cap)
		return 0;
	na = realloc(p->acts, n * sizeof(*p->acts));
	if (!na)
		return -ENOMEM;
	p->acts = na;
	p->cap = n;
	return 0;
}

static struct plan_action *plan_add(struct plan *p, enum plan_op op, enum plan_obj obj,
				    int tunnel)
{
	struct plan_action *a;

	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;
		void *na = realloc(p->acts, ncap * sizeof(*p->acts));

		if (!na)
			return NULL;
		p->acts = na;
		p->cap = ncap;
	}
	a = &p->acts[p->n++];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->obj = obj;
	a->tunnel = tunnel;
	return a;
}

static int plan_fail(struct plan *p, int tunnel, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int plan_fail(struct plan *p, int tunnel, const char *fmt, ...)
{
	va_list ap;

	if (plan_tunnel_failed(p, tunnel))
		return 0;
	if (p->n_fails == p->cap_fails) {
		size_t ncap = p->cap_fails ? p->cap_fails * 2 : 8;
		void *na = realloc(p->fails, ncap * sizeof(*p->fails));

		if (!na)
			return -ENOMEM;
		p->fails = na;
		p->cap_fails = ncap;
	}
	if (p->failed && tunnel >= 0 && (size_t)tunnel < p->n_tunnels)
		p->failed[tunnel] = true;
	p->fails[p->n_fails].tunnel = tunnel;
	va_start(ap, fmt);
	vsnprintf(p->fails[p->n_fails].msg, sizeof(p->fails[0].msg), fmt, ap);
	va_end(ap);
	p->n_fails++;
	return 0;
}

bool plan_tunnel_failed(const struct plan *p, int tunnel)
{
	if (tunnel >= 0 && p->failed && (size_t)tunnel < p->n_tunnels)
		return p->failed[tunnel];
	for (size_t i = 0; tunnel >= 0 && i < p->n_fails; i++)
		if (p->fails[i].tunnel == tunnel)
			return true;
	return false;
}

/* ---- desired objects ---- */

static int plan_desired_tunnel(const struct intent_tunnel *t, int i, struct kstate *out)
{
	const struct tunnel_kind *k = tunnel_kind_get(t->kind, t->local.family);
	struct klink *l;
	struct kaddr *a;

	if (!k)
		return -EOPNOTSUPP;
	l = kstate_add_link(out);
	a = l ? kstate_add_addr(out) : NULL;
	if (!a)
		return -ENOMEM;
	snprintf(l->ifname, sizeof(l->ifname), "%s", t->ifname);
	l->kind = k;
	l->local = t->local;
	l->remote = t->remote;
	l->key = t->key;
	l->ttl = k->has_ttl ? t->ttl : 0;
	l->mtu = t->mtu;
	l->up = true;
	l->owned = true;
	l->group = KSTATE_LINK_GROUP;
	snprintf(l->alias, sizeof(l->alias), KSTATE_ALIAS_PREFIX "%s", t->id);
	l->conf = k->conf;
	l->tunnel = i;
	snprintf(a->ifname, sizeof(a->ifname), "%s", t->ifname);
	a->addr = t->overlay_local.addr;
	a->len = t->overlay_local.len;
	a->tunnel = i;
	return 0;
}

static int plan_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct intent_tunnel *)a)->id, ((const struct intent_tunnel *)b)->id);
}

/* Index of the tunnel with this id in a view sorted by id; -1 when there is none
 * (never for a validated intent). */
static int plan_tunnel_index(const struct intent *in, const void **by_id, const char *id)
{
	struct intent_tunnel key = { .id = (char *)id };
	const struct intent_tunnel *t = kstate_find((const void *const *)by_id, in->n_tunnels,
						    &key, plan_id_cmp);

	return t ? (int)(t - in->tunnels) : -1;
}

static int plan_desired_policy(const struct intent *in, const void **by_id,
			       const struct intent_spd *s, struct kstate *out)
{
	static const uint8_t dirs[] = { XFRM_POLICY_IN, XFRM_POLICY_OUT, XFRM_POLICY_FWD };
	int ti = plan_tunnel_index(in, by_id, s->tunnel);
	const struct intent_tunnel *t = ti >= 0 ? &in->tunnels[ti] : NULL;
	struct kpolicy *p = t ? kstate_add_policy(out) : NULL;

	if (!p)
		return t ? -ENOMEM : -EINVAL;
	p->src = s->src;
	p->dst = s->dst;
	p->proto = s->proto;
	p->dir = dirs[s->dir];
	p->priority = s->priority;
	p->has_mark = s->has_mark;
	p->mark = s->mark;
	p->mark_mask = s->has_mark ? s->mark_mask : 0;
	p->n_tmpl = 1;
	p->tmpl_mode = s->tmpl_mode == INTENT_MODE_TUNNEL ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
	p->tmpl_proto = s->tmpl_proto == INTENT_PROTO_AH ? IPPROTO_AH : IPPROTO_ESP;
	p->tmpl_reqid = s->tmpl_reqid;
	/* Tunnel-mode SAs are found by their outer addresses: ours towards the peer
	 * outbound, the peer's towards us for what arrives. */
	if (p->tmpl_mode == XFRM_MODE_TUNNEL) {
		bool out_dir = s->dir == INTENT_DIR_OUT;

		p->tmpl_src = out_dir ? t->local : t->remote;
		p->tmpl_dst = out_dir ? t->remote : t->local;
	}
	p->tunnel = ti;
	return 0;
}

static int plan_route_key_cmp(const void *x, const void *y)
{
	const struct kroute *a = x, *b = y;
	int r = addr_prefix_cmp(&a->dst, &b->dst);

	if (r)
		return r;
	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	return a->metric < b->metric ? -1 : a->metric > b->metric;
}

/* Key, then the interface of the (single) path: equal keys end up adjacent, their
 * paths in name order. */
static int plan_route_path_cmp(const void *x, const void *y)
{
	int r = plan_route_key_cmp(x, y);

	return r ? r : strcmp(((const struct kroute *)x)->nh[0].ifname,
			      ((const struct kroute *)y)->nh[0].ifname);
}

/* The gateway of an IPv6 path through t, used only in multipath routes: the kernel
 * refuses device-only IPv6 multipath. The overlay peer when the overlay is IPv6;
 * otherwise fe80::<the peer's IPv4 overlay address>, a link-local gateway that needs no
 * route to it and is never resolved (GRE and VTI links do no neighbour discovery). */
static void plan_route_gw(const struct intent_tunnel *t, struct addr *gw)
{
	memset(gw, 0, sizeof(*gw));
	gw->family = AF_INET6;
	if (t->overlay_peer.addr.family == AF_INET6) {
		*gw = t->overlay_peer.addr;
		return;
	}
	gw->bytes[0] = 0xfe;
	gw->bytes[1] = 0x80;
	memcpy(&gw->bytes[12], t->overlay_peer.addr.bytes, 4);
}

static int plan_desired_route(const struct intent *in, const void **by_id,
			      const struct intent_route *ir, struct kstate *out)
{
	int ti = plan_tunnel_index(in, by_id, ir->via);
	struct kroute *r = ti >= 0 ? kstate_add_route(out) : NULL;
	struct knh *nh = r ? kstate_route_add_nh(r) : NULL;

	if (!nh)
		return ti >= 0 ? -ENOMEM : -EINVAL;
	r->dst = ir->prefix;
	r->table = RT_TABLE_MAIN;
	/* IPv6 stores metric 0 as 1024: compare like with like. */
	r->metric = ir->metric || ir->prefix.addr.family == AF_INET ? ir->metric : 1024;
	r->protocol = KSTATE_RTPROT;
	r->tunnel = ti;
	snprintf(nh->ifname, sizeof(nh->ifname), "%s", in->tunnels[ti].ifname);
	nh->tunnel = ti;
	if (r->dst.addr.family == AF_INET6)
		plan_route_gw(&in->tunnels[ti], &nh->gw);
	return 0;
}

/* Routes of equal (prefix, metric) through different tunnels become one multipath
 * route (ECMP), its paths in interface name order. -E2BIG past KSTATE_NH_MAX. Sorts a
 * view rather than the routes (they are large); the merged ones go to a new array. */
static int plan_desired_merge(struct kstate *out)
{
	const void **v = kstate_sort(out->routes, out->n_routes, sizeof(*out->routes),
				     plan_route_path_cmp);
	struct kroute *m = malloc((out->n_routes ? out->n_routes : 1) * sizeof(*m));
	size_t n = 0;
	int rc = -ENOMEM;

	if (!v || !m)
		goto out;
	for (size_t i = 0; i < out->n_routes; i++) {
		const struct kroute *r = v[i];
		struct knh *nh;

		if (n && !plan_route_key_cmp(&m[n - 1], r)) {
			rc = -E2BIG;
			if (!(nh = kstate_route_add_nh(&m[n - 1])))
				goto out;
			*nh = r->nh[0];
			m[n - 1].tunnel = -1;
			continue;
		}
		m[n++] = *r;
	}
	for (size_t i = 0; i < n; i++)
		if (m[i].n_nh == 1)
			memset(&m[i].nh[0].gw, 0, sizeof(struct addr));
	/* An intent without routes leaves out->routes NULL: memcpy(NULL, .., 0) is
	 * undefined behaviour all the same. */
	if (n)
		memcpy(out->routes, m, n * sizeof(*m));
	out->n_routes = n;
	rc = 0;
out:
	free(v);
	free(m);
	return rc;
}

int plan_desired(const struct intent *in, struct kstate *out)
{
	const void **by_id = kstate_sort(in->tunnels, in->n_tunnels, sizeof(*in->tunnels),
					 plan_id_cmp);
	int rc = -ENOMEM;

	if (!by_id)
		goto out;
	for (size_t i = 0; i < in->n_tunnels; i++)
		if ((rc = plan_desired_tunnel(&in->tunnels[i], (int)i, out)))
			goto out;
	rc = 0;
	for (size_t i = 0; !rc && i < in->n_routes; i++)
		rc = plan_desired_route(in, by_id, &in->routes[i], out);
	if (!rc)
		rc = plan_desired_merge(out);
	for (size_t i = 0; !rc && i < in->n_spd; i++)
		rc = plan_desired_policy(in, by_id, &in->spd[i], out);
out:
	free(by_id);
	return rc;
}

/* ---- diff ---- */

struct plan_ctx {
	const struct intent *in;
	const struct kstate *cur;
	const struct kstate *des;
	struct plan *p;
	/* Sorted views: every match below is a binary search in one of these. */
	struct kstate_links *cur_links, *des_links;
	const void **cur_addrs;		/* by ifindex, address, length */
	const void **des_addrs;		/* by ifname, address, length */
	const void **cur_routes;	/* owned only, by key; n_cur_routes of them */
	size_t n_cur_routes;
	const void **des_routes;	/* by key */
	const void **cur_pols;		/* by key */
	const void **des_pols;
	/* Current links that will be deleted or replaced: what hangs off them disappears
	 * with them, so it is neither deleted nor counted as present. Sorted. */
	int *doomed;
	size_t n_doomed, cap_doomed;
};

static int plan_int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

static bool plan_doomed(const struct plan_ctx *c, int ifindex)
{
	return c->n_doomed &&
	       bsearch(&ifindex, c->doomed, c->n_doomed, sizeof(int), plan_int_cmp);
}

static int plan_addr_key_cmp(const struct kaddr *a, const struct kaddr *b)
{
	int r = addr_cmp(&a->addr, &b->addr);

	return r ? r : a->len < b->len ? -1 : a->len > b->len;
}

static int plan_addr_idx_cmp(const void *x, const void *y)
{
	const struct kaddr *a = x, *b = y;

	if (a->ifindex != b->ifindex)
		return a->ifindex < b->ifindex ? -1 : 1;
	return plan_addr_key_cmp(a, b);
}

static int plan_addr_name_cmp(const void *x, const void *y)
{
	const struct kaddr *a = x, *b = y;
	int r = strcmp(a->ifname, b->ifname);

	return r ? r : plan_addr_key_cmp(a, b);
}

/* The owned routes of cur, in a sorted view (routes of other protocols never match). */
static int plan_index_routes(struct plan_ctx *c)
{
	const void **v = kstate_sort(c->cur->routes, c->cur->n_routes, sizeof(struct kroute),
				     plan_route_key_cmp);
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < c->cur->n_routes; i++)
		if (((const struct kroute *)v[i])->protocol == KSTATE_RTPROT)
			v[n++] = v[i];
	c->cur_routes = v;
	c->n_cur_routes = n;
	return 0;
}

static int plan_index(struct plan_ctx *c)
{
	const struct kstate *k = c->cur, *d = c->des;

	c->cur_links = kstate_links_new(k);
	c->des_links = kstate_links_new(d);
	c->cur_addrs = kstate_sort(k->addrs, k->n_addrs, sizeof(*k->addrs), plan_addr_idx_cmp);
	c->des_addrs = kstate_sort(d->addrs, d->n_addrs, sizeof(*d->addrs), plan_addr_name_cmp);
	c->des_routes = kstate_sort(d->routes, d->n_routes, sizeof(*d->routes),
				    plan_route_key_cmp);
	c->cur_pols = kstate_sort(k->policies, k->n_policies, sizeof(*k->policies),
				  kstate_policy_key_cmp);
	c->des_pols = kstate_sort(d->policies, d->n_policies, sizeof(*d->policies),
				  kstate_policy_key_cmp);
	if (!c->cur_links || !c->des_links || !c->cur_addrs || !c->des_addrs ||
	    !c->des_routes || !c->cur_pols || !c->des_pols)
		return -ENOMEM;
	return plan_index_routes(c);
}

static void plan_unindex(struct plan_ctx *c)
{
	kstate_links_free(c->cur_links);
	kstate_links_free(c->des_links);
	free(c->cur_addrs);
	free(c->des_addrs);
	free(c->cur_routes);
	free(c->des_routes);
	free(c->cur_pols);
	free(c->des_pols);
	free(c->doomed);
}

static bool plan_link_same(const struct klink *c, const struct klink *d)
{
	return !addr_cmp(&c->local, &d->local) && !addr_cmp(&c->remote, &d->remote) &&
	       c->key == d->key && c->ttl == d->ttl && c->mtu == d->mtu &&
	       c->up == d->up && c->group == d->group && !strcmp(c->alias, d->alias);
}

static bool plan_conf_same(const struct kconf *c, const struct kconf *d)
{
	return (d->rp_filter < 0 || c->rp_filter == d->rp_filter) &&
	       (d->disable_policy < 0 || c->disable_policy == d->disable_policy) &&
	       (d->disable_xfrm < 0 || c->disable_xfrm == d->disable_xfrm) &&
	       (d->addr_gen_mode < 0 || c->addr_gen_mode < 0 ||
		c->addr_gen_mode == d->addr_gen_mode);
}

/* Pass 1: tunnels whose name or SPD selector a foreign object holds. */
static int plan_find_failures(struct plan_ctx *c)
{
	int rc;

	for (size_t i = 0; i < c->des->n_links; i++) {
		const struct klink *d = &c->des->links[i];
		const struct klink *k = kstate_links_by_name(c->cur_links, d->ifname);

		if (k && !k->owned &&
		    (rc = plan_fail(c->p, d->tunnel, "interface %s exists and is not ours",
				    d->ifname)))
			return rc;
	}
	for (size_t i = 0; i < c->des->n_policies; i++) {
		const struct kpolicy *d = &c->des->policies[i];
		size_t n = c->cur->n_policies;

		for (size_t j = kstate_lower_bound(c->cur_pols, n, d, kstate_policy_key_cmp);
		     j < n && !kstate_policy_key_cmp(c->cur_pols[j], d); j++) {
			const struct kpolicy *k = c->cur_pols[j];

			if (!kstate_policy_is_owned(k) &&
			    (rc = plan_fail(c->p, d->tunnel,
					    "an XFRM policy that is not ours has the same selector (priority %u)",
					    k->priority)))
				return rc;
		}
	}
	return 0;
}

static int plan_doom(struct plan_ctx *c, int ifindex)
{
	if (c->n_doomed == c->cap_doomed) {
		size_t ncap = c->cap_doomed ? 2 * c->cap_doomed : 16;
		int *nd = realloc(c->doomed, ncap * sizeof(int));

		if (!nd)
			return -ENOMEM;
		c->doomed = nd;
		c->cap_doomed = ncap;
	}
	c->doomed[c->n_doomed++] = ifindex;
	return 0;
}

static int plan_links(struct plan_ctx *c)
{
	struct plan_action *a;

	for (size_t i = 0; i < c->cur->n_links; i++) {
		const struct klink *k = &c->cur->links[i];
		const struct klink *d = kstate_links_by_name(c->des_links, k->ifname);

		if (!k->owned || (d && k->kind == d->kind))
			continue;
		if (plan_doom(c, k->ifindex) || !(a = plan_add(c->p, PLAN_DEL, PLAN_OBJ_LINK, -1)))
			return -ENOMEM;
		a->u.link = *k;
	}
	if (c->n_doomed)
		qsort(c->doomed, c->n_doomed, sizeof(int), plan_int_cmp);
	for (size_t i = 0; i < c->des->n_links; i++) {
		const struct klink *d = &c->des->links[i];
		const struct klink *k = kstate_links_by_name(c->cur_links, d->ifname);
		bool fresh = !k || plan_doomed(c, k->ifindex);

		if (plan_tunnel_failed(c->p, d->tunnel))
			continue;
		if (fresh || !plan_link_same(k, d)) {
			a = plan_add(c->p, fresh ? PLAN_ADD : PLAN_CHANGE, PLAN_OBJ_LINK, d->tunnel);
			if (!a)
				return -ENOMEM;
			a->u.link = *d;
			a->u.link.ifindex = fresh ? 0 : k->ifindex;
		}
		/* A new link's sysctls start from conf/default, which we cannot know. */
		if (fresh || !plan_conf_same(&k->conf, &d->conf)) {
			if (!(a = plan_add(c->p, PLAN_ADD, PLAN_OBJ_CONF, d->tunnel)))
				return -ENOMEM;
			a->u.link = *d;
		}
	}
	return 0;
}

static bool plan_is_ll(const struct addr *a)
{
	return a->family == AF_INET6 && a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80;
}

static int plan_addrs_del(struct plan_ctx *c)
{
	struct plan_action *a;

	for (size_t i = 0; i < c->cur->n_addrs; i++) {
		const struct kaddr *k = &c->cur->addrs[i];
		const struct klink *l = kstate_links_by_index(c->cur_links, k->ifindex);
		const struct klink *d;
		struct kaddr key;

		if (!l || !l->owned || plan_doomed(c, k->ifindex) || plan_is_ll(&k->addr))
			continue;
		key = *k;
		snprintf(key.ifname, sizeof(key.ifname), "%s", l->ifname);
		if (kstate_find(c->des_addrs, c->des->n_addrs, &key, plan_addr_name_cmp))
			continue;
		d = kstate_links_by_name(c->des_links, l->ifname);
		if (d && plan_tunnel_failed(c->p, d->tunnel))
			continue;
		if (!(a = plan_add(c->p, PLAN_DEL, PLAN_OBJ_ADDR, -1)))
			return -ENOMEM;
		a->u.addr = key;
	}
	return 0;
}

static int plan_addrs(struct plan_ctx *c)
{
	struct plan_action *a;
	int rc;

	if ((rc = plan_addrs_del(c)))
		return rc;
	for (size_t i = 0; i < c->des->n_addrs; i++) {
		const struct kaddr *d = &c->des->addrs[i];
		const struct klink *l = kstate_links_by_name(c->cur_links, d->ifname);
		struct kaddr key = *d;

		if (plan_tunnel_failed(c->p, d->tunnel))
			continue;
		if (l && !plan_doomed(c, l->ifindex)) {
			key.ifindex = l->ifindex;
			if (kstate_find(c->cur_addrs, c->cur->n_addrs, &key, plan_addr_idx_cmp))
				continue;
		}
		if (!(a = plan_add(c->p, PLAN_ADD, PLAN_OBJ_ADDR, d->tunnel)))
			return -ENOMEM;
		a->u.addr = *d;
	}
	return 0;
}

/* Whether r disappears with the links being deleted: an IPv4 route when any of its
 * paths goes through one (the kernel drops the whole route), an IPv6 one when all do
 * (the kernel drops each sibling on its own). */
static bool plan_route_doomed(const struct plan_ctx *c, const struct kroute *r)
{
	uint8_t n = 0;

	for (uint8_t i = 0; i < r->n_nh; i++)
		n += plan_doomed(c, r->nh[i].oif);
	return r->n_nh && (r->dst.addr.family == AF_INET ? n > 0 : n == r->n_nh);
}

/* The current owned route with d's key, unless it disappears with a doomed link. */
static const struct kroute *plan_route_find(const struct plan_ctx *c, const struct kroute *d)
{
	size_t n = c->n_cur_routes;

	for (size_t j = kstate_lower_bound(c->cur_routes, n, d, plan_route_key_cmp);
	     j < n && !plan_route_key_cmp(c->cur_routes[j], d); j++) {
		const struct kroute *k = c->cur_routes[j];

		if (!plan_route_doomed(c, k))
			return k;
	}
	return NULL;
}

static bool plan_nh_same(const struct plan_ctx *c, const struct knh *k, const struct knh *d)
{
	const struct klink *l = kstate_links_by_index(c->cur_links, k->oif);

	return l && !plan_doomed(c, k->oif) && !strcmp(l->ifname, d->ifname) &&
	       !addr_cmp(&k->gw, &d->gw) && k->weight == d->weight;
}

/* The same set of paths, whatever order the kernel lists them in: each desired path
 * takes an equal kernel path not taken yet (path equality is by attributes, so
 * greedy matching finds a pairing whenever one exists). */
static bool plan_route_same(const struct plan_ctx *c, const struct kroute *k,
			    const struct kroute *d)
{
	bool used[KSTATE_NH_MAX] = { false };

	if (k->nh_trunc || k->n_nh != d->n_nh)
		return false;
	for (uint8_t i = 0; i < d->n_nh; i++) {
		uint8_t j = 0;

		while (j < k->n_nh && (used[j] || !plan_nh_same(c, &k->nh[j], &d->nh[i])))
			j++;
		if (j == k->n_nh)
			return false;
		used[j] = true;
	}
	return true;
}

static int plan_routes_del(struct plan_ctx *c)
{
	struct plan_action *a;

	for (size_t i = 0; i < c->cur->n_routes; i++) {
		const struct kroute *k = &c->cur->routes[i];

		if (k->protocol != KSTATE_RTPROT || plan_route_doomed(c, k) ||
		    kstate_find(c->des_routes, c->des->n_routes, k, plan_route_key_cmp))
			continue;
		if (!(a = plan_add(c->p, PLAN_DEL, PLAN_OBJ_ROUTE, -1)))
			return -ENOMEM;
		a->u.route = *k;
		/* Names for the plan's text only: deletion goes by ifindex. */
		for (uint8_t j = 0; j < k->n_nh; j++) {
			const struct klink *l = kstate_links_by_index(c->cur_links, k->nh[j].oif);

			if (l)
				memcpy(a->u.route.nh[j].ifname, l->ifname, sizeof(l->ifname));
		}
	}
	return 0;
}

static int plan_routes(struct plan_ctx *c)
{
	struct plan_action *a;
	int rc;

	if ((rc = plan_routes_del(c)))
		return rc;
	for (size_t i = 0; i < c->des->n_routes; i++) {
		const struct kroute *d = &c->des->routes[i];
		struct kroute eff = *d;
		const struct kroute *k;
		bool keep[KSTATE_NH_MAX];

		/* A path through a failed tunnel is left out; the others still carry. */
		for (uint8_t j = 0; j < d->n_nh; j++)
			keep[j] = !plan_tunnel_failed(c->p, d->nh[j].tunnel);
		if (!kstate_route_keep(&eff, keep))
			continue;
		k = plan_route_find(c, &eff);
		if (k && plan_route_same(c, k, &eff))
			continue;
		if (!(a = plan_add(c->p, k ? PLAN_CHANGE : PLAN_ADD, PLAN_OBJ_ROUTE, eff.tunnel)))
			return -ENOMEM;
		a->u.route = eff;
	}
	return 0;
}

static bool plan_policy_same(const struct kpolicy *k, const struct kpolicy *d)
{
	return k->priority == d->priority && k->n_tmpl == d->n_tmpl &&
	       k->tmpl_mode == d->tmpl_mode && k->tmpl_proto == d->tmpl_proto &&
	       k->tmpl_reqid == d->tmpl_reqid && !addr_cmp(&k->tmpl_src, &d->tmpl_src) &&
	       !addr_cmp(&k->tmpl_dst, &d->tmpl_dst);
}

static int plan_policies(struct plan_ctx *c)
{
	struct plan_action *a;

	for (size_t i = 0; i < c->cur->n_policies; i++) {
		const struct kpolicy *k = &c->cur->policies[i];

		if (!kstate_policy_is_owned(k) ||
		    kstate_find(c->des_pols, c->des->n_policies, k, kstate_policy_key_cmp))
			continue;
		if (!(a = plan_add(c->p, PLAN_DEL, PLAN_OBJ_POLICY, -1)))
			return -ENOMEM;
		a->u.pol = *k;
	}
	for (size_t i = 0; i < c->des->n_policies; i++) {
		const struct kpolicy *d = &c->des->policies[i];
		const struct kpolicy *k;

		if (plan_tunnel_failed(c->p, d->tunnel))
			continue;
		k = kstate_find(c->cur_pols, c->cur->n_policies, d, kstate_policy_key_cmp);
		if (k && plan_policy_same(k, d))
			continue;
		if (!(a = plan_add(c->p, k ? PLAN_CHANGE : PLAN_ADD, PLAN_OBJ_POLICY, d->tunnel)))
			return -ENOMEM;
		a->u.pol = *d;
	}
	return 0;
}

enum plan_phase plan_action_phase(const struct plan_action *a)
{
	if (a->op == PLAN_DEL)
		return PLAN_PHASE_DEL;
	return a->obj == PLAN_OBJ_LINK ? PLAN_PHASE_LINK : PLAN_PHASE_REST;
}

/* Deletions run dependents first (policies, routes, addresses, links); additions run
 * in the opposite order. */
static int plan_rank(const struct plan_action *a)
{
	static const int del_rank[] = { 4, 3, 2, 1, 0 };	/* by enum plan_obj */

	if (a->op == PLAN_DEL)
		return del_rank[a->obj];
	return 10 * (int)plan_action_phase(a) + (int)a->obj;
}

static int plan_cmp(const void *x, const void *y)
{
	const struct plan_action *a = x, *b = y;
	int ra = plan_rank(a), rb = plan_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(a->line, b->line);
}

int plan_compute(const struct intent *in, const struct kstate *cur, struct plan *p)
{
	struct kstate *des = kstate_new();
	struct plan_ctx c = { .in = in, .cur = cur, .des = des, .p = p };
	int rc = -ENOMEM;

	free(p->failed);
	p->n_tunnels = in ? in->n_tunnels : 0;
	p->failed = calloc(p->n_tunnels ? p->n_tunnels : 1, sizeof(bool));
	if (!des || !p->failed)
		goto out;
	if (in && (rc = plan_desired(in, des)))
		goto out;
	/* Every desired object added (a link with its sysctl), every current one removed:
	 * more than a pass ever needs, and no regrowth. */
	if ((rc = plan_reserve(p, p->n + 2 * des->n_links + des->n_addrs + des->n_routes +
			       des->n_policies + cur->n_links + cur->n_addrs + cur->n_routes +
			       cur->n_policies + 16)))
		goto out;
	if ((rc = plan_index(&c)) || (rc = plan_find_failures(&c)) || (rc = plan_links(&c)) ||
	    (rc = plan_addrs(&c)) || (rc = plan_routes(&c)) || (rc = plan_policies(&c)))
		goto out;
	for (size_t i = 0; i < p->n; i++)
		plan_fmt_action(&p->acts[i], p->acts[i].line, sizeof(p->acts[i].line));
	if (p->n)
		qsort(p->acts, p->n, sizeof(*p->acts), plan_cmp);
out:
	plan_unindex(&c);
	kstate_free(des);
	return rc;
}

void plan_print(const struct plan *p, const struct intent *in, FILE *f)
{
	for (size_t i = 0; i < p->n_fails; i++)
		fprintf(f, "fail tunnel %s: %s\n", in ? in->tunnels[p->fails[i].tunnel].id : "?",
			p->fails[i].msg);
	for (size_t i = 0; i < p->n; i++)
		fprintf(f, "%s\n", p->acts[i].line);
}
