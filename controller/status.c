#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "revision.h"
#include "status.h"
#include "tunnel.h"

#define STATUS_FEATURES_MAX 16

static const char *const status_if_states[] = { "up", "down", "missing", "failed", NULL };
static const char *const status_ike_states[] = { "none", "connecting", "established", "down", NULL };
static const char *const status_child_states[] = { "none", "installing", "installed", "rekeying",
						   "down", NULL };
/* The agent's liveness verdict per tunnel (docs/api.md, Agents and status). */
static const char *const status_live_states[] = { "up", "down", "idle", "admin-down", NULL };
static const char *const status_live_reasons[] = { "bfd-timeout", "bfd-no-reply", "peer-admin-down",
						   "ike-failed", "ike-timeout", "interface", NULL };
static const char *const status_bfd_states[] = { "off", "admin-down", "down", "init", "up", NULL };
/* "errors": how many errors the agent saw on the tunnel (last_error is only the
 * latest, and is cleared once the tunnel has been up since). */
static const char *const status_counters[] = { "bytes_in", "bytes_out", "packets_in",
					       "packets_out", "errors", NULL };

static int status_in_list(const char *v, const char *const *list)
{
	for (; v && *list; list++)
		if (strcmp(v, *list) == 0)
			return 1;
	return 0;
}

static void status_enum(const json_t *e, const char *key, const char *const *allowed,
			const char *path, struct verr *errs, json_t *out)
{
	const char *v = json_string_value(json_object_get(e, key));
	char p[128], list[128] = "";
	size_t n = 0;

	if (!status_in_list(v, allowed)) {
		for (int i = 0; allowed[i] && n < sizeof(list); i++)
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
					      allowed[i]);
		verr_add(errs, verr_path_key(p, sizeof(p), path, key), "must be one of %s", list);
		return;
	}
	json_object_set_new(out, key, json_string(v));
}

static void status_last_error(const json_t *e, const char *path, struct verr *errs, json_t *out)
{
	const json_t *le = json_object_get(e, "last_error");
	const char *msg = json_string_value(json_object_get(le, "message"));
	const char *when = json_string_value(json_object_get(le, "time"));
	char p[128];

	verr_path_key(p, sizeof(p), path, "last_error");
	if (!le || json_is_null(le)) {
		json_object_set_new(out, "last_error", json_null());
		return;
	}
	if (!msg || strlen(msg) > 512 || !when || strlen(when) > 64 || json_object_size(le) != 2) {
		verr_add(errs, p, "must be null or {\"message\": string ≤ 512, \"time\": string}");
		return;
	}
	json_object_set_new(out, "last_error", json_pack("{s:s, s:s}", "message", msg, "time", when));
}

/* "2026-11-30T23:59:59Z", a fraction of a second allowed: UTC only, and a real date. */
static int status_is_utc(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	struct tm tm = { 0 }, back;
	const char *rest = s + sizeof(pat) - 1;
	size_t i, n;

	for (i = 0; i < sizeof(pat) - 1; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pat[i])
			return 0;
	if (*rest == '.') {
		n = strspn(rest + 1, "0123456789");
		if (n < 1 || n > 9)
			return 0;
		rest += n + 1;
	}
	if (strcmp(rest, "Z") || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
					&tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	back = tm;
	/* timegm() normalises 31 November into 1 December: a changed field means no such time. */
	if (tm.tm_year < 70 || timegm(&back) == (time_t)-1)
		return 0;
	return back.tm_mday == tm.tm_mday && back.tm_mon == tm.tm_mon && back.tm_hour == tm.tm_hour &&
	       back.tm_min == tm.tm_min && back.tm_sec == tm.tm_sec;
}

/* The fields of "liveness" other than its enums. */
static void status_liveness_scalars(const json_t *lv, const char *path, struct verr *errs,
				    json_t *out)
{
	const json_t *since = json_object_get(lv, "since"), *flaps = json_object_get(lv, "flaps");
	const json_t *fwd = json_object_get(lv, "forwarding"), *why = json_object_get(lv, "reason");
	char p[160];

	if (!json_is_string(since) || json_string_length(since) > 64 ||
	    !status_is_utc(json_string_value(since)))
		verr_add(errs, verr_path_key(p, sizeof(p), path, "since"),
			 "must be a UTC time like 2026-11-30T23:59:59Z");
	else
		json_object_set(out, "since", (json_t *)since);
	if (!json_is_integer(flaps) || json_integer_value(flaps) < 0)
		verr_add(errs, verr_path_key(p, sizeof(p), path, "flaps"),
			 "must be a non-negative integer");
	else
		json_object_set(out, "flaps", (json_t *)flaps);
	if (!json_is_boolean(fwd))
		verr_add(errs, verr_path_key(p, sizeof(p), path, "forwarding"), "must be true or false");
	else
		json_object_set(out, "forwarding", (json_t *)fwd);
	/* Absent or null: the tunnel has not gone down since the agent started. */
	if (!why || json_is_null(why))
		json_object_set_new(out, "reason", json_null());
	else
		status_enum(lv, "reason", status_live_reasons, path, errs, out);
}

/* The optional "liveness" of an entry: absent from agents older than BFD. */
static void status_liveness(const json_t *e, const char *path, struct verr *errs, json_t *out)
{
	static const char *const keys[] = { "state", "since", "flaps", "reason", "forwarding",
		"bfd", NULL };
	const json_t *lv = json_object_get(e, "liveness");
	json_t *o, *v;
	const char *k;
	char p[128], kp[160];

	if (!lv)
		return;
	verr_path_key(p, sizeof(p), path, "liveness");
	if (!json_is_object(lv)) {
		verr_add(errs, p, "must be an object");
		return;
	}
	o = json_object();
	json_object_foreach((json_t *)lv, k, v)
		if (!status_in_list(k, keys))
			verr_add(errs, verr_path_key(kp, sizeof(kp), p, k), "unknown field");
	status_enum(lv, "state", status_live_states, p, errs, o);
	status_liveness_scalars(lv, p, errs, o);
	status_enum(lv, "bfd", status_bfd_states, p, errs, o);
	json_object_set_new(out, "liveness", o);
}

static json_t *status_entry(const json_t *e, const char *path, struct verr *errs)
{
	static const char *const keys[] = { "id", "interface", "ike", "child", "bytes_in",
		"bytes_out", "packets_in", "packets_out", "errors", "last_error", "liveness", NULL };
	json_t *out = json_object();
	const char *id = json_string_value(json_object_get(e, "id")), *k;
	json_t *v;
	char p[128];

	if (!json_is_object(e)) {
		verr_add(errs, path, "must be an object");
		return out;
	}
	json_object_foreach((json_t *)e, k, v)
		if (!status_in_list(k, keys))
			verr_add(errs, verr_path_key(p, sizeof(p), path, k), "unknown field");
	if (!id || !*id || strlen(id) > 63)
		verr_add(errs, verr_path_key(p, sizeof(p), path, "id"), "required: a tunnel id");
	else
		json_object_set_new(out, "id", json_string(id));
	status_enum(e, "interface", status_if_states, path, errs, out);
	status_enum(e, "ike", status_ike_states, path, errs, out);
	status_enum(e, "child", status_child_states, path, errs, out);
	for (int i = 0; status_counters[i]; i++) {
		v = json_object_get(e, status_counters[i]);
		if (v && (!json_is_integer(v) || json_integer_value(v) < 0))
			verr_add(errs, verr_path_key(p, sizeof(p), path, status_counters[i]),
				 "must be a non-negative integer");
		json_object_set_new(out, status_counters[i], json_integer(v ? json_integer_value(v) : 0));
	}
	status_last_error(e, path, errs, out);
	status_liveness(e, path, errs, out);
	return out;
}

/* Inserts name into the sorted array a unless it is there. */
static void status_feature_add(json_t *a, const char *name)
{
	size_t i;

	for (i = 0; i < json_array_size(a); i++) {
		int c = strcmp(json_string_value(json_array_get(a, i)), name);

		if (c == 0)
			return;
		if (c > 0)
			break;
	}
	json_array_insert_new(a, i, json_string(name));
}

bool status_has_feature(const json_t *report, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(report, "features"), i, v)
		if (!strcmp(json_string_value(v), name))
			return true;
	return false;
}

/* The optional "features": what the agent can do beyond the first intent format
 * (INTENT_FEATURE_PSK_HEX). Unknown names are kept: a newer agent may know more. Sorted
 * and unique, so comparing two reports' lists says whether anything changed. */
static json_t *status_features(const json_t *f, struct verr *errs)
{
	json_t *out, *v;
	size_t i;
	char p[64];

	if (!f)
		return NULL;
	if (!json_is_array(f) || json_array_size(f) > STATUS_FEATURES_MAX) {
		verr_add(errs, "features", "must be an array of at most %d names", STATUS_FEATURES_MAX);
		return NULL;
	}
	out = json_array();
	json_array_foreach(f, i, v) {
		const char *s = json_string_value(v);
		size_t n = s ? strlen(s) : 0;

		if (!s || !n || n > 32 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != n) {
			verr_add(errs, verr_path_idx(p, sizeof(p), "features", i),
				 "must be a name of 1-32 of a-z 0-9 -");
			continue;
		}
		status_feature_add(out, s);
	}
	return out;
}

int status_normalize(const json_t *in, struct verr *errs, json_t **out)
{
	const json_t *rev = json_object_get(in, "revision"), *tuns = json_object_get(in, "tunnels");
	size_t before = verr_count(errs), i;
	json_t *list = json_array(), *e, *features;
	const char *k;
	char p[64];

	if (!json_is_object(in)) {
		verr_add(errs, "", "must be an object");
		json_decref(list);
		return -EINVAL;
	}
	json_object_foreach((json_t *)in, k, e)
		if (strcmp(k, "revision") && strcmp(k, "tunnels") && strcmp(k, "features"))
			verr_add(errs, k, "unknown field");
	features = status_features(json_object_get(in, "features"), errs);
	if (!json_is_integer(rev) || json_integer_value(rev) < 0)
		verr_add(errs, "revision", "required: the intent revision the agent applied");
	if (!json_is_array(tuns))
		verr_add(errs, "tunnels", "required: an array of tunnel states");
	json_array_foreach(tuns, i, e)
		json_array_append_new(list, status_entry(e, verr_path_idx(p, sizeof(p), "tunnels", i),
							 errs));
	if (verr_count(errs) > before) {
		json_decref(list);
		json_decref(features);
		return -EINVAL;
	}
	*out = json_pack("{s:I, s:o}", "revision", json_integer_value(rev), "tunnels", list);
	if (*out && features && json_object_set_new(*out, "features", features)) {
		json_decref(*out);
		*out = NULL;
	}
	return *out ? 0 : -ENOMEM;
}

/* The site's tunnel ids, as its intent names them. */
static int status_tunnel_ids(struct store *s, const char *site, json_t *ids)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT id FROM tunnel WHERE site_a = ?1 "
				   "OR site_b = ?1");
	char id[TUNNEL_IFNAME_LEN];
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, site, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		tunnel_ifname(sqlite3_column_int64(st, 0), id, sizeof(id));
		json_object_set_new(ids, id, json_false());
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int status_check(struct store *s, const char *site, const json_t *report, struct verr *errs)
{
	json_t *ids = json_object(), *e;
	uint64_t rev = 0;
	char base[32], p[64];
	size_t i;
	int r = ids ? revision_get(s, site, &rev) : -ENOMEM;

	if (r == 0)
		r = status_tunnel_ids(s, site, ids);
	if (r == 0 && (uint64_t)json_integer_value(json_object_get(report, "revision")) > rev)
		verr_add(errs, "revision", "ahead of the controller's revision %llu for this site",
			 (unsigned long long)rev);
	json_array_foreach(json_object_get(report, "tunnels"), i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		json_t *seen = json_object_get(ids, id);

		if (r < 0)
			break;
		verr_path_key(p, sizeof(p), verr_path_idx(base, sizeof(base), "tunnels", i), "id");
		if (!seen)
			verr_add(errs, p, "'%s' is not a tunnel of this site", id);
		else if (json_is_true(seen))
			verr_add(errs, p, "'%s' is reported twice", id);
		else
			json_object_set_new(ids, id, json_true());
	}
	json_decref(ids);
	return r < 0 ? r : verr_count(errs) ? -EINVAL : 0;
}

int status_save(struct store *s, const char *site, const json_t *report)
{
	sqlite3_stmt *st = db_stmt(store_db(s),
		"INSERT INTO site_status (site, reported_at, reported_epoch, applied_revision, body) "
		"VALUES (?1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?2, ?3, ?4) "
		"ON CONFLICT (site) DO UPDATE SET reported_at = excluded.reported_at, "
		"reported_epoch = excluded.reported_epoch, "
		"applied_revision = excluded.applied_revision, body = excluded.body");
	char *text = json_dumps(report, JSON_COMPACT);
	int rc;

	if (!st || !text) {
		free(text);
		return st ? -ENOMEM : -EIO;
	}
	sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
	sqlite3_bind_int64(st, 3, json_integer_value(json_object_get(report, "revision")));
	sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	free(text);
	return db_errno(rc);
}

int status_features_changed(struct store *s, const char *site, const json_t *report,
			    bool *changed)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT json_extract(body, '$.features') "
				   "FROM site_status WHERE site = ?1");
	const json_t *now = json_object_get(report, "features");
	json_t *was = NULL, *none = json_array();
	int rc;

	if (!st || !none) {
		json_decref(none);
		return st ? -ENOMEM : -EIO;
	}
	sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		was = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
	sqlite3_reset(st);
	*changed = !json_equal(was ? was : none, now ? now : none);
	json_decref(was);
	json_decref(none);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* A report re-keyed by tunnel id, for lookups while decorating views. */
static json_t *status_row(sqlite3_stmt *st, unsigned stale_after, time_t now)
{
	json_t *body = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
	json_t *by_id = json_object(), *e;
	long long age = (long long)now - sqlite3_column_int64(st, 2);
	size_t i;

	json_array_foreach(json_object_get(body, "tunnels"), i, e)
		json_object_set(by_id, json_string_value(json_object_get(e, "id")), e);
	json_decref(body);
	return json_pack("{s:s, s:I, s:b, s:I, s:o}", "reported_at", sqlite3_column_text(st, 1),
			 "age", (json_int_t)age, "stale", age > (long long)stale_after,
			 "applied_revision", (json_int_t)sqlite3_column_int64(st, 3),
			 "tunnels", by_id);
}

int status_load(struct store *s, const char *site, unsigned stale_after, json_t **out)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT site, reported_at, reported_epoch, "
				   "applied_revision, body FROM site_status WHERE ?1 IS NULL OR site = ?1");
	json_t *all = json_object();
	time_t now = time(NULL);
	int rc;

	if (!st || !all) {
		json_decref(all);
		return st ? -ENOMEM : -EIO;
	}
	if (site)
		sqlite3_bind_text(st, 1, site, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_object_set_new(all, (const char *)sqlite3_column_text(st, 0),
				    status_row(st, stale_after, now));
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(all);
		return db_errno(rc);
	}
	*out = all;
	return 0;
}

json_t *status_site_view(const json_t *loaded, const char *site)
{
	const json_t *row = json_object_get(loaded, site);

	if (!row)
		return json_null();
	return json_pack("{s:O, s:O, s:O, s:O}", "reported_at", json_object_get(row, "reported_at"),
			 "age", json_object_get(row, "age"), "stale", json_object_get(row, "stale"),
			 "applied_revision", json_object_get(row, "applied_revision"));
}

/* One end's verdict: its agent's liveness state when it reports one; from an agent
 * older than BFD, "up" for the interface up with the CHILD_SA installed, "idle" for the
 * interface up with no IKE_SA and no CHILD_SA (on demand, nothing to send yet), else "". */
static const char *status_end_state(const json_t *e)
{
	const char *live = json_string_value(json_object_get(json_object_get(e, "liveness"), "state"));
	const char *iface = json_string_value(json_object_get(e, "interface"));
	const char *ike = json_string_value(json_object_get(e, "ike"));
	const char *child = json_string_value(json_object_get(e, "child"));

	if (live)
		return live;
	if (!iface || !ike || !child || strcmp(iface, "up"))
		return "";
	if (!strcmp(child, "installed") || !strcmp(child, "rekeying"))
		return "up";
	return !strcmp(ike, "none") && !strcmp(child, "none") ? "idle" : "";
}

/* From the fresh reports of the two ends (docs/api.md, Read the summary), in order:
 * pending: none; degraded: one says up and another says down, admin-down or has no
 * verdict (an up older than the other's down is dropped first: status_superseded) (the ends contradict each other, and the one that says up must not hide the
 * other's failure); up: one says up (the rest idle: an on-demand end that has not
 * heard of the SA yet contradicts nothing); down: one says down or admin-down; idle:
 * every one says idle; down otherwise (a report without a verdict). */
static const char *status_tunnel_overall(const json_t *a, const json_t *b, int fresh_a, int fresh_b)
{
	const json_t *ends[2] = { fresh_a ? a : NULL, fresh_b ? b : NULL };
	int seen = 0, up = 0, failed = 0, down = 0, idle = 1;

	for (int i = 0; i < 2; i++) {
		const char *st;

		if (!ends[i])
			continue;
		seen = 1;
		st = status_end_state(ends[i]);
		up |= !strcmp(st, "up");
		failed |= strcmp(st, "up") && strcmp(st, "idle");
		down |= !strcmp(st, "down") || !strcmp(st, "admin-down");
		idle &= !strcmp(st, "idle");
	}
	if (!seen)
		return "pending";
	if (up)
		return failed ? "degraded" : "up";
	return down ? "down" : idle ? "idle" : "down";
}

/* An end's "up" that the other end's "down" has superseded: the up end reported before
 * the other saw the tunnel go down (a hub that died after its last report). Its up says
 * nothing of now, so it is not a contradiction; an up reported after the down began is. */
static int status_superseded(const json_t *row_up, const json_t *e_up, const json_t *e_down)
{
	const char *st = status_end_state(e_down);
	const char *since = json_string_value(json_object_get(json_object_get(e_down, "liveness"),
							      "since"));
	struct tm tm = { 0 };
	time_t at;

	if (strcmp(status_end_state(e_up), "up") || (strcmp(st, "down") && strcmp(st, "admin-down")))
		return 0;
	if (!since || !strptime(since, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return 0;
	at = time(NULL) - (time_t)json_integer_value(json_object_get(row_up, "age"));
	return at < timegm(&tm);
}

static json_t *status_tunnel_state(const json_t *loaded, const char *a, const char *b,
				   const char *id)
{
	const json_t *ra = json_object_get(loaded, a), *rb = json_object_get(loaded, b);
	const json_t *ea = json_object_get(json_object_get(ra, "tunnels"), id);
	const json_t *eb = json_object_get(json_object_get(rb, "tunnels"), id);
	int fa = ea && !json_is_true(json_object_get(ra, "stale"));
	int fb = eb && !json_is_true(json_object_get(rb, "stale"));

	if (fa && fb && status_superseded(ra, ea, eb))
		fa = 0;
	else if (fa && fb && status_superseded(rb, eb, ea))
		fb = 0;

	return json_pack("{s:s, s:O, s:O}", "overall", status_tunnel_overall(ea, eb, fa, fb),
			 a, ea ? ea : json_null(), b, eb ? eb : json_null());
}

void status_decorate_tunnels(const json_t *loaded, json_t *items)
{
	char id[TUNNEL_IFNAME_LEN];
	size_t i;
	json_t *t;

	json_array_foreach(items, i, t) {
		tunnel_ifname(json_integer_value(json_object_get(t, "id")), id, sizeof(id));
		json_object_set_new(t, "state", status_tunnel_state(loaded,
				    json_string_value(json_object_get(t, "a")),
				    json_string_value(json_object_get(t, "b")), id));
	}
}

static int status_count_tunnels(struct store *s, const json_t *loaded, json_t *counts)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT id, site_a, site_b FROM tunnel");
	char id[TUNNEL_IFNAME_LEN];
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *state;
		const char *overall;

		tunnel_ifname(sqlite3_column_int64(st, 0), id, sizeof(id));
		state = status_tunnel_state(loaded, (const char *)sqlite3_column_text(st, 1),
					    (const char *)sqlite3_column_text(st, 2), id);
		overall = json_string_value(json_object_get(state, "overall"));
		json_object_set_new(counts, overall,
				    json_integer(json_integer_value(json_object_get(counts, overall)) + 1));
		json_object_set_new(counts, "total",
				    json_integer(json_integer_value(json_object_get(counts, "total")) + 1));
		json_decref(state);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* Sites without an agent (managed: false): they never report, and are no site whose
 * agent has gone quiet; their tunnels' state comes from the managed ends' reports. */
static int status_unmanaged(struct store *s, json_t *set)
{
	sqlite3_stmt *st = db_stmt(store_db(s), "SELECT name FROM object WHERE kind = 'site' "
				   "AND json_extract(body, '$.managed') = 0");
	int rc;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (json_object_set_new(set, (const char *)sqlite3_column_text(st, 0), json_true()))
			rc = SQLITE_NOMEM;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int status_summary(struct store *s, unsigned stale_after, json_t **out)
{
	json_t *loaded = NULL, *names = NULL, *tunnels, *v, *unmanaged = json_object();
	long long seen = 0, stale = 0, never = 0, nun = 0;
	size_t i;
	int r;

	tunnels = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "total", 0, "up", 0, "degraded", 0,
			    "idle", 0, "down", 0, "pending", 0);
	r = tunnels ? status_load(s, NULL, stale_after, &loaded) : -ENOMEM;
	if (r == 0)
		r = store_names(s, &kind_site, &names);
	if (r == 0)
		r = unmanaged ? status_unmanaged(s, unmanaged) : -ENOMEM;
	if (r == 0)
		r = status_count_tunnels(s, loaded, tunnels);
	json_array_foreach(names, i, v) {
		const json_t *row = json_object_get(loaded, json_string_value(v));

		if (json_object_get(unmanaged, json_string_value(v)))
			nun++;
		else if (!row)
			never++;
		else if (json_is_true(json_object_get(row, "stale")))
			stale++;
		else
			seen++;
	}
	if (r == 0)
		*out = json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:O}", "sites",
				 "total", (json_int_t)json_array_size(names), "seen", (json_int_t)seen,
				 "stale", (json_int_t)stale, "never", (json_int_t)never,
				 "unmanaged", (json_int_t)nun,
				 "stale_after", (json_int_t)stale_after, "tunnels", tunnels);
	if (r == 0 && !*out)
		r = -ENOMEM;
	json_decref(loaded);
	json_decref(names);
	json_decref(tunnels);
	json_decref(unmanaged);
	return r;
}
