/* The intent as compact JSON text, written directly: the same bytes as
 * json_dumps(intent_to_json(in), JSON_COMPACT), which a unit test checks, at a fraction
 * of the cost. The controller serves a thousand intents of a hundred kilobytes each
 * when a shared profile changes; building and dumping a jansson tree for each took
 * seconds. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"

struct intent_buf {
	char *p;
	size_t len, cap;
	int err;
};

static void ib_grow(struct intent_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = 1;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void ib_raw(struct intent_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap)
		ib_grow(b, n);
	if (b->err)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void ib_lit(struct intent_buf *b, const char *s)
{
	ib_raw(b, s, strlen(s));
}

/* jansson's escaping: quote, backslash and control characters; other bytes as they
 * are. Runs of plain bytes are copied at once: strings are most of an intent. */
static void ib_str(struct intent_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *c = (const unsigned char *)s, *run = c;

	ib_raw(b, "\"", 1);
	for (;; c++) {
		const char *esc = NULL;
		char u[7];

		if (*c >= 0x20 && *c != '"' && *c != '\\')
			continue;
		ib_raw(b, (const char *)run, (size_t)(c - run));
		run = c + 1;
		switch (*c) {
		case '\0': ib_raw(b, "\"", 1); return;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[*c >> 4];
			u[5] = hex[*c & 15];
			u[6] = '\0';
			esc = u;
		}
		ib_lit(b, esc);
	}
}

/* ,"key": before a member; first members pass lead = "{". */
static void ib_key(struct intent_buf *b, const char *lead, const char *key)
{
	ib_lit(b, lead);
	ib_str(b, key);
	ib_raw(b, ":", 1);
}

static void ib_kstr(struct intent_buf *b, const char *lead, const char *key, const char *v)
{
	ib_key(b, lead, key);
	ib_str(b, v);
}

static void ib_kint(struct intent_buf *b, const char *lead, const char *key, int64_t v)
{
	char n[24], *p = n + sizeof(n);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	ib_key(b, lead, key);
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	ib_raw(b, p, (size_t)(n + sizeof(n) - p));
}

static void ib_kbool(struct intent_buf *b, const char *lead, const char *key, bool v)
{
	ib_key(b, lead, key);
	ib_lit(b, v ? "true" : "false");
}

static void ib_kaddr(struct intent_buf *b, const char *lead, const char *key, const struct addr *a)
{
	char s[ADDR_STRLEN];

	addr_fmt(a, s, sizeof(s));
	ib_kstr(b, lead, key, s);
}

static void ib_kprefix(struct intent_buf *b, const char *lead, const char *key,
		       const struct addr_prefix *p)
{
	char s[ADDR_PREFIX_STRLEN];

	addr_prefix_fmt(p, s, sizeof(s));
	ib_kstr(b, lead, key, s);
}

static void ib_kifaddr(struct intent_buf *b, const char *lead, const char *key,
		       const struct intent_ifaddr *a)
{
	char s[ADDR_PREFIX_STRLEN];

	intent_ifaddr_fmt(a, s, sizeof(s));
	ib_kstr(b, lead, key, s);
}

static void ib_kstrv(struct intent_buf *b, const char *lead, const char *key, char *const *v,
		     size_t n)
{
	ib_key(b, lead, key);
	ib_raw(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			ib_raw(b, ",", 1);
		ib_str(b, v[i]);
	}
	ib_raw(b, "]", 1);
}

static void ib_security(struct intent_buf *b, const struct intent_security *s)
{
	ib_kstr(b, ",\"security\":{", "mode", intent_mode_name(s->mode));
	ib_kstr(b, ",", "protocol", intent_proto_name(s->protocol));
	ib_kstrv(b, ",", "ike_proposals", s->ike_proposals, s->n_ike_proposals);
	ib_kstrv(b, ",", "child_proposals", s->child_proposals, s->n_child_proposals);
	ib_kint(b, ",", "ike_lifetime", s->ike_lifetime);
	ib_kint(b, ",", "child_lifetime", s->child_lifetime);
	ib_kint(b, ",", "dpd_delay", s->dpd_delay);
	ib_kstr(b, ",", "start", intent_start_name(s->start));
	ib_kbool(b, ",", "initiator", s->initiator);
	ib_kbool(b, ",", "udp_encap", s->udp_encap);
	if (s->local_id)
		ib_kstr(b, ",", "local_id", s->local_id);
	if (s->remote_id)
		ib_kstr(b, ",", "remote_id", s->remote_id);
	if (s->auth != INTENT_AUTH_PSK)
		ib_kstr(b, ",", "auth", intent_auth_name(s->auth));
	ib_raw(b, "}", 1);
}

static void ib_tunnel(struct intent_buf *b, const struct intent_tunnel *t)
{
	ib_kstr(b, "{", "id", t->id);
	ib_kstr(b, ",", "ifname", t->ifname);
	ib_kstr(b, ",", "kind", intent_kind_name(t->kind));
	ib_kaddr(b, ",", "local", &t->local);
	ib_kaddr(b, ",", "remote", &t->remote);
	ib_kint(b, ",", "key", t->key);
	ib_kint(b, ",", "ttl", t->ttl);
	ib_kint(b, ",", "mtu", t->mtu);
	ib_kifaddr(b, ",\"overlay\":{", "local", &t->overlay_local);
	ib_kifaddr(b, ",", "peer", &t->overlay_peer);
	ib_kint(b, "},", "reqid", t->reqid);
	ib_security(b, &t->sec);
	ib_kbool(b, ",\"bfd\":{", "enabled", t->bfd.enabled);
	ib_kint(b, ",", "interval_ms", t->bfd.interval_ms);
	ib_kint(b, ",", "multiplier", t->bfd.multiplier);
	ib_kstr(b, "},", "psk", t->psk);
	if (t->psk_encoding != INTENT_PSK_STRING)
		ib_kstr(b, ",", "psk_encoding", intent_psk_encoding_name(t->psk_encoding));
	ib_raw(b, "}", 1);
}

static void ib_spd(struct intent_buf *b, const struct intent_spd *s)
{
	ib_kstr(b, "{", "tunnel", s->tunnel);
	ib_kprefix(b, ",", "src", &s->src);
	ib_kprefix(b, ",", "dst", &s->dst);
	ib_kint(b, ",", "proto", s->proto);
	ib_kstr(b, ",", "dir", intent_dir_name(s->dir));
	ib_kstr(b, ",\"template\":{", "mode", intent_mode_name(s->tmpl_mode));
	ib_kstr(b, ",", "proto", intent_proto_name(s->tmpl_proto));
	ib_kint(b, ",", "reqid", s->tmpl_reqid);
	ib_kint(b, "},", "priority", s->priority);
	if (s->has_mark) {
		ib_kint(b, ",\"mark\":{", "value", s->mark);
		ib_kint(b, ",", "mask", s->mark_mask);
		ib_raw(b, "}", 1);
	}
	ib_raw(b, "}", 1);
}

int intent_dump(const struct intent *in, char **out, size_t *len)
{
	struct intent_buf b = { 0 };

	/* Room for the usual sizes at once: a hub's intent is most of a megabyte, and
	 * growing to it by doubling copies it twice over. */
	ib_grow(&b, 256 + in->n_tunnels * 640 + in->n_routes * 64 + in->n_spd * 192);
	ib_kint(&b, "{", "format", INTENT_FORMAT);
	ib_kstr(&b, ",", "site", in->site);
	ib_kint(&b, ",", "revision", (int64_t)in->revision);
	if (in->committed_at[0])
		ib_kstr(&b, ",", "committed_at", in->committed_at);
	ib_lit(&b, ",\"tunnels\":[");
	for (size_t i = 0; i < in->n_tunnels; i++) {
		if (i)
			ib_raw(&b, ",", 1);
		ib_tunnel(&b, &in->tunnels[i]);
	}
	ib_lit(&b, "],\"routes\":[");
	for (size_t i = 0; i < in->n_routes; i++) {
		ib_kprefix(&b, i ? ",{" : "{", "prefix", &in->routes[i].prefix);
		ib_kstr(&b, ",", "via", in->routes[i].via);
		ib_kint(&b, ",", "metric", in->routes[i].metric);
		ib_raw(&b, "}", 1);
	}
	ib_lit(&b, "],\"spd\":[");
	for (size_t i = 0; i < in->n_spd; i++) {
		if (i)
			ib_raw(&b, ",", 1);
		ib_spd(&b, &in->spd[i]);
	}
	ib_lit(&b, "]");
	if (in->ca)
		ib_kstr(&b, ",", "ca", in->ca);
	if (in->crl)
		ib_kstr(&b, ",", "crl", in->crl);
	ib_lit(&b, "}");
	if (b.err) {
		free(b.p);
		return -ENOMEM;
	}
	b.p[b.len] = '\0';
	*out = b.p;
	if (len)
		*len = b.len;
	return 0;
}
