/* The table of object kinds, in dependency order: sites and profiles refer to nothing,
 * topologies and explicit tunnels refer to both. */
#include <string.h>

#include "kind.h"

const struct kind_ops *const kind_all[] = {
	&kind_site,
	&kind_profile,
	&kind_topology,
	&kind_tunnel,
};

const size_t kind_count = sizeof(kind_all) / sizeof(kind_all[0]);

const struct kind_ops *kind_by_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < kind_count; i++)
		if (!strcmp(kind_all[i]->name, name))
			return kind_all[i];
	return NULL;
}

const struct kind_ops *kind_by_plural(const char *plural)
{
	size_t i;

	for (i = 0; plural && i < kind_count; i++)
		if (!strcmp(kind_all[i]->plural, plural))
			return kind_all[i];
	return NULL;
}
