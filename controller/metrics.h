/* The controller's Prometheus metrics (served at GET /metrics, viewer token): counters
 * and histograms bumped where things happen, from any thread, without allocating; and
 * gauges read from the store and the long-poll table when scraped. */
#ifndef GRESEC_METRICS_H
#define GRESEC_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct api;

/* Requests are counted per route of api_routes: index + 1, 0 for none matched. */
#define METRICS_MAX_ROUTES 64

/* A reply sent: its route (as above), HTTP status and seconds since the request began. */
void metrics_request(unsigned route, unsigned status, double seconds);
/* A transaction ended (committed or rolled back): a write or a read one. */
void metrics_db(bool write, double seconds);
/* One site's intent compiled. */
void metrics_compiled(void);
/* A site's intent revision moved. */
void metrics_revision(void);
/* An import request ended: its outcome ("ok", "rejected", "failed", "dry_run"). */
void metrics_import(const char *outcome);
/* An agent received a revision newer than the one it had: seconds since its commit. */
void metrics_fanout(double seconds);
/* The whole exposition; *out malloc'd. 0 or -errno. Runs on the HTTP thread, inside the
 * request's read transaction. */
int metrics_render(struct api *api, char **out);

#endif
