/* The object kinds: normalize (canonical bodies, every error with its path), refs, the
 * kind table, and the rules across sites (kind_site_check_all). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kind.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &e);

	if (!j)
		fail_msg("bad test JSON '%s': %s", s, e.text);
	return j;
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
}

/* normalize must succeed, and its output must be a fixed point, byte for byte. */
static json_t *norm_ok(const struct kind_ops *k, const char *in)
{
	struct verr *errs = verr_new();
	json_t *j = J(in), *out = NULL, *again = NULL;
	char *d1, *d2, *e;

	if (k->normalize(j, "", errs, &out)) {
		e = json_dumps(verr_json(errs), JSON_COMPACT);
		fail_msg("%s rejected %s: %s", k->name, in, e);
	}
	assert_int_equal(verr_count(errs), 0);
	assert_int_equal(k->normalize(out, "", errs, &again), 0);
	d1 = dump(out);
	d2 = dump(again);
	assert_string_equal(d1, d2);
	free(d1);
	free(d2);
	json_decref(again);
	json_decref(j);
	verr_free(errs);
	return out;
}

/* normalize must fail: returns the error details. */
static json_t *norm_fail(const struct kind_ops *k, const char *path, const char *in)
{
	struct verr *errs = verr_new();
	json_t *j = J(in), *out = (json_t *)1, *details;

	assert_int_equal(k->normalize(j, path, errs, &out), -EINVAL);
	assert_null(out);
	assert_true(verr_count(errs) > 0);
	details = verr_json(errs);
	json_decref(j);
	verr_free(errs);
	return details;
}

static void assert_err(const json_t *details, const char *path, const char *msg)
{
	const json_t *d;
	size_t i;
	char *all;

	json_array_foreach(details, i, d)
		if (!strcmp(json_string_value(json_object_get(d, "path")), path) &&
		    strstr(json_string_value(json_object_get(d, "message")), msg))
			return;
	all = json_dumps(details, JSON_COMPACT);
	fail_msg("no error at '%s' with '%s' in %s", path, msg, all);
}

/* One expected error, and no other. */
static void fail1(const struct kind_ops *k, const char *in, const char *path, const char *msg)
{
	json_t *d = norm_fail(k, "", in);

	assert_err(d, path, msg);
	if (json_array_size(d) != 1)
		fail_msg("%s: %zu errors: %s", in, json_array_size(d), json_dumps(d, JSON_COMPACT));
	json_decref(d);
}

static void assert_canon(const struct kind_ops *k, const char *in, const char *want)
{
	json_t *out = norm_ok(k, in);
	char *d = dump(out);

	assert_string_equal(d, want);
	free(d);
	json_decref(out);
}

/* ---- the table ---- */

static void test_kind_table(void **state)
{
	static const char *const names[] = { "site", "profile", "topology", "tunnel" };
	static const char *const plurals[] = { "sites", "profiles", "topologies", "tunnels" };
	size_t i;

	(void)state;
	assert_int_equal(kind_count, 4);
	for (i = 0; i < kind_count; i++) {
		assert_string_equal(kind_all[i]->name, names[i]);
		assert_string_equal(kind_all[i]->plural, plurals[i]);
		assert_ptr_equal(kind_by_name(names[i]), kind_all[i]);
		assert_ptr_equal(kind_by_plural(plurals[i]), kind_all[i]);
		assert_non_null(kind_all[i]->normalize);
		assert_null(kind_all[i]->redact);	/* no kind holds a secret */
	}
	assert_ptr_equal(kind_all[0], &kind_site);
	assert_null(kind_by_name("sites"));
	assert_null(kind_by_plural("site"));
	assert_null(kind_by_name(NULL));
	assert_null(kind_by_plural(NULL));
	assert_null(kind_site.refs);
	assert_null(kind_profile.refs);
}

/* ---- site ---- */

static void test_site_defaults(void **state)
{
	json_t *out;
	char *d;

	(void)state;
	assert_canon(&kind_site, "{\"name\":\"paris\",\"underlay\":\"192.0.2.1\"}",
		     "{\"behind_nat\":false,\"description\":\"\",\"managed\":true,\"name\":\"paris\","
		     "\"nat_address\":null,\"prefixes\":[],\"tags\":{},\"underlay\":\"192.0.2.1\","
		     "\"underlay_mtu\":1500}");
	/* fields come out in the contract's order */
	out = norm_ok(&kind_site, "{\"underlay\":\"192.0.2.1\",\"name\":\"paris\"}");
	d = json_dumps(out, JSON_COMPACT);
	assert_string_equal(d, "{\"name\":\"paris\",\"underlay\":\"192.0.2.1\",\"behind_nat\":false,"
			    "\"nat_address\":null,\"prefixes\":[],\"tags\":{},\"description\":\"\",\"underlay_mtu\":1500,"
			    "\"managed\":true}");
	free(d);
	json_decref(out);
}

static void test_site_canonical(void **state)
{
	(void)state;
	assert_canon(&kind_site,
		     "{\"name\":\"rome\",\"underlay\":\"2001:DB8::0001\",\"behind_nat\":true,"
		     "\"nat_address\":\"2001:DB8:FFFF::1\","
		     "\"prefixes\":[\"2001:DB8:1::/48\",\"10.2.0.0/16\",\"192.168.0.0/24\","
		     "\"10.1.0.0/24\",\"10.1.0.0/16\"],\"tags\":{\"region\":\"eu\",\"k8s.io/zone\":\"a b\"},"
		     "\"description\":\"Rome \u00e9\",\"underlay_mtu\":9000}",
		     "{\"behind_nat\":true,\"description\":\"Rome \u00e9\",\"managed\":true,\"name\":\"rome\","
		     "\"nat_address\":\"2001:db8:ffff::1\","
		     "\"prefixes\":[\"10.1.0.0/16\",\"10.1.0.0/24\",\"10.2.0.0/16\",\"192.168.0.0/24\","
		     "\"2001:db8:1::/48\"],\"tags\":{\"k8s.io/zone\":\"a b\",\"region\":\"eu\"},"
		     "\"underlay\":\"2001:db8::1\",\"underlay_mtu\":9000}");
}

/* nat_address goes with behind_nat: required with it, refused without it, not the
 * underlay itself, same family. */
static void test_site_nat_address(void **state)
{
	json_t *d;

	(void)state;
	d = norm_fail(&kind_site, "sites[2]",
		      "{\"name\":\"a\",\"underlay\":\"192.168.1.2\",\"behind_nat\":true}");
	assert_err(d, "sites[2].nat_address", "required when behind_nat is true");
	json_decref(d);
	d = norm_fail(&kind_site, "", "{\"name\":\"a\",\"underlay\":\"192.0.2.1\","
		      "\"nat_address\":\"203.0.113.1\"}");
	assert_err(d, "nat_address", "only for a site behind NAT");
	json_decref(d);
	d = norm_fail(&kind_site, "", "{\"name\":\"a\",\"underlay\":\"192.168.1.2\","
		      "\"behind_nat\":true,\"nat_address\":\"192.168.1.2\"}");
	assert_err(d, "nat_address", "is the underlay itself");
	json_decref(d);
	d = norm_fail(&kind_site, "", "{\"name\":\"a\",\"underlay\":\"192.168.1.2\","
		      "\"behind_nat\":true,\"nat_address\":\"2001:db8::1\"}");
	assert_err(d, "nat_address", "underlay's address family");
	json_decref(d);
}

/* Site errors under the caller's path; the field-level rules are in test_valid. */
static void test_site_paths(void **state)
{
	json_t *d;

	(void)state;
	d = norm_fail(&kind_site, "", "{}");
	assert_err(d, "name", "required");
	assert_err(d, "underlay", "required");
	assert_int_equal(json_array_size(d), 2);
	json_decref(d);
	fail1(&kind_site, "{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"underlay_mut\":1400}",
	      "underlay_mut", "unknown field; did you mean 'underlay_mtu'?");
	d = norm_fail(&kind_site, "sites[3]", "{\"name\":\"a\",\"underlay\":\"300.1.1.1\","
		      "\"prefixes\":[\"10.0.0.1/8\"],\"tags\":{\"k\":1}}");
	assert_err(d, "sites[3].underlay", "not an IPv4 or IPv6 address");
	assert_err(d, "sites[3].prefixes[0]", "host bits set");
	assert_err(d, "sites[3].tags.k", "must be a string");
	json_decref(d);
	d = norm_fail(&kind_site, "sites[3]", "[1,2]");
	assert_err(d, "sites[3]", "must be an object");
	json_decref(d);
	d = norm_fail(&kind_site, "", "\"paris\"");
	assert_err(d, "", "must be an object");
	json_decref(d);
}

static void test_site_underlay(void **state)
{
	static const char *const nonunicast[] = {
		"0.0.0.0", "224.0.0.1", "239.1.2.3", "255.255.255.255", "::", "ff02::1",
	};
	char in[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nonunicast) / sizeof(nonunicast[0]); i++) {
		snprintf(in, sizeof(in), "{\"name\":\"a\",\"underlay\":\"%s\"}", nonunicast[i]);
		fail1(&kind_site, in, "underlay", "must be a unicast address");
	}
	fail1(&kind_site, "{\"name\":\"a\",\"underlay\":\"::ffff:192.0.2.1\"}", "underlay",
	      "IPv4-mapped address: write it as 192.0.2.1");
	fail1(&kind_site, "{\"name\":\"a\",\"underlay\":\"192.0.2.1/32\"}", "underlay",
	      "not an IPv4 or IPv6 address");
	fail1(&kind_site, "{\"name\":\"a\",\"underlay\":\"paris.example\"}", "underlay",
	      "not an IPv4 or IPv6 address");
	json_decref(norm_ok(&kind_site, "{\"name\":\"a\",\"underlay\":\"223.255.255.254\"}"));
}

static void test_site_mtu(void **state)
{
	(void)state;
	fail1(&kind_site, "{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"underlay_mtu\":575}",
	      "underlay_mtu", "from 576 to 9216");
	fail1(&kind_site, "{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"underlay_mtu\":9217}",
	      "underlay_mtu", "from 576 to 9216");
	json_decref(norm_ok(&kind_site, "{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"underlay_mtu\":576}"));
	json_decref(norm_ok(&kind_site, "{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"underlay_mtu\":9216}"));
	fail1(&kind_site, "{\"name\":\"a\",\"underlay\":\"2001:db8::1\",\"underlay_mtu\":1279}",
	      "underlay_mtu", "at least 1280 with an IPv6 underlay");
	json_decref(norm_ok(&kind_site, "{\"name\":\"a\",\"underlay\":\"2001:db8::1\",\"underlay_mtu\":1280}"));
}

/* Every error of an object, not just the first. */
static void test_site_collects_all(void **state)
{
	json_t *d;

	(void)state;
	d = norm_fail(&kind_site, "s", "{\"name\":\"-a\",\"underlay\":\"1.2.3\",\"behind_nat\":1,"
		      "\"prefixes\":[\"10.0.0.1/8\"],\"description\":[],\"underlay_mtu\":1,\"x\":1}");
	assert_int_equal(json_array_size(d), 7);
	assert_err(d, "s.name", "must be 1");
	assert_err(d, "s.underlay", "not an IPv4");
	assert_err(d, "s.behind_nat", "true or false");
	assert_err(d, "s.prefixes[0]", "host bits");
	assert_err(d, "s.description", "must be a string");
	assert_err(d, "s.underlay_mtu", "576");
	assert_err(d, "s.x", "unknown field");
	json_decref(d);
}

/* ---- profile ---- */

static void test_profile_defaults(void **state)
{
	(void)state;
	assert_canon(&kind_profile, "{\"name\":\"std\"}",
		     "{\"ah_proposals\":[\"sha256-ecp384\"],\"auth\":\"psk\","
		     "\"bfd\":{\"enabled\":true,\"interval_ms\":100,\"multiplier\":3},"
		     "\"description\":\"\",\"dpd_interval\":30,\"ecmp\":false,\"esp_proposals\":[\"aes256gcm16-ecp384\"],"
		     "\"ike_lifetime\":86400,\"ike_proposals\":[\"aes256gcm16-prfsha384-ecp384\"],"
		     "\"ike_version\":2,\"keying\":\"ike\",\"mode\":\"transport\",\"name\":\"std\","
		     "\"protocol\":\"esp\",\"psk_max_age\":null,\"sa_lifetime\":3600,\"start\":\"on-demand\"}");
}

static void test_profile_values(void **state)
{
	(void)state;
	fail1(&kind_profile, "{\"name\":\"p\",\"keying\":\"ikeless\"}", "keying",
	      "reserved for a future release");
	fail1(&kind_profile, "{\"name\":\"p\",\"keying\":\"manual\"}", "keying",
	      "must be one of: ike, ikeless");
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_version\":3}", "ike_version", "must be 2");
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_version\":1}", "ike_version", "must be 2");
	fail1(&kind_profile, "{\"name\":\"p\",\"auth\":\"eap\"}", "auth", "must be one of: psk, x509");
	fail1(&kind_profile, "{\"name\":\"p\",\"mode\":5}", "mode", "must be one of: transport, tunnel");
	fail1(&kind_profile, "{\"name\":\"p\",\"protocol\":\"ESP\"}", "protocol", "esp, ah");
	fail1(&kind_profile, "{\"name\":\"p\",\"start\":\"trap\"}", "start", "on-demand, always");
	fail1(&kind_profile, "{\"name\":\"p\",\"ecmp\":\"true\"}", "ecmp", "true or false");
	fail1(&kind_profile, "{\"name\":\"p\",\"dpd_interval\":3601}", "dpd_interval", "0 to 3600");
	fail1(&kind_profile, "{\"name\":\"p\",\"dpd_interval\":-1}", "dpd_interval", "0 to 3600");
	json_decref(norm_ok(&kind_profile, "{\"name\":\"p\",\"dpd_interval\":0,\"ike_version\":2,"
			    "\"auth\":\"x509\",\"mode\":\"tunnel\",\"protocol\":\"ah\","
			    "\"start\":\"always\",\"ecmp\":true}"));
}

/* The canonical "bfd" of the profile in. */
static void assert_bfd_canon(const char *in, const char *want)
{
	json_t *out = norm_ok(&kind_profile, in);
	char *txt = dump(json_object_get(out, "bfd"));

	assert_string_equal(txt, want);
	free(txt);
	json_decref(out);
}

static void test_profile_bfd(void **state)
{
	json_t *d;

	(void)state;
	/* Sub-fields given are kept, the others take their defaults. */
	assert_bfd_canon("{\"name\":\"p\",\"bfd\":{\"interval_ms\":50}}",
			 "{\"enabled\":true,\"interval_ms\":50,\"multiplier\":3}");
	assert_bfd_canon("{\"name\":\"p\",\"bfd\":{\"enabled\":false,\"interval_ms\":10000,"
			 "\"multiplier\":50}}",
			 "{\"enabled\":false,\"interval_ms\":10000,\"multiplier\":50}");
	json_decref(norm_ok(&kind_profile, "{\"name\":\"p\",\"bfd\":{\"multiplier\":2}}"));
	fail1(&kind_profile, "{\"name\":\"p\",\"bfd\":{\"interval_ms\":49}}", "bfd.interval_ms",
	      "from 50 to 10000");
	fail1(&kind_profile, "{\"name\":\"p\",\"bfd\":{\"interval_ms\":10001}}", "bfd.interval_ms",
	      "from 50 to 10000");
	fail1(&kind_profile, "{\"name\":\"p\",\"bfd\":{\"multiplier\":1}}", "bfd.multiplier",
	      "from 2 to 50");
	fail1(&kind_profile, "{\"name\":\"p\",\"bfd\":{\"multiplier\":51}}", "bfd.multiplier",
	      "from 2 to 50");
	fail1(&kind_profile, "{\"name\":\"p\",\"bfd\":{\"enabled\":\"yes\"}}", "bfd.enabled",
	      "true or false");
	fail1(&kind_profile, "{\"name\":\"p\",\"bfd\":{\"intervl_ms\":100}}", "bfd.intervl_ms",
	      "did you mean 'interval_ms'");
	fail1(&kind_profile, "{\"name\":\"p\",\"bfd\":true}", "bfd", "must be an object");
	fail1(&kind_profile, "{\"name\":\"p\",\"bfd\":null}", "bfd", "must be an object");
	/* Every error inside, under the caller's path, and the other fields still checked. */
	d = norm_fail(&kind_profile, "profiles[2]", "{\"name\":\"p\",\"ecmp\":1,"
		      "\"bfd\":{\"interval_ms\":1.5,\"multiplier\":\"3\",\"x\":0}}");
	assert_err(d, "profiles[2].bfd.interval_ms", "from 50 to 10000");
	assert_err(d, "profiles[2].bfd.multiplier", "from 2 to 50");
	assert_err(d, "profiles[2].bfd.x", "unknown field");
	assert_err(d, "profiles[2].ecmp", "true or false");
	assert_int_equal(json_array_size(d), 4);
	json_decref(d);
}

static void test_profile_lifetimes(void **state)
{
	(void)state;
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_lifetime\":3600,\"sa_lifetime\":3600}",
	      "sa_lifetime", "must be less than ike_lifetime");
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_lifetime\":300}", "sa_lifetime",
	      "must be less than ike_lifetime (300)");
	json_decref(norm_ok(&kind_profile, "{\"name\":\"p\",\"ike_lifetime\":3601,\"sa_lifetime\":3600}"));
	json_decref(norm_ok(&kind_profile, "{\"name\":\"p\",\"ike_lifetime\":300,\"sa_lifetime\":10}"));
	json_decref(norm_ok(&kind_profile, "{\"name\":\"p\",\"ike_lifetime\":604800,\"sa_lifetime\":86400}"));
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_lifetime\":299,\"sa_lifetime\":10}",
	      "ike_lifetime", "from 300 to 604800");
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_lifetime\":604801}", "ike_lifetime", "604800");
	fail1(&kind_profile, "{\"name\":\"p\",\"sa_lifetime\":9}", "sa_lifetime", "from 10 to 86400");
	/* an invalid ike_lifetime is one error, not two */
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_lifetime\":10,\"sa_lifetime\":3600}",
	      "ike_lifetime", "from 300");
}

static void test_profile_proposals(void **state)
{
	static const char *const ke[] = { "ecp256", "ecp384", "ecp521", "x25519" };
	char in[4096];
	size_t i, n;
	json_t *out;

	(void)state;
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_proposals\":[\"aes128-sha256-modp2048\","
	      "\"aes999-sha256-modp2048\"]}", "ike_proposals[1]",
	      "unknown keyword 'aes999' in proposal");
	fail1(&kind_profile, "{\"name\":\"p\",\"esp_proposals\":[\"aes128-sha256-prfsha256\"]}",
	      "esp_proposals[0]", "only IKE proposals");
	fail1(&kind_profile, "{\"name\":\"p\",\"ah_proposals\":[\"aes128-sha256\"]}",
	      "ah_proposals[0]", "AH does not encrypt");
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_proposals\":[]}", "ike_proposals",
	      "must list 1 to 32 proposals");
	fail1(&kind_profile, "{\"name\":\"p\",\"ike_proposals\":\"aes128-sha256-modp2048\"}",
	      "ike_proposals", "must be an array of proposal strings");
	fail1(&kind_profile, "{\"name\":\"p\",\"esp_proposals\":[5]}", "esp_proposals[0]",
	      "must be a string");
	fail1(&kind_profile, "{\"name\":\"p\",\"esp_proposals\":[\"aes128gcm16\",\"aes128gcm16\"]}",
	      "esp_proposals[1]", "duplicate proposal (also [0])");
	n = (size_t)snprintf(in, sizeof(in), "{\"name\":\"p\",\"esp_proposals\":[");
	for (i = 0; i < 33; i++)	/* 33 distinct proposals */
		n += (size_t)snprintf(in + n, sizeof(in) - n, "%s\"aes%d-sha%d-%s\"",
				      i ? "," : "", 128 + 64 * (int)(i % 3),
				      256 + 128 * (int)(i / 3 % 3), ke[i / 9]);
	snprintf(in + n, sizeof(in) - n, "]}");
	fail1(&kind_profile, in, "esp_proposals", "must list 1 to 32 proposals");
	/* order is preference: kept as given */
	out = norm_ok(&kind_profile, "{\"name\":\"p\",\"esp_proposals\":[\"aes256gcm16\","
		      "\"aes128-sha256\"]}");
	assert_string_equal(json_string_value(json_array_get(json_object_get(out, "esp_proposals"), 0)),
			    "aes256gcm16");
	json_decref(out);
}

/* ---- topology ---- */

static void test_topology_defaults(void **state)
{
	(void)state;
	assert_canon(&kind_topology, "{\"name\":\"eu\",\"kind\":\"full-mesh\",\"profile\":\"std\"}",
		     "{\"description\":\"\",\"hubs\":[],\"kind\":\"full-mesh\",\"match_tags\":{},"
		     "\"members\":[],\"name\":\"eu\",\"profile\":\"std\",\"summary_prefixes\":[],"
		     "\"tunnel_type\":\"gre\"}");
	assert_canon(&kind_topology, "{\"name\":\"hs\",\"kind\":\"hub-spoke\",\"profile\":\"std\","
		     "\"hubs\":[\"h2\",\"h1\"],\"members\":[\"rome\",\"berlin\",\"h1\"],"
		     "\"summary_prefixes\":[\"10.0.0.0/8\",\"10.0.0.0/7\"],\"tunnel_type\":\"vti\","
		     "\"match_tags\":{\"region\":\"eu\"}}",
		     "{\"description\":\"\",\"hubs\":[\"h1\",\"h2\"],\"kind\":\"hub-spoke\","
		     "\"match_tags\":{\"region\":\"eu\"},\"members\":[\"berlin\",\"h1\",\"rome\"],"
		     "\"name\":\"hs\",\"profile\":\"std\",\"summary_prefixes\":[\"10.0.0.0/7\","
		     "\"10.0.0.0/8\"],\"tunnel_type\":\"vti\"}");
}

static void test_topology_rules(void **state)
{
	json_t *d;

	(void)state;
	d = norm_fail(&kind_topology, "", "{\"name\":\"t\"}");
	assert_err(d, "kind", "required");
	assert_err(d, "profile", "required");
	assert_int_equal(json_array_size(d), 2);
	json_decref(d);
	fail1(&kind_topology, "{\"name\":\"t\",\"kind\":\"hub-spoke\",\"profile\":\"p\"}", "hubs",
	      "required for hub-spoke");
	fail1(&kind_topology, "{\"name\":\"t\",\"kind\":\"full-mesh\",\"profile\":\"p\","
	      "\"hubs\":[\"a\"]}", "hubs", "hub not allowed in full-mesh");
	fail1(&kind_topology, "{\"name\":\"t\",\"kind\":\"full-mesh\",\"profile\":\"p\","
	      "\"summary_prefixes\":[\"10.0.0.0/8\"]}", "summary_prefixes", "only for hub-spoke");
	fail1(&kind_topology, "{\"name\":\"t\",\"kind\":\"star\",\"profile\":\"p\",\"hubs\":[\"a\"]}",
	      "kind", "must be one of: full-mesh, hub-spoke");
	fail1(&kind_topology, "{\"name\":\"t\",\"kind\":\"full-mesh\",\"profile\":\"p\","
	      "\"tunnel_type\":\"ipip\"}", "tunnel_type", "gre, vti");
	fail1(&kind_topology, "{\"name\":\"t\",\"kind\":\"full-mesh\",\"profile\":\"P\"}",
	      "profile", "must be 1");
	fail1(&kind_topology, "{\"name\":\"t\",\"kind\":\"hub-spoke\",\"profile\":\"p\",\"hubs\":[\"h\"],"
	      "\"summary_prefixes\":[\"10.0.0.1/8\"]}", "summary_prefixes[0]", "host bits set");
}

static void test_topology_lists(void **state)
{
	json_t *d;

	(void)state;
	d = norm_fail(&kind_topology, "topologies[0]", "{\"name\":\"t\",\"kind\":\"full-mesh\","
		      "\"profile\":\"p\",\"members\":[\"paris\",\"Rome\",\"paris\",\"x\",3],"
		      "\"match_tags\":{\"a\":1}}");
	assert_err(d, "topologies[0].members[1]", "must be 1");
	assert_err(d, "topologies[0].members[2]", "duplicate name paris (also members[0])");
	assert_err(d, "topologies[0].members[4]", "must be a string");
	assert_err(d, "topologies[0].match_tags.a", "must be a string");
	assert_int_equal(json_array_size(d), 4);
	json_decref(d);
	fail1(&kind_topology, "{\"name\":\"t\",\"kind\":\"hub-spoke\",\"profile\":\"p\","
	      "\"hubs\":[\"h\",\"h\"]}", "hubs[1]", "duplicate name h (also hubs[0])");
}

struct ref_log {
	char buf[1024];
	int calls, stop_at, stop_rc;
};

static int ref_rec(void *ctx, const char *to_kind, const char *to_name, const char *field)
{
	struct ref_log *l = ctx;
	size_t n = strlen(l->buf);

	snprintf(l->buf + n, sizeof(l->buf) - n, "%s%s/%s@%s", n ? " " : "", to_kind, to_name, field);
	return ++l->calls == l->stop_at ? l->stop_rc : 0;
}

static void test_refs(void **state)
{
	struct ref_log l = { .stop_at = -1 };
	json_t *t;

	(void)state;
	t = norm_ok(&kind_topology, "{\"name\":\"t\",\"kind\":\"hub-spoke\",\"profile\":\"std\","
		    "\"members\":[\"rome\",\"berlin\"],\"hubs\":[\"paris\"],\"match_tags\":{\"a\":\"b\"}}");
	assert_int_equal(kind_topology.refs(t, ref_rec, &l), 0);
	assert_string_equal(l.buf, "profile/std@profile site/berlin@members[0] site/rome@members[1] "
			    "site/paris@hubs[0]");
	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	l.stop_rc = -7;
	assert_int_equal(kind_topology.refs(t, ref_rec, &l), -7);
	assert_int_equal(l.calls, 2);
	json_decref(t);

	memset(&l, 0, sizeof(l));
	l.stop_at = -1;
	t = norm_ok(&kind_tunnel, "{\"name\":\"x\",\"a\":\"rome\",\"b\":\"paris\",\"profile\":\"std\"}");
	assert_int_equal(kind_tunnel.refs(t, ref_rec, &l), 0);
	assert_string_equal(l.buf, "site/rome@a site/paris@b profile/std@profile");
	memset(&l, 0, sizeof(l));
	l.stop_at = 1;
	l.stop_rc = 3;
	assert_int_equal(kind_tunnel.refs(t, ref_rec, &l), 3);
	assert_int_equal(l.calls, 1);
	json_decref(t);
}

/* ---- tunnel ---- */

static void test_tunnel(void **state)
{
	json_t *d;

	(void)state;
	assert_canon(&kind_tunnel, "{\"name\":\"x\",\"a\":\"rome\",\"b\":\"paris\",\"profile\":\"std\"}",
		     "{\"a\":\"rome\",\"b\":\"paris\",\"description\":\"\",\"name\":\"x\","
		     "\"profile\":\"std\",\"tunnel_type\":\"gre\"}");
	fail1(&kind_tunnel, "{\"name\":\"x\",\"a\":\"rome\",\"b\":\"rome\",\"profile\":\"std\"}", "b",
	      "must differ from a");
	d = norm_fail(&kind_tunnel, "tunnels[1]", "{\"name\":\"x\",\"tunnel_type\":\"vti\",\"a\":\"A\"}");
	assert_err(d, "tunnels[1].a", "must be 1");
	assert_err(d, "tunnels[1].b", "required");
	assert_err(d, "tunnels[1].profile", "required");
	assert_int_equal(json_array_size(d), 3);
	json_decref(d);
}

/* Canonical bodies are fixed points of normalize (norm_ok checks it) for varied input. */
static void test_idempotent(void **state)
{
	static const struct { const struct kind_ops *k; const char *in; } cases[] = {
		{ &kind_site, "{\"name\":\"a\",\"underlay\":\"FE80::1\",\"prefixes\":[\"fd00::/8\","
		  "\"10.0.0.0/8\",\"::/0\",\"0.0.0.0/0\"],\"tags\":{\"z\":\"1\",\"a\":\"2\"}}" },
		{ &kind_profile, "{\"description\":\"\u65e5\u672c\",\"name\":\"p\",\"ike_proposals\":"
		  "[\"aes128-sha256-modp2048\",\"aes256gcm16-sha384-x25519\"]}" },
		{ &kind_topology, "{\"name\":\"t\",\"kind\":\"hub-spoke\",\"profile\":\"p\",\"hubs\":"
		  "[\"c\",\"a\",\"b\"],\"summary_prefixes\":[\"2001:db8::/32\",\"10.0.0.0/8\"]}" },
		{ &kind_tunnel, "{\"b\":\"a\",\"a\":\"b\",\"name\":\"t\",\"profile\":\"p\","
		  "\"tunnel_type\":\"vti\",\"description\":\"\\\"quoted\\\"\"}" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		json_decref(norm_ok(cases[i].k, cases[i].in));
}

/* ---- rules across sites ---- */

/* Canonical sites from an array of inputs. */
static json_t *mk_sites(const char *in)
{
	json_t *arr = J(in), *out = json_array(), *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		char *s = json_dumps(v, JSON_COMPACT);

		json_array_append_new(out, norm_ok(&kind_site, s));
		free(s);
	}
	json_decref(arr);
	return out;
}

/* Import-style paths, from one reused buffer as the store's map does; sites named
 * "old..." are not being written (NULL), "new" is a single PUT (""). */
static const char *import_path(void *ctx, const char *site)
{
	static char buf[64];
	const json_t *v;
	size_t i;

	if (!strncmp(site, "old", 3))
		return NULL;
	if (!strcmp(site, "new"))
		return "";
	json_array_foreach((json_t *)ctx, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")), site))
			break;
	snprintf(buf, sizeof(buf), "sites[%zu]", i);
	return buf;
}

static json_t *check(const json_t *sites, bool map, int want_rc)
{
	struct verr *errs = verr_new();
	json_t *d;

	assert_int_equal(kind_site_check_all(sites, errs, map ? import_path : NULL,
					     (void *)sites), want_rc);
	d = verr_json(errs);
	verr_free(errs);
	return d;
}

/* The rule holds for exactly one error. */
static void check1(const char *in, bool map, const char *path, const char *msg)
{
	json_t *sites = mk_sites(in), *d = check(sites, map, -EINVAL);

	assert_err(d, path, msg);
	if (json_array_size(d) != 1)
		fail_msg("%zu errors: %s", json_array_size(d), json_dumps(d, JSON_COMPACT));
	json_decref(d);
	json_decref(sites);
}

static void test_check_clean(void **state)
{
	json_t *sites, *d;

	(void)state;
	sites = mk_sites("[{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"10.0.0.0/9\","
			 "\"10.1.0.0/16\",\"2001:db8:a::/48\"]},"
			 "{\"name\":\"b\",\"underlay\":\"2001:db8:ffff::1\",\"prefixes\":[\"10.128.0.0/9\","
			 "\"2001:db8:b::/48\",\"0.0.0.0/32\"]},{\"name\":\"c\",\"underlay\":\"192.0.2.2\"}]");
	d = check(sites, true, 0);
	assert_int_equal(json_array_size(d), 0);
	json_decref(d);
	json_decref(sites);
	sites = json_array();
	d = check(sites, true, 0);
	json_decref(d);
	json_decref(sites);
}

static void test_check_overlap(void **state)
{
	(void)state;
	check1("[{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"10.0.0.0/8\"]},"
	       "{\"name\":\"b\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"10.1.0.0/16\"]}]",
	       true, "sites[1].prefixes[0]", "overlaps 10.0.0.0/8 of site 'a'");
	check1("[{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"172.16.0.0/24\"]},"
	       "{\"name\":\"b\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"172.16.0.0/24\"]}]",
	       true, "sites[1].prefixes[0]", "overlaps 172.16.0.0/24 of site 'a'");
	check1("[{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"2001:db8:1::/48\","
	       "\"10.0.0.0/24\"]},{\"name\":\"b\",\"underlay\":\"192.0.2.2\",\"prefixes\":"
	       "[\"2001:db8::/32\"]}]", true, "sites[0].prefixes[1]", "overlaps 2001:db8::/32 of site 'b'");
	/* without a path map, the site name is the path */
	check1("[{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"10.0.0.0/8\"]},"
	       "{\"name\":\"b\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"10.0.0.0/16\"]}]",
	       false, "b.prefixes[0]", "overlaps 10.0.0.0/8 of site 'a'");
}

static void test_check_underlay_in_prefix(void **state)
{
	(void)state;
	check1("[{\"name\":\"a\",\"underlay\":\"10.1.2.3\"},"
	       "{\"name\":\"b\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"10.0.0.0/8\"]}]",
	       true, "sites[1].prefixes[0]", "contains the underlay 10.1.2.3 of site 'a'");
	check1("[{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"192.0.2.0/24\"]}]",
	       true, "sites[0].prefixes[0]", "contains this site's own underlay 192.0.2.1");
	check1("[{\"name\":\"a\",\"underlay\":\"10.1.2.3\"},"
	       "{\"name\":\"b\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"10.1.2.3/32\"]}]",
	       true, "sites[1].prefixes[0]", "contains the underlay 10.1.2.3 of site 'a'");
	check1("[{\"name\":\"a\",\"underlay\":\"2001:db8::5\"},"
	       "{\"name\":\"b\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"::/0\"]}]",
	       true, "sites[1].prefixes[0]", "contains the underlay 2001:db8::5 of site 'a'");
}

static void test_check_shared_underlay(void **state)
{
	json_t *sites, *d;

	(void)state;
	check1("[{\"name\":\"a\",\"underlay\":\"2001:db8::1\"},{\"name\":\"b\",\"underlay\":"
	       "\"2001:DB8:0::0:1\"}]", true, "sites[1].underlay",
	       "underlay 2001:db8::1 is already used by site 'a'");
	sites = mk_sites("[{\"name\":\"a\",\"underlay\":\"192.0.2.1\"},{\"name\":\"b\",\"underlay\":"
			 "\"192.0.2.1\"},{\"name\":\"c\",\"underlay\":\"192.0.2.1\"}]");
	d = check(sites, true, -EINVAL);
	assert_err(d, "sites[1].underlay", "already used by site 'a'");
	assert_err(d, "sites[2].underlay", "already used by site 'a'");
	assert_int_equal(json_array_size(d), 2);
	json_decref(d);
	json_decref(sites);
}

/* Sites behind NAT are reached at their NAT's address, which must be unique and
 * outside every prefix; their private underlays may repeat. */
static void test_check_nat(void **state)
{
	json_t *sites, *d;

	(void)state;
	sites = mk_sites("[{\"name\":\"a\",\"underlay\":\"192.168.1.2\",\"behind_nat\":true,"
			 "\"nat_address\":\"203.0.113.1\"},{\"name\":\"b\",\"underlay\":\"192.168.1.2\","
			 "\"behind_nat\":true,\"nat_address\":\"203.0.113.2\"}]");
	d = check(sites, true, 0);
	assert_int_equal(json_array_size(d), 0);
	json_decref(d);
	json_decref(sites);
	check1("[{\"name\":\"a\",\"underlay\":\"203.0.113.1\"},{\"name\":\"b\",\"underlay\":"
	       "\"192.168.1.2\",\"behind_nat\":true,\"nat_address\":\"203.0.113.1\"}]", true,
	       "sites[1].nat_address", "NAT address 203.0.113.1 is already used by site 'a'");
	check1("[{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"203.0.113.0/24\"]},"
	       "{\"name\":\"b\",\"underlay\":\"192.168.1.2\",\"behind_nat\":true,"
	       "\"nat_address\":\"203.0.113.9\"}]", true,
	       "sites[0].prefixes[0]", "contains the NAT address 203.0.113.9 of site 'b'");
}

/* Errors land on the site being written, whichever side of the conflict it is. */
static void test_check_attribution(void **state)
{
	(void)state;
	check1("[{\"name\":\"new\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"10.0.0.0/8\"]},"
	       "{\"name\":\"old-a\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"10.1.0.0/16\"]}]",
	       true, "prefixes[0]", "overlaps 10.1.0.0/16 of site 'old-a'");
	check1("[{\"name\":\"new\",\"underlay\":\"10.1.2.3\"},"
	       "{\"name\":\"old-b\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"10.0.0.0/8\"]}]",
	       true, "underlay", "inside prefix 10.0.0.0/8 of site 'old-b'");
	check1("[{\"name\":\"new\",\"underlay\":\"192.0.2.7\"},"
	       "{\"name\":\"old-c\",\"underlay\":\"192.0.2.7\"}]",
	       true, "underlay", "underlay 192.0.2.7 is already used by site 'old-c'");
	/* both written: the later one, naming the earlier */
	check1("[{\"name\":\"x\",\"underlay\":\"192.0.2.7\"},{\"name\":\"y\",\"underlay\":\"192.0.2.7\"}]",
	       true, "sites[1].underlay", "already used by site 'x'");
}

/* One error per offending site, not per pair: a thousand sites on one address give 999. */
static void test_check_errors_linear(void **state)
{
	json_t *sites = json_array(), *d;
	char name[16];
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "s%zu", i);
		json_array_append_new(sites, json_pack("{s:s, s:s, s:[]}", "name", name,
						       "underlay", "192.0.2.1", "prefixes"));
	}
	d = check(sites, false, -EINVAL);
	assert_int_equal(json_array_size(d), 999);
	json_decref(d);
	json_decref(sites);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_check_speed(void **state)
{
	json_t *sites = json_array();
	double best = 1e9, t;
	char name[16], u[32], p[4][32];
	struct verr *errs;
	size_t i, k;
	int run;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "site-%zu", i);
		snprintf(u, sizeof(u), "198.18.%zu.%zu", i / 256, i % 256 + 0);
		for (k = 0; k < 4; k++)
			snprintf(p[k], sizeof(p[k]), "10.%zu.%zu.0/24", i / 64, (i % 64) * 4 + k);
		json_array_append_new(sites, json_pack("{s:s, s:s, s:[s,s,s,s]}", "name", name,
						       "underlay", u, "prefixes", p[0], p[1], p[2], p[3]));
	}
	for (run = 0; run < 5; run++) {
		errs = verr_new();
		t = now_ms();
		assert_int_equal(kind_site_check_all(sites, errs, NULL, NULL), 0);
		t = now_ms() - t;
		assert_int_equal(verr_count(errs), 0);
		verr_free(errs);
		best = t < best ? t : best;
	}
#if defined(__SANITIZE_ADDRESS__)
	best /= 5;	/* ASan and UBSan slow every access several times over */
#endif
	print_message("kind_site_check_all: 1000 sites, 5000 addresses: %.2f ms\n", best);
	assert_true(best < 10.0);
	json_decref(sites);
}

/* Random small worlds against the obvious O(n²) reading of the three rules: the sites
 * named by the errors (path or message) are exactly the sites in some violation. */
static void brute_involved(const json_t *sites, bool *inv)
{
	size_t i, j, a, b, n = json_array_size(sites);
	struct addr_prefix p, q;
	struct addr ui, uj;

	for (i = 0; i < n; i++) {
		const json_t *si = json_array_get(sites, i), *pi;

		addr_parse(json_string_value(json_object_get(si, "underlay")), &ui);
		for (j = 0; j < n; j++) {
			const json_t *sj = json_array_get(sites, j), *pj;

			addr_parse(json_string_value(json_object_get(sj, "underlay")), &uj);
			if (i != j && !addr_cmp(&ui, &uj))
				inv[i] = inv[j] = true;
			json_array_foreach(json_object_get(si, "prefixes"), a, pi) {
				addr_prefix_parse(json_string_value(pi), &p);
				if (addr_prefix_contains(&p, &uj))
					inv[i] = inv[j] = true;
				json_array_foreach(json_object_get(sj, "prefixes"), b, pj) {
					addr_prefix_parse(json_string_value(pj), &q);
					if (i != j && addr_prefix_overlap(&p, &q))
						inv[i] = inv[j] = true;
				}
			}
		}
	}
}

static void sweep_named(const json_t *details, bool *named)
{
	const json_t *d;
	const char *m;
	size_t i;

	json_array_foreach(details, i, d) {
		named[strtoul(json_string_value(json_object_get(d, "path")) + 6, NULL, 10)] = true;
		m = strstr(json_string_value(json_object_get(d, "message")), "site 's");
		if (m)
			named[strtoul(m + 7, NULL, 10)] = true;
	}
}

#define NSITES 12

static void test_check_random(void **state)
{
	static const int lens[] = { 20, 24, 28, 32 };
	bool inv[NSITES], named[NSITES];
	char in[256], pfx[ADDR_PREFIX_STRLEN];
	size_t i, k, violations, flagged = 0, clean_rounds = 0;
	struct addr_prefix p;
	json_t *sites, *site, *d, *list;
	int round;

	(void)state;
	srand(12345);
	for (round = 0; round < 300; round++) {
		sites = json_array();
		for (i = 0; i < NSITES; i++) {
			snprintf(in, sizeof(in), "{\"name\":\"s%zu\",\"underlay\":\"10.%d.%d.%d\"}", i,
				 rand() % 8, rand() % 8, 1 + rand() % 4);
			site = norm_ok(&kind_site, in);
			list = json_object_get(site, "prefixes");
			for (k = (size_t)(rand() % 3); k > 0; k--) {
				snprintf(in, sizeof(in), "10.%d.%d.%d/%d", rand() % 8, rand() % 8,
					 rand() % 256, lens[rand() % 4]);
				addr_prefix_parse(in, &p);	/* -EDOM: masked anyway */
				addr_prefix_fmt(&p, pfx, sizeof(pfx));
				if (!json_array_size(list) ||
				    strcmp(pfx, json_string_value(json_array_get(list, 0))))
					json_array_append_new(list, json_string(pfx));
			}
			json_array_append_new(sites, site);
		}
		memset(inv, 0, sizeof(inv));
		memset(named, 0, sizeof(named));
		brute_involved(sites, inv);
		for (i = violations = 0; i < NSITES; i++)
			violations += inv[i];
		d = check(sites, true, violations ? -EINVAL : 0);
		sweep_named(d, named);
		if (memcmp(inv, named, sizeof(inv)))
			fail_msg("round %d: sites %s, errors %s", round,
				 json_dumps(sites, JSON_COMPACT), json_dumps(d, JSON_COMPACT));
		json_decref(d);
		json_decref(sites);
		flagged += violations;
		clean_rounds += !violations;
	}
	/* the worlds mix clean and conflicting sites, or the comparison proves little */
	print_message("random worlds: %zu of %d sites in conflict, %zu clean worlds\n", flagged,
		      300 * NSITES, clean_rounds);
	assert_true(flagged > 300 * NSITES / 10 && flagged < 300 * NSITES * 9 / 10);
	assert_true(clean_rounds > 0);
}

/* Bodies that are not canonical sites are skipped, never dereferenced blindly. */
static void test_check_robust(void **state)
{
	json_t *sites = J("[1, null, {}, {\"name\":5}, {\"name\":\"a\",\"underlay\":\"x\","
			  "\"prefixes\":[\"bad\",3,\"10.0.0.1/8\"]},{\"name\":\"b\","
			  "\"underlay\":\"192.0.2.1\",\"prefixes\":{}}]"), *d;
	struct verr *errs = verr_new();

	(void)state;
	d = check(sites, false, 0);
	json_decref(d);
	json_decref(sites);
	sites = J("{}");
	assert_int_equal(kind_site_check_all(sites, errs, NULL, NULL), -EINVAL);
	json_decref(sites);
	verr_free(errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_table),
		cmocka_unit_test(test_site_defaults),
		cmocka_unit_test(test_site_nat_address),
		cmocka_unit_test(test_check_nat),
		cmocka_unit_test(test_site_canonical),
		cmocka_unit_test(test_site_paths),
		cmocka_unit_test(test_site_underlay),
		cmocka_unit_test(test_site_mtu),
		cmocka_unit_test(test_site_collects_all),
		cmocka_unit_test(test_profile_defaults),
		cmocka_unit_test(test_profile_values),
		cmocka_unit_test(test_profile_bfd),
		cmocka_unit_test(test_profile_lifetimes),
		cmocka_unit_test(test_profile_proposals),
		cmocka_unit_test(test_topology_defaults),
		cmocka_unit_test(test_topology_rules),
		cmocka_unit_test(test_topology_lists),
		cmocka_unit_test(test_refs),
		cmocka_unit_test(test_tunnel),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_check_clean),
		cmocka_unit_test(test_check_overlap),
		cmocka_unit_test(test_check_underlay_in_prefix),
		cmocka_unit_test(test_check_shared_underlay),
		cmocka_unit_test(test_check_attribution),
		cmocka_unit_test(test_check_errors_linear),
		cmocka_unit_test(test_check_speed),
		cmocka_unit_test(test_check_random),
		cmocka_unit_test(test_check_robust),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
