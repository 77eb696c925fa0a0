/* The HTTP server (libmicrohttpd, one internal polling thread with epoll): collects a
 * request with its body, hands it to one handler, sends the JSON reply. Everything
 * above it runs on that one thread, which is what keeps SQLite single-threaded. */
#ifndef GRESEC_HTTP_H
#define GRESEC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <jansson.h>
#include <gnutls/x509.h>

struct http_server;
struct http_request;

struct http_config {
	const char *listen;	/* "127.0.0.1:8080", "[::1]:8443", ":8080"; NULL: no socket,
				 * connections come from http_adopt (in-process tests) */
	const char *tls_cert;	/* PEM file paths, both or neither */
	const char *tls_key;
	const char *tls_client_ca;	/* PEM file: ask clients for certificates (mTLS) */
	size_t max_body;	/* 413 past it, once the head handler called http_trust */
	size_t unauth_body;	/* the bound before that (unauthenticated requests) */
	unsigned max_conns;
	unsigned max_per_client;	/* connections from one address */
	unsigned client_timeout;	/* seconds: for a request's headers, idle, body start */
	/* Called for every reply sent (NULL: none), on the server's thread, with its status
	 * and the seconds since the request's first line: for metrics. */
	void (*observe)(const struct http_request *req, unsigned status, double seconds);
};

/* The reply a handler fills in; http.c sends it once the handler returns. */
struct http_reply {
	unsigned status;
	json_t *body;		/* owned; NULL → no body (204) */
	char etag[32];
	char location[512];
	char allow[64];
	char *raw;		/* owned; JSON text sent as is instead of body */
	/* A static file of the map (api_ui.c): raw holds raw_len bytes of this type,
	 * sent with this Content-Security-Policy and the other page headers. */
	const char *type;	/* NULL: application/json */
	size_t raw_len;		/* 0: strlen(raw) */
	const char *csp;
};

typedef void (*http_handler)(void *ctx, struct http_request *req, struct http_reply *rep);

/* head runs once a request's headers are in, before any of its body is read: it
 * answers (sets rep->status) to refuse the request on its headers alone, or leaves
 * status 0 to have the body read and fn called with the whole request. */
int http_start(const struct http_config *cfg, http_handler head, http_handler fn, void *ctx,
	       struct http_server **out);
void http_free(struct http_server *srv);
/* Serves a connected socket (the server takes it over): for a server without a
 * listening socket, in-process tests. */
int http_adopt(struct http_server *srv, int fd, const struct sockaddr *addr, socklen_t len);
/* The connections the server holds open now (a racy read from another thread: for
 * tests and diagnostics). */
unsigned http_connections(const struct http_server *srv);

const char *http_method(const struct http_request *req);
const char *http_path(const struct http_request *req);
/* NULL when absent. */
const char *http_header(const struct http_request *req, const char *name);
const char *http_query(const struct http_request *req, const char *key);
const char *http_body(const struct http_request *req, size_t *len);
/* The body went past its limit (and was discarded). */
bool http_body_too_large(const struct http_request *req);
/* From the head handler: the client is authenticated; its body may be as large as
 * cfg.max_body instead of cfg.unauth_body. */
void http_trust(struct http_request *req);
size_t http_body_limit(const struct http_request *req);
/* Why the request target as sent is refused (an encoded '/' or NUL, too many query
 * parameters), or NULL. */
const char *http_refused(const struct http_request *req);
const char *http_target_check(const char *raw);
/* The client's certificate, verified against cfg.tls_client_ca (chain, signature,
 * dates): 0 with *out (the caller deinits it); -ENOENT when it sent none (or mTLS is
 * off); -EACCES when it does not verify. */
int http_peer_cert(const struct http_request *req, gnutls_x509_crt_t *out);
/* For a parked request: whether its client has gone. Any thread. */
bool http_peer_closed(const struct http_request *req);

/* From a handler: park the connection without replying (a long-poll). After
 * http_resume the handler is called again for the same request. */
void http_suspend(struct http_request *req);
/* From any thread. */
void http_resume(struct http_request *req);
/* Data that lives as long as the request; free_fn runs when the connection is done. */
void http_set_user(struct http_request *req, void *data, void (*free_fn)(void *));
void *http_user(const struct http_request *req);
/* A number the handlers attach to a request (the API: its route), for the observer. */
void http_set_tag(struct http_request *req, unsigned tag);
unsigned http_tag(const struct http_request *req);

#endif
