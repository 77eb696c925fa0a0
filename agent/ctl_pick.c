/* Controller selection: failover to the next, return to a preferred one, and the rule
 * that keeps a lagging controller from rolling the site back. See ctl_pick.h. */
#include <string.h>

#include "ctl_pick.h"

/* xorshift32: jitter only, nothing secret. */
static uint32_t ctl_pick_rand(struct ctl_pick *p)
{
	uint32_t x = p->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	p->rng = x;
	return x;
}

/* The next probe round, 80 % to 120 % of the period away: agents of many sites that
 * failed over together do not probe the returning controller in step. */
static void ctl_pick_schedule(struct ctl_pick *p, int64_t now_ms)
{
	uint64_t span = (uint64_t)p->probe_ms * 2 / 5;

	p->probe_i = 0;
	if (p->cur == 0) {
		p->probe_due_ms = -1;
		return;
	}
	p->probe_due_ms = now_ms + p->probe_ms * 4 / 5 +
			  (int64_t)(span ? ctl_pick_rand(p) % (span + 1) : 0);
}

void ctl_pick_init(struct ctl_pick *p, size_t n, unsigned int probe_s, uint32_t seed)
{
	*p = (struct ctl_pick){
		.n = n < 1 ? 1 : n > CTL_PICK_MAX ? CTL_PICK_MAX : n,
		.backoff = 1,
		.probe_ms = (probe_s ? probe_s : CTL_PICK_PROBE_S) * 1000u,
		.probe_due_ms = -1,
		.rng = seed ? seed : 0x9e3779b9u,
	};
}

void ctl_pick_ok(struct ctl_pick *p)
{
	p->backoff = 1;
	p->up[p->cur] = true;
	p->older_from = 0;
}

void ctl_pick_seen(struct ctl_pick *p, size_t i, bool ok)
{
	if (i < p->n)
		p->up[i] = ok;
}

void ctl_pick_go(struct ctl_pick *p, size_t i, int64_t now_ms)
{
	if (i >= p->n || i == p->cur)
		return;
	p->cur = i;
	p->switches++;
	/* Answers counted towards a return were about the old position. */
	memset(p->oks, 0, sizeof(p->oks));
	ctl_pick_schedule(p, now_ms);
}

unsigned int ctl_pick_failed(struct ctl_pick *p, bool move, int64_t now_ms)
{
	unsigned int wait = p->backoff;

	p->up[p->cur] = false;
	p->backoff = p->backoff * 2 > CTL_PICK_BACKOFF_MAX ? CTL_PICK_BACKOFF_MAX : p->backoff * 2;
	if (move && p->n > 1)
		ctl_pick_go(p, (p->cur + 1) % p->n, now_ms);
	return wait;
}

bool ctl_pick_older(struct ctl_pick *p, uint64_t rev)
{
	uint32_t all = (1u << p->n) - 1;	/* n <= CTL_PICK_MAX */

	if (rev != p->older) {
		p->older = rev;
		p->older_from = 0;
	}
	p->older_from |= 1u << p->cur;
	if ((p->older_from & all) != all)
		return false;
	p->older_from = 0;
	return true;
}

int ctl_pick_probe(struct ctl_pick *p, int64_t now_ms)
{
	if (p->cur == 0 || p->probe_due_ms < 0 || now_ms < p->probe_due_ms ||
	    p->probe_i >= p->cur)
		return -1;
	p->probe_due_ms = -1;	/* until this probe ends */
	return (int)p->probe_i;
}

int ctl_pick_probed(struct ctl_pick *p, size_t i, bool ok, int64_t now_ms)
{
	if (i >= p->cur)
		return -1;	/* a probe that ended after a switch */
	ctl_pick_seen(p, i, ok);
	p->oks[i] = ok ? p->oks[i] + 1 : 0;
	if (p->oks[i] >= CTL_PICK_PROBE_OKS)
		return (int)i;
	/* The round goes on with the next earlier controller at once, or ends. */
	if (i + 1 < p->cur) {
		p->probe_i = i + 1;
		p->probe_due_ms = now_ms;
	} else {
		ctl_pick_schedule(p, now_ms);
	}
	return -1;
}
