/* The controller client's insides, shared by client.c (the transfers) and client_ctl.c
 * (several controllers: failover, probes, return). Not for other modules: they use
 * client.h. */
#ifndef GRESEC_CLIENT_INT_H
#define GRESEC_CLIENT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <curl/curl.h>
#include <jansson.h>

#include "addr.h"
#include "ctl_pick.h"
#include "intent.h"

struct client_buf {
	char *data;
	size_t len;
};

/* One transfer and everything its easy handle points to. */
struct client_xfer {
	CURL *h;
	struct curl_slist *hdr;		/* holds the Bearer token: wiped when freed */
	char *body;			/* a post's JSON */
	struct client_buf resp;
};

/* A socket libcurl asked us to watch, with the poll events it wants. */
struct client_sock {
	curl_socket_t fd;
	short events;
};

struct client {
	char *urls[CTL_PICK_MAX];	/* in the order of preference */
	struct ctl_pick pick;		/* which one is in use, and when to move */
	char *site, *ca;
	char *auth;			/* "Authorization: Bearer ..." (secret) */
	long poll_timeout;
	CURLM *multi;
	struct client_sock *socks;
	size_t n_socks, cap_socks;
	int64_t curl_due_ms;		/* libcurl's one-shot timer, -1 when off */
	int64_t retry_ms;		/* the next long-poll after an error, -1 when none */
	bool started;
	bool insecure_http;		/* http:// allowed: the operator said so */
	struct addr peer;		/* the controller's address of the last transfer */
	bool peer_known;
	struct client_xfer poll, post;
	struct client_xfer probe;	/* GET /healthz of an earlier controller */
	int probing;			/* which one; -1: none in flight */
	size_t post_at;			/* the controller the post in flight went to */
	uint64_t after;
	struct intent *pending;		/* received, not yet taken */
	char *id_cert, *id_key;		/* the site's certificate and key files: offered
					 * to a controller that asks (mTLS) */
	json_t *status;			/* queued, not yet posted */
};

/* client.c */
/* Sets up x's easy handle for path at controller i (with the token unless it is a
 * probe, which needs none); x->body (owned by x) makes it a POST. 0 or -ENOMEM. */
int client_xfer_init_at(struct client *c, struct client_xfer *x, size_t i, const char *path,
			long timeout, bool auth);
/* Ends a transfer (aborting it when still in flight) and frees what it held. */
void client_xfer_clear(struct client *c, struct client_xfer *x);
/* The HTTP status (> 0) of a finished transfer, or a negative errno (err says). */
long client_xfer_status(struct client_xfer *x, CURLcode cc, char *err, size_t errlen);
/* Starts the long-poll at the controller in use. 0 or -errno (then retried later). */
int client_poll_start(struct client *c);

/* client_ctl.c */
/* Controller in use answered revision rev, older than after: true to take it. */
bool client_ctl_older(struct client *c, uint64_t after, uint64_t rev, char *err,
		      size_t errlen);
/* The long-poll failed (err says why); move: to the next controller. */
void client_ctl_failed(struct client *c, const char *err, bool move);
/* The probe transfer finished. */
void client_ctl_probe_done(struct client *c, CURLcode cc);
/* Starts a probe when one is due. */
void client_ctl_probe_tick(struct client *c, int64_t now_ms);

#endif
