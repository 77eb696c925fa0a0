/* Validation helpers shared by the object kinds: names, strongSwan proposal strings, and
 * a table-driven reader that turns an input JSON object into its canonical body while
 * collecting every error (not just the first) with its JSON path. */
#ifndef GRESEC_VALID_H
#define GRESEC_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "proposal.h"
#include "verr.h"

/* A DNS label: 1–63 of a-z, 0-9 and '-', not starting or ending with '-'. */
bool valid_name(const char *s);
#define VALID_NAME_MSG "must be 1\u201363 characters of a-z, 0-9 and '-', " \
	"not starting or ending with '-'"

/* charon's grammar, by the kinds of the shared allow-list (api/proposal.h) */
enum valid_proposal_kind {
	VALID_PROPOSAL_IKE = PROPOSAL_IKE,
	VALID_PROPOSAL_ESP = PROPOSAL_ESP,
	VALID_PROPOSAL_AH = PROPOSAL_AH,
};

/* One strongSwan proposal ("aes128-sha256-modp2048"), checked against the keywords of
 * the strongSwan the agent runs (5.9) and the rules charon applies when it loads it,
 * so a profile never fails at the sites. 0, or -EINVAL with a short reason in why
 * (which may be NULL) naming the offending token. */
int valid_proposal(const char *s, enum valid_proposal_kind kind, char *why, size_t whylen);

enum valid_type {
	VALID_STRING,		/* max: length limit in characters; def_str or "" */
	VALID_NAME,		/* valid_name() */
	VALID_BOOL,		/* def: 0 or 1 */
	VALID_INT,		/* min..max, def */
	VALID_ENUM,		/* one of choices; def_str */
	VALID_ADDR,		/* a unicast address, in canonical text */
	VALID_PREFIXES,		/* CIDRs: canonical, sorted, host bits clear, no duplicates; [] */
	VALID_NAMES,		/* names: sorted, no duplicates; [] */
	VALID_TAGS,		/* object string → string; {} */
	VALID_PROPOSALS,	/* proposal strings of kind proposal, order kept; choices */
	VALID_OBJECT,		/* an object read by valid_object() against fields/nfields;
				 * absent → every sub-field's default */
};

struct valid_field {
	const char *key;
	enum valid_type type;
	bool required;
	bool nullable;		/* absent or null → null in the canonical body */
	long long min, max;
	long long def;
	const char *def_str;
	const char *const *choices;	/* NULL-terminated */
	enum valid_proposal_kind proposal;
	const struct valid_field *fields;	/* VALID_OBJECT */
	size_t nfields;
};

/* Reads in against the n fields: required fields present, no unknown fields, each value
 * valid. Errors go to errs under path. Returns 0 (clean) or -EINVAL (errors added) with
 * *out set to the canonical body holding every field that was valid (defaults filled in),
 * so the caller can still check rules across fields; -ENOMEM with *out NULL. *out is NULL
 * too when in is not an object. */
int valid_object(const json_t *in, const char *path, const struct valid_field *fields,
		 size_t n, struct verr *errs, json_t **out);
/* Ends a normalize(): 0 with *out = body when errs gained nothing since errs_before,
 * otherwise body is released and r (if negative) or -EINVAL returned. */
int valid_finish(int r, struct verr *errs, size_t errs_before, json_t *body, json_t **out);

#endif
