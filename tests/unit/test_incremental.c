/* Property test of the incremental write paths (issue 15): random sequences of writes
 * go to two stores, one incremental (the default) and one that re-derives everything
 * at every write (store_set_incremental(false)). After every write both must agree on
 * the outcome, on every tunnel (id, pair, winning definition, sources, type, profile,
 * overlay block) and on every intent revision; and every intent hash the incremental
 * store keeps must be the hash of the intent compiled from scratch from its state.
 * PSKs are random per store, so hashes are compared within a store, revisions across. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "compile.h"
#include "db.h"
#include "import.h"
#include "intent.h"
#include "kind.h"
#include "psk.h"
#include "status.h"
#include "store.h"

#define INC_REGIONS 3
#define INC_PER_REGION 6

struct inc_fx {
	char dir[64];
	struct store *s[2];	/* [0] incremental, [1] from scratch */
	unsigned rnd;
	unsigned serial;	/* for unique names, underlays and prefixes */
	int step;
	const char *op;
	int refused;		/* writes both stores refused */
};

static unsigned inc_rand(struct inc_fx *f, unsigned n)
{
	/* A generator of our own: the same seed gives the same sequence everywhere. */
	f->rnd = f->rnd * 1103515245u + 12345u;
	return (f->rnd >> 8) % n;
}

static void inc_open(struct inc_fx *f, unsigned seed)
{
	char path[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/gresec-test-inc.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%d.db", f->dir, i);
		assert_int_equal(store_open(path, &f->s[i]), 0);
	}
	store_set_incremental(f->s[1], false);
	assert_true(store_incremental(f->s[0]));
	assert_false(store_incremental(f->s[1]));
	f->rnd = seed;
	f->serial = 1;
}

static void inc_close(struct inc_fx *f)
{
	char p[160];

	for (int i = 0; i < 2; i++) {
		store_free(f->s[i]);
		for (int k = 0; k < 3; k++) {
			snprintf(p, sizeof(p), "%s/%d.db%s", f->dir, i,
				 (const char *[]){ "", "-wal", "-shm" }[k]);
			unlink(p);
		}
	}
	rmdir(f->dir);
}

/* The same document imported (merge) into both stores: both must agree on the outcome. */
static int inc_import(struct inc_fx *f, json_t *doc)
{
	struct import_opts o = { .actor = "test" };
	char *said[2];
	int rc[2];

	for (int i = 0; i < 2; i++) {
		struct verr *errs = verr_new();
		json_t *res = NULL, *e;

		rc[i] = import_json(f->s[i], doc, &o, errs, &res);
		e = verr_json(errs);
		said[i] = json_dumps(e, JSON_SORT_KEYS);
		json_decref(e);
		json_decref(res);
		verr_free(errs);
	}
	json_decref(doc);
	f->refused += rc[0] < 0;
	if (rc[0] != rc[1] || strcmp(said[0], said[1]))
		fail_msg("step %d (%s): incremental %d %s, from scratch %d %s", f->step, f->op,
			 rc[0], said[0], rc[1], said[1]);
	free(said[0]);
	free(said[1]);
	return rc[0];
}

static int inc_delete(struct inc_fx *f, const struct kind_ops *k, const char *name)
{
	int rc[2];

	for (int i = 0; i < 2; i++) {
		struct verr *errs = verr_new();

		rc[i] = store_begin(f->s[i]);
		if (rc[i] == 0)
			rc[i] = store_delete(f->s[i], k, name, "test", NULL);
		if (rc[i] == 0)
			rc[i] = store_finish(f->s[i], errs, NULL, NULL, false);
		else
			store_rollback(f->s[i]);
		verr_free(errs);
	}
	f->refused += rc[0] < 0;
	if (rc[0] != rc[1])
		fail_msg("step %d (%s): incremental %d, from scratch %d", f->step, f->op, rc[0], rc[1]);
	return rc[0];
}

/* The rows of a query, one line each, columns separated by '|': a malloc'd string. */
static char *inc_rows(struct store *s, const char *sql)
{
	sqlite3_stmt *st = db_stmt(store_db(s), sql);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	assert_non_null(st);
	assert_non_null(m);
	while (sqlite3_step(st) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(st); c++) {
			const unsigned char *t = sqlite3_column_text(st, c);

			fprintf(m, "%s%s", c ? "|" : "", t ? (const char *)t : "NULL");
		}
		fputc('\n', m);
	}
	sqlite3_reset(st);
	fclose(m);
	return buf;
}

/* Fails with the first line where the two stores differ. */
static void inc_same(struct inc_fx *f, const char *what, const char *sql)
{
	char *a = inc_rows(f->s[0], sql), *b = inc_rows(f->s[1], sql);
	size_t i = 0, line = 0;

	while (a[i] && a[i] == b[i])
		i++;
	if (a[i] != b[i]) {
		while (i > 0 && a[i - 1] != '\n')
			i--;
		for (size_t k = 0; k < i; k++)
			line += a[k] == '\n';
		print_error("incremental:  %.*s\nfrom scratch: %.*s\n", (int)strcspn(a + i, "\n"),
			    a + i, (int)strcspn(b + i, "\n"), b + i);
		fail_msg("step %d (%s): %s differ at row %zu", f->step, f->op, what, line + 1);
	}
	free(a);
	free(b);
}

/* Every stored hash is the hash of the intent compiled from scratch from the state. */
static void inc_hashes_fresh(struct inc_fx *f)
{
	struct compile_ctx *c = NULL;
	char *stored = inc_rows(f->s[0], "SELECT site, hash FROM intent WHERE site IN "
				"(SELECT name FROM object WHERE kind = 'site') ORDER BY site");
	char *fresh = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&fresh, &len);

	assert_int_equal(compile_ctx_new(f->s[0], &c), 0);
	for (size_t i = 0; i < compile_ctx_nsites(c); i++) {
		struct verr *errs = verr_new();
		struct intent *in = NULL;
		unsigned char d[32];

		assert_int_equal(compile_site(c, i, 0, &in, errs), 0);
		assert_int_equal(intent_hash(in, d), 0);
		fprintf(m, "%s|", compile_ctx_site(c, i));
		for (int k = 0; k < 16; k++)
			fprintf(m, "%02x", d[k]);
		fputc('\n', m);
		intent_free(in);
		verr_free(errs);
	}
	fclose(m);
	compile_ctx_free(c);
	if (strcmp(stored, fresh) != 0) {
		print_error("stored:\n%s\nfrom scratch:\n%s\n", stored, fresh);
		fail_msg("step %d (%s): a stored intent hash is not the compiled one", f->step, f->op);
	}
	free(stored);
	free(fresh);
}

static void inc_check(struct inc_fx *f)
{
	inc_same(f, "tunnels", "SELECT id, site_a, site_b, origin, source, sources, tunnel_type, "
		 "profile, overlay FROM tunnel ORDER BY id");
	inc_same(f, "intent revisions", "SELECT site, revision FROM intent ORDER BY site");
	inc_same(f, "objects", "SELECT kind, name, body FROM object ORDER BY kind, name");
	inc_hashes_fresh(f);
}

static json_t *inc_site(struct inc_fx *f, const char *name, unsigned region)
{
	unsigned k = f->serial++;
	char underlay[32], lan[32], reg[8];

	snprintf(underlay, sizeof(underlay), "192.168.%u.%u", k / 250, k % 250 + 1);
	snprintf(lan, sizeof(lan), "10.%u.%u.0/24", 16 + k / 256, k % 256);
	snprintf(reg, sizeof(reg), "r%u", region + 1);
	return json_pack("{s:s, s:s, s:[s], s:{s:s, s:s}, s:s}", "name", name, "underlay", underlay,
			 "prefixes", lan, "tags", "fleet", "x", "region", reg, "description", "d");
}

/* Two hubs over everything (with a summary), a second hub-spoke of two hubs without a
 * summary (every spoke routes to every other's prefixes), one mesh per region, a mesh
 * by names, and explicit tunnels, one of them over a mesh pair. */
static void inc_base(struct inc_fx *f)
{
	json_t *sites = json_array(), *topos = json_array();
	char name[32];

	for (unsigned r = 0; r < INC_REGIONS; r++) {
		for (unsigned i = 0; i < INC_PER_REGION; i++) {
			json_t *s;

			snprintf(name, sizeof(name), "r%u-s%u", r + 1, i);
			s = inc_site(f, name, r);
			if (i % 2)
				json_object_set_new(json_object_get(s, "tags"), "tier", json_string("edge"));
			json_array_append_new(sites, s);
		}
		snprintf(name, sizeof(name), "mesh-r%u", r + 1);
		json_array_append_new(topos, json_pack("{s:s, s:s, s:s, s:s, s:{s:s#}}", "name", name,
			"kind", "full-mesh", "tunnel_type", "gre", "profile", r == 2 ? "legacy" : "default",
			"match_tags", "region", name + 5, (int)2));
	}
	json_array_append_new(topos, json_pack("{s:s, s:s, s:s, s:s, s:[s], s:{s:s}, s:[s]}",
		"name", "core", "kind", "hub-spoke", "tunnel_type", "vti", "profile", "default",
		"hubs", "r1-s0", "match_tags", "fleet", "x", "summary_prefixes", "10.0.0.0/8"));
	json_array_append_new(topos, json_pack("{s:s, s:s, s:s, s:s, s:[s, s], s:{s:s}}",
		"name", "edge", "kind", "hub-spoke", "tunnel_type", "gre", "profile", "legacy",
		"hubs", "r2-s0", "r3-s0", "match_tags", "tier", "edge"));
	json_array_append_new(topos, json_pack("{s:s, s:s, s:s, s:s, s:[s, s, s]}", "name", "named",
		"kind", "full-mesh", "tunnel_type", "gre", "profile", "default", "members", "r1-s2",
		"r2-s2", "r3-s4"));
	assert_int_equal(inc_import(f, json_pack("{s:o, s:o, s:[{s:s, s:s, s:i, s:s}, {s:s, s:s, s:i, s:s}], "
		"s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}",
		"sites", sites, "topologies", topos,
		"profiles", "name", "default", "keying", "ike", "dpd_interval", 30, "auth", "psk",
		"name", "legacy", "keying", "ike", "dpd_interval", 10, "auth", "psk",
		"tunnels", "name", "x1", "a", "r1-s3", "b", "r3-s3", "tunnel_type", "vti", "profile", "legacy",
		"name", "x2", "a", "r1-s4", "b", "r1-s5", "tunnel_type", "vti", "profile", "legacy")), 0);
}

/* A random existing object of kind k (a new reference to its body), or NULL. */
static json_t *inc_pick(struct inc_fx *f, const struct kind_ops *k)
{
	json_t *names = NULL, *body = NULL;
	size_t n;

	assert_int_equal(store_names(f->s[0], k, &names), 0);
	n = json_array_size(names);
	if (n)
		assert_int_equal(store_get(f->s[0], k, json_string_value(json_array_get(names,
					   inc_rand(f, (unsigned)n))), &body, NULL), 0);
	json_decref(names);
	return body;
}

static json_t *inc_doc(const char *plural, json_t *body)
{
	return json_pack("{s:[o]}", plural, body);
}

static void inc_clash(struct inc_fx *f, json_t *s, const json_t *other)
{
	const char *lan = json_string_value(json_array_get(json_object_get(other, "prefixes"), 0));
	unsigned a = 0, b = 0;
	char buf[32];

	if (!lan || sscanf(lan, "10.%u.%u.0/24", &a, &b) != 2 || inc_rand(f, 2)) {
		json_object_set(s, inc_rand(f, 2) ? "prefixes" : "underlay",
				json_object_get(other, inc_rand(f, 2) ? "prefixes" : "underlay"));
		return;
	}
	if (inc_rand(f, 2)) {
		snprintf(buf, sizeof(buf), "10.%u.%u.0/20", a, b & ~15u);
		json_array_append_new(json_object_get(s, "prefixes"), json_string(buf));
	} else {
		snprintf(buf, sizeof(buf), "10.%u.%u.5", a, b);
		json_object_set_new(s, "underlay", json_string(buf));
	}
}

/* Writes a changed copy of a random site; op says how it changes. */
static void inc_site_write(struct inc_fx *f, unsigned how)
{
	json_t *s = inc_pick(f, &kind_site), *tags, *fresh;
	char reg[8];

	if (!s)
		return;
	tags = json_object_get(s, "tags");
	fresh = inc_site(f, "unused", 0);
	switch (how) {
	case 0:
		f->op = "description";
		json_object_set_new(s, "description", json_sprintf("step %d", f->step));
		break;
	case 1:
		f->op = "prefixes";
		json_array_append(json_object_get(s, "prefixes"),
				  json_array_get(json_object_get(fresh, "prefixes"), 0));
		break;
	case 2:
		f->op = "region";
		snprintf(reg, sizeof(reg), "r%u", inc_rand(f, INC_REGIONS + 1) + 1);
		json_object_set_new(tags, "region", json_string(reg));
		break;
	case 3:
		f->op = "tier";
		if (json_object_get(tags, "tier"))
			json_object_del(tags, "tier");
		else
			json_object_set_new(tags, "tier", json_string("edge"));
		break;
	case 4:
		f->op = "fleet";
		if (json_object_get(tags, "fleet"))
			json_object_del(tags, "fleet");
		else
			json_object_set_new(tags, "fleet", json_string("x"));
		break;
	case 7:
		/* Another site's addresses, or a prefix over its prefix, or an underlay in
		 * it: both stores must refuse the same way. */
		f->op = "address clash";
		json_decref(fresh);
		fresh = inc_pick(f, &kind_site);
		inc_clash(f, s, fresh);
		break;
	default:
		f->op = "underlay";
		json_object_set(s, "underlay", json_object_get(fresh, "underlay"));
		break;
	}
	json_decref(fresh);
	inc_import(f, inc_doc("sites", s));
}

static void inc_site_add(struct inc_fx *f)
{
	char name[32];

	f->op = "add site";
	snprintf(name, sizeof(name), "n%03u", f->serial);
	inc_import(f, inc_doc("sites", inc_site(f, name, inc_rand(f, INC_REGIONS + 1))));
}

static void inc_site_delete(struct inc_fx *f)
{
	json_t *s = inc_pick(f, &kind_site);

	f->op = "delete site";
	if (s)
		inc_delete(f, &kind_site, json_string_value(json_object_get(s, "name")));
	json_decref(s);
}

/* An explicit tunnel between two random sites, or a random one deleted. */
static void inc_tunnel(struct inc_fx *f)
{
	json_t *a = inc_pick(f, &kind_site), *b = inc_pick(f, &kind_site), *t;
	char name[32];

	if (inc_rand(f, 3) == 0 && (t = inc_pick(f, &kind_tunnel))) {
		f->op = "delete tunnel";
		inc_delete(f, &kind_tunnel, json_string_value(json_object_get(t, "name")));
		json_decref(t);
	} else if (a && b) {
		f->op = "add tunnel";
		snprintf(name, sizeof(name), "t%u", f->serial++);
		inc_import(f, json_pack("{s:[{s:s, s:O, s:O, s:s, s:s}]}", "tunnels", "name", name,
			"a", json_object_get(a, "name"), "b", json_object_get(b, "name"),
			"tunnel_type", inc_rand(f, 2) ? "gre" : "vti", "profile", "default"));
	}
	json_decref(a);
	json_decref(b);
}

/* The same call on both stores, which must agree on its outcome. */
static void inc_both(struct inc_fx *f, int rc0, int rc1)
{
	f->refused += rc0 < 0;
	if (rc0 != rc1)
		fail_msg("step %d (%s): incremental %d, from scratch %d", f->step, f->op, rc0, rc1);
}

/* A tunnel's key rotated (ids are the same in both stores), or a site's agent
 * reporting the psk-hex feature (or no longer), which changes its tunnels' keys' form. */
static void inc_secrets(struct inc_fx *f, unsigned how)
{
	json_t *site = inc_pick(f, &kind_site), *report;
	char *n = inc_rows(f->s[0], "SELECT max(id) FROM tunnel");
	long long id = 1 + (long long)inc_rand(f, (unsigned)atoll(n) + 1);
	const char *name = json_string_value(json_object_get(site, "name"));

	free(n);
	if (how == 0) {
		f->op = "rotate psk";
		inc_both(f, psk_rotate(f->s[0], id, "test", "test", NULL),
			 psk_rotate(f->s[1], id, "test", "test", NULL));
	} else if (site) {
		f->op = "features";
		report = json_pack("{s:i, s:[], s:[s*]}", "revision", 1, "tunnels", "features",
				   inc_rand(f, 3) ? INTENT_FEATURE_PSK_HEX : NULL);
		for (int i = 0; i < 2; i++)
			assert_int_equal(status_save(f->s[i], name, report), 0);
		inc_both(f, psk_recompile_site(f->s[0], name), psk_recompile_site(f->s[1], name));
		json_decref(report);
	}
	json_decref(site);
}

/* One site deleted and another created in one transaction: the same number of sites,
 * every index after them shifted. */
static void inc_swap(struct inc_fx *f)
{
	json_t *gone = inc_pick(f, &kind_site), *in, *body = NULL;
	struct verr *bad = verr_new();
	char name[32];
	int rc[2];

	f->op = "delete and create";
	snprintf(name, sizeof(name), "a%03u", f->serial);
	in = inc_site(f, name, inc_rand(f, INC_REGIONS));

	assert_int_equal(kind_site.normalize(in, "", bad, &body), 0);
	verr_free(bad);
	for (int i = 0; gone && i < 2; i++) {
		struct verr *errs = verr_new();
		enum store_change ch;

		rc[i] = store_begin(f->s[i]);
		if (rc[i] == 0)
			rc[i] = store_delete(f->s[i], &kind_site, json_string_value(
					     json_object_get(gone, "name")), "test", NULL);
		if (rc[i] == 0)
			rc[i] = store_put(f->s[i], &kind_site, name, body, &ch, NULL);
		if (rc[i] == 0)
			rc[i] = store_finish(f->s[i], errs, NULL, NULL, false);
		else
			store_rollback(f->s[i]);
		verr_free(errs);
	}
	if (gone)
		inc_both(f, rc[0], rc[1]);
	json_decref(gone);
	json_decref(in);
	json_decref(body);
}

/* A profile's DPD, a mesh's region, or several sites in one transaction. */
static void inc_other(struct inc_fx *f, unsigned how)
{
	char name[32], reg[8];

	if (how == 0) {
		f->op = "profile";
		inc_import(f, json_pack("{s:[{s:s, s:s, s:i, s:s}]}", "profiles", "name",
			inc_rand(f, 2) ? "default" : "legacy", "keying", "ike", "dpd_interval",
			5 + (int)inc_rand(f, 50), "auth", "psk"));
	} else if (how == 1) {
		f->op = "topology";
		snprintf(name, sizeof(name), "mesh-r%u", inc_rand(f, INC_REGIONS) + 1);
		snprintf(reg, sizeof(reg), "r%u", inc_rand(f, INC_REGIONS + 1) + 1);
		inc_import(f, json_pack("{s:[{s:s, s:s, s:s, s:s, s:{s:s}}]}", "topologies", "name",
			name, "kind", "full-mesh", "tunnel_type", "gre", "profile", "default",
			"match_tags", "region", reg));
	} else {
		json_t *doc = json_pack("{s:[]}", "sites");

		f->op = "several sites";
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof(name), "m%03u", f->serial);
			json_array_append_new(json_object_get(doc, "sites"),
					      inc_site(f, name, inc_rand(f, INC_REGIONS)));
		}
		inc_import(f, doc);
	}
}

static void inc_step(struct inc_fx *f)
{
	unsigned op = inc_rand(f, 23);

	if (op < 4)
		inc_site_add(f);
	else if (op < 7)
		inc_site_delete(f);
	else if (op < 15)
		inc_site_write(f, op - 7);
	else if (op < 17)
		inc_tunnel(f);
	else if (op < 20)
		inc_other(f, op - 17);
	else if (op < 22)
		inc_secrets(f, op - 20);
	else
		inc_swap(f);
	inc_check(f);
}

static void inc_run(unsigned seed, int steps)
{
	struct inc_fx f = { 0 };
	char *tunnels;

	inc_open(&f, seed);
	f.op = "base";
	inc_base(&f);
	inc_check(&f);
	for (f.step = 1; f.step <= steps; f.step++)
		inc_step(&f);
	tunnels = inc_rows(f.s[0], "SELECT count(*) || ' tunnels, ' || count(DISTINCT site_a) "
			   "|| ' sites' FROM tunnel");
	/* A run where every write was refused, or that ended with nothing joined, would
	 * prove nothing. */
	print_message("seed %u: %d writes, %d refused; %s", seed, steps, f.refused, tunnels);
	assert_true(f.refused < steps / 2);
	assert_true(atoi(tunnels) > 20);
	free(tunnels);
	inc_close(&f);
}

static void test_random_writes(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 6; seed++)
		inc_run(seed, 120);
}

/* The checks themselves can fail: a tunnel changed behind one store's back is seen. */
static void test_checks_can_fail(void **state)
{
	struct inc_fx f = { 0 };
	char *a, *b;

	(void)state;
	inc_open(&f, 7);
	f.op = "base";
	inc_base(&f);
	assert_int_equal(db_exec(store_db(f.s[1]), "UPDATE tunnel SET overlay = overlay + 1000 "
				 "WHERE id = (SELECT max(id) FROM tunnel)"), 0);
	a = inc_rows(f.s[0], "SELECT id, overlay FROM tunnel ORDER BY id");
	b = inc_rows(f.s[1], "SELECT id, overlay FROM tunnel ORDER BY id");
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	inc_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_writes),
		cmocka_unit_test(test_checks_can_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
