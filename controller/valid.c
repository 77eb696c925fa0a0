/* Validation helpers: DNS-label names and strongSwan proposal strings. The table-driven
 * object reader lives in valid_object.c... no: see the second half of this file. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "valid.h"

bool valid_name(const char *s)
{
	size_t n;

	if (!s)
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (n >= 63)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return n > 0 && s[0] != '-' && s[n - 1] != '-';
}

/* ---- strongSwan proposals ---- */

enum valid_kw_class {
	KW_ENC,			/* classic encryption */
	KW_ENC_NULL,		/* ENCR_NULL: integrity only, no confidentiality */
	KW_AEAD,		/* combined mode */
	KW_GMAC,		/* AEAD without confidentiality; AH's AES-GMAC */
	KW_INTEG,		/* integrity that implies an IKE PRF */
	KW_INTEG_NOPRF,		/* integrity with no matching PRF (truncated SHA-256) */
	KW_PRF,
	KW_KE,
	KW_KE_NONE,
	KW_ESN,
};

struct valid_kw {
	const char *name;
	enum valid_kw_class cls;
};

/* The keywords charon 5.9 (Debian 12) parses, from strongSwan's
 * proposal_keywords_static.txt, less modpnull, a test-only group with no security. */
static const struct valid_kw valid_kws[] = {
	{ "null", KW_ENC_NULL },
	{ "des", KW_ENC }, { "3des", KW_ENC }, { "cast128", KW_ENC },
	{ "aes", KW_ENC }, { "aes128", KW_ENC }, { "aes192", KW_ENC }, { "aes256", KW_ENC },
	{ "aes128ctr", KW_ENC }, { "aes192ctr", KW_ENC }, { "aes256ctr", KW_ENC },
	{ "blowfish", KW_ENC }, { "blowfish128", KW_ENC }, { "blowfish192", KW_ENC },
	{ "blowfish256", KW_ENC },
	{ "camellia", KW_ENC }, { "camellia128", KW_ENC }, { "camellia192", KW_ENC },
	{ "camellia256", KW_ENC }, { "camellia128ctr", KW_ENC }, { "camellia192ctr", KW_ENC },
	{ "camellia256ctr", KW_ENC },
	{ "serpent", KW_ENC }, { "serpent128", KW_ENC }, { "serpent192", KW_ENC },
	{ "serpent256", KW_ENC },
	{ "twofish", KW_ENC }, { "twofish128", KW_ENC }, { "twofish192", KW_ENC },
	{ "twofish256", KW_ENC },
	{ "aes128ccm8", KW_AEAD }, { "aes128ccm64", KW_AEAD }, { "aes128ccm12", KW_AEAD },
	{ "aes128ccm96", KW_AEAD }, { "aes128ccm16", KW_AEAD }, { "aes128ccm128", KW_AEAD },
	{ "aes128ccm", KW_AEAD },
	{ "aes192ccm8", KW_AEAD }, { "aes192ccm64", KW_AEAD }, { "aes192ccm12", KW_AEAD },
	{ "aes192ccm96", KW_AEAD }, { "aes192ccm16", KW_AEAD }, { "aes192ccm128", KW_AEAD },
	{ "aes192ccm", KW_AEAD },
	{ "aes256ccm8", KW_AEAD }, { "aes256ccm64", KW_AEAD }, { "aes256ccm12", KW_AEAD },
	{ "aes256ccm96", KW_AEAD }, { "aes256ccm16", KW_AEAD }, { "aes256ccm128", KW_AEAD },
	{ "aes256ccm", KW_AEAD },
	{ "aes128gcm8", KW_AEAD }, { "aes128gcm64", KW_AEAD }, { "aes128gcm12", KW_AEAD },
	{ "aes128gcm96", KW_AEAD }, { "aes128gcm16", KW_AEAD }, { "aes128gcm128", KW_AEAD },
	{ "aes128gcm", KW_AEAD },
	{ "aes192gcm8", KW_AEAD }, { "aes192gcm64", KW_AEAD }, { "aes192gcm12", KW_AEAD },
	{ "aes192gcm96", KW_AEAD }, { "aes192gcm16", KW_AEAD }, { "aes192gcm128", KW_AEAD },
	{ "aes192gcm", KW_AEAD },
	{ "aes256gcm8", KW_AEAD }, { "aes256gcm64", KW_AEAD }, { "aes256gcm12", KW_AEAD },
	{ "aes256gcm96", KW_AEAD }, { "aes256gcm16", KW_AEAD }, { "aes256gcm128", KW_AEAD },
	{ "aes256gcm", KW_AEAD },
	{ "camellia128ccm8", KW_AEAD }, { "camellia128ccm64", KW_AEAD },
	{ "camellia128ccm12", KW_AEAD }, { "camellia128ccm96", KW_AEAD },
	{ "camellia128ccm16", KW_AEAD }, { "camellia128ccm128", KW_AEAD },
	{ "camellia192ccm8", KW_AEAD }, { "camellia192ccm64", KW_AEAD },
	{ "camellia192ccm12", KW_AEAD }, { "camellia192ccm96", KW_AEAD },
	{ "camellia192ccm16", KW_AEAD }, { "camellia192ccm128", KW_AEAD },
	{ "camellia256ccm8", KW_AEAD }, { "camellia256ccm64", KW_AEAD },
	{ "camellia256ccm12", KW_AEAD }, { "camellia256ccm96", KW_AEAD },
	{ "camellia256ccm16", KW_AEAD }, { "camellia256ccm128", KW_AEAD },
	{ "chacha20poly1305", KW_AEAD }, { "chacha20poly1305compat", KW_AEAD },
	{ "aes128gmac", KW_GMAC }, { "aes192gmac", KW_GMAC }, { "aes256gmac", KW_GMAC },
	{ "sha", KW_INTEG }, { "sha1", KW_INTEG }, { "sha1_160", KW_INTEG },
	{ "sha256", KW_INTEG }, { "sha2_256", KW_INTEG },
	{ "sha256_96", KW_INTEG_NOPRF }, { "sha2_256_96", KW_INTEG_NOPRF },
	{ "sha384", KW_INTEG }, { "sha2_384", KW_INTEG }, { "sha512", KW_INTEG },
	{ "sha2_512", KW_INTEG }, { "md5", KW_INTEG }, { "md5_128", KW_INTEG },
	{ "aesxcbc", KW_INTEG }, { "camelliaxcbc", KW_INTEG }, { "aescmac", KW_INTEG },
	{ "prfsha1", KW_PRF }, { "prfsha256", KW_PRF }, { "prfsha384", KW_PRF },
	{ "prfsha512", KW_PRF }, { "prfmd5", KW_PRF }, { "prfaesxcbc", KW_PRF },
	{ "prfcamelliaxcbc", KW_PRF }, { "prfaescmac", KW_PRF },
	{ "none", KW_KE_NONE }, { "modpnone", KW_KE_NONE },
	{ "modp768", KW_KE }, { "modp1024", KW_KE }, { "modp1536", KW_KE },
	{ "modp2048", KW_KE }, { "modp3072", KW_KE }, { "modp4096", KW_KE },
	{ "modp6144", KW_KE }, { "modp8192", KW_KE },
	{ "modp1024s160", KW_KE }, { "modp2048s224", KW_KE }, { "modp2048s256", KW_KE },
	{ "ecp192", KW_KE }, { "ecp224", KW_KE }, { "ecp256", KW_KE }, { "ecp384", KW_KE },
	{ "ecp521", KW_KE }, { "ecp224bp", KW_KE }, { "ecp256bp", KW_KE },
	{ "ecp384bp", KW_KE }, { "ecp512bp", KW_KE },
	{ "curve25519", KW_KE }, { "x25519", KW_KE }, { "curve448", KW_KE }, { "x448", KW_KE },
	{ "ntru112", KW_KE }, { "ntru128", KW_KE }, { "ntru192", KW_KE }, { "ntru256", KW_KE },
	{ "newhope128", KW_KE },
	{ "esn", KW_ESN }, { "noesn", KW_ESN },
};

#define VALID_PROPOSAL_MAX 1024
#define VALID_TOKEN_MAX 32	/* longer than any keyword */

static const char *const valid_proto_names[] = { "IKE", "ESP", "AH" };

static const struct valid_kw *valid_kw_find(const char *tok, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(valid_kws) / sizeof(valid_kws[0]); i++)
		if (strlen(valid_kws[i].name) == len && !memcmp(valid_kws[i].name, tok, len))
			return &valid_kws[i];
	return NULL;
}

/* What one proposal holds, gathered token by token. */
struct valid_prop {
	enum valid_proposal_kind kind;
	const char *enc;	/* first classic encryption (incl. null) */
	const char *aead;	/* first AEAD (incl. GMAC) */
	bool integ, prf, ke;
	char tok[VALID_TOKEN_MAX + 1];	/* the token being looked at, for messages */
};

/* Is this class of keyword meaningful in this kind of proposal? */
static int valid_kw_allowed(struct valid_prop *p, const struct valid_kw *kw, char *why,
			    size_t whylen)
{
	const char *proto = valid_proto_names[p->kind];

	switch (kw->cls) {
	case KW_PRF:
		if (p->kind != VALID_PROPOSAL_IKE) {
			snprintf(why, whylen, "'%s' is a PRF: only IKE proposals take one", p->tok);
			return -EINVAL;
		}
		return 0;
	case KW_ESN:
		if (p->kind == VALID_PROPOSAL_IKE) {
			snprintf(why, whylen, "'%s' applies to ESP and AH proposals, not IKE", p->tok);
			return -EINVAL;
		}
		return 0;
	case KW_ENC_NULL:
	case KW_GMAC:
		if (p->kind == VALID_PROPOSAL_IKE) {
			snprintf(why, whylen, "'%s' does not encrypt: IKE must be encrypted", p->tok);
			return -EINVAL;
		}
		/* fall through */
	case KW_ENC:
	case KW_AEAD:
		if (p->kind == VALID_PROPOSAL_AH && kw->cls != KW_GMAC) {
			snprintf(why, whylen, "'%s' is an encryption algorithm: %s does not encrypt",
				 p->tok, proto);
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}

static void valid_prop_note(struct valid_prop *p, const struct valid_kw *kw)
{
	switch (kw->cls) {
	case KW_ENC:
	case KW_ENC_NULL:
		if (!p->enc)
			p->enc = kw->name;
		break;
	case KW_AEAD:
		if (!p->aead)
			p->aead = kw->name;
		break;
	case KW_GMAC:
		/* AH proposes AES-GMAC as an integrity algorithm */
		if (p->kind == VALID_PROPOSAL_AH)
			p->integ = true;
		else if (!p->aead)
			p->aead = kw->name;
		break;
	case KW_INTEG:
		p->integ = p->prf_from_integ = true;
		break;
	case KW_INTEG_NOPRF:
		p->integ = true;
		break;
	case KW_PRF:
		p->prf = true;
		break;
	case KW_KE:
		p->ke = true;
		break;
	default:
		break;
	}
}
