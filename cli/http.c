/* The CLI's HTTP client: one libcurl handle reused for every request (keep-alive matters
 * when a list walks hundreds of pages), and the one place where a failure — no answer,
 * or an answer that is not 2xx — becomes a negative errno and a readable message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"

/* An export of a very large network is tens of MiB; anything past this is not ours. */
#define HTTP_MAX_RESPONSE (512u << 20)
#define HTTP_CONNECT_TIMEOUT 10L
/* A big import may keep the server silent for a while; only a stalled one is given up. */
#define HTTP_STALL_SECONDS 300L
/* The API's default page: a list of more than this exercises the paging every time. */
#define HTTP_PAGE_LIMIT 100
#define HTTP_TAIL_PAGE_LIMIT 1000

struct cli_http {
	CURL *curl;
	char *base;		/* without trailing '/' */
	char *auth;		/* "Authorization: Bearer ..." or NULL; wiped on free */
	char *ca;
	bool unreachable;
	bool json_errors;
	char errbuf[CURL_ERROR_SIZE];
};

struct http_buf {
	char *data;
	size_t len;
	bool overflow;
};

static size_t http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_buf *b = userdata;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > HTTP_MAX_RESPONSE) {
		b->overflow = true;
		return 0;
	}
	p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

struct cli_http *cli_http_new(const char *base_url, const char *token, const char *ca_file)
{
	struct cli_http *h = calloc(1, sizeof(*h));
	size_t n;

	if (!h)
		return NULL;
	h->base = strdup(base_url);
	h->ca = ca_file ? strdup(ca_file) : NULL;
	if (token && asprintf(&h->auth, "Authorization: Bearer %s", token) < 0)
		h->auth = NULL;
	h->curl = curl_easy_init();
	if (!h->base || (ca_file && !h->ca) || (token && !h->auth) || !h->curl) {
		cli_http_free(h);
		return NULL;
	}
	n = strlen(h->base);
	while (n > 0 && h->base[n - 1] == '/')
		h->base[--n] = '\0';
	return h;
}

void cli_http_free(struct cli_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	if (h->auth) {
		explicit_bzero(h->auth, strlen(h->auth));
		free(h->auth);
	}
	free(h->base);
	free(h->ca);
	free(h);
}

void cli_http_set_json_errors(struct cli_http *h, bool on)
{
	h->json_errors = on;
}

bool cli_http_unreachable(const struct cli_http *h)
{
	return h && h->unreachable;
}

const char *cli_http_base(const struct cli_http *h)
{
	return h->base;
}

char *cli_http_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *r;

	if (!e)
		return NULL;
	r = strdup(e);
	curl_free(e);
	return r;
}

/* A transport failure: the controller never answered. */
static int http_curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		return -EPROTO;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_WRITE_ERROR:
		return -EFBIG;
	default:
		return -EIO;
	}
}

/* An answer that is not 2xx. */
static int http_status_errno(long status)
{
	switch (status) {
	case 400: return -EBADMSG;
	case 401: return -EACCES;
	case 403: return -EPERM;
	case 404: return -ENOENT;
	case 405: return -EOPNOTSUPP;
	case 409: return -EBUSY;
	case 412: return -ESTALE;
	case 413: return -E2BIG;
	case 415: return -EPROTONOSUPPORT;
	case 422: return -EINVAL;
	case 503: return -EAGAIN;
	default: return status >= 500 ? -EIO : -EPROTO;
	}
}

static void http_print_details(const json_t *details)
{
	size_t i;
	json_t *d;

	json_array_foreach(details, i, d) {
		const char *path = json_string_value(json_object_get(d, "path"));
		const char *msg = json_string_value(json_object_get(d, "message"));

		fputs("  ", stderr);
		if (path && *path) {
			table_put_safe(path, stderr);
			fputs(": ", stderr);
		}
		table_put_safe(msg ? msg : "(no message)", stderr);
		fputc('\n', stderr);
	}
}

/* Prints the API's error shape as "gresec: message (HTTP 422 invalid)" and one line per
 * detail; anything else (a proxy's HTML page) by its status alone. */
static void http_print_error(const struct cli_http *h, long status, const json_t *body)
{
	const json_t *e = json_object_get(body, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (h->json_errors && e)
		table_print_json(body, stdout);
	fputs("gresec: ", stderr);
	if (msg) {
		table_put_safe(msg, stderr);
		fprintf(stderr, " (HTTP %ld", status);
		if (code) {
			fputc(' ', stderr);
			table_put_safe(code, stderr);
		}
		fputs(")\n", stderr);
		http_print_details(json_object_get(e, "details"));
	} else {
		fprintf(stderr, "the controller answered HTTP %ld without an error body\n", status);
	}
	if (status == 401 && !h->auth)
		fputs("  no token given: use --token-file FILE, GRESEC_TOKEN_FILE or GRESEC_TOKEN\n",
		      stderr);
}

static int http_setup(struct cli_http *h, const char *method, const char *url,
		      const char *body, size_t len, struct curl_slist *hdrs, struct http_buf *buf)
{
	CURL *c = h->curl;
	CURLcode rc;

	curl_easy_reset(c);
	h->errbuf[0] = '\0';
	rc = curl_easy_setopt(c, CURLOPT_URL, url);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, HTTP_CONNECT_TIMEOUT);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	rc = rc ? rc : curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, HTTP_STALL_SECONDS);
	if (!rc && h->ca)
		rc = curl_easy_setopt(c, CURLOPT_CAINFO, h->ca);
	if (!rc && body) {
		rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		rc = rc ? rc : curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	return rc ? http_curl_errno(rc) : 0;
}

static struct curl_slist *http_headers(const struct cli_http *h, const char *ctype)
{
	struct curl_slist *l = NULL, *n;
	char *ct = NULL;

	n = curl_slist_append(l, "Accept: application/json");
	if (!n)
		goto fail;
	l = n;
	/* libcurl would otherwise hold a large import for a 100-continue round trip. */
	n = curl_slist_append(l, "Expect:");
	if (!n)
		goto fail;
	l = n;
	if (h->auth) {
		n = curl_slist_append(l, h->auth);
		if (!n)
			goto fail;
		l = n;
	}
	if (ctype) {
		if (asprintf(&ct, "Content-Type: %s", ctype) < 0)
			goto fail;
		n = curl_slist_append(l, ct);
		free(ct);
		if (!n)
			goto fail;
		l = n;
	}
	return l;
fail:
	curl_slist_free_all(l);
	return NULL;
}

/* The slist copies of the Authorization line are wiped before they are freed. */
static void http_headers_free(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i; i = i->next)
		explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static int http_transport_error(struct cli_http *h, CURLcode c)
{
	int err = http_curl_errno(c);

	h->unreachable = true;
	fprintf(stderr, "gresec: cannot reach the controller at ");
	table_put_safe(h->base, stderr);
	fputs(": ", stderr);
	table_put_safe(h->errbuf[0] ? h->errbuf : curl_easy_strerror(c), stderr);
	fputc('\n', stderr);
	return err;
}

/* A non-JSON answer is only an error of its own on success: on failure the status says
 * enough, and http_print_error() reports it. */
static int http_parse(long status, const struct http_buf *buf, json_t **out)
{
	bool ok = status >= 200 && status <= 299;
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	if (status == 204 || buf->len == 0)
		return 0;
	v = json_loadb(buf->data, buf->len, 0, &jerr);
	if (!v && ok) {
		fprintf(stderr, "gresec: the controller's answer (HTTP %ld) is not JSON: ", status);
		table_put_safe(jerr.text, stderr);
		fputc('\n', stderr);
		return -EBADMSG;
	}
	*out = v;
	return 0;
}

int cli_http_request(struct cli_http *h, const char *method, const char *path,
		     const char *ctype, const char *body, size_t len, json_t **out)
{
	struct http_buf buf = { 0 };
	struct curl_slist *hdrs = NULL;
	json_t *v = NULL;
	char *url = NULL;
	long status = 0;
	CURLcode c;
	int rc;

	*out = NULL;
	rc = -ENOMEM;
	if (asprintf(&url, "%s%s", h->base, path) < 0) {
		url = NULL;
		goto out;
	}
	hdrs = http_headers(h, ctype);
	if (!hdrs)
		goto out;
	rc = http_setup(h, method, url, body, len, hdrs, &buf);
	if (rc < 0)
		goto out;
	c = curl_easy_perform(h->curl);
	if (c != CURLE_OK) {
		rc = buf.overflow ? -EFBIG : http_transport_error(h, c);
		if (buf.overflow)
			fprintf(stderr, "gresec: the controller's answer exceeds %u MiB\n",
				HTTP_MAX_RESPONSE >> 20);
		goto out;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
	rc = http_parse(status, &buf, &v);
	if (rc < 0)
		goto out;
	if (status < 200 || status > 299) {
		http_print_error(h, status, v);
		rc = http_status_errno(status);
		goto out;
	}
	*out = v;
	v = NULL;
out:
	json_decref(v);
	http_headers_free(hdrs);
	/* The answer may have carried a token secret. */
	if (buf.data)
		explicit_bzero(buf.data, buf.len);
	free(buf.data);
	free(url);
	return rc;
}

int cli_http_get(struct cli_http *h, const char *path, json_t **out)
{
	return cli_http_request(h, "GET", path, NULL, NULL, 0, out);
}

/* One page: appends its items to all and sets *next to the escaped `after` of the next
 * page, or NULL on the last. */
static int http_list_page(struct cli_http *h, const char *path, const char *query,
			  const char *after, int limit, json_t *all, char **next)
{
	json_t *page = NULL, *items, *nx;
	char *url = NULL;
	int rc;

	*next = NULL;
	if (asprintf(&url, "%s?limit=%d%s%s%s%s", path, limit,
		     query ? "&" : "", query ? query : "",
		     after ? "&after=" : "", after ? after : "") < 0)
		return -ENOMEM;
	rc = cli_http_get(h, url, &page);
	if (rc < 0)
		goto out;
	items = json_object_get(page, "items");
	nx = json_object_get(page, "next");
	rc = -EBADMSG;
	if (!json_is_array(items) || json_array_extend(all, items) < 0) {
		fprintf(stderr, "gresec: %s: the page has no items\n", path);
		goto out;
	}
	rc = 0;
	if (json_is_string(nx)) {
		*next = cli_http_escape(json_string_value(nx));
		rc = *next ? 0 : -ENOMEM;
	} else if (json_is_integer(nx)) {
		rc = asprintf(next, "%" JSON_INTEGER_FORMAT, json_integer_value(nx)) < 0 ?
			-ENOMEM : 0;
		if (rc < 0)
			*next = NULL;
	}
out:
	json_decref(page);
	free(url);
	return rc;
}

/* Keeps the last keep items of all. */
static int http_list_trim(json_t **all, size_t keep)
{
	size_t n = json_array_size(*all), i;
	json_t *tail;

	if (n <= keep)
		return 0;
	tail = json_array();
	if (!tail)
		return -ENOMEM;
	for (i = n - keep; i < n; i++)
		if (json_array_append(tail, json_array_get(*all, i)) < 0) {
			json_decref(tail);
			return -ENOMEM;
		}
	json_decref(*all);
	*all = tail;
	return 0;
}

int cli_http_list(struct cli_http *h, const char *path, const char *query, size_t keep,
		  json_t **items)
{
	/* Only the tail is kept: big pages, fewer round trips. */
	int limit = keep ? HTTP_TAIL_PAGE_LIMIT : HTTP_PAGE_LIMIT;
	json_t *all = json_array();
	char *after = NULL, *next = NULL;
	int rc = -ENOMEM;

	*items = NULL;
	if (!all)
		goto out;
	do {
		rc = http_list_page(h, path, query, after, limit, all, &next);
		/* A server repeating its cursor would keep us here forever. */
		if (rc == 0 && next && after && !strcmp(next, after)) {
			fprintf(stderr, "gresec: %s: the controller repeats page '%s'\n", path, next);
			rc = -EPROTO;
		}
		if (rc == 0 && keep)
			rc = http_list_trim(&all, keep);
		free(after);
		after = next;
	} while (rc == 0 && after);
	if (rc == 0) {
		*items = all;
		all = NULL;
	}
out:
	free(after);
	json_decref(all);
	return rc;
}
