/* The agent's BFD sessions on real sockets (RFC 5881 single hop), for the daemon's
 * one poll loop: no thread per session. Sessions are keyed by tunnel id.
 *
 * Receiving: one socket per address family bound to UDP 3784 (IP_RECVTTL /
 * IPV6_RECVHOPLIMIT and PKTINFO), packets with a TTL other than 255 dropped; a packet
 * is matched by Your Discriminator, or when that is zero by (source address, arrival
 * interface) = (the session's peer, its ifname).
 * Sending: one socket per session, bound to the overlay address and the tunnel
 * interface (SO_BINDTODEVICE) on a source port from 49152-65535 kept for the session's
 * life, TTL 255.
 * Timers: every session's next deadline (transmission or detection) in one min-heap,
 * so a wakeup costs O(log n) however many sessions there are. */
#ifndef GRESEC_BFD_SET_H
#define GRESEC_BFD_SET_H

#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "bfd.h"
#include "intent.h"

struct bfd_set;

/* The shortest turn of a loop that serves BFD: packets that arrive within it are read
 * together. Without it, a peer's burst wakes the loop once per packet (thousands of
 * times a second with hundreds of sessions); detection times are hundreds of
 * milliseconds, to which a delay this short is nothing. */
#define BFD_LOOP_TURN_US 2000

/* Called when a session's state moves (old -> s->state), from bfd_set_dispatch or
 * bfd_set_run. */
typedef void (*bfd_change_fn)(void *ud, const char *id, const struct bfd_session *s,
			      enum bfd_state old);

/* Opens the receive sockets (port 3784, both families; an IPv6 failure on a host
 * without IPv6 is not fatal). NULL with errno set on failure. */
struct bfd_set *bfd_set_new(bfd_change_fn cb, void *ud);
/* Closes everything without sending (a stopping agent has asked its peers to wait
 * with bfd_set_hold before; see docs/operations.md). NULL-safe. */
void bfd_set_free(struct bfd_set *bs);

/* Makes the session of tunnel id exist with these endpoints and timers: creates it
 * (new discriminator, Down) or updates it (a change of intervals runs a Poll
 * Sequence; a change of endpoints or interface starts it again). 0, or negative
 * errno when its socket cannot be made yet (e.g. -ENODEV before the interface
 * exists): call again on the next pass. */
int bfd_set_ensure(struct bfd_set *bs, const char *id, const char *ifname,
		   const struct addr *local, const struct addr *peer,
		   const struct bfd_cfg *cfg, int64_t now_us);
/* Removes a session: with admin_down, AdminDown is sent (three packets, one per
 * transmit interval) before it goes; without, it goes at once and silently. */
void bfd_set_remove(struct bfd_set *bs, const char *id, bool admin_down, int64_t now_us);
/* The session of id, NULL when none (or it is only finishing its AdminDown). */
const struct bfd_session *bfd_set_get(const struct bfd_set *bs, const char *id);
size_t bfd_set_count(const struct bfd_set *bs);

/* The receive sockets to poll for POLLIN: fills up to max, returns how many. */
size_t bfd_set_pollfds(const struct bfd_set *bs, struct pollfd *fds, size_t max);
/* Reads every waiting packet from the sockets in fds whose revents say so. */
void bfd_set_dispatch(struct bfd_set *bs, const struct pollfd *fds, size_t n, int64_t now_us);
/* Sends what is due and expires detection timers up to now. */
void bfd_set_run(struct bfd_set *bs, int64_t now_us);
/* The earliest deadline of any session, INT64_MAX with none. */
int64_t bfd_set_next_us(const struct bfd_set *bs);

/* Packets dropped since start, by reason (index enum bfd_drop). */
const uint64_t *bfd_set_drops(const struct bfd_set *bs);
/* Sends that failed (no route, interface down, buffers full...) since start: counted,
 * otherwise ignored, since a lost packet is what BFD is there to notice. */
uint64_t bfd_set_tx_errors(const struct bfd_set *bs);

/* Handing the sessions over to the next agent (a restart, an upgrade): a stopping
 * agent asks every Up session's peer to wait longer (bfd_set_hold), waits for the
 * Finals (bfd_set_polling), and saves what bfd_set_each shows; the next one gives
 * that to bfd_set_expect before its first bfd_set_ensure, and the sessions go on
 * Up with the same discriminators: the peers see a pause in the packets, no Down. */

/* A Poll Sequence on every Up session announcing Desired Min TX tx_us and Detect Mult
 * mult: its peer's detection time becomes about tx_us x mult (RFC 5880 §6.8.4). The
 * packets go on at the old interval until the Final (§6.8.3). Returns how many. */
size_t bfd_set_hold(struct bfd_set *bs, uint32_t tx_us, uint8_t mult, int64_t now_us);
/* Up sessions whose Poll Sequence the peer has not answered yet. */
size_t bfd_set_polling(const struct bfd_set *bs);
typedef void (*bfd_each_fn)(void *ud, const char *id, const char *ifname,
			    const struct addr *local, const struct addr *peer,
			    const struct bfd_session *s);
void bfd_set_each(const struct bfd_set *bs, bfd_each_fn fn, void *ud);

struct bfd_expect {
	char id[INTENT_ID_MAX + 1];
	char ifname[IF_NAMESIZE];
	struct addr local, peer;
	struct bfd_resume r;
	bool used;
};
/* Takes v (malloc'd, n entries; NULL to drop): the sessions bfd_set_ensure creates
 * from now on resume from it where id, interface and addresses match. */
void bfd_set_expect(struct bfd_set *bs, struct bfd_expect *v, size_t n);

/* The intent's bfd settings as session timers. */
void bfd_cfg_from_intent(const struct intent_bfd *b, struct bfd_cfg *cfg);

/* Monotonic microseconds. */
int64_t bfd_now_us(void);

#endif
