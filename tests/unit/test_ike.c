/* The IKE plane without charon: load-conn / load-shared content for a GRE transport
 * tunnel, a VTI tunnel, NAT encapsulation and AH; the child-name hash; the diff
 * against what charon reports (new, unchanged, changed, removed, foreign); list-sa
 * bodies into the status table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ike.h"
#include "ike_events.h"
#include "intent.h"
#include "vici.h"

#define SEC(start, init, encap, mode, proto) \
	"\"security\": {\"mode\": \"" mode "\", \"protocol\": \"" proto "\"," \
	"\"ike_proposals\": [\"aes256gcm16-prfsha384-ecp384\", \"aes128-sha256-modp2048\"]," \
	"\"child_proposals\": [\"aes256gcm16\"], \"ike_lifetime\": 14400," \
	"\"child_lifetime\": 3600, \"dpd_delay\": 10, \"start\": \"" start "\"," \
	"\"initiator\": " init ", \"udp_encap\": " encap

static const char *const intent_text =
	"{\"format\": 1, \"site\": \"hub1\", \"revision\": 3, \"routes\": [], \"spd\": [],"
	" \"tunnels\": ["
	"{\"id\": \"gre-1\", \"ifname\": \"gs1\", \"kind\": \"gre\", \"local\": \"192.0.2.1\","
	" \"remote\": \"198.51.100.1\", \"key\": 1, \"ttl\": 64, \"mtu\": 1400,"
	" \"overlay\": {\"local\": \"10.255.0.0/31\", \"peer\": \"10.255.0.1/31\"},"
	" \"reqid\": 65537, " SEC("on-demand", "true", "false", "transport", "esp") "},"
	" \"psk\": \"0123456789abcdef-gre-1\"},"
	"{\"id\": \"vti-2\", \"ifname\": \"gs2\", \"kind\": \"vti\", \"local\": \"192.0.2.1\","
	" \"remote\": \"198.51.100.2\", \"key\": 2, \"ttl\": 0, \"mtu\": 1400,"
	" \"overlay\": {\"local\": \"10.255.0.2/31\", \"peer\": \"10.255.0.3/31\"},"
	" \"reqid\": 65538, " SEC("always", "true", "true", "tunnel", "esp")
	", \"local_id\": \"hub1.example\", \"remote_id\": \"spoke2.example\"},"
	" \"psk\": \"0123456789abcdef-vti-2\"},"
	"{\"id\": \"ah-3\", \"ifname\": \"gs3\", \"kind\": \"gre\", \"local\": \"192.0.2.1\","
	" \"remote\": \"198.51.100.3\", \"key\": 3, \"ttl\": 0, \"mtu\": 1400,"
	" \"overlay\": {\"local\": \"10.255.0.4/31\", \"peer\": \"10.255.0.5/31\"},"
	" \"reqid\": 65539, " SEC("always", "false", "false", "transport", "ah") "},"
	" \"psk\": \"0123456789abcdef-ah-3\"}"
	"]}";

/* ike_child_name of gre-1 in the release before psk_encoding (its hash covered the psk). */
#define LEGACY_GRE_1 "gre-1-0ab1f57ff2bb2445"

static struct intent *load_intent(void)
{
	json_error_t je;
	json_t *j = json_loads(intent_text, 0, &je);
	struct intent *in = NULL;
	char err[256] = "";

	if (!j)
		fail_msg("test intent: %s", je.text);
	if (intent_from_json(j, &in, err, sizeof(err)) || intent_validate(in, err, sizeof(err)))
		fail_msg("test intent: %s", err);
	json_decref(j);
	return in;
}

static struct vici_node *decode(struct vici_msg *m)
{
	struct vici_node *n = NULL;

	assert_non_null(m);
	assert_int_equal(vici_parse(m->buf, m->len, &n), 0);
	vici_msg_free(m);
	return n;
}

static const char *item(const struct vici_node *n, const char *list, size_t i)
{
	const struct vici_node *l = vici_node_get(n, list);

	if (!l || l->type != VICI_NODE_LIST || i >= l->n_kids)
		return NULL;
	return l->kids[i].value;
}

static const struct vici_node *child_of(const struct vici_node *conn, const char *child)
{
	return vici_node_get(vici_node_get(conn, "children"), child);
}

static void test_conn_gre_transport(void **state)
{
	struct intent *in = load_intent();
	struct vici_node *root = decode(ike_conn_msg(&in->tunnels[0], NULL, "gre-1-x"));
	const struct vici_node *c = vici_node_get(root, "gre-1"), *ch;

	(void)state;
	assert_non_null(c);
	assert_int_equal(root->n_kids, 1);
	assert_string_equal(vici_node_str(c, "version"), "2");
	assert_string_equal(item(c, "local_addrs", 0), "192.0.2.1");
	assert_string_equal(item(c, "remote_addrs", 0), "198.51.100.1");
	assert_string_equal(item(c, "proposals", 0), "aes256gcm16-prfsha384-ecp384");
	assert_string_equal(item(c, "proposals", 1), "aes128-sha256-modp2048");
	assert_string_equal(vici_node_str(c, "rekey_time"), "14400");
	assert_string_equal(vici_node_str(c, "dpd_delay"), "10");
	assert_string_equal(vici_node_str(c, "encap"), "no");
	assert_string_equal(vici_node_str(vici_node_get(c, "local"), "auth"), "psk");
	/* no ids in the intent: the underlay addresses are the identities */
	assert_string_equal(vici_node_str(vici_node_get(c, "local"), "id"), "192.0.2.1");
	assert_string_equal(vici_node_str(vici_node_get(c, "remote"), "id"), "198.51.100.1");
	ch = child_of(c, "gre-1-x");
	assert_non_null(ch);
	assert_null(vici_node_get(ch, "mark_in"));	/* GRE policies carry no mark */
	assert_string_equal(vici_node_str(ch, "mode"), "transport");
	assert_string_equal(vici_node_str(ch, "policies"), "no");
	assert_string_equal(vici_node_str(ch, "reqid"), "65537");
	assert_string_equal(item(ch, "esp_proposals", 0), "aes256gcm16");
	assert_null(vici_node_get(ch, "ah_proposals"));
	assert_string_equal(item(ch, "local_ts", 0), "dynamic[gre]");
	assert_string_equal(item(ch, "remote_ts", 0), "dynamic[gre]");
	assert_string_equal(vici_node_str(ch, "rekey_time"), "3600");
	assert_string_equal(vici_node_str(ch, "start_action"), "none");
	assert_string_equal(vici_node_str(ch, "dpd_action"), "clear");
	vici_node_free(root);
	intent_free(in);
}

/* auth x509: public keys both ways, the names as identities, the certificate sent
 * unasked; and the switch gives the tunnel (only it) a new child name, so its conn is
 * reloaded and renegotiated once. */
static void test_conn_x509(void **state)
{
	struct intent *in = load_intent();
	struct intent_tunnel *t = &in->tunnels[0];
	char before[IKE_CHILD_MAX + 1], after[IKE_CHILD_MAX + 1], other[IKE_CHILD_MAX + 1];
	char other2[IKE_CHILD_MAX + 1];
	struct vici_node *root;
	const struct vici_node *c;

	(void)state;
	assert_int_equal(ike_child_name(t, NULL, before, sizeof(before)), 0);
	assert_int_equal(ike_child_name(&in->tunnels[1], NULL, other, sizeof(other)), 0);
	t->sec.auth = INTENT_AUTH_X509;
	t->sec.local_id = strdup("paris");
	t->sec.remote_id = strdup("lyon");
	assert_int_equal(ike_child_name(t, NULL, after, sizeof(after)), 0);
	/* A psk tunnel's conn does not depend on the CA: nothing reloads for it. */
	assert_int_equal(ike_child_name(&in->tunnels[1], "CA", other2, sizeof(other2)), 0);
	assert_string_not_equal(before, after);
	assert_string_equal(other, other2);
	/* A new CA re-pins (and so renegotiates) the certificate tunnels. */
	assert_int_equal(ike_child_name(t, "CA", other2, sizeof(other2)), 0);
	assert_string_not_equal(after, other2);
	root = decode(ike_conn_msg(t, "-----BEGIN CERTIFICATE-----\n", "x"));
	c = vici_node_get(root, "gre-1");
	assert_string_equal(vici_node_str(c, "send_cert"), "always");
	assert_string_equal(vici_node_str(vici_node_get(c, "local"), "auth"), "pubkey");
	assert_string_equal(vici_node_str(vici_node_get(c, "remote"), "auth"), "pubkey");
	assert_string_equal(vici_node_str(vici_node_get(c, "local"), "id"), "paris");
	assert_string_equal(vici_node_str(vici_node_get(c, "remote"), "id"), "lyon");
	assert_string_equal(item(vici_node_get(c, "remote"), "cacerts", 0),
			    "-----BEGIN CERTIFICATE-----\n");
	assert_null(vici_node_get(vici_node_get(c, "local"), "cacerts"));
	vici_node_free(root);
	intent_free(in);
}

static void test_conn_vti_tunnel_nat(void **state)
{
	struct intent *in = load_intent();
	struct vici_node *root = decode(ike_conn_msg(&in->tunnels[1], NULL, "c"));
	const struct vici_node *c = vici_node_get(root, "vti-2"), *ch = child_of(c, "c");

	(void)state;
	assert_string_equal(vici_node_str(c, "encap"), "yes");
	assert_string_equal(vici_node_str(vici_node_get(c, "local"), "id"), "hub1.example");
	assert_string_equal(vici_node_str(vici_node_get(c, "remote"), "id"), "spoke2.example");
	assert_string_equal(vici_node_str(ch, "mode"), "tunnel");
	assert_string_equal(vici_node_str(ch, "reqid"), "65538");
	assert_string_equal(item(ch, "local_ts", 0), "0.0.0.0/0");
	assert_string_equal(item(ch, "remote_ts", 0), "0.0.0.0/0");
	/* charon names the VTI's marked policies when it reads their use times */
	assert_string_equal(vici_node_str(ch, "mark_in"), "2/0xffffffff");
	assert_string_equal(vici_node_str(ch, "mark_out"), "2/0xffffffff");
	/* the initiator of an always-on tunnel restarts it when DPD finds the peer dead */
	assert_string_equal(vici_node_str(ch, "dpd_action"), "restart");
	vici_node_free(root);
	intent_free(in);
}

static void test_conn_ah(void **state)
{
	struct intent *in = load_intent();
	struct vici_node *root = decode(ike_conn_msg(&in->tunnels[2], NULL, "c"));
	const struct vici_node *ch = child_of(vici_node_get(root, "ah-3"), "c");

	(void)state;
	assert_string_equal(item(ch, "ah_proposals", 0), "aes256gcm16");
	assert_null(vici_node_get(ch, "esp_proposals"));
	/* always-on, but the peer initiates: no restart from this side */
	assert_string_equal(vici_node_str(ch, "dpd_action"), "clear");
	vici_node_free(root);
	intent_free(in);
}

static void test_shared(void **state)
{
	struct intent *in = load_intent();
	struct vici_node *n = decode(ike_shared_msg(&in->tunnels[1]));
	char name[IKE_SHARED_MAX + 1];

	(void)state;
	assert_string_equal(vici_node_str(n, "id"), "gresec-vti-2");
	assert_string_equal(vici_node_str(n, "type"), "IKE");
	assert_string_equal(vici_node_str(n, "data"), "0123456789abcdef-vti-2");
	assert_string_equal(item(n, "owners", 0), "hub1.example");
	assert_string_equal(item(n, "owners", 1), "spoke2.example");
	ike_shared_name(&in->tunnels[0], name, sizeof(name));
	assert_string_equal(name, "gresec-gre-1");
	vici_node_free(n);
	intent_free(in);
}

static void test_child_name_hash(void **state)
{
	struct intent *in = load_intent();
	struct intent_tunnel *t = &in->tunnels[0];
	char a[IKE_CHILD_MAX + 1], b[IKE_CHILD_MAX + 1];
	char *old_psk;

	(void)state;
	assert_int_equal(ike_child_name(t, NULL, a, sizeof(a)), 0);
	assert_int_equal(strlen(a), strlen("gre-1-") + IKE_HASH_HEX);
	assert_memory_equal(a, "gre-1-", 6);
	assert_int_equal(ike_child_name(t, NULL, b, sizeof(b)), 0);
	assert_string_equal(a, b);
	/* routing-only fields do not touch charon */
	t->mtu = 1300;
	t->key = 77;
	assert_int_equal(ike_child_name(t, NULL, b, sizeof(b)), 0);
	assert_string_equal(a, b);
	/* every IKE parameter does; the PSK does not (a new key keeps the SAs) */
	t->sec.child_lifetime = 1800;
	assert_int_equal(ike_child_name(t, NULL, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	t->sec.child_lifetime = 3600;
	t->reqid = 65600;
	assert_int_equal(ike_child_name(t, NULL, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	t->reqid = 65537;
	old_psk = t->psk;
	t->psk = strdup("another-psk-0123456789");
	assert_int_equal(ike_child_name(t, NULL, b, sizeof(b)), 0);
	assert_string_equal(a, b);
	/* the name agents before psk_encoding gave: tag 1, psk hashed too */
	assert_int_equal(ike_child_name_legacy(t, b, sizeof(b)), 0);
	assert_string_not_equal(a, b);
	free(t->psk);
	t->psk = old_psk;
	assert_int_equal(ike_child_name_legacy(t, a, sizeof(a)), 0);
	assert_string_not_equal(a, b);
	/* pinned: the name an agent of the previous release computed for this conn */
	assert_string_equal(a, LEGACY_GRE_1);
	assert_int_equal(ike_child_name(t, NULL, b, 10), -ENAMETOOLONG);
	intent_free(in);
}

/* Plan lines as one string, for compact assertions. */
static char *plan_text(const struct intent *in, const struct ike_cur *cur, int want_rc)
{
	struct ike_plan *p = ike_plan_new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(ike_plan_compute(in, cur, p), want_rc);
	ike_plan_print(p, in, f);
	fclose(f);
	ike_plan_free(p);
	return buf;
}

/* charon holding exactly what in wants, with SAs up where up is true. */
static struct ike_cur *cur_matching(const struct intent *in, bool up)
{
	struct ike_cur *cur = ike_cur_new();

	for (size_t i = 0; i < in->n_tunnels; i++) {
		char child[IKE_CHILD_MAX + 1], shared[IKE_SHARED_MAX + 1];
		uint8_t fp[IKE_PSK_FP_LEN];
		struct ike_cur_conn *c;

		assert_int_equal(ike_child_name(&in->tunnels[i], NULL, child, sizeof(child)), 0);
		c = ike_cur_add_conn(cur, in->tunnels[i].id, child);
		assert_true(c->owned);
		c->sa_up = up;
		ike_shared_name(&in->tunnels[i], shared, sizeof(shared));
		assert_int_equal(ike_cur_add_shared(cur, shared), 0);
		assert_int_equal(ike_psk_fp(&in->tunnels[i], fp), 0);
		ike_cur_set_shared_fp(cur, shared, fp);
	}
	return cur;
}

static void test_plan_from_empty(void **state)
{
	struct intent *in = load_intent();
	struct ike_cur *cur = ike_cur_new();
	char *t = plan_text(in, cur, 0);
	char child[IKE_CHILD_MAX + 1], want[1024];

	(void)state;
	assert_int_equal(ike_child_name(&in->tunnels[1], NULL, child, sizeof(child)), 0);
	snprintf(want, sizeof(want), "ike initiate vti-2 child %s\n", child);
	/* shared keys before conns, sorted; only the always-on initiator is started */
	assert_non_null(strstr(t,
		"ike load-shared gresec-ah-3 owners 192.0.2.1 198.51.100.3\n"
		"ike load-shared gresec-gre-1 owners 192.0.2.1 198.51.100.1\n"
		"ike load-shared gresec-vti-2 owners hub1.example spoke2.example\n"
		"ike load-conn ah-3 child ah-3-"));
	assert_non_null(strstr(t, " 192.0.2.1->198.51.100.1 transport esp reqid 65537 start on-demand initiator\n"));
	assert_non_null(strstr(t, " tunnel esp reqid 65538 start always initiator encap\n"));
	assert_non_null(strstr(t, " transport ah reqid 65539 start always\n"));
	assert_non_null(strstr(t, want));
	assert_null(strstr(t, "initiate gre-1"));
	assert_null(strstr(t, "initiate ah-3"));
	assert_null(strstr(t, "0123456789abcdef"));	/* never a PSK */
	free(t);
	ike_cur_free(cur);
	intent_free(in);
}

static void test_plan_restart_is_empty(void **state)
{
	struct intent *in = load_intent();
	struct ike_cur *cur = cur_matching(in, true);
	char *t = plan_text(in, cur, 0);

	(void)state;
	assert_string_equal(t, "");
	free(t);
	ike_cur_free(cur);
	/* the same, with the always-on tunnel down: only its start */
	cur = cur_matching(in, false);
	t = plan_text(in, cur, 0);
	assert_non_null(strstr(t, "ike initiate vti-2 child vti-2-"));
	assert_int_equal(strchr(t, '\n') - t + 1, (long)strlen(t));	/* one line */
	free(t);
	/* connecting counts as on its way: nothing */
	cur->conns[1].sa_connecting = true;
	t = plan_text(in, cur, 0);
	assert_string_equal(t, "");
	free(t);
	ike_cur_free(cur);
	intent_free(in);
}

static void test_plan_changed_and_missing_key(void **state)
{
	struct intent *in = load_intent();
	struct ike_cur *cur = cur_matching(in, true);
	char *t;

	(void)state;
	/* charon's gre-1 was loaded from other parameters */
	strcpy(cur->conns[0].child, "gre-1-0000000000000000");
	/* vti-2's key went missing (charon restarted its credentials) */
	free(cur->shared[1]);
	cur->shared[1] = strdup("unrelated-key");
	t = plan_text(in, cur, 0);
	assert_non_null(strstr(t, "ike terminate gre-1\n"));
	assert_non_null(strstr(t, "ike load-shared gresec-gre-1 "));
	assert_non_null(strstr(t, "ike load-conn gre-1 child gre-1-"));
	assert_null(strstr(t, "initiate gre-1"));	/* on-demand: the next packet */
	assert_non_null(strstr(t, "ike load-shared gresec-vti-2 "));
	assert_null(strstr(t, "load-conn vti-2"));
	assert_null(strstr(t, "ah-3"));
	/* terminate comes first */
	assert_true(strstr(t, "ike terminate gre-1") == t);
	free(t);
	ike_cur_free(cur);
	intent_free(in);
}

/* A new key (rotation, or the move to the hex form) is a load-shared only: the conn
 * and its SAs stay, the next IKE_SA authenticates with the new key. */
static void test_plan_new_key_keeps_sas(void **state)
{
	struct intent *in = load_intent();
	struct ike_cur *cur = cur_matching(in, true);
	char *t;

	(void)state;
	free(in->tunnels[1].psk);
	in->tunnels[1].psk = strdup("0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	in->tunnels[1].psk_encoding = INTENT_PSK_HEX;
	t = plan_text(in, cur, 0);
	assert_string_equal(t, "ike load-shared gresec-vti-2 owners hub1.example spoke2.example\n");
	free(t);
	ike_cur_free(cur);
	/* A key whose fingerprint the agent does not know (it restarted): loaded again,
	 * nothing else. */
	cur = cur_matching(in, true);
	cur->shared_fp[0].known = false;
	t = plan_text(in, cur, 0);
	assert_string_equal(t, "ike load-shared gresec-gre-1 owners 192.0.2.1 198.51.100.1\n");
	free(t);
	ike_cur_free(cur);
	intent_free(in);
}

/* An agent upgraded over conns its predecessor loaded: they are renamed (load-conn),
 * not renegotiated; a really changed conn still is. */
static void test_plan_legacy_conn_renamed(void **state)
{
	struct intent *in = load_intent();
	struct ike_cur *cur = cur_matching(in, true);
	char *t;

	(void)state;
	strcpy(cur->conns[0].child, LEGACY_GRE_1);
	assert_int_equal(ike_child_name_legacy(&in->tunnels[1], cur->conns[1].child,
					       sizeof(cur->conns[1].child)), 0);
	t = plan_text(in, cur, 0);
	assert_non_null(strstr(t, "ike load-conn gre-1 child gre-1-"));
	assert_non_null(strstr(t, "ike load-conn vti-2 child vti-2-"));
	assert_null(strstr(t, "terminate"));
	assert_null(strstr(t, "initiate"));	/* vti-2 is always-on and up: left alone */
	free(t);
	/* the legacy name of another psk is another conn: renegotiated */
	free(in->tunnels[0].psk);
	in->tunnels[0].psk = strdup("a-different-psk-0123");
	t = plan_text(in, cur, 0);
	assert_non_null(strstr(t, "ike terminate gre-1\n"));
	free(t);
	ike_cur_free(cur);
	intent_free(in);
}

/* psk_encoding hex: charon gets the bytes the digits denote, not the characters. */
static void test_shared_hex(void **state)
{
	struct intent *in = load_intent();
	struct intent_tunnel *t = &in->tunnels[0];
	static const uint8_t want[32] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0xde, 0xad, 0xbe, 0xef };
	struct vici_node *n;
	const struct vici_node *d;
	uint8_t fa[IKE_PSK_FP_LEN], fb[IKE_PSK_FP_LEN];

	(void)state;
	free(t->psk);
	t->psk = strdup("0x00112233445566778899AABBCCDDEEFFdeadbeef000000000000000000000000");
	assert_int_equal(ike_psk_fp(t, fa), 0);
	t->psk_encoding = INTENT_PSK_HEX;
	n = decode(ike_shared_msg(t));
	d = vici_node_get(n, "data");
	assert_non_null(d);
	assert_int_equal(d->len, 32);
	assert_memory_equal(d->value, want, 32);
	/* the fingerprint is of the bytes charon gets: another form, another key */
	assert_int_equal(ike_psk_fp(t, fb), 0);
	assert_memory_not_equal(fa, fb, IKE_PSK_FP_LEN);
	vici_node_free(n);
	/* not hex where it must be: no message at all (never a key charon gets wrong) */
	t->psk[5] = 'g';
	assert_null(ike_shared_msg(t));
	assert_int_equal(ike_psk_fp(t, fb), -EINVAL);
	intent_free(in);
}

/* A last_error goes once the tunnel has come up (or rekeyed) after it, and is up. */
static void test_error_clears_once_up_since(void **state)
{
	struct ike_status st = { .id = "gre-1", .ike_state = IKE_SA_ESTABLISHED,
				 .child_state = CHILD_SA_INSTALLED, .errors = 1 };

	(void)state;
	strcpy(st.last_error, "received AUTHENTICATION_FAILED notify error");
	/* up, but nothing came up since the error: the error may be about this SA */
	assert_false(ike_events_clear_error(&st));
	assert_string_not_equal(st.last_error, "");
	st.up_since_error = true;
	st.child_state = CHILD_SA_NONE;
	assert_false(ike_events_clear_error(&st));	/* not up (yet) */
	st.child_state = CHILD_SA_INSTALLED;
	assert_true(ike_events_clear_error(&st));
	assert_string_equal(st.last_error, "");
	assert_int_equal(st.errors, 1);			/* the count stays */
	assert_false(ike_events_clear_error(&st));
}

static void test_plan_removed_and_foreign(void **state)
{
	struct intent *in = load_intent();
	struct ike_cur *cur = cur_matching(in, true);
	struct ike_cur_conn *gone, *foreign;
	char *t;

	(void)state;
	gone = ike_cur_add_conn(cur, "old-9", "old-9-0123456789abcdef");
	assert_true(gone->owned);
	gone->sa_up = true;
	assert_non_null(ike_cur_add_conn(cur, "old-10", "old-10-0123456789abcdef"));
	foreign = ike_cur_add_conn(cur, "admin-conn", "admin-child");
	assert_false(foreign->owned);
	assert_false(ike_cur_add_conn(cur, "x", "x-0123456789ABCDEF")->owned);
	assert_int_equal(ike_cur_add_shared(cur, "gresec-old-9"), 0);
	assert_int_equal(ike_cur_add_shared(cur, "admin-key"), 0);
	t = plan_text(in, cur, 0);
	assert_string_equal(t,
		"ike terminate old-9\n"
		"ike unload-conn old-10\n"
		"ike unload-conn old-9\n"
		"ike unload-shared gresec-old-9\n");
	free(t);
	/* purge: everything owned goes, nothing foreign */
	t = plan_text(NULL, cur, 0);
	assert_non_null(strstr(t, "ike unload-conn gre-1\n"));
	assert_non_null(strstr(t, "ike unload-shared gresec-vti-2\n"));
	assert_null(strstr(t, "admin"));
	assert_null(strstr(t, "unload-conn x\n"));
	free(t);
	ike_cur_free(cur);
	intent_free(in);
}

static void test_plan_foreign_name_clash(void **state)
{
	struct intent *in = load_intent();
	struct ike_cur *cur = ike_cur_new();
	char *t;

	(void)state;
	assert_non_null(ike_cur_add_conn(cur, "gre-1", "someone-elses"));
	t = plan_text(in, cur, 0);
	assert_non_null(strstr(t, "fail tunnel gre-1: charon has a connection named gre-1"));
	assert_null(strstr(t, "load-conn gre-1"));
	assert_null(strstr(t, "gresec-gre-1"));
	assert_non_null(strstr(t, "load-conn vti-2"));
	free(t);
	ike_cur_free(cur);
	intent_free(in);
}

static struct vici_node *list_sa(const char *ike, const char *state, const char *cstate,
				 const char *bytes_in)
{
	struct vici_msg *m = vici_msg_new();

	vici_msg_section(m, ike);
	vici_msg_kv(m, "state", state);
	vici_msg_section(m, "child-sas");
	vici_msg_section(m, "c-1");
	vici_msg_kv(m, "state", cstate);
	vici_msg_kv(m, "reqid", "65537");
	vici_msg_kv(m, "bytes-in", bytes_in);
	vici_msg_kv(m, "bytes-out", "20");
	vici_msg_kv(m, "packets-in", "3");
	vici_msg_kv(m, "packets-out", "4");
	vici_msg_end(m);
	vici_msg_end(m);
	vici_msg_end(m);
	return decode(m);
}

static void test_events_table(void **state)
{
	struct intent *in = load_intent();
	struct ike_events *ev = ike_events_new("unix:///nonexistent");
	struct vici_node *a = list_sa("gre-1", "ESTABLISHED", "INSTALLED", "100");
	struct vici_node *b = list_sa("gre-1", "CONNECTING", "CREATED", "5");
	struct vici_node *x = list_sa("not-ours", "ESTABLISHED", "INSTALLED", "1");
	const struct ike_status *st;
	json_t *j;

	(void)state;
	assert_int_equal(ike_events_track(ev, in), 0);
	assert_true(ike_events_take_dirty(ev));
	assert_false(ike_events_take_dirty(ev));
	st = ike_events_get(ev, "gre-1");
	assert_int_equal(st->ike_state, IKE_SA_NONE);
	assert_false(ike_events_up(ev, "gre-1"));
	ike_events_apply_sa(ev, b);
	assert_true(ike_events_connecting(ev, "gre-1"));
	ike_events_apply_sa(ev, a);	/* a second IKE_SA of the tunnel: the best wins */
	ike_events_apply_sa(ev, x);
	assert_int_equal(st->ike_state, IKE_SA_ESTABLISHED);
	assert_int_equal(st->child_state, CHILD_SA_INSTALLED);
	assert_true(ike_events_up(ev, "gre-1"));
	assert_false(ike_events_connecting(ev, "gre-1"));
	assert_int_equal(st->bytes_in, 100);	/* only installed children count */
	assert_int_equal(st->packets_out, 4);
	assert_int_equal(st->reqid, 65537);
	assert_null(ike_events_get(ev, "not-ours"));
	ike_events_set_error(ev, "gre-1", "initiate: %s", "establishing CHILD_SA failed");
	j = ike_events_status_json(ev, "gre-1");
	assert_string_equal(json_string_value(json_object_get(j, "ike_state")), "ESTABLISHED");
	assert_int_equal(json_integer_value(json_object_get(j, "bytes_in")), 100);
	assert_string_equal(json_string_value(json_object_get(j, "last_error")),
			    "initiate: establishing CHILD_SA failed");
	json_decref(j);
	assert_null(ike_events_status_json(ev, "nope"));
	/* a closed events connection cannot refresh */
	assert_int_equal(ike_events_refresh_one(ev, "gre-1"), -ENOTCONN);
	vici_node_free(a);
	vici_node_free(b);
	vici_node_free(x);
	ike_events_free(ev);
	intent_free(in);
}

static void test_acquire_without_intent(void **state)
{
	struct ike *ike = ike_new("unix:///nonexistent/charon.vici");

	(void)state;
	assert_int_equal(ike_acquire(ike, 65537, 1000), -ENOENT);
	assert_int_equal(ike_tick(ike, 1000), 0);
	assert_int_equal(ike_next_timeout_ms(ike, 1000), -1);
	assert_int_equal(ike_apply(ike, NULL, NULL), -ENOENT);	/* no charon there */
	ike_free(ike);
	ike_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conn_gre_transport),
		cmocka_unit_test(test_conn_vti_tunnel_nat),
		cmocka_unit_test(test_conn_x509),
		cmocka_unit_test(test_conn_ah),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_child_name_hash),
		cmocka_unit_test(test_plan_from_empty),
		cmocka_unit_test(test_plan_restart_is_empty),
		cmocka_unit_test(test_plan_changed_and_missing_key),
		cmocka_unit_test(test_plan_new_key_keeps_sas),
		cmocka_unit_test(test_plan_legacy_conn_renamed),
		cmocka_unit_test(test_shared_hex),
		cmocka_unit_test(test_error_clears_once_up_since),
		cmocka_unit_test(test_plan_removed_and_foreign),
		cmocka_unit_test(test_plan_foreign_name_clash),
		cmocka_unit_test(test_events_table),
		cmocka_unit_test(test_acquire_without_intent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
