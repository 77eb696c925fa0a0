/* Interface addresses over rtnetlink. */
#ifndef GRESEC_NL_ADDR_H
#define GRESEC_NL_ADDR_H

#include <stdbool.h>

#include "kstate.h"
#include "nl.h"

int nl_addr_put(struct nl_batch *b, const struct kaddr *a, int ifindex, bool add, int cookie);
int nl_addr_parse(const struct nlmsghdr *nlh, struct kaddr *a);
int nl_addr_dump(struct nl *nl, struct kstate *ks);

#endif
