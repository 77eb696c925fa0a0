/* One reconcile pass: read the kernel, plan against the intent, apply in phases,
 * attribute every failure to its tunnel, and check the result converged. */
#ifndef GRESEC_RECONCILE_H
#define GRESEC_RECONCILE_H

#include <stdbool.h>
#include <stdio.h>

#include "intent.h"
#include "kstate.h"
#include "nl.h"

struct reconcile_tunnel {
	bool failed;
	char error[256];		/* first error of the last pass, "" when fine */
};

struct reconcile_result {
	size_t n_actions;		/* actions planned */
	size_t n_failed;		/* actions or tunnels that failed */
	uint64_t n_msgs;		/* changing netlink messages sent */
	bool converged;			/* a fresh read matched the intent afterwards */
	struct reconcile_tunnel *tunnels;	/* one per intent tunnel */
	size_t n_tunnels;
};

struct reconcile {
	struct nl *rt;
	struct nl *xf;
};

struct reconcile *reconcile_new(void);
/* Crash tests: die after n changing rtnetlink messages (see struct nl). */
void reconcile_set_crash_after(struct reconcile *r, uint64_t n);
void reconcile_free(struct reconcile *r);
void reconcile_result_clear(struct reconcile_result *res);

/* Reads every link, address, main-table route and XFRM policy; retries a dump the
 * kernel reports as interrupted. */
int reconcile_read(struct reconcile *r, struct kstate *ks);
/* in == NULL: purge. dry_run: print the plan to out and change nothing (res still
 * says what failed to plan). Returns 0 when the pass ran (res says how it went), or a
 * negative errno when the kernel could not be read or written at all. */
int reconcile_pass(struct reconcile *r, const struct intent *in, bool dry_run, FILE *out,
		   struct reconcile_result *res);

#endif
