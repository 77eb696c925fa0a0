/* Topologies: a full mesh or a hub-and-spoke over a set of member sites. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kind.h"
#include "valid.h"

static const char *const topology_kinds[] = { "full-mesh", "hub-spoke", NULL };
static const char *const topology_tunnel_types[] = { "gre", "vti", NULL };

static const struct valid_field topology_fields[] = {
	{ .key = "name", .type = VALID_NAME, .required = true },
	{ .key = "kind", .type = VALID_ENUM, .choices = topology_kinds, .required = true },
	{ .key = "tunnel_type", .type = VALID_ENUM, .choices = topology_tunnel_types,
	  .def_str = "gre" },
	{ .key = "profile", .type = VALID_NAME, .required = true },
	{ .key = "members", .type = VALID_NAMES },
	{ .key = "match_tags", .type = VALID_TAGS },
	{ .key = "hubs", .type = VALID_NAMES },
	{ .key = "summary_prefixes", .type = VALID_PREFIXES },
	{ .key = "description", .type = VALID_STRING, .max = 255 },
};

static int topology_normalize(const json_t *in, const char *path, struct verr *errs,
			      json_t **out)
{
	size_t before = verr_count(errs);
	json_t *body = NULL, *hubs, *sums;
	const char *kind;
	char fpath[512];
	int r;

	*out = NULL;
	r = valid_object(in, path, topology_fields,
			 sizeof(topology_fields) / sizeof(topology_fields[0]), errs, &body);
	if (!body)
		goto out;
	kind = json_string_value(json_object_get(body, "kind"));
	hubs = json_object_get(body, "hubs");
	sums = json_object_get(body, "summary_prefixes");
	verr_path_key(fpath, sizeof(fpath), path, "hubs");
	if (kind && hubs && !strcmp(kind, "hub-spoke") && !json_array_size(hubs))
		verr_add(errs, fpath, "required for hub-spoke: name at least one hub");
	if (kind && hubs && !strcmp(kind, "full-mesh") && json_array_size(hubs))
		verr_add(errs, fpath, "hub not allowed in full-mesh: every member is equal there");
	verr_path_key(fpath, sizeof(fpath), path, "summary_prefixes");
	if (kind && sums && !strcmp(kind, "full-mesh") && json_array_size(sums))
		verr_add(errs, fpath, "only for hub-spoke: a full mesh has no hub to summarise at");
out:
	return valid_finish(r, errs, before, body, out);
}

static int topology_refs_list(const json_t *body, const char *key, kind_ref_fn fn, void *ctx)
{
	char field[64];
	json_t *v;
	size_t i;
	int r;

	json_array_foreach(json_object_get(body, key), i, v) {
		if (!json_is_string(v))
			continue;
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		r = fn(ctx, "site", json_string_value(v), field);
		if (r)
			return r;
	}
	return 0;
}

static int topology_refs(const json_t *body, kind_ref_fn fn, void *ctx)
{
	const char *profile = json_string_value(json_object_get(body, "profile"));
	int r = 0;

	if (profile)
		r = fn(ctx, "profile", profile, "profile");
	if (!r)
		r = topology_refs_list(body, "members", fn, ctx);
	if (!r)
		r = topology_refs_list(body, "hubs", fn, ctx);
	return r;
}

const struct kind_ops kind_topology = {
	.name = "topology",
	.plural = "topologies",
	.normalize = topology_normalize,
	.refs = topology_refs,
	.redact = NULL,
};
