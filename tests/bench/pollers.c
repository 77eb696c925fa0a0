/* Load tool for the intent fan-out benchmark: holds one long-poll per site (as every
 * agent does), commits one change through the API, and measures how long it takes until
 * every held request has its new intent. Also samples the controller's RSS while the
 * requests are held.
 *
 *   pollers URL TOKEN SITES_FILE PID PATCH_PATH PATCH_BODY
 *
 * PATCH_PATH "POST /v1/..." makes the change a POST (a revocation: tests/bench/pki.sh).
 *
 * SITES_FILE holds one site name per line. Prints "key value" lines. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <jansson.h>

struct poller {
	CURL *h;
	char site[128];
	char url[512];
	char *buf;
	size_t len;
	long long rev;
	long status;
	int done;
};

static double pollers_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t pollers_write(char *data, size_t sz, size_t n, void *arg)
{
	struct poller *p = arg;
	char *b = realloc(p->buf, p->len + sz * n + 1);

	if (!b)
		return 0;
	memcpy(b + p->len, data, sz * n);
	p->buf = b;
	p->len += sz * n;
	b[p->len] = '\0';
	return sz * n;
}

static void pollers_setup(struct poller *p, struct curl_slist *hdr, const char *base, int hold)
{
	free(p->buf);
	p->buf = NULL;
	p->len = 0;
	p->done = 0;
	if (hold)
		snprintf(p->url, sizeof(p->url), "%s/v1/agents/%s/intent?after=%lld", base, p->site, p->rev);
	else
		snprintf(p->url, sizeof(p->url), "%s/v1/agents/%s/intent", base, p->site);
	if (!p->h)
		p->h = curl_easy_init();
	curl_easy_setopt(p->h, CURLOPT_URL, p->url);
	curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, pollers_write);
	curl_easy_setopt(p->h, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(p->h, CURLOPT_PRIVATE, p);
	curl_easy_setopt(p->h, CURLOPT_TIMEOUT, 120L);
}

/* Runs the multi handle until `want` transfers finished or `until` passes. */
static int pollers_run(CURLM *m, int want, double until)
{
	int running = 1, finished = 0, left;
	CURLMsg *msg;

	while (finished < want && pollers_now() < until) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left))) {
			struct poller *p;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &p->status);
			p->done = 1;
			curl_multi_remove_handle(m, msg->easy_handle);
			finished++;
		}
		curl_multi_poll(m, NULL, 0, 50, NULL);
	}
	return finished;
}

static long pollers_rss_kb(const char *pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int pollers_patch(const char *base, struct curl_slist *hdr, const char *path,
			 const char *body)
{
	CURL *h = curl_easy_init();
	char url[512];
	long code = 0;
	FILE *devnull = fopen("/dev/null", "w");

	/* "POST /path" for a change that is not a PATCH (a revocation): no body, so
	 * only the first header (the token), not the merge-patch content type. */
	bool post = strncmp(path, "POST ", 5) == 0;
	struct curl_slist auth_only = { hdr->data, NULL };

	snprintf(url, sizeof(url), "%s%s", base, post ? path + 5 : path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, post ? "POST" : "PATCH");
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, post ? &auth_only : hdr);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
	curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	fclose(devnull);
	return code == 200 ? 0 : -1;
}

static int pollers_load(const char *file, struct poller **out)
{
	FILE *f = fopen(file, "r");
	struct poller *ps = NULL;
	char line[128];
	int n = 0;

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		ps = realloc(ps, (n + 1) * sizeof(*ps));
		memset(&ps[n], 0, sizeof(*ps));
		snprintf(ps[n].site, sizeof(ps[n].site), "%s", line);
		n++;
	}
	if (f)
		fclose(f);
	*out = ps;
	return n;
}

/* Fetches every intent once, for its current revision. */
static int pollers_prime(CURLM *m, struct poller *ps, int n, struct curl_slist *hdr,
			 const char *base)
{
	int ok = 0;

	for (int i = 0; i < n; i++) {
		pollers_setup(&ps[i], hdr, base, 0);
		curl_multi_add_handle(m, ps[i].h);
	}
	pollers_run(m, n, pollers_now() + 60);
	for (int i = 0; i < n; i++) {
		json_t *j = ps[i].buf ? json_loads(ps[i].buf, 0, NULL) : NULL;

		ps[i].rev = json_integer_value(json_object_get(j, "revision"));
		ok += ps[i].status == 200 && ps[i].rev > 0;
		json_decref(j);
	}
	return ok;
}

int main(int argc, char **argv)
{
	struct curl_slist *hdr = NULL;
	struct poller *ps = NULL;
	char auth[256];
	double t0, t1;
	int n, got, fresh = 0;
	long rss_before, rss_held;
	CURLM *m;

	if (argc != 7) {
		fprintf(stderr, "usage: pollers URL TOKEN SITES_FILE PID PATCH_PATH PATCH_BODY\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
	hdr = curl_slist_append(hdr, auth);
	hdr = curl_slist_append(hdr, "Content-Type: application/merge-patch+json");
	n = pollers_load(argv[3], &ps);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
	printf("sites %d\nprimed %d\n", n, pollers_prime(m, ps, n, hdr, argv[1]));
	rss_before = pollers_rss_kb(argv[4]);
	for (int i = 0; i < n; i++) {
		pollers_setup(&ps[i], hdr, argv[1], 1);
		curl_multi_add_handle(m, ps[i].h);
	}
	/* Let every request reach the controller and be parked. */
	got = pollers_run(m, n, pollers_now() + 3);
	rss_held = pollers_rss_kb(argv[4]);
	printf("answered_early %d\nrss_idle_kb %ld\nrss_holding_kb %ld\n", got, rss_before, rss_held);
	t0 = pollers_now();
	if (pollers_patch(argv[1], hdr, argv[5], argv[6]) < 0) {
		fprintf(stderr, "pollers: the change was refused\n");
		return 1;
	}
	printf("commit_s %.3f\n", pollers_now() - t0);
	got += pollers_run(m, n - got, t0 + 60);
	t1 = pollers_now();
	for (int i = 0; i < n; i++)
		fresh += ps[i].done && ps[i].status == 200;
	printf("fanout_s %.3f\nreceived %d\nnew_intents %d\nrss_after_kb %ld\n", t1 - t0, got, fresh,
	       pollers_rss_kb(argv[4]));
	for (int i = 0; i < n; i++) {
		curl_easy_cleanup(ps[i].h);
		free(ps[i].buf);
	}
	free(ps);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	curl_global_cleanup();
	return fresh == n ? 0 : 1;
}
