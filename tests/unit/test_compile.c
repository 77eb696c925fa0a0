/* The intent compiler against a real temporary store: every topology kind, dual hubs,
 * path preference, summaries, overlay allocation and its exhaustion, NAT rules,
 * identifier stability, revisions that follow content, determinism. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "compile.h"
#include "db.h"
#include "revision.h"
#include "import.h"
#include "store.h"

struct fx {
	char dir[64];
	char path[96];
	struct store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/gresec-test-compile.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	assert_int_equal(store_open(f->path, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[128];

	store_free(f->s);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/t.db%s", f->dir, (const char *[]){ "", "-wal", "-shm" }[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Imports doc (merge); returns the import's result code, errors in *errs_out if asked. */
static int import(struct fx *f, const char *doc, json_t **errs_out)
{
	struct import_opts o = { .actor = "test" };
	struct verr *errs = verr_new();
	json_t *d = json_loads(doc, 0, NULL), *res = NULL;
	int r;

	assert_non_null(d);
	r = import_json(f->s, d, &o, errs, &res);
	if (errs_out)
		*errs_out = verr_json(errs);
	json_decref(res);
	json_decref(d);
	verr_free(errs);
	return r;
}

static json_t *intent_of(struct fx *f, const char *site, uint64_t *rev)
{
	char *text = NULL;
	uint64_t r = 0;
	json_t *j;

	assert_int_equal(revision_current(f->s, site, &r, &text), 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	free(text);
	if (rev)
		*rev = r;
	return j;
}

/* The metrics of the routes to prefix, in order, via the tunnels to peer sites. */
static int count_routes(const json_t *in, const char *prefix, const char *via, int metric)
{
	const json_t *r;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(in, "routes"), i, r) {
		if (strcmp(json_string_value(json_object_get(r, "prefix")), prefix))
			continue;
		if (via && strcmp(json_string_value(json_object_get(r, "via")), via))
			continue;
		if (metric >= 0 && json_integer_value(json_object_get(r, "metric")) != metric)
			continue;
		n++;
	}
	return n;
}

/* The id of the tunnel from site to peer in site's intent (by remote underlay). */
static const char *tunnel_to(const json_t *in, const char *remote)
{
	const json_t *t;
	size_t i;

	json_array_foreach(json_object_get(in, "tunnels"), i, t)
		if (!strcmp(json_string_value(json_object_get(t, "remote")), remote))
			return json_string_value(json_object_get(t, "id"));
	return NULL;
}

static const json_t *tunnel_obj(const json_t *in, const char *remote)
{
	const json_t *t;
	size_t i;

	json_array_foreach(json_object_get(in, "tunnels"), i, t)
		if (!strcmp(json_string_value(json_object_get(t, "remote")), remote))
			return t;
	return NULL;
}

#define SITES_4 \
	"{\"name\":\"hub1\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"10.1.0.0/24\"]}," \
	"{\"name\":\"hub2\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"10.2.0.0/24\"]}," \
	"{\"name\":\"s1\",\"underlay\":\"192.0.2.11\",\"prefixes\":[\"10.11.0.0/24\"],\"tags\":{\"r\":\"x\"}}," \
	"{\"name\":\"s2\",\"underlay\":\"192.0.2.12\",\"prefixes\":[\"10.12.0.0/24\"],\"tags\":{\"r\":\"x\"}}"

static void test_full_mesh(void **state)
{
	struct fx *f = *state;
	json_t *in;
	size_t i;
	const json_t *sp;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":[" SITES_4 "],"
		"\"topologies\":[{\"name\":\"m\",\"kind\":\"full-mesh\",\"profile\":\"p\","
		"\"members\":[\"hub1\",\"hub2\",\"s1\",\"s2\"]}]}", NULL), 0);
	in = intent_of(f, "s1", NULL);
	assert_int_equal(json_array_size(json_object_get(in, "tunnels")), 3);
	assert_int_equal(json_array_size(json_object_get(in, "spd")), 6);
	assert_int_equal(count_routes(in, "10.12.0.0/24", tunnel_to(in, "192.0.2.12"), 100), 1);
	assert_int_equal(count_routes(in, "10.1.0.0/24", tunnel_to(in, "192.0.2.1"), 100), 1);
	/* Its own prefix is not routed into a tunnel. */
	assert_int_equal(count_routes(in, "10.11.0.0/24", NULL, -1), 0);
	json_array_foreach(json_object_get(in, "spd"), i, sp) {
		assert_int_equal(json_integer_value(json_object_get(sp, "proto")), 47);
		assert_true(json_integer_value(json_object_get(json_object_get(sp, "template"),
							       "reqid")) >= 0x10000);
	}
	json_decref(in);
}

static void test_dual_hubs_and_path_preference(void **state)
{
	struct fx *f = *state;
	json_t *in;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":[" SITES_4 ","
		"{\"name\":\"s3\",\"underlay\":\"192.0.2.13\",\"prefixes\":[\"10.13.0.0/24\"],\"tags\":{\"r\":\"x\"}}],"
		"\"topologies\":[{\"name\":\"star\",\"kind\":\"hub-spoke\",\"profile\":\"p\","
		"\"hubs\":[\"hub1\",\"hub2\"],\"match_tags\":{\"r\":\"x\"}}],"
		"\"tunnels\":[{\"name\":\"direct\",\"a\":\"s1\",\"b\":\"s3\",\"profile\":\"p\"}]}", NULL), 0);
	in = intent_of(f, "s1", NULL);
	/* Through both hubs, the first by name preferred. */
	assert_int_equal(count_routes(in, "10.12.0.0/24", tunnel_to(in, "192.0.2.1"), 200), 1);
	assert_int_equal(count_routes(in, "10.12.0.0/24", tunnel_to(in, "192.0.2.2"), 201), 1);
	assert_int_equal(count_routes(in, "10.12.0.0/24", NULL, -1), 2);
	/* Direct beats the hubs, which stay behind it for failover. */
	assert_int_equal(count_routes(in, "10.13.0.0/24", NULL, -1), 3);
	assert_int_equal(count_routes(in, "10.13.0.0/24", tunnel_to(in, "192.0.2.13"), 100), 1);
	assert_int_equal(count_routes(in, "10.13.0.0/24", tunnel_to(in, "192.0.2.1"), 200), 1);
	assert_int_equal(count_routes(in, "10.13.0.0/24", tunnel_to(in, "192.0.2.2"), 201), 1);
	json_decref(in);
	/* A hub reaches each spoke directly, and the hubs are joined to each other. */
	in = intent_of(f, "hub1", NULL);
	assert_int_equal(json_array_size(json_object_get(in, "tunnels")), 4);
	assert_int_equal(count_routes(in, "10.12.0.0/24", tunnel_to(in, "192.0.2.12"), 100), 1);
	assert_int_equal(count_routes(in, "10.2.0.0/24", tunnel_to(in, "192.0.2.2"), 100), 1);
	json_decref(in);
	/* Spokes without a direct tunnel are not joined. */
	in = intent_of(f, "s2", NULL);
	assert_null(tunnel_to(in, "192.0.2.11"));
	json_decref(in);
}

/* With the profile's ecmp, both hubs' paths share one metric: a multipath route. */
static void test_dual_hubs_ecmp(void **state)
{
	struct fx *f = *state;
	json_t *in;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\",\"ecmp\":true}],\"sites\":[" SITES_4 "],"
		"\"topologies\":[{\"name\":\"star\",\"kind\":\"hub-spoke\",\"profile\":\"p\","
		"\"hubs\":[\"hub1\",\"hub2\"],\"match_tags\":{\"r\":\"x\"}}]}", NULL), 0);
	in = intent_of(f, "s1", NULL);
	assert_int_equal(count_routes(in, "10.12.0.0/24", tunnel_to(in, "192.0.2.1"), 200), 1);
	assert_int_equal(count_routes(in, "10.12.0.0/24", tunnel_to(in, "192.0.2.2"), 200), 1);
	assert_int_equal(count_routes(in, "10.12.0.0/24", NULL, -1), 2);
	json_decref(in);
}

/* One multipath route holds INTENT_ECMP_MAX paths: with more hubs, the first eight by
 * name share the best metric and the rest back them up; the validator refuses a ninth
 * path of equal cost. */
static void test_ecmp_cap(void **state)
{
	struct fx *f = *state;
	char doc[4096];
	size_t len = 0;
	json_t *in;

	len += (size_t)snprintf(doc + len, sizeof(doc) - len, "{\"profiles\":[{\"name\":\"p\","
				"\"ecmp\":true}],\"sites\":[{\"name\":\"s\",\"underlay\":\"192.0.2.100\"},"
				"{\"name\":\"t\",\"underlay\":\"192.0.2.101\",\"prefixes\":[\"10.9.0.0/24\"]}");
	for (int h = 0; h < 9; h++)
		len += (size_t)snprintf(doc + len, sizeof(doc) - len, ",{\"name\":\"hub%d\","
					"\"underlay\":\"192.0.2.%d\"}", h, h + 1);
	snprintf(doc + len, sizeof(doc) - len, "],\"topologies\":[{\"name\":\"star\",\"kind\":"
		 "\"hub-spoke\",\"profile\":\"p\",\"members\":[\"s\",\"t\"],\"hubs\":[\"hub0\","
		 "\"hub1\",\"hub2\",\"hub3\",\"hub4\",\"hub5\",\"hub6\",\"hub7\",\"hub8\"]}]}");
	assert_int_equal(import(f, doc, NULL), 0);
	in = intent_of(f, "s", NULL);
	assert_int_equal(count_routes(in, "10.9.0.0/24", NULL, 200), INTENT_ECMP_MAX);
	assert_int_equal(count_routes(in, "10.9.0.0/24", tunnel_to(in, "192.0.2.9"), 201), 1);
	json_decref(in);
	{
		struct compile_ctx *c = NULL;
		struct verr *errs = verr_new();
		struct intent *it = NULL;
		char err[256];
		size_t i;

		assert_int_equal(compile_ctx_new(f->s, &c), 0);
		for (i = 0; strcmp(compile_ctx_site(c, i), "s"); i++)
			;
		assert_int_equal(compile_site(c, i, 1, &it, errs), 0);
		/* The backup route joins the others' metric: nine paths of equal cost. */
		for (i = 0; i < it->n_routes; i++)
			it->routes[i].metric = 200;
		assert_int_equal(intent_validate(it, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "equal-cost paths"));
		intent_free(it);
		compile_ctx_free(c);
		verr_free(errs);
	}
}

static void test_summaries(void **state)
{
	struct fx *f = *state;
	json_t *in;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":[" SITES_4 "],"
		"\"topologies\":[{\"name\":\"star\",\"kind\":\"hub-spoke\",\"profile\":\"p\","
		"\"hubs\":[\"hub1\"],\"members\":[\"s1\",\"s2\"],"
		"\"summary_prefixes\":[\"10.0.0.0/8\"]}]}", NULL), 0);
	in = intent_of(f, "s1", NULL);
	assert_int_equal(count_routes(in, "10.0.0.0/8", tunnel_to(in, "192.0.2.1"), 200), 1);
	assert_int_equal(count_routes(in, "10.12.0.0/24", NULL, -1), 0);
	assert_int_equal(json_array_size(json_object_get(in, "routes")), 2);	/* hub's /24 + summary */
	json_decref(in);
}

static void test_overlay_allocation_and_exhaustion(void **state)
{
	struct fx *f = *state;
	struct addr_prefix pool;
	json_t *in, *errs = NULL;
	const json_t *t;
	char *text;

	addr_prefix_parse("100.64.0.0/30", &pool);
	store_set_overlay_pool(f->s, &pool);
	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":[" SITES_4 "],"
		"\"tunnels\":[{\"name\":\"a\",\"a\":\"s1\",\"b\":\"s2\",\"profile\":\"p\"},"
		"{\"name\":\"b\",\"a\":\"hub1\",\"b\":\"hub2\",\"profile\":\"p\"}]}", NULL), 0);
	in = intent_of(f, "s2", NULL);
	t = tunnel_obj(in, "192.0.2.11");
	/* Pairs are allocated in name order (hub1-hub2 took the first /31); s1 < s2, so s1
	 * takes the first address of the second /31. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "overlay"), "local")),
			    "100.64.0.3/31");
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "overlay"), "peer")),
			    "100.64.0.2/31");
	json_decref(in);
	assert_int_equal(import(f, "{\"tunnels\":[{\"name\":\"c\",\"a\":\"s1\",\"b\":\"hub1\","
				"\"profile\":\"p\"}]}", &errs), -EINVAL);
	text = json_dumps(errs, 0);
	assert_non_null(strstr(text, "exhausted"));
	free(text);
	json_decref(errs);
}

static void test_nat_rules(void **state)
{
	struct fx *f = *state;
	json_t *in, *errs = NULL;
	const json_t *sec;
	char *text;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":["
		"{\"name\":\"hub\",\"underlay\":\"192.0.2.1\"},"
		"{\"name\":\"a-nat\",\"underlay\":\"192.168.1.2\",\"behind_nat\":true,"
		"\"nat_address\":\"203.0.113.2\"}],"
		"\"tunnels\":[{\"name\":\"t\",\"a\":\"hub\",\"b\":\"a-nat\",\"profile\":\"p\"}]}", NULL), 0);
	in = intent_of(f, "a-nat", NULL);
	sec = json_object_get(json_array_get(json_object_get(in, "tunnels"), 0), "security");
	/* The NAT'd site initiates (and the hub, whose peer is behind NAT, does not). */
	assert_true(json_is_true(json_object_get(sec, "initiator")));
	assert_true(json_is_true(json_object_get(sec, "udp_encap")));
	json_decref(in);
	in = intent_of(f, "hub", NULL);
	sec = json_object_get(json_array_get(json_object_get(in, "tunnels"), 0), "security");
	assert_false(json_is_true(json_object_get(sec, "initiator")));
	assert_true(json_is_true(json_object_get(sec, "udp_encap")));
	/* The hub reaches the NAT'd site at its NAT's address, and knows it by its own. */
	assert_non_null(tunnel_obj(in, "203.0.113.2"));
	assert_string_equal(json_string_value(json_object_get(sec, "remote_id")), "192.168.1.2");
	json_decref(in);
	in = intent_of(f, "a-nat", NULL);
	assert_non_null(tunnel_obj(in, "192.0.2.1"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
		json_object_get(in, "tunnels"), 0), "local")), "192.168.1.2");
	json_decref(in);
	/* Two sites behind NAT cannot reach each other: refused. */
	assert_int_equal(import(f, "{\"sites\":[{\"name\":\"z-nat\",\"underlay\":\"192.168.1.3\","
		"\"behind_nat\":true,\"nat_address\":\"203.0.113.3\"}],\"tunnels\":[{\"name\":\"u\",\"a\":\"z-nat\",\"b\":\"a-nat\","
		"\"profile\":\"p\"}]}", &errs), -EINVAL);
	text = json_dumps(errs, 0);
	assert_non_null(strstr(text, "both sites are behind NAT"));
	free(text);
	json_decref(errs);
}

static uint32_t mtu_of(const json_t *in, const char *remote)
{
	return (uint32_t)json_integer_value(json_object_get(tunnel_obj(in, remote), "mtu"));
}

/* NAT-T's UDP header, the ICV of the strongest integrity algorithm proposed, AH's IPv6
 * alignment: each moves the MTU by exactly its bytes. */
static void test_mtu_overheads(void **state)
{
	struct fx *f = *state;
	json_t *in, *errs = NULL;
	char *text;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"},"
		"{\"name\":\"cbc\",\"esp_proposals\":[\"aes256-sha512-ecp384\",\"aes256-sha256-ecp384\"]},"
		"{\"name\":\"ah\",\"protocol\":\"ah\"},{\"name\":\"ah512\",\"protocol\":\"ah\","
		"\"ah_proposals\":[\"sha512-ecp384\"]}],\"sites\":["
		"{\"name\":\"hub\",\"underlay\":\"192.0.2.1\"},"
		"{\"name\":\"nat\",\"underlay\":\"192.168.1.2\",\"behind_nat\":true,"
		"\"nat_address\":\"203.0.113.2\"},{\"name\":\"s\",\"underlay\":\"192.0.2.3\"},"
		"{\"name\":\"s512\",\"underlay\":\"192.0.2.4\"},{\"name\":\"v6a\",\"underlay\":\"2001:db8::1\"},"
		"{\"name\":\"v6b\",\"underlay\":\"2001:db8::2\"},{\"name\":\"v6c\",\"underlay\":\"2001:db8::3\"}],"
		"\"tunnels\":[{\"name\":\"n\",\"a\":\"hub\",\"b\":\"nat\",\"profile\":\"p\"},"
		"{\"name\":\"c\",\"a\":\"hub\",\"b\":\"s\",\"profile\":\"cbc\"},"
		"{\"name\":\"a\",\"a\":\"hub\",\"b\":\"s512\",\"profile\":\"ah512\"},"
		"{\"name\":\"v6\",\"a\":\"v6a\",\"b\":\"v6b\",\"profile\":\"ah\"},"
		"{\"name\":\"v6n\",\"a\":\"v6a\",\"b\":\"v6c\",\"profile\":\"p\"}]}", NULL), 0);
	in = intent_of(f, "hub", NULL);
	/* 1500 - IPv4 20 - GRE 8 - ESP 57 = 1415; NAT-T's UDP header takes 8 more. */
	assert_int_equal(mtu_of(in, "203.0.113.2"), 1407);
	/* HMAC-SHA-512 in either proposal: a 32-byte ICV instead of 16. */
	assert_int_equal(mtu_of(in, "192.0.2.3"), 1399);
	/* AH, IPv4: 12 + 32-byte ICV = 44. */
	assert_int_equal(mtu_of(in, "192.0.2.4"), 1500 - 20 - 8 - 44);
	json_decref(in);
	in = intent_of(f, "v6a", NULL);
	/* AH, IPv6: 12 + 16 = 28, padded to 64 bits = 32; IPv6 header 40. */
	assert_int_equal(mtu_of(in, "2001:db8::2"), 1500 - 40 - 8 - 32);
	assert_int_equal(mtu_of(in, "2001:db8::3"), 1500 - 40 - 8 - 57);
	json_decref(in);
	/* AH cannot cross a NAT: refused, naming the profile. */
	assert_int_equal(import(f, "{\"tunnels\":[{\"name\":\"x\",\"a\":\"s\",\"b\":\"nat\","
		"\"profile\":\"ah\"}]}", &errs), -EINVAL);
	text = json_dumps(errs, 0);
	assert_non_null(strstr(text, "uses AH, which cannot cross NAT"));
	free(text);
	json_decref(errs);
}

static void test_initiator_without_nat(void **state)
{
	struct fx *f = *state;
	json_t *a, *b;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\",\"start\":\"always\"}],"
		"\"sites\":[" SITES_4 "],\"tunnels\":[{\"name\":\"t\",\"a\":\"s2\",\"b\":\"s1\","
		"\"profile\":\"p\"}]}", NULL), 0);
	a = intent_of(f, "s1", NULL);
	b = intent_of(f, "s2", NULL);
	/* Exactly one side initiates, the same one every time: the first by name. */
	assert_true(json_is_true(json_object_get(json_object_get(tunnel_obj(a, "192.0.2.12"),
		"security"), "initiator")));
	assert_false(json_is_true(json_object_get(json_object_get(tunnel_obj(b, "192.0.2.11"),
		"security"), "initiator")));
	json_decref(a);
	json_decref(b);
}

static void test_vti_and_mtu(void **state)
{
	struct fx *f = *state;
	json_t *in;
	const json_t *t, *sp;
	size_t i;
	int ndirs = 0, v6 = 0;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":[" SITES_4 "],"
		"\"tunnels\":[{\"name\":\"v\",\"a\":\"s1\",\"b\":\"s2\",\"tunnel_type\":\"vti\",\"profile\":\"p\"},"
		"{\"name\":\"g\",\"a\":\"s1\",\"b\":\"hub1\",\"profile\":\"p\"}]}", NULL), 0);
	in = intent_of(f, "s1", NULL);
	t = tunnel_obj(in, "192.0.2.12");
	assert_string_equal(json_string_value(json_object_get(t, "kind")), "vti");
	assert_string_equal(json_string_value(json_object_get(json_object_get(t, "security"), "mode")),
			    "tunnel");
	/* 1500 - outer IPv4 20 - ESP worst case 57; GRE adds 8 more in transport mode. */
	assert_int_equal(json_integer_value(json_object_get(t, "mtu")), 1423);
	assert_int_equal(json_integer_value(json_object_get(tunnel_obj(in, "192.0.2.1"), "mtu")), 1415);
	json_array_foreach(json_object_get(in, "spd"), i, sp) {
		const char *dir = json_string_value(json_object_get(sp, "dir"));

		if (strcmp(json_string_value(json_object_get(sp, "tunnel")),
			   json_string_value(json_object_get(t, "id")))) {
			/* the GRE tunnel is transport mode: in and out only */
			assert_string_not_equal(dir, "fwd");
			continue;
		}
		/* tunnel mode: in, out and fwd, each marked (charon queries all three), once
		 * per inner family: a VTI carries IPv4 and IPv6 whatever its underlay's */
		ndirs++;
		v6 += strchr(json_string_value(json_object_get(sp, "src")), ':') != NULL;
		assert_string_equal(json_string_value(json_object_get(sp, "src")),
				    json_string_value(json_object_get(sp, "dst")));
		assert_int_equal(json_integer_value(json_object_get(json_object_get(sp, "mark"), "value")),
				 json_integer_value(json_object_get(t, "key")));
	}
	assert_int_equal(ndirs, 6);
	assert_int_equal(v6, 3);
	json_decref(in);
}

static void assert_bfd(const json_t *in, const char *remote, int enabled, int ms, int mult)
{
	const json_t *b = json_object_get(tunnel_obj(in, remote), "bfd");

	assert_non_null(b);
	assert_int_equal(json_is_true(json_object_get(b, "enabled")), enabled);
	assert_int_equal(json_integer_value(json_object_get(b, "interval_ms")), ms);
	assert_int_equal(json_integer_value(json_object_get(b, "multiplier")), mult);
}

/* Each tunnel carries its profile's bfd; a profile stored before profiles had "bfd"
 * compiles to the defaults, byte for byte what the same profile with them compiles to. */
static void test_bfd_from_profile(void **state)
{
	struct fx *f = *state;
	char *a = NULL, *b = NULL;
	json_t *in;
	uint64_t r1, r2, r3;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"},{\"name\":\"q\",\"bfd\":"
		"{\"enabled\":false,\"interval_ms\":250,\"multiplier\":7}}],\"sites\":[" SITES_4 "],"
		"\"tunnels\":[{\"name\":\"t1\",\"a\":\"s1\",\"b\":\"s2\",\"profile\":\"q\"},"
		"{\"name\":\"t2\",\"a\":\"s1\",\"b\":\"hub1\",\"profile\":\"p\"}]}", NULL), 0);
	in = intent_of(f, "s1", &r1);
	assert_bfd(in, "192.0.2.12", 0, 250, 7);
	assert_bfd(in, "192.0.2.1", 1, 100, 3);
	json_decref(in);
	assert_int_equal(revision_current(f->s, "hub1", &r1, &a), 0);
	assert_int_equal(db_exec(store_db(f->s), "UPDATE object SET body = json_remove(body, '$.bfd') "
				 "WHERE kind = 'profile' AND name = 'p'"), 0);
	store_set_compiled(f->s, NULL);
	assert_int_equal(revision_current(f->s, "hub1", &r2, &b), 0);
	assert_string_equal(a, b);
	assert_int_equal(r1, r2);
	assert_non_null(strstr(b, "\"bfd\":{\"enabled\":true,\"interval_ms\":100,\"multiplier\":3}"));
	free(a);
	free(b);
	/* A new bfd moves the revision of the sites its tunnels reach, and only theirs. */
	json_decref(intent_of(f, "hub2", &r1));
	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\",\"bfd\":{\"multiplier\":5}}]}",
				NULL), 0);
	in = intent_of(f, "hub1", &r3);
	assert_true(r3 > r2);
	assert_bfd(in, "192.0.2.11", 1, 100, 5);
	json_decref(in);
	json_decref(intent_of(f, "hub2", &r2));
	assert_int_equal(r1, r2);
}

static void test_stability_and_revisions(void **state)
{
	struct fx *f = *state;
	json_t *before, *after;
	uint64_t r1, r2, r3, rh1, rh2;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":[" SITES_4 "],"
		"\"topologies\":[{\"name\":\"m\",\"kind\":\"full-mesh\",\"profile\":\"p\","
		"\"match_tags\":{\"r\":\"x\"}}]}", NULL), 0);
	before = intent_of(f, "s1", &r1);
	json_decref(intent_of(f, "hub1", &rh1));
	/* A new mesh member: s1 gains a tunnel, the old one keeps id, key, overlay, psk. */
	assert_int_equal(import(f, "{\"sites\":[{\"name\":\"s0\",\"underlay\":\"192.0.2.10\","
				"\"tags\":{\"r\":\"x\"}}]}", NULL), 0);
	after = intent_of(f, "s1", &r2);
	assert_true(r2 > r1);
	assert_true(json_equal(tunnel_obj(before, "192.0.2.12"), tunnel_obj(after, "192.0.2.12")));
	json_decref(after);
	/* An edit no intent carries bumps nobody. */
	assert_int_equal(import(f, "{\"sites\":[{\"name\":\"s2\",\"underlay\":\"192.0.2.12\","
		"\"prefixes\":[\"10.12.0.0/24\"],\"tags\":{\"r\":\"x\"},\"description\":\"new\"}]}", NULL), 0);
	after = intent_of(f, "s1", &r3);
	assert_int_equal(r3, r2);
	json_decref(after);
	/* hub1 is in no topology: none of this touched it. */
	json_decref(intent_of(f, "hub1", &rh2));
	assert_int_equal(rh1, rh2);
	/* Taking the new site out of the mesh again: the old tunnel is still the same. */
	assert_int_equal(import(f, "{\"sites\":[{\"name\":\"s0\",\"underlay\":\"192.0.2.10\"}]}",
				NULL), 0);
	after = intent_of(f, "s1", NULL);
	assert_true(json_equal(tunnel_obj(before, "192.0.2.12"), tunnel_obj(after, "192.0.2.12")));
	assert_null(tunnel_obj(after, "192.0.2.10"));
	json_decref(after);
	json_decref(before);
}

static void test_deterministic(void **state)
{
	struct fx *f = *state;
	char *a = NULL, *b = NULL;
	uint64_t r;

	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":[" SITES_4 "],"
		"\"topologies\":[{\"name\":\"m\",\"kind\":\"full-mesh\",\"profile\":\"p\","
		"\"match_tags\":{\"r\":\"x\"}}]}", NULL), 0);
	assert_int_equal(revision_current(f->s, "s1", &r, &a), 0);
	/* A fresh context (as after a restart) compiles the same bytes. */
	store_set_compiled(f->s, NULL);
	assert_int_equal(revision_current(f->s, "s1", &r, &b), 0);
	assert_string_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(revision_current(f->s, "nosuch", &r, &a), -ENOENT);
}

/* The direct writer and the jansson encoder agree byte for byte, on intents with every
 * optional part: VTI marks, ids, several proposals, hub routes. */
static void test_dump_matches_jansson(void **state)
{
	struct fx *f = *state;
	struct compile_ctx *c = NULL;
	struct verr *errs = verr_new();

	/* The extremes a profile allows (lifetimes at their minimum) must still give intents
	 * the agent's decoder accepts. */
	assert_int_equal(import(f, "{\"profiles\":[{\"name\":\"p\",\"ike_proposals\":"
		"[\"aes128-sha256-modp2048\",\"aes256gcm16-prfsha384-ecp384\"],"
		"\"sa_lifetime\":10,\"ike_lifetime\":300,\"dpd_interval\":0}],\"sites\":[" SITES_4 "],"
		"\"topologies\":[{\"name\":\"star\",\"kind\":\"hub-spoke\",\"profile\":\"p\","
		"\"hubs\":[\"hub1\",\"hub2\"],\"match_tags\":{\"r\":\"x\"}}],"
		"\"tunnels\":[{\"name\":\"v\",\"a\":\"s1\",\"b\":\"s2\",\"tunnel_type\":\"vti\","
		"\"profile\":\"p\"}]}", NULL), 0);
	assert_int_equal(compile_ctx_new(f->s, &c), 0);
	for (size_t i = 0; i < compile_ctx_nsites(c); i++) {
		struct intent *in = NULL;
		char *fast = NULL, *slow;
		json_t *j;

		assert_int_equal(compile_site(c, i, 7, &in, errs), 0);
		if (i == 0)
			in->tunnels[0].sec.local_id = strdup("with \"quotes\"\tand\x01 control");
		assert_int_equal(intent_dump(in, &fast, NULL), 0);
		j = intent_to_json(in);
		slow = json_dumps(j, JSON_COMPACT);
		assert_string_equal(fast, slow);
		/* What the agent does with it: decode and validate, both must accept. */
		{
			struct intent *back = NULL;
			char err[256] = "";

			if (intent_from_json(j, &back, err, sizeof(err)) ||
			    intent_validate(back, err, sizeof(err)))
				fail_msg("the agent would refuse %s's intent: %s",
					 compile_ctx_site(c, i), err);
			intent_free(back);
		}
		free(fast);
		free(slow);
		json_decref(j);
		intent_free(in);
	}
	compile_ctx_free(c);
	verr_free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_mesh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dual_hubs_and_path_preference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dual_hubs_ecmp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecmp_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summaries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlay_allocation_and_exhaustion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nat_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initiator_without_nat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vti_and_mtu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mtu_overheads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bfd_from_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stability_and_revisions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_matches_jansson, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
