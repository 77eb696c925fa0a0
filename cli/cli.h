/* gresec — the operator CLI over the controller's REST API.
 *
 * main.c parses every option once (global and per-command alike) into struct cli and
 * dispatches to a cmd_*.c; http.c is the only place that talks to the controller and
 * the only place that turns a transport or HTTP failure into a negative errno and an
 * error message; table.c renders everything a human reads.
 */
#ifndef GRESEC_CLI_H
#define GRESEC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes, the contract scripts rely on. */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,		/* the API refused (details printed), or a local file failed */
	CLI_EXIT_USAGE = 2,
	CLI_EXIT_UNREACHABLE = 3,	/* no HTTP answer at all: connect, TLS, timeout */
};

/* Command options: each command says which it accepts, so a stray one is a usage error. */
enum cli_opt {
	CLI_OPT_SITE = 1u << 0,
	CLI_OPT_LIMIT = 1u << 1,
	CLI_OPT_REPLACE = 1u << 2,
	CLI_OPT_DRY_RUN = 1u << 3,
	CLI_OPT_OUTPUT = 1u << 4,
};

struct cli_http;

struct cli {
	bool json;		/* print the API's JSON instead of tables */
	const char *site;	/* tunnels --site */
	long limit;		/* audit --limit */
	bool replace;		/* import --replace */
	bool dry_run;		/* import --dry-run */
	const char *output;	/* export -o */
	bool usage_failed;	/* set by cli_usage_error(): exit 2 */
	const char *cmd;	/* the command's name, for messages */
	struct cli_http *http;
};

/* main.c */
int cli_usage_error(struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* http.c — every function returns 0 or a negative errno, and has printed why. */
struct cli_http *cli_http_new(const char *base_url, const char *token, const char *ca_file);
void cli_http_free(struct cli_http *h);
/* With --json, the API's error body also goes to stdout, so a script can parse it. */
void cli_http_set_json_errors(struct cli_http *h, bool on);
bool cli_http_unreachable(const struct cli_http *h);
const char *cli_http_base(const struct cli_http *h);
int cli_http_request(struct cli_http *h, const char *method, const char *path,
		     const char *ctype, const char *body, size_t len, json_t **out);
int cli_http_get(struct cli_http *h, const char *path, json_t **out);
/* GET path?limit=..&after=.. page after page until next is null; *items is every item,
 * or with keep > 0 only the last keep of them. */
int cli_http_list(struct cli_http *h, const char *path, const char *query, size_t keep,
		  json_t **items);
/* Percent-encodes one path segment or query value; free() the result. NULL on OOM. */
char *cli_http_escape(const char *s);

/* table.c */
struct table;
struct table *table_new(size_t ncols, const char *const *headers);
void table_free(struct table *t);
/* Adds a row of ncols cells; NULL cells print as "-". */
int table_add(struct table *t, const char *const *cells);
/* A row whose cells are formatted from JSON values (see table_cell). */
int table_add_json(struct table *t, json_t *const *values);
void table_print(const struct table *t, FILE *f);
/* A JSON value as one cell: "-" for null and empty, arrays joined with sep, objects as
 * k=v joined with sep, booleans yes/no. free() the result; NULL on OOM. */
char *table_cell(const json_t *v, const char *sep);
/* Writes s with control characters replaced, so nothing a server sends can drive the
 * terminal. */
void table_put_safe(const char *s, FILE *f);
/* Every field of obj but those named in skip (NULL-terminated), as "key  value" lines. */
int table_print_object(const json_t *obj, const char *const *skip, FILE *f);
int table_print_json(const json_t *v, FILE *f);
/* Every item of a walked list, in the shape of one API page: {"items":[...],"next":null}. */
int table_print_items(json_t *items, FILE *f);
#define TABLE_MAX_COLS 16
/* A listing: the API's JSON page with --json, otherwise a table whose columns are the
 * items' fields (formatted by table_cell). */
int table_print_list(json_t *items, size_t ncols, const char *const *headers,
		     const char *const *fields, bool as_json, FILE *f);

/* Commands: argc/argv are the positional arguments after the command's name. */
int cmd_status_run(struct cli *cli, int argc, char **argv);
int cmd_sites_run(struct cli *cli, int argc, char **argv);
int cmd_profiles_run(struct cli *cli, int argc, char **argv);
int cmd_topologies_run(struct cli *cli, int argc, char **argv);
int cmd_tunnels_run(struct cli *cli, int argc, char **argv);
int cmd_import_run(struct cli *cli, int argc, char **argv);
int cmd_export_run(struct cli *cli, int argc, char **argv);
int cmd_tokens_run(struct cli *cli, int argc, char **argv);
int cmd_agent_token_run(struct cli *cli, int argc, char **argv);
int cmd_audit_run(struct cli *cli, int argc, char **argv);

#endif
