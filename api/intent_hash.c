/* A digest of an intent's content without building its JSON: the controller hashes
 * every site's intent after each write to find the ones that changed, and the JSON of a
 * thousand large intents costs seconds. It walks the same field table as the encoders
 * (intent_field.c), so every field they emit is fed here too but those marked unhashed
 * (revision and committed_at: they say when, not what). The controller stores digests
 * to decide when a revision moves, so the bytes fed for an intent must never change:
 * test_intent_hash pins digests, and checks that a change of any field moves it. */
#include <errno.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "intent.h"
#include "intent_field.h"

/* Fields are a few bytes each: batching them saves a library call per field. */
struct intent_hasher {
	gnutls_hash_hd_t h;
	int err;
	size_t len;
	unsigned char buf[4096];
};

static void ih_flush(struct intent_hasher *x)
{
	if (!x->err && x->len && gnutls_hash(x->h, x->buf, x->len) < 0)
		x->err = 1;
	x->len = 0;
}

static void ih_bytes(struct intent_hasher *x, const void *p, size_t n)
{
	if (x->len + n > sizeof(x->buf))
		ih_flush(x);
	if (n > sizeof(x->buf)) {
		if (!x->err && gnutls_hash(x->h, p, n) < 0)
			x->err = 1;
		return;
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
}

static void ih_u64(struct intent_hasher *x, uint64_t v)
{
	ih_bytes(x, &v, sizeof(v));
}

/* Length-prefixed, so "ab"+"c" and "a"+"bc" differ; NULL differs from "". */
static void ih_str(struct intent_hasher *x, const char *s)
{
	ih_u64(x, s ? strlen(s) + 1 : 0);
	if (s)
		ih_bytes(x, s, strlen(s));
}

static void ih_addr(struct intent_hasher *x, const struct addr *a)
{
	ih_u64(x, (uint64_t)a->family);
	ih_bytes(x, a->bytes, sizeof(a->bytes));
}

static void ih_strv(struct intent_hasher *x, char *const *v, size_t n)
{
	ih_u64(x, n);
	for (size_t i = 0; i < n; i++)
		ih_str(x, v[i]);
}

/* What the members of an absent object (the spd's mark) read as: zeros. */
static const union {
	struct intent in;
	struct intent_tunnel t;
	struct intent_route r;
	struct intent_spd s;
} ih_zero;

static void ih_object(struct intent_hasher *x, const struct intent_field *fields, size_t n,
		      const void *base);

/* An object that may be absent: whether it is, then its members (zeros when absent). */
static void ih_optional(struct intent_hasher *x, const struct intent_field *f, const void *base)
{
	bool has = intent_field_present(base, f);

	ih_u64(x, has);
	ih_object(x, f->fields, f->nfields,
		  (const char *)(has ? base : (const void *)&ih_zero) + f->off);
}

static void ih_number(struct intent_hasher *x, const struct intent_field *f, const void *base)
{
	uint64_t v = intent_field_uint(base, f);

	if (!(f->flags & INTENT_FF_HASH_IF_SET))
		ih_u64(x, v);
	else if (v)
		ih_u64(x, 1 + v);
}

static void ih_value(struct intent_hasher *x, const struct intent_field *f, const void *base)
{
	const void *p = (const char *)base + f->off;

	switch (f->type) {
	case INTENT_FT_CONST:
	case INTENT_FT_UINT:
	case INTENT_FT_BOOL:
	case INTENT_FT_ENUM:
		ih_number(x, f, base);
		break;
	case INTENT_FT_STR:
	case INTENT_FT_IFNAME:
	case INTENT_FT_TIME:
		ih_str(x, intent_field_str(base, f));
		break;
	case INTENT_FT_ADDR:
		ih_addr(x, p);
		break;
	case INTENT_FT_PREFIX:
		ih_addr(x, &((const struct addr_prefix *)p)->addr);
		ih_u64(x, ((const struct addr_prefix *)p)->len);
		break;
	case INTENT_FT_IFADDR:
		ih_addr(x, &((const struct intent_ifaddr *)p)->addr);
		ih_u64(x, ((const struct intent_ifaddr *)p)->len);
		break;
	case INTENT_FT_STRV:
		ih_strv(x, *(char *const *const *)p, intent_field_count(base, f));
		break;
	case INTENT_FT_OBJECT:
		if (f->flags & INTENT_FF_OMIT)
			ih_optional(x, f, base);
		else
			ih_object(x, f->fields, f->nfields, p);
		break;
	case INTENT_FT_ARRAY:
		ih_u64(x, intent_field_count(base, f));
		for (size_t i = 0; i < intent_field_count(base, f); i++)
			ih_object(x, f->fields, f->nfields, *(const char *const *)p + i * f->size);
		break;
	}
}

static void ih_object(struct intent_hasher *x, const struct intent_field *fields, size_t n,
		      const void *base)
{
	for (size_t i = 0; i < n; i++)
		if (!(fields[i].flags & INTENT_FF_UNHASHED))
			ih_value(x, &fields[i], base);
}

int intent_hash(const struct intent *in, unsigned char out[32])
{
	struct intent_hasher x;

	x.err = 0;
	x.len = 0;
	if (gnutls_hash_init(&x.h, GNUTLS_DIG_SHA256) < 0)
		return -ENOMEM;
	ih_object(&x, intent_field_root, intent_field_nroot, in);
	ih_flush(&x);
	gnutls_hash_deinit(x.h, out);
	return x.err ? -EIO : 0;
}
