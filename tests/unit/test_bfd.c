/* BFD (agent/bfd.c): the control packet codec, every discard rule of RFC 5880 §6.8.6
 * with a crafted packet, and the state machine of two sessions wired back to back
 * under a fake clock: handshake, Poll/Final, detection, AdminDown, jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bfd.h"

#define MS 1000
#define FAST (100 * MS)

static const struct bfd_cfg cfg_fast = {
	.desired_min_tx_us = FAST, .required_min_rx_us = FAST, .detect_mult = 3,
};

static struct bfd_pkt sample_pkt(void)
{
	return (struct bfd_pkt){
		.version = BFD_VERSION, .diag = BFD_DIAG_NONE, .state = BFD_UP,
		.detect_mult = 3, .length = BFD_PKT_LEN, .my_discr = 0x11223344,
		.your_discr = 0x55667788, .desired_min_tx_us = 100000,
		.required_min_rx_us = 200000, .required_min_echo_rx_us = 0,
	};
}

static void test_codec_round_trip(void **state)
{
	struct bfd_pkt p = sample_pkt(), q;
	uint8_t buf[BFD_PKT_LEN];
	static const uint8_t want[BFD_PKT_LEN] = {
		0x20, 0xe0, 3, 24, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
		0, 0x01, 0x86, 0xa0, 0, 0x03, 0x0d, 0x40, 0, 0, 0, 0,
	};

	(void)state;
	p.poll = true;
	assert_int_equal(bfd_pkt_encode(&p, buf), BFD_PKT_LEN);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(bfd_pkt_decode(buf, sizeof(buf), &q), BFD_DROP_NONE);
	assert_int_equal(q.version, 1);
	assert_int_equal(q.state, BFD_UP);
	assert_true(q.poll);
	assert_false(q.final || q.cpi || q.auth || q.demand || q.multipoint);
	assert_int_equal(q.detect_mult, 3);
	assert_int_equal(q.my_discr, 0x11223344);
	assert_int_equal(q.your_discr, 0x55667788);
	assert_int_equal(q.desired_min_tx_us, 100000);
	assert_int_equal(q.required_min_rx_us, 200000);
	p.poll = false;
	p.final = true;
	p.diag = BFD_DIAG_ADMIN_DOWN;
	p.state = BFD_ADMIN_DOWN;
	bfd_pkt_encode(&p, buf);
	assert_int_equal(bfd_pkt_decode(buf, sizeof(buf), &q), BFD_DROP_NONE);
	assert_int_equal(q.diag, BFD_DIAG_ADMIN_DOWN);
	assert_int_equal(q.state, BFD_ADMIN_DOWN);
	assert_true(q.final);
	assert_false(q.poll);
	assert_string_equal(bfd_state_name(BFD_INIT), "init");
	assert_string_equal(bfd_diag_name(BFD_DIAG_NEIGHBOR_DOWN), "neighbor-down");
	assert_string_equal(bfd_drop_name(BFD_DROP_TTL), "ttl");
	assert_string_equal(bfd_drop_name(BFD_DROP__MAX), "unknown");
	assert_string_equal(bfd_diag_name((enum bfd_diag)31), "unknown");
}

/* A valid packet in buf, then one byte changed: the decoder must say why it drops. */
static enum bfd_drop decode_with(size_t off, uint8_t val, size_t len)
{
	struct bfd_pkt p = sample_pkt(), q;
	uint8_t buf[64] = { 0 };

	bfd_pkt_encode(&p, buf);
	buf[off] = val;
	memset(&q, 0xa5, sizeof(q));
	return bfd_pkt_decode(buf, len, &q);
}

static void test_decode_drops(void **state)
{
	uint8_t b1 = (BFD_UP << 6);

	(void)state;
	assert_int_equal(decode_with(0, 0x20, BFD_PKT_LEN), BFD_DROP_NONE);
	assert_int_equal(decode_with(0, 0x40, BFD_PKT_LEN), BFD_DROP_VERSION);
	assert_int_equal(decode_with(0, 0x00, BFD_PKT_LEN), BFD_DROP_VERSION);
	assert_int_equal(decode_with(0, 0x20, BFD_PKT_LEN - 1), BFD_DROP_SHORT);
	assert_int_equal(decode_with(0, 0x20, 0), BFD_DROP_SHORT);
	assert_int_equal(bfd_pkt_decode(NULL, 0, &(struct bfd_pkt){ 0 }), BFD_DROP_SHORT);
	assert_int_equal(decode_with(3, 23, BFD_PKT_LEN), BFD_DROP_LENGTH);
	assert_int_equal(decode_with(3, 0, BFD_PKT_LEN), BFD_DROP_LENGTH);
	assert_int_equal(decode_with(3, 25, BFD_PKT_LEN), BFD_DROP_LENGTH);
	assert_int_equal(decode_with(3, 255, 64), BFD_DROP_LENGTH);
	/* Length below the payload is fine: trailing bytes are the encapsulation's. */
	assert_int_equal(decode_with(3, 24, 64), BFD_DROP_NONE);
	assert_int_equal(decode_with(2, 0, BFD_PKT_LEN), BFD_DROP_MULT);
	assert_int_equal(decode_with(1, b1 | 0x01, BFD_PKT_LEN), BFD_DROP_MULTIPOINT);
	/* A bit: 24 bytes are too short for an authentication section, 26 are not, and
	 * then the packet is still dropped since no authentication is configured. */
	assert_int_equal(decode_with(1, b1 | 0x04, BFD_PKT_LEN), BFD_DROP_LENGTH);
}

static void test_decode_discriminators(void **state)
{
	struct bfd_pkt p = sample_pkt(), q;
	uint8_t buf[32] = { 0 };

	(void)state;
	p.my_discr = 0;
	bfd_pkt_encode(&p, buf);
	assert_int_equal(bfd_pkt_decode(buf, BFD_PKT_LEN, &q), BFD_DROP_MY_DISCR);
	p = sample_pkt();
	p.your_discr = 0;
	p.state = BFD_UP;
	bfd_pkt_encode(&p, buf);
	assert_int_equal(bfd_pkt_decode(buf, BFD_PKT_LEN, &q), BFD_DROP_YOUR_DISCR);
	p.state = BFD_INIT;
	bfd_pkt_encode(&p, buf);
	assert_int_equal(bfd_pkt_decode(buf, BFD_PKT_LEN, &q), BFD_DROP_YOUR_DISCR);
	p.state = BFD_DOWN;
	bfd_pkt_encode(&p, buf);
	assert_int_equal(bfd_pkt_decode(buf, BFD_PKT_LEN, &q), BFD_DROP_NONE);
	p.state = BFD_ADMIN_DOWN;
	bfd_pkt_encode(&p, buf);
	assert_int_equal(bfd_pkt_decode(buf, BFD_PKT_LEN, &q), BFD_DROP_NONE);
	p = sample_pkt();
	p.auth = true;
	bfd_pkt_encode(&p, buf);
	buf[3] = 26;
	assert_int_equal(bfd_pkt_decode(buf, 26, &q), BFD_DROP_AUTH);
	assert_int_equal(bfd_pkt_decode(buf, 25, &q), BFD_DROP_LENGTH);
}

static void test_session_rx_auth_and_discr(void **state)
{
	struct bfd_session s;
	struct bfd_pkt p = sample_pkt();
	bool changed = true;

	(void)state;
	bfd_session_init(&s, &cfg_fast, 0x55667788, 1, 0);
	p.auth = true;
	assert_int_equal(bfd_session_rx(&s, &p, 10, &changed), BFD_DROP_AUTH);
	assert_false(changed);
	assert_int_equal(s.remote_discr, 0);
	p = sample_pkt();
	p.your_discr = 0x1234;
	assert_int_equal(bfd_session_rx(&s, &p, 10, &changed), BFD_DROP_NO_SESSION);
	assert_int_equal(s.rx, 0);
	assert_int_equal(s.state, BFD_DOWN);
}

/* ---- two sessions back to back under a fake clock ---- */

struct pair {
	struct bfd_session s[2];
	int64_t now;
	bool link;		/* false: packets are lost */
	int polls[2], finals[2];	/* packets sent with P / with F */
};

static void pair_init(struct pair *pr, const struct bfd_cfg *cfg)
{
	memset(pr, 0, sizeof(*pr));
	pr->now = 1000000;
	pr->link = true;
	bfd_session_init(&pr->s[0], cfg, 0xa, 12345, pr->now);
	bfd_session_init(&pr->s[1], cfg, 0xb, 67890, pr->now);
}

/* Every due packet of both sides delivered at once, until nothing is due. */
static void pair_flush(struct pair *pr)
{
	bool sent;

	do {
		sent = false;
		for (int i = 0; i < 2; i++) {
			struct bfd_pkt p;
			uint8_t buf[BFD_PKT_LEN];
			bool changed;

			bfd_session_expire(&pr->s[i], pr->now);
			while (bfd_session_tx(&pr->s[i], pr->now, &p)) {
				assert_false(p.poll && p.final);
				pr->polls[i] += p.poll;
				pr->finals[i] += p.final;
				sent = true;
				if (!pr->link)
					continue;
				bfd_pkt_encode(&p, buf);
				assert_int_equal(bfd_pkt_decode(buf, sizeof(buf), &p), BFD_DROP_NONE);
				assert_int_equal(bfd_session_rx(&pr->s[!i], &p, pr->now, &changed),
						 BFD_DROP_NONE);
			}
		}
	} while (sent);
}

static void pair_advance_to(struct pair *pr, int64_t until)
{
	while (pr->now < until) {
		int64_t n0 = bfd_session_next_us(&pr->s[0]), n1 = bfd_session_next_us(&pr->s[1]);
		int64_t next = n0 < n1 ? n0 : n1;

		pr->now = next > pr->now ? (next < until ? next : until) : pr->now;
		pair_flush(pr);
	}
}

static void test_three_way_handshake(void **state)
{
	struct pair pr;
	struct bfd_pkt p;
	bool changed;

	(void)state;
	pair_init(&pr, &cfg_fast);
	/* Side 0 speaks first; side 1 is not listening yet (its packet is lost). */
	assert_true(bfd_session_tx(&pr.s[1], pr.now, &p));
	assert_true(bfd_session_tx(&pr.s[0], pr.now, &p));
	assert_int_equal(p.state, BFD_DOWN);
	assert_int_equal(p.your_discr, 0);
	assert_int_equal(p.desired_min_tx_us, BFD_SLOW_TX_US);
	assert_int_equal(bfd_session_rx(&pr.s[1], &p, pr.now, &changed), BFD_DROP_NONE);
	assert_true(changed);
	assert_int_equal(pr.s[1].state, BFD_INIT);
	assert_int_equal(pr.s[1].remote_discr, 0xa);
	/* Init goes out at once, not a second later. */
	assert_int_equal(bfd_session_next_us(&pr.s[1]), pr.now);
	assert_true(bfd_session_tx(&pr.s[1], pr.now, &p));
	assert_int_equal(p.state, BFD_INIT);
	assert_int_equal(p.your_discr, 0xa);
	assert_int_equal(bfd_session_rx(&pr.s[0], &p, pr.now, &changed), BFD_DROP_NONE);
	assert_true(changed);
	assert_int_equal(pr.s[0].state, BFD_UP);
	assert_true(bfd_session_tx(&pr.s[0], pr.now, &p));
	assert_int_equal(p.state, BFD_UP);
	assert_int_equal(bfd_session_rx(&pr.s[1], &p, pr.now, &changed), BFD_DROP_NONE);
	assert_int_equal(pr.s[1].state, BFD_UP);
	assert_int_equal(pr.s[0].ups, 1);
	assert_int_equal(pr.s[1].ups, 1);
	assert_int_equal(pr.s[0].local_diag, BFD_DIAG_NONE);
	assert_int_equal(pr.s[1].remote_discr, 0xa);
	assert_int_equal(pr.s[0].remote_discr, 0xb);
}

static void test_handshake_from_both_sides(void **state)
{
	struct pair pr;

	(void)state;
	pair_init(&pr, &cfg_fast);
	pair_flush(&pr);
	assert_int_equal(pr.s[0].state, BFD_UP);
	assert_int_equal(pr.s[1].state, BFD_UP);
	assert_int_equal(pr.s[0].changed_at_us, pr.now);
	/* Stays Up for a long while (the periodic packets keep detection away). */
	pair_advance_to(&pr, pr.now + 60 * 1000000LL);
	assert_int_equal(pr.s[0].state, BFD_UP);
	assert_int_equal(pr.s[1].state, BFD_UP);
	assert_int_equal(pr.s[0].downs, 0);
	assert_false(pr.s[0].poll || pr.s[1].poll);
}

/* Reaching Up, DesiredMinTx drops from 1 s to the configured interval through a Poll
 * Sequence: P on every packet until the Final, and the detection time follows. */
static void test_poll_on_up(void **state)
{
	struct bfd_session a, b;
	struct bfd_pkt p, q;
	bool changed;
	int64_t t = 5000000;

	(void)state;
	bfd_session_init(&a, &cfg_fast, 1, 1, t);
	bfd_session_init(&b, &cfg_fast, 2, 2, t);
	assert_true(bfd_session_tx(&a, t, &p));
	bfd_session_rx(&b, &p, t, &changed);		/* b: Init */
	assert_true(bfd_session_tx(&b, t, &p));
	assert_false(p.poll);
	bfd_session_rx(&a, &p, t, &changed);		/* a: Up */
	assert_int_equal(a.state, BFD_UP);
	assert_true(a.poll);
	assert_int_equal(a.desired_min_tx_us, FAST);
	/* A decrease applies at once (§6.8.3 only holds back increases). */
	assert_int_equal(a.tx_interval_us, FAST);
	assert_true(bfd_session_tx(&a, t, &p));
	assert_true(p.poll);
	assert_false(p.final);
	assert_int_equal(p.desired_min_tx_us, FAST);
	/* b has not answered: the next periodic packet still polls. */
	t += FAST;
	assert_true(bfd_session_tx(&a, t, &p));
	assert_true(p.poll);
	/* b receives the poll: Up, and a Final at once, without P although b's own
	 * poll starts with this very change. */
	bfd_session_rx(&b, &p, t, &changed);
	assert_int_equal(b.state, BFD_UP);
	assert_true(b.send_final);
	assert_int_equal(bfd_session_next_us(&b), 0);
	assert_true(bfd_session_tx(&b, t, &q));
	assert_true(q.final);
	assert_false(q.poll);
	assert_true(b.poll);
	/* Detection on b: 3 x max(100 ms, a's 100 ms). */
	assert_int_equal(bfd_session_detect_us(&b), 3 * FAST);
	bfd_session_rx(&a, &q, t, &changed);
	assert_false(a.poll);
	assert_true(bfd_session_tx(&b, t + FAST, &q));	/* b's next periodic: P */
	assert_true(q.poll);
	bfd_session_rx(&a, &q, t + FAST, &changed);
	assert_true(a.send_final);
	assert_true(bfd_session_tx(&a, t + FAST, &p));
	assert_true(p.final);
	assert_false(p.poll);
	bfd_session_rx(&b, &p, t + FAST, &changed);
	assert_false(b.poll);
	assert_int_equal(a.tx_interval_us, FAST);
	assert_int_equal(b.tx_interval_us, FAST);
	assert_int_equal(bfd_session_detect_us(&a), 3 * FAST);
}

/* An interval above 1 s is an increase on reaching Up: the old 1 s stays in force
 * until the Final (§6.8.3), then the new one applies. */
static void test_poll_increase_held(void **state)
{
	struct bfd_cfg slow = { .desired_min_tx_us = 2000000, .required_min_rx_us = FAST,
				.detect_mult = 3 };
	struct bfd_session a, b;
	struct bfd_pkt p;
	bool changed;

	(void)state;
	bfd_session_init(&a, &slow, 1, 1, 0);
	bfd_session_init(&b, &cfg_fast, 2, 2, 0);
	bfd_session_tx(&a, 0, &p);
	bfd_session_rx(&b, &p, 0, &changed);
	bfd_session_tx(&b, 0, &p);
	bfd_session_rx(&a, &p, 0, &changed);
	assert_int_equal(a.state, BFD_UP);
	assert_true(a.poll);
	assert_int_equal(a.desired_min_tx_us, 2000000);
	assert_int_equal(a.tx_interval_us, BFD_SLOW_TX_US);
	assert_true(bfd_session_tx(&a, 0, &p));
	assert_true(p.poll);
	assert_int_equal(p.desired_min_tx_us, 2000000);
	assert_true(a.next_tx_us <= BFD_SLOW_TX_US);
	bfd_session_rx(&b, &p, 10, &changed);
	assert_true(bfd_session_tx(&b, 10, &p));
	assert_true(p.final);
	/* b's detection already uses the 2 s a announced. */
	assert_int_equal(bfd_session_detect_us(&b), 3 * 2000000);
	bfd_session_rx(&a, &p, 10, &changed);
	assert_false(a.poll);
	assert_int_equal(a.tx_interval_us, 2000000);
}

/* A reduced RequiredMinRx shortens our detection time only after the Final. */
static void test_poll_rx_decrease_held(void **state)
{
	struct bfd_cfg slow_rx = { .desired_min_tx_us = FAST, .required_min_rx_us = 500 * MS,
				   .detect_mult = 3 };
	struct pair pr;
	struct bfd_pkt p;
	bool changed;

	(void)state;
	pair_init(&pr, &cfg_fast);
	bfd_session_set_cfg(&pr.s[0], &slow_rx, pr.now);
	pair_flush(&pr);
	assert_int_equal(pr.s[0].state, BFD_UP);
	assert_false(pr.s[0].poll);
	assert_int_equal(bfd_session_detect_us(&pr.s[0]), 3 * 500 * MS);
	bfd_session_set_cfg(&pr.s[0], &cfg_fast, pr.now);
	assert_true(pr.s[0].poll);
	assert_int_equal(pr.s[0].required_min_rx_us, FAST);
	assert_int_equal(bfd_session_detect_us(&pr.s[0]), 3 * 500 * MS);
	assert_true(bfd_session_tx(&pr.s[0], pr.now, &p));	/* the poll goes at once */
	assert_true(p.poll);
	assert_int_equal(p.required_min_rx_us, FAST);
	bfd_session_rx(&pr.s[1], &p, pr.now, &changed);
	assert_true(bfd_session_tx(&pr.s[1], pr.now, &p));
	assert_true(p.final);
	bfd_session_rx(&pr.s[0], &p, pr.now, &changed);
	assert_false(pr.s[0].poll);
	assert_int_equal(bfd_session_detect_us(&pr.s[0]), 3 * FAST);
	/* A new multiplier needs no poll: it is in every packet. */
	bfd_session_set_cfg(&pr.s[0], &(struct bfd_cfg){ .desired_min_tx_us = FAST,
						   .required_min_rx_us = FAST,
						   .detect_mult = 5 }, pr.now);
	assert_false(pr.s[0].poll);
}

static void test_detection_timeout(void **state)
{
	struct pair pr;
	int64_t last_rx, detect;

	(void)state;
	pair_init(&pr, &cfg_fast);
	pair_flush(&pr);
	pair_advance_to(&pr, pr.now + 2000000);
	assert_int_equal(pr.s[1].state, BFD_UP);
	detect = bfd_session_detect_us(&pr.s[1]);
	assert_int_equal(detect, 3 * FAST);
	/* The link breaks right after s[1] heard s[0]. */
	while (pr.s[1].detect_at_us != pr.now + detect) {
		pr.now = bfd_session_next_us(&pr.s[0]);
		pair_flush(&pr);
	}
	last_rx = pr.now;
	pr.link = false;
	pair_advance_to(&pr, last_rx + detect - 1);
	assert_int_equal(pr.s[1].state, BFD_UP);
	pair_advance_to(&pr, last_rx + detect);
	assert_int_equal(pr.s[1].state, BFD_DOWN);
	assert_int_equal(pr.s[1].local_diag, BFD_DIAG_TIME_EXPIRED);
	assert_int_equal(pr.s[1].remote_discr, 0);
	assert_int_equal(pr.s[1].changed_at_us, last_rx + detect);
	assert_int_equal(pr.s[1].downs, 1);
	assert_int_equal(pr.s[1].detect_at_us, 0);
	/* Back to the slow rate while Down. */
	assert_int_equal(pr.s[1].desired_min_tx_us, BFD_SLOW_TX_US);
	assert_int_equal(pr.s[1].tx_interval_us, BFD_SLOW_TX_US);
	/* The other side times out too; with the link back both come Up again. */
	pair_advance_to(&pr, pr.now + detect);
	assert_int_equal(pr.s[0].state, BFD_DOWN);
	pr.link = true;
	pair_advance_to(&pr, pr.now + 2 * BFD_SLOW_TX_US);
	assert_int_equal(pr.s[0].state, BFD_UP);
	assert_int_equal(pr.s[1].state, BFD_UP);
	assert_int_equal(pr.s[1].ups, 2);
}

static void test_admin_down(void **state)
{
	struct pair pr;
	struct bfd_pkt p;
	bool changed;

	(void)state;
	pair_init(&pr, &cfg_fast);
	pair_flush(&pr);
	bfd_session_admin_down(&pr.s[0], pr.now);
	assert_int_equal(pr.s[0].state, BFD_ADMIN_DOWN);
	assert_int_equal(pr.s[0].local_diag, BFD_DIAG_ADMIN_DOWN);
	assert_int_equal(pr.s[0].detect_at_us, 0);
	assert_true(bfd_session_tx(&pr.s[0], pr.now, &p));
	assert_int_equal(p.state, BFD_ADMIN_DOWN);
	assert_int_equal(p.diag, BFD_DIAG_ADMIN_DOWN);
	assert_false(p.poll);
	/* Received AdminDown: Up -> Down, "neighbor signaled session down". */
	assert_int_equal(bfd_session_rx(&pr.s[1], &p, pr.now, &changed), BFD_DROP_NONE);
	assert_true(changed);
	assert_int_equal(pr.s[1].state, BFD_DOWN);
	assert_int_equal(pr.s[1].local_diag, BFD_DIAG_NEIGHBOR_DOWN);
	/* ...and Down stays Down on a second one. */
	assert_int_equal(bfd_session_rx(&pr.s[1], &p, pr.now, &changed), BFD_DROP_NONE);
	assert_false(changed);
	/* The AdminDown side ignores the peer, even polls. */
	assert_true(bfd_session_tx(&pr.s[1], pr.now, &p));
	p.poll = true;
	assert_int_equal(bfd_session_rx(&pr.s[0], &p, pr.now, &changed), BFD_DROP_ADMIN_DOWN);
	assert_false(changed);
	assert_false(pr.s[0].send_final);
	assert_int_equal(pr.s[0].state, BFD_ADMIN_DOWN);
	assert_int_equal(pr.s[0].detect_at_us, 0);
	assert_false(bfd_session_expire(&pr.s[0], pr.now + 10 * BFD_SLOW_TX_US));
}

static void test_peer_poll_answered_at_once(void **state)
{
	struct pair pr;
	struct bfd_pkt p = sample_pkt();
	bool changed;
	int64_t periodic;

	(void)state;
	pair_init(&pr, &cfg_fast);
	pair_flush(&pr);
	pair_advance_to(&pr, pr.now + 1000000);
	periodic = pr.s[0].next_tx_us;
	assert_true(periodic > pr.now);
	p.my_discr = 0xb;
	p.your_discr = 0xa;
	p.poll = true;
	p.required_min_rx_us = 300 * MS;
	p.desired_min_tx_us = 50 * MS;
	assert_int_equal(bfd_session_rx(&pr.s[0], &p, pr.now, &changed), BFD_DROP_NONE);
	assert_int_equal(bfd_session_next_us(&pr.s[0]), 0);
	assert_true(bfd_session_tx(&pr.s[0], pr.now, &p));
	assert_true(p.final);
	assert_false(p.poll);
	/* The peer asked for at most one packet per 300 ms: obeyed at once. */
	assert_int_equal(pr.s[0].tx_interval_us, 300 * MS);
	/* Detection: 3 x max(our 100 ms, its 50 ms). */
	assert_int_equal(bfd_session_detect_us(&pr.s[0]), 3 * FAST);
	assert_false(bfd_session_tx(&pr.s[0], pr.now, &p));
	assert_int_equal(pr.s[0].next_tx_us, periodic);
}

static void check_jitter(uint8_t mult, uint32_t lo_pct, uint32_t hi_pct)
{
	struct bfd_cfg cfg = { .desired_min_tx_us = FAST, .required_min_rx_us = FAST,
			       .detect_mult = mult };
	struct bfd_session s;
	struct bfd_pkt p;
	int64_t now = 0, prev = -1;
	uint32_t iv = BFD_SLOW_TX_US, min = UINT32_MAX, max = 0;

	bfd_session_init(&s, &cfg, 7, 42, now);
	for (int i = 0; i < 5000; i++) {
		now = bfd_session_next_us(&s);
		assert_true(bfd_session_tx(&s, now, &p));
		if (prev >= 0) {
			uint32_t d = (uint32_t)(now - prev);

			assert_true((uint64_t)d * 100 >= (uint64_t)iv * lo_pct);
			assert_true((uint64_t)d * 100 <= (uint64_t)iv * hi_pct);
			min = d < min ? d : min;
			max = d > max ? d : max;
		}
		prev = now;
	}
	/* The spread is used, not a constant. */
	assert_true((uint64_t)min * 100 < (uint64_t)iv * (lo_pct + 2));
	assert_true((uint64_t)max * 100 > (uint64_t)iv * (hi_pct - 2));
}

static void test_jitter_bounds(void **state)
{
	(void)state;
	check_jitter(3, 75, 100);
	check_jitter(1, 75, 90);
}

static void test_no_periodic_when_peer_wants_none(void **state)
{
	struct bfd_session s;
	struct bfd_pkt p = sample_pkt();
	bool changed;

	(void)state;
	bfd_session_init(&s, &cfg_fast, 0x55667788, 3, 0);
	p.state = BFD_DOWN;
	p.required_min_rx_us = 0;
	bfd_session_rx(&s, &p, 0, &changed);
	assert_int_equal(s.state, BFD_INIT);
	assert_false(bfd_session_tx(&s, 0, &p));
	assert_true(s.next_tx_us > 0);
}


/* A restart handed over: side 0 asks side 1 to wait 2 s x 5 (the agent's stop), goes
 * silent for 8 s, and a new session resumes from what the old one could hand over.
 * Side 1 never leaves Up, and the timers come back to normal through a Poll Sequence. */
static void test_hold_and_resume(void **state)
{
	struct bfd_cfg hold = cfg_fast;
	struct bfd_resume r;
	struct pair pr;
	uint32_t downs;

	(void)state;
	pair_init(&pr, &cfg_fast);
	pair_flush(&pr);
	pair_advance_to(&pr, pr.now + 2 * 1000000LL);
	assert_int_equal(pr.s[1].state, BFD_UP);
	assert_true(bfd_session_resumable(&pr.s[0], &r));
	hold.desired_min_tx_us = 2000000;
	hold.detect_mult = 5;
	bfd_session_set_cfg(&pr.s[0], &hold, pr.now);
	/* While the peer has not acknowledged, there is nothing safe to hand over. */
	assert_false(bfd_session_resumable(&pr.s[0], &r));
	pair_flush(&pr);
	assert_true(bfd_session_resumable(&pr.s[0], &r));
	assert_int_equal(bfd_session_detect_us(&pr.s[1]), 5 * 2000000);
	assert_int_equal(r.local_discr, 0xa);
	assert_int_equal(r.remote_discr, 0xb);
	/* The old agent is gone: side 0's packets stop for 8 s; side 1 keeps sending. */
	downs = pr.s[1].downs;
	pr.link = false;
	pair_advance_to(&pr, pr.now + 8 * 1000000LL);
	pr.link = true;
	assert_int_equal(pr.s[1].state, BFD_UP);
	bfd_session_resume(&pr.s[0], &cfg_fast, &r, 99, pr.now);
	assert_int_equal(pr.s[0].state, BFD_UP);
	assert_int_equal(pr.s[0].local_discr, 0xa);
	assert_true(pr.s[0].poll);
	assert_int_equal(bfd_session_next_us(&pr.s[0]), pr.now);
	pair_flush(&pr);
	assert_false(pr.s[0].poll);
	assert_int_equal(pr.s[0].tx_interval_us, FAST);
	assert_int_equal(bfd_session_detect_us(&pr.s[1]), 3 * FAST);
	pair_advance_to(&pr, pr.now + 5 * 1000000LL);
	assert_int_equal(pr.s[0].state, BFD_UP);
	assert_int_equal(pr.s[1].state, BFD_UP);
	assert_int_equal(pr.s[1].downs, downs);
	/* A resumed session whose peer is gone notices within the usual detection time. */
	pr.link = false;
	pair_advance_to(&pr, pr.now + 3 * FAST + 50 * MS);
	assert_int_equal(pr.s[0].state, BFD_DOWN);
	assert_int_equal(pr.s[0].local_diag, BFD_DIAG_TIME_EXPIRED);
}

/* Without the hold the same silence takes the peer down: the test above measures
 * something. */
static void test_silence_without_hold(void **state)
{
	struct pair pr;

	(void)state;
	pair_init(&pr, &cfg_fast);
	pair_flush(&pr);
	pr.link = false;
	pair_advance_to(&pr, pr.now + 1000000LL);
	assert_int_equal(pr.s[1].state, BFD_DOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_round_trip),
		cmocka_unit_test(test_decode_drops),
		cmocka_unit_test(test_decode_discriminators),
		cmocka_unit_test(test_session_rx_auth_and_discr),
		cmocka_unit_test(test_three_way_handshake),
		cmocka_unit_test(test_handshake_from_both_sides),
		cmocka_unit_test(test_poll_on_up),
		cmocka_unit_test(test_poll_increase_held),
		cmocka_unit_test(test_poll_rx_decrease_held),
		cmocka_unit_test(test_detection_timeout),
		cmocka_unit_test(test_admin_down),
		cmocka_unit_test(test_peer_poll_answered_at_once),
		cmocka_unit_test(test_jitter_bounds),
		cmocka_unit_test(test_no_periodic_when_peer_wants_none),
		cmocka_unit_test(test_hold_and_resume),
		cmocka_unit_test(test_silence_without_hold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
