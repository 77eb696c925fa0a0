/* The intent's fields, described once: see intent_field.h. The ranges here are the
 * decoder's (syntax and what the C types hold); the rules of the format proper (reqid and
 * priority bands, ifname prefix, ...) are intent_validate's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "intent_field.h"

#define INTENT_ENUM_NAME(v, text) [v] = text,
#define INTENT_FIELD_N(a) (sizeof(a) / sizeof((a)[0]))

/* The enum's names, its descriptor and its intent_<id>_name(). */
#define INTENT_ENUM_DEFINE(id, LIST)						\
	static const char *const intent_##id##_names[] = { LIST(INTENT_ENUM_NAME) }; \
	const struct intent_enum intent_##id##_enum = { .name = #id,	\
		.names = intent_##id##_names,					\
		.n = INTENT_FIELD_N(intent_##id##_names) };			\
	const char *intent_##id##_name(enum intent_##id v)		\
	{									\
		return intent_enum_name(&intent_##id##_enum, (unsigned)v);	\
	}

INTENT_ENUM_DEFINE(kind, INTENT_KIND_LIST)
INTENT_ENUM_DEFINE(mode, INTENT_MODE_LIST)
INTENT_ENUM_DEFINE(proto, INTENT_PROTO_LIST)
INTENT_ENUM_DEFINE(start, INTENT_START_LIST)
INTENT_ENUM_DEFINE(dir, INTENT_DIR_LIST)
INTENT_ENUM_DEFINE(psk_encoding, INTENT_PSK_ENCODING_LIST)
INTENT_ENUM_DEFINE(auth, INTENT_AUTH_LIST)

const struct intent_enum *const intent_field_enums[] = {
	&intent_kind_enum, &intent_mode_enum, &intent_proto_enum, &intent_start_enum,
	&intent_dir_enum, &intent_psk_encoding_enum, &intent_auth_enum,
};
const size_t intent_field_nenums = INTENT_FIELD_N(intent_field_enums);

const char *intent_enum_name(const struct intent_enum *e, unsigned v)
{
	return v < e->n ? e->names[v] : NULL;
}

int intent_enum_value(const struct intent_enum *e, const char *s)
{
	for (size_t i = 0; i < e->n; i++)
		if (strcmp(e->names[i], s) == 0)
			return (int)i;
	return -EINVAL;
}

/* Where a member is and how big. */
#define AT(type, member) .off = offsetof(type, member), .size = sizeof(((type *)0)->member)
#define SUB(table) .fields = table, .nfields = INTENT_FIELD_N(table)
#define REQ INTENT_FF_REQUIRED
#define U32 .max = UINT32_MAX

static const struct intent_field intent_field_overlay[] = {
	{ .key = "local", .type = INTENT_FT_IFADDR, .flags = REQ,
	  AT(struct intent_tunnel, overlay_local) },
	{ .key = "peer", .type = INTENT_FT_IFADDR, .flags = REQ,
	  AT(struct intent_tunnel, overlay_peer) },
};

#define SEC struct intent_security
static const struct intent_field intent_field_security[] = {
	{ .key = "mode", .type = INTENT_FT_ENUM, .flags = REQ, AT(SEC, mode),
	  .names = &intent_mode_enum },
	{ .key = "protocol", .type = INTENT_FT_ENUM, .flags = REQ, AT(SEC, protocol),
	  .names = &intent_proto_enum },
	{ .key = "ike_proposals", .type = INTENT_FT_STRV, .flags = REQ, AT(SEC, ike_proposals),
	  .count_off = offsetof(SEC, n_ike_proposals) },
	{ .key = "child_proposals", .type = INTENT_FT_STRV, .flags = REQ,
	  AT(SEC, child_proposals), .count_off = offsetof(SEC, n_child_proposals) },
	{ .key = "ike_lifetime", .type = INTENT_FT_UINT, AT(SEC, ike_lifetime), .min = 60,
	  .max = 31536000, .def = 14400 },
	{ .key = "child_lifetime", .type = INTENT_FT_UINT, AT(SEC, child_lifetime), .min = 10,
	  .max = 31536000, .def = 3600 },
	{ .key = "dpd_delay", .type = INTENT_FT_UINT, AT(SEC, dpd_delay), .max = 86400,
	  .def = 30 },
	{ .key = "start", .type = INTENT_FT_ENUM, .flags = REQ, AT(SEC, start),
	  .names = &intent_start_enum },
	{ .key = "initiator", .type = INTENT_FT_BOOL, AT(SEC, initiator) },
	{ .key = "udp_encap", .type = INTENT_FT_BOOL, AT(SEC, udp_encap) },
	{ .key = "local_id", .type = INTENT_FT_STR, .flags = INTENT_FF_OMIT, AT(SEC, local_id) },
	{ .key = "remote_id", .type = INTENT_FT_STR, .flags = INTENT_FF_OMIT,
	  AT(SEC, remote_id) },
	{ .key = "auth", .type = INTENT_FT_ENUM, .flags = INTENT_FF_OMIT, AT(SEC, auth),
	  .names = &intent_auth_enum },
};

/* Absent: on, with the defaults (an intent of an older controller). */
static const struct intent_field intent_field_bfd[] = {
	{ .key = "enabled", .type = INTENT_FT_BOOL, AT(struct intent_bfd, enabled), .def = 1 },
	{ .key = "interval_ms", .type = INTENT_FT_UINT, AT(struct intent_bfd, interval_ms),
	  .min = INTENT_BFD_INTERVAL_MIN, .max = INTENT_BFD_INTERVAL_MAX,
	  .def = INTENT_BFD_INTERVAL_DEFAULT },
	{ .key = "multiplier", .type = INTENT_FT_UINT, AT(struct intent_bfd, multiplier),
	  .min = INTENT_BFD_MULT_MIN, .max = INTENT_BFD_MULT_MAX,
	  .def = INTENT_BFD_MULT_DEFAULT },
};

#define TUN struct intent_tunnel
static const struct intent_field intent_field_tunnel[] = {
	{ .key = "id", .type = INTENT_FT_STR, .flags = REQ, AT(TUN, id) },
	{ .key = "ifname", .type = INTENT_FT_IFNAME, .flags = REQ, AT(TUN, ifname) },
	{ .key = "kind", .type = INTENT_FT_ENUM, .flags = REQ, AT(TUN, kind),
	  .names = &intent_kind_enum },
	{ .key = "local", .type = INTENT_FT_ADDR, .flags = REQ, AT(TUN, local) },
	{ .key = "remote", .type = INTENT_FT_ADDR, .flags = REQ, AT(TUN, remote) },
	{ .key = "key", .type = INTENT_FT_UINT, .flags = REQ, AT(TUN, key), U32 },
	{ .key = "ttl", .type = INTENT_FT_UINT, AT(TUN, ttl), .max = 255, .def = 64 },
	{ .key = "mtu", .type = INTENT_FT_UINT, .flags = REQ, AT(TUN, mtu), .min = 576,
	  .max = 9000 },
	{ .key = "overlay", .type = INTENT_FT_OBJECT, .flags = REQ, SUB(intent_field_overlay) },
	{ .key = "reqid", .type = INTENT_FT_UINT, .flags = REQ, AT(TUN, reqid), .min = 1, U32 },
	{ .key = "security", .type = INTENT_FT_OBJECT, .flags = REQ, .off = offsetof(TUN, sec),
	  SUB(intent_field_security) },
	{ .key = "bfd", .type = INTENT_FT_OBJECT, .off = offsetof(TUN, bfd),
	  SUB(intent_field_bfd) },
	{ .key = "psk", .type = INTENT_FT_STR, .flags = REQ | INTENT_FF_SECRET, AT(TUN, psk) },
	/* Left out in the string form, from the JSON and the digest: the intents of agents
	 * before the field stay what they were. */
	{ .key = "psk_encoding", .type = INTENT_FT_ENUM,
	  .flags = INTENT_FF_OMIT | INTENT_FF_HASH_IF_SET, AT(TUN, psk_encoding),
	  .names = &intent_psk_encoding_enum },
};

static const struct intent_field intent_field_route[] = {
	{ .key = "prefix", .type = INTENT_FT_PREFIX, .flags = REQ,
	  AT(struct intent_route, prefix) },
	{ .key = "via", .type = INTENT_FT_STR, .flags = REQ, AT(struct intent_route, via) },
	{ .key = "metric", .type = INTENT_FT_UINT, AT(struct intent_route, metric), U32,
	  .def = 100 },
};

#define SPD struct intent_spd
static const struct intent_field intent_field_template[] = {
	{ .key = "mode", .type = INTENT_FT_ENUM, .flags = REQ, AT(SPD, tmpl_mode),
	  .names = &intent_mode_enum },
	{ .key = "proto", .type = INTENT_FT_ENUM, .flags = REQ, AT(SPD, tmpl_proto),
	  .names = &intent_proto_enum },
	{ .key = "reqid", .type = INTENT_FT_UINT, .flags = REQ, AT(SPD, tmpl_reqid), .min = 1,
	  U32 },
};

static const struct intent_field intent_field_mark[] = {
	{ .key = "value", .type = INTENT_FT_UINT, .flags = REQ, AT(SPD, mark), U32 },
	{ .key = "mask", .type = INTENT_FT_UINT, AT(SPD, mark_mask), .min = 1, U32,
	  .def = UINT32_MAX },
};

static const struct intent_field intent_field_spd[] = {
	{ .key = "tunnel", .type = INTENT_FT_STR, .flags = REQ, AT(SPD, tunnel) },
	{ .key = "src", .type = INTENT_FT_PREFIX, .flags = REQ, AT(SPD, src) },
	{ .key = "dst", .type = INTENT_FT_PREFIX, .flags = REQ, AT(SPD, dst) },
	{ .key = "proto", .type = INTENT_FT_UINT, .flags = REQ, AT(SPD, proto), .max = 255 },
	{ .key = "dir", .type = INTENT_FT_ENUM, .flags = REQ, AT(SPD, dir),
	  .names = &intent_dir_enum },
	{ .key = "template", .type = INTENT_FT_OBJECT, .flags = REQ,
	  SUB(intent_field_template) },
	{ .key = "priority", .type = INTENT_FT_UINT, .flags = REQ, AT(SPD, priority), U32 },
	/* VTI only: absent, no mark and no defaults. */
	{ .key = "mark", .type = INTENT_FT_OBJECT, .flags = INTENT_FF_OMIT,
	  .count_off = offsetof(SPD, has_mark), SUB(intent_field_mark) },
};

#define IN struct intent
const struct intent_field intent_field_root[] = {
	{ .key = "format", .type = INTENT_FT_CONST, .flags = REQ, .min = INTENT_FORMAT,
	  .max = INTENT_FORMAT, .def = INTENT_FORMAT },
	{ .key = "site", .type = INTENT_FT_STR, .flags = REQ, AT(IN, site) },
	{ .key = "revision", .type = INTENT_FT_UINT, .flags = REQ | INTENT_FF_UNHASHED,
	  AT(IN, revision), .max = INT64_MAX },
	{ .key = "committed_at", .type = INTENT_FT_TIME,
	  .flags = INTENT_FF_OMIT | INTENT_FF_UNHASHED, AT(IN, committed_at) },
	{ .key = "tunnels", .type = INTENT_FT_ARRAY, .off = offsetof(IN, tunnels),
	  .size = sizeof(TUN), .count_off = offsetof(IN, n_tunnels), SUB(intent_field_tunnel) },
	{ .key = "routes", .type = INTENT_FT_ARRAY, .off = offsetof(IN, routes),
	  .size = sizeof(struct intent_route), .count_off = offsetof(IN, n_routes),
	  SUB(intent_field_route) },
	{ .key = "spd", .type = INTENT_FT_ARRAY, .off = offsetof(IN, spd), .size = sizeof(SPD),
	  .count_off = offsetof(IN, n_spd), SUB(intent_field_spd) },
	{ .key = "ca", .type = INTENT_FT_STR, .flags = INTENT_FF_OMIT, AT(IN, ca) },
	{ .key = "crl", .type = INTENT_FT_STR, .flags = INTENT_FF_OMIT, AT(IN, crl) },
};
const size_t intent_field_nroot = INTENT_FIELD_N(intent_field_root);

uint64_t intent_field_uint(const void *base, const struct intent_field *f)
{
	const char *p = (const char *)base + f->off;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	if (f->type == INTENT_FT_CONST)
		return f->def;
	switch (f->size) {
	case 1: memcpy(&u8, p, 1); return u8;
	case 2: memcpy(&u16, p, 2); return u16;
	case 4: memcpy(&u32, p, 4); return u32;
	default: memcpy(&u64, p, 8); return u64;
	}
}

void intent_field_set_uint(void *base, const struct intent_field *f, uint64_t v)
{
	char *p = (char *)base + f->off;
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (f->size) {
	case 0: break;
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	default: memcpy(p, &v, 8);
	}
}

const char *intent_field_str(const void *base, const struct intent_field *f)
{
	const char *p = (const char *)base + f->off;
	const char *s;

	if (f->type != INTENT_FT_STR)
		return p;
	memcpy(&s, p, sizeof(s));
	return s;
}

size_t intent_field_count(const void *base, const struct intent_field *f)
{
	size_t n;

	memcpy(&n, (const char *)base + f->count_off, sizeof(n));
	return n;
}

bool intent_field_present(const void *base, const struct intent_field *f)
{
	const char *s;
	bool has;

	if (!(f->flags & INTENT_FF_OMIT))
		return true;
	switch (f->type) {
	case INTENT_FT_OBJECT:
		memcpy(&has, (const char *)base + f->count_off, sizeof(has));
		return has;
	case INTENT_FT_STR:
	case INTENT_FT_IFNAME:
	case INTENT_FT_TIME:
		s = intent_field_str(base, f);
		return s && *s;
	default:
		return intent_field_uint(base, f) != 0;
	}
}

void intent_field_set_present(void *base, const struct intent_field *f)
{
	bool has = true;

	memcpy((char *)base + f->count_off, &has, sizeof(has));
}

void intent_field_text(const void *base, const struct intent_field *f, char *buf, size_t len)
{
	const void *p = (const char *)base + f->off;

	if (f->type == INTENT_FT_ADDR)
		addr_fmt(p, buf, len);
	else if (f->type == INTENT_FT_PREFIX)
		addr_prefix_fmt(p, buf, len);
	else
		intent_ifaddr_fmt(p, buf, len);
}

static void intent_field_free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void intent_field_free(const struct intent_field *fields, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		const struct intent_field *f = &fields[i];
		char *p = (char *)base + f->off, *s;
		char **v;

		switch (f->type) {
		case INTENT_FT_STR:
			memcpy(&s, p, sizeof(s));
			if (s && (f->flags & INTENT_FF_SECRET))
				explicit_bzero(s, strlen(s));
			free(s);
			break;
		case INTENT_FT_STRV:
			memcpy(&v, p, sizeof(v));
			intent_field_free_strv(v, intent_field_count(base, f));
			break;
		case INTENT_FT_OBJECT:
			intent_field_free(f->fields, f->nfields, p);
			break;
		case INTENT_FT_ARRAY:
			memcpy(&s, p, sizeof(s));
			for (size_t k = 0; s && k < intent_field_count(base, f); k++)
				intent_field_free(f->fields, f->nfields, s + k * f->size);
			free(s);
			break;
		default:
			break;
		}
	}
}
