#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdint.h>
#include <time.h>
#include <microhttpd.h>
#include <gnutls/gnutls.h>

#include "http.h"
#include "http_conn.h"
#include "log.h"

/* Beyond this many query parameters a request is refused: no route takes more than
 * four, and libmicrohttpd stores each in the connection's small memory pool. */
#define HTTP_MAX_QUERY 32
#define HTTP_STR_(x) #x
#define HTTP_STR(x) HTTP_STR_(x)
/* A body must keep coming at this rate once the client timeout has passed. */
#define HTTP_BODY_MIN_RATE (64u << 10)

/* TLS 1.2 and 1.3 only, forward-secret key exchange and AEAD ciphers only, our order
 * first (what strongSwan's and iked's maintainers would ship today). */
#define HTTP_TLS_PRIORITIES \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:" \
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:" \
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-FFDHE3072:" \
	"%SERVER_PRECEDENCE"

struct http_server {
	struct MHD_Daemon *mhd;
	struct http_conns *conns;
	http_handler head, fn;
	void (*observe)(const struct http_request *req, unsigned status, double seconds);
	void *ctx;
	size_t max_body, unauth_body;
	unsigned client_timeout;
	char *cert, *key;
	char *client_ca;	/* PEM: ask clients for certificates it issued (mTLS) */
};

struct http_request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const char *method, *path;
	const char *refused;		/* why the raw request target is refused (400) */
	bool headers_done;
	char *body;
	size_t len, cap, limit;
	bool too_large;
	bool suspend;
	struct timespec start, body_start;
	void *user;
	void (*user_free)(void *);
	unsigned tag;
};

int http_peer_cert(const struct http_request *req, gnutls_x509_crt_t *out)
{
	const union MHD_ConnectionInfo *ci;
	const gnutls_datum_t *list;
	unsigned n = 0, status = 0;
	int r = -ENOENT;

	*out = NULL;
	if (!req->srv->client_ca)
		return -ENOENT;
	ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	list = ci && ci->tls_session ? gnutls_certificate_get_peers(ci->tls_session, &n) : NULL;
	if (!list || !n)
		return -ENOENT;
	/* Chain to the trust list, signatures, and dates (an expired one fails here). */
	if (gnutls_certificate_verify_peers2(ci->tls_session, &status) < 0 || status)
		return -EACCES;
	if (gnutls_x509_crt_init(out) < 0)
		return -ENOMEM;
	r = gnutls_x509_crt_import(*out, &list[0], GNUTLS_X509_FMT_DER) < 0 ? -EACCES : 0;
	if (r < 0) {
		gnutls_x509_crt_deinit(*out);
		*out = NULL;
	}
	return r;
}

void http_suspend(struct http_request *req)
{
	req->suspend = true;
}

void http_resume(struct http_request *req)
{
	MHD_resume_connection(req->conn);
}

void http_set_user(struct http_request *req, void *data, void (*free_fn)(void *))
{
	req->user = data;
	req->user_free = free_fn;
}

void *http_user(const struct http_request *req)
{
	return req->user;
}

void http_set_tag(struct http_request *req, unsigned tag)
{
	req->tag = tag;
}

unsigned http_tag(const struct http_request *req)
{
	return req->tag;
}

const char *http_method(const struct http_request *req)
{
	return req->method;
}

const char *http_path(const struct http_request *req)
{
	return req->path;
}

const char *http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_body(const struct http_request *req, size_t *len)
{
	*len = req->len;
	return req->body ? req->body : "";
}

bool http_body_too_large(const struct http_request *req)
{
	return req->too_large;
}

const char *http_refused(const struct http_request *req)
{
	return req->refused;
}

void http_trust(struct http_request *req)
{
	req->limit = req->srv->max_body;
}

size_t http_body_limit(const struct http_request *req)
{
	return req->limit;
}

bool http_peer_closed(const struct http_request *req)
{
	return http_conns_peer_closed(req->conn);
}

/* Checks the request target as the client sent it, before libmicrohttpd decodes it:
 * once decoded, "/v1/sites%2Fhub1" is "/v1/sites/hub1" and "%00" ends the string.
 * NULL when fine, else the reason. */
const char *http_target_check(const char *raw)
{
	const char *query = strchr(raw, '?');
	size_t path_len = query ? (size_t)(query - raw) : strlen(raw);
	unsigned params = 0;

	for (const char *p = raw; (p = strchr(p, '%')); p++) {
		if (p[1] == '0' && p[2] == '0')
			return "the request target may not contain an encoded NUL (%00)";
		if ((size_t)(p - raw) < path_len && p[1] == '2' && (p[2] == 'f' || p[2] == 'F'))
			return "the path may not contain an encoded '/' (%2F): names have no '/'";
	}
	/* Counted as libmicrohttpd stores them: every '&' ends one, empty ones ("a&&b")
	 * included, and what follows the last '&' is one more unless it is empty. Empty
	 * ones left uncounted let "?&&&...&" exhaust the pool all the same. */
	for (const char *p = query; p && *p; p = strchr(p + 1, '&'))
		if (p[1])
			params++;
	if (params > HTTP_MAX_QUERY)
		return "too many query parameters (at most " HTTP_STR(HTTP_MAX_QUERY) ")";
	return NULL;
}

static int http_append(struct http_request *req, const char *data, size_t n)
{
	if (req->too_large || n > req->limit - req->len) {
		req->too_large = true;	/* keep reading, so the client sees our 413 */
		return 0;
	}
	if (req->len + n + 1 > req->cap) {
		size_t cap = req->cap ? req->cap : 4096;
		char *b;

		while (cap < req->len + n + 1)
			cap *= 2;
		b = realloc(req->body, cap);
		if (!b)
			return -ENOMEM;
		req->body = b;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, n);
	req->len += n;
	req->body[req->len] = '\0';
	return 0;
}

/* A page the browser renders: only what the policy allows runs, it is never framed,
 * and no type is guessed. */
static void http_page_headers(struct MHD_Response *resp, const char *csp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result http_send(struct http_request *req, struct http_reply *rep)
{
	struct MHD_Response *resp;
	char *text = NULL;
	size_t len = 0;
	enum MHD_Result ret;

	if (rep->raw) {
		text = rep->raw;
		rep->raw = NULL;
		len = rep->raw_len ? rep->raw_len : strlen(text);
	} else if (rep->body) {
		text = json_dumps(rep->body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		if (!text)
			return MHD_NO;
		len = strlen(text);
		text[len++] = '\n';	/* json_dumps' NUL becomes the newline curl users expect */
	}
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	if (rep->body || len)
		MHD_add_response_header(resp, "Content-Type", rep->type ? rep->type : "application/json");
	if (rep->csp)
		http_page_headers(resp, rep->csp);
	if (rep->etag[0])
		MHD_add_response_header(resp, "ETag", rep->etag);
	if (rep->location[0])
		MHD_add_response_header(resp, "Location", rep->location);
	if (rep->allow[0])
		MHD_add_response_header(resp, "Allow", rep->allow);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	ret = MHD_queue_response(req->conn, rep->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void http_log(const struct http_request *req, unsigned status)
{
	struct timespec now;
	double took;

	clock_gettime(CLOCK_MONOTONIC, &now);
	took = (double)(now.tv_sec - req->start.tv_sec) + (now.tv_nsec - req->start.tv_nsec) / 1e9;
	log_debug("%s %s -> %u (%.1f ms)", req->method, req->path, status, took * 1e3);
	if (req->srv->observe)
		req->srv->observe(req, status, took);
}

/* Sends the reply and frees it. */
static enum MHD_Result http_answer(struct http_request *req, struct http_reply *rep)
{
	enum MHD_Result ret;

	http_log(req, rep->status);
	ret = http_send(req, rep);
	json_decref(rep->body);
	free(rep->raw);
	return ret;
}

/* The body so far took longer than the client timeout plus a second per
 * HTTP_BODY_MIN_RATE bytes: a client trickling it is cut off. */
static bool http_body_late(const struct http_request *req)
{
	struct timespec now;
	double took, allowed;

	clock_gettime(CLOCK_MONOTONIC, &now);
	took = (double)(now.tv_sec - req->body_start.tv_sec) +
	       (now.tv_nsec - req->body_start.tv_nsec) / 1e9;
	allowed = req->srv->client_timeout + (double)req->len / HTTP_BODY_MIN_RATE;
	return took > allowed;
}

/* Headers complete: the head handler may answer from them alone (routing,
 * authentication, a refused target), and the body is then never read. */
static enum MHD_Result http_headers(struct http_request *req, const char *url,
				    const char *method)
{
	struct http_server *srv = req->srv;
	struct http_reply rep = { .status = 0 };

	req->headers_done = true;
	req->method = method;
	req->path = url;
	req->limit = srv->unauth_body;
	clock_gettime(CLOCK_MONOTONIC, &req->body_start);
	http_conns_headers_done(req->conn);
	srv->head(srv->ctx, req, &rep);
	return rep.status ? http_answer(req, &rep) : MHD_YES;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;
	struct http_reply rep = { .status = 500 };

	(void)version;
	if (!req)
		return MHD_NO;		/* no request context: out of memory in http_target */
	if (!req->headers_done)
		return http_headers(req, url, method);
	if (*upload_size) {
		if (http_body_late(req) || http_append(req, upload, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	srv->fn(srv->ctx, req, &rep);
	if (req->suspend) {
		req->suspend = false;
		json_decref(rep.body);
		free(rep.raw);
		MHD_suspend_connection(conn);
		return MHD_YES;
	}
	return http_answer(req, &rep);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first sight of a request, with its target not yet
 * decoded; what it returns is the request's context from then on. */
static void *http_target(void *cls, const char *uri_const, struct MHD_Connection *conn)
{
	struct http_request *req = calloc(1, sizeof(*req));
	char *uri = (char *)uri_const;

	if (!req)
		return NULL;
	req->srv = cls;
	req->conn = conn;
	req->refused = http_target_check(uri);
	/* libmicrohttpd parses the query next, into its fixed per-connection pool; too
	 * many parameters exhaust it and 0.9.75 then neither answers nor closes. The
	 * target is in its (writable) read buffer: a refused request's query is cut.
	 * Not covered: a raw NUL in the target before the '?' hides the query from us
	 * (uri is a C string) while 0.9.75 still parses it: such a request gets no
	 * answer (the controller closed it at once; in fuzz_http the header deadline of
	 * http_conn.c shut it down). */
	if (req->refused) {
		char *q = strchr(uri, '?');

		if (q)
			q[1] = '\0';
	}
	clock_gettime(CLOCK_MONOTONIC, &req->start);
	return req;
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *con_cls;

	(void)cls;
	(void)toe;
	http_conns_request_done(conn);
	if (!req)
		return;
	if (req->user_free)
		req->user_free(req->user);
	free(req->body);
	free(req);
	*con_cls = NULL;
}

/* "host:port", "[v6]:port" or ":port" (all addresses) into a socket address. */
static int http_parse_listen(const char *listen, struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	char host[256];
	const char *port, *colon = strrchr(listen, ':');
	size_t hlen;
	int rc;

	if (!colon || !colon[1])
		return -EINVAL;
	port = colon + 1;
	hlen = (size_t)(colon - listen);
	if (hlen >= 2 && listen[0] == '[' && listen[hlen - 1] == ']') {
		listen++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	rc = getaddrinfo(hlen ? host : NULL, port, &hints, &ai);
	if (rc != 0 || !ai)
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static int http_read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	int r = 0;

	if (!f)
		return -errno;
	if (getdelim(&buf, &len, '\0', f) < 0)
		r = ferror(f) ? -EIO : -ENODATA;
	fclose(f);
	if (r < 0) {
		free(buf);
		return r;
	}
	*out = buf;
	return 0;
}

/* The daemon's options; TLS ones only with TLS, the address only with a listener. */
static void http_options(const struct http_config *cfg, struct http_server *srv,
			 const struct sockaddr_storage *ss, struct MHD_OptionItem *o)
{
	size_t n = 0;

	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
		(intptr_t)http_completed, srv };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)http_target, srv };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
		(intptr_t)http_conns_notify, srv->conns };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		cfg->max_per_client, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, cfg->client_timeout, NULL };
	o[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL };
	if (cfg->listen)
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, (void *)ss };
	if (srv->cert) {
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
			(void *)HTTP_TLS_PRIORITIES };
	}
	/* With a trust list, libmicrohttpd asks every client for a certificate (asks, does
	 * not require: token clients go on without one). */
	if (srv->cert && srv->client_ca)
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->client_ca };
	o[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
}

/* Where to listen and with what TLS material, into flags and srv. */
static int http_setup(const struct http_config *cfg, struct http_server *srv,
		      struct sockaddr_storage *ss, unsigned *flags)
{
	int r;

	if (!cfg->listen) {
		*flags |= MHD_USE_NO_LISTEN_SOCKET;
		return 0;
	}
	if (http_parse_listen(cfg->listen, ss) < 0) {
		log_err("--listen %s: expected HOST:PORT, [IPv6]:PORT or :PORT", cfg->listen);
		return -EINVAL;
	}
	if (ss->ss_family == AF_INET6)
		*flags |= MHD_USE_IPv6;
	if (!cfg->tls_cert)
		return 0;
	if ((r = http_read_file(cfg->tls_cert, &srv->cert)) < 0 ||
	    (r = http_read_file(cfg->tls_key, &srv->key)) < 0) {
		log_err("cannot read TLS certificate or key: %s", strerror(-r));
		return r;
	}
	if (cfg->tls_client_ca && (r = http_read_file(cfg->tls_client_ca, &srv->client_ca)) < 0) {
		log_err("cannot read --tls-client-ca %s: %s", cfg->tls_client_ca, strerror(-r));
		return r;
	}
	*flags |= MHD_USE_TLS;
	return 0;
}

int http_start(const struct http_config *cfg, http_handler head, http_handler fn, void *ctx,
	       struct http_server **out)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage ss = { 0 };
	struct MHD_OptionItem opts[16];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	int r;

	if (!srv)
		return -ENOMEM;
	srv->head = head;
	srv->fn = fn;
	srv->ctx = ctx;
	srv->observe = cfg->observe;
	srv->max_body = cfg->max_body;
	srv->unauth_body = cfg->unauth_body < cfg->max_body ? cfg->unauth_body : cfg->max_body;
	srv->client_timeout = cfg->client_timeout;
	r = http_setup(cfg, srv, &ss, &flags);
	if (r == 0)
		r = http_conns_new(cfg->client_timeout, &srv->conns);
	if (r < 0)
		goto out;
	http_options(cfg, srv, &ss, opts);
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_access, srv,
				    MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!srv->mhd) {
		log_err("cannot listen on %s (in use, or TLS material invalid)",
			cfg->listen ? cfg->listen : "(no socket)");
		r = -EADDRINUSE;
	}
out:
	if (r < 0) {
		http_free(srv);
		return r;
	}
	*out = srv;
	return 0;
}

int http_adopt(struct http_server *srv, int fd, const struct sockaddr *addr, socklen_t len)
{
	return MHD_add_connection(srv->mhd, fd, addr, len) == MHD_YES ? 0 : -errno;
}

unsigned http_connections(const struct http_server *srv)
{
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return di ? di->num_connections : 0;
}

void http_free(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	http_conns_free(srv->conns);
	free(srv->cert);
	free(srv->key);
	free(srv->client_ca);
	free(srv);
}
