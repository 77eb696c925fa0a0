/* gresec tunnels [--site NAME]: every materialised tunnel and its live state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const tunnels_headers[] = {
	"ID", "A", "B", "KIND", "PROFILE", "STATE", "A-END", "B-END", "SOURCE",
};
#define TUNNELS_NCOLS (sizeof(tunnels_headers) / sizeof(tunnels_headers[0]))

/* One end's last report, compactly and without blanks (a table cell): the agent's
 * liveness "down,nofwd,flaps=3,bfd-timeout"; from an agent older than BFD, its CHILD_SA
 * state "child=installed"; "-" without a report. A new reference. */
static json_t *tunnels_end(const json_t *item, const char *end)
{
	const json_t *st = json_object_get(json_object_get(item, "state"),
					   json_string_value(json_object_get(item, end)));
	const json_t *lv = json_object_get(st, "liveness");
	const char *why = json_string_value(json_object_get(lv, "reason"));
	const char *child = json_string_value(json_object_get(st, "child"));
	const char *state = json_string_value(json_object_get(lv, "state"));

	if (!json_is_object(st))
		return json_string("-");
	if (!json_is_object(lv))
		return json_sprintf("child=%s", child ? child : "?");
	return json_sprintf("%s,%s,flaps=%" JSON_INTEGER_FORMAT "%s%s",
			    state ? state : "?",
			    json_is_true(json_object_get(lv, "forwarding")) ? "fwd" : "nofwd",
			    json_integer_value(json_object_get(lv, "flaps")), why ? "," : "",
			    why ? why : "");
}

static int tunnels_table(json_t *items)
{
	struct table *t = table_new(TUNNELS_NCOLS, tunnels_headers);
	json_t *item;
	size_t i;
	int rc = -ENOMEM;

	if (!t)
		return -ENOMEM;
	json_array_foreach(items, i, item) {
		json_t *ea = tunnels_end(item, "a"), *eb = tunnels_end(item, "b");
		json_t *vals[TUNNELS_NCOLS] = {
			json_object_get(item, "id"),
			json_object_get(item, "a"),
			json_object_get(item, "b"),
			json_object_get(item, "tunnel_type"),
			json_object_get(item, "profile"),
			json_object_get(json_object_get(item, "state"), "overall"),
			ea,
			eb,
			json_object_get(item, "source"),
		};
		int added = ea && eb ? table_add_json(t, vals) : -ENOMEM;

		json_decref(ea);
		json_decref(eb);
		if (added < 0)
			goto out;
	}
	table_print(t, stdout);
	rc = 0;
out:
	table_free(t);
	return rc;
}

int cmd_tunnels_run(struct cli *cli, int argc, char **argv)
{
	json_t *items = NULL;
	char *esc = NULL, *query = NULL;
	int rc;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "list")))
		return cli_usage_error(cli, "tunnels takes no argument but --site NAME");
	rc = -ENOMEM;
	if (cli->site) {
		esc = cli_http_escape(cli->site);
		if (!esc || asprintf(&query, "site=%s", esc) < 0) {
			query = NULL;
			goto out;
		}
	}
	rc = cli_http_list(cli->http, "/v1/tunnels", query, 0, &items);
	if (rc < 0)
		goto out;
	rc = cli->json ? table_print_items(items, stdout) : tunnels_table(items);
out:
	json_decref(items);
	free(query);
	free(esc);
	return rc;
}
