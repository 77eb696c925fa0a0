/* The agent's routes over rtnetlink (protocol KSTATE_RTPROT). */
#ifndef GRESEC_NL_ROUTE_H
#define GRESEC_NL_ROUTE_H

#include "kstate.h"
#include "nl.h"
#include "plan.h"

/* op PLAN_ADD: create exclusively; PLAN_CHANGE: replace; PLAN_DEL: delete. */
int nl_route_put(struct nl_batch *b, const struct kroute *r, int oif, enum plan_op op,
		 int cookie);
/* 0, or -ENOENT for a route of another table or kind. */
int nl_route_parse(const struct nlmsghdr *nlh, struct kroute *r);
/* Appends main-table unicast routes of both families to ks: only the agent's
 * protocol where the kernel filters dumps (strict checking), all of them otherwise. */
int nl_route_dump(struct nl *nl, struct kstate *ks);

#endif
