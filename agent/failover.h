/* Failover: the daemon's glue between the tunnels' signals (BFD sessions, charon's SA
 * state, the kernel plane's result) and the liveness verdicts that decide which routes
 * are installed (agent/liveness.h). Owns the BFD sessions (agent/bfd_set.h): one per
 * tunnel that wants it, AdminDown sent for a tunnel the intent removes. Keeps the
 * verdicts of tunnels out of forwarding in the state directory (liveness.json), so a
 * restarted agent does not put a dead tunnel back while it relearns. */
#ifndef GRESEC_FAILOVER_H
#define GRESEC_FAILOVER_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "intent.h"
#include "liveness.h"
#include "reconcile.h"

struct ike;
struct ike_events;
struct failover;

/* Opens the BFD receive sockets. NULL with errno set. */
struct failover *failover_new(const char *state_dir, int64_t now_ms);
void failover_free(struct failover *f);
/* A graceful stop: every Up BFD session's peer is asked (Poll Sequence) to wait
 * hold_s seconds for the next agent, the Finals are awaited (up to
 * FAILOVER_STOP_WAIT_MS) and the sessions are left in the state directory for it
 * (agent/bfd_handoff.h). hold_s 0, or no state directory: nothing is done and the
 * peers time out as usual. */
#define FAILOVER_STOP_WAIT_MS 1000
void failover_stop(struct failover *f, unsigned int hold_s);

/* A new intent (old: the previous one, may be NULL): sessions of removed tunnels send
 * AdminDown and go; verdicts follow the tunnels by id. 0 or negative errno. */
int failover_track(struct failover *f, const struct intent *old, const struct intent *in,
		   int64_t now_ms);
/* Takes every tunnel's signals, starts background initiations of down tunnels and
 * makes the BFD sessions match what the tunnels want. True when the routes must
 * change (a reconcile pass with the new view is due). ike/ev/res may be NULL. */
bool failover_eval(struct failover *f, const struct intent *in,
		   const struct reconcile_result *res, struct ike *ike, struct ike_events *ev,
		   int64_t now_ms);
/* True when failover_eval has something to do: a BFD session moved, or a hold,
 * grace or timeout is due. (charon's events are the caller's to pass on.) */
bool failover_pending(const struct failover *f, int64_t now_ms);
/* True once after any verdict changed (report status promptly). */
bool failover_take_dirty(struct failover *f);
/* in's routes as they should be installed now (live_route_view). */
int failover_view(const struct failover *f, const struct intent *in, struct intent *view);

size_t failover_pollfds(const struct failover *f, struct pollfd *fds, size_t max);
/* Receives (fds as polled), sends what is due, expires detection times. */
void failover_io(struct failover *f, const struct pollfd *fds, size_t n, int64_t now_ms);
/* Milliseconds until the next BFD or liveness deadline, -1 for none. */
int64_t failover_timeout_ms(const struct failover *f, int64_t now_ms);

/* The "liveness" object of tunnel i's report, NULL when unknown. */
json_t *failover_tunnel_json(const struct failover *f, const struct intent *in, size_t i);

/* {"sessions", "tx_errors", "drops": {reason: count}} for status.json. */
json_t *failover_bfd_json(const struct failover *f);

#endif
