#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "compile.h"
#include "revision.h"
#include "status.h"

enum api_write { API_CREATE, API_PUT, API_PATCH };

static json_t *api_object_view(const struct api_req *r, json_t *body)
{
	if (body && r->kind->redact && !api_may_see_secrets(r))
		r->kind->redact(body);
	return body;
}

void api_object_list(struct api_req *r)
{
	const char *after;
	unsigned limit;
	json_t *items = NULL, *v;
	size_t i, n;
	int rc;

	if (api_paging(r, &limit, &after) < 0)
		return;
	rc = store_list(r->api->store, r->kind, after, limit, &items);
	if (rc < 0) {
		api_fail(r, rc, "listing");
		return;
	}
	json_array_foreach(items, i, v)
		api_object_view(r, v);
	n = json_array_size(items);
	api_reply(r, 200, json_pack("{s:o, s:o}", "items", items, "next",
		  n == limit ? json_copy(json_object_get(json_array_get(items, n - 1), "name"))
			     : json_null()));
}

/* A site's GET shows what its agent last reported; the field is read-only and is
 * ignored when a client writes the body back. */
static json_t *api_object_site_status(struct api_req *r)
{
	json_t *loaded = NULL, *view, *st;
	uint64_t rev = 0;

	if (status_load(r->api->store, r->param, r->api->stale_after, &loaded) < 0)
		return NULL;
	view = status_site_view(loaded, r->param);
	revision_get(r->api->store, r->param, &rev);
	st = json_pack("{s:I, s:o}", "intent_revision", (json_int_t)rev, "agent", view);
	json_decref(loaded);
	return st;
}

/* body (a JSON object's text, malloc'd) as the reply: with ,"status":value added
 * before its last brace when value is given, and a newline after it. NULL on out of
 * memory; body is freed either way. */
static char *api_object_text(char *body, const json_t *status)
{
	char *v = status ? json_dumps(status, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
			 : NULL, *out = NULL;
	size_t n = strlen(body);
	int rc;

	if (status && v && n && body[n - 1] == '}')
		rc = asprintf(&out, "%.*s%s\"status\":%s}\n", (int)(n - 1), body,
			      n > 2 ? "," : "", v);
	else
		rc = status ? -1 : asprintf(&out, "%s\n", body);
	if (rc < 0)
		out = NULL;
	free(v);
	free(body);
	return out;
}

/* Redacted for roles that may not see secrets; as stored otherwise. */
static char *api_object_view_text(const struct api_req *r, char *text)
{
	json_t *body;
	char *out;

	if (!r->kind->redact || api_may_see_secrets(r))
		return text;
	body = json_loads(text, 0, NULL);
	free(text);
	if (!body)
		return NULL;
	r->kind->redact(body);
	out = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	json_decref(body);
	return out;
}

/* The stored text is sent as it is: the common read parses and builds no JSON. */
void api_object_get(struct api_req *r)
{
	json_t *status = NULL;
	char *text = NULL;
	int rc = store_get_text(r->api->store, r->kind, r->param, &text, r->rep->etag);

	if (rc == -ENOENT) {
		r->rep->etag[0] = '\0';
		api_error(r, 404, NULL, NULL, "%s '%s' does not exist", r->kind->name, r->param);
		return;
	}
	if (rc == 0 && r->kind == &kind_site && !(status = api_object_site_status(r)))
		rc = -ENOMEM;
	if (rc == 0 && !(text = api_object_view_text(r, text)))
		rc = -ENOMEM;
	if (rc == 0 && !(text = api_object_text(text, status)))
		rc = -ENOMEM;
	json_decref(status);
	if (rc < 0) {
		free(text);
		api_fail(r, rc, "reading");
		return;
	}
	r->rep->status = 200;
	r->rep->raw = text;
}

/* RFC 7396: null removes, objects merge recursively, anything else replaces. */
static json_t *api_merge_patch(json_t *target, const json_t *patch)
{
	const char *k;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	json_object_foreach((json_t *)patch, k, v) {
		if (json_is_null(v)) {
			json_object_del(target, k);
			continue;
		}
		json_object_set_new(target, k, api_merge_patch(json_incref(json_object_get(target, k)), v));
	}
	return target;
}

/* Errors on the object being written are reported relative to it ("profile");
 * errors on other objects under their own name ("topologies/eu.members[1]"). */
struct api_self {
	const struct kind_ops *k;
	const char *name;
};

static const char *api_object_path(void *ctx, const char *kind, const char *name)
{
	const struct api_self *self = ctx;

	return strcmp(kind, self->k->name) == 0 && strcmp(name, self->name) == 0 ? "" : NULL;
}

static int api_object_precondition(struct api_req *r, const char *etag, bool exists)
{
	const char *want = http_header(r->http, "If-Match");

	if (!want || (exists && (strcmp(want, "*") == 0 || strcmp(want, etag) == 0)))
		return 0;
	api_error(r, 412, NULL, NULL, exists ? "%s '%s' has changed (ETag %s)" :
		  "%s '%s' does not exist%s", r->kind->name, r->param, exists ? etag : "");
	return -EAGAIN;
}

/* Builds the input to normalise from the request, checks existence rules. */
static int api_object_input(struct api_req *r, enum api_write mode, json_t *cur,
			    const char *etag, json_t **in)
{
	const char *name;

	if (mode == API_CREATE && cur) {
		api_error(r, 409, NULL, NULL, "%s '%s' already exists", r->kind->name, r->param);
		return -EEXIST;
	}
	if (mode == API_PATCH && !cur) {
		api_error(r, 404, NULL, NULL, "%s '%s' does not exist", r->kind->name, r->param);
		return -ENOENT;
	}
	if (mode != API_CREATE && api_object_precondition(r, etag, cur != NULL) < 0)
		return -EAGAIN;
	if (r->kind == &kind_site && json_is_object(*in))
		json_object_del(*in, "status");
	if (mode == API_PATCH) {
		json_t *patch = *in;

		*in = api_merge_patch(json_deep_copy(cur), patch);
		json_decref(patch);
	}
	if (!json_is_object(*in)) {
		api_error(r, 422, NULL, json_pack("[{s:s, s:s}]", "path", "", "message",
			  "must be an object"), "the body must be a JSON object");
		return -EINVAL;
	}
	name = json_string_value(json_object_get(*in, "name"));
	if (mode != API_CREATE && !json_object_get(*in, "name"))
		json_object_set_new(*in, "name", json_string(r->param));
	else if (mode != API_CREATE && (!name || strcmp(name, r->param) != 0)) {
		api_error(r, 422, NULL, json_pack("[{s:s, s:s}]", "path", "name", "message",
			  "must match the name in the URL (renaming is not supported)"),
			  "name does not match the URL");
		return -EINVAL;
	}
	return 0;
}

static int api_object_validate(struct api_req *r, const json_t *in, json_t **canon)
{
	struct verr *errs = verr_new();
	int rc;

	if (!errs)
		return -ENOMEM;
	rc = r->kind->normalize(in, "", errs, canon);
	if (rc == -EINVAL || (rc == 0 && verr_count(errs)))
		api_error(r, 422, NULL, verr_json(errs), "%s '%s' is invalid: %zu error(s)",
			  r->kind->name, r->param, verr_count(errs));
	else if (rc < 0)
		api_fail(r, rc, "validation");
	if (rc == 0 && verr_count(errs)) {
		json_decref(*canon);
		*canon = NULL;
		rc = -EINVAL;
	}
	verr_free(errs);
	return rc;
}

/* Ends the transaction through store_finish; sets the reply on failure. */
static int api_object_finish(struct api_req *r)
{
	struct api_self self = { r->kind, r->param };
	struct verr *errs = verr_new();
	int rc;

	if (!errs)
		return -ENOMEM;
	rc = store_finish(r->api->store, errs, api_object_path, &self, false);
	if (rc == -EINVAL)
		api_error(r, 422, NULL, verr_json(errs), "the change breaks %zu rule(s) across objects",
			  verr_count(errs));
	else if (rc < 0)
		api_fail(r, rc, "saving");
	verr_free(errs);
	return rc;
}

static void api_object_write(struct api_req *r, enum api_write mode)
{
	struct store *s = r->api->store;
	json_t *in = NULL, *cur = NULL, *canon = NULL, *before = NULL;
	enum store_change change;
	char etag[STORE_ETAG_LEN] = "";
	int rc;

	if (api_body(r, false, &in) < 0)
		return;
	if (mode == API_CREATE) {
		const char *name = json_string_value(json_object_get(in, "name"));

		snprintf(r->param, sizeof(r->param), "%s", name ? name : "");
	}
	rc = store_begin(s);
	if (rc < 0) {
		api_fail(r, rc, "starting a transaction");
		goto out;
	}
	rc = store_get(s, r->kind, r->param, &cur, etag);
	if (rc < 0 && rc != -ENOENT) {
		api_fail(r, rc, "reading");
		goto out;
	}
	rc = api_object_input(r, mode, cur, etag, &in);
	if (rc == 0)
		rc = api_object_validate(r, in, &canon);
	if (rc < 0)
		goto out;
	rc = store_put(s, r->kind, r->param, canon, &change, &before);
	if (rc == 0 && change != STORE_UNCHANGED)
		rc = audit_record(store_db(s), r->actor, cur ? "update" : "create", r->kind, NULL,
				  r->param, before, canon);
	if (rc < 0) {
		api_fail(r, rc, "writing");
		goto out;
	}
	if (api_object_finish(r) < 0)
		goto out;
	json_decref(before);
	before = NULL;
	if (store_get(s, r->kind, r->param, &before, r->rep->etag) < 0)
		r->rep->etag[0] = '\0';
	api_reply(r, cur ? 200 : 201, api_object_view(r, json_incref(canon)));
	if (!cur)
		snprintf(r->rep->location, sizeof(r->rep->location), "/v1/%s/%s",
			 r->kind->plural, r->param);
out:
	store_rollback(s);
	json_decref(in);
	json_decref(cur);
	json_decref(canon);
	json_decref(before);
}

void api_object_create(struct api_req *r)
{
	api_object_write(r, API_CREATE);
}

void api_object_put(struct api_req *r)
{
	api_object_write(r, API_PUT);
}

void api_object_patch(struct api_req *r)
{
	api_object_write(r, API_PATCH);
}

static json_t *api_object_referrers_details(const json_t *refs)
{
	json_t *details = json_array(), *v;
	char path[512];
	size_t i;

	json_array_foreach(refs, i, v) {
		const struct kind_ops *k = kind_by_name(json_string_value(json_object_get(v, "kind")));

		snprintf(path, sizeof(path), "%s/%s.%s", k ? k->plural : "?",
			 json_string_value(json_object_get(v, "name")),
			 json_string_value(json_object_get(v, "field")));
		json_array_append_new(details, json_pack("{s:s, s:s}", "path", path,
							 "message", "still refers to it"));
	}
	return details;
}

void api_object_delete(struct api_req *r)
{
	struct store *s = r->api->store;
	json_t *cur = NULL, *refs = NULL;
	char etag[STORE_ETAG_LEN] = "";
	int rc = store_begin(s);

	if (rc == 0)
		rc = store_get(s, r->kind, r->param, &cur, etag);
	if (rc == -ENOENT) {
		api_error(r, 404, NULL, NULL, "%s '%s' does not exist", r->kind->name, r->param);
		goto out;
	}
	if (rc == 0 && api_object_precondition(r, etag, true) < 0)
		goto out;
	if (rc == 0)
		rc = store_referrers(s, r->kind, r->param, &refs);
	if (rc == 0 && json_array_size(refs) > 0) {
		api_error(r, 409, NULL, api_object_referrers_details(refs),
			  "%s '%s' is still referred to by %zu field(s)", r->kind->name, r->param,
			  json_array_size(refs));
		goto out;
	}
	if (rc == 0)
		rc = store_delete(s, r->kind, r->param, r->actor, NULL);
	if (rc == 0)
		rc = audit_record(store_db(s), r->actor, "delete", r->kind, NULL, r->param, cur, NULL);
	if (rc < 0) {
		api_fail(r, rc, "deleting");
		goto out;
	}
	if (api_object_finish(r) == 0)
		api_reply(r, 204, NULL);
out:
	store_rollback(s);
	json_decref(cur);
	json_decref(refs);
}
