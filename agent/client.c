/* Controller client over libcurl's multi interface. The long-poll and the status post
 * are two transfers whose sockets and timer libcurl hands to the agent's poll loop
 * (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION): the agent stays one thread, and a
 * new intent is just one more event of that loop. --once uses blocking easy handles. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>

#include "client.h"
#include "client_int.h"
#include "ctl_pick.h"
#include "ike.h"
#include "log.h"

#define CLIENT_MAX_BODY (64u << 20)
#define CLIENT_POST_TIMEOUT 10L

static size_t client_write_cb(char *p, size_t sz, size_t n, void *ud)
{
	struct client_buf *b = ud;
	size_t add = sz * n;
	char *nd;

	if (b->len + add + 1 > CLIENT_MAX_BODY)
		return 0;
	nd = realloc(b->data, b->len + add + 1);
	if (!nd)
		return 0;
	memcpy(nd + b->len, p, add);
	b->data = nd;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static char *client_read_token(const char *path)
{
	char buf[1024], *tok;
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&tok, "Authorization: Bearer %s", buf) < 0)
		tok = NULL;
	explicit_bzero(buf, sizeof(buf));
	return tok;
}

/* Frees a header list, wiping the token copy curl_slist_append made. */
static void client_hdr_free(struct curl_slist *hdr)
{
	for (struct curl_slist *l = hdr; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(hdr);
}

/* Ends a transfer (aborting it when still in flight) and frees what it held. */
void client_xfer_clear(struct client *c, struct client_xfer *x)
{
	if (x->h && c && c->multi)
		curl_multi_remove_handle(c->multi, x->h);
	curl_easy_cleanup(x->h);
	client_hdr_free(x->hdr);
	free(x->body);
	free(x->resp.data);
	*x = (struct client_xfer){ 0 };
}

/* The site's certificate for a controller that asks for one (--tls-client-ca): it then
 * knows the agent as its site without the token. Files, not blobs: Debian's libcurl
 * is built with GnuTLS, which takes no certificate blobs. */
static void client_identity_opts(const struct client *c, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_SSLCERT, c->id_cert);
	curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(h, CURLOPT_SSLKEY, c->id_key);
	curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
}

int client_set_identity(struct client *c, const char *cert_file, const char *key_file)
{
	free(c->id_cert);
	free(c->id_key);
	c->id_cert = cert_file && key_file ? strdup(cert_file) : NULL;
	c->id_key = cert_file && key_file ? strdup(key_file) : NULL;
	return !cert_file || !key_file || (c->id_cert && c->id_key) ? 0 : -ENOMEM;
}

/* Sets up x's easy handle for path at controller i (with the token unless it is a
 * probe, which needs none); x->body (owned by x) makes it a POST. */
int client_xfer_init_at(struct client *c, struct client_xfer *x, size_t i,
			       const char *path, long timeout, bool auth)
{
	struct curl_slist *more;
	char url[2048];

	x->h = curl_easy_init();
	x->hdr = auth ? curl_slist_append(NULL, c->auth) : NULL;
	if (x->hdr && x->body) {
		more = curl_slist_append(x->hdr, "Content-Type: application/json");
		if (!more)
			return -ENOMEM;
		x->hdr = more;
	}
	if (!x->h || (auth && !x->hdr))
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s%s", c->urls[i], path);
	curl_easy_setopt(x->h, CURLOPT_URL, url);
	if (x->hdr)
		curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdr);
	curl_easy_setopt(x->h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(x->h, CURLOPT_WRITEDATA, &x->resp);
	/* The token and the intent's PSKs cross this connection: clear text only when
	 * the operator asked for it (--insecure-http). */
	curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, c->insecure_http ? "http,https" : "https");
	if (c->ca)
		curl_easy_setopt(x->h, CURLOPT_CAINFO, c->ca);
	if (c->id_cert && c->id_key)
		client_identity_opts(c, x->h);
	if (x->body)
		curl_easy_setopt(x->h, CURLOPT_POSTFIELDS, x->body);
	return 0;
}

/* The same, at the controller in use. */
static int client_xfer_init(struct client *c, struct client_xfer *x, const char *path,
			    long timeout)
{
	return client_xfer_init_at(c, x, c->pick.cur, path, timeout, true);
}

/* The HTTP status (> 0) of a finished transfer, or a negative errno (err says). */
long client_xfer_status(struct client_xfer *x, CURLcode cc, char *err, size_t errlen)
{
	long status = 0;

	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		return -EIO;
	}
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static int client_decode(struct client *c, uint64_t after, const struct client_buf *b,
			 struct intent **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = b->data ? json_loads(b->data, JSON_REJECT_DUPLICATES, &je) : NULL;
	struct intent *in = NULL;
	int rc = -EINVAL;

	if (!j) {
		snprintf(err, errlen, "response is not JSON");
		goto out;
	}
	if ((rc = intent_from_json(j, &in, err, errlen)) ||
	    (rc = intent_validate(in, err, errlen)))
		goto out;
	rc = -EINVAL;
	if (strcmp(in->site, c->site)) {
		snprintf(err, errlen, "intent is for site %s", in->site);
		goto out;
	}
	/* Only a repeat of the revision we have is not news; an older one: client_ctl_older. */
	if (after && in->revision == after) {
		snprintf(err, errlen, "revision %llu is the one already applied",
			 (unsigned long long)in->revision);
		goto out;
	}
	if (after && in->revision < after && !client_ctl_older(c, after, in->revision, err, errlen)) {
		rc = -ESTALE;
		goto out;
	}
	*out = in;
	in = NULL;
	rc = 0;
out:
	intent_free(in);
	json_decref(j);
	return rc;
}

/* client_fetch's result from the HTTP status and body of GET .../intent. */
static int client_intent_result(struct client *c, uint64_t after, long st,
				const struct client_buf *b, struct intent **out, char *err,
				size_t errlen)
{
	if (st < 0)
		return (int)st;
	if (st == 204)
		return 1;
	if (st == 200)
		return client_decode(c, after, b, out, err, errlen);
	snprintf(err, errlen, "HTTP %ld", st);
	return -EIO;
}

static int client_status_result(long st, char *err, size_t errlen)
{
	if (st > 0 && (st < 200 || st > 299)) {
		snprintf(err, errlen, "HTTP %ld", st);
		return -EIO;
	}
	return st < 0 ? (int)st : 0;
}

static void client_intent_path(const struct client *c, uint64_t after, char *path,
			       size_t len)
{
	snprintf(path, len, "/v1/agents/%s/intent?after=%llu", c->site,
		 (unsigned long long)after);
}

static void client_status_path(const struct client *c, char *path, size_t len)
{
	snprintf(path, len, "/v1/agents/%s/status", c->site);
}

/* ---- blocking, for --once ---- */

static long client_http(struct client *c, struct client_xfer *x, const char *path,
			long timeout, char *err, size_t errlen)
{
	if (client_xfer_init(c, x, path, timeout)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return client_xfer_status(x, curl_easy_perform(x->h), err, errlen);
}

static int client_fetch_one(struct client *c, uint64_t after, struct intent **out, char *err,
			    size_t errlen)
{
	struct client_xfer x = { 0 };
	char path[512];
	long st;
	int rc;

	client_intent_path(c, after, path, sizeof(path));
	st = client_http(c, &x, path, c->poll_timeout + 15, err, errlen);
	rc = client_intent_result(c, after, st, &x.resp, out, err, errlen);
	client_xfer_clear(NULL, &x);
	return rc;
}

/* The controllers in order until one answers; the status is then posted to that one. */
int client_fetch(struct client *c, uint64_t after, struct intent **out, char *err,
		 size_t errlen)
{
	int rc = -EIO;

	for (size_t i = 0; i < c->pick.n; i++) {
		ctl_pick_go(&c->pick, i, ike_now_ms());
		rc = client_fetch_one(c, after, out, err, errlen);
		if (rc >= 0)
			break;
		if (i + 1 < c->pick.n)
			log_warn("site %s: controller %s: %s; trying %s", c->site, c->urls[i], err,
				 c->urls[i + 1]);
	}
	return rc;
}

int client_post_status(struct client *c, const json_t *status, char *err, size_t errlen)
{
	struct client_xfer x = { .body = json_dumps(status, JSON_COMPACT) };
	char path[512];
	int rc;

	if (!x.body)
		return -ENOMEM;
	client_status_path(c, path, sizeof(path));
	rc = client_status_result(client_http(c, &x, path, CLIENT_POST_TIMEOUT, err, errlen),
				  err, errlen);
	client_xfer_clear(NULL, &x);
	return rc;
}

/* Enrollment: blocking, but bounded (CLIENT_POST_TIMEOUT) and rare (at start and at two
 * thirds of a certificate's life). */
int client_post_csr(struct client *c, const char *csr, json_t **out, char *err, size_t errlen)
{
	json_t *req = json_pack("{s:s}", "csr", csr);
	struct client_xfer x = { .body = req ? json_dumps(req, JSON_COMPACT) : NULL };
	char path[512];
	long st;
	int rc = -ENOMEM;

	*out = NULL;
	json_decref(req);
	if (!x.body)
		return rc;
	snprintf(path, sizeof(path), "/v1/agents/%s/csr", c->site);
	st = client_http(c, &x, path, CLIENT_POST_TIMEOUT, err, errlen);
	rc = client_status_result(st, err, errlen);
	if (rc == 0 && !(*out = json_loadb(x.resp.data ? x.resp.data : "", x.resp.len, 0, NULL))) {
		snprintf(err, errlen, "the answer is not JSON");
		rc = -EPROTO;
	}
	if (rc == -EIO && st == 422 && x.resp.data)
		snprintf(err, errlen, "HTTP 422: %.200s", x.resp.data);
	client_xfer_clear(NULL, &x);
	return rc;
}

/* ---- the poll loop's side: libcurl multi ---- */

/* libcurl says which sockets to watch for what; the loop polls them. */
static int client_sock_cb(CURL *e, curl_socket_t s, int what, void *ud, void *sockp)
{
	struct client *c = ud;
	struct client_sock *ns;
	size_t i = 0;

	(void)e, (void)sockp;
	while (i < c->n_socks && c->socks[i].fd != s)
		i++;
	if (what == CURL_POLL_REMOVE) {
		if (i < c->n_socks)
			c->socks[i] = c->socks[--c->n_socks];
		return 0;
	}
	if (i == c->n_socks) {
		if (c->n_socks == c->cap_socks) {
			ns = reallocarray(c->socks, c->cap_socks * 2 + 4, sizeof(*ns));
			if (!ns)
				return -1;
			c->socks = ns;
			c->cap_socks = c->cap_socks * 2 + 4;
		}
		c->socks[c->n_socks++].fd = s;
	}
	c->socks[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
				     ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	return 0;
}

/* A one-shot timer: ms < 0 deletes it, 0 means as soon as possible. */
static int client_timer_cb(CURLM *m, long ms, void *ud)
{
	struct client *c = ud;

	(void)m;
	c->curl_due_ms = ms < 0 ? -1 : ike_now_ms() + ms;
	return 0;
}

/* Copies the controllers' URLs. 0, -EINVAL (none, or too many) or -ENOMEM. */
static int client_urls(struct client *c, const struct client_cfg *cfg)
{
	if (!cfg->n_urls || cfg->n_urls > CTL_PICK_MAX)
		return -EINVAL;
	/* Seeded per process: agents that failed over together probe at different times. */
	ctl_pick_init(&c->pick, cfg->n_urls, cfg->probe_s,
		      (uint32_t)getpid() ^ (uint32_t)ike_now_ms());
	for (size_t i = 0; i < cfg->n_urls; i++)
		if (!(c->urls[i] = strdup(cfg->urls[i])))
			return -ENOMEM;
	return 0;
}

struct client *client_new(const struct client_cfg *cfg)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->curl_due_ms = c->retry_ms = -1;
	c->probing = -1;
	c->poll_timeout = cfg->poll_timeout > 0 ? cfg->poll_timeout : 30;
	c->insecure_http = cfg->insecure_http;
	if (client_urls(c, cfg)) {
		client_free(c);
		return NULL;
	}
	c->site = strdup(cfg->site);
	c->ca = cfg->ca ? strdup(cfg->ca) : NULL;
	c->auth = client_read_token(cfg->token_file);
	if (!c->auth)
		log_err("site %s: cannot read token file %s: %s", cfg->site, cfg->token_file,
			strerror(errno));
	if (!c->site || (cfg->ca && !c->ca) || !c->auth ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->multi = curl_multi_init())) {
		client_free(c);
		return NULL;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, client_sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, client_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return c;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	client_xfer_clear(c, &c->poll);
	client_xfer_clear(c, &c->post);
	client_xfer_clear(c, &c->probe);
	free(c->id_cert);
	free(c->id_key);
	curl_multi_cleanup(c->multi);
	free(c->socks);
	intent_free(c->pending);
	json_decref(c->status);
	if (c->auth) {
		explicit_bzero(c->auth, strlen(c->auth));
		free(c->auth);
	}
	for (size_t i = 0; i < CTL_PICK_MAX; i++)
		free(c->urls[i]);
	free(c->site);
	free(c->ca);
	free(c);
}

/* Adds x, set up for path, to the multi handle. 0 or -errno (x is then cleared). */
static int client_xfer_add(struct client *c, struct client_xfer *x, const char *path,
			   long timeout)
{
	int rc = client_xfer_init(c, x, path, timeout);

	if (!rc && curl_multi_add_handle(c->multi, x->h) != CURLM_OK)
		rc = -ENOMEM;
	if (rc)
		client_xfer_clear(c, x);
	return rc;
}

int client_poll_start(struct client *c)
{
	char path[512];
	int rc;

	c->retry_ms = -1;
	client_intent_path(c, c->after, path, sizeof(path));
	rc = client_xfer_add(c, &c->poll, path, c->poll_timeout + 15);
	if (rc)
		client_ctl_failed(c, strerror(-rc), false);
	return rc;
}

/* The long-poll ended: keep what it brought, then poll again (now, or after a backoff). */
static void client_poll_done(struct client *c, CURLcode cc)
{
	struct intent *in = NULL;
	char err[256] = "";
	long st = client_xfer_status(&c->poll, cc, err, sizeof(err));
	int rc = client_intent_result(c, c->after, st, &c->poll.resp, &in, err, sizeof(err));

	client_xfer_clear(c, &c->poll);
	if (rc < 0) {
		client_ctl_failed(c, err, st < 0 || st >= 500 || rc == -ESTALE);
		return;
	}
	ctl_pick_ok(&c->pick);
	if (rc == 0) {
		c->after = in->revision;
		intent_free(c->pending);
		c->pending = in;
	}
	client_poll_start(c);
}

/* Posts the newest queued status unless a post is in flight (it follows that one). */
static void client_post_start(struct client *c)
{
	char path[512];
	int rc;

	if (!c->started || c->post.h || !c->status)
		return;
	c->post.body = json_dumps(c->status, JSON_COMPACT);
	json_decref(c->status);
	c->status = NULL;
	client_status_path(c, path, sizeof(path));
	c->post_at = c->pick.cur;
	rc = c->post.body ? client_xfer_add(c, &c->post, path, CLIENT_POST_TIMEOUT) : -ENOMEM;
	if (rc)
		log_warn("site %s: posting status: %s", c->site, strerror(-rc));
}

static void client_post_done(struct client *c, CURLcode cc)
{
	char err[256] = "";
	long st = client_xfer_status(&c->post, cc, err, sizeof(err));

	/* Only the long-poll moves the agent to another controller; a post says whether
	 * its controller answers (the metrics), and is not retried elsewhere: a newer
	 * status follows soon enough (DAEMON_HEARTBEAT_S at the latest). */
	ctl_pick_seen(&c->pick, c->post_at, st > 0 && st < 500);
	if (client_status_result(st, err, sizeof(err)))
		log_warn("site %s: posting status: %s", c->site, err);
	client_xfer_clear(c, &c->post);
	client_post_start(c);
}

int client_start(struct client *c, uint64_t after)
{
	c->after = after;
	c->started = true;
	client_post_start(c);
	return client_poll_start(c);
}

size_t client_pollfds(struct client *c, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	for (; n < c->n_socks && n < max; n++)
		fds[n] = (struct pollfd){ .fd = c->socks[n].fd, .events = c->socks[n].events };
	return n;
}

int64_t client_timeout_ms(const struct client *c, int64_t now_ms)
{
	const int64_t due[] = { c->curl_due_ms, c->retry_ms,
				c->probing < 0 ? c->pick.probe_due_ms : -1 };
	int64_t t = -1;

	for (size_t i = 0; i < sizeof(due) / sizeof(due[0]); i++) {
		int64_t d = due[i] - now_ms;

		if (due[i] < 0)
			continue;
		if (d < 0)
			d = 0;
		if (t < 0 || d < t)
			t = d;
	}
	return t;
}

/* Where the transfer went: the guard keeps the controller's addresses out of routes. */
static void client_note_peer(struct client *c, CURL *h)
{
	char *ip = NULL;

	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && *ip &&
	    !addr_parse(ip, &c->peer))
		c->peer_known = true;
}

bool client_peer(const struct client *c, struct addr *out)
{
	if (c->peer_known)
		*out = c->peer;
	return c->peer_known;
}

/* Transfers libcurl has finished. */
static void client_complete(struct client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		CURL *h = m->easy_handle;
		CURLcode cc = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		client_note_peer(c, h);
		if (h == c->poll.h)
			client_poll_done(c, cc);
		else if (h == c->post.h)
			client_post_done(c, cc);
		else if (h == c->probe.h)
			client_ctl_probe_done(c, cc);
	}
}

/* libcurl's timer is one-shot and expired: it runs what is due. libcurl only calls the
 * timer callback when its next deadline changes, so one that did not (a wake-up a
 * rounding error early) is read back rather than lost. */
static void client_run_timer(struct client *c, int64_t now_ms)
{
	long ms = -1;
	int running;

	c->curl_due_ms = -1;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	if (c->curl_due_ms < 0 && curl_multi_timeout(c->multi, &ms) == CURLM_OK && ms >= 0)
		c->curl_due_ms = now_ms + (ms ? ms : 1);
}

void client_dispatch(struct client *c, const struct pollfd *fds, size_t n, int64_t now_ms)
{
	int running;

	for (size_t i = 0; i < n; i++) {
		int ev = 0;

		if (fds[i].revents & (POLLIN | POLLHUP))
			ev |= CURL_CSELECT_IN;
		if (fds[i].revents & POLLOUT)
			ev |= CURL_CSELECT_OUT;
		if (fds[i].revents & (POLLERR | POLLNVAL))
			ev |= CURL_CSELECT_ERR;
		if (ev)
			curl_multi_socket_action(c->multi, fds[i].fd, ev, &running);
	}
	if (c->curl_due_ms >= 0 && now_ms >= c->curl_due_ms)
		client_run_timer(c, now_ms);
	client_complete(c);
	if (c->started && !c->poll.h && c->retry_ms >= 0 && now_ms >= c->retry_ms)
		client_poll_start(c);
	client_ctl_probe_tick(c, now_ms);
}

struct intent *client_take(struct client *c)
{
	struct intent *in = c->pending;

	c->pending = NULL;
	return in;
}

void client_set_status(struct client *c, const json_t *status)
{
	json_t *copy = json_deep_copy(status);

	if (!copy)
		return;
	json_decref(c->status);
	c->status = copy;
	client_post_start(c);
}
