/* Kernel objects as the agent sees them: what the kernel holds (read by dumps) and
 * what the intent wants (built by the planner) share these types, so diffing is a
 * field-by-field comparison. */
#ifndef GRESEC_KSTATE_H
#define GRESEC_KSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "intent.h"

/* Route protocol number of the agent's routes (contrib/iproute2/rt_protos.d/gresec.conf). */
#define KSTATE_RTPROT 201
#define KSTATE_ALIAS_PREFIX "gresec:"
#define KSTATE_ALIAS_MAX 80
/* Link group of the agent's links. The alias cannot be given when a link is created
 * (the kernel applies IFLA_IFALIAS only to existing links), the group can: a link
 * with our name prefix and group but no alias yet is ours, left by a crash between
 * the two messages. */
#define KSTATE_LINK_GROUP 26483u

struct tunnel_kind;

/* IPv4 per-interface sysctls the data plane needs; -1 = not read / don't care. */
struct kconf {
	int32_t rp_filter;
	int32_t disable_policy;
	int32_t disable_xfrm;
	int32_t addr_gen_mode;		/* IPv6: IN6_ADDR_GEN_MODE_*; -1 unknown (no IPv6) */
};

struct klink {
	char ifname[16];
	int ifindex;
	const struct tunnel_kind *kind;	/* NULL: not a tunnel kind the agent manages */
	struct addr local;
	struct addr remote;
	uint32_t key;
	uint8_t ttl;
	uint32_t mtu;
	bool up;
	bool owned;
	uint32_t group;
	char alias[KSTATE_ALIAS_MAX];
	struct kconf conf;
	int tunnel;			/* index of the intent tunnel, -1 for kernel objects */
};

struct kaddr {
	int ifindex;
	char ifname[16];		/* desired objects refer to links by name */
	struct addr addr;
	uint8_t len;
	int tunnel;
};

/* Most paths of one route: ECMP over more hubs than this is refused (-E2BIG). Every
 * route and plan action carries room for this many, hence small. */
#define KSTATE_NH_MAX INTENT_ECMP_MAX

/* One path of a route: a tunnel interface, and for an IPv6 multipath route a gateway
 * (the kernel refuses device-only IPv6 multipath; see plan_desired). */
struct knh {
	int oif;
	char ifname[16];		/* desired objects refer to links by name */
	struct addr gw;			/* zero family: none */
	uint8_t weight;			/* rtnh_hops: 0 = weight 1 */
	int tunnel;
};

/* A route with n_nh paths: 1 is a plain route (RTA_OIF), more a multipath one
 * (RTA_MULTIPATH). Its identity is (dst, table, metric). */
struct kroute {
	struct addr_prefix dst;
	uint32_t table;
	uint32_t metric;
	uint8_t protocol;
	uint8_t n_nh;
	bool nh_trunc;			/* the kernel's route has more than KSTATE_NH_MAX */
	struct knh nh[KSTATE_NH_MAX];
	int tunnel;			/* a plain route's tunnel; -1 for multipath */
};

struct kpolicy {
	struct addr_prefix src;
	struct addr_prefix dst;
	uint8_t proto;			/* 0 = any */
	uint8_t dir;			/* XFRM_POLICY_IN/OUT/FWD */
	uint32_t priority;
	bool has_mark;
	uint32_t mark;
	uint32_t mark_mask;
	uint8_t n_tmpl;
	uint8_t tmpl_mode;		/* XFRM_MODE_* */
	uint8_t tmpl_proto;		/* IPPROTO_ESP / IPPROTO_AH */
	uint32_t tmpl_reqid;
	struct addr tmpl_src;		/* tunnel mode only; zero family otherwise */
	struct addr tmpl_dst;
	int tunnel;
};

struct kstate {
	struct klink *links;
	size_t n_links, cap_links;
	struct kaddr *addrs;
	size_t n_addrs, cap_addrs;
	struct kroute *routes;
	size_t n_routes, cap_routes;
	struct kpolicy *policies;
	size_t n_policies, cap_policies;
};

struct kstate *kstate_new(void);
void kstate_free(struct kstate *ks);
/* Forget all objects, keep the allocations (for a retried dump). */
void kstate_clear(struct kstate *ks);
/* Append a zeroed object; NULL on OOM. */
struct klink *kstate_add_link(struct kstate *ks);
struct kaddr *kstate_add_addr(struct kstate *ks);
struct kroute *kstate_add_route(struct kstate *ks);
struct kpolicy *kstate_add_policy(struct kstate *ks);

/* Linear lookups, for a handful of objects; struct kstate_links for many. */
const struct klink *kstate_link_by_name(const struct kstate *ks, const char *ifname);
const struct klink *kstate_link_by_index(const struct kstate *ks, int ifindex);

/* Sorted views of objects for O(log n) lookups. cmp compares two elements; equal
 * elements keep their order in the array, so a range of equal keys is walked in the
 * order the kernel (or the intent) listed them. NULL on OOM (n == 0 gives a valid,
 * empty view). The view holds pointers: it is stale once the array grows. */
typedef int (*kstate_cmp)(const void *a, const void *b);
const void **kstate_sort(const void *arr, size_t n, size_t size, kstate_cmp cmp);
/* Index in v of the first element not less than key (n when none). */
size_t kstate_lower_bound(const void *const *v, size_t n, const void *key, kstate_cmp cmp);
/* The first element equal to key, or NULL. */
const void *kstate_find(const void *const *v, size_t n, const void *key, kstate_cmp cmp);

/* Links by name and by ifindex. */
struct kstate_links {
	const struct klink **by_name;
	const struct klink **by_index;
	size_t n;
};

struct kstate_links *kstate_links_new(const struct kstate *ks);
void kstate_links_free(struct kstate_links *ix);
const struct klink *kstate_links_by_name(const struct kstate_links *ix, const char *ifname);
const struct klink *kstate_links_by_index(const struct kstate_links *ix, int ifindex);

/* Appends a path to r (no-op past KSTATE_NH_MAX, which sets nh_trunc); the new path. */
struct knh *kstate_route_add_nh(struct kroute *r);
/* Keeps the paths of r for which keep[i] is true, in order; a route left with one
 * path becomes a plain one (no gateway). Returns how many remain. */
size_t kstate_route_keep(struct kroute *r, const bool *keep);

/* Ownership: a link is the agent's when both its name prefix and its alias say so. */
bool kstate_link_is_owned(const char *ifname, const char *alias, uint32_t group);
bool kstate_policy_is_owned(const struct kpolicy *p);
bool kstate_policy_same_key(const struct kpolicy *a, const struct kpolicy *b);
/* A total order on that identity (a kstate_cmp over struct kpolicy). */
int kstate_policy_key_cmp(const void *a, const void *b);

#endif
