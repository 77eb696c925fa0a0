#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "longpoll.h"
#include "metrics.h"
#include "prom.h"
#include "status.h"

#define METRICS_MIN_STATUS 100
#define METRICS_NSTATUS 500		/* 100..599: every status code, counted exactly */
#define METRICS_ROUTES (METRICS_MAX_ROUTES + 1)
#define METRICS_HIST_INIT(bk) [0 ... METRICS_ROUTES - 1] = { .b = &(bk) }

static const char *const metrics_imports[] = { "ok", "rejected", "failed", "dry_run" };
#define METRICS_NIMPORTS (sizeof(metrics_imports) / sizeof(metrics_imports[0]))

/* Static and zeroed: nothing to set up, nothing a request allocates. About 260 KiB. */
static _Atomic uint64_t metrics_requests[METRICS_ROUTES][METRICS_NSTATUS];
static struct prom_hist metrics_latency[METRICS_ROUTES] = { METRICS_HIST_INIT(prom_buckets_latency) };
static struct prom_hist metrics_tx[2] = {
	{ .b = &prom_buckets_latency }, { .b = &prom_buckets_latency }
};
static struct prom_hist metrics_fanout_hist = { .b = &prom_buckets_delay };
static _Atomic uint64_t metrics_compiles, metrics_revisions;
static _Atomic uint64_t metrics_import_count[METRICS_NIMPORTS];

static void metrics_inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void metrics_request(unsigned route, unsigned status, double seconds)
{
	if (route >= METRICS_ROUTES)
		route = 0;
	if (status >= METRICS_MIN_STATUS && status < METRICS_MIN_STATUS + METRICS_NSTATUS)
		metrics_inc(&metrics_requests[route][status - METRICS_MIN_STATUS]);
	prom_observe(&metrics_latency[route], seconds);
}

void metrics_db(bool write, double seconds)
{
	prom_observe(&metrics_tx[write], seconds);
}

void metrics_compiled(void)
{
	metrics_inc(&metrics_compiles);
}

void metrics_revision(void)
{
	metrics_inc(&metrics_revisions);
}

void metrics_import(const char *outcome)
{
	for (size_t i = 0; i < METRICS_NIMPORTS; i++)
		if (!strcmp(outcome, metrics_imports[i]))
			metrics_inc(&metrics_import_count[i]);
}

void metrics_fanout(double seconds)
{
	prom_observe(&metrics_fanout_hist, seconds);
}

/* route="/v1/sites/{name}",method="GET"; route="unmatched" for index 0. */
static void metrics_route_labels(unsigned route, char *buf, size_t len)
{
	buf[0] = '\0';
	if (route == 0 || route > api_nroutes) {
		prom_label(buf, len, "route", "unmatched");
		return;
	}
	prom_label(buf, len, "method", api_routes[route - 1].method);
	prom_label(buf, len, "route", api_routes[route - 1].pattern);
}

static void metrics_write_requests(FILE *f)
{
	char labels[160], code[8];

	prom_family(f, "gresec_http_requests_total", "counter",
		    "HTTP requests answered, by route and status code.");
	for (unsigned r = 0; r <= api_nroutes && r < METRICS_ROUTES; r++) {
		for (unsigned s = 0; s < METRICS_NSTATUS; s++) {
			uint64_t n = atomic_load_explicit(&metrics_requests[r][s], memory_order_relaxed);

			if (!n)
				continue;
			metrics_route_labels(r, labels, sizeof(labels));
			snprintf(code, sizeof(code), "%u", s + METRICS_MIN_STATUS);
			prom_label(labels, sizeof(labels), "code", code);
			prom_sample_u64(f, "gresec_http_requests_total", labels, n);
		}
	}
	prom_family(f, "gresec_http_request_duration_seconds", "histogram",
		    "Time from a request's first line to its reply, by route (an intent "
		    "long-poll's includes the time it was held).");
	for (unsigned r = 0; r <= api_nroutes && r < METRICS_ROUTES; r++) {
		metrics_route_labels(r, labels, sizeof(labels));
		prom_hist_write(f, "gresec_http_request_duration_seconds", labels,
				&metrics_latency[r]);
	}
}

static void metrics_write_counters(FILE *f)
{
	char labels[64];

	prom_family(f, "gresec_db_transaction_duration_seconds", "histogram",
		    "SQLite transactions, BEGIN to COMMIT or ROLLBACK, by kind.");
	prom_hist_write(f, "gresec_db_transaction_duration_seconds", "kind=\"read\"", &metrics_tx[0]);
	prom_hist_write(f, "gresec_db_transaction_duration_seconds", "kind=\"write\"", &metrics_tx[1]);
	prom_family(f, "gresec_intents_compiled_total", "counter", "Site intents compiled.");
	prom_sample_u64(f, "gresec_intents_compiled_total", NULL, atomic_load(&metrics_compiles));
	prom_family(f, "gresec_intent_revisions_total", "counter",
		    "Site intent revisions committed (an intent whose content changed).");
	prom_sample_u64(f, "gresec_intent_revisions_total", NULL, atomic_load(&metrics_revisions));
	prom_family(f, "gresec_intent_fanout_seconds", "histogram",
		    "From an intent revision's commit to its delivery to the site's agent.");
	prom_hist_write(f, "gresec_intent_fanout_seconds", NULL, &metrics_fanout_hist);
	prom_family(f, "gresec_imports_total", "counter", "POST /v1/import requests, by outcome.");
	for (size_t i = 0; i < METRICS_NIMPORTS; i++) {
		labels[0] = '\0';
		prom_label(labels, sizeof(labels), "outcome", metrics_imports[i]);
		prom_sample_u64(f, "gresec_imports_total", labels, atomic_load(&metrics_import_count[i]));
	}
}

/* One gauge family with a "state" label, its values read from counts. */
static void metrics_write_states(FILE *f, const char *name, const char *help,
				 const json_t *counts, const char *const *states, size_t n)
{
	char labels[64];

	prom_family(f, name, "gauge", help);
	for (size_t i = 0; i < n; i++) {
		labels[0] = '\0';
		prom_label(labels, sizeof(labels), "state", states[i]);
		prom_sample(f, name, labels,
			    (double)json_integer_value(json_object_get(counts, states[i])));
	}
}

/* The gauges: read now, from the store (status summary) and the long-poll table. */
static int metrics_write_gauges(FILE *f, struct api *api)
{
	static const char *const sites[] = { "seen", "stale", "never" };
	static const char *const states[] = { "up", "degraded", "idle", "down", "pending" };
	json_t *sum = NULL;
	int r = status_summary(api->store, api->stale_after, &sum);

	if (r < 0)
		return r;
	metrics_write_states(f, "gresec_sites", "Sites by what their agent last reported: seen "
			     "(fresh), stale (older than --stale-after), never.",
			     json_object_get(sum, "sites"), sites, sizeof(sites) / sizeof(sites[0]));
	metrics_write_states(f, "gresec_tunnels", "Materialised tunnels by live state.",
			     json_object_get(sum, "tunnels"), states,
			     sizeof(states) / sizeof(states[0]));
	json_decref(sum);
	prom_family(f, "gresec_longpolls_held", "gauge", "Agents' intent requests held now.");
	prom_sample_u64(f, "gresec_longpolls_held", NULL, api->poll ? longpoll_count(api->poll) : 0);
	return 0;
}

int metrics_render(struct api *api, char **out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int r;

	if (!f)
		return -ENOMEM;
	metrics_write_requests(f);
	metrics_write_counters(f);
	r = metrics_write_gauges(f, api);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return r;
	}
	*out = text;
	return 0;
}
