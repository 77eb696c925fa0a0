/* Reconcile: read, plan, apply in phases, verify. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/netlink.h>

#include "log.h"
#include "nl_addr.h"
#include "nl_link.h"
#include "nl_route.h"
#include "plan.h"
#include "reconcile.h"
#include "xfrm_policy.h"

#define RECONCILE_DUMP_RETRIES 5

struct reconcile *reconcile_new(void)
{
	struct reconcile *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->rt = nl_new(NETLINK_ROUTE);
	r->xf = r->rt ? nl_new(NETLINK_XFRM) : NULL;
	if (!r->xf) {
		int e = errno;

		reconcile_free(r);
		errno = e;
		return NULL;
	}
	return r;
}

void reconcile_set_crash_after(struct reconcile *r, uint64_t n)
{
	r->rt->crash_after = n;
}

void reconcile_free(struct reconcile *r)
{
	if (!r)
		return;
	nl_free(r->rt);
	nl_free(r->xf);
	free(r);
}

void reconcile_result_clear(struct reconcile_result *res)
{
	free(res->tunnels);
	memset(res, 0, sizeof(*res));
}

int reconcile_read(struct reconcile *r, struct kstate *ks)
{
	int rc = -EINTR;

	for (int i = 0; rc == -EINTR && i < RECONCILE_DUMP_RETRIES; i++) {
		kstate_clear(ks);
		rc = nl_link_dump(r->rt, ks);
		if (!rc)
			rc = nl_addr_dump(r->rt, ks);
		if (!rc)
			rc = nl_route_dump(r->rt, ks);
		if (!rc)
			rc = xfrm_policy_dump(r->xf, ks);
	}
	return rc;
}

/* Records the first error of a tunnel (or of the site, tunnel < 0) and logs it. */
static void reconcile_fail(const struct intent *in, struct reconcile_result *res,
			   int tunnel, const char *what, const char *why)
{
	res->n_failed++;
	if (tunnel < 0 || !in) {
		log_ctx(LOG_LVL_ERR, in ? in->site : "-", NULL, "%s: %s", what, why);
		return;
	}
	if (res->tunnels[tunnel].failed)
		return;
	res->tunnels[tunnel].failed = true;
	snprintf(res->tunnels[tunnel].error, sizeof(res->tunnels[0].error), "%s: %s", what, why);
	log_ctx(LOG_LVL_ERR, in->site, in->tunnels[tunnel].id, "%s: %s", what, why);
}

/* ifindex of a link by name in the freshest view, 0 when it does not exist. */
static int reconcile_ifindex(const struct kstate_links *ix, const char *ifname)
{
	const struct klink *l = ix ? kstate_links_by_name(ix, ifname) : NULL;

	return l ? l->ifindex : 0;
}

/* A deletion goes by the kernel's ifindexes. Otherwise each path's link is looked up
 * by name; a path whose link is missing (its creation failed) is left out while
 * another path remains. -ENODEV when none does. */
static int reconcile_put_route(const struct plan_action *a, int i,
			       const struct kstate_links *links, struct nl_batch *rt)
{
	struct kroute r = a->u.route;
	bool keep[KSTATE_NH_MAX];

	if (a->op == PLAN_DEL)
		return nl_route_put(rt, &r, a->op, i);
	for (uint8_t k = 0; k < r.n_nh; k++) {
		r.nh[k].oif = reconcile_ifindex(links, r.nh[k].ifname);
		keep[k] = r.nh[k].oif > 0;
	}
	return kstate_route_keep(&r, keep) ? nl_route_put(rt, &r, a->op, i) : -ENODEV;
}

/* Puts action i into the batch of its socket. -ENODEV when its link is missing. */
static int reconcile_put(const struct plan_action *a, int i, const struct kstate_links *links,
			 struct nl_batch *rt, struct nl_batch *xf)
{
	int ifindex;

	switch (a->obj) {
	case PLAN_OBJ_LINK:
		if (a->op == PLAN_DEL)
			return nl_link_put_del(rt, a->u.link.ifindex, i);
		return nl_link_put_new(rt, &a->u.link, a->op == PLAN_ADD, i);
	case PLAN_OBJ_CONF:
		ifindex = reconcile_ifindex(links, a->u.link.ifname);
		return ifindex ? nl_link_put_conf(rt, ifindex, &a->u.link, i) : -ENODEV;
	case PLAN_OBJ_ADDR:
		ifindex = a->op == PLAN_DEL ? a->u.addr.ifindex :
			  reconcile_ifindex(links, a->u.addr.ifname);
		return ifindex ? nl_addr_put(rt, &a->u.addr, ifindex, a->op != PLAN_DEL, i) :
				 -ENODEV;
	case PLAN_OBJ_ROUTE:
		return reconcile_put_route(a, i, links, rt);
	case PLAN_OBJ_POLICY:
		return xfrm_policy_put(xf, &a->u.pol, a->op, i);
	}
	return -EINVAL;
}

static void reconcile_collect(const struct intent *in, const struct plan *p,
			      const struct nl_batch *b, struct reconcile_result *res)
{
	for (size_t k = 0; k < b->n; k++) {
		const struct plan_action *a = &p->acts[b->cookie[k]];
		char why[200];

		if (!b->err[k])
			continue;
		snprintf(why, sizeof(why), "%s%s%s", strerror(-b->err[k]),
			 b->ext[k] ? ": " : "", b->ext[k] ? b->ext[k] : "");
		reconcile_fail(in, res, a->tunnel, a->line, why);
	}
}

/* Applies the actions of one phase: XFRM first when deleting (a policy may refer to
 * nothing else), rtnetlink first otherwise. */
static int reconcile_phase(struct reconcile *r, const struct intent *in, const struct plan *p,
			   enum plan_phase phase, const struct kstate_links *links,
			   struct reconcile_result *res)
{
	struct nl_batch *rt = nl_batch_new(), *xf = nl_batch_new();
	int rc = -ENOMEM;

	if (!rt || !xf)
		goto out;
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->acts[i];

		if (plan_action_phase(a) != phase ||
		    (a->tunnel >= 0 && res->tunnels[a->tunnel].failed))
			continue;
		rc = reconcile_put(a, (int)i, links, rt, xf);
		if (rc == -ENODEV)
			reconcile_fail(in, res, a->tunnel, a->line, "its interface does not exist");
		else if (rc)
			goto out;
	}
	rc = phase == PLAN_PHASE_DEL ? nl_batch_send(r->xf, xf) : nl_batch_send(r->rt, rt);
	if (!rc)
		rc = phase == PLAN_PHASE_DEL ? nl_batch_send(r->rt, rt) : nl_batch_send(r->xf, xf);
	if (rc)
		goto out;
	reconcile_collect(in, p, rt, res);
	reconcile_collect(in, p, xf, res);
	res->n_msgs += rt->n + xf->n;
out:
	nl_batch_free(rt);
	nl_batch_free(xf);
	return rc;
}

/* Few new links are read back one by one; more, with one dump of all links. */
#define RECONCILE_GET_MAX 16

/* Re-reads the links this plan creates into cur (replacing any old entry of the same
 * name: a link of another kind is deleted and created anew). */
static int reconcile_get_new(struct reconcile *r, const struct plan *p, struct kstate *cur)
{
	struct kstate *got = kstate_new();
	int rc = got ? 0 : -ENOMEM;

	for (size_t i = 0; !rc && i < p->n; i++) {
		const struct plan_action *a = &p->acts[i];

		if (a->obj != PLAN_OBJ_LINK || a->op != PLAN_ADD)
			continue;
		rc = nl_link_get(r->rt, a->u.link.ifname, got);
		if (rc == -ENODEV)	/* its creation failed: so will what hangs off it */
			rc = 0;
	}
	for (size_t i = 0; !rc && got && i < got->n_links; i++) {
		struct klink *l = (struct klink *)kstate_link_by_name(cur, got->links[i].ifname);

		if (!l && !(l = kstate_add_link(cur)))
			rc = -ENOMEM;
		else
			*l = got->links[i];
	}
	kstate_free(got);
	return rc;
}

/* cur as read before the pass: after the link phase, the links by name as they are now. */
static int reconcile_links_now(struct reconcile *r, const struct plan *p, struct kstate *cur,
			       struct kstate_links **ix)
{
	size_t n_new = 0;
	int rc = 0;

	for (size_t i = 0; i < p->n; i++)
		n_new += p->acts[i].obj == PLAN_OBJ_LINK && p->acts[i].op == PLAN_ADD;
	if (n_new && n_new <= RECONCILE_GET_MAX) {
		rc = reconcile_get_new(r, p, cur);
	} else if (n_new) {
		rc = -EINTR;
		for (int i = 0; rc == -EINTR && i < RECONCILE_DUMP_RETRIES; i++) {
			cur->n_links = 0;
			rc = nl_link_dump(r->rt, cur);
		}
	}
	if (!rc && !(*ix = kstate_links_new(cur)))
		rc = -ENOMEM;
	return rc;
}

static int reconcile_apply(struct reconcile *r, const struct intent *in, const struct plan *p,
			   struct kstate *cur, struct reconcile_result *res)
{
	struct kstate_links *ix = NULL;
	int rc;

	if ((rc = reconcile_phase(r, in, p, PLAN_PHASE_DEL, NULL, res)) ||
	    (rc = reconcile_phase(r, in, p, PLAN_PHASE_LINK, NULL, res)))
		goto out;
	/* New links have their ifindex only now. */
	if (!(rc = reconcile_links_now(r, p, cur, &ix)))
		rc = reconcile_phase(r, in, p, PLAN_PHASE_REST, ix, res);
out:
	kstate_links_free(ix);
	return rc;
}

static int reconcile_result_init(const struct intent *in, struct reconcile_result *res)
{
	reconcile_result_clear(res);
	res->n_tunnels = in ? in->n_tunnels : 0;
	res->tunnels = calloc(res->n_tunnels ? res->n_tunnels : 1, sizeof(*res->tunnels));
	return res->tunnels ? 0 : -ENOMEM;
}

static double reconcile_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Reads the kernel and plans against it into a new plan; ms gets the time of each.
 * The kernel as read goes to *cur_out when it is not NULL. */
static int reconcile_plan(struct reconcile *r, const struct intent *in, struct plan **out,
			  struct kstate **cur_out, double ms[2])
{
	struct kstate *cur = kstate_new();
	struct plan *p = plan_new();
	double t0 = reconcile_ms();
	int rc = -ENOMEM;

	if (!cur || !p)
		goto out;
	if ((rc = reconcile_read(r, cur)))
		goto out;
	ms[0] = reconcile_ms() - t0;
	if ((rc = plan_compute(in, cur, p)))
		goto out;
	ms[1] = reconcile_ms() - t0 - ms[0];
	*out = p;
	p = NULL;
	if (cur_out) {
		*cur_out = cur;
		cur = NULL;
	}
out:
	plan_free(p);
	kstate_free(cur);
	return rc;
}

int reconcile_pass(struct reconcile *r, const struct intent *in, bool dry_run, FILE *out,
		   struct reconcile_result *res)
{
	struct plan *p = NULL, *check = NULL;
	struct kstate *cur = NULL;
	double ms[2] = { 0, 0 }, vms[2] = { 0, 0 }, t = 0, t0 = reconcile_ms();
	uint64_t sends = r->rt->n_sendmsg + r->xf->n_sendmsg;
	uint64_t reads = r->rt->n_reads + r->xf->n_reads;
	int rc;

	if ((rc = reconcile_result_init(in, res)) || (rc = reconcile_plan(r, in, &p, &cur, ms)))
		goto out;
	res->n_actions = p->n;
	for (size_t i = 0; i < p->n_fails; i++)
		reconcile_fail(in, res, p->fails[i].tunnel, "plan", p->fails[i].msg);
	if (dry_run) {
		plan_print(p, in, out);
		res->converged = p->n == 0 && p->n_fails == 0;
		goto out;
	}
	t = reconcile_ms();
	if (p->n && (rc = reconcile_apply(r, in, p, cur, res)))
		goto out;
	t = reconcile_ms() - t;
	/* Every change acknowledged by the kernel: the kernel is what we planned, and the
	 * next pass (a resync, a netlink event) diffs it again anyway. Only after a failure
	 * is a fresh read worth its cost, to say what still differs. */
	if (!p->n || !res->n_failed) {
		res->converged = !p->n_fails && !res->n_failed;
		goto out;
	}
	if ((rc = reconcile_plan(r, in, &check, NULL, vms)))
		goto out;
	res->converged = check->n == 0 && check->n_fails == 0;
	for (size_t i = 0; i < check->n && !res->n_failed; i++)
		log_ctx(LOG_LVL_WARN, in ? in->site : "-", NULL, "still differs after apply: %s",
			 check->acts[i].line);
out:
	log_ctx(LOG_LVL_DEBUG, in ? in->site : "-", NULL,
		"pass %.1f ms: read %.1f, plan %.1f, apply %.1f, verify %.1f+%.1f; "
		"%llu changing messages in %llu sendmsg, %llu read requests", reconcile_ms() - t0,
		ms[0], ms[1], t, vms[0], vms[1],
		  (unsigned long long)res->n_msgs,
		  (unsigned long long)(r->rt->n_sendmsg + r->xf->n_sendmsg - sends),
		  (unsigned long long)(r->rt->n_reads + r->xf->n_reads - reads));
	plan_free(p);
	plan_free(check);
	kstate_free(cur);
	return rc;
}
