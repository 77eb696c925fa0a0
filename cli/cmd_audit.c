/* gresec audit [--limit N]: the last N entries of the audit log, oldest first. */
#include <errno.h>

#include "cli.h"

static const char *const audit_headers[] = { "ID", "TIME", "ACTOR", "ACTION", "KIND", "NAME" };
static const char *const audit_fields[] = { "id", "time", "actor", "action", "kind", "name" };
#define AUDIT_NCOLS (sizeof(audit_headers) / sizeof(audit_headers[0]))

int cmd_audit_run(struct cli *cli, int argc, char **argv)
{
	struct table *t = NULL;
	json_t *items = NULL, *item;
	size_t i, c;
	int rc;

	(void)argv;
	if (argc > 0)
		return cli_usage_error(cli, "audit takes no argument but --limit N");
	/* The log pages oldest first, so the newest N are at the end of the walk. */
	rc = cli_http_list(cli->http, "/v1/audit", NULL, (size_t)cli->limit, &items);
	if (rc < 0)
		goto out;
	if (cli->json) {
		rc = table_print_items(items, stdout);
		goto out;
	}
	rc = -ENOMEM;
	t = table_new(AUDIT_NCOLS, audit_headers);
	if (!t)
		goto out;
	json_array_foreach(items, i, item) {
		json_t *vals[AUDIT_NCOLS];

		for (c = 0; c < AUDIT_NCOLS; c++)
			vals[c] = json_object_get(item, audit_fields[c]);
		if (table_add_json(t, vals) < 0)
			goto out;
	}
	table_print(t, stdout);
	rc = 0;
out:
	table_free(t);
	json_decref(items);
	return rc;
}
