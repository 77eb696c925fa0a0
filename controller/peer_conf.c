/* An unmanaged site's intent as configuration for a third-party peer (peer_conf.h).
 * Every line mirrors what the gresec agent at the other end gives charon and the kernel
 * (agent/ike.c, agent/tunnel_kind.c, agent/plan.c); docs/interop.md explains each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "peer_conf.h"

/* The agent keeps at least this long between a CHILD_SA's rekey and its hard expiry
 * (agent/ike.h IKE_CHILD_MARGIN_S): the peer's SA must not expire before gresec's rekey. */
#define PEER_CONF_CHILD_MARGIN_S 10

int peer_conf_format_parse(const char *s, enum peer_conf_format *out)
{
	if (s && !strcmp(s, "swanctl"))
		*out = PEER_CONF_SWANCTL;
	else if (s && !strcmp(s, "libreswan"))
		*out = PEER_CONF_LIBRESWAN;
	else
		return -EINVAL;
	return 0;
}

const char *peer_conf_format_name(enum peer_conf_format f)
{
	return f == PEER_CONF_SWANCTL ? "swanctl" : "libreswan";
}

static void peer_conf_id(const char *id, const struct addr *a, bool at, char *buf, size_t len)
{
	struct addr tmp;

	if (!id)
		addr_fmt(a, buf, len);
	else if (at && addr_parse(id, &tmp) < 0)
		snprintf(buf, len, "@%s", id);	/* libreswan: '@' marks a name, not a host */
	else
		snprintf(buf, len, "%s", id);
}

static void peer_conf_child_life(uint32_t rekey, uint32_t *life, uint32_t *jitter)
{
	*life = *jitter = 0;
	if (!rekey || rekey / 10 >= PEER_CONF_CHILD_MARGIN_S)
		return;
	*life = rekey + PEER_CONF_CHILD_MARGIN_S;
	*jitter = rekey / 10;
}

/* ---- the ip commands ---- */

static void peer_conf_link(FILE *f, const struct intent_tunnel *t)
{
	bool v6 = t->local.family == AF_INET6, vti = t->kind == INTENT_KIND_VTI;
	char l[ADDR_STRLEN], r[ADDR_STRLEN], ttl[16], ov[ADDR_PREFIX_STRLEN];

	addr_fmt(&t->local, l, sizeof(l));
	addr_fmt(&t->remote, r, sizeof(r));
	if (t->ttl)
		snprintf(ttl, sizeof(ttl), "%u", t->ttl);
	else
		snprintf(ttl, sizeof(ttl), "inherit");
	fprintf(f, "\n# tunnel %s: %s, key %u\n", t->id, intent_kind_name(t->kind), t->key);
	fprintf(f, "ip link show %s >/dev/null 2>&1 || ip link add %s type %s local %s remote %s "
		"ikey %u okey %u", t->ifname, t->ifname, vti ? (v6 ? "vti6" : "vti")
		: (v6 ? "ip6gre" : "gre"), l, r, t->key, t->key);
	if (!vti)
		fprintf(f, " %s %s%s", v6 ? "hoplimit" : "ttl", ttl, v6 ? "" : " pmtudisc");
	fprintf(f, "\n");
	/* The VTI's packets are checked against the marked policies by the VTI itself;
	 * the interface's own policy check would drop them. */
	if (vti)
		fprintf(f, "sysctl -qw net.%s.conf.%s.disable_policy=1\n", v6 ? "ipv6" : "ipv4",
			t->ifname);
	intent_ifaddr_fmt(&t->overlay_local, ov, sizeof(ov));
	fprintf(f, "ip link set %s mtu %u up\nip addr replace %s dev %s\n", t->ifname, t->mtu, ov,
		t->ifname);
	if (vti)
		return;
	/* While the IKE daemon has no policy for GRE between the underlays (before it has
	 * loaded the connection, while libreswan 4.10 negotiates, after it stops), these
	 * drop GRE both ways instead of letting it pass in clear. The kernel keys a policy
	 * by selector and mark, not priority: with the daemon's selector and no mark, an
	 * update would replace the daemon's policy (seen: charon's trap policy gone). The
	 * mark 0/0xffffffff makes them policies of their own that still match every
	 * unmarked packet, at a priority weaker than the daemon's. */
	fprintf(f, "ip xfrm policy update src %s dst %s proto gre dir out priority %u "
		"mark 0 mask 0xffffffff action block\n"
		"ip xfrm policy update src %s dst %s proto gre dir in priority %u "
		"mark 0 mask 0xffffffff action block\n",
		l, r, PEER_CONF_GUARD_PRIO, r, l, PEER_CONF_GUARD_PRIO);
}

/* A path's gateway as the agent writes it (agent/plan.c plan_route_gw): IPv6 routes
 * name one, the overlay peer or fe80::<its IPv4 overlay address>. */
static void peer_conf_path(FILE *f, const struct intent_tunnel *t, bool v6, bool multi)
{
	struct addr gw;
	char g[ADDR_STRLEN];

	fprintf(f, "%s", multi ? " nexthop" : "");
	if (v6) {
		gw = t->overlay_peer.addr;
		if (gw.family != AF_INET6) {
			memset(&gw, 0, sizeof(gw));
			gw.family = AF_INET6;
			gw.bytes[0] = 0xfe;
			gw.bytes[1] = 0x80;
			memcpy(&gw.bytes[12], t->overlay_peer.addr.bytes, 4);
		}
		addr_fmt(&gw, g, sizeof(g));
		fprintf(f, " via %s", g);
	}
	fprintf(f, " dev %s", t->ifname);
}

/* Routes of one (prefix, metric) through several tunnels are one multipath route. */
static void peer_conf_routes(FILE *f, const struct intent *in)
{
	char p[ADDR_PREFIX_STRLEN];

	if (in->n_routes)
		fprintf(f, "\n# routes to the sites behind the tunnels\n");
	for (size_t i = 0, j; i < in->n_routes; i = j) {
		const struct intent_route *r = &in->routes[i];
		bool v6 = r->prefix.addr.family == AF_INET6;

		for (j = i + 1; j < in->n_routes && in->routes[j].metric == r->metric &&
		     !addr_prefix_cmp(&in->routes[j].prefix, &r->prefix); j++)
			;
		addr_prefix_fmt(&r->prefix, p, sizeof(p));
		fprintf(f, "ip %sroute replace %s metric %u", v6 ? "-6 " : "", p, r->metric);
		for (size_t k = i; k < j; k++) {
			const struct intent_tunnel *t = intent_tunnel_by_id(in, in->routes[k].via);

			if (t)
				peer_conf_path(f, t, v6, j - i > 1);
		}
		fprintf(f, "\n");
	}
}

static void peer_conf_script(FILE *f, const struct intent *in)
{
	fprintf(f, "#!/bin/sh\n# gresec: site %s, intent revision %llu. The tunnel interfaces, "
		"their\n# addresses, the routes, and a guard against cleartext GRE. Run as root "
		"after the\n# IKE daemon has started, and again after every change.\nset -eu\n",
		in->site, (unsigned long long)in->revision);
	for (size_t i = 0; i < in->n_tunnels; i++)
		peer_conf_link(f, &in->tunnels[i]);
	peer_conf_routes(f, in);
}

/* ---- swanctl.conf ---- */

static void peer_conf_list(FILE *f, const char *key, char **v, size_t n)
{
	if (!n)
		return;
	fprintf(f, "%s = ", key);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", v[i]);
	fprintf(f, "\n");
}

static const char *peer_conf_ts(const struct intent_tunnel *t)
{
	if (t->kind == INTENT_KIND_GRE)
		return "dynamic[gre]";
	return t->overlay_local.addr.family == AF_INET6 ? "::/0" : "0.0.0.0/0";
}

/* On demand: a trap policy starts the SA on the first packet, from either end.
 * Always-on: the end gresec made the initiator starts it and restarts it after DPD;
 * the other end keeps a trap, so it too brings the tunnel up when it has traffic. */
static void peer_conf_swan_child(FILE *f, const struct intent_tunnel *t)
{
	const struct intent_security *s = &t->sec;
	bool start = s->start == INTENT_START_ALWAYS && s->initiator;
	uint32_t life, jitter;

	fprintf(f, "\t\tchildren {\n\t\t\t%s {\n", t->id);
	fprintf(f, "\t\t\t\tmode = %s\n", intent_mode_name(s->mode));
	fprintf(f, "\t\t\t\t");
	peer_conf_list(f, s->protocol == INTENT_PROTO_AH ? "ah_proposals" : "esp_proposals",
		       s->child_proposals, s->n_child_proposals);
	fprintf(f, "\t\t\t\tlocal_ts = %s\n\t\t\t\tremote_ts = %s\n", peer_conf_ts(t),
		peer_conf_ts(t));
	if (t->kind == INTENT_KIND_VTI)
		fprintf(f, "\t\t\t\tmark_in = %u/0xffffffff\n\t\t\t\tmark_out = %u/0xffffffff\n",
			t->key, t->key);
	peer_conf_child_life(s->child_lifetime, &life, &jitter);
	if (s->child_lifetime)
		fprintf(f, "\t\t\t\trekey_time = %us\n", s->child_lifetime);
	if (life)
		fprintf(f, "\t\t\t\tlife_time = %us\n\t\t\t\trand_time = %us\n", life, jitter);
	fprintf(f, "\t\t\t\tstart_action = %s\n\t\t\t\tdpd_action = %s\n\t\t\t\tclose_action = "
		"none\n\t\t\t}\n\t\t}\n", start ? "start" : "trap", start ? "restart" : "clear");
}

static void peer_conf_swan_conn(FILE *f, const struct intent_tunnel *t)
{
	const struct intent_security *s = &t->sec;
	char l[ADDR_STRLEN], r[ADDR_STRLEN], lid[256], rid[256];

	addr_fmt(&t->local, l, sizeof(l));
	addr_fmt(&t->remote, r, sizeof(r));
	peer_conf_id(s->local_id, &t->local, false, lid, sizeof(lid));
	peer_conf_id(s->remote_id, &t->remote, false, rid, sizeof(rid));
	fprintf(f, "\t%s {\n\t\tversion = 2\n\t\tlocal_addrs = %s\n\t\tremote_addrs = %s\n",
		t->id, l, r);
	fprintf(f, "\t\t");
	peer_conf_list(f, "proposals", s->ike_proposals, s->n_ike_proposals);
	if (s->ike_lifetime)
		fprintf(f, "\t\trekey_time = %us\n", s->ike_lifetime);
	fprintf(f, "\t\treauth_time = 0\n");
	if (s->dpd_delay)
		fprintf(f, "\t\tdpd_delay = %us\n", s->dpd_delay);
	fprintf(f, "\t\tencap = %s\n\t\tmobike = no\n\t\tunique = replace\n",
		s->udp_encap ? "yes" : "no");
	fprintf(f, "\t\tlocal {\n\t\t\tauth = psk\n\t\t\tid = %s\n\t\t}\n", lid);
	fprintf(f, "\t\tremote {\n\t\t\tauth = psk\n\t\t\tid = %s\n\t\t}\n", rid);
	peer_conf_swan_child(f, t);
	fprintf(f, "\t}\n");
}

/* The PSK is "0x" + hex: 0x in swanctl.conf and ipsec.secrets means the same bytes. */
static void peer_conf_swan_secret(FILE *f, const struct intent_tunnel *t)
{
	char lid[256], rid[256];

	peer_conf_id(t->sec.local_id, &t->local, false, lid, sizeof(lid));
	peer_conf_id(t->sec.remote_id, &t->remote, false, rid, sizeof(rid));
	fprintf(f, "\tike-%s {\n\t\tid-local = %s\n\t\tid-remote = %s\n\t\tsecret = %s\n\t}\n",
		t->id, lid, rid, t->psk);
}

static void peer_conf_swanctl(FILE *f, const struct intent *in)
{
	fprintf(f, "# gresec: site %s, intent revision %llu. For /etc/swanctl/conf.d/; load with\n"
		"# swanctl --load-all. Contains the pre-shared keys: keep it mode 0600.\n",
		in->site, (unsigned long long)in->revision);
	fprintf(f, "connections {\n");
	for (size_t i = 0; i < in->n_tunnels; i++)
		peer_conf_swan_conn(f, &in->tunnels[i]);
	fprintf(f, "}\nsecrets {\n");
	for (size_t i = 0; i < in->n_tunnels; i++)
		peer_conf_swan_secret(f, &in->tunnels[i]);
	fprintf(f, "}\n");
}

static const char peer_conf_strongswan_conf[] =
	"# gresec: for /etc/strongswan.d/. A VTI's SA covers 0.0.0.0/0 (or ::/0): charon must\n"
	"# not route everything into table 220 for it; gresec-peer.sh installs the routes.\n"
	"charon {\n\tinstall_routes = no\n}\n";

/* ---- libreswan ---- */

/* libreswan 4.10 negotiates one PFS group for a CHILD_SA (it cannot answer
 * INVALID_KE_PAYLOAD there): every child proposal must name the same single group. */
static int peer_conf_ls_group(const char *prop, const char *spelled, char *group, size_t len,
			      char *why, size_t wlen)
{
	const char *g = strrchr(spelled, '-');

	g = g ? g + 1 : spelled;
	if (strchr(g, '+') || (*group && strcmp(group, g))) {
		snprintf(why, wlen, "child proposal '%s': libreswan takes one PFS group for all "
			 "child proposals, and these name several", prop);
		return -ENOTSUP;
	}
	snprintf(group, len, "%s", g);
	return 0;
}

/* One proposal list in libreswan's spelling; *pfs from the first child proposal (the
 * preferred one), and every other must agree: libreswan has one pfs= per connection. */
static int peer_conf_ls_algs(FILE *f, const char *key, char **v, size_t n,
			     enum proposal_kind kind, bool *pfs, char *why, size_t wlen)
{
	char buf[256], group[256] = "";
	bool ke;

	if (!n)
		return 0;
	fprintf(f, "\t%s=", key);
	for (size_t i = 0; i < n; i++) {
		int r = peer_alg_libreswan(v[i], kind, buf, sizeof(buf), &ke, why, wlen);

		if (r < 0)
			return r;
		if (pfs && i && ke != *pfs) {
			snprintf(why, wlen, "child proposals '%s' and '%s' differ in PFS: libreswan "
				 "has one pfs= setting per connection", v[0], v[i]);
			return -ENOTSUP;
		}
		if (pfs && ke && peer_conf_ls_group(v[i], buf, group, sizeof(group), why, wlen))
			return -ENOTSUP;
		if (pfs)
			*pfs = ke;
		fprintf(f, "%s%s", i ? "," : "", buf);
	}
	fprintf(f, "\n");
	return 0;
}

static void peer_conf_ls_head(FILE *f, const struct intent_tunnel *t)
{
	const struct intent_security *s = &t->sec;
	char l[ADDR_STRLEN], r[ADDR_STRLEN], lid[256], rid[256];
	const char *ts = peer_conf_ts(t);

	addr_fmt(&t->local, l, sizeof(l));
	addr_fmt(&t->remote, r, sizeof(r));
	peer_conf_id(s->local_id, &t->local, true, lid, sizeof(lid));
	peer_conf_id(s->remote_id, &t->remote, true, rid, sizeof(rid));
	fprintf(f, "\nconn %s\n\tikev2=insist\n\tauthby=secret\n\ttype=%s\n", t->id,
		intent_mode_name(s->mode));
	fprintf(f, "\tleft=%s\n\tleftid=%s\n\tright=%s\n\trightid=%s\n", l, lid, r, rid);
	if (t->kind == INTENT_KIND_GRE)
		fprintf(f, "\tleftprotoport=gre\n\trightprotoport=gre\n");
	else
		fprintf(f, "\tleftsubnet=%s\n\trightsubnet=%s\n\tmark=%u/0xffffffff\n", ts, ts, t->key);
	/* gresec-peer.sh owns interfaces and routes: _updown must not add a route for
	 * 0.0.0.0/0 (VTI) or anything else. */
	fprintf(f, "\tleftupdown=%%disabled\n");
}

static int peer_conf_ls_conn(FILE *f, const struct intent_tunnel *t, char *why, size_t wlen)
{
	const struct intent_security *s = &t->sec;
	uint32_t margin = s->child_lifetime / 10;
	bool pfs = false, start = s->start == INTENT_START_ALWAYS && s->initiator;
	int r;

	peer_conf_ls_head(f, t);
	r = peer_conf_ls_algs(f, "ike", s->ike_proposals, s->n_ike_proposals, PROPOSAL_IKE,
			      NULL, why, wlen);
	if (r == 0 && s->protocol == INTENT_PROTO_AH)
		fprintf(f, "\tphase2=ah\n");
	if (r == 0)
		r = peer_conf_ls_algs(f, s->protocol == INTENT_PROTO_AH ? "ah" : "esp",
				      s->child_proposals, s->n_child_proposals,
				      s->protocol == INTENT_PROTO_AH ? PROPOSAL_AH : PROPOSAL_ESP,
				      &pfs, why, wlen);
	if (r < 0)
		return r;
	fprintf(f, "\tpfs=%s\n", pfs ? "yes" : "no");
	if (s->ike_lifetime)
		fprintf(f, "\tikelifetime=%us\n", s->ike_lifetime);
	/* libreswan's salifetime is the hard expiry, and it rekeys rekeymargin x (1 + up
	 * to rekeyfuzz, 100 %) before it: with charon's hard expiry (rekey + 10 %, at least
	 * + 10 s) and that gap as the margin, it rekeys between gresec's rekey_time less
	 * the margin and rekey_time, as charon does. (A margin as long as the lifetime had
	 * it rekey every few seconds, seen in the lab.) */
	if (margin < PEER_CONF_CHILD_MARGIN_S)
		margin = PEER_CONF_CHILD_MARGIN_S;
	if (s->child_lifetime)
		fprintf(f, "\tsalifetime=%us\n\trekeymargin=%us\n", s->child_lifetime + margin,
			margin);
	/* IKEv2 declares a peer dead by its retransmission timeout (dpdtimeout is
	 * ignored, with a warning). */
	if (s->dpd_delay)
		fprintf(f, "\tdpddelay=%us\n\tdpdaction=%s\n", s->dpd_delay,
			start ? "restart" : "clear");
	fprintf(f, "\tencapsulation=no\n\tmobike=no\n\tauto=%s\n", start ? "start" : "route");
	return 0;
}

static void peer_conf_ls_secret(FILE *f, const struct intent_tunnel *t)
{
	char lid[256], rid[256];

	peer_conf_id(t->sec.local_id, &t->local, true, lid, sizeof(lid));
	peer_conf_id(t->sec.remote_id, &t->remote, true, rid, sizeof(rid));
	fprintf(f, "%s %s : PSK %s\n", lid, rid, t->psk);
}

/* libreswan 4.10 behind NAT (or facing a peer behind NAT) gets its IKE_SA but no
 * CHILD_SA: charon answers a transport-mode GRE proposal with the NAT's public address
 * in the traffic selectors, which libreswan refuses (TS_UNACCEPTABLE). Refused here
 * rather than rendered into a tunnel that cannot come up (docs/interop.md, NAT). */
static int peer_conf_ls_nat(const struct intent *in, char *why, size_t wlen)
{
	for (size_t i = 0; i < in->n_tunnels; i++) {
		if (in->tunnels[i].sec.udp_encap) {
			snprintf(why, wlen, "tunnel %s crosses NAT: libreswan cannot meet gresec "
				 "through NAT (the traffic selectors differ, see docs/interop.md); "
				 "use format=swanctl (strongSwan)", in->tunnels[i].id);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int peer_conf_libreswan(FILE *conf, FILE *sec, const struct intent *in, char *why,
			       size_t wlen)
{
	int r = peer_conf_ls_nat(in, why, wlen);

	fprintf(conf, "# gresec: site %s, intent revision %llu. For /etc/ipsec.d/ (libreswan "
		"4.x).\n", in->site, (unsigned long long)in->revision);
	fprintf(sec, "# gresec: site %s, intent revision %llu. For /etc/ipsec.d/, mode 0600.\n",
		in->site, (unsigned long long)in->revision);
	for (size_t i = 0; i < in->n_tunnels && r == 0; i++) {
		r = peer_conf_ls_conn(conf, &in->tunnels[i], why, wlen);
		peer_conf_ls_secret(sec, &in->tunnels[i]);
	}
	return r;
}

/* ---- the answer ---- */

struct peer_conf_file {
	const char *name;
	char *text;
	size_t len;
	FILE *f;
};

static int peer_conf_files(const struct intent *in, enum peer_conf_format fmt,
			   struct peer_conf_file *files, char *why, size_t wlen)
{
	int r = 0;

	for (size_t i = 0; i < 3; i++) {
		files[i].f = open_memstream(&files[i].text, &files[i].len);
		if (!files[i].f)
			return -ENOMEM;
	}
	files[2].name = "gresec-peer.sh";
	peer_conf_script(files[2].f, in);
	if (fmt == PEER_CONF_SWANCTL) {
		files[0].name = "swanctl.conf";
		files[1].name = "strongswan.conf";
		peer_conf_swanctl(files[0].f, in);
		fputs(peer_conf_strongswan_conf, files[1].f);
	} else {
		files[0].name = "ipsec.conf";
		files[1].name = "ipsec.secrets";
		r = peer_conf_libreswan(files[0].f, files[1].f, in, why, wlen);
	}
	for (size_t i = 0; i < 3; i++) {
		if (fclose(files[i].f) != 0 && r == 0)
			r = -ENOMEM;
		files[i].f = NULL;
	}
	return r;
}

int peer_conf_render(const struct intent *in, enum peer_conf_format fmt, json_t **out,
		     char *why, size_t wlen)
{
	struct peer_conf_file files[3] = { { 0 } };
	json_t *fo = NULL;
	int r = peer_conf_files(in, fmt, files, why, wlen);

	*out = NULL;
	if (r < 0)
		goto out;
	r = -ENOMEM;
	fo = json_object();
	for (size_t i = 0; fo && i < 3; i++)
		if (json_object_set_new(fo, files[i].name, json_stringn(files[i].text,
									   files[i].len)) < 0)
			goto out;
	*out = json_pack("{s:s, s:I, s:s, s:O}", "site", in->site, "revision",
			 (json_int_t)in->revision, "format", peer_conf_format_name(fmt),
			 "files", fo);
	if (*out)
		r = 0;
out:
	for (size_t i = 0; i < 3; i++) {
		if (files[i].f)
			fclose(files[i].f);
		if (files[i].text)
			memset(files[i].text, 0, files[i].len);	/* PSKs */
		free(files[i].text);
	}
	json_decref(fo);
	return r;
}
