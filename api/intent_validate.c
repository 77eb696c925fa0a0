/* Intent validator: the rules that span fields and objects. The decoder has already
 * checked types, syntax and per-field ranges. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
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
	if (t->kind == INTENT_KIND_VTI && !t->key)
		return vfail(err, errlen, "tunnels[%zu].key: a VTI needs a non-zero key (its XFRM mark)", i);
	if (t->kind == INTENT_KIND_VTI && t->sec.mode != INTENT_MODE_TUNNEL)
		return vfail(err, errlen, "tunnels[%zu].security.mode: a VTI carries tunnel-mode SAs only", i);
	for (size_t k = 0; k < i; k++) {
		const struct intent_tunnel *o = &in->tunnels[k];

		if (!strcmp(o->id, t->id))
			return vfail(err, errlen, "tunnels[%zu].id: duplicate of tunnels[%zu]", i, k);
		if (!strcmp(o->ifname, t->ifname))
			return vfail(err, errlen, "tunnels[%zu].ifname: duplicate of tunnels[%zu]", i, k);
		if (o->reqid == t->reqid)
			return vfail(err, errlen, "tunnels[%zu].reqid: duplicate of tunnels[%zu]", i, k);
		/* The kernel demultiplexes received GRE/VTI by (local, remote, key). */
		if (!addr_cmp(&o->local, &t->local) && !addr_cmp(&o->remote, &t->remote) &&
		    o->key == t->key)
			return vfail(err, errlen, "tunnels[%zu].key: same endpoints and key as tunnels[%zu]", i, k);
	}
	return intent_check_overlay(t, i, err, errlen);
}

static int intent_check_route(const struct intent *in, size_t i, char *err, size_t errlen)
{
	const struct intent_route *r = &in->routes[i];

	if (!intent_tunnel_by_id(in, r->via))
		return vfail(err, errlen, "routes[%zu].via: no tunnel \"%s\"", i, r->via);
	for (size_t k = 0; k < i; k++)
		if (!addr_prefix_cmp(&in->routes[k].prefix, &r->prefix) &&
		    in->routes[k].metric == r->metric)
			return vfail(err, errlen, "routes[%zu]: same prefix and metric as routes[%zu]", i, k);
	return 0;
}

static bool intent_spd_same_key(const struct intent_spd *a, const struct intent_spd *b)
{
	return a->dir == b->dir && a->proto == b->proto &&
	       !addr_prefix_cmp(&a->src, &b->src) && !addr_prefix_cmp(&a->dst, &b->dst) &&
	       a->has_mark == b->has_mark &&
	       (!a->has_mark || (a->mark == b->mark && a->mark_mask == b->mark_mask));
}

static int intent_check_spd(const struct intent *in, size_t i, char *err, size_t errlen)
{
	const struct intent_spd *s = &in->spd[i];
	const struct intent_tunnel *t = intent_tunnel_by_id(in, s->tunnel);

	if (!t)
		return vfail(err, errlen, "spd[%zu].tunnel: no tunnel \"%s\"", i, s->tunnel);
	if (s->src.addr.family != t->local.family || s->dst.addr.family != t->local.family)
		return vfail(err, errlen, "spd[%zu]: src and dst must be in the underlay's family", i);
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
	for (size_t k = 0; k < i; k++)
		if (intent_spd_same_key(&in->spd[k], s))
			return vfail(err, errlen, "spd[%zu]: same selector, dir and mark as spd[%zu]", i, k);
	return 0;
}

int intent_validate(const struct intent *in, char *err, size_t errlen)
{
	int rc;

	if (!intent_label_ok(in->site))
		return vfail(err, errlen, "site: 1-63 of a-z 0-9 -, not starting or ending with -");
	for (size_t i = 0; i < in->n_tunnels; i++)
		if ((rc = intent_check_tunnel(in, i, err, errlen)))
			return rc;
	for (size_t i = 0; i < in->n_routes; i++)
		if ((rc = intent_check_route(in, i, err, errlen)))
			return rc;
	for (size_t i = 0; i < in->n_spd; i++)
		if ((rc = intent_check_spd(in, i, err, errlen)))
			return rc;
	return 0;
}
