/* Drives the agent's IKE plane (agent/ike*.c, acquire.c, vici*.c) against a real
 * charon, for tests/ike/ike_test.sh:
 *   ike_driver plan   VICI INTENT          print the plan (--dry-run), change nothing
 *   ike_driver apply  VICI INTENT|-        apply once; print the actions taken
 *   ike_driver run    VICI INTENT SECONDS  apply, then the agent's loop: acquires,
 *                                          events, always-on retries
 *   ike_driver status VICI INTENT          one JSON status line per tunnel
 * "-" as INTENT means no intent (remove everything the agent owns in charon). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acquire.h"
#include "ike.h"
#include "ike_events.h"
#include "intent.h"
#include "log.h"
#include "vici.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static struct intent *load(const char *path)
{
	struct intent *in = NULL;
	char err[256];

	if (!strcmp(path, "-"))
		return NULL;
	if (intent_load_file(path, &in, err, sizeof(err))) {
		fprintf(stderr, "ike_driver: %s\n", err);
		exit(2);
	}
	return in;
}

/* Like ike_apply, but prints what it does, so the test can count actions. */
static int apply(struct ike *ike, const struct intent *in)
{
	struct ike_cur *cur = ike_cur_new();
	struct ike_plan *p = ike_plan_new();
	int rc = vici_conn_open(ike->vc, ike->vici_path);

	if (!rc)
		rc = ike_cur_read(ike->vc, cur);
	if (!rc)
		rc = ike_plan_compute(in, cur, p);
	if (!rc) {
		ike_plan_print(p, in, stdout);
		printf("actions %zu\n", p->n);
		fflush(stdout);
	}
	ike_plan_free(p);
	ike_cur_free(cur);
	if (!rc)
		rc = ike_apply(ike, in, NULL);
	return rc;
}

static void print_status(struct ike_events *ev, const struct intent *in)
{
	for (size_t i = 0; in && i < in->n_tunnels; i++) {
		json_t *j = ike_events_status_json(ev, in->tunnels[i].id);
		char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

		printf("status %s %s\n", in->tunnels[i].id, s ? s : "null");
		free(s);
		json_decref(j);
	}
	fflush(stdout);
}

static int run(struct ike *ike, struct ike_events *ev, const struct intent *in, int secs)
{
	struct acquire *acq = acquire_new();
	int64_t end = ike_now_ms() + (int64_t)secs * 1000;
	int rc = acq ? acquire_open(acq) : -ENOMEM;

	if (!rc)
		rc = acquire_set_larval_drop(false);
	if (!rc)
		rc = ike_events_open(ev);
	if (!rc)
		rc = apply(ike, in);
	while (!rc && !stop && ike_now_ms() < end) {
		struct pollfd p[2] = {
			{ .fd = acquire_fd(acq), .events = POLLIN },
			{ .fd = ike_events_fd(ev), .events = POLLIN },
		};
		int64_t t = ike_next_timeout_ms(ike, ike_now_ms());

		if (t < 0 || t > 1000)
			t = 1000;
		if (poll(p, 2, (int)t) < 0 && errno != EINTR)
			rc = -errno;
		if (!rc && (p[0].revents & POLLIN) && acquire_dispatch(acq, ike) == 0)
			printf("acquires seen %llu ours %llu\n", (unsigned long long)acq->n_seen,
			       (unsigned long long)acq->n_ours);
		if (!rc && (p[1].revents & (POLLIN | POLLHUP)))
			rc = ike_events_dispatch(ev);
		if (!rc)
			rc = ike_tick(ike, ike_now_ms());
		if (ike_events_take_dirty(ev))
			print_status(ev, in);
	}
	acquire_free(acq);
	return rc;
}

int main(int argc, char **argv)
{
	struct intent *in;
	struct ike *ike;
	struct ike_events *ev;
	int rc = -EINVAL;

	if (argc < 4) {
		fprintf(stderr, "usage: ike_driver plan|apply|run|status VICI INTENT [SECONDS]\n");
		return 2;
	}
	log_init("ike_driver", getenv("IKE_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	in = load(argv[3]);
	ike = ike_new(argv[2]);
	ev = ike_events_new(argv[2]);
	if (!ike || !ev)
		return 1;
	ike_set_events(ike, ev);
	if (!strcmp(argv[1], "plan")) {
		rc = ike_apply(ike, in, stdout);
	} else if (!strcmp(argv[1], "apply")) {
		rc = apply(ike, in);
	} else if (!strcmp(argv[1], "run") && argc == 5) {
		rc = run(ike, ev, in, atoi(argv[4]));
	} else if (!strcmp(argv[1], "status")) {
		rc = ike_events_open(ev);
		if (!rc)
			rc = ike_events_track(ev, in);
		if (!rc)
			rc = ike_events_refresh(ev);
		print_status(ev, in);
	}
	if (rc)
		fprintf(stderr, "ike_driver %s: %s\n", argv[1], strerror(-rc));
	ike_free(ike);
	ike_events_free(ev);
	intent_free(in);
	return rc ? 1 : 0;
}
