/* Human output: aligned tables, key/value listings of one object, JSON values as cell
 * text. Every string that came from the server goes through table_put_safe(), so a
 * description holding escape sequences cannot drive the operator's terminal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define TABLE_GAP 2

struct table {
	size_t ncols;
	size_t nrows;		/* header included when there is one */
	size_t cap;
	char **cells;		/* nrows * ncols, row-major */
	size_t *width;
};

struct table *table_new(size_t ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->width = calloc(ncols, sizeof(*t->width));
	if (!t->width || (headers && table_add(t, headers) < 0)) {
		table_free(t);
		return NULL;
	}
	return t;
}

void table_free(struct table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t table_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static int table_grow(struct table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 16;
	char **p;

	if (t->nrows < t->cap)
		return 0;
	p = reallocarray(t->cells, cap * t->ncols, sizeof(*p));
	if (!p)
		return -ENOMEM;
	t->cells = p;
	t->cap = cap;
	return 0;
}

int table_add(struct table *t, const char *const *cells)
{
	char **row;
	size_t i;
	int rc;

	rc = table_grow(t);
	if (rc < 0)
		return rc;
	row = t->cells + t->nrows * t->ncols;
	for (i = 0; i < t->ncols; i++) {
		row[i] = strdup(cells[i] ? cells[i] : "-");
		if (!row[i]) {
			while (i-- > 0)
				free(row[i]);
			return -ENOMEM;
		}
	}
	for (i = 0; i < t->ncols; i++) {
		size_t w = table_width(row[i]);

		if (w > t->width[i])
			t->width[i] = w;
	}
	t->nrows++;
	return 0;
}

int table_add_json(struct table *t, json_t *const *values)
{
	char **cells = calloc(t->ncols, sizeof(*cells));
	size_t i;
	int rc = -ENOMEM;

	if (!cells)
		return -ENOMEM;
	for (i = 0; i < t->ncols; i++) {
		cells[i] = table_cell(values[i], ",");
		if (!cells[i])
			goto out;
	}
	rc = table_add(t, (const char *const *)cells);
out:
	for (i = 0; i < t->ncols; i++)
		free(cells[i]);
	free(cells);
	return rc;
}

void table_print(const struct table *t, FILE *f)
{
	size_t r, c;

	for (r = 0; r < t->nrows; r++) {
		const char *const *row = (const char *const *)t->cells + r * t->ncols;

		for (c = 0; c < t->ncols; c++) {
			table_put_safe(row[c], f);
			/* The last column is not padded: no trailing blanks. */
			if (c + 1 < t->ncols)
				fprintf(f, "%*s", (int)(t->width[c] - table_width(row[c]) + TABLE_GAP),
					"");
		}
		fputc('\n', f);
	}
}

void table_put_safe(const char *s, FILE *f)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
	}
}

/* Appends text to a growing string; *s stays valid (and owned) on failure. */
static int table_append(char **s, size_t *len, const char *text)
{
	size_t n = strlen(text);
	char *p = realloc(*s, *len + n + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p + *len, text, n + 1);
	*s = p;
	*len += n;
	return 0;
}

static char *table_scalar(const json_t *v)
{
	char *s = NULL;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(*json_string_value(v) ? json_string_value(v) : "-");
	case JSON_TRUE:
		return strdup("yes");
	case JSON_FALSE:
		return strdup("no");
	case JSON_INTEGER:
		if (asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
			return NULL;
		return s;
	case JSON_REAL:
		if (asprintf(&s, "%g", json_real_value(v)) < 0)
			return NULL;
		return s;
	case JSON_NULL:
		return strdup("-");
	default:
		/* Nested containers: compact JSON keeps them on one line. */
		return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	}
}

/* One element of a list cell: arrays' elements as scalars, objects' members as k=v. */
static int table_append_item(char **s, size_t *len, const char *key, const json_t *v)
{
	char *text = table_scalar(v);
	int rc = -ENOMEM;

	if (!text)
		return -ENOMEM;
	if (key && (table_append(s, len, key) < 0 || table_append(s, len, "=") < 0))
		goto out;
	rc = table_append(s, len, text);
out:
	free(text);
	return rc;
}

char *table_cell(const json_t *v, const char *sep)
{
	char *s = strdup("");
	const char *key;
	size_t len = 0, i, n = 0;
	json_t *e;
	int rc = 0;

	if (!s || !v || (!json_is_array(v) && !json_is_object(v))) {
		free(s);
		return v ? table_scalar(v) : strdup("-");
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (rc == 0 && n++)
				rc = table_append(&s, &len, sep);
			if (rc == 0)
				rc = table_append_item(&s, &len, NULL, e);
		}
	} else {
		json_object_foreach((json_t *)v, key, e) {
			if (rc == 0 && n++)
				rc = table_append(&s, &len, sep);
			if (rc == 0)
				rc = table_append_item(&s, &len, key, e);
		}
	}
	if (rc == 0 && n == 0)
		rc = table_append(&s, &len, "-");
	if (rc < 0) {
		free(s);
		return NULL;
	}
	return s;
}

static bool table_skipped(const char *key, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (!strcmp(key, *skip))
			return true;
	return false;
}

int table_print_object(const json_t *obj, const char *const *skip, FILE *f)
{
	struct table *t = table_new(2, NULL);
	const char *key;
	json_t *v;
	int rc = -ENOMEM;

	if (!t)
		return -ENOMEM;
	json_object_foreach((json_t *)obj, key, v) {
		char *cell;
		const char *row[2];

		if (table_skipped(key, skip))
			continue;
		cell = table_cell(v, ", ");
		rc = -ENOMEM;
		if (!cell)
			goto out;
		row[0] = key;
		row[1] = cell;
		rc = table_add(t, row);
		free(cell);
		if (rc < 0)
			goto out;
	}
	table_print(t, f);
	rc = 0;
out:
	table_free(t);
	return rc;
}

int table_print_json(const json_t *v, FILE *f)
{
	if (json_dumpf(v, f, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0)
		return -EIO;
	fputc('\n', f);
	return 0;
}

int table_print_items(json_t *items, FILE *f)
{
	json_t *page = json_pack("{s:O,s:n}", "items", items, "next");
	int rc;

	if (!page)
		return -ENOMEM;
	rc = table_print_json(page, f);
	json_decref(page);
	return rc;
}

int table_print_list(json_t *items, size_t ncols, const char *const *headers,
		     const char *const *fields, bool as_json, FILE *f)
{
	struct table *t;
	json_t *item, *vals[TABLE_MAX_COLS];
	size_t i;
	int rc = -ENOMEM;

	if (as_json)
		return table_print_items(items, f);
	if (ncols > TABLE_MAX_COLS)
		return -EINVAL;
	t = table_new(ncols, headers);
	if (!t)
		return -ENOMEM;
	json_array_foreach(items, i, item) {
		for (size_t c = 0; c < ncols; c++)
			vals[c] = json_object_get(item, fields[c]);
		if (table_add_json(t, vals) < 0)
			goto out;
	}
	table_print(t, f);
	rc = 0;
out:
	table_free(t);
	return rc;
}
