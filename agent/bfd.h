/* BFD (RFC 5880 asynchronous mode, RFC 5881 single hop): the control packet codec
 * and the state machine of one session. Pure: no sockets, no clock; the caller passes
 * the time (monotonic microseconds) and moves the bytes (agent/bfd_set.c).
 *
 * What gresec speaks: asynchronous mode only (no Demand mode, no Echo function), no
 * authentication (a packet with the A bit is discarded), single hop (TTL 255 sent and
 * checked by the socket layer). Timers follow §6.8.2-6.8.4: while the session is not
 * Up the desired transmit interval is at least one second; on reaching Up it drops to
 * the configured interval through a Poll Sequence, and every later change of either
 * interval starts one. Periodic packets are jittered by 0-25 % (10-25 % with a detect
 * multiplier of 1) below the negotiated interval. */
#ifndef GRESEC_BFD_H
#define GRESEC_BFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BFD_PORT 3784			/* RFC 5881: single-hop control packets */
#define BFD_SRC_PORT_MIN 49152
#define BFD_SRC_PORT_MAX 65535
#define BFD_TTL 255
#define BFD_VERSION 1
#define BFD_PKT_LEN 24			/* the mandatory section; we send nothing else */
#define BFD_SLOW_TX_US 1000000u		/* §6.8.3: desired min TX while not Up */
/* A periodic packet may go up to this much (and at most 5 % of the interval) before
 * its time, so that a loop serving hundreds of sessions sends those due within one
 * window together and wakes a few hundred times a second, not once per packet. The
 * jitter's lower end is raised by as much, so the intervals the peer sees stay within
 * §6.8.7's 75-100 %. */
#define BFD_TX_SLACK_US 5000u

enum bfd_state { BFD_ADMIN_DOWN = 0, BFD_DOWN = 1, BFD_INIT = 2, BFD_UP = 3 };

enum bfd_diag {
	BFD_DIAG_NONE = 0,
	BFD_DIAG_TIME_EXPIRED = 1,	/* Control Detection Time Expired */
	BFD_DIAG_ECHO_FAILED = 2,
	BFD_DIAG_NEIGHBOR_DOWN = 3,	/* Neighbor Signaled Session Down */
	BFD_DIAG_FWD_RESET = 4,
	BFD_DIAG_PATH_DOWN = 5,
	BFD_DIAG_CONCAT_DOWN = 6,
	BFD_DIAG_ADMIN_DOWN = 7,
	BFD_DIAG_REV_CONCAT_DOWN = 8,
};

/* Why a received packet was discarded (§6.8.6 and RFC 5881 §5), counted per reason. */
enum bfd_drop {
	BFD_DROP_NONE = 0,
	BFD_DROP_SHORT,			/* fewer bytes than the 24-byte mandatory section */
	BFD_DROP_VERSION,
	BFD_DROP_LENGTH,		/* Length below 24 (26 with A), or above the payload */
	BFD_DROP_MULT,			/* Detect Mult zero */
	BFD_DROP_MULTIPOINT,		/* M bit */
	BFD_DROP_MY_DISCR,		/* My Discriminator zero */
	BFD_DROP_YOUR_DISCR,		/* Your Discriminator zero while not Down/AdminDown */
	BFD_DROP_AUTH,			/* A bit, and no authentication configured */
	BFD_DROP_TTL,			/* not 255: not from a direct neighbour */
	BFD_DROP_NO_SESSION,		/* no session matches */
	BFD_DROP_ADMIN_DOWN,		/* the local session is AdminDown */
	BFD_DROP__MAX
};

struct bfd_pkt {
	uint8_t version;
	enum bfd_diag diag;
	enum bfd_state state;
	bool poll, final, cpi, auth, demand, multipoint;
	uint8_t detect_mult;
	uint8_t length;
	uint32_t my_discr, your_discr;
	uint32_t desired_min_tx_us, required_min_rx_us, required_min_echo_rx_us;
};

/* Checks everything §6.8.6 allows without a session (version, lengths, multiplier,
 * M bit, discriminators, A bit) and decodes. BFD_DROP_NONE or the reason. */
enum bfd_drop bfd_pkt_decode(const void *buf, size_t len, struct bfd_pkt *out);
/* Writes the 24-byte mandatory section. Returns BFD_PKT_LEN. */
size_t bfd_pkt_encode(const struct bfd_pkt *p, uint8_t out[BFD_PKT_LEN]);

const char *bfd_state_name(enum bfd_state s);	/* "admin-down", "down", "init", "up" */
const char *bfd_diag_name(enum bfd_diag d);	/* "none", "time-expired", ... */
const char *bfd_drop_name(enum bfd_drop d);	/* "short", "version", ... */

struct bfd_cfg {
	uint32_t desired_min_tx_us;	/* once Up */
	uint32_t required_min_rx_us;
	uint8_t detect_mult;
};

/* One session: the state variables of RFC 5880 §6.8.1 and its two timers. */
struct bfd_session {
	enum bfd_state state, remote_state;
	uint32_t local_discr, remote_discr;
	enum bfd_diag local_diag;
	uint32_t desired_min_tx_us;	/* advertised now: >= 1 s while not Up */
	uint32_t required_min_rx_us;
	uint32_t remote_min_rx_us;
	uint32_t remote_desired_min_tx_us;
	uint8_t remote_detect_mult;
	bool poll;			/* a Poll Sequence of ours is running */
	bool send_final;		/* the peer polled: answer with F at once */
	uint32_t tx_interval_us;	/* the interval in force (kept during a poll) */
	uint32_t detect_rx_us;		/* the RequiredMinRx the detection time uses */
	struct bfd_cfg cfg;
	int64_t next_tx_us;		/* 0: send at once */
	int64_t detect_at_us;		/* 0: detection timer not armed */
	int64_t changed_at_us;		/* last state change */
	uint32_t rng;			/* xorshift state for jitter */
	uint64_t tx, rx;		/* packets */
	uint32_t ups, downs;		/* transitions into Up / from Up to a lower state */
};

/* A new session in Down with local discriminator discr (non-zero, unique per agent);
 * its first packet is due at now. */
void bfd_session_init(struct bfd_session *s, const struct bfd_cfg *cfg, uint32_t discr,
		      uint32_t seed, int64_t now_us);
/* A packet bfd_pkt_decode accepted and the caller matched to s (by Your
 * Discriminator, or by address and interface when it is zero). Applies §6.8.6 from
 * "if the A bit is set" on. BFD_DROP_NONE when taken, else why it was discarded.
 * *changed tells whether s->state moved. */
enum bfd_drop bfd_session_rx(struct bfd_session *s, const struct bfd_pkt *p, int64_t now_us,
			     bool *changed);
/* Detection time expiry (§6.8.4). True when the state moved (Up/Init -> Down). */
bool bfd_session_expire(struct bfd_session *s, int64_t now_us);
/* When a packet is due (periodic, a Final, or right after a state change), fills p,
 * schedules the next periodic one with jitter and returns true. */
bool bfd_session_tx(struct bfd_session *s, int64_t now_us, struct bfd_pkt *p);
/* Whether a periodic packet is due at now (within the slack). */
bool bfd_session_tx_due(const struct bfd_session *s, int64_t now_us);
/* The earliest of the next transmission and the detection deadline. (Woken then, a
 * loop sends what is due within the slack too, so the next wakeup is at least a slack
 * away.) */
int64_t bfd_session_next_us(const struct bfd_session *s);
/* New intervals or multiplier: takes effect through a Poll Sequence (§6.8.3). */
void bfd_session_set_cfg(struct bfd_session *s, const struct bfd_cfg *cfg, int64_t now_us);
/* Enters AdminDown (diag 7) and sends it at once; the session then ignores the peer. */
void bfd_session_admin_down(struct bfd_session *s, int64_t now_us);
/* What a session's next agent needs to carry it on without the peer noticing: its
 * identity and the peer's last timers (agent/bfd_handoff.c). */
struct bfd_resume {
	uint32_t local_discr, remote_discr;
	uint32_t remote_min_rx_us, remote_desired_min_tx_us;
	uint8_t remote_detect_mult;
};
/* The state of an Up session worth handing over: Up, and no Poll Sequence of ours
 * unanswered (the peer has acknowledged the timers it now waits by). */
bool bfd_session_resumable(const struct bfd_session *s, struct bfd_resume *out);
/* A session taken over from the previous agent: Up with its discriminators, the
 * timers of cfg announced by a Poll Sequence at once (the previous agent left the
 * peer waiting with longer ones), the detection timer armed from the peer's timers. */
void bfd_session_resume(struct bfd_session *s, const struct bfd_cfg *cfg,
			const struct bfd_resume *r, uint32_t seed, int64_t now_us);
/* Detection time in force: the peer's multiplier x the agreed remote interval, 0 when
 * nothing has been received yet. */
int64_t bfd_session_detect_us(const struct bfd_session *s);

#endif
