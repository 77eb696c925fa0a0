/* Explicit point-to-point tunnels between two named sites. */
#include <errno.h>
#include <string.h>

#include "kind.h"
#include "valid.h"

static const char *const tunnel_types[] = { "gre", "vti", NULL };

static const struct valid_field tunnel_fields[] = {
	{ .key = "name", .type = VALID_NAME, .required = true },
	{ .key = "a", .type = VALID_NAME, .required = true },
	{ .key = "b", .type = VALID_NAME, .required = true },
	{ .key = "tunnel_type", .type = VALID_ENUM, .choices = tunnel_types, .def_str = "gre" },
	{ .key = "profile", .type = VALID_NAME, .required = true },
	{ .key = "description", .type = VALID_STRING, .max = 255 },
};

static int tunnel_normalize(const json_t *in, const char *path, struct verr *errs,
			    json_t **out)
{
	size_t before = verr_count(errs);
	const char *a, *b;
	json_t *body = NULL;
	char fpath[512];
	int r;

	*out = NULL;
	r = valid_object(in, path, tunnel_fields,
			 sizeof(tunnel_fields) / sizeof(tunnel_fields[0]), errs, &body);
	if (!body)
		goto out;
	a = json_string_value(json_object_get(body, "a"));
	b = json_string_value(json_object_get(body, "b"));
	if (a && b && !strcmp(a, b))
		verr_add(errs, verr_path_key(fpath, sizeof(fpath), path, "b"),
			 "must differ from a: a site needs no tunnel to itself");
out:
	return valid_finish(r, errs, before, body, out);
}

static int tunnel_refs(const json_t *body, kind_ref_fn fn, void *ctx)
{
	static const char *const site_fields[] = { "a", "b" };
	const char *v;
	size_t i;
	int r;

	for (i = 0; i < 2; i++) {
		v = json_string_value(json_object_get(body, site_fields[i]));
		if (v && (r = fn(ctx, "site", v, site_fields[i])))
			return r;
	}
	v = json_string_value(json_object_get(body, "profile"));
	return v ? fn(ctx, "profile", v, "profile") : 0;
}

const struct kind_ops kind_tunnel = {
	.name = "tunnel",
	.plural = "tunnels",
	.normalize = tunnel_normalize,
	.refs = tunnel_refs,
	.redact = NULL,
};
