"""Per-site intents, their delivery to agents and the agents' status reports (issue 3),
against the real controller: long-poll, agent token scoping, which revisions move,
status round trip, determinism, where PSKs may appear, and the routes of hub-spoke
topologies (two hubs, direct tunnels, summary prefixes)."""
import ipaddress
import json
import os
import re
import threading
import time
import warnings

import pytest
import yaml

from conftest import ROOT, assert_error, profile, site
from test_openapi import response_schema, validate

POLL = 3            # --poll-timeout of the controllers here, seconds
PROMPT = 1.0        # a change must reach a held request within this, seconds
SCHEMA_PATH = os.path.join(ROOT, "api", "intent.schema.json")


@pytest.fixture
def actl(make_controller):
    """A controller that holds intent requests POLL seconds, and calls a site stale only
    after a minute (so no report goes stale mid-test, even under the sanitizers)."""
    return make_controller("actl", ["--poll-timeout", str(POLL), "--stale-after", "60"])


@pytest.fixture(scope="module")
def spec():
    with open(os.path.join(ROOT, "api", "openapi.yaml")) as f:
        return yaml.safe_load(f)


# ---- helpers ---------------------------------------------------------------------------

def load(ctl, doc):
    r = ctl.post("/v1/import", doc)
    assert r.status == 200, r
    return r.json


def agent_token(ctl, name):
    r = ctl.post("/v1/sites/%s/agent-token" % name)
    assert r.status == 201, r
    ctl.secrets.add(r.json["token"])
    return r.json["token"]


def intent(ctl, name, token="admin", after=None):
    q = "/v1/agents/%s/intent" % name
    if after is not None:
        q += "?after=%s" % after
    return ctl.get(q, token=token)


def intent_json(ctl, name):
    r = intent(ctl, name)
    assert r.status == 200, r
    return r.json


def revisions(ctl, names):
    """Each site's intent revision, as GET /v1/sites/{name} reports it."""
    out = {}
    for n in names:
        r = ctl.get("/v1/sites/" + n)
        assert r.status == 200, r
        out[n] = r.json["status"]["intent_revision"]
    return out


def bumped_by(ctl, names, change):
    """Runs change(); returns the set of sites whose revision moved (and checks that no
    revision went backwards and that the intent itself carries the new revision)."""
    before = revisions(ctl, names)
    change()
    after = revisions(ctl, names)
    for n in names:
        assert after[n] >= before[n], (n, before[n], after[n])
        assert intent_json(ctl, n)["revision"] == after[n], n
    return {n for n in names if after[n] != before[n]}


def ok(r, status=200):
    assert r.status == status, r
    return r


def routes_by_prefix(it):
    out = {}
    for rt in it["routes"]:
        out.setdefault(rt["prefix"], []).append(rt)
    return out


def peer_of(it, underlays):
    """tunnel id -> the site at its other end, by the remote underlay address."""
    return {t["id"]: underlays[t["remote"]] for t in it["tunnels"]}


def underlay_map(ctl):
    return {s["underlay"]: s["name"] for s in ctl.export()["sites"]}


class Poll(threading.Thread):
    """One intent request in the background; records when its answer arrived."""

    def __init__(self, ctl, name, token, after):
        super().__init__(daemon=True)
        self.args = (ctl, name, token, after)
        self.resp = self.error = None
        self.started = self.done = None

    def run(self):
        ctl, name, token, after = self.args
        self.started = time.monotonic()
        try:
            self.resp = intent(ctl, name, token=token, after=after)
        except Exception as e:      # reported by the test, not lost in the thread
            self.error = e
        self.done = time.monotonic()

    def result(self, timeout=POLL + 15):
        self.join(timeout)
        assert not self.is_alive(), "intent request still unanswered after %ss" % timeout
        if self.error:
            raise self.error
        return self.resp


# A small network used by several tests:
#   star: hub-spoke, hub h1, spokes s1 s2 (by tag region=eu), profile p1
#   mesh: full mesh m1 m2 (by name), profile p2
#   u1:   in no topology
STAR_MESH = {
    "profiles": [profile("p1"), profile("p2")],
    "sites": [site("h1", 1), site("s1", 2, tags={"region": "eu"}),
              site("s2", 3, tags={"region": "eu"}), site("m1", 4), site("m2", 5),
              site("u1", 6)],
    "topologies": [
        {"name": "star", "kind": "hub-spoke", "profile": "p1", "hubs": ["h1"],
         "match_tags": {"region": "eu"}},
        {"name": "mesh", "kind": "full-mesh", "profile": "p2", "members": ["m1", "m2"]}],
}
ALL = ["h1", "s1", "s2", "m1", "m2", "u1"]


# ---- delivery: immediate answers, long-poll --------------------------------------------

def test_intent_is_served_with_its_revision_as_etag(actl, spec):
    load(actl, STAR_MESH)
    tok = agent_token(actl, "s1")
    r = ok(intent(actl, "s1", token=tok))
    it = r.json
    assert it["site"] == "s1" and it["format"] == 1
    assert it["revision"] >= 1
    assert r.header("etag") == '"%d"' % it["revision"], r.headers
    assert "application/json" in (r.header("content-type") or ""), r.headers
    validate(spec, response_schema(spec, "/v1/agents/{site}/intent", "GET", 200), it, "intent")
    # A newer revision than the agent has: answered at once, whatever the hold time.
    t0 = time.monotonic()
    r = ok(intent(actl, "s1", token=tok, after=it["revision"] - 1))
    assert time.monotonic() - t0 < PROMPT
    assert r.body == intent(actl, "s1", token=tok).body
    # The status view of the site agrees with the intent.
    assert actl.get("/v1/sites/s1").json["status"]["intent_revision"] == it["revision"]


def test_bad_after_is_400_and_unknown_site_404(actl):
    load(actl, STAR_MESH)
    for bad in ("abc", "-1", "1.5", "", "0x10", "99999999999999999999999"):
        e = assert_error(intent(actl, "s1", after=bad), 400, "bad_request")
        assert [d["path"] for d in e["details"]] == ["after"], (bad, e)
    assert_error(intent(actl, "nosuch"), 404, "not_found")
    assert_error(actl.post("/v1/agents/nosuch/status", {"revision": 1, "tunnels": []}),
                 404, "not_found")
    assert_error(actl.post("/v1/sites/nosuch/agent-token"), 404, "not_found")


def test_long_poll_returns_promptly_after_a_change_to_that_site(actl):
    load(actl, STAR_MESH)
    tok = agent_token(actl, "h1")
    rev = intent_json(actl, "h1")["revision"]
    poll = Poll(actl, "h1", tok, rev)
    poll.start()
    time.sleep(0.3)                     # let it be parked
    assert poll.is_alive(), "answered before anything changed: %r" % poll.resp
    t_change = time.monotonic()
    # s1 gains a prefix: the hub routes it through s1's tunnel, so h1's intent changes.
    ok(actl.patch("/v1/sites/s1", {"prefixes": ["10.0.2.0/24", "10.102.0.0/24"]}))
    t_committed = time.monotonic()
    r = poll.result()
    assert r.status == 200, r
    assert poll.done >= t_change, "answered before the change was made"
    assert poll.done - t_committed < PROMPT, \
        "held request answered %.3fs after the commit" % (poll.done - t_committed)
    it = r.json
    assert it["revision"] > rev
    assert "10.102.0.0/24" in routes_by_prefix(it)
    assert r.header("etag") == '"%d"' % it["revision"]


def test_long_poll_holds_until_timeout_when_nothing_changes_for_it(actl):
    load(actl, STAR_MESH)
    tok = agent_token(actl, "m1")
    rev = intent_json(actl, "m1")["revision"]
    poll = Poll(actl, "m1", tok, rev)
    poll.start()
    time.sleep(0.3)
    # Changes that do not touch m1's intent must not wake it.
    ok(actl.patch("/v1/sites/s1", {"prefixes": ["10.0.2.0/24", "10.102.0.0/24"]}))
    ok(actl.patch("/v1/sites/m1", {"description": "only a description"}))
    ok(actl.post("/v1/sites", site("n1", 7)), 201)
    r = poll.result()
    held = poll.done - poll.started
    assert r.status == 204, r
    assert r.body == b"", r
    assert held >= POLL - 0.2, "204 after %.2fs, before --poll-timeout %ss" % (held, POLL)
    assert held < POLL + 2.5, "held %.2fs, well past --poll-timeout %ss" % (held, POLL)
    assert intent_json(actl, "m1")["revision"] == rev


def test_a_change_wakes_exactly_the_affected_sites_held_requests(actl):
    load(actl, STAR_MESH)
    toks = {n: agent_token(actl, n) for n in ALL}
    revs = {n: intent_json(actl, n)["revision"] for n in ALL}
    # Several held requests per site: parked connections, not a thread each.
    polls = {n: [Poll(actl, n, toks[n], revs[n]) for _ in range(5)] for n in ALL}
    for ps in polls.values():
        for p in ps:
            p.start()
    time.sleep(0.5)
    t_change = time.monotonic()
    ok(actl.patch("/v1/profiles/p2", {"dpd_interval": 11}))        # the mesh: m1, m2
    t_committed = time.monotonic()
    for n, ps in polls.items():
        for p in ps:
            r = p.result()
            if n in ("m1", "m2"):
                assert r.status == 200, (n, r)
                assert p.done - t_committed < PROMPT, (n, p.done - t_committed)
                assert r.json["revision"] > revs[n]
                assert all(t["security"]["dpd_delay"] == 11 for t in r.json["tunnels"])
            else:
                assert r.status == 204, (n, r)
                assert p.done - t_change >= POLL - 1.0, (n, p.done - t_change)


def test_shutdown_answers_held_requests(make_controller):
    ctl = make_controller("long", ["--poll-timeout", "60"])
    load(ctl, STAR_MESH)
    rev = intent_json(ctl, "s1")["revision"]
    poll = Poll(ctl, "s1", "admin", rev)
    poll.start()
    time.sleep(0.3)
    assert poll.is_alive()
    t0 = time.monotonic()
    assert ctl.stop() == 0, ctl.log()[-3000:]
    r = poll.result(timeout=15)
    assert r.status == 204, r
    assert poll.done - t0 < 10


# ---- agent tokens ------------------------------------------------------------------------

def test_agent_token_is_scoped_to_its_site(actl, spec):
    load(actl, STAR_MESH)
    r = ok(actl.post("/v1/sites/s1/agent-token"), 201)
    validate(spec, response_schema(spec, "/v1/sites/{name}/agent-token", "POST", 201), r.json,
             "agent-token")
    assert r.json["name"] == "agent-s1" and r.json["role"] == "agent" and r.json["site"] == "s1"
    a = r.json["token"]
    actl.secrets.add(a)
    b = agent_token(actl, "s2")
    report = {"revision": 1, "tunnels": []}
    # Its own site: yes.
    ok(intent(actl, "s1", token=a))
    ok(actl.post("/v1/agents/s1/status", report, token=a), 204)
    # Another site's: no, for both routes and both directions.
    assert_error(intent(actl, "s2", token=a), 403, "forbidden")
    assert_error(actl.post("/v1/agents/s2/status", report, token=a), 403, "forbidden")
    assert_error(intent(actl, "s1", token=b), 403, "forbidden")
    assert_error(intent(actl, "s2", token=a, after=0), 403, "forbidden")
    # A site that does not exist: still 403 (the token may not ask), not 404.
    assert_error(intent(actl, "nosuch", token=a), 403, "forbidden")
    # Nothing else at all.
    for method, path, body in [
            ("GET", "/v1/sites", None), ("GET", "/v1/sites/s1", None),
            ("GET", "/v1/tunnels", None), ("GET", "/v1/tunnels?site=s1", None),
            ("GET", "/v1/profiles", None), ("GET", "/v1/topologies", None),
            ("GET", "/v1/export", None), ("GET", "/v1/audit", None),
            ("GET", "/v1/status", None), ("GET", "/v1/tokens", None),
            ("GET", "/v1/_routes", None),
            ("POST", "/v1/sites", site("x1", 9)), ("PATCH", "/v1/sites/s1", {"description": "x"}),
            ("DELETE", "/v1/sites/u1", None), ("POST", "/v1/import", {"sites": []}),
            ("POST", "/v1/tokens", {"name": "x", "role": "viewer"}),
            ("POST", "/v1/sites/s1/agent-token", None)]:
        r = actl.request(method, path, body, token=a)
        assert_error(r, 403, "forbidden")
    assert actl.get("/v1/sites/u1").status == 200        # the DELETE did nothing
    # Viewers and operators are not agents.
    for role in ("viewer", "operator"):
        t = actl.issue(role, name="t-" + role)
        assert_error(intent(actl, "s1", token=t), 403, "forbidden")
        assert_error(actl.post("/v1/agents/s1/status", report, token=t), 403, "forbidden")
        assert_error(actl.post("/v1/sites/s1/agent-token", token=t), 403, "forbidden")
    # No token, or a wrong one.
    assert_error(intent(actl, "s1", token=None), 401, "unauthorized")
    assert_error(intent(actl, "s1", token="gst_" + "0" * 64), 401, "unauthorized")
    # Admins may act for any site.
    ok(intent(actl, "s2"))
    ok(actl.post("/v1/agents/s2/status", report), 204)
    # Revoked: refused from then on.
    ok(actl.delete("/v1/tokens/%d" % token_id(actl, "agent-s2")), 204)
    assert_error(intent(actl, "s2", token=b), 401, "unauthorized")


def token_id(ctl, name):
    items = ctl.get("/v1/tokens?limit=1000").json["items"]
    return [t["id"] for t in items if t["name"] == name][-1]


def test_agent_tokens_come_only_from_the_site_route(actl):
    load(actl, STAR_MESH)
    e = assert_error(actl.post("/v1/tokens", {"name": "a", "role": "agent"}), 422, "invalid")
    assert [d["path"] for d in e["details"]] == ["role"], e
    e = assert_error(actl.post("/v1/tokens", {"name": "a", "role": "agent", "site": "s1"}),
                     422, "invalid")
    assert sorted(d["path"] for d in e["details"]) == ["role", "site"], e
    # Each call issues a new token; both work; the audit log records the issue, not the secret.
    t1, t2 = agent_token(actl, "s1"), agent_token(actl, "s1")
    assert t1 != t2
    ok(intent(actl, "s1", token=t1))
    ok(intent(actl, "s1", token=t2))
    audit = actl.get("/v1/audit?limit=1000")
    assert b"agent-s1" in audit.body
    for t in (t1, t2):
        assert t.encode() not in audit.body
    tokens = actl.get("/v1/tokens?limit=1000").json["items"]
    mine = [t for t in tokens if t["name"] == "agent-s1"]
    assert len(mine) == 2 and all(t["role"] == "agent" and t["site"] == "s1" for t in mine), mine


# ---- which revisions move ------------------------------------------------------------------

def test_description_and_tag_edits_that_change_no_membership_bump_nobody(actl):
    load(actl, STAR_MESH)
    changes = [
        ("site description", lambda: ok(actl.patch("/v1/sites/s1", {"description": "2nd floor"}))),
        ("hub description", lambda: ok(actl.patch("/v1/sites/h1", {"description": "core"}))),
        ("tag, no membership change",
         lambda: ok(actl.patch("/v1/sites/s1", {"tags": {"floor": "2"}}))),
        ("tag on an unmatched site", lambda: ok(actl.patch("/v1/sites/m1", {"tags": {"x": "y"}}))),
        ("topology description",
         lambda: ok(actl.patch("/v1/topologies/star", {"description": "eu star"}))),
        ("profile description",
         lambda: ok(actl.patch("/v1/profiles/p1", {"description": "default"}))),
        ("unrelated new site", lambda: ok(actl.post("/v1/sites", site("n1", 8)), 201)),
    ]
    for what, change in changes:
        assert bumped_by(actl, ALL, change) == set(), what


def test_prefix_added_to_a_spoke_bumps_the_sites_that_route_to_it(actl):
    load(actl, STAR_MESH)
    got = bumped_by(actl, ALL, lambda: ok(actl.patch(
        "/v1/sites/s1", {"prefixes": ["10.0.2.0/24", "10.102.0.0/24"]})))
    # The hub routes it directly, the other spoke through the hub; s1's own intent does
    # not carry its own prefixes, and nobody else is joined to it.
    assert got == {"h1", "s2"}
    assert [r["via"] for r in routes_by_prefix(intent_json(actl, "s2"))["10.102.0.0/24"]]
    # In a full mesh: the peer only.
    got = bumped_by(actl, ALL, lambda: ok(actl.patch(
        "/v1/sites/m1", {"prefixes": ["10.0.4.0/24", "10.104.0.0/24"]})))
    assert got == {"m2"}


def test_profile_change_bumps_exactly_the_sites_with_tunnels_using_it(actl):
    load(actl, STAR_MESH)
    got = bumped_by(actl, ALL, lambda: ok(actl.patch("/v1/profiles/p2", {"dpd_interval": 10})))
    assert got == {"m1", "m2"}
    got = bumped_by(actl, ALL, lambda: ok(actl.patch("/v1/profiles/p1", {"start": "always"})))
    assert got == {"h1", "s1", "s2"}
    # A profile no tunnel uses: nobody.
    ok(actl.post("/v1/profiles", profile("p3")), 201)
    got = bumped_by(actl, ALL, lambda: ok(actl.patch("/v1/profiles/p3", {"dpd_interval": 5})))
    assert got == set()


def test_tag_change_that_changes_membership_bumps_the_topology(actl):
    load(actl, STAR_MESH)
    # u1 joins the star by its tags: a tunnel to the hub, and routes to and from it.
    got = bumped_by(actl, ALL, lambda: ok(actl.patch("/v1/sites/u1", {"tags": {"region": "eu"}})))
    assert got == {"h1", "s1", "s2", "u1"}
    # ... and leaves it again.
    got = bumped_by(actl, ALL, lambda: ok(actl.patch("/v1/sites/u1", {"tags": {"region": None}})))
    assert got == {"h1", "s1", "s2", "u1"}


def test_revision_survives_a_restart_and_the_intent_is_unchanged(actl):
    load(actl, STAR_MESH)
    before = {n: intent(actl, n).body for n in ALL}
    revs = revisions(actl, ALL)
    assert actl.stop() == 0
    actl.start()
    assert revisions(actl, ALL) == revs
    for n in ALL:
        assert intent(actl, n).body == before[n], n


# ---- status ---------------------------------------------------------------------------------

def entry(tid, interface="up", ike="established", child="installed", **kw):
    e = {"id": tid, "interface": interface, "ike": ike, "child": child}
    e.update(kw)
    return e


def test_status_round_trip(actl, spec):
    load(actl, STAR_MESH)
    ta, tb = agent_token(actl, "m1"), agent_token(actl, "m2")
    it = intent_json(actl, "m1")
    (tun,) = it["tunnels"]
    tid = tun["id"]
    # Before any report.
    s = ok(actl.get("/v1/status")).json
    validate(spec, response_schema(spec, "/v1/status", "GET", 200), s, "status")
    assert s["sites"] == {"total": 6, "seen": 0, "stale": 0, "never": 6, "unmanaged": 0, "stale_after": 60}, s
    assert s["tunnels"]["total"] == 3 and s["tunnels"]["pending"] == 3, s
    assert actl.get("/v1/sites/m1").json["status"]["agent"] is None
    # m1 reports its tunnel up, with counters and no error.
    ok(actl.post("/v1/agents/m1/status", {"revision": it["revision"], "tunnels": [
        entry(tid, bytes_in=1000, bytes_out=2000, packets_in=10, packets_out=20,
              last_error=None)]}, token=ta), 204)
    s = ok(actl.get("/v1/status")).json
    assert s["sites"] == {"total": 6, "seen": 1, "stale": 0, "never": 5, "unmanaged": 0, "stale_after": 60}, s
    assert s["tunnels"] == {"total": 3, "up": 1, "degraded": 0, "idle": 0, "down": 0,
                            "pending": 2}, s
    page = ok(actl.get("/v1/tunnels?site=m1")).json
    validate(spec, response_schema(spec, "/v1/tunnels", "GET", 200), page, "tunnels")
    (t,) = page["items"]
    assert t["state"] == {"overall": "up", "m1": entry(tid, bytes_in=1000, bytes_out=2000,
                                                       packets_in=10, packets_out=20,
                                                       errors=0, last_error=None),
                          "m2": None}, t["state"]
    site_m1 = ok(actl.get("/v1/sites/m1")).json
    validate(spec, response_schema(spec, "/v1/sites/{name}", "GET", 200), site_m1, "site")
    ag = site_m1["status"]["agent"]
    assert ag["applied_revision"] == it["revision"] and ag["stale"] is False, ag
    assert isinstance(ag["age"], int) and 0 <= ag["age"] <= 5, ag
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", ag["reported_at"]), ag
    assert site_m1["status"]["intent_revision"] == it["revision"]
    assert actl.get("/v1/sites/m2").json["status"]["agent"] is None
    # The other end says down while m1's fresh report says up: degraded, so neither end
    # hides the other's failure. Counters default to 0 and last_error to null.
    err = {"message": "IKE_SA_INIT: NO_PROPOSAL_CHOSEN", "time": "2026-11-27T09:30:00Z"}
    ok(actl.post("/v1/agents/m2/status", {"revision": 1, "tunnels": [
        entry(tid, "down", "connecting", "none", last_error=err)]}, token=tb), 204)
    (t,) = actl.get("/v1/tunnels?site=m2").json["items"]
    assert t["state"]["overall"] == "degraded", t["state"]
    assert actl.get("/v1/status").json["tunnels"]["degraded"] == 1
    assert t["state"]["m2"] == entry(tid, "down", "connecting", "none", bytes_in=0,
                                     bytes_out=0, packets_in=0, packets_out=0, errors=0,
                                     last_error=err), t["state"]
    # A report replaces the previous one: m1 now says the CHILD_SA is down.
    ok(actl.post("/v1/agents/m1/status", {"revision": it["revision"], "tunnels": [
        entry(tid, "up", "established", "down")]}, token=ta), 204)
    (t,) = actl.get("/v1/tunnels?site=m1").json["items"]
    assert t["state"]["overall"] == "down", t["state"]
    assert t["state"]["m1"]["bytes_in"] == 0
    s = actl.get("/v1/status").json
    assert s["sites"]["seen"] == 2 and s["tunnels"] == {"total": 3, "up": 0, "degraded": 0,
                                                        "idle": 0, "down": 1, "pending": 2}, s
    # A CHILD_SA being rekeyed counts as up: with m2 still down, degraded (not down).
    ok(actl.post("/v1/agents/m1/status", {"revision": it["revision"], "tunnels": [
        entry(tid, child="rekeying")]}, token=ta), 204)
    assert actl.get("/v1/tunnels?site=m1").json["items"][0]["state"]["overall"] == "degraded"
    # Tunnels of other sites never show a report they were not in.
    for t in actl.all_tunnels(site="h1"):
        assert t["state"] == {"overall": "pending", t["a"]: None, t["b"]: None}, t


def test_stale_reports_stop_counting(make_controller):
    ctl = make_controller("stale", ["--stale-after", "1", "--poll-timeout", str(POLL)])
    load(ctl, STAR_MESH)
    (tun,) = intent_json(ctl, "m1")["tunnels"]
    ok(ctl.post("/v1/agents/m1/status", {"revision": 1, "tunnels": [entry(tun["id"])]}), 204)
    s = ctl.get("/v1/status").json
    assert s["sites"]["seen"] == 1 and s["tunnels"]["up"] == 1, s
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        s = ctl.get("/v1/status").json
        if s["sites"]["stale"] == 1:
            break
        time.sleep(0.25)
    assert s["sites"] == {"total": 6, "seen": 0, "stale": 1, "never": 5, "unmanaged": 0, "stale_after": 1}, s
    assert s["tunnels"] == {"total": 3, "up": 0, "degraded": 0, "idle": 0, "down": 0,
                            "pending": 3}, s
    ag = ctl.get("/v1/sites/m1").json["status"]["agent"]
    assert ag["stale"] is True and ag["age"] > 1, ag
    (t,) = ctl.get("/v1/tunnels?site=m1").json["items"]
    assert t["state"]["overall"] == "pending", t
    assert t["state"]["m1"]["interface"] == "up"      # the last report is still shown


@pytest.mark.parametrize("body,paths", [
    ({"revision": 1, "tunnels": [entry("gs1", ike="bogus")]}, ["tunnels[0].ike"]),
    ({"revision": 1, "tunnels": [entry("gs1", interface="UP")]}, ["tunnels[0].interface"]),
    ({"revision": 1, "tunnels": [entry("gs1", child="established")]}, ["tunnels[0].child"]),
    ({"revision": 1, "tunnels": [entry("gs1"), entry("gs2", colour="red")]},
     ["tunnels[1].colour"]),
    ({"revision": 1, "tunnels": [], "extra": 1}, ["extra"]),
    ({"tunnels": []}, ["revision"]),
    ({"revision": -1, "tunnels": []}, ["revision"]),
    ({"revision": "7", "tunnels": []}, ["revision"]),
    ({"revision": 1}, ["tunnels"]),
    ({"revision": 1, "tunnels": {}}, ["tunnels"]),
    ({"revision": 1, "tunnels": [entry("gs1", bytes_in=-1)]}, ["tunnels[0].bytes_in"]),
    ({"revision": 1, "tunnels": [entry("gs1", packets_out="5")]}, ["tunnels[0].packets_out"]),
    ({"revision": 1, "tunnels": [entry("gs1", bytes_out=1.5)]}, ["tunnels[0].bytes_out"]),
    ({"revision": 1, "tunnels": [entry("gs1", last_error={"message": "x"})]},
     ["tunnels[0].last_error"]),
    ({"revision": 1, "tunnels": [entry("gs1", last_error="boom")]}, ["tunnels[0].last_error"]),
    ({"revision": 1, "tunnels": [entry("gs1", last_error={"message": "x" * 513, "time": "t"})]},
     ["tunnels[0].last_error"]),
    ({"revision": 1, "tunnels": [{"interface": "up", "ike": "none", "child": "none"}]},
     ["tunnels[0].id"]),
    ({"revision": 1, "tunnels": [{"id": "gs1", "ike": "none", "child": "none"}]},
     ["tunnels[0].interface"]),
    ({"revision": 1, "tunnels": ["gs1"]}, ["tunnels[0]"]),
    ({"revision": 1, "tunnels": [entry("gs1", ike="x", child="y", z=1)]},
     ["tunnels[0].child", "tunnels[0].ike", "tunnels[0].z"]),
])
def test_invalid_status_is_422_with_paths(actl, body, paths):
    load(actl, STAR_MESH)
    e = assert_error(actl.post("/v1/agents/m1/status", body), 422, "invalid")
    assert sorted(d["path"] for d in e["details"]) == sorted(paths), e
    # Nothing was recorded.
    assert actl.get("/v1/sites/m1").json["status"]["agent"] is None
    assert actl.get("/v1/status").json["sites"]["never"] == 6


def test_status_body_errors(actl):
    load(actl, STAR_MESH)
    assert_error(actl.post("/v1/agents/m1/status", "{not json"), 400, "bad_request")
    assert_error(actl.post("/v1/agents/m1/status", {"revision": 1, "tunnels": []},
                           content_type="text/plain"), 415, "unsupported_media_type")
    assert_error(actl.post("/v1/agents/m1/status", []), 422, "invalid")
    assert_error(actl.request("PUT", "/v1/agents/m1/status", {}), 405, "method_not_allowed")
    assert_error(actl.request("POST", "/v1/agents/m1/intent", {}), 405, "method_not_allowed")
    assert_error(actl.request("POST", "/v1/status", {}), 405, "method_not_allowed")
    assert actl.get("/v1/sites/m1").json["status"]["agent"] is None


# ---- determinism, secrets, the intent schema ------------------------------------------------

def test_intents_are_deterministic(actl):
    load(actl, STAR_MESH)
    for n in ALL:
        a, b = intent(actl, n), intent(actl, n)
        assert a.status == b.status == 200
        assert a.body == b.body, n
    h1 = intent(actl, "h1").body
    # A change elsewhere (and back) leaves it byte-identical, revision included.
    ok(actl.patch("/v1/profiles/p2", {"dpd_interval": 12}))
    ok(actl.patch("/v1/sites/m2", {"description": "x"}))
    assert intent(actl, "h1").body == h1


def test_psk_only_in_the_intents_of_its_two_sites(actl):
    load(actl, STAR_MESH)
    viewer = actl.issue("viewer")
    tok = agent_token(actl, "s1")
    intents = {n: intent(actl, n) for n in ALL}
    underlays = underlay_map(actl)
    psks = {}
    for n, r in intents.items():
        for t in r.json["tunnels"]:
            peer = underlays[t["remote"]]
            assert len(t["psk"]) >= 16
            key = tuple(sorted((n, peer)))
            psks.setdefault(key, set()).add(t["psk"])
    assert len(psks) == 3, psks               # h1-s1, h1-s2, m1-m2
    for pair, vals in psks.items():
        assert len(vals) == 1, "the two ends of %s disagree on the PSK" % (pair,)
    flat = {pair: next(iter(v)) for pair, v in psks.items()}
    assert len(set(flat.values())) == len(flat), "two tunnels share a PSK"
    for pair, psk in flat.items():
        for n, r in intents.items():
            assert (psk.encode() in r.body) == (n in pair), (pair, n)
    # Nowhere else: tunnels (admin and viewer), sites, export, audit, status, the log.
    others = [actl.get("/v1/tunnels?limit=1000"), actl.get("/v1/tunnels?limit=1000", token=viewer),
              actl.get("/v1/tunnels?site=s1"), actl.get("/v1/export"),
              actl.get("/v1/audit?limit=1000"), actl.get("/v1/status"),
              actl.get("/v1/sites?limit=1000")]
    others += [actl.get("/v1/sites/" + n) for n in ALL]
    ok(actl.post("/v1/agents/s1/status", {"revision": 1, "tunnels": []}, token=tok), 204)
    # A change that touches the tunnels, so the audit log and the log have had a chance.
    ok(actl.patch("/v1/profiles/p1", {"start": "always"}))
    others.append(actl.get("/v1/audit?limit=1000"))
    for r in others:
        assert r.status == 200, r
        for pair, psk in flat.items():
            assert psk.encode() not in r.body, (pair, r)
    assert actl.stop() == 0
    log = actl.log()
    for pair, psk in flat.items():
        assert psk not in log, "PSK of %s in the controller's log" % (pair,)
    for secret in actl.secrets:
        assert secret not in log, "a token secret in the controller's log"


class SchemaError(AssertionError):
    pass


def check_schema(schema, value, root, where="$"):
    """The subset of JSON Schema 2020-12 that api/intent.schema.json uses."""
    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        check_schema(node, value, root, where)
    if "const" in schema and value != schema["const"]:
        raise SchemaError("%s: %r is not %r" % (where, value, schema["const"]))
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError("%s: %r not in %r" % (where, value, schema["enum"]))
    t = schema.get("type")
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        raise SchemaError("%s: %r is not an integer" % (where, value))
    if t in kinds and not isinstance(value, kinds[t]):
        raise SchemaError("%s: %r is not %s" % (where, value, t))
    if "anyOf" in schema:
        errors = []
        for sub in schema["anyOf"]:
            try:
                check_schema(sub, value, root, where)
                break
            except SchemaError as e:
                errors.append(str(e))
        else:
            raise SchemaError("%s: matches none of anyOf: %s" % (where, errors))
    fmt = schema.get("format")
    if fmt in ("ipv4", "ipv6") and isinstance(value, str):
        try:
            ok_ = ipaddress.ip_address(value).version == int(fmt[-1])
        except ValueError:
            ok_ = False
        if not ok_:
            raise SchemaError("%s: %r is not %s" % (where, value, fmt))
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaError("%s: %r does not match %s" % (where, value, schema["pattern"]))
        if len(value) < schema.get("minLength", 0):
            raise SchemaError("%s: %r is too short" % (where, value))
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError("%s: %r < %r" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError("%s: %r > %r" % (where, value, schema["maximum"]))
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                raise SchemaError("%s: required %s missing" % (where, k))
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                check_schema(props[k], v, root, "%s.%s" % (where, k))
            elif schema.get("additionalProperties") is False:
                raise SchemaError("%s: unknown field %s" % (where, k))
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise SchemaError("%s: fewer than %d items" % (where, schema["minItems"]))
        for i, v in enumerate(value):
            if "items" in schema:
                check_schema(schema["items"], v, root, "%s[%d]" % (where, i))
    known = {"$schema", "$id", "title", "description", "type", "additionalProperties",
             "required", "properties", "$defs", "$ref", "const", "enum", "anyOf", "format",
             "pattern", "minLength", "minimum", "maximum", "items", "minItems", "default"}
    unknown = set(schema) - known
    if unknown:
        raise SchemaError("%s: the schema uses %s, which this checker does not know" %
                          (where, sorted(unknown)))


def test_intents_validate_against_the_intent_schema(actl):
    load(actl, STAR_MESH)
    ok(actl.post("/v1/tunnels", {"name": "x", "a": "s1", "b": "m1", "profile": "p2",
                                 "tunnel_type": "vti"}), 201)
    intents = {n: intent_json(actl, n) for n in ALL}
    assert any(t["kind"] == "vti" for t in intents["s1"]["tunnels"])
    if not os.path.exists(SCHEMA_PATH):
        warnings.warn("api/intent.schema.json does not exist: the schema check of intents "
                      "was not done (the rest of this test was)")
        return
    with open(SCHEMA_PATH) as f:
        schema = json.load(f)
    for n, it in intents.items():
        check_schema(schema, it, schema, n)
    # The checker can fail: a broken intent is refused.
    bad = json.loads(json.dumps(intents["s1"]))
    bad["tunnels"][0]["reqid"] = 1
    with pytest.raises(SchemaError):
        check_schema(schema, bad, schema)
    bad = json.loads(json.dumps(intents["s1"]))
    bad["tunnels"][0]["local"] = "10.0.0.300"
    with pytest.raises(SchemaError):
        check_schema(schema, bad, schema)


# ---- overlay addresses -------------------------------------------------------------------

def test_overlay_addresses_in_tunnels_and_intents(make_controller):
    for pool, plen in ((None, 31), ("fd00:64::/120", 127), ("192.168.77.0/29", 31)):
        args = ["--poll-timeout", str(POLL)] + (["--overlay-pool", pool] if pool else [])
        ctl = make_controller("ov%d-%s" % (plen, (pool or "default").replace("/", "_")), args)
        load(ctl, STAR_MESH)
        net = ipaddress.ip_network(pool or "100.64.0.0/10")
        seen = set()
        for t in ctl.all_tunnels():
            a = ipaddress.ip_interface(t["overlay"][t["a"]])
            b = ipaddress.ip_interface(t["overlay"][t["b"]])
            assert a.network.prefixlen == b.network.prefixlen == plen, t
            assert a.network == b.network and a.ip < b.ip, t
            assert a.ip in net and b.ip in net, (pool, t)
            seen.add(a.network)
            # The two intents agree with the tunnel list, each from its own side.
            for me, other in ((t["a"], t["b"]), (t["b"], t["a"])):
                (it,) = [x for x in intent_json(ctl, me)["tunnels"]
                         if x["id"] == t["interfaces"][me]]
                assert it["overlay"] == {"local": t["overlay"][me], "peer": t["overlay"][other]}
        assert len(seen) == 3, "overlay blocks reused: %s" % seen
        if pool is None:
            assert min(seen) == ipaddress.ip_network("100.64.0.0/31")
        # A /29 holds 4 blocks: a 5th tunnel does not fit, and the error says so.
        if pool == "192.168.77.0/29":
            ok(ctl.post("/v1/tunnels", {"name": "x1", "a": "u1", "b": "m1", "profile": "p1"}), 201)
            e = assert_error(ctl.post("/v1/tunnels", {"name": "x2", "a": "u1", "b": "m2",
                                                      "profile": "p1"}), 422, "invalid")
            assert "exhausted" in json.dumps(e), e
        ctl.stop()


# ---- routes: two hubs, direct tunnels, summaries -------------------------------------------

TWO_HUBS = {
    "profiles": [profile("p1")],
    "sites": [site("h1", 1), site("h2", 2), site("s1", 3, tags={"r": "eu"}),
              site("s2", 4, tags={"r": "eu"}), site("s3", 5, tags={"r": "eu"})],
    "topologies": [{"name": "star", "kind": "hub-spoke", "profile": "p1",
                    "hubs": ["h1", "h2"], "match_tags": {"r": "eu"}}],
    # A direct tunnel between two spokes, besides the star.
    "tunnels": [{"name": "s1-s2", "a": "s1", "b": "s2", "profile": "p1"}],
}
PFX = {n: site(n, i)["prefixes"][0] for i, n in enumerate(["h1", "h2", "s1", "s2", "s3"], 1)}


def test_two_hubs_give_two_paths_and_the_direct_tunnel_wins(actl):
    load(actl, TWO_HUBS)
    und = underlay_map(actl)
    for spoke, others in (("s3", ["s1", "s2"]), ("s1", ["s3"]), ("s2", ["s3"])):
        it = intent_json(actl, spoke)
        peer = peer_of(it, und)
        rs = routes_by_prefix(it)
        for o in others:
            paths = rs.get(PFX[o], [])
            assert sorted(peer[r["via"]] for r in paths) == ["h1", "h2"], (spoke, o, paths)
            metrics = [r["metric"] for r in paths]
            assert len(set(metrics)) == 2, "%s→%s: metrics not distinct: %s" % (spoke, o, paths)
            assert all(m > 100 for m in metrics), paths
        # Each hub's own prefix: directly through that hub, once.
        for h in ("h1", "h2"):
            assert [(peer[r["via"]], r["metric"]) for r in rs[PFX[h]]] == [(h, 100)], rs[PFX[h]]
    # s1 and s2 have their own tunnel: it wins (metric 100); the paths through the hubs stay
    # behind it, so the agent can fall back to them when the direct tunnel dies.
    for me, other in (("s1", "s2"), ("s2", "s1")):
        it = intent_json(actl, me)
        peer = peer_of(it, und)
        paths = routes_by_prefix(it)[PFX[other]]
        got = sorted((r["metric"], peer[r["via"]]) for r in paths)
        assert got[0] == (100, other), (me, paths)
        assert sorted(p for _, p in got[1:]) == ["h1", "h2"], (me, paths)
        assert len({m for m, _ in got}) == 3, (me, paths)
    # A hub reaches each spoke through that spoke's tunnel only; the hubs reach each other.
    for h in ("h1", "h2"):
        it = intent_json(actl, h)
        peer = peer_of(it, und)
        rs = routes_by_prefix(it)
        for o in ("s1", "s2", "s3", "h1", "h2"):
            if o == h:
                assert PFX[o] not in rs
                continue
            assert [(peer[r["via"]], r["metric"]) for r in rs[PFX[o]]] == [(o, 100)], (h, o)
    # Every route goes through a tunnel of the intent.
    for n in ("h1", "h2", "s1", "s2", "s3"):
        it = intent_json(actl, n)
        ids = {t["id"] for t in it["tunnels"]}
        assert all(r["via"] in ids for r in it["routes"]), n


def test_summary_prefixes_replace_per_spoke_routes_on_spokes(actl):
    doc = json.loads(json.dumps(TWO_HUBS))
    doc["topologies"][0]["summary_prefixes"] = ["10.0.0.0/16"]
    del doc["tunnels"]
    load(actl, doc)
    und = underlay_map(actl)
    names = ["h1", "h2", "s1", "s2", "s3"]
    for spoke in ("s1", "s2", "s3"):
        it = intent_json(actl, spoke)
        peer = peer_of(it, und)
        rs = routes_by_prefix(it)
        summ = rs.get("10.0.0.0/16", [])
        assert sorted(peer[r["via"]] for r in summ) == ["h1", "h2"], (spoke, it["routes"])
        assert len({r["metric"] for r in summ}) == 2, summ
        for o in ("s1", "s2", "s3"):
            assert PFX[o] not in rs, "%s still has a route to %s's prefix: %s" % (
                spoke, o, rs.get(PFX[o]))
        # The hubs' own prefixes are still reached directly.
        assert sorted(rs) == sorted(["10.0.0.0/16", PFX["h1"], PFX["h2"]]), sorted(rs)
    for h in ("h1", "h2"):
        rs = routes_by_prefix(intent_json(actl, h))
        assert "10.0.0.0/16" not in rs
        for o in ("s1", "s2", "s3"):
            assert len(rs[PFX[o]]) == 1, rs[PFX[o]]
    # A spoke's new prefix inside the summary: only the hubs change.
    got = bumped_by(actl, names, lambda: ok(actl.patch(
        "/v1/sites/s1", {"prefixes": [PFX["s1"], "10.0.103.0/24"]})))
    assert got == {"h1", "h2"}
    # A new spoke: only it (it is new) and the hubs; no other spoke.
    got = bumped_by(actl, names, lambda: ok(
        actl.post("/v1/sites", site("s4", 6, tags={"r": "eu"})), 201))
    assert got == {"h1", "h2"}, got
    it = intent_json(actl, "s4")
    assert it["revision"] >= 1
    assert sorted(routes_by_prefix(it)) == sorted(["10.0.0.0/16", PFX["h1"], PFX["h2"]])


# ---- lifecycle edges -------------------------------------------------------------------

def test_site_delete_revokes_its_agent_tokens(actl):
    load(actl, STAR_MESH)
    tok = agent_token(actl, "u1")
    ok(intent(actl, "u1", token=tok))
    ok(actl.delete("/v1/sites/u1"), 204)
    # A new site of the same name must not inherit the old gateway's credentials.
    ok(actl.post("/v1/sites", site("u1", 6)), 201)
    assert_error(intent(actl, "u1", token=tok), 401)
    assert any(e["action"] == "token-revoke" and e["name"] == "u1"
               for e in ok(actl.get("/v1/audit?limit=1000")).json["items"])


def test_held_request_hears_its_site_deleted(actl):
    load(actl, STAR_MESH)
    rev = intent_json(actl, "u1")["revision"]
    got = {}

    def hold():
        t0 = time.monotonic()
        got["r"] = intent(actl, "u1", after=rev)
        got["t"] = time.monotonic() - t0

    th = threading.Thread(target=hold)
    th.start()
    time.sleep(0.5)
    ok(actl.delete("/v1/sites/u1"), 204)
    th.join(POLL + 5)
    assert got["r"].status == 404, got["r"]
    assert got["t"] < 0.5 + PROMPT, got["t"]


def test_agent_ahead_of_the_controller_gets_the_intent(actl):
    load(actl, STAR_MESH)
    it = intent_json(actl, "m1")
    t0 = time.monotonic()
    r = intent(actl, "m1", after=it["revision"] + 10)
    assert r.status == 200 and r.json["revision"] == it["revision"], r
    assert time.monotonic() - t0 < PROMPT


def test_status_rules_that_need_the_store(actl):
    load(actl, STAR_MESH)
    tok = agent_token(actl, "m1")
    it = intent_json(actl, "m1")
    tid = it["tunnels"][0]["id"]
    r = actl.post("/v1/agents/m1/status", {"revision": it["revision"] + 1, "tunnels": [
        entry(tid), entry(tid), entry("gs999999")]}, token=tok)
    e = assert_error(r, 422, "invalid")
    paths = sorted(d["path"] for d in e["details"])
    assert paths == ["revision", "tunnels[1].id", "tunnels[2].id"], e
    assert actl.get("/v1/sites/m1").json["status"]["agent"] is None


def test_woken_intent_is_the_one_a_fresh_get_returns(actl):
    """A woken request is answered with the text the refresh wrote ahead for it; it must
    be byte for byte what compiling the intent afresh gives."""
    load(actl, STAR_MESH)
    rev = intent_json(actl, "s1")["revision"]
    got = {}

    def hold():
        got["r"] = intent(actl, "s1", after=rev)

    th = threading.Thread(target=hold)
    th.start()
    time.sleep(0.5)
    ok(actl.patch("/v1/profiles/p1", {"dpd_interval": 13}))
    th.join(POLL + 5)
    woken = got["r"]
    assert woken.status == 200 and woken.json["revision"] == rev + 1, woken
    fresh = intent(actl, "s1")
    assert fresh.status == 200 and fresh.body == woken.body
