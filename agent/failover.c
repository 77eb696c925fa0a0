/* Failover: signals in, liveness verdicts and BFD sessions out. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfd_handoff.h"
#include "bfd_set.h"
#include "failover.h"
#include "ike.h"
#include "ike_events.h"
#include "kstate.h"
#include "log.h"
#include "state.h"
#include "vici.h"

#define FAILOVER_STATE_FILE "liveness.json"

struct failover {
	char *state_dir;		/* NULL: nothing persisted */
	struct live *live;
	struct bfd_set *bfd;
	const struct intent *in;	/* the intent tracked (borrowed) */
	struct live_input *inp;		/* last signals, parallel to in's tunnels */
	bool *plain;			/* per tunnel: no SPD entry, so no SA to wait for */
	bool loaded;			/* liveness.json read (once, at the first intent) */
	bool dirty;			/* a verdict changed since failover_take_dirty */
	bool bfd_moved;			/* a BFD session changed state */
	int64_t next_ms;		/* live_next_ms after the last evaluation */
};

static void failover_on_bfd(void *ud, const char *id, const struct bfd_session *s,
			    enum bfd_state old)
{
	struct failover *f = ud;

	f->bfd_moved = true;
	log_ctx(LOG_LVL_INFO, f->in ? f->in->site : "-", id, "BFD %s -> %s (diag %s)",
		 bfd_state_name(old), bfd_state_name(s->state), bfd_diag_name(s->local_diag));
}

static size_t failover_hook_fds(void *ud, struct pollfd *fds, size_t max, int64_t *deadline)
{
	struct failover *f = ud;
	int64_t next = bfd_set_next_us(f->bfd);

	*deadline = next == INT64_MAX ? -1 : (next + 999) / 1000;
	return bfd_set_pollfds(f->bfd, fds, max);
}

static void failover_hook_run(void *ud, const struct pollfd *fds, size_t n)
{
	failover_io(ud, fds, n, 0);
}

struct failover *failover_new(const char *state_dir, int64_t now_ms)
{
	struct failover *f = calloc(1, sizeof(*f));
	int e;

	if (!f)
		return NULL;
	f->next_ms = INT64_MAX;
	f->live = live_new(now_ms);
	f->bfd = f->live ? bfd_set_new(failover_on_bfd, f) : NULL;
	if (!f->bfd || (state_dir && !(f->state_dir = strdup(state_dir)))) {
		e = errno ? errno : ENOMEM;
		failover_free(f);
		errno = e;
		return NULL;
	}
	vici_set_wait_hook(&(struct vici_wait_hook){ .fds = failover_hook_fds,
						     .run = failover_hook_run, .ud = f });
	return f;
}

void failover_free(struct failover *f)
{
	if (!f)
		return;
	vici_set_wait_hook(NULL);
	bfd_set_free(f->bfd);
	live_free(f->live);
	free(f->inp);
	free(f->plain);
	free(f->state_dir);
	free(f);
}

static int failover_path(const struct failover *f, const char *name, char *path, size_t len)
{
	if (!f->state_dir || (size_t)snprintf(path, len, "%s/%s", f->state_dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* The BFD sessions the previous agent handed over, taken once: a file left behind
 * must not be resumed by a later start. */
static void failover_load_handoff(struct failover *f, const char *site)
{
	char path[PATH_MAX];
	struct bfd_expect *v;
	size_t n;
	json_t *j;
	int rc;

	if (failover_path(f, BFD_HANDOFF_FILE, path, sizeof(path)) ||
	    !(j = json_load_file(path, 0, NULL)))
		return;
	unlink(path);
	rc = bfd_handoff_load(j, bfd_now_us(), &v, &n);
	json_decref(j);
	if (rc) {
		log_ctx(rc == -ESTALE ? LOG_LVL_INFO : LOG_LVL_WARN, site, NULL,
			"BFD sessions of the previous agent not resumed: %s",
			rc == -ESTALE ? "from another boot, or their peers stopped waiting" :
			rc == -EINVAL ? "the hand-over file does not parse" : strerror(-rc));
		return;
	}
	bfd_set_expect(f->bfd, v, n);
	log_ctx(LOG_LVL_INFO, site, NULL, "resuming %zu BFD session(s) handed over by the previous agent", n);
}

/* The verdicts of an earlier run of the agent, once. */
static void failover_load(struct failover *f, const char *site, int64_t now_ms)
{
	char path[PATH_MAX];
	json_t *j;

	f->loaded = true;
	failover_load_handoff(f, site);
	if (failover_path(f, FAILOVER_STATE_FILE, path, sizeof(path)))
		return;
	j = json_load_file(path, 0, NULL);
	live_load_json(f->live, j, now_ms);
	json_decref(j);
}

/* Serves the sessions alone until every peer answered the hold or the time is up. */
static void failover_stop_wait(struct failover *f)
{
	int64_t now = bfd_now_us(), end = now + FAILOVER_STOP_WAIT_MS * 1000;
	struct pollfd fds[2];

	while (bfd_set_polling(f->bfd) && now < end) {
		size_t n = bfd_set_pollfds(f->bfd, fds, 2);
		int64_t next = bfd_set_next_us(f->bfd);

		if (next > end)
			next = end;
		poll(fds, n, next > now ? (int)((next - now + 999) / 1000) : 0);
		failover_io(f, fds, n, 0);
		now = bfd_now_us();
	}
}

void failover_stop(struct failover *f, unsigned int hold_s)
{
	const char *site = f->in ? f->in->site : "-";
	uint8_t mult = (uint8_t)((hold_s * 1000000ull + BFD_HANDOFF_TX_US - 1) / BFD_HANDOFF_TX_US);
	size_t asked, left;
	json_t *j;
	int rc;

	if (!hold_s || !f->state_dir)
		return;
	asked = bfd_set_hold(f->bfd, BFD_HANDOFF_TX_US, mult, bfd_now_us());
	if (!asked)
		return;
	failover_stop_wait(f);
	left = bfd_set_polling(f->bfd);
	/* A peer's detection timer restarts with each packet; the last may have left an
	 * interval before now, so the deadline keeps one in hand. */
	j = bfd_handoff_save(f->bfd, bfd_now_us() + (int64_t)(mult - 1) * BFD_HANDOFF_TX_US);
	rc = j ? state_write_json(f->state_dir, BFD_HANDOFF_FILE, j) : -ENOMEM;
	json_decref(j);
	if (rc)
		log_ctx(LOG_LVL_WARN, site, NULL, "cannot save %s: %s", BFD_HANDOFF_FILE, strerror(-rc));
	else
		log_ctx(LOG_LVL_INFO, site, NULL, "asked %zu BFD peer(s) to wait %u s for the next agent; "
			"%zu did not answer", asked, (unsigned int)mult * (BFD_HANDOFF_TX_US / 1000000u), left);
}

static int failover_tunnel_cmp(const void *a, const void *b)
{
	return strcmp(((const struct intent_tunnel *)a)->id, ((const struct intent_tunnel *)b)->id);
}

/* Tunnels that no SPD entry protects carry GRE in clear: there is no SA to wait for,
 * and BFD alone says whether they work. */
static void failover_mark_plain(const struct intent *in, bool *plain)
{
	const void **by_id = kstate_sort(in->tunnels, in->n_tunnels, sizeof(*in->tunnels),
					 failover_tunnel_cmp);

	for (size_t i = 0; i < in->n_tunnels; i++)
		plain[i] = true;
	for (size_t k = 0; by_id && k < in->n_spd; k++) {
		struct intent_tunnel key = { .id = in->spd[k].tunnel };
		const struct intent_tunnel *t = kstate_find(by_id, in->n_tunnels, &key,
							    failover_tunnel_cmp);

		if (t)
			plain[t - in->tunnels] = false;
	}
	free(by_id);
}

int failover_track(struct failover *f, const struct intent *old, const struct intent *in,
		   int64_t now_ms)
{
	struct live_input *inp;
	bool *plain;
	int rc;

	for (size_t i = 0; old && i < old->n_tunnels; i++)
		if (!intent_tunnel_by_id(in, old->tunnels[i].id))
			bfd_set_remove(f->bfd, old->tunnels[i].id, true, bfd_now_us());
	if ((rc = live_track(f->live, in, now_ms)))
		return rc;
	inp = calloc(in->n_tunnels ? in->n_tunnels : 1, sizeof(*inp));
	plain = calloc(in->n_tunnels ? in->n_tunnels : 1, sizeof(*plain));
	if (!inp || !plain) {
		free(inp);
		free(plain);
		return -ENOMEM;
	}
	free(f->inp);
	free(f->plain);
	f->inp = inp;
	f->plain = plain;
	failover_mark_plain(in, plain);
	f->in = in;
	f->next_ms = now_ms;
	if (!f->loaded)
		failover_load(f, in->site, now_ms);
	f->dirty = true;
	return 0;
}

/* Tunnel i's signals. While charon is unreachable its SAs are unknown, not gone: the
 * last view stands. */
static void failover_input(const struct failover *f, size_t i,
			   const struct reconcile_result *res, const struct ike *ike,
			   struct ike_events *ev, struct live_input *li)
{
	const struct intent_tunnel *t = &f->in->tunnels[i];
	const struct bfd_session *s = bfd_set_get(f->bfd, t->id);
	const struct ike_status *st = ev ? ike_events_get(ev, t->id) : NULL;
	bool ike_ok = ev && ike_events_fd(ev) >= 0;

	*li = (struct live_input){
		.iface_failed = res && i < res->n_tunnels && res->tunnels[i].failed,
		.bfd_enabled = t->bfd.enabled,
		.bfd_session = s != NULL,
		.bfd = s ? s->state : BFD_DOWN,
		.bfd_remote = s ? s->remote_state : BFD_DOWN,
		.on_demand = t->sec.start == INTENT_START_ON_DEMAND,
		.sa_up = ike_ok ? ike_events_up(ev, t->id) : f->live->t[i].sa_up_ms != 0,
	};
	if (f->plain[i]) {
		li->sa_up = true;
		return;
	}
	if (ike_ok) {
		li->connecting = ike_events_connecting(ev, t->id);
		li->ike_failed = st && st->last_error[0] && !li->sa_up && !li->connecting;
	}
	if (ike && ike->in == f->in && i < ike->n_retry)
		li->initiated_ms = ike->retry[i].last_initiate_ms;
}

/* The session tunnel i wants, made or removed; a socket that cannot be made yet (the
 * interface is still coming) is tried again on the next evaluation. */
static void failover_bfd(struct failover *f, size_t i, const struct live_input *li)
{
	const struct intent_tunnel *t = &f->in->tunnels[i];
	struct bfd_cfg cfg;
	int rc;

	if (!live_wants_bfd(f->live, i, li)) {
		if (li->bfd_session)
			bfd_set_remove(f->bfd, t->id, false, bfd_now_us());
		return;
	}
	bfd_cfg_from_intent(&t->bfd, &cfg);
	rc = bfd_set_ensure(f->bfd, t->id, t->ifname, &t->overlay_local.addr,
			    &t->overlay_peer.addr, &cfg, bfd_now_us());
	if (rc && !li->bfd_session)
		log_ctx(LOG_LVL_DEBUG, f->in->site, t->id, "BFD session not yet possible: %s", strerror(-rc));
}

static void failover_log(const struct failover *f, const struct live_tunnel *t,
			 enum live_state was, bool was_fwd)
{
	if (t->state != was)
		log_ctx(LOG_LVL_INFO, f->in->site, t->id, "%s -> %s%s%s",
			 live_state_name(was), live_state_name(t->state),
			 live_reason_name(t->reason) && t->state != LIVE_UP ? ", " : "",
			 t->state != LIVE_UP && live_reason_name(t->reason) ?
			 live_reason_name(t->reason) : "");
	if (t->forwarding != was_fwd)
		log_ctx(LOG_LVL_INFO, f->in->site, t->id, "%s forwarding%s",
			 t->forwarding ? "back in" : "out of",
			 t->forwarding && t->flaps ? " after its hold time" : "");
}

static void failover_save(const struct failover *f)
{
	json_t *j;
	int rc;

	if (!f->state_dir || !(j = live_save_json(f->live)))
		return;
	if ((rc = state_write_json(f->state_dir, FAILOVER_STATE_FILE, j)))
		log_ctx(LOG_LVL_WARN, f->in->site, NULL, "cannot save %s: %s", FAILOVER_STATE_FILE,
			 strerror(-rc));
	json_decref(j);
}

bool failover_eval(struct failover *f, const struct intent *in,
		   const struct reconcile_result *res, struct ike *ike, struct ike_events *ev,
		   int64_t now_ms)
{
	bool routes = false;

	if (!in || f->in != in || f->live->n != in->n_tunnels) {
		f->next_ms = INT64_MAX;
		return false;
	}
	f->bfd_moved = false;
	for (size_t i = 0; i < in->n_tunnels; i++) {
		struct live_tunnel *t = &f->live->t[i];
		enum live_state was = t->state;
		bool was_fwd = t->forwarding;

		failover_input(f, i, res, ike, ev, &f->inp[i]);
		routes |= live_update(f->live, i, &f->inp[i], now_ms);
		if (t->state != was || t->forwarding != was_fwd) {
			failover_log(f, t, was, was_fwd);
			f->dirty = true;
		}
		if (ike && ike->in == in && live_retry_due(f->live, i, &f->inp[i], now_ms)) {
			log_ctx(LOG_LVL_DEBUG, in->site, t->id, "down; initiating again");
			ike_initiate(ike, i, now_ms);
		} else if (ike && ike->in == in && live_rekey_due(f->live, i, &f->inp[i], now_ms)) {
			log_ctx(LOG_LVL_INFO, in->site, t->id, "BFD down over installed SAs; rekeying them");
			ike_rekey(ike, i);
		}
		failover_bfd(f, i, &f->inp[i]);
	}
	if (routes)
		failover_save(f);
	/* Cached: the loop asks for it after every packet. */
	f->next_ms = live_next_ms(f->live, now_ms);
	return routes;
}

bool failover_pending(const struct failover *f, int64_t now_ms)
{
	return f->bfd_moved || now_ms >= f->next_ms;
}

bool failover_take_dirty(struct failover *f)
{
	bool d = f->dirty;

	f->dirty = false;
	return d;
}

int failover_view(const struct failover *f, const struct intent *in, struct intent *view)
{
	return live_route_view(f->live, in, view);
}

size_t failover_pollfds(const struct failover *f, struct pollfd *fds, size_t max)
{
	return bfd_set_pollfds(f->bfd, fds, max);
}

void failover_io(struct failover *f, const struct pollfd *fds, size_t n, int64_t now_ms)
{
	int64_t now_us = bfd_now_us();

	(void)now_ms;
	bfd_set_dispatch(f->bfd, fds, n, now_us);
	bfd_set_run(f->bfd, now_us);
}

int64_t failover_timeout_ms(const struct failover *f, int64_t now_ms)
{
	int64_t b = bfd_set_next_us(f->bfd), l = f->next_ms, t = INT64_MAX;

	/* Rounded up: waking before a deadline would only spin until it. */
	if (b != INT64_MAX)
		t = (b - bfd_now_us() + 999) / 1000;
	if (l != INT64_MAX && l - now_ms < t)
		t = l - now_ms;
	if (t == INT64_MAX)
		return -1;
	return t < 0 ? 0 : t;
}

json_t *failover_tunnel_json(const struct failover *f, const struct intent *in, size_t i)
{
	if (f->in != in || i >= f->live->n)
		return NULL;
	return live_tunnel_json(&f->live->t[i], &f->inp[i]);
}

json_t *failover_bfd_json(const struct failover *f)
{
	const uint64_t *drops = bfd_set_drops(f->bfd);
	json_t *d = json_object();
	json_t *o = json_pack("{s:I, s:I, s:o}", "sessions", (json_int_t)bfd_set_count(f->bfd),
			      "tx_errors", (json_int_t)bfd_set_tx_errors(f->bfd), "drops", d);

	for (int r = BFD_DROP_NONE + 1; o && r < BFD_DROP__MAX; r++)
		json_object_set_new(d, bfd_drop_name((enum bfd_drop)r), json_integer((json_int_t)drops[r]));
	return o;
}
