/* Bulk import and export against a real temporary SQLite store: reports, idempotence,
 * dry runs, replace mode, audit records, error paths (JSON and CSV), atomicity. */
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

#include "audit.h"
#include "import.h"
#include "log.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[96];
	struct store *s;
	struct verr *errs;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/gresec-test-import.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	assert_int_equal(store_open(f->path, &f->s), 0);
	f->errs = verr_new();
	assert_non_null(f->errs);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];

	store_free(f->s);
	verr_free(f->errs);
	snprintf(p, sizeof(p), "%s/t.db", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/t.db-wal", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/t.db-shm", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const char *const doc_text =
	"{\"profiles\":[{\"name\":\"p1\"}],"
	"\"sites\":["
	"{\"name\":\"hq\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"10.1.0.0/16\"],"
	" \"tags\":{\"region\":\"eu\"}},"
	"{\"name\":\"br1\",\"underlay\":\"203.0.113.5\",\"prefixes\":[\"10.2.0.0/24\"],"
	" \"tags\":{\"region\":\"eu\"}},"
	"{\"name\":\"br2\",\"underlay\":\"198.51.100.7\",\"behind_nat\":true,\"nat_address\":\"203.0.113.77\"}],"
	"\"topologies\":[{\"name\":\"eu\",\"kind\":\"full-mesh\",\"profile\":\"p1\","
	" \"match_tags\":{\"region\":\"eu\"}}],"
	"\"tunnels\":[{\"name\":\"t1\",\"a\":\"hq\",\"b\":\"br2\",\"profile\":\"p1\"}]}";

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *d = json_loads(text, 0, &e);

	if (!d)
		fail_msg("bad test JSON at %d: %s", e.position, e.text);
	return d;
}

static json_t *run_json(struct fixture *f, const char *text, bool replace, bool dry_run,
			int expect)
{
	struct import_opts o = { .replace = replace, .dry_run = dry_run, .actor = "test" };
	json_t *doc = load(text), *rep = NULL;
	int rc = import_json(f->s, doc, &o, f->errs, &rep);

	json_decref(doc);
	if (rc != expect) {
		char *e = json_dumps(verr_json(f->errs), 0);

		fail_msg("import_json: %d, expected %d; errors %s", rc, expect, e);
	}
	if (expect == 0)
		assert_non_null(rep);
	else
		assert_null(rep);
	return rep;
}

static json_int_t num(const json_t *rep, const char *plural, const char *what)
{
	const json_t *v = plural ? json_object_get(json_object_get(json_object_get(rep, "changes"),
								  plural), what)
				 : json_object_get(json_object_get(rep, "totals"), what);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void assert_names(const json_t *rep, const char *plural, const char *what,
			 const char *csv_names)
{
	json_t *arr = json_object_get(json_object_get(json_object_get(json_object_get(rep,
		"changes"), plural), "names"), what), *v;
	char got[512] = "";
	size_t i;

	assert_true(json_is_array(arr));
	json_array_foreach(arr, i, v)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "",
			 json_string_value(v));
	assert_string_equal(got, csv_names);
}

static size_t count_names(struct fixture *f, const struct kind_ops *k)
{
	json_t *names = NULL;
	size_t n;

	assert_int_equal(store_names(f->s, k, &names), 0);
	n = json_array_size(names);
	json_decref(names);
	return n;
}

/* True when errs holds an error whose path is exactly path (prefix: starts with it). */
static bool has_error(struct fixture *f, const char *path, bool prefix)
{
	json_t *list = verr_json(f->errs), *e;
	bool found = false;
	size_t i;

	json_array_foreach(list, i, e) {
		const char *p = json_string_value(json_object_get(e, "path"));

		if (p && (prefix ? !strncmp(p, path, strlen(path)) : !strcmp(p, path)))
			found = true;
	}
	json_decref(list);
	return found;
}

static void expect_error(struct fixture *f, const char *path, bool prefix)
{
	if (!has_error(f, path, prefix)) {
		char *e = json_dumps(verr_json(f->errs), 0);

		fail_msg("no error at %s%s in %s", path, prefix ? "*" : "", e);
	}
}

static void test_import_reimport_export(void **state)
{
	struct fixture *f = *state;
	json_t *rep, *exp = NULL, *again;
	struct import_opts o = { .replace = true, .actor = "test" };

	rep = run_json(f, doc_text, false, false, 0);
	assert_string_equal(json_string_value(json_object_get(rep, "mode")), "merge");
	assert_true(json_is_false(json_object_get(rep, "dry_run")));
	assert_int_equal(num(rep, "sites", "created"), 3);
	assert_int_equal(num(rep, "profiles", "created"), 1);
	assert_int_equal(num(rep, "topologies", "created"), 1);
	assert_int_equal(num(rep, "tunnels", "created"), 1);
	assert_int_equal(num(rep, NULL, "created"), 6);
	assert_int_equal(num(rep, NULL, "updated"), 0);
	assert_names(rep, "sites", "created", "hq,br1,br2");
	json_decref(rep);
	assert_int_equal(count_names(f, &kind_site), 3);

	/* The same document again, then the export: nothing changes either time. */
	rep = run_json(f, doc_text, false, false, 0);
	assert_int_equal(num(rep, NULL, "created") + num(rep, NULL, "updated") +
			 num(rep, NULL, "deleted"), 0);
	assert_int_equal(num(rep, "sites", "unchanged"), 3);
	assert_int_equal(num(rep, "tunnels", "unchanged"), 1);
	json_decref(rep);

	assert_int_equal(import_export(f->s, &exp), 0);
	assert_int_equal(json_array_size(json_object_get(exp, "sites")), 3);
	assert_int_equal(json_array_size(json_object_get(exp, "profiles")), 1);
	assert_int_equal(json_array_size(json_object_get(exp, "topologies")), 1);
	assert_int_equal(json_array_size(json_object_get(exp, "tunnels")), 1);
	/* Sorted by name, canonical: defaults filled in. */
	assert_string_equal(json_string_value(json_object_get(
		json_array_get(json_object_get(exp, "sites"), 0), "name")), "br1");
	assert_true(json_is_boolean(json_object_get(
		json_array_get(json_object_get(exp, "sites"), 0), "behind_nat")));
	assert_int_equal(import_json(f->s, exp, &o, f->errs, &again), 0);
	assert_int_equal(num(again, NULL, "created") + num(again, NULL, "updated") +
			 num(again, NULL, "deleted"), 0);
	assert_string_equal(json_string_value(json_object_get(again, "mode")), "replace");
	json_decref(again);
	json_decref(exp);
	assert_int_equal(verr_count(f->errs), 0);
}

static void test_dry_run_writes_nothing(void **state)
{
	struct fixture *f = *state;
	json_t *rep, *audit = NULL;

	rep = run_json(f, doc_text, false, true, 0);
	assert_true(json_is_true(json_object_get(rep, "dry_run")));
	assert_int_equal(num(rep, NULL, "created"), 6);
	assert_names(rep, "sites", "created", "hq,br1,br2");
	json_decref(rep);
	assert_int_equal(count_names(f, &kind_site), 0);
	assert_int_equal(count_names(f, &kind_profile), 0);
	assert_int_equal(audit_list(store_db(f->s), 0, 100, &audit), 0);
	assert_int_equal(json_array_size(json_object_get(audit, "items")), 0);
	json_decref(audit);
}

static void test_update_and_audit(void **state)
{
	struct fixture *f = *state;
	json_t *rep, *audit = NULL, *last, *body = NULL;
	size_t n;

	json_decref(run_json(f, doc_text, false, false, 0));
	rep = run_json(f, "{\"sites\":[{\"name\":\"br2\",\"underlay\":\"198.51.100.7\","
		       "\"behind_nat\":true,\"nat_address\":\"203.0.113.77\",\"description\":\"moved\"}]}",
		       false, false, 0);
	assert_int_equal(num(rep, "sites", "updated"), 1);
	assert_int_equal(num(rep, "sites", "unchanged"), 0);
	assert_names(rep, "sites", "updated", "br2");
	/* Merge mode: what the document does not name stays. */
	assert_int_equal(num(rep, NULL, "deleted"), 0);
	json_decref(rep);
	assert_int_equal(count_names(f, &kind_site), 3);
	assert_int_equal(store_get(f->s, &kind_site, "br2", &body, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(body, "description")), "moved");
	json_decref(body);

	/* One audit record per object written: 6 creations, then one update with both bodies. */
	assert_int_equal(audit_list(store_db(f->s), 0, 100, &audit), 0);
	n = json_array_size(json_object_get(audit, "items"));
	assert_int_equal(n, 7);
	last = json_array_get(json_object_get(audit, "items"), n - 1);
	assert_string_equal(json_string_value(json_object_get(last, "action")), "import");
	assert_string_equal(json_string_value(json_object_get(last, "actor")), "test");
	assert_string_equal(json_string_value(json_object_get(last, "name")), "br2");
	assert_string_equal(json_string_value(json_object_get(json_object_get(last, "before"),
							       "description")), "");
	assert_string_equal(json_string_value(json_object_get(json_object_get(last, "after"),
							       "description")), "moved");
	json_decref(audit);
}

static void test_replace(void **state)
{
	struct fixture *f = *state;
	json_t *rep;

	json_decref(run_json(f, doc_text, false, false, 0));
	/* Only sites named: br1 goes; profiles, topologies and tunnels are not touched. */
	rep = run_json(f, "{\"sites\":[{\"name\":\"hq\",\"underlay\":\"192.0.2.1\","
		       "\"prefixes\":[\"10.1.0.0/16\"],\"tags\":{\"region\":\"eu\"}},"
		       "{\"name\":\"br2\",\"underlay\":\"198.51.100.7\",\"behind_nat\":true,\"nat_address\":\"203.0.113.77\"}]}",
		       true, false, 0);
	assert_int_equal(num(rep, "sites", "deleted"), 1);
	assert_names(rep, "sites", "deleted", "br1");
	assert_int_equal(num(rep, "sites", "unchanged"), 2);
	assert_int_equal(num(rep, NULL, "deleted"), 1);
	json_decref(rep);
	assert_int_equal(count_names(f, &kind_site), 2);
	assert_int_equal(count_names(f, &kind_topology), 1);

	/* Removing the explicit tunnel and a site it used, together, is consistent. */
	rep = run_json(f, "{\"sites\":[{\"name\":\"hq\",\"underlay\":\"192.0.2.1\","
		       "\"prefixes\":[\"10.1.0.0/16\"],\"tags\":{\"region\":\"eu\"}}],"
		       "\"tunnels\":[]}", true, false, 0);
	assert_names(rep, "sites", "deleted", "br2");
	assert_names(rep, "tunnels", "deleted", "t1");
	json_decref(rep);

	/* Deleting a site still referenced by a tunnel the document keeps is refused. */
	json_decref(run_json(f, doc_text, false, false, 0));
	verr_free(f->errs);
	f->errs = verr_new();
	json_decref(run_json(f, "{\"sites\":[{\"name\":\"hq\",\"underlay\":\"192.0.2.1\"}],"
			     "\"tunnels\":[{\"name\":\"t1\",\"a\":\"hq\",\"b\":\"br2\","
			     "\"profile\":\"p1\"}]}", true, false, -EINVAL));
	expect_error(f, "tunnels[0].b", false);
	assert_int_equal(count_names(f, &kind_site), 3);
}

static void test_document_errors(void **state)
{
	struct fixture *f = *state;

	json_decref(run_json(f, "[1]", false, false, -EINVAL));
	expect_error(f, "", false);
	verr_free(f->errs);
	f->errs = verr_new();
	json_decref(run_json(f, "{\"sites\":{},\"bogus\":[],\"profiles\":[{\"name\":\"p1\"}]}",
			     false, false, -EINVAL));
	expect_error(f, "sites", false);
	expect_error(f, "bogus", false);
	assert_int_equal(count_names(f, &kind_profile), 0);
}

/* Every invalid item is reported at once, under its own path, and nothing is written. */
static void test_item_errors(void **state)
{
	struct fixture *f = *state;

	json_decref(run_json(f,
		"{\"sites\":[{\"name\":\"a\",\"underlay\":\"10.0.0.300\"},"
		"{\"name\":\"b\",\"underlay\":\"192.0.2.2\"},"
		"{\"name\":\"b\",\"underlay\":\"192.0.2.3\"},"
		"{\"name\":\"c\",\"underlay\":\"192.0.2.4\",\"colour\":\"red\"}],"
		"\"profiles\":[{\"name\":\"p1\",\"keying\":\"ikeless\"}]}", false, false, -EINVAL));
	expect_error(f, "sites[0].underlay", false);
	expect_error(f, "sites[2].name", false);
	expect_error(f, "sites[3]", true);
	expect_error(f, "profiles[0].keying", false);
	assert_false(has_error(f, "sites[1]", true));
	assert_int_equal(count_names(f, &kind_site), 0);
}

/* Cross-object errors from store_finish land on this document's paths. */
static void test_cross_object_errors(void **state)
{
	struct fixture *f = *state;

	json_decref(run_json(f,
		"{\"sites\":[{\"name\":\"a\",\"underlay\":\"192.0.2.1\",\"prefixes\":[\"10.0.0.0/16\"]},"
		"{\"name\":\"b\",\"underlay\":\"192.0.2.2\",\"prefixes\":[\"10.0.5.0/24\"]}],"
		"\"topologies\":[{\"name\":\"m\",\"kind\":\"full-mesh\",\"profile\":\"nope\","
		"\"members\":[\"a\",\"b\"]}]}", false, false, -EINVAL));
	expect_error(f, "topologies[0].profile", false);
	expect_error(f, "sites[", true);
	assert_int_equal(count_names(f, &kind_site), 0);
	assert_int_equal(count_names(f, &kind_topology), 0);
}

static json_t *run_csv(struct fixture *f, const char *csv, bool replace, int expect)
{
	struct import_opts o = { .replace = replace, .actor = "csv" };
	json_t *rep = NULL;
	int rc = import_csv(f->s, csv, strlen(csv), &o, f->errs, &rep);

	if (rc != expect) {
		char *e = json_dumps(verr_json(f->errs), 0);

		fail_msg("import_csv: %d, expected %d; errors %s", rc, expect, e);
	}
	return rep;
}

static void test_csv_sites(void **state)
{
	struct fixture *f = *state;
	json_t *rep, *body = NULL, *pfx;

	rep = run_csv(f, "\xef\xbb\xbfName, underlay ,behind_nat,prefixes,tags,description,underlay_mtu,"
		      "nat_address\r\n"
		      "hq,192.0.2.1,no,10.1.0.0/16 10.0.0.0/24,region=eu tier=core,\"Paris, FR\",9000,\r\n"
		      "br1, 2001:db8::1 ,YES,,,,,2001:db8:ff::1\r\n"
		      "\r\n"
		      "br2,198.51.100.7,1,  ,region=us,\"multi\nline\",,203.0.113.77\r\n", false, 0);
	assert_int_equal(num(rep, "sites", "created"), 3);
	assert_names(rep, "sites", "created", "hq,br1,br2");
	json_decref(rep);

	assert_int_equal(store_get(f->s, &kind_site, "hq", &body, NULL), 0);
	assert_true(json_is_false(json_object_get(body, "behind_nat")));
	pfx = json_object_get(body, "prefixes");
	assert_int_equal(json_array_size(pfx), 2);
	assert_string_equal(json_string_value(json_array_get(pfx, 0)), "10.0.0.0/24");
	assert_string_equal(json_string_value(json_object_get(json_object_get(body, "tags"),
							       "tier")), "core");
	assert_string_equal(json_string_value(json_object_get(body, "description")), "Paris, FR");
	assert_int_equal(json_integer_value(json_object_get(body, "underlay_mtu")), 9000);
	json_decref(body);
	assert_int_equal(store_get(f->s, &kind_site, "br1", &body, NULL), 0);
	assert_true(json_is_true(json_object_get(body, "behind_nat")));
	assert_string_equal(json_string_value(json_object_get(body, "underlay")), "2001:db8::1");
	assert_string_equal(json_string_value(json_object_get(body, "nat_address")), "2001:db8:ff::1");
	assert_int_equal(json_integer_value(json_object_get(body, "underlay_mtu")), 1500);
	json_decref(body);

	/* Replace with a CSV prunes sites only (a profile stays), and a CSV re-import of
	 * the same rows changes nothing. */
	json_decref(run_json(f, "{\"profiles\":[{\"name\":\"p1\"}]}", false, false, 0));
	rep = run_csv(f, "name,underlay,behind_nat,nat_address\nbr1,2001:db8::1,true,2001:db8:ff::1\n",
		      true, 0);
	assert_names(rep, "sites", "deleted", "br2,hq");
	assert_int_equal(num(rep, "sites", "unchanged"), 1);
	json_decref(rep);
	assert_int_equal(count_names(f, &kind_profile), 1);
	assert_int_equal(count_names(f, &kind_site), 1);
}

static void test_csv_errors(void **state)
{
	struct fixture *f = *state;

	run_csv(f, "name,underlay,behind_nat,underlay_mtu,tags\n"
		"a,192.0.2.1,maybe,1500,\n"
		"b,192.0.2.2,no,15x0,\n"
		"c,192.0.2.3,no\n"
		"a,192.0.2.4,no,,\n"
		"d,192.0.2.5,no,,novalue x=1 x=2\n"
		"e,not-an-ip,no,,\n", false, -EINVAL);
	expect_error(f, "line 2.behind_nat", false);
	expect_error(f, "line 3.underlay_mtu", false);
	expect_error(f, "line 4", false);
	expect_error(f, "line 5.name", false);
	expect_error(f, "line 6.tags", false);
	expect_error(f, "line 7.underlay", false);
	assert_int_equal(count_names(f, &kind_site), 0);

	verr_free(f->errs);
	f->errs = verr_new();
	run_csv(f, "name,bogus,name\n", false, -EINVAL);
	expect_error(f, "line 1", false);
	assert_int_equal(verr_count(f->errs), 3);	/* unknown, twice, no underlay */

	verr_free(f->errs);
	f->errs = verr_new();
	run_csv(f, "name,underlay\nok,192.0.2.9\n\"x\n\ny\"z,1\n", false, -EINVAL);
	expect_error(f, "line 5", false);
	assert_int_equal(count_names(f, &kind_site), 0);

	verr_free(f->errs);
	f->errs = verr_new();
	run_csv(f, "", false, -EINVAL);
	expect_error(f, "line 1", false);

	/* Cross-site rules, checked by the store at the end, still name CSV lines. */
	verr_free(f->errs);
	f->errs = verr_new();
	run_csv(f, "name,underlay,prefixes\nx,192.0.2.1,10.0.0.0/8\ny,192.0.2.1,10.1.0.0/16\n",
		false, -EINVAL);
	/* Which of the two sites carries the error is the validator's choice. */
	assert_true(has_error(f, "line 2.underlay", false) || has_error(f, "line 3.underlay", false));
	assert_true(has_error(f, "line 2.prefixes", true) || has_error(f, "line 3.prefixes", true));
	assert_false(has_error(f, "sites", true));
	assert_int_equal(count_names(f, &kind_site), 0);
}

/* Bytes that are not UTF-8, in any cell of any column, are errors at their cell (a
 * 422), never a failed conversion (a 500); the header's too. */
static void test_csv_not_utf8(void **state)
{
	struct fixture *f = *state;

	run_csv(f, "name,underlay,description,tags,prefixes\n"
		"a,192.0.2.1,caf\xe9,,\n"				/* Latin-1 */
		"b,192.0.2.2,ok,k=\xc3,\n"				/* cut short */
		"c\xff,192.0.2.3,,,\n"
		"d,192.0.2.4,,,10.0.0.0/8 \xed\xa0\x80\n"		/* a surrogate */
		"e,192.0.2.5,\xc3\xa9t\xc3\xa9 \xf0\x9f\x9a\x80,,\n",	/* valid */
		false, -EINVAL);
	expect_error(f, "line 2.description", false);
	expect_error(f, "line 3.tags", false);
	expect_error(f, "line 4.name", false);
	expect_error(f, "line 5.prefixes", false);
	assert_false(has_error(f, "line 6", true));
	assert_int_equal(count_names(f, &kind_site), 0);

	verr_free(f->errs);
	f->errs = verr_new();
	run_csv(f, "name,underlay,\xc0\xaf\n", false, -EINVAL);
	expect_error(f, "line 1", false);
}

static void test_utf8_check(void **state)
{
	static const struct { const char *s; long bad; } cases[] = {
		{ "", -1 }, { "plain", -1 }, { "\xc3\xa9", -1 }, { "\xe2\x82\xac", -1 },
		{ "\xf4\x8f\xbf\xbf", -1 }, { "a\x80", 1 }, { "\xc3", 0 }, { "x\xc3(", 1 },
		{ "\xc0\x80", 0 }, { "\xe0\x80\xaf", 0 }, { "\xed\xa0\x80", 0 },
		{ "ab\xf4\x90\x80\x80", 2 }, { "\xf8\x88\x80\x80\x80", 0 }, { "\xff", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(import_csv_utf8_bad(cases[i].s, strlen(cases[i].s)), cases[i].bad);
}

/* The benchmark's shape in small: thousands of tunnels from a few topologies, and the
 * second import of the same document is a no-op. */
static void test_many_sites(void **state)
{
	struct fixture *f = *state;
	size_t n = 120, i, len = 0, cap = 64 * 1024;
	char *doc = malloc(cap);
	json_t *rep;

	assert_non_null(doc);
	len += snprintf(doc + len, cap - len, "{\"profiles\":[{\"name\":\"p\"}],\"sites\":[");
	for (i = 0; i < n; i++)
		len += snprintf(doc + len, cap - len, "%s{\"name\":\"s%zu\",\"underlay\":"
				"\"198.18.%zu.%zu\",\"prefixes\":[\"10.%zu.%zu.0/24\"],"
				"\"tags\":{\"r\":\"r%zu\"}}", i ? "," : "", i, i / 250, i % 250 + 1,
				16 + i / 256, i % 256, i % 3);
	len += snprintf(doc + len, cap - len, "],\"topologies\":["
			"{\"name\":\"hs\",\"kind\":\"hub-spoke\",\"profile\":\"p\",\"hubs\":[\"s0\"],"
			"\"members\":[\"s1\",\"s2\"],\"match_tags\":{\"r\":\"r1\"}},"
			"{\"name\":\"m0\",\"kind\":\"full-mesh\",\"profile\":\"p\","
			"\"match_tags\":{\"r\":\"r0\"}}]}");
	assert_true(len < cap);
	rep = run_json(f, doc, false, false, 0);
	assert_int_equal(num(rep, "sites", "created"), n);
	json_decref(rep);
	rep = run_json(f, doc, false, false, 0);
	assert_int_equal(num(rep, NULL, "created") + num(rep, NULL, "updated"), 0);
	assert_int_equal(num(rep, "sites", "unchanged"), n);
	json_decref(rep);
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_reimport_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_and_audit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_document_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_item_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_object_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_sites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csv_not_utf8, setup, teardown),
		cmocka_unit_test(test_utf8_check),
		cmocka_unit_test_setup_teardown(test_many_sites, setup, teardown),
	};

	log_init("test_import", LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
