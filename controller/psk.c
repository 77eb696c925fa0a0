/* Tunnel pre-shared keys: made at random, rotated by hand or by age.
 *
 * A rotation changes one column and the two intents that carry the key. The agents
 * load the new key into charon without touching the conn (agent/ike.c): established
 * IKE_SAs and CHILD_SAs stay (IKEv2 rekeys do not authenticate again), and the next
 * IKE_SA — a reauthentication, a restart, DPD's restart — authenticates with it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "audit.h"
#include "db.h"
#include "log.h"
#include "psk.h"
#include "tunnel.h"
#include "verr.h"

int psk_new(char out[PSK_TEXT_LEN])
{
	unsigned char key[PSK_BYTES];

	if (gnutls_rnd(GNUTLS_RND_KEY, key, sizeof(key)) < 0)
		return -EIO;
	memcpy(out, "0x", 2);
	for (size_t i = 0; i < sizeof(key); i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", key[i]);
	gnutls_memset(key, 0, sizeof(key));
	return 0;
}

/* Sets tunnel id's key; *row gets {"id", "a", "b", "psk_set_at"}. */
static int psk_update(struct db *db, long long id, json_t **row)
{
	sqlite3_stmt *st = db_stmt(db, "UPDATE tunnel SET psk = ?1, psk_set_at = "
				   "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?2 "
				   "RETURNING site_a, site_b, psk_set_at");
	char psk[PSK_TEXT_LEN];
	int rc = st ? psk_new(psk) : -EIO;

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, psk, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*row = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id,
				 "a", sqlite3_column_text(st, 0), "b", sqlite3_column_text(st, 1),
				 "psk_set_at", sqlite3_column_text(st, 2));
		rc = *row ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
	}
	sqlite3_reset(st);
	gnutls_memset(psk, 0, sizeof(psk));
	return rc;
}

int psk_rotate(struct store *s, long long id, const char *actor, const char *reason,
	       json_t **out)
{
	struct db *db = store_db(s);
	struct verr *errs = verr_new();
	json_t *row = NULL, *dirty = json_object(), *rec = NULL;
	char idbuf[32], tun[32];
	int rc = errs && dirty ? store_begin(s) : -ENOMEM;

	if (rc == 0)
		rc = psk_update(db, id, &row);
	if (rc == 0) {
		snprintf(idbuf, sizeof(idbuf), "%lld", id);
		/* The record names the tunnel and why; never the key. */
		rec = json_pack("{s:O, s:O, s:s}", "a", json_object_get(row, "a"),
				"b", json_object_get(row, "b"), "reason", reason);
		json_object_set(dirty, json_string_value(json_object_get(row, "a")), json_true());
		json_object_set(dirty, json_string_value(json_object_get(row, "b")), json_true());
		rc = rec ? audit_record(db, actor, "psk-rotate", NULL, "tunnel", idbuf, NULL, rec)
			 : -ENOMEM;
	}
	if (rc == 0)
		rc = store_finish_sites(s, errs, dirty);
	else
		store_rollback(s);
	if (rc == 0) {
		snprintf(tun, sizeof(tun), "gs%lld", id);
		log_ctx(LOG_LVL_INFO, NULL, tun, "new PSK (%s) between %s and %s", reason,
			json_string_value(json_object_get(row, "a")),
			json_string_value(json_object_get(row, "b")));
	}
	if (rc == 0 && out)
		*out = json_incref(row);
	json_decref(row);
	json_decref(rec);
	json_decref(dirty);
	verr_free(errs);
	return rc;
}

int psk_recompile_site(struct store *s, const char *site)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT site_a, site_b FROM tunnel "
				   "WHERE site_a = ?1 OR site_b = ?1");
	struct verr *errs = verr_new();
	json_t *dirty = json_pack("{s:b}", site, 1);
	int rc = !st ? -EIO : errs && dirty ? store_begin(s) : -ENOMEM;

	if (rc == 0) {
		sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			for (int i = 0; i < 2; i++)
				json_object_set_new(dirty, (const char *)sqlite3_column_text(st, i),
						    json_true());
		sqlite3_reset(st);
		rc = rc == SQLITE_DONE ? 0 : db_errno(rc);
		if (rc == 0)
			rc = store_finish_sites(s, errs, dirty);
		else
			store_rollback(s);
	}
	json_decref(dirty);
	verr_free(errs);
	return rc;
}

/* The ids of site's tunnels whose key is older than their profile's psk_max_age. */
static int psk_due_ids(struct db *db, const char *site, json_t *ids)
{
	sqlite3_stmt *st = db_stmt(db,
		"SELECT t.id FROM tunnel t JOIN object o ON o.kind = 'profile' AND o.name = t.profile "
		"WHERE (t.site_a = ?1 OR t.site_b = ?1) "
		"AND json_extract(o.body, '$.psk_max_age') > 0 "
		"AND unixepoch('now') - unixepoch(COALESCE(t.psk_set_at, t.created_at)) >= "
		"json_extract(o.body, '$.psk_max_age') ORDER BY t.id");
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(ids, json_integer(sqlite3_column_int64(st, 0)));
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int psk_rotate_due(struct store *s, const char *site)
{
	json_t *ids = json_array(), *v;
	char tun[32];
	size_t i;
	int rc = ids ? psk_due_ids(store_db(s), site, ids) : -ENOMEM;

	json_array_foreach(ids, i, v) {
		if (rc)
			break;
		rc = psk_rotate(s, json_integer_value(v), "controller", "psk_max_age", NULL);
		if (rc == -EINVAL) {	/* a site that does not compile: retried next report */
			snprintf(tun, sizeof(tun), "gs%lld", (long long)json_integer_value(v));
			log_ctx(LOG_LVL_WARN, NULL, tun, "PSK due for rotation, but its sites do not compile");
		}
		if (rc == -EINVAL || rc == -ENOENT)
			rc = 0;
	}
	i = json_array_size(ids);
	json_decref(ids);
	return rc ? rc : (int)i;
}
