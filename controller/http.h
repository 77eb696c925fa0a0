/* The HTTP server (libmicrohttpd, one internal polling thread with epoll): collects a
 * request with its body, hands it to one handler, sends the JSON reply. Everything
 * above it runs on that one thread, which is what keeps SQLite single-threaded. */
#ifndef GRESEC_HTTP_H
#define GRESEC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

struct http_server;
struct http_request;

struct http_config {
	const char *listen;	/* "127.0.0.1:8080", "[::1]:8443", ":8080" */
	const char *tls_cert;	/* PEM file paths, both or neither */
	const char *tls_key;
	size_t max_body;	/* 413 past it */
	unsigned max_conns;
};

/* The reply a handler fills in; http.c sends it once the handler returns. */
struct http_reply {
	unsigned status;
	json_t *body;		/* owned; NULL → no body (204) */
	char etag[32];
	char location[512];
	char allow[64];
	char *raw;		/* owned; JSON text sent as is instead of body */
};

typedef void (*http_handler)(void *ctx, struct http_request *req, struct http_reply *rep);

int http_start(const struct http_config *cfg, http_handler fn, void *ctx,
	       struct http_server **out);
void http_free(struct http_server *srv);

const char *http_method(const struct http_request *req);
const char *http_path(const struct http_request *req);
/* NULL when absent. */
const char *http_header(const struct http_request *req, const char *name);
const char *http_query(const struct http_request *req, const char *key);
const char *http_body(const struct http_request *req, size_t *len);
/* The body went past cfg.max_body (and was discarded). */
bool http_body_too_large(const struct http_request *req);

/* From a handler: park the connection without replying (a long-poll). After
 * http_resume the handler is called again for the same request. */
void http_suspend(struct http_request *req);
/* From any thread. */
void http_resume(struct http_request *req);
/* Data that lives as long as the request; free_fn runs when the connection is done. */
void http_set_user(struct http_request *req, void *data, void (*free_fn)(void *));
void *http_user(const struct http_request *req);

#endif
