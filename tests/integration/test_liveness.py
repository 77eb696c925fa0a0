"""The agents' per-tunnel liveness in status reports: validated strictly, optional (older
agents send none), shown under each end's state, and folded into a tunnel's overall
(pending / degraded / down / up / idle) and the counts of GET /v1/status."""
import time

import pytest

from conftest import assert_error
from test_agents import STAR_MESH, actl, entry, load, ok, spec  # noqa: F401 (fixtures)
from test_openapi import response_schema, validate


def live(state="up", **kw):
    lv = {"state": state, "since": "2026-11-30T23:59:59Z", "flaps": 0, "reason": None,
          "forwarding": state == "up", "bfd": "up" if state == "up" else "down"}
    lv.update(kw)
    return lv


IDLE_OLD = dict(interface="up", ike="none", child="none")       # on demand, nothing sent
UP_OLD = dict(interface="up", ike="established", child="installed")
DOWN_OLD = dict(interface="up", ike="connecting", child="none")


def mesh_tunnel(ctl):
    """The m1–m2 tunnel's id; the status counts cover h1's two tunnels too."""
    (t,) = ctl.get("/v1/tunnels?site=m1").json["items"]
    return "gs%d" % t["id"]


def report(ctl, site, tid, **kw):
    ok(ctl.post("/v1/agents/%s/status" % site, {"revision": 1, "tunnels": [entry(tid, **kw)]}),
       204)


def overall(ctl):
    (t,) = ctl.get("/v1/tunnels?site=m1").json["items"]
    return t["state"]["overall"]


def test_liveness_is_stored_and_shown(actl, spec):
    load(actl, STAR_MESH)
    tid = mesh_tunnel(actl)
    lv = live("down", since="2026-11-30T12:00:00.250Z", flaps=4, reason="bfd-timeout",
              forwarding=False, bfd="down")
    report(actl, "m1", tid, liveness=lv)
    page = ok(actl.get("/v1/tunnels?site=m1")).json
    validate(spec, response_schema(spec, "/v1/tunnels", "GET", 200), page, "tunnels")
    (t,) = page["items"]
    assert t["state"]["m1"]["liveness"] == lv, t["state"]
    assert t["state"]["m1"]["ike"] == "established"
    assert t["state"]["m2"] is None
    # A report without liveness (an older agent) shows none, and replaces the one before.
    report(actl, "m1", tid, **UP_OLD)
    (t,) = actl.get("/v1/tunnels?site=m1").json["items"]
    assert "liveness" not in t["state"]["m1"], t["state"]
    # reason left out reads as null; every state and bfd state and reason is taken.
    for st, bfd, why in [("up", "up", None), ("idle", "off", None),
                         ("admin-down", "admin-down", "peer-admin-down"),
                         ("down", "init", "bfd-no-reply"), ("down", "down", "ike-failed"),
                         ("down", "up", "ike-timeout"), ("down", "down", "interface")]:
        lv = live(st, bfd=bfd, reason=why)
        if why is None:
            del lv["reason"]
        report(actl, "m1", tid, liveness=lv)
        (t,) = actl.get("/v1/tunnels?site=m1").json["items"]
        assert t["state"]["m1"]["liveness"] == dict(lv, reason=why), t["state"]
        validate(spec, response_schema(spec, "/v1/tunnels", "GET", 200),
                 actl.get("/v1/tunnels?site=m1").json, "tunnels")


BAD_LIVENESS = [
    ("x", "liveness"),
    ([], "liveness"),
    (None, "liveness"),
    (live(state="UP"), "liveness.state"),
    (live(state="pending"), "liveness.state"),
    (live(state=None), "liveness.state"),
    ({k: v for k, v in live().items() if k != "state"}, "liveness.state"),
    (live(since="2026-11-30 23:59:59Z"), "liveness.since"),
    (live(since="2026-11-30T23:59:59+01:00"), "liveness.since"),
    (live(since="2026-11-30T23:59:59"), "liveness.since"),
    (live(since="2026-11-31T10:00:00Z"), "liveness.since"),
    (live(since="2026-13-01T10:00:00Z"), "liveness.since"),
    (live(since="2026-11-30T24:00:00Z"), "liveness.since"),
    (live(since="2026-11-30T23:59:59.Z"), "liveness.since"),
    (live(since="yesterday"), "liveness.since"),
    (live(since=1764547199), "liveness.since"),
    ({k: v for k, v in live().items() if k != "since"}, "liveness.since"),
    (live(flaps=-1), "liveness.flaps"),
    (live(flaps=1.5), "liveness.flaps"),
    (live(flaps="3"), "liveness.flaps"),
    (live(flaps=True), "liveness.flaps"),
    (live(reason="timeout"), "liveness.reason"),
    (live(reason=7), "liveness.reason"),
    (live(forwarding="yes"), "liveness.forwarding"),
    (live(forwarding=None), "liveness.forwarding"),
    (live(forwarding=1), "liveness.forwarding"),
    (live(bfd="established"), "liveness.bfd"),
    (live(bfd=True), "liveness.bfd"),
    ({k: v for k, v in live().items() if k != "bfd"}, "liveness.bfd"),
    (live(colour="red"), "liveness.colour"),
]


@pytest.mark.parametrize("lv,path", BAD_LIVENESS, ids=[repr(b[0])[:60] for b in BAD_LIVENESS])
def test_bad_liveness_is_422_with_its_path(actl, lv, path):
    load(actl, STAR_MESH)
    tid = mesh_tunnel(actl)
    body = {"revision": 1, "tunnels": [entry(tid, liveness=lv)]}
    e = assert_error(actl.post("/v1/agents/m1/status", body), 422, "invalid")
    assert [d["path"] for d in e["details"]] == ["tunnels[0]." + path], e
    assert actl.get("/v1/sites/m1").json["status"]["agent"] is None


def test_every_liveness_error_at_once(actl):
    load(actl, STAR_MESH)
    tid = mesh_tunnel(actl)
    lv = {"state": "sleeping", "since": "now", "flaps": -2, "reason": "gone",
          "forwarding": "no", "bfd": "maybe", "extra": 1}
    e = assert_error(actl.post("/v1/agents/m1/status",
                               {"revision": 1, "tunnels": [entry(tid, liveness=lv)]}),
                     422, "invalid")
    want = ["tunnels[0].liveness." + k for k in lv]
    assert sorted(d["path"] for d in e["details"]) == sorted(want), e


# (m1's report, m2's report, overall): None = no report from that end. A report is the
# keyword arguments of entry(); "liveness" in it is an agent's verdict.
OVERALL = [
    (None, None, "pending"),
    # Liveness from both ends.
    (dict(liveness=live("up")), dict(liveness=live("up")), "up"),
    # One end up, the other down: a contradiction neither end may hide.
    (dict(liveness=live("up")), dict(liveness=live("down")), "degraded"),
    (dict(liveness=live("admin-down")), dict(liveness=live("up")), "degraded"),
    (dict(liveness=live("idle")), dict(liveness=live("idle")), "idle"),
    # Idle contradicts nothing: an on-demand end that has not seen the SA yet.
    (dict(liveness=live("idle")), dict(liveness=live("up")), "up"),
    (dict(liveness=live("idle")), dict(liveness=live("down")), "down"),
    # From one end only.
    (dict(liveness=live("up")), None, "up"),
    (dict(liveness=live("idle")), None, "idle"),
    (None, dict(liveness=live("down")), "down"),
    (None, dict(liveness=live("admin-down")), "down"),
    # Liveness beats the SA states it is reported with.
    (dict(liveness=live("down"), **UP_OLD), None, "down"),
    (dict(liveness=live("up"), **DOWN_OLD), None, "up"),
    (dict(liveness=live("idle"), **DOWN_OLD), None, "idle"),
    # Agents older than BFD: the old rule, with idle for nothing started yet.
    (UP_OLD, None, "up"),
    (UP_OLD, DOWN_OLD, "degraded"),
    (UP_OLD, UP_OLD, "up"),
    (DOWN_OLD, None, "down"),
    (IDLE_OLD, None, "idle"),
    (IDLE_OLD, IDLE_OLD, "idle"),
    (IDLE_OLD, DOWN_OLD, "down"),
    (IDLE_OLD, UP_OLD, "up"),
    (dict(interface="down", ike="none", child="none"), None, "down"),
    (dict(interface="missing", ike="none", child="none"), None, "down"),
    (dict(interface="up", ike="established", child="none"), None, "down"),
    # Mixed: an old agent at one end, a new one at the other.
    (IDLE_OLD, dict(liveness=live("idle")), "idle"),
    (UP_OLD, dict(liveness=live("idle")), "up"),
    (UP_OLD, dict(liveness=live("down")), "degraded"),
    (dict(interface="up", ike="established", child="none"), dict(liveness=live("up")),
     "degraded"),
    (DOWN_OLD, dict(liveness=live("up")), "degraded"),
    (DOWN_OLD, dict(liveness=live("idle")), "down"),
    (IDLE_OLD, dict(liveness=live("up")), "up"),
]


def counts(ctl):
    return ok(ctl.get("/v1/status")).json["tunnels"]


@pytest.mark.parametrize("ra,rb,want", OVERALL, ids=["%d-%s" % (i, o[2])
                                                      for i, o in enumerate(OVERALL)])
def test_overall(actl, spec, ra, rb, want):
    load(actl, STAR_MESH)
    tid = mesh_tunnel(actl)
    for name, rep in (("m1", ra), ("m2", rb)):
        if rep is not None:
            report(actl, name, tid, **rep)
    assert overall(actl) == want
    # GET /v1/status counts the mesh tunnel under its overall; h1's two are pending.
    c = counts(actl)
    validate(spec, response_schema(spec, "/v1/status", "GET", 200),
             actl.get("/v1/status").json, "status")
    expected = {"total": 3, "up": 0, "degraded": 0, "idle": 0, "down": 0, "pending": 2}
    expected[want] += 1
    assert c == expected, c


def test_stale_liveness_does_not_count(make_controller):
    ctl = make_controller("stale", ["--stale-after", "1", "--poll-timeout", "3"])
    load(ctl, STAR_MESH)
    tid = mesh_tunnel(ctl)
    report(ctl, "m1", tid, liveness=live("down"))
    assert overall(ctl) == "down"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and overall(ctl) != "pending":
        time.sleep(0.25)
    assert overall(ctl) == "pending"
    assert counts(ctl)["down"] == 0


def test_an_up_from_before_the_down_began_is_no_contradiction(actl):
    """A hub that died after its last report: its up predates the peer's down, so the
    tunnel is down, not degraded; an up reported after the down began contradicts it."""
    load(actl, STAR_MESH)
    tid = mesh_tunnel(actl)
    report(actl, "m1", tid, liveness=live("up"))
    time.sleep(2.1)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report(actl, "m2", tid, liveness=live("down", since=now, reason="bfd-timeout"))
    assert overall(actl) == "down"
    report(actl, "m1", tid, liveness=live("up"))
    assert overall(actl) == "degraded"
