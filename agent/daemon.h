/* The agent's long-running loop: enforce the current intent, react to kernel change
 * notifications, resync periodically, take new intents from the controller client,
 * stop on SIGTERM without tearing anything down. */
#ifndef GRESEC_DAEMON_H
#define GRESEC_DAEMON_H

#include <jansson.h>

#include "intent.h"
#include "reconcile.h"

struct client;

struct daemon_cfg {
	const char *state_dir;		/* NULL: do not persist */
	unsigned int resync;		/* seconds */
	struct client *client;		/* NULL: local intent only */
};

/* Status document for a pass: applied revision and per-tunnel state. New reference. */
json_t *daemon_status_json(const struct intent *in, const struct reconcile_result *res);
/* Runs until SIGTERM/SIGINT. in (may be NULL until the controller sends one) is
 * owned by the loop from here on. Returns 0 on a clean stop, negative errno else. */
int daemon_run(const struct daemon_cfg *cfg, struct reconcile *r, struct intent *in);
/* Tells systemd (Type=notify) through $NOTIFY_SOCKET; a no-op without it. */
void daemon_notify(const char *msg);

#endif
