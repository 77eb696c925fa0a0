/* GET /v1/sites/{name}/peer-config?format=swanctl|libreswan: an unmanaged site's
 * compiled intent as configuration for the third-party gateway that stands in for
 * gresec's agent there (peer_conf.c). The answer carries the tunnels' PSKs: operators
 * only, and every answer is in the audit log as a secret read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "log.h"
#include "peer_conf.h"
#include "revision.h"

/* 404 for no site, 409 for a site its agent manages: its gateway already has its
 * configuration, and a second IKE daemon beside the agent's charon would fight it. */
static int api_peer_site(struct api_req *r)
{
	json_t *body = NULL;
	int rc = store_get(r->api->store, &kind_site, r->param, &body, NULL);

	if (rc == -ENOENT)
		api_error(r, 404, NULL, NULL, "site '%s' does not exist", r->param);
	else if (rc < 0)
		api_fail(r, rc, "reading the site");
	else if (!json_is_false(json_object_get(body, "managed"))) {
		api_error(r, 409, NULL, NULL, "site '%s' is managed by its agent; peer-config is "
			  "for sites with managed: false", r->param);
		rc = -EEXIST;
	}
	json_decref(body);
	return rc;
}

static int api_peer_format(struct api_req *r, enum peer_conf_format *f)
{
	if (peer_conf_format_parse(http_query(r->http, "format"), f) == 0)
		return 0;
	api_error(r, 400, NULL, json_pack("[{s:s, s:s}]", "path", "format", "message",
		  "must be swanctl or libreswan"), "query parameter format is required: "
		  "swanctl (strongSwan) or libreswan");
	return -EINVAL;
}

static int api_peer_intent(struct api_req *r, struct intent **in)
{
	char *text = NULL, err[256];
	json_t *j = NULL;
	uint64_t rev;
	int rc = revision_current(r->api->store, r->param, &rev, &text);

	*in = NULL;
	if (rc == 0 && !(j = json_loads(text, 0, NULL)))
		rc = -ENOMEM;
	if (rc == 0)
		rc = intent_from_json(j, in, err, sizeof(err));
	if (rc == -EINVAL)
		log_ctx(LOG_LVL_ERR, r->param, NULL, "own intent does not decode: %s", err);
	json_decref(j);
	if (text)
		memset(text, 0, strlen(text));	/* PSKs */
	free(text);
	return rc;
}

/* The record names what was read (format, revision, tunnels), never the keys. The
 * request's read transaction ends first: the record is a write of its own, committed
 * before any secret leaves. */
static int api_peer_audit(struct api_req *r, const json_t *conf, const struct intent *in)
{
	struct db *db = store_db(r->api->store);
	json_t *rec = json_pack("{s:O, s:O, s:[]}", "format", json_object_get(conf, "format"),
				"revision", json_object_get(conf, "revision"), "tunnels");
	int rc = rec ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < in->n_tunnels; i++)
		rc = json_array_append_new(json_object_get(rec, "tunnels"),
					   json_string(in->tunnels[i].id)) ? -ENOMEM : 0;
	db_read_end(db);
	if (rc == 0)
		rc = db_begin(db);
	if (rc == 0)
		rc = audit_record(db, r->actor, "secret-read", NULL, "site", r->param, NULL, rec);
	if (rc == 0)
		rc = db_commit(db);
	db_rollback(db);
	db_read_begin(db);	/* api_run ends the read transaction it began */
	json_decref(rec);
	return rc;
}

void api_peer_config(struct api_req *r)
{
	enum peer_conf_format f;
	struct intent *in = NULL;
	json_t *conf = NULL;
	char why[512];
	int rc;

	if (api_peer_site(r) < 0 || api_peer_format(r, &f) < 0)
		return;
	rc = api_peer_intent(r, &in);
	if (rc == -ENOENT) {
		api_error(r, 404, NULL, NULL, "site '%s' does not exist", r->param);
		goto out;
	}
	if (rc == 0)
		rc = peer_conf_render(in, f, &conf, why, sizeof(why));
	if (rc == -ENOTSUP) {
		api_error(r, 422, NULL, json_pack("[{s:s, s:s}]", "path", "format", "message", why),
			  "site '%s' cannot be configured as %s: %s", r->param,
			  peer_conf_format_name(f), why);
		goto out;
	}
	if (rc == 0)
		rc = api_peer_audit(r, conf, in);
	if (rc < 0) {
		api_fail(r, rc, "rendering the peer configuration");
		goto out;
	}
	api_reply(r, 200, conf);
	conf = NULL;
out:
	json_decref(conf);
	intent_free(in);
}
