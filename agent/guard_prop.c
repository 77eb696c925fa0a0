/* The algorithms the agent lets charon negotiate, whatever its intent asks for: an
 * allow-list in the spirit of RFC 8221 (ESP) and RFC 8247 (IKEv2), stricter than the
 * set charon parses. What is not listed is refused; the well-known weak ones get their
 * own reason, so an operator sees why at once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"

enum guard_cls { G_ENC, G_AEAD, G_GMAC, G_INTEG, G_PRF, G_KE, G_KE_NONE, G_ESN };

struct guard_kw {
	const char *words;	/* space-separated */
	enum guard_cls cls;
};

static const struct guard_kw guard_allowed[] = {
	{ "aes aes128 aes192 aes256 aes128ctr aes192ctr aes256ctr", G_ENC },
	{ "aes128gcm aes128gcm16 aes128gcm128 aes128gcm12 aes128gcm96 "
	  "aes192gcm aes192gcm16 aes192gcm128 aes192gcm12 aes192gcm96 "
	  "aes256gcm aes256gcm16 aes256gcm128 aes256gcm12 aes256gcm96 "
	  "aes128ccm aes128ccm16 aes128ccm128 aes128ccm12 aes128ccm96 "
	  "aes192ccm aes192ccm16 aes192ccm128 aes192ccm12 aes192ccm96 "
	  "aes256ccm aes256ccm16 aes256ccm128 aes256ccm12 aes256ccm96 chacha20poly1305", G_AEAD },
	{ "aes128gmac aes192gmac aes256gmac", G_GMAC },
	{ "sha256 sha2_256 sha384 sha2_384 sha512 sha2_512 aesxcbc aescmac", G_INTEG },
	{ "prfsha256 prfsha384 prfsha512 prfaesxcbc prfaescmac", G_PRF },
	{ "modp2048 modp3072 modp4096 modp6144 modp8192 ecp256 ecp384 ecp521 ecp256bp "
	  "ecp384bp ecp512bp curve25519 x25519 curve448 x448", G_KE },
	{ "none modpnone", G_KE_NONE },
	{ "esn noesn", G_ESN },
};

/* Refused with a reason of their own. */
static const struct {
	const char *words;
	const char *why;
} guard_weak[] = {
	{ "null", "null encryption" },
	{ "des 3des", "DES and 3DES (56-bit keys, 64-bit blocks)" },
	{ "md5 md5_128 prfmd5", "MD5" },
	{ "sha sha1 sha1_160 prfsha1", "SHA-1" },
	{ "modp768 modp1024 modp1536", "a MODP group of less than 2048 bits" },
	{ "modp1024s160 modp2048s224 modp2048s256", "a MODP group with a small subgroup (RFC 5114)" },
	{ "ecp192 ecp224 ecp224bp", "an elliptic curve of less than 256 bits" },
	{ "aes128gcm8 aes128gcm64 aes192gcm8 aes192gcm64 aes256gcm8 aes256gcm64 "
	  "aes128ccm8 aes128ccm64 aes192ccm8 aes192ccm64 aes256ccm8 aes256ccm64",
	  "an 8-byte ICV" },
	{ "sha256_96 sha2_256_96", "truncated SHA-256 (96 bits, not interoperable)" },
	{ "modpnull", "a test-only group without security" },
};

#define GUARD_PROP_MAX 1024

/* tok (len bytes) is one of the space-separated words. */
static bool guard_word_in(const char *words, const char *tok, size_t len)
{
	for (const char *w = words; *w;) {
		const char *e = strchrnul(w, ' ');

		if ((size_t)(e - w) == len && !strncmp(w, tok, len))
			return true;
		w = *e ? e + 1 : e;
	}
	return false;
}

/* What one proposal holds, token by token. */
struct guard_prop {
	enum guard_prop_kind kind;
	bool enc, aead, integ, ke;
};

static const char *guard_kind_name(enum guard_prop_kind k)
{
	return k == GUARD_PROP_IKE ? "IKE" : k == GUARD_PROP_ESP ? "ESP" : "AH";
}

/* Whether a keyword of this class belongs in this kind of proposal; notes it. */
static const char *guard_prop_note(struct guard_prop *p, enum guard_cls cls)
{
	bool ike = p->kind == GUARD_PROP_IKE, ah = p->kind == GUARD_PROP_AH;

	switch (cls) {
	case G_ENC:
	case G_AEAD:
		if (ah)
			return "AH does not encrypt";
		*(cls == G_ENC ? &p->enc : &p->aead) = true;
		return NULL;
	case G_GMAC:
		if (!ah)
			return "AES-GMAC authenticates only: no encryption";
		p->integ = true;
		return NULL;
	case G_INTEG:
		p->integ = true;
		return NULL;
	case G_PRF:
		return ike ? NULL : "a PRF belongs in IKE proposals only";
	case G_KE:
		p->ke = true;
		return NULL;
	case G_KE_NONE:
		return ike ? "IKE needs a key exchange" : NULL;
	case G_ESN:
		return ike ? "ESN belongs in ESP and AH proposals only" : NULL;
	}
	return "unknown class";
}

static int guard_prop_token(struct guard_prop *p, const char *tok, size_t len, char *why,
			    size_t whylen)
{
	const char *bad = NULL;

	for (size_t i = 0; i < sizeof(guard_weak) / sizeof(guard_weak[0]); i++)
		if (guard_word_in(guard_weak[i].words, tok, len)) {
			snprintf(why, whylen, "%s proposal: '%.*s' is %s", guard_kind_name(p->kind),
				 (int)len, tok, guard_weak[i].why);
			return -EPERM;
		}
	for (size_t i = 0; i < sizeof(guard_allowed) / sizeof(guard_allowed[0]); i++)
		if (guard_word_in(guard_allowed[i].words, tok, len)) {
			if (!(bad = guard_prop_note(p, guard_allowed[i].cls)))
				return 0;
			snprintf(why, whylen, "%s proposal: '%.*s': %s", guard_kind_name(p->kind),
				 (int)len, tok, bad);
			return -EPERM;
		}
	/* tok is from a validated intent, but print it safely all the same. */
	snprintf(why, whylen, "%s proposal: '%.*s' is not in the allowed set",
		 guard_kind_name(p->kind), len > 32 ? 32 : (int)len, tok);
	for (char *c = why; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	return -EPERM;
}

/* The proposal as a whole must protect: encryption with integrity (or an AEAD) for IKE
 * and ESP, integrity for AH, and a key exchange for IKE. */
static int guard_prop_whole(const struct guard_prop *p, char *why, size_t len)
{
	const char *k = guard_kind_name(p->kind);

	if (p->kind == GUARD_PROP_AH && !p->integ)
		return snprintf(why, len, "AH proposal: no integrity algorithm"), -EPERM;
	if (p->kind != GUARD_PROP_AH && !p->aead && !(p->enc && p->integ))
		return snprintf(why, len, "%s proposal: needs an AEAD, or encryption and integrity",
				k), -EPERM;
	if (p->kind == GUARD_PROP_IKE && !p->ke)
		return snprintf(why, len, "IKE proposal: no key exchange"), -EPERM;
	return 0;
}

int guard_proposal_check(const char *prop, enum guard_prop_kind kind, char *why, size_t len)
{
	struct guard_prop p = { .kind = kind };
	size_t n = strlen(prop);
	int rc;

	if (!n || n > GUARD_PROP_MAX)
		return snprintf(why, len, "%s proposal: empty or longer than %d", guard_kind_name(kind),
				GUARD_PROP_MAX), -EPERM;
	for (const char *t = prop; *t;) {
		const char *e = strchrnul(t, '-');

		if ((rc = guard_prop_token(&p, t, (size_t)(e - t), why, len)))
			return rc;
		t = *e ? e + 1 : e;
	}
	if (prop[n - 1] == '-')
		return guard_prop_token(&p, "", 0, why, len);
	return guard_prop_whole(&p, why, len);
}
