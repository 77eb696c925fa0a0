/* Live IKE state per tunnel, event-driven: a VICI connection registered for
 * ike-updown, child-updown, ike-rekey, child-rekey and log events. Each event names
 * an IKE_SA (= tunnel id); after an event the tunnel's SAs are re-read with a list-sas
 * filtered to it, so the table always reflects charon rather than event arithmetic.
 * The table feeds the status report and the IKE plane's retry decisions. */
#ifndef GRESEC_IKE_EVENTS_H
#define GRESEC_IKE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "intent.h"
#include "ike_state.h"

struct vici_conn;
struct vici_node;

#define IKE_ERROR_MAX 160

struct ike_status {
	char id[INTENT_ID_MAX + 1];
	enum ike_sa_state ike_state;		/* the best IKE_SA's, NONE without one */
	enum child_sa_state child_state;	/* the best CHILD_SA's, NONE without one */
	uint32_t reqid;
	uint64_t bytes_in, bytes_out, packets_in, packets_out;
	uint32_t ike_rekeys, child_rekeys;	/* rekey events seen by this agent */
	char last_error[IKE_ERROR_MAX];		/* "" once the tunnel has been up since */
	uint32_t errors;			/* errors seen by this agent, cleared or not */
	bool up_since_error;			/* an up or rekey event came after last_error */
	bool stale;				/* an event asked for a re-read */
};

struct ike_events {
	char *vici_path;
	struct vici_conn *vc;
	struct ike_status *st;
	size_t n, cap;
	bool dirty;				/* something changed since take_dirty */
};

struct ike_events *ike_events_new(const char *vici_path);
void ike_events_free(struct ike_events *ev);
/* Connects and registers for the events. 0 or negative errno (charon not running:
 * -ENOENT / -ECONNREFUSED); call again later, e.g. from the resync timer. */
int ike_events_open(struct ike_events *ev);
/* The fd to poll for input, -1 while not connected. */
int ike_events_fd(const struct ike_events *ev);
/* On POLLIN: reads events and re-reads the tunnels they name. 0 or negative errno;
 * -EPIPE when charon went away (the table then says DOWN; open again later). */
int ike_events_dispatch(struct ike_events *ev);
/* Re-reads every tracked tunnel with one list-sas (counters, after a reconnect). */
int ike_events_refresh(struct ike_events *ev);
/* Re-reads one tunnel (list-sas filtered by IKE_SA name). */
int ike_events_refresh_one(struct ike_events *ev, const char *id);
/* Tracks exactly the tunnels of in (new ones start DOWN, removed ones are dropped). */
int ike_events_track(struct ike_events *ev, const struct intent *in);
/* True once after any change: report status promptly. */
bool ike_events_take_dirty(struct ike_events *ev);

struct ike_status *ike_events_get(struct ike_events *ev, const char *id);
bool ike_events_up(struct ike_events *ev, const char *id);
bool ike_events_connecting(struct ike_events *ev, const char *id);
void ike_events_set_error(struct ike_events *ev, const char *id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* {"ike_state","child_state","reqid","bytes_in","bytes_out","packets_in",
 * "packets_out","ike_rekeys","child_rekeys","last_error"}; NULL for an untracked id
 * or OOM. */
json_t *ike_events_status_json(struct ike_events *ev, const char *id);

/* Adds one decoded list-sa event body (IKE_SA sections with their child-sas) to the
 * table: the best state wins, counters of installed children add up. Callers reset
 * the tunnels first (ike_events_reset). Exposed for unit tests. */
void ike_events_reset(struct ike_status *st);
/* Drops st's last_error when the tunnel is up and has come up or rekeyed since the
 * error (logged, with the error, so the history stays in the agent's log). True when
 * it did. Exposed for unit tests. */
bool ike_events_clear_error(struct ike_status *st);
void ike_events_apply_sa(struct ike_events *ev, const struct vici_node *sa_msg);

#endif
