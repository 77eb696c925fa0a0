/* Liveness verdicts per tunnel, hold and dampening, and the routes that follow. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kstate.h"
#include "liveness.h"

static const char *const live_state_names[] = {
	[LIVE_IDLE] = "idle", [LIVE_UP] = "up", [LIVE_DOWN] = "down",
	[LIVE_ADMIN_DOWN] = "admin-down",
};

static const char *const live_reason_names[] = {
	[LIVE_R_NONE] = NULL, [LIVE_R_BFD_TIMEOUT] = "bfd-timeout",
	[LIVE_R_BFD_NO_REPLY] = "bfd-no-reply", [LIVE_R_PEER_ADMIN_DOWN] = "peer-admin-down",
	[LIVE_R_IKE_FAILED] = "ike-failed", [LIVE_R_IKE_TIMEOUT] = "ike-timeout",
	[LIVE_R_INTERFACE] = "interface",
};

const char *live_state_name(enum live_state s)
{
	return (size_t)s < sizeof(live_state_names) / sizeof(live_state_names[0]) ?
	       live_state_names[s] : "down";
}

const char *live_reason_name(enum live_reason r)
{
	return (size_t)r < sizeof(live_reason_names) / sizeof(live_reason_names[0]) ?
	       live_reason_names[r] : NULL;
}

struct live *live_new(int64_t now_ms)
{
	struct live *l = calloc(1, sizeof(*l));

	if (l)
		l->start_ms = now_ms;
	return l;
}

void live_free(struct live *l)
{
	if (!l)
		return;
	free(l->t);
	free(l);
}

static int live_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct live_tunnel *)a)->id, ((const struct live_tunnel *)b)->id);
}

static void live_fresh(struct live_tunnel *t, const char *id, int64_t now_ms)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->state = LIVE_IDLE;
	t->forwarding = true;
	t->since_ms = now_ms;
	t->since = time(NULL);
}

int live_track(struct live *l, const struct intent *in, int64_t now_ms)
{
	size_t n = in ? in->n_tunnels : 0;
	struct live_tunnel *nt = calloc(n ? n : 1, sizeof(*nt));
	const void **old = kstate_sort(l->t, l->n, sizeof(*l->t), live_id_cmp);
	int rc = -ENOMEM;

	if (!nt || !old)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct live_tunnel key;
		const struct live_tunnel *o;

		snprintf(key.id, sizeof(key.id), "%s", in->tunnels[i].id);
		o = kstate_find(old, l->n, &key, live_id_cmp);
		if (o)
			nt[i] = *o;
		else
			live_fresh(&nt[i], in->tunnels[i].id, now_ms);
	}
	free(l->t);
	l->t = nt;
	l->n = n;
	nt = NULL;
	rc = 0;
out:
	free(nt);
	free(old);
	return rc;
}

static bool live_out(enum live_state s)
{
	return s == LIVE_DOWN || s == LIVE_ADMIN_DOWN;
}

/* Records a down; suppressed once LIVE_FLAP_MAX of them fall within the window. */
static void live_flap(struct live_tunnel *t, int64_t now_ms)
{
	uint32_t recent = 0;

	t->flaps++;
	t->down_ms[t->n_down++ % LIVE_FLAP_MAX] = now_ms;
	for (size_t k = 0; k < LIVE_FLAP_MAX; k++)
		if (t->down_ms[k] && now_ms - t->down_ms[k] < LIVE_FLAP_WINDOW_MS)
			recent++;
	if (recent >= LIVE_FLAP_MAX)
		t->suppressed = true;
}

static void live_enter(struct live_tunnel *t, enum live_state s, enum live_reason why,
		       int64_t now_ms)
{
	if (t->state == s)
		return;
	if (live_out(s)) {
		if (!live_out(t->state))
			live_flap(t, now_ms);
		t->reason = why;
		t->forwarding = false;
		t->retry_ms = now_ms + LIVE_RETRY_MIN_MS;
		t->backoff_ms = LIVE_RETRY_MIN_MS;
	}
	t->up_ms = s == LIVE_UP ? now_ms : 0;
	t->state = s;
	t->since_ms = now_ms;
	t->since = time(NULL);
}

/* The verdict for t's signals; *keep when the signals do not decide yet (a grace). */
static enum live_state live_verdict(const struct live *l, const struct live_tunnel *t,
				    const struct live_input *in, int64_t now_ms,
				    enum live_reason *why)
{
	bool grace = now_ms - l->start_ms < LIVE_START_GRACE_MS;
	bool bfd_up = in->bfd_session && in->bfd == BFD_UP;

	*why = LIVE_R_NONE;
	if (in->iface_failed)
		return *why = LIVE_R_INTERFACE, LIVE_DOWN;
	if (in->bfd_enabled && in->bfd_session && in->bfd != BFD_UP &&
	    in->bfd_remote == BFD_ADMIN_DOWN)
		return *why = LIVE_R_PEER_ADMIN_DOWN, LIVE_ADMIN_DOWN;
	if (in->sa_up && (!in->bfd_enabled || bfd_up))
		return LIVE_UP;
	if (in->ike_failed)
		return *why = LIVE_R_IKE_FAILED, LIVE_DOWN;
	if (t->init_ms && now_ms - t->init_ms >= LIVE_INIT_TIMEOUT_MS)
		return *why = LIVE_R_IKE_TIMEOUT, LIVE_DOWN;
	if (in->bfd_enabled && t->bfd_was_up && !bfd_up)
		return *why = LIVE_R_BFD_TIMEOUT, LIVE_DOWN;
	if (t->sa_lost)
		return *why = LIVE_R_IKE_FAILED, LIVE_DOWN;
	if (in->sa_up)		/* BFD enabled, never Up on this SA */
		return grace || now_ms - t->sa_up_ms < LIVE_BFD_GRACE_MS ? t->state :
		       (*why = LIVE_R_BFD_NO_REPLY, LIVE_DOWN);
	if (live_out(t->state) || (in->on_demand && t->state == LIVE_IDLE))
		return t->state;
	if (in->on_demand)
		return LIVE_IDLE;
	/* Always-on with no SA and no failure yet: its initiator may still be starting. */
	if (grace || now_ms - t->since_ms < LIVE_START_GRACE_MS || in->connecting)
		return t->state;
	return *why = LIVE_R_IKE_TIMEOUT, LIVE_DOWN;
}

/* What the signals say about the SA and initiations, before the verdict. */
static void live_observe(struct live_tunnel *t, const struct live_input *in, int64_t now_ms)
{
	if (!in->sa_up) {
		t->sa_lost = t->sa_lost || t->sa_up_ms;
		t->sa_up_ms = 0;
	} else if (!t->sa_up_ms) {
		t->sa_up_ms = now_ms;
		t->bfd_was_up = false;
		t->sa_lost = false;
	}
	if (in->initiated_ms && in->initiated_ms != t->seen_init_ms) {
		t->seen_init_ms = in->initiated_ms;
		t->init_ms = in->sa_up ? 0 : in->initiated_ms;
	}
	if (in->sa_up)
		t->init_ms = 0;
	if (in->sa_up && in->bfd_session && in->bfd == BFD_UP)
		t->bfd_was_up = true;
}

bool live_update(struct live *l, size_t i, const struct live_input *in, int64_t now_ms)
{
	struct live_tunnel *t = &l->t[i];
	bool was = t->forwarding;
	enum live_reason why;
	enum live_state s;

	live_observe(t, in, now_ms);
	s = live_verdict(l, t, in, now_ms, &why);
	live_enter(t, s, why, now_ms);
	if (s == LIVE_DOWN && why == LIVE_R_IKE_TIMEOUT)
		t->init_ms = 0;
	if (live_out(t->state)) {
		t->forwarding = false;
	} else if (t->state == LIVE_IDLE) {
		t->forwarding = true;
	} else if (!t->forwarding &&
		   now_ms - t->up_ms >= (t->suppressed ? LIVE_SUPPRESS_MS : LIVE_HOLD_MS)) {
		t->forwarding = true;
		t->suppressed = false;
	}
	return was != t->forwarding;
}

static void live_min(int64_t *m, int64_t at, int64_t now_ms)
{
	if (at > now_ms && at < *m)
		*m = at;
}

int64_t live_next_ms(const struct live *l, int64_t now_ms)
{
	int64_t m = INT64_MAX;

	live_min(&m, l->start_ms + LIVE_START_GRACE_MS, now_ms);
	for (size_t i = 0; i < l->n; i++) {
		const struct live_tunnel *t = &l->t[i];

		if (t->state == LIVE_UP && !t->forwarding)
			live_min(&m, t->up_ms + (t->suppressed ? LIVE_SUPPRESS_MS : LIVE_HOLD_MS),
				 now_ms);
		if (t->init_ms)
			live_min(&m, t->init_ms + LIVE_INIT_TIMEOUT_MS, now_ms);
		if (t->sa_up_ms && t->state != LIVE_UP)
			live_min(&m, t->sa_up_ms + LIVE_BFD_GRACE_MS, now_ms);
		if (t->state == LIVE_IDLE)
			live_min(&m, t->since_ms + LIVE_START_GRACE_MS, now_ms);
		if (t->state == LIVE_DOWN)
			live_min(&m, t->retry_ms, now_ms);
	}
	return m;
}

/* The next background action on a down tunnel, doubling up to LIVE_RETRY_MAX_MS. */
static bool live_backoff(struct live_tunnel *t, int64_t now_ms)
{
	if (now_ms < t->retry_ms)
		return false;
	t->backoff_ms = t->backoff_ms * 2 > LIVE_RETRY_MAX_MS ? LIVE_RETRY_MAX_MS
							      : t->backoff_ms * 2;
	t->retry_ms = now_ms + t->backoff_ms;
	return true;
}

bool live_retry_due(struct live *l, size_t i, const struct live_input *in, int64_t now_ms)
{
	struct live_tunnel *t = &l->t[i];

	if (t->state != LIVE_DOWN || t->reason == LIVE_R_INTERFACE || in->sa_up ||
	    in->connecting)
		return false;
	return live_backoff(t, now_ms);
}

bool live_rekey_due(struct live *l, size_t i, const struct live_input *in, int64_t now_ms)
{
	struct live_tunnel *t = &l->t[i];

	if (t->state != LIVE_DOWN || !in->sa_up || in->connecting ||
	    (t->reason != LIVE_R_BFD_TIMEOUT && t->reason != LIVE_R_BFD_NO_REPLY))
		return false;
	return live_backoff(t, now_ms);
}

bool live_wants_bfd(const struct live *l, size_t i, const struct live_input *in)
{
	return in->bfd_enabled && !in->iface_failed &&
	       (in->sa_up || l->t[i].state != LIVE_IDLE);
}

static int live_route_cmp(const void *a, const void *b)
{
	return addr_prefix_cmp(&((const struct intent_route *)a)->prefix,
			       &((const struct intent_route *)b)->prefix);
}

static int live_tunnel_cmp(const void *a, const void *b)
{
	return strcmp(((const struct intent_tunnel *)a)->id, ((const struct intent_tunnel *)b)->id);
}

/* Whether the route's tunnel forwards; a route through an unknown tunnel does (the
 * planner refuses it anyway). */
static bool live_route_fwd(const struct live *l, const struct intent *in, const void **by_id,
			   const struct intent_route *r)
{
	struct intent_tunnel key = { .id = r->via };
	const struct intent_tunnel *t = kstate_find(by_id, in->n_tunnels, &key, live_tunnel_cmp);

	return !t || l->t[t - in->tunnels].forwarding;
}

int live_route_view(const struct live *l, const struct intent *in, struct intent *view)
{
	const void **by_pfx = kstate_sort(in->routes, in->n_routes, sizeof(*in->routes),
					  live_route_cmp);
	const void **by_id = kstate_sort(in->tunnels, in->n_tunnels, sizeof(*in->tunnels),
					 live_tunnel_cmp);
	bool *fwd = calloc(in->n_routes ? in->n_routes : 1, sizeof(*fwd));
	int rc = -ENOMEM;

	*view = *in;
	view->routes = malloc((in->n_routes ? in->n_routes : 1) * sizeof(*view->routes));
	view->n_routes = 0;
	if (!by_pfx || !by_id || !fwd || !view->routes)
		goto out;
	for (size_t i = 0; i < in->n_routes; i++)
		fwd[i] = l->n != in->n_tunnels || live_route_fwd(l, in, by_id, &in->routes[i]);
	/* Per prefix: keep the forwarding routes, or all of them when none forwards. */
	for (size_t i = 0, j; i < in->n_routes; i = j) {
		bool any = false;

		for (j = i; j < in->n_routes && !live_route_cmp(by_pfx[i], by_pfx[j]); j++)
			any = any || fwd[(const struct intent_route *)by_pfx[j] - in->routes];
		for (size_t k = i; k < j; k++) {
			const struct intent_route *r = by_pfx[k];

			if (!any || fwd[r - in->routes])
				view->routes[view->n_routes++] = *r;
		}
	}
	rc = 0;
out:
	if (rc)
		live_view_clear(view);
	free(by_pfx);
	free(by_id);
	free(fwd);
	return rc;
}

void live_view_clear(struct intent *view)
{
	free(view->routes);
	view->routes = NULL;
	view->n_routes = 0;
}

json_t *live_save_json(const struct live *l)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < l->n; i++) {
		const struct live_tunnel *t = &l->t[i];

		if (t->forwarding)
			continue;
		if (json_object_set_new(o, t->id, json_pack("{s:s, s:s?}", "state",
				live_state_name(t->state), "reason", live_reason_name(t->reason)))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static enum live_reason live_reason_parse(const char *s)
{
	for (size_t r = 0; s && r < sizeof(live_reason_names) / sizeof(live_reason_names[0]); r++)
		if (live_reason_names[r] && !strcmp(s, live_reason_names[r]))
			return (enum live_reason)r;
	return LIVE_R_NONE;
}

void live_load_json(struct live *l, const json_t *saved, int64_t now_ms)
{
	for (size_t i = 0; json_is_object(saved) && i < l->n; i++) {
		const json_t *e = json_object_get(saved, l->t[i].id);
		const char *st = json_string_value(json_object_get(e, "state"));

		if (!st)
			continue;
		l->t[i].state = !strcmp(st, "admin-down") ? LIVE_ADMIN_DOWN : LIVE_DOWN;
		l->t[i].reason = live_reason_parse(json_string_value(json_object_get(e, "reason")));
		l->t[i].forwarding = false;
		l->t[i].since_ms = now_ms;
		l->t[i].retry_ms = now_ms;
		l->t[i].backoff_ms = LIVE_RETRY_MIN_MS;
	}
}

json_t *live_tunnel_json(const struct live_tunnel *t, const struct live_input *in)
{
	const char *bfd = !in->bfd_enabled ? "off" :
			  in->bfd_session ? bfd_state_name(in->bfd) : "down";
	char when[32];
	struct tm tm;

	gmtime_r(&t->since, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s, s:s, s:I, s:s?, s:b, s:s}", "state", live_state_name(t->state),
			 "since", when, "flaps", (json_int_t)t->flaps,
			 "reason", live_reason_name(t->reason), "forwarding", t->forwarding,
			 "bfd", bfd);
}
