/* Profiles: how a tunnel is keyed and protected (IKE version, proposals, lifetimes). */
#include <errno.h>
#include <string.h>

#include "intent.h"
#include "kind.h"
#include "valid.h"

static const char *const profile_keying[] = { "ike", "ikeless", NULL };
static const char *const profile_auth[] = { "psk", "x509", NULL };
static const char *const profile_mode[] = { "transport", "tunnel", NULL };
static const char *const profile_protocol[] = { "esp", "ah", NULL };
static const char *const profile_start[] = { "on-demand", "always", NULL };
static const char *const profile_ike_default[] = { "aes256gcm16-prfsha384-ecp384", NULL };
static const char *const profile_esp_default[] = { "aes256gcm16-ecp384", NULL };
static const char *const profile_ah_default[] = { "sha256-ecp384", NULL };

/* Liveness of each tunnel of the profile: BFD between the overlay addresses. Every
 * sub-field is filled in, so an export shows what the sites run. */
static const struct valid_field profile_bfd_fields[] = {
	{ .key = "enabled", .type = VALID_BOOL, .def = 1 },
	{ .key = "interval_ms", .type = VALID_INT, .min = INTENT_BFD_INTERVAL_MIN,
	  .max = INTENT_BFD_INTERVAL_MAX, .def = INTENT_BFD_INTERVAL_DEFAULT },
	{ .key = "multiplier", .type = VALID_INT, .min = INTENT_BFD_MULT_MIN,
	  .max = INTENT_BFD_MULT_MAX, .def = INTENT_BFD_MULT_DEFAULT },
};

static const struct valid_field profile_fields[] = {
	{ .key = "name", .type = VALID_NAME, .required = true },
	{ .key = "keying", .type = VALID_ENUM, .choices = profile_keying, .def_str = "ike" },
	/* IKEv2 only: docs/architecture.md, "IKE version", says why. */
	{ .key = "ike_version", .type = VALID_INT, .min = 2, .max = 2, .def = 2 },
	{ .key = "ike_proposals", .type = VALID_PROPOSALS, .proposal = VALID_PROPOSAL_IKE,
	  .choices = profile_ike_default },
	{ .key = "esp_proposals", .type = VALID_PROPOSALS, .proposal = VALID_PROPOSAL_ESP,
	  .choices = profile_esp_default },
	{ .key = "ah_proposals", .type = VALID_PROPOSALS, .proposal = VALID_PROPOSAL_AH,
	  .choices = profile_ah_default },
	{ .key = "auth", .type = VALID_ENUM, .choices = profile_auth, .def_str = "psk" },
	{ .key = "mode", .type = VALID_ENUM, .choices = profile_mode, .def_str = "transport" },
	{ .key = "protocol", .type = VALID_ENUM, .choices = profile_protocol, .def_str = "esp" },
	{ .key = "ike_lifetime", .type = VALID_INT, .min = 300, .max = 604800, .def = 86400 },
	{ .key = "sa_lifetime", .type = VALID_INT, .min = 10, .max = 86400, .def = 3600 },
	{ .key = "dpd_interval", .type = VALID_INT, .min = 0, .max = 3600, .def = 30 },
	{ .key = "start", .type = VALID_ENUM, .choices = profile_start, .def_str = "on-demand" },
	{ .key = "ecmp", .type = VALID_BOOL, .def = 0 },
	/* Seconds a tunnel's PSK is used before the controller rotates it; null: never.
	 * Checked at each agent report (psk.c). */
	{ .key = "psk_max_age", .type = VALID_INT, .nullable = true, .min = 3600,
	  .max = 315360000 },
	{ .key = "bfd", .type = VALID_OBJECT, .fields = profile_bfd_fields,
	  .nfields = sizeof(profile_bfd_fields) / sizeof(profile_bfd_fields[0]) },
	{ .key = "description", .type = VALID_STRING, .max = 255 },
};

static int profile_normalize(const json_t *in, const char *path, struct verr *errs,
			     json_t **out)
{
	size_t before = verr_count(errs);
	json_t *body = NULL, *ike, *sa;
	const char *keying;
	char fpath[512];
	int r;

	*out = NULL;
	r = valid_object(in, path, profile_fields,
			 sizeof(profile_fields) / sizeof(profile_fields[0]), errs, &body);
	if (!body)
		goto out;
	keying = json_string_value(json_object_get(body, "keying"));
	if (keying && !strcmp(keying, "ikeless"))
		verr_add(errs, verr_path_key(fpath, sizeof(fpath), path, "keying"),
			 "'ikeless' is reserved for a future release");
	/* A child SA must be rekeyed inside the IKE SA that keys it. */
	ike = json_object_get(body, "ike_lifetime");
	sa = json_object_get(body, "sa_lifetime");
	if (ike && sa && json_integer_value(sa) >= json_integer_value(ike))
		verr_add(errs, verr_path_key(fpath, sizeof(fpath), path, "sa_lifetime"),
			 "must be less than ike_lifetime (%lld)", json_integer_value(ike));
out:
	return valid_finish(r, errs, before, body, out);
}

const struct kind_ops kind_profile = {
	.name = "profile",
	.plural = "profiles",
	.normalize = profile_normalize,
	.refs = NULL,
	.redact = NULL,		/* no secrets: pre-shared keys are per tunnel, not per profile */
};
