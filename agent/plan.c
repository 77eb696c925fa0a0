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
	free(p);
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
	p->fails[p->n_fails].tunnel = tunnel;
	va_start(ap, fmt);
	vsnprintf(p->fails[p->n_fails].msg, sizeof(p->fails[0].msg), fmt, ap);
	va_end(ap);
	p->n_fails++;
	return 0;
}

bool plan_tunnel_failed(const struct plan *p, int tunnel)
{
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

static int plan_tunnel_index(const struct intent *in, const char *id)
{
	const struct intent_tunnel *t = intent_tunnel_by_id(in, id);

	return t ? (int)(t - in->tunnels) : -1;
}

static int plan_desired_policy(const struct intent *in, const struct intent_spd *s,
			       struct kstate *out)
{
	static const uint8_t dirs[] = { XFRM_POLICY_IN, XFRM_POLICY_OUT, XFRM_POLICY_FWD };
	int ti = plan_tunnel_index(in, s->tunnel);
	const struct intent_tunnel *t = &in->tunnels[ti];
	struct kpolicy *p = kstate_add_policy(out);

	if (!p)
		return -ENOMEM;
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

int plan_desired(const struct intent *in, struct kstate *out)
{
	int rc;

	for (size_t i = 0; i < in->n_tunnels; i++)
		if ((rc = plan_desired_tunnel(&in->tunnels[i], (int)i, out)))
			return rc;
	for (size_t i = 0; i < in->n_routes; i++) {
		const struct intent_route *ir = &in->routes[i];
		int ti = plan_tunnel_index(in, ir->via);
		struct kroute *r = kstate_add_route(out);

		if (!r)
			return -ENOMEM;
		r->dst = ir->prefix;
		r->table = RT_TABLE_MAIN;
		/* IPv6 stores metric 0 as 1024: compare like with like. */
		r->metric = ir->metric || ir->prefix.addr.family == AF_INET ? ir->metric : 1024;
		r->protocol = KSTATE_RTPROT;
		snprintf(r->ifname, sizeof(r->ifname), "%s", in->tunnels[ti].ifname);
		r->tunnel = ti;
	}
	for (size_t i = 0; i < in->n_spd; i++)
		if ((rc = plan_desired_policy(in, &in->spd[i], out)))
			return rc;
	return 0;
}

/* ---- diff ---- */

struct plan_ctx {
	const struct intent *in;
	const struct kstate *cur;
	const struct kstate *des;
	struct plan *p;
	/* Current links that will be deleted or replaced: what hangs off them disappears
	 * with them, so it is neither deleted nor counted as present. */
	int *doomed;
	size_t n_doomed;
};

static bool plan_doomed(const struct plan_ctx *c, int ifindex)
{
	for (size_t i = 0; i < c->n_doomed; i++)
		if (c->doomed[i] == ifindex)
			return true;
	return false;
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
	       (d->disable_xfrm < 0 || c->disable_xfrm == d->disable_xfrm);
}

/* Pass 1: tunnels whose name or SPD selector a foreign object holds. */
static int plan_find_failures(struct plan_ctx *c)
{
	int rc;

	for (size_t i = 0; i < c->des->n_links; i++) {
		const struct klink *d = &c->des->links[i];
		const struct klink *k = kstate_link_by_name(c->cur, d->ifname);

		if (k && !k->owned &&
		    (rc = plan_fail(c->p, d->tunnel, "interface %s exists and is not ours",
				    d->ifname)))
			return rc;
	}
	for (size_t i = 0; i < c->des->n_policies; i++) {
		const struct kpolicy *d = &c->des->policies[i];

		for (size_t j = 0; j < c->cur->n_policies; j++) {
			const struct kpolicy *k = &c->cur->policies[j];

			if (!kstate_policy_is_owned(k) && kstate_policy_same_key(k, d) &&
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
	int *nd = realloc(c->doomed, (c->n_doomed + 1) * sizeof(int));

	if (!nd)
		return -ENOMEM;
	c->doomed = nd;
	c->doomed[c->n_doomed++] = ifindex;
	return 0;
}

static int plan_links(struct plan_ctx *c)
{
	struct plan_action *a;

	for (size_t i = 0; i < c->cur->n_links; i++) {
		const struct klink *k = &c->cur->links[i];
		const struct klink *d = kstate_link_by_name(c->des, k->ifname);

		if (!k->owned || (d && k->kind == d->kind))
			continue;
		if (plan_doom(c, k->ifindex) || !(a = plan_add(c->p, PLAN_DEL, PLAN_OBJ_LINK, -1)))
			return -ENOMEM;
		a->u.link = *k;
	}
	for (size_t i = 0; i < c->des->n_links; i++) {
		const struct klink *d = &c->des->links[i];
		const struct klink *k = kstate_link_by_name(c->cur, d->ifname);
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

static int plan_addrs(struct plan_ctx *c)
{
	struct plan_action *a;

	for (size_t i = 0; i < c->cur->n_addrs; i++) {
		const struct kaddr *k = &c->cur->addrs[i];
		const struct klink *l = kstate_link_by_index(c->cur, k->ifindex);
		const struct klink *d = l ? kstate_link_by_name(c->des, l->ifname) : NULL;
		bool wanted = false;

		if (!l || !l->owned || plan_doomed(c, k->ifindex) || plan_is_ll(&k->addr))
			continue;
		for (size_t j = 0; !wanted && j < c->des->n_addrs; j++) {
			const struct kaddr *w = &c->des->addrs[j];

			wanted = !strcmp(w->ifname, l->ifname) && !addr_cmp(&w->addr, &k->addr) &&
				 w->len == k->len;
		}
		if (wanted || (d && plan_tunnel_failed(c->p, d->tunnel)))
			continue;
		if (!(a = plan_add(c->p, PLAN_DEL, PLAN_OBJ_ADDR, -1)))
			return -ENOMEM;
		a->u.addr = *k;
		snprintf(a->u.addr.ifname, sizeof(a->u.addr.ifname), "%s", l->ifname);
	}
	for (size_t i = 0; i < c->des->n_addrs; i++) {
		const struct kaddr *d = &c->des->addrs[i];
		const struct klink *l = kstate_link_by_name(c->cur, d->ifname);
		bool have = false;

		if (plan_tunnel_failed(c->p, d->tunnel))
			continue;
		for (size_t j = 0; l && !plan_doomed(c, l->ifindex) && !have &&
		     j < c->cur->n_addrs; j++) {
			const struct kaddr *k = &c->cur->addrs[j];

			have = k->ifindex == l->ifindex && !addr_cmp(&k->addr, &d->addr) &&
			       k->len == d->len;
		}
		if (have)
			continue;
		if (!(a = plan_add(c->p, PLAN_ADD, PLAN_OBJ_ADDR, d->tunnel)))
			return -ENOMEM;
		a->u.addr = *d;
	}
	return 0;
}

static bool plan_route_same_key(const struct kroute *a, const struct kroute *b)
{
	return !addr_prefix_cmp(&a->dst, &b->dst) && a->table == b->table &&
	       a->metric == b->metric;
}

/* The current owned route with d's key, unless it hangs off a doomed link. */
static const struct kroute *plan_route_find(const struct plan_ctx *c, const struct kroute *d)
{
	for (size_t j = 0; j < c->cur->n_routes; j++) {
		const struct kroute *k = &c->cur->routes[j];

		if (k->protocol == KSTATE_RTPROT && !plan_doomed(c, k->oif) &&
		    plan_route_same_key(k, d))
			return k;
	}
	return NULL;
}

static int plan_routes(struct plan_ctx *c)
{
	struct plan_action *a;

	for (size_t i = 0; i < c->cur->n_routes; i++) {
		const struct kroute *k = &c->cur->routes[i];
		const struct kroute *d = NULL;

		if (k->protocol != KSTATE_RTPROT || plan_doomed(c, k->oif))
			continue;
		for (size_t j = 0; !d && j < c->des->n_routes; j++)
			if (plan_route_same_key(k, &c->des->routes[j]))
				d = &c->des->routes[j];
		if (d)
			continue;
		if (!(a = plan_add(c->p, PLAN_DEL, PLAN_OBJ_ROUTE, -1)))
			return -ENOMEM;
		a->u.route = *k;
	}
	for (size_t i = 0; i < c->des->n_routes; i++) {
		const struct kroute *d = &c->des->routes[i];
		const struct kroute *k = plan_route_find(c, d);
		const struct klink *l = k ? kstate_link_by_index(c->cur, k->oif) : NULL;

		if (plan_tunnel_failed(c->p, d->tunnel) || (l && !strcmp(l->ifname, d->ifname)))
			continue;
		if (!(a = plan_add(c->p, k ? PLAN_CHANGE : PLAN_ADD, PLAN_OBJ_ROUTE, d->tunnel)))
			return -ENOMEM;
		a->u.route = *d;
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
		bool wanted = false;

		if (!kstate_policy_is_owned(k))
			continue;
		for (size_t j = 0; !wanted && j < c->des->n_policies; j++)
			wanted = kstate_policy_same_key(k, &c->des->policies[j]);
		if (wanted)
			continue;
		if (!(a = plan_add(c->p, PLAN_DEL, PLAN_OBJ_POLICY, -1)))
			return -ENOMEM;
		a->u.pol = *k;
	}
	for (size_t i = 0; i < c->des->n_policies; i++) {
		const struct kpolicy *d = &c->des->policies[i];
		const struct kpolicy *k = NULL;

		if (plan_tunnel_failed(c->p, d->tunnel))
			continue;
		for (size_t j = 0; !k && j < c->cur->n_policies; j++)
			if (kstate_policy_same_key(&c->cur->policies[j], d))
				k = &c->cur->policies[j];
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

	if (!des)
		goto out;
	if (in && (rc = plan_desired(in, des)))
		goto out;
	if ((rc = plan_find_failures(&c)) || (rc = plan_links(&c)) ||
	    (rc = plan_addrs(&c)) || (rc = plan_routes(&c)) || (rc = plan_policies(&c)))
		goto out;
	for (size_t i = 0; i < p->n; i++)
		plan_fmt_action(&p->acts[i], p->acts[i].line, sizeof(p->acts[i].line));
	if (p->n)
		qsort(p->acts, p->n, sizeof(*p->acts), plan_cmp);
out:
	free(c.doomed);
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
