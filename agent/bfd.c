/* BFD control packets and the state machine of one session (RFC 5880; see bfd.h). */
#include <string.h>

#include "bfd.h"

#define BFD_FLAG_P 0x20
#define BFD_FLAG_F 0x10
#define BFD_FLAG_C 0x08
#define BFD_FLAG_A 0x04
#define BFD_FLAG_D 0x02
#define BFD_FLAG_M 0x01
#define BFD_AUTH_MIN_LEN 26	/* the header plus the smallest authentication section */

/* ---- packet codec (§4.1) ---- */

static uint32_t bfd_get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void bfd_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* The checks run in the order of §6.8.6, so a packet with several faults is counted
 * under the first one the RFC names. */
enum bfd_drop bfd_pkt_decode(const void *buf, size_t len, struct bfd_pkt *out)
{
	const uint8_t *b = buf;
	struct bfd_pkt p;

	if (!b || len < BFD_PKT_LEN)
		return BFD_DROP_SHORT;
	p = (struct bfd_pkt){
		.version = b[0] >> 5,
		.diag = (enum bfd_diag)(b[0] & 0x1f),
		.state = (enum bfd_state)(b[1] >> 6),
		.poll = b[1] & BFD_FLAG_P,
		.final = b[1] & BFD_FLAG_F,
		.cpi = b[1] & BFD_FLAG_C,
		.auth = b[1] & BFD_FLAG_A,
		.demand = b[1] & BFD_FLAG_D,
		.multipoint = b[1] & BFD_FLAG_M,
		.detect_mult = b[2],
		.length = b[3],
		.my_discr = bfd_get32(b + 4),
		.your_discr = bfd_get32(b + 8),
		.desired_min_tx_us = bfd_get32(b + 12),
		.required_min_rx_us = bfd_get32(b + 16),
		.required_min_echo_rx_us = bfd_get32(b + 20),
	};
	if (p.version != BFD_VERSION)
		return BFD_DROP_VERSION;
	if (p.length < (p.auth ? BFD_AUTH_MIN_LEN : BFD_PKT_LEN) || p.length > len)
		return BFD_DROP_LENGTH;
	if (!p.detect_mult)
		return BFD_DROP_MULT;
	if (p.multipoint)
		return BFD_DROP_MULTIPOINT;
	if (!p.my_discr)
		return BFD_DROP_MY_DISCR;
	if (!p.your_discr && p.state != BFD_DOWN && p.state != BFD_ADMIN_DOWN)
		return BFD_DROP_YOUR_DISCR;
	if (p.auth)
		return BFD_DROP_AUTH;
	*out = p;
	return BFD_DROP_NONE;
}

size_t bfd_pkt_encode(const struct bfd_pkt *p, uint8_t out[BFD_PKT_LEN])
{
	out[0] = (uint8_t)((p->version & 0x7) << 5 | (p->diag & 0x1f));
	out[1] = (uint8_t)((p->state & 0x3) << 6 | (p->poll ? BFD_FLAG_P : 0) |
			   (p->final ? BFD_FLAG_F : 0) | (p->cpi ? BFD_FLAG_C : 0) |
			   (p->auth ? BFD_FLAG_A : 0) | (p->demand ? BFD_FLAG_D : 0) |
			   (p->multipoint ? BFD_FLAG_M : 0));
	out[2] = p->detect_mult;
	out[3] = BFD_PKT_LEN;
	bfd_put32(out + 4, p->my_discr);
	bfd_put32(out + 8, p->your_discr);
	bfd_put32(out + 12, p->desired_min_tx_us);
	bfd_put32(out + 16, p->required_min_rx_us);
	bfd_put32(out + 20, p->required_min_echo_rx_us);
	return BFD_PKT_LEN;
}

const char *bfd_state_name(enum bfd_state s)
{
	static const char *const names[] = { "admin-down", "down", "init", "up" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *bfd_diag_name(enum bfd_diag d)
{
	static const char *const names[] = {
		"none", "time-expired", "echo-failed", "neighbor-down", "forwarding-reset",
		"path-down", "concat-down", "admin-down", "reverse-concat-down",
	};

	return (unsigned)d < sizeof(names) / sizeof(names[0]) ? names[d] : "unknown";
}

const char *bfd_drop_name(enum bfd_drop d)
{
	static const char *const names[] = {
		[BFD_DROP_NONE] = "none", [BFD_DROP_SHORT] = "short",
		[BFD_DROP_VERSION] = "version", [BFD_DROP_LENGTH] = "length",
		[BFD_DROP_MULT] = "mult", [BFD_DROP_MULTIPOINT] = "multipoint",
		[BFD_DROP_MY_DISCR] = "my-discr", [BFD_DROP_YOUR_DISCR] = "your-discr",
		[BFD_DROP_AUTH] = "auth", [BFD_DROP_TTL] = "ttl",
		[BFD_DROP_NO_SESSION] = "no-session", [BFD_DROP_ADMIN_DOWN] = "admin-down",
	};

	return (unsigned)d < BFD_DROP__MAX ? names[d] : "unknown";
}

/* ---- one session ---- */

static uint32_t bfd_max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static uint32_t bfd_session_rand(struct bfd_session *s)
{
	uint32_t x = s->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return s->rng = x;
}

/* How early a periodic packet may go: a twentieth of the interval, at most
 * BFD_TX_SLACK_US. */
static uint32_t bfd_session_slack(uint32_t iv)
{
	return iv / 20 < BFD_TX_SLACK_US ? iv / 20 : BFD_TX_SLACK_US;
}

/* §6.8.7: 75-100 % of the interval, 75-90 % with a detect multiplier of 1 so that one
 * late packet cannot take the peer past its detection time. The lower end is raised by
 * the slack, since a packet may go that much before its time: what the peer sees
 * stays within 75-100 %. Never 0: the caller's loop must move forward. */
static uint32_t bfd_session_jitter(struct bfd_session *s, uint32_t iv)
{
	uint32_t lo = iv - iv / 4 + bfd_session_slack(iv);
	uint32_t hi = s->cfg.detect_mult == 1 ? iv - (iv / 10 + (iv % 10 != 0)) : iv;
	uint32_t j = hi > lo ? lo + bfd_session_rand(s) % (hi - lo + 1) : lo;

	return j ? j : 1;
}

/* §6.8.2: the greater of what we want and what the peer can take. While our Poll
 * Sequence runs in Up, an increase of our own DesiredMinTx waits for the Final
 * (§6.8.3) so the peer has widened its detection time first; the peer's own
 * RequiredMinRx is obeyed at once. */
static void bfd_session_tx_update(struct bfd_session *s, int64_t now)
{
	uint32_t want = bfd_max32(s->desired_min_tx_us, s->remote_min_rx_us);
	uint32_t iv = want;

	if (s->poll && s->state == BFD_UP && want > s->tx_interval_us)
		iv = bfd_max32(s->tx_interval_us, s->remote_min_rx_us);
	s->tx_interval_us = iv;
	/* A shorter interval applies now, not after the longer wait already scheduled. */
	if (s->next_tx_us > now + (int64_t)iv)
		s->next_tx_us = now + bfd_session_jitter(s, iv);
}

/* The advertised intervals for the current state (§6.8.3: at least 1 s unless Up);
 * any change is announced by a Poll Sequence, sent at once. A reduced RequiredMinRx
 * only shortens our detection time once the Final says the peer sends faster. */
static void bfd_session_timers(struct bfd_session *s, int64_t now)
{
	uint32_t tx = s->state == BFD_UP ? s->cfg.desired_min_tx_us : BFD_SLOW_TX_US;
	uint32_t rx = s->cfg.required_min_rx_us;

	if (tx == s->desired_min_tx_us && rx == s->required_min_rx_us)
		return;
	if (s->state != BFD_UP || rx > s->detect_rx_us)
		s->detect_rx_us = rx;
	s->desired_min_tx_us = tx;
	s->required_min_rx_us = rx;
	if (s->state != BFD_ADMIN_DOWN) {
		s->poll = true;
		s->next_tx_us = now;
	}
	bfd_session_tx_update(s, now);
}

/* Every state change goes out at once rather than at the next periodic slot, so a
 * three-way handshake between two running ends takes milliseconds. */
static void bfd_session_move(struct bfd_session *s, enum bfd_state st, enum bfd_diag diag,
			     int64_t now)
{
	enum bfd_state old = s->state;

	s->state = st;
	s->local_diag = diag;
	s->changed_at_us = now;
	s->next_tx_us = now;
	if (st == BFD_UP)
		s->ups++;
	else if (old == BFD_UP)
		s->downs++;
	bfd_session_timers(s, now);
}

void bfd_session_init(struct bfd_session *s, const struct bfd_cfg *cfg, uint32_t discr,
		      uint32_t seed, int64_t now_us)
{
	*s = (struct bfd_session){
		.state = BFD_DOWN,
		.remote_state = BFD_DOWN,
		.local_discr = discr,
		.local_diag = BFD_DIAG_NONE,
		.desired_min_tx_us = BFD_SLOW_TX_US,
		.required_min_rx_us = cfg->required_min_rx_us,
		.remote_min_rx_us = 1,		/* §6.8.1 */
		.tx_interval_us = BFD_SLOW_TX_US,
		.detect_rx_us = cfg->required_min_rx_us,
		.cfg = *cfg,
		.next_tx_us = now_us,
		.changed_at_us = now_us,
		.rng = seed ? seed : 0x9e3779b9u,	/* xorshift never leaves 0 */
	};
}

/* The state table of §6.8.6, after the received AdminDown case. */
static void bfd_session_fsm(struct bfd_session *s, enum bfd_state rs, int64_t now)
{
	if (rs == BFD_ADMIN_DOWN) {
		if (s->state != BFD_DOWN)
			bfd_session_move(s, BFD_DOWN, BFD_DIAG_NEIGHBOR_DOWN, now);
		return;
	}
	switch (s->state) {
	case BFD_DOWN:
		if (rs == BFD_DOWN)
			bfd_session_move(s, BFD_INIT, s->local_diag, now);
		else if (rs == BFD_INIT)
			bfd_session_move(s, BFD_UP, BFD_DIAG_NONE, now);
		break;
	case BFD_INIT:
		if (rs == BFD_INIT || rs == BFD_UP)
			bfd_session_move(s, BFD_UP, BFD_DIAG_NONE, now);
		break;
	case BFD_UP:
		if (rs == BFD_DOWN)
			bfd_session_move(s, BFD_DOWN, BFD_DIAG_NEIGHBOR_DOWN, now);
		break;
	case BFD_ADMIN_DOWN:
		break;
	}
}

enum bfd_drop bfd_session_rx(struct bfd_session *s, const struct bfd_pkt *p, int64_t now_us,
			     bool *changed)
{
	enum bfd_state old = s->state;

	*changed = false;
	if (p->auth)
		return BFD_DROP_AUTH;
	if (p->your_discr && p->your_discr != s->local_discr)
		return BFD_DROP_NO_SESSION;
	s->remote_discr = p->my_discr;
	s->remote_state = p->state;
	s->remote_min_rx_us = p->required_min_rx_us;
	s->remote_desired_min_tx_us = p->desired_min_tx_us;
	s->remote_detect_mult = p->detect_mult;
	if (s->poll && p->final) {
		s->poll = false;
		s->detect_rx_us = s->required_min_rx_us;
	}
	bfd_session_tx_update(s, now_us);
	if (s->state == BFD_ADMIN_DOWN)
		return BFD_DROP_ADMIN_DOWN;
	bfd_session_fsm(s, p->state, now_us);
	if (p->poll)
		s->send_final = true;
	s->rx++;
	s->detect_at_us = now_us + bfd_session_detect_us(s);
	*changed = s->state != old;
	return BFD_DROP_NONE;
}

/* §6.8.1: RemoteDiscr is forgotten after a detection time of silence in any state;
 * §6.8.4: only Init and Up go Down for it. */
bool bfd_session_expire(struct bfd_session *s, int64_t now_us)
{
	if (!s->detect_at_us || now_us < s->detect_at_us)
		return false;
	s->detect_at_us = 0;
	s->remote_discr = 0;
	if (s->state != BFD_INIT && s->state != BFD_UP)
		return false;
	bfd_session_move(s, BFD_DOWN, BFD_DIAG_TIME_EXPIRED, now_us);
	return true;
}

bool bfd_session_tx_due(const struct bfd_session *s, int64_t now_us)
{
	return s->next_tx_us <= now_us + bfd_session_slack(s->tx_interval_us);
}

bool bfd_session_tx(struct bfd_session *s, int64_t now_us, struct bfd_pkt *p)
{
	bool due = bfd_session_tx_due(s, now_us), final = s->send_final;

	if (!due && !final)
		return false;
	if (due)
		s->next_tx_us = now_us + bfd_session_jitter(s, s->tx_interval_us);
	/* §6.8.7: nothing periodic to a peer that asks for none; a Final is an answer. */
	if (!final && !s->remote_min_rx_us)
		return false;
	s->send_final = false;
	*p = (struct bfd_pkt){
		.version = BFD_VERSION,
		.diag = s->local_diag,
		.state = s->state,
		.poll = s->poll && !final,	/* §6.5: never P and F together */
		.final = final,
		.detect_mult = s->cfg.detect_mult,
		.length = BFD_PKT_LEN,
		.my_discr = s->local_discr,
		.your_discr = s->remote_discr,
		.desired_min_tx_us = s->desired_min_tx_us,
		.required_min_rx_us = s->required_min_rx_us,
		.required_min_echo_rx_us = 0,
	};
	s->tx++;
	return true;
}

int64_t bfd_session_next_us(const struct bfd_session *s)
{
	int64_t t = s->send_final ? 0 : s->next_tx_us;

	return s->detect_at_us && s->detect_at_us < t ? s->detect_at_us : t;
}

void bfd_session_set_cfg(struct bfd_session *s, const struct bfd_cfg *cfg, int64_t now_us)
{
	s->cfg = *cfg;
	bfd_session_timers(s, now_us);
}

void bfd_session_admin_down(struct bfd_session *s, int64_t now_us)
{
	if (s->state == BFD_ADMIN_DOWN)
		return;
	s->poll = false;
	s->send_final = false;
	s->detect_at_us = 0;
	bfd_session_move(s, BFD_ADMIN_DOWN, BFD_DIAG_ADMIN_DOWN, now_us);
}

int64_t bfd_session_detect_us(const struct bfd_session *s)
{
	if (!s->remote_detect_mult)
		return 0;
	return (int64_t)s->remote_detect_mult * bfd_max32(s->detect_rx_us,
							  s->remote_desired_min_tx_us);
}

bool bfd_session_resumable(const struct bfd_session *s, struct bfd_resume *out)
{
	if (s->state != BFD_UP || s->poll || !s->remote_discr || !s->remote_detect_mult)
		return false;
	*out = (struct bfd_resume){
		.local_discr = s->local_discr,
		.remote_discr = s->remote_discr,
		.remote_min_rx_us = s->remote_min_rx_us,
		.remote_desired_min_tx_us = s->remote_desired_min_tx_us,
		.remote_detect_mult = s->remote_detect_mult,
	};
	return true;
}

void bfd_session_resume(struct bfd_session *s, const struct bfd_cfg *cfg,
			const struct bfd_resume *r, uint32_t seed, int64_t now_us)
{
	bfd_session_init(s, cfg, r->local_discr, seed, now_us);
	s->state = BFD_UP;
	s->remote_state = BFD_UP;
	s->remote_discr = r->remote_discr;
	s->remote_min_rx_us = r->remote_min_rx_us;
	s->remote_desired_min_tx_us = r->remote_desired_min_tx_us;
	s->remote_detect_mult = r->remote_detect_mult;
	/* From the slow start values to cfg's: a Poll Sequence, sent now. The peer's
	 * packets kept coming while no agent listened, so its silence from here on is
	 * news within the usual detection time. */
	bfd_session_timers(s, now_us);
	s->detect_at_us = now_us + bfd_session_detect_us(s);
}
