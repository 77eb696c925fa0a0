#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "http_conn.h"

#define HTTP_CONNS_TICK_MS 250

struct http_conn {
	struct http_conns *cs;
	int fd;
	bool waiting;			/* for request headers, since `since` */
	time_t since;
	struct http_conn *prev, *next;
};

struct http_conns {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t sweeper;
	bool stop;
	unsigned timeout;
	struct http_conn *head;
};

static time_t http_conns_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Shuts down (does not close: libmicrohttpd owns the descriptor) every connection whose
 * headers are overdue; libmicrohttpd then sees the error and closes it. The entry lives
 * until its CLOSED notification, which comes before the descriptor is closed and takes
 * the same lock, so the descriptor shut down is always still this connection's. */
static void http_conns_sweep(struct http_conns *cs)
{
	time_t now = http_conns_now();

	for (struct http_conn *c = cs->head; c; c = c->next) {
		if (c->waiting && now - c->since >= (time_t)cs->timeout) {
			shutdown(c->fd, SHUT_RDWR);
			c->waiting = false;
		}
	}
}

static void *http_conns_run(void *arg)
{
	struct http_conns *cs = arg;
	struct timespec until;

	pthread_mutex_lock(&cs->lock);
	while (!cs->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += HTTP_CONNS_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&cs->wake, &cs->lock, &until);
		http_conns_sweep(cs);
	}
	pthread_mutex_unlock(&cs->lock);
	return NULL;
}

int http_conns_new(unsigned header_timeout_s, struct http_conns **out)
{
	struct http_conns *cs = calloc(1, sizeof(*cs));
	pthread_condattr_t attr;
	int r;

	if (!cs)
		return -ENOMEM;
	cs->timeout = header_timeout_s;
	pthread_mutex_init(&cs->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&cs->wake, &attr);
	pthread_condattr_destroy(&attr);
	r = -pthread_create(&cs->sweeper, NULL, http_conns_run, cs);
	if (r < 0) {
		pthread_cond_destroy(&cs->wake);
		pthread_mutex_destroy(&cs->lock);
		free(cs);
		return r;
	}
	*out = cs;
	return 0;
}

void http_conns_free(struct http_conns *cs)
{
	if (!cs)
		return;
	pthread_mutex_lock(&cs->lock);
	cs->stop = true;
	pthread_cond_signal(&cs->wake);
	pthread_mutex_unlock(&cs->lock);
	pthread_join(cs->sweeper, NULL);
	pthread_cond_destroy(&cs->wake);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}

static void http_conns_add(struct http_conns *cs, struct MHD_Connection *conn, void **ctx)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct http_conn *c = calloc(1, sizeof(*c));

	*ctx = c;
	if (!c || !ci)
		return;		/* unguarded: libmicrohttpd's idle timeout still applies */
	c->cs = cs;
	c->fd = ci->connect_fd;
	c->waiting = true;
	c->since = http_conns_now();
	pthread_mutex_lock(&cs->lock);
	c->next = cs->head;
	if (cs->head)
		cs->head->prev = c;
	cs->head = c;
	pthread_mutex_unlock(&cs->lock);
}

static void http_conns_remove(struct http_conn *c)
{
	struct http_conns *cs = c->cs;

	if (cs) {
		pthread_mutex_lock(&cs->lock);
		if (c->prev)
			c->prev->next = c->next;
		else
			cs->head = c->next;
		if (c->next)
			c->next->prev = c->prev;
		pthread_mutex_unlock(&cs->lock);
	}
	free(c);
}

void http_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		       enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		http_conns_add(cls, conn, socket_context);
	else if (*socket_context)
		http_conns_remove(*socket_context);
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		*socket_context = NULL;
}

static struct http_conn *http_conns_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *c = ci ? ci->socket_context : NULL;

	return c && c->cs ? c : NULL;
}

static void http_conns_set(struct MHD_Connection *conn, bool waiting)
{
	struct http_conn *c = http_conns_of(conn);

	if (!c)
		return;
	pthread_mutex_lock(&c->cs->lock);
	c->waiting = waiting;
	c->since = http_conns_now();
	pthread_mutex_unlock(&c->cs->lock);
}

void http_conns_headers_done(struct MHD_Connection *conn)
{
	http_conns_set(conn, false);
}

void http_conns_request_done(struct MHD_Connection *conn)
{
	http_conns_set(conn, true);
}

bool http_conns_peer_closed(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct pollfd p = { .events = POLLIN | POLLRDHUP };

	if (!ci)
		return false;
	p.fd = ci->connect_fd;
	/* A long-polling client sends nothing more on its connection: a FIN, a reset or an
	 * error is the only news there can be (TLS too: a close_notify comes with a FIN). */
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}
