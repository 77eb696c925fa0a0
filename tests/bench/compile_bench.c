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
#include "revision.h"
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

static bool cb_want_all(void *ctx, const char *site)
{
	(void)ctx;
	(void)site;
	return true;
}

/* What the controller does when a change touches every site: compile, hash and write
 * every intent's JSON (as for waiting agents), on its worker threads. Measured inside a
 * transaction that is rolled back, with the stored hashes cleared so every site counts
 * as changed. */
static double cb_refresh_all(struct store *s)
{
	struct compile_ctx *c = NULL;
	struct verr *errs = verr_new();
	double t = -1;

	store_set_prefetch(s, cb_want_all, NULL);
	if (store_begin(s) == 0 && db_exec(store_db(s), "DELETE FROM intent") == 0) {
		t = cb_now();
		if (revision_refresh(s, errs, NULL, NULL, NULL, NULL, NULL, &c) == 0)
			t = cb_now() - t;
		else
			t = -1;
	}
	store_rollback(s);
	compile_ctx_free(c);
	verr_free(errs);
	return t;
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
	printf("sites %zu\nload_s %.3f\nall_intents_one_thread_s %.3f\nall_intents_s %.3f\n"
	       "all_intents_mb %.1f\nhub_intent_ms %.1f\nhub_bytes %zu\n",
	       compile_ctx_nsites(c), t_ctx, t_all, cb_refresh_all(s), bytes / 1e6, best * 1e3,
	       cb_one(c, hub));
	compile_ctx_free(c);
	store_free(s);
	return 0;
}
