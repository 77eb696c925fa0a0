/* libFuzzer target for the whole request path in process: the input becomes one HTTP
 * request (method, target, headers, body, and which token it carries), written into a
 * socket pair that the real server (libmicrohttpd, http.c, the router and every
 * handler, a real SQLite store in memory) serves. Besides not crashing: the answer
 * comes, it is never a 5xx, and a JSON answer parses.
 *
 * Input: byte 0 picks the token (none, admin, operator, viewer, agent of s1, a
 * made-up one); then lines: the method, the target, header lines up to an empty
 * line, and the rest is the body. The framing (Host, Content-Length, Connection:
 * close) is the harness's, so that every request is complete and answered.
 *
 * The server keeps its state across inputs (the store until the next reset, and
 * libmicrohttpd's), so a failure may need the inputs before it: on one, every input
 * since the last reset is written to $TMPDIR/fuzz-http-history-<pid>/ (or
 * $FUZZ_HTTP_HISTORY), numbered in order; `fuzz_http DIR/0*` replays them in one
 * process. A stall also tells whether a handler was running and since when, how far
 * the request got, how many connections the server holds, and with $FUZZ_HTTP_GDB
 * set, every thread's stack. A connection the server keeps after its answer fails
 * the run too. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "auth.h"
#include "http.h"
#include "log.h"
#include "longpoll.h"
#include "store.h"
#include "ca.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ANSWER_MS 10000
#define FUZZ_RESET_EVERY 1000
#define FUZZ_SLOW_MS 1000

static struct api fuzz_api;
static struct ca *fuzz_ca;		/* made once, kept across store resets */
static struct http_server *fuzz_srv;
static char *fuzz_tokens[6];
/* Every input since the last reset, for the history written on a failure. */
static struct fuzz_input {
	uint8_t *data;
	size_t size;
} fuzz_history[FUZZ_RESET_EVERY];
static size_t fuzz_nhistory;
/* Since when (CLOCK_MONOTONIC ms) the server's thread runs a handler, 0 when it does
 * not: a stall with a handler running is a slow handler, not a lost request. */
static atomic_llong fuzz_busy_since;
/* How far the current input's request got: its headers seen by the head handler, the
 * handler's runs and the status of the last (0: it parked the request). */
static atomic_uint fuzz_heads, fuzz_handles, fuzz_last_status;
/* When (CLOCK_MONOTONIC ms) the socket was handed over, and the head handler and the
 * handler last started: where a slow answer spent its time. */
static atomic_llong fuzz_adopted_at, fuzz_head_at, fuzz_handle_at;

struct fuzz_buf {
	char *p;
	size_t len, cap;
};

static void fuzz_put(struct fuzz_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void fuzz_puts(struct fuzz_buf *b, const char *s)
{
	fuzz_put(b, s, strlen(s));
}

static void fuzz_issue(int i, const char *name, enum auth_role role, const char *site)
{
	long long id;

	if (auth_issue(store_db(fuzz_api.store), name, role, site, &fuzz_tokens[i], &id) < 0)
		abort();
}

static void fuzz_notify(void *ctx, const json_t *sites)
{
	longpoll_notify(ctx, sites);
}

static long long fuzz_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fuzz_head(void *ctx, struct http_request *req, struct http_reply *rep)
{
	atomic_store(&fuzz_busy_since, fuzz_now_ms());
	atomic_store(&fuzz_head_at, atomic_load(&fuzz_busy_since));
	api_head(ctx, req, rep);
	atomic_fetch_add(&fuzz_heads, 1);
	atomic_store(&fuzz_last_status, rep->status);
	atomic_store(&fuzz_busy_since, 0);
}

static void fuzz_handle(void *ctx, struct http_request *req, struct http_reply *rep)
{
	atomic_store(&fuzz_busy_since, fuzz_now_ms());
	atomic_store(&fuzz_handle_at, atomic_load(&fuzz_busy_since));
	api_handle(ctx, req, rep);
	atomic_fetch_add(&fuzz_handles, 1);
	atomic_store(&fuzz_last_status, rep->status);
	atomic_store(&fuzz_busy_since, 0);
}

/* The CSR, CA and revocation routes need a CA: one in a private temporary directory
 * (its files removed at once, the CA stays in memory). */
static void fuzz_make_ca(void)
{
	char dir[] = "/tmp/gresec-fuzz-ca-XXXXXX", cert[64], key[64], err[256];

	if (!mkdtemp(dir))
		abort();
	snprintf(cert, sizeof(cert), "%s/ca.pem", dir);
	snprintf(key, sizeof(key), "%s/ca.key", dir);
	if (ca_open(cert, key, 1, &fuzz_ca, err, sizeof(err)) < 0)
		abort();
	unlink(cert);
	unlink(key);
	rmdir(dir);
}

/* A fresh store, tokens and server: state piles up as inputs create objects (a full
 * mesh over thousands of sites compiles slowly), so it is started anew now and then. */
static void fuzz_setup(void)
{
	struct http_config hc = { .listen = NULL, .max_body = 1 << 20, .unauth_body = 4096,
				  .max_conns = 64, .max_per_client = 64, .client_timeout = 5 };

	fuzz_api.poll_timeout_ms = 1;	/* a held poll answers at the next timer tick */
	fuzz_api.stale_after = 90;
	if (store_open(":memory:", &fuzz_api.store) < 0 || store_refresh(fuzz_api.store) < 0 ||
	    longpoll_new(&fuzz_api.poll) < 0)
		abort();
	fuzz_api.ca = fuzz_ca;
	store_set_ca(fuzz_api.store, fuzz_ca);
	store_set_notify(fuzz_api.store, fuzz_notify, fuzz_api.poll);
	store_set_prefetch(fuzz_api.store, longpoll_waiting, fuzz_api.poll);
	fuzz_issue(1, "admin", AUTH_ADMIN, NULL);
	fuzz_issue(2, "operator", AUTH_OPERATOR, NULL);
	fuzz_issue(3, "viewer", AUTH_VIEWER, NULL);
	fuzz_issue(4, "agent", AUTH_AGENT, "s1");
	fuzz_tokens[5] = strdup("gst_0000000000000000000000000000000000000000000000000000000000000000");
	if (http_start(&hc, fuzz_head, fuzz_handle, &fuzz_api, &fuzz_srv) < 0)
		abort();
}

static void fuzz_teardown(void)
{
	longpoll_shutdown(fuzz_api.poll);
	http_free(fuzz_srv);
	longpoll_free(fuzz_api.poll);
	store_free(fuzz_api.store);
	for (int i = 0; i < 6; i++) {
		free(fuzz_tokens[i]);
		fuzz_tokens[i] = NULL;
	}
	for (size_t i = 0; i < fuzz_nhistory; i++)
		free(fuzz_history[i].data);
	fuzz_nhistory = 0;
}

static void fuzz_remember(const uint8_t *data, size_t size)
{
	struct fuzz_input *in = &fuzz_history[fuzz_nhistory++];

	in->data = malloc(size);
	if (!in->data)
		abort();
	memcpy(in->data, data, size);
	in->size = size;
}

/* The inputs since the last reset, the failing one last, one file each. */
static void fuzz_write_history(void)
{
	char dir[256], path[300];
	const char *env = getenv("FUZZ_HTTP_HISTORY"), *tmp = getenv("TMPDIR");

	/* Not the working directory: make fuzz-smoke runs in the tree. */
	if (env)
		snprintf(dir, sizeof(dir), "%s", env);
	else
		snprintf(dir, sizeof(dir), "%s/fuzz-http-history-%d", tmp ? tmp : "/tmp",
			 (int)getpid());
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "history: mkdir %s: %s\n", dir, strerror(errno));
		return;
	}
	for (size_t i = 0; i < fuzz_nhistory; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%05zu", dir, i);
		f = fopen(path, "we");
		if (!f || fwrite(fuzz_history[i].data, 1, fuzz_history[i].size, f) !=
		    fuzz_history[i].size)
			fprintf(stderr, "history: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
	}
	fprintf(stderr, "the %zu inputs since the server started are in %s/; replay them in "
		"order with: fuzz_http %s/*\n", fuzz_nhistory, dir, dir);
}

/* ms from the hand-over to t, or -1 when t did not happen for this request. */
static long long fuzz_since_adopt(long long t)
{
	long long a = atomic_load(&fuzz_adopted_at);

	return t >= a ? t - a : -1;
}

static void fuzz_timeline(void)
{
	fprintf(stderr, "since the socket was handed over: head handler at %lld ms, handler at "
		"%lld ms (-1: not run), now %lld ms\n", fuzz_since_adopt(atomic_load(&fuzz_head_at)),
		fuzz_since_adopt(atomic_load(&fuzz_handle_at)), fuzz_since_adopt(fuzz_now_ms()));
}

/* The server's side of a stall. */
static void fuzz_diagnose(void)
{
	long long busy = atomic_load(&fuzz_busy_since);
	char cmd[128];

	if (busy)
		fprintf(stderr, "a handler has been running for %lld ms: slow, not lost\n",
			fuzz_now_ms() - busy);
	else
		fprintf(stderr, "no handler is running: the server is idle or in libmicrohttpd\n");
	fprintf(stderr, "this request: head handler ran %u time(s), handler %u time(s), last "
		"status %u (0 after the handler: parked)\n", atomic_load(&fuzz_heads),
		atomic_load(&fuzz_handles), atomic_load(&fuzz_last_status));
	fuzz_timeline();
	fprintf(stderr, "the server holds %u connection(s); %u long-poll(s) parked\n",
		http_connections(fuzz_srv), longpoll_count(fuzz_api.poll));
	if (getenv("FUZZ_HTTP_GDB")) {
		snprintf(cmd, sizeof(cmd), "gdb -p %d -batch -ex 'thread apply all bt' >&2",
			 (int)getpid());
		if (system(cmd) != 0)
			fprintf(stderr, "gdb failed\n");
	}
}

/* Prints what went wrong with the request (its bytes as they are: a body may hold NULs),
 * writes the history, aborts. */
static void fuzz_fail(const struct fuzz_buf *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void fuzz_fail(const struct fuzz_buf *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (req && req->p) {
		fprintf(stderr, " to:\n");
		fwrite(req->p, 1, req->len, stderr);
		fprintf(stderr, "\n");
	}
	fuzz_write_history();
	abort();
}

/* A connection the server keeps after it answered is stuck: it holds a slot of the
 * connection limit for good. The previous input's may take a moment to be cleaned up. */
static void fuzz_wait_idle(void)
{
	long long until = fuzz_now_ms() + FUZZ_ANSWER_MS;

	while (http_connections(fuzz_srv) > 0) {
		if (fuzz_now_ms() > until) {
			fuzz_diagnose();
			fuzz_fail(NULL, "a connection of an earlier input is still open after %d ms "
				  "(the last input is the one before this)\n", FUZZ_ANSWER_MS);
		}
		usleep(100);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_http", LOG_LVL_ERR);
	fuzz_make_ca();
	fuzz_setup();
	return 0;
}

/* One line of the input (without CR or LF), or NULL at the end. */
static const char *fuzz_line(const char **p, const char *end, size_t *len)
{
	const char *s = *p, *nl;

	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	*len = (size_t)((nl ? nl : end) - s);
	*p = nl ? nl + 1 : end;
	if (*len && s[*len - 1] == '\r')
		(*len)--;
	return s;
}

/* The harness frames the request: the input's own framing headers are dropped. */
static int fuzz_framing(const char *h, size_t n)
{
	static const char *const names[] = { "content-length:", "transfer-encoding:",
		"connection:", "host:", "expect:" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n >= strlen(names[i]) && !strncasecmp(h, names[i], strlen(names[i])))
			return 1;
	return memchr(h, '\r', n) != NULL;
}

static void fuzz_request(const uint8_t *data, size_t size, struct fuzz_buf *b)
{
	const char *p = (const char *)data + 1, *end = (const char *)data + size, *l;
	const char *tok = fuzz_tokens[data[0] % 6];
	size_t n;
	char len[64];

	l = fuzz_line(&p, end, &n);
	if (l && n)
		fuzz_put(b, l, n);
	else
		fuzz_puts(b, "GET");
	fuzz_puts(b, " ");
	l = fuzz_line(&p, end, &n);
	if (l && n)
		fuzz_put(b, l, n);
	else
		fuzz_puts(b, "/");
	fuzz_puts(b, " HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n");
	if (tok) {
		fuzz_puts(b, "Authorization: Bearer ");
		fuzz_puts(b, tok);
		fuzz_puts(b, "\r\n");
	}
	while ((l = fuzz_line(&p, end, &n)) && n) {
		if (fuzz_framing(l, n))
			continue;
		fuzz_put(b, l, n);
		fuzz_puts(b, "\r\n");
	}
	snprintf(len, sizeof(len), "Content-Length: %zu\r\n\r\n", (size_t)(end - p));
	fuzz_puts(b, len);
	fuzz_put(b, p, (size_t)(end - p));
}

/* Everything the server sends until it closes; aborts when no answer comes.
 * libFuzzer's -timeout arms a periodic SIGALRM: poll, send and recv return EINTR now
 * and then, which is neither a stall, a closed connection nor the end of the answer.
 * (Taken for a stall, it made "no answer within 10 s" that no input reproduced.) */
static void fuzz_exchange(int fd, const struct fuzz_buf *req, struct fuzz_buf *resp)
{
	long long until;
	size_t off = 0;
	char buf[65536];

	while (off < req->len) {
		ssize_t w = send(fd, req->p + off, req->len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;		/* the server answered early and closed */
		off += (size_t)w;
	}
	until = fuzz_now_ms() + FUZZ_ANSWER_MS;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		long long left = until - fuzz_now_ms();
		int n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		ssize_t r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1) {
			fuzz_diagnose();
			fuzz_fail(req, "no answer within %d ms", FUZZ_ANSWER_MS);
		}
		r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		fuzz_put(resp, buf, (size_t)r);
	}
}

static void fuzz_check(const struct fuzz_buf *req, const struct fuzz_buf *resp)
{
	unsigned status = 0;
	const char *body = resp->p ? strstr(resp->p, "\r\n\r\n") : NULL;

	if (!resp->p)
		return;		/* closed without an answer: libmicrohttpd refusing garbage */
	if (sscanf(resp->p, "HTTP/1.%*c %u", &status) != 1 || status >= 500)
		fuzz_fail(req, "answer %u (%s)", status, resp->p);
	if (body && strcasestr(resp->p, "\r\nContent-Type: application/json") && body[4]) {
		json_error_t err;
		json_t *j = json_loads(body + 4, 0, &err);

		if (!j)
			fuzz_fail(req, "bad JSON (%s) in:\n%s\n---\nanswering", err.text, resp->p);
		json_decref(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_port = htons(40000),
				    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static unsigned runs;
	struct fuzz_buf req = { 0 }, resp = { 0 };
	int sv[2];

	if (size < 1)
		return 0;
	if (++runs % FUZZ_RESET_EVERY == 0) {
		fuzz_teardown();
		fuzz_setup();
	}
	fuzz_wait_idle();
	fuzz_remember(data, size);
	atomic_store(&fuzz_heads, 0);
	atomic_store(&fuzz_handles, 0);
	atomic_store(&fuzz_last_status, 0);
	atomic_store(&fuzz_adopted_at, fuzz_now_ms());
	fuzz_request(data, size, &req);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (http_adopt(fuzz_srv, sv[1], (struct sockaddr *)&peer, sizeof(peer)) < 0)
		fuzz_fail(&req, "http_adopt: %s", strerror(errno));
	fuzz_exchange(sv[0], &req, &resp);
	/* Slow, though in time: worth a line, since a lost wakeup shows first as answers
	 * that come only when a timer happens to run the connection again. */
	if (fuzz_since_adopt(fuzz_now_ms()) > FUZZ_SLOW_MS)
		fuzz_timeline();
	fuzz_check(&req, &resp);
	close(sv[0]);
	free(req.p);
	free(resp.p);
	return 0;
}
