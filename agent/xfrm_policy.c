/* XFRM policies (SPD entries) over NETLINK_XFRM. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>

#include "xfrm_policy.h"

static void xfrm_policy_sel(struct xfrm_selector *sel, const struct kpolicy *p)
{
	size_t alen = p->src.addr.family == AF_INET ? 4 : 16;

	memcpy(&sel->saddr, p->src.addr.bytes, alen);
	memcpy(&sel->daddr, p->dst.addr.bytes, alen);
	sel->family = (uint16_t)p->src.addr.family;
	sel->prefixlen_s = p->src.len;
	sel->prefixlen_d = p->dst.len;
	sel->proto = p->proto;
}

static void xfrm_policy_put_mark(struct nlmsghdr *nlh, const struct kpolicy *p)
{
	struct xfrm_mark m = { .v = p->mark, .m = p->mark_mask };

	if (p->has_mark)
		mnl_attr_put(nlh, XFRMA_MARK, sizeof(m), &m);
}

static void xfrm_policy_put_tmpl(struct nlmsghdr *nlh, const struct kpolicy *p)
{
	struct xfrm_user_tmpl t;

	memset(&t, 0, sizeof(t));
	t.id.proto = p->tmpl_proto;
	t.family = (uint16_t)p->src.addr.family;
	if (p->tmpl_mode == XFRM_MODE_TUNNEL) {
		size_t alen = p->tmpl_src.family == AF_INET ? 4 : 16;

		t.family = (uint16_t)p->tmpl_src.family;
		memcpy(&t.saddr, p->tmpl_src.bytes, alen);
		memcpy(&t.id.daddr, p->tmpl_dst.bytes, alen);
	}
	t.reqid = p->tmpl_reqid;
	t.mode = p->tmpl_mode;
	/* Any algorithm: the SA negotiated by IKE decides, the policy only selects it. */
	t.aalgos = t.ealgos = t.calgos = ~0u;
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t), &t);
}

static int xfrm_policy_put_info(struct nlmsghdr *nlh, const struct kpolicy *p)
{
	struct xfrm_userpolicy_info *pi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pi));

	xfrm_policy_sel(&pi->sel, p);
	pi->lft.soft_byte_limit = pi->lft.hard_byte_limit = XFRM_INF;
	pi->lft.soft_packet_limit = pi->lft.hard_packet_limit = XFRM_INF;
	pi->priority = p->priority;
	pi->dir = p->dir;
	pi->action = XFRM_POLICY_ALLOW;
	pi->share = XFRM_SHARE_ANY;
	xfrm_policy_put_tmpl(nlh, p);
	xfrm_policy_put_mark(nlh, p);
	return 0;
}

int xfrm_policy_put(struct nl_batch *b, const struct kpolicy *p, enum plan_op op, int cookie)
{
	static const uint16_t types[] = {
		[PLAN_DEL] = XFRM_MSG_DELPOLICY,
		[PLAN_ADD] = XFRM_MSG_NEWPOLICY,
		[PLAN_CHANGE] = XFRM_MSG_UPDPOLICY,
	};
	struct nlmsghdr *nlh = nl_batch_start(b, types[op], 0, cookie);
	struct xfrm_userpolicy_id *id;

	if (!nlh)
		return -ENOMEM;
	if (op != PLAN_DEL) {
		xfrm_policy_put_info(nlh, p);
	} else {
		id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
		xfrm_policy_sel(&id->sel, p);
		id->dir = p->dir;
		xfrm_policy_put_mark(nlh, p);
	}
	nl_batch_commit(b);
	return 0;
}

static void xfrm_policy_get_addr(struct addr *a, int family, const xfrm_address_t *x)
{
	memset(a, 0, sizeof(*a));
	a->family = family;
	memcpy(a->bytes, x, family == AF_INET ? 4 : 16);
}

static void xfrm_policy_parse_tmpl(const struct nlattr *at, struct kpolicy *p)
{
	const struct xfrm_user_tmpl *t = mnl_attr_get_payload(at);
	size_t n = mnl_attr_get_payload_len(at) / sizeof(*t);

	p->n_tmpl = n > 255 ? 255 : (uint8_t)n;
	if (!n)
		return;
	p->tmpl_mode = t->mode;
	p->tmpl_proto = t->id.proto;
	p->tmpl_reqid = t->reqid;
	if (t->mode == XFRM_MODE_TUNNEL) {
		xfrm_policy_get_addr(&p->tmpl_src, t->family, &t->saddr);
		xfrm_policy_get_addr(&p->tmpl_dst, t->family, &t->id.daddr);
	}
}

int xfrm_policy_parse(const struct nlmsghdr *nlh, struct kpolicy *p)
{
	const struct xfrm_userpolicy_info *pi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *at;
	int family = pi->sel.family;

	if (nlh->nlmsg_type != XFRM_MSG_NEWPOLICY || pi->dir > XFRM_POLICY_FWD ||
	    (family != AF_INET && family != AF_INET6))
		return -ENOENT;
	xfrm_policy_get_addr(&p->src.addr, family, &pi->sel.saddr);
	xfrm_policy_get_addr(&p->dst.addr, family, &pi->sel.daddr);
	p->src.len = pi->sel.prefixlen_s;
	p->dst.len = pi->sel.prefixlen_d;
	p->proto = pi->sel.proto;
	p->dir = pi->dir;
	p->priority = pi->priority;
	mnl_attr_for_each(at, nlh, sizeof(*pi)) {
		switch (mnl_attr_get_type(at)) {
		case XFRMA_TMPL:
			xfrm_policy_parse_tmpl(at, p);
			break;
		case XFRMA_MARK:
			if (mnl_attr_get_payload_len(at) >= sizeof(struct xfrm_mark)) {
				const struct xfrm_mark *m = mnl_attr_get_payload(at);

				p->has_mark = true;
				p->mark = m->v;
				p->mark_mask = m->m;
			}
			break;
		case XFRMA_POLICY_TYPE:
			if (((const struct xfrm_userpolicy_type *)mnl_attr_get_payload(at))->type !=
			    XFRM_POLICY_TYPE_MAIN)
				return -ENOENT;
			break;
		}
	}
	return 0;
}

static int xfrm_policy_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kstate *ks = data;
	struct kpolicy *p = kstate_add_policy(ks);
	int rc;

	if (!p)
		return -ENOMEM;
	rc = xfrm_policy_parse(nlh, p);
	if (rc)
		ks->n_policies--;
	return rc == -ENOENT ? 0 : rc;
}

int xfrm_policy_dump(struct nl *nl, struct kstate *ks)
{
	char buf[64];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = XFRM_MSG_GETPOLICY;
	return nl_dump(nl, nlh, xfrm_policy_dump_cb, ks);
}
