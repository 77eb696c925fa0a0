#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "metrics.h"
#include "prom.h"
#include "audit.h"
#include "import.h"
#include "status.h"
#include "tunnel.h"

static int api_admin_after_id(struct api_req *r, long long *after)
{
	const char *v = http_query(r->http, "after");
	char *end;

	*after = 0;
	if (!v)
		return 0;
	errno = 0;
	*after = strtoll(v, &end, 10);
	if (!*v || *end || errno || *after < 0) {
		api_error(r, 400, NULL, json_pack("[{s:s, s:s}]", "path", "after", "message",
			  "must be an id from a previous page's next"),
			  "query parameter after must be a non-negative whole number");
		return -EINVAL;
	}
	return 0;
}

/* GET of a listing paged by id (?limit=&after=ID) served by list. */
static void api_admin_id_page(struct api_req *r,
			      int (*list)(struct db *, long long, unsigned, json_t **),
			      const char *what)
{
	unsigned limit;
	long long after;
	json_t *out = NULL;
	int rc;

	if (api_paging(r, &limit, NULL) < 0 || api_admin_after_id(r, &after) < 0)
		return;
	rc = list(store_db(r->api->store), after, limit, &out);
	if (rc < 0)
		api_fail(r, rc, what);
	else
		api_reply(r, 200, out);
}

void api_admin_health(struct api_req *r)
{
	api_reply(r, 200, json_pack("{s:s, s:i}", "status", "ok", "schema_version",
				    db_schema_version(store_db(r->api->store))));
}

void api_admin_routes(struct api_req *r)
{
	json_t *routes = json_array();

	for (size_t i = 0; routes && i < api_nroutes; i++)
		json_array_append_new(routes, json_pack("{s:s, s:s, s:s}", "method",
				      api_routes[i].method, "path", api_routes[i].pattern,
				      "min_role", api_routes[i].min_role == AUTH_NONE ? "none" :
				      auth_role_name(api_routes[i].min_role)));
	api_reply(r, 200, json_pack("{s:o}", "routes", routes));
}

void api_admin_tunnels(struct api_req *r)
{
	const char *site;
	unsigned limit;
	long long after;
	json_t *out = NULL, *loaded = NULL;
	int rc;

	if (api_paging(r, &limit, NULL) < 0 || api_admin_after_id(r, &after) < 0 ||
	    api_query_name(r, "site", &site) < 0)
		return;
	rc = tunnel_list(r->api->store, site, after, limit, &out);
	if (rc == 0)
		rc = status_load(r->api->store, NULL, r->api->stale_after, &loaded);
	if (rc < 0) {
		api_fail(r, rc, "listing tunnels");
		json_decref(out);
	} else {
		status_decorate_tunnels(loaded, json_object_get(out, "items"));
		api_reply(r, 200, out);
	}
	json_decref(loaded);
}

void api_admin_import(struct api_req *r)
{
	struct import_opts o = { .actor = r->actor };
	const char *mode = http_query(r->http, "mode");
	struct verr *errs = NULL;
	json_t *doc = NULL, *result = NULL;
	const char *body;
	size_t len;
	int csv, rc;

	if (mode && strcmp(mode, "merge") != 0 && strcmp(mode, "replace") != 0) {
		api_error(r, 400, NULL, json_pack("[{s:s, s:s}]", "path", "mode", "message",
			  "must be merge or replace"), "query parameter mode must be merge or replace");
		return;
	}
	o.replace = mode && strcmp(mode, "replace") == 0;
	if (api_query_bool(r, "dry_run", &o.dry_run) < 0)
		return;
	csv = api_body(r, true, &doc);
	if (csv < 0)
		return;
	errs = verr_new();
	if (!errs) {
		api_fail(r, -ENOMEM, "import");
		goto out;
	}
	body = http_body(r->http, &len);
	rc = csv ? import_csv(r->api->store, body, len, &o, errs, &result)
		 : import_json(r->api->store, doc, &o, errs, &result);
	if (rc == -EINVAL)
		api_error(r, 422, NULL, verr_json(errs), "import rejected: %zu error(s); nothing "
			  "was written", verr_count(errs));
	else if (rc < 0)
		api_fail(r, rc, "import");
	else
		api_reply(r, 200, result);
	metrics_import(rc == -EINVAL ? "rejected" : rc < 0 ? "failed" : o.dry_run ? "dry_run" : "ok");
out:
	verr_free(errs);
	json_decref(doc);
}

void api_admin_export(struct api_req *r)
{
	json_t *doc = NULL;
	int rc = import_export(r->api->store, &doc);

	if (rc < 0)
		api_fail(r, rc, "export");
	else
		api_reply(r, 200, doc);
}

void api_admin_tokens_list(struct api_req *r)
{
	api_admin_id_page(r, auth_list, "listing tokens");
}

static int api_admin_token_input(struct api_req *r, const json_t *in, const char **name,
				 enum auth_role *role)
{
	json_t *details = json_array();
	const char *k;
	json_t *v;

	*name = json_string_value(json_object_get(in, "name"));
	*role = auth_role_parse(json_string_value(json_object_get(in, "role")));
	if (!json_is_object(in))
		json_array_append_new(details, json_pack("{s:s, s:s}", "path", "", "message",
							 "must be an object"));
	if (!*name || !**name || strlen(*name) > 63)
		json_array_append_new(details, json_pack("{s:s, s:s}", "path", "name", "message",
							 "required: a string of 1 to 63 characters"));
	/* Agent tokens are issued per site (POST /v1/sites/{name}/agent-token). */
	if (*role < AUTH_VIEWER)
		json_array_append_new(details, json_pack("{s:s, s:s}", "path", "role", "message",
							 "must be admin, operator or viewer"));
	json_object_foreach((json_t *)in, k, v) {
		if (strcmp(k, "name") && strcmp(k, "role"))
			json_array_append_new(details, json_pack("{s:s, s:s}", "path", k,
								 "message", "unknown field"));
	}
	if (json_array_size(details) == 0) {
		json_decref(details);
		return 0;
	}
	api_error(r, 422, NULL, details, "invalid token request");
	return -EINVAL;
}

void api_admin_tokens_issue(struct api_req *r)
{
	struct db *db = store_db(r->api->store);
	json_t *in = NULL, *rec = NULL;
	enum auth_role role;
	const char *name;
	char *secret = NULL, idbuf[32];
	long long id = 0;
	int rc;

	if (api_body(r, false, &in) < 0 || api_admin_token_input(r, in, &name, &role) < 0)
		goto out;
	rc = db_begin(db);
	if (rc == 0)
		rc = auth_issue(db, name, role, NULL, &secret, &id);
	rec = json_pack("{s:s, s:s}", "name", name, "role", auth_role_name(role));
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	if (rc == 0)
		rc = audit_record(db, r->actor, "token-issue", NULL, "token", idbuf, NULL, rec);
	if (rc == 0)
		rc = db_commit(db);
	if (rc < 0) {
		api_fail(r, rc, "issuing a token");
		goto out;
	}
	api_reply(r, 201, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "name", name,
				    "role", auth_role_name(role), "token", secret));
	snprintf(r->rep->location, sizeof(r->rep->location), "/v1/tokens/%lld", id);
out:
	db_rollback(db);
	if (secret)
		memset(secret, 0, strlen(secret));
	free(secret);
	json_decref(rec);
	json_decref(in);
}

void api_admin_tokens_revoke(struct api_req *r)
{
	struct db *db = store_db(r->api->store);
	char *end;
	long long id = strtoll(r->param, &end, 10);
	int rc;

	if (*end || id <= 0) {
		api_error(r, 404, NULL, NULL, "no token with id %s", r->param);
		return;
	}
	rc = db_begin(db);
	if (rc == 0)
		rc = auth_revoke(db, id);
	if (rc == 0)
		rc = audit_record(db, r->actor, "token-revoke", NULL, "token", r->param, NULL, NULL);
	if (rc == 0)
		rc = db_commit(db);
	if (rc == -ENOENT)
		api_error(r, 404, NULL, NULL, "no active token with id %lld", id);
	else if (rc < 0)
		api_fail(r, rc, "revoking a token");
	else
		api_reply(r, 204, NULL);
	db_rollback(db);
}

void api_admin_audit(struct api_req *r)
{
	api_admin_id_page(r, audit_list, "reading the audit log");
}

void api_admin_metrics(struct api_req *r)
{
	char *text = NULL;
	int rc = metrics_render(r->api, &text);

	if (rc < 0) {
		api_fail(r, rc, "collecting the metrics");
		return;
	}
	api_reply(r, 200, NULL);
	r->rep->raw = text;
	r->rep->type = PROM_CONTENT_TYPE;
}
