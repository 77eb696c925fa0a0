"""The controller's Prometheus metrics (GET /metrics, viewer token): the exposition is
what promtool accepts, and the values move with what happens: requests by route and
code, imports, compiled intents and revisions, tunnel states after a status report,
held long-polls, and the fan-out delay from a revision's commit to its delivery."""
import time

from conftest import assert_error
from promtext import parse, promtool_check, value
from test_agents import (STAR_MESH, Poll, actl, agent_token, entry, intent,  # noqa: F401
                         intent_json, load, ok)


def scrape(ctl, token="admin"):
    r = ok(ctl.get("/metrics", token=token))
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8", r.headers
    text = r.body.decode()
    promtool_check(text)
    return parse(text)


def test_metrics_need_a_viewer_token_and_pass_promtool(actl):
    assert_error(actl.get("/metrics", token=None), 401, "unauthorized")
    m = scrape(actl, actl.issue("viewer"))
    # An empty store: every gauge is there, at zero.
    for st in ("seen", "stale", "never"):
        assert value(m, "gresec_sites", state=st) == 0
    for st in ("up", "degraded", "idle", "down", "pending"):
        assert ("gresec_tunnels", frozenset({("state", st)})) in m
    assert value(m, "gresec_longpolls_held") == 0
    assert_error(actl.post("/metrics", {}), 405)


def test_request_counter_and_latency_move(actl):
    route = dict(method="GET", route="/v1/sites")
    before = scrape(actl)
    for _ in range(3):
        ok(actl.get("/v1/sites"))
    assert_error(actl.get("/v1/sites?limit=0"), 400)
    assert_error(actl.get("/v1/nowhere"), 404)
    after = scrape(actl)
    assert value(after, "gresec_http_requests_total", code="200", **route) == \
        value(before, "gresec_http_requests_total", code="200", **route) + 3
    assert value(after, "gresec_http_requests_total", code="400", **route) == \
        value(before, "gresec_http_requests_total", code="400", **route) + 1
    assert value(after, "gresec_http_requests_total", code="404", route="unmatched") == \
        value(before, "gresec_http_requests_total", code="404", route="unmatched") + 1
    assert value(after, "gresec_http_request_duration_seconds_count", **route) == \
        value(before, "gresec_http_request_duration_seconds_count", **route) + 4
    # Reads ran in read transactions, the scrapes among them.
    assert value(after, "gresec_db_transaction_duration_seconds_count", kind="read") > \
        value(before, "gresec_db_transaction_duration_seconds_count", kind="read")


def test_imports_compiles_and_site_states(actl):
    m0 = scrape(actl)
    load(actl, STAR_MESH)
    bad = dict(STAR_MESH, sites=[{"name": "BAD"}])
    assert_error(actl.post("/v1/import", bad), 422)
    m1 = scrape(actl)
    assert value(m1, "gresec_imports_total", outcome="ok") == \
        value(m0, "gresec_imports_total", outcome="ok") + 1
    assert value(m1, "gresec_imports_total", outcome="rejected") == \
        value(m0, "gresec_imports_total", outcome="rejected") + 1
    # Six sites, each a first revision.
    assert value(m1, "gresec_intent_revisions_total") - \
        value(m0, "gresec_intent_revisions_total") == 6
    assert value(m1, "gresec_intents_compiled_total") >= 6
    assert value(m1, "gresec_sites", state="never") == 6
    assert value(m1, "gresec_tunnels", state="pending") == 3
    assert value(m1, "gresec_db_transaction_duration_seconds_count", kind="write") > \
        value(m0, "gresec_db_transaction_duration_seconds_count", kind="write")


def test_tunnel_state_gauge_follows_a_status_report(actl):
    load(actl, STAR_MESH)
    ta, tb = agent_token(actl, "m1"), agent_token(actl, "m2")
    (t,) = intent_json(actl, "m1")["tunnels"]
    m = scrape(actl)
    assert value(m, "gresec_tunnels", state="up") == 0
    assert value(m, "gresec_tunnels", state="pending") == 3
    ok(actl.post("/v1/agents/m1/status", {"revision": 1, "tunnels": [entry(t["id"])]},
                 token=ta), 204)
    m = scrape(actl)
    assert value(m, "gresec_tunnels", state="up") == 1
    assert value(m, "gresec_tunnels", state="pending") == 2
    assert value(m, "gresec_sites", state="seen") == 1
    assert value(m, "gresec_sites", state="never") == 5
    # The other end says down: degraded.
    ok(actl.post("/v1/agents/m2/status", {"revision": 1, "tunnels": [
        entry(t["id"], "down", "connecting", "none")]}, token=tb), 204)
    m = scrape(actl)
    assert value(m, "gresec_tunnels", state="up") == 0
    assert value(m, "gresec_tunnels", state="degraded") == 1
    assert value(m, "gresec_sites", state="seen") == 2


def test_long_poll_held_and_fanout(actl):
    load(actl, STAR_MESH)
    tok = agent_token(actl, "m1")
    it = intent_json(actl, "m1")
    assert it["committed_at"].endswith("Z"), it
    p = Poll(actl, "m1", tok, it["revision"])
    p.start()
    deadline = time.monotonic() + 5
    while value(scrape(actl), "gresec_longpolls_held") != 1:
        assert time.monotonic() < deadline, "the intent request was not held"
        time.sleep(0.05)
    before = scrape(actl)
    ok(actl.patch("/v1/sites/m1", {"underlay": "192.0.2.44"},
                  content_type="application/merge-patch+json"))
    r = p.result()
    assert r.status == 200, r
    assert r.json["revision"] == it["revision"] + 1
    assert r.json["committed_at"] >= it["committed_at"]
    after = scrape(actl)
    assert value(after, "gresec_longpolls_held") == 0
    assert value(after, "gresec_intent_fanout_seconds_count") == \
        value(before, "gresec_intent_fanout_seconds_count") + 1
    # Delivered promptly: well within the 10 s bucket.
    assert value(after, "gresec_intent_fanout_seconds_bucket", le="10") == \
        value(after, "gresec_intent_fanout_seconds_count")
    # A first fetch (after=0) is not a propagation.
    ok(intent(actl, "m1", token=tok))
    assert value(scrape(actl), "gresec_intent_fanout_seconds_count") == \
        value(after, "gresec_intent_fanout_seconds_count")
