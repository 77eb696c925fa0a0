/* The client's side of several controllers: the long-poll's failures move it to the
 * next (ctl_pick decides, this logs and aborts what belonged to the old position), an
 * earlier controller is probed (GET /healthz, its own transfer in the same multi
 * handle) and returned to, and an older revision from one of them is weighed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "client_int.h"
#include "ike.h"
#include "log.h"

#define CLIENT_CTL_PROBE_TIMEOUT 5L

/* An older revision than the agent's, from the controller in use. With one controller
 * it is still the controller's word: its database was restored from a backup, and what
 * it holds now is what the site must do. With several, which share one database, a
 * single one answering an older revision lags (a replica behind, a stale copy): taken
 * only once every controller has answered that same revision. True: take it. */
bool client_ctl_older(struct client *c, uint64_t after, uint64_t rev, char *err,
		      size_t errlen)
{
	if (ctl_pick_older(&c->pick, rev)) {
		log_warn("site %s: the controller%s went back from revision %llu to %llu "
			 "(restored from a backup?); applying it", c->site,
			 c->pick.n > 1 ? "s all" : "", (unsigned long long)after,
			 (unsigned long long)rev);
		return true;
	}
	snprintf(err, errlen, "revision %llu is older than %llu, the agent's (lagging?); "
		 "not applied", (unsigned long long)rev, (unsigned long long)after);
	return false;
}

static void client_ctl_probe_abort(struct client *c)
{
	client_xfer_clear(c, &c->probe);
	c->probing = -1;
}

/* move: the controller is unreachable or broken (connect, TLS, timeout, 5xx), or lags:
 * the next one gets the next long-poll. Other failures (4xx, an intent that does not
 * decode) would be the same at every controller of one database: retried here. */
void client_ctl_failed(struct client *c, const char *err, bool move)
{
	size_t from = c->pick.cur;
	unsigned int wait = ctl_pick_failed(&c->pick, move, ike_now_ms());

	c->retry_ms = ike_now_ms() + (int64_t)wait * 1000;
	if (c->pick.cur == from) {
		log_warn("site %s: controller: %s; retrying in %us", c->site, err, wait);
		return;
	}
	client_ctl_probe_abort(c);
	log_warn("site %s: controller %s: %s; switching to controller %s, retrying in %us",
		 c->site, c->urls[from], err, c->urls[c->pick.cur], wait);
}

/* Asks controller i for /healthz: no token (it needs none), a short timeout. */
static void client_ctl_probe_start(struct client *c, int i)
{
	int rc = client_xfer_init_at(c, &c->probe, (size_t)i, "/healthz", CLIENT_CTL_PROBE_TIMEOUT,
				     false);

	if (!rc && curl_multi_add_handle(c->multi, c->probe.h) != CURLM_OK)
		rc = -ENOMEM;
	if (rc) {
		client_xfer_clear(c, &c->probe);
		ctl_pick_probed(&c->pick, (size_t)i, false, ike_now_ms());
		return;
	}
	c->probing = i;
}

/* Back to controller i, which answered its probes: the long-poll on the later one is
 * cut short and starts again there, with the same revision. */
static void client_ctl_return(struct client *c, size_t i)
{
	size_t from = c->pick.cur;

	log_info("site %s: controller %s answers again; switching back to it from %s",
		 c->site, c->urls[i], c->urls[from]);
	ctl_pick_go(&c->pick, i, ike_now_ms());
	client_xfer_clear(c, &c->poll);
	c->pick.backoff = 1;
	client_poll_start(c);
}

void client_ctl_probe_done(struct client *c, CURLcode cc)
{
	char err[256] = "";
	long st = client_xfer_status(&c->probe, cc, err, sizeof(err));
	int i = c->probing, back;

	client_ctl_probe_abort(c);
	back = ctl_pick_probed(&c->pick, (size_t)i, st == 200, ike_now_ms());
	log_debug("site %s: probe of controller %s: %s", c->site, c->urls[i],
		  st == 200 ? "answers" : st < 0 ? err : "not 200");
	if (back >= 0)
		client_ctl_return(c, (size_t)back);
}

/* A probe round is due (on a later controller only). */
void client_ctl_probe_tick(struct client *c, int64_t now_ms)
{
	int i;

	if (c->started && c->probing < 0 && (i = ctl_pick_probe(&c->pick, now_ms)) >= 0)
		client_ctl_probe_start(c, i);
}


const char *client_ctl_url(const struct client *c, size_t i)
{
	return i < c->pick.n ? c->urls[i] : NULL;
}

const struct ctl_pick *client_ctl_pick(const struct client *c)
{
	return &c->pick;
}
