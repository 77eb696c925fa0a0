/* Interface addresses over rtnetlink. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "nl_addr.h"

int nl_addr_put(struct nl_batch *b, const struct kaddr *a, int ifindex, bool add, int cookie)
{
	struct nlmsghdr *nlh = nl_batch_start(b, add ? RTM_NEWADDR : RTM_DELADDR,
					      add ? NLM_F_CREATE | NLM_F_EXCL : 0, cookie);
	size_t alen = a->addr.family == AF_INET ? 4 : 16;
	struct ifaddrmsg *ifa;

	if (!nlh)
		return -ENOMEM;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)a->addr.family;
	ifa->ifa_prefixlen = a->len;
	ifa->ifa_index = (uint32_t)ifindex;
	/* A point-to-point overlay has exactly one other end: duplicate address
	 * detection would only delay the address. */
	ifa->ifa_flags = a->addr.family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, alen, a->addr.bytes);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, a->addr.bytes);
	nl_batch_commit(b);
	return 0;
}

int nl_addr_parse(const struct nlmsghdr *nlh, struct kaddr *a)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *at, *local = NULL, *address = NULL;
	size_t alen = ifa->ifa_family == AF_INET ? 4 : 16;

	if (nlh->nlmsg_type != RTM_NEWADDR ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return -ENOENT;
	mnl_attr_for_each(at, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(at) == IFA_LOCAL)
			local = at;
		else if (mnl_attr_get_type(at) == IFA_ADDRESS)
			address = at;
	}
	/* IPv4 reports the interface's own address in IFA_LOCAL (IFA_ADDRESS is the
	 * peer on point-to-point links); IPv6 only sends IFA_ADDRESS unless a peer is set. */
	at = local ? local : address;
	if (!at || mnl_attr_get_payload_len(at) != alen)
		return -ENOENT;
	a->ifindex = (int)ifa->ifa_index;
	a->addr.family = ifa->ifa_family;
	memcpy(a->addr.bytes, mnl_attr_get_payload(at), alen);
	a->len = ifa->ifa_prefixlen;
	return 0;
}

static int nl_addr_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct kstate *ks = data;
	struct kaddr *a = kstate_add_addr(ks);
	int rc;

	if (!a)
		return -ENOMEM;
	rc = nl_addr_parse(nlh, a);
	if (rc)
		ks->n_addrs--;
	return rc == -ENOENT ? 0 : rc;
}

int nl_addr_dump(struct nl *nl, struct kstate *ks)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_GETADDR;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	return nl_dump(nl, nlh, nl_addr_dump_cb, ks);
}
