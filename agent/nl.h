/* Netlink plumbing over libmnl: batched requests (many messages per sendmsg, each
 * with NLM_F_ACK and its own sequence number, acks mapped back to the message that
 * caused them) and dumps that notice interruption. */
#ifndef GRESEC_NL_H
#define GRESEC_NL_H

#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

/* Room every message builder may use; no agent message comes near it. */
#define NL_MSG_MAX 1024

struct nl {
	struct mnl_socket *sk;
	unsigned int portid;
	uint32_t seq;
	uint64_t n_sent;	/* changing messages sent over this socket's life */
	uint64_t n_sendmsg;	/* sendmsg calls that carried them */
	uint64_t n_reads;	/* dump and get requests */
	size_t chunk_msgs;	/* most messages per sendmsg (their acks must fit) */
	size_t chunk_bytes;	/* most bytes per sendmsg */
	/* Crash tests only (GRESEC_TEST_CRASH_AFTER): SIGKILL ourselves right after the
	 * sendmsg that brings n_sent to this, to die between a batch and its acks. */
	uint64_t crash_after;
};

struct nl_batch {
	char *buf;
	size_t len, cap;
	size_t n;
	int *cookie;		/* caller's tag per message (e.g. plan action index) */
	int *err;		/* per message after nl_batch_send: 0 or -errno */
	char **ext;		/* per message: the kernel's extended-ack text, or NULL */
	size_t cap_msgs;
};

struct nl *nl_new(int protocol);
void nl_free(struct nl *nl);

struct nl_batch *nl_batch_new(void);
void nl_batch_free(struct nl_batch *b);
/* Starts a message (header zeroed, NLM_F_REQUEST|NLM_F_ACK|flags) with room for
 * NL_MSG_MAX bytes; finish it with nl_batch_commit. NULL on OOM. */
struct nlmsghdr *nl_batch_start(struct nl_batch *b, uint16_t type, uint16_t flags,
				int cookie);
void nl_batch_commit(struct nl_batch *b);
/* Sends every message, in chunks that the socket's receive buffer can ack, and fills
 * b->err. Returns 0 when the exchange worked (individual messages may still have
 * failed: see b->err), or a negative errno for a socket failure. */
int nl_batch_send(struct nl *nl, struct nl_batch *b);

/* Runs a dump: req is a complete request (NLM_F_DUMP is added); cb sees each reply
 * message. Returns 0, -EINTR when the kernel flagged the dump inconsistent (retry),
 * the first negative return of cb, or a negative errno. */
typedef int (*nl_dump_cb)(const struct nlmsghdr *nlh, void *data);
int nl_dump(struct nl *nl, struct nlmsghdr *req, nl_dump_cb cb, void *data);
/* One get request (not a dump): cb sees its reply. 0, or the kernel's negative errno
 * (-ENODEV: no such object). */
int nl_get(struct nl *nl, struct nlmsghdr *req, nl_dump_cb cb, void *data);

/* A socket subscribed to multicast groups (NETLINK_ROUTE RTNLGRP_* or NETLINK_XFRM
 * XFRMNLGRP_*), for change notifications. */
struct nl *nl_new_monitor(int protocol, const unsigned int *groups, size_t n);
int nl_fd(const struct nl *nl);
/* Reads and discards pending notifications; returns how many were read (>= 0). */
int nl_drain(struct nl *nl);

#endif
