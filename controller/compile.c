#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"
#include "compile.h"
#include "compile_ctx.h"
#include "ca.h"
#include "store.h"
#include "tunnel.h"

#define COMPILE_TTL 64
#define COMPILE_METRIC_DIRECT 100
#define COMPILE_METRIC_HUB 200		/* + the hub's rank: the first hub by name is preferred */
#define COMPILE_PRIO_GRE INTENT_SPD_PRIO_MIN
#define COMPILE_PRIO_VTI (INTENT_SPD_PRIO_MIN + 100)	/* after the narrower GRE selectors */
#define COMPILE_REQID_BASE 0x10000
#define COMPILE_SPD_PER_TUNNEL 6	/* a VTI: in, out, fwd for IPv4 and for IPv6 */

size_t compile_ctx_nsites(const struct compile_ctx *c)
{
	return c->n;
}

const json_t *compile_ctx_sites(const struct compile_ctx *c)
{
	return c->sites;
}

const char *compile_ctx_site(const struct compile_ctx *c, size_t i)
{
	return c->names[i];
}

void compile_ctx_free(struct compile_ctx *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->text && i < c->n; i++)
		free(c->text[i]);
	free(c->text);
	free(c->text_rev);
	/* Tunnels, their keys and the adjacency may be shared with the contexts after it. */
	if (!c->links || --*c->links == 0) {
		for (size_t i = 0; i < c->nkeys; i++)
			compile_keys_unref(c->keys[i]);
		free(c->keys);
		free(c->tuns);
		free(c->adj_off);
		free(c->adj);
		free(c->links);
	}
	free(c->roles);
	free(c->psk_hex);
	free(c->info);
	free(c->pinfo);
	free(c->names);
	free(c->ca);
	free(c->crl);
	json_decref(c->sites);
	json_decref(c->profiles);
	json_decref(c->topos);
	free(c);
}

static int compile_name_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

long compile_site_index(const struct compile_ctx *c, const char *name)
{
	const char **hit = bsearch(name, c->names, c->n, sizeof(*c->names), compile_name_cmp);

	return hit ? hit - c->names : -1;
}

int compile_infos(struct compile_ctx *c, const struct compile_ctx *old, const long *old_of)
{
	c->info = calloc(c->n + 1, sizeof(*c->info));
	if (!c->info)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		if (old && old_of[i] >= 0)
			c->info[i] = old->info[old_of[i]];	/* the same body */
		else
			compile_site_info(json_array_get(c->sites, i), &c->info[i]);
	}
	return 0;
}

const json_t *compile_profile(const struct compile_ctx *c, const char *name)
{
	size_t i;
	json_t *p;

	/* Profiles are few; a linear scan is cheaper than keeping an index. */
	json_array_foreach(c->profiles, i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
			return p;
	return NULL;
}

int compile_tunnels_read(const struct compile_ctx *c, sqlite3_stmt *st, struct compile_keys *k,
			 struct compile_tun **tuns, size_t *n)
{
	size_t cap = *n, off = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long a = compile_site_index(c, (const char *)sqlite3_column_text(st, 1));
		long b = compile_site_index(c, (const char *)sqlite3_column_text(st, 2));
		struct compile_tun *t;

		if (a < 0 || b < 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			t = realloc(*tuns, cap * sizeof(*t));
			if (!t)
				return -ENOMEM;
			*tuns = t;
		}
		if (compile_keys_add(k, (const char *)sqlite3_column_text(st, 5), &off) < 0)
			return -ENOMEM;
		t = &(*tuns)[(*n)++];
		*t = (struct compile_tun){
			.id = sqlite3_column_int64(st, 0), .a = (size_t)a, .b = (size_t)b,
			.vti = strcmp((const char *)sqlite3_column_text(st, 3), "vti") == 0,
			.profile = compile_profile(c, (const char *)sqlite3_column_text(st, 4)),
			.psk = (const char *)(uintptr_t)off,	/* compile_keys_attach */
			.overlay = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1
					: sqlite3_column_int64(st, 6) };
		if (!t->profile)
			return -EIO;
	}
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

static int compile_load_tunnels(struct compile_ctx *c, struct db *db)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, site_a, site_b, tunnel_type, profile, psk, "
				   "overlay FROM tunnel ORDER BY id");
	struct compile_keys *k = compile_keys_new();
	int r;

	if (!st || !k) {
		compile_keys_unref(k);
		return st ? -ENOMEM : -EIO;
	}
	r = compile_tunnels_read(c, st, k, &c->tuns, &c->ntuns);
	sqlite3_reset(st);
	if (r == 0)
		return compile_keys_attach(c, k, c->tuns, c->ntuns);
	compile_keys_unref(k);
	return r;
}

/* Sites whose agent's latest report lists the hex-psk feature (status.c keeps the
 * report as posted). A tunnel's psk is handed to charon as bytes only when both of
 * its ends decode it so; until then both keep the string form, so a new IKE_SA
 * always finds the same key at both ends. */
static int compile_load_features(struct compile_ctx *c, struct db *db)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT site FROM site_status WHERE EXISTS "
				   "(SELECT 1 FROM json_each(body, '$.features') WHERE value = ?1)");
	int rc;

	c->psk_hex = calloc(c->n + 1, 1);
	if (!c->psk_hex)
		return -ENOMEM;
	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, INTENT_FEATURE_PSK_HEX, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long i = compile_site_index(c, (const char *)sqlite3_column_text(st, 0));

		if (i >= 0)
			c->psk_hex[i] = 1;
	}
	sqlite3_reset(st);
	/* An unmanaged site's gateway is configured from peer-config, which renders the
	 * key as its bytes (secret = 0x..., PSK 0x...): it has the feature by definition. */
	for (size_t i = 0; i < c->n; i++)
		if (json_is_false(json_object_get(json_array_get(c->sites, i), "managed")))
			c->psk_hex[i] = 1;
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* Compressed adjacency: each site's tunnels in id order, without a list per site. */
int compile_adjacency(struct compile_ctx *c)
{
	size_t *fill;

	c->adj_off = calloc(c->n + 1, sizeof(*c->adj_off));
	c->adj = calloc(2 * c->ntuns + 1, sizeof(*c->adj));
	fill = calloc(c->n + 1, sizeof(*fill));
	if (!c->adj_off || !c->adj || !fill) {
		free(fill);
		return -ENOMEM;
	}
	for (size_t k = 0; k < c->ntuns; k++) {
		c->adj_off[c->tuns[k].a + 1]++;
		c->adj_off[c->tuns[k].b + 1]++;
	}
	for (size_t i = 0; i < c->n; i++)
		c->adj_off[i + 1] += c->adj_off[i];
	for (size_t k = 0; k < c->ntuns; k++) {
		c->adj[c->adj_off[c->tuns[k].a] + fill[c->tuns[k].a]++] = k;
		c->adj[c->adj_off[c->tuns[k].b] + fill[c->tuns[k].b]++] = k;
	}
	free(fill);
	return 0;
}

static int compile_index(struct compile_ctx *c)
{
	int r = compile_adjacency(c);

	c->roles = calloc(json_array_size(c->topos) * c->n + 1, 1);
	if (r == 0 && !c->roles)
		r = -ENOMEM;
	for (size_t t = 0; r == 0 && t < json_array_size(c->topos); t++)
		tunnel_roles(c->names, c->n, c->sites, json_array_get(c->topos, t),
			     c->roles + t * c->n);
	return r;
}

/* Copies, since the store's CRL changes while this context may still be served. */
int compile_pki(struct store *s, struct compile_ctx *c)
{
	const struct ca *ca = store_ca(s);

	if (ca && !(c->ca = strdup(ca->pem)))
		return -ENOMEM;
	if (store_crl(s) && !(c->crl = strdup(store_crl(s))))
		return -ENOMEM;
	return 0;
}

int compile_ctx_new(struct store *s, struct compile_ctx **out)
{
	struct compile_ctx *c = calloc(1, sizeof(*c));
	size_t i;
	json_t *v;
	int r;

	if (!c)
		return -ENOMEM;
	c->pool = *store_overlay_pool(s);
	r = compile_pki(s, c);
	if (r < 0)
		goto out;
	r = store_all(s, &kind_site, &c->sites);
	if (r == 0)
		r = store_all(s, &kind_profile, &c->profiles);
	if (r == 0)
		r = store_all(s, &kind_topology, &c->topos);
	if (r < 0)
		goto out;
	c->n = json_array_size(c->sites);
	c->names = calloc(c->n + 1, sizeof(*c->names));
	if (!c->names) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(c->sites, i, v)
		c->names[i] = json_string_value(json_object_get(v, "name"));
	r = compile_infos(c, NULL, NULL);
	if (r == 0)
		r = compile_prof_infos(c);
	if (r == 0)
		r = compile_load_tunnels(c, store_db(s));
	if (r == 0)
		r = compile_load_features(c, store_db(s));
	if (r == 0)
		r = compile_index(c);
out:
	if (r < 0) {
		compile_ctx_free(c);
		return r;
	}
	*out = c;
	return 0;
}

static int compile_strv(const json_t *arr, char ***out, size_t *n)
{
	size_t i;
	json_t *v;

	*n = 0;
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		(*out)[i] = strdup(json_string_value(v));
		if (!(*out)[i])
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

static uint32_t compile_u32(const json_t *o, const char *key)
{
	return (uint32_t)json_integer_value(json_object_get(o, key));
}

/* The profile's "bfd", each sub-field absent taken as its default: profiles stored
 * before profiles had "bfd" have none, and keep the BFD they were compiled with. */
static void compile_bfd_decode(const json_t *prof, struct intent_bfd *b)
{
	const json_t *o = json_object_get(prof, "bfd");
	const json_t *en = json_object_get(o, "enabled");

	b->enabled = en ? json_is_true(en) : true;
	b->interval_ms = json_object_get(o, "interval_ms") ? compile_u32(o, "interval_ms")
							   : INTENT_BFD_INTERVAL_DEFAULT;
	b->multiplier = json_object_get(o, "multiplier") ? compile_u32(o, "multiplier")
							 : INTENT_BFD_MULT_DEFAULT;
}

static int compile_is(const json_t *o, const char *key, const char *value)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v && strcmp(v, value) == 0;
}

/* Who starts IKE: a site behind NAT (its peer cannot reach it), otherwise the site
 * whose name sorts first, so both ends agree without talking to each other. */
int compile_prof_infos(struct compile_ctx *c)
{
	size_t i;
	json_t *p;

	c->pinfo = calloc(json_array_size(c->profiles) + 1, sizeof(*c->pinfo));
	if (!c->pinfo)
		return -ENOMEM;
	json_array_foreach(c->profiles, i, p) {
		struct compile_prof_info *f = &c->pinfo[i];

		f->body = p;
		f->tunnel_mode = compile_is(p, "mode", "tunnel");
		f->ah = compile_is(p, "protocol", "ah");
		f->always = compile_is(p, "start", "always");
		f->x509 = compile_is(p, "auth", "x509");
		f->ike_lifetime = compile_u32(p, "ike_lifetime");
		f->sa_lifetime = compile_u32(p, "sa_lifetime");
		f->dpd = compile_u32(p, "dpd_interval");
		compile_bfd_decode(p, &f->bfd);
	}
	return 0;
}

/* A tunnel's profile decoded (profiles are few: a scan by pointer). */
static const struct compile_prof_info *compile_prof(const struct compile_ctx *c,
						    const json_t *prof)
{
	for (size_t i = 0; i < json_array_size(c->profiles); i++)
		if (c->pinfo[i].body == prof)
			return &c->pinfo[i];
	return NULL;
}

static void compile_security(const struct compile_prof_info *f, int nat_self, int nat_peer,
			     int self_first, int vti, struct intent_security *sec)
{
	/* A VTI carries plain IP packets: only tunnel-mode SAs can deliver them. */
	sec->mode = vti || f->tunnel_mode ? INTENT_MODE_TUNNEL : INTENT_MODE_TRANSPORT;
	sec->protocol = f->ah ? INTENT_PROTO_AH : INTENT_PROTO_ESP;
	sec->ike_lifetime = f->ike_lifetime;
	sec->child_lifetime = f->sa_lifetime;
	sec->dpd_delay = f->dpd;
	sec->start = f->always ? INTENT_START_ALWAYS : INTENT_START_ON_DEMAND;
	sec->initiator = nat_self != nat_peer ? nat_self : self_first;
	sec->udp_encap = nat_self || nat_peer;
	sec->auth = f->x509 ? INTENT_AUTH_X509 : INTENT_AUTH_PSK;
}

/* With certificates the identities are the sites' names, which their certificates
 * carry as dNSName (ca_csr.c): the NAT case's underlay identity gives way to them. */
static int compile_x509_ids(const json_t *self, const json_t *peer, struct intent_security *s)
{
	if (s->auth != INTENT_AUTH_X509)
		return 0;
	free(s->local_id);
	free(s->remote_id);
	s->local_id = strdup(json_string_value(json_object_get(self, "name")));
	s->remote_id = strdup(json_string_value(json_object_get(peer, "name")));
	return s->local_id && s->remote_id ? 0 : -ENOMEM;
}

/* The largest ICV any of the child proposals can negotiate: HMAC-SHA-512 truncates to
 * 32 bytes, SHA-384 to 24; every other allowed integrity or AEAD algorithm (SHA-256,
 * AES-XCBC/CMAC, GCM/CCM/ChaCha20-Poly1305 with 16- or 12-byte tags) needs at most 16. */
static uint32_t compile_icv(const struct intent_security *sec)
{
	uint32_t icv = 16;

	for (size_t i = 0; i < sec->n_child_proposals; i++) {
		const char *p = sec->child_proposals[i];

		while (*p) {
			size_t n = strcspn(p, "-");

			if ((n == 6 && !strncmp(p, "sha512", n)) || (n == 8 && !strncmp(p, "sha2_512", n)))
				icv = 32;
			else if (((n == 6 && !strncmp(p, "sha384", n)) ||
				  (n == 8 && !strncmp(p, "sha2_384", n))) && icv < 24)
				icv = 24;
			p += n + (p[n] == '-');
		}
	}
	return icv;
}

/* Worst-case bytes each layer adds: the outer IP header; UDP encapsulation of ESP
 * (NAT-T, RFC 3948: 8 bytes, IPv4 and IPv6 alike); ESP with a 16-byte IV, up to 15
 * bytes of padding, its 2-byte trailer and the ICV; AH's 12-byte header with the ICV,
 * padded to 32 bits (IPv4) or 64 bits (IPv6, RFC 4302 3.3.3.2.1); GRE with its key.
 * The overlay MTU is what is left of the smaller underlay MTU. */
static uint32_t compile_mtu(uint32_t mtu, uint32_t pm, int v6, int vti,
			    const struct intent_security *sec)
{
	uint32_t ip = v6 ? 40 : 20, over = ip, icv = compile_icv(sec), ah = 12 + icv;

	if (pm < mtu)
		mtu = pm;
	if (!vti)
		over += 8;
	if (sec->udp_encap)
		over += 8;
	if (v6)
		ah = (ah + 7) & ~7u;
	over += sec->protocol == INTENT_PROTO_ESP ? 8 + 16 + 15 + 2 + icv : ah;
	if (sec->mode == INTENT_MODE_TUNNEL && !vti)
		over += ip;
	return mtu > over + 576 ? mtu - over : 576;
}

/* "<site's path>.<field>": "sites[3].underlay" in an import, "underlay" when the site
 * itself is being written, "sites/paris.underlay" otherwise. */
static const char *compile_path(const struct compile_ctx *c, size_t site, const char *field,
				char *buf, size_t len)
{
	const char *base = c->path_of ? c->path_of(c->path_ctx, "site", c->names[site]) : NULL;
	char own[128];

	if (!base) {
		snprintf(own, sizeof(own), "sites/%s", c->names[site]);
		base = own;
	}
	return verr_path_key(buf, len, base, field);
}

void compile_site_info(const json_t *site, struct compile_site_info *info)
{
	const char *nat = json_string_value(json_object_get(site, "nat_address"));

	info->underlay_text = json_string_value(json_object_get(site, "underlay"));
	info->nat = json_is_true(json_object_get(site, "behind_nat"));
	info->unmanaged = json_is_false(json_object_get(site, "managed"));
	info->mtu = compile_u32(site, "underlay_mtu");
	info->underlay_ok = addr_parse(info->underlay_text, &info->underlay) == 0;
	/* Where peers send to: the NAT's public address for a site behind NAT. */
	if (nat && info->nat)
		info->reach_ok = addr_parse(nat, &info->reach) == 0;
	else
		info->reach = info->underlay, info->reach_ok = info->underlay_ok;
}

static int compile_tunnel(const struct compile_ctx *c, size_t self, const struct compile_tun *k,
			  struct intent_tunnel *t, struct verr *errs)
{
	size_t peer = k->a == self ? k->b : k->a;
	const json_t *sj = json_array_get(c->sites, self), *pj = json_array_get(c->sites, peer);
	const struct compile_site_info *si = &c->info[self], *pi = &c->info[peer];
	const struct compile_prof_info *pf = compile_prof(c, k->profile);
	struct addr_prefix oa, ob;
	char path[128];
	int r;

	tunnel_ifname(k->id, t->ifname, sizeof(t->ifname));
	t->id = strdup(t->ifname);
	t->psk = strdup(k->psk);
	if (!t->id || !t->psk)
		return -ENOMEM;
	t->psk_encoding = c->psk_hex[k->a] && c->psk_hex[k->b] ? INTENT_PSK_HEX : INTENT_PSK_STRING;
	t->kind = k->vti ? INTENT_KIND_VTI : INTENT_KIND_GRE;
	if (!si->underlay_ok || !pi->reach_ok)
		return -EINVAL;
	t->local = si->underlay;
	t->remote = pi->reach;
	/* A peer behind NAT is reached at its NAT's address but keeps its own (private)
	 * underlay as its IKE identity: that is what it sends. */
	if (pi->nat && !(t->sec.remote_id = strdup(pi->underlay_text)))
		return -ENOMEM;
	if (t->local.family != t->remote.family) {
		compile_path(c, self, "underlay", path, sizeof(path));
		verr_add(errs, path, "cannot be joined to site '%s' (tunnel gs%lld): one underlay "
			 "is IPv4, the other IPv6", c->names[peer], k->id);
		return -EINVAL;
	}
	if (si->nat && pi->nat) {
		/* Neither can reach the other: there is no one to answer IKE. */
		compile_path(c, self, "behind_nat", path, sizeof(path));
		verr_add(errs, path, "cannot be joined to site '%s' (tunnel gs%lld): both sites "
			 "are behind NAT, so neither can reach the other", c->names[peer], k->id);
		return -EINVAL;
	}
	if (!pf)
		return -EIO;
	if ((si->nat || pi->nat) && pf->ah) {
		/* AH authenticates the outer addresses a NAT rewrites, and RFC 3948 defines
		 * UDP encapsulation for ESP only. */
		compile_path(c, self, "behind_nat", path, sizeof(path));
		verr_add(errs, path, "cannot be joined to site '%s' (tunnel gs%lld): profile "
			 "'%s' uses AH, which cannot cross NAT; use ESP", c->names[peer], k->id,
			 json_string_value(json_object_get(k->profile, "name")));
		return -EINVAL;
	}
	if (!k->vti && compile_is(k->profile, "mode", "tunnel") &&
	    (json_is_true(json_object_get(sj, "behind_nat")) ||
	     json_is_true(json_object_get(pj, "behind_nat")))) {
		/* The GRE packet inside a tunnel-mode SA keeps the NAT'd site's private
		 * address, which the other end's GRE link (to the NAT's address) never
		 * accepts; transport mode has the NAT rewrite it, and a VTI has no inner
		 * endpoint to match. */
		compile_path(c, self, "behind_nat", path, sizeof(path));
		verr_add(errs, path, "cannot be joined to site '%s' (tunnel gs%lld): profile "
			 "'%s' puts GRE in tunnel mode, which cannot cross NAT; use transport "
			 "mode or a VTI", c->names[peer], k->id,
			 json_string_value(json_object_get(k->profile, "name")));
		return -EINVAL;
	}
	t->key = (uint32_t)k->id;
	t->ttl = COMPILE_TTL;
	t->reqid = (uint32_t)(COMPILE_REQID_BASE + k->id);
	r = tunnel_overlay_addrs(&c->pool, k->overlay, &oa, &ob);
	if (r < 0)
		return r;
	t->overlay_local = (struct intent_ifaddr){ (k->a == self ? oa : ob).addr, oa.len };
	t->overlay_peer = (struct intent_ifaddr){ (k->a == self ? ob : oa).addr, oa.len };
	compile_security(pf, si->nat, pi->nat, k->a == self, k->vti, &t->sec);
	if (compile_x509_ids(sj, pj, &t->sec) < 0)
		return -ENOMEM;
	t->bfd = pf->bfd;
	/* A third-party gateway need not run BFD: to an unmanaged site, liveness is IKE's
	 * DPD alone (docs/interop.md). */
	if (si->unmanaged || pi->unmanaged)
		t->bfd.enabled = false;
	r = compile_strv(json_object_get(k->profile, "ike_proposals"), &t->sec.ike_proposals,
			 &t->sec.n_ike_proposals);
	if (r == 0)
		r = compile_strv(json_object_get(k->profile, t->sec.protocol == INTENT_PROTO_AH ?
				 "ah_proposals" : "esp_proposals"),
				 &t->sec.child_proposals, &t->sec.n_child_proposals);
	/* After the proposals: their ICV sizes are part of the overhead. */
	t->mtu = compile_mtu(si->mtu, pi->mtu, t->local.family == AF_INET6, k->vti, &t->sec);
	return r;
}

/* in, out, and for tunnel-mode SAs fwd: charon reads the use time of a tunnel-mode
 * CHILD_SA from its in, out and fwd policies (child_sa.c, update_usetime) whoever
 * installed them, and logs "querying policy failed" for each one missing. The fwd
 * policy mirrors in; it matches nothing real (GRE is addressed to this gateway, and
 * forwarded VTI traffic carries no mark).
 * A VTI's policies select what it carries, not its underlay: IPv4 and IPv6 alike
 * (the overlay and the prefixes may be of either family, whatever the underlay's),
 * each direction once per family. */
static int compile_spd(struct intent *in, const struct intent_tunnel *t)
{
	int vti = t->kind == INTENT_KIND_VTI;
	int ndirs = t->sec.mode == INTENT_MODE_TUNNEL ? 3 : 2;

	for (int d = 0; d < ndirs * (vti ? 2 : 1); d++) {
		struct intent_spd *s = &in->spd[in->n_spd];
		int dir = d % ndirs == 1;	/* 1: out, from here to the peer */

		s->tunnel = strdup(t->id);
		if (!s->tunnel)
			return -ENOMEM;
		s->dir = d % ndirs == 0 ? INTENT_DIR_IN : dir ? INTENT_DIR_OUT : INTENT_DIR_FWD;
		s->src.addr = dir ? t->local : t->remote;
		s->dst.addr = dir ? t->remote : t->local;
		s->src.len = s->dst.len = t->local.family == AF_INET6 ? 128 : 32;
		if (vti) {
			/* The VTI's key marks its packets; the policy matches everything so
			 * marked. */
			memset(s->src.addr.bytes, 0, sizeof(s->src.addr.bytes));
			memset(s->dst.addr.bytes, 0, sizeof(s->dst.addr.bytes));
			s->src.addr.family = s->dst.addr.family = d < ndirs ? AF_INET : AF_INET6;
			s->src.len = s->dst.len = 0;
			s->has_mark = true;
			s->mark = t->key;
			s->mark_mask = 0xffffffffu;
		}
		s->proto = vti ? 0 : 47;
		s->tmpl_mode = t->sec.mode;
		s->tmpl_proto = t->sec.protocol;
		s->tmpl_reqid = t->reqid;
		s->priority = vti ? COMPILE_PRIO_VTI : COMPILE_PRIO_GRE;
		in->n_spd++;
	}
	return 0;
}

struct compile_routes {
	struct intent_route *v;
	size_t n, cap;
};

static int compile_route_add(struct compile_routes *rs, const char *prefix, const char *via,
			     uint32_t metric)
{
	struct intent_route *r;

	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;

		r = realloc(rs->v, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		rs->v = r;
		rs->cap = cap;
	}
	r = &rs->v[rs->n];
	if (addr_prefix_parse(prefix, &r->prefix) < 0)
		return -EINVAL;
	r->via = strdup(via);
	r->metric = metric;
	if (!r->via)
		return -ENOMEM;
	rs->n++;
	return 0;
}

static int compile_prefixes(struct compile_routes *rs, const json_t *site, const char *via,
			    uint32_t metric)
{
	size_t i;
	json_t *p;
	int r = 0;

	json_array_foreach(json_object_get(site, "prefixes"), i, p)
		if (r == 0)
			r = compile_route_add(rs, json_string_value(p), via, metric);
	return r;
}

/* A spoke reaches the other members of its hub-spoke topologies through each hub, the
 * first hub by name preferred; with summary prefixes, through one route per summary. */
static int compile_hub_routes(const struct compile_ctx *c, size_t self, const long *via_peer,
			      const struct intent *in, struct compile_routes *rs)
{
	int r = 0;

	for (size_t t = 0; t < json_array_size(c->topos) && r == 0; t++) {
		const json_t *topo = json_array_get(c->topos, t);
		const json_t *sums = json_object_get(topo, "summary_prefixes");
		const unsigned char *role = c->roles + t * c->n;
		const json_t *prof = compile_profile(c, json_string_value(json_object_get(topo,
								"profile")));
		/* With ecmp, every hub's path has the same metric and the kernel spreads
		 * flows over them; otherwise the first hub by name is the primary. */
		int ecmp = json_is_true(json_object_get(prof, "ecmp"));
		uint32_t rank = 0;

		if (role[self] != TUNNEL_MEMBER || !compile_is(topo, "kind", "hub-spoke"))
			continue;
		for (size_t h = 0; h < c->n && r == 0; h++) {
			uint32_t metric;
			const char *via;
			size_t i;
			json_t *p;

			if (role[h] != TUNNEL_HUB || via_peer[h] < 0)
				continue;
			via = in->tunnels[via_peer[h]].id;
			/* ECMP over the first INTENT_ECMP_MAX hubs (what one route holds); any
			 * further hub is a backup behind them. */
			metric = COMPILE_METRIC_HUB + (!ecmp ? rank : rank < INTENT_ECMP_MAX ? 0 :
						       rank - INTENT_ECMP_MAX + 1);
			json_array_foreach(sums, i, p)
				if (r == 0)
					r = compile_route_add(rs, json_string_value(p), via, metric);
			for (size_t x = 0; x < c->n && r == 0 && json_array_size(sums) == 0; x++)
				if (role[x] == TUNNEL_MEMBER && x != self)
					r = compile_prefixes(rs, json_array_get(c->sites, x), via, metric);
			rank++;
		}
	}
	return r;
}

static int compile_route_cmp(const void *x, const void *y)
{
	const struct intent_route *a = x, *b = y;
	int c = addr_prefix_cmp(&a->prefix, &b->prefix);

	if (c)
		return c;
	if (a->metric != b->metric)
		return a->metric < b->metric ? -1 : 1;
	return strcmp(a->via, b->via);
}

/* Sorted by prefix, metric, tunnel; of routes with equal prefix, metric and tunnel the
 * first survives (equal prefix and metric through different tunnels is ECMP). Paths
 * through hubs stay behind a direct route, at their higher metrics: they are what the
 * agent fails over to when the direct tunnel dies. */
static void compile_routes_settle(struct compile_routes *rs)
{
	size_t out = 0;

	if (rs->n)
		qsort(rs->v, rs->n, sizeof(*rs->v), compile_route_cmp);
	for (size_t i = 0; i < rs->n; i++) {
		const struct intent_route *prev = out ? &rs->v[out - 1] : NULL;
		int same = prev && addr_prefix_cmp(&prev->prefix, &rs->v[i].prefix) == 0;

		if (same && prev->metric == rs->v[i].metric && !strcmp(prev->via, rs->v[i].via)) {
			free(rs->v[i].via);
			continue;
		}
		rs->v[out++] = rs->v[i];
	}
	rs->n = out;
}

static int compile_body(const struct compile_ctx *c, size_t self, struct intent *in,
			long *via_peer, struct verr *errs)
{
	struct compile_routes rs = { 0 };
	size_t deg = c->adj_off[self + 1] - c->adj_off[self];
	int r = 0;

	in->tunnels = calloc(deg + 1, sizeof(*in->tunnels));
	in->spd = calloc(COMPILE_SPD_PER_TUNNEL * deg + 1, sizeof(*in->spd));
	if (!in->tunnels || !in->spd)
		return -ENOMEM;
	for (size_t j = 0; j < deg && r == 0; j++) {
		const struct compile_tun *k = &c->tuns[c->adj[c->adj_off[self] + j]];
		size_t peer = k->a == self ? k->b : k->a;

		r = compile_tunnel(c, self, k, &in->tunnels[j], errs);
		in->n_tunnels++;
		if (r == 0)
			r = compile_spd(in, &in->tunnels[j]);
		if (r == 0)
			r = compile_prefixes(&rs, json_array_get(c->sites, peer), in->tunnels[j].id,
					     COMPILE_METRIC_DIRECT);
		via_peer[peer] = (long)j;
	}
	if (r == 0)
		r = compile_hub_routes(c, self, via_peer, in, &rs);
	if (r == 0)
		compile_routes_settle(&rs);
	in->routes = rs.v;
	in->n_routes = rs.n;
	return r;
}

int compile_site(const struct compile_ctx *c, size_t i, uint64_t revision, struct intent **out,
		 struct verr *errs)
{
	struct intent *in = intent_new();
	long *via_peer = malloc((c->n + 1) * sizeof(*via_peer));
	char err[256];
	int r = -ENOMEM;

	if (!in || !via_peer)
		goto out;
	for (size_t k = 0; k < c->n; k++)
		via_peer[k] = -1;
	in->site = strdup(c->names[i]);
	in->revision = revision;
	if (!in->site || (c->ca && !(in->ca = strdup(c->ca))) ||
	    (c->crl && !(in->crl = strdup(c->crl))))
		goto out;
	r = compile_body(c, i, in, via_peer, errs);
	/* The agent will check the same rules: an intent it would refuse is our bug. */
	if (r == 0 && intent_validate(in, err, sizeof(err)) < 0) {
		verr_add(errs, "", "site %s: compiled intent is invalid: %s", c->names[i], err);
		r = -EINVAL;
	}
out:
	free(via_peer);
	if (r < 0) {
		intent_free(in);
		return r;
	}
	metrics_compiled();
	*out = in;
	return 0;
}
