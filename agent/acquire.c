/* XFRM acquire listener (see acquire.h for the larval-drop behaviour). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>

#include "acquire.h"
#include "ike.h"

#define ACQUIRE_LARVAL_DROP "/proc/sys/net/core/xfrm_larval_drop"

struct acquire *acquire_new(void)
{
	return calloc(1, sizeof(struct acquire));
}

void acquire_free(struct acquire *a)
{
	if (!a)
		return;
	if (a->sk)
		mnl_socket_close(a->sk);
	free(a);
}

int acquire_open(struct acquire *a)
{
	int fd, rc;

	if (a->sk)
		return 0;
	a->sk = mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!a->sk)
		return -errno;
	if (mnl_socket_bind(a->sk, 1u << (XFRMNLGRP_ACQUIRE - 1), MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		mnl_socket_close(a->sk);
		a->sk = NULL;
		return rc;
	}
	fd = mnl_socket_get_fd(a->sk);
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ? -errno : 0;
}

int acquire_fd(const struct acquire *a)
{
	return a->sk ? mnl_socket_get_fd(a->sk) : -1;
}

struct acquire_attr {
	const struct xfrm_user_tmpl *tmpl;
	size_t n_tmpl;
};

static int acquire_attr_cb(const struct nlattr *attr, void *data)
{
	struct acquire_attr *aa = data;

	if (mnl_attr_get_type(attr) == XFRMA_TMPL) {
		size_t len = mnl_attr_get_payload_len(attr);

		aa->tmpl = mnl_attr_get_payload(attr);
		aa->n_tmpl = len / sizeof(struct xfrm_user_tmpl);
	}
	return MNL_CB_OK;
}

int acquire_parse(const struct nlmsghdr *nlh, uint32_t *reqid)
{
	struct acquire_attr aa = { 0 };
	struct xfrm_user_tmpl t;

	if (nlh->nlmsg_type != XFRM_MSG_ACQUIRE)
		return -EINVAL;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct xfrm_user_acquire)))
		return -EBADMSG;
	if (mnl_attr_parse(nlh, sizeof(struct xfrm_user_acquire), acquire_attr_cb, &aa) < 0 ||
	    !aa.n_tmpl)
		return -EBADMSG;
	/* Attribute payloads are only 4-byte aligned. */
	memcpy(&t, aa.tmpl, sizeof(t));
	*reqid = t.reqid;
	return 0;
}

int acquire_dispatch(struct acquire *a, struct ike *ike)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];

	if (!a->sk)
		return -ENOTCONN;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(a->sk, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left;

		if (n < 0 && errno == ENOBUFS)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		left = (int)n;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			uint32_t reqid;

			if (acquire_parse(nlh, &reqid))
				continue;
			a->n_seen++;
			if (ike_acquire(ike, reqid, ike_now_ms()) != -ENOENT)
				a->n_ours++;
		}
	}
}

int acquire_set_larval_drop(bool drop)
{
	int fd = open(ACQUIRE_LARVAL_DROP, O_WRONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, drop ? "1\n" : "0\n", 2) != 2)
		rc = errno ? -errno : -EIO;
	close(fd);
	return rc;
}
