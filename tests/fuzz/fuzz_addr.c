/* libFuzzer target for api/addr.c. Input: up to two lines of text. Beyond not crashing,
 * it checks what the module promises: whatever parses has canonical text that parses
 * back to the same value and formats to itself, and the set relations agree with each
 * other. A broken promise aborts, which libFuzzer reports as a crash. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define fuzz_check(cond) do { \
		if (!(cond)) { \
			fprintf(stderr, "fuzz_addr: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static void fuzz_addr_text(const char *s)
{
	char buf[ADDR_STRLEN], again[ADDR_STRLEN];
	struct addr a, b;

	if (addr_parse(s, &a))
		return;
	addr_fmt(&a, buf, sizeof(buf));
	fuzz_check(buf[0]);
	fuzz_check(addr_parse(buf, &b) == 0 && addr_cmp(&a, &b) == 0);
	addr_fmt(&b, again, sizeof(again));
	fuzz_check(!strcmp(buf, again));
}

/* 1: parsed (canonical or with host bits), 0: not a prefix. */
static int fuzz_prefix_text(const char *s, struct addr_prefix *p)
{
	char buf[ADDR_PREFIX_STRLEN], again[ADDR_PREFIX_STRLEN];
	struct addr_prefix q;
	int r = addr_prefix_parse(s, p);

	if (r && r != -EDOM)
		return 0;
	fuzz_check(r == 0 || r == -EDOM);
	addr_prefix_fmt(p, buf, sizeof(buf));
	/* -EDOM hands back the masked network, which is canonical */
	fuzz_check(addr_prefix_parse(buf, &q) == 0 && addr_prefix_cmp(p, &q) == 0);
	addr_prefix_fmt(&q, again, sizeof(again));
	fuzz_check(!strcmp(buf, again));
	fuzz_check(addr_prefix_contains(p, &p->addr));
	return 1;
}

static void fuzz_relations(const struct addr_prefix *p, const struct addr_prefix *q,
			   uint64_t n)
{
	struct addr_prefix blk;
	struct addr a;
	int c1 = addr_prefix_cmp(p, q), c2 = addr_prefix_cmp(q, p);

	fuzz_check((c1 > 0) - (c1 < 0) == -((c2 > 0) - (c2 < 0)));
	fuzz_check(addr_prefix_overlap(p, q) == addr_prefix_overlap(q, p));
	/* prefixes overlap exactly when the shorter contains the longer's network */
	if (p->len <= q->len)
		fuzz_check(addr_prefix_overlap(p, q) == addr_prefix_contains(p, &q->addr));
	if (addr_prefix_nth(p, q->len, n, &blk) == 0) {
		fuzz_check(blk.len == q->len && addr_prefix_contains(p, &blk.addr));
		fuzz_check(addr_offset(&blk, 0, &a) == 0 && addr_cmp(&a, &blk.addr) == 0);
	}
	if (addr_offset(p, n, &a) == 0)
		fuzz_check(addr_prefix_contains(p, &a));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct addr_prefix p, q;
	char *s = malloc(size + 1), *nl;
	uint64_t n = 0;
	size_t i;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	for (i = 0; i < size && i < 8; i++)
		n = n << 8 | data[i];
	nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	fuzz_addr_text(s);
	if (fuzz_prefix_text(s, &p)) {
		if (nl && fuzz_prefix_text(nl + 1, &q))
			fuzz_relations(&p, &q, n);
		fuzz_relations(&p, &p, n);
	}
	if (nl)
		fuzz_addr_text(nl + 1);
	free(s);
	return 0;
}
