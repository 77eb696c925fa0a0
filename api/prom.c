#include <string.h>

#include "prom.h"

const struct prom_buckets prom_buckets_latency = {
	12, { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30 }
};
const struct prom_buckets prom_buckets_delay = {
	11, { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600 }
};

void prom_hist_init(struct prom_hist *h, const struct prom_buckets *b)
{
	h->b = b;
	for (unsigned i = 0; i <= PROM_MAX_BUCKETS; i++)
		atomic_init(&h->count[i], 0);
	atomic_init(&h->sum_us, 0);
}

/* Relaxed: a scrape may see a sample's bucket before its sum; Prometheus tolerates
 * that, and nothing else reads these. */
void prom_observe(struct prom_hist *h, double seconds)
{
	unsigned i = 0;

	if (!(seconds > 0))
		seconds = 0;
	while (i < h->b->n && seconds > h->b->le[i])
		i++;
	atomic_fetch_add_explicit(&h->count[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds * 1e6 + 0.5),
				  memory_order_relaxed);
}

void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void prom_sample(FILE *f, const char *name, const char *labels, double value)
{
	fprintf(f, labels && *labels ? "%s{%s} %.17g\n" : "%s%s %.17g\n", name,
		labels ? labels : "", value);
}

void prom_sample_u64(FILE *f, const char *name, const char *labels, uint64_t value)
{
	fprintf(f, labels && *labels ? "%s{%s} %llu\n" : "%s%s %llu\n", name,
		labels ? labels : "", (unsigned long long)value);
}

void prom_hist_write(FILE *f, const char *name, const char *labels, const struct prom_hist *h)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t cum = 0;

	labels = labels ? labels : "";
	for (unsigned i = 0; i <= h->b->n; i++) {
		cum += atomic_load_explicit(&h->count[i], memory_order_relaxed);
		if (i < h->b->n)
			fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->b->le[i],
				(unsigned long long)cum);
		else
			fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
				(unsigned long long)cum);
	}
	fprintf(f, *labels ? "%s_sum{%s} %.6f\n" : "%s_sum%s %.6f\n", name, labels,
		(double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
	/* _count equals the +Inf bucket, as the format requires. */
	fprintf(f, *labels ? "%s_count{%s} %llu\n" : "%s_count%s %llu\n", name, labels,
		(unsigned long long)cum);
}

void prom_label(char *buf, size_t len, const char *key, const char *value)
{
	size_t n = strnlen(buf, len);

	if (n + 1 >= len)
		return;
	n += (size_t)snprintf(buf + n, len - n, "%s%s=\"", n ? "," : "", key);
	if (n >= len)
		n = len - 1;
	for (const char *p = value; *p && n + 3 < len; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			buf[n++] = '\\';
			buf[n++] = *p == '\n' ? 'n' : *p;
		} else {
			buf[n++] = *p;
		}
	}
	if (n + 1 < len)
		buf[n++] = '"';
	buf[n < len ? n : len - 1] = '\0';
}
