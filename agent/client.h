/* The controller client: long-polls GET /v1/agents/{site}/intent?after=REV in a
 * background thread (backing off on errors) and posts status to
 * POST /v1/agents/{site}/status, with a site-scoped Bearer token over HTTPS. */
#ifndef GRESEC_CLIENT_H
#define GRESEC_CLIENT_H

#include <stdint.h>
#include <jansson.h>

#include "intent.h"

struct client_cfg {
	const char *url;		/* "https://controller:8443" */
	const char *site;
	const char *token_file;
	const char *ca;			/* NULL: system CAs */
	long poll_timeout;		/* seconds the client waits on one long-poll */
};

struct client;

/* Reads the token. NULL on error (errno set; the reason is logged). */
struct client *client_new(const struct client_cfg *cfg);
void client_free(struct client *c);

/* One request: 0 with *out set to a new validated intent for this site and a revision
 * above after; 1 when nothing changed (204); negative errno on failure (err says). */
int client_fetch(struct client *c, uint64_t after, struct intent **out, char *err,
		 size_t errlen);
/* 0, or negative errno (err says). */
int client_post_status(struct client *c, const json_t *status, char *err, size_t errlen);

/* Starts the poll thread. New intents become readable on client_fd. */
int client_start(struct client *c, uint64_t after);
int client_fd(const struct client *c);
/* The newest intent received and not yet taken, or NULL. */
struct intent *client_take(struct client *c);
/* Queues status for posting by the thread (a copy is kept). */
void client_set_status(struct client *c, const json_t *status);

#endif
