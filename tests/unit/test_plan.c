/* Planner and netlink message building, without a kernel. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>

#include "intent.h"
#include "kstate.h"
#include "nl.h"
#include "nl_addr.h"
#include "nl_link.h"
#include "nl_route.h"
#include "plan.h"
#include "tunnel_kind.h"
#include "xfrm_policy.h"

#define SEC(mode) "\"security\":{\"mode\":\"" mode "\",\"protocol\":\"esp\"," \
	"\"ike_proposals\":[\"aes128gcm16-prfsha256-ecp256\"],\"child_proposals\":[\"aes128gcm16\"]," \
	"\"start\":\"always\",\"initiator\":true},\"psk\":\"0123456789abcdef0123\""

static const char *const doc =
	"{\"format\":1,\"site\":\"a\",\"revision\":3,\"tunnels\":["
	"{\"id\":\"g\",\"ifname\":\"gs-g\",\"kind\":\"gre\",\"local\":\"192.0.2.1\","
	"\"remote\":\"192.0.2.2\",\"key\":7,\"mtu\":1400,\"overlay\":{\"local\":\"169.254.0.0/31\","
	"\"peer\":\"169.254.0.1/31\"},\"reqid\":65537," SEC("transport") "},"
	"{\"id\":\"v\",\"ifname\":\"gs-v\",\"kind\":\"vti\",\"local\":\"198.51.100.1\","
	"\"remote\":\"198.51.100.2\",\"key\":9,\"mtu\":1400,\"overlay\":{\"local\":\"169.254.1.0/31\","
	"\"peer\":\"169.254.1.1/31\"},\"reqid\":65538," SEC("tunnel") "}],"
	"\"routes\":[{\"prefix\":\"10.2.0.0/24\",\"via\":\"g\"},{\"prefix\":\"10.3.0.0/24\",\"via\":\"v\"}],"
	"\"spd\":["
	"{\"tunnel\":\"g\",\"src\":\"192.0.2.1/32\",\"dst\":\"192.0.2.2/32\",\"proto\":47,\"dir\":\"out\","
	"\"template\":{\"mode\":\"transport\",\"proto\":\"esp\",\"reqid\":65537},\"priority\":10000},"
	"{\"tunnel\":\"g\",\"src\":\"192.0.2.2/32\",\"dst\":\"192.0.2.1/32\",\"proto\":47,\"dir\":\"in\","
	"\"template\":{\"mode\":\"transport\",\"proto\":\"esp\",\"reqid\":65537},\"priority\":10000},"
	"{\"tunnel\":\"v\",\"src\":\"0.0.0.0/0\",\"dst\":\"0.0.0.0/0\",\"proto\":0,\"dir\":\"out\","
	"\"template\":{\"mode\":\"tunnel\",\"proto\":\"esp\",\"reqid\":65538},\"priority\":10000,"
	"\"mark\":{\"value\":9}}]}";

static struct intent *load(void)
{
	json_t *j = json_loads(doc, 0, NULL);
	struct intent *in = NULL;
	char err[256] = "";

	assert_non_null(j);
	if (intent_from_json(j, &in, err, sizeof(err)) || intent_validate(in, err, sizeof(err)))
		fail_msg("intent: %s", err);
	json_decref(j);
	return in;
}

/* The kernel as it would look after a successful apply of in. */
static struct kstate *converged(const struct intent *in)
{
	struct kstate *ks = kstate_new();

	assert_int_equal(plan_desired(in, ks), 0);
	for (size_t i = 0; i < ks->n_links; i++) {
		ks->links[i].ifindex = 10 + (int)i;
		ks->links[i].tunnel = -1;
		if (ks->links[i].conf.disable_policy < 0)
			ks->links[i].conf.disable_policy = 0;
		if (ks->links[i].conf.disable_xfrm < 0)
			ks->links[i].conf.disable_xfrm = 0;
	}
	for (size_t i = 0; i < ks->n_addrs; i++)
		ks->addrs[i].ifindex = kstate_link_by_name(ks, ks->addrs[i].ifname)->ifindex;
	for (size_t i = 0; i < ks->n_routes; i++)
		ks->routes[i].oif = kstate_link_by_name(ks, ks->routes[i].ifname)->ifindex;
	return ks;
}

static bool has_line(const struct plan *p, const char *prefix)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strncmp(p->acts[i].line, prefix, strlen(prefix)))
			return true;
	return false;
}

static void test_from_empty(void **state)
{
	struct intent *in = load();
	struct kstate *cur = kstate_new();
	struct plan *p = plan_new();
	static const char *const want[] = {
		"add link gs-g kind gre local 192.0.2.1 remote 192.0.2.2 key 7 ttl 64 mtu 1400 alias gresec:g",
		"add link gs-v kind vti local 198.51.100.1 remote 198.51.100.2 key 9 ttl 0 mtu 1400 alias gresec:v",
		"set conf gs-g rp_filter=2",
		"set conf gs-v rp_filter=2 disable_policy=1 disable_xfrm=0",
		"add addr 169.254.0.0/31 dev gs-g",
		"add addr 169.254.1.0/31 dev gs-v",
		"add route 10.2.0.0/24 dev gs-g metric 100 table 254",
		"add route 10.3.0.0/24 dev gs-v metric 100 table 254",
		"add policy in src 192.0.2.2/32 dst 192.0.2.1/32 proto gre priority 10000 tmpl esp transport reqid 65537",
		"add policy out src 0.0.0.0/0 dst 0.0.0.0/0 proto any mark 0x9/0xffffffff priority 10000 tmpl esp tunnel reqid 65538 src 198.51.100.1 dst 198.51.100.2",
		"add policy out src 192.0.2.1/32 dst 192.0.2.2/32 proto gre priority 10000 tmpl esp transport reqid 65537",
	};

	(void)state;
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n_fails, 0);
	assert_int_equal(p->n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < p->n; i++)
		assert_string_equal(p->acts[i].line, want[i]);
	assert_int_equal(plan_action_phase(&p->acts[0]), PLAN_PHASE_LINK);
	assert_int_equal(plan_action_phase(&p->acts[2]), PLAN_PHASE_REST);
	assert_int_equal(p->acts[6].tunnel, 0);
	assert_int_equal(p->acts[7].tunnel, 1);
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

static void test_converged_is_empty(void **state)
{
	struct intent *in = load();
	struct kstate *cur = converged(in);
	struct plan *p = plan_new();

	(void)state;
	/* Objects the agent does not own are ignored: a foreign route and policy. */
	struct kroute *r = kstate_add_route(cur);
	struct kpolicy *fp = kstate_add_policy(cur);
	assert_int_equal(addr_prefix_parse("10.9.0.0/16", &r->dst), 0);
	r->table = RT_TABLE_MAIN;
	r->protocol = RTPROT_STATIC;
	r->oif = 10;
	assert_int_equal(addr_prefix_parse("10.0.0.0/8", &fp->src), 0);
	fp->dst = fp->src;
	fp->priority = 100;
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n, 0);
	assert_int_equal(p->n_fails, 0);
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

static void test_drift(void **state)
{
	struct intent *in = load();
	struct kstate *cur = converged(in);
	struct plan *p = plan_new();

	(void)state;
	cur->links[0].mtu = 1500;			/* changed behind our back */
	cur->links[1].conf.disable_policy = 0;
	cur->routes[0].oif = 11;			/* points into the wrong tunnel */
	cur->n_policies--;				/* VTI out policy deleted */
	cur->addrs[0].len = 30;			/* wrong prefix length */
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n, 6);
	assert_string_equal(p->acts[0].line, "del addr 169.254.0.0/30 dev gs-g");
	assert_true(has_line(p, "change link gs-g kind gre local 192.0.2.1 remote 192.0.2.2 key 7 ttl 64 mtu 1400"));
	assert_true(has_line(p, "set conf gs-v rp_filter=2 disable_policy=1"));
	assert_true(has_line(p, "add addr 169.254.0.0/31 dev gs-g"));
	assert_true(has_line(p, "change route 10.2.0.0/24 dev gs-g"));
	assert_true(has_line(p, "add policy out src 0.0.0.0/0 dst 0.0.0.0/0 proto any mark 0x9/"));
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

static void test_foreign_clash(void **state)
{
	struct intent *in = load();
	struct kstate *cur = kstate_new();
	struct plan *p = plan_new();
	struct klink *l = kstate_add_link(cur);

	(void)state;
	snprintf(l->ifname, sizeof(l->ifname), "gs-g");
	l->ifindex = 3;
	l->owned = kstate_link_is_owned("gs-g", "", 0);
	assert_false(l->owned);
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n_fails, 1);
	assert_int_equal(p->fails[0].tunnel, 0);
	assert_string_equal(p->fails[0].msg, "interface gs-g exists and is not ours");
	for (size_t i = 0; i < p->n; i++) {
		assert_int_not_equal(p->acts[i].tunnel, 0);
		assert_null(strstr(p->acts[i].line, "gs-g"));
	}
	assert_true(has_line(p, "add link gs-v"));
	assert_true(has_line(p, "add route 10.3.0.0/24 dev gs-v"));
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

static void test_policy_clash(void **state)
{
	struct intent *in = load();
	struct kstate *cur = kstate_new(), *des = kstate_new();
	struct plan *p = plan_new();
	struct kpolicy *fp = kstate_add_policy(cur);

	(void)state;
	assert_int_equal(plan_desired(in, des), 0);
	*fp = des->policies[0];
	fp->priority = 50;		/* outside our band: someone else's */
	assert_false(kstate_policy_is_owned(fp));
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n_fails, 1);
	assert_int_equal(p->fails[0].tunnel, 0);
	assert_false(has_line(p, "add link gs-g"));
	assert_true(has_line(p, "add link gs-v"));
	plan_free(p);
	kstate_free(cur);
	kstate_free(des);
	intent_free(in);
}

/* Purge: every owned object goes, dependents first; nothing foreign is touched and
 * nothing that disappears with its link is deleted on its own. */
static void test_purge(void **state)
{
	struct intent *in = load();
	struct kstate *cur = converged(in);
	struct plan *p = plan_new();
	struct klink *f = kstate_add_link(cur);

	(void)state;
	snprintf(f->ifname, sizeof(f->ifname), "gs-x");	/* our prefix, not ours */
	f->ifindex = 40;
	assert_int_equal(plan_compute(NULL, cur, p), 0);
	/* 3 policies, 2 links: addresses and routes go with their links. */
	assert_int_equal(p->n, 5);
	assert_true(!strncmp(p->acts[0].line, "del policy", 10));
	assert_true(!strncmp(p->acts[2].line, "del policy", 10));
	assert_false(has_line(p, "del route"));
	assert_string_equal(p->acts[3].line, "del link gs-g kind gre local 192.0.2.1 remote 192.0.2.2 key 7 ttl 64 mtu 1400 alias gresec:g");
	assert_false(has_line(p, "del addr"));
	assert_false(has_line(p, "del link gs-x"));
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

static void test_kind_change_replaces(void **state)
{
	struct intent *in = load();
	struct kstate *cur = converged(in);
	struct plan *p = plan_new();

	(void)state;
	cur->links[0].kind = tunnel_kind_get(INTENT_KIND_VTI, AF_INET);
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_true(has_line(p, "del link gs-g kind vti"));
	assert_true(has_line(p, "add link gs-g kind gre"));
	/* The address and route vanish with the old link: re-added, never deleted. */
	assert_true(has_line(p, "add addr 169.254.0.0/31 dev gs-g"));
	assert_true(has_line(p, "add route 10.2.0.0/24 dev gs-g"));
	assert_false(has_line(p, "del route"));
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

/* A site of n GRE tunnels, as the controller would compile it. */
static struct intent *load_many(int n)
{
	char *text = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct intent *in = NULL;
	json_t *j;

	assert_non_null(f);
	fprintf(f, "{\"format\":1,\"site\":\"a\",\"revision\":1,\"tunnels\":[");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s{\"id\":\"t%d\",\"ifname\":\"gs-m%d\",\"kind\":\"gre\","
			"\"local\":\"192.0.2.1\",\"remote\":\"100.64.%d.%d\",\"key\":%d,"
			"\"mtu\":1400,\"overlay\":{\"local\":\"172.16.%d.%d/31\","
			"\"peer\":\"172.16.%d.%d/31\"},\"reqid\":%d," SEC("transport") "}",
			i ? "," : "", i, i, i / 256, i % 256, 5000 + i, i / 128, 2 * (i % 128),
			i / 128, 2 * (i % 128) + 1, 70000 + i);
	fprintf(f, "],\"routes\":[");
	for (int i = 0; i < n; i++)
		fprintf(f, "%s{\"prefix\":\"10.%d.%d.0/24\",\"via\":\"t%d\"}", i ? "," : "",
			100 + i / 256, i % 256, i);
	fprintf(f, "],\"spd\":[");
	for (int i = 0; i < 2 * n; i++) {
		char peer[32];

		snprintf(peer, sizeof(peer), "100.64.%d.%d", i / 2 / 256, i / 2 % 256);
		fprintf(f, "%s{\"tunnel\":\"t%d\",\"src\":\"%s/32\",\"dst\":\"%s/32\","
			"\"proto\":47,\"dir\":\"%s\",\"template\":{\"mode\":\"transport\","
			"\"proto\":\"esp\",\"reqid\":%d},\"priority\":10000}", i ? "," : "", i / 2,
			i % 2 ? peer : "192.0.2.1", i % 2 ? "192.0.2.1" : peer,
			i % 2 ? "in" : "out", 70000 + i / 2);
	}
	fprintf(f, "]}");
	fclose(f);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	if (intent_from_json(j, &in, err, sizeof(err)) || intent_validate(in, err, sizeof(err)))
		fail_msg("intent: %s", err);
	json_decref(j);
	free(text);
	return in;
}

/* Drops every tenth element of an array of n elements of size sz; returns the new n. */
static size_t drop_tenth(void *arr, size_t n, size_t sz)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (i % 10)
			memmove((char *)arr + k++ * sz, (char *)arr + i * sz, sz);
	return k;
}

/* Hundreds of tunnels: the sorted views find every object whatever the kernel's order,
 * and a partial drift plans exactly the missing objects. */
static void test_many(void **state)
{
	struct intent *in = load_many(400);
	struct kstate *cur = converged(in);
	struct plan *p = plan_new();
	size_t n_routes = cur->n_routes, n_pols = cur->n_policies;

	(void)state;
	/* The kernel lists objects in its own order: reverse every array. */
	for (size_t i = 0; i < cur->n_policies / 2; i++) {
		struct kpolicy t = cur->policies[i];

		cur->policies[i] = cur->policies[cur->n_policies - 1 - i];
		cur->policies[cur->n_policies - 1 - i] = t;
	}
	for (size_t i = 0; i < cur->n_links / 2; i++) {
		struct klink t = cur->links[i];

		cur->links[i] = cur->links[cur->n_links - 1 - i];
		cur->links[cur->n_links - 1 - i] = t;
	}
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n, 0);
	plan_free(p);
	p = plan_new();
	cur->n_routes = drop_tenth(cur->routes, cur->n_routes, sizeof(*cur->routes));
	cur->n_policies = drop_tenth(cur->policies, cur->n_policies, sizeof(*cur->policies));
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n_fails, 0);
	assert_int_equal(p->n, (n_routes - cur->n_routes) + (n_pols - cur->n_policies));
	for (size_t i = 0; i < p->n; i++)
		assert_int_equal(p->acts[i].op, PLAN_ADD);
	assert_true(has_line(p, "add route 10.100.0.0/24 dev gs-m0 "));
	assert_false(has_line(p, "add route 10.100.1.0/24 "));
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

/* Messages the agent builds parse back, with the dump parsers, into what they say. */
static void test_messages_roundtrip(void **state)
{
	struct intent *in = load();
	struct kstate *des = kstate_new();
	struct nl_batch *b = nl_batch_new();
	struct klink l = { .conf = { -1, -1, -1 } };
	struct kaddr a = { 0 };
	struct kroute r = { 0 };
	struct kpolicy po = { 0 };
	const struct nlmsghdr *nlh;
	size_t off = 0;

	(void)state;
	assert_int_equal(plan_desired(in, des), 0);
	des->links[0].ifindex = 12;
	assert_int_equal(nl_link_put_new(b, &des->links[0], true, 0), 0);
	assert_int_equal(nl_addr_put(b, &des->addrs[0], 12, true, 1), 0);
	assert_int_equal(nl_route_put(b, &des->routes[0], 12, PLAN_ADD, 2), 0);
	assert_int_equal(xfrm_policy_put(b, &des->policies[2], PLAN_ADD, 3), 0);
	assert_int_equal(b->n, 4);
	nlh = (const void *)(b->buf + off);
	assert_true(nlh->nlmsg_flags & NLM_F_ACK);
	assert_int_equal(nl_link_parse(nlh, &l), 0);
	assert_string_equal(l.ifname, "gs-g");
	assert_int_equal(l.ifindex, 0);		/* created by name */
	assert_true(nlh->nlmsg_flags & NLM_F_CREATE);
	assert_ptr_equal(l.kind, des->links[0].kind);
	assert_int_equal(addr_cmp(&l.remote, &des->links[0].remote), 0);
	assert_int_equal(l.key, 7);
	assert_int_equal(l.mtu, 1400);
	assert_int_equal(l.group, KSTATE_LINK_GROUP);
	assert_true(l.owned);		/* by name prefix and group until the alias is set */
	off += MNL_ALIGN(nlh->nlmsg_len);
	nlh = (const void *)(b->buf + off);
	assert_int_equal(nl_addr_parse(nlh, &a), 0);
	assert_int_equal(a.ifindex, 12);
	assert_int_equal(a.len, 31);
	assert_int_equal(addr_cmp(&a.addr, &des->addrs[0].addr), 0);
	off += MNL_ALIGN(nlh->nlmsg_len);
	nlh = (const void *)(b->buf + off);
	assert_true(nlh->nlmsg_flags & NLM_F_EXCL);
	assert_int_equal(nl_route_parse(nlh, &r), 0);
	assert_int_equal(r.oif, 12);
	assert_int_equal(r.protocol, KSTATE_RTPROT);
	assert_int_equal(r.metric, 100);
	assert_int_equal(addr_prefix_cmp(&r.dst, &des->routes[0].dst), 0);
	off += MNL_ALIGN(nlh->nlmsg_len);
	nlh = (const void *)(b->buf + off);
	assert_int_equal(nlh->nlmsg_type, XFRM_MSG_NEWPOLICY);
	assert_int_equal(xfrm_policy_parse(nlh, &po), 0);
	assert_true(kstate_policy_same_key(&po, &des->policies[2]));
	assert_true(kstate_policy_is_owned(&po));
	assert_int_equal(po.tmpl_mode, XFRM_MODE_TUNNEL);
	assert_int_equal(po.tmpl_reqid, 65538);
	assert_int_equal(addr_cmp(&po.tmpl_dst, &des->links[1].remote), 0);
	assert_int_equal(po.mark, 9);
	nl_batch_free(b);
	kstate_free(des);
	intent_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_empty),
		cmocka_unit_test(test_converged_is_empty),
		cmocka_unit_test(test_drift),
		cmocka_unit_test(test_foreign_clash),
		cmocka_unit_test(test_policy_clash),
		cmocka_unit_test(test_purge),
		cmocka_unit_test(test_kind_change_replaces),
		cmocka_unit_test(test_messages_roundtrip),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
