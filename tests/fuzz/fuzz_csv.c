/* libFuzzer target for the CSV reader and the CSV import's conversion of rows into
 * sites. Besides not crashing, every input that parses must round-trip: writing the
 * records back with every field quoted and reading that gives the same records, and
 * line numbers never go backwards. The conversion (import_csv_sites, then each site
 * through kind_site's normalize and the cross-site rules, as an import does) must
 * answer every input with items or errors, never an allocation failure (the API's
 * 500), and every error message must be valid UTF-8 (one that is not is lost). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "import.h"
#include "kind.h"

#define fuzz_check(cond) do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_csv: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_csv_out {
	char *buf;
	size_t len, cap;
};

static void fuzz_csv_put(struct fuzz_csv_out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->buf = realloc(o->buf, o->cap);
		if (!o->buf)
			abort();
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* Every record of c, re-encoded with all fields quoted; -1 on a syntax error. */
static int fuzz_csv_encode(struct csv *c, struct fuzz_csv_out *o, size_t *nrec)
{
	unsigned long last = 0;
	int rc;

	*nrec = 0;
	while ((rc = csv_next(c)) == 1) {
		size_t i, n = csv_nfields(c);

		if (n == 0 || csv_line(c) <= last)
			abort();
		last = csv_line(c);
		for (i = 0; i < n; i++) {
			const char *f = csv_field(c, i);

			fuzz_csv_put(o, i ? ",\"" : "\"", i ? 2 : 1);
			for (; *f; f++)
				fuzz_csv_put(o, *f == '"' ? "\"\"" : f, *f == '"' ? 2 : 1);
			fuzz_csv_put(o, "\"", 1);
		}
		if (csv_field(c, n))
			abort();
		fuzz_csv_put(o, "\r\n", 2);
		(*nrec)++;
	}
	if (rc < 0 && (csv_error(c)[0] == '\0' || csv_error_line(c) == 0))
		abort();
	return rc < 0 ? -1 : 0;
}

/* No error was lost: verr_json lists one more entry than verr_count then. */
static void fuzz_csv_errs_whole(const struct verr *errs)
{
	json_t *list = verr_json(errs);

	fuzz_check(list && json_array_size(list) == verr_count(errs));
	json_decref(list);
}

static void fuzz_csv_sites(const uint8_t *data, size_t size)
{
	struct verr *errs = verr_new();
	json_t *items = json_array(), *paths = json_array(), *bodies = json_array(), *it;
	size_t i;

	fuzz_check(errs && items && paths && bodies);
	fuzz_check(import_csv_sites((const char *)data, size, errs, items, paths) == 0);
	fuzz_check(json_array_size(items) == json_array_size(paths));
	json_array_foreach(items, i, it) {
		const char *path = json_string_value(json_array_get(paths, i));
		size_t before = verr_count(errs);
		json_t *body = NULL;
		int rc;

		fuzz_check(json_is_object(it) && path && strncmp(path, "line ", 5) == 0);
		rc = kind_site.normalize(it, path, errs, &body);
		fuzz_check(rc == 0 ? body && verr_count(errs) == before
				   : rc == -EINVAL && !body && verr_count(errs) > before);
		if (body)
			json_array_append_new(bodies, body);
	}
	if (verr_count(errs) == 0)
		fuzz_check(kind_site_check_all(bodies, errs, NULL, NULL) >= 0);
	fuzz_csv_errs_whole(errs);
	json_decref(items);
	json_decref(paths);
	json_decref(bodies);
	verr_free(errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_csv_out a = { 0 }, b = { 0 };
	struct csv *c = csv_new((const char *)data, size);
	size_t na, nb;

	if (!c)
		return 0;
	if (fuzz_csv_encode(c, &a, &na) == 0) {
		struct csv *c2 = csv_new(a.buf, a.len);

		if (!c2 || fuzz_csv_encode(c2, &b, &nb) != 0 || na != nb || a.len != b.len ||
		    (a.len && memcmp(a.buf, b.buf, a.len)))
			abort();
		csv_free(c2);
	}
	csv_free(c);
	free(a.buf);
	free(b.buf);
	fuzz_csv_sites(data, size);
	return 0;
}
