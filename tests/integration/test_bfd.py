"""A profile's "bfd" (defaults filled in, ranges, unknown sub-keys refused, through
POST, PUT, PATCH and import) and its way into each tunnel's intent, with the revisions
it moves and those it leaves alone."""
import sqlite3

import pytest

from conftest import assert_error, profile, site

DEFAULT_BFD = {"enabled": True, "interval_ms": 100, "multiplier": 3}

# A profile p1 joining m1 and m2 by a mesh, and an unrelated pair u1–u2 on profile p2.
NET = {
    "profiles": [profile("p1"), profile("p2")],
    "sites": [site("m1", 1), site("m2", 2), site("u1", 3), site("u2", 4)],
    "topologies": [{"name": "mesh", "kind": "full-mesh", "profile": "p1",
                    "members": ["m1", "m2"]},
                   {"name": "other", "kind": "full-mesh", "profile": "p2",
                    "members": ["u1", "u2"]}],
}

# (bfd value, the path of the one error, a word of its message)
BAD = [
    ({"interval_ms": 49}, "bfd.interval_ms", "50 to 10000"),
    ({"interval_ms": 10001}, "bfd.interval_ms", "50 to 10000"),
    ({"interval_ms": "100"}, "bfd.interval_ms", "50 to 10000"),
    ({"multiplier": 1}, "bfd.multiplier", "2 to 50"),
    ({"multiplier": 51}, "bfd.multiplier", "2 to 50"),
    ({"multiplier": 3.0}, "bfd.multiplier", "2 to 50"),
    ({"enabled": "yes"}, "bfd.enabled", "true or false"),
    ({"enabled": 1}, "bfd.enabled", "true or false"),
    ({"interval": 100}, "bfd.interval", "unknown field"),
    ({"enabled": True, "echo": False}, "bfd.echo", "unknown field"),
    ([], "bfd", "must be an object"),
    ("on", "bfd", "must be an object"),
]
BAD_IDS = ["%s=%r" % (p, v) for v, p, _ in BAD]


def ok(r, status=200):
    assert r.status == status, r
    return r


def one_error(r, path, word):
    e = assert_error(r, 422, "invalid")
    assert [d["path"] for d in e["details"]] == [path], e
    assert word in e["details"][0]["message"], e


def tunnel_bfd(ctl, site_name):
    """The bfd of the one tunnel in site_name's intent, and the intent's revision."""
    it = ok(ctl.get("/v1/agents/%s/intent" % site_name)).json
    (t,) = it["tunnels"]
    return t["bfd"], it["revision"]


def revision(ctl, name):
    return ok(ctl.get("/v1/sites/" + name)).json["status"]["intent_revision"]


def test_defaults_and_round_trip(ctl):
    assert ok(ctl.post("/v1/profiles", profile("d")), 201).json["bfd"] == DEFAULT_BFD
    # Each sub-field left out takes its default; the ones given are kept.
    r = ok(ctl.post("/v1/profiles", profile("e", bfd={"interval_ms": 50})), 201)
    assert r.json["bfd"] == {"enabled": True, "interval_ms": 50, "multiplier": 3}
    r = ok(ctl.post("/v1/profiles", profile("f", bfd={"enabled": False, "interval_ms": 10000,
                                                      "multiplier": 50})), 201)
    assert r.json["bfd"] == {"enabled": False, "interval_ms": 10000, "multiplier": 50}
    assert ok(ctl.post("/v1/profiles", profile("g", bfd={})), 201).json["bfd"] == DEFAULT_BFD
    assert ok(ctl.get("/v1/profiles/f")).json["bfd"]["multiplier"] == 50
    # The export shows every sub-field, and importing it changes nothing.
    doc = ctl.export()
    assert {p["name"]: p["bfd"]["interval_ms"] for p in doc["profiles"]} == \
        {"d": 100, "e": 50, "f": 10000, "g": 100}
    r = ok(ctl.post("/v1/import?mode=replace", doc)).json
    assert r["totals"] == {"created": 0, "updated": 0, "deleted": 0}, r


def test_patch_merges_and_null_resets(ctl):
    ok(ctl.post("/v1/profiles", profile("p", bfd={"enabled": False, "multiplier": 9})), 201)
    r = ok(ctl.patch("/v1/profiles/p", {"bfd": {"interval_ms": 300}},
                     content_type="application/merge-patch+json"))
    assert r.json["bfd"] == {"enabled": False, "interval_ms": 300, "multiplier": 9}
    r = ok(ctl.patch("/v1/profiles/p", {"bfd": {"multiplier": None}},
                     content_type="application/merge-patch+json"))
    assert r.json["bfd"] == {"enabled": False, "interval_ms": 300, "multiplier": 3}
    r = ok(ctl.patch("/v1/profiles/p", {"bfd": None},
                     content_type="application/merge-patch+json"))
    assert r.json["bfd"] == DEFAULT_BFD
    # PUT is a full replace: no bfd is the default bfd.
    ok(ctl.patch("/v1/profiles/p", {"bfd": {"multiplier": 4}}))
    assert ok(ctl.put("/v1/profiles/p", {})).json["bfd"] == DEFAULT_BFD


@pytest.mark.parametrize("bfd,path,word", BAD, ids=BAD_IDS)
def test_bad_bfd_post_put_patch(ctl, bfd, path, word):
    ok(ctl.post("/v1/profiles", profile("p", bfd={"multiplier": 4})), 201)
    one_error(ctl.post("/v1/profiles", profile("q", bfd=bfd)), path, word)
    one_error(ctl.put("/v1/profiles/p", {"bfd": bfd}), path, word)
    one_error(ctl.patch("/v1/profiles/p", {"bfd": bfd},
                        content_type="application/merge-patch+json"), path, word)
    # Nothing was written.
    assert_error(ctl.get("/v1/profiles/q"), 404, "not_found")
    assert ok(ctl.get("/v1/profiles/p")).json["bfd"]["multiplier"] == 4


@pytest.mark.parametrize("bfd,path,word", BAD, ids=BAD_IDS)
def test_bad_bfd_import(ctl, bfd, path, word):
    doc = {"profiles": [profile("ok1"), profile("bad", bfd=bfd)]}
    one_error(ctl.post("/v1/import", doc), "profiles[1]." + path, word)
    one_error(ctl.post("/v1/import?dry_run=true", doc), "profiles[1]." + path, word)
    assert ctl.export()["profiles"] == []


def test_csv_has_no_profile_columns(ctl):
    e = assert_error(ctl.post("/v1/import", "name,underlay,bfd\na,192.0.2.1,on\n",
                              content_type="text/csv"), 422, "invalid")
    assert any(d["path"] == "line 1" and '"bfd"' in d["message"] for d in e["details"]), e
    assert ctl.export()["sites"] == []


def test_intent_carries_the_profile_bfd(ctl):
    ok(ctl.post("/v1/import", NET))
    assert tunnel_bfd(ctl, "m1")[0] == DEFAULT_BFD
    ok(ctl.patch("/v1/profiles/p1", {"bfd": {"enabled": False, "interval_ms": 250,
                                             "multiplier": 7}}))
    want = {"enabled": False, "interval_ms": 250, "multiplier": 7}
    assert tunnel_bfd(ctl, "m1")[0] == want
    assert tunnel_bfd(ctl, "m2")[0] == want
    assert tunnel_bfd(ctl, "u1")[0] == DEFAULT_BFD


def test_a_bfd_change_moves_the_revisions_it_reaches(ctl):
    ok(ctl.post("/v1/import", NET))
    before = {n: revision(ctl, n) for n in ("m1", "m2", "u1", "u2")}
    # A description is in no intent: no revision moves.
    ok(ctl.patch("/v1/profiles/p1", {"description": "mesh profile"}))
    assert {n: revision(ctl, n) for n in before} == before
    # A PATCH that restates the default bfd changes nothing either.
    ok(ctl.patch("/v1/profiles/p1", {"bfd": {"multiplier": 3}}))
    assert {n: revision(ctl, n) for n in before} == before
    # A new interval: m1 and m2 move and carry it; u1 and u2 do not move.
    ok(ctl.patch("/v1/profiles/p1", {"bfd": {"interval_ms": 500}}))
    for n in ("m1", "m2"):
        bfd, rev = tunnel_bfd(ctl, n)
        assert rev > before[n], (n, rev, before[n])
        assert bfd == {"enabled": True, "interval_ms": 500, "multiplier": 3}, (n, bfd)
    assert revision(ctl, "u1") == before["u1"] and revision(ctl, "u2") == before["u2"]
    # Turning it off moves them again.
    mid = revision(ctl, "m1")
    ok(ctl.patch("/v1/profiles/p1", {"bfd": {"enabled": False}}))
    bfd, rev = tunnel_bfd(ctl, "m1")
    assert rev > mid and bfd["enabled"] is False


def test_profiles_stored_without_bfd_keep_working(ctl):
    """A database written before profiles had "bfd": its bodies have none. Their tunnels
    run the defaults, with the same intent (so no revision moves on upgrade)."""
    ok(ctl.post("/v1/import", NET))
    before = {n: ok(ctl.get("/v1/agents/%s/intent" % n)).body for n in ("m1", "u1")}
    assert ctl.stop() == 0
    db = sqlite3.connect(ctl.db)
    with db:
        n = db.execute("UPDATE object SET body = json_remove(body, '$.bfd') "
                       "WHERE kind = 'profile'").rowcount
    db.close()
    assert n == 2
    ctl.start()
    assert "bfd" not in ok(ctl.get("/v1/profiles/p1")).json
    for name, body in before.items():
        assert ok(ctl.get("/v1/agents/%s/intent" % name)).body == body, name
    # The first write fills the defaults in; a bfd change still reaches the intents.
    r = ok(ctl.patch("/v1/profiles/p1", {"bfd": {"multiplier": 6}}))
    assert r.json["bfd"] == {"enabled": True, "interval_ms": 100, "multiplier": 6}
    assert tunnel_bfd(ctl, "m1")[0]["multiplier"] == 6
