#include <errno.h>
#include <stdlib.h>

#include "audit.h"

static char *audit_text(const struct kind_ops *k, const json_t *body)
{
	json_t *copy;
	char *text;

	if (!body)
		return NULL;
	copy = json_deep_copy(body);
	if (!copy)
		return NULL;
	if (k && k->redact)
		k->redact(copy);
	text = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(copy);
	return text;
}

int audit_record(struct db *db, const char *actor, const char *action,
		 const struct kind_ops *k, const char *kind_name, const char *name,
		 const json_t *before, const json_t *after)
{
	sqlite3_stmt *st = db_stmt(db, "INSERT INTO audit (actor, action, kind, name, before, after) "
				   "VALUES (?, ?, ?, ?, ?, ?)");
	char *b = audit_text(k, before), *a = audit_text(k, after);
	int rc, r;

	if (!st) {
		r = -EIO;
		goto out;
	}
	if ((before && !b) || (after && !a)) {
		r = -ENOMEM;
		goto out;
	}
	sqlite3_bind_text(st, 1, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k ? k->name : kind_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
	if (b)
		sqlite3_bind_text(st, 5, b, -1, SQLITE_STATIC);
	if (a)
		sqlite3_bind_text(st, 6, a, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	r = db_errno(rc);
out:
	free(b);
	free(a);
	return r;
}

static json_t *audit_col_json(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	json_t *v = t ? json_loads(t, 0, NULL) : NULL;

	return v ? v : json_null();
}

static json_t *audit_row(sqlite3_stmt *st, void *ctx)
{
	(void)ctx;
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o}",
			 "id", (json_int_t)sqlite3_column_int64(st, 0),
			 "time", sqlite3_column_text(st, 1), "actor", sqlite3_column_text(st, 2),
			 "action", sqlite3_column_text(st, 3), "kind", sqlite3_column_text(st, 4),
			 "name", sqlite3_column_text(st, 5), "before", audit_col_json(st, 6),
			 "after", audit_col_json(st, 7));
}

int audit_list(struct db *db, long long after, unsigned limit, json_t **out)
{
	sqlite3_stmt *st = db_stmt(db, "SELECT id, time, actor, action, kind, name, before, after "
				   "FROM audit WHERE id > ? ORDER BY id LIMIT ?");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int(st, 2, (int)limit);
	return db_page(st, limit, audit_row, NULL, out);
}
