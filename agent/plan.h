/* The planner: desired objects (from an intent) against current ones (from the
 * kernel) to the minimal list of actions, in the order they must be applied. Pure:
 * no kernel access, so unit tests drive it with hand-made states. */
#ifndef GRESEC_PLAN_H
#define GRESEC_PLAN_H

#include <stdio.h>

#include "intent.h"
#include "kstate.h"

enum plan_op { PLAN_DEL, PLAN_ADD, PLAN_CHANGE };
enum plan_obj { PLAN_OBJ_LINK, PLAN_OBJ_CONF, PLAN_OBJ_ADDR, PLAN_OBJ_ROUTE, PLAN_OBJ_POLICY };

/* Phases, applied in order: deletions; link creation and changes (after which new
 * links have an ifindex); everything that refers to a link by index. */
enum plan_phase { PLAN_PHASE_DEL, PLAN_PHASE_LINK, PLAN_PHASE_REST };

#define PLAN_LINE_MAX 256

struct plan_action {
	enum plan_op op;
	enum plan_obj obj;
	int tunnel;			/* intent tunnel index, -1 when none */
	union {
		struct klink link;
		struct kaddr addr;
		struct kroute route;
		struct kpolicy pol;
	} u;
	char line[PLAN_LINE_MAX];	/* the --dry-run text; also the sort key */
};

struct plan_fail {
	int tunnel;
	char msg[160];
};

struct plan {
	struct plan_action *acts;
	size_t n, cap;
	struct plan_fail *fails;
	size_t n_fails, cap_fails;
	bool *failed;			/* per intent tunnel, during plan_compute */
	size_t n_tunnels;
};

struct plan *plan_new(void);
void plan_free(struct plan *p);

/* Desired kernel objects for in. 0 or -ENOMEM / -EOPNOTSUPP (a kind without ops). */
int plan_desired(const struct intent *in, struct kstate *out);
/* Diff: in == NULL plans a purge (every owned object deleted). O(n log n): every
 * match goes through a sorted view of the objects. Actions come out
 * sorted by phase, then object type, then text, so equal inputs give equal plans.
 * Tunnels that cannot be applied (a foreign object holds their name or selector) are
 * listed in p->fails and none of their objects are touched. 0 or -ENOMEM. */
int plan_compute(const struct intent *in, const struct kstate *cur, struct plan *p);
enum plan_phase plan_action_phase(const struct plan_action *a);
/* One line per failure ("fail tunnel ID: why"), then one per action. */
void plan_print(const struct plan *p, const struct intent *in, FILE *f);
bool plan_tunnel_failed(const struct plan *p, int tunnel);

#endif
