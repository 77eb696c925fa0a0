/* XFRM policies (SPD entries) over NETLINK_XFRM. */
#ifndef GRESEC_XFRM_POLICY_H
#define GRESEC_XFRM_POLICY_H

#include "kstate.h"
#include "nl.h"
#include "plan.h"

/* PLAN_ADD: XFRM_MSG_NEWPOLICY (fails with EEXIST rather than replace anything);
 * PLAN_CHANGE: XFRM_MSG_UPDPOLICY; PLAN_DEL: XFRM_MSG_DELPOLICY by selector. */
int xfrm_policy_put(struct nl_batch *b, const struct kpolicy *p, enum plan_op op, int cookie);
/* 0, or -ENOENT for a socket or sub policy. */
int xfrm_policy_parse(const struct nlmsghdr *nlh, struct kpolicy *p);
int xfrm_policy_dump(struct nl *nl, struct kstate *ks);

#endif
