/* VICI over charon's unix socket: requests, streamed requests and events, all on a
 * non-blocking socket so the agent's poll loop can own the fd. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "exporter.h"
#include "vici.h"

#define VICI_RX_CHUNK 16384

/* ---- connection ---- */

struct vici_conn *vici_conn_new(void)
{
	struct vici_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = -1;
	c->timeout_ms = 10000;
	return c;
}

void vici_conn_close(struct vici_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rx_len = 0;
}

void vici_conn_free(struct vici_conn *c)
{
	if (!c)
		return;
	vici_conn_close(c);
	free(c->rx);
	free(c);
}

int vici_conn_fd(const struct vici_conn *c)
{
	return c->fd;
}

void vici_conn_set_cb(struct vici_conn *c, vici_event_cb cb, void *data)
{
	c->cb = cb;
	c->cb_data = data;
}

int vici_conn_open(struct vici_conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!path)
		path = VICI_DEFAULT_SOCKET;
	if (!strncmp(path, "unix://", 7))
		path += 7;
	if (!*path || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, path);
	vici_conn_close(c);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A local stream connect completes or fails at once, even non-blocking. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	c->fd = fd;
	return 0;
}

static int64_t vici_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define VICI_HOOK_FDS 4

static struct vici_wait_hook vici_hook;

void vici_set_wait_hook(const struct vici_wait_hook *h)
{
	vici_hook = h ? *h : (struct vici_wait_hook){ 0 };
}

/* Waits for fd (the hook's fds served meanwhile). 0 when ready, negative errno. */
static int vici_wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p[1 + VICI_HOOK_FDS] = { { .fd = fd, .events = events } };

	for (;;) {
		int64_t now = vici_now_ms(), left = deadline - now, hd = -1;
		size_t n = vici_hook.fds ? vici_hook.fds(vici_hook.ud, p + 1, VICI_HOOK_FDS, &hd) : 0;
		int rc;

		if (left <= 0)
			return vici_errno(VICI_FAIL_TIMEOUT, NULL);
		if (hd >= 0 && hd - now < left)
			left = hd - now < 0 ? 0 : hd - now;
		rc = poll(p, 1 + n, (int)(left > 60000 ? 60000 : left));
		if (rc < 0)
			return errno == EINTR ? 0 : -errno;
		if (p[0].revents)
			return 0;
		if (n || hd >= 0)
			vici_hook.run(vici_hook.ud, p + 1, n);
	}
}

static int vici_write_all(struct vici_conn *c, const uint8_t *p, size_t n)
{
	int64_t deadline = vici_now_ms() + c->timeout_ms;

	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		int rc;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EPIPE)
			return vici_errno(VICI_FAIL_CLOSED, NULL);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = vici_wait_fd(c->fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

static int vici_send(struct vici_conn *c, uint8_t type, const char *name,
		     const struct vici_msg *m)
{
	size_t nlen = name ? strlen(name) : 0;
	size_t plen = m ? m->len : 0;
	size_t total = 1 + (nlen ? 1 + nlen : 0) + plen;
	uint8_t *pkt;
	size_t off = 0;
	int rc;

	if (c->fd < 0)
		return -ENOTCONN;
	if (nlen > VICI_NAME_MAX || total > VICI_PACKET_MAX)
		return -EINVAL;
	if (m && (rc = vici_msg_finish(m)))
		return rc;
	pkt = malloc(4 + total);
	if (!pkt)
		return -ENOMEM;
	pkt[off++] = (uint8_t)(total >> 24);
	pkt[off++] = (uint8_t)(total >> 16);
	pkt[off++] = (uint8_t)(total >> 8);
	pkt[off++] = (uint8_t)total;
	pkt[off++] = type;
	if (nlen) {
		pkt[off++] = (uint8_t)nlen;
		memcpy(pkt + off, name, nlen);
		off += nlen;
	}
	if (plen)
		memcpy(pkt + off, m->buf, plen);
	rc = vici_write_all(c, pkt, 4 + total);
	explicit_bzero(pkt, 4 + total);
	free(pkt);
	/* A failed or partial write leaves the stream unusable (charon restarted): close,
	 * so the next call reconnects instead of failing with -EPIPE forever. */
	if (rc)
		vici_conn_close(c);
	return rc;
}

/* Reads what is available into rx: 1 when bytes came, 0 on EAGAIN, -EPIPE on EOF. */
static int vici_fill(struct vici_conn *c)
{
	ssize_t r;

	if (c->rx_cap - c->rx_len < VICI_RX_CHUNK) {
		uint8_t *nb = realloc(c->rx, c->rx_cap + VICI_RX_CHUNK);

		if (!nb)
			return -ENOMEM;
		c->rx = nb;
		c->rx_cap += VICI_RX_CHUNK;
	}
	r = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, 0);
	if (r > 0) {
		c->rx_len += (size_t)r;
		return 1;
	}
	if (r == 0)
		return vici_errno(VICI_FAIL_CLOSED, NULL);
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	return -errno;
}

/* Takes one complete packet out of rx into a new buffer: 1, 0 when incomplete. */
static int vici_take(struct vici_conn *c, uint8_t **pkt, size_t *len)
{
	size_t n;

	if (c->rx_len < 4)
		return 0;
	n = ((size_t)c->rx[0] << 24) | ((size_t)c->rx[1] << 16) |
	    ((size_t)c->rx[2] << 8) | c->rx[3];
	if (n == 0 || n > VICI_PACKET_MAX)
		return vici_errno(VICI_FAIL_PROTOCOL, NULL);
	if (c->rx_len < 4 + n)
		return 0;
	*pkt = malloc(n);
	if (!*pkt)
		return -ENOMEM;
	memcpy(*pkt, c->rx + 4, n);
	*len = n;
	memmove(c->rx, c->rx + 4 + n, c->rx_len - 4 - n);
	c->rx_len -= 4 + n;
	return 1;
}

static int vici_next(struct vici_conn *c, int64_t deadline, uint8_t **pkt, size_t *len)
{
	for (;;) {
		int rc = vici_take(c, pkt, len);

		if (rc)
			return rc < 0 ? rc : 0;
		rc = vici_fill(c);
		if (rc < 0)
			return rc;
		if (rc == 0 && (rc = vici_wait_fd(c->fd, POLLIN, deadline)))
			return rc;
	}
}

struct vici_stream {
	const char *event;
	vici_event_cb cb;
	void *data;
};

static void vici_deliver(struct vici_conn *c, const char *name, const uint8_t *p,
			 size_t n, const struct vici_stream *st)
{
	struct vici_node *ev = NULL;

	vici_parse(p, n, &ev);
	if (st && st->event && !strcmp(name, st->event))
		st->cb(name, ev, st->data);
	else if (c->cb)
		c->cb(name, ev, c->cb_data);
	vici_node_free(ev);
}

/* Waits for the answer to what was just sent (want: CMD_RESPONSE or EVENT_CONFIRM),
 * delivering events meanwhile. The deadline restarts with every packet, so a long
 * stream (list-sas of hundreds of SAs) is bounded per packet, not in total. */
static int vici_answer(struct vici_conn *c, uint8_t want, const struct vici_stream *st,
		       struct vici_node **reply)
{
	for (;;) {
		char name[VICI_NAME_MAX + 1];
		const uint8_t *pl;
		uint8_t *pkt = NULL, type;
		size_t len, plen;
		int rc = vici_next(c, vici_now_ms() + c->timeout_ms, &pkt, &len);

		if (!rc && vici_packet_parse(pkt, len, &type, name, &pl, &plen))
			rc = vici_errno(VICI_FAIL_PROTOCOL, NULL);
		if (!rc && type == VICI_EVENT) {
			vici_deliver(c, name, pl, plen, st);
			free(pkt);
			continue;
		}
		if (!rc && type == VICI_CMD_UNKNOWN)
			rc = vici_errno(VICI_FAIL_UNKNOWN_CMD, NULL);
		else if (!rc && type == VICI_EVENT_UNKNOWN)
			rc = vici_errno(VICI_FAIL_UNKNOWN_EVENT, NULL);
		else if (!rc && type != want)
			rc = vici_errno(VICI_FAIL_PROTOCOL, NULL);
		else if (!rc && reply && vici_parse(pl, plen, reply))
			rc = vici_errno(VICI_FAIL_PROTOCOL, NULL);
		free(pkt);
		/* After a failure mid-stream the byte stream cannot be trusted. */
		if (rc && rc != -EOPNOTSUPP)
			vici_conn_close(c);
		return rc;
	}
}

static int vici_call_st(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
			const struct vici_stream *st, struct vici_node **reply)
{
	int rc;

	if (reply)
		*reply = NULL;
	agent_counters.vici_calls++;
	rc = vici_send(c, VICI_CMD_REQUEST, cmd, req);
	if (rc == 0)
		rc = vici_answer(c, VICI_CMD_RESPONSE, st, reply);
	if (rc)
		agent_counters.vici_errors++;
	return rc;
}

int vici_call(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
	      struct vici_node **reply)
{
	return vici_call_st(c, cmd, req, NULL, reply);
}

int vici_call_check(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
		    char *err, size_t errlen)
{
	struct vici_node *reply = NULL;
	int rc = vici_call(c, cmd, req, &reply);

	if (err && errlen)
		err[0] = '\0';
	if (!rc) {
		rc = vici_check(reply, err, errlen);
		if (rc)
			agent_counters.vici_errors++;	/* charon said no */
	} else if (err && errlen) {
		snprintf(err, errlen, "%s: %s", cmd, strerror(-rc));
	}
	vici_node_free(reply);
	return rc;
}

static int vici_evreg(struct vici_conn *c, uint8_t type, const char *event)
{
	int rc = vici_send(c, type, event, NULL);

	if (rc)
		return rc;
	return vici_answer(c, VICI_EVENT_CONFIRM, NULL, NULL);
}

int vici_register(struct vici_conn *c, const char *event)
{
	return vici_evreg(c, VICI_EVENT_REGISTER, event);
}

int vici_unregister(struct vici_conn *c, const char *event)
{
	return vici_evreg(c, VICI_EVENT_UNREGISTER, event);
}

int vici_call_stream(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
		     const char *event, vici_event_cb cb, void *data)
{
	struct vici_stream st = { .event = event, .cb = cb, .data = data };
	struct vici_node *reply = NULL;
	int rc, rc2;

	rc = vici_register(c, event);
	if (rc)
		return rc;
	rc = vici_call_st(c, cmd, req, &st, &reply);
	/* list-* replies carry no success key; a failure would say so in errmsg. */
	if (!rc && vici_node_str(reply, "success") && vici_check(reply, NULL, 0))
		rc = vici_check(reply, NULL, 0);
	vici_node_free(reply);
	if (c->fd < 0)
		return rc;
	rc2 = vici_unregister(c, event);
	return rc ? rc : rc2;
}

int vici_dispatch(struct vici_conn *c)
{
	int rc = 0, eof = 0;

	if (c->fd < 0)
		return -ENOTCONN;
	while ((rc = vici_fill(c)) > 0)
		;
	if (rc == -EPIPE)
		eof = rc;
	else if (rc < 0)
		return rc;
	for (;;) {
		char name[VICI_NAME_MAX + 1];
		const uint8_t *pl;
		uint8_t *pkt = NULL, type;
		size_t len, plen;

		rc = vici_take(c, &pkt, &len);
		if (rc <= 0)
			break;
		rc = vici_packet_parse(pkt, len, &type, name, &pl, &plen);
		/* Only events may arrive unasked; anything else means we lost sync. */
		if (rc || type != VICI_EVENT) {
			free(pkt);
			rc = vici_errno(VICI_FAIL_PROTOCOL, NULL);
			break;
		}
		vici_deliver(c, name, pl, plen, NULL);
		free(pkt);
	}
	if (rc < 0 || eof)
		vici_conn_close(c);
	return rc < 0 ? rc : eof;
}
