/* Peer configuration (controller/peer_conf.c, peer_alg.c): strongSwan proposals in
 * libreswan's spelling (each spelling was checked with libreswan 4.10's algparse; the
 * integration test runs algparse on rendered files), what libreswan cannot say, and the
 * rendering of an intent in both formats. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "intent.h"
#include "peer_conf.h"

static void alg_ok(const char *sw, enum proposal_kind k, const char *want, bool want_ke)
{
	char out[256], why[256];
	bool ke = !want_ke;

	if (peer_alg_libreswan(sw, k, out, sizeof(out), &ke, why, sizeof(why)) != 0)
		fail_msg("%s refused: %s", sw, why);
	assert_string_equal(out, want);
	assert_int_equal(ke, want_ke);
}

static void alg_refused(const char *sw, enum proposal_kind k, const char *word)
{
	char out[256], why[256] = "";
	bool ke;

	assert_int_equal(peer_alg_libreswan(sw, k, out, sizeof(out), &ke, why, sizeof(why)),
			 -ENOTSUP);
	if (!strstr(why, word))
		fail_msg("%s: reason '%s' lacks '%s'", sw, why, word);
}

static void test_spellings(void **state)
{
	(void)state;
	alg_ok("aes256gcm16-prfsha384-ecp384", PROPOSAL_IKE, "aes_gcm256-sha2_384-dh20", true);
	alg_ok("aes256-sha256-modp3072", PROPOSAL_IKE, "aes256-sha2_256-dh15", true);
	alg_ok("aes-sha512-curve25519", PROPOSAL_IKE, "aes128-sha2_512-dh31", true);
	alg_ok("chacha20poly1305-prfsha256-x25519", PROPOSAL_IKE,
	       "chacha20_poly1305-sha2_256-dh31", true);
	alg_ok("aes256-aes128-sha256-sha384-modp2048-ecp256", PROPOSAL_IKE,
	       "aes256+aes128-sha2_256+sha2_384-dh14+dh19", true);
	alg_ok("aes256gcm16-ecp384", PROPOSAL_ESP, "aes_gcm256-null-dh20", true);
	alg_ok("aes128gcm12", PROPOSAL_ESP, "aes_gcm_b128", false);
	alg_ok("aes192ccm16-modpnone", PROPOSAL_ESP, "aes_ccm192", false);
	alg_ok("aes256ctr-aescmac-esn", PROPOSAL_ESP, "aes_ctr256-aes_cmac", false);
	alg_ok("aes256-sha256-ecp256", PROPOSAL_ESP, "aes256-sha2_256-dh19", true);
	alg_ok("aes256gmac", PROPOSAL_ESP, "aes_gmac256", false);
	alg_ok("sha384-ecp384", PROPOSAL_AH, "sha2_384-dh20", true);
}

static void test_cannot_say(void **state)
{
	(void)state;
	alg_refused("aes256-sha256-ecp256bp", PROPOSAL_IKE, "ecp256bp");
	alg_refused("aes256-sha256-curve448", PROPOSAL_IKE, "curve448");
	alg_refused("aes256gcm16-prfaescmac-ecp256", PROPOSAL_IKE, "prfaescmac");
	alg_refused("aes256-sha256-prfsha384-ecp256", PROPOSAL_IKE, "PRF");
	alg_refused("aes256gcm16-ecp256", PROPOSAL_IKE, "PRF");
	alg_refused("aes256gcm16-ecp256-none", PROPOSAL_ESP, "PFS");
}

#define TUN(kind, mode, encap, child) \
	"{\"id\":\"gs7\",\"ifname\":\"gs7\",\"kind\":\"" kind "\",\"local\":\"192.0.2.2\"," \
	"\"remote\":\"192.0.2.1\",\"key\":7,\"ttl\":64,\"mtu\":1415," \
	"\"overlay\":{\"local\":\"100.64.0.1/31\",\"peer\":\"100.64.0.0/31\"},\"reqid\":65543," \
	"\"security\":{\"mode\":\"" mode "\",\"protocol\":\"esp\"," \
	"\"ike_proposals\":[\"aes256gcm16-prfsha384-ecp384\"],\"child_proposals\":" child "," \
	"\"ike_lifetime\":86400,\"child_lifetime\":3600,\"dpd_delay\":30,\"start\":\"on-demand\"," \
	"\"initiator\":false,\"udp_encap\":" encap "}," \
	"\"psk\":\"0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}"

static json_t *render(const char *tunnel, enum peer_conf_format f, int want, char *why, size_t wlen)
{
	char text[4096];
	struct intent *in = NULL;
	json_t *j, *out = NULL;
	char err[256];

	snprintf(text, sizeof(text), "{\"format\":1,\"site\":\"b\",\"revision\":4,\"tunnels\":[%s],"
		 "\"routes\":[{\"prefix\":\"10.1.0.0/24\",\"via\":\"gs7\",\"metric\":100}],\"spd\":[]}",
		 tunnel);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	if (intent_from_json(j, &in, err, sizeof(err)) != 0)
		fail_msg("intent: %s", err);
	json_decref(j);
	assert_int_equal(peer_conf_render(in, f, &out, why, wlen), want);
	intent_free(in);
	return out;
}

static const char *file(const json_t *conf, const char *name)
{
	const char *s = json_string_value(json_object_get(json_object_get(conf, "files"), name));

	assert_non_null(s);
	return s;
}

static void has(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("missing '%s' in:\n%s", want, text);
}

static void test_render_gre(void **state)
{
	char why[256];
	json_t *c = render(TUN("gre", "transport", "false", "[\"aes256gcm16-ecp384\"]"),
			   PEER_CONF_SWANCTL, 0, why, sizeof(why));

	(void)state;
	has(file(c, "swanctl.conf"), "\t\t\t\tlocal_ts = dynamic[gre]\n");
	has(file(c, "swanctl.conf"), "\t\tsecret = 0x00112233445566778899aabbccddeeff00112233"
	    "445566778899aabbccddeeff\n");
	has(file(c, "gresec-peer.sh"), "ip link add gs7 type gre local 192.0.2.2 remote 192.0.2.1 "
	    "ikey 7 okey 7 ttl 64 pmtudisc\n");
	has(file(c, "gresec-peer.sh"), "ip route replace 10.1.0.0/24 metric 100 dev gs7\n");
	has(file(c, "gresec-peer.sh"), "proto gre dir out priority 2000000000 mark 0 mask "
	    "0xffffffff action block\n");
	json_decref(c);
	c = render(TUN("gre", "transport", "false", "[\"aes256gcm16-ecp384\"]"),
		   PEER_CONF_LIBRESWAN, 0, why, sizeof(why));
	has(file(c, "ipsec.conf"), "\tesp=aes_gcm256-null-dh20\n\tpfs=yes\n");
	has(file(c, "ipsec.conf"), "\tsalifetime=3960s\n\trekeymargin=360s\n");
	has(file(c, "ipsec.secrets"), "192.0.2.2 192.0.2.1 : PSK 0x0011");
	json_decref(c);
}

static void test_render_vti_and_refusals(void **state)
{
	char why[256];
	json_t *c = render(TUN("vti", "tunnel", "false", "[\"aes256gcm16\"]"), PEER_CONF_LIBRESWAN,
			   0, why, sizeof(why));

	(void)state;
	has(file(c, "ipsec.conf"), "\tleftsubnet=0.0.0.0/0\n\trightsubnet=0.0.0.0/0\n"
	    "\tmark=7/0xffffffff\n");
	has(file(c, "ipsec.conf"), "\tpfs=no\n");
	has(file(c, "gresec-peer.sh"), "disable_policy=1\n");
	json_decref(c);
	assert_null(render(TUN("gre", "transport", "true", "[\"aes256gcm16-ecp384\"]"),
			   PEER_CONF_LIBRESWAN, -ENOTSUP, why, sizeof(why)));
	has(why, "NAT");
	c = render(TUN("gre", "transport", "true", "[\"aes256gcm16-ecp384\"]"), PEER_CONF_SWANCTL,
		   0, why, sizeof(why));
	has(file(c, "swanctl.conf"), "\t\tencap = yes\n");
	json_decref(c);
	assert_null(render(TUN("gre", "transport", "false",
			       "[\"aes256gcm16-ecp384\",\"aes256gcm16-ecp256\"]"),
			   PEER_CONF_LIBRESWAN, -ENOTSUP, why, sizeof(why)));
	has(why, "one PFS group");
	assert_null(render(TUN("gre", "transport", "false", "[\"aes256gcm16-ecp384\",\"aes256gcm16\"]"),
			   PEER_CONF_LIBRESWAN, -ENOTSUP, why, sizeof(why)));
	has(why, "PFS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_cannot_say),
		cmocka_unit_test(test_render_gre),
		cmocka_unit_test(test_render_vti_and_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
