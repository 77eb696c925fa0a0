#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "client.h"
#include "exporter.h"
#include "log.h"

#define EXPORTER_REQ_MAX 2048

struct agent_counters agent_counters = { .pass_seconds = { .b = &prom_buckets_latency } };

struct exporter_conn {
	int fd;				/* -1: free slot */
	int64_t deadline_ms;
	char req[EXPORTER_REQ_MAX];
	size_t req_len;
	char *out;			/* the whole answer once the request is in */
	size_t out_len, out_off;
};

struct exporter {
	int fd;
	exporter_render_fn fn;
	void *ctx;
	struct exporter_conn conn[EXPORTER_CONNS];
	/* The pollfd index of each slot, from the last exporter_pollfds. */
	int slot_of[EXPORTER_CONNS + 1];
};

/* "host:port" or "[v6]:port" into a socket address. */
static int exporter_parse(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon = strrchr(listen, ':');
	char host[64], *end;
	size_t hlen = colon ? (size_t)(colon - listen) : 0;
	unsigned long port;
	struct addr a;

	if (!colon || !colon[1])
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end || !port || port > 65535)
		return -EINVAL;
	if (hlen >= 2 && listen[0] == '[' && listen[hlen - 1] == ']') {
		listen++;
		hlen -= 2;
	}
	if (!hlen || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	if (addr_parse(host, &a) < 0)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		memcpy(&s4->sin_addr, a.bytes, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		memcpy(&s6->sin6_addr, a.bytes, 16);
		*len = sizeof(*s6);
	}
	return 0;
}

int exporter_new(const char *listen_addr, exporter_render_fn fn, void *ctx, struct exporter **out)
{
	struct sockaddr_storage ss;
	struct exporter *e;
	socklen_t len = 0;
	int one = 1, r;

	if ((r = exporter_parse(listen_addr, &ss, &len)) < 0)
		return r;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fn = fn;
	e->ctx = ctx;
	for (size_t i = 0; i < EXPORTER_CONNS; i++)
		e->conn[i].fd = -1;
	e->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (e->fd < 0 || setsockopt(e->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(e->fd, (struct sockaddr *)&ss, len) < 0 || listen(e->fd, 16) < 0) {
		r = -errno;
		exporter_free(e);
		return r;
	}
	*out = e;
	return 0;
}

static void exporter_close(struct exporter_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	*c = (struct exporter_conn){ .fd = -1 };
}

void exporter_free(struct exporter *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < EXPORTER_CONNS; i++)
		exporter_close(&e->conn[i]);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

size_t exporter_pollfds(struct exporter *e, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i <= EXPORTER_CONNS; i++)
		e->slot_of[i] = -1;
	if (max == 0)
		return 0;
	fds[n++] = (struct pollfd){ .fd = e->fd, .events = POLLIN };
	for (size_t i = 0; i < EXPORTER_CONNS && n < max; i++) {
		if (e->conn[i].fd < 0)
			continue;
		e->slot_of[i] = (int)n;
		fds[n++] = (struct pollfd){ .fd = e->conn[i].fd,
					    .events = e->conn[i].out ? POLLOUT : POLLIN };
	}
	return n;
}

int64_t exporter_timeout_ms(const struct exporter *e, int64_t now_ms)
{
	int64_t t = -1;

	for (size_t i = 0; i < EXPORTER_CONNS; i++) {
		int64_t left = e->conn[i].deadline_ms - now_ms;

		if (e->conn[i].fd >= 0 && (t < 0 || left < t))
			t = left < 0 ? 0 : left;
	}
	return t;
}

/* A connection beyond EXPORTER_CONNS is closed at once: a scraper retries. */
static void exporter_accept(struct exporter *e, int64_t now_ms)
{
	int fd = accept4(e->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (size_t i = 0; i < EXPORTER_CONNS; i++) {
		if (e->conn[i].fd < 0) {
			e->conn[i].fd = fd;
			e->conn[i].deadline_ms = now_ms + EXPORTER_TIMEOUT_MS;
			return;
		}
	}
	close(fd);
}

/* The whole answer: status line, headers, body (NULL body: the status text). */
static void exporter_answer(struct exporter_conn *c, const char *status, const char *body,
			    size_t len)
{
	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);

	if (!f)
		return;
	if (!body) {
		body = status;
		len = strlen(status);
	}
	fprintf(f, "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		"Connection: close\r\n\r\n", status, strcmp(status, "200 OK") ? "text/plain" :
		PROM_CONTENT_TYPE, len);
	fwrite(body, 1, len, f);
	if (fclose(f) == 0) {
		c->out = text;
		c->out_len = tlen;
	} else {
		free(text);
	}
}

/* The request line decides: GET /metrics (a query string is ignored), else 404/405/400. */
static void exporter_request(struct exporter *e, struct exporter_conn *c)
{
	char method[8], target[256], version[16];
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	if (sscanf(c->req, "%7s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		exporter_answer(c, "400 Bad Request", NULL, 0);
		return;
	}
	target[strcspn(target, "?")] = '\0';
	if (strcmp(target, "/metrics")) {
		exporter_answer(c, "404 Not Found", NULL, 0);
		return;
	}
	if (strcmp(method, "GET")) {
		exporter_answer(c, "405 Method Not Allowed", NULL, 0);
		return;
	}
	f = open_memstream(&body, &len);
	if (!f)
		return;
	e->fn(e->ctx, f);
	exporter_write_counters(f);
	if (fclose(f) == 0)
		exporter_answer(c, "200 OK", body, len);
	free(body);
}

/* Reads until the end of the headers; the body of a GET is none. False: close. */
static bool exporter_read(struct exporter *e, struct exporter_conn *c)
{
	ssize_t n = read(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		exporter_request(e, c);
	else if (c->req_len == sizeof(c->req) - 1)
		exporter_answer(c, "431 Request Header Fields Too Large", NULL, 0);
	else
		return true;
	return c->out != NULL;		/* no memory for an answer: close */
}

/* Writes what the socket takes. False once all is sent (or the peer is gone). */
static bool exporter_write(struct exporter_conn *c)
{
	ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	c->out_off += (size_t)n;
	return c->out_off < c->out_len;
}

void exporter_io(struct exporter *e, const struct pollfd *fds, size_t n, int64_t now_ms)
{
	for (size_t i = 0; i < EXPORTER_CONNS; i++) {
		struct exporter_conn *c = &e->conn[i];
		int k = e->slot_of[i];
		bool keep = true;

		if (c->fd < 0)
			continue;
		if (k >= 0 && (size_t)k < n && fds[k].revents)
			keep = (fds[k].revents & (POLLERR | POLLNVAL)) ? false :
			       c->out ? exporter_write(c) : exporter_read(e, c);
		if (!keep || now_ms >= c->deadline_ms)
			exporter_close(c);
	}
	if (n && fds[0].fd == e->fd && (fds[0].revents & POLLIN))
		exporter_accept(e, now_ms);
}

void exporter_write_counters(FILE *f)
{
	const struct agent_counters *k = &agent_counters;
	const struct { const char *name, *labels, *help; uint64_t v; } tab[] = {
		{ "gresec_agent_reconcile_passes_total", NULL,
		  "Reconcile passes of the kernel plane.", k->passes },
		{ "gresec_agent_reconcile_errors_total", NULL,
		  "Reconcile passes that could not read or write the kernel at all.", k->pass_errors },
		{ "gresec_agent_netlink_messages_total", "kind=\"change\"",
		  "Netlink messages sent: changes, and dump or get requests.", k->nl_changes },
		{ "gresec_agent_netlink_messages_total", "kind=\"read\"", NULL, k->nl_reads },
		{ "gresec_agent_vici_calls_total", NULL, "Commands sent to charon.", k->vici_calls },
		{ "gresec_agent_vici_errors_total", NULL,
		  "Commands to charon that failed (transport, or charon said no).", k->vici_errors },
		{ "gresec_agent_charon_events_total", NULL,
		  "Events received from charon (IKE and CHILD_SA changes, logs).", k->charon_events },
	};

	/* A NULL help: another sample of the family above. */
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (tab[i].help)
			prom_family(f, tab[i].name, "counter", tab[i].help);
		prom_sample_u64(f, tab[i].name, tab[i].labels, tab[i].v);
	}
	prom_family(f, "gresec_agent_reconcile_duration_seconds", "histogram",
		    "Time of a reconcile pass: read, plan, apply, verify.");
	prom_hist_write(f, "gresec_agent_reconcile_duration_seconds", NULL, &k->pass_seconds);
}

static void exporter_tunnel_state(FILE *f, const char *id, const char *plane, const char *state)
{
	char labels[192] = "";

	if (!state)
		return;
	prom_label(labels, sizeof(labels), "tunnel", id);
	prom_label(labels, sizeof(labels), "plane", plane);
	prom_label(labels, sizeof(labels), "state", state);
	prom_sample_u64(f, "gresec_agent_tunnel_state", labels, 1);
}

/* name{tunnel,direction="in"|"out"} from key_in and key_out of t. */
static void exporter_tunnel_io(FILE *f, const char *name, const char *id, const json_t *t,
			       const char *key)
{
	static const char *const dirs[] = { "in", "out" };

	for (size_t i = 0; i < 2; i++) {
		char labels[160] = "", k[32];

		snprintf(k, sizeof(k), "%s_%s", key, dirs[i]);
		prom_label(labels, sizeof(labels), "tunnel", id);
		prom_label(labels, sizeof(labels), "direction", dirs[i]);
		prom_sample_u64(f, name, labels, (uint64_t)json_integer_value(json_object_get(t, k)));
	}
}

/* Each family's samples together, as the format wants: one walk per family. */
void exporter_write_tunnels(FILE *f, const json_t *report)
{
	static const char *const planes[] = { "interface", "ike", "child" };
	const json_t *arr = json_object_get(report, "tunnels"), *t;
	size_t i;

	prom_family(f, "gresec_agent_tunnel_state", "gauge", "1 for each tunnel's current state "
		    "per plane: interface (up, failed), ike, child (charon's SAs), liveness.");
	json_array_foreach(arr, i, t) {
		const char *id = json_string_value(json_object_get(t, "id"));
		const json_t *lv = json_object_get(t, "liveness");

		for (size_t p = 0; id && p < sizeof(planes) / sizeof(planes[0]); p++)
			exporter_tunnel_state(f, id, planes[p],
					      json_string_value(json_object_get(t, planes[p])));
		if (id && lv)
			exporter_tunnel_state(f, id, "liveness",
					      json_string_value(json_object_get(lv, "state")));
	}
	prom_family(f, "gresec_agent_tunnel_bytes_total", "counter",
		    "Bytes through the tunnel's CHILD_SA (charon's counters; reset on rekey).");
	json_array_foreach(arr, i, t)
		if (json_string_value(json_object_get(t, "id")))
			exporter_tunnel_io(f, "gresec_agent_tunnel_bytes_total",
					   json_string_value(json_object_get(t, "id")), t, "bytes");
	prom_family(f, "gresec_agent_tunnel_packets_total", "counter",
		    "Packets through the tunnel's CHILD_SA (charon's counters; reset on rekey).");
	json_array_foreach(arr, i, t)
		if (json_string_value(json_object_get(t, "id")))
			exporter_tunnel_io(f, "gresec_agent_tunnel_packets_total",
					   json_string_value(json_object_get(t, "id")), t, "packets");
	prom_family(f, "gresec_agent_tunnel_flaps_total", "counter",
		    "Times the tunnel's liveness went from up to down.");
	json_array_foreach(arr, i, t) {
		const json_t *lv = json_object_get(t, "liveness");
		char labels[96] = "";

		if (!lv || !json_string_value(json_object_get(t, "id")))
			continue;
		prom_label(labels, sizeof(labels), "tunnel", json_string_value(json_object_get(t, "id")));
		prom_sample_u64(f, "gresec_agent_tunnel_flaps_total", labels,
				(uint64_t)json_integer_value(json_object_get(lv, "flaps")));
	}
}

void exporter_write_intent(FILE *f, uint64_t revision, double applied_at, double delay)
{
	prom_family(f, "gresec_agent_intent_revision", "gauge",
		    "Revision of the intent last applied (0: none yet).");
	prom_sample_u64(f, "gresec_agent_intent_revision", NULL, revision);
	prom_family(f, "gresec_agent_intent_applied_timestamp_seconds", "gauge",
		    "When that revision was first applied (Unix time; 0: none yet).");
	prom_sample(f, "gresec_agent_intent_applied_timestamp_seconds", NULL, applied_at);
	if (delay < 0)
		return;
	prom_family(f, "gresec_agent_intent_propagation_seconds", "gauge",
		    "From the controller's commit of the applied revision to its first pass here.");
	prom_sample(f, "gresec_agent_intent_propagation_seconds", NULL, delay);
}

void exporter_write_controllers(FILE *f, const struct client *c)
{
	const struct ctl_pick *p = client_ctl_pick(c);
	char labels[CTL_PICK_MAX][320];

	for (size_t i = 0; i < p->n; i++) {
		labels[i][0] = '\0';
		prom_label(labels[i], sizeof(labels[i]), "url", client_ctl_url(c, i));
	}
	prom_family(f, "gresec_agent_controller_current", "gauge",
		    "1 for the controller the agent long-polls now, 0 for the others.");
	for (size_t i = 0; i < p->n; i++)
		prom_sample_u64(f, "gresec_agent_controller_current", labels[i], i == p->cur);
	prom_family(f, "gresec_agent_controller_up", "gauge",
		    "1 when the controller's last answer (long-poll, status post or probe) was "
		    "one, 0 when it failed or was not asked yet.");
	for (size_t i = 0; i < p->n; i++)
		prom_sample_u64(f, "gresec_agent_controller_up", labels[i], p->up[i]);
	prom_family(f, "gresec_agent_controller_switches_total", "counter",
		    "Moves to another controller: failovers and returns.");
	prom_sample_u64(f, "gresec_agent_controller_switches_total", NULL, p->switches);
}
