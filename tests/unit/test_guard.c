/* The guard: each rule refuses a hostile intent with its own reason, leaves the rest. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <sys/socket.h>

#include "guard.h"
#include "proposal.h"
#include "intent.h"
#include "kstate.h"
#include "plan.h"

#define SEC(mode) "\"security\":{\"mode\":\"" mode "\",\"protocol\":\"esp\"," \
	"\"ike_proposals\":[\"aes128gcm16-prfsha256-ecp256\"],\"child_proposals\":[\"aes128gcm16\"]," \
	"\"start\":\"always\",\"initiator\":true},\"psk\":\"0123456789abcdef0123\""
#define TMPL(mode, reqid) "\"template\":{\"mode\":\"" mode "\",\"proto\":\"esp\",\"reqid\":" reqid "}"

/* A GRE tunnel g and a VTI v, each with its policies and one route. */
static const char *const base =
	"{\"format\":1,\"site\":\"a\",\"revision\":3,\"tunnels\":["
	"{\"id\":\"g\",\"ifname\":\"gs-g\",\"kind\":\"gre\",\"local\":\"192.0.2.1\","
	"\"remote\":\"192.0.2.2\",\"key\":7,\"mtu\":1400,\"overlay\":{\"local\":\"10.255.0.0/31\","
	"\"peer\":\"10.255.0.1/31\"},\"reqid\":65537," SEC("transport") "},"
	"{\"id\":\"v\",\"ifname\":\"gs-v\",\"kind\":\"vti\",\"local\":\"198.51.100.1\","
	"\"remote\":\"198.51.100.2\",\"key\":9,\"mtu\":1400,\"overlay\":{\"local\":\"169.254.1.0/31\","
	"\"peer\":\"169.254.1.1/31\"},\"reqid\":65538," SEC("tunnel") "}],"
	"\"routes\":[{\"prefix\":\"10.2.0.0/24\",\"via\":\"g\"},{\"prefix\":\"10.3.0.0/24\",\"via\":\"v\"}],"
	"\"spd\":["
	"{\"tunnel\":\"g\",\"src\":\"192.0.2.1/32\",\"dst\":\"192.0.2.2/32\",\"proto\":47,\"dir\":\"out\","
	TMPL("transport", "65537") ",\"priority\":10000},"
	"{\"tunnel\":\"g\",\"src\":\"192.0.2.2/32\",\"dst\":\"192.0.2.1/32\",\"proto\":47,\"dir\":\"in\","
	TMPL("transport", "65537") ",\"priority\":10000},"
	"{\"tunnel\":\"v\",\"src\":\"0.0.0.0/0\",\"dst\":\"0.0.0.0/0\",\"proto\":0,\"dir\":\"out\","
	TMPL("tunnel", "65538") ",\"priority\":10100,\"mark\":{\"value\":9}},"
	"{\"tunnel\":\"v\",\"src\":\"0.0.0.0/0\",\"dst\":\"0.0.0.0/0\",\"proto\":0,\"dir\":\"in\","
	TMPL("tunnel", "65538") ",\"priority\":10100,\"mark\":{\"value\":9}}]}";

static json_t *doc(void)
{
	json_t *j = json_loads(base, 0, NULL);

	assert_non_null(j);
	return j;
}

static json_t *at(json_t *j, const char *arr, size_t i)
{
	json_t *o = json_array_get(json_object_get(j, arr), i);

	assert_non_null(o);
	return o;
}

static void set_str(json_t *o, const char *key, const char *v)
{
	assert_int_equal(json_object_set_new(o, key, json_string(v)), 0);
}

/* Decodes, validates (the hostile intent must be a valid one) and guards j. */
static struct intent *guarded(json_t *j, const struct guard *g, struct guard_report *rep)
{
	struct intent *in = NULL;
	char err[256] = "";

	if (intent_from_json(j, &in, err, sizeof(err)) || intent_validate(in, err, sizeof(err)))
		fail_msg("intent: %s", err);
	json_decref(j);
	assert_int_equal(guard_apply(g, in, rep), 0);
	/* What is left is still a valid intent. */
	if (intent_validate(in, err, sizeof(err)))
		fail_msg("after the guard: %s", err);
	return in;
}

/* Exactly one refusal, of the tunnel (or route) named, whose reason holds want. */
static void expect_one(const struct guard_report *rep, bool tunnel, const char *id,
		       const char *want)
{
	assert_int_equal(rep->n, 1);
	assert_int_equal(rep->v[0].tunnel, tunnel);
	assert_string_equal(rep->v[0].id, id);
	if (!strstr(rep->v[0].reason, want))
		fail_msg("reason \"%s\" lacks \"%s\"", rep->v[0].reason, want);
}

/* Guard the document and expect tunnel id refused for want; the other tunnel stays. */
static void tunnel_refused(json_t *j, const struct guard *g, const char *id, const char *want)
{
	struct guard_report rep = { 0 };
	struct intent *in = guarded(j, g, &rep);

	expect_one(&rep, true, id, want);
	assert_int_equal(in->n_tunnels, 1);
	assert_string_not_equal(in->tunnels[0].id, id);
	assert_int_equal(in->n_routes, 1);
	assert_string_not_equal(in->routes[0].via, id);
	assert_int_equal(in->n_spd, 2);
	for (size_t i = 0; i < in->n_spd; i++)
		assert_string_not_equal(in->spd[i].tunnel, id);
	intent_free(in);
	guard_report_clear(&rep);
}

static void test_clean_intent_untouched(void **state)
{
	struct guard_report rep = { 0 };
	struct intent *in;

	(void)state;
	in = guarded(doc(), NULL, &rep);
	assert_int_equal(rep.n, 0);
	assert_int_equal(in->n_tunnels, 2);
	assert_int_equal(in->n_routes, 2);
	assert_int_equal(in->n_spd, 4);
	intent_free(in);
}

static void test_gre_catch_all_spd(void **state)
{
	json_t *j = doc();

	(void)state;
	set_str(at(j, "spd", 0), "src", "0.0.0.0/0");
	set_str(at(j, "spd", 0), "dst", "0.0.0.0/0");
	tunnel_refused(j, NULL, "g", "exactly the tunnel's endpoints");
	j = doc();
	json_object_set_new(at(j, "spd", 1), "proto", json_integer(0));
	tunnel_refused(j, NULL, "g", "protocol 47");
	j = doc();
	set_str(at(j, "spd", 1), "dir", "fwd");
	tunnel_refused(j, NULL, "g", "in and out");
	j = doc();
	json_array_remove(json_object_get(j, "spd"), 1);
	tunnel_refused(j, NULL, "g", "needs its in and out policies");
}

/* --allow-cleartext-gre: a GRE tunnel with no policy at all is the operator's plain GRE;
 * one with half its policies is still refused, and without the option none is taken. */
static void test_cleartext_gre_by_local_choice(void **state)
{
	struct guard *g = guard_new();
	struct guard_report rep = { 0 };
	struct intent *in;
	json_t *j;

	(void)state;
	assert_non_null(g);
	j = doc();
	json_array_remove(json_object_get(j, "spd"), 1);
	json_array_remove(json_object_get(j, "spd"), 0);
	tunnel_refused(json_deep_copy(j), g, "g", "needs its in and out policies");
	g->cleartext_gre = true;
	in = guarded(j, g, &rep);
	assert_int_equal(rep.n, 0);
	assert_int_equal(in->n_tunnels, 2);
	intent_free(in);
	j = doc();
	json_array_remove(json_object_get(j, "spd"), 1);
	tunnel_refused(j, g, "g", "needs its in and out policies");
	guard_free(g);
}

static void test_vti_selector(void **state)
{
	json_t *j = doc();

	(void)state;
	set_str(at(j, "spd", 2), "dst", "10.0.0.0/8");
	tunnel_refused(j, NULL, "v", "any to any");
}

static void test_underlay_classes(void **state)
{
	static const struct {
		const char *field, *value, *want;
	} cases[] = {
		{ "local", "127.0.0.1", "local: loopback" },
		{ "remote", "224.0.0.5", "remote: multicast" },
		{ "remote", "255.255.255.255", "remote: broadcast" },
		{ "local", "0.0.0.0", "local: unspecified" },
		{ "remote", "169.254.7.7", "remote: link-local" },
		{ "remote", "240.1.1.1", "remote: reserved" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = doc();
		char pfx[64];

		set_str(at(j, "tunnels", 0), cases[i].field, cases[i].value);
		/* Keep the policies matching the endpoints, so the address is the only fault. */
		snprintf(pfx, sizeof(pfx), "%s/32", cases[i].value);
		set_str(at(j, "spd", 0), !strcmp(cases[i].field, "local") ? "src" : "dst", pfx);
		set_str(at(j, "spd", 1), !strcmp(cases[i].field, "local") ? "dst" : "src", pfx);
		tunnel_refused(j, NULL, "g", cases[i].want);
	}
}

static void test_overlay(void **state)
{
	struct guard *g = guard_new();
	struct addr ctl;
	json_t *j = doc(), *ov;

	(void)state;
	ov = json_object_get(at(j, "tunnels", 0), "overlay");
	set_str(ov, "local", "127.0.0.0/31");
	set_str(ov, "peer", "127.0.0.1/31");
	tunnel_refused(j, NULL, "g", "overlay: loopback");
	/* The overlay's connected route would capture the controller. */
	assert_int_equal(addr_parse("10.255.0.1", &ctl), 0);
	assert_int_equal(guard_keep(g, &ctl, true), 1);
	assert_int_equal(guard_keep(g, &ctl, true), 0);
	tunnel_refused(doc(), g, "g", "overlay: its prefix contains 10.255.0.1, the controller's");
	/* Or another tunnel's endpoint. */
	j = doc();
	ov = json_object_get(at(j, "tunnels", 0), "overlay");
	set_str(ov, "local", "198.51.100.2/31");
	set_str(ov, "peer", "198.51.100.3/31");
	tunnel_refused(j, NULL, "g", "198.51.100.2, an underlay endpoint of tunnel v");
	guard_free(g);
}

static void test_proposals(void **state)
{
	static const struct {
		const char *key, *value, *want;
	} cases[] = {
		{ "ike_proposals", "aes128-sha1-modp2048", "'sha1' is SHA-1" },
		{ "ike_proposals", "3des-sha256-modp2048", "'3des' is DES and 3DES" },
		{ "ike_proposals", "aes128-md5-modp2048", "'md5' is MD5" },
		{ "ike_proposals", "aes128gcm16-prfsha256-modp1024", "less than 2048 bits" },
		{ "ike_proposals", "aes128gcm16-prfsha256-modp2048s256", "small subgroup" },
		{ "ike_proposals", "aes128gcm16-prfsha256-ecp192", "less than 256 bits" },
		{ "ike_proposals", "aes128gcm16-prfsha256", "IKE proposal: no key exchange" },
		{ "ike_proposals", "aes128gcm16-prfsha256-rot13", "'rot13' is not in the allowed set" },
		{ "child_proposals", "null-sha256", "'null' is null encryption" },
		{ "child_proposals", "aes128", "needs an AEAD, or encryption and integrity" },
		{ "child_proposals", "aes128gmac", "authenticates only" },
		{ "child_proposals", "aes128gcm8", "8-byte ICV" },
		{ "child_proposals", "aes128gcm16-prfsha256", "PRF belongs in IKE" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = doc(), *sec = json_object_get(at(j, "tunnels", 1), "security");

		json_object_set_new(sec, cases[i].key, json_pack("[s]", cases[i].value));
		tunnel_refused(j, NULL, "v", cases[i].want);
	}
}

static void test_proposal_sets(void **state)
{
	char why[GUARD_REASON_MAX];

	(void)state;
	assert_int_equal(proposal_policy("aes256gcm16-prfsha384-ecp384", PROPOSAL_IKE, why,
					      sizeof(why)), 0);
	assert_int_equal(proposal_policy("aes128-sha256-modp2048", PROPOSAL_IKE, why,
					      sizeof(why)), 0);
	assert_int_equal(proposal_policy("aes256gcm16-ecp384", PROPOSAL_ESP, why,
					      sizeof(why)), 0);
	assert_int_equal(proposal_policy("aes128-sha256-esn", PROPOSAL_ESP, why,
					      sizeof(why)), 0);
	assert_int_equal(proposal_policy("sha256-ecp384", PROPOSAL_AH, why, sizeof(why)), 0);
	assert_int_equal(proposal_policy("aes128gcm16", PROPOSAL_AH, why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "AH does not encrypt"));
	assert_int_equal(proposal_policy("aes128gcm16-", PROPOSAL_ESP, why, sizeof(why)),
			 -EPERM);
	assert_int_equal(proposal_policy("aes128gcm16-none", PROPOSAL_IKE, why,
					      sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "IKE needs a key exchange"));
}

static void test_ike_ids(void **state)
{
	static const struct {
		const char *key, *value, *want;
	} cases[] = {
		{ "remote_id", "%any", "wildcard identity" },
		{ "remote_id", "*@example.com", "wildcard identity" },
		{ "local_id", "gw\x01" "a", "only printable ASCII" },
		{ "local_id", " gw", "leading or trailing space" },
		{ "remote_id", "0.0.0.0", "unspecified (0.0.0.0/8) address as identity" },
	};
	char longid[GUARD_IKE_ID_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = doc(), *sec = json_object_get(at(j, "tunnels", 0), "security");

		set_str(sec, cases[i].key, cases[i].value);
		tunnel_refused(j, NULL, "g", cases[i].want);
	}
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	json_t *j = doc();

	set_str(json_object_get(at(j, "tunnels", 0), "security"), "local_id", longid);
	tunnel_refused(j, NULL, "g", "1-255 characters");
	j = doc();
	set_str(json_object_get(at(j, "tunnels", 0), "security"), "remote_id",
		"C=CH, O=gresec, CN=gw-b");
	struct guard_report rep = { 0 };
	struct intent *in = guarded(j, NULL, &rep);

	assert_int_equal(rep.n, 0);
	intent_free(in);
}

/* auth x509 needs the intent's CA and a pinned peer name: without either, any
 * certificate charon trusts would authenticate the peer. */
static void test_x509_needs_ca_and_peer(void **state)
{
	struct guard_report rep = { 0 };
	json_t *j = doc(), *sec = json_object_get(at(j, "tunnels", 0), "security");
	struct intent *in;

	(void)state;
	set_str(sec, "auth", "x509");
	set_str(sec, "remote_id", "gw-b");
	tunnel_refused(json_deep_copy(j), NULL, "g", "x509 needs the intent's ca");
	set_str(j, "ca", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
	in = guarded(json_deep_copy(j), NULL, &rep);
	assert_int_equal(rep.n, 0);
	intent_free(in);
	json_object_del(sec, "remote_id");
	tunnel_refused(j, NULL, "g", "x509 needs the intent's ca and a remote_id");
}

/* One extra route through g, expected refused for want; g and its other route stay. */
static void route_refused(const struct guard *g, const char *prefix, const char *want)
{
	struct guard_report rep = { 0 };
	json_t *j = doc();
	struct intent *in;

	assert_int_equal(json_array_append_new(json_object_get(j, "routes"),
					       json_pack("{s:s, s:s}", "prefix", prefix, "via", "g")), 0);
	in = guarded(j, g, &rep);
	expect_one(&rep, false, "g", want);
	assert_non_null(strstr(rep.v[0].route, prefix));
	assert_int_equal(in->n_tunnels, 2);
	assert_int_equal(in->n_routes, 2);
	assert_int_equal(in->n_spd, 4);
	intent_free(in);
	guard_report_clear(&rep);
}

static void test_routes(void **state)
{
	struct guard *g = guard_new();
	struct addr a;

	(void)state;
	route_refused(NULL, "0.0.0.0/1", "near-default");
	route_refused(NULL, "128.0.0.0/1", "near-default");
	route_refused(NULL, "0.0.0.0/0", "near-default");
	route_refused(NULL, "8000::/1", "near-default");
	route_refused(NULL, "127.0.0.0/8", "loopback");
	route_refused(NULL, "224.0.0.0/8", "multicast");
	route_refused(NULL, "169.254.0.0/16", "link-local");
	route_refused(NULL, "fe80::/64", "link-local");
	route_refused(NULL, "192.0.2.0/24", "192.0.2.1, an underlay endpoint of tunnel g");
	route_refused(NULL, "198.51.100.2/32", "an underlay endpoint of tunnel v");
	route_refused(NULL, "10.255.0.0/30", "an overlay address of tunnel g");
	assert_int_equal(addr_parse("203.0.113.10", &a), 0);
	assert_int_equal(guard_keep(g, &a, true), 1);
	assert_int_equal(addr_parse("2001:db8:9::1", &a), 0);
	assert_int_equal(guard_keep(g, &a, false), 1);
	route_refused(g, "203.0.113.0/24", "203.0.113.10, the controller's address");
	route_refused(g, "2001:db8::/32", "2001:db8:9::1, an address of this gateway");
	guard_free(g);
}

static void test_reapply_is_stable(void **state)
{
	struct guard_report rep = { 0 };
	json_t *j = doc();
	struct intent *in;

	(void)state;
	json_array_append_new(json_object_get(j, "routes"),
			      json_pack("{s:s, s:s}", "prefix", "0.0.0.0/1", "via", "v"));
	set_str(json_object_get(at(j, "tunnels", 0), "security"), "remote_id", "%any");
	in = guarded(j, NULL, &rep);
	assert_int_equal(rep.n, 2);
	assert_int_equal(in->n_tunnels, 1);
	assert_int_equal(in->n_routes, 1);
	assert_int_equal(guard_apply(NULL, in, &rep), 0);
	assert_int_equal(rep.n, 0);
	assert_int_equal(in->n_routes, 1);
	intent_free(in);
	guard_report_clear(&rep);
}

static void test_keep_url(void **state)
{
	struct guard *g = guard_new();
	char err[128] = "", want[ADDR_STRLEN];

	(void)state;
	assert_int_equal(guard_keep_url(g, "https://127.0.0.1:8443/x", err, sizeof(err)), 0);
	assert_int_equal(guard_keep_url(g, "https://[2001:db8::5]:8443", err, sizeof(err)), 0);
	assert_int_equal(g->n_keep, 2);
	assert_true(g->keep[0].controller);
	addr_fmt(&g->keep[1].a, want, sizeof(want));
	assert_string_equal(want, "2001:db8::5");
	assert_int_not_equal(guard_keep_url(g, "https://", err, sizeof(err)), 0);
	assert_int_equal(guard_keep_host(g), 0);
	assert_true(g->n_keep > 2);	/* at least lo's 127.0.0.1 or ::1 beside them */
	guard_free(g);
}

/* The planner on an intent without routes (memcpy(NULL, .., 0) once). */
static void test_plan_no_routes(void **state)
{
	struct guard_report rep = { 0 };
	json_t *j = doc();
	struct kstate *cur = kstate_new();
	struct plan *p = plan_new();
	struct intent *in;

	(void)state;
	json_object_set_new(j, "routes", json_array());
	in = guarded(j, NULL, &rep);
	assert_int_equal(in->n_routes, 0);
	assert_int_equal(plan_compute(in, cur, p), 0);
	assert_true(p->n > 0);
	intent_free(in);
	plan_free(p);
	kstate_free(cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_intent_untouched),
		cmocka_unit_test(test_gre_catch_all_spd),
		cmocka_unit_test(test_cleartext_gre_by_local_choice),
		cmocka_unit_test(test_vti_selector),
		cmocka_unit_test(test_underlay_classes),
		cmocka_unit_test(test_overlay),
		cmocka_unit_test(test_proposals),
		cmocka_unit_test(test_proposal_sets),
		cmocka_unit_test(test_ike_ids),
		cmocka_unit_test(test_x509_needs_ca_and_peer),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_reapply_is_stable),
		cmocka_unit_test(test_keep_url),
		cmocka_unit_test(test_plan_no_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
