/* Intent validator: the rules that span fields and objects. The decoder has already
 * checked types, syntax and per-field ranges. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "intent.h"

static int vfail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int vfail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* DNS label: 1-63 of a-z0-9-, not starting or ending with '-'. */
static bool intent_label_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static bool intent_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n <= INTENT_ID_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static bool intent_ifname_ok(const char *s)
{
	size_t plen = strlen(INTENT_IFNAME_PREFIX), n = strlen(s);

	return n > plen && n <= INTENT_IFNAME_MAX &&
	       strncmp(s, INTENT_IFNAME_PREFIX, plen) == 0 &&
	       strspn(s + plen, "abcdefghijklmnopqrstuvwxyz0123456789-") == n - plen;
}

/* The two ends of a point-to-point overlay: one /31 (or /127), two distinct addresses. */
/* 0 when psk is "0x" and an even number of hex digits in the allowed range. */
static int intent_psk_check_hex(const char *psk)
{
	size_t n = strlen(psk);

	if (n < 2 + 2 * INTENT_PSK_HEX_MIN || n > 2 + 2 * INTENT_PSK_HEX_MAX || n % 2 ||
	    psk[0] != '0' || (psk[1] != 'x' && psk[1] != 'X'))
		return -EINVAL;
	return strspn(psk + 2, "0123456789abcdefABCDEF") == n - 2 ? 0 : -EINVAL;
}

static int intent_check_overlay(const struct intent_tunnel *t, size_t i, char *err,
				size_t errlen)
{
	const struct intent_ifaddr *l = &t->overlay_local, *p = &t->overlay_peer;
	uint8_t want = l->addr.family == AF_INET ? 31 : 127;
	struct addr_prefix net = { .addr = l->addr, .len = l->len };

	if (l->addr.family != p->addr.family)
		return vfail(err, errlen, "tunnels[%zu].overlay: local and peer differ in family", i);
	if (l->len != want || p->len != want)
		return vfail(err, errlen, "tunnels[%zu].overlay: prefix length must be /%u", i, want);
	if (!addr_cmp(&l->addr, &p->addr))
		return vfail(err, errlen, "tunnels[%zu].overlay: local and peer are the same", i);
	if (!addr_prefix_contains(&net, &p->addr))
		return vfail(err, errlen, "tunnels[%zu].overlay: peer is not in local's /%u", i, want);
	if (l->addr.family == AF_INET6 && t->mtu < 1280)
		return vfail(err, errlen, "tunnels[%zu].mtu: IPv6 overlay needs at least 1280", i);
	return 0;
}

static int intent_check_tunnel(const struct intent *in, size_t i, char *err, size_t errlen)
{
	const struct intent_tunnel *t = &in->tunnels[i];

	if (!intent_id_ok(t->id))
		return vfail(err, errlen, "tunnels[%zu].id: 1-%d of A-Z a-z 0-9 . _ -", i, INTENT_ID_MAX);
	if (!intent_ifname_ok(t->ifname))
		return vfail(err, errlen, "tunnels[%zu].ifname: must be \"%s\" then 1-%zu of a-z 0-9 -",
			     i, INTENT_IFNAME_PREFIX, INTENT_IFNAME_MAX - strlen(INTENT_IFNAME_PREFIX));
	if (t->local.family != t->remote.family)
		return vfail(err, errlen, "tunnels[%zu].remote: family differs from local", i);
	if (!addr_cmp(&t->local, &t->remote))
		return vfail(err, errlen, "tunnels[%zu].remote: same as local", i);
	if (t->reqid < INTENT_REQID_MIN || t->reqid > INTENT_REQID_MAX)
		return vfail(err, errlen, "tunnels[%zu].reqid: must be between %u and %u", i,
			     INTENT_REQID_MIN, INTENT_REQID_MAX);
	if (strlen(t->psk) < INTENT_PSK_MIN)
		return vfail(err, errlen, "tunnels[%zu].psk: at least %d characters", i, INTENT_PSK_MIN);
	if (t->psk_encoding == INTENT_PSK_HEX && intent_psk_check_hex(t->psk))
		return vfail(err, errlen, "tunnels[%zu].psk: psk_encoding hex needs \"0x\" and "
			     "%d to %d hex digits, an even number", i, 2 * INTENT_PSK_HEX_MIN,
			     2 * INTENT_PSK_HEX_MAX);
	if (t->kind == INTENT_KIND_VTI && !t->key)
		return vfail(err, errlen, "tunnels[%zu].key: a VTI needs a non-zero key (its XFRM mark)", i);
	if (t->kind == INTENT_KIND_VTI && t->sec.mode != INTENT_MODE_TUNNEL)
		return vfail(err, errlen, "tunnels[%zu].security.mode: a VTI carries tunnel-mode SAs only", i);
	return intent_check_overlay(t, i, err, errlen);
}

static int intent_cmp_id(const void *x, const void *y, void *ctx);

/* Tunnel indices sorted by id, so references resolve in log time. */
struct intent_ids {
	const struct intent *in;
	size_t *idx;
};

static int intent_ids_cmp(const void *key, const void *elem, void *ctx)
{
	return strcmp(key, ((const struct intent *)ctx)->tunnels[*(const size_t *)elem].id);
}

static const struct intent_tunnel *intent_ids_find(const struct intent_ids *ids, const char *id)
{
	size_t lo = 0, hi = ids->in->n_tunnels;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = intent_ids_cmp(id, &ids->idx[mid], (void *)ids->in);

		if (!c)
			return &ids->in->tunnels[ids->idx[mid]];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int intent_check_route(const struct intent_ids *ids, size_t i, char *err, size_t errlen)
{
	const struct intent_route *r = &ids->in->routes[i];

	if (!intent_ids_find(ids, r->via))
		return vfail(err, errlen, "routes[%zu].via: no tunnel \"%s\"", i, r->via);
	return 0;
}


static int intent_check_spd(const struct intent_ids *ids, size_t i, char *err, size_t errlen)
{
	const struct intent_spd *s = &ids->in->spd[i];
	const struct intent_tunnel *t = intent_ids_find(ids, s->tunnel);

	if (!t)
		return vfail(err, errlen, "spd[%zu].tunnel: no tunnel \"%s\"", i, s->tunnel);
	/* A VTI carries either family whatever its underlay's: its selectors are any to
	 * any of one family (what else they may be, the agent's guard says). */
	if (t->kind == INTENT_KIND_VTI ? s->src.addr.family != s->dst.addr.family :
	    s->src.addr.family != t->local.family || s->dst.addr.family != t->local.family)
		return vfail(err, errlen, "spd[%zu]: src and dst must be in the underlay's family "
			     "(a VTI's: in one family)", i);
	if (s->proto != 0 && s->proto != 47)
		return vfail(err, errlen, "spd[%zu].proto: must be 47 (GRE) or 0 (all)", i);
	if (s->priority < INTENT_SPD_PRIO_MIN || s->priority > INTENT_SPD_PRIO_MAX)
		return vfail(err, errlen, "spd[%zu].priority: must be between %u and %u", i,
			     INTENT_SPD_PRIO_MIN, INTENT_SPD_PRIO_MAX);
	if (s->tmpl_reqid != t->reqid)
		return vfail(err, errlen, "spd[%zu].template.reqid: differs from the tunnel's reqid", i);
	if (s->tmpl_mode != t->sec.mode || s->tmpl_proto != t->sec.protocol)
		return vfail(err, errlen, "spd[%zu].template: mode/proto differ from the tunnel's security", i);
	if (t->kind == INTENT_KIND_VTI &&
	    (!s->has_mark || s->mark != t->key || s->mark_mask != UINT32_MAX))
		return vfail(err, errlen, "spd[%zu].mark: a VTI's policies must carry its key as mark", i);
	if (t->kind == INTENT_KIND_GRE && s->has_mark)
		return vfail(err, errlen, "spd[%zu].mark: only VTI policies carry a mark", i);
	return 0;
}

/* Uniqueness rules, checked by sorting indices rather than comparing every pair: a
 * hub's intent has a thousand tunnels and spokes thousands of routes. */
#define CMP(a, b) ((a) < (b) ? -1 : (a) > (b))

static int intent_cmp_id(const void *x, const void *y, void *ctx)
{
	const struct intent *in = ctx;

	return strcmp(in->tunnels[*(const size_t *)x].id, in->tunnels[*(const size_t *)y].id);
}

static int intent_cmp_ifname(const void *x, const void *y, void *ctx)
{
	const struct intent *in = ctx;

	return strcmp(in->tunnels[*(const size_t *)x].ifname, in->tunnels[*(const size_t *)y].ifname);
}

static int intent_cmp_reqid(const void *x, const void *y, void *ctx)
{
	const struct intent *in = ctx;

	return CMP(in->tunnels[*(const size_t *)x].reqid, in->tunnels[*(const size_t *)y].reqid);
}

/* The kernel demultiplexes received GRE/VTI by (local, remote, key). */
static int intent_cmp_demux(const void *x, const void *y, void *ctx)
{
	const struct intent_tunnel *a = &((const struct intent *)ctx)->tunnels[*(const size_t *)x];
	const struct intent_tunnel *b = &((const struct intent *)ctx)->tunnels[*(const size_t *)y];
	int c = addr_cmp(&a->local, &b->local);

	if (!c)
		c = addr_cmp(&a->remote, &b->remote);
	return c ? c : CMP(a->key, b->key);
}

/* Equal prefix and metric through different tunnels is ECMP (a multipath route); through
 * the same tunnel twice it is a duplicate. */
static int intent_cmp_route(const void *x, const void *y, void *ctx)
{
	const struct intent_route *a = &((const struct intent *)ctx)->routes[*(const size_t *)x];
	const struct intent_route *b = &((const struct intent *)ctx)->routes[*(const size_t *)y];
	int c = addr_prefix_cmp(&a->prefix, &b->prefix);

	if (!c)
		c = CMP(a->metric, b->metric);
	return c ? c : strcmp(a->via, b->via);
}

static int intent_cmp_spd(const void *x, const void *y, void *ctx)
{
	const struct intent_spd *a = &((const struct intent *)ctx)->spd[*(const size_t *)x];
	const struct intent_spd *b = &((const struct intent *)ctx)->spd[*(const size_t *)y];
	int c = CMP(a->dir, b->dir);

	if (!c)
		c = CMP(a->proto, b->proto);
	if (!c)
		c = addr_prefix_cmp(&a->src, &b->src);
	if (!c)
		c = addr_prefix_cmp(&a->dst, &b->dst);
	if (!c)
		c = CMP(a->has_mark, b->has_mark);
	if (!c && a->has_mark)
		c = a->mark != b->mark ? CMP(a->mark, b->mark) : CMP(a->mark_mask, b->mark_mask);
	return c;
}

/* Sorts idx[0..n) by cmp, ties by index, and reports the first equal neighbours as
 * (earlier, later). 1 when a duplicate exists. */
static int intent_find_dup(size_t *idx, size_t n, int (*cmp)(const void *, const void *, void *),
			   const struct intent *in, size_t *first, size_t *second)
{
	int found = 0;

	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp, (void *)in);
	for (size_t i = 1; i < n; i++) {
		if (cmp(&idx[i - 1], &idx[i], (void *)in) != 0)
			continue;
		size_t a = idx[i - 1] < idx[i] ? idx[i - 1] : idx[i];
		size_t b = idx[i - 1] < idx[i] ? idx[i] : idx[i - 1];

		if (!found || b < *second || (b == *second && a < *first)) {
			*first = a;
			*second = b;
		}
		found = 1;
	}
	return found;
}

/* Routes of equal prefix and metric are one multipath route; the kernel route the agent
 * builds holds at most INTENT_ECMP_MAX paths. idx: the routes sorted by intent_cmp_route. */
static int intent_check_ecmp(const struct intent *in, const size_t *idx, char *err, size_t errlen)
{
	size_t run = 1;

	for (size_t i = 1; i < in->n_routes; i++) {
		const struct intent_route *a = &in->routes[idx[i - 1]], *b = &in->routes[idx[i]];

		run = !addr_prefix_cmp(&a->prefix, &b->prefix) && a->metric == b->metric ? run + 1 : 1;
		if (run > INTENT_ECMP_MAX)
			return vfail(err, errlen, "routes[%zu]: more than %d equal-cost paths "
				     "(same prefix and metric)", idx[i], INTENT_ECMP_MAX);
	}
	return 0;
}

static int intent_check_unique(const struct intent *in, char *err, size_t errlen)
{
	static const struct {
		int (*cmp)(const void *, const void *, void *);
		int what;	/* 0 tunnels, 1 routes, 2 spd */
		const char *fmt;
	} rules[] = {
		{ intent_cmp_id, 0, "tunnels[%zu].id: duplicate of tunnels[%zu]" },
		{ intent_cmp_ifname, 0, "tunnels[%zu].ifname: duplicate of tunnels[%zu]" },
		{ intent_cmp_reqid, 0, "tunnels[%zu].reqid: duplicate of tunnels[%zu]" },
		{ intent_cmp_demux, 0, "tunnels[%zu].key: same endpoints and key as tunnels[%zu]" },
		{ intent_cmp_route, 1, "routes[%zu]: same prefix, metric and tunnel as routes[%zu]" },
		{ intent_cmp_spd, 2, "spd[%zu]: same selector, dir and mark as spd[%zu]" },
	};
	size_t max = in->n_tunnels, a = 0, b = 0, *idx;
	int rc = 0;

	if (in->n_routes > max)
		max = in->n_routes;
	if (in->n_spd > max)
		max = in->n_spd;
	idx = malloc((max + 1) * sizeof(*idx));
	if (!idx)
		return vfail(err, errlen, "out of memory");
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]) && !rc; r++) {
		size_t n = rules[r].what == 0 ? in->n_tunnels :
			   rules[r].what == 1 ? in->n_routes : in->n_spd;

		if (intent_find_dup(idx, n, rules[r].cmp, in, &a, &b))
			rc = vfail(err, errlen, rules[r].fmt, b, a);
		/* idx is now sorted by the rule's key; the routes' order serves ECMP too. */
		if (!rc && rules[r].cmp == intent_cmp_route)
			rc = intent_check_ecmp(in, idx, err, errlen);
	}
	free(idx);
	return rc;
}

int intent_validate(const struct intent *in, char *err, size_t errlen)
{
	struct intent_ids ids = { in, malloc((in->n_tunnels + 1) * sizeof(size_t)) };
	int rc = 0;

	if (!ids.idx)
		return vfail(err, errlen, "out of memory");
	for (size_t i = 0; i < in->n_tunnels; i++)
		ids.idx[i] = i;
	qsort_r(ids.idx, in->n_tunnels, sizeof(*ids.idx), intent_cmp_id, (void *)in);
	if (!intent_label_ok(in->site))
		rc = vfail(err, errlen, "site: 1-63 of a-z 0-9 -, not starting or ending with -");
	for (size_t i = 0; !rc && i < in->n_tunnels; i++)
		rc = intent_check_tunnel(in, i, err, errlen);
	for (size_t i = 0; !rc && i < in->n_routes; i++)
		rc = intent_check_route(&ids, i, err, errlen);
	for (size_t i = 0; !rc && i < in->n_spd; i++)
		rc = intent_check_spd(&ids, i, err, errlen);
	if (!rc)
		rc = intent_check_unique(in, err, errlen);
	free(ids.idx);
	return rc;
}
