/* Liveness of every tunnel, and the routes that follow it (failover).
 *
 * Two signals decide whether a tunnel carries traffic: BFD between the overlay
 * addresses (agent/bfd_set.h) and charon's view of its SAs. The verdict per tunnel:
 *   up          the CHILD_SA is installed and BFD (when enabled) is Up;
 *   down        BFD timed out or never answered, IKE failed, the CHILD_SA went away,
 *               an initiation produced no CHILD_SA within LIVE_INIT_TIMEOUT_MS, or
 *               the interface failed;
 *   admin-down  the peer's BFD said AdminDown (it is removing the tunnel);
 *   idle        an on-demand tunnel with no SA, no traffic and no failure.
 * Down is sticky: only up ends it (an on-demand tunnel that went down does not
 * become idle again by losing its SA).
 *
 * Failover is level-triggered like the rest of the agent: the routes installed are
 * the intent's routes minus those through tunnels out of forwarding (live_route_view).
 * A tunnel leaves forwarding the moment it goes down and comes back only after it has
 * been up for LIVE_HOLD_MS; a tunnel that went down LIVE_FLAP_MAX times within
 * LIVE_FLAP_WINDOW_MS is suppressed and needs LIVE_SUPPRESS_MS of unbroken up time.
 * Nothing here needs the controller.
 *
 * Pure: time comes in as monotonic milliseconds, signals as struct live_input. */
#ifndef GRESEC_LIVENESS_H
#define GRESEC_LIVENESS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>

#include "bfd.h"
#include "intent.h"

#define LIVE_HOLD_MS 5000		/* up this long before routes return: longer than
					 * LIVE_RETRY_MAX_MS, so the peers of a hub that
					 * came back have retried their own tunnels to it */
#define LIVE_START_GRACE_MS 5000	/* after start: no tunnel is taken out for silence */
#define LIVE_BFD_GRACE_MS 3000		/* CHILD_SA up this long without BFD Up: no reply */
#define LIVE_INIT_TIMEOUT_MS 2000	/* initiation without a CHILD_SA: down */
#define LIVE_FLAP_WINDOW_MS 60000
#define LIVE_FLAP_MAX 3			/* downs within the window that suppress */
#define LIVE_SUPPRESS_MS 15000		/* unbroken up time a suppressed tunnel needs */
#define LIVE_RETRY_MIN_MS 1000		/* initiations of a down tunnel, doubling */
#define LIVE_RETRY_MAX_MS 4000

enum live_state { LIVE_IDLE, LIVE_UP, LIVE_DOWN, LIVE_ADMIN_DOWN };

enum live_reason {
	LIVE_R_NONE,
	LIVE_R_BFD_TIMEOUT,		/* BFD was Up and its detection time passed */
	LIVE_R_BFD_NO_REPLY,		/* the SA is up, BFD never came Up */
	LIVE_R_PEER_ADMIN_DOWN,
	LIVE_R_IKE_FAILED,		/* charon reported a failure and holds no SA */
	LIVE_R_IKE_TIMEOUT,		/* no CHILD_SA in time (or none at all, always-on) */
	LIVE_R_INTERFACE,		/* the tunnel's interface could not be applied */
};

/* One tunnel's signals at one moment. */
struct live_input {
	bool iface_failed;
	bool bfd_enabled;
	bool bfd_session;		/* a session exists */
	enum bfd_state bfd;		/* its state */
	enum bfd_state bfd_remote;	/* the state the peer last sent */
	bool sa_up;			/* IKE_SA established, CHILD_SA installed */
	bool ike_failed;		/* charon reported an error and holds no SA */
	bool connecting;		/* an IKE_SA or CHILD_SA on its way up */
	int64_t initiated_ms;		/* last initiation by this agent, 0 for none */
	bool on_demand;
};

struct live_tunnel {
	char id[INTENT_ID_MAX + 1];
	enum live_state state;
	enum live_reason reason;	/* why it last went down */
	bool forwarding;
	bool suppressed;
	bool bfd_was_up;		/* BFD reached Up since the SA last came up */
	bool sa_lost;			/* the CHILD_SA went away after it was up */
	uint32_t flaps;			/* downs since the agent started */
	int64_t since_ms;		/* state entered (monotonic) */
	time_t since;			/* the same, wall clock, for reports */
	int64_t up_ms;			/* up (again) since; 0 while not up */
	int64_t sa_up_ms;		/* CHILD_SA installed since; 0 while none */
	int64_t init_ms;		/* an initiation waiting for its CHILD_SA; 0 none */
	int64_t seen_init_ms;		/* the last initiated_ms taken into account */
	int64_t down_ms[LIVE_FLAP_MAX];	/* times of the last downs (a ring) */
	uint32_t n_down;
	int64_t retry_ms, backoff_ms;	/* background initiations while down */
};

struct live {
	struct live_tunnel *t;		/* parallel to the tracked intent's tunnels */
	size_t n;
	int64_t start_ms;
};

struct live *live_new(int64_t now_ms);
void live_free(struct live *l);
/* Follows in's tunnels by id: kept ones keep their state, new ones start idle and
 * forwarding. 0 or -ENOMEM. */
int live_track(struct live *l, const struct intent *in, int64_t now_ms);
/* Seeds tunnel states saved by live_save_json (an agent restart): a tunnel that was
 * out of forwarding stays out until it is proven up. Unknown ids are ignored. */
void live_load_json(struct live *l, const json_t *saved, int64_t now_ms);
json_t *live_save_json(const struct live *l);
/* Takes tunnel i's signals. Returns true when its forwarding changed (the routes
 * must follow) — state changes without that are visible through the tunnel. */
bool live_update(struct live *l, size_t i, const struct live_input *in, int64_t now_ms);
/* The earliest time at which live_update may change something without new input
 * (a hold or suppression ending, a grace or an initiation timing out), INT64_MAX for
 * none. */
int64_t live_next_ms(const struct live *l, int64_t now_ms);
/* True when tunnel i is down and its background initiation is due; schedules the
 * next one with backoff. */
bool live_retry_due(struct live *l, size_t i, const struct live_input *in, int64_t now_ms);
/* True when tunnel i is down for BFD while its CHILD_SA is installed, and a rekey is
 * due (the same backoff as retries): SAs that carry nothing one way, e.g. the two ends
 * kept different SAs of a simultaneous negotiation, are replaced by fresh ones. A dead
 * peer does not answer the rekey, and charon gives its IKE_SA up. */
bool live_rekey_due(struct live *l, size_t i, const struct live_input *in, int64_t now_ms);
/* Whether tunnel i wants a BFD session: enabled, its interface fine, and an SA up or
 * a verdict other than idle (a down tunnel's BFD keeps asking for its SA). */
bool live_wants_bfd(const struct live *l, size_t i, const struct live_input *in);

/* view becomes a shallow copy of in whose routes skip tunnels out of forwarding,
 * except that a prefix (at any metric) whose every route would go keeps them all:
 * with no live path, traffic must not leave in clear by a default route. Free with
 * live_view_clear (not intent_free). 0 or -ENOMEM. */
int live_route_view(const struct live *l, const struct intent *in, struct intent *view);
void live_view_clear(struct intent *view);

const char *live_state_name(enum live_state s);	/* "up", "down", "idle", "admin-down" */
const char *live_reason_name(enum live_reason r);	/* NULL for none */
/* {"state", "since", "flaps", "reason", "forwarding", "bfd"} for reports. */
json_t *live_tunnel_json(const struct live_tunnel *t, const struct live_input *in);

#endif
