/* intent_hash: the digest that decides when a site's revision moves. It must see every
 * field of the content (a change it missed would never reach the agent), must not see
 * the revision or committed_at (they say when, not what), and must never change for an
 * intent whose content did not (a new controller would otherwise bump every site's
 * revision on upgrade). The pinned digests below were computed by the code before the
 * intent's fields were described once, in api/intent_field.c; the edits below must
 * between them change every field of that table. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "fixtures.h"
#include "intent.h"
#include "intent_field.h"

/* Every field present, most of them away from their defaults; in canonical form. */
#define RICH "tests/unit/intent_rich.json"

static void hash_hex(const json_t *j, char hex[65])
{
	struct intent *in = NULL;
	unsigned char h[32];
	char err[256] = "";

	if (intent_from_json(j, &in, err, sizeof(err)))
		fail_msg("decode: %s", err);
	assert_int_equal(intent_hash(in, h), 0);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	intent_free(in);
}

/* The node at a dotted path ("tunnels.0.security"); array indices are numbers. */
static json_t *at(json_t *j, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); j && k; k = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, strtoul(k, NULL, 10)) :
				       json_object_get(j, k);
	return j;
}

/* Sets the member at path to the JSON text val, or removes it when val is NULL. */
static void edit(json_t *root, const char *path, const char *val)
{
	const char *dot = strrchr(path, '.');
	char parent[128];
	json_t *o, *v = NULL;

	snprintf(parent, sizeof(parent), "%.*s", dot ? (int)(dot - path) : 0, path);
	o = dot ? at(root, parent) : root;
	if (!o || !at(root, path))
		fail_msg("%s: not in the sample", path);
	if (val && !(v = json_loads(val, JSON_DECODE_ANY, NULL)))
		fail_msg("%s: bad JSON %s", path, val);
	if (json_is_array(o) && !v)
		assert_int_equal(json_array_remove(o, strtoul(dot + 1, NULL, 10)), 0);
	else if (json_is_array(o))
		assert_int_equal(json_array_set_new(o, strtoul(dot + 1, NULL, 10), v), 0);
	else if (v)
		assert_int_equal(json_object_set_new(o, dot ? dot + 1 : path, v), 0);
	else
		assert_int_equal(json_object_del(o, dot ? dot + 1 : path), 0);
}

static void expect_hash(json_t *j, const char *want)
{
	char hex[65];

	hash_hex(j, hex);
	if (strcmp(hex, want))
		fail_msg("digest %s, pinned %s", hex, want);
}

/* The optional fields left out: what an older controller sent. */
static const char *const optional[] = {
	"committed_at", "ca", "crl", "tunnels.0.ttl", "tunnels.0.security.ike_lifetime",
	"tunnels.0.security.child_lifetime", "tunnels.0.security.dpd_delay",
	"tunnels.0.security.initiator", "tunnels.0.security.udp_encap",
	"tunnels.0.security.local_id", "tunnels.0.security.remote_id",
	"tunnels.0.security.auth", "tunnels.0.bfd", "tunnels.0.psk_encoding", "routes.0.metric",
	"spd.2.mark.mask", "spd.3.mark",
};

static void test_pinned(void **state)
{
	json_t *j = fixture_json(RICH);

	(void)state;
	expect_hash(j, "671e24931d87b433dc84f47758a9f9a4ce952d382cb2f569a938190bb662d3c5");
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		edit(j, optional[i], NULL);
	expect_hash(j, "1b6b37d6ea2cd14c0d23d01555446d964da5b246540550e28df0a2ad0f389242");
	json_decref(j);
	j = json_loads("{\"format\":1,\"site\":\"a\",\"revision\":3}", 0, NULL);
	expect_hash(j, "2e9487f85f9605e946f644ef294a098b958eae88ed1ff9e35e71715aa5b8e037");
	json_decref(j);
}

/* Both encoders give back the sample byte for byte: key order, left-out defaults,
 * escapes and address text are those of the code the digests were pinned with. */
static void test_canonical(void **state)
{
	json_t *j = fixture_json(RICH), *enc;
	struct intent *in = NULL;
	char err[256] = "", *text, *dumped, *again;

	(void)state;
	text = json_dumps(j, JSON_COMPACT);
	assert_int_equal(intent_from_json(j, &in, err, sizeof(err)), 0);
	assert_int_equal(intent_validate(in, err, sizeof(err)), 0);
	assert_int_equal(intent_dump(in, &dumped, NULL), 0);
	assert_string_equal(dumped, text);
	enc = intent_to_json(in);
	again = json_dumps(enc, JSON_COMPACT);
	assert_string_equal(again, text);
	free(text);
	free(dumped);
	free(again);
	json_decref(enc);
	json_decref(j);
	intent_free(in);
}

/* Each edit of the sample, one at a time, and whether the digest must move. */
struct mutation {
	const char *path;
	const char *val;	/* JSON text; NULL removes the member or element */
};

/* Not content: changing them must leave the digest alone. */
static const char *const unhashed[] = { "revision", "committed_at" };

static const struct mutation mutations[] = {
	{ "site", "\"rich-2\"" },
	{ "revision", "43" },
	{ "committed_at", "\"2026-12-02T10:00:00.123Z\"" },
	{ "committed_at", NULL },
	{ "tunnels.1", NULL },
	{ "tunnels.0.id", "\"t-9\"" },
	{ "tunnels.0.ifname", "\"gs-t9\"" },
	{ "tunnels.0.kind", "\"vti\"" },
	{ "tunnels.0.local", "\"192.0.2.5\"" },
	{ "tunnels.0.local", "\"::ffff:192.0.2.1\"" },
	{ "tunnels.0.remote", "\"192.0.2.6\"" },
	{ "tunnels.0.key", "1003" },
	{ "tunnels.0.ttl", "33" },
	{ "tunnels.0.mtu", "1401" },
	{ "tunnels.0.overlay.local", "\"169.254.0.4/31\"" },
	{ "tunnels.0.overlay.local", "\"169.254.0.0/30\"" },
	{ "tunnels.0.overlay.peer", "\"169.254.0.5/31\"" },
	{ "tunnels.0.overlay.peer", "\"169.254.0.1/30\"" },
	{ "tunnels.0.reqid", "65539" },
	{ "tunnels.0.security.mode", "\"tunnel\"" },
	{ "tunnels.0.security.protocol", "\"ah\"" },
	{ "tunnels.0.security.ike_proposals", "[\"aes256gcm16-prfsha384-ecp384\"]" },
	{ "tunnels.0.security.ike_proposals.1", "\"aes128gcm16-prfsha256-ecp384\"" },
	{ "tunnels.0.security.child_proposals", "[\"aes256gcm16\"]" },
	{ "tunnels.0.security.child_proposals.0", "\"aes128gcm16\"" },
	{ "tunnels.0.security.ike_lifetime", "7201" },
	{ "tunnels.0.security.child_lifetime", "1801" },
	{ "tunnels.0.security.dpd_delay", "11" },
	{ "tunnels.0.security.start", "\"on-demand\"" },
	{ "tunnels.0.security.initiator", "false" },
	{ "tunnels.0.security.udp_encap", "false" },
	{ "tunnels.0.security.local_id", "\"rich-2\"" },
	{ "tunnels.0.security.local_id", NULL },
	{ "tunnels.0.security.remote_id", "\"peer-3\"" },
	{ "tunnels.0.security.remote_id", NULL },
	{ "tunnels.0.security.auth", "\"psk\"" },
	{ "tunnels.0.bfd.enabled", "true" },
	{ "tunnels.0.bfd.interval_ms", "301" },
	{ "tunnels.0.bfd.multiplier", "6" },
	{ "tunnels.0.psk", "\"0x00112233445566778899aabbccddeeff00112233445566778899aabbccddee00\"" },
	{ "tunnels.0.psk_encoding", "\"string\"" },
	{ "routes.1", NULL },
	{ "routes.0.prefix", "\"10.3.0.0/24\"" },
	{ "routes.0.prefix", "\"10.2.0.0/23\"" },
	{ "routes.0.via", "\"t-2\"" },
	{ "routes.0.metric", "101" },
	{ "spd.4", NULL },
	{ "spd.0.tunnel", "\"t-2\"" },
	{ "spd.0.src", "\"192.0.2.3/32\"" },
	{ "spd.0.src", "\"192.0.2.0/31\"" },
	{ "spd.0.dst", "\"192.0.2.4/32\"" },
	{ "spd.0.dst", "\"192.0.2.2/31\"" },
	{ "spd.0.proto", "0" },
	{ "spd.0.dir", "\"fwd\"" },
	{ "spd.0.template.mode", "\"tunnel\"" },
	{ "spd.0.template.proto", "\"ah\"" },
	{ "spd.0.template.reqid", "65540" },
	{ "spd.0.priority", "10001" },
	{ "spd.2.mark", NULL },
	{ "spd.2.mark.value", "1003" },
	{ "spd.2.mark.mask", "4294967294" },
	{ "ca", "\"-----BEGIN CERTIFICATE-----\\nMIIBric\\n-----END CERTIFICATE-----\\n\"" },
	{ "ca", NULL },
	{ "crl", "\"-----BEGIN X509 CRL-----\\nMIIBcr\\n-----END X509 CRL-----\\n\"" },
	{ "crl", NULL },
};

static bool listed(const char *const *list, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(path, list[i]))
			return true;
	return false;
}

static bool is_unhashed(const char *path)
{
	return listed(unhashed, sizeof(unhashed) / sizeof(unhashed[0]), path);
}

static void test_sensitivity(void **state)
{
	json_t *base = fixture_json(RICH);
	char want[65], hex[65];

	(void)state;
	hash_hex(base, want);
	for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		const struct mutation *m = &mutations[i];
		json_t *j = json_deep_copy(base);

		edit(j, m->path, m->val);
		hash_hex(j, hex);
		if (is_unhashed(m->path) && strcmp(hex, want))
			fail_msg("%s = %s moved the digest", m->path, m->val ? m->val : "(none)");
		if (!is_unhashed(m->path) && !strcmp(hex, want))
			fail_msg("%s = %s left the digest as it was", m->path,
				 m->val ? m->val : "(none)");
		json_decref(j);
	}
	json_decref(base);
}

/* Fields that have one valid value: no edit can change them. */
static const char *const fixed[] = { "format" };

/* Whether an edit changes the field at path ("tunnels.security.ike_proposals"): the
 * edits' paths without their array indices. */
static bool mutated(const char *path)
{
	for (size_t i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		char buf[128], out[128] = "", *save = NULL;

		snprintf(buf, sizeof(buf), "%s", mutations[i].path);
		for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
			if (strspn(k, "0123456789") != strlen(k))
				snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
					 *out ? "." : "", k);
		if (!strcmp(out, path))
			return true;
	}
	return false;
}

static void check_covered(const struct intent_field *fields, size_t n, const char *prefix)
{
	for (size_t i = 0; i < n; i++) {
		const struct intent_field *f = &fields[i];
		char path[128];

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", f->key);
		if (!!(f->flags & INTENT_FF_UNHASHED) != is_unhashed(path))
			fail_msg("%s: unhashed in the table or in this test only", path);
		if ((f->type == INTENT_FT_CONST) !=
		    listed(fixed, sizeof(fixed) / sizeof(fixed[0]), path))
			fail_msg("%s: fixed in the table or in this test only", path);
		/* An object that is always there changes only through its members. */
		if (f->type != INTENT_FT_CONST &&
		    !(f->type == INTENT_FT_OBJECT && !(f->flags & INTENT_FF_OMIT)) &&
		    !mutated(path))
			fail_msg("%s: no edit above changes it", path);
		if (f->fields)
			check_covered(f->fields, f->nfields, path);
	}
}

static void test_every_field(void **state)
{
	(void)state;
	check_covered(intent_field_root, intent_field_nroot, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_sensitivity),
		cmocka_unit_test(test_every_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
