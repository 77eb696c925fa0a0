/* gresec-agent: makes this site's kernel match its intent. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "client.h"
#include "daemon.h"
#include "enroll.h"
#include "guard.h"
#include "ike.h"
#include "ike_events.h"
#include "log.h"
#include "reconcile.h"
#include "state.h"

/* Exit codes: 0 converged, 1 error, 2 applied but some tunnels failed or differ. */
#define EXIT_PARTIAL 2
#define DEFAULT_VICI "/var/run/charon.vici"

struct opts {
	const char *controller;		/* the first (preferred) of controllers */
	const char *controllers[CTL_PICK_MAX];
	size_t n_controllers;
	char *lists[CTL_PICK_MAX];	/* copies of comma-separated --controller lists */
	size_t n_lists;
	unsigned int probe_s;		/* --controller-probe; 0: the default */
	const char *site, *token_file, *ca, *state_dir, *vici, *intent;
	const char *metrics_listen;
	unsigned int resync, restart_hold;
	bool once, dry_run, purge, vici_given, insecure_http, cleartext_gre;
	enum log_level level;
	struct guard *guard;
	struct guard_report refused;	/* of the intent of a one-shot run */
	struct enroll *enroll;		/* one-shot runs: the key and certificate there are */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gresec-agent --controller URL[,URL...] --site NAME --token-file FILE [--ca FILE]\n"
		"                    (--controller may be repeated: the order is the preference;\n"
		"                    on failure the next, and back to an earlier one that answers)\n"
		"                    [--controller-probe SECONDS]   (how often earlier ones are asked; 60)\n"
		"                    [--state-dir DIR] [--vici PATH] [--resync SECONDS]\n"
		"                    [--once] [--dry-run] [--intent FILE] [--purge]\n"
		"                    [--log-level error|warn|info|debug] [--insecure-http]\n"
		"                    [--allow-cleartext-gre]\n"
		"                    [--metrics-listen HOST:PORT]   (Prometheus, off by default)\n"
		"                    [--restart-hold SECONDS]   (BFD peers wait for the next agent; 10)\n");
}

/* The agent's token and its intent's pre-shared keys travel on this connection: in
 * clear only when the operator says so. */
static int check_url(const struct opts *o, const char *url)
{
	if (!strncasecmp(url, "https://", 8))
		return 0;
	if (strncasecmp(url, "http://", 7)) {
		fprintf(stderr, "gresec-agent: --controller: an https:// URL\n");
		return -EINVAL;
	}
	if (!o->insecure_http) {
		fprintf(stderr, "gresec-agent: --controller %s: refusing plain http: the agent "
			"token and the tunnels' pre-shared keys would cross the network in clear; "
			"use https:// (or --insecure-http on a test bench)\n", url);
		return -EPERM;
	}
	return 0;
}

/* Every controller obeys the same rule (one of them in clear would leak the token). */
static int check_urls(const struct opts *o)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < o->n_controllers; i++)
		rc = check_url(o, o->controllers[i]);
	return rc;
}

/* One --controller: a URL, or a comma-separated list of them (one environment variable
 * in the systemd unit can then name several). */
static int add_controllers(struct opts *o, const char *arg)
{
	char *copy, *save = NULL;

	if (o->n_lists == CTL_PICK_MAX || !(copy = strdup(arg)))
		goto full;
	o->lists[o->n_lists++] = copy;
	for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		if (o->n_controllers == CTL_PICK_MAX)
			goto full;
		o->controllers[o->n_controllers++] = u;
	}
	o->controller = o->n_controllers ? o->controllers[0] : NULL;
	return 0;
full:
	fprintf(stderr, "gresec-agent: --controller: at most %d controllers\n", CTL_PICK_MAX);
	return -EINVAL;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "controller", required_argument, NULL, 'c' },
		{ "controller-probe", required_argument, NULL, 'P' },
		{ "site", required_argument, NULL, 's' },
		{ "token-file", required_argument, NULL, 't' },
		{ "ca", required_argument, NULL, 'a' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "vici", required_argument, NULL, 'v' },
		{ "resync", required_argument, NULL, 'r' },
		{ "once", no_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "intent", required_argument, NULL, 'i' },
		{ "purge", no_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "insecure-http", no_argument, NULL, 'k' },
		{ "allow-cleartext-gre", no_argument, NULL, 'G' },
		{ "metrics-listen", required_argument, NULL, 'm' },
		{ "restart-hold", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	unsigned long v;
	int c;

	*o = (struct opts){ .resync = 5, .restart_hold = 10, .level = LOG_LVL_INFO, .vici = DEFAULT_VICI };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (add_controllers(o, optarg))
				return -EINVAL;
			break;
		case 'P':
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || !v || v > 3600) {
				fprintf(stderr, "gresec-agent: --controller-probe: 1..3600 seconds\n");
				return -EINVAL;
			}
			o->probe_s = (unsigned int)v;
			break;
		case 's': o->site = optarg; break;
		case 't': o->token_file = optarg; break;
		case 'a': o->ca = optarg; break;
		case 'd': o->state_dir = optarg; break;
		case 'v': o->vici = optarg; o->vici_given = true; break;
		case 'i': o->intent = optarg; break;
		case 'o': o->once = true; break;
		case 'n': o->dry_run = true; break;
		case 'p': o->purge = true; break;
		case 'k': o->insecure_http = true; break;
		case 'G': o->cleartext_gre = true; break;
		case 'm': o->metrics_listen = optarg; break;
		case 'r':
			v = strtoul(optarg, &end, 10);
			if (*end || !v || v > 3600) {
				fprintf(stderr, "gresec-agent: --resync: 1..3600 seconds\n");
				return -EINVAL;
			}
			o->resync = (unsigned int)v;
			break;
		case 'H':
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 300) {
				fprintf(stderr, "gresec-agent: --restart-hold: 0..300 seconds (0: none)\n");
				return -EINVAL;
			}
			o->restart_hold = (unsigned int)v;
			break;
		case 'l':
			if (log_level_parse(optarg, &o->level)) {
				fprintf(stderr, "gresec-agent: --log-level: error, warn, info or debug\n");
				return -EINVAL;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || (!o->intent && !o->purge &&
			      (!o->controller || !o->site || !o->token_file))) {
		usage(stderr);
		return -EINVAL;
	}
	return check_urls(o);
}

/* One-shot modes drive charon only when asked to (--vici) or when its default socket
 * exists, so the kernel plane alone still works on a host without charon. 0, or
 * negative errno when charon was wanted and did not converge. The PSKs travel in
 * load-shared messages only; the plan printed for --dry-run never holds them. */
static int run_once_ike(const struct opts *o, const struct intent *in, struct ike_events **evp)
{
	struct ike_events *ev = NULL;
	struct ike *ike;
	int rc;

	if (!o->vici_given && access(o->vici, F_OK)) {
		log_debug("no charon at %s: IKE plane skipped", o->vici);
		return 0;
	}
	ike = ike_new(o->vici);
	if (!ike)
		return -ENOMEM;
	if (o->enroll)
		ike_set_creds(ike, o->enroll->key_pem, o->enroll->cert_pem);
	rc = ike_apply(ike, o->purge ? NULL : in, o->dry_run ? stdout : NULL);
	if (rc)
		log_warn("site %s: IKE plane (charon at %s): %s", in ? in->site : "-", o->vici,
			 strerror(-rc));
	/* For the status report: charon's view of each tunnel right after the apply. */
	if (!rc && evp && in && !o->dry_run && !o->purge && (ev = ike_events_new(o->vici)) &&
	    !ike_events_open(ev) && !ike_events_track(ev, in) && !ike_events_refresh(ev)) {
		*evp = ev;
		ev = NULL;
	}
	ike_events_free(ev);
	ike_free(ike);
	return rc;
}

/* --dry-run: what the guard took out, before the plan of what is left. */
static void print_refused(const struct guard_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct guard_refusal *f = &rep->v[i];

		if (f->tunnel)
			printf("refuse tunnel %s: %s\n", f->id, f->reason);
		else
			printf("refuse route %s via %s: %s\n", f->route, f->id, f->reason);
	}
}

/* --purge, or --intent with --once/--dry-run: one pass, then exit. */
static int run_once(struct opts *o, struct reconcile *r, struct intent *in, json_t **report)
{
	struct reconcile_result res = { 0 };
	struct ike_events *ev = NULL;
	json_t *st = NULL;
	bool converged = false;
	int rc = 0;

	if (in && !o->purge && (rc = guard_apply(o->guard, in, &o->refused)))
		log_err("site %s: cannot check the intent: %s", in->site, strerror(-rc));
	if (!rc && o->dry_run)
		print_refused(&o->refused);
	if (!rc)
		rc = reconcile_pass(r, o->purge ? NULL : in, o->dry_run, stdout, &res);
	if (rc) {
		log_err("site %s: reconcile failed: %s", in ? in->site : "-", strerror(-rc));
		goto out;
	}
	if (run_once_ike(o, in, &ev))
		res.converged = false;
	/* Something was refused: the intent is not what is enforced; a refused tunnel is a
	 * failed one. */
	if (!o->purge && o->refused.n)
		res.converged = false;
	for (size_t i = 0; !o->purge && i < o->refused.n; i++)
		res.n_failed += o->refused.v[i].tunnel;
	/* Stable, parseable summary on stderr: the kernel tests count messages with it. */
	converged = res.converged;
	fprintf(stderr, "gresec-agent: actions=%zu messages=%llu failed=%zu converged=%s\n",
		res.n_actions, (unsigned long long)res.n_msgs, res.n_failed,
		res.converged ? "yes" : "no");
	if (!o->dry_run && o->state_dir && !o->purge) {
		st = daemon_status_json_ike(in, &res, ev);
		if (st) {
			daemon_add_refused(st, &o->refused, false, NULL);
			state_write_json(o->state_dir, "status.json", st);
		}
	}
	if (report && in && (*report = daemon_report_json(in, &res, ev, ev != NULL, NULL)))
		daemon_add_refused(*report, &o->refused, true, NULL);
out:
	ike_events_free(ev);
	json_decref(st);
	reconcile_result_clear(&res);
	if (rc)
		return 1;
	/* A dry run succeeds when it could plan; whether anything would change is its output. */
	return o->dry_run || converged ? 0 : EXIT_PARTIAL;
}

/* The intent to start with: the file, or the last one persisted. */
static int initial_intent(const struct opts *o, struct intent **in)
{
	char err[256];
	int rc;

	if (o->intent) {
		rc = intent_load_file(o->intent, in, err, sizeof(err));
		if (rc)
			log_err("intent %s: %s", o->intent, err);
		return rc;
	}
	if (!o->state_dir)
		return 0;
	rc = state_load_intent(o->state_dir, in, err, sizeof(err));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		log_err("site %s: persisted intent unusable, waiting for the controller: %s",
			o->site, err);
	return 0;
}

/* --once with a controller: take the newest intent (if newer than the persisted one),
 * persist it, converge once, report status, exit. */
static int run_controller_once(struct opts *o, struct reconcile *r, struct client *c,
			       struct intent *in)
{
	struct intent *fresh = NULL;
	char err[256] = "";
	json_t *st = NULL;
	int rc = client_fetch(c, in ? in->revision : 0, &fresh, err, sizeof(err));

	if (rc < 0)
		log_warn("site %s: controller: %s; using the persisted intent", o->site, err);
	if (fresh) {
		intent_free(in);
		in = fresh;
		if (!o->dry_run && o->state_dir && (rc = state_save_intent(o->state_dir, in)))
			log_err("site %s: cannot persist intent: %s", o->site, strerror(-rc));
	}
	if (!in) {
		log_err("site %s: no intent from the controller and none persisted", o->site);
		return 1;
	}
	rc = run_once(o, r, in, o->dry_run ? NULL : &st);
	if (st && client_post_status(c, st, err, sizeof(err)))
		log_warn("site %s: posting status: %s", o->site, err);
	json_decref(st);
	intent_free(in);
	return rc;
}

static int run_controller(struct opts *o, struct reconcile *r, struct intent *in)
{
	struct client_cfg cc = { .urls = o->controllers, .n_urls = o->n_controllers,
				 .probe_s = o->probe_s, .site = o->site,
				 .token_file = o->token_file, .ca = o->ca,
				 .insecure_http = o->insecure_http };
	struct daemon_cfg dc = { .state_dir = o->state_dir, .resync = o->resync,
				 .restart_hold = o->restart_hold, .vici = o->vici, .guard = o->guard,
				 .metrics_listen = o->metrics_listen };
	struct client *c = client_new(&cc);
	int rc = -ENOMEM;

	if (!c)
		goto out;
	if (o->once || o->dry_run) {
		/* No enrollment in one shot: what the daemon enrolled, if anything, for mTLS
		 * and for charon. */
		if (o->state_dir && (o->enroll = enroll_new(o->state_dir, o->site, false)))
			client_set_identity(c, enroll_valid(o->enroll) ? o->enroll->cert_file : NULL,
					    o->enroll->key_file);
		rc = run_controller_once(o, r, c, in);
		client_free(c);
		enroll_free(o->enroll);
		o->enroll = NULL;
		return rc;
	}
	if ((rc = client_start(c, in ? in->revision : 0))) {
		log_err("site %s: cannot start the controller client: %s", o->site, strerror(-rc));
		goto out;
	}
	dc.client = c;
	rc = daemon_run(&dc, r, in);
	in = NULL;
out:
	intent_free(in);
	client_free(c);
	return rc ? 1 : 0;
}

/* A core dump would hold every PSK and the agent token: none, whatever the system's
 * defaults (and no ptrace by other processes of the same user). */
static void no_core(void)
{
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		log_warn("cannot disable core dumps (PR_SET_DUMPABLE): %s", strerror(errno));
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		log_warn("cannot set RLIMIT_CORE to 0: %s", strerror(errno));
}

/* What no route of an intent may contain: this host's addresses, and the controller's
 * as they resolve now (more are added as the client reaches the controller). */
static int guard_setup(struct opts *o)
{
	char err[256];
	int rc;

	if (!(o->guard = guard_new()))
		return -ENOMEM;
	o->guard->cleartext_gre = o->cleartext_gre;
	if ((rc = guard_keep_host(o->guard)))
		log_warn("cannot list this host's addresses: %s", strerror(-rc));
	for (size_t i = 0; i < o->n_controllers; i++) {
		if (!(rc = guard_keep_url(o->guard, o->controllers[i], err, sizeof(err))))
			continue;
		log_warn("controller %s: %s; its address is checked once the agent reaches it",
			 o->controllers[i], err);
		if (rc == -ENOMEM)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct reconcile *r = NULL;
	struct intent *in = NULL;
	int rc = 1;

	no_core();
	if (parse_opts(argc, argv, &o))
		goto out;
	log_init("gresec-agent", o.level);
	for (size_t i = 0; o.insecure_http && i < o.n_controllers; i++)
		if (!strncasecmp(o.controllers[i], "http://", 7))
			log_warn("controller %s: plain http (--insecure-http): the token and the "
				 "PSKs cross the network in clear", o.controllers[i]);
	if (guard_setup(&o))
		goto out;
	if (!o.purge && initial_intent(&o, &in))
		goto out;
	r = reconcile_new();
	if (!r) {
		log_err("cannot open netlink sockets: %s", strerror(errno));
		goto out;
	}
	if (getenv("GRESEC_TEST_CRASH_AFTER"))
		reconcile_set_crash_after(r, strtoull(getenv("GRESEC_TEST_CRASH_AFTER"), NULL, 10));
	if (o.purge || (o.intent && (o.dry_run || o.once))) {
		rc = run_once(&o, r, in, NULL);
	} else if (o.intent) {
		struct daemon_cfg dc = { .state_dir = o.state_dir, .resync = o.resync,
					 .restart_hold = o.restart_hold, .vici = o.vici, .guard = o.guard,
					 .metrics_listen = o.metrics_listen };

		rc = daemon_run(&dc, r, in) ? 1 : 0;
		in = NULL;
	} else {
		rc = run_controller(&o, r, in);
		in = NULL;
	}
out:
	intent_free(in);
	reconcile_free(r);
	guard_free(o.guard);
	guard_report_clear(&o.refused);
	for (size_t i = 0; i < o.n_lists; i++)
		free(o.lists[i]);
	return rc;
}
