"""Health, routing and the request-level error paths: every one answers the one error shape."""
import json

from conftest import assert_error, site


def test_healthz_needs_no_token(ctl):
    r = ctl.get("/healthz", token=None)
    assert r.status == 200, r
    assert "application/json" in r.header("content-type")
    assert r.json["status"] == "ok"
    assert isinstance(r.json["schema_version"], int) and r.json["schema_version"] >= 1


def test_unknown_route_is_404(ctl):
    for path in ("/v1/nothing", "/v1", "/", "/v2/sites", "/v1/sites/a/b", "/v1/sites/",
                 "/healthz/x", "/v1/sitesx"):
        e = assert_error(ctl.get(path), 404, "not_found")
        assert e["details"] == [], e


def test_unknown_object_is_404(ctl):
    for plural in ("sites", "profiles", "topologies", "tunnels"):
        assert_error(ctl.get("/v1/%s/ghost" % plural), 404, "not_found")
        assert_error(ctl.delete("/v1/%s/ghost" % plural), 404, "not_found")
        assert_error(ctl.patch("/v1/%s/ghost" % plural, {"description": "x"}), 404, "not_found")
    assert_error(ctl.delete("/v1/tokens/999999"), 404, "not_found")


def test_wrong_method_is_405_with_allow(ctl):
    cases = [("DELETE", "/v1/sites", {"GET", "POST"}),
             ("PUT", "/v1/sites", {"GET", "POST"}),
             ("POST", "/v1/sites/x", {"GET", "PUT", "PATCH", "DELETE"}),
             ("GET", "/v1/import", {"POST"}),
             ("POST", "/v1/export", {"GET"}),
             ("POST", "/healthz", {"GET"}),
             ("PUT", "/v1/tokens", {"GET", "POST"}),
             ("GET", "/v1/tokens/1", {"DELETE"})]
    for method, path, allowed in cases:
        r = ctl.request(method, path, body={} if method in ("POST", "PUT") else None)
        assert_error(r, 405, "method_not_allowed")
        allow = {m.strip() for m in (r.header("allow") or "").split(",") if m.strip()}
        assert allow == allowed, (method, path, r.header("allow"))


def test_malformed_json_is_400(ctl):
    for raw in ('{"name": "a",', "not json", '{"name": "a"} trailing', "",
                '{"name":"a","name":"b"}'):
        e = assert_error(ctl.post("/v1/sites", raw), 400, "bad_request")
        assert e["message"], e
    assert_error(ctl.post("/v1/import", "[1, 2"), 400, "bad_request")
    assert ctl.get("/v1/sites").json["items"] == []


def test_bad_query_parameters_are_400(ctl):
    for q in ("limit=0", "limit=1001", "limit=abc", "limit=-1", "limit="):
        assert_error(ctl.get("/v1/sites?" + q), 400, "bad_request")
    assert_error(ctl.get("/v1/tunnels?after=abc"), 400, "bad_request")
    assert_error(ctl.get("/v1/audit?after=xyz"), 400, "bad_request")
    assert_error(ctl.post("/v1/import?mode=bogus", {}), 400, "bad_request")
    assert_error(ctl.post("/v1/import?dry_run=maybe", {}), 400, "bad_request")
    assert ctl.get("/v1/sites?limit=1000").status == 200
    assert ctl.get("/v1/sites?limit=1").status == 200


def test_wrong_content_type_is_415(ctl):
    body = json.dumps(site("a", 1))
    for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        assert_error(ctl.post("/v1/sites", body, content_type=ct), 415,
                     "unsupported_media_type")
    assert_error(ctl.request("POST", "/v1/sites", body=body.encode(),
                             headers={"Content-Type": ""}), 415)
    # CSV is for the import only.
    assert_error(ctl.post("/v1/sites", "name,underlay\na,192.0.2.1\n", content_type="text/csv"),
                 415, "unsupported_media_type")
    assert_error(ctl.post("/v1/import", "<sites/>", content_type="application/xml"), 415)
    assert ctl.get("/v1/sites").json["items"] == []
    # Parameters after the media type are fine.
    r = ctl.post("/v1/sites", body, content_type="application/json; charset=utf-8")
    assert r.status == 201, r


def test_body_over_limit_is_413(make_controller):
    small = make_controller("small", extra_args=["--max-body", "4096"])
    big = {"sites": [site("s%d" % i, i, description="x" * 200) for i in range(60)]}
    raw = json.dumps(big)
    assert len(raw) > 4096
    assert_error(small.post("/v1/import", raw), 413, "payload_too_large")
    assert_error(small.post("/v1/sites", json.dumps(site("a", 1, description="y" * 5000))),
                 413, "payload_too_large")
    assert_error(small.post("/v1/import", "name,underlay\n" + "a,192.0.2.1\n" * 800,
                            content_type="text/csv"), 413, "payload_too_large")
    assert small.export()["sites"] == []
    # Under the limit, the same server takes it.
    r = small.post("/v1/sites", site("a", 1))
    assert r.status == 201, r
    # The same document is fine for a controller with the default limit (32 MiB).
    assert small.get("/v1/sites/a").status == 200


def test_default_limit_takes_a_large_body(ctl):
    raw = json.dumps({"sites": [site("s%d" % i, i, description="x" * 200) for i in range(300)]})
    assert len(raw) > 64 * 1024
    r = ctl.post("/v1/import", raw)
    assert r.status == 200, r
    assert r.json["totals"]["created"] == 300


def test_every_error_is_json_with_details(ctl):
    responses = [ctl.get("/nope"), ctl.get("/v1/sites", token=None),
                 ctl.post("/v1/sites", "{"), ctl.delete("/v1/sites")]
    for r in responses:
        assert "application/json" in (r.header("content-type") or ""), r.headers
        e = r.json["error"]
        assert set(e) >= {"status", "code", "message", "details"}, e
        assert e["status"] == r.status
