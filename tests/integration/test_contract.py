"""api/openapi.yaml as a third-party validator reads it: a broad, representative set of
requests (every route, its documented errors, the documented nulls) sent to a real
controller through Stoplight Prism in proxy mode (tests/openapi, pinned), with --errors.
Any violation Prism reports, in a request or an answer, fails the test (conftest records
them; the make_controller fixture fails the test at teardown if any is left).

"strict" Prism checks the requests too: it takes the requests a client written from the
document may send, nulls in merge patches and status reports included. "lenient" Prism
checks the answers only: it takes bad input sent on purpose, whose error answers must
still match the document. Two controls show that the validation is live: a request that
breaks the document is flagged, and a Prism reading a subtly wrong copy of the document
flags the real server's answers.
"""
import os

import yaml

from conftest import SPEC, Prism, assert_error

POLL = 2    # --poll-timeout here, seconds: the held request below answers 204 after it


def ok(r, status=200):
    assert r.status == status, r
    return r


def no_violations(ctl):
    found, ctl.violations[:] = list(ctl.violations), []
    assert not found, "\n".join("%s %s -> %s: %s" % v for v in found)


def seed(ctl):
    """A profile, three sites (one behind NAT, one over IPv6), a mesh, a tunnel."""
    ok(ctl.post("/v1/profiles", {"name": "p1", "start": "always"}), 201)
    ok(ctl.post("/v1/sites", {"name": "s1", "underlay": "192.0.2.1", "tags": {"r": "eu"},
                              "prefixes": ["10.1.0.0/16"]}), 201)
    ok(ctl.post("/v1/sites", {"name": "s2", "underlay": "192.0.2.2", "tags": {"r": "eu"},
                              "behind_nat": True, "nat_address": "198.51.100.2",
                              "prefixes": ["10.2.0.0/16", "2001:db8:2::/48"]}), 201)
    ok(ctl.post("/v1/sites", {"name": "s3", "underlay": "2001:db8::3",
                              "underlay_mtu": 1280}), 201)
    ok(ctl.post("/v1/topologies", {"name": "mesh", "kind": "full-mesh", "profile": "p1",
                                   "match_tags": {"r": "eu"}}), 201)
    ok(ctl.post("/v1/sites", {"name": "s4", "underlay": "192.0.2.4"}), 201)
    ok(ctl.post("/v1/tunnels", {"name": "t14", "a": "s1", "b": "s4", "profile": "p1"}), 201)


def test_objects_through_a_validating_proxy(make_controller):
    ctl = make_controller("strict", prism="strict")
    ok(ctl.get("/healthz", token=None))
    seed(ctl)
    for kind, name in (("sites", "s1"), ("profiles", "p1"), ("topologies", "mesh"),
                       ("tunnels", "t14")):
        ok(ctl.get("/v1/%s" % kind))
        ok(ctl.get("/v1/%s?limit=1" % kind))
        r = ok(ctl.get("/v1/%s/%s" % (kind, name)))
        etag = r.header("etag")
        body = {k: v for k, v in r.json.items() if k != "status"}   # readOnly: not sent
        # If-Match: the current ETag passes, another one is a 412.
        ok(ctl.put("/v1/%s/%s" % (kind, name), body, headers={"If-Match": etag}))
        assert_error(ctl.put("/v1/%s/%s" % (kind, name), body,
                             headers={"If-Match": '"0000"'}), 412)
    # Paging by name: next is a name, then null.
    page = ok(ctl.get("/v1/sites?limit=2")).json
    assert page["next"] == "s2", page
    assert ok(ctl.get("/v1/sites?limit=3&after=s2")).json["next"] is None
    # A site never reported on: status.agent is null.
    assert ok(ctl.get("/v1/sites/s1")).json["status"]["agent"] is None
    # PUT creates (201, Location); POST of an existing name is a 409.
    r = ok(ctl.put("/v1/sites/s5", {"underlay": "192.0.2.5"}), 201)
    assert r.header("location") == "/v1/sites/s5", r.headers
    assert_error(ctl.post("/v1/sites", {"name": "s5", "underlay": "192.0.2.55"}), 409)
    # Merge patches with null (reset to default), in both media types PATCH takes.
    mp = "application/merge-patch+json"
    r = ok(ctl.patch("/v1/sites/s5", {"tags": {"x": "1"}, "description": "d"}))
    r = ok(ctl.patch("/v1/sites/s5", {"tags": None, "description": None,
                                      "underlay_mtu": None, "prefixes": None,
                                      "behind_nat": None}, content_type=mp))
    assert r.json["tags"] == {} and r.json["description"] == "", r.json
    r = ok(ctl.patch("/v1/profiles/p1", {"ike_lifetime": None, "keying": None,
                                         "esp_proposals": None, "ecmp": None,
                                         "bfd": {"interval_ms": None, "enabled": None},
                                         "description": None}, content_type=mp))
    assert r.json["ike_lifetime"] == 86400 and r.json["bfd"]["interval_ms"] == 100, r.json
    ok(ctl.patch("/v1/profiles/p1", {"bfd": None}, content_type=mp))
    ok(ctl.patch("/v1/topologies/mesh", {"description": None, "tunnel_type": None,
                                         "summary_prefixes": None}, content_type=mp))
    ok(ctl.patch("/v1/tunnels/t14", {"description": None, "tunnel_type": "vti"},
                 content_type=mp))
    ok(ctl.patch("/v1/tunnels/t14", {"tunnel_type": None}))
    # Semantic errors the document cannot express are 422s in the Error shape: an
    # IPv4 site joined to an IPv6 one, an address that is not one.
    e = assert_error(ctl.post("/v1/tunnels", {"name": "t13", "a": "s1", "b": "s3",
                                              "profile": "p1"}), 422)
    assert any("IPv4" in d["message"] for d in e["details"]), e
    assert_error(ctl.patch("/v1/sites/s5", {"underlay": "not-an-address"}), 422)
    assert_error(ctl.get("/v1/sites/none"), 404)
    # Deletions: in use (409, every referrer named), then in order.
    assert_error(ctl.delete("/v1/profiles/p1"), 409)
    for path in ("/v1/tunnels/t14", "/v1/topologies/mesh", "/v1/sites/s5"):
        ok(ctl.delete(path), 204)
    assert_error(ctl.delete("/v1/sites/s5"), 404)
    ok(ctl.get("/v1/_routes"))
    no_violations(ctl)


def test_import_export_tokens_audit_through_a_validating_proxy(make_controller):
    ctl = make_controller("strict", prism="strict")
    seed(ctl)
    doc = ok(ctl.get("/v1/export")).json
    r = ok(ctl.post("/v1/import?dry_run=true", doc)).json
    assert r["totals"] == {"created": 0, "updated": 0, "deleted": 0}, r
    ok(ctl.post("/v1/import?mode=merge", {"sites": [{"name": "s6", "underlay": "192.0.2.6"}]}))
    csv = "name,underlay,behind_nat,nat_address,prefixes,tags,description,underlay_mtu\n" \
          "s7,192.0.2.7,true,198.51.100.7,10.7.0.0/16 10.8.0.0/16,r=us k=v,\"a, b\",1400\n"
    r = ok(ctl.post("/v1/import?mode=merge&dry_run=false", csv, content_type="text/csv")).json
    assert r["changes"]["sites"]["names"]["created"] == ["s7"], r
    e = assert_error(ctl.post("/v1/import", "name,underlay\ns8,x\n", content_type="text/csv"), 422)
    assert e["details"][0]["path"] == "line 2.underlay", e
    r = ok(ctl.post("/v1/import?mode=replace", {"topologies": [], "tunnels": []})).json
    assert r["changes"]["topologies"]["deleted"] == 1, r
    # Tokens: issue (Location is the token's path), list, page, revoke, revoke again.
    r = ok(ctl.post("/v1/tokens", {"name": "noc-bot", "role": "viewer"}), 201)
    tid = r.json["id"]
    assert r.header("location") == "/v1/tokens/%d" % tid, r.headers
    page = ok(ctl.get("/v1/tokens?limit=1")).json
    assert page["next"] is not None, page
    ok(ctl.get("/v1/tokens?limit=1000&after=%d" % page["next"]))
    ok(ctl.delete("/v1/tokens/%d" % tid), 204)
    assert_error(ctl.delete("/v1/tokens/%d" % tid), 404)
    # The audit log: before/after objects or null.
    page = ok(ctl.get("/v1/audit?limit=3")).json
    ok(ctl.get("/v1/audit?after=%d" % page["next"]))
    no_violations(ctl)


def test_agents_and_status_through_a_validating_proxy(make_controller):
    ctl = make_controller("strict", ["--poll-timeout", str(POLL)], prism="strict")
    seed(ctl)
    a1 = ok(ctl.post("/v1/sites/s1/agent-token"), 201).json["token"]
    a2 = ok(ctl.post("/v1/sites/s2/agent-token"), 201).json["token"]
    viewer = ctl.issue("viewer")
    it = ok(ctl.get("/v1/agents/s1/intent", token=a1)).json
    rev = it["revision"]
    assert ok(ctl.get("/v1/agents/s1/intent?after=%d" % rev, token=a1), 204).body == b""
    ok(ctl.get("/v1/agents/s1/intent?after=0"))
    # Before any report: every end of every tunnel is null.
    t = ok(ctl.get("/v1/tunnels?site=s1&limit=1000&after=0")).json["items"][0]
    assert t["state"]["overall"] == "pending" and t["state"][t["b"]] is None, t
    # Reports with last_error null, with an error, with liveness (reason null).
    tid = it["tunnels"][0]["id"]
    up = {"id": tid, "interface": "up", "ike": "established", "child": "installed",
          "bytes_in": 1, "bytes_out": 2, "packets_in": 3, "packets_out": 4,
          "last_error": None,
          "liveness": {"state": "up", "since": "2026-11-30T23:59:59Z", "flaps": 0,
                       "reason": None, "forwarding": True, "bfd": "up"}}
    ok(ctl.post("/v1/agents/s1/status", {"revision": rev, "tunnels": [up]}, token=a1), 204)
    err = {"message": "IKE_SA_INIT: NO_PROPOSAL_CHOSEN", "time": "2026-11-27T09:30:00Z"}
    ok(ctl.post("/v1/agents/s2/status", {"revision": 0, "tunnels": [
        {"id": tid, "interface": "up", "ike": "connecting", "child": "none",
         "last_error": err}]}, token=a2), 204)
    site = ok(ctl.get("/v1/sites/s1")).json
    assert site["status"]["agent"]["applied_revision"] == rev, site
    items = ok(ctl.get("/v1/tunnels")).json["items"]
    assert any(x["state"].get("s1") and x["state"].get("s2") for x in items), items
    assert any(x["state"].get("s4", 0) is None for x in items), items
    ok(ctl.get("/v1/status"))
    # Role refusals: an agent token on every read route and another site's routes,
    # a viewer on writes; an unknown token is a 401.
    for path in ("/v1/sites", "/v1/sites/s1", "/v1/profiles", "/v1/profiles/p1",
                 "/v1/topologies", "/v1/topologies/mesh", "/v1/tunnels", "/v1/tunnels/t14",
                 "/v1/export", "/v1/audit", "/v1/status", "/v1/tokens", "/v1/_routes",
                 "/v1/agents/s2/intent"):
        assert_error(ctl.get(path, token=a1), 403)
    assert_error(ctl.post("/v1/agents/s2/status", {"revision": 0, "tunnels": []}, token=a1), 403)
    assert_error(ctl.post("/v1/sites", {"name": "v1", "underlay": "192.0.2.9"},
                          token=viewer), 403)
    assert_error(ctl.delete("/v1/sites/s1", token=viewer), 403)
    assert_error(ctl.post("/v1/sites/s1/agent-token", token=viewer), 403)
    assert_error(ctl.get("/v1/sites", token="gst_not-a-token"), 401)
    assert_error(ctl.get("/v1/agents/s1/intent", token="gst_not-a-token"), 401)
    assert_error(ctl.get("/v1/agents/none/intent"), 404)
    assert_error(ctl.post("/v1/sites/none/agent-token"), 404)
    # A report on a tunnel the site does not have: 422 naming it.
    e = assert_error(ctl.post("/v1/agents/s1/status", {"revision": rev, "tunnels": [
        dict(up, id="gs9999")]}, token=a1), 422)
    assert e["details"], e
    no_violations(ctl)


# -- metrics (issue 12) ---------------------------------------------------------------
def test_metrics_through_a_validating_proxy(make_controller):
    ctl = make_controller("strict", prism="strict")
    seed(ctl)
    viewer = ctl.issue("viewer")
    a1 = ok(ctl.post("/v1/sites/s1/agent-token"), 201).json["token"]
    it = ok(ctl.get("/v1/agents/s1/intent", token=a1)).json
    assert it["committed_at"].endswith("Z"), it
    r = ok(ctl.get("/metrics", token=viewer))
    assert r.header("content-type").startswith("text/plain"), r
    assert b"gresec_http_requests_total{" in r.body
    assert_error(ctl.get("/metrics", token=a1), 403)


def test_pki_through_a_validating_proxy(make_controller, tmp_path):
    """The CA, enrollment, a site's certificates, revocation (issue 11)."""
    from test_pki import make_csr
    ctl = make_controller("strict", prism="strict")
    seed(ctl)
    a1 = ok(ctl.post("/v1/sites/s1/agent-token"), 201).json["token"]
    ca = ok(ctl.get("/v1/ca", token=a1)).json
    assert ca["crl"] is None, ca
    cert = ok(ctl.post("/v1/agents/s1/csr", {"csr": make_csr(tmp_path, subj="/CN=s1")},
                       token=a1), 201).json
    assert ok(ctl.get("/v1/sites/s1/certs")).json["items"][0]["serial"] == cert["serial"]
    e = assert_error(ctl.post("/v1/agents/s1/csr", {"csr": "garbage"}, token=a1), 422)
    assert e["details"][0]["path"] == "csr", e
    assert_error(ctl.post("/v1/agents/s2/csr", {"csr": "x"}, token=a1), 403)
    assert_error(ctl.post("/v1/sites/s1/revoke-cert", token=a1), 403)
    ok(ctl.post("/v1/sites/s1/revoke-cert"))
    assert ok(ctl.get("/v1/ca")).json["crl"]
    assert ok(ctl.get("/v1/agents/s2/intent")).json["crl"]
    assert_error(ctl.get("/v1/ca", token=a1), 401)     # its tokens went with it
    assert_error(ctl.get("/v1/sites/none/certs"), 404)
    no_violations(ctl)


def test_bad_input_is_answered_as_documented(make_controller):
    """Requests that break the document on purpose (Prism checks the answers only)."""
    ctl = make_controller("lenient", ["--max-body", "4096"], prism="lenient")
    seed(ctl)
    for path in ("/v1/sites?limit=0", "/v1/sites?limit=x", "/v1/tunnels?after=-1",
                 "/v1/audit?after=x", "/v1/tokens?limit=1001",
                 "/v1/agents/s1/intent?after=-1", "/v1/import?mode=bogus"):
        method = "POST" if "import" in path else "GET"
        assert_error(ctl.request(method, path, {} if method == "POST" else None), 400)
    assert_error(ctl.post("/v1/import?dry_run=maybe", {}), 400)
    assert_error(ctl.post("/v1/sites", {"name": "s9"}, content_type="text/plain"), 415)
    assert_error(ctl.post("/v1/import", "x", content_type="application/xml"), 415)
    assert_error(ctl.post("/v1/sites", {"name": "s9", "underlay": "192.0.2.9",
                                        "x": "y" * 5000}), 413)
    for body in ({"name": "Not A Name", "underlay": "192.0.2.9"},
                 {"name": "s9", "underlay": "192.0.2.9", "colour": "red"},
                 {"name": "s9", "underlay": "192.0.2.9", "underlay_mtu": "big"},
                 {"name": "s9", "underlay": 9}):
        assert_error(ctl.post("/v1/sites", body), 422)
    assert_error(ctl.patch("/v1/profiles/p1", {"ike_version": 3, "bfd": {"x": 1}}), 422)
    assert_error(ctl.post("/v1/tokens", {"name": "n", "role": "agent"}), 422)
    assert_error(ctl.post("/v1/tokens", {"name": "x" * 64, "role": "viewer"}), 422)
    assert_error(ctl.post("/v1/agents/s1/status", {"revision": -1, "tunnels": [
        {"id": "", "interface": "sideways"}]}), 422)
    assert_error(ctl.delete("/v1/tokens/abc"), 404)
    no_violations(ctl)


def test_peer_config_through_a_validating_proxy(make_controller):
    """Unmanaged sites (issue 10): the site field, both formats, the documented refusals."""
    ctl = make_controller("strict", prism="strict")
    seed(ctl)
    ok(ctl.post("/v1/sites", {"name": "u1", "underlay": "192.0.2.11", "managed": False,
                              "prefixes": ["10.11.0.0/16"]}), 201)
    ok(ctl.post("/v1/tunnels", {"name": "tu", "a": "s1", "b": "u1", "profile": "p1"}), 201)
    assert ok(ctl.get("/v1/sites/u1")).json["managed"] is False
    for fmt, name in (("swanctl", "swanctl.conf"), ("libreswan", "ipsec.conf")):
        r = ok(ctl.get("/v1/sites/u1/peer-config?format=" + fmt))
        assert name in r.json["files"] and "gresec-peer.sh" in r.json["files"], r
    assert ok(ctl.get("/v1/status")).json["sites"]["unmanaged"] == 1
    no_violations(ctl)
    lenient = make_controller("lenient", prism="lenient")
    seed(lenient)
    ok(lenient.post("/v1/sites", {"name": "u2", "underlay": "192.0.2.12", "managed": False,
                                  "behind_nat": True, "nat_address": "198.51.100.12"}), 201)
    ok(lenient.post("/v1/tunnels", {"name": "tu", "a": "s1", "b": "u2", "profile": "p1"}), 201)
    assert_error(lenient.get("/v1/sites/u2/peer-config?format=libreswan"), 422)
    assert_error(lenient.get("/v1/sites/u2/peer-config?format=x"), 400)
    assert_error(lenient.get("/v1/sites/s1/peer-config?format=swanctl"), 409)
    assert_error(lenient.get("/v1/sites/nosuch/peer-config?format=swanctl"), 404)
    assert_error(lenient.post("/v1/sites/u2/agent-token"), 409)
    no_violations(lenient)


def test_the_proxy_flags_what_breaks_the_document(make_controller, tmp_path):
    """Controls: without them, a Prism that silently skipped validation would pass."""
    ctl = make_controller("strict", prism="strict")
    seed(ctl)
    # A request outside the document (an unknown field) is flagged.
    ctl.post("/v1/sites", {"name": "s9", "underlay": "192.0.2.9", "colour": "red"})
    assert ctl.violations, "strict Prism let an undocumented field through"
    ctl.violations[:] = []
    # Answers the real server gives, read against a copy of the document that is wrong
    # in a nested, $ref'd schema, are flagged too.
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    schemas = spec["components"]["schemas"]
    schemas["AgentStatus"]["required"].append("colour")
    schemas["Health"]["properties"]["schema_version"]["minimum"] = 1000
    bad = os.path.join(str(tmp_path), "wrong.yaml")
    with open(bad, "w") as f:
        yaml.safe_dump(spec, f)
    saved, ctl.prism = ctl.prism, Prism(str(tmp_path), ctl.port, "lenient", spec=bad).start()
    try:
        a1 = ok(ctl.post("/v1/sites/s1/agent-token"), 201).json["token"]
        ctl.post("/v1/agents/s1/status", {"revision": 0, "tunnels": []}, token=a1)
        ctl.get("/v1/sites/s1")
        ctl.get("/healthz", token=None)
    finally:
        ctl.prism.stop()
        ctl.prism = saved
    flagged = [v for v in ctl.violations if v[1] in ("/v1/sites/s1", "/healthz")]
    ctl.violations[:] = []
    assert len(flagged) == 2, flagged
    assert "colour" in flagged[0][3] and "schema_version" in flagged[1][3], flagged


# ---- PSKs: rotation, psk_max_age, the agents' features (issue 11 item 4, issue 10 item 1)

def test_psk_rotation_and_features_through_a_validating_proxy(make_controller):
    ctl = make_controller("strict", ["--poll-timeout", str(POLL)], prism="strict")
    seed(ctl)
    op, viewer = ctl.issue("operator"), ctl.issue("viewer")
    a1 = ok(ctl.post("/v1/sites/s1/agent-token"), 201).json["token"]
    ok(ctl.post("/v1/profiles", {"name": "aged", "psk_max_age": 86400}), 201)
    assert ok(ctl.get("/v1/profiles/aged")).json["psk_max_age"] == 86400
    ok(ctl.patch("/v1/profiles/aged", {"psk_max_age": None}))
    it = ok(ctl.get("/v1/agents/s1/intent", token=a1)).json
    tid = it["tunnels"][0]["id"]
    ok(ctl.post("/v1/agents/s1/status", {"revision": it["revision"], "features": ["psk-hex"],
        "tunnels": [{"id": tid, "interface": "up", "ike": "established",
                     "child": "installed", "errors": 3, "last_error": None}]},
        token=a1), 204)
    n = ok(ctl.get("/v1/tunnels?site=s1")).json["items"][0]["id"]
    r = ok(ctl.post("/v1/tunnels/%d/rotate-psk" % n, token=op)).json
    assert r["id"] == n, r
    assert_error(ctl.post("/v1/tunnels/%d/rotate-psk" % n, token=viewer), 403)
    assert_error(ctl.post("/v1/tunnels/%d/rotate-psk" % n, token=a1), 403)
    assert_error(ctl.post("/v1/tunnels/999999/rotate-psk"), 404)
    no_violations(ctl)
