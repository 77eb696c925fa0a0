/* Sites: one underlay address and the prefixes reachable behind it; plus the rules that
 * hold across all sites, checked in one sorted sweep so a thousand sites cost
 * milliseconds, not a million comparisons. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kind.h"
#include "valid.h"

#define SITE_PATH 512

static const struct valid_field site_fields[] = {
	{ .key = "name", .type = VALID_NAME, .required = true },
	{ .key = "underlay", .type = VALID_ADDR, .required = true },
	{ .key = "behind_nat", .type = VALID_BOOL, .def = 0 },
	{ .key = "nat_address", .type = VALID_ADDR, .nullable = true },
	{ .key = "prefixes", .type = VALID_PREFIXES },
	{ .key = "tags", .type = VALID_TAGS },
	{ .key = "description", .type = VALID_STRING, .max = 255 },
	{ .key = "underlay_mtu", .type = VALID_INT, .min = 576, .max = 9216, .def = 1500 },
	/* false: no agent; a third-party gateway configured from peer-config. */
	{ .key = "managed", .type = VALID_BOOL, .def = 1 },
};

/* Peers reach a site behind NAT at its NAT's public address, and know it by its own
 * (private) underlay, which is its IKE identity. */
static void site_check_nat(const json_t *body, const char *path, struct verr *errs)
{
	const json_t *nat = json_object_get(body, "nat_address");
	const char *underlay = json_string_value(json_object_get(body, "underlay"));
	int behind = json_is_true(json_object_get(body, "behind_nat"));
	char fpath[SITE_PATH];

	verr_path_key(fpath, sizeof(fpath), path, "nat_address");
	if (!json_object_get(body, "behind_nat") || !json_object_get(body, "nat_address"))
		return;		/* already reported as invalid */
	if (behind && json_is_null(nat))
		verr_add(errs, fpath, "required when behind_nat is true: the public address "
			 "the site's NAT presents, where its peers reach it");
	else if (!behind && !json_is_null(nat))
		verr_add(errs, fpath, "only for a site behind NAT (behind_nat is false)");
	else if (behind && underlay && !strcmp(underlay, json_string_value(nat)))
		verr_add(errs, fpath, "is the underlay itself: a site behind NAT is reached at "
			 "another address");
	else if (behind && underlay && !strchr(underlay, ':') != !strchr(json_string_value(nat), ':'))
		verr_add(errs, fpath, "must be in the underlay's address family");
}

static int site_normalize(const json_t *in, const char *path, struct verr *errs, json_t **out)
{
	size_t before = verr_count(errs);
	json_t *body = NULL, *mtu;
	const char *underlay;
	char fpath[SITE_PATH];
	int r;

	*out = NULL;
	r = valid_object(in, path, site_fields, sizeof(site_fields) / sizeof(site_fields[0]),
			 errs, &body);
	if (!body)
		goto out;
	/* IPv6 links may not be smaller than 1280 (RFC 8200). */
	underlay = json_string_value(json_object_get(body, "underlay"));
	mtu = json_object_get(body, "underlay_mtu");
	if (underlay && strchr(underlay, ':') && mtu && json_integer_value(mtu) < 1280)
		verr_add(errs, verr_path_key(fpath, sizeof(fpath), path, "underlay_mtu"),
			 "must be at least 1280 with an IPv6 underlay");
	site_check_nat(body, path, errs);
out:
	return valid_finish(r, errs, before, body, out);
}

const struct kind_ops kind_site = {
	.name = "site",
	.plural = "sites",
	.normalize = site_normalize,
	.refs = NULL,
	.redact = NULL,
	.agent_tokens = true,
};

/* ---- rules across sites ---- */

/* A site's prefix, or its underlay as a host prefix, in the sweep. */
struct site_ent {
	struct addr_prefix p;
	size_t site;		/* index into the sites array */
	size_t idx;		/* index into its prefixes */
	bool underlay;		/* a host address: the underlay or the NAT's address */
	bool nat;		/* the NAT's address (field nat_address) */
	bool reachable;		/* where peers reach the site: must be unique */
};

struct site_check {
	const json_t *sites;
	struct verr *errs;
	const char *(*site_path)(void *ctx, const char *site);
	void *ctx;
	struct site_ent *ent;
	size_t n;
	size_t *stack;		/* indices into ent of the prefixes enclosing the current one */
	size_t depth;
};

static const char *site_name(const struct site_check *c, size_t site)
{
	const char *n = json_string_value(json_object_get(json_array_get(c->sites, site), "name"));

	return n ? n : "?";
}

/* "<site path>.<field>" into buf. site_path's answer may live in a buffer it reuses, so
 * it is copied out at once. */
static const char *site_field_path(const struct site_check *c, size_t site, const char *field,
				   char *buf, size_t len)
{
	char base[SITE_PATH];
	const char *p = c->site_path ? c->site_path(c->ctx, site_name(c, site)) : NULL;

	snprintf(base, sizeof(base), "%s", p ? p : site_name(c, site));
	return verr_path_key(buf, len, base, field);
}

/* Whether errors about a site belong to the write being checked: the caller's map
 * knows it; without one, every site does. */
static bool site_written(const struct site_check *c, size_t site)
{
	return !c->site_path || c->site_path(c->ctx, site_name(c, site));
}

static int site_ent_cmp(const void *a, const void *b)
{
	const struct site_ent *x = a, *y = b;
	int r = addr_prefix_cmp(&x->p, &y->p);

	if (r)
		return r;
	/* A site prefix equal to a host's underlay comes first, to enclose it. */
	if (x->underlay != y->underlay)
		return x->underlay ? 1 : -1;
	return (x->site > y->site) - (x->site < y->site);
}

/* Text that does not parse is skipped: bodies are canonical, normalize saw to that. */
static struct site_ent *site_ent_add(struct site_check *c, size_t cap, size_t site, size_t idx,
				     const char *text, bool underlay)
{
	struct site_ent *e;

	if (!text || c->n == cap)
		return NULL;
	e = &c->ent[c->n];
	if (underlay) {
		if (addr_parse(text, &e->p.addr))
			return NULL;
		e->p.len = e->p.addr.family == AF_INET ? 32 : 128;
	} else if (addr_prefix_parse(text, &e->p)) {
		return NULL;
	}
	e->site = site;
	e->idx = idx;
	e->underlay = underlay;
	e->nat = false;
	e->reachable = underlay;
	c->n++;
	return e;
}

/* A site behind NAT is reached at its NAT's address; its own underlay is private and
 * may well be the same as another NAT'd site's. */
static void site_ent_host(struct site_check *c, size_t cap, size_t i, const json_t *s)
{
	const char *nat = json_string_value(json_object_get(s, "nat_address"));
	struct site_ent *u, *n;

	u = site_ent_add(c, cap, i, 0, json_string_value(json_object_get(s, "underlay")), true);
	if (!nat || !json_is_true(json_object_get(s, "behind_nat")))
		return;
	n = site_ent_add(c, cap, i, 0, nat, true);
	if (u && n)
		u->reachable = false;
	if (n)
		n->nat = true;
}

static int site_collect(struct site_check *c)
{
	size_t cap = 0, i, j;
	const json_t *s, *pfx;

	json_array_foreach(c->sites, i, s)
		cap += 2 + json_array_size(json_object_get(s, "prefixes"));
	c->ent = calloc(cap ? cap : 1, sizeof(*c->ent));
	c->stack = calloc(cap ? cap : 1, sizeof(*c->stack));
	if (!c->ent || !c->stack)
		return -ENOMEM;
	json_array_foreach(c->sites, i, s) {
		if (!json_is_object(s) || !json_is_string(json_object_get(s, "name")))
			continue;
		site_ent_host(c, cap, i, s);
		json_array_foreach(json_object_get(s, "prefixes"), j, pfx)
			site_ent_add(c, cap, i, j, json_string_value(pfx), false);
	}
	if (c->n)
		qsort(c->ent, c->n, sizeof(*c->ent), site_ent_cmp);
	return 0;
}

/* Prefix b (of a later site, or more specific) overlaps enclosing prefix a of another
 * site. Reported once per pair, at whichever side is being written. */
static void site_report_overlap(struct site_check *c, const struct site_ent *a,
				const struct site_ent *b)
{
	const struct site_ent *at = b, *other = a;
	char path[SITE_PATH], field[32], txt[ADDR_PREFIX_STRLEN];

	if (!site_written(c, b->site) && site_written(c, a->site)) {
		at = a;
		other = b;
	}
	snprintf(field, sizeof(field), "prefixes[%zu]", at->idx);
	addr_prefix_fmt(&other->p, txt, sizeof(txt));
	verr_add(c->errs, site_field_path(c, at->site, field, path, sizeof(path)),
		 "overlaps %s of site '%s'", txt, site_name(c, other->site));
}

static const char *site_ent_field(const struct site_ent *e)
{
	return e->nat ? "nat_address" : "underlay";
}

static const char *site_ent_what(const struct site_ent *e)
{
	return e->nat ? "NAT address" : "underlay";
}

/* Underlay u lies inside prefix p: tunnel traffic would be routed into the tunnel. */
static void site_report_contains(struct site_check *c, const struct site_ent *p,
				 const struct site_ent *u)
{
	char path[SITE_PATH], field[32], ptxt[ADDR_PREFIX_STRLEN], utxt[ADDR_STRLEN];

	addr_prefix_fmt(&p->p, ptxt, sizeof(ptxt));
	addr_fmt(&u->p.addr, utxt, sizeof(utxt));
	if (!site_written(c, p->site) && site_written(c, u->site)) {
		verr_add(c->errs, site_field_path(c, u->site, site_ent_field(u), path, sizeof(path)),
			 "inside prefix %s of site '%s'", ptxt, site_name(c, p->site));
		return;
	}
	snprintf(field, sizeof(field), "prefixes[%zu]", p->idx);
	site_field_path(c, p->site, field, path, sizeof(path));
	if (p->site == u->site)
		verr_add(c->errs, path, "contains this site's own %s %s", site_ent_what(u), utxt);
	else
		verr_add(c->errs, path, "contains the %s %s of site '%s'", site_ent_what(u), utxt,
			 site_name(c, u->site));
}

static void site_report_shared(struct site_check *c, const struct site_ent *first,
			       const struct site_ent *dup)
{
	const struct site_ent *at = dup, *other = first;
	char path[SITE_PATH], txt[ADDR_STRLEN];

	if (!site_written(c, dup->site) && site_written(c, first->site)) {
		at = first;
		other = dup;
	}
	addr_fmt(&at->p.addr, txt, sizeof(txt));
	verr_add(c->errs, site_field_path(c, at->site, site_ent_field(at), path, sizeof(path)),
		 "%s %s is already used by site '%s'", site_ent_what(at), txt,
		 site_name(c, other->site));
}

/* The nearest enclosing prefix that belongs to another site. Prefixes of one site are
 * distinct, so at most 129 of them nest: the walk is short. */
static const struct site_ent *site_enclosing_other(const struct site_check *c, size_t site)
{
	size_t d;

	for (d = c->depth; d > 0; d--)
		if (c->ent[c->stack[d - 1]].site != site)
			return &c->ent[c->stack[d - 1]];
	return NULL;
}

/* In sorted order prefixes either nest or are disjoint, so a stack of the prefixes
 * enclosing the current entry finds every overlap and every covered underlay. */
static void site_sweep(struct site_check *c)
{
	const struct site_ent *first_ul = NULL, *o;
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct site_ent *e = &c->ent[i];

		while (c->depth && !addr_prefix_contains(&c->ent[c->stack[c->depth - 1]].p,
							 &e->p.addr))
			c->depth--;
		if (!e->underlay) {
			o = site_enclosing_other(c, e->site);
			if (o)
				site_report_overlap(c, o, e);
			c->stack[c->depth++] = i;
			continue;
		}
		if (c->depth)
			site_report_contains(c, &c->ent[c->stack[c->depth - 1]], e);
		if (!e->reachable)
			continue;
		if (first_ul && !addr_cmp(&first_ul->p.addr, &e->p.addr))
			site_report_shared(c, first_ul, e);
		else
			first_ul = e;
	}
}

int kind_site_check_all(const json_t *sites, struct verr *errs,
			const char *(*site_path)(void *ctx, const char *site), void *ctx)
{
	struct site_check c = {
		.sites = sites, .errs = errs, .site_path = site_path, .ctx = ctx,
	};
	size_t before = verr_count(errs);
	int r;

	if (!json_is_array(sites))
		return -EINVAL;
	r = site_collect(&c);
	if (r)
		goto out;
	site_sweep(&c);
	r = verr_count(errs) > before ? -EINVAL : 0;
out:
	free(c.ent);
	free(c.stack);
	return r;
}
