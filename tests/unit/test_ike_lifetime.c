/* CHILD_SA lifetimes the agent hands charon (ike_child_lifetimes, ike_conn_msg):
 * short rekey times get a hard expiry IKE_CHILD_MARGIN_S later and a 10 % jitter, so
 * a rekey that needs a retransmit still finishes before the SA expires; long ones keep
 * charon's defaults and send no life_time/rand_time at all (same message as before,
 * so no conn is reloaded for them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ike.h"
#include "intent.h"
#include "vici.h"

static const char *const one_tunnel =
	"{\"format\": 1, \"site\": \"a\", \"revision\": 1, \"routes\": [], \"spd\": [],"
	" \"tunnels\": [{\"id\": \"t1\", \"ifname\": \"gs1\", \"kind\": \"gre\","
	" \"local\": \"192.0.2.1\", \"remote\": \"192.0.2.2\", \"key\": 1, \"ttl\": 64,"
	" \"mtu\": 1400, \"overlay\": {\"local\": \"10.255.0.0/31\", \"peer\": \"10.255.0.1/31\"},"
	" \"reqid\": 65537, \"security\": {\"mode\": \"transport\", \"protocol\": \"esp\","
	" \"ike_proposals\": [\"aes128gcm16-prfsha256-ecp256\"],"
	" \"child_proposals\": [\"aes128gcm16\"], \"child_lifetime\": 3600,"
	" \"start\": \"always\", \"initiator\": true,"
	" \"udp_encap\": false}, \"psk\": \"not-a-real-key-0123456789\"}]}";

static struct intent *lt_intent(void)
{
	json_error_t je;
	json_t *j = json_loads(one_tunnel, 0, &je);
	struct intent *in = NULL;
	char err[256] = "";

	if (!j)
		fail_msg("test intent: %s", je.text);
	if (intent_from_json(j, &in, err, sizeof(err)))
		fail_msg("test intent: %s", err);
	json_decref(j);
	return in;
}

/* The child section of t's load-conn message, decoded; *root to free. */
static const struct vici_node *lt_child(const struct intent_tunnel *t, struct vici_node **root)
{
	struct vici_msg *m = ike_conn_msg(t, NULL, "t1-c");
	const struct vici_node *ch;

	assert_non_null(m);
	assert_int_equal(vici_parse(m->buf, m->len, root), 0);
	vici_msg_free(m);
	ch = vici_node_get(vici_node_get(vici_node_get(*root, "t1"), "children"), "t1-c");
	assert_non_null(ch);
	return ch;
}

static void test_lifetimes_derived(void **state)
{
	static const struct {
		uint32_t rekey, life, jitter;
	} cases[] = {
		{ 10, 10 + IKE_CHILD_MARGIN_S, 1 },
		{ 20, 20 + IKE_CHILD_MARGIN_S, 2 },
		{ 59, 59 + IKE_CHILD_MARGIN_S, 5 },
		{ 99, 99 + IKE_CHILD_MARGIN_S, 9 },
		/* 10 % is the margin from here on: charon's defaults */
		{ 100, 0, 0 },
		{ 3600, 0, 0 },
		{ 86400, 0, 0 },
		{ 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t life = 7, jitter = 7;

		ike_child_lifetimes(cases[i].rekey, &life, &jitter);
		assert_int_equal(life, cases[i].life);
		assert_int_equal(jitter, cases[i].jitter);
		/* the rekey, jitter included, always comes before the hard expiry */
		if (life)
			assert_true(cases[i].rekey - jitter < life && cases[i].rekey < life);
	}
}

static void test_conn_short_lifetime(void **state)
{
	struct intent *in = lt_intent();
	struct vici_node *root = NULL;
	const struct vici_node *ch;

	(void)state;
	in->tunnels[0].sec.child_lifetime = 20;
	ch = lt_child(&in->tunnels[0], &root);
	assert_string_equal(vici_node_str(ch, "rekey_time"), "20");
	assert_string_equal(vici_node_str(ch, "life_time"), "30");
	assert_string_equal(vici_node_str(ch, "rand_time"), "2");
	vici_node_free(root);
	intent_free(in);
}

static void test_conn_default_lifetime(void **state)
{
	struct intent *in = lt_intent();
	struct vici_node *root = NULL;
	const struct vici_node *ch;

	(void)state;
	ch = lt_child(&in->tunnels[0], &root);
	assert_string_equal(vici_node_str(ch, "rekey_time"), "3600");
	assert_null(vici_node_get(ch, "life_time"));
	assert_null(vici_node_get(ch, "rand_time"));
	vici_node_free(root);
	intent_free(in);
}

/* A changed lifetime is a changed conn: the child name (hash) differs. */
static void test_child_name_follows_lifetime(void **state)
{
	struct intent *in = lt_intent();
	char a[IKE_CHILD_MAX + 1], b[IKE_CHILD_MAX + 1];

	(void)state;
	assert_int_equal(ike_child_name(&in->tunnels[0], NULL, a, sizeof(a)), 0);
	in->tunnels[0].sec.child_lifetime = 20;
	assert_int_equal(ike_child_name(&in->tunnels[0], NULL, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	intent_free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifetimes_derived),
		cmocka_unit_test(test_conn_short_lifetime),
		cmocka_unit_test(test_conn_default_lifetime),
		cmocka_unit_test(test_child_name_follows_lifetime),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
