/* Bulk import (JSON document or CSV of sites) and export of the whole store. */
#ifndef GRESEC_IMPORT_H
#define GRESEC_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "store.h"
#include "verr.h"

struct import_opts {
	bool replace;		/* also delete what the document does not name */
	bool dry_run;		/* compute and report, write nothing */
	const char *actor;	/* for the audit log */
};

/* One transaction. 0 with *result = the report (see docs/api.md); -EINVAL with every
 * error in errs and nothing written; other negative errno on storage failure. */
int import_json(struct store *s, const json_t *doc, const struct import_opts *o,
		struct verr *errs, json_t **result);
/* CSV of sites: header row, then one site per line. Errors at "line N.<column>". */
int import_csv(struct store *s, const char *buf, size_t len, const struct import_opts *o,
	       struct verr *errs, json_t **result);
/* The whole store as an import document: a new reference. */
int import_export(struct store *s, json_t **doc);

#endif
