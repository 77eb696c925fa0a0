/* The agent's main loop. */
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

#include "client.h"
#include "daemon.h"
#include "log.h"
#include "state.h"

/* Coalesce a burst of notifications (ours included) into one pass. */
#define DAEMON_DEBOUNCE_MS 200

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

json_t *daemon_status_json(const struct intent *in, const struct reconcile_result *res)
{
	json_t *st = json_pack("{s:s?, s:I, s:b, s:I, s:[]}", "site", in ? in->site : NULL,
			       "revision", (json_int_t)(in ? in->revision : 0),
			       "converged", res->converged, "time", (json_int_t)time(NULL),
			       "tunnels");
	json_t *arr = st ? json_object_get(st, "tunnels") : NULL;

	for (size_t i = 0; arr && in && i < in->n_tunnels && i < res->n_tunnels; i++) {
		const struct reconcile_tunnel *t = &res->tunnels[i];

		json_t *o = json_pack("{s:s, s:s, s:s}", "id", in->tunnels[i].id,
				      "ifname", in->tunnels[i].ifname,
				      "interface", t->failed ? "failed" : "up");

		if (o && t->failed && json_object_set_new(o, "error", json_string(t->error))) {
			json_decref(o);
			o = NULL;
		}
		if (json_array_append_new(arr, o)) {
			json_decref(st);
			return NULL;
		}
	}
	return st;
}

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
	struct nl *mon_rt, *mon_xf;
	int sigfd;
	struct reconcile_result res;
};

static void daemon_pass(struct daemon_ctx *c)
{
	json_t *st;
	int rc;

	if (!c->in)
		return;
	rc = reconcile_pass(c->r, c->in, false, NULL, &c->res);
	if (rc) {
		log_err("site %s: reconcile failed: %s", c->in->site, strerror(-rc));
		return;
	}
	if (c->res.n_msgs)
		log_info("site %s: revision %llu: %zu changes, %llu messages, %s", c->in->site,
			 (unsigned long long)c->in->revision, c->res.n_actions,
			 (unsigned long long)c->res.n_msgs,
			 c->res.converged ? "converged" : "not converged");
	st = daemon_status_json(c->in, &c->res);
	if (st && c->cfg->state_dir)
		state_write_json(c->cfg->state_dir, "status.json", st);
	if (st && c->cfg->client)
		client_set_status(c->cfg->client, st);
	json_decref(st);
}

/* A new intent from the controller: persist it first, so a restart enforces it even
 * if the controller is then unreachable. */
static void daemon_take_intent(struct daemon_ctx *c)
{
	struct intent *in = client_take(c->cfg->client);
	int rc;

	if (!in)
		return;
	if (c->cfg->state_dir && (rc = state_save_intent(c->cfg->state_dir, in)))
		log_err("site %s: cannot persist intent revision %llu: %s", in->site,
			(unsigned long long)in->revision, strerror(-rc));
	log_info("site %s: intent revision %llu received", in->site,
		 (unsigned long long)in->revision);
	intent_free(c->in);
	c->in = in;
}

static int daemon_open(struct daemon_ctx *c)
{
	static const unsigned int rt_groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
		RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE };
	static const unsigned int xf_groups[] = { XFRMNLGRP_POLICY };

	c->sigfd = daemon_signalfd();
	if (c->sigfd < 0)
		return -errno;
	c->mon_rt = nl_new_monitor(NETLINK_ROUTE, rt_groups, 5);
	c->mon_xf = c->mon_rt ? nl_new_monitor(NETLINK_XFRM, xf_groups, 1) : NULL;
	return c->mon_xf ? 0 : -errno;
}

/* Waits for the next reason to run a pass. Returns 1 to run one, 0 to stop. */
static int daemon_wait(struct daemon_ctx *c)
{
	struct pollfd fds[4] = {
		{ .fd = c->sigfd, .events = POLLIN },
		{ .fd = nl_fd(c->mon_rt), .events = POLLIN },
		{ .fd = nl_fd(c->mon_xf), .events = POLLIN },
		{ .fd = c->cfg->client ? client_fd(c->cfg->client) : -1, .events = POLLIN },
	};
	int n = poll(fds, 4, (int)c->cfg->resync * 1000);

	if (n < 0 && errno != EINTR)
		return 0;
	if (fds[0].revents)
		return 0;
	if (fds[3].revents)
		daemon_take_intent(c);
	if (fds[1].revents || fds[2].revents) {
		poll(NULL, 0, DAEMON_DEBOUNCE_MS);
		nl_drain(c->mon_rt);
		nl_drain(c->mon_xf);
	}
	return 1;
}

int daemon_run(const struct daemon_cfg *cfg, struct reconcile *r, struct intent *in)
{
	struct daemon_ctx c = { .cfg = cfg, .r = r, .in = in, .sigfd = -1 };
	int rc = daemon_open(&c);

	if (rc)
		goto out;
	daemon_pass(&c);
	daemon_notify("READY=1");
	while (daemon_wait(&c))
		daemon_pass(&c);
	daemon_notify("STOPPING=1");
	/* Tunnels stay up: stopping the agent must not interrupt traffic. */
	log_info("stopping; kernel state left in place");
out:
	if (c.sigfd >= 0)
		close(c.sigfd);
	nl_free(c.mon_rt);
	nl_free(c.mon_xf);
	reconcile_result_clear(&c.res);
	intent_free(c.in);
	return rc;
}
