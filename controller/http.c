#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <microhttpd.h>

#include "http.h"
#include "log.h"

struct http_server {
	struct MHD_Daemon *mhd;
	http_handler fn;
	void *ctx;
	size_t max_body;
	char *cert, *key;
};

struct http_request {
	struct MHD_Connection *conn;
	const char *method, *path;
	char *body;
	size_t len, cap;
	bool too_large;
	bool suspend;
	struct timespec start;
	void *user;
	void (*user_free)(void *);
};

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

static int http_append(struct http_server *srv, struct http_request *req, const char *data,
		       size_t n)
{
	if (req->too_large || n > srv->max_body - req->len) {
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

static enum MHD_Result http_send(struct http_request *req, struct http_reply *rep)
{
	struct MHD_Response *resp;
	char *text = NULL;
	size_t len = 0;
	enum MHD_Result ret;

	if (rep->raw) {
		text = rep->raw;
		rep->raw = NULL;
		len = strlen(text);
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
		MHD_add_response_header(resp, "Content-Type", "application/json");
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

	clock_gettime(CLOCK_MONOTONIC, &now);
	log_debug("%s %s -> %u (%.1f ms)", req->method, req->path, status,
		  (now.tv_sec - req->start.tv_sec) * 1e3 + (now.tv_nsec - req->start.tv_nsec) / 1e6);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
				   const char *method, const char *version,
				   const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct http_request *req = *con_cls;
	struct http_reply rep = { .status = 500 };
	enum MHD_Result ret;

	(void)version;
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->conn = conn;
		req->method = method;
		req->path = url;
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_size) {
		if (http_append(srv, req, upload, *upload_size) < 0)
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
	http_log(req, rep.status);
	ret = http_send(req, &rep);
	json_decref(rep.body);
	free(rep.raw);
	return ret;
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
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

int http_start(const struct http_config *cfg, http_handler fn, void *ctx,
	       struct http_server **out)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage ss = { 0 };
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	int r;

	if (!srv)
		return -ENOMEM;
	srv->fn = fn;
	srv->ctx = ctx;
	srv->max_body = cfg->max_body;
	r = http_parse_listen(cfg->listen, &ss);
	if (r < 0) {
		log_err("--listen %s: expected HOST:PORT, [IPv6]:PORT or :PORT", cfg->listen);
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (cfg->tls_cert) {
		if ((r = http_read_file(cfg->tls_cert, &srv->cert)) < 0 ||
		    (r = http_read_file(cfg->tls_key, &srv->key)) < 0) {
			log_err("cannot read TLS certificate or key: %s", strerror(-r));
			goto out;
		}
		flags |= MHD_USE_TLS;
	}
	srv->mhd = MHD_start_daemon(flags, 0, NULL, NULL, http_access, srv,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
		MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns,
		MHD_OPTION_CONNECTION_TIMEOUT, 120u,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		cfg->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->cert,
		MHD_OPTION_HTTPS_MEM_KEY, srv->key,
		MHD_OPTION_END);
	if (!srv->mhd) {
		log_err("cannot listen on %s (in use, or TLS material invalid)", cfg->listen);
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

void http_free(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	free(srv->cert);
	free(srv->key);
	free(srv);
}
