/* Intent codec (JSON <-> struct intent) and validator. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "intent.h"

static const char *const kind_names[] = { "gre", "vti" };
static const char *const mode_names[] = { "transport", "tunnel" };
static const char *const proto_names[] = { "esp", "ah" };
static const char *const dir_names[] = { "in", "out", "fwd" };
static const char *const start_names[] = { "on-demand", "always" };
static const char *const psk_enc_names[] = { "string", "hex" };
static const char *const auth_names[] = { "psk", "x509" };

const char *intent_kind_name(enum intent_kind k) { return kind_names[k]; }
const char *intent_mode_name(enum intent_mode m) { return mode_names[m]; }
const char *intent_proto_name(enum intent_proto p) { return proto_names[p]; }
const char *intent_dir_name(enum intent_dir d) { return dir_names[d]; }
const char *intent_start_name(enum intent_start s) { return start_names[s]; }
const char *intent_psk_encoding_name(enum intent_psk_encoding e) { return psk_enc_names[e]; }

static int intent_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int intent_psk_bytes(const struct intent_tunnel *t, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n = strlen(t->psk);

	if (t->psk_encoding == INTENT_PSK_STRING) {
		if (n > cap)
			return -EINVAL;
		memcpy(buf, t->psk, n);
		*len = n;
		return 0;
	}
	if (n < 2 || t->psk[0] != '0' || (t->psk[1] != 'x' && t->psk[1] != 'X') || n % 2 ||
	    (n - 2) / 2 > cap)
		return -EINVAL;
	for (size_t i = 2; i < n; i += 2) {
		int hi = intent_hexval(t->psk[i]), lo = intent_hexval(t->psk[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		buf[(i - 2) / 2] = (uint8_t)(hi << 4 | lo);
	}
	*len = (n - 2) / 2;
	return 0;
}

const char *intent_auth_name(enum intent_auth a) { return auth_names[a]; }

struct intent *intent_new(void)
{
	return calloc(1, sizeof(struct intent));
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void intent_free(struct intent *in)
{
	if (!in)
		return;
	for (size_t i = 0; i < in->n_tunnels; i++) {
		struct intent_tunnel *t = &in->tunnels[i];

		free(t->id);
		strv_free(t->sec.ike_proposals, t->sec.n_ike_proposals);
		strv_free(t->sec.child_proposals, t->sec.n_child_proposals);
		free(t->sec.local_id);
		free(t->sec.remote_id);
		if (t->psk) {
			explicit_bzero(t->psk, strlen(t->psk));
			free(t->psk);
		}
	}
	for (size_t i = 0; i < in->n_routes; i++)
		free(in->routes[i].via);
	for (size_t i = 0; i < in->n_spd; i++)
		free(in->spd[i].tunnel);
	free(in->tunnels);
	free(in->routes);
	free(in->spd);
	free(in->site);
	free(in->ca);
	free(in->crl);
	free(in);
}

int intent_ifaddr_parse(const char *s, struct intent_ifaddr *out)
{
	char buf[ADDR_PREFIX_STRLEN];
	char *slash, *end;
	unsigned long len;
	size_t n = strlen(s);

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (!slash || !slash[1] || (slash[1] == '0' && slash[2]))
		return -EINVAL;
	*slash = '\0';
	if (addr_parse(buf, &out->addr) < 0)
		return -EINVAL;
	if (slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	len = strtoul(slash + 1, &end, 10);
	if (*end || len > (out->addr.family == AF_INET ? 32u : 128u))
		return -EINVAL;
	out->len = (uint8_t)len;
	return 0;
}

void intent_ifaddr_fmt(const struct intent_ifaddr *a, char *buf, size_t len)
{
	char s[ADDR_STRLEN];

	addr_fmt(&a->addr, s, sizeof(s));
	addr_fmt_len(s, a->len, buf, len);
}

/* ---- decoding ---- */

struct dec {
	char *err;
	size_t errlen;
	int rc;
};

static int dec_fail(struct dec *d, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int dec_fail(struct dec *d, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->rc)
		return d->rc;
	d->rc = -EINVAL;
	if (!d->errlen)
		return d->rc;
	n = snprintf(d->err, d->errlen, "%s%s", path, *path ? ": " : "");
	if (n < 0 || (size_t)n >= d->errlen)
		return d->rc;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return d->rc;
}

static const char *sub(char *buf, size_t len, const char *base, const char *key)
{
	snprintf(buf, len, "%.100s%s%.40s", base, *base ? "." : "", key);
	return buf;
}

static const char *idx(char *buf, size_t len, const char *base, size_t i)
{
	snprintf(buf, len, "%.100s[%zu]", base, i);
	return buf;
}

/* Every key of o must be in allowed (NULL-terminated): typos are errors. */
static int dec_keys(struct dec *d, const json_t *o, const char *path,
		    const char *const *allowed)
{
	const char *k;
	json_t *v;
	char p[160];

	if (!json_is_object(o))
		return dec_fail(d, path, "must be an object");
	json_object_foreach((json_t *)o, k, v) {
		size_t i = 0;

		while (allowed[i] && strcmp(allowed[i], k))
			i++;
		if (!allowed[i])
			return dec_fail(d, sub(p, sizeof(p), path, k), "unknown field");
	}
	return 0;
}

static const json_t *dec_get(struct dec *d, const json_t *o, const char *path,
			     const char *key, bool required)
{
	const json_t *v = json_object_get(o, key);
	char p[160];

	if (!v && required)
		dec_fail(d, sub(p, sizeof(p), path, key), "missing");
	return v;
}

static int dec_str(struct dec *d, const json_t *o, const char *path, const char *key,
		   bool required, char **out)
{
	const json_t *v = dec_get(d, o, path, key, required);
	char p[160];

	if (!v)
		return d->rc;
	if (!json_is_string(v) || !json_string_length(v))
		return dec_fail(d, sub(p, sizeof(p), path, key), "must be a non-empty string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return dec_fail(d, sub(p, sizeof(p), path, key), "contains NUL");
	*out = strdup(json_string_value(v));
	if (!*out)
		return d->rc = -ENOMEM;
	return 0;
}

static int dec_uint(struct dec *d, const json_t *o, const char *path, const char *key,
		    bool required, uint64_t min, uint64_t max, uint64_t *out)
{
	const json_t *v = dec_get(d, o, path, key, required);
	char p[160];
	json_int_t n;

	if (!v)
		return d->rc;
	if (!json_is_integer(v))
		return dec_fail(d, sub(p, sizeof(p), path, key), "must be an integer");
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return dec_fail(d, sub(p, sizeof(p), path, key),
				"must be between %llu and %llu",
				(unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

static int dec_u32(struct dec *d, const json_t *o, const char *path, const char *key,
		   bool required, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = *out;
	int rc = dec_uint(d, o, path, key, required, min, max, &v);

	*out = (uint32_t)v;
	return rc;
}

static int dec_bool(struct dec *d, const json_t *o, const char *path, const char *key,
		    bool *out)
{
	const json_t *v = dec_get(d, o, path, key, false);
	char p[160];

	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return dec_fail(d, sub(p, sizeof(p), path, key), "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int dec_enum(struct dec *d, const json_t *o, const char *path, const char *key,
		    bool required, const char *const *names, size_t n, int *out)
{
	const json_t *v = dec_get(d, o, path, key, required);
	char p[160];

	if (!v)
		return d->rc;
	for (size_t i = 0; json_is_string(v) && i < n; i++) {
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return dec_fail(d, sub(p, sizeof(p), path, key), "must be one of %s%s%s%s%s",
			names[0], n > 1 ? ", " : "", n > 1 ? names[1] : "",
			n > 2 ? ", " : "", n > 2 ? names[2] : "");
}

#define DEC_ENUM(d, o, path, key, req, names, outp) ({				\
	int _v = (int)*(outp);							\
	int _rc = dec_enum(d, o, path, key, req, names,				\
			   sizeof(names) / sizeof(names[0]), &_v);		\
	*(outp) = _v;								\
	_rc; })

static int dec_addr(struct dec *d, const json_t *o, const char *path, const char *key,
		    struct addr *out)
{
	const json_t *v = dec_get(d, o, path, key, true);
	char p[160];

	if (!v)
		return d->rc;
	if (!json_is_string(v) || addr_parse(json_string_value(v), out) < 0)
		return dec_fail(d, sub(p, sizeof(p), path, key),
				"not an IPv4 or IPv6 address");
	return 0;
}

static int dec_prefix(struct dec *d, const json_t *o, const char *path, const char *key,
		      struct addr_prefix *out)
{
	const json_t *v = dec_get(d, o, path, key, true);
	char p[160];
	int rc;

	if (!v)
		return d->rc;
	rc = json_is_string(v) ? addr_prefix_parse(json_string_value(v), out) : -EINVAL;
	if (rc == -EDOM)
		return dec_fail(d, sub(p, sizeof(p), path, key), "host bits set");
	if (rc < 0)
		return dec_fail(d, sub(p, sizeof(p), path, key), "not a prefix");
	return 0;
}

static int dec_ifaddr(struct dec *d, const json_t *o, const char *path, const char *key,
		      struct intent_ifaddr *out)
{
	const json_t *v = dec_get(d, o, path, key, true);
	char p[160];

	if (!v)
		return d->rc;
	if (!json_is_string(v) || intent_ifaddr_parse(json_string_value(v), out) < 0)
		return dec_fail(d, sub(p, sizeof(p), path, key),
				"not an address with prefix length");
	return 0;
}

static int dec_strv(struct dec *d, const json_t *o, const char *path, const char *key,
		    char ***out, size_t *n)
{
	const json_t *v = dec_get(d, o, path, key, true);
	char p[160], q[180];

	if (!v)
		return d->rc;
	sub(p, sizeof(p), path, key);
	if (!json_is_array(v) || !json_array_size(v))
		return dec_fail(d, p, "must be a non-empty array of strings");
	*out = calloc(json_array_size(v), sizeof(char *));
	if (!*out)
		return d->rc = -ENOMEM;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);

		if (!json_is_string(e) || !json_string_length(e) ||
		    strlen(json_string_value(e)) != json_string_length(e))
			return dec_fail(d, idx(q, sizeof(q), p, i), "must be a non-empty string");
		(*out)[i] = strdup(json_string_value(e));
		if (!(*out)[i])
			return d->rc = -ENOMEM;
		(*n)++;
	}
	return 0;
}

static int dec_security(struct dec *d, const json_t *o, const char *path,
			struct intent_security *s)
{
	static const char *const keys[] = { "mode", "protocol", "ike_proposals",
		"child_proposals", "ike_lifetime", "child_lifetime", "dpd_delay", "start",
		"initiator", "udp_encap", "local_id", "remote_id", "auth", NULL };

	s->ike_lifetime = 14400;
	s->child_lifetime = 3600;
	s->dpd_delay = 30;
	if (dec_keys(d, o, path, keys) ||
	    DEC_ENUM(d, o, path, "mode", true, mode_names, &s->mode) ||
	    DEC_ENUM(d, o, path, "protocol", true, proto_names, &s->protocol) ||
	    dec_strv(d, o, path, "ike_proposals", &s->ike_proposals, &s->n_ike_proposals) ||
	    dec_strv(d, o, path, "child_proposals", &s->child_proposals,
		     &s->n_child_proposals) ||
	    dec_u32(d, o, path, "ike_lifetime", false, 60, 31536000, &s->ike_lifetime) ||
	    dec_u32(d, o, path, "child_lifetime", false, 10, 31536000, &s->child_lifetime) ||
	    dec_u32(d, o, path, "dpd_delay", false, 0, 86400, &s->dpd_delay) ||
	    DEC_ENUM(d, o, path, "start", true, start_names, &s->start) ||
	    dec_bool(d, o, path, "initiator", &s->initiator) ||
	    dec_bool(d, o, path, "udp_encap", &s->udp_encap) ||
	    dec_str(d, o, path, "local_id", false, &s->local_id) ||
	    dec_str(d, o, path, "remote_id", false, &s->remote_id) ||
	    DEC_ENUM(d, o, path, "auth", false, auth_names, &s->auth))
		return d->rc;
	return 0;
}

static int dec_bfd(struct dec *d, const json_t *o, const char *path, struct intent_bfd *b)
{
	static const char *const keys[] = { "enabled", "interval_ms", "multiplier", NULL };
	uint32_t mult = INTENT_BFD_MULT_DEFAULT;

	if (dec_keys(d, o, path, keys) ||
	    dec_bool(d, o, path, "enabled", &b->enabled) ||
	    dec_u32(d, o, path, "interval_ms", false, INTENT_BFD_INTERVAL_MIN,
		    INTENT_BFD_INTERVAL_MAX, &b->interval_ms) ||
	    dec_u32(d, o, path, "multiplier", false, INTENT_BFD_MULT_MIN, INTENT_BFD_MULT_MAX,
		    &mult))
		return d->rc;
	b->multiplier = (uint8_t)mult;
	return 0;
}

static int dec_ifname(struct dec *d, const json_t *o, const char *path, char *out)
{
	const json_t *v = dec_get(d, o, path, "ifname", true);
	char p[160];

	if (!v)
		return d->rc;
	if (!json_is_string(v) || json_string_length(v) > INTENT_IFNAME_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return dec_fail(d, sub(p, sizeof(p), path, "ifname"),
				"must be a string of at most %d characters", INTENT_IFNAME_MAX);
	strcpy(out, json_string_value(v));
	return 0;
}

static int dec_tunnel(struct dec *d, const json_t *o, const char *path,
		      struct intent_tunnel *t)
{
	static const char *const keys[] = { "id", "ifname", "kind", "local", "remote",
		"key", "ttl", "mtu", "overlay", "reqid", "security", "bfd", "psk", "psk_encoding",
		NULL };
	static const char *const okeys[] = { "local", "peer", NULL };
	const json_t *ov, *sv, *bv;
	uint32_t ttl = 64;
	char p[160];

	if (dec_keys(d, o, path, keys) ||
	    dec_str(d, o, path, "id", true, &t->id) ||
	    dec_ifname(d, o, path, t->ifname) ||
	    DEC_ENUM(d, o, path, "kind", true, kind_names, &t->kind) ||
	    dec_addr(d, o, path, "local", &t->local) ||
	    dec_addr(d, o, path, "remote", &t->remote) ||
	    dec_u32(d, o, path, "key", true, 0, UINT32_MAX, &t->key) ||
	    dec_u32(d, o, path, "ttl", false, 0, 255, &ttl) ||
	    dec_u32(d, o, path, "mtu", true, 576, 9000, &t->mtu) ||
	    dec_u32(d, o, path, "reqid", true, 1, UINT32_MAX, &t->reqid) ||
	    dec_str(d, o, path, "psk", true, &t->psk) ||
	    DEC_ENUM(d, o, path, "psk_encoding", false, psk_enc_names, &t->psk_encoding))
		return d->rc;
	t->ttl = (uint8_t)ttl;
	ov = dec_get(d, o, path, "overlay", true);
	sub(p, sizeof(p), path, "overlay");
	if (!ov || dec_keys(d, ov, p, okeys) ||
	    dec_ifaddr(d, ov, p, "local", &t->overlay_local) ||
	    dec_ifaddr(d, ov, p, "peer", &t->overlay_peer))
		return d->rc;
	sv = dec_get(d, o, path, "security", true);
	if (!sv || dec_security(d, sv, sub(p, sizeof(p), path, "security"), &t->sec))
		return d->rc;
	/* Absent: on, with the defaults (an intent of an older controller). */
	t->bfd = (struct intent_bfd){ .enabled = true, .interval_ms = INTENT_BFD_INTERVAL_DEFAULT,
				      .multiplier = INTENT_BFD_MULT_DEFAULT };
	bv = dec_get(d, o, path, "bfd", false);
	if (!bv)
		return d->rc;
	return dec_bfd(d, bv, sub(p, sizeof(p), path, "bfd"), &t->bfd);
}

static int dec_route(struct dec *d, const json_t *o, const char *path,
		     struct intent_route *r)
{
	static const char *const keys[] = { "prefix", "via", "metric", NULL };

	r->metric = 100;
	if (dec_keys(d, o, path, keys) ||
	    dec_prefix(d, o, path, "prefix", &r->prefix) ||
	    dec_str(d, o, path, "via", true, &r->via) ||
	    dec_u32(d, o, path, "metric", false, 0, UINT32_MAX, &r->metric))
		return d->rc;
	return 0;
}

static int dec_spd(struct dec *d, const json_t *o, const char *path, struct intent_spd *s)
{
	static const char *const keys[] = { "tunnel", "src", "dst", "proto", "dir",
		"template", "priority", "mark", NULL };
	static const char *const tkeys[] = { "mode", "proto", "reqid", NULL };
	static const char *const mkeys[] = { "value", "mask", NULL };
	const json_t *tv, *mv;
	uint32_t proto = 0;
	char p[160];

	if (dec_keys(d, o, path, keys) ||
	    dec_str(d, o, path, "tunnel", true, &s->tunnel) ||
	    dec_prefix(d, o, path, "src", &s->src) ||
	    dec_prefix(d, o, path, "dst", &s->dst) ||
	    dec_u32(d, o, path, "proto", true, 0, 255, &proto) ||
	    DEC_ENUM(d, o, path, "dir", true, dir_names, &s->dir) ||
	    dec_u32(d, o, path, "priority", true, 0, UINT32_MAX, &s->priority))
		return d->rc;
	s->proto = (uint8_t)proto;
	tv = dec_get(d, o, path, "template", true);
	sub(p, sizeof(p), path, "template");
	if (!tv || dec_keys(d, tv, p, tkeys) ||
	    DEC_ENUM(d, tv, p, "mode", true, mode_names, &s->tmpl_mode) ||
	    DEC_ENUM(d, tv, p, "proto", true, proto_names, &s->tmpl_proto) ||
	    dec_u32(d, tv, p, "reqid", true, 1, UINT32_MAX, &s->tmpl_reqid))
		return d->rc;
	mv = dec_get(d, o, path, "mark", false);
	if (!mv)
		return 0;
	sub(p, sizeof(p), path, "mark");
	s->has_mark = true;
	s->mark_mask = UINT32_MAX;
	if (dec_keys(d, mv, p, mkeys) ||
	    dec_u32(d, mv, p, "value", true, 0, UINT32_MAX, &s->mark) ||
	    dec_u32(d, mv, p, "mask", false, 1, UINT32_MAX, &s->mark_mask))
		return d->rc;
	return 0;
}

/* Decodes the array at key into *arr with elem-sized zeroed elements. */
static int dec_array(struct dec *d, const json_t *o, const char *key, void **arr,
		     size_t *n, size_t elem,
		     int (*fn)(struct dec *, const json_t *, const char *, void *))
{
	const json_t *v = json_object_get(o, key);
	char p[160];

	if (!v)
		return 0;
	if (!json_is_array(v))
		return dec_fail(d, key, "must be an array");
	if (!json_array_size(v))
		return 0;
	*arr = calloc(json_array_size(v), elem);
	if (!*arr)
		return d->rc = -ENOMEM;
	for (size_t i = 0; i < json_array_size(v); i++) {
		(*n)++;
		if (fn(d, json_array_get(v, i), idx(p, sizeof(p), key, i),
		       (char *)*arr + i * elem))
			return d->rc;
	}
	return 0;
}

static int dec_tunnel_v(struct dec *d, const json_t *o, const char *p, void *t)
{
	return json_is_object(o) ? dec_tunnel(d, o, p, t) : dec_fail(d, p, "must be an object");
}

static int dec_route_v(struct dec *d, const json_t *o, const char *p, void *r)
{
	return json_is_object(o) ? dec_route(d, o, p, r) : dec_fail(d, p, "must be an object");
}

static int dec_spd_v(struct dec *d, const json_t *o, const char *p, void *s)
{
	return json_is_object(o) ? dec_spd(d, o, p, s) : dec_fail(d, p, "must be an object");
}

void intent_time_fmt(int64_t ms, char out[INTENT_TIME_LEN])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(out, INTENT_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, INTENT_TIME_LEN - n, ".%03uZ", (unsigned)(ms % 1000) % 1000u);
}

int intent_time_parse(const char *s, int64_t *ms)
{
	struct tm tm = { 0 };
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t frac = 0, scale = 1000;

	if (!p || strlen(s) >= INTENT_TIME_LEN || s[4] != '-' || s[10] != 'T')
		return -EINVAL;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return -EINVAL;
		/* Milliseconds: digits past the third are allowed and dropped. */
		for (p++; isdigit((unsigned char)*p); p++)
			if (scale > 1)
				frac += (*p - '0') * (scale /= 10);
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}

static int dec_committed(struct dec *d, const json_t *j, struct intent *in)
{
	const json_t *v = json_object_get(j, "committed_at");
	int64_t ms;

	if (!v)
		return 0;
	if (!json_is_string(v) || intent_time_parse(json_string_value(v), &ms) < 0)
		return dec_fail(d, "committed_at", "must be a UTC time, YYYY-MM-DDTHH:MM:SS.fffZ");
	snprintf(in->committed_at, sizeof(in->committed_at), "%s", json_string_value(v));
	return 0;
}

int intent_from_json(const json_t *j, struct intent **out, char *err, size_t errlen)
{
	static const char *const keys[] = { "format", "site", "revision", "committed_at",
		"tunnels", "routes", "spd", "ca", "crl", NULL };
	struct dec d = { .err = err, .errlen = errlen };
	struct intent *in = intent_new();
	uint64_t format = 0;

	if (errlen)
		err[0] = '\0';
	if (!in)
		return -ENOMEM;
	if (dec_keys(&d, j, "", keys) ||
	    dec_uint(&d, j, "", "format", true, INTENT_FORMAT, INTENT_FORMAT, &format) ||
	    dec_str(&d, j, "", "site", true, &in->site) ||
	    dec_uint(&d, j, "", "revision", true, 0, INT64_MAX, &in->revision) ||
	    dec_committed(&d, j, in) ||
	    dec_array(&d, j, "tunnels", (void **)&in->tunnels, &in->n_tunnels,
		      sizeof(*in->tunnels), dec_tunnel_v) ||
	    dec_array(&d, j, "routes", (void **)&in->routes, &in->n_routes,
		      sizeof(*in->routes), dec_route_v) ||
	    dec_array(&d, j, "spd", (void **)&in->spd, &in->n_spd, sizeof(*in->spd),
		      dec_spd_v) ||
	    dec_str(&d, j, "", "ca", false, &in->ca) ||
	    dec_str(&d, j, "", "crl", false, &in->crl))
		goto out;
	*out = in;
	in = NULL;
out:
	intent_free(in);
	if (d.rc == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	return d.rc;
}

/* ---- encoding ---- */

static json_t *enc_addr(const struct addr *a)
{
	char s[ADDR_STRLEN];

	addr_fmt(a, s, sizeof(s));
	return json_string(s);
}

static json_t *enc_prefix(const struct addr_prefix *p)
{
	char s[ADDR_PREFIX_STRLEN];

	addr_prefix_fmt(p, s, sizeof(s));
	return json_string(s);
}

static json_t *enc_ifaddr(const struct intent_ifaddr *a)
{
	char s[ADDR_PREFIX_STRLEN];

	intent_ifaddr_fmt(a, s, sizeof(s));
	return json_string(s);
}

static json_t *enc_strv(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* json_pack reports a NULL from any nested constructor as a failure, so OOM anywhere
 * in a tunnel surfaces as a NULL return. */
static json_t *enc_security(const struct intent_security *s)
{
	json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:s, s:b, s:b}",
		"mode", mode_names[s->mode], "protocol", proto_names[s->protocol],
		"ike_proposals", enc_strv(s->ike_proposals, s->n_ike_proposals),
		"child_proposals", enc_strv(s->child_proposals, s->n_child_proposals),
		"ike_lifetime", (json_int_t)s->ike_lifetime,
		"child_lifetime", (json_int_t)s->child_lifetime,
		"dpd_delay", (json_int_t)s->dpd_delay, "start", start_names[s->start],
		"initiator", s->initiator, "udp_encap", s->udp_encap);

	if (o && s->local_id && json_object_set_new(o, "local_id", json_string(s->local_id)))
		goto fail;
	if (o && s->remote_id &&
	    json_object_set_new(o, "remote_id", json_string(s->remote_id)))
		goto fail;
	if (o && s->auth != INTENT_AUTH_PSK &&
	    json_object_set_new(o, "auth", json_string(auth_names[s->auth])))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *enc_tunnel(const struct intent_tunnel *t)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:{s:o, s:o}, s:I, s:o, "
			 "s:{s:b, s:I, s:I}, s:s}",
		"id", t->id, "ifname", t->ifname, "kind", kind_names[t->kind],
		"local", enc_addr(&t->local), "remote", enc_addr(&t->remote),
		"key", (json_int_t)t->key, "ttl", (json_int_t)t->ttl,
		"mtu", (json_int_t)t->mtu,
		"overlay", "local", enc_ifaddr(&t->overlay_local),
		"peer", enc_ifaddr(&t->overlay_peer),
		"reqid", (json_int_t)t->reqid, "security", enc_security(&t->sec),
		"bfd", "enabled", t->bfd.enabled, "interval_ms", (json_int_t)t->bfd.interval_ms,
		"multiplier", (json_int_t)t->bfd.multiplier, "psk", t->psk);

	/* Left out in the string form: the intent of an agent that predates the field. */
	if (o && t->psk_encoding != INTENT_PSK_STRING &&
	    json_object_set_new(o, "psk_encoding",
				json_string(psk_enc_names[t->psk_encoding]))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *enc_spd(const struct intent_spd *s)
{
	json_t *o = json_pack("{s:s, s:o, s:o, s:I, s:s, s:{s:s, s:s, s:I}, s:I}",
		"tunnel", s->tunnel, "src", enc_prefix(&s->src), "dst", enc_prefix(&s->dst),
		"proto", (json_int_t)s->proto, "dir", dir_names[s->dir],
		"template", "mode", mode_names[s->tmpl_mode],
		"proto", proto_names[s->tmpl_proto], "reqid", (json_int_t)s->tmpl_reqid,
		"priority", (json_int_t)s->priority);

	if (o && s->has_mark &&
	    json_object_set_new(o, "mark", json_pack("{s:I, s:I}", "value",
			(json_int_t)s->mark, "mask", (json_int_t)s->mark_mask))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *intent_to_json(const struct intent *in)
{
	/* committed_at only when known ("s*": left out for NULL). */
	json_t *o = json_pack("{s:i, s:s, s:I, s:s*, s:[], s:[], s:[]}", "format", INTENT_FORMAT,
			      "site", in->site, "revision", (json_int_t)in->revision, "committed_at",
			      in->committed_at[0] ? in->committed_at : NULL, "tunnels", "routes", "spd");
	json_t *a;

	if (!o)
		return NULL;
	a = json_object_get(o, "tunnels");
	for (size_t i = 0; i < in->n_tunnels; i++)
		if (json_array_append_new(a, enc_tunnel(&in->tunnels[i])))
			goto fail;
	a = json_object_get(o, "routes");
	for (size_t i = 0; i < in->n_routes; i++) {
		const struct intent_route *r = &in->routes[i];

		if (json_array_append_new(a, json_pack("{s:o, s:s, s:I}",
				"prefix", enc_prefix(&r->prefix), "via", r->via,
				"metric", (json_int_t)r->metric)))
			goto fail;
	}
	a = json_object_get(o, "spd");
	for (size_t i = 0; i < in->n_spd; i++)
		if (json_array_append_new(a, enc_spd(&in->spd[i])))
			goto fail;
	if ((in->ca && json_object_set_new(o, "ca", json_string(in->ca))) ||
	    (in->crl && json_object_set_new(o, "crl", json_string(in->crl))))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

int intent_load_file(const char *path, struct intent **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	struct intent *in = NULL;
	int rc;

	if (!j) {
		snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		return -EINVAL;
	}
	rc = intent_from_json(j, &in, err, errlen);
	if (!rc)
		rc = intent_validate(in, err, errlen);
	if (!rc) {
		*out = in;
		in = NULL;
	}
	intent_free(in);
	json_decref(j);
	return rc;
}

const struct intent_tunnel *intent_tunnel_by_id(const struct intent *in, const char *id)
{
	for (size_t i = 0; i < in->n_tunnels; i++)
		if (strcmp(in->tunnels[i].id, id) == 0)
			return &in->tunnels[i];
	return NULL;
}
