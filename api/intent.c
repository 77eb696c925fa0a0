/* Intent codec, JSON <-> struct intent: both ways walk the field tables of
 * intent_field.c. The validator is intent_validate.c. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "intent.h"
#include "intent_field.h"

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

struct intent *intent_new(void)
{
	return calloc(1, sizeof(struct intent));
}

void intent_free(struct intent *in)
{
	if (!in)
		return;
	intent_field_free(intent_field_root, intent_field_nroot, in);
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

/* ---- decoding ---- */

struct dec {
	char *err;
	size_t errlen;
	int rc;
};

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

/* The error at path's member key (at path itself when key is NULL); the first one stays.
 * Paths are only formatted here: decoding a large intent formats none. */
static int dec_fail(struct dec *d, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int dec_fail(struct dec *d, const char *path, const char *key, const char *fmt, ...)
{
	va_list ap;
	char p[160];
	int n;

	if (d->rc)
		return d->rc;
	d->rc = -EINVAL;
	if (!d->errlen)
		return d->rc;
	if (key)
		path = sub(p, sizeof(p), path, key);
	n = snprintf(d->err, d->errlen, "%s%s", path, *path ? ": " : "");
	if (n < 0 || (size_t)n >= d->errlen)
		return d->rc;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return d->rc;
}

/* Every key of o must be one of the fields': typos are errors. */
static int dec_keys(struct dec *d, const json_t *o, const char *path,
		    const struct intent_field *fields, size_t n)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return dec_fail(d, path, NULL, "must be an object");
	json_object_foreach((json_t *)o, k, v) {
		size_t i = 0;

		while (i < n && strcmp(fields[i].key, k))
			i++;
		if (i == n)
			return dec_fail(d, path, k, "unknown field");
	}
	return 0;
}

static int dec_str(struct dec *d, const json_t *v, const char *path,
		   const struct intent_field *f, void *base)
{
	char **out = (char **)((char *)base + f->off);

	if (!json_is_string(v) || !json_string_length(v))
		return dec_fail(d, path, f->key, "must be a non-empty string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return dec_fail(d, path, f->key, "contains NUL");
	*out = strdup(json_string_value(v));
	if (!*out)
		return d->rc = -ENOMEM;
	return 0;
}

static int dec_uint(struct dec *d, const json_t *v, const char *path,
		    const struct intent_field *f, void *base)
{
	json_int_t n;

	if (!json_is_integer(v))
		return dec_fail(d, path, f->key, "must be an integer");
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < f->min || (uint64_t)n > f->max)
		return dec_fail(d, path, f->key, "must be between %llu and %llu",
				(unsigned long long)f->min, (unsigned long long)f->max);
	intent_field_set_uint(base, f, (uint64_t)n);
	return 0;
}

static int dec_enum(struct dec *d, const json_t *v, const char *path,
		    const struct intent_field *f, void *base)
{
	const struct intent_enum *e = f->names;
	int i = json_is_string(v) ? intent_enum_value(e, json_string_value(v)) : -EINVAL;
	char list[128] = "";
	size_t len = 0;

	if (i >= 0) {
		intent_field_set_uint(base, f, (uint64_t)i);
		return 0;
	}
	for (size_t k = 0; k < e->n && len < sizeof(list); k++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "",
					e->names[k]);
	return dec_fail(d, path, f->key, "must be one of %s", list);
}

/* A char array member: the interface name, or committed_at. */
static int dec_chars(struct dec *d, const json_t *v, const char *path,
		     const struct intent_field *f, void *base)
{
	int64_t ms;

	if (f->type == INTENT_FT_TIME) {
		if (!json_is_string(v) || intent_time_parse(json_string_value(v), &ms) < 0)
			return dec_fail(d, path, f->key,
					"must be a UTC time, YYYY-MM-DDTHH:MM:SS.fffZ");
	} else if (!json_is_string(v) || json_string_length(v) >= f->size ||
		   strlen(json_string_value(v)) != json_string_length(v)) {
		return dec_fail(d, path, f->key, "must be a string of at most %zu characters",
				f->size - 1);
	}
	snprintf((char *)base + f->off, f->size, "%s", json_string_value(v));
	return 0;
}

/* The three address forms; the parsers fill the member in place. */
static int dec_addr(struct dec *d, const json_t *v, const char *path,
		    const struct intent_field *f, void *base)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	void *out = (char *)base + f->off;
	int rc;

	if (f->type == INTENT_FT_ADDR) {
		if (!s || addr_parse(s, out) < 0)
			return dec_fail(d, path, f->key, "not an IPv4 or IPv6 address");
		return 0;
	}
	if (f->type == INTENT_FT_IFADDR) {
		if (!s || intent_ifaddr_parse(s, out) < 0)
			return dec_fail(d, path, f->key, "not an address with prefix length");
		return 0;
	}
	rc = s ? addr_prefix_parse(s, out) : -EINVAL;
	if (rc == -EDOM)
		return dec_fail(d, path, f->key, "host bits set");
	if (rc < 0)
		return dec_fail(d, path, f->key, "not a prefix");
	return 0;
}

static int dec_strv(struct dec *d, const json_t *v, const char *path,
		    const struct intent_field *f, void *base)
{
	size_t *n = (size_t *)((char *)base + f->count_off);
	char ***out = (char ***)((char *)base + f->off);
	char p[160], q[180];

	if (!json_is_array(v) || !json_array_size(v))
		return dec_fail(d, path, f->key, "must be a non-empty array of strings");
	*out = calloc(json_array_size(v), sizeof(char *));
	if (!*out)
		return d->rc = -ENOMEM;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);

		if (!json_is_string(e) || !json_string_length(e) ||
		    strlen(json_string_value(e)) != json_string_length(e))
			return dec_fail(d, idx(q, sizeof(q), sub(p, sizeof(p), path, f->key), i),
					NULL, "must be a non-empty string");
		(*out)[i] = strdup(json_string_value(e));
		if (!(*out)[i])
			return d->rc = -ENOMEM;
		(*n)++;
	}
	return 0;
}

static int dec_object(struct dec *d, const json_t *o, const char *path,
		      const struct intent_field *fields, size_t n, void *base);

/* An array of objects, each zeroed, then decoded in place. */
static int dec_array(struct dec *d, const json_t *v, const char *path,
		     const struct intent_field *f, void *base)
{
	size_t *n = (size_t *)((char *)base + f->count_off);
	char **arr = (char **)((char *)base + f->off);
	char p[160], q[180];

	if (!json_is_array(v))
		return dec_fail(d, path, f->key, "must be an array");
	if (!json_array_size(v))
		return 0;
	sub(p, sizeof(p), path, f->key);
	*arr = calloc(json_array_size(v), f->size);
	if (!*arr)
		return d->rc = -ENOMEM;
	for (size_t i = 0; i < json_array_size(v); i++) {
		(*n)++;
		if (dec_object(d, json_array_get(v, i), idx(q, sizeof(q), p, i), f->fields,
			       f->nfields, *arr + i * f->size))
			return d->rc;
	}
	return 0;
}

static int dec_value(struct dec *d, const json_t *v, const char *path,
		     const struct intent_field *f, void *base)
{
	char p[160];

	switch (f->type) {
	case INTENT_FT_CONST:
	case INTENT_FT_UINT:
		return dec_uint(d, v, path, f, base);
	case INTENT_FT_BOOL:
		if (!json_is_boolean(v))
			return dec_fail(d, path, f->key, "must be true or false");
		intent_field_set_uint(base, f, json_is_true(v));
		return 0;
	case INTENT_FT_ENUM:
		return dec_enum(d, v, path, f, base);
	case INTENT_FT_STR:
		return dec_str(d, v, path, f, base);
	case INTENT_FT_IFNAME:
	case INTENT_FT_TIME:
		return dec_chars(d, v, path, f, base);
	case INTENT_FT_ADDR:
	case INTENT_FT_PREFIX:
	case INTENT_FT_IFADDR:
		return dec_addr(d, v, path, f, base);
	case INTENT_FT_STRV:
		return dec_strv(d, v, path, f, base);
	case INTENT_FT_OBJECT:
		if (f->flags & INTENT_FF_OMIT)
			intent_field_set_present(base, f);
		return dec_object(d, v, sub(p, sizeof(p), path, f->key), f->fields, f->nfields,
				  (char *)base + f->off);
	case INTENT_FT_ARRAY:
		return dec_array(d, v, path, f, base);
	}
	return dec_fail(d, path, f->key, "no decoder");
}

static int dec_member(struct dec *d, const json_t *o, const char *path,
		      const struct intent_field *f, void *base)
{
	const json_t *v = o ? json_object_get(o, f->key) : NULL;

	if (v)
		return dec_value(d, v, path, f, base);
	if (f->flags & INTENT_FF_REQUIRED)
		return dec_fail(d, path, f->key, "missing");
	/* An absent object that has no presence flag is one with every default. */
	if (f->type == INTENT_FT_OBJECT && !(f->flags & INTENT_FF_OMIT))
		return dec_object(d, NULL, NULL, f->fields, f->nfields, (char *)base + f->off);
	return 0;
}

/* Defaults first, then the members: those that are not objects, then the objects, the
 * order in which errors have always been reported. o NULL: defaults only. */
static int dec_object(struct dec *d, const json_t *o, const char *path,
		      const struct intent_field *fields, size_t n, void *base)
{
	if (o && dec_keys(d, o, path, fields, n))
		return d->rc;
	for (size_t i = 0; i < n; i++)
		if (fields[i].def && fields[i].type != INTENT_FT_CONST)
			intent_field_set_uint(base, &fields[i], fields[i].def);
	if (!o)
		return 0;
	for (int objects = 0; objects < 2; objects++)
		for (size_t i = 0; i < n; i++)
			if ((fields[i].type == INTENT_FT_OBJECT) == objects &&
			    dec_member(d, o, path, &fields[i], base))
				return d->rc;
	return 0;
}

int intent_from_json(const json_t *j, struct intent **out, char *err, size_t errlen)
{
	struct dec d = { .err = err, .errlen = errlen };
	struct intent *in = intent_new();

	if (errlen)
		err[0] = '\0';
	if (!in)
		return -ENOMEM;
	if (dec_object(&d, j, "", intent_field_root, intent_field_nroot, in))
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

static json_t *enc_object(const struct intent_field *fields, size_t n, const void *base);

static json_t *enc_strv(const struct intent_field *f, const void *base)
{
	char *const *v = *(char *const *const *)((const char *)base + f->off);
	size_t n = intent_field_count(base, f);
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *enc_array(const struct intent_field *f, const void *base)
{
	const char *arr = *(const char *const *)((const char *)base + f->off);
	size_t n = intent_field_count(base, f);
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, enc_object(f->fields, f->nfields, arr + i * f->size))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* NULL on OOM, or for text jansson refuses (not UTF-8): the whole encoding fails. */
static json_t *enc_value(const struct intent_field *f, const void *base)
{
	char s[ADDR_PREFIX_STRLEN];

	switch (f->type) {
	case INTENT_FT_CONST:
	case INTENT_FT_UINT:
		return json_integer((json_int_t)intent_field_uint(base, f));
	case INTENT_FT_BOOL:
		return json_boolean(intent_field_uint(base, f));
	case INTENT_FT_ENUM:
		return json_string(intent_enum_name(f->names, (unsigned)intent_field_uint(base, f)));
	case INTENT_FT_STR:
	case INTENT_FT_IFNAME:
	case INTENT_FT_TIME:
		return json_string(intent_field_str(base, f));
	case INTENT_FT_ADDR:
	case INTENT_FT_PREFIX:
	case INTENT_FT_IFADDR:
		intent_field_text(base, f, s, sizeof(s));
		return json_string(s);
	case INTENT_FT_STRV:
		return enc_strv(f, base);
	case INTENT_FT_OBJECT:
		return enc_object(f->fields, f->nfields, (const char *)base + f->off);
	case INTENT_FT_ARRAY:
		return enc_array(f, base);
	}
	return NULL;
}

static json_t *enc_object(const struct intent_field *fields, size_t n, const void *base)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++) {
		if (!intent_field_present(base, &fields[i]))
			continue;
		if (json_object_set_new(o, fields[i].key, enc_value(&fields[i], base))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *intent_to_json(const struct intent *in)
{
	return enc_object(intent_field_root, intent_field_nroot, in);
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
