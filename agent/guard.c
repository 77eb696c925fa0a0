/* The guard: what the agent refuses to enforce, whoever asks (see guard.h). */
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <curl/curl.h>

#include "guard.h"
#include "proposal.h"
#include "kstate.h"
#include "log.h"

struct guard *guard_new(void)
{
	return calloc(1, sizeof(struct guard));
}

void guard_free(struct guard *g)
{
	if (!g)
		return;
	free(g->keep);
	free(g);
}

int guard_keep(struct guard *g, const struct addr *a, bool controller)
{
	for (size_t i = 0; i < g->n_keep; i++)
		if (!addr_cmp(&g->keep[i].a, a))
			return 0;
	if (g->n_keep == g->cap_keep) {
		size_t ncap = g->cap_keep ? 2 * g->cap_keep : 16;
		void *nv = realloc(g->keep, ncap * sizeof(*g->keep));

		if (!nv)
			return -ENOMEM;
		g->keep = nv;
		g->cap_keep = ncap;
	}
	g->keep[g->n_keep++] = (struct guard_addr){ .a = *a, .controller = controller };
	return 1;
}

static bool guard_sockaddr(const struct sockaddr *sa, struct addr *out)
{
	memset(out, 0, sizeof(*out));
	out->family = sa ? sa->sa_family : AF_UNSPEC;
	if (out->family == AF_INET)
		memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (out->family == AF_INET6)
		memcpy(out->bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	return out->family == AF_INET || out->family == AF_INET6;
}

/* The gs* links are the agent's own: their addresses come from intents, not the host. */
int guard_keep_host(struct guard *g)
{
	struct ifaddrs *ifa, *i;
	struct addr a;
	int rc = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i && rc >= 0; i = i->ifa_next)
		if (strncmp(i->ifa_name, INTENT_IFNAME_PREFIX, strlen(INTENT_IFNAME_PREFIX)) &&
		    guard_sockaddr(i->ifa_addr, &a))
			rc = guard_keep(g, &a, false);
	freeifaddrs(ifa);
	return rc < 0 ? rc : 0;
}

/* The host part of url, without IPv6 brackets, into buf. */
static int guard_url_host(const char *url, char *buf, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL;
	int rc = -EINVAL;
	size_t n;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0))
		goto out;
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if (strlen(host) < len) {
		strcpy(buf, host);
		rc = 0;
	}
out:
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int guard_keep_url(struct guard *g, const char *url, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *r;
	char host[256];
	struct addr a;
	int rc;

	if (guard_url_host(url, host, sizeof(host)))
		return snprintf(err, errlen, "cannot find a host in the controller URL"), -EINVAL;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)))
		return snprintf(err, errlen, "%s: %s", host, gai_strerror(rc)), -EHOSTUNREACH;
	rc = 0;
	for (r = res; r && rc >= 0; r = r->ai_next)
		if (guard_sockaddr(r->ai_addr, &a))
			rc = guard_keep(g, &a, true);
	freeaddrinfo(res);
	if (rc < 0)
		snprintf(err, errlen, "%s", strerror(-rc));
	return rc < 0 ? rc : 0;
}

/* ---- address classes ---- */

static const struct {
	const char *prefix, *what;
} guard_special[] = {
	{ "0.0.0.0/8", "unspecified (0.0.0.0/8)" },
	{ "127.0.0.0/8", "loopback" },
	{ "169.254.0.0/16", "link-local" },
	{ "224.0.0.0/4", "multicast" },
	{ "255.255.255.255/32", "broadcast" },
	{ "240.0.0.0/4", "reserved (240.0.0.0/4)" },
	{ "::/128", "unspecified" },
	{ "::1/128", "loopback" },
	{ "::ffff:0:0/96", "IPv4-mapped" },
	{ "fe80::/10", "link-local" },
	{ "ff00::/8", "multicast" },
};
#define GUARD_N_SPECIAL (sizeof(guard_special) / sizeof(guard_special[0]))

static const struct addr_prefix *guard_special_prefix(size_t i)
{
	static struct addr_prefix v[GUARD_N_SPECIAL];
	static bool ready;

	for (size_t k = 0; !ready && k < GUARD_N_SPECIAL; k++)
		addr_prefix_parse(guard_special[k].prefix, &v[k]);
	ready = true;
	return &v[i];
}

/* The special range p overlaps, or NULL. ll_ok: IPv4 link-local is fine here. */
static const char *guard_special_hit(const struct addr_prefix *p, bool ll_ok)
{
	for (size_t i = 0; i < GUARD_N_SPECIAL; i++) {
		const struct addr_prefix *s = guard_special_prefix(i);

		if (ll_ok && i == 2)
			continue;
		if (s->addr.family == p->addr.family && addr_prefix_overlap(s, p))
			return guard_special[i].what;
	}
	return NULL;
}

static const char *guard_addr_special(const struct addr *a, bool ll_ok)
{
	struct addr_prefix p = { .addr = *a, .len = a->family == AF_INET ? 32 : 128 };

	return guard_special_hit(&p, ll_ok);
}

/* ---- the points no route may contain ---- */

enum guard_pt_what { PT_CONTROLLER, PT_HOST, PT_ENDPOINT, PT_OVERLAY };

struct guard_pt {
	struct addr a;
	enum guard_pt_what what;
	size_t tunnel;
};

struct guard_pts {
	struct guard_pt *v;
	size_t n;
};

static int guard_pt_cmp(const void *x, const void *y)
{
	return addr_cmp(&((const struct guard_pt *)x)->a, &((const struct guard_pt *)y)->a);
}

static void guard_pt_add(struct guard_pts *p, const struct addr *a, enum guard_pt_what w,
			 size_t t)
{
	p->v[p->n++] = (struct guard_pt){ .a = *a, .what = w, .tunnel = t };
}

/* Kept addresses, every tunnel's endpoints and overlay addresses, sorted by address:
 * the points inside a prefix are then one contiguous run from its network address. */
static int guard_pts_build(const struct guard *g, const struct intent *in, struct guard_pts *p)
{
	size_t nk = g ? g->n_keep : 0;

	p->n = 0;
	p->v = malloc((nk + 4 * in->n_tunnels + 1) * sizeof(*p->v));
	if (!p->v)
		return -ENOMEM;
	for (size_t i = 0; i < nk; i++)
		guard_pt_add(p, &g->keep[i].a, g->keep[i].controller ? PT_CONTROLLER : PT_HOST, 0);
	for (size_t i = 0; i < in->n_tunnels; i++) {
		const struct intent_tunnel *t = &in->tunnels[i];

		guard_pt_add(p, &t->local, PT_ENDPOINT, i);
		guard_pt_add(p, &t->remote, PT_ENDPOINT, i);
		guard_pt_add(p, &t->overlay_local.addr, PT_OVERLAY, i);
		guard_pt_add(p, &t->overlay_peer.addr, PT_OVERLAY, i);
	}
	qsort(p->v, p->n, sizeof(*p->v), guard_pt_cmp);
	return 0;
}

/* Index of the first point not below prefix's network address. */
static size_t guard_pts_lower(const struct guard_pts *p, const struct addr_prefix *pf)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr_cmp(&p->v[mid].a, &pf->addr) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Describes the point pt for a refusal: "192.0.2.1, the controller's address". */
static void guard_pt_text(const struct intent *in, const struct guard_pt *pt, char *buf,
			  size_t len)
{
	char a[ADDR_STRLEN];

	addr_fmt(&pt->a, a, sizeof(a));
	if (pt->what == PT_CONTROLLER)
		snprintf(buf, len, "%s, the controller's address", a);
	else if (pt->what == PT_HOST)
		snprintf(buf, len, "%s, an address of this gateway", a);
	else
		snprintf(buf, len, "%s, %s of tunnel %s", a,
			 pt->what == PT_ENDPOINT ? "an underlay endpoint" : "an overlay address",
			 in->tunnels[pt->tunnel].id);
}

/* The first point inside pf that skip() does not excuse, or NULL. */
static const struct guard_pt *guard_pts_inside(const struct guard_pts *p,
					       const struct addr_prefix *pf, size_t tunnel,
					       bool own_overlay_ok)
{
	for (size_t i = guard_pts_lower(p, pf); i < p->n && addr_prefix_contains(pf, &p->v[i].a);
	     i++) {
		const struct guard_pt *pt = &p->v[i];

		if (own_overlay_ok && pt->what == PT_OVERLAY && pt->tunnel == tunnel)
			continue;
		return pt;
	}
	return NULL;
}

/* ---- rules ---- */

static int guard_why(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int guard_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EPERM;
}

/* IKE identities: printable ASCII, bounded, and never a wildcard that would let any peer
 * holding the key (or any identity at all) authenticate. */
static int guard_ike_id(const char *field, const char *id, char *why, size_t len)
{
	size_t n = strlen(id);
	struct addr a;

	if (!n || n > GUARD_IKE_ID_MAX)
		return guard_why(why, len, "security.%s: 1-%d characters", field, GUARD_IKE_ID_MAX);
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			return guard_why(why, len, "security.%s: only printable ASCII", field);
	if (id[0] == ' ' || id[n - 1] == ' ')
		return guard_why(why, len, "security.%s: leading or trailing space", field);
	if (id[0] == '%' || strchr(id, '*'))
		return guard_why(why, len, "security.%s: wildcard identity (%%any, *)",
				 field);
	if (!addr_parse(id, &a) && guard_addr_special(&a, false))
		return guard_why(why, len, "security.%s: %s address as identity", field,
				 guard_addr_special(&a, false));
	return 0;
}

static int guard_proposals(const struct intent_tunnel *t, char *why, size_t len)
{
	enum proposal_kind child = t->sec.protocol == INTENT_PROTO_AH ? PROPOSAL_AH :
								     PROPOSAL_ESP;
	int rc = 0;

	for (size_t i = 0; !rc && i < t->sec.n_ike_proposals; i++)
		rc = proposal_policy(t->sec.ike_proposals[i], PROPOSAL_IKE, why, len);
	for (size_t i = 0; !rc && i < t->sec.n_child_proposals; i++)
		rc = proposal_policy(t->sec.child_proposals[i], child, why, len);
	return rc;
}

/* Underlay and overlay addresses of tunnel i. */
static int guard_tunnel_addrs(const struct intent *in, const struct guard_pts *pts, size_t i,
			      char *why, size_t len)
{
	const struct intent_tunnel *t = &in->tunnels[i];
	struct addr_prefix net = { .addr = t->overlay_local.addr, .len = t->overlay_local.len };
	const struct guard_pt *pt;
	const char *w;
	char a[ADDR_STRLEN + 96];

	if ((w = guard_addr_special(&t->local, false)))
		return guard_why(why, len, "local: %s address", w);
	if ((w = guard_addr_special(&t->remote, false)))
		return guard_why(why, len, "remote: %s address", w);
	/* IPv4 link-local overlays are common (169.254.0.0/16 inside tunnels); IPv6 ones
	 * would clash with the kernel's own fe80:: addresses. */
	if ((w = guard_addr_special(&t->overlay_local.addr, true)) ||
	    (w = guard_addr_special(&t->overlay_peer.addr, true)))
		return guard_why(why, len, "overlay: %s address", w);
	/* The overlay's /31 (/127) becomes a connected route through the tunnel. */
	for (unsigned b = net.len; b < (net.addr.family == AF_INET ? 32u : 128u); b++)
		net.addr.bytes[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
	if ((pt = guard_pts_inside(pts, &net, i, true))) {
		guard_pt_text(in, pt, a, sizeof(a));
		return guard_why(why, len, "overlay: its prefix contains %s", a);
	}
	return 0;
}

static int guard_tunnel(const struct intent *in, const struct guard_pts *pts, size_t i,
			char *why, size_t len)
{
	const struct intent_tunnel *t = &in->tunnels[i];
	int rc = guard_tunnel_addrs(in, pts, i, why, len);

	if (!rc && t->sec.local_id)
		rc = guard_ike_id("local_id", t->sec.local_id, why, len);
	if (!rc && t->sec.remote_id)
		rc = guard_ike_id("remote_id", t->sec.remote_id, why, len);
	/* Certificates pin the peer by name under the intent's CA: without either, any
	 * certificate charon happens to trust would do. */
	if (!rc && t->sec.auth == INTENT_AUTH_X509 && (!in->ca || !t->sec.remote_id))
		rc = guard_why(why, len, "security.auth: x509 needs the intent's ca and a "
			       "remote_id");
	return rc ? rc : guard_proposals(t, why, len);
}

static bool guard_host_prefix(const struct addr_prefix *p, const struct addr *a)
{
	return p->len == (a->family == AF_INET ? 32 : 128) && !addr_cmp(&p->addr, a);
}

/* GRE: exactly the tunnel's two endpoints, protocol GRE, in and out, and for
 * tunnel-mode SAs fwd like in (charon queries it for the SA's use time; it matches no
 * traffic, GRE being addressed to this gateway). VTI: any to any, all protocols,
 * selected by the tunnel's key as mark (intent_validate checked it). */
static int guard_spd(const struct intent_tunnel *t, const struct intent_spd *s, size_t k,
		     char *why, size_t len)
{
	bool out = s->dir == INTENT_DIR_OUT;

	if (t->kind == INTENT_KIND_VTI) {
		if (s->proto || s->src.len || s->dst.len || !s->has_mark)
			return guard_why(why, len, "spd[%zu]: a VTI's selector must be any to any, "
					 "all protocols, with its key as mark", k);
		return 0;
	}
	if (s->proto != IPPROTO_GRE ||
	    (s->dir == INTENT_DIR_FWD && t->sec.mode != INTENT_MODE_TUNNEL))
		return guard_why(why, len, "spd[%zu]: a GRE tunnel's policies are in and out "
				 "(and fwd in tunnel mode), protocol 47", k);
	if (!guard_host_prefix(&s->src, out ? &t->local : &t->remote) ||
	    !guard_host_prefix(&s->dst, out ? &t->remote : &t->local))
		return guard_why(why, len, "spd[%zu]: selector must be exactly the tunnel's "
				 "endpoints (%s)", k, out ? "local to remote" : "remote to local");
	return 0;
}

static int guard_route(const struct intent *in, const struct guard_pts *pts,
		       const struct intent_route *r, char *why, size_t len)
{
	const struct guard_pt *pt;
	const char *w;
	char a[ADDR_STRLEN + 96];

	if (r->prefix.len < GUARD_ROUTE_MIN_LEN)
		return guard_why(why, len, "a default or near-default route (shorter than /%d)",
				 GUARD_ROUTE_MIN_LEN);
	if ((w = guard_special_hit(&r->prefix, false)))
		return guard_why(why, len, "overlaps the %s range", w);
	if ((pt = guard_pts_inside(pts, &r->prefix, 0, false))) {
		guard_pt_text(in, pt, a, sizeof(a));
		return guard_why(why, len, "contains %s", a);
	}
	return 0;
}

/* ---- apply ---- */

void guard_report_clear(struct guard_report *rep)
{
	free(rep->v);
	memset(rep, 0, sizeof(*rep));
}

static int guard_report_add(struct guard_report *rep, const struct intent *in, const char *id,
			    const struct intent_route *r, const char *why)
{
	struct guard_refusal *f;

	if (rep->n == rep->cap) {
		size_t ncap = rep->cap ? 2 * rep->cap : 8;
		void *nv = realloc(rep->v, ncap * sizeof(*rep->v));

		if (!nv)
			return -ENOMEM;
		rep->v = nv;
		rep->cap = ncap;
	}
	f = &rep->v[rep->n++];
	memset(f, 0, sizeof(*f));
	f->tunnel = !r;
	snprintf(f->id, sizeof(f->id), "%s", id);
	snprintf(f->reason, sizeof(f->reason), "%s", why);
	if (r) {
		char p[ADDR_PREFIX_STRLEN];

		addr_prefix_fmt(&r->prefix, p, sizeof(p));
		snprintf(f->route, sizeof(f->route), "%s metric %u", p, r->metric);
		log_ctx(LOG_LVL_WARN, in->site, id, "route %s refused: %s", f->route, why);
	} else {
		log_ctx(LOG_LVL_ERR, in->site, id, "refused: %s", why);
	}
	return 0;
}

void guard_refusal_text(const struct guard_refusal *r, char *buf, size_t len)
{
	if (r->tunnel)
		snprintf(buf, len, "refused by the agent: %s", r->reason);
	else
		snprintf(buf, len, "route %s refused by the agent: %s", r->route, r->reason);
}

static int guard_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct intent_tunnel *)a)->id, ((const struct intent_tunnel *)b)->id);
}

/* Which tunnels go: their own fields, then their SPD entries; a GRE tunnel without both
 * policies would carry its traffic in clear (unless it has none and the operator allows
 * plain GRE: cleartext). */
static int guard_mark_tunnels(const struct intent *in, const struct guard_pts *pts,
			      bool cleartext, bool *drop, struct guard_report *rep)
{
	const void **by_id = kstate_sort(in->tunnels, in->n_tunnels, sizeof(*in->tunnels),
					 guard_id_cmp);
	uint8_t *dirs = calloc(in->n_tunnels + 1, 1);
	char why[GUARD_REASON_MAX];
	int rc = -ENOMEM;

	if (!by_id || !dirs)
		goto out;
	rc = 0;
	for (size_t i = 0; !rc && i < in->n_tunnels; i++)
		if ((drop[i] = guard_tunnel(in, pts, i, why, sizeof(why))))
			rc = guard_report_add(rep, in, in->tunnels[i].id, NULL, why);
	for (size_t k = 0; !rc && k < in->n_spd; k++) {
		struct intent_tunnel key = { .id = in->spd[k].tunnel };
		const struct intent_tunnel *t = kstate_find((const void *const *)by_id,
							    in->n_tunnels, &key, guard_id_cmp);
		size_t i = t ? (size_t)(t - in->tunnels) : 0;

		if (!t || drop[i])
			continue;
		dirs[i] |= (uint8_t)(1u << in->spd[k].dir);
		if ((drop[i] = guard_spd(t, &in->spd[k], k, why, sizeof(why))))
			rc = guard_report_add(rep, in, t->id, NULL, why);
	}
	for (size_t i = 0; !rc && i < in->n_tunnels; i++) {
		uint8_t both = 1u << INTENT_DIR_IN | 1u << INTENT_DIR_OUT;

		if (drop[i] || in->tunnels[i].kind != INTENT_KIND_GRE || (dirs[i] & both) == both ||
		    (cleartext && !dirs[i]))
			continue;
		drop[i] = true;
		rc = guard_report_add(rep, in, in->tunnels[i].id, NULL,
				      "spd: a GRE tunnel needs its in and out policies "
				      "(its traffic would go in clear)");
	}
out:
	free(by_id);
	free(dirs);
	return rc;
}

/* Moves the elements with drop[i] out of arr (kept ones close up, in order) into junk. */
static void guard_split(void *arr, size_t *n, size_t size, const bool *drop, void *junk,
			size_t *jn)
{
	char *a = arr, *j = junk;
	size_t k = 0;

	*jn = 0;
	for (size_t i = 0; i < *n; i++) {
		char *dst = drop[i] ? j + (*jn)++ * size : a + k++ * size;

		if (dst != a + i * size)
			memmove(dst, a + i * size, size);
	}
	*n = k;
}

/* Removes what is marked, freeing it through intent_free on an intent of its own. */
static int guard_compact(struct intent *in, const bool *drop_t, const bool *drop_r,
			 const bool *drop_s)
{
	struct intent *junk = intent_new();

	if (!junk || !(junk->tunnels = malloc((in->n_tunnels + 1) * sizeof(*in->tunnels))) ||
	    !(junk->routes = malloc((in->n_routes + 1) * sizeof(*in->routes))) ||
	    !(junk->spd = malloc((in->n_spd + 1) * sizeof(*in->spd)))) {
		intent_free(junk);
		return -ENOMEM;
	}
	guard_split(in->tunnels, &in->n_tunnels, sizeof(*in->tunnels), drop_t, junk->tunnels,
		    &junk->n_tunnels);
	guard_split(in->routes, &in->n_routes, sizeof(*in->routes), drop_r, junk->routes,
		    &junk->n_routes);
	guard_split(in->spd, &in->n_spd, sizeof(*in->spd), drop_s, junk->spd, &junk->n_spd);
	intent_free(junk);
	return 0;
}

/* Routes and SPD entries of dropped tunnels go with them; other routes are checked. */
static int guard_mark_rest(const struct intent *in, const struct guard_pts *pts,
			   const bool *drop_t, bool *drop_r, bool *drop_s,
			   struct guard_report *rep)
{
	const void **by_id = kstate_sort(in->tunnels, in->n_tunnels, sizeof(*in->tunnels),
					 guard_id_cmp);
	char why[GUARD_REASON_MAX];
	int rc = by_id ? 0 : -ENOMEM;

	for (size_t k = 0; !rc && k < in->n_spd; k++) {
		struct intent_tunnel key = { .id = in->spd[k].tunnel };
		const struct intent_tunnel *t = kstate_find((const void *const *)by_id,
							    in->n_tunnels, &key, guard_id_cmp);

		drop_s[k] = !t || drop_t[t - in->tunnels];
	}
	for (size_t k = 0; !rc && k < in->n_routes; k++) {
		const struct intent_route *r = &in->routes[k];
		struct intent_tunnel key = { .id = r->via };
		const struct intent_tunnel *t = kstate_find((const void *const *)by_id,
							    in->n_tunnels, &key, guard_id_cmp);

		if ((drop_r[k] = !t || drop_t[t - in->tunnels]))
			continue;
		if ((drop_r[k] = guard_route(in, pts, r, why, sizeof(why))))
			rc = guard_report_add(rep, in, r->via, r, why);
	}
	free(by_id);
	return rc;
}

int guard_apply(const struct guard *g, struct intent *in, struct guard_report *rep)
{
	struct guard_pts pts = { 0 };
	bool *drop_t = calloc(in->n_tunnels + 1, sizeof(bool));
	bool *drop_r = calloc(in->n_routes + 1, sizeof(bool));
	bool *drop_s = calloc(in->n_spd + 1, sizeof(bool));
	int rc = -ENOMEM;

	guard_report_clear(rep);
	if (!drop_t || !drop_r || !drop_s || guard_pts_build(g, in, &pts))
		goto out;
	if ((rc = guard_mark_tunnels(in, &pts, g && g->cleartext_gre, drop_t, rep)) ||
	    (rc = guard_mark_rest(in, &pts, drop_t, drop_r, drop_s, rep)))
		goto out;
	rc = rep->n ? guard_compact(in, drop_t, drop_r, drop_s) : 0;
out:
	free(pts.v);
	free(drop_t);
	free(drop_r);
	free(drop_s);
	return rc;
}
