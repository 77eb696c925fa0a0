/* Tunnels' pre-shared keys as compile contexts hold them: in blocks of text shared,
 * by reference count, between a context and the ones derived from it (compile_delta.c),
 * wiped when the last one lets go. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "compile_ctx.h"

struct compile_keys *compile_keys_new(void)
{
	struct compile_keys *k = calloc(1, sizeof(*k));

	if (k)
		k->refs = 1;
	return k;
}

void compile_keys_unref(struct compile_keys *k)
{
	if (!k || --k->refs > 0)
		return;
	if (k->text)
		memset(k->text, 0, k->len);
	free(k->text);
	free(k);
}

/* Appends a key; its offset goes to *off (the block may move until it is complete). */
int compile_keys_add(struct compile_keys *k, const char *psk, size_t *off)
{
	size_t n = strlen(psk) + 1;

	if (k->len + n > k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64 * 1024;
		char *t;

		while (cap < k->len + n)
			cap *= 2;
		t = malloc(cap);
		if (!t)
			return -ENOMEM;
		/* Copied by hand, so that no secret is left behind in a freed buffer. */
		if (k->text) {
			memcpy(t, k->text, k->len);
			memset(k->text, 0, k->len);
			free(k->text);
		}
		k->text = t;
		k->cap = cap;
	}
	memcpy(k->text + k->len, psk, n);
	*off = k->len;
	k->len += n;
	return 0;
}

/* Takes k into c, the keys of tuns[0..n) (offsets into k until now) pointing into it. */
int compile_keys_attach(struct compile_ctx *c, struct compile_keys *k, struct compile_tun *tuns,
			size_t n)
{
	struct compile_keys **v = realloc(c->keys, (c->nkeys + 1) * sizeof(*v));

	if (!v) {
		compile_keys_unref(k);
		return -ENOMEM;
	}
	c->keys = v;
	c->keys[c->nkeys++] = k;
	for (size_t i = 0; i < n; i++)
		tuns[i].psk = k->text + (size_t)(uintptr_t)tuns[i].psk;
	return 0;
}
