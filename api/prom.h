/* Prometheus text exposition (format 0.0.4), shared by the controller's and the agent's
 * /metrics: lock-free counters and histograms that any thread may bump without
 * allocating, and the writer that prints them. */
#ifndef GRESEC_PROM_H
#define GRESEC_PROM_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROM_MAX_BUCKETS 14

/* Upper bounds in seconds, ascending; the +Inf bucket is implied. */
struct prom_buckets {
	unsigned n;
	double le[PROM_MAX_BUCKETS];
};

/* Request latencies, transaction times: 0.5 ms to 30 s. */
extern const struct prom_buckets prom_buckets_latency;
/* Propagation delays: 10 ms to 10 min. */
extern const struct prom_buckets prom_buckets_delay;

struct prom_hist {
	const struct prom_buckets *b;
	_Atomic uint64_t count[PROM_MAX_BUCKETS + 1];	/* per bucket, not cumulative */
	_Atomic uint64_t sum_us;
};

void prom_hist_init(struct prom_hist *h, const struct prom_buckets *b);
/* Any thread; a negative value counts as 0. */
void prom_observe(struct prom_hist *h, double seconds);

/* "# HELP" and "# TYPE" of a family: once, before its samples. */
void prom_family(FILE *f, const char *name, const char *type, const char *help);
/* One sample; labels is the text inside the braces ("" or NULL: none), already
 * escaped (prom_label gives one escaped pair). */
void prom_sample(FILE *f, const char *name, const char *labels, double value);
void prom_sample_u64(FILE *f, const char *name, const char *labels, uint64_t value);
/* The _bucket, _sum and _count samples of h. */
void prom_hist_write(FILE *f, const char *name, const char *labels, const struct prom_hist *h);
/* Appends key="value" (value escaped: backslash, quote, newline) to buf, with a comma
 * first when buf is not empty. Cut at len, always terminated. */
void prom_label(char *buf, size_t len, const char *key, const char *value);

#endif
