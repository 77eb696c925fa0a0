/* The audit log: every write, who made it, and the object before and after it, with
 * secrets redacted before anything is stored. */
#ifndef GRESEC_AUDIT_H
#define GRESEC_AUDIT_H

#include <jansson.h>
#include "db.h"
#include "kind.h"

/* Inside the writing transaction, so the record commits or rolls back with the change.
 * k may be NULL for objects outside the kind table (tokens); before/after may be NULL. */
int audit_record(struct db *db, const char *actor, const char *action,
		 const struct kind_ops *k, const char *kind_name, const char *name,
		 const json_t *before, const json_t *after);
/* Records with id > after, oldest first, at most limit: {"items":[...],"next":id|null}. */
int audit_list(struct db *db, long long after, unsigned limit, json_t **out);

#endif
