/* bfd_pair: runs agent/bfd_set.c on real sockets for the integration test.
 *
 *   bfd_pair ID,IFNAME,LOCAL,PEER,INTERVAL_MS,MULT [...]
 *   bfd_pair --many N,IFNAME,SIDE,INTERVAL_MS,MULT
 *            N sessions (the benchmark, tests/bench/bfd.sh): session i between
 *            169.254.<i / 128>.<2 (i % 128) + SIDE> and the other address of that /31
 *
 * Makes the sessions (again and again until their socket can be made), then prints one
 * line per event, each starting with CLOCK_MONOTONIC seconds (Python's time.monotonic):
 *   <t> ready
 *   <t> ensure <id> <error>            a session could not be made yet
 *   <t> state <id> <old> <new> <diag>  a state change
 *   <t> drops <reason>=<n>... tx_errors=<n> sessions=<n> idle=<0|1>
 *                                      on SIGUSR1 and at exit (SIGTERM, SIGINT);
 *                                      idle: nothing left to send, not even AdminDown
 * SIGUSR2 removes every session with AdminDown (bfd_set_remove).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>

#include "bfd_set.h"

#define PAIR_RETRY_US 100000

struct pair_sess {
	char id[64], ifname[32];
	struct addr local, peer;
	struct bfd_cfg cfg;
	int rc;			/* last bfd_set_ensure result; 1 before the first */
};

static double pair_ts(int64_t us)
{
	return (double)us / 1e6;
}

static void pair_changed(void *ud, const char *id, const struct bfd_session *s,
			 enum bfd_state old)
{
	(void)ud;
	printf("%.6f state %s %s %s %s\n", pair_ts(s->changed_at_us), id, bfd_state_name(old),
	       bfd_state_name(s->state), bfd_diag_name(s->local_diag));
}

static void pair_drops(const struct bfd_set *bs)
{
	const uint64_t *d = bfd_set_drops(bs);

	printf("%.6f drops", pair_ts(bfd_now_us()));
	for (int i = BFD_DROP_NONE + 1; i < BFD_DROP__MAX; i++)
		printf(" %s=%llu", bfd_drop_name((enum bfd_drop)i), (unsigned long long)d[i]);
	printf(" tx_errors=%llu sessions=%zu idle=%d\n", (unsigned long long)bfd_set_tx_errors(bs),
	       bfd_set_count(bs), bfd_set_next_us(bs) == INT64_MAX);
}

static int pair_parse(char *arg, struct pair_sess *ps)
{
	char *f[6], *save = NULL;
	int n = 0;

	for (char *t = strtok_r(arg, ",", &save); t && n < 6; t = strtok_r(NULL, ",", &save))
		f[n++] = t;
	if (n != 6 || strlen(f[0]) >= sizeof(ps->id) || strlen(f[1]) >= sizeof(ps->ifname) ||
	    addr_parse(f[2], &ps->local) || addr_parse(f[3], &ps->peer))
		return -EINVAL;
	strcpy(ps->id, f[0]);
	strcpy(ps->ifname, f[1]);
	ps->cfg = (struct bfd_cfg){
		.desired_min_tx_us = (uint32_t)atoi(f[4]) * 1000u,
		.required_min_rx_us = (uint32_t)atoi(f[4]) * 1000u,
		.detect_mult = (uint8_t)atoi(f[5]),
	};
	ps->rc = 1;
	return 0;
}

/* --many: n sessions on one interface, the addresses numbered as above. */
static struct pair_sess *pair_many(const char *arg, size_t *n)
{
	char ifname[32];
	unsigned cnt, side, ms, mult;
	struct pair_sess *ps;

	if (sscanf(arg, "%u,%31[^,],%u,%u,%u", &cnt, ifname, &side, &ms, &mult) != 5 ||
	    !cnt || cnt > 32768 || side > 1 || !ms || !mult || mult > 255 ||
	    !(ps = calloc(cnt, sizeof(*ps))))
		return NULL;
	for (unsigned i = 0; i < cnt; i++) {
		char a[32], b[32];

		snprintf(a, sizeof(a), "169.254.%u.%u", i / 128, 2 * (i % 128) + side);
		snprintf(b, sizeof(b), "169.254.%u.%u", i / 128, 2 * (i % 128) + !side);
		snprintf(ps[i].id, sizeof(ps[i].id), "s%u", i);
		snprintf(ps[i].ifname, sizeof(ps[i].ifname), "%s", ifname);
		addr_parse(a, &ps[i].local);
		addr_parse(b, &ps[i].peer);
		ps[i].cfg = (struct bfd_cfg){ .desired_min_tx_us = ms * 1000u,
					      .required_min_rx_us = ms * 1000u,
					      .detect_mult = (uint8_t)mult };
		ps[i].rc = 1;
	}
	*n = cnt;
	return ps;
}

/* Sessions made once stay: only those whose socket could not be made yet are tried
 * again (as the agent does). */
static void pair_ensure(struct bfd_set *bs, struct pair_sess *ps, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		int rc;

		if (!ps[i].rc)
			continue;
		rc = bfd_set_ensure(bs, ps[i].id, ps[i].ifname, &ps[i].local, &ps[i].peer,
					&ps[i].cfg, now);

		if (rc && rc != ps[i].rc)
			printf("%.6f ensure %s %s\n", pair_ts(now), ps[i].id, strerror(-rc));
		ps[i].rc = rc;
	}
}

/* True to go on, false on SIGTERM/SIGINT. */
static bool pair_signal(int sfd, struct bfd_set *bs, struct pair_sess *ps, size_t *n)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return true;
	if (si.ssi_signo == SIGUSR1) {
		pair_drops(bs);
		return true;
	}
	if (si.ssi_signo == SIGUSR2) {
		for (size_t i = 0; i < *n; i++)
			bfd_set_remove(bs, ps[i].id, true, bfd_now_us());
		*n = 0;
		printf("%.6f removed\n", pair_ts(bfd_now_us()));
		return true;
	}
	return false;
}

/* As the agent's loop: at most one turn per BFD_LOOP_TURN_US (see bfd_set.h). */
static void pair_loop(struct bfd_set *bs, int sfd, struct pair_sess *ps, size_t n)
{
	int64_t retry_at = 0, turn = 0;

	for (;;) {
		struct pollfd fds[3];
		int64_t now = bfd_now_us(), wait;
		size_t nfd;

		if (now - turn < BFD_LOOP_TURN_US) {
			usleep((useconds_t)(BFD_LOOP_TURN_US - (now - turn)));
			now = bfd_now_us();
		}
		turn = now;

		if (now >= retry_at) {
			pair_ensure(bs, ps, n, now);
			retry_at = now + PAIR_RETRY_US;
		}
		bfd_set_run(bs, now);
		nfd = bfd_set_pollfds(bs, fds, 2);
		fds[nfd] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		wait = bfd_set_next_us(bs);
		wait = (wait < retry_at ? wait : retry_at) - now;
		if (wait < 0)
			wait = 0;
		if (ppoll(fds, nfd + 1, &(struct timespec){ .tv_sec = wait / 1000000,
							    .tv_nsec = wait % 1000000 * 1000 },
			  NULL) < 0 && errno != EINTR)
			return;
		if ((fds[nfd].revents & POLLIN) && !pair_signal(sfd, bs, ps, &n))
			return;
		bfd_set_dispatch(bs, fds, nfd, bfd_now_us());
	}
}

int main(int argc, char **argv)
{
	struct pair_sess *ps = NULL;
	struct bfd_set *bs = NULL;
	size_t n = 0;
	sigset_t sigs;
	int sfd = -1, rc = 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "--many"))
		ps = pair_many(argv[2], &n);
	else if ((ps = calloc(argc, sizeof(*ps))))
		for (int i = 1; ps && i < argc; i++)
			if (pair_parse(argv[i], &ps[n++])) {
				free(ps);
				ps = NULL;
			}
	if (!ps) {
		fprintf(stderr, "usage: bfd_pair ID,IFNAME,LOCAL,PEER,INTERVAL_MS,MULT...\n"
			"       bfd_pair --many N,IFNAME,SIDE,INTERVAL_MS,MULT\n");
		goto out;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	bs = bfd_set_new(pair_changed, NULL);
	if (sfd < 0 || !bs) {
		perror("bfd_pair");
		goto out;
	}
	printf("%.6f ready\n", pair_ts(bfd_now_us()));
	pair_loop(bs, sfd, ps, n);
	pair_drops(bs);
	rc = 0;
out:
	free(ps);
	bfd_set_free(bs);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
