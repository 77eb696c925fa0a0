/* gresec status: the summary an operator looks at first. */
#include <errno.h>

#include "cli.h"

static json_int_t status_int(const json_t *obj, const char *key)
{
	return json_integer_value(json_object_get(obj, key));
}

static void status_print(const struct cli *cli, const json_t *st, const json_t *health)
{
	const json_t *s = json_object_get(st, "sites"), *t = json_object_get(st, "tunnels");

	fputs("controller  ", stdout);
	table_put_safe(cli_http_base(cli->http), stdout);
	if (json_is_integer(json_object_get(health, "schema_version")))
		printf(" (schema %" JSON_INTEGER_FORMAT ")", status_int(health, "schema_version"));
	printf("\nsites       %" JSON_INTEGER_FORMAT " total: %" JSON_INTEGER_FORMAT " seen, %"
	       JSON_INTEGER_FORMAT " stale, %" JSON_INTEGER_FORMAT " never (stale after %"
	       JSON_INTEGER_FORMAT " s)\n",
	       status_int(s, "total"), status_int(s, "seen"), status_int(s, "stale"),
	       status_int(s, "never"), status_int(s, "stale_after"));
	printf("tunnels     %" JSON_INTEGER_FORMAT " total: %" JSON_INTEGER_FORMAT " up, %"
	       JSON_INTEGER_FORMAT " degraded, %" JSON_INTEGER_FORMAT " idle, %" JSON_INTEGER_FORMAT
	       " down, %" JSON_INTEGER_FORMAT " pending\n", status_int(t, "total"),
	       status_int(t, "up"), status_int(t, "degraded"), status_int(t, "idle"),
	       status_int(t, "down"), status_int(t, "pending"));
}

int cmd_status_run(struct cli *cli, int argc, char **argv)
{
	json_t *st = NULL, *health = NULL;
	int rc;

	(void)argv;
	if (argc > 0)
		return cli_usage_error(cli, "status takes no argument");
	rc = cli_http_get(cli->http, "/v1/status", &st);
	if (rc < 0)
		goto out;
	if (cli->json) {
		rc = table_print_json(st, stdout);
		goto out;
	}
	/* Only the schema version comes from here: the summary does not depend on it. */
	rc = cli_http_get(cli->http, "/healthz", &health);
	if (rc < 0)
		goto out;
	status_print(cli, st, health);
out:
	json_decref(health);
	json_decref(st);
	return rc;
}
