#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "db.h"
#include "log.h"
#include "metrics.h"

#define DB_STMT_CACHE 128

struct db_cached {
	const char *sql;	/* compared by pointer: callers pass string literals */
	sqlite3_stmt *stmt;
};

struct db {
	sqlite3 *h;
	struct db_cached cache[DB_STMT_CACHE];
	int ncache;
	struct timespec tx_start;	/* when the open transaction began */
};

/* Transactions are timed for the metrics: a slow disk or a long write shows there. */
static void db_tx_start(struct db *db)
{
	clock_gettime(CLOCK_MONOTONIC, &db->tx_start);
}

static void db_tx_end(struct db *db, bool write)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_db(write, (double)(now.tv_sec - db->tx_start.tv_sec) +
		   (now.tv_nsec - db->tx_start.tv_nsec) / 1e9);
}

int db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	default:
		return -EIO;
	}
}

int db_exec(struct db *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db->h, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		log_debug("sqlite: %s", msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return db_errno(rc);
}

int db_begin(struct db *db)
{
	/* IMMEDIATE takes the write lock up front, so a transaction never fails half way
	 * because another connection (the sqlite3 CLI, a backup) started writing. */
	int r = db_exec(db, "BEGIN IMMEDIATE");

	if (r == 0)
		db_tx_start(db);
	return r;
}

int db_commit(struct db *db)
{
	int r = db_exec(db, "COMMIT");

	if (r == 0)
		db_tx_end(db, true);
	return r;
}

/* The statements every request runs: prepared once, not parsed each time. */
static int db_step_cached(struct db *db, const char *sql)
{
	sqlite3_stmt *st = db_stmt(db, sql);
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return db_errno(rc);
}

int db_read_begin(struct db *db)
{
	int r = db_step_cached(db, "BEGIN");

	if (r == 0)
		db_tx_start(db);
	return r;
}

int db_read_end(struct db *db)
{
	int r = db_step_cached(db, "COMMIT");

	if (r == 0)
		db_tx_end(db, false);
	return r;
}

int db_rollback(struct db *db)
{
	if (sqlite3_get_autocommit(db->h))
		return 0;
	db_tx_end(db, true);
	return db_exec(db, "ROLLBACK");
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	for (int i = 0; i < db->ncache; i++) {
		if (db->cache[i].sql == sql) {
			sqlite3_reset(db->cache[i].stmt);
			sqlite3_clear_bindings(db->cache[i].stmt);
			return db->cache[i].stmt;
		}
	}
	/* Every statement of the program fits: more distinct SQL than slots is a bug, and
	 * an uncached statement would never be finalized. */
	if (db->ncache == DB_STMT_CACHE) {
		log_err("sqlite: more than %d distinct statements; raise DB_STMT_CACHE",
			DB_STMT_CACHE);
		return NULL;
	}
	if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
		log_err("sqlite: cannot prepare statement: %s", sqlite3_errmsg(db->h));
		return NULL;
	}
	db->cache[db->ncache++] = (struct db_cached){ sql, st };
	return st;
}

int db_schema_version(struct db *db)
{
	sqlite3_stmt *st = db_stmt(db, "PRAGMA user_version");
	int v = -EIO;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	if (st)
		sqlite3_reset(st);
	return v;
}

static int db_migrate(struct db *db)
{
	int have = db_schema_version(db), latest = db_migrations[db_migrations_count - 1].version;
	char pragma[64];
	int r = 0;

	if (have < 0)
		return have;
	if (have > latest) {
		log_err("database schema version %d is newer than this gresec-controller "
			"understands (%d): upgrade gresec or restore a matching backup", have, latest);
		return -EPROTO;
	}
	for (int i = 0; i < db_migrations_count && r == 0; i++) {
		const struct db_migration *m = &db_migrations[i];

		if (m->version <= have)
			continue;
		/* Each migration and its version stamp commit together or not at all. */
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", m->version);
		r = db_begin(db);
		if (r == 0)
			r = db_exec(db, m->sql);
		if (r == 0)
			r = db_exec(db, pragma);
		if (r == 0)
			r = db_commit(db);
		if (r < 0) {
			log_err("schema migration %s failed: %s", m->file, sqlite3_errmsg(db->h));
			db_rollback(db);
		} else {
			log_info("applied schema migration %s", m->file);
		}
	}
	return r;
}

/* An existing file of the database (path plus suffix) loses any group and other
 * permission bits: a database created by an older gresec, or copied in by hand. */
static int db_tighten(const char *path, const char *suffix)
{
	char name[4096];
	struct stat st;

	if ((size_t)snprintf(name, sizeof(name), "%s%s", path, suffix) >= sizeof(name))
		return -ENAMETOOLONG;
	if (stat(name, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!(st.st_mode & 077))
		return 0;
	log_warn("%s was readable by others (mode %04o): now 0600", name, st.st_mode & 07777);
	return chmod(name, st.st_mode & 0700) < 0 ? -errno : 0;
}

/* The database holds every PSK in plain text: it must be 0600 whatever the umask and
 * the directory. SQLite creates a database 0644 minus the umask, and creates its -wal
 * and -shm files with the database's own mode, so creating the (empty) database file
 * 0600 before SQLite opens it covers all three. */
static int db_secure(const char *path)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	int fd, r = 0;

	if (!*path || !strcmp(path, ":memory:") || !strncmp(path, "file:", 5))
		return 0;
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]) && r == 0; i++)
		r = db_tighten(path, suffixes[i]);
	return r;
}

int db_open(const char *path, struct db **out)
{
	struct db *db = calloc(1, sizeof(*db));
	int rc, r;

	if (!db)
		return -ENOMEM;
	r = db_secure(path);
	if (r < 0) {
		log_err("cannot create database %s with mode 0600: %s", path, strerror(-r));
		goto out;
	}
	rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_err("cannot open database %s: %s", path,
			db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
		r = db_errno(rc);
		goto out;
	}
	sqlite3_busy_timeout(db->h, 5000);
	r = db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
		    "PRAGMA foreign_keys=ON;");
	if (r == 0)
		r = db_migrate(db);
out:
	if (r < 0) {
		db_free(db);
		return r;
	}
	*out = db;
	return 0;
}

void db_free(struct db *db)
{
	if (!db)
		return;
	for (int i = 0; i < db->ncache; i++)
		sqlite3_finalize(db->cache[i].stmt);
	sqlite3_close(db->h);
	free(db);
}

sqlite3 *db_handle(struct db *db)
{
	return db->h;
}

int db_page(sqlite3_stmt *st, unsigned limit, json_t *(*row)(sqlite3_stmt *st, void *ctx),
	    void *ctx, json_t **out)
{
	json_t *items = json_array(), *e;
	long long last = 0;
	unsigned n = 0;
	int rc, r = 0;

	if (!items) {
		r = -ENOMEM;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		e = row(st, ctx);
		if (!e || json_array_append_new(items, e) < 0) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	r = db_errno(rc);
out:
	sqlite3_reset(st);
	if (r == 0)
		*out = json_pack("{s:O, s:o}", "items", items,
				 "next", n == limit ? json_integer(last) : json_null());
	json_decref(items);
	return r == 0 && !*out ? -ENOMEM : r;
}
