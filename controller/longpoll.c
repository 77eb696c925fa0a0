#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "longpoll.h"

#define LONGPOLL_TICK_MS 100

struct longpoll_waiter {
	struct longpoll *p;
	struct http_request *req;
	char site[64];
	struct timespec deadline;
	bool parked;		/* suspended and not yet resumed */
	bool timed_out;
	struct longpoll_waiter *prev, *next;
};

struct longpoll {
	pthread_mutex_t lock;
	pthread_t timer;
	bool stop;
	struct longpoll_waiter *head;
	unsigned count;
};

static int longpoll_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Called with the lock held. */
static void longpoll_wake(struct longpoll_waiter *w, bool timed_out)
{
	if (!w->parked)
		return;
	w->parked = false;
	w->timed_out = timed_out;
	http_resume(w->req);
}

static void *longpoll_timer(void *arg)
{
	struct longpoll *p = arg;
	struct timespec now, tick = { 0, LONGPOLL_TICK_MS * 1000000L };

	for (;;) {
		nanosleep(&tick, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		pthread_mutex_lock(&p->lock);
		if (p->stop) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		/* A client that hung up is answered (and its connection freed) at once, not
		 * at its deadline: dropped polls must not pile up. */
		for (struct longpoll_waiter *w = p->head; w; w = w->next)
			if (w->parked && (longpoll_before(&w->deadline, &now) ||
					  http_peer_closed(w->req)))
				longpoll_wake(w, true);
		pthread_mutex_unlock(&p->lock);
	}
}

int longpoll_new(struct longpoll **out)
{
	struct longpoll *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	r = -pthread_create(&p->timer, NULL, longpoll_timer, p);
	if (r < 0) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

void longpoll_shutdown(struct longpoll *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	for (struct longpoll_waiter *w = p->head; w; w = w->next)
		longpoll_wake(w, true);
	pthread_mutex_unlock(&p->lock);
}

void longpoll_free(struct longpoll *p)
{
	if (!p)
		return;
	longpoll_shutdown(p);
	pthread_mutex_lock(&p->lock);
	for (struct longpoll_waiter *w = p->head; w; w = w->next)
		w->p = NULL;	/* the waiter may outlive us until its connection closes */
	p->head = NULL;
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->timer, NULL);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static void longpoll_waiter_free(void *data)
{
	struct longpoll_waiter *w = data;
	struct longpoll *p = w->p;

	if (p) {
		pthread_mutex_lock(&p->lock);
		if (w->prev)
			w->prev->next = w->next;
		else if (p->head == w)
			p->head = w->next;
		if (w->next)
			w->next->prev = w->prev;
		p->count--;
		pthread_mutex_unlock(&p->lock);
	}
	free(w);
}

int longpoll_park(struct longpoll *p, struct http_request *req, const char *site, unsigned timeout_ms)
{
	struct longpoll_waiter *w = http_user(req);
	bool stopped;

	pthread_mutex_lock(&p->lock);
	stopped = p->stop;
	pthread_mutex_unlock(&p->lock);
	if (stopped)
		return -ESHUTDOWN;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->p = p;
		w->req = req;
		strncpy(w->site, site, sizeof(w->site) - 1);
		clock_gettime(CLOCK_MONOTONIC, &w->deadline);
		w->deadline.tv_sec += timeout_ms / 1000;
		w->deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (w->deadline.tv_nsec >= 1000000000L) {
			w->deadline.tv_sec++;
			w->deadline.tv_nsec -= 1000000000L;
		}
		http_set_user(req, w, longpoll_waiter_free);
		pthread_mutex_lock(&p->lock);
		w->next = p->head;
		if (p->head)
			p->head->prev = w;
		p->head = w;
		p->count++;
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_lock(&p->lock);
	w->parked = true;
	pthread_mutex_unlock(&p->lock);
	http_suspend(req);
	return 0;
}

bool longpoll_timed_out(struct http_request *req)
{
	const struct longpoll_waiter *w = http_user(req);

	return w && w->timed_out;
}

const char *longpoll_held_site(struct http_request *req)
{
	const struct longpoll_waiter *w = http_user(req);

	return w ? w->site : NULL;
}

static int longpoll_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void longpoll_notify(struct longpoll *p, const json_t *sites)
{
	size_t n = json_array_size(sites);
	const char **names = calloc(n + 1, sizeof(*names));

	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		names[i] = json_string_value(json_array_get(sites, i));
	qsort(names, n, sizeof(*names), longpoll_name_cmp);
	pthread_mutex_lock(&p->lock);
	for (struct longpoll_waiter *w = p->head; w; w = w->next) {
		const char *key = w->site;

		if (w->parked && bsearch(&key, names, n, sizeof(*names), longpoll_name_cmp))
			longpoll_wake(w, false);
	}
	pthread_mutex_unlock(&p->lock);
	free(names);
}

unsigned longpoll_count(struct longpoll *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->count;
	pthread_mutex_unlock(&p->lock);
	return n;
}

bool longpoll_waiting(void *ctx, const char *site)
{
	struct longpoll *p = ctx;
	bool found = false;

	pthread_mutex_lock(&p->lock);
	for (struct longpoll_waiter *w = p->head; w && !found; w = w->next)
		found = w->parked && strcmp(w->site, site) == 0;
	pthread_mutex_unlock(&p->lock);
	return found;
}
