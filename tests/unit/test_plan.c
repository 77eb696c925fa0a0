/* Planner and netlink message building, without a kernel. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
		for (size_t j = 0; j < ks->routes[i].n_nh; j++)
			ks->routes[i].nh[j].oif =
				kstate_link_by_name(ks, ks->routes[i].nh[j].ifname)->ifindex;
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
		"set conf gs-g rp_filter=2 addr_gen_mode=1",
		"set conf gs-v rp_filter=2 disable_policy=1 disable_xfrm=0 addr_gen_mode=1",
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
	kstate_route_add_nh(r)->oif = 10;
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
	cur->routes[0].nh[0].oif = 11;		/* points into the wrong tunnel */
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
	struct klink l = { .conf = { -1, -1, -1, -1 } };
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
	des->routes[0].nh[0].oif = 12;
	assert_int_equal(nl_route_put(b, &des->routes[0], PLAN_ADD, 2), 0);
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
	/* Down until the conf message has turned its link-local address off. */
	assert_int_equal(l.up, access("/proc/sys/net/ipv6", F_OK) != 0);
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
	assert_int_equal(r.n_nh, 1);
	assert_int_equal(r.nh[0].oif, 12);
	assert_int_equal(r.nh[0].gw.family, 0);
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

/* The conf message sets the sysctls and, for a link with an IPv6 device, no
 * link-local address; a second message brings the link up after it. Below the IPv6
 * minimum MTU there is no IPv6 device: nothing for it, and the link is made up. */
static void test_conf_messages(void **state)
{
	struct intent *in = load();
	struct kstate *des = kstate_new();
	struct nl_batch *b = nl_batch_new();
	bool v6 = access("/proc/sys/net/ipv6", F_OK) == 0;
	struct klink l = { .conf = { -1, -1, -1, -1 } }, d;
	const struct nlmsghdr *nlh;

	(void)state;
	assert_int_equal(plan_desired(in, des), 0);
	d = des->links[0];
	assert_int_equal(d.conf.addr_gen_mode, 1);
	assert_int_equal(nl_link_put_conf(b, 12, &d, 0), 0);
	assert_int_equal(b->n, 2);
	nlh = (const void *)b->buf;
	assert_int_equal(nl_link_parse(nlh, &l), 0);
	assert_int_equal(l.ifindex, 12);
	assert_string_equal(l.alias, d.alias);
	/* (IPv4 settings go out as attributes and come back from a dump as an array:
	 * the dump parser does not read them from a request.) */
	assert_int_equal(l.conf.addr_gen_mode, v6 ? 1 : -1);
	assert_false(l.up);
	nlh = (const void *)(b->buf + MNL_ALIGN(nlh->nlmsg_len));
	memset(&l, 0, sizeof(l));
	l.conf = (struct kconf){ -1, -1, -1, -1 };
	assert_int_equal(nl_link_parse(nlh, &l), 0);
	assert_true(l.up);
	assert_int_equal(l.conf.addr_gen_mode, -1);
	nl_batch_free(b);
	b = nl_batch_new();
	d.mtu = NL_LINK_IPV6_MIN_MTU - 1;
	assert_false(nl_link_create_down(&d));
	assert_int_equal(nl_link_put_conf(b, 12, &d, 0), 0);
	l.conf = (struct kconf){ -1, -1, -1, -1 };
	assert_int_equal(nl_link_parse((const void *)b->buf, &l), 0);
	assert_int_equal(l.conf.addr_gen_mode, -1);
	assert_int_equal(b->n, 2);
	nl_batch_free(b);
	kstate_free(des);
	intent_free(in);
}

/* ---- ECMP: equal (prefix, metric) through several tunnels is one multipath route ---- */

#define GRE(id, n, ov) "{\"id\":\"" id "\",\"ifname\":\"gs-" id "\",\"kind\":\"gre\"," \
	"\"local\":\"192.0.2.1\",\"remote\":\"192.0.2.1" #n "\",\"key\":" #n ",\"mtu\":1400," \
	"\"overlay\":" ov ",\"reqid\":6554" #n "," SEC("transport") "}"

/* Hubs h1..h3 (h2 with an IPv6 overlay). Routes listed out of order on purpose. */
static const char *const ecmp_doc =
	"{\"format\":1,\"site\":\"s\",\"revision\":1,\"tunnels\":["
	GRE("h1", 1, "{\"local\":\"169.254.1.0/31\",\"peer\":\"169.254.1.1/31\"}") ","
	GRE("h2", 2, "{\"local\":\"fd00::/127\",\"peer\":\"fd00::1/127\"}") ","
	GRE("h3", 3, "{\"local\":\"169.254.3.0/31\",\"peer\":\"169.254.3.1/31\"}") "],"
	"\"routes\":["
	"{\"prefix\":\"10.12.0.0/24\",\"via\":\"h2\",\"metric\":200},"
	"{\"prefix\":\"10.13.0.0/24\",\"via\":\"h2\",\"metric\":201},"
	"{\"prefix\":\"10.12.0.0/24\",\"via\":\"h1\",\"metric\":200},"
	"{\"prefix\":\"10.13.0.0/24\",\"via\":\"h1\",\"metric\":200},"
	"{\"prefix\":\"2001:db8:12::/64\",\"via\":\"h2\",\"metric\":200},"
	"{\"prefix\":\"2001:db8:12::/64\",\"via\":\"h1\",\"metric\":200}],"
	"\"spd\":[]}";

static struct intent *load_text(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	struct intent *in = NULL;
	char err[256] = "";

	assert_non_null(j);
	if (intent_from_json(j, &in, err, sizeof(err)) || intent_validate(in, err, sizeof(err)))
		fail_msg("intent: %s", err);
	json_decref(j);
	return in;
}

static struct kroute *route_by_text(struct kstate *ks, const char *prefix, uint32_t metric)
{
	struct addr_prefix p;

	assert_int_equal(addr_prefix_parse(prefix, &p), 0);
	for (size_t i = 0; i < ks->n_routes; i++)
		if (!addr_prefix_cmp(&ks->routes[i].dst, &p) && ks->routes[i].metric == metric)
			return &ks->routes[i];
	fail_msg("no route %s metric %u", prefix, metric);
	return NULL;
}

static const char *gw_text(const struct knh *nh, char *buf)
{
	addr_fmt(&nh->gw, buf, ADDR_STRLEN);
	return buf;
}

static void test_ecmp_desired(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct kstate *des = kstate_new();
	struct kroute *r;
	char gw[ADDR_STRLEN];

	(void)state;
	assert_int_equal(plan_desired(in, des), 0);
	assert_int_equal(des->n_routes, 4);
	r = route_by_text(des, "10.12.0.0/24", 200);
	assert_int_equal(r->n_nh, 2);
	assert_string_equal(r->nh[0].ifname, "gs-h1");	/* name order, not intent order */
	assert_string_equal(r->nh[1].ifname, "gs-h2");
	assert_int_equal(r->nh[0].tunnel, 0);
	assert_int_equal(r->nh[1].tunnel, 1);
	assert_int_equal(r->tunnel, -1);
	assert_int_equal(r->nh[0].gw.family, 0);		/* IPv4: device-only paths */
	r = route_by_text(des, "10.13.0.0/24", 200);
	assert_int_equal(r->n_nh, 1);
	assert_int_equal(r->tunnel, 0);
	assert_int_equal(route_by_text(des, "10.13.0.0/24", 201)->n_nh, 1);
	/* IPv6 multipath needs gateways: the IPv6 overlay peer, or fe80::<IPv4 peer>. */
	r = route_by_text(des, "2001:db8:12::/64", 200);
	assert_int_equal(r->n_nh, 2);
	assert_string_equal(gw_text(&r->nh[0], gw), "fe80::a9fe:101");
	assert_string_equal(gw_text(&r->nh[1], gw), "fd00::1");
	kstate_free(des);
	intent_free(in);
}

static void test_ecmp_from_empty(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct kstate *cur = kstate_new();
	struct plan *p = plan_new();
	static const char *const want[] = {
		"add route 10.12.0.0/24 metric 200 nexthops gs-h1,gs-h2 table 254",
		"add route 10.13.0.0/24 dev gs-h1 metric 200 table 254",
		"add route 10.13.0.0/24 dev gs-h2 metric 201 table 254",
		"add route 2001:db8:12::/64 metric 200 nexthops gs-h1,gs-h2 table 254",
	};
	size_t k = 0;

	(void)state;
	assert_int_equal(plan_compute(in, cur, p), 0);
	for (size_t i = 0; i < p->n; i++) {
		if (p->acts[i].obj != PLAN_OBJ_ROUTE)
			continue;
		assert_true(k < sizeof(want) / sizeof(want[0]));
		assert_string_equal(p->acts[i].line, want[k]);
		assert_int_equal(p->acts[i].tunnel, p->acts[i].u.route.n_nh > 1 ? -1 : p->acts[i].u.route.tunnel);
		k++;
	}
	assert_int_equal(k, sizeof(want) / sizeof(want[0]));
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

/* The kernel's paths in another order (and IPv6 ones as it keeps them) are no change. */
static void test_ecmp_converged(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct kstate *cur = converged(in);
	struct plan *p = plan_new();

	(void)state;
	for (size_t i = 0; i < cur->n_routes; i++) {
		struct kroute *r = &cur->routes[i];

		if (r->n_nh == 2) {
			struct knh t = r->nh[0];

			r->nh[0] = r->nh[1];
			r->nh[1] = t;
		}
	}
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n, 0);
	assert_int_equal(p->n_fails, 0);
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

/* Any change of the path set is one replace of the route, never delete and add. */
static void test_ecmp_change(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct kstate *cur = converged(in);
	struct kroute *r = route_by_text(cur, "10.12.0.0/24", 200);
	struct kroute *r6 = route_by_text(cur, "2001:db8:12::/64", 200);
	struct kroute *plain = route_by_text(cur, "10.13.0.0/24", 200);
	struct plan *p = plan_new();
	struct knh *extra;

	(void)state;
	/* 10.12: a third path (through h3) to remove. */
	extra = kstate_route_add_nh(r);
	extra->oif = kstate_link_by_name(cur, "gs-h3")->ifindex;
	/* IPv6: a path lost (one sibling deleted by hand): to add back. */
	r6->n_nh = 1;
	/* 10.13/200: a multipath in the kernel where a plain route is wanted. */
	*kstate_route_add_nh(plain) = r->nh[1];
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n, 3);
	assert_string_equal(p->acts[0].line, "change route 10.12.0.0/24 metric 200 nexthops gs-h1,gs-h2 table 254");
	assert_string_equal(p->acts[1].line, "change route 10.13.0.0/24 dev gs-h1 metric 200 table 254");
	assert_string_equal(p->acts[2].line, "change route 2001:db8:12::/64 metric 200 nexthops gs-h1,gs-h2 table 254");
	plan_free(p);
	kstate_free(cur);

	/* A weight or gateway changed behind our back is a difference too. */
	cur = converged(in);
	route_by_text(cur, "10.12.0.0/24", 200)->nh[1].weight = 3;
	route_by_text(cur, "2001:db8:12::/64", 200)->nh[0].gw.bytes[15] ^= 1;
	p = plan_new();
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n, 2);
	assert_int_equal(p->acts[0].op, PLAN_CHANGE);
	assert_int_equal(p->acts[1].op, PLAN_CHANGE);
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

/* The intent goes from two hubs to one, and back. */
static void test_ecmp_single_and_back(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct intent *one = load_text(ecmp_doc);
	struct kstate *cur = converged(in), *cur1;
	struct plan *p = plan_new();

	(void)state;
	/* Drop "10.12.0.0/24 via h1" (routes[2]) from the second copy. */
	free(one->routes[2].via);
	memmove(&one->routes[2], &one->routes[3], (one->n_routes - 3) * sizeof(one->routes[0]));
	one->n_routes--;
	assert_int_equal(plan_compute(one, cur, p), 0);
	assert_int_equal(p->n, 1);
	assert_string_equal(p->acts[0].line, "change route 10.12.0.0/24 dev gs-h2 metric 200 table 254");
	assert_int_equal(p->acts[0].tunnel, 1);
	plan_free(p);
	cur1 = converged(one);
	p = plan_new();
	assert_int_equal(plan_compute(in, cur1, p), 0);
	assert_int_equal(p->n, 1);
	assert_string_equal(p->acts[0].line, "change route 10.12.0.0/24 metric 200 nexthops gs-h1,gs-h2 table 254");
	plan_free(p);
	kstate_free(cur1);
	kstate_free(cur);
	intent_free(one);
	intent_free(in);
}

/* A failed tunnel's path is left out; the route still goes through the other hubs. */
static void test_ecmp_failed_path(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct kstate *cur = kstate_new();
	struct plan *p = plan_new();
	struct klink *l = kstate_add_link(cur);

	(void)state;
	snprintf(l->ifname, sizeof(l->ifname), "gs-h2");	/* foreign */
	l->ifindex = 3;
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n_fails, 1);
	assert_true(has_line(p, "add route 10.12.0.0/24 dev gs-h1 metric 200 table 254"));
	assert_true(has_line(p, "add route 2001:db8:12::/64 dev gs-h1 metric 200 table 254"));
	assert_false(has_line(p, "add route 10.13.0.0/24 dev gs-h2"));
	for (size_t i = 0; i < p->n; i++)
		if (p->acts[i].obj == PLAN_OBJ_ROUTE) {
			assert_int_equal(p->acts[i].u.route.n_nh, 1);
			assert_int_equal(p->acts[i].u.route.nh[0].gw.family, 0);
			assert_int_equal(p->acts[i].tunnel, 0);
		}
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

/* A path's link replaced (kind change): IPv4 drops the whole route with it (add anew),
 * IPv6 only that sibling (replace what is left). An unwanted multipath route is one
 * deletion. */
static void test_ecmp_doomed_and_del(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct kstate *cur = converged(in);
	struct plan *p = plan_new();
	struct kroute *r;

	(void)state;
	((struct klink *)kstate_link_by_name(cur, "gs-h2"))->kind =
		tunnel_kind_get(INTENT_KIND_VTI, AF_INET);
	r = kstate_add_route(cur);
	*r = *route_by_text(cur, "10.12.0.0/24", 200);
	r->metric = 300;
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_true(has_line(p, "add route 10.12.0.0/24 metric 200 nexthops gs-h1,gs-h2 table 254"));
	assert_true(has_line(p, "change route 2001:db8:12::/64 metric 200 nexthops gs-h1,gs-h2 table 254"));
	assert_true(has_line(p, "add route 10.13.0.0/24 dev gs-h2 metric 201"));
	assert_false(has_line(p, "add route 10.13.0.0/24 dev gs-h1"));
	/* Dies with gs-h2 too, so it is not deleted on its own... */
	assert_false(has_line(p, "del route 10.12.0.0/24 metric 300"));
	plan_free(p);
	kstate_free(cur);
	cur = converged(in);
	r = kstate_add_route(cur);
	*r = *route_by_text(cur, "10.12.0.0/24", 200);
	r->metric = 300;
	p = plan_new();
	/* ...but is when its links stay. */
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_int_equal(p->n, 1);
	assert_string_equal(p->acts[0].line, "del route 10.12.0.0/24 metric 300 nexthops gs-h1,gs-h2 table 254");
	plan_free(p);
	kstate_free(cur);
	intent_free(in);
}

static void test_ecmp_too_many(void **state)
{
	struct intent *in = load_many(KSTATE_NH_MAX + 1);
	struct kstate *des = kstate_new();

	(void)state;
	for (size_t i = 1; i < in->n_routes; i++)
		in->routes[i].prefix = in->routes[0].prefix;
	assert_int_equal(plan_desired(in, des), -E2BIG);
	kstate_free(des);
	des = kstate_new();
	in->n_routes--;
	assert_int_equal(plan_desired(in, des), 0);
	assert_int_equal(des->n_routes, 1);
	assert_int_equal(des->routes[0].n_nh, KSTATE_NH_MAX);
	in->n_routes++;		/* intent_free frees what it holds */
	kstate_free(des);
	intent_free(in);
}

/* The paths of one RTA_MULTIPATH attribute: ifindex, weight and gateway each. */
static size_t mp_paths(const struct nlmsghdr *nlh, int *oif, struct addr *gw, int family)
{
	const struct nlattr *at, *mp = NULL;
	size_t n = 0;

	mnl_attr_for_each(at, nlh, sizeof(struct rtmsg)) {
		assert_int_not_equal(mnl_attr_get_type(at), RTA_OIF);
		assert_int_not_equal(mnl_attr_get_type(at), RTA_GATEWAY);
		if (mnl_attr_get_type(at) == RTA_MULTIPATH)
			mp = at;
	}
	if (!mp)
		return 0;
	const struct rtnexthop *rtnh = mnl_attr_get_payload(mp);
	int rem = (int)mnl_attr_get_payload_len(mp);

	for (; RTNH_OK(rtnh, rem); rem -= RTNH_ALIGN(rtnh->rtnh_len), rtnh = RTNH_NEXT(rtnh)) {
		const struct rtattr *a = RTNH_DATA(rtnh);
		int alen = rtnh->rtnh_len - (int)sizeof(*rtnh);

		assert_int_equal(rtnh->rtnh_hops, 0);		/* equal weight 1 */
		assert_int_equal(rtnh->rtnh_flags, 0);
		oif[n] = rtnh->rtnh_ifindex;
		memset(&gw[n], 0, sizeof(gw[n]));
		for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			assert_int_equal(a->rta_type, RTA_GATEWAY);
			assert_int_equal(RTA_PAYLOAD(a), family == AF_INET ? 4 : 16);
			gw[n].family = family;
			memcpy(gw[n].bytes, RTA_DATA(a), RTA_PAYLOAD(a));
		}
		n++;
	}
	assert_int_equal(rem, 0);
	return n;
}

static const struct nlmsghdr *msg_at(const struct nl_batch *b, size_t k)
{
	size_t off = 0;

	for (size_t i = 0; i < k; i++)
		off += MNL_ALIGN(((const struct nlmsghdr *)(b->buf + off))->nlmsg_len);
	return (const void *)(b->buf + off);
}

static void test_ecmp_messages(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct kstate *des = converged(in), *back = kstate_new();
	struct kroute *r = route_by_text(des, "10.12.0.0/24", 200);
	struct kroute *r6 = route_by_text(des, "2001:db8:12::/64", 200);
	struct nl_batch *b = nl_batch_new();
	const struct nlmsghdr *nlh;
	const struct rtmsg *rtm;
	struct addr gw[4];
	int oif[4];
	char t[ADDR_STRLEN];

	(void)state;
	assert_int_equal(nl_route_put(b, r, PLAN_ADD, 0), 0);
	assert_int_equal(nl_route_put(b, r6, PLAN_CHANGE, 1), 0);
	assert_int_equal(nl_route_put(b, r, PLAN_DEL, 2), 0);
	nlh = msg_at(b, 0);
	rtm = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(nlh->nlmsg_type, RTM_NEWROUTE);
	assert_true(nlh->nlmsg_flags & NLM_F_EXCL);
	assert_int_equal(rtm->rtm_protocol, KSTATE_RTPROT);
	assert_int_equal(mp_paths(nlh, oif, gw, AF_INET), 2);
	assert_int_equal(oif[0], r->nh[0].oif);
	assert_int_equal(oif[1], r->nh[1].oif);
	assert_int_not_equal(oif[0], oif[1]);
	assert_int_equal(gw[0].family, 0);
	assert_int_equal(gw[1].family, 0);
	nlh = msg_at(b, 1);
	assert_true(nlh->nlmsg_flags & NLM_F_REPLACE);
	assert_false(nlh->nlmsg_flags & NLM_F_EXCL);
	assert_int_equal(mp_paths(nlh, oif, gw, AF_INET6), 2);
	addr_fmt(&gw[0], t, sizeof(t));
	assert_string_equal(t, "fe80::a9fe:101");
	addr_fmt(&gw[1], t, sizeof(t));
	assert_string_equal(t, "fd00::1");
	assert_int_equal(oif[1], kstate_link_by_name(des, "gs-h2")->ifindex);
	/* Deleting a multipath route names no path: the kernel removes them all. */
	nlh = msg_at(b, 2);
	assert_int_equal(nlh->nlmsg_type, RTM_DELROUTE);
	assert_int_equal(mp_paths(nlh, oif, gw, AF_INET), 0);
	/* Parsed back as a dump would be: the same routes. */
	for (size_t i = 0; i < 2; i++) {
		struct nlmsghdr *m = (struct nlmsghdr *)msg_at(b, i);

		m->nlmsg_type = RTM_NEWROUTE;
		assert_int_equal(nl_route_dump_msg(m, back), 0);
	}
	assert_int_equal(back->n_routes, 2);
	assert_int_equal(back->routes[0].n_nh, 2);
	assert_int_equal(back->routes[0].nh[1].oif, r->nh[1].oif);
	assert_int_equal(back->routes[0].metric, 200);
	assert_int_equal(back->routes[0].protocol, KSTATE_RTPROT);
	assert_int_equal(back->routes[1].n_nh, 2);
	assert_int_equal(addr_cmp(&back->routes[1].nh[1].gw, &r6->nh[1].gw), 0);
	nl_batch_free(b);
	kstate_free(back);
	kstate_free(des);
	intent_free(in);
}

/* Older kernels dump an IPv6 multipath route as sibling routes, one per path with its
 * gateway: read as one route, which equals the desired one. A device route next to it
 * with the same key is not a sibling. */
static void test_ecmp_ipv6_siblings(void **state)
{
	struct intent *in = load_text(ecmp_doc);
	struct kstate *des = converged(in), *back = kstate_new();
	struct kroute *r6 = route_by_text(des, "2001:db8:12::/64", 200);
	struct kroute one = *r6, dev = *r6;
	struct nl_batch *b = nl_batch_new();
	struct plan *p = plan_new();

	(void)state;
	for (int i = 1; i >= 0; i--) {		/* the kernel's order, not ours */
		one.n_nh = 1;
		one.nh[0] = r6->nh[i];
		assert_int_equal(nl_route_put(b, &one, PLAN_ADD, i), 0);
	}
	dev.n_nh = 1;
	memset(&dev.nh[0].gw, 0, sizeof(dev.nh[0].gw));
	assert_int_equal(nl_route_put(b, &dev, PLAN_ADD, 2), 0);
	for (size_t i = 0; i < 3; i++) {
		struct nlmsghdr *m = (struct nlmsghdr *)msg_at(b, i);

		m->nlmsg_type = RTM_NEWROUTE;
		assert_int_equal(nl_route_dump_msg(m, back), 0);
	}
	assert_int_equal(back->n_routes, 2);
	assert_int_equal(back->routes[0].n_nh, 2);
	assert_int_equal(back->routes[1].n_nh, 1);
	/* The kernel as converged, its IPv6 route read from the two siblings. */
	for (size_t i = 0; i < des->n_routes; i++)
		if (des->routes[i].dst.addr.family == AF_INET6)
			des->routes[i] = des->routes[--des->n_routes];
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(nl_route_dump_msg(msg_at(b, i), des), 0);
	assert_int_equal(des->n_routes, 4);
	assert_int_equal(plan_compute(in, des, p), 0);
	assert_int_equal(p->n, 0);
	plan_free(p);
	nl_batch_free(b);
	kstate_free(back);
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
		cmocka_unit_test(test_conf_messages),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_ecmp_desired),
		cmocka_unit_test(test_ecmp_from_empty),
		cmocka_unit_test(test_ecmp_converged),
		cmocka_unit_test(test_ecmp_change),
		cmocka_unit_test(test_ecmp_single_and_back),
		cmocka_unit_test(test_ecmp_failed_path),
		cmocka_unit_test(test_ecmp_doomed_and_del),
		cmocka_unit_test(test_ecmp_too_many),
		cmocka_unit_test(test_ecmp_messages),
		cmocka_unit_test(test_ecmp_ipv6_siblings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
