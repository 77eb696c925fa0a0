/* The intent as compact JSON text, written directly: the same bytes as
 * json_dumps(intent_to_json(in), JSON_COMPACT), which unit tests check, at a fraction
 * of the cost. Both walk the field table of intent_field.c, in its order. The controller serves a thousand intents of a hundred kilobytes each
 * when a shared profile changes; building and dumping a jansson tree for each took
 * seconds. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intent.h"
#include "intent_field.h"

struct intent_buf {
	char *p;
	size_t len, cap;
	int err;		/* the first negative errno */
};

static void ib_grow(struct intent_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void ib_raw(struct intent_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap)
		ib_grow(b, n);
	if (b->err)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void ib_lit(struct intent_buf *b, const char *s)
{
	ib_raw(b, s, strlen(s));
}

/* jansson's escaping: quote, backslash and control characters; other bytes as they
 * are. Runs of plain bytes are copied at once: strings are most of an intent. NULL (an
 * enum value without a name) fails the dump. */
static void ib_str(struct intent_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *c = (const unsigned char *)s, *run = c;

	if (!s) {
		b->err = b->err ? b->err : -EINVAL;
		return;
	}
	ib_raw(b, "\"", 1);
	for (;; c++) {
		const char *esc = NULL;
		char u[7];

		if (*c >= 0x20 && *c != '"' && *c != '\\')
			continue;
		ib_raw(b, (const char *)run, (size_t)(c - run));
		run = c + 1;
		switch (*c) {
		case '\0': ib_raw(b, "\"", 1); return;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			memcpy(u, "\\u00", 4);
			u[4] = hex[*c >> 4];
			u[5] = hex[*c & 15];
			u[6] = '\0';
			esc = u;
		}
		ib_lit(b, esc);
	}
}

static void ib_uint(struct intent_buf *b, uint64_t u)
{
	char n[24], *p = n + sizeof(n);

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	ib_raw(b, p, (size_t)(n + sizeof(n) - p));
}

static void ib_strv(struct intent_buf *b, char *const *v, size_t n)
{
	ib_raw(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			ib_raw(b, ",", 1);
		ib_str(b, v[i]);
	}
	ib_raw(b, "]", 1);
}

static void ib_object(struct intent_buf *b, const struct intent_field *fields, size_t n,
		      const void *base);

static void ib_array(struct intent_buf *b, const struct intent_field *f, const void *base)
{
	const char *arr = *(const char *const *)((const char *)base + f->off);
	size_t n = intent_field_count(base, f);

	ib_raw(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			ib_raw(b, ",", 1);
		ib_object(b, f->fields, f->nfields, arr + i * f->size);
	}
	ib_raw(b, "]", 1);
}

static void ib_value(struct intent_buf *b, const struct intent_field *f, const void *base)
{
	char s[ADDR_PREFIX_STRLEN];

	switch (f->type) {
	case INTENT_FT_CONST:
	case INTENT_FT_UINT:
		ib_uint(b, intent_field_uint(base, f));
		break;
	case INTENT_FT_BOOL:
		ib_lit(b, intent_field_uint(base, f) ? "true" : "false");
		break;
	case INTENT_FT_ENUM:
		ib_str(b, intent_enum_name(f->names, (unsigned)intent_field_uint(base, f)));
		break;
	case INTENT_FT_STR:
	case INTENT_FT_IFNAME:
	case INTENT_FT_TIME:
		ib_str(b, intent_field_str(base, f));
		break;
	case INTENT_FT_ADDR:
	case INTENT_FT_PREFIX:
	case INTENT_FT_IFADDR:
		intent_field_text(base, f, s, sizeof(s));
		ib_str(b, s);
		break;
	case INTENT_FT_STRV:
		ib_strv(b, *(char *const *const *)((const char *)base + f->off),
			intent_field_count(base, f));
		break;
	case INTENT_FT_OBJECT:
		ib_object(b, f->fields, f->nfields, (const char *)base + f->off);
		break;
	case INTENT_FT_ARRAY:
		ib_array(b, f, base);
		break;
	}
}

/* The members in table order, as jansson keeps them. Keys are the table's own
 * identifiers, with nothing to escape. */
static void ib_object(struct intent_buf *b, const struct intent_field *fields, size_t n,
		      const void *base)
{
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (!intent_field_present(base, &fields[i]))
			continue;
		ib_raw(b, first ? "{\"" : ",\"", 2);
		ib_lit(b, fields[i].key);
		ib_raw(b, "\":", 2);
		ib_value(b, &fields[i], base);
		first = false;
	}
	ib_lit(b, first ? "{}" : "}");
}

int intent_dump(const struct intent *in, char **out, size_t *len)
{
	struct intent_buf b = { 0 };

	/* Room for the usual sizes at once: a hub's intent is most of a megabyte, and
	 * growing to it by doubling copies it twice over. */
	ib_grow(&b, 256 + in->n_tunnels * 640 + in->n_routes * 64 + in->n_spd * 192);
	ib_object(&b, intent_field_root, intent_field_nroot, in);
	if (b.err) {
		free(b.p);
		return b.err;
	}
	b.p[b.len] = '\0';
	*out = b.p;
	if (len)
		*len = b.len;
	return 0;
}
