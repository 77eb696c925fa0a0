/* The agent's long-running loop: enforce the current intent in the kernel and in
 * charon, react to kernel change notifications, XFRM acquires and charon's events,
 * resync periodically, take new intents from the controller client, report status
 * (promptly on IKE/CHILD_SA changes), stop on SIGTERM without tearing anything down. */
#ifndef GRESEC_DAEMON_H
#define GRESEC_DAEMON_H

#include <stdbool.h>
#include <jansson.h>

#include "guard.h"
#include "intent.h"
#include "reconcile.h"

struct client;
struct ike_events;

/* Status is re-posted at least this often, so the controller never sees it go stale. */
#define DAEMON_HEARTBEAT_S 30

struct daemon_cfg {
	const char *state_dir;		/* NULL: do not persist */
	unsigned int resync;		/* seconds */
	unsigned int restart_hold;	/* seconds BFD peers wait for the next agent; 0 none */
	struct client *client;		/* NULL: local intent only */
	const char *vici;		/* charon's VICI socket; NULL: the IKE plane is off */
	struct guard *guard;		/* what every intent is checked against; NULL: none */
	const char *metrics_listen;	/* Prometheus endpoint "HOST:PORT"; NULL: none */
};

/* Status document for state_dir/status.json: applied revision, convergence and
 * per-tunnel state (with the IKE plane's view under "ike" when ev is given). */
json_t *daemon_status_json(const struct intent *in, const struct reconcile_result *res);
json_t *daemon_status_json_ike(const struct intent *in, const struct reconcile_result *res,
			       struct ike_events *ev);
/* The report for POST /v1/agents/{site}/status (the controller's strict shape):
 * {"revision", "tunnels": [{"id", "interface", "ike", "child", bytes/packets,
 * "last_error"}]}. errs (may be NULL) gives last-error times: one ISO-8601 string per
 * tunnel, kept by the caller. ike_ok: charon is reachable. New reference. */
json_t *daemon_report_json(const struct intent *in, const struct reconcile_result *res,
			   struct ike_events *ev, bool ike_ok, json_t *errs);
/* Adds the guard's refusals to a document built by daemon_status_json_ike (report
 * false) or daemon_report_json (report true, errs as there): each refused tunnel as a
 * failed one with its reason, each refused route as its tunnel's error unless it has
 * one already. */
void daemon_add_refused(json_t *doc, const struct guard_report *rep, bool report, json_t *errs);
/* Runs until SIGTERM/SIGINT. in (may be NULL until the controller sends one) is
 * owned by the loop from here on, and guarded by it like every later one. Returns 0 on a clean stop, negative errno else. */
int daemon_run(const struct daemon_cfg *cfg, struct reconcile *r, struct intent *in);
/* Tells systemd (Type=notify) through $NOTIFY_SOCKET; a no-op without it. */
void daemon_notify(const char *msg);

#endif
