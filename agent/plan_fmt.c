/* Text of plan actions: the --dry-run output, pinned by golden files, and the sort key
 * that makes plans deterministic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/xfrm.h>

#include "plan_fmt.h"
#include "tunnel_kind.h"

static const char *plan_fmt_dir(uint8_t dir)
{
	return dir == XFRM_POLICY_IN ? "in" : dir == XFRM_POLICY_OUT ? "out" : "fwd";
}

static void plan_fmt_link(const struct klink *l, char *buf, size_t len)
{
	char lo[ADDR_STRLEN], re[ADDR_STRLEN];

	addr_fmt(&l->local, lo, sizeof(lo));
	addr_fmt(&l->remote, re, sizeof(re));
	snprintf(buf, len, "link %s kind %s local %s remote %s key %u ttl %u mtu %u alias %s",
		 l->ifname, l->kind ? l->kind->info_kind : "?", lo, re, l->key, l->ttl,
		 l->mtu, l->alias);
}

static void plan_fmt_conf(const struct klink *l, char *buf, size_t len)
{
	int n = snprintf(buf, len, "conf %s", l->ifname);

	if (n > 0 && (size_t)n < len && l->conf.rp_filter >= 0)
		n += snprintf(buf + n, len - (size_t)n, " rp_filter=%d", l->conf.rp_filter);
	if (n > 0 && (size_t)n < len && l->conf.disable_policy >= 0)
		n += snprintf(buf + n, len - (size_t)n, " disable_policy=%d",
			      l->conf.disable_policy);
	if (n > 0 && (size_t)n < len && l->conf.disable_xfrm >= 0)
		n += snprintf(buf + n, len - (size_t)n, " disable_xfrm=%d", l->conf.disable_xfrm);
	if (n > 0 && (size_t)n < len && l->conf.addr_gen_mode >= 0)
		snprintf(buf + n, len - (size_t)n, " addr_gen_mode=%d", l->conf.addr_gen_mode);
}

static void plan_fmt_addr(const struct kaddr *a, char *buf, size_t len)
{
	char s[ADDR_STRLEN];

	addr_fmt(&a->addr, s, sizeof(s));
	snprintf(buf, len, "addr %s/%u dev %s", s, a->len, a->ifname);
}

static int plan_fmt_strcmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A multipath route lists its paths' interfaces in name order, whatever order they
 * came in (the kernel's for a deletion). */
static void plan_fmt_route(const struct kroute *r, char *buf, size_t len)
{
	char s[ADDR_PREFIX_STRLEN], names[KSTATE_NH_MAX * 16 + 1] = "";
	const char *v[KSTATE_NH_MAX];
	size_t n = 0;

	addr_prefix_fmt(&r->dst, s, sizeof(s));
	if (r->n_nh <= 1) {
		snprintf(buf, len, "route %s dev %s metric %u table %u", s,
			 r->n_nh ? r->nh[0].ifname : "", r->metric, r->table);
		return;
	}
	for (uint8_t i = 0; i < r->n_nh; i++)
		v[i] = r->nh[i].ifname[0] ? r->nh[i].ifname : "?";
	qsort(v, r->n_nh, sizeof(v[0]), plan_fmt_strcmp);
	for (uint8_t i = 0; i < r->n_nh; i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? "," : "", v[i]);
	snprintf(buf, len, "route %s metric %u nexthops %s table %u", s, r->metric, names,
		 r->table);
}

static void plan_fmt_policy(const struct kpolicy *p, char *buf, size_t len)
{
	char src[ADDR_PREFIX_STRLEN], dst[ADDR_PREFIX_STRLEN];
	char ts[ADDR_STRLEN] = "", td[ADDR_STRLEN] = "";
	char mark[40] = "";

	addr_prefix_fmt(&p->src, src, sizeof(src));
	addr_prefix_fmt(&p->dst, dst, sizeof(dst));
	if (p->tmpl_src.family)
		addr_fmt(&p->tmpl_src, ts, sizeof(ts));
	if (p->tmpl_dst.family)
		addr_fmt(&p->tmpl_dst, td, sizeof(td));
	if (p->has_mark)
		snprintf(mark, sizeof(mark), " mark 0x%x/0x%x", p->mark, p->mark_mask);
	snprintf(buf, len,
		 "policy %s src %s dst %s proto %s%s priority %u tmpl %s %s reqid %u%s%s%s%s",
		 plan_fmt_dir(p->dir), src, dst, p->proto == IPPROTO_GRE ? "gre" : "any",
		 mark, p->priority, p->tmpl_proto == IPPROTO_AH ? "ah" : "esp",
		 p->tmpl_mode == XFRM_MODE_TUNNEL ? "tunnel" : "transport", p->tmpl_reqid,
		 *ts ? " src " : "", ts, *td ? " dst " : "", td);
}

void plan_fmt_action(const struct plan_action *a, char *buf, size_t len)
{
	static const char *const ops[] = { "del", "add", "change" };
	char obj[PLAN_LINE_MAX - 8];

	switch (a->obj) {
	case PLAN_OBJ_LINK:
		plan_fmt_link(&a->u.link, obj, sizeof(obj));
		break;
	case PLAN_OBJ_CONF:
		plan_fmt_conf(&a->u.link, obj, sizeof(obj));
		break;
	case PLAN_OBJ_ADDR:
		plan_fmt_addr(&a->u.addr, obj, sizeof(obj));
		break;
	case PLAN_OBJ_ROUTE:
		plan_fmt_route(&a->u.route, obj, sizeof(obj));
		break;
	case PLAN_OBJ_POLICY:
		plan_fmt_policy(&a->u.pol, obj, sizeof(obj));
		break;
	}
	snprintf(buf, len, "%s %s", a->obj == PLAN_OBJ_CONF ? "set" : ops[a->op], obj);
}
