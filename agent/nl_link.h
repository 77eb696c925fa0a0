/* Links over rtnetlink: tunnel create/change/delete, per-interface sysctls, dump. */
#ifndef GRESEC_NL_LINK_H
#define GRESEC_NL_LINK_H

#include <stdbool.h>

#include "kstate.h"
#include "nl.h"

/* Tunnels are at least this MTU for the kernel to give them an IPv6 device. */
#define NL_LINK_IPV6_MIN_MTU 1280

/* RTM_NEWLINK for l (its kind's ops fill IFLA_INFO_DATA), up, with MTU and group.
 * create: NLM_F_CREATE|NLM_F_EXCL by name (the alias follows with the conf message),
 * down when nl_link_create_down says so (the conf message brings it up); otherwise a
 * change of l->ifindex, alias included. */
int nl_link_put_new(struct nl_batch *b, const struct klink *l, bool create, int cookie);
int nl_link_put_del(struct nl_batch *b, int ifindex, int cookie);
/* A new link is made down when it has IPv6 settings to receive before it is up (no
 * link-local address: see tunnel_kind.c). */
bool nl_link_create_down(const struct klink *l);
/* Sets l's alias (which a creating RTM_NEWLINK cannot) and the non-negative fields of
 * l->conf through IFLA_AF_SPEC (AF_INET's IFLA_INET_CONF, AF_INET6's address
 * generation mode), then brings the link up when l->up: two messages. */
int nl_link_put_conf(struct nl_batch *b, int ifindex, const struct klink *l, int cookie);
/* One RTM_NEWLINK message into l. 0, or -ENOENT for a message to ignore. */
int nl_link_parse(const struct nlmsghdr *nlh, struct klink *l);
/* Appends every link to ks. 0 or negative errno (-EINTR: dump interrupted). */
int nl_link_dump(struct nl *nl, struct kstate *ks);
/* Appends the link called ifname to ks. 0, -ENODEV when there is none, or -errno. */
int nl_link_get(struct nl *nl, const char *ifname, struct kstate *ks);

#endif
