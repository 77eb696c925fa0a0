/* libFuzzer target for the CSV reader. Besides not crashing, every input that parses
 * must round-trip: writing the records back with every field quoted and reading that
 * gives the same records, and line numbers never go backwards. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

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
	return 0;
}
