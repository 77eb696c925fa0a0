/* Tunnel links over rtnetlink. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <net/if.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>

#include "nl_link.h"
#include "tunnel_kind.h"

/* Whether the kernel runs IPv6 at all (not booted with ipv6.disable=1): an AF_INET6
 * block in IFLA_AF_SPEC is refused whole otherwise. */
static bool nl_link_has_ipv6(void)
{
	static int has = -1;

	if (has < 0)
		has = access("/proc/sys/net/ipv6", F_OK) == 0;
	return has;
}

/* The IPv6 settings apply to links that have an IPv6 device: the kernel makes none
 * below the IPv6 minimum MTU, and refuses the settings there. */
static bool nl_link_sets_v6(const struct klink *l)
{
	return l->conf.addr_gen_mode >= 0 && l->mtu >= NL_LINK_IPV6_MIN_MTU && nl_link_has_ipv6();
}

bool nl_link_create_down(const struct klink *l)
{
	return nl_link_sets_v6(l);
}

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
	ifi->ifi_flags = l->up && !(create && nl_link_create_down(l)) ? IFF_UP : 0;
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

static void nl_link_put_inet(struct nlmsghdr *nlh, const struct kconf *c)
{
	struct nlattr *inet = mnl_attr_nest_start(nlh, AF_INET);
	struct nlattr *conf = mnl_attr_nest_start(nlh, IFLA_INET_CONF);

	if (c->rp_filter >= 0)
		mnl_attr_put_u32(nlh, IPV4_DEVCONF_RP_FILTER, (uint32_t)c->rp_filter);
	if (c->disable_policy >= 0)
		mnl_attr_put_u32(nlh, IPV4_DEVCONF_NOPOLICY, (uint32_t)c->disable_policy);
	if (c->disable_xfrm >= 0)
		mnl_attr_put_u32(nlh, IPV4_DEVCONF_NOXFRM, (uint32_t)c->disable_xfrm);
	mnl_attr_nest_end(nlh, conf);
	mnl_attr_nest_end(nlh, inet);
}

int nl_link_put_conf(struct nl_batch *b, int ifindex, const struct klink *l, int cookie)
{
	struct nlmsghdr *nlh = nl_batch_start(b, RTM_NEWLINK, 0, cookie);
	struct nlattr *spec, *inet6;
	struct ifinfomsg *ifi;

	if (!nlh)
		return -ENOMEM;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	mnl_attr_put_strz(nlh, IFLA_IFALIAS, l->alias);
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	nl_link_put_inet(nlh, &l->conf);
	if (nl_link_sets_v6(l)) {
		inet6 = mnl_attr_nest_start(nlh, AF_INET6);
		mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, (uint8_t)l->conf.addr_gen_mode);
		mnl_attr_nest_end(nlh, inet6);
	}
	mnl_attr_nest_end(nlh, spec);
	nl_batch_commit(b);
	if (!l->up)
		return 0;
	/* A link created down (nl_link_create_down) goes up only now: the kernel applies
	 * a message's flags before its IFLA_AF_SPEC, so up in the same message would
	 * make the link-local address the settings are there to prevent. */
	if (!(nlh = nl_batch_start(b, RTM_NEWLINK, 0, cookie)))
		return -ENOMEM;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	nl_batch_commit(b);
	return 0;
}

static void nl_link_parse_inet6(const struct nlattr *af, struct kconf *c)
{
	const struct nlattr *at;

	mnl_attr_for_each_nested(at, af)
		if (mnl_attr_get_type(at) == IFLA_INET6_ADDR_GEN_MODE &&
		    mnl_attr_get_payload_len(at) >= 1)
			c->addr_gen_mode = *(const uint8_t *)mnl_attr_get_payload(at);
}

/* IFLA_AF_SPEC / AF_INET / IFLA_INET_CONF is a u32 array indexed by devconf id - 1. */
static void nl_link_parse_conf(const struct nlattr *spec, struct kconf *c)
{
	const struct nlattr *af, *at;

	mnl_attr_for_each_nested(af, spec) {
		if (mnl_attr_get_type(af) == AF_INET6) {
			nl_link_parse_inet6(af, c);
			continue;
		}
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
