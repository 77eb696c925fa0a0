/* An RFC 4180 CSV reader: comma separated, double-quoted fields with "" escapes, records
 * ended by CRLF or LF, line numbers for every record and every syntax error.
 * A quoted field may span lines; a leading UTF-8 byte order mark is skipped because
 * spreadsheets write one. */
#ifndef GRESEC_CSV_H
#define GRESEC_CSV_H

#include <stddef.h>

struct csv;

/* Reads buf (not copied: it must outlive the reader). NULL only on OOM. */
struct csv *csv_new(const char *buf, size_t len);
void csv_free(struct csv *c);
/* 1 with the next record loaded, 0 at the end of the input, -EINVAL on a syntax error
 * (csv_error and csv_error_line say what and where; the reader then stays at the end),
 * -ENOMEM. A trailing line break does not make an empty last record. */
int csv_next(struct csv *c);
/* The current record: at least one field (an empty line is one empty field). */
size_t csv_nfields(const struct csv *c);
/* NUL-terminated, unquoted; NULL past the last field. Valid until the next csv_next. */
const char *csv_field(const struct csv *c, size_t i);
/* 1-based line on which the current record starts. */
unsigned long csv_line(const struct csv *c);
/* After -EINVAL: a short message and the 1-based line it was found on. */
const char *csv_error(const struct csv *c);
unsigned long csv_error_line(const struct csv *c);

#endif
