"""Bulk import (JSON and CSV), dry run, replace, atomicity, and export round trips."""
import copy

from conftest import assert_error, site

KINDS = ("sites", "profiles", "topologies", "tunnels")


def doc(n_sites=6):
    sites = [site("s%d" % i, i + 1, tags={"region": "eu" if i % 2 else "us"})
             for i in range(n_sites)]
    return {
        "profiles": [{"name": "p1"}, {"name": "p2", "mode": "tunnel"}],
        "sites": sites,
        "topologies": [{"name": "eu", "kind": "full-mesh", "profile": "p1",
                        "match_tags": {"region": "eu"}},
                       {"name": "star", "kind": "hub-spoke", "profile": "p2",
                        "hubs": ["s0"], "members": ["s2", "s4"]}],
        "tunnels": [{"name": "x1", "a": "s0", "b": "s1", "profile": "p1"}],
    }


def changes(r):
    assert r.status == 200, r
    return r.json["changes"], r.json["totals"]


def test_import_creates_everything(ctl):
    r = ctl.post("/v1/import", doc())
    ch, totals = changes(r)
    assert r.json["mode"] == "merge" and r.json["dry_run"] is False
    assert ch["sites"]["created"] == 6 and ch["profiles"]["created"] == 2
    assert ch["topologies"]["created"] == 2 and ch["tunnels"]["created"] == 1
    assert sorted(ch["sites"]["names"]["created"]) == ["s%d" % i for i in range(6)]
    assert totals == {"created": 11, "updated": 0, "deleted": 0}
    for kind in KINDS:
        assert ch[kind]["updated"] == 0 and ch[kind]["deleted"] == 0
    ex = ctl.export()
    assert [s["name"] for s in ex["sites"]] == ["s%d" % i for i in range(6)]
    assert ex["profiles"][1]["mode"] == "tunnel"
    assert ctl.get("/v1/topologies/star").json["hubs"] == ["s0"]
    assert ctl.all_tunnels(), "the topologies joined no sites"


def test_import_same_document_again_changes_nothing(ctl):
    changes(ctl.post("/v1/import", doc()))
    ch, totals = changes(ctl.post("/v1/import", doc()))
    assert totals == {"created": 0, "updated": 0, "deleted": 0}
    assert ch["sites"]["unchanged"] == 6 and ch["topologies"]["unchanged"] == 2


def test_export_import_is_a_noop(ctl):
    changes(ctl.post("/v1/import", doc()))
    ctl.post("/v1/sites", {"name": "v6", "underlay": "2001:db8::9",
                           "prefixes": ["2001:db8:1::/48"], "behind_nat": True,
                           "nat_address": "2001:db8:ffff::9"})
    ex = ctl.export()
    assert set(ex) >= set(KINDS)
    etags = {s["name"]: ctl.get("/v1/sites/" + s["name"]).header("etag") for s in ex["sites"]}
    tunnels = ctl.all_tunnels()
    audit_len = len(ctl.get("/v1/audit?limit=1000").json["items"])
    for mode in ("merge", "replace"):
        ch, totals = changes(ctl.post("/v1/import?mode=" + mode, ex))
        assert totals == {"created": 0, "updated": 0, "deleted": 0}, (mode, ch)
        for kind in KINDS:
            assert ch[kind]["unchanged"] == len(ex[kind]), (mode, kind, ch)
            assert ch[kind]["names"] == {"created": [], "updated": [], "deleted": []}
    assert ctl.export() == ex
    assert ctl.all_tunnels() == tunnels
    for name, etag in etags.items():
        assert ctl.get("/v1/sites/" + name).header("etag") == etag
    assert len(ctl.get("/v1/audit?limit=1000").json["items"]) == audit_len


def test_merge_updates_and_keeps_what_is_not_named(ctl):
    changes(ctl.post("/v1/import", doc()))
    update = {"sites": [site("s1", 2, tags={"region": "eu"}, description="new"),
                        site("n1", 100)]}
    ch, totals = changes(ctl.post("/v1/import", update))
    assert ch["sites"]["names"]["updated"] == ["s1"]
    assert ch["sites"]["names"]["created"] == ["n1"]
    assert totals == {"created": 1, "updated": 1, "deleted": 0}
    assert len(ctl.export()["sites"]) == 7
    assert ctl.get("/v1/sites/s1").json["description"] == "new"


def test_replace_deletes_what_is_not_named(ctl):
    changes(ctl.post("/v1/import", doc()))
    d = doc()
    d["sites"] = [s for s in d["sites"] if s["name"] not in ("s3", "s5")]
    d["topologies"] = [t for t in d["topologies"] if t["name"] != "eu"]
    r = ctl.post("/v1/import?mode=replace", d)
    ch, totals = changes(r)
    assert r.json["mode"] == "replace"
    assert sorted(ch["sites"]["names"]["deleted"]) == ["s3", "s5"]
    assert ch["topologies"]["names"]["deleted"] == ["eu"]
    assert totals == {"created": 0, "updated": 0, "deleted": 3}
    ex = ctl.export()
    assert [s["name"] for s in ex["sites"]] == ["s0", "s1", "s2", "s4"]
    assert [t["name"] for t in ex["topologies"]] == ["star"]
    for t in ctl.all_tunnels():
        assert {t["a"], t["b"]}.isdisjoint({"s3", "s5"}), t
    # Replacing with the same document again is a no-op.
    ch, totals = changes(ctl.post("/v1/import?mode=replace", d))
    assert totals == {"created": 0, "updated": 0, "deleted": 0}


def test_replace_that_would_leave_a_dangling_reference_is_422(ctl):
    changes(ctl.post("/v1/import", doc()))
    before = ctl.export()
    d = copy.deepcopy(before)
    d["sites"] = [s for s in d["sites"] if s["name"] != "s0"]   # star's hub, x1's end
    e = assert_error(ctl.post("/v1/import?mode=replace", d), 422, "invalid")
    assert e["details"], e
    assert ctl.export() == before


def test_dry_run_reports_and_writes_nothing(ctl):
    changes(ctl.post("/v1/import", doc(6)))
    before = ctl.export()
    tunnels = ctl.all_tunnels()
    audit = ctl.get("/v1/audit?limit=1000").json["items"]
    d = doc(8)
    d["sites"][1]["description"] = "changed"
    r = ctl.post("/v1/import?dry_run=true", d)
    ch, totals = changes(r)
    assert r.json["dry_run"] is True
    assert sorted(ch["sites"]["names"]["created"]) == ["s6", "s7"]
    assert ch["sites"]["names"]["updated"] == ["s1"]
    assert totals == {"created": 2, "updated": 1, "deleted": 0}
    assert ctl.export() == before
    assert ctl.all_tunnels() == tunnels
    assert ctl.get("/v1/audit?limit=1000").json["items"] == audit

    dry = ctl.post("/v1/import?dry_run=true&mode=replace",
                   {"sites": before["sites"][:1], "profiles": before["profiles"],
                    "topologies": [], "tunnels": []})
    ch2, _ = changes(dry)
    assert ch2["topologies"]["deleted"] == 2 and ch2["sites"]["deleted"] == 5
    assert ch2["tunnels"]["names"]["deleted"] == ["x1"]
    assert ctl.export() == before

    # The dry run's report is exactly what the real import then does.
    real = ctl.post("/v1/import", d)
    assert real.status == 200, real
    assert real.json["dry_run"] is False
    assert real.json["changes"] == r.json["changes"]
    assert real.json["totals"] == r.json["totals"]
    assert ctl.export() != before


def test_dry_run_of_invalid_document_is_422(ctl):
    d = doc()
    d["sites"][2]["underlay"] = "bad"
    e = assert_error(ctl.post("/v1/import?dry_run=true", d), 422, "invalid")
    assert "sites[2].underlay" in [x["path"] for x in e["details"]]


def test_every_error_listed_and_nothing_written(ctl):
    changes(ctl.post("/v1/import", {"profiles": [{"name": "p0"}]}))
    before = ctl.export()
    d = doc()
    d["sites"][1]["underlay"] = "10.1.2"
    d["sites"][3]["name"] = "Bad_Name"
    d["sites"][4]["colour"] = "red"
    d["sites"][5]["prefixes"] = ["10.0.0.0/33"]
    d["profiles"][1]["esp_proposals"] = ["nonsense-cipher"]
    d["topologies"][0]["profile"] = "ghost"
    d["tunnels"][0]["b"] = "s0"
    e = assert_error(ctl.post("/v1/import", d), 422, "invalid")
    got = [x["path"] for x in e["details"]]
    for want in ("sites[1].underlay", "sites[3].name", "sites[4].colour",
                 "sites[5].prefixes[0]", "profiles[1].esp_proposals[0]", "tunnels[0].b"):
        assert want in got, (want, got)
    assert any(p.startswith("topologies[0]") for p in got), got
    for x in e["details"]:
        assert x["message"], x
    assert ctl.export() == before, "an invalid import wrote something"


def test_cross_object_errors_point_into_the_document(ctl):
    d = {"sites": [{"name": "a", "underlay": "192.0.2.1", "prefixes": ["10.1.0.0/16"]},
                   {"name": "b", "underlay": "192.0.2.2", "prefixes": ["10.1.128.0/17"]},
                   {"name": "c", "underlay": "10.1.0.9"}],
         "topologies": [{"name": "t", "kind": "full-mesh", "profile": "p9",
                         "members": ["a", "zz"]}]}
    e = assert_error(ctl.post("/v1/import", d), 422, "invalid")
    got = [x["path"] for x in e["details"]]
    assert any(p.startswith("sites[1]") or p.startswith("sites[0]") for p in got), got
    assert any(p.startswith("sites[2]") or "prefixes" in p for p in got), got
    assert "topologies[0].profile" in got and "topologies[0].members[1]" in got, got
    assert ctl.export()["sites"] == []


def test_duplicate_names_and_bad_shapes_are_422(ctl):
    e = assert_error(ctl.post("/v1/import", {"sites": [site("a", 1), site("a", 2)]}), 422)
    assert any(x["path"].startswith("sites[1]") for x in e["details"]), e
    e = assert_error(ctl.post("/v1/import", {"sites": [site("a", 1)], "zones": []}), 422)
    assert "zones" in [x["path"] for x in e["details"]], e
    e = assert_error(ctl.post("/v1/import", {"sites": {"name": "a"}}), 422)
    assert "sites" in [x["path"] for x in e["details"]], e
    e = assert_error(ctl.post("/v1/import", {"sites": [42]}), 422)
    assert "sites[0]" in [x["path"] for x in e["details"]], e
    assert_error(ctl.post("/v1/import", [site("a", 1)]), 422, "invalid")
    assert ctl.export()["sites"] == []


def test_empty_document_changes_nothing(ctl):
    ch, totals = changes(ctl.post("/v1/import", {}))
    assert totals == {"created": 0, "updated": 0, "deleted": 0}
    assert set(ch) == set(KINDS)


# ---- CSV ------------------------------------------------------------------------------

CSV = ("name,underlay,behind_nat,prefixes,tags,description,underlay_mtu,nat_address\n"
       "paris-1,192.0.2.10,false,10.1.0.0/16,region=eu role=branch,Paris office,1400,\n"
       "lyon-1,2001:db8::10,true,10.3.0.0/24 10.2.0.0/16,region=eu,,,2001:db8:ff::10\n"
       "nyc-1,198.51.100.1,,,,,,\n")


def test_csv_import(ctl):
    r = ctl.post("/v1/import", CSV, content_type="text/csv")
    ch, totals = changes(r)
    assert sorted(ch["sites"]["names"]["created"]) == ["lyon-1", "nyc-1", "paris-1"]
    assert totals["created"] == 3
    paris = ctl.get("/v1/sites/paris-1").json
    paris.pop("status", None)   # read-only agent status, not part of the site
    assert paris == {"name": "paris-1", "underlay": "192.0.2.10", "behind_nat": False,
                     "nat_address": None,
                     "prefixes": ["10.1.0.0/16"], "tags": {"region": "eu", "role": "branch"},
                     "description": "Paris office", "underlay_mtu": 1400, "managed": True}
    lyon = ctl.get("/v1/sites/lyon-1").json
    assert lyon["behind_nat"] is True and lyon["prefixes"] == ["10.2.0.0/16", "10.3.0.0/24"]
    assert lyon["nat_address"] == "2001:db8:ff::10"
    assert lyon["underlay_mtu"] == 1500 and lyon["description"] == ""
    nyc = ctl.get("/v1/sites/nyc-1").json
    assert nyc["prefixes"] == [] and nyc["tags"] == {}
    # The same CSV again is a no-op.
    ch, totals = changes(ctl.post("/v1/import", CSV, content_type="text/csv; charset=utf-8"))
    assert totals == {"created": 0, "updated": 0, "deleted": 0}


def test_csv_column_order_and_minimal_columns(ctl):
    csv = "underlay,name\n192.0.2.1,a\n192.0.2.2,b\n"
    ch, totals = changes(ctl.post("/v1/import", csv, content_type="text/csv"))
    assert totals["created"] == 2
    assert ctl.get("/v1/sites/b").json["underlay"] == "192.0.2.2"


def test_csv_quoted_fields(ctl):
    csv = 'name,underlay,description\na,192.0.2.1,"Paris, 2nd floor ""north"""\n'
    changes(ctl.post("/v1/import", csv, content_type="text/csv"))
    assert ctl.get("/v1/sites/a").json["description"] == 'Paris, 2nd floor "north"'


def test_csv_errors_have_line_numbers_and_nothing_is_written(ctl):
    csv = ("name,underlay,behind_nat,prefixes,underlay_mtu\n"       # line 1
           "good-1,192.0.2.1,false,10.1.0.0/16,1500\n"             # line 2
           "bad-1,192.0.2.300,false,,\n"                            # line 3
           "bad-2,192.0.2.3,perhaps,10.2.0.0/16 10.3.0.1/16,10\n"   # line 4
           "Bad_3,192.0.2.4,,,\n")                                  # line 5
    e = assert_error(ctl.post("/v1/import", csv, content_type="text/csv"), 422, "invalid")
    got = [x["path"] for x in e["details"]]
    for want in ("line 3.underlay", "line 4.behind_nat", "line 4.underlay_mtu", "line 5.name"):
        assert want in got, (want, got)
    assert any(p.startswith("line 4.prefixes") for p in got), got
    assert not any(p.startswith("line 2") for p in got), got
    assert ctl.export()["sites"] == []


def test_csv_structure_errors(ctl):
    for csv, where in (("name,behind_nat\na,true\n", "underlay"),
                       ("name,underlay,colour\na,192.0.2.1,red\n", "colour"),
                       ("name,underlay\na,192.0.2.1,extra\n", "line 2")):
        e = assert_error(ctl.post("/v1/import", csv, content_type="text/csv"), 422, "invalid")
        assert any(where in x["path"] or where in x["message"] for x in e["details"]), (csv, e)
    assert ctl.export()["sites"] == []


def test_csv_replace_and_dry_run(ctl):
    changes(ctl.post("/v1/import", CSV, content_type="text/csv"))
    before = ctl.export()
    only = "name,underlay\nnyc-1,198.51.100.1\n"
    ch, _ = changes(ctl.post("/v1/import?mode=replace&dry_run=true", only,
                             content_type="text/csv"))
    assert sorted(ch["sites"]["names"]["deleted"]) == ["lyon-1", "paris-1"]
    assert ctl.export() == before
    ch, _ = changes(ctl.post("/v1/import?mode=replace", only, content_type="text/csv"))
    assert [s["name"] for s in ctl.export()["sites"]] == ["nyc-1"]


def test_csv_bytes_that_are_not_utf8_are_422_at_their_cell(ctl):
    """Latin-1 from an old spreadsheet, a character cut short, a bad header: 422 with the
    cell's line and column, never a 500, and the bytes are not echoed."""
    csv = (b"name,underlay,description,tags\n"
           b"a,192.0.2.1,caf\xe9,\n"
           b"b,192.0.2.2,,k=\xc3\n")
    e = assert_error(ctl.post("/v1/import", csv, content_type="text/csv"), 422, "invalid")
    paths = {x["path"] for x in e["details"]}
    assert {"line 2.description", "line 3.tags"} <= paths, e
    for bad in (b"name,underlay,\xff\n", b"name,underlay\nx\xc3,192.0.2.1\n",
                b"name,underlay,description\nx,192.0.2.1,\"" + b"\xc3\xa9" * 300 + b"\xc3\"\n"):
        r = ctl.post("/v1/import?mode=replace", bad, content_type="text/csv")
        assert_error(r, 422, "invalid")
    assert ctl.export()["sites"] == []
