"""Agent tokens die with their site, whichever way the site goes (issue 9, item 1): an
old gateway's token must never read the intent, and its pre-shared keys, of a new site
that happens to get the same name. One test per way a site disappears."""
import sqlite3
import threading
import time

import pytest

from conftest import assert_error, site

POLL = 3            # --poll-timeout here, seconds


@pytest.fixture
def tctl(make_controller):
    return make_controller("tctl", ["--poll-timeout", str(POLL), "--stale-after", "60"])


def pair_doc(with_a=True):
    """Sites a and b joined by an explicit tunnel (so their intents hold a PSK)."""
    sites = [site("b", 2)] + ([site("a", 1)] if with_a else [])
    return {"profiles": [{"name": "p1"}], "sites": sites,
            "tunnels": [{"name": "x", "a": "a", "b": "b", "profile": "p1"}] if with_a else []}


def agent_token(ctl, name):
    r = ctl.post("/v1/sites/%s/agent-token" % name)
    assert r.status == 201, r
    ctl.secrets.add(r.json["token"])
    return r.json["token"]


def intent(ctl, name, token, after=None):
    q = "/v1/agents/%s/intent" % name + ("?after=%d" % after if after is not None else "")
    return ctl.get(q, token=token)


def psks(ctl, name):
    r = intent(ctl, name, "admin")
    assert r.status == 200, r
    return {t["psk"] for t in r.json["tunnels"]}


def setup_old_token(ctl):
    """Loads the pair and returns a working agent token of site a and a's PSKs."""
    assert ctl.post("/v1/import", pair_doc()).status == 200
    tok = agent_token(ctl, "a")
    r = intent(ctl, "a", tok)
    assert r.status == 200, r
    old = psks(ctl, "a")
    assert old and all(p in r.body.decode() for p in old)
    return tok


def recreate_and_check(ctl, tok, audit_actor_prefix):
    """Re-creates a (and its tunnel) and checks the old token reads nothing of it."""
    r = ctl.post("/v1/import", pair_doc())
    assert r.status == 200, r
    new = psks(ctl, "a")
    r = intent(ctl, "a", tok)
    assert_error(r, 401)
    assert not any(p.encode() in r.body for p in new)
    # Nor any other route a token of the old site could try.
    assert_error(ctl.post("/v1/agents/a/status", {"revision": 0, "tunnels": []}, token=tok), 401)
    recs = [e for e in ctl.get("/v1/audit?limit=1000").json["items"]
            if e["action"] == "token-revoke" and e["name"] == "a"]
    assert len(recs) == 1, recs
    assert recs[0]["actor"].startswith(audit_actor_prefix), recs
    assert recs[0]["after"]["reason"] == "site deleted" and len(recs[0]["after"]["ids"]) == 1
    # The token list says so too.
    mine = [t for t in ctl.get("/v1/tokens?limit=1000").json["items"]
            if t["site"] == "a" and t["role"] == "agent"]
    assert len(mine) == 1 and mine[0]["revoked_at"], mine


def test_delete_revokes(tctl):
    tok = setup_old_token(tctl)
    assert tctl.delete("/v1/tunnels/x").status == 204
    assert tctl.delete("/v1/sites/a").status == 204
    recreate_and_check(tctl, tok, "bootstrap-admin")


def test_json_import_replace_revokes(tctl):
    tok = setup_old_token(tctl)
    r = tctl.post("/v1/import?mode=replace", pair_doc(with_a=False))
    assert r.status == 200, r
    assert r.json["changes"]["sites"]["names"]["deleted"] == ["a"]
    recreate_and_check(tctl, tok, "bootstrap-admin")


def test_csv_import_replace_revokes(tctl):
    tok = setup_old_token(tctl)
    assert tctl.delete("/v1/tunnels/x").status == 204      # CSV prunes sites only
    b = site("b", 2)
    csv = "name,underlay,prefixes\nb,%s,%s\n" % (b["underlay"], b["prefixes"][0])
    r = tctl.post("/v1/import?mode=replace", csv, content_type="text/csv")
    assert r.status == 200, r
    assert r.json["changes"]["sites"]["names"]["deleted"] == ["a"]
    recreate_and_check(tctl, tok, "bootstrap-admin")


def test_dry_run_replace_revokes_nothing(tctl):
    tok = setup_old_token(tctl)
    r = tctl.post("/v1/import?mode=replace&dry_run=true", pair_doc(with_a=False))
    assert r.status == 200 and r.json["dry_run"] is True, r
    assert intent(tctl, "a", tok).status == 200
    assert not [e for e in tctl.get("/v1/audit?limit=1000").json["items"]
                if e["action"] == "token-revoke"]


def test_failed_delete_revokes_nothing(tctl):
    """A delete refused (still referred to) rolls the revocation back with it."""
    tok = setup_old_token(tctl)
    assert_error(tctl.delete("/v1/sites/a"), 409)
    assert intent(tctl, "a", tok).status == 200


def test_other_sites_tokens_survive(tctl):
    tok = setup_old_token(tctl)
    tok_b = agent_token(tctl, "b")
    assert tctl.post("/v1/import?mode=replace", pair_doc(with_a=False)).status == 200
    assert_error(intent(tctl, "a", tok), 401)
    assert intent(tctl, "b", tok_b).status == 200


def test_migration_revokes_tokens_of_sites_already_gone(tctl):
    """A database from before the fix: a site deleted by an import whose token lives on.
    Upgrading revokes it."""
    tok = setup_old_token(tctl)
    assert tctl.stop() == 0
    con = sqlite3.connect(tctl.db)
    with con:
        con.execute("DELETE FROM tunnel")
        con.execute("DELETE FROM object WHERE kind = 'site' AND name = 'a'")
        # Back to schema v2 in full: the columns of later migrations go too (v4).
        con.execute("ALTER TABLE tunnel DROP COLUMN psk_set_at")
        con.execute("PRAGMA user_version = 2")
    con.close()
    tctl.start()
    r = tctl.post("/v1/sites", site("a", 1))
    assert r.status == 201, r
    assert_error(intent(tctl, "a", tok), 401)


def test_held_poll_of_deleted_site_answers_404(tctl):
    """The agent's own held poll hears of its site's deletion as 404, as documented, not
    as 401 (its token died with the site, after it had authenticated)."""
    tok = setup_old_token(tctl)
    rev = intent(tctl, "a", tok).json["revision"]
    got = {}

    def hold():
        got["r"] = intent(tctl, "a", tok, after=rev)

    th = threading.Thread(target=hold)
    th.start()
    # Half a second to park on loopback; one that arrived only after the delete would
    # get 200 (here) or 401 (below) and fail the test, never pass it wrongly.
    time.sleep(0.5)
    assert tctl.delete("/v1/tunnels/x").status == 204
    # Deleting the tunnel changed a's intent: the hold answered 200. Hold again.
    th.join(POLL + 5)
    assert got["r"].status == 200, got["r"]
    rev = got["r"].json["revision"]
    th = threading.Thread(target=hold)
    th.start()
    time.sleep(0.5)
    assert tctl.delete("/v1/sites/a").status == 204
    th.join(POLL + 5)
    e = assert_error(got["r"], 404, "not_found")
    assert "a" in e["message"]
    # A fresh request with the dead token is a plain 401.
    assert_error(intent(tctl, "a", tok, after=rev), 401)
