/* The topology map at /ui/: the static files of ui/ (the page, its script and style,
 * and the vendored graph library), read from --ui-dir. They need no token: they hold
 * no data; the page asks the user for a token and calls the REST API with it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "log.h"

/* The page's script, style and library come from this server only; no inline script or
 * style, no plugin, no framing, no form posting elsewhere. img-src data: is cytoscape's
 * (it draws nothing from data: URLs itself, but its PNG export would). */
#define API_UI_CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " \
	"frame-ancestors 'none'; form-action 'none'"
/* Larger than any file of the map (the library is ~450 KB). */
#define API_UI_MAX_FILE (8u << 20)
/* The map cannot work without these two. */
#define API_UI_PAGE "index.html"
#define API_UI_LIB "cytoscape.min.js"

static const struct {
	const char *ext, *type;
} api_ui_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
};

/* The type of a file the map may serve, or NULL: a flat directory of plain names,
 * nothing hidden, nothing outside it. */
static const char *api_ui_type(const char *name)
{
	size_t n = strlen(name);

	if (!n || n > 64 || name[0] == '.' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n)
		return NULL;
	for (size_t i = 0; i < sizeof(api_ui_types) / sizeof(api_ui_types[0]); i++) {
		size_t e = strlen(api_ui_types[i].ext);

		if (n > e && strcmp(name + n - e, api_ui_types[i].ext) == 0)
			return api_ui_types[i].type;
	}
	return NULL;
}

static int api_ui_open(const char *dir, const char *name, struct stat *st)
{
	char path[4096];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size > API_UI_MAX_FILE) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* Reads a whole file of the map into a buffer the reply owns. */
static int api_ui_read(const char *dir, const char *name, char **out, size_t *len)
{
	struct stat st;
	size_t n = 0;
	char *buf = NULL;
	int fd, r = 0;

	if ((fd = api_ui_open(dir, name, &st)) < 0)
		return fd;
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		r = -ENOMEM;
		goto out;
	}
	while (n < (size_t)st.st_size) {
		ssize_t got = read(fd, buf + n, (size_t)st.st_size - n);

		if (got <= 0) {
			r = got < 0 ? -errno : -EIO;	/* shrank while read: a half file is no file */
			goto out;
		}
		n += (size_t)got;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return r;
}

/* Both the page and its library are there: otherwise /ui/ is one clear 404, not a page
 * that loads and then fails in the browser. */
static bool api_ui_installed(const char *dir)
{
	struct stat st;
	const char *need[] = { API_UI_PAGE, API_UI_LIB };

	for (size_t i = 0; dir && i < 2; i++) {
		int fd = api_ui_open(dir, need[i], &st);

		if (fd < 0)
			return false;
		close(fd);
	}
	return dir != NULL;
}

void api_ui_file(struct api_req *r)
{
	const char *name = r->param[0] ? r->param : API_UI_PAGE;	/* "/ui/": no {file} */
	const char *type = api_ui_type(name);
	size_t len = 0;
	char *buf = NULL;
	int rc;

	if (!api_ui_installed(r->api->ui_dir)) {
		api_error(r, 404, NULL, NULL, "the topology map is not installed in %s (it needs %s and "
			  "%s: run sh ui/install.sh, then make; or pass --ui-dir)",
			  r->api->ui_dir ? r->api->ui_dir : "(no --ui-dir)", API_UI_PAGE, API_UI_LIB);
		return;
	}
	if (!type || (rc = api_ui_read(r->api->ui_dir, name, &buf, &len)) == -ENOENT ||
	    rc == -ELOOP || rc == -ENOTDIR) {
		api_error(r, 404, NULL, NULL, "no such file of the map: %s", name);
		return;
	}
	if (rc < 0) {
		api_fail(r, rc, "reading a file of the map");
		return;
	}
	r->rep->status = 200;
	r->rep->raw = buf;
	r->rep->raw_len = len;
	r->rep->type = type;
	r->rep->csp = API_UI_CSP;
}

/* /ui → /ui/, so that the page's relative links resolve under /ui/. */
void api_ui_redirect(struct api_req *r)
{
	snprintf(r->rep->location, sizeof(r->rep->location), "/ui/");
	api_reply(r, 308, json_pack("{s:s}", "location", "/ui/"));
}
