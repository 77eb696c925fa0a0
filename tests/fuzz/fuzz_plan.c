/* libFuzzer target: the agent's path from the controller's bytes to kernel actions,
 * without a kernel: intent JSON -> decode -> validate -> guard -> plan, against an empty
 * kernel and against one that holds the intent's own objects, some of them drifted and
 * some foreign. Whatever the guard lets through must plan without a crash, and what it
 * leaves must still validate. */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "guard.h"
#include "intent.h"
#include "kstate.h"
#include "log.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The intent's own objects as the kernel would hold them after an apply, then drifted:
 * every third link foreign, every second one with another MTU. */
static struct kstate *fuzz_plan_current(const struct intent *in)
{
	struct kstate *ks = kstate_new();

	if (!ks || plan_desired(in, ks)) {
		kstate_free(ks);
		return NULL;
	}
	for (size_t i = 0; i < ks->n_links; i++) {
		ks->links[i].ifindex = (int)i + 10;
		ks->links[i].owned = i % 3 != 2;
		if (i % 2)
			ks->links[i].mtu += 8;
	}
	return ks;
}

/* What the guard promises, checked on the plan: no route it adds is near-default, no
 * unmarked policy it adds reaches beyond one host pair. */
static void fuzz_plan_check(const struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_action *a = &p->acts[i];
		unsigned host = 0;

		if (a->op == PLAN_DEL)
			continue;
		if (a->obj == PLAN_OBJ_ROUTE && a->u.route.dst.len < GUARD_ROUTE_MIN_LEN)
			abort();
		if (a->obj != PLAN_OBJ_POLICY || a->u.pol.has_mark)
			continue;
		host = a->u.pol.src.addr.family == AF_INET ? 32 : 128;
		if (a->u.pol.proto != 47 || a->u.pol.src.len != host || a->u.pol.dst.len != host)
			abort();
	}
}

static void fuzz_plan_once(const struct intent *in, const struct kstate *cur)
{
	struct plan *p = plan_new();
	int rc;

	if (!p)
		abort();
	rc = plan_compute(in, cur, p);
	/* -E2BIG (too many paths) and -EOPNOTSUPP (no ops for a kind) are answers. */
	if (rc && rc != -E2BIG && rc != -EOPNOTSUPP && rc != -ENOMEM)
		abort();
	if (!rc)
		fuzz_plan_check(p);
	plan_free(p);
}

static struct guard *fuzz_plan_guard(void)
{
	static struct guard *g;
	struct addr a;

	if (g)
		return g;
	log_init("fuzz_plan", LOG_LVL_ERR);
	g = guard_new();
	if (!g || addr_parse("203.0.113.1", &a) || guard_keep(g, &a, true) < 0 ||
	    addr_parse("2001:db8:ffff::1", &a) || guard_keep(g, &a, false) < 0)
		abort();
	return g;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct guard_report rep = { 0 };
	struct intent *in = NULL;
	struct kstate *empty = kstate_new(), *cur = NULL;
	char err[256];

	if (!empty)
		abort();
	if (!j || intent_from_json(j, &in, err, sizeof(err)) || intent_validate(in, err, sizeof(err)))
		goto out;
	if (guard_apply(fuzz_plan_guard(), in, &rep))
		abort();
	if (intent_validate(in, err, sizeof(err)))
		abort();
	fuzz_plan_once(in, empty);
	if ((cur = fuzz_plan_current(in)))
		fuzz_plan_once(in, cur);
	fuzz_plan_once(NULL, cur ? cur : empty);	/* purge */
out:
	guard_report_clear(&rep);
	kstate_free(cur);
	kstate_free(empty);
	intent_free(in);
	json_decref(j);
	return 0;
}
