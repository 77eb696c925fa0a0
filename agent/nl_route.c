/* The agent's routes over rtnetlink. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "nl_route.h"

static size_t nl_route_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* RTA_MULTIPATH: one rtnexthop per path, each followed by its own attributes. */
static void nl_route_put_multipath(struct nlmsghdr *nlh, const struct kroute *r)
{
	struct nlattr *mp = mnl_attr_nest_start(nlh, RTA_MULTIPATH);

	for (uint8_t i = 0; i < r->n_nh; i++) {
		struct rtnexthop *rtnh = mnl_nlmsg_get_payload_tail(nlh);

		memset(rtnh, 0, sizeof(*rtnh));
		rtnh->rtnh_ifindex = r->nh[i].oif;
		rtnh->rtnh_hops = r->nh[i].weight;
		nlh->nlmsg_len += MNL_ALIGN(sizeof(*rtnh));
		if (r->nh[i].gw.family)
			mnl_attr_put(nlh, RTA_GATEWAY, nl_route_alen(r->nh[i].gw.family),
				     r->nh[i].gw.bytes);
		rtnh->rtnh_len = (unsigned short)((char *)mnl_nlmsg_get_payload_tail(nlh) -
						  (char *)rtnh);
	}
	mnl_attr_nest_end(nlh, mp);
}

int nl_route_put(struct nl_batch *b, const struct kroute *r, enum plan_op op, int cookie)
{
	static const uint16_t flags[] = {
		[PLAN_DEL] = 0,
		[PLAN_ADD] = NLM_F_CREATE | NLM_F_EXCL,
		[PLAN_CHANGE] = NLM_F_CREATE | NLM_F_REPLACE,
	};
	struct nlmsghdr *nlh = nl_batch_start(b, op == PLAN_DEL ? RTM_DELROUTE : RTM_NEWROUTE,
					      flags[op], cookie);
	struct rtmsg *rtm;

	if (!nlh)
		return -ENOMEM;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)r->dst.addr.family;
	rtm->rtm_dst_len = r->dst.len;
	rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = KSTATE_RTPROT;
	/* A route through a point-to-point tunnel needs no gateway: link scope. */
	rtm->rtm_scope = op == PLAN_DEL ? RT_SCOPE_NOWHERE :
			 r->dst.addr.family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	mnl_attr_put(nlh, RTA_DST, nl_route_alen(r->dst.addr.family), r->dst.addr.bytes);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
	if (r->n_nh > 1 && op != PLAN_DEL) {
		nl_route_put_multipath(nlh, r);
	} else if (r->n_nh == 1) {
		if (r->nh[0].oif > 0)
			mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)r->nh[0].oif);
		if (r->nh[0].gw.family)
			mnl_attr_put(nlh, RTA_GATEWAY, nl_route_alen(r->nh[0].gw.family),
				     r->nh[0].gw.bytes);
	}
	nl_batch_commit(b);
	return 0;
}

/* A gateway of the route's family, or -ENOENT (an IPv4 route via IPv6 is not ours). */
static int nl_route_gw(const struct nlattr *at, int family, struct knh *nh)
{
	size_t alen = nl_route_alen(family);

	if (mnl_attr_get_payload_len(at) != alen)
		return -ENOENT;
	nh->gw.family = family;
	memcpy(nh->gw.bytes, mnl_attr_get_payload(at), alen);
	return 0;
}

static int nl_route_parse_multipath(const struct nlattr *mp, int family, struct kroute *r)
{
	const struct rtnexthop *rtnh = mnl_attr_get_payload(mp);
	int rem = (int)mnl_attr_get_payload_len(mp);

	for (; RTNH_OK(rtnh, rem); rem -= (int)RTNH_ALIGN(rtnh->rtnh_len),
	     rtnh = RTNH_NEXT(rtnh)) {
		struct knh *nh = kstate_route_add_nh(r);
		const struct nlattr *attr;	/* the name mnl_attr_for_each_payload uses */
		const struct nlattr *data = (const void *)RTNH_DATA(rtnh);

		if (!nh)
			continue;	/* counted in nh_trunc: never equal to a desired route */
		nh->oif = rtnh->rtnh_ifindex;
		nh->weight = rtnh->rtnh_hops;
		mnl_attr_for_each_payload(data, rtnh->rtnh_len - sizeof(*rtnh)) {
			if (mnl_attr_get_type(attr) == RTA_GATEWAY &&
			    nl_route_gw(attr, family, nh))
				return -ENOENT;
		}
	}
	return 0;
}

/* The attributes of one route message into r (its header already is). */
static int nl_route_parse_attrs(const struct nlmsghdr *nlh, struct kroute *r)
{
	const struct nlattr *at;
	struct knh one = { .tunnel = -1 };
	bool multipath = false;
	int rc = 0;

	mnl_attr_for_each(at, nlh, sizeof(struct rtmsg)) {
		switch (mnl_attr_get_type(at)) {
		case RTA_TABLE:
			r->table = mnl_attr_get_u32(at);
			break;
		case RTA_DST:
			if (mnl_attr_get_payload_len(at) != nl_route_alen(r->dst.addr.family))
				return -ENOENT;
			memcpy(r->dst.addr.bytes, mnl_attr_get_payload(at),
			       nl_route_alen(r->dst.addr.family));
			break;
		case RTA_PRIORITY:
			r->metric = mnl_attr_get_u32(at);
			break;
		case RTA_OIF:
			one.oif = (int)mnl_attr_get_u32(at);
			break;
		case RTA_GATEWAY:
			rc = nl_route_gw(at, r->dst.addr.family, &one);
			break;
		case RTA_MULTIPATH:
			multipath = true;
			rc = nl_route_parse_multipath(at, r->dst.addr.family, r);
			break;
		}
		if (rc)
			return rc;
	}
	if (!multipath)
		r->nh[r->n_nh++] = one;
	return 0;
}

int nl_route_parse(const struct nlmsghdr *nlh, struct kroute *r)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	int rc;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return -ENOENT;
	memset(r, 0, sizeof(*r));
	r->tunnel = -1;
	r->dst.addr.family = rtm->rtm_family;
	r->dst.len = rtm->rtm_dst_len;
	r->table = rtm->rtm_table;
	r->protocol = rtm->rtm_protocol;
	if ((rc = nl_route_parse_attrs(nlh, r)))
		return rc;
	return r->table == RT_TABLE_MAIN ? 0 : -ENOENT;
}

/* An IPv6 sibling listed on its own (a path with a gateway, the same identity as the
 * route before it, which has gateways too): one more path of that route. */
static bool nl_route_sibling(const struct kroute *prev, const struct kroute *r)
{
	if (r->dst.addr.family != AF_INET6 || r->n_nh != 1 || !r->nh[0].gw.family ||
	    addr_prefix_cmp(&prev->dst, &r->dst) || prev->table != r->table ||
	    prev->metric != r->metric || prev->protocol != r->protocol)
		return false;
	for (uint8_t i = 0; i < prev->n_nh; i++)
		if (!prev->nh[i].gw.family)
			return false;
	return true;
}

int nl_route_dump_msg(const struct nlmsghdr *nlh, void *data)
{
	struct kstate *ks = data;
	struct kroute *r = kstate_add_route(ks);
	struct kroute *prev;
	struct knh *nh;
	int rc;

	if (!r)
		return -ENOMEM;
	rc = nl_route_parse(nlh, r);
	if (rc) {
		ks->n_routes--;
		return rc == -ENOENT ? 0 : rc;
	}
	/* The kernel lists the siblings of a route next to each other. */
	prev = ks->n_routes > 1 ? &ks->routes[ks->n_routes - 2] : NULL;
	if (prev && nl_route_sibling(prev, r)) {
		if ((nh = kstate_route_add_nh(prev)))
			*nh = r->nh[0];
		ks->n_routes--;
	}
	return 0;
}

int nl_route_dump(struct nl *nl, struct kstate *ks)
{
	static const uint8_t families[] = { AF_INET, AF_INET6 };
	int rc = 0;

	for (size_t i = 0; !rc && i < sizeof(families); i++) {
		char buf[256];
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct rtmsg *rtm;

		nlh->nlmsg_type = RTM_GETROUTE;
		rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = families[i];
		/* With NETLINK_GET_STRICT_CHK the kernel returns only these (a gateway with
		 * a full table would otherwise send it all, every pass); without, these
		 * fields are ignored and the planner skips other protocols itself. */
		rtm->rtm_table = RT_TABLE_MAIN;
		rtm->rtm_protocol = KSTATE_RTPROT;
		rtm->rtm_type = RTN_UNICAST;
		rc = nl_dump(nl, nlh, nl_route_dump_msg, ks);
	}
	return rc;
}
