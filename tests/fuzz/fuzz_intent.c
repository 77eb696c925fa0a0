/* libFuzzer target: intent_from_json + intent_validate + intent_to_json on arbitrary
 * JSON. Whatever decodes and validates must re-encode, and the re-encoding must decode
 * and validate again to the same bytes (the codec is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "intent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_intent_check_canonical(const struct intent *in)
{
	json_t *j = intent_to_json(in), *j2 = NULL;
	struct intent *again = NULL;
	char *a = NULL, *b = NULL;
	char err[256];

	if (!j)
		abort();
	a = json_dumps(j, JSON_COMPACT);
	if (!a || intent_from_json(j, &again, err, sizeof(err)) ||
	    intent_validate(again, err, sizeof(err)))
		abort();
	j2 = intent_to_json(again);
	b = j2 ? json_dumps(j2, JSON_COMPACT) : NULL;
	if (!b || strcmp(a, b))
		abort();
	free(a);
	free(b);
	json_decref(j);
	json_decref(j2);
	intent_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct intent *in = NULL;
	char err[256];

	if (!j)
		return 0;
	if (!intent_from_json(j, &in, err, sizeof(err)) &&
	    !intent_validate(in, err, sizeof(err)))
		fuzz_intent_check_canonical(in);
	intent_free(in);
	json_decref(j);
	return 0;
}
