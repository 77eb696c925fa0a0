/* RFC 4180 CSV reader. The current record's fields live NUL-terminated, one after the
 * other, in one growing buffer; offsets (not pointers) index it so growth is safe. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "csv.h"

struct csv {
	const char *in;
	size_t len;
	size_t pos;
	unsigned long line;	/* line of in[pos] */
	unsigned long rec_line;
	char *buf;		/* fields of the current record */
	size_t nbuf, capbuf;
	size_t *offs;		/* start of each field in buf */
	size_t nfields, capoffs;
	const char *err;
	unsigned long err_line;
};

struct csv *csv_new(const char *buf, size_t len)
{
	struct csv *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->in = buf;
	c->len = buf ? len : 0;
	c->line = 1;
	/* Excel's "CSV UTF-8" starts with a byte order mark that is no part of the header. */
	if (c->len >= 3 && memcmp(c->in, "\xef\xbb\xbf", 3) == 0)
		c->pos = 3;
	return c;
}

void csv_free(struct csv *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c->offs);
	free(c);
}

static int csv_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 64;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		ncap *= 2;
	}
	np = realloc(*p, ncap * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static int csv_putc(struct csv *c, char ch)
{
	int rc = csv_grow((void **)&c->buf, &c->capbuf, c->nbuf + 1, 1);

	if (rc)
		return rc;
	c->buf[c->nbuf++] = ch;
	return 0;
}

static int csv_field_start(struct csv *c)
{
	int rc = csv_grow((void **)&c->offs, &c->capoffs, c->nfields + 1, sizeof(size_t));

	if (rc)
		return rc;
	c->offs[c->nfields++] = c->nbuf;
	return 0;
}

static int csv_fail(struct csv *c, const char *msg, unsigned long line)
{
	c->err = msg;
	c->err_line = line;
	c->pos = c->len;
	c->nfields = 0;
	return -EINVAL;
}

/* The body of a quoted field, from just past its opening quote to just past its
 * closing one. Line breaks inside are data, but still count as lines. */
static int csv_quoted(struct csv *c)
{
	unsigned long start = c->line;
	int rc;

	c->pos++;
	for (;;) {
		char ch;

		if (c->pos >= c->len)
			return csv_fail(c, "unterminated quoted field", start);
		ch = c->in[c->pos];
		if (ch == '"') {
			if (c->pos + 1 < c->len && c->in[c->pos + 1] == '"') {
				c->pos += 2;
				rc = csv_putc(c, '"');
				if (rc)
					return rc;
				continue;
			}
			c->pos++;
			return 0;
		}
		if (ch == '\0')
			return csv_fail(c, "NUL byte in field", c->line);
		if (ch == '\n')
			c->line++;
		c->pos++;
		rc = csv_putc(c, ch);
		if (rc)
			return rc;
	}
}

static int csv_unquoted(struct csv *c)
{
	int rc;

	while (c->pos < c->len) {
		char ch = c->in[c->pos];

		if (ch == ',' || ch == '\n' || ch == '\r')
			return 0;
		if (ch == '"')
			return csv_fail(c, "quote inside an unquoted field", c->line);
		if (ch == '\0')
			return csv_fail(c, "NUL byte in field", c->line);
		rc = csv_putc(c, ch);
		if (rc)
			return rc;
		c->pos++;
	}
	return 0;
}

/* After a field: 1 when another field follows, 0 at the end of the record. */
static int csv_separator(struct csv *c)
{
	char ch;

	if (c->pos >= c->len)
		return 0;
	ch = c->in[c->pos];
	if (ch == ',') {
		c->pos++;
		return 1;
	}
	if (ch == '\n') {
		c->pos++;
		c->line++;
		return 0;
	}
	if (ch == '\r' && c->pos + 1 < c->len && c->in[c->pos + 1] == '\n') {
		c->pos += 2;
		c->line++;
		return 0;
	}
	if (ch == '\r')
		return csv_fail(c, "carriage return not followed by line feed", c->line);
	/* Only reachable after a closing quote: csv_unquoted stops at separators only. */
	return csv_fail(c, "unexpected character after a closing quote", c->line);
}

int csv_next(struct csv *c)
{
	int rc;

	if (!c)
		return -EINVAL;
	c->nbuf = 0;
	c->nfields = 0;
	if (c->pos >= c->len)
		return 0;
	c->rec_line = c->line;
	do {
		bool quoted;

		rc = csv_field_start(c);
		if (rc)
			goto out;
		/* "a,b," at the end of the input still ends with an empty third field. */
		quoted = c->pos < c->len && c->in[c->pos] == '"';
		rc = quoted ? csv_quoted(c) : csv_unquoted(c);
		if (rc)
			goto out;
		rc = csv_putc(c, '\0');
		if (rc)
			goto out;
		rc = csv_separator(c);
		if (rc < 0)
			goto out;
	} while (rc == 1);
	rc = 1;
out:
	if (rc < 0)
		c->nfields = 0;
	return rc;
}

size_t csv_nfields(const struct csv *c)
{
	return c ? c->nfields : 0;
}

const char *csv_field(const struct csv *c, size_t i)
{
	if (!c || i >= c->nfields)
		return NULL;
	return c->buf + c->offs[i];
}

unsigned long csv_line(const struct csv *c)
{
	return c ? c->rec_line : 0;
}

const char *csv_error(const struct csv *c)
{
	return c && c->err ? c->err : "";
}

unsigned long csv_error_line(const struct csv *c)
{
	return c ? c->err_line : 0;
}
