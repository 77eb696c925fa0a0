#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "log.h"
#include "metrics.h"
#include "utf8.h"
#include "valid.h"

#define API_OBJECT_ROUTES(plural) \
	{ "POST",   "/v1/" plural,             AUTH_OPERATOR, api_object_create }, \
	{ "GET",    "/v1/" plural "/{name}",   AUTH_VIEWER,   api_object_get }, \
	{ "PUT",    "/v1/" plural "/{name}",   AUTH_OPERATOR, api_object_put }, \
	{ "PATCH",  "/v1/" plural "/{name}",   AUTH_OPERATOR, api_object_patch }, \
	{ "DELETE", "/v1/" plural "/{name}",   AUTH_OPERATOR, api_object_delete }

const struct api_route api_routes[] = {
	{ "GET", "/healthz", AUTH_NONE, api_admin_health },
	{ "GET", "/v1/sites", AUTH_VIEWER, api_object_list },
	API_OBJECT_ROUTES("sites"),
	{ "GET", "/v1/profiles", AUTH_VIEWER, api_object_list },
	API_OBJECT_ROUTES("profiles"),
	{ "GET", "/v1/topologies", AUTH_VIEWER, api_object_list },
	API_OBJECT_ROUTES("topologies"),
	/* The tunnel collection lists materialised tunnels, derived and explicit alike. */
	{ "GET", "/v1/tunnels", AUTH_VIEWER, api_admin_tunnels },
	API_OBJECT_ROUTES("tunnels"),
	{ "POST", "/v1/tunnels/{id}/rotate-psk", AUTH_OPERATOR, api_psk_rotate },
	{ "POST", "/v1/import", AUTH_OPERATOR, api_admin_import },
	{ "GET", "/v1/export", AUTH_VIEWER, api_admin_export },
	{ "GET", "/v1/tokens", AUTH_ADMIN, api_admin_tokens_list },
	{ "POST", "/v1/tokens", AUTH_ADMIN, api_admin_tokens_issue },
	{ "DELETE", "/v1/tokens/{id}", AUTH_ADMIN, api_admin_tokens_revoke },
	{ "GET", "/v1/audit", AUTH_VIEWER, api_admin_audit },
	{ "GET", "/v1/_routes", AUTH_ADMIN, api_admin_routes },
	/* Agents: an agent token passes the role check; the handlers check its site. */
	{ "GET", "/v1/agents/{site}/intent", AUTH_AGENT, api_agent_intent },
	{ "POST", "/v1/agents/{site}/status", AUTH_AGENT, api_agent_status },
	{ "POST", "/v1/sites/{name}/agent-token", AUTH_ADMIN, api_agent_token },
	{ "GET", "/v1/status", AUTH_VIEWER, api_agent_summary },
	/* Prometheus: a viewer token (authorization.credentials_file in scrape_configs). */
	{ "GET", "/metrics", AUTH_VIEWER, api_admin_metrics },
	/* The topology map: static files; the page itself asks for a token. */
	{ "GET", "/ui", AUTH_NONE, api_ui_redirect },
	{ "GET", "/ui/", AUTH_NONE, api_ui_file },
	{ "GET", "/ui/{file}", AUTH_NONE, api_ui_file },
	/* Unmanaged sites: their gateway's configuration, PSKs included (audited). */
	{ "GET", "/v1/sites/{name}/peer-config", AUTH_OPERATOR, api_peer_config },
	/* The CA: its certificate, enrollment, and revocation (api_pki.c). */
	{ "GET", "/v1/ca", AUTH_AGENT, api_pki_ca },
	{ "POST", "/v1/agents/{site}/csr", AUTH_AGENT, api_pki_csr },
	{ "GET", "/v1/sites/{name}/certs", AUTH_VIEWER, api_pki_list },
	{ "POST", "/v1/sites/{name}/revoke-cert", AUTH_OPERATOR, api_pki_revoke },
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

static const char *api_status_code(unsigned status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 412: return "precondition_failed";
	case 413: return "payload_too_large";
	case 415: return "unsupported_media_type";
	case 422: return "invalid";
	case 503: return "unavailable";
	default: return "internal";
	}
}

void api_reply(struct api_req *r, unsigned status, json_t *body)
{
	json_decref(r->rep->body);
	r->rep->status = status;
	r->rep->body = body;
}

void api_error(struct api_req *r, unsigned status, const char *code, json_t *details,
	       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages quote what the client sent (a path, a header): jansson takes only valid
	 * UTF-8, and vsnprintf may have cut a character in two. */
	utf8_sanitize(msg);
	r->rep->etag[0] = r->rep->location[0] = '\0';
	api_reply(r, status, json_pack("{s:{s:i, s:s, s:s, s:o}}", "error", "status", (int)status,
				       "code", code ? code : api_status_code(status),
				       "message", msg, "details", details ? details : json_array()));
}

void api_fail(struct api_req *r, int err, const char *what)
{
	if (err == -EBUSY) {
		api_error(r, 503, NULL, NULL, "the database is busy; retry");
		return;
	}
	log_err("%s %s: %s failed: %s", http_method(r->http), http_path(r->http), what,
		strerror(-err));
	api_error(r, 500, NULL, NULL, "%s failed: %s", what, strerror(-err));
}

bool api_may_see_secrets(const struct api_req *r)
{
	return r->who.role >= AUTH_OPERATOR;
}

static bool api_content_type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int api_body(struct api_req *r, bool csv_ok, json_t **out)
{
	const char *ct = http_header(r->http, "Content-Type");
	json_error_t jerr;
	const char *body;
	size_t len;

	if (http_body_too_large(r->http)) {
		api_error(r, 413, NULL, NULL, "request body is larger than the limit");
		return -EINVAL;
	}
	*out = NULL;
	if (csv_ok && api_content_type_is(ct, "text/csv"))
		return 1;
	/* A merge patch on PUT or POST would be read as the whole object: fields it
	 * leaves out would silently reset. */
	if (api_content_type_is(ct, "application/merge-patch+json") &&
	    strcmp(http_method(r->http), "PATCH") != 0) {
		api_error(r, 415, NULL, NULL, "Content-Type application/merge-patch+json is for "
			  "PATCH only; %s takes application/json%s", http_method(r->http),
			  csv_ok ? " or text/csv" : "");
		return -EINVAL;
	}
	if (!api_content_type_is(ct, "application/json") &&
	    !api_content_type_is(ct, "application/merge-patch+json")) {
		api_error(r, 415, NULL, NULL, "Content-Type must be application/json%s (got %s)",
			  csv_ok ? " or text/csv" : "", ct ? ct : "none");
		return -EINVAL;
	}
	body = http_body(r->http, &len);
	*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out) {
		api_error(r, 400, NULL, NULL, "malformed JSON at line %d, column %d: %s",
			  jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	return 0;
}

static int api_query_int(struct api_req *r, const char *key, long long lo, long long hi,
			 long long *out)
{
	const char *v = http_query(r->http, key);
	char *end;
	long long n;

	if (!v)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi) {
		api_error(r, 400, NULL, json_pack("[{s:s, s:s}]", "path", key, "message",
			  "not a whole number in range"),
			  "query parameter %s must be a whole number from %lld to %lld", key, lo, hi);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

int api_query_name(struct api_req *r, const char *key, const char **out)
{
	const char *v = http_query(r->http, key);

	*out = NULL;
	if (v && !valid_name(v)) {
		api_error(r, 400, NULL, json_pack("[{s:s, s:s}]", "path", key, "message",
			  "not a name"), "query parameter %s must be a name (1-63 of a-z, 0-9 "
			  "and '-', not at either end)", key);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int api_paging(struct api_req *r, unsigned *limit, const char **after)
{
	long long n = API_LIMIT_DEFAULT;
	int rc = api_query_int(r, "limit", 1, API_LIMIT_MAX, &n);

	*limit = (unsigned)n;
	if (rc == 0 && after)
		rc = api_query_name(r, "after", after);
	return rc;
}

int api_query_bool(struct api_req *r, const char *key, bool *out)
{
	const char *v = http_query(r->http, key);

	if (!v)
		return 0;
	if (!strcmp(v, "true") || !strcmp(v, "1")) {
		*out = true;
	} else if (!strcmp(v, "false") || !strcmp(v, "0")) {
		*out = false;
	} else {
		api_error(r, 400, NULL, json_pack("[{s:s, s:s}]", "path", key, "message",
			  "must be true or false"), "query parameter %s must be true or false", key);
		return -EINVAL;
	}
	return 0;
}

/* Segment-wise match; a "{x}" segment takes any one non-empty segment into param. */
static bool api_match(const char *pattern, const char *path, char *param, size_t plen)
{
	while (*pattern && *path) {
		const char *pe = strchrnul(pattern + 1, '/'), *se = strchrnul(path + 1, '/');

		if (pattern[1] == '{') {
			if (se == path + 1 || (size_t)(se - path - 1) >= plen)
				return false;
			memcpy(param, path + 1, (size_t)(se - path - 1));
			param[se - path - 1] = '\0';
		} else if (pe - pattern != se - path || memcmp(pattern, path, (size_t)(pe - pattern))) {
			return false;
		}
		pattern = pe;
		path = se;
	}
	return !*pattern && !*path;
}

static int api_authenticate(struct api_req *r)
{
	const char *h = http_header(r->http, "Authorization");
	int rc;

	/* mTLS (api_pki.c): a client certificate, when sent, decides. */
	rc = api_pki_authenticate(r);
	if (rc != -ENOENT)
		return rc;
	if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
		api_error(r, 401, NULL, NULL, "missing bearer token (Authorization: Bearer <token>)");
		return -EACCES;
	}
	rc = auth_lookup(r->api->store ? store_db(r->api->store) : NULL, h + 7, &r->who);
	if (rc == -EACCES) {
		if (!api_agent_held_site_gone(r))
			api_error(r, 401, NULL, NULL, "invalid or revoked token");
		return rc;
	}
	if (rc < 0) {
		api_fail(r, rc, "token lookup");
		return rc;
	}
	snprintf(r->actor, sizeof(r->actor), "%s#%lld", r->who.name, r->who.id);
	return 0;
}

static const struct kind_ops *api_route_kind(const char *pattern)
{
	char plural[32];

	if (sscanf(pattern, "/v1/%31[a-z]", plural) != 1)
		return NULL;
	return kind_by_plural(plural);
}

/* A read runs in one read transaction: one snapshot, and one round of SQLite's file
 * locks instead of one per statement. Writes open their own (BEGIN IMMEDIATE). */
static void api_run(struct api_req *r, const struct api_route *rt)
{
	struct db *db = store_db(r->api->store);
	int reading = strcmp(rt->method, "GET") == 0 && db_read_begin(db) == 0;

	rt->fn(r);
	if (reading)
		db_read_end(db);
}

/* The route for the request, or NULL with a 404 or 405 set. */
static const struct api_route *api_route_find(struct api_req *r)
{
	const char *method = http_method(r->http), *path = http_path(r->http);
	size_t allow_len = 0;

	for (size_t i = 0; i < api_nroutes; i++) {
		if (!api_match(api_routes[i].pattern, path, r->param, sizeof(r->param)))
			continue;
		if (strcmp(api_routes[i].method, method) == 0) {
			r->rep->allow[0] = '\0';
			http_set_tag(r->http, (unsigned)i + 1);	/* the route, for the metrics */
			return &api_routes[i];
		}
		allow_len += (size_t)snprintf(r->rep->allow + allow_len,
			allow_len < sizeof(r->rep->allow) ? sizeof(r->rep->allow) - allow_len : 0,
			"%s%s", allow_len ? ", " : "", api_routes[i].method);
	}
	if (allow_len)
		api_error(r, 405, NULL, NULL, "%s is not allowed on %s", method, path);
	else
		api_error(r, 404, NULL, NULL, "no such route: %s", path);
	return NULL;
}

/* Routing, then the token and its role: what a request's headers alone decide. */
static const struct api_route *api_admit(struct api_req *r)
{
	const struct api_route *rt;
	const char *refused = http_refused(r->http);

	if (refused) {
		api_error(r, 400, NULL, NULL, "%s", refused);
		return NULL;
	}
	if (!(rt = api_route_find(r)))
		return NULL;
	if (rt->min_role == AUTH_NONE)
		return rt;
	if (api_authenticate(r) < 0)
		return NULL;
	if (r->who.role < rt->min_role) {
		api_error(r, 403, NULL, NULL, "role %s may not %s %s",
			  auth_role_name(r->who.role), http_method(r->http), rt->pattern);
		return NULL;
	}
	return rt;
}

/* The announced body is over the limit: refused before it is read. */
static int api_length_check(struct api_req *r)
{
	const char *v = http_header(r->http, "Content-Length");
	unsigned long long n;
	char *end;

	if (!v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || n <= http_body_limit(r->http))
		return 0;
	api_error(r, 413, NULL, NULL, "request body is larger than the limit (%zu bytes%s)",
		  http_body_limit(r->http), r->who.role == AUTH_NONE ? " without a token" : "");
	return -EFBIG;
}

void api_head(void *ctx, struct http_request *req, struct http_reply *rep)
{
	struct api_req r = { .api = ctx, .http = req, .rep = rep };
	const struct api_route *rt = api_admit(&r);

	if (!rt)
		return;
	/* Only a client with a token may make us hold a large body. */
	if (r.who.role != AUTH_NONE)
		http_trust(req);
	api_length_check(&r);
}

static void api_dispatch(struct api_req *r)
{
	const struct api_route *rt = api_admit(r);

	if (!rt)
		return;
	r->kind = api_route_kind(rt->pattern);
	api_run(r, rt);
}

void api_handle(void *ctx, struct http_request *req, struct http_reply *rep)
{
	struct api_req r = { .api = ctx, .http = req, .rep = rep };

	api_dispatch(&r);
	/* status 0: the handler parked the request (long-poll) */
	if (!rep->body && !rep->raw && rep->status != 204 && rep->status != 0)
		api_error(&r, 500, NULL, NULL, "out of memory");
}

void api_observe(const struct http_request *req, unsigned status, double seconds)
{
	metrics_request(http_tag(req), status, seconds);
}
