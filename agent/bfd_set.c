/* The agent's BFD sessions on sockets (RFC 5881 single hop; see bfd_set.h). */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "bfd_set.h"

#define BFD_SET_ADMIN_DOWN_PKTS 3
#define BFD_SET_PORT_TRIES 64
#define BFD_SET_RX_BURST 256	/* per socket and dispatch, so timers are not starved */
#define BFD_SET_RX_BUF 256	/* any Length the header can say */

struct bfd_set_ent {
	char *id;
	char ifname[IF_NAMESIZE];
	unsigned ifindex;		/* the one the tx socket is bound to */
	unsigned rx_ifindex;		/* for demultiplexing; re-resolved on a mismatch */
	struct addr local, peer;
	int fd;
	bool dying;			/* removed: only finishing its AdminDown */
	unsigned admin_left;		/* AdminDown packets still to send */
	size_t heap_idx;
	int64_t due;
	struct bfd_session s;
};

/* A sorted array of entries: lookups by binary search, not by walking every session. */
struct bfd_set_index {
	struct bfd_set_ent **v;
	size_t n, cap;
	int (*cmp)(const void *key, const struct bfd_set_ent *e);
	const void *(*key)(const struct bfd_set_ent *e);
};

struct bfd_set {
	int fd4, fd6;
	bfd_change_fn cb;
	void *ud;
	struct bfd_set_index by_id;	/* live sessions */
	struct bfd_set_index by_discr;	/* all, the dying ones too: their peer is told */
	struct bfd_set_index by_peer;	/* all */
	struct bfd_set_ent **heap;	/* all, by due time; owns them */
	size_t n_heap, cap_heap;
	uint64_t drops[BFD_DROP__MAX];
	uint64_t tx_errors;
	uint32_t rng;
	struct bfd_expect *expect;	/* sessions the previous agent handed over, by id */
	size_t n_expect;
};

struct bfd_set_rx {
	uint8_t buf[BFD_SET_RX_BUF];
	size_t len;
	struct addr src;
	unsigned ifindex;
	int ttl;
};

int64_t bfd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void bfd_cfg_from_intent(const struct intent_bfd *b, struct bfd_cfg *cfg)
{
	*cfg = (struct bfd_cfg){
		.desired_min_tx_us = b->interval_ms * 1000u,
		.required_min_rx_us = b->interval_ms * 1000u,
		.detect_mult = b->multiplier,
	};
}

static uint32_t bfd_set_rand(struct bfd_set *bs)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* No entropy yet (early boot): good enough for ports, seeds and discriminators,
	 * which TTL 255 protects rather than secrecy. */
	bs->rng ^= bs->rng << 13;
	bs->rng ^= bs->rng >> 17;
	bs->rng ^= bs->rng << 5;
	return bs->rng;
}

/* ---- growable arrays, sorted indexes, the deadline heap ---- */

static int bfd_set_grow(struct bfd_set_ent ***v, size_t *cap, size_t want)
{
	struct bfd_set_ent **nv;
	size_t nc;

	if (want <= *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	nv = reallocarray(*v, nc, sizeof(**v));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

/* Room for one more everywhere first, so that adding a session cannot fail halfway. */
static int bfd_set_reserve(struct bfd_set *bs)
{
	if (bfd_set_grow(&bs->by_id.v, &bs->by_id.cap, bs->by_id.n + 1) ||
	    bfd_set_grow(&bs->by_discr.v, &bs->by_discr.cap, bs->by_discr.n + 1) ||
	    bfd_set_grow(&bs->by_peer.v, &bs->by_peer.cap, bs->by_peer.n + 1) ||
	    bfd_set_grow(&bs->heap, &bs->cap_heap, bs->n_heap + 1))
		return -ENOMEM;
	return 0;
}

static int bfd_set_cmp_id(const void *key, const struct bfd_set_ent *e)
{
	return strcmp(key, e->id);
}

static const void *bfd_set_key_id(const struct bfd_set_ent *e)
{
	return e->id;
}

static int bfd_set_cmp_discr(const void *key, const struct bfd_set_ent *e)
{
	uint32_t k = *(const uint32_t *)key;

	return k < e->s.local_discr ? -1 : k > e->s.local_discr;
}

static const void *bfd_set_key_discr(const struct bfd_set_ent *e)
{
	return &e->s.local_discr;
}

static int bfd_set_cmp_peer(const void *key, const struct bfd_set_ent *e)
{
	return addr_cmp(key, &e->peer);
}

static const void *bfd_set_key_peer(const struct bfd_set_ent *e)
{
	return &e->peer;
}

/* The first position whose entry is not below key. */
static size_t bfd_set_index_lower(const struct bfd_set_index *ix, const void *key)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->cmp(key, ix->v[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct bfd_set_ent *bfd_set_index_find(const struct bfd_set_index *ix, const void *key)
{
	size_t i = bfd_set_index_lower(ix, key);

	return i < ix->n && !ix->cmp(key, ix->v[i]) ? ix->v[i] : NULL;
}

/* Capacity was reserved by bfd_set_reserve (or freed by a removal just before). */
static void bfd_set_index_add(struct bfd_set_index *ix, struct bfd_set_ent *e)
{
	size_t i = bfd_set_index_lower(ix, ix->key(e));

	memmove(ix->v + i + 1, ix->v + i, (ix->n - i) * sizeof(*ix->v));
	ix->v[i] = e;
	ix->n++;
}

static void bfd_set_index_del(struct bfd_set_index *ix, const struct bfd_set_ent *e)
{
	size_t i = bfd_set_index_lower(ix, ix->key(e));

	while (i < ix->n && ix->v[i] != e)	/* past others with the same key */
		i++;
	if (i == ix->n)
		return;
	memmove(ix->v + i, ix->v + i + 1, (ix->n - i - 1) * sizeof(*ix->v));
	ix->n--;
}

static void bfd_set_heap_swap(struct bfd_set *bs, size_t a, size_t b)
{
	struct bfd_set_ent *t = bs->heap[a];

	bs->heap[a] = bs->heap[b];
	bs->heap[b] = t;
	bs->heap[a]->heap_idx = a;
	bs->heap[b]->heap_idx = b;
}

static void bfd_set_heap_sift(struct bfd_set *bs, size_t i)
{
	while (i && bs->heap[i]->due < bs->heap[(i - 1) / 2]->due) {
		bfd_set_heap_swap(bs, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < bs->n_heap && bs->heap[l]->due < bs->heap[m]->due)
			m = l;
		if (l + 1 < bs->n_heap && bs->heap[l + 1]->due < bs->heap[m]->due)
			m = l + 1;
		if (m == i)
			return;
		bfd_set_heap_swap(bs, i, m);
		i = m;
	}
}

/* After anything that may move the session's deadline. */
static void bfd_set_heap_fix(struct bfd_set *bs, struct bfd_set_ent *e)
{
	e->due = bfd_session_next_us(&e->s);
	bfd_set_heap_sift(bs, e->heap_idx);
}

static void bfd_set_heap_del(struct bfd_set *bs, struct bfd_set_ent *e)
{
	size_t i = e->heap_idx, last = --bs->n_heap;

	if (i == last)
		return;
	bs->heap[i] = bs->heap[last];
	bs->heap[i]->heap_idx = i;
	bfd_set_heap_sift(bs, i);
}

/* ---- sockets ---- */

static socklen_t bfd_set_sockaddr(const struct addr *a, uint16_t port, unsigned ifindex,
				  struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, a->bytes, 16);
	if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
		sin6->sin6_scope_id = ifindex;
	return sizeof(*sin6);
}

static void bfd_set_addr_from(const struct sockaddr_storage *ss, struct addr *a)
{
	*a = (struct addr){ .family = ss->ss_family };
	if (ss->ss_family == AF_INET)
		memcpy(a->bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	else if (ss->ss_family == AF_INET6)
		memcpy(a->bytes, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

static int bfd_set_opt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val)) ? -errno : 0;
}

static int bfd_set_rx_open(int family)
{
	struct addr any = { .family = family };
	struct sockaddr_storage ss;
	socklen_t len = bfd_set_sockaddr(&any, BFD_PORT, 0, &ss);
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		rc = bfd_set_opt(fd, IPPROTO_IP, IP_RECVTTL, 1);
		rc = rc ? rc : bfd_set_opt(fd, IPPROTO_IP, IP_PKTINFO, 1);
	} else {
		rc = bfd_set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
		rc = rc ? rc : bfd_set_opt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
		rc = rc ? rc : bfd_set_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	}
	if (!rc && bind(fd, (struct sockaddr *)&ss, len))
		rc = -errno;
	if (!rc)
		return fd;
	close(fd);
	return rc;
}

/* FREEBIND: the overlay address may not be configured yet when the session is made. */
static int bfd_set_tx_opts(int fd, const struct bfd_set_ent *e)
{
	int rc = e->peer.family == AF_INET ?
		bfd_set_opt(fd, IPPROTO_IP, IP_TTL, BFD_TTL) :
		bfd_set_opt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, BFD_TTL);

	rc = rc ? rc : bfd_set_opt(fd, IPPROTO_IP, IP_FREEBIND, 1);
	if (!rc && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, e->ifname, strlen(e->ifname)))
		rc = -errno;
	return rc;
}

/* A random source port (RFC 5881 §4) kept for the session's life. */
static int bfd_set_tx_open(struct bfd_set *bs, const struct bfd_set_ent *e)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(e->peer.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	rc = bfd_set_tx_opts(fd, e);
	for (int tries = 0; !rc; tries++) {
		uint16_t port = (uint16_t)(BFD_SRC_PORT_MIN + bfd_set_rand(bs) %
					   (BFD_SRC_PORT_MAX - BFD_SRC_PORT_MIN + 1));

		len = bfd_set_sockaddr(&e->local, port, e->ifindex, &ss);
		if (!bind(fd, (struct sockaddr *)&ss, len))
			break;
		rc = errno == EADDRINUSE && tries + 1 < BFD_SET_PORT_TRIES ? 0 : -errno;
	}
	if (!rc) {
		len = bfd_set_sockaddr(&e->peer, BFD_PORT, e->ifindex, &ss);
		if (connect(fd, (struct sockaddr *)&ss, len))
			rc = -errno;
	}
	if (!rc)
		return fd;
	close(fd);
	return rc;
}

/* Fills e's endpoints and opens its socket; e->fd stays -1 on failure. */
static int bfd_set_ent_open(struct bfd_set *bs, struct bfd_set_ent *e, const char *ifname,
			    const struct addr *local, const struct addr *peer)
{
	int fd;

	strcpy(e->ifname, ifname);	/* length checked by bfd_set_ensure */
	e->local = *local;
	e->peer = *peer;
	e->ifindex = e->rx_ifindex = if_nametoindex(ifname);
	if (!e->ifindex)
		return -ENODEV;
	fd = bfd_set_tx_open(bs, e);
	if (fd < 0)
		return fd;
	e->fd = fd;
	return 0;
}

static void bfd_set_ent_free(struct bfd_set_ent *e)
{
	if (!e)
		return;
	if (e->fd >= 0)
		close(e->fd);
	free(e->id);
	free(e);
}

/* ---- sessions ---- */

static uint32_t bfd_set_new_discr(struct bfd_set *bs)
{
	uint32_t d;

	do
		d = bfd_set_rand(bs);
	while (!d || bfd_set_index_find(&bs->by_discr, &d));
	return d;
}

static void bfd_set_destroy(struct bfd_set *bs, struct bfd_set_ent *e)
{
	if (!e->dying)
		bfd_set_index_del(&bs->by_id, e);
	bfd_set_index_del(&bs->by_discr, e);
	bfd_set_index_del(&bs->by_peer, e);
	bfd_set_heap_del(bs, e);
	bfd_set_ent_free(e);
}

static int bfd_set_expect_cmp(const void *a, const void *b)
{
	return strcmp(((const struct bfd_expect *)a)->id, ((const struct bfd_expect *)b)->id);
}

/* A new session resumes what the previous agent handed over when it is the same
 * session (id, interface and both addresses) and its discriminator is free; it starts
 * Down otherwise. Each hand-over is used once. */
static void bfd_set_start(struct bfd_set *bs, struct bfd_set_ent *e, const struct bfd_cfg *cfg,
			  int64_t now_us)
{
	struct bfd_expect key = { 0 }, *x = NULL;

	if (bs->n_expect && strlen(e->id) < sizeof(key.id)) {
		strcpy(key.id, e->id);
		x = bsearch(&key, bs->expect, bs->n_expect, sizeof(*x), bfd_set_expect_cmp);
	}
	if (x && !x->used && !strcmp(x->ifname, e->ifname) && !addr_cmp(&x->local, &e->local) &&
	    !addr_cmp(&x->peer, &e->peer) && x->r.local_discr &&
	    !bfd_set_index_find(&bs->by_discr, &x->r.local_discr)) {
		x->used = true;
		bfd_session_resume(&e->s, cfg, &x->r, bfd_set_rand(bs), now_us);
		return;
	}
	bfd_session_init(&e->s, cfg, bfd_set_new_discr(bs), bfd_set_rand(bs), now_us);
}

static int bfd_set_add(struct bfd_set *bs, const char *id, const char *ifname,
		       const struct addr *local, const struct addr *peer,
		       const struct bfd_cfg *cfg, int64_t now_us)
{
	struct bfd_set_ent *e = NULL;
	int rc = bfd_set_reserve(bs);

	if (rc)
		goto out;
	e = calloc(1, sizeof(*e));
	if (e)
		e->fd = -1;
	if (!e || !(e->id = strdup(id))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = bfd_set_ent_open(bs, e, ifname, local, peer);
	if (rc)
		goto out;
	bfd_set_start(bs, e, cfg, now_us);
	bfd_set_index_add(&bs->by_id, e);
	bfd_set_index_add(&bs->by_discr, e);
	bfd_set_index_add(&bs->by_peer, e);
	e->heap_idx = bs->n_heap;
	bs->heap[bs->n_heap++] = e;
	bfd_set_heap_fix(bs, e);
	return 0;
out:
	bfd_set_ent_free(e);
	return rc;
}

/* New endpoints or interface: a new session (new discriminator, Down) on a new socket.
 * When the socket cannot be made yet the old session runs on untouched. */
static int bfd_set_restart(struct bfd_set *bs, struct bfd_set_ent *e, const char *ifname,
			   const struct addr *local, const struct addr *peer,
			   const struct bfd_cfg *cfg, int64_t now_us)
{
	struct bfd_set_ent fresh = { .fd = -1 };
	enum bfd_state old = e->s.state;
	int rc = bfd_set_ent_open(bs, &fresh, ifname, local, peer);

	if (rc)
		return rc;
	bfd_set_index_del(&bs->by_discr, e);
	bfd_set_index_del(&bs->by_peer, e);
	close(e->fd);
	e->fd = fresh.fd;
	memcpy(e->ifname, fresh.ifname, sizeof(e->ifname));
	e->ifindex = fresh.ifindex;
	e->rx_ifindex = fresh.rx_ifindex;
	e->local = fresh.local;
	e->peer = fresh.peer;
	bfd_session_init(&e->s, cfg, bfd_set_new_discr(bs), bfd_set_rand(bs), now_us);
	bfd_set_index_add(&bs->by_discr, e);
	bfd_set_index_add(&bs->by_peer, e);
	bfd_set_heap_fix(bs, e);
	if (old != BFD_DOWN && bs->cb)
		bs->cb(bs->ud, e->id, &e->s, old);
	return 0;
}

static bool bfd_set_cfg_eq(const struct bfd_cfg *a, const struct bfd_cfg *b)
{
	return a->desired_min_tx_us == b->desired_min_tx_us &&
	       a->required_min_rx_us == b->required_min_rx_us &&
	       a->detect_mult == b->detect_mult;
}

int bfd_set_ensure(struct bfd_set *bs, const char *id, const char *ifname,
		   const struct addr *local, const struct addr *peer,
		   const struct bfd_cfg *cfg, int64_t now_us)
{
	struct bfd_set_ent *e;

	if (!id || !ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE ||
	    local->family != peer->family ||
	    (peer->family != AF_INET && peer->family != AF_INET6))
		return -EINVAL;
	e = bfd_set_index_find(&bs->by_id, id);
	if (!e)
		return bfd_set_add(bs, id, ifname, local, peer, cfg, now_us);
	/* An interface made again under the same name leaves the socket bound to the
	 * old index: that is a restart too. */
	if (strcmp(e->ifname, ifname) || addr_cmp(&e->local, local) ||
	    addr_cmp(&e->peer, peer) || if_nametoindex(ifname) != e->ifindex)
		return bfd_set_restart(bs, e, ifname, local, peer, cfg, now_us);
	if (!bfd_set_cfg_eq(&e->s.cfg, cfg)) {
		bfd_session_set_cfg(&e->s, cfg, now_us);
		bfd_set_heap_fix(bs, e);
	}
	return 0;
}

void bfd_set_remove(struct bfd_set *bs, const char *id, bool admin_down, int64_t now_us)
{
	struct bfd_set_ent *e = bfd_set_index_find(&bs->by_id, id);

	if (!e)
		return;
	if (!admin_down) {
		bfd_set_destroy(bs, e);
		return;
	}
	bfd_set_index_del(&bs->by_id, e);
	e->dying = true;
	e->admin_left = BFD_SET_ADMIN_DOWN_PKTS;
	bfd_session_admin_down(&e->s, now_us);
	bfd_set_heap_fix(bs, e);
}

const struct bfd_session *bfd_set_get(const struct bfd_set *bs, const char *id)
{
	const struct bfd_set_ent *e = bfd_set_index_find(&bs->by_id, id);

	return e ? &e->s : NULL;
}

size_t bfd_set_count(const struct bfd_set *bs)
{
	return bs->by_id.n;
}

/* Expires and sends what is due, then tells the caller about a state change. The
 * callback comes last and e is not touched after it: it may remove sessions. */
static void bfd_set_service(struct bfd_set *bs, struct bfd_set_ent *e, enum bfd_state old,
			    int64_t now_us)
{
	bool due = bfd_session_tx_due(&e->s, now_us);
	uint8_t buf[BFD_PKT_LEN];
	struct bfd_pkt p;

	bfd_session_expire(&e->s, now_us);
	while (bfd_session_tx(&e->s, now_us, &p)) {
		bfd_pkt_encode(&p, buf);
		if (send(e->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			bs->tx_errors++;
	}
	/* Counted per transmit slot, sent or not, so a mute peer cannot keep it alive. */
	if (e->dying && due && --e->admin_left == 0) {
		bfd_set_destroy(bs, e);
		return;
	}
	bfd_set_heap_fix(bs, e);
	if (e->s.state != old && bs->cb)
		bs->cb(bs->ud, e->id, &e->s, old);
}

void bfd_set_run(struct bfd_set *bs, int64_t now_us)
{
	/* Each service moves the entry's deadline past now, so this ends. */
	while (bs->n_heap && bs->heap[0]->due <= now_us)
		bfd_set_service(bs, bs->heap[0], bs->heap[0]->s.state, now_us);
}

int64_t bfd_set_next_us(const struct bfd_set *bs)
{
	return bs->n_heap ? bs->heap[0]->due : INT64_MAX;
}

/* ---- receiving ---- */

static int bfd_set_recv(int fd, struct bfd_set_rx *rx)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 2 * CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_storage ss;
	struct iovec iov = { .iov_base = rx->buf, .iov_len = sizeof(rx->buf) };
	struct msghdr mh = {
		.msg_name = &ss, .msg_namelen = sizeof(ss), .msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	rx->len = (size_t)n < sizeof(rx->buf) ? (size_t)n : sizeof(rx->buf);
	rx->ttl = -1;
	rx->ifindex = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		struct in_pktinfo pi;
		struct in6_pktinfo pi6;

		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
			memcpy(&rx->ttl, CMSG_DATA(c), sizeof(int));
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			rx->ifindex = (unsigned)pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
			memcpy(&rx->ttl, CMSG_DATA(c), sizeof(int));
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
			rx->ifindex = pi6.ipi6_ifindex;
		}
	}
	bfd_set_addr_from(&ss, &rx->src);
	return 0;
}

/* Your Discriminator when the peer knows ours; before that (§6.8.6) the source
 * address and the interface the packet came in on. */
static struct bfd_set_ent *bfd_set_match(struct bfd_set *bs, const struct bfd_pkt *p,
					 const struct bfd_set_rx *rx)
{
	if (p->your_discr)
		return bfd_set_index_find(&bs->by_discr, &p->your_discr);
	if (!rx->ifindex)
		return NULL;
	for (size_t i = bfd_set_index_lower(&bs->by_peer, &rx->src);
	     i < bs->by_peer.n && !addr_cmp(&rx->src, &bs->by_peer.v[i]->peer); i++) {
		struct bfd_set_ent *e = bs->by_peer.v[i];

		/* The interface may have been made again under a new index. */
		if (e->rx_ifindex != rx->ifindex)
			e->rx_ifindex = if_nametoindex(e->ifname);
		if (e->rx_ifindex == rx->ifindex)
			return e;
	}
	return NULL;
}

static void bfd_set_input(struct bfd_set *bs, const struct bfd_set_rx *rx, int64_t now_us)
{
	struct bfd_set_ent *e = NULL;
	enum bfd_drop d = BFD_DROP_TTL;
	enum bfd_state old = BFD_DOWN;
	struct bfd_pkt p;
	bool changed;

	/* RFC 5881 §5: only a direct neighbour can send with 255 left. */
	if (rx->ttl == BFD_TTL)
		d = bfd_pkt_decode(rx->buf, rx->len, &p);
	if (d == BFD_DROP_NONE && !(e = bfd_set_match(bs, &p, rx)))
		d = BFD_DROP_NO_SESSION;
	if (e) {
		old = e->s.state;
		d = bfd_session_rx(&e->s, &p, now_us, &changed);
	}
	if (d != BFD_DROP_NONE)
		bs->drops[d]++;
	/* Even a dropped packet may have moved a deadline (§6.8.6 updates the remote
	 * timers before it discards for AdminDown); a Final or a new state goes now. */
	if (e)
		bfd_set_service(bs, e, old, now_us);
}

void bfd_set_dispatch(struct bfd_set *bs, const struct pollfd *fds, size_t n, int64_t now_us)
{
	struct bfd_set_rx rx;

	for (size_t i = 0; i < n; i++) {
		if (fds[i].fd < 0 || !(fds[i].revents & POLLIN) ||
		    (fds[i].fd != bs->fd4 && fds[i].fd != bs->fd6))
			continue;
		for (int k = 0; k < BFD_SET_RX_BURST && !bfd_set_recv(fds[i].fd, &rx); k++)
			bfd_set_input(bs, &rx, now_us);
	}
}

size_t bfd_set_pollfds(const struct bfd_set *bs, struct pollfd *fds, size_t max)
{
	int socks[2] = { bs->fd4, bs->fd6 };
	size_t n = 0;

	for (size_t i = 0; i < 2; i++)
		if (socks[i] >= 0 && n < max)
			fds[n++] = (struct pollfd){ .fd = socks[i], .events = POLLIN };
	return n;
}

const uint64_t *bfd_set_drops(const struct bfd_set *bs)
{
	return bs->drops;
}

uint64_t bfd_set_tx_errors(const struct bfd_set *bs)
{
	return bs->tx_errors;
}

/* ---- handing over to the next agent ---- */

size_t bfd_set_hold(struct bfd_set *bs, uint32_t tx_us, uint8_t mult, int64_t now_us)
{
	size_t n = 0;

	for (size_t i = 0; i < bs->by_id.n; i++) {
		struct bfd_set_ent *e = bs->by_id.v[i];
		struct bfd_cfg c = e->s.cfg;

		if (e->s.state != BFD_UP)
			continue;
		c.desired_min_tx_us = tx_us;
		c.detect_mult = mult;
		bfd_session_set_cfg(&e->s, &c, now_us);
		bfd_set_heap_fix(bs, e);
		n++;
	}
	return n;
}

size_t bfd_set_polling(const struct bfd_set *bs)
{
	size_t n = 0;

	for (size_t i = 0; i < bs->by_id.n; i++)
		n += bs->by_id.v[i]->s.state == BFD_UP && bs->by_id.v[i]->s.poll;
	return n;
}

void bfd_set_each(const struct bfd_set *bs, bfd_each_fn fn, void *ud)
{
	for (size_t i = 0; i < bs->by_id.n; i++) {
		const struct bfd_set_ent *e = bs->by_id.v[i];

		fn(ud, e->id, e->ifname, &e->local, &e->peer, &e->s);
	}
}

void bfd_set_expect(struct bfd_set *bs, struct bfd_expect *v, size_t n)
{
	free(bs->expect);
	bs->expect = v;
	bs->n_expect = v ? n : 0;
	if (bs->n_expect)
		qsort(bs->expect, bs->n_expect, sizeof(*v), bfd_set_expect_cmp);
}

/* ---- the set ---- */

struct bfd_set *bfd_set_new(bfd_change_fn cb, void *ud)
{
	struct bfd_set *bs = calloc(1, sizeof(*bs));
	int rc = -ENOMEM;

	if (!bs)
		goto out;
	*bs = (struct bfd_set){
		.fd4 = -1, .fd6 = -1, .cb = cb, .ud = ud,
		.by_id = { .cmp = bfd_set_cmp_id, .key = bfd_set_key_id },
		.by_discr = { .cmp = bfd_set_cmp_discr, .key = bfd_set_key_discr },
		.by_peer = { .cmp = bfd_set_cmp_peer, .key = bfd_set_key_peer },
		.rng = (uint32_t)bfd_now_us() | 1u,
	};
	rc = bfd_set_rx_open(AF_INET);
	if (rc < 0)
		goto out;
	bs->fd4 = rc;
	/* A host without IPv6 still runs BFD over its IPv4 tunnels. */
	rc = bfd_set_rx_open(AF_INET6);
	bs->fd6 = rc < 0 ? -1 : rc;
	return bs;
out:
	bfd_set_free(bs);
	errno = -rc;
	return NULL;
}

void bfd_set_free(struct bfd_set *bs)
{
	if (!bs)
		return;
	for (size_t i = 0; i < bs->n_heap; i++)
		bfd_set_ent_free(bs->heap[i]);
	free(bs->heap);
	free(bs->by_id.v);
	free(bs->by_discr.v);
	free(bs->by_peer.v);
	free(bs->expect);
	if (bs->fd4 >= 0)
		close(bs->fd4);
	if (bs->fd6 >= 0)
		close(bs->fd6);
	free(bs);
}
