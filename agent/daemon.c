/* The agent's main loop: kernel plane, IKE plane (charon over VICI), status. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>

#include "acquire.h"
#include "bfd_set.h"
#include "client.h"
#include "daemon.h"
#include "enroll.h"
#include "failover.h"
#include "ike.h"
#include "ike_events.h"
#include "exporter.h"
#include "log.h"
#include "state.h"

/* Coalesce a burst of notifications (ours included) into one pass. A deadline, not a
 * sleep: BFD must keep sending meanwhile. */
#define DAEMON_DEBOUNCE_MS 200
/* poll() slots: signals, two netlink monitors, acquires, charon's events; then the BFD
 * receive sockets (two at most), then up to DAEMON_CLIENT_FDS sockets of the controller
 * client (three transfers: the long-poll, a status post, a probe of an earlier
 * controller; one socket each, two while connecting). */
#define DAEMON_FDS 5
#define DAEMON_BFD_FDS 2
#define DAEMON_CLIENT_FDS 8
/* Then the metrics endpoint: its listener and its connections. */
#define DAEMON_EXP_FDS (EXPORTER_CONNS + 1)

void daemon_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

/* ---- status ---- */

static json_t *daemon_status_tunnel(const struct intent_tunnel *it, const struct reconcile_tunnel *t,
				    struct ike_events *ev)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "id", it->id, "ifname", it->ifname,
			      "interface", t->failed ? "failed" : "up");

	if (o && t->failed && json_object_set_new(o, "error", json_string(t->error)))
		goto fail;
	if (o && ev && ike_events_get(ev, it->id) &&
	    json_object_set_new(o, "ike", ike_events_status_json(ev, it->id)))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *daemon_status_json_ike(const struct intent *in, const struct reconcile_result *res,
			       struct ike_events *ev)
{
	json_t *st = json_pack("{s:s?, s:I, s:b, s:I, s:[]}", "site", in ? in->site : NULL,
			       "revision", (json_int_t)(in ? in->revision : 0),
			       "converged", res->converged, "time", (json_int_t)time(NULL),
			       "tunnels");
	json_t *arr = st ? json_object_get(st, "tunnels") : NULL;

	for (size_t i = 0; arr && in && i < in->n_tunnels && i < res->n_tunnels; i++) {
		if (json_array_append_new(arr, daemon_status_tunnel(&in->tunnels[i],
								   &res->tunnels[i], ev))) {
			json_decref(st);
			return NULL;
		}
	}
	return st;
}

json_t *daemon_status_json(const struct intent *in, const struct reconcile_result *res)
{
	return daemon_status_json_ike(in, res, NULL);
}

/* {"message", "time"} for msg, keeping the time at which this message first showed up;
 * null without one. */
static json_t *daemon_last_error(json_t *errs, const char *id, const char *msg)
{
	json_t *old = errs ? json_object_get(errs, id) : NULL;
	char when[32];
	struct tm tm;
	time_t now = time(NULL);

	if (!msg || !*msg) {
		if (old)
			json_object_del(errs, id);
		return json_null();
	}
	if (old && !strcmp(json_string_value(json_object_get(old, "message")), msg))
		return json_deep_copy(old);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* The controller takes at most 512 bytes; ours are shorter (256 and 160). */
	old = json_pack("{s:s, s:s}", "message", msg, "time", when);
	if (old && errs)
		json_object_set(errs, id, old);
	return old;
}

static json_t *daemon_report_tunnel(const struct intent_tunnel *it, const struct reconcile_tunnel *t,
				    struct ike_events *ev, bool ike_ok, json_t *errs)
{
	const struct ike_status *s = ev ? ike_events_get(ev, it->id) : NULL;
	const char *err = t->failed ? t->error : s ? s->last_error : NULL;

	/* A tunnel with an error and no SA is down, not merely idle. */
	bool ok = ike_ok && s && !(s->last_error[0] && s->ike_state == IKE_SA_NONE);

	return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:o}", "id", it->id,
			 "interface", t->failed ? "failed" : "up",
			 "ike", ike_state_ike_word(s ? s->ike_state : IKE_SA_NONE, ok),
			 "child", ike_state_child_word(s ? s->child_state : CHILD_SA_NONE, ok),
			 "bytes_in", (json_int_t)(s ? s->bytes_in : 0),
			 "bytes_out", (json_int_t)(s ? s->bytes_out : 0),
			 "packets_in", (json_int_t)(s ? s->packets_in : 0),
			 "packets_out", (json_int_t)(s ? s->packets_out : 0),
			 "errors", (json_int_t)(s ? s->errors : 0),
			 "last_error", daemon_last_error(errs, it->id, err));
}

json_t *daemon_report_json(const struct intent *in, const struct reconcile_result *res,
			   struct ike_events *ev, bool ike_ok, json_t *errs)
{
	/* features: this agent decodes psk_encoding "hex" (the controller then uses it). */
	json_t *st = json_pack("{s:I, s:[], s:[s]}", "revision",
			       (json_int_t)(in ? in->revision : 0), "tunnels", "features",
			       INTENT_FEATURE_PSK_HEX);
	json_t *arr = st ? json_object_get(st, "tunnels") : NULL;

	for (size_t i = 0; arr && in && i < in->n_tunnels && i < res->n_tunnels; i++) {
		if (json_array_append_new(arr, daemon_report_tunnel(&in->tunnels[i],
				&res->tunnels[i], ev, ike_ok, errs))) {
			json_decref(st);
			return NULL;
		}
	}
	return st;
}

static json_t *daemon_refused_tunnel(const struct guard_refusal *f, bool report, json_t *errs)
{
	struct intent_tunnel it = { .id = (char *)f->id };
	struct reconcile_tunnel t = { .failed = true };

	guard_refusal_text(f, t.error, sizeof(t.error));
	return report ? daemon_report_tunnel(&it, &t, NULL, false, errs) :
			daemon_status_tunnel(&it, &t, NULL);
}

/* A refused route is its tunnel's error when the tunnel has no worse one. */
static void daemon_refused_route(json_t *arr, const struct guard_refusal *f, bool report,
				 json_t *errs)
{
	const char *key = report ? "last_error" : "error";
	char text[sizeof(((struct reconcile_tunnel *)0)->error)];
	size_t i;
	json_t *o;

	json_array_foreach(arr, i, o) {
		json_t *e = json_object_get(o, key);

		if (strcmp(json_string_value(json_object_get(o, "id")), f->id) ||
		    (e && !json_is_null(e)))
			continue;
		guard_refusal_text(f, text, sizeof(text));
		json_object_set_new(o, key, report ? daemon_last_error(errs, f->id, text) :
						     json_string(text));
		return;
	}
}

void daemon_add_refused(json_t *doc, const struct guard_report *rep, bool report, json_t *errs)
{
	json_t *arr = json_object_get(doc, "tunnels");

	for (size_t i = 0; arr && i < rep->n; i++) {
		if (rep->v[i].tunnel)
			json_array_append_new(arr, daemon_refused_tunnel(&rep->v[i], report, errs));
		else
			daemon_refused_route(arr, &rep->v[i], report, errs);
	}
}

/* ---- the loop ---- */

static int daemon_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

struct daemon_ctx {
	const struct daemon_cfg *cfg;
	struct reconcile *r;
	struct intent *in;
	struct intent *ike_old;		/* an older intent the IKE plane still borrows */
	struct nl *mon_rt, *mon_xf;
	int sigfd;
	struct reconcile_result res;
	struct ike *ike;
	struct ike_events *ev;
	struct acquire *acq;
	int ike_rc;			/* last ike_apply result: log changes only */
	bool ev_was_up;
	json_t *errs;			/* tunnel id -> {"message", "time"} */
	char *posted;			/* the last report handed to the client */
	int64_t posted_ms, next_resync_ms;
	int64_t pass_at_ms;		/* a debounced pass is due then; 0: none */
	/* When ike_tick is due: -1 none, 0 at once (its schedule may have moved). Cached
	 * because BFD wakes the loop thousands of times a second, and the IKE plane's
	 * timers are a walk over every tunnel. */
	int64_t ike_due_ms;
	int64_t turn_us;		/* when the last turn of the loop began */
	struct failover *fo;
	struct guard_report refused;	/* what the guard took out of in */
	struct exporter *exp;		/* --metrics-listen; NULL: off */
	uint64_t applied_rev;		/* the revision of the last pass that ran */
	double applied_at;		/* when it first ran (Unix time) */
	double applied_delay;		/* since the controller committed it; -1: unknown */
	struct enroll *enroll;		/* the site's IKE key and certificate */
};

static void daemon_add_liveness(const struct daemon_ctx *c, json_t *doc);

static double daemon_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A pass ran with c->in: the first one of a revision marks it applied. */
static void daemon_applied(struct daemon_ctx *c)
{
	int64_t ms;

	if (c->in->revision == c->applied_rev)
		return;
	c->applied_rev = c->in->revision;
	c->applied_at = daemon_wall();
	c->applied_delay = c->in->committed_at[0] &&
			   intent_time_parse(c->in->committed_at, &ms) == 0 ?
			   c->applied_at - (double)ms / 1e3 : -1;
	/* Clocks apart: a negative delay says so, but is no delay. */
	if (c->applied_delay < -1)
		log_ctx(LOG_LVL_WARN, c->in->site, NULL, "revision %llu committed %.1f s in the "
			"future: is this host's clock right?", (unsigned long long)c->applied_rev,
			-c->applied_delay);
	if (c->applied_delay < 0 && c->in->committed_at[0])
		c->applied_delay = 0;
}

/* The exposition (exporter_render_fn): the intent, then each tunnel as the controller
 * would be told. */
static void daemon_metrics(void *ctx, FILE *f)
{
	struct daemon_ctx *c = ctx;
	bool ike_ok = c->ev && ike_events_fd(c->ev) >= 0;
	json_t *rep;

	exporter_write_intent(f, c->applied_rev, c->applied_at, c->applied_delay);
	rep = c->in ? daemon_report_json(c->in, &c->res, c->ev, ike_ok, c->errs) : NULL;
	daemon_add_liveness(c, rep);
	exporter_write_tunnels(f, rep);
	json_decref(rep);
	if (c->cfg->client)
		exporter_write_controllers(f, c->cfg->client);
}

/* status.json's "controller": the one in use, of how many. */
static json_t *daemon_controller_json(const struct client *cl)
{
	const struct ctl_pick *p = client_ctl_pick(cl);

	return json_pack("{s:s, s:I, s:I, s:I}", "url", client_ctl_url(cl, p->cur),
			 "index", (json_int_t)p->cur, "of", (json_int_t)p->n,
			 "switches", (json_int_t)p->switches);
}

/* Adds each tunnel's liveness to a report or status document built by the above. */
static void daemon_add_liveness(const struct daemon_ctx *c, json_t *doc)
{
	json_t *arr = json_object_get(doc, "tunnels");

	for (size_t i = 0; c->fo && i < json_array_size(arr); i++) {
		json_t *l = failover_tunnel_json(c->fo, c->in, i);

		if (l)
			json_object_set_new(json_array_get(arr, i), "liveness", l);
	}
}

/* Writes status.json and hands the report to the client when it differs from the last
 * one, or when the heartbeat is due. */
static void daemon_report(struct daemon_ctx *c)
{
	bool ike_ok = c->ev && ike_events_fd(c->ev) >= 0;
	int64_t now = ike_now_ms();
	json_t *st = NULL, *rep = NULL;
	char *text = NULL;

	if (!c->in)
		return;
	st = daemon_status_json_ike(c->in, &c->res, c->ev);
	daemon_add_liveness(c, st);
	daemon_add_refused(st, &c->refused, false, NULL);
	if (st)
		json_object_set_new(st, "bfd", failover_bfd_json(c->fo));
	if (st && c->cfg->client)
		json_object_set_new(st, "controller", daemon_controller_json(c->cfg->client));
	if (st && c->cfg->state_dir)
		state_write_json(c->cfg->state_dir, "status.json", st);
	if (!c->cfg->client)
		goto out;
	rep = daemon_report_json(c->in, &c->res, c->ev, ike_ok, c->errs);
	daemon_add_liveness(c, rep);
	daemon_add_refused(rep, &c->refused, true, c->errs);
	text = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
	if (!text)
		goto out;
	if (c->posted && !strcmp(c->posted, text) &&
	    now - c->posted_ms < DAEMON_HEARTBEAT_S * 1000)
		goto out;
	client_set_status(c->cfg->client, rep);
	free(c->posted);
	c->posted = text;
	c->posted_ms = now;
	text = NULL;
out:
	free(text);
	json_decref(rep);
	json_decref(st);
}

/* The site's key (made once, in the state directory) and its certificate, enrolled
 * or renewed with the controller when due; charon gets them in the IKE pass. */
static void daemon_enroll(struct daemon_ctx *c)
{
	if (!c->enroll && c->cfg->state_dir && c->in->ca)
		c->enroll = enroll_new(c->cfg->state_dir, c->in->site, true);
	if (!c->enroll)
		return;
	enroll_tick(c->enroll, c->cfg->client, c->in, ike_now_ms());
	ike_set_creds(c->ike, c->enroll->key_pem, c->enroll->cert_pem);
	/* An expired certificate would only get the agent refused (mTLS): then the
	 * token alone, which renews it. */
	if (c->cfg->client)
		client_set_identity(c->cfg->client, enroll_valid(c->enroll) ?
				    c->enroll->cert_file : NULL, c->enroll->key_file);
}

/* The IKE plane follows the kernel plane: SPD first, then the SAs charon installs
 * for it. The events connection comes back here too once charon is reachable. */
static void daemon_ike_pass(struct daemon_ctx *c)
{
	int rc;

	if (!c->ike)
		return;
	if (ike_events_fd(c->ev) < 0 && (rc = ike_events_open(c->ev)) && c->ev_was_up) {
		log_ctx(LOG_LVL_WARN, c->in->site, NULL, "charon events at %s: %s; retrying every %us",
			 c->cfg->vici, strerror(-rc), c->cfg->resync);
		c->ev_was_up = false;
	} else if (ike_events_fd(c->ev) >= 0 && !c->ev_was_up) {
		log_ctx(LOG_LVL_INFO, c->in->site, NULL, "connected to charon at %s", c->cfg->vici);
		c->ev_was_up = true;
	}
	daemon_enroll(c);
	rc = ike_apply(c->ike, c->in, NULL);
	if (rc && rc != c->ike_rc)
		log_ctx(LOG_LVL_WARN, c->in->site, NULL, "IKE plane (charon at %s): %s", c->cfg->vici,
			 strerror(-rc));
	else if (!rc && c->ike_rc)
		log_ctx(LOG_LVL_INFO, c->in->site, NULL, "IKE plane converged");
	c->ike_rc = rc;
	/* Once the plane tracks the new intent, the old one may go. */
	if (c->ike_old && c->ike->in != c->ike_old) {
		intent_free(c->ike_old);
		c->ike_old = NULL;
	}
	if (ike_events_fd(c->ev) >= 0)
		ike_events_refresh(c->ev);
}

/* The kernel plane gets the intent as routed now: without the routes through tunnels
 * out of forwarding. */
static void daemon_pass(struct daemon_ctx *c)
{
	struct intent view;
	double t0;
	int rc;

	if (!c->in)
		return;
	c->pass_at_ms = 0;
	t0 = daemon_wall();

	if ((rc = failover_view(c->fo, c->in, &view)) == 0) {
		rc = reconcile_pass(c->r, &view, false, NULL, &c->res);
		live_view_clear(&view);
	}
	agent_counters.passes++;
	agent_counters.pass_errors += rc != 0;
	prom_observe(&agent_counters.pass_seconds, daemon_wall() - t0);
	if (rc == 0)
		daemon_applied(c);
	if (rc) {
		log_ctx(LOG_LVL_ERR, c->in->site, NULL, "reconcile failed: %s", strerror(-rc));
		return;
	}
	if (c->res.n_msgs)
		log_ctx(LOG_LVL_INFO, c->in->site, NULL, "revision %llu: %zu changes, %llu messages, %s",
			 (unsigned long long)c->in->revision, c->res.n_actions,
			 (unsigned long long)c->res.n_msgs,
			 c->res.converged ? "converged" : "not converged");
	daemon_ike_pass(c);
	/* Sessions of new tunnels, whose interfaces exist from now on. */
	failover_eval(c->fo, c->in, &c->res, c->ike, c->ev, ike_now_ms());
	daemon_report(c);
}

/* Appends the refusals of rep to c->refused (a re-check of the current intent). */
static void daemon_refused_merge(struct daemon_ctx *c, struct guard_report *rep)
{
	void *nv = realloc(c->refused.v, (c->refused.n + rep->n + 1) * sizeof(*rep->v));

	if (nv) {
		c->refused.v = nv;
		memcpy(c->refused.v + c->refused.n, rep->v, rep->n * sizeof(*rep->v));
		c->refused.n += rep->n;
		c->refused.cap = c->refused.n;
	}
	guard_report_clear(rep);
}

/* Makes in current: guarded first (what the guard refuses never reaches the kernel,
 * charon or BFD), then tracked for liveness. The IKE plane borrows the intent it last
 * applied: that one stays alive until the plane has moved on. An intent the guard
 * could not check (no memory) is not used. recheck: in is a copy of the current intent,
 * its earlier refusals stand. */
static bool daemon_install(struct daemon_ctx *c, struct intent *in, bool recheck)
{
	struct guard_report rep = { 0 };
	int rc;

	/* The host's addresses as they are now (DHCP may have moved the underlay). */
	if (c->cfg->guard && (rc = guard_keep_host(c->cfg->guard)))
		log_ctx(LOG_LVL_WARN, in->site, NULL, "cannot list this host's addresses: %s", strerror(-rc));
	if (c->cfg->guard && (rc = guard_apply(c->cfg->guard, in, &rep))) {
		log_ctx(LOG_LVL_ERR, in->site, NULL, "cannot check intent revision %llu: %s",
			(unsigned long long)in->revision, strerror(-rc));
		guard_report_clear(&rep);
		intent_free(in);
		return false;
	}
	if (recheck) {
		daemon_refused_merge(c, &rep);
	} else {
		guard_report_clear(&c->refused);
		c->refused = rep;
	}
	if ((rc = failover_track(c->fo, c->in, in, ike_now_ms())))
		log_ctx(LOG_LVL_ERR, in->site, NULL, "liveness of revision %llu: %s",
			(unsigned long long)in->revision, strerror(-rc));
	if (c->ike && c->in && c->ike->in == c->in) {
		intent_free(c->ike_old);
		c->ike_old = c->in;
	} else {
		intent_free(c->in);
	}
	c->in = in;
	return true;
}

/* A new intent from the controller: persist it first (as received: the guard runs again
 * on it after a restart), so a restart enforces it even if the controller is then
 * unreachable. */
static bool daemon_take_intent(struct daemon_ctx *c)
{
	struct intent *in = client_take(c->cfg->client);
	int rc;

	if (!in)
		return false;
	if (c->cfg->state_dir && (rc = state_save_intent(c->cfg->state_dir, in)))
		log_ctx(LOG_LVL_ERR, in->site, NULL, "cannot persist intent revision %llu: %s",
			(unsigned long long)in->revision, strerror(-rc));
	log_ctx(LOG_LVL_INFO, in->site, NULL, "intent revision %llu received",
		 (unsigned long long)in->revision);
	return daemon_install(c, in, false);
}

/* The controller answered from an address the guard did not know (DNS changed, or it
 * did not resolve at start): the current intent's routes must keep clear of it too.
 * True when the intent was re-checked and a pass is due. */
static bool daemon_controller_moved(struct daemon_ctx *c)
{
	struct intent *copy = NULL;
	char text[ADDR_STRLEN], err[256];
	struct addr a;
	json_t *j;

	if (!c->cfg->guard || !client_peer(c->cfg->client, &a) ||
	    guard_keep(c->cfg->guard, &a, true) != 1 || !c->in)
		return false;
	addr_fmt(&a, text, sizeof(text));
	log_ctx(LOG_LVL_INFO, c->in->site, NULL,
		"controller reached at %s: checking the intent against it",
		 text);
	j = intent_to_json(c->in);
	if (!j || intent_from_json(j, &copy, err, sizeof(err))) {
		log_ctx(LOG_LVL_ERR, c->in->site, NULL, "cannot re-check the intent: out of memory");
		json_decref(j);
		return false;
	}
	json_decref(j);
	return daemon_install(c, copy, true);
}

static int daemon_open_ike(struct daemon_ctx *c)
{
	int rc;

	if (!c->cfg->vici)
		return 0;
	c->ike = ike_new(c->cfg->vici);
	c->ev = ike_events_new(c->cfg->vici);
	c->acq = acquire_new();
	c->errs = json_object();
	if (!c->ike || !c->ev || !c->acq || !c->errs)
		return -ENOMEM;
	ike_set_events(c->ike, c->ev);
	if ((rc = acquire_open(c->acq)))
		return rc;
	if ((rc = acquire_set_larval_drop(false)))
		log_warn("cannot set net.core.xfrm_larval_drop = 0 (first packets of an "
			 "on-demand tunnel will be dropped): %s", strerror(-rc));
	/* charon may start after the agent: the resync timer retries. */
	if ((rc = ike_events_open(c->ev)))
		log_warn("charon at %s not reachable yet: %s; retrying every %us", c->cfg->vici,
			 strerror(-rc), c->cfg->resync);
	c->ev_was_up = rc == 0;
	return 0;
}

static int daemon_open(struct daemon_ctx *c)
{
	static const unsigned int rt_groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
		RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE };
	static const unsigned int xf_groups[] = { XFRMNLGRP_POLICY };
	int rc;

	c->sigfd = daemon_signalfd();
	if (c->sigfd < 0)
		return -errno;
	c->fo = failover_new(c->cfg->state_dir, ike_now_ms());
	if (!c->fo) {
		log_err("cannot open the BFD sockets (UDP %d): %s", BFD_PORT, strerror(errno));
		return -errno;
	}
	if (c->in && failover_track(c->fo, NULL, c->in, ike_now_ms()))
		return -ENOMEM;
	c->mon_rt = nl_new_monitor(NETLINK_ROUTE, rt_groups, 5);
	c->mon_xf = c->mon_rt ? nl_new_monitor(NETLINK_XFRM, xf_groups, 1) : NULL;
	if (!c->mon_xf)
		return -errno;
	if (c->cfg->metrics_listen &&
	    (rc = exporter_new(c->cfg->metrics_listen, daemon_metrics, c, &c->exp))) {
		log_err("--metrics-listen %s: %s", c->cfg->metrics_listen, rc == -EINVAL ?
			"expected IPv4:PORT or [IPv6]:PORT" : strerror(-rc));
		return rc;
	}
	return daemon_open_ike(c);
}

static void daemon_min(int64_t *t, int64_t k)
{
	if (k >= 0 && k < *t)
		*t = k;
}

static int daemon_timeout(const struct daemon_ctx *c, int64_t now)
{
	int64_t t = c->next_resync_ms - now;

	if (c->pass_at_ms)
		daemon_min(&t, c->pass_at_ms - now);
	if (c->ike && c->ike_due_ms >= 0)
		daemon_min(&t, c->ike_due_ms - now < 0 ? 0 : c->ike_due_ms - now);
	if (c->cfg->client)
		daemon_min(&t, client_timeout_ms(c->cfg->client, now));
	daemon_min(&t, failover_timeout_ms(c->fo, now));
	if (c->exp)
		daemon_min(&t, exporter_timeout_ms(c->exp, now));
	return t < 0 ? 0 : (int)t;
}

/* charon's side: acquires, events, always-on retries. True when charon's view of a
 * tunnel changed. */
static bool daemon_ike_events(struct daemon_ctx *c, const struct pollfd *acq,
			      const struct pollfd *ev)
{
	int rc;

	if (!c->ike)
		return false;
	if (acq->revents & POLLIN)
		acquire_dispatch(c->acq, c->ike);
	if (ev->fd >= 0 && (ev->revents & (POLLIN | POLLHUP | POLLERR)) &&
	    (rc = ike_events_dispatch(c->ev)) && ike_events_fd(c->ev) < 0) {
		log_ctx(LOG_LVL_WARN, c->in ? c->in->site : "-", NULL,
			"lost charon's events (%s); reconnecting on the next resync", strerror(-rc));
		c->ev_was_up = false;
	}
	if (acq->revents || ev->revents || (c->ike_due_ms >= 0 && ike_now_ms() >= c->ike_due_ms)) {
		int64_t now = ike_now_ms(), k;

		ike_tick(c->ike, now);
		k = ike_next_timeout_ms(c->ike, now);
		c->ike_due_ms = k < 0 ? -1 : now + k;
	}
	return ike_events_take_dirty(c->ev);
}

/* Liveness first: a tunnel that went down leaves the routes in this very turn of the
 * loop, without waiting for a debounce or a resync. */
static void daemon_after_poll(struct daemon_ctx *c, bool pass, bool ike_moved)
{
	int64_t now = ike_now_ms();
	bool report = ike_moved;

	if (c->in && (ike_moved || failover_pending(c->fo, now))) {
		c->ike_due_ms = 0;	/* it may have started initiations */
		pass |= failover_eval(c->fo, c->in, &c->res, c->ike, c->ev, now);
	}
	if (now >= c->next_resync_ms || (c->pass_at_ms && now >= c->pass_at_ms))
		pass = true;
	if (pass) {
		c->next_resync_ms = now + (int64_t)c->cfg->resync * 1000;
		daemon_pass(c);
		c->ike_due_ms = 0;
		report = false;		/* the pass reported */
	}
	if (failover_take_dirty(c->fo) || report)
		daemon_report(c);
}

/* Waits for the next event and handles it. Returns 0 to stop, 1 to go on. The
 * controller client's sockets (libcurl's) follow the fixed fds. */
static int daemon_wait(struct daemon_ctx *c)
{
	struct pollfd fds[DAEMON_FDS + DAEMON_BFD_FDS + DAEMON_CLIENT_FDS + DAEMON_EXP_FDS] = {
		{ .fd = c->sigfd, .events = POLLIN },
		{ .fd = nl_fd(c->mon_rt), .events = POLLIN },
		{ .fd = nl_fd(c->mon_xf), .events = POLLIN },
		{ .fd = c->acq ? acquire_fd(c->acq) : -1, .events = POLLIN },
		{ .fd = c->ev ? ike_events_fd(c->ev) : -1, .events = POLLIN },
	};
	size_t nb = failover_pollfds(c->fo, fds + DAEMON_FDS, DAEMON_BFD_FDS);
	int64_t now_us = bfd_now_us();

	if (now_us - c->turn_us < BFD_LOOP_TURN_US)
		usleep((useconds_t)(BFD_LOOP_TURN_US - (now_us - c->turn_us)));
	c->turn_us = bfd_now_us();

	struct pollfd *cl = fds + DAEMON_FDS + nb;
	size_t n_cl = c->cfg->client ? client_pollfds(c->cfg->client, cl, DAEMON_CLIENT_FDS) : 0;
	struct pollfd *ex = cl + n_cl;
	size_t n_ex = c->exp ? exporter_pollfds(c->exp, ex, DAEMON_EXP_FDS) : 0;
	int n = poll(fds, DAEMON_FDS + nb + n_cl + n_ex, daemon_timeout(c, ike_now_ms()));
	bool pass = false, ike_moved;

	if (n < 0 && errno != EINTR)
		return 0;
	if (fds[0].revents)
		return 0;
	failover_io(c->fo, fds + DAEMON_FDS, nb, ike_now_ms());
	if (c->cfg->client) {
		client_dispatch(c->cfg->client, cl, n_cl, ike_now_ms());
		pass = daemon_take_intent(c);
		pass |= daemon_controller_moved(c);
	}
	if (fds[1].revents || fds[2].revents) {
		nl_drain(c->mon_rt);
		nl_drain(c->mon_xf);
		if (!c->pass_at_ms)
			c->pass_at_ms = ike_now_ms() + DAEMON_DEBOUNCE_MS;
	}
	ike_moved = daemon_ike_events(c, &fds[3], &fds[4]);
	daemon_after_poll(c, pass, ike_moved);
	/* Last: a scrape sees this turn's pass. */
	if (c->exp)
		exporter_io(c->exp, ex, n_ex, ike_now_ms());
	return 1;
}

static void daemon_close(struct daemon_ctx *c)
{
	if (c->sigfd >= 0)
		close(c->sigfd);
	nl_free(c->mon_rt);
	nl_free(c->mon_xf);
	exporter_free(c->exp);
	failover_free(c->fo);
	/* Nothing here tears SAs down: charon keeps them, the next agent adopts them. */
	ike_free(c->ike);
	enroll_free(c->enroll);
	ike_events_free(c->ev);
	acquire_free(c->acq);
	json_decref(c->errs);
	free(c->posted);
	reconcile_result_clear(&c->res);
	guard_report_clear(&c->refused);
	intent_free(c->ike_old);
	intent_free(c->in);
}

int daemon_run(const struct daemon_cfg *cfg, struct reconcile *r, struct intent *in)
{
	struct daemon_ctx c = { .cfg = cfg, .r = r, .in = in, .sigfd = -1, .applied_delay = -1 };
	int rc = 0;

	if (in && cfg->guard && (rc = guard_apply(cfg->guard, in, &c.refused)))
		goto out;
	if ((rc = daemon_open(&c)))
		goto out;
	c.next_resync_ms = ike_now_ms() + (int64_t)cfg->resync * 1000;
	daemon_pass(&c);
	daemon_notify("READY=1");
	while (daemon_wait(&c))
		;
	daemon_notify("STOPPING=1");
	failover_stop(c.fo, cfg->restart_hold);
	/* Tunnels stay up: stopping the agent must not interrupt traffic. */
	log_info("stopping; kernel and charon state left in place");
out:
	daemon_close(&c);
	return rc;
}
