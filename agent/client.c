/* Controller client over libcurl: a long-poll thread and a status thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "client.h"
#include "log.h"

#define CLIENT_MAX_BODY (64u << 20)
#define CLIENT_BACKOFF_MAX 60

struct client {
	char *url, *site, *ca;
	char *auth;			/* "Authorization: Bearer ..." (secret) */
	long poll_timeout;
	atomic_bool stop;
	bool started;
	pthread_t poll_th, status_th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct intent *pending;
	json_t *status;
	uint64_t after;
	int pipe[2];
};

struct client_buf {
	char *data;
	size_t len;
};

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

static int client_progress_cb(void *ud, curl_off_t a, curl_off_t b, curl_off_t c,
			      curl_off_t d)
{
	struct client *cl = ud;

	(void)a, (void)b, (void)c, (void)d;
	return atomic_load(&cl->stop) ? 1 : 0;
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

struct client *client_new(const struct client_cfg *cfg)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->pipe[0] = c->pipe[1] = -1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->poll_timeout = cfg->poll_timeout > 0 ? cfg->poll_timeout : 30;
	c->url = strdup(cfg->url);
	c->site = strdup(cfg->site);
	c->ca = cfg->ca ? strdup(cfg->ca) : NULL;
	c->auth = client_read_token(cfg->token_file);
	if (!c->auth)
		log_err("site %s: cannot read token file %s: %s", cfg->site, cfg->token_file,
			strerror(errno));
	if (!c->url || !c->site || (cfg->ca && !c->ca) || !c->auth ||
	    pipe2(c->pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		client_free(c);
		return NULL;
	}
	return c;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->started) {
		atomic_store(&c->stop, true);
		pthread_mutex_lock(&c->mu);
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->poll_th, NULL);
		pthread_join(c->status_th, NULL);
	}
	if (c->pipe[0] >= 0)
		close(c->pipe[0]);
	if (c->pipe[1] >= 0)
		close(c->pipe[1]);
	intent_free(c->pending);
	json_decref(c->status);
	if (c->auth) {
		explicit_bzero(c->auth, strlen(c->auth));
		free(c->auth);
	}
	free(c->url);
	free(c->site);
	free(c->ca);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

/* One HTTP exchange. Returns the HTTP status (> 0) or a negative errno. */
static long client_http(struct client *c, const char *path, const char *body,
			long timeout, struct client_buf *resp, char *err, size_t errlen)
{
	char url[2048];
	struct curl_slist *hdr = NULL;
	CURL *h = curl_easy_init();
	long status = -ENOMEM;
	CURLcode cc;

	if (!h)
		goto out;
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	hdr = curl_slist_append(hdr, c->auth);
	if (body)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	if (!hdr)
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, client_progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "%s", curl_easy_strerror(cc));
		status = -EIO;
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
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
	/* An older revision is still the controller's word: its database was restored from
	 * a backup, and what it holds now is what the site must do. Only a repeat of the
	 * revision we have is not news. */
	if (after && in->revision == after) {
		snprintf(err, errlen, "revision %llu is the one already applied",
			 (unsigned long long)in->revision);
		goto out;
	}
	if (after && in->revision < after)
		log_warn("site %s: the controller went back from revision %llu to %llu "
			 "(restored from a backup?); applying it", c->site,
			 (unsigned long long)after, (unsigned long long)in->revision);
	*out = in;
	in = NULL;
	rc = 0;
out:
	intent_free(in);
	json_decref(j);
	return rc;
}

int client_fetch(struct client *c, uint64_t after, struct intent **out, char *err,
		 size_t errlen)
{
	char path[512];
	struct client_buf b = { 0 };
	long st;
	int rc;

	snprintf(path, sizeof(path), "/v1/agents/%s/intent?after=%llu", c->site,
		 (unsigned long long)after);
	st = client_http(c, path, NULL, c->poll_timeout + 15, &b, err, errlen);
	if (st < 0)
		rc = (int)st;
	else if (st == 204)
		rc = 1;
	else if (st == 200)
		rc = client_decode(c, after, &b, out, err, errlen);
	else {
		snprintf(err, errlen, "HTTP %ld", st);
		rc = -EIO;
	}
	free(b.data);
	return rc;
}

int client_post_status(struct client *c, const json_t *status, char *err, size_t errlen)
{
	char path[512];
	char *body = json_dumps(status, JSON_COMPACT);
	struct client_buf b = { 0 };
	long st;

	if (!body)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/v1/agents/%s/status", c->site);
	st = client_http(c, path, body, 10, &b, err, errlen);
	free(body);
	free(b.data);
	if (st > 0 && (st < 200 || st > 299)) {
		snprintf(err, errlen, "HTTP %ld", st);
		return -EIO;
	}
	return st < 0 ? (int)st : 0;
}

/* Sleeps up to secs, returning early when the client stops. */
static void client_sleep(struct client *c, unsigned int secs)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += secs;
	pthread_mutex_lock(&c->mu);
	while (!atomic_load(&c->stop) &&
	       pthread_cond_timedwait(&c->cv, &c->mu, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&c->mu);
}

static void *client_poll_main(void *arg)
{
	struct client *c = arg;
	unsigned int backoff = 1;
	char err[256];

	while (!atomic_load(&c->stop)) {
		struct intent *in = NULL;
		int rc = client_fetch(c, c->after, &in, err, sizeof(err));

		if (rc < 0) {
			if (!atomic_load(&c->stop))
				log_warn("site %s: controller: %s; retrying in %us", c->site, err,
					 backoff);
			client_sleep(c, backoff);
			backoff = backoff * 2 > CLIENT_BACKOFF_MAX ? CLIENT_BACKOFF_MAX : backoff * 2;
			continue;
		}
		backoff = 1;
		if (rc == 1)
			continue;
		c->after = in->revision;
		pthread_mutex_lock(&c->mu);
		intent_free(c->pending);
		c->pending = in;
		pthread_mutex_unlock(&c->mu);
		if (write(c->pipe[1], "i", 1) < 0 && errno != EAGAIN)
			log_err("site %s: cannot wake the main loop: %s", c->site, strerror(errno));
	}
	return NULL;
}

static void *client_status_main(void *arg)
{
	struct client *c = arg;
	char err[256];

	pthread_mutex_lock(&c->mu);
	while (!atomic_load(&c->stop)) {
		json_t *st = c->status;

		if (!st) {
			pthread_cond_wait(&c->cv, &c->mu);
			continue;
		}
		c->status = NULL;
		pthread_mutex_unlock(&c->mu);
		if (client_post_status(c, st, err, sizeof(err)) && !atomic_load(&c->stop))
			log_warn("site %s: posting status: %s", c->site, err);
		json_decref(st);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int client_start(struct client *c, uint64_t after)
{
	int rc;

	c->after = after;
	rc = pthread_create(&c->poll_th, NULL, client_poll_main, c);
	if (rc)
		return -rc;
	rc = pthread_create(&c->status_th, NULL, client_status_main, c);
	if (rc) {
		atomic_store(&c->stop, true);
		pthread_join(c->poll_th, NULL);
		return -rc;
	}
	c->started = true;
	return 0;
}

int client_fd(const struct client *c)
{
	return c->pipe[0];
}

struct intent *client_take(struct client *c)
{
	struct intent *in;
	char buf[64];

	while (read(c->pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&c->mu);
	in = c->pending;
	c->pending = NULL;
	pthread_mutex_unlock(&c->mu);
	return in;
}

void client_set_status(struct client *c, const json_t *status)
{
	json_t *copy = json_deep_copy(status);

	if (!copy)
		return;
	pthread_mutex_lock(&c->mu);
	json_decref(c->status);
	c->status = copy;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}
