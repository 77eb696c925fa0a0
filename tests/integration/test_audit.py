"""The audit log: every write, with who did it and the object before and after."""
from conftest import assert_error, site


def audit_all(ctl, token="admin"):
    items, after = [], None
    for _ in range(100):
        r = ctl.get("/v1/audit?limit=1000" + ("&after=%d" % after if after else ""), token=token)
        assert r.status == 200, r
        items += r.json["items"]
        after = r.json["next"]
        if after is None:
            return items
    raise AssertionError("audit paging does not end")


def test_writes_are_recorded_with_actor_and_before_after(ctl):
    op = ctl.issue("operator", "noc-bot")
    start = audit_all(ctl)
    assert ctl.post("/v1/sites", site("a", 1), token=op).status == 201
    assert ctl.patch("/v1/sites/a", {"description": "moved"}, token=op).status == 200
    assert ctl.delete("/v1/sites/a", token=op).status == 204
    new = audit_all(ctl)[len(start):]
    assert [(e["action"], e["kind"], e["name"]) for e in new] == \
        [("create", "site", "a"), ("update", "site", "a"), ("delete", "site", "a")], new
    for e in new:
        assert "noc-bot" in e["actor"], e
        assert e["time"] and e["time"][:2] == "20", e
    create, update, delete = new
    assert create["before"] is None and create["after"]["underlay"] == site("a", 1)["underlay"]
    assert update["before"]["description"] == "" and update["after"]["description"] == "moved"
    assert delete["before"]["description"] == "moved" and delete["after"] is None
    ids = [e["id"] for e in new]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_failed_and_idempotent_writes_are_not_recorded(ctl):
    assert ctl.post("/v1/sites", site("a", 1)).status == 201
    before = audit_all(ctl)
    assert_error(ctl.post("/v1/sites", site("a", 1)), 409)
    assert_error(ctl.post("/v1/sites", {"name": "b", "underlay": "nope"}), 422)
    assert_error(ctl.patch("/v1/sites/a", {"x": 1}), 422)
    assert_error(ctl.delete("/v1/sites/zz"), 404)
    # Writing an equal body changes nothing, so there is nothing to record.
    assert ctl.put("/v1/sites/a", site("a", 1)).status == 200
    assert audit_all(ctl) == before


def test_token_issue_and_revoke_are_recorded_without_secret(ctl):
    r = ctl.post("/v1/tokens", {"name": "bot", "role": "viewer"})
    assert r.status == 201
    secret, tid = r.json["token"], r.json["id"]
    assert ctl.delete("/v1/tokens/%d" % tid).status == 204
    items = audit_all(ctl)
    actions = [e["action"] for e in items]
    assert "token-issue" in actions and "token-revoke" in actions, items
    raw = ctl.get("/v1/audit?limit=1000").body.decode()
    assert secret not in raw and ctl.admin not in raw


def test_import_is_recorded(ctl):
    before = len(audit_all(ctl))
    r = ctl.post("/v1/import", {"sites": [site("a", 1), site("b", 2)]})
    assert r.status == 200, r
    new = audit_all(ctl)[before:]
    assert new, "an import wrote nothing to the audit log"
    names = {e["name"] for e in new}
    assert {"a", "b"} <= names or any(e["action"] == "import" for e in new), new
    # A dry run writes nothing, not even to the audit log.
    n = len(audit_all(ctl))
    assert ctl.post("/v1/import?dry_run=true", {"sites": [site("c", 3)]}).status == 200
    assert len(audit_all(ctl)) == n


def test_audit_paging(ctl):
    for i in range(5):
        assert ctl.post("/v1/sites", site("s%d" % i, i + 1)).status == 201
    everything = audit_all(ctl)
    assert len(everything) >= 5
    seen, after = [], None
    for _ in range(50):
        r = ctl.get("/v1/audit?limit=2" + ("&after=%d" % after if after is not None else ""))
        assert r.status == 200, r
        assert len(r.json["items"]) <= 2
        seen += r.json["items"]
        after = r.json["next"]
        if after is None:
            break
        assert after == r.json["items"][-1]["id"]
    assert [e["id"] for e in seen] == [e["id"] for e in everything]
    third = everything[2]["id"]
    r = ctl.get("/v1/audit?after=%d&limit=1" % third).json
    assert r["items"][0]["id"] == everything[3]["id"]
