/* gresec tokens [list | issue NAME ROLE | revoke ID] and gresec agent-token SITE.
 *
 * A secret is printed once, when it is issued, alone on stdout (so `T=$(gresec tokens
 * issue bot viewer)` captures exactly it); what describes it goes to stderr.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const tokens_headers[] = {
	"ID", "NAME", "ROLE", "SITE", "CREATED", "REVOKED",
};
#define TOKENS_NCOLS (sizeof(tokens_headers) / sizeof(tokens_headers[0]))

static int tokens_list(struct cli *cli)
{
	static const char *const fields[TOKENS_NCOLS] = {
		"id", "name", "role", "site", "created_at", "revoked_at",
	};
	json_t *items = NULL;
	int rc = cli_http_list(cli->http, "/v1/tokens", NULL, 0, &items);

	if (rc == 0)
		rc = table_print_list(items, TOKENS_NCOLS, tokens_headers, fields, cli->json, stdout);
	json_decref(items);
	return rc;
}

/* The secret lived in this answer; do not leave it in freed memory. */
static void tokens_wipe(json_t *res)
{
	json_t *tok = json_object_get(res, "token");

	if (json_is_string(tok))
		explicit_bzero((char *)json_string_value(tok), json_string_length(tok));
}

/* The secret to stdout, alone; its description to stderr. */
static int tokens_print_issued(const struct cli *cli, const json_t *res)
{
	const char *secret = json_string_value(json_object_get(res, "token"));
	const char *site = json_string_value(json_object_get(res, "site"));

	if (cli->json)
		return table_print_json(res, stdout);
	if (!secret) {
		fputs("gresec: the controller's answer carries no token\n", stderr);
		return -EBADMSG;
	}
	fprintf(stderr, "issued token %" JSON_INTEGER_FORMAT " '",
		json_integer_value(json_object_get(res, "id")));
	table_put_safe(json_string_value(json_object_get(res, "name")) ?: "?", stderr);
	fputs("', role ", stderr);
	table_put_safe(json_string_value(json_object_get(res, "role")) ?: "?", stderr);
	if (site) {
		fputs(", site ", stderr);
		table_put_safe(site, stderr);
	}
	fputs("; the secret is shown only now\n", stderr);
	puts(secret);
	return 0;
}

static int tokens_issue(struct cli *cli, const char *name, const char *role)
{
	json_t *req = json_pack("{s:s,s:s}", "name", name, "role", role), *res = NULL;
	char *body = NULL;
	int rc = -ENOMEM;

	if (!req)
		goto out;
	body = json_dumps(req, JSON_COMPACT);
	if (!body)
		goto out;
	rc = cli_http_request(cli->http, "POST", "/v1/tokens", "application/json", body,
			      strlen(body), &res);
	if (rc < 0)
		goto out;
	rc = tokens_print_issued(cli, res);
out:
	tokens_wipe(res);
	json_decref(res);
	json_decref(req);
	free(body);
	return rc;
}

static int tokens_revoke(struct cli *cli, const char *id)
{
	json_t *res = NULL;
	char *path = NULL;
	int rc;

	if (!*id || strspn(id, "0123456789") != strlen(id) || strlen(id) > 18)
		return cli_usage_error(cli, "tokens revoke wants a numeric ID, not '%s'", id);
	if (asprintf(&path, "/v1/tokens/%s", id) < 0)
		return -ENOMEM;
	rc = cli_http_request(cli->http, "DELETE", path, NULL, NULL, 0, &res);
	if (rc == 0 && !cli->json)
		printf("revoked token %s\n", id);
	json_decref(res);
	free(path);
	return rc;
}

int cmd_tokens_run(struct cli *cli, int argc, char **argv)
{
	if (argc == 0 || (argc == 1 && !strcmp(argv[0], "list")))
		return tokens_list(cli);
	if (!strcmp(argv[0], "issue"))
		return argc == 3 ? tokens_issue(cli, argv[1], argv[2]) :
			cli_usage_error(cli, "tokens issue takes NAME and ROLE");
	if (!strcmp(argv[0], "revoke"))
		return argc == 2 ? tokens_revoke(cli, argv[1]) :
			cli_usage_error(cli, "tokens revoke takes one ID");
	return cli_usage_error(cli, "tokens: unknown subcommand or extra argument '%s'",
			       argv[argc > 1 && !strcmp(argv[0], "list") ? 1 : 0]);
}

int cmd_agent_token_run(struct cli *cli, int argc, char **argv)
{
	json_t *res = NULL;
	char *esc = NULL, *path = NULL;
	int rc = -ENOMEM;

	if (argc != 1)
		return cli_usage_error(cli, "agent-token takes exactly one SITE");
	esc = cli_http_escape(argv[0]);
	if (!esc || asprintf(&path, "/v1/sites/%s/agent-token", esc) < 0) {
		path = NULL;
		goto out;
	}
	rc = cli_http_request(cli->http, "POST", path, NULL, NULL, 0, &res);
	if (rc < 0)
		goto out;
	rc = tokens_print_issued(cli, res);
out:
	tokens_wipe(res);
	json_decref(res);
	free(path);
	free(esc);
	return rc;
}
