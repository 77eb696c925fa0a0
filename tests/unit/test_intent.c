/* Intent codec and validator. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "intent.h"

static const char *const good =
	"{\"format\":1,\"site\":\"paris-1\",\"revision\":7,"
	"\"tunnels\":[{\"id\":\"t-0001\",\"ifname\":\"gs-lyon\",\"kind\":\"gre\","
	"\"local\":\"192.0.2.1\",\"remote\":\"192.0.2.2\",\"key\":1001,\"ttl\":64,\"mtu\":1400,"
	"\"overlay\":{\"local\":\"169.254.0.0/31\",\"peer\":\"169.254.0.1/31\"},\"reqid\":65537,"
	"\"security\":{\"mode\":\"transport\",\"protocol\":\"esp\","
	"\"ike_proposals\":[\"aes128gcm16-prfsha256-ecp256\"],\"child_proposals\":[\"aes128gcm16\"],"
	"\"ike_lifetime\":14400,\"child_lifetime\":3600,\"dpd_delay\":30,\"start\":\"on-demand\","
	"\"initiator\":true,\"udp_encap\":false},\"psk\":\"0123456789abcdef0123\"}],"
	"\"routes\":[{\"prefix\":\"10.2.0.0/24\",\"via\":\"t-0001\",\"metric\":100},"
	"{\"prefix\":\"2001:db8:2::/48\",\"via\":\"t-0001\",\"metric\":100}],"
	"\"spd\":[{\"tunnel\":\"t-0001\",\"src\":\"192.0.2.1/32\",\"dst\":\"192.0.2.2/32\",\"proto\":47,"
	"\"dir\":\"out\",\"template\":{\"mode\":\"transport\",\"proto\":\"esp\",\"reqid\":65537},"
	"\"priority\":10000}]}";

/* Parses text after applying a JSON edit (path of keys/indices, new value) to it. */
static int parse_edit(const char *text, const char *const *path, size_t n, json_t *val,
		      struct intent **out, char *err, size_t errlen)
{
	json_t *root = json_loads(text, 0, NULL), *o = root;
	int rc;

	assert_non_null(root);
	for (size_t i = 0; n && i + 1 < n; i++)
		o = json_is_array(o) ? json_array_get(o, (size_t)atoi(path[i])) :
				       json_object_get(o, path[i]);
	if (n && val)
		json_object_set_new(o, path[n - 1], val);
	else if (n)
		json_object_del(o, path[n - 1]);
	rc = intent_from_json(root, out, err, errlen);
	if (!rc)
		rc = intent_validate(*out, err, errlen);
	json_decref(root);
	return rc;
}

static void expect_error(const char *const *path, size_t n, json_t *val, const char *want)
{
	struct intent *in = NULL;
	char err[256] = "";

	assert_int_equal(parse_edit(good, path, n, val, &in, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	intent_free(in);
}

static void test_roundtrip(void **state)
{
	struct intent *in = NULL, *again = NULL;
	char err[256] = "";
	json_t *j, *j2;
	char *a, *b;

	(void)state;
	assert_int_equal(parse_edit(good, NULL, 0, NULL, &in, err, sizeof(err)), 0);
	assert_string_equal(in->site, "paris-1");
	assert_int_equal(in->revision, 7);
	assert_int_equal(in->n_tunnels, 1);
	assert_int_equal(in->tunnels[0].kind, INTENT_KIND_GRE);
	assert_int_equal(in->tunnels[0].overlay_local.len, 31);
	assert_int_equal(in->n_routes, 2);
	j = intent_to_json(in);
	assert_non_null(j);
	a = json_dumps(j, JSON_COMPACT);
	assert_int_equal(intent_from_json(j, &again, err, sizeof(err)), 0);
	j2 = intent_to_json(again);
	b = json_dumps(j2, JSON_COMPACT);
	/* Canonical: encoding what we decoded gives the same bytes. */
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "\"local\":\"169.254.0.0/31\""));
	free(a);
	free(b);
	json_decref(j);
	json_decref(j2);
	intent_free(in);
	intent_free(again);
}

/* The CA and CRL: optional, kept byte for byte (newlines escaped), in the direct dump
 * as in the jansson encoding, and each moves the hash. */
static void test_pki(void **state)
{
	static const char *const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	struct intent *in = NULL;
	unsigned char h0[32], h1[32], h2[32];
	char err[256] = "", *a, *b;
	json_t *j;

	(void)state;
	assert_int_equal(parse_edit(good, NULL, 0, NULL, &in, err, sizeof(err)), 0);
	assert_null(in->ca);
	assert_int_equal(intent_hash(in, h0), 0);
	intent_free(in);
	assert_int_equal(parse_edit(good, (const char *[]){ "ca" }, 1, json_string(pem), &in, err,
				    sizeof(err)), 0);
	assert_string_equal(in->ca, pem);
	assert_int_equal(intent_hash(in, h1), 0);
	in->crl = strdup(pem);
	assert_int_equal(intent_hash(in, h2), 0);
	assert_memory_not_equal(h0, h1, 32);
	assert_memory_not_equal(h1, h2, 32);
	j = intent_to_json(in);
	a = json_dumps(j, JSON_COMPACT);
	assert_int_equal(intent_dump(in, &b, NULL), 0);
	assert_string_equal(a, b);
	assert_non_null(strstr(b, "\"ca\":\"-----BEGIN CERTIFICATE-----\\nMIIB"));
	free(a);
	free(b);
	json_decref(j);
	intent_free(in);
	expect_error((const char *[]){ "crl" }, 1, json_integer(1), "crl: must be a non-empty string");
}

static void test_decode_errors(void **state)
{
	(void)state;
	expect_error((const char *[]){ "colour" }, 1, json_string("red"), "colour: unknown field");
	expect_error((const char *[]){ "tunnels", "0", "local" }, 3, json_string("192.0.2"),
		     "tunnels[0].local: not an IPv4 or IPv6 address");
	expect_error((const char *[]){ "tunnels", "0", "mtu" }, 3, json_integer(100),
		     "tunnels[0].mtu: must be between");
	expect_error((const char *[]){ "tunnels", "0", "kind" }, 3, json_string("ipip"),
		     "tunnels[0].kind: must be one of gre, vti");
	expect_error((const char *[]){ "routes", "0", "prefix" }, 3, json_string("10.2.0.1/24"),
		     "routes[0].prefix: host bits set");
	expect_error((const char *[]){ "tunnels", "0", "psk" }, 3, NULL, "tunnels[0].psk: missing");
	expect_error((const char *[]){ "format" }, 1, json_integer(2), "format: must be between 1 and 1");
	expect_error((const char *[]){ "spd", "0", "template", "mode" }, 4, json_string("beet"),
		     "spd[0].template.mode");
}

static void test_validate_errors(void **state)
{
	(void)state;
	expect_error((const char *[]){ "site" }, 1, json_string("-bad"), "site:");
	expect_error((const char *[]){ "tunnels", "0", "ifname" }, 3, json_string("eth0"),
		     "tunnels[0].ifname: must be \"gs\"");
	expect_error((const char *[]){ "tunnels", "0", "reqid" }, 3, json_integer(5),
		     "tunnels[0].reqid: must be between");
	expect_error((const char *[]){ "tunnels", "0", "overlay", "peer" }, 4,
		     json_string("169.254.0.2/31"), "peer is not in local's /31");
	expect_error((const char *[]){ "tunnels", "0", "overlay", "peer" }, 4,
		     json_string("169.254.0.1/30"), "prefix length must be /31");
	expect_error((const char *[]){ "tunnels", "0", "remote" }, 3, json_string("2001:db8::1"),
		     "family differs from local");
	expect_error((const char *[]){ "tunnels", "0", "kind" }, 3, json_string("vti"),
		     "a VTI carries tunnel-mode SAs only");
	expect_error((const char *[]){ "routes", "0", "via" }, 3, json_string("t-9"),
		     "routes[0].via: no tunnel \"t-9\"");
	expect_error((const char *[]){ "spd", "0", "template", "reqid" }, 4, json_integer(65538),
		     "spd[0].template.reqid: differs");
	expect_error((const char *[]){ "spd", "0", "priority" }, 3, json_integer(5),
		     "spd[0].priority: must be between");
	expect_error((const char *[]){ "spd", "0", "proto" }, 3, json_integer(6),
		     "spd[0].proto: must be 47 (GRE) or 0 (all)");
	expect_error((const char *[]){ "tunnels", "0", "psk" }, 3, json_string("short"),
		     "tunnels[0].psk: at least 16");
	/* "0123456789abcdef0123" is no "0x..." key: refused in the hex form */
	expect_error((const char *[]){ "tunnels", "0", "psk_encoding" }, 3, json_string("hex"),
		     "tunnels[0].psk: psk_encoding hex needs \"0x\"");
	expect_error((const char *[]){ "tunnels", "0", "psk_encoding" }, 3, json_string("base64"),
		     "tunnels[0].psk_encoding: must be one of string, hex");
}

/* The hex form is in the JSON, the dump and the hash; the string form is absent from
 * all three, so intents of agents before the field stay byte for byte what they were. */
static void test_psk_encoding(void **state)
{
	static const char hex[] = "0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct intent *in = NULL, *again = NULL;
	unsigned char h1[32], h2[32];
	char err[256] = "", *a, *d;
	uint8_t key[80];
	size_t len = 0;
	json_t *j;

	(void)state;
	assert_int_equal(parse_edit(good, (const char *[]){ "tunnels", "0", "psk" }, 3,
				    json_string(hex), &in, err, sizeof(err)), 0);
	assert_int_equal(in->tunnels[0].psk_encoding, INTENT_PSK_STRING);
	assert_int_equal(intent_hash(in, h1), 0);
	a = json_dumps(j = intent_to_json(in), JSON_COMPACT);
	json_decref(j);
	assert_null(strstr(a, "psk_encoding"));
	free(a);
	assert_int_equal(intent_psk_bytes(&in->tunnels[0], key, sizeof(key), &len), 0);
	assert_int_equal(len, 66);
	in->tunnels[0].psk_encoding = INTENT_PSK_HEX;
	assert_int_equal(intent_psk_bytes(&in->tunnels[0], key, sizeof(key), &len), 0);
	assert_int_equal(len, 32);
	assert_int_equal(key[0], 0x00);
	assert_int_equal(key[15], 0xff);
	assert_int_equal(intent_psk_bytes(&in->tunnels[0], key, 31, &len), -EINVAL);
	assert_int_equal(intent_hash(in, h2), 0);
	assert_memory_not_equal(h1, h2, sizeof(h1));
	a = json_dumps(j = intent_to_json(in), JSON_COMPACT);
	assert_non_null(strstr(a, "\"psk_encoding\":\"hex\""));
	assert_int_equal(intent_dump(in, &d, NULL), 0);
	assert_string_equal(a, d);
	assert_int_equal(intent_from_json(j, &again, err, sizeof(err)), 0);
	assert_int_equal(again->tunnels[0].psk_encoding, INTENT_PSK_HEX);
	json_decref(j);
	free(a);
	free(d);
	intent_free(in);
	intent_free(again);
}

static void test_duplicates(void **state)
{
	json_t *root = json_loads(good, 0, NULL);
	json_t *tuns = json_object_get(root, "tunnels");
	json_t *copy = json_deep_copy(json_array_get(tuns, 0));
	struct intent *in = NULL;
	char err[256] = "";

	(void)state;
	json_object_set_new(copy, "id", json_string("t-0002"));
	json_object_set_new(copy, "reqid", json_integer(65538));
	json_array_append_new(tuns, copy);
	assert_int_equal(intent_from_json(root, &in, err, sizeof(err)), 0);
	assert_int_equal(intent_validate(in, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tunnels[1].ifname: duplicate of tunnels[0]");
	intent_free(in);
	in = NULL;
	json_object_set_new(copy, "ifname", json_string("gs-lyon2"));
	assert_int_equal(intent_from_json(root, &in, err, sizeof(err)), 0);
	assert_int_equal(intent_validate(in, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tunnels[1].key: same endpoints and key as tunnels[0]");
	intent_free(in);
	json_decref(root);
}

static void test_ifaddr(void **state)
{
	struct intent_ifaddr a;
	char buf[ADDR_PREFIX_STRLEN];

	(void)state;
	assert_int_equal(intent_ifaddr_parse("2001:db8::1/127", &a), 0);
	assert_int_equal(a.len, 127);
	intent_ifaddr_fmt(&a, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1/127");
	assert_int_equal(intent_ifaddr_parse("10.0.0.1", &a), -EINVAL);
	assert_int_equal(intent_ifaddr_parse("10.0.0.1/33", &a), -EINVAL);
	assert_int_equal(intent_ifaddr_parse("10.0.0.1/031", &a), -EINVAL);
	assert_int_equal(intent_ifaddr_parse("10.0.0.1/-1", &a), -EINVAL);
}

/* committed_at: optional, kept to the byte by both encoders, refused when malformed,
 * and not part of the content hash (a new stamp is not a new intent). */
static void test_committed_at(void **state)
{
	static const char *const path[] = { "committed_at" };
	unsigned char h1[32], h2[32];
	struct intent *in = NULL;
	char err[256] = "", *dumped = NULL, *enc;
	json_t *j;
	int64_t ms;

	(void)state;
	assert_int_equal(parse_edit(good, NULL, 0, NULL, &in, err, sizeof(err)), 0);
	assert_string_equal(in->committed_at, "");
	assert_int_equal(intent_hash(in, h1), 0);
	intent_free(in);
	assert_int_equal(parse_edit(good, path, 1, json_string("2026-12-01T03:31:30.123Z"), &in,
				    err, sizeof(err)), 0);
	assert_string_equal(in->committed_at, "2026-12-01T03:31:30.123Z");
	assert_int_equal(intent_hash(in, h2), 0);
	assert_memory_equal(h1, h2, sizeof(h1));
	j = intent_to_json(in);
	enc = json_dumps(j, JSON_COMPACT);
	assert_int_equal(intent_dump(in, &dumped, NULL), 0);
	assert_string_equal(enc, dumped);
	assert_non_null(strstr(enc, "\"revision\":7,\"committed_at\":\"2026-12-01T03:31:30.123Z\","));
	free(enc);
	free(dumped);
	json_decref(j);
	intent_free(in);
	expect_error(path, 1, json_string("yesterday"), "committed_at: must be a UTC time");
	expect_error(path, 1, json_string("2026-12-01T03:31:30+01:00"), "committed_at");
	expect_error(path, 1, json_integer(5), "committed_at");
	assert_int_equal(intent_time_parse("1970-01-01T00:00:01.5Z", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(intent_time_parse("2026-12-01T03:31:30Z", &ms), 0);
	intent_time_fmt(ms + 7, err);
	assert_string_equal(err, "2026-12-01T03:31:30.007Z");
	assert_int_equal(intent_time_parse("2026-12-01T03:31:30.Z", &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_pki),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_validate_errors),
		cmocka_unit_test(test_psk_encoding),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_ifaddr),
		cmocka_unit_test(test_committed_at),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
