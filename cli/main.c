/* gresec: the operator CLI. One binary, one subcommand per task, like wg(8).
 *
 * Options are parsed once, wherever they stand on the line (`gresec --json sites` and
 * `gresec sites --json` are the same), into struct cli; each command declares the
 * command options it accepts, so one given to the wrong command is a usage error rather
 * than silently ignored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"

#define MAIN_DEFAULT_CONTROLLER "http://127.0.0.1:8080"
#define MAIN_TOKEN_MAX 4096

struct main_cmd {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	unsigned opts;		/* enum cli_opt it accepts */
	const char *synopsis;
	const char *help;
};

static const struct main_cmd main_cmds[] = {
	{ "status", cmd_status_run, 0, "status",
	  "Summary of the network: sites seen/stale/never, tunnels up/degraded/idle/down/pending." },
	{ "sites", cmd_sites_run, 0, "sites [list | show NAME | delete NAME]",
	  "List every site (all pages), show one with its agent status, or delete one." },
	{ "profiles", cmd_profiles_run, 0, "profiles [list | show NAME | delete NAME]",
	  "List, show or delete crypto profiles." },
	{ "topologies", cmd_topologies_run, 0, "topologies [list | show NAME | delete NAME]",
	  "List, show or delete topologies." },
	{ "tunnels", cmd_tunnels_run, CLI_OPT_SITE, "tunnels [--site NAME]",
	  "Every materialised tunnel (of one site with --site) and its live state." },
	{ "import", cmd_import_run, CLI_OPT_REPLACE | CLI_OPT_DRY_RUN,
	  "import FILE [--replace] [--dry-run]",
	  "Load a JSON import document, or a CSV of sites (.csv, or content not starting\n"
	  "with '{'); FILE '-' reads stdin. --replace deletes what the document does not\n"
	  "name (per kind it has a key for); --dry-run writes nothing. Prints what changed." },
	{ "export", cmd_export_run, CLI_OPT_OUTPUT, "export [-o FILE]",
	  "The whole topology as an import document, to stdout or FILE." },
	{ "tokens", cmd_tokens_run, 0, "tokens [list | issue NAME ROLE | revoke ID]",
	  "List API tokens, issue one (ROLE: admin, operator or viewer; the secret is\n"
	  "printed once, alone on stdout) or revoke one by id. Admin only." },
	{ "agent-token", cmd_agent_token_run, 0, "agent-token SITE",
	  "Issue the token a site's gresec-agent uses; the secret is printed once, alone\n"
	  "on stdout. Admin only." },
	{ "audit", cmd_audit_run, CLI_OPT_LIMIT, "audit [--limit N]",
	  "The last N (default 20) entries of the audit log, oldest first." },
};

static const struct option main_longopts[] = {
	{ "controller", required_argument, NULL, 'C' },
	{ "token-file", required_argument, NULL, 'T' },
	{ "ca", required_argument, NULL, 'A' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "site", required_argument, NULL, 's' },
	{ "limit", required_argument, NULL, 'n' },
	{ "replace", no_argument, NULL, 'R' },
	{ "dry-run", no_argument, NULL, 'D' },
	{ "output", required_argument, NULL, 'o' },
	{ NULL, 0, NULL, 0 },
};

struct main_opts {
	const char *controller;
	const char *token_file;
	const char *ca;
	bool help;
	unsigned seen;		/* enum cli_opt given */
};

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	cli->usage_failed = true;
	fputs("gresec: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'gresec %s%s--help'.\n", cli->cmd ? cli->cmd : "",
		cli->cmd ? " " : "");
	return -EINVAL;
}

static void main_usage(FILE *f)
{
	size_t i;

	fputs("Usage: gresec [OPTIONS] COMMAND [ARGS]\n\n"
	      "Options (anywhere on the line):\n"
	      "  --controller URL   the controller (env GRESEC_CONTROLLER, default "
	      MAIN_DEFAULT_CONTROLLER ")\n"
	      "  --token-file FILE  API token file (env GRESEC_TOKEN_FILE, or the token in GRESEC_TOKEN)\n"
	      "  --ca FILE          CA certificate(s) to trust for an https:// controller\n"
	      "  --json             print the API's JSON instead of tables\n"
	      "  -h, --help         this help, or a command's with COMMAND\n\n"
	      "Commands:\n", f);
	for (i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		fprintf(f, "  gresec %s\n", main_cmds[i].synopsis);
	fputs("\nExit status: 0 ok, 1 refused by the API (details printed) or a local file error,\n"
	      "2 usage error, 3 cannot reach the controller.\n", f);
}

static void main_cmd_usage(const struct main_cmd *c, FILE *f)
{
	fprintf(f, "Usage: gresec [OPTIONS] %s\n\n%s\n\n"
		"Options: --controller URL, --token-file FILE, --ca FILE, --json (see gresec --help).\n",
		c->synopsis, c->help);
}

/* The name of the lowest command option in bits. */
static const char *main_opt_name(unsigned bits)
{
	static const char *const names[] = { "--site", "--limit", "--replace", "--dry-run",
					     "--output" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (bits & (1u << i))
			return names[i];
	return "an option";
}

static const struct main_cmd *main_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		if (!strcmp(main_cmds[i].name, name))
			return &main_cmds[i];
	return NULL;
}

static int main_parse_limit(struct cli *cli, const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > 1000000)
		return cli_usage_error(cli, "--limit wants a number from 1 to 1000000, not '%s'", arg);
	cli->limit = v;
	return 0;
}

static int main_parse(struct cli *cli, struct main_opts *o, int argc, char **argv)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", main_longopts, NULL)) != -1) {
		switch (c) {
		case 'C': o->controller = optarg; break;
		case 'T': o->token_file = optarg; break;
		case 'A': o->ca = optarg; break;
		case 'j': cli->json = true; break;
		case 'h': o->help = true; break;
		case 's': cli->site = optarg; o->seen |= CLI_OPT_SITE; break;
		case 'R': cli->replace = true; o->seen |= CLI_OPT_REPLACE; break;
		case 'D': cli->dry_run = true; o->seen |= CLI_OPT_DRY_RUN; break;
		case 'o': cli->output = optarg; o->seen |= CLI_OPT_OUTPUT; break;
		case 'n':
			o->seen |= CLI_OPT_LIMIT;
			if (main_parse_limit(cli, optarg) < 0)
				return -EINVAL;
			break;
		case ':':
			return cli_usage_error(cli, "option '%s' needs an argument", argv[optind - 1]);
		default:
			return cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
		}
	}
	return 0;
}

/* A token is one printable word; anything else would corrupt the request's headers. */
static int main_token_check(const char *t, const char *where)
{
	const char *p;

	for (p = t; *p; p++)
		if (*p <= ' ' || *p > '~')
			break;
	if (*t && !*p)
		return 0;
	fprintf(stderr, "gresec: %s does not hold a token (one word, printable ASCII)\n", where);
	return -EINVAL;
}

static int main_read_token_file(const char *file, char **token)
{
	char buf[MAIN_TOKEN_MAX + 1];
	FILE *f = fopen(file, "re");
	size_t n, i = 0;
	int rc = 0;

	if (!f) {
		rc = -errno;
		fprintf(stderr, "gresec: cannot read token file %s: %s\n", file, strerror(errno));
		return rc;
	}
	n = fread(buf, 1, MAIN_TOKEN_MAX, f);
	if (ferror(f) || !feof(f)) {
		rc = ferror(f) ? -EIO : -EFBIG;
		fprintf(stderr, "gresec: cannot read token file %s: %s\n", file, strerror(-rc));
		goto out;
	}
	buf[n] = '\0';
	while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
		buf[--n] = '\0';
	while (buf[i] && strchr(" \t\r\n", buf[i]))
		i++;
	rc = main_token_check(buf + i, file);
	if (rc == 0) {
		*token = strdup(buf + i);
		rc = *token ? 0 : -ENOMEM;
	}
out:
	explicit_bzero(buf, sizeof(buf));
	fclose(f);
	return rc;
}

/* --token-file, else $GRESEC_TOKEN_FILE, else $GRESEC_TOKEN; none is not an error
 * here (the API answers 401, and the message says where a token comes from). */
static int main_load_token(const struct main_opts *o, char **token)
{
	const char *file = o->token_file ? o->token_file : getenv("GRESEC_TOKEN_FILE");
	const char *env = getenv("GRESEC_TOKEN");

	*token = NULL;
	if (file && *file)
		return main_read_token_file(file, token);
	if (!env || !*env)
		return 0;
	if (main_token_check(env, "GRESEC_TOKEN") < 0)
		return -EINVAL;
	*token = strdup(env);
	return *token ? 0 : -ENOMEM;
}

static int main_connect(struct cli *cli, const struct main_opts *o)
{
	const char *url = o->controller ? o->controller : getenv("GRESEC_CONTROLLER");
	char *token = NULL;
	int rc;

	if (!url || !*url)
		url = MAIN_DEFAULT_CONTROLLER;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return cli_usage_error(cli, "the controller URL must start with http:// or https://, "
				       "not '%s'", url);
	rc = main_load_token(o, &token);
	if (rc < 0)
		return rc;
	cli->http = cli_http_new(url, token, o->ca);
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	if (!cli->http)
		return -ENOMEM;
	cli_http_set_json_errors(cli->http, cli->json);
	return 0;
}

static int main_exit_code(const struct cli *cli, int rc)
{
	if (rc == 0)
		return CLI_EXIT_OK;
	if (cli->usage_failed)
		return CLI_EXIT_USAGE;
	if (cli_http_unreachable(cli->http))
		return CLI_EXIT_UNREACHABLE;
	if (rc == -ENOMEM)
		fputs("gresec: out of memory\n", stderr);
	return CLI_EXIT_ERROR;
}

static int main_run(struct cli *cli, int argc, char **argv)
{
	struct main_opts o = { 0 };
	const struct main_cmd *c;
	int rc;

	cli->limit = 20;
	rc = main_parse(cli, &o, argc, argv);
	if (rc < 0)
		return rc;
	argc -= optind;
	argv += optind;
	if (argc > 0 && !strcmp(argv[0], "help")) {
		o.help = true;
		argc--;
		argv++;
	}
	if (argc == 0) {
		main_usage(o.help ? stdout : stderr);
		cli->usage_failed = !o.help;
		return o.help ? 0 : -EINVAL;
	}
	c = main_find(argv[0]);
	if (!c)
		return cli_usage_error(cli, "unknown command '%s'", argv[0]);
	cli->cmd = c->name;
	if (o.help) {
		main_cmd_usage(c, stdout);
		return 0;
	}
	if (o.seen & ~c->opts)
		return cli_usage_error(cli, "%s does not apply to '%s'",
				       main_opt_name(o.seen & ~c->opts), c->name);
	rc = main_connect(cli, &o);
	if (rc < 0)
		return rc;
	return c->run(cli, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	int rc;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fputs("gresec: cannot initialise libcurl\n", stderr);
		return CLI_EXIT_ERROR;
	}
	rc = main_run(&cli, argc, argv);
	rc = main_exit_code(&cli, rc);
	cli_http_free(cli.http);
	curl_global_cleanup();
	if (fflush(stdout) == EOF && rc == CLI_EXIT_OK) {
		fprintf(stderr, "gresec: writing the output: %s\n", strerror(errno));
		rc = CLI_EXIT_ERROR;
	}
	return rc;
}
