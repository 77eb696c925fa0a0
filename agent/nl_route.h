/* The agent's routes over rtnetlink (protocol KSTATE_RTPROT). */
#ifndef GRESEC_NL_ROUTE_H
#define GRESEC_NL_ROUTE_H

#include "kstate.h"
#include "nl.h"
#include "plan.h"

/* op PLAN_ADD: create exclusively; PLAN_CHANGE: replace; PLAN_DEL: delete. Each
 * path's oif must be set (a plain route deleted without one matches any device). A
 * route of one path is sent with RTA_OIF, of more with RTA_MULTIPATH; a deletion of a
 * multipath route names no path, which deletes them all. */
int nl_route_put(struct nl_batch *b, const struct kroute *r, enum plan_op op, int cookie);
/* 0, or -ENOENT for a route of another table or kind. */
int nl_route_parse(const struct nlmsghdr *nlh, struct kroute *r);
/* Appends main-table unicast routes of both families to ks: only the agent's
 * protocol where the kernel filters dumps (strict checking), all of them otherwise.
 * IPv6 multipath routes read as one route whether the kernel lists them in one message
 * (RTA_MULTIPATH) or as consecutive sibling routes with gateways (older kernels). */
int nl_route_dump(struct nl *nl, struct kstate *ks);
/* One message of that dump into ks (a struct kstate *): an nl_dump_cb. */
int nl_route_dump_msg(const struct nlmsghdr *nlh, void *ks);

#endif
