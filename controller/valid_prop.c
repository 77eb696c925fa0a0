/* strongSwan proposal strings: the grammar charon 5.9 parses, checked token by token so
 * that a profile is refused with the token and the reason, not at load-conn time. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "valid.h"

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
	KW_COUNT
};

/* The keywords charon 5.9 (Debian 12) parses, from strongSwan's
 * proposal_keywords_static.txt, by class; less modpnull, a test-only group with no
 * security. Space-separated words, so a keyword is identified by its offset. */
static const char *const valid_kws[KW_COUNT] = {
	[KW_ENC_NULL] = "null",
	[KW_ENC] =
		"des 3des cast128 aes aes128 aes192 aes256 aes128ctr aes192ctr aes256ctr "
		"blowfish blowfish128 blowfish192 blowfish256 camellia camellia128 camellia192 "
		"camellia256 camellia128ctr camellia192ctr camellia256ctr serpent serpent128 "
		"serpent192 serpent256 twofish twofish128 twofish192 twofish256",
	[KW_AEAD] =
		"aes128ccm8 aes128ccm64 aes128ccm12 aes128ccm96 aes128ccm16 aes128ccm128 "
		"aes128ccm aes192ccm8 aes192ccm64 aes192ccm12 aes192ccm96 aes192ccm16 "
		"aes192ccm128 aes192ccm aes256ccm8 aes256ccm64 aes256ccm12 aes256ccm96 "
		"aes256ccm16 aes256ccm128 aes256ccm aes128gcm8 aes128gcm64 aes128gcm12 "
		"aes128gcm96 aes128gcm16 aes128gcm128 aes128gcm aes192gcm8 aes192gcm64 "
		"aes192gcm12 aes192gcm96 aes192gcm16 aes192gcm128 aes192gcm aes256gcm8 "
		"aes256gcm64 aes256gcm12 aes256gcm96 aes256gcm16 aes256gcm128 aes256gcm "
		"camellia128ccm8 camellia128ccm64 camellia128ccm12 camellia128ccm96 "
		"camellia128ccm16 camellia128ccm128 camellia192ccm8 camellia192ccm64 "
		"camellia192ccm12 camellia192ccm96 camellia192ccm16 camellia192ccm128 "
		"camellia256ccm8 camellia256ccm64 camellia256ccm12 camellia256ccm96 "
		"camellia256ccm16 camellia256ccm128 chacha20poly1305 chacha20poly1305compat",
	[KW_GMAC] = "aes128gmac aes192gmac aes256gmac",
	[KW_INTEG] =
		"sha sha1 sha1_160 sha256 sha2_256 sha384 sha2_384 sha512 sha2_512 md5 md5_128 "
		"aesxcbc camelliaxcbc aescmac",
	[KW_INTEG_NOPRF] = "sha256_96 sha2_256_96",
	[KW_PRF] =
		"prfsha1 prfsha256 prfsha384 prfsha512 prfmd5 prfaesxcbc prfcamelliaxcbc "
		"prfaescmac",
	[KW_KE_NONE] = "none modpnone",
	[KW_KE] =
		"modp768 modp1024 modp1536 modp2048 modp3072 modp4096 modp6144 modp8192 "
		"modp1024s160 modp2048s224 modp2048s256 ecp192 ecp224 ecp256 ecp384 ecp521 "
		"ecp224bp ecp256bp ecp384bp ecp512bp curve25519 x25519 curve448 x448 ntru112 "
		"ntru128 ntru192 ntru256 newhope128",
	[KW_ESN] = "esn noesn",
};

#define VALID_PROPOSAL_MAX 1024
/* Keywords are at least 3 characters plus a '-': no proposal holds more tokens. */
#define VALID_TOKENS_MAX ((VALID_PROPOSAL_MAX + 1) / 4)
#define VALID_TOKEN_SHOW 32	/* longer than any keyword */

static const char *const valid_proto_names[] = { "IKE", "ESP", "AH" };

/* What one proposal holds, gathered token by token. */
struct valid_prop {
	enum valid_proposal_kind kind;
	const char *enc;	/* first classic encryption (incl. null), into the input */
	const char *aead;	/* first AEAD (incl. GMAC outside AH), into the input */
	int enc_len, aead_len;
	bool integ, prf, ke;
	const char *seen[VALID_TOKENS_MAX];	/* keywords so far, into valid_kws */
	size_t nseen;
	char tok[VALID_TOKEN_SHOW + 4];		/* the current token, printable */
};

/* The keyword tok names, as a pointer into valid_kws (which identifies it) and its
 * class; NULL when unknown. fold compares case-insensitively, for a better message. */
static const char *valid_kw_find(const char *tok, size_t len, bool fold,
				 enum valid_kw_class *cls)
{
	const char *w, *e;
	int c;

	for (c = 0; c < KW_COUNT; c++) {
		for (w = valid_kws[c]; *w; w = *e ? e + 1 : e) {
			e = strchrnul(w, ' ');
			if ((size_t)(e - w) == len &&
			    !(fold ? strncasecmp(w, tok, len) : strncmp(w, tok, len))) {
				*cls = (enum valid_kw_class)c;
				return w;
			}
		}
	}
	return NULL;
}

/* The token as it may appear in a message: printable ASCII, cut short. */
static void valid_tok_show(struct valid_prop *p, const char *tok, size_t len)
{
	size_t i, n = len > VALID_TOKEN_SHOW ? VALID_TOKEN_SHOW : len;

	for (i = 0; i < n; i++)
		p->tok[i] = (tok[i] >= 0x20 && tok[i] < 0x7f) ? tok[i] : '?';
	strcpy(p->tok + n, len > n ? "..." : "");
}

/* Is this class of keyword meaningful in this kind of proposal? */
static int valid_kw_allowed(const struct valid_prop *p, enum valid_kw_class cls, char *why,
			    size_t whylen)
{
	switch (cls) {
	case KW_PRF:
		if (p->kind == VALID_PROPOSAL_IKE)
			return 0;
		snprintf(why, whylen, "'%s' is a PRF: only IKE proposals take one", p->tok);
		return -EINVAL;
	case KW_ESN:
		if (p->kind != VALID_PROPOSAL_IKE)
			return 0;
		snprintf(why, whylen, "'%s' applies to ESP and AH proposals, not IKE", p->tok);
		return -EINVAL;
	case KW_ENC_NULL:
	case KW_GMAC:
		if (p->kind == VALID_PROPOSAL_IKE) {
			snprintf(why, whylen, "'%s' does not encrypt: IKE must be encrypted", p->tok);
			return -EINVAL;
		}
		if (cls == KW_GMAC)
			return 0;
		/* fall through */
	case KW_ENC:
	case KW_AEAD:
		if (p->kind != VALID_PROPOSAL_AH)
			return 0;
		snprintf(why, whylen, "'%s' is an encryption algorithm: AH does not encrypt",
			 p->tok);
		return -EINVAL;
	default:
		return 0;
	}
}

static void valid_prop_note(struct valid_prop *p, enum valid_kw_class cls, const char *tok,
			    int len)
{
	switch (cls) {
	case KW_ENC:
	case KW_ENC_NULL:
		if (!p->enc) {
			p->enc = tok;
			p->enc_len = len;
		}
		break;
	case KW_GMAC:
		/* charon turns AES-GMAC into an integrity algorithm in AH */
		if (p->kind == VALID_PROPOSAL_AH) {
			p->integ = true;
			break;
		}
		/* fall through */
	case KW_AEAD:
		if (!p->aead) {
			p->aead = tok;
			p->aead_len = len;
		}
		break;
	case KW_INTEG:
		/* without an explicit PRF, charon derives IKE's from the integrity algorithm */
		p->integ = p->prf = true;
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

static int valid_prop_token(struct valid_prop *p, const char *tok, size_t len, char *why,
			    size_t whylen)
{
	enum valid_kw_class cls;
	const char *kw;
	size_t i;

	valid_tok_show(p, tok, len);
	if (!len) {
		snprintf(why, whylen, "empty algorithm in proposal (stray '-')");
		return -EINVAL;
	}
	kw = valid_kw_find(tok, len, false, &cls);
	if (!kw) {
		snprintf(why, whylen, "unknown keyword '%s' in proposal%s", p->tok,
			 valid_kw_find(tok, len, true, &cls) ? " (keywords are lower case)" : "");
		return -EINVAL;
	}
	for (i = 0; i < p->nseen && p->seen[i] != kw; i++)
		;
	if (i < p->nseen) {
		snprintf(why, whylen, "'%s' appears twice in proposal", p->tok);
		return -EINVAL;
	}
	p->seen[p->nseen++] = kw;
	if (valid_kw_allowed(p, cls, why, whylen))
		return -EINVAL;
	valid_prop_note(p, cls, tok, (int)len);
	return 0;
}

/* The rules charon's check_proposal() applies, plus IKE's need for real encryption. */
static int valid_prop_complete(const struct valid_prop *p, char *why, size_t whylen)
{
	if (p->kind == VALID_PROPOSAL_AH) {
		if (p->integ)
			return 0;
		snprintf(why, whylen, "AH proposal needs an integrity algorithm (e.g. sha256)");
		return -EINVAL;
	}
	if (!p->enc && !p->aead) {
		snprintf(why, whylen, "%s proposal needs an encryption algorithm (e.g. %s)",
			 valid_proto_names[p->kind], p->kind == VALID_PROPOSAL_ESP ?
			 "aes256gcm16, or null for none" : "aes256gcm16");
		return -EINVAL;
	}
	if (p->enc && p->aead) {
		snprintf(why, whylen, "'%.*s' and AEAD '%.*s' cannot be mixed in one proposal",
			 p->enc_len, p->enc, p->aead_len, p->aead);
		return -EINVAL;
	}
	if (p->kind == VALID_PROPOSAL_ESP)
		return 0;
	if (p->enc && !p->integ)
		snprintf(why, whylen, "IKE proposal with '%.*s' needs an integrity algorithm "
			 "(e.g. sha256)", p->enc_len, p->enc);
	else if (!p->prf)
		snprintf(why, whylen, "IKE proposal needs a PRF (e.g. prfsha384)");
	else if (!p->ke)
		snprintf(why, whylen, "IKE proposal needs a key exchange method (e.g. ecp384)");
	else
		return 0;
	return -EINVAL;
}

int valid_proposal(const char *s, enum valid_proposal_kind kind, char *why, size_t whylen)
{
	struct valid_prop p;
	const char *tok, *end;
	char dummy[1];
	size_t len;

	if (!why || !whylen) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	if ((unsigned)kind > VALID_PROPOSAL_AH || !s)
		return -EINVAL;
	len = strlen(s);
	if (!len || len > VALID_PROPOSAL_MAX) {
		snprintf(why, whylen, len ? "proposal longer than %d characters" :
			 "empty proposal", VALID_PROPOSAL_MAX);
		return -EINVAL;
	}
	memset(&p, 0, sizeof(p));
	p.kind = kind;
	for (tok = s;; tok = end + 1) {
		end = strchrnul(tok, '-');
		if (valid_prop_token(&p, tok, (size_t)(end - tok), why, whylen))
			return -EINVAL;
		if (!*end)
			break;
	}
	return valid_prop_complete(&p, why, whylen);
}

