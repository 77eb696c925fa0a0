/* Netlink batches and dumps over libmnl. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include "exporter.h"
#include "nl.h"

/* Socket buffers as large as the kernel lets us have (SO_*BUFFORCE needs
 * CAP_NET_ADMIN, which the agent has; otherwise net.core.[rw]mem_max caps them). A
 * chunk of messages goes out in one sendmsg, which must fit the send buffer, and every
 * message in it is acked into the receive buffer before we read anything: a chunk holds
 * no more messages than the receive buffer has room for acks, even when every one
 * fails and carries an extended-ack text, or acks would be dropped (ENOBUFS). */
#define NL_BUF_WANT (4 << 20)
#define NL_ACK_TRUESIZE 2048	/* kernel memory charged per ack skb, at most */
#define NL_SEND_MAX (1 << 20)
#define NL_RECV_SIZE 32768
/* Acks are read many per recvmmsg: one datagram each, small with NETLINK_CAP_ACK. */
#define NL_ACK_SLOTS 64
#define NL_ACK_SLOT_SIZE 512

static int nl_getbuf(int fd, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0 ? 0 : v;
}

static void nl_sockopts(struct nl *nl)
{
	int one = 1, sz = NL_BUF_WANT;
	int fd = mnl_socket_get_fd(nl->sk);
	int rcv, snd;

	/* Best effort: an older kernel still works, only with longer acks, and with
	 * whole-table dumps where strict checking lets it filter (routes by protocol). */
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* What we got (the kernel reports its own, doubled, accounting figure). */
	rcv = nl_getbuf(fd, SO_RCVBUF);
	snd = nl_getbuf(fd, SO_SNDBUF);
	nl->chunk_msgs = rcv > 2 * NL_ACK_TRUESIZE ? (size_t)rcv / NL_ACK_TRUESIZE - 1 : 1;
	nl->chunk_bytes = snd > 2 * NL_MSG_MAX ? (size_t)snd / 2 : NL_MSG_MAX;
	if (nl->chunk_bytes > NL_SEND_MAX)
		nl->chunk_bytes = NL_SEND_MAX;
}

struct nl *nl_new(int protocol)
{
	struct nl *nl = calloc(1, sizeof(*nl));

	if (!nl)
		return NULL;
	nl->sk = mnl_socket_open(protocol);
	if (!nl->sk || mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		nl_free(nl);
		errno = e;
		return NULL;
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (uint32_t)time(NULL) << 8;
	nl_sockopts(nl);
	return nl;
}

struct nl *nl_new_monitor(int protocol, const unsigned int *groups, size_t n)
{
	struct nl *nl = nl_new(protocol);

	for (size_t i = 0; nl && i < n; i++) {
		int g = (int)groups[i];

		if (mnl_socket_setsockopt(nl->sk, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
			int e = errno;

			nl_free(nl);
			errno = e;
			return NULL;
		}
	}
	return nl;
}

void nl_free(struct nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		mnl_socket_close(nl->sk);
	free(nl);
}

int nl_fd(const struct nl *nl)
{
	return mnl_socket_get_fd(nl->sk);
}

int nl_drain(struct nl *nl)
{
	char buf[NL_RECV_SIZE];
	int n = 0;

	while (recv(nl_fd(nl), buf, sizeof(buf), MSG_DONTWAIT) > 0 || errno == ENOBUFS)
		n++;
	return n;
}

struct nl_batch *nl_batch_new(void)
{
	return calloc(1, sizeof(struct nl_batch));
}

void nl_batch_free(struct nl_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->ext[i]);
	free(b->buf);
	free(b->cookie);
	free(b->err);
	free(b->ext);
	free(b);
}

static int nl_batch_reserve(struct nl_batch *b)
{
	if (b->cap - b->len < NL_MSG_MAX) {
		size_t ncap = b->cap ? b->cap * 2 : 16 * NL_MSG_MAX;
		char *nb = realloc(b->buf, ncap);

		if (!nb)
			return -ENOMEM;
		b->buf = nb;
		b->cap = ncap;
	}
	if (b->n == b->cap_msgs) {
		size_t ncap = b->cap_msgs ? b->cap_msgs * 2 : 64;
		int *nc = realloc(b->cookie, ncap * sizeof(int));
		int *ne = nc ? realloc(b->err, ncap * sizeof(int)) : NULL;
		char **nx = ne ? realloc(b->ext, ncap * sizeof(char *)) : NULL;

		if (nc)
			b->cookie = nc;
		if (ne)
			b->err = ne;
		if (!nx)
			return -ENOMEM;
		b->ext = nx;
		b->cap_msgs = ncap;
	}
	return 0;
}

struct nlmsghdr *nl_batch_start(struct nl_batch *b, uint16_t type, uint16_t flags,
				int cookie)
{
	struct nlmsghdr *nlh;

	if (nl_batch_reserve(b))
		return NULL;
	memset(b->buf + b->len, 0, NL_MSG_MAX);
	nlh = mnl_nlmsg_put_header(b->buf + b->len);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	b->cookie[b->n] = cookie;
	b->err[b->n] = 0;
	b->ext[b->n] = NULL;
	return nlh;
}

void nl_batch_commit(struct nl_batch *b)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf + b->len);

	b->len += MNL_ALIGN(nlh->nlmsg_len);
	b->n++;
}

/* Records the ack in e against the message whose sequence number it carries. */
static void nl_batch_ack(struct nl_batch *b, size_t first, size_t count, uint32_t seq0,
			 const struct nlmsghdr *nlh, size_t len, size_t *acked)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	uint32_t i = nlh->nlmsg_seq - seq0;
	const struct nlattr *attr;
	size_t off;
	int rem;

	if (i >= count || len < NLMSG_HDRLEN + sizeof(int) ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(int))
		return;
	b->err[first + i] = e->error;
	(*acked)++;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || !e->error || nlh->nlmsg_len > len)
		return;
	/* With NETLINK_CAP_ACK the request is not echoed; otherwise TLVs follow it. */
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	if (off > nlh->nlmsg_len - NLMSG_HDRLEN)
		return;
	attr = (const struct nlattr *)((const char *)e + off);
	rem = (int)(nlh->nlmsg_len - NLMSG_HDRLEN - off);
	for (; mnl_attr_ok(attr, rem); rem -= (int)MNL_ALIGN(attr->nla_len),
	     attr = mnl_attr_next(attr)) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && !b->ext[first + i])
			b->ext[first + i] = strndup(mnl_attr_get_str(attr),
						    mnl_attr_get_payload_len(attr));
	}
}

/* Reads acks, many datagrams per recvmmsg, until count of them have arrived. A
 * truncated ack (a kernel without NETLINK_CAP_ACK echoing a long request) still has
 * its error code: only its extended-ack text is lost. */
static int nl_batch_acks(struct nl *nl, struct nl_batch *b, size_t first, size_t count,
			 uint32_t seq0)
{
	char bufs[NL_ACK_SLOTS][NL_ACK_SLOT_SIZE];
	struct mmsghdr mm[NL_ACK_SLOTS];
	struct iovec iov[NL_ACK_SLOTS];
	size_t acked = 0;

	for (size_t i = 0; i < NL_ACK_SLOTS; i++) {
		iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = NL_ACK_SLOT_SIZE };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	while (acked < count) {
		int n = recvmmsg(nl_fd(nl), mm, NL_ACK_SLOTS, MSG_WAITFORONE, NULL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)bufs[i];
			size_t len = mm[i].msg_len;

			if (len < NLMSG_HDRLEN || nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (len > NL_ACK_SLOT_SIZE || (mm[i].msg_hdr.msg_flags & MSG_TRUNC))
				len = NL_ACK_SLOT_SIZE;
			nl_batch_ack(b, first, count, seq0, nlh, len, &acked);
		}
	}
	return 0;
}

static int nl_batch_chunk(struct nl *nl, struct nl_batch *b, size_t first, size_t count,
			  char *start, size_t len)
{
	uint32_t seq0 = nl->seq;
	char *p = start;

	for (size_t i = 0; i < count; i++) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)p;

		nlh->nlmsg_seq = nl->seq++;
		p += MNL_ALIGN(nlh->nlmsg_len);
	}
	if (mnl_socket_sendto(nl->sk, start, len) < 0)
		return -errno;
	nl->n_sent += count;
	nl->n_sendmsg++;
	agent_counters.nl_changes += count;
	if (nl->crash_after && nl->n_sent >= nl->crash_after)
		raise(SIGKILL);
	return nl_batch_acks(nl, b, first, count, seq0);
}

int nl_batch_send(struct nl *nl, struct nl_batch *b)
{
	size_t first = 0, off = 0;
	int rc;

	while (first < b->n) {
		size_t count = 0, len = 0;
		char *p = b->buf + off;

		/* At least one message per chunk, however small the buffers. */
		while (first + count < b->n && (count == 0 || (count < nl->chunk_msgs &&
		       len + MNL_ALIGN(((struct nlmsghdr *)(p + len))->nlmsg_len) <=
		       nl->chunk_bytes))) {
			len += MNL_ALIGN(((struct nlmsghdr *)(p + len))->nlmsg_len);
			count++;
		}
		rc = nl_batch_chunk(nl, b, first, count, p, len);
		if (rc)
			return rc;
		first += count;
		off += len;
	}
	return 0;
}

struct nl_dump_ctx {
	nl_dump_cb cb;
	void *data;
	bool intr;
	int err;
};

/* Reads the dump to its end even after cb failed, so no stale reply is left behind
 * for the next exchange on this socket. */
static int nl_dump_one(const struct nlmsghdr *nlh, void *data)
{
	struct nl_dump_ctx *c = data;
	int rc;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		c->intr = true;
	if (c->err)
		return MNL_CB_OK;
	rc = c->cb(nlh, c->data);
	if (rc < 0)
		c->err = rc;
	return MNL_CB_OK;
}

/* A dump (NLM_F_DUMP, ends with NLMSG_DONE) or a single get (NLM_F_ACK: its replies,
 * then the ack). */
static int nl_request(struct nl *nl, struct nlmsghdr *req, uint16_t flags, nl_dump_cb cb,
		      void *data)
{
	char buf[NL_RECV_SIZE];
	struct nl_dump_ctx c = { .cb = cb, .data = data };
	uint32_t seq = nl->seq++;
	ssize_t n;
	int rc;

	req->nlmsg_flags = NLM_F_REQUEST | flags;
	req->nlmsg_seq = seq;
	nl->n_reads++;
	agent_counters.nl_reads++;
	if (mnl_socket_sendto(nl->sk, req, req->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sk, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		errno = 0;
		rc = mnl_cb_run(buf, (size_t)n, seq, nl->portid, nl_dump_one, &c);
	} while (rc == MNL_CB_OK);
	if (rc < 0)
		return errno ? -errno : -EIO;
	if (c.err)
		return c.err;
	return c.intr ? -EINTR : 0;
}

int nl_dump(struct nl *nl, struct nlmsghdr *req, nl_dump_cb cb, void *data)
{
	return nl_request(nl, req, NLM_F_DUMP, cb, data);
}

int nl_get(struct nl *nl, struct nlmsghdr *req, nl_dump_cb cb, void *data)
{
	return nl_request(nl, req, NLM_F_ACK, cb, data);
}
