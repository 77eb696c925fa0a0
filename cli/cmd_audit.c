/* gresec audit [--limit N]: the last N entries of the audit log, oldest first. */
#include <errno.h>

#include "cli.h"

static const char *const audit_headers[] = { "ID", "TIME", "ACTOR", "ACTION", "KIND", "NAME" };
static const char *const audit_fields[] = { "id", "time", "actor", "action", "kind", "name" };
#define AUDIT_NCOLS (sizeof(audit_headers) / sizeof(audit_headers[0]))

int cmd_audit_run(struct cli *cli, int argc, char **argv)
{
	json_t *items = NULL;
	int rc;

	(void)argv;
	if (argc > 0)
		return cli_usage_error(cli, "audit takes no argument but --limit N");
	/* The log pages oldest first, so the newest N are at the end of the walk. */
	rc = cli_http_list(cli->http, "/v1/audit", NULL, (size_t)cli->limit, &items);
	if (rc == 0)
		rc = table_print_list(items, AUDIT_NCOLS, audit_headers, audit_fields, cli->json,
				      stdout);
	json_decref(items);
	return rc;
}
