/* The IKE benchmark's driver (tests/bench/ike.sh): the agent's own IKE plane
 * (agent/ike*.c, vici*.c) against a real charon, every planned VICI command timed.
 *   ike_bench load VICI INTENT   read charon, plan, then apply the plan one action at a
 *                                time (ike_plan_apply on a one-action view of it, so each
 *                                message is built and sent exactly as the agent does),
 *                                printing "act OP TUNNEL USEC RC" per action, then
 *                                "read USEC", "plan USEC N" and "total USEC";
 *                                then one more ike_apply pass, as a restarted agent
 *                                would make it: "again USEC ACTIONS".
 * Start actions (initiate) need the agent's retry state: intents with always-on
 * initiators are refused here (the daemon measures those). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ike.h"
#include "intent.h"
#include "log.h"
#include "vici.h"

static const char *const bench_ops[] = {
	[IKE_OP_TERMINATE] = "terminate", [IKE_OP_UNLOAD_CONN] = "unload-conn",
	[IKE_OP_UNLOAD_SHARED] = "unload-shared", [IKE_OP_LOAD_SHARED] = "load-shared",
	[IKE_OP_LOAD_CONN] = "load-conn", [IKE_OP_INITIATE] = "initiate",
};

static long long bench_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int bench_apply_timed(struct ike *ike, const struct intent *in, struct ike_plan *p)
{
	int first = 0;

	for (size_t i = 0; i < p->n; i++) {
		struct ike_plan one = { .acts = &p->acts[i], .n = 1 };
		long long t0 = bench_us();
		int rc = ike_plan_apply(ike, in, &one);

		printf("act %s %s %lld %d\n", bench_ops[p->acts[i].op], p->acts[i].name,
		       bench_us() - t0, rc);
		if (rc && !first)
			first = rc;
	}
	return first;
}

static int bench_load(const char *vici, const struct intent *in)
{
	struct ike *ike = ike_new(vici);
	struct ike_cur *cur = ike_cur_new();
	struct ike_plan *p = ike_plan_new();
	long long t0, t1, t2;
	int rc = -ENOMEM;

	if (!ike || !cur || !p)
		goto out;
	t0 = bench_us();
	rc = vici_conn_open(ike->vc, vici);
	if (!rc)
		rc = ike_cur_read(ike->vc, cur);
	t1 = bench_us();
	if (!rc)
		rc = ike_plan_compute(in, cur, p);
	t2 = bench_us();
	for (size_t i = 0; !rc && i < p->n; i++)
		if (p->acts[i].op == IKE_OP_INITIATE)
			rc = -EINVAL;
	if (rc)
		goto out;
	printf("read %lld\nplan %lld %zu\n", t1 - t0, t2 - t1, p->n);
	rc = bench_apply_timed(ike, in, p);
	printf("total %lld\n", bench_us() - t0);
	/* A restarted agent: the same intent against what charon now holds. */
	ike_plan_free(p);
	ike_cur_free(cur);
	p = ike_plan_new();
	cur = ike_cur_new();
	t0 = bench_us();
	if (!rc && p && cur && !(rc = ike_cur_read(ike->vc, cur)) &&
	    !(rc = ike_plan_compute(in, cur, p)))
		printf("again %lld %zu\n", bench_us() - t0, p->n);
out:
	ike_plan_free(p);
	ike_cur_free(cur);
	ike_free(ike);
	return rc;
}

int main(int argc, char **argv)
{
	struct intent *in = NULL;
	char err[256];
	int rc;

	if (argc != 4 || strcmp(argv[1], "load")) {
		fprintf(stderr, "usage: ike_bench load VICI INTENT\n");
		return 2;
	}
	log_init("ike_bench", LOG_LVL_WARN);
	if (intent_load_file(argv[3], &in, err, sizeof(err))) {
		fprintf(stderr, "ike_bench: %s\n", err);
		return 2;
	}
	rc = bench_load(argv[2], in);
	if (rc)
		fprintf(stderr, "ike_bench: %s\n", strerror(-rc));
	intent_free(in);
	return rc ? 1 : 0;
}
