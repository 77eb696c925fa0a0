/* The CSV of sites into site items: a header row naming the columns (any order, any
 * case), then one site per line. Each cell is checked before it is converted: it must
 * be valid UTF-8 (JSON strings are, and an error message must never echo raw bytes),
 * then it becomes its field of the site, or an error at "line N.<column>". */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "csv.h"
#include "import.h"

enum import_csv_col { COL_NAME, COL_UNDERLAY, COL_NAT, COL_PREFIXES, COL_TAGS, COL_DESC, COL_MTU,
		  COL_NAT_ADDR, COL_COUNT };

static const char *const import_csv_col_names[COL_COUNT] = {
	"name", "underlay", "behind_nat", "prefixes", "tags", "description", "underlay_mtu",
	"nat_address",
};

struct import_csv_hdr {
	int col[64];		/* column index -> enum import_csv_col */
	size_t ncols;
};

/* Surrounding blanks come from hand-edited spreadsheets and mean nothing. */
static char *import_csv_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Strict UTF-8 as RFC 3629 and jansson have it: no overlong forms, no surrogates,
 * nothing above U+10FFFF. Returns the byte offset of the first bad sequence, or -1. */
long import_csv_utf8_bad(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i], n, cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return (long)i;
		}
		if (len - i <= n)
			return (long)i;
		for (unsigned k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return (long)i;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (long)i;
		i += n + 1;
	}
	return -1;
}

/* At most max bytes of valid UTF-8 src, for an error message: cut on a character
 * boundary (a cut character would make the message invalid UTF-8 in its turn). */
static char *import_csv_echo(char *buf, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		n = size - 4;	/* room for "..." */
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
		snprintf(buf, size, "%.*s...", (int)n, src);
	} else {
		memcpy(buf, src, n + 1);
	}
	return buf;
}

static void import_csv_header(struct csv *c, struct import_csv_hdr *h, struct verr *errs)
{
	bool seen[COL_COUNT] = { false };
	size_t i, n = csv_nfields(c);
	char buf[64];
	int k;

	if (n > sizeof(h->col) / sizeof(h->col[0])) {
		verr_add(errs, "line 1", "too many columns (%zu)", n);
		return;
	}
	h->ncols = n;
	for (i = 0; i < n; i++) {
		const char *f = csv_field(c, i), *name;

		h->col[i] = -1;
		if (import_csv_utf8_bad(f, strlen(f)) >= 0) {
			verr_add(errs, "line 1", "column %zu: name is not valid UTF-8", i + 1);
			continue;
		}
		name = import_csv_trim(import_csv_echo(buf, sizeof(buf), f));
		for (k = 0; k < COL_COUNT; k++)
			if (!strcasecmp(name, import_csv_col_names[k]))
				break;
		if (k == COL_COUNT) {
			verr_add(errs, "line 1", "unknown column \"%s\": expected name, underlay, "
				 "behind_nat, prefixes, tags, description, underlay_mtu, nat_address",
				 name);
		} else if (seen[k]) {
			verr_add(errs, "line 1", "column \"%s\" appears twice", name);
		} else {
			seen[k] = true;
			h->col[i] = k;
		}
	}
	if (!seen[COL_NAME])
		verr_add(errs, "line 1", "missing required column \"name\"");
	if (!seen[COL_UNDERLAY])
		verr_add(errs, "line 1", "missing required column \"underlay\"");
}

static int import_csv_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "1" }, *const no[] = { "false", "no", "0" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Whitespace-separated words of v (modified in place) as a JSON array of strings. */
static json_t *import_csv_words(char *v)
{
	json_t *arr = json_array();
	char *save = NULL, *w;

	for (w = strtok_r(v, " \t", &save); arr && w; w = strtok_r(NULL, " \t", &save))
		if (json_array_append_new(arr, json_string(w))) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

static json_t *import_csv_tags(char *v, const char *path, struct verr *errs)
{
	json_t *tags = json_object(), *words = import_csv_words(v), *w;
	size_t i;

	if (!tags || !words)
		goto fail;
	json_array_foreach(words, i, w) {
		const char *word = json_string_value(w), *eq = strchr(word, '=');
		char key[256], echo[128];

		if (!eq || eq == word || (size_t)(eq - word) >= sizeof(key)) {
			verr_add(errs, path, "\"%s\" is not key=value",
				 import_csv_echo(echo, sizeof(echo), word));
			continue;
		}
		memcpy(key, word, eq - word);
		key[eq - word] = '\0';
		if (json_object_get(tags, key)) {
			verr_add(errs, path, "tag \"%s\" given twice", key);
			continue;
		}
		if (json_object_set_new(tags, key, json_string(eq + 1)))
			goto fail;
	}
	json_decref(words);
	return tags;
fail:
	json_decref(words);
	json_decref(tags);
	return NULL;
}

/* One cell into site.<column>; a cell that does not convert is an error at
 * "line N.<column>" and is left out, so the rest of the row is still checked. */
static int import_csv_cell(json_t *site, enum import_csv_col col, char *v, const char *lpath,
			   struct verr *errs)
{
	const char *key = import_csv_col_names[col];
	json_t *val = NULL;
	char path[96], *end;
	bool b, bad = false;
	long n, bad_at;

	verr_path_key(path, sizeof(path), lpath, key);
	bad_at = import_csv_utf8_bad(v, strlen(v));
	if (bad_at >= 0) {
		verr_add(errs, path, "not valid UTF-8 (bad byte at offset %ld of the cell)", bad_at);
		return 0;
	}
	if (col != COL_DESC)
		v = import_csv_trim(v);
	if (!*v && col != COL_DESC)
		return 0;	/* empty: the default, or "required" from normalize */
	switch (col) {
	case COL_NAT:
		bad = import_csv_bool(v, &b) != 0;
		if (bad)
			verr_add(errs, path, "not a boolean (true/false/yes/no/1/0)");
		else
			val = json_boolean(b);
		break;
	case COL_PREFIXES:
		val = import_csv_words(v);
		break;
	case COL_TAGS:
		val = import_csv_tags(v, path, errs);
		break;
	case COL_MTU:
		errno = 0;
		n = strtol(v, &end, 10);
		bad = errno || *end || !isdigit((unsigned char)*v);
		if (bad)
			verr_add(errs, path, "not an integer");
		else
			val = json_integer(n);
		break;
	default:
		val = json_string(v);
		break;
	}
	if (bad)
		return 0;
	if (!val)
		return -ENOMEM;
	return json_object_set_new(site, key, val) ? -ENOMEM : 0;
}

static int import_csv_row(struct csv *c, const struct import_csv_hdr *h, struct verr *errs,
			  json_t *items, json_t *paths)
{
	json_t *site = NULL;
	char lpath[32];
	size_t i, n = csv_nfields(c);
	int rc = 0;

	snprintf(lpath, sizeof(lpath), "line %lu", csv_line(c));
	if (n == 1 && !*csv_field(c, 0))
		return 0;	/* a blank line */
	if (n != h->ncols) {
		verr_add(errs, lpath, "%zu fields where the header has %zu", n, h->ncols);
		return 0;
	}
	site = json_object();
	if (!site)
		return -ENOMEM;
	for (i = 0; i < n && !rc; i++) {
		char *v = strdup(csv_field(c, i));

		if (!v) {
			rc = -ENOMEM;
			break;
		}
		if (h->col[i] >= 0)
			rc = import_csv_cell(site, h->col[i], v, lpath, errs);
		free(v);
	}
	if (!rc && (json_array_append(items, site) ||
		    json_array_append_new(paths, json_string(lpath))))
		rc = -ENOMEM;
	json_decref(site);
	return rc;
}

/* A CSV syntax error ends the reading: what follows cannot be trusted to be rows. */
static int import_csv_rows(struct csv *c, struct verr *errs, json_t *items, json_t *paths)
{
	struct import_csv_hdr h = { .ncols = 0 };
	char lpath[32];
	int rc;

	rc = csv_next(c);
	if (rc == 0)
		verr_add(errs, "line 1", "empty CSV: a header row is required");
	if (rc <= 0)
		goto out;
	import_csv_header(c, &h, errs);
	if (verr_count(errs))
		return 0;	/* rows cannot be read against a header that is wrong */
	while ((rc = csv_next(c)) > 0) {
		rc = import_csv_row(c, &h, errs, items, paths);
		if (rc)
			return rc;
	}
out:
	if (rc == -EINVAL) {
		snprintf(lpath, sizeof(lpath), "line %lu", csv_error_line(c));
		verr_add(errs, lpath, "%s", csv_error(c));
		rc = 0;
	}
	return rc;
}


int import_csv_sites(const char *buf, size_t len, struct verr *errs, json_t *items,
		     json_t *paths)
{
	struct csv *c = csv_new(buf, len);
	int rc = c ? import_csv_rows(c, errs, items, paths) : -ENOMEM;

	csv_free(c);
	return rc;
}
