"""PSKs: the hex form once both ends' agents report the psk-hex feature, rotation by
hand (POST /v1/tunnels/{id}/rotate-psk) and by age (a profile's psk_max_age)."""
import re
import sqlite3

from conftest import assert_error, profile, site
from test_agents import agent_token, intent_json, ok, revisions

HEX = re.compile(r"^0x[0-9a-f]{64}$")
DOC = {"profiles": [profile("p1")],
       "sites": [site("a", 1), site("b", 2), site("c", 3)],
       "tunnels": [{"name": "ab", "a": "a", "b": "b", "profile": "p1"},
                   {"name": "ac", "a": "a", "b": "c", "profile": "p1"}]}


def tunnel_of(it, tid):
    (t,) = [t for t in it["tunnels"] if t["id"] == "gs%d" % tid]
    return t


def ids(ctl):
    got = {}
    for t in ok(ctl.get("/v1/tunnels?limit=100")).json["items"]:
        got[t["name"]] = t["id"]
    return got


def report(ctl, name, tok, features):
    it = intent_json(ctl, name)
    body = {"revision": it["revision"], "tunnels": []}
    if features is not None:
        body["features"] = features
    return ctl.post("/v1/agents/%s/status" % name, body, token=tok)


def test_hex_form_only_once_both_ends_report_it(ctl):
    ok(ctl.post("/v1/import", DOC))
    tid = ids(ctl)
    toks = {n: agent_token(ctl, n) for n in "abc"}
    for n in "abc":
        for t in intent_json(ctl, n)["tunnels"]:
            assert HEX.match(t["psk"]), "a PSK is not 0x + 64 hex digits"
            assert "psk_encoding" not in t, "string form: the field is left out"
    # One end only: no change anywhere (a new IKE_SA needs the same form at both ends).
    before = revisions(ctl, "abc")
    ok(report(ctl, "a", toks["a"], ["psk-hex"]), 204)
    assert revisions(ctl, "abc") == before
    assert "psk_encoding" not in tunnel_of(intent_json(ctl, "a"), tid["ab"])
    # Both ends of a-b: that tunnel moves, in both intents, with the same key; a-c stays.
    psk = tunnel_of(intent_json(ctl, "a"), tid["ab"])["psk"]
    ok(report(ctl, "b", toks["b"], ["psk-hex", "some-future-thing"]), 204)
    after = revisions(ctl, "abc")
    assert after["a"] > before["a"] and after["b"] > before["b"] and after["c"] == before["c"]
    for n in "ab":
        t = tunnel_of(intent_json(ctl, n), tid["ab"])
        assert t["psk_encoding"] == "hex" and t["psk"] == psk, n
    assert "psk_encoding" not in tunnel_of(intent_json(ctl, "a"), tid["ac"])
    # The same features again: nothing recompiled; an agent going back: the string form.
    ok(report(ctl, "b", toks["b"], ["some-future-thing", "psk-hex"]), 204)
    assert revisions(ctl, "abc") == after
    ok(report(ctl, "b", toks["b"], None), 204)
    assert "psk_encoding" not in tunnel_of(intent_json(ctl, "a"), tid["ab"])


def test_bad_features_are_422_with_their_path(ctl):
    ok(ctl.post("/v1/import", DOC))
    tok = agent_token(ctl, "a")
    e = assert_error(report(ctl, "a", tok, "psk-hex"), 422, "invalid")
    assert e["details"][0]["path"] == "features", e
    e = assert_error(report(ctl, "a", tok, ["ok", "Bad Name"]), 422, "invalid")
    assert e["details"][0]["path"] == "features[1]", e
    assert_error(report(ctl, "a", tok, ["x"] * 17), 422, "invalid")


def test_rotate_psk(ctl):
    ok(ctl.post("/v1/import", DOC))
    tid = ids(ctl)
    old = {n: intent_json(ctl, n) for n in "abc"}
    op = ctl.issue("operator")
    r = ok(ctl.post("/v1/tunnels/%d/rotate-psk" % tid["ab"], token=op))
    assert r.json["id"] == tid["ab"] and {r.json["a"], r.json["b"]} == {"a", "b"}, r.json
    assert r.json["psk_set_at"]
    new = {n: intent_json(ctl, n) for n in "abc"}
    pa, pb = (tunnel_of(new[n], tid["ab"])["psk"] for n in "ab")
    assert pa == pb and HEX.match(pa)
    assert pa != tunnel_of(old["a"], tid["ab"])["psk"]
    assert new["a"]["revision"] > old["a"]["revision"]
    assert new["c"] == old["c"], "a site without the tunnel is untouched"
    assert tunnel_of(new["a"], tid["ac"]) == tunnel_of(old["a"], tid["ac"])
    # The key is nowhere but in the two intents: not in the reply, the audit log, the log.
    audit = ok(ctl.get("/v1/audit?limit=1000")).json["items"]
    (rec,) = [x for x in audit if x["action"] == "psk-rotate"]
    assert rec["after"]["reason"] == "operator", rec
    for body in (r.body, ok(ctl.get("/v1/audit?limit=1000")).body,
                 ok(ctl.get("/v1/tunnels?limit=100")).body):
        assert pa.encode() not in body
    assert pa not in ctl.log()
    # Logged once, with the tunnel as its context (what journal filters key on).
    assert ctl.log().count("tunnel gs%d: new PSK (operator) between " % tid["ab"]) == 1, ctl.log()
    # Viewers may not; unknown or malformed ids are 404.
    assert_error(ctl.post("/v1/tunnels/%d/rotate-psk" % tid["ab"],
                          token=ctl.issue("viewer")), 403)
    for bad in ("999999", "0", "gs1", "-1", "1x", "99999999999999999999999"):
        assert_error(ctl.post("/v1/tunnels/%s/rotate-psk" % bad), 404, "not_found")


def test_psk_max_age(ctl):
    assert_error(ctl.post("/v1/profiles", profile("short", psk_max_age=60)), 422, "invalid")
    ok(ctl.post("/v1/import", dict(DOC, profiles=[profile("p1", psk_max_age=3600)])))
    assert ok(ctl.get("/v1/profiles/p1")).json["psk_max_age"] == 3600
    tid = ids(ctl)
    toks = {n: agent_token(ctl, n) for n in "ab"}
    psk = tunnel_of(intent_json(ctl, "a"), tid["ab"])["psk"]
    ok(report(ctl, "a", toks["a"], []), 204)
    assert tunnel_of(intent_json(ctl, "a"), tid["ab"])["psk"] == psk, "rotated too early"
    # Age the key by two hours behind the controller's back (the database is shared
    # in WAL mode); the next report of either end rotates it, and only once.
    db = sqlite3.connect(ctl.db)
    db.execute("UPDATE tunnel SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', "
               "'-2 hours'), psk_set_at = NULL WHERE id = ?", (tid["ab"],))
    db.commit()
    db.close()
    ok(report(ctl, "b", toks["b"], []), 204)
    new = tunnel_of(intent_json(ctl, "a"), tid["ab"])["psk"]
    assert new != psk and new == tunnel_of(intent_json(ctl, "b"), tid["ab"])["psk"]
    ok(report(ctl, "a", toks["a"], []), 204)
    assert tunnel_of(intent_json(ctl, "a"), tid["ab"])["psk"] == new
    audit = ok(ctl.get("/v1/audit?limit=1000")).json["items"]
    recs = [x for x in audit if x["action"] == "psk-rotate"]
    assert len(recs) == 1 and recs[0]["actor"] == "controller", recs
    assert recs[0]["after"]["reason"] == "psk_max_age"
