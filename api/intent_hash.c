/* A digest of an intent's content without building its JSON: the controller hashes
 * every site's intent after each write to find the ones that changed, and the JSON of a
 * thousand large intents costs seconds. Every field that intent_to_json emits must be
 * fed here too (revision and committed_at excepted: they say when, not what), or a change would go unnoticed: the unit test
 * test_intent_hash changes each field in turn and checks the digest moves. */
#include <errno.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "intent.h"

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

static void ih_tunnel(struct intent_hasher *x, const struct intent_tunnel *t)
{
	const struct intent_security *s = &t->sec;

	ih_str(x, t->id);
	ih_str(x, t->ifname);
	ih_u64(x, t->kind);
	ih_addr(x, &t->local);
	ih_addr(x, &t->remote);
	ih_u64(x, t->key);
	ih_u64(x, t->ttl);
	ih_u64(x, t->mtu);
	ih_addr(x, &t->overlay_local.addr);
	ih_u64(x, t->overlay_local.len);
	ih_addr(x, &t->overlay_peer.addr);
	ih_u64(x, t->overlay_peer.len);
	ih_u64(x, t->reqid);
	ih_u64(x, s->mode);
	ih_u64(x, s->protocol);
	ih_strv(x, s->ike_proposals, s->n_ike_proposals);
	ih_strv(x, s->child_proposals, s->n_child_proposals);
	ih_u64(x, s->ike_lifetime);
	ih_u64(x, s->child_lifetime);
	ih_u64(x, s->dpd_delay);
	ih_u64(x, s->start);
	ih_u64(x, s->initiator);
	ih_u64(x, s->udp_encap);
	ih_str(x, s->local_id);
	ih_str(x, s->remote_id);
	ih_u64(x, s->auth);
	ih_u64(x, t->bfd.enabled);
	ih_u64(x, t->bfd.interval_ms);
	ih_u64(x, t->bfd.multiplier);
	ih_str(x, t->psk);
	/* Only when present, like the JSON: digests of string-form intents stay as they were. */
	if (t->psk_encoding != INTENT_PSK_STRING)
		ih_u64(x, 1 + (uint64_t)t->psk_encoding);
}

static void ih_spd(struct intent_hasher *x, const struct intent_spd *s)
{
	ih_str(x, s->tunnel);
	ih_addr(x, &s->src.addr);
	ih_u64(x, s->src.len);
	ih_addr(x, &s->dst.addr);
	ih_u64(x, s->dst.len);
	ih_u64(x, s->proto);
	ih_u64(x, s->dir);
	ih_u64(x, s->tmpl_mode);
	ih_u64(x, s->tmpl_proto);
	ih_u64(x, s->tmpl_reqid);
	ih_u64(x, s->priority);
	ih_u64(x, s->has_mark);
	ih_u64(x, s->has_mark ? s->mark : 0);
	ih_u64(x, s->has_mark ? s->mark_mask : 0);
}

int intent_hash(const struct intent *in, unsigned char out[32])
{
	struct intent_hasher x;

	x.err = 0;
	x.len = 0;
	if (gnutls_hash_init(&x.h, GNUTLS_DIG_SHA256) < 0)
		return -ENOMEM;
	ih_u64(&x, INTENT_FORMAT);
	ih_str(&x, in->site);
	ih_u64(&x, in->n_tunnels);
	for (size_t i = 0; i < in->n_tunnels; i++)
		ih_tunnel(&x, &in->tunnels[i]);
	ih_u64(&x, in->n_routes);
	for (size_t i = 0; i < in->n_routes; i++) {
		ih_addr(&x, &in->routes[i].prefix.addr);
		ih_u64(&x, in->routes[i].prefix.len);
		ih_str(&x, in->routes[i].via);
		ih_u64(&x, in->routes[i].metric);
	}
	ih_u64(&x, in->n_spd);
	for (size_t i = 0; i < in->n_spd; i++)
		ih_spd(&x, &in->spd[i]);
	ih_str(&x, in->ca);
	ih_str(&x, in->crl);
	ih_flush(&x);
	gnutls_hash_deinit(x.h, out);
	return x.err ? -EIO : 0;
}
