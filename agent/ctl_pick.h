/* Which controller the agent talks to, when it has several (--controller repeated, or a
 * comma-separated list; the order is the preference). Pure logic, no I/O, so every rule
 * is unit-tested: the client (client.c) does the transfers and tells this module how
 * they ended.
 *
 * - A long-poll that fails (connect, TLS, timeout, 5xx: the caller decides) moves to the
 *   next controller, wrapping around, after the backoff (1 s doubling to 60 s, back to
 *   1 s after an answer).
 * - While on a later controller, the earlier ones are probed (GET /healthz) every probe
 *   period, jittered by +-20 %; one that answered two probe rounds in a row is returned
 *   to (the earliest such), so one lucky answer of a flapping controller does not.
 * - A revision older than the agent's: a lagging controller, unless every controller
 *   says the same (a database restored from a backup): ctl_pick_older. */
#ifndef GRESEC_CTL_PICK_H
#define GRESEC_CTL_PICK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_PICK_MAX 8
#define CTL_PICK_BACKOFF_MAX 60
#define CTL_PICK_PROBE_S 60
#define CTL_PICK_PROBE_OKS 2

struct ctl_pick {
	size_t n, cur;			/* how many; the one in use */
	unsigned int backoff;		/* seconds before the next try after a failure */
	unsigned int probe_ms;		/* the probe period */
	int64_t probe_due_ms;		/* the next probe; -1: none (on the first one) */
	size_t probe_i;			/* the next one a probe round asks */
	unsigned int oks[CTL_PICK_MAX];	/* probe rounds in a row it answered */
	bool up[CTL_PICK_MAX];		/* its last answer, to a poll or a probe */
	uint64_t older;			/* an older revision being answered */
	uint32_t older_from;		/* by whom (bit i: controller i) */
	uint32_t rng;
	uint64_t switches;
};

/* n controllers (1..CTL_PICK_MAX), probed every probe_s seconds (0: the default);
 * seed: for the jitter. Starts on the first. */
void ctl_pick_init(struct ctl_pick *p, size_t n, unsigned int probe_s, uint32_t seed);
/* The current controller answered a long-poll (204, or a revision taken). */
void ctl_pick_ok(struct ctl_pick *p);
/* Controller i answered something (ok), or did not: for the metrics' "up". */
void ctl_pick_seen(struct ctl_pick *p, size_t i, bool ok);
/* The current controller failed: the seconds to wait before the next long-poll.
 * move: go to the next controller (the caller sees p->cur change). */
unsigned int ctl_pick_failed(struct ctl_pick *p, bool move, int64_t now_ms);
/* The current controller answered revision rev, older than the agent's. True when
 * every controller has answered rev since the last other answer: take it. False: it
 * lags; the caller counts it as a failure (ctl_pick_failed with move). */
bool ctl_pick_older(struct ctl_pick *p, uint64_t rev);
/* Makes controller i current (a return, or --once going through the list). */
void ctl_pick_go(struct ctl_pick *p, size_t i, int64_t now_ms);
/* The controller to probe now, or -1 (none due, or on the first one). */
int ctl_pick_probe(struct ctl_pick *p, int64_t now_ms);
/* How probe i ended. Returns the controller to return to now (the caller switches
 * with ctl_pick_go), or -1. */
int ctl_pick_probed(struct ctl_pick *p, size_t i, bool ok, int64_t now_ms);

#endif
