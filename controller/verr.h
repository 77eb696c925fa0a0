/* Validation errors: a list of (path, message) pairs, rendered as the API's "details". */
#ifndef GRESEC_VERR_H
#define GRESEC_VERR_H

#include <stddef.h>
#include <jansson.h>

struct verr;

struct verr *verr_new(void);
void verr_free(struct verr *v);
/* Appends one error. path is a JSON path such as "sites[3].underlay" (or "line 4" for CSV);
 * an empty path means the document as a whole. Out of memory is remembered and
 * reported by verr_count() staying > 0, so callers never lose an error. */
void verr_add(struct verr *v, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t verr_count(const struct verr *v);
/* Appends every error of src to dst, in order. */
void verr_append(struct verr *dst, const struct verr *src);
/* [{"path":..., "message":...}, ...] — a new reference. */
json_t *verr_json(const struct verr *v);
/* Path helpers: "a" + ".b" / "a" + "[3]" into buf (truncated safely). Return buf. */
const char *verr_path_key(char *buf, size_t len, const char *base, const char *key);
const char *verr_path_idx(char *buf, size_t len, const char *base, size_t idx);

#endif
