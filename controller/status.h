/* Agents' status reports: validated, stored per site, and folded into the views the
 * NOC reads (GET /v1/status, tunnels and sites with their live state). */
#ifndef GRESEC_STATUS_H
#define GRESEC_STATUS_H

#include <stdbool.h>
#include <jansson.h>
#include "store.h"
#include "verr.h"

/* Validates a report; *out is its canonical form. -EINVAL with errs. */
int status_normalize(const json_t *in, struct verr *errs, json_t **out);
/* Rules that need the store: each id is one of the site's tunnels, once; the revision
 * is not ahead of the controller's. -EINVAL with errs. */
int status_check(struct store *s, const char *site, const json_t *report, struct verr *errs);
int status_save(struct store *s, const char *site, const json_t *report);
/* report (normalized) lists feature name. */
bool status_has_feature(const json_t *report, const char *name);
/* Whether report's "features" differ from those of the site's stored report (a site
 * without one had none). 0 or negative errno. */
int status_features_changed(struct store *s, const char *site, const json_t *report,
			    bool *changed);

/* The stored reports (of one site, or all when site is NULL), for decorating views:
 * {site: {"reported_at", "age", "stale", "applied_revision", "tunnels": {id: entry}}}. */
int status_load(struct store *s, const char *site, unsigned stale_after, json_t **out);
/* {"reported_at","applied_revision","stale",...} of one site, or null. */
json_t *status_site_view(const json_t *loaded, const char *site);
/* Adds "state" to each materialised tunnel of a tunnel_list page: per end, the
 * entry its agent last reported (with its liveness, if any), and an overall "up" /
 * "degraded" / "idle" / "down" / "pending". */
void status_decorate_tunnels(const json_t *loaded, json_t *items);
/* The GET /v1/status summary. */
int status_summary(struct store *s, unsigned stale_after, json_t **out);

#endif
