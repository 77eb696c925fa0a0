/* strongSwan proposal strings (what profiles hold and charon is given) in libreswan's
 * ipsec.conf spelling, for the peer configuration of an unmanaged site. Only what the
 * allowed set (api/proposal.c) lets through needs a spelling; what libreswan 4.10
 * cannot express (brainpool and Curve448 groups, an AES-CMAC PRF, an IKE integrity
 * algorithm other than its PRF) is refused with the reason, never silently changed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "peer_conf.h"

enum peer_alg_class { PA_ENC, PA_AEAD, PA_INTEG, PA_PRF, PA_KE, PA_KE_NONE, PA_ESN };

struct peer_alg_name {
	const char *sw, *ls;
	enum peer_alg_class cls;
};

/* libreswan names the DH groups by their IANA number; "aes" alone is AES-128 in both. */
static const struct peer_alg_name peer_alg_names[] = {
	{ "aes", "aes128", PA_ENC }, { "chacha20poly1305", "chacha20_poly1305", PA_AEAD },
	{ "sha256", "sha2_256", PA_INTEG }, { "sha2_256", "sha2_256", PA_INTEG },
	{ "sha384", "sha2_384", PA_INTEG }, { "sha2_384", "sha2_384", PA_INTEG },
	{ "sha512", "sha2_512", PA_INTEG }, { "sha2_512", "sha2_512", PA_INTEG },
	{ "aesxcbc", "aes_xcbc", PA_INTEG }, { "aescmac", "aes_cmac", PA_INTEG },
	{ "prfsha256", "sha2_256", PA_PRF }, { "prfsha384", "sha2_384", PA_PRF },
	{ "prfsha512", "sha2_512", PA_PRF }, { "prfaesxcbc", "aes_xcbc", PA_PRF },
	{ "modp2048", "dh14", PA_KE }, { "modp3072", "dh15", PA_KE }, { "modp4096", "dh16", PA_KE },
	{ "modp6144", "dh17", PA_KE }, { "modp8192", "dh18", PA_KE }, { "ecp256", "dh19", PA_KE },
	{ "ecp384", "dh20", PA_KE }, { "ecp521", "dh21", PA_KE }, { "curve25519", "dh31", PA_KE },
	{ "x25519", "dh31", PA_KE }, { "none", "", PA_KE_NONE }, { "modpnone", "", PA_KE_NONE },
	{ "esn", "", PA_ESN }, { "noesn", "", PA_ESN },
};

/* aes<bits>[ctr|gcm<icv>|ccm<icv>|gmac]: libreswan's aes_gcm is the 16-byte ICV,
 * aes_gcm_b the 12-byte one (8-byte ICVs are not in the allowed set). */
static int peer_alg_aes(const char *t, char *out, size_t len, enum peer_alg_class *cls)
{
	unsigned bits, icv = 16;
	char mode[8] = "";
	int n = 0;

	if (sscanf(t, "aes%3u%n", &bits, &n) != 1 || (bits != 128 && bits != 192 && bits != 256))
		return -ENOENT;
	if (sscanf(t + n, "%3[a-z]%u", mode, &icv) < 0)
		mode[0] = '\0';
	if (icv == 128 || icv == 96)
		icv = icv / 8;
	*cls = PA_AEAD;
	if (!t[n]) {
		*cls = PA_ENC;
		snprintf(out, len, "aes%u", bits);
	} else if (!strcmp(t + n, "ctr")) {
		*cls = PA_ENC;
		snprintf(out, len, "aes_ctr%u", bits);
	} else if (!strcmp(t + n, "gmac")) {
		snprintf(out, len, "aes_gmac%u", bits);
	} else if ((!strcmp(mode, "gcm") || !strcmp(mode, "ccm")) && (icv == 16 || icv == 12)) {
		snprintf(out, len, "aes_%s%s%u", mode, icv == 12 ? "_b" : "", bits);
	} else {
		return -ENOENT;
	}
	return 0;
}

static int peer_alg_token(const char *t, char *out, size_t len, enum peer_alg_class *cls)
{
	for (size_t i = 0; i < sizeof(peer_alg_names) / sizeof(peer_alg_names[0]); i++) {
		if (!strcmp(t, peer_alg_names[i].sw)) {
			snprintf(out, len, "%s", peer_alg_names[i].ls);
			*cls = peer_alg_names[i].cls;
			return 0;
		}
	}
	return peer_alg_aes(t, out, len, cls);
}

/* "a+b" lists, one per class, as libreswan writes several algorithms of one kind. */
struct peer_alg_lists {
	char v[PA_ESN + 1][96];
};

static void peer_alg_append(struct peer_alg_lists *l, enum peer_alg_class c, const char *name)
{
	size_t n = strlen(l->v[c]);

	if (!*name || strstr(l->v[c], name))
		return;
	snprintf(l->v[c] + n, sizeof(l->v[c]) - n, "%s%s", n ? "+" : "", name);
}

static int peer_alg_split(const char *prop, struct peer_alg_lists *l, bool *ke_none,
			  char *why, size_t wlen)
{
	char tok[64], name[32];
	const char *p = prop;

	memset(l, 0, sizeof(*l));
	*ke_none = false;
	while (*p) {
		size_t n = strcspn(p, "-");
		enum peer_alg_class c;

		snprintf(tok, sizeof(tok), "%.*s", (int)(n < sizeof(tok) ? n : sizeof(tok) - 1), p);
		if (peer_alg_token(tok, name, sizeof(name), &c) < 0) {
			snprintf(why, wlen, "proposal '%s': libreswan has no '%s' (use a proposal "
				 "both can negotiate, or format=swanctl)", prop, tok);
			return -ENOTSUP;
		}
		if (c == PA_AEAD)
			c = PA_ENC, peer_alg_append(l, PA_AEAD, "y");
		*ke_none |= c == PA_KE_NONE;
		peer_alg_append(l, c, name);
		p += n + (p[n] == '-');
	}
	return 0;
}

/* IKE: ENCR-PRF-DH (libreswan derives integrity from the PRF, so the two must agree). */
static int peer_alg_ike(const char *prop, const struct peer_alg_lists *l, char *out,
			size_t len, char *why, size_t wlen)
{
	const char *prf = l->v[PA_PRF][0] ? l->v[PA_PRF] : l->v[PA_INTEG];

	if (l->v[PA_PRF][0] && l->v[PA_INTEG][0] && strcmp(l->v[PA_PRF], l->v[PA_INTEG])) {
		snprintf(why, wlen, "IKE proposal '%s': libreswan takes its integrity algorithm "
			 "from the PRF, and they differ here", prop);
		return -ENOTSUP;
	}
	if (!prf[0]) {
		snprintf(why, wlen, "IKE proposal '%s': name a PRF (prfsha256...) for libreswan", prop);
		return -ENOTSUP;
	}
	snprintf(out, len, "%s-%s-%s", l->v[PA_ENC], prf, l->v[PA_KE]);
	return 0;
}

int peer_alg_libreswan(const char *prop, enum proposal_kind kind, char *out, size_t len,
		       bool *has_ke, char *why, size_t wlen)
{
	struct peer_alg_lists l;
	bool ke_none;
	int r = peer_alg_split(prop, &l, &ke_none, why, wlen);
	const char *ke;

	if (r < 0)
		return r;
	*has_ke = l.v[PA_KE][0] != '\0';
	if (*has_ke && ke_none) {
		snprintf(why, wlen, "proposal '%s': PFS both with and without a group: libreswan "
			 "has one pfs= setting per connection", prop);
		return -ENOTSUP;
	}
	if (kind == PROPOSAL_IKE)
		return peer_alg_ike(prop, &l, out, len, why, wlen);
	ke = l.v[PA_KE];
	if (kind == PROPOSAL_AH)
		snprintf(out, len, "%s%s%s", l.v[PA_INTEG], *ke ? "-" : "", ke);
	else if (l.v[PA_AEAD][0])
		snprintf(out, len, "%s%s%s", l.v[PA_ENC], *ke ? "-null-" : "", ke);
	else
		snprintf(out, len, "%s-%s%s%s", l.v[PA_ENC], l.v[PA_INTEG], *ke ? "-" : "", ke);
	return 0;
}
