/* GRE (ipgre/ip6gre) and VTI (vti/vti6) link attributes over rtnetlink. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/if_tunnel.h>
#include <linux/ip6_tunnel.h>

#include "tunnel_kind.h"

static void tunnel_kind_put_addr(struct nlmsghdr *nlh, uint16_t type, const struct addr *a)
{
	mnl_attr_put(nlh, type, a->family == AF_INET ? 4 : 16, a->bytes);
}

static int tunnel_kind_get_addr(const struct nlattr *at, int family, struct addr *out)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (mnl_attr_get_payload_len(at) != len)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->family = family;
	memcpy(out->bytes, mnl_attr_get_payload(at), len);
	return 0;
}

static void tunnel_kind_gre_fill(struct nlmsghdr *nlh, const struct klink *l)
{
	tunnel_kind_put_addr(nlh, IFLA_GRE_LOCAL, &l->local);
	tunnel_kind_put_addr(nlh, IFLA_GRE_REMOTE, &l->remote);
	mnl_attr_put_u8(nlh, IFLA_GRE_TTL, l->ttl);
	mnl_attr_put_u8(nlh, IFLA_GRE_PMTUDISC, 1);
	mnl_attr_put_u16(nlh, IFLA_GRE_IFLAGS, l->key ? GRE_KEY : 0);
	mnl_attr_put_u16(nlh, IFLA_GRE_OFLAGS, l->key ? GRE_KEY : 0);
	mnl_attr_put_u32(nlh, IFLA_GRE_IKEY, htonl(l->key));
	mnl_attr_put_u32(nlh, IFLA_GRE_OKEY, htonl(l->key));
	/* ip6gre adds an RFC 2473 encapsulation limit option (8 bytes) by default: not
	 * in the intent's MTU, and of no use between two gateways. */
	if (l->local.family == AF_INET6)
		mnl_attr_put_u32(nlh, IFLA_GRE_FLAGS, IP6_TNL_F_IGN_ENCAP_LIMIT);
}

/* A GRE link the agent would create has one key both ways; anything else reads back
 * as a different key so the planner corrects it. */
static int tunnel_kind_gre_parse(const struct nlattr *data, struct klink *l)
{
	const struct nlattr *at;
	uint16_t iflags = 0, oflags = 0;
	uint32_t ikey = 0, okey = 0;

	mnl_attr_for_each_nested(at, data) {
		switch (mnl_attr_get_type(at)) {
		case IFLA_GRE_LOCAL:
			if (tunnel_kind_get_addr(at, l->kind->family, &l->local))
				return -EINVAL;
			break;
		case IFLA_GRE_REMOTE:
			if (tunnel_kind_get_addr(at, l->kind->family, &l->remote))
				return -EINVAL;
			break;
		case IFLA_GRE_TTL:
			l->ttl = mnl_attr_get_u8(at);
			break;
		case IFLA_GRE_IFLAGS:
			iflags = mnl_attr_get_u16(at);
			break;
		case IFLA_GRE_OFLAGS:
			oflags = mnl_attr_get_u16(at);
			break;
		case IFLA_GRE_IKEY:
			ikey = ntohl(mnl_attr_get_u32(at));
			break;
		case IFLA_GRE_OKEY:
			okey = ntohl(mnl_attr_get_u32(at));
			break;
		}
	}
	ikey = (iflags & GRE_KEY) ? ikey : 0;
	okey = (oflags & GRE_KEY) ? okey : 0;
	l->key = ikey == okey ? ikey : UINT32_MAX ^ okey;
	return 0;
}

static void tunnel_kind_vti_fill(struct nlmsghdr *nlh, const struct klink *l)
{
	tunnel_kind_put_addr(nlh, IFLA_VTI_LOCAL, &l->local);
	tunnel_kind_put_addr(nlh, IFLA_VTI_REMOTE, &l->remote);
	mnl_attr_put_u32(nlh, IFLA_VTI_IKEY, htonl(l->key));
	mnl_attr_put_u32(nlh, IFLA_VTI_OKEY, htonl(l->key));
}

static int tunnel_kind_vti_parse(const struct nlattr *data, struct klink *l)
{
	const struct nlattr *at;
	uint32_t ikey = 0, okey = 0;

	mnl_attr_for_each_nested(at, data) {
		switch (mnl_attr_get_type(at)) {
		case IFLA_VTI_LOCAL:
			if (tunnel_kind_get_addr(at, l->kind->family, &l->local))
				return -EINVAL;
			break;
		case IFLA_VTI_REMOTE:
			if (tunnel_kind_get_addr(at, l->kind->family, &l->remote))
				return -EINVAL;
			break;
		case IFLA_VTI_IKEY:
			ikey = ntohl(mnl_attr_get_u32(at));
			break;
		case IFLA_VTI_OKEY:
			okey = ntohl(mnl_attr_get_u32(at));
			break;
		}
	}
	l->key = ikey == okey ? ikey : UINT32_MAX ^ okey;
	return 0;
}

/* GRE: loose reverse-path filtering, because with two hubs a packet may arrive over
 * the tunnel its route does not prefer; the kernel uses max(all, dev), and 2 (loose)
 * wins over a strict 1 in conf/all.
 * VTI: the decapsulated packet must not be checked against the SPD a second time
 * (disable_policy=1): it carries a tunnel-mode secpath that no unmarked policy
 * matches. disable_xfrm must stay 0: it marks routes through the VTI DST_NOXFRM,
 * and the VTI's own marked policy lookup then finds nothing and drops every packet.
 * Both: no IPv6 link-local address (addr_gen_mode none). With one, the kernel sends
 * DAD, router solicitations and MLD reports into the tunnel as soon as it is up, and
 * that chatter is traffic for the SPD: it would start every on-demand tunnel at once.
 * IPv6 prefixes are routed over the tunnel without it (routes name the device). */
#define TUNNEL_KIND_NO_LL 1		/* IN6_ADDR_GEN_MODE_NONE */
static const struct tunnel_kind tunnel_kinds[] = {
	{ "gre", INTENT_KIND_GRE, AF_INET, true, { 2, -1, -1, TUNNEL_KIND_NO_LL },
	  tunnel_kind_gre_fill, tunnel_kind_gre_parse },
	{ "ip6gre", INTENT_KIND_GRE, AF_INET6, true, { 2, -1, -1, TUNNEL_KIND_NO_LL },
	  tunnel_kind_gre_fill, tunnel_kind_gre_parse },
	{ "vti", INTENT_KIND_VTI, AF_INET, false, { 2, 1, 0, TUNNEL_KIND_NO_LL },
	  tunnel_kind_vti_fill, tunnel_kind_vti_parse },
	{ "vti6", INTENT_KIND_VTI, AF_INET6, false, { 2, 1, 0, TUNNEL_KIND_NO_LL },
	  tunnel_kind_vti_fill, tunnel_kind_vti_parse },
};

const struct tunnel_kind *tunnel_kind_get(enum intent_kind kind, int family)
{
	for (size_t i = 0; i < sizeof(tunnel_kinds) / sizeof(tunnel_kinds[0]); i++)
		if (tunnel_kinds[i].kind == kind && tunnel_kinds[i].family == family)
			return &tunnel_kinds[i];
	return NULL;
}

const struct tunnel_kind *tunnel_kind_by_info(const char *info_kind)
{
	for (size_t i = 0; i < sizeof(tunnel_kinds) / sizeof(tunnel_kinds[0]); i++)
		if (strcmp(tunnel_kinds[i].info_kind, info_kind) == 0)
			return &tunnel_kinds[i];
	return NULL;
}
