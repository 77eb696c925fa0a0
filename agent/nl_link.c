/* Tunnel links over rtnetlink. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>

#include "nl_link.h"
#include "tunnel_kind.h"

int nl_link_put_new(struct nl_batch *b, const struct klink *l, bool create, int cookie)
{
	struct nlmsghdr *nlh = nl_batch_start(b, RTM_NEWLINK,
					      create ? NLM_F_CREATE | NLM_F_EXCL : 0, cookie);
	struct ifinfomsg *ifi;
	struct nlattr *info, *data;

	if (!nlh)
		return -ENOMEM;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = create ? 0 : l->ifindex;
	ifi->ifi_flags = l->up ? IFF_UP : 0;
	ifi->ifi_change = IFF_UP;
	/* By index on change: the kernel refuses any IFLA_IFNAME on an up link, even
	 * its current name (EBUSY). */
	if (create)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, l->ifname);
	mnl_attr_put_u32(nlh, IFLA_MTU, l->mtu);
	mnl_attr_put_u32(nlh, IFLA_GROUP, KSTATE_LINK_GROUP);
	if (!create)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, l->alias);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, l->kind->info_kind);
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	l->kind->fill(nlh, l);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	nl_batch_commit(b);
	return 0;
}

int nl_link_put_del(struct nl_batch *b, int ifindex, int cookie)
{
	struct nlmsghdr *nlh = nl_batch_start(b, RTM_DELLINK, 0, cookie);
	struct ifinfomsg *ifi;

	if (!nlh)
		return -ENOMEM;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	nl_batch_commit(b);
	return 0;
}

int nl_link_put_conf(struct nl_batch *b, int ifindex, const char *alias,
		     const struct kconf *c, int cookie)
{
	struct nlmsghdr *nlh = nl_batch_start(b, RTM_NEWLINK, 0, cookie);
	struct nlattr *spec, *inet, *conf;
	struct ifinfomsg *ifi;

	if (!nlh)
		return -ENOMEM;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, alias);
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	inet = mnl_attr_nest_start(nlh, AF_INET);
	conf = mnl_attr_nest_start(nlh, IFLA_INET_CONF);
	if (c->rp_filter >= 0)
		mnl_attr_put_u32(nlh, IPV4_DEVCONF_RP_FILTER, (uint32_t)c->rp_filter);
	if (c->disable_policy >= 0)
		mnl_attr_put_u32(nlh, IPV4_DEVCONF_NOPOLICY, (uint32_t)c->disable_policy);
	if (c->disable_xfrm >= 0)
		mnl_attr_put_u32(nlh, IPV4_DEVCONF_NOXFRM, (uint32_t)c->disable_xfrm);
	mnl_attr_nest_end(nlh, conf);
	mnl_attr_nest_end(nlh, inet);
	mnl_attr_nest_end(nlh, spec);
	nl_batch_commit(b);
	return 0;
}

/* IFLA_AF_SPEC / AF_INET / IFLA_INET_CONF is a u32 array indexed by devconf id - 1. */
static void nl_link_parse_conf(const struct nlattr *spec, struct kconf *c)
{
	const struct nlattr *af, *at;

	mnl_attr_for_each_nested(af, spec) {
		if (mnl_attr_get_type(af) != AF_INET)
			continue;
		mnl_attr_for_each_nested(at, af) {
			const uint32_t *v = mnl_attr_get_payload(at);
			size_t n = mnl_attr_get_payload_len(at) / 4;

			if (mnl_attr_get_type(at) != IFLA_INET_CONF ||
			    n < IPV4_DEVCONF_NOPOLICY || n < IPV4_DEVCONF_NOXFRM)
				continue;
			c->rp_filter = (int32_t)v[IPV4_DEVCONF_RP_FILTER - 1];
			c->disable_policy = (int32_t)v[IPV4_DEVCONF_NOPOLICY - 1];
			c->disable_xfrm = (int32_t)v[IPV4_DEVCONF_NOXFRM - 1];
		}
	}
}

static int nl_link_parse_info(const struct nlattr *info, struct klink *l)
{
	const struct nlattr *at, *data = NULL;

	mnl_attr_for_each_nested(at, info) {
		if (mnl_attr_get_type(at) == IFLA_INFO_KIND)
			l->kind = tunnel_kind_by_info(mnl_attr_get_str(at));
		else if (mnl_attr_get_type(at) == IFLA_INFO_DATA)
			data = at;
	}
	/* Unreadable tunnel data: treat it as a foreign kind, which the planner replaces
	 * if the link is ours and ignores otherwise. */
	if (l->kind && (!data || l->kind->parse(data, l)))
		l->kind = NULL;
	return 0;
}

int nl_link_parse(const struct nlmsghdr *nlh, struct klink *l)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *at;
	int rc = 0;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return -ENOENT;
	l->ifindex = ifi->ifi_index;
	l->up = ifi->ifi_flags & IFF_UP;
	mnl_attr_for_each(at, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(at)) {
		case IFLA_IFNAME:
			snprintf(l->ifname, sizeof(l->ifname), "%s", mnl_attr_get_str(at));
			break;
		case IFLA_MTU:
			l->mtu = mnl_attr_get_u32(at);
			break;
		case IFLA_GROUP:
			l->group = mnl_attr_get_u32(at);
			break;
		case IFLA_IFALIAS:
			snprintf(l->alias, sizeof(l->alias), "%.*s",
				 (int)mnl_attr_get_payload_len(at), mnl_attr_get_str(at));
			break;
		case IFLA_LINKINFO:
			rc = nl_link_parse_info(at, l);
			break;
		case IFLA_AF_SPEC:
			nl_link_parse_conf(at, &l->conf);
			break;
		}
	}
	l->owned = kstate_link_is_owned(l->ifname, l->alias, l->group);
	return rc;
}

static int nl_link_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kstate *ks = data;
	struct klink *l = kstate_add_link(ks);
	int rc;

	if (!l)
		return -ENOMEM;
	rc = nl_link_parse(nlh, l);
	if (rc)
		ks->n_links--;
	return rc == -ENOENT ? 0 : rc;
}

int nl_link_dump(struct nl *nl, struct kstate *ks)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_GETLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	/* Counters are a third of each message and never compared. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nl_dump(nl, nlh, nl_link_dump_cb, ks);
}

int nl_link_get(struct nl *nl, const char *ifname, struct kstate *ks)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_GETLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nl_get(nl, nlh, nl_link_dump_cb, ks);
}
