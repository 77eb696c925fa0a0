/* The REST API: routing, authentication, the error shape, and the handlers
 * (api_object.c for the four object kinds, api_admin.c for the rest). */
#ifndef GRESEC_API_H
#define GRESEC_API_H

#include <stdbool.h>
#include <jansson.h>
#include "auth.h"
#include "http.h"
#include "kind.h"
#include "store.h"

#define API_LIMIT_DEFAULT 100
#define API_LIMIT_MAX 1000

struct longpoll;
struct ca;

struct api {
	struct store *store;
	struct longpoll *poll;
	struct ca *ca;			/* signs the sites' certificates */
	unsigned poll_timeout_ms;	/* how long an intent request is held */
	unsigned stale_after;		/* seconds without a report before a site is stale */
	const char *ui_dir;		/* the map's static files (api_ui.c); NULL: none */
};

struct api_req {
	struct api *api;
	struct http_request *http;
	struct http_reply *rep;
	struct auth_principal who;
	const struct kind_ops *kind;	/* for /v1/<plural>... routes */
	char param[256];		/* the {name} or {id} segment */
	char actor[96];			/* who, as the audit log names it */
};

typedef void (*api_fn)(struct api_req *r);

struct api_route {
	const char *method;
	const char *pattern;
	enum auth_role min_role;
	api_fn fn;
};

/* The http_handler: routes, authenticates, dispatches. ctx is struct api. */
void api_handle(void *ctx, struct http_request *req, struct http_reply *rep);
/* The head handler: routes and authenticates on the headers alone, so a request that
 * will be refused is refused before its body is read. */
void api_head(void *ctx, struct http_request *req, struct http_reply *rep);

/* Reply helpers. api_reply takes ownership of body. */
void api_reply(struct api_req *r, unsigned status, json_t *body);
void api_error(struct api_req *r, unsigned status, const char *code, json_t *details,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* For a negative errno from a lower layer that is not the client's fault. */
void api_fail(struct api_req *r, int err, const char *what);
/* The request body as JSON; on failure the error reply is set and -EINVAL returned.
 * csv_ok lets text/csv through (returns 1 with *out NULL). */
int api_body(struct api_req *r, bool csv_ok, json_t **out);
/* limit and after query parameters (after a name; pass NULL to read after yourself);
 * -EINVAL with a 400 set. */
int api_paging(struct api_req *r, unsigned *limit, const char **after);
/* A query parameter that must be a name when given; -EINVAL with a 400 set. */
int api_query_name(struct api_req *r, const char *key, const char **out);
int api_query_bool(struct api_req *r, const char *key, bool *out);
bool api_may_see_secrets(const struct api_req *r);

/* api_object.c */
void api_object_list(struct api_req *r);
void api_object_get(struct api_req *r);
void api_object_create(struct api_req *r);
void api_object_put(struct api_req *r);
void api_object_patch(struct api_req *r);
void api_object_delete(struct api_req *r);

/* api_admin.c */
void api_admin_health(struct api_req *r);
void api_admin_routes(struct api_req *r);
void api_admin_tunnels(struct api_req *r);
void api_admin_import(struct api_req *r);
void api_admin_export(struct api_req *r);
void api_admin_tokens_list(struct api_req *r);
void api_admin_tokens_issue(struct api_req *r);
void api_admin_tokens_revoke(struct api_req *r);
void api_admin_audit(struct api_req *r);
void api_admin_metrics(struct api_req *r);
/* The http_config observer: counts the reply under its route (metrics.c). */
void api_observe(const struct http_request *req, unsigned status, double seconds);

/* api_psk.c */
void api_psk_rotate(struct api_req *r);

/* api_agent.c */
/* An agent token acts for its own site (r->param) only; admins for any. -EACCES with a
 * 403 set otherwise. */
int api_agent_allowed(struct api_req *r);
void api_agent_intent(struct api_req *r);
/* For a resumed long-poll whose token no longer authenticates: true, with a 404 set,
 * when its site was deleted (the token died with it). */
bool api_agent_held_site_gone(struct api_req *r);
void api_agent_status(struct api_req *r);
void api_agent_token(struct api_req *r);
void api_agent_summary(struct api_req *r);

/* api_ui.c: the topology map's static files, no token needed (the page asks for one) */
void api_ui_file(struct api_req *r);
void api_ui_redirect(struct api_req *r);
/* api_peer.c */
void api_peer_config(struct api_req *r);
/* api_pki.c */
/* mTLS: a valid client certificate makes the request its site's agent (0, r->who
 * set), whatever bearer token comes with it unless that is an agent token of another
 * site; -ENOENT when no certificate was sent (tokens decide); -EACCES with a 401 set
 * for a certificate that is not one of the CA's valid ones (unknown, expired,
 * revoked) or that comes with another site's agent token. */
int api_pki_authenticate(struct api_req *r);
void api_pki_ca(struct api_req *r);
void api_pki_csr(struct api_req *r);
void api_pki_list(struct api_req *r);
void api_pki_revoke(struct api_req *r);

extern const struct api_route api_routes[];
extern const size_t api_nroutes;

#endif
