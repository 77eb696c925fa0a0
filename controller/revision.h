/* Intent revisions (revision.c): bumped exactly when a site's compiled intent changes. */
#ifndef GRESEC_REVISION_H
#define GRESEC_REVISION_H

#include <stdint.h>
#include <jansson.h>
#include "compile.h"
#include "store.h"
#include "verr.h"

/* Inside the writing transaction (store_finish): recompiles the sites the writes may
 * affect and bumps the revision of each whose intent changed. changes is the
 * transaction's write log ([{"kind","name","old","new"}], NULL: everything changed),
 * dirty a set of sites already known to be affected (from materialisation). *changed
 * (may be NULL) gets the names whose revision moved; *ctx the context it compiled
 * from, to serve intents from once the transaction commits. path_of (may be NULL) maps
 * a site to the path its errors go under, as in store_finish. */
int revision_refresh(struct store *s, struct verr *errs, const json_t *changes,
		    const json_t *dirty, const char *(*path_of)(void *, const char *, const char *),
		    void *path_ctx, json_t **changed, struct compile_ctx **ctx);
/* The current intent of site as JSON text (malloc'd) and its revision. -ENOENT for a
 * site that does not exist. */
int revision_current(struct store *s, const char *site, uint64_t *revision, char **text);
/* The stored revision of a site's intent, 0 when it never had one. */
int revision_get(struct store *s, const char *site, uint64_t *revision);
/* The same, and when it was committed (at: "" when never). */
int revision_get_at(struct store *s, const char *site, uint64_t *revision,
		    char at[INTENT_TIME_LEN]);

#endif
