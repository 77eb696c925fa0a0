/* The agent's routes over rtnetlink. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "nl_route.h"

int nl_route_put(struct nl_batch *b, const struct kroute *r, int oif, enum plan_op op,
		 int cookie)
{
	static const uint16_t flags[] = {
		[PLAN_DEL] = 0,
		[PLAN_ADD] = NLM_F_CREATE | NLM_F_EXCL,
		[PLAN_CHANGE] = NLM_F_CREATE | NLM_F_REPLACE,
	};
	struct nlmsghdr *nlh = nl_batch_start(b, op == PLAN_DEL ? RTM_DELROUTE : RTM_NEWROUTE,
					      flags[op], cookie);
	size_t alen = r->dst.addr.family == AF_INET ? 4 : 16;
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
	mnl_attr_put(nlh, RTA_DST, alen, r->dst.addr.bytes);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, r->metric);
	if (oif > 0)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	nl_batch_commit(b);
	return 0;
}

int nl_route_parse(const struct nlmsghdr *nlh, struct kroute *r)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	size_t alen = rtm->rtm_family == AF_INET ? 4 : 16;
	const struct nlattr *at;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6))
		return -ENOENT;
	memset(&r->dst, 0, sizeof(r->dst));
	r->dst.addr.family = rtm->rtm_family;
	r->dst.len = rtm->rtm_dst_len;
	r->table = rtm->rtm_table;
	r->protocol = rtm->rtm_protocol;
	mnl_attr_for_each(at, nlh, sizeof(*rtm)) {
		switch (mnl_attr_get_type(at)) {
		case RTA_TABLE:
			r->table = mnl_attr_get_u32(at);
			break;
		case RTA_DST:
			if (mnl_attr_get_payload_len(at) != alen)
				return -ENOENT;
			memcpy(r->dst.addr.bytes, mnl_attr_get_payload(at), alen);
			break;
		case RTA_PRIORITY:
			r->metric = mnl_attr_get_u32(at);
			break;
		case RTA_OIF:
			r->oif = (int)mnl_attr_get_u32(at);
			break;
		}
	}
	return r->table == RT_TABLE_MAIN ? 0 : -ENOENT;
}

static int nl_route_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kstate *ks = data;
	struct kroute *r = kstate_add_route(ks);
	int rc;

	if (!r)
		return -ENOMEM;
	rc = nl_route_parse(nlh, r);
	if (rc)
		ks->n_routes--;
	return rc == -ENOENT ? 0 : rc;
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
		rc = nl_dump(nl, nlh, nl_route_dump_cb, ks);
	}
	return rc;
}
