/* The agent's Prometheus endpoint (--metrics-listen, off by default): a listening TCP
 * socket served from the daemon's own poll loop, no thread. It answers GET /metrics
 * (HTTP/1.0 and 1.1, one request per connection, then close) and nothing else; a few
 * connections at once, each cut off after EXPORTER_TIMEOUT_MS. Also the agent's event
 * counters, bumped where the events happen (the agent is single-threaded). */
#ifndef GRESEC_EXPORTER_H
#define GRESEC_EXPORTER_H

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "prom.h"

#define EXPORTER_CONNS 4
#define EXPORTER_TIMEOUT_MS 5000

struct agent_counters {
	uint64_t nl_changes;		/* changing netlink messages sent */
	uint64_t nl_reads;		/* netlink dump and get requests */
	uint64_t vici_calls, vici_errors;
	uint64_t charon_events;
	uint64_t passes, pass_errors;
	struct prom_hist pass_seconds;
};
extern struct agent_counters agent_counters;

struct exporter;
/* Writes the exposition (everything but the counters above, which exporter writes). */
typedef void (*exporter_render_fn)(void *ctx, FILE *f);

/* listen: "127.0.0.1:9101" or "[::1]:9101". -EINVAL for another shape, else -errno of
 * socket/bind/listen. */
int exporter_new(const char *listen, exporter_render_fn fn, void *ctx, struct exporter **out);
void exporter_free(struct exporter *e);
/* The descriptors to poll (the listener, then the open connections); at most max. */
size_t exporter_pollfds(struct exporter *e, struct pollfd *fds, size_t max);
void exporter_io(struct exporter *e, const struct pollfd *fds, size_t n, int64_t now_ms);
/* Until the oldest connection's deadline; -1 with none open. */
int64_t exporter_timeout_ms(const struct exporter *e, int64_t now_ms);
/* The counters of struct agent_counters, as metric families. */
void exporter_write_counters(FILE *f);
/* Per tunnel, from a status report as daemon_report_json builds it (with liveness):
 * its state in each plane, bytes, packets, liveness flaps. */
void exporter_write_tunnels(FILE *f, const json_t *report);
/* The applied revision, when it was applied, and its propagation delay from the
 * controller's commit (delay < 0: not known, left out). */
void exporter_write_intent(FILE *f, uint64_t revision, double applied_at, double delay);

struct client;
/* The controllers: which one is in use, which answered last time, how many switches. */
void exporter_write_controllers(FILE *f, const struct client *c);

#endif
