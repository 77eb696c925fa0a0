/* libFuzzer target for the whole request path in process: the input becomes one HTTP
 * request (method, target, headers, body, and which token it carries), written into a
 * socket pair that the real server (libmicrohttpd, http.c, the router and every
 * handler, a real SQLite store in memory) serves. Besides not crashing: the answer
 * comes, it is never a 5xx, and a JSON answer parses.
 *
 * Input: byte 0 picks the token (none, admin, operator, viewer, agent of s1, a
 * made-up one); then lines: the method, the target, header lines up to an empty
 * line, and the rest is the body. The framing (Host, Content-Length, Connection:
 * close) is the harness's, so that every request is complete and answered. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
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

static struct api fuzz_api;
static struct ca *fuzz_ca;		/* made once, kept across store resets */
static struct http_server *fuzz_srv;
static char *fuzz_tokens[6];

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
	if (http_start(&hc, api_head, api_handle, &fuzz_api, &fuzz_srv) < 0)
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

/* Everything the server sends until it closes; aborts when no answer comes. */
static void fuzz_exchange(int fd, const struct fuzz_buf *req, struct fuzz_buf *resp)
{
	size_t off = 0;
	char buf[65536];

	while (off < req->len) {
		ssize_t w = send(fd, req->p + off, req->len - off, MSG_NOSIGNAL);

		if (w <= 0)
			break;		/* the server answered early and closed */
		off += (size_t)w;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, FUZZ_ANSWER_MS) != 1) {
			fprintf(stderr, "no answer within %d ms to:\n%s\n", FUZZ_ANSWER_MS, req->p);
			abort();
		}
		r = recv(fd, buf, sizeof(buf), 0);
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
	if (sscanf(resp->p, "HTTP/1.%*c %u", &status) != 1 || status >= 500) {
		fprintf(stderr, "answer %u to:\n%s\n---\n%s\n", status, req->p, resp->p);
		abort();
	}
	if (body && strcasestr(resp->p, "\r\nContent-Type: application/json") && body[4]) {
		json_error_t err;
		json_t *j = json_loads(body + 4, 0, &err);

		if (!j) {
			fprintf(stderr, "bad JSON (%s) to:\n%s\n---\n%s\n", err.text, req->p, resp->p);
			abort();
		}
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
	fuzz_request(data, size, &req);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if (http_adopt(fuzz_srv, sv[1], (struct sockaddr *)&peer, sizeof(peer)) < 0) {
		fprintf(stderr, "http_adopt: %s\n", strerror(errno));
		abort();
	}
	fuzz_exchange(sv[0], &req, &resp);
	fuzz_check(&req, &resp);
	close(sv[0]);
	free(req.p);
	free(resp.p);
	return 0;
}
