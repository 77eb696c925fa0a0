/* The algorithms gresec lets charon negotiate: an allow-list in the spirit of RFC 8221
 * (ESP) and RFC 8247 (IKEv2), stricter than the set charon parses. The controller
 * refuses a profile outside it, the agent an intent outside it. What is not listed is
 * refused; the well-known weak ones get their own reason, so an operator sees why. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proposal.h"

enum proposal_cls { PC_ENC, PC_AEAD, PC_GMAC, PC_INTEG, PC_PRF, PC_KE, PC_KE_NONE, PC_ESN };

struct proposal_kw {
	const char *words;	/* space-separated */
	enum proposal_cls cls;
};

static const struct proposal_kw proposal_allowed[] = {
	{ "aes aes128 aes192 aes256 aes128ctr aes192ctr aes256ctr", PC_ENC },
	{ "aes128gcm aes128gcm16 aes128gcm128 aes128gcm12 aes128gcm96 "
	  "aes192gcm aes192gcm16 aes192gcm128 aes192gcm12 aes192gcm96 "
	  "aes256gcm aes256gcm16 aes256gcm128 aes256gcm12 aes256gcm96 "
	  "aes128ccm aes128ccm16 aes128ccm128 aes128ccm12 aes128ccm96 "
	  "aes192ccm aes192ccm16 aes192ccm128 aes192ccm12 aes192ccm96 "
	  "aes256ccm aes256ccm16 aes256ccm128 aes256ccm12 aes256ccm96 chacha20poly1305", PC_AEAD },
	{ "aes128gmac aes192gmac aes256gmac", PC_GMAC },
	{ "sha256 sha2_256 sha384 sha2_384 sha512 sha2_512 aesxcbc aescmac", PC_INTEG },
	{ "prfsha256 prfsha384 prfsha512 prfaesxcbc prfaescmac", PC_PRF },
	{ "modp2048 modp3072 modp4096 modp6144 modp8192 ecp256 ecp384 ecp521 ecp256bp "
	  "ecp384bp ecp512bp curve25519 x25519 curve448 x448", PC_KE },
	{ "none modpnone", PC_KE_NONE },
	{ "esn noesn", PC_ESN },
};

/* Refused with a reason of their own. */
static const struct {
	const char *words;
	const char *why;
} proposal_weak[] = {
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

#define PROPOSAL_MAX 1024

/* tok (len bytes) is one of the space-separated words. */
static bool proposal_word_in(const char *words, const char *tok, size_t len)
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
struct proposal_set {
	enum proposal_kind kind;
	bool enc, aead, integ, ke;
};

static const char *proposal_kind_name(enum proposal_kind k)
{
	return k == PROPOSAL_IKE ? "IKE" : k == PROPOSAL_ESP ? "ESP" : "AH";
}

/* Whether a keyword of this class belongs in this kind of proposal; notes it. */
static const char *proposal_note(struct proposal_set *p, enum proposal_cls cls)
{
	bool ike = p->kind == PROPOSAL_IKE, ah = p->kind == PROPOSAL_AH;

	switch (cls) {
	case PC_ENC:
	case PC_AEAD:
		if (ah)
			return "AH does not encrypt";
		*(cls == PC_ENC ? &p->enc : &p->aead) = true;
		return NULL;
	case PC_GMAC:
		if (!ah)
			return "AES-GMAC authenticates only: no encryption";
		p->integ = true;
		return NULL;
	case PC_INTEG:
		p->integ = true;
		return NULL;
	case PC_PRF:
		return ike ? NULL : "a PRF belongs in IKE proposals only";
	case PC_KE:
		p->ke = true;
		return NULL;
	case PC_KE_NONE:
		return ike ? "IKE needs a key exchange" : NULL;
	case PC_ESN:
		return ike ? "ESN belongs in ESP and AH proposals only" : NULL;
	}
	return "unknown class";
}

static int proposal_token(struct proposal_set *p, const char *tok, size_t len, char *why,
			    size_t whylen)
{
	const char *bad = NULL;

	for (size_t i = 0; i < sizeof(proposal_weak) / sizeof(proposal_weak[0]); i++)
		if (proposal_word_in(proposal_weak[i].words, tok, len)) {
			snprintf(why, whylen, "%s proposal: '%.*s' is %s", proposal_kind_name(p->kind),
				 (int)len, tok, proposal_weak[i].why);
			return -EPERM;
		}
	for (size_t i = 0; i < sizeof(proposal_allowed) / sizeof(proposal_allowed[0]); i++)
		if (proposal_word_in(proposal_allowed[i].words, tok, len)) {
			if (!(bad = proposal_note(p, proposal_allowed[i].cls)))
				return 0;
			snprintf(why, whylen, "%s proposal: '%.*s': %s", proposal_kind_name(p->kind),
				 (int)len, tok, bad);
			return -EPERM;
		}
	/* tok is from a validated intent, but print it safely all the same. */
	snprintf(why, whylen, "%s proposal: '%.*s' is not in the allowed set",
		 proposal_kind_name(p->kind), len > 32 ? 32 : (int)len, tok);
	for (char *c = why; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	return -EPERM;
}

/* The proposal as a whole must protect: encryption with integrity (or an AEAD) for IKE
 * and ESP, integrity for AH, and a key exchange for IKE. */
static int proposal_whole(const struct proposal_set *p, char *why, size_t len)
{
	const char *k = proposal_kind_name(p->kind);

	if (p->kind == PROPOSAL_AH && !p->integ)
		return snprintf(why, len, "AH proposal: no integrity algorithm"), -EPERM;
	if (p->kind != PROPOSAL_AH && !p->aead && !(p->enc && p->integ))
		return snprintf(why, len, "%s proposal: needs an AEAD, or encryption and integrity",
				k), -EPERM;
	if (p->kind == PROPOSAL_IKE && !p->ke)
		return snprintf(why, len, "IKE proposal: no key exchange"), -EPERM;
	return 0;
}

int proposal_policy(const char *prop, enum proposal_kind kind, char *why, size_t len)
{
	struct proposal_set p = { .kind = kind };
	size_t n = strlen(prop);
	int rc;

	if (!n || n > PROPOSAL_MAX)
		return snprintf(why, len, "%s proposal: empty or longer than %d", proposal_kind_name(kind),
				PROPOSAL_MAX), -EPERM;
	for (const char *t = prop; *t;) {
		const char *e = strchrnul(t, '-');

		if ((rc = proposal_token(&p, t, (size_t)(e - t), why, len)))
			return rc;
		t = *e ? e + 1 : e;
	}
	if (prop[n - 1] == '-')
		return proposal_token(&p, "", 0, why, len);
	return proposal_whole(&p, why, len);
}
