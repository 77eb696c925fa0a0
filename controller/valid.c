/* Validation helpers: DNS-label names and the table-driven reader every kind's
 * normalize() is built on (proposal strings: valid_prop.c). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr.h"
#include "valid.h"

bool valid_name(const char *s)
{
	size_t n;

	if (!s)
		return false;
	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (n >= 63)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return n > 0 && s[0] != '-' && s[n - 1] != '-';
}

/* ---- the object reader ---- */

#define VALID_PATH 512
#define VALID_MAX_PROPOSALS 32
#define VALID_MAX_TAGS 64
#define VALID_TAG_VALUE_MAX 255

/* A string without embedded NUL (which C would silently cut at). */
static int valid_str(const json_t *v, const char *path, struct verr *errs, const char **out)
{
	if (!json_is_string(v)) {
		verr_add(errs, path, "must be a string");
		return -EINVAL;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		verr_add(errs, path, "must not contain NUL characters");
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

/* Characters, not bytes: jansson strings are valid UTF-8. */
static size_t valid_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int valid_new(json_t *v, json_t **out)
{
	*out = v;
	return v ? 0 : -ENOMEM;
}

static int valid_rd_string(const struct valid_field *f, const json_t *v, const char *path,
			   struct verr *errs, json_t **out)
{
	const char *s;

	if (valid_str(v, path, errs, &s))
		return -EINVAL;
	if (f->max && valid_utf8_len(s) > (size_t)f->max) {
		verr_add(errs, path, "must be at most %lld characters", f->max);
		return -EINVAL;
	}
	return valid_new(json_string(s), out);
}

static int valid_rd_name(const json_t *v, const char *path, struct verr *errs, json_t **out)
{
	const char *s;

	if (valid_str(v, path, errs, &s))
		return -EINVAL;
	if (!valid_name(s)) {
		verr_add(errs, path, VALID_NAME_MSG);
		return -EINVAL;
	}
	return valid_new(json_string(s), out);
}

static int valid_rd_int(const struct valid_field *f, const json_t *v, const char *path,
			struct verr *errs, json_t **out)
{
	json_int_t i = json_integer_value(v);

	if (!json_is_integer(v) || i < f->min || i > f->max) {
		if (f->max == f->min)
			verr_add(errs, path, "must be %lld", f->min);
		else if (f->max - f->min == 1)
			verr_add(errs, path, "must be %lld or %lld", f->min, f->max);
		else
			verr_add(errs, path, "must be an integer from %lld to %lld", f->min, f->max);
		return -EINVAL;
	}
	return valid_new(json_integer(i), out);
}

static int valid_rd_enum(const struct valid_field *f, const json_t *v, const char *path,
			 struct verr *errs, json_t **out)
{
	const char *s = json_string_value(v);
	char list[256] = "";
	size_t i, n = 0;

	if (s && strlen(s) == json_string_length(v))
		for (i = 0; f->choices[i]; i++)
			if (!strcmp(s, f->choices[i]))
				return valid_new(json_string(s), out);
	for (i = 0; f->choices[i] && n < sizeof(list); i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
				      f->choices[i]);
	verr_add(errs, path, "must be one of: %s", list);
	return -EINVAL;
}

static bool valid_addr_unicast(const struct addr *a)
{
	static const uint8_t zero[16];
	const uint8_t *b = a->bytes;

	if (a->family == AF_INET)
		return memcmp(b, zero, 4) && (b[0] & 0xf0) != 0xe0 &&
			memcmp(b, "\xff\xff\xff\xff", 4);
	return memcmp(b, zero, 16) && b[0] != 0xff;
}

static int valid_rd_addr(const json_t *v, const char *path, struct verr *errs, json_t **out)
{
	char buf[ADDR_STRLEN];
	const char *s;
	struct addr a;

	if (valid_str(v, path, errs, &s))
		return -EINVAL;
	if (addr_parse(s, &a)) {
		verr_add(errs, path, "not an IPv4 or IPv6 address");
		return -EINVAL;
	}
	if (a.family == AF_INET6 && !memcmp(a.bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		verr_add(errs, path, "IPv4-mapped address: write it as %u.%u.%u.%u",
			 a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]);
		return -EINVAL;
	}
	if (!valid_addr_unicast(&a)) {
		verr_add(errs, path, "must be a unicast address");
		return -EINVAL;
	}
	addr_fmt(&a, buf, sizeof(buf));
	return valid_new(json_string(buf), out);
}

/* One list element, remembered with its input position for messages. */
struct valid_elem {
	struct addr_prefix p;
	const char *s;
	size_t idx;
};

static int valid_elem_cmp_prefix(const void *a, const void *b)
{
	const struct valid_elem *x = a, *y = b;
	int r = addr_prefix_cmp(&x->p, &y->p);

	return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

static int valid_elem_cmp_name(const void *a, const void *b)
{
	const struct valid_elem *x = a, *y = b;
	int r = strcmp(x->s, y->s);

	return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Reads one element of a prefix or name list into e; -EINVAL after reporting. */
static int valid_elem_read(enum valid_type t, const json_t *v, const char *epath,
			   struct verr *errs, struct valid_elem *e)
{
	char buf[ADDR_PREFIX_STRLEN];
	int r;

	if (valid_str(v, epath, errs, &e->s))
		return -EINVAL;
	if (t == VALID_NAMES) {
		if (valid_name(e->s))
			return 0;
		verr_add(errs, epath, VALID_NAME_MSG);
		return -EINVAL;
	}
	r = addr_prefix_parse(e->s, &e->p);
	if (r == -EDOM) {
		addr_prefix_fmt(&e->p, buf, sizeof(buf));
		verr_add(errs, epath, "host bits set: did you mean %s?", buf);
	} else if (r) {
		verr_add(errs, epath, "not a CIDR prefix (address/length)");
	}
	return r ? -EINVAL : 0;
}

/* Sorted elements into a JSON array, reporting every repeat against its first use.
 * -EINVAL when there was one. */
static int valid_elems_emit(enum valid_type t, struct valid_elem *el, size_t n,
			    const char *path, struct verr *errs, json_t **out)
{
	const char *leaf = strrchr(path, '.') ? strrchr(path, '.') + 1 : path;
	char epath[VALID_PATH], buf[ADDR_PREFIX_STRLEN];
	bool pfx = t == VALID_PREFIXES;
	json_t *arr = json_array();
	size_t i, first = 0;
	int r = arr ? 0 : -ENOMEM;

	for (i = 0; i < n && r != -ENOMEM; i++) {
		if (pfx)
			addr_prefix_fmt(&el[i].p, buf, sizeof(buf));
		if (i && (pfx ? !addr_prefix_cmp(&el[i].p, &el[first].p) :
			  !strcmp(el[i].s, el[first].s))) {
			verr_path_idx(epath, sizeof(epath), path, el[i].idx);
			verr_add(errs, epath, "duplicate %s %s (also %s[%zu])", pfx ? "prefix" : "name",
				 pfx ? buf : el[i].s, leaf, el[first].idx);
			r = -EINVAL;
			continue;
		}
		first = i;
		if (json_array_append_new(arr, json_string(pfx ? buf : el[i].s)))
			r = -ENOMEM;
	}
	if (r) {
		json_decref(arr);
		return r;
	}
	return valid_new(arr, out);
}

static int valid_rd_list(enum valid_type t, const json_t *v, const char *path,
			 struct verr *errs, json_t **out)
{
	char epath[VALID_PATH];
	struct valid_elem *el = NULL;
	size_t i, n = 0;
	bool bad = false;
	int r;

	if (!json_is_array(v)) {
		verr_add(errs, path, "must be an array");
		return -EINVAL;
	}
	if (json_array_size(v)) {
		el = calloc(json_array_size(v), sizeof(*el));
		if (!el)
			return -ENOMEM;
	}
	for (i = 0; i < json_array_size(v); i++) {
		verr_path_idx(epath, sizeof(epath), path, i);
		el[n].idx = i;
		if (valid_elem_read(t, json_array_get(v, i), epath, errs, &el[n]))
			bad = true;
		else
			n++;
	}
	if (n)
		qsort(el, n, sizeof(*el), t == VALID_PREFIXES ? valid_elem_cmp_prefix :
		      valid_elem_cmp_name);
	r = valid_elems_emit(t, el, n, path, errs, out);
	free(el);
	if (!r && bad) {
		json_decref(*out);
		*out = NULL;
		r = -EINVAL;
	}
	return r;
}

static bool valid_tag_key(const char *k)
{
	size_t n;

	for (n = 0; k[n]; n++)
		if (n >= 63 || !(strchr("._/:-", k[n]) || (k[n] >= 'a' && k[n] <= 'z') ||
				 (k[n] >= 'A' && k[n] <= 'Z') || (k[n] >= '0' && k[n] <= '9')))
			return false;
	return n > 0;
}

static int valid_tag_value(const json_t *v, const char *vpath, struct verr *errs)
{
	const char *s, *c;

	if (valid_str(v, vpath, errs, &s))
		return -EINVAL;
	if (valid_utf8_len(s) > VALID_TAG_VALUE_MAX) {
		verr_add(errs, vpath, "must be at most %d characters", VALID_TAG_VALUE_MAX);
		return -EINVAL;
	}
	for (c = s; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			verr_add(errs, vpath, "must not contain control characters");
			return -EINVAL;
		}
	}
	return 0;
}

static int valid_rd_tags(const json_t *v, const char *path, struct verr *errs, json_t **out)
{
	char vpath[VALID_PATH];
	const char *k;
	json_t *tags, *val;
	int r = 0;

	if (!json_is_object(v)) {
		verr_add(errs, path, "must be an object of strings");
		return -EINVAL;
	}
	if (json_object_size(v) > VALID_MAX_TAGS) {
		verr_add(errs, path, "at most %d tags", VALID_MAX_TAGS);
		return -EINVAL;
	}
	tags = json_object();
	if (!tags)
		return -ENOMEM;
	/* jansson's iterator takes a non-const object; nothing here modifies it. */
	json_object_foreach((json_t *)v, k, val) {
		if (!valid_tag_key(k)) {
			verr_add(errs, path, "key '%.64s' must be 1\u201363 characters of a-z, A-Z, "
				 "0-9, '.', '_', '/', ':' and '-'", k);
			r = -EINVAL;
			continue;
		}
		if (valid_tag_value(val, verr_path_key(vpath, sizeof(vpath), path, k), errs))
			r = -EINVAL;
		else if (!r && json_object_set_new(tags, k, json_string(json_string_value(val))))
			r = -ENOMEM;
		if (r == -ENOMEM)
			break;
	}
	if (r) {
		json_decref(tags);
		return r;
	}
	return valid_new(tags, out);
}

static int valid_rd_proposals(const struct valid_field *f, const json_t *v, const char *path,
			      struct verr *errs, json_t **out)
{
	char epath[VALID_PATH], why[160];
	size_t i, j, n = json_array_size(v);
	const char *s;
	int r = 0;

	if (!json_is_array(v)) {
		verr_add(errs, path, "must be an array of proposal strings");
		return -EINVAL;
	}
	if (!n || n > VALID_MAX_PROPOSALS) {
		verr_add(errs, path, "must list 1 to %d proposals", VALID_MAX_PROPOSALS);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		verr_path_idx(epath, sizeof(epath), path, i);
		if (valid_str(json_array_get(v, i), epath, errs, &s)) {
			r = -EINVAL;
		} else if (valid_proposal(s, f->proposal, why, sizeof(why)) ||
			   proposal_policy(s, (enum proposal_kind)f->proposal, why, sizeof(why))) {
			/* charon would take a weak proposal; every agent would refuse it */
			verr_add(errs, epath, "%s", why);
			r = -EINVAL;
		} else {
			for (j = 0; j < i; j++)
				if (json_equal(json_array_get(v, j), json_array_get(v, i)))
					break;
			if (j < i) {
				verr_add(errs, epath, "duplicate proposal (also [%zu])", j);
				r = -EINVAL;
			}
		}
	}
	/* strings only, all checked: a deep copy is the canonical list */
	return r ? r : valid_new(json_deep_copy(v), out);
}

static int valid_default(const struct valid_field *f, json_t **out)
{
	json_t *arr;
	size_t i;

	switch (f->type) {
	case VALID_BOOL:
		return valid_new(json_boolean(f->def), out);
	case VALID_INT:
		return valid_new(json_integer(f->def), out);
	case VALID_PREFIXES:
	case VALID_NAMES:
		return valid_new(json_array(), out);
	case VALID_TAGS:
		return valid_new(json_object(), out);
	case VALID_PROPOSALS:
		arr = json_array();
		for (i = 0; arr && f->choices && f->choices[i]; i++)
			if (json_array_append_new(arr, json_string(f->choices[i]))) {
				json_decref(arr);
				arr = NULL;
			}
		return valid_new(arr, out);
	default:
		return valid_new(json_string(f->def_str ? f->def_str : ""), out);
	}
}

/* A nested object: the whole of it or an error. A partial body (valid_object keeps the
 * valid sub-fields) is no use to a caller checking rules across the outer fields. */
static int valid_rd_object(const struct valid_field *f, const json_t *v, const char *path,
			   struct verr *errs, json_t **out)
{
	json_t *empty = v ? NULL : json_object(), *body = NULL;
	int r;

	if (!v && !empty)
		return -ENOMEM;
	r = valid_object(v ? v : empty, path, f->fields, f->nfields, errs, &body);
	json_decref(empty);
	if (r) {
		json_decref(body);
		return r;
	}
	*out = body;
	return 0;
}

static int valid_field_read(const struct valid_field *f, const json_t *v, const char *path,
			    struct verr *errs, json_t **out)
{
	*out = NULL;
	if (f->nullable && (!v || json_is_null(v)))
		return valid_new(json_null(), out);
	if (!v) {
		/* An absent object is an empty one: its sub-fields bring their defaults. */
		if (f->type == VALID_OBJECT && !f->required)
			return valid_rd_object(f, NULL, path, errs, out);
		if (!f->required)
			return valid_default(f, out);
		verr_add(errs, path, "required");
		return -EINVAL;
	}
	switch (f->type) {
	case VALID_STRING:
		return valid_rd_string(f, v, path, errs, out);
	case VALID_NAME:
		return valid_rd_name(v, path, errs, out);
	case VALID_BOOL:
		if (json_is_boolean(v))
			return valid_new(json_boolean(json_is_true(v)), out);
		verr_add(errs, path, "must be true or false");
		return -EINVAL;
	case VALID_INT:
		return valid_rd_int(f, v, path, errs, out);
	case VALID_ENUM:
		return valid_rd_enum(f, v, path, errs, out);
	case VALID_ADDR:
		return valid_rd_addr(v, path, errs, out);
	case VALID_PREFIXES:
	case VALID_NAMES:
		return valid_rd_list(f->type, v, path, errs, out);
	case VALID_TAGS:
		return valid_rd_tags(v, path, errs, out);
	case VALID_PROPOSALS:
		return valid_rd_proposals(f, v, path, errs, out);
	case VALID_OBJECT:
		return valid_rd_object(f, v, path, errs, out);
	}
	return -EINVAL;
}

/* Edit distance of two short strings, for "did you mean" on unknown fields. */
static size_t valid_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, row[65], prev, tmp;

	if (la > 64 || lb > 64)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j] > row[j - 1] + 1)
				row[j] = row[j - 1] + 1;
			if (row[j] > tmp + 1)
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[lb];
}

static void valid_unknown(const json_t *in, const char *path, const struct valid_field *fields,
			  size_t n, struct verr *errs)
{
	char fpath[VALID_PATH];
	const char *k, *best;
	size_t i, d, bestd;
	json_t *v;

	json_object_foreach((json_t *)in, k, v) {
		best = NULL;
		bestd = 3;
		for (i = 0; i < n; i++) {
			if (!strcmp(k, fields[i].key))
				break;
			d = valid_distance(k, fields[i].key);
			if (d < bestd) {
				bestd = d;
				best = fields[i].key;
			}
		}
		if (i < n)
			continue;
		verr_path_key(fpath, sizeof(fpath), path, k);
		if (best)
			verr_add(errs, fpath, "unknown field; did you mean '%s'?", best);
		else
			verr_add(errs, fpath, "unknown field");
	}
}

int valid_object(const json_t *in, const char *path, const struct valid_field *fields,
		 size_t n, struct verr *errs, json_t **out)
{
	char fpath[VALID_PATH];
	size_t before = verr_count(errs), i;
	json_t *body, *v;
	int r = 0;

	*out = NULL;
	if (!json_is_object(in)) {
		verr_add(errs, path, "must be an object");
		return -EINVAL;
	}
	body = json_object();
	if (!body)
		return -ENOMEM;
	for (i = 0; i < n && r != -ENOMEM; i++) {
		verr_path_key(fpath, sizeof(fpath), path, fields[i].key);
		r = valid_field_read(&fields[i], json_object_get(in, fields[i].key), fpath, errs, &v);
		if (!r && json_object_set_new(body, fields[i].key, v))
			r = -ENOMEM;
	}
	if (r == -ENOMEM) {
		json_decref(body);
		return r;
	}
	valid_unknown(in, path, fields, n, errs);
	*out = body;
	return verr_count(errs) > before ? -EINVAL : 0;
}

int valid_finish(int r, struct verr *errs, size_t errs_before, json_t *body, json_t **out)
{
	if (r >= 0 && verr_count(errs) == errs_before && body) {
		*out = body;
		return 0;
	}
	json_decref(body);
	return r < 0 ? r : -EINVAL;
}
