/* The agent's distrust of its intent. intent_validate checks that an intent is well
 * formed; the guard checks that it is harmless to this gateway, whoever wrote it: a
 * compromised or buggy controller must not be able to cut the gateway off from the
 * controller, route its underlay into a tunnel, weaken the cryptography or hand charon
 * wildcard identities. Refused tunnels (with their routes and SPD entries) and refused
 * routes are removed from the intent before anything plans with it, and reported. The
 * rules are in docs/intent.md ("What the agent refuses"). */
#ifndef GRESEC_GUARD_H
#define GRESEC_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "intent.h"

/* Routes shorter than this (either family) are refused: defaults, half-defaults and
 * anything close to them. */
#define GUARD_ROUTE_MIN_LEN 8
#define GUARD_IKE_ID_MAX 255
#define GUARD_REASON_MAX 160

/* The addresses that must stay reachable outside every tunnel: the controller's and this
 * gateway's own. No route of an intent may contain one. */
struct guard_addr {
	struct addr a;
	bool controller;		/* the controller's, else this host's */
};

struct guard {
	struct guard_addr *keep;
	size_t n_keep, cap_keep;
	/* GRE tunnels with no SPD entry at all are taken (plain GRE): the gateway's own
	 * operator says so (--allow-cleartext-gre), never the intent. */
	bool cleartext_gre;
};

struct guard_refusal {
	bool tunnel;				/* a whole tunnel, or one route */
	char id[INTENT_ID_MAX + 1];		/* the tunnel (a route's via) */
	char route[ADDR_PREFIX_STRLEN + 24];	/* "10.0.0.0/8 metric 100", routes only */
	char reason[GUARD_REASON_MAX];
};

struct guard_report {
	struct guard_refusal *v;
	size_t n, cap;
};

struct guard *guard_new(void);
void guard_free(struct guard *g);
/* Adds a to the kept addresses. 1 when it is new, 0 when known, -ENOMEM. */
int guard_keep(struct guard *g, const struct addr *a, bool controller);
/* Adds every address of this host's interfaces (getifaddrs). 0 or -errno. */
int guard_keep_host(struct guard *g);
/* Adds the addresses the host part of url resolves to now (a literal is taken as is).
 * 0, or -errno with a message in err (the host does not resolve, the URL is malformed). */
int guard_keep_url(struct guard *g, const char *url, char *err, size_t errlen);

/* Removes from in what the guard refuses and lists it in rep (cleared first); logs each
 * refusal once, with site, tunnel and reason. Applying it again to its own output
 * refuses nothing new unless g gained addresses. 0 or -ENOMEM. */
int guard_apply(const struct guard *g, struct intent *in, struct guard_report *rep);
void guard_report_clear(struct guard_report *rep);
/* "refused by the agent: <reason>" (tunnels) or "route <prefix> metric <m> refused by
 * the agent: <reason>" (routes): the text a status report carries. */
void guard_refusal_text(const struct guard_refusal *r, char *buf, size_t len);

#endif
