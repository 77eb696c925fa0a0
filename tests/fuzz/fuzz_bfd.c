/* libFuzzer target for BFD (agent/bfd.c). The input is a first byte of options, then
 * BFD_PKT_LEN-byte chunks, each one received packet. Every chunk goes through the
 * decoder; what it accepts is fed to one session, whose timers then run for a while.
 * Besides not crashing: the state stays in range, the session's own packets always
 * decode (never P with F, never a zero discriminator or multiplier), the encoder
 * round-trips, and the timers move forward. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct bfd_cfg fuzz_bfd_cfgs[4] = {
	{ .desired_min_tx_us = 100000, .required_min_rx_us = 100000, .detect_mult = 3 },
	{ .desired_min_tx_us = 50000, .required_min_rx_us = 300000, .detect_mult = 1 },
	{ .desired_min_tx_us = 2000000, .required_min_rx_us = 10000, .detect_mult = 50 },
	{ .desired_min_tx_us = 1, .required_min_rx_us = 0, .detect_mult = 2 },
};

static void fuzz_bfd_check_tx(const struct bfd_session *s, const struct bfd_pkt *p)
{
	uint8_t buf[BFD_PKT_LEN];
	struct bfd_pkt q;

	if (p->poll && p->final)
		abort();
	bfd_pkt_encode(p, buf);
	if (bfd_pkt_decode(buf, sizeof(buf), &q) != BFD_DROP_NONE)
		abort();
	if (q.state != s->state || q.my_discr != s->local_discr || q.demand ||
	    q.required_min_echo_rx_us)
		abort();
}

/* Runs the session's timers from now for a few events; returns the time reached. */
static int64_t fuzz_bfd_run(struct bfd_session *s, int64_t now, int events)
{
	struct bfd_pkt p;

	for (int i = 0; i < events; i++) {
		int64_t next = bfd_session_next_us(s);

		now = next > now ? next : now;
		bfd_session_expire(s, now);
		while (bfd_session_tx(s, now, &p))
			fuzz_bfd_check_tx(s, &p);
		if ((unsigned)s->state > BFD_UP || bfd_session_next_us(s) <= now)
			abort();
	}
	return now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bfd_session s;
	struct bfd_pkt p;
	int64_t now = 1000000;
	bool changed;

	if (!size)
		return 0;
	bfd_session_init(&s, &fuzz_bfd_cfgs[data[0] & 3], 0x1234, data[0] | 1u, now);
	if (data[0] & 4)
		bfd_session_admin_down(&s, now);
	data++;
	size--;
	for (; size; data += BFD_PKT_LEN < size ? BFD_PKT_LEN : size,
		     size -= BFD_PKT_LEN < size ? BFD_PKT_LEN : size) {
		enum bfd_state old = s.state;

		if (bfd_pkt_decode(data, size, &p) != BFD_DROP_NONE)
			continue;
		if (bfd_session_rx(&s, &p, now, &changed) == BFD_DROP_NONE &&
		    (changed != (s.state != old) || (p.poll && !s.send_final)))
			abort();
		now = fuzz_bfd_run(&s, now, 1 + (data[2] & 7));
	}
	fuzz_bfd_run(&s, now, 16);
	return 0;
}
