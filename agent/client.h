/* The controller client: long-polls GET /v1/agents/{site}/intent?after=REV (backing off
 * on errors) and posts status to POST /v1/agents/{site}/status, with a site-scoped Bearer
 * token over HTTPS. Everything runs on the caller's thread: libcurl's multi interface
 * hands its sockets and timer to the agent's poll loop (client_pollfds, client_timeout_ms,
 * client_dispatch). */
#ifndef GRESEC_CLIENT_H
#define GRESEC_CLIENT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ctl_pick.h"
#include "intent.h"

struct client_cfg {
	const char *const *urls;	/* "https://controller:8443", in order of preference */
	size_t n_urls;			/* 1..CTL_PICK_MAX */
	unsigned int probe_s;		/* probe period of the earlier ones; 0: default */
	const char *site;
	const char *token_file;
	const char *ca;			/* NULL: system CAs */
	long poll_timeout;		/* seconds the client waits on one long-poll */
	bool insecure_http;		/* allow http:// (--insecure-http); else https only */
};

struct client;

/* Reads the token (the same for every controller: they share one database). NULL on
 * error (errno set; the reason is logged). */
struct client *client_new(const struct client_cfg *cfg);
/* Aborts the transfers in flight and wipes the token. */
void client_free(struct client *c);

/* Blocking, for --once. One request to each controller in order until one answers: 0 with *out set to a new validated intent for this
 * site and a revision above after; 1 when nothing changed (204); negative errno on
 * failure (err says). */
int client_fetch(struct client *c, uint64_t after, struct intent **out, char *err,
		 size_t errlen);
/* Blocking, for --once. 0, or negative errno (err says). */
int client_post_status(struct client *c, const json_t *status, char *err, size_t errlen);

/* The site's certificate and key files (copied; NULL: none) for every later transfer,
 * offered when the controller asks for a client certificate. 0 or -ENOMEM. */
int client_set_identity(struct client *c, const char *cert_file, const char *key_file);
/* Blocking: POST /v1/agents/{site}/csr with the PEM CSR; 0 with the answer
 * ({"certificate", "ca", "serial", "not_after"}), or negative errno (err says). */
int client_post_csr(struct client *c, const char *csr, json_t **out, char *err, size_t errlen);
/* Starts the first long-poll (and a queued status post). 0 or -errno. */
int client_start(struct client *c, uint64_t after);
/* The sockets libcurl wants polled: fills up to max, returns how many. */
size_t client_pollfds(struct client *c, struct pollfd *fds, size_t max);
/* Milliseconds until libcurl's next timeout (or a backoff retry) is due, -1 for none. */
int64_t client_timeout_ms(const struct client *c, int64_t now_ms);
/* After poll(): hands revents of the fds client_pollfds filled to libcurl, runs due
 * timers and backoff retries, completes transfers. */
void client_dispatch(struct client *c, const struct pollfd *fds, size_t n, int64_t now_ms);
/* The newest intent received and not yet taken, or NULL. */
struct intent *client_take(struct client *c);
/* The controller's address of the last finished transfer (libcurl's primary IP):
 * false until one finished. */
bool client_peer(const struct client *c, struct addr *out);
/* Queues status for posting (a copy is kept). One post is in flight at a time; a newer
 * status queued meanwhile replaces the older queued one and is posted next. */
void client_set_status(struct client *c, const json_t *status);

/* Controller i's URL (NULL past the last); client_ctl_pick()->cur is the one in use. */
const char *client_ctl_url(const struct client *c, size_t i);
const struct ctl_pick *client_ctl_pick(const struct client *c);

#endif
