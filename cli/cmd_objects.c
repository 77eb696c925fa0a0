/* gresec sites | profiles | topologies: list (every page), show, delete. The three kinds
 * differ only in their path and the columns worth a table, so one table of kinds drives
 * them all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define OBJECTS_MAX_COLS 8

struct objects_kind {
	const char *name;	/* singular, for messages */
	const char *path;
	size_t ncols;
	const char *headers[OBJECTS_MAX_COLS];
	const char *fields[OBJECTS_MAX_COLS];
};

static const struct objects_kind objects_site = {
	"site", "/v1/sites", 6,
	{ "NAME", "UNDERLAY", "NAT", "MTU", "PREFIXES", "TAGS" },
	{ "name", "underlay", "behind_nat", "underlay_mtu", "prefixes", "tags" },
};

static const struct objects_kind objects_profile = {
	"profile", "/v1/profiles", 8,
	{ "NAME", "IKE", "AUTH", "MODE", "PROTOCOL", "START", "DPD", "ESP" },
	{ "name", "ike_version", "auth", "mode", "protocol", "start", "dpd_interval",
	  "esp_proposals" },
};

static const struct objects_kind objects_topology = {
	"topology", "/v1/topologies", 7,
	{ "NAME", "KIND", "TYPE", "PROFILE", "HUBS", "MEMBERS", "MATCH_TAGS" },
	{ "name", "kind", "tunnel_type", "profile", "hubs", "members", "match_tags" },
};

static int objects_list(struct cli *cli, const struct objects_kind *k)
{
	json_t *items = NULL;
	int rc = cli_http_list(cli->http, k->path, NULL, 0, &items);

	if (rc == 0)
		rc = table_print_list(items, k->ncols, k->headers, k->fields, cli->json, stdout);
	json_decref(items);
	return rc;
}

/* The agent line of a site: when its agent last reported, or that it never did. */
static char *objects_agent_line(const json_t *agent)
{
	char *s = NULL;

	if (!json_is_object(agent))
		return strdup("never reported");
	if (asprintf(&s, "reported %s (%" JSON_INTEGER_FORMAT " s ago, %s), applied revision %"
		     JSON_INTEGER_FORMAT,
		     json_string_value(json_object_get(agent, "reported_at")) ?: "?",
		     json_integer_value(json_object_get(agent, "age")),
		     json_is_true(json_object_get(agent, "stale")) ? "stale" : "fresh",
		     json_integer_value(json_object_get(agent, "applied_revision"))) < 0)
		return NULL;
	return s;
}

/* A site's read-only status folds into two lines of the same listing. */
static int objects_show_site(const json_t *obj)
{
	json_t *flat = json_copy((json_t *)obj);
	json_t *status = json_object_get(obj, "status");
	char *agent = objects_agent_line(json_object_get(status, "agent"));
	int rc = -ENOMEM;

	if (!flat || !agent)
		goto out;
	json_object_del(flat, "status");
	if (json_object_set_new(flat, "intent_revision",
				json_copy(json_object_get(status, "intent_revision"))) < 0 ||
	    json_object_set_new(flat, "agent", json_string(agent)) < 0)
		goto out;
	rc = table_print_object(flat, NULL, stdout);
out:
	free(agent);
	json_decref(flat);
	return rc;
}

static int objects_show(struct cli *cli, const struct objects_kind *k, const char *name)
{
	char *esc = cli_http_escape(name), *path = NULL;
	json_t *obj = NULL;
	int rc = -ENOMEM;

	if (!esc || asprintf(&path, "%s/%s", k->path, esc) < 0) {
		path = NULL;
		goto out;
	}
	rc = cli_http_get(cli->http, path, &obj);
	if (rc < 0)
		goto out;
	if (cli->json)
		rc = table_print_json(obj, stdout);
	else if (k == &objects_site)
		rc = objects_show_site(obj);
	else
		rc = table_print_object(obj, NULL, stdout);
out:
	json_decref(obj);
	free(path);
	free(esc);
	return rc;
}

static int objects_delete(struct cli *cli, const struct objects_kind *k, const char *name)
{
	char *esc = cli_http_escape(name), *path = NULL;
	json_t *body = NULL;
	int rc = -ENOMEM;

	if (!esc || asprintf(&path, "%s/%s", k->path, esc) < 0) {
		path = NULL;
		goto out;
	}
	rc = cli_http_request(cli->http, "DELETE", path, NULL, NULL, 0, &body);
	if (rc < 0)
		goto out;
	if (!cli->json) {
		printf("deleted %s ", k->name);
		table_put_safe(name, stdout);
		putchar('\n');
	}
out:
	json_decref(body);
	free(path);
	free(esc);
	return rc;
}

static int objects_run(struct cli *cli, const struct objects_kind *k, int argc, char **argv)
{
	if (argc == 0 || (argc == 1 && !strcmp(argv[0], "list")))
		return objects_list(cli, k);
	if (argc == 2 && !strcmp(argv[0], "show"))
		return objects_show(cli, k, argv[1]);
	if (argc == 2 && !strcmp(argv[0], "delete"))
		return objects_delete(cli, k, argv[1]);
	if (!strcmp(argv[0], "show") || !strcmp(argv[0], "delete"))
		return cli_usage_error(cli, "%s %s takes exactly one NAME", cli->cmd, argv[0]);
	return cli_usage_error(cli, "%s: unknown subcommand or extra argument '%s'", cli->cmd,
			       argv[argc > 1 && !strcmp(argv[0], "list") ? 1 : 0]);
}

int cmd_sites_run(struct cli *cli, int argc, char **argv)
{
	return objects_run(cli, &objects_site, argc, argv);
}

int cmd_profiles_run(struct cli *cli, int argc, char **argv)
{
	return objects_run(cli, &objects_profile, argc, argv);
}

int cmd_topologies_run(struct cli *cli, int argc, char **argv)
{
	return objects_run(cli, &objects_topology, argc, argv);
}
