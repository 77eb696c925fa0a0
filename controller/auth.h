/* API tokens: issued with a role (and a site for agents), stored only as SHA-256 hashes. */
#ifndef GRESEC_AUTH_H
#define GRESEC_AUTH_H

#include <jansson.h>
#include "db.h"

enum auth_role { AUTH_NONE = 0, AUTH_AGENT, AUTH_VIEWER, AUTH_OPERATOR, AUTH_ADMIN };

struct auth_principal {
	long long id;
	enum auth_role role;
	char name[64];		/* for the audit log: "token:<id>:<name>" */
	char site[64];		/* agent tokens: the one site they may act for */
};

const char *auth_role_name(enum auth_role role);
/* AUTH_NONE for an unknown name. */
enum auth_role auth_role_parse(const char *name);
/* 0 with p filled for a valid, unrevoked token; -EACCES otherwise. */
int auth_lookup(struct db *db, const char *secret, struct auth_principal *p);
/* Issues a token. *secret (malloc'd) is the only copy of the secret there will ever be. */
int auth_issue(struct db *db, const char *name, enum auth_role role, const char *site,
	       char **secret, long long *id);
/* -ENOENT for an unknown or already revoked id. */
int auth_revoke(struct db *db, long long id);
/* Revokes every agent token of site (when the site is deleted: a new site of the same
 * name must not inherit them). *ids is a new array of the ids revoked (maybe empty).
 * Called by store_delete only, inside its transaction. */
int auth_revoke_site(struct db *db, const char *site, json_t **ids);
int auth_list(struct db *db, long long after, unsigned limit, json_t **out);
/* On first start: when no unrevoked admin token exists, issues one and writes it to
 * path with mode 0600 (atomically). */
int auth_bootstrap(struct db *db, const char *path);

#endif
