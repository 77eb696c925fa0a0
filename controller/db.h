/* The SQLite connection: pragmas, numbered migrations, transactions, and the one place
 * where SQLite result codes become negative errnos. */
#ifndef GRESEC_DB_H
#define GRESEC_DB_H

#include <jansson.h>
#include <sqlite3.h>

struct db_migration {
	int version;
	const char *file;
	const char *sql;
};
extern const struct db_migration db_migrations[];
extern const int db_migrations_count;

struct db;

/* Opens (creating) path, sets WAL, synchronous=FULL, foreign_keys=ON, applies pending
 * migrations. -EPROTO when the database was written by a newer gresec. */
int db_open(const char *path, struct db **out);
void db_free(struct db *db);
sqlite3 *db_handle(struct db *db);
/* SQLITE_* → 0 / -errno: CONSTRAINT → -EEXIST, BUSY/LOCKED → -EBUSY, NOMEM → -ENOMEM,
 * FULL → -ENOSPC, everything else → -EIO. */
int db_errno(int sqlite_rc);
int db_exec(struct db *db, const char *sql);
int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);
/* A read transaction around a request's reads: one snapshot, one round of locks. */
int db_read_begin(struct db *db);
int db_read_end(struct db *db);
/* Cached prepared statement for sql (reset and bindings cleared). NULL on error. */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);
int db_schema_version(struct db *db);
/* One page of a listing keyed by an integer id: runs st (prepared and bound by the
 * caller, selecting the id first and ending in LIMIT limit), turns each row into an
 * item with row(st, ctx), and returns {"items": [...], "next": last id, or null on the
 * last page}. A NULL from row is out of memory. */
int db_page(sqlite3_stmt *st, unsigned limit, json_t *(*row)(sqlite3_stmt *st, void *ctx),
	    void *ctx, json_t **out);

#endif
