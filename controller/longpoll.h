/* Held long-polls for intents: parked connections, not threads. A site's waiters are
 * resumed when its intent changes, or when their timeout passes (a timer thread). */
#ifndef GRESEC_LONGPOLL_H
#define GRESEC_LONGPOLL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "http.h"

struct longpoll;

int longpoll_new(struct longpoll **out);
/* Resumes every waiter (as timed out) and parks no more: call before the HTTP server
 * stops, since it must not stop with connections parked. */
void longpoll_shutdown(struct longpoll *p);
void longpoll_free(struct longpoll *p);
/* Parks req until site's intent changes or timeout_ms passes. -ESHUTDOWN once
 * longpoll_shutdown ran. */
int longpoll_park(struct longpoll *p, struct http_request *req, const char *site, unsigned timeout_ms);
/* After a resume: true when req's wait timed out (reply 204). False for a request that
 * was never parked or was woken by a change. */
bool longpoll_timed_out(struct http_request *req);
/* The site req was parked for, or NULL for a request that was never parked: a
 * resumed request was authenticated once, when it parked. */
const char *longpoll_held_site(struct http_request *req);
/* Wakes the waiters of these sites (a JSON array of names). Any thread. */
void longpoll_notify(struct longpoll *p, const json_t *sites);
/* Whether a request for site's intent is parked now (ctx: struct longpoll). Any thread. */
bool longpoll_waiting(void *ctx, const char *site);
/* How many requests are parked now. */
unsigned longpoll_count(struct longpoll *p);

#endif
