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
/* import_csv.c: the CSV's rows as site items, unchecked beyond each cell's conversion
 * (valid UTF-8, booleans, integers, words, key=value tags): appended to items, with
 * their paths ("line N") to paths. Conversion errors go to errs at "line N.<column>";
 * 0 even then, -ENOMEM only when memory runs out. No store: a fuzz target runs it. */
int import_csv_sites(const char *buf, size_t len, struct verr *errs, json_t *items,
		     json_t *paths);
/* Offset of the first byte of s[0..len) that is not strict UTF-8, or -1. */
long import_csv_utf8_bad(const char *s, size_t len);
/* The whole store as an import document: a new reference. */
int import_export(struct store *s, json_t **doc);

#endif
