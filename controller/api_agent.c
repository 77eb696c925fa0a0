#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "audit.h"
#include "log.h"
#include "compile.h"
#include "revision.h"
#include "longpoll.h"
#include "metrics.h"
#include "psk.h"
#include "status.h"

/* An agent token acts for its own site only; admins may act for any site. */
int api_agent_allowed(struct api_req *r)
{
	if (r->who.role == AUTH_ADMIN ||
	    (r->who.role == AUTH_AGENT && strcmp(r->who.site, r->param) == 0))
		return 0;
	api_error(r, 403, NULL, NULL, "this token may not act for site '%s'", r->param);
	return -EACCES;
}

static int api_agent_after(struct api_req *r, uint64_t *after)
{
	const char *v = http_query(r->http, "after");
	char *end;

	*after = 0;
	if (!v)
		return 0;
	errno = 0;
	*after = strtoull(v, &end, 10);
	if (!*v || *end || errno || *v == '-') {
		api_error(r, 400, NULL, json_pack("[{s:s, s:s}]", "path", "after", "message",
			  "must be a revision number"), "query parameter after must be a revision");
		return -EINVAL;
	}
	return 0;
}

/* Nothing newer than the agent has: hold the request until there is, or answer 204
 * once the hold has timed out. Sets the reply (status 0 while parked). */
static void api_agent_hold(struct api_req *r)
{
	int rc;

	if (longpoll_timed_out(r->http)) {
		api_reply(r, 204, NULL);
		return;
	}
	rc = longpoll_park(r->api->poll, r->http, r->param, r->api->poll_timeout_ms);
	if (rc == -ESHUTDOWN)
		api_reply(r, 204, NULL);
	else if (rc < 0)
		api_fail(r, rc, "holding the request");
	else
		r->rep->status = 0;
}

static int api_agent_site_exists(struct api_req *r)
{
	json_t *body = NULL;
	int rc = store_get(r->api->store, &kind_site, r->param, &body, NULL);

	json_decref(body);
	if (rc == -ENOENT)
		api_error(r, 404, NULL, NULL, "site '%s' does not exist", r->param);
	else if (rc < 0)
		api_fail(r, rc, "reading the site");
	return rc;
}

/* Deleting a site revokes its agent tokens and wakes its held polls, which then fail
 * authentication; but they were authenticated when they parked, and what happened is
 * that the site is gone: the documented answer is 404. Only the connection that held
 * the poll learns it. */
bool api_agent_held_site_gone(struct api_req *r)
{
	const char *site = longpoll_held_site(r->http);
	json_t *body = NULL;
	int rc;

	if (!site)
		return false;
	rc = store_get(r->api->store, &kind_site, site, &body, NULL);
	json_decref(body);
	if (rc != -ENOENT)
		return false;
	api_error(r, 404, NULL, NULL, "site '%s' does not exist", site);
	return true;
}

/* An agent that had an older revision gets a newer one: how long after its commit. A
 * first fetch (after=0) is a start, not a propagation, and is left out. */
static void api_agent_fanout(uint64_t after, uint64_t rev, const char *at)
{
	struct timespec now;
	int64_t ms;

	if (after == 0 || after >= rev || intent_time_parse(at, &ms) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	metrics_fanout(((double)now.tv_sec * 1000 + now.tv_nsec / 1e6 - (double)ms) / 1e3);
}

void api_agent_intent(struct api_req *r)
{
	char at[INTENT_TIME_LEN];
	uint64_t after, rev;
	char *text = NULL;
	int rc;

	if (api_agent_allowed(r) < 0 || api_agent_after(r, &after) < 0 ||
	    api_agent_site_exists(r) < 0)
		return;
	rc = revision_get_at(r->api->store, r->param, &rev, at);
	if (rc < 0) {
		api_fail(r, rc, "reading the intent revision");
		return;
	}
	/* Any other revision is news: one ahead of ours (a restored database) too. */
	if (rev == after) {
		api_agent_hold(r);
		return;
	}
	rc = revision_current(r->api->store, r->param, &rev, &text);
	if (rc == -ENOENT) {
		api_error(r, 404, NULL, NULL, "site '%s' does not exist", r->param);
		return;
	}
	if (rc < 0) {
		api_fail(r, rc, "compiling the intent");
		return;
	}
	r->rep->status = 200;
	r->rep->raw = text;
	snprintf(r->rep->etag, sizeof(r->rep->etag), "\"%llu\"", (unsigned long long)rev);
	api_agent_fanout(after, rev, at);
}

/* New agent features change what the site's tunnels compile to (the psk's form, at
 * both ends of each tunnel): recompile the site and its peers, which bumps the
 * revisions of those whose intents changed and wakes their held polls. */
static int api_agent_features(struct api_req *r, const json_t *report, bool changed)
{
	char *text;
	int rc;

	if (!changed)
		return 0;
	text = json_dumps(json_object_get(report, "features"), JSON_COMPACT);
	log_ctx(LOG_LVL_INFO, r->param, NULL, "agent features now %s: recompiling", text ? text : "none");
	free(text);
	rc = psk_recompile_site(r->api->store, r->param);
	if (rc == -EINVAL) {
		log_ctx(LOG_LVL_WARN, r->param, NULL, "recompiling after new agent features: "
			"a site does not compile; its intent stays as it was");
		/* The committed context no longer matches the stored features: the next
		 * write must not derive its context from it (compile_delta.c). */
		store_set_compiled(r->api->store, NULL);
	}
	return rc == -EINVAL ? 0 : rc;
}

void api_agent_status(struct api_req *r)
{
	struct verr *errs = NULL;
	json_t *in = NULL, *report = NULL;
	bool changed = false;
	int rc;

	if (api_agent_allowed(r) < 0 || api_agent_site_exists(r) < 0 || api_body(r, false, &in) < 0)
		goto out;
	errs = verr_new();
	rc = errs ? status_normalize(in, errs, &report) : -ENOMEM;
	if (rc == 0)
		rc = status_check(r->api->store, r->param, report, errs);
	if (rc == -EINVAL) {
		api_error(r, 422, NULL, verr_json(errs), "invalid status report: %zu error(s)",
			  verr_count(errs));
		goto out;
	}
	if (rc == 0)
		rc = status_features_changed(r->api->store, r->param, report, &changed);
	if (rc == 0)
		rc = status_save(r->api->store, r->param, report);
	if (rc == 0)
		rc = api_agent_features(r, report, changed);
	/* The agents' heartbeats are the clock of psk_max_age. */
	if (rc == 0 && (rc = psk_rotate_due(r->api->store, r->param)) > 0)
		rc = 0;
	if (rc < 0)
		api_fail(r, rc, "saving the status report");
	else
		api_reply(r, 204, NULL);
out:
	verr_free(errs);
	json_decref(in);
	json_decref(report);
}

/* An unmanaged site has no agent to give a token to: its gateway is configured from
 * peer-config, and a token would let something pose as its agent. */
static int api_agent_managed(struct api_req *r)
{
	json_t *body = NULL;
	int rc = store_get(r->api->store, &kind_site, r->param, &body, NULL);

	if (rc == 0 && json_is_false(json_object_get(body, "managed"))) {
		api_error(r, 409, NULL, NULL, "site '%s' is unmanaged (managed: false): it has no "
			  "agent; configure its gateway from GET /v1/sites/%s/peer-config",
			  r->param, r->param);
		rc = -EEXIST;
	} else if (rc < 0) {
		api_fail(r, rc, "reading the site");
	}
	json_decref(body);
	return rc;
}

void api_agent_token(struct api_req *r)
{
	struct db *db = store_db(r->api->store);
	char *secret = NULL, name[300], idbuf[32];
	long long id = 0;
	json_t *rec = NULL;
	int rc;

	if (api_agent_site_exists(r) < 0 || api_agent_managed(r) < 0)
		return;
	snprintf(name, sizeof(name), "agent-%s", r->param);
	rc = db_begin(db);
	if (rc == 0)
		rc = auth_issue(db, name, AUTH_AGENT, r->param, &secret, &id);
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	rec = json_pack("{s:s, s:s, s:s}", "name", name, "role", "agent", "site", r->param);
	if (rc == 0)
		rc = audit_record(db, r->actor, "token-issue", NULL, "token", idbuf, NULL, rec);
	if (rc == 0)
		rc = db_commit(db);
	if (rc < 0)
		api_fail(r, rc, "issuing an agent token");
	else
		api_reply(r, 201, json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)id,
					    "name", name, "role", "agent", "site", r->param,
					    "token", secret));
	db_rollback(db);
	if (secret)
		memset(secret, 0, strlen(secret));
	free(secret);
	json_decref(rec);
}

void api_agent_summary(struct api_req *r)
{
	json_t *out = NULL;
	int rc = status_summary(r->api->store, r->api->stale_after, &out);

	if (rc < 0)
		api_fail(r, rc, "summarising status");
	else
		api_reply(r, 200, out);
}
