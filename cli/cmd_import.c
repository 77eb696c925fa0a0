/* gresec import FILE [--replace] [--dry-run] and gresec export [-o FILE]. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define IMPORT_WRAP 78

static const char *const import_kinds[] = { "sites", "profiles", "topologies", "tunnels" };
#define IMPORT_NKINDS (sizeof(import_kinds) / sizeof(import_kinds[0]))

static int import_read_fd(int fd, char **data, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap), *p;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				return -ENOMEM;
			}
			buf = p;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*data = buf;
	*len = n;
	return 0;
}

static int import_read(const char *file, char **data, size_t *len)
{
	int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	int rc;

	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = import_read_fd(fd, data, len);
	if (fd != STDIN_FILENO)
		close(fd);
out:
	if (rc < 0)
		fprintf(stderr, "gresec: cannot read %s: %s\n", file, strerror(-rc));
	return rc;
}

/* .csv and .json decide; otherwise a document starting with '{' is JSON, else CSV. */
static const char *import_ctype(const char *file, const char *data, size_t len)
{
	const char *dot = strrchr(file, '.');
	size_t i = 0;

	if (dot && !strcasecmp(dot, ".csv"))
		return "text/csv";
	if (dot && !strcasecmp(dot, ".json"))
		return "application/json";
	while (i < len && strchr(" \t\r\n", data[i]))
		i++;
	return i < len && data[i] == '{' ? "application/json" : "text/csv";
}

/* "  created sites: a, b, c", wrapped, continuation lines indented. */
static void import_print_names(const char *what, const char *kind, const json_t *names)
{
	size_t i, col;
	json_t *n;

	if (json_array_size(names) == 0)
		return;
	col = (size_t)printf("%s %s:", what, kind);
	json_array_foreach(names, i, n) {
		const char *s = json_string_value(n) ?: "?";
		size_t w = strlen(s) + (i + 1 < json_array_size(names) ? 1 : 0);

		if (i > 0 && col + 1 + w > IMPORT_WRAP) {
			fputs("\n ", stdout);
			col = 1;
		}
		putchar(' ');
		table_put_safe(s, stdout);
		if (i + 1 < json_array_size(names))
			putchar(',');
		col += 1 + w;
	}
	putchar('\n');
}

static int import_print(const json_t *res)
{
	static const char *const headers[] = { "KIND", "CREATED", "UPDATED", "DELETED", "UNCHANGED" };
	const json_t *ch = json_object_get(res, "changes"), *tot = json_object_get(res, "totals");
	struct table *t = table_new(5, headers);
	size_t k;
	int rc = -ENOMEM;

	if (!t)
		return -ENOMEM;
	printf("%s (%s): %" JSON_INTEGER_FORMAT " created, %" JSON_INTEGER_FORMAT " updated, %"
	       JSON_INTEGER_FORMAT " deleted\n",
	       json_is_true(json_object_get(res, "dry_run")) ? "dry run, nothing written" : "imported",
	       json_string_value(json_object_get(res, "mode")) ?: "?",
	       json_integer_value(json_object_get(tot, "created")),
	       json_integer_value(json_object_get(tot, "updated")),
	       json_integer_value(json_object_get(tot, "deleted")));
	for (k = 0; k < IMPORT_NKINDS; k++) {
		const json_t *c = json_object_get(ch, import_kinds[k]);
		json_t *vals[5] = { NULL, json_object_get(c, "created"), json_object_get(c, "updated"),
				    json_object_get(c, "deleted"), json_object_get(c, "unchanged") };
		json_t *name = json_string(import_kinds[k]);

		vals[0] = name;
		rc = name ? table_add_json(t, vals) : -ENOMEM;
		json_decref(name);
		if (rc < 0)
			goto out;
	}
	table_print(t, stdout);
	for (k = 0; k < IMPORT_NKINDS; k++) {
		const json_t *names = json_object_get(json_object_get(ch, import_kinds[k]), "names");

		import_print_names("created", import_kinds[k], json_object_get(names, "created"));
		import_print_names("updated", import_kinds[k], json_object_get(names, "updated"));
		import_print_names("deleted", import_kinds[k], json_object_get(names, "deleted"));
	}
	rc = 0;
out:
	table_free(t);
	return rc;
}

int cmd_import_run(struct cli *cli, int argc, char **argv)
{
	json_t *res = NULL;
	char *data = NULL, *path = NULL;
	size_t len = 0;
	int rc;

	if (argc != 1)
		return cli_usage_error(cli, "import takes exactly one FILE ('-' for stdin)");
	rc = import_read(argv[0], &data, &len);
	if (rc < 0)
		return rc;
	rc = -ENOMEM;
	if (asprintf(&path, "/v1/import?mode=%s&dry_run=%s", cli->replace ? "replace" : "merge",
		     cli->dry_run ? "true" : "false") < 0) {
		path = NULL;
		goto out;
	}
	rc = cli_http_request(cli->http, "POST", path, import_ctype(argv[0], data, len),
			      data, len, &res);
	if (rc < 0)
		goto out;
	rc = cli->json ? table_print_json(res, stdout) : import_print(res);
out:
	json_decref(res);
	free(path);
	free(data);
	return rc;
}

/* Writes beside the target and renames, so an interrupted export never leaves half a
 * backup under the real name. */
static int export_write_file(const json_t *doc, const char *file)
{
	char *tmp = NULL;
	FILE *f = NULL;
	bool created = false;
	int fd = -1, rc = -ENOMEM;

	if (asprintf(&tmp, "%s.XXXXXX", file) < 0) {
		tmp = NULL;
		goto out;
	}
	fd = mkstemp(tmp);
	created = fd >= 0;
	if (fd < 0 || fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		rc = -errno;
		goto out;
	}
	fd = -1;
	rc = table_print_json(doc, f);
	if (rc == 0 && (fflush(f) == EOF || fsync(fileno(f)) < 0))
		rc = -errno;
	if (fclose(f) == EOF && rc == 0)
		rc = -errno;
	f = NULL;
	if (rc == 0 && rename(tmp, file) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && created)
		unlink(tmp);
	if (rc < 0)
		fprintf(stderr, "gresec: cannot write %s: %s\n", file, strerror(-rc));
	free(tmp);
	return rc;
}

int cmd_export_run(struct cli *cli, int argc, char **argv)
{
	json_t *doc = NULL;
	int rc;

	(void)argv;
	if (argc > 0)
		return cli_usage_error(cli, "export takes no argument but -o FILE");
	rc = cli_http_get(cli->http, "/v1/export", &doc);
	if (rc < 0)
		goto out;
	if (cli->output && strcmp(cli->output, "-"))
		rc = export_write_file(doc, cli->output);
	else
		rc = table_print_json(doc, stdout);
out:
	json_decref(doc);
	return rc;
}
