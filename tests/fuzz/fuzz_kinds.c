/* libFuzzer target for the kinds: arbitrary bytes as JSON into every kind's normalize,
 * and arrays of sites through kind_site_check_all. Beyond not crashing or leaking, it
 * checks the contract: success means no errors and a canonical body that normalize
 * maps to itself byte for byte; failure means errors and no body. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond) do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_kinds: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static int fuzz_ref(void *ctx, const char *to_kind, const char *to_name, const char *field)
{
	fuzz_check(kind_by_name(to_kind) && to_name && field && *field);
	(*(int *)ctx)++;
	return 0;
}

static const char *fuzz_site_path(void *ctx, const char *site)
{
	static char buf[80];

	(void)ctx;
	if (site[0] == 'a')
		return NULL;	/* as if not being written */
	snprintf(buf, sizeof(buf), "sites[%.60s]", site);
	return buf;
}

/* normalize in as kind k; a new canonical body, or NULL. */
static json_t *fuzz_normalize(const struct kind_ops *k, const json_t *in)
{
	struct verr *errs = verr_new();
	json_t *out = NULL, *again = NULL, *details;
	char *d1, *d2;
	int r, refs = 0;

	if (!errs)
		return NULL;
	r = k->normalize(in, "x[1]", errs, &out);
	if (r) {
		fuzz_check(r < 0 && !out && (r == -ENOMEM || verr_count(errs) > 0));
		details = verr_json(errs);
		json_decref(details);
		verr_free(errs);
		return NULL;
	}
	fuzz_check(out && verr_count(errs) == 0);
	fuzz_check(k->normalize(out, "", errs, &again) == 0);
	d1 = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
	d2 = json_dumps(again, JSON_SORT_KEYS | JSON_COMPACT);
	fuzz_check(d1 && d2 && !strcmp(d1, d2));
	if (k->refs)
		fuzz_check(k->refs(out, fuzz_ref, &refs) == 0);
	free(d1);
	free(d2);
	json_decref(again);
	verr_free(errs);
	return out;
}

static void fuzz_check_all(const json_t *sites)
{
	struct verr *errs = verr_new();
	int r;

	if (!errs)
		return;
	r = kind_site_check_all(sites, errs, fuzz_site_path, NULL);
	fuzz_check(r == 0 || r == -EINVAL || r == -ENOMEM);
	fuzz_check((r == -EINVAL) == (verr_count(errs) > 0) || r == -ENOMEM);
	verr_free(errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	json_t *out, *v, *sites;
	size_t i;

	if (!in)
		return 0;
	for (i = 0; i < kind_count; i++)
		json_decref(fuzz_normalize(kind_all[i], in));
	if (json_is_array(in)) {
		/* raw, possibly malformed bodies must be survived too */
		fuzz_check_all(in);
		sites = json_array();
		json_array_foreach(in, i, v) {
			out = fuzz_normalize(&kind_site, v);
			if (out && sites)
				json_array_append_new(sites, out);
			else
				json_decref(out);
		}
		if (sites)
			fuzz_check_all(sites);
		json_decref(sites);
	}
	json_decref(in);
	return 0;
}
