/* The tunnel kinds the agent manages, behind one ops table: the planner and the link
 * layer never branch on GRE versus VTI; what differs lives in the ops. */
#ifndef GRESEC_TUNNEL_KIND_H
#define GRESEC_TUNNEL_KIND_H

#include <stdbool.h>

#include "intent.h"
#include "kstate.h"

struct nlmsghdr;
struct nlattr;

struct tunnel_kind {
	const char *info_kind;		/* IFLA_INFO_KIND: "gre", "vti", "ip6gre", "vti6" */
	enum intent_kind kind;
	int family;			/* of the underlay */
	bool has_ttl;
	/* IPv4 sysctls interfaces of this kind need (see docs/intent.md). */
	struct kconf conf;
	/* Put IFLA_INFO_DATA's content for l into nlh (inside the open nest). */
	void (*fill)(struct nlmsghdr *nlh, const struct klink *l);
	/* Read IFLA_INFO_DATA into l's local, remote, key, ttl. 0 or -EINVAL. */
	int (*parse)(const struct nlattr *data, struct klink *l);
};

/* NULL when the agent has no implementation (never for a validated intent). */
const struct tunnel_kind *tunnel_kind_get(enum intent_kind kind, int family);
const struct tunnel_kind *tunnel_kind_by_info(const char *info_kind);

#endif
