/* On-demand tunnels: the kernel announces a packet that matched one of the agent's
 * SPD entries while no SA with the template's reqid exists as an XFRM_MSG_ACQUIRE on
 * the XFRMNLGRP_ACQUIRE multicast group. This listener maps the reqid to the tunnel and
 * asks charon (ike_acquire) to start that tunnel's child.
 *
 * Packets waiting for the SA: with net.core.xfrm_larval_drop = 1 (the kernel default)
 * they are dropped until the SA is installed, so the first packets of a flow are lost
 * (a ping loses its first echo or two). With 0 the kernel keeps them in a per-policy
 * hold queue (at most 100 packets; re-checked at doubling intervals from 0.1 s, purged
 * when no SA came within about a minute) and sends them once the SA is installed: a
 * negotiation that completes in time loses nothing (tests/ike: 8 of 8 pings). The sysctl is per
 * network namespace; acquire_set_larval_drop sets it for the agent's. */
#ifndef GRESEC_ACQUIRE_H
#define GRESEC_ACQUIRE_H

#include <stdbool.h>
#include <stdint.h>

struct nlmsghdr;
struct mnl_socket;
struct ike;

struct acquire {
	struct mnl_socket *sk;
	uint64_t n_seen;		/* acquires received */
	uint64_t n_ours;		/* of which matched a tunnel */
};

struct acquire *acquire_new(void);
void acquire_free(struct acquire *a);
/* Joins XFRMNLGRP_ACQUIRE (non-blocking socket). 0 or negative errno. */
int acquire_open(struct acquire *a);
int acquire_fd(const struct acquire *a);
/* On POLLIN: handles every pending message, calling ike_acquire for each acquire.
 * 0 or negative errno of the socket (an overrun, -ENOBUFS, is not an error: the
 * kernel repeats acquires for flows that still have no SA). */
int acquire_dispatch(struct acquire *a, struct ike *ike);
/* The reqid of an XFRM_MSG_ACQUIRE (its first template's). 0, -EINVAL when nlh is
 * not an acquire, -EBADMSG when malformed or without a template. */
int acquire_parse(const struct nlmsghdr *nlh, uint32_t *reqid);
/* net.core.xfrm_larval_drop: false queues packets while IKE negotiates. 0 or -errno. */
int acquire_set_larval_drop(bool drop);

#endif
