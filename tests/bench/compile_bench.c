/* Intent compilation benchmark on a controller database: the time to compile every
 * site's intent to its JSON text, and the hub's alone. Run on a copy of a database the
 * controller wrote (bench topology imported through the API).
 *
 *   compile_bench DB HUB_SITE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "log.h"
#include "store.h"

static double cb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Compiles site i to JSON text; returns its length. */
static size_t cb_one(struct compile_ctx *c, size_t i)
{
	struct verr *errs = verr_new();
	struct intent *in = NULL;
	char *text = NULL;
	size_t len = 0;

	if (compile_site(c, i, 1, &in, errs) == 0 && intent_dump(in, &text, &len) == 0)
		free(text);
	intent_free(in);
	verr_free(errs);
	return len;
}

int main(int argc, char **argv)
{
	struct compile_ctx *c = NULL;
	struct store *s = NULL;
	double t0, t_ctx, t_all, best = 1e9;
	size_t bytes = 0, hub = (size_t)-1;

	if (argc != 3) {
		fprintf(stderr, "usage: compile_bench DB HUB_SITE\n");
		return 2;
	}
	log_init("compile_bench", LOG_LVL_WARN);
	if (store_open(argv[1], &s) < 0)
		return 1;
	t0 = cb_now();
	if (compile_ctx_new(s, &c) < 0)
		return 1;
	t_ctx = cb_now() - t0;
	for (size_t i = 0; i < compile_ctx_nsites(c); i++) {
		bytes += cb_one(c, i);
		if (strcmp(compile_ctx_site(c, i), argv[2]) == 0)
			hub = i;
	}
	t_all = cb_now() - t0;
	if (hub == (size_t)-1)
		return 1;
	for (int k = 0; k < 5; k++) {
		double t = cb_now();

		cb_one(c, hub);
		t = cb_now() - t;
		best = t < best ? t : best;
	}
	printf("sites %zu\nload_s %.3f\nall_intents_s %.3f\nall_intents_mb %.1f\nhub_intent_ms %.1f\nhub_bytes %zu\n",
	       compile_ctx_nsites(c), t_ctx, t_all, bytes / 1e6, best * 1e3, cb_one(c, hub));
	compile_ctx_free(c);
	store_free(s);
	return 0;
}
